/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tier2.c: call sites.  Captures the stack of each allocation, interns it
 * in the site table and keeps the per-site counters; at report time, sums
 * them into a frozen table for the writers.
 *
 * Per thread (struct t2_thread, mmap'd, hung off the record): the stack
 * ranges, an arena for the frames of new sites, and for threads other than
 * the owner a small direct-mapped cache of pending per-site deltas.  The
 * cache is flushed into the sites' shared parts when an entry is evicted,
 * when the thread's pending volume reaches MA_LIVE_SLACK_BYTES (the same
 * bound as the live counter, so at-peak sums keep its error bound), and
 * when the thread exits.  The report adds what is still pending.
 */
#define _GNU_SOURCE
#include "tier2.h"

#include <dlfcn.h>
#include <link.h>
#include <string.h>

#include "block.h"
#include "cfi.h"
#include "counters.h"
#include "event.h"
#include "fmt.h"
#include "frame.h"
#include "global.h"
#include "modules.h"
#include "os.h"
#include "real.h"
#include "site.h"
#include "stack.h"
#include "state.h"
#include "symbolize.h"
#include "tier2_report.h"

#define T2_CACHE 64
/* Stacks remembered per thread (stack.h): 8 sets of 2, picked by the first two return addresses. */
#define T2_MEMO_SETS_LOG2 3
#define T2_MEMOS (2u << T2_MEMO_SETS_LOG2)
#define T2_NO_STACK UINT32_MAX /* a last_key no walk gives (n <= MA_DEPTH_MAX) */
#define T2_FRAMES (MA_DEPTH_MAX + 1) /* a walk buffer: the deepest MOD_ALLOC_DEPTH, one spare */
/* ma_hdr_site.site of a block the sampler passed over: no site counts it, its free skips the sites. */
#define T2_UNSAMPLED UINT32_MAX

struct t2_delta {
	ma_au32 site;
	ma_au32 events;
	ma_ai64 blocks, bytes, frees, freed_bytes;
	ma_au64 birth_sum, death_sum;
	ma_au64 samples;
	ma_au32 hist[MA_SITE_HIST];
};

struct t2_thread {
	/* First line: what every allocation reads besides the frames. */
	bool ready;
	/* The last stack seen and its site: loops allocate from one place. */
	uint32_t last_generation;
	uint32_t last_key;            /* n | truncated << 31 of the last stack; T2_NO_STACK: none */
	uint32_t last_site;
	ma_au64 truncated_events;     /* this thread's allocations whose stack hit MOD_ALLOC_DEPTH */
	ma_au64 early_events;         /* this thread's allocations whose stack ended early (MA_STACK_EARLY) */
	uint32_t frames_generation;   /* last_frames were checked against this generation's modules */
	uint64_t next_refresh_ns;     /* no module table refresh from this thread before then */
	struct ma_stack_state stack;
	uintptr_t last_frames[T2_FRAMES];
	struct ma_site_arena arena;        /* frames of new sites */
	struct ma_site_arena nested_arena; /* the same, for allocations nested in one (signal handlers) */
	uint32_t memo_mru;            /* bit k: set k's way 1 was used last */
	struct ma_stack_memo *last_memo; /* the memo the last stack was found in or put in */
	int64_t pending_abs;
	struct t2_delta cache[T2_CACHE];
	uint64_t rng;                 /* sampling: splitmix64 state (the countdown is in ma_tls) */
	/* Then T2_MEMOS memos of t2.memo_bytes each (memo_of). */
	MA_ALIGNED_LINE char memos[];
};

static struct {
	unsigned depth;
	size_t memo_bytes;          /* one memo for walks of `depth` frames, rounded to lines */
	ma_au32 generation;         /* bumped when frames are rewritten or the module table changes:
	                               stale last-stack caches and memos */
	ma_au64 thread_state_bytes;
	ma_au64 truncated_events;  /* the same as t2_thread's, for threads without one */
	ma_au64 early_events;      /* the same */
	uint64_t sample;           /* MOD_ALLOC_SAMPLE: mean bytes between samples; 0 = every block */
	uint64_t seed;
	ma_au64 threads;           /* thread states made: each sampler's stream is seed ^ its number */
} t2;

bool ma_tier2_available(void)
{
	return MA_ARCH_CAN_WALK;
}

/* What a reader of the state file needs to sum the sites (state.h). */
static void describe_state(void)
{
#define P(f) (offsetof(struct ma_site_part, f))
#define D(f) (offsetof(struct t2_delta, f))
	struct ma_state_sites l = {
		.site_bytes = sizeof(struct ma_site),
		.chunk_sites = MA_SITE_CHUNK,
		.dir_entries = (ma_sites.capacity + MA_SITE_CHUNK - 1) / MA_SITE_CHUNK,
		.max_frames = MA_DEPTH_MAX + 1,
		.s_frames = offsetof(struct ma_site, frames),
		.s_nframes = offsetof(struct ma_site, nframes),
		.s_truncated = offsetof(struct ma_site, truncated),
		.s_ended_early = offsetof(struct ma_site, ended_early),
		.s_own = offsetof(struct ma_site, own),
		.s_shared = offsetof(struct ma_site, shared),
		.p_blocks = P(blocks), .p_bytes = P(bytes), .p_frees = P(frees), .p_freed_bytes = P(freed_bytes),
		.p_u = P(u), .p_birth_sum = P(birth_sum), .p_death_sum = P(death_sum),
		.p_max_bytes = P(max_bytes), .p_max_blocks = P(max_blocks), .p_g_bytes = P(g_bytes),
		.p_g_blocks = P(g_blocks), .p_hist = P(hist), .nhist = MA_SITE_HIST,
		.t2_cache = offsetof(struct t2_thread, cache), .t2_ncache = T2_CACHE,
		.delta_bytes = sizeof(struct t2_delta),
		.d_site = D(site), .d_events = D(events), .d_blocks = D(blocks), .d_bytes = D(bytes),
		.d_frees = D(frees), .d_freed_bytes = D(freed_bytes), .d_birth_sum = D(birth_sum),
		.d_death_sum = D(death_sum), .d_hist = D(hist),
		.p_samples = P(samples), .d_samples = D(samples),
		.r_peak_serial = offsetof(struct ma_live, peak.serial),
	};
#undef P
#undef D
	ma_state_describe_sites(&l);
}

