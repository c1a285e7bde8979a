/* SPDX-License-Identifier: Apache-2.0 */
/* test_counters.c: the record registry (thread.c) and the live counter and snapshots (counters.c). */
#include "ut.h"

#include <string.h>

#include <stdatomic.h>

#include "core.h"
#include "counters.h"
#include "init.h"
#include "thread.h"

static unsigned registry_len(void)
{
	unsigned n = 0;
	for (struct ma_thread *r = ma_registry_first(); r; r = r->next)
		n++;
	return n;
}

static unsigned registry_in_use(void)
{
	unsigned n = 0;
	for (struct ma_thread *r = ma_registry_first(); r; r = r->next)
		n += ma_load_relaxed(&r->in_use) != 0;
	return n;
}

/* ma_own_add (atomic.h): every width adds exactly, and never into its neighbour. */
static void test_own_add_widths(void **state)
{
	(void)state;
	struct {
		ma_au32 a, b;
		ma_au64 c;
		ma_ai64 d;
		ma_au64 e;
	} x;
	atomic_init(&x.a, UINT32_MAX);
	atomic_init(&x.b, 7);
	atomic_init(&x.c, 0);
	atomic_init(&x.d, 5);
	atomic_init(&x.e, 11);
	ma_own_add(&x.a, 1);  /* wraps: a 64-bit add here would carry into b */
	assert_int_equal(ma_load_relaxed(&x.a), 0);
	assert_int_equal(ma_load_relaxed(&x.b), 7);
	ma_own_add(&x.b, 3);
	assert_int_equal(ma_load_relaxed(&x.b), 10);
	uint64_t big = (uint64_t)1 << 40;
	ma_own_add(&x.c, big);
	ma_own_add(&x.c, 1);
	assert_true(ma_load_relaxed(&x.c) == big + 1);
	int64_t minus = -12;
	ma_own_add(&x.d, minus);
	assert_true(ma_load_relaxed(&x.d) == -7);
	ma_own_add(&x.e, 0);
	assert_int_equal(ma_load_relaxed(&x.e), 11);
	assert_int_equal(ma_load_relaxed(&x.a), 0);
}

static void test_claim_release_reuse(void **state)
{
	(void)state;
	unsigned used0 = registry_in_use();
	struct ma_thread *a = ma_registry_claim();
	struct ma_thread *b = ma_registry_claim();
	struct ma_thread *c = ma_registry_claim();
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_true(a != b && b != c && a != c);
	assert_int_equal(ma_load_relaxed(&b->in_use), 1);
	assert_int_equal(registry_in_use(), used0 + 3);
	assert_int_equal((uintptr_t)b % MA_CACHELINE, 0);

	/* A released record keeps its sums and is the next one claimed:
	 * every record before it in the list is in use (claim takes the first free one). */
	ma_own_add(&b->blocks, 5);
	ma_own_add(&b->bytes, 500);
	ma_live_release(b);
	assert_int_equal(ma_load_relaxed(&b->in_use), 0);
	assert_int_equal(registry_in_use(), used0 + 2);
	struct ma_thread *b2 = ma_registry_claim();
	assert_ptr_equal(b2, b);
	assert_int_equal(ma_load_relaxed(&b2->blocks), 5);
	assert_int_equal(ma_load_relaxed(&b2->bytes), 500);

	/* An owner's record holds the owner's live share: released, it stays in use. */
	b2->is_owner = true;
	ma_live_release(b2);
	assert_int_equal(ma_load_relaxed(&b2->in_use), 1);
	struct ma_thread *next = ma_registry_claim();
	assert_ptr_not_equal(next, b2);
	ma_live_release(next);
	b2->is_owner = false;
	ma_live_release(b2);
	ma_live_release(a);
	ma_live_release(c);
	assert_int_equal(registry_in_use(), used0);
}

