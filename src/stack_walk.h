/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stack_walk.h: the arch-neutral frame walk and all its policy (the capture
 * that picks a walk is stack.h; the call-frame walk, cfi_walk.h, builds on this).
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
 *
 * Code without frame pointers leaves the frame-pointer register holding
 * anything, so a "record" may be any two words: every return address is
 * checked against the loaded modules (modules.h) before it is reported:
 * inside one's executable code, not ours, and just after a call
 * instruction.  The first that fails ends the walk; nothing is skipped and
 * no frame is made up.  Why the walk ended is told (MA_STACK_EARLY).
 */
#ifndef MA_STACK_WALK_H
#define MA_STACK_WALK_H

#include <stdbool.h>
#include <stdint.h>

#include "atomic.h"
#include "frame.h"
#include "internal.h"
#include "modules.h"
#include "os.h"

struct ma_range {
	uintptr_t lo, hi; /* [lo, hi) */
};

#define MA_STACK_MAX_LOOKUPS 64
#define MA_STACK_FOREIGN_SPAN (1u << 20) /* how far a walk may climb a foreign stack */

/* The code range of the last return address a walk checked, and the
 * module table it is from: the next address is most often in it. */
#define MA_STACK_RULES 64
struct ma_stack_code {
	const struct ma_modules *table;
	struct ma_module_range r;
	/* cfi_walk.c: the rules last found for return addresses (direct-mapped,
	 * the rule for pc - 1), valid for rules_table's modules: frames recur
	 * from walk to walk. */
	const struct ma_modules *rules_table;
	struct {
		uintptr_t pc;  /* the return address; 0: empty */
		int32_t off;   /* the rule itself (no load of the row): the CFA's offset in bytes */
		uint8_t kind;  /* MA_CFI_* */
		int8_t fp;     /* the caller's FP at CFA + 8 * fp; 0: unchanged */
		int16_t ra;    /* aarch64: the return address at CFA + 8 * ra */
	} rules[MA_STACK_RULES];
	uintptr_t table_lo[4];    /* the last code ranges' tables (by their lo) */
	const void *tables[4];    /* const struct ma_cfi_table *, NULL: none */
	unsigned next_table;
};

/* The library's own code: return addresses inside it are skipped. */
void ma_stack_set_self(uintptr_t lo, uintptr_t hi);
/* The library's own code (set by ma_stack_set_self). */
extern uintptr_t ma_stack_self_lo, ma_stack_self_hi;

MA_INLINE bool ma_stack_in_range(const struct ma_range *r, uintptr_t p)
{
	return p >= r->lo && p < r->hi;
}

/* One frame record: by loads inside a range known mapped, else by a checked read. */
MA_INLINE bool ma_stack_read_record(uintptr_t fp, bool checked, uintptr_t *next, uintptr_t *ret)
{
	if (!checked) {
		ma_arch_record(fp, next, ret);
		return true;
	}
	uintptr_t rec[2];
	if (ma_os_read_checked(fp, rec, sizeof rec) != 0)
		return false;
	*next = rec[0];
	*ret = rec[1];
	return true;
}

/* At most this many of the library's own frames are skipped before the program's. */
#define MA_STACK_SKIP_MAX 16

/* May the walk go on from the record at fp to `next` (read there)?  Only
 * strictly toward the stack base, not past top, to an aligned record. */
MA_INLINE bool ma_stack_next_ok(uintptr_t fp, uintptr_t next, uintptr_t top)
{
	return next > fp && next <= top && !(next & (sizeof(uintptr_t) - 1));
}

/*
 * The prologue of both walks (ma_stack_walk, cfi_walk.c's): from the
 * record at fp (the shim's), skips the library's own frames, which keep
 * frame pointers, leaving fp at the record of the first frame outside
 * them, next and ret the two words read there and pc its return address;
 * returns 0 (no stack) from the walk where there is none.  READ reads the
 * record at fp into next and ret (and remembers it as its walk's memo
 * does), or leaves the walk.  A macro, not an inline function: through a
 * function (pointers to fp, next and the memo cursor) GCC lays the
 * call-frame walk's loop out worse (0.79 -> 0.88 of libunwind's time per
 * frame, docs/bench.md).
 */
