/* SPDX-License-Identifier: Apache-2.0 */
/* main.c: the modalloc command: profile a program, then read, compare and check its reports. */
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "util.h"

#ifndef MODALLOC_VERSION
#define MODALLOC_VERSION "unknown"
#endif

static const char usage[] =
	"usage: modalloc [run] [options] [--] PROGRAM [ARGS...]\n"
	"       modalloc report [options] FILE|DIR...\n"
	"       modalloc diff [--top N] OLD NEW\n"
	"       modalloc check [limits] FILE|DIR...\n"
	"       modalloc plot FILE|DIR [-o OUT.svg]\n"
	"       modalloc lines [-o OUT] FILE\n"
	"       modalloc recover [PID|STATE-FILE...]\n"
	"       modalloc snapshot PID [-o FILE]\n"
	"       modalloc top PID [--interval SEC] [-n SITES]\n"
	"\n"
	"A heap-allocation profiler. `modalloc PROGRAM` runs it (and every process\n"
	"it starts) with libmodalloc.so preloaded and writes one JSON report per\n"
	"process into a new directory; the other commands read those reports.\n"
	"\n"
	"  run      profile a program (the default command)\n"
	"  report   totals and top call sites; JSON or folded stacks for flame graphs\n"
	"  diff     compare two reports by call site\n"
	"  check    fail when a report exceeds limits (for CI)\n"
	"  plot     memory over time as an SVG\n"
	"  lines    add file:line and inlined frames from DWARF to a report or DHAT file\n"
	"  recover  write the report of a process killed without one (SIGKILL, OOM)\n"
	"  snapshot the current report of a running profiled process\n"
	"  top      a running profiled process's heap, refreshed in the terminal\n"
	"\n"
	"  -h, --help     this help; `modalloc COMMAND --help` for each command\n"
	"  --version      print the version\n";

int main(int argc, char **argv)
{
	if (argc < 2)
		mt_die(2, "no PROGRAM or command given (see modalloc --help)");
	const char *cmd = argv[1];
	if (mt_is_help(cmd) || strcmp(cmd, "help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0) {
		puts("modalloc " MODALLOC_VERSION);
		return 0;
	}
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "run", mt_cmd_run },
		{ "report", mt_cmd_report },
		{ "diff", mt_cmd_diff },
		{ "check", mt_cmd_check },
		{ "plot", mt_cmd_plot },
		{ "lines", mt_cmd_lines },
		{ "recover", mt_cmd_recover },
		{ "snapshot", mt_cmd_snapshot },
		{ "top", mt_cmd_top },
	};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (strcmp(cmd, cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	/* Anything else is a program to profile: `modalloc make -j2`. */
	return mt_cmd_run(argc, argv);
}
