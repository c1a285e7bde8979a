/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stack.h: a thread's stack captures.  The thread's own stack range (from
 * /proc/self/maps), and the capture that picks a walk: by call-frame
 * information (cfi_walk.h) or frame pointers (stack_walk.h) on the thread's
 * own stack, fault-proof reads on any other (stack.c).
 */
#ifndef MA_STACK_H
#define MA_STACK_H

#include <stdbool.h>
#include <stdint.h>

#include "cfi_walk.h"
#include "stack_walk.h"

struct ma_stack_state {
	struct ma_range own;                       /* the thread's stack */
	struct ma_stack_code code;                 /* the walks' last code range (not nested ones') */
	unsigned lookups;                          /* /proc/self/maps reads so far */
};

/* Sets up `s` for the calling thread (reads /proc/self/maps once). */
void ma_stack_thread_init(struct ma_stack_state *s);

/*
 * The return addresses of the first two frame records from the shim's frame
 * fp, mixed into one key: which call allocates, and who made that call (the
 * callers of one allocation wrapper differ only there).  The shim's own
 * record needs no check; its caller's is read only where a walk would.
 */
MA_INLINE uintptr_t ma_stack_call_key(const struct ma_stack_state *s, uintptr_t fp)
{
	uintptr_t next, ret, next2, ret2;
	ma_arch_record(fp, &next, &ret);
	if (MA_LIKELY(ma_stack_in_range(&s->own, fp) &&
	              ma_stack_next_ok(fp, next, s->own.hi - 2 * sizeof(uintptr_t)))) {
		ma_arch_record(next, &next2, &ret2);
		ret = ret * 31 + ret2;
	}
	return ret;
}

/* Everything but the walk of the thread's own known stack (stack.c). */
unsigned ma_stack_capture_slow(struct ma_stack_state *s, uintptr_t fp, uintptr_t *out, unsigned max,
                               bool *truncated, uintptr_t *diff, unsigned *stop, struct ma_stack_code *code);

/*
 * Writes up to `max` return addresses, innermost first, walking from frame
 * `fp` (the shim's, so the program's call into the allocator comes first).
 * *truncated is set when more valid frames followed.  Returns the count.
 * out[] may hold an earlier stack: *diff is zero when its first n entries
 * were already these (compare the lengths too).  Inline: the usual case (a
 * walk on the thread's own stack) costs no call.  m, when not NULL, is
 * cleared, then filled by a walk of the thread's own known stack.  *stop:
 * why the walk ended (MA_STACK_EARLY, MA_STACK_UNKNOWN).  code: the
 * walks' cached code range (s->code; a walk nested in another, from a
 * signal handler, passes its own: the interrupted walk may be writing it).
 */
MA_INLINE unsigned ma_stack_capture_from(struct ma_stack_state *s, uintptr_t fp, uintptr_t *out,
                                         unsigned max, bool *truncated, uintptr_t *diff,
                                         struct ma_stack_memo *m, unsigned *stop, struct ma_stack_code *code)
{
	if (m) {
		m->reads = 0;
		m->truncated = false;
		m->stop = 0;
		m->cfi = false;
	}
	if (MA_ARCH_CAN_WALK && MA_LIKELY(ma_stack_in_range(&s->own, fp))) {
		if (ma_stack_unwind_cfi) /* MOD_ALLOC_UNWIND: call-frame information where there is some */
			return ma_cfi_walk(fp, s->own, out, max, truncated, diff, m, stop, code);
		return ma_stack_walk(fp, s->own, false, out, max, truncated, diff, m, stop, code);
	}
	return ma_stack_capture_slow(s, fp, out, max, truncated, diff, stop, code);
}

/* The /proc/self/maps mapping containing addr. */
bool ma_stack_find_mapping(uintptr_t addr, struct ma_range *r);

#endif
