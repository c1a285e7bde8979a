/* SPDX-License-Identifier: Apache-2.0 */
/*
 * internal.h: vocabulary, attribute macros and conventions shared by every
 * file of libmodalloc.  Include exactly what you use; this header has no
 * dependencies of its own.
 *
 * Vocabulary
 *   block          one live allocation handed out by this library.
 *   header         the 16 (or 32, with call sites) bytes directly below a
 *                  block that remember its requested size (block.h).
 *   site           a deduplicated allocating stack (DHAT's "program point").
 *   frame          one return address.
 *   real function  the next definition in symbol resolution, found with
 *                  dlsym(RTLD_NEXT, ...): glibc, jemalloc, whatever follows us.
 *   shim           our exported libc symbols (preload.c).
 *   core           the accounting (core.c), which knows nothing about how it
 *                  was hooked.
 *   record         one thread's counters (thread.h); records live in mmap'd
 *                  memory so they can be summed after their thread is gone.
 *
 * Conventions
 *   Prefixes: ma_ for every internal symbol, MA_ for constants, modalloc_
 *   for the public API only.  The OS layer returns 0 or a negative errno;
 *   allocators return NULL; predicates are is_/has_.  True never means error.
 *   Units are in names (_bytes, _blocks, _ns).
 */
#ifndef MA_INTERNAL_H
#define MA_INTERNAL_H

#define MA_LIKELY(x)   __builtin_expect(!!(x), 1)
#define MA_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define MA_EXPORT      __attribute__((visibility("default")))
#define MA_HIDDEN      __attribute__((visibility("hidden")))
#define MA_NOINLINE    __attribute__((noinline))
#define MA_COLD        __attribute__((cold, noinline))
#define MA_INLINE      static inline __attribute__((always_inline))

/* The shim's frame: Tier 2 starts its walk there, skipping the library's own frames. */
#define MA_FRAME() ((uintptr_t)__builtin_frame_address(0))
/*
 * A call that received MA_FRAME() must not be a tail call: the caller's frame
 * record would be gone (reused by the callee's frame on aarch64) before the
 * walk reads it.  An empty asm that uses the result keeps the call out of
 * tail position.
 */
#define MA_KEEP_FRAME(v) __asm__ volatile("" : "+r"(v))
#define MA_TLS         __thread __attribute__((tls_model("initial-exec")))
#define MA_CACHELINE   64
#define MA_ALIGNED_LINE __attribute__((aligned(MA_CACHELINE)))
#define MA_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
