/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Call-site scenarios for tests/tier2/run.py.  No stdio: the totals are
 * exactly what this file allocates.
 *
 *   basic     site_a: 10 x 100 B, 5 leaked; site_b: 1 x 5000 B freed by
 *             free_elsewhere() (attributed to site_b); grow(): malloc 16 at
 *             site_c then realloc to 64 at site_d (realloc's own site).
 *             peak = 10*100 + 5000 = 6000 B in 11 blocks.
 *   many N    N distinct call stacks (recursion depth 1..N), one 8 B block each, freed.
 *   deep N [K]  K (default 1) 32 B blocks from a recursion N deep, each freed.
 *   alternate 30 x 24 B blocks, each freed, from alt_x (18) and alt_y (12) in
 *             runs of 3 and 2: the two stacks have the same frame addresses
 *             and differ in one return address only.  Then 40 more, 10 from
 *             each of alt_x, alt_leaf, alt_y and alt_mid called in turn from
 *             alternate() (four stacks, two sharing their first return
 *             addresses).
 *   random N  N allocations of 8 B, each from a call path picked by a fixed
 *             xorshift64 (tests/tier2/run.py replays it): r = next(), depth
 *             d = r % 8, at level k r_b if bit 3+k of r is set else r_a (r_b
 *             has a bigger frame), r_leaf below them; freed unless bits
 *             40-42 of r are all zero (then leaked).
 *   wide N    N distinct stacks (N <= 8192), each allocating one 8 B block
 *             twice (two passes), each freed: path i is the 'random' shape
 *             at depth 13 with bits i (r_b at level k if bit k of i is set).
 *   wide_threads N T  T threads at once, each running 'wide N'.
 *   uid       writes getuid/geteuid-independent nothing: used by the setuid test.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))
#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

static void *keep[64];

NOINLINE void *site_a(void) { void *p = malloc(100); KEEP(p); return p; }
NOINLINE void *site_b(void) { void *p = malloc(5000); KEEP(p); return p; }
NOINLINE void free_elsewhere(void *p) { KEEP(p); free(p); }
NOINLINE void *site_c(void) { void *p = malloc(16); KEEP(p); return p; }
NOINLINE void *site_d(void *p) { p = realloc(p, 64); KEEP(p); return p; }

NOINLINE void basic(void)
{
	for (int i = 0; i < 10; i++)
		keep[i] = site_a();
	void *b = site_b();
	free_elsewhere(b);
	for (int i = 0; i < 5; i++)
		free(keep[i]);
	void *c = site_c();
	c = site_d(c);
	free(c);
}

NOINLINE void *recurse(int depth)
{
	void *p;
	if (depth <= 1)
		p = malloc(8);
	else
		p = recurse(depth - 1);
	KEEP(p);
	return p;
}

NOINLINE void *deep(int depth)
{
	void *p;
	if (depth <= 1)
		p = malloc(32);
	else
		p = deep(depth - 1);
	KEEP(p);
	return p;
}

/* alt_x and alt_y are called from the same place with the same frame size:
 * every frame pointer of the two stacks is equal; alt_mid's return address differs. */
NOINLINE void *alt_leaf(void) { void *p = malloc(24); KEEP(p); return p; }
NOINLINE void *alt_mid(void) { void *p = alt_leaf(); KEEP(p); return p; }
NOINLINE void *alt_x(void) { void *p = alt_mid(); KEEP(p); return p; }
NOINLINE void *alt_y(void) { void *p = alt_mid(); KEEP(p); return p; }

NOINLINE void alternate(void)
{
	for (int i = 0; i < 30; i++) {
		void *p = i % 5 < 3 ? alt_x() : alt_y();
		free(p);
	}
	for (int i = 0; i < 40; i++) {
		void *p;
		switch (i % 4) {
		case 0: p = alt_x(); break;
		case 1: p = alt_leaf(); break;
		case 2: p = alt_y(); break;
		default: p = alt_mid(); break;
		}
		free(p);
	}
}

/* random: call paths of random shapes, replayed exactly by run.py. */
static uint64_t rs = 0x2545F4914F6CDD1Dull;

static uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

NOINLINE void *r_leaf(void) { void *p = malloc(8); KEEP(p); return p; }
NOINLINE void *r_a(int d, uint64_t bits);
NOINLINE void *r_b(int d, uint64_t bits);

static inline __attribute__((always_inline)) void *r_next(int d, uint64_t bits)
{
	if (d == 0)
		return r_leaf();
	return (bits & 1) ? r_b(d - 1, bits >> 1) : r_a(d - 1, bits >> 1);
}

NOINLINE void *r_a(int d, uint64_t bits) { void *p = r_next(d, bits); KEEP(p); return p; }

NOINLINE void *r_b(int d, uint64_t bits)
{
	volatile char pad[48];
	pad[0] = (char)d;
	void *p = r_next(d, bits);
	KEEP(p);
	return pad[0] == (char)d ? p : NULL;
}

NOINLINE void random_paths(int n)
{
	for (int i = 0; i < n; i++) {
		uint64_t r = rnd();
		void *p = r_next((int)(r % 8), r >> 3);
		if ((r >> 40) & 7)
			free(p);
	}
}

NOINLINE void wide_paths(int n)
{
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < n; i++)
			free(r_next(13, (uint64_t)i));
}

static void *wide_thread(void *arg)
{
	wide_paths((int)(intptr_t)arg);
	return NULL;
}

NOINLINE void wide_threads(int n, int t)
{
	pthread_t th[16];
	if (t > 16)
		t = 16;
	for (int i = 0; i < t; i++)
		if (pthread_create(&th[i], NULL, wide_thread, (void *)(intptr_t)n) != 0)
			abort();
	for (int i = 0; i < t; i++)
		pthread_join(th[i], NULL);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	if (!strcmp(argv[1], "basic")) {
		basic();
	} else if (!strcmp(argv[1], "many") && argc > 2) {
		int n = atoi(argv[2]);
		for (int i = 1; i <= n; i++)
			free(recurse(i));
	} else if (!strcmp(argv[1], "deep") && argc > 2) {
		int k = argc > 3 ? atoi(argv[3]) : 1;
		for (int i = 0; i < k; i++)
			free(deep(atoi(argv[2])));
	} else if (!strcmp(argv[1], "alternate")) {
		alternate();
	} else if (!strcmp(argv[1], "random") && argc > 2) {
		random_paths(atoi(argv[2]));
	} else if (!strcmp(argv[1], "wide") && argc > 2) {
		wide_paths(atoi(argv[2]));
	} else if (!strcmp(argv[1], "wide_threads") && argc > 3) {
		wide_threads(atoi(argv[2]), atoi(argv[3]));
	} else if (!strcmp(argv[1], "uid")) {
		void *p = malloc(10);
		KEEP(p);
		free(p);
	} else {
		return 2;
	}
	return 0;
}
