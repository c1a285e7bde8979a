/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_report.c: `modalloc report`: one or several reports as text, JSON, folded stacks or pprof. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "model.h"
#include "pprof_out.h"
#include "util.h"

static const char usage[] =
	"usage: modalloc report [options] [--] FILE|DIR... [options]\n"
	"Renders one report, or several merged into one: totals summed, call sites\n"
	"merged when every frame is the same code (module and offset in it).\n"
	"A directory stands for the modalloc.*.json files inside it.\n"
	"\n"
	"  --top N          call sites listed in text (default 10; 0 = all)\n"
	"  --sort KEY       bytes (default), blocks, peak (bytes live at the peak),\n"
	"                   leaked (bytes live at exit), short (short-lived blocks)\n"
	"  --format F       text (default), json (the merged report, version 1),\n"
	"                   dhat (Valgrind's DHAT v2, for dh_view.html),\n"
	"                   collapsed (folded stacks for flamegraph.pl, inferno,\n"
	"                   speedscope: \"outer;...;inner weight\", one line per site),\n"
	"                   pprof (gzip-compressed profile.proto, a Go heap profile's\n"
	"                   sample types, for go tool pprof; binary: give -o)\n"
	"  -o, --output OUT write to OUT instead of standard output\n"
	"  --weight W       collapsed weights: bytes (default) or blocks\n"
	"  -h, --help       this help\n"
	"\n"
	"short: a site's blocks discounted by their mean lifetime L =\n"
	"lifetime_total/blocks, measured in bytes the program allocated meanwhile:\n"
	"score = blocks * 4096 / (4096 + L). Sites that churn many blocks that die\n"
	"young come first. Merged peaks are the sum of each process's peak.\n"
	"In collapsed output, allocations no call site accounts for (call sites off,\n"
	"table overflow) form one \"[unattributed]\" line, so weights sum to totals.\n"
	"A sampled report's (MOD_ALLOC_SAMPLE) per-site figures are estimates: text\n"
	"marks them \"~\" with the samples behind each; collapsed and pprof carry them\n"
	"as they are, without an \"[unattributed]\" remainder. Totals stay exact.\n";

enum sort_key { S_BYTES, S_BLOCKS, S_PEAK, S_LEAKED, S_SHORT };
static enum sort_key sort_key;

double mt_short_score(const struct mt_site *s)
{
	if (!s->blocks)
		return 0;
	double mean = (double)s->lifetime_total / (double)s->blocks;
	return (double)s->blocks * 4096.0 / (4096.0 + mean);
}

static uint64_t key_of(const struct mt_site *s)
{
	switch (sort_key) {
	case S_BLOCKS: return s->blocks;
	case S_PEAK: return s->at_peak_bytes;
	case S_LEAKED: return s->live_bytes;
	default: return s->bytes;
	}
}

static int cmp_sites(const void *a, const void *b)
{
	const struct mt_site *x = *(const struct mt_site *const *)a;
	const struct mt_site *y = *(const struct mt_site *const *)b;
	if (sort_key == S_SHORT) {
		double sx = mt_short_score(x), sy = mt_short_score(y);
		if (sx != sy)
			return sx > sy ? -1 : 1;
	} else if (key_of(x) != key_of(y)) {
		return key_of(x) > key_of(y) ? -1 : 1;
	}
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return strcmp(x->key, y->key);
}

char *mt_site_stack_line(const struct mt_site *s, size_t max_frames)
{
	size_t first = mt_site_first_meaningful(s);
	if (first == SIZE_MAX)
		return mt_xstrdup("(no frames)");
	size_t cap = 64, len = 0;
	char *out = mt_xmalloc(cap);
	out[0] = '\0';
	size_t shown = 0;
	size_t depth = mt_site_depth(s);
	for (size_t i = first; i < depth && shown < max_frames; i++) {
		const struct mt_frame *f = &s->frames[i];
		if (i > first && mt_frame_is_allocator(f))
			continue;
		char lb[256];
		const char *label = mt_frame_label(f, lb, sizeof lb);
		size_t need = len + strlen(label) + 8;
		if (need > cap)
			out = mt_xrealloc(out, cap = need * 2);
		len += (size_t)sprintf(out + len, "%s%s", shown ? " < " : "", label);
		shown++;
	}
	if (shown < depth - first && depth - first > max_frames) {
		out = mt_xrealloc(out, len + 8);
		strcpy(out + len, " < ...");
	}
	return out;
}