static void test_chunk_growth(void **state)
{
	(void)state;
	/* More records than one chunk (64) holds: new chunks, all distinct, none lost. */
	enum { N = 150 };
	static struct ma_thread *r[N];
	unsigned len0 = registry_len(), used0 = registry_in_use();
	for (unsigned i = 0; i < N; i++) {
		r[i] = ma_registry_claim();
		assert_non_null(r[i]);
		for (unsigned j = 0; j < i; j++)
			assert_ptr_not_equal(r[i], r[j]);
	}
	assert_int_equal(registry_in_use(), used0 + N);
	assert_true(registry_len() >= len0 + N - (len0 - used0));
	assert_int_equal(registry_len() % 64, 0);
	struct ma_snapshot s;
	ma_snapshot_process(&s);
	assert_int_equal(s.threads, used0 + N);
	for (unsigned i = 0; i < N; i++)
		ma_live_release(r[i]);
	unsigned len1 = registry_len();
	assert_int_equal(registry_in_use(), used0);
	/* Claiming them again maps nothing new. */
	for (unsigned i = 0; i < N; i++)
		r[i] = ma_registry_claim();
	assert_int_equal(registry_len(), len1);
	for (unsigned i = 0; i < N; i++)
		ma_live_release(r[i]);
}

static void test_snapshot_sums(void **state)
{
	(void)state;
	struct ma_snapshot s0, s1, st;
	ma_snapshot_process(&s0);
	struct ma_thread *a = ma_registry_claim();
	struct ma_thread *b = ma_registry_claim();
	struct ma_snapshot a0, b0;
	ma_snapshot_thread(a, &a0);
	ma_snapshot_thread(b, &b0);
	ma_own_add(&a->blocks, 3);
	ma_own_add(&a->bytes, 300);
	ma_own_add(&a->frees, 1);
	ma_own_add(&a->freed_bytes, 100);
	ma_own_add(&a->calls[MA_CALL_malloc], 3);
	ma_own_add(&a->failed, 2);
	ma_own_add(&b->blocks, 4);
	ma_own_add(&b->bytes, 40);
	ma_own_add(&b->frees, 4);
	ma_own_add(&b->freed_bytes, 40);
	ma_own_add(&b->inherited_frees, 6);
	ma_own_add(&b->inherited_freed_bytes, 66);
	ma_own_add(&b->foreign_frees, 7);
	ma_own_add(&b->calls[MA_CALL_free], 11);
	ma_snapshot_process(&s1);
	assert_int_equal(s1.blocks - s0.blocks, 7);
	assert_int_equal(s1.bytes - s0.bytes, 340);
	assert_int_equal(s1.frees - s0.frees, 5);
	assert_int_equal(s1.freed_bytes - s0.freed_bytes, 140);
	assert_int_equal(s1.inherited_frees - s0.inherited_frees, 6);
	assert_int_equal(s1.inherited_freed_bytes - s0.inherited_freed_bytes, 66);
	assert_int_equal(s1.foreign_frees - s0.foreign_frees, 7);
	assert_int_equal(s1.failed - s0.failed, 2);
	assert_int_equal(s1.calls[MA_CALL_malloc] - s0.calls[MA_CALL_malloc], 3);
	assert_int_equal(s1.calls[MA_CALL_free] - s0.calls[MA_CALL_free], 11);
	assert_int_equal(s1.threads, s0.threads + 2);
	/* live = allocated - freed, never counting inherited frees. */
	assert_int_equal(s1.live_bytes, s1.bytes - s1.freed_bytes);
	assert_int_equal(s1.live_blocks, s1.blocks - s1.frees);

	ma_snapshot_thread(a, &st);
	assert_int_equal(st.blocks - a0.blocks, 3);
	assert_int_equal(st.threads, 1);
	/* A released record still counts in the totals, not in threads. */
	ma_live_release(a);
	ma_live_release(b);
	struct ma_snapshot s2;
	ma_snapshot_process(&s2);
	assert_int_equal(s2.blocks, s1.blocks);
	assert_int_equal(s2.threads, s0.threads);
}

static void test_snapshot_thread_live_never_negative(void **state)
{
	(void)state;
	struct ma_thread *a = ma_registry_claim();
	struct ma_snapshot s;
	ma_snapshot_thread(a, &s);
	/* A thread that frees more than it allocated (blocks from other threads). */
	ma_own_add(&a->frees, s.blocks + 10);
	ma_own_add(&a->freed_bytes, s.bytes + 1000);
	ma_snapshot_thread(a, &s);
	assert_int_equal(s.live_bytes, 0);
	assert_int_equal(s.live_blocks, 0);
	ma_live_release(a);
}

