/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_core.c: the block events (core.h, core.c) over a fake real allocator
 * (fake_real.h).  ma_g is set as init.c would, and the calling thread gets a
 * fresh owner record (ma_registry_claim, then what init.c's thread_started
 * does); every test checks the headers, the counters, the live counter and
 * exactly which real functions were called with what.  Owner records are
 * never released (as in the library), so each test starts from zeroes.
 */
#define _GNU_SOURCE
#include "ut.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "counters.h"
#include "fake_real.h"
#include <stdatomic.h>
#include "init.h"
#include "thread.h"

static struct ma_thread *t, *saved_rec, *saved_owner;
static struct ma_snapshot s0;
static uint32_t saved_cookie;
static const uint32_t COOKIE = 0x5eed1235u;

static struct ma_snapshot now(void)
{
	struct ma_snapshot s;
	ma_snapshot_thread(t, &s);
	return s;
}

#define D(field) (now().field - s0.field)
#define DCALL(name) (now().calls[MA_CALL_##name] - s0.calls[MA_CALL_##name])

static int setup(void **state)
{
	(void)state;
	fake_install();
	/* As init.c's boot() leaves it with call sites off. */
	saved_cookie = ma_g.cookie;
	ma_g.cookie = COOKIE;
	ma_g.hdr_bytes = 16;
	ma_g.hdr_log2 = 4;
	ma_g.backtraces = false;
	ma_g.epoch = 1;
	ma_store_release(&ma_g.state, MA_ACTIVE);
	saved_rec = ma_tls.rec;
	saved_owner = atomic_load(&ma_live.owner);
	t = ma_registry_claim();
	assert_non_null(t);
	ma_hdr_keys_set(t, 1);
	t->is_owner = true;
	atomic_store(&ma_live.owner, t);
	ma_tls.rec = t;
	ma_live_reset();
	s0 = now();
	errno = 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ma_tls.rec = saved_rec;
	atomic_store(&ma_live.owner, saved_owner);
	ma_g.cookie = saved_cookie;
	/* Not released: an owner's record is never reused. */
	/* Every block the core obtained went back, and nothing unknown reached the fake. */
	unsigned live = fake_live(), unknown = fake.unknown;
	fake_uninstall();
	if (live || unknown)
		fail_msg("fake allocator: %u blocks leaked, %u unknown pointers", live, unknown);
	return 0;
}

static void assert_hdr(void *p, uint64_t size, uint16_t epoch, uint8_t shift)
{
	struct ma_hdr *h = ma_hdr_of(p);
	assert_int_equal(h->size, size);
	assert_int_equal(h->check, ma_hdr_check(p, ma_hdr_key(epoch)));
	assert_int_equal(h->epoch, epoch);
	assert_int_equal(h->shift, shift);
	assert_int_equal(h->flags, 0);
}

/* The owner's share of the live heap (its record) and nothing from other threads. */
static void assert_live(int64_t bytes, int64_t blocks)
{
	assert_int_equal(ma_live_owner_bytes(t), bytes);
	assert_int_equal(ma_live_owner_blocks(t), blocks);
	assert_int_equal(ma_load_relaxed(&ma_live.shared_bytes), 0);
	assert_int_equal(ma_load_relaxed(&ma_live.shared_blocks), 0);
}

static void assert_peak(uint64_t bytes, uint64_t blocks)
{
	assert_int_equal(ma_load_relaxed(&ma_live.peak.bytes), bytes);
	assert_int_equal(ma_load_relaxed(&ma_live.peak.blocks), blocks);
}

static void *xmalloc(size_t n)
{
	return ma_core_alloc(MA_CALL_malloc, n, n, 0, false);
}

static void xfree(void *p)
{
	ma_core_free(MA_CALL_free, p);
}

static void fill(void *p, size_t n, unsigned char seed)
{
	for (size_t i = 0; i < n; i++)
		((unsigned char *)p)[i] = (unsigned char)(seed + i);
}

static void assert_filled(const void *p, size_t n, unsigned char seed)
{
	for (size_t i = 0; i < n; i++)
		if (((const unsigned char *)p)[i] != (unsigned char)(seed + i))
			fail_msg("byte %zu changed", i);
}

