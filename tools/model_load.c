/* SPDX-License-Identifier: Apache-2.0 */
/*
 * model_load.c: reads one modalloc JSON report (format version 1) into a
 * struct mt_report, validating as it goes: mt_report_load.  A file that is
 * not a report, or a report with a member of the wrong type, gives one line
 * "modalloc: FILE: why" and NULL, never a partial report.  Unknown members
 * are ignored and optional ones default (see model.h), so that older and
 * newer library versions of format 1 read alike.  The site keys are made
 * here, once per site (model_sitekey.c).
 */
#include "model.h"

#include <errno.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

struct loader {
	const char *path;
	jmp_buf fail;
};

__attribute__((format(printf, 2, 3)))
_Noreturn static void fail(struct loader *ld, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, MT_PROG ": %s: ", ld->path);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	longjmp(ld->fail, 1);
}

static json_object *member(json_object *o, const char *k)
{
	json_object *v = NULL;
	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, k, &v))
		return NULL;
	return v;
}

static uint64_t as_u64(struct loader *ld, json_object *v, const char *what)
{
	if (!json_object_is_type(v, json_type_int))
		fail(ld, "%s is not an integer", what);
	if (json_object_get_int64(v) < 0)
		fail(ld, "%s is negative", what);
	return json_object_get_uint64(v);
}

/* A non-negative integer member; def when absent and !required. */
static uint64_t get_u64(struct loader *ld, json_object *o, const char *obj_name, const char *k,
                        bool required, uint64_t def)
{
	json_object *v = member(o, k);
	char what[128];
	snprintf(what, sizeof what, "%s%s%s", obj_name, *obj_name ? "." : "", k);
	if (!v) {
		if (required)
			fail(ld, "%s is missing", what);
		return def;
	}
	return as_u64(ld, v, what);
}

static char *get_str(struct loader *ld, json_object *o, const char *what, const char *k,
                     const char *def)
{
	json_object *v = member(o, k);
	if (!v) {
		if (!def)
			fail(ld, "%s.%s is missing", what, k);
		return mt_xstrdup(def);
	}
	if (!json_object_is_type(v, json_type_string))
		fail(ld, "%s.%s is not a string", what, k);
	return mt_xstrdup(json_object_get_string(v));
}

static bool get_bool(json_object *o, const char *k, bool def)
{
	json_object *v = member(o, k);
	return v && json_object_is_type(v, json_type_boolean) ? json_object_get_boolean(v) : def;
}

static void load_frames(struct loader *ld, json_object *arr, struct mt_site *s, size_t si)
{
	char what[64];
	snprintf(what, sizeof what, "sites[%zu].frames", si);
	if (!json_object_is_type(arr, json_type_array))
		fail(ld, "%s is not an array", what);
	size_t n = json_object_array_length(arr);
	s->frames = mt_xcalloc(n, sizeof *s->frames);
	for (size_t i = 0; i < n; i++) {
		json_object *f = json_object_array_get_idx(arr, i);
		snprintf(what, sizeof what, "sites[%zu].frames[%zu]", si, i);
		if (!json_object_is_type(f, json_type_object))
			fail(ld, "%s is not an object", what);
		struct mt_frame *fr = &s->frames[i];
		s->nframes = i + 1;
		fr->ip = get_str(ld, f, what, "ip", "0x0");
		fr->module = get_str(ld, f, what, "module", "??");
		fr->offset = get_str(ld, f, what, "offset", "0x0");
		fr->function = get_str(ld, f, what, "function", "??");
		if (member(f, "file"))
			fr->file = get_str(ld, f, what, "file", "");
		fr->line = get_u64(ld, f, what, "line", false, 0);
		fr->inlined = get_bool(f, "inlined", false);
	}
}

static void load_sites(struct loader *ld, struct mt_report *r, json_object *arr)
{
	if (!json_object_is_type(arr, json_type_array))
		fail(ld, "\"sites\" is not an array");
	size_t n = json_object_array_length(arr);
	r->has_sites = true;
	r->sites = mt_xcalloc(n, sizeof *r->sites);
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		char what[32];
		snprintf(what, sizeof what, "sites[%zu]", i);
		if (!json_object_is_type(o, json_type_object))
			fail(ld, "%s is not an object", what);
		struct mt_site *s = &r->sites[i];
		r->nsites = i + 1;
#define X(k) s->k = get_u64(ld, o, what, #k, \
	strcmp(#k, "blocks") == 0 || strcmp(#k, "bytes") == 0, 0);
		MT_SITE_NUMS(X)
#undef X
		/* In a sampled report a site's numbers are estimates from its samples; a
		 * site without samples there can only be an exact part merged in. */
		s->samples = get_u64(ld, o, what, "samples", false, 0);
		s->estimated = r->cfg_sample_bytes && s->samples;
		mt_site_noise(s);
		s->lifetime_unit = get_str(ld, o, what, "lifetime_unit", "bytes_allocated");
		s->truncated = get_bool(o, "truncated", false);
		json_object *h = member(o, "size_hist_log2");
		if (h) {
			if (!json_object_is_type(h, json_type_array))
				fail(ld, "%s.size_hist_log2 is not an array", what);
			s->nhist = json_object_array_length(h);
			s->hist = mt_xcalloc(s->nhist, sizeof *s->hist);
			for (size_t j = 0; j < s->nhist; j++)
				s->hist[j] = as_u64(ld, json_object_array_get_idx(h, j), "size_hist_log2[]");
		}
		json_object *fr = member(o, "frames");
		if (!fr)
			fail(ld, "%s.frames is missing", what);
		load_frames(ld, fr, s, i);
		s->key = mt_site_key(s, false);
		s->fkey = mt_site_key(s, true);
	}
}

