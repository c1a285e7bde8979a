// SPDX-License-Identifier: Apache-2.0
/*
 * cxx: operator new/delete in all their forms go through the interposed C
 * entry points (libstdc++ calls malloc, and aligned_alloc for over-aligned
 * types).  Run with "empty" the program only starts and exits: the runner
 * subtracts that run's report (libstdc++'s start-up allocations, e.g. its
 * exception emergency pool) from the full run's.
 */
#include "t.h"

#include <new>

struct alignas(64) Wide {
	char c[100]; /* sizeof = 128 */
};

static void escape(void *p)
{
	T_ESCAPE(p);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "empty") == 0)
		return 0;
	struct t_mark m;
	t_mark(&m);

	int *i = new int(7);
	escape(i);
	t_delta(&m, 1, sizeof(int), 0, 0);
	delete i;
	t_delta(&m, 0, 0, 1, sizeof(int));

	char *a = new char[100];
	escape(a);
	t_delta(&m, 1, 100, 0, 0);
	delete[] a;
	t_delta(&m, 0, 0, 1, 100);

	int *n = new (std::nothrow) int[10];
	escape(n);
	t_delta(&m, 1, 40, 0, 0);
	delete[] n;
	t_delta(&m, 0, 0, 1, 40);

	Wide *w = new Wide;
	T_CHECK(((uintptr_t)w & 63) == 0);
	escape(w);
	t_delta(&m, 1, sizeof(Wide), 0, 0);
	delete w;
	t_delta(&m, 0, 0, 1, sizeof(Wide));

	Wide *wa = new Wide[3];
	T_CHECK(((uintptr_t)wa & 63) == 0);
	escape(wa);
	t_delta(&m, 1, 3 * sizeof(Wide), 0, 0);
	delete[] wa;
	t_delta(&m, 0, 0, 1, 3 * sizeof(Wide));

	/* Explicit aligned operator new with a size that is not a multiple of
	 * the alignment: the requested 100 bytes count (as in Valgrind), not the
	 * 256 libstdc++ would round up to before calling aligned_alloc. */
	void *raw = ::operator new(100, std::align_val_t(256));
	T_CHECK(((uintptr_t)raw & 255) == 0);
	t_delta(&m, 1, 100, 0, 0);
	::operator delete(raw, std::align_val_t(256));
	t_delta(&m, 0, 0, 1, 100);

	void *sized = ::operator new(24);
	escape(sized);
	::operator delete(sized, 24);
	t_delta(&m, 1, 24, 1, 24);

	/* A failed new throws bad_alloc: the failure is counted, no block; the
	 * exception object itself is one malloc'd and freed block of a size
	 * private to libstdc++. */
	bool threw = false;
	uint64_t exc_bytes = 0;
	try {
		volatile size_t huge = (size_t)-1 / 2;
		void *x = ::operator new(huge);
		escape(x);
	} catch (const std::bad_alloc &) {
		threw = true;
	}
	T_CHECK(threw);
	struct modalloc_stats s = t_now();
	T_EQ(s.blocks - m.s.blocks, 1);
	T_EQ(s.frees - m.s.frees, 1);
	T_EQ(s.bytes - m.s.bytes, s.freed_bytes - m.s.freed_bytes);
	exc_bytes = s.bytes - m.s.bytes;
	T_CHECK(exc_bytes >= sizeof(std::bad_alloc));

	t_expect_delta("totals.blocks", 8);
	t_expect_delta("totals.bytes", 4 + 100 + 40 + 128 + 3 * 128 + 100 + 24 + exc_bytes);
	t_expect_delta("totals.frees", 8);
	t_expect_delta("totals.freed_bytes", 4 + 100 + 40 + 128 + 3 * 128 + 100 + 24 + exc_bytes);
	t_expect_delta("totals.failed", 1);
	/* operator new and delete are interposed themselves (src/preload_cxx.c):
	 * new int, new Wide, new(100, align 256), new(24), the failed one */
	t_expect_delta("calls.operator_new", 5);
	/* new char[], nothrow new[], new Wide[3] */
	t_expect_delta("calls.operator_new_array", 3);
	t_expect_delta("calls.operator_delete", 4);
	t_expect_delta("calls.operator_delete_array", 3);
	/* only the exception object, allocated and freed by libstdc++ */
	t_expect_delta("calls.malloc", 1);
	t_expect_delta("calls.free", 1);
	t_expect_delta("calls.aligned_alloc", 0);
	t_expect_delta("calls.posix_memalign", 0);
	t_expect_delta("calls.memalign", 0);
	return 0;
}
