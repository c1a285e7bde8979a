/* SPDX-License-Identifier: Apache-2.0 */
/*
 * threads: exact totals with many threads.
 *
 *   A  8 threads allocate 1000 blocks each; each frees half of its own and
 *      the other half of its neighbour's (cross-thread frees), and leaves one
 *      block for main to free after the thread is gone.
 *   B  70 threads alive at once (more than one 64-record chunk).
 *   C  100 threads created and joined one after another (records reused).
 * With "thread_stats", a separate check of the thread stats of a thread
 * whose record is reused (its own stats must start at zero); with
 * "exit_records", of frees glibc makes in an exiting thread after the TSD
 * destructors.
 *
 * Thread stats are checked exactly per thread; process stats exactly across
 * each phase, measured while every thread is parked at a barrier.  Creating
 * and joining threads allocates inside glibc (the DTV), so the report is
 * compared with a baseline run ("empty") that makes the same threads with no
 * payload: run minus baseline must be the payload exactly.
 */
#include "t.h"

#include <pthread.h>

#define NA 8
#define K 1000
#define NB 70
#define NC 100

static int payload = 1;
static pthread_barrier_t bar_a, bar_b;
static char *handoff[NA][K];
static char *leftover[NA];
static uint64_t e_blocks, e_bytes, e_frees, e_freed;

static size_t size_of(int i, int j)
{
	return 16 + (size_t)((i * 131 + j * 17) % 512);
}

static void *phase_a(void *arg)
{
	int i = (int)(intptr_t)arg;
	struct modalloc_stats t0, t1;
	pthread_barrier_wait(&bar_a); /* 1: everyone created */
	if (payload) {
		T_EQ(modalloc_thread_stats_now(&t0), MODALLOC_OK);
		T_EQ(t0.blocks, 0);
		for (int j = 0; j < K; j++) {
			char *p = malloc(size_of(i, j));
			T_CHECK(p != NULL);
			p[0] = (char)j;
			handoff[i][j] = p;
		}
		for (int j = 0; j < K; j += 2)
			free(handoff[i][j]);
		leftover[i] = malloc(1000);
	}
	pthread_barrier_wait(&bar_a); /* 2: all allocated */
	if (payload) {
		int n = (i + 1) % NA;
		uint64_t own_freed = 0, their_freed = 0, bytes = 0;
		for (int j = 0; j < K; j++) {
			bytes += size_of(i, j);
			if (j % 2 == 0)
				own_freed += size_of(i, j);
		}
		for (int j = 1; j < K; j += 2) {
			T_EQ(handoff[n][j][0], (char)j);
			their_freed += size_of(n, j);
			free(handoff[n][j]);
		}
		T_EQ(modalloc_thread_stats_now(&t1), MODALLOC_OK);
		T_EQ(t1.blocks, K + 1);
		T_EQ(t1.bytes, bytes + 1000);
		T_EQ(t1.frees, K);
		T_EQ(t1.freed_bytes, own_freed + their_freed);
	}
	pthread_barrier_wait(&bar_a); /* 3: all freed; main measures */
	pthread_barrier_wait(&bar_a); /* 4: main has measured */
	return NULL;
}

static void *phase_b(void *arg)
{
	(void)arg;
	if (payload) {
		char *p = malloc(64);
		T_ESCAPE(p);
		free(p);
	}
	pthread_barrier_wait(&bar_b); /* all alive */
	pthread_barrier_wait(&bar_b); /* main counted them */
	return NULL;
}

static void *phase_c(void *arg)
{
	(void)arg;
	if (payload) {
		char *p = malloc(32);
		T_ESCAPE(p);
		free(p);
	}
	return NULL;
}

/* "thread_stats": a thread's own stats start at zero although its record
 * (reused from a thread that exited) holds that thread's sums. */
static void *first(void *arg)
{
	(void)arg;
	char *p = malloc(32);
	T_ESCAPE(p);
	free(p);
	return NULL;
}

static void *second(void *arg)
{
	(void)arg;
	struct modalloc_stats t;
	T_EQ(modalloc_thread_stats_now(&t), MODALLOC_OK);
	T_EQ(t.blocks, 0);
	T_EQ(t.bytes, 0);
	T_EQ(t.frees, 0);
	char *p = malloc(100);
	T_ESCAPE(p);
	T_EQ(modalloc_thread_stats_now(&t), MODALLOC_OK);
	T_EQ(t.blocks, 1);
	T_EQ(t.bytes, 100);
	T_EQ(t.live_bytes, 100);
	free(p);
	return NULL;
}

static int thread_stats(void)
{
	for (int i = 0; i < 3; i++) {
		pthread_t t;
		T_EQ(pthread_create(&t, NULL, i < 2 ? first : second, NULL), 0);
		T_EQ(pthread_join(t, NULL), 0);
	}
	t_say("thread_stats done", NULL);
	return 0;
}

