/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_demangle.c: libFuzzer target for ma_demangle_n.  Build and run:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc tests/fuzz/fuzz_demangle.c \
 *         src/demangle.c src/os/linux.c -o fuzz_demangle
 *   ./fuzz_demangle -max_total_time=60 tests/fuzz/corpus/demangle
 * (tests/unit/symtests/fuzz.sh does both for every target.)
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "demangle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[8192];
	/* With and without the "_Z" the fuzzer would otherwise have to find. */
	if (size > 0 && data[0] & 1) {
		static char buf[20000];
		if (size + 2 > sizeof buf)
			return 0;
		buf[0] = '_';
		buf[1] = 'Z';
		memcpy(buf + 2, data + 1, size - 1);
		ma_demangle_n(buf, size + 1, out, sizeof out);
	} else {
		ma_demangle_n((const char *)data, size, out, sizeof out);
	}
	/* A small buffer exercises the overflow paths. */
	ma_demangle_n((const char *)data, size, out, 17);
	return 0;
}
