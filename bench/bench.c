/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench.c: allocation workloads for measuring the cost of an interposer.
 *
 *   bench MODE [DEPTH] [-n OPS] [-x CROSS] [-T]
 *
 * Modes (see docs/bench.md):
 *   tight    malloc(32) / free, back to back
 *   pool     10k live blocks of 16..4096 bytes, random replacement
 *   threads  2 threads, each with a pool of 1024 blocks; one free in 16 (-x N:
 *            one in N) is handed to the other thread through a lock-free
 *            SPSC ring and freed there
 *   realloc  8 interleaved realloc chains 16 B -> 64 KiB, then free
 *   aligned  posix_memalign / aligned_alloc / memalign, alignments 32..4096
 *   deep     the pool workload run DEPTH frames below main (Tier 2 sweep)
 *   sites    deep, with each allocation made through one wrapper from one of
 *            4 call sites picked at random: consecutive stacks differ 3
 *            times in 4
 *   paths    deep, with each allocation made through a 6-level path of two
 *            functions picked at random: 64 stacks, a new one most times
 *
 * Each mode runs a fixed number of operations, timed with CLOCK_MONOTONIC
 * around the measured loop only (set-up and tear-down excluded), and prints
 * one line on stdout:
 *
 *   bench mode=pool depth=0 trim=off ops=N calls=C ns=T ns_per_call=X
 *         cpu_ns=U cpu_ns_per_call=Y maxrss_kb=K
 *
 * calls counts allocator entry points (malloc, free, realloc, ...);
 * ns_per_call = T / C, except for threads where it is T * 2 / C (the cost
 * of one call as seen by one of the two threads running in parallel).
 * cpu_ns is the process's CPU time (CLOCK_PROCESS_CPUTIME_ID, all threads)
 * over the same section and cpu_ns_per_call = cpu_ns / C: on a loaded
 * machine it excludes the time the program waited for a core (for threads
 * it includes spinning and sched_yield while waiting for the other thread).
 * maxrss_kb is getrusage(RUSAGE_SELF) at exit: the process's own peak,
 * whatever tool is preloaded into it.
 *
 * Build with -fno-builtin so that GCC keeps every malloc/free pair, and
 * with frame pointers so that a frame-pointer walker sees DEPTH frames.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_util.h"

static inline size_t rand_size(uint64_t *s, size_t lo, size_t hi)
{
	return lo + (size_t)(xs(s) % (hi - lo + 1));
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);
	if (!p) {
		perror("malloc");
		exit(1);
	}
	return p;
}

/* Writing the first byte makes the block real to the allocator's caller,
 * as in a program that uses what it asked for. */
static inline void touch(void *p)
{
	*(volatile char *)p = 1;
}

/* CPU time of the whole process (every thread): less disturbed than the wall
 * clock when other processes compete for the cores. */
static uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct result {
	uint64_t ops, calls, ns;
	uint64_t cpu_ns; /* filled in by main around the same section */
};

/* CPU time at the start of the measured section of the current mode. */
static uint64_t g_cpu0;

/* Marks the start of the measured section: returns the wall clock. */
static uint64_t start_clock(void)
{
	g_cpu0 = cpu_ns();
	return now_ns();
}

/* Ends it: returns the wall time since t0 and records the CPU time. */
static uint64_t g_cpu1;
static uint64_t stop_clock(uint64_t t0)
{
	uint64_t ns = now_ns() - t0;
	g_cpu1 = cpu_ns();
	return ns;
}

/* ---- tight ------------------------------------------------------------ */

static struct result run_tight(uint64_t ops)
{
	uint64_t t0 = start_clock();
	for (uint64_t i = 0; i < ops; i++) {
		void *p = xmalloc(32);
		ESCAPE(p);
		free(p);
	}
	uint64_t ns = stop_clock(t0);
	return (struct result){ ops, 2 * ops, ns, 0 };
}

/* ---- pool ------------------------------------------------------------- */

#define POOL_SLOTS 10000

struct pool {
	void *slot[POOL_SLOTS];
	uint64_t seed;
};

static void pool_fill(struct pool *pl, uint64_t seed)
{
	pl->seed = seed;
	for (size_t i = 0; i < POOL_SLOTS; i++) {
		pl->slot[i] = xmalloc(rand_size(&pl->seed, 16, 4096));
		touch(pl->slot[i]);
	}
}

