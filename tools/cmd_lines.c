/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_lines.c: `modalloc lines [-o OUT] FILE`: adds file:line, from the
 * binaries' DWARF (srcloc.c), to a JSON report or a DHAT file, and expands
 * calls made inside inlined functions into one frame per inlined function,
 * innermost first, all with the call's ip (as Valgrind shows them).
 *
 * A report's frames carry the module's ELF vaddr ("offset"); a DHAT frame
 * string carries only the runtime address, so the module's load bias comes
 * from the JSON report of the same process when there is one (--report,
 * exact) and otherwise from the frames' function names (srcloc.h).
 *
 * Everything the command does not understand is kept: unknown keys, frames
 * of missing modules or without DWARF.  Running it twice changes nothing
 * more (a report's inlined frames are derived again, a DHAT frame that
 * already shows file:line names no module and stays).
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "model.h"
#include "srcloc.h"
#include "strindex.h"
#include "util.h"

static const char usage[] =
	"usage: modalloc lines [-o OUT] [--report REPORT] [--] FILE\n"
	"Adds source file and line, read from the binaries' DWARF debug info\n"
	"(in the binary or a separate debug file: .gnu_debuglink,\n"
	"/usr/lib/debug/.build-id, or the debuginfod servers of DEBUGINFOD_URLS),\n"
	"to the frames of a JSON report or a DHAT file, and names the frames the\n"
	"library left as ?? from the modules' symbol tables (a debug file's, or the\n"
	"MiniDebugInfo in .gnu_debugdata).\n"
	"A call made inside inlined functions becomes one frame per inlined\n"
	"function, innermost first, with the same address. Frames of modules that\n"
	"are gone or have no DWARF stay as they are. The binaries must be the ones\n"
	"that ran: a rebuilt module gives wrong lines.\n"
	"\n"
	"  -o, --output OUT   where to write (default: rewrite FILE in place; - = stdout)\n"
	"  --report REPORT    for a DHAT file: the JSON report of the same process,\n"
	"                     for exact module offsets (default: modalloc.<pid>.json\n"
	"                     beside FILE when FILE is dhat.<pid>.json and its pid\n"
	"                     agrees; else offsets are inferred from function names)\n"
	"  -h, --help         this help\n";

struct counts {
	size_t frames, annotated, inlined, named;
};

/* A frame the library could not name ("??": a stripped module, a static function). */
static bool unnamed(const char *function)
{
	return !function || strcmp(function, "??") == 0;
}

static json_object *member(json_object *o, const char *k)
{
	json_object *v = NULL;
	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, k, &v))
		return NULL;
	return v;
}

static const char *str_member(json_object *o, const char *k)
{
	json_object *v = member(o, k);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* ---- JSON reports ------------------------------------------------------ */

static void put_loc(json_object *f, const struct mt_srcframe *s)
{
	if (s->file)
		json_object_object_add(f, "file", json_object_new_string(s->file));
	if (s->line)
		json_object_object_add(f, "line", json_object_new_int64(s->line));
}

static json_object *annotate_frames(json_object *frames, struct mt_srcloc *sl, struct counts *c)
{
	json_object *out = json_object_new_array();
	size_t n = json_object_array_length(frames);
	for (size_t i = 0; i < n; i++) {
		json_object *f = json_object_array_get_idx(frames, i);
		json_object *inl = member(f, "inlined");
		if (inl && json_object_get_boolean(inl))
			continue; /* derived again below */
		json_object_object_del(f, "file");
		json_object_object_del(f, "line");
		c->frames++;
		const char *module = str_member(f, "module");
		uint64_t off;
		const struct mt_srcframe *sf = NULL;
		bool have = module && mt_parse_hex(str_member(f, "offset"), &off) == 0;
		size_t ns = have ? mt_srcloc_lookup(sl, module, off, &sf) : 0;
		const char *sym;
		if (have && unnamed(str_member(f, "function")) &&
		    (sym = mt_srcloc_function(sl, module, off)) != NULL) {
			json_object_object_add(f, "function", json_object_new_string(sym));
			c->named++;
		}
		for (size_t k = 0; k + 1 < ns; k++) {
			json_object *x = json_object_new_object();
			const char *keys[] = { "ip", "module", "offset" };
			for (size_t j = 0; j < 3; j++) {
				json_object *v = member(f, keys[j]);
				if (v)
					json_object_object_add(x, keys[j], json_object_get(v));
			}
			json_object_object_add(x, "function", json_object_new_string(sf[k].function));
			put_loc(x, &sf[k]);
			json_object_object_add(x, "inlined", json_object_new_boolean(1));
			json_object_array_add(out, x);
			c->inlined++;
		}
		if (ns) {
			put_loc(f, &sf[ns - 1]);
			if (sf[ns - 1].file)
				c->annotated++;
		}
		json_object_array_add(out, json_object_get(f));
	}
	return out;
}

static void annotate_report(json_object *root, struct mt_srcloc *sl, struct counts *c)
{
	json_object *sites = member(root, "sites");
	size_t n = json_object_is_type(sites, json_type_array) ? json_object_array_length(sites) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(sites, i);
		json_object *frames = member(s, "frames");
		if (json_object_is_type(frames, json_type_array))
			json_object_object_add(s, "frames", annotate_frames(frames, sl, c));
	}
	json_object *l = json_object_new_object();
	json_object_object_add(l, "annotated", json_object_new_uint64(c->annotated));
	json_object_object_add(l, "frames", json_object_new_uint64(c->frames));
	json_object_object_add(l, "inlined", json_object_new_uint64(c->inlined));
	json_object_object_add(root, "lines", l);
}

