/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_tier2.c: the traced allocation and free (tier2.c) over a fake real
 * allocator, checked through the frozen site table the writers get
 * (ma_tier2_freeze): exact per-site blocks, bytes, frees, live, high-water
 * mark, at-peak share, lifetimes and size histogram; another thread's
 * changes through its delta cache; and the uncounted paths once counting
 * has stopped.  ma_g is set as init.c sets it with call sites on.  The
 * library's own span is made empty (and no module is the library's, the core
 * being linked into this program) so that the walk keeps every frame, and
 * MOD_ALLOC_DEPTH is 1: a stack is the return address into site_one or
 * site_two (truncated), whatever called them.
 */
#define _GNU_SOURCE
#include "ut.h"

#include <string.h>

#include "block.h"
#include "counters.h"
#include "fake_real.h"
#include "global.h"
#include "modules.h"
#include "init.h"
#include "real.h"
#include "site.h"
#include "stack.h"
#include "tier2.h"
#include "tier2_report.h"

static struct ma_thread *t, *saved_owner;
static uint32_t saved_cookie;

static int setup(void **state)
{
	(void)state;
	fake_install();
	saved_cookie = ma_g.cookie;
	ma_g.cookie = 0x5eed1235u;
	ma_g.hdr_log2 = MA_HDR_MAX_LOG2;
	ma_g.hdr_bytes = MA_HDR_BYTES_TIER2;
	ma_g.backtraces = true;
	ma_g.epoch = 1;
	ma_store_relaxed(&ma_g.mode, MA_MODE_TRACED);
	struct ma_options o;
	ma_options_parse(&o, NULL, false);
	o.buckets = 64;
	o.depth = 1;
	assert_true(ma_tier2_init(&o));
	/* The core is linked into this program: no module is the library's own. */
	uintptr_t lo, hi;
	assert_true(ma_modules_init(0, &lo, &hi));
	ma_stack_set_self(0, 0);
	saved_owner = atomic_load(&ma_live.owner);
	t = ma_registry_claim();
	assert_non_null(t);
	ma_hdr_keys_set(t, 1);
	t->is_owner = true;
	ma_live_set_owner(t);
	ma_live_reset();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ma_store_relaxed(&ma_g.mode, 0);
	ma_g.backtraces = false;
	ma_g.cookie = saved_cookie;
	ma_live_set_owner(saved_owner);
	unsigned live = fake_live(), unknown = fake.unknown;
	fake_uninstall();
	if (live || unknown)
		fail_msg("fake allocator: %u blocks leaked, %u unknown pointers", live, unknown);
	return 0;
}

/* The shim's part: the walk starts at this frame. */
static __attribute__((noipa)) void *alloc_at(struct ma_thread *r, size_t n)
{
	void *p = ma_tier2_alloc(r, MA_CALL_malloc, n, n, false, (uintptr_t)__builtin_frame_address(0));
	__asm__ volatile("" : "+r"(p));
	return p;
}

/* Two call sites. */
static __attribute__((noipa)) void *site_one(struct ma_thread *r, size_t n)
{
	void *p = alloc_at(r, n);
	__asm__ volatile("" : "+r"(p));
	return p;
}

static __attribute__((noipa)) void *site_two(struct ma_thread *r, size_t n)
{
	void *p = alloc_at(r, n);
	__asm__ volatile("" : "+r"(p));
	return p;
}

static void xfree(struct ma_thread *r, void *p)
{
	ma_tier2_free(r, MA_CALL_free, p);
}

