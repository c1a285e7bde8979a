/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bookkeeping.c: the measurement behind modalloc's per-block bookkeeping
 * (block.h): a 16-byte header below each block, against the alternative, a
 * process-wide side table keyed by pointer.
 *
 *   bookkeeping [-r REPS] [-s SCALE]
 *
 * Variants, each doing what free() needs (learn the block's requested size):
 *
 *   plain   glibc malloc/free
 *   header  malloc(n + 16), write size + keyed check below the block; free
 *           reads and verifies the check, reads the size, clears the check
 *           (what ma_core_alloc / ma_core_free do, without the counters)
 *   table   glibc malloc/free plus a lock-free open-addressed pointer -> size
 *           hash table sized for 1M live entries (2^21 slots of 16 bytes,
 *           32 MiB, pre-faulted): insert on malloc (linear probing, CAS on
 *           the key, reusing tombstones), delete on free (tombstone)
 *
 * Patterns: tight (malloc(32)/free) and pool (10k live blocks of 16..4096
 * bytes per thread, random replacement).  With 2 threads each runs the same
 * pattern on its own blocks at the same time; the table is shared, as it
 * would be in the library.  Variants alternate within each repetition; the
 * table gives the median ns per malloc+free pair as seen by one thread and
 * the median of the per-repetition ratios to plain.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "bench_util.h"

enum variant { V_PLAIN, V_HEADER, V_TABLE, V_COUNT };
static const char *const vnames[V_COUNT] = { "plain glibc", "16-byte header", "pointer hash table" };
enum pattern { P_TIGHT, P_POOL, P_COUNT };

/* Sizes read back by free, summed so that the reads are not dead. */
static _Atomic uint64_t g_sink;

static void die(const char *what)
{
	fprintf(stderr, "bookkeeping: %s\n", what);
	exit(1);
}

/* ---- header ----------------------------------------------------------- */

struct hdr {
	uint64_t size;
	uint32_t check;
	uint32_t spare;
};

static const uint32_t cookie = 0x5bd1e995u;

static inline uint32_t hdr_check(const void *user)
{
	return (uint32_t)(((uint64_t)(uintptr_t)user * 0x9E3779B97F4A7C15ull) >> 32) ^ cookie;
}

static NOINLINE void *hdr_malloc(size_t n)
{
	char *b = malloc(n + sizeof(struct hdr));
	if (!b)
		return NULL;
	struct hdr *h = (struct hdr *)b;
	h->size = n;
	h->check = hdr_check(b + sizeof(struct hdr));
	return b + sizeof(struct hdr);
}

static NOINLINE uint64_t hdr_free(void *p)
{
	struct hdr *h = (struct hdr *)p - 1;
	if (h->check != hdr_check(p))
		die("header check failed");
	uint64_t size = h->size;
	h->check = 0;
	free(h);
	return size;
}

/* ---- table ------------------------------------------------------------ */

#define TABLE_LOG2 21
#define TABLE_SLOTS (1u << TABLE_LOG2)
#define KEY_EMPTY 0
#define KEY_TOMB  1

struct slot {
	_Atomic uintptr_t key;
	uint64_t size;
};

static struct slot *g_table;

static inline size_t table_home(const void *p)
{
	return (size_t)(((uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull) >> (64 - TABLE_LOG2));
}

/*
 * A live pointer is in the table at most once (the allocator never hands it
 * out twice), so insert may take the first empty or tombstone slot without
 * looking further for a duplicate.
 */
static NOINLINE void *table_malloc(size_t n)
{
	void *p = malloc(n);
	if (!p)
		return NULL;
	size_t i = table_home(p);
	for (size_t probes = 0; probes < TABLE_SLOTS; probes++) {
		uintptr_t k = atomic_load_explicit(&g_table[i].key, memory_order_relaxed);
		while (k == KEY_EMPTY || k == KEY_TOMB) {
			if (atomic_compare_exchange_weak_explicit(&g_table[i].key, &k, (uintptr_t)p,
			                                          memory_order_relaxed, memory_order_relaxed)) {
				/* The pointer reaches its freeing thread through the program's
				 * own synchronisation, which orders this store too. */
				g_table[i].size = n;
				return p;
			}
		}
		i = (i + 1) & (TABLE_SLOTS - 1);
	}
	die("table full");
	return NULL;
}

static NOINLINE uint64_t table_free(void *p)
{
	size_t i = table_home(p);
	for (size_t probes = 0; probes < TABLE_SLOTS; probes++) {
		uintptr_t k = atomic_load_explicit(&g_table[i].key, memory_order_relaxed);
		if (k == (uintptr_t)p) {
			uint64_t size = g_table[i].size;
			/* Only the thread freeing p can remove it: a plain store suffices. */
			atomic_store_explicit(&g_table[i].key, KEY_TOMB, memory_order_relaxed);
			free(p);
			return size;
		}
		if (k == KEY_EMPTY)
			break;
		i = (i + 1) & (TABLE_SLOTS - 1);
	}
	die("pointer not in table");
	return 0;
}

/* ---- workloads -------------------------------------------------------- */

static inline void *v_malloc(enum variant v, size_t n)
{
	void *p = v == V_PLAIN ? malloc(n) : v == V_HEADER ? hdr_malloc(n) : table_malloc(n);
	if (!p)
		die("out of memory");
	return p;
}

static inline uint64_t v_free(enum variant v, void *p)
{
	if (v == V_PLAIN) {
		free(p);
		return 0;
	}
	return v == V_HEADER ? hdr_free(p) : table_free(p);
}

#define POOL_SLOTS 10000

struct job {
	enum variant v;
	enum pattern pat;
	uint64_t pairs;
	uint64_t seed;
	pthread_barrier_t *start;
	void *slot[POOL_SLOTS];
};

static void *job_main(void *arg)
{
	struct job *j = arg;
	uint64_t sum = 0;
	if (j->pat == P_POOL)
		for (size_t i = 0; i < POOL_SLOTS; i++)
			j->slot[i] = v_malloc(j->v, 16 + (size_t)(xs(&j->seed) % 4081));
	pthread_barrier_wait(j->start);
	if (j->pat == P_TIGHT) {
		for (uint64_t i = 0; i < j->pairs; i++) {
			void *p = v_malloc(j->v, 32);
			ESCAPE(p);
			sum += v_free(j->v, p);
		}
	} else {
		for (uint64_t i = 0; i < j->pairs; i++) {
			uint64_t r = xs(&j->seed);
			size_t k = (size_t)(r % POOL_SLOTS);
			sum += v_free(j->v, j->slot[k]);
			j->slot[k] = v_malloc(j->v, 16 + (size_t)((r >> 32) % 4081));
			*(volatile char *)j->slot[k] = 1;
		}
	}
	pthread_barrier_wait(j->start);
	if (j->pat == P_POOL)
		for (size_t i = 0; i < POOL_SLOTS; i++)
			sum += v_free(j->v, j->slot[i]);
	atomic_fetch_add(&g_sink, sum);
	return NULL;
}

static struct job g_jobs[2];

/* ns per pair as seen by one thread: the wall time of the timed section. */
static double run_once(enum variant v, enum pattern pat, int nthreads, uint64_t pairs)
{
	pthread_barrier_t b;
	pthread_barrier_init(&b, NULL, (unsigned)nthreads + 1);
	pthread_t th[2];
	for (int i = 0; i < nthreads; i++) {
		g_jobs[i].v = v;
		g_jobs[i].pat = pat;
		g_jobs[i].pairs = pairs;
		g_jobs[i].seed = 0x9E3779B97F4A7C15ull + (uint64_t)i * 0x2545F4914F6CDD1Dull;
		g_jobs[i].start = &b;
		if (pthread_create(&th[i], NULL, job_main, &g_jobs[i]))
			die("pthread_create");
	}
	pthread_barrier_wait(&b); /* fill done, go */
	uint64_t t0 = now_ns();
	pthread_barrier_wait(&b); /* timed loops done */
	uint64_t ns = now_ns() - t0;
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&b);
	return (double)ns / (double)pairs;
}

#define MAX_REPS 64

int main(int argc, char **argv)
{
	int reps = 7;
	double scale = 1.0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-r") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-s") && i + 1 < argc)
			scale = atof(argv[++i]);
		else {
			fprintf(stderr, "usage: bookkeeping [-r REPS] [-s SCALE]\n");
			return 2;
		}
	}
	if (reps < 1 || reps > MAX_REPS)
		reps = 7;

	g_table = mmap(NULL, sizeof(struct slot) * TABLE_SLOTS, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g_table == MAP_FAILED)
		die("mmap");
	/* Pre-fault: the page faults of a fresh table are a one-off, not per call. */
	memset(g_table, 0, sizeof(struct slot) * TABLE_SLOTS);

	const uint64_t pairs[P_COUNT] = { (uint64_t)(8e6 * scale), (uint64_t)(1.5e6 * scale) };
	static double ns[P_COUNT][2][V_COUNT][MAX_REPS];
	for (int r = 0; r < reps; r++)
		for (int p = 0; p < P_COUNT; p++)
			for (int t = 1; t <= 2; t++)
				for (int v = 0; v < V_COUNT; v++)
					ns[p][t - 1][v][r] = run_once((enum variant)v, (enum pattern)p, t, pairs[p]);

	printf("Per-block bookkeeping (%d reps, alternating; ns per malloc+free pair as seen by one thread; "
	       "ratio = median of per-rep ratios to plain glibc with the same pattern and thread count)\n\n",
	       reps);
	printf("| bookkeeping | tight, 1 thread | tight, 2 threads | pool, 1 thread | pool, 2 threads |\n");
	printf("|---|---|---|---|---|\n");
	for (int v = 0; v < V_COUNT; v++) {
		printf("| %s |", vnames[v]);
		for (int p = 0; p < P_COUNT; p++)
			for (int t = 0; t < 2; t++) {
				double ratio[MAX_REPS], tmp[MAX_REPS];
				for (int r = 0; r < reps; r++) {
					ratio[r] = ns[p][t][v][r] / ns[p][t][V_PLAIN][r];
					tmp[r] = ns[p][t][v][r];
				}
				printf(" %.2fx (%.1f ns) |", median(ratio, reps), median(tmp, reps));
			}
		printf("\n");
	}
	fprintf(stderr, "bookkeeping: checksum %llu\n", (unsigned long long)atomic_load(&g_sink));
	return 0;
}
