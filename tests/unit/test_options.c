/* SPDX-License-Identifier: Apache-2.0 */
/* test_options.c: every MOD_ALLOC_* variable: defaults, values, warnings. */
#include "ut.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

static char err[65536];

/* Parses envp with warnings on; err holds what went to stderr. */
static int parse(struct ma_options *o, char *const *envp)
{
	/* Garbage first: the parser must set every field, not rely on zeroes. */
	memset(o, 0xa5, sizeof *o);
	ut_capture_begin();
	int r = ma_options_parse(o, envp, true);
	ut_capture_end(err, sizeof err);
	return r;
}

static void assert_defaults(const struct ma_options *o)
{
	assert_string_equal(o->out, "modalloc.%p.json");
	assert_string_equal(o->dhat, "");
	assert_int_equal(o->backtraces, 0);
	assert_int_equal(o->buckets, 4096);
	assert_int_equal(o->buckets_max, 262144);
	assert_int_equal(o->depth, 32);
	assert_int_equal(o->quiet, 0);
	assert_int_equal(o->report, 1);
	assert_int_equal(o->unwind, MA_UNWIND_AUTO);
	assert_int_equal(o->sample, 0);
	assert_int_equal(o->sample_seed, 0);
}

/* The warning must be exactly one line naming the variable. */
static void assert_one_warning(const char *var, const char *must_contain)
{
	char head[128];
	snprintf(head, sizeof head, "modalloc: %s", var);
	assert_int_equal(ut_count_lines(err), 1);
	assert_true(strlen(err) > 0 && err[strlen(err) - 1] == '\n');
	assert_true(strncmp(err, head, strlen(head)) == 0);
	if (must_contain)
		assert_non_null(strstr(err, must_contain));
}

static void test_secure_mode_defaults(void **state)
{
	(void)state;
	struct ma_options o;
	/* envp NULL is what a setuid program gets: defaults, no output. */
	assert_int_equal(parse(&o, NULL), 0);
	assert_defaults(&o);
	assert_string_equal(err, "");
}

static void test_unrelated_and_lookalike_names(void **state)
{
	(void)state;
	struct ma_options o;
	char *env[] = { "PATH=/usr/bin", "MOD_ALLOC_OUTX=/x", "XMOD_ALLOC_DEPTH=5", "MOD_ALLOC_DEPTH",
	                "MOD_ALLOC_BUCKETSS=8", "mod_alloc_quiet=1", "MOD_ALLOC_=1", NULL };
	assert_int_equal(parse(&o, env), 0);
	assert_defaults(&o);
	assert_string_equal(err, "");
}

static void test_every_variable_valid(void **state)
{
	(void)state;
	struct ma_options o;
	char *env[] = { "MOD_ALLOC_OUT=/tmp/r.%p.json", "MOD_ALLOC_DHAT=dhat.%p.json", "MOD_ALLOC_BACKTRACES=1",
	                "MOD_ALLOC_BUCKETS=8192", "MOD_ALLOC_DEPTH=64", "MOD_ALLOC_QUIET=yes",
	                "MOD_ALLOC_REPORT=off", NULL };
	assert_int_equal(parse(&o, env), 0);
	assert_string_equal(o.out, "/tmp/r.%p.json");
	assert_string_equal(o.dhat, "dhat.%p.json");
	assert_int_equal(o.backtraces, 1);
	assert_int_equal(o.buckets, 8192);
	assert_int_equal(o.depth, 64);
	assert_int_equal(o.quiet, 1);
	assert_int_equal(o.report, 0);
	assert_string_equal(err, "");
}

static void test_empty_value_means_unset(void **state)
{
	(void)state;
	struct ma_options o;
	/* An empty value is taken as unset (as MOD_ALLOC_DHAT documents): default, no warning. */
	char *env[] = { "MOD_ALLOC_OUT=", "MOD_ALLOC_DHAT=", "MOD_ALLOC_BACKTRACES=", "MOD_ALLOC_BUCKETS=",
	                "MOD_ALLOC_DEPTH=", "MOD_ALLOC_QUIET=", "MOD_ALLOC_REPORT=", NULL };
	assert_int_equal(parse(&o, env), 0);
	assert_defaults(&o);
	assert_string_equal(err, "");
}

static void test_first_definition_wins(void **state)
{
	(void)state;
	struct ma_options o;
	/* As getenv(3): the first of duplicate entries. */
	char *env[] = { "MOD_ALLOC_DEPTH=5", "MOD_ALLOC_DEPTH=7", NULL };
	assert_int_equal(parse(&o, env), 0);
	assert_int_equal(o.depth, 5);
}

