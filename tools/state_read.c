/* SPDX-License-Identifier: Apache-2.0 */
/*
 * state_read.c: reads a process's state file (state.h; the format is
 * include/modalloc_state.h).  The file is mapped read-only and never
 * trusted: every size, offset and count is checked against the file before
 * it is used, so a truncated or corrupted file gives one error, never a
 * crash (tests/fuzz/fuzz_state.c).
 */
#include "state.h"

#include <dirent.h>
#include <elf.h>
#include <link.h> /* ElfW */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "model.h"
#include "modalloc_state.h"
#include "util.h"
#ifdef MT_HAVE_SRCLOC
#include "srcloc.h"
#endif

#ifndef MODALLOC_VERSION
#define MODALLOC_VERSION "unknown"
#endif

/* The candidate directories, as the library chooses (src/state.c). */
static size_t state_dirs(char dirs[2][4096])
{
	const char *d = getenv("MOD_ALLOC_STATE_DIR");
	if (d && *d) {
		snprintf(dirs[0], 4096, "%s", d);
		return 1;
	}
	size_t n = 0;
	const char *x = getenv("XDG_RUNTIME_DIR");
	if (x && x[0] == '/')
		snprintf(dirs[n++], 4096, "%s/modalloc", x);
	snprintf(dirs[n++], 4096, "/dev/shm/modalloc-%u", (unsigned)getuid());
	return n;
}

