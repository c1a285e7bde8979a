/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cfi_walk.c: the walk by call-frame information (MOD_ALLOC_UNWIND=cfi),
 * with ma_stack_walk's contract (stack.h) on the thread's own stack.
 *
 * The first frame needs no register reads: the library is built with frame
 * pointers, so the record at the shim's frame pointer fp (the last of ours,
 * skipped as by the frame-pointer walk) holds the caller's rbp and the
 * return address into the program, and the caller's stack pointer after
 * that return is fp + 16 (x86_64: rbp = CFA - 16 in every function that
 * keeps a frame pointer).  Then per frame, with (pc, sp, bp):
 *
 *   the rule for pc - 1 (pc itself for a frame a signal interrupted);
 *   CFA = sp or bp + off, above sp, on this stack; RA = [CFA - 8];
 *   bp = [CFA + 8k] when saved, else unchanged; sp = CFA;
 *
 * where the module has no table or the rule is not of that form, one
 * frame-pointer step (the record at bp, checked as ever) or the end.  A
 * signal trampoline's frame (CIE 'S') continues from the registers in the
 * ucontext at its CFA.  Every return address is checked as ever
 * (modules.h); the interrupted pc of a signal frame only for its range.
 *
 * Every stack word read is remembered in the memo, in the 16-byte piece
 * of stack around it (the return address with the word below it, where
 * frames keep the saved FP): the repeat check compares those pieces as the
 * frame-pointer memo compares records (ma_stack_memo_repeats).  A walk that
 * met a table being built remembers nothing (the next walk may see more).
 */
#include "cfi_walk.h"

#include "cfi.h"

#include <string.h>

/* Pads short memos (stack_walk.h): 16 bytes that stay 0. */
const uintptr_t ma_stack_memo_pad[2] __attribute__((aligned(2 * sizeof(uintptr_t)))) = { 0, 0 };

#if defined(__aarch64__)
#include <signal.h>
#include <stddef.h>
#include <sys/ucontext.h>
#endif

#if defined(__x86_64__) || defined(__aarch64__)
#define CFI_WALKS 1
#else
#define CFI_WALKS 0
#endif

bool ma_stack_unwind_cfi;

/* The table for the range holding pc - 1 (code->r is set to that range). */
static const struct ma_cfi_table *table_of(struct ma_stack_code *code, uintptr_t pc, bool *busy)
{
	struct ma_module_range *c = &code->r;
	if (pc - 1 - c->lo >= c->hi - c->lo) {
		const struct ma_module_range *f = ma_modules_find(code->table, pc);
		if (!f)
			return NULL;
		*c = *f;
	}
	if (!c->eh_hdr || (c->flags & MA_MOD_SELF))
		return NULL;
	for (unsigned i = 0; i < 4; i++)
		if (code->table_lo[i] == c->lo)
			return code->tables[i];
	bool later = false;
	const struct ma_cfi_table *t = ma_cfi_table_for(c->lo, c->hi, c->eh_hdr, c->eh_lo, c->eh_hi,
	                                                c->flags & MA_MOD_READABLE, (uintptr_t)code->table, &later);
	if (later) {
		*busy = true;
	} else { /* the answer stays (for this module table) */
		unsigned i = code->next_table++ & 3;
		code->table_lo[i] = c->lo;
		code->tables[i] = t;
	}
	return t;
}

#if defined(__aarch64__)
/*
 * aarch64: the caller's stack pointer after the shim returns is the shim's
 * CFA, which its frame pointer does not give (the frame record sits at the
 * bottom of the frame): the library's own rule at spc (the shim's pc, a
 * return address into it) does, CFA = x29 + off.  0 where there is none.
 */
