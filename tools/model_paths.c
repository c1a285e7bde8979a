/* SPDX-License-Identifier: Apache-2.0 */
/*
 * model_paths.c: the report files of a command line: the names the library
 * gives its reports (modalloc.<pid>[.<n>].json) and the expansion of a
 * directory argument into the reports directly inside it, in pid order,
 * each file counted once.
 */
#include "model.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

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
	const char *end;
	uint64_t v;
	if (mt_parse_u64_prefix(name + 9, pid, &end) < 0)
		return false;
	*seq = 0;
	if (*end == '.' && mt_parse_u64_prefix(end + 1, &v, &end) == 0)
		*seq = v > 1000000 ? 1000000 : (unsigned)v;
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
