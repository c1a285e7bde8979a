/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tier2_report.h: the call-site table frozen for the writers (JSON, text,
 * DHAT).  Built once per report in anonymous memory; no malloc.
 */
#ifndef MA_TIER2_REPORT_H
#define MA_TIER2_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "site.h"

struct ma_site_total {
	uint32_t index;
	bool is_overflow, truncated, ended_early;
	uint32_t nframes;
	const uintptr_t *frames;         /* innermost first; return addresses */
	uint64_t blocks, bytes, frees;
	uint64_t live_bytes, live_blocks;
	uint64_t at_peak_bytes, at_peak_blocks;
	uint64_t max_bytes, max_blocks;
	uint64_t lifetime_total;         /* allocation-clock bytes, live blocks counted to the end */
	uint64_t birth_sum, death_sum;
	int64_t live_bytes_signed, live_blocks_signed, at_peak_bytes_signed, at_peak_blocks_signed;
	uint64_t hist[MA_SITE_HIST];
	uint64_t samples;                /* births counted: sampled blocks when sampling, = blocks when exact */
};

struct ma_t2_frozen {
	struct ma_site_total *sites;     /* indexed by site index */
	uint32_t *order;                 /* indices of non-empty sites, bytes descending */
	size_t count;
	size_t mapped;
	uint64_t table_sites;
	uint64_t clock_end;              /* allocation clock at the report */
	uint64_t clock_peak;             /* allocation clock at the global peak */
	uint64_t truncated_events;
	uint64_t samples;                /* every site's samples, summed */
	uint64_t early_events;           /* allocations whose stacks ended early (no frame pointers) */
	uint64_t overflow_events, overflow_stacks, buckets_needed;
	uint64_t table_buckets;          /* the bucket array's size at the end (it grows) */
	uint64_t profiler_bytes;
	bool shallow_warning;
};

bool ma_tier2_freeze(struct ma_t2_frozen *f);
void ma_tier2_release(struct ma_t2_frozen *f);

#endif
