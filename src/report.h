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

#include "counters.h"
#include "tier2_report.h"
#include "timeline.h"

struct ma_buf;

/* Everything a writer needs, frozen once. */
struct ma_report {
	struct ma_snapshot snap;
	pid_t pid;
	uint64_t rss_peak_bytes;
	uint64_t wall_ns;
	bool at_exit;
	bool at_exec;
	int signal;                       /* the fatal signal this report is written for (fatal.c), or 0 */
	const struct ma_t2_frozen *sites; /* NULL without call sites */
	/* Memory over time: the samples, then the peak and the end inserted in clock order. */
	struct ma_timeline_point timeline[MA_TIMELINE_MAX + 2];
	unsigned timeline_count;
	uint64_t timeline_interval;
	uint64_t clock_end, clock_peak;
};

void ma_report_freeze(struct ma_report *r, bool at_exit);
void ma_report_thaw(struct ma_report *r);

/* One frame, symbolized for the writers. */
struct ma_frame_info {
	uintptr_t ip;           /* the return address */
	const char *module;     /* path, or "" */
	uint64_t offset;        /* ip - module base */
	const char *function;   /* demangled name, or "??" */
};
void ma_report_frame(uintptr_t ip, struct ma_frame_info *fi, char *fn_buf, size_t fn_cap,
                     char *mod_buf, size_t mod_cap);

/*
 * Expands a path template: %p = pid, %% = %; a relative result is joined to
 * cwd.  Returns the length, or -ENAMETOOLONG / -EINVAL (empty, bad %-escape).
 */
ssize_t ma_report_expand_path(char *out, size_t cap, const char *tmpl, pid_t pid, const char *cwd);

/*
 * Start-up check of an output template (report_path.c): a directory (an
 * existing one, or a template ending in '/') becomes DIR/<fallback's name>;
 * a template that cannot work (unknown %-escape, too long, a directory that
 * is missing or where files cannot be created) is replaced by fallback after
 * one line on stderr.  The template is rewritten in place (cap bytes).
 * Returns false when it was replaced.  An empty template or the fallback
 * itself is left alone.
 */
bool ma_report_check_template(const char *var, char *tmpl, size_t cap, const char *fallback,
                              pid_t pid, const char *cwd);

typedef void (*ma_report_writer)(struct ma_buf *b, const struct ma_report *r);

/* Writes one file with `writer`; final path in `final` (cap bytes).  0 or -errno. */
int ma_report_write_file(const char *tmpl, ma_report_writer writer, const struct ma_report *r,
                         char *final, size_t cap);

/* The formats. */
void ma_report_json(struct ma_buf *b, const struct ma_report *r);
void ma_report_summary(struct ma_buf *b, const struct ma_report *r, const char *json_path);
/* The warning that stacks end early (frame pointers missing), if it applies:
 * a warning, so printed even when the summary is not (MOD_ALLOC_QUIET). */
void ma_report_stack_warning(struct ma_buf *b, const struct ma_t2_frozen *f);
void ma_report_dhat(struct ma_buf *b, const struct ma_report *r);

/* Called by the destructor: every configured output, then the summary. */
void ma_report_at_exit(void);
/* Before an exec: this image's report, at its final path (in path). 0 or -errno;
 * -ENODATA (and no file) when the image counted nothing at all. */
int ma_report_for_exec(char *path, size_t cap);
/* The exec failed: remove that report; the exit report will cover everything. */
void ma_report_exec_failed(const char *path);
/* The API's "write the report now". */
int ma_report_now(const char *tmpl);

/* "SIGTERM", "SIGRTMIN+2"... into buf (cap >= 16). */
void ma_report_signal_name(int sig, char *buf, size_t cap);

#endif
