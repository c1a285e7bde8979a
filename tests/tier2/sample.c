/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sampling accuracy (issue 14; tests/tier2/sample.py): sites with known
 * bytes, from a few KiB to hundreds of MiB in total, blocks from 8 bytes to
 * several MiB, each allocated and freed in a loop (memory stays small) but
 * one that leaves its blocks live at exit.  sample.py keeps the same table.
 */
#include <stdlib.h>

static void *volatile sink;

#define LOOP(name, count, size_expr)                           \
	__attribute__((noinline)) static void name(void)       \
	{                                                      \
		for (unsigned long i = 0; i < (count); i++) {  \
			sink = malloc(size_expr);              \
			free(sink);                            \
		}                                              \
	}

LOOP(site_tiny, 5, 1000)                        /* 5,000 B: too few bytes for 2% */
LOOP(site_8, 56000000, 8)                       /* 448,000,000 B */
LOOP(site_100, 8000000, 100)                    /* 800,000,000 B */
LOOP(site_4k, 100000, 4096)                     /* 409,600,000 B */
LOOP(site_64k, 6000, 65536)                     /* 393,216,000 B */
LOOP(site_3m, 100, 3u << 20)                    /* 314,572,800 B */
LOOP(site_mixed, 19 * 50, (size_t)8 << (i % 19)) /* 8 B to 2 MiB: 209,715,000 B */

/* 256 blocks of 1 MiB live at exit (never written: little RSS): live_bytes 268,435,456. */
__attribute__((noinline)) static void site_live(void)
{
	for (unsigned i = 0; i < 256; i++)
		sink = malloc(1u << 20);
}

int main(void)
{
	site_tiny();
	site_8();
	site_100();
	site_4k();
	site_64k();
	site_3m();
	site_mixed();
	site_live();
	return 0;
}
