/* SPDX-License-Identifier: Apache-2.0 */
/* srcloc.c: file:line and inlined calls of return addresses, from DWARF via elfutils libdwfl. */
#include "srcloc.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#ifdef MT_HAVE_DEBUGINFOD
#include <elfutils/debuginfod.h>
#endif

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
	char *function;   /* from the symbol tables, or NULL */
	bool named;       /* function looked up */
};

/* A build id debuginfod was asked about: its debug file in the cache, or NULL (failed). */
struct asked {
	char *hex;
	char *path;
};

struct mt_srcloc {
	struct mod *mods;
	size_t nmods;
	struct hit *hits; /* (module, address) -> frames, open addressing */
	size_t cap, count;
	struct asked *asked;
	size_t nasked;
	bool debuginfod_off; /* a server failed (not a plain "not found"): no more queries */
	bool said_unavailable;
#ifdef MT_HAVE_DEBUGINFOD
	debuginfod_client *dc;
#endif
};

static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
                          Dwarf_Addr base, const char *file_name, const char *debuglink_file,
                          GElf_Word debuglink_crc, char **debuginfo_file_name);

static const Dwfl_Callbacks offline_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = find_debuginfo, /* debuglink, .build-id, then debuginfod */
	.section_address = dwfl_offline_section_address,
};

/* ---- debuginfod --------------------------------------------------------- */

static bool debuginfod_wanted(void)
{
	const char *u = getenv("DEBUGINFOD_URLS");
	return u && u[strspn(u, " \t\n")] != '\0';
}

/*
 * The build id a .gnu_debugaltlink section of the ELF file `path` names,
 * when that section names `altname` (libdwfl asks for the dwz file shared
 * by several debug files with the debug file as file_name and the
 * section's name as debuglink_file).  Its length, 0 when none.
 */
static size_t altlink_build_id(const char *path, const char *altname, unsigned char *id,
                               size_t cap)
{
	if (!path || !altname)
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	size_t len = 0;
	Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	size_t shstrndx;
	if (e && elf_getshdrstrndx(e, &shstrndx) == 0) {
		for (Elf_Scn *scn = NULL; (scn = elf_nextscn(e, scn)) != NULL;) {
			GElf_Shdr sh;
			const char *name;
			Elf_Data *d;
			if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS ||
			    !(name = elf_strptr(e, shstrndx, sh.sh_name)) ||
			    strcmp(name, ".gnu_debugaltlink") != 0 || !(d = elf_getdata(scn, NULL)) ||
			    !d->d_buf)
				continue;
			const char *b = d->d_buf;
			const char *nul = memchr(b, '\0', d->d_size);
			if (!nul || strcmp(b, altname) != 0)
				break;
			size_t n = d->d_size - (size_t)(nul + 1 - b);
			if (n > 0 && n <= cap) {
				memcpy(id, nul + 1, n);
				len = n;
			}
			break;
		}
	}
	elf_end(e);
	close(fd);
	return len;
}

/*
 * The debug file of build id `id` from the servers of DEBUGINFOD_URLS, as
 * libdebuginfod finds it (its cache first: DEBUGINFOD_CACHE_PATH, else
 * $XDG_CACHE_HOME/debuginfod_client; DEBUGINFOD_TIMEOUT bounds each
 * transfer).  Each build id is asked once; a failure is one line on stderr
 * per build id, and a server that fails otherwise than with "not found"
 * (timeout, refused) stops the queries for the rest of the run.
 */
