/* SPDX-License-Identifier: Apache-2.0 */
/*
 * peak_threads: the documented bound of the batched live counter
 * (src/counters.h): with T threads allocating, the recorded peak is within
 * (T - 1) * config.peak_slack_bytes of the true peak.
 *
 *   1  main alone: 100 KiB + 50 KiB live at once, freed: peak exact.
 *   2  thread B allocates 30 x 10 KiB and keeps them; barrier; main
 *      allocates 200 KiB; barrier; everything is freed.
 *
 * The true peak is phase 2's 500 KiB in 31 blocks (plus what pthread_create
 * left live), and two threads allocate: the report must be within 1 slack
 * of it (blocks within 256).
 */
#include "t.h"

#include <pthread.h>

#define KIB 1024
#define NB 30

static pthread_barrier_t bar;

static void *b_thread(void *arg)
{
	(void)arg;
	char *blocks[NB];
	pthread_barrier_wait(&bar); /* main has its baseline */
	for (int i = 0; i < NB; i++) {
		blocks[i] = malloc(10 * KIB);
		T_CHECK(blocks[i] != NULL);
	}
	pthread_barrier_wait(&bar); /* B's 300 KiB are live */
	pthread_barrier_wait(&bar); /* main's 200 KiB were live too, now freed */
	for (int i = 0; i < NB; i++)
		free(blocks[i]);
	return NULL;
}

int main(void)
{
	struct modalloc_stats s;
	char *x = malloc(100 * KIB), *y = malloc(50 * KIB);
	T_ESCAPE(x);
	T_ESCAPE(y);
	free(x);
	free(y);
	if (modalloc_stats_now(&s) == MODALLOC_OK) {
		T_EQ(s.peak_bytes, 150 * KIB);
		T_EQ(s.peak_blocks, 2);
	}

	pthread_t b;
	pthread_barrier_init(&bar, NULL, 2);
	T_EQ(pthread_create(&b, NULL, b_thread, NULL), 0);
	/* pthread_create's own blocks (glibc's DTV) stay live: part of the truth. */
	struct modalloc_stats base = t_now();
	pthread_barrier_wait(&bar);
	pthread_barrier_wait(&bar);
	char *z = malloc(200 * KIB);
	T_ESCAPE(z);
	free(z);
	pthread_barrier_wait(&bar);
	T_EQ(pthread_join(b, NULL), 0);

	t_expect_slack("totals.peak_bytes", base.live_bytes + 500 * KIB, 1);
	t_expect_near("totals.peak_blocks", base.live_blocks + NB + 1, 256);
	t_expect("totals.live_bytes", base.live_bytes);
	t_expect("totals.blocks", base.blocks + NB + 1);
	t_expect("totals.bytes", base.bytes + 500 * KIB);
	return 0;
}
