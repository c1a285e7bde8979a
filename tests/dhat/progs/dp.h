/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dp.h: helpers for the DHAT test programs.
 *
 * The programs must be exactly countable, so nothing here allocates: no
 * stdio (its buffer is a malloc, docs/pitfalls.md); lines are built on the
 * stack and written with write(2).  Each program keeps its own model of
 * what it allocated (dp_alloc/dp_free) and prints the totals the JSON
 * report must hold, one "E <key> <value>" line each, read by run_dhat.py.
 * A second model counts as Valgrind DHAT does, 1 byte for a zero-byte
 * request (we count 0): its lines are "V <key> <value>", the sums Valgrind's
 * own file must show.  "ZERO <n>" and "ZERO_LIVE <n>" give the zero-byte
 * requests, all of them and those never freed.
 */
#ifndef DP_H
#define DP_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

/* Keeps GCC from proving a block unused and deleting its malloc/free pair. */
#define DP_ESCAPE(p) __asm__ volatile("" : : "r"(p) : "memory")
#define DP_NOINLINE __attribute__((noinline, noclone))

struct dp_model {
	uint64_t blocks, bytes, frees, freed_bytes, zero, zero_live;
	uint64_t live_bytes, live_blocks, peak_bytes, peak_blocks;
};

static struct dp_model dp, dp_vg;

/* The peak is the latest instant of the maximum, hence >=. */
static inline void dp_model_alloc(struct dp_model *m, size_t n)
{
	m->blocks++;
	m->bytes += n;
	m->live_bytes += n;
	m->live_blocks++;
	if (m->live_bytes >= m->peak_bytes) {
		m->peak_bytes = m->live_bytes;
		m->peak_blocks = m->live_blocks;
	}
}

static inline void dp_model_free(struct dp_model *m, size_t n)
{
	m->frees++;
	m->freed_bytes += n;
	m->live_bytes -= n;
	m->live_blocks--;
}

static inline void dp_alloc(size_t n)
{
	dp_model_alloc(&dp, n);
	dp_model_alloc(&dp_vg, n ? n : 1);
	dp.zero += n == 0;
	dp.zero_live += n == 0;
}

static inline void dp_free(size_t n)
{
	dp_model_free(&dp, n);
	dp_model_free(&dp_vg, n ? n : 1);
	dp.zero_live -= n == 0;
}

/* realloc of a live block: one free of the old size, one block of the new. */
static inline void dp_realloc(size_t old, size_t n)
{
	dp_free(old);
	dp_alloc(n);
}

static inline void dp_line(const char *tag, const char *key, uint64_t v)
{
	char s[128], tmp[24];
	size_t n = 0;
	int i = 0;
	while (*tag && n < 8)
		s[n++] = *tag++;
	while (*key && n < 80)
		s[n++] = *key++;
	s[n++] = ' ';
	do
		tmp[i++] = (char)('0' + v % 10);
	while ((v /= 10) && i < 23);
	while (i > 0)
		s[n++] = tmp[--i];
	s[n++] = '\n';
	ssize_t w = write(1, s, n);
	(void)w;
}

static inline void dp_model_report(const char *tag, const struct dp_model *m)
{
	dp_line(tag, "totals.blocks", m->blocks);
	dp_line(tag, "totals.bytes", m->bytes);
	dp_line(tag, "totals.frees", m->frees);
	dp_line(tag, "totals.freed_bytes", m->freed_bytes);
	dp_line(tag, "totals.live_bytes", m->live_bytes);
	dp_line(tag, "totals.live_blocks", m->live_blocks);
	dp_line(tag, "totals.peak_bytes", m->peak_bytes);
	dp_line(tag, "totals.peak_blocks", m->peak_blocks);
}

/* Prints the expectations; call once at the end of main. */
static inline void dp_report(void)
{
	dp_model_report("E ", &dp);
	dp_model_report("V ", &dp_vg);
	dp_line("", "ZERO", dp.zero);
	dp_line("", "ZERO_LIVE", dp.zero_live);
}

#endif
