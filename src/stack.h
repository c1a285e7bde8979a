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
 * The thread's own stack range comes from /proc/self/maps, read with raw
 * system calls once per thread (again, within a budget, if the main stack
 * grows).  On any other stack (a signal handler on sigaltstack, a
 * makecontext coroutine, garbage in the frame pointer) nothing is known to
 * stay mapped, so every frame record there is read with a fault-proof
 * system call (process_vm_readv) instead of a load, and the walk stays
 * within MA_STACK_FOREIGN_SPAN above its start: slower, never a crash.
 */
#ifndef MA_STACK_H
#define MA_STACK_H

#include <stdbool.h>
#include <stdint.h>

struct ma_range {
	uintptr_t lo, hi; /* [lo, hi) */
};

#define MA_STACK_MAX_LOOKUPS 64
#define MA_STACK_FOREIGN_SPAN (1u << 20) /* how far a walk may climb a foreign stack */

struct ma_stack_state {
	struct ma_range own;                       /* the thread's stack */
	unsigned lookups;                          /* /proc/self/maps reads so far */
};

/* The library's own code: return addresses inside it are skipped. */
void ma_stack_set_self(uintptr_t lo, uintptr_t hi);
/* Sets up `s` for the calling thread (reads /proc/self/maps once). */
void ma_stack_thread_init(struct ma_stack_state *s);
/*
 * Writes up to `max` return addresses, innermost first, walking from frame
 * `fp` (the shim's, so the program's call into the allocator comes first).
 * *truncated is set when more valid frames followed.  Returns the count.
 */
unsigned ma_stack_capture_from(struct ma_stack_state *s, uintptr_t fp, uintptr_t *out, unsigned max,
                               bool *truncated);
/* The /proc/self/maps mapping containing addr. */
bool ma_stack_find_mapping(uintptr_t addr, struct ma_range *r);

#endif
