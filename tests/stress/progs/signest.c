/* SPDX-License-Identifier: Apache-2.0 */
/*
 * signest: a signal handler that allocates while the main loop is anywhere
 * inside malloc, the library's call-site walk included.  The allocator
 * underneath is bump.c (async-signal-safe), linked ahead of libc, so the
 * handler may run at any instant.  SIGALRM every 20 us over two million
 * malloc/free pairs lands hundreds of times inside a walk.
 *
 * An allocation nested in the library's own walk must neither corrupt the
 * walk it interrupted (the thread's last-stack buffer) nor be attributed to
 * it: the sites of main_alloc and handler_alloc must count exactly their own
 * allocations.
 */
#include "stress.h"

#include <signal.h>
#include <sys/time.h>

#define PAIRS 2000000

static volatile sig_atomic_t hits;

S_NOINLINE void *handler_alloc(size_t n)
{
	return malloc(n);
}

static void handler(int sig)
{
	(void)sig;
	void *p = handler_alloc(24);
	S_ESCAPE(p);
	free(p);
	hits++;
}

S_NOINLINE void *main_alloc(size_t n)
{
	return malloc(n);
}

S_NOINLINE void run(void)
{
	for (int i = 0; i < PAIRS; i++) {
		void *p = main_alloc(32);
		S_CHECK(p != NULL);
		S_ESCAPE(p);
		free(p);
	}
}

int main(void)
{
	struct sigaction sa = { 0 };
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	S_EQ(sigaction(SIGALRM, &sa, NULL), 0);
	struct itimerval it = { { 0, 20 }, { 0, 20 } };
	S_EQ(setitimer(ITIMER_REAL, &it, NULL), 0);
	run();
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	S_EQ(setitimer(ITIMER_REAL, &off, NULL), 0);
	uint64_t n = (uint64_t)hits;
	s_say_u64("signals handled", n);
	S_CHECK(n > 0);
	s_site("main_alloc", PAIRS, (uint64_t)PAIRS * 32, 0);
	s_site("handler_alloc", n, n * 24, 0);
	return 0;
}
