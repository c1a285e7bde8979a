/* SPDX-License-Identifier: Apache-2.0 */
/*
 * t.h: helpers shared by the integration test programs.
 *
 * The programs must not allocate behind the test's back, so nothing here
 * uses stdio (its buffer is a malloc): lines are assembled on the stack and
 * written with one write(2) each, which keeps lines from several processes
 * (fork children) whole in the runner's pipe.
 *
 * Protocol on stdout, read by tests/integration/run.py:
 *   E <pid> <key> <value>        the report of process <pid> has key == value
 *                                (<pid>/exec: the report it wrote before exec)
 *   GE <pid> <key> <value>       ... key >= value
 *   NEAR <pid> <key> <v> <tol>   ... |key - v| < tol
 *   SLACK <pid> <key> <v> <k>    ... |key - v| < k * config.peak_slack_bytes
 *   DELTA <key> <value>          this report minus the baseline run's == value
 *   FILES <n>                    the output directory holds exactly n reports
 *   FAIL <where> <what>          the program found a fault itself (it also exits 99)
 *   anything else                free text (compared by the runner in some cases)
 * Keys are dotted paths into the JSON report: totals.blocks, calls.malloc ...
 */
#ifndef T_H
#define T_H

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
#define T_ESCAPE(p) __asm__ volatile("" : : "r"(p) : "memory")

/* The line writer is shared with the other suite (tests/common/wline.h). */
#define t_line wline
#define t_str wl_str
#define t_u64 wl_u64
#define t_i64 wl_i64
#define t_flush wl_flush

/* A free-text line. */
static inline void t_say(const char *a, const char *b)
{
	struct t_line l;
	l.n = 0;
	t_str(&l, a);
	if (b)
		t_str(&l, b);
	t_flush(&l);
}

static inline void t_kv(const char *verb, const char *key, uint64_t v, const char *extra)
{
	struct t_line l;
	l.n = 0;
	t_str(&l, verb);
	t_str(&l, " ");
	t_u64(&l, (uint64_t)getpid());
	t_str(&l, " ");
	t_str(&l, key);
	t_str(&l, " ");
	t_u64(&l, v);
	if (extra) {
		t_str(&l, " ");
		t_str(&l, extra);
	}
	t_flush(&l);
}

/* Expectations on this process's own report. */
static inline void t_expect(const char *key, uint64_t v)
{
	t_kv("E", key, v, NULL);
}

/* ... on the report this image writes just before it execs ("at_exec": true). */
static inline void t_expect_exec(const char *key, uint64_t v)
{
	struct t_line l;
	l.n = 0;
	t_str(&l, "E ");
	t_u64(&l, (uint64_t)getpid());
	t_str(&l, "/exec ");
	t_str(&l, key);
	t_str(&l, " ");
	t_u64(&l, v);
	t_flush(&l);
}

static inline void t_expect_ge(const char *key, uint64_t v)
{
	t_kv("GE", key, v, NULL);
}

static inline void t_expect_near(const char *key, uint64_t v, uint64_t tol)
{
	struct t_line l;
	l.n = 0;
	t_str(&l, "NEAR ");
	t_u64(&l, (uint64_t)getpid());
	t_str(&l, " ");
	t_str(&l, key);
	t_str(&l, " ");
	t_u64(&l, v);
	t_str(&l, " ");
	t_u64(&l, tol);
	t_flush(&l);
}

static inline void t_expect_slack(const char *key, uint64_t v, uint64_t k)
{
	struct t_line l;
	l.n = 0;
	t_str(&l, "SLACK ");
	t_u64(&l, (uint64_t)getpid());
	t_str(&l, " ");
	t_str(&l, key);
	t_str(&l, " ");
	t_u64(&l, v);
	t_str(&l, " ");
	t_u64(&l, k);
	t_flush(&l);
}

/* Against a baseline run of the same program (the runner makes it). */
static inline void t_expect_delta(const char *key, uint64_t v)
{
	struct t_line l;
	l.n = 0;
	t_str(&l, "DELTA ");
	t_str(&l, key);
	t_str(&l, " ");
	t_u64(&l, v);
	t_flush(&l);
}

static inline void t_expect_files(uint64_t n)
{
	struct t_line l;
	l.n = 0;
	t_str(&l, "FILES ");
	t_u64(&l, n);
	t_flush(&l);
}

static inline void t_fail(const char *file, int line, const char *what, int64_t got, int64_t want)
{
	struct t_line l;
	l.n = 0;
	t_str(&l, "FAIL ");
	t_str(&l, file);
	t_str(&l, ":");
	t_u64(&l, (uint64_t)line);
	t_str(&l, " ");
	t_str(&l, what);
	t_str(&l, " got ");
	t_i64(&l, got);
	t_str(&l, " want ");
	t_i64(&l, want);
	t_flush(&l);
	exit(99);
}

#define T_CHECK(cond) \
	do { \
		if (!(cond)) \
			t_fail(__FILE__, __LINE__, #cond, 0, 1); \
	} while (0)

#define T_EQ(got, want) \
	do { \
		int64_t g_ = (int64_t)(got), w_ = (int64_t)(want); \
		if (g_ != w_) \
			t_fail(__FILE__, __LINE__, #got " == " #want, g_, w_); \
	} while (0)

/*
 * Exact deltas of the process-wide stats across a code path:
 *     t_mark(&m); code(); t_delta(&m, blocks, bytes, frees, freed_bytes, __LINE__);
 * Does nothing when the library is not loaded (the same program runs bare).
 */
struct t_mark {
	struct modalloc_stats s;
};

static inline void t_mark(struct t_mark *m)
{
	modalloc_stats_now(&m->s);
}

#define t_delta(m, blocks_, bytes_, frees_, freed_) \
	t_delta_at((m), (blocks_), (bytes_), (frees_), (freed_), __FILE__, __LINE__)

static inline void t_delta_at(struct t_mark *m, uint64_t blocks, uint64_t bytes, uint64_t frees,
                              uint64_t freed, const char *file, int line)
{
	struct modalloc_stats now;
	if (modalloc_stats_now(&now) != MODALLOC_OK)
		return;
	if (now.blocks - m->s.blocks != blocks)
		t_fail(file, line, "delta blocks", (int64_t)(now.blocks - m->s.blocks), (int64_t)blocks);
	if (now.bytes - m->s.bytes != bytes)
		t_fail(file, line, "delta bytes", (int64_t)(now.bytes - m->s.bytes), (int64_t)bytes);
	if (now.frees - m->s.frees != frees)
		t_fail(file, line, "delta frees", (int64_t)(now.frees - m->s.frees), (int64_t)frees);
	if (now.freed_bytes - m->s.freed_bytes != freed)
		t_fail(file, line, "delta freed_bytes", (int64_t)(now.freed_bytes - m->s.freed_bytes),
		       (int64_t)freed);
	m->s = now;
}

/* The process stats now (zeroed when the library is not loaded). */
static inline struct modalloc_stats t_now(void)
{
	struct modalloc_stats s;
	modalloc_stats_now(&s);
	return s;
}

#endif
