/* SPDX-License-Identifier: Apache-2.0 */
/*
 * global.h: the one owner of process-wide state, ma_g.  A leaf: types and
 * the variable only, no code.  Everything in ma_g is written during
 * initialisation (init.c, or in a fork child, single-threaded) and only
 * read after, except the mode byte and the marks named below.
 */
#ifndef MA_GLOBAL_H
#define MA_GLOBAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "atomic.h"
#include "internal.h"
#include "options.h"

enum ma_state { MA_UNINIT = 0, MA_BOOTING, MA_ACTIVE, MA_OFF };

/* The bits of ma_g.mode; the update protocol (counters.h) reads the second. */
#define MA_MODE_TRACED 1u  /* call sites on */
#define MA_MODE_FROZEN 2u  /* the exit report is being written: count nothing more */
/* The mode while counting: out of line for exact call sites; sampled ones take the Tier 1 paths. */
#define MA_MODE_COUNTING() (ma_g.backtraces && !ma_g.sampling ? MA_MODE_TRACED : 0)

struct ma_global {
	/* Read on every call: kept together on one line. */
	MA_ALIGNED_LINE uint32_t cookie;  /* key of ma_hdr_check */
	uint32_t hdr_bytes;               /* 16, or 32 with exact call sites (16 when sampling: see sampling) */
	uint8_t hdr_log2;
	bool backtraces;
	bool sampling;                    /* call sites sampled (MOD_ALLOC_SAMPLE): mode 0, Tier 1's paths and
	                                   * 16-byte headers; the countdown (ma_tls.sample_left) sends a sampled
	                                   * block out of line, where it gets the 32-byte header */
	_Atomic uint8_t mode;             /* MA_MODE_*: non-zero sends the fast paths out of line */
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

#endif
