/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ties: the global peak reached a second time with the same bytes and the
 * same number of blocks, but held by another site.  DHAT takes the latest
 * instant of a tie, so the at-peak figures (gb, gbk) are the second
 * instant's: nothing at from_a, everything at from_b.  A profiler that took
 * equal totals for an unchanged peak would keep the first instant's.
 */
#include "dp.h"

DP_NOINLINE static void *from_a(void)
{
	void *p = malloc(100);
	dp_alloc(100);
	DP_ESCAPE(p);
	return p;
}

DP_NOINLINE static void *from_b(void)
{
	void *p = malloc(100);
	dp_alloc(100);
	DP_ESCAPE(p);
	return p;
}

int main(void)
{
	void *a = from_a(), *b[2];
	for (int i = 0; i < 2; i++) {
		b[i] = from_b(); /* i = 0: the peak, 200 bytes in 2 blocks, 100 at each site */
		if (i == 0) {
			free(a); /* then i = 1: 200 in 2 again, all at from_b */
			dp_free(100);
		}
	}
	for (int i = 0; i < 2; i++) {
		free(b[i]);
		dp_free(100);
	}
	dp_report();
	return 0;
}
