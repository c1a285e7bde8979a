/* SPDX-License-Identifier: Apache-2.0 */
/*
 * options.h: the MOD_ALLOC_* runtime settings, read once at start-up.
 *
 * MA_OPTIONS lists every variable once: X(field, NAME, kind, default, min, max, doc).
 * A bad value prints one line on stderr and the default is used; an
 * out-of-range number is clamped with a warning.  Strings are bounded by
 * MA_PATH_MAX.  Nothing here allocates.
 */
#ifndef MA_OPTIONS_H
#define MA_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#define MA_PATH_MAX 4096
#define MA_DEPTH_MAX 256 /* MOD_ALLOC_DEPTH's upper bound: walk buffers are sized by it */
/* The default report template; also what a template that cannot work is replaced by. */
#define MA_OUT_DEFAULT "modalloc.%p.json"
/* What a MOD_ALLOC_DHAT template that cannot work is replaced by. */
#define MA_DHAT_FALLBACK "dhat.%p.json"

enum ma_opt_kind { MA_OPT_BOOL, MA_OPT_UINT, MA_OPT_POW2, MA_OPT_PATH, MA_OPT_UNWIND, MA_OPT_BYTES };

#define MA_SAMPLE_MAX ((uint64_t)1 << 40) /* MOD_ALLOC_SAMPLE's upper bound: 1 TiB */

/* MOD_ALLOC_UNWIND's values (MA_OPT_UNWIND: one of the words fp, cfi, auto). */
enum ma_unwind { MA_UNWIND_FP = 0, MA_UNWIND_CFI = 1, MA_UNWIND_AUTO = 2 };

#define MA_OPTIONS(X) \
	X(out,        "MOD_ALLOC_OUT",        MA_OPT_PATH, MA_OUT_DEFAULT, 0, 0, \
	  "JSON report path template; %p = pid, %% = %; relative paths resolve against the start-up directory") \
	X(dhat,       "MOD_ALLOC_DHAT",       MA_OPT_PATH, "", 0, 0, \
	  "DHAT v2 output path template (same rules as MOD_ALLOC_OUT); empty = none; turns call sites on") \
	X(backtraces, "MOD_ALLOC_BACKTRACES", MA_OPT_BOOL, "0", 0, 1, \
	  "1 = Tier 2: capture call sites with the frame-pointer walker") \
	X(buckets,    "MOD_ALLOC_BUCKETS",    MA_OPT_POW2, "4096", 64, 1048576, \
	  "call-site table buckets at start-up; rounded up to a power of two") \
	X(buckets_max, "MOD_ALLOC_BUCKETS_MAX", MA_OPT_POW2, "262144", 64, 16777216, \
	  "the call-site table doubles when 3/4 full, up to this many buckets (raised to MOD_ALLOC_BUCKETS " \
	  "if below); then new stacks go to the overflow site; rounded up to a power of two") \
	X(depth,      "MOD_ALLOC_DEPTH",      MA_OPT_UINT, "32", 1, MA_DEPTH_MAX, \
	  "maximum frames per call site") \
	X(quiet,      "MOD_ALLOC_QUIET",      MA_OPT_BOOL, "0", 0, 1, \
	  "1 = no summary on stderr at exit (warnings still print)") \
	X(report,     "MOD_ALLOC_REPORT",     MA_OPT_BOOL, "1", 0, 1, \
	  "0 = write no JSON report at exit (the API can still write one)") \
	X(state,      "MOD_ALLOC_STATE",      MA_OPT_BOOL, "1", 0, 1, \
	  "0 = keep no state file (then SIGKILL or the OOM killer loses the report: no `modalloc recover`)") \
	X(state_dir,  "MOD_ALLOC_STATE_DIR",  MA_OPT_PATH, "", 0, 0, \
	  "directory of the state file (default $XDG_RUNTIME_DIR/modalloc, else /dev/shm/modalloc-UID: memory, not disk)") \
	X(unwind,     "MOD_ALLOC_UNWIND",     MA_OPT_UNWIND, "auto", 0, 2, \
	  "call-site walk: fp = frame pointers only; cfi or auto = .eh_frame call-frame information where modules have it") \
	X(sample,     "MOD_ALLOC_SAMPLE",     MA_OPT_BYTES, "0", 0, MA_SAMPLE_MAX, \
	  "mean bytes between sampled allocations (suffix K, M or G: times 1024, 1024^2, 1024^3); 0 = every " \
	  "allocation (exact); non-zero turns call sites on, and per-site figures become unbiased estimates") \
	X(sample_seed, "MOD_ALLOC_SAMPLE_SEED", MA_OPT_UINT, "0", 0, UINT64_MAX, \
	  "the sampler's seed (the same seed and program give the same samples); 0 = from time and pid; " \
	  "the seed used is in the report")

struct ma_options {
	char out[MA_PATH_MAX];
	char dhat[MA_PATH_MAX];
	uint64_t backtraces;
	uint64_t buckets;
	uint64_t buckets_max;
	uint64_t depth;
	uint64_t quiet;
	uint64_t report;
	uint64_t state;
	char state_dir[MA_PATH_MAX];
	uint64_t unwind; /* enum ma_unwind */
	uint64_t sample;      /* bytes; 0 = exact */
	uint64_t sample_seed; /* resolved at start-up when sampling (never 0 then) */
	/* Test hooks, not in MA_OPTIONS (undocumented, never in the report):
	 * MOD_ALLOC_TEST_PAUSE_MS=N pauses each report writer N ms mid-file
	 * (after announcing it on stderr) so that a test can kill it there;
	 * MOD_ALLOC_TEST_NO_TMPFILE=1 takes the path for file systems without
	 * O_TMPFILE.  Used by tests/stress (case sigkill).
	 * MOD_ALLOC_TEST_FATAL_FAULT=1 makes the report writer fault when it
	 * writes for a fatal signal (tests/integration, case signals). */
	uint64_t test_pause_ms;
	uint64_t test_no_tmpfile;
	uint64_t test_fatal_fault;
};

/*
 * Fills *o from envp (a NULL-terminated "NAME=value" array, or NULL for
 * defaults only).  Warnings go to stderr unless warn is false.  Returns the
 * number of values that were rejected or clamped.
 */
int ma_options_parse(struct ma_options *o, char *const *envp, bool warn);

/* Parses one value as the named option would; for tests and fuzzing. */
int ma_options_parse_uint(const char *s, uint64_t *out);
int ma_options_parse_bool(const char *s, uint64_t *out);
/* A byte count: decimal digits, then optionally K, M or G (1024 multiples, either case). */
int ma_options_parse_bytes(const char *s, uint64_t *out);

#endif
