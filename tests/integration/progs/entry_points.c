/* SPDX-License-Identifier: Apache-2.0 */
/*
 * entry_points: every interposed function once or more, each checked by its
 * exact effect on the process stats, and the final report's totals and
 * per-entry-point call counts announced for the runner.  No stdio: the
 * program allocates nothing but what it counts (glibc allocates nothing
 * before main for a program like this; see tests/integration/README.md).
 */
#include "t.h"

#include <dlfcn.h>
#include <malloc.h>
#include <stdbool.h>

static uint64_t e_blocks, e_bytes, e_frees, e_freed, e_failed;
static struct t_mark m;

enum { C_malloc, C_calloc, C_realloc, C_reallocarray, C_free, C_cfree, C_posix_memalign,
       C_aligned_alloc, C_memalign, C_valloc, C_pvalloc, C_malloc_usable_size, C_N };
static const char *const names[C_N] = { "malloc", "calloc", "realloc", "reallocarray", "free",
	"cfree", "posix_memalign", "aligned_alloc", "memalign", "valloc", "pvalloc",
	"malloc_usable_size" };
static uint64_t e_calls[C_N];

/* One step: what the code path just did, checked against the stats now. */
#define STEP(blocks, bytes, frees, freed) \
	do { \
		e_blocks += (blocks); \
		e_bytes += (bytes); \
		e_frees += (frees); \
		e_freed += (freed); \
		t_delta(&m, (blocks), (bytes), (frees), (freed)); \
	} while (0)

/* volatile: keeps GCC from warning about (and folding) the overflowing requests. */
static volatile size_t huge_n = SIZE_MAX / 2;

static bool aligned(const void *p, size_t a)
{
	return ((uintptr_t)p & (a - 1)) == 0;
}

static void fill(void *p, size_t n, int c)
{
	memset(p, c, n);
	T_ESCAPE(p);
}

static bool all(const void *p, size_t n, int c)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i++)
		if (s[i] != (unsigned char)c)
			return false;
	return true;
}

/* malloc_usable_size: at least what was asked, and all of it writable. */
static void usable(void *p, size_t asked)
{
	size_t u = malloc_usable_size(p);
	e_calls[C_malloc_usable_size]++;
	T_CHECK(u >= asked);
	fill(p, u, 0x5a);
}

