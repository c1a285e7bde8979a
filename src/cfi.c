/* SPDX-License-Identifier: Apache-2.0 */
/* cfi.c: .eh_frame into unwind rules (cfi.h). */
#include "cfi.h"

#include <string.h>

#include "atomic.h"
#include "fmt.h"
#include "os.h"

#if defined(__aarch64__)
#define CFI_SP 31
#define CFI_FP 29
#define CFI_RA 30
#else
#define CFI_SP 7
#define CFI_FP 6
#define CFI_RA 16
#endif

/* ---- bounded reads ---- */

struct rd {
	const uint8_t *p, *end;
	intptr_t delta; /* runtime address of p = (uintptr_t)p + delta */
	bool bad;
};

static uint64_t rd_u(struct rd *r, unsigned n)
{
	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = true;
		return 0;
	}
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++) /* little-endian on both arches */
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += n;
	return v;
}

static uint64_t rd_uleb(struct rd *r)
{
	uint64_t v = 0;
	for (unsigned shift = 0;; shift += 7) {
		uint8_t b = (uint8_t)rd_u(r, 1);
		if (r->bad)
			return 0;
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
		if (shift > 70) {
			r->bad = true;
			return 0;
		}
	}
}

static int64_t rd_sleb(struct rd *r)
{
	uint64_t v = 0;
	unsigned shift = 0;
	uint8_t b;
	do {
		b = (uint8_t)rd_u(r, 1);
		if (r->bad)
			return 0;
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (shift > 77) {
			r->bad = true;
			return 0;
		}
	} while (b & 0x80);
	if (shift < 64 && (b & 0x40))
		v |= ~(uint64_t)0 << shift;
	return (int64_t)v;
}

static void rd_skip(struct rd *r, uint64_t n)
{
	if (r->bad || (uint64_t)(r->end - r->p) < n) {
		r->bad = true;
		return;
	}
	r->p += n;
}

#define PE_OMIT 0xff
#define PE_INDIRECT 0x80

/* A pointer in encoding enc; datarel is relative to `data`.  Indirect
 * pointers are refused (*indirect set): nothing here dereferences them. */
static uintptr_t rd_ptr(struct rd *r, uint8_t enc, uintptr_t data, bool *indirect)
{
	if (enc == PE_OMIT)
		return 0;
	uintptr_t here = (uintptr_t)r->p + (uintptr_t)r->delta;
	uint64_t v;
	switch (enc & 0x0f) {
	case 0x00: v = rd_u(r, sizeof(uintptr_t)); break;
	case 0x01: v = rd_uleb(r); break;
	case 0x02: v = rd_u(r, 2); break;
	case 0x03: v = rd_u(r, 4); break;
	case 0x04: v = rd_u(r, 8); break;
	case 0x09: v = (uint64_t)rd_sleb(r); break;
	case 0x0a: v = (uint64_t)(int64_t)(int16_t)rd_u(r, 2); break;
	case 0x0b: v = (uint64_t)(int64_t)(int32_t)rd_u(r, 4); break;
	case 0x0c: v = rd_u(r, 8); break;
	default: r->bad = true; return 0;
	}
	switch (enc & 0x70) {
	case 0x00: break;
	case 0x10: v += here; break;
	case 0x30: v += data; break;
	default: r->bad = true; return 0; /* textrel, funcrel, aligned: not in ELF .eh_frame */
	}
	if (enc & PE_INDIRECT)
		*indirect = true;
	return (uintptr_t)v;
}

/* ---- the CFA program ---- */

enum { R_SAME = 0, R_OFFSET, R_UNDEF, R_OTHER };

struct reg_rule {
	uint8_t how;
	int64_t off;
};

struct cfa_state {
	uint32_t cfa_reg;
	bool cfa_expr;
	int64_t cfa_off;
	struct reg_rule ra, fp;
};

struct cie {
	uintptr_t addr; /* runtime address of the CIE (its length field) */
	uint64_t code_align;
	int64_t data_align;
	uint64_t ra_reg;
	uint8_t fde_enc;
	bool aug_z, signal;
	bool other_ra; /* aarch64: the return address in another register than x30 */
	const uint8_t *insn, *insn_end;
};

