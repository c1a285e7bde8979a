/* SPDX-License-Identifier: Apache-2.0 */
/*
 * exitthread: exit(7) from a thread that is not main while four others
 * allocate, reallocate and free without pause (and main waits in
 * pthread_join).  The exit status stays 7, nothing hangs or crashes, and
 * exactly one report is written, whole.
 */
#include "stress.h"

#include <pthread.h>
#include <stdatomic.h>

#define WORKERS 4
#define MIN_ROUNDS 2000

static atomic_ulong rounds[WORKERS];

S_NOINLINE void *worker_alloc(size_t n)
{
	return malloc(n);
}

static void *worker(void *arg)
{
	unsigned me = (unsigned)(uintptr_t)arg;
	uint64_t rng = me + 11;
	void *keep[32] = { 0 };
	for (;;) {
		unsigned k = (unsigned)(s_rand(&rng) % 32);
		if (keep[k] && (s_rand(&rng) & 1)) {
			void *q = realloc(keep[k], 1 + s_rand(&rng) % 4000);
			S_CHECK(q != NULL);
			keep[k] = q;
		} else {
			free(keep[k]);
			keep[k] = worker_alloc(1 + s_rand(&rng) % 2000);
			S_CHECK(keep[k] != NULL);
		}
		atomic_fetch_add_explicit(&rounds[me], 1, memory_order_release);
	}
	return NULL;
}

static void *exiter(void *arg)
{
	(void)arg;
	for (int i = 0; i < WORKERS; i++)
		while (atomic_load_explicit(&rounds[i], memory_order_acquire) < MIN_ROUNDS)
			sched_yield();
	s_expect("GE", "totals.blocks", WORKERS * MIN_ROUNDS);
	s_expect("E", "at_exit", 1);
	exit(7);
}

int main(void)
{
	pthread_t t[WORKERS + 1];
	for (unsigned i = 0; i < WORKERS; i++)
		S_EQ(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i), 0);
	S_EQ(pthread_create(&t[WORKERS], NULL, exiter, NULL), 0);
	for (int i = 0; i <= WORKERS; i++)
		pthread_join(t[i], NULL);
	return 0; /* not reached */
}
