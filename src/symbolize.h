/* SPDX-License-Identifier: Apache-2.0 */
/*
 * symbolize.h: return addresses to {module, offset, function}, inside the
 * profiled process.  No malloc, no stdio: /proc/self/maps is read with raw
 * reads, ELF files are mmap'd read-only, per-module symbol indexes live in
 * anonymous mappings.  Every file is treated as hostile: a truncated or
 * corrupted ELF file gives "??", never a crash.
 *
 * Thread safety: all entry points take one internal spin lock.
 */
#ifndef MA_SYMBOLIZE_H
#define MA_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MA_SYM_MAX_MODULES 256

struct ma_sym_result {
	char module[4096];      /* path from /proc/self/maps, or "" */
	uint64_t offset;        /* ip - load bias: the ELF virtual address addr2line wants */
	char function[1024];    /* demangled when possible, else the raw name, else "??" */
	uint64_t sym_offset;    /* ip - start of the symbol */
	bool found_module, found_function;
};

struct ma_sym_stats {
	unsigned modules;       /* in the table now */
	unsigned live;          /* of which seen in the last refresh */
	unsigned dropped;       /* mappings not recorded: the table was full of live modules */
	unsigned evicted;       /* unmapped modules forgotten to make room */
	unsigned unreadable;    /* modules whose file could not be opened or parsed */
	unsigned with_debug_file;
};

/* Re-reads /proc/self/maps.  Modules that disappeared (a dlclose()d library)
 * are kept, with their file still mapped, so frames recorded earlier still
 * resolve: call this before each dlclose and at report time. */
void ma_sym_refresh_modules(void);
/* Resolves one address (callers pass a return address minus 1).  Refreshes
 * the module list first if it was never read.  Returns found_module: a
 * frame in a known module without a symbol still has module and offset. */
bool ma_sym_resolve(uintptr_t ip, struct ma_sym_result *out);
/* Unmaps every file and index and forgets all modules. */
void ma_sym_release(void);
/*
 * The table index of the live module containing ip (after a refresh) and
 * its address span, or -1.  With ma_sym_resolve_in, frames of a library
 * about to be dlclose()d stay named after another one is mapped there.
 */
int ma_sym_module_at(uintptr_t ip, uintptr_t *lo, uintptr_t *hi);
bool ma_sym_resolve_in(int index, uintptr_t ip, struct ma_sym_result *out);
bool ma_sym_module_span(int index, uintptr_t *lo, uintptr_t *hi);
void ma_sym_get_stats(struct ma_sym_stats *out);
/* Where separate debug files are looked up by build id
 * (<root>/.build-id/xx/yyyy.debug); default /usr/lib/debug.  For tests. */
void ma_sym_set_debug_root(const char *dir);

/* Pure lookup over an in-memory ELF image (tests, fuzzing): the FUNC symbol
 * containing vaddr in .symtab, else in .dynsym.  Copies its raw (mangled)
 * name, truncated to cap - 1 bytes; false if there is none or the image is
 * not a well-formed 64-bit ELF file of this machine's byte order. */
bool ma_sym_lookup_image(const void *image, size_t size, uint64_t vaddr,
			 char *name, size_t cap, uint64_t *sym_offset);

#endif
