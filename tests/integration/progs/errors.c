/* SPDX-License-Identifier: Apache-2.0 */
/*
 * errors: the error behaviour of every entry point, printed as one line per
 * case ("name null=.. errno=.. ..."), no pointer values, so that the runner
 * can diff a run under the library against a bare glibc run.  errno is set
 * to 1234 before each call, which shows whether a call preserved it.
 *
 * Under the library the program also checks that failed calls add no block,
 * and announces the exact totals (every success freed, failures counted).
 */
#include "t.h"

#include <malloc.h>
#include <stdbool.h>
#include <stddef.h>

static volatile size_t v_size_max = SIZE_MAX;
static volatile size_t v_half = SIZE_MAX / 2;
static volatile size_t v_ptrdiff_max = PTRDIFF_MAX;

static uint64_t e_blocks, e_bytes, e_failed, e_zero_blocks;
static struct t_mark m;

static void line(const char *name, const char *k1, int64_t v1, const char *k2, int64_t v2,
                 const char *k3, int64_t v3)
{
	struct t_line l = { .n = 0 };
	t_str(&l, name);
	const char *k[] = { k1, k2, k3 };
	int64_t v[] = { v1, v2, v3 };
	for (int i = 0; i < 3; i++) {
		if (!k[i])
			continue;
		t_str(&l, " ");
		t_str(&l, k[i]);
		t_str(&l, "=");
		t_i64(&l, v[i]);
	}
	t_flush(&l);
}

/* A pointer outcome; a success is freed at once and counted. */
static void ptr(const char *name, void *p, int err, size_t align, size_t counted)
{
	line(name, "null", p == NULL, "errno", err, align ? "aligned" : NULL,
	     p && align ? ((uintptr_t)p & (align - 1)) == 0 : 0);
	if (p) {
		e_blocks++;
		e_bytes += counted;
		e_zero_blocks += counted == 0;
		t_delta(&m, 1, counted, 0, 0);
		errno = 1234;
		free(p);
		line(name, "free_errno", errno, NULL, 0, NULL, 0);
		t_delta(&m, 0, 0, 1, counted);
	} else {
		e_failed++;
		t_delta(&m, 0, 0, 0, 0);
	}
}

#define TRY(name, expr, align, counted) \
	do { \
		errno = 1234; \
		void *p_ = (expr); \
		int e_ = errno; \
		ptr(name, p_, e_, align, counted); \
	} while (0)

static void pm(const char *name, size_t align, size_t size)
{
	void *out = (void *)0x1234;
	errno = 1234;
	int r = posix_memalign(&out, align, size);
	int e = errno;
	line(name, "ret", r, "errno", e, "untouched", out == (void *)0x1234);
	if (r == 0) {
		e_blocks++;
		e_bytes += size;
		t_delta(&m, 1, size, 0, 0);
		free(out);
		t_delta(&m, 0, 0, 1, size);
	} else {
		e_failed++;
		t_delta(&m, 0, 0, 0, 0);
	}
}

