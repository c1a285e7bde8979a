/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_stack.c: the frame walk over synthetic stacks (stack.h) with the
 * return-address checks (modules.h, arch/<cpu>/frame.h): records whose
 * return address is not code after a call end the walk there, and the walk
 * says why it ended.
 */
#define _GNU_SOURCE
#include "ut.h"

#include <gnu/libc-version.h>
#include <string.h>

#include "modules.h"
#include "stack.h"

/* Return addresses of this program's own calls (each just after a call). */
static __attribute__((noinline)) uintptr_t here(void)
{
	return (uintptr_t)__builtin_return_address(0);
}

static uintptr_t ra[4];

static __attribute__((noinline)) void take_return_addresses(void)
{
	ra[0] = here();
	ra[1] = here();
	ra[2] = here();
	ra[3] = here();
}

static int setup(void **state)
{
	(void)state;
	uintptr_t lo, hi;
	/* No module is "ours" here: the core is linked into this program. */
	assert_true(ma_modules_init(0, &lo, &hi));
	ma_stack_set_self(0, 0);
	take_return_addresses();
	return 0;
}

/* A synthetic stack: records {next, ret} at stk[0], stk[2], ... */
static uintptr_t stk[64] __attribute__((aligned(16)));

/* Lays out n records with the given return addresses; the last links to 0. */
static void lay(const uintptr_t *rets, unsigned n)
{
	memset(stk, 0, sizeof stk);
	for (unsigned i = 0; i < n; i++) {
		stk[2 * i] = i + 1 < n ? (uintptr_t)&stk[2 * i + 2] : 0;
		stk[2 * i + 1] = rets[i];
	}
}

/* Walks the synthetic stack into a cleared out[]; returns the count. */
static unsigned walk(uintptr_t *out, unsigned max, bool *truncated, unsigned *stop)
{
	uintptr_t diff;
	memset(out, 0, 257 * sizeof *out);
	struct ma_range r = { (uintptr_t)stk, (uintptr_t)(stk + 64) };
	struct ma_stack_code code = { 0 };
	return ma_stack_walk((uintptr_t)stk, r, false, out, max, truncated, &diff, NULL, stop, &code);
}

static void test_valid_chain(void **state)
{
	(void)state;
	uintptr_t out[257];
	bool tr;
	unsigned stop;
	uintptr_t rets[] = { ra[0], ra[1], ra[2] };
	lay(rets, 3);
	assert_int_equal(walk(out, 32, &tr, &stop), 3);
	assert_int_equal(out[0], ra[0]);
	assert_int_equal(out[1], ra[1]);
	assert_int_equal(out[2], ra[2]);
	assert_false(tr);
	assert_int_equal(stop, 0); /* a 0 link: where chains end */
	/* The depth limit: cut, not early. */
	assert_int_equal(walk(out, 2, &tr, &stop), 2);
	assert_true(tr);
	assert_int_equal(stop, 0);
}

/* The second record's return address is junk: one frame, ended early. */
static void expect_cut(uintptr_t junk, unsigned want_stop)
{
	uintptr_t out[257];
	bool tr;
	unsigned stop;
	uintptr_t rets[] = { ra[0], junk, ra[2] };
	lay(rets, 3);
	assert_int_equal(walk(out, 32, &tr, &stop), 1);
	assert_int_equal(out[0], ra[0]);
	assert_int_equal(out[1], 0); /* nothing made up after it */
	assert_false(tr);
	assert_int_equal(stop, want_stop);
}

static void test_junk_ends_the_walk(void **state)
{
	(void)state;
	expect_cut((uintptr_t)&stk[10], MA_STACK_EARLY);                       /* a stack address */
	expect_cut(0x3d584f42444e4153ull, MA_STACK_EARLY | MA_STACK_UNKNOWN);  /* bytes of "SANDBOX=" */
	expect_cut(0x64, MA_STACK_EARLY | MA_STACK_UNKNOWN);                   /* a small number */
	expect_cut((uintptr_t)&stk, MA_STACK_EARLY);
	/* inside this program's code, but not after a call: a function's first byte */
	expect_cut((uintptr_t)&take_return_addresses, MA_STACK_EARLY);
	/* A link that goes nowhere after a good frame, outside the C library: early. */
	uintptr_t out[257];
	bool tr;
	unsigned stop;
	uintptr_t rets[] = { ra[0], ra[1] };
	lay(rets, 2);
	stk[2] = 1; /* the second record's link: not a frame pointer */
	assert_int_equal(walk(out, 32, &tr, &stop), 2);
	assert_int_equal(stop, MA_STACK_EARLY);
}

