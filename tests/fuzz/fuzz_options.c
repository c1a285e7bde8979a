/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_options.c: libFuzzer target for the MOD_ALLOC_* parser.
 *
 * Input: NUL-separated "NAME=value" entries, turned into an envp array.  An
 * entry whose first byte is 1..7 has it replaced by the name of option 1..7
 * (in options.h order), so mutations reach the real variables without a
 * dictionary.  The parser must accept anything and leave every field in its
 * documented range.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

static const char *const names[] = {
#define X(field, name, kind, def, min, max, doc) name,
	MA_OPTIONS(X)
#undef X
};
#define NAMES (sizeof names / sizeof names[0])

#define MAX_ENTRIES 64

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 64 * 1024)
		return 0;
	/* Each entry may grow by a name's length. */
	char *buf = malloc(size * 24 + 1);
	char *env[MAX_ENTRIES + 1];
	size_t n = 0, out = 0, i = 0;
	while (i < size && n < MAX_ENTRIES) {
		env[n++] = buf + out;
		if (data[i] >= 1 && data[i] <= NAMES) {
			const char *nm = names[data[i] - 1];
			memcpy(buf + out, nm, strlen(nm));
			out += strlen(nm);
			i++;
		}
		while (i < size && data[i])
			buf[out++] = (char)data[i++];
		buf[out++] = '\0';
		i++; /* the separator */
	}
	env[n] = NULL;

	struct ma_options o;
	memset(&o, 0xa5, sizeof o);
	/* Warnings only for short inputs: they go to stderr (run with -close_fd_mask=2). */
	int r = ma_options_parse(&o, env, size < 256);
	if (r < 0 || r > (int)NAMES)
		abort();
	if (memchr(o.out, '\0', sizeof o.out) == NULL || memchr(o.dhat, '\0', sizeof o.dhat) == NULL)
		abort();
	if (!o.out[0])
		abort(); /* an empty value means unset: the default template stays */
	if (o.backtraces > 1 || o.quiet > 1 || o.report > 1)
		abort();
	if (o.buckets < 64 || o.buckets > 1048576 || !is_pow2(o.buckets))
		abort();
	if (o.depth < 1 || o.depth > 256)
		abort();
	if (o.unwind > MA_UNWIND_AUTO)
		abort();
	/* The single-value parsers agree with a plain reading of each value. */
	for (size_t k = 0; k < n; k++) {
		const char *eq = strchr(env[k], '=');
		if (!eq)
			continue;
		uint64_t v = 0;
		int ur = ma_options_parse_uint(eq + 1, &v);
		size_t len = strlen(eq + 1);
		bool digits = len > 0 && strspn(eq + 1, "0123456789") == len;
		if (ur == 0 && !digits)
			abort();
		if (ur == 0 && len < 19 && v != strtoull(eq + 1, NULL, 10))
			abort();
		if (digits && len < 20 && ur != 0)
			abort();
		uint64_t bv = 7;
		if (ma_options_parse_bool(eq + 1, &bv) == 0 && bv > 1)
			abort();
	}
	free(buf);
	return 0;
}
