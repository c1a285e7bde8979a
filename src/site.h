/* SPDX-License-Identifier: Apache-2.0 */
/*
 * site.h: the global call-site table.
 *
 * Buckets (MOD_ALLOC_BUCKETS of them at start-up, a power of two) are
 * 8-byte slots {site index + 1, hash tag} probed linearly; the sites
 * themselves are dense, claimed with one atomic add, written, then
 * published by a CAS on the bucket.  Frames are compared in full on a tag
 * match, so two stacks never share a site whatever their hashes.
 *
 * Growth.  When 3/4 of the current bucket array holds sites, one inserter
 * maps one twice the size (struct ma_site_buckets), links it as the old
 * one's `next`, publishes it with one store to ma_sites.cur and copies the
 * old slots over: each empty old slot is frozen (CAS 0 -> MA_SITE_MOVED),
 * each full one inserted in the new array.  Nobody waits for the copy: an
 * inserter that meets MOVED goes on in `next`; while the new array's
 * `prev` is set (copy unfinished), a stack missing from it is looked for in
 * `prev` too, freezing the first empty slot of its probe there, so the
 * stack can no longer be added to the old array behind the copier's back:
 * every stack has one site, none is lost.  Old arrays stay mapped (a slow
 * reader may still probe one) and are counted in mapped_bytes.  The sites
 * never move: they live in chunks of MA_SITE_CHUNK, mapped on first use
 * and found through a directory, so indices in headers and memos stay
 * valid.  The table stops growing at MOD_ALLOC_BUCKETS_MAX buckets.
 *
 * Site 0 is the overflow site: when the table is full (3/4 of
 * MOD_ALLOC_BUCKETS_MAX buckets, or the frame arena is exhausted) events go
 * there, so per-site sums still equal the totals, and the distinct
 * overflowing stacks are counted.
 *
 * Counters come in two parts (struct ma_site_part): `own`, written by the
 * owner thread alone with plain stores (exact in a single-threaded
 * program), and `shared`, to which other threads add batched deltas from
 * their per-thread cache (tier2.c).  A site's value is the sum of both.
 *
 * At-peak values are kept lazily (DHAT snapshots every site instead): each
 * part remembers the peak serial (counters.h) at its last update, u.  If the
 * serial moved since, the part's live value was the same at the latest peak
 * instant, so g = live is saved before the update.  At report time a part
 * updated since the final peak reports g, any other part its live value.
 */
#ifndef MA_SITE_H
#define MA_SITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atomic.h"
#include "internal.h"

#define MA_SITE_HIST 40 /* log2 size classes: [0] = 0 bytes, [k] = [2^(k-1), 2^k) */

/*
 * Live figures are derived (bytes - freed_bytes, blocks - frees), and so are
 * lifetimes: sum over deaths of the death clock, plus live blocks x t_end,
 * minus the sum of births = every block's (death or end) - birth.
 */
struct ma_site_part {
	/* First line: what every birth and death touches. */
	ma_au64 blocks, bytes, frees, freed_bytes;
	ma_au64 u;                   /* peak serial at the last update */
	ma_au64 birth_sum;           /* allocation clock at each birth, summed */
	ma_au64 death_sum;           /* allocation clock at each death, summed */
	ma_au64 max_bytes;
	ma_au64 max_blocks;
	ma_ai64 g_bytes, g_blocks;   /* live at the latest global peak (valid when u is current) */
	ma_au32 hist[MA_SITE_HIST];
	ma_au64 samples;             /* births counted (sampled blocks; = blocks when exact) */
};

MA_INLINE int64_t ma_site_part_live_bytes(const struct ma_site_part *p)
{
	return (int64_t)(ma_load_relaxed(&p->bytes) - ma_load_relaxed(&p->freed_bytes));
}

MA_INLINE int64_t ma_site_part_live_blocks(const struct ma_site_part *p)
{
	return (int64_t)(ma_load_relaxed(&p->blocks) - ma_load_relaxed(&p->frees));
}

struct ma_site {
	/* Immutable once published. */
	uint64_t hash;
	const uintptr_t *frames;
	uint32_t nframes;
	bool truncated;
	/* Set (once, never cleared) by an allocation whose stack ended early
	 * (stack.h, MA_STACK_EARLY): frames past the last are missing. */
	ma_au32 ended_early;
	MA_ALIGNED_LINE struct ma_site_part own;
	MA_ALIGNED_LINE struct ma_site_part shared;
};