#define MA_STACK_SKIP_SELF(fp, next, ret, pc, top, READ)                                \
	for (unsigned skipped_ = 1;; skipped_++) {                                      \
		READ;                                                                   \
		if (!(ret))                                                             \
			return 0;                                                       \
		(pc) = ma_arch_pc(ret);                                                 \
		if (MA_LIKELY((pc) < ma_stack_self_lo || (pc) >= ma_stack_self_hi))     \
			break;                                                          \
		if (skipped_ == MA_STACK_SKIP_MAX || !ma_stack_next_ok(fp, next, top))  \
			return 0;                                                       \
		(fp) = (next);                                                          \
	}

/* One frame record as both supported arches lay it out (arch/README.md);
 * aligned in the memo so that the check compares with it in place. */
struct ma_stack_record {
	uintptr_t next, ret;
} __attribute__((aligned(2 * sizeof(uintptr_t))));

/*
 * What a walk of the thread's own stack read: every record, in order, from
 * `start`.  The walk's result is a function of those records alone (the
 * stack's top and the library's span do not change), so when each of them
 * still holds the same two words the stack is the same, exactly.  Checking
 * that is not a pointer chase: record i+1's address is record i's
 * remembered `next`, so the loads are independent and run in parallel,
 * where a walk waits a load latency per frame (about 4 cycles; 27 frames
 * took ~110 cycles of the ~300 an allocation costs at depth 20).
 */
struct ma_stack_memo {
	unsigned reads;           /* records read; 0: nothing remembered */
	bool truncated;           /* the walk hit its limit */
	bool cfi;                 /* a call-frame walk's (cfi_walk.c): rec[i] = { address, word read there } */
	uint8_t stop;             /* the walk's MA_STACK_EARLY bit */
	uint64_t key;             /* the caller's: which stacks this memo is for */
	uint64_t value;           /* the caller's: what this stack maps to */
	uintptr_t aux;            /* the caller's: more of it */
	uintptr_t start;
	struct ma_stack_record rec[]; /* ma_stack_memo_bytes(max) holds them */
};

/* The number of records a memo for walks of up to `max` frames holds: a
 * frame-pointer walk reads at most MA_STACK_SKIP_MAX records of ours, then
 * one per frame kept; a call-frame walk remembers the 16-byte pieces of
 * stack it read as two records each ({address, 0}, {the two words}): one
 * per record of ours, at most two per frame (it remembers nothing when a
 * walk needs more). */
MA_INLINE unsigned ma_stack_memo_records(unsigned max)
{
	return 2 * (MA_STACK_SKIP_MAX + 2 * max);
}

/* A call-frame walk's memo of fewer than MA_STACK_MEMO_SHORT pieces is
 * padded to that many with pieces that read ma_stack_memo_pad (16 zero
 * bytes that never change) and remember {0, 0}: they always compare equal,
 * so the check reads a short memo (a loop allocating from main: 5 pieces)
 * with straight-line code and one length test, no loop.  The memo always
 * holds them: ma_stack_memo_records(0) is 32. */
#define MA_STACK_MEMO_SHORT 6
extern const uintptr_t ma_stack_memo_pad[2];

MA_INLINE size_t ma_stack_memo_bytes(unsigned max)
{
	return sizeof(struct ma_stack_memo) + ma_stack_memo_records(max) * sizeof(struct ma_stack_record);
}

/*
 * Is the stack from `fp` the one the memo describes?  Safe to call on any
 * fp: nothing is read unless fp is the remembered start, and then only
 * addresses the remembered walk validated on the thread's own stack, which
 * stays mapped while the thread lives.  A record that changed only sends
 * the caller to walk again.
 */
/* A record on the stack (word-aligned) and one in the memo (aligned). */
typedef uintptr_t ma_stack_pair __attribute__((vector_size(2 * sizeof(uintptr_t)), aligned(sizeof(uintptr_t)),
                                               may_alias));
typedef uintptr_t ma_stack_kept __attribute__((vector_size(2 * sizeof(uintptr_t)), may_alias));

