/* SPDX-License-Identifier: Apache-2.0 */
/* arch/none/frame.h: no frame walker for this CPU; stacks are empty. */
#ifndef MA_ARCH_FRAME_H
#define MA_ARCH_FRAME_H

#include <stdbool.h>
#include <stdint.h>

#define MA_ARCH_CAN_WALK 0
#define MA_ARCH_NAME "none"

static inline void ma_arch_record(uintptr_t fp, uintptr_t *next, uintptr_t *ret) { (void)fp; *next = 0; *ret = 0; }
static inline uintptr_t ma_arch_pc(uintptr_t ret) { return ret; }

static inline bool ma_arch_after_call(uintptr_t ra, uintptr_t avail) { (void)ra; (void)avail; return true; }

#endif
