/* SPDX-License-Identifier: Apache-2.0 */
/*
 * symbolize.c: the in-process symbolizer.
 *
 * Modules come from /proc/self/maps (consecutive mappings of one file make
 * one module).  Each new module's file is mmap'd read-only at refresh time,
 * so a library that is dlclose()d, or even deleted, later still resolves.
 * Symbols come from .symtab when present (static functions too), else from
 * a separate debug file found by build id, else from .dynsym.  The first
 * lookup in a module builds a sorted index of its FUNC symbols in an
 * anonymous mapping; if that mapping fails, lookups scan the table.
 *
 * Every offset and count read from a file is checked against the mapped
 * size before use (overflow-safe), structures are copied out with memcpy
 * (files and fuzzer inputs need not be aligned), and names must end in a
 * NUL inside their string table.
 */
#define _GNU_SOURCE
#include "symbolize.h"

#include <elf.h>
#include <fcntl.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "demangle.h"
#include "fmt.h"
#include "internal.h"
#include "os.h"

/* ---- ELF images ------------------------------------------------------- */

struct symtab {
	uint64_t off, count;        /* Elf64_Sym array */
	uint64_t stroff, strsize;   /* its string table */
	bool ok;
};

struct elf {
	const uint8_t *base;
	size_t size;
	uint64_t phoff, phnum;
	uint64_t shoff, shnum;
	struct symtab symtab, dynsym;
	uint64_t build_id_off;
	uint32_t build_id_len;
};

static bool in_file(const struct elf *e, uint64_t off, uint64_t len)
{
	return off <= e->size && len <= e->size - off;
}

static bool read_shdr(const struct elf *e, uint64_t i, Elf64_Shdr *sh)
{
	if (i >= e->shnum)
		return false;
	memcpy(sh, e->base + e->shoff + i * sizeof *sh, sizeof *sh);
	return true;
}

static void take_symtab(struct elf *e, const Elf64_Shdr *sh, struct symtab *t)
{
	Elf64_Shdr str;
	if (t->ok || sh->sh_entsize != sizeof(Elf64_Sym) || !in_file(e, sh->sh_offset, sh->sh_size))
		return;
	if (!read_shdr(e, sh->sh_link, &str) || str.sh_type != SHT_STRTAB ||
	    str.sh_size == 0 || !in_file(e, str.sh_offset, str.sh_size))
		return;
	t->off = sh->sh_offset;
	t->count = sh->sh_size / sizeof(Elf64_Sym);
	t->stroff = str.sh_offset;
	t->strsize = str.sh_size;
	t->ok = t->count > 0;
}

/* NT_GNU_BUILD_ID in one note area. */
static void scan_notes(struct elf *e, uint64_t off, uint64_t size)
{
	if (!in_file(e, off, size))
		return;
	uint64_t end = off + size;
	while (end - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		memcpy(&nh, e->base + off, sizeof nh);
		uint64_t name_at = off + sizeof nh;
		uint64_t name_len = ((uint64_t)nh.n_namesz + 3) & ~(uint64_t)3;
		if (name_len > end - name_at)
			return;
		uint64_t desc_at = name_at + name_len;
		uint64_t desc_len = ((uint64_t)nh.n_descsz + 3) & ~(uint64_t)3;
		if (desc_len > end - desc_at)
			return;
		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
		    memcmp(e->base + name_at, "GNU", 4) == 0 && nh.n_descsz > 0 && nh.n_descsz <= 64) {
			e->build_id_off = desc_at;
			e->build_id_len = nh.n_descsz;
			return;
		}
		off = desc_at + desc_len;
	}
}

/* Validates the headers of a 64-bit ELF image of this machine's byte order
 * and finds its program headers, section headers, symbol tables and build
 * id.  Parts that do not fit in the image are ignored, not trusted. */
static bool elf_parse(struct elf *e, const void *base, size_t size)
{
	memset(e, 0, sizeof *e);
	e->base = base;
	e->size = size;
	Elf64_Ehdr eh;
	if (!base || size < sizeof eh)
		return false;
	memcpy(&eh, base, sizeof eh);
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64)
		return false;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return false;
