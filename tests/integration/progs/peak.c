/* SPDX-License-Identifier: Apache-2.0 */
/*
 * peak: a single-threaded sequence whose peak is known at every step:
 * ties keep the latest instant (DHAT's rule), frees never move the peak, and
 * realloc releases the old block before the new one counts (no double count).
 */
#include "t.h"

static void peak_is(uint64_t bytes, uint64_t blocks, int line)
{
	struct modalloc_stats s;
	if (modalloc_stats_now(&s) != MODALLOC_OK)
		return;
	if (s.peak_bytes != bytes)
		t_fail(__FILE__, line, "peak_bytes", (int64_t)s.peak_bytes, (int64_t)bytes);
	if (s.peak_blocks != blocks)
		t_fail(__FILE__, line, "peak_blocks", (int64_t)s.peak_blocks, (int64_t)blocks);
}

#define PEAK(bytes, blocks) peak_is((bytes), (blocks), __LINE__)

int main(void)
{
	PEAK(0, 0);
	char *a = malloc(100);          /* 100/1 */
	char *b = malloc(200);          /* 300/2 */
	PEAK(300, 2);
	free(a);                        /* 200/1 */
	PEAK(300, 2);
	char *c = malloc(100);          /* 300/2: a tie with the same blocks */
	PEAK(300, 2);
	free(c);
	free(b);                        /* 0/0 */
	char *d = malloc(100), *e = malloc(100), *f = malloc(100); /* 300/3: a tie, later */
	T_ESCAPE(d);
	T_ESCAPE(e);
	T_ESCAPE(f);
	PEAK(300, 3);
	free(d);
	free(e);
	free(f);
	PEAK(300, 3);

	char *g = malloc(1000);         /* 1000/1 */
	PEAK(1000, 1);
	g = realloc(g, 1200);           /* 1200/1, never 2200/2 */
	PEAK(1200, 1);
	g = realloc(g, 500);            /* 500/1 */
	PEAK(1200, 1);
	char *h = malloc(700);          /* 1200/2: a tie with more blocks */
	PEAK(1200, 2);
	char *z = malloc(0);            /* 1200/3: a zero-byte block ties too */
	PEAK(1200, 3);
	free(z);                        /* 1200/2: a free is no new instant of the peak */
	PEAK(1200, 3);
	h = realloc(h, 700);            /* same size: 1200/2 again, a later tie */
	PEAK(1200, 2);
	free(h);
	g = realloc(g, 1199);           /* 1199/1 */
	PEAK(1200, 2);
	char *i = calloc(1, 1);         /* 1200/2 */
	T_ESCAPE(i);
	PEAK(1200, 2);
	free(i);
	free(g);
	PEAK(1200, 2);

	t_expect("totals.peak_bytes", 1200);
	t_expect("totals.peak_blocks", 2);
	t_expect("totals.blocks", 14);
	t_expect("totals.bytes", 100 + 200 + 100 + 300 + 1000 + 1200 + 500 + 700 + 0 + 700 + 1199 + 1);
	t_expect("totals.frees", 14);
	t_expect("totals.live_blocks", 0);
	return 0;
}
