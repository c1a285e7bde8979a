/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_live.c: a running profiled process seen from outside (issue 13).
 * `modalloc snapshot PID [-o FILE]` writes its current report ("live": true)
 * and `modalloc top PID` shows its live heap refreshed in the terminal.  Both
 * only read the state file the process keeps (state.h): the process is never
 * stopped, signalled or slowed.  Only its own user can: the state file is
 * 0600 in a directory only that user can list.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cmds.h"
#include "model.h"
#include "state.h"
#include "util.h"

/*
 * The state file of a running process of ours, or a clear death: no such
 * process, another user's, not profiled (or without a state file).
 */
static void find_running(const char *cmd, const char *arg, pid_t *pid, char *path, size_t cap)
{
	uint64_t v;
	if (mt_parse_u64(arg, &v) != 0 || v == 0 || v > INT32_MAX)
		mt_die(2, "%s: %s is not a process id", cmd, arg);
	*pid = (pid_t)v;
	char proc[64];
	snprintf(proc, sizeof proc, "/proc/%d", (int)*pid);
	struct stat st;
	if (stat(proc, &st) != 0)
		mt_die(1, "%s: no process %d is running (for a process that died without a report: "
		          "modalloc recover %d)", cmd, (int)*pid, (int)*pid);
	if (st.st_uid != geteuid())
		mt_die(1, "%s: process %d belongs to another user (uid %u): only its own user can read "
		          "its state (the state file is private to that user, mode 0600)",
		       cmd, (int)*pid, (unsigned)st.st_uid);
	if (mt_state_find(*pid, path, cap) != 0) {
		char dir[4096];
		if (mt_state_dir(dir, sizeof dir) != 0)
			snprintf(dir, sizeof dir, "the state directory (none exists)");
		mt_die(1, "%s: process %d has no state file in %s: it does not run under "
		          "libmodalloc.so, or runs with MOD_ALLOC_STATE=0 or another MOD_ALLOC_STATE_DIR",
		       cmd, (int)*pid, dir);
	}
}

/* The peak resident set of pid in bytes (/proc/PID/status VmHWM), 0 if unknown. */
static uint64_t rss_peak_of(pid_t pid)
{
	char p[64], line[256];
	snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
	FILE *f = fopen(p, "r");
	if (!f)
		return 0;
	unsigned long long kb = 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmHWM: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb * 1024;
}

static const char snapshot_usage[] =
	"usage: modalloc snapshot PID [-o FILE]\n"
	"Writes the current report of a running profiled process (same JSON format\n"
	"as its report at exit, marked \"live\": true) without stopping or slowing it:\n"
	"it only reads the state file the process keeps. By default the report goes\n"
	"where the process would write its own, with .snapshot before .json\n"
	"(modalloc.PID.snapshot.json; then modalloc.PID.snapshot.1.json, ...: never\n"
	"replacing a file, and never read as a report of the run by `modalloc report\n"
	"DIR`). Only the process's own user can take one.\n"
	"\n"
	"  -o, --output FILE   write it to FILE instead (replaced if it exists; - for stdout)\n";

/* "dir/name.json" -> "dir/name.snapshot.json" (no extension: name.snapshot). */
static char *snapshot_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(path, '.');
	if (!dot || (slash && dot < slash) || dot == (slash ? slash + 1 : path))
		dot = path + strlen(path);
	return mt_xasprintf("%.*s.snapshot%s", (int)(dot - path), path, dot);
}

