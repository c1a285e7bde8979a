/* SPDX-License-Identifier: Apache-2.0 */
/*
 * counters.h: process-wide live bytes/blocks, their peak and the allocation
 * clock; the update protocol every out-of-line event runs in; snapshots.
 *
 * Totals (blocks, bytes, frees) are exact sums of the thread records.  The
 * live counter needs a global view for the peak, so it is split to keep two
 * threads off one cache line:
 *
 *   owner   one thread (the first registered, or the forking thread in a
 *           child).  Its share of the live heap is read straight from its own
 *           record (bytes - freed_bytes, blocks - frees), which it updates
 *           anyway, and it compares that plus the others' shared part with
 *           the peak on every allocation.  A free costs it nothing more.  A
 *           single-threaded program therefore has an exact peak.  The owner's
 *           record is never reused after its thread exits, so the share stays.
 *   others  batch their changes in their own record (pend_*) and add them to
 *           ma_live.shared_* with one atomic add when |pend_bytes| reaches
 *           MA_LIVE_SLACK_BYTES or |pend_blocks| MA_LIVE_SLACK_BLOCKS.
 *
 * Bound: at any instant the true live bytes differ from owner + shared by
 * less than (T - 1) * MA_LIVE_SLACK_BYTES, T = threads alive and allocating,
 * so the recorded peak is within that much of the true peak (blocks: within
 * (T - 1) * MA_LIVE_SLACK_BLOCKS).  Tested in tests/integration.
 */
#ifndef MA_COUNTERS_H
#define MA_COUNTERS_H

#include <stdbool.h>
#include <stdint.h>

#include "atomic.h"
#include "global.h"
#include "internal.h"
#include "thread.h"
#include "timeline.h"

#define MA_LIVE_SLACK_BYTES  (64 * 1024)
#define MA_LIVE_SLACK_BLOCKS 256

/* The process's peak: live bytes and blocks at the latest instant of the maximum. */
struct ma_peak {
	ma_au64 bytes;
	ma_au64 blocks;
	/* Bumped on every new peak: lets Tier 2 know its at-peak snapshot is stale. */
	ma_au64 serial;
	ma_au64 clock;               /* the allocation clock at the peak */
};

/*
 * The allocation clock (bytes allocated so far, the unit of lifetimes and
 * of the timeline) is the owner's record bytes + `shared` + what others hold
 * pending: exact and deterministic in a single-threaded program.
 */
struct ma_clock {
	ma_au64 shared;
	/* The timeline's trigger: the owner takes a sample when its record's
	 * bytes reach this (the timeline's next clock, translated). */
	ma_au64 owner_sample_at;
};

struct ma_live {
	MA_ALIGNED_LINE struct ma_thread *_Atomic owner; /* whose record holds the owner's share */
	/*
	 * One line holds all the owner's fast path reads (the shared parts, the
	 * peak, the clock's trigger): under a workload that streams through the
	 * caches (the pool benchmark) each extra line is one more miss per call.
	 * Writes to it are rare: batched flushes and new peaks.
	 */
	MA_ALIGNED_LINE ma_ai64 shared_bytes;
	ma_ai64 shared_blocks;
	struct ma_peak peak;
	struct ma_clock clock;
} __attribute__((aligned(4096)));
/* One page of its own: the state file's root is mapped over it (state.h),
 * so the fast paths address it as before, at no cost. */
_Static_assert(sizeof(struct ma_live) == 4096, "ma_live fills one 4 KiB page");

extern struct ma_live ma_live;

/*
 * Tier 2's rule for ties with the peak: a tie is a new peak instant even
 * with equal blocks, unless the per-site composition provably equals the
 * last peak's: since that instant only one site (first_site) changed, and
 * the total is equal again, so that site is too.  `blocks` is the peak's
 * blocks while that holds, and MA_TIES_DIRTY (no count of blocks) once
 * another site moved: a tie is then one compare.  `bump` is set once, when
 * call sites are on.
 */
#define MA_TIES_DIRTY UINT64_MAX
struct ma_peak_ties {
	MA_ALIGNED_LINE bool bump;
	ma_au32 first_site;
	ma_au64 blocks;
};

extern struct ma_peak_ties ma_ties;

/* Another site than first_site moved since the peak. */
MA_INLINE void ma_ties_dirty(void)
{
	ma_store_relaxed(&ma_ties.blocks, MA_TIES_DIRTY);
}

