/* SPDX-License-Identifier: Apache-2.0 */
/*
 * merge: two sites whose frame lists are identical, so the DHAT writer has
 * to merge them into one program point (the viewer rejects two program
 * points with the same frames: "data file contains a repeated location").
 *
 * Run with MOD_ALLOC_DEPTH=2.  Both allocations come from the same call
 * instruction in leaf_alloc, called from the same call instruction in
 * merge_call, so the two innermost return addresses are equal.  The site
 * table also keys on "truncated": merge_call(1, ...) clears the frame
 * pointer before the call, so the frame walk ends after two frames
 * (truncated = false), while merge_call(0, ...) keeps the chain to main
 * (truncated = true).  Two sites, one frame list.  x86_64 only.
 *
 * It also has two further sites in main, to keep the merged point from
 * being the only one.
 */
#include "dp.h"

#if defined(__x86_64__)

DP_NOINLINE static void *leaf_alloc(size_t n)
{
	void *p = malloc(n);
	DP_ESCAPE(p);
	return p;
}

/* void *merge_call(int cut, size_t n, void *(*leaf)(size_t)) */
void *merge_call(int cut, size_t n, void *(*leaf)(size_t));
__asm__(".text\n"
	".type merge_call, @function\n"
	"merge_call:\n"
	"\tpush %rbp\n"
	"\tmov %rsp, %rbp\n"
	"\ttest %edi, %edi\n"
	"\tjz 1f\n"
	"\txor %ebp, %ebp\n" /* the walk stops at this frame */
	"1:\tmov %rsi, %rdi\n"
	"\tcall *%rdx\n"
	"\tpop %rbp\n"
	"\tret\n"
	".size merge_call, .-merge_call\n");

int main(void)
{
	void *a = merge_call(0, 100, leaf_alloc); /* leaked */
	dp_alloc(100);
	void *b = merge_call(1, 200, leaf_alloc);
	dp_alloc(200);
	void *c = merge_call(1, 300, leaf_alloc);
	dp_alloc(300);
	free(b);
	dp_free(200);
	void *d = malloc(7);
	dp_alloc(7);
	DP_ESCAPE(d);
	void *e = calloc(3, 3);
	dp_alloc(9);
	DP_ESCAPE(e);
	free(d);
	dp_free(7);
	DP_ESCAPE(a);
	DP_ESCAPE(c);
	dp_report();
	return 0;
}

#else

int main(void)
{
	static const char m[] = "SKIP merge.c needs x86_64\n";
	ssize_t w = write(1, m, sizeof m - 1);
	(void)w;
	return 77;
}

#endif
