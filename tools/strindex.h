/* SPDX-License-Identifier: Apache-2.0 */
/*
 * strindex.h: the command's one string hash table: a map from strings to
 * numbers (indices into the caller's own array), over json-c's lh_table.
 * The site index of a report (mt_report_find) and the frame tables of the
 * DHAT writers (dhat_out.c, cmd_lines.c) use it.
 *
 * Keys are borrowed, not copied: each must stay valid and unchanged while
 * the map holds it.  Out of memory ends the command (mt_die), as every
 * allocation of the command does.
 */
#ifndef MT_STRINDEX_H
#define MT_STRINDEX_H

#include <stdbool.h>
#include <stddef.h>

struct mt_strindex;

struct mt_strindex *mt_strindex_new(void);
void mt_strindex_free(struct mt_strindex *m);

/* The number of key: true and *v set when key is in, false otherwise. */
bool mt_strindex_get(const struct mt_strindex *m, const char *key, size_t *v);

/* Adds key -> v; key must not be in yet (check with mt_strindex_get). */
void mt_strindex_add(struct mt_strindex *m, const char *key, size_t v);

#endif