#else
	if (eh.e_ident[EI_DATA] != ELFDATA2MSB)
		return false;
#endif
	if (eh.e_phoff && eh.e_phnum && eh.e_phnum != PN_XNUM &&
	    eh.e_phentsize == sizeof(Elf64_Phdr) &&
	    in_file(e, eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr))) {
		e->phoff = eh.e_phoff;
		e->phnum = eh.e_phnum;
	}
	if (eh.e_shoff && eh.e_shentsize == sizeof(Elf64_Shdr) &&
	    in_file(e, eh.e_shoff, sizeof(Elf64_Shdr))) {
		uint64_t n = eh.e_shnum;
		if (n == 0) {
			/* Extended numbering: the count is in section 0. */
			Elf64_Shdr s0;
			memcpy(&s0, e->base + eh.e_shoff, sizeof s0);
			n = s0.sh_size;
		}
		if (n <= (e->size - eh.e_shoff) / sizeof(Elf64_Shdr)) {
			e->shoff = eh.e_shoff;
			e->shnum = n;
		}
	}
	for (uint64_t i = 0; i < e->shnum; i++) {
		Elf64_Shdr sh;
		read_shdr(e, i, &sh);
		if (sh.sh_type == SHT_SYMTAB)
			take_symtab(e, &sh, &e->symtab);
		else if (sh.sh_type == SHT_DYNSYM)
			take_symtab(e, &sh, &e->dynsym);
		else if (sh.sh_type == SHT_NOTE && !e->build_id_len)
			scan_notes(e, sh.sh_offset, sh.sh_size);
	}
	for (uint64_t i = 0; i < e->phnum && !e->build_id_len; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, e->base + e->phoff + i * sizeof ph, sizeof ph);
		if (ph.p_type == PT_NOTE)
			scan_notes(e, ph.p_offset, ph.p_filesz);
	}
	return true;
}

static void read_sym(const struct elf *e, const struct symtab *t, uint64_t i, Elf64_Sym *s)
{
	memcpy(s, e->base + t->off + i * sizeof *s, sizeof *s);
}

/* The symbol's name if it is a NUL-terminated string inside the table. */
static const char *sym_name(const struct elf *e, const struct symtab *t, uint32_t off)
{
	if (off == 0 || off >= t->strsize)
		return NULL;
	const char *s = (const char *)e->base + t->stroff + off;
	if (!memchr(s, '\0', t->strsize - off) || s[0] == '\0')
		return NULL;
	return s;
}

static bool is_func(const Elf64_Sym *s)
{
	int type = ELF64_ST_TYPE(s->st_info);
	return (type == STT_FUNC || type == STT_GNU_IFUNC) && s->st_shndx != SHN_UNDEF &&
	       s->st_shndx < SHN_LORESERVE && s->st_value != 0;
}

/* Lower is better among symbols at one address: sized, then public names
 * (getpid over __getpid, malloc over __libc_malloc), then global, weak, local. */
static unsigned sym_rank(const Elf64_Sym *s, const char *name)
{
	int bind = ELF64_ST_BIND(s->st_info);
	unsigned r = s->st_size ? 0 : 16;
	r += name[0] == '_' ? (name[1] == '_' ? 8 : 4) : 0;
	r += bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2;
	return r;
}

static bool section_contains(const struct elf *e, uint64_t shndx, uint64_t v)
{
	Elf64_Shdr sh;
	if (!read_shdr(e, shndx, &sh))
		return false;
	return v >= sh.sh_addr && v - sh.sh_addr < sh.sh_size;
}

struct hit {
	uint64_t addr;
	const char *name;
	unsigned rank;
	bool sized;
};

/* Linear scan: the sized FUNC symbol covering v (innermost), else the
 * nearest FUNC symbol at or before v if it is unsized and in v's section
 * (the same answer index_lookup gives). */
