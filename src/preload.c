/* SPDX-License-Identifier: Apache-2.0 */
/*
 * preload.c: the shim.  Only the exported allocator symbols live here; each
 * checks what is particular to its contract (overflow, alignment rules) and
 * forwards into one of the core's events.  Error behaviour follows glibc 2.36.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "core.h"
#include "os.h"
#include "tier2.h"

#define MA_SHIM MA_EXPORT

/* glibc's _mid_memalign rules, shared by memalign, aligned_alloc (an alias of
 * memalign in 2.36), valloc and pvalloc. */
static void *memalign_like(enum ma_call call, size_t align, size_t size, size_t reserve)
{
	if (align <= MA_MALLOC_ALIGN)
		return ma_core_alloc(call, size, reserve, 0, false);
	if (align > SIZE_MAX / 2 + 1)
		return ma_core_fail(call, EINVAL);
	if (align & (align - 1)) {
		size_t a = MA_MALLOC_ALIGN * 2;
		while (a < align)
			a <<= 1;
		align = a;
	}
	return ma_core_alloc(call, size, reserve, align, false);
}

MA_SHIM void *malloc(size_t size)
{
	return ma_core_alloc(MA_CALL_malloc, size, size, 0, false);
}

MA_SHIM void free(void *p)
{
	ma_core_free(MA_CALL_free, p);
}

MA_SHIM void cfree(void *p)
{
	ma_core_free(MA_CALL_cfree, p);
}

MA_SHIM void *calloc(size_t n, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(n, size, &total))
		return ma_core_fail(MA_CALL_calloc, ENOMEM);
	return ma_core_alloc(MA_CALL_calloc, total, total, 0, true);
}

MA_SHIM void *realloc(void *p, size_t size)
{
	void *r = ma_core_realloc(MA_CALL_realloc, p, size, MA_FRAME());
	MA_KEEP_FRAME(r);
	return r;
}

MA_SHIM void *reallocarray(void *p, size_t n, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(n, size, &total))
		return ma_core_fail(MA_CALL_reallocarray, ENOMEM);
	void *r = ma_core_realloc(MA_CALL_reallocarray, p, total, MA_FRAME());
	MA_KEEP_FRAME(r);
	return r;
}

MA_SHIM int posix_memalign(void **out, size_t align, size_t size)
{
	if (align % sizeof(void *) || (align & (align - 1)) || align == 0) {
		int saved = errno;
		ma_core_fail(MA_CALL_posix_memalign, EINVAL);
		errno = saved;
		return EINVAL;
	}
	int saved = errno;
	void *p = memalign_like(MA_CALL_posix_memalign, align, size, size);
	if (!p) {
		/* glibc 2.36 returns ENOMEM and leaves the ENOMEM of its failed
		 * allocation in errno too (tests/integration: integ.errors). */
		errno = ENOMEM;
		return ENOMEM;
	}
	errno = saved;
	*out = p;
	return 0;
}

MA_SHIM void *aligned_alloc(size_t align, size_t size)
{
	return memalign_like(MA_CALL_aligned_alloc, align, size, size);
}

MA_SHIM void *memalign(size_t align, size_t size)
{
	return memalign_like(MA_CALL_memalign, align, size, size);
}

MA_SHIM void *valloc(size_t size)
{
	return memalign_like(MA_CALL_valloc, ma_os_page_size(), size, size);
}

MA_SHIM void *pvalloc(size_t size)
{
	size_t page = ma_os_page_size();
	if (size > SIZE_MAX - 2 * page)
		return ma_core_fail(MA_CALL_pvalloc, ENOMEM);
	/* Capacity rounds up to whole pages; the count is what was asked for. */
	return memalign_like(MA_CALL_pvalloc, page, size, (size + page - 1) & ~(page - 1));
}

MA_SHIM size_t malloc_usable_size(void *p)
{
	return ma_core_usable_size(p);
}

/*
 * dlclose: a library's frames must stay nameable after it is unmapped, so
 * the call-site tier records the module list first.  Forwarded to the next
 * definition (libc's).
 */
#include <dlfcn.h>

MA_SHIM int dlclose(void *handle)
{
	static int (*real_dlclose)(void *);
	if (!real_dlclose)
		real_dlclose = (int (*)(void *))dlsym(RTLD_NEXT, "dlclose");
	if (ma_g.backtraces) {
		ma_guard_enter();
		ma_tier2_before_dlclose(handle);
		ma_guard_leave();
	}
	int r = real_dlclose ? real_dlclose(handle) : -1;
	if (ma_g.backtraces) {
		ma_guard_enter();
		ma_tier2_after_dlclose();
		ma_guard_leave();
	}
	return r;
}