struct num_case {
	const char *val;
	uint64_t want;
	int warned;
};

static void check_num(const char *var, const struct num_case *c, size_t n, uint64_t *field_of_o,
                      struct ma_options *o)
{
	for (size_t i = 0; i < n; i++) {
		char kv[256];
		snprintf(kv, sizeof kv, "%s=%s", var, c[i].val);
		char *env[] = { kv, NULL };
		int r = parse(o, env);
		if (r != c[i].warned || *field_of_o != c[i].want || (int)ut_count_lines(err) != c[i].warned)
			fail_msg("%s: got %llu (returned %d, %u lines: %s), want %llu (%d)", kv,
			         (unsigned long long)*field_of_o, r, ut_count_lines(err), err,
			         (unsigned long long)c[i].want, c[i].warned);
		if (c[i].warned)
			assert_one_warning(var, "is out of range; clamped to");
	}
}

static void test_buckets_clamp_and_round(void **state)
{
	(void)state;
	static const struct num_case c[] = {
		{ "63", 64, 1 },          { "64", 64, 0 },
		{ "65", 128, 0 },         { "1000", 1024, 0 },
		{ "4097", 8192, 0 },      { "524289", 1048576, 0 },
		{ "1048576", 1048576, 0 }, { "1048577", 1048576, 1 },
		{ "0", 64, 1 },           { "1", 64, 1 },
		{ "0064", 64, 0 },        { "18446744073709551615", 1048576, 1 },
	};
	struct ma_options o;
	check_num("MOD_ALLOC_BUCKETS", c, MA_ARRAY_LEN(c), &o.buckets, &o);
	/* The warning names the limit it clamped to. */
	char *lo[] = { "MOD_ALLOC_BUCKETS=63", NULL };
	parse(&o, lo);
	assert_non_null(strstr(err, "MOD_ALLOC_BUCKETS=\"63\" is out of range; clamped to 64\n"));
	char *hi[] = { "MOD_ALLOC_BUCKETS=1048577", NULL };
	parse(&o, hi);
	assert_non_null(strstr(err, "clamped to 1048576\n"));
}

static void test_buckets_max_clamp_and_round(void **state)
{
	(void)state;
	static const struct num_case c[] = {
		{ "63", 64, 1 },            { "64", 64, 0 },
		{ "1000", 1024, 0 },        { "262144", 262144, 0 },
		{ "16777216", 16777216, 0 }, { "16777217", 16777216, 1 },
		{ "0", 64, 1 },             { "18446744073709551615", 16777216, 1 },
	};
	struct ma_options o;
	check_num("MOD_ALLOC_BUCKETS_MAX", c, MA_ARRAY_LEN(c), &o.buckets_max, &o);
	/* Not a prefix of MOD_ALLOC_BUCKETS or the reverse: each variable keeps its own value. */
	char *both[] = { "MOD_ALLOC_BUCKETS=128", "MOD_ALLOC_BUCKETS_MAX=2048", NULL };
	assert_int_equal(parse(&o, both), 0);
	assert_int_equal(o.buckets, 128);
	assert_int_equal(o.buckets_max, 2048);
}

static void test_depth_clamp_no_rounding(void **state)
{
	(void)state;
	static const struct num_case c[] = {
		{ "0", 1, 1 },     { "1", 1, 0 },     { "100", 100, 0 }, { "255", 255, 0 },
		{ "256", 256, 0 }, { "257", 256, 1 }, { "18446744073709551615", 256, 1 },
	};
	struct ma_options o;
	check_num("MOD_ALLOC_DEPTH", c, MA_ARRAY_LEN(c), &o.depth, &o);
}

static const char *const bad_numbers[] = {
	"abc", "-1", "-0", "+5", " 64", "64 ", "6 4", "\t64", "64\n", "0x40", "1e3", "12.5", "64k",
	"99999999999999999999999", "18446744073709551616", "\xd9\xa1\xd9\xa2", "\x01",
};

