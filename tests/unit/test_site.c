/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_site.c: the call-site table (site.h, site.c) on its own: insert and
 * look up, frames copied into the caller's arena, the overflow site when
 * the table is full, the counters of one part (ma_site_part_apply) and the
 * fork reset.  Each test maps a fresh table of 64 buckets (48 sites + the
 * overflow site 0), fixed in size unless the test says otherwise; then the
 * table's growth: exact counts across growths, threads inserting while it
 * grows, and the overflow site beyond the largest size.
 */
#include "ut.h"

#include <pthread.h>
#include <string.h>

#include "os.h"
#include "site.h"

static struct ma_site_arena arena;

static int setup(void **state)
{
	(void)state;
	memset(&ma_sites, 0, sizeof ma_sites);
	memset(&arena, 0, sizeof arena);
	assert_true(ma_site_table_init(64, 64));
	return 0;
}

/* A stack of n frames, the innermost one `tag`. */
static void stack_of(uintptr_t *f, unsigned n, uintptr_t tag)
{
	for (unsigned i = 0; i < n; i++)
		f[i] = 0x400000 + tag * 0x1000 + i * 8;
}

static void test_insert_and_lookup(void **state)
{
	(void)state;
	assert_int_equal(ma_sites.capacity, 49);
	assert_int_equal(ma_load_relaxed(&ma_sites.used), 1); /* site 0 is the overflow site */
	uintptr_t a[5], b[5];
	stack_of(a, 5, 1);
	stack_of(b, 5, 2);
	assert_int_equal(ma_site_intern(a, 5, false, &arena), 1);
	assert_int_equal(ma_site_intern(b, 5, false, &arena), 2);
	assert_int_equal(ma_site_intern(a, 5, false, &arena), 1);
	assert_int_equal(ma_site_intern(b, 5, false, &arena), 2);
	/* The same frames, shorter, or marked truncated: other stacks. */
	assert_int_equal(ma_site_intern(a, 4, false, &arena), 3);
	assert_int_equal(ma_site_intern(a, 5, true, &arena), 4);
	assert_int_equal(ma_site_intern(a, 0, false, &arena), 5);
	assert_int_equal(ma_site_intern(a, 0, false, &arena), 5);
	assert_int_equal(ma_load_relaxed(&ma_sites.used), 6);
	/* The site keeps its own copy of the frames, in the arena. */
	const struct ma_site *s = ma_site_at(1);
	assert_int_equal(s->nframes, 5);
	assert_false(s->truncated);
	assert_ptr_not_equal(s->frames, a);
	assert_memory_equal(s->frames, a, sizeof a);
	assert_true((const char *)s->frames >= arena.cur - 6 * 5 * sizeof(uintptr_t) &&
	            (const char *)s->frames < arena.end);
	a[0] ^= 1; /* the caller's buffer changes: the site does not */
	assert_int_equal(ma_site_intern(a, 5, false, &arena), 6);
	assert_int_not_equal(ma_site_at(1)->frames[0], a[0]);
	assert_int_equal(ma_site_hash(a, 5, false), ma_site_at(6)->hash);
	assert_int_equal(ma_load_relaxed(&ma_sites.arena_bytes), 256 * 1024);
	assert_int_equal(ma_load_relaxed(&ma_sites.overflow_events), 0);
}

/* Stacks that hold the same frames at other positions hash apart (the overflow set counts stacks by hash). */
static void test_hash_positions(void **state)
{
	(void)state;
	uintptr_t a[8] = { 0x401000, 0x402000, 0x403000, 0x404000, 0x405000, 0x406000, 0x407000, 0x408000 };
	uintptr_t b[8];
	memcpy(b, a, sizeof a);
	b[0] = a[4]; /* frames 0 and 4 swapped: the same lane */
	b[4] = a[0];
	assert_int_not_equal(ma_site_hash(a, 8, false), ma_site_hash(b, 8, false));
	memcpy(b, a, sizeof a);
	b[1] = a[2]; /* neighbours swapped */
	b[2] = a[1];
	assert_int_not_equal(ma_site_hash(a, 8, false), ma_site_hash(b, 8, false));
	/* And what tells stacks apart already: length, truncation, any frame. */
	assert_int_not_equal(ma_site_hash(a, 8, false), ma_site_hash(a, 7, false));
	assert_int_not_equal(ma_site_hash(a, 8, false), ma_site_hash(a, 8, true));
	memcpy(b, a, sizeof a);
	b[7] += 8;
	assert_int_not_equal(ma_site_hash(a, 8, false), ma_site_hash(b, 8, false));
}

