/* SPDX-License-Identifier: Apache-2.0 */
/* counters.c: the live counter's slow paths and snapshots. */
#include "counters.h"

#include <string.h>

struct ma_live ma_live;
struct ma_peak_ties ma_ties;

void ma_live_note_peak(int64_t bytes, int64_t blocks)
{
	if (bytes < 0)
		return; /* others freed the owner's blocks and have not flushed yet */
	uint64_t cur = ma_load_relaxed(&ma_live.peak.bytes);
	while ((uint64_t)bytes > cur) {
		if (ma_cas_acq_rel(&ma_live.peak.bytes, &cur, (uint64_t)bytes)) {
			cur = (uint64_t)bytes;
			break;
		}
	}
	/* A tie counts too: DHAT keeps the latest instant of the maximum. */
	if ((uint64_t)bytes == cur) {
		ma_store_relaxed(&ma_live.peak.blocks, (uint64_t)(blocks < 0 ? 0 : blocks));
		ma_store_relaxed(&ma_live.peak.clock, ma_live_clock(NULL));
		ma_store_relaxed(&ma_ties.first_site, UINT32_MAX);
		ma_store_relaxed(&ma_ties.blocks, (uint64_t)(blocks < 0 ? 0 : blocks)); /* no site moved since */
		ma_add_relaxed(&ma_live.peak.serial, 1);
	}
}

void ma_live_grow_slow(struct ma_thread *t)
{
	if (!t->is_owner) {
		ma_live_flush(t);
		return;
	}
	ma_live_check_peak(ma_live_owner_bytes(t) + ma_load_relaxed(&ma_live.shared_bytes),
	                   ma_live_owner_blocks(t) + ma_load_relaxed(&ma_live.shared_blocks));
	if (ma_load_relaxed(&t->bytes) >= ma_load_relaxed(&ma_live.clock.owner_sample_at))
		ma_live_sample(t);
}

/* Arms the owner's sample trigger for the timeline's next clock. */
static void timeline_arm(uint64_t next)
{
	/* The owner compares its own record's bytes, not the whole clock: translate. */
	struct ma_thread *o = atomic_load_explicit(&ma_live.owner, memory_order_relaxed);
	uint64_t others = ma_load_relaxed(&ma_live.clock.shared);
	uint64_t own = o ? ma_load_relaxed(&o->bytes) : 0;
	uint64_t at = next > others ? next - others : 0;
	ma_store_relaxed(&ma_live.clock.owner_sample_at, at > own ? at : own + 1);
}

void ma_live_timeline_start(void)
{
	timeline_arm(ma_timeline_init());
}

void ma_live_sample(const struct ma_thread *t)
{
	struct ma_thread *o = atomic_load_explicit(&ma_live.owner, memory_order_relaxed);
	int64_t live = (o ? ma_live_owner_bytes(o) : 0) + ma_load_relaxed(&ma_live.shared_bytes);
	uint64_t next = ma_timeline_sample((uintptr_t)t, ma_live_clock(t), live > 0 ? (uint64_t)live : 0);
	if (next)
		timeline_arm(next);
}

void ma_live_flush(struct ma_thread *t)
{
	int64_t b = t->pend_bytes, k = t->pend_blocks, c = t->pend_clock;
	t->pend_bytes = 0;
	t->pend_blocks = 0;
	t->pend_clock = 0;
	if (c) {
		uint64_t now = ma_add_relaxed(&ma_live.clock.shared, (uint64_t)c) + (uint64_t)c;
		if (now >= ma_timeline_next_clock())
			ma_live_sample(t);
	}
	if (!b && !k)
		return;
	int64_t sb = ma_add_relaxed(&ma_live.shared_bytes, b) + b;
	int64_t sk = ma_add_relaxed(&ma_live.shared_blocks, k) + k;
	struct ma_thread *o = atomic_load_explicit(&ma_live.owner, memory_order_acquire);
	if (b > 0 || k > 0)
		ma_live_check_peak(sb + (o ? ma_live_owner_bytes(o) : 0), sk + (o ? ma_live_owner_blocks(o) : 0));
}

void ma_live_release(struct ma_thread *t)
{
	ma_live_flush(t);
	ma_registry_release(t);
}

static void add_record(struct ma_snapshot *s, const struct ma_thread *t)
{
	s->blocks += ma_load_relaxed(&t->blocks);
	s->bytes += ma_load_relaxed(&t->bytes);
	s->frees += ma_load_relaxed(&t->frees);
	s->freed_bytes += ma_load_relaxed(&t->freed_bytes);
	s->inherited_frees += ma_load_relaxed(&t->inherited_frees);
	s->inherited_freed_bytes += ma_load_relaxed(&t->inherited_freed_bytes);
	s->foreign_frees += ma_load_relaxed(&t->foreign_frees);
	s->failed += ma_load_relaxed(&t->failed);
	for (unsigned i = 0; i < MA_CALL_COUNT; i++)
		s->calls[i] += ma_load_relaxed(&t->calls[i]);
}

static void derive_live(struct ma_snapshot *s)
{
	/* Other threads may be mid-call: never let a racing free make live negative. */
	s->live_bytes = s->bytes >= s->freed_bytes ? s->bytes - s->freed_bytes : 0;
	s->live_blocks = s->blocks >= s->frees ? s->blocks - s->frees : 0;
}

void ma_snapshot_process(struct ma_snapshot *s)
{
	memset(s, 0, sizeof *s);
	for (const struct ma_thread *t = ma_registry_first(); t; t = t->next) {
		add_record(s, t);
		s->threads += ma_load_relaxed(&t->in_use) ? 1 : 0;
	}
	derive_live(s);
	s->peak_bytes = ma_load_relaxed(&ma_live.peak.bytes);
	s->peak_blocks = ma_load_relaxed(&ma_live.peak.blocks);
	/* The exact live figure can exceed a batched peak that was never flushed. */
	if (s->live_bytes > s->peak_bytes || (s->live_bytes == s->peak_bytes && s->peak_bytes == 0)) {
		s->peak_bytes = s->live_bytes;
		s->peak_blocks = s->live_blocks;
	}
}

void ma_snapshot_thread(const struct ma_thread *t, struct ma_snapshot *s)
{
	memset(s, 0, sizeof *s);
	add_record(s, t);
	/* Only what this thread did: a reused record carries its predecessors' sums. */
	s->blocks -= t->base_blocks;
	s->bytes -= t->base_bytes;
	s->frees -= t->base_frees;
	s->freed_bytes -= t->base_freed_bytes;
	s->threads = 1;
	derive_live(s);
}

void ma_live_reset(void)
{
	ma_store_relaxed(&ma_live.shared_bytes, 0);
	ma_store_relaxed(&ma_live.shared_blocks, 0);
	ma_store_relaxed(&ma_live.peak.bytes, 0);
	ma_store_relaxed(&ma_live.peak.blocks, 0);
	ma_store_relaxed(&ma_live.clock.shared, 0);
	ma_store_relaxed(&ma_live.peak.clock, 0);
	ma_store_relaxed(&ma_ties.first_site, UINT32_MAX);
	ma_ties_dirty();
	ma_add_relaxed(&ma_live.peak.serial, 1);
}
