/* SPDX-License-Identifier: Apache-2.0 */
/* ut.c: stderr capture, temporary directories, core quieting. */
#define _GNU_SOURCE
#include "ut.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fmt.h"
#include "init.h"
#include "report.h"

/* The lifecycle linked as the preload library has it: init.c (its
 * constructor registers the main thread) and report.c (the destructor). */
void (*const ut_lifecycle[])(void) = { ma_init_freeze, ma_report_at_exit_once };

void ut_init(void)
{
	ma_g.opt.report = 0;
	ma_g.opt.quiet = 1;
	ma_g.opt.dhat[0] = '\0';
	/* Start-up named the program (the test binary): the tests expect lines
	 * headed "modalloc: " alone unless they name it themselves. */
	ma_fmt_set_program("");
}

static int saved_fd = -1;
static int pipe_rd = -1;

void ut_capture_begin(void)
{
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	/* Big enough for anything a test writes: the pipe is drained only at the end. */
	fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
	saved_fd = dup(2);
	assert_true(saved_fd >= 0);
	assert_int_equal(dup2(p[1], 2), 2);
	close(p[1]);
	pipe_rd = p[0];
}

size_t ut_capture_end(char *out, size_t cap)
{
	assert_true(saved_fd >= 0);
	assert_int_equal(dup2(saved_fd, 2), 2);
	close(saved_fd);
	saved_fd = -1;
	size_t len = 0;
	for (;;) {
		char tmp[4096];
		ssize_t n = read(pipe_rd, tmp, sizeof tmp);
		if (n <= 0)
			break;
		size_t k = (size_t)n;
		if (len + k > cap - 1)
			k = cap - 1 - len;
		memcpy(out + len, tmp, k);
		len += k;
	}
	close(pipe_rd);
	pipe_rd = -1;
	out[len] = '\0';
	return len;
}

unsigned ut_count_lines(const char *s)
{
	unsigned n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

void ut_mkdtemp(char *out, size_t cap)
{
	assert_true(cap > 32);
	snprintf(out, cap, "/tmp/ma_unit.XXXXXX");
	assert_non_null(mkdtemp(out));
}

void ut_rmtree(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char p[4096];
		snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
			chmod(p, 0700);
			ut_rmtree(p);
		} else {
			unlink(p);
		}
	}
	closedir(d);
	rmdir(dir);
}

unsigned ut_dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	unsigned n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}