bool ma_tier2_init(const struct ma_options *opt)
{
	t2.depth = (unsigned)opt->depth;
	t2.sample = opt->sample;
	t2.seed = opt->sample_seed;
	t2.memo_bytes = (ma_stack_memo_bytes(t2.depth) + MA_CACHELINE - 1) & ~(size_t)(MA_CACHELINE - 1);
	if (!ma_site_table_init(opt->buckets, opt->buckets_max)) {
		ma_warn("cannot map the call-site table; counting totals only", NULL, NULL, NULL);
		return false;
	}
	uintptr_t lo, hi;
	if (!ma_modules_init((uintptr_t)&ma_tier2_init, &lo, &hi)) {
		ma_warn("cannot map the module table; counting totals only", NULL, NULL, NULL);
		return false;
	}
	ma_stack_set_self(lo, hi);
	describe_state();
	ma_state_log_modules();
	ma_stack_unwind_cfi = opt->unwind != MA_UNWIND_FP;
	ma_store_relaxed(&ma_ties.first_site, UINT32_MAX);
	ma_ties_dirty();
	ma_ties.bump = true;
	return true;
}

static MA_NOINLINE struct t2_thread *thread_state_slow(struct ma_thread *t);

/*
 * The sampler (MOD_ALLOC_SAMPLE).  Allocated bytes are a Poisson process
 * with one sample per `sample` bytes on average: each thread counts down
 * the bytes to its next sample point, an exponential variable; an
 * allocation of s bytes that reaches it is sampled, which happens with
 * probability p = 1 - exp(-s / sample) (the process is memoryless, so
 * the countdown restarts afresh after it).  A sampled block stands for 1/p
 * blocks: its weight, rounded stochastically to an integer k (E[k] = 1/p,
 * so the estimates stay unbiased) and kept in its header, so its death,
 * its share at the peak and at exit are scaled by the same k.  The
 * arithmetic below runs once per sample, never for an unsampled block; no
 * libm (the library depends on libc alone).
 */