static void test_malloc_and_free(void **state)
{
	(void)state;
	void *p = xmalloc(100);
	assert_non_null(p);
	assert_int_equal((uintptr_t)p % 16, 0);
	assert_int_equal(fake.calls[F_MALLOC], 1);
	assert_int_equal(fake.last_size[F_MALLOC], 116);
	assert_true(fake_owns((char *)p - 16));
	assert_hdr(p, 100, 1, 4);
	fill(p, 100, 1);
	assert_int_equal(D(blocks), 1);
	assert_int_equal(D(bytes), 100);
	assert_int_equal(DCALL(malloc), 1);
	assert_int_equal(D(failed), 0);
	assert_live(100, 1);
	assert_peak(100, 1);

	xfree(p);
	assert_int_equal(fake.calls[F_FREE], 1);
	assert_ptr_equal(fake.last_ptr[F_FREE], (char *)p - 16);
	assert_int_equal(D(frees), 1);
	assert_int_equal(D(freed_bytes), 100);
	assert_int_equal(DCALL(free), 1);
	assert_int_equal(D(foreign_frees), 0);
	assert_live(0, 0);
	assert_peak(100, 1);
}

static void *watched;
static int64_t watched_live_at_free;
static uint32_t watched_check_at_free;

static void look_at_watched(void)
{
	watched_check_at_free = ma_hdr_of(watched)->check;
	watched_live_at_free = ma_live_owner_bytes(t);
}

static void test_free_accounts_before_real_free(void **state)
{
	(void)state;
	watched = xmalloc(48);
	fake.reenter_free = look_at_watched;
	xfree(watched);
	/* By the time the real free runs the block is dead: check cleared, live counted down. */
	assert_int_equal(watched_check_at_free, 0);
	assert_int_equal(watched_live_at_free, 0);
}

static void test_calloc_zeroes(void **state)
{
	(void)state;
	unsigned char *p = ma_core_alloc(MA_CALL_calloc, 64, 64, 0, true);
	assert_non_null(p);
	assert_int_equal(fake.calls[F_CALLOC], 1);
	assert_int_equal(fake.calls[F_MALLOC], 0);
	assert_int_equal(fake.last_size[F_CALLOC], 80);
	for (int i = 0; i < 64; i++)
		assert_int_equal(p[i], 0);
	assert_hdr(p, 64, 1, 4);
	assert_int_equal(DCALL(calloc), 1);
	assert_int_equal(D(bytes), 64);
	xfree(p);
}

static void test_zero_size_and_reserve(void **state)
{
	(void)state;
	void *z = xmalloc(0);
	assert_non_null(z);
	assert_int_equal(fake.last_size[F_MALLOC], 16);
	assert_hdr(z, 0, 1, 4);
	assert_int_equal(D(blocks), 1);
	assert_int_equal(D(bytes), 0);
	assert_live(0, 1);
	assert_peak(0, 1);
	/* pvalloc-like: room for 4096, 100 counted. */
	void *p = ma_core_alloc(MA_CALL_pvalloc, 100, 4096, 0, false);
	assert_int_equal(fake.last_size[F_MALLOC], 4112);
	assert_hdr(p, 100, 1, 4);
	assert_int_equal(D(bytes), 100);
	assert_int_equal(DCALL(pvalloc), 1);
	assert_live(100, 2);
	xfree(z);
	xfree(p);
	assert_int_equal(D(freed_bytes), 100);
	assert_live(0, 0);
}

static void test_real_malloc_fails(void **state)
{
	(void)state;
	fake.fail[F_MALLOC] = 1;
	assert_null(xmalloc(100));
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(DCALL(malloc), 1);
	assert_int_equal(D(failed), 1);
	assert_int_equal(D(blocks), 0);
	assert_int_equal(D(bytes), 0);
	assert_live(0, 0);
	assert_peak(0, 0);

	fake.fail[F_CALLOC] = 1;
	errno = 0;
	assert_null(ma_core_alloc(MA_CALL_calloc, 8, 8, 0, true));
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(DCALL(calloc), 1);
	assert_int_equal(D(failed), 2);
	assert_int_equal(D(blocks), 0);
}

static void test_too_large_never_reaches_real(void **state)
{
	(void)state;
	assert_null(xmalloc(MA_MAX_REQUEST + 1));
	assert_int_equal(errno, ENOMEM);
	errno = 0;
	assert_null(xmalloc(SIZE_MAX));
	assert_int_equal(errno, ENOMEM);
	errno = 0;
	/* Fits alone, not with the alignment's room. */
	assert_null(ma_core_alloc(MA_CALL_aligned_alloc, MA_MAX_REQUEST - 8, MA_MAX_REQUEST - 8, 64, false));
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(fake.calls[F_MALLOC] + fake.calls[F_MEMALIGN], 0);
	assert_int_equal(DCALL(malloc), 2);
	assert_int_equal(DCALL(aligned_alloc), 1);
	assert_int_equal(D(failed), 3);
	assert_int_equal(D(blocks), 0);
}

