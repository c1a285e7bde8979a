/* SPDX-License-Identifier: Apache-2.0 */
/* pprof_out.h: `modalloc report --format pprof` (pprof_out.c). */
#ifndef MT_PPROF_OUT_H
#define MT_PPROF_OUT_H

#include <stdbool.h>
#include <stdio.h>

struct mt_report;

/*
 * Writes r (one report or several merged) to out as a gzip-compressed
 * pprof profile.proto with a Go heap profile's four sample types.  False
 * on a write error (nothing printed).
 */
bool mt_write_pprof(FILE *out, const struct mt_report *r);

#endif
