/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lines_inline.c: allocations whose call sites `modalloc lines` must name by
 * file and line.  Built with -g -O2 -fno-omit-frame-pointer.  The test finds
 * the expected lines by the LINE: markers, so edit freely but keep each
 * marker on the line of its call.
 *
 * make_buffer is always inlined into make_zeroed, itself always inlined
 * into build_node: the malloc call sits in make_buffer's body, the frame of
 * make_zeroed must show the line where it calls make_buffer, and the frame
 * of build_node the line where it calls make_zeroed (two levels of inlining:
 * the chain is the DIEs that contain the call, not the abstract
 * definitions).  build_node and level_two are real calls (noinline), so
 * each is its own frame with a return address.
 */
#include <stdlib.h>
#include <string.h>

static inline __attribute__((always_inline)) char *make_buffer(size_t n)
{
	char *p = malloc(n); /* LINE:alloc_here */
	if (p)
		memset(p, 1, n);
	return p;
}

static inline __attribute__((always_inline)) char *make_zeroed(size_t n)
{
	char *p = make_buffer(n); /* LINE:inline_inner_call */
	if (p)
		p[0] = 0;
	return p;
}

__attribute__((noinline)) char *build_node(size_t n)
{
	char *b = make_zeroed(n + 8); /* LINE:inline_call */
	__asm__ volatile("" ::: "memory");
	return b;
}

__attribute__((noinline)) char *level_two(size_t n)
{
	char *r = build_node(n); /* LINE:call_build */
	__asm__ volatile("" ::: "memory");
	return r;
}

__attribute__((noinline)) static char *plain_alloc(size_t n)
{
	char *p = calloc(1, n); /* LINE:plain_alloc */
	__asm__ volatile("" ::: "memory");
	return p;
}

int main(int argc, char **argv)
{
	(void)argv;
	size_t n = (size_t)argc * 100;
	char *keep[3];
	for (int i = 0; i < 3; i++)
		keep[i] = level_two(n); /* LINE:call_level_two */
	char *q = plain_alloc(n * 2); /* LINE:call_plain */
	for (int i = 0; i < 3; i++)
		free(keep[i]);
	free(q);
	return 0;
}
