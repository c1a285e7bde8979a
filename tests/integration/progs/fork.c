/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fork: each process writes its own report under its own pid.  A child's
 * totals start at zero; frees of blocks its ancestors allocated are reported
 * under "inherited" and never in its totals; the parent's report is exact
 * and unaffected by what its children free.
 *
 *   parent      a=111 b=222 c=333; free b; fork; wait; free c   (a leaks)
 *   child       stats all zero; d=55; fork; wait;
 *               free c (inherited), realloc a->500 (inherited free + 1 block),
 *               e=44, free e, free a, free d
 *   grandchild  free c and d (both inherited), nothing else
 */
#include "t.h"

#include <sys/wait.h>

static void wait_ok(pid_t pid)
{
	int st = 0;
	T_EQ(waitpid(pid, &st, 0), pid);
	T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void zero_stats(void)
{
	struct modalloc_stats s;
	if (modalloc_stats_now(&s) != MODALLOC_OK)
		return;
	T_EQ(s.blocks, 0);
	T_EQ(s.bytes, 0);
	T_EQ(s.frees, 0);
	T_EQ(s.live_bytes, 0);
	T_EQ(s.live_blocks, 0);
	T_EQ(s.peak_bytes, 0);
	T_EQ(s.threads, 1);
}

int main(void)
{
	char *a = malloc(111), *b = malloc(222), *c = malloc(333);
	T_ESCAPE(b);
	free(b);
	pid_t child = fork();
	T_CHECK(child >= 0);
	if (child == 0) {
		zero_stats();
		char *d = malloc(55);
		T_ESCAPE(d);
		pid_t grand = fork();
		T_CHECK(grand >= 0);
		if (grand == 0) {
			zero_stats();
			free(c);
			free(d);
			zero_stats(); /* inherited frees are not in the totals */
			t_expect("totals.blocks", 0);
			t_expect("totals.frees", 0);
			t_expect("totals.peak_bytes", 0);
			t_expect("inherited.frees", 2);
			t_expect("inherited.freed_bytes", 333 + 55);
			t_expect("calls.free", 2);
			exit(0);
		}
		wait_ok(grand);
		free(c);
		a = realloc(a, 500);
		T_CHECK(a != NULL);
		char *e = malloc(44);
		T_ESCAPE(e);
		free(e);
		free(a);
		free(d);
		t_expect("totals.blocks", 3);
		t_expect("totals.bytes", 55 + 500 + 44);
		t_expect("totals.frees", 3);
		t_expect("totals.freed_bytes", 55 + 500 + 44);
		t_expect("totals.peak_bytes", 55 + 500 + 44);
		t_expect("totals.peak_blocks", 3);
		t_expect("totals.live_blocks", 0);
		t_expect("inherited.frees", 2);
		t_expect("inherited.freed_bytes", 333 + 111);
		t_expect("calls.realloc", 1);
		exit(0);
	}
	wait_ok(child);
	free(c);
	T_ESCAPE(a);
	t_expect("totals.blocks", 3);
	t_expect("totals.bytes", 111 + 222 + 333);
	t_expect("totals.frees", 2);
	t_expect("totals.freed_bytes", 222 + 333);
	t_expect("totals.live_bytes", 111);
	t_expect("totals.peak_bytes", 666);
	t_expect("totals.peak_blocks", 3);
	t_expect("inherited.frees", 0);
	t_expect("calls.realloc", 0);
	t_expect_files(3);
	return 0;
}
