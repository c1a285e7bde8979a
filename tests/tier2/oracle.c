/* SPDX-License-Identifier: Apache-2.0 */
/*
 * oracle.c: allocations on random call paths through code without frame
 * pointers (built -O2 -fomit-frame-pointer), each preceded by libgcc's
 * _Unwind_Backtrace at the same place: the stack the profiler must report.
 *
 *   oracle OUT SEED PATHS [MOD...]
 *
 * Every allocation is malloc(size) in alloc_here(); before it, capture()
 * records libgcc's stack (from alloc_here's caller on) and writes one line
 * to OUT: "size ip ip ...".  Shapes: recursion through four functions of
 * different frame layouts (plain, a variable-length array: CFA from rbp,
 * many callee-saved registers), a qsort comparator that allocates (frames
 * of the C library), a thread, and a signal handler that allocates (through
 * the kernel's signal frame, from raise() or from a leaf function that
 * makes the tgkill system call itself), and each MOD in turn (oracle_mod.c): dlopened,
 * called through on random paths, dlclosed.  run.py (case oracle) compares the report's
 * sites with these lines: frame for frame, with exact per-site counts.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <unwind.h>

#define MAXF 256
#define ESCAPE(p) __asm__ volatile("" : : "r"(p) : "memory")

static int out_fd = -1;
static char obuf[1 << 16];
static size_t olen;
static pthread_mutex_t olock = PTHREAD_MUTEX_INITIALIZER;

static void flush_out(void)
{
	size_t off = 0;
	while (off < olen) {
		ssize_t n = write(out_fd, obuf + off, olen - off);
		if (n <= 0)
			_exit(3);
		off += (size_t)n;
	}
	olen = 0;
}

struct bt {
	uintptr_t f[MAXF];
	int n;
};

static _Unwind_Reason_Code cb(struct _Unwind_Context *ctx, void *arg)
{
	struct bt *b = arg;
	int before = 0;
	uintptr_t ip = _Unwind_GetIPInfo(ctx, &before);
	if (b->n < MAXF)
		b->f[b->n++] = ip;
	return _URC_NO_REASON;
}

/* Records libgcc's view of the stack from alloc_here's caller on. */
static __attribute__((noinline)) void capture(size_t size)
{
	uintptr_t here = (uintptr_t)__builtin_return_address(0); /* in alloc_here */
	struct bt b;
	b.n = 0;
	_Unwind_Backtrace(cb, &b);
	int k = 0;
	while (k < b.n && b.f[k] != here)
		k++;
	if (k == b.n)
		_exit(4);
	char line[MAXF * 20 + 32];
	int len = snprintf(line, 32, "%zu", size);
	for (int i = k + 1; i < b.n; i++)
		len += snprintf(line + len, 20, " %lx", (unsigned long)b.f[i]);
	line[len++] = '\n';
	pthread_mutex_lock(&olock);
	if (olen + (size_t)len > sizeof obuf)
		flush_out();
	memcpy(obuf + olen, line, (size_t)len);
	olen += (size_t)len;
	pthread_mutex_unlock(&olock);
}

static __attribute__((noinline)) void alloc_here(size_t size)
{
	capture(size);
	void *p = malloc(size);
	ESCAPE(p);
	free(p);
	ESCAPE(p);
}

static uint64_t rng;
static unsigned next_rand(void)
{
	rng = rng * 6364136223846793005ull + 1442695040888963407ull;
	return (unsigned)(rng >> 33);
}

/* A path: digits, innermost last; each function consumes one. */
struct path {
	const unsigned char *d;
	int n;
	size_t size;
};

static void step(const struct path *p, int i);

/* The loaded module's entry (oracle_mod.c), or NULL. */
typedef void (*mod_cb)(const void *p, int i);
static void (*mod_through)(mod_cb f, const void *p, int i, int depth);

static void step_cb(const void *p, int i)
{
	step(p, i);
}

static __attribute__((noinline)) void fa(const struct path *p, int i)
{
	step(p, i + 1);
	ESCAPE(p);
}

static __attribute__((noinline)) void fb(const struct path *p, int i)
{
	volatile char vla[16 + (p->d[i] & 7) * 8]; /* CFA from rbp */
	vla[0] = 1;
	step(p, i + 1);
	ESCAPE(vla);
}

static __attribute__((noinline)) void fc(const struct path *p, int i)
{
	/* Many values live across the call: callee-saved pushes. */
	volatile unsigned a = p->d[i], b = a * 3, c = b + 7, e = c ^ 5, f = e * 11;
	unsigned x = a + 1, y = b + 2, z = c + 3, w = e + 4, v = f + 5;
	step(p, i + 1);
	ESCAPE(x + y + z + w + v);
	ESCAPE(a + b + c + e + f);
}