/* ---- DHAT files -------------------------------------------------------- */

struct dframe {
	const char *text;  /* the ftbl string */
	bool parsed;       /* "0xADDR: function (in /module)" */
	uint64_t ip;
	char *function, *module;
	uint32_t *to;      /* new ftbl indices, innermost first */
	size_t nto;
};

/* Splits "0xADDR: function (in /module)"; false for anything else. */
static bool parse_dframe(struct dframe *d)
{
	const char *s = d->text, *colon = strstr(s, ": ");
	const char *in = NULL;
	for (const char *p = s; (p = strstr(p, " (in ")); p++)
		in = p;
	size_t len = strlen(s);
	if (!colon || !in || in < colon || len < 2 || s[len - 1] != ')')
		return false;
	char *hex = mt_xasprintf("%.*s", (int)(colon - s), s);
	bool ok = mt_parse_hex(hex, &d->ip) == 0;
	free(hex);
	if (!ok)
		return false;
	d->function = mt_xasprintf("%.*s", (int)(in - colon - 2), colon + 2);
	d->module = mt_xasprintf("%.*s", (int)(s + len - 1 - (in + 5)), in + 5);
	return d->parsed = true;
}

/* Interned strings of the new ftbl (the index borrows the strings in v). */
struct strset {
	char **v;
	size_t n;
	struct mt_strindex *index; /* string -> index in v */
};

static uint32_t intern(struct strset *t, char *s)
{
	size_t i;
	if (mt_strindex_get(t->index, s, &i)) {
		free(s);
		return (uint32_t)i;
	}
	t->v = mt_xrealloc(t->v, (t->n + 1) * sizeof *t->v);
	t->v[t->n] = s;
	mt_strindex_add(t->index, s, t->n);
	return (uint32_t)t->n++;
}

/* ip -> offset of every frame in the JSON report of the same process. */
struct ipmap {
	uint64_t *ip, *off;
	char **module;
	size_t n;
};

static void ipmap_load(struct ipmap *m, const struct mt_report *r)
{
	for (size_t i = 0; i < r->nsites; i++)
		for (size_t j = 0; j < r->sites[i].nframes; j++) {
			const struct mt_frame *f = &r->sites[i].frames[j];
			uint64_t ip, off;
			if (f->inlined || mt_parse_hex(f->ip, &ip) < 0 || mt_parse_hex(f->offset, &off) < 0)
				continue;
			m->ip = mt_xrealloc(m->ip, (m->n + 1) * sizeof *m->ip);
			m->off = mt_xrealloc(m->off, (m->n + 1) * sizeof *m->off);
			m->module = mt_xrealloc(m->module, (m->n + 1) * sizeof *m->module);
			m->ip[m->n] = ip;
			m->off[m->n] = off;
			m->module[m->n++] = f->module;
		}
}

