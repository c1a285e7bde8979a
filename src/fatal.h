/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fatal.h: reports for programs that die of a catchable signal.
 *
 * Every signal whose default action ends the process (HUP, INT, QUIT, ILL,
 * TRAP, ABRT, BUS, FPE, USR1, SEGV, USR2, PIPE, ALRM, TERM, STKFLT, XCPU,
 * XFSZ, VTALRM, PROF, IO, PWR, SYS and the real-time signals) gets our
 * handler while its disposition is the default one.  The handler writes the
 * exit report (marked "signal") and then lets the process die of the same
 * signal: the default action restored, the signal queued again to its
 * thread with its siginfo, and the handler returns, so that it is delivered
 * where it interrupted the program: the parent sees the same status and the
 * core dump is the same (registers, siginfo).
 *
 * The program sees none of it: the shim (preload_signal.c) answers the
 * sigaction family from the disposition the program would have (SIG_DFL, the
 * mask and flags it set), a handler or SIG_IGN it installs replaces ours, and
 * SIG_DFL set again brings ours back.  A signal ignored at start-up (nohup, a
 * shell's SIGPIPE) stays ignored and is never hooked; a handler never
 * survives exec, so nothing of ours is inherited by the next image.
 */
#ifndef MA_FATAL_H
#define MA_FATAL_H

#include <signal.h>
#include <stdbool.h>

/* At start-up (init.c, after the options): hooks every signal still at SIG_DFL. */
void ma_fatal_install(void);

/*
 * sigaction as the program sees it: 0, or -1 with errno set (libc's
 * contract).  Signals we do not hook, or before ma_fatal_install, go
 * straight to the C library.
 */
int ma_fatal_sigaction(int sig, const struct sigaction *act, struct sigaction *old);

/* True if sig ends the process by default and is one we may hook. */
bool ma_fatal_is_hookable(int sig);

#endif
