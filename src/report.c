/* SPDX-License-Identifier: Apache-2.0 */
/* report.c: freezing the state and writing report files safely. */
#define _GNU_SOURCE
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "fmt.h"
#include "init.h"
#include "os.h"
#include "state.h"
#include "symbolize.h"
#include "tier2.h"
#include "timeline.h"

void ma_report_freeze(struct ma_report *r, bool at_exit)
{
	memset(r, 0, sizeof *r);
	ma_snapshot_process(&r->snap);
	r->pid = ma_os_getpid();
	r->rss_peak_bytes = ma_os_rss_peak_bytes();
	r->wall_ns = ma_os_monotonic_ns() - ma_g.start_ns;
	r->at_exit = at_exit;
	r->clock_end = r->snap.bytes;
	r->clock_peak = ma_load_relaxed(&ma_live.peak.clock);
	unsigned n = ma_timeline_copy((uintptr_t)ma_thread_self(), r->timeline, MA_TIMELINE_MAX, &r->timeline_interval);
	/* Insert the peak where it belongs, then the end. */
	struct ma_timeline_point peak = { r->clock_peak, r->snap.peak_bytes, 0 };
	unsigned at = n;
	while (at > 0 && r->timeline[at - 1].clock > peak.clock)
		at--;
	memmove(&r->timeline[at + 1], &r->timeline[at], (n - at) * sizeof peak);
	r->timeline[at] = peak;
	n++;
	r->timeline[n++] = (struct ma_timeline_point){ r->clock_end, r->snap.live_bytes, ma_os_rss_now_bytes() };
	r->timeline_count = n;
	static struct ma_t2_frozen frozen; /* reports are serialised by lock_reporting */
	if (ma_g.backtraces && ma_tier2_freeze(&frozen)) {
		r->sites = &frozen;
		ma_sym_refresh_modules();
	}
}

void ma_report_thaw(struct ma_report *r)
{
	if (r->sites)
		ma_tier2_release((struct ma_t2_frozen *)r->sites);
	r->sites = NULL;
}

/* Renames tmp to dst unless dst exists (a file, a directory, a symlink). */
static int rename_noreplace(const char *tmp, const char *dst)
{
	int err = ma_os_rename_noreplace(tmp, dst);
	if (err != -EINVAL && err != -ENOSYS)
		return err;
	/* Filesystems without renameat2 flags: link(2) also refuses to replace. */
	int lr = ma_os_link(tmp, dst);
	if (lr == 0)
		ma_os_unlink(tmp);
	return lr;
}

/* "dir/name.json" + n -> "dir/name.n.json" (or "dir/name.n" without an extension). */
static int with_suffix(char *out, size_t cap, const char *path, unsigned n)
{
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(path, '.');
	if (!dot || (slash && dot < slash) || dot == (slash ? slash + 1 : path))
		dot = path + strlen(path);
	struct ma_buf b;
	ma_buf_init(&b, out, cap, -1);
	ma_buf_mem(&b, path, (size_t)(dot - path));
	ma_buf_char(&b, '.');
	ma_buf_u64(&b, n);
	ma_buf_str(&b, dot);
	ma_buf_finish(&b);
	return b.truncated ? -ENAMETOOLONG : 0;
}

/* Runs the writer into fd; 0 or the first write error.  The test hook
 * (options.h) stops here, mid-file, to be killed. */
static int write_body(int fd, ma_report_writer writer, const struct ma_report *r)
{
	char storage[16384];
	struct ma_buf b;
	ma_buf_init(&b, storage, sizeof storage, fd);
	writer(&b, r);
	if (ma_g.opt.test_pause_ms) {
		ma_warn("test: pausing mid-write", NULL, NULL, NULL);
		ma_os_sleep_ns(ma_g.opt.test_pause_ms * 1000000u);
	}
	if (ma_g.opt.test_fatal_fault && ma_load_relaxed(&ma_g.fatal_signal)) {
		static char *volatile nowhere; /* NULL, unknown to the compiler: a real SIGSEGV */
		*nowhere = 0;
	}
	return ma_buf_finish(&b);
}

/* Names the file at path, or path.1, path.2... when taken (link_one says
 * -EEXIST); the name given in dst. */
static int name_noreplace(char *dst, size_t cap, const char *path, size_t n,
                          int (*link_one)(const void *, const char *), const void *what)
{
	int err;
	memcpy(dst, path, n + 1);
	for (unsigned i = 1;; i++) {
		err = link_one(what, dst);
		if (err != -EEXIST || i > 9999)
			break;
		if ((err = with_suffix(dst, cap, path, i)) < 0)
			break;
	}
	return err;
}

