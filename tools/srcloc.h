/* SPDX-License-Identifier: Apache-2.0 */
/*
 * srcloc.h: source locations of return addresses from the modules' DWARF
 * (elfutils libdw), for `modalloc lines`.
 *
 * The library names frames from ELF symbol tables only; file:line and
 * inlined calls need DWARF, which stays out of the preloaded library.  Each
 * module is opened once, offline (never attached to a process), with libdw's
 * standard debuginfo search: the file itself, then .gnu_debuglink and
 * /usr/lib/debug/.build-id/xx/yyyy.debug, then (built with libdebuginfod)
 * the debuginfod servers of DEBUGINFOD_URLS, by the module file's build id,
 * once per build id.  A module that is missing, not ELF or without DWARF
 * simply yields nothing.
 *
 * Addresses are ELF virtual addresses of the module ("offset" in reports).
 */
#ifndef MT_SRCLOC_H
#define MT_SRCLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One source frame.  Owned by the cache: valid until mt_srcloc_free. */
struct mt_srcframe {
	const char *function; /* inlined frames: the inlined function; the last frame: NULL */
	const char *file;     /* normalized path as in the DWARF, or NULL when unknown */
	unsigned line;
	bool inlined;
};

struct mt_srcloc;

struct mt_srcloc *mt_srcloc_new(void);
void mt_srcloc_free(struct mt_srcloc *sl);

/*
 * The call at return address `ret` (ELF vaddr in `module`): looks up
 * ret - 1, which lies inside the call instruction.  Returns the frames,
 * innermost first: one per inlined function the call sits in (inlined =
 * true, each with the line inside it), then the real frame (function NULL,
 * the line of the call or of the outermost inlined call).  0 when the
 * module has no line for it.
 */
size_t mt_srcloc_lookup(struct mt_srcloc *sl, const char *module, uint64_t ret,
                        const struct mt_srcframe **frames);

/*
 * The name of the function holding the call at return address `ret`, from
 * the module's symbol tables: its .symtab, a separate debug file's, or its
 * .dynsym and MiniDebugInfo (.gnu_debugdata).  Demangled as the library
 * names functions.  NULL when none holds it.  Owned by the cache.
 */
const char *mt_srcloc_function(struct mt_srcloc *sl, const char *module, uint64_t ret);

/*
 * The load bias of `module` in a process where the frames ips[i] (runtime
 * return addresses) were named functions[i] by the library (demangled, "??"
 * when unknown): 0 for a non-PIE executable, else the page-aligned bias
 * most frames agree on, from the functions' symbols.  False when the
 * module cannot be read or no frame decides.
 */
bool mt_srcloc_guess_bias(struct mt_srcloc *sl, const char *module, size_t n,
                          const uint64_t *ips, const char *const *functions, uint64_t *bias);

#endif