#define STATE_STACK 16
/* Factored offsets, wrapping as two's complement (corrupt input may overflow;
 * the rule built from such a value is refused later, never undefined). */
#define MUL(v, f) ((int64_t)((uint64_t)(v) * (uint64_t)(f)))

struct out {
	struct ma_cfi_row *rows;
	uint32_t n, cap;
	bool full; /* more rows than cap: the table is refused */
	uintptr_t lo, hi;
	struct ma_cfi_stats *st;
};

static struct ma_cfi_row make_row(const struct cfa_state *s, bool signal)
{
	struct ma_cfi_row w = { .kind = MA_CFI_NONE };
	if (s->ra.how == R_UNDEF) {
		w.kind = MA_CFI_END;
		return w;
	}
	if (signal) {
		w.kind = MA_CFI_SIGNAL;
		return w;
	}
	if (s->cfa_expr || (s->cfa_reg != CFI_SP && s->cfa_reg != CFI_FP))
		return w;
	if ((s->cfa_off & 7) || s->cfa_off / 8 < INT16_MIN || s->cfa_off / 8 > INT16_MAX)
		return w;
#if defined(__aarch64__)
	/* x30 saved at CFA + 8 * ra (below the CFA: the frame record or a lone
	 * store); in x30 itself (a leaf, a prologue, an epilogue: ra 0) only
	 * the frame a signal interrupted can use, with x30 from its context,
	 * and only with FP unchanged. */
	if (s->ra.how == R_SAME && s->fp.how == R_SAME) {
		w.kind = s->cfa_reg == CFI_SP ? MA_CFI_SP : MA_CFI_FP;
		w.off8 = (int16_t)(s->cfa_off / 8);
		return w;
	}
	if (s->ra.how != R_OFFSET || (s->ra.off & 7) || s->ra.off >= 0 || s->ra.off / 8 < INT16_MIN)
		return w;
	w.ra = (int16_t)(s->ra.off / 8);
	/* FP's place relative to the RA's (the frame record: -1), so that
	 * large frames, whose record lies far below the CFA, fit. */
	if (s->fp.how == R_OFFSET) {
		int64_t rel = s->fp.off - s->ra.off;
		if ((rel & 7) || rel / 8 < -128 || rel / 8 > 127 || rel == 0)
			return w;
		w.fp = (int8_t)(rel / 8);
	} else if (s->fp.how == R_OTHER) {
		return w;
	}
	w.kind = s->cfa_reg == CFI_SP ? MA_CFI_SP : MA_CFI_FP;
	w.off8 = (int16_t)(s->cfa_off / 8);
	return w;
#else
	if (s->ra.how != R_OFFSET || s->ra.off != -8)
		return w;
#endif
	if (s->fp.how == R_OFFSET) {
		if ((s->fp.off & 7) || s->fp.off / 8 < -128 || s->fp.off / 8 > 127 || s->fp.off == 0)
			return w;
		w.fp = (int8_t)(s->fp.off / 8);
	} else if (s->fp.how == R_OTHER) {
		return w;
	}
	w.kind = s->cfa_reg == CFI_SP ? MA_CFI_SP : MA_CFI_FP;
	w.off8 = (int16_t)(s->cfa_off / 8);
	return w;
}

static bool same_rule(const struct ma_cfi_row *a, const struct ma_cfi_row *b)
{
#if defined(__aarch64__)
	if (a->ra != b->ra)
		return false;
#endif
	return a->kind == b->kind && a->fp == b->fp && a->off8 == b->off8;
}

/* Appends the rule r from pc on (pc inside [lo, hi)): merged with the last
 * when equal, replacing it when at the same pc; out of order: dropped. */
