/* SPDX-License-Identifier: Apache-2.0 */
/* test_fmt.c: the allocation-free formatter: flushing, truncation, numbers, JSON, ma_warn. */
#define _GNU_SOURCE
#include "ut.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "fmt.h"

/* Formats with fn into a roomy string buffer. */
#define FMT(out, call)                                          \
	do {                                                    \
		struct ma_buf b_;                               \
		ma_buf_init(&b_, (out), sizeof(out), -1);       \
		{                                               \
			struct ma_buf *b = &b_;                 \
			call;                                   \
		}                                               \
		assert_int_equal(ma_buf_finish(&b_), 0);        \
		assert_int_equal(b_.truncated, 0);              \
	} while (0)

static void test_u64_i64_hex(void **state)
{
	(void)state;
	char s[64];
	FMT(s, ma_buf_u64(b, 0));
	assert_string_equal(s, "0");
	FMT(s, ma_buf_u64(b, 9); ma_buf_char(b, ' '); ma_buf_u64(b, 10));
	assert_string_equal(s, "9 10");
	FMT(s, ma_buf_u64(b, UINT64_MAX));
	assert_string_equal(s, "18446744073709551615");
	FMT(s, ma_buf_i64(b, INT64_MIN));
	assert_string_equal(s, "-9223372036854775808");
	FMT(s, ma_buf_i64(b, INT64_MAX));
	assert_string_equal(s, "9223372036854775807");
	FMT(s, ma_buf_i64(b, -1); ma_buf_i64(b, 0));
	assert_string_equal(s, "-10");
	FMT(s, ma_buf_hex(b, 0));
	assert_string_equal(s, "0x0");
	FMT(s, ma_buf_hex(b, 0xdeadbeef));
	assert_string_equal(s, "0xdeadbeef");
	FMT(s, ma_buf_hex(b, UINT64_MAX));
	assert_string_equal(s, "0xffffffffffffffff");
}

static void test_grouped(void **state)
{
	(void)state;
	static const struct {
		uint64_t v;
		const char *s;
	} c[] = {
		{ 0, "0" }, { 7, "7" }, { 999, "999" }, { 1000, "1,000" }, { 999999, "999,999" },
		{ 1000000, "1,000,000" }, { 1234567, "1,234,567" }, { 100000, "100,000" },
		{ UINT64_MAX, "18,446,744,073,709,551,615" },
	};
	for (size_t i = 0; i < MA_ARRAY_LEN(c); i++) {
		char s[64];
		FMT(s, ma_buf_u64_grouped(b, c[i].v));
		assert_string_equal(s, c[i].s);
	}
}

static void test_bytes_human(void **state)
{
	(void)state;
	static const struct {
		uint64_t v;
		const char *s;
	} c[] = {
		/* Rounded to nearest as the modalloc command prints (printf "%.1f"):
		 * 100000 B is 97.66 KiB, 2000 B 1.95 KiB; exact halves go to even;
		 * from 1023.95 on, the next unit. */
		{ 0, "0 B" }, { 1, "1 B" }, { 1023, "1023 B" }, { 1024, "1.0 KiB" }, { 1536, "1.5 KiB" },
		{ 100000, "97.7 KiB" }, { 2000, "2.0 KiB" }, { 1126, "1.1 KiB" }, { 1127, "1.1 KiB" },
		{ 1280, "1.2 KiB" }, { 1792, "1.8 KiB" }, { 1281, "1.3 KiB" },
		{ 1048524, "1023.9 KiB" }, { 1048525, "1.0 MiB" },
		{ 1048575, "1.0 MiB" }, { 1048576, "1.0 MiB" }, { 13107200, "12.5 MiB" },
		{ (1ull << 30) - 1, "1.0 GiB" }, { 1ull << 30, "1.0 GiB" }, { 1ull << 40, "1.0 TiB" },
		{ 1ull << 50, "1.0 PiB" }, { 1ull << 60, "1.0 EiB" }, { UINT64_MAX, "16.0 EiB" },
	};
	for (size_t i = 0; i < MA_ARRAY_LEN(c); i++) {
		char s[64];
		FMT(s, ma_buf_bytes_human(b, c[i].v));
		if (strcmp(s, c[i].s))
			fail_msg("%llu: got '%s', want '%s'", (unsigned long long)c[i].v, s, c[i].s);
	}
}

