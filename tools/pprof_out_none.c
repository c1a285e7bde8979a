/* SPDX-License-Identifier: Apache-2.0 */
/* pprof_out_none.c: `report --format pprof` in a build without zlib. */
#include "model.h"
#include "pprof_out.h"
#include "util.h"

bool mt_write_pprof(FILE *out, const struct mt_report *r)
{
	(void)out, (void)r;
	mt_die(2, "report --format pprof: this modalloc was built without zlib (Debian: zlib1g-dev)");
}
