/* SPDX-License-Identifier: Apache-2.0 */
/*
 * real.h: the real allocator (whatever follows us in symbol resolution) and
 * the bootstrap pool that serves dlsym's own calloc before it is known.
 */
#ifndef MA_REAL_H
#define MA_REAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block.h"
#include "internal.h"

/* Glibc's MALLOC_ALIGNMENT on x86_64 and aarch64: malloc alone suffices below it. */
#define MA_MALLOC_ALIGN 16

/* The next definitions (named apart from our own exported malloc, free...). */
struct ma_real {
	void *(*next_malloc)(size_t);
	void (*next_free)(void *);
	void *(*next_calloc)(size_t, size_t);
	void *(*next_realloc)(void *, size_t);
	int (*next_posix_memalign)(void **, size_t, size_t);
	size_t (*next_malloc_usable_size)(void *);
};

extern struct ma_real ma_real;

/*
 * Resolves every real function with dlsym(RTLD_NEXT).  dlsym may call
 * calloc; the caller must make sure such calls reach ma_boot_alloc (the
 * thread's guard is held).  Returns false if malloc or free is missing.
 */
bool ma_real_resolve(void);

/*
 * Blocks that are never counted: a thread that is not tracked, or any
 * thread once counting has stopped (the exit report is being written).
 * align <= MA_MALLOC_ALIGN means malloc's.  Before the real functions are
 * known (dlsym's own calloc) the bootstrap pool serves.
 */
void *ma_real_alloc_uncounted(size_t reserve, size_t align, bool zero);
/* Gives back a block of ours with this process's usual header offset,
 * uncounted (it passed the fast free's tag check). */
void ma_real_free_uncounted(void *p);

/* A block of ours with header offset `hdr_bytes` goes back to the real
 * allocator; its tag is cleared first, so it never looks live again. */
MA_INLINE void ma_real_release(void *user, unsigned hdr_bytes)
{
	ma_hdr_of(user)->tag = 0;
	ma_real.next_free((char *)user - hdr_bytes);
}

/* The bootstrap pool: a static bump arena; frees into it are ignored. */
void *ma_boot_alloc(size_t bytes, bool zero);
bool ma_boot_owns(const void *p);
/* Size of a pool block, for realloc out of the pool. */
size_t ma_boot_size(const void *p);

#endif