static size_t pipe_pending(int fd)
{
	int n = -1;
	assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
	return (size_t)n;
}

static void test_flush_across_boundary(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	char store[8];
	struct ma_buf b;
	ma_buf_init(&b, store, sizeof store, p[1]);
	/* Exactly full: nothing is written until a byte more arrives. */
	ma_buf_str(&b, "01234567");
	assert_int_equal(pipe_pending(p[0]), 0);
	assert_int_equal(b.len, 8);
	ma_buf_char(&b, '8');
	assert_int_equal(pipe_pending(p[0]), 8);
	assert_int_equal(b.len, 1);
	/* One write larger than the buffer goes through in buffer-sized pieces. */
	char big[1000];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (char)('a' + i % 26);
	ma_buf_mem(&b, big, sizeof big);
	/* 8 + 1 + 1000 bytes so far: 126 full buffers written, 1 byte held. */
	assert_int_equal(pipe_pending(p[0]), 1008);
	assert_int_equal(b.len, 1);
	ma_buf_u64(&b, UINT64_MAX);
	ma_buf_json_str(&b, "q\"");
	assert_int_equal(ma_buf_finish(&b), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.truncated, 0);

	char want[2048], got[2048];
	size_t w = 0;
	memcpy(want, "012345678", 9);
	w = 9;
	memcpy(want + w, big, sizeof big);
	w += sizeof big;
	memcpy(want + w, "18446744073709551615\"q\\\"\"", 25);
	w += 25;
	close(p[1]);
	ssize_t n = read(p[0], got, sizeof got);
	close(p[0]);
	assert_int_equal(n, (ssize_t)w);
	assert_memory_equal(got, want, w);
}

static void test_write_error_sticky(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	close(p[0]);
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);
	char store[4];
	struct ma_buf b;
	ma_buf_init(&b, store, sizeof store, p[1]);
	ma_buf_str(&b, "abcdefghij");
	assert_int_equal(b.error, -EPIPE);
	ma_buf_str(&b, "more");
	assert_int_equal(ma_buf_finish(&b), -EPIPE);
	close(p[1]);
	signal(SIGPIPE, old);

	/* A closed descriptor: the first error is kept. */
	int fd = open("/dev/null", O_WRONLY);
	close(fd);
	ma_buf_init(&b, store, sizeof store, fd);
	ma_buf_str(&b, "xyz");
	assert_int_equal(b.error, 0);
	assert_int_equal(ma_buf_finish(&b), -EBADF);
}

static void test_string_truncation(void **state)
{
	(void)state;
	char s[8];
	struct ma_buf b;
	memset(s, '#', sizeof s);
	ma_buf_init(&b, s, sizeof s, -1);
	ma_buf_str(&b, "hello world");
	assert_int_equal(b.truncated, 1);
	assert_int_equal(ma_buf_finish(&b), 0);
	assert_string_equal(s, "hello w");

	/* Fits exactly with its NUL: not truncated. */
	char t[6];
	ma_buf_init(&b, t, sizeof t, -1);
	ma_buf_str(&b, "hello");
	assert_int_equal(b.truncated, 0);
	ma_buf_finish(&b);
	assert_string_equal(t, "hello");
	ma_buf_char(&b, '!');
	assert_int_equal(b.truncated, 1);

	/* A number cut short. */
	char u[4];
	ma_buf_init(&b, u, sizeof u, -1);
	ma_buf_u64(&b, 123456);
	ma_buf_finish(&b);
	assert_int_equal(b.truncated, 1);
	assert_string_equal(u, "123");

	/* One byte of storage holds only the NUL. */
	char one[2] = { 'x', 'y' };
	ma_buf_init(&b, one, 1, -1);
	ma_buf_str(&b, "abc");
	ma_buf_finish(&b);
	assert_int_equal(b.truncated, 1);
	assert_int_equal(one[0], '\0');
	assert_int_equal(one[1], 'y');
}

