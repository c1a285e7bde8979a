/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_state.c: libFuzzer target for the state file reader
 * (tools/state_read.c, `modalloc recover`): any input, written to a file,
 * gives a report or one error line, never a crash or a read outside the file.
 * Seeds (corpus/state): a real state file of a program killed with SIGKILL
 * (tests/tool/progs/killed.c single), cut to its used bytes.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "state.h"

static char path[] = "/tmp/modalloc-fuzz-state-XXXXXX";
static int fd = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fd < 0 && (fd = mkstemp(path)) < 0)
		abort();
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	struct mt_report *r = NULL;
	struct mt_state_info info;
	char err[1024];
	int rc = mt_state_load_info(path, size & 1, &r, &info, err, sizeof err);
	if (rc == 0) {
		if (!r || r->totals.live_bytes > r->totals.bytes)
			abort();
		mt_state_info_free(&info);
		mt_report_free(r);
	} else if (r || !err[0] || strchr(err, '\n')) {
		abort(); /* failure: no report, exactly one line */
	}
	return 0;
}