/* One change to a site (a birth or a death), applied to one part. */
struct ma_site_event {
	int64_t blocks, bytes;       /* births: +1, +size */
	int64_t frees, freed_bytes;  /* deaths: +1, +size */
	uint64_t birth_sum;          /* births: the clock at birth */
	uint64_t death_sum;          /* deaths: the clock at death */
	unsigned hist_class;         /* births only */
	uint64_t samples;            /* births: 1 (blocks is the sample's weight when sampling) */
};

/* Sites per chunk (a power of two): chunk c holds sites [c * MA_SITE_CHUNK, (c + 1) * MA_SITE_CHUNK). */
#define MA_SITE_CHUNK_LOG2 8
#define MA_SITE_CHUNK (1u << MA_SITE_CHUNK_LOG2)
/* A frozen empty slot of a bucket array being copied into a bigger one
 * (never a site's word: those have site index + 1 < 2^32 - 1 below). */
#define MA_SITE_MOVED UINT64_MAX

/* One bucket array; the first is MOD_ALLOC_BUCKETS long, each next one twice its predecessor. */
struct ma_site_buckets {
	uint64_t mask;
	uint64_t limit;                        /* entries at which it grows: 3/4 of its buckets */
	uint64_t hard;                         /* entries it never exceeds: 7/8 of its buckets */
	uint64_t bytes;                        /* this mapping */
	struct ma_site_buckets *_Atomic prev;  /* the array being copied into this one; NULL once copied */
	struct ma_site_buckets *_Atomic next;  /* the array this one is copied into */
	/* Places taken: those the copy from prev may fill (prev->hard, counted
	 * when mapped), + one per insert here.  Inserts stop at `hard`, so
	 * entries <= hard < buckets: a copy always finds an empty slot. */
	ma_au64 count;
	MA_ALIGNED_LINE ma_au64 slot[];
};

struct ma_site_table {
	struct ma_site_buckets *_Atomic cur; /* the newest bucket array */
	struct ma_site *_Atomic *chunks;     /* the sites' directory: capacity / MA_SITE_CHUNK entries, rounded up */
	/* Every site's address by index (as many entries as the directory
	 * covers), written before the site is published: the events' lookup is
	 * one load.  Process memory, not the state file (its readers use chunks). */
	struct ma_site *_Atomic *at;
	uint64_t capacity;           /* sites: 3/4 of the largest array's buckets, + overflow */
	uint64_t max_buckets;        /* MOD_ALLOC_BUCKETS_MAX (at least the first array's size) */
	MA_ALIGNED_LINE ma_au64 used; /* sites claimed, including site 0 */
	ma_au64 lost_races;          /* sites claimed but not published */
	ma_au32 shared_any;          /* a thread other than the owner has updated a shared part */
	ma_au32 growths;             /* bucket arrays made after the first */
	ma_au64 overflow_events;
	ma_au64 overflow_stacks;     /* distinct stacks seen while full */
	ma_au64 *overflow_set;       /* hashes of those stacks */
	uint64_t overflow_set_mask;
	ma_au64 mapped_bytes;        /* directory, chunks, `at` entries written, every bucket array, the overflow set */
	ma_au64 arena_bytes;         /* frame arenas mapped so far (struct ma_site_arena) */
	uint64_t arena_limit;        /* their bound: 64 MiB, or 256 bytes a site if more */
};

extern struct ma_site_table ma_sites;

/* Site idx (published, so its entry is written): one load. */
MA_INLINE struct ma_site *ma_site_at(uint32_t idx)
{
	return ma_load_relaxed(&ma_sites.at[idx]);
}

/* Site idx, or NULL where its chunk is not mapped yet (a site claimed an instant ago): for reports. */
MA_INLINE struct ma_site *ma_site_peek(uint64_t idx)
{
	struct ma_site *c = ma_load_acquire(&ma_sites.chunks[idx >> MA_SITE_CHUNK_LOG2]);
	return c ? c + (idx & (MA_SITE_CHUNK - 1)) : NULL;
}

/* Buckets in the newest array. */
MA_INLINE uint64_t ma_site_table_buckets(void)
{
	return ma_load_acquire(&ma_sites.cur)->mask + 1;
}


/* buckets: the first array's size; max_buckets: the largest (raised to buckets if below); powers of two. */
bool ma_site_table_init(uint64_t buckets, uint64_t max_buckets);
uint64_t ma_site_hash(const uintptr_t *frames, unsigned n, bool truncated);
/* Where a thread keeps the frames of the sites it creates: mapped chunks,
 * never freed; all arenas together stay under a limit (site.c). */
struct ma_site_arena {
	char *cur, *end;
};

/*
 * The site of this stack, inserting it if new, its frames copied into the
 * caller's arena (one writer: the calling thread).  Returns a site index
 * (0 = overflow: the table is full or the arenas are exhausted).
 */