static void json(char *out, size_t cap, const char *s, size_t n)
{
	struct ma_buf b;
	ma_buf_init(&b, out, cap, -1);
	ma_buf_json_strn(&b, s, n);
	ma_buf_finish(&b);
	assert_int_equal(b.truncated, 0);
}

#define JSON_EQ(lit, want)                                 \
	do {                                               \
		char o_[256];                              \
		json(o_, sizeof o_, lit, sizeof(lit) - 1); \
		if (strcmp(o_, want))                      \
			fail_msg("got %s, want %s", o_, want); \
	} while (0)

static void test_json_escapes(void **state)
{
	(void)state;
	JSON_EQ("", "\"\"");
	JSON_EQ("plain text", "\"plain text\"");
	JSON_EQ("a\"b\\c", "\"a\\\"b\\\\c\"");
	JSON_EQ("\n\t\r", "\"\\n\\t\\r\"");
	JSON_EQ("\x01\x08\x0c\x1f", "\"\\u0001\\u0008\\u000c\\u001f\"");
	JSON_EQ("\x7f", "\"\\u007f\"");
	JSON_EQ("a\0b", "\"a\\u0000b\"");
	JSON_EQ("/ ~", "\"/ ~\"");
	/* ma_buf_json_str stops at the NUL. */
	char o[64];
	struct ma_buf b;
	ma_buf_init(&b, o, sizeof o, -1);
	ma_buf_json_str(&b, "x\"y");
	ma_buf_finish(&b);
	assert_string_equal(o, "\"x\\\"y\"");
}