static void test_per_site_accounting(void **state)
{
	(void)state;
	/* The allocation clock is the owner's bytes: births and deaths below. */
	void *a = site_one(t, 100);  /* born at 0 */
	void *b = site_one(t, 1000); /* born at 100; the peak: 1100 bytes, 2 blocks, clock 1100 */
	xfree(t, a);                 /* dies at 1100 */
	void *c = site_one(t, 10);   /* born at 1100 */
	void *d = site_two(t, 7);    /* born at 1110 */
	xfree(t, d);                 /* dies at 1117 */
	assert_non_null(b);
	assert_non_null(c);
	/* Every block of the run has the Tier 2 header below it. */
	assert_int_equal(fake.last_size[F_MALLOC], 7 + MA_HDR_BYTES_TIER2);
	uint32_t one = ma_hdr_site_of(b)->site, two;
	assert_int_equal(ma_hdr_site_of(c)->site, one);
	assert_int_equal(ma_hdr_site_of(b)->birth, 100);
	assert_int_equal(ma_hdr_site_of(c)->birth, 1100);
	assert_int_equal(ma_load_relaxed(&ma_live.peak.bytes), 1100);
	assert_int_equal(ma_load_relaxed(&ma_live.peak.blocks), 2);

	struct ma_t2_frozen f;
	assert_true(ma_tier2_freeze(&f));
	assert_int_equal(f.count, 2);
	assert_int_equal(f.clock_end, 1117);
	assert_int_equal(f.clock_peak, 1100);
	assert_int_equal(f.truncated_events, 4); /* every stack was cut at depth 1 */
	assert_int_equal(f.overflow_events, 0);
	/* Bytes descending: site one, then site two. */
	const struct ma_site_total *s1 = &f.sites[f.order[0]], *s2 = &f.sites[f.order[1]];
	assert_int_equal(s1->index, one);
	two = s2->index;
	assert_int_not_equal(two, one);
	assert_int_not_equal(two, 0);
	assert_false(s1->is_overflow);
	assert_int_equal(s1->nframes, 1);
	assert_true(s1->truncated);
	assert_int_equal(s2->nframes, 1);
	assert_int_not_equal(s1->frames[0], s2->frames[0]);

	assert_int_equal(s1->blocks, 3);
	assert_int_equal(s1->bytes, 1110);
	assert_int_equal(s1->frees, 1);
	assert_int_equal(s1->live_bytes, 1010);
	assert_int_equal(s1->live_blocks, 2);
	assert_int_equal(s1->max_bytes, 1100);
	assert_int_equal(s1->max_blocks, 2);
	assert_int_equal(s1->at_peak_bytes, 1100);
	assert_int_equal(s1->at_peak_blocks, 2);
	/* a: 1100 - 0, b: 1117 - 100 (live: to the end), c: 1117 - 1100 */
	assert_int_equal(s1->lifetime_total, 1100 + 1017 + 17);
	assert_int_equal(s1->hist[ma_site_hist_class(100)], 1);
	assert_int_equal(s1->hist[ma_site_hist_class(1000)], 1);
	assert_int_equal(s1->hist[ma_site_hist_class(10)], 1);

	assert_int_equal(s2->blocks, 1);
	assert_int_equal(s2->bytes, 7);
	assert_int_equal(s2->frees, 1);
	assert_int_equal(s2->live_bytes, 0);
	assert_int_equal(s2->live_blocks, 0);
	assert_int_equal(s2->max_bytes, 7);
	assert_int_equal(s2->max_blocks, 1);
	assert_int_equal(s2->at_peak_bytes, 0);
	assert_int_equal(s2->lifetime_total, 7);
	assert_int_equal(s2->hist[ma_site_hist_class(7)], 1);
	ma_tier2_release(&f);

	xfree(t, b);
	xfree(t, c);
	assert_int_equal(fake.calls[F_MALLOC], 4);
	assert_int_equal(fake.calls[F_FREE], 4);
}

