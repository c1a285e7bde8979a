/* SPDX-License-Identifier: Apache-2.0 */
/* site.c: the lock-free call-site table. */
#include "site.h"

#include <string.h>

#include "os.h"
#include "state.h"

struct ma_site_table ma_sites;

#define MA_OVERFLOW_SET (1u << 16)
#define MA_SITE_ARENA_CHUNK (256 * 1024)
#define MA_SITE_ARENA_LIMIT (64ull * 1024 * 1024)
#define MA_SITE_ARENA_PER_SITE 256 /* 32 frames */

/* A bucket array of n buckets (a power of two), empty, copying from prev. */
static struct ma_site_buckets *map_buckets(uint64_t n, struct ma_site_buckets *prev)
{
	size_t bytes = sizeof(struct ma_site_buckets) + n * sizeof(ma_au64);
	struct ma_site_buckets *b = ma_os_map(bytes);
	if (!b)
		return NULL;
	b->mask = n - 1;
	b->limit = n / 4 * 3;
	b->hard = n - n / 8;
	b->bytes = bytes;
	ma_store_relaxed(&b->prev, prev);
	/* What the copy from prev will bring, at most (see ma_site_buckets.count). */
	ma_store_relaxed(&b->count, prev ? prev->hard : 0);
	return b;
}

/*
 * Maps the chunk holding site idx if nobody has yet, and writes its sites'
 * entries in ma_sites.at; false if that fails.  Every thread about to
 * publish a site of the chunk comes here first and writes the entries itself
 * when idx's is not there yet (the same values whoever writes them): the
 * thread that mapped the chunk may still be on its way to writing them.
 */
static bool map_chunk(uint64_t idx)
{
	if (ma_load_acquire(&ma_sites.at[idx]))
		return true;
	uint64_t first = idx & ~(uint64_t)(MA_SITE_CHUNK - 1);
	struct ma_site *_Atomic *d = &ma_sites.chunks[idx >> MA_SITE_CHUNK_LOG2];
	struct ma_site *c = ma_load_acquire(d);
	if (!c) {
		size_t bytes = MA_SITE_CHUNK * sizeof(struct ma_site);
		/* In the state file (state.h): a recovered report has its sites. */
		struct ma_site *mine = ma_state_map(bytes, MA_STATE_KIND_SITE_CHUNK);
		if (!mine)
			return false;
		c = NULL;
		if (ma_cas_acq_rel(d, &c, mine)) {
			c = mine;
			/* The chunk's entries in `at`: counted once, by its mapper. */
			ma_add_relaxed(&ma_sites.mapped_bytes, bytes + MA_SITE_CHUNK * sizeof(struct ma_site *));
		} else {
			ma_state_unmap(mine, bytes); /* another thread mapped it first: c is its chunk */
		}
	}
	for (uint64_t i = 0; i < MA_SITE_CHUNK; i++)
		ma_store_release(&ma_sites.at[first + i], c + i);
	return true;
}

bool ma_site_table_init(uint64_t buckets, uint64_t max_buckets)
{
	if (max_buckets < buckets)
		max_buckets = buckets;
	uint64_t cap = max_buckets / 4 * 3 + 1;
	size_t db = (cap + MA_SITE_CHUNK - 1) / MA_SITE_CHUNK * sizeof(struct ma_site *);
	size_t ob = MA_OVERFLOW_SET * sizeof(ma_au64);
	struct ma_site_buckets *first = map_buckets(buckets, NULL);
	/* Untouched pages of these mappings cost no memory. */
	ma_sites.chunks = ma_state_map(db, MA_STATE_KIND_SITE_DIR);
	/* One entry per site the directory covers; pages are touched (and
	 * counted in mapped_bytes) chunk by chunk, in map_chunk. */
	ma_sites.at = ma_os_map(db / sizeof(struct ma_site *) * MA_SITE_CHUNK * sizeof(struct ma_site *));
	ma_sites.overflow_set = ma_os_map(ob);
	if (!first || !ma_sites.chunks || !ma_sites.at || !ma_sites.overflow_set)
		return false;
	ma_store_relaxed(&ma_sites.cur, first);
	ma_sites.capacity = cap;
	ma_sites.max_buckets = max_buckets;
	ma_sites.overflow_set_mask = MA_OVERFLOW_SET - 1;
	ma_sites.arena_limit = cap * MA_SITE_ARENA_PER_SITE > MA_SITE_ARENA_LIMIT ? cap * MA_SITE_ARENA_PER_SITE
	                                                                          : MA_SITE_ARENA_LIMIT;
	ma_store_relaxed(&ma_sites.mapped_bytes, first->bytes + db + ob);
	/* The overflow site's chunk now; the others when their first site is
	 * claimed (in the state file, mapped memory costs memory). */
	if (!map_chunk(0))
		return false;
	ma_store_relaxed(&ma_sites.used, 1); /* site 0: overflow */
	return true;
}

