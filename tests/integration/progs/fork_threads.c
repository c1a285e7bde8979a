/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fork_threads: forking while another thread allocates must not deadlock
 * (the runner's timeout catches a hang), and every child, whatever state the
 * allocating thread was in at the fork, starts from zero and reports exactly
 * what it did itself.
 */
#include "t.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

#define FORKS 10

static atomic_int stop;
static atomic_int go;
static uint64_t iters, bytes;

static void *churn(void *arg)
{
	(void)arg;
	while (!atomic_load(&go))
		;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		size_t n = 1 + (size_t)(iters % 300);
		char *p = malloc(n);
		T_ESCAPE(p);
		free(p);
		iters++;
		bytes += n;
	}
	return NULL;
}

int main(void)
{
	pthread_t t;
	T_EQ(pthread_create(&t, NULL, churn, NULL), 0);
	/* pthread_create's own allocations are done, the thread has not started
	 * churning: the baseline for exact totals. */
	struct modalloc_stats base = t_now();
	atomic_store(&go, 1);
	for (int i = 0; i < FORKS; i++) {
		pid_t c = fork();
		T_CHECK(c >= 0);
		if (c == 0) {
			struct modalloc_stats s = t_now();
			if (modalloc_is_active()) {
				T_EQ(s.blocks, 0);
				T_EQ(s.frees, 0);
				T_EQ(s.threads, 1);
			}
			char *p = malloc(10 + (size_t)i);
			T_ESCAPE(p);
			free(p);
			t_expect("totals.blocks", 1);
			t_expect("totals.bytes", 10 + (uint64_t)i);
			t_expect("totals.frees", 1);
			t_expect("totals.live_blocks", 0);
			t_expect("threads", 1);
			exit(0);
		}
		int st = 0;
		T_EQ(waitpid(c, &st, 0), c);
		T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	atomic_store(&stop, 1);
	T_EQ(pthread_join(t, NULL), 0);
	t_expect("totals.blocks", base.blocks + iters);
	t_expect("totals.bytes", base.bytes + bytes);
	t_expect("totals.frees", base.frees + iters);
	t_expect("totals.freed_bytes", base.freed_bytes + bytes);
	t_expect("inherited.frees", 0);
	t_expect_ge("calls.malloc", iters);
	t_expect_files(FORKS + 1);
	return 0;
}