int mt_state_dir(char *dir, size_t cap)
{
	char dirs[2][4096];
	size_t n = state_dirs(dirs);
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (lstat(dirs[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			if ((size_t)snprintf(dir, cap, "%s", dirs[i]) >= cap)
				return -ENAMETOOLONG;
			return 0;
		}
	}
	return -ENOENT;
}

/* "modalloc-PID-STARTNS.state" */
static bool parse_name(const char *name, pid_t *pid, uint64_t *start_ns)
{
	uint64_t p, s;
	const char *e;
	if (strncmp(name, "modalloc-", 9) != 0 || mt_parse_u64_prefix(name + 9, &p, &e) != 0 || *e != '-' ||
	    mt_parse_u64_prefix(e + 1, &s, &e) != 0 || strcmp(e, ".state") != 0 || p == 0 || p > INT32_MAX)
		return false;
	*pid = (pid_t)p;
	*start_ns = s;
	return true;
}

/* /proc/PID/stat's starttime, 0 when the process is gone. */
static uint64_t proc_start_ticks(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	return ma_state_parse_start_ticks(buf);
}

bool mt_state_running(pid_t pid, uint64_t start_ticks)
{
	uint64_t t = proc_start_ticks(pid);
	return t != 0 && (start_ticks == 0 || t == start_ticks);
}

/* The header's start_ticks, read plainly (0 if unreadable). */
static uint64_t file_start_ticks(const char *path)
{
	struct ma_state_hdr h;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = pread(fd, &h, offsetof(struct ma_state_hdr, cwd), 0);
	close(fd);
	if (n != (ssize_t)offsetof(struct ma_state_hdr, cwd) || memcmp(h.magic, MA_STATE_MAGIC, 16) != 0)
		return 0;
	return h.start_ticks;
}

static int scan(bool live, pid_t only, struct mt_state_entry **out)
{
	char dirs[2][4096];
	size_t nd = state_dirs(dirs), n = 0, cap = 0;
	struct mt_state_entry *e = NULL;
	for (size_t i = 0; i < nd; i++) {
		DIR *d = opendir(dirs[i]);
		if (!d)
			continue;
		struct dirent *de;
		while ((de = readdir(d))) {
			pid_t pid;
			uint64_t start;
			if (!parse_name(de->d_name, &pid, &start) || (only && pid != only))
				continue;
			char *path = mt_xasprintf("%s/%s", dirs[i], de->d_name);
			uint64_t ticks = file_start_ticks(path);
			bool running = mt_state_running(pid, ticks);
			if (running && !live && !only) {
				free(path);
				continue;
			}
			if (n == cap) {
				cap = cap ? cap * 2 : 8;
				e = mt_xrealloc(e, cap * sizeof *e);
			}
			e[n++] = (struct mt_state_entry){ path, pid, start, ticks, running };
		}
		closedir(d);
	}
	*out = e;
	return (int)n;
}

int mt_state_list(bool live, struct mt_state_entry **out)
{
	return scan(live, 0, out);
}

void mt_state_list_free(struct mt_state_entry *e, size_t n)
{
	for (size_t i = 0; e && i < n; i++)
		free(e[i].path);
	free(e);
}

int mt_state_find(pid_t pid, char *path, size_t cap)
{
	if (pid <= 0)
		return -EINVAL;
	struct mt_state_entry *e;
	int n = scan(true, pid, &e);
	if (n <= 0) {
		mt_state_list_free(e, 0);
		return -ENOENT;
	}
	size_t best = 0;
	for (int i = 1; i < n; i++)
		if (e[i].start_ns > e[best].start_ns)
			best = (size_t)i;
	int r = (size_t)snprintf(path, cap, "%s", e[best].path) >= cap ? -ENAMETOOLONG : 0;
	mt_state_list_free(e, (size_t)n);
	return r;
}

/* ---- reading one file ---- */

struct rd {
	const unsigned char *p;
	size_t size;
	char *err;
	size_t cap;
	const char *path;
};

__attribute__((format(printf, 2, 3))) static int bad(struct rd *r, const char *fmt, ...)
{
	char why[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	snprintf(r->err, r->cap, "%s: %s", r->path, why);
	return -1;
}

/* [off, off + len) inside the file, without overflow. */
static bool inside(const struct rd *r, uint64_t off, uint64_t len)
{
	return off <= r->size && len <= r->size - off;
}

static uint64_t u64_at(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

static bool str_ok(const char *s)
{
	return memchr(s, '\0', MA_STATE_STR) != NULL;
}

static bool field_ok(uint64_t off, uint64_t len, uint64_t within)
{
	return off % 8 == 0 && off <= within && len <= within - off;
}

/* Everything checked here; afterwards fill() may use the header's numbers. */
static int validate(struct rd *r, const struct ma_state_hdr *h)
{
	if (r->size < sizeof *h)
		return bad(r, "not a modalloc state file (%zu bytes: too short for its header)", r->size);
	if (memcmp(h->magic, MA_STATE_MAGIC, sizeof h->magic) != 0)
		return bad(r, "not a modalloc state file (bad magic)");
	if (h->endian != MA_STATE_ENDIAN || h->word_bytes != sizeof(void *))
		return bad(r, "state file of another byte order or word size");
	if (h->version != MA_STATE_VERSION)
		return bad(r, "state file version %u is not supported (this modalloc reads %u)", h->version,
		           MA_STATE_VERSION);
	if (h->hdr_bytes != MA_STATE_HDR_BYTES || h->root_off < MA_STATE_HDR_BYTES ||
	    h->arena_off < h->root_off || h->used < h->arena_off)
		return bad(r, "corrupt state file (bad header sizes)");
	if (!inside(r, h->root_off, MA_STATE_ALIGN) || !inside(r, 0, h->used))
		return bad(r, "truncated state file (%zu bytes, %llu in use)", r->size, (unsigned long long)h->used);
	if (h->nchunks > MA_STATE_MAX_CHUNKS)
		return bad(r, "corrupt state file (%u pieces)", h->nchunks);
	if (!str_ok(h->cwd) || !str_ok(h->cmd) || !str_ok(h->out) || !str_ok(h->dhat))
		return bad(r, "corrupt state file (unterminated string)");
	const struct ma_state_layout *l = &h->layout;
	uint64_t tb = l->thread_bytes;
	if (tb == 0 || tb > 65536 || l->t_ncalls != MT_NCALLS || !field_ok(l->t_blocks, 8, tb) ||
	    !field_ok(l->t_bytes, 8, tb) || !field_ok(l->t_frees, 8, tb) || !field_ok(l->t_freed_bytes, 8, tb) ||
	    !field_ok(l->t_calls, 8 * MT_NCALLS, tb) || !field_ok(l->t_inherited_frees, 8, tb) ||
	    !field_ok(l->t_inherited_freed_bytes, 8, tb) || !field_ok(l->t_foreign_frees, 8, tb) ||
	    !field_ok(l->t_failed, 8, tb) || l->t_in_use > tb - 4 || l->t_in_use % 4 ||
	    l->root_bytes > MA_STATE_ALIGN || !field_ok(l->r_peak_bytes, 8, MA_STATE_ALIGN) ||
	    !field_ok(l->r_peak_blocks, 8, MA_STATE_ALIGN))
		return bad(r, "corrupt state file (bad record layout)");
	for (uint32_t i = 0; i < h->nchunks; i++) {
		const struct ma_state_chunk *c = &h->chunks[i];
		if (c->off < h->arena_off || c->bytes > h->used || c->off > h->used - c->bytes)
			return bad(r, "corrupt state file (piece %u lies outside the file)", i);
	}
	return 0;
}

static void fill(const struct ma_state_hdr *h, const unsigned char *file, bool live, time_t mtime,
                 struct mt_report *out)
{
	const struct ma_state_layout *l = &h->layout;
	struct mt_totals *t = &out->totals;
	for (uint32_t i = 0; i < h->nchunks; i++) {
		const struct ma_state_chunk *c = &h->chunks[i];
		if (c->kind != MA_STATE_KIND_THREADS)
			continue;
		for (uint64_t k = 0; k + l->thread_bytes <= c->bytes; k += l->thread_bytes) {
			const unsigned char *rec = file + c->off + k;
			t->blocks += u64_at(rec + l->t_blocks);
			t->bytes += u64_at(rec + l->t_bytes);
			t->frees += u64_at(rec + l->t_frees);
			t->freed_bytes += u64_at(rec + l->t_freed_bytes);
			t->failed += u64_at(rec + l->t_failed);
			out->inherited_frees += u64_at(rec + l->t_inherited_frees);
			out->inherited_freed_bytes += u64_at(rec + l->t_inherited_freed_bytes);
			out->foreign_frees += u64_at(rec + l->t_foreign_frees);
			for (size_t j = 0; j < MT_NCALLS; j++)
				out->calls[j] += u64_at(rec + l->t_calls + 8 * j);
			uint32_t in_use;
			memcpy(&in_use, rec + l->t_in_use, sizeof in_use);
			out->threads += in_use ? 1 : 0;
		}
	}
	/* As the library's snapshot (counters.c): live from the totals, the peak
	 * from the root, never below live. */
	t->live_bytes = t->bytes >= t->freed_bytes ? t->bytes - t->freed_bytes : 0;
	t->live_blocks = t->blocks >= t->frees ? t->blocks - t->frees : 0;
	if (h->root_addr) {
		t->peak_bytes = u64_at(file + h->root_off + l->r_peak_bytes);
		t->peak_blocks = u64_at(file + h->root_off + l->r_peak_blocks);
	}
	if (t->live_bytes > t->peak_bytes || (t->live_bytes == t->peak_bytes && t->peak_bytes == 0)) {
		t->peak_bytes = t->live_bytes;
		t->peak_blocks = t->live_blocks;
	}
	/* Its wall time: until now (live), or until the file last changed. */
	uint64_t end = live ? (uint64_t)time(NULL) * 1000000000ull : (uint64_t)mtime * 1000000000ull;
	out->wall_ns = end > h->start_ns ? end - h->start_ns : 0;
	out->pid = h->pid;
	out->cmd = mt_xstrdup(h->cmd);
	out->tool = mt_xstrdup("modalloc " MODALLOC_VERSION);
	out->at_exit = !live;
	out->live = live;
	out->recovered = !live;
	if (h->cfg_known) { /* the report's config, as the library recorded it */
		out->has_config = true;
		out->cfg_backtraces = h->cfg_backtraces != 0;
		out->cfg_buckets = h->cfg_buckets;
		out->cfg_depth = h->cfg_depth;
		out->cfg_header_bytes = h->cfg_header_bytes;
		out->cfg_peak_slack_bytes = h->cfg_peak_slack_bytes;
		out->cfg_sample_bytes = h->sample_bytes;
		out->cfg_sample_seed = h->sample_bytes ? h->sample_seed : 0;
		mt_report_add_rate(out, out->cfg_sample_bytes);
	}
}

/* ---- call sites (Tier 2): rebuilt as the library's report sums them ---- */

/* One site's sums (as the library's struct ma_site_total). */
struct site_sum {
	uint64_t blocks, bytes, frees, max_bytes, max_blocks, birth_sum, death_sum;
	uint64_t live_bytes, live_blocks, at_peak_bytes, at_peak_blocks; /* signed values, summed modulo 2^64 */
	uint64_t samples; /* sampled blocks behind the estimates (MOD_ALLOC_SAMPLE) */
	uint64_t hist[64];
	uint64_t frames_off; /* file offset of the frames, when frames_ok */
	uint32_t nframes;
	bool frames_ok, truncated, ended_early, seen;
};

/* The piece holding [off, off + len) (a piece of one of the kinds), or false. */
static bool in_piece(const struct ma_state_hdr *h, uint64_t kind, uint64_t off, uint64_t len)
{
	for (uint32_t i = 0; i < h->nchunks; i++) {
		const struct ma_state_chunk *c = &h->chunks[i];
		if (c->kind == kind && off >= c->off && len <= c->bytes && off - c->off <= c->bytes - len)
			return true;
	}
	return false;
}

/* A process address to a file offset inside a piece of that kind: false if it points elsewhere. */
static bool translate(const struct ma_state_hdr *h, uint64_t addr, uint64_t kind, uint64_t len, uint64_t *off)
{
	if (addr < h->base)
		return false;
	*off = addr - h->base;
	return in_piece(h, kind, *off, len);
}

static bool sites_layout_ok(const struct ma_state_sites *s)
{
	uint64_t sb = s->site_bytes, pb = s->s_shared > s->s_own ? s->s_shared - s->s_own : 0;
	if (sb == 0 || sb > 65536 || s->chunk_sites == 0 || s->chunk_sites > 65536 || s->dir_entries == 0 ||
	    s->dir_entries > (1u << 20) || s->max_frames == 0 || s->max_frames > 4096 || s->nhist == 0 ||
	    s->nhist > 64 || s->t2_ncache == 0 || s->t2_ncache > 4096 || s->delta_bytes == 0 ||
	    s->delta_bytes > 65536)
		return false;
	/* A part's fields inside the part (the shorter of own..shared and shared..end). */
	uint64_t part = pb < sb - s->s_shared ? pb : sb - s->s_shared;
	if (s->s_shared >= sb || s->s_own >= sb || part == 0)
		return false;
	uint64_t pf[] = { s->p_blocks, s->p_bytes, s->p_frees, s->p_freed_bytes, s->p_u, s->p_birth_sum,
	                  s->p_death_sum, s->p_max_bytes, s->p_max_blocks, s->p_g_bytes, s->p_g_blocks };
	for (size_t i = 0; i < sizeof pf / sizeof *pf; i++)
		if (!field_ok(pf[i], 8, part))
			return false;
	if (s->p_hist % 4 || s->p_hist > part || 4 * s->nhist > part - s->p_hist)
		return false;
	if (!field_ok(s->s_frames, 8, sb) || s->s_nframes % 4 || s->s_nframes > sb - 4 || s->s_truncated >= sb ||
	    s->s_ended_early % 4 || s->s_ended_early > sb - 4)
		return false;
	uint64_t db = s->delta_bytes;
	uint64_t df[] = { s->d_blocks, s->d_bytes, s->d_frees, s->d_freed_bytes, s->d_birth_sum, s->d_death_sum };
	for (size_t i = 0; i < sizeof df / sizeof *df; i++)
		if (!field_ok(df[i], 8, db))
			return false;
	if (s->d_site % 4 || s->d_site > db - 4 || s->d_events % 4 || s->d_events > db - 4 || s->d_hist % 4 ||
	    s->d_hist > db || 4 * s->nhist > db - s->d_hist)
		return false;
	/* Samples: 0 = not recorded (an older library), else inside the part and the delta. */
	if ((s->p_samples && !field_ok(s->p_samples, 8, part)) || (s->d_samples && !field_ok(s->d_samples, 8, db)))
		return false;
	return field_ok(s->r_peak_serial, 8, MA_STATE_ALIGN);
}

static uint32_t u32_at(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

static void add_part(struct site_sum *o, const struct ma_state_sites *l, const unsigned char *p, uint64_t serial)
{
	uint64_t b = u64_at(p + l->p_blocks), by = u64_at(p + l->p_bytes), f = u64_at(p + l->p_frees),
	         fb = u64_at(p + l->p_freed_bytes);
	uint64_t lb = by - fb, lk = b - f;
	bool touched = u64_at(p + l->p_u) == serial;
	o->blocks += b;
	o->bytes += by;
	o->frees += f;
	o->live_bytes += lb;
	o->live_blocks += lk;
	o->at_peak_bytes += touched ? u64_at(p + l->p_g_bytes) : lb;
	o->at_peak_blocks += touched ? u64_at(p + l->p_g_blocks) : lk;
	uint64_t mb = u64_at(p + l->p_max_bytes);
	if (mb > o->max_bytes) {
		o->max_bytes = mb;
		o->max_blocks = u64_at(p + l->p_max_blocks);
	}
	o->birth_sum += u64_at(p + l->p_birth_sum);
	o->death_sum += u64_at(p + l->p_death_sum);
	if (l->p_samples)
		o->samples += u64_at(p + l->p_samples);
	for (uint64_t k = 0; k < l->nhist; k++)
		o->hist[k] += u32_at(p + l->p_hist + 4 * k);
}

static uint64_t clamp0(uint64_t v)
{
	return (int64_t)v > 0 ? v : 0;
}

/* The module holding return address ip: the latest log record with lo < ip <= hi. */
static const struct ma_state_module *module_of(const struct ma_state_hdr *h, const unsigned char *file,
                                               uint64_t ip)
{
	for (uint32_t i = h->nchunks; i-- > 0;) {
		const struct ma_state_chunk *c = &h->chunks[i];
		if (c->kind != MA_STATE_KIND_MODULES)
			continue;
		for (uint64_t k = 0; k + sizeof(struct ma_state_module) <= c->bytes; k += sizeof(struct ma_state_module)) {
			const struct ma_state_module *m = (const struct ma_state_module *)(file + c->off + k);
			if (m->hi == 0)
				break;
			if (ip - 1 >= m->lo && ip - 1 < m->hi && memchr(m->path, '\0', sizeof m->path) && m->path[0])
				return m;
		}
	}
	return NULL;
}

struct site_order {
	const struct site_sum *t;
	uint64_t idx;
};

static int by_bytes(const void *a, const void *b)
{
	const struct site_order *x = a, *y = b;
	if (x->t->bytes != y->t->bytes)
		return x->t->bytes > y->t->bytes ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static char *hex(uint64_t v)
{
	return mt_xasprintf("0x%llx", (unsigned long long)v);
}

/* The GNU build id of the ELF file at path (its PT_NOTE segments): its
 * length, 0 when it has none, -1 when the file cannot be read as ELF.
 * Every size is checked against what was read. */
static int disk_build_id(const char *path, unsigned char *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* never waits on a FIFO */
	if (fd < 0)
		return -1;
	int ret = -1;
	ElfW(Ehdr) e;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || pread(fd, &e, sizeof e, 0) != (ssize_t)sizeof e || memcmp(e.e_ident, ELFMAG, SELFMAG) != 0 ||
	    e.e_ident[EI_CLASS] != (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32) ||
	    e.e_phentsize != sizeof(ElfW(Phdr)) || e.e_phnum == 0 || e.e_phnum > 4096)
		goto done;
	ret = 0;
	for (unsigned i = 0; i < e.e_phnum && ret == 0; i++) {
		ElfW(Phdr) p;
		if (pread(fd, &p, sizeof p, (off_t)(e.e_phoff + (uint64_t)i * sizeof p)) != (ssize_t)sizeof p) {
			ret = -1;
			break;
		}
		if (p.p_type != PT_NOTE || p.p_filesz < sizeof(ElfW(Nhdr)) || p.p_filesz > 65536)
			continue;
		unsigned char *buf = mt_xmalloc(p.p_filesz);
		size_t left = pread(fd, buf, p.p_filesz, (off_t)p.p_offset) == (ssize_t)p.p_filesz ? p.p_filesz : 0;
		size_t align = p.p_align == 8 ? 8 : 4, at = 0;
		while (left >= sizeof(ElfW(Nhdr))) {
			ElfW(Nhdr) nh;
			memcpy(&nh, buf + at, sizeof nh);
			size_t name = ((size_t)nh.n_namesz + align - 1) & ~(align - 1);
			size_t desc = ((size_t)nh.n_descsz + align - 1) & ~(align - 1);
			if (nh.n_namesz > left || nh.n_descsz > left || name > left - sizeof nh ||
			    desc > left - sizeof nh - name)
				break;
			if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
			    memcmp(buf + at + sizeof nh, "GNU", 4) == 0 && nh.n_descsz > 0 &&
			    nh.n_descsz <= MA_STATE_BUILD_ID) {
				memcpy(out, buf + at + sizeof nh + name, nh.n_descsz);
				ret = (int)nh.n_descsz;
				break;
			}
			at += sizeof nh + name + desc;
			left -= sizeof nh + name + desc;
		}
		free(buf);
	}
done:
	close(fd);
	return ret;
}

/* The modules whose file was checked against the recorded build id. */
struct namer {
	void *sl;
	struct checked {
		const struct ma_state_module *m;
		bool differs;
	} *c;
	size_t n;
};

static void id_hex(char *dst, const unsigned char *id, size_t len)
{
	for (size_t i = 0; i < len; i++)
		sprintf(dst + 2 * i, "%02x", id[i]);
	dst[2 * len] = '\0';
}

/* true when the module's file on disk is not the one the process loaded
 * (its build id differs): one line on stderr the first time. */
static bool module_changed(struct namer *nm, const struct ma_state_module *m)
{
	if (m->build_id_len == 0 || m->build_id_len > MA_STATE_BUILD_ID)
		return false; /* nothing recorded: as before build ids were */
	for (size_t i = 0; i < nm->n; i++)
		if (nm->c[i].m == m ||
		    (strcmp(nm->c[i].m->path, m->path) == 0 && nm->c[i].m->build_id_len == m->build_id_len &&
		     memcmp(nm->c[i].m->build_id, m->build_id, m->build_id_len) == 0))
			return nm->c[i].differs;
	unsigned char id[MA_STATE_BUILD_ID];
	int len = disk_build_id(m->path, id);
	/* An unreadable file names nothing anyway; a readable one must match. */
	bool differs = len >= 0 && ((uint32_t)len != m->build_id_len || memcmp(id, m->build_id, (size_t)len) != 0);
	if (differs) {
		char want[2 * MA_STATE_BUILD_ID + 1], got[2 * MA_STATE_BUILD_ID + 1];
		id_hex(want, m->build_id, m->build_id_len);
		id_hex(got, id, (size_t)len);
		fprintf(stderr,
		        "modalloc: %s is not the file the process loaded (build id %s, the process had %s): "
		        "its frames are not named\n",
		        m->path, len ? got : "none", want);
	}
	nm->c = mt_xrealloc(nm->c, (nm->n + 1) * sizeof *nm->c);
	nm->c[nm->n++] = (struct checked){ m, differs };
	return differs;
}

/* Frames named: module and offset from the module log, the function from its symbols (or "??"). */
static void name_frame(const struct ma_state_hdr *h, const unsigned char *file, uint64_t ip, struct mt_frame *f,
                       struct namer *nm)
{
	f->ip = hex(ip);
	const struct ma_state_module *m = module_of(h, file, ip);
	const char *fn = NULL;
	if (m) {
		f->module = mt_xstrdup(m->path);
		f->offset = hex(ip - m->bias);
		bool changed = module_changed(nm, m); /* then its symbols would name other code */
#ifdef MT_HAVE_SRCLOC
		if (!changed)
			fn = mt_srcloc_function(nm->sl, m->path, ip - m->bias);
#else
		(void)changed;
#endif
	} else {
		f->module = mt_xstrdup("??");
		f->offset = hex(0);
	}
	f->function = mt_xstrdup(fn ? fn : "??");
}

/*
 * The sites, as ma_tier2_freeze sums them: both parts of each site, plus the
 * deltas pending in each thread's cache.  0, or -1 after bad() (corrupt).
 */
static int fill_sites(struct rd *r, const struct ma_state_hdr *h, const unsigned char *file, uint64_t te,
                      struct mt_report *out)
{
	const struct ma_state_sites *l = &h->sites;
	if (!h->backtraces || l->site_bytes == 0)
		return 0; /* no call sites kept */
	if (!sites_layout_ok(l))
		return bad(r, "corrupt state file (bad call-site layout)");
	uint64_t dir_off = 0;
	bool have_dir = false;
	for (uint32_t i = 0; i < h->nchunks && !have_dir; i++)
		if (h->chunks[i].kind == MA_STATE_KIND_SITE_DIR && h->chunks[i].bytes >= 8 * l->dir_entries) {
			dir_off = h->chunks[i].off;
			have_dir = true;
		}
	if (!have_dir)
		return 0; /* the directory could not be kept in the file */
	if (!h->root_addr)
		return bad(r, "corrupt state file (call sites without a root)");
	uint64_t serial = u64_at(file + h->root_off + l->r_peak_serial);
	uint64_t chunk_bytes = l->chunk_sites * l->site_bytes;
	/* The last chunk mapped bounds the sites; every chunk is a piece of its
	 * own, so together they fit in the file (a corrupt directory cannot make
	 * the reader allocate more than the file's size in sites). */
	uint64_t nchunk = 0, mapped = 0;
	for (uint64_t c = 0; c < l->dir_entries; c++)
		if (u64_at(file + dir_off + 8 * c)) {
			nchunk = c + 1;
			mapped++;
		}
	if (chunk_bytes > r->size || mapped > r->size / chunk_bytes)
		return bad(r, "corrupt state file (more site chunks than the file holds)");
	struct site_sum **tot = mt_xcalloc(nchunk ? nchunk : 1, sizeof *tot);
	int ret = -1;
	for (uint64_t c = 0; c < nchunk; c++) {
		uint64_t addr = u64_at(file + dir_off + 8 * c), off;
		if (!addr)
			continue;
		if (!translate(h, addr, MA_STATE_KIND_SITE_CHUNK, chunk_bytes, &off)) {
			if (h->incomplete)
				continue; /* the file was full: this chunk went to anonymous memory */
			bad(r, "corrupt state file (site chunk %llu outside the file)", (unsigned long long)c);
			goto out;
		}
		tot[c] = mt_xcalloc(l->chunk_sites, sizeof **tot);
		for (uint64_t k = 0; k < l->chunk_sites; k++) {
			const unsigned char *s = file + off + k * l->site_bytes;
			struct site_sum *o = &tot[c][k];
			o->seen = true;
			add_part(o, l, s + l->s_own, serial);
			add_part(o, l, s + l->s_shared, serial);
			uint64_t fa = u64_at(s + l->s_frames);
			uint32_t nf = u32_at(s + l->s_nframes);
			o->truncated = s[l->s_truncated] != 0;
			o->ended_early = u32_at(s + l->s_ended_early) != 0;
			if (fa && nf <= l->max_frames) {
				uint64_t fo;
				if (!translate(h, fa, MA_STATE_KIND_FRAMES, (uint64_t)nf * 8, &fo)) {
					if (h->incomplete)
						continue; /* frames in anonymous memory: the site has none */
					bad(r, "corrupt state file (frames of site %llu outside the file)",
					    (unsigned long long)(c * l->chunk_sites + k));
					goto out;
				}
				o->frames_off = fo;
				o->nframes = nf;
				o->frames_ok = true;
			} else if (fa) {
				bad(r, "corrupt state file (site %llu has %u frames)",
				    (unsigned long long)(c * l->chunk_sites + k), nf);
				goto out;
			}
		}
	}
	/* What threads hold pending (add_pending). */
	uint64_t cache_bytes = l->t2_ncache * l->delta_bytes;
	for (uint32_t i = 0; i < h->nchunks; i++) {
		const struct ma_state_chunk *c = &h->chunks[i];
		if (c->kind != MA_STATE_KIND_T2_THREAD || l->t2_cache > c->bytes || cache_bytes > c->bytes - l->t2_cache)
			continue;
		for (uint64_t k = 0; k < l->t2_ncache; k++) {
			const unsigned char *d = file + c->off + l->t2_cache + k * l->delta_bytes;
			uint64_t idx = u32_at(d + l->d_site), ci = idx / l->chunk_sites;
			if (!u32_at(d + l->d_events) || ci >= nchunk || !tot[ci])
				continue;
			struct site_sum *o = &tot[ci][idx % l->chunk_sites];
			uint64_t b = u64_at(d + l->d_blocks), by = u64_at(d + l->d_bytes);
			uint64_t f = u64_at(d + l->d_frees), fb = u64_at(d + l->d_freed_bytes);
			o->blocks += b;
			o->bytes += by;
			o->frees += f;
			o->live_bytes += by - fb;
			o->live_blocks += b - f;
			o->birth_sum += u64_at(d + l->d_birth_sum);
			o->death_sum += u64_at(d + l->d_death_sum);
			if (l->d_samples)
				o->samples += u64_at(d + l->d_samples);
			for (uint64_t j = 0; j < l->nhist; j++)
				o->hist[j] += u32_at(d + l->d_hist + 4 * j);
		}
	}
	/* Sites with events, by bytes descending, ties by index (as the library). */
	struct site_order *ord = mt_xcalloc(mapped * l->chunk_sites + 1, sizeof *ord);
	size_t k = 0;
	for (uint64_t c = 0; c < nchunk; c++)
		for (uint64_t i = 0; tot[c] && i < l->chunk_sites; i++)
			if (tot[c][i].blocks || tot[c][i].frees)
				ord[k++] = (struct site_order){ &tot[c][i], c * l->chunk_sites + i };
	qsort(ord, k, sizeof *ord, by_bytes);
	struct namer nm = { NULL, NULL, 0 };
#ifdef MT_HAVE_SRCLOC
	nm.sl = mt_srcloc_new();
#endif
	out->has_sites = true;
	out->sites = mt_xcalloc(k ? k : 1, sizeof *out->sites);
	out->nsites = k;
	for (size_t i = 0; i < k; i++) {
		const struct site_sum *o = ord[i].t;
		struct mt_site *s = &out->sites[i];
		s->blocks = o->blocks;
		s->bytes = o->bytes;
		s->frees = o->frees;
		s->live_bytes = clamp0(o->live_bytes);
		s->live_blocks = clamp0(o->live_blocks);
		s->at_peak_bytes = clamp0(o->at_peak_bytes);
		s->at_peak_blocks = clamp0(o->at_peak_blocks);
		s->max_bytes = o->max_bytes;
		s->max_blocks = o->max_blocks;
		if (s->at_peak_bytes > s->max_bytes) {
			s->max_bytes = s->at_peak_bytes;
			s->max_blocks = s->at_peak_blocks;
		}
		if (s->live_bytes > s->max_bytes) {
			s->max_bytes = s->live_bytes;
			s->max_blocks = s->live_blocks;
		}
		uint64_t ends = o->death_sum + s->live_blocks * te;
		s->lifetime_total = ends > o->birth_sum ? ends - o->birth_sum : 0;
		s->lifetime_unit = mt_xstrdup("bytes_allocated");
		size_t last = 0;
		for (size_t j = 0; j < l->nhist; j++)
			if (o->hist[j])
				last = j + 1;
		s->nhist = last;
		s->hist = mt_xcalloc(last ? last : 1, sizeof *s->hist);
		memcpy(s->hist, o->hist, last * sizeof *s->hist);
		s->truncated = o->truncated;
		if (o->frames_ok && o->nframes) {
			s->frames = mt_xcalloc(o->nframes, sizeof *s->frames);
			s->nframes = o->nframes;
			for (uint32_t j = 0; j < o->nframes; j++)
				name_frame(h, file, u64_at(file + o->frames_off + 8 * j), &s->frames[j], &nm);
		}
		s->samples = o->samples;
		s->estimated = out->cfg_sample_bytes && s->samples;
		s->key = mt_site_key(s, false);
		s->fkey = mt_site_key(s, true);
	}
#ifdef MT_HAVE_SRCLOC
	mt_srcloc_free(nm.sl);
#endif
	free(nm.c);
	mt_stacks_add(out, "sites", k);
	if (mt_report_sampled(out)) { /* as the library's report: the samples behind the estimates */
		uint64_t samples = 0;
		for (size_t i = 0; i < k; i++)
			samples += out->sites[i].samples;
		mt_stacks_add(out, "samples", samples);
	}
	out->has_stacks = true;
	free(ord);
	ret = 0;
out:
	for (uint64_t c = 0; c < nchunk; c++)
		free(tot[c]);
	free(tot);
	return ret;
}

int mt_state_load_info(const char *path, bool live, struct mt_report **out,
		struct mt_state_info *info, char *err, size_t cap)
{
	struct rd r = { .err = err, .cap = cap, .path = path };
	*out = NULL;
	if (info)
		memset(info, 0, sizeof *info);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return bad(&r, "cannot open: %s", strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return bad(&r, "not a regular file");
	}
	if (st.st_size <= 0) {
		close(fd);
		return bad(&r, "not a modalloc state file (empty)");
	}
	r.size = (size_t)st.st_size;
	void *m = mmap(NULL, r.size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return bad(&r, "cannot map: %s", strerror(errno));
	r.p = m;
	/* A copy of the header: a live process goes on writing the file. */
	struct ma_state_hdr *h = mt_xmalloc(sizeof *h);
	int ret = -1;
	if (r.size < sizeof *h) {
		bad(&r, "not a modalloc state file (%zu bytes: too short for its header)", r.size);
		goto done;
	}
	memcpy(h, r.p, sizeof *h);
	if (validate(&r, h) != 0)
		goto done;
	struct mt_report *rep = mt_xcalloc(1, sizeof *rep);
	rep->path = mt_xstrdup(path);
	rep->nfiles = 1;
	fill(h, r.p, live, st.st_mtime, rep);
	if (fill_sites(&r, h, r.p, rep->totals.bytes, rep) != 0) {
		mt_report_free(rep);
		goto done;
	}
	*out = rep;
	if (info) {
		info->pid = (pid_t)h->pid;
		info->start_ns = h->start_ns;
		info->start_ticks = h->start_ticks;
		info->cwd = mt_xstrdup(h->cwd);
		info->cmd = mt_xstrdup(h->cmd);
		info->out_template = h->out[0] ? mt_xstrdup(h->out) : NULL;
		info->dhat_template = h->dhat[0] ? mt_xstrdup(h->dhat) : NULL;
		info->clean_exit = h->clean_exit != 0;
		info->incomplete = h->incomplete != 0;
		info->report = h->report != 0;
	}
	ret = 0;
done:
	free(h);
	munmap(m, r.size);
	return ret;
}

int mt_state_load(const char *path, bool live, struct mt_report **out, char *err, size_t cap)
{
	return mt_state_load_info(path, live, out, NULL, err, cap);
}

void mt_state_info_free(struct mt_state_info *info)
{
	if (!info)
		return;
	free(info->cwd);
	free(info->cmd);
	free(info->out_template);
	free(info->dhat_template);
}
