/* SPDX-License-Identifier: Apache-2.0 */
/*
 * report_path.c: the output templates, expanded at write time and checked
 * once at start-up.
 *
 * A template that cannot work (an unknown %-escape, a missing or read-only
 * directory) would otherwise fail only at exit, when the whole run is lost:
 * it is checked here, said in one stderr line, and replaced by a template
 * that may work.  A template naming a directory (an existing one, or any
 * ending in '/') means "reports go in it".  Writing can still fail at exit
 * (the directory removed meanwhile, a full disk): report.c says so then.
 */
#define _GNU_SOURCE
#include "report_path.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "fmt.h"
#include "options.h"
#include "os.h"

ssize_t ma_report_expand_path(char *out, size_t cap, const char *tmpl, pid_t pid, const char *cwd)
{
	struct ma_buf b;
	if (!tmpl || !*tmpl || cap < 2)
		return -EINVAL;
	ma_buf_init(&b, out, cap, -1);
	if (tmpl[0] != '/' && cwd && *cwd) {
		ma_buf_str(&b, cwd);
		if (cwd[strlen(cwd) - 1] != '/')
			ma_buf_char(&b, '/');
	}
	for (const char *s = tmpl; *s; s++) {
		if (*s != '%') {
			ma_buf_char(&b, *s);
			continue;
		}
		s++;
		if (*s == 'p')
			ma_buf_u64(&b, (uint64_t)pid);
		else if (*s == '%')
			ma_buf_char(&b, '%');
		else
			return -EINVAL;
	}
	ma_buf_finish(&b);
	if (b.truncated)
		return -ENAMETOOLONG;
	if (b.len == 0 || out[b.len - 1] == '/')
		return -EINVAL;
	return (ssize_t)b.len;
}

/*
 * 0 when files can be created in dir, or -errno.  Where the file system has
 * O_TMPFILE this is a real attempt (an unnamed file, closed unnamed: nothing
 * appears), which also catches what access(2) passes for root (a read-only
 * file system); elsewhere access(2).
 */
static int can_create_in(const char *dir)
{
	int fd = ma_os_open_tmpfile(dir, 0600);
	if (fd >= 0) {
		ma_os_close(fd);
		return 0;
	}
	if (fd != -EOPNOTSUPP && fd != -EISDIR && fd != -EINVAL && fd != -ENOSYS)
		return fd;
	int r = ma_os_is_dir(dir);
	if (r < 0)
		return r;
	if (r == 0)
		return -ENOTDIR;
	return ma_os_access(dir, W_OK | X_OK);
}

/* MOD_ALLOC_OUT="x/y.json": cannot create files in "x": No such file or
 * directory; using 'modalloc.%p.json' instead.  Names are quoted as JSON
 * strings: a newline in one cannot break the line. */
static void warn_template(const char *var, const char *tmpl, const char *why, const char *dir,
                          int err, const char *fallback)
{
	char msg[1024];
	struct ma_buf b;
	ma_buf_init(&b, msg, sizeof msg, -1);
	ma_buf_str(&b, var);
	ma_buf_char(&b, '=');
	ma_buf_json_strn(&b, tmpl, strnlen(tmpl, 400));
	ma_buf_str(&b, ": ");
	ma_buf_str(&b, why);
	if (dir) {
		ma_buf_json_strn(&b, dir, strnlen(dir, 400));
		ma_buf_str(&b, ": ");
		const char *desc = strerrordesc_np(-err);
		ma_buf_str(&b, desc ? desc : "unknown error");
	}
	ma_buf_str(&b, "; using '");
	ma_buf_str(&b, fallback);
	ma_buf_str(&b, "' instead");
	ma_buf_finish(&b);
	ma_warn(msg, NULL, NULL, NULL);
}

/* Joins a and b into out (cap bytes); false when it does not fit. */
static bool join(char *out, size_t cap, const char *a, const char *sep, const char *b)
{
	struct ma_buf jb;
	ma_buf_init(&jb, out, cap, -1);
	ma_buf_str(&jb, a);
	ma_buf_str(&jb, sep);
	ma_buf_str(&jb, b);
	ma_buf_finish(&jb);
	return !jb.truncated;
}

bool ma_report_check_template(const char *var, char *tmpl, size_t cap, const char *fallback,
                              pid_t pid, const char *cwd)
{
	char cand[MA_PATH_MAX], path[MA_PATH_MAX];
	size_t len = strlen(tmpl);
	if (len == 0 || strcmp(tmpl, fallback) == 0)
		return true; /* none asked for, or the default: checked when written */
	const char *base = strrchr(fallback, '/');
	base = base ? base + 1 : fallback;
	ssize_t n;
	bool ok = true;
	if (tmpl[len - 1] == '/') {
		ok = join(cand, sizeof cand, tmpl, "", base);
	} else {
		n = ma_report_expand_path(path, sizeof path, tmpl, pid, cwd);
		if (n >= 0 && ma_os_is_dir(path) == 1)
			ok = join(cand, sizeof cand, tmpl, "/", base);
		else
			ok = join(cand, sizeof cand, tmpl, "", "");
	}
	n = ok ? ma_report_expand_path(path, sizeof path, cand, pid, cwd) : -ENAMETOOLONG;
	if (n == -EINVAL) {
		warn_template(var, tmpl, "unknown %-escape (%p = pid, %% = %)", NULL, 0, fallback);
	} else if (n < 0) {
		warn_template(var, tmpl, "the path is too long", NULL, 0, fallback);
	} else {
		/* The directory the file goes in. */
		char *slash = strrchr(path, '/');
		if (slash == path)
			slash[1] = '\0';
		else if (slash)
			*slash = '\0';
		else
			memcpy(path, ".", 2);
		int err = can_create_in(path);
		if (err == 0 && strlen(cand) < cap) {
			memcpy(tmpl, cand, strlen(cand) + 1);
			return true;
		}
		if (err == 0)
			err = -ENAMETOOLONG;
		warn_template(var, tmpl, "cannot create files in ", path, err, fallback);
	}
	memcpy(tmpl, fallback, strlen(fallback) + 1);
	return false;
}