static void test_aligned(void **state)
{
	(void)state;
	static const size_t aligns[] = { 32, 64, 4096 };
	for (size_t i = 0; i < MA_ARRAY_LEN(aligns); i++) {
		size_t a = aligns[i];
		memset(fake.calls, 0, sizeof fake.calls);
		void *p = ma_core_alloc(MA_CALL_aligned_alloc, 100, 100, a, false);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % a, 0);
		assert_int_equal(fake.calls[F_MEMALIGN], 1);
		assert_int_equal(fake.calls[F_MALLOC], 0);
		assert_int_equal(fake.last_align, a);
		assert_int_equal(fake.last_size[F_MEMALIGN], 100 + a);
		assert_true(fake_owns((char *)p - a));
		assert_hdr(p, 100, 1, (uint8_t)__builtin_ctzll(a));
		fill(p, 100, 3);
		/* The usable size is measured from the user pointer. */
		fake.usable_override = true;
		fake.usable_value = 1000 + a;
		assert_int_equal(ma_core_usable_size(p), 1000);
		assert_ptr_equal(fake.last_ptr[F_USABLE], (char *)p - a);
		fake.usable_override = false;
		xfree(p);
		assert_ptr_equal(fake.last_ptr[F_FREE], (char *)p - a);
	}
	assert_int_equal(DCALL(aligned_alloc), 3);
	assert_int_equal(D(blocks), 3);
	assert_int_equal(D(frees), 3);
	assert_live(0, 0);

	fake.fail[F_MEMALIGN] = 1;
	errno = 0;
	assert_null(ma_core_alloc(MA_CALL_posix_memalign, 10, 10, 64, false));
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(D(failed), 1);
	assert_int_equal(D(blocks), 3);
}

static void test_free_null(void **state)
{
	(void)state;
	xfree(NULL);
	ma_core_free(MA_CALL_cfree, NULL);
	assert_int_equal(DCALL(free), 1);
	assert_int_equal(DCALL(cfree), 1);
	assert_int_equal(fake.calls[F_FREE], 0);
	assert_int_equal(D(frees), 0);
	assert_int_equal(D(foreign_frees), 0);
}

static void test_foreign_pointers(void **state)
{
	(void)state;
	static const unsigned char patterns[] = { 0x00, 0xab, 0xff };
	for (size_t i = 0; i < MA_ARRAY_LEN(patterns); i++) {
		void *f = fake_foreign(patterns[i]);
		uint32_t word;
		uint16_t epoch;
		memset(&word, patterns[i], sizeof word);
		memset(&epoch, patterns[i], sizeof epoch);
		/* else this pointer would pass as ours */
		assert_true(ma_hdr_check(f, ma_hdr_key(epoch)) != word);
		xfree(f);
		assert_int_equal(D(foreign_frees), i + 1);
		assert_ptr_equal(fake.last_ptr[F_FREE], f); /* passed through untouched */
		assert_int_equal(fake.unknown, 1);
		fake.unknown = 0;
		/* usable size and realloc pass through too. */
		fake.usable_override = true;
		fake.usable_value = 77;
		assert_int_equal(ma_core_usable_size(f), 77);
		assert_ptr_equal(fake.last_ptr[F_USABLE], f);
		fake.usable_override = false;
		assert_null(ma_core_realloc(MA_CALL_realloc, f, 10, 0));
		assert_ptr_equal(fake.last_ptr[F_REALLOC], f);
		assert_int_equal(fake.unknown, 1);
		fake.unknown = 0;
		fake_free_foreign(f);
	}
	assert_int_equal(DCALL(free), 3);
	assert_int_equal(DCALL(realloc), 3);
	assert_int_equal(D(frees), 0);
	assert_int_equal(D(blocks), 0);
	assert_live(0, 0);
}

