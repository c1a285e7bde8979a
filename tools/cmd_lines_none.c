/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_lines_none.c: `modalloc lines` in a build without elfutils libdw (it reads DWARF with it). */
#include "cmds.h"
#include "util.h"

int mt_lines_rewrite(const char *in, const char *out, const char *report, bool quiet)
{
	(void)out;
	(void)report;
	/* `run --dhat` (quiet) leaves its DHAT files as they are, without a word. */
	if (!quiet)
		mt_err("%s: lines: this modalloc was built without elfutils libdw (Debian: libdw-dev)", in);
	return 2;
}

int mt_cmd_lines(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	mt_die(2, "lines: this modalloc was built without elfutils libdw (Debian: libdw-dev)");
}
