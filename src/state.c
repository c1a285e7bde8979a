/* SPDX-License-Identifier: Apache-2.0 */
/* state.c: the process's state file (state.h). */
#define _GNU_SOURCE
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <string.h>

#include "atomic.h"
#include "fmt.h"
#include "global.h"
#include "modules.h"
#include "os.h"

#define RESERVE_BYTES (64u << 20) /* address space for the file's view */
#define GROW_BYTES (256u << 10)
#define KEEP_CHUNKS (MA_STATE_MAX_CHUNKS / 2) /* pieces only thread records may take (threads
                                                 starting at once each map a chunk of records) */
#define KEEP_BYTES (8u << 20)     /* bytes of the view only thread records may take */

static struct {
	int fd;                      /* -1: no state file */
	struct ma_state_hdr *hdr;    /* the file's view: hdr == base */
	char *base;
	uint64_t mapped;             /* bytes of the view mapped */
	void *root;                  /* the root variable, mapped over */
	size_t root_bytes;
	char dir[MA_PATH_MAX];
	char path[MA_PATH_MAX];
	ma_au32 lock;                /* the holder's thread id, 0 = free */
	char *fork_copy;             /* the state at fork (fork_prepare), for the child */
	uint64_t fork_bytes;
} st = { .fd = -1 };

/* false when the calling thread holds it already (a fork's prepare). */
static bool lock(void)
{
	uint32_t me = (uint32_t)ma_os_gettid(), no = 0;
	if (ma_load_relaxed(&st.lock) == me)
		return false;
	while (!ma_cas_acq_rel(&st.lock, &no, me)) {
		no = 0;
		ma_os_yield();
	}
	return true;
}

static void unlock(void)
{
	ma_store_release(&st.lock, 0);
}

