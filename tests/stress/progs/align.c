/* SPDX-License-Identifier: Apache-2.0 */
/*
 * align: posix_memalign, aligned_alloc, memalign, valloc and pvalloc for
 * every power-of-two alignment from 8 bytes to 1 MiB and sizes around it;
 * memalign also with alignments that are not powers of two (glibc rounds
 * them up).  Every result is aligned, writable over its whole size, keeps
 * its usable size truthful, survives a realloc with its content; every
 * call's count is exact, refused calls count nothing.
 */
#include "stress.h"

#include <malloc.h>

#define MAX_ALIGN (1u << 20)

static uint64_t n_blocks, n_bytes;

static void use(void *p, size_t align, size_t size, int kind)
{
	if (!p)
		s_fail(__FILE__, __LINE__, "aligned allocation failed, kind", kind, (int64_t)align);
	if ((uintptr_t)p % align)
		s_fail(__FILE__, __LINE__, "misaligned, kind", kind, (int64_t)align);
	if (malloc_usable_size(p) < size)
		s_fail(__FILE__, __LINE__, "usable size", (int64_t)malloc_usable_size(p), (int64_t)size);
	memset(p, 0xA5, size);
	n_blocks++;
	n_bytes += size;
}

static size_t pow2_at_least(size_t a)
{
	size_t r = 1;
	while (r < a)
		r <<= 1;
	return r;
}

int main(void)
{
	struct modalloc_stats m = s_now();
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	for (size_t align = 8; align <= MAX_ALIGN; align <<= 1) {
		size_t sizes[] = { 0, 1, align - 1, align, align + 1, 3 * align / 2, 1000 };
		for (unsigned k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
			size_t size = sizes[k];
			uint64_t b0 = n_blocks, y0 = n_bytes;
			void *p[5];
			S_EQ(posix_memalign(&p[0], align, size), 0);
			use(p[0], align, size, 0);
			p[1] = aligned_alloc(align, size);
			use(p[1], align, size, 1);
			p[2] = memalign(align, size);
			use(p[2], align, size, 2);
			p[3] = valloc(size);
			use(p[3], page, size, 3);
			p[4] = pvalloc(size);
			use(p[4], page, size, 4);
			S_DELTA(&m, n_blocks - b0, n_bytes - y0, 0, 0);
			/* realloc keeps the content (only malloc's alignment is promised). */
			if (size) {
				unsigned char *q = realloc(p[0], size * 2 + 1);
				S_CHECK(q != NULL);
				S_CHECK(q[0] == 0xA5 && q[size - 1] == 0xA5);
				p[0] = q;
				S_DELTA(&m, 1, size * 2 + 1, 1, size);
			}
			size_t first = size ? size * 2 + 1 : 0;
			for (int i = 0; i < 5; i++)
				free(p[i]);
			S_DELTA(&m, 0, 0, 5, first + 4 * size);
		}
	}
	/* memalign rounds an alignment that is not a power of two up to one. */
	size_t odd[] = { 24, 100, 3000, 65537, 600000 };
	for (unsigned k = 0; k < sizeof odd / sizeof odd[0]; k++) {
		void *p = memalign(odd[k], 77);
		use(p, pow2_at_least(odd[k]), 77, 5);
		free(p);
		S_DELTA(&m, 1, 77, 1, 77);
	}
	/* Refused: not a power of two, or not a multiple of sizeof(void *). */
	size_t bad[] = { 0, 3, 12, 4, 24 };
	for (unsigned k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		void *p = (void *)1;
		S_EQ(posix_memalign(&p, bad[k], 100), 22 /* EINVAL */);
		S_CHECK(p == (void *)1);
	}
	/* Too big to satisfy. */
	volatile size_t too_big = SIZE_MAX - 8192;
	void *huge = (void *)1;
	S_EQ(posix_memalign(&huge, 4096, too_big), 12 /* ENOMEM */);
	S_CHECK(aligned_alloc(4096, too_big) == NULL);
	S_DELTA(&m, 0, 0, 0, 0);
	s_say_u64("aligned blocks", n_blocks);
	s_expect("GE", "calls.posix_memalign", 7 * 18 + 5 + 1);
	s_expect("GE", "totals.failed", 2);
	return 0;
}
