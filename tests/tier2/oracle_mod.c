/* SPDX-License-Identifier: Apache-2.0 */
/*
 * oracle_mod.c: a library oracle.c dlopens, calls through, dlcloses, then
 * dlopens its twin (-DSECOND: other code at the same place, most likely the
 * same address): stacks through both, walked by their call-frame
 * information, must equal libgcc's.  Built -O2 without frame pointers.
 */
#define ESCAPE(p) __asm__ volatile("" : : "r"(p) : "memory")

typedef void (*mod_cb)(const void *p, int i);

#ifdef SECOND
/* Different code before the entry: other offsets, other rules. */
__attribute__((noinline)) int mod_other(int x)
{
	volatile int a[8];
	for (int i = 0; i < 8; i++)
		a[i] = x * i;
	return a[x & 7];
}
#endif

__attribute__((noinline)) void mod_through(mod_cb f, const void *p, int i, int depth)
{
	volatile char buf[24 + 16 * (depth & 3)];
	buf[0] = (char)i;
	if (depth > 0)
		mod_through(f, p, i, depth - 1);
	else
		f(p, i);
	ESCAPE(buf);
}
