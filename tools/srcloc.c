/* SPDX-License-Identifier: Apache-2.0 */
/* srcloc.c: file:line and inlined calls of return addresses, from DWARF via elfutils libdwfl. */
#include "srcloc.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../src/demangle.h"
#include "util.h"

/*
 * The library's demangler (src/demangle.c, linked in) maps a private state
 * only when two threads demangle at once; the command has one thread, but
 * the linker wants the two functions the library's os layer provides.
 */
void *ma_os_map(size_t bytes);
void ma_os_unmap(void *p, size_t bytes);

void *ma_os_map(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void ma_os_unmap(void *p, size_t bytes)
{
	if (p)
		munmap(p, bytes);
}

struct sym {
	char *name;       /* as the library shows it: demangled, "@VERSION" kept */
	uint64_t lo, hi;  /* ELF vaddrs */
};

struct mod {
	char *path;
	Dwfl *dwfl;
	Dwfl_Module *m;   /* NULL: unreadable, nothing to find */
	GElf_Addr bias;   /* libdwfl's address = ELF vaddr + bias */
	bool exec;        /* ET_EXEC: runs at its link-time addresses */
	struct sym *syms;
	size_t nsyms;
	bool syms_read;
};

struct hit {
	size_t mod;       /* index + 1; 0 = empty slot */
	uint64_t ret;
	struct mt_srcframe *frames;
	size_t n;
};

struct mt_srcloc {
	struct mod *mods;
	size_t nmods;
	struct hit *hits; /* (module, address) -> frames, open addressing */
	size_t cap, count;
};

static const Dwfl_Callbacks offline_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo, /* debuglink, .build-id, debuginfod */
	.section_address = dwfl_offline_section_address,
};

struct mt_srcloc *mt_srcloc_new(void)
{
	struct mt_srcloc *sl = mt_xcalloc(1, sizeof *sl);
	sl->cap = 256;
	sl->hits = mt_xcalloc(sl->cap, sizeof *sl->hits);
	return sl;
}

static void free_frames(struct mt_srcframe *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *)f[i].function);
		free((char *)f[i].file);
	}
	free(f);
}

void mt_srcloc_free(struct mt_srcloc *sl)
{
	if (!sl)
		return;
	for (size_t i = 0; i < sl->cap; i++)
		if (sl->hits[i].mod)
			free_frames(sl->hits[i].frames, sl->hits[i].n);
	free(sl->hits);
	for (size_t i = 0; i < sl->nmods; i++) {
		struct mod *md = &sl->mods[i];
		if (md->dwfl)
			dwfl_end(md->dwfl);
		for (size_t j = 0; j < md->nsyms; j++)
			free(md->syms[j].name);
		free(md->syms);
		free(md->path);
	}
	free(sl->mods);
	free(sl);
}

/* Index of the module, opened on first use. */
static size_t module(struct mt_srcloc *sl, const char *path)
{
	for (size_t i = 0; i < sl->nmods; i++)
		if (strcmp(sl->mods[i].path, path) == 0)
			return i;
	sl->mods = mt_xrealloc(sl->mods, (sl->nmods + 1) * sizeof *sl->mods);
	struct mod *md = &sl->mods[sl->nmods];
	memset(md, 0, sizeof *md);
	md->path = mt_xstrdup(path);
	/* Only absolute paths: "[vdso]", "??" and relative names are not files we can trust. */
	if (path[0] == '/') {
		md->dwfl = dwfl_begin(&offline_callbacks);
		if (md->dwfl) {
			md->m = dwfl_report_offline(md->dwfl, path, path, -1);
			dwfl_report_end(md->dwfl, NULL, NULL);
		}
		GElf_Ehdr eh;
		Elf *e = md->m ? dwfl_module_getelf(md->m, &md->bias) : NULL;
		if (!e)
			md->m = NULL;
		else if (gelf_getehdr(e, &eh))
			md->exec = eh.e_type == ET_EXEC;
	}
	return sl->nmods++;
}