int main(void)
{
	long page = sysconf(_SC_PAGESIZE);
	t_mark(&m);

	/* malloc */
	char *a = malloc(100);
	e_calls[C_malloc]++;
	T_CHECK(a && aligned(a, 16));
	STEP(1, 100, 0, 0);
	usable(a, 100);

	/* calloc: zeroed */
	char *b = calloc(10, 20);
	e_calls[C_calloc]++;
	T_CHECK(b && aligned(b, 16) && all(b, 200, 0));
	STEP(1, 200, 0, 0);

	/* realloc: grow, shrink, same size; the contents survive */
	fill(a, 100, 'a');
	a = realloc(a, 300);
	e_calls[C_realloc]++;
	T_CHECK(a && all(a, 100, 'a'));
	STEP(1, 300, 1, 100);
	a = realloc(a, 50);
	e_calls[C_realloc]++;
	T_CHECK(a && all(a, 50, 'a'));
	STEP(1, 50, 1, 300);
	a = realloc(a, 50);
	e_calls[C_realloc]++;
	T_CHECK(a && all(a, 50, 'a'));
	STEP(1, 50, 1, 50);
	usable(a, 50);

	/* realloc(NULL, n) is a malloc counted under realloc; realloc(p, 0) a free */
	char *c = realloc(NULL, 70);
	e_calls[C_realloc]++;
	T_CHECK(c != NULL);
	STEP(1, 70, 0, 0);
	errno = 0;
	char *z = realloc(c, 0);
	e_calls[C_realloc]++;
	T_CHECK(z == NULL);
	STEP(0, 0, 1, 70);

	/* reallocarray: NULL, grow, overflow (NULL + ENOMEM, block untouched) */
	char *d = reallocarray(NULL, 4, 25);
	e_calls[C_reallocarray]++;
	T_CHECK(d != NULL);
	STEP(1, 100, 0, 0);
	fill(d, 100, 'd');
	d = reallocarray(d, 8, 25);
	e_calls[C_reallocarray]++;
	T_CHECK(d && all(d, 100, 'd'));
	STEP(1, 200, 1, 100);
	errno = 0;
	char *ov = reallocarray(d, huge_n, 3);
	e_calls[C_reallocarray]++;
	e_failed++;
	T_CHECK(ov == NULL && errno == ENOMEM && all(d, 100, 'd'));
	STEP(0, 0, 0, 0);

	/* posix_memalign: valid, and EINVAL for 24, 0, 4 leaving *out alone */
	void *pm = NULL;
	T_EQ(posix_memalign(&pm, 64, 100), 0);
	e_calls[C_posix_memalign]++;
	T_CHECK(pm && aligned(pm, 64));
	STEP(1, 100, 0, 0);
	usable(pm, 100);
	void *pm8 = NULL;
	T_EQ(posix_memalign(&pm8, 8, 10), 0);
	e_calls[C_posix_memalign]++;
	T_CHECK(pm8 && aligned(pm8, 8));
	STEP(1, 10, 0, 0);
	static const size_t bad[] = { 24, 0, 4, 96 };
	for (unsigned i = 0; i < 4; i++) {
		void *sentinel = (void *)0x1234;
		errno = 1234;
		T_EQ(posix_memalign(&sentinel, bad[i], 10), EINVAL);
		T_CHECK(sentinel == (void *)0x1234 && errno == 1234);
		e_calls[C_posix_memalign]++;
		e_failed++;
	}
	STEP(0, 0, 0, 0);
	void *pbig = NULL;
	T_EQ(posix_memalign(&pbig, 4096, 5000), 0);
	e_calls[C_posix_memalign]++;
	T_CHECK(pbig && aligned(pbig, 4096));
	STEP(1, 5000, 0, 0);
	usable(pbig, 5000);

	/* aligned_alloc (glibc 2.36: memalign's rules, size need not be a multiple) */
	void *aa = aligned_alloc(64, 128);
	e_calls[C_aligned_alloc]++;
	T_CHECK(aa && aligned(aa, 64));
	STEP(1, 128, 0, 0);
	void *aa2 = aligned_alloc(256, 100);
	e_calls[C_aligned_alloc]++;
	T_CHECK(aa2 && aligned(aa2, 256));
	STEP(1, 100, 0, 0);
	usable(aa2, 100);

	/* memalign: small alignments are malloc's; 48 rounds up to 64, 4097 to 8192 */
	void *m1 = memalign(8, 10);
	void *m2 = memalign(48, 10);
	void *m3 = memalign(4097, 33);
	e_calls[C_memalign] += 3;
	T_CHECK(m1 && aligned(m1, 8) && m2 && aligned(m2, 64) && m3 && aligned(m3, 8192));
	STEP(3, 53, 0, 0);
	usable(m3, 33);

	/* valloc, pvalloc: page aligned; pvalloc counts what was asked, gives a page */
	void *v = valloc(100);
	e_calls[C_valloc]++;
	T_CHECK(v && aligned(v, (size_t)page));
	STEP(1, 100, 0, 0);
	void *pv = pvalloc(100);
	e_calls[C_pvalloc]++;
	T_CHECK(pv && aligned(pv, (size_t)page));
	STEP(1, 100, 0, 0);
	usable(pv, (size_t)page);
	void *pv0 = pvalloc(0);
	e_calls[C_pvalloc]++;
	T_CHECK(pv0 && aligned(pv0, (size_t)page));
	STEP(1, 0, 0, 0);

	/* malloc_usable_size(NULL) */
	T_EQ(malloc_usable_size(NULL), 0);
	e_calls[C_malloc_usable_size]++;

	/* realloc of an over-aligned block: the new one needs only malloc's alignment */
	fill(aa2, 100, 'x');
	aa2 = realloc(aa2, 4000);
	e_calls[C_realloc]++;
	T_CHECK(aa2 && aligned(aa2, 16) && all(aa2, 100, 'x'));
	STEP(1, 4000, 1, 100);
	usable(aa2, 4000);

	/* free everything but b; free(NULL) counts a call and nothing else */
	void *frees[] = { a, d, pm, pm8, pbig, aa, aa2, m1, m2, m3, v, pv, pv0 };
	uint64_t freed = 50 + 200 + 100 + 10 + 5000 + 128 + 4000 + 10 + 10 + 33 + 100 + 100 + 0;
	for (unsigned i = 0; i < sizeof frees / sizeof frees[0]; i++)
		free(frees[i]);
	e_calls[C_free] += sizeof frees / sizeof frees[0];
	STEP(0, 0, sizeof frees / sizeof frees[0], freed);
	free(NULL);
	e_calls[C_free]++;
	STEP(0, 0, 0, 0);

	/* cfree: glibc 2.36 keeps it only as a compat symbol, so the library's is the
	 * one dlsym finds by name; bare glibc may have none. */
	void (*cf)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "cfree");
	STEP(0, 0, 0, 0);
	if (modalloc_is_active()) {
		T_CHECK(cf != NULL);
		char *cb = malloc(33);
		e_calls[C_malloc]++;
		STEP(1, 33, 0, 0);
		cf(cb);
		e_calls[C_cfree]++;
		STEP(0, 0, 1, 33);
	}

	/* b stays live: the report shows one leaked block of 200 bytes. */
	T_ESCAPE(b);
	t_expect("totals.blocks", e_blocks);
	t_expect("totals.bytes", e_bytes);
	t_expect("totals.frees", e_frees);
	t_expect("totals.freed_bytes", e_freed);
	t_expect("totals.live_bytes", e_bytes - e_freed);
	t_expect("totals.live_blocks", e_blocks - e_frees);
	t_expect("totals.failed", e_failed);
	t_expect("foreign_frees", 0);
	t_expect("threads", 1);
	for (unsigned i = 0; i < C_N; i++) {
		char key[64] = "calls.";
		strcat(key, names[i]);
		t_expect(key, e_calls[i]);
	}
	return 0;
}