/* The owner: its record, set up as init.c's thread_started does for the first thread. */
static struct ma_thread *owner_rec(void)
{
	struct ma_thread *o = ma_registry_claim();
	/* The first thread of a process gets a fresh record; a reused one here
	 * carries earlier tests' sums, which are its share of the live heap. */
	ma_store_relaxed(&o->blocks, 0);
	ma_store_relaxed(&o->bytes, 0);
	ma_store_relaxed(&o->frees, 0);
	ma_store_relaxed(&o->freed_bytes, 0);
	o->is_owner = true;
	o->pend_bytes = o->pend_blocks = o->pend_clock = 0;
	atomic_store(&ma_live.owner, o);
	return o;
}

/* Owner records are never released; the test hands ownership back to the process's own. */
static struct ma_thread *process_owner;

static void drop_owner(struct ma_thread *o)
{
	o->is_owner = false;
	atomic_store(&ma_live.owner, process_owner);
	ma_live_release(o);
}

/* A block born / dying as the core accounts it: record first, then the live counter. */
static void born(struct ma_thread *r, int64_t size)
{
	ma_own_add(&r->blocks, 1);
	ma_own_add(&r->bytes, (uint64_t)size);
	ma_live_grow(r, size, 1, true, ma_load_relaxed(&r->busy) > 1);
}

static void died(struct ma_thread *r, int64_t size)
{
	ma_own_add(&r->frees, 1);
	ma_own_add(&r->freed_bytes, (uint64_t)size);
	ma_live_shrink(r, size, 1);
}

static void assert_peak(uint64_t bytes, uint64_t blocks)
{
	assert_int_equal(ma_load_relaxed(&ma_live.peak.bytes), bytes);
	assert_int_equal(ma_load_relaxed(&ma_live.peak.blocks), blocks);
}

static void test_owner_exact_peak(void **state)
{
	(void)state;
	struct ma_thread *o = owner_rec();
	ma_live_reset();
	int64_t base = ma_live_owner_bytes(o);
	assert_int_equal(base, 0);
	uint64_t serial = ma_load_relaxed(&ma_live.peak.serial);
	born(o, 100);
	assert_int_equal(ma_live_owner_bytes(o), 100);
	assert_int_equal(ma_live_owner_blocks(o), 1);
	assert_peak(100, 1);
	born(o, 50);
	assert_peak(150, 2);
	died(o, 100);
	died(o, 50);
	assert_int_equal(ma_live_owner_bytes(o), 0);
	assert_int_equal(ma_live_owner_blocks(o), 0);
	assert_peak(150, 2);
	assert_int_equal(ma_load_relaxed(&ma_live.peak.serial), serial + 2);
	/* The owner's updates never touch the shared part. */
	assert_int_equal(ma_load_relaxed(&ma_live.shared_bytes), 0);

	/* The same maximum reached again with more blocks: the latest instant wins. */
	born(o, 60);
	born(o, 40);
	born(o, 50);
	assert_peak(150, 3);
	/* ...and with fewer blocks too. */
	died(o, 60);
	died(o, 40);
	died(o, 50);
	born(o, 150);
	assert_peak(150, 1);
	/* A zero-byte block at the peak is a later instant with more blocks. */
	born(o, 0);
	assert_peak(150, 2);
	/* Going down never moves the peak. */
	died(o, 150);
	died(o, 0);
	assert_peak(150, 2);
	born(o, 151);
	assert_peak(151, 1);
	died(o, 151);
	drop_owner(o);
}

