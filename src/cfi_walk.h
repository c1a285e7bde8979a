/* SPDX-License-Identifier: Apache-2.0 */
/* cfi_walk.h: the walk by call-frame information (cfi_walk.c), under the
 * same contract as stack_walk.h's frame-pointer walk, which it builds on. */
#ifndef MA_CFI_WALK_H
#define MA_CFI_WALK_H

#include <stdbool.h>
#include <stdint.h>

#include "stack_walk.h"

/* MOD_ALLOC_UNWIND=cfi/auto where the arch has a call-frame walk (cfi_walk.c). */
extern bool ma_stack_unwind_cfi;
/* ma_stack_walk's contract (checked = false), walking by call-frame
 * information where modules have it (cfi_walk.c). */
unsigned ma_cfi_walk(uintptr_t fp, struct ma_range r, uintptr_t *out, unsigned max, bool *truncated,
                     uintptr_t *diff, struct ma_stack_memo *m, unsigned *stop, struct ma_stack_code *code);

/* The same on a stack not known to stay mapped (r: within MA_STACK_FOREIGN_SPAN
 * of fp), every read checked; a signal frame may lead back to `own`. */
unsigned ma_cfi_walk_foreign(uintptr_t fp, struct ma_range r, struct ma_range own, uintptr_t *out, unsigned max,
                             bool *truncated, uintptr_t *diff, unsigned *stop, struct ma_stack_code *code);

#endif
