/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fake_real.h: a stand-in for the real allocator (ma_real) that counts its
 * calls, can be told to fail, can re-enter the core from inside (as
 * jemalloc's own initialisation does), and checks every pointer it is given.
 *
 * Each block it hands out has 32 readable bytes below it (the core reads a
 * header below any pointer it is given, foreign ones included), and it keeps
 * a table of live blocks: a free or realloc of a pointer it never returned is
 * counted in `unknown`, not passed on, so tests can assert on it.
 */
#ifndef MA_FAKE_REAL_H
#define MA_FAKE_REAL_H

#include <stdbool.h>
#include <stddef.h>

enum fake_fn { F_MALLOC, F_FREE, F_CALLOC, F_REALLOC, F_MEMALIGN, F_USABLE, F_COUNT };

struct fake_state {
	unsigned calls[F_COUNT];
	/* Arguments of the last call of each kind. */
	size_t last_size[F_COUNT];
	size_t last_align;
	void *last_ptr[F_COUNT];
	/* Fail the next N calls of this kind (ENOMEM). */
	unsigned fail[F_COUNT];
	/* Frees and reallocs of pointers that were never handed out. */
	unsigned unknown;
	/* Re-entrancy: called once from inside the next malloc / free. */
	void (*reenter_malloc)(void);
	void (*reenter_free)(void);
	/* If set, malloc_usable_size answers this instead of the truth. */
	bool usable_override;
	size_t usable_value;
};

extern struct fake_state fake;

/* Resets the counters and installs the fake functions in ma_real. */
void fake_install(void);
/* Restores the ma_real that was there before fake_install. */
void fake_uninstall(void);
/* Live blocks in the fake's table. */
unsigned fake_live(void);
/* The raw block behind a pointer handed out, or NULL. */
bool fake_owns(const void *p);
/* A pointer the fake never handed out, with `pattern` bytes in the 32 below it;
 * fake_free_foreign releases it. */
void *fake_foreign(unsigned char pattern);
void fake_free_foreign(void *p);

#endif
