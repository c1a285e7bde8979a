/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_plot.c: `modalloc plot FILE -o out.svg`: live heap bytes (and RSS)
 * over the allocation clock as a self-contained SVG, the peak marked, and
 * the top call sites' shares of the peak as a bar under the chart.  A report
 * without a timeline gets a bar chart of its totals instead.
 *
 * Elements carry ids (heap, rss, peak, sites-at-peak) and the peak marker
 * its data (data-t, data-bytes) so that tests and scripts can read them.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "model.h"
#include "util.h"

static const char usage[] =
	"usage: modalloc plot [-o OUT.svg] [--] FILE|DIR\n"
	"Draws memory over time from a report's timeline as an SVG: live heap\n"
	"bytes (solid) and RSS (dashed) against the allocation clock (bytes\n"
	"allocated so far), the peak marked, and the top call sites' shares of the\n"
	"heap at the peak as a bar below. A report without a timeline gets a bar\n"
	"chart of its totals (and a note on stderr). A directory stands for its\n"
	"report, or of several the one with the largest peak (said on stderr).\n"
	"\n"
	"  -o, --output FILE  where to write (default: standard output)\n"
	"  -h, --help         this help\n";

enum { W = 800, PL = 80, PR = 30, PT = 50, PH = 280 };
#define PW (W - PL - PR)

static const char *const palette[] = { "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                       "#edc948", "#b07aa1", "#9c755f" };

static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&apos;", f); break;
		default:
			/* Control characters are not allowed in XML 1.0. */
			if ((unsigned char)*s >= 0x20 || *s == '\t')
				fputc(*s, f);
		}
	}
}

/*
 * A round tick step >= v: 1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of
 * ten of the binary unit v is shown in (B, KiB, MiB...), so that the ticks
 * read 0, 6, 12, 18, 24 MiB rather than 0, 6.2, 12.5, 18.8 MiB.
 */
static double nice_step(double v)
{
	if (v <= 0)
		return 1;
	double unit = 1;
	while (v / unit >= 1024)
		unit *= 1024;
	double x = v / unit, p = pow(10, floor(log10(x)));
	static const double m[] = { 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10 };
	for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
		if (m[i] * p >= x * (1 - 1e-12))
			return m[i] * p * unit;
	return 10 * p * unit;
}

/* Four ticks: the axis maximum is four round steps. */
static double nice_max(double v)
{
	return v < 4 ? 4 : 4 * nice_step(v / 4);
}

static void header(FILE *f, int height, const struct mt_report *r, const char *subtitle)
{
	char cmd[80];
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	           "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
	           "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n",
	        W, height, W, height);
	fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, height);
	fputs("<text x=\"20\" y=\"24\" font-size=\"15\" font-weight=\"bold\">", f);
	xml_text(f, "modalloc: ");
	xml_text(f, mt_trunc(r->cmd[0] ? r->cmd : "(no command)", 60, cmd, sizeof cmd));
	fprintf(f, " (pid %llu)</text>\n", (unsigned long long)r->pid);
	fputs("<text x=\"20\" y=\"40\" fill=\"#555\">", f);
	xml_text(f, subtitle);
	fputs("</text>\n", f);
}

static void y_axis(FILE *f, double ymax)
{
	char b[32];
	for (int i = 0; i <= 4; i++) {
		double v = ymax * i / 4;
		double y = PT + PH - PH * i / 4.0;
		fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", PL, y,
		        PL + PW, y);
		fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" fill=\"#333\">%s</text>\n",
		        PL - 6, y + 4, mt_human((uint64_t)v, b, sizeof b));
	}
}

