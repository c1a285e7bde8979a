/* SPDX-License-Identifier: Apache-2.0 */
/*
 * threads.c: four threads that allocate and free, joined before exit.  The
 * program leaks nothing of its own; the dynamic loader's per-thread vectors
 * (allocate_dtv) stay live: `check --suppress default` must say 0 leaked.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static void *work(void *arg)
{
	for (int i = 0; i < 100; i++) {
		char *volatile p = malloc(64 + (size_t)i);
		p[0] = (char)i;
		free(p);
	}
	return arg;
}

int main(void)
{
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		if (pthread_create(&t[i], NULL, work, NULL) != 0)
			return 1;
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	return 0;
}
