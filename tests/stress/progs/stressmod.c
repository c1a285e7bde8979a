/* SPDX-License-Identifier: Apache-2.0 */
/* stressmod: a library the dlclose case opens and closes in a loop; every
 * block it allocates is attributed to a frame inside it. */
#include <stdlib.h>

#define S_ESCAPE(p) __asm__ volatile("" : : "r"(p) : "memory")

#ifdef SECOND
/* The second build (libstressmod2.so): other code where mod_keep was, so a
 * frame of the first library read against this one names the wrong function. */
__attribute__((noinline)) int mod_other(int x)
{
	volatile int y = x;
	for (int i = 0; i < 5; i++)
		y += i;
	return y;
}

__attribute__((noinline)) void *mod2_keep(size_t n)
{
	return malloc(n);
}
#endif

__attribute__((noinline)) void *mod_keep(size_t n)
{
	return malloc(n);
}

__attribute__((noinline)) void mod_churn(int k)
{
	for (int i = 0; i < k; i++) {
		void *p = malloc((size_t)i + 1);
		S_ESCAPE(p);
		free(p);
	}
}