static void test_non_owner_batching(void **state)
{
	(void)state;
	struct ma_thread *o = owner_rec();
	struct ma_thread *n = ma_registry_claim();
	n->is_owner = false;
	n->pend_bytes = n->pend_blocks = n->pend_clock = 0;
	ma_live_reset();
	/* Below every threshold: held in the record. */
	born(n, MA_LIVE_SLACK_BYTES - 1);
	assert_int_equal(n->pend_bytes, MA_LIVE_SLACK_BYTES - 1);
	assert_int_equal(n->pend_clock, MA_LIVE_SLACK_BYTES - 1);
	assert_int_equal(ma_load_relaxed(&ma_live.shared_bytes), 0);
	assert_int_equal(ma_load_relaxed(&ma_live.clock.shared), 0);
	assert_peak(0, 0);
	/* One byte more reaches the byte threshold: everything pending goes out at once. */
	born(n, 1);
	assert_int_equal(n->pend_bytes, 0);
	assert_int_equal(n->pend_blocks, 0);
	assert_int_equal(n->pend_clock, 0);
	assert_int_equal(ma_load_relaxed(&ma_live.shared_bytes), MA_LIVE_SLACK_BYTES);
	assert_int_equal(ma_load_relaxed(&ma_live.shared_blocks), 2);
	assert_int_equal(ma_load_relaxed(&ma_live.clock.shared), MA_LIVE_SLACK_BYTES);
	assert_peak(MA_LIVE_SLACK_BYTES, 2);

	/* The block threshold: 255 empty blocks wait, the 256th flushes. */
	for (int i = 0; i < MA_LIVE_SLACK_BLOCKS - 1; i++)
		born(n, 0);
	assert_int_equal(ma_load_relaxed(&ma_live.shared_blocks), 2);
	born(n, 0);
	assert_int_equal(ma_load_relaxed(&ma_live.shared_blocks), 2 + MA_LIVE_SLACK_BLOCKS);
	assert_peak(MA_LIVE_SLACK_BYTES, 2 + MA_LIVE_SLACK_BLOCKS);

	/* Negative thresholds flush too, and never raise the peak. */
	died(n, MA_LIVE_SLACK_BYTES - 1);
	assert_int_equal(ma_load_relaxed(&ma_live.shared_bytes), MA_LIVE_SLACK_BYTES);
	died(n, 1);
	assert_int_equal(ma_load_relaxed(&ma_live.shared_bytes), 0);
	assert_int_equal(ma_load_relaxed(&ma_live.shared_blocks), MA_LIVE_SLACK_BLOCKS);
	for (int i = 0; i < MA_LIVE_SLACK_BLOCKS; i++)
		died(n, 0);
	assert_int_equal(ma_load_relaxed(&ma_live.shared_blocks), 0);
	assert_peak(MA_LIVE_SLACK_BYTES, 2 + MA_LIVE_SLACK_BLOCKS);

	/* Frees never advance the allocation clock; allocations do, even when frees
	 * cancel their bytes: 64 KiB of clock flushes with little live pending. */
	for (int i = 0; i < 16; i++) {
		born(n, 4096);
		if (i < 15)
			assert_int_equal(ma_load_relaxed(&ma_live.clock.shared), MA_LIVE_SLACK_BYTES);
		died(n, 4096);
	}
	assert_int_equal(ma_load_relaxed(&ma_live.clock.shared), 2 * MA_LIVE_SLACK_BYTES);
	/* Flushed right after the 16th allocation; its free is pending. */
	assert_int_equal(ma_load_relaxed(&ma_live.shared_bytes), 4096);
	assert_int_equal(ma_load_relaxed(&ma_live.shared_blocks), 1);
	assert_int_equal(n->pend_bytes, -4096);
	assert_int_equal(n->pend_blocks, -1);

	/* The peak at a flush is the owner's share + the shared part. */
	born(o, 1000);
	born(n, MA_LIVE_SLACK_BYTES);
	assert_peak(MA_LIVE_SLACK_BYTES + 1000, 2);

	/* Releasing a record flushes what it holds. */
	born(n, 10);
	assert_int_equal(ma_load_relaxed(&ma_live.shared_bytes), MA_LIVE_SLACK_BYTES);
	ma_live_release(n);
	assert_int_equal(ma_load_relaxed(&ma_live.shared_bytes), MA_LIVE_SLACK_BYTES + 10);
	assert_int_equal(ma_load_relaxed(&ma_live.shared_blocks), 2);
	assert_int_equal(n->pend_bytes, 0);
	assert_int_equal(ma_load_relaxed(&n->in_use), 0);
	died(o, 1000);
	drop_owner(o);
}