static void pool_drain(struct pool *pl)
{
	for (size_t i = 0; i < POOL_SLOTS; i++)
		free(pl->slot[i]);
}

/* One op: free a random live block and put a new one of random size in its place. */
static inline void pool_step(struct pool *pl)
{
	uint64_t r = xs(&pl->seed);
	size_t i = (size_t)(r % POOL_SLOTS);
	free(pl->slot[i]);
	pl->slot[i] = xmalloc(16 + (size_t)((r >> 32) % (4096 - 16 + 1)));
	touch(pl->slot[i]);
}

static struct pool g_pool;

static struct result run_pool(uint64_t ops)
{
	pool_fill(&g_pool, 0x9E3779B97F4A7C15ull);
	uint64_t t0 = start_clock();
	for (uint64_t i = 0; i < ops; i++)
		pool_step(&g_pool);
	uint64_t ns = stop_clock(t0);
	pool_drain(&g_pool);
	return (struct result){ ops, 2 * ops, ns, 0 };
}

/* ---- deep ------------------------------------------------------------- */

/*
 * The pool workload DEPTH frames below run_deep.  Every CHUNK ops the
 * recursion unwinds and is entered again with another variant; at each level
 * the variant picks one of two distinct functions, so the stacks that reach
 * malloc are DEEP_VARIANTS different ones (as in a program whose allocation
 * sites are reached through several paths), not one.
 */
#define DEEP_CHUNK    64
#define DEEP_VARIANTS 16

static NOINLINE uint64_t deep_a(int d, unsigned v);
static NOINLINE uint64_t deep_b(int d, unsigned v);

/* sites mode: four call sites of one allocation wrapper (a program's
 * xmalloc), so stacks differ in the wrapper's caller, not in its call. */
static int g_spread;

static NOINLINE void *spread_alloc(size_t n)
{
	void *p = xmalloc(n);
	__asm__ volatile("" : "+r"(p));
	return p;
}

/* pool_step, its allocation made from the call site that bits of r pick. */
static inline void pool_step_spread(struct pool *pl)
{
	uint64_t r = xs(&pl->seed);
	size_t i = (size_t)(r % POOL_SLOTS), n = 16 + (size_t)((r >> 32) % (4096 - 16 + 1));
	free(pl->slot[i]);
	void *p;
	switch ((r >> 20) & 3) {
	case 0: p = spread_alloc(n); break;
	case 1: p = spread_alloc(n); __asm__ volatile(""); break;
	case 2: p = spread_alloc(n); __asm__ volatile("nop"); break;
	default: p = spread_alloc(n); __asm__ volatile("nop; nop"); break;
	}
	pl->slot[i] = p;
	touch(p);
}

/* paths mode: 6 more levels, each path_a or path_b as bits of r say. */
static NOINLINE void *path_a(int d, uint64_t bits, size_t n);
static NOINLINE void *path_b(int d, uint64_t bits, size_t n);

static inline void *path_next(int d, uint64_t bits, size_t n)
{
	if (!d)
		return spread_alloc(n);
	return (bits & 1) ? path_b(d - 1, bits >> 1, n) : path_a(d - 1, bits >> 1, n);
}

static NOINLINE void *path_a(int d, uint64_t bits, size_t n)
{
	void *p = path_next(d, bits, n);
	__asm__ volatile("" : "+r"(p));
	return p;
}

static NOINLINE void *path_b(int d, uint64_t bits, size_t n)
{
	void *p = path_next(d, bits, n);
	__asm__ volatile("nop" : "+r"(p)); /* not folded into path_a */
	return p;
}

static inline void pool_step_paths(struct pool *pl)
{
	uint64_t r = xs(&pl->seed);
	size_t i = (size_t)(r % POOL_SLOTS), n = 16 + (size_t)((r >> 32) % (4096 - 16 + 1));
	free(pl->slot[i]);
	void *p = path_next(6, r >> 20, n);
	pl->slot[i] = p;
	touch(p);
}

static NOINLINE uint64_t deep_leaf(void)
{
	if (g_spread == 2)
		for (int i = 0; i < DEEP_CHUNK; i++)
			pool_step_paths(&g_pool);
	else if (g_spread)
		for (int i = 0; i < DEEP_CHUNK; i++)
			pool_step_spread(&g_pool);
	else
		for (int i = 0; i < DEEP_CHUNK; i++)
			pool_step(&g_pool);
	return DEEP_CHUNK;
}

