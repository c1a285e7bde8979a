/* SPDX-License-Identifier: Apache-2.0 */
/*
 * init.c: process lifecycle: start-up, thread registration and exit, fork,
 * and the freeze before the exit report.
 */
#define _GNU_SOURCE
#include "init.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "block.h"
#include "counters.h"
#include "fmt.h"
#include "os.h"
#include "real.h"
#include "report_path.h"
#include "state.h"
#include "tier2.h"

static pthread_key_t thread_key;
extern char **environ;

/* A record's thread is done with it: pending counts flushed, back to the pool. */
static void retire(struct ma_thread *t)
{
	ma_tier2_thread_exit(t);
	ma_live_release(t);
}

/* Runs when a registered thread exits: its record goes back to the pool. */
static void thread_exit(void *rec)
{
	struct ma_thread *t = rec;
	if (ma_tls.guard)
		ma_tls.held = NULL;
	else
		ma_tls.rec = NULL;
	ma_tls.state = MA_TLS_EXITED;
	retire(t);
}

static void take_record(struct ma_thread *t)
{
	ma_hdr_keys_set(t, ma_g.epoch);
	t->is_owner = false;
	t->base_blocks = ma_load_relaxed(&t->blocks);
	t->base_bytes = ma_load_relaxed(&t->bytes);
	t->base_frees = ma_load_relaxed(&t->frees);
	t->base_freed_bytes = ma_load_relaxed(&t->freed_bytes);
}

static void thread_started(struct ma_thread *t)
{
	uint32_t no = 0;
	take_record(t);
	t->is_owner = ma_cas_acq_rel(&ma_g.owner_taken, &no, 1);
	if (t->is_owner)
		ma_live_set_owner(t);
	/* Key indices below 32 live inside the thread descriptor: no allocation.
	 * Above that glibc may allocate, which the guard sends untracked. */
	pthread_setspecific(thread_key, t);
}

void ma_init_records_after_fork(struct ma_thread *self, uint16_t epoch)
{
	ma_registry_reset_after_fork(self);
	if (self) {
		ma_hdr_keys_set(self, epoch);
		self->is_owner = true;
	}
	ma_live_set_owner(self);
}

static void after_fork_child(void)
{
	ma_g.pid = ma_os_getpid();
	/* First: the pages shared with the parent's state file become the child's own. */
	ma_state_after_fork();
	struct ma_thread *self = ma_thread_self();
	ma_g.epoch++;
	ma_init_records_after_fork(self, ma_g.epoch);
	ma_live_reset();
	ma_store_relaxed(&ma_g.owner_taken, self != NULL);
	ma_store_relaxed(&ma_g.reporting, 0);
	ma_store_relaxed(&ma_g.exit_reported, 0);
	ma_store_relaxed(&ma_g.mode, MA_MODE_COUNTING());
	ma_tier2_after_fork(self);
	ma_live_timeline_start();
}

/*
 * The environment, before libc has set environ (the dynamic linker can call
 * malloc that early): read /proc/self/environ into mapped memory.  The
 * mapping is kept: option strings are copied out, but it is small and once.
 */
static char **environment(void)
{
	if (environ)
		return environ;
	enum { CAP = 256 * 1024, SLOTS = 4096 };
	char *buf = ma_os_map(CAP);
	char **vec = ma_os_map(SLOTS * sizeof(char *));
	if (!buf || !vec)
		return NULL;
	ssize_t n = ma_os_read_file("/proc/self/environ", buf, CAP);
	size_t k = 0;
	for (ssize_t i = 0; n > 0 && i < n && k + 1 < SLOTS; i += (ssize_t)strlen(buf + i) + 1)
		vec[k++] = buf + i;
	vec[k] = NULL;
	return vec;
}

static void read_cmdline(void)
{
	char raw[sizeof ma_g.cmd];
	ssize_t n = ma_os_read_file("/proc/self/cmdline", raw, sizeof raw);
	if (n <= 0)
		return;
	/* Arguments are NUL-separated; join them with spaces as Valgrind does. */
	while (n > 0 && raw[n - 1] == '\0')
		n--;
	for (ssize_t i = 0; i < n; i++)
		ma_g.cmd[i] = raw[i] ? raw[i] : ' ';
	ma_g.cmd[n] = '\0';
}

