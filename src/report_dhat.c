/* SPDX-License-Identifier: Apache-2.0 */
/*
 * report_dhat.c: Valgrind DHAT's JSON format (dhatFileVersion 2), for its
 * viewer dh_view.html.  See shared docs/dhat-format.md; in short:
 *
 *   {"dhatFileVersion":2, "mode":"heap", "verb":"Allocated",
 *    "bklt":true, "bkacc":false,          lifetimes yes, access counts no
 *    "tu":"bytes", "Mtu":"MB",            time unit: our allocation clock
 *    "tuth":N,                            short-lived threshold, in tu
 *    "cmd":"...", "pid":N,
 *    "te":N, "tg":N,                      clock at exit and at the global peak
 *    "pps":[{"tb","tbk","tl","mb","mbk","gb","gbk","eb","ebk","fs":[frame indices]}],
 *    "ftbl":["[root]", "0xADDR: fn (in /module)", ...]}
 *
 * fs lists frames innermost first as indices into ftbl (ftbl[0] is the
 * root, never referenced).  The viewer rejects two program points with the
 * same fs, so points whose frames symbolize identically are merged; frame
 * strings are interned.  Both need memory, taken from anonymous mappings.
 *
 * tools/dhat_out.c is a second writer of this format, kept on purpose: this
 * one runs in the profiled process (no malloc, no stdio, libc only), that
 * one in the modalloc command on merged, file:line-annotated reports with
 * json-c.  Its top comment says how the two are held to one format.
 */
#include <errno.h>
#include <string.h>

#include "fmt.h"
#include "options.h"
#include "global.h"
#include "os.h"
#include "report_format.h"

/* "0x" + 16 digits + ": " + function (1023) + " (in " + module path + ")" */
#define MA_DHAT_FRAME_MAX (32 + 1024 + MA_PATH_MAX)

/* Interned frame strings: a hash set over an arena of NUL-terminated text. */
struct strtab {
	char *text;
	size_t used, cap;
	uint32_t *slots;     /* offset + 1 into text, 0 = empty */
	uint32_t *index_of;  /* parallel to slots: frame index */
	size_t nslots;
	uint32_t count;      /* frames so far, [root] included */
	uint32_t *order;     /* frame index -> text offset */
	size_t order_cap;
};

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* Returns the frame index of s, adding it; UINT32_MAX when out of room. */
static uint32_t intern(struct strtab *t, const char *s)
{
	size_t len = strlen(s) + 1;
	uint64_t h = str_hash(s);
	for (size_t i = 0; i < t->nslots; i++) {
		size_t k = (h + i) & (t->nslots - 1);
		if (t->slots[k] == 0) {
			if (t->used + len > t->cap || t->count >= t->order_cap || t->count * 2 >= t->nslots)
				return UINT32_MAX;
			memcpy(t->text + t->used, s, len);
			t->slots[k] = (uint32_t)t->used + 1;
			t->index_of[k] = t->count;
			t->order[t->count] = (uint32_t)t->used;
			t->used += len;
			return t->count++;
		}
		if (strcmp(t->text + t->slots[k] - 1, s) == 0)
			return t->index_of[k];
	}
	return UINT32_MAX;
}

static void frame_string(uintptr_t ip, char *out, size_t cap)
{
	char fn[1024], mod[MA_PATH_MAX];
	struct ma_frame_info fi;
	struct ma_buf b;
	ma_report_frame(ip, &fi, fn, sizeof fn, mod, sizeof mod);
	ma_buf_init(&b, out, cap, -1);
	/* Valgrind's style: uppercase hex address, then "(in module)" without line info. */
	char hex[20];
	int n = 0;
	uint64_t v = ip;
	do {
		hex[n++] = "0123456789ABCDEF"[v & 15];
		v >>= 4;
	} while (v);
	ma_buf_str(&b, "0x");
	while (n)
		ma_buf_char(&b, hex[--n]);
	ma_buf_str(&b, ": ");
	ma_buf_str(&b, fi.function);
	if (fi.module[0]) {
		ma_buf_str(&b, " (in ");
		ma_buf_str(&b, fi.module);
		ma_buf_char(&b, ')');
	}
	ma_buf_finish(&b);
}