static void test_bad_numbers_rejected(void **state)
{
	(void)state;
	static const char *const vars[] = { "MOD_ALLOC_BUCKETS", "MOD_ALLOC_DEPTH" };
	struct ma_options o;
	for (size_t v = 0; v < MA_ARRAY_LEN(vars); v++) {
		for (size_t i = 0; i < MA_ARRAY_LEN(bad_numbers); i++) {
			char kv[256];
			snprintf(kv, sizeof kv, "%s=%s", vars[v], bad_numbers[i]);
			char *env[] = { kv, NULL };
			int r = parse(&o, env);
			if (r != 1 || ut_count_lines(err) != 1)
				fail_msg("%s: returned %d, stderr '%s'", kv, r, err);
			assert_one_warning(vars[v], "is not a non-negative decimal integer; using the default");
			assert_int_equal(o.buckets, 4096);
			assert_int_equal(o.depth, 32);
		}
	}
}

static void test_bad_value_shown_escaped(void **state)
{
	(void)state;
	struct ma_options o;
	/* A newline in the value must not split the warning line. */
	char *env[] = { "MOD_ALLOC_DEPTH=6\n4\"", NULL };
	assert_int_equal(parse(&o, env), 1);
	assert_string_equal(err, "modalloc: MOD_ALLOC_DEPTH=\"6\\n4\\\"\" is not a non-negative decimal integer; "
	                         "using the default\n");
}

static void test_huge_bad_value_one_line(void **state)
{
	(void)state;
	struct ma_options o;
	static char kv[8192];
	strcpy(kv, "MOD_ALLOC_QUIET=");
	memset(kv + strlen(kv), 'x', 6000);
	char *env[] = { kv, NULL };
	assert_int_equal(parse(&o, env), 1);
	assert_one_warning("MOD_ALLOC_QUIET", "is not a boolean");
	assert_true(strlen(err) < 1024);
	assert_int_equal(o.quiet, 0);
}

static void test_booleans(void **state)
{
	(void)state;
	static const char *const vars[] = { "MOD_ALLOC_BACKTRACES", "MOD_ALLOC_QUIET", "MOD_ALLOC_REPORT" };
	static const char *const yes[] = { "1", "yes", "YES", "Yes", "yEs", "true", "TRUE", "True", "on", "ON", "On" };
	static const char *const no[] = { "0", "no", "NO", "No", "false", "FALSE", "False", "off", "OFF", "oFf" };
	static const char *const bad[] = { "maybe", "2", "-1", "y", "n", "t", "f", "yess", "on ", " 1", "10",
	                                   "01", "enable", "tru", "\x01", "1\n", "of", "nope", "0x1" };
	struct ma_options o;
	for (size_t v = 0; v < MA_ARRAY_LEN(vars); v++) {
		uint64_t *field = v == 0 ? &o.backtraces : v == 1 ? &o.quiet : &o.report;
		uint64_t def = v == 2 ? 1 : 0;
		char kv[128];
		for (size_t i = 0; i < MA_ARRAY_LEN(yes); i++) {
			snprintf(kv, sizeof kv, "%s=%s", vars[v], yes[i]);
			char *env[] = { kv, NULL };
			assert_int_equal(parse(&o, env), 0);
			if (*field != 1)
				fail_msg("%s read as %llu", kv, (unsigned long long)*field);
			assert_string_equal(err, "");
		}
		for (size_t i = 0; i < MA_ARRAY_LEN(no); i++) {
			snprintf(kv, sizeof kv, "%s=%s", vars[v], no[i]);
			char *env[] = { kv, NULL };
			assert_int_equal(parse(&o, env), 0);
			if (*field != 0)
				fail_msg("%s read as %llu", kv, (unsigned long long)*field);
			assert_string_equal(err, "");
		}
		for (size_t i = 0; i < MA_ARRAY_LEN(bad); i++) {
			snprintf(kv, sizeof kv, "%s=%s", vars[v], bad[i]);
			char *env[] = { kv, NULL };
			int r = parse(&o, env);
			if (r != 1 || *field != def)
				fail_msg("%s: returned %d, value %llu", kv, r, (unsigned long long)*field);
			assert_one_warning(vars[v], "is not a boolean (1/0, yes/no, true/false, on/off); using the default");
		}
	}
}