int mt_cmd_snapshot(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL;
	int c;
	while ((c = mt_getopt(argc, argv, ":ho:", longopts, "snapshot", snapshot_usage)) != -1)
		if (c == 'o')
			out = optarg;
	if (optind >= argc)
		mt_die(2, "snapshot: no PID given (see modalloc snapshot --help)");
	if (argc - optind > 1)
		mt_die(2, "snapshot: takes one PID");
	if (out && !*out)
		mt_die(2, "snapshot: --output: empty file name");
	pid_t pid;
	char path[4096], err[1024];
	find_running("snapshot", argv[optind], &pid, path, sizeof path);
	struct mt_report *r;
	struct mt_state_info info;
	if (mt_state_load_info(path, true, &r, &info, err, sizeof err) != 0)
		mt_die(1, "snapshot: %s", err);
	if (!mt_state_running(info.pid, info.start_ticks))
		mt_die(1, "snapshot: process %d ended while it was read (modalloc recover %d, if it left "
		          "no report)", (int)pid, (int)pid);
	/* What the library's own report says at exit: the peak RSS so far. */
	r->totals.rss_peak_bytes = rss_peak_of(pid);
	char *json = mt_report_to_json(r);
	int status = 0;
	if (out && strcmp(out, "-") == 0) {
		if (puts(json) == EOF || fflush(stdout) != 0)
			mt_die(1, "snapshot: stdout: %s", strerror(errno));
	} else if (out) {
		/* 0600 as the library's reports: it tells about the process's memory. */
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (!f)
			mt_die(1, "snapshot: %s: %s", out, strerror(errno));
		fputs(json, f);
		fputc('\n', f);
		if (fclose(f) != 0)
			mt_die(1, "snapshot: %s: %s", out, strerror(errno));
		fprintf(stderr, "modalloc: snapshot of pid %d (%s): %s\n", (int)pid, r->cmd, out);
	} else {
		char *dst = mt_report_path_expand(info.out_template ? info.out_template : "modalloc.%p.json",
		                                  (int)pid, info.cwd ? info.cwd : "");
		if (!dst)
			mt_die(1, "snapshot: its MOD_ALLOC_OUT template cannot be expanded: use -o FILE");
		char *name = snapshot_name(dst), *final = NULL;
		int e = mt_write_noreplace(name, json, &final);
		if (e)
			mt_die(1, "snapshot: cannot write %s: %s (use -o FILE)", name, strerror(-e));
		fprintf(stderr, "modalloc: snapshot of pid %d (%s): %s\n", (int)pid, r->cmd, final);
		free(final);
		free(name);
		free(dst);
	}
	free(json);
	mt_state_info_free(&info);
	mt_report_free(r);
	return status;
}

/* ---- top ---- */

static const char top_usage[] =
	"usage: modalloc top PID [--interval SEC] [-n SITES]\n"
	"Shows a running profiled process's heap, refreshed in the terminal: live\n"
	"bytes and blocks, their change since the last refresh and since top\n"
	"started, the peak, RSS, the allocation rate, and the call sites holding the\n"
	"most live memory with their change since the last refresh (functions\n"
	"innermost first, as `modalloc report` labels them). It only reads the state\n"
	"file the process keeps: the process is not stopped or slowed. q or Ctrl-C\n"
	"quits; top ends by itself when the process ends.\n"
	"\n"
	"  --interval SEC   seconds between refreshes (default 1; 0.1 to 3600)\n"
	"  -n SITES         call sites shown (default: as many as the terminal holds)\n";

static volatile sig_atomic_t top_stop, top_resized;

static void on_stop(int sig)
{
	(void)sig;
	top_stop = 1;
}

static void on_winch(int sig)
{
	(void)sig;
	top_resized = 1;
}

static struct termios saved_tio;
static bool tio_saved, screen_on;

static void term_restore(void)
{
	if (screen_on) {
		fputs("\033[?25h\033[?1049l", stdout);
		fflush(stdout);
		screen_on = false;
	}
	if (tio_saved) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
		tio_saved = false;
	}
}

