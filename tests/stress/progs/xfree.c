/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xfree: threads allocating and freeing each other's blocks.
 *
 *   A  8 threads swap blocks through 4096 shared slots: each allocation
 *      replaces a random slot's block, which the swapping thread frees (most
 *      blocks die in another thread than their own).  Each block carries its
 *      size and a tag, checked before it is freed.
 *   B  a ring: thread i allocates K blocks, thread i+1 reallocs them, thread
 *      i+2 frees them.
 * Process stats are checked exactly across each phase while every worker is
 * parked at a barrier; with call sites, the sites of xchg_alloc, ring_alloc
 * and ring_grow are checked exactly in the report (SITE lines).
 */
#include "stress.h"

#include <pthread.h>
#include <stdatomic.h>

#define NT 8
#define ITERS 60000
#define SLOTS 4096
#define K 2000
#define MAGIC 0x5eed5eedu

struct blk {
	uint32_t size, magic;
	uint32_t owner, seq;
};

static _Atomic(struct blk *) slots[SLOTS];
static struct blk *ring[NT][K];
static pthread_barrier_t bar;
static uint64_t made_blocks[NT], made_bytes[NT], ring_bytes[NT], grow_bytes[NT];

S_NOINLINE static struct blk *xchg_alloc(size_t size)
{
	return malloc(size);
}

S_NOINLINE static struct blk *ring_alloc(size_t size)
{
	return malloc(size);
}

S_NOINLINE static struct blk *ring_grow(struct blk *b, size_t size)
{
	return realloc(b, size);
}

static void check_blk(const struct blk *b)
{
	if (b->magic != MAGIC || b->size < sizeof *b || b->owner >= NT)
		s_fail(__FILE__, __LINE__, "corrupted block", (int64_t)b->magic, MAGIC);
}

static void *worker(void *arg)
{
	unsigned me = (unsigned)(uintptr_t)arg;
	uint64_t rng = 0x9E3779B97F4A7C15ull * (me + 1);
	pthread_barrier_wait(&bar); /* 1: main has marked */
	for (uint32_t i = 0; i < ITERS; i++) {
		size_t size = sizeof(struct blk) + s_rand(&rng) % 1000;
		struct blk *b = xchg_alloc(size);
		S_CHECK(b != NULL);
		*b = (struct blk){ (uint32_t)size, MAGIC, me, i };
		made_blocks[me]++;
		made_bytes[me] += size;
		struct blk *old = atomic_exchange(&slots[s_rand(&rng) % SLOTS], b);
		if (old) {
			check_blk(old);
			free(old);
		}
	}
	pthread_barrier_wait(&bar); /* 2: A done; main empties the slots and checks */
	pthread_barrier_wait(&bar); /* 3 */
	for (int j = 0; j < K; j++) {
		size_t size = sizeof(struct blk) + (size_t)(me * 37 + j) % 300;
		ring[me][j] = ring_alloc(size);
		S_CHECK(ring[me][j] != NULL);
		*ring[me][j] = (struct blk){ (uint32_t)size, MAGIC, me, (uint32_t)j };
		ring_bytes[me] += size;
	}
	pthread_barrier_wait(&bar); /* 4: all allocated */
	unsigned prev = (me + NT - 1) % NT;
	for (int j = 0; j < K; j++) {
		struct blk *b = ring[prev][j];
		check_blk(b);
		S_EQ(b->owner, prev);
		size_t size = b->size + 100 + (size_t)j % 50;
		b = ring_grow(b, size);
		S_CHECK(b != NULL);
		check_blk(b);
		b->size = (uint32_t)size;
		ring[prev][j] = b;
		grow_bytes[me] += size;
	}
	pthread_barrier_wait(&bar); /* 5: all grown */
	unsigned prev2 = (me + NT - 2) % NT;
	for (int j = 0; j < K; j++) {
		check_blk(ring[prev2][j]);
		free(ring[prev2][j]);
	}
	pthread_barrier_wait(&bar); /* 6: all freed; main checks */
	pthread_barrier_wait(&bar); /* 7 */
	return NULL;
}

int main(void)
{
	pthread_t t[NT];
	pthread_barrier_init(&bar, NULL, NT + 1);
	for (unsigned i = 0; i < NT; i++)
		S_EQ(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i), 0);
	struct modalloc_stats m = s_now();
	pthread_barrier_wait(&bar); /* 1 */
	pthread_barrier_wait(&bar); /* 2 */
	uint64_t blocks = 0, bytes = 0, left = 0;
	for (int i = 0; i < NT; i++) {
		blocks += made_blocks[i];
		bytes += made_bytes[i];
	}
	for (int i = 0; i < SLOTS; i++) {
		struct blk *b = atomic_load(&slots[i]);
		if (b) {
			check_blk(b);
			left++;
		}
	}
	struct modalloc_stats now = s_now();
	if (s_active()) {
		S_EQ(now.blocks - m.blocks, blocks);
		S_EQ(now.bytes - m.bytes, bytes);
		S_EQ(now.blocks - now.frees - (m.blocks - m.frees), left);
	}
	for (int i = 0; i < SLOTS; i++)
		free(atomic_exchange(&slots[i], NULL));
	S_DELTA(&m, blocks, bytes, blocks, bytes);
	pthread_barrier_wait(&bar); /* 3 */
	pthread_barrier_wait(&bar); /* 4 */
	pthread_barrier_wait(&bar); /* 5 */
	pthread_barrier_wait(&bar); /* 6 */
	uint64_t rb = 0, gb = 0;
	for (int i = 0; i < NT; i++) {
		rb += ring_bytes[i];
		gb += grow_bytes[i];
	}
	/* A realloc that moves or not: one new block of the new size, one free of the old. */
	S_DELTA(&m, 2 * (uint64_t)NT * K, rb + gb, 2 * (uint64_t)NT * K, rb + gb);
	pthread_barrier_wait(&bar); /* 7 */
	for (int i = 0; i < NT; i++)
		pthread_join(t[i], NULL);
	s_site("xchg_alloc", blocks, bytes, 0);
	s_site("ring_alloc", (uint64_t)NT * K, rb, 0);
	s_site("ring_grow", (uint64_t)NT * K, gb, 0);
	return 0;
}