static void test_path_length_limit(void **state)
{
	(void)state;
	static char kv[MA_PATH_MAX + 64];
	struct ma_options o;
	/* 4095 bytes: the longest that fits with its NUL. */
	strcpy(kv, "MOD_ALLOC_OUT=");
	size_t h = strlen(kv);
	memset(kv + h, 'a', MA_PATH_MAX - 1);
	kv[h + MA_PATH_MAX - 1] = '\0';
	char *env[] = { kv, NULL };
	assert_int_equal(parse(&o, env), 0);
	assert_int_equal(strlen(o.out), MA_PATH_MAX - 1);
	assert_memory_equal(o.out, kv + h, MA_PATH_MAX);
	assert_string_equal(err, "");

	/* 4096 bytes: rejected, default kept. */
	memset(kv + h, 'b', MA_PATH_MAX);
	kv[h + MA_PATH_MAX] = '\0';
	assert_int_equal(parse(&o, env), 1);
	assert_string_equal(o.out, "modalloc.%p.json");
	assert_string_equal(err, "modalloc: MOD_ALLOC_OUT is longer than 4095 bytes; using the default "
	                         "'modalloc.%p.json'\n");

	strcpy(kv, "MOD_ALLOC_DHAT=");
	h = strlen(kv);
	memset(kv + h, 'c', MA_PATH_MAX + 10);
	kv[h + MA_PATH_MAX + 10] = '\0';
	assert_int_equal(parse(&o, env), 1);
	assert_string_equal(o.dhat, "");
	assert_one_warning("MOD_ALLOC_DHAT", "is longer than 4095 bytes");
}

static void test_rejected_count_and_lines(void **state)
{
	(void)state;
	static char longpath[MA_PATH_MAX + 32];
	strcpy(longpath, "MOD_ALLOC_OUT=");
	memset(longpath + strlen(longpath), 'p', MA_PATH_MAX);
	struct ma_options o;
	char *env[] = { "MOD_ALLOC_BUCKETS=63", "MOD_ALLOC_DEPTH=x", "MOD_ALLOC_QUIET=maybe", longpath,
	                "MOD_ALLOC_REPORT=0", "MOD_ALLOC_BACKTRACES=on", "MOD_ALLOC_DHAT=d.json", NULL };
	assert_int_equal(parse(&o, env), 4);
	assert_int_equal(ut_count_lines(err), 4);
	/* One line per bad value, each naming its own variable, in table order. */
	static const char *const order[] = { "MOD_ALLOC_OUT", "MOD_ALLOC_BUCKETS", "MOD_ALLOC_DEPTH",
	                                     "MOD_ALLOC_QUIET" };
	const char *line = err;
	for (size_t i = 0; i < MA_ARRAY_LEN(order); i++) {
		char head[64];
		snprintf(head, sizeof head, "modalloc: %s", order[i]);
		assert_true(strncmp(line, head, strlen(head)) == 0);
		line = strchr(line, '\n') + 1;
	}
	assert_string_equal(o.out, "modalloc.%p.json");
	assert_int_equal(o.buckets, 64);
	assert_int_equal(o.depth, 32);
	assert_int_equal(o.quiet, 0);
	assert_int_equal(o.report, 0);
	assert_int_equal(o.backtraces, 1);
	assert_string_equal(o.dhat, "d.json");

	/* Same count without warnings, and nothing printed. */
	memset(&o, 0, sizeof o);
	ut_capture_begin();
	assert_int_equal(ma_options_parse(&o, env, false), 4);
	ut_capture_end(err, sizeof err);
	assert_string_equal(err, "");
	assert_int_equal(o.buckets, 64);
}

static void test_unwind_words(void **state)
{
	(void)state;
	struct ma_options o;
	static const struct {
		const char *env;
		uint64_t want;
	} ok[] = { { "MOD_ALLOC_UNWIND=fp", MA_UNWIND_FP }, { "MOD_ALLOC_UNWIND=cfi", MA_UNWIND_CFI },
	           { "MOD_ALLOC_UNWIND=auto", MA_UNWIND_AUTO }, { "MOD_ALLOC_UNWIND=FP", MA_UNWIND_FP },
	           { "MOD_ALLOC_UNWIND=Cfi", MA_UNWIND_CFI } };
	for (unsigned i = 0; i < MA_ARRAY_LEN(ok); i++) {
		char *env[] = { (char *)ok[i].env, NULL };
		assert_int_equal(parse(&o, env), 0);
		assert_int_equal(o.unwind, ok[i].want);
		assert_string_equal(err, "");
	}
	/* Anything else: one line, the default (auto). */
	static const char *const bad[] = { "MOD_ALLOC_UNWIND=dwarf", "MOD_ALLOC_UNWIND=1", "MOD_ALLOC_UNWIND=fpx",
	                                   "MOD_ALLOC_UNWIND=f" };
	for (unsigned i = 0; i < MA_ARRAY_LEN(bad); i++) {
		char *env[] = { (char *)bad[i], NULL };
		assert_int_equal(parse(&o, env), 1);
		assert_int_equal(o.unwind, MA_UNWIND_AUTO);
		assert_one_warning("MOD_ALLOC_UNWIND", "is not one of fp, cfi, auto; using the default 'auto'");
	}
	char *env[] = { "MOD_ALLOC_UNWIND=", NULL };
	assert_int_equal(parse(&o, env), 0);
	assert_int_equal(o.unwind, MA_UNWIND_AUTO);
}