static void load_timeline(struct loader *ld, struct mt_report *r, json_object *tl)
{
	if (!json_object_is_type(tl, json_type_object))
		fail(ld, "\"timeline\" is not an object");
	json_object *pts = member(tl, "points");
	if (!pts || !json_object_is_type(pts, json_type_array))
		fail(ld, "timeline.points is missing or not an array");
	r->has_timeline = true;
	r->timeline_json = json_object_get(tl);
	r->timeline_unit = get_str(ld, tl, "timeline", "unit", "bytes_allocated");
	size_t n = json_object_array_length(pts);
	r->points = mt_xcalloc(n, sizeof *r->points);
	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(pts, i);
		size_t len = json_object_is_type(p, json_type_array) ? json_object_array_length(p) : 0;
		if (len < 2)
			fail(ld, "timeline.points[%zu] is not [t, live_bytes, rss_bytes]", i);
		r->points[i].t = as_u64(ld, json_object_array_get_idx(p, 0), "timeline point t");
		r->points[i].live = as_u64(ld, json_object_array_get_idx(p, 1), "timeline live_bytes");
		if (len > 2)
			r->points[i].rss = as_u64(ld, json_object_array_get_idx(p, 2), "timeline rss_bytes");
		if (i && r->points[i].t < r->points[i - 1].t)
			fail(ld, "timeline.points[%zu]: time goes backwards", i);
		r->npoints = i + 1;
	}
}