/* Totals only: five bars. */
static void plot_totals(FILE *f, const struct mt_report *r)
{
	const struct { const char *name; uint64_t v; } bars[] = {
		{ "allocated", r->totals.bytes },
		{ "freed", r->totals.freed_bytes },
		{ "peak", r->totals.peak_bytes },
		{ "leaked", r->totals.live_bytes },
		{ "RSS peak", r->totals.rss_peak_bytes },
	};
	int height = PT + PH + 50;
	header(f, height, r, "no timeline in this report: totals only");
	uint64_t max = 0;
	for (size_t i = 0; i < 5; i++)
		if (bars[i].v > max)
			max = bars[i].v;
	double ymax = nice_max((double)max * 1.08); /* room for the labels */
	y_axis(f, ymax);
	double slot = PW / 5.0;
	char b[32];
	fputs("<g id=\"totals\">\n", f);
	for (size_t i = 0; i < 5; i++) {
		double h = PH * (double)bars[i].v / ymax;
		double x = PL + slot * (double)i + slot * 0.2;
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
		           "<title>%s: %llu bytes</title></rect>\n",
		        x, PT + PH - h, slot * 0.6, h, palette[i], bars[i].name,
		        (unsigned long long)bars[i].v);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
		        x + slot * 0.3, PT + PH - h - 5, mt_human(bars[i].v, b, sizeof b));
		fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", x + slot * 0.3,
		        PT + PH + 18, bars[i].name);
	}
	fputs("</g>\n</svg>\n", f);
}

struct share {
	const struct mt_site *site;
	uint64_t bytes;
};

static int by_at_peak(const void *a, const void *b)
{
	const struct share *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return strcmp(x->site->key, y->site->key);
}

/* The stacked bar of the top call sites at the peak; returns the height used. */
static int sites_bar(FILE *f, const struct mt_report *r, int y0, bool draw)
{
	enum { TOP = 6 };
	if (!r->has_sites)
		return 0;
	struct share *sh = mt_xcalloc(r->nsites, sizeof *sh);
	size_t n = 0;
	uint64_t sum = 0;
	for (size_t i = 0; i < r->nsites; i++)
		if (r->sites[i].at_peak_bytes) {
			sh[n].site = &r->sites[i];
			sh[n++].bytes = r->sites[i].at_peak_bytes;
			sum += r->sites[i].at_peak_bytes;
		}
	if (!sum) {
		free(sh);
		return 0;
	}
	qsort(sh, n, sizeof *sh, by_at_peak);
	size_t shown = n < TOP ? n : TOP;
	uint64_t rest = sum;
	for (size_t i = 0; i < shown; i++)
		rest -= sh[i].bytes;
	int rows = (int)shown + (rest ? 1 : 0);
	int used = 30 + 18 + rows * 16;
	if (!draw) {
		free(sh);
		return used;
	}
	char b[32];
	/* A sampled report's sites hold estimates: the title and each figure say so. */
	bool est = mt_report_sampled(r);
	char *rates = est ? mt_rates_text(r) : NULL;
	char *how = est ? mt_xasprintf(", estimated (sampled every %s)", rates) : mt_xstrdup("");
	fprintf(f, "<g id=\"sites-at-peak\"%s>\n<text x=\"%d\" y=\"%d\" font-weight=\"bold\">"
	           "Heap at the peak by call site%s (%s%s)</text>\n",
	        est ? " data-estimated=\"true\"" : "", PL, y0 + 14, how, est ? "~" : "",
	        mt_human(sum, b, sizeof b));
	free(how);
	free(rates);
	double x = PL;
	int by = y0 + 22;
	for (int i = 0; i < rows; i++) {
		bool other = (size_t)i == shown;
		uint64_t v = other ? rest : sh[i].bytes;
		double w = PW * (double)v / (double)sum;
		const char *color = other ? "#bbb" : palette[i % 8];
		fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"14\" fill=\"%s\" "
		           "data-bytes=\"%llu\"/>\n",
		        x, by, w, color, (unsigned long long)v);
		x += w;
		char label[200], lb[256], t[80];
		if (other) {
			snprintf(label, sizeof label, "%zu other sites", n - shown);
		} else {
			size_t k = mt_site_first_meaningful(sh[i].site);
			snprintf(label, sizeof label, "%s",
			         k == SIZE_MAX ? "(no frames)"
			                       : mt_frame_label(&sh[i].site->frames[k], lb, sizeof lb));
		}
		int ly = by + 32 + i * 16;
		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>\n", PL,
		        ly - 9, color);
		fprintf(f, "<text x=\"%d\" y=\"%d\">%5.1f%%  %s%s  ", PL + 16, ly,
		        100.0 * (double)v / (double)sum, est ? "~" : "", mt_human(v, b, sizeof b));
		xml_text(f, mt_trunc(label, 70, t, sizeof t));
		fputs("</text>\n", f);
	}
	fputs("</g>\n", f);
	free(sh);
	return used;
}