static void print_totals(const struct mt_report *r)
{
	char a[32], b[32], c[32];
	const struct mt_totals *t = &r->totals;
	if (r->nfiles > 1) {
		/* A pid appears once per image it ran (exec): list it once. */
		printf("modalloc report: %zu reports merged (pids", r->nfiles);
		size_t shown = 0, i = 0;
		for (; i < r->npids && shown < 8; i++) {
			if (i && r->pids[i] == r->pids[i - 1])
				continue;
			printf(" %llu", (unsigned long long)r->pids[i]);
			shown++;
		}
		printf("%s)\n", i < r->npids ? " ..." : "");
	} else {
		char cmd[80];
		printf("modalloc report: %s\n", r->path);
		printf("  pid %llu: %s\n", (unsigned long long)r->pid, mt_trunc(r->cmd, 66, cmd, sizeof cmd));
	}
	printf("  allocated  %s in %s block%s\n", mt_human(t->bytes, a, sizeof a),
	       mt_grouped(t->blocks, b, sizeof b), t->blocks == 1 ? "" : "s");
	printf("  freed      %s in %s block%s\n", mt_human(t->freed_bytes, a, sizeof a),
	       mt_grouped(t->frees, b, sizeof b), t->frees == 1 ? "" : "s");
	printf("  peak       %s in %s block%s%s\n", mt_human(t->peak_bytes, a, sizeof a),
	       mt_grouped(t->peak_blocks, b, sizeof b), t->peak_blocks == 1 ? "" : "s",
	       r->nfiles > 1 ? " (sum of each process's peak)" : "");
	printf("  leaked     %s in %s block%s%s\n", mt_human(t->live_bytes, a, sizeof a),
	       mt_grouped(t->live_blocks, b, sizeof b), t->live_blocks == 1 ? "" : "s", r->at_exit ? "" : " (live: not at exit)");
	printf("  RSS peak   %s%s\n", mt_human(t->rss_peak_bytes, c, sizeof c),
	       r->nfiles > 1 ? " (sum)" : "");
	if (t->failed)
		printf("  failed     %s allocations returned NULL\n", mt_grouped(t->failed, a, sizeof a));
	/* Nonzero calls only, wrapped to stay inside 80 columns. */
	size_t col = 0;
	for (size_t i = 0; i < MT_NCALLS; i++) {
		if (!r->calls[i])
			continue;
		char item[64];
		int n = snprintf(item, sizeof item, "%s %s", mt_call_names[i], mt_grouped(r->calls[i], a, sizeof a));
		if (col == 0) {
			fputs("  calls      ", stdout);
			col = 13;
		} else if (col + 2 + (size_t)n > 78) {
			fputs(",\n             ", stdout);
			col = 13;
		} else {
			fputs(", ", stdout);
			col += 2;
		}
		fputs(item, stdout);
		col += (size_t)n;
	}
	if (col)
		putchar('\n');
	if (r->stacks_shallow_warning)
		printf("  warning    call stacks end early in code without frame pointers: rebuild\n"
		       "             with -fno-omit-frame-pointer for whole call sites\n");
	if (mt_report_sampled(r) && r->has_sites) {
		/* Totals and calls are exact; what each site holds is estimated. */
		char *rates = mt_rates_text(r);
		uint64_t n = mt_stacks_get(r, "samples");
		for (size_t i = 0; !n && i < r->nsites; i++)
			n += r->sites[i].samples;
		printf("  sampled    per-site figures are estimates (sampled every %s, %s samples)\n",
		       rates, mt_grouped(n, a, sizeof a));
		free(rates);
	}
	uint64_t trunc = mt_stacks_get(r, "truncated"), ovf = mt_stacks_get(r, "overflow_events");
	if (trunc || ovf)
		printf("  stacks     %llu truncated (raise --depth), %llu overflow events "
		       "(raise --buckets)\n", (unsigned long long)trunc, (unsigned long long)ovf);
}

