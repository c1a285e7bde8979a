/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_demangle.c: the Itanium demangler against c++filt: a curated corpus
 * with c++filt's expected output (data/demangle_cases.txt), the dynamic
 * symbols of libstdc++ compared live with c++filt when both are installed,
 * bounded failure on hostile input, and concurrent use.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demangle.h"

static char out[65536];

static void test_curated_corpus(void **state)
{
	(void)state;
	FILE *f = fopen(SYMTEST_DATA "/demangle_cases.txt", "r");
	assert_non_null(f);
	static char line[70000];
	unsigned cases = 0, negative = 0;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		char *tab = strchr(line, '\t');
		assert_non_null(tab);
		*tab = '\0';
		const char *mangled = line, *expected = tab + 1;
		bool ok = ma_demangle(mangled, out, sizeof out);
		if (strcmp(mangled, expected) == 0) {
			/* c++filt leaves it alone: so must we (false, empty output). */
			if (ok)
				fail_msg("%s: demangled to \"%s\", c++filt does not demangle it", mangled, out);
			assert_string_equal(out, "");
			negative++;
		} else {
			if (!ok)
				fail_msg("%s: not demangled, expected \"%s\"", mangled, expected);
			assert_string_equal(out, expected);
		}
		cases++;
	}
	fclose(f);
	assert_int_equal(cases, 171);
	assert_int_equal(negative, 15);
}

static void test_small_buffers(void **state)
{
	(void)state;
	const char *m = "_ZN1A1fEv";  /* "A::f()": 6 chars and the NUL */
	char b[8];
	assert_true(ma_demangle(m, b, 7));
	assert_string_equal(b, "A::f()");
	assert_false(ma_demangle(m, b, 6)); /* does not fit: false, not truncated */
	assert_string_equal(b, "");
	assert_false(ma_demangle(m, b, 1));
	assert_false(ma_demangle(m, b, 0));
	assert_false(ma_demangle(NULL, b, sizeof b));
	assert_false(ma_demangle("", b, sizeof b));
	assert_false(ma_demangle("malloc", b, sizeof b));
	/* Explicit length: a versioned dynamic symbol. */
	const char *v = "_ZNSs4swapERSs@@GLIBCXX_3.4";
	assert_true(ma_demangle_n(v, strcspn(v, "@"), out, sizeof out));
	assert_string_equal(out, "std::basic_string<char, std::char_traits<char>, std::allocator<char> >::swap("
				 "std::basic_string<char, std::char_traits<char>, std::allocator<char> >&)");
	assert_false(ma_demangle_n(v, strlen(v), out, sizeof out));
}

/* Inputs built to exhaust the parser's or printer's limits fail cleanly. */
static void test_hostile_limits(void **state)
{
	(void)state;
	static char m[40000];
	/* Deep pointer nesting: recursion limit. */
	strcpy(m, "_Z1f");
	memset(m + 4, 'P', 20000);
	strcpy(m + 20004, "i");
	assert_false(ma_demangle(m, out, sizeof out));
	/* Moderate nesting still works. */
	strcpy(m, "_Z1f");
	memset(m + 4, 'P', 50);
	strcpy(m + 54, "i");
	assert_true(ma_demangle(m, out, sizeof out));
	assert_int_equal(strlen(out), strlen("f(int)") + 50);
	/* Substitutions doubling the output: the printer's work bound. */
	strcpy(m, "_Z1fSt4pairIiiE");
	for (int i = 0; i < 40; i++) {
		char add[32];
		snprintf(add, sizeof add, "St4pairIS%d_S%d_E", i, i);
		/* S<n>_ names candidate n + 1 (base 36); keep to small n. */
		if (i > 8)
			break;
		strcat(m, add);
	}
	bool ok = ma_demangle(m, out, sizeof out);
	(void)ok; /* either fits or fails; it must only terminate */
	/* Too long overall. */
	memset(m, 'a', sizeof m - 1);
	m[0] = '_';
	m[1] = 'Z';
	m[sizeof m - 1] = '\0';
	assert_false(ma_demangle(m, out, sizeof out));
	/* Lengths beyond the input, references to missing substitutions and
	 * template arguments. */
	assert_false(ma_demangle("_Z999999999999f", out, sizeof out));
	assert_false(ma_demangle("_Z4ab", out, sizeof out));
	assert_false(ma_demangle("_Z1fS5_", out, sizeof out));
	assert_false(ma_demangle("_Z1fT_", out, sizeof out));
	assert_false(ma_demangle("_Z1fIiEvT3_", out, sizeof out));
	assert_false(ma_demangle("_ZN", out, sizeof out));
}

