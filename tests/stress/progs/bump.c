/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bump.c: an async-signal-safe allocator for stress_signest, linked into it
 * ahead of libc, so that its signal handler may allocate at any instant
 * (glibc's malloc may not be re-entered from a handler).  Blocks come from
 * one reserved mapping by an atomic bump; free does nothing.  A 16-byte
 * header keeps the size for realloc and malloc_usable_size.  The preloaded
 * library finds these functions with dlsym(RTLD_NEXT): the real allocator.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define ARENA ((size_t)1 << 30) /* reserved, not committed: 2M pairs of 32 + 32 bytes need ~160 MiB */

static char *_Atomic arena;
static _Atomic size_t used;

static char *base(void)
{
	char *a = atomic_load(&arena);
	if (a)
		return a;
	char *m = mmap(NULL, ARENA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	char *expect = NULL;
	if (!atomic_compare_exchange_strong(&arena, &expect, m)) {
		munmap(m, ARENA);
		return expect;
	}
	return m;
}

static void *bump(size_t size, size_t align)
{
	char *a = base();
	if (!a || size > ARENA || align > 4096) {
		errno = ENOMEM;
		return NULL;
	}
	size_t need = (size + 16 + align - 1 + 15) & ~(size_t)15;
	size_t off = atomic_fetch_add(&used, need);
	if (off + need > ARENA) {
		errno = ENOMEM;
		return NULL;
	}
	uintptr_t u = ((uintptr_t)a + off + 16 + align - 1) & ~(uintptr_t)(align - 1);
	((size_t *)u)[-1] = size;
	return (void *)u;
}

__attribute__((visibility("default"))) void *malloc(size_t n) { return bump(n, 16); }
__attribute__((visibility("default"))) void free(void *p) { (void)p; }
__attribute__((visibility("default"))) void cfree(void *p) { (void)p; }
__attribute__((visibility("default"))) size_t malloc_usable_size(void *p) { return p ? ((size_t *)p)[-1] : 0; }

__attribute__((visibility("default"))) void *calloc(size_t n, size_t s)
{
	size_t t;
	if (__builtin_mul_overflow(n, s, &t)) {
		errno = ENOMEM;
		return NULL;
	}
	return bump(t, 16); /* fresh mapping: already zero */
}

__attribute__((visibility("default"))) void *realloc(void *p, size_t n)
{
	void *q = bump(n, 16);
	if (q && p) {
		size_t old = ((size_t *)p)[-1];
		memcpy(q, p, old < n ? old : n);
	}
	return q;
}

__attribute__((visibility("default"))) void *reallocarray(void *p, size_t n, size_t s)
{
	size_t t;
	if (__builtin_mul_overflow(n, s, &t)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, t);
}

__attribute__((visibility("default"))) void *memalign(size_t al, size_t n) { return bump(n, al < 16 ? 16 : al); }
__attribute__((visibility("default"))) void *aligned_alloc(size_t al, size_t n) { return memalign(al, n); }
__attribute__((visibility("default"))) void *valloc(size_t n) { return bump(n, 4096); }
__attribute__((visibility("default"))) void *pvalloc(size_t n) { return bump((n + 4095) & ~(size_t)4095, 4096); }

__attribute__((visibility("default"))) int posix_memalign(void **out, size_t al, size_t n)
{
	void *p = memalign(al, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}
