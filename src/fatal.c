/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fatal.c: the handler of fatal signals and the dispositions the program
 * believes it has (fatal.h).
 *
 * Bookkeeping.  For each hookable signal, `hooked` says that our handler is
 * the kernel's disposition while the program's is the default one, and
 * `view` is what the kernel would report for it (SIG_DFL with the mask and
 * flags the program last gave, as the kernel normalised them).  Changes go
 * through one lock taken with every signal blocked, so a handler of this
 * thread can never find it held; sigaction is not a hot path.
 *
 * The handler.  One thread at a time owns the fatal path (`owner`):
 * - a fault inside that path (the report writer crashed) ends the process
 *   at once with the original signal: no loop, no second report;
 * - an asynchronous signal meanwhile is dropped: the process is ending;
 * - another thread's signal waits for the owner to end the process;
 * - a signal that interrupts its own thread inside the library (the guard:
 *   a report being written, dlclose's bookkeeping) is deferred until the
 *   guard is left, where it is raised again (thread.h);
 * - a child sharing our memory (vfork, posix_spawn) just dies: not its report.
 * The report is the exit report: it freezes counting, waiting for other
 * threads' updates, but not for an update of the interrupted thread itself
 * (ma_init_freeze skips the caller), so a handler never waits for itself.
 *
 * The handler runs on the interrupted thread's stack (no SA_ONSTACK): a
 * SIGSEGV from a stack overflow cannot run it, and the kernel ends the
 * process with SIGSEGV as it would have, without a report.
 */
#define _GNU_SOURCE
#include "fatal.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include "atomic.h"
#include "fmt.h"
#include "init.h"
#include "os.h"
#include "report.h"

/* Room for the real-time signals too (_NSIG is 65 on Linux). */
#define MA_NSIG 65

static struct {
	bool hooked;
	struct sigaction view;
} slots[MA_NSIG];

static bool installed;    /* ma_fatal_install ran: the shim keeps the books */
static ma_au32 lock_word; /* taken with all signals blocked */
static ma_au32 owner;     /* thread id in the fatal path, 0 = none */
static int original;      /* the signal that owner is handling */
static bool owner_reset_registered;

/* ---- which signals ------------------------------------------------------ */

bool ma_fatal_is_hookable(int sig)
{
	switch (sig) {
	case SIGHUP: case SIGINT: case SIGQUIT: case SIGILL: case SIGTRAP: case SIGABRT:
	case SIGBUS: case SIGFPE: case SIGUSR1: case SIGSEGV: case SIGUSR2: case SIGPIPE:
	case SIGALRM: case SIGTERM: case SIGXCPU: case SIGXFSZ: case SIGVTALRM: case SIGPROF:
	case SIGIO: case SIGSYS:
#ifdef SIGSTKFLT
	case SIGSTKFLT:
#endif
#ifdef SIGPWR
	case SIGPWR:
#endif
		return true;
	default:
		/* SIGRTMIN is above the two that glibc keeps for itself (cancel, setxid). */
		return sig >= SIGRTMIN && sig <= SIGRTMAX && sig < MA_NSIG;
	}
}

/* A fault raised by an instruction (a kernel si_code): inside the fatal
 * path it means the library crashed. */
static bool is_fault(int sig, const siginfo_t *si)
{
	return (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL) && si &&
	       si->si_code > 0;
}

/* ---- the lock ----------------------------------------------------------- */

static void lock(sigset_t *saved)
{
	sigset_t all;
	sigfillset(&all);
	ma_os_sigmask(SIG_BLOCK, &all, saved);
	uint32_t no = 0;
	while (!ma_cas_acq_rel(&lock_word, &no, 1)) {
		no = 0;
		ma_os_yield();
	}
}

static void unlock(const sigset_t *saved)
{
	ma_store_release(&lock_word, 0);
	ma_os_sigmask(SIG_SETMASK, saved, NULL);
}

/* ---- the handler -------------------------------------------------------- */

static void on_fatal(int sig, siginfo_t *si, void *ctx);

static void ours(struct sigaction *sa)
{
	memset(sa, 0, sizeof *sa);
	sa->sa_sigaction = on_fatal;
	sa->sa_flags = SA_SIGINFO | SA_RESTART; /* a deferred signal lets the library's write resume */
	sigemptyset(&sa->sa_mask);
}

/*
 * Makes the process die of sig as its default action would, with the same
 * siginfo: the default action restored, the signal queued again to this
 * thread, where it stays pending (blocked while its handler runs).  The
 * handler then returns: the return restores the interrupted context and its
 * mask, and the signal is delivered there, before any of the program's
 * instructions runs again.  So the core (where there is one) holds the
 * registers of the faulting instruction or of the interrupted point, and the
 * original signal information, exactly as without us.
 */
static void arm_death(int sig, const siginfo_t *si)
{
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	ma_os_sigaction(sig, &dfl, NULL);
	ma_os_requeue(sig, si);
}

/* The same at once, from inside another handler (its signal is blocked until
 * the outer handler returns, which a crash in it never does). */
static void die_now(int sig)
{
	arm_death(sig, NULL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	ma_os_sigmask(SIG_UNBLOCK, &set, NULL); /* delivered here */
	ma_os_exit_group(128 + sig);            /* only a tracer that swallows it gets here */
}

static void on_fatal(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	int saved_errno = errno;
	/* A vfork child (posix_spawn) shares our memory: touch nothing. */
	if (ma_os_getpid() != ma_g.pid) {
		arm_death(sig, si);
		return;
	}
	uint32_t me = (uint32_t)ma_os_gettid();
	for (unsigned ms = 0;; ms++) {
		uint32_t none = 0;
		if (ma_cas_acq_rel(&owner, &none, me))
			break;
		if (none == me) {
			if (is_fault(sig, si)) { /* the fatal path itself crashed: no second try */
				char name[32];
				ma_report_signal_name(original, name, sizeof name);
				ma_warn("crashed while writing the report for ", name, "; no report", NULL);
				die_now(original);
			}
			errno = saved_errno; /* dying already: nothing to add */
			return;
		}
		/* Another thread owns the fatal path: it ends the process.  Bounded:
		 * a stuck owner must not keep the process alive forever. */
		if (ms >= 30000) {
			arm_death(sig, si);
			return;
		}
		ma_os_sleep_ns(1000000);
	}
	original = sig;
	if (ma_tls.guard) {
		/* This thread is inside the library (a report, dlclose's bookkeeping,
		 * its registration): its locks may be held.  A crash there is ours:
		 * no report.  Any other signal waits until the guard is left
		 * (ma_guard_leave raises it again). */
		if (is_fault(sig, si)) {
			arm_death(sig, si);
			return;
		}
		ma_tls.fatal_pending = sig;
		ma_store_release(&owner, 0);
		errno = saved_errno;
		return;
	}
	if (ma_load_acquire(&ma_g.state) == MA_ACTIVE) {
		ma_store_release(&ma_g.fatal_signal, (uint32_t)sig);
		if (sig == SIGXFSZ)
			ma_os_lift_fsize_limit(); /* else the report is too large a file too */
		ma_report_at_exit_once();
		/* Another thread may be writing the exit report (exit() raced with
		 * the signal): let it finish, within reason. */
		for (unsigned ms = 0; ms < 30000 && ma_load_acquire(&ma_g.reporting); ms++)
			ma_os_sleep_ns(1000000);
	}
	arm_death(sig, si);
	errno = saved_errno;
}

static void after_fork_child(void)
{
	/* fork() from a handler of the fatal path cannot happen, but a fork
	 * racing it in another thread would copy the owner. */
	ma_store_relaxed(&owner, 0);
	original = 0;
	ma_store_relaxed(&ma_g.fatal_signal, 0);
}

/* ---- the program's view ------------------------------------------------- */

/*
 * Installs our handler for sig and records as the program's view what the
 * kernel would hold for `want` (SIG_DFL with the program's mask and flags):
 * the program's mask and flags are given to the kernel once with our handler
 * (never leaving the signal at SIG_DFL without us), read back normalised,
 * then our own are set.  `exact`, if given, is the view instead.  Locked.
 */
static int hook(int sig, const struct sigaction *want, const struct sigaction *exact)
{
	struct sigaction probe, norm, mine;
	ours(&mine);
	probe = *want;
	probe.sa_sigaction = on_fatal;
	probe.sa_flags |= SA_SIGINFO;
	int r = ma_os_sigaction(sig, &probe, NULL);
	if (r == 0)
		r = ma_os_sigaction(sig, &mine, &norm);
	if (r < 0)
		return r;
	norm.sa_handler = SIG_DFL;
	norm.sa_flags = (norm.sa_flags & ~SA_SIGINFO) | (want->sa_flags & SA_SIGINFO);
	slots[sig].view = exact ? *exact : norm;
	slots[sig].hooked = true;
	return 0;
}

/* Joins boot from below's hook: dying of a signal writes the report too,
 * when there is one to write.  Boot reads the options this needs. */
static void install_at_boot(void)
{
	if (ma_g.opt.report || ma_g.opt.dhat[0] || !ma_g.opt.quiet)
		ma_fatal_install();
}

__attribute__((constructor)) static void fatal_join_boot(void)
{
	ma_init_after_boot(install_at_boot);
}

void ma_fatal_install(void)
{
	sigset_t saved;
	lock(&saved);
	for (int sig = 1; sig < MA_NSIG; sig++) {
		struct sigaction cur;
		if (!ma_fatal_is_hookable(sig) || ma_os_sigaction(sig, NULL, &cur) < 0)
			continue;
		/* SIG_IGN inherited (nohup, a shell's SIGPIPE) or a handler set
		 * before us: the program's business, never hooked.  The view is the
		 * kernel's start-up state exactly (no flags, not even SA_RESTORER). */
		if (cur.sa_handler != SIG_DFL)
			continue;
		hook(sig, &cur, &cur);
	}
	__atomic_store_n(&installed, true, __ATOMIC_RELEASE);
	unlock(&saved);
	if (!owner_reset_registered) {
		owner_reset_registered = true;
		pthread_atfork(NULL, NULL, after_fork_child);
	}
}

int ma_fatal_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (!ma_fatal_is_hookable(sig) || !__atomic_load_n(&installed, __ATOMIC_ACQUIRE)) {
		int r = ma_os_sigaction(sig, act, old);
		if (r < 0) {
			errno = -r;
			return -1;
		}
		return 0;
	}
	/* act and old may be the same struct. */
	struct sigaction want, prev;
	if (act)
		want = *act;
	/* A vfork child (posix_spawn, a shell) shares these books with its
	 * parent but has its own dispositions: it reads the books, never writes
	 * them, and hooks nothing (it is about to exec or _exit). */
	bool shared = ma_os_getpid() != ma_g.pid;
	sigset_t saved;
	lock(&saved);
	int r = 0;
	if (slots[sig].hooked) {
		prev = slots[sig].view;
		if (act && shared) {
			r = ma_os_sigaction(sig, &want, NULL);
		} else if (act && want.sa_handler == SIG_DFL) {
			r = hook(sig, &want, NULL);
		} else if (act) {
			r = ma_os_sigaction(sig, &want, NULL);
			if (r == 0)
				slots[sig].hooked = false;
		}
	} else {
		r = ma_os_sigaction(sig, act ? &want : NULL, &prev);
		if (r == 0 && act && want.sa_handler == SIG_DFL && !shared)
			hook(sig, &want, NULL); /* on failure the kernel keeps the program's SIG_DFL */
	}
	unlock(&saved);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	if (old)
		*old = prev;
	return 0;
}
