/* SPDX-License-Identifier: Apache-2.0 */
/* symlib.c: a small library the symbolizer tests dlopen, close, copy, strip. */
#include <stdint.h>

#define NOINLINE __attribute__((noinline, used))

/* Static: only .symtab (or a debug file) names it. */
static NOINLINE int symlib_static(int x)
{
	__asm__ volatile("" : "+r"(x));
	return x * 7 + 3;
}

NOINLINE int symlib_global(int x)
{
	__asm__ volatile("" : "+r"(x));
	return symlib_static(x) + 1;
}

/* A C++ name, so that resolving demangles it: symlib::mangled(int). */
NOINLINE int symlib_mangled(int x) __asm__("_ZN6symlib7mangledEi");
NOINLINE int symlib_mangled(int x)
{
	__asm__ volatile("" : "+r"(x));
	return x ^ 0x55;
}

void *symlib_static_addr(void)
{
	return (void *)(uintptr_t)&symlib_static;
}