static void test_overflow(void **state)
{
	(void)state;
	uintptr_t f[3];
	for (uintptr_t i = 1; i <= 48; i++) {
		stack_of(f, 3, i);
		assert_int_equal(ma_site_intern(f, 3, false, &arena), i);
	}
	/* Full: a new stack goes to site 0, counted once per distinct stack. */
	stack_of(f, 3, 49);
	assert_int_equal(ma_site_intern(f, 3, false, &arena), 0);
	assert_int_equal(ma_site_intern(f, 3, false, &arena), 0);
	stack_of(f, 3, 50);
	assert_int_equal(ma_site_intern(f, 3, false, &arena), 0);
	assert_int_equal(ma_load_relaxed(&ma_sites.overflow_events), 3);
	assert_int_equal(ma_load_relaxed(&ma_sites.overflow_stacks), 2);
	assert_int_equal(ma_load_relaxed(&ma_sites.used), ma_sites.capacity);
	/* Known stacks are still found. */
	stack_of(f, 3, 17);
	assert_int_equal(ma_site_intern(f, 3, false, &arena), 17);
	assert_int_equal(ma_load_relaxed(&ma_sites.overflow_events), 3);
}

static void test_hist_class(void **state)
{
	(void)state;
	assert_int_equal(ma_site_hist_class(0), 0);
	assert_int_equal(ma_site_hist_class(1), 1);
	assert_int_equal(ma_site_hist_class(7), 3);
	assert_int_equal(ma_site_hist_class(8), 4);
	assert_int_equal(ma_site_hist_class(1000), 10);
	assert_int_equal(ma_site_hist_class(UINT64_MAX), MA_SITE_HIST - 1);
	/* The branch-free form's edges: the last classes and the largest request. */
	assert_int_equal(ma_site_hist_class((1ull << 37) - 1), 37);
	assert_int_equal(ma_site_hist_class(1ull << 37), 38);
	assert_int_equal(ma_site_hist_class(1ull << 38), MA_SITE_HIST - 1);
	assert_int_equal(ma_site_hist_class((uint64_t)PTRDIFF_MAX), MA_SITE_HIST - 1);
}

static struct ma_site_event birth(uint64_t size, uint64_t clock)
{
	return (struct ma_site_event){ .blocks = 1, .bytes = (int64_t)size, .birth_sum = clock,
	                               .hist_class = ma_site_hist_class(size) };
}

static struct ma_site_event death(uint64_t size, uint64_t clock)
{
	return (struct ma_site_event){ .frees = 1, .freed_bytes = (int64_t)size, .death_sum = clock,
	                               .hist_class = UINT32_MAX };
}

/* A part's high-water mark (over both parts) and its share at the last peak. */
static void assert_max(const struct ma_site_part *p, uint64_t bytes, uint64_t blocks)
{
	assert_int_equal(p->max_bytes, bytes);
	assert_int_equal(p->max_blocks, blocks);
}

static void assert_at_peak(const struct ma_site_part *p, uint64_t serial, int64_t bytes, int64_t blocks)
{
	assert_int_equal(p->u, serial);
	assert_int_equal(p->g_bytes, bytes);
	assert_int_equal(p->g_blocks, blocks);
}

