/* SPDX-License-Identifier: Apache-2.0 */
/*
 * model.h: a modalloc JSON report (format version 1) as the command sees it,
 * loading with validation, merging several into one, and the keys of the
 * stack" that names a call site across processes and builds.
 *
 * A site's key is its list of (module basename, offset in the module)
 * pairs, innermost first: two sites are one only when every frame is the
 * same code, as the library's own addresses say within a process, and the
 * same in every process and run of the binaries (raw addresses never enter
 * the key: they move with ASLR).  Two call sites in one function stay
 * apart.  A second key, by function, names each frame by (module basename,
 * function) instead ((module basename, offset) for "??"): `diff` falls back
 * to it to pair the sites of two builds, whose offsets differ.
 * Frames inside libmodalloc itself are dropped from keys and labels, and so
 * are inlined frames (added by `modalloc lines`), so that a report keys the
 * same with or without file:line.
 *
 * One file per job: model.c (shared parts, freeing), model_load.c,
 * model_sitekey.c (keys and frame names), model_paths.c (file arguments),
 * model_merge.c (merging, the site index), model_json.c (writing JSON);
 * dhat_out.c writes the DHAT form.
 */
#ifndef MT_MODEL_H
#define MT_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "modalloc_schema.h"

#define MT_VERSION 1

struct mt_strindex;

/* The totals keys, in report order. */
#define MT_TOTALS(X) \
	X(blocks) X(bytes) X(frees) X(freed_bytes) X(peak_bytes) X(peak_blocks) \
	X(live_bytes) X(live_blocks) X(rss_peak_bytes) X(failed)

/* The "calls" keys, in report order: the library's own list. */
#define MT_CALLS(X) MODALLOC_REPORT_CALLS(X)

enum {
#define X(k) MT_CALL_##k,
	MT_CALLS(X)
#undef X
	MT_NCALLS
};

/* Per-site numbers; all summed when sites merge. */
#define MT_SITE_NUMS(X) \
	X(blocks) X(bytes) X(frees) X(max_bytes) X(max_blocks) X(at_peak_bytes) \
	X(at_peak_blocks) X(live_bytes) X(live_blocks) X(lifetime_total)

struct mt_totals {
#define X(k) uint64_t k;
	MT_TOTALS(X)
#undef X
};

struct mt_frame {
	char *ip;       /* as written: "0x..." */
	char *module;   /* full path */
	char *offset;   /* "0x..." */
	char *function; /* "??" when unknown */
	/* From `modalloc lines` (DWARF); absent in the library's reports. */
	char *file;     /* source file, or NULL */
	uint64_t line;  /* 0 when unknown */
	bool inlined;   /* a function inlined at this ip: no return address of its own */
};

struct mt_site {
#define X(k) uint64_t k;
	MT_SITE_NUMS(X)
#undef X
	char *lifetime_unit;
	uint64_t *hist; /* size_hist_log2 */
	size_t nhist;
	bool truncated;
	struct mt_frame *frames; /* innermost first */
	size_t nframes;
	/*
	 * Sampled reports (config.sample_bytes > 0): the numbers above are the
	 * library's unbiased estimates, samples the sampled blocks behind them
	 * (0: exact, as every site of an unsampled report).  var_bytes and
	 * var_blocks: the estimates' variances, from the samples (mt_site_noise);
	 * summed when sites merge (independent estimates), 0 for exact figures.
	 */
	uint64_t samples;
	bool estimated;
	double var_bytes, var_blocks;
	char *key;   /* exact stack (module + offset per frame), see above */
	char *fkey;  /* stack by function, see above */
	bool suppressed; /* set by check */
};

struct mt_named {
	char *name;
	uint64_t v;
};

struct mt_point {
	uint64_t t, live, rss;
};

struct mt_report {
	char *path;      /* the file (or "merged") */
	uint64_t pid;
	char *cmd;
	char *tool;
	bool at_exit;
	bool at_exec;    /* written by an image that exec replaced */
	unsigned seq;    /* n of modalloc.<pid>.<n>.json (0 without): a pid's reports in order */
	/* How the report was made (issue 13); all written only when set. */
	bool live;       /* "live": true: a snapshot of a running process (state.h) */
	bool recovered;  /* "recovered": true: rebuilt from a dead process's state file */
	char *ended_by;  /* "ended_by": how a recovered process ended ("SIGKILL"), or NULL */
	char *signal;    /* "signal": the fatal signal that wrote the report ("SIGTERM"), or NULL */
	struct mt_totals totals;
	uint64_t calls[MT_NCALLS];
	uint64_t inherited_frees, inherited_freed_bytes;
	uint64_t foreign_frees, threads, wall_ns;
	/* config */
	bool has_config, cfg_backtraces;
	uint64_t cfg_buckets, cfg_depth, cfg_header_bytes, cfg_peak_slack_bytes;
	/*
	 * Sampling: config.sample_bytes (0 = exact) and sample_seed.  rates: the
	 * distinct sample_bytes of the reports merged here, ascending, 0 for an
	 * exact one (one entry for a single report); a merge's sample_bytes is
	 * the largest, its seed the first sampled report's.
	 */
	uint64_t cfg_sample_bytes, cfg_sample_seed;
	uint64_t *rates;
	size_t nrates;
	/* Tier 2 */
	bool has_sites;
	struct mt_site *sites;
	size_t nsites;
	/* "stacks": every integer member, kept by name and summed on merge */
	bool has_stacks;
	struct mt_named *stacks;
	size_t nstacks;
	bool stacks_shallow_warning;
	/* timeline */
	bool has_timeline;
	char *timeline_unit;
	void *timeline_json; /* the "timeline" object as read (json-c), written back as is */
	struct mt_point *points;
	size_t npoints;
	/* merged reports */
	size_t nfiles;
	uint64_t *pids;
	size_t npids;
	/* key -> site index (model_merge.c); built on demand, NULL until then */
	struct mt_strindex *idx;
};

