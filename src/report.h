/* SPDX-License-Identifier: Apache-2.0 */
/*
 * report.h: freezing the state into a report and writing it safely.
 *
 * Files are created beside their target under a temporary name (mode 0600,
 * O_EXCL|O_NOFOLLOW), written whole, then renamed into place without ever
 * replacing an existing file: if the target exists (another process of the
 * same template, a planted symlink), ".1", ".2"... is inserted before the
 * extension.  Paths are expanded at write time, so a fork child writes
 * under its own pid.
 */
#ifndef MA_REPORT_H
#define MA_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "report_format.h"

/* Freezes the state into r (report_format.h); thaw releases what it mapped. */
void ma_report_freeze(struct ma_report *r, bool at_exit);
void ma_report_thaw(struct ma_report *r);

/*
 * Expands a path template: %p = pid, %% = %; a relative result is joined to
 * cwd.  Returns the length, or -ENAMETOOLONG / -EINVAL (empty, bad %-escape).
 */
ssize_t ma_report_expand_path(char *out, size_t cap, const char *tmpl, pid_t pid, const char *cwd);

/* Writes one file with `writer`; final path in `final` (cap bytes).  0 or -errno. */
int ma_report_write_file(const char *tmpl, ma_report_writer writer, const struct ma_report *r,
                         char *final, size_t cap);

/* Writes the exit report unless one was written (destructor, _exit, exec). */
void ma_report_at_exit_once(void);
/* Called by the destructor: every configured output, then the summary. */
void ma_report_at_exit(void);
/* Before an exec: this image's report, at its final path (in path). 0 or -errno. */
int ma_report_for_exec(char *path, size_t cap);
/* The exec failed: remove that report; the exit report will cover everything. */
void ma_report_exec_failed(const char *path);
/* The API's "write the report now". */
int ma_report_now(const char *tmpl);

#endif