/* Lexical clean-up of a path: "//", "/./" and "dir/../" go (no symlinks followed). */
static char *norm_path(const char *in)
{
	size_t n = strlen(in);
	char *out = mt_xmalloc(n + 2);
	size_t o = 0;
	bool abs = in[0] == '/';
	size_t floor = abs ? 1 : 0; /* ".." never climbs above this */
	if (abs)
		out[o++] = '/';
	const char *p = in;
	while (*p) {
		while (*p == '/')
			p++;
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == 0)
			break;
		if (len == 1 && p[0] == '.') {
			/* skip */
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			size_t start = o;
			while (start > floor && out[start - 1] != '/')
				start--;
			bool up = o - start == 2 && out[start] == '.' && out[start + 1] == '.';
			if (o > floor && !up) {
				/* Drop the previous component. */
				o = start > floor ? start - 1 : start;
			} else if (!abs) {
				/* A relative path keeps its leading "..": nothing to drop. */
				if (o > floor)
					out[o++] = '/';
				memcpy(out + o, "..", 2);
				o += 2;
			}
		} else {
			if (o > floor)
				out[o++] = '/';
			memcpy(out + o, p, len);
			o += len;
		}
		p += len;
	}
	if (o == 0)
		out[o++] = '.';
	out[o] = '\0';
	return out;
}

/* A name as the library prints it: demangled when mangled, "@VERSION" kept. */
static char *display_name(const char *raw)
{
	const char *at = strchr(raw, '@');
	size_t base = at ? (size_t)(at - raw) : strlen(raw);
	char buf[4096];
	if (base >= 2 && ma_demangle_n(raw, base, buf, sizeof buf))
		return mt_xasprintf("%s%s", buf, at ? at : "");
	return mt_xstrdup(raw);
}

/* The declaration a DIE stands for: DW_AT_abstract_origin, then DW_AT_specification. */
static bool declaration_of(Dwarf_Die *die, Dwarf_Die *out)
{
	Dwarf_Attribute a;
	Dwarf_Die cur = *die;
	bool moved = false;
	for (int hops = 0; hops < 8; hops++) {
		if (!dwarf_formref_die(dwarf_attr(&cur, DW_AT_abstract_origin, &a), out) &&
		    !dwarf_formref_die(dwarf_attr(&cur, DW_AT_specification, &a), out))
			break;
		cur = *out;
		moved = true;
	}
	*out = cur;
	return moved;
}

/*
 * The name of an inlined function: its linkage name demangled (as the
 * library names functions), else DW_AT_name qualified with the namespaces
 * and classes around its declaration ("ns::mk").
 */
static char *inline_name(Dwarf_Die *die)
{
	Dwarf_Attribute a;
	const char *s = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &a));
	if (!s)
		s = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &a));
	if (s)
		return display_name(s);
	s = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &a));
	char *name = mt_xstrdup(s ? s : "??");
	Dwarf_Die decl, *outer = NULL;
	int n = declaration_of(die, &decl) ? dwarf_getscopes_die(&decl, &outer) : 0;
	for (int i = 1; i < n; i++) {
		int tag = dwarf_tag(&outer[i]);
		if (tag != DW_TAG_namespace && tag != DW_TAG_class_type &&
		    tag != DW_TAG_structure_type && tag != DW_TAG_union_type)
			continue;
		const char *q = dwarf_diename(&outer[i]);
		char *longer = mt_xasprintf("%s::%s", q ? q : "(anonymous namespace)", name);
		free(name);
		name = longer;
	}
	free(outer);
	return name;
}

/* DW_AT_call_file / DW_AT_call_line of an inlined subroutine: where it was called. */
static void call_site(Dwarf_Die *die, char **file, unsigned *line)
{
	Dwarf_Attribute a;
	Dwarf_Word idx, ln;
	*file = NULL;
	*line = 0;
	if (dwarf_formudata(dwarf_attr(die, DW_AT_call_line, &a), &ln) == 0)
		*line = (unsigned)ln;
	Dwarf_Die cu;
	Dwarf_Files *files;
	size_t nfiles;
	if (dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &a), &idx) == 0 &&
	    dwarf_diecu(die, &cu, NULL, NULL) && dwarf_getsrcfiles(&cu, &files, &nfiles) == 0 &&
	    idx < nfiles) {
		const char *f = dwarf_filesrc(files, idx, NULL, NULL);
		if (f)
			*file = norm_path(f);
	}
}

