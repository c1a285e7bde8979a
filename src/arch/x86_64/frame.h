/* SPDX-License-Identifier: Apache-2.0 */
/* arch/x86_64/frame.h: frame-record mechanics (see arch/README.md). */
#ifndef MA_ARCH_FRAME_H
#define MA_ARCH_FRAME_H

#include <stdbool.h>
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

/*
 * Does a call instruction end at ra?  `avail` bytes of code before ra are
 * readable (ra's own segment).  The forms: E8 rel32, and FF /2 (call r/m64)
 * with every ModRM/SIB/displacement layout; prefixes (REX, notrack) come
 * before the opcode and do not matter.
 */
static inline __attribute__((always_inline)) bool ma_arch_after_call(uintptr_t ra, uintptr_t avail)
{
	const uint8_t *p = (const uint8_t *)ra;
#define MA_FF2(k) (p[-(k)] == 0xFF && (p[-(k) + 1] & 0x38) == 0x10) /* FF, ModRM.reg = 2 */
#define MA_MOD(k) (p[-(k) + 1] >> 6)
#define MA_RM(k) (p[-(k) + 1] & 7)
	if (avail >= 5 && p[-5] == 0xE8)
		return true;
	/* FF /r reg, FF /[reg] (not SIB, not RIP-relative) */
	if (avail >= 2 && MA_FF2(2) && (MA_MOD(2) == 3 || (MA_MOD(2) == 0 && MA_RM(2) != 4 && MA_RM(2) != 5)))
		return true;
	/* FF /[reg + disp8]; FF /[SIB] without displacement */
	if (avail >= 3 && MA_FF2(3) &&
	    ((MA_MOD(3) == 1 && MA_RM(3) != 4) || (MA_MOD(3) == 0 && MA_RM(3) == 4 && (p[-1] & 7) != 5)))
		return true;
	/* FF /[SIB + disp8] */
	if (avail >= 4 && MA_FF2(4) && MA_MOD(4) == 1 && MA_RM(4) == 4)
		return true;
	/* FF /[rip + disp32]; FF /[reg + disp32] */
	if (avail >= 6 && MA_FF2(6) && ((MA_MOD(6) == 0 && MA_RM(6) == 5) || (MA_MOD(6) == 2 && MA_RM(6) != 4)))
		return true;
	/* FF /[SIB + disp32]; FF /[SIB, no base, disp32] */
	if (avail >= 7 && MA_FF2(7) &&
	    ((MA_MOD(7) == 2 && MA_RM(7) == 4) || (MA_MOD(7) == 0 && MA_RM(7) == 4 && (p[-5] & 7) == 5)))
		return true;
#undef MA_FF2
#undef MA_MOD
#undef MA_RM
	return false;
}

#endif