static void plot_timeline(FILE *f, const struct mt_report *r)
{
	const struct mt_point *p = r->points;
	size_t n = r->npoints;
	uint64_t tmin = 0, tmax = p[n - 1].t, ymaxv = 0;
	size_t peak = 0;
	bool rss = false;
	for (size_t i = 0; i < n; i++) {
		if (p[i].live > p[peak].live)
			peak = i;
		if (p[i].live > ymaxv)
			ymaxv = p[i].live;
		if (p[i].rss > ymaxv)
			ymaxv = p[i].rss;
		rss |= p[i].rss != 0;
	}
	double ymax = nice_max((double)ymaxv * 1.04); /* room for the peak label */
	double span = tmax > tmin ? (double)(tmax - tmin) : 1;
#define XOF(t) (PL + PW * ((double)(t) - (double)tmin) / span)
#define YOF(v) (PT + PH - PH * (double)(v) / ymax)

	int bar_h = sites_bar(f, r, 0, false);
	int height = PT + PH + 60 + bar_h;
	char sub[160], b1[32], b2[32];
	snprintf(sub, sizeof sub, "heap peak %s; %zu samples over %s allocated%s",
	         mt_human(p[peak].live, b1, sizeof b1), n, mt_human(tmax, b2, sizeof b2),
	         rss ? "; dashed: RSS" : "");
	header(f, height, r, sub);
	y_axis(f, ymax);
	/* x axis: the allocation clock, ticks at round values. */
	double xstep = nice_step(span / 4);
	for (double t = 0; t <= span * (1 + 1e-9); t += xstep) {
		fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#333\"/>\n",
		        XOF(t), PT + PH, XOF(t), PT + PH + 4);
		fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"#333\">%s</text>\n",
		        XOF(t), PT + PH + 16, mt_human((uint64_t)t, b1, sizeof b1));
	}
	fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", PL, PT + PH,
	        PL + PW, PT + PH);
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#333\">"
	           "allocation clock (bytes allocated so far)</text>\n",
	        PL + PW / 2, PT + PH + 34);

	/*
	 * Thousands of samples would make a heavy file: keep one sample per
	 * half-pixel column, the one with the most live bytes; the peak and the
	 * last sample always stay.
	 */
	size_t *keep = mt_xcalloc(n, sizeof *keep), nk = 0;
	long col = -1;
	for (size_t i = 0; i < n; i++) {
		long c = lround(XOF(p[i].t) * 2);
		if (c != col || nk == 0) {
			keep[nk++] = i;
			col = c;
			continue;
		}
		size_t *last = &keep[nk - 1];
		if (*last == peak)
			continue;
		if (i == peak || i == n - 1 || p[i].live > p[*last].live)
			*last = i;
	}
	if (rss) {
		fputs("<polyline id=\"rss\" fill=\"none\" stroke=\"#888\" stroke-width=\"1.5\" "
		      "stroke-dasharray=\"5,4\" points=\"", f);
		/* rss_bytes 0 = not sampled at that point (the exact peak, for one): skipped. */
		bool first = true;
		for (size_t k = 0; k < nk; k++) {
			if (!p[keep[k]].rss)
				continue;
			fprintf(f, "%s%.1f,%.1f", first ? "" : " ", XOF(p[keep[k]].t), YOF(p[keep[k]].rss));
			first = false;
		}
		fputs("\"/>\n", f);
	}
	fputs("<polyline id=\"heap\" fill=\"none\" stroke=\"#4e79a7\" stroke-width=\"2\" points=\"", f);
	for (size_t k = 0; k < nk; k++)
		fprintf(f, "%s%.1f,%.1f", k ? " " : "", XOF(p[keep[k]].t), YOF(p[keep[k]].live));
	fputs("\"/>\n", f);
	free(keep);

	double px = XOF(p[peak].t), py = YOF(p[peak].live);
	fprintf(f, "<circle id=\"peak\" cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"#e15759\" "
	           "data-t=\"%llu\" data-bytes=\"%llu\"/>\n",
	        px, py, (unsigned long long)p[peak].t, (unsigned long long)p[peak].live);
	/* The label goes to the side with room. */
	bool left = px > PL + PW * 0.7;
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" fill=\"#e15759\" "
	           "font-weight=\"bold\">peak %s</text>\n",
	        left ? px - 9 : px + 9, py < PT + 14 ? py + 16 : py - 6, left ? "end" : "start",
	        mt_human(p[peak].live, b1, sizeof b1));
	/* Legend. */
	fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#4e79a7\" "
	           "stroke-width=\"2\"/><text x=\"%d\" y=\"%d\">live heap</text>\n",
	        W - 230, 36, W - 205, 36, W - 200, 40);
	if (rss)
		fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\" "
		           "stroke-dasharray=\"5,4\"/><text x=\"%d\" y=\"%d\">RSS</text>\n",
		        W - 120, 36, W - 95, 36, W - 90, 40);
	sites_bar(f, r, PT + PH + 46, true);
	fputs("</svg>\n", f);
