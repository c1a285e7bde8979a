/* SPDX-License-Identifier: Apache-2.0 */
/*
 * modalloc_state.h: the state file a profiled process keeps from start-up
 * (src/state.c writes it, tools/state_read.c reads it; issue 13).  Shared
 * by the library and the modalloc command; plain C types only.
 *
 * The file is mapped MAP_SHARED by the process, so what the process counts
 * is in the file the moment it counts it: after SIGKILL or the OOM killer
 * the file holds the process's counters exactly, up to the allocations in
 * flight at the moment of death (at most one per thread).
 *
 * Layout (every offset a multiple of MA_STATE_ALIGN):
 *   [0, MA_STATE_HDR_BYTES)            struct ma_state_hdr
 *   [root_off, root_off + root_bytes)  the counters' root (struct ma_live),
 *                                      mapped over the library's own variable
 *   [arena_off, used)                  pieces handed out by the bump allocator,
 *                                      each listed in chunks[] (kind, offset, bytes)
 * The process sees the whole file at `base` (its address of offset 0), and
 * the root also at root_addr; pointers inside pieces are process addresses:
 * a reader translates them (p - base) and checks them against the file.
 * The layout of a thread record is described by its offsets (struct
 * ma_state_layout), not assumed.
 */
#ifndef MODALLOC_STATE_H
#define MODALLOC_STATE_H

#include <stdint.h>

#define MA_STATE_MAGIC "MODALLOCSTATE\0\0"  /* 16 bytes with the NULs */
#define MA_STATE_VERSION 1u
#define MA_STATE_ENDIAN 0x01020304u
#define MA_STATE_ALIGN 4096u
#define MA_STATE_HDR_BYTES (6u * 4096u)
#define MA_STATE_MAX_CHUNKS 256u
#define MA_STATE_STR 4096u

/* What a piece holds (chunks[].kind). */
enum ma_state_kind {
	MA_STATE_KIND_THREADS = 1, /* an array of thread records (layout.thread_bytes each) */
	MA_STATE_KIND_SITE_DIR = 2,   /* the call-site table's directory: process addresses of site chunks */
	MA_STATE_KIND_SITE_CHUNK = 3, /* sites.chunk_sites call sites of sites.site_bytes each */
	MA_STATE_KIND_FRAMES = 4,     /* a frame arena: the return addresses of sites (sites' frames point here) */
	MA_STATE_KIND_T2_THREAD = 5,  /* one thread's Tier 2 state: its pending per-site deltas */
	MA_STATE_KIND_MODULES = 6,    /* the module log: struct ma_state_module records, hi == 0 ends */
	MA_STATE_KIND_OTHER = 7,      /* nothing a reader needs */
};

/*
 * The call sites (Tier 2), described by offsets as the thread records are:
 * all 0 when call sites are off (or in a file of an older library).  The
 * directory piece holds dir_entries process addresses (0: chunk not
 * mapped); chunk c holds sites [c * chunk_sites, (c + 1) * chunk_sites).
 * A site's numbers are its two parts (s_own, s_shared) summed, plus the
 * deltas pending in the T2_THREAD pieces' caches (t2_ncache entries of
 * delta_bytes at t2_cache), as the library's report sums them.
 */
struct ma_state_sites {
	uint64_t site_bytes, chunk_sites, dir_entries, max_frames;
	uint64_t s_frames, s_nframes, s_truncated, s_ended_early, s_own, s_shared;
	uint64_t p_blocks, p_bytes, p_frees, p_freed_bytes, p_u, p_birth_sum, p_death_sum;
	uint64_t p_max_bytes, p_max_blocks, p_g_bytes, p_g_blocks, p_hist, nhist;
	uint64_t t2_cache, t2_ncache, delta_bytes;
	uint64_t d_site, d_events, d_blocks, d_bytes, d_frees, d_freed_bytes, d_birth_sum, d_death_sum, d_hist;
	uint64_t r_peak_serial; /* in the root: ma_live.peak.serial */
	/* The sampled blocks behind a site's estimates (MOD_ALLOC_SAMPLE): the
	 * part's and the delta's counters; 0 in a file of an older library. */
	uint64_t p_samples, d_samples;
};