uint64_t ma_site_hash(const uintptr_t *frames, unsigned n, bool truncated)
{
	/* Four independent lanes (frames i, i+4, ... go to lane i % 4), each a
	 * polynomial in its frames (h = (h + f) * k): deep stacks hash at about a
	 * frame a cycle, and moving a frame to another position changes the hash.
	 * (A sum of per-frame products did not: two stacks that swap frames four
	 * apart hashed alike, and the overflow set, keyed by hash, undercounted.)
	 * Collisions only cost time in the table: equal hashes are always
	 * followed by a full comparison. */
	static const uint64_t k[4] = { 0x9E3779B97F4A7C15ull, 0xC2B2AE3D27D4EB4Full,
	                               0x165667B19E3779F9ull, 0xD6E8FEB86659FD93ull };
	uint64_t h0 = 0x243F6A8885A308D3ull ^ ((uint64_t)n << 1) ^ truncated, h1 = 0x13198A2E03707344ull,
	         h2 = 0xA4093822299F31D0ull, h3 = 0x082EFA98EC4E6C89ull;
	unsigned i = 0;
	for (; i + 4 <= n; i += 4) {
		h0 = (h0 + frames[i]) * k[0];
		h1 = (h1 + frames[i + 1]) * k[1];
		h2 = (h2 + frames[i + 2]) * k[2];
		h3 = (h3 + frames[i + 3]) * k[3];
	}
	for (; i < n; i++)
		h0 = (h0 + frames[i]) * k[i & 3];
	uint64_t h = h0 ^ (h1 << 17 | h1 >> 47) ^ (h2 << 31 | h2 >> 33) ^ (h3 << 47 | h3 >> 17);
	h ^= h >> 29;
	h *= 0xBF58476D1CE4E5B9ull;
	h ^= h >> 32;
	return h;
}

