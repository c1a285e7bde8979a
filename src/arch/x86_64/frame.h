/* SPDX-License-Identifier: Apache-2.0 */
/* arch/x86_64/frame.h: frame-record mechanics (see arch/README.md). */
#ifndef MA_ARCH_FRAME_H
#define MA_ARCH_FRAME_H

#include <stdint.h>

#define MA_ARCH_CAN_WALK 1
#define MA_ARCH_NAME "x86_64"

/* Record at rbp: [0] = caller's rbp, [1] = return address. */
static inline __attribute__((always_inline)) void ma_arch_record(uintptr_t fp, uintptr_t *next, uintptr_t *ret)
{
	const uintptr_t *r = (const uintptr_t *)fp;
	*next = r[0];
	*ret = r[1];
}

static inline __attribute__((always_inline)) uintptr_t ma_arch_pc(uintptr_t ret)
{
	return ret;
}

#endif