/* The names of the calls[] entries, in order. */
extern const char *const mt_call_names[MT_NCALLS];

/* Writes r as a Valgrind DHAT v2 file (report --format dhat); false on a write error. */
bool mt_write_dhat(FILE *out, const struct mt_report *r);

/*
 * Loads one report.  On failure prints one "modalloc: FILE: why" line and
 * returns NULL.
 */
struct mt_report *mt_report_load(const char *path);
void mt_report_free(struct mt_report *r);

/*
 * Expands the command line's FILE arguments: a directory stands for the
 * modalloc.*.json files directly inside it (sorted by pid).  Returns the
 * number of paths; dies with one line when a directory holds none.
 */
size_t mt_expand_paths(char **args, size_t nargs, char ***out);

/*
 * n of modalloc.<pid>.<n>.json, 0 for modalloc.<pid>.json: the library
 * never replaces a report, so a pid that wrote several (one per exec'd
 * image) numbers the later ones.  Sets *pid; false for other names.
 */
bool mt_report_name(const char *name, uint64_t *pid, unsigned *seq);

/*
 * Loads every path; NULL (after the error line) if any fails.  With more
 * than one, returns them merged: totals, calls and site numbers summed
 * (so peak figures become the sum of each process's peak: an upper bound
 * of the tree's peak), sites merged by key, timelines dropped.
 */
struct mt_report *mt_report_load_merged(char **paths, size_t npaths);

/* Merges src into dst (see above).  Keeps dst's frames for shared keys. */
void mt_report_merge(struct mt_report *dst, const struct mt_report *src);

/* True when the report's per-site figures are (at least partly) estimates. */
bool mt_report_sampled(const struct mt_report *r);

/* Adds a sampling rate (0: exact) to r->rates, keeping them distinct and ascending. */
void mt_report_add_rate(struct mt_report *r, uint64_t rate);

/*
 * A sampled report's rates for people: "512 KiB", "64 KiB or 512 KiB",
 * with ", some reports exact" when exact reports were merged in.
 */
char *mt_rates_text(const struct mt_report *r);

/*
 * The variances of an estimated site's bytes and blocks, from the samples
 * behind them: n = samples of about N = blocks estimated blocks, each block
 * sampled with probability p ~ n/N, so n is binomial(N, p) and the
 * estimate X = n/p (times the block size) has the relative variance
 * (1 - p)/n: 1/n (Poisson) when p is small, 0 when every block was sampled.
 * Sets s->var_bytes and s->var_blocks (0 for exact sites).
 */
void mt_site_noise(struct mt_site *s);

/* The value of a "stacks" member, 0 when absent. */
uint64_t mt_stacks_get(const struct mt_report *r, const char *name);
/* Adds v to a "stacks" member, creating it at v when absent. */
void mt_stacks_add(struct mt_report *r, const char *name, uint64_t v);

/* Finds a site by key, or NULL. */
struct mt_site *mt_report_find(const struct mt_report *r, const char *key);

/* The report as JSON, version 1, readable again by every subcommand. */
char *mt_report_to_json(const struct mt_report *r);

/*
 * A site's key (model.h's top comment): by module + offset, or with
 * by_function by module + function.  Returns a new string.
 */
char *mt_site_key(const struct mt_site *s, bool by_function);

/* "libfoo.so.6" from "/usr/lib/x86_64-linux-gnu/libfoo.so.6". */
const char *mt_basename(const char *path);

/* True for frames of the profiler itself and of the allocator entry points. */
bool mt_frame_is_allocator(const struct mt_frame *f);

/*
 * Short label of a frame: its function, or "module+0xoff" when unknown.
 * Returns a pointer to f->function or to buf.
 */
const char *mt_frame_label(const struct mt_frame *f, char *buf, size_t cap);

/*
 * How many of a site's frames, innermost first, lie in a known module: the
 * stack ends at the first frame without one (a word of the stack taken for
 * a return address by a walk through code without frame pointers, or code
 * outside any file); such "addresses" change from run to run, so neither
 * the keys nor the text use that frame or any beyond it.
 */
size_t mt_site_depth(const struct mt_site *s);

/*
 * The first frame of a site that is not an allocator frame (the site's
 * "innermost meaningful frame"); the innermost frame when all are.
 * Returns an index into frames, or SIZE_MAX without frames.
 */
size_t mt_site_first_meaningful(const struct mt_site *s);

#endif
