/* SPDX-License-Identifier: Apache-2.0 */
/*
 * two_sites.c: two call sites in one function, the case of issue 10: a
 * 1000-byte leak on line 13 and 50 blocks of 10 bytes churned on line 15.
 * Keep the line numbers: tests/tool/test_report.py asserts them.
 */
#include <stdlib.h>

static void *keep;

int main(void)
{
	keep = malloc(1000);
	for (int i = 0; i < 50; i++)
		free(malloc(10));
	return keep == NULL;
}