/* The resident set of pid in bytes (/proc/PID/statm), 0 if unknown. */
static uint64_t rss_of(pid_t pid)
{
	char p[64], buf[256];
	snprintf(p, sizeof p, "/proc/%d/statm", (int)pid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	unsigned long long size, res;
	if (sscanf(buf, "%llu %llu", &size, &res) != 2)
		return 0;
	return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* "12.3 MiB" */
static const char *human(uint64_t v, char *buf, size_t cap)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double d = (double)v;
	size_t u = 0;
	while (d >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, cap, "%" PRIu64 " B", v);
	else
		snprintf(buf, cap, "%.1f %s", d, units[u]);
	return buf;
}

static int64_t diff64(uint64_t now, uint64_t before)
{
	return now >= before ? (int64_t)(now - before) : -(int64_t)(before - now);
}

struct prev_site {
	char *key;
	uint64_t live_bytes;
};

static int by_live_desc(const void *a, const void *b)
{
	const struct mt_site *x = *(const struct mt_site *const *)a, *y = *(const struct mt_site *const *)b;
	if (x->live_bytes != y->live_bytes)
		return x->live_bytes > y->live_bytes ? -1 : 1;
	return strcmp(x->key ? x->key : "", y->key ? y->key : "");
}

static uint64_t prev_live(const struct prev_site *p, size_t n, const char *key)
{
	for (size_t i = 0; key && i < n; i++)
		if (strcmp(p[i].key, key) == 0)
			return p[i].live_bytes;
	return 0;
}

/* One screen; the line count kept within rows when rows > 0. */
static void draw(const struct mt_report *r, pid_t pid, double interval,
                 const struct mt_report *prev, const struct mt_report *first, double dt,
                 const struct prev_site *psites, size_t npsites, long nshow, int rows, int cols)
{
	const struct mt_totals *t = &r->totals;
	char h1[32], h2[32];
	int line = 0;
	if (cols < 40)
		cols = 40;
	printf("\033[H\033[2J");
	printf("modalloc top: pid %d (%.*s)  up %.0fs  refresh %gs  [q quits]\r\n", (int)pid,
	       cols > 60 ? cols - 60 : 20, r->cmd ? r->cmd : "?", (double)r->wall_ns / 1e9, interval);
	printf("\r\n");
	printf("live heap    %" PRIu64 " bytes (%s) in %" PRIu64 " blocks\r\n", t->live_bytes,
	       human(t->live_bytes, h1, sizeof h1), t->live_blocks);
	printf("change       %+" PRId64 " bytes, %+" PRId64 " blocks since the last refresh\r\n",
	       diff64(t->live_bytes, prev->totals.live_bytes), diff64(t->live_blocks, prev->totals.live_blocks));
	printf("growth       %+" PRId64 " bytes, %+" PRId64 " blocks since top started\r\n",
	       diff64(t->live_bytes, first->totals.live_bytes), diff64(t->live_blocks, first->totals.live_blocks));
	printf("peak         %" PRIu64 " bytes (%s) in %" PRIu64 " blocks\r\n", t->peak_bytes,
	       human(t->peak_bytes, h1, sizeof h1), t->peak_blocks);
	uint64_t rss = rss_of(pid);
	printf("RSS          %" PRIu64 " bytes (%s)\r\n", rss, human(rss, h2, sizeof h2));
	uint64_t db = t->blocks - (t->blocks >= prev->totals.blocks ? prev->totals.blocks : t->blocks);
	uint64_t dB = t->bytes - (t->bytes >= prev->totals.bytes ? prev->totals.bytes : t->bytes);
	printf("rate         %.0f allocations/s, %s/s allocated (%" PRIu64 " allocations, %" PRIu64
	       " bytes in total)\r\n", dt > 0 ? (double)db / dt : 0.0,
	       human(dt > 0 ? (uint64_t)((double)dB / dt) : 0, h1, sizeof h1), t->blocks, t->bytes);
	printf("threads      %" PRIu64 "\r\n", r->threads);
	printf("\r\n");
	line = 10;
	if (!r->nsites) {
		printf("no call sites: the state file keeps none (totals only)\r\n");
		return;
	}
	printf("%14s %14s %10s  %s\r\n", "LIVE BYTES", "CHANGE", "BLOCKS", "CALL SITE (innermost first)");
	line++;
	const struct mt_site **v = mt_xmalloc(r->nsites * sizeof *v);
	size_t nv = 0;
	for (size_t i = 0; i < r->nsites; i++)
		if (r->sites[i].live_bytes || prev_live(psites, npsites, r->sites[i].key))
			v[nv++] = &r->sites[i];
	qsort(v, nv, sizeof *v, by_live_desc);
	size_t limit = nv;
	if (nshow >= 0 && (size_t)nshow < limit)
		limit = (size_t)nshow;
	if (nshow < 0 && rows > 0)
		limit = rows - line - 1 > 0 ? (size_t)(rows - line - 1) < limit ? (size_t)(rows - line - 1) : limit : 0;
	for (size_t i = 0; i < limit; i++) {
		const struct mt_site *s = v[i];
		char *stack = mt_site_stack_line(s, 8);
		int room = cols - 43;
		printf("%14" PRIu64 " %+14" PRId64 " %10" PRIu64 "  %.*s\r\n", s->live_bytes,
		       diff64(s->live_bytes, prev_live(psites, npsites, s->key)), s->live_blocks,
		       room > 10 ? room : 10, stack);
		free(stack);
	}
	if (limit < nv)
		printf("(%zu more call sites)\r\n", nv - limit);
	free(v);
}

static void keep_sites(const struct mt_report *r, struct prev_site **p, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*p)[i].key);
	free(*p);
	*p = mt_xmalloc((r->nsites + 1) * sizeof **p);
	*n = 0;
	for (size_t i = 0; i < r->nsites; i++)
		if (r->sites[i].key) {
			(*p)[*n].key = mt_xstrdup(r->sites[i].key);
			(*p)[(*n)++].live_bytes = r->sites[i].live_bytes;
		}
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int mt_cmd_top(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "interval", required_argument, NULL, 'i' },
		{ "sites", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	double interval = 1.0;
	long nshow = -1;
	int c;
	while ((c = mt_getopt(argc, argv, ":hi:n:", longopts, "top", top_usage)) != -1) {
		char *end;
		if (c == 'i') {
			errno = 0;
			interval = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(interval >= 0.1 && interval <= 3600))
				mt_die(2, "top: --interval: %s is not a number of seconds from 0.1 to 3600", optarg);
		} else if (c == 'n') {
			uint64_t v;
			if (mt_parse_u64(optarg, &v) != 0 || v > 100000)
				mt_die(2, "top: -n: %s is not a number of call sites (0 to 100000)", optarg);
			nshow = (long)v;
		}
	}
	if (optind >= argc)
		mt_die(2, "top: no PID given (see modalloc top --help)");
	if (argc - optind > 1)
		mt_die(2, "top: takes one PID");
	pid_t pid;
	char path[4096], err[1024];
	find_running("top", argv[optind], &pid, path, sizeof path);
	struct mt_report *first, *prev, *cur;
	struct mt_state_info info;
	if (mt_state_load_info(path, true, &first, &info, err, sizeof err) != 0)
		mt_die(1, "top: %s", err);
	uint64_t start_ticks = info.start_ticks;
	mt_state_info_free(&info);
	if (mt_state_load(path, true, &prev, err, sizeof err) != 0)
		mt_die(1, "top: %s", err);

	struct sigaction sa = { .sa_handler = on_stop };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_winch;
	sigaction(SIGWINCH, &sa, NULL);
	bool tty = isatty(STDOUT_FILENO);
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_tio) == 0) {
		struct termios raw = saved_tio;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
			tio_saved = true;
	}
	if (tty) {
		fputs("\033[?1049h\033[?25l", stdout);
		screen_on = true;
	}
	atexit(term_restore);

	struct prev_site *psites = NULL;
	size_t npsites = 0;
	keep_sites(prev, &psites, &npsites);
	double tprev = now_s();
	bool first_draw = true;
	const char *why = NULL;
	int status = 0;
	while (!top_stop) {
		double t = now_s();
		if (!mt_state_running(pid, start_ticks)) {
			why = "ended";
			break;
		}
		if (mt_state_load(path, true, &cur, err, sizeof err) != 0) {
			if (!mt_state_running(pid, start_ticks)) {
				why = "ended";
			} else {
				why = err;
				status = 1;
			}
			break;
		}
		int rows = 0, cols = 80;
		struct winsize ws;
		if (tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
			rows = ws.ws_row;
			cols = ws.ws_col;
		}
		draw(cur, pid, interval, prev, first, first_draw ? 0 : t - tprev, psites, npsites,
		     nshow, rows, cols);
		if (!tty)
			printf("\r\n");
		fflush(stdout);
		first_draw = false;
		keep_sites(cur, &psites, &npsites);
		mt_report_free(prev);
		prev = cur;
		tprev = t;
		/* Wait for the next refresh, a key, a signal or a resize. */
		double until = t + interval;
		while (!top_stop && !top_resized) {
			double left = until - now_s();
			if (left <= 0)
				break;
			struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
			int n = poll(&pfd, tio_saved ? 1 : 0, (int)(left * 1000) + 1);
			if (n > 0 && (pfd.revents & POLLIN)) {
				char k;
				ssize_t got = read(STDIN_FILENO, &k, 1);
				if (got == 1 && (k == 'q' || k == 'Q' || k == 3))
					top_stop = 1;
			}
		}
		top_resized = 0;
	}
	term_restore();
	if (why && strcmp(why, "ended") == 0)
		fprintf(stderr, "modalloc: top: process %d ended (its report is written at exit; "
		                "modalloc recover %d if it was killed)\n", (int)pid, (int)pid);
	else if (why)
		mt_err("top: %s", why);
	for (size_t i = 0; i < npsites; i++)
		free(psites[i].key);
	free(psites);
	mt_report_free(prev);
	mt_report_free(first);
	return status;
}
