/* SPDX-License-Identifier: Apache-2.0 */
/*
 * timeline.h: live heap bytes (and RSS) over the allocation clock, in
 * bounded memory.  Samples are taken each time the clock passes the next
 * multiple of the interval; when the table is full every other sample is
 * dropped and the interval doubles (Massif's coarsening), so a run of any
 * length keeps at most MA_TIMELINE_MAX evenly spaced points.
 *
 * A leaf: it is handed the clock and the live bytes (counters.c, which also
 * owns the trigger the fast paths compare) and knows nothing of threads.
 */
#ifndef MA_TIMELINE_H
#define MA_TIMELINE_H

#include <stdint.h>


#define MA_TIMELINE_MAX 512
#define MA_TIMELINE_FIRST_INTERVAL (64 * 1024)

struct ma_timeline_point {
	uint64_t clock, live_bytes, rss_bytes;
};

struct ma_timeline_view {
	const struct ma_timeline_point *points;
	unsigned count;
	uint64_t interval;
};

/* Starts over; returns the clock of the first sample. */
uint64_t ma_timeline_init(void);
uint64_t ma_timeline_next_clock(void);
/*
 * Takes a sample at `clock` if one is due.  Returns the clock of the next
 * sample, or 0 when another thread is sampling (it arms the trigger).  who:
 * the caller's token (its record's address), so that a copy made by a
 * signal handler that interrupted this very sample does not wait for it.
 */
uint64_t ma_timeline_sample(uintptr_t who, uint64_t clock, uint64_t live_bytes);
/* A consistent copy of the points so far (the caller's storage). */
unsigned ma_timeline_copy(uintptr_t who, struct ma_timeline_point *out, unsigned cap, uint64_t *interval);

#endif