/*
 * A memo's first word, `reads` to `stop` as laid out above (little-endian,
 * as both arches run), for a short call-frame memo of a walk that was not
 * cut short: one compare tells ma_stack_memo_short_repeats applies and the
 * flags are clear.  (Byte 7, padding, is zero in the mapped memos; were it
 * not, the compare would only fail: the long check, never a wrong answer.)
 */
#define MA_STACK_MEMO_SHORT_CLEAN ((uint64_t)(2 * MA_STACK_MEMO_SHORT) | (uint64_t)1 << 40)
_Static_assert(offsetof(struct ma_stack_memo, truncated) == 4 && offsetof(struct ma_stack_memo, cfi) == 5 &&
               offsetof(struct ma_stack_memo, stop) == 6 && offsetof(struct ma_stack_memo, key) == 8,
               "MA_STACK_MEMO_SHORT_CLEAN assumes this layout");

MA_INLINE uint64_t ma_stack_memo_head(const struct ma_stack_memo *m)
{
	uint64_t w;
	__builtin_memcpy(&w, m, sizeof w);
	return w;
}

/*
 * ma_stack_memo_repeats for a short call-frame memo (padded, see
 * MA_STACK_MEMO_SHORT) that starts at fp: every piece, straight, one
 * branch (each piece is safe to read whatever the others hold); the shim's
 * record as in the long check below.
 */
MA_INLINE bool ma_stack_memo_short_repeats(const struct ma_stack_memo *m, uintptr_t fp)
{
	typedef ma_stack_pair pair;
	typedef ma_stack_kept kept;
	const struct ma_stack_record *rec = m->rec;
	const uintptr_t *s0 = (const uintptr_t *)fp; /* = rec[0].next */
	uintptr_t d0 = (s0[0] ^ rec[1].next) | (s0[1] ^ rec[1].ret);
	pair d = *(const pair *)rec[2].next ^ *(const kept *)&rec[3];
	pair d2 = *(const pair *)rec[4].next ^ *(const kept *)&rec[5];
	d |= *(const pair *)rec[6].next ^ *(const kept *)&rec[7];
	d2 |= *(const pair *)rec[8].next ^ *(const kept *)&rec[9];
	d |= *(const pair *)rec[10].next ^ *(const kept *)&rec[11];
	d |= d2;
	return !(d0 | d[0] | d[1]);
}