/* The state file (state.h): before the first record is claimed, so every
 * record is in it; the root (ma_live) mapped over. */
static void open_state(char **envp)
{
	ma_state_open(envp);
	struct ma_state_layout l = {
		.thread_bytes = sizeof(struct ma_thread),
		.t_blocks = offsetof(struct ma_thread, blocks),
		.t_bytes = offsetof(struct ma_thread, bytes),
		.t_frees = offsetof(struct ma_thread, frees),
		.t_freed_bytes = offsetof(struct ma_thread, freed_bytes),
		.t_calls = offsetof(struct ma_thread, calls),
		.t_ncalls = MA_CALL_COUNT,
		.t_inherited_frees = offsetof(struct ma_thread, inherited_frees),
		.t_inherited_freed_bytes = offsetof(struct ma_thread, inherited_freed_bytes),
		.t_foreign_frees = offsetof(struct ma_thread, foreign_frees),
		.t_failed = offsetof(struct ma_thread, failed),
		.t_in_use = offsetof(struct ma_thread, in_use),
		.root_bytes = sizeof ma_live,
		.r_peak_bytes = offsetof(struct ma_live, peak.bytes),
		.r_peak_blocks = offsetof(struct ma_live, peak.blocks),
	};
	ma_state_describe(&l);
	ma_state_attach_root(&ma_live, sizeof ma_live);
}

/* The boot hook (ma_init_after_boot): taken by whichever of boot and the
 * registration comes second, so it runs once. */
static void (*after_boot_fn)(void);

static void run_after_boot(void)
{
	void (*fn)(void) = __atomic_exchange_n(&after_boot_fn, NULL, __ATOMIC_ACQ_REL);
	if (fn)
		fn();
}

void ma_init_after_boot(void (*fn)(void))
{
	__atomic_store_n(&after_boot_fn, fn, __ATOMIC_RELEASE);
	if (ma_load_acquire(&ma_g.state) == MA_ACTIVE)
		run_after_boot();
}

static void boot(void)
{
	/* Every line on stderr names the program: under make, cc1 apart from as. */
	char exe[MA_PATH_MAX];
	if (ma_os_readlink("/proc/self/exe", exe, sizeof exe) > 0)
		ma_fmt_set_program(exe);
	/* A setuid/setgid program never takes paths or options from the environment. */
	bool secure = ma_os_is_secure();
	char **envp = secure ? NULL : environment();
	ma_options_parse(&ma_g.opt, envp, true);
	/* A DHAT file is made of call sites: asking for one asks for them. */
	bool for_dhat = ma_g.opt.dhat[0] && !ma_g.opt.backtraces;
	if (ma_g.opt.dhat[0] || ma_g.opt.sample)
		ma_g.opt.backtraces = 1;
	/* Sampling: a seed from time and pid unless one was given (the report says which). */
	if (ma_g.opt.sample && !ma_g.opt.sample_seed) {
		uint64_t z = ma_os_monotonic_ns() ^ ((uint64_t)ma_os_getpid() << 32) ^ ma_os_random64();
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
		z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
		ma_g.opt.sample_seed = (z ^ (z >> 31)) | 1u;
	}
	ma_g.backtraces = ma_g.opt.backtraces && ma_tier2_available();
	if (ma_g.opt.backtraces && !ma_g.backtraces)
		ma_warn(for_dhat ? "MOD_ALLOC_DHAT needs call sites but this build captures no stacks on "
		                   "this CPU; no DHAT file, counting totals only"
		                 : "MOD_ALLOC_BACKTRACES=1 but this build captures no stacks on this CPU; "
		                   "counting totals only", NULL, NULL, NULL);
	ma_g.cookie = (uint32_t)ma_os_random64() | 1u;
	ma_g.epoch = 1;
	ma_g.start_ns = ma_os_monotonic_ns();
	ma_g.pid = ma_os_getpid();
	if (ma_os_getcwd(ma_g.cwd, sizeof ma_g.cwd) < 0)
		ma_g.cwd[0] = '\0';
	/* Output paths that cannot work are said now, not when the run is over. */
	ma_report_check_template("MOD_ALLOC_OUT", ma_g.opt.out, sizeof ma_g.opt.out, MA_OUT_DEFAULT,
	                         ma_g.pid, ma_g.cwd);
	ma_report_check_template("MOD_ALLOC_DHAT", ma_g.opt.dhat, sizeof ma_g.opt.dhat, MA_DHAT_FALLBACK,
	                         ma_g.pid, ma_g.cwd);
	read_cmdline();
	open_state(envp);
	/* After the state file: the site table is kept in it. */
	if (ma_g.backtraces && !ma_tier2_init(&ma_g.opt))
		ma_g.backtraces = false; /* tier2 said why on stderr */
	ma_g.sampling = ma_g.backtraces && ma_g.opt.sample != 0;
	ma_store_relaxed(&ma_g.mode, MA_MODE_COUNTING());
	/* For ma_init_freeze's asymmetric barrier; without it, freezing waits longer. */
	ma_g.membarrier_ok = ma_os_membarrier_register() == 0;
	/* Fixed before the first tracked block: every header has this size, but a
	 * sampled block's (32 bytes) and an over-aligned one's. */
	ma_g.hdr_log2 = ma_g.backtraces && !ma_g.sampling ? MA_HDR_MAX_LOG2 : MA_HDR_MIN_LOG2;
	ma_g.hdr_bytes = 1u << ma_g.hdr_log2;
	ma_state_describe_config(MA_LIVE_SLACK_BYTES); /* the config is fixed now: a recovered report says it */
	ma_live_timeline_start();
	pthread_key_create(&thread_key, thread_exit);
	pthread_atfork(ma_state_fork_prepare, ma_state_fork_parent, after_fork_child);
}