/* The frame's vaddr from the report: its own ip, else any frame of its module. */
static bool ipmap_vaddr(const struct ipmap *m, const struct dframe *d, uint64_t *vaddr)
{
	size_t any = SIZE_MAX;
	for (size_t i = 0; i < m->n; i++) {
		if (strcmp(m->module[i], d->module) != 0)
			continue;
		if (m->ip[i] == d->ip) {
			*vaddr = m->off[i];
			return true;
		}
		any = i;
	}
	if (any == SIZE_MAX)
		return false;
	*vaddr = d->ip - (m->ip[any] - m->off[any]);
	return true;
}

/* The vaddr of every parsed frame (ok[i] false when unknown). */
static void dhat_vaddrs(struct dframe *d, size_t n, struct mt_srcloc *sl,
                        const struct ipmap *m, uint64_t *vaddr, bool *ok)
{
	for (size_t i = 0; i < n; i++)
		ok[i] = d[i].parsed && m && ipmap_vaddr(m, &d[i], &vaddr[i]);
	bool *done = mt_xcalloc(n, sizeof *done);
	uint64_t *ips = mt_xcalloc(n, sizeof *ips);
	const char **fns = mt_xcalloc(n, sizeof *fns);
	for (size_t i = 0; i < n; i++) {
		if (!d[i].parsed || ok[i] || done[i])
			continue;
		/* Every frame of this module votes for its load bias. */
		size_t k = 0;
		for (size_t j = i; j < n; j++)
			if (d[j].parsed && strcmp(d[j].module, d[i].module) == 0) {
				ips[k] = d[j].ip;
				fns[k++] = d[j].function;
			}
		uint64_t bias;
		bool have = mt_srcloc_guess_bias(sl, d[i].module, k, ips, fns, &bias);
		for (size_t j = i; j < n; j++)
			if (d[j].parsed && !ok[j] && strcmp(d[j].module, d[i].module) == 0) {
				done[j] = true;
				if (have) {
					vaddr[j] = d[j].ip - bias;
					ok[j] = true;
				}
			}
	}
	free(done);
	free(ips);
	free(fns);
}

static char *dframe_text(const struct dframe *d, const char *function,
                         const struct mt_srcframe *s)
{
	if (s->file)
		return mt_xasprintf("0x%llX: %s (%s:%u)", (unsigned long long)d->ip, function,
		                    mt_basename(s->file), s->line);
	return mt_xasprintf("0x%llX: %s (in %s)", (unsigned long long)d->ip, function, d->module);
}

struct pp {
	json_object *o;
	uint32_t *fs;
	size_t n;
	uint64_t hash;
	bool dead;
};

static const char *const pp_counters[] = { "tb", "tbk", "tl", "mb", "mbk", "gb", "gbk", "eb", "ebk" };

static void merge_pp(json_object *dst, json_object *src)
{
	/* Sums; "mb"/"mbk" become an upper bound (the two maxima may not coincide). */
	for (size_t i = 0; i < sizeof pp_counters / sizeof pp_counters[0]; i++) {
		json_object *a = member(dst, pp_counters[i]), *b = member(src, pp_counters[i]);
		if (a && b && json_object_is_type(a, json_type_int) && json_object_is_type(b, json_type_int))
			json_object_object_add(dst, pp_counters[i],
			                       json_object_new_int64(json_object_get_int64(a) +
			                                             json_object_get_int64(b)));
	}
}

/* Writes the DHAT object as the library lays it out: one program point, one frame a line. */
static void write_dhat(FILE *f, json_object *root)
{
	const int fl = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
	bool first = true;
	fputc('{', f);
	json_object_object_foreach(root, k, v) {
		if (!first)
			fputc(',', f);
		first = false;
		json_object *key = json_object_new_string(k);
		fprintf(f, "%s:", json_object_to_json_string_ext(key, fl));
		json_object_put(key);
		if ((strcmp(k, "pps") == 0 || strcmp(k, "ftbl") == 0) &&
		    json_object_is_type(v, json_type_array)) {
			fputs("\n[", f);
			size_t n = json_object_array_length(v);
			for (size_t i = 0; i < n; i++)
				fprintf(f, "%s%s", i ? "\n," : "",
				        json_object_to_json_string_ext(json_object_array_get_idx(v, i), fl));
			fputs("\n]\n", f);
		} else {
			fputs(json_object_to_json_string_ext(v, fl), f);
		}
	}
	fputs("}\n", f);
}

