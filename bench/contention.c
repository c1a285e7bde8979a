/* SPDX-License-Identifier: Apache-2.0 */
/*
 * contention.c: the measurement behind the design rule "two threads must not
 * fight over one cache line on every call" (counters.h, thread.h).
 *
 *   contention [-r REPS] [-n OPS]
 *
 * Two threads each update a counter OPS times, in one of these ways:
 *
 *   own      per-thread counter on its own cache line, relaxed load + store
 *            (no lock prefix): what modalloc's ma_own_add does
 *   own-xadd per-thread counter on its own line, atomic fetch_add (lock
 *            prefix, never contended): the price of the instruction alone
 *   false    per-thread counters side by side in one line, relaxed load +
 *            store: false sharing
 *   shared   one global counter, atomic fetch_add from both threads: what a
 *            single process-wide atomic per call costs
 *
 * once bare (the update is the whole loop body) and once inside a
 * malloc(32)/free loop (one update per allocator call, so two per pair), to
 * see the cost next to a real allocator call.  Variants alternate within
 * each repetition; the table gives median ns per update as seen by one
 * thread (wall time of the parallel section / OPS) and the median of the
 * per-repetition ratios to `own`.  The 1-thread rows show each variant
 * without a second thread.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

enum variant { V_OWN, V_OWN_XADD, V_FALSE, V_SHARED, V_COUNT };
static const char *const vnames[V_COUNT] = { "own line, plain add", "own line, atomic xadd",
                                             "one line, false sharing", "one global atomic xadd" };

/* Each counter alone on its line, or two in the same line. */
static struct {
	_Alignas(64) _Atomic uint64_t c;
} g_own[2];
static struct {
	_Alignas(64) _Atomic uint64_t c[2];
} g_false;
static _Alignas(64) _Atomic uint64_t g_shared;

static inline void own_add(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1, memory_order_relaxed);
}

static inline void update(enum variant v, int self)
{
	switch (v) {
	case V_OWN:
		own_add(&g_own[self].c);
		break;
	case V_OWN_XADD:
		atomic_fetch_add_explicit(&g_own[self].c, 1, memory_order_relaxed);
		break;
	case V_FALSE:
		own_add(&g_false.c[self]);
		break;
	default:
		atomic_fetch_add_explicit(&g_shared, 1, memory_order_relaxed);
		break;
	}
}

struct job {
	enum variant v;
	int self;
	int with_malloc;
	uint64_t ops;
	pthread_barrier_t *start;
};

/* The variant is a constant in each instantiation: the switch folds away. */
#define LOOP(V)                                                         \
	do {                                                            \
		if (j->with_malloc) {                                   \
			for (uint64_t i = 0; i < j->ops; i += 2) {      \
				void *p = malloc(32);                   \
				ESCAPE(p);                              \
				update(V, j->self);                     \
				free(p);                                \
				update(V, j->self);                     \
			}                                               \
		} else {                                                \
			for (uint64_t i = 0; i < j->ops; i++) {         \
				update(V, j->self);                     \
				__asm__ volatile("");                   \
			}                                               \
		}                                                       \
	} while (0)

static void *job_main(void *arg)
{
	struct job *j = arg;
	if (j->start)
		pthread_barrier_wait(j->start);
	switch (j->v) {
	case V_OWN:
		LOOP(V_OWN);
		break;
	case V_OWN_XADD:
		LOOP(V_OWN_XADD);
		break;
	case V_FALSE:
		LOOP(V_FALSE);
		break;
	default:
		LOOP(V_SHARED);
		break;
	}
	return NULL;
}

/* ns per update as seen by one thread. */
static double run_once(enum variant v, int nthreads, int with_malloc, uint64_t ops)
{
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, (unsigned)nthreads + 1);
	struct job jobs[2];
	pthread_t th[2];
	for (int i = 0; i < nthreads; i++) {
		jobs[i] = (struct job){ v, i, with_malloc, ops, &start };
		if (pthread_create(&th[i], NULL, job_main, &jobs[i])) {
			perror("pthread_create");
			exit(1);
		}
	}
	pthread_barrier_wait(&start);
	uint64_t t0 = now_ns();
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	uint64_t ns = now_ns() - t0;
	pthread_barrier_destroy(&start);
	return (double)ns / (double)ops;
}

#define MAX_REPS 64

int main(int argc, char **argv)
{
	int reps = 7;
	uint64_t ops = 20000000;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-r") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-n") && i + 1 < argc)
			ops = strtoull(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: contention [-r REPS] [-n OPS]\n");
			return 2;
		}
	}
	if (reps < 1 || reps > MAX_REPS)
		reps = 7;

	static double ns[2][2][V_COUNT][MAX_REPS]; /* [with_malloc][threads-1][variant][rep] */
	for (int r = 0; r < reps; r++)
		for (int m = 0; m < 2; m++)
			for (int t = 1; t <= 2; t++)
				for (int v = 0; v < V_COUNT; v++)
					/* The malloc loop is ~10x slower per update: fewer ops. */
					ns[m][t - 1][v][r] = run_once((enum variant)v, t, m, m ? ops / 4 : ops);

	printf("Counter update contention (%d reps, alternating; ns per update as seen by one thread; "
	       "ratio = median of per-rep ratios to \"own line, plain add\" with the same thread count)\n\n",
	       reps);
	printf("| update | 1 thread, bare | 2 threads, bare | 1 thread, in malloc/free | 2 threads, in malloc/free |\n");
	printf("|---|---|---|---|---|\n");
	for (int v = 0; v < V_COUNT; v++) {
		printf("| %s |", vnames[v]);
		for (int m = 0; m < 2; m++)
			for (int t = 0; t < 2; t++) {
				double ratio[MAX_REPS], tmp[MAX_REPS];
				for (int r = 0; r < reps; r++) {
					ratio[r] = ns[m][t][v][r] / ns[m][t][V_OWN][r];
					tmp[r] = ns[m][t][v][r];
				}
				printf(" %.2fx (%.2f ns) |", median(ratio, reps), median(tmp, reps));
			}
		printf("\n");
	}
	/* Keep the counters observable so that no store is dead. */
	fprintf(stderr, "contention: checksum %llu\n",
	        (unsigned long long)(g_own[0].c + g_own[1].c + g_false.c[0] + g_false.c[1] + g_shared));
	return 0;
}
