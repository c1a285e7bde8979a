/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sites.c: two call sites with known counts, for diff tests.  alloc_small
 * makes 100 blocks of 64 bytes; alloc_big makes 10 blocks of 1000 bytes,
 * 20 when built with -DDOUBLE.  Everything is freed.  Built with
 * -rdynamic so that the functions have names in the report.
 */
#include <stdlib.h>

#ifndef BIG_COUNT
#ifdef DOUBLE
#define BIG_COUNT 20
#else
#define BIG_COUNT 10
#endif
#endif

static void keep(void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

__attribute__((noinline)) void alloc_small(void)
{
	for (int i = 0; i < 100; i++) {
		void *p = malloc(64);
		keep(p);
		free(p);
	}
}

__attribute__((noinline)) void alloc_big(void)
{
	for (int i = 0; i < BIG_COUNT; i++) {
		void *p = malloc(1000);
		keep(p);
		free(p);
	}
}

int main(void)
{
	alloc_small();
	alloc_big();
	return 0;
}