static void emit(struct out *o, uintptr_t pc, struct ma_cfi_row r)
{
	if (pc < o->lo || pc >= o->hi)
		return;
	r.pc = (uint32_t)(pc - o->lo);
	if (o->st)
		o->st->rows_in++;
	if (o->n) {
		struct ma_cfi_row *last = &o->rows[o->n - 1];
		if (r.pc < last->pc)
			return; /* overlapping FDEs: keep the first */
		if (r.pc == last->pc) {
			o->n--;
			if (o->n && same_rule(&o->rows[o->n - 1], &r))
				return;
		} else if (same_rule(last, &r)) {
			return;
		}
	}
	if (o->n == o->cap) {
		o->full = true; /* only with corrupt input: cap bounds the rows (compile) */
		return;
	}
	o->rows[o->n++] = r;
}

static void set_rule(struct cfa_state *s, uint64_t reg, uint8_t how, int64_t off)
{
	struct reg_rule rr = { how, off };
	if (reg == CFI_RA)
		s->ra = rr;
	else if (reg == CFI_FP)
		s->fp = rr;
}

/*
 * Runs the instructions [p, end) from state *s at pc *loc.  With o, rows
 * are emitted (the FDE's); without (the CIE's initial instructions),
 * advancing the location is an error.  init: the CIE's state, for restore.
 */
static bool run(const struct cie *c, const uint8_t *p, const uint8_t *end, intptr_t delta, struct cfa_state *s,
                const struct cfa_state *init, uintptr_t *loc, struct out *o, uintptr_t hdr)
{
	struct cfa_state stack[STATE_STACK];
	unsigned depth = 0;
	struct rd r = { p, end, delta, false };
	while (r.p < r.end && !r.bad) {
		uint8_t op = (uint8_t)rd_u(&r, 1);
		uint64_t reg = op & 0x3f, adv = 0;
		bool advance = false;
		switch (op >> 6) {
		case 1:
			adv = (op & 0x3f) * c->code_align;
			advance = true;
			break;
		case 2:
			set_rule(s, reg, R_OFFSET, MUL(rd_uleb(&r), c->data_align));
			break;
		case 3:
			set_rule(s, reg, reg == CFI_RA ? init->ra.how : init->fp.how,
			         reg == CFI_RA ? init->ra.off : init->fp.off);
			break;
		default:
			switch (op) {
			case 0x00: /* nop */
				break;
			case 0x01: { /* set_loc */
				bool ind = false;
				uintptr_t to = rd_ptr(&r, c->fde_enc, hdr, &ind);
				if (ind || !o || to < *loc)
					return false;
				adv = to - *loc;
				advance = true;
				break;
			}
			case 0x02: adv = rd_u(&r, 1) * c->code_align; advance = true; break;
			case 0x03: adv = rd_u(&r, 2) * c->code_align; advance = true; break;
			case 0x04: adv = rd_u(&r, 4) * c->code_align; advance = true; break;
			case 0x05: reg = rd_uleb(&r); set_rule(s, reg, R_OFFSET, MUL(rd_uleb(&r), c->data_align)); break;
			case 0x06:
				reg = rd_uleb(&r);
				set_rule(s, reg, reg == CFI_RA ? init->ra.how : init->fp.how,
				         reg == CFI_RA ? init->ra.off : init->fp.off);
				break;
			case 0x07: set_rule(s, rd_uleb(&r), R_UNDEF, 0); break;
			case 0x08: set_rule(s, rd_uleb(&r), R_SAME, 0); break;
			case 0x09: reg = rd_uleb(&r); rd_uleb(&r); set_rule(s, reg, R_OTHER, 0); break;
			case 0x0a:
				if (depth == STATE_STACK)
					return false;
				stack[depth++] = *s;
				break;
			case 0x0b:
				if (!depth)
					return false;
				{
					/* The CFA is not part of the saved state in GCC's reading?  It
					 * is (DWARF 5 6.4.2.4: every rule); libgcc restores all. */
					*s = stack[--depth];
				}
				break;
			case 0x0c:
				s->cfa_reg = (uint32_t)rd_uleb(&r);
				s->cfa_off = (int64_t)rd_uleb(&r);
				s->cfa_expr = false;
				break;
			case 0x0d: s->cfa_reg = (uint32_t)rd_uleb(&r); s->cfa_expr = false; break;
			case 0x0e: s->cfa_off = (int64_t)rd_uleb(&r); break;
			case 0x0f: s->cfa_expr = true; rd_skip(&r, rd_uleb(&r)); break;
			case 0x10: reg = rd_uleb(&r); rd_skip(&r, rd_uleb(&r)); set_rule(s, reg, R_OTHER, 0); break;
			case 0x11: reg = rd_uleb(&r); set_rule(s, reg, R_OFFSET, MUL(rd_sleb(&r), c->data_align)); break;
			case 0x12:
				s->cfa_reg = (uint32_t)rd_uleb(&r);
				s->cfa_off = MUL(rd_sleb(&r), c->data_align);
				s->cfa_expr = false;
				break;
			case 0x13: s->cfa_off = MUL(rd_sleb(&r), c->data_align); break;
			case 0x14: reg = rd_uleb(&r); rd_uleb(&r); set_rule(s, reg, R_OTHER, 0); break;
			case 0x15: reg = rd_uleb(&r); rd_sleb(&r); set_rule(s, reg, R_OTHER, 0); break;
			case 0x16: reg = rd_uleb(&r); rd_skip(&r, rd_uleb(&r)); set_rule(s, reg, R_OTHER, 0); break;
			case 0x2d: break; /* aarch64 negate_ra_state: the walk strips the bits */
			case 0x2e: rd_uleb(&r); break; /* GNU_args_size */
			case 0x2f:
				reg = rd_uleb(&r);
				set_rule(s, reg, R_OFFSET, MUL(0 - rd_uleb(&r), c->data_align));
				break;
			default:
				return false;
			}
		}
		if (advance) {
			if (!o)
				return false;
			if (adv) {
				emit(o, *loc, make_row(s, c->signal));
				*loc += adv;
			}
		}
	}
	return !r.bad;
}