/* ma_stack_memo_repeats once fp is known to be the memo's start. */
MA_INLINE bool ma_stack_memo_repeats_from(const struct ma_stack_memo *m, uintptr_t fp)
{
	typedef ma_stack_pair pair;
	typedef ma_stack_kept kept;
	unsigned n = m->reads;
	const struct ma_stack_record *rec = m->rec, *end = rec + n;
	if (m->cfi) {
		/* (a short memo first: n is not 0 there) */
		if (n == 2 * MA_STACK_MEMO_SHORT)
			return ma_stack_memo_short_repeats(m, fp);
		if (n < 2 * MA_STACK_MEMO_SHORT) /* 0 (none); shorter ones are padded */
			return false;
		/* A call-frame walk's: the 16-byte pieces of stack it read, each
		 * as {address, 0} then the two words; the walk's result is a
		 * function of those words alone (the start, and each address
		 * read, follow from the words read before).  Independent loads;
		 * the first two pieces (the shim's record, the first frame's
		 * return address) checked first.  The shim's record was written
		 * an instant ago by the call and the push of its frame pointer,
		 * two 8-byte stores: two 8-byte loads take them from the store
		 * buffer, where one 16-byte load waits for both to reach the
		 * cache (bench tight: ~1.5% less time a call, 2 instructions
		 * more). */
		const uintptr_t *s0 = (const uintptr_t *)fp; /* = rec[0].next: the shim's record */
		uintptr_t d0 = (s0[0] ^ rec[1].next) | (s0[1] ^ rec[1].ret);
		/* (padded: at least MA_STACK_MEMO_SHORT pieces, see there) */
		pair d = *(const pair *)rec[2].next ^ *(const kept *)&rec[3];
		if (d0 | d[0] | d[1])
			return false;
		rec += 4;
		pair d2 = d;
		for (; end - rec >= 4; rec += 4) {
			d |= *(const pair *)rec[0].next ^ *(const kept *)&rec[1];
			d2 |= *(const pair *)rec[2].next ^ *(const kept *)&rec[3];
		}
		if (rec != end)
			d |= *(const pair *)rec[0].next ^ *(const kept *)&rec[1];
		d |= d2;
		return !(d[0] | d[1]);
	}
	if (!n)
		return false;
	/* The innermost records first, checked after 2, 6 and 10 of them: stacks
	 * that differ mostly differ near the allocation, and a miss then costs
	 * little (a caller tries two memos before it walks); the rest in rounds
	 * of four into two accumulators, with no branch but the loop's. */
	const uintptr_t *s0 = (const uintptr_t *)fp; /* the shim's record: see above */
	uintptr_t d0 = (s0[0] ^ rec->next) | (s0[1] ^ rec->ret);
	pair d = { 0, 0 };
	uintptr_t a = rec->next;
	if (++rec != end) {
		d |= *(const pair *)a ^ *(const kept *)rec;
		a = rec->next;
		rec++;
	}
	if (d0 | d[0] | d[1])
		return false;
	pair d2 = d;
#define MA_STACK_ROUND4()                                               \
	do {                                                            \
		d |= *(const pair *)a ^ *(const kept *)rec;             \
		uintptr_t b = rec[0].next;                              \
		d2 |= *(const pair *)b ^ *(const kept *)&rec[1];        \
		a = rec[1].next;                                        \
		d |= *(const pair *)a ^ *(const kept *)&rec[2];         \
		b = rec[2].next;                                        \
		d2 |= *(const pair *)b ^ *(const kept *)&rec[3];        \
		a = rec[3].next;                                        \
		rec += 4;                                               \
	} while (0)
	for (int early = 0; early < 2 && end - rec >= 4; early++) {
		MA_STACK_ROUND4();
		pair e = d | d2;
		if (e[0] | e[1])
			return false;
	}
	while (end - rec >= 4)
		MA_STACK_ROUND4();
#undef MA_STACK_ROUND4
	for (; rec != end; rec++) {
		d |= *(const pair *)a ^ *(const kept *)rec;
		a = rec->next;
	}
	d |= d2;
	return !(d[0] | d[1]);
}

MA_INLINE bool ma_stack_memo_repeats(const struct ma_stack_memo *m, uintptr_t fp)
{
	return fp == m->start && ma_stack_memo_repeats_from(m, fp);
}

/*
 * Why a walk ended (*stop), two bits.  MA_STACK_EARLY: frames are missing
 * because the program's code keeps no frame pointers: the walk stopped at a
 * record that failed a check after a frame of the program (not of the C
 * library or the loader, which Debian builds without frame pointers and
 * nobody rebuilds).  Not set where chains end: a 0 link (_start, clone),
 * main's caller in the C library (it keeps no link to _start), the depth
 * limit.  MA_STACK_UNKNOWN: the walk stopped at a return address outside
 * every module the table knows (a module loaded since it was built, or
 * garbage).
 */
#define MA_STACK_EARLY 1u
#define MA_STACK_UNKNOWN 2u

/*
 * Checks the return address pc for a walk: 0 if it may be reported, else
 * why the walk ends there.  code->r: the range of the last address found,
 * tried first (the next one is most often in the same module), updated.
 * Everything it needs is behind `code`, so that the walk's loop keeps its
 * own values in registers.
 */
MA_INLINE unsigned ma_stack_check_ret(struct ma_stack_code *code, uintptr_t pc, const struct ma_range *r)
{
	struct ma_module_range *c = &code->r;
	if (MA_UNLIKELY(pc - 1 - c->lo >= c->hi - c->lo)) {
		const struct ma_module_range *f = ma_modules_find(code->table, pc);
		if (!f) /* a stack address is garbage, whatever was loaded since */
			return MA_STACK_EARLY | (ma_stack_in_range(r, pc) ? 0 : MA_STACK_UNKNOWN);
		*c = *f;
	}
	return ma_modules_ret_ok(c, pc) ? 0 : MA_STACK_EARLY;
}

