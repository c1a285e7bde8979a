/* SPDX-License-Identifier: Apache-2.0 */
/* inmain: 40 allocations made in main itself, built -O0 -fno-omit-frame-pointer:
 * complete 2-frame stacks (main, the C library's start), no warning due. */
#include <stdlib.h>

int main(void)
{
	void *p[40];
	for (int i = 0; i < 40; i++)
		p[i] = malloc(100);
	for (int i = 0; i < 40; i++)
		free(p[i]);
	return 0;
}