struct pp {
	uint32_t first;      /* offset into fs_pool */
	uint32_t n;
	uint64_t hash;
	uint32_t site;       /* representative site, or UINT32_MAX once merged away */
	uint64_t tb, tbk, tl, mb, mbk, gb, gbk, eb, ebk;
};

static void kv(struct ma_buf *b, const char *k, uint64_t v)
{
	ma_buf_str(b, ",\"");
	ma_buf_str(b, k);
	ma_buf_str(b, "\":");
	ma_buf_u64(b, v);
}

/* The program points of one DHAT file, in anonymous memory. */
struct dhat_work {
	struct strtab t;
	uint32_t *fs_pool;   /* every point's frame indices, back to back */
	struct pp *pps;
	size_t npp;
	char *mem;
	size_t need;
};

/* Maps room for f's sites: every frame string at its longest (the mapping
 * is only touched as far as it is used).  False when out of memory. */
static bool dhat_map(struct dhat_work *w, const struct ma_t2_frozen *f)
{
	size_t nsites = f ? f->count : 0;
	size_t frames_total = 0;
	for (size_t i = 0; i < nsites; i++)
		frames_total += f->sites[f->order[i]].nframes + 1;
	struct strtab *t = &w->t;
	t->cap = MA_DHAT_FRAME_MAX * (frames_total + 16);
	t->nslots = 64;
	while (t->nslots < 4 * (frames_total + 16))
		t->nslots <<= 1;
	t->order_cap = frames_total + 16;
	size_t pool_cap = frames_total + 16;
	w->need = t->cap + t->nslots * 2 * sizeof(uint32_t) + t->order_cap * sizeof(uint32_t) +
	          pool_cap * sizeof(uint32_t) + (nsites + 1) * sizeof(struct pp);
	w->mem = ma_os_map(w->need);
	if (!w->mem)
		return false;
	t->text = w->mem;
	t->slots = (uint32_t *)(w->mem + t->cap);
	t->index_of = t->slots + t->nslots;
	t->order = t->index_of + t->nslots;
	w->fs_pool = t->order + t->order_cap;
	w->pps = (struct pp *)(w->fs_pool + pool_cap);
	intern(t, "[root]");
	return true;
}

/* One program point per site, its frames symbolized into frame indices.
 * False when out of room (never write a wrong stack). */
static bool dhat_points(struct dhat_work *w, const struct ma_t2_frozen *f)
{
	size_t nsites = f ? f->count : 0;
	size_t used = 0;
	char str[MA_DHAT_FRAME_MAX];
	for (size_t i = 0; i < nsites; i++) {
		const struct ma_site_total *s = &f->sites[f->order[i]];
		struct pp *p = &w->pps[w->npp++];
		p->first = (uint32_t)used;
		p->site = f->order[i];
		uint64_t h = 7;
		if (s->is_overflow || s->nframes == 0) {
			/* The viewer needs a distinct, non-empty frame list. */
			uint32_t ix = intern(&w->t, s->is_overflow ? "0x0: [overflow: stacks beyond MOD_ALLOC_BUCKETS_MAX]"
			                                           : "0x0: [no frames captured]");
			w->fs_pool[used++] = ix;
			h = h * 31 + ix;
		}
		for (uint32_t k = 0; k < s->nframes; k++) {
			frame_string(s->frames[k], str, sizeof str);
			uint32_t ix = intern(&w->t, str);
			if (ix == UINT32_MAX) /* cannot happen with the sizes of dhat_map */
				return false;
			w->fs_pool[used++] = ix;
			h = h * 1000003 + ix;
		}
		p->n = (uint32_t)(used - p->first);
		p->hash = h;
		p->tb = s->bytes;
		p->tbk = s->blocks;
		p->tl = s->lifetime_total;
		p->mb = s->max_bytes;
		p->mbk = s->max_blocks;
		p->gb = s->at_peak_bytes;
		p->gbk = s->at_peak_blocks;
		p->eb = s->live_bytes;
		p->ebk = s->live_blocks;
	}
	return true;
}

