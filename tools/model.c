/* SPDX-License-Identifier: Apache-2.0 */
/*
 * model.c: the report in memory (model.h) and what every part of the model
 * shares: the names of calls[], the "stacks" members, freeing a report.
 * Loading is in model_load.c, site keys and frame names in model_sitekey.c,
 * the command line's report files in model_paths.c, merging and the site
 * index in model_merge.c, writing JSON in model_json.c.
 */
#include "model.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

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

void mt_stacks_add(struct mt_report *r, const char *name, uint64_t v)
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

bool mt_report_sampled(const struct mt_report *r)
{
	return r->cfg_sample_bytes > 0;
}

void mt_report_add_rate(struct mt_report *r, uint64_t rate)
{
	size_t i = 0;
	while (i < r->nrates && r->rates[i] < rate)
		i++;
	if (i < r->nrates && r->rates[i] == rate)
		return;
	r->rates = mt_xrealloc(r->rates, (r->nrates + 1) * sizeof *r->rates);
	memmove(r->rates + i + 1, r->rates + i, (r->nrates - i) * sizeof *r->rates);
	r->rates[i] = rate;
	r->nrates++;
}

/* "512 KiB" for whole binary units, else as mt_human. */
static void rate_text(uint64_t v, char *buf, size_t cap)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB" };
	unsigned u = 0;
	uint64_t x = v;
	while (u < 3 && x >= 1024 && x % 1024 == 0)
		x /= 1024, u++;
	if (u || v < 1024)
		snprintf(buf, cap, "%llu %s", (unsigned long long)x, units[u]);
	else
		mt_human(v, buf, cap);
}

char *mt_rates_text(const struct mt_report *r)
{
	char *out = mt_xstrdup("");
	bool exact = false;
	size_t shown = 0;
	for (size_t i = 0; i < r->nrates; i++) {
		if (!r->rates[i]) {
			exact = true;
			continue;
		}
		char b[32];
		rate_text(r->rates[i], b, sizeof b);
		char *n = mt_xasprintf("%s%s%s", out, shown ? " or " : "", b);
		free(out);
		out = n;
		shown++;
	}
	if (!shown) { /* a report that says it is sampled without a rate list */
		char b[32];
		rate_text(r->cfg_sample_bytes, b, sizeof b);
		free(out);
		out = mt_xstrdup(b);
	}
	if (exact) {
		char *n = mt_xasprintf("%s, some reports exact", out);
		free(out);
		out = n;
	}
	return out;
}

void mt_site_noise(struct mt_site *s)
{
	s->var_bytes = s->var_blocks = 0;
	if (!s->estimated || !s->samples)
		return;
	double n = (double)s->samples, N = (double)s->blocks;
	double q = N > n ? 1.0 - n / N : 0.0;
	double rel = q / n;
	s->var_bytes = (double)s->bytes * (double)s->bytes * rel;
	s->var_blocks = N * N * rel;
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
	free(r->rates);
	mt_strindex_free(r->idx);
	free(r->path);
	free(r->cmd);
	free(r->tool);
	free(r->ended_by);
	free(r->signal);
	free(r);
}
