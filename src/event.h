/* SPDX-License-Identifier: Apache-2.0 */
/*
 * event.h: the Tier 1 event, shared by both tiers' fast paths: a block is
 * obtained from the real allocator with a header below it and counted in
 * its thread's record, or counted dead and given back.  core.h adds the
 * live counter to it; tier2.c adds the call site first.
 */
#ifndef MA_EVENT_H
#define MA_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atomic.h"
#include "block.h"
#include "internal.h"
#include "real.h"
#include "thread.h"

/*
 * A block is born: `reserve` user bytes (`size` of them counted) with a
 * header of `hdr_bytes` (a constant at each use) below, tagged as t's.
 * Counted in t's record (the call, then the block or the failure).
 * Returns the user pointer, or NULL.
 */
MA_INLINE void *ma_event_born(struct ma_thread *t, enum ma_call call, size_t size, size_t reserve, bool zero,
                              unsigned hdr_bytes)
{
	ma_own_add(&t->calls[call], 1);
	char *base = zero ? ma_real.next_calloc(1, reserve + hdr_bytes) : ma_real.next_malloc(reserve + hdr_bytes);
	if (MA_UNLIKELY(!base)) {
		ma_own_add(&t->failed, 1);
		return NULL;
	}
	void *user = base + hdr_bytes;
	ma_hdr_set_own(user, size, t);
	ma_own_add(&t->blocks, 1);
	ma_own_add(&t->bytes, size);
	return user;
}

/* A block of `size` bytes dies: counted in t's record (then ma_real_release). */
MA_INLINE void ma_event_died(struct ma_thread *t, enum ma_call call, uint64_t size)
{
	ma_own_add(&t->calls[call], 1);
	ma_own_add(&t->frees, 1);
	ma_own_add(&t->freed_bytes, size);
}

#endif
