/* SPDX-License-Identifier: Apache-2.0 */
/*
 * state.h: reading the state file a profiled process keeps in a shared
 * mapping from start-up (src/state.c writes it), so that a report can be
 * rebuilt after the process is gone (SIGKILL, the OOM killer: `modalloc
 * recover`) or while it still runs (`modalloc snapshot`, `modalloc top`).
 *
 * The state directory: MOD_ALLOC_STATE_DIR if set, else
 * $XDG_RUNTIME_DIR/modalloc if usable, else /dev/shm/modalloc-UID.  A
 * state file is named modalloc-PID-STARTNS.state (STARTNS: the image's
 * start time, CLOCK_REALTIME in ns), so exec and pid reuse give new names.
 *
 * The reader never trusts a file: every size, count and pointer is checked;
 * a truncated or corrupted file gives one error line (in err), never a crash.
 */
#ifndef MT_STATE_H
#define MT_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct mt_report;

/* One state file found in the state directory. */
struct mt_state_entry {
	char *path;          /* full path (malloc'd) */
	pid_t pid;           /* from the name */
	uint64_t start_ns;   /* from the name (CLOCK_REALTIME at the image's start) */
	uint64_t start_ticks; /* from the header: /proc/PID/stat starttime (0: unknown) */
	bool running;        /* the process still runs (the same pid and start time) */
};

/*
 * The state directory (see above) into dir; 0 or -errno (-ENOENT: none is
 * configured or it does not exist).  Honours MOD_ALLOC_STATE_DIR as the
 * library does.
 */
int mt_state_dir(char *dir, size_t cap);

/*
 * Finds the state file of a process (its pid) in the state directory: the
 * newest image of that pid when several are there.  Writes its path into
 * path; 0 or -errno (-ENOENT: no state file for that pid).
 */
int mt_state_find(pid_t pid, char *path, size_t cap);

/*
 * Lists the state files of the user's dead processes (with live, also of
 * running ones) in the state directory into *out (malloc'd array; free with
 * mt_state_list_free).  Returns the number of entries, or -errno.
 */
int mt_state_list(bool live, struct mt_state_entry **out);
void mt_state_list_free(struct mt_state_entry *e, size_t n);

/*
 * True if the process that wrote a state file still runs: /proc/PID exists
 * and its start time (/proc/PID/stat starttime, in clock ticks since boot)
 * equals start_ticks, the one the file records (0: any).
 */
bool mt_state_running(pid_t pid, uint64_t start_ticks);

/*
 * Reads a state file (never trusting it) into a report model (tools/model.h:
 * the same model `report` loads from JSON; model_json.c writes it).
 * live: the process still runs (a snapshot: "live": true); else
 * "recovered": true (r->live / r->recovered).  On success returns 0 and
 * sets *out to a new report (free it with mt_report_free).  On failure
 * returns -1 and writes one clear line (without "modalloc: " and without a
 * newline) into err.
 */
int mt_state_load(const char *path, bool live, struct mt_report **out, char *err, size_t cap);

/*
 * The report facts recorded in a state file, for writing the report where
 * the process would have written it (its MOD_ALLOC_OUT / MOD_ALLOC_DHAT,
 * its cwd, pid and command).  Filled by mt_state_load (NULL/0 when the
 * file does not record them); free with mt_state_info_free.
 */
struct mt_state_info {
	pid_t pid;
	uint64_t start_ns, start_ticks;
	char *cwd;           /* the process's working directory at start-up */
	char *cmd;           /* its command (argv[0]) */
	char *out_template;  /* MOD_ALLOC_OUT, or NULL */
	char *dhat_template; /* MOD_ALLOC_DHAT, or NULL */
	bool clean_exit;     /* the process wrote its own report */
	bool incomplete;     /* the state outgrew the file (ENOSPC): counts may be short */
	bool report;         /* MOD_ALLOC_REPORT was on */
};

/* As mt_state_load, also returning the naming facts (info may be NULL). */
int mt_state_load_info(const char *path, bool live, struct mt_report **out,
		struct mt_state_info *info, char *err, size_t cap);
void mt_state_info_free(struct mt_state_info *info);

/*
 * What `modalloc recover` does for one state file (cmd_recover.c): the
 * report rebuilt, marked "recovered": true and, when ended_by is not NULL,
 * "ended_by": ended_by ("SIGKILL": `modalloc run` knows the wait status),
 * written where the process would have written it (its MOD_ALLOC_OUT, the
 * library's naming rules, never replacing a report), then the state file
 * deleted.  A running process is refused.  Returns 0 (and the report's path
 * in *written, malloc'd, when written is not NULL; NULL when the process had
 * written its own report), or 1 after one "modalloc: ..." line on stderr.
 */
int mt_state_recover(const char *path, const char *ended_by, char **written);

#endif
