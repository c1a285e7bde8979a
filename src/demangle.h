/* SPDX-License-Identifier: Apache-2.0 */
/*
 * demangle.h: an Itanium C++ ABI demangler that runs inside the profiled
 * process: no malloc, no stdio, bounded state (a node arena, a substitution
 * table, recursion and print-step limits).  Output follows c++filt (GNU
 * libiberty with its default DMGL_PARAMS | DMGL_ANSI | DMGL_VERBOSE), so
 * std::string shows as its full basic_string<...> expansion.
 */
#ifndef MA_DEMANGLE_H
#define MA_DEMANGLE_H

#include <stdbool.h>
#include <stddef.h>

/* Demangles the NUL-terminated `mangled` ("_Z..." or "_GLOBAL__I_...") into
 * out (always NUL-terminated when cap > 0).  False, with out = "", when the
 * name is not mangled, is malformed, uses a construct this demangler does
 * not know, or does not fit in cap bytes: the caller keeps the mangled name. */
bool ma_demangle(const char *mangled, char *out, size_t cap);
/* The same over the first len bytes of s (a name followed by "@VERSION"). */
bool ma_demangle_n(const char *s, size_t len, char *out, size_t cap);

#endif
