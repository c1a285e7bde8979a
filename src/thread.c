/* SPDX-License-Identifier: Apache-2.0 */
/* thread.c: the TLS struct and the record registry. */
#include "thread.h"

#include <string.h>

#include "os.h"
#include "state.h"

MA_TLS struct ma_tls ma_tls;

const char *const ma_call_names[MA_CALL_COUNT] = {
#define X(name) #name,
	MA_CALLS(X)
#undef X
};

/* Records are pushed, never removed: readers walk the list without locks. */
static struct ma_thread *_Atomic registry_head;

#define MA_RECORDS_PER_CHUNK 64

struct ma_thread *ma_registry_first(void)
{
	return atomic_load_explicit(&registry_head, memory_order_acquire);
}

/* The thread mapping a chunk of records now (its id), 0: none.  Threads
 * starting at once wait for that chunk instead of each mapping its own: the
 * state file's pieces are few (state.h). */
static ma_au32 growing;

static struct ma_thread *claim_free(void)
{
	for (struct ma_thread *t = ma_registry_first(); t; t = t->next) {
		uint32_t free_ = 0;
		if (!ma_load_relaxed(&t->in_use) && ma_cas_acq_rel(&t->in_use, &free_, 1))
			return t;
	}
	return NULL;
}

struct ma_thread *ma_registry_claim(void)
{
	struct ma_thread *t = claim_free();
	if (t)
		return t;
	uint32_t me = (uint32_t)ma_os_gettid(), none = 0;
	bool gate = false;
	if (ma_load_relaxed(&growing) != me) { /* not a signal handler interrupting our own growth */
		while (!ma_cas_acq_rel(&growing, &none, me)) {
			none = 0;
			ma_os_yield();
		}
		gate = true;
		if ((t = claim_free()) != NULL) { /* the chunk another thread just mapped */
			ma_store_release(&growing, 0);
			return t;
		}
	}
	/* From the state file (state.h): a killed process's counters stay readable. */
	struct ma_thread *c = ma_state_map(MA_RECORDS_PER_CHUNK * sizeof *c, MA_STATE_KIND_THREADS);
	if (!c) {
		if (gate)
			ma_store_release(&growing, 0);
		return NULL;
	}
	for (unsigned i = 0; i + 1 < MA_RECORDS_PER_CHUNK; i++)
		c[i].next = &c[i + 1];
	ma_store_relaxed(&c[0].in_use, 1);
	struct ma_thread *old = ma_registry_first();
	do
		c[MA_RECORDS_PER_CHUNK - 1].next = old;
	while (!atomic_compare_exchange_weak_explicit(&registry_head, &old, c,
	                                              memory_order_release, memory_order_acquire));
	if (gate)
		ma_store_release(&growing, 0);
	return &c[0];
}

void ma_registry_release(struct ma_thread *t)
{
	/* The owner's record holds its share of the live heap: never reuse it.
	 * Nobody takes over; later threads all batch. */
	if (t->is_owner)
		return;
	/* t->tier2 stays: the next thread to claim the record reuses its memory. */
	ma_store_release(&t->in_use, 0);
}

void ma_registry_reset_after_fork(struct ma_thread *self)
{
	ma_store_relaxed(&growing, 0); /* a parent thread's growth never ends here */
	for (struct ma_thread *t = ma_registry_first(); t; t = t->next) {
		struct ma_thread *next = t->next;
		void *tier2 = t->tier2; /* kept for reuse; tier2 zeroes its contents */
		/* Zero the counters only: the list links must survive. */
		memset(t, 0, offsetof(struct ma_thread, in_use));
		t->tier2 = tier2;
		ma_store_relaxed(&t->in_use, t == self);
		t->next = next;
	}
}

void ma_guard_raise_pending(void)
{
	int sig = ma_tls.fatal_pending;
	ma_tls.fatal_pending = 0;
	ma_os_raise(sig); /* its handler runs now, outside the guard */
}