static void test_parse_uint_direct(void **state)
{
	(void)state;
	uint64_t v = 77;
	assert_int_equal(ma_options_parse_uint("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(ma_options_parse_uint("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
	v = 77;
	assert_int_equal(ma_options_parse_uint("18446744073709551616", &v), -1);
	assert_int_equal(ma_options_parse_uint("", &v), -1);
	assert_int_equal(ma_options_parse_uint("1 ", &v), -1);
	assert_int_equal(v, 77); /* untouched on failure */
	assert_int_equal(ma_options_parse_bool("TrUe", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(ma_options_parse_bool("", &v), -1);
	assert_int_equal(v, 1);
}

/* MOD_ALLOC_SAMPLE (issue 14): bytes with K/M/G suffixes (1024 multiples); bad: one line, exact (0). */
static void test_sample_bytes(void **state)
{
	(void)state;
	struct ma_options o;
	static const struct { const char *val; uint64_t want; int bad; } c[] = {
		{ "0", 0, 0 }, { "1", 1, 0 }, { "524288", 524288, 0 }, { "512K", 524288, 0 }, { "512k", 524288, 0 },
		{ "1M", 1048576, 0 }, { "2g", 2147483648ull, 0 }, { "1024G", 1099511627776ull, 0 },
		{ "K", 0, 1 }, { "12X", 0, 1 }, { "-1", 0, 1 }, { "1.5M", 0, 1 }, { "1KB", 0, 1 }, { " 1K", 0, 1 },
		{ "99999999999999999999K", 0, 1 }, { "17179869184G", 0, 1 },
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		char kv[64];
		snprintf(kv, sizeof kv, "MOD_ALLOC_SAMPLE=%s", c[i].val);
		char *env[] = { kv, NULL };
		int r = parse(&o, env);
		if (r != c[i].bad || o.sample != c[i].want)
			fail_msg("%s: got %llu (returned %d: %s)", kv, (unsigned long long)o.sample, r, err);
		if (c[i].bad)
			assert_one_warning("MOD_ALLOC_SAMPLE", "is not a byte count");
		else
			assert_string_equal(err, "");
	}
	/* Above 1 TiB: clamped. */
	char *big[] = { "MOD_ALLOC_SAMPLE=2048G", NULL };
	assert_int_equal(parse(&o, big), 1);
	assert_true(o.sample == MA_SAMPLE_MAX);
	assert_one_warning("MOD_ALLOC_SAMPLE", "is out of range; clamped to 1099511627776");
	char *seed[] = { "MOD_ALLOC_SAMPLE_SEED=18446744073709551615", NULL };
	assert_int_equal(parse(&o, seed), 0);
	assert_true(o.sample_seed == UINT64_MAX);
	char *badseed[] = { "MOD_ALLOC_SAMPLE_SEED=x", NULL };
	assert_int_equal(parse(&o, badseed), 1);
	assert_int_equal(o.sample_seed, 0);
	assert_one_warning("MOD_ALLOC_SAMPLE_SEED", "is not a non-negative decimal integer");
}

int main(void)
{
	ut_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secure_mode_defaults),
		cmocka_unit_test(test_unrelated_and_lookalike_names),
		cmocka_unit_test(test_every_variable_valid),
		cmocka_unit_test(test_empty_value_means_unset),
		cmocka_unit_test(test_first_definition_wins),
		cmocka_unit_test(test_buckets_clamp_and_round),
		cmocka_unit_test(test_buckets_max_clamp_and_round),
		cmocka_unit_test(test_depth_clamp_no_rounding),
		cmocka_unit_test(test_bad_numbers_rejected),
		cmocka_unit_test(test_bad_value_shown_escaped),
		cmocka_unit_test(test_huge_bad_value_one_line),
		cmocka_unit_test(test_booleans),
		cmocka_unit_test(test_path_length_limit),
		cmocka_unit_test(test_rejected_count_and_lines),
		cmocka_unit_test(test_parse_uint_direct),
		cmocka_unit_test(test_unwind_words),
		cmocka_unit_test(test_sample_bytes),
	};
	return cmocka_run_group_tests_name("options", tests, NULL, NULL);
}