void ma_live_note_peak(int64_t bytes, int64_t blocks);
void ma_live_flush(struct ma_thread *t);
/* A record's thread is done: its pending share flushed, the record released (thread.h). */
void ma_live_release(struct ma_thread *t);

/* From now on t's record (or none) holds the owner's share. */
MA_INLINE void ma_live_set_owner(struct ma_thread *t)
{
	atomic_store_explicit(&ma_live.owner, t, memory_order_release);
}

/* The owner's share, from its record. */
MA_INLINE int64_t ma_live_owner_bytes(const struct ma_thread *o)
{
	return (int64_t)(ma_load_relaxed(&o->bytes) - ma_load_relaxed(&o->freed_bytes));
}

MA_INLINE int64_t ma_live_owner_blocks(const struct ma_thread *o)
{
	return (int64_t)(ma_load_relaxed(&o->blocks) - ma_load_relaxed(&o->frees));
}

/* The allocation clock as the owner thread t sees it: its own record, no pointer chase. */
MA_INLINE uint64_t ma_live_clock_owner(const struct ma_thread *t)
{
	return ma_load_relaxed(&t->bytes) + ma_load_relaxed(&ma_live.clock.shared);
}

/* The allocation clock as seen by t (its own pending share included). */
MA_INLINE uint64_t ma_live_clock(const struct ma_thread *t)
{
	if (MA_LIKELY(t && t->is_owner))
		return ma_live_clock_owner(t);
	struct ma_thread *o = atomic_load_explicit(&ma_live.owner, memory_order_relaxed);
	return (o ? ma_load_relaxed(&o->bytes) : 0) + ma_load_relaxed(&ma_live.clock.shared) +
	       (t ? (uint64_t)t->pend_clock : 0);
}

/* A timeline sample is due for t (its clock passed the trigger): takes it, re-arms. */
void ma_live_sample(const struct ma_thread *t);
/* Starts the timeline over (start-up, fork child) and arms its trigger. */
void ma_live_timeline_start(void);

/*
 * Live (bytes, blocks) at or above the peak pb: is this a new peak instant?
 * More bytes, or a tie with other blocks; or with call sites (ties, the
 * caller's ma_ties.bump) a tie after another site moved (ma_ties.blocks).
 */
MA_INLINE bool ma_live_new_peak_instant(int64_t bytes, int64_t blocks, uint64_t pb, bool ties)
{
	return (uint64_t)bytes != pb ||
	       (uint64_t)blocks != (ties ? ma_load_relaxed(&ma_ties.blocks) : ma_load_relaxed(&ma_live.peak.blocks));
}

MA_INLINE void ma_live_check_peak(int64_t bytes, int64_t blocks)
{
	uint64_t pb = ma_load_relaxed(&ma_live.peak.bytes);
	if (MA_UNLIKELY((uint64_t)bytes >= pb) && bytes >= 0 &&
	    ma_live_new_peak_instant(bytes, blocks, pb, ma_ties.bump))
		ma_live_note_peak(bytes, blocks);
}

/* ma_live_grow_quick for the owner (known to be t). */
MA_INLINE bool ma_live_grow_quick_owner(struct ma_thread *t, bool ties)
{
	uint64_t own = ma_load_relaxed(&t->bytes);
	int64_t live = (int64_t)(own - ma_load_relaxed(&t->freed_bytes)) + ma_load_relaxed(&ma_live.shared_bytes);
	uint64_t pb = ma_load_relaxed(&ma_live.peak.bytes);
	if (MA_UNLIKELY((uint64_t)live >= pb)) {
		int64_t n = ma_live_owner_blocks(t) + ma_load_relaxed(&ma_live.shared_blocks);
		if (ma_live_new_peak_instant(live, n, pb, ties))
			return true;
	}
	return MA_UNLIKELY(own >= ma_load_relaxed(&ma_live.clock.owner_sample_at));
}

/*
 * After a block was born (its bytes already in t's record): the inline half.
 * Returns true when ma_live_grow_slow must run (a new peak, a tie with other
 * blocks, a timeline sample, a non-owner's batch to flush).  It calls
 * nothing itself, so the fast paths keep few registers live across it and
 * can leave through a tail call.  `ties` is ma_ties.bump, known to
 * the caller: false on the Tier 1 fast path, true on Tier 2's.
 * Budget (owner): 4 loads of lines in L1, 2 compares; a tie (the usual case
 * in a steady alloc/free loop) adds 4 loads and 1 compare, with call sites too.
 */
