/* SPDX-License-Identifier: Apache-2.0 */
/*
 * signals.c: a program that dies of signals, for tests/integration/signals.py.
 *
 * Every mode first makes the same allocations (work(): 2 blocks of 1,000 and
 * 200 bytes, the second freed: live 1,000 bytes in 1 block, peak 1,200 in 2),
 * then ends as the mode says.  Output goes through write(2) only (stdio would
 * allocate).
 *
 *   kill SIG        kill(getpid(), SIG); if that returns (ignored): exit 0
 *   fault NAME      a real one: segv bus fpe ill trap abort pipe xfsz alrm
 *   handler         installs its own SIGTERM handler, raises SIGTERM, then
 *                   allocates 500 bytes more and exits 3
 *   rearm           own handler, then SIG_DFL again, then SIGTERM
 *   disp [exec]     prints every disposition before and after a series of
 *                   changes made with each function of the family; "exec"
 *                   then execs "disp" (the dispositions an image inherits)
 *   ign             SIGTERM and SIGPIPE arrive ignored: prints them, raises
 *                   both, writes into a closed pipe; exits 0
 *   fork            the child allocates 300 bytes and dies of SIGTERM; the
 *                   parent prints "child <pid> <wait status>" and exits 0
 *   vfork           a vfork child changes dispositions and _exits; the
 *                   parent prints its own and dies of SIGINT
 *   spin            writes lines to stdout until SIGPIPE ends it
 *   wait [N] [exit] starts N threads (each allocates 100 bytes), prints
 *                   "ready", then waits to be killed; with "exit" it exits
 *                   instead (the same counts, for comparison)
 */
#define _GNU_SOURCE
#pragma GCC diagnostic ignored "-Wdeprecated-declarations" /* sigset, sigignore, siginterrupt */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define ESCAPE(p) __asm__ volatile("" : : "r"(p) : "memory")

static void out(const char *s)
{
	(void)!write(1, s, strlen(s));
}

