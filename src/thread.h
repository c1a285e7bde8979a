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
	int64_t pend_clock;       /* bytes allocated, not yet in ma_live.clock.shared */
	ma_au64 inherited_frees; /* frees of blocks a fork parent allocated */
	ma_au64 inherited_freed_bytes;
	ma_au64 foreign_frees;   /* pointers we never handed out, passed through */
	ma_au64 failed;          /* allocation calls that returned NULL / an error */
	ma_au32 busy;            /* out-of-line updates in progress (see ma_update_enter, counters.h); > 1: a
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
	/* Bytes to the sampler's next sample point (MOD_ALLOC_SAMPLE): the Tier 1 fast
	 * allocation subtracts its size and leaves out of line at <= 0 (core.h).
	 * Without sampling it is reset to INT64_MAX there, once per thread. */
	int64_t sample_left;
	struct ma_thread *held;  /* the record while the guard hides it */
	uint32_t guard;          /* > 0 inside the library's own slow paths */
	uint8_t state;
	int fatal_pending;       /* a fatal signal that arrived inside the guard (fatal.c) */
	bool sample_armed;       /* sample_left holds a drawn countdown (tier2.c) */
};

extern MA_TLS struct ma_tls ma_tls;

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

/* The calling thread's record even inside the guard, or NULL. */
MA_INLINE struct ma_thread *ma_thread_self(void)
{
	return ma_tls.rec ? ma_tls.rec : ma_tls.held;
}

/* Registry. */
struct ma_thread *ma_registry_claim(void);
/* The caller flushed the record's pending share first (ma_live_release). */
void ma_registry_release(struct ma_thread *t);
struct ma_thread *ma_registry_first(void);
/* In a fork child: forget every other thread, zero all counters, keep self
 * (the caller sets its header keys and makes it the owner). */
void ma_registry_reset_after_fork(struct ma_thread *self);

#endif
