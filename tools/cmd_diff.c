/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_diff.c: `modalloc diff OLD NEW`: totals and call sites compared by stack (see model.h). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "model.h"
#include "util.h"

static const char usage[] =
	"usage: modalloc diff [--top N] [--] OLD NEW\n"
	"Compares two reports (or two directories of reports, each merged).\n"
	"Prints the totals of both and their change, then the call sites whose\n"
	"allocations changed, sorted by the absolute change in bytes. Sites are\n"
	"matched by module and offset of every frame (the same in every run of a\n"
	"binary), then the rest by module and function, so two builds compare too.\n"
	"\n"
	"Sampled reports (MOD_ALLOC_SAMPLE): site figures are estimates (\"~\"); a\n"
	"change within twice its standard deviation (the sampling noise of both\n"
	"estimates, from the samples behind them) is not counted as a change.\n"
	"\n"
	"  --top N      call sites listed (default 20; 0 = all)\n"
	"  -h, --help   this help\n";

struct change {
	const struct mt_site *old, *new;
	int64_t dbytes, dblocks;
};

/*
 * A site missing from a sampled report may just have drawn no sample: its
 * estimate there is 0, with the Poisson variance of the other side's figure
 * X at that report's rate B: bytes X*B, blocks N*N*B/X (n ~ Poisson(X/B)).
 */
static void absent_noise(const struct mt_site *other, uint64_t rate, double *vb, double *vk)
{
	if (!rate || !other->bytes)
		return;
	*vb += (double)other->bytes * (double)rate;
	*vk += (double)other->blocks * (double)other->blocks * (double)rate / (double)other->bytes;
}

/*
 * A change that sampling alone could make: both differences within twice
 * their standard deviation, the variances of the two estimates summed
 * (independent samples; exact figures add 0).
 */
static bool within_noise(const struct change *c, const struct mt_report *o,
                         const struct mt_report *n)
{
	double vb = (c->old ? c->old->var_bytes : 0) + (c->new ? c->new->var_bytes : 0);
	double vk = (c->old ? c->old->var_blocks : 0) + (c->new ? c->new->var_blocks : 0);
	if (!c->old)
		absent_noise(c->new, o->cfg_sample_bytes, &vb, &vk);
	if (!c->new)
		absent_noise(c->old, n->cfg_sample_bytes, &vb, &vk);
	if (vb <= 0 && vk <= 0)
		return false;
	double db = (double)c->dbytes, dk = (double)c->dblocks;
	return db * db <= 4.0 * vb && dk * dk <= 4.0 * vk;
}

static bool estimated(const struct change *c)
{
	return (c->old && c->old->estimated) || (c->new && c->new->estimated);
}

/* "sampled every 512 KiB (1,234 samples)" or "exact". */
static char *how_sampled(const struct mt_report *r)
{
	if (!mt_report_sampled(r))
		return mt_xstrdup("exact");
	char *rates = mt_rates_text(r), g[32];
	uint64_t n = mt_stacks_get(r, "samples");
	for (size_t i = 0; !n && i < r->nsites; i++)
		n += r->sites[i].samples;
	char *out = mt_xasprintf("sampled every %s (%s samples)", rates, mt_grouped(n, g, sizeof g));
	free(rates);
	return out;
}

static int64_t delta(uint64_t a, uint64_t b)
{
	return (int64_t)(b - a); /* two's complement: right for any |change| < 2^63 */
}