/* Parses the CIE at runtime address a (inside data). */
static bool parse_cie(struct cie *c, const uint8_t *data, size_t len, uintptr_t vaddr, uintptr_t a, uintptr_t hdr)
{
	memset(c, 0, sizeof *c);
	c->addr = a;
	if (a < vaddr || a - vaddr >= len)
		return false;
	intptr_t delta = (intptr_t)(vaddr - (uintptr_t)data);
	struct rd r = { data + (a - vaddr), data + len, delta, false };
	uint64_t length = rd_u(&r, 4);
	if (length == 0xffffffffu)
		length = rd_u(&r, 8);
	if (r.bad || length < 4 || length > (uint64_t)(r.end - r.p))
		return false;
	r.end = r.p + length;
	if (rd_u(&r, 4) != 0) /* a CIE's id */
		return false;
	uint8_t version = (uint8_t)rd_u(&r, 1);
	if (version != 1 && version != 3 && version != 4)
		return false;
	const uint8_t *aug = r.p;
	size_t alen = 0;
	while (r.p < r.end && *r.p) {
		r.p++;
		alen++;
	}
	rd_skip(&r, 1);
	if (version == 4) {
		if (rd_u(&r, 1) != sizeof(uintptr_t) || rd_u(&r, 1) != 0)
			return false;
	}
	c->code_align = rd_uleb(&r);
	c->data_align = rd_sleb(&r);
	c->ra_reg = version == 1 ? rd_u(&r, 1) : rd_uleb(&r);
	c->fde_enc = 0; /* absptr */
	const uint8_t *aug_end = NULL;
	for (size_t i = 0; i < alen && !r.bad; i++) {
		switch (aug[i]) {
		case 'z':
			if (i != 0)
				return false;
			c->aug_z = true;
			{
				uint64_t n = rd_uleb(&r);
				if (r.bad || n > (uint64_t)(r.end - r.p))
					return false;
				aug_end = r.p + n;
			}
			break;
		case 'L':
			rd_u(&r, 1);
			break;
		case 'P': {
			bool ind = false;
			uint8_t enc = (uint8_t)rd_u(&r, 1);
			rd_ptr(&r, enc, hdr, &ind);
			break;
		}
		case 'R':
			c->fde_enc = (uint8_t)rd_u(&r, 1);
			break;
		case 'S':
			c->signal = true;
			break;
		case 'B': /* aarch64: the B key; 'G': MTE tagged frames: no data */
		case 'G':
			break;
		default:
			if (!c->aug_z)
				return false;
			i = alen; /* the rest of the data is skipped with z's length */
			break;
		}
	}
	if (r.bad)
		return false;
	if (aug_end)
		r.p = aug_end;
#if defined(__aarch64__)
	/* glibc's hand-written routines (x15 as the return column): their FDEs
	 * become MA_CFI_NONE rows, not the whole module's failure. */
	c->other_ra = c->ra_reg != CFI_RA;
	if (c->code_align == 0)
		return false;
#else
	if (c->code_align == 0 || c->ra_reg != CFI_RA)
		return false;
#endif
	c->insn = r.p;
	c->insn_end = r.end;
	return true;
}

