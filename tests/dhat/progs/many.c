/* SPDX-License-Identifier: Apache-2.0 */
/*
 * many: 80 distinct call sites, all inside one function, so every frame
 * has the same symbol name (many_sites, exported with -rdynamic so dladdr
 * finds it) and only the addresses tell the sites apart.  Site i allocates
 * 8 * (i + 1) bytes; every third block is freed, the rest
 * leak.  With MOD_ALLOC_BUCKETS=64 the site table fills and the rest goes
 * to the overflow site.
 */
#include "dp.h"

#define NSITES 80

static void *keep[NSITES];
static int nkeep;

static void take(void *p, size_t n)
{
	dp_alloc(n);
	DP_ESCAPE(p);
	if (nkeep % 3 == 0) {
		free(p);
		dp_free(n);
		keep[nkeep++] = NULL;
	} else {
		keep[nkeep++] = p;
	}
}

/* One call instruction per line: S(i) is a separate site. */
#define S(i) take(malloc(8 * ((i) + 1)), 8 * ((i) + 1))
#define S10(i) S(i); S(i + 1); S(i + 2); S(i + 3); S(i + 4); S(i + 5); S(i + 6); S(i + 7); S(i + 8); S(i + 9)

void many_sites(void);

DP_NOINLINE void many_sites(void)
{
	S10(0); S10(10); S10(20); S10(30); S10(40); S10(50); S10(60); S10(70);
}

int main(void)
{
	many_sites();
	DP_ESCAPE(keep);
	dp_report();
	return 0;
}
