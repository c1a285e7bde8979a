/* SPDX-License-Identifier: Apache-2.0 */
/*
 * exec.c: the exec family, and _exit.
 *
 * _exit and _Exit skip destructors (dash and many daemons' children leave
 * that way), so they write the exit report first, like exit() would.
 *
 * The exec family.  exec replaces the image without running
 * destructors, so the allocations made before it would be lost.  Each
 * wrapper writes this image's report first (marked "exec": true); if the
 * exec fails, that report is removed again and the process goes on to
 * write its complete report at exit.  The new image, with LD_PRELOAD
 * inherited, writes its own report under the same pid: the no-overwrite
 * rule gives it a suffixed name.
 *
 * glibc's execl/execlp/execv/execvp call execve internally, not through
 * the PLT, so every variant is wrapped here; the variadic ones build their
 * argv on the stack.
 */
#define _GNU_SOURCE
#include <alloca.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <unistd.h>

#include "global.h"
#include "os.h"
#include "internal.h"
#include "options.h"
#include "report.h"
#include "state.h"

extern char **environ;

static void *next(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

/* Writes the pre-exec report; returns true (and its path) when one was written. */
static bool before(char *path, size_t cap)
{
	path[0] = '\0';
	if (ma_load_acquire(&ma_g.state) != MA_ACTIVE || !ma_g.opt.report)
		return false;
	/* vfork/posix_spawn children share the parent's memory: not their report. */
	if (ma_os_getpid() != ma_g.pid)
		return false;
	ma_state_exec_begin(); /* the image ends here: its state file goes (back if exec fails) */
	int saved = errno;
	ma_guard_enter();
	bool ok = ma_report_for_exec(path, cap) == 0;
	ma_guard_leave();
	errno = saved;
	return ok;
}

static int after_failure(bool wrote, const char *path, int r)
{
	ma_state_exec_failed();
	if (wrote) {
		int saved = errno;
		ma_report_exec_failed(path);
		errno = saved;
	}
	return r;
}

#define MA_EXEC_WRAP(call)                                         \
	do {                                                       \
		char path[MA_PATH_MAX];                            \
		bool wrote = before(path, sizeof path);            \
		return after_failure(wrote, path, (call));         \
	} while (0)

MA_EXPORT int execve(const char *file, char *const argv[], char *const envp[])
{
	static int (*real)(const char *, char *const[], char *const[]);
	if (!real)
		real = (int (*)(const char *, char *const[], char *const[]))next("execve");
	MA_EXEC_WRAP(real(file, argv, envp));
}

MA_EXPORT int execv(const char *file, char *const argv[])
{
	return execve(file, argv, environ);
}

MA_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	static int (*real)(const char *, char *const[], char *const[]);
	if (!real)
		real = (int (*)(const char *, char *const[], char *const[]))next("execvpe");
	MA_EXEC_WRAP(real(file, argv, envp));
}

MA_EXPORT int execvp(const char *file, char *const argv[])
{
	return execvpe(file, argv, environ);
}

MA_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	static int (*real)(int, char *const[], char *const[]);
	if (!real)
		real = (int (*)(int, char *const[], char *const[]))next("fexecve");
	MA_EXEC_WRAP(real(fd, argv, envp));
}

/* Collects a NULL-terminated variadic list after `arg0` into a stack array. */
#define MA_VARARGS_TO_ARGV(arg0, argv, want_envp, envp)                             \
	size_t n_ = 1;                                                         \
	va_list ap_;                                                           \
	va_start(ap_, arg0);                                                   \
	while (va_arg(ap_, const char *))                                      \
		n_++;                                                          \
	va_end(ap_);                                                           \
	char **argv = alloca((n_ + 1) * sizeof(char *));                       \
	va_start(ap_, arg0);                                                   \
	argv[0] = (char *)arg0;                                                \
	for (size_t i_ = 1; i_ <= n_; i_++)                                    \
		argv[i_] = va_arg(ap_, char *);                                \
	if (want_envp)                                                         \
		envp = va_arg(ap_, char **);                                   \
	va_end(ap_)

MA_EXPORT int execl(const char *path, const char *arg, ...)
{
	char **envp = environ;
	MA_VARARGS_TO_ARGV(arg, argv, false, envp);
	return execve(path, argv, envp);
}

MA_EXPORT int execlp(const char *file, const char *arg, ...)
{
	char **envp = environ;
	MA_VARARGS_TO_ARGV(arg, argv, false, envp);
	return execvpe(file, argv, envp);
}

MA_EXPORT int execle(const char *path, const char *arg, ...)
{
	char **envp = NULL;
	MA_VARARGS_TO_ARGV(arg, argv, true, envp);
	return execve(path, argv, envp);
}

/* Writes the exit report, as the destructor would, for exits that skip it. */
static void report_before_exit(void)
{
	if (ma_load_acquire(&ma_g.state) != MA_ACTIVE || ma_os_getpid() != ma_g.pid)
		return;
	ma_report_at_exit_once();
}

MA_EXPORT __attribute__((noreturn)) void _exit(int status)
{
	static void (*real)(int);
	if (!real)
		real = (void (*)(int))next("_exit");
	report_before_exit();
	if (real)
		real(status);
	ma_os_exit_group(status);
}

MA_EXPORT __attribute__((noreturn)) void _Exit(int status)
{
	_exit(status);
}
