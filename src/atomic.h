/* SPDX-License-Identifier: Apache-2.0 */
/*
 * atomic.h: <stdatomic.h> wrappers that name their memory order.
 *
 * Single-writer counters (a thread's own record) use ma_own_add: a relaxed
 * load and a relaxed store, which compile to a plain add with no lock
 * prefix, yet stay race-free for readers that sum the records.
 */
#ifndef MA_ATOMIC_H
#define MA_ATOMIC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef _Atomic uint64_t ma_au64;
typedef _Atomic int64_t ma_ai64;
typedef _Atomic uint32_t ma_au32;

#define ma_load_relaxed(p)     atomic_load_explicit((p), memory_order_relaxed)
#define ma_load_acquire(p)     atomic_load_explicit((p), memory_order_acquire)
#define ma_store_relaxed(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
#define ma_store_release(p, v) atomic_store_explicit((p), (v), memory_order_release)
#define ma_add_relaxed(p, v)   atomic_fetch_add_explicit((p), (v), memory_order_relaxed)
#define ma_sub_relaxed(p, v)   atomic_fetch_sub_explicit((p), (v), memory_order_relaxed)
#define ma_cas_acq_rel(p, e, d) \
	atomic_compare_exchange_strong_explicit((p), (e), (d), \
		memory_order_acq_rel, memory_order_acquire)

/*
 * Add to a counter that only the calling thread writes.  On x86_64 one
 * `add` to memory: an aligned 8-byte store is single-copy atomic, so readers
 * never see a torn value, and with one writer no lock prefix is needed.  It
 * saves the load and store instructions that the relaxed pair compiles to
 * (the fast paths do six of these per malloc/free pair).  ThreadSanitizer
 * builds keep the portable form, which it can see.
 */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MA_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define MA_TSAN 1
#endif
#define ma_own_add_portable(p, v) ma_store_relaxed((p), ma_load_relaxed(p) + (v))
#if defined(__x86_64__) && !defined(MA_TSAN)
/* 8- and 4-byte counters (the asm names its width: one add into memory,
 * where the portable form is a load, an add and a store); others take the
 * portable form.  An add of a constant 0 is dropped, as the compiler would. */
#define ma_own_add(p, v)                                                                   \
	do {                                                                               \
		if (__builtin_constant_p(v) && (v) == 0)                                   \
			break;                                                             \
		if (sizeof(*(p)) == 8)                                                     \
			__asm__("addq %1, %0" : "+m"(*(p)) : "er"((uint64_t)(v)));         \
		else if (sizeof(*(p)) == 4)                                                \
			__asm__("addl %1, %0" : "+m"(*(p)) : "ir"((uint32_t)(v)));         \
		else                                                                       \
			ma_own_add_portable(p, v);                                         \
	} while (0)
#else
#define ma_own_add(p, v) ma_own_add_portable(p, v)
#endif

#endif
