/* SPDX-License-Identifier: Apache-2.0 */
/* test_report.c: report path templates and the safe file writer. */
#define _GNU_SOURCE
#include "ut.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fmt.h"
#include "init.h"
#include "report.h"

/* ---- ma_report_expand_path ---- */

static void expect_path(const char *tmpl, pid_t pid, const char *cwd, const char *want)
{
	char out[MA_PATH_MAX];
	ssize_t n = ma_report_expand_path(out, sizeof out, tmpl, pid, cwd);
	if (n < 0 || strcmp(out, want) || (size_t)n != strlen(want))
		fail_msg("'%s' in '%s': got %zd '%s', want '%s'", tmpl, cwd ? cwd : "(null)", n,
		         n < 0 ? "" : out, want);
}

static void expect_error(const char *tmpl, const char *cwd, size_t cap, ssize_t err)
{
	char out[MA_PATH_MAX];
	ssize_t n = ma_report_expand_path(out, cap, tmpl, 1234, cwd);
	if (n != err)
		fail_msg("'%s' (cap %zu): got %zd, want %zd", tmpl ? tmpl : "(null)", cap, n, err);
}

static void test_expand_pid_and_percent(void **state)
{
	(void)state;
	expect_path("r.%p.json", 1234, "/home/u", "/home/u/r.1234.json");
	expect_path("%p", 7, "/", "/7");
	expect_path("%p%p", 2147483647, "/", "/21474836472147483647");
	expect_path("a%%b", 1, "/d", "/d/a%b");
	expect_path("a%%p", 1, "/d", "/d/a%p");
	expect_path("%%%p", 42, "/d", "/d/%42");
	expect_path("%%", 42, "/d", "/d/%");
}

static void test_expand_relative_absolute(void **state)
{
	(void)state;
	expect_path("out/r.json", 1, "/a/b", "/a/b/out/r.json");
	expect_path("r.json", 1, "/a/b/", "/a/b/r.json");
	expect_path("r.json", 1, "/", "/r.json");
	expect_path("/abs/%p.json", 9, "/ignored", "/abs/9.json");
	/* No start-up directory known: the relative path stays relative. */
	expect_path("r.%p", 5, NULL, "r.5");
	expect_path("r.%p", 5, "", "r.5");
	expect_path("./r", 5, "/x", "/x/./r");
}

static void test_expand_bad_templates(void **state)
{
	(void)state;
	expect_error("r.%x.json", "/d", MA_PATH_MAX, -EINVAL);
	expect_error("r.%P", "/d", MA_PATH_MAX, -EINVAL);
	expect_error("r%", "/d", MA_PATH_MAX, -EINVAL);
	expect_error("%", "/d", MA_PATH_MAX, -EINVAL);
	expect_error("%%%", "/d", MA_PATH_MAX, -EINVAL);
	expect_error("", "/d", MA_PATH_MAX, -EINVAL);
	expect_error(NULL, "/d", MA_PATH_MAX, -EINVAL);
	/* A directory is not a file name. */
	expect_error("dir/", "/d", MA_PATH_MAX, -EINVAL);
	expect_error("/", "/d", MA_PATH_MAX, -EINVAL);
	expect_error("r", "/d", 1, -EINVAL);
	expect_error("r", "/d", 0, -EINVAL);
}

static void test_expand_too_long(void **state)
{
	(void)state;
	char out[64];
	/* "/d/abc" is 6 bytes: fits in 7, not in 6. */
	assert_int_equal(ma_report_expand_path(out, 7, "abc", 1, "/d"), 6);
	assert_string_equal(out, "/d/abc");
	assert_int_equal(ma_report_expand_path(out, 6, "abc", 1, "/d"), -ENAMETOOLONG);
	/* The pid's digits count. */
	assert_int_equal(ma_report_expand_path(out, 7, "/r%p", 1234, NULL), 6);
	assert_int_equal(ma_report_expand_path(out, 6, "/r%p", 1234, NULL), -ENAMETOOLONG);
	/* The directory alone overflows. */
	static char longcwd[MA_PATH_MAX + 10];
	longcwd[0] = '/';
	memset(longcwd + 1, 'c', MA_PATH_MAX);
	char big[MA_PATH_MAX];
	assert_int_equal(ma_report_expand_path(big, sizeof big, "r", 1, longcwd), -ENAMETOOLONG);
}

