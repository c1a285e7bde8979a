/* SPDX-License-Identifier: Apache-2.0 */
/* core.c: the slow paths of the block events, realloc and usable size. */
#include "core.h"

#include <string.h>

#include "init.h"
#include "tier2.h"

void *ma_core_fail(enum ma_call call, int err)
{
	struct ma_thread *t = ma_tls.rec ? ma_tls.rec : ma_thread_enter();
	if (t) {
		ma_own_add(&t->calls[call], 1);
		ma_own_add(&t->failed, 1);
	}
	ma_thread_leave(t);
	errno = err;
	return NULL;
}

/*
 * Obtains a real block with a header of 1 << hdr_log2 bytes below `reserve`
 * user bytes aligned to `align`.  Returns the user pointer and its offset's log2.
 */
static void *obtain(size_t reserve, size_t align, bool zero, uint8_t hdr_log2, uint8_t *shift)
{
	size_t hdr = (size_t)1 << hdr_log2;
	if (align <= MA_MALLOC_ALIGN) {
		char *base = zero ? ma_real.next_calloc(1, reserve + hdr) : ma_real.next_malloc(reserve + hdr);
		*shift = hdr_log2;
		return base ? base + hdr : NULL;
	}
	/* The user pointer sits one alignment (or one header, if larger) above an
	 * aligned base: wasteful for huge alignments, but exact and simple. */
	size_t off = align > hdr ? align : hdr;
	if (reserve > MA_MAX_REQUEST - off) {
		errno = ENOMEM;
		return NULL;
	}
	void *base;
	int r = ma_real.next_posix_memalign(&base, align, reserve + off);
	if (r) {
		errno = r;
		return NULL;
	}
	*shift = (uint8_t)__builtin_ctzll(off);
	return (char *)base + off;
}

/*
 * Does a block with header offset 1 << shift carry the site extension?  With
 * exact call sites every block does; with sampled ones, sampled blocks (32-byte
 * header) and over-aligned ones (room below the header), not the others.
 */
MA_INLINE bool has_ext(uint8_t shift)
{
	return ma_g.backtraces && shift != MA_HDR_MIN_LOG2;
}

/* weight: the sampler's (0: passed over; 1 without sampling); shift: the header offset's log2. */
MA_INLINE void born(struct ma_thread *t, void *user, uint64_t size, uintptr_t fp, uint32_t weight, uint8_t shift)
{
	ma_own_add(&t->blocks, 1);
	ma_own_add(&t->bytes, size);
	if (ma_g.backtraces && (weight || has_ext(shift)))
		ma_tier2_on_alloc(t, user, size, fp, weight);
	bool ties = ma_ties.bump;
	ma_live_grow(t, (int64_t)size, 1, ties, ties && ma_load_relaxed(&t->busy) > 1);
}

/* `h` and `ext` are copies: realloc may already have released the block.
 * ext is NULL for a block without the site extension (has_ext). */
static void died(struct ma_thread *t, const struct ma_hdr *h, const struct ma_hdr_site *ext)
{
	if (h->epoch != t->epoch) {
		/* Allocated by a fork parent: reported apart, never in this process's totals. */
		ma_own_add(&t->inherited_frees, 1);
		ma_own_add(&t->inherited_freed_bytes, h->size);
		return;
	}
	ma_own_add(&t->frees, 1);
	ma_own_add(&t->freed_bytes, h->size);
	if (ext)
		ma_tier2_on_free(t, ext, h->size);
	ma_live_shrink(t, (int64_t)h->size, 1);
}

void *ma_core_alloc_grown(struct ma_thread *t, void *user)
{
	ma_live_grow_slow(t);
	return user;
}

/*
 * The header's log2 for a block of `size` bytes born on t: the process's,
 * or with sampled call sites the sampler's choice (room for the site when
 * sampled).  *weight: the sampler's verdict (1 without sampling).
 */
MA_INLINE uint8_t birth_header(struct ma_thread *t, size_t size, uint32_t *weight)
{
	*weight = 1;
	if (!ma_g.sampling)
		return ma_g.hdr_log2;
	*weight = ma_tier2_sample(t, size);
	return *weight ? MA_HDR_MAX_LOG2 : ma_g.hdr_log2;
}

