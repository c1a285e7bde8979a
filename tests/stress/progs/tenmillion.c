/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tenmillion: 10 million live blocks at once (1 to 16 bytes each, from
 * big_alloc), then all freed in a scattered order.  The pointer array is
 * mmap'd so that it is not a block itself.  Exact deltas; the peak is
 * exactly the live heap with all of them; with call sites the site's
 * at-peak and maximum are all of them too.
 */
#include "stress.h"

#include <sys/mman.h>

#define N 10000000u

S_NOINLINE void *big_alloc(size_t n)
{
	return malloc(n);
}

int main(void)
{
	char **p = mmap(NULL, N * sizeof *p, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	S_CHECK(p != MAP_FAILED);
	struct modalloc_stats m = s_now();
	uint64_t bytes = 0;
	for (uint32_t i = 0; i < N; i++) {
		size_t n = 1 + i % 16;
		p[i] = big_alloc(n);
		if (!p[i])
			s_fail(__FILE__, __LINE__, "malloc failed at", i, -1);
		p[i][0] = (char)i;
		bytes += n;
	}
	S_DELTA(&m, N, bytes, 0, 0);
	struct modalloc_stats at_peak = s_now();
	if (s_active()) {
		S_EQ(at_peak.live_blocks, m.live_blocks);
		S_EQ(at_peak.peak_bytes, at_peak.live_bytes);
		S_EQ(at_peak.peak_blocks, at_peak.live_blocks);
	}
	/* A stride coprime with N visits every index once, far from allocation order. */
	for (uint64_t k = 0, i = 0; k < N; k++, i = (i + 7919) % N) {
		if (p[i][0] != (char)i)
			s_fail(__FILE__, __LINE__, "block content", p[i][0], (char)i);
		free(p[i]);
	}
	S_DELTA(&m, 0, 0, N, bytes);
	s_expect("E", "totals.peak_bytes", at_peak.peak_bytes);
	s_expect("E", "totals.peak_blocks", at_peak.peak_blocks);
	s_site("big_alloc", N, bytes, 0);
	munmap(p, N * sizeof *p);
	return 0;
}
