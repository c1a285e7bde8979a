/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nofp: one malloc(10000) line reached from several places and depths, in a
 * program built without frame pointers (tests/tier2/run.py, case nofp).
 *
 *   nofp [N]    N rounds (default 20), each allocating from 6 paths
 *
 * Without frame pointers the frame-pointer register holds whatever the
 * code last put there.  The callers here put in it what such code leaves:
 * a small number, a heap pointer, and stack addresses whose two words look
 * like a frame record holding junk where the return address goes (a stack
 * address, bytes of the environment, this library's malloc, an address
 * inside a function but not after a call).  The walker must stop at the
 * first record whose return address fails its checks: every path then gives
 * the one frame it can prove, alloc_line.  With -fno-omit-frame-pointer
 * (nofp_fp) the chain is complete and each path is its own site.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

extern char **environ;

#define NOINLINE __attribute__((noinline, noclone))

static void *kept[64];
static unsigned nkept;

/* The one allocating line: every stack starts here. */
NOINLINE void *alloc_line(void)
{
	void *p = malloc(10000);
	__asm__ volatile("" : : "r"(p) : "memory"); /* escapes; no tail call */
	return p;
}

static void keep_or_free(void *p)
{
	if (nkept < 64)
		kept[nkept++] = p;
	else
		free(p);
}

#if defined(__x86_64__) && defined(NOFP_JUNK)
/* Calls alloc_line with the frame-pointer register set to fp (a 16-byte
 * aligned stack at the call; built with -mno-red-zone, so pushing is safe). */
#define CALL_WITH_FP(fp)                                                                  \
	do {                                                                              \
		void *p_;                                                                 \
		uintptr_t fp_ = (uintptr_t)(fp);                                          \
		__asm__ volatile("push %%rbp\n\tpush %%rbx\n\tmov %%rsp, %%rbx\n\t"         \
		                 "and $-16, %%rsp\n\tmov %%rdi, %%rbp\n\tcall alloc_line\n\t" \
		                 "mov %%rbx, %%rsp\n\tpop %%rbx\n\tpop %%rbp"                \
		                 : "=a"(p_), "+D"(fp_)                                    \
		                 :                                                        \
		                 : "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11", "memory", "cc"); \
		keep_or_free(p_);                                                         \
	} while (0)
#else
#define CALL_WITH_FP(fp) keep_or_free(alloc_line())
#endif

/* A fake frame record on the stack: {next, ret}, then a second one. */
NOINLINE static void via_record(uintptr_t junk)
{
	uintptr_t rec[8] __attribute__((aligned(16)));
	rec[0] = (uintptr_t)&rec[2]; /* a valid link, toward the stack's base */
	rec[1] = junk;
	rec[2] = (uintptr_t)&rec[4];
	rec[3] = junk + 0x40;
	rec[4] = rec[5] = rec[6] = rec[7] = 0;
	__asm__ volatile("" : : "r"(rec) : "memory");
	CALL_WITH_FP(rec);
}

NOINLINE static void path_stack(void)
{
	uintptr_t here = 0x1234;
	__asm__ volatile("" : : "r"(&here) : "memory");
	via_record((uintptr_t)&here); /* a stack address */
}

NOINLINE static void path_small(void) { CALL_WITH_FP(100); }
NOINLINE static void path_heap(void *h) { (void)h; CALL_WITH_FP(h); }
NOINLINE static void deeper(unsigned d, uintptr_t junk)
{
	if (d)
		deeper(d - 1, junk ^ 0); /* not a tail call: the xor keeps a frame */
	else
		via_record(junk);
	__asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 20;
	uintptr_t env = environ && environ[0] ? *(const uintptr_t *)environ[0] : 0x3d584f42444e4153ull;
	uintptr_t self_malloc = (uintptr_t)dlsym(RTLD_DEFAULT, "malloc");
	void *heap = kept; /* data, not stack, not code */
	for (unsigned i = 0; i < n; i++) {
		path_small();
		path_heap(heap);
		path_stack();
		via_record(env);                          /* bytes of the environment */
		deeper(3, self_malloc);                   /* this library's malloc */
		deeper(1, (uintptr_t)&alloc_line + 1);    /* inside code, not after a call */
	}
	for (unsigned i = 0; i < nkept; i++)
		free(kept[i]);
	return 0;
}