static void push(struct mt_srcframe **v, size_t *n, char *function, char *file, unsigned line,
                 bool inlined)
{
	*v = mt_xrealloc(*v, (*n + 1) * sizeof **v);
	(*v)[*n] = (struct mt_srcframe){ function, file, line, inlined };
	(*n)++;
}

static size_t resolve(struct mod *md, uint64_t ret, struct mt_srcframe **out)
{
	*out = NULL;
	if (!md->m || ret == 0)
		return 0;
	Dwarf_Addr pc = ret - 1 + md->bias;
	Dwfl_Line *ln = dwfl_module_getsrc(md->m, pc);
	int line = 0;
	const char *f = ln ? dwfl_lineinfo(ln, NULL, &line, NULL, NULL, NULL) : NULL;
	if (!f)
		return 0;
	char *file = norm_path(f);
	unsigned uline = line > 0 ? (unsigned)line : 0;
	size_t n = 0;
	Dwarf_Addr dwbias = 0;
	Dwarf_Die *cu = dwfl_module_addrdie(md->m, pc, &dwbias);
	Dwarf_Die *scopes = NULL;
	int ns = cu ? dwarf_getscopes(cu, pc - dwbias, &scopes) : 0;
	/* dwarf_getscopes continues from an inlined subroutine into its
	 * abstract definition; the DIEs that physically contain the innermost
	 * scope (dwarf_getscopes_die, as eu-addr2line -i) are the inline chain. */
	if (ns > 0) {
		Dwarf_Die inner = scopes[0];
		free(scopes);
		scopes = NULL;
		ns = dwarf_getscopes_die(&inner, &scopes);
	}
	/* Innermost first: each inlined subroutine is a frame at the current
	 * line, and its call site is the line of the frame that contains it. */
	for (int i = 0; i < ns; i++) {
		int tag = dwarf_tag(&scopes[i]);
		if (tag == DW_TAG_subprogram)
			break;
		if (tag != DW_TAG_inlined_subroutine)
			continue;
		push(out, &n, inline_name(&scopes[i]), file, uline, true);
		call_site(&scopes[i], &file, &uline);
	}
	free(scopes);
	push(out, &n, NULL, file, uline, false);
	return n;
}

static uint64_t hash2(size_t mod, uint64_t ret)
{
	uint64_t h = (ret ^ (mod * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
	return h ^ (h >> 31);
}

static void grow(struct mt_srcloc *sl)
{
	struct hit *old = sl->hits;
	size_t oldcap = sl->cap;
	sl->cap *= 2;
	sl->hits = mt_xcalloc(sl->cap, sizeof *sl->hits);
	for (size_t i = 0; i < oldcap; i++) {
		if (!old[i].mod)
			continue;
		size_t k = hash2(old[i].mod, old[i].ret) & (sl->cap - 1);
		while (sl->hits[k].mod)
			k = (k + 1) & (sl->cap - 1);
		sl->hits[k] = old[i];
	}
	free(old);
}

size_t mt_srcloc_lookup(struct mt_srcloc *sl, const char *path, uint64_t ret,
                        const struct mt_srcframe **frames)
{
	size_t mod = module(sl, path) + 1;
	size_t k = hash2(mod, ret) & (sl->cap - 1);
	for (; sl->hits[k].mod; k = (k + 1) & (sl->cap - 1))
		if (sl->hits[k].mod == mod && sl->hits[k].ret == ret) {
			*frames = sl->hits[k].frames;
			return sl->hits[k].n;
		}
	struct hit h = { .mod = mod, .ret = ret };
	h.n = resolve(&sl->mods[mod - 1], ret, &h.frames);
	if ((sl->count + 1) * 2 > sl->cap) {
		grow(sl);
		k = hash2(mod, ret) & (sl->cap - 1);
		while (sl->hits[k].mod)
			k = (k + 1) & (sl->cap - 1);
	}
	sl->hits[k] = h;
	sl->count++;
	*frames = h.frames;
	return h.n;
}

/* ---- load bias from symbol names (DHAT files carry runtime addresses only) ---- */

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct sym *)a)->name, ((const struct sym *)b)->name);
}

