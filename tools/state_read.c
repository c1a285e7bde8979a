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
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	unsigned field = 2;
	for (; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	return strtoull(p, NULL, 10);
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
