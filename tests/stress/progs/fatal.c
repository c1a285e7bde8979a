/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fatal: a program killed by SIGTERM (or SIGINT) while 4 threads and main
 * allocate and free as fast as they can: the signal lands in the middle of
 * the library's updates, in any thread.  The report written by the handler
 * must be whole and self-consistent (totals equal per-site sums), the
 * process must die of the signal, and nothing may hang.
 *
 *   fatal        prints READY once every thread runs, then churns forever
 */
#include "stress.h"

#include <pthread.h>
#include <stdatomic.h>

#define THREADS 4
#define POOL 64

static atomic_int running;

S_NOINLINE static void churn_step(void **pool, unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	unsigned i = (*seed >> 8) % POOL;
	free(pool[i]);
	pool[i] = malloc(16 + (*seed >> 16) % 2000);
	S_ESCAPE(pool[i]);
}

static void *churn(void *arg)
{
	void *pool[POOL] = { 0 };
	unsigned seed = (unsigned)(uintptr_t)arg;
	atomic_fetch_add(&running, 1);
	for (;;)
		churn_step(pool, &seed);
	return NULL;
}

int main(void)
{
	pthread_t t;
	for (uintptr_t i = 0; i < THREADS; i++)
		pthread_create(&t, NULL, churn, (void *)(i + 1));
	while (atomic_load(&running) < THREADS)
		usleep(1000);
	s_say("READY", NULL);
	churn((void *)99);
	return 0;
}
