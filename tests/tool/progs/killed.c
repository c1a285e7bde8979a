/* SPDX-License-Identifier: Apache-2.0 */
/*
 * killed: allocates a known amount, then dies of SIGKILL with no report, for
 * `modalloc recover` (test_recover.py).  No stdio: nothing allocates behind
 * the test's back.
 *
 *   killed single     1000 blocks of 100 B from two sites (600 + 400), frees
 *                     300 (the first 300 of site A), then SIGKILL
 *   killed threads    4 threads: each 250 blocks of 100 B, frees 75, waits;
 *                     then the main thread sends SIGKILL (`threads exit`:
 *                     exits instead, writing its own report)
 *   killed fork       parent: 200 blocks of 50 B; a child: 500 blocks of
 *                     100 B, frees 100, SIGKILL; the parent frees its 200
 *                     after the child died and exits normally
 *   killed exit       as single, but exits normally
 *   killed wait       as single, then waits (the test kills it)
 *   killed exec       as single, then execs /bin/true (exits 0)
 *   killed execfail   as single, then an exec that fails, then SIGKILL
 *   killed sites      two call sites: 700 blocks of 100 B in alloc_f, 300 of
 *                     200 B in alloc_g, the first 100 of alloc_g's freed; SIGKILL
 *   killed sites wait as sites, then writes "ready" and waits (snapshot, top)
 *   killed many       300 threads started at once, each 10 blocks of 64 B, then
 *                     SIGKILL (`many exit`: exits instead): the state file's
 *                     pieces must hold every thread record with call sites on
 *   killed sampled    for MOD_ALLOC_SAMPLE: 4000 blocks of 1000 B from site_a,
 *                     2000 of 3000 B from site_b, the first 1000 of site_a's
 *                     freed; SIGKILL (`sampled exit`: exits instead)
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define ESCAPE(p) __asm__ volatile("" : : "r"(p) : "memory")

static void *held[1000];
static void *many_held[6000];

__attribute__((noinline)) static void *site_a(size_t n)
{
	void *p = malloc(n);
	ESCAPE(p);
	return p;
}

__attribute__((noinline)) static void *site_b(size_t n)
{
	void *p = malloc(n);
	ESCAPE(p);
	return p;
}

/* Distinct code (sizes), so that no pass folds the two into one function. */
__attribute__((noinline)) static void *alloc_f(void)
{
	void *p = malloc(100);
	ESCAPE(p);
	return p;
}

__attribute__((noinline)) static void *alloc_g(void)
{
	void *p = malloc(200);
	ESCAPE(p);
	return p;
}

__attribute__((noinline)) static void two_sites(void)
{
	for (int i = 0; i < 700; i++)
		held[i] = alloc_f();
	for (int i = 700; i < 1000; i++)
		held[i] = alloc_g();
	for (int i = 700; i < 800; i++)
		free(held[i]);
}

static void single(void)
{
	for (int i = 0; i < 600; i++)
		held[i] = site_a(100);
	for (int i = 600; i < 1000; i++)
		held[i] = site_b(100);
	for (int i = 0; i < 300; i++)
		free(held[i]);
}

static pthread_barrier_t ready;

static void *worker(void *arg)
{
	void **mine = arg;
	for (int i = 0; i < 250; i++)
		mine[i] = site_a(100);
	for (int i = 0; i < 75; i++)
		free(mine[i]);
	pthread_barrier_wait(&ready);
	for (;;)
		pause();
	return NULL;
}

static pthread_barrier_t many_ready;

static void *many_worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 10; i++)
		ESCAPE(malloc(64));
	pthread_barrier_wait(&many_ready);
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "single";
	if (strcmp(mode, "single") == 0 || strcmp(mode, "exit") == 0 || strcmp(mode, "wait") == 0) {
		single();
		if (strcmp(mode, "exit") == 0)
			return 0;
		if (strcmp(mode, "wait") == 0) {
			write(1, "ready\n", 6);
			for (;;)
				pause();
		}
		raise(SIGKILL);
	} else if (strcmp(mode, "sites") == 0) {
		two_sites();
		if (argc > 2 && strcmp(argv[2], "wait") == 0) {
			write(1, "ready\n", 6);
			for (;;)
				pause();
		}
		raise(SIGKILL);
	} else if (strcmp(mode, "sampled") == 0) {
		for (int i = 0; i < 4000; i++)
			many_held[i] = site_a(1000);
		for (int i = 4000; i < 6000; i++)
			many_held[i] = site_b(3000);
		for (int i = 0; i < 1000; i++)
			free(many_held[i]);
		if (argc > 2 && strcmp(argv[2], "exit") == 0)
			return 0;
		raise(SIGKILL);
	} else if (strcmp(mode, "many") == 0) {
		pthread_t t;
		pthread_barrier_init(&many_ready, NULL, 301);
		for (int i = 0; i < 300; i++)
			if (pthread_create(&t, NULL, many_worker, NULL) != 0)
				return 3;
		pthread_barrier_wait(&many_ready);
		if (argc > 2 && strcmp(argv[2], "exit") == 0)
			exit(0);
		kill(getpid(), SIGKILL);
	} else if (strcmp(mode, "exec") == 0 || strcmp(mode, "execfail") == 0) {
		single();
		char *args[] = { "true", NULL };
		execv(strcmp(mode, "exec") == 0 ? "/bin/true" : "/nonexistent/true", args);
		raise(SIGKILL);
	} else if (strcmp(mode, "threads") == 0) {
		pthread_t t[4];
		pthread_barrier_init(&ready, NULL, 5);
		for (int i = 0; i < 4; i++)
			pthread_create(&t[i], NULL, worker, held + 250 * i);
		pthread_barrier_wait(&ready);
		if (argc > 2 && strcmp(argv[2], "exit") == 0)
			exit(0); /* the oracle: the report the process writes itself */
		kill(getpid(), SIGKILL);
	} else if (strcmp(mode, "fork") == 0) {
		for (int i = 0; i < 200; i++)
			held[i] = site_b(50);
		pid_t c = fork();
		if (c == 0) {
			for (int i = 0; i < 500; i++)
				held[i] = site_a(100);
			for (int i = 0; i < 100; i++)
				free(held[i]);
			raise(SIGKILL);
		}
		int st;
		waitpid(c, &st, 0);
		for (int i = 0; i < 200; i++)
			free(held[i]);
		/* The child's pid on stdout, for the test. */
		char buf[32];
		int n = 0;
		for (pid_t v = c; v; v /= 10)
			buf[n++] = (char)('0' + v % 10);
		for (int i = 0; i < n / 2; i++) {
			char x = buf[i];
			buf[i] = buf[n - 1 - i];
			buf[n - 1 - i] = x;
		}
		buf[n++] = '\n';
		write(1, buf, (size_t)n);
		return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? 0 : 3;
	}
	return 2;
}
