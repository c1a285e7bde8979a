/* SPDX-License-Identifier: Apache-2.0 */
/*
 * coro: makecontext/swapcontext coroutines that allocate on their own
 * stacks: 2 stacks from malloc (inside the heap), 8 from mmap, each mmap'd
 * one between guard pages (so each is its own mapping: more stacks than
 * the walker remembers).  The scheduler runs them round-robin for 20000
 * switches; each step allocates through coro_leaf, frees the previous
 * step's block and keeps a running count.  Exact deltas; the coroutines'
 * call sites have short stacks (the walk ends at the coroutine's stack).
 */
#include "stress.h"

#include <sys/mman.h>
#include <ucontext.h>

#define MAXCORO 10
#define NHEAP 2
#define STACK (64 * 1024)
#define STEPS 2000

static ucontext_t sched_ctx, coro_ctx[MAXCORO];
static uint64_t made[MAXCORO], made_bytes[MAXCORO];
static unsigned ncoro;

S_NOINLINE void *coro_leaf(size_t n)
{
	return malloc(n);
}

S_NOINLINE static void *coro_step(unsigned id, unsigned i, void *prev)
{
	free(prev);
	size_t n = 16 + (id * 31 + i) % 500;
	char *p = coro_leaf(n);
	S_CHECK(p != NULL);
	p[0] = (char)id;
	made[id]++;
	made_bytes[id] += n;
	return p;
}

static void coro_main(unsigned id)
{
	void *prev = NULL;
	for (unsigned i = 0; i < STEPS; i++) {
		prev = coro_step(id, i, prev);
		S_CHECK(((char *)prev)[0] == (char)id);
		S_EQ(swapcontext(&coro_ctx[id], &sched_ctx), 0);
	}
	free(prev);
}

int main(int argc, char **argv)
{
	void *stacks[MAXCORO];
	ncoro = NHEAP + (argc > 1 ? (unsigned)atoi(argv[1]) : 2);
	S_CHECK(ncoro <= MAXCORO);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	for (unsigned id = 0; id < ncoro; id++) {
		if (id < NHEAP) {
			stacks[id] = malloc(STACK);
			S_CHECK(stacks[id] != NULL);
		} else {
			char *m = mmap(NULL, STACK + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			S_CHECK(m != MAP_FAILED);
			S_EQ(mprotect(m + page, STACK, PROT_READ | PROT_WRITE), 0);
			stacks[id] = m + page;
		}
		S_EQ(getcontext(&coro_ctx[id]), 0);
		coro_ctx[id].uc_stack.ss_sp = stacks[id];
		coro_ctx[id].uc_stack.ss_size = STACK;
		coro_ctx[id].uc_link = &sched_ctx;
		makecontext(&coro_ctx[id], (void (*)(void))coro_main, 1, id);
	}
	struct modalloc_stats m = s_now();
	/* Each coroutine runs STEPS steps, then returns to the scheduler via uc_link. */
	for (unsigned round = 0; round <= STEPS; round++)
		for (unsigned id = 0; id < ncoro; id++)
			S_EQ(swapcontext(&sched_ctx, &coro_ctx[id]), 0);
	uint64_t blocks = 0, bytes = 0;
	for (unsigned id = 0; id < ncoro; id++) {
		S_EQ(made[id], STEPS);
		blocks += made[id];
		bytes += made_bytes[id];
	}
	S_DELTA(&m, blocks, bytes, blocks, bytes);
	for (unsigned id = 0; id < NHEAP; id++)
		free(stacks[id]);
	if (ncoro <= NHEAP + 2)
		s_site("coro_leaf", blocks, bytes, 0);
	else
		s_expect("GE", "totals.blocks", blocks);
	return 0;
}
