/* SPDX-License-Identifier: Apache-2.0 */
/*
 * deep: recursion deeper than MOD_ALLOC_DEPTH.  recurse() goes 300 levels
 * down and deep_leaf() allocates 1000 blocks there: their site keeps the
 * innermost MOD_ALLOC_DEPTH frames, marked truncated, and stacks.truncated
 * counts those 1000 allocations.  shallow_leaf(), 3 levels below main,
 * allocates 100 blocks whose site is whole.
 */
#include "stress.h"

#define LEVELS 300

static void *kept[1000];

S_NOINLINE void deep_leaf(void)
{
	for (int i = 0; i < 1000; i++) {
		kept[i] = malloc(24);
		S_CHECK(kept[i] != NULL);
	}
}

S_NOINLINE void shallow_leaf(void)
{
	for (int i = 0; i < 100; i++) {
		void *p = malloc(40);
		S_CHECK(p != NULL);
		S_ESCAPE(p);
		free(p);
	}
}

/* The work after the call keeps it from becoming a jump (no sibling call). */
S_NOINLINE int recurse(int n)
{
	volatile int here = n;
	if (n == 0)
		deep_leaf();
	else
		here += recurse(n - 1);
	return here;
}

S_NOINLINE static int three(int n)
{
	volatile int x = n;
	shallow_leaf();
	return x;
}

S_NOINLINE static int two(int n)
{
	volatile int x = three(n);
	return x + 1;
}

int main(void)
{
	struct modalloc_stats m = s_now();
	S_CHECK(recurse(LEVELS) >= 0);
	S_DELTA(&m, 1000, 24000, 0, 0);
	S_CHECK(two(1) == 2);
	S_DELTA(&m, 100, 4000, 100, 4000);
	for (int i = 0; i < 1000; i++)
		free(kept[i]);
	S_DELTA(&m, 0, 0, 1000, 24000);
	s_site("deep_leaf", 1000, 24000, 0);
	s_site("shallow_leaf", 100, 4000, 0);
	return 0;
}
