/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stress.h: what the stress programs share.  No stdio (its buffer is a
 * malloc the counts would see): lines are built on the stack and written
 * with one write(2), so lines of several processes stay whole in a pipe.
 *
 * Protocol on stdout, read by stress.py:
 *   E <pid> <key> <value>     the report of <pid> has key == value
 *   GE <pid> <key> <value>    ... key >= value
 *   LE <pid> <key> <value>    ... key <= value
 *   SITE <pid> <fn> <blocks> <bytes> <live_blocks>
 *                             with call sites on: the sites of <pid> whose
 *                             innermost frame is function <fn> sum to these
 *   FAIL <file>:<line> ...    the program found a fault itself (exit 99)
 *   anything else             free text for the case's own checks
 * Keys are dotted paths into the JSON report (totals.blocks, stacks.truncated).
 *
 * In-process checks use modalloc_get_stats (include/modalloc.h): exact
 * deltas across code paths when the library is preloaded, nothing when not.
 */
#ifndef STRESS_H
#define STRESS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "modalloc.h"
#include "wline.h"

/* Keeps GCC from proving a block unused and deleting its malloc/free pair. */
#define S_ESCAPE(p) __asm__ volatile("" : : "r"(p) : "memory")
#define S_NOINLINE __attribute__((noinline, noclone))

/* The line writer is shared with the other suite (tests/common/wline.h). */
#define s_line wline
#define s_str wl_str
#define s_u64 wl_u64
#define s_i64 wl_i64
#define s_flush wl_flush

static inline void s_say(const char *a, const char *b)
{
	struct s_line l = { .n = 0 };
	s_str(&l, a);
	if (b)
		s_str(&l, b);
	s_flush(&l);
}

static inline void s_say_u64(const char *what, uint64_t v)
{
	struct s_line l = { .n = 0 };
	s_str(&l, what);
	s_str(&l, " ");
	s_u64(&l, v);
	s_flush(&l);
}

/* verb: "E", "GE" or "LE"; about this process's report. */
static inline void s_expect(const char *verb, const char *key, uint64_t v)
{
	struct s_line l = { .n = 0 };
	s_str(&l, verb);
	s_str(&l, " ");
	s_u64(&l, (uint64_t)getpid());
	s_str(&l, " ");
	s_str(&l, key);
	s_str(&l, " ");
	s_u64(&l, v);
	s_flush(&l);
}

/* Expected sums over the sites whose innermost frame is function fn. */
static inline void s_site(const char *fn, uint64_t blocks, uint64_t bytes, uint64_t live_blocks)
{
	struct s_line l = { .n = 0 };
	s_str(&l, "SITE ");
	s_u64(&l, (uint64_t)getpid());
	s_str(&l, " ");
	s_str(&l, fn);
	s_str(&l, " ");
	s_u64(&l, blocks);
	s_str(&l, " ");
	s_u64(&l, bytes);
	s_str(&l, " ");
	s_u64(&l, live_blocks);
	s_flush(&l);
}

static inline void s_fail(const char *file, int line, const char *what, int64_t got, int64_t want)
{
	struct s_line l = { .n = 0 };
	s_str(&l, "FAIL ");
	s_str(&l, file);
	s_str(&l, ":");
	s_u64(&l, (uint64_t)line);
	s_str(&l, " ");
	s_str(&l, what);
	s_str(&l, " got ");
	s_i64(&l, got);
	s_str(&l, " want ");
	s_i64(&l, want);
	s_flush(&l);
	_exit(99);
}

#define S_CHECK(cond) \
	do { \
		if (!(cond)) \
			s_fail(__FILE__, __LINE__, #cond, 0, 1); \
	} while (0)

#define S_EQ(got, want) \
	do { \
		int64_t g_ = (int64_t)(got), w_ = (int64_t)(want); \
		if (g_ != w_) \
			s_fail(__FILE__, __LINE__, #got " == " #want, g_, w_); \
	} while (0)

/* The process stats now; zeroed (and active false) without the library. */
static inline int s_active(void)
{
	return modalloc_is_active();
}

static inline struct modalloc_stats s_now(void)
{
	struct modalloc_stats s;
	modalloc_stats_now(&s);
	return s;
}

/* Exact deltas of blocks, bytes, frees, freed_bytes since *m; then *m = now. */
#define S_DELTA(m, blocks_, bytes_, frees_, freed_) \
	s_delta_at((m), (blocks_), (bytes_), (frees_), (freed_), __FILE__, __LINE__)

static inline void s_delta_at(struct modalloc_stats *m, uint64_t blocks, uint64_t bytes, uint64_t frees,
                              uint64_t freed, const char *file, int line)
{
	if (!s_active())
		return;
	struct modalloc_stats now = s_now();
	if (now.blocks - m->blocks != blocks)
		s_fail(file, line, "delta blocks", (int64_t)(now.blocks - m->blocks), (int64_t)blocks);
	if (now.bytes - m->bytes != bytes)
		s_fail(file, line, "delta bytes", (int64_t)(now.bytes - m->bytes), (int64_t)bytes);
	if (now.frees - m->frees != frees)
		s_fail(file, line, "delta frees", (int64_t)(now.frees - m->frees), (int64_t)frees);
	if (now.freed_bytes - m->freed_bytes != freed)
		s_fail(file, line, "delta freed_bytes", (int64_t)(now.freed_bytes - m->freed_bytes),
		       (int64_t)freed);
	*m = now;
}

/* A small deterministic generator (xorshift64*). */
static inline uint64_t s_rand(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

#endif
