/* SPDX-License-Identifier: Apache-2.0 */
/* cmds.h: the subcommands of the modalloc command; each returns the exit status. */
#ifndef MT_CMDS_H
#define MT_CMDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mt_report;
struct mt_site;

/* argv[0] is the subcommand's name (or the first argument of "run" without the word). */
int mt_cmd_run(int argc, char **argv);
int mt_cmd_report(int argc, char **argv);
int mt_cmd_diff(int argc, char **argv);
int mt_cmd_check(int argc, char **argv);
int mt_cmd_plot(int argc, char **argv);
int mt_cmd_lines(int argc, char **argv);
int mt_cmd_recover(int argc, char **argv);
int mt_cmd_snapshot(int argc, char **argv);
int mt_cmd_top(int argc, char **argv);

/*
 * cmd_recover.c, shared with snapshot.  mt_report_path_expand: the
 * library's MOD_ALLOC_OUT expansion (%p, %%, relative to cwd), NULL when it
 * cannot be expanded.  mt_write_noreplace: text and a newline into path, or
 * path.N when it exists (the name in *final, malloc'd); 0 or -errno.
 */
char *mt_report_path_expand(const char *tmpl, int pid, const char *cwd);
int mt_write_noreplace(const char *path, const char *text, char **final);

/*
 * `modalloc lines` on one file: writes the annotated copy to out (NULL: in
 * place, "-": stdout).  report: the JSON report of a DHAT file's process,
 * or NULL (then modalloc.<pid>.json beside dhat.<pid>.json if any).
 * Returns 0, or 2 after one error line.  quiet: no summary line.
 */
int mt_lines_rewrite(const char *in, const char *out, const char *report, bool quiet);

/* Shared by report and diff: the site's stack as "f1 < f2 < f3" (callers to the right). */
char *mt_site_stack_line(const struct mt_site *s, size_t max_frames);

/*
 * The "short" sort key: a site's blocks discounted by their mean lifetime
 * L = lifetime_total / blocks (allocation clock, bytes):
 * blocks * 4096 / (4096 + L).  Blocks that live for less than 4 KiB of the
 * program's allocation count nearly whole; at 4 KiB they count half.
 */
double mt_short_score(const struct mt_site *s);

#endif