/* Merges program points with identical frame lists (O(n^2) only among equal hashes). */
static void dhat_merge(struct dhat_work *w)
{
	struct pp *pps = w->pps;
	for (size_t i = 0; i < w->npp; i++) {
		if (pps[i].site == UINT32_MAX)
			continue;
		for (size_t j = i + 1; j < w->npp; j++) {
			struct pp *a = &pps[i], *c = &pps[j];
			if (c->site == UINT32_MAX || c->hash != a->hash || c->n != a->n ||
			    memcmp(w->fs_pool + a->first, w->fs_pool + c->first, a->n * sizeof(uint32_t)) != 0)
				continue;
			a->tb += c->tb;
			a->tbk += c->tbk;
			a->tl += c->tl;
			a->mb += c->mb; /* an upper bound: the two maxima may not coincide */
			a->mbk += c->mbk;
			a->gb += c->gb;
			a->gbk += c->gbk;
			a->eb += c->eb;
			a->ebk += c->ebk;
			c->site = UINT32_MAX;
		}
	}
}

static void dhat_write(struct ma_buf *b, const struct ma_report *r, const struct dhat_work *w)
{
	const struct ma_t2_frozen *f = r->sites;
	uint64_t te = f && f->clock_end ? f->clock_end : 1;
	ma_buf_str(b, "{\"dhatFileVersion\":2,\"mode\":\"heap\",\"verb\":\"Allocated\",\"bklt\":true,\"bkacc\":false");
	ma_buf_str(b, ",\"tu\":\"bytes allocated\",\"Mtu\":\"MB allocated\"");
	kv(b, "tuth", 4096);
	ma_buf_str(b, ",\"cmd\":");
	if (ma_g.backtraces && ma_g.opt.sample) {
		/* Sampled: DHAT's viewer shows cmd above every figure; say they are estimates. */
		char note[MA_PATH_MAX + 160];
		struct ma_buf nb;
		ma_buf_init(&nb, note, sizeof note, -1);
		ma_buf_str(&nb, ma_g.cmd);
		ma_buf_str(&nb, " [modalloc: per-site figures ");
		ma_report_sample_note(&nb);
		ma_buf_str(&nb, " (unbiased estimates); totals exact]");
		ma_buf_finish(&nb);
		ma_buf_json_str(b, note);
	} else {
		ma_buf_json_str(b, ma_g.cmd);
	}
	kv(b, "pid", (uint64_t)r->pid);
	kv(b, "te", te);
	kv(b, "tg", f ? f->clock_peak : 0);
	ma_buf_str(b, "\n,\"pps\":\n[");
	bool first = true;
	for (size_t i = 0; i < w->npp; i++) {
		const struct pp *p = &w->pps[i];
		if (p->site == UINT32_MAX)
			continue;
		ma_buf_str(b, first ? "{" : "\n,{");
		first = false;
		ma_buf_str(b, "\"tb\":");
		ma_buf_u64(b, p->tb);
		kv(b, "tbk", p->tbk);
		kv(b, "tl", p->tl);
		kv(b, "mb", p->mb);
		kv(b, "mbk", p->mbk);
		kv(b, "gb", p->gb);
		kv(b, "gbk", p->gbk);
		kv(b, "eb", p->eb);
		kv(b, "ebk", p->ebk);
		ma_buf_str(b, ",\"fs\":[");
		for (uint32_t k = 0; k < p->n; k++) {
			if (k)
				ma_buf_char(b, ',');
			ma_buf_u64(b, w->fs_pool[p->first + k]);
		}
		ma_buf_str(b, "]}");
	}
	ma_buf_str(b, "\n]\n,\"ftbl\":\n[");
	for (uint32_t i = 0; i < w->t.count; i++) {
		if (i)
			ma_buf_str(b, "\n,");
		ma_buf_json_str(b, w->t.text + w->t.order[i]);
	}
	ma_buf_str(b, "\n]\n}\n");
}

void ma_report_dhat(struct ma_buf *b, const struct ma_report *r)
{
	struct dhat_work w = { 0 };
	if (!dhat_map(&w, r->sites)) {
		b->error = b->error ? b->error : -ENOMEM;
		return;
	}
	if (!dhat_points(&w, r->sites)) {
		b->error = b->error ? b->error : -ENOMEM;
		ma_os_unmap(w.mem, w.need);
		return;
	}
	dhat_merge(&w);
	dhat_write(b, r, &w);
	ma_os_unmap(w.mem, w.need);
}
