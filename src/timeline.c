/* SPDX-License-Identifier: Apache-2.0 */
/* timeline.c: memory over time, sampled on the allocation clock. */
#include "timeline.h"

#include <fcntl.h>
#include <string.h>

#include "atomic.h"
#include "os.h"

static struct {
	_Atomic uintptr_t busy;     /* the sampler's record | 1; one at a time, others skip */
	uint64_t interval;
	ma_au64 next;               /* clock of the next sample */
	unsigned count;
	struct ma_timeline_point p[MA_TIMELINE_MAX];
} tl;

uint64_t ma_timeline_init(void)
{
	memset(&tl, 0, sizeof tl);
	tl.interval = MA_TIMELINE_FIRST_INTERVAL;
	ma_store_relaxed(&tl.next, tl.interval);
	return tl.interval;
}

uint64_t ma_timeline_next_clock(void)
{
	return ma_load_relaxed(&tl.next);
}

uint64_t ma_timeline_sample(uintptr_t who, uint64_t clock, uint64_t live_bytes)
{
	uintptr_t no = 0;
	if (!ma_cas_acq_rel(&tl.busy, &no, who | 1))
		return 0;
	uint64_t next = ma_load_relaxed(&tl.next);
	if (clock >= next) {
		if (tl.count == MA_TIMELINE_MAX) {
			/* Coarsen: keep every other point, double the interval. */
			for (unsigned i = 1; i < MA_TIMELINE_MAX / 2; i++)
				tl.p[i] = tl.p[2 * i];
			tl.count = MA_TIMELINE_MAX / 2;
			tl.interval *= 2;
		}
		tl.p[tl.count++] = (struct ma_timeline_point){ clock, live_bytes, ma_os_rss_now_bytes() };
		next = (clock / tl.interval + 1) * tl.interval;
		ma_store_relaxed(&tl.next, next);
	} /* else the caller's trigger was stale: it re-arms for the same clock */
	ma_store_release(&tl.busy, 0);
	return next;
}

unsigned ma_timeline_copy(uintptr_t who, struct ma_timeline_point *out, unsigned cap, uint64_t *interval)
{
	/* A fatal signal's handler (fatal.c) may have interrupted this thread's
	 * own sample: then there is nothing to wait for, and no whole copy. */
	uintptr_t no = 0, self = who | 1;
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
