/* SPDX-License-Identifier: Apache-2.0 */
/*
 * badfp: allocations under corrupted frame-pointer chains (x86_64).
 *
 * call_with_fp(a, b, fp, fn) sets %rbp to `fp` and calls fn(a, b): the
 * allocator's frame then links to that garbage.  Garbage tried: small
 * numbers, 0, a heap pointer, misaligned and kernel addresses, the last
 * bytes of the stack mapping, and a forged chain of records in the stack
 * whose return addresses are 0, 1, ~0 and kernel addresses and whose last
 * link points past the stack.  clobber_saved_fp() overwrites its own saved
 * %rbp before calling malloc and restores it after.  Then the same from a
 * thread, and from a coroutine whose stack lives in the heap after the
 * heap has shrunk (a range the walker learnt earlier is partly gone).
 * Nothing may crash; every count is exact.
 */
#include "stress.h"

#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <ucontext.h>

void *call_with_fp(uintptr_t a, uintptr_t b, uintptr_t fp, void *fn);
__asm__(".text\n"
        ".globl call_with_fp\n"
        ".type call_with_fp, @function\n"
        "call_with_fp:\n"
        "	push %rbp\n"
        "	push %rbx\n"
        "	sub $8, %rsp\n"
        "	mov %rdx, %rbp\n"
        "	call *%rcx\n"
        "	add $8, %rsp\n"
        "	pop %rbx\n"
        "	pop %rbp\n"
        "	ret\n"
        ".size call_with_fp, .-call_with_fp\n");

static uint64_t blocks, bytes;

