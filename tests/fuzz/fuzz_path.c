/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_path.c: libFuzzer target for the report path template
 * (ma_report_expand_path), checked against a plain reference expansion.
 *
 * Input: byte 0 = output capacity (0..255, or MA_PATH_MAX when 255), bytes
 * 1..4 = pid, then the template, a NUL, and the start-up directory.  The
 * output buffer is allocated at exactly its capacity, so any write past it
 * is caught by AddressSanitizer.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "init.h"
#include "options.h"
#include "report.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* The core's constructor ran: keep its destructor from writing a report. */
	ma_g.opt.report = 0;
	ma_g.opt.quiet = 1;
	return 0;
}

/* Reference: returns the expansion's length, or -EINVAL / -ENAMETOOLONG. */
static ssize_t reference(char *out, size_t outcap, const char *tmpl, pid_t pid, const char *cwd)
{
	if (!*tmpl || outcap < 2)
		return -EINVAL;
	size_t len = 0;
	char *big = malloc(strlen(tmpl) * 16 + strlen(cwd) + 2);
	if (tmpl[0] != '/' && *cwd) {
		len = strlen(cwd);
		memcpy(big, cwd, len);
		if (cwd[len - 1] != '/')
			big[len++] = '/';
	}
	for (const char *s = tmpl; *s; s++) {
		if (*s != '%') {
			big[len++] = *s;
		} else if (s[1] == 'p') {
			char num[24];
			int k = 0;
			uint64_t v = (uint64_t)pid;
			do
				num[k++] = (char)('0' + v % 10);
			while ((v /= 10));
			while (k)
				big[len++] = num[--k];
			s++;
		} else if (s[1] == '%') {
			big[len++] = '%';
			s++;
		} else {
			free(big);
			return -EINVAL;
		}
	}
	ssize_t r;
	if (len >= outcap)
		r = -ENAMETOOLONG;
	else if (len == 0 || big[len - 1] == '/')
		r = -EINVAL;
	else {
		memcpy(out, big, len);
		out[len] = '\0';
		r = (ssize_t)len;
	}
	free(big);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 5 || size > 16 * 1024)
		return 0;
	size_t cap = data[0] == 255 ? MA_PATH_MAX : data[0];
	pid_t pid;
	memcpy(&pid, data + 1, sizeof pid);
	if (pid < 0)
		pid = -(pid + 1);
	/* Template and cwd as NUL-terminated copies of the rest. */
	size_t rest = size - 5;
	char *tmpl = malloc(rest + 1);
	memcpy(tmpl, data + 5, rest);
	tmpl[rest] = '\0';
	size_t tl = strlen(tmpl);
	const char *cwd = tl < rest ? tmpl + tl + 1 : "";

	char *out = malloc(cap ? cap : 1);
	char *want = malloc(cap ? cap : 1);
	ssize_t got = ma_report_expand_path(out, cap, tmpl, pid, cwd);
	ssize_t exp = reference(want, cap, tmpl, pid, cwd);
	/* Same result, same error: a bad escape first, then the length, then a trailing '/'. */
	if (got != exp)
		abort();
	if (got >= 0 && (strcmp(out, want) != 0 || (size_t)got != strlen(out)))
		abort();
	free(out);
	free(want);
	free(tmpl);
	return 0;
}
