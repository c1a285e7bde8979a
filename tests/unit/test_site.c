/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_site.c: the call-site table (site.h, site.c) on its own: insert and
 * look up, frames copied into the caller's arena, the overflow site when
 * the table is full, the counters of one part (ma_site_part_apply) and the
 * fork reset.  Each test maps a fresh table of 64 buckets (48 sites + the
 * overflow site 0).
 */
#include "ut.h"

#include <string.h>

#include "site.h"

static struct ma_site_arena arena;

static int setup(void **state)
{
	(void)state;
	memset(&ma_sites, 0, sizeof ma_sites);
	memset(&arena, 0, sizeof arena);
	assert_true(ma_site_table_init(64));
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
	const struct ma_site *s = &ma_sites.sites[1];
	assert_int_equal(s->nframes, 5);
	assert_false(s->truncated);
	assert_ptr_not_equal(s->frames, a);
	assert_memory_equal(s->frames, a, sizeof a);
	assert_true((const char *)s->frames >= arena.cur - 6 * 5 * sizeof(uintptr_t) &&
	            (const char *)s->frames < arena.end);
	a[0] ^= 1; /* the caller's buffer changes: the site does not */
	assert_int_equal(ma_site_intern(a, 5, false, &arena), 6);
	assert_int_not_equal(ma_sites.sites[1].frames[0], a[0]);
	assert_int_equal(ma_site_hash(a, 5, false), ma_sites.sites[6].hash);
	assert_int_equal(ma_load_relaxed(&ma_sites.arena_bytes), 256 * 1024);
	assert_int_equal(ma_load_relaxed(&ma_sites.overflow_events), 0);
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
	struct ma_site *s = &ma_sites.sites[1];
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

int main(void)
{
	ut_init();
#define T(f) cmocka_unit_test_setup(f, setup)
	const struct CMUnitTest tests[] = {
		T(test_insert_and_lookup),
		T(test_overflow),
		T(test_hist_class),
		T(test_part_apply),
	};
	return cmocka_run_group_tests_name("site", tests, NULL, NULL);
}
