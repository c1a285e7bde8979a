/* SPDX-License-Identifier: Apache-2.0 */
/*
 * modules.h: the executable ranges of the loaded modules, for the frame
 * walker's return-address check.
 *
 * One table, sorted by address, built with the loader's module list
 * (ma_os_each_module, outside the allocation path's locks) into fresh
 * anonymous memory and published with one atomic store.  A table is never
 * freed: a walk in another thread may still be reading it.  A walk loads the
 * current table once and checks each return address against it: inside an
 * executable PT_LOAD segment (PF_X) of a loaded module (the vDSO included)
 * and, where the code may be read, just after a call instruction.
 *
 * Code bytes are read only in modules that were loaded when the first table
 * was built (the program, its libraries, the vDSO): those are never
 * unmapped.  A module dlopen()ed later could be unmapped by a dlclose in
 * another thread at any moment, so in it only the range is checked.
 */
#ifndef MA_MODULES_H
#define MA_MODULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "internal.h"

#define MA_MOD_READABLE 1u /* loaded at start-up, never unmapped: its code may be read */
#define MA_MOD_ROOT 2u     /* the C library: where the main thread's chain of frames begins */
#define MA_MOD_SELF 4u     /* this library: never a frame of the program */
#define MA_MOD_SYSTEM 8u   /* the C library or the dynamic loader: not the program's to rebuild */

struct ma_module_range {
	uintptr_t lo, hi; /* [lo, hi) */
	uint32_t flags;
	/* The module's .eh_frame_hdr (PT_GNU_EH_FRAME) and the readable PT_LOAD
	 * segment [eh_lo, eh_hi) holding it (cfi.h); eh_hdr 0: none. */
	uintptr_t eh_hdr, eh_lo, eh_hi;
};

struct ma_modules {
	uint64_t adds, subs;  /* the loader's counts of loads and unloads when built */
	size_t bytes;         /* mapped for this table */
	uintptr_t root_lo, root_hi; /* the span of the MA_MOD_ROOT module's ranges */
	unsigned n;
	struct ma_module_range r[]; /* sorted by lo, disjoint */
};

/* The current table, or NULL before ma_modules_init. */
extern struct ma_modules *_Atomic ma_modules_now;

/* Builds the first table; *self_lo, *self_hi: the span of the module holding
 * self (this library).  False if no table could be built. */
bool ma_modules_init(uintptr_t self, uintptr_t *self_lo, uintptr_t *self_hi);
/* Rebuilds the table when the loader's counts moved since it was built (or
 * always, with force).  True when a new table was published. */
bool ma_modules_refresh(bool force);
/* The address span [lo, hi) of a module's PT_LOAD segments (<link.h>'s). */
struct dl_phdr_info;
void ma_modules_load_span(const struct dl_phdr_info *info, uintptr_t *lo, uintptr_t *hi);
/* In a fork child: a rebuild another thread of the parent had begun never ends. */
void ma_modules_after_fork(void);
/* Bytes mapped for tables so far (never freed). */
uint64_t ma_modules_mapped_bytes(void);

/* The executable range holding the instruction before pc (a return
 * address: the call may be a segment's last instruction, before a noreturn
 * callee), or NULL. */
MA_INLINE const struct ma_module_range *ma_modules_find(const struct ma_modules *t, uintptr_t pc)
{
	uintptr_t a = pc - 1;
	unsigned lo = 0, hi = t->n;
	while (lo < hi) { /* the first range with r.lo > a */
		unsigned mid = (lo + hi) / 2;
		if (t->r[mid].lo <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && a < t->r[lo - 1].hi ? &t->r[lo - 1] : NULL;
}

/* Could the program's code have pushed pc (a return address in range m,
 * authentication bits stripped)?  Not in our code, and just after a call
 * where the code may be read (only within pc's segment). */
MA_INLINE bool ma_modules_ret_ok(const struct ma_module_range *m, uintptr_t pc)
{
	if (m->flags & MA_MOD_SELF)
		return false;
	return !(m->flags & MA_MOD_READABLE) || ma_arch_after_call(pc, pc - m->lo);
}

#endif