uint32_t ma_site_intern(const uintptr_t *frames, unsigned n, bool truncated, struct ma_site_arena *arena);
/* In a fork child: zero every site's counters (sites and frames stay), and
 * finish a growth another thread of the parent left half-done. */
void ma_site_table_reset_counts(void);

/* Inline: `atomic` is a constant at every call, so each caller gets its own copy. */
MA_INLINE unsigned ma_site_hist_class(uint64_t size)
{
	/* 64 - clz(size), 0 for 0, without a branch: the top bit of 2 * size + 1
	 * (a block's size stays below PTRDIFF_MAX, core.h, so the shift loses
	 * nothing; a larger value still gets a class in range). */
	unsigned k = 63 - (unsigned)__builtin_clzll(size << 1 | 1);
	return k < MA_SITE_HIST ? k : MA_SITE_HIST - 1;
}

/* Plain (the owner's part) or atomic (a shared part) read-modify-write of p->field. */
#define MA_SITE_PART_ADD(p, atomic, field, v)                 \
	do {                                                  \
		if (atomic)                                   \
			ma_add_relaxed(&(p)->field, (v));     \
		else                                          \
			ma_own_add(&(p)->field, (v));         \
	} while (0)

/* The first change to part p since global peak `serial` (its u is older): its live value then was this. */
MA_INLINE void ma_site_part_keep_peak(struct ma_site_part *p, uint64_t serial)
{
	ma_store_relaxed(&p->g_bytes, ma_site_part_live_bytes(p));
	ma_store_relaxed(&p->g_blocks, ma_site_part_live_blocks(p));
	ma_store_relaxed(&p->u, serial);
}

/*
 * Applies e to part p, whose u is current (ma_site_part_apply).  `other` is
 * the site's other part, whose live value counts toward the site's
 * high-water mark, or NULL when it is known empty (no thread but the owner
 * has touched any shared part yet).
 */
MA_INLINE void ma_site_part_count(struct ma_site_part *p, const struct ma_site_event *e,
                                  const struct ma_site_part *other, bool atomic)
{
	if (e->frees) {
		MA_SITE_PART_ADD(p, atomic, frees, (uint64_t)e->frees);
		MA_SITE_PART_ADD(p, atomic, freed_bytes, (uint64_t)e->freed_bytes);
		MA_SITE_PART_ADD(p, atomic, death_sum, e->death_sum);
	}
	if (!e->blocks)
		return;
	MA_SITE_PART_ADD(p, atomic, blocks, (uint64_t)e->blocks);
	MA_SITE_PART_ADD(p, atomic, bytes, (uint64_t)e->bytes);
	MA_SITE_PART_ADD(p, atomic, birth_sum, e->birth_sum);
	if (e->samples) /* 0 (a constant) on exact call sites' fast paths: samples are reported only when sampling */
		MA_SITE_PART_ADD(p, atomic, samples, e->samples);
	if (e->hist_class < MA_SITE_HIST) /* single births (weighted); flushes add their histogram themselves */
		MA_SITE_PART_ADD(p, atomic, hist[e->hist_class], (uint32_t)e->blocks);
	if (e->frees && e->bytes <= e->freed_bytes)
		return; /* the site's live bytes did not grow: no new high-water mark (a birth of 0 bytes
		         * goes on: the compare below fails, or records the site's live value) */
	/* The site's own high-water mark, over both parts. */
	int64_t site_b = ma_site_part_live_bytes(p) + (other ? ma_site_part_live_bytes(other) : 0);
	if (site_b > (int64_t)ma_load_relaxed(&p->max_bytes)) {
		int64_t site_k = ma_site_part_live_blocks(p) + (other ? ma_site_part_live_blocks(other) : 0);
		if (atomic) {
			uint64_t cur = ma_load_relaxed(&p->max_bytes);
			while ((uint64_t)site_b > cur && !ma_cas_acq_rel(&p->max_bytes, &cur, (uint64_t)site_b))
				;
		} else {
			ma_store_relaxed(&p->max_bytes, (uint64_t)site_b);
		}
		ma_store_relaxed(&p->max_blocks, (uint64_t)(site_k > 0 ? site_k : 0));
	}
}

/* Applies e to part p, keeping its at-peak share first if a peak came since its last change. */
MA_INLINE void ma_site_part_apply(struct ma_site_part *p, const struct ma_site_event *e, uint64_t serial,
                                  const struct ma_site_part *other, bool atomic)
{
	if (MA_UNLIKELY(ma_load_relaxed(&p->u) != serial))
		ma_site_part_keep_peak(p, serial);
	ma_site_part_count(p, e, other, atomic);
}


#endif
