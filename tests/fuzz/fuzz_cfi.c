/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_cfi.c: libFuzzer target for the CFI compiler (src/cfi.c).
 *
 * Input: 16 bytes {the runtime address of what follows (u64), the code
 * range's start (u32) and length (u32)}, then the bytes of a segment that
 * begins with .eh_frame_hdr (and holds .eh_frame after it).  The compiler
 * must refuse or compile anything without reading outside those bytes (ASan
 * sees the input's exact extent), and what it builds must be well formed.
 * Seeds (corpus/cfi): the segments of small real programs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cfi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 16 || size > (1u << 20))
		return 0;
	uint64_t vaddr;
	uint32_t lo, len;
	memcpy(&vaddr, data, 8);
	memcpy(&lo, data + 8, 4);
	memcpy(&len, data + 12, 4);
	vaddr &= (1ull << 47) - 1;
	/* A copy of exactly the segment's bytes: any read past them is caught. */
	size_t n = size - 16;
	uint8_t *seg = malloc(n ? n : 1);
	memcpy(seg, data + 16, n);
	struct ma_cfi_stats st;
	struct ma_cfi_table *t = ma_cfi_compile(seg, n, (uintptr_t)vaddr, (uintptr_t)vaddr, lo, (uintptr_t)lo + len, &st);
	if (t) {
		if (t->lo != lo || t->hi != (uintptr_t)lo + len)
			abort();
		for (uint32_t i = 0; i < t->n; i++)
			if ((i && t->rows[i].pc <= t->rows[i - 1].pc) || t->rows[i].pc >= len ||
			    t->rows[i].kind > MA_CFI_SIGNAL)
				abort();
		const struct ma_cfi_row *r = ma_cfi_lookup(t, lo + len / 2);
		if (r && (r < t->rows || r >= t->rows + t->n))
			abort();
		ma_cfi_free(t);
	} else if (!st.error) {
		abort();
	}
	free(seg);
	return 0;
}