/* Random mutations of valid names: nothing but true/false, never a crash. */
static void test_random_inputs(void **state)
{
	(void)state;
	static const char *seeds[] = {
		"_ZNSt6vectorIiSaIiEE9push_backERKi",
		"_ZSt4endlIcSt11char_traitsIcEERSt13basic_ostreamIT_T0_ES6_",
		"_ZZ4mainENKUlvE_clEv",
		"_Z1fIJicEEvDpT_",
		"_ZN4llvm10checkedAddIiEENSt9enable_ifIXsr3std9is_signedIT_EE5valueENS_8OptionalIS2_EEE4typeES2_S2_",
		"_ZTv0_n24_N1A1fEv",
		"_Z1fPFvvEPA10_iM1AKFviEM1Ai",
	};
	static const char alphabet[] = "_ZNESIJTDLXKVrRPOFAMCG0123456789abcdefilmnpstuvxyz";
	uint64_t x = 0x9E3779B97F4A7C15ull;
	char m[256];
	unsigned demangled = 0;
	for (int iter = 0; iter < 200000; iter++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		const char *s = seeds[x % (sizeof seeds / sizeof seeds[0])];
		size_t n = strlen(s);
		memcpy(m, s, n + 1);
		int edits = 1 + (int)((x >> 8) % 4);
		for (int e = 0; e < edits; e++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			size_t pos = 2 + (x >> 16) % (n - 2);
			m[pos] = alphabet[(x >> 40) % (sizeof alphabet - 1)];
		}
		if ((x >> 60) & 1)
			m[2 + (x >> 20) % (n - 2)] = '\0';
		demangled += ma_demangle(m, out, sizeof out);
	}
	assert_true(demangled > 0);
}

static void *demangle_loop(void *arg)
{
	char o[512];
	long bad = 0;
	for (int i = 0; i < 20000; i++) {
		if (!ma_demangle("_ZNKSt5ctypeIcE8do_widenEPKcS2_Pc", o, sizeof o) ||
		    strcmp(o, "std::ctype<char>::do_widen(char const*, char const*, char*) const") != 0)
			bad++;
	}
	*(long *)arg = bad;
	return NULL;
}

/* Two threads at once: one uses the shared state, the other a mapped one. */
static void test_concurrent(void **state)
{
	(void)state;
	pthread_t t[3];
	long bad[3];
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&t[i], NULL, demangle_loop, &bad[i]), 0);
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(bad[i], 0);
	}
}

/* Reads lines of a command's output into a NUL-separated buffer. */
static size_t run_lines(const char *cmd, char *buf, size_t cap, char ***lines)
{
	FILE *p = popen(cmd, "r");
	if (!p)
		return 0;
	size_t len = fread(buf, 1, cap - 1, p);
	pclose(p);
	buf[len] = '\0';
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += buf[i] == '\n';
	*lines = calloc(n + 1, sizeof **lines);
	size_t k = 0;
	char *s = buf;
	for (char *nl; k < n && (nl = strchr(s, '\n')); s = nl + 1) {
		*nl = '\0';
		(*lines)[k++] = s;
	}
	return k;
}

/* The dynamic symbols of libstdc++ against c++filt, live. */
static void test_libstdcxx_vs_cxxfilt(void **state)
{
	(void)state;
	const char *lib = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6";
	if (access(lib, R_OK) != 0 || system("c++filt --version >/dev/null 2>&1") != 0 ||
	    system("nm --version >/dev/null 2>&1") != 0) {
		print_message("libstdc++, nm or c++filt missing: skipped\n");
		skip();
	}
	char tmp[] = "/tmp/ma_dmXXXXXX";
	int fd = mkstemp(tmp);
	assert_true(fd >= 0);
	close(fd);
	char cmd[512];
	snprintf(cmd, sizeof cmd,
		 "nm -D --defined-only %s | awk '{print $3}' | sed 's/@.*//' | grep '^_Z' | sort -u > %s",
		 lib, tmp);
	assert_int_equal(system(cmd), 0);
	size_t cap = 64u << 20;
	char *b1 = malloc(cap), *b2 = malloc(cap);
	char **names, **want;
	snprintf(cmd, sizeof cmd, "cat %s", tmp);
	size_t n = run_lines(cmd, b1, cap, &names);
	snprintf(cmd, sizeof cmd, "c++filt < %s", tmp);
	size_t m = run_lines(cmd, b2, cap, &want);
	unlink(tmp);
	assert_true(n > 1000);
	assert_int_equal(n, m);
	size_t exact = 0, failed = 0, wrong = 0;
	for (size_t i = 0; i < n; i++) {
		if (!ma_demangle(names[i], out, sizeof out))
			failed += strcmp(want[i], names[i]) != 0;
		else if (strcmp(out, want[i]) == 0)
			exact++;
		else if (wrong++ < 5)
			print_message("differs: %s\n  ours:    %s\n  c++filt: %s\n", names[i], out, want[i]);
	}
	print_message("libstdc++ corpus: %zu symbols, %zu exact (%.2f%%), %zu not demangled, %zu different\n",
		      n, exact, 100.0 * (double)exact / (double)n, failed, wrong);
	assert_true(exact * 100 >= n * 95);
	free(names);
	free(want);
	free(b1);
	free(b2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_curated_corpus),
		cmocka_unit_test(test_small_buffers),
		cmocka_unit_test(test_hostile_limits),
		cmocka_unit_test(test_random_inputs),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_libstdcxx_vs_cxxfilt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
