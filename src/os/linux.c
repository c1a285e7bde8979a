/* SPDX-License-Identifier: Apache-2.0 */
/* os/linux.c: the OS contract of os.h on Linux, by raw system calls. */
#define _GNU_SOURCE
#include "../os.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* syscall(2) sets errno on failure; we return -errno instead and restore it,
 * so callers never see errno move. */
static long sys(long nr, long a, long b, long c, long d)
{
	int saved = errno;
	long r = syscall(nr, a, b, c, d);
	if (r < 0)
		r = -errno;
	errno = saved;
	return r;
}

static long syscall5(long nr, long a, long b, long c, long d, long e)
{
	int saved = errno;
	long r = syscall(nr, a, b, c, d, e);
	if (r < 0)
		r = -errno;
	errno = saved;
	return r;
}

void *ma_os_map(size_t bytes)
{
	/* libc's mmap is a bare system call wrapper: it neither allocates nor
	 * re-enters us; only errno needs keeping. */
	int saved = errno;
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	errno = saved;
	return p == MAP_FAILED ? NULL : p;
}

void *ma_os_reserve(size_t bytes)
{
	int saved = errno;
	void *p = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	errno = saved;
	return p == MAP_FAILED ? NULL : p;
}

int ma_os_map_shared_at(void *addr, size_t len, int fd, uint64_t off)
{
	int saved = errno;
	void *p = mmap(addr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, (off_t)off);
	int r = p == MAP_FAILED ? -errno : 0;
	errno = saved;
	return r;
}

