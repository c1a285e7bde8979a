/* SPDX-License-Identifier: Apache-2.0 */
/* options.c: one table of MOD_ALLOC_* variables, parsed once. */
#include "options.h"

#include <string.h>

#include "fmt.h"

struct opt_desc {
	const char *name;
	enum ma_opt_kind kind;
	const char *def;
	uint64_t min, max;
	size_t offset;
};

static const struct opt_desc table[] = {
#define X(field, name, kind, def, min, max, doc) \
	{ name, kind, def, min, max, __builtin_offsetof(struct ma_options, field) },
	MA_OPTIONS(X)
#undef X
};

int ma_options_parse_uint(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int ma_options_parse_bytes(const char *s, uint64_t *out)
{
	char digits[32];
	size_t n = strlen(s);
	unsigned shift = 0;
	if (n && (s[n - 1] == 'K' || s[n - 1] == 'k'))
		shift = 10;
	else if (n && (s[n - 1] == 'M' || s[n - 1] == 'm'))
		shift = 20;
	else if (n && (s[n - 1] == 'G' || s[n - 1] == 'g'))
		shift = 30;
	if (shift)
		n--;
	if (n == 0 || n >= sizeof digits)
		return -1;
	memcpy(digits, s, n);
	digits[n] = '\0';
	uint64_t v;
	if (ma_options_parse_uint(digits, &v) || v > UINT64_MAX >> shift)
		return -1;
	*out = v << shift;
	return 0;
}

static int ieq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
		if (x != *b)
			return 0;
	}
	return *a == *b;
}

int ma_options_parse_bool(const char *s, uint64_t *out)
{
	static const char *const yes[] = { "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off" };
	for (unsigned i = 0; i < 4; i++) {
		if (ieq(s, yes[i])) {
			*out = 1;
			return 0;
		}
		if (ieq(s, no[i])) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

static const char *lookup(char *const *envp, const char *name)
{
	size_t n = strlen(name);
	if (!envp)
		return NULL;
	for (; *envp; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

static void num_to_str(uint64_t v, char *buf, size_t cap)
{
	struct ma_buf b;
	ma_buf_init(&b, buf, cap, -1);
	ma_buf_u64(&b, v);
	ma_buf_finish(&b);
}

/* Applies one value; returns 0 when taken as is, 1 when rejected or clamped. */
static int apply(const struct opt_desc *d, struct ma_options *o, const char *val, bool warn)
{
	void *field = (char *)o + d->offset;
	char shown[128];
	struct ma_buf sb;
	if (d->kind == MA_OPT_PATH) {
		size_t n = strlen(val);
		if (n >= MA_PATH_MAX) {
			if (warn)
				ma_warn(d->name, " is longer than 4095 bytes; using the default '", d->def, "'");
			return 1;
		}
		memcpy(field, val, n + 1);
		return 0;
	}
	uint64_t v;
	if (d->kind == MA_OPT_UNWIND) {
		static const char *const words[] = { "fp", "cfi", "auto" };
		for (unsigned i = 0; i < 3; i++) {
			if (ieq(val, words[i])) {
				*(uint64_t *)field = i;
				return 0;
			}
		}
		ma_buf_init(&sb, shown, sizeof shown, -1);
		ma_buf_json_str(&sb, val);
		ma_buf_finish(&sb);
		if (warn)
			ma_warn(d->name, "=", shown, " is not one of fp, cfi, auto; using the default 'auto'");
		apply(d, o, d->def, false);
		return 1;
	}
	int bad = d->kind == MA_OPT_BOOL    ? ma_options_parse_bool(val, &v)
	          : d->kind == MA_OPT_BYTES ? ma_options_parse_bytes(val, &v)
	                                    : ma_options_parse_uint(val, &v);
	ma_buf_init(&sb, shown, sizeof shown, -1);
	ma_buf_json_str(&sb, val);
	ma_buf_finish(&sb);
	if (bad) {
		if (warn)
			ma_warn(d->name, "=", shown, d->kind == MA_OPT_BOOL
				? " is not a boolean (1/0, yes/no, true/false, on/off); using the default"
				: d->kind == MA_OPT_BYTES
				? " is not a byte count (digits, optionally followed by K, M or G); using the default"
				: " is not a non-negative decimal integer; using the default");
		return 1;
	}
	int clamped = 0;
	if (v < d->min || v > d->max) {
		char lim[32], msg[96];
		v = v < d->min ? d->min : d->max;
		num_to_str(v, lim, sizeof lim);
		struct ma_buf mb;
		ma_buf_init(&mb, msg, sizeof msg, -1);
		ma_buf_str(&mb, " is out of range; clamped to ");
		ma_buf_str(&mb, lim);
		ma_buf_finish(&mb);
		if (warn)
			ma_warn(d->name, "=", shown, msg);
		clamped = 1;
	}
	if (d->kind == MA_OPT_POW2) {
		uint64_t p = 1;
		while (p < v)
			p <<= 1;
		v = p;
	}
	*(uint64_t *)field = v;
	return clamped;
}

int ma_options_parse(struct ma_options *o, char *const *envp, bool warn)
{
	int rejected = 0;
	for (unsigned i = 0; i < sizeof table / sizeof table[0]; i++)
		apply(&table[i], o, table[i].def, false);
	for (unsigned i = 0; i < sizeof table / sizeof table[0]; i++) {
		const char *val = lookup(envp, table[i].name);
		if (val && *val)
			rejected += apply(&table[i], o, val, warn);
	}
	/* The test hooks (options.h): silent, and off unless a valid number. */
	const char *val = lookup(envp, "MOD_ALLOC_TEST_PAUSE_MS");
	if (!val || ma_options_parse_uint(val, &o->test_pause_ms) || o->test_pause_ms > 600000)
		o->test_pause_ms = 0;
	val = lookup(envp, "MOD_ALLOC_TEST_NO_TMPFILE");
	if (!val || ma_options_parse_bool(val, &o->test_no_tmpfile))
		o->test_no_tmpfile = 0;
	val = lookup(envp, "MOD_ALLOC_TEST_FATAL_FAULT");
	if (!val || ma_options_parse_bool(val, &o->test_fatal_fault))
		o->test_fatal_fault = 0;
	return rejected;
}