static void read_syms(struct mod *md)
{
	md->syms_read = true;
	int n = md->m ? dwfl_module_getsymtab(md->m) : -1;
	for (int i = 1; i < n; i++) {
		GElf_Sym s;
		GElf_Addr addr;
		GElf_Word shndx;
		const char *name = dwfl_module_getsym_info(md->m, i, &s, &addr, &shndx, NULL, NULL);
		int type = GELF_ST_TYPE(s.st_info);
		if (!name || !*name || (type != STT_FUNC && type != STT_GNU_IFUNC) ||
		    shndx == SHN_UNDEF || addr < md->bias)
			continue;
		md->syms = mt_xrealloc(md->syms, (md->nsyms + 1) * sizeof *md->syms);
		struct sym *y = &md->syms[md->nsyms++];
		y->name = display_name(name);
		y->lo = addr - md->bias;
		y->hi = y->lo + (s.st_size ? s.st_size : 1);
	}
	if (md->nsyms)
		qsort(md->syms, md->nsyms, sizeof *md->syms, by_name);
}

struct vote {
	uint64_t bias;
	size_t n;
};

static void add_vote(struct vote **v, size_t *nv, uint64_t bias, size_t frame, size_t *last)
{
	for (size_t i = 0; i < *nv; i++)
		if ((*v)[i].bias == bias) {
			/* One vote per frame, however many symbols of that name agree. */
			if (last[i] != frame) {
				(*v)[i].n++;
				last[i] = frame;
			}
			return;
		}
	*v = mt_xrealloc(*v, (*nv + 1) * sizeof **v);
	(*v)[*nv] = (struct vote){ bias, 1 };
	last[*nv] = frame;
	(*nv)++;
}

bool mt_srcloc_guess_bias(struct mt_srcloc *sl, const char *path, size_t n,
                          const uint64_t *ips, const char *const *functions, uint64_t *bias)
{
	size_t mi = module(sl, path); /* may move sl->mods */
	struct mod *md = &sl->mods[mi];
	if (!md->m)
		return false;
	if (md->exec) {
		*bias = 0;
		return true;
	}
	if (!md->syms_read)
		read_syms(md);
	struct vote *v = NULL;
	size_t nv = 0, cap_last = 0;
	size_t *last = NULL;
	for (size_t f = 0; f < n; f++) {
		if (!functions[f] || strcmp(functions[f], "??") == 0 || ips[f] == 0)
			continue;
		struct sym key = { .name = (char *)functions[f] };
		struct sym *s = bsearch(&key, md->syms, md->nsyms, sizeof *md->syms, by_name);
		if (!s)
			continue;
		while (s > md->syms && strcmp(s[-1].name, functions[f]) == 0)
			s--;
		/* The call lies at ips[f] - 1 = bias + v with v inside the symbol;
		 * the bias is page-aligned, so v has the low 12 bits of ips[f] - 1. */
		uint64_t pc = ips[f] - 1;
		for (; s < md->syms + md->nsyms && strcmp(s->name, functions[f]) == 0; s++) {
			uint64_t v0 = s->lo + ((pc - s->lo) & 4095);
			for (uint64_t vv = v0; vv < s->hi && vv >= s->lo; vv += 4096) {
				if (nv + 1 > cap_last) {
					cap_last = cap_last ? cap_last * 2 : 16;
					last = mt_xrealloc(last, cap_last * sizeof *last);
				}
				add_vote(&v, &nv, pc - vv, f, last);
			}
		}
	}
	size_t best = SIZE_MAX;
	bool tie = false;
	for (size_t i = 0; i < nv; i++) {
		if (best == SIZE_MAX || v[i].n > v[best].n) {
			best = i;
			tie = false;
		} else if (v[i].n == v[best].n) {
			tie = true;
		}
	}
	bool ok = best != SIZE_MAX && !tie;
	if (ok)
		*bias = v[best].bias;
	free(v);
	free(last);
	return ok;
}
