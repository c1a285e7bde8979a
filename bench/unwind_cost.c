/* SPDX-License-Identifier: Apache-2.0 */
/*
 * unwind_cost: the cost per frame of one walk of a fresh stack (issue 12),
 * the same stack for every unwinder: DEPTH frames of recursion through code
 * without frame pointers (this file is built -O2 -fomit-frame-pointer), and
 * the same recursion with frame pointers for the frame-pointer walk.  The
 * depth must stay below 60 (the stack cleared before each walk).
 *
 *   unwind_cost [DEPTH] [-n WALKS]
 *
 * Rows: the call-frame walk (ma_cfi_walk, linked from the core, the last
 * stack cleared before each walk so that every return address is checked as
 * on a new stack; no memo), the frame-pointer walk (ma_stack_walk, on the
 * frame-pointer twin), libunwind's unw_backtrace (libunwind.so.8, dlopened;
 * its per-thread cache on), libgcc's _Unwind_Backtrace.  ns per frame =
 * best of 5 rounds of WALKS walks / frames found.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unwind.h>

#include "cfi.h"
#include "modules.h"
#include "stack.h"

#define FPFN __attribute__((noinline, optimize("no-omit-frame-pointer")))
#define MAXF 256

static int walks = 20000;
static struct ma_stack_state st;
static int (*unw_bt)(void **, int);

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static _Unwind_Reason_Code cb(struct _Unwind_Context *ctx, void *arg)
{
	(void)ctx;
	++*(int *)arg;
	return _URC_NO_REASON;
}

enum { W_CFI, W_FP, W_UNW, W_GCC };
static double best[4];
static int frames[4];

/* The leaf: one kind of walk, timed; a frame with frame pointers (the
 * walks start at its record, as at the shim's). */
static FPFN void leaf(int kind)
{
	uintptr_t out[MAXF], diff;
	void *buf[MAXF];
	bool trunc;
	unsigned stop;
	struct ma_stack_code code;
	memset(&code, 0, sizeof code);
	uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
	for (int round = 0; round < 5; round++) {
		int n = 0;
		uint64_t t0 = now_ns();
		for (int i = 0; i < walks; i++) {
			switch (kind) {
			case W_CFI:
				memset(out, 0, 64 * sizeof out[0]); /* beyond every stack here */
				n = (int)ma_cfi_walk(fp, st.own, out, MAXF, &trunc, &diff, NULL, &stop, &code);
				break;
			case W_FP:
				memset(out, 0, 64 * sizeof out[0]);
				n = (int)ma_stack_walk(fp, st.own, false, out, MAXF, &trunc, &diff, NULL, &stop, &code);
				break;
			case W_UNW:
				n = unw_bt(buf, MAXF);
				break;
			default:
				n = 0;
				_Unwind_Backtrace(cb, &n);
				break;
			}
			__asm__ volatile("" : : "r"(n) : "memory");
		}
		double ns = (double)(now_ns() - t0) / walks;
		if (n > 0 && (round == 0 || ns / n < best[kind]))
			best[kind] = ns / n;
		frames[kind] = n;
	}
}

/* Recursion without frame pointers through three functions of different
 * frames (a walk meets three rules in turn, not one). */
static int rec_b(int d, int kind);
static int rec_c(int d, int kind);

static __attribute__((noinline)) int rec_a(int d, int kind)
{
	volatile int pad[4] = { d, d, d, d };
	if (d == 0)
		leaf(kind);
	else
		rec_b(d - 1, kind);
	return pad[d & 3];
}

static __attribute__((noinline)) int rec_b(int d, int kind)
{
	volatile long pad[9] = { d };
	if (d == 0)
		leaf(kind);
	else
		rec_c(d - 1, kind);
	return (int)pad[d & 7];
}

static __attribute__((noinline)) int rec_c(int d, int kind)
{
	volatile unsigned x = (unsigned)d, y = x * 3, z = y + 1;
	if (d == 0)
		leaf(kind);
	else
		rec_a(d - 1, kind);
	return (int)(x + y + z);
}

/* The same shapes with frame pointers, for the frame-pointer walk. */
static int rec_fp_b(int d, int kind);
static int rec_fp_c(int d, int kind);

static FPFN int rec_fp_a(int d, int kind)
{
	volatile int pad[4] = { d, d, d, d };
	if (d == 0)
		leaf(kind);
	else
		rec_fp_b(d - 1, kind);
	return pad[d & 3];
}

static FPFN int rec_fp_b(int d, int kind)
{
	volatile long pad[9] = { d };
	if (d == 0)
		leaf(kind);
	else
		rec_fp_c(d - 1, kind);
	return (int)pad[d & 7];
}

static FPFN int rec_fp_c(int d, int kind)
{
	volatile unsigned x = (unsigned)d, y = x * 3, z = y + 1;
	if (d == 0)
		leaf(kind);
	else
		rec_fp_a(d - 1, kind);
	return (int)(x + y + z);
}

int main(int argc, char **argv)
{
	int depth = 30; /* < 60: see the cleared stack in leaf */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc)
			walks = atoi(argv[++i]);
		else
			depth = atoi(argv[i]);
	}
	if (depth < 1 || depth > 59) {
		fprintf(stderr, "unwind_cost: DEPTH 1..59\n");
		return 2;
	}
	uintptr_t lo, hi;
	if (!ma_modules_init(0, &lo, &hi))
		return 1;
	ma_stack_set_self(0, 0);
	ma_stack_thread_init(&st);
	void *h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
	unw_bt = h ? (int (*)(void **, int))dlsym(h, "unw_backtrace") : NULL;
	rec_a(depth, W_CFI);
	rec_fp_a(depth, W_FP);
	if (unw_bt)
		rec_a(depth, W_UNW);
	rec_a(depth, W_GCC);
	static const char *const names[] = { "call-frame walk (no-FP code)", "frame-pointer walk (FP code)",
	                                     "libunwind unw_backtrace (no-FP code)", "libgcc _Unwind_Backtrace (no-FP code)" };
	printf("unwind_cost depth=%d walks=%d (fresh stacks; best of 5 rounds)\n", depth, walks);
	for (int k = 0; k < 4; k++) {
		if (k == W_UNW && !unw_bt) {
			printf("%-40s (libunwind.so.8 not found)\n", names[k]);
			continue;
		}
		printf("%-40s %3d frames  %6.2f ns/frame\n", names[k], frames[k], best[k]);
	}
	return 0;
}
