/* SPDX-License-Identifier: Apache-2.0 */
/*
 * core.h: the three events every entry point funnels into (a block is born,
 * a block dies, a block is resized) plus the usable-size query.  The shim
 * (preload.c) calls these and nothing else.
 *
 * Fast paths are inline here; everything unusual (first call of a thread,
 * recursion, alignment, call sites, fork-inherited or foreign pointers)
 * leaves through one noinline slow function in core.c.
 */
#ifndef MA_CORE_H
#define MA_CORE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block.h"
#include "counters.h"
#include "event.h"
#include "global.h"
#include "internal.h"
#include "real.h"
#include "thread.h"
#include "tier2.h"

/* glibc refuses requests above PTRDIFF_MAX; so do we, header included. */
#define MA_MAX_REQUEST ((size_t)PTRDIFF_MAX - (size_t)(2u << 20))

MA_NOINLINE void *ma_core_alloc_slow(struct ma_thread *t, enum ma_call call, size_t size,
                                     size_t reserve, size_t align, bool zero, uintptr_t fp);
MA_NOINLINE void ma_core_free_slow(struct ma_thread *t, enum ma_call call, void *p);
/*
 * When ma_g.mode is set (call sites on, or counting stopped) the fast paths
 * hand the whole event to tier2.c (ma_tier2_alloc, ma_tier2_free): out of
 * line, so that the Tier 1 paths need no callee-saved registers for it, and
 * one call deep.
 */
/* The sampler's countdown crossed (or, without sampling, ran out): the slow path. */
MA_NOINLINE void *ma_core_alloc_sample(struct ma_thread *t, enum ma_call call, size_t size, size_t reserve,
                                       bool zero, uintptr_t fp);
/* ma_live_grow_slow, then returns user: a tail call for the fast path. */
MA_NOINLINE void *ma_core_alloc_grown(struct ma_thread *t, void *user);
void *ma_core_realloc(enum ma_call call, void *p, size_t size, uintptr_t fp);
size_t ma_core_usable_size(void *p);
/* A call refused before reaching the allocator (bad size or alignment). */
void *ma_core_fail(enum ma_call call, int err);

/*
 * The sampler's countdown (ma_tls.sample_left) less `size`: true when it
 * reached the sample point (<= 0).  On x86-64 one subtract into the TLS word
 * and the branch on its flags (the compiler would load, subtract, store and
 * test); one instruction also keeps a signal handler's allocation from
 * losing an update.
 */
MA_INLINE bool ma_sample_countdown(size_t size)
{
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
	bool reached;
	__asm__("subq %2, %0" : "+m"(ma_tls.sample_left), "=@ccle"(reached) : "r"((int64_t)size));
	return reached;
#else
	return (ma_tls.sample_left -= (int64_t)size) <= 0;
#endif
}

/*
 * A block is born.  `reserve` >= size is the capacity to obtain (pvalloc
 * rounds up to pages but counts what was asked); align <= MA_MALLOC_ALIGN means malloc's.
 * Budget (Tier 1, malloc): 1 TLS load, 1 TLS subtract, 4 predicted branches, the real call,
 * 2 header stores, 3 own-line adds, the live counter (counters.h).
 */
MA_INLINE void *ma_core_alloc(enum ma_call call, size_t size, size_t reserve, size_t align, bool zero)
{
	struct ma_thread *t = ma_tls.rec;
	if (MA_UNLIKELY(!t || align > MA_MALLOC_ALIGN || reserve > MA_MAX_REQUEST)) {
		void *r = ma_core_alloc_slow(t, call, size, reserve, align, zero, MA_FRAME());
		MA_KEEP_FRAME(r);
		return r;
	}
	uint8_t mode = ma_load_relaxed(&ma_g.mode);
	if (MA_UNLIKELY(mode)) {
		if (MA_UNLIKELY(mode != MA_MODE_TRACED)) { /* counting stopped */
			void *r = ma_tier2_alloc(t, call, size, reserve, zero, MA_FRAME());
			MA_KEEP_FRAME(r);
			return r;
		}
		/* Call sites on: the call counted and made here, the rest a tail
		 * call (ma_tier2_born), whose frame record, where the walk starts,
		 * is then this one's. */
		ma_own_add(&t->calls[call], 1);
		char *base = zero ? ma_real.next_calloc(1, reserve + MA_HDR_BYTES_TIER2)
		                  : ma_real.next_malloc(reserve + MA_HDR_BYTES_TIER2);
		return ma_tier2_born(t, call, size, base);
	}
	/* Sampled call sites (mode 0): one subtract and branch; only a block that
	 * reaches the sample point leaves, for the 32-byte header and its site. */
	if (MA_UNLIKELY(ma_sample_countdown(size))) {
		void *r = ma_core_alloc_sample(t, call, size, reserve, zero, MA_FRAME());
		MA_KEEP_FRAME(r);
		return r;
	}
	void *user = ma_event_born(t, call, size, reserve, zero, MA_HDR_BYTES_TIER1);
	if (MA_UNLIKELY(!user))
		return NULL;
	if (MA_UNLIKELY(ma_live_grow_quick(t, (int64_t)size, 1, false)))
		return ma_core_alloc_grown(t, user);
	return user;
}

/* A block dies.  Accounted before the real free, so a racing malloc that
 * reuses the address cannot be confused with it. */
MA_INLINE void ma_core_free(enum ma_call call, void *p)
{
	struct ma_thread *t = ma_tls.rec;
	if (MA_UNLIKELY(!t || !p)) {
		ma_core_free_slow(t, call, p);
		return;
	}
	struct ma_hdr *h = ma_hdr_of(p);
	/* One compare: ours, this process's, and at the usual offset.  Foreign,
	 * fork-inherited and over-aligned blocks take the slow path. */
	if (MA_UNLIKELY(h->tag != ma_hdr_tag_own(p, t))) {
		ma_core_free_slow(t, call, p);
		return;
	}
	if (MA_UNLIKELY(ma_load_relaxed(&ma_g.mode))) {
		ma_tier2_free(t, call, p);
		return;
	}
	/* mode 0: Tier 1's header (sampled call sites: an unsampled block; a
	 * sampled one has the 32-byte header, so failed the compare above). */
	uint64_t size = h->size;
	ma_event_died(t, call, size);
	ma_live_shrink(t, (int64_t)size, 1);
	ma_real_release(p, MA_HDR_BYTES_TIER1);
}

#endif