static void test_first_frame_junk(void **state)
{
	(void)state;
	uintptr_t out[257];
	bool tr;
	unsigned stop;
	uintptr_t rets[] = { 0x7ffff0001234ull, ra[1] };
	lay(rets, 2);
	assert_int_equal(walk(out, 32, &tr, &stop), 0);
	assert_int_equal(stop, MA_STACK_EARLY | MA_STACK_UNKNOWN);
}

static void test_module_table(void **state)
{
	(void)state;
	const struct ma_modules *t = ma_modules_now;
	assert_non_null(t);
	assert_true(t->n >= 2); /* this program, the C library, ... */
	for (unsigned i = 1; i < t->n; i++)
		assert_true(t->r[i - 1].hi <= t->r[i].lo);
	const struct ma_module_range *m = ma_modules_find(t, ra[0]);
	assert_non_null(m);
	assert_true(m->flags & MA_MOD_READABLE);
	assert_true(ma_modules_ret_ok(m, ra[0]));
	assert_null(ma_modules_find(t, (uintptr_t)stk));
	/* The C library holds the root of main's chain. */
	/* not memcpy: ASan and TSan interpose it from their own runtime */
	uintptr_t libc = (uintptr_t)&gnu_get_libc_version;
	m = ma_modules_find(t, libc + 1);
	assert_non_null(m);
	assert_true(m->flags & MA_MOD_ROOT);
	assert_true(libc >= t->root_lo && libc < t->root_hi);
	/* Nothing loaded or unloaded: no new table. */
	assert_false(ma_modules_refresh(false));
	assert_ptr_equal(ma_modules_now, t);
	assert_true(ma_modules_refresh(true));
	assert_ptr_not_equal(ma_modules_now, t);
	assert_int_equal(ma_modules_now->n, t->n);
}

/*
 * The repeat check of a call-frame walk's memo (stack_walk.h): pieces of
 * 16 bytes, each remembered as {address, 0} then its two words.  Short
 * memos are padded to MA_STACK_MEMO_SHORT pieces that read
 * ma_stack_memo_pad and are checked with straight-line code; longer ones in
 * a loop.  Equal words repeat; any one word changed, in any piece, does not.
 */
static _Alignas(16) unsigned char memo_buf[sizeof(struct ma_stack_memo) + 64 * sizeof(struct ma_stack_record)];

/* A memo of `pieces` pieces of stk (piece i at stk[2 * i]), padded as a walk pads it. */
static struct ma_stack_memo *cfi_memo(unsigned pieces)
{
	struct ma_stack_memo *m = (struct ma_stack_memo *)memo_buf;
	memset(memo_buf, 0, sizeof memo_buf);
	for (unsigned i = 0; i < 2 * pieces + 2; i++)
		stk[i] = 0x1000 * (i + 1) + i;
	unsigned reads = 0;
	for (unsigned i = 0; i < pieces; i++, reads += 2) {
		m->rec[reads] = (struct ma_stack_record){ (uintptr_t)&stk[2 * i], 0 };
		m->rec[reads + 1] = (struct ma_stack_record){ stk[2 * i], stk[2 * i + 1] };
	}
	for (; reads < 2 * MA_STACK_MEMO_SHORT; reads += 2) {
		m->rec[reads] = (struct ma_stack_record){ (uintptr_t)ma_stack_memo_pad, 0 };
		m->rec[reads + 1] = (struct ma_stack_record){ 0, 0 };
	}
	m->reads = reads;
	m->cfi = true;
	m->start = (uintptr_t)stk;
	return m;
}

