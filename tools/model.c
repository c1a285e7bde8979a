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
	free(r->ended_by);
	free(r->signal);
	free(r);
}
