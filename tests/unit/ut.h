/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ut.h: helpers shared by the unit tests.  The tests link the core directly
 * (never preloaded): init.c's constructor has registered the main thread and
 * would write a report at exit, so every test program calls ut_init() first.
 */
#ifndef MA_UT_H
#define MA_UT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "internal.h"

/* Keeps the core's destructor from writing a report or a summary. */
void ut_init(void);

/* Redirects fd 2 into a pipe until ut_capture_end, which returns what was
 * written (NUL-terminated, at most cap - 1 bytes) and restores fd 2. */
void ut_capture_begin(void);
size_t ut_capture_end(char *out, size_t cap);

/* Number of '\n' in s. */
unsigned ut_count_lines(const char *s);

/* A fresh directory under /tmp; ut_rmtree removes it and all it holds. */
void ut_mkdtemp(char *out, size_t cap);
void ut_rmtree(const char *dir);
/* Number of entries in dir, "." and ".." excluded. */
unsigned ut_dir_entries(const char *dir);

#endif
