/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Run under qemu-aarch64 with libmodalloc.so preloaded and call sites on.
 * Expected (checked by run.py): 3 sites; 100 blocks of 24 bytes from
 * level3 < level2 < level1 < main; 10 of 4096 from level1 < main, all
 * freed; 1 of 7 from main, leaked.  Built with pac-ret, so the walker must
 * strip pointer-authentication codes to name these frames.
 */
#include <stdlib.h>

#define NOINLINE __attribute__((noinline))
#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

static void *sink[128];

NOINLINE void *level3(size_t n) { void *p = malloc(n); KEEP(p); return p; }
NOINLINE void *level2(size_t n) { void *p = level3(n); KEEP(p); return p; }
NOINLINE void level1(void)
{
	for (int i = 0; i < 100; i++)
		sink[i] = level2(24);
	for (int i = 0; i < 10; i++) {
		void *p = malloc(4096);
		KEEP(p);
		free(p);
	}
	for (int i = 0; i < 100; i++)
		free(sink[i]);
}

int main(void)
{
	level1();
	void *leak = malloc(7);
	KEEP(leak);
	return 0;
}
