/* SPDX-License-Identifier: Apache-2.0 */
/* timeline.c: memory over time, sampled on the allocation clock. */
#include "timeline.h"

#include <fcntl.h>
#include <string.h>

#include "counters.h"
#include "os.h"

static struct {
	_Atomic uintptr_t busy;     /* the sampler's record | 1; one at a time, others skip */
	uint64_t interval;
	ma_au64 next;               /* clock of the next sample */
	unsigned count;
	struct ma_timeline_point p[MA_TIMELINE_MAX];
} tl;

static void arm(uint64_t next)
{
	ma_store_relaxed(&tl.next, next);
	/* The owner compares its own record's bytes, not the whole clock: translate. */
	struct ma_thread *o = atomic_load_explicit(&ma_live.owner, memory_order_relaxed);
	uint64_t others = ma_load_relaxed(&ma_live.clock_shared);
	uint64_t own = o ? ma_load_relaxed(&o->bytes) : 0;
	uint64_t at = next > others ? next - others : 0;
	ma_store_relaxed(&ma_live.sample_owner_at, at > own ? at : own + 1);
}

void ma_timeline_init(void)
{
	memset(&tl, 0, sizeof tl);
	tl.interval = MA_TIMELINE_FIRST_INTERVAL;
	arm(tl.interval);
}

uint64_t ma_timeline_next_clock(void)
{
	return ma_load_relaxed(&tl.next);
}

void ma_timeline_sample(const struct ma_thread *t)
{
	uintptr_t no = 0;
	if (!ma_cas_acq_rel(&tl.busy, &no, (uintptr_t)t | 1))
		return;
	uint64_t clock = ma_live_clock(t);
	if (clock < ma_load_relaxed(&tl.next)) {
		arm(ma_load_relaxed(&tl.next)); /* the owner's trigger was stale */
		ma_store_release(&tl.busy, 0);
		return;
	}
	struct ma_thread *o = atomic_load_explicit(&ma_live.owner, memory_order_relaxed);
	int64_t live = (o ? ma_live_owner_bytes(o) : 0) + ma_load_relaxed(&ma_live.shared_bytes);
	if (tl.count == MA_TIMELINE_MAX) {
		/* Coarsen: keep every other point, double the interval. */
		for (unsigned i = 1; i < MA_TIMELINE_MAX / 2; i++)
			tl.p[i] = tl.p[2 * i];
		tl.count = MA_TIMELINE_MAX / 2;
		tl.interval *= 2;
	}
	tl.p[tl.count++] = (struct ma_timeline_point){ clock, live > 0 ? (uint64_t)live : 0, ma_os_rss_now_bytes() };
	arm((clock / tl.interval + 1) * tl.interval);
	ma_store_release(&tl.busy, 0);
}

unsigned ma_timeline_copy(struct ma_timeline_point *out, unsigned cap, uint64_t *interval)
{
	/* A fatal signal's handler (fatal.c) may have interrupted this thread's
	 * own sample: then there is nothing to wait for, and no whole copy. */
	uintptr_t no = 0, self = (uintptr_t)ma_thread_self() | 1;
	while (!ma_cas_acq_rel(&tl.busy, &no, self)) {
		if (no == self) {
			*interval = tl.interval;
			return 0;
		}
		no = 0; /* a sample takes microseconds */
	}
	unsigned n = tl.count < cap ? tl.count : cap;
	memcpy(out, tl.p, n * sizeof *out);
	*interval = tl.interval;
	ma_store_release(&tl.busy, 0);
	return n;
}
