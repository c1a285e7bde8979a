/* SPDX-License-Identifier: Apache-2.0 */
/*
 * report_path.h: output path templates (MOD_ALLOC_OUT, MOD_ALLOC_DHAT):
 * expanded at write time (report.c), checked once at start-up (init.c).
 */
#ifndef MA_REPORT_PATH_H
#define MA_REPORT_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Expands a path template: %p = pid, %% = %; a relative result is joined to
 * cwd.  Returns the length, or -ENAMETOOLONG / -EINVAL (empty, bad %-escape).
 */
ssize_t ma_report_expand_path(char *out, size_t cap, const char *tmpl, pid_t pid, const char *cwd);

/*
 * Start-up check of an output template : a directory (an
 * existing one, or a template ending in '/') becomes DIR/<fallback's name>;
 * a template that cannot work (unknown %-escape, too long, a directory that
 * is missing or where files cannot be created) is replaced by fallback after
 * one line on stderr.  The template is rewritten in place (cap bytes).
 * Returns false when it was replaced.  An empty template or the fallback
 * itself is left alone.
 */
bool ma_report_check_template(const char *var, char *tmpl, size_t cap, const char *fallback,
                              pid_t pid, const char *cwd);

#endif