static void *alloc_tracked(struct ma_thread *t, enum ma_call call, size_t size, size_t reserve,
                           size_t align, bool zero, uintptr_t fp)
{
	ma_own_add(&t->calls[call], 1);
	uint32_t weight;
	uint8_t log2 = birth_header(t, size, &weight);
	uint8_t shift;
	void *user = reserve > MA_MAX_REQUEST ? (errno = ENOMEM, NULL) : obtain(reserve, align, zero, log2, &shift);
	if (MA_UNLIKELY(!user)) {
		ma_own_add(&t->failed, 1);
		return NULL;
	}
	ma_hdr_set(user, size, t->key, t->epoch, shift);
	born(t, user, size, fp, weight, shift);
	return user;
}

void *ma_core_alloc_sample(struct ma_thread *t, enum ma_call call, size_t size, size_t reserve, bool zero,
                           uintptr_t fp)
{
	/* The fast path took the size off already: the slow path takes it again. */
	if (ma_g.sampling)
		ma_tls.sample_left += (int64_t)size;
	else
		ma_tls.sample_left = INT64_MAX; /* no sampler: not again for 2^63 bytes */
	return ma_core_alloc_slow(t, call, size, reserve, 0, zero, fp);
}

void *ma_core_alloc_slow(struct ma_thread *t, enum ma_call call, size_t size, size_t reserve,
                         size_t align, bool zero, uintptr_t fp)
{
	if (!t)
		t = ma_thread_enter();
	if (!t)
		return ma_real_alloc_uncounted(reserve, align, zero);
	void *user;
	uint32_t outer = ma_update_enter(t);
	if (outer != MA_UPDATE_STOPPED) {
		user = alloc_tracked(t, call, size, reserve, align, zero, fp);
		ma_update_leave(t, outer);
	} else {
		user = ma_real_alloc_uncounted(reserve, align, zero);
	}
	ma_thread_leave(t);
	return user;
}

static bool is_ours(void *p, const struct ma_hdr *h)
{
	return ma_real.next_free && ma_hdr_is_ours(p, h);
}

static void free_slow(struct ma_thread *t, enum ma_call call, void *p)
{
	if (t)
		ma_own_add(&t->calls[call], 1);
	if (!p || ma_boot_owns(p))
		return; /* free(NULL), or the bootstrap pool, which never frees */
	struct ma_hdr *h = ma_hdr_of(p);
	if (!is_ours(p, h)) {
		if (t)
			ma_own_add(&t->foreign_frees, 1);
		if (ma_real.next_free)
			ma_real.next_free(p);
		return;
	}
	struct ma_hdr copy = *h;
	if (t)
		died(t, &copy, has_ext(copy.shift) ? ma_hdr_site_of(p) : NULL);
	h->tag = 0;
	ma_real.next_free(ma_hdr_base(p, &copy));
}

void ma_core_free_slow(struct ma_thread *t, enum ma_call call, void *p)
{
	/* free(NULL) never registers a thread: glibc calls it in every exiting
	 * thread after the TSD destructors have run (__libc_thread_freeres). */
	bool entered = !t && p;
	if (entered)
		t = ma_thread_enter();
	uint32_t outer = t ? ma_update_enter(t) : MA_UPDATE_STOPPED;
	if (outer != MA_UPDATE_STOPPED) {
		free_slow(t, call, p);
		ma_update_leave(t, outer);
	} else {
		free_slow(NULL, call, p);
	}
	if (entered)
		ma_thread_leave(t);
}

/* A new block (tracked when t is) for size bytes: realloc(NULL, size). */
static void *alloc_for_realloc(struct ma_thread *t, enum ma_call call, size_t size, uintptr_t fp)
{
	return t ? alloc_tracked(t, call, size, size, 0, false, fp) : ma_real_alloc_uncounted(size, 0, false);
}

/*
 * Gives block p (its header h, a copy of it in old) size bytes with a header
 * of 1 << log2 bytes: the real realloc, or for an over-aligned block (or one
 * whose header size changes: sampled call sites) a new block and a copy.
 * The old block's header is cleared once the block may be gone.  NULL on
 * failure, with the old block untouched.
 */
static void *resize_block(void *p, struct ma_hdr *h, const struct ma_hdr *old, size_t size, uint8_t log2)
{
	void *base = ma_hdr_base(p, old);
	void *user;
	if (old->shift == log2) {
		/* If the block moves, the real realloc frees it: its header must not
		 * look live to anyone after that.  Put back if the realloc fails. */
		size_t hdr = (size_t)1 << log2;
		h->tag = 0;
		char *nb = ma_real.next_realloc(base, size + hdr);
		user = nb ? nb + hdr : NULL;
		if (!nb)
			h->tag = old->tag;
	} else {
		/* An over-aligned block: realloc promises only malloc's alignment. */
		uint8_t shift;
		user = obtain(size, 0, false, log2, &shift);
		if (user) {
			memcpy(user, p, old->size < size ? old->size : size);
			h->tag = 0;
			ma_real.next_free(base);
		}
	}
	return user;
}