static inline uint64_t deep_next(int d, unsigned v)
{
	if (d <= 1)
		return deep_leaf();
	return ((v >> (d % 4)) & 1) ? deep_b(d - 1, v) : deep_a(d - 1, v);
}

/* The asm after the call keeps it from becoming a tail call (a frame would vanish). */
static NOINLINE uint64_t deep_a(int d, unsigned v)
{
	uint64_t n = deep_next(d, v);
	__asm__ volatile("" : "+r"(n));
	return n;
}

static NOINLINE uint64_t deep_b(int d, unsigned v)
{
	uint64_t n = deep_next(d, v);
	__asm__ volatile("" : "+r"(n));
	return n + 0;
}

static struct result run_deep(uint64_t ops, int depth)
{
	pool_fill(&g_pool, 0x9E3779B97F4A7C15ull);
	uint64_t done = 0;
	unsigned v = 0;
	uint64_t t0 = start_clock();
	while (done < ops)
		done += deep_a(depth, v++ % DEEP_VARIANTS);
	uint64_t ns = stop_clock(t0);
	pool_drain(&g_pool);
	return (struct result){ done, 2 * done, ns, 0 };
}

/* ---- threads ---------------------------------------------------------- */

#define RING_SIZE 1024 /* power of two */

/* Single producer, single consumer; head and tail on their own lines. */
struct ring {
	_Alignas(64) _Atomic uint64_t head; /* written by the consumer */
	_Alignas(64) _Atomic uint64_t tail; /* written by the producer */
	_Alignas(64) void *slot[RING_SIZE];
};

static int ring_push(struct ring *r, void *p)
{
	uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	if (t - atomic_load_explicit(&r->head, memory_order_acquire) == RING_SIZE)
		return 0;
	r->slot[t % RING_SIZE] = p;
	atomic_store_explicit(&r->tail, t + 1, memory_order_release);
	return 1;
}

static void *ring_pop(struct ring *r)
{
	uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	if (h == atomic_load_explicit(&r->tail, memory_order_acquire))
		return NULL;
	void *p = r->slot[h % RING_SIZE];
	atomic_store_explicit(&r->head, h + 1, memory_order_release);
	return p;
}

#define LOCAL_SLOTS 1024

struct worker {
	struct ring *out, *in;
	struct worker *peer;
	uint64_t ops;
	uint64_t seed;
	unsigned cross_mask;     /* an op sends its old block away when (r & mask) == 0 */
	pthread_barrier_t *start;
	_Atomic uint64_t sent;   /* blocks pushed to the peer; final once done is set */
	_Atomic int done;
	void *slot[LOCAL_SLOTS];
};

/* Frees whatever the other thread has sent; returns how many. */
static uint64_t drain_ring(struct ring *in)
{
	uint64_t n = 0;
	void *p;
	while ((p = ring_pop(in))) {
		free(p);
		n++;
	}
	return n;
}

/*
 * Each thread runs a pool of 1024 live blocks of 16..1024 bytes with random
 * replacement; the replaced block is freed by this thread, or, for one op in
 * cross_mask + 1, sent to the other thread, which frees it.
 */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t freed = 0, sent = 0;
	unsigned spins = 0;
	pthread_barrier_wait(w->start);
	for (uint64_t i = 0; i < w->ops; i++) {
		uint64_t r = xs(&w->seed);
		size_t k = (size_t)(r % LOCAL_SLOTS);
		void *old = w->slot[k];
		if (((r >> 40) & w->cross_mask) == 0) {
			while (!ring_push(w->out, old)) {
				freed += drain_ring(w->in);
				/* Two shared cores: let a descheduled peer run instead of spinning. */
				if (++spins % 64 == 0)
					sched_yield();
			}
			sent++;
		} else {
			free(old);
		}
		w->slot[k] = xmalloc(16 + (size_t)((r >> 16) % (1024 - 16 + 1)));
		touch(w->slot[k]);
		if ((i & 15) == 15)
			freed += drain_ring(w->in);
	}
	atomic_store_explicit(&w->sent, sent, memory_order_relaxed);
	atomic_store_explicit(&w->done, 1, memory_order_release);
	for (;;) {
		freed += drain_ring(w->in);
		if (atomic_load_explicit(&w->peer->done, memory_order_acquire) &&
		    freed == atomic_load_explicit(&w->peer->sent, memory_order_relaxed))
			break;
		sched_yield();
	}
	return NULL;
}