static __attribute__((noinline)) void fd(const struct path *p, int i)
{
	char big[700];
	big[0] = (char)i;
	ESCAPE(big);
	step(p, i + 1);
	ESCAPE(big);
}

static int sig_pending_size;

static void handler(int sig)
{
	(void)sig;
	alloc_here((size_t)sig_pending_size);
}

/* SIGUSR2's: on an alternate stack (in the main thread), back through the signal frame. */
static void handler_alt(int sig)
{
	(void)sig;
	volatile char here;
	alloc_here((size_t)sig_pending_size + 1 + ((uintptr_t)&here & 0)); /* size+2 */
}

/* tgkill from a leaf with no frame: the signal interrupts it with the
 * return address still in a register (aarch64: x30, from the context). */
static __attribute__((noinline)) long leaf_kill(long pid, long tid, long sig)
{
#if defined(__aarch64__)
	register long x0 __asm__("x0") = pid;
	register long x1 __asm__("x1") = tid;
	register long x2 __asm__("x2") = sig;
	register long x8 __asm__("x8") = SYS_tgkill;
	__asm__ volatile("svc #0" : "+r"(x0) : "r"(x1), "r"(x2), "r"(x8) : "memory");
	return x0;
#elif defined(__x86_64__)
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "0"((long)SYS_tgkill), "D"(pid), "S"(tid), "d"(sig) : "rcx", "r11", "memory");
	return r;
#else
	return syscall(SYS_tgkill, pid, tid, sig);
#endif
}

static void step(const struct path *p, int i)
{
	if (i == p->n) {
#ifndef ORACLE_NO_SIGNALS
		if (p->size % 5 == 0) { /* through a signal frame */
			sig_pending_size = (int)p->size + 1;
			if (p->size % 3 == 0) /* interrupting a leaf */
				leaf_kill(getpid(), gettid(), SIGUSR1);
			else
				raise(SIGUSR1);
		}
		if (p->size % 7 == 0) { /* the same from an alternate stack */
			sig_pending_size = (int)p->size + 1;
			raise(SIGUSR2);
		}
#endif
		alloc_here(p->size);
		return;
	}
	if (mod_through && (p->d[i] & 12) == 12) {
		mod_through(step_cb, p, i + 1, p->d[i] >> 6);
		return;
	}
	switch (p->d[i] & 3) {
	case 0: fa(p, i); break;
	case 1: fb(p, i); break;
	case 2: fc(p, i); break;
	default: fd(p, i); break;
	}
}

static int cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	alloc_here(3001);
	return (x > y) - (x < y);
}

static void *thread_main(void *arg)
{
	struct path *p = arg;
	for (int k = 0; k < 3; k++)
		step(p, 0);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 4)
		return 2;
	out_fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out_fd < 0)
		return 2;
	rng = strtoull(argv[2], NULL, 10);
	int paths = atoi(argv[3]);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	static char altstack[1 << 16] __attribute__((aligned(16)));
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0 };
	sigaltstack(&ss, NULL);
	sa.sa_handler = handler_alt;
	sa.sa_flags = SA_RESTART | SA_ONSTACK;
	sigaction(SIGUSR2, &sa, NULL);
	static unsigned char digits[1024][40];
	struct path ps[1024];
	if (paths > 1024)
		paths = 1024;
	for (int k = 0; k < paths; k++) {
		ps[k].n = 1 + (int)(next_rand() % 30);
		for (int i = 0; i < ps[k].n; i++)
			digits[k][i] = (unsigned char)next_rand();
		ps[k].d = digits[k];
		ps[k].size = 5000 + 8 * (size_t)k;
	}
	for (int round = 0; round < 3 * paths; round++)
		step(&ps[next_rand() % (unsigned)paths], 0);
	int arr[12];
	for (int i = 0; i < 12; i++)
		arr[i] = (int)(next_rand() % 100);
	qsort(arr, 12, sizeof arr[0], cmp);
	for (int k = 4; k < argc; k++) {
		void *h = dlopen(argv[k], RTLD_NOW | RTLD_LOCAL);
		if (!h)
			return 6;
		mod_through = (void (*)(mod_cb, const void *, int, int))dlsym(h, "mod_through");
		if (!mod_through)
			return 6;
		for (int round = 0; round < 2 * paths; round++)
			step(&ps[next_rand() % (unsigned)paths], 0);
		mod_through = NULL;
		dlclose(h);
	}
	pthread_t th;
	if (pthread_create(&th, NULL, thread_main, &ps[0]) != 0 || pthread_join(th, NULL) != 0)
		return 5;
	flush_out();
	close(out_fd);
	return 0;
}