static const char *env_get(char *const *envp, const char *name)
{
	size_t n = strlen(name);
	for (; envp && *envp; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

static bool put(char *dst, size_t cap, const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = b ? strlen(b) : 0, lc = c ? strlen(c) : 0;
	if (la + lb + lc + 1 > cap)
		return false;
	memcpy(dst, a, la);
	if (b)
		memcpy(dst + la, b, lb);
	if (c)
		memcpy(dst + la + lb, c, lc);
	dst[la + lb + lc] = '\0';
	return true;
}

/* A private directory: created 0700 if missing, else a real directory of
 * ours with mode 0700.  false after one line on stderr (quiet: none). */
static bool private_dir(const char *dir, bool quiet)
{
	int r = ma_os_mkdir(dir, 0700);
	if (r < 0 && r != -EEXIST) {
		if (!quiet)
			ma_warn("cannot create the state directory ", dir, "; no state file (a SIGKILL loses the report)", NULL);
		return false;
	}
	struct ma_os_stat s;
	if (ma_os_lstat(dir, &s) < 0 || s.is_link || !s.is_dir || s.uid != ma_os_getuid() ||
	    (s.mode & 0777) != 0700) {
		if (!quiet)
			ma_warn("refusing the state directory ", dir,
			        ": not a directory of this user with mode 0700 (or a symlink); no state file", NULL);
		return false;
	}
	return true;
}

static bool choose_dir(char *const *envp)
{
	const char *d = ma_g.opt.state_dir[0] ? ma_g.opt.state_dir : NULL;
	if (d) {
		/* The user's own choice (a disk is allowed): created if missing, never a symlink. */
		int r = ma_os_mkdir(d, 0700);
		struct ma_os_stat s;
		if ((r < 0 && r != -EEXIST) || ma_os_lstat(d, &s) < 0 || s.is_link || !s.is_dir) {
			ma_warn("MOD_ALLOC_STATE_DIR=", d, " is not a usable directory (or is a symlink); no state file", NULL);
			return false;
		}
		return put(st.dir, sizeof st.dir, d, NULL, NULL);
	}
	const char *x = env_get(envp, "XDG_RUNTIME_DIR");
	struct ma_os_stat s;
	if (x && x[0] == '/' && ma_os_lstat(x, &s) == 0 && s.is_dir && s.uid == ma_os_getuid() &&
	    put(st.dir, sizeof st.dir, x, "/modalloc", NULL) && private_dir(st.dir, false))
		return true;
	char uid[24];
	struct ma_buf b;
	ma_buf_init(&b, uid, sizeof uid, -1);
	ma_buf_u64(&b, ma_os_getuid());
	ma_buf_char(&b, '\0');
	return put(st.dir, sizeof st.dir, "/dev/shm/modalloc-", uid, NULL) && private_dir(st.dir, false);
}

/* The process's start time in clock ticks since boot (/proc/self/stat field 22). */
static uint64_t start_ticks(void)
{
	char buf[1024];
	ssize_t n = ma_os_read_file("/proc/self/stat", buf, sizeof buf);
	if (n <= 0)
		return 0;
	return ma_state_parse_start_ticks(buf);
}

/* Creates the file named for this process: fd or -errno. */
static int create_file(uint64_t start_ns)
{
	char num[64];
	struct ma_buf b;
	ma_buf_init(&b, num, sizeof num, -1);
	ma_buf_u64(&b, (uint64_t)ma_g.pid);
	ma_buf_char(&b, '-');
	ma_buf_u64(&b, start_ns);
	ma_buf_char(&b, '\0');
	if (!put(st.path, sizeof st.path, st.dir, "/modalloc-", num) ||
	    strlen(st.path) + sizeof ".state" > sizeof st.path)
		return -ENAMETOOLONG;
	strcat(st.path, ".state");
	return ma_os_open(st.path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
}

static void str_copy(char *dst, const char *src)
{
	size_t n = strnlen(src, MA_STATE_STR - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void fill_ids(struct ma_state_hdr *h, uint64_t start_ns)
{
	h->pid = (uint64_t)ma_g.pid;
	h->start_ns = start_ns;
	h->start_ticks = start_ticks();
	h->mono_start_ns = ma_g.start_ns;
}

void ma_state_open(char *const *envp)
{
	if (!ma_g.opt.state || !ma_g.opt.report || ma_os_is_secure() || ma_os_page_size() > MA_STATE_ALIGN)
		return;
	if (!choose_dir(envp))
		return;
	uint64_t start_ns = ma_os_realtime_ns();
	int fd = create_file(start_ns);
	if (fd < 0) {
		ma_warn("cannot create a state file in ", st.dir, "; no state file (a SIGKILL loses the report)", NULL);
		return;
	}
	char *base = ma_os_reserve(RESERVE_BYTES);
	uint64_t first = MA_STATE_HDR_BYTES + MA_STATE_ALIGN + GROW_BYTES;
	if (!base || ma_os_fallocate(fd, 0, first) < 0 || ma_os_map_shared_at(base, first, fd, 0) < 0) {
		if (base)
			ma_os_unmap(base, RESERVE_BYTES);
		ma_os_close(fd);
		ma_os_unlink(st.path);
		ma_warn("cannot map a state file in ", st.dir, " (out of space?); no state file", NULL);
		return;
	}
	struct ma_state_hdr *h = (struct ma_state_hdr *)base;
	memcpy(h->magic, MA_STATE_MAGIC, sizeof h->magic);
	h->version = MA_STATE_VERSION;
	h->endian = MA_STATE_ENDIAN;
	h->word_bytes = sizeof(void *);
	h->hdr_bytes = MA_STATE_HDR_BYTES;
	fill_ids(h, start_ns);
	h->base = (uint64_t)(uintptr_t)base;
	h->root_off = MA_STATE_HDR_BYTES;
	h->arena_off = MA_STATE_HDR_BYTES + MA_STATE_ALIGN;
	h->used = h->arena_off;
	h->report = (uint32_t)ma_g.opt.report;
	h->backtraces = ma_g.backtraces;
	str_copy(h->cwd, ma_g.cwd);
	str_copy(h->out, ma_g.opt.out);
	str_copy(h->dhat, ma_g.opt.dhat);
	st.fd = fd;
	st.base = base;
	st.hdr = h;
	st.mapped = first;
}

void ma_state_describe(const struct ma_state_layout *l)
{
	if (st.hdr) {
		st.hdr->layout = *l;
		str_copy(st.hdr->cmd, ma_g.cmd);
	}
}

void ma_state_describe_sites(const struct ma_state_sites *s)
{
	if (st.hdr)
		st.hdr->sites = *s;
}

void ma_state_describe_config(uint64_t peak_slack_bytes)
{
	struct ma_state_hdr *h = st.hdr;
	if (!h)
		return;
	/* As the report's "config" (report_json.c). */
	h->cfg_backtraces = ma_g.backtraces;
	h->sample_bytes = ma_g.backtraces ? ma_g.opt.sample : 0;
	h->sample_seed = h->sample_bytes ? ma_g.opt.sample_seed : 0;
	h->cfg_depth = ma_g.opt.depth;
	h->cfg_buckets = ma_g.opt.buckets;
	h->cfg_header_bytes = ma_g.hdr_bytes;
	h->cfg_peak_slack_bytes = peak_slack_bytes;
	h->cfg_known = 1;
}

bool ma_state_owns(const void *p)
{
	return st.base && (const char *)p >= st.base && (const char *)p < st.base + RESERVE_BYTES;
}

void ma_state_unmap(void *p, size_t bytes)
{
	if (!ma_state_owns(p))
		ma_os_unmap(p, bytes);
}

void ma_state_attach_root(void *addr, size_t bytes)
{
	if (!st.hdr || bytes > MA_STATE_ALIGN || ((uintptr_t)addr & (MA_STATE_ALIGN - 1)))
		return;
	/* Its contents first, into the file's own view of the root page. */
	memcpy(st.base + st.hdr->root_off, addr, bytes);
	if (ma_os_map_shared_at(addr, MA_STATE_ALIGN, st.fd, st.hdr->root_off) < 0)
		return; /* the variable stays as it was; the reader sees no root */
	st.root = addr;
	st.root_bytes = bytes;
	st.hdr->root_addr = (uint64_t)(uintptr_t)addr;
}

void *ma_state_map(size_t bytes, unsigned kind)
{
	if (!st.hdr)
		return ma_os_map(bytes);
	uint64_t len = (bytes + MA_STATE_ALIGN - 1) & ~(uint64_t)(MA_STATE_ALIGN - 1);
	void *p = NULL;
	if (!lock()) { /* nested in our own call (a signal handler): anonymous memory */
		st.hdr->incomplete = 1;
		return ma_os_map(bytes);
	}
	struct ma_state_hdr *h = st.hdr;
	uint64_t off = h->used;
	/* The call sites' pieces (tier2) leave room for thread records: the
	 * totals of a program with many threads stay exact. */
	uint32_t max_chunks = kind == MA_STATE_KIND_THREADS ? MA_STATE_MAX_CHUNKS : MA_STATE_MAX_CHUNKS - KEEP_CHUNKS;
	uint64_t max_bytes = kind == MA_STATE_KIND_THREADS ? RESERVE_BYTES : RESERVE_BYTES - KEEP_BYTES;
	if (h->nchunks < max_chunks && off + len <= max_bytes) {
		bool ok = true;
		if (off + len > st.mapped) {
			uint64_t grow = off + len - st.mapped;
			grow = (grow + GROW_BYTES - 1) / GROW_BYTES * GROW_BYTES;
			if (st.mapped + grow > RESERVE_BYTES)
				grow = RESERVE_BYTES - st.mapped;
			/* fallocate first: a full tmpfs says so now (ENOSPC), never by SIGBUS later. */
			ok = ma_os_fallocate(st.fd, st.mapped, grow) == 0 &&
			     ma_os_map_shared_at(st.base + st.mapped, grow, st.fd, st.mapped) == 0;
			if (ok)
				st.mapped += grow;
		}
		if (ok) {
			p = st.base + off;
			/* The piece, then used, then the count: a reader of a running
			 * process never sees a piece beyond used. */
			h->chunks[h->nchunks] = (struct ma_state_chunk){ kind, off, len };
			h->used = off + len;
			ma_store_release((ma_au32 *)&h->nchunks, h->nchunks + 1);
		}
	}
	if (!p)
		h->incomplete = 1;
	unlock();
	return p ? p : ma_os_map(bytes);
}

/* [p, p + len) becomes private anonymous memory with the same contents. */
static void privatize(void *p, size_t len)
{
	char *copy = ma_os_map(len);
	if (!copy)
		return; /* cannot happen short of no memory at all: the pages stay shared */
	memcpy(copy, p, len);
	if (ma_os_map_anon_at(p, len) == 0)
		memcpy(p, copy, len);
	ma_os_unmap(copy, len);
}

/*
 * The file's pages are shared with the child until it maps its own: what
 * the parent's other threads write meanwhile (a record's Tier 2 pointer to
 * memory the child never got) must not reach the child.  So the state is
 * copied here, before the fork, with the lock held (no piece handed out
 * until the fork is over), and the child starts from that copy.
 */
void ma_state_fork_prepare(void)
{
	if (!st.hdr || !lock())
		return;
	st.fork_copy = ma_os_map(st.mapped);
	if (st.fork_copy) {
		memcpy(st.fork_copy, st.base, st.mapped);
		st.fork_bytes = st.mapped;
	}
}

void ma_state_fork_parent(void)
{
	if (!st.hdr)
		return;
	if (st.fork_copy)
		ma_os_unmap(st.fork_copy, st.fork_bytes);
	st.fork_copy = NULL;
	unlock();
}

/* A new file for this process (a fork child, or an image whose exec
 * failed) holding src, mapped where the old one was.  false: no file made,
 * the mappings possibly half replaced (the caller decides). */
static bool rebirth(const char *src)
{
	uint64_t start_ns = ma_os_realtime_ns();
	int fd = create_file(start_ns);
	bool ok = fd >= 0 && ma_os_fallocate(fd, 0, st.mapped) == 0 &&
	          ma_os_write_all(fd, src, st.mapped) == 0 &&
	          ma_os_map_shared_at(st.base, st.mapped, fd, 0) == 0 &&
	          (!st.root || ma_os_map_shared_at(st.root, MA_STATE_ALIGN, fd, st.hdr->root_off) == 0);
	if (!ok) {
		if (fd >= 0) {
			ma_os_close(fd);
			ma_os_unlink(st.path);
		}
		return false;
	}
	ma_os_close(st.fd);
	st.fd = fd;
	fill_ids(st.hdr, start_ns);
	st.hdr->clean_exit = 0;
	return true;
}

void ma_state_after_fork(void)
{
	if (!st.hdr)
		return;
	ma_store_relaxed(&st.lock, 0);
	if (rebirth(st.fork_copy ? st.fork_copy : st.base)) {
		if (st.fork_copy)
			ma_os_unmap(st.fork_copy, st.fork_bytes);
		st.fork_copy = NULL;
		return;
	}
	{
		/* Never share the parent's counters: private copies, no file. */
		ma_warn("a fork child cannot make its state file; its counters stay private (a SIGKILL "
		        "loses its report)", NULL, NULL, NULL);
		privatize(st.base, st.mapped);
		if (st.root)
			privatize(st.root, MA_STATE_ALIGN);
		if (st.fork_copy) { /* the contents at the fork, now in private pages */
			memcpy(st.base, st.fork_copy, st.mapped);
			if (st.root)
				memcpy(st.root, st.fork_copy + st.hdr->root_off, MA_STATE_ALIGN);
			ma_os_unmap(st.fork_copy, st.fork_bytes);
			st.fork_copy = NULL;
		}
		st.hdr = NULL;
		st.fd = -1;
	}
}

void ma_state_done(void)
{
	if (!st.hdr)
		return;
	st.hdr->clean_exit = 1;
	ma_os_unlink(st.path);
}

static ma_au32 unlinked_for_exec;

void ma_state_exec_begin(void)
{
	if (st.hdr && ma_os_unlink(st.path) == 0)
		ma_store_relaxed(&unlinked_for_exec, 1);
}

/* The unlinked file cannot be named again (Linux links no file whose last
 * name is gone): a new one takes its contents and its place.  Counts that
 * other threads make during the copy can be lost (an exec that fails in a
 * threaded program). */
void ma_state_exec_failed(void)
{
	uint32_t yes = 1;
	if (!st.hdr || !ma_cas_acq_rel(&unlinked_for_exec, &yes, 0))
		return;
	if (!lock())
		return;
	if (!rebirth(st.base))
		ma_warn("an exec failed and its state file cannot be made again; a SIGKILL now loses the "
		        "report", NULL, NULL, NULL);
	unlock();
}

/* ---- the module log (modalloc_state.h) ---- */

struct log_fill {
	struct ma_state_module *m;
	unsigned n, cap;
};

static int count_modules(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)info;
	(void)size;
	((struct log_fill *)arg)->cap++;
	return 0;
}

/* A PT_LOAD segment that is readable holds [a, a + n) (module addresses, before the bias). */
static bool loaded_readable(const struct dl_phdr_info *info, uintptr_t a, uintptr_t n)
{
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		if (p->p_type == PT_LOAD && (p->p_flags & PF_R) && a >= p->p_vaddr && n <= p->p_filesz &&
		    a - p->p_vaddr <= p->p_filesz - n)
			return true;
	}
	return false;
}

/* The module's GNU build id from its PT_NOTE segments in memory: its length
 * (0: none).  Every note is bounds-checked against its segment, and only
 * segments inside a readable loaded one are read, so nothing faults. */
static uint32_t build_id(const struct dl_phdr_info *info, unsigned char *out)
{
	if (!info->dlpi_phdr)
		return 0;
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		if (p->p_type != PT_NOTE || p->p_filesz < sizeof(ElfW(Nhdr)) ||
		    !loaded_readable(info, p->p_vaddr, p->p_filesz))
			continue;
		const unsigned char *n = (const unsigned char *)(info->dlpi_addr + p->p_vaddr);
		uintptr_t left = p->p_filesz;
		uintptr_t align = p->p_align == 8 ? 8 : 4;
		while (left >= sizeof(ElfW(Nhdr))) {
			ElfW(Nhdr) nh;
			memcpy(&nh, n, sizeof nh);
			uintptr_t name = (nh.n_namesz + align - 1) & ~(align - 1);
			uintptr_t desc = (nh.n_descsz + align - 1) & ~(align - 1);
			if (nh.n_namesz > left || nh.n_descsz > left || name > left - sizeof nh ||
			    desc > left - sizeof nh - name)
				break; /* a note running past its segment: no more notes here */
			if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && memcmp(n + sizeof nh, "GNU", 4) == 0 &&
			    nh.n_descsz > 0 && nh.n_descsz <= MA_STATE_BUILD_ID) {
				memcpy(out, n + sizeof nh + name, nh.n_descsz);
				return nh.n_descsz;
			}
			n += sizeof nh + name + desc;
			left -= sizeof nh + name + desc;
		}
	}
	return 0;
}

static int log_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct log_fill *f = arg;
	if (f->n >= f->cap)
		return 1;
	struct ma_state_module *m = &f->m[f->n];
	uintptr_t lo, hi;
	ma_modules_load_span(info, &lo, &hi);
	if (lo >= hi)
		return 0;
	const char *name = info->dlpi_name;
	if (!name || !name[0]) { /* the program: its path from the kernel */
		if (ma_os_readlink("/proc/self/exe", m->path, sizeof m->path) <= 0)
			m->path[0] = '\0';
	} else {
		size_t len = strnlen(name, sizeof m->path - 1);
		memcpy(m->path, name, len);
		m->path[len] = '\0';
	}
	m->build_id_len = build_id(info, m->build_id);
	m->lo = lo;
	m->bias = info->dlpi_addr;
	m->hi = hi; /* last: hi == 0 ends the log */
	f->n++;
	return 0;
}

/* Module logs kept at most: a program that dlopens in a loop must not use
 * up the file's pieces (thread records need them); later modules' frames
 * are then named "??" by a reader. */
#define MAX_MODULE_LOGS 32
static ma_au32 module_logs;

void ma_state_log_modules(void)
{
	if (!st.hdr || ma_add_relaxed(&module_logs, 1) >= MAX_MODULE_LOGS)
		return;
	struct log_fill f = { NULL, 0, 0 };
	ma_os_each_module(count_modules, &f);
	f.cap += 8; /* modules loaded meanwhile; one spare record ends the log */
	size_t bytes = (size_t)(f.cap + 1) * sizeof(struct ma_state_module);
	f.m = ma_state_map(bytes, MA_STATE_KIND_MODULES);
	if (!f.m)
		return;
	if (!ma_state_owns(f.m)) { /* no state file: nobody reads a log */
		ma_os_unmap(f.m, bytes);
		return;
	}
	ma_os_each_module(log_module, &f);
}