static uintptr_t self_cfa(struct ma_stack_code *code, const struct ma_modules *mods, uintptr_t spc, uintptr_t fp,
                          bool *busy)
{
	size_t slot = ((spc << 4) ^ (spc >> 2)) & ((MA_STACK_RULES - 1) << 4);
	__typeof__(&code->rules[0]) e = (__typeof__(e))((char *)code->rules + slot);
	if (e->pc != spc) {
		const struct ma_module_range *f = ma_modules_find(mods, spc);
		if (!f || !f->eh_hdr)
			return 0;
		bool later = false;
		const struct ma_cfi_table *t = ma_cfi_table_for(f->lo, f->hi, f->eh_hdr, f->eh_lo, f->eh_hi,
		                                                f->flags & MA_MOD_READABLE, (uintptr_t)mods, &later);
		const struct ma_cfi_row *row = t ? ma_cfi_lookup(t, spc - 1) : NULL;
		if (later) {
			*busy = true;
			return 0;
		}
		e->pc = spc;
		e->kind = row ? row->kind : MA_CFI_NONE;
		e->off = row ? (int32_t)row->off8 * 8 : 0;
		e->fp = row ? row->fp : 0;
		e->ra = row ? row->ra : 0;
	}
	if (e->kind != MA_CFI_FP || e->off < 16 || !e->ra)
		return 0;
	return fp + (uintptr_t)(intptr_t)e->off;
}

/*
 * The kernel's sigreturn trampoline (the vDSO's __kernel_rt_sigreturn;
 * under qemu-user, qemu's own page, in no module), known by its two
 * instructions, mov x8, #139 (rt_sigreturn); svc #0, as libgcc knows it:
 * read with plain loads where the module table says the code may be read;
 * in no module, with the fault-proof read (in a module whose code may not
 * be read, never: no trampoline is there).  The interrupted registers are in the
 * struct rt_sigframe { siginfo_t info; ucontext_t uc; } at the trampoline
 * frame's SP: uc.uc_mcontext.regs[0..30], sp, pc (SIG_REGS from it).
 */
static bool sigreturn_at(const struct ma_modules *mods, uintptr_t pc)
{
	uint32_t w[2];
	if (pc & 3)
		return false;
	const struct ma_module_range *f = ma_modules_find(mods, pc + 1);
	if (f) { /* (the vDSO is loaded at start-up: readable) */
		if ((f->flags & (MA_MOD_SELF | MA_MOD_READABLE)) != MA_MOD_READABLE || f->hi - pc < sizeof w)
			return false;
		memcpy(w, (const void *)pc, sizeof w);
	} else if (ma_os_read_checked(pc, w, sizeof w) != 0) {
		return false;
	}
	return w[0] == 0xd2801168u && w[1] == 0xd4000001u;
}

#define SIG_REGS (128 + 176 + 8) /* regs[0] in the rt_sigframe: siginfo, uc_mcontext, fault_address */
_Static_assert(sizeof(siginfo_t) == 128 && offsetof(ucontext_t, uc_mcontext) == 176 &&
                       offsetof(mcontext_t, regs) == 8 && offsetof(mcontext_t, sp) == 8 + 31 * 8 &&
                       offsetof(mcontext_t, pc) == 8 + 32 * 8,
               "aarch64 rt_sigframe layout");
#endif

/* x86_64 ucontext_t: uc_mcontext.gregs at 40; REG_RBP 10, REG_RSP 15, REG_RIP 16. */
#define UC_GREGS 40
#define UC_RBP 10
#define UC_RSP 15
#define UC_RIP 16

/*
 * foreign: r is not known to stay mapped (a signal handler's alternate
 * stack, a coroutine's): every piece is read with a fault-proof read, no
 * memo.  own: the thread's stack, where a signal frame's interrupted
 * context may continue (then known mapped: plain loads again).  A walk of
 * the thread's own stack whose signal frame leads off it starts over as a
 * foreign walk (rare: so the usual walk keeps plain loads, no test).
 */
