/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dhat_out.c: `modalloc report --format dhat`: a report (or several merged)
 * as a Valgrind DHAT v2 file for dh_view.html, the same shape as the
 * library's MOD_ALLOC_DHAT output (src/report_dhat.c): bklt true, bkacc
 * false, times on the allocation clock.  Frames read "0xADDR: fn (file:line)"
 * when the report was annotated by `modalloc lines`, "0xADDR: fn (in module)"
 * otherwise.  Program points whose frame lists come out identical are merged
 * (the viewer rejects duplicates); a merged max is the sum of maxima, an
 * upper bound.
 *
 * Why a second DHAT writer beside the library's: the library writes at exit
 * from its own frozen site table, inside the profiled process, with no
 * malloc, no stdio and no library but libc (fmt.c over write(2), memory
 * from anonymous mappings); this one writes what the library cannot see,
 * several processes' reports merged and frames annotated with file:line by
 * `modalloc lines`, from the JSON model, with json-c.  One writer for both
 * would need a data model and an output layer common to the two worlds,
 * more code than the two writers hold.  What keeps them one format: both
 * follow src/report_dhat.c's format comment, and tests/tool/test_report.py
 * (test_dhat_format) asserts that this writer's program points equal the
 * library's for the same run and holds both files to the rules of
 * tests/dhat/check_dhat.py, the suite dhat's checker.
 */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "strindex.h"
#include "util.h"

/* Frame strings interned into ftbl (the index borrows the strings ftbl holds). */
struct ftab {
	json_object *ftbl;
	struct mt_strindex *index; /* string -> ftbl index */
};

static size_t intern(struct ftab *t, const char *s)
{
	size_t i;
	if (mt_strindex_get(t->index, s, &i))
		return i;
	json_object *js = json_object_new_string(s);
	json_object_array_add(t->ftbl, js);
	i = json_object_array_length(t->ftbl) - 1;
	mt_strindex_add(t->index, json_object_get_string(js), i);
	return i;
}

static char *frame_string(const struct mt_frame *f)
{
	/* Valgrind writes the address in uppercase hex after "0x". */
	const char *ip = f->ip && !strncmp(f->ip, "0x", 2) ? f->ip + 2 : (f->ip ? f->ip : "0");
	char hex[32];
	size_t n = 0;
	for (; *ip && n + 1 < sizeof hex; ip++)
		hex[n++] = (char)(*ip >= 'a' && *ip <= 'f' ? *ip - 32 : *ip);
	hex[n] = '\0';
	const char *fn = f->function ? f->function : "???";
	if (f->file && f->line)
		return mt_xasprintf("0x%s: %s (%s:%llu)", hex, fn, f->file, (unsigned long long)f->line);
	if (f->module && *f->module)
		return mt_xasprintf("0x%s: %s (in %s)", hex, fn, f->module);
	return mt_xasprintf("0x%s: %s", hex, fn);
}

struct pp {
	size_t *fs;
	size_t n;
	uint64_t tb, tbk, tl, mb, mbk, gb, gbk, eb, ebk;
	bool merged_away;
};

static uint64_t peak_clock(const struct mt_report *r)
{
	json_object *tl = r->timeline_json, *peak;
	if (!tl || !json_object_object_get_ex(tl, "peak", &peak) || !json_object_is_type(peak, json_type_array) ||
	    json_object_array_length(peak) < 1)
		return 0;
	return (uint64_t)json_object_get_int64(json_object_array_get_idx(peak, 0));
}

static void put(json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_int64((int64_t)v));
}

bool mt_write_dhat(FILE *out, const struct mt_report *r)
{
	struct ftab t = { json_object_new_array(), mt_strindex_new() };
	intern(&t, "[root]");
	struct pp *pps = mt_xcalloc(r->nsites ? r->nsites : 1, sizeof *pps);
	for (size_t i = 0; i < r->nsites; i++) {
		const struct mt_site *s = &r->sites[i];
		struct pp *p = &pps[i];
		p->fs = mt_xcalloc(s->nframes + 1, sizeof *p->fs);
		for (size_t k = 0; k < s->nframes; k++) {
			char *str = frame_string(&s->frames[k]);
			p->fs[p->n++] = intern(&t, str);
			free(str);
		}
		if (!p->n) /* the viewer wants a distinct, non-empty frame list */
			p->fs[p->n++] = intern(&t, "0x0: [no frames captured]");
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
	for (size_t i = 0; i < r->nsites; i++) {
		for (size_t j = i + 1; j < r->nsites && !pps[i].merged_away; j++) {
			struct pp *a = &pps[i], *c = &pps[j];
			if (c->merged_away || c->n != a->n || memcmp(a->fs, c->fs, a->n * sizeof *a->fs) != 0)
				continue;
			a->tb += c->tb, a->tbk += c->tbk, a->tl += c->tl, a->mb += c->mb, a->mbk += c->mbk;
			a->gb += c->gb, a->gbk += c->gbk, a->eb += c->eb, a->ebk += c->ebk;
			c->merged_away = true;
		}
	}
	json_object *root = json_object_new_object();
	put(root, "dhatFileVersion", 2);
	json_object_object_add(root, "mode", json_object_new_string("heap"));
	json_object_object_add(root, "verb", json_object_new_string("Allocated"));
	json_object_object_add(root, "bklt", json_object_new_boolean(1));
	json_object_object_add(root, "bkacc", json_object_new_boolean(0));
	json_object_object_add(root, "tu", json_object_new_string("bytes allocated"));
	json_object_object_add(root, "Mtu", json_object_new_string("MB allocated"));
	put(root, "tuth", 4096);
	/* Sampled: the viewer shows cmd above every figure; say they are estimates, as the
	 * library's own DHAT file does. */
	char *rates = mt_report_sampled(r) ? mt_rates_text(r) : NULL;
	char *cmd = rates ? mt_xasprintf("%s [modalloc: per-site figures estimated, sampled every %s "
	                                 "(unbiased estimates); totals exact]",
	                                 r->cmd ? r->cmd : "", rates)
	                  : mt_xstrdup(r->cmd ? r->cmd : "");
	json_object_object_add(root, "cmd", json_object_new_string(cmd));
	free(cmd);
	free(rates);
	put(root, "pid", r->pid);
	uint64_t te = r->totals.bytes ? r->totals.bytes : 1, tg = peak_clock(r);
	put(root, "te", te);
	put(root, "tg", tg <= te ? tg : te);
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < r->nsites; i++) {
		const struct pp *p = &pps[i];
		if (p->merged_away)
			continue;
		json_object *o = json_object_new_object();
		put(o, "tb", p->tb), put(o, "tbk", p->tbk), put(o, "tl", p->tl);
		put(o, "mb", p->mb), put(o, "mbk", p->mbk), put(o, "gb", p->gb), put(o, "gbk", p->gbk);
		put(o, "eb", p->eb), put(o, "ebk", p->ebk);
		json_object *fs = json_object_new_array();
		for (size_t k = 0; k < p->n; k++)
			json_object_array_add(fs, json_object_new_int64((int64_t)p->fs[k]));
		json_object_object_add(o, "fs", fs);
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "pps", arr);
	json_object_object_add(root, "ftbl", t.ftbl);
	bool ok = fputs(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
	                out) >= 0 && fputc('\n', out) != EOF;
	json_object_put(root);
	for (size_t i = 0; i < r->nsites; i++)
		free(pps[i].fs);
	free(pps);
	mt_strindex_free(t.index);
	return ok;
}
