/* SPDX-License-Identifier: Apache-2.0 */
/* modules.c: the table of loaded modules' executable ranges (modules.h). */
#define _GNU_SOURCE
#include "modules.h"

#include <link.h>
#include <string.h>

#include "atomic.h"
#include "os.h"

struct ma_modules *_Atomic ma_modules_now;

static struct {
	struct ma_modules *first; /* the start-up table: its modules stay mapped */
	uintptr_t self;           /* an address inside this library */
	uintptr_t root;           /* an address inside the C library */
	uintptr_t loader;         /* an address inside the dynamic loader */
	ma_au64 mapped;
	ma_au32 building;         /* one rebuild at a time */
	char *cur, *end;          /* the arena tables are cut from */
} mods;

#define MODULES_CHUNK (256 * 1024)

/*
 * Room for a table, cut from chunks of anonymous memory that are never
 * unmapped (walks may still read old tables): one mapping per 256 KiB of
 * tables, not one per table, so that a program that dlopens and dlcloses
 * in a loop does not scatter mappings where its libraries would go.
 * Called by one builder at a time.
 */
static void *table_room(size_t bytes)
{
	bytes = (bytes + 63) & ~(size_t)63;
	if ((size_t)(mods.end - mods.cur) < bytes) {
		size_t chunk = bytes > MODULES_CHUNK ? bytes : MODULES_CHUNK;
		char *c = ma_os_map(chunk);
		if (!c)
			return NULL;
		ma_add_relaxed(&mods.mapped, chunk);
		mods.cur = c;
		mods.end = c + chunk;
	}
	void *p = mods.cur;
	mods.cur += bytes;
	return p;
}

void ma_modules_load_span(const struct dl_phdr_info *info, uintptr_t *lo, uintptr_t *hi)
{
	*lo = UINTPTR_MAX;
	*hi = 0;
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t a = info->dlpi_addr + ph->p_vaddr;
		*lo = a < *lo ? a : *lo;
		*hi = a + ph->p_memsz > *hi ? a + ph->p_memsz : *hi;
	}
}

struct count {
	unsigned ranges;
	uint64_t adds, subs;
};

static int count_ranges(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct count *c = arg;
	(void)size;
	c->adds = info->dlpi_adds;
	c->subs = info->dlpi_subs;
	for (unsigned i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_LOAD && (info->dlpi_phdr[i].p_flags & PF_X))
			c->ranges++;
	return 0;
}

/* Was [lo, hi) an executable range at start-up? */
static bool in_first(uintptr_t lo, uintptr_t hi)
{
	const struct ma_modules *f = mods.first;
	for (unsigned i = 0; f && i < f->n; i++)
		if (f->r[i].lo == lo && f->r[i].hi == hi)
			return true;
	return false;
}

struct fill {
	struct ma_modules *t;
	unsigned cap;
	uintptr_t self_lo, self_hi;
};

static int fill_ranges(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct fill *f = arg;
	(void)size;
	uintptr_t lo, hi;
	ma_modules_load_span(info, &lo, &hi);
	uint32_t flags = 0;
	if (mods.self >= lo && mods.self < hi) {
		flags |= MA_MOD_SELF;
		f->self_lo = lo;
		f->self_hi = hi;
	}
	if (mods.root >= lo && mods.root < hi)
		flags |= MA_MOD_ROOT | MA_MOD_SYSTEM;
	if (mods.loader >= lo && mods.loader < hi)
		flags |= MA_MOD_SYSTEM;
	/* The call-frame information's index, and the segment holding it (cfi.h). */
	uintptr_t eh = 0, eh_lo = 0, eh_hi = 0;
	for (unsigned i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_GNU_EH_FRAME)
			eh = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
	for (unsigned i = 0; eh && i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t a = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_R) && eh >= a && eh - a < ph->p_filesz) {
			eh_lo = a;
			eh_hi = a + ph->p_filesz;
		}
	}
	if (!eh_lo)
		eh = 0;
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X) || !ph->p_memsz)
			continue;
		if (f->t->n == f->cap)
			return 1; /* modules appeared since counting: the caller counts again */
		struct ma_module_range *r = &f->t->r[f->t->n++];
		r->lo = info->dlpi_addr + ph->p_vaddr;
		r->hi = r->lo + ph->p_memsz;
		r->flags = flags;
		r->eh_hdr = eh;
		r->eh_lo = eh_lo;
		r->eh_hi = eh_hi;
		/* Code is read only where it stays mapped and is readable. */
		if ((ph->p_flags & PF_R) && (!mods.first || in_first(r->lo, r->hi)))
			r->flags |= MA_MOD_READABLE;
	}
	return 0;
}