static bool table_scan(const struct elf *e, const struct symtab *t, uint64_t v, struct hit *h)
{
	struct hit nearest;
	memset(h, 0, sizeof *h);
	memset(&nearest, 0, sizeof nearest);
	uint64_t nearest_shndx = 0;
	if (!t->ok)
		return false;
	for (uint64_t i = 0; i < t->count; i++) {
		Elf64_Sym s;
		read_sym(e, t, i, &s);
		if (!is_func(&s) || s.st_value > v)
			continue;
		const char *name = sym_name(e, t, s.st_name);
		if (!name)
			continue;
		bool sized = s.st_size != 0;
		unsigned rank = sym_rank(&s, name);
		if (!nearest.name || s.st_value > nearest.addr ||
		    (s.st_value == nearest.addr && rank < nearest.rank)) {
			nearest.addr = s.st_value;
			nearest.name = name;
			nearest.rank = rank;
			nearest.sized = sized;
			nearest_shndx = s.st_shndx;
		}
		if (sized && v - s.st_value < s.st_size &&
		    (!h->name || s.st_value > h->addr || (s.st_value == h->addr && rank < h->rank))) {
			h->addr = s.st_value;
			h->name = name;
			h->rank = rank;
			h->sized = true;
		}
	}
	if (!h->name && nearest.name && !nearest.sized && section_contains(e, nearest_shndx, v))
		*h = nearest;
	return h->name != NULL;
}