int main(void)
{
	t_mark(&m);
	line("active", "api", modalloc_is_active(), NULL, 0, NULL, 0);

	/* Impossible sizes: NULL + ENOMEM everywhere. */
	TRY("malloc_size_max", malloc(v_size_max), 0, 0);
	TRY("malloc_size_max_minus_15", malloc(v_size_max - 15), 0, 0);
	TRY("malloc_ptrdiff_max_plus_1", malloc(v_ptrdiff_max + 1), 0, 0);
	TRY("malloc_ptrdiff_max", malloc(v_ptrdiff_max), 0, 0);
	TRY("calloc_overflow", calloc(v_half, 3), 0, 0);
	TRY("calloc_overflow_rev", calloc(3, v_half), 0, 0);
	TRY("calloc_no_overflow_too_big", calloc(v_half, 2), 0, 0);
	TRY("realloc_null_size_max", realloc(NULL, v_size_max), 0, 0);
	TRY("reallocarray_null_overflow", reallocarray(NULL, v_half, 3), 0, 0);
	TRY("memalign_bad_align", memalign(v_half + 2, 10), 0, 0);
	TRY("aligned_alloc_bad_align", aligned_alloc(v_half + 2, 10), 0, 0);
	TRY("memalign_size_max", memalign(64, v_size_max), 0, 0);
	TRY("memalign_size_max_minus_100", memalign(64, v_size_max - 100), 0, 0);
	TRY("memalign_huge_align", memalign(v_half + 1, 10), 0, 0);
	TRY("valloc_size_max", valloc(v_size_max), 0, 0);
	TRY("pvalloc_size_max", pvalloc(v_size_max), 0, 0);
	TRY("pvalloc_size_max_minus_page", pvalloc(v_size_max - 4096), 0, 0);

	/* realloc and reallocarray failures keep the old block. */
	char *keep = malloc(10);
	e_blocks++;
	e_bytes += 10;
	memset(keep, 'k', 10);
	errno = 1234;
	/* Through a volatile copy: GCC warns about (and may assume) use after realloc. */
	char *volatile kv = keep;
	char *r = realloc(kv, v_size_max);
	line("realloc_size_max", "null", r == NULL, "errno", errno, "kept", keep[9] == 'k');
	e_failed += r == NULL;
	errno = 1234;
	r = reallocarray(kv, v_half, 3);
	line("reallocarray_overflow", "null", r == NULL, "errno", errno, "kept", keep[9] == 'k');
	e_failed += r == NULL;
	t_delta(&m, 1, 10, 0, 0);

	/* Successes preserve errno. */
	TRY("malloc_0", malloc(0), 16, 0);
	TRY("malloc_1", malloc(1), 16, 1);
	TRY("calloc_0_5", calloc(0, 5), 16, 0);
	TRY("calloc_5_7", calloc(5, 7), 16, 35);
	TRY("realloc_null_0", realloc(NULL, 0), 16, 0);
	TRY("reallocarray_null_3_4", reallocarray(NULL, 3, 4), 16, 12);
	TRY("aligned_alloc_64_100", aligned_alloc(64, 100), 64, 100);
	TRY("aligned_alloc_48_10", aligned_alloc(48, 10), 64, 10);
	TRY("memalign_3_10", memalign(3, 10), 16, 10);
	TRY("memalign_48_10", memalign(48, 10), 64, 10);
	TRY("memalign_4097_1", memalign(4097, 1), 8192, 1);
	TRY("memalign_0_10", memalign(0, 10), 16, 10);
	TRY("valloc_1", valloc(1), 4096, 1);
	TRY("pvalloc_1", pvalloc(1), 4096, 1);

	errno = 1234;
	keep = realloc(kv, 4000); /* grow */
	line("realloc_grow", "null", keep == NULL, "errno", errno, "kept", keep && keep[9] == 'k');
	errno = 1234;
	keep = realloc(keep, 20); /* shrink */
	line("realloc_shrink", "null", keep == NULL, "errno", errno, "kept", keep && keep[9] == 'k');
	e_blocks += 2;
	e_bytes += 4000 + 20;
	errno = 1234;
	size_t us = malloc_usable_size(keep);
	line("usable_size", "ge", us >= 20, "errno", errno, NULL, 0);
	errno = 1234;
	line("usable_size_null", "value", (int64_t)malloc_usable_size(NULL), "errno", errno, NULL, 0);
	errno = 1234;
	r = realloc(keep, 0);
	line("realloc_p_0", "null", r == NULL, "errno", errno, NULL, 0);
	char *k2 = malloc(7);
	e_blocks++;
	e_bytes += 7;
	errno = 1234;
	r = reallocarray(k2, 0, 10);
	line("reallocarray_p_0_10", "null", r == NULL, "errno", errno, NULL, 0);
	errno = 1234;
	free(NULL);
	line("free_null", "errno", errno, NULL, 0, NULL, 0);
	/* keep: 10 -> 4000 -> 20 -> freed; k2: 7 -> freed. */
	t_delta(&m, 3, 4000 + 20 + 7, 4, 10 + 4000 + 20 + 7);

	/* posix_memalign: errors are return values; *out untouched. */
	pm("posix_memalign_24", 24, 10);
	pm("posix_memalign_0", 0, 10);
	pm("posix_memalign_4", 4, 10);
	pm("posix_memalign_96", 96, 10);
	pm("posix_memalign_64_size_max", 64, v_size_max);
	pm("posix_memalign_huge_align", v_half + 1, 10);
	pm("posix_memalign_8_10", 8, 10);
	pm("posix_memalign_4096_0", 4096, 0);

	/* Every success was freed. */
	t_expect("totals.blocks", e_blocks);
	t_expect("totals.bytes", e_bytes);
	t_expect("totals.frees", e_blocks);
	t_expect("totals.freed_bytes", e_bytes);
	t_expect("totals.live_blocks", 0);
	t_expect("totals.failed", e_failed);
	return 0;
}