static struct ring g_rings[2];
static struct worker g_workers[2];

/* cross: 1 = every free is cross-thread (a producer/consumer pair). */
static struct result run_threads(uint64_t ops, unsigned cross)
{
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, 3);
	uint64_t seeds[2] = { 0x2545F4914F6CDD1Dull, 0x9E3779B97F4A7C15ull };
	for (int i = 0; i < 2; i++) {
		struct worker *w = &g_workers[i];
		w->out = &g_rings[i];
		w->in = &g_rings[1 - i];
		w->peer = &g_workers[1 - i];
		w->ops = ops / 2;
		w->seed = seeds[i];
		w->cross_mask = cross - 1;
		w->start = &start;
		for (size_t k = 0; k < LOCAL_SLOTS; k++) {
			w->slot[k] = xmalloc(rand_size(&w->seed, 16, 1024));
			touch(w->slot[k]);
		}
	}
	pthread_t th[2];
	for (int i = 0; i < 2; i++) {
		int e = pthread_create(&th[i], NULL, worker_main, &g_workers[i]);
		if (e) {
			errno = e;
			perror("pthread_create");
			exit(1);
		}
	}
	/* The clock starts once both threads exist (their creation allocates). */
	pthread_barrier_wait(&start);
	uint64_t t0 = start_clock();
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	uint64_t ns = stop_clock(t0);
	pthread_barrier_destroy(&start);
	for (int i = 0; i < 2; i++)
		for (size_t k = 0; k < LOCAL_SLOTS; k++)
			free(g_workers[i].slot[k]);
	uint64_t done = g_workers[0].ops + g_workers[1].ops;
	/* Per thread: the wall time covers both threads' calls made in parallel. */
	return (struct result){ done, 2 * done, ns * 2, 0 };
}

/* ---- realloc ---------------------------------------------------------- */

#define CHAINS     8
#define CHAIN_MAX  (64 * 1024)

/*
 * CHAINS chains grow side by side, one step each in turn, so that a block
 * is rarely at the top of the heap and realloc has to move it some of the
 * time, as in a program growing several buffers.  Even chains double; odd
 * chains grow by a random 1..size/2 bytes.  A chain that reaches 64 KiB is
 * freed and starts again at 16 bytes (one malloc).
 */
static struct result run_realloc(uint64_t ops)
{
	void *p[CHAINS];
	size_t sz[CHAINS];
	uint64_t seed = 0xD1B54A32D192ED03ull;
	for (int c = 0; c < CHAINS; c++) {
		sz[c] = 16;
		p[c] = xmalloc(16);
		touch(p[c]);
	}
	uint64_t calls = 0;
	uint64_t t0 = start_clock();
	for (uint64_t i = 0; i < ops; i++) {
		int c = (int)(i % CHAINS);
		if (sz[c] >= CHAIN_MAX) {
			free(p[c]);
			sz[c] = 16;
			p[c] = xmalloc(16);
			touch(p[c]);
			calls += 2;
			continue;
		}
		size_t n = (c & 1) ? sz[c] + rand_size(&seed, 1, sz[c] / 2) : sz[c] * 2;
		if (n > CHAIN_MAX)
			n = CHAIN_MAX;
		void *q = realloc(p[c], n);
		if (!q) {
			perror("realloc");
			exit(1);
		}
		((volatile char *)q)[n - 1] = 1;
		p[c] = q;
		sz[c] = n;
		calls++;
	}
	uint64_t ns = stop_clock(t0);
	for (int c = 0; c < CHAINS; c++)
		free(p[c]);
	return (struct result){ ops, calls, ns, 0 };
}

/* ---- aligned ---------------------------------------------------------- */

#define ALIGNED_SLOTS 256

/* 256 live blocks, random replacement; the allocating call rotates over the
 * three aligned entry points, the alignment is a random power of two 32..4096. */
