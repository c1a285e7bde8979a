/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stack.h: the arch-neutral frame walk and all its policy.
 *
 * A frame pointer is read only after it passes every check: aligned to a
 * word, inside a known stack range of this thread (so the 16-byte record
 * is mapped), and strictly above the previous one (callers live toward the
 * stack base).  The walk stops at the first failure, so code without frame
 * pointers, signal frames, alternate signal stacks, makecontext stacks and
 * corrupted chains all give short stacks, never a fault.
 *
 * Ranges come from /proc/self/maps, read with raw system calls: once per
 * thread for its own stack, and lazily (bounded per thread) for any other
 * stack the thread is found running on.
 */
#ifndef MA_STACK_H
#define MA_STACK_H

#include <stdbool.h>
#include <stdint.h>

struct ma_range {
	uintptr_t lo, hi; /* [lo, hi) */
};

#define MA_STACK_ALT_SLOTS 4
#define MA_STACK_MAX_LOOKUPS 256

struct ma_stack_state {
	struct ma_range own;                       /* the thread's stack */
	struct ma_range alt[MA_STACK_ALT_SLOTS];   /* other stacks seen: sigaltstack, ucontext */
	unsigned alt_next;
	unsigned lookups;                          /* /proc/self/maps reads so far */
	uint64_t unknown_stack_events;             /* captures with no known range */
};

/* The library's own code: return addresses inside it are skipped. */
void ma_stack_set_self(uintptr_t lo, uintptr_t hi);
/* Sets up `s` for the calling thread (reads /proc/self/maps once). */
void ma_stack_thread_init(struct ma_stack_state *s);
/*
 * Writes up to `max` return addresses, innermost first, starting at the
 * program's call into the allocator.  *truncated is set when more valid
 * frames followed.  Returns the count.
 */
unsigned ma_stack_capture(struct ma_stack_state *s, uintptr_t *out, unsigned max, bool *truncated);
/* The same, starting at frame `fp` (the shim's), which must be on this thread's stack. */
unsigned ma_stack_capture_from(struct ma_stack_state *s, uintptr_t fp, uintptr_t *out, unsigned max,
                               bool *truncated);
/* Walks from an explicit frame pointer (tests). */
unsigned ma_stack_walk(uintptr_t fp, struct ma_range r, uintptr_t *out, unsigned max, bool *truncated);
/* The /proc/self/maps mapping containing addr. */
bool ma_stack_find_mapping(uintptr_t addr, struct ma_range *r);

#endif
