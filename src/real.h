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

struct ma_real {
	void *(*malloc)(size_t);
	void (*free)(void *);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	int (*posix_memalign)(void **, size_t, size_t);
	size_t (*malloc_usable_size)(void *);
};

extern struct ma_real ma_real;

/*
 * Resolves every real function with dlsym(RTLD_NEXT).  dlsym may call
 * calloc; the caller must make sure such calls reach ma_boot_alloc (the
 * thread's guard is held).  Returns false if malloc or free is missing.
 */
bool ma_real_resolve(void);

/* The bootstrap pool: a static bump arena; frees into it are ignored. */
void *ma_boot_alloc(size_t bytes, bool zero);
bool ma_boot_owns(const void *p);
/* Size of a pool block, for realloc out of the pool. */
size_t ma_boot_size(const void *p);

#endif
