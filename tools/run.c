/* SPDX-License-Identifier: Apache-2.0 */
/*
 * run.c: `modalloc [run] PROGRAM ARGS...`: runs a program with libmodalloc
 * preloaded into it and every process it starts, then summarizes the tree.
 *
 * Each process writes <dir>/modalloc.<pid>.json at exit (MOD_ALLOC_OUT is
 * inherited through fork and exec).  The program is started with
 * posix_spawnp, which reports a failed exec itself.  The tool stays the
 * program's parent in the same process group, so the terminal's Ctrl-C
 * reaches the program; the tool itself ignores SIGINT and SIGQUIT while it
 * waits and passes SIGTERM and SIGHUP on, then reports how the program
 * ended and exits the same way.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmds.h"
#include "model.h"
#include "state.h"
#include "util.h"

#ifndef MODALLOC_LIBDIR
#define MODALLOC_LIBDIR "/usr/local/lib"
#endif
#ifndef MODALLOC_VERSION
#define MODALLOC_VERSION "unknown"
#endif

static const char usage[] =
	"usage: modalloc [run] [options] [--] PROGRAM [ARGS...]\n"
	"Runs PROGRAM with libmodalloc.so preloaded, following fork and exec, and\n"
	"prints a summary of every process when it ends. Exits with PROGRAM's status\n"
	"(128+N when a signal N killed it). The report of a process of the tree that\n"
	"ended without one (SIGKILL, the OOM killer) is recovered from its state file\n"
	"(\"recovered\": true, \"ended_by\": \"SIGKILL\").\n"
	"\n"
	"  -o, --output DIR   directory for the reports (created with its parents,\n"
	"                     mode 0700, if missing; one that already holds reports\n"
	"                     is refused); default: a new ./modalloc.<pid>\n"
	"  --counters-only    totals only, no call sites (faster)\n"
	"  --depth N          frames kept per call site (MOD_ALLOC_DEPTH)\n"
	"  --buckets N        call-site table size at start-up (MOD_ALLOC_BUCKETS)\n"
	"  --buckets-max N    the size it may grow to (MOD_ALLOC_BUCKETS_MAX)\n"
	"  --dhat             also write DHAT files, DIR/dhat.<pid>.json, with\n"
	"                     file:line from DWARF (modalloc lines) when it ends\n"
	"  --no-lines         with --dhat: leave the DHAT files as the library wrote them\n"
	"  -h, --help         this help\n"
	"\n"
	"The library is $MODALLOC_LIB, else the build tree's, else the one in\n"
	"  " MODALLOC_LIBDIR "\n"
	"Read the results with: modalloc report DIR\n";

extern char **environ;

static volatile sig_atomic_t child_pid;

static void forward(int sig)
{
	if (child_pid > 0)
		kill((pid_t)child_pid, sig);
}

static char *absolute(const char *path)
{
	char *r = realpath(path, NULL);
	if (!r)
		mt_die(2, "%s: %s", path, strerror(errno));
	return r;
}

static char *find_lib(void)
{
	const char *env = getenv("MODALLOC_LIB");
	if (env && *env) {
		if (access(env, R_OK) != 0)
			mt_die(2, "MODALLOC_LIB=%s: %s", env, strerror(errno));
		return absolute(env);
	}
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			char *p = mt_xasprintf("%s/../src/libmodalloc.so", exe);
			if (access(p, R_OK) == 0) {
				char *a = absolute(p);
				free(p);
				return a;
			}
			free(p);
		}
	}
	const char *inst = MODALLOC_LIBDIR "/libmodalloc.so";
	if (access(inst, R_OK) == 0)
		return mt_xstrdup(inst);
	mt_die(2, "cannot find libmodalloc.so (not in the build tree, nor in " MODALLOC_LIBDIR
	          "); set MODALLOC_LIB to its path");
}

/* MOD_ALLOC_OUT is a template: a '%' in the directory must be doubled. */
static char *template_in(const char *dir, const char *name)
{
	size_t n = 0;
	for (const char *p = dir; *p; p++)
		n += *p == '%' ? 2 : 1;
	char *out = mt_xmalloc(n + strlen(name) + 2), *o = out;
	for (const char *p = dir; *p; p++) {
		*o++ = *p;
		if (*p == '%')
			*o++ = '%';
	}
	sprintf(o, "/%s", name);
	return out;
}

