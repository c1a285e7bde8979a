/* SPDX-License-Identifier: Apache-2.0 */
/*
 * forkexec.c: `forkexec PROG ARGS...` makes one block of 4096 bytes, forks,
 * and the child makes one block of 512 bytes then execs PROG ARGS.  The
 * parent waits and exits with the child's status: a tree of two processes
 * with three images (parent, child before exec, PROG).
 */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void keep(void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	keep(malloc(4096));
	pid_t pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		keep(malloc(512));
		execv(argv[1], argv + 1);
		_exit(127);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return 2;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 2;
}
