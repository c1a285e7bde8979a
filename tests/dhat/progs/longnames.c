/* SPDX-License-Identifier: Apache-2.0 */
/*
 * longnames: call sites whose every frame has a long function name (about
 * 1000 characters, like a C++ template instantiation), all distinct: eight
 * chains outer_k -> middle_k -> inner_k -> malloc.  The DHAT frame table
 * then holds 24 strings of over 1000 bytes for 8 short stacks; none of
 * them may be lost.
 */
#include "dp.h"

#define CAT3_(a, b, c) a##b##c
#define CAT3(a, b, c) CAT3_(a, b, c)
#define DUP_(x) x##x
#define DUP(x) DUP_(x)
/* 8 * 2^7 = 1024 characters */
#define LONG DUP(DUP(DUP(DUP(DUP(DUP(DUP(_segment)))))))
#define NAME(role, k) CAT3(role, k, LONG)

#define CHAIN(k)                                                       \
	DP_NOINLINE static void *NAME(inner_, k)(size_t n)             \
	{                                                              \
		void *p = malloc(n);                                   \
		DP_ESCAPE(p);                                          \
		return p;                                              \
	}                                                              \
	DP_NOINLINE static void *NAME(middle_, k)(size_t n)            \
	{                                                              \
		void *p = NAME(inner_, k)(n);                          \
		DP_ESCAPE(p);                                          \
		return p;                                              \
	}                                                              \
	DP_NOINLINE static void *NAME(outer_, k)(size_t n)             \
	{                                                              \
		void *p = NAME(middle_, k)(n);                         \
		DP_ESCAPE(p);                                          \
		return p;                                              \
	}

CHAIN(0)
CHAIN(1)
CHAIN(2)
CHAIN(3)
CHAIN(4)
CHAIN(5)
CHAIN(6)
CHAIN(7)

typedef void *(*alloc_fn)(size_t);

int main(void)
{
	static const alloc_fn outer[] = { NAME(outer_, 0), NAME(outer_, 1), NAME(outer_, 2),
	                                  NAME(outer_, 3), NAME(outer_, 4), NAME(outer_, 5),
	                                  NAME(outer_, 6), NAME(outer_, 7) };
	for (int k = 0; k < 8; k++) {
		void *p = outer[k]((size_t)(k + 1) * 10);
		dp_alloc((size_t)(k + 1) * 10);
		if (k % 2) {
			free(p);
			dp_free((size_t)(k + 1) * 10);
		}
	}
	dp_report();
	return 0;
}