static bool annotate_dhat(json_object *root, const char *path, struct mt_srcloc *sl,
                          const struct mt_report *rep, struct counts *c)
{
	json_object *ftbl = member(root, "ftbl"), *pps = member(root, "pps");
	if (!json_object_is_type(ftbl, json_type_array) || !json_object_is_type(pps, json_type_array)) {
		mt_err("%s: not a DHAT file (\"pps\" or \"ftbl\" is missing)", path);
		return false;
	}
	size_t nf = json_object_array_length(ftbl), np = json_object_array_length(pps);
	if (!nf || !json_object_is_type(json_object_array_get_idx(ftbl, 0), json_type_string) ||
	    strcmp(json_object_get_string(json_object_array_get_idx(ftbl, 0)), "[root]") != 0) {
		mt_err("%s: not a DHAT file (ftbl[0] is not \"[root]\")", path);
		return false;
	}
	struct pp *pp = mt_xcalloc(np, sizeof *pp);
	struct dframe *d = mt_xcalloc(nf, sizeof *d);
	uint64_t *vaddr = mt_xcalloc(nf, sizeof *vaddr);
	bool *ok = mt_xcalloc(nf, sizeof *ok), good = true;
	for (size_t i = 0; i < nf && good; i++) {
		json_object *s = json_object_array_get_idx(ftbl, i);
		if (!json_object_is_type(s, json_type_string)) {
			mt_err("%s: ftbl[%zu] is not a string", path, i);
			good = false;
			break;
		}
		d[i].text = json_object_get_string(s);
		if (i)
			parse_dframe(&d[i]);
	}
	for (size_t i = 0; i < np && good; i++) {
		json_object *o = json_object_array_get_idx(pps, i), *fs = member(o, "fs");
		if (!json_object_is_type(fs, json_type_array)) {
			mt_err("%s: pps[%zu].fs is missing or not an array", path, i);
			good = false;
			break;
		}
		for (size_t k = 0; k < json_object_array_length(fs); k++) {
			json_object *x = json_object_array_get_idx(fs, k);
			int64_t ix = json_object_is_type(x, json_type_int) ? json_object_get_int64(x) : -1;
			if (ix < 0 || (uint64_t)ix >= nf) {
				mt_err("%s: pps[%zu].fs[%zu] is not an index into ftbl", path, i, k);
				good = false;
				break;
			}
		}
	}
	if (good) {
		struct ipmap m = { 0 };
		if (rep)
			ipmap_load(&m, rep);
		dhat_vaddrs(d, nf, sl, rep ? &m : NULL, vaddr, ok);
		free(m.ip);
		free(m.off);
		free(m.module);

		/* The new frame table: [root], then each old frame's expansion. */
		struct strset t = { .index = mt_strindex_new() };
		intern(&t, mt_xstrdup("[root]"));
		for (size_t i = 1; i < nf; i++) {
			const struct mt_srcframe *sf = NULL;
			size_t ns = ok[i] ? mt_srcloc_lookup(sl, d[i].module, vaddr[i], &sf) : 0;
			const char *sym;
			bool named = ok[i] && unnamed(d[i].function) &&
			             (sym = mt_srcloc_function(sl, d[i].module, vaddr[i])) != NULL;
			if (named) {
				free(d[i].function);
				d[i].function = mt_xstrdup(sym);
				c->named++;
			}
			c->frames++;
			if (!ns) {
				static const struct mt_srcframe none = { 0 };
				d[i].to = mt_xmalloc(sizeof *d[i].to);
				d[i].to[d[i].nto++] = intern(&t, named ? dframe_text(&d[i], d[i].function, &none)
				                                       : mt_xstrdup(d[i].text));
				continue;
			}
			d[i].to = mt_xcalloc(ns, sizeof *d[i].to);
			for (size_t k = 0; k < ns; k++) {
				const char *fn = k + 1 < ns ? sf[k].function : d[i].function;
				d[i].to[d[i].nto++] = intern(&t, dframe_text(&d[i], fn, &sf[k]));
			}
			c->inlined += ns - 1;
			if (sf[ns - 1].file)
				c->annotated++;
		}

		/* New frame lists; points whose lists now coincide merge. */
		json_object *npps = json_object_new_array();
		for (size_t i = 0; i < np; i++) {
			json_object *o = json_object_array_get_idx(pps, i), *fs = member(o, "fs");
			struct pp *p = &pp[i];
			p->o = o;
			p->hash = 7;
			for (size_t k = 0; k < json_object_array_length(fs); k++) {
				size_t ix = (size_t)json_object_get_int64(json_object_array_get_idx(fs, k));
				size_t cnt = ix ? d[ix].nto : 1;
				p->fs = mt_xrealloc(p->fs, (p->n + cnt) * sizeof *p->fs);
				for (size_t j = 0; j < cnt; j++) {
					p->fs[p->n] = ix ? d[ix].to[j] : 0;
					p->hash = p->hash * 1000003 + p->fs[p->n++];
				}
			}
			for (size_t j = 0; j < i && !p->dead; j++) {
				struct pp *q = &pp[j];
				if (q->dead || q->hash != p->hash || q->n != p->n ||
				    memcmp(q->fs, p->fs, p->n * sizeof *p->fs) != 0)
					continue;
				merge_pp(q->o, o);
				p->dead = true;
			}
		}
		for (size_t i = 0; i < np; i++) {
			if (pp[i].dead)
				continue;
			json_object *nfs = json_object_new_array();
			for (size_t k = 0; k < pp[i].n; k++)
				json_object_array_add(nfs, json_object_new_int64(pp[i].fs[k]));
			json_object_object_add(pp[i].o, "fs", nfs);
			json_object_array_add(npps, json_object_get(pp[i].o));
		}
		json_object *nftbl = json_object_new_array();
		for (size_t i = 0; i < t.n; i++) {
			json_object_array_add(nftbl, json_object_new_string(t.v[i]));
			free(t.v[i]);
		}
		free(t.v);
		mt_strindex_free(t.index);
		json_object_object_add(root, "pps", npps);
		json_object_object_add(root, "ftbl", nftbl);
	}
	for (size_t i = 0; i < np; i++)
		free(pp[i].fs);
	for (size_t i = 0; i < nf; i++) {
		free(d[i].function);
		free(d[i].module);
		free(d[i].to);
	}
	free(pp);
	free(d);
	free(vaddr);
	free(ok);
	return good;
}