bool ma_init_ensure(void)
{
	uint32_t st = ma_load_acquire(&ma_g.state);
	if (MA_LIKELY(st == MA_ACTIVE))
		return true;
	if (st == MA_UNINIT && ma_cas_acq_rel(&ma_g.state, &st, MA_BOOTING)) {
		/* dlsym may calloc: the guard (held by our caller) sends that to the boot pool. */
		if (!ma_real_resolve()) {
			ma_warn("cannot find the real malloc/free with dlsym(RTLD_NEXT); not tracking", NULL, NULL, NULL);
			ma_store_release(&ma_g.state, MA_OFF);
			return false;
		}
		boot();
		ma_store_release(&ma_g.state, MA_ACTIVE);
		/* After ACTIVE: a hook registered meanwhile saw ACTIVE or is run here. */
		run_after_boot();
		return true;
	}
	/* Another thread is booting: it takes microseconds, once. */
	while ((st = ma_load_acquire(&ma_g.state)) == MA_BOOTING)
		ma_os_yield();
	return st == MA_ACTIVE;
}

struct ma_thread *ma_thread_enter(void)
{
	if (ma_tls.guard)
		return NULL;
	int saved = errno;
	ma_guard_enter();
	struct ma_thread *t = NULL;
	if (ma_init_ensure()) {
		t = ma_registry_claim();
		if (t && ma_tls.state == MA_TLS_EXITED) {
			take_record(t); /* the fast path stays off: rec stays NULL */
		} else if (t) {
			thread_started(t);
			ma_tls.state = MA_TLS_ACTIVE;
			ma_tls.held = t;
		}
	}
	ma_guard_leave();
	errno = saved;
	return t;
}

void ma_thread_leave(struct ma_thread *t)
{
	if (MA_LIKELY(ma_tls.state != MA_TLS_EXITED) || !t)
		return;
	retire(t);
}

__attribute__((constructor(101))) static void ma_ctor(void)
{
	if (!ma_tls.rec)
		ma_thread_enter();
}

void ma_init_freeze(void)
{
	atomic_fetch_or_explicit(&ma_g.mode, MA_MODE_FROZEN, memory_order_seq_cst);
	/* Every thread now either saw the flag or set its busy mark before looking
	 * (thread.h): after this barrier, its mark is visible here. */
	if (!ma_g.membarrier_ok || ma_os_membarrier() != 0) {
		ma_os_sleep_ns(2000000); /* no membarrier: give in-flight updates 2 ms */
	}
	struct ma_thread *self = ma_thread_self();
	for (struct ma_thread *t = ma_registry_first(); t; t = t->next) {
		/* Bounded: a thread stopped inside an update (a debugger) must not hang exit. */
		for (unsigned spins = 0; t != self && ma_load_acquire(&t->busy) && spins < 100000; spins++)
			ma_os_yield();
	}
}
