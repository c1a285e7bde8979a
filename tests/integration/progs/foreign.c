/* SPDX-License-Identifier: Apache-2.0 */
/*
 * foreign: pointers the library never handed out (glibc's __libc_malloc,
 * called directly past the interposer) reach free, realloc and
 * malloc_usable_size.  They must pass through untouched, be counted in
 * foreign_frees, and never disturb the totals.
 */
#include "t.h"

#include <dlfcn.h>
#include <malloc.h>

int main(void)
{
	struct t_mark m;
	void *(*libc_malloc)(size_t) = (void *(*)(size_t))dlsym(RTLD_NEXT, "__libc_malloc");
	void *(*libc_memalign)(size_t, size_t) =
		(void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "__libc_memalign");
	T_CHECK(libc_malloc != NULL && libc_memalign != NULL);
	t_mark(&m);

	/* free */
	char *p = libc_malloc(32);
	T_CHECK(p != NULL);
	memset(p, 'p', 32);
	free(p);
	t_delta(&m, 0, 0, 0, 0);

	/* realloc: passed to the real realloc; the result is still foreign */
	char *q = libc_malloc(48);
	memset(q, 'q', 48);
	q = realloc(q, 4096);
	T_CHECK(q != NULL && q[47] == 'q');
	t_delta(&m, 0, 0, 0, 0);
	T_CHECK(malloc_usable_size(q) >= 4096);
	q = realloc(q, 16);
	T_CHECK(q != NULL && q[15] == 'q');
	free(q);
	t_delta(&m, 0, 0, 0, 0);

	/* realloc(foreign, 0) frees it */
	char *r = libc_malloc(8);
	T_CHECK(realloc(r, 0) == NULL);

	/* an over-aligned foreign block (its neighbourhood differs from malloc's) */
	char *s = libc_memalign(4096, 100);
	T_CHECK(s != NULL);
	free(s);
	t_delta(&m, 0, 0, 0, 0);

	/* and our own blocks still work around them */
	char *o = malloc(10);
	T_ESCAPE(o);
	free(o);
	t_delta(&m, 1, 10, 1, 10);

	t_expect("foreign_frees", 4);
	t_expect("totals.blocks", 1);
	t_expect("totals.bytes", 10);
	t_expect("totals.frees", 1);
	t_expect("totals.failed", 0);
	t_expect("calls.free", 4);
	t_expect("calls.realloc", 3);
	t_expect("calls.malloc", 1);
	t_expect("calls.malloc_usable_size", 1);
	return 0;
}
