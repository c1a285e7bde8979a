/* SPDX-License-Identifier: Apache-2.0 */
/*
 * report.h: freezing the state into a report and writing it safely.
 *
 * Files are created unnamed in their target's directory (O_TMPFILE, mode
 * 0600), written whole, then linked into place, so a process killed while
 * writing leaves nothing.  File systems without O_TMPFILE get a temporary
 * name beside the target (O_EXCL|O_NOFOLLOW), renamed into place.  Neither
 * ever replaces an existing file: if the target exists (another process of the
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
#include "report_path.h"

/* Freezes the state into r (report_format.h); thaw releases what it mapped. */
void ma_report_freeze(struct ma_report *r, bool at_exit);
void ma_report_thaw(struct ma_report *r);

/* Writes one file with `writer`; final path in `final` (cap bytes).  0 or -errno. */
int ma_report_write_file(const char *tmpl, ma_report_writer writer, const struct ma_report *r,
                         char *final, size_t cap);

/* Writes the exit report unless one was written (destructor, _exit, exec). */
void ma_report_at_exit_once(void);
/* Called by the destructor: every configured output, then the summary. */
void ma_report_at_exit(void);
/* Before an exec: this image's report, at its final path (in path). 0 or -errno;
 * -ENODATA (and no file) when the image counted nothing at all. */
int ma_report_for_exec(char *path, size_t cap);
/* The exec failed: remove that report; the exit report will cover everything. */
void ma_report_exec_failed(const char *path);
/* The API's "write the report now". */
int ma_report_now(const char *tmpl);


#endif