/* "exit_records": glibc frees a thread's strsignal() buffer after the TSD
 * destructors (__libc_thread_freeres), when the thread's record has been
 * released already.  The thread must not end up holding a record forever. */
static void *uses_strsignal(void *arg)
{
	(void)arg;
	const char *s = strsignal(1000); /* "Unknown signal 1000": a malloc'd buffer */
	T_ESCAPE(s);
	return NULL;
}

static int exit_records(void)
{
	for (int i = 0; i < 20; i++) {
		pthread_t t;
		T_EQ(pthread_create(&t, NULL, uses_strsignal, NULL), 0);
		T_EQ(pthread_join(t, NULL), 0);
	}
	if (modalloc_is_active()) {
		struct modalloc_stats s = t_now();
		T_EQ(s.threads, 1);
		T_EQ(s.live_blocks, 1); /* the first thread's DTV, kept with its cached stack */
	}
	t_expect("threads", 1);
	t_say("exit_records done", NULL);
	return 0;
}

int main(int argc, char **argv)
{
	pthread_t th[NB];
	struct t_mark m;
	if (argc > 1 && strcmp(argv[1], "thread_stats") == 0)
		return thread_stats();
	if (argc > 1 && strcmp(argv[1], "exit_records") == 0)
		return exit_records();
	payload = !(argc > 1 && strcmp(argv[1], "empty") == 0);

	/* A */
	pthread_barrier_init(&bar_a, NULL, NA + 1);
	for (int i = 0; i < NA; i++)
		T_EQ(pthread_create(&th[i], NULL, phase_a, (void *)(intptr_t)i), 0);
	t_mark(&m); /* the threads are parked before barrier 1: nothing allocates */
	pthread_barrier_wait(&bar_a); /* 1 */
	pthread_barrier_wait(&bar_a); /* 2 */
	pthread_barrier_wait(&bar_a); /* 3 */
	if (payload) {
		for (int i = 0; i < NA; i++)
			for (int j = 0; j < K; j++)
				e_bytes += size_of(i, j);
		e_blocks = NA * (K + 1);
		e_bytes += NA * 1000;
		e_frees = NA * K;
		e_freed = e_bytes - NA * 1000;
	}
	t_delta(&m, e_blocks, e_bytes, e_frees, e_freed);
	/* Threads register on their first call into the library. */
	if (payload && modalloc_is_active())
		T_EQ(t_now().threads, NA + 1);
	pthread_barrier_wait(&bar_a); /* 4 */
	for (int i = 0; i < NA; i++)
		T_EQ(pthread_join(th[i], NULL), 0);
	if (payload) {
		t_mark(&m);
		for (int i = 0; i < NA; i++)
			free(leftover[i]); /* blocks of threads that are gone */
		t_delta(&m, 0, 0, NA, NA * 1000);
		e_frees += NA;
		e_freed += NA * 1000;
	}

	/* B */
	pthread_barrier_init(&bar_b, NULL, NB + 1);
	for (int i = 0; i < NB; i++)
		T_EQ(pthread_create(&th[i], NULL, phase_b, NULL), 0);
	pthread_barrier_wait(&bar_b);
	if (payload && modalloc_is_active())
		T_EQ(t_now().threads, NB + 1);
	pthread_barrier_wait(&bar_b);
	for (int i = 0; i < NB; i++)
		T_EQ(pthread_join(th[i], NULL), 0);
	if (payload) {
		e_blocks += NB;
		e_bytes += NB * 64;
		e_frees += NB;
		e_freed += NB * 64;
	}

	/* C */
	for (int i = 0; i < NC; i++) {
		pthread_t t;
		T_EQ(pthread_create(&t, NULL, phase_c, NULL), 0);
		T_EQ(pthread_join(t, NULL), 0);
	}
	if (payload) {
		e_blocks += NC;
		e_bytes += NC * 32;
		e_frees += NC;
		e_freed += NC * 32;
	}
	if (modalloc_is_active())
		T_EQ(t_now().threads, 1);

	t_expect_delta("totals.blocks", e_blocks);
	t_expect_delta("totals.bytes", e_bytes);
	t_expect_delta("totals.frees", e_frees);
	t_expect_delta("totals.freed_bytes", e_freed);
	t_expect_delta("calls.malloc", e_blocks);
	t_expect_delta("calls.free", e_frees);
	t_expect_delta("foreign_frees", 0);
	t_expect_delta("totals.failed", 0);
	t_expect("threads", 1);
	t_expect("totals.failed", 0);
	t_expect("foreign_frees", 0);
	return 0;
}
