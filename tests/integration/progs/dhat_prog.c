/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dhat_prog: a deterministic mix for the comparison with Valgrind DHAT
 * (integ.dhat): every entry point Valgrind supports (no pvalloc: Valgrind
 * 3.19 aborts on it), zero-byte requests included.  Prints "ZERO n", the
 * number of zero-byte requests, for which DHAT counts 1 byte each.
 */
#include "t.h"

#include <malloc.h>

#define N 200

static uint64_t e_blocks, e_bytes, zero;

static void count(size_t n)
{
	e_blocks++;
	e_bytes += n;
	zero += n == 0;
}

int main(void)
{
	static void *keep[N];
	for (int i = 0; i < N; i++) {
		size_t n = (size_t)(i * 37) % 1000;
		char *p = malloc(n);
		count(n);
		char *q = calloc((size_t)i % 5, 7);
		count((size_t)(i % 5) * 7);
		T_ESCAPE(q);
		if (i % 3 == 0) {
			p = realloc(p, n + 100); /* grow */
			count(n + 100);
		} else if (i % 3 == 1) {
			p = realloc(p, n / 2); /* shrink (to 0 for n < 2) */
			count(n / 2);
		}
		free(q);
		keep[i] = p;
	}
	for (int i = 0; i < N; i += 2)
		free(keep[i]);
	void *m;
	T_EQ(posix_memalign(&m, 64, 100), 0);
	count(100);
	free(m);
	m = memalign(128, 50);
	count(50);
	free(m);
	m = aligned_alloc(32, 64);
	count(64);
	free(m);
	m = valloc(10);
	count(10);
	free(m);
	m = realloc(NULL, 0);
	count(0);
	free(m);

	struct t_line l;
	l.n = 0;
	t_str(&l, "ZERO ");
	t_u64(&l, zero);
	t_flush(&l);
	t_expect("totals.blocks", e_blocks);
	t_expect("totals.bytes", e_bytes);
	return 0;
}