static struct {
	ma_au64 mapped;
} cfi;

uint64_t ma_cfi_mapped_bytes(void)
{
	return ma_load_relaxed(&cfi.mapped);
}

void ma_cfi_free(struct ma_cfi_table *t)
{
	if (t)
		ma_os_unmap(t, t->bytes);
}

static struct ma_cfi_table *fail(struct ma_cfi_stats *st, struct ma_cfi_table *t, const char *why)
{
	if (st)
		st->error = why;
	ma_cfi_free(t);
	return NULL;
}

struct ma_cfi_table *ma_cfi_compile(const uint8_t *data, size_t len, uintptr_t vaddr, uintptr_t hdr,
                                    uintptr_t lo, uintptr_t hi, struct ma_cfi_stats *st)
{
	struct ma_cfi_stats dummy;
	if (!st)
		st = &dummy;
	memset(st, 0, sizeof *st);
	if (hi <= lo || hi - lo > UINT32_MAX)
		return fail(st, NULL, "code range too large");
	if (hdr < vaddr || hdr - vaddr >= len || !data)
		return fail(st, NULL, ".eh_frame_hdr outside its segment");
	intptr_t delta = (intptr_t)(vaddr - (uintptr_t)data);
	struct rd h = { data + (hdr - vaddr), data + len, delta, false };
	uint8_t version = (uint8_t)rd_u(&h, 1);
	uint8_t eh_enc = (uint8_t)rd_u(&h, 1), count_enc = (uint8_t)rd_u(&h, 1), table_enc = (uint8_t)rd_u(&h, 1);
	bool ind = false;
	if (h.bad || version != 1)
		return fail(st, NULL, "bad .eh_frame_hdr version");
	uintptr_t ehf = rd_ptr(&h, eh_enc, hdr, &ind);
	uint64_t count = rd_ptr(&h, count_enc, hdr, &ind);
	if (h.bad || ind || count_enc == PE_OMIT)
		return fail(st, NULL, "bad .eh_frame_hdr");
	if (table_enc != 0x3b) /* datarel sdata4: what every linker writes */
		return fail(st, NULL, ".eh_frame_hdr has no binary search table");
	if (count > (uint64_t)(h.end - h.p) / 8)
		return fail(st, NULL, "truncated .eh_frame_hdr");
	/* Every row comes from an FDE's start or end, or an advance (one byte at
	 * least) in .eh_frame, from where it starts to the segment's end; and
	 * rows have distinct pcs in [lo, hi].  (Map no more than that: the
	 * segment may hold much besides.) */
	uint64_t span = ehf >= vaddr && ehf - vaddr < len ? len - (ehf - vaddr) : len;
	uint64_t cap = 2 * count + span + 1;
	if (cap > (uint64_t)(hi - lo) + 2)
		cap = (uint64_t)(hi - lo) + 2;
	size_t bytes = sizeof(struct ma_cfi_table) + cap * sizeof(struct ma_cfi_row);
	size_t page = ma_os_page_size();
	bytes = (bytes + page - 1) & ~(page - 1);
	struct ma_cfi_table *t = ma_os_map(bytes);
	if (!t)
		return fail(st, NULL, "cannot map a table");
	t->bytes = bytes;
	t->lo = lo;
	t->hi = hi;
	struct out o = { t->rows, 0, (uint32_t)(cap > UINT32_MAX ? UINT32_MAX : cap), false, lo, hi, st };
	struct cie c;
	c.addr = 0;
	bool have_cie = false;
	for (uint64_t i = 0; i < count; i++) {
		uintptr_t fde = hdr + (uintptr_t)(intptr_t)(int32_t)rd_u(&h, 4);
		fde = hdr + (uintptr_t)(intptr_t)(int32_t)rd_u(&h, 4);
		if (h.bad)
			return fail(st, t, "truncated .eh_frame_hdr");
		if (fde < vaddr || fde - vaddr >= len)
			return fail(st, t, "an FDE outside its segment");
		struct rd r = { data + (fde - vaddr), data + len, delta, false };
		uint64_t length = rd_u(&r, 4);
		if (length == 0xffffffffu)
			length = rd_u(&r, 8);
		if (r.bad || length < 8 || length > (uint64_t)(r.end - r.p))
			return fail(st, t, "truncated FDE");
		r.end = r.p + length;
		uintptr_t idpos = (uintptr_t)r.p + (uintptr_t)delta;
		uint32_t id = (uint32_t)rd_u(&r, 4);
		if (id == 0)
			return fail(st, t, ".eh_frame_hdr points at a CIE");
		uintptr_t cie = idpos - id;
		if (!have_cie || c.addr != cie) {
			if (!parse_cie(&c, data, len, vaddr, cie, hdr))
				return fail(st, t, "bad CIE");
			have_cie = true;
		}
		ind = false;
		uintptr_t begin = rd_ptr(&r, c.fde_enc, hdr, &ind);
		uintptr_t range = rd_ptr(&r, c.fde_enc & 0x0f, hdr, &ind);
		if (r.bad || ind)
			return fail(st, t, "bad FDE address");
		if (c.aug_z)
			rd_skip(&r, rd_uleb(&r));
		if (r.bad)
			return fail(st, t, "truncated FDE");
		st->fdes++;
		uintptr_t end = begin + range;
		if (end < begin || begin >= hi || end <= lo)
			continue; /* another range's code */
		if (c.other_ra) {
			emit(&o, begin, (struct ma_cfi_row){ .kind = MA_CFI_NONE });
			t->fdes++;
			continue;
		}
		struct cfa_state init = { CFI_SP, false, 0, { R_SAME, 0 }, { R_SAME, 0 } };
		uintptr_t loc = begin;
		if (!run(&c, c.insn, c.insn_end, delta, &init, &init, &loc, NULL, hdr))
			return fail(st, t, "bad CIE instructions");
		struct cfa_state s = init;
		if (!run(&c, r.p, r.end, delta, &s, &init, &loc, &o, hdr))
			return fail(st, t, "bad FDE instructions");
		if (loc < end)
			emit(&o, loc, make_row(&s, c.signal));
		/* Past the FDE: nothing is known until another one starts. */
		emit(&o, end, (struct ma_cfi_row){ .kind = MA_CFI_NONE });
		t->fdes++;
	}
	if (o.full)
		return fail(st, t, "more rows than .eh_frame could hold");
	t->n = o.n;
	st->rows_out = o.n;
	for (uint32_t i = 0; i < o.n; i++)
		st->none_rows += o.rows[i].kind == MA_CFI_NONE;
	/* Give back the pages the rows did not need. */
	size_t used = sizeof(struct ma_cfi_table) + (size_t)o.n * sizeof(struct ma_cfi_row);
	used = (used + page - 1) & ~(page - 1);
	if (used < bytes) {
		ma_os_unmap((char *)t + used, bytes - used);
		t->bytes = used;
	}
	return t;
}