static void test_realloc_null_and_zero(void **state)
{
	(void)state;
	void *p = ma_core_realloc(MA_CALL_realloc, NULL, 50, 0);
	assert_non_null(p);
	assert_int_equal(fake.last_size[F_MALLOC], 66);
	assert_hdr(p, 50, 1, 4);
	assert_int_equal(DCALL(realloc), 1);
	assert_int_equal(DCALL(malloc), 0);
	assert_int_equal(D(blocks), 1);
	assert_live(50, 1);
	/* realloc(p, 0) frees and returns NULL, as glibc does. */
	assert_null(ma_core_realloc(MA_CALL_realloc, p, 0, 0));
	assert_int_equal(DCALL(realloc), 2);
	assert_int_equal(DCALL(free), 0);
	assert_int_equal(D(frees), 1);
	assert_int_equal(D(freed_bytes), 50);
	assert_int_equal(fake.calls[F_FREE], 1);
	assert_int_equal(fake.calls[F_REALLOC], 0);
	assert_live(0, 0);
}

static void test_realloc_grow_shrink(void **state)
{
	(void)state;
	void *p = xmalloc(100);
	fill(p, 100, 7);
	void *q = ma_core_realloc(MA_CALL_realloc, p, 1000, 0);
	assert_non_null(q);
	assert_int_equal(fake.calls[F_REALLOC], 1);
	assert_ptr_equal(fake.last_ptr[F_REALLOC], (char *)p - 16);
	assert_int_equal(fake.last_size[F_REALLOC], 1016);
	assert_hdr(q, 1000, 1, 4);
	assert_filled(q, 100, 7);
	assert_int_equal(D(blocks), 2);
	assert_int_equal(D(bytes), 1100);
	assert_int_equal(D(frees), 1);
	assert_int_equal(D(freed_bytes), 100);
	assert_int_equal(DCALL(realloc), 1);
	assert_live(1000, 1);
	assert_peak(1000, 1); /* the old block died before the new one was born */

	void *r = ma_core_realloc(MA_CALL_reallocarray, q, 10, 0);
	assert_hdr(r, 10, 1, 4);
	assert_filled(r, 10, 7);
	assert_int_equal(DCALL(reallocarray), 1);
	assert_live(10, 1);
	assert_peak(1000, 1);
	xfree(r);
	assert_int_equal(D(frees), 3);
	assert_int_equal(D(freed_bytes), 1110);
	assert_live(0, 0);
}

static void test_realloc_failure_keeps_old(void **state)
{
	(void)state;
	void *p = xmalloc(100);
	fill(p, 100, 9);
	fake.fail[F_REALLOC] = 1;
	errno = 0;
	assert_null(ma_core_realloc(MA_CALL_realloc, p, 5000, 0));
	assert_int_equal(errno, ENOMEM); /* the real allocator's */
	assert_hdr(p, 100, 1, 4);
	assert_filled(p, 100, 9);
	assert_int_equal(DCALL(realloc), 1);
	assert_int_equal(D(failed), 1);
	assert_int_equal(D(blocks), 1);
	assert_int_equal(D(frees), 0);
	assert_live(100, 1);

	/* Too large: refused before the real allocator sees it. */
	errno = 0;
	assert_null(ma_core_realloc(MA_CALL_realloc, p, SIZE_MAX - 4, 0));
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(fake.calls[F_REALLOC], 1);
	assert_hdr(p, 100, 1, 4);
	assert_int_equal(D(failed), 2);
	assert_live(100, 1);
	xfree(p);
	assert_live(0, 0);
}

static void test_realloc_aligned_block(void **state)
{
	(void)state;
	void *p = ma_core_alloc(MA_CALL_memalign, 100, 100, 64, false);
	fill(p, 100, 11);
	/* The new block only needs malloc's alignment: malloc, copy, free. */
	void *q = ma_core_realloc(MA_CALL_realloc, p, 200, 0);
	assert_non_null(q);
	assert_int_equal(fake.calls[F_REALLOC], 0);
	assert_int_equal(fake.calls[F_MALLOC], 1);
	assert_int_equal(fake.last_size[F_MALLOC], 216);
	assert_ptr_equal(fake.last_ptr[F_FREE], (char *)p - 64);
	assert_hdr(q, 200, 1, 4);
	assert_filled(q, 100, 11);
	assert_int_equal(D(blocks), 2);
	assert_int_equal(D(frees), 1);
	assert_int_equal(D(freed_bytes), 100);
	assert_live(200, 1);
	xfree(q);

	/* And when that malloc fails, the aligned block is left as it was. */
	p = ma_core_alloc(MA_CALL_memalign, 100, 100, 64, false);
	fill(p, 100, 12);
	unsigned frees = fake.calls[F_FREE];
	fake.fail[F_MALLOC] = 1;
	assert_null(ma_core_realloc(MA_CALL_realloc, p, 300, 0));
	assert_int_equal(fake.calls[F_FREE], frees);
	assert_hdr(p, 100, 1, 6);
	assert_filled(p, 100, 12);
	assert_int_equal(D(failed), 1);
	assert_live(100, 1);
	xfree(p);
	assert_live(0, 0);
}

