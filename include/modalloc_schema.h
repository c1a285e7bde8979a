/* SPDX-License-Identifier: Apache-2.0 */
/*
 * modalloc_schema.h: names of the JSON report (format "modalloc", version 1)
 * that the library writes and the modalloc command reads, stated once for
 * both.  A leaf: X-macros only, no code, no includes.  Part of the build,
 * not installed (include/modalloc.h is the public header).
 *
 * MODALLOC_REPORT_CALLS(X): every interposed entry point, in the order of
 * the report's "calls" object (and of the library's per-thread counters:
 * free is second so that its counter shares a cache line with malloc's,
 * see struct ma_thread in src/thread.h).  The names are JSON keys relied on
 * from outside: add to the list, never rename or remove.
 */
#ifndef MODALLOC_SCHEMA_H
#define MODALLOC_SCHEMA_H

#define MODALLOC_REPORT_CALLS(X) \
	X(malloc) X(free) X(calloc) X(realloc) X(reallocarray) X(cfree) \
	X(posix_memalign) X(aligned_alloc) X(memalign) X(valloc) X(pvalloc) \
	X(malloc_usable_size) \
	X(operator_new) X(operator_new_array) X(operator_delete) X(operator_delete_array)

#endif
