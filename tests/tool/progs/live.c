/* SPDX-License-Identifier: Apache-2.0 */
/*
 * live.c: a program with known heap figures for snapshot, top, and the
 * recovery of killed processes (issue 13).  Only write(2)/open(2): no stdio
 * buffers on the heap, so the figures are exactly the ones below.
 *
 *   live READY      10 blocks of 100000 bytes, 2 freed (8 live: 800000 bytes);
 *                   writes "1" to READY, then waits; on SIGUSR1 allocates 5 more
 *                   blocks of 100000 (1300000 live) and writes "2"; and so on
 *                   for each SIGUSR1.  Ends on SIGTERM (exit 0) or is killed.
 *   orphan READY    forks a grandchild that its parent leaves (so it is
 *                   reparented to the nearest subreaper) and that allocates 5
 *                   blocks of 1000 bytes and frees 2; it writes its pid to READY
 *                   and waits; this process SIGKILLs it, waits until it is
 *                   reaped by someone else, and exits 0.
 *   grow COUNT      allocates and touches blocks of 1 MiB until killed (the OOM
 *                   killer); COUNT (a file of 16 bytes, made beforehand) holds
 *                   two counts, stored through a shared mapping: the blocks
 *                   asked of malloc (before the call) and the blocks it has
 *                   returned (before the block is touched).  They differ by one
 *                   when the kill came inside malloc: an allocation in flight.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t grow_requests, stop;

static void on_usr1(int sig)
{
	(void)sig;
	grow_requests++;
}

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void put(const char *path, const char *text)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) != 0 ||
	    rename(tmp, path) != 0)
		_exit(90);
}

static void *keep[1 << 16];
static size_t nkeep;

static int live(const char *ready)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	for (int i = 0; i < 10; i++)
		keep[nkeep++] = malloc(100000);
	free(keep[--nkeep]);
	free(keep[--nkeep]);
	int step = 1;
	put(ready, "1");
	for (;;) {
		while (!grow_requests && !stop)
			sigsuspend(&old);
		if (stop)
			break;
		grow_requests--;
		for (int i = 0; i < 5; i++)
			keep[nkeep++] = malloc(100000);
		char s[16];
		snprintf(s, sizeof s, "%d", ++step);
		put(ready, s);
	}
	return 0;
}

static int orphan(const char *ready)
{
	int fds[2];
	if (pipe(fds) != 0)
		return 91;
	pid_t a = fork();
	if (a == 0) {
		pid_t b = fork();
		if (b != 0)
			_exit(b > 0 ? 0 : 92); /* the grandchild is left to the subreaper */
		void *p[5];
		for (int i = 0; i < 5; i++)
			p[i] = malloc(1000);
		free(p[3]);
		free(p[4]);
		pid_t me = getpid();
		if (write(fds[1], &me, sizeof me) != sizeof me)
			_exit(93);
		for (;;)
			pause();
	}
	int st;
	waitpid(a, &st, 0);
	pid_t b;
	if (read(fds[0], &b, sizeof b) != sizeof b)
		return 94;
	char s[32];
	snprintf(s, sizeof s, "%d", (int)b);
	put(ready, s);
	kill(b, SIGKILL);
	/* Until whoever reaps it has reaped it (at most 10 s). */
	for (int i = 0; i < 10000 && kill(b, 0) == 0; i++) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	return kill(b, 0) == 0 ? 95 : 0;
}

static int grow(const char *count)
{
	int fd = open(count, O_RDWR);
	if (fd < 0)
		return 96;
	volatile uint64_t *n = mmap(NULL, 16, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (n == MAP_FAILED)
		return 97;
	n[0] = n[1] = 0;
	for (;;) {
		n[0] = n[0] + 1;
		char *p = malloc(1 << 20);
		if (!p)
			return 98;
		n[1] = n[1] + 1;
		memset(p, 1, 1 << 20);
	}
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "live") == 0)
		return live(argv[2]);
	if (argc == 3 && strcmp(argv[1], "orphan") == 0)
		return orphan(argv[2]);
	if (argc == 3 && strcmp(argv[1], "grow") == 0)
		return grow(argv[2]);
	return 2;
}