static void test_usable_size(void **state)
{
	(void)state;
	void *p = xmalloc(100);
	size_t u = ma_core_usable_size(p);
	assert_true(u >= 100);
	assert_ptr_equal(fake.last_ptr[F_USABLE], (char *)p - 16);
	memset(p, 0, u); /* all of it is really there */
	fake.usable_override = true;
	fake.usable_value = 500;
	assert_int_equal(ma_core_usable_size(p), 484);
	/* A real answer too small to be true never shrinks the block below its request. */
	fake.usable_value = 116;
	assert_int_equal(ma_core_usable_size(p), 100);
	fake.usable_value = 50;
	assert_int_equal(ma_core_usable_size(p), 100);
	fake.usable_override = false;
	size_t (*mus)(void *) = ma_real.next_malloc_usable_size;
	ma_real.next_malloc_usable_size = NULL;
	assert_int_equal(ma_core_usable_size(p), 100);
	ma_real.next_malloc_usable_size = mus;
	assert_int_equal(ma_core_usable_size(NULL), 0);
	assert_int_equal(DCALL(malloc_usable_size), 6);
	xfree(p);
}

static void test_inherited_epoch(void **state)
{
	(void)state;
	void *p = xmalloc(100);
	void *r = xmalloc(30);
	/* As after fork: the child's generation is 2; the blocks are the parent's. */
	ma_hdr_keys_set(t, 2);
	ma_g.epoch = 2;
	xfree(p);
	assert_int_equal(D(inherited_frees), 1);
	assert_int_equal(D(inherited_freed_bytes), 100);
	assert_int_equal(D(frees), 0);
	assert_int_equal(D(freed_bytes), 0);
	assert_ptr_equal(fake.last_ptr[F_FREE], (char *)p - 16);
	assert_live(130, 2); /* never in this process's live count */

	void *q = ma_core_realloc(MA_CALL_realloc, r, 60, 0);
	assert_non_null(q);
	assert_hdr(q, 60, 2, 4);
	assert_int_equal(D(inherited_frees), 2);
	assert_int_equal(D(inherited_freed_bytes), 130);
	assert_int_equal(D(frees), 0);
	assert_int_equal(D(blocks), 3);
	assert_live(190, 3);
	xfree(q);
	assert_int_equal(D(frees), 1);
	assert_int_equal(D(freed_bytes), 60);
	assert_live(130, 2);
	ma_hdr_keys_set(t, 1);
	ma_g.epoch = 1;
}

static void *inner;

static void alloc_inside_real_malloc(void)
{
	inner = xmalloc(24);
}

static void *stash;

static void free_inside_real_free(void)
{
	xfree(stash);
}

static void test_reentrant_real_allocator(void **state)
{
	(void)state;
	/* The real malloc calls malloc (back through the shim) before answering. */
	fake.reenter_malloc = alloc_inside_real_malloc;
	void *p = xmalloc(100);
	assert_non_null(p);
	assert_non_null(inner);
	assert_hdr(p, 100, 1, 4);
	assert_hdr(inner, 24, 1, 4);
	assert_int_equal(fake.calls[F_MALLOC], 2);
	assert_int_equal(DCALL(malloc), 2);
	assert_int_equal(D(blocks), 2);
	assert_int_equal(D(bytes), 124);
	assert_live(124, 2);
	assert_peak(124, 2);

	/* The real free frees another block through the shim. */
	stash = inner;
	fake.reenter_free = free_inside_real_free;
	xfree(p);
	assert_int_equal(fake.calls[F_FREE], 2);
	assert_int_equal(D(frees), 2);
	assert_int_equal(D(freed_bytes), 124);
	assert_live(0, 0);
	assert_peak(124, 2);
}

