/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_check.c: `modalloc check`: limits on a report, for CI. */
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "model.h"
#include "util.h"

#ifndef MODALLOC_DATADIR
#define MODALLOC_DATADIR "/usr/local/share/modalloc"
#endif

static const char usage[] =
	"usage: modalloc check [limits] [--suppress FILE] [--] FILE|DIR... [limits]\n"
	"Checks a report (several are merged) against limits. Prints one line per\n"
	"broken limit and exits 1, or prints \"ok\" and exits 0; bad input exits 2.\n"
	"\n"
	"  --max-blocks N     allocated blocks\n"
	"  --max-bytes SIZE   allocated bytes\n"
	"  --max-peak SIZE    peak live bytes\n"
	"  --max-leaked SIZE  bytes live at exit, less suppressed call sites\n"
	"  --suppress FILE    function-name globs (fnmatch), one a line, '#' starts a\n"
	"                     comment; a call site with a frame whose function (or,\n"
	"                     when unknown, \"module+0xoffset\") matches is left out of\n"
	"                     the leaked figure; \"FUNC@MODULE\" also needs the module\n"
	"                     (\"??\" for an unknown function). Module names match with\n"
	"                     or without their version (libstdc++.so.6.0.30 matches\n"
	"                     libstdc++.so.6 and libstdc++.so).\n"
	"                     FILE \"default\" is the shipped list of\n"
	"                     libc/libstdc++ start-up allocations (suppressions.txt).\n"
	"                     May be given more than once.\n"
	"  -h, --help         this help\n"
	"\n"
	"The limits apply to the totals, exact also in a sampled report\n"
	"(MOD_ALLOC_SAMPLE); there the suppressed sites' leaked bytes are estimates,\n"
	"and the leaked figure less them is checked as an estimate.\n"
	"\n"
	"SIZE: a number with an optional unit, B, k/KiB, M/MiB, G/GiB, T/TiB (all\n"
	"binary, any case): 123, 4k, 10KiB, 2M, 1.5GiB.\n";

struct patterns {
	char **p;
	size_t n;
};

static char *default_list(void)
{
	/* The build tree keeps a copy next to the binary; an install keeps it in datadir. */
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			char *p = mt_xasprintf("%s/suppressions.txt", exe);
			if (access(p, R_OK) == 0)
				return p;
			free(p);
		}
	}
	return mt_xstrdup(MODALLOC_DATADIR "/suppressions.txt");
}

static void load_patterns(struct patterns *ps, const char *arg)
{
	char *path = strcmp(arg, "default") == 0 ? default_list() : mt_xstrdup(arg);
	size_t len;
	char *text = mt_read_file(path, &len);
	if (!text)
		mt_die(2, "%s: %s", path, strerror(errno));
	if (memchr(text, '\0', len))
		mt_die(2, "%s: not a text file of patterns", path);
	for (char *line = text, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		size_t n = strlen(line);
		while (n && strchr(" \t\r", line[n - 1]))
			line[--n] = '\0';
		if (!n)
			continue;
		ps->p = mt_xrealloc(ps->p, (ps->n + 1) * sizeof *ps->p);
		ps->p[ps->n++] = mt_xstrdup(line);
	}
	free(text);
	free(path);
}

/*
 * The spellings of a module for matching: its base name, and the same
 * without the version after ".so": "libstdc++.so.6.0.30", "libstdc++.so.6",
 * "libstdc++.so"; so a list written on one system matches another's
 * library versions.  Returns how many (1 or 3) were written into out.
 */
static size_t module_names(const char *module, char out[3][256])
{
	const char *b = mt_basename(module);
	snprintf(out[0], 256, "%s", b);
	const char *so = strstr(b, ".so.");
	if (!so || so[4] < '0' || so[4] > '9')
		return 1;
	size_t stem = (size_t)(so - b) + 3; /* through ".so" */
	size_t major = stem + 1 + strspn(b + stem + 1, "0123456789");
	snprintf(out[1], 256, "%.*s", (int)major, b);
	snprintf(out[2], 256, "%.*s", (int)stem, b);
	return 3; /* out[1] may equal out[0] ("libc.so.6"): no harm */
}

/*
 * One pattern against one frame.  "FUNC": the function ("??" frames: as
 * "module+0xoffset", in each spelling of the module).  "FUNC@MODULE": both
 * globs must match, the function ("??" when unknown) and the module (any
 * spelling).
 */
static bool frame_matches(const char *pat, const struct mt_frame *f)
{
	char names[3][256] = { "", "", "" };
	size_t nn = module_names(f->module, names);
	bool unknown = !f->function || !*f->function || strcmp(f->function, "??") == 0;
	const char *at = strrchr(pat, '@');
	if (at && at != pat) {
		char fpat[512];
		snprintf(fpat, sizeof fpat, "%.*s", (int)(at - pat), pat);
		if (fnmatch(fpat, unknown ? "??" : f->function, 0) != 0)
			return false;
		for (size_t i = 0; i < nn; i++)
			if (names[i][0] && fnmatch(at + 1, names[i], 0) == 0)
				return true;
		return false;
	}
	if (!unknown)
		return fnmatch(pat, f->function, 0) == 0;
	for (size_t i = 0; i < nn; i++) {
		char label[1024];
		snprintf(label, sizeof label, "%s+%s", names[i], f->offset);
		if (names[i][0] && fnmatch(pat, label, 0) == 0)
			return true;
	}
	return false;
}