static void test_other_thread_through_its_cache(void **state)
{
	(void)state;
	struct ma_thread *o = ma_registry_claim();
	assert_non_null(o);
	ma_hdr_keys_set(o, 1);
	o->is_owner = false;
	void *p = site_one(o, 300);
	void *q = site_one(o, 200);
	xfree(o, q);
	uint32_t idx = ma_hdr_site_of(p)->site;
	assert_int_not_equal(idx, 0);
	/* Pending in o's cache, not yet in the site's shared part; the report adds it. */
	assert_int_equal(ma_load_relaxed(&ma_site_at(idx)->shared.blocks), 0);
	assert_int_equal(ma_load_relaxed(&ma_site_at(idx)->own.blocks), 0);
	struct ma_t2_frozen f;
	assert_true(ma_tier2_freeze(&f));
	assert_int_equal(f.count, 1);
	const struct ma_site_total *s = &f.sites[f.order[0]];
	assert_int_equal(s->index, idx);
	assert_int_equal(s->blocks, 2);
	assert_int_equal(s->bytes, 500);
	assert_int_equal(s->frees, 1);
	assert_int_equal(s->live_bytes, 300);
	assert_int_equal(s->live_blocks, 1);
	ma_tier2_release(&f);
	/* The thread exits: its cache is flushed into the shared part. */
	ma_tier2_thread_exit(o);
	assert_int_equal(ma_load_relaxed(&ma_site_at(idx)->shared.blocks), 2);
	assert_int_equal(ma_load_relaxed(&ma_site_at(idx)->shared.bytes), 500);
	assert_int_equal(ma_load_relaxed(&ma_site_at(idx)->shared.freed_bytes), 200);
	/* A record reused by another thread starts a new thread state. */
	ma_hdr_keys_set(o, 1);
	xfree(o, p);
	ma_live_release(o);
}

/* Read from inside the real free, before the block is gone. */
static void *kept_block;
static uint64_t kept_tag_at_free = 1;

static void read_kept_tag(void)
{
	kept_tag_at_free = ma_hdr_of(kept_block)->tag;
}

static void test_counting_stopped(void **state)
{
	(void)state;
	void *kept = site_one(t, 60);
	struct ma_snapshot s0, s1;
	ma_snapshot_thread(t, &s0);
	ma_store_relaxed(&ma_g.mode, MA_MODE_TRACED | MA_MODE_FROZEN);
	/* A new block is the real allocator's own: no header, not counted. */
	void *p = site_one(t, 50);
	assert_non_null(p);
	assert_int_equal(fake.calls[F_MALLOC], 2);
	assert_int_equal(fake.last_size[F_MALLOC], 50);
	/* A counted block given back uncounted: its tag cleared, its base freed. */
	kept_block = kept;
	fake.reenter_free = read_kept_tag;
	xfree(t, kept);
	assert_int_equal(kept_tag_at_free, 0);
	assert_ptr_equal(fake.last_ptr[F_FREE], (char *)kept - MA_HDR_BYTES_TIER2);
	ma_snapshot_thread(t, &s1);
	assert_int_equal(s1.blocks, s0.blocks);
	assert_int_equal(s1.frees, s0.frees);
	assert_int_equal(s1.calls[MA_CALL_malloc], s0.calls[MA_CALL_malloc]);
	assert_int_equal(s1.calls[MA_CALL_free], s0.calls[MA_CALL_free]);
	assert_int_equal(ma_load_relaxed(&t->busy), 0);
	ma_real.next_free(p);
	/* The shim's path when counting stops after it looked (it counted the
	 * call and made the real call with room for a header): the real block as
	 * it is, the call taken back, nothing counted. */
	ma_snapshot_thread(t, &s0);
	ma_own_add(&t->calls[MA_CALL_malloc], 1);
	char *base = ma_real.next_malloc(50 + MA_HDR_BYTES_TIER2);
	assert_ptr_equal(ma_tier2_born(t, MA_CALL_malloc, 50, base), base);
	ma_snapshot_thread(t, &s1);
	assert_int_equal(s1.calls[MA_CALL_malloc], s0.calls[MA_CALL_malloc]);
	assert_int_equal(s1.blocks, s0.blocks);
	assert_int_equal(s1.bytes, s0.bytes);
	assert_int_equal(ma_load_relaxed(&t->busy), 0);
	ma_real.next_free(base);
}

int main(void)
{
	ut_init();
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	/* The first test's clock figures assume no record but its own has allocated. */
	const struct CMUnitTest tests[] = {
		T(test_per_site_accounting),
		T(test_other_thread_through_its_cache),
		T(test_counting_stopped),
	};
	return cmocka_run_group_tests_name("tier2", tests, NULL, NULL);
}