static void test_untracked_inside_guard(void **state)
{
	(void)state;
	/* Inside the library's own slow paths nothing is tracked and no header is added. */
	ma_guard_enter();
	void *p = xmalloc(40);
	void *a = ma_core_alloc(MA_CALL_memalign, 40, 40, 64, false);
	ma_guard_leave();
	assert_int_equal(fake.last_size[F_MALLOC], 40);
	assert_int_equal(fake.last_size[F_MEMALIGN], 40);
	assert_int_equal((uintptr_t)a % 64, 0);
	assert_true(fake_owns(p));
	assert_int_equal(DCALL(malloc) + DCALL(memalign), 0);
	assert_int_equal(D(blocks), 0);
	ma_guard_enter();
	xfree(p);
	ma_guard_leave();
	assert_ptr_equal(fake.last_ptr[F_FREE], p);
	assert_int_equal(D(foreign_frees), 0);
	assert_int_equal(DCALL(free), 0);
	/* The same kind of block freed by a tracked call: passed through as foreign. */
	xfree(a);
	assert_ptr_equal(fake.last_ptr[F_FREE], a);
	assert_int_equal(D(foreign_frees), 1);
	assert_int_equal(D(frees), 0);
	assert_live(0, 0);
}

static void test_realloc_inside_guard_keeps_size(void **state)
{
	(void)state;
	void *p = xmalloc(100);
	ma_guard_enter();
	void *q = ma_core_realloc(MA_CALL_realloc, p, 300, 0);
	ma_guard_leave();
	assert_non_null(q);
	/* Still ours, with the size that was counted, so the final free balances. */
	assert_hdr(q, 100, 1, 4);
	assert_int_equal(DCALL(realloc), 0);
	assert_int_equal(D(blocks), 1);
	assert_int_equal(D(frees), 0);
	xfree(q);
	assert_int_equal(D(frees), 1);
	assert_int_equal(D(freed_bytes), 100);
	assert_live(0, 0);
}

static void test_fail_and_errno(void **state)
{
	(void)state;
	errno = 0;
	assert_null(ma_core_fail(MA_CALL_aligned_alloc, EINVAL));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(DCALL(aligned_alloc), 1);
	assert_int_equal(D(failed), 1);
	/* Success leaves errno alone. */
	errno = 4321;
	void *p = xmalloc(10);
	p = ma_core_realloc(MA_CALL_realloc, p, 20, 0);
	(void)ma_core_usable_size(p);
	xfree(p);
	assert_int_equal(errno, 4321);
}

/*
 * A real realloc that moves the block and leaves the old memory as it was,
 * as jemalloc does with freed regions (glibc happens to overwrite the first
 * 16 bytes with its free-list links).  The old memory stays readable here
 * because the old block is only really released at the end of the test.
 */
static void *moved_from;
static void *(*orig_realloc)(void *, size_t);

static void *realloc_move_no_scrub(void *base, size_t n)
{
	fake.calls[F_REALLOC]++;
	void *nb = ma_real.next_malloc(n);
	if (nb)
		memcpy(nb, base, 16 + 100);
	moved_from = base;
	return nb;
}

static void test_realloc_move_invalidates_old_header(void **state)
{
	(void)state;
	void *p = xmalloc(100);
	orig_realloc = ma_real.next_realloc;
	ma_real.next_realloc = realloc_move_no_scrub;
	void *q = ma_core_realloc(MA_CALL_realloc, p, 200, 0);
	ma_real.next_realloc = orig_realloc;
	assert_non_null(q);
	assert_ptr_not_equal(q, p);
	/* The old block is dead; its header must not pass for a live one (block.h's promise). */
	uint32_t stale = ma_hdr_of(p)->check;
	ma_real.next_free(moved_from);
	xfree(q);
	assert_int_not_equal(stale, ma_hdr_check(p, ma_hdr_key(1)));
}

int main(void)
{
	ut_init();
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_malloc_and_free),
		T(test_free_accounts_before_real_free),
		T(test_calloc_zeroes),
		T(test_zero_size_and_reserve),
		T(test_real_malloc_fails),
		T(test_too_large_never_reaches_real),
		T(test_aligned),
		T(test_free_null),
		T(test_foreign_pointers),
		T(test_realloc_null_and_zero),
		T(test_realloc_grow_shrink),
		T(test_realloc_failure_keeps_old),
		T(test_realloc_aligned_block),
		T(test_usable_size),
		T(test_inherited_epoch),
		T(test_reentrant_real_allocator),
		T(test_untracked_inside_guard),
		T(test_realloc_inside_guard_keeps_size),
		T(test_fail_and_errno),
		T(test_realloc_move_invalidates_old_header),
	};
	return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
