/* SPDX-License-Identifier: Apache-2.0 */
/*
 * preload_cxx.c: C++ operator new and delete, interposed directly.
 *
 * libstdc++'s own operator new would reach our malloc anyway, but it is
 * built without frame pointers: the frame walk would lose its caller, the
 * line that said `new`.  Entering here instead keeps that frame, counts the
 * requested size of aligned new (as Valgrind does, before libstdc++ rounds
 * it up), and gives new and delete their own `calls` counters.
 *
 * Failure follows the standard (and libstdc++): call the new_handler and
 * retry while there is one; otherwise throw std::bad_alloc, or return NULL
 * for the nothrow forms.  Both come from libstdc++ through dlsym, so this
 * file needs no C++ runtime of its own.  Names are the Itanium ABI's for
 * LP64 (size_t = unsigned long, 'm').
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>

#include "core.h"

/* The deletes take size, alignment and nothrow arguments only to ignore them. */
#pragma GCC diagnostic ignored "-Wunused-parameter"

#define MA_SHIM MA_EXPORT

typedef void (*ma_new_handler)(void);

/* Returns after the new_handler ran (retry), NULL-returns for nothrow, or throws. */
static MA_NOINLINE bool handle_failure(bool nothrow)
{
	ma_new_handler (*get)(void) = (ma_new_handler(*)(void))dlsym(RTLD_DEFAULT, "_ZSt15get_new_handlerv");
	ma_new_handler h = get ? get() : NULL;
	if (h) {
		h();
		return true;
	}
	if (nothrow)
		return false;
	void (*throw_bad_alloc)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "_ZSt17__throw_bad_allocv");
	if (throw_bad_alloc)
		throw_bad_alloc(); /* does not return */
	return false;
}

MA_INLINE void *cxx_new(enum ma_call call, size_t size, size_t align, bool nothrow)
{
	for (;;) {
		void *p = ma_core_alloc(call, size, size, align, false);
		if (MA_LIKELY(p != NULL))
			return p;
		if (!handle_failure(nothrow))
			return NULL;
	}
}

MA_SHIM void *_Znwm(size_t n) { return cxx_new(MA_CALL_operator_new, n, 0, false); }
MA_SHIM void *_Znam(size_t n) { return cxx_new(MA_CALL_operator_new_array, n, 0, false); }
MA_SHIM void *_ZnwmRKSt9nothrow_t(size_t n, const void *nt) { (void)nt; return cxx_new(MA_CALL_operator_new, n, 0, true); }
MA_SHIM void *_ZnamRKSt9nothrow_t(size_t n, const void *nt) { (void)nt; return cxx_new(MA_CALL_operator_new_array, n, 0, true); }
MA_SHIM void *_ZnwmSt11align_val_t(size_t n, size_t al) { return cxx_new(MA_CALL_operator_new, n, al, false); }
MA_SHIM void *_ZnamSt11align_val_t(size_t n, size_t al) { return cxx_new(MA_CALL_operator_new_array, n, al, false); }
MA_SHIM void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void *nt)
{
	(void)nt;
	return cxx_new(MA_CALL_operator_new, n, al, true);
}
MA_SHIM void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void *nt)
{
	(void)nt;
	return cxx_new(MA_CALL_operator_new_array, n, al, true);
}

/* Every delete, sized or aligned or nothrow, is a free of that block. */
#define MA_DELETE(name, call, ...) \
	MA_SHIM void name(void *p, ##__VA_ARGS__) { ma_core_free(call, p); }

MA_DELETE(_ZdlPv, MA_CALL_operator_delete)
MA_DELETE(_ZdaPv, MA_CALL_operator_delete_array)
MA_DELETE(_ZdlPvm, MA_CALL_operator_delete, size_t n)
MA_DELETE(_ZdaPvm, MA_CALL_operator_delete_array, size_t n)
MA_DELETE(_ZdlPvRKSt9nothrow_t, MA_CALL_operator_delete, const void *nt)
MA_DELETE(_ZdaPvRKSt9nothrow_t, MA_CALL_operator_delete_array, const void *nt)
MA_DELETE(_ZdlPvSt11align_val_t, MA_CALL_operator_delete, size_t al)
MA_DELETE(_ZdaPvSt11align_val_t, MA_CALL_operator_delete_array, size_t al)
MA_DELETE(_ZdlPvmSt11align_val_t, MA_CALL_operator_delete, size_t n, size_t al)
MA_DELETE(_ZdaPvmSt11align_val_t, MA_CALL_operator_delete_array, size_t n, size_t al)
MA_DELETE(_ZdlPvSt11align_val_tRKSt9nothrow_t, MA_CALL_operator_delete, size_t al, const void *nt)
MA_DELETE(_ZdaPvSt11align_val_tRKSt9nothrow_t, MA_CALL_operator_delete_array, size_t al, const void *nt)
