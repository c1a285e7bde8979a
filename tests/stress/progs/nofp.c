/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nofp: a program built with -fomit-frame-pointer (-O2): allocations from
 * three levels of calls.  Nothing crashes, counts are exact, stacks are
 * short (1-2 frames: the walk cannot go past a frame that kept no link), so
 * the report raises the shallow-stack warning, and the summary on stderr
 * says to rebuild with -fno-omit-frame-pointer.  That is the frame-pointer
 * walk (MOD_ALLOC_UNWIND=fp); by call-frame information (the default) the
 * stacks are whole and there is no warning.
 */
#include "stress.h"

#define N 2000

static void *kept[N];

__attribute__((noinline, noclone)) void *nofp_leaf(size_t n)
{
	void *p = malloc(n);
	S_ESCAPE(p);
	return p;
}

__attribute__((noinline, noclone)) static void *mid(unsigned i)
{
	void *p = nofp_leaf(8 + i % 64);
	S_ESCAPE(p);
	return p;
}

__attribute__((noinline, noclone)) static void top(void)
{
	for (unsigned i = 0; i < N; i++) {
		kept[i] = mid(i);
		S_CHECK(kept[i] != NULL);
	}
}

int main(void)
{
	struct modalloc_stats m = s_now();
	uint64_t bytes = 0;
	for (unsigned i = 0; i < N; i++)
		bytes += 8 + i % 64;
	top();
	S_DELTA(&m, N, bytes, 0, 0);
	for (unsigned i = 0; i < N; i += 2)
		free(kept[i]);
	s_site("nofp_leaf", N, bytes, N / 2);
	const char *unwind = getenv("MOD_ALLOC_UNWIND");
	s_expect("E", "stacks.shallow_warning", unwind && !strcmp(unwind, "fp"));
	return 0;
}