static bool frames_equal(const uintptr_t *a, const uintptr_t *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

static bool same_stack(const struct ma_site *s, uint64_t hash, const uintptr_t *frames, unsigned n, bool truncated)
{
	return s->hash == hash && s->nframes == n && s->truncated == truncated &&
	       frames_equal(s->frames, frames, n);
}

static void note_overflow(uint64_t hash)
{
	ma_add_relaxed(&ma_sites.overflow_events, 1);
	uint64_t key = hash | 1; /* 0 marks an empty slot */
	for (uint64_t i = 0; i <= ma_sites.overflow_set_mask; i++) {
		ma_au64 *slot = &ma_sites.overflow_set[(hash + i) & ma_sites.overflow_set_mask];
		uint64_t cur = ma_load_relaxed(slot);
		if (cur == key)
			return;
		if (cur == 0) {
			if (ma_cas_acq_rel(slot, &cur, key)) {
				ma_add_relaxed(&ma_sites.overflow_stacks, 1);
				return;
			}
			if (cur == key)
				return;
		}
	}
	/* The set itself is full: count the stack anyway (a lower bound stays honest). */
	ma_add_relaxed(&ma_sites.overflow_stacks, 1);
}

/* Bucket word: site index + 1 in the low 32 bits, the hash's high half above. */
static inline uint64_t bucket_word(uint32_t idx, uint64_t hash)
{
	return (hash & 0xffffffff00000000ull) | (uint64_t)(idx + 1);
}

/* The site a bucket word names, if it holds this stack. */
static inline bool word_is(uint64_t w, uint64_t tag, uint64_t hash, const uintptr_t *frames, unsigned n,
                           bool truncated)
{
	return (w & 0xffffffff00000000ull) == tag &&
	       same_stack(ma_site_at((uint32_t)(w & 0xffffffffu) - 1), hash, frames, n, truncated);
}

static uintptr_t *store_frames(struct ma_site_arena *a, unsigned n)
{
	size_t need = (n ? n : 1) * sizeof(uintptr_t);
	if ((size_t)(a->end - a->cur) < need) {
		if (ma_load_relaxed(&ma_sites.arena_bytes) + MA_SITE_ARENA_CHUNK > ma_sites.arena_limit)
			return NULL;
		char *c = ma_state_map(MA_SITE_ARENA_CHUNK, MA_STATE_KIND_FRAMES);
		if (!c)
			return NULL;
		ma_add_relaxed(&ma_sites.arena_bytes, MA_SITE_ARENA_CHUNK);
		a->cur = c;
		a->end = c + MA_SITE_ARENA_CHUNK;
	}
	uintptr_t *p = (uintptr_t *)a->cur;
	a->cur += need;
	return p;
}

/*
 * Puts the word w of a published site into b (a copy from b's prev): nothing
 * if it is there already.  No other site there can hold the same stack: an
 * inserter into b looked in prev first (lookup_old).
 */
static void copy_word(struct ma_site_buckets *b, uint64_t w)
{
	uint64_t hash = ma_site_at((uint32_t)(w & 0xffffffffu) - 1)->hash;
	for (uint64_t i = 0; i <= b->mask; i++) {
		ma_au64 *slot = &b->slot[(hash + i) & b->mask];
		uint64_t v = ma_load_acquire(slot);
		if (v == 0 && ma_cas_acq_rel(slot, &v, w))
			return; /* counted in advance (map_buckets) */
		/* v: what the slot holds.  MOVED: b itself is being copied on,
		 * which begins only after its own copy (this one) is complete. */
		if (v == w || v == MA_SITE_MOVED)
			return;
	}
}

/*
 * Copies b's prev into b, if that is not done yet.  Any number of threads
 * may do it at once (each slot is settled by one CAS; copies of one word
 * land in one slot): whoever finishes clears prev.
 */
static void finish_copy(struct ma_site_buckets *b)
{
	struct ma_site_buckets *old = ma_load_acquire(&b->prev);
	if (!old)
		return;
	for (uint64_t i = 0; i <= old->mask; i++) {
		uint64_t w = ma_load_acquire(&old->slot[i]);
		while (w == 0 && !ma_cas_acq_rel(&old->slot[i], &w, MA_SITE_MOVED))
			; /* w: what beat us to it */
		if (w != 0 && w != MA_SITE_MOVED)
			copy_word(b, w);
	}
	ma_store_release(&b->prev, NULL);
}

/*
 * b reached its limit: map and link an array twice its size (unless another
 * thread did), publish it, copy b into it.  Whoever calls this returns only
 * once b is frozen and copied (or cannot grow), so each thread puts at most
 * one entry into b past its limit.
 */
static MA_NOINLINE void grow(struct ma_site_buckets *b)
{
	finish_copy(b); /* b is complete before anything is copied out of it */
	struct ma_site_buckets *nb = ma_load_acquire(&b->next);
	if (!nb) {
		if ((b->mask + 1) * 2 > ma_sites.max_buckets)
			return;
		struct ma_site_buckets *none = NULL;
		nb = map_buckets((b->mask + 1) * 2, b);
		if (!nb)
			return; /* b fills up; then the overflow site */
		if (ma_cas_acq_rel(&b->next, &none, nb)) {
			ma_add_relaxed(&ma_sites.mapped_bytes, nb->bytes);
			ma_add_relaxed(&ma_sites.growths, 1);
		} else {
			ma_os_unmap(nb, nb->bytes); /* another thread grew it */
			nb = none;
		}
	}
	/* Publish: cur only moves forward (from b, not from a newer array). */
	struct ma_site_buckets *was = b;
	ma_cas_acq_rel(&ma_sites.cur, &was, nb);
	finish_copy(nb);
}

/*
 * Looks for the stack in old, the array being copied into a newer one; it
 * freezes the first empty slot of the stack's probe there, so the stack
 * cannot be added to old after this miss.  Returns its site index + 1, or 0.
 */
static uint64_t lookup_old(struct ma_site_buckets *old, uint64_t hash, uint64_t tag, const uintptr_t *frames,
                           unsigned n, bool truncated)
{
	for (uint64_t i = 0; i <= old->mask; i++) {
		ma_au64 *slot = &old->slot[(hash + i) & old->mask];
		uint64_t w = ma_load_acquire(slot);
		while (w == 0 && !ma_cas_acq_rel(slot, &w, MA_SITE_MOVED))
			;
		if (w == 0 || w == MA_SITE_MOVED)
			return 0;
		if (word_is(w, tag, hash, frames, n, truncated))
			return w & 0xffffffffu;
	}
	return 0;
}

/* A site for a stack that is in no array yet: 0 (overflow) or its index. */
static uint32_t claim(uint64_t hash, const uintptr_t *frames, unsigned n, bool truncated,
                      struct ma_site_arena *arena)
{
	uint64_t idx = ma_add_relaxed(&ma_sites.used, 1);
	uintptr_t *copy = idx < ma_sites.capacity && map_chunk(idx) ? store_frames(arena, n) : NULL;
	if (!copy) {
		if (idx >= ma_sites.capacity)
			ma_store_relaxed(&ma_sites.used, ma_sites.capacity);
		return 0;
	}
	memcpy(copy, frames, n * sizeof *frames);
	struct ma_site *s = ma_site_at((uint32_t)idx);
	s->hash = hash;
	s->frames = copy;
	s->nframes = n;
	s->truncated = truncated;
	return (uint32_t)idx;
}

uint32_t ma_site_intern(const uintptr_t *frames, unsigned n, bool truncated, struct ma_site_arena *arena)
{
	uint64_t hash = ma_site_hash(frames, n, truncated);
	uint64_t tag = hash & 0xffffffff00000000ull;
	uint32_t mine = 0; /* a claimed, unpublished site of ours */
	struct ma_site_buckets *b = ma_load_acquire(&ma_sites.cur);
again:;
	/* prev before the probe: once it reads NULL, every copied word is visible. */
	struct ma_site_buckets *old = ma_load_acquire(&b->prev);
	bool reserved = false, grow_after = false; /* b->count counts our entry; it reached b->limit */
	for (uint64_t i = 0; i <= b->mask; i++) {
		ma_au64 *slot = &b->slot[(hash + i) & b->mask];
		uint64_t w = ma_load_acquire(slot);
		if (w == MA_SITE_MOVED)
			goto moved;
		if (w != 0) {
			if (word_is(w, tag, hash, frames, n, truncated)) {
				if (mine)
					ma_add_relaxed(&ma_sites.lost_races, 1);
				return (uint32_t)(w & 0xffffffffu) - 1;
			}
			continue;
		}
		/* Empty: not in b.  Perhaps in the array b is being filled from. */
		if (old) {
			uint64_t found = lookup_old(old, hash, tag, frames, n, truncated);
			if (found) {
				if (mine)
					ma_add_relaxed(&ma_sites.lost_races, 1);
				return (uint32_t)found - 1;
			}
			old = NULL;
		}
		/* A place in b: below `hard`, so the copies into b always find room. */
		if (!reserved) {
			uint64_t c = ma_add_relaxed(&b->count, 1);
			if (c >= b->hard) {
				grow(b);
				if (ma_load_acquire(&b->next))
					goto moved;
				goto overflow;
			}
			reserved = true;
			if (c + 1 >= b->limit)
				grow_after = true;
		}
		/* Claim a dense site once, fill it, publish it here. */
		if (!mine) {
			mine = claim(hash, frames, n, truncated, arena);
			if (!mine)
				goto overflow;
		}
		if (ma_cas_acq_rel(slot, &w, bucket_word(mine, hash))) {
			if (grow_after)
				grow(b);
			return mine;
		}
		/* Someone published here first: it may be our stack; look again. */
		i--;
	}
	/* Every bucket full: a bigger array may be on its way. */
	if (ma_load_acquire(&b->next)) {
moved:;
		/* b is being copied on: go on in its successor (and make that current if b still is). */
		struct ma_site_buckets *was = b;
		b = ma_load_acquire(&b->next);
		ma_cas_acq_rel(&ma_sites.cur, &was, b);
		goto again;
	}
overflow:
	note_overflow(hash);
	return 0;
}

/* A growth the fork's parent left half-done (its copier is gone): finish it. */
static void finish_growth(void)
{
	struct ma_site_buckets *b = ma_load_acquire(&ma_sites.cur), *next;
	while ((next = ma_load_acquire(&b->next)) != NULL) {
		finish_copy(b);
		ma_store_release(&ma_sites.cur, next);
		b = next;
	}
	finish_copy(b);
}

void ma_site_table_reset_counts(void)
{
	finish_growth();
	uint64_t used = ma_load_relaxed(&ma_sites.used);
	if (used > ma_sites.capacity)
		used = ma_sites.capacity;
	for (uint64_t i = 0; i < used; i++) {
		struct ma_site *s = ma_site_peek(i);
		if (!s)
			continue;
		memset(&s->own, 0, sizeof(struct ma_site_part));
		memset(&s->shared, 0, sizeof(struct ma_site_part));
	}
	ma_store_relaxed(&ma_sites.overflow_events, 0);
}
