/* SPDX-License-Identifier: Apache-2.0 */
/*
 * state.h: the process's state file (include/modalloc_state.h: format;
 * issue 13).  From start-up the counters live in a file-backed MAP_SHARED
 * mapping, so that after SIGKILL or the OOM killer `modalloc recover`
 * rebuilds the report from the file.  Nothing here runs on the allocation
 * path: the counters' code addresses the same memory as before (the root is
 * mapped over the library's own variable; thread records are handed out
 * from the file), so the fast paths are unchanged.
 *
 * The directory: MOD_ALLOC_STATE_DIR, else $XDG_RUNTIME_DIR/modalloc, else
 * /dev/shm/modalloc-UID (these two created 0700 and refused, with one line
 * on stderr, unless a real directory of the user's with mode 0700).  The
 * file: modalloc-PID-STARTNS.state, 0600, O_CREAT|O_EXCL|O_NOFOLLOW.
 * A normal exit and an exec (after their reports) unlink it; a fork child
 * copies it into its own file before its code runs.
 */
#ifndef MA_STATE_H
#define MA_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include "modalloc_state.h"

/* At start-up (boot, single-threaded, before the first counted block):
 * creates the file when MOD_ALLOC_STATE and MOD_ALLOC_REPORT allow. */
void ma_state_open(char *const *envp);
/* Records the layout of the records the reader sums. */
void ma_state_describe(const struct ma_state_layout *l);
/* Records the layout of the call sites (tier2.c), once the table is kept in the file. */
void ma_state_describe_sites(const struct ma_state_sites *s);
/* Records the report's config (sampling rate and seed...) once it is fixed;
 * peak_slack_bytes: MA_LIVE_SLACK_BYTES (counters.h, a floor above). */
void ma_state_describe_config(uint64_t peak_slack_bytes);
/* True when [p, p + bytes) is a piece of the file (never unmapped). */
bool ma_state_owns(const void *p);
/* Undoes ma_state_map for memory nobody uses (a lost race): anonymous
 * memory is unmapped, a piece of the file stays (it reads as unused). */
void ma_state_unmap(void *p, size_t bytes);
/* Appends every loaded module (path, address span, load bias) to the
 * file's module log: when the module table is built or rebuilt (tier2.c). */
void ma_state_log_modules(void);
/* Maps the file's root over [addr, addr + bytes) (page-aligned), its
 * contents kept: the counters' root variable now lives in the file. */
void ma_state_attach_root(void *addr, size_t bytes);
/* Zeroed memory for the given kind of state: from the file while it has
 * room, else anonymous (the file then says "incomplete").  NULL on failure. */
void *ma_state_map(size_t bytes, unsigned kind);
/* Around fork (pthread_atfork): the parent's state copied before the fork;
 * in the child, first thing, a file of its own from that copy, mapped at
 * the same addresses. */
void ma_state_fork_prepare(void);
void ma_state_fork_parent(void);
void ma_state_after_fork(void);
/* The report is written (exit): the file goes. */
void ma_state_done(void);
/* Before an exec (its report written): the name goes; back if exec fails. */
void ma_state_exec_begin(void);
void ma_state_exec_failed(void);

#endif