int ma_os_map_anon_at(void *addr, size_t len)
{
	int saved = errno;
	void *p = mmap(addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	int r = p == MAP_FAILED ? -errno : 0;
	errno = saved;
	return r;
}

int ma_os_fallocate(int fd, uint64_t off, uint64_t len)
{
	long r;
	do
		r = sys(SYS_fallocate, fd, 0, (long)off, (long)len);
	while (r == -EINTR);
	return (int)r;
}

int ma_os_mkdir(const char *path, unsigned mode)
{
	return (int)sys(SYS_mkdirat, AT_FDCWD, (long)path, mode, 0);
}

int ma_os_lstat(const char *path, struct ma_os_stat *out)
{
	struct stat st;
	int r = (int)sys(SYS_newfstatat, AT_FDCWD, (long)path, (long)&st, AT_SYMLINK_NOFOLLOW);
	if (r < 0)
		return r;
	out->mode = st.st_mode;
	out->uid = st.st_uid;
	out->is_dir = S_ISDIR(st.st_mode);
	out->is_link = S_ISLNK(st.st_mode);
	return 0;
}

uint32_t ma_os_getuid(void)
{
	return (uint32_t)sys(SYS_getuid, 0, 0, 0, 0);
}

uint64_t ma_os_realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void ma_os_unmap(void *p, size_t bytes)
{
	if (p)
		sys(SYS_munmap, (long)p, (long)bytes, 0, 0);
}

const void *ma_os_map_file(int fd, size_t *size)
{
	/* libc's fstat and mmap are bare system call wrappers (the kernel's
	 * struct stat differs between architectures): only errno needs keeping. */
	struct stat st;
	int saved = errno;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (uint64_t)st.st_size > (uint64_t)SIZE_MAX) {
		errno = saved;
		return NULL;
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	errno = saved;
	if (p == MAP_FAILED)
		return NULL;
	*size = (size_t)st.st_size;
	return p;
}

int ma_os_file_inode(int fd, uint64_t *ino)
{
	struct stat st;
	int saved = errno;
	int r = fstat(fd, &st) == 0 ? 0 : -errno;
	errno = saved;
	if (r == 0)
		*ino = (uint64_t)st.st_ino;
	return r;
}

size_t ma_os_page_size(void)
{
	unsigned long ps = getauxval(AT_PAGESZ);
	return ps ? ps : 4096;
}

static int write_loop(int fd, const char *p, size_t len)
{
	while (len) {
		long r = sys(SYS_write, fd, (long)p, (long)len, 0);
		if (r == -EINTR)
			continue;
		if (r < 0)
			return (int)r;
		if (r == 0)
			return -EIO;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

/* A pipe nobody reads must not kill the program for our sake (the summary
 * goes to stderr, which may be such a pipe): SIGPIPE stays blocked while we
 * write, and one that our write raised is taken back before it is unblocked.
 * A SIGPIPE already pending before stays pending. */
int ma_os_write_all(int fd, const void *buf, size_t len)
{
	sigset_t pipe_only, old, pending;
	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	sigemptyset(&pending);
	bool masked = sys(SYS_rt_sigprocmask, SIG_BLOCK, (long)&pipe_only, (long)&old, _NSIG / 8) == 0;
	bool was_pending = masked && sys(SYS_rt_sigpending, (long)&pending, _NSIG / 8, 0, 0) == 0 &&
	                   sigismember(&pending, SIGPIPE);
	int err = write_loop(fd, buf, len);
	if (masked) {
		if (err == -EPIPE && !was_pending) {
			struct timespec zero = { 0, 0 };
			sys(SYS_rt_sigtimedwait, (long)&pipe_only, 0, (long)&zero, _NSIG / 8);
		}
		sys(SYS_rt_sigprocmask, SIG_SETMASK, (long)&old, 0, _NSIG / 8);
	}
	return err;
}

int ma_os_open(const char *path, int flags, unsigned mode)
{
	return (int)sys(SYS_openat, AT_FDCWD, (long)path, flags | O_CLOEXEC, mode);
}

int ma_os_close(int fd)
{
	return (int)sys(SYS_close, fd, 0, 0, 0);
}

ssize_t ma_os_read_all(int fd, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		long r = sys(SYS_read, fd, (long)((char *)buf + got), (long)(len - got), 0);
		if (r == -EINTR)
			continue;
		if (r < 0)
			return r;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

ssize_t ma_os_read_file(const char *path, char *buf, size_t cap)
{
	if (cap == 0)
		return -EINVAL;
	int fd = ma_os_open(path, O_RDONLY, 0);
	if (fd < 0)
		return fd;
	ssize_t n = ma_os_read_all(fd, buf, cap - 1);
	ma_os_close(fd);
	if (n < 0)
		return n;
	buf[n] = '\0';
	return n;
}

int ma_os_link(const char *from, const char *to)
{
	return (int)syscall5(SYS_linkat, AT_FDCWD, (long)from, AT_FDCWD, (long)to, 0);
}

int ma_os_unlink(const char *path)
{
	return (int)sys(SYS_unlinkat, AT_FDCWD, (long)path, 0, 0);
}

int ma_os_open_tmpfile(const char *dir, unsigned mode)
{
	return (int)sys(SYS_openat, AT_FDCWD, (long)dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
}

int ma_os_link_fd(int fd, const char *path)
{
	char proc[32] = "/proc/self/fd/";
	char digits[12];
	int n = 0;
	unsigned v = (unsigned)fd;
	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	size_t at = strlen(proc);
	while (n)
		proc[at++] = digits[--n];
	proc[at] = '\0';
	/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the /proc link does not. */
	int r = (int)syscall5(SYS_linkat, AT_FDCWD, (long)proc, AT_FDCWD, (long)path, AT_SYMLINK_FOLLOW);
	if (r == -ENOENT && ma_os_access("/proc/self/fd", F_OK) < 0) /* no /proc */
		r = (int)syscall5(SYS_linkat, fd, (long)"", AT_FDCWD, (long)path, AT_EMPTY_PATH);
	return r;
}

int ma_os_rename_noreplace(const char *from, const char *to)
{
	return (int)syscall5(SYS_renameat2, AT_FDCWD, (long)from, AT_FDCWD, (long)to, 1 /* RENAME_NOREPLACE */);
}

int ma_os_access(const char *path, int how)
{
	return (int)sys(SYS_faccessat, AT_FDCWD, (long)path, how, 0);
}

int ma_os_is_dir(const char *path)
{
	struct stat st;
	int r = (int)sys(SYS_newfstatat, AT_FDCWD, (long)path, (long)&st, 0);
	if (r < 0)
		return r;
	return S_ISDIR(st.st_mode) ? 1 : 0;
}

ssize_t ma_os_readlink(const char *path, char *buf, size_t cap)
{
	if (cap == 0)
		return -EINVAL;
	long r = sys(SYS_readlinkat, AT_FDCWD, (long)path, (long)buf, (long)(cap - 1));
	if (r < 0)
		return r;
	buf[r] = '\0';
	return r;
}

void ma_os_sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
	sys(SYS_nanosleep, (long)&ts, 0, 0, 0);
}

void ma_os_exit_group(int status)
{
	for (;;)
		syscall(SYS_exit_group, status);
}

void ma_os_yield(void)
{
	sys(SYS_sched_yield, 0, 0, 0, 0);
}

int ma_os_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	static int (*next)(int, const struct sigaction *, struct sigaction *);
	int (*fn)(int, const struct sigaction *, struct sigaction *) = __atomic_load_n(&next, __ATOMIC_ACQUIRE);
	if (!fn) {
		fn = (int (*)(int, const struct sigaction *, struct sigaction *))dlsym(RTLD_NEXT, "sigaction");
		if (!fn)
			return -ENOSYS;
		__atomic_store_n(&next, fn, __ATOMIC_RELEASE);
	}
	int saved = errno;
	int r = fn(sig, act, old);
	if (r < 0)
		r = -errno;
	errno = saved;
	return r;
}

int ma_os_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	return (int)sys(SYS_rt_sigprocmask, how, (long)set, (long)old, _NSIG / 8);
}

int ma_os_raise(int sig)
{
	return (int)sys(SYS_tgkill, sys(SYS_getpid, 0, 0, 0, 0), sys(SYS_gettid, 0, 0, 0, 0), sig, 0);
}

int ma_os_requeue(int sig, const siginfo_t *si)
{
	if (si) {
		siginfo_t copy = *si;
		if (sys(SYS_rt_tgsigqueueinfo, sys(SYS_getpid, 0, 0, 0, 0), sys(SYS_gettid, 0, 0, 0, 0), sig,
		        (long)&copy) == 0)
			return 0;
	}
	return ma_os_raise(sig);
}

int ma_os_lift_fsize_limit(void)
{
	struct rlimit rl;
	long r = sys(SYS_prlimit64, 0, RLIMIT_FSIZE, 0, (long)&rl);
	if (r < 0 || rl.rlim_cur == rl.rlim_max)
		return (int)r;
	rl.rlim_cur = rl.rlim_max;
	return (int)sys(SYS_prlimit64, 0, RLIMIT_FSIZE, (long)&rl, 0);
}

pid_t ma_os_getpid(void)
{
	return (pid_t)sys(SYS_getpid, 0, 0, 0, 0);
}

pid_t ma_os_gettid(void)
{
	return (pid_t)sys(SYS_gettid, 0, 0, 0, 0);
}

ssize_t ma_os_getcwd(char *buf, size_t cap)
{
	long r = sys(SYS_getcwd, (long)buf, (long)cap, 0, 0);
	if (r < 0)
		return r;
	return (ssize_t)strlen(buf);
}

uint64_t ma_os_monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: no allocation, no errno on success */
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t ma_os_rss_peak_bytes(void)
{
	char buf[4096];
	if (ma_os_read_file("/proc/self/status", buf, sizeof buf) <= 0)
		return 0;
	const char *p = strstr(buf, "VmHWM:");
	if (!p)
		return 0;
	p += 6;
	while (*p == ' ' || *p == '\t')
		p++;
	uint64_t kib = 0;
	while (*p >= '0' && *p <= '9')
		kib = kib * 10 + (uint64_t)(*p++ - '0');
	return kib * 1024;
}

/* Where process_vm_readv is missing (ENOSYS: qemu-user, some seccomp
 * filters): the bytes through a pipe of this call's own, whose write(2)
 * copies from addr and fails with EFAULT where it is not readable. */
static int no_vm_readv;

static int read_through_pipe(uintptr_t addr, void *buf, size_t len)
{
	int fds[2];
	if (len > 4096 || sys(SYS_pipe2, (long)fds, O_CLOEXEC, 0, 0) != 0)
		return -EFAULT;
	long w = sys(SYS_write, fds[1], (long)addr, (long)len, 0);
	long r = w == (long)len ? sys(SYS_read, fds[0], (long)buf, (long)len, 0) : -EFAULT;
	sys(SYS_close, fds[0], 0, 0, 0);
	sys(SYS_close, fds[1], 0, 0, 0);
	return r == (long)len ? 0 : -EFAULT;
}

int ma_os_read_checked(uintptr_t addr, void *buf, size_t len)
{
	if (__builtin_expect(__atomic_load_n(&no_vm_readv, __ATOMIC_RELAXED), 0))
		return read_through_pipe(addr, buf, len);
	struct iovec local = { buf, len }, remote = { (void *)addr, len };
	int saved = errno;
	ssize_t r = syscall(SYS_process_vm_readv, (long)syscall(SYS_getpid), &local, 1UL, &remote, 1UL, 0UL);
	int err = errno;
	errno = saved;
	if (__builtin_expect(r < 0 && err == ENOSYS, 0)) {
		__atomic_store_n(&no_vm_readv, 1, __ATOMIC_RELAXED);
		return read_through_pipe(addr, buf, len);
	}
	return r == (ssize_t)len ? 0 : -EFAULT;
}

int ma_os_membarrier_register(void)
{
	return (int)sys(SYS_membarrier, 1 << 4 /* MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED */, 0, 0, 0);
}

int ma_os_membarrier(void)
{
	return (int)sys(SYS_membarrier, 1 << 3 /* MEMBARRIER_CMD_PRIVATE_EXPEDITED */, 0, 0, 0);
}

uint64_t ma_os_rss_now_bytes(void)
{
	char buf[128];
	if (ma_os_read_file("/proc/self/statm", buf, sizeof buf) <= 0)
		return 0;
	const char *s = buf;
	while (*s && *s != ' ')
		s++;
	uint64_t pages = 0;
	while (*++s >= '0' && *s <= '9')
		pages = pages * 10 + (uint64_t)(*s - '0');
	return pages * ma_os_page_size();
}

uint64_t ma_os_random64(void)
{
	uint64_t v = 0;
	if (sys(SYS_getrandom, (long)&v, sizeof v, 0x1 /* GRND_NONBLOCK */, 0) == (long)sizeof v)
		return v;
	const unsigned char *r = (const unsigned char *)getauxval(AT_RANDOM);
	if (r)
		memcpy(&v, r, sizeof v);
	return v ^ ma_os_monotonic_ns();
}

int ma_os_is_secure(void)
{
	return getauxval(AT_SECURE) != 0;
}

int ma_os_each_module(int (*fn)(struct dl_phdr_info *info, size_t size, void *arg), void *arg)
{
	int saved = errno;
	int r = dl_iterate_phdr(fn, arg);
	errno = saved;
	return r;
}
