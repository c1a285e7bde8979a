/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_threads.c: the registry and the live counter under concurrency.
 * Threads claim and release records and batch live-counter updates while
 * the owner updates unbatched and a reader takes snapshots.  Exact totals
 * are checked at the end; built with -Dsanitize_tests=thread it is also a
 * data-race check of thread.c and counters.c.
 *
 * Each worker marks the record it holds through its plain `tier2` field: if
 * two threads ever held one record, the marker check fails (and
 * ThreadSanitizer reports the race on the plain field).
 */
#include "ut.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "counters.h"
#include "thread.h"

enum { WORKERS = 4, ROUNDS = 40, OPS = 300, OWNER_OPS = 20000, BURST = 70 };

static atomic_int running;
static atomic_int failures;

static void check(int ok)
{
	if (!ok)
		atomic_fetch_add(&failures, 1);
}

static struct ma_thread *take(void *me)
{
	struct ma_thread *t = ma_registry_claim();
	check(t != NULL);
	check(t->tier2 == NULL);
	t->tier2 = me;
	t->is_owner = false;
	return t;
}

static void give_back(struct ma_thread *t, void *me)
{
	check(t->tier2 == me);
	t->tier2 = NULL;
	ma_live_release(t);
}

static void *worker(void *arg)
{
	int me;
	(void)arg;
	for (int round = 0; round < ROUNDS; round++) {
		struct ma_thread *t = take(&me);
		/* Sizes that cross the byte threshold now and then. */
		for (int i = 0; i < OPS; i++) {
			int64_t size = 100 + (i % 7) * 1000;
			ma_own_add(&t->calls[MA_CALL_malloc], 1);
			ma_own_add(&t->blocks, 1);
			ma_own_add(&t->bytes, (uint64_t)size);
			ma_live_grow(t, size, 1, true, ma_load_relaxed(&t->busy) > 1);
			if (i % 3 == 0) { /* a third of them freed again */
				ma_own_add(&t->frees, 1);
				ma_own_add(&t->freed_bytes, (uint64_t)size);
				ma_live_shrink(t, size, 1);
			}
		}
		give_back(t, &me);
		/* A burst of claims past one chunk: new chunks are pushed concurrently. */
		if (round % 10 == 0) {
			struct ma_thread *many[BURST];
			for (int i = 0; i < BURST; i++)
				many[i] = take(&many[i]);
			for (int i = 0; i < BURST; i++)
				give_back(many[i], &many[i]);
		}
	}
	return NULL;
}

static void *reader(void *arg)
{
	(void)arg;
	uint64_t last_blocks = 0, last_frees = 0;
	unsigned n = 0;
	while (atomic_load(&running) || n < 10) {
		struct ma_snapshot s;
		ma_snapshot_process(&s);
		/* Sums of monotonic counters never go back. */
		check(s.blocks >= last_blocks && s.frees >= last_frees);
		check(s.live_bytes == s.bytes - s.freed_bytes || s.bytes < s.freed_bytes);
		last_blocks = s.blocks;
		last_frees = s.frees;
		n++;
	}
	return NULL;
}

/* Expected sums of one worker. */
static void expected(uint64_t *blocks, uint64_t *bytes, uint64_t *frees, uint64_t *freed)
{
	*blocks = *bytes = *frees = *freed = 0;
	for (int i = 0; i < OPS; i++) {
		uint64_t size = 100 + (uint64_t)(i % 7) * 1000;
		*blocks += 1;
		*bytes += size;
		if (i % 3 == 0) {
			*frees += 1;
			*freed += size;
		}
	}
}

static void test_concurrent_registry_and_live(void **state)
{
	(void)state;
	struct ma_snapshot s0, s1;
	ma_live_reset();
	ma_snapshot_process(&s0);
	/* A fresh owner, as init.c's thread_started makes the first thread. */
	struct ma_thread *process_owner = atomic_load(&ma_live.owner);
	struct ma_thread *owner = ma_registry_claim();
	owner->is_owner = true;
	owner->pend_bytes = owner->pend_blocks = owner->pend_clock = 0;
	atomic_store(&ma_live.owner, owner);
	int64_t owner_live0 = ma_live_owner_bytes(owner), owner_blocks0 = ma_live_owner_blocks(owner);

	atomic_store(&running, 1);
	pthread_t w[WORKERS], r;
	assert_int_equal(pthread_create(&r, NULL, reader, NULL), 0);
	for (int i = 0; i < WORKERS; i++)
		assert_int_equal(pthread_create(&w[i], NULL, worker, NULL), 0);
	/* The owner: its share is its record, compared with the peak on every allocation. */
	int64_t owner_live = 0;
	for (int i = 0; i < OWNER_OPS; i++) {
		int64_t size = 64 + (i % 5);
		ma_own_add(&owner->blocks, 1);
		ma_own_add(&owner->bytes, (uint64_t)size);
		ma_live_grow(owner, size, 1, true, ma_load_relaxed(&owner->busy) > 1);
		owner_live += size;
		if (i % 2) {
			ma_own_add(&owner->frees, 1);
			ma_own_add(&owner->freed_bytes, (uint64_t)size);
			ma_live_shrink(owner, size, 1);
			owner_live -= size;
		}
	}
	for (int i = 0; i < WORKERS; i++)
		assert_int_equal(pthread_join(w[i], NULL), 0);
	atomic_store(&running, 0);
	assert_int_equal(pthread_join(r, NULL), 0);
	assert_int_equal(atomic_load(&failures), 0);

	uint64_t b, by, f, fb;
	expected(&b, &by, &f, &fb);
	uint64_t rounds = (uint64_t)WORKERS * ROUNDS;
	ma_snapshot_process(&s1);
	assert_int_equal(s1.blocks - s0.blocks, rounds * b + OWNER_OPS);
	assert_int_equal(s1.frees - s0.frees, rounds * f + OWNER_OPS / 2);
	uint64_t worker_live = rounds * (by - fb);
	assert_int_equal(s1.bytes - s1.freed_bytes - (s0.bytes - s0.freed_bytes), worker_live + (uint64_t)owner_live);
	assert_int_equal(s1.calls[MA_CALL_malloc] - s0.calls[MA_CALL_malloc], rounds * OPS);
	/* Every worker record was released, so flushed: the split counter is exact. */
	int64_t live = ma_live_owner_bytes(owner) - owner_live0 + ma_load_relaxed(&ma_live.shared_bytes);
	int64_t blocks = ma_live_owner_blocks(owner) - owner_blocks0 + ma_load_relaxed(&ma_live.shared_blocks);
	assert_int_equal(live, (int64_t)worker_live + owner_live);
	assert_int_equal(blocks, (int64_t)(rounds * (b - f)) + OWNER_OPS / 2);
	/* The peak is at least the final live figure and at most all bytes ever allocated. */
	uint64_t peak = ma_load_relaxed(&ma_live.peak.bytes);
	assert_true(peak >= (uint64_t)live);
	assert_true(peak <= rounds * by + OWNER_OPS * 68u);
	assert_int_equal(s1.threads, s0.threads + 1);
	owner->is_owner = false;
	atomic_store(&ma_live.owner, process_owner);
	ma_live_release(owner);
}

int main(void)
{
	ut_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent_registry_and_live),
	};
	return cmocka_run_group_tests_name("threads", tests, NULL, NULL);
}