static uint64_t mag(int64_t v)
{
	return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

static int cmp_change(const void *a, const void *b)
{
	const struct change *x = a, *y = b;
	if (mag(x->dbytes) != mag(y->dbytes))
		return mag(x->dbytes) > mag(y->dbytes) ? -1 : 1;
	if (mag(x->dblocks) != mag(y->dblocks))
		return mag(x->dblocks) > mag(y->dblocks) ? -1 : 1;
	const struct mt_site *sx = x->new ? x->new : x->old, *sy = y->new ? y->new : y->old;
	return strcmp(sx->key, sy->key);
}

static const char *percent(uint64_t old, uint64_t new, char *buf, size_t cap)
{
	if (old == new)
		buf[0] = '\0';
	else if (!old)
		snprintf(buf, cap, "(new)");
	else
		snprintf(buf, cap, "(%+.0f%%)", round(((double)new - (double)old) * 100.0 / (double)old));
	return buf;
}

static void row(const char *name, uint64_t old, uint64_t new, bool bytes)
{
	char a[32], b[32], c[32], p[32];
	if (bytes) {
		mt_human(old, a, sizeof a);
		mt_human(new, b, sizeof b);
		mt_human_signed(delta(old, new), c, sizeof c);
	} else {
		mt_grouped(old, a, sizeof a);
		mt_grouped(new, b, sizeof b);
		char g[32];
		int64_t d = delta(old, new);
		snprintf(c, sizeof c, "%s%s", d > 0 ? "+" : d < 0 ? "-" : "", mt_grouped(mag(d), g, sizeof g));
	}
	percent(old, new, p, sizeof p);
	printf("  %-16s %14s %14s %14s%s%s\n", name, a, b, c, *p ? " " : "", p);
}

static struct mt_report *load_one(const char *arg)
{
	char **paths;
	char *args[1] = { (char *)arg };
	size_t n = mt_expand_paths(args, 1, &paths);
	struct mt_report *r = mt_report_load_merged(paths, n);
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	return r;
}

int mt_cmd_diff(int argc, char **argv)
{
	uint64_t top = 20;
	static const struct option longopts[] = {
		{ "top", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	while ((opt = mt_getopt(argc, argv, ":h", longopts, "diff", usage)) != -1)
		if (opt == 't' && mt_parse_u64(optarg, &top))
			mt_die(2, "--top: '%s' is not a number", optarg);
	if (argc - optind != 2)
		mt_die(2, "diff: takes exactly two reports, OLD and NEW (see modalloc diff --help)");
	const char *files[2] = { argv[optind], argv[optind + 1] };
	struct mt_report *o = load_one(files[0]);
	if (!o)
		return 2;
	struct mt_report *n = load_one(files[1]);
	if (!n) {
		mt_report_free(o);
		return 2;
	}

	char fo[48], fn[48];
	printf("modalloc diff: %s -> %s\n", mt_trunc(files[0], 40, fo, sizeof fo),
	       mt_trunc(files[1], 40, fn, sizeof fn));
	printf("  %-16s %14s %14s %14s\n", "", "old", "new", "change");
	const struct mt_totals *a = &o->totals, *b = &n->totals;
	row("allocated bytes", a->bytes, b->bytes, true);
	row("allocated blocks", a->blocks, b->blocks, false);
	row("freed bytes", a->freed_bytes, b->freed_bytes, true);
	row("frees", a->frees, b->frees, false);
	row("peak bytes", a->peak_bytes, b->peak_bytes, true);
	row("peak blocks", a->peak_blocks, b->peak_blocks, false);
	row("leaked bytes", a->live_bytes, b->live_bytes, true);
	row("leaked blocks", a->live_blocks, b->live_blocks, false);
	row("RSS peak", a->rss_peak_bytes, b->rss_peak_bytes, true);
	bool sampled = mt_report_sampled(o) || mt_report_sampled(n);
	if (sampled && o->has_sites && n->has_sites) {
		char *ho = how_sampled(o), *hn = how_sampled(n);
		printf("\nCall sites are sampled: their figures are estimates (~), the totals exact.\n"
		       "  OLD: %s\n  NEW: %s\n", ho, hn);
		free(ho);
		free(hn);
	}

	if (!o->has_sites || !n->has_sites) {
		printf("\nNo call-site comparison: %s.\n",
		       !o->has_sites && !n->has_sites ? "neither report has call sites"
		       : !o->has_sites               ? "OLD has no call sites"
		                                     : "NEW has no call sites");
		goto out;
	}
	/*
	 * Sites pair by exact stack (module + offset of every frame); those left
	 * over on both sides then pair by function (two builds of a program
	 * move its code), in order of bytes.  The rest are new or gone.
	 */
	struct change *ch = mt_xcalloc(o->nsites + n->nsites, sizeof *ch);
	const struct mt_site **pair = mt_xcalloc(n->nsites + 1, sizeof *pair);
	bool *old_used = mt_xcalloc(o->nsites + 1, sizeof *old_used);
	for (size_t i = 0; i < n->nsites; i++) {
		pair[i] = mt_report_find(o, n->sites[i].key);
		if (pair[i])
			old_used[pair[i] - o->sites] = true;
	}
	for (size_t i = 0; i < n->nsites; i++) {
		if (pair[i] || mt_report_find(o, n->sites[i].key))
			continue;
		for (size_t j = 0; j < o->nsites; j++) {
			if (old_used[j] || mt_report_find(n, o->sites[j].key) ||
			    strcmp(o->sites[j].fkey, n->sites[i].fkey) != 0)
				continue;
			pair[i] = &o->sites[j];
			old_used[j] = true;
			break;
		}
	}
	size_t nch = 0, unchanged = 0, noise = 0;
	for (size_t i = 0; i < n->nsites; i++) {
		const struct mt_site *s = &n->sites[i], *old = pair[i];
		struct change c = { old, s, delta(old ? old->bytes : 0, s->bytes),
		                    delta(old ? old->blocks : 0, s->blocks) };
		if (!c.dbytes && !c.dblocks)
			unchanged++;
		else if (within_noise(&c, o, n))
			noise++;
		else
			ch[nch++] = c;
	}
	for (size_t i = 0; i < o->nsites; i++) {
		const struct mt_site *s = &o->sites[i];
		if (old_used[i])
			continue;
		struct change c = { s, NULL, delta(s->bytes, 0), delta(s->blocks, 0) };
		if (!c.dbytes && !c.dblocks)
			unchanged++;
		else if (within_noise(&c, o, n))
			noise++;
		else
			ch[nch++] = c;
	}
	free(pair);
	free(old_used);
	qsort(ch, nch, sizeof *ch, cmp_change);
	size_t shown = top && top < nch ? (size_t)top : nch;
	const char *beyond = sampled ? " beyond sampling noise" : "";
	if (nch)
		printf("\n%zu call site%s changed%s, %zu unchanged; by change in bytes:\n", nch,
		       nch == 1 ? "" : "s", beyond, unchanged);
	else
		printf("\nNo call site changed%s (%zu unchanged).\n", beyond, unchanged);
	if (sampled)
		printf("(%zu more within sampling noise, 2 standard deviations of the estimates\n"
		       "from the samples behind them: not listed)\n", noise);
	if (nch)
		printf("  %11s %7s %10s  %s\n", "bytes", "", "blocks", "site (callers to the right)");
	char **stacks = mt_xcalloc(shown + 1, sizeof *stacks);
	for (size_t i = 0; i < shown; i++)
		stacks[i] = mt_site_stack_line(ch[i].new ? ch[i].new : ch[i].old, 6);
	for (size_t i = 0; i < shown; i++) {
		const struct change *c = &ch[i];
		const struct mt_site *s = c->new ? c->new : c->old;
		char d[32], p[32], g[32], blk[40], st[64];
		snprintf(blk, sizeof blk, "%s%s%s", estimated(c) ? "~" : "",
		         c->dblocks > 0 ? "+" : c->dblocks < 0 ? "-" : "",
		         mt_grouped(mag(c->dblocks), g, sizeof g));
		const char *pc = !c->old ? "(new)" : !c->new ? "(gone)"
		                                    : percent(c->old->bytes, c->new->bytes, p, sizeof p);
		/* Rows that would read alike (two lines of one function, one program under two
		 * names) say where: the innermost frame's module and line, or offset. */
		bool alike = false;
		for (size_t j = 0; j < shown && !alike; j++)
			alike = j != i && strcmp(stacks[i], stacks[j]) == 0;
		char where[160] = "";
		size_t fi = mt_site_first_meaningful(s);
		if (alike && fi != SIZE_MAX) {
			const struct mt_frame *f = &s->frames[fi];
			if (f->file && f->line)
				snprintf(where, sizeof where, " (%.60s, %.40s:%llu)", mt_basename(f->module),
				         mt_basename(f->file), (unsigned long long)f->line);
			else
				snprintf(where, sizeof where, " (%.60s+%.20s)", mt_basename(f->module),
				         f->offset);
		}
		char *line = mt_xasprintf("%s%s", stacks[i], where), db[40];
		snprintf(db, sizeof db, "%s%s", estimated(c) ? "~" : "",
		         mt_human_signed(c->dbytes, d, sizeof d));
		printf("  %11s %7s %10s  %s\n", db, pc, blk,
		       *where ? line : mt_trunc(line, 60, st, sizeof st));
		free(line);
	}
	for (size_t i = 0; i < shown; i++)
		free(stacks[i]);
	free(stacks);
	if (shown < nch)
		printf("  ... %zu more (--top 0 lists all)\n", nch - shown);
	free(ch);
out:
	mt_report_free(o);
	mt_report_free(n);
	if (fflush(stdout) != 0)
		mt_die(2, "writing the output failed");
	return 0;
}