/* -o a/b/c: creates a and a/b when missing (mode 0700, as the directory itself). */
static void make_parents(const char *path)
{
	char *p = mt_xstrdup(path);
	for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			mt_die(2, "cannot create directory %s: %s", p, strerror(errno));
		*s = '/';
	}
	free(p);
}

struct names {
	char **v;
	size_t n;
};

static bool is_dhat(const char *name)
{
	size_t n = strlen(name);
	return strncmp(name, "dhat.", 5) == 0 && n > 10 && strcmp(name + n - 5, ".json") == 0 &&
	       !strstr(name, ".tmp.");
}

static bool is_report(const char *name)
{
	uint64_t pid;
	unsigned seq;
	return mt_report_name(name, &pid, &seq);
}

static void list_files(const char *dir, struct names *out, bool (*want)(const char *))
{
	DIR *d = opendir(dir);
	if (!d)
		mt_die(2, "%s: %s", dir, strerror(errno));
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!want(e->d_name))
			continue;
		out->v = mt_xrealloc(out->v, (out->n + 1) * sizeof *out->v);
		out->v[out->n++] = mt_xstrdup(e->d_name);
	}
	closedir(d);
}

static void list_reports(const char *dir, struct names *out)
{
	list_files(dir, out, is_report);
}

static bool has_name(const struct names *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], name) == 0)
			return true;
	return false;
}

/* One row of the summary: every process image of one executable. */
struct group {
	char *name;           /* executable's base name, newlines escaped */
	size_t images;
	uint64_t blocks, bytes, max_peak, leaked;
};

/* "gcc" from "/usr/bin/gcc -O2 -c x.c"; a newline or tab becomes "\n", "\t". */
static char *exe_name(const char *cmd)
{
	size_t len = strcspn(cmd, " ");
	const char *b = cmd;
	for (size_t i = 0; i < len; i++)
		if (cmd[i] == '/')
			b = cmd + i + 1;
	len -= (size_t)(b - cmd);
	if (!len)
		return mt_xstrdup("?");
	char *out = mt_xmalloc(2 * len + 1), *o = out;
	for (size_t i = 0; i < len; i++) {
		if (b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
			*o++ = '\\';
			*o++ = b[i] == '\n' ? 'n' : b[i] == '\t' ? 't' : 'r';
		} else {
			*o++ = b[i];
		}
	}
	*o = '\0';
	return out;
}

static int by_bytes(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->blocks != y->blocks)
		return x->blocks > y->blocks ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int site_by_bytes(const void *a, const void *b)
{
	const struct mt_site *x = *(const struct mt_site *const *)a;
	const struct mt_site *y = *(const struct mt_site *const *)b;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return strcmp(x->key, y->key);
}

static void table_row(const char *count, const char *cmd, uint64_t blocks, uint64_t bytes,
                      uint64_t peak, uint64_t leaked)
{
	char c[40], a[32], b[32], p[32], l[32];
	fprintf(stderr, "%9s  %-32s %11s %11s %11s %11s\n", count, mt_trunc(cmd, 32, c, sizeof c),
	        mt_grouped(blocks, a, sizeof a), mt_human(bytes, b, sizeof b),
	        mt_human(peak, p, sizeof p), mt_human(leaked, l, sizeof l));
}