/* ---- the command ------------------------------------------------------- */

/* modalloc.<pid>.json beside dhat.<pid>.json, when it exists. */
static char *companion_of(const char *path)
{
	const char *base = mt_basename(path);
	if (strncmp(base, "dhat.", 5) != 0)
		return NULL;
	char *c = mt_xasprintf("%.*smodalloc.%s", (int)(base - path), path, base + 5);
	if (access(c, R_OK) != 0) {
		free(c);
		return NULL;
	}
	return c;
}

static bool write_out(const char *in, const char *out, json_object *root, bool dhat)
{
	const char *dest = out ? out : in;
	struct stat st;
	bool exists = stat(dest, &st) == 0;
	/* A regular file is replaced through a file beside it and a rename, so
	 * that a reader never sees half of it; stdout, a device or a pipe is
	 * written directly (renaming over /dev/null would replace the device). */
	bool direct = (out && strcmp(out, "-") == 0) || (exists && !S_ISREG(st.st_mode));
	bool to_stdout = out && strcmp(out, "-") == 0;
	char *tmp = direct ? NULL : mt_xasprintf("%s.tmp.%ld", dest, (long)getpid());
	FILE *f = to_stdout ? stdout : fopen(direct ? dest : tmp, "w");
	if (!f) {
		mt_err("%s: %s", direct ? dest : tmp, strerror(errno));
		free(tmp);
		return false;
	}
	/* The replacement keeps the file's mode (the library writes reports 0600). */
	if (!direct && exists)
		fchmod(fileno(f), st.st_mode & 07777);
	if (dhat)
		write_dhat(f, root);
	else
		fprintf(f, "%s\n", json_object_to_json_string_ext(root,
			JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	bool okw = !ferror(f);
	errno = 0;
	if (to_stdout)
		okw = fflush(f) == 0 && okw;
	else
		okw = fclose(f) == 0 && okw;
	if (okw && !direct && rename(tmp, dest) != 0)
		okw = false;
	if (!okw) {
		mt_err("%s: %s", dest, strerror(errno ? errno : EIO));
		if (tmp)
			unlink(tmp);
	}
	free(tmp);
	return okw;
}

int mt_lines_rewrite(const char *in, const char *out, const char *report, bool quiet)
{
	struct stat st;
	if (stat(in, &st) == 0 && S_ISDIR(st.st_mode)) {
		mt_err("%s: is a directory", in);
		return 2;
	}
	size_t len;
	char *text = mt_read_file(in, &len);
	if (!text) {
		mt_err("%s: %s", in, strerror(errno));
		return 2;
	}
	json_tokener *tok = json_tokener_new();
	if (!tok)
		mt_die(2, "out of memory");
	json_object *root = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	for (size_t i = json_tokener_get_parse_end(tok); jerr == json_tokener_success && i < len; i++)
		if (!strchr(" \t\r\n", text[i]))
			jerr = json_tokener_error_parse_unexpected; /* extra data: the loader says so */
	json_tokener_free(tok);
	free(text);
	int rc = 2;
	bool dhat = jerr == json_tokener_success && member(root, "dhatFileVersion") != NULL;
	struct mt_report *rep = NULL;
	if (jerr != json_tokener_success || !dhat) {
		/* Not a DHAT file: the report loader's message names what is wrong. */
		struct mt_report *r = mt_report_load(in);
		if (!r)
			goto done;
		mt_report_free(r);
	} else {
		char *comp = report ? NULL : companion_of(in);
		const char *rp = report ? report : comp;
		if (rp) {
			rep = mt_report_load(rp);
			json_object *pid = member(root, "pid");
			bool same = rep && pid && json_object_get_uint64(pid) == rep->pid;
			if (report && !rep) {
				free(comp);
				goto done;
			}
			if (report && !same) {
				mt_err("%s: not the report of the DHAT file's process (pid differs)", report);
				free(comp);
				goto done;
			}
			if (!same) {
				mt_report_free(rep);
				rep = NULL;
			}
		}
		free(comp);
	}
	struct mt_srcloc *sl = mt_srcloc_new();
	struct counts c = { 0 };
	bool okr = true;
	if (dhat)
		okr = annotate_dhat(root, in, sl, rep, &c);
	else
		annotate_report(root, sl, &c);
	mt_srcloc_free(sl);
	if (okr && write_out(in, out, root, dhat)) {
		rc = 0;
		if (!quiet && c.named)
			fprintf(stderr, MT_PROG ": %s: %zu of %zu frames with file:line, %zu inlined frames added, "
			        "%zu functions named\n", in, c.annotated, c.frames, c.inlined, c.named);
		else if (!quiet)
			fprintf(stderr, MT_PROG ": %s: %zu of %zu frames with file:line, %zu inlined frames added\n",
			        in, c.annotated, c.frames, c.inlined);
	}
done:
	mt_report_free(rep);
	if (root)
		json_object_put(root);
	return rc;
}

int mt_cmd_lines(int argc, char **argv)
{
	const char *out = NULL, *report = NULL;
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "report", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = mt_getopt(argc, argv, ":ho:", longopts, "lines", usage)) != -1) {
		if (c == 'o')
			out = optarg;
		else if (c == 'r')
			report = optarg;
	}
	mt_need_files("lines", argc, true);
	const char *file = argv[optind];
	if (out && !*out)
		mt_die(2, "lines: --output: empty file name");
	return mt_lines_rewrite(file, out, report, false);
}