/* ---- ma_report_write_file ---- */

static char dir[256];

static int setup_dir(void **state)
{
	(void)state;
	ut_mkdtemp(dir, sizeof dir);
	return 0;
}

static int teardown_dir(void **state)
{
	(void)state;
	ut_rmtree(dir);
	return 0;
}

static struct ma_report rep(pid_t pid)
{
	struct ma_report r;
	memset(&r, 0, sizeof r);
	r.pid = pid;
	return r;
}

static void write_hello(struct ma_buf *b, const struct ma_report *r)
{
	ma_buf_str(b, "hello ");
	ma_buf_u64(b, (uint64_t)r->pid);
	ma_buf_char(b, '\n');
}

/* 40 000 bytes: more than the writer's 16 KiB buffer. */
static void write_big(struct ma_buf *b, const struct ma_report *r)
{
	(void)r;
	for (unsigned i = 0; i < 4000; i++)
		ma_buf_str(b, "0123456789");
}

static void slurp(const char *path, char *out, size_t cap)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW);
	if (fd < 0)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	ssize_t n = read(fd, out, cap - 1);
	close(fd);
	assert_true(n >= 0);
	out[n] = '\0';
}

static void put_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void test_write_basic(void **state)
{
	(void)state;
	char tmpl[512], want[512], final[512], text[256];
	snprintf(tmpl, sizeof tmpl, "%s/r.%%p.json", dir);
	snprintf(want, sizeof want, "%s/r.4242.json", dir);
	struct ma_report r = rep(4242);
	mode_t old = umask(0);
	int err = ma_report_write_file(tmpl, write_hello, &r, final, sizeof final);
	umask(old);
	assert_int_equal(err, 0);
	assert_string_equal(final, want);
	slurp(want, text, sizeof text);
	assert_string_equal(text, "hello 4242\n");
	struct stat st;
	assert_int_equal(lstat(want, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	/* 0600 even with umask 0: the report can hold paths and command lines. */
	assert_int_equal(st.st_mode & 07777, 0600);
	/* No temporary file left beside it. */
	assert_int_equal(ut_dir_entries(dir), 1);
}

static void test_write_big_and_relative(void **state)
{
	(void)state;
	char saved[sizeof ma_g.cwd], want[512], final[512];
	memcpy(saved, ma_g.cwd, sizeof saved);
	snprintf(ma_g.cwd, sizeof ma_g.cwd, "%s", dir);
	struct ma_report r = rep(1);
	int err = ma_report_write_file("rel.json", write_big, &r, final, sizeof final);
	memcpy(ma_g.cwd, saved, sizeof saved);
	assert_int_equal(err, 0);
	snprintf(want, sizeof want, "%s/rel.json", dir);
	assert_string_equal(final, want);
	static char text[65536];
	slurp(want, text, sizeof text);
	assert_int_equal(strlen(text), 40000);
	for (size_t i = 0; i < 40000; i++)
		if (text[i] != (char)('0' + i % 10))
			fail_msg("byte %zu is '%c'", i, text[i]);
	assert_int_equal(ut_dir_entries(dir), 1);
}

static void test_never_overwrites(void **state)
{
	(void)state;
	char tmpl[512], p[512], final[512], text[256];
	snprintf(tmpl, sizeof tmpl, "%s/r.json", dir);
	snprintf(p, sizeof p, "%s/r.json", dir);
	put_file(p, "old");
	struct ma_report r = rep(10);
	assert_int_equal(ma_report_write_file(tmpl, write_hello, &r, final, sizeof final), 0);
	snprintf(p, sizeof p, "%s/r.1.json", dir);
	assert_string_equal(final, p);
	r.pid = 11;
	assert_int_equal(ma_report_write_file(tmpl, write_hello, &r, final, sizeof final), 0);
	snprintf(p, sizeof p, "%s/r.2.json", dir);
	assert_string_equal(final, p);

	snprintf(p, sizeof p, "%s/r.json", dir);
	slurp(p, text, sizeof text);
	assert_string_equal(text, "old");
	snprintf(p, sizeof p, "%s/r.1.json", dir);
	slurp(p, text, sizeof text);
	assert_string_equal(text, "hello 10\n");
	snprintf(p, sizeof p, "%s/r.2.json", dir);
	slurp(p, text, sizeof text);
	assert_string_equal(text, "hello 11\n");
	assert_int_equal(ut_dir_entries(dir), 3);
}

static void test_suffix_placement(void **state)
{
	(void)state;
	static const struct {
		const char *name, *want;
	} c[] = {
		{ "report", "report.1" },
		{ ".hidden", ".hidden.1" },
		{ "a.b.json", "a.b.1.json" },
		{ "sub.d/report", "sub.d/report.1" },
	};
	char p[512];
	snprintf(p, sizeof p, "%s/sub.d", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	for (size_t i = 0; i < MA_ARRAY_LEN(c); i++) {
		char tmpl[512], want[512], final[512];
		snprintf(tmpl, sizeof tmpl, "%s/%s", dir, c[i].name);
		put_file(tmpl, "x");
		struct ma_report r = rep(1);
		assert_int_equal(ma_report_write_file(tmpl, write_hello, &r, final, sizeof final), 0);
		snprintf(want, sizeof want, "%s/%s", dir, c[i].want);
		assert_string_equal(final, want);
	}
}

static void test_symlink_not_followed(void **state)
{
	(void)state;
	char tmpl[512], victim[512], final[512], want[512], text[256], lnk[512];
	snprintf(tmpl, sizeof tmpl, "%s/r.json", dir);
	snprintf(victim, sizeof victim, "%s/victim", dir);
	assert_int_equal(symlink(victim, tmpl), 0); /* dangling: would create victim */
	struct ma_report r = rep(3);
	assert_int_equal(ma_report_write_file(tmpl, write_hello, &r, final, sizeof final), 0);
	snprintf(want, sizeof want, "%s/r.1.json", dir);
	assert_string_equal(final, want);
	struct stat st;
	assert_int_equal(lstat(victim, &st), -1);
	assert_int_equal(lstat(tmpl, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	ssize_t n = readlink(tmpl, lnk, sizeof lnk - 1);
	assert_true(n > 0);
	lnk[n] = '\0';
	assert_string_equal(lnk, victim);

	/* A symlink to an existing file: the file keeps its content. */
	put_file(victim, "precious");
	assert_int_equal(ma_report_write_file(tmpl, write_hello, &r, final, sizeof final), 0);
	snprintf(want, sizeof want, "%s/r.2.json", dir);
	assert_string_equal(final, want);
	slurp(victim, text, sizeof text);
	assert_string_equal(text, "precious");
	assert_int_equal(ut_dir_entries(dir), 4);
}

static void test_missing_directory(void **state)
{
	(void)state;
	char tmpl[512], final[512] = "untouched";
	snprintf(tmpl, sizeof tmpl, "%s/nope/r.json", dir);
	struct ma_report r = rep(3);
	assert_int_equal(ma_report_write_file(tmpl, write_hello, &r, final, sizeof final), -ENOENT);
	assert_string_equal(final, "untouched");
	assert_int_equal(ut_dir_entries(dir), 0);
	/* A bad template: nothing attempted. */
	snprintf(tmpl, sizeof tmpl, "%s/r.%%q", dir);
	assert_int_equal(ma_report_write_file(tmpl, write_hello, &r, final, sizeof final), -EINVAL);
	assert_int_equal(ut_dir_entries(dir), 0);
}

/* Runs fn in a child process (privileges and limits stay there); its exit code is the result. */
static int in_child(int (*fn)(void))
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn());
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static char ro_dir[512];

static int write_into_ro(void)
{
	/* root ignores permissions: become nobody first. */
	if (geteuid() == 0 && (setgid(65534) || setuid(65534)))
		return 100;
	char tmpl[600];
	snprintf(tmpl, sizeof tmpl, "%s/r.json", ro_dir);
	struct ma_report r = rep(3);
	int err = ma_report_write_file(tmpl, write_hello, &r, NULL, 0);
	return err == -EACCES ? 0 : 101;
}

static void test_unwritable_directory(void **state)
{
	(void)state;
	snprintf(ro_dir, sizeof ro_dir, "%s/ro", dir);
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(mkdir(ro_dir, 0555), 0);
	assert_int_equal(chmod(ro_dir, 0555), 0);
	assert_int_equal(in_child(write_into_ro), 0);
	assert_int_equal(ut_dir_entries(ro_dir), 0);
}

static int write_past_fsize_limit(void)
{
	/* A file size limit makes write(2) fail with EFBIG part way, as a full disk would. */
	signal(SIGXFSZ, SIG_IGN);
	struct rlimit rl = { 1000, 1000 };
	if (setrlimit(RLIMIT_FSIZE, &rl))
		return 100;
	char tmpl[600];
	snprintf(tmpl, sizeof tmpl, "%s/r.json", dir);
	struct ma_report r = rep(3);
	int err = ma_report_write_file(tmpl, write_big, &r, NULL, 0);
	return err == -EFBIG ? 0 : 101;
}

static void test_write_error_leaves_nothing(void **state)
{
	(void)state;
	assert_int_equal(in_child(write_past_fsize_limit), 0);
	assert_int_equal(ut_dir_entries(dir), 0);
}

static void test_final_truncated(void **state)
{
	(void)state;
	char tmpl[512], final[6];
	snprintf(tmpl, sizeof tmpl, "%s/r.json", dir);
	struct ma_report r = rep(3);
	assert_int_equal(ma_report_write_file(tmpl, write_hello, &r, final, sizeof final), 0);
	assert_int_equal(strlen(final), 5);
	assert_memory_equal(final, dir, 5);
}

/* ---- ma_report_check_template ---- */

/* Checks tmpl (under dir when it starts with '@'); wants the rewritten
 * template, the result and the stderr text (NULL: none). */
static void expect_checked(const char *tmpl, const char *want, bool ok, const char *line)
{
	char t[MA_PATH_MAX], w[MA_PATH_MAX], l[MA_PATH_MAX], err[4096];
	snprintf(t, sizeof t, "%s%s", tmpl[0] == '@' ? dir : "", tmpl + (tmpl[0] == '@'));
	snprintf(w, sizeof w, "%s%s", want[0] == '@' ? dir : "", want + (want[0] == '@'));
	ut_capture_begin();
	bool got = ma_report_check_template("MOD_ALLOC_OUT", t, sizeof t, "modalloc.%p.json", 77, "/");
	ut_capture_end(err, sizeof err);
	if (got != ok || strcmp(t, w))
		fail_msg("'%s': got %d '%s', want %d '%s'", tmpl, got, t, ok, w);
	if (!line) {
		assert_string_equal(err, "");
	} else {
		/* Each '@' in the line stands for dir too. */
		size_t n = 0;
		for (const char *c = line; *c && n + strlen(dir) + 1 < sizeof l; c++) {
			if (*c == '@') {
				memcpy(l + n, dir, strlen(dir));
				n += strlen(dir);
			} else {
				l[n++] = *c;
			}
		}
		l[n] = '\0';
		assert_string_equal(err, l);
	}
	assert_int_equal(ut_dir_entries(dir), 0); /* the check leaves nothing */
}

static void test_check_template(void **state)
{
	(void)state;
	/* Left alone: a template in a writable directory, the default, none. */
	expect_checked("@/r.%p.json", "@/r.%p.json", true, NULL);
	expect_checked("modalloc.%p.json", "modalloc.%p.json", true, NULL);
	expect_checked("", "", true, NULL);
	/* A directory means "reports go in it". */
	expect_checked("@", "@/modalloc.%p.json", true, NULL);
	expect_checked("@/", "@/modalloc.%p.json", true, NULL);
	/* Cannot work: one line, then the fallback. */
	expect_checked("@/nope/", "modalloc.%p.json", false,
	               "modalloc: MOD_ALLOC_OUT=\"@/nope/\": cannot create files in \"@/nope\": "
	               "No such file or directory; using 'modalloc.%p.json' instead\n");
	expect_checked("@/nope/r.json", "modalloc.%p.json", false,
	               "modalloc: MOD_ALLOC_OUT=\"@/nope/r.json\": cannot create files in \"@/nope\": "
	               "No such file or directory; using 'modalloc.%p.json' instead\n");
	expect_checked("@/r.%q", "modalloc.%p.json", false,
	               "modalloc: MOD_ALLOC_OUT=\"@/r.%q\": unknown %-escape (%p = pid, %% = %); "
	               "using 'modalloc.%p.json' instead\n");
	expect_checked("/etc/passwd/r.json", "modalloc.%p.json", false,
	               "modalloc: MOD_ALLOC_OUT=\"/etc/passwd/r.json\": cannot create files in \"/etc/passwd\": "
	               "Not a directory; using 'modalloc.%p.json' instead\n");
	/* A newline in the template cannot break the line. */
	expect_checked("@/a\nb/r.json", "modalloc.%p.json", false,
	               "modalloc: MOD_ALLOC_OUT=\"@/a\\nb/r.json\": cannot create files in \"@/a\\nb\": "
	               "No such file or directory; using 'modalloc.%p.json' instead\n");
}

/* The writer's path for file systems without O_TMPFILE (a temporary name). */
static int setup_fallback(void **state)
{
	ma_g.opt.test_no_tmpfile = 1;
	return setup_dir(state);
}

static int teardown_fallback(void **state)
{
	ma_g.opt.test_no_tmpfile = 0;
	return teardown_dir(state);
}

#define DIR_TEST(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)
#define FALLBACK_TEST(f) { "fallback: " #f, f, setup_fallback, teardown_fallback, NULL }

int main(void)
{
	ut_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expand_pid_and_percent),
		cmocka_unit_test(test_expand_relative_absolute),
		cmocka_unit_test(test_expand_bad_templates),
		cmocka_unit_test(test_expand_too_long),
		DIR_TEST(test_write_basic),
		DIR_TEST(test_write_big_and_relative),
		DIR_TEST(test_never_overwrites),
		DIR_TEST(test_suffix_placement),
		DIR_TEST(test_symlink_not_followed),
		DIR_TEST(test_missing_directory),
		DIR_TEST(test_unwritable_directory),
		DIR_TEST(test_write_error_leaves_nothing),
		DIR_TEST(test_final_truncated),
		DIR_TEST(test_check_template),
		FALLBACK_TEST(test_write_basic),
		FALLBACK_TEST(test_write_big_and_relative),
		FALLBACK_TEST(test_never_overwrites),
		FALLBACK_TEST(test_suffix_placement),
		FALLBACK_TEST(test_symlink_not_followed),
		FALLBACK_TEST(test_missing_directory),
		FALLBACK_TEST(test_unwritable_directory),
		FALLBACK_TEST(test_write_error_leaves_nothing),
	};
	return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
