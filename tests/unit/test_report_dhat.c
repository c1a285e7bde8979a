/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_report_dhat.c: the DHAT writer (src/report_dhat.c) on synthetic,
 * frozen call-site tables: an empty profile, the overflow site, a site with
 * no frames, program points merged when their frames name the same, odd
 * characters in the command line.  The output is also parsed by python3's
 * json module (the viewer uses JSON.parse): $PYTHON3 (meson sets it to the
 * python3 it found), else python3 from PATH; the test fails without one.
 */
#define _GNU_SOURCE
#include "ut.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fmt.h"
#include "init.h"
#include "report.h"

static char out[1 << 20];

__attribute__((noinline)) void dhat_frame_a(void) { __asm__ volatile(""); }
__attribute__((noinline)) void dhat_frame_b(void) { __asm__ volatile(""); }

static void write_dhat(const struct ma_t2_frozen *f)
{
	struct ma_report r;
	memset(&r, 0, sizeof r);
	r.pid = 4242;
	r.sites = f;
	struct ma_buf b;
	ma_buf_init(&b, out, sizeof out, -1);
	ma_report_dhat(&b, &r);
	assert_int_equal(ma_buf_finish(&b), 0);
	assert_false(b.truncated);
}

static unsigned count(const char *hay, const char *needle)
{
	unsigned n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* Parses `out` with python3: a syntax error, or no python3 to run, fails the test. */
static void parses_as_json(void)
{
	const char *py = getenv("PYTHON3");
	if (!py || !*py)
		py = "python3";
	char path[] = "/tmp/modalloc-dhat-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, out, strlen(out)), (ssize_t)strlen(out));
	close(fd);
	char cmd[1024];
	int len = snprintf(cmd, sizeof cmd,
	         "'%s' -c 'import json,sys; d=json.load(open(sys.argv[1])); "
	         "assert d[\"ftbl\"][0]==\"[root]\"; fs=[tuple(p[\"fs\"]) for p in d[\"pps\"]]; "
	         "assert len(fs)==len(set(fs)); assert all(0<i<len(d[\"ftbl\"]) for f in fs for i in f)' %s",
	         py, path);
	assert_true(len > 0 && (size_t)len < sizeof cmd);
	int rc = system(cmd);
	unlink(path);
	if (rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 127)
		fail_msg("cannot run %s: the DHAT output was not parsed (set PYTHON3)", py);
	assert_int_equal(rc, 0);
}

static struct ma_site_total site(uint64_t blocks, uint64_t bytes, const uintptr_t *frames, uint32_t n)
{
	struct ma_site_total s;
	memset(&s, 0, sizeof s);
	s.blocks = blocks;
	s.bytes = bytes;
	s.live_blocks = blocks / 2;
	s.live_bytes = bytes / 2;
	s.at_peak_blocks = blocks;
	s.at_peak_bytes = bytes;
	s.max_blocks = blocks;
	s.max_bytes = bytes;
	s.lifetime_total = 10 * blocks;
	s.frames = frames;
	s.nframes = n;
	return s;
}

static void test_empty_profile(void **state)
{
	(void)state;
	struct ma_t2_frozen f;
	memset(&f, 0, sizeof f);
	write_dhat(&f);
	assert_non_null(strstr(out, "\"dhatFileVersion\":2"));
	assert_non_null(strstr(out, "\"bklt\":true,\"bkacc\":false"));
	assert_non_null(strstr(out, ",\"pps\":\n[\n]"));
	assert_non_null(strstr(out, "\"ftbl\":\n[\"[root]\"\n]"));
	assert_non_null(strstr(out, "\"te\":1,")); /* never 0: the viewer divides by it */
	parses_as_json();
}

static void test_overflow_and_frameless_sites(void **state)
{
	(void)state;
	uintptr_t fa[] = { (uintptr_t)dhat_frame_a + 1 };
	struct ma_site_total s[3] = { site(5, 500, NULL, 0), site(2, 64, fa, 1), site(1, 8, NULL, 0) };
	s[0].is_overflow = true;
	s[0].index = 0;
	s[1].index = 1;
	s[2].index = 2;
	uint32_t order[3] = { 0, 1, 2 };
	struct ma_t2_frozen f = { .sites = s, .order = order, .count = 3, .clock_end = 572, .clock_peak = 500 };
	write_dhat(&f);
	assert_int_equal(count(out, "{\"tb\":"), 3);
	assert_int_equal(count(out, "[overflow: stacks beyond MOD_ALLOC_BUCKETS_MAX]"), 1);
	assert_int_equal(count(out, "[no frames captured]"), 1);
	assert_non_null(strstr(out, "dhat_frame_a (in "));
	assert_non_null(strstr(out, "\"te\":572,\"tg\":500"));
	assert_non_null(strstr(out, "{\"tb\":500,\"tbk\":5,\"tl\":50,\"mb\":500,\"mbk\":5,\"gb\":500,\"gbk\":5,\"eb\":250,\"ebk\":2,"));
	parses_as_json();
}

static void test_identical_frames_merge(void **state)
{
	(void)state;
	/* Two sites whose stacks symbolize the same (same addresses: as after a
	 * rebuild-free dlclose/dlopen, or two truncation states): one program point. */
	uintptr_t f1[] = { (uintptr_t)dhat_frame_a + 1, (uintptr_t)dhat_frame_b + 1 };
	uintptr_t f2[] = { (uintptr_t)dhat_frame_a + 1, (uintptr_t)dhat_frame_b + 1 };
	uintptr_t f3[] = { (uintptr_t)dhat_frame_b + 1 };
	struct ma_site_total s[3] = { site(4, 400, f1, 2), site(6, 60, f2, 2), site(1, 7, f3, 1) };
	for (unsigned i = 0; i < 3; i++)
		s[i].index = i;
	uint32_t order[3] = { 0, 1, 2 };
	struct ma_t2_frozen f = { .sites = s, .order = order, .count = 3, .clock_end = 467, .clock_peak = 467 };
	write_dhat(&f);
	assert_int_equal(count(out, "{\"tb\":"), 2);
	assert_non_null(strstr(out, "{\"tb\":460,\"tbk\":10,")); /* the two merged, summed */
	assert_non_null(strstr(out, "{\"tb\":7,\"tbk\":1,"));
	/* Each frame string once in ftbl. */
	assert_int_equal(count(out, "dhat_frame_a (in "), 1);
	assert_int_equal(count(out, "dhat_frame_b (in "), 1);
	parses_as_json();
}

static void test_odd_command_line(void **state)
{
	(void)state;
	char saved[sizeof ma_g.cmd];
	memcpy(saved, ma_g.cmd, sizeof saved);
	snprintf(ma_g.cmd, sizeof ma_g.cmd, "./a \"q\" back\\slash \x01 tab\t \xc3\xa9 \xff end");
	struct ma_t2_frozen f;
	memset(&f, 0, sizeof f);
	write_dhat(&f);
	memcpy(ma_g.cmd, saved, sizeof saved);
	assert_non_null(strstr(out, "\"cmd\":\"./a \\\"q\\\" back\\\\slash \\u0001 tab\\t \xc3\xa9 \\ufffd end\""));
	parses_as_json();
}

int main(void)
{
	ut_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_profile),
		cmocka_unit_test(test_overflow_and_frameless_sites),
		cmocka_unit_test(test_identical_frames_merge),
		cmocka_unit_test(test_odd_command_line),
	};
	return cmocka_run_group_tests_name("report_dhat", tests, NULL, NULL);
}
