/* SPDX-License-Identifier: Apache-2.0 */
/*
 * malloc0: a zero-byte request is one block of 0 bytes (Valgrind DHAT would
 * say 1 byte), from every entry point that can make one.
 */
#include "t.h"

#include <malloc.h>

int main(void)
{
	struct t_mark m;
	t_mark(&m);

	void *p1 = malloc(0);
	T_CHECK(p1 != NULL);
	t_delta(&m, 1, 0, 0, 0);
	if (modalloc_is_active()) {
		struct modalloc_stats s = t_now();
		T_EQ(s.live_blocks, 1);
		T_EQ(s.live_bytes, 0);
		T_EQ(s.peak_bytes, 0);
		T_EQ(s.peak_blocks, 1);
	}
	void *p2 = malloc(0);
	T_ESCAPE(p2);
	free(p2);
	t_delta(&m, 1, 0, 1, 0);
	void *p3 = calloc(0, 1);
	void *p4 = realloc(NULL, 0);
	void *p5 = aligned_alloc(64, 0);
	T_CHECK(p3 && p4 && p5);
	t_delta(&m, 3, 0, 0, 0);
	/* A zero-byte block grown and shrunk back: one block each time. */
	p4 = realloc(p4, 5);
	T_CHECK(p4 != NULL);
	t_delta(&m, 1, 5, 1, 0);
	void *p6 = realloc(p4, 0); /* a free */
	T_CHECK(p6 == NULL);
	t_delta(&m, 0, 0, 1, 5);
	void *p7 = malloc(0);
	T_CHECK(p7 != NULL);
	t_delta(&m, 1, 0, 0, 0);
	if (modalloc_is_active()) {
		struct modalloc_stats s = t_now();
		T_EQ(s.live_blocks, 4);
		T_EQ(s.peak_bytes, 5);
		T_EQ(s.peak_blocks, 4); /* p1 p3 p5 and p4 at 5 bytes */
	}
	T_ESCAPE(p1);
	T_ESCAPE(p3);
	T_ESCAPE(p5);
	T_ESCAPE(p7);
	/* Left live: p1 p3 p5 p7, all of 0 bytes. */
	t_expect("totals.blocks", 7);
	t_expect("totals.bytes", 5);
	t_expect("totals.frees", 3);
	t_expect("totals.freed_bytes", 5);
	t_expect("totals.live_blocks", 4);
	t_expect("totals.live_bytes", 0);
	t_expect("totals.peak_bytes", 5);
	t_expect("totals.peak_blocks", 4);
	t_expect("totals.failed", 0);
	t_expect("calls.malloc", 3);
	t_expect("calls.calloc", 1);
	t_expect("calls.realloc", 3);
	t_expect("calls.aligned_alloc", 1);
	t_expect("calls.free", 1);
	return 0;
}
