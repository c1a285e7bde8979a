/* SPDX-License-Identifier: Apache-2.0 */
/* util.c: errors, allocation, number parsing and formatting for the command. */
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void mt_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs(MT_PROG ": ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void mt_die(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fflush(stdout);
	fputs(MT_PROG ": ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(status);
}

static void *oom(void *p)
{
	if (!p)
		mt_die(2, "out of memory");
	return p;
}

void *mt_xmalloc(size_t n)
{
	return oom(malloc(n ? n : 1));
}

void *mt_xcalloc(size_t n, size_t m)
{
	return oom(calloc(n ? n : 1, m ? m : 1));
}

void *mt_xrealloc(void *p, size_t n)
{
	return oom(realloc(p, n ? n : 1));
}

char *mt_xstrdup(const char *s)
{
	return oom(strdup(s));
}

char *mt_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		mt_die(2, "out of memory");
	return s;
}

/*
 * strtoull(3) with every check it leaves to the caller: it would skip
 * leading space, take a sign ("-1" is ULLONG_MAX) and, in base 16, a "0x"
 * prefix of its own.  Here the text must start with a digit of the base
 * (and not with "0x"); *end is where the digits stop.  0 on success, -1
 * without a digit or on overflow.
 */
static int digits_u64(const char *s, int base, uint64_t *out, const char **end)
{
	bool digit = (*s >= '0' && *s <= '9') ||
	             (base == 16 && ((*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F')));
	if (!digit || (base == 16 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')))
		return -1;
	char *e;
	errno = 0;
	unsigned long long v = strtoull(s, &e, base);
	if (errno)
		return -1;
	*out = v;
	*end = e;
	return 0;
}

int mt_parse_u64_prefix(const char *s, uint64_t *out, const char **end)
{
	return s ? digits_u64(s, 10, out, end) : -1;
}

int mt_parse_u64(const char *s, uint64_t *out)
{
	const char *end;
	uint64_t v;
	if (!s || digits_u64(s, 10, &v, &end) < 0 || *end)
		return -1;
	*out = v;
	return 0;
}

int mt_parse_hex(const char *s, uint64_t *out)
{
	const char *end;
	uint64_t v;
	if (!s || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || digits_u64(s + 2, 16, &v, &end) < 0 ||
	    *end)
		return -1;
	*out = v;
	return 0;
}

static int unit_shift(const char *u, unsigned *shift)
{
	static const struct { const char *name; unsigned shift; } units[] = {
		{ "", 0 }, { "b", 0 },
		{ "k", 10 }, { "kb", 10 }, { "kib", 10 },
		{ "m", 20 }, { "mb", 20 }, { "mib", 20 },
		{ "g", 30 }, { "gb", 30 }, { "gib", 30 },
		{ "t", 40 }, { "tb", 40 }, { "tib", 40 },
	};
	char low[8];
	size_t n = strlen(u);
	if (n >= sizeof low)
		return -1;
	for (size_t i = 0; i <= n; i++)
		low[i] = (char)(u[i] >= 'A' && u[i] <= 'Z' ? u[i] + 32 : u[i]);
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strcmp(low, units[i].name) == 0) {
			*shift = units[i].shift;
			return 0;
		}
	return -1;
}

int mt_parse_size(const char *s, uint64_t *out)
{
	if (!s)
		return -1;
	const char *p = s;
	uint64_t ip = 0, frac = 0, scale = 1;
	size_t digits = 0;
	if (*p >= '0' && *p <= '9') {
		const char *end;
		if (digits_u64(p, 10, &ip, &end) < 0)
			return -1;
		digits += (size_t)(end - p);
		p = end;
	}
	if (*p == '.') {
		p++;
		/* 18 fraction digits are more than a byte's worth of TiB; the rest is dropped. */
		size_t n = strspn(p, "0123456789"), kept = n < 18 ? n : 18;
		if (kept) {
			char first[19];
			const char *end;
			memcpy(first, p, kept);
			first[kept] = '\0';
			if (digits_u64(first, 10, &frac, &end) < 0)
				return -1;
			for (size_t i = 0; i < kept; i++)
				scale *= 10;
		}
		digits += n;
		p += n;
	}
	if (!digits)
		return -1;
	while (*p == ' ')
		p++;
	unsigned shift;
	if (unit_shift(p, &shift) < 0)
		return -1;
	unsigned __int128 v = ((unsigned __int128)ip << shift) +
	                      (((unsigned __int128)frac << shift) + scale / 2) / scale;
	if (v > UINT64_MAX)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

const char *mt_human(uint64_t bytes, char *buf, size_t cap)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	if (bytes < 1024) {
		snprintf(buf, cap, "%llu B", (unsigned long long)bytes);
		return buf;
	}
	double v = (double)bytes;
	unsigned u = 0;
	while (v >= 1024 && u < 6) {
		v /= 1024;
		u++;
	}
	/* 1023.96 KiB would print as "1024.0 KiB": move to the next unit. */
	if (v >= 1023.95 && u < 6) {
		v /= 1024;
		u++;
	}
	snprintf(buf, cap, "%.1f %s", v, units[u]);
	return buf;
}

const char *mt_human_signed(int64_t bytes, char *buf, size_t cap)
{
	char tmp[32];
	if (bytes == 0) {
		snprintf(buf, cap, "0 B");
		return buf;
	}
	uint64_t mag = bytes < 0 ? (uint64_t)0 - (uint64_t)bytes : (uint64_t)bytes;
	snprintf(buf, cap, "%c%s", bytes < 0 ? '-' : '+', mt_human(mag, tmp, sizeof tmp));
	return buf;
}

const char *mt_grouped(uint64_t v, char *buf, size_t cap)
{
	char digits[32];
	int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
	size_t o = 0;
	for (int i = 0; i < n && o + 2 < cap; i++) {
		if (i && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}

/* A copy of s where a newline, tab or other control character takes two columns: "\n". */
static char *escape_controls(const char *s)
{
	char *out = mt_xmalloc(2 * strlen(s) + 1), *o = out;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch >= 0x20 && ch != 0x7f) {
			*o++ = *s;
			continue;
		}
		*o++ = '\\';
		*o++ = ch == '\n' ? 'n' : ch == '\t' ? 't' : ch == '\r' ? 'r' : '?';
	}
	*o = '\0';
	return out;
}

const char *mt_trunc(const char *raw, size_t width, char *buf, size_t cap)
{
	if (cap == 0)
		return buf;
	/* One line whatever the text holds: a command with a newline must not break a table. */
	char *esc = escape_controls(raw);
	const char *s = esc;
	size_t n = strlen(s);
	if (width >= cap)
		width = cap - 1;
	if (n <= width) {
		memcpy(buf, s, n + 1);
		free(esc);
		return buf;
	}
	size_t keep = width > 3 ? width - 3 : 0;
	/* Do not split a UTF-8 sequence. */
	while (keep > 0 && ((unsigned char)s[keep] & 0xc0) == 0x80)
		keep--;
	memcpy(buf, s, keep);
	memcpy(buf + keep, "...", width >= 3 ? 3 : width);
	buf[keep + (width >= 3 ? 3 : width)] = '\0';
	free(esc);
	return buf;
}

bool mt_is_help(const char *arg)
{
	return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

_Noreturn void mt_opt_fail(const char *cmd, int c, char **argv)
{
	char shortopt[3] = { '-', (char)optopt, '\0' };
	/* A long option is named by the argument as written, a short one by its letter. */
	const char *as_written = argv[optind - 1];
	const char *name = optopt && strncmp(as_written, "--", 2) != 0 ? shortopt : as_written;
	char cut[128];
	snprintf(cut, sizeof cut, "%.*s", (int)strcspn(name, "="), name);
	if (c == ':')
		mt_die(2, "option %s needs a value", cut);
	if (*cmd)
		mt_die(2, "%s: unknown option '%s' (see modalloc %s --help)", cmd, cut, cmd);
	mt_die(2, "unknown option '%s' (see modalloc --help)", cut);
}

int mt_getopt(int argc, char **argv, const char *optstring, const struct option *longopts,
              const char *cmd, const char *usage)
{
	int c = getopt_long(argc, argv, optstring, longopts, NULL);
	if (c == 'h') {
		fputs(usage, stdout);
		exit(0);
	}
	if (c == '?' || c == ':')
		mt_opt_fail(cmd, c, argv);
	return c;
}

size_t mt_need_files(const char *cmd, int argc, bool just_one)
{
	if (optind >= argc)
		mt_die(2, "%s: no FILE given (see modalloc %s --help)", cmd, cmd);
	if (just_one && argc - optind > 1)
		mt_die(2, "%s: takes one FILE", cmd);
	return (size_t)(argc - optind);
}

char *mt_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 65536, n = 0;
	char *buf = mt_xmalloc(cap + 1);
	for (;;) {
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (n < cap) {
			if (ferror(f)) {
				int e = errno ? errno : EIO;
				fclose(f);
				free(buf);
				errno = e;
				return NULL;
			}
			break;
		}
		cap *= 2;
		buf = mt_xrealloc(buf, cap + 1);
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}
