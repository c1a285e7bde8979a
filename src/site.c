/* SPDX-License-Identifier: Apache-2.0 */
/* site.c: the lock-free call-site table. */
#include "site.h"

#include <string.h>

#include "os.h"

struct ma_site_table ma_sites;

#define MA_OVERFLOW_SET (1u << 16)
#define MA_SITE_ARENA_CHUNK (256 * 1024)
#define MA_SITE_ARENA_LIMIT (64ull * 1024 * 1024)

bool ma_site_table_init(uint64_t buckets)
{
	uint64_t cap = buckets / 4 * 3 + 1;
	size_t bb = buckets * sizeof(ma_au64);
	size_t sb = cap * sizeof(struct ma_site);
	size_t ob = MA_OVERFLOW_SET * sizeof(ma_au64);
	/* Untouched pages of these mappings cost no memory. */
	ma_sites.buckets = ma_os_map(bb);
	ma_sites.sites = ma_os_map(sb);
	ma_sites.overflow_set = ma_os_map(ob);
	if (!ma_sites.buckets || !ma_sites.sites || !ma_sites.overflow_set)
		return false;
	ma_sites.mask = buckets - 1;
	ma_sites.capacity = cap;
	ma_sites.overflow_set_mask = MA_OVERFLOW_SET - 1;
	ma_sites.mapped_bytes = bb + sb + ob;
	ma_store_relaxed(&ma_sites.used, 1); /* site 0: overflow */
	return true;
}

uint64_t ma_site_hash(const uintptr_t *frames, unsigned n, bool truncated)
{
	/* Independent multiplies, summed: no serial dependency between frames, so
	 * deep stacks hash at the multiplier's throughput.  Collisions only cost
	 * time: equal hashes are always followed by a full comparison. */
	static const uint64_t k[4] = { 0x9E3779B97F4A7C15ull, 0xC2B2AE3D27D4EB4Full,
	                               0x165667B19E3779F9ull, 0xD6E8FEB86659FD93ull };
	uint64_t h0 = 0x243F6A8885A308D3ull ^ ((uint64_t)n << 1) ^ truncated, h1 = 0, h2 = 0, h3 = 0;
	unsigned i = 0;
	for (; i + 4 <= n; i += 4) {
		h0 += (frames[i] ^ i) * k[0];
		h1 += (frames[i + 1] ^ i) * k[1];
		h2 += (frames[i + 2] ^ i) * k[2];
		h3 += (frames[i + 3] ^ i) * k[3];
	}
	for (; i < n; i++)
		h0 += (frames[i] ^ i) * k[i & 3] + (h0 >> 31);
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

static uintptr_t *store_frames(struct ma_site_arena *a, unsigned n)
{
	size_t need = (n ? n : 1) * sizeof(uintptr_t);
	if ((size_t)(a->end - a->cur) < need) {
		if (ma_load_relaxed(&ma_sites.arena_bytes) + MA_SITE_ARENA_CHUNK > MA_SITE_ARENA_LIMIT)
			return NULL;
		char *c = ma_os_map(MA_SITE_ARENA_CHUNK);
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

uint32_t ma_site_intern(const uintptr_t *frames, unsigned n, bool truncated, struct ma_site_arena *arena)
{
	uint64_t hash = ma_site_hash(frames, n, truncated);
	uint64_t tag = hash & 0xffffffff00000000ull;
	uint32_t mine = 0; /* a claimed, unpublished site of ours */
	for (uint64_t i = 0; i <= ma_sites.mask; i++) {
		ma_au64 *b = &ma_sites.buckets[(hash + i) & ma_sites.mask];
		uint64_t w = ma_load_acquire(b);
		if (w != 0) {
			if ((w & 0xffffffff00000000ull) == tag) {
				uint32_t idx = (uint32_t)(w & 0xffffffffu) - 1;
				if (same_stack(&ma_sites.sites[idx], hash, frames, n, truncated)) {
					if (mine)
						ma_add_relaxed(&ma_sites.lost_races, 1);
					return idx;
				}
			}
			continue;
		}
		/* Empty: claim a dense site once, fill it, publish it here. */
		if (!mine) {
			uint64_t idx = ma_add_relaxed(&ma_sites.used, 1);
			uintptr_t *copy = idx < ma_sites.capacity ? store_frames(arena, n) : NULL;
			if (!copy) {
				if (idx >= ma_sites.capacity)
					ma_store_relaxed(&ma_sites.used, ma_sites.capacity);
				note_overflow(hash);
				return 0;
			}
			memcpy(copy, frames, n * sizeof *frames);
			struct ma_site *s = &ma_sites.sites[idx];
			s->hash = hash;
			s->frames = copy;
			s->nframes = n;
			s->truncated = truncated;
			mine = (uint32_t)idx;
		}
		if (ma_cas_acq_rel(b, &w, bucket_word(mine, hash)))
			return mine;
		/* Someone published here first: it may be our stack; look again. */
		i--;
	}
	note_overflow(hash);
	return 0;
}

void ma_site_table_reset_counts(void)
{
	uint64_t used = ma_load_relaxed(&ma_sites.used);
	if (used > ma_sites.capacity)
		used = ma_sites.capacity;
	for (uint64_t i = 0; i < used; i++) {
		memset(&ma_sites.sites[i].own, 0, sizeof(struct ma_site_part));
		memset(&ma_sites.sites[i].shared, 0, sizeof(struct ma_site_part));
	}
	ma_store_relaxed(&ma_sites.overflow_events, 0);
}
