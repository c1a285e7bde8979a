/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mix: a small deterministic heap profile with the shapes a DHAT viewer has
 * to show: nested callers, a realloc chain (grow, grow), a shrinking
 * realloc, realloc(NULL, n), calloc, zero-byte requests, blocks freed and
 * blocks leaked, and a global peak in the middle of the run.
 */
#include "dp.h"

static void *keep[16];
static int nkeep;

DP_NOINLINE static void *leaf_alloc(size_t n)
{
	void *p = malloc(n);
	dp_alloc(n);
	DP_ESCAPE(p);
	return p;
}

/* Four 16-byte blocks through two levels of callers; two are leaked. */
DP_NOINLINE static void make_table(void)
{
	void *t[4];
	for (int i = 0; i < 4; i++)
		t[i] = leaf_alloc(16);
	free(t[1]);
	dp_free(16);
	free(t[3]);
	dp_free(16);
	keep[nkeep++] = t[0];
	keep[nkeep++] = t[2];
}

DP_NOINLINE static void setup(void)
{
	make_table();
	/* The same leaf from another caller: a second program point. */
	keep[nkeep++] = leaf_alloc(48);
}

/* malloc(100) -> realloc 200 -> realloc 400, then freed: 3 blocks, 700 bytes. */
DP_NOINLINE static void read_config(void)
{
	char *p = malloc(100);
	dp_alloc(100);
	DP_ESCAPE(p);
	p = realloc(p, 200);
	dp_realloc(100, 200);
	DP_ESCAPE(p);
	p = realloc(p, 400);
	dp_realloc(200, 400);
	DP_ESCAPE(p);
	free(p);
	dp_free(400);
}

/* The global peak: 6000 bytes on top of everything else, then freed. */
DP_NOINLINE static void burst(void)
{
	char *big = malloc(5000);
	dp_alloc(5000);
	DP_ESCAPE(big);
	char *c = calloc(20, 50);
	dp_alloc(1000);
	DP_ESCAPE(c);
	free(c);
	dp_free(1000);
	free(big);
	dp_free(5000);
}

DP_NOINLINE static void zeros(void)
{
	void *a = malloc(0);
	dp_alloc(0);
	DP_ESCAPE(a);
	void *b = malloc(0);
	dp_alloc(0);
	DP_ESCAPE(b);
	void *c = calloc(0, 8);
	dp_alloc(0);
	DP_ESCAPE(c);
	free(a);
	dp_free(0);
	free(c);
	dp_free(0);
	keep[nkeep++] = b; /* a leaked zero-byte block */
}

DP_NOINLINE static void shrink(void)
{
	char *q = malloc(1000);
	dp_alloc(1000);
	DP_ESCAPE(q);
	q = realloc(q, 10);
	dp_realloc(1000, 10);
	DP_ESCAPE(q);
	keep[nkeep++] = q;
	char *r = realloc(NULL, 30); /* a malloc at this call site */
	dp_alloc(30);
	DP_ESCAPE(r);
	free(r);
	dp_free(30);
	free(NULL); /* not counted */
}

int main(void)
{
	setup();
	void *z = calloc(10, 8); /* leaked */
	dp_alloc(80);
	DP_ESCAPE(z);
	read_config();
	burst();
	zeros();
	shrink();
	for (int i = 0; i < 3; i++) {
		void *s = malloc(24);
		dp_alloc(24);
		DP_ESCAPE(s);
		free(s);
		dp_free(24);
	}
	DP_ESCAPE(keep);
	dp_report();
	return 0;
}
