/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sampling's cost (issue 14; tests/tier2/sample_hdr.py): which blocks carry
 * the 32-byte call-site header.  With MOD_ALLOC_SAMPLE, only sampled blocks
 * (and over-aligned ones, which have room below the header anyway) may: an
 * unsampled block has Tier 1's 16-byte header, so its free matches the fast
 * free's one compare and never reaches the slow path.  The program reads the
 * offset's log2 (ma_hdr.shift, src/block.h: the byte 2 below the user
 * pointer) of each of its blocks and prints the counts per kind:
 *   small16 small32 big16 big32 realloc16 realloc32 calloc16 calloc32
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SMALL 10000
#define BIG 4

static void *small[SMALL], *big[BIG], *grown, *zeroed[SMALL];

static unsigned shift_of(const void *p)
{
	unsigned char s;
	memcpy(&s, (const char *)p - 2, 1);
	return s;
}

/* The sites, by their function (sample_hdr.py finds them in the report). */
__attribute__((noinline)) static void site_small(void)
{
	for (unsigned i = 0; i < SMALL; i++)
		small[i] = malloc(24);
}

__attribute__((noinline)) static void site_big(void)
{
	for (unsigned i = 0; i < BIG; i++)
		big[i] = malloc(8u << 20); /* 16 means of 512 KiB: sampled but with probability e^-16 */
}

__attribute__((noinline)) static void site_calloc(void)
{
	for (unsigned i = 0; i < SMALL; i++)
		zeroed[i] = calloc(3, 8);
}

__attribute__((noinline)) static void site_realloc(void)
{
	grown = realloc(small[0], 16u << 20); /* 32 means: sampled */
	small[0] = NULL;
}

int main(void)
{
	site_small();
	site_big();
	site_calloc();
	unsigned n[8] = { 0 };
	for (unsigned i = 0; i < SMALL; i++) {
		n[shift_of(small[i]) == 5]++;
		n[4 + (shift_of(zeroed[i]) == 5)]++;
	}
	for (unsigned i = 0; i < BIG; i++)
		n[2 + (shift_of(big[i]) == 5)]++;
	site_realloc();
	unsigned r16 = shift_of(grown) == 4, r32 = shift_of(grown) == 5;
	printf("small16=%u small32=%u big16=%u big32=%u calloc16=%u calloc32=%u realloc16=%u realloc32=%u\n",
	       n[0], n[1], n[2], n[3], n[4], n[5], r16, r32);
	fflush(stdout);
	for (unsigned i = 0; i < SMALL; i++) {
		free(small[i]);
		free(zeroed[i]);
	}
	for (unsigned i = 0; i < BIG; i++)
		free(big[i]);
	free(grown);
	return 0;
}
