/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pprof_out.c: `modalloc report --format pprof`: a report (or several
 * merged) as a gzip-compressed profile.proto (github.com/google/pprof,
 * proto/profile.proto), the format of a Go heap profile, for `go tool
 * pprof`, speedscope, Pyroscope, Parca and Grafana.
 *
 * Sample types as Go writes them: alloc_objects/count, alloc_space/bytes,
 * inuse_objects/count, inuse_space/bytes (in use = a site's live blocks:
 * live at exit, or at the snapshot), default_sample_type inuse_space,
 * period_type space/bytes.  One sample per call site; allocations that no
 * site accounts for (table overflow) form one "[unattributed]" sample, so
 * that each sample type sums to the report's totals.
 *
 * A sampled report (MOD_ALLOC_SAMPLE): the values are the library's
 * estimates, already scaled up, as runtime/pprof writes a Go heap profile
 * (it scales each sample itself and sets period = MemProfileRate):
 * period = config.sample_bytes, and readers of profile.proto (go tool pprof,
 * speedscope) show the values as given, never rescaling by the period (only
 * pprof's parser of the legacy text heap format rescales).  A comment says
 * "sampled every N; values are estimates", and no "[unattributed]" sample is
 * made: the estimates do not sum to the exact totals, and the gap is noise.
 *
 * Locations: one per (module path, offset) among the sites' frames, the
 * profiler's own frames left out (malloc and operator new stay, as in
 * collapsed output); an inlined frame added by `modalloc lines` becomes a
 * Line of its caller's location, innermost first, as profile.proto wants.
 * A location's address is the module's load bias plus the frame's offset
 * minus 1 (a return address less one lies inside the call instruction, so
 * a symbolizer finds the call's line, as srcloc.c does).  The bias is the
 * one of the first frame seen in that module (ip - offset): the real
 * addresses for one process; for a merged tree, every process's frames
 * placed as if in the first one's address space.  Frames with a function
 * name get a Line (function, file:line when `modalloc lines` found them);
 * "??" frames get none, so that pprof symbolizes them itself.
 *
 * Mappings: one per module path, with its GNU build id and, when the file
 * can be read, the bounds of the executable PT_LOAD segment that holds the
 * frames (start = bias + page-aligned vaddr, file_offset = page-aligned
 * p_offset, as /proc/PID/maps shows it): pprof finds the load bias again
 * from those and its own reading of the program headers.  Without the
 * file, the bounds are the frames' own, with file offset = vaddr.
 * Programs come first: readers take the first mapping for the binary.
 *
 * The encoding is written by hand: varints and length-delimited fields,
 * each message built in a buffer of its own and then copied into its
 * parent; zlib compresses the whole.
 */
#include <elf.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "model.h"
#include "pprof_out.h"
#include "strindex.h"
#include "util.h"

/* profile.proto's field numbers. */
enum {
	P_SAMPLE_TYPE = 1, P_SAMPLE = 2, P_MAPPING = 3, P_LOCATION = 4, P_FUNCTION = 5,
	P_STRING_TABLE = 6, P_DURATION_NANOS = 10, P_PERIOD_TYPE = 11, P_PERIOD = 12,
	P_COMMENT = 13, P_DEFAULT_SAMPLE_TYPE = 14,
	VT_TYPE = 1, VT_UNIT = 2,
	S_LOCATION_ID = 1, S_VALUE = 2,
	M_ID = 1, M_MEMORY_START = 2, M_MEMORY_LIMIT = 3, M_FILE_OFFSET = 4, M_FILENAME = 5,
	M_BUILD_ID = 6, M_HAS_FUNCTIONS = 7, M_HAS_FILENAMES = 8, M_HAS_LINE_NUMBERS = 9,
	M_HAS_INLINE_FRAMES = 10,
	L_ID = 1, L_MAPPING_ID = 2, L_ADDRESS = 3, L_LINE = 4,
	LN_FUNCTION_ID = 1, LN_LINE = 2,
	F_ID = 1, F_NAME = 2, F_SYSTEM_NAME = 3, F_FILENAME = 4,
};

enum { WT_VARINT = 0, WT_LEN = 2 };

#define PAGE 4096u

struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void put_raw(struct buf *b, const void *data, size_t len)
{
	if (b->n + len > b->cap) {
		b->cap = (b->n + len) * 2 + 64;
		b->p = mt_xrealloc(b->p, b->cap);
	}
	if (len)
		memcpy(b->p + b->n, data, len);
	b->n += len;
}

static void put_varint(struct buf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;
	do {
		tmp[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			tmp[n] |= 0x80;
		n++;
	} while (v);
	put_raw(b, tmp, n);
}

/* A varint field; proto3 leaves zeros out. */
static void put_u64(struct buf *b, unsigned field, uint64_t v)
{
	if (!v)
		return;
	put_varint(b, (uint64_t)field << 3 | WT_VARINT);
	put_varint(b, v);
}

static void put_bytes(struct buf *b, unsigned field, const void *data, size_t len)
{
	put_varint(b, (uint64_t)field << 3 | WT_LEN);
	put_varint(b, len);
	put_raw(b, data, len);
}

/* A nested message: copied into b, then emptied for the next one. */
static void put_msg(struct buf *b, unsigned field, struct buf *m)
{
	put_bytes(b, field, m->p, m->n);
	m->n = 0;
}

/* A packed repeated varint field (zeros included: they are values). */
static void put_packed(struct buf *b, unsigned field, const uint64_t *v, size_t n, struct buf *tmp)
{
	tmp->n = 0;
	for (size_t i = 0; i < n; i++)
		put_varint(tmp, v[i]);
	put_msg(b, field, tmp);
}

/* The string table: index 0 is "". */
struct strtab {
	struct mt_strindex *index;
	char **s;
	size_t n, cap;
};

static uint64_t str_id(struct strtab *t, const char *s)
{
	size_t i;
	if (!s)
		s = "";
	if (mt_strindex_get(t->index, s, &i))
		return i;
	if (t->n == t->cap)
		t->s = mt_xrealloc(t->s, (t->cap = t->cap * 2 + 64) * sizeof *t->s);
	t->s[t->n] = mt_xstrdup(s);
	mt_strindex_add(t->index, t->s[t->n], t->n);
	return t->n++;
}

struct mapping {
	const char *path;
	uint64_t bias;
	uint64_t lo, hi; /* frame addresses less the bias (offset - 1): min, max */
	bool all_named, any_file, any_inline;
};

struct location {
	size_t mapping;   /* index + 1; 0 for none */
	uint64_t address;
	uint64_t *fns;    /* function ids, innermost first */
	uint64_t *lines;
	size_t nlines;
};

struct function {
	uint64_t name, file;
};

struct writer {
	struct strtab str;
	struct mapping *maps;
	size_t nmaps;
	struct mt_strindex *map_index; /* module path -> maps index */
	struct location *locs;
	size_t nlocs;
	struct mt_strindex *loc_index; /* "mapping:offset" or a pseudo name -> locs index */
	struct function *fns;
	size_t nfns;
	struct mt_strindex *fn_index; /* "name\nfile" -> fns index */
	char **keys;                  /* the strings the indexes borrow */
	size_t nkeys;
};

static const char *keep_key(struct writer *w, char *key)
{
	w->keys = mt_xrealloc(w->keys, (w->nkeys + 1) * sizeof *w->keys);
	return w->keys[w->nkeys++] = key;
}

static uint64_t function_id(struct writer *w, const char *name, const char *file)
{
	char *key = mt_xasprintf("%s\n%s", name, file ? file : "");
	size_t i;
	if (mt_strindex_get(w->fn_index, key, &i)) {
		free(key);
		return i + 1;
	}
	w->fns = mt_xrealloc(w->fns, (w->nfns + 1) * sizeof *w->fns);
	w->fns[w->nfns] = (struct function){ str_id(&w->str, name), str_id(&w->str, file) };
	mt_strindex_add(w->fn_index, keep_key(w, key), w->nfns);
	return ++w->nfns;
}

static bool has_name(const struct mt_frame *f)
{
	return f->function && *f->function && strcmp(f->function, "??") != 0;
}

static size_t mapping_of(struct writer *w, const struct mt_frame *f, uint64_t off)
{
	size_t i;
	if (mt_strindex_get(w->map_index, f->module, &i))
		return i;
	uint64_t ip = 0;
	mt_parse_hex(f->ip, &ip);
	w->maps = mt_xrealloc(w->maps, (w->nmaps + 1) * sizeof *w->maps);
	w->maps[w->nmaps] = (struct mapping){ .path = f->module, .bias = ip >= off ? ip - off : 0,
	                                      .lo = UINT64_MAX, .all_named = true };
	mt_strindex_add(w->map_index, f->module, w->nmaps);
	return w->nmaps++;
}

/*
 * The location of frames[first..last] (inlined frames first, their caller
 * last, all at one address); its id.
 */
static uint64_t location_of(struct writer *w, const struct mt_frame *frames, size_t first,
                            size_t last)
{
	const struct mt_frame *f = &frames[last];
	uint64_t off = 0;
	mt_parse_hex(f->offset, &off);
	size_t m = mapping_of(w, f, off);
	char *key = mt_xasprintf("%zu:%llx", m, (unsigned long long)off);
	size_t i;
	if (mt_strindex_get(w->loc_index, key, &i)) {
		free(key);
		return i + 1;
	}
	struct mapping *mp = &w->maps[m];
	uint64_t rel = off ? off - 1 : 0;
	if (rel < mp->lo)
		mp->lo = rel;
	if (rel > mp->hi)
		mp->hi = rel;
	struct location l = { .mapping = m + 1, .address = mp->bias + rel };
	if (has_name(f)) {
		size_t n = last - first + 1;
		l.fns = mt_xcalloc(n, sizeof *l.fns);
		l.lines = mt_xcalloc(n, sizeof *l.lines);
		for (size_t k = first; k <= last; k++) {
			const struct mt_frame *g = &frames[k];
			const char *file = g->file && g->line ? g->file : NULL;
			l.fns[l.nlines] = function_id(w, has_name(g) ? g->function : "??", file);
			l.lines[l.nlines++] = file ? g->line : 0;
			mp->any_file |= file != NULL;
		}
		mp->any_inline |= n > 1;
	} else {
		mp->all_named = false;
	}
	w->locs = mt_xrealloc(w->locs, (w->nlocs + 1) * sizeof *w->locs);
	w->locs[w->nlocs] = l;
	mt_strindex_add(w->loc_index, keep_key(w, key), w->nlocs);
	return ++w->nlocs;
}

/* A location without a mapping that stands for a name ("[unattributed]"). */
static uint64_t pseudo_location(struct writer *w, const char *name)
{
	size_t i;
	char *key = mt_xasprintf("\n%s", name);
	if (mt_strindex_get(w->loc_index, key, &i)) {
		free(key);
		return i + 1;
	}
	struct location l = { .nlines = 1 };
	l.fns = mt_xcalloc(1, sizeof *l.fns);
	l.lines = mt_xcalloc(1, sizeof *l.lines);
	l.fns[0] = function_id(w, name, NULL);
	w->locs = mt_xrealloc(w->locs, (w->nlocs + 1) * sizeof *w->locs);
	w->locs[w->nlocs] = l;
	mt_strindex_add(w->loc_index, keep_key(w, key), w->nlocs);
	return ++w->nlocs;
}

/* The module's own figures: build id (hex) and the executable PT_LOAD segments. */
struct elfinfo {
	bool is_program; /* an executable, not a library (see read_elf) */
	char build_id[2 * 64 + 1];
	struct { uint64_t vaddr, off, filesz; } text[8];
	size_t ntext;
};

static bool read_at(int fd, void *dst, size_t len, uint64_t off)
{
	return pread(fd, dst, len, (off_t)off) == (ssize_t)len;
}

static void note_build_id(int fd, uint64_t off, uint64_t size, struct elfinfo *e)
{
	if (size > 1 << 16)
		return;
	uint8_t *p = mt_xmalloc(size ? size : 1);
	if (read_at(fd, p, size, off)) {
		for (uint64_t at = 0; at + 12 <= size && !e->build_id[0];) {
			uint32_t nh[3]; /* namesz, descsz, type: the same in ELF32 and ELF64 */
			memcpy(nh, p + at, sizeof nh);
			uint64_t name_at = at + 12, desc_at = name_at + ((nh[0] + 3u) & ~3u);
			uint64_t next = desc_at + ((nh[1] + 3u) & ~3u);
			if (next > size || next <= at)
				break;
			if (nh[2] == NT_GNU_BUILD_ID && nh[0] == 4 && memcmp(p + name_at, "GNU", 4) == 0 &&
			    nh[1] && nh[1] <= 64)
				for (uint32_t k = 0; k < nh[1]; k++)
					sprintf(e->build_id + 2 * k, "%02x", p[desc_at + k]);
			at = next;
		}
	}
	free(p);
}

/* Reads what it can of path's ELF headers; leaves e zeroed otherwise. */
static void read_elf(const char *path, struct elfinfo *e)
{
	memset(e, 0, sizeof *e);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	unsigned char ident[EI_NIDENT];
	if (read_at(fd, ident, sizeof ident, 0) && memcmp(ident, ELFMAG, SELFMAG) == 0) {
		bool is64 = ident[EI_CLASS] == ELFCLASS64;
		uint64_t phoff = 0, phnum = 0, phentsize = 0, etype = ET_NONE;
		if (is64) {
			Elf64_Ehdr h;
			if (read_at(fd, &h, sizeof h, 0))
				phoff = h.e_phoff, phnum = h.e_phnum, phentsize = h.e_phentsize, etype = h.e_type;
		} else if (ident[EI_CLASS] == ELFCLASS32) {
			Elf32_Ehdr h;
			if (read_at(fd, &h, sizeof h, 0))
				phoff = h.e_phoff, phnum = h.e_phnum, phentsize = h.e_phentsize, etype = h.e_type;
		}
		/* A program: fixed-address, or position-independent with an interpreter,
		 * but not a library that also runs (libc.so.6 has PT_INTERP). */
		bool interp = false;
		for (uint64_t i = 0; i < phnum && phnum < 4096; i++) {
			uint64_t type, flags, off, vaddr, filesz;
			if (is64) {
				Elf64_Phdr ph;
				if (phentsize < sizeof ph || !read_at(fd, &ph, sizeof ph, phoff + i * phentsize))
					break;
				type = ph.p_type, flags = ph.p_flags, off = ph.p_offset, vaddr = ph.p_vaddr,
				filesz = ph.p_filesz;
			} else {
				Elf32_Phdr ph;
				if (phentsize < sizeof ph || !read_at(fd, &ph, sizeof ph, phoff + i * phentsize))
					break;
				type = ph.p_type, flags = ph.p_flags, off = ph.p_offset, vaddr = ph.p_vaddr,
				filesz = ph.p_filesz;
			}
			if (type == PT_LOAD && (flags & PF_X) && filesz &&
			    e->ntext < sizeof e->text / sizeof e->text[0]) {
				e->text[e->ntext].vaddr = vaddr;
				e->text[e->ntext].off = off;
				e->text[e->ntext++].filesz = filesz;
			} else if (type == PT_INTERP) {
				interp = true;
			} else if (type == PT_NOTE && !e->build_id[0]) {
				note_build_id(fd, off, filesz, e);
			}
		}
		e->is_program = etype == ET_EXEC || (interp && !strstr(mt_basename(path), ".so"));
	}
	close(fd);
}

static void put_mapping(struct buf *out, struct buf *m, struct writer *w, size_t i, uint64_t id,
                        const struct elfinfo *ep)
{
	const struct mapping *mp = &w->maps[i];
	struct elfinfo e = *ep;
	uint64_t lo = mp->lo == UINT64_MAX ? 0 : mp->lo, hi = mp->lo == UINT64_MAX ? 0 : mp->hi;
	/* Default: the frames' own page range, the file offset taken equal to the vaddr. */
	uint64_t vstart = lo & ~(uint64_t)(PAGE - 1), vend = hi + 1, foff = vstart;
	for (size_t k = 0; k < e.ntext; k++) {
		uint64_t v = e.text[k].vaddr, end = v + e.text[k].filesz;
		if (lo >= v && hi < end) {
			vstart = v & ~(uint64_t)(PAGE - 1);
			vend = end;
			foff = e.text[k].off & ~(uint64_t)(PAGE - 1);
			break;
		}
	}
	put_u64(m, M_ID, id);
	put_u64(m, M_MEMORY_START, mp->bias + vstart);
	put_u64(m, M_MEMORY_LIMIT, mp->bias + vend);
	put_u64(m, M_FILE_OFFSET, foff);
	put_u64(m, M_FILENAME, str_id(&w->str, mp->path));
	put_u64(m, M_BUILD_ID, str_id(&w->str, e.build_id));
	put_u64(m, M_HAS_FUNCTIONS, mp->all_named);
	put_u64(m, M_HAS_FILENAMES, mp->all_named && mp->any_file);
	put_u64(m, M_HAS_LINE_NUMBERS, mp->all_named && mp->any_file);
	put_u64(m, M_HAS_INLINE_FRAMES, mp->all_named && mp->any_inline);
	put_msg(out, P_MAPPING, m);
}

static void put_value_type(struct buf *out, unsigned field, struct buf *m, struct writer *w,
                           const char *type, const char *unit)
{
	put_u64(m, VT_TYPE, str_id(&w->str, type));
	put_u64(m, VT_UNIT, str_id(&w->str, unit));
	put_msg(out, field, m);
}

static bool is_own_frame(const struct mt_frame *f)
{
	return strncmp(mt_basename(f->module), "libmodalloc", 11) == 0;
}

/* The gzip stream of in[0..n), written to out. */
static bool gzip_to(FILE *out, const uint8_t *in, size_t n)
{
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return false;
	uLong cap = deflateBound(&zs, (uLong)n);
	uint8_t *z = mt_xmalloc(cap);
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)n;
	zs.next_out = z;
	zs.avail_out = (uInt)cap;
	bool ok = deflate(&zs, Z_FINISH) == Z_STREAM_END;
	size_t len = cap - zs.avail_out;
	deflateEnd(&zs);
	ok = ok && fwrite(z, 1, len, out) == len;
	free(z);
	return ok;
}

bool mt_write_pprof(FILE *out, const struct mt_report *r)
{
	struct writer w = { .str.index = mt_strindex_new(), .map_index = mt_strindex_new(),
	                    .loc_index = mt_strindex_new(), .fn_index = mt_strindex_new() };
	str_id(&w.str, "");
	struct buf prof = { 0 }, m = { 0 }, sub = { 0 };
	static const char *const types[4][2] = {
		{ "alloc_objects", "count" }, { "alloc_space", "bytes" },
		{ "inuse_objects", "count" }, { "inuse_space", "bytes" },
	};
	for (size_t k = 0; k < 4; k++)
		put_value_type(&prof, P_SAMPLE_TYPE, &m, &w, types[k][0], types[k][1]);

	uint64_t sum[4] = { 0 };
	uint64_t *ids = NULL;
	for (size_t i = 0; i < r->nsites; i++) {
		const struct mt_site *s = &r->sites[i];
		uint64_t v[4] = { s->blocks, s->bytes, s->live_blocks, s->live_bytes };
		if (!v[0] && !v[1] && !v[2] && !v[3])
			continue;
		size_t depth = mt_site_depth(s), nids = 0;
		ids = mt_xrealloc(ids, (depth + 1) * sizeof *ids);
		for (size_t j = 0; j < depth; j++) {
			/* An inlined frame joins the next real frame, its caller at the same address. */
			size_t first = j;
			while (j + 1 < depth && s->frames[j].inlined)
				j++;
			if (!is_own_frame(&s->frames[j]))
				ids[nids++] = location_of(&w, s->frames, first, j);
		}
		if (!nids)
			ids[nids++] = pseudo_location(&w, "[no frames]");
		put_packed(&sub, S_LOCATION_ID, ids, nids, &m);
		put_packed(&sub, S_VALUE, v, 4, &m);
		put_msg(&prof, P_SAMPLE, &sub);
		for (size_t k = 0; k < 4; k++)
			sum[k] += v[k];
	}
	/* What no site accounts for, so that every sample type sums to the totals. */
	const struct mt_totals *t = &r->totals;
	uint64_t tot[4] = { t->blocks, t->bytes, t->live_blocks, t->live_bytes }, rest[4];
	bool any_rest = false;
	for (size_t k = 0; k < 4; k++) {
		rest[k] = tot[k] > sum[k] ? tot[k] - sum[k] : 0;
		any_rest |= rest[k] != 0;
	}
	/* Not for a sampled report: its sites' estimates do not add up to the exact
	 * totals, and the gap is mostly sampling noise. */
	if (any_rest && !mt_report_sampled(r)) {
		uint64_t id = pseudo_location(&w, "[unattributed]");
		put_packed(&sub, S_LOCATION_ID, &id, 1, &m);
		put_packed(&sub, S_VALUE, rest, 4, &m);
		put_msg(&prof, P_SAMPLE, &sub);
	}
	free(ids);

	/* Programs first: readers take the first mapping for the main binary ("File:"). */
	struct elfinfo *elf = mt_xcalloc(w.nmaps ? w.nmaps : 1, sizeof *elf);
	uint64_t *map_id = mt_xcalloc(w.nmaps + 1, sizeof *map_id), next_id = 1;
	for (size_t i = 0; i < w.nmaps; i++)
		read_elf(w.maps[i].path, &elf[i]);
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < w.nmaps; i++)
			if (elf[i].is_program == (pass == 0))
				map_id[i + 1] = next_id++;
	for (uint64_t id = 1; id < next_id; id++)
		for (size_t i = 0; i < w.nmaps; i++)
			if (map_id[i + 1] == id)
				put_mapping(&prof, &m, &w, i, id, &elf[i]);
	for (size_t i = 0; i < w.nlocs; i++) {
		const struct location *l = &w.locs[i];
		put_u64(&m, L_ID, i + 1);
		put_u64(&m, L_MAPPING_ID, map_id[l->mapping]);
		put_u64(&m, L_ADDRESS, l->address);
		for (size_t k = 0; k < l->nlines; k++) {
			put_u64(&sub, LN_FUNCTION_ID, l->fns[k]);
			put_u64(&sub, LN_LINE, l->lines[k]);
			put_msg(&m, L_LINE, &sub);
		}
		put_msg(&prof, P_LOCATION, &m);
	}
	for (size_t i = 0; i < w.nfns; i++) {
		put_u64(&m, F_ID, i + 1);
		put_u64(&m, F_NAME, w.fns[i].name);
		put_u64(&m, F_SYSTEM_NAME, w.fns[i].name);
		put_u64(&m, F_FILENAME, w.fns[i].file);
		put_msg(&prof, P_FUNCTION, &m);
	}
	if (r->nfiles <= 1)
		put_u64(&prof, P_DURATION_NANOS, r->wall_ns);
	put_value_type(&prof, P_PERIOD_TYPE, &m, &w, "space", "bytes");
	/* As a Go heap profile: the sampling period (1: every allocation); the values
	 * are already scaled, and readers of profile.proto do not rescale them. */
	put_u64(&prof, P_PERIOD, mt_report_sampled(r) ? r->cfg_sample_bytes : 1);
	char *c1 = r->nfiles > 1 ? mt_xasprintf("modalloc: %zu reports merged", r->nfiles)
	                         : mt_xasprintf("modalloc: pid %llu: %s", (unsigned long long)r->pid,
	                                        r->cmd ? r->cmd : "");
	put_u64(&prof, P_COMMENT, str_id(&w.str, c1));
	put_u64(&prof, P_COMMENT, str_id(&w.str, r->at_exit ? "inuse: live at exit"
	                                                     : "inuse: live at the snapshot"));
	free(c1);
	if (mt_report_sampled(r)) {
		char *rates = r->nrates == 1 ? mt_xasprintf("%llu bytes", (unsigned long long)r->cfg_sample_bytes)
		                             : mt_rates_text(r);
		char *c3 = mt_xasprintf("modalloc: sampled every %s; values are estimates", rates);
		put_u64(&prof, P_COMMENT, str_id(&w.str, c3));
		free(c3);
		free(rates);
	}
	put_u64(&prof, P_DEFAULT_SAMPLE_TYPE, str_id(&w.str, "inuse_space"));
	/* Last, once every string is in: the table. */
	for (size_t i = 0; i < w.str.n; i++)
		put_bytes(&prof, P_STRING_TABLE, w.str.s[i], strlen(w.str.s[i]));

	bool ok = gzip_to(out, prof.p, prof.n);

	free(prof.p), free(m.p), free(sub.p), free(elf), free(map_id);
	for (size_t i = 0; i < w.str.n; i++)
		free(w.str.s[i]);
	free(w.str.s);
	for (size_t i = 0; i < w.nlocs; i++)
		free(w.locs[i].fns), free(w.locs[i].lines);
	free(w.locs), free(w.maps), free(w.fns);
	for (size_t i = 0; i < w.nkeys; i++)
		free(w.keys[i]);
	free(w.keys);
	mt_strindex_free(w.str.index), mt_strindex_free(w.map_index);
	mt_strindex_free(w.loc_index), mt_strindex_free(w.fn_index);
	return ok;
}
