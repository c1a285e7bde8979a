/* SPDX-License-Identifier: Apache-2.0 */
/*
 * preload_signal.c: the shim of the sigaction family (fatal.h).
 *
 * glibc's signal, sysv_signal, sigset, sigignore and siginterrupt call its
 * sigaction internally, not through the PLT, so each is replaced here and
 * built on ma_fatal_sigaction the way glibc 2.36 builds it on sigaction.
 * Nothing here allocates: all of it is async-signal-safe where libc's is.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "fatal.h"
#include "internal.h"

/* SA_INTERRUPT: obsolete, accepted and ignored by the kernel (glibc still sets it). */
#ifndef SA_INTERRUPT
#define SA_INTERRUPT 0x20000000
#endif

/* Signals whose signal() handlers interrupt system calls (siginterrupt(sig, 1)),
 * glibc's _sigintr: ours, since both functions that use it are ours. */
static sigset_t interrupting;

MA_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	return ma_fatal_sigaction(sig, act, old);
}

MA_EXPORT int __sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	return ma_fatal_sigaction(sig, act, old);
}

static sighandler_t install(int sig, sighandler_t handler, int flags, bool mask_self)
{
	if (handler == SIG_ERR || sig < 1 || sig >= NSIG) {
		errno = EINVAL;
		return SIG_ERR;
	}
	struct sigaction act, old;
	memset(&act, 0, sizeof act);
	act.sa_handler = handler;
	sigemptyset(&act.sa_mask);
	if (mask_self)
		sigaddset(&act.sa_mask, sig);
	act.sa_flags = flags;
	if (ma_fatal_sigaction(sig, &act, &old) < 0)
		return SIG_ERR;
	return old.sa_handler;
}

/* BSD semantics (glibc's signal): the handler masks its signal, calls restart. */
static sighandler_t bsd(int sig, sighandler_t handler)
{
	int flags = sig >= 1 && sig < NSIG && sigismember(&interrupting, sig) == 1 ? 0 : SA_RESTART;
	return install(sig, handler, flags, true);
}

MA_EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
	return bsd(sig, handler);
}

MA_EXPORT sighandler_t bsd_signal(int sig, sighandler_t handler)
{
	return bsd(sig, handler);
}

MA_EXPORT sighandler_t ssignal(int sig, sighandler_t handler)
{
	return bsd(sig, handler);
}

/* System V semantics: one-shot, not masked, calls interrupted. */
MA_EXPORT sighandler_t sysv_signal(int sig, sighandler_t handler)
{
	return install(sig, handler, (SA_RESETHAND | SA_NODEFER | SA_INTERRUPT) & ~SA_RESTART, false);
}

MA_EXPORT sighandler_t __sysv_signal(int sig, sighandler_t handler)
{
	return sysv_signal(sig, handler);
}

MA_EXPORT sighandler_t sigset(int sig, sighandler_t disp)
{
	sigset_t set, oset;
	struct sigaction act, old;
	if (sig < 1 || sig >= NSIG || disp == SIG_ERR) {
		errno = EINVAL;
		return SIG_ERR;
	}
	sigemptyset(&set);
	sigaddset(&set, sig);
	if (disp == SIG_HOLD) {
		if (sigprocmask(SIG_BLOCK, &set, &oset) < 0)
			return SIG_ERR;
		if (sigismember(&oset, sig))
			return SIG_HOLD;
		if (ma_fatal_sigaction(sig, NULL, &old) < 0)
			return SIG_ERR;
		return old.sa_handler;
	}
	memset(&act, 0, sizeof act);
	act.sa_handler = disp;
	sigemptyset(&act.sa_mask);
	act.sa_flags = 0;
	if (ma_fatal_sigaction(sig, &act, &old) < 0)
		return SIG_ERR;
	if (sigprocmask(SIG_UNBLOCK, &set, &oset) < 0)
		return SIG_ERR;
	return sigismember(&oset, sig) ? SIG_HOLD : old.sa_handler;
}

MA_EXPORT int sigignore(int sig)
{
	struct sigaction act;
	memset(&act, 0, sizeof act);
	act.sa_handler = SIG_IGN;
	sigemptyset(&act.sa_mask);
	return ma_fatal_sigaction(sig, &act, NULL);
}

MA_EXPORT int siginterrupt(int sig, int interrupt)
{
	struct sigaction act;
	if (sig < 1 || sig >= NSIG) {
		errno = EINVAL;
		return -1;
	}
	if (ma_fatal_sigaction(sig, NULL, &act) < 0)
		return -1;
	if (interrupt) {
		sigaddset(&interrupting, sig);
		act.sa_flags &= ~SA_RESTART;
	} else {
		sigdelset(&interrupting, sig);
		act.sa_flags |= SA_RESTART;
	}
	return ma_fatal_sigaction(sig, &act, NULL) < 0 ? -1 : 0;
}