MA_INLINE bool ma_live_grow_quick(struct ma_thread *t, int64_t bytes, int64_t blocks, bool ties)
{
	if (MA_LIKELY(t->is_owner))
		return ma_live_grow_quick_owner(t, ties);
	t->pend_bytes += bytes;
	t->pend_blocks += blocks;
	t->pend_clock += bytes;
	return MA_UNLIKELY(t->pend_bytes >= MA_LIVE_SLACK_BYTES || t->pend_blocks >= MA_LIVE_SLACK_BLOCKS ||
	                   t->pend_clock >= MA_LIVE_SLACK_BYTES);
}

/* The other half: the peak, the timeline sample, or the flush. */
MA_NOINLINE void ma_live_grow_slow(struct ma_thread *t);

/*
 * After a block was born: both halves.  With call sites (ties true) an
 * owner's update nested in another of its own (a signal handler that
 * allocates while the thread is inside the library: `nested`) may find the
 * interrupted one half done: its block in the record but not yet in its
 * site, or the reverse.  A peak noted then would not match the per-site
 * sums, so the check waits for the outermost update to end
 * (ma_update_leave).  A block that a handler allocates and frees within one
 * such interruption therefore cannot raise the peak.
 */
MA_INLINE void ma_live_grow(struct ma_thread *t, int64_t bytes, int64_t blocks, bool ties, bool nested)
{
	if (ties && MA_UNLIKELY(nested) && t->is_owner) {
		t->peak_recheck = true;
		return;
	}
	if (MA_UNLIKELY(ma_live_grow_quick(t, bytes, blocks, ties)))
		ma_live_grow_slow(t);
}

/* After a block died (its bytes already in t's record).  Free for the owner. */
MA_INLINE void ma_live_shrink(struct ma_thread *t, int64_t bytes, int64_t blocks)
{
	if (MA_LIKELY(t->is_owner))
		return;
	t->pend_bytes -= bytes;
	t->pend_blocks -= blocks;
	if (MA_UNLIKELY(t->pend_bytes <= -MA_LIVE_SLACK_BYTES || t->pend_blocks <= -MA_LIVE_SLACK_BLOCKS))
		ma_live_flush(t);
}

/*
 * Out-of-line updates announce themselves, so that ma_init_freeze can wait
 * for them: busy is raised before the frozen flag is read.  It counts: a
 * signal handler that allocates while this thread is inside an update nests
 * one level deeper (and is told so by busy > 1).  No fence here: the
 * freezer's membarrier() orders both sides (an asymmetric Dekker).
 *
 * ma_update_enter returns the busy count before this update (0 unless
 * nested), or MA_UPDATE_STOPPED (and changes nothing) when counting has
 * stopped.  End the update with ma_update_leave and that count.
 */
#define MA_UPDATE_STOPPED UINT32_MAX

MA_INLINE uint32_t ma_update_enter(struct ma_thread *t)
{
	uint32_t outer = ma_load_relaxed(&t->busy);
	ma_store_relaxed(&t->busy, outer + 1);
	atomic_signal_fence(memory_order_seq_cst);
	if (MA_UNLIKELY(ma_load_relaxed(&ma_g.mode) & MA_MODE_FROZEN)) {
		ma_store_release(&t->busy, outer);
		return MA_UPDATE_STOPPED;
	}
	/* busy counts nested updates (signal handlers), never 2^32 - 1 deep: the
	 * caller's test for MA_UPDATE_STOPPED is then the frozen branch's alone. */
	if (outer == MA_UPDATE_STOPPED)
		__builtin_unreachable();
	return outer;
}

MA_INLINE void ma_update_leave(struct ma_thread *t, uint32_t outer)
{
	if (MA_UNLIKELY(t->peak_recheck) && outer == 0) {
		/* The peak check a nested update left to the outermost one (ma_live_grow).
		 * Still marked busy: the freezer waits for it. */
		t->peak_recheck = false;
		ma_live_grow_slow(t);
	}
	ma_store_release(&t->busy, outer);
}

/* Exact totals, summed over every record. */
struct ma_snapshot {
	uint64_t blocks, bytes, frees, freed_bytes;
	uint64_t live_bytes, live_blocks, peak_bytes, peak_blocks;
	uint64_t inherited_frees, inherited_freed_bytes, foreign_frees, failed;
	uint64_t threads;
	uint64_t calls[MA_CALL_COUNT];
};

void ma_snapshot_process(struct ma_snapshot *s);
void ma_snapshot_thread(const struct ma_thread *t, struct ma_snapshot *s);
/* In a fork child: zero the live counters and the peak. */
void ma_live_reset(void);

#endif