static void test_part_apply(void **state)
{
	(void)state;
	struct ma_site *s = ma_site_at(1);
	struct ma_site_part *own = &s->own, *shared = &s->shared;
	struct ma_site_event e;
	e = birth(100, 0);
	ma_site_part_apply(own, &e, 0, NULL, false);
	e = birth(1000, 100);
	ma_site_part_apply(own, &e, 0, NULL, false);
	e = death(100, 1100);
	ma_site_part_apply(own, &e, 0, NULL, false);
	assert_int_equal(own->blocks, 2);
	assert_int_equal(own->bytes, 1100);
	assert_int_equal(own->frees, 1);
	assert_int_equal(own->freed_bytes, 100);
	assert_int_equal(own->birth_sum, 100);
	assert_int_equal(own->death_sum, 1100);
	assert_int_equal(ma_site_part_live_bytes(own), 1000);
	assert_int_equal(ma_site_part_live_blocks(own), 1);
	assert_max(own, 1100, 2);
	assert_int_equal(own->hist[7], 1);
	assert_int_equal(own->hist[10], 1);
	/* Another thread's batch in the shared part: the high-water mark counts both parts. */
	e = birth(500, 1100);
	ma_site_part_apply(shared, &e, 0, own, true);
	assert_max(shared, 1500, 2);
	assert_max(own, 1100, 2);
	/* A new global peak since the part last changed (serial 0 -> 1): its live
	 * value then (1000 bytes, 1 block) is saved before this update. */
	e = birth(10, 1600);
	ma_site_part_apply(own, &e, 1, shared, false);
	assert_at_peak(own, 1, 1000, 1);
	assert_int_equal(ma_site_part_live_bytes(own), 1010);
	assert_max(own, 1510, 3);
	/* The same serial again: nothing saved. */
	e = death(10, 1610);
	ma_site_part_apply(own, &e, 1, shared, false);
	assert_at_peak(own, 1, 1000, 1);
	assert_max(own, 1510, 3);

	/* A fork child: counts gone, sites and frames kept. */
	uintptr_t f[2] = { 1, 2 };
	assert_int_equal(ma_site_intern(f, 2, false, &arena), 1);
	ma_site_table_reset_counts();
	assert_int_equal(own->blocks, 0);
	assert_int_equal(shared->bytes, 0);
	assert_max(own, 0, 0);
	assert_int_equal(ma_site_intern(f, 2, false, &arena), 1);
}

/* A fresh table of `buckets` growing up to `max` (the setup's one is dropped: mappings are not reused). */
static void fresh_table(uint64_t buckets, uint64_t max)
{
	memset(&ma_sites, 0, sizeof ma_sites);
	memset(&arena, 0, sizeof arena);
	assert_true(ma_site_table_init(buckets, max));
}

/* A 4-frame stack told apart by k: frames that look like return addresses. */
static void stack_k(uintptr_t *f, uint64_t k)
{
	f[0] = 0x400000 + k * 16;
	f[1] = 0x500000 + (k % 97) * 8;
	f[2] = 0x600000 + (k / 97) * 8;
	f[3] = 0x7000;
}

static size_t bucket_array_bytes(uint64_t n)
{
	return sizeof(struct ma_site_buckets) + n * sizeof(ma_au64);
}

/*
 * 2000 stacks from a 64-bucket table: it doubles 6 times (to 4096 buckets,
 * 3072 sites).  Every stack keeps the site it got first, counts made
 * before a growth are still there after it, and none overflows.
 */
static void test_grow_exact_counts(void **state)
{
	(void)state;
	fresh_table(64, 4096);
	assert_int_equal(ma_sites.capacity, 3073);
	assert_int_equal(ma_site_table_buckets(), 64);
	enum { N = 2000 };
	uintptr_t f[4];
	for (uint64_t k = 1; k <= N; k++) {
		stack_k(f, k);
		assert_int_equal(ma_site_intern(f, 4, false, &arena), k);
		/* Count k % 5 + 1 births of k bytes at it. */
		struct ma_site_event e = { .blocks = 1, .bytes = (int64_t)k, .hist_class = ma_site_hist_class(k) };
		for (uint64_t j = 0; j < k % 5 + 1; j++)
			ma_site_part_apply(&ma_site_at((uint32_t)k)->own, &e, 0, NULL, false);
		if (k % 100 == 0) /* the earlier stacks, looked up again, after the growths so far */
			for (uint64_t j = 1; j <= k; j += 7) {
				stack_k(f, j);
				assert_int_equal(ma_site_intern(f, 4, false, &arena), j);
			}
	}
	assert_int_equal(ma_load_relaxed(&ma_sites.growths), 6);
	assert_int_equal(ma_site_table_buckets(), 4096);
	for (uint64_t k = 1; k <= N; k++) {
		stack_k(f, k);
		assert_int_equal(ma_site_intern(f, 4, false, &arena), k);
		const struct ma_site *s = ma_site_at((uint32_t)k);
		assert_int_equal(s->own.blocks, k % 5 + 1);
		assert_int_equal(s->own.bytes, (k % 5 + 1) * k);
		assert_memory_equal(s->frames, f, sizeof f);
	}
	assert_int_equal(ma_load_relaxed(&ma_sites.used), N + 1);
	assert_int_equal(ma_load_relaxed(&ma_sites.lost_races), 0);
	assert_int_equal(ma_load_relaxed(&ma_sites.overflow_events), 0);
	assert_int_equal(ma_load_relaxed(&ma_sites.overflow_stacks), 0);
	/* What is mapped: every bucket array (the old ones stay), the directory
	 * (3073 sites: 13 chunks' entries), the chunks used (2001 sites: 8) and
	 * their sites' entries in `at` (the rest of it is never touched), the overflow set. */
	size_t arrays = 0;
	for (uint64_t n = 64; n <= 4096; n *= 2)
		arrays += bucket_array_bytes(n);
	assert_int_equal(ma_load_relaxed(&ma_sites.mapped_bytes),
	                 arrays + 13 * sizeof(void *) +
	                         8 * MA_SITE_CHUNK * (sizeof(struct ma_site) + sizeof(struct ma_site *)) +
	                         (1u << 16) * sizeof(ma_au64));
}