static void test_live_reset(void **state)
{
	(void)state;
	struct ma_thread *n = ma_registry_claim();
	n->is_owner = false;
	born(n, MA_LIVE_SLACK_BYTES);
	uint64_t serial = ma_load_relaxed(&ma_live.peak.serial);
	assert_true(ma_load_relaxed(&ma_live.peak.bytes) > 0);
	ma_live_reset();
	assert_int_equal(ma_load_relaxed(&ma_live.shared_bytes), 0);
	assert_int_equal(ma_load_relaxed(&ma_live.shared_blocks), 0);
	assert_int_equal(ma_load_relaxed(&ma_live.clock.shared), 0);
	assert_int_equal(ma_load_relaxed(&ma_live.peak.clock), 0);
	assert_peak(0, 0);
	assert_true(ma_load_relaxed(&ma_live.peak.serial) > serial);
	died(n, MA_LIVE_SLACK_BYTES);
	ma_live_reset();
	ma_live_release(n);
}

/* Runs last: it zeroes every record in the process, as a fork child does. */
static void test_reset_after_fork(void **state)
{
	(void)state;
	struct ma_thread *self = ma_registry_claim();
	struct ma_thread *other = ma_registry_claim();
	struct ma_thread *gone = ma_registry_claim();
	ma_live_release(gone);
	unsigned len = registry_len();
	static int marker;
	for (struct ma_thread *r = ma_registry_first(); r; r = r->next) {
		ma_own_add(&r->blocks, 1);
		ma_own_add(&r->bytes, 10);
		ma_own_add(&r->frees, 1);
		ma_own_add(&r->failed, 1);
		ma_own_add(&r->inherited_frees, 1);
		ma_own_add(&r->calls[MA_CALL_calloc], 1);
		r->pend_bytes = 5;
		r->pend_blocks = 1;
		r->pend_clock = 5;
		r->epoch = 1;
		r->key = 12345;
		r->is_owner = r == other;
		r->tier2 = &marker;
	}
	atomic_store(&ma_live.owner, other);
	ma_init_records_after_fork(self, 9);

	assert_int_equal(registry_len(), len); /* links survive */
	for (struct ma_thread *r = ma_registry_first(); r; r = r->next) {
		struct ma_snapshot s;
		ma_snapshot_thread(r, &s);
		assert_int_equal(s.blocks + s.bytes + s.frees + s.failed + s.inherited_frees, 0);
		assert_int_equal(s.calls[MA_CALL_calloc], 0);
		assert_int_equal(r->pend_bytes, 0);
		assert_int_equal(r->pend_blocks, 0);
		assert_int_equal(r->pend_clock, 0);
		assert_int_equal(ma_load_relaxed(&r->in_use), r == self);
		/* Tier 2's per-thread memory is kept for reuse, in every record. */
		assert_ptr_equal(r->tier2, &marker);
		if (r != self) {
			assert_false(r->is_owner);
			assert_int_equal(r->epoch, 0);
		}
		r->tier2 = NULL;
	}
	assert_true(self->is_owner);
	assert_int_equal(self->epoch, 9);
	assert_int_equal(self->key, ma_hdr_key(9));
	assert_ptr_equal(atomic_load(&ma_live.owner), self);
	struct ma_snapshot s;
	ma_snapshot_process(&s);
	assert_int_equal(s.threads, 1);
	assert_int_equal(s.blocks, 0);
}

int main(void)
{
	ut_init();
	process_owner = atomic_load(&ma_live.owner);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_add_widths),
		cmocka_unit_test(test_claim_release_reuse),
		cmocka_unit_test(test_chunk_growth),
		cmocka_unit_test(test_snapshot_sums),
		cmocka_unit_test(test_snapshot_thread_live_never_negative),
		cmocka_unit_test(test_owner_exact_peak),
		cmocka_unit_test(test_non_owner_batching),
		cmocka_unit_test(test_live_reset),
		cmocka_unit_test(test_reset_after_fork),
	};
	return cmocka_run_group_tests_name("counters", tests, NULL, NULL);
}