static void sort_ranges(struct ma_modules *t)
{
	for (unsigned i = 1; i < t->n; i++) { /* insertion sort: tens of ranges */
		struct ma_module_range x = t->r[i];
		unsigned j = i;
		for (; j > 0 && t->r[j - 1].lo > x.lo; j--)
			t->r[j] = t->r[j - 1];
		t->r[j] = x;
	}
}

/* A new table of the modules loaded now, or NULL. */
static struct ma_modules *build(uintptr_t *self_lo, uintptr_t *self_hi)
{
	for (int attempt = 0; attempt < 4; attempt++) {
		struct count c = { 0, 0, 0 };
		ma_os_each_module(count_ranges, &c);
		unsigned cap = c.ranges + 8;
		size_t bytes = sizeof(struct ma_modules) + cap * sizeof(struct ma_module_range);
		char *mark = mods.cur;
		struct ma_modules *t = table_room(bytes);
		if (!t)
			return NULL;
		t->bytes = bytes;
		t->n = 0;
		struct fill f = { t, cap, 0, 0 };
		if (ma_os_each_module(fill_ranges, &f) == 0) {
			t->adds = c.adds;
			t->subs = c.subs;
			sort_ranges(t);
			t->root_lo = t->root_hi = 0;
			for (unsigned i = 0; i < t->n; i++) {
				if (!(t->r[i].flags & MA_MOD_ROOT))
					continue;
				if (t->root_lo == t->root_hi || t->r[i].lo < t->root_lo)
					t->root_lo = t->r[i].lo;
				if (t->r[i].hi > t->root_hi)
					t->root_hi = t->r[i].hi;
			}
			if (self_lo) {
				*self_lo = f.self_lo;
				*self_hi = f.self_hi;
			}
			return t;
		}
		/* More modules than counted: no walk saw this table, so its room is reused. */
		if ((char *)t == mark)
			mods.cur = mark;
	}
	return NULL;
}

extern void __libc_start_main(void);

bool ma_modules_init(uintptr_t self, uintptr_t *self_lo, uintptr_t *self_hi)
{
	mods.self = self;
	mods.root = (uintptr_t)&__libc_start_main;
	mods.loader = (uintptr_t)&_r_debug; /* <link.h>: the loader's debugger interface */
	*self_lo = *self_hi = 0;
	struct ma_modules *t = build(self_lo, self_hi);
	if (!t)
		return false;
	mods.first = t;
	ma_store_release(&ma_modules_now, t);
	return true;
}

struct counts {
	uint64_t adds, subs;
};

static int read_counts(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct counts *c = arg;
	(void)size;
	c->adds = info->dlpi_adds;
	c->subs = info->dlpi_subs;
	return 1;
}

bool ma_modules_refresh(bool force)
{
	struct ma_modules *cur = ma_load_acquire(&ma_modules_now);
	if (!cur)
		return false;
	if (!force) {
		struct counts c = { 0, 0 };
		ma_os_each_module(read_counts, &c);
		if (c.adds == cur->adds && c.subs == cur->subs)
			return false;
	}
	uint32_t idle = 0;
	if (!ma_cas_acq_rel(&mods.building, &idle, 1))
		return false; /* another thread rebuilds it now */
	struct ma_modules *t = build(NULL, NULL);
	if (t)
		ma_store_release(&ma_modules_now, t); /* the old one stays mapped: walks may read it */
	ma_store_release(&mods.building, 0);
	return t != NULL;
}

void ma_modules_after_fork(void)
{
	ma_store_relaxed(&mods.building, 0);
}

uint64_t ma_modules_mapped_bytes(void)
{
	return ma_load_relaxed(&mods.mapped);
}
