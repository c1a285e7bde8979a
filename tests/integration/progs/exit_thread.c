/* SPDX-License-Identifier: Apache-2.0 */
/*
 * exit_thread: exit(7) from a second thread while three others keep
 * allocating: the report is written (at_exit), nothing crashes or hangs,
 * and the exit status stays 7.
 */
#include "t.h"

#include <pthread.h>
#include <stdatomic.h>

#define WORKERS 3
#define MIN_ITERS 1000

static atomic_ulong done[WORKERS];

static void *worker(void *arg)
{
	int i = (int)(intptr_t)arg;
	for (uint64_t n = 0;; n++) {
		char *p = malloc(16 + n % 64);
		T_ESCAPE(p);
		char *q = calloc(1, 8);
		T_ESCAPE(q);
		free(p);
		free(q);
		atomic_store_explicit(&done[i], n + 1, memory_order_release);
	}
	return NULL;
}

static void *exiter(void *arg)
{
	(void)arg;
	for (int i = 0; i < WORKERS; i++)
		while (atomic_load_explicit(&done[i], memory_order_acquire) < MIN_ITERS)
			sched_yield();
	/* Every worker made at least MIN_ITERS rounds of 2 blocks before this. */
	t_expect_ge("totals.blocks", 2 * WORKERS * MIN_ITERS);
	t_expect_ge("totals.frees", 2 * WORKERS * MIN_ITERS);
	t_expect_ge("calls.calloc", WORKERS * MIN_ITERS);
	exit(7);
}

int main(void)
{
	pthread_t t[WORKERS + 1];
	for (int i = 0; i < WORKERS; i++)
		T_EQ(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i), 0);
	T_EQ(pthread_create(&t[WORKERS], NULL, exiter, NULL), 0);
	for (int i = 0; i <= WORKERS; i++)
		pthread_join(t[i], NULL);
	return 0; /* not reached */
}