#undef XOF
#undef YOF
}

int mt_cmd_plot(int argc, char **argv)
{
	const char *out = NULL;
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = mt_getopt(argc, argv, ":ho:", longopts, "plot", usage)) != -1)
		if (c == 'o')
			out = optarg;
	mt_need_files("plot", argc, true);
	const char *file = argv[optind];
	/*
	 * A directory, as report/diff/check take it: its one report, or of
	 * several the one with the largest peak (a timeline is one process's).
	 */
	char **paths;
	size_t np = mt_expand_paths(argv + optind, 1, &paths);
	struct mt_report *r = NULL;
	for (size_t k = 0; k < np; k++) {
		struct mt_report *x = mt_report_load(paths[k]);
		if (!x) {
			mt_report_free(r);
			r = NULL;
			for (; k < np; k++)
				free(paths[k]);
			break;
		}
		if (!r || x->totals.peak_bytes > r->totals.peak_bytes) {
			mt_report_free(r);
			r = x;
		} else {
			mt_report_free(x);
		}
		free(paths[k]);
	}
	free(paths);
	if (!r)
		return 2;
	if (np > 1)
		mt_err("%s holds %zu reports: plotting %s (pid %llu), the largest peak; "
		       "name a file to choose", file, np, mt_basename(r->path),
		       (unsigned long long)r->pid);
	FILE *f = stdout;
	if (out && strcmp(out, "-") != 0) {
		f = fopen(out, "w");
		if (!f)
			mt_die(2, "%s: %s", out, strerror(errno));
	}
	if (r->has_timeline && r->npoints > 0) {
		plot_timeline(f, r);
	} else {
		mt_err("%s: no timeline in the report: plotting its totals only", r->path);
		plot_totals(f, r);
	}
	mt_report_free(r);
	if (ferror(f) || (f != stdout ? fclose(f) : fflush(f)) != 0)
		mt_die(2, "%s: writing failed", out ? out : "standard output");
	return 0;
}