/* Threads inserting the same stacks, in different orders, while the table grows. */
enum { GT_THREADS = 4, GT_STACKS = 3000, GT_ROUNDS = 12 };

struct grow_thread {
	unsigned id;
	pthread_barrier_t *go;
	uint32_t idx[GT_STACKS + 1];
};

static void *grow_worker(void *arg)
{
	struct grow_thread *g = arg;
	struct ma_site_arena my = { 0 };
	uintptr_t f[4];
	pthread_barrier_wait(g->go);
	for (uint64_t i = 0; i < GT_STACKS; i++) {
		/* Thread 0 forwards, 1 backwards, the others strided from different starts. */
		uint64_t k = g->id == 0 ? i : g->id == 1 ? GT_STACKS - 1 - i : (i * 7 + g->id * 1000) % GT_STACKS;
		k += 1;
		stack_k(f, k);
		uint32_t idx = ma_site_intern(f, 4, false, &my);
		g->idx[k] = idx;
		if (idx) /* one birth of k bytes at the site, from this thread */
			ma_add_relaxed(&ma_site_at(idx)->shared.blocks, 1), ma_add_relaxed(&ma_site_at(idx)->shared.bytes, k);
	}
	return NULL;
}

static void test_grow_threads(void **state)
{
	(void)state;
	static struct grow_thread g[GT_THREADS];
	for (unsigned round = 0; round < GT_ROUNDS; round++) {
		fresh_table(64, 8192);
		pthread_barrier_t go;
		pthread_barrier_init(&go, NULL, GT_THREADS);
		pthread_t th[GT_THREADS];
		for (unsigned t = 0; t < GT_THREADS; t++) {
			memset(&g[t], 0, sizeof g[t]);
			g[t].id = t;
			g[t].go = &go;
			assert_int_equal(pthread_create(&th[t], NULL, grow_worker, &g[t]), 0);
		}
		for (unsigned t = 0; t < GT_THREADS; t++)
			pthread_join(th[t], NULL);
		pthread_barrier_destroy(&go);
		/* 3000 sites: 64 -> 8192 buckets, 7 growths (an array counts what its
		 * predecessor may still bring, 7/8 of it: 4096 grows at 2568 entries); nothing overflowed. */
		assert_int_equal(ma_load_relaxed(&ma_sites.growths), 7);
		assert_int_equal(ma_site_table_buckets(), 8192);
		assert_int_equal(ma_load_relaxed(&ma_sites.overflow_events), 0);
		/* Each stack got one site, the same in every thread, its own; each site counts every thread once. */
		static uint8_t seen[8192];
		memset(seen, 0, sizeof seen);
		uintptr_t f[4];
		for (uint64_t k = 1; k <= GT_STACKS; k++) {
			uint32_t idx = g[0].idx[k];
			assert_true(idx > 0 && idx < ma_sites.capacity);
			for (unsigned t = 1; t < GT_THREADS; t++)
				assert_int_equal(g[t].idx[k], idx);
			assert_int_equal(seen[idx], 0);
			seen[idx] = 1;
			const struct ma_site *s = ma_site_at(idx);
			assert_int_equal(s->shared.blocks, GT_THREADS);
			assert_int_equal(s->shared.bytes, GT_THREADS * k);
			stack_k(f, k);
			assert_memory_equal(s->frames, f, sizeof f);
			assert_int_equal(ma_site_intern(f, 4, false, &arena), idx); /* and found again after */
		}
		/* Sites claimed = stacks + sites that lost a race (claimed, never published). */
		assert_int_equal(ma_load_relaxed(&ma_sites.used), GT_STACKS + 1 + ma_load_relaxed(&ma_sites.lost_races));
	}
}

