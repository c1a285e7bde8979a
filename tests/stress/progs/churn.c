/* SPDX-License-Identifier: Apache-2.0 */
/*
 * churn: 4000 threads created and exiting, at most 20 alive at a time.
 * Each allocates 3 blocks in churn_alloc, frees 2, and leaves the third to
 * main, which frees it after joining the thread (a free by another thread
 * of a block whose thread is gone).  Each thread checks its own stats
 * exactly (records are reused: they must start at zero); with call sites
 * the sites of churn_alloc are checked exactly in the report.  Creating
 * threads allocates inside glibc (the DTV), so the process totals are only
 * checked to contain the payload.
 */
#include "stress.h"

#include <pthread.h>

#define TOTAL 4000
#define ALIVE 20

static void *leftover[TOTAL];

static size_t size_of(unsigned i, unsigned k)
{
	return 8 + (i * 7 + k * 131) % 2000;
}

S_NOINLINE static void *churn_alloc(size_t size)
{
	return malloc(size);
}

static void *worker(void *arg)
{
	unsigned i = (unsigned)(uintptr_t)arg;
	struct modalloc_stats t0, t1;
	int active = modalloc_thread_stats_now(&t0) == MODALLOC_OK;
	void *p[3];
	for (unsigned k = 0; k < 3; k++) {
		p[k] = churn_alloc(size_of(i, k));
		S_CHECK(p[k] != NULL);
		memset(p[k], (int)i, size_of(i, k));
	}
	free(p[0]);
	free(p[2]);
	leftover[i] = p[1];
	if (active) {
		S_EQ(modalloc_thread_stats_now(&t1), MODALLOC_OK);
		S_EQ(t0.blocks, 0);
		S_EQ(t0.frees, 0);
		S_EQ(t1.blocks, 3);
		S_EQ(t1.bytes, size_of(i, 0) + size_of(i, 1) + size_of(i, 2));
		S_EQ(t1.frees, 2);
		S_EQ(t1.freed_bytes, size_of(i, 0) + size_of(i, 2));
	}
	return NULL;
}

int main(void)
{
	pthread_t t[TOTAL];
	pthread_attr_t attr;
	uint64_t bytes = 0, kept = 0;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	struct modalloc_stats m = s_now();
	for (unsigned i = 0; i < TOTAL; i++) {
		if (i >= ALIVE) {
			unsigned j = i - ALIVE;
			S_EQ(pthread_join(t[j], NULL), 0);
			S_CHECK(((unsigned char *)leftover[j])[0] == (unsigned char)j);
			free(leftover[j]);
		}
		S_EQ(pthread_create(&t[i], &attr, worker, (void *)(uintptr_t)i), 0);
		bytes += size_of(i, 0) + size_of(i, 1) + size_of(i, 2);
		kept += size_of(i, 1);
	}
	for (unsigned j = TOTAL - ALIVE; j < TOTAL; j++) {
		S_EQ(pthread_join(t[j], NULL), 0);
		free(leftover[j]);
	}
	struct modalloc_stats now = s_now();
	if (s_active()) {
		S_CHECK(now.blocks - m.blocks >= 3 * TOTAL);
		S_CHECK(now.bytes - m.bytes >= bytes);
		S_CHECK(now.frees - m.frees >= 3 * TOTAL);
		S_EQ(now.threads, 1);
	}
	s_expect("GE", "totals.blocks", m.blocks + 3 * TOTAL);
	s_expect("E", "threads", 1);
	s_site("churn_alloc", 3 * TOTAL, bytes, 0);
	(void)kept;
	return 0;
}
