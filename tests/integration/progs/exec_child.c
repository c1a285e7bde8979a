/* SPDX-License-Identifier: Apache-2.0 */
/* exec_child: what exec_parent execs; 5 blocks of 7 bytes, 2 freed. */
#include "t.h"

int main(void)
{
	char *p[5];
	for (int i = 0; i < 5; i++) {
		p[i] = malloc(7);
		T_ESCAPE(p[i]);
	}
	free(p[0]);
	free(p[1]);
	t_expect("totals.blocks", 5);
	t_expect("totals.bytes", 35);
	t_expect("totals.frees", 2);
	t_expect("totals.live_bytes", 21);
	t_expect("inherited.frees", 0);
	t_expect("threads", 1);
	t_expect("at_exec", 0);
	return 0;
}
