/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_elf.c: libFuzzer target for ma_sym_lookup_image, the ELF parser the
 * symbolizer runs over every mapped file.  The first 8 bytes of the input
 * choose the address to look up; the rest is the image, copied to an
 * exact-size buffer so that ASan catches any read past its end.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc tests/fuzz/fuzz_elf.c \
 *         src/symbolize.c src/demangle.c src/fmt.c src/os/linux.c -o fuzz_elf
 *   ./fuzz_elf -max_total_time=60 tests/fuzz/corpus/elf
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t vaddr = 0;
	if (size < 8)
		return 0;
	memcpy(&vaddr, data, 8);
	size -= 8;
	uint8_t *img = malloc(size ? size : 1);
	if (!img)
		return 0;
	memcpy(img, data + 8, size);
	char name[64];
	uint64_t off;
	ma_sym_lookup_image(img, size, vaddr, name, sizeof name, &off);
	/* Also every symbol-ish address near the start of the text. */
	for (uint64_t v = 0; v < 0x3000; v += 0x101)
		ma_sym_lookup_image(img, size, v, name, sizeof name, &off);
	free(img);
	return 0;
}
