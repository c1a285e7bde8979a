/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pprof_sites.c: call sites with known counts for `report --format pprof`
 * (tests/tool/test_pprof.py asserts them, and the line of each malloc):
 *   alloc_small: 100 blocks of 64 bytes, all freed;
 *   alloc_big:   10 blocks of 1000 bytes, 3 left live at exit;
 *   leaf_alloc:  200-byte blocks, 2 through caller_a (freed) and
 *                4 through caller_b (left live), one call chain each.
 * Nothing else allocates (no stdio).
 */
#include <stdlib.h>

static void *kept[16];
static int nkept;

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
	for (int i = 0; i < 10; i++) {
		void *p = malloc(1000);
		keep(p);
		if (i < 3)
			kept[nkept++] = p;
		else
			free(p);
	}
}

__attribute__((noinline)) void *leaf_alloc(void)
{
	return malloc(200);
}

__attribute__((noinline)) void caller_a(void)
{
	for (int i = 0; i < 2; i++)
		free(leaf_alloc());
}

__attribute__((noinline)) void caller_b(void)
{
	for (int i = 0; i < 4; i++)
		kept[nkept++] = leaf_alloc();
}

int main(void)
{
	alloc_small();
	alloc_big();
	caller_a();
	caller_b();
	keep(kept);
	return 0;
}
