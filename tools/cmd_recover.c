/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_recover.c: `modalloc recover [PID|PATH...]`: the report of a process
 * that died without writing one (SIGKILL, the OOM killer), rebuilt from the
 * state file it kept (state.h) and written where the process would have
 * written it (its MOD_ALLOC_OUT, the library's naming rules: %p, %%, relative
 * to its start-up directory, never replacing a report).  The state file is
 * then deleted.  A running process is refused: `modalloc snapshot` is for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "model.h"
#include "state.h"
#include "util.h"

static const char usage[] =
	"usage: modalloc recover [PID|STATE-FILE...]\n"
	"Writes the report of a profiled process that ended without one (SIGKILL,\n"
	"the OOM killer) from the state file it kept from start-up, where the\n"
	"process would have written it (its MOD_ALLOC_OUT), marked \"recovered\": true;\n"
	"then deletes the state file. Without arguments: every state file of this\n"
	"user's processes that are gone. Totals, calls and the peak are exact up to\n"
	"the allocations in flight when the process died (at most one per thread).\n"
	"A running process is refused (see `modalloc snapshot`).\n"
	"State files live in MOD_ALLOC_STATE_DIR, else $XDG_RUNTIME_DIR/modalloc,\n"
	"else /dev/shm/modalloc-UID.\n";

/* The library's expansion (src/report_path.c): %p = pid, %% = %, relative to cwd. */
static char *expand(const char *tmpl, pid_t pid, const char *cwd)
{
	size_t cap = strlen(tmpl) * 12 + strlen(cwd) + 32, n = 0;
	char *out = mt_xmalloc(cap);
	if (tmpl[0] != '/' && cwd[0]) {
		n = (size_t)snprintf(out, cap, "%s%s", cwd, cwd[strlen(cwd) - 1] == '/' ? "" : "/");
	}
	for (const char *s = tmpl; *s; s++) {
		if (*s != '%') {
			out[n++] = *s;
		} else if (s[1] == 'p') {
			n += (size_t)snprintf(out + n, cap - n, "%d", (int)pid);
			s++;
		} else if (s[1] == '%') {
			out[n++] = '%';
			s++;
		} else {
			free(out);
			return NULL;
		}
	}
	out[n] = '\0';
	if (n == 0 || out[n - 1] == '/') {
		free(out);
		return NULL;
	}
	return out;
}

/* "dir/name.json" + n -> "dir/name.n.json" (the library's with_suffix). */
static char *with_suffix(const char *path, unsigned n)
{
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(path, '.');
	if (!dot || (slash && dot < slash) || dot == (slash ? slash + 1 : path))
		dot = path + strlen(path);
	return mt_xasprintf("%.*s.%u%s", (int)(dot - path), path, n, dot);
}

/* Writes text under path or path.N, never replacing; the name in *final. */
static int write_noreplace(const char *path, const char *text, char **final)
{
	for (unsigned i = 0; i < 10000; i++) {
		char *p = i ? with_suffix(path, i) : mt_xstrdup(path);
		int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno == EEXIST) {
			free(p);
			continue;
		}
		if (fd < 0) {
			int e = errno;
			free(p);
			return -e;
		}
		size_t len = strlen(text), done = 0;
		while (done < len) {
			ssize_t w = write(fd, text + done, len - done);
			if (w <= 0) {
				int e = w < 0 ? errno : EIO;
				close(fd);
				unlink(p);
				free(p);
				return -e;
			}
			done += (size_t)w;
		}
		if (write(fd, "\n", 1) != 1 || close(fd) != 0) {
			unlink(p);
			free(p);
			return -EIO;
		}
		*final = p;
		return 0;
	}
	return -EEXIST;
}

int mt_state_recover(const char *path, const char *ended_by, char **written)
{
	if (written)
		*written = NULL;
	char err[1024];
	struct mt_report *r;
	struct mt_state_info info;
	if (mt_state_load_info(path, false, &r, &info, err, sizeof err) != 0) {
		mt_err("%s", err);
		return 1;
	}
	if (ended_by)
		r->ended_by = mt_xstrdup(ended_by);
	int status = 1;
	if (mt_state_running(info.pid, info.start_ticks)) {
		mt_err("%s: process %d is still running: use `modalloc snapshot %d` for its report so far",
		       path, (int)info.pid, (int)info.pid);
		goto out;
	}
	if (info.clean_exit) {
		/* It wrote its own report and was ending: nothing to recover. */
		unlink(path);
		status = 0;
		goto out;
	}
	char *dst = expand(info.out_template ? info.out_template : "modalloc.%p.json", info.pid,
	                   info.cwd ? info.cwd : "");
	if (!dst) {
		mt_err("%s: its MOD_ALLOC_OUT template cannot be expanded", path);
		goto out;
	}
	char *json = mt_report_to_json(r), *final = NULL;
	int e = write_noreplace(dst, json, &final);
	free(json);
	if (e) {
		mt_err("%s: cannot write the report %s: %s (the state file is kept)", path, dst, strerror(-e));
		free(dst);
		goto out;
	}
	if (info.dhat_template)
		mt_err("pid %d: no DHAT file recovered (its call sites are in the recovered JSON report)", (int)info.pid);
	if (info.incomplete)
		mt_err("pid %d: its state outgrew the state file: the recovered counts may be short",
		       (int)info.pid);
	fprintf(stderr, "modalloc: recovered pid %d (%s): report %s\n", (int)info.pid, r->cmd, final);
	unlink(path);
	if (written)
		*written = final;
	else
		free(final);
	free(dst);
	status = 0;
out:
	mt_state_info_free(&info);
	mt_report_free(r);
	return status;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

int mt_cmd_recover(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	while (mt_getopt(argc, argv, ":h", longopts, "recover", usage) != -1)
		;
	int status = 0;
	if (optind >= argc) {
		struct mt_state_entry *e;
		int n = mt_state_list(false, &e);
		if (n <= 0) {
			char dir[4096];
			if (mt_state_dir(dir, sizeof dir) == 0)
				fprintf(stderr, "modalloc: recover: no state file of a finished process in %s\n", dir);
			else
				fprintf(stderr, "modalloc: recover: no state directory (nothing to recover)\n");
			mt_state_list_free(e, 0);
			return 0;
		}
		for (int i = 0; i < n; i++)
			status |= mt_state_recover(e[i].path, NULL, NULL);
		mt_state_list_free(e, (size_t)n);
		return status;
	}
	for (int i = optind; i < argc; i++) {
		const char *a = argv[i];
		if (all_digits(a) && !strchr(a, '/')) {
			uint64_t pid;
			char path[4096];
			if (mt_parse_u64(a, &pid) != 0 || pid == 0 || pid > INT32_MAX) {
				mt_err("recover: %s is not a process id", a);
				status = 1;
				continue;
			}
			int r = mt_state_find((pid_t)pid, path, sizeof path);
			if (r != 0) {
				mt_err("recover: no state file for pid %s (it exited normally, ran without "
				       "MOD_ALLOC_STATE, or was recovered already)", a);
				status = 1;
				continue;
			}
			status |= mt_state_recover(path, NULL, NULL);
		} else {
			status |= mt_state_recover(a, NULL, NULL);
		}
	}
	return status;
}

/* For snapshot (cmd_live.c): see cmds.h. */
char *mt_report_path_expand(const char *tmpl, int pid, const char *cwd)
{
	return expand(tmpl, pid, cwd);
}

int mt_write_noreplace(const char *path, const char *text, char **final)
{
	return write_noreplace(path, text, final);
}
