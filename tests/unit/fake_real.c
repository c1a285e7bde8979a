/* SPDX-License-Identifier: Apache-2.0 */
/* fake_real.c: the counting, failing, re-entering real allocator of fake_real.h. */
#define _GNU_SOURCE
#include "fake_real.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "real.h"

struct fake_state fake;
static struct ma_real saved;

#define PAD 32
#define SLOTS 1024

static struct {
	void *user, *raw;
} table[SLOTS];

static void put(void *user, void *raw)
{
	for (unsigned i = 0; i < SLOTS; i++)
		if (!table[i].user) {
			table[i].user = user;
			table[i].raw = raw;
			return;
		}
	abort(); /* a test leaks fake blocks */
}

static int find(const void *user)
{
	for (unsigned i = 0; i < SLOTS; i++)
		if (table[i].user && table[i].user == user)
			return (int)i;
	return -1;
}

static bool failing(enum fake_fn f)
{
	if (!fake.fail[f])
		return false;
	fake.fail[f]--;
	return true;
}

static void *fake_malloc(size_t n)
{
	fake.calls[F_MALLOC]++;
	fake.last_size[F_MALLOC] = n;
	if (fake.reenter_malloc) {
		void (*fn)(void) = fake.reenter_malloc;
		fake.reenter_malloc = NULL;
		fn();
	}
	if (failing(F_MALLOC)) {
		errno = ENOMEM;
		return NULL;
	}
	char *raw = malloc(n + PAD);
	if (!raw)
		return NULL;
	memset(raw, 0xee, PAD);
	put(raw + PAD, raw);
	return raw + PAD;
}

static void *fake_calloc(size_t k, size_t n)
{
	fake.calls[F_CALLOC]++;
	fake.last_size[F_CALLOC] = k * n;
	if (failing(F_CALLOC)) {
		errno = ENOMEM;
		return NULL;
	}
	char *raw = calloc(1, k * n + PAD);
	if (!raw)
		return NULL;
	memset(raw, 0xee, PAD);
	put(raw + PAD, raw);
	return raw + PAD;
}

static void fake_free(void *p)
{
	fake.calls[F_FREE]++;
	fake.last_ptr[F_FREE] = p;
	if (fake.reenter_free) {
		void (*fn)(void) = fake.reenter_free;
		fake.reenter_free = NULL;
		fn();
	}
	if (!p)
		return;
	int i = find(p);
	if (i < 0) {
		fake.unknown++;
		return;
	}
	free(table[i].raw);
	table[i].user = table[i].raw = NULL;
}

static void *fake_realloc(void *p, size_t n)
{
	fake.calls[F_REALLOC]++;
	fake.last_size[F_REALLOC] = n;
	fake.last_ptr[F_REALLOC] = p;
	int i = find(p);
	if (i < 0) {
		fake.unknown++;
		return NULL;
	}
	if (failing(F_REALLOC)) {
		errno = ENOMEM;
		return NULL;
	}
	char *raw = realloc(table[i].raw, n + PAD);
	if (!raw)
		return NULL;
	table[i].raw = raw;
	table[i].user = raw + PAD;
	return raw + PAD;
}

static int fake_posix_memalign(void **out, size_t align, size_t n)
{
	fake.calls[F_MEMALIGN]++;
	fake.last_size[F_MEMALIGN] = n;
	fake.last_align = align;
	if (failing(F_MEMALIGN))
		return ENOMEM;
	size_t pad = align > PAD ? align : PAD;
	void *raw;
	int r = posix_memalign(&raw, align, n + pad);
	if (r)
		return r;
	memset(raw, 0xee, pad);
	put((char *)raw + pad, raw);
	*out = (char *)raw + pad;
	return 0;
}

static size_t fake_usable(void *p)
{
	fake.calls[F_USABLE]++;
	fake.last_ptr[F_USABLE] = p;
	if (fake.usable_override)
		return fake.usable_value;
	int i = find(p);
	if (i < 0) {
		fake.unknown++;
		return 0;
	}
	return malloc_usable_size(table[i].raw) - (size_t)((char *)p - (char *)table[i].raw);
}

void fake_install(void)
{
	memset(&fake, 0, sizeof fake);
	saved = ma_real;
	ma_real.next_malloc = fake_malloc;
	ma_real.next_free = fake_free;
	ma_real.next_calloc = fake_calloc;
	ma_real.next_realloc = fake_realloc;
	ma_real.next_posix_memalign = fake_posix_memalign;
	ma_real.next_malloc_usable_size = fake_usable;
}

void fake_uninstall(void)
{
	ma_real = saved;
}

unsigned fake_live(void)
{
	unsigned n = 0;
	for (unsigned i = 0; i < SLOTS; i++)
		n += table[i].user != NULL;
	return n;
}

bool fake_owns(const void *p)
{
	return find(p) >= 0;
}

void *fake_foreign(unsigned char pattern)
{
	char *raw = malloc(256);
	if (!raw)
		abort();
	memset(raw, pattern, 256);
	return raw + PAD;
}

void fake_free_foreign(void *p)
{
	free((char *)p - PAD);
}