static struct result run_aligned(uint64_t ops)
{
	static void *slot[ALIGNED_SLOTS];
	uint64_t seed = 0xA0761D6478BD642Full;
	uint64_t t0 = 0;
	uint64_t fill = ALIGNED_SLOTS;
	for (uint64_t i = 0; i < fill + ops; i++) {
		if (i == fill)
			t0 = start_clock();
		uint64_t r = xs(&seed);
		size_t k = i < fill ? (size_t)i : (size_t)(r % ALIGNED_SLOTS);
		size_t align = (size_t)32 << ((r >> 16) % 8);
		size_t size = 16 + (size_t)((r >> 32) % (1024 - 16 + 1));
		void *p = NULL;
		if (i >= fill)
			free(slot[k]);
		switch (i % 3) {
		case 0:
			if (posix_memalign(&p, align, size))
				p = NULL;
			break;
		case 1:
			/* C11 wants size to be a multiple of the alignment. */
			p = aligned_alloc(align, (size + align - 1) & ~(align - 1));
			break;
		default:
			p = memalign(align, size);
			break;
		}
		if (!p || ((uintptr_t)p & (align - 1))) {
			fprintf(stderr, "bench: aligned allocation failed or misaligned\n");
			exit(1);
		}
		touch(p);
		slot[k] = p;
	}
	uint64_t ns = stop_clock(t0);
	for (size_t k = 0; k < ALIGNED_SLOTS; k++)
		free(slot[k]);
	return (struct result){ ops, 2 * ops, ns, 0 };
}

/* ---- main ------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr, "usage: bench tight|pool|threads|realloc|aligned|deep|sites|paths [DEPTH] [-n OPS] [-x CROSS] [-T]\n"
	                "  DEPTH  deep, sites, paths: frames of recursion above the allocating loop (1..10000)\n"
	                "  -n     operations (default: about 0.3 s with plain glibc)\n"
	                "  -x     threads: one free in CROSS is cross-thread (power of two, default 16)\n"
	                "  -T     keep glibc's default heap trimming (see docs/bench.md)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	const char *mode = argv[1];
	int depth = 0;
	uint64_t ops = 0;
	int glibc_trim = 0;
	unsigned cross = 16;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc)
			ops = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "-x") && i + 1 < argc)
			cross = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "-T"))
			glibc_trim = 1;
		else if ((!strcmp(mode, "deep") || !strcmp(mode, "sites") || !strcmp(mode, "paths")) &&
		         argv[i][0] >= '0' && argv[i][0] <= '9')
			depth = atoi(argv[i]);
		else
			usage();
	}

	if (!cross || (cross & (cross - 1)))
		usage();

	/*
	 * glibc returns the top of a heap to the kernel once more than 128 KiB
	 * of it is free (brk / madvise), and these small heaps cross that line
	 * all the time: with the default, realloc spends ~90% of its time in brk
	 * and page faults (1000 against 130 ns per call, docs/bench.md), which
	 * measures the kernel, not the allocator or a tool wrapped around it.  -T keeps glibc's default.  mallopt is not interposed by the tools
	 * measured, so every configuration gets the same setting.
	 */
	if (!glibc_trim && !mallopt(M_TRIM_THRESHOLD, 256 << 20)) {
		fprintf(stderr, "bench: mallopt failed\n");
		return 1;
	}

	/* Defaults: about 0.3 s each with plain glibc on a 2.6 GHz EPYC. */
	struct result r;
	if (!strcmp(mode, "tight")) {
		r = run_tight(ops ? ops : 40000000);
	} else if (!strcmp(mode, "pool")) {
		r = run_pool(ops ? ops : 3500000);
	} else if (!strcmp(mode, "threads")) {
		r = run_threads(ops ? ops : 6000000, cross);
	} else if (!strcmp(mode, "realloc")) {
		r = run_realloc(ops ? ops : 2500000);
	} else if (!strcmp(mode, "aligned")) {
		r = run_aligned(ops ? ops : 3000000);
	} else if (!strcmp(mode, "deep") || !strcmp(mode, "sites") || !strcmp(mode, "paths")) {
		if (depth < 1 || depth > 10000)
			usage();
		g_spread = !strcmp(mode, "sites") ? 1 : !strcmp(mode, "paths") ? 2 : 0;
		r = run_deep(ops ? ops : 3500000, depth);
	} else {
		usage();
	}

	r.cpu_ns = g_cpu1 - g_cpu0;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("bench mode=%s depth=%d trim=%s ops=%llu calls=%llu ns=%llu ns_per_call=%.3f "
	       "cpu_ns=%llu cpu_ns_per_call=%.3f maxrss_kb=%ld\n",
	       mode, depth, glibc_trim ? "glibc" : "off", (unsigned long long)r.ops, (unsigned long long)r.calls,
	       (unsigned long long)r.ns, (double)r.ns / (double)r.calls,
	       (unsigned long long)r.cpu_ns, (double)r.cpu_ns / (double)r.calls, ru.ru_maxrss);
	return 0;
}
