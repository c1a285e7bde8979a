/* SPDX-License-Identifier: Apache-2.0 */
/*
 * exec_parent: exec keeps LD_PRELOAD, so the new image is profiled anew; the
 * old image writes its report just before exec ("at_exec": true) and the new
 * one writes its own under the same pid (a suffixed file name).
 *   exec_parent CHILD         fork; the child execs CHILD: two reports (the
 *                             child image counted nothing: no pre-exec report)
 *   exec_parent CHILD direct  exec CHILD in place: two reports, one pid
 *   exec_parent CHILD immediate  exec CHILD before any allocation: one report,
 *                             the new image's, under the plain name
 *   exec_parent CHILD fail    exec a missing file: the pre-exec report is
 *                             removed again, errno is ENOENT, and the
 *                             process reports at exit as usual
 */
#include "t.h"

#include <sys/wait.h>

int main(int argc, char **argv)
{
	T_CHECK(argc >= 2);
	const char *mode = argc > 2 ? argv[2] : "fork";
	if (strcmp(mode, "immediate") == 0) {
		char *args[] = { argv[1], (char *)"child", NULL };
		t_expect_files(1);
		execv(argv[1], args);
		t_fail(__FILE__, __LINE__, "execv failed", errno, 0);
	}
	char *a = malloc(10), *b = malloc(20), *c = malloc(30);
	T_ESCAPE(a);
	T_ESCAPE(b);
	T_ESCAPE(c);
	free(b);
	char *args[] = { argv[1], (char *)"child", NULL };
	if (strcmp(mode, "direct") == 0) {
		t_expect_exec("totals.blocks", 3);
		t_expect_exec("totals.bytes", 60);
		t_expect_exec("totals.frees", 1);
		t_expect_exec("totals.live_bytes", 40);
		t_expect_exec("at_exec", 1);
		t_expect_files(2);
		execv(argv[1], args);
		t_fail(__FILE__, __LINE__, "execv failed", errno, 0);
	}
	if (strcmp(mode, "fail") == 0) {
		char *none[] = { (char *)"/nonexistent-modalloc/x", NULL };
		errno = 0;
		T_EQ(execv(none[0], none), -1);
		T_EQ(errno, ENOENT);
		t_expect("totals.blocks", 3);
		t_expect("totals.frees", 1);
		t_expect("at_exec", 0);
		t_expect_files(1);
		return 0;
	}
	pid_t pid = fork();
	T_CHECK(pid >= 0);
	if (pid == 0) {
		/* The child's own totals are empty (its parent's blocks are
		 * inherited): it writes no report before exec. */
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
	t_expect("at_exec", 0);
	t_expect_files(2);
	return 0;
}
