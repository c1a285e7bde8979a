/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_parse.c: the command's number parsers (tools/util.c) and report file
 * names (tools/model_paths.c) on their edges: the largest value, one past
 * it, signs, spaces, a second "0x", trailing junk.  A rejected text leaves
 * the output alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "model.h"
#include "util.h"

#define UNTOUCHED 0x5a5a5a5aull

/* Parses s with fn; asserts it is refused and *out untouched. */
#define REFUSED(fn, s)                                              \
	do {                                                        \
		uint64_t v_ = UNTOUCHED;                            \
		assert_int_equal(fn((s), &v_), -1);                 \
		assert_int_equal(v_, UNTOUCHED);                    \
	} while (0)

#define PARSES(fn, s, want)                                         \
	do {                                                        \
		uint64_t v_ = UNTOUCHED;                            \
		assert_int_equal(fn((s), &v_), 0);                  \
		assert_int_equal(v_, (want));                       \
	} while (0)

static void test_u64(void **state)
{
	(void)state;
	PARSES(mt_parse_u64, "0", 0);
	PARSES(mt_parse_u64, "007", 7);
	PARSES(mt_parse_u64, "18446744073709551615", UINT64_MAX);
	REFUSED(mt_parse_u64, "18446744073709551616");
	REFUSED(mt_parse_u64, "99999999999999999999");
	REFUSED(mt_parse_u64, NULL);
	REFUSED(mt_parse_u64, "");
	REFUSED(mt_parse_u64, "12x");
	REFUSED(mt_parse_u64, "12 ");
	REFUSED(mt_parse_u64, " 12");
	REFUSED(mt_parse_u64, "+12");
	REFUSED(mt_parse_u64, "-1");
	REFUSED(mt_parse_u64, "0x10");
	REFUSED(mt_parse_u64, "1e3");
}

static void test_hex(void **state)
{
	(void)state;
	PARSES(mt_parse_hex, "0x0", 0);
	PARSES(mt_parse_hex, "0X7f3A", 0x7f3a);
	PARSES(mt_parse_hex, "0x00000000000000001", 1);
	PARSES(mt_parse_hex, "0xffffffffffffffff", UINT64_MAX);
	REFUSED(mt_parse_hex, "0x10000000000000000");
	REFUSED(mt_parse_hex, NULL);
	REFUSED(mt_parse_hex, "");
	REFUSED(mt_parse_hex, "0x");
	REFUSED(mt_parse_hex, "1f");
	REFUSED(mt_parse_hex, "0x-1");
	REFUSED(mt_parse_hex, "0x+1");
	REFUSED(mt_parse_hex, "0x 1");
	REFUSED(mt_parse_hex, "0x0x1f");
	REFUSED(mt_parse_hex, "0x1fz");
	REFUSED(mt_parse_hex, "0x1f ");
}

static void test_u64_prefix(void **state)
{
	(void)state;
	const char *s = "12.json", *end = NULL;
	uint64_t v = UNTOUCHED;
	assert_int_equal(mt_parse_u64_prefix(s, &v, &end), 0);
	assert_int_equal(v, 12);
	assert_ptr_equal(end, s + 2);
	end = NULL;
	v = UNTOUCHED;
	assert_int_equal(mt_parse_u64_prefix("18446744073709551616.json", &v, &end), -1);
	assert_int_equal(mt_parse_u64_prefix(".json", &v, &end), -1);
	assert_int_equal(mt_parse_u64_prefix("-1.json", &v, &end), -1);
	assert_int_equal(v, UNTOUCHED);
	assert_null(end);
}

static void test_size(void **state)
{
	(void)state;
	PARSES(mt_parse_size, "0", 0);
	PARSES(mt_parse_size, "10k", 10240);
	PARSES(mt_parse_size, "1.5GiB", 1610612736);
	PARSES(mt_parse_size, "1.5 gib", 1610612736);
	PARSES(mt_parse_size, ".5k", 512);
	PARSES(mt_parse_size, "1.", 1);
	PARSES(mt_parse_size, "18446744073709551615", UINT64_MAX);
	PARSES(mt_parse_size, "16777215T", 18446742974197923840ull);
	/* Fraction digits after the 18th are dropped, not an error. */
	PARSES(mt_parse_size, "0.0000000000000000009k", 0);
	PARSES(mt_parse_size, "0.999999999999999999999G", 1073741824);
	REFUSED(mt_parse_size, "16777216T");
	REFUSED(mt_parse_size, "18446744073709551616");
	REFUSED(mt_parse_size, "99999999999999999999k");
	REFUSED(mt_parse_size, NULL);
	REFUSED(mt_parse_size, "");
	REFUSED(mt_parse_size, ".");
	REFUSED(mt_parse_size, "k");
	REFUSED(mt_parse_size, " 5");
	REFUSED(mt_parse_size, "+5");
	REFUSED(mt_parse_size, "-5");
	REFUSED(mt_parse_size, "1.2.3");
	REFUSED(mt_parse_size, "1e3");
	REFUSED(mt_parse_size, "10 parsecs");
}

static void name_is(const char *name, uint64_t want_pid, unsigned want_seq)
{
	uint64_t pid = UNTOUCHED;
	unsigned seq = 77;
	assert_true(mt_report_name(name, &pid, &seq));
	assert_int_equal(pid, want_pid);
	assert_int_equal(seq, want_seq);
}

static void test_report_name(void **state)
{
	(void)state;
	uint64_t pid;
	unsigned seq;
	name_is("modalloc.1.json", 1, 0);
	name_is("modalloc.4321.json", 4321, 0);
	name_is("modalloc.4321.2.json", 4321, 2);
	name_is("modalloc.18446744073709551615.json", UINT64_MAX, 0);
	/* A later image of a pid past a million images still sorts last. */
	name_is("modalloc.4321.99999999.json", 4321, 1000000);
	assert_false(mt_report_name("modalloc.18446744073709551616.json", &pid, &seq));
	assert_false(mt_report_name("modalloc.4321.18446744073709551616.json", &pid, &seq));
	assert_false(mt_report_name("modalloc.-1.json", &pid, &seq));
	assert_false(mt_report_name("modalloc.+12.json", &pid, &seq));
	assert_false(mt_report_name("modalloc. 12.json", &pid, &seq));
	assert_false(mt_report_name("modalloc.12x.json", &pid, &seq));
	assert_false(mt_report_name("modalloc.12.tmp.json", &pid, &seq));
	assert_false(mt_report_name("modalloc.12.json.gz", &pid, &seq));
	assert_false(mt_report_name("dhat.12.json", &pid, &seq));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u64),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_u64_prefix),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_report_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
