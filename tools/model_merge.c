/* SPDX-License-Identifier: Apache-2.0 */
/*
 * model_merge.c: several reports as one.  mt_report_merge sums totals,
 * calls and site numbers into a destination and merges sites by key (the
 * site index, also behind mt_report_find, lives here);
 * mt_report_load_merged loads the command line's files, counts each process
 * image once whatever the number of copies given, folds a single report's
 * sites of equal keys, and sorts the sites by bytes.  Peaks become the sum
 * of each process's peak; timelines are dropped (see model.h).
 */
#include "model.h"

#include <stdlib.h>
#include <string.h>

#include "strindex.h"
#include "util.h"

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
	/* Independent estimates: their sum is unbiased, and variances add. */
	d->samples += s->samples;
	d->estimated |= s->estimated;
	d->var_bytes += s->var_bytes;
	d->var_blocks += s->var_blocks;
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
	/* Sampled and exact reports, or several rates, merge: estimates are additive. */
	for (size_t i = 0; i < s->nrates; i++)
		mt_report_add_rate(d, s->rates[i]);
	if (s->cfg_sample_bytes && !d->cfg_sample_bytes)
		d->cfg_sample_seed = s->cfg_sample_seed;
	if (s->cfg_sample_bytes > d->cfg_sample_bytes)
		d->cfg_sample_bytes = s->cfg_sample_bytes;
	if (s->has_stacks) {
		d->has_stacks = true;
		for (size_t i = 0; i < s->nstacks; i++)
			mt_stacks_add(d, s->stacks[i].name, s->stacks[i].v);
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
	n->live = r->live;
	n->recovered = r->recovered;
	n->ended_by = r->ended_by;
	n->signal = r->signal;
	r->ended_by = r->signal = NULL;
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