/* The module log: appended (a new piece, every module) each time the
 * library's module table is built, so a frame's module is the latest
 * record whose [lo, hi) holds it; offset = ip - bias.  build_id: the
 * module's GNU build id as loaded (its PT_NOTE), build_id_len bytes of it
 * (0: none found, or a file of an older library, whose longer paths left
 * zeros here); a reader names frames from the file on disk only when that
 * file has the same build id. */
#define MA_STATE_MODULE_PATH 448u
#define MA_STATE_BUILD_ID 32u
struct ma_state_module {
	uint64_t lo, hi, bias;
	char path[MA_STATE_MODULE_PATH]; /* NUL-terminated (cut if longer) */
	uint32_t build_id_len, pad;
	unsigned char build_id[MA_STATE_BUILD_ID];
};
_Static_assert(sizeof(struct ma_state_module) == 512, "module records keep their size");

struct ma_state_chunk {
	uint64_t kind, off, bytes;
};

/* Byte offsets of the fields a reader sums, so the struct may change. */
struct ma_state_layout {
	uint64_t thread_bytes;
	uint64_t t_blocks, t_bytes, t_frees, t_freed_bytes, t_calls, t_ncalls;
	uint64_t t_inherited_frees, t_inherited_freed_bytes, t_foreign_frees, t_failed, t_in_use;
	uint64_t root_bytes, r_peak_bytes, r_peak_blocks;
};

struct ma_state_hdr {
	char magic[16];
	uint32_t version, endian, word_bytes, hdr_bytes;
	uint64_t pid;
	uint64_t start_ns;          /* CLOCK_REALTIME when the image started (the file name's) */
	uint64_t start_ticks;       /* /proc/PID/stat starttime: tells pid reuse apart */
	uint64_t mono_start_ns;     /* CLOCK_MONOTONIC at start (wall_ns of a recovered report) */
	uint64_t base;              /* process address of file offset 0 */
	uint64_t root_addr;         /* process address of the root */
	uint64_t root_off, arena_off;
	uint64_t used;              /* bytes of the file in use (the bump pointer) */
	uint32_t clean_exit;        /* 1: the process wrote its own report (or ended it) */
	uint32_t incomplete;        /* 1: state outgrew the file; counts may be short */
	uint32_t report;            /* MOD_ALLOC_REPORT */
	uint32_t backtraces;        /* call sites were on (sites: their layout; 0s if the table is not kept) */
	uint32_t nchunks, pad0;
	struct ma_state_layout layout;
	char cwd[MA_STATE_STR];     /* start-up directory */
	char cmd[MA_STATE_STR];     /* command line, arguments joined by spaces */
	char out[MA_STATE_STR];     /* MOD_ALLOC_OUT as checked at start-up */
	char dhat[MA_STATE_STR];    /* MOD_ALLOC_DHAT ("" = none) */
	struct ma_state_chunk chunks[MA_STATE_MAX_CHUNKS];
	struct ma_state_sites sites;
	/* The report's config (cfg_known = 1; all 0 in a file of an older
	 * library): sample_bytes 0 = exact call sites. */
	uint32_t cfg_known, cfg_backtraces;
	uint64_t sample_bytes, sample_seed;
	uint64_t cfg_depth, cfg_buckets, cfg_header_bytes, cfg_peak_slack_bytes;
};

_Static_assert(sizeof(struct ma_state_hdr) <= MA_STATE_HDR_BYTES, "the header fits its pages");

/*
 * The header's start_ticks is field 22 (starttime) of /proc/PID/stat: the
 * writer reads its own, a reader a live pid's, to tell pid reuse apart.
 * buf: the file's text, NUL-terminated.  0 when it cannot be parsed.
 */
static inline uint64_t ma_state_parse_start_ticks(const char *buf)
{
	const char *p = 0;
	for (const char *q = buf; *q; q++) /* after the last ')': comm may hold anything */
		if (*q == ')')
			p = q;
	if (!p)
		return 0;
	unsigned field = 2;
	for (; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	uint64_t v = 0;
	for (; *p >= '0' && *p <= '9'; p++)
		v = v * 10 + (uint64_t)(*p - '0');
	return v;
}

#endif