static int ask_debuginfod(struct mt_srcloc *sl, const char *modname, const unsigned char *id,
                          size_t len, char **debuginfo_file_name)
{
	if (!debuginfod_wanted() || len == 0)
		return -1;
	char hex[2 * 64 + 1];
	if (len > 64)
		return -1;
	for (size_t i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", id[i]);
	for (size_t i = 0; i < sl->nasked; i++) {
		if (strcmp(sl->asked[i].hex, hex) != 0)
			continue;
		int fd = sl->asked[i].path ? open(sl->asked[i].path, O_RDONLY | O_CLOEXEC) : -1;
		if (fd >= 0)
			*debuginfo_file_name = mt_xstrdup(sl->asked[i].path);
		return fd;
	}
	if (sl->debuginfod_off)
		return -1;
#ifndef MT_HAVE_DEBUGINFOD
	(void)modname;
	if (!sl->said_unavailable)
		mt_err("DEBUGINFOD_URLS is set, but this modalloc was built without libdebuginfod "
		       "(Debian: libdebuginfod-dev): debug files are looked up locally only");
	sl->said_unavailable = true;
	return -1;
#else
	if (!sl->dc && !(sl->dc = debuginfod_begin())) {
		mt_err("debuginfod: cannot start a client: %s; debug files are looked up locally only",
		       strerror(errno ? errno : ENOMEM));
		sl->debuginfod_off = true;
		return -1;
	}
	char *path = NULL;
	int fd = debuginfod_find_debuginfo(sl->dc, id, (int)len, &path);
	sl->asked = mt_xrealloc(sl->asked, (sl->nasked + 1) * sizeof *sl->asked);
	sl->asked[sl->nasked].hex = mt_xstrdup(hex);
	sl->asked[sl->nasked++].path = fd >= 0 && path ? mt_xstrdup(path) : NULL;
	if (fd >= 0) {
		*debuginfo_file_name = path;
		return fd;
	}
	free(path);
	if (fd == -ENOENT) {
		mt_err("debuginfod: no debug file for %s (build id %s)", modname, hex);
	} else if (fd == -ETIME || fd == -ETIMEDOUT) {
		const char *t = getenv("DEBUGINFOD_TIMEOUT");
		mt_err("debuginfod: %s (build id %s): no answer within DEBUGINFOD_TIMEOUT (%s s); "
		       "not asking debuginfod for other modules", modname, hex, t && *t ? t : "90");
		sl->debuginfod_off = true;
	} else {
		mt_err("debuginfod: %s (build id %s): %s; not asking debuginfod for other modules",
		       modname, hex, strerror(-fd));
		sl->debuginfod_off = true;
	}
	return -1;
#endif
}

/*
 * libdwfl's standard search (the file, .gnu_debuglink, /usr/lib/debug and
 * its .build-id tree), then debuginfod.  libdwfl asks debuginfod by itself
 * when it finds libdebuginfod at run time, silently and again for every
 * module: DEBUGINFOD_URLS is hidden from it during its search.
 */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
                          Dwarf_Addr base, const char *file_name, const char *debuglink_file,
                          GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	char *urls = getenv("DEBUGINFOD_URLS");
	urls = urls ? mt_xstrdup(urls) : NULL;
	if (urls)
		unsetenv("DEBUGINFOD_URLS");
	int fd = dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name,
	                                      debuglink_file, debuglink_crc, debuginfo_file_name);
	if (urls) {
		setenv("DEBUGINFOD_URLS", urls, 1);
		free(urls);
	}
	struct mt_srcloc *sl = *userdata;
	if (fd >= 0 || !sl)
		return fd;
	unsigned char alt[64];
	size_t altlen = altlink_build_id(file_name, debuglink_file, alt, sizeof alt);
	if (altlen)
		return ask_debuginfod(sl, debuglink_file, alt, altlen, debuginfo_file_name);
	const unsigned char *id;
	GElf_Addr vaddr;
	int len = dwfl_module_build_id(mod, &id, &vaddr);
	return len > 0 ? ask_debuginfod(sl, modname, id, (size_t)len, debuginfo_file_name) : -1;
}

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
		if (sl->hits[i].mod) {
			free_frames(sl->hits[i].frames, sl->hits[i].n);
			free(sl->hits[i].function);
		}
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
	for (size_t i = 0; i < sl->nasked; i++) {
		free(sl->asked[i].hex);
		free(sl->asked[i].path);
	}
	free(sl->asked);
#ifdef MT_HAVE_DEBUGINFOD
	if (sl->dc)
		debuginfod_end(sl->dc);
#endif
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
			void **ud;
			if (md->m && dwfl_module_info(md->m, &ud, NULL, NULL, NULL, NULL, NULL, NULL))
				*ud = sl; /* for find_debuginfo */
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

/*
 * The function symbol holding ret - 1: libdwfl reads the module's .symtab,
 * else a debug file's, else .dynsym together with the MiniDebugInfo
 * (.gnu_debugdata, an xz-compressed ELF with a .symtab) as Fedora ships it.
 */
static char *symbol_name(struct mod *md, uint64_t ret)
{
	if (!md->m || ret == 0)
		return NULL;
	GElf_Off off;
	GElf_Sym sym;
	const char *name = dwfl_module_addrinfo(md->m, ret - 1 + md->bias, &off, &sym, NULL, NULL,
	                                        NULL);
	int type = name ? GELF_ST_TYPE(sym.st_info) : STT_NOTYPE;
	if (!name || !*name || (type != STT_FUNC && type != STT_GNU_IFUNC) ||
	    (sym.st_size && off >= sym.st_size))
		return NULL;
	return display_name(name);
}

static struct hit *lookup_hit(struct mt_srcloc *sl, const char *path, uint64_t ret)
{
	size_t mod = module(sl, path) + 1;
	size_t k = hash2(mod, ret) & (sl->cap - 1);
	for (; sl->hits[k].mod; k = (k + 1) & (sl->cap - 1))
		if (sl->hits[k].mod == mod && sl->hits[k].ret == ret)
			return &sl->hits[k];
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
	return &sl->hits[k];
}

size_t mt_srcloc_lookup(struct mt_srcloc *sl, const char *path, uint64_t ret,
                        const struct mt_srcframe **frames)
{
	struct hit *h = lookup_hit(sl, path, ret);
	*frames = h->frames;
	return h->n;
}

const char *mt_srcloc_function(struct mt_srcloc *sl, const char *path, uint64_t ret)
{
	struct hit *h = lookup_hit(sl, path, ret);
	if (!h->named) {
		h->function = symbol_name(&sl->mods[h->mod - 1], ret);
		h->named = true;
	}
	return h->function;
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