MA_INLINE unsigned walk(uintptr_t fp, struct ma_range r, const bool foreign, struct ma_range own, uintptr_t *out,
                        unsigned max, bool *truncated, uintptr_t *diff, struct ma_stack_memo *m, unsigned *stop,
                        struct ma_stack_code *code)
{
	if (!CFI_WALKS)
		return ma_stack_walk(fp, r, foreign, out, max, truncated, diff, m, stop, code);
	bool checked = foreign, redo = false;
	const struct ma_range r0 = r;
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
	if (MA_UNLIKELY(code->rules_table != mods)) { /* rules of another module table's */
		memset(code->rules, 0, sizeof code->rules);
		memset(code->table_lo, 0, sizeof code->table_lo);
		code->rules_table = mods;
	}
	if (r.hi < r.lo + 2 * sizeof(uintptr_t))
		return 0;
	uintptr_t top = r.hi - 2 * sizeof(uintptr_t);
	if ((fp & (sizeof(uintptr_t) - 1)) || fp < r.lo || fp > top)
		return 0;
	uintptr_t start = fp, next, ret, pc;
	struct ma_stack_record *w = m ? m->rec : NULL, *wend = m ? m->rec + ma_stack_memo_records(max) : NULL;
	bool keep = m != NULL; /* the memo holds every word read */
	/* The 16 bytes of the stack at a (checked by the caller), remembered. */
#define READ2(a, v0, v1)                                                        \
	do {                                                                    \
		uintptr_t a_ = (a);                                             \
		if (MA_UNLIKELY(checked)) {                                     \
			uintptr_t t_[2];                                        \
			if (ma_os_read_checked(a_, t_, sizeof t_) != 0)         \
				goto unreadable;                                \
			(v0) = t_[0];                                           \
			(v1) = t_[1];                                           \
		} else {                                                        \
			(v0) = ((const uintptr_t *)a_)[0];                      \
			(v1) = ((const uintptr_t *)a_)[1];                      \
		}                                                               \
		if (w) {                                                        \
			if (w == wend) {                                        \
				keep = false;                                   \
				w = NULL;                                       \
			} else {                                                \
				w[0] = (struct ma_stack_record){ a_, 0 };       \
				w[1] = (struct ma_stack_record){ (v0), (v1) };  \
				w += 2;                                         \
			}                                                       \
		}                                                               \
	} while (0)
	uintptr_t unused;
	if (foreign)
		m = NULL, w = NULL, keep = false;
	uintptr_t *o = out, *end = out + max, d = 0;
	/* Our own frames come first: skip them (they keep frame pointers). */
	bool exact = false, busy = false;
#if defined(__aarch64__)
	/* The shim's pc (a return address into it): in the record that links
	 * to fp, up the library's own chain from this frame (not remembered:
	 * the library's frames below fp change from call to call). */
	uintptr_t spc = 0;
	for (uintptr_t f = (uintptr_t)__builtin_frame_address(0), i = 0; i < MA_STACK_SKIP_MAX; i++) {
		uintptr_t t_[2];
		/* (a foreign walk's r starts at fp: our frames below it are read checked) */
		if ((!checked && f < r.lo) || f > top || (f & (sizeof(uintptr_t) - 1)) || f >= fp)
			break;
		if (checked) {
			if (ma_os_read_checked(f, t_, sizeof t_) != 0)
				break;
		} else {
			t_[0] = ((const uintptr_t *)f)[0];
			t_[1] = ((const uintptr_t *)f)[1];
		}
		if (t_[0] == fp) {
			spc = ma_arch_pc(t_[1]);
			break;
		}
		if (t_[0] <= f)
			break;
		f = t_[0];
	}
	pc = 0;
	MA_STACK_SKIP_SELF(fp, next, ret, pc, top, {
		if (pc)
			spc = pc;
		READ2(fp, next, ret);
	});
	if (spc < ma_stack_self_lo || spc >= ma_stack_self_hi)
		spc = 0;
	/* sp: the caller's stack pointer where known (sp_known), else only a
	 * bound below it (after a frame-pointer step: the record is at the
	 * frame's bottom), and a rule based on SP cannot be used. */
	uintptr_t sp = spc ? self_cfa(code, mods, spc, fp, &busy) : 0, bp = next;
	bool sp_known = sp > fp && sp <= r.hi && !(sp & (sizeof(uintptr_t) - 1));
	if (!sp_known)
		sp = fp + 2 * sizeof(uintptr_t);
	int rule_ra = 0;
	uintptr_t lr = 0; /* x30 from a signal frame's context, for the frame it interrupted (lr_ok) */
	bool lr_ok = false;
#else
	MA_STACK_SKIP_SELF(fp, next, ret, pc, top, READ2(fp, next, ret));
	uintptr_t sp = fp + 2 * sizeof(uintptr_t), bp = next;
#endif
	const struct ma_cfi_table *tab = NULL;
	unsigned st = 0;
	for (;;) {
		if (MA_UNLIKELY(o == end)) {
			*truncated = true;
			if (m)
				m->truncated = true;
			break;
		}
		uintptr_t x = *o ^ pc;
		if (x && (st = ma_stack_check_ret(code, pc, &r)) != 0) {
			/* Two return addresses no call pushed: the kernel's, to a
			 * signal trampoline; and the pc a signal interrupted. */
			struct ma_module_range *c = &code->r;
#if defined(__aarch64__)
			/* The sigreturn trampoline: in the vDSO or in no module (qemu's). */
			if (exact ? st != MA_STACK_EARLY || pc - 1 - c->lo >= c->hi - c->lo || (c->flags & MA_MOD_SELF)
			          : !(st & MA_STACK_EARLY) || !sigreturn_at(mods, pc))
				break;
#else
			if (st != MA_STACK_EARLY || pc - 1 - c->lo >= c->hi - c->lo || (c->flags & MA_MOD_SELF))
				break;
			if (!exact) {
				const struct ma_cfi_table *t = table_of(code, pc, &busy);
				const struct ma_cfi_row *row = t ? ma_cfi_lookup(t, pc - 1) : NULL;
				if (!row || row->kind != MA_CFI_SIGNAL)
					break;
			}
#endif
			st = 0;
		}
		d |= x;
		*o++ = pc;
		/* The rule: from the per-thread cache by return address (the slot's
		 * byte offset computed directly: the hash is on the chain of
		 * dependent loads from one frame to the next), else looked up.  The
		 * frame a signal interrupted (its pc exact) bypasses the cache. */
		unsigned kind;
		int rule_fp;
		intptr_t rule_off;
		size_t slot = ((pc << 4) ^ (pc >> 2)) & ((MA_STACK_RULES - 1) << 4);
		__typeof__(&code->rules[0]) e = (__typeof__(e))((char *)code->rules + slot);
		if (MA_LIKELY(e->pc == pc && !exact)) {
			rule_off = e->off;
			kind = e->kind;
			rule_fp = e->fp;
#if defined(__aarch64__)
			rule_ra = e->ra;
#endif
		} else {
			uintptr_t q = exact ? pc : pc - 1;
			bool later = false;
			if (!tab || q - tab->lo >= tab->hi - tab->lo) {
				/* The thread's last tables first, by their own ranges. */
				const struct ma_cfi_table *t = NULL;
				for (unsigned i = 0; i < 4 && !t; i++) {
					t = code->tables[i];
					if (t && q - t->lo >= t->hi - t->lo)
						t = NULL;
				}
				tab = t ? t : table_of(code, pc, &later);
			}
			const struct ma_cfi_row *row = tab ? ma_cfi_lookup(tab, q) : NULL;
			kind = row ? row->kind : MA_CFI_NONE;
			rule_fp = row ? row->fp : 0;
			rule_off = row ? (intptr_t)row->off8 * 8 : 0;
#if defined(__aarch64__)
			rule_ra = row ? row->ra : 0;
			if (kind == MA_CFI_NONE && !exact && sigreturn_at(mods, pc))
				kind = MA_CFI_SIGNAL; /* (qemu's trampoline: no FDE) */
#endif
			if (later) {
				busy = true;
			} else if (!exact) {
				e->pc = pc, e->off = (int32_t)rule_off, e->kind = (uint8_t)kind, e->fp = (int8_t)rule_fp;
#if defined(__aarch64__)
				e->ra = (int16_t)rule_ra;
#endif
			}
		}
		exact = false;
#if defined(__aarch64__)
		if (kind == MA_CFI_SP && !sp_known)
			kind = MA_CFI_NONE; /* one frame-pointer step instead */
		if (MA_UNLIKELY(!rule_ra) && kind <= MA_CFI_FP) {
			/* The return address still in x30 (a leaf, a prologue): known
			 * only in the frame a signal interrupted, from its context. */
			uintptr_t cfa = (kind == MA_CFI_FP ? bp : sp) + (uintptr_t)rule_off;
			if (lr_ok && cfa >= sp && cfa <= r.hi && !(cfa & (sizeof(uintptr_t) - 1))) {
				lr_ok = false;
				sp = cfa;
				if (!lr)
					break;
				pc = ma_arch_pc(lr);
				continue;
			}
			kind = MA_CFI_NONE;
		}
		lr_ok = false;
#endif
		if (kind == MA_CFI_SP || kind == MA_CFI_FP) {
			/* A branch, not a select: predicted, it keeps the rule's kind off
			 * the chain of dependent loads (the empty asm keeps GCC from
			 * turning it into a cmov). */
			uintptr_t base = sp;
			if (kind == MA_CFI_FP) {
				base = bp;
				__asm__("" : "+r"(base));
			}
			uintptr_t cfa = base + (uintptr_t)rule_off;
			/* The return address with the word below it: one 16-byte piece
			 * for the memo, holding the saved FP too where it sits there. */
			/* (cfa - 16 >= r.lo: sp starts at a record's address + 16 and only grows) */
			if (cfa <= sp || cfa > r.hi || (cfa & (sizeof(uintptr_t) - 1))) {
				st = MA_STACK_EARLY;
				break;
			}
#if defined(__aarch64__)
			/* x30 at CFA + 8 * ra (ra < 0), most often in the frame record
			 * with x29 below it: one piece. */
			uintptr_t ra_at = cfa + (uintptr_t)(intptr_t)rule_ra * sizeof(uintptr_t);
			if (ra_at < r.lo || ra_at < sp) {
				st = MA_STACK_EARLY;
				break;
			}
			if (rule_fp == -1 && ra_at >= r.lo + sizeof(uintptr_t)) {
				READ2(ra_at - sizeof(uintptr_t), bp, ret);
				rule_fp = 0;
			} else if (ra_at + 2 * sizeof(uintptr_t) <= r.hi) {
				READ2(ra_at, ret, unused);
			} else {
				READ2(ra_at - sizeof(uintptr_t), unused, ret);
			}
			sp_known = true;
			if (rule_fp) {
#else
			uintptr_t below;
			READ2(cfa - 2 * sizeof(uintptr_t), below, ret);
			if (rule_fp == -2) {
				bp = below;
			} else if (rule_fp) {
#endif
#if defined(__aarch64__)
				uintptr_t a = ra_at + (uintptr_t)(intptr_t)rule_fp * sizeof(uintptr_t);
#else
				uintptr_t a = cfa + (uintptr_t)(intptr_t)rule_fp * sizeof(uintptr_t);
#endif
				if (a < r.lo || a > r.hi - sizeof(uintptr_t)) {
					st = MA_STACK_EARLY;
					break;
				}
				if (a <= r.hi - 2 * sizeof(uintptr_t))
					READ2(a, bp, unused);
				else
					READ2(a - sizeof(uintptr_t), unused, bp);
			}
			sp = cfa;
		} else if (kind == MA_CFI_END) {
			break;
		} else if (kind == MA_CFI_SIGNAL) {
			uintptr_t nsp;
#if defined(__aarch64__)
			/* The rt_sigframe at the trampoline frame's SP (the handler's CFA):
			 * x29 and x30, then sp and pc. */
			uintptr_t g = sp + SIG_REGS;
			if (!sp_known || g + 33 * sizeof(uintptr_t) > r.hi) {
				st = MA_STACK_EARLY;
				break;
			}
			READ2(g + 29 * sizeof(uintptr_t), bp, lr);
			READ2(g + 31 * sizeof(uintptr_t), nsp, ret);
#else
			uintptr_t g = sp + UC_GREGS;
			if (g + (UC_RIP + 1) * sizeof(uintptr_t) > r.hi) {
				st = MA_STACK_EARLY;
				break;
			}
			READ2(g + UC_RBP * sizeof(uintptr_t), bp, unused);
			READ2(g + UC_RSP * sizeof(uintptr_t), nsp, ret);
#endif
			if (nsp <= sp || nsp > r.hi) {
				if (!foreign) {
					redo = true;
					break;
				}
				/* From an alternate stack back to the interrupted one: the
				 * thread's own (known mapped: plain loads), else (the main
				 * stack grown since its bounds were read, or the thread's
				 * bounds taken on an alternate stack) on with checked reads
				 * from there, remembering nothing. */
				if (own.hi - own.lo >= 2 * sizeof(uintptr_t) && nsp >= own.lo + 2 * sizeof(uintptr_t) &&
				    nsp <= own.hi) {
					r = own;
					checked = false;
				} else if (nsp >= 2 * sizeof(uintptr_t) && nsp < UINTPTR_MAX - MA_STACK_FOREIGN_SPAN) {
					r.lo = nsp - 2 * sizeof(uintptr_t);
					r.hi = own.hi > nsp + 2 * sizeof(uintptr_t) && own.hi - nsp < (64u << 20)
					               ? own.hi
					               : nsp + MA_STACK_FOREIGN_SPAN;
					checked = true;
					w = NULL;
					keep = false;
				} else {
					st = MA_STACK_EARLY;
					break;
				}
				top = r.hi - 2 * sizeof(uintptr_t);
			}
			sp = nsp;
			exact = true;
#if defined(__aarch64__)
			sp_known = true;
			lr_ok = true;
#endif
		} else {
			/* One frame-pointer step, or the end. */
			if (bp < sp || bp > top || (bp & (sizeof(uintptr_t) - 1))) {
				/* Where a chain may end: a 0 link (_start, clone), or main's
				 * caller in the C library, which keeps no link to _start. */
				if (bp && pc - 1 - mods->root_lo >= mods->root_hi - mods->root_lo)
					st = MA_STACK_EARLY;
				break;
			}
			uintptr_t at = bp;
			READ2(at, bp, ret);
			sp = at + 2 * sizeof(uintptr_t);
#if defined(__aarch64__)
			sp_known = false;
#endif
		}
		if (!ret)
			break;
		pc = ma_arch_pc(ret);
	}
	if (0) {
	unreadable: /* a checked read failed: in the skipped frames, no stack; else the end */
		if (o == out)
			return 0;
		st = MA_STACK_EARLY;
	}
#undef READ2
	if (!foreign && MA_UNLIKELY(redo)) {
		/* Off this stack through a signal frame: again, reads checked. */
		uintptr_t d2;
		unsigned n2 = ma_cfi_walk_foreign(start, r0, own, out, max, truncated, &d2, stop, code);
		*diff = d | d2;
		if (m)
			m->reads = 0;
		return n2;
	}
	/* Cut short after a frame of the C library or the loader: not the program's doing. */
	if (MA_UNLIKELY(st & MA_STACK_EARLY) && o != out) {
		const struct ma_module_range *f = ma_modules_find(mods, o[-1]);
		if (f && (f->flags & MA_MOD_SYSTEM))
			st &= ~MA_STACK_EARLY;
	}
	*stop = st;
	if (m) {
		unsigned reads = keep && !busy ? (unsigned)(w - m->rec) : 0;
		/* Padded for the repeat check (stack_walk.h, MA_STACK_MEMO_SHORT). */
		for (; reads && reads < 2 * MA_STACK_MEMO_SHORT; reads += 2) {
			m->rec[reads] = (struct ma_stack_record){ (uintptr_t)ma_stack_memo_pad, 0 };
			m->rec[reads + 1] = (struct ma_stack_record){ 0, 0 };
		}
		m->reads = reads;
		m->cfi = true;
		m->start = start;
		m->stop = (uint8_t)st;
	}
	unsigned n = (unsigned)(o - out);
	*diff = d;
	return n;
}

unsigned ma_cfi_walk(uintptr_t fp, struct ma_range r, uintptr_t *out, unsigned max, bool *truncated,
                     uintptr_t *diff, struct ma_stack_memo *m, unsigned *stop, struct ma_stack_code *code)
{
	return walk(fp, r, false, r, out, max, truncated, diff, m, stop, code);
}

unsigned ma_cfi_walk_foreign(uintptr_t fp, struct ma_range r, struct ma_range own, uintptr_t *out, unsigned max,
                             bool *truncated, uintptr_t *diff, unsigned *stop, struct ma_stack_code *code)
{
	return walk(fp, r, true, own, out, max, truncated, diff, NULL, stop, code);
}
