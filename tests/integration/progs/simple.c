/* SPDX-License-Identifier: Apache-2.0 */
/*
 * simple: a fixed, small allocation pattern (3 blocks, 1 left live) for the
 * tests about the environment and the report file rather than the counts.
 * Arguments, any order:
 *   exit=N     exit with status N (through exit(), so the report is written)
 *   chdir=DIR  change directory before exiting (relative report paths must
 *              still resolve against the start-up directory)
 *   fork       fork once; parent and child both allocate and exit
 *   rmdir=DIR  remove the (empty) directory DIR before exiting (the report
 *              directory vanishing during the run)
 */
#include "t.h"

#include <sys/wait.h>

static int work(void)
{
	char *a = malloc(1000);
	char *b = calloc(10, 10);
	T_ESCAPE(b);
	free(b);
	a = realloc(a, 2000);
	T_ESCAPE(a);
	t_expect("totals.blocks", 3);
	t_expect("totals.bytes", 1000 + 100 + 2000);
	t_expect("totals.frees", 2);
	t_expect("totals.live_bytes", 2000);
	t_expect("totals.peak_bytes", 2000);
	return 0;
}

int main(int argc, char **argv)
{
	int code = 0, do_fork = 0;
	const char *dir = NULL, *gone = NULL;
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "exit=", 5) == 0)
			code = atoi(argv[i] + 5);
		else if (strncmp(argv[i], "chdir=", 6) == 0)
			dir = argv[i] + 6;
		else if (strcmp(argv[i], "fork") == 0)
			do_fork = 1;
		else if (strncmp(argv[i], "rmdir=", 6) == 0)
			gone = argv[i] + 6;
	}
	pid_t child = -1;
	if (do_fork) {
		child = fork();
		T_CHECK(child >= 0);
	}
	work();
	if (dir)
		T_EQ(chdir(dir), 0);
	if (gone)
		T_EQ(rmdir(gone), 0);
	if (child > 0) {
		int st = 0;
		T_EQ(waitpid(child, &st, 0), child);
		T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == code);
	}
	exit(code);
}