/* realloc of one of our blocks: resized, then counted as the old block's
 * death and the new one's birth (DHAT's resize). */
static void *realloc_ours(struct ma_thread *t, enum ma_call call, void *p, struct ma_hdr *h, size_t size,
                          uintptr_t fp)
{
	if (t)
		ma_own_add(&t->calls[call], 1);
	if (size > MA_MAX_REQUEST) {
		if (t)
			ma_own_add(&t->failed, 1);
		errno = ENOMEM;
		return NULL;
	}
	struct ma_hdr old = *h;
	struct ma_hdr_site old_ext = { 0, 0, 0 };
	bool had_ext = has_ext(old.shift);
	if (had_ext)
		old_ext = *ma_hdr_site_of(p);
	/* The new block's header: the process's, but the sampler's choice when
	 * sampling, and for an untracked thread room for the old site if any. */
	uint32_t weight = 1;
	uint8_t log2;
	if (t)
		log2 = birth_header(t, size, &weight);
	else
		log2 = had_ext ? MA_HDR_MAX_LOG2 : ma_g.hdr_log2;
	void *user = resize_block(p, h, &old, size, log2);
	if (!user) {
		if (t)
			ma_own_add(&t->failed, 1);
		return NULL; /* the old block is untouched; errno is the real allocator's */
	}
	if (!t) {
		/* Untracked thread: keep the old size and site so the eventual free balances. */
		ma_hdr_set(user, old.size, ma_hdr_key(old.epoch), old.epoch, log2);
		if (had_ext)
			*ma_hdr_site_of(user) = old_ext;
		return user;
	}
	died(t, &old, had_ext ? &old_ext : NULL);
	ma_hdr_set(user, size, t->key, t->epoch, log2);
	born(t, user, size, fp, weight, log2);
	return user;
}

/* realloc: the special pointers and sizes first, then our own blocks. */
static void *realloc_impl(struct ma_thread *t, enum ma_call call, void *p, size_t size, uintptr_t fp)
{
	if (!p)
		return alloc_for_realloc(t, call, size, fp);
	if (size == 0) { /* glibc: realloc(p, 0) frees p and returns NULL */
		free_slow(t, call, p);
		return NULL;
	}
	if (ma_boot_owns(p)) {
		size_t old = ma_boot_size(p);
		void *n = alloc_for_realloc(t, call, size, fp);
		if (n)
			memcpy(n, p, old < size ? old : size);
		return n;
	}
	struct ma_hdr *h = ma_hdr_of(p);
	if (!is_ours(p, h)) {
		if (t)
			ma_own_add(&t->calls[call], 1);
		return ma_real.next_realloc ? ma_real.next_realloc(p, size) : NULL;
	}
	return realloc_ours(t, call, p, h, size, fp);
}

void *ma_core_realloc(enum ma_call call, void *p, size_t size, uintptr_t fp)
{
	struct ma_thread *t = ma_tls.rec ? ma_tls.rec : ma_thread_enter();
	void *r;
	uint32_t outer = t ? ma_update_enter(t) : MA_UPDATE_STOPPED;
	if (outer != MA_UPDATE_STOPPED) {
		r = realloc_impl(t, call, p, size, fp);
		ma_update_leave(t, outer);
	} else {
		r = realloc_impl(NULL, call, p, size, fp);
	}
	ma_thread_leave(t);
	return r;
}

static size_t usable_impl(struct ma_thread *t, void *p)
{
	if (t)
		ma_own_add(&t->calls[MA_CALL_malloc_usable_size], 1);
	if (!p)
		return 0;
	if (ma_boot_owns(p))
		return ma_boot_size(p);
	struct ma_hdr *h = ma_hdr_of(p);
	if (!is_ours(p, h))
		return ma_real.next_malloc_usable_size ? ma_real.next_malloc_usable_size(p) : 0;
	size_t off = (size_t)1 << h->shift;
	size_t u = ma_real.next_malloc_usable_size ? ma_real.next_malloc_usable_size(ma_hdr_base(p, h)) : 0;
	/* Never less than requested, never past the end of the real block. */
	return u >= off + h->size ? u - off : h->size;
}

size_t ma_core_usable_size(void *p)
{
	struct ma_thread *t = ma_tls.rec ? ma_tls.rec : ma_thread_enter();
	size_t n = usable_impl(t, p);
	ma_thread_leave(t);
	return n;
}