static void print_text(const struct mt_report *r, size_t top)
{
	print_totals(r);
	if (!r->has_sites) {
		printf("\nNo call sites in this report%s.\n",
		       r->has_config && !r->cfg_backtraces
		               ? " (it was made with call sites off: run without --counters-only)"
		               : "");
		return;
	}
	size_t n = r->nsites;
	const struct mt_site **order = mt_xcalloc(n, sizeof *order);
	for (size_t i = 0; i < n; i++)
		order[i] = &r->sites[i];
	qsort(order, n, sizeof *order, cmp_sites);
	static const char *const by[] = { "bytes", "blocks", "bytes at peak", "bytes leaked",
	                                  "short-lived blocks" };
	size_t shown = top && top < n ? top : n;
	printf("\nTop %zu of %zu call sites by %s:\n", shown, n, by[sort_key]);
	for (size_t i = 0; i < shown; i++) {
		const struct mt_site *s = order[i];
		char a[32], b[32], c[32], d[32], line[192];
		/* "~": an estimate (a sampled report), with the samples behind it. */
		const char *e = s->estimated ? "~" : "";
		int len = snprintf(line, sizeof line, "#%-3zu %s%s in %s%s block%s; at peak %s%s; leaked %s%s",
		                   i + 1, e, mt_human(s->bytes, a, sizeof a), e,
		                   mt_grouped(s->blocks, b, sizeof b), s->blocks == 1 ? "" : "s",
		                   e, mt_human(s->at_peak_bytes, c, sizeof c),
		                   e, mt_human(s->live_bytes, d, sizeof d));
		if (s->estimated && len > 0 && (size_t)len < sizeof line)
			len += snprintf(line + len, sizeof line - (size_t)len, "; %s sample%s",
			                mt_grouped(s->samples, b, sizeof b), s->samples == 1 ? "" : "s");
		if (sort_key == S_SHORT && s->blocks && len > 0 && (size_t)len < sizeof line)
			snprintf(line + len, sizeof line - (size_t)len, "; mean life %s%s", e,
			         mt_human(s->lifetime_total / s->blocks, a, sizeof a));
		puts(line);
		/* Innermost meaningful frames, one a line, module in brackets. */
		size_t first = mt_site_first_meaningful(s);
		size_t printed = 0;
		for (size_t j = first; first != SIZE_MAX && j < mt_site_depth(s) && printed < 4; j++) {
			const struct mt_frame *f = &s->frames[j];
			if (j > first && mt_frame_is_allocator(f))
				continue;
			char lb[256], fn[80], mod[40], src[64] = "";
			mt_trunc(mt_frame_label(f, lb, sizeof lb), 56, fn, sizeof fn);
			mt_trunc(mt_basename(f->module), 30, mod, sizeof mod);
			/* Reports annotated by `modalloc lines` also show the source line. */
			if (f->file && f->line)
				snprintf(src, sizeof src, ", %.40s:%llu", mt_basename(f->file),
				         (unsigned long long)f->line);
			printf("     %s %s (%s%s%s)\n", printed ? "<-" : "at", fn, mod, src,
			       f->inlined ? ", inlined" : "");
			printed++;
		}
		if (first == SIZE_MAX)
			puts("     (no frames)");
	}
	free(order);
}

static void fold_label(const struct mt_frame *f, FILE *out)
{
	char lb[256];
	const char *label = mt_frame_label(f, lb, sizeof lb);
	/* Two call sites in one function stay two frames where the line is known. */
	char *withline = f->file && f->line && !f->inlined
	                         ? mt_xasprintf("%s (%s:%llu)", label, mt_basename(f->file),
	                                        (unsigned long long)f->line)
	                         : NULL;
	if (withline)
		label = withline;
	/* ';' separates frames and a newline ends the record: neither may appear inside. */
	for (const char *p = label; *p; p++)
		fputc(*p == ';' ? ':' : (*p == '\n' ? ' ' : *p), out);
	free(withline);
}