static int link_tmp(const void *tmp, const char *dst) { return rename_noreplace(tmp, dst); }
static int link_fd(const void *fd, const char *dst) { return ma_os_link_fd(*(const int *)fd, dst); }

/*
 * The file gets no name until it is whole: written unnamed (O_TMPFILE) in
 * its directory, then linked in.  A process killed meanwhile leaves
 * nothing.  Returns -EOPNOTSUPP when the file system cannot do it.
 */
static int write_unnamed(const char *path, size_t n, ma_report_writer writer,
                         const struct ma_report *r, char *dst, size_t cap)
{
	char dir[MA_PATH_MAX];
	const char *slash = strrchr(path, '/');
	if (!slash) {
		memcpy(dir, ".", 2);
	} else {
		size_t len = slash == path ? 1 : (size_t)(slash - path);
		memcpy(dir, path, len);
		dir[len] = '\0';
	}
	if (ma_g.opt.test_no_tmpfile)
		return -EOPNOTSUPP;
	int fd = ma_os_open_tmpfile(dir, 0600);
	if (fd == -EISDIR || fd == -EINVAL || fd == -ENOSYS)
		fd = -EOPNOTSUPP;
	if (fd < 0)
		return fd;
	int err = write_body(fd, writer, r);
	if (!err)
		err = name_noreplace(dst, cap, path, n, link_fd, &fd);
	/* No /proc and no CAP_DAC_READ_SEARCH: the fd cannot be named. */
	if (err == -ENOENT || err == -EPERM)
		err = -EOPNOTSUPP;
	int cerr = ma_os_close(fd);
	return err ? err : cerr;
}

/* For file systems without O_TMPFILE: a temporary name, renamed into place. */
static int write_named_tmp(const char *path, size_t n, ma_report_writer writer,
                           const struct ma_report *r, char *dst, size_t cap)
{
	char tmp[MA_PATH_MAX + 64];
	struct ma_buf nb;
	ma_buf_init(&nb, tmp, sizeof tmp, -1);
	ma_buf_str(&nb, path);
	ma_buf_str(&nb, ".tmp.");
	ma_buf_u64(&nb, (uint64_t)r->pid);
	ma_buf_char(&nb, '.');
	ma_buf_u64(&nb, ma_os_random64() & 0xffffffffu);
	ma_buf_finish(&nb);
	if (nb.truncated || strlen(tmp) >= MA_PATH_MAX)
		return -ENAMETOOLONG;

	int fd = ma_os_open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
	if (fd < 0)
		return fd;
	int err = write_body(fd, writer, r);
	int cerr = ma_os_close(fd);
	if (!err)
		err = cerr;
	if (err) {
		ma_os_unlink(tmp); /* a full disk leaves nothing behind */
		return err;
	}
	err = name_noreplace(dst, cap, path, n, link_tmp, tmp);
	if (err)
		ma_os_unlink(tmp);
	return err;
}

int ma_report_write_file(const char *tmpl, ma_report_writer writer, const struct ma_report *r,
                         char *final, size_t cap)
{
	char path[MA_PATH_MAX], dst[MA_PATH_MAX];
	ssize_t n = ma_report_expand_path(path, sizeof path, tmpl, r->pid, ma_g.cwd);
	if (n < 0)
		return (int)n;
	int err = write_unnamed(path, (size_t)n, writer, r, dst, sizeof dst);
	if (err == -EOPNOTSUPP)
		err = write_named_tmp(path, (size_t)n, writer, r, dst, sizeof dst);
	if (err)
		return err;
	if (final && cap) {
		size_t len = strlen(dst);
		if (len >= cap)
			len = cap - 1;
		memcpy(final, dst, len);
		final[len] = '\0';
	}
	return 0;
}

/* One report at a time: a second writer waits (it is rare and short). */
/*
 * ma_g.reporting holds the writer's thread id.  A signal handler that
 * reports (through _exit) while its own thread is inside a report would
 * wait for itself: it gives up instead.  Returns false then.
 */
static bool lock_reporting(void)
{
	uint32_t me = (uint32_t)ma_os_gettid(), no = 0;
	while (!ma_cas_acq_rel(&ma_g.reporting, &no, me)) {
		if (no == me)
			return false;
		no = 0;
		ma_os_yield();
	}
	return true;
}

static void unlock_reporting(void)
{
	ma_store_release(&ma_g.reporting, 0);
}

