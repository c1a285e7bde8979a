/* SPDX-License-Identifier: Apache-2.0 */
/*
 * exitcode.c: `exitcode N` makes 3 blocks of 1000 bytes, frees one and exits
 * with status N; `exitcode segv` does the same and then dies of SIGSEGV.
 * It prints nothing: stdio would add its own buffer to the counts.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static void keep(void *p)
{
	/* The pointer escapes: the compiler may not drop the malloc/free pair. */
	__asm__ volatile("" : : "r"(p) : "memory");
}

int main(int argc, char **argv)
{
	void *a = malloc(1000), *b = malloc(1000), *c = malloc(1000);
	keep(a);
	keep(b);
	keep(c);
	free(b);
	if (argc > 1 && strcmp(argv[1], "segv") == 0) {
		volatile int *null = (volatile int *)(unsigned long)(argc - 2); /* 0, opaque to the compiler */
		*null = 1;
		raise(SIGSEGV); /* not reached */
	}
	return argc > 1 ? atoi(argv[1]) : 0;
}
