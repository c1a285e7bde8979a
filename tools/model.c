/* SPDX-License-Identifier: Apache-2.0 */
/* model.c: loading, validating and merging modalloc JSON reports (json-c). */
#include "model.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "strindex.h"
#include "util.h"

const char *const mt_call_names[MT_NCALLS] = {
#define X(k) #k,
	MT_CALLS(X)
#undef X
};

uint64_t mt_stacks_get(const struct mt_report *r, const char *name)
{
	for (size_t i = 0; i < r->nstacks; i++)
		if (strcmp(r->stacks[i].name, name) == 0)
			return r->stacks[i].v;
	return 0;
}

static void stacks_add(struct mt_report *r, const char *name, uint64_t v)
{
	for (size_t i = 0; i < r->nstacks; i++)
		if (strcmp(r->stacks[i].name, name) == 0) {
			r->stacks[i].v += v;
			return;
		}
	r->stacks = mt_xrealloc(r->stacks, (r->nstacks + 1) * sizeof *r->stacks);
	r->stacks[r->nstacks].name = mt_xstrdup(name);
	r->stacks[r->nstacks++].v = v;
}

/* ---- loading ---------------------------------------------------------- */

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

const char *mt_basename(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static bool is_self_module(const char *module)
{
	return strncmp(mt_basename(module), "libmodalloc", 11) == 0;
}

static bool unknown_function(const char *f)
{
	return !f || !*f || strcmp(f, "??") == 0;
}

bool mt_frame_is_allocator(const struct mt_frame *f)
{
	static const char *const entry[] = {
		"malloc", "calloc", "realloc", "reallocarray", "free", "cfree", "posix_memalign",
		"aligned_alloc", "memalign", "valloc", "pvalloc", "__libc_*", "_Znw*", "_Zna*",
		"operator new*", "operator new[]*",
	};
	if (is_self_module(f->module))
		return true;
	if (unknown_function(f->function))
		return false;
	for (size_t i = 0; i < sizeof entry / sizeof entry[0]; i++)
		if (fnmatch(entry[i], f->function, 0) == 0)
			return true;
	return false;
}

const char *mt_frame_label(const struct mt_frame *f, char *buf, size_t cap)
{
	if (!unknown_function(f->function))
		return f->function;
	snprintf(buf, cap, "%s+%s", mt_basename(f->module), f->offset);
	return buf;
}

size_t mt_site_depth(const struct mt_site *s)
{
	for (size_t i = 0; i < s->nframes; i++) {
		const char *m = s->frames[i].module;
		if (!m || !*m || strcmp(m, "??") == 0)
			return i;
	}
	return s->nframes;
}

size_t mt_site_first_meaningful(const struct mt_site *s)
{
	size_t n = mt_site_depth(s);
	if (!n)
		return SIZE_MAX;
	for (size_t i = 0; i < n; i++)
		if (!mt_frame_is_allocator(&s->frames[i]))
			return i;
	return 0;
}

/*
 * The site keys: see model.h.  Separators cannot occur in symbols.
 * exact: a frame is its module and offset (the address less the load bias:
 * the same in every process and run of one binary), or its function when
 * the offset is unknown.  by_function: its module and function, or module
 * and offset for "??".  Both end where the stack leaves known modules.
 */
static char *site_key(const struct mt_site *s, bool by_function)
{
	size_t cap = 1;
	for (size_t i = 0; i < s->nframes; i++) {
		const struct mt_frame *f = &s->frames[i];
		cap += strlen(mt_basename(f->module)) + strlen(f->function) + strlen(f->offset) + 3;
	}
	char *k = mt_xmalloc(cap), *o = k;
	size_t depth = mt_site_depth(s);
	for (size_t i = 0; i < depth; i++) {
		const struct mt_frame *f = &s->frames[i];
		if (is_self_module(f->module) || f->inlined)
			continue;
		const char *b = mt_basename(f->module);
		bool off = unknown_function(f->function) ||
		           (!by_function && strcmp(f->offset, "0x0") != 0 && *f->offset);
		o += sprintf(o, "%s\x1f%s%s\x1e", b, off ? "+" : "", off ? f->offset : f->function);
	}
	*o = '\0';
	return k;
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
		s->key = site_key(s, false);
		s->fkey = site_key(s, true);
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
				stacks_add(r, sk, as_u64(ld, sv, "a stacks member"));
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

void mt_report_free(struct mt_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nsites; i++) {
		struct mt_site *s = &r->sites[i];
		for (size_t j = 0; j < s->nframes; j++) {
			free(s->frames[j].ip);
			free(s->frames[j].module);
			free(s->frames[j].offset);
			free(s->frames[j].function);
			free(s->frames[j].file);
		}
		free(s->frames);
		free(s->hist);
		free(s->key);
		free(s->fkey);
		free(s->lifetime_unit);
	}
	free(r->sites);
	for (size_t i = 0; i < r->nstacks; i++)
		free(r->stacks[i].name);
	free(r->stacks);
	free(r->points);
	free(r->timeline_unit);
	if (r->timeline_json)
		json_object_put(r->timeline_json);
	free(r->pids);
	mt_strindex_free(r->idx);
	free(r->path);
	free(r->cmd);
	free(r->tool);
	free(r);
}

/* ---- file arguments --------------------------------------------------- */

struct named {
	uint64_t pid;
	unsigned seq;
	char *path;
};

static int by_pid(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return strcmp(x->path, y->path);
}

bool mt_report_name(const char *name, uint64_t *pid, unsigned *seq)
{
	if (strncmp(name, "modalloc.", 9) != 0 || strstr(name, ".tmp."))
		return false;
	size_t n = strlen(name);
	if (n < 15 || strcmp(name + n - 5, ".json") != 0)
		return false;
	const char *p = name + 9;
	char *end;
	if (*p < '0' || *p > '9')
		return false;
	*pid = strtoull(p, &end, 10);
	*seq = 0;
	if (*end == '.' && end[1] >= '0' && end[1] <= '9') {
		unsigned long v = strtoul(end + 1, &end, 10);
		*seq = v > 1000000 ? 1000000 : (unsigned)v;
	}
	return strcmp(end, ".json") == 0;
}

/* Adds path unless the same file (by real path) is already in: each report counts once. */
static void add_path(char ***paths, char ***real, size_t *n, size_t *cap, char *path)
{
	char *rp = realpath(path, NULL);
	for (size_t i = 0; rp && i < *n; i++)
		if ((*real)[i] && strcmp((*real)[i], rp) == 0) {
			free(rp);
			free(path);
			return;
		}
	if (*n == *cap) {
		*cap *= 2;
		*paths = mt_xrealloc(*paths, *cap * sizeof **paths);
		*real = mt_xrealloc(*real, *cap * sizeof **real);
	}
	(*real)[*n] = rp;
	(*paths)[(*n)++] = path;
}

size_t mt_expand_paths(char **args, size_t nargs, char ***out)
{
	size_t n = 0, cap = nargs + 8;
	char **paths = mt_xmalloc(cap * sizeof *paths);
	char **real = mt_xmalloc(cap * sizeof *real);
	for (size_t a = 0; a < nargs; a++) {
		struct stat st;
		if (stat(args[a], &st) != 0 || !S_ISDIR(st.st_mode)) {
			add_path(&paths, &real, &n, &cap, mt_xstrdup(args[a]));
			continue;
		}
		DIR *d = opendir(args[a]);
		if (!d)
			mt_die(2, "%s: %s", args[a], strerror(errno));
		struct named *found = NULL;
		size_t nf = 0, fcap = 0;
		struct dirent *e;
		while ((e = readdir(d))) {
			uint64_t pid;
			unsigned seq;
			if (!mt_report_name(e->d_name, &pid, &seq))
				continue;
			if (nf == fcap)
				found = mt_xrealloc(found, (fcap = fcap ? fcap * 2 : 16) * sizeof *found);
			found[nf].pid = pid;
			found[nf].seq = seq;
			found[nf].path = mt_xasprintf("%s/%s", args[a], e->d_name);
			nf++;
		}
		closedir(d);
		if (!nf)
			mt_die(2, "%s: no modalloc.*.json reports in this directory", args[a]);
		qsort(found, nf, sizeof *found, by_pid);
		for (size_t i = 0; i < nf; i++)
			add_path(&paths, &real, &n, &cap, found[i].path);
		free(found);
	}
	for (size_t i = 0; i < n; i++)
		free(real[i]);
	free(real);
	*out = paths;
	return n;
}

/* ---- merging ---------------------------------------------------------- */

/*
 * The key index: site key -> index in sites, built on first use from every
 * site (the first of equal keys wins).  A cache: dropped when the sites are
 * reordered.
 */
static struct mt_strindex *index_of(struct mt_report *r)
{
	if (!r->idx) {
		r->idx = mt_strindex_new();
		for (size_t i = 0; i < r->nsites; i++) {
			size_t first;
			if (!mt_strindex_get(r->idx, r->sites[i].key, &first))
				mt_strindex_add(r->idx, r->sites[i].key, i);
		}
	}
	return r->idx;
}

static void index_drop(struct mt_report *r)
{
	mt_strindex_free(r->idx);
	r->idx = NULL;
}

struct mt_site *mt_report_find(const struct mt_report *cr, const char *key)
{
	struct mt_report *r = (struct mt_report *)cr; /* the index is a cache */
	size_t i;
	if (!r->nsites)
		return NULL;
	return mt_strindex_get(index_of(r), key, &i) ? &r->sites[i] : NULL;
}

static void add_site(struct mt_site *d, const struct mt_site *s)
{
#define X(k) d->k += s->k;
	MT_SITE_NUMS(X)
#undef X
	d->truncated |= s->truncated;
	if (s->nhist > d->nhist) {
		d->hist = mt_xrealloc(d->hist, s->nhist * sizeof *d->hist);
		memset(d->hist + d->nhist, 0, (s->nhist - d->nhist) * sizeof *d->hist);
		d->nhist = s->nhist;
	}
	for (size_t i = 0; i < s->nhist; i++)
		d->hist[i] += s->hist[i];
}

static void copy_site(struct mt_site *d, const struct mt_site *s)
{
	*d = *s;
	d->lifetime_unit = mt_xstrdup(s->lifetime_unit);
	d->key = mt_xstrdup(s->key);
	d->fkey = mt_xstrdup(s->fkey);
	d->hist = mt_xcalloc(s->nhist, sizeof *d->hist);
	memcpy(d->hist, s->hist, s->nhist * sizeof *d->hist);
	d->frames = mt_xcalloc(s->nframes, sizeof *d->frames);
	for (size_t i = 0; i < s->nframes; i++) {
		d->frames[i].ip = mt_xstrdup(s->frames[i].ip);
		d->frames[i].module = mt_xstrdup(s->frames[i].module);
		d->frames[i].offset = mt_xstrdup(s->frames[i].offset);
		d->frames[i].function = mt_xstrdup(s->frames[i].function);
		d->frames[i].file = s->frames[i].file ? mt_xstrdup(s->frames[i].file) : NULL;
		d->frames[i].line = s->frames[i].line;
		d->frames[i].inlined = s->frames[i].inlined;
	}
}

void mt_report_merge(struct mt_report *d, const struct mt_report *s)
{
#define X(k) d->totals.k += s->totals.k;
	MT_TOTALS(X)
#undef X
	for (size_t i = 0; i < MT_NCALLS; i++)
		d->calls[i] += s->calls[i];
	d->inherited_frees += s->inherited_frees;
	d->inherited_freed_bytes += s->inherited_freed_bytes;
	d->foreign_frees += s->foreign_frees;
	d->threads += s->threads;
	/* Processes of a tree overlap in time: the longest is the tree's wall time. */
	if (s->wall_ns > d->wall_ns)
		d->wall_ns = s->wall_ns;
	d->at_exit = d->at_exit && s->at_exit;
	if (!d->has_config && s->has_config) {
		d->has_config = true;
		d->cfg_backtraces = s->cfg_backtraces;
		d->cfg_buckets = s->cfg_buckets;
		d->cfg_depth = s->cfg_depth;
		d->cfg_header_bytes = s->cfg_header_bytes;
		d->cfg_peak_slack_bytes = s->cfg_peak_slack_bytes;
	}
	if (s->has_stacks) {
		d->has_stacks = true;
		for (size_t i = 0; i < s->nstacks; i++)
			stacks_add(d, s->stacks[i].name, s->stacks[i].v);
		d->stacks_shallow_warning |= s->stacks_shallow_warning;
	}
	d->pids = mt_xrealloc(d->pids, (d->npids + s->npids) * sizeof *d->pids);
	memcpy(d->pids + d->npids, s->pids, s->npids * sizeof *d->pids);
	d->npids += s->npids;
	d->nfiles += s->nfiles;
	/* One timeline per process: a sum of clocks would mean nothing. */
	d->has_timeline = false;
	d->npoints = 0;

	if (s->has_sites)
		d->has_sites = true;
	struct mt_strindex *ix = index_of(d);
	for (size_t i = 0; i < s->nsites; i++) {
		size_t hit;
		if (mt_strindex_get(ix, s->sites[i].key, &hit)) {
			add_site(&d->sites[hit], &s->sites[i]);
			continue;
		}
		d->sites = mt_xrealloc(d->sites, (d->nsites + 1) * sizeof *d->sites);
		copy_site(&d->sites[d->nsites], &s->sites[i]);
		mt_strindex_add(ix, d->sites[d->nsites].key, d->nsites);
		d->nsites++;
	}
}

static int by_bytes_desc(const void *a, const void *b)
{
	const struct mt_site *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->blocks != y->blocks)
		return x->blocks > y->blocks ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* Folds sites of one report whose keys coincide (different addresses, same symbols). */
static struct mt_report *normalize(struct mt_report *r)
{
	struct mt_report *n = mt_xcalloc(1, sizeof *n);
	n->path = mt_xstrdup(r->path);
	n->pid = r->pid;
	n->cmd = mt_xstrdup(r->cmd);
	n->tool = mt_xstrdup(r->tool);
	n->at_exit = true;
	n->at_exec = r->at_exec;
	n->seq = r->seq;
	mt_report_merge(n, r);
	n->nfiles = r->nfiles;
	n->has_sites = r->has_sites;
	n->has_timeline = r->has_timeline;
	if (r->has_timeline) {
		n->timeline_unit = mt_xstrdup(r->timeline_unit);
		n->points = r->points;
		n->npoints = r->npoints;
		n->timeline_json = r->timeline_json;
		r->points = NULL;
		r->timeline_json = NULL;
	}
	n->has_config = r->has_config;
	mt_report_free(r);
	if (n->nsites > 1) {
		qsort(n->sites, n->nsites, sizeof *n->sites, by_bytes_desc);
		index_drop(n);
	}
	return n;
}

/* What one process image wrote: a copy of a report (another name, another place) matches it. */
struct image_id {
	uint64_t pid, wall_ns, blocks, bytes, frees;
	bool at_exec;
	char *cmd;
	const char *path;
};

static bool same_image(const struct image_id *a, const struct mt_report *r)
{
	return a->pid == r->pid && a->wall_ns == r->wall_ns && a->blocks == r->totals.blocks &&
	       a->bytes == r->totals.bytes && a->frees == r->totals.frees &&
	       a->at_exec == r->at_exec && strcmp(a->cmd, r->cmd) == 0;
}

struct mt_report *mt_report_load_merged(char **paths, size_t npaths)
{
	struct mt_report *acc = NULL;
	struct image_id *seen = mt_xcalloc(npaths + 1, sizeof *seen);
	size_t nseen = 0, dups = 0;
	for (size_t i = 0; i < npaths; i++) {
		struct mt_report *r = mt_report_load(paths[i]);
		if (!r) {
			mt_report_free(acc);
			acc = NULL;
			break;
		}
		/* Each process image counts once, whatever the number of copies given. */
		size_t j = 0;
		while (j < nseen && (r->nfiles != 1 || !same_image(&seen[j], r)))
			j++;
		if (j < nseen) {
			mt_err("%s: the same process image as %s (pid %llu): counted once", paths[i],
			       seen[j].path, (unsigned long long)r->pid);
			mt_report_free(r);
			dups++;
			continue;
		}
		seen[nseen++] = (struct image_id){ r->pid, r->wall_ns, r->totals.blocks,
		                                   r->totals.bytes, r->totals.frees, r->at_exec,
		                                   mt_xstrdup(r->cmd), paths[i] };
		if (!acc) {
			acc = normalize(r);
			continue;
		}
		mt_report_merge(acc, r);
		mt_report_free(r);
	}
	for (size_t j = 0; j < nseen; j++)
		free(seen[j].cmd);
	free(seen);
	if (acc && npaths - dups > 1) {
		free(acc->path);
		acc->path = mt_xasprintf("%zu reports", npaths - dups);
		qsort(acc->sites, acc->nsites, sizeof *acc->sites, by_bytes_desc);
		index_drop(acc);
	}
	return acc;
}

/* ---- writing ---------------------------------------------------------- */

static void put_u64(json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

char *mt_report_to_json(const struct mt_report *r)
{
	json_object *root = json_object_new_object();
	json_object_object_add(root, "format", json_object_new_string("modalloc"));
	json_object_object_add(root, "version", json_object_new_int(MT_VERSION));
	put_u64(root, "pid", r->pid);
	json_object_object_add(root, "cmd", json_object_new_string(r->cmd));
	json_object_object_add(root, "tool", json_object_new_string(r->tool));
	json_object_object_add(root, "at_exit", json_object_new_boolean(r->at_exit));
	json_object_object_add(root, "at_exec", json_object_new_boolean(r->at_exec && r->nfiles == 1));
	json_object *t = json_object_new_object();
#define X(k) put_u64(t, #k, r->totals.k);
	MT_TOTALS(X)
#undef X
	json_object_object_add(root, "totals", t);
	json_object *c = json_object_new_object();
	for (size_t i = 0; i < MT_NCALLS; i++)
		put_u64(c, mt_call_names[i], r->calls[i]);
	json_object_object_add(root, "calls", c);
	json_object *inh = json_object_new_object();
	put_u64(inh, "frees", r->inherited_frees);
	put_u64(inh, "freed_bytes", r->inherited_freed_bytes);
	json_object_object_add(root, "inherited", inh);
	put_u64(root, "foreign_frees", r->foreign_frees);
	put_u64(root, "threads", r->threads);
	put_u64(root, "wall_ns", r->wall_ns);
	if (r->has_config) {
		json_object *cfg = json_object_new_object();
		json_object_object_add(cfg, "backtraces", json_object_new_boolean(r->cfg_backtraces));
		put_u64(cfg, "buckets", r->cfg_buckets);
		put_u64(cfg, "depth", r->cfg_depth);
		put_u64(cfg, "header_bytes", r->cfg_header_bytes);
		put_u64(cfg, "peak_slack_bytes", r->cfg_peak_slack_bytes);
		json_object_object_add(root, "config", cfg);
	}
	if (r->has_sites) {
		json_object *arr = json_object_new_array();
		for (size_t i = 0; i < r->nsites; i++) {
			const struct mt_site *s = &r->sites[i];
			json_object *o = json_object_new_object();
#define X(k) put_u64(o, #k, s->k);
			MT_SITE_NUMS(X)
#undef X
			json_object_object_add(o, "lifetime_unit", json_object_new_string(s->lifetime_unit));
			json_object *h = json_object_new_array();
			for (size_t j = 0; j < s->nhist; j++)
				json_object_array_add(h, json_object_new_uint64(s->hist[j]));
			json_object_object_add(o, "size_hist_log2", h);
			json_object_object_add(o, "truncated", json_object_new_boolean(s->truncated));
			json_object *fa = json_object_new_array();
			for (size_t j = 0; j < s->nframes; j++) {
				const struct mt_frame *f = &s->frames[j];
				json_object *fo = json_object_new_object();
				json_object_object_add(fo, "ip", json_object_new_string(f->ip));
				json_object_object_add(fo, "module", json_object_new_string(f->module));
				json_object_object_add(fo, "offset", json_object_new_string(f->offset));
				json_object_object_add(fo, "function", json_object_new_string(f->function));
				if (f->file)
					json_object_object_add(fo, "file", json_object_new_string(f->file));
				if (f->line)
					put_u64(fo, "line", f->line);
				if (f->inlined)
					json_object_object_add(fo, "inlined", json_object_new_boolean(1));
				json_object_array_add(fa, fo);
			}
			json_object_object_add(o, "frames", fa);
			json_object_array_add(arr, o);
		}
		json_object_object_add(root, "sites", arr);
	}
	if (r->has_stacks) {
		json_object *st = json_object_new_object();
		for (size_t i = 0; i < r->nstacks; i++)
			put_u64(st, r->stacks[i].name, r->stacks[i].v);
		json_object_object_add(st, "shallow_warning",
		                       json_object_new_boolean(r->stacks_shallow_warning));
		json_object_object_add(root, "stacks", st);
	}
	if (r->has_timeline && r->timeline_json) {
		json_object_object_add(root, "timeline", json_object_get(r->timeline_json));
	} else if (r->has_timeline) {
		json_object *tl = json_object_new_object();
		json_object_object_add(tl, "unit", json_object_new_string(r->timeline_unit));
		json_object *pts = json_object_new_array();
		for (size_t i = 0; i < r->npoints; i++) {
			json_object *p = json_object_new_array();
			json_object_array_add(p, json_object_new_uint64(r->points[i].t));
			json_object_array_add(p, json_object_new_uint64(r->points[i].live));
			json_object_array_add(p, json_object_new_uint64(r->points[i].rss));
			json_object_array_add(pts, p);
		}
		json_object_object_add(tl, "points", pts);
		json_object_object_add(root, "timeline", tl);
	}
	if (r->nfiles > 1) {
		json_object *m = json_object_new_object();
		put_u64(m, "reports", r->nfiles);
		json_object *pids = json_object_new_array();
		for (size_t i = 0; i < r->npids; i++)
			json_object_array_add(pids, json_object_new_uint64(r->pids[i]));
		json_object_object_add(m, "pids", pids);
		json_object_object_add(m, "peaks",
		                       json_object_new_string("sum of each process's peak"));
		json_object_object_add(root, "merged", m);
	}
	char *out = mt_xstrdup(json_object_to_json_string_ext(root,
		JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return out;
}