/* The mapping around addr in /proc/self/maps, read without allocating. */
static int mapping_of(uintptr_t addr, uintptr_t *lo, uintptr_t *hi)
{
	static char buf[1 << 16];
	int fd = open("/proc/self/maps", O_RDONLY);
	S_CHECK(fd >= 0);
	size_t n = 0;
	ssize_t r;
	while (n < sizeof buf - 1 && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	buf[n] = '\0';
	for (char *line = buf; line && *line;) {
		char *end;
		uintptr_t a = strtoull(line, &end, 16);
		uintptr_t b = strtoull(end + 1, NULL, 16);
		if (addr >= a && addr < b) {
			*lo = a;
			*hi = b;
			return 1;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return 0;
}

/* One malloc, calloc, realloc and aligned_alloc under the garbage `fp`. */
static void under(uintptr_t fp)
{
	struct modalloc_stats m = s_now();
	char *p = call_with_fp(100, 0, fp, (void *)malloc);
	S_CHECK(p != NULL);
	memset(p, 1, 100);
	char *q = call_with_fp(3, 50, fp, (void *)calloc);
	S_CHECK(q != NULL && q[149] == 0);
	p = call_with_fp((uintptr_t)p, 300, fp, (void *)realloc);
	S_CHECK(p != NULL && p[99] == 1);
	char *r = call_with_fp(4096, 8192, fp, (void *)aligned_alloc);
	S_CHECK(r != NULL && (uintptr_t)r % 4096 == 0);
	free(p);
	free(q);
	free(r);
	S_DELTA(&m, 4, 100 + 150 + 300 + 8192, 4, 100 + 150 + 300 + 8192);
	blocks += 4;
	bytes += 100 + 150 + 300 + 8192;
}

S_NOINLINE void *clobber_saved_fp(size_t n, uintptr_t garbage)
{
	volatile uintptr_t *slot = __builtin_frame_address(0);
	uintptr_t saved = *slot;
	*slot = garbage;
	void *p = malloc(n);
	*slot = saved;
	return p;
}

struct rec {
	uintptr_t next, ret;
};

S_NOINLINE static void all_garbage(void)
{
	uintptr_t lo, hi, here = (uintptr_t)__builtin_frame_address(0);
	S_CHECK(mapping_of(here, &lo, &hi));
	char *heap = malloc(4096);
	S_CHECK(heap != NULL);
	for (int i = 0; i < 4096 / 8; i++)
		((uintptr_t *)heap)[i] = (uintptr_t)heap + 16 * (uintptr_t)i;
	uintptr_t garbage[] = {
		0x1234, 0, 1, 8, (uintptr_t)heap, (uintptr_t)heap + 3, here + 4, here + 12,
		hi - 8, hi - 16, hi - 24, hi, hi + 4096, lo - 16, lo,
		0xffffffffff600000ull, 0xffff800000000000ull, ~(uintptr_t)0, ~(uintptr_t)15,
		0x00007ffffffff000ull,
	};
	for (unsigned i = 0; i < sizeof garbage / sizeof garbage[0]; i++)
		under(garbage[i]);
	/* A forged chain in this frame (above the callees' frames). */
	volatile struct rec chain[8];
	uintptr_t rets[] = { 0xdeadbeef, 1, ~(uintptr_t)0, 0xffffffffff600000ull, (uintptr_t)heap,
	                     (uintptr_t)&all_garbage, 2, 0 };
	for (int i = 0; i < 8; i++) {
		chain[i].next = (uintptr_t)&chain[i + 1];
		chain[i].ret = rets[i];
	}
	chain[6].next = hi - 8; /* the last link points at the stack's last word */
	chain[7].next = (uintptr_t)&chain[0]; /* a loop back, never followed */
	under((uintptr_t)&chain[0]);
	under((uintptr_t)&chain[3]);
	free(heap);
	/* The chain one level up. */
	uintptr_t more[] = { 0x1234, (uintptr_t)heap, hi - 8, ~(uintptr_t)0 };
	for (unsigned i = 0; i < sizeof more / sizeof more[0]; i++) {
		struct modalloc_stats m = s_now();
		void *p = clobber_saved_fp(77, more[i]);
		S_CHECK(p != NULL);
		free(p);
		S_DELTA(&m, 1, 77, 1, 77);
	}
}

static void *thread_main(void *arg)
{
	(void)arg;
	all_garbage();
	return NULL;
}

/* A coroutine on a heap-allocated stack, run once before the heap shrinks
 * and once after, with %rbp pointing into the heap's vanished top. */
static ucontext_t main_ctx, co_ctx;
static volatile uintptr_t co_fp;

static void co_main(void)
{
	for (;;) {
		if (co_fp)
			under(co_fp);
		else
			free(malloc(10)); /* the walker learns this stack's mapping */
		S_EQ(swapcontext(&co_ctx, &main_ctx), 0);
	}
}

static void shrunk_heap(void)
{
	char *stack = malloc(64 * 1024);
	S_CHECK(stack != NULL);
	S_EQ(getcontext(&co_ctx), 0);
	co_ctx.uc_stack.ss_sp = stack;
	co_ctx.uc_stack.ss_size = 64 * 1024;
	co_ctx.uc_link = &main_ctx;
	makecontext(&co_ctx, co_main, 0);
	/* Grow the heap well above the coroutine's stack. */
	void *big[40];
	for (int i = 0; i < 40; i++) {
		big[i] = malloc(100 * 1024);
		S_CHECK(big[i] != NULL);
	}
	uintptr_t lo0, hi0;
	S_CHECK(mapping_of((uintptr_t)stack, &lo0, &hi0));
	S_EQ(swapcontext(&main_ctx, &co_ctx), 0);
	for (int i = 39; i >= 0; i--)
		free(big[i]);
	malloc_trim(0);
	uintptr_t lo1, hi1;
	S_CHECK(mapping_of((uintptr_t)stack, &lo1, &hi1));
	s_say_u64("heap shrank by", hi0 - hi1);
	for (uintptr_t fp = hi1 + 64; fp < hi0; fp += (hi0 - hi1) / 4 + 8) {
		co_fp = fp & ~(uintptr_t)15;
		S_EQ(swapcontext(&main_ctx, &co_ctx), 0);
	}
	co_fp = 0;
}

int main(void)
{
	all_garbage();
	pthread_t t;
	S_EQ(pthread_create(&t, NULL, thread_main, NULL), 0);
	S_EQ(pthread_join(t, NULL), 0);
	shrunk_heap();
	s_say_u64("allocations under garbage frame pointers", blocks);
	s_site("call_with_fp", blocks, bytes, 0);
	return 0;
}