/* Beyond MOD_ALLOC_BUCKETS_MAX (here 256: 192 sites), new stacks go to the overflow site, counted exactly. */
static void test_grow_to_cap(void **state)
{
	(void)state;
	fresh_table(64, 256);
	assert_int_equal(ma_sites.capacity, 193);
	uintptr_t f[4];
	for (unsigned pass = 0; pass < 2; pass++)
		for (uint64_t k = 1; k <= 300; k++) {
			stack_k(f, k);
			assert_int_equal(ma_site_intern(f, 4, false, &arena), k <= 192 ? k : 0);
		}
	assert_int_equal(ma_load_relaxed(&ma_sites.growths), 2);
	assert_int_equal(ma_site_table_buckets(), 256);
	assert_int_equal(ma_load_relaxed(&ma_sites.overflow_events), 2 * 108);
	assert_int_equal(ma_load_relaxed(&ma_sites.overflow_stacks), 108);
	assert_int_equal(ma_load_relaxed(&ma_sites.used), ma_sites.capacity);
	/* A max below the start size: the start size, no growth. */
	fresh_table(128, 64);
	assert_int_equal(ma_sites.capacity, 97);
	for (uint64_t k = 1; k <= 100; k++) {
		stack_k(f, k);
		assert_int_equal(ma_site_intern(f, 4, false, &arena), k <= 96 ? k : 0);
	}
	assert_int_equal(ma_load_relaxed(&ma_sites.growths), 0);
	assert_int_equal(ma_load_relaxed(&ma_sites.overflow_stacks), 4);
}

/* A fork child whose parent was growing the table in another thread: the child finishes the copy. */
static void test_grow_half_done(void **state)
{
	(void)state;
	fresh_table(64, 1024);
	uintptr_t f[4];
	for (uint64_t k = 1; k <= 40; k++) {
		stack_k(f, k);
		assert_int_equal(ma_site_intern(f, 4, false, &arena), k);
	}
	/* As if another thread had linked a 128-bucket array and stopped there. */
	struct ma_site_buckets *b = ma_load_relaxed(&ma_sites.cur);
	struct ma_site_buckets *nb = ma_os_map(bucket_array_bytes(128));
	assert_non_null(nb);
	nb->mask = 127;
	nb->limit = 96;
	nb->hard = 112;
	nb->bytes = bucket_array_bytes(128);
	ma_store_relaxed(&nb->count, 56); /* what the copy may bring: 7/8 of 64 */
	ma_store_relaxed(&nb->prev, b);
	ma_store_relaxed(&b->next, nb);
	/* The old array is still current: inserts go on there; a stack in it is found. */
	stack_k(f, 41);
	assert_int_equal(ma_site_intern(f, 4, false, &arena), 41);
	ma_site_table_reset_counts(); /* what the fork child runs */
	assert_ptr_equal(ma_load_relaxed(&ma_sites.cur), nb);
	assert_null(ma_load_relaxed(&nb->prev));
	for (uint64_t k = 1; k <= 50; k++) {
		stack_k(f, k);
		assert_int_equal(ma_site_intern(f, 4, false, &arena), k);
	}
	/* Every slot of the old array is settled: a site or frozen. */
	for (uint64_t i = 0; i <= b->mask; i++)
		assert_int_not_equal(ma_load_relaxed(&b->slot[i]), 0);
}

int main(void)
{
	ut_init();
#define T(f) cmocka_unit_test_setup(f, setup)
	const struct CMUnitTest tests[] = {
		T(test_insert_and_lookup),
		T(test_hash_positions),
		T(test_overflow),
		T(test_hist_class),
		T(test_part_apply),
		T(test_grow_exact_counts),
		T(test_grow_threads),
		T(test_grow_to_cap),
		T(test_grow_half_done),
	};
	return cmocka_run_group_tests_name("site", tests, NULL, NULL);
}
