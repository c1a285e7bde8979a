/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cfi.h: call-frame information (.eh_frame) compiled into unwind rules.
 *
 * Per executable range of a module, lazily (the first time a walk meets one
 * of its addresses), every FDE of the module's .eh_frame (found through
 * PT_GNU_EH_FRAME's sorted table) is interpreted and each of its rows is
 * reduced to one rule:
 *
 *   CFA = SP + off | FP + off     (the caller's stack pointer after return; off in words)
 *   RA  at CFA - 8                (x86_64; anything else: MA_CFI_NONE)
 *   RA  at CFA + 8 * ra           (aarch64: x30 saved in the frame; x30 not
 *                                  saved (a leaf, a prologue): ra 0, which
 *                                  the walk uses only in the frame a signal
 *                                  interrupted (x30 from its context), else
 *                                  as MA_CFI_NONE; saved elsewhere: MA_CFI_NONE)
 *   FP  unchanged | saved at CFA + 8 * fp
 *
 * or MA_CFI_END (the return address is undefined: _start, clone, a
 * thread's start), MA_CFI_SIGNAL (a signal trampoline, CIE augmentation
 * 'S': the interrupted registers are in the ucontext at the CFA) or
 * MA_CFI_NONE (anything else: a CFA expression, a register rule we do not
 * model, or no FDE at all): there the walk takes one frame-pointer step,
 * checked as ever, or ends.  Consecutive equal rules are merged; rows are
 * sorted by pc, so a lookup is a binary search.
 *
 * Tables live in their own anonymous mappings, are published with one
 * release store and are never unmapped (a walk in another thread may read
 * them).  One table is built at a time, process-wide: a walk that finds a
 * build under way (another thread's, or its own interrupted by a signal)
 * takes frame-pointer steps for that capture.  A table of a module loaded
 * after start-up (which a dlclose may unmap at any time) is built from a
 * copy made with fault-proof reads and is keyed to the module table it was
 * found in, so a range reused by a later dlopen never meets the old table.
 *
 * Corrupt or truncated .eh_frame (every read is bounds-checked against the
 * segment that holds it): the range gets no table, with one line on stderr.
 */
#ifndef MA_CFI_H
#define MA_CFI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

enum {
	MA_CFI_SP = 0,     /* CFA = SP + off */
	MA_CFI_FP = 1,     /* CFA = FP + off */
	MA_CFI_NONE = 2,   /* not expressible or no FDE: one frame-pointer step */
	MA_CFI_END = 3,    /* the outermost frame: the stack ends cleanly here */
	MA_CFI_SIGNAL = 4, /* a signal trampoline: registers in the ucontext at CFA */
};

/* 8 bytes.  The return address is at CFA - 8 (x86_64: anything else is
 * MA_CFI_NONE); CFA offsets are whole words (others: MA_CFI_NONE). */
struct ma_cfi_row {
	uint32_t pc;   /* offset from the table's lo: the rule holds from here to the next row */
	int16_t off8;  /* the CFA's offset from SP or FP, in words */
	uint8_t kind;  /* MA_CFI_* */
	int8_t fp;     /* the caller's FP saved at CFA + 8 * fp (aarch64: at the RA's
	                * place + 8 * fp); 0: FP unchanged */
#if defined(__aarch64__)
	int16_t ra;    /* aarch64: the return address (x30) saved at CFA + 8 * ra (< 0);
	                * 0: still in x30 (usable only where a signal frame gave x30) */
#endif
};

struct ma_cfi_table {
	uintptr_t lo, hi;  /* the code range the rows describe */
	size_t bytes;      /* mapped for it */
	uint32_t n;
	uint32_t fdes;     /* FDEs compiled */
	struct ma_cfi_row rows[];
};

/* Statistics of one compilation (for tests and the benchmark). */
struct ma_cfi_stats {
	uint32_t fdes, rows_in, rows_out, none_rows;
	const char *error; /* why no table was built, or NULL */
};

/*
 * Compiles the .eh_frame described by the .eh_frame_hdr at hdr (a runtime
 * address) into rules for code in [lo, hi).  data[0 .. len) holds the bytes
 * of the segment that contains both sections; vaddr is data[0]'s runtime
 * address (data may be a copy).  Returns a table in fresh anonymous memory,
 * or NULL (st->error says why).  No malloc, no stdio: safe on the
 * allocation path.
 */
struct ma_cfi_table *ma_cfi_compile(const uint8_t *data, size_t len, uintptr_t vaddr, uintptr_t hdr,
                                    uintptr_t lo, uintptr_t hi, struct ma_cfi_stats *st);
/* Unmaps a table that was never published (tests, fuzzing). */
void ma_cfi_free(struct ma_cfi_table *t);

/* The rule for the instruction at pc, or NULL where no FDE covers it. */
MA_INLINE const struct ma_cfi_row *ma_cfi_lookup(const struct ma_cfi_table *t, uintptr_t pc)
{
	uintptr_t a = pc - t->lo;
	if (a >= t->hi - t->lo)
		return NULL;
	uint32_t x = (uint32_t)a;
	unsigned lo = 0, hi = t->n;
	while (lo < hi) { /* the first row with pc > x */
		unsigned mid = (lo + hi) / 2;
		if (t->rows[mid].pc <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &t->rows[lo - 1] : NULL;
}

/* Bytes mapped for tables so far (never freed). */
uint64_t ma_cfi_mapped_bytes(void);

/*
 * The published table for the executable range [lo, hi) of the module
 * whose .eh_frame_hdr is at hdr inside the readable segment [seg_lo,
 * seg_hi), building it first if needed.  stable: the module was loaded at
 * start-up and stays mapped (its bytes are read in place); otherwise gen
 * (the module table the range was found in) keys the table.  Returns NULL
 * when there is none; *busy is set when a table may come later (a build
 * was under way): a caller must not remember a stack found without it.
 */
const struct ma_cfi_table *ma_cfi_table_for(uintptr_t lo, uintptr_t hi, uintptr_t hdr, uintptr_t seg_lo,
                                            uintptr_t seg_hi, bool stable, uintptr_t gen, bool *busy);

/* In a fork child: a build another thread of the parent had begun never ends. */
void ma_cfi_after_fork(void);

#endif
