/* SPDX-License-Identifier: Apache-2.0 */
/*
 * init.h: the lifecycle (UNINIT -> BOOTING -> ACTIVE, or OFF) of the
 * process and of each thread: start-up (filling ma_g, global.h), thread
 * registration and exit, fork, and the freeze before the exit report.
 */
#ifndef MA_INIT_H
#define MA_INIT_H

#include <stdbool.h>

#include "global.h"
#include "thread.h"

/* Runs process initialisation once; true when tracking is active. */
bool ma_init_ensure(void);
/*
 * Runs fn once at the end of boot, or now if boot is already over.  How a
 * floor above (fatal.c, from its constructor) joins boot without init calling
 * up into it.  One hook; a second call replaces a hook not yet run.
 */
void ma_init_after_boot(void (*fn)(void));
/*
 * Stops all counting (MA_MODE_FROZEN) and waits until no thread is half-way
 * through an update, so that the exit report is self-consistent even while
 * other threads keep allocating.
 */
void ma_init_freeze(void);
/*
 * Slow path of every entry point: registers the calling thread (running
 * process initialisation first if needed) and returns its record, or NULL
 * when the call must not be tracked (guard held, library not active).
 */
struct ma_thread *ma_thread_enter(void);
/*
 * Ends a slow-path call.  A thread that calls in after its exit destructor
 * ran (glibc frees per-thread buffers then) gets a record for that one call
 * only: this releases it again.  A no-op otherwise.
 */
void ma_thread_leave(struct ma_thread *t);

/*
 * In a fork child: every record but self's forgotten, all counters zeroed;
 * self gets the header keys of fork generation `epoch` and is the owner.
 */
void ma_init_records_after_fork(struct ma_thread *self, uint16_t epoch);

#endif