/* Top call sites of the whole tree (reports merged), when there are any. */
static void top_sites(struct mt_report *const *reps, size_t n)
{
	struct mt_report *all = mt_xcalloc(1, sizeof *all);
	all->path = mt_xstrdup("tree");
	all->cmd = mt_xstrdup("");
	all->tool = mt_xstrdup("");
	all->at_exit = true;
	for (size_t i = 0; i < n; i++)
		mt_report_merge(all, reps[i]);
	if (all->stacks_shallow_warning)
		mt_err("call stacks end early in code without frame pointers: rebuild the program "
		       "(and its libraries) with -fno-omit-frame-pointer for whole call sites");
	if (all->nsites) {
		const struct mt_site **order = mt_xcalloc(all->nsites, sizeof *order);
		for (size_t i = 0; i < all->nsites; i++)
			order[i] = &all->sites[i];
		qsort(order, all->nsites, sizeof *order, site_by_bytes);
		size_t shown = all->nsites < 5 ? all->nsites : 5;
		/* Sampled reports: the sites' figures are estimates ("~"). */
		bool est = mt_report_sampled(all);
		char *rates = est ? mt_rates_text(all) : NULL;
		if (est)
			fprintf(stderr, "top call sites of the tree, by bytes, estimated (sampled every "
			                "%s; callers to the right):\n", rates);
		else
			fprintf(stderr, "top call sites of the tree, by bytes (callers to the right):\n");
		free(rates);
		for (size_t i = 0; i < shown; i++) {
			const struct mt_site *st = order[i];
			char a[32], b[32], line[64], ea[40], eb[40];
			char *stack = mt_site_stack_line(st, 4);
			size_t fi = mt_site_first_meaningful(st);
			char *where = fi == SIZE_MAX ? mt_xstrdup(stack)
			                             : mt_xasprintf("%s (%s)", stack,
			                                            mt_basename(st->frames[fi].module));
			snprintf(ea, sizeof ea, "%s%s", st->estimated ? "~" : "", mt_human(st->bytes, a, sizeof a));
			snprintf(eb, sizeof eb, "%s%s", st->estimated ? "~" : "",
			         mt_grouped(st->blocks, b, sizeof b));
			fprintf(stderr, "%11s %11s block%s  %s\n", ea, eb, st->blocks == 1 ? " " : "s",
			        mt_trunc(where, 56, line, sizeof line));
			free(where);
			free(stack);
		}
		free(order);
	}
	mt_report_free(all);
}

/* How a process we reaped ended, by pid (run is the tree's subreaper). */
struct ending {
	pid_t pid;
	int status;
};

static void note_ending(struct ending **v, size_t *n, pid_t pid, int status)
{
	for (size_t i = 0; i < *n; i++)
		if ((*v)[i].pid == pid) {
			(*v)[i].status = status; /* a reused pid: the later process */
			return;
		}
	*v = mt_xrealloc(*v, (*n + 1) * sizeof **v);
	(*v)[(*n)++] = (struct ending){ pid, status };
}

/* "SIGKILL", "exit 3" (a malloc'd string). */
static char *ending_name(int status)
{
	if (WIFSIGNALED(status)) {
		const char *name = sigabbrev_np(WTERMSIG(status));
		return name ? mt_xasprintf("SIG%s", name) : mt_xasprintf("signal %d", WTERMSIG(status));
	}
	return mt_xasprintf("exit %d", WEXITSTATUS(status));
}

/*
 * Every process of the tree that ended without a report (SIGKILL, the OOM
 * killer, _exit) left its state file: its report is recovered into dir
 * ("recovered": true, "ended_by" when run reaped it).  The tree's processes
 * are the dead ones whose MOD_ALLOC_OUT is the one run gave (out_tpl).
 */
static void recover_tree(const char *out_tpl, const struct ending *ends, size_t nends)
{
	struct mt_state_entry *e;
	int n = mt_state_list(false, &e);
	if (n <= 0) {
		mt_state_list_free(e, 0);
		return;
	}
	for (int i = 0; i < n; i++) {
		struct mt_report *r;
		struct mt_state_info info;
		char err[1024];
		if (mt_state_load_info(e[i].path, false, &r, &info, err, sizeof err) != 0)
			continue; /* not ours to judge: `modalloc recover` says why */
		bool ours = info.out_template && strcmp(info.out_template, out_tpl) == 0;
		pid_t pid = info.pid;
		mt_report_free(r);
		mt_state_info_free(&info);
		if (!ours)
			continue;
		char *how = NULL;
		for (size_t k = 0; k < nends; k++)
			if (ends[k].pid == pid)
				how = ending_name(ends[k].status);
		mt_state_recover(e[i].path, how, NULL);
		free(how);
	}
	mt_state_list_free(e, (size_t)n);
}

/*
 * The summary of every report that appeared in dir during the run: one row
 * per executable (its process images counted, summed, the largest peak),
 * by bytes, then the tree, then its top call sites.
 */