static void load_body(struct loader *ld, struct mt_report *r, json_object *root)
{
	if (!json_object_is_type(root, json_type_object))
		fail(ld, "not a modalloc report (the JSON is not an object)");
	json_object *fmt = member(root, "format");
	if (!fmt || !json_object_is_type(fmt, json_type_string) ||
	    strcmp(json_object_get_string(fmt), "modalloc") != 0)
		fail(ld, "not a modalloc report (no \"format\": \"modalloc\")");
	json_object *ver = member(root, "version");
	if (!ver || !json_object_is_type(ver, json_type_int))
		fail(ld, "not a modalloc report (no integer \"version\")");
	int64_t v = json_object_get_int64(ver);
	if (v != MT_VERSION)
		fail(ld, "report version %lld is not supported (this modalloc reads version %d)",
		     (long long)v, MT_VERSION);

	r->pid = get_u64(ld, root, "", "pid", false, 0);
	r->cmd = get_str(ld, root, "report", "cmd", "");
	r->tool = get_str(ld, root, "report", "tool", "");
	r->at_exit = get_bool(root, "at_exit", false);
	r->at_exec = get_bool(root, "at_exec", false);
	r->live = get_bool(root, "live", false);
	r->recovered = get_bool(root, "recovered", false);
	json_object *sig = member(root, "signal");
	if (sig && json_object_is_type(sig, json_type_string))
		r->signal = mt_xstrdup(json_object_get_string(sig));
	json_object *eb = member(root, "ended_by");
	if (eb && json_object_is_type(eb, json_type_string))
		r->ended_by = mt_xstrdup(json_object_get_string(eb));

	json_object *t = member(root, "totals");
	if (!t || !json_object_is_type(t, json_type_object))
		fail(ld, "\"totals\" is missing or not an object");
#define X(k) r->totals.k = get_u64(ld, t, "totals", #k, true, 0);
	MT_TOTALS(X)
#undef X
	json_object *c = member(root, "calls");
	for (size_t i = 0; c && i < MT_NCALLS; i++)
		r->calls[i] = get_u64(ld, c, "calls", mt_call_names[i], false, 0);
	json_object *inh = member(root, "inherited");
	r->inherited_frees = get_u64(ld, inh, "inherited", "frees", false, 0);
	r->inherited_freed_bytes = get_u64(ld, inh, "inherited", "freed_bytes", false, 0);
	r->foreign_frees = get_u64(ld, root, "", "foreign_frees", false, 0);
	r->threads = get_u64(ld, root, "", "threads", false, 0);
	r->wall_ns = get_u64(ld, root, "", "wall_ns", false, 0);

	json_object *cfg = member(root, "config");
	if (cfg) {
		r->has_config = true;
		r->cfg_backtraces = get_bool(cfg, "backtraces", false);
		r->cfg_buckets = get_u64(ld, cfg, "config", "buckets", false, 0);
		r->cfg_depth = get_u64(ld, cfg, "config", "depth", false, 0);
		r->cfg_header_bytes = get_u64(ld, cfg, "config", "header_bytes", false, 0);
		r->cfg_peak_slack_bytes = get_u64(ld, cfg, "config", "peak_slack_bytes", false, 0);
		r->cfg_sample_bytes = get_u64(ld, cfg, "config", "sample_bytes", false, 0);
		r->cfg_sample_seed = get_u64(ld, cfg, "config", "sample_seed", false, 0);
	}
	json_object *sites = member(root, "sites");
	if (sites)
		load_sites(ld, r, sites);
	json_object *st = member(root, "stacks");
	if (st) {
		if (!json_object_is_type(st, json_type_object))
			fail(ld, "\"stacks\" is not an object");
		r->has_stacks = true;
		json_object_object_foreach(st, sk, sv) {
			if (json_object_is_type(sv, json_type_int))
				mt_stacks_add(r, sk, as_u64(ld, sv, "a stacks member"));
		}
		r->stacks_shallow_warning = get_bool(st, "shallow_warning", false);
	}
	json_object *tl = member(root, "timeline");
	if (tl)
		load_timeline(ld, r, tl);
	/* A merged report written by `report --format json` stays a merge when read back. */
	json_object *m = member(root, "merged");
	json_object *pids = member(m, "pids");
	if (m && pids && json_object_is_type(pids, json_type_array) &&
	    json_object_array_length(pids) > 0) {
		size_t n = json_object_array_length(pids);
		r->pids = mt_xcalloc(n, sizeof *r->pids);
		for (size_t i = 0; i < n; i++)
			r->pids[i] = as_u64(ld, json_object_array_get_idx(pids, i), "merged.pids[]");
		r->npids = n;
		r->nfiles = (size_t)get_u64(ld, m, "merged", "reports", false, n);
	}
	/* A merge of reports sampled at several rates (or some exact) lists them. */
	json_object *rates = member(m, "sample_bytes");
	if (rates && json_object_is_type(rates, json_type_array))
		for (size_t i = 0; i < json_object_array_length(rates); i++)
			mt_report_add_rate(r, as_u64(ld, json_object_array_get_idx(rates, i),
			                             "merged.sample_bytes[]"));
	if (!r->nrates)
		mt_report_add_rate(r, r->cfg_sample_bytes);
}

struct mt_report *mt_report_load(const char *path)
{
	struct loader ld = { .path = path };
	struct stat st;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		mt_err("%s: is a directory", path);
		return NULL;
	}
	size_t len;
	char *text = mt_read_file(path, &len);
	if (!text) {
		mt_err("%s: %s", path, strerror(errno));
		return NULL;
	}
	struct mt_report *r = mt_xcalloc(1, sizeof *r);
	/* Assigned after setjmp and read after longjmp: volatile, or they may be stale. */
	json_tokener *volatile tok = NULL;
	json_object *volatile root = NULL;
	r->path = mt_xstrdup(path);
	r->nfiles = 1;
	if (setjmp(ld.fail)) {
		if (root)
			json_object_put(root);
		if (tok)
			json_tokener_free(tok);
		free(text);
		mt_report_free(r);
		return NULL;
	}
	size_t start = 0;
	while (start < len && strchr(" \t\r\n", text[start]))
		start++;
	if (start == len)
		fail(&ld, "empty file, not a modalloc report");
	tok = json_tokener_new();
	if (!tok)
		mt_die(2, "out of memory");
	root = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue)
		fail(&ld, "truncated JSON (the file ends inside a value)");
	if (jerr != json_tokener_success)
		fail(&ld, "invalid JSON at byte %zu: %s", json_tokener_get_parse_end(tok),
		     json_tokener_error_desc(jerr));
	for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
		if (!strchr(" \t\r\n", text[i]))
			fail(&ld, "invalid JSON: extra data at byte %zu", i);
	load_body(&ld, r, root);
	json_object_put(root);
	json_tokener_free(tok);
	free(text);
	uint64_t pid_in_name;
	if (!mt_report_name(mt_basename(path), &pid_in_name, &r->seq))
		r->seq = 0;
	if (!r->pids) {
		r->npids = 1;
		r->pids = mt_xmalloc(sizeof *r->pids);
		r->pids[0] = r->pid;
	}
	return r;
}
