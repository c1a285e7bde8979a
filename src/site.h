/* SPDX-License-Identifier: Apache-2.0 */
/*
 * site.h: the global call-site table.
 *
 * Buckets (MOD_ALLOC_BUCKETS of them, a power of two) are 8-byte slots
 * {site index + 1, hash tag} probed linearly; the sites themselves are
 * dense, claimed with one atomic add, written, then published by a CAS on
 * the bucket.  Frames are compared in full on a tag match, so two stacks
 * never share a site whatever their hashes.  A reader that meets a slot
 * still being published just probes on: the same new stack inserted by two
 * threads at once may get two sites, merged when the report is written.
 *
 * Site 0 is the overflow site: when the table is full (3/4 of the buckets,
 * or the frame arena is exhausted) events go there, so per-site sums still
 * equal the totals, and the distinct overflowing stacks are counted.
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
};

struct ma_site_table {
	ma_au64 *buckets;
	uint64_t mask;
	struct ma_site *sites;
	uint64_t capacity;           /* sites[] length: 3/4 of the buckets, + overflow */
	MA_ALIGNED_LINE ma_au64 used; /* sites claimed, including site 0 */
	ma_au64 lost_races;          /* sites claimed but not published */
	ma_au32 shared_any;          /* a thread other than the owner has updated a shared part */
	ma_au64 overflow_events;
	ma_au64 overflow_stacks;     /* distinct stacks seen while full */
	ma_au64 *overflow_set;       /* hashes of those stacks */
	uint64_t overflow_set_mask;
	uint64_t mapped_bytes;
};

extern struct ma_site_table ma_sites;

bool ma_site_table_init(uint64_t buckets);
uint64_t ma_site_hash(const uintptr_t *frames, unsigned n, bool truncated);
/*
 * The site of this stack, inserting it if new.  `store_frames` copies the
 * frames into stable memory (the caller's arena) or returns NULL when out
 * of memory.  Returns a site index (0 = overflow).
 */
uint32_t ma_site_intern(const uintptr_t *frames, unsigned n, bool truncated,
                        uintptr_t *(*store_frames)(void *ctx, unsigned n), void *ctx);
/* In a fork child: zero every site's counters (sites and frames stay). */
void ma_site_table_reset_counts(void);

/* Inline: `atomic` is a constant at every call, so each caller gets its own copy. */
MA_INLINE unsigned ma_site_hist_class(uint64_t size)
{
	unsigned k = size ? 64 - (unsigned)__builtin_clzll(size) : 0;
	return k < MA_SITE_HIST ? k : MA_SITE_HIST - 1;
}

/* Plain (owner) or atomic (shared part) read-modify-write. */
#define PART_ADD(field, v)                                    \
	do {                                                  \
		if (atomic)                                   \
			ma_add_relaxed(&p->field, (v));       \
		else                                          \
			ma_own_add(&p->field, (v));           \
	} while (0)

/*
 * Applies e to part p.  `other` is the site's other part, whose live value
 * counts toward the site's high-water mark, or NULL when it is known empty
 * (no thread but the owner has touched any shared part yet).
 */
MA_INLINE void ma_site_part_apply(struct ma_site_part *p, const struct ma_site_event *e, uint64_t serial,
                                  const struct ma_site_part *other, bool atomic)
{
	if (MA_UNLIKELY(ma_load_relaxed(&p->u) != serial)) {
		/* A global peak happened since this part last changed: its live value then was this. */
		ma_store_relaxed(&p->g_bytes, ma_site_part_live_bytes(p));
		ma_store_relaxed(&p->g_blocks, ma_site_part_live_blocks(p));
		ma_store_relaxed(&p->u, serial);
	}
	if (e->frees) {
		PART_ADD(frees, (uint64_t)e->frees);
		PART_ADD(freed_bytes, (uint64_t)e->freed_bytes);
		PART_ADD(death_sum, e->death_sum);
	}
	if (!e->blocks)
		return;
	PART_ADD(blocks, (uint64_t)e->blocks);
	PART_ADD(bytes, (uint64_t)e->bytes);
	PART_ADD(birth_sum, e->birth_sum);
	if (e->hist_class < MA_SITE_HIST) /* single births; flushes add their histogram themselves */
		PART_ADD(hist[e->hist_class], 1);
	if (e->bytes <= e->freed_bytes)
		return; /* the site's live bytes did not grow: no new high-water mark */
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


#endif
