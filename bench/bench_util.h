/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_util.h: what the benchmark programs (bench.c, contention.c,
 * bookkeeping.c) share: the clock, a tiny generator, medians, and the
 * compiler barriers that keep measured work from being optimised away.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))

/* Keeps a pointer alive in the compiler's eyes at no cost. */
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64: fixed seeds make every run do the same calls in the same order. */
static inline uint64_t xs(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Sorts v. */
static inline double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
