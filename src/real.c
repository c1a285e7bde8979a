/* SPDX-License-Identifier: Apache-2.0 */
/* real.c: the real allocator's entry points, the uncounted paths and the bootstrap pool. */
#define _GNU_SOURCE
#include "real.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include "atomic.h"
#include "block.h"
#include "global.h"
#include "internal.h"

struct ma_real ma_real;

bool ma_real_resolve(void)
{
	struct ma_real r;
	r.next_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
	r.next_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
	r.next_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
	r.next_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
	r.next_posix_memalign = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
	r.next_malloc_usable_size = (size_t(*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
	if (!r.next_malloc || !r.next_free || !r.next_calloc || !r.next_realloc || !r.next_posix_memalign)
		return false;
	ma_real = r;
	return true;
}

/*
 * 64 KiB is far more than glibc's dlsym needs (one 32-byte calloc for its
 * error state); what is served here is never tracked and never freed.
 * Each block carries its size in the 16 bytes below it.
 */
#define MA_BOOT_BYTES (64 * 1024)
static _Alignas(16) unsigned char boot_pool[MA_BOOT_BYTES];
static ma_au64 boot_used;

void *ma_boot_alloc(size_t bytes, bool zero)
{
	(void)zero; /* static storage is zero already and never reused */
	size_t need = ((bytes + 15) & ~(size_t)15) + 16;
	if (bytes > MA_BOOT_BYTES)
		return NULL;
	uint64_t at = ma_add_relaxed(&boot_used, need);
	if (at + need > MA_BOOT_BYTES)
		return NULL;
	unsigned char *p = boot_pool + at + 16;
	memcpy(p - 16, &bytes, sizeof bytes);
	return p;
}

bool ma_boot_owns(const void *p)
{
	return (const unsigned char *)p >= boot_pool && (const unsigned char *)p < boot_pool + MA_BOOT_BYTES;
}

size_t ma_boot_size(const void *p)
{
	size_t n;
	memcpy(&n, (const unsigned char *)p - 16, sizeof n);
	return n;
}

void *ma_real_alloc_uncounted(size_t reserve, size_t align, bool zero)
{
	if (!ma_real.next_malloc) /* still resolving: dlsym's own calloc lands here */
		return align <= MA_MALLOC_ALIGN ? ma_boot_alloc(reserve, zero) : NULL;
	if (align <= MA_MALLOC_ALIGN)
		return zero ? ma_real.next_calloc(1, reserve) : ma_real.next_malloc(reserve);
	void *p;
	int r = ma_real.next_posix_memalign(&p, align, reserve);
	if (r) {
		errno = r;
		return NULL;
	}
	return p;
}

void ma_real_free_uncounted(void *p)
{
	/* The fast free matched the tag, so the offset is this process's header size. */
	ma_real_release(p, ma_g.hdr_bytes);
}