static void out_hex(uint64_t v)
{
	char buf[20];
	int n = 0;
	do {
		buf[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	char rev[20];
	for (int i = 0; i < n; i++)
		rev[i] = buf[n - 1 - i];
	rev[n] = '\0';
	out(rev);
}

static void out_int(long v)
{
	if (v < 0) {
		out("-");
		v = -v;
	}
	char buf[24];
	int n = 0;
	do {
		buf[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	char rev[24];
	for (int i = 0; i < n; i++)
		rev[i] = buf[n - 1 - i];
	rev[n] = '\0';
	out(rev);
}

static void work(void)
{
	void *keep = malloc(1000);
	void *tmp = calloc(10, 20);
	ESCAPE(keep);
	ESCAPE(tmp);
	free(tmp);
}

static volatile sig_atomic_t caught;

static void on_signal(int sig)
{
	caught = sig;
}

static void describe(const char *what, int sig)
{
	struct sigaction sa;
	out(what);
	out(" ");
	out_int(sig);
	out(" ");
	if (sigaction(sig, NULL, &sa) < 0) {
		out("error ");
		out_int(errno);
		out("\n");
		return;
	}
	if (sa.sa_handler == SIG_DFL)
		out("DFL");
	else if (sa.sa_handler == SIG_IGN)
		out("IGN");
	else if (sa.sa_handler == on_signal)
		out("OURS");
	else
		out("OTHER");
	out(" flags ");
	out_hex((unsigned)sa.sa_flags);
	out(" mask ");
	for (int s = 1; s < 65; s++)
		out(sigismember(&sa.sa_mask, s) == 1 ? "1" : "0");
	out("\n");
}

static void describe_all(const char *what)
{
	for (int sig = 1; sig < 65; sig++)
		describe(what, sig);
}

static void handler_name(const char *what, sighandler_t h)
{
	out(what);
	out(h == SIG_DFL ? " DFL\n" : h == SIG_IGN ? " IGN\n" : h == on_signal ? " OURS\n"
	    : h == SIG_ERR ? " ERR\n" : h == SIG_HOLD ? " HOLD\n" : " OTHER\n");
}

static void changes(void)
{
	struct sigaction sa;
	handler_name("signal(USR1, h) ->", signal(SIGUSR1, on_signal));
	handler_name("signal(USR1, DFL) ->", signal(SIGUSR1, SIG_DFL));
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGKILL);
	sa.sa_flags = SA_RESTART | SA_NODEFER;
	struct sigaction *volatile same = &sa; /* act and old the same struct */
	out(sigaction(SIGUSR2, same, same) == 0 ? "sigaction(USR2) 0\n" : "sigaction(USR2) -1\n");
	handler_name("sigaction(USR2) old", sa.sa_handler);
	handler_name("sysv_signal(HUP, h) ->", sysv_signal(SIGHUP, on_signal));
	handler_name("sigset(ALRM, HOLD) ->", sigset(SIGALRM, SIG_HOLD));
	handler_name("sigset(ALRM, DFL) ->", sigset(SIGALRM, SIG_DFL));
	out(siginterrupt(SIGQUIT, 1) == 0 ? "siginterrupt(QUIT, 1) 0\n" : "siginterrupt -1\n");
	out(sigignore(SIGPWR) == 0 ? "sigignore(PWR) 0\n" : "sigignore -1\n");
	handler_name("signal(PWR, DFL) ->", signal(SIGPWR, SIG_DFL));
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	out(sigaction(SIGRTMIN + 1, &sa, NULL) == 0 ? "sigaction(RTMIN+1) 0\n" : "sigaction(RTMIN+1) -1\n");
	handler_name("signal(0, h) ->", signal(0, on_signal));
	handler_name("signal(KILL, h) ->", signal(SIGKILL, on_signal));
	handler_name("signal(TERM, IGN) ->", signal(SIGTERM, SIG_IGN));
	handler_name("signal(TERM, DFL) ->", signal(SIGTERM, SIG_DFL));
}

static void fault(const char *name)
{
	if (strcmp(name, "segv") == 0) {
		static int *volatile nowhere;
		*nowhere = 1;
	} else if (strcmp(name, "bus") == 0) {
		int fd = open("/tmp", O_TMPFILE | O_RDWR, 0600);
		char *m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
		ESCAPE(*(volatile char *)m);
	} else if (strcmp(name, "fpe") == 0) {
		volatile int zero = 0, one = 1;
		ESCAPE(one / zero);
	} else if (strcmp(name, "ill") == 0) {
#if defined(__x86_64__)
		__asm__ volatile("ud2");
#elif defined(__aarch64__)
		__asm__ volatile(".inst 0x00000000");
#endif
	} else if (strcmp(name, "trap") == 0) {
#if defined(__x86_64__)
		__asm__ volatile("int3");
#elif defined(__aarch64__)
		__asm__ volatile("brk #0");
#endif
	} else if (strcmp(name, "abort") == 0) {
		abort();
	} else if (strcmp(name, "pipe") == 0) {
		int fds[2];
		if (pipe(fds) == 0) {
			close(fds[0]);
			(void)!write(fds[1], "x", 1);
		}
	} else if (strcmp(name, "xfsz") == 0) {
		struct rlimit rl = { 1, RLIM_INFINITY }; /* soft limit: the report may lift it */
		setrlimit(RLIMIT_FSIZE, &rl);
		int fd = open("/tmp", O_TMPFILE | O_RDWR, 0600);
		(void)!write(fd, "0", 1); /* up to the limit */
		(void)!write(fd, "1", 1); /* beyond it */
	} else if (strcmp(name, "alrm") == 0) {
		alarm(1);
		for (;;)
			pause();
	}
	out("survived\n");
	exit(97);
}

static int started;

static void *sleeper(void *arg)
{
	void *p = malloc(100);
	ESCAPE(p);
	__atomic_add_fetch(&started, 1, __ATOMIC_RELEASE);
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	work();
	if (strcmp(mode, "kill") == 0 && argc > 2) {
		kill(getpid(), atoi(argv[2]));
		return 0;
	}
	if (strcmp(mode, "fault") == 0 && argc > 2) {
		fault(argv[2]);
		return 0;
	}
	if (strcmp(mode, "handler") == 0) {
		if (signal(SIGTERM, on_signal) != SIG_DFL)
			return 90;
		struct sigaction sa;
		if (sigaction(SIGTERM, NULL, &sa) < 0 || sa.sa_handler != on_signal)
			return 91;
		raise(SIGTERM);
		if (caught != SIGTERM)
			return 92;
		void *more = malloc(500);
		ESCAPE(more);
		exit(3);
	}
	if (strcmp(mode, "rearm") == 0) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_signal;
		sigaction(SIGTERM, &sa, NULL);
		if (signal(SIGTERM, SIG_DFL) != on_signal)
			return 90;
		raise(SIGTERM);
		return 0;
	}
	if (strcmp(mode, "disp") == 0) {
		describe_all("start");
		changes();
		describe_all("after");
		if (argc > 2 && strcmp(argv[2], "exec") == 0) {
			signal(SIGUSR1, on_signal);
			signal(SIGUSR2, SIG_IGN);
			char *args[] = { argv[0], "disp", NULL };
			execv(argv[0], args);
			return 98;
		}
		return 0;
	}
	if (strcmp(mode, "ign") == 0) {
		describe("ign", SIGTERM);
		describe("ign", SIGPIPE);
		raise(SIGTERM);
		raise(SIGPIPE);
		int fds[2];
		if (pipe(fds) == 0) {
			close(fds[0]);
			if (write(fds[1], "x", 1) != -1 || errno != EPIPE)
				return 93;
		}
		out("survived\n");
		return 0;
	}
	if (strcmp(mode, "fork") == 0) {
		pid_t pid = fork();
		if (pid == 0) {
			void *p = malloc(300);
			ESCAPE(p);
			kill(getpid(), SIGTERM);
			_exit(96);
		}
		int status = 0;
		waitpid(pid, &status, 0);
		out("child ");
		out_int(pid);
		out(" ");
		out_int(status);
		out("\n");
		return 0;
	}
	if (strcmp(mode, "vfork") == 0) {
		/* The child shares our memory, not our dispositions. */
		pid_t pid = vfork();
		if (pid == 0) {
			signal(SIGINT, SIG_IGN);
			signal(SIGTERM, on_signal);
			signal(SIGHUP, SIG_DFL);
			_exit(0);
		}
		waitpid(pid, NULL, 0);
		describe("parent", SIGINT);
		describe("parent", SIGTERM);
		describe("parent", SIGHUP);
		raise(SIGINT);
		return 0;
	}
	if (strcmp(mode, "spin") == 0) {
		for (;;)
			if (write(1, "line\n", 5) < 0)
				return 95; /* EPIPE: SIGPIPE was not delivered */
	}
	if (strcmp(mode, "wait") == 0) {
		int n = argc > 2 ? atoi(argv[2]) : 0;
		pthread_t t;
		for (int i = 0; i < n; i++)
			pthread_create(&t, NULL, sleeper, NULL);
		/* Wait until every thread has allocated (their blocks are in the counts). */
		while (__atomic_load_n(&started, __ATOMIC_ACQUIRE) < n)
			usleep(1000);
		usleep(20000);
		out("ready\n");
		if (argc > 3 && strcmp(argv[3], "exit") == 0)
			exit(0);
		for (;;)
			pause();
	}
	return 94;
}