static void test_json_utf8_valid_kept(void **state)
{
	(void)state;
	JSON_EQ("\xc2\x80", "\"\xc2\x80\"");                 /* U+0080 */
	JSON_EQ("caf\xc3\xa9", "\"caf\xc3\xa9\"");           /* é */
	JSON_EQ("\xdf\xbf", "\"\xdf\xbf\"");                 /* U+07FF */
	JSON_EQ("\xe0\xa0\x80", "\"\xe0\xa0\x80\"");         /* U+0800 */
	JSON_EQ("\xe2\x82\xac", "\"\xe2\x82\xac\"");         /* € */
	JSON_EQ("\xed\x9f\xbf", "\"\xed\x9f\xbf\"");         /* U+D7FF, below the surrogates */
	JSON_EQ("\xee\x80\x80", "\"\xee\x80\x80\"");         /* U+E000, above them */
	JSON_EQ("\xef\xbf\xbf", "\"\xef\xbf\xbf\"");         /* U+FFFF */
	JSON_EQ("\xf0\x90\x80\x80", "\"\xf0\x90\x80\x80\""); /* U+10000 */
	JSON_EQ("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""); /* emoji */
	JSON_EQ("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\""); /* U+10FFFF */
}

#define R "\\ufffd"

static void test_json_utf8_invalid_replaced(void **state)
{
	(void)state;
	JSON_EQ("\x80", "\"" R "\"");                       /* lone continuation */
	JSON_EQ("\xbf\x80", "\"" R R "\"");
	JSON_EQ("\xc0\x80", "\"" R R "\"");                 /* overlong NUL */
	JSON_EQ("\xc1\xbf", "\"" R R "\"");                 /* overlong DEL */
	JSON_EQ("\xe0\x80\x80", "\"" R R R "\"");           /* overlong 3-byte */
	JSON_EQ("\xe0\x9f\xbf", "\"" R R R "\"");           /* overlong U+07FF */
	JSON_EQ("\xf0\x80\x80\x80", "\"" R R R R "\"");     /* overlong 4-byte */
	JSON_EQ("\xf0\x8f\xbf\xbf", "\"" R R R R "\"");     /* overlong U+FFFF */
	JSON_EQ("\xed\xa0\x80", "\"" R R R "\"");           /* U+D800 */
	JSON_EQ("\xed\xbf\xbf", "\"" R R R "\"");           /* U+DFFF */
	JSON_EQ("\xf4\x90\x80\x80", "\"" R R R R "\"");     /* U+110000 */
	JSON_EQ("\xf5\x80\x80\x80", "\"" R R R R "\"");
	JSON_EQ("\xfe\xff", "\"" R R "\"");
	JSON_EQ("\xe2\x82", "\"" R R "\"");                 /* cut short at the end */
	JSON_EQ("\xe2\x28\xa1", "\"" R "(" R "\"");         /* bad continuation */
	JSON_EQ("a\xc3", "\"a" R "\"");
	JSON_EQ("\xc3\xa9\xc3", "\"\xc3\xa9" R "\"");
}

static void test_warn_single_line(void **state)
{
	(void)state;
	char err[4096];
	ut_capture_begin();
	ma_warn("a", "b", NULL, "d");
	ut_capture_end(err, sizeof err);
	assert_string_equal(err, "modalloc: abd\n");

	ut_capture_begin();
	ma_warn("ends with newline\n", NULL, NULL, NULL);
	ut_capture_end(err, sizeof err);
	assert_string_equal(err, "modalloc: ends with newline\n");

	ut_capture_begin();
	ma_warn(NULL, NULL, NULL, NULL);
	ut_capture_end(err, sizeof err);
	assert_string_equal(err, "modalloc: \n");

	/* Too long for its 1 KiB line: cut, still one line with its newline. */
	static char longpart[3000];
	memset(longpart, 'z', sizeof longpart - 1);
	ut_capture_begin();
	ma_warn(longpart, "tail", NULL, NULL);
	ut_capture_end(err, sizeof err);
	assert_int_equal(strlen(err), 1023);
	assert_int_equal(ut_count_lines(err), 1);
	assert_int_equal(err[1022], '\n');
	assert_true(strncmp(err, "modalloc: zzz", 13) == 0);
}

/* Once the program is named, every line is headed with its name and pid;
 * control characters in the name cannot break the line. */
static void test_line_head(void **state)
{
	(void)state;
	char s[128], err[4096], want[128];
	FMT(s, ma_buf_line_head(b, 42));
	assert_string_equal(s, "modalloc: pid 42: ");
	ma_fmt_set_program("/usr/lib/gcc/x86_64-linux-gnu/12/cc1");
	FMT(s, ma_buf_line_head(b, 42));
	assert_string_equal(s, "modalloc: cc1 (pid 42): ");
	ma_fmt_set_program("/tmp/a\nb\tc\x7f");
	FMT(s, ma_buf_line_head(b, 7));
	assert_string_equal(s, "modalloc: a?b?c? (pid 7): ");
	ut_capture_begin();
	ma_warn("x", NULL, NULL, NULL);
	ut_capture_end(err, sizeof err);
	snprintf(want, sizeof want, "modalloc: a?b?c? (pid %d): x\n", (int)getpid());
	assert_string_equal(err, want);
	FMT(s, ma_buf_str_printable(b, "r\n.json\r"));
	assert_string_equal(s, "r?.json?");
	ma_fmt_set_program(""); /* unnamed again for the other tests */
	ut_capture_begin();
	ma_warn("y", NULL, NULL, NULL);
	ut_capture_end(err, sizeof err);
	assert_string_equal(err, "modalloc: y\n");
}

int main(void)
{
	ut_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u64_i64_hex),
		cmocka_unit_test(test_grouped),
		cmocka_unit_test(test_bytes_human),
		cmocka_unit_test(test_flush_across_boundary),
		cmocka_unit_test(test_write_error_sticky),
		cmocka_unit_test(test_string_truncation),
		cmocka_unit_test(test_json_escapes),
		cmocka_unit_test(test_json_utf8_valid_kept),
		cmocka_unit_test(test_json_utf8_invalid_replaced),
		cmocka_unit_test(test_warn_single_line),
		cmocka_unit_test(test_line_head),
	};
	return cmocka_run_group_tests_name("fmt", tests, NULL, NULL);
}
