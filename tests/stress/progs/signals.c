/* SPDX-License-Identifier: Apache-2.0 */
/*
 * signals: signal handlers that allocate.
 *
 *   A  SIGUSR1 on an alternate stack (sigaltstack), raised 5000 times from
 *      the main loop between its own malloc and free: the handler allocates 3
 *      blocks, frees 2 and hands the third to main.  Its call sites must have
 *      short stacks (the walk stops at the alternate stack's end).
 *   B  SIGALRM every 200 us (setitimer) on the main stack while the main loop
 *      alternates allocating and computing; the handler allocates only when
 *      the main loop is computing (malloc is not async-signal-safe: an
 *      interrupted malloc must not be re-entered), until 200 handlers did.
 * Exact process deltas for both; with call sites, exact site sums.
 */
#include "stress.h"

#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/time.h>

#define RAISES 5000
#define ALARMS 200
#define ALT_SIZE (64 * 1024)

static void *handed[RAISES];
static volatile sig_atomic_t n_raised;
static volatile sig_atomic_t safe, alarms_done, alarms_skipped;
static char *alt_lo;

S_NOINLINE void *alt_handler_alloc(size_t n)
{
	return malloc(n);
}

S_NOINLINE void alt_handler(int sig)
{
	(void)sig;
	int i = n_raised;
	void *a = alt_handler_alloc(10 + (size_t)i % 100);
	void *b = alt_handler_alloc(200);
	void *c = alt_handler_alloc(3000);
	S_CHECK(a && b && c);
	/* On the alternate stack, not the main one. */
	char here;
	S_CHECK(&here >= alt_lo && &here < alt_lo + ALT_SIZE);
	free(a);
	free(c);
	handed[i] = b;
	n_raised = i + 1;
}

S_NOINLINE void *alarm_handler_alloc(size_t n)
{
	return malloc(n);
}

S_NOINLINE void alarm_handler(int sig)
{
	(void)sig;
	if (!safe || alarms_done >= ALARMS) {
		alarms_skipped++;
		return;
	}
	void *p = alarm_handler_alloc(48);
	S_CHECK(p != NULL);
	S_ESCAPE(p);
	free(p);
	alarms_done++;
}

int main(void)
{
	stack_t ss = { 0 };
	ss.ss_sp = mmap(NULL, ALT_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	S_CHECK(ss.ss_sp != MAP_FAILED);
	ss.ss_size = ALT_SIZE;
	alt_lo = ss.ss_sp;
	S_EQ(sigaltstack(&ss, NULL), 0);
	struct sigaction sa = { 0 };
	sa.sa_handler = alt_handler;
	sa.sa_flags = SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	S_EQ(sigaction(SIGUSR1, &sa, NULL), 0);

	/* A */
	struct modalloc_stats m = s_now();
	uint64_t bytes = 0, freed = 0, handler_bytes = 0;
	for (int i = 0; i < RAISES; i++) {
		void *p = malloc(32);
		S_CHECK(p != NULL);
		S_ESCAPE(p);
		S_EQ(raise(SIGUSR1), 0);
		S_EQ(n_raised, i + 1);
		free(p);
		bytes += 32 + 10 + (uint64_t)i % 100 + 200 + 3000;
		freed += 32 + 10 + (uint64_t)i % 100 + 3000;
		handler_bytes += 10 + (uint64_t)i % 100 + 200 + 3000;
	}
	S_DELTA(&m, 4 * RAISES, bytes, 3 * RAISES, freed);
	for (int i = 0; i < RAISES; i++)
		free(handed[i]);
	S_DELTA(&m, 0, 0, RAISES, 200 * RAISES);

	/* B */
	sa.sa_handler = alarm_handler;
	sa.sa_flags = SA_RESTART;
	S_EQ(sigaction(SIGALRM, &sa, NULL), 0);
	struct itimerval it = { { 0, 200 }, { 0, 200 } };
	uint64_t rounds = 0;
	volatile uint64_t sink = 0;
	S_EQ(setitimer(ITIMER_REAL, &it, NULL), 0);
	while (alarms_done < ALARMS) {
		void *p = malloc(64);
		S_CHECK(p != NULL);
		S_ESCAPE(p);
		free(p);
		rounds++;
		atomic_signal_fence(memory_order_seq_cst);
		safe = 1;
		atomic_signal_fence(memory_order_seq_cst);
		for (int k = 0; k < 20000; k++)
			sink += (uint64_t)k * rounds;
		atomic_signal_fence(memory_order_seq_cst);
		safe = 0;
		atomic_signal_fence(memory_order_seq_cst);
	}
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	S_EQ(setitimer(ITIMER_REAL, &off, NULL), 0);
	S_DELTA(&m, rounds + ALARMS, 64 * rounds + 48 * ALARMS, rounds + ALARMS, 64 * rounds + 48 * ALARMS);
	s_site("alt_handler_alloc", 3 * RAISES, handler_bytes, 0);
	s_site("alarm_handler_alloc", ALARMS, 48 * ALARMS, 0);
	s_say_u64("alarm rounds", rounds);
	return 0;
}