static uint64_t t2_rand(struct t2_thread *s)
{
	uint64_t z = (s->rng += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* A uniform double in (0, 1]. */
static double t2_unit(struct t2_thread *s)
{
	return (double)((t2_rand(s) >> 11) + 1) * 0x1.0p-53;
}

/* ln(x) for x > 0 (normal): x = m 2^e, m in [sqrt(1/2), sqrt(2)), then the atanh series. */
static double t2_ln(double x)
{
	union { double d; uint64_t u; } v = { x };
	int e = (int)((v.u >> 52) & 0x7ff) - 1023;
	v.u = (v.u & 0x000fffffffffffffull) | 0x3ff0000000000000ull; /* m in [1, 2) */
	if (v.d > 1.4142135623730951) {
		v.d *= 0.5;
		e++;
	}
	double z = (v.d - 1) / (v.d + 1), z2 = z * z, term = z, sum = 0;
	for (unsigned k = 1; k < 40; k += 2) { /* |z| < 0.172: 20 terms are far past double precision */
		sum += term / k;
		term *= z2;
	}
	return 2 * sum + e * 0.6931471805599453;
}

/* 1 - exp(-x) for x >= 0, without cancellation for small x. */
static double t2_one_minus_exp_neg(double x)
{
	if (x > 40)
		return 1;
	if (x < 0.5) { /* -expm1(-x) = x - x^2/2! + x^3/3! - ... */
		double term = x, sum = 0;
		for (unsigned k = 1; k < 24; k++) {
			sum += term;
			term *= -x / (k + 1);
		}
		return sum;
	}
	unsigned n = (unsigned)(x / 0.6931471805599453);
	double r = x - n * 0.6931471805599453, term = 1, e = 0; /* exp(-x) = exp(-r) 2^-n, r in [0, ln 2) */
	for (unsigned k = 0; k < 24; k++) {
		e += term;
		term *= -r / (k + 1);
	}
	while (n--)
		e *= 0.5;
	return 1 - e;
}

/* The next countdown: an exponential variable of mean t2.sample, at least 1. */
static int64_t t2_next_sample(struct t2_thread *s)
{
	double d = -t2_ln(t2_unit(s)) * (double)t2.sample;
	return d < 1 ? 1 : d > 0x1.0p62 ? (int64_t)1 << 62 : (int64_t)d + 1;
}

/* A block of `size` bytes reached the countdown: its weight k, and a new countdown. */
static MA_NOINLINE uint32_t t2_sampled(struct t2_thread *s, uint64_t size)
{
	ma_tls.sample_left = t2_next_sample(s);
	double p = t2_one_minus_exp_neg((double)size / (double)t2.sample);
	double w = p > 0 ? 1 / p : 4294967295.0;
	if (w >= 4294967295.0)
		return UINT32_MAX;
	uint32_t k = (uint32_t)w;
	return k + (t2_unit(s) <= w - k ? 1 : 0); /* P(k + 1) = w - k: E = w */
}

MA_INLINE struct ma_stack_memo *memo_of(struct t2_thread *s, unsigned i)
{
	return (struct ma_stack_memo *)(s->memos + i * t2.memo_bytes);
}

/*
 * Which memo an allocation's stack may be in: the set is picked by the
 * shim's return address and its caller's (ma_stack_call_key), so a loop
 * that allocates from a few places, directly or through one wrapper (a
 * program's xmalloc), keeps one stack per place; two ways per set, the
 * older one replaced.
 */
MA_INLINE struct ma_stack_memo *memo_for(struct t2_thread *s, uintptr_t fp)
{
	uintptr_t key = ma_stack_call_key(&s->stack, fp);
	unsigned set = (unsigned)((key * 0x9E3779B97F4A7C15ull) >> (64 - T2_MEMO_SETS_LOG2));
	struct ma_stack_memo *m0 = memo_of(s, 2 * set), *m1 = memo_of(s, 2 * set + 1);
	unsigned way = m0->key == key ? 0 : m1->key == key ? 1 : !((s->memo_mru >> set) & 1);
	s->memo_mru = (s->memo_mru & ~(1u << set)) | way << set;
	struct ma_stack_memo *m = way ? m1 : m0;
	m->key = key;
	return m;
}

MA_INLINE struct t2_thread *thread_state(struct ma_thread *t)
{
	struct t2_thread *s = t->tier2;
	if (MA_LIKELY(s && s->ready))
		return s;
	return thread_state_slow(t);
}

static struct t2_thread *thread_state_slow(struct ma_thread *t)
{
	struct t2_thread *s = t->tier2;
	size_t bytes = sizeof *s + T2_MEMOS * t2.memo_bytes;
	if (!s) {
		s = ma_state_map(bytes, MA_STATE_KIND_T2_THREAD); /* its pending deltas: in the state file */
		if (!s)
			return NULL;
		ma_add_relaxed(&t2.thread_state_bytes, bytes);
		t->tier2 = s;
	}
	ma_stack_thread_init(&s->stack);
	memset(s->last_frames, 0, sizeof s->last_frames);
	s->frames_generation = ma_load_relaxed(&t2.generation);
	for (unsigned i = 0; i < T2_MEMOS; i++)
		memo_of(s, i)->reads = 0;
	s->last_memo = memo_of(s, 0);
	s->last_site = 0;
	s->last_key = T2_NO_STACK;
	if (t2.sample)
		s->rng = t2.seed ^ (ma_add_relaxed(&t2.threads, 1) * 0xD1B54A32D192ED03ull);
	s->ready = true;
	return s;
}

/* Before a thread first writes a shared part: the owner then counts shared parts in its site maxima. */
MA_INLINE void mark_shared_any(void)
{
	if (MA_UNLIKELY(!ma_load_relaxed(&ma_sites.shared_any)))
		ma_store_relaxed(&ma_sites.shared_any, 1);
}

static void flush_delta(struct t2_delta *d)
{
	uint32_t idx = ma_load_relaxed(&d->site);
	if (!ma_load_relaxed(&d->events))
		return;
	struct ma_site *site = ma_site_at(idx);
	struct ma_site_event e = {
		.blocks = ma_load_relaxed(&d->blocks),
		.bytes = ma_load_relaxed(&d->bytes),
		.frees = ma_load_relaxed(&d->frees),
		.freed_bytes = ma_load_relaxed(&d->freed_bytes),
		.birth_sum = ma_load_relaxed(&d->birth_sum),
		.death_sum = ma_load_relaxed(&d->death_sum),
		.hist_class = UINT32_MAX,
		.samples = ma_load_relaxed(&d->samples),
	};
	mark_shared_any();
	ma_site_part_apply(&site->shared, &e, ma_load_relaxed(&ma_live.peak.serial), &site->own, true);
	for (unsigned k = 0; k < MA_SITE_HIST; k++) {
		uint32_t c = ma_load_relaxed(&d->hist[k]);
		if (c)
			ma_add_relaxed(&site->shared.hist[k], c);
	}
	/* Zero the numbers before the tag, so a report never counts them twice. */
	ma_store_relaxed(&d->events, 0);
	ma_store_relaxed(&d->blocks, 0);
	ma_store_relaxed(&d->bytes, 0);
	ma_store_relaxed(&d->frees, 0);
	ma_store_relaxed(&d->freed_bytes, 0);
	ma_store_relaxed(&d->birth_sum, 0);
	ma_store_relaxed(&d->death_sum, 0);
	ma_store_relaxed(&d->samples, 0);
	memset((void *)d->hist, 0, sizeof d->hist);
}

static void flush_all(struct t2_thread *s)
{
	for (unsigned i = 0; i < T2_CACHE; i++)
		flush_delta(&s->cache[i]);
	s->pending_abs = 0;
}

/* Counts one event of the owner's at site idx (its `own` part). */
MA_INLINE void count_own(struct ma_site *site, uint32_t idx, const struct ma_site_event *e)
{
	uint64_t serial = ma_load_relaxed(&ma_live.peak.serial);
	if (MA_UNLIKELY(ma_load_relaxed(&site->own.u) != serial)) {
		/* The owner's first change to this site since the latest peak
		 * (every peak moves the serial and resets first_site): the tie
		 * rule's record of which sites moved (counters.h) needs no test
		 * on the other changes. */
		uint32_t first = ma_load_relaxed(&ma_ties.first_site);
		if (first == UINT32_MAX)
			ma_store_relaxed(&ma_ties.first_site, idx);
		else if (first != idx)
			ma_ties_dirty();
		ma_site_part_keep_peak(&site->own, serial);
	}
	ma_site_part_count(&site->own, e, ma_load_relaxed(&ma_sites.shared_any) ? &site->shared : NULL, false);
}

/* Counts one event at its site: at once for the owner (t->is_owner, read
 * once by the caller), through the cache for others. */
MA_INLINE void count_at_site(struct t2_thread *s, uint32_t idx, const struct ma_site_event *e, bool owner)
{
	struct ma_site *site = ma_site_at(idx);
	if (MA_LIKELY(owner)) {
		count_own(site, idx, e);
		return;
	}
	if (ma_load_relaxed(&ma_ties.blocks) != MA_TIES_DIRTY) /* another thread's change: no shortcut for ties */
		ma_ties_dirty();
	if (MA_UNLIKELY(!s)) { /* no thread state: straight to the shared part */
		mark_shared_any();
		ma_site_part_apply(&site->shared, e, ma_load_relaxed(&ma_live.peak.serial), &site->own, true);
		return;
	}
	struct t2_delta *d = &s->cache[idx & (T2_CACHE - 1)];
	if (ma_load_relaxed(&d->site) != idx) {
		flush_delta(d);
		ma_store_relaxed(&d->site, idx);
	}
	ma_own_add(&d->events, 1);
	ma_own_add(&d->blocks, e->blocks);
	ma_own_add(&d->bytes, e->bytes);
	ma_own_add(&d->frees, e->frees);
	ma_own_add(&d->freed_bytes, e->freed_bytes);
	ma_own_add(&d->birth_sum, e->birth_sum);
	ma_own_add(&d->death_sum, e->death_sum);
	if (e->samples)
		ma_own_add(&d->samples, e->samples);
	if (e->blocks)
		ma_own_add(&d->hist[e->hist_class], (uint32_t)e->blocks);
	s->pending_abs += e->bytes + e->freed_bytes + e->blocks + e->frees;
	if (s->pending_abs >= MA_LIVE_SLACK_BYTES)
		flush_all(s);
}

/*
 * What the out-of-line site lookups return: the site index, the walk's
 * truncated flag and its stop bits in one register (no locals of the
 * caller's taken by address, so none kept in its frame).
 */
#define T2_FOUND(idx, truncated, stop) ((uint64_t)(idx) | (uint64_t)(truncated) << 32 | (uint64_t)(stop) << 40)

/*
 * An allocation nested in another update of its own thread (a signal
 * handler that allocates while the thread is inside the library: busy > 1,
 * thread.h): the interrupted update may be walking into last_frames or
 * storing frames in the arena, so this one walks into its own buffer and
 * stores new frames in a second arena.  One level deep; deeper nesting goes
 * to the overflow site (still counted).
 */
static MA_NOINLINE uint64_t site_nested(struct ma_thread *t, struct t2_thread *s, uintptr_t fp)
{
	if (ma_load_relaxed(&t->busy) > 2)
		return 0;
	uintptr_t frames[T2_FRAMES] = { 0 }, diff; /* 0: nothing checked before (stack.h) */
	struct ma_stack_code code = { 0 }; /* the interrupted walk may be writing s->stack.code */
	bool truncated = false;
	unsigned stop = 0;
	unsigned n = ma_stack_capture_from(&s->stack, fp, frames, t2.depth, &truncated, &diff, NULL, &stop, &code);
	return T2_FOUND(ma_site_intern(frames, n, truncated, &s->nested_arena), truncated, stop);
}

/*
 * A walk that met a return address outside every known module: a module
 * may have been loaded since the table was built (dlopen is not
 * interposed: a wrapper would change the caller that dlopen's library
 * search uses).  The loader's counts tell.  Always when the address was
 * malloc's caller (surely code), else at most once a millisecond per
 * thread: code without frame pointers meets garbage addresses often.
 * True when the table changed (the generation moved: walk again).
 */
static MA_NOINLINE bool modules_changed(struct t2_thread *s, bool surely)
{
	/* Another thread published a table after this walk loaded its own. */
	if (s->stack.code.table != ma_load_acquire(&ma_modules_now))
		return true;
	if (!surely) {
		uint64_t now = ma_os_monotonic_ns();
		if (now < s->next_refresh_ns)
			return false;
		s->next_refresh_ns = now + 1000000;
	}
	if (!ma_modules_refresh(false))
		return false;
	ma_state_log_modules();
	ma_add_relaxed(&t2.generation, 1);
	return true;
}

/*
 * A stack not in its memo: walk it (into the last stack, in place, which
 * tells whether it changed) and remember what the walk read in m.
 */
static MA_NOINLINE uint64_t site_walked(struct t2_thread *s, uintptr_t fp, struct ma_stack_memo *m, uint32_t gen)
{
	if (!m)
		__builtin_unreachable(); /* the walks below write a memo: no test of it per frame */
	uintptr_t diff;
	unsigned n;
	bool truncated = false;
	unsigned stop = 0;
	for (int again = 0;; again++) {
		if (MA_UNLIKELY(s->frames_generation != gen)) {
			/* last_frames were checked against other modules (stack.h) */
			memset(s->last_frames, 0, sizeof s->last_frames);
			s->frames_generation = gen;
		}
		n = ma_stack_capture_from(&s->stack, fp, s->last_frames, t2.depth, &truncated, &diff, m, &stop,
		                          &s->stack.code);
		/* The first frame is the caller of malloc, never garbage: its module is new. */
		if (MA_LIKELY(!(stop & MA_STACK_UNKNOWN)) || again || !modules_changed(s, n == 0))
			break;
		gen = ma_load_relaxed(&t2.generation);
	}
	uint32_t key = n | (uint32_t)truncated << 31;
	uint32_t idx;
	if (!diff && key == s->last_key && s->last_generation == gen) {
		idx = s->last_site;
	} else {
		idx = ma_site_intern(s->last_frames, n, truncated, &s->arena);
		/* The overflow site is not remembered: the table may have room later. */
		s->last_key = idx ? key : T2_NO_STACK;
		s->last_site = idx;
		s->last_generation = gen;
	}
	if (!idx)
		m->reads = 0;
	m->value = idx | (uint64_t)gen << 32;
	m->aux = (uintptr_t)ma_site_at(idx); /* its site: born_at's lookup is the memo's load */
	return T2_FOUND(idx, truncated, stop);
}

/* A birth at site idx: the block's site extension written, the event for its site returned. */
MA_INLINE struct ma_site_event stamp_birth(struct ma_thread *t, void *user, uint64_t size, uint32_t idx, bool owner,
                                           uint32_t weight, bool sampled)
{
	/* The owner's clock already counts this block (its record's bytes); the
	 * others' pending share gets it just after this.  Birth is before it. */
	uint64_t birth = owner ? ma_live_clock_owner(t) - size : ma_live_clock(t);
	struct ma_hdr_site *ext = ma_hdr_site_of(user);
	ext->site = idx;
	if (sampled)
		ext->spare = weight; /* the sample's weight: its death is scaled by the same */
	ext->birth = birth;
	return (struct ma_site_event){
		.blocks = weight,
		.bytes = (int64_t)(size * weight),
		.birth_sum = birth * weight,
		.hist_class = ma_site_hist_class(size),
		.samples = sampled ? 1 : 0,
	};
}

/* A birth whose stack hit MOD_ALLOC_DEPTH (truncated) or ended early (stop): counted so. */
MA_INLINE void count_stack_flags(struct t2_thread *s, uint32_t idx, bool truncated, unsigned stop)
{
	if (truncated) { /* per thread: a program deeper than the limit would share one line */
		if (MA_LIKELY(s != NULL))
			ma_own_add(&s->truncated_events, 1);
		else
			ma_add_relaxed(&t2.truncated_events, 1);
	}
	if (stop & MA_STACK_EARLY) {
		if (MA_LIKELY(s != NULL))
			ma_own_add(&s->early_events, 1);
		else
			ma_add_relaxed(&t2.early_events, 1);
		if (idx && !ma_load_relaxed(&ma_site_at(idx)->ended_early))
			ma_store_relaxed(&ma_site_at(idx)->ended_early, 1);
	}
}

/* What the caller of on_alloc already knows of the last stack's memo. */
enum t2_memo_seen {
	T2_MEMO_UNSEEN,   /* nothing */
	T2_MEMO_DIFFERS,  /* the stack is not the last one */
	T2_MEMO_STALE,    /* it is, but the memo's site is from another generation */
	T2_MEMO_SAME,     /* it is, and the memo's site is current */
};

/*
 * weight: a sampled block's weight (>= 1), 1 for exact call sites.  sampled:
 * false (a constant) on exact call sites' fast path, which then neither
 * keeps the weight in the header nor counts samples (reported only when
 * sampling); the slow paths' births pass true in either mode.  seen: what
 * the caller already knows of the last stack's memo.
 */
MA_INLINE void on_alloc(struct ma_thread *t, void *user, uint64_t size, uintptr_t fp, bool nested,
                        uint32_t weight, bool sampled, enum t2_memo_seen seen)
{
	bool truncated = false;
	unsigned stop = 0;
	struct t2_thread *s = thread_state(t);
	uint32_t idx = 0;
	if (MA_UNLIKELY(s == NULL)) {
		/* no thread state: the overflow site */
	} else if (MA_UNLIKELY(nested)) {
		uint64_t r = site_nested(t, s, fp);
		idx = (uint32_t)r;
		truncated = (r >> 32) & 1;
		stop = (unsigned)(r >> 40);
	} else {
		/* The last stack's memo first: a loop allocating from one place
		 * skips choosing; then the memo this stack's set offers. */
		uint32_t gen = ma_load_relaxed(&t2.generation);
		struct ma_stack_memo *m = s->last_memo;
		if (seen == T2_MEMO_STALE)
			goto walk;
		if (seen == T2_MEMO_SAME)
			goto same;
		if (seen == T2_MEMO_DIFFERS || MA_UNLIKELY(!ma_stack_memo_repeats(m, fp))) {
			struct ma_stack_memo *tried = m;
			m = s->last_memo = memo_for(s, fp);
			if (m == tried || !ma_stack_memo_repeats(m, fp))
				goto walk;
		}
		if (MA_LIKELY((uint32_t)(m->value >> 32) == gen)) {
		same:
			/* The same records as last time: the same stack, so the same site. */
			idx = (uint32_t)m->value;
			truncated = m->truncated;
			stop = m->stop;
		} else {
		walk:;
			uint64_t r = site_walked(s, fp, m, gen);
			idx = (uint32_t)r;
			truncated = (r >> 32) & 1;
			stop = (unsigned)(r >> 40);
		}
	}
	if (MA_UNLIKELY(truncated | stop))
		count_stack_flags(s, idx, truncated, stop);
	bool owner = t->is_owner;
	struct ma_site_event e = stamp_birth(t, user, size, idx, owner, weight, sampled);
	count_at_site(s, idx, &e, owner);
}

/* owner: t->is_owner, a constant in the owner's copy of the free.  sampled:
 * false (a constant) on exact call sites' fast path: the weight is 1 there. */
MA_INLINE void on_free(struct ma_thread *t, const struct ma_hdr_site *ext, uint64_t size, bool owner,
                       bool sampled)
{
	/* Only other threads use their state here (the delta cache). */
	struct t2_thread *s = owner ? NULL : thread_state(t);
	uint64_t weight = sampled && ext->spare ? ext->spare : 1;
	/* The header passed the tag check, so the index is one we wrote; bound it anyway. */
	uint32_t idx = ext->site < ma_sites.capacity ? ext->site : 0;
	uint64_t now = owner ? ma_live_clock_owner(t) : ma_live_clock(t);
	struct ma_site_event e = {
		.frees = (int64_t)weight,
		.freed_bytes = (int64_t)(size * weight),
		.death_sum = (now >= ext->birth ? now : ext->birth) * weight, /* never before its birth */
		.hist_class = UINT32_MAX, /* deaths add nothing to the size histogram */
	};
	count_at_site(s, idx, &e, owner);
}

/*
 * The sampler's countdown lives in ma_tls (sample_left), where the Tier 1
 * fast allocation subtracts each block's size; it comes here only when the
 * countdown is reached (or not yet drawn: a thread's first blocks), and for
 * the slow paths' blocks (aligned, realloc, a thread's first).  A thread's
 * draws come from its state's stream (seeded from MOD_ALLOC_SAMPLE_SEED).
 */
uint32_t ma_tier2_sample(struct ma_thread *t, uint64_t size)
{
	struct t2_thread *s = thread_state(t);
	if (MA_UNLIKELY(s == NULL))
		return 1; /* no thread state: every block, at the overflow site */
	if (MA_UNLIKELY(!ma_tls.sample_armed)) {
		ma_tls.sample_left = t2_next_sample(s);
		ma_tls.sample_armed = true;
	}
	if (MA_LIKELY((uint64_t)ma_tls.sample_left > size)) {
		ma_tls.sample_left -= (int64_t)size;
		return 0;
	}
	return t2_sampled(s, size);
}

void ma_tier2_on_alloc(struct ma_thread *t, void *user, uint64_t size, uintptr_t fp, uint32_t weight)
{
	if (!weight) { /* passed over by the sampler (a block with room for the extension: over-aligned) */
		ma_hdr_site_of(user)->site = T2_UNSAMPLED;
		return;
	}
	on_alloc(t, user, size, fp, ma_load_relaxed(&t->busy) > 1, weight, true, T2_MEMO_UNSEEN);
}

void ma_tier2_on_free(struct ma_thread *t, const struct ma_hdr_site *ext, uint64_t size)
{
	if (ext->site == T2_UNSAMPLED)
		return; /* passed over by the sampler: no site counted it */
	/* exact call sites' fast births leave the weight unwritten: 1 */
	on_free(t, ext, size, t->is_owner, t2.sample != 0);
}

static MA_NOINLINE void free_leave(struct ma_thread *t, void *p);

/* Counting stopped after the caller saw it on: the real block goes to the
 * program as it is (no header, uncounted: a free passes it to the real free
 * untouched), and the call the caller counted is taken back. */
static MA_NOINLINE void *born_stopped(struct ma_thread *t, enum ma_call call, char *base)
{
	ma_own_add(&t->calls[call], (uint64_t)-1);
	return base;
}

static MA_NOINLINE void *born_failed(struct ma_thread *t, uint32_t outer)
{
	ma_own_add(&t->failed, 1);
	ma_update_leave(t, outer);
	return NULL;
}

/* Every birth but the usual one (born_at): the site, then the live counter, then the update's end. */
static MA_NOINLINE void *born_general(struct ma_thread *t, void *user, uint64_t size, uintptr_t fp, uint32_t outer,
                                      enum t2_memo_seen seen)
{
	on_alloc(t, user, size, fp, outer != 0, 1, false, seen);
	ma_live_grow(t, (int64_t)size, 1, true, outer != 0);
	ma_update_leave(t, outer);
	return user;
}

/* The end of the usual birth's update (outermost) with the live counter's slow half (grow) or a recheck due. */
static MA_NOINLINE void *born_leave(struct ma_thread *t, void *user, bool grow)
{
	if (grow)
		ma_live_grow_slow(t);
	ma_update_leave(t, 0);
	return user;
}

/*
 * The traced birth of the real block at `base` (NULL: the real call failed):
 * the Tier 1 event with the larger header, then the site, then the live
 * counter (after the site counted the block, so that a peak noted now
 * includes it); all inside one update.  The usual case, the owner thread
 * allocating again from the stack its last allocation came from, outside
 * any other update, runs here and calls nothing, so it needs few registers;
 * any other leaves for born_general before it has touched a site, telling
 * it what it saw of the last stack's memo.
 */
MA_INLINE void *born_at(struct ma_thread *t, enum ma_call call, uint64_t size, char *base, uintptr_t fp)
{
	uint32_t outer = ma_update_enter(t);
	if (MA_UNLIKELY(outer == MA_UPDATE_STOPPED))
		return born_stopped(t, call, base);
	/* Counting with a non-zero mode: call sites are on, exact (sampling runs in mode 0). */
	if (MA_UNLIKELY(!base))
		return born_failed(t, outer);
	void *user = base + MA_HDR_BYTES_TIER2;
	ma_hdr_set_own(user, size, t);
	ma_own_add(&t->blocks, 1);
	ma_own_add(&t->bytes, size);
	struct t2_thread *s = t->tier2;
	void *r;
	const struct ma_stack_memo *m;
	enum t2_memo_seen seen = T2_MEMO_UNSEEN;
	/* Not tail calls: the walk reads this frame's record (MA_KEEP_FRAME). */
	if (MA_UNLIKELY(outer != 0 || !t->is_owner || !s || !s->ready))
		goto general;
	m = s->last_memo;
	seen = T2_MEMO_DIFFERS;
	/* The short memo of a walk not cut short (a loop allocating from near
	 * main) in one compare; any other the long way. */
	if (MA_UNLIKELY(fp != m->start))
		goto general;
	bool clean = ma_stack_memo_head(m) == MA_STACK_MEMO_SHORT_CLEAN;
	if (MA_UNLIKELY(!(clean ? ma_stack_memo_short_repeats(m, fp) : ma_stack_memo_repeats_from(m, fp))))
		goto general;
	seen = T2_MEMO_STALE;
	if (MA_UNLIKELY((uint32_t)(m->value >> 32) != ma_load_relaxed(&t2.generation)))
		goto general;
	/* The same records as last time: the same stack, so the same site. */
	seen = T2_MEMO_SAME;
	uint32_t idx = (uint32_t)m->value;
	struct ma_site *site = (struct ma_site *)m->aux;
	/* A stack cut short, or a peak since the site's last change (count_own's
	 * branch, kept out of here to spare registers): the general path. */
	if (MA_UNLIKELY((!clean && (m->truncated | m->stop)) ||
	                ma_load_relaxed(&site->own.u) != ma_load_relaxed(&ma_live.peak.serial)))
		goto general;
	struct ma_site_event e = stamp_birth(t, user, size, idx, true, 1, false);
	ma_site_part_count(&site->own, &e, ma_load_relaxed(&ma_sites.shared_any) ? &site->shared : NULL, false);
	if (MA_UNLIKELY(ma_live_grow_quick_owner(t, true)))
		return born_leave(t, user, true);
	if (MA_UNLIKELY(t->peak_recheck))
		return born_leave(t, user, false);
	ma_store_release(&t->busy, 0);
	return user;
general:
	r = born_general(t, user, size, fp, outer, seen);
	MA_KEEP_FRAME(r);
	return r;
}

void *ma_tier2_born(struct ma_thread *t, enum ma_call call, size_t size, char *base)
{
	/* Reached by the shim's tail call, this frame's record is the shim's would
	 * be (without one, the shim's own frame is ours, so the walk skips it). */
	return born_at(t, call, size, base, (uintptr_t)__builtin_frame_address(0));
}

void *ma_tier2_alloc(struct ma_thread *t, enum ma_call call, size_t size, size_t reserve, bool zero,
                     uintptr_t fp)
{
	if (MA_UNLIKELY(ma_load_relaxed(&ma_g.mode) & MA_MODE_FROZEN))
		return ma_real_alloc_uncounted(reserve, 0, zero); /* counting stopped: the real allocator's own */
	ma_own_add(&t->calls[call], 1);
	char *base = zero ? ma_real.next_calloc(1, reserve + MA_HDR_BYTES_TIER2)
	                  : ma_real.next_malloc(reserve + MA_HDR_BYTES_TIER2);
	return born_at(t, call, size, base, fp);
}

/*
 * The traced free: the site, then the Tier 1 event, inside one update.
 * `owner` is a constant at each use: the owner's copy makes no call but the
 * last (the real free, a tail call), so it needs no callee-saved registers;
 * a pending peak recheck leaves through free_leave.
 */
MA_INLINE void tier2_free(struct ma_thread *t, enum ma_call call, void *p, bool owner)
{
	uint32_t outer = ma_update_enter(t);
	if (MA_UNLIKELY(outer == MA_UPDATE_STOPPED)) {
		ma_real_free_uncounted(p);
		return;
	}
	uint64_t size = ma_hdr_of(p)->size;
	on_free(t, ma_hdr_site_of(p), size, owner, false);
	ma_event_died(t, call, size);
	if (!owner)
		ma_live_shrink(t, (int64_t)size, 1);
	else if (MA_UNLIKELY(t->peak_recheck) && outer == 0) {
		free_leave(t, p);
		return;
	}
	ma_update_leave(t, outer);
	/* The fast free matched the tag, so the offset is the Tier 2 header's. */
	ma_real_release(p, MA_HDR_BYTES_TIER2);
}

/* The end of an outermost update with a peak recheck pending. */
static MA_NOINLINE void free_leave(struct ma_thread *t, void *p)
{
	ma_update_leave(t, 0);
	ma_real_free_uncounted(p);
}

static MA_NOINLINE void free_other(struct ma_thread *t, enum ma_call call, void *p)
{
	tier2_free(t, call, p, false);
}

void ma_tier2_free(struct ma_thread *t, enum ma_call call, void *p)
{
	if (MA_LIKELY(t->is_owner))
		tier2_free(t, call, p, true);
	else
		free_other(t, call, p);
}

void ma_tier2_thread_exit(struct ma_thread *t)
{
	struct t2_thread *s = t->tier2;
	if (!s)
		return;
	flush_all(s);
	s->ready = false; /* the next thread on this record has another stack */
}

/* The object a dlopen handle names: its load address span. */
struct span_query {
	uintptr_t l_addr;
	const char *name;
	uintptr_t lo, hi;
};

static int find_span(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct span_query *q = arg;
	if (info->dlpi_addr != q->l_addr || !info->dlpi_name || strcmp(info->dlpi_name, q->name) != 0)
		return 0;
	ma_modules_load_span(info, &q->lo, &q->hi);
	return 1;
}

/*
 * Before dlclose: frames inside the library are rewritten as (symbolizer
 * module index, offset) with MA_FRAME_TAG set (no user address has bit 63),
 * so they keep the closed library's names even when another library is
 * later mapped at the same address; a stack through the new library then
 * never matches the old site.  The last-stack caches are invalidated.
 */
void ma_tier2_before_dlclose(void *handle)
{
	struct link_map *lm = NULL;
	if (!handle || dlinfo(handle, RTLD_DI_LINKMAP, &lm) != 0 || !lm || !lm->l_name || !lm->l_name[0])
		return;
	struct span_query q = { lm->l_addr, lm->l_name, 0, 0 };
	if (!ma_os_each_module(find_span, &q) || q.lo >= q.hi)
		return;
	uintptr_t mlo, mhi;
	int idx = ma_sym_module_at(q.lo, &mlo, &mhi);
	if (idx < 0 || (uint64_t)idx >= MA_FRAME_TAG_MODULES)
		return;
	uint64_t used = ma_load_acquire(&ma_sites.used);
	if (used > ma_sites.capacity)
		used = ma_sites.capacity;
	for (uint64_t i = 1; i < used; i++) {
		struct ma_site *site = ma_site_peek(i);
		uintptr_t *f = site ? (uintptr_t *)site->frames : NULL;
		for (uint32_t k = 0; f && k < site->nframes; k++)
			if (f[k] >= q.lo && f[k] < q.hi && f[k] >= mlo && f[k] - mlo < MA_FRAME_TAG_OFFSETS)
				f[k] = MA_FRAME_TAG | ((uintptr_t)idx << MA_FRAME_TAG_SHIFT) | (f[k] - mlo);
	}
	ma_add_relaxed(&t2.generation, 1);
}

/* After dlclose: drop what was unmapped from the module table. */
void ma_tier2_after_dlclose(void)
{
	if (ma_modules_refresh(false)) {
		ma_state_log_modules();
		ma_add_relaxed(&t2.generation, 1);
	}
}

void ma_tier2_after_fork(struct ma_thread *self)
{
	if (!ma_g.backtraces)
		return;
	ma_modules_after_fork();
	ma_cfi_after_fork();
	ma_site_table_reset_counts();
	ma_store_relaxed(&t2.truncated_events, 0);
	ma_store_relaxed(&t2.early_events, 0);
	for (struct ma_thread *t = ma_registry_first(); t; t = t->next) {
		struct t2_thread *s = t->tier2;
		if (!s)
			continue;
		/* Pending deltas and counts were the parent's: drop them. */
		memset(s->cache, 0, sizeof s->cache);
		s->pending_abs = 0;
		ma_store_relaxed(&s->truncated_events, 0);
		ma_store_relaxed(&s->early_events, 0);
		if (t != self)
			s->ready = false;
	}
}

/* ---- freezing for the writers ------------------------------------------ */

static void add_part(struct ma_site_total *o, const struct ma_site_part *p, uint64_t serial)
{
	int64_t lb = ma_site_part_live_bytes(p), lk = ma_site_part_live_blocks(p);
	bool touched_since_peak = ma_load_relaxed(&p->u) == serial;
	o->blocks += ma_load_relaxed(&p->blocks);
	o->bytes += ma_load_relaxed(&p->bytes);
	o->frees += ma_load_relaxed(&p->frees);
	o->live_bytes_signed += lb;
	o->live_blocks_signed += lk;
	o->at_peak_bytes_signed += touched_since_peak ? ma_load_relaxed(&p->g_bytes) : lb;
	o->at_peak_blocks_signed += touched_since_peak ? ma_load_relaxed(&p->g_blocks) : lk;
	uint64_t mb = ma_load_relaxed(&p->max_bytes);
	if (mb > o->max_bytes) {
		o->max_bytes = mb;
		o->max_blocks = ma_load_relaxed(&p->max_blocks);
	}
	o->birth_sum += ma_load_relaxed(&p->birth_sum);
	o->death_sum += ma_load_relaxed(&p->death_sum);
	o->samples += ma_load_relaxed(&p->samples);
	for (unsigned k = 0; k < MA_SITE_HIST; k++)
		o->hist[k] += ma_load_relaxed(&p->hist[k]);
}

static void add_pending(struct ma_site_total *tot, uint64_t n)
{
	for (struct ma_thread *t = ma_registry_first(); t; t = t->next) {
		struct t2_thread *s = t->tier2;
		if (!s)
			continue;
		for (unsigned i = 0; i < T2_CACHE; i++) {
			struct t2_delta *d = &s->cache[i];
			uint32_t idx = ma_load_relaxed(&d->site);
			if (!ma_load_relaxed(&d->events) || idx >= n)
				continue;
			struct ma_site_total *o = &tot[idx];
			int64_t b = ma_load_relaxed(&d->blocks), by = ma_load_relaxed(&d->bytes);
			int64_t f = ma_load_relaxed(&d->frees), fb = ma_load_relaxed(&d->freed_bytes);
			o->blocks += (uint64_t)b;
			o->bytes += (uint64_t)by;
			o->frees += (uint64_t)f;
			o->live_bytes_signed += by - fb;
			o->live_blocks_signed += b - f;
			o->birth_sum += ma_load_relaxed(&d->birth_sum);
			o->death_sum += ma_load_relaxed(&d->death_sum);
			o->samples += ma_load_relaxed(&d->samples);
			for (unsigned k = 0; k < MA_SITE_HIST; k++)
				o->hist[k] += ma_load_relaxed(&d->hist[k]);
		}
	}
}

static uint64_t clamp0(int64_t v)
{
	return v > 0 ? (uint64_t)v : 0;
}

/* Heap sort of site indices by bytes, descending (qsort may allocate). */
static bool before(const struct ma_site_total *t, uint32_t a, uint32_t b)
{
	if (t[a].bytes != t[b].bytes)
		return t[a].bytes > t[b].bytes;
	return a < b; /* ties: by index, for reproducible reports */
}

static void sift_sites(const struct ma_site_total *t, uint32_t *ix, size_t i, size_t n)
{
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			return;
		if (c + 1 < n && before(t, ix[c], ix[c + 1]))
			c++;
		if (!before(t, ix[i], ix[c]))
			return;
		uint32_t x = ix[i];
		ix[i] = ix[c];
		ix[c] = x;
		i = c;
	}
}

static void sort_desc(const struct ma_site_total *t, uint32_t *ix, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_sites(t, ix, i, n);
	for (size_t end = n; end > 1; end--) {
		uint32_t x = ix[0];
		ix[0] = ix[end - 1];
		ix[end - 1] = x;
		sift_sites(t, ix, 0, end - 1);
	}
	/* Heap sort leaves the array ascending under `before`: bytes descending. */
}

/* The clock's end: every byte allocated, pending shares included. */
static uint64_t clock_end(void)
{
	uint64_t te = 0;
	for (struct ma_thread *t = ma_registry_first(); t; t = t->next)
		te += ma_load_relaxed(&t->bytes);
	return te;
}

/* Sums sites [0, n) into tot: both parts, then what threads hold pending. */
static void sum_sites(struct ma_site_total *tot, uint64_t n)
{
	uint64_t serial = ma_load_relaxed(&ma_live.peak.serial);
	for (uint64_t i = 0; i < n; i++) {
		const struct ma_site *site = ma_site_peek(i);
		if (!site)
			continue; /* claimed an instant ago: nothing counted there yet */
		add_part(&tot[i], &site->own, serial);
		add_part(&tot[i], &site->shared, serial);
	}
	add_pending(tot, n);
}

/* Site i's figures derived from its sums (te: the clock's end). */
static void finish_site(struct ma_site_total *o, uint64_t i, uint64_t te)
{
	o->index = (uint32_t)i;
	o->live_bytes = clamp0(o->live_bytes_signed);
	o->live_blocks = clamp0(o->live_blocks_signed);
	o->at_peak_bytes = clamp0(o->at_peak_bytes_signed);
	o->at_peak_blocks = clamp0(o->at_peak_blocks_signed);
	/* The high-water mark is at least what the site held at the peak and at exit. */
	if (o->at_peak_bytes > o->max_bytes) {
		o->max_bytes = o->at_peak_bytes;
		o->max_blocks = o->at_peak_blocks;
	}
	if (o->live_bytes > o->max_bytes) {
		o->max_bytes = o->live_bytes;
		o->max_blocks = o->live_blocks;
	}
	/* Every block's (death, or the end) - birth. */
	uint64_t ends = o->death_sum + o->live_blocks * te;
	o->lifetime_total = ends > o->birth_sum ? ends - o->birth_sum : 0;
	const struct ma_site *site = ma_site_peek(i);
	if (site && site->frames) {
		o->frames = site->frames;
		o->nframes = site->nframes;
		o->truncated = site->truncated;
		o->ended_early = ma_load_relaxed(&site->ended_early) != 0;
	}
	o->is_overflow = i == 0;
}

/* The table's own figures: truncated and early-ended stacks, overflow, memory, the buckets a run needs. */
static void table_stats(struct ma_t2_frozen *f, uint64_t n)
{
	f->table_sites = n;
	f->truncated_events = ma_load_relaxed(&t2.truncated_events);
	f->early_events = ma_load_relaxed(&t2.early_events);
	for (struct ma_thread *t = ma_registry_first(); t; t = t->next) {
		struct t2_thread *s = t->tier2;
		if (s) {
			f->truncated_events += ma_load_relaxed(&s->truncated_events);
			f->early_events += ma_load_relaxed(&s->early_events);
		}
	}
	f->overflow_events = ma_load_relaxed(&ma_sites.overflow_events);
	f->overflow_stacks = ma_load_relaxed(&ma_sites.overflow_stacks);
	f->table_buckets = ma_site_table_buckets();
	f->profiler_bytes = ma_load_relaxed(&ma_sites.mapped_bytes) + ma_load_relaxed(&ma_sites.arena_bytes) +
	                    ma_load_relaxed(&t2.thread_state_bytes) + ma_modules_mapped_bytes() +
	                    ma_cfi_mapped_bytes();
	uint64_t want = (n - 1 + f->overflow_stacks) * 4 / 3 + 1;
	uint64_t b = 64;
	while (b < want)
		b <<= 1;
	f->buckets_needed = f->overflow_stacks ? b : 0;
}

bool ma_tier2_freeze(struct ma_t2_frozen *f)
{
	memset(f, 0, sizeof *f);
	uint64_t n = ma_load_relaxed(&ma_sites.used);
	if (n > ma_sites.capacity)
		n = ma_sites.capacity;
	size_t bytes = n * sizeof(struct ma_site_total) + n * sizeof(uint32_t);
	struct ma_site_total *tot = ma_os_map(bytes);
	if (!tot)
		return false;
	uint32_t *ix = (uint32_t *)(tot + n);
	sum_sites(tot, n);
	uint64_t te = clock_end();
	size_t k = 0;
	uint64_t samples = 0;
	for (uint64_t i = 0; i < n; i++) {
		finish_site(&tot[i], i, te);
		samples += tot[i].samples;
		if (tot[i].blocks || tot[i].frees)
			ix[k++] = (uint32_t)i;
	}
	sort_desc(tot, ix, k);
	f->sites = tot;
	f->order = ix;
	f->count = k;
	f->mapped = bytes;
	f->clock_end = te;
	f->clock_peak = ma_load_relaxed(&ma_live.peak.clock);
	table_stats(f, n);
	f->samples = samples;
	/* Frame pointers missing?  Then stacks end early (at a frame that kept
	 * no link), not where chains end: warn when a quarter of the
	 * allocations with a site have such stacks. */
	uint64_t all = 0;
	for (size_t i = 0; i < k; i++)
		if (!tot[ix[i]].is_overflow)
			all += tot[ix[i]].blocks;
	f->shallow_warning = all >= 16 && f->early_events * 4 >= all;
	return true;
}

void ma_tier2_release(struct ma_t2_frozen *f)
{
	ma_os_unmap(f->sites, f->mapped);
	f->sites = NULL;
}