/* ---- the published tables ---- */

#define CFI_SLOTS 1024                     /* ranges with a table (or a failed build) */
#define CFI_LIMIT (512ull * 1024 * 1024)   /* table bytes, beyond which no more are built */

enum { SLOT_FREE = 0, SLOT_BUILDING, SLOT_READY };

struct slot {
	ma_au32 state;
	uintptr_t lo, gen; /* written before state leaves SLOT_FREE (release) */
	struct ma_cfi_table *table; /* NULL: none (failed); written before SLOT_READY */
};

static struct slot slots[CFI_SLOTS];
static ma_au32 builder; /* one build at a time, process-wide; never waited for */

static unsigned slot_hash(uintptr_t lo, uintptr_t gen)
{
	return (unsigned)(((lo ^ (gen * 31)) * 0x9E3779B97F4A7C15ull) >> 40) & (CFI_SLOTS - 1);
}

static MA_NOINLINE struct ma_cfi_table *build(uintptr_t lo, uintptr_t hi, uintptr_t hdr, uintptr_t seg_lo,
                                               uintptr_t seg_hi, bool stable)
{
	struct ma_cfi_stats st;
	size_t len = seg_hi - seg_lo;
	if (ma_cfi_mapped_bytes() > CFI_LIMIT)
		return NULL;
	if (stable)
		return ma_cfi_compile((const uint8_t *)seg_lo, len, seg_lo, hdr, lo, hi, &st);
	/* It may be unmapped at any time: compile a copy made with checked reads. */
	size_t page = ma_os_page_size(), bytes = (len + page - 1) & ~(page - 1);
	uint8_t *copy = ma_os_map(bytes);
	if (!copy)
		return NULL;
	struct ma_cfi_table *t = NULL;
	if (ma_os_read_checked(seg_lo, copy, len) == 0)
		t = ma_cfi_compile(copy, len, seg_lo, hdr, lo, hi, &st);
	ma_os_unmap(copy, bytes);
	return t;
}