static void copy_name(char *dst, size_t cap, const char *src)
{
	if (!cap)
		return;
	size_t n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

bool ma_sym_lookup_image(const void *image, size_t size, uint64_t vaddr,
			 char *name, size_t cap, uint64_t *sym_offset)
{
	struct elf e;
	struct hit h;
	if (name && cap)
		name[0] = '\0';
	if (!elf_parse(&e, image, size))
		return false;
	if (!table_scan(&e, &e.symtab, vaddr, &h) && !table_scan(&e, &e.dynsym, vaddr, &h))
		return false;
	if (name)
		copy_name(name, cap, h.name);
	if (sym_offset)
		*sym_offset = vaddr - h.addr;
	return true;
}

/* ---- per-module symbol index ------------------------------------------ */

struct sym_ent {
	uint64_t addr, size;
	uint32_t name;      /* offset in the string table */
	uint32_t rank;
	uint64_t shndx;
};

static bool ent_less(const struct sym_ent *a, const struct sym_ent *b)
{
	return a->addr != b->addr ? a->addr < b->addr : a->rank < b->rank;
}

static void sift(struct sym_ent *v, size_t root, size_t n)
{
	for (;;) {
		size_t child = 2 * root + 1;
		if (child >= n)
			return;
		if (child + 1 < n && ent_less(&v[child], &v[child + 1]))
			child++;
		if (!ent_less(&v[root], &v[child]))
			return;
		struct sym_ent t = v[root];
		v[root] = v[child];
		v[child] = t;
		root = child;
	}
}

/* Heapsort: qsort may allocate. */
static void sort_ents(struct sym_ent *v, size_t n)
{
	if (n < 2)
		return;
	for (size_t i = n / 2; i-- > 0;)
		sift(v, i, n);
	for (size_t end = n - 1; end > 0; end--) {
		struct sym_ent t = v[0];
		v[0] = v[end];
		v[end] = t;
		sift(v, 0, end);
	}
}

#define MA_SYM_MAX_INDEX (1u << 24)

struct module {
	char path[4096];
	uint64_t dev, ino;
	uintptr_t lo, hi;           /* span of the file's mappings */
	uintptr_t first_start;      /* identity, with dev/ino/path */
	uint64_t first_off;
	struct { uintptr_t start; uint64_t off; } seg[16];
	unsigned nseg;
	uint64_t bias;
	bool bias_ok, live, loaded, owned;
	unsigned gen;
	const uint8_t *map, *dbg;
	size_t map_size, dbg_size;
	struct elf elf;             /* where symbols come from: dbg or map */
	const struct symtab *tab;
	struct sym_ent *index;
	size_t nindex, index_bytes;
	int index_state;            /* 0 not built, 1 built, -1 scan instead */
};

static struct module *g_mods;
static unsigned g_nmods, g_gen, g_last_hit;
static bool g_refreshed;
static struct ma_sym_stats g_stats;
static char g_debug_root[512] = "/usr/lib/debug";
static int g_lock;
/* Scratch, used under the lock only: the resolver runs on small stacks. */
static char g_maps_buf[65536];
static char g_line[4096 + 256];
static char g_path[4096 + 64];
static char g_demangled[4096];

static void lock(void)
{
	while (__atomic_exchange_n(&g_lock, 1, __ATOMIC_ACQUIRE))
		ma_os_yield();
}

static void unlock(void)
{
	__atomic_store_n(&g_lock, 0, __ATOMIC_RELEASE);
}

static void build_index(struct module *m)
{
	const struct elf *e = &m->elf;
	const struct symtab *t = m->tab;
	m->index_state = -1;
	if (!t || !t->ok)
		return;
	size_t n = 0;
	for (uint64_t i = 0; i < t->count; i++) {
		Elf64_Sym s;
		read_sym(e, t, i, &s);
		if (is_func(&s) && sym_name(e, t, s.st_name))
			n++;
	}
	if (n == 0 || n > MA_SYM_MAX_INDEX)
		return;
	size_t bytes = n * sizeof(struct sym_ent);
	struct sym_ent *v = ma_os_map(bytes);
	if (!v)
		return;
	size_t k = 0;
	for (uint64_t i = 0; i < t->count && k < n; i++) {
		Elf64_Sym s;
		read_sym(e, t, i, &s);
		const char *name;
		if (!is_func(&s) || !(name = sym_name(e, t, s.st_name)))
			continue;
		v[k].addr = s.st_value;
		v[k].size = s.st_size;
		v[k].name = s.st_name;
		v[k].rank = sym_rank(&s, name);
		v[k].shndx = s.st_shndx;
		k++;
	}
	sort_ents(v, k);
	/* One entry per address: the best-ranked alias. */
	size_t out = 0;
	for (size_t i = 0; i < k; i++)
		if (out == 0 || v[out - 1].addr != v[i].addr)
			v[out++] = v[i];
	m->index = v;
	m->nindex = out;
	m->index_bytes = bytes;
	m->index_state = 1;
}

static bool index_lookup(const struct module *m, uint64_t v, struct hit *h)
{
	memset(h, 0, sizeof *h);
	const struct sym_ent *x = m->index;
	size_t lo = 0, hi = m->nindex;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (x[mid].addr <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return false;
	size_t i = lo - 1;
	const struct sym_ent *found = NULL;
	/* A sized symbol covering v, possibly one that encloses later ones. */
	for (size_t j = i + 1, steps = 0; j-- > 0 && steps < 64; steps++) {
		if (x[j].size && v - x[j].addr < x[j].size) {
			found = &x[j];
			break;
		}
	}
	if (!found && !x[i].size && section_contains(&m->elf, x[i].shndx, v))
		found = &x[i];
	if (!found)
		return false;
	h->addr = found->addr;
	h->name = (const char *)m->elf.base + m->tab->stroff + found->name;
	h->sized = found->size != 0;
	return true;
}

/* ---- loading modules -------------------------------------------------- */

/* Opens path only if it is the file with this inode (the library may have
 * been rebuilt or replaced since it was mapped). */
static int open_checked(const char *path, uint64_t ino)
{
	int fd = ma_os_open(path, O_RDONLY, 0);
	if (fd < 0)
		return -1;
	uint64_t have;
	if (ma_os_file_inode(fd, &have) != 0 || have != ino) {
		ma_os_close(fd);
		return -1;
	}
	return fd;
}

static void fmt_map_files(char *out, size_t cap, uintptr_t start, uintptr_t end)
{
	/* /proc/self/map_files/<start>-<end>, lowercase hex without 0x */
	struct ma_buf b;
	char hex[2][24];
	uintptr_t v[2] = { start, end };
	for (int k = 0; k < 2; k++) {
		int i = 23;
		hex[k][i] = '\0';
		do {
			hex[k][--i] = "0123456789abcdef"[v[k] & 15];
			v[k] >>= 4;
		} while (v[k]);
		memmove(hex[k], hex[k] + i, (size_t)(24 - i));
	}
	ma_buf_init(&b, out, cap, -1);
	ma_buf_str(&b, "/proc/self/map_files/");
	ma_buf_str(&b, hex[0]);
	ma_buf_char(&b, '-');
	ma_buf_str(&b, hex[1]);
	ma_buf_finish(&b);
}

static void load_debug_file(struct module *m, const struct elf *main_elf)
{
	if (!main_elf->build_id_len || !g_debug_root[0])
		return;
	struct ma_buf b;
	ma_buf_init(&b, g_path, sizeof g_path, -1);
	ma_buf_str(&b, g_debug_root);
	ma_buf_str(&b, "/.build-id/");
	const uint8_t *id = main_elf->base + main_elf->build_id_off;
	for (uint32_t i = 0; i < main_elf->build_id_len; i++) {
		ma_buf_char(&b, "0123456789abcdef"[id[i] >> 4]);
		ma_buf_char(&b, "0123456789abcdef"[id[i] & 15]);
		if (i == 0)
			ma_buf_char(&b, '/');
	}
	ma_buf_str(&b, ".debug");
	ma_buf_finish(&b);
	if (b.truncated)
		return;
	int fd = ma_os_open(g_path, O_RDONLY, 0);
	if (fd < 0)
		return;
	size_t size = 0;
	const void *p = ma_os_map_file(fd, &size);
	ma_os_close(fd);
	if (!p)
		return;
	struct elf d;
	if (!elf_parse(&d, p, size) || !d.symtab.ok ||
	    d.build_id_len != main_elf->build_id_len ||
	    memcmp(d.base + d.build_id_off, id, d.build_id_len) != 0) {
		ma_os_unmap((void *)p, size);
		return;
	}
	m->dbg = p;
	m->dbg_size = size;
	m->elf = d;
	m->tab = &m->elf.symtab;
	g_stats.with_debug_file++;
}

/* The load bias from a mapping (start, file offset) and the PT_LOAD segment
 * holding that offset: runtime address = bias + ELF virtual address. */
static void compute_bias(struct module *m, const struct elf *e)
{
	uint64_t page = ma_os_page_size();
	for (unsigned s = 0; s < m->nseg; s++) {
		for (uint64_t i = 0; i < e->phnum; i++) {
			Elf64_Phdr ph;
			memcpy(&ph, e->base + e->phoff + i * sizeof ph, sizeof ph);
			if (ph.p_type != PT_LOAD)
				continue;
			uint64_t seg_lo = ph.p_offset & ~(page - 1);
			uint64_t off = m->seg[s].off;
			if (ph.p_filesz == 0 || ph.p_filesz > UINT64_MAX - ph.p_offset ||
			    off < seg_lo || off >= ph.p_offset + ph.p_filesz)
				continue;
			m->bias = (uint64_t)m->seg[s].start - m->seg[s].off + ph.p_offset - ph.p_vaddr;
			m->bias_ok = true;
			return;
		}
	}
}

static void load_module(struct module *m)
{
	const void *p = NULL;
	size_t size = 0;
	bool vdso = strcmp(m->path, "[vdso]") == 0;
	if (vdso) {
		p = (const void *)m->lo;
		size = m->hi - m->lo;
	} else {
		int fd = open_checked(m->path, m->ino);
		if (fd < 0) {
			/* Deleted or replaced since it was mapped: the mapping itself. */
			fmt_map_files(g_path, sizeof g_path, m->seg[0].start, m->hi);
			fd = open_checked(g_path, m->ino);
		}
		if (fd >= 0) {
			p = ma_os_map_file(fd, &size);
			ma_os_close(fd);
		}
	}
	struct elf e;
	if (!p || !elf_parse(&e, p, size)) {
		if (p && !vdso)
			ma_os_unmap((void *)p, size);
		g_stats.unreadable++;
		return;
	}
	m->map = p;
	m->map_size = size;
	m->owned = !vdso;
	m->loaded = true;
	compute_bias(m, &e);
	m->elf = e;
	m->tab = e.symtab.ok ? &m->elf.symtab : e.dynsym.ok ? &m->elf.dynsym : NULL;
	if (!e.symtab.ok)
		load_debug_file(m, &e);
}

static void unload_module(struct module *m)
{
	if (m->index)
		ma_os_unmap(m->index, m->index_bytes);
	if (m->map && m->owned)
		ma_os_unmap((void *)m->map, m->map_size);
	if (m->dbg)
		ma_os_unmap((void *)m->dbg, m->dbg_size);
	memset(m, 0, sizeof *m);
}

/* ---- /proc/self/maps -------------------------------------------------- */

struct maps_line {
	uintptr_t start, end;
	uint64_t off, dev, ino;
	const char *path;
};

static const char *hex_field(const char *p, uint64_t *v)
{
	uint64_t x = 0;
	int n = 0;
	for (;; p++, n++) {
		char c = *p;
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			break;
		x = x << 4 | (uint64_t)d;
	}
	*v = x;
	return n ? p : NULL;
}

static bool parse_line(char *s, struct maps_line *l)
{
	uint64_t a, b, off, maj, min, ino = 0;
	const char *p = hex_field(s, &a);
	if (!p || *p++ != '-' || !(p = hex_field(p, &b)) || *p++ != ' ')
		return false;
	while (*p && *p != ' ')
		p++; /* perms */
	if (*p++ != ' ' || !(p = hex_field(p, &off)) || *p++ != ' ')
		return false;
	if (!(p = hex_field(p, &maj)) || *p++ != ':' || !(p = hex_field(p, &min)) || *p++ != ' ')
		return false;
	while (*p >= '0' && *p <= '9')
		ino = ino * 10 + (uint64_t)(*p++ - '0');
	while (*p == ' ')
		p++;
	l->start = (uintptr_t)a;
	l->end = (uintptr_t)b;
	l->off = off;
	l->dev = makedev((unsigned)maj, (unsigned)min);
	l->ino = ino;
	l->path = p;
	return a < b;
}

static struct module *find_identity(const struct module *g)
{
	for (unsigned i = 0; i < g_nmods; i++) {
		struct module *m = &g_mods[i];
		if (m->first_start == g->first_start && m->ino == g->ino && m->dev == g->dev &&
		    strcmp(m->path, g->path) == 0)
			return m;
	}
	return NULL;
}

/* A slot for a new module: a free one, else the longest-gone unmapped one. */
static struct module *new_slot(void)
{
	if (g_nmods < MA_SYM_MAX_MODULES)
		return &g_mods[g_nmods++];
	struct module *victim = NULL;
	for (unsigned i = 0; i < g_nmods; i++) {
		struct module *m = &g_mods[i];
		if (m->gen != g_gen && (!victim || m->gen < victim->gen))
			victim = m;
	}
	if (!victim)
		return NULL;
	unload_module(victim);
	g_stats.evicted++;
	return victim;
}

static void commit(struct module *g)
{
	struct module *m = find_identity(g);
	if (m) {
		/* Same mapping as before: refresh its extent, keep the file. */
		m->lo = g->lo;
		m->hi = g->hi;
		m->nseg = g->nseg;
		memcpy(m->seg, g->seg, sizeof m->seg);
		m->gen = g_gen;
		m->live = true;
		return;
	}
	m = new_slot();
	if (!m) {
		g_stats.dropped++;
		return;
	}
	memcpy(m, g, sizeof *m);
	m->gen = g_gen;
	m->live = true;
	load_module(m);
	g_last_hit = 0;
}

static struct module g_group;

/* Our own read-only mappings of ELF files look like modules in the maps. */
static bool is_ours(uintptr_t start, uintptr_t end)
{
	size_t pg = ma_os_page_size() - 1;
	for (unsigned i = 0; i < g_nmods; i++) {
		const struct module *m = &g_mods[i];
		uintptr_t a = (uintptr_t)m->map, b = (uintptr_t)m->dbg;
		if ((m->owned && start >= a && end <= a + ((m->map_size + pg) & ~pg)) ||
		    (b && start >= b && end <= b + ((m->dbg_size + pg) & ~pg)))
			return true;
	}
	return false;
}

static void add_line(const struct maps_line *l, bool *open)
{
	bool named = (l->path[0] == '/' || strcmp(l->path, "[vdso]") == 0) &&
		     !is_ours(l->start, l->end);
	size_t plen = strlen(l->path);
	if (named && plen >= sizeof g_group.path)
		named = false;
	if (*open && named && l->ino == g_group.ino && l->dev == g_group.dev &&
	    strcmp(l->path, g_group.path) == 0 && l->start >= g_group.hi) {
		if (g_group.nseg < MA_ARRAY_LEN(g_group.seg)) {
			g_group.seg[g_group.nseg].start = l->start;
			g_group.seg[g_group.nseg].off = l->off;
			g_group.nseg++;
		}
		g_group.hi = l->end;
		return;
	}
	if (*open) {
		commit(&g_group);
		*open = false;
	}
	if (!named)
		return;
	memset(&g_group, 0, sizeof g_group);
	memcpy(g_group.path, l->path, plen + 1);
	g_group.dev = l->dev;
	g_group.ino = l->ino;
	g_group.lo = g_group.first_start = l->start;
	g_group.hi = l->end;
	g_group.first_off = l->off;
	g_group.seg[0].start = l->start;
	g_group.seg[0].off = l->off;
	g_group.nseg = 1;
	*open = true;
}

static void refresh_locked(void)
{
	if (!g_mods) {
		g_mods = ma_os_map(MA_SYM_MAX_MODULES * sizeof *g_mods);
		if (!g_mods)
			return;
	}
	int fd = ma_os_open("/proc/self/maps", O_RDONLY, 0);
	if (fd < 0)
		return;
	g_gen++;
	g_refreshed = true;
	bool open = false;
	size_t line_len = 0;
	bool overlong = false;
	for (;;) {
		ssize_t n = ma_os_read_all(fd, g_maps_buf, sizeof g_maps_buf);
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			char c = g_maps_buf[i];
			if (c != '\n') {
				if (line_len + 1 < sizeof g_line)
					g_line[line_len++] = c;
				else
					overlong = true;
				continue;
			}
			g_line[line_len] = '\0';
			struct maps_line l;
			if (!overlong && parse_line(g_line, &l)) {
				/* " (deleted)" is the kernel's note, not part of the name */
				size_t pl = strlen(l.path);
				if (pl > 10 && strcmp(l.path + pl - 10, " (deleted)") == 0)
					g_line[(size_t)(l.path - g_line) + pl - 10] = '\0';
				add_line(&l, &open);
			}
			line_len = 0;
			overlong = false;
		}
		if ((size_t)n < sizeof g_maps_buf)
			break;
	}
	ma_os_close(fd);
	if (open)
		commit(&g_group);
	for (unsigned i = 0; i < g_nmods; i++)
		g_mods[i].live = g_mods[i].gen == g_gen;
}

/* ---- entry points ----------------------------------------------------- */

void ma_sym_refresh_modules(void)
{
	lock();
	refresh_locked();
	unlock();
}

/* Live modules first; among unmapped ones, the most recently seen. */
static struct module *find_module(uintptr_t ip)
{
	if (g_last_hit < g_nmods) {
		struct module *m = &g_mods[g_last_hit];
		if (m->live && ip >= m->lo && ip < m->hi)
			return m;
	}
	struct module *best = NULL;
	for (unsigned i = 0; i < g_nmods; i++) {
		struct module *m = &g_mods[i];
		if (ip < m->lo || ip >= m->hi)
			continue;
		if (m->live) {
			g_last_hit = i;
			return m;
		}
		if (!best || m->gen > best->gen)
			best = m;
	}
	return best;
}

/* Demangled name, with a symbol version (name@VER, name@@VER) kept after it. */
static void set_function(struct ma_sym_result *out, const char *raw)
{
	size_t len = strlen(raw);
	const char *at = memchr(raw, '@', len);
	size_t base = at ? (size_t)(at - raw) : len;
	if (ma_demangle_n(raw, base, g_demangled, sizeof g_demangled)) {
		struct ma_buf b;
		ma_buf_init(&b, out->function, sizeof out->function, -1);
		ma_buf_str(&b, g_demangled);
		if (at)
			ma_buf_str(&b, at);
		ma_buf_finish(&b);
		if (b.truncated && sizeof out->function > 4)
			memcpy(out->function + sizeof out->function - 4, "...", 4);
	} else {
		copy_name(out->function, sizeof out->function, raw);
	}
}

static void reset_result(uintptr_t ip, struct ma_sym_result *out)
{
	out->module[0] = '\0';
	memcpy(out->function, "??", 3);
	out->offset = ip;
	out->sym_offset = 0;
	out->found_module = out->found_function = false;
}

/* Names ip within module m (the lock held). */
static void resolve_in_module(struct module *m, uintptr_t ip, struct ma_sym_result *out)
{
	out->found_module = true;
	copy_name(out->module, sizeof out->module, m->path);
	out->offset = m->bias_ok ? ip - m->bias : ip - m->first_start + m->first_off;
	if (m->loaded && m->bias_ok && m->tab) {
		uint64_t v = ip - m->bias;
		struct hit h;
		if (m->index_state == 0)
			build_index(m);
		bool ok = m->index_state == 1 ? index_lookup(m, v, &h)
					      : table_scan(&m->elf, m->tab, v, &h);
		if (ok) {
			set_function(out, h.name);
			out->sym_offset = v - h.addr;
			out->found_function = true;
		}
	}
}

bool ma_sym_resolve(uintptr_t ip, struct ma_sym_result *out)
{
	reset_result(ip, out);
	lock();
	if (!g_refreshed)
		refresh_locked();
	struct module *m = g_mods ? find_module(ip) : NULL;
	if (m)
		resolve_in_module(m, ip, out);
	unlock();
	return m != NULL;
}

int ma_sym_module_at(uintptr_t ip, uintptr_t *lo, uintptr_t *hi)
{
	int idx = -1;
	lock();
	refresh_locked();
	struct module *m = g_mods ? find_module(ip) : NULL;
	if (m && m->live) {
		idx = (int)(m - g_mods);
		*lo = m->lo;
		*hi = m->hi;
	}
	unlock();
	return idx;
}

bool ma_sym_module_span(int index, uintptr_t *lo, uintptr_t *hi)
{
	lock();
	bool ok = g_mods && index >= 0 && (unsigned)index < g_nmods;
	if (ok) {
		*lo = g_mods[index].lo;
		*hi = g_mods[index].hi;
	}
	unlock();
	return ok;
}

bool ma_sym_resolve_in(int index, uintptr_t ip, struct ma_sym_result *out)
{
	reset_result(ip, out);
	lock();
	bool ok = g_mods && index >= 0 && (unsigned)index < g_nmods;
	if (ok)
		resolve_in_module(&g_mods[index], ip, out);
	unlock();
	return ok;
}

void ma_sym_release(void)
{
	lock();
	if (g_mods) {
		for (unsigned i = 0; i < g_nmods; i++)
			unload_module(&g_mods[i]);
		ma_os_unmap(g_mods, MA_SYM_MAX_MODULES * sizeof *g_mods);
	}
	g_mods = NULL;
	g_nmods = 0;
	g_last_hit = 0;
	g_refreshed = false;
	memset(&g_stats, 0, sizeof g_stats);
	unlock();
}

void ma_sym_get_stats(struct ma_sym_stats *out)
{
	lock();
	*out = g_stats;
	out->modules = g_nmods;
	out->live = 0;
	for (unsigned i = 0; i < g_nmods; i++)
		out->live += g_mods[i].live;
	unlock();
}

void ma_sym_set_debug_root(const char *dir)
{
	lock();
	copy_name(g_debug_root, sizeof g_debug_root, dir ? dir : "");
	unlock();
}