static void summarize(const char *dir, const struct names *before, pid_t top, bool killed,
                      bool *top_found)
{
	struct names after = { 0 };
	list_reports(dir, &after);
	struct mt_report **reps = NULL;
	size_t n = 0, bad = 0;
	for (size_t i = 0; i < after.n; i++) {
		if (has_name(before, after.v[i]))
			continue;
		char *path = mt_xasprintf("%s/%s", dir, after.v[i]);
		struct mt_report *r = mt_report_load(path); /* a bad one prints its own line */
		free(path);
		if (!r) {
			bad++;
			continue;
		}
		reps = mt_xrealloc(reps, (n + 1) * sizeof *reps);
		reps[n++] = r;
	}
	*top_found = false;
	struct group *g = NULL;
	size_t ng = 0;
	struct group all = { 0 };
	uint64_t *pids = mt_xcalloc(n + 1, sizeof *pids);
	size_t npids = 0;
	for (size_t i = 0; i < n; i++) {
		const struct mt_report *r = reps[i];
		if ((pid_t)r->pid == top)
			*top_found = true;
		size_t k = 0;
		while (k < npids && pids[k] != r->pid)
			k++;
		if (k == npids)
			pids[npids++] = r->pid;
		char *name = exe_name(r->cmd);
		size_t j = 0;
		while (j < ng && strcmp(g[j].name, name) != 0)
			j++;
		if (j == ng) {
			g = mt_xrealloc(g, (ng + 1) * sizeof *g);
			g[ng++] = (struct group){ .name = name };
		} else {
			free(name);
		}
		struct group *x[2] = { &g[j], &all };
		for (size_t m = 0; m < 2; m++) {
			x[m]->images++;
			x[m]->blocks += r->totals.blocks;
			x[m]->bytes += r->totals.bytes;
			x[m]->leaked += r->totals.live_bytes;
			if (r->totals.peak_bytes > x[m]->max_peak)
				x[m]->max_peak = r->totals.peak_bytes;
		}
	}
	qsort(g, ng, sizeof *g, by_bytes);
	const size_t max_rows = 20;
	if (n)
		fprintf(stderr, "%9s  %-32s %11s %11s %11s %11s\n", "processes", "command", "blocks",
		        "bytes", "max peak", "leaked");
	for (size_t i = 0; i < ng; i++) {
		if (i < max_rows) {
			char cnt[24];
			snprintf(cnt, sizeof cnt, "%zu", g[i].images);
			table_row(cnt, g[i].name, g[i].blocks, g[i].bytes, g[i].max_peak, g[i].leaked);
		}
		free(g[i].name);
	}
	if (ng > max_rows)
		fprintf(stderr, "%9s  (%zu more commands: modalloc report lists them merged)\n", "...",
		        ng - max_rows);
	free(g);
	if (n) {
		/* Images that exec replaced share their pid with the next image. */
		char what[64];
		if (n == 1)
			snprintf(what, sizeof what, "1 process");
		else if (npids == n)
			snprintf(what, sizeof what, "%zu processes", n);
		else
			snprintf(what, sizeof what, "%zu %s, %zu images", npids,
			         npids == 1 ? "pid" : "pids", n);
		table_row("all", what, all.blocks, all.bytes, all.max_peak, all.leaked);
		if (n > 1)
			fprintf(stderr, "%9s  (max peak: the largest single process's peak)\n", "");
		size_t recovered = 0;
		for (size_t i = 0; i < n; i++)
			recovered += reps[i]->recovered;
		if (recovered == 1 && n == 1)
			fprintf(stderr, "%9s  (recovered from the state file of a process that ended "
			        "without writing its report: \"recovered\": true)\n", "");
		else if (recovered)
			fprintf(stderr, "%9s  (%zu of these reports recovered from the state files of "
			        "processes that ended without writing one: \"recovered\": true)\n", "",
			        recovered);
		top_sites(reps, n);
	}
	free(pids);
	if (!n && (bad || !killed))
		mt_err("no reports were written%s", bad ? " that could be read" : "");
	for (size_t i = 0; i < n; i++)
		mt_report_free(reps[i]);
	free(reps);
	for (size_t i = 0; i < after.n; i++)
		free(after.v[i]);
	free(after.v);
}

/* A numeric option passed on to the library as written, once it is one. */
static const char *positive(const char *v, const char *opt)
{
	uint64_t num;
	if (mt_parse_u64(v, &num) || !num)
		mt_die(2, "%s: '%s' is not a positive number", opt, v);
	return v;
}