static void print_collapsed(const struct mt_report *r, bool by_blocks)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < r->nsites; i++) {
		const struct mt_site *s = &r->sites[i];
		uint64_t w = by_blocks ? s->blocks : s->bytes;
		if (!w)
			continue;
		bool any = false;
		for (size_t j = mt_site_depth(s); j-- > 0;) {
			/* The profiler's own frames are noise; malloc and operator new stay. */
			if (strncmp(mt_basename(s->frames[j].module), "libmodalloc", 11) == 0)
				continue;
			if (any)
				putchar(';');
			fold_label(&s->frames[j], stdout);
			any = true;
		}
		if (!any)
			fputs("[no frames]", stdout);
		printf(" %llu\n", (unsigned long long)w);
		sum += w;
	}
	/* A sampled report's weights are estimates: their gap to the exact totals is
	 * mostly sampling noise, not allocations without a site. */
	uint64_t total = by_blocks ? r->totals.blocks : r->totals.bytes;
	if (total > sum && !mt_report_sampled(r))
		printf("[unattributed] %llu\n", (unsigned long long)(total - sum));
}

int mt_cmd_report(int argc, char **argv)
{
	uint64_t top = 10;
	const char *format = "text", *weight = "bytes", *output = NULL;
	static const struct option longopts[] = {
		{ "top", required_argument, NULL, 't' },
		{ "sort", required_argument, NULL, 's' },
		{ "format", required_argument, NULL, 'f' },
		{ "weight", required_argument, NULL, 'w' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	/* Options before or after the files (getopt_long permutes); "--" ends them. */
	int c;
	while ((c = mt_getopt(argc, argv, ":ho:", longopts, "report", usage)) != -1) {
		const char *v = optarg;
		switch (c) {
		case 't':
			if (mt_parse_u64(v, &top))
				mt_die(2, "--top: '%s' is not a number", v);
			break;
		case 's': {
			static const char *const keys[] = { "bytes", "blocks", "peak", "leaked", "short" };
			size_t k = 0;
			while (k < 5 && strcmp(v, keys[k]) != 0)
				k++;
			if (k == 5)
				mt_die(2, "--sort: '%s' is not one of bytes, blocks, peak, leaked, short", v);
			sort_key = (enum sort_key)k;
			break;
		}
		case 'f':
			if (strcmp(v, "text") && strcmp(v, "json") && strcmp(v, "dhat") && strcmp(v, "collapsed") &&
			    strcmp(v, "pprof"))
				mt_die(2, "--format: '%s' is not one of text, json, dhat, collapsed, pprof", v);
			format = v;
			break;
		case 'w':
			if (strcmp(v, "bytes") && strcmp(v, "blocks"))
				mt_die(2, "--weight: '%s' is not one of bytes, blocks", v);
			weight = v;
			break;
		case 'o':
			output = v;
			break;
		}
	}
	char **paths;
	size_t n = mt_expand_paths(argv + optind, mt_need_files("report", argc, false), &paths);
	struct mt_report *r = mt_report_load_merged(paths, n);
	for (size_t k = 0; k < n; k++)
		free(paths[k]);
	free(paths);
	if (!r)
		return 2;
	bool pprof = strcmp(format, "pprof") == 0;
	if (pprof && !r->has_sites)
		mt_die(2, "report --format pprof: %s has no call sites (run with MOD_ALLOC_BACKTRACES=1)", r->path);
	if (pprof && !output && isatty(STDOUT_FILENO))
		mt_die(2, "report --format pprof: the output is binary: give -o OUT.pb.gz");
	/* Opened once the input is known good, so that a bad input leaves OUT alone. */
	if (output && !freopen(output, "w", stdout))
		mt_die(2, "%s: cannot write: %s", output, strerror(errno));
	if (pprof) {
		if (!mt_write_pprof(stdout, r)) {
			if (output)
				unlink(output);
			mt_die(2, "writing the output failed");
		}
	} else if (strcmp(format, "json") == 0) {
		char *s = mt_report_to_json(r);
		puts(s);
		free(s);
	} else if (strcmp(format, "dhat") == 0) {
		if (!r->has_sites)
			mt_die(2, "report --format dhat: %s has no call sites (run with MOD_ALLOC_BACKTRACES=1)", r->path);
		if (!mt_write_dhat(stdout, r))
			mt_die(2, "writing the output failed");
	} else if (strcmp(format, "collapsed") == 0) {
		print_collapsed(r, strcmp(weight, "blocks") == 0);
	} else {
		print_text(r, (size_t)top);
	}
	mt_report_free(r);
	if (fflush(stdout) != 0)
		mt_die(2, "writing the output failed");
	return 0;
}
