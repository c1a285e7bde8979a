/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sigkill: a program the test kills with SIGKILL.
 *
 *   sigkill        allocates, says READY, waits to be killed: nothing may be
 *                  written (no report, no temporary file).
 *   sigkill exit   makes 4096 call sites (so its exit report takes a
 *                  while to write), says EXITING and exits: the test kills it
 *                  while the report is being written.
 */
#include "stress.h"

#include <signal.h>

/* 4096 distinct stacks: chains of three calls through 16 functions, each
 * with its own call site, then leaf(). */
typedef void chain_fn(unsigned path, int depth, void **out, int *k);
static chain_fn *const chain[16];

S_NOINLINE static void *leaf(size_t n)
{
	return malloc(n);
}

#define CHAIN(i) \
	S_NOINLINE static void chain_##i(unsigned path, int depth, void **out, int *k) \
	{ \
		if (depth == 0) \
			out[(*k)++] = leaf(path % 100 + 1); \
		else \
			chain[path % 16](path / 16, depth - 1, out, k); \
		__asm__ volatile(""); \
	}
CHAIN(0) CHAIN(1) CHAIN(2) CHAIN(3) CHAIN(4) CHAIN(5) CHAIN(6) CHAIN(7)
CHAIN(8) CHAIN(9) CHAIN(10) CHAIN(11) CHAIN(12) CHAIN(13) CHAIN(14) CHAIN(15)
static chain_fn *const chain[16] = {
	chain_0, chain_1, chain_2, chain_3, chain_4, chain_5, chain_6, chain_7,
	chain_8, chain_9, chain_10, chain_11, chain_12, chain_13, chain_14, chain_15,
};

int main(int argc, char **argv)
{
	static void *blocks[4096];
	int k = 0;
	if (argc == 2 && strcmp(argv[1], "exit") == 0) {
		for (unsigned path = 0; path < 4096; path++)
			chain[path % 16](path / 16, 2, blocks, &k);
		s_say("EXITING", NULL);
		return 0;
	}
	for (int i = 0; i < 1000; i++)
		blocks[i] = malloc((size_t)i + 1);
	s_say("READY", NULL);
	for (;;)
		pause();
}
