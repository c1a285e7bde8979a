// SPDX-License-Identifier: Apache-2.0
/*
 * oracle_cxx.cc: C++ exceptions on random call paths without frame pointers
 * (-O2 -fomit-frame-pointer), against libgcc's _Unwind_Backtrace.
 *
 *   oracle_cxx OUT SEED PATHS
 *
 * Each path recurses through three functions and throws at its end; some
 * frames hold a guard whose destructor allocates while the exception
 * unwinds (from a landing pad).  Two kinds of allocation, each preceded by
 * one line of OUT: "t ip..." for the exception object (libstdc++'s
 * __cxa_allocate_exception calls malloc; the stack from thrower's caller on)
 * and "d ip..." for a destructor's (malloc in alloc_here; from alloc_here's
 * caller on).  run.py (case oracle_cxx) compares the report's sites with them.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <unwind.h>

#define MAXF 256
#define ESCAPE(p) __asm__ volatile("" : : "r"(p) : "memory")

static int out_fd = -1;

struct bt {
	uintptr_t f[MAXF];
	int n;
};

static _Unwind_Reason_Code cb(struct _Unwind_Context *ctx, void *arg)
{
	struct bt *b = static_cast<struct bt *>(arg);
	int before = 0;
	uintptr_t ip = _Unwind_GetIPInfo(ctx, &before);
	if (b->n < MAXF)
		b->f[b->n++] = ip;
	return _URC_NO_REASON;
}

/* One line: kind, then libgcc's stack from the caller of capture's caller on. */
static __attribute__((noinline)) void capture(char kind)
{
	uintptr_t here = (uintptr_t)__builtin_return_address(0); /* in alloc_here or thrower */
	static struct bt b;
	b.n = 0;
	_Unwind_Backtrace(cb, &b);
	int k = 0;
	while (k < b.n && b.f[k] != here)
		k++;
	if (k == b.n)
		_exit(4);
	static char line[MAXF * 20 + 32];
	int len = snprintf(line, 32, "%c", kind);
	for (int i = k + 1; i < b.n; i++)
		len += snprintf(line + len, 20, " %lx", (unsigned long)b.f[i]);
	line[len++] = '\n';
	if (write(out_fd, line, (size_t)len) != len)
		_exit(3);
}

static __attribute__((noinline)) void alloc_here(void)
{
	capture('d');
	void *p = malloc(77);
	ESCAPE(p);
	free(p);
}

struct Err {
	int v;
};

struct Guard {
	int on;
	~Guard()
	{
		if (on)
			alloc_here();
	}
};

static __attribute__((noinline)) void thrower(int v)
{
	capture('t');
	throw Err{ v };
}

static const unsigned char *digits;
static int ndigits;

static void step(int i);

static __attribute__((noinline)) void ga(int i)
{
	Guard g{ digits[i] & 4 };
	step(i + 1);
	ESCAPE(&g);
}

static __attribute__((noinline)) void gb(int i)
{
	/* alloca: the frame's CFA is then kept in rbp */
	volatile char *buf = static_cast<volatile char *>(__builtin_alloca(8 + (digits[i] & 7) * 8));
	buf[0] = 1;
	step(i + 1);
	ESCAPE(buf);
}

static __attribute__((noinline)) void gc(int i)
{
	Guard g{ digits[i] & 8 };
	volatile unsigned a = digits[i], b = a * 3, c = b + 7;
	step(i + 1);
	ESCAPE(a + b + c);
	ESCAPE(&g);
}

static void step(int i)
{
	if (i == ndigits)
		thrower(i);
	switch (digits[i] % 3) {
	case 0: ga(i); break;
	case 1: gb(i); break;
	default: gc(i); break;
	}
}

static uint64_t rng;
static unsigned next_rand(void)
{
	rng = rng * 6364136223846793005ull + 1442695040888963407ull;
	return (unsigned)(rng >> 33);
}

int main(int argc, char **argv)
{
	if (argc != 4)
		return 2;
	out_fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out_fd < 0)
		return 2;
	rng = strtoull(argv[2], NULL, 10);
	int paths = atoi(argv[3]);
	static unsigned char all[512][24];
	static int lens[512];
	if (paths > 512)
		paths = 512;
	for (int k = 0; k < paths; k++) {
		lens[k] = 1 + (int)(next_rand() % 20);
		for (int i = 0; i < lens[k]; i++)
			all[k][i] = (unsigned char)next_rand();
	}
	int caught = 0;
	for (int round = 0; round < 2 * paths; round++) {
		int k = (int)(next_rand() % (unsigned)paths);
		digits = all[k];
		ndigits = lens[k];
		try {
			step(0);
		} catch (const Err &e) {
			caught += e.v >= 0;
		}
	}
	close(out_fd);
	return caught == 2 * paths ? 0 : 5;
}
