/* SPDX-License-Identifier: Apache-2.0 */
/*
 * modalloc.h: ask the heap profiler, from inside the program, how many
 * allocations a code path made.
 *
 *     struct modalloc_stats before, after;
 *     modalloc_stats_now(&before);
 *     code_path();
 *     modalloc_stats_now(&after);
 *     printf("%llu allocations\n", (unsigned long long)(after.blocks - before.blocks));
 *
 * The functions are weak references: a program that uses this header runs
 * unchanged without libmodalloc.so, and every call then returns
 * MODALLOC_NOT_ACTIVE with the stats zeroed.  No -l flag is needed.  (The
 * program must be position-independent, the default on Debian, so that the
 * dynamic linker can bind the weak references to a preloaded library.)
 */
#ifndef MODALLOC_H
#define MODALLOC_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MODALLOC_VERSION_MAJOR 0
#define MODALLOC_VERSION_MINOR 1
#define MODALLOC_VERSION_PATCH 0
#define MODALLOC_VERSION "0.1.0"

#define MODALLOC_OK 0
#define MODALLOC_NOT_ACTIVE (-1)   /* libmodalloc.so is not loaded, or not tracking */

struct modalloc_stats {
	uint64_t blocks;          /* successful allocations (realloc counts one per call) */
	uint64_t bytes;           /* their requested bytes */
	uint64_t frees;           /* blocks released (free, and realloc's old block) */
	uint64_t freed_bytes;
	uint64_t live_bytes;      /* bytes - freed_bytes (thread stats: floored at 0) */
	uint64_t live_blocks;
	uint64_t peak_bytes;      /* process stats only: the largest live_bytes so far */
	uint64_t peak_blocks;     /* live blocks at (the latest instant of) that peak */
	uint64_t rss_peak_bytes;  /* process stats only: peak resident set (VmHWM) */
	uint64_t threads;         /* process stats: threads registered now */
};

#if defined(MODALLOC_BUILDING_LIBRARY) || !defined(__GNUC__)
#define MODALLOC_WEAK
#else
#define MODALLOC_WEAK __attribute__((weak))
#endif

/* Process-wide totals.  `size` is sizeof(struct modalloc_stats) (ABI growth). */
MODALLOC_WEAK int modalloc_get_stats(struct modalloc_stats *out, size_t size);
/* What the calling thread itself allocated and freed. */
MODALLOC_WEAK int modalloc_get_thread_stats(struct modalloc_stats *out, size_t size);
/* Writes the JSON report now: to `path` if not NULL (a template: %p = pid),
 * else to MOD_ALLOC_OUT.  Returns 0, MODALLOC_NOT_ACTIVE, or a negative errno. */
MODALLOC_WEAK int modalloc_write_report(const char *path);
/* The library's version string, e.g. "0.1.0". */
MODALLOC_WEAK const char *modalloc_version(void);

#ifndef MODALLOC_BUILDING_LIBRARY
/* Convenience wrappers that work with or without the library loaded. */
static inline int modalloc_is_active(void)
{
	return modalloc_get_stats != 0;
}

static inline int modalloc_stats_now(struct modalloc_stats *out)
{
	if (!modalloc_get_stats) {
		memset(out, 0, sizeof *out);
		return MODALLOC_NOT_ACTIVE;
	}
	return modalloc_get_stats(out, sizeof *out);
}

static inline int modalloc_thread_stats_now(struct modalloc_stats *out)
{
	if (!modalloc_get_thread_stats) {
		memset(out, 0, sizeof *out);
		return MODALLOC_NOT_ACTIVE;
	}
	return modalloc_get_thread_stats(out, sizeof *out);
}

static inline int modalloc_report_now(const char *path)
{
	return modalloc_write_report ? modalloc_write_report(path) : MODALLOC_NOT_ACTIVE;
}
#endif

#ifdef __cplusplus
}
#endif

#endif
