/* SPDX-License-Identifier: Apache-2.0 */
/* arch/aarch64/frame.h: frame-record mechanics (see arch/README.md). */
#ifndef MA_ARCH_FRAME_H
#define MA_ARCH_FRAME_H

#include <stdbool.h>
#include <stdint.h>

#define MA_ARCH_CAN_WALK 1
#define MA_ARCH_NAME "aarch64"

/* Record at x29: [0] = caller's x29, [1] = x30 (the link register). */
static inline __attribute__((always_inline)) void ma_arch_record(uintptr_t fp, uintptr_t *next, uintptr_t *ret)
{
	const uintptr_t *r = (const uintptr_t *)fp;
	*next = r[0];
	*ret = r[1];
}

/*
 * Return addresses signed with pointer authentication carry a PAC in their
 * top bits.  XPACLRI (a HINT-space instruction: a no-op on CPUs without
 * PAuth) strips it from x30; it must be that register.
 */
static inline __attribute__((always_inline)) uintptr_t ma_arch_pc(uintptr_t ret)
{
	register uintptr_t lr __asm__("x30") = ret;
	__asm__("hint #7" /* xpaclri */ : "+r"(lr));
	return lr;
}

/*
 * Is the instruction before ra a call?  `avail` bytes of code before ra are
 * readable (ra's own segment).  BL imm26; BLR Xn; BLRAA, BLRAAZ, BLRAB,
 * BLRABZ (pointer authentication).
 */
static inline __attribute__((always_inline)) bool ma_arch_after_call(uintptr_t ra, uintptr_t avail)
{
	if (avail < 4 || (ra & 3))
		return false;
	uint32_t i = *(const uint32_t *)(ra - 4);
	return (i & 0xFC000000u) == 0x94000000u ||  /* BL */
	       (i & 0xFFFFFC1Fu) == 0xD63F0000u ||  /* BLR */
	       (i & 0xFEFFF800u) == 0xD63F0800u;    /* BLRAA(Z), BLRAB(Z) */
}

#endif
