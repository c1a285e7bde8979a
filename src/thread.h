/* SPDX-License-Identifier: Apache-2.0 */
/*
 * thread.h: per-thread state.  The one initial-exec TLS struct (ma_tls) and
 * the registry of records that hold each thread's counters.
 *
 * A record is written by its thread alone (ma_own_add: no lock prefix) and
 * read by snapshots.  Records live in mmap'd chunks that are never unmapped,
 * so a snapshot can sum them at any time; a record whose thread exited is
 * released and reused by a later thread, its counters kept (they are sums).
 *
 * ma_tls.rec is non-NULL exactly when the thread may take the fast path:
 * registered, and not inside the library's own slow paths (the guard).
 */
#ifndef MA_THREAD_H
#define MA_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atomic.h"
#include "internal.h"
#include "modalloc_schema.h"

/* Every interposed entry point, in report order (free second: its counter
 * shares the record's first line with malloc's, see struct ma_thread). */
#define MA_CALLS(X) MODALLOC_REPORT_CALLS(X)

enum ma_call {
#define X(name) MA_CALL_##name,
	MA_CALLS(X)
#undef X
	MA_CALL_COUNT
};

extern const char *const ma_call_names[MA_CALL_COUNT];

struct ma_thread {
	/*
	 * The first line is everything a malloc/free pair of the owner touches
	 * (checked below): under a workload that streams through the caches one
	 * line is one miss, not three.
	 */
	ma_au64 blocks;          /* successful allocations */
	ma_au64 bytes;           /* their requested bytes */
	ma_au64 frees;           /* tracked blocks released (free, realloc's old block) */
	ma_au64 freed_bytes;
	uint64_t tag_hi;         /* ma_hdr_tag(0, epoch, ma_g.hdr_log2), cached */
	uint32_t key;            /* ma_hdr_key(epoch), cached */
	uint16_t epoch;
	bool is_owner;           /* updates the live counter unbatched (counters.h) */
	ma_au64 calls[MA_CALL_COUNT]; /* calls[malloc], calls[free] end the first line */
	/* Owner-only state of the batched live counter (counters.h). */
	int64_t pend_bytes;
	int64_t pend_blocks;
	int64_t pend_clock;       /* bytes allocated, not yet in ma_live.clock_shared */
	ma_au64 inherited_frees; /* frees of blocks a fork parent allocated */
	ma_au64 inherited_freed_bytes;
	ma_au64 foreign_frees;   /* pointers we never handed out, passed through */
	ma_au64 failed;          /* allocation calls that returned NULL / an error */
	ma_au32 busy;            /* out-of-line updates in progress (see ma_init_freeze); > 1: a
	                          * signal handler's allocation nested in one of this thread's */
	bool peak_recheck;       /* a nested update skipped the peak check (counters.h) */
	/* Tier 2 per-thread state (stack bounds, arena) hangs off here; on the
	 * line of busy, which every Tier 2 call touches too. */
	void *tier2;
	/* The counters when the current thread claimed this record (thread stats). */
	uint64_t base_blocks, base_bytes, base_frees, base_freed_bytes;
	/* Registry links. */
	ma_au32 in_use;
	struct ma_thread *next;
} MA_ALIGNED_LINE;

_Static_assert(__builtin_offsetof(struct ma_thread, calls[MA_CALL_free]) < MA_CACHELINE,
               "the fast paths' counters share the record's first line");

enum ma_tls_state { MA_TLS_NEW = 0, MA_TLS_ACTIVE, MA_TLS_EXITED };

struct ma_tls {
	struct ma_thread *rec;   /* fast-path pointer; NULL = take the slow path */
	struct ma_thread *held;  /* the record while the guard hides it */
	uint32_t guard;          /* > 0 inside the library's own slow paths */
	uint8_t state;
	int fatal_pending;       /* a fatal signal that arrived inside the guard (fatal.c) */
};

extern MA_TLS struct ma_tls ma_tls;

/*
 * Slow path of every entry point: registers the calling thread (running
 * process initialisation first if needed) and returns its record, or NULL
 * when the call must not be tracked (guard held, library not active).
 */
struct ma_thread *ma_thread_enter(void);
/*
 * Ends a slow-path call.  A thread that calls in after its exit destructor
 * ran (glibc frees per-thread buffers then) gets a record for that one call
 * only: this releases it again.  A no-op otherwise.
 */
void ma_thread_leave(struct ma_thread *t);

/* Guard: hides the record so that any allocation inside goes untracked. */
MA_INLINE void ma_guard_enter(void)
{
	if (ma_tls.guard++ == 0) {
		ma_tls.held = ma_tls.rec;
		ma_tls.rec = NULL;
	}
}

/* Raises the fatal signal deferred while the guard was held (thread.c). */
MA_COLD void ma_guard_raise_pending(void);

MA_INLINE void ma_guard_leave(void)
{
	if (--ma_tls.guard == 0) {
		ma_tls.rec = ma_tls.held;
		ma_tls.held = NULL;
		/* A fatal signal's handler found the guard held (the library's locks
		 * may be taken, a report half-written): it waits until here.  The
		 * fence keeps the check after the store above. */
		atomic_signal_fence(memory_order_seq_cst);
		if (MA_UNLIKELY(*(volatile int *)&ma_tls.fatal_pending))
			ma_guard_raise_pending();
	}
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

/* The bits of ma_g.mode (init.h); the update protocol reads the second. */
#define MA_MODE_TRACED 1u  /* call sites on */
#define MA_MODE_FROZEN 2u  /* the exit report is being written: count nothing more */

MA_INLINE uint32_t ma_update_enter(struct ma_thread *t, const _Atomic uint8_t *mode)
{
	uint32_t outer = ma_load_relaxed(&t->busy);
	ma_store_relaxed(&t->busy, outer + 1);
	atomic_signal_fence(memory_order_seq_cst);
	if (MA_UNLIKELY(ma_load_relaxed(mode) & MA_MODE_FROZEN)) {
		ma_store_release(&t->busy, outer);
		return MA_UPDATE_STOPPED;
	}
	return outer;
}

/* The peak check a nested update left to the outermost one (counters.c). */
void ma_update_recheck(struct ma_thread *t);

MA_INLINE void ma_update_leave(struct ma_thread *t, uint32_t outer)
{
	if (MA_UNLIKELY(t->peak_recheck) && outer == 0)
		ma_update_recheck(t); /* still marked busy: the freezer waits for it */
	ma_store_release(&t->busy, outer);
}

/* The same where the caller does not keep the count (the slow paths). */
MA_INLINE bool ma_update_begin(struct ma_thread *t, const _Atomic uint8_t *mode)
{
	return ma_update_enter(t, mode) != MA_UPDATE_STOPPED;
}

MA_INLINE void ma_update_end(struct ma_thread *t)
{
	ma_update_leave(t, ma_load_relaxed(&t->busy) - 1);
}

/* The calling thread's record even inside the guard, or NULL. */
MA_INLINE struct ma_thread *ma_thread_self(void)
{
	return ma_tls.rec ? ma_tls.rec : ma_tls.held;
}

/* Registry. */
struct ma_thread *ma_registry_claim(void);
void ma_registry_release(struct ma_thread *t);
struct ma_thread *ma_registry_first(void);
/* In a fork child: forget every other thread, zero all counters, keep self. */
void ma_registry_reset_after_fork(struct ma_thread *self, uint16_t epoch);

#endif