static bool suppressed(const struct patterns *ps, const struct mt_site *s)
{
	for (size_t i = 0; i < s->nframes; i++)
		for (size_t j = 0; j < ps->n; j++)
			if (frame_matches(ps->p[j], &s->frames[i]))
				return true;
	return false;
}

struct limit {
	const char *opt;
	bool set;
	uint64_t max;
	bool size;
};

static void broken(const char *what, uint64_t value, const struct limit *l, const char *note)
{
	char a[32], b[32];
	if (l->size)
		printf("%s: %s (%llu) > %s (%llu) [%s]%s\n", what, mt_human(value, a, sizeof a),
		       (unsigned long long)value, mt_human(l->max, b, sizeof b),
		       (unsigned long long)l->max, l->opt, note);
	else
		printf("%s: %llu > %llu [%s]%s\n", what, (unsigned long long)value,
		       (unsigned long long)l->max, l->opt, note);
}

int mt_cmd_check(int argc, char **argv)
{
	struct limit lim[4] = {
		{ "--max-blocks", false, 0, false },
		{ "--max-bytes", false, 0, true },
		{ "--max-peak", false, 0, true },
		{ "--max-leaked", false, 0, true },
	};
	struct patterns ps = { 0 };
	bool want_suppress = false;
	static const struct option longopts[] = {
		{ "max-blocks", required_argument, NULL, 0 },
		{ "max-bytes", required_argument, NULL, 1 },
		{ "max-peak", required_argument, NULL, 2 },
		{ "max-leaked", required_argument, NULL, 3 },
		{ "suppress", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = mt_getopt(argc, argv, ":h", longopts, "check", usage)) != -1) {
		const char *v = optarg;
		if (c >= 0 && c < 4) {
			struct limit *l = &lim[c];
			int bad = l->size ? mt_parse_size(v, &l->max) : mt_parse_u64(v, &l->max);
			if (bad)
				mt_die(2, "%s: '%s' is not a %s", l->opt, v,
				       l->size ? "size (e.g. 123, 4k, 10KiB, 2M, 1.5GiB)" : "number");
			l->set = true;
			continue;
		}
		if (c == 's') {
			load_patterns(&ps, v);
			want_suppress = true;
		}
	}
	char **paths;
	size_t n = mt_expand_paths(argv + optind, mt_need_files("check", argc, false), &paths);
	struct mt_report *r = mt_report_load_merged(paths, n);
	for (size_t k = 0; k < n; k++)
		free(paths[k]);
	free(paths);
	if (!r)
		return 2;

	uint64_t leaked = r->totals.live_bytes, hidden = 0;
	size_t hidden_sites = 0;
	if (want_suppress && !r->has_sites)
		mt_err("%s: no call sites in the report: suppressions cannot apply", r->path);
	for (size_t i = 0; want_suppress && i < r->nsites; i++) {
		struct mt_site *s = &r->sites[i];
		if (!suppressed(&ps, s) || !s->live_bytes)
			continue;
		s->suppressed = true;
		hidden += s->live_bytes;
		hidden_sites++;
	}
	leaked = hidden > leaked ? 0 : leaked - hidden;

	int fails = 0;
	if (lim[0].set && r->totals.blocks > lim[0].max)
		broken("blocks", r->totals.blocks, &lim[0], ""), fails++;
	if (lim[1].set && r->totals.bytes > lim[1].max)
		broken("bytes", r->totals.bytes, &lim[1], ""), fails++;
	if (lim[2].set && r->totals.peak_bytes > lim[2].max)
		broken("peak", r->totals.peak_bytes, &lim[2], r->nfiles > 1 ? " (sum of peaks)" : ""),
			fails++;
	if (lim[3].set && leaked > lim[3].max) {
		char note[128] = "", h[32];
		/* A sampled report's sites hold estimates: so does the leaked figure less them. */
		bool est = hidden && mt_report_sampled(r);
		if (hidden)
			snprintf(note, sizeof note, " (%s%s in %zu suppressed sites not counted)",
			         est ? "an estimated " : "", mt_human(hidden, h, sizeof h), hidden_sites);
		broken(est ? "leaked (estimated)" : "leaked", leaked, &lim[3], note);
		fails++;
	}
	if (!fails)
		puts("ok");
	if (!lim[0].set && !lim[1].set && !lim[2].set && !lim[3].set)
		mt_err("check: no limit given (--max-blocks, --max-bytes, --max-peak, --max-leaked): "
		       "nothing was checked");
	for (size_t i = 0; i < ps.n; i++)
		free(ps.p[i]);
	free(ps.p);
	mt_report_free(r);
	if (fflush(stdout) != 0)
		mt_die(2, "writing the output failed");
	return fails ? 1 : 0;
}