const struct ma_cfi_table *ma_cfi_table_for(uintptr_t lo, uintptr_t hi, uintptr_t hdr, uintptr_t seg_lo,
                                            uintptr_t seg_hi, bool stable, uintptr_t gen, bool *busy)
{
	if (stable)
		gen = 0;
	if (!hdr || seg_hi <= seg_lo)
		return NULL;
	unsigned i = slot_hash(lo, gen);
	for (unsigned probe = 0; probe < CFI_SLOTS; probe++, i = (i + 1) & (CFI_SLOTS - 1)) {
		struct slot *sl = &slots[i];
		uint32_t state = ma_load_acquire(&sl->state);
		if (state == SLOT_FREE)
			break;
		if (sl->lo != lo || sl->gen != gen)
			continue;
		if (state == SLOT_BUILDING) {
			*busy = true;
			return NULL;
		}
		return sl->table;
	}
	/* Not built yet: build it here, unless a build is under way. */
	uint32_t idle = 0;
	if (!ma_cas_acq_rel(&builder, &idle, 1)) {
		*busy = true;
		return NULL;
	}
	i = slot_hash(lo, gen);
	struct slot *sl = NULL;
	for (unsigned probe = 0; probe < CFI_SLOTS; probe++, i = (i + 1) & (CFI_SLOTS - 1)) {
		uint32_t state = ma_load_acquire(&slots[i].state);
		if (state == SLOT_FREE) {
			sl = &slots[i];
			break;
		}
		if (slots[i].lo == lo && slots[i].gen == gen) { /* built meanwhile */
			ma_store_release(&builder, 0);
			if (state == SLOT_BUILDING) { /* a build interrupted in a fork's parent */
				*busy = true;
				return NULL;
			}
			return slots[i].table;
		}
	}
	if (!sl) { /* every slot taken: frame pointers only from now on */
		ma_store_release(&builder, 0);
		return NULL;
	}
	sl->lo = lo;
	sl->gen = gen;
	sl->table = NULL;
	ma_store_release(&sl->state, SLOT_BUILDING);
	struct ma_cfi_table *t = build(lo, hi, hdr, seg_lo, seg_hi, stable);
	if (t)
		ma_add_relaxed(&cfi.mapped, t->bytes);
	sl->table = t;
	ma_store_release(&sl->state, SLOT_READY);
	ma_store_release(&builder, 0);
	if (!t)
		ma_warn("no usable call-frame information for a module; its frames are walked by frame pointers",
		        NULL, NULL, NULL);
	return t;
}

void ma_cfi_after_fork(void)
{
	/* A build the parent's other thread had begun: the slot stays BUILDING
	 * (that range walks by frame pointers in the child); others may build. */
	ma_store_relaxed(&builder, 0);
}
