/* SPDX-License-Identifier: Apache-2.0 */
/*
 * exec_parent: exec keeps LD_PRELOAD, so the new program is profiled anew.
 *   exec_parent CHILD         fork; the child execs CHILD: two reports, the
 *                             exec'd one with CHILD's counts only
 *   exec_parent CHILD direct  exec CHILD in place: one report, same pid, and
 *                             the allocations made before exec are gone with
 *                             the old image (exec runs no destructors)
 */
#include "t.h"

#include <sys/wait.h>

int main(int argc, char **argv)
{
	T_CHECK(argc >= 2);
	char *a = malloc(10), *b = malloc(20), *c = malloc(30);
	T_ESCAPE(a);
	T_ESCAPE(b);
	T_ESCAPE(c);
	free(b);
	char *args[] = { argv[1], (char *)"child", NULL };
	if (argc > 2 && strcmp(argv[2], "direct") == 0) {
		t_expect_files(1);
		execv(argv[1], args);
		t_fail(__FILE__, __LINE__, "execv failed", errno, 0);
	}
	pid_t pid = fork();
	T_CHECK(pid >= 0);
	if (pid == 0) {
		execv(argv[1], args);
		t_fail(__FILE__, __LINE__, "execv failed", errno, 0);
	}
	int st = 0;
	T_EQ(waitpid(pid, &st, 0), pid);
	T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	t_expect("totals.blocks", 3);
	t_expect("totals.bytes", 60);
	t_expect("totals.frees", 1);
	t_expect("totals.live_bytes", 40);
	t_expect_files(2);
	return 0;
}
