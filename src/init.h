/* SPDX-License-Identifier: Apache-2.0 */
/*
 * init.h: the lifecycle (UNINIT -> BOOTING -> ACTIVE, or OFF) and the one
 * owner of process-wide state, ma_g.  Everything in ma_g is written during
 * initialisation (or in a fork child, single-threaded) and only read after.
 */
#ifndef MA_INIT_H
#define MA_INIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "internal.h"
#include "options.h"
#include "thread.h"

enum ma_state { MA_UNINIT = 0, MA_BOOTING, MA_ACTIVE, MA_OFF };

struct ma_global {
	/* Read on every call: kept together on one line. */
	MA_ALIGNED_LINE uint32_t cookie;  /* key of ma_hdr_check */
	uint32_t hdr_bytes;               /* 16, or 32 with call sites */
	uint8_t hdr_log2;
	bool backtraces;
	_Atomic uint8_t mode;             /* MA_MODE_* (thread.h): non-zero sends the fast paths out of line */
	bool membarrier_ok;
	uint16_t epoch;                   /* fork generation */
	ma_au32 state;
	ma_au32 owner_taken;
	/* Start-up facts for the report. */
	MA_ALIGNED_LINE struct ma_options opt;
	char cwd[MA_PATH_MAX];
	char cmd[4096];
	uint64_t start_ns;
	pid_t pid;                        /* set at start-up and in fork children */
	ma_au32 reporting;                /* thread id of the report writer, 0 = none */
	ma_au32 exit_reported;
	ma_au32 fatal_signal;             /* the signal the exit report is written for (fatal.c), 0 = none */
};

extern struct ma_global ma_g;

/* Runs process initialisation once; true when tracking is active. */
bool ma_init_ensure(void);
/*
 * Stops all counting (MA_MODE_FROZEN) and waits until no thread is half-way
 * through an update, so that the exit report is self-consistent even while
 * other threads keep allocating.
 */
void ma_init_freeze(void);
/* Writes the exit report unless one was written (destructor, _exit). */
void ma_report_at_exit_once(void);
/* Called (under the guard) when a thread gets its record. */
void ma_init_thread_started(struct ma_thread *t);
/* The same for a one-call record of a thread past its exit destructor. */
void ma_init_thread_transient(struct ma_thread *t);

#endif