static void test_memo_cfi_repeats(void **state)
{
	(void)state;
	/* 1..6 pieces: the short path (padded to 6); 7..20: the loop, its remainder too. */
	for (unsigned pieces = 1; pieces <= 20; pieces++) {
		struct ma_stack_memo *m = cfi_memo(pieces);
		assert_int_equal(m->reads, pieces <= MA_STACK_MEMO_SHORT ? 2 * MA_STACK_MEMO_SHORT : 2 * pieces);
		assert_true(ma_stack_memo_repeats(m, (uintptr_t)stk));
		assert_false(ma_stack_memo_repeats(m, (uintptr_t)&stk[2]));
		for (unsigned i = 0; i < 2 * pieces; i++) {
			stk[i] ^= 0x40;
			assert_false(ma_stack_memo_repeats(m, (uintptr_t)stk));
			stk[i] ^= 0x40;
			assert_true(ma_stack_memo_repeats(m, (uintptr_t)stk));
		}
		/* The words past the memo's pieces are not its business. */
		stk[2 * pieces] ^= 0x40;
		assert_true(ma_stack_memo_repeats(m, (uintptr_t)stk));
		m->reads = 0;
		assert_false(ma_stack_memo_repeats(m, (uintptr_t)stk));
	}
	/* An unpadded short memo (no walk leaves one) is never taken for a repeat. */
	struct ma_stack_memo *m = cfi_memo(3);
	m->reads = 6;
	assert_false(ma_stack_memo_repeats(m, (uintptr_t)stk));
}

#if defined(__x86_64__)
/* Does the decoder see a call ending at the end of these bytes? */
static bool call_ends(const uint8_t *code, size_t len)
{
	uint8_t buf[16];
	memset(buf, 0x90, sizeof buf); /* nops before */
	memcpy(buf + sizeof buf - len, code, len);
	return ma_arch_after_call((uintptr_t)(buf + sizeof buf), sizeof buf);
}

#define CALL_ENDS(...) call_ends((const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ }))

static void test_x86_calls(void **state)
{
	(void)state;
	assert_true(CALL_ENDS(0xe8, 0x10, 0x20, 0x30, 0x40));                   /* call rel32 */
	assert_true(CALL_ENDS(0xff, 0xd0));                                     /* call *%rax */
	assert_true(CALL_ENDS(0x41, 0xff, 0xd3));                               /* call *%r11 */
	assert_true(CALL_ENDS(0xff, 0x10));                                     /* call *(%rax) */
	assert_true(CALL_ENDS(0xff, 0x14, 0x24));                               /* call *(%rsp) */
	assert_true(CALL_ENDS(0xff, 0x50, 0x08));                               /* call *8(%rax) */
	assert_true(CALL_ENDS(0xff, 0x54, 0x24, 0x08));                         /* call *8(%rsp) */
	assert_true(CALL_ENDS(0xff, 0x15, 0x44, 0x33, 0x22, 0x11));             /* call *x(%rip) */
	assert_true(CALL_ENDS(0xff, 0x90, 0x44, 0x33, 0x22, 0x11));             /* call *x(%rax) */
	assert_true(CALL_ENDS(0xff, 0x94, 0xc8, 0x44, 0x33, 0x22, 0x11));       /* call *x(%rax,%rcx,8) */
	assert_true(CALL_ENDS(0xff, 0x14, 0xc5, 0x44, 0x33, 0x22, 0x11));       /* call *x(,%rax,8) */
	assert_true(CALL_ENDS(0x3e, 0xff, 0xd0));                               /* notrack call *%rax */
	assert_false(CALL_ENDS(0xff, 0xe0));                                    /* jmp *%rax */
	assert_false(CALL_ENDS(0xff, 0x20));                                    /* jmp *(%rax) */
	assert_false(CALL_ENDS(0xff, 0x25, 0x44, 0x33, 0x22, 0x11));            /* jmp *x(%rip) */
	assert_false(CALL_ENDS(0xff, 0x14));                                    /* SIB byte missing */
	assert_false(CALL_ENDS(0xff, 0x15));                                    /* disp32 missing */
	assert_false(CALL_ENDS(0xff, 0x50));                                    /* disp8 missing */
	assert_false(CALL_ENDS(0xc3));                                          /* ret */
	assert_false(CALL_ENDS(0x90, 0x90));
	/* Nothing is read before the segment: a call that would start before it is not seen. */
	uint8_t e8[5] = { 0xe8, 1, 2, 3, 4 };
	assert_true(ma_arch_after_call((uintptr_t)(e8 + 5), 5));
	assert_false(ma_arch_after_call((uintptr_t)(e8 + 5), 4));
}
#endif

int main(void)
{
	ut_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_chain),
		cmocka_unit_test(test_junk_ends_the_walk),
		cmocka_unit_test(test_first_frame_junk),
		cmocka_unit_test(test_module_table),
		cmocka_unit_test(test_memo_cfi_repeats),
#if defined(__x86_64__)
		cmocka_unit_test(test_x86_calls),
#endif
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