int mt_cmd_run(int argc, char **argv)
{
	const char *out = NULL, *depth = NULL, *buckets = NULL, *buckets_max = NULL;
	bool counters_only = false, dhat = false, lines = true;
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "counters-only", no_argument, NULL, 'c' },
		{ "depth", required_argument, NULL, 'd' },
		{ "buckets", required_argument, NULL, 'b' },
		{ "buckets-max", required_argument, NULL, 'B' },
		{ "dhat", no_argument, NULL, 'D' },
		{ "no-lines", no_argument, NULL, 'L' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	/* "+": options end at PROGRAM, whose own options are its business. */
	int c;
	while ((c = mt_getopt(argc, argv, "+:ho:", longopts, "", usage)) != -1) {
		switch (c) {
		case 'V':
			puts("modalloc " MODALLOC_VERSION);
			return 0;
		case 'c':
			counters_only = true;
			break;
		case 'D':
			dhat = true;
			break;
		case 'L':
			lines = false;
			break;
		case 'o':
			out = optarg;
			break;
		case 'd':
			depth = positive(optarg, "--depth");
			break;
		case 'b':
			buckets = positive(optarg, "--buckets");
			break;
		case 'B':
			buckets_max = positive(optarg, "--buckets-max");
			break;
		}
	}
	int i = optind;
	if (i >= argc)
		mt_die(2, "no PROGRAM given (see modalloc --help)");
	if (out && !*out)
		mt_die(2, "--output: empty directory name");
	char **prog = argv + i;

	char *lib = find_lib();
	if (strpbrk(lib, ": "))
		mt_die(2, "%s: LD_PRELOAD cannot hold a path with ':' or ' '", lib);

	/* The output directory: -o may reuse one; the default is always new. */
	char *dir_arg = out ? mt_xstrdup(out) : mt_xasprintf("modalloc.%ld", (long)getpid());
	bool created = false;
	if (out)
		make_parents(dir_arg);
	if (mkdir(dir_arg, 0700) == 0) {
		created = true;
	} else if (errno != EEXIST || !out) {
		mt_die(2, "cannot create directory %s: %s", dir_arg, strerror(errno));
	} else {
		struct stat st;
		if (stat(dir_arg, &st) != 0 || !S_ISDIR(st.st_mode))
			mt_die(2, "%s: exists and is not a directory", dir_arg);
		if (access(dir_arg, W_OK | X_OK) != 0)
			mt_die(2, "%s: %s", dir_arg, strerror(errno));
	}
	char *dir = absolute(dir_arg);
	struct names before = { 0 }, dhat_before = { 0 };
	list_reports(dir, &before);
	/* `modalloc report DIR` must mean this run: never mix it with an earlier one. */
	if (before.n)
		mt_die(2, "%s already holds reports (modalloc.*.json) of an earlier run: "
		          "name a new directory, or remove them", dir_arg);
	list_files(dir, &dhat_before, is_dhat);

	/*
	 * The program's environment: ours, which the tool itself never uses
	 * for anything these variables govern (it is not preloaded).
	 */
	const char *old = getenv("LD_PRELOAD");
	char *pre = old && *old ? mt_xasprintf("%s:%s", old, lib) : mt_xstrdup(lib);
	if (old && strstr(old, lib)) {
		free(pre);
		pre = mt_xstrdup(old); /* already there: preloading twice would count twice */
	}
	char *out_tpl = template_in(dir, "modalloc.%p.json");
	char *dhat_tpl = template_in(dir, "dhat.%p.json");
	setenv("LD_PRELOAD", pre, 1);
	setenv("MOD_ALLOC_OUT", out_tpl, 1);
	setenv("MOD_ALLOC_QUIET", "1", 1);
	setenv("MOD_ALLOC_BACKTRACES", counters_only ? "0" : "1", 1);
	if (depth)
		setenv("MOD_ALLOC_DEPTH", depth, 1);
	if (buckets)
		setenv("MOD_ALLOC_BUCKETS", buckets, 1);
	if (buckets_max)
		setenv("MOD_ALLOC_BUCKETS_MAX", buckets_max, 1);
	if (dhat)
		setenv("MOD_ALLOC_DHAT", dhat_tpl, 1);
	free(pre);
	free(dhat_tpl);

	/*
	 * The signals we handle stay blocked from before the spawn until the
	 * handlers are in place and child_pid is known: a SIGTERM that arrives
	 * as soon as the program runs is forwarded, never lost with the tool.
	 * The program starts with the mask we had and in our process group
	 * (the terminal's foreground group: Ctrl-C reaches it).  posix_spawnp
	 * reports a failed exec itself (glibc: the error, the child reaped).
	 */
	static const int handled[] = { SIGINT, SIGQUIT, SIGTERM, SIGHUP };
	sigset_t block, old_mask;
	sigemptyset(&block);
	for (size_t k = 0; k < sizeof handled / sizeof handled[0]; k++)
		sigaddset(&block, handled[k]);
	sigprocmask(SIG_BLOCK, &block, &old_mask);
	/*
	 * The tree's orphans become our children: we learn how each ended (its
	 * wait status, e.g. SIGKILL from the OOM killer) for "ended_by".
	 */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
		mt_err("prctl(PR_SET_CHILD_SUBREAPER): %s: how orphaned processes ended stays unknown",
		       strerror(errno));
	fflush(NULL);
	posix_spawnattr_t attr;
	if (posix_spawnattr_init(&attr) != 0)
		mt_die(2, "posix_spawnattr_init failed");
	posix_spawnattr_setsigmask(&attr, &old_mask);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	pid_t pid;
	int exec_errno = posix_spawnp(&pid, prog[0], NULL, &attr, prog, environ);
	posix_spawnattr_destroy(&attr);
	if (exec_errno) {
		sigprocmask(SIG_SETMASK, &old_mask, NULL);
		if (created)
			rmdir(dir);
		mt_die(exec_errno == ENOENT ? 127 : 126, "cannot run %s: %s", prog[0],
		       strerror(exec_errno));
	}
	child_pid = pid;
	/* Ctrl-C goes to the whole foreground group: the program decides, we wait. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	struct sigaction sa = { .sa_handler = forward };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);

	/* PROGRAM and every orphan of the tree that ends before it. */
	int status;
	struct ending *ends = NULL;
	size_t nends = 0;
	for (;;) {
		int st;
		pid_t w = waitpid(-1, &st, 0);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			mt_die(2, "waitpid: %s", strerror(errno));
		}
		note_ending(&ends, &nends, w, st);
		if (w == pid) {
			status = st;
			break;
		}
	}
	child_pid = 0;
	/* Orphans that have ended since; those still running are left to run on. */
	for (;;) {
		int st;
		pid_t w = waitpid(-1, &st, WNOHANG);
		if (w <= 0)
			break;
		note_ending(&ends, &nends, w, st);
	}
	recover_tree(out_tpl, ends, nends);
	free(ends);

	bool top_found;
	summarize(dir, &before, pid, WIFSIGNALED(status), &top_found);
	if (dhat && lines) {
		/* The new DHAT files get file:line (each with its process's report for exact offsets). */
		struct names now = { 0 };
		list_files(dir, &now, is_dhat);
		for (size_t k = 0; k < now.n; k++) {
			if (!has_name(&dhat_before, now.v[k])) {
				char *p = mt_xasprintf("%s/%s", dir, now.v[k]);
				mt_lines_rewrite(p, NULL, NULL, true);
				free(p);
			}
			free(now.v[k]);
		}
		free(now.v);
	}
	int rc;
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		const char *name = sigabbrev_np(sig);
		mt_err("%s killed by SIG%s%s", prog[0], name ? name : "?",
		       WCOREDUMP(status) ? " (core dumped)" : "");
		if (!top_found)
			mt_err("pid %ld wrote no report: a SIGKILL leaves no time to write one, and it left "
			       "no state file to recover it from (MOD_ALLOC_STATE=0?)", (long)pid);
		rc = 128 + sig;
	} else {
		rc = WEXITSTATUS(status);
		if (rc)
			mt_err("%s exited with status %d", prog[0], rc);
	}
	mt_err("reports in %s (modalloc report %s)", dir, dir);
	for (size_t k = 0; k < before.n; k++)
		free(before.v[k]);
	free(before.v);
	for (size_t k = 0; k < dhat_before.n; k++)
		free(dhat_before.v[k]);
	free(dhat_before.v);
	free(out_tpl);
	free(dir);
	free(dir_arg);
	free(lib);
	return rc;
}