/*
 * r: the stack's bounds; a frame pointer outside them ends the walk.
 * checked: r is not known to stay mapped: read each record with a checked read.
 * m: when not NULL (unchecked walks only), every record read is remembered
 * there (m->reads is left 0 when the walk ends before the program's frames).
 *
 * out[] holds the previous stack on entry and is overwritten in place; *diff
 * is non-zero when any of the first n entries changed (the caller compares
 * the lengths), so a repeated stack costs no second pass and no copy.
 * Every entry of out[] (beyond n too) is 0 or a return address a walk
 * checked: an address equal to the one already there at its place is not
 * checked again (the caller clears out[] when the module table changes).
 * Per frame: two loads, the checks, one compare-and-store.
 */
MA_INLINE unsigned ma_stack_walk(uintptr_t fp, struct ma_range r, bool checked, uintptr_t *out, unsigned max,
                                 bool *truncated, uintptr_t *diff, struct ma_stack_memo *m, unsigned *stop,
                                 struct ma_stack_code *code)
{
	*truncated = false;
	*diff = 0;
	*stop = MA_STACK_EARLY;
	const struct ma_modules *mods = ma_load_acquire(&ma_modules_now);
	if (MA_UNLIKELY(!mods))
		return 0;
	if (MA_UNLIKELY(code->table != mods)) {
		code->table = mods;
		code->r = (struct ma_module_range){ 0 };
	}
	if (r.hi < r.lo + 2 * sizeof(uintptr_t))
		return 0;
	uintptr_t top = r.hi - 2 * sizeof(uintptr_t);
	if ((fp & (sizeof(uintptr_t) - 1)) || fp < r.lo || fp > top)
		return 0;
	uintptr_t start = fp, next, ret, pc;
	struct ma_stack_record *w = m ? m->rec : NULL; /* where the next record read is remembered */
#define MA_STACK_REMEMBER()                                                      \
	do {                                                                     \
		if (m)                                                           \
			*w++ = (struct ma_stack_record){ next, ret };            \
	} while (0)
	/* Our own frames come first: skip them. */
	MA_STACK_SKIP_SELF(fp, next, ret, pc, top, do {
		if (!ma_stack_read_record(fp, checked, &next, &ret) || !ret)
			return 0;
		MA_STACK_REMEMBER();
	} while (0));
	unsigned st = 0;
	uintptr_t *o = out, *end = out + max, d = 0;
	for (;;) {
		if (MA_UNLIKELY(o == end)) {
			*truncated = true;
			if (m)
				m->truncated = true;
			break;
		}
		/* Checked once: an address already at its place was checked by the walk that put it there. */
		uintptr_t x = *o ^ pc;
		if (x && (st = ma_stack_check_ret(code, pc, &r)) != 0)
			break;
		d |= x;
		*o++ = pc;
		/* ma_stack_next_ok, spelled out: through the helper GCC lays this
		 * loop out worse (24 more instructions per walk of 33 frames). */
		if (next <= fp || next > top || (next & (sizeof(uintptr_t) - 1))) {
			/* Where a chain may end: a 0 link (_start, clone), or main's
			 * caller in the C library, which keeps no link to _start. */
			if (next && pc - 1 - mods->root_lo >= mods->root_hi - mods->root_lo)
				st = MA_STACK_EARLY;
			break;
		}
		fp = next;
		if (!ma_stack_read_record(fp, checked, &next, &ret)) {
			st = MA_STACK_EARLY;
			break;
		}
		MA_STACK_REMEMBER();
		if (!ret)
			break;
		pc = ma_arch_pc(ret);
	}
#undef MA_STACK_REMEMBER
	/* Cut short after a frame of the C library or the loader: not the program's doing. */
	if (MA_UNLIKELY(st & MA_STACK_EARLY) && o != out) {
		const struct ma_module_range *f = ma_modules_find(mods, o[-1]);
		if (f && (f->flags & MA_MOD_SYSTEM))
			st &= ~MA_STACK_EARLY;
	}
	*stop = st;
	if (m) {
		m->reads = (unsigned)(w - m->rec);
		m->start = start;
		m->stop = (uint8_t)st;
	}
	unsigned n = (unsigned)(o - out);
	*diff = d;
	return n;
}

#endif
