/* SPDX-License-Identifier: Apache-2.0 */
/*
 * os.h: the OS contract.  Everything libmodalloc asks of the kernel goes
 * through these functions, implemented in os/<system>.c with raw system
 * calls wherever libc could allocate or re-enter the shim.  Each returns 0
 * (or a count) on success and a negative errno on failure; none touches
 * errno, none allocates.
 */
#ifndef MA_OS_H
#define MA_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/types.h>

/* Anonymous private read-write memory, or NULL. */
void *ma_os_map(size_t bytes);
/* An address range reserved, inaccessible (PROT_NONE), or NULL. */
void *ma_os_reserve(size_t bytes);
/* Maps [off, off + len) of fd shared, read-write, exactly at addr (MAP_FIXED,
 * replacing what was there): 0 or -errno. */
int ma_os_map_shared_at(void *addr, size_t len, int fd, uint64_t off);
/* Private anonymous zeroed memory exactly at addr (MAP_FIXED): 0 or -errno. */
int ma_os_map_anon_at(void *addr, size_t len);
/* fallocate(2) mode 0 (blocks really allocated: a full tmpfs says ENOSPC
 * now rather than SIGBUS later): 0 or -errno. */
int ma_os_fallocate(int fd, uint64_t off, uint64_t len);
/* mkdir(2): 0 or -errno. */
int ma_os_mkdir(const char *path, unsigned mode);
/* lstat(2) facts of path (not following a symlink): 0 or -errno. */
struct ma_os_stat {
	unsigned mode;   /* st_mode, type bits included */
	uint32_t uid;
	bool is_dir, is_link;
};
int ma_os_lstat(const char *path, struct ma_os_stat *st);
uint32_t ma_os_getuid(void);
/* CLOCK_REALTIME in ns. */
uint64_t ma_os_realtime_ns(void);
void ma_os_unmap(void *p, size_t bytes);
size_t ma_os_page_size(void);
/* A whole regular, non-empty file mapped read-only (private); its size in
 * *size.  NULL otherwise.  Unmap with ma_os_unmap. */
const void *ma_os_map_file(int fd, size_t *size);
/* The inode number of an open file: 0 or -errno. */
int ma_os_file_inode(int fd, uint64_t *ino);

/* write(2) until done or a hard error; returns 0 or -errno. */
int ma_os_write_all(int fd, const void *buf, size_t len);
/* open(2) with O_CLOEXEC added; returns an fd or -errno. */
int ma_os_open(const char *path, int flags, unsigned mode);
int ma_os_close(int fd);
/* read(2) until len bytes or EOF; returns bytes read or -errno. */
ssize_t ma_os_read_all(int fd, void *buf, size_t len);
/* Reads a whole small file (/proc) into buf, NUL-terminated; returns its length or -errno. */
ssize_t ma_os_read_file(const char *path, char *buf, size_t cap);
int ma_os_link(const char *from, const char *to);
int ma_os_unlink(const char *path);
/* An unnamed regular file in directory dir (open(2) O_TMPFILE|O_WRONLY),
 * or -errno: -EOPNOTSUPP/-EISDIR/-EINVAL where the file system has none. */
int ma_os_open_tmpfile(const char *dir, unsigned mode);
/* Gives the file open as fd the name path, never replacing anything there
 * (linkat through /proc/self/fd, else AT_EMPTY_PATH): 0 or -errno (-EEXIST). */
int ma_os_link_fd(int fd, const char *path);
/* renameat2(RENAME_NOREPLACE): 0 or -errno (-EINVAL/-ENOSYS where unsupported). */
int ma_os_rename_noreplace(const char *from, const char *to);
/* access(2) with the real ids: 0 or -errno. */
int ma_os_access(const char *path, int how);
/* 1 if path is a directory (following symlinks), 0 if something else, or -errno. */
int ma_os_is_dir(const char *path);
/* readlink(2) into buf, NUL-terminated: its length, or -errno. */
ssize_t ma_os_readlink(const char *path, char *buf, size_t cap);
/* Sleeps ns nanoseconds (EINTR ends the sleep early). */
void ma_os_sleep_ns(uint64_t ns);
/* exit_group(2): ends every thread of the process now. */
__attribute__((noreturn)) void ma_os_exit_group(int status);

/* sched_yield(2): lets another thread run (bounded waits only). */
void ma_os_yield(void);
/*
 * Signals (fatal.c).  ma_os_sigaction is the C library's sigaction (the next
 * definition after ours: it supplies the return trampoline the kernel needs),
 * never the shim.  ma_os_sigmask is rt_sigprocmask(2) on the calling thread
 * (old may be NULL).  ma_os_raise sends sig to the calling thread (tgkill).
 */
int ma_os_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
int ma_os_sigmask(int how, const sigset_t *set, sigset_t *old);
int ma_os_raise(int sig);
/* Queues sig to the calling thread again with the siginfo it came with
 * (rt_tgsigqueueinfo: allowed to oneself whatever si_code), or plainly
 * (tgkill) when si is NULL or that fails. */
int ma_os_requeue(int sig, const siginfo_t *si);
/* Raises the soft RLIMIT_FSIZE to the hard one (a report can be written
 * after SIGXFSZ): 0 or -errno. */
int ma_os_lift_fsize_limit(void);

pid_t ma_os_getpid(void);
pid_t ma_os_gettid(void);
/* Current working directory into buf; returns its length or -errno. */
ssize_t ma_os_getcwd(char *buf, size_t cap);
uint64_t ma_os_monotonic_ns(void);
/* The process's peak resident set in bytes (VmHWM), or 0 if unknown. */
uint64_t ma_os_rss_peak_bytes(void);
/* Copies len bytes at addr of this process without faulting: 0, or -EFAULT
 * when any of it is not mapped readable (process_vm_readv on ourselves). */
int ma_os_read_checked(uintptr_t addr, void *buf, size_t len);
/* membarrier(2), private expedited: register once, then issue.  0 or -errno. */
int ma_os_membarrier_register(void);
int ma_os_membarrier(void);
/* The process's resident set now, in bytes, or 0. */
uint64_t ma_os_rss_now_bytes(void);
/* A random 64-bit value from the kernel (AT_RANDOM or getrandom). */
uint64_t ma_os_random64(void);
/* Non-zero if the process runs setuid/setgid (AT_SECURE). */
int ma_os_is_secure(void);

/* The loader's list of loaded modules (dl_iterate_phdr(3)): fn is called
 * for each until it returns non-zero, which is then returned.  Takes the
 * loader's lock: never call it where that lock may be held by a thread
 * waiting for us.  `struct dl_phdr_info` is <link.h>'s. */
struct dl_phdr_info;
int ma_os_each_module(int (*fn)(struct dl_phdr_info *info, size_t size, void *arg), void *arg);

#endif