static void warn_failed(const char *what, const char *tmpl, pid_t pid, int err)
{
	char msg[MA_PATH_MAX + 256], path[MA_PATH_MAX];
	struct ma_buf b;
	if (ma_report_expand_path(path, sizeof path, tmpl, pid, ma_g.cwd) < 0) {
		size_t len = strnlen(tmpl, sizeof path - 1);
		memcpy(path, tmpl, len);
		path[len] = '\0';
	}
	ma_buf_init(&b, msg, sizeof msg, -1);
	ma_buf_str(&b, what);
	ma_buf_str_printable(&b, path);
	ma_buf_str(&b, ": ");
	const char *why = strerrordesc_np(-err);
	ma_buf_str(&b, why ? why : "unknown error");
	ma_buf_finish(&b);
	ma_warn(msg, NULL, NULL, NULL);
}

static int write_json(const char *tmpl, const struct ma_report *r, char *final, size_t cap, bool warn)
{
	int err = ma_report_write_file(tmpl, ma_report_json, r, final, cap);
	if (err && warn)
		warn_failed("cannot write report ", tmpl, r->pid, err);
	return err;
}

void ma_report_at_exit(void)
{
	struct ma_report r;
	char json_path[MA_PATH_MAX] = "";
	if (!lock_reporting())
		return;
	ma_report_freeze(&r, true);
	r.signal = (int)ma_load_acquire(&ma_g.fatal_signal);
	if (ma_g.opt.report && write_json(ma_g.opt.out, &r, json_path, sizeof json_path, true))
		json_path[0] = '\0';
	if (ma_g.opt.dhat[0] && r.sites) {
		int err = ma_report_write_file(ma_g.opt.dhat, ma_report_dhat, &r, NULL, 0);
		if (err)
			warn_failed("cannot write DHAT file ", ma_g.opt.dhat, r.pid, err);
	}
	if (!ma_g.opt.quiet) {
		char storage[4096];
		struct ma_buf b;
		ma_buf_init(&b, storage, sizeof storage, 2);
		ma_report_summary(&b, &r, json_path[0] ? json_path : NULL);
		ma_buf_finish(&b);
	}	/* quiet: the warning stays in the report (stacks.shallow_warning), where
		   `modalloc run` and `report` print it once for a whole tree */
	ma_state_done(); /* the report is out: nothing to recover */
	ma_report_thaw(&r);
	unlock_reporting();
}

int ma_report_now(const char *tmpl)
{
	struct ma_report r;
	if (!lock_reporting())
		return -EDEADLK;
	ma_report_freeze(&r, false);
	int err = write_json(tmpl ? tmpl : ma_g.opt.out, &r, NULL, 0, false);
	ma_report_thaw(&r);
	unlock_reporting();
	return err;
}

/* True when this image made no call at all: no block, no free, no failure. */
static bool counted_nothing(const struct ma_snapshot *s)
{
	uint64_t any = s->blocks | s->frees | s->inherited_frees | s->foreign_frees | s->failed;
	for (unsigned i = 0; i < MA_CALL_COUNT; i++)
		any |= s->calls[i];
	return any == 0;
}

int ma_report_for_exec(char *path, size_t cap)
{
	struct ma_report r;
	if (!lock_reporting())
		return -EDEADLK;
	ma_report_freeze(&r, true);
	r.at_exec = true;
	/* An image that only execs (a shell's child, git's helpers) has nothing
	 * to say: no report rather than dozens of empty ones. */
	int err = counted_nothing(&r.snap) ? -ENODATA : write_json(ma_g.opt.out, &r, path, cap, true);
	ma_report_thaw(&r);
	unlock_reporting();
	return err;
}

void ma_report_exec_failed(const char *path)
{
	ma_os_unlink(path);
}

void ma_report_at_exit_once(void)
{
	uint32_t no = 0;
	if (!ma_cas_acq_rel(&ma_g.exit_reported, &no, 1))
		return;
	int saved = errno;
	/* The guard first: a fatal signal from here on waits for the report. */
	ma_guard_enter();
	/* The report covers what happened until exit began: other threads may go
	 * on allocating while it is written, uncounted. */
	ma_init_freeze();
	ma_report_at_exit();
	ma_guard_leave();
	errno = saved;
}

__attribute__((destructor(101))) static void ma_dtor(void)
{
	if (ma_load_acquire(&ma_g.state) != MA_ACTIVE)
		return;
	/* A child made without fork()'s handlers (vfork, raw clone, _Fork) shares
	 * or copied the parent's counters without a reset: it has no report of its own. */
	if (ma_os_getpid() != ma_g.pid)
		return;
	ma_report_at_exit_once();
}
