/* SPDX-License-Identifier: Apache-2.0 */
/*
 * model_json.c: a report (one, or several merged) written back as a
 * modalloc JSON report, version 1, with the keys the library writes,
 * readable again by every subcommand.  A merged report
 * says so in "merged" (files, pids, what its peaks mean); a single report's
 * timeline is written back as it was read.
 */
#include "model.h"

#include <json-c/json.h>
#include <stdlib.h>

#include "util.h"

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
	if (r->signal && r->nfiles <= 1)
		json_object_object_add(root, "signal", json_object_new_string(r->signal));
	if (r->live)
		json_object_object_add(root, "live", json_object_new_boolean(1));
	if (r->recovered && r->nfiles <= 1)
		json_object_object_add(root, "recovered", json_object_new_boolean(1));
	if (r->ended_by && r->nfiles <= 1)
		json_object_object_add(root, "ended_by", json_object_new_string(r->ended_by));
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
		if (r->cfg_sample_bytes) {
			put_u64(cfg, "sample_bytes", r->cfg_sample_bytes);
			put_u64(cfg, "sample_seed", r->cfg_sample_seed);
		}
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
			if (mt_report_sampled(r))
				put_u64(o, "samples", s->samples);
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
		/* The rates merged (0: an exact report) when they are not all one. */
		if (r->nrates > 1) {
			json_object *ra = json_object_new_array();
			for (size_t i = 0; i < r->nrates; i++)
				json_object_array_add(ra, json_object_new_uint64(r->rates[i]));
			json_object_object_add(m, "sample_bytes", ra);
		}
		json_object_object_add(m, "peaks",
		                       json_object_new_string("sum of each process's peak"));
		json_object_object_add(root, "merged", m);
	}
	char *out = mt_xstrdup(json_object_to_json_string_ext(root,
		JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return out;
}
