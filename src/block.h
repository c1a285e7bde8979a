/* SPDX-License-Identifier: Apache-2.0 */
/*
 * block.h: the header that sits directly below every block we hand out.
 *
 *   real block base                         user pointer (16-byte aligned)
 *   |<- padding (aligned blocks only) ->|[site ext, Tier 2][ma_hdr]|user bytes...
 *
 * The header lets free() and realloc() learn the requested size with no
 * shared table (see docs/design.md for the measurements behind this
 * choice).  `check` is the user pointer under a random per-process key; with
 * the epoch and shift beside it, it forms one 8-byte tag that the fast free
 * compares in one go.  A pointer we did not hand out fails it (with
 * probability 1 - 2^-32 for the check alone) and is passed to the real free
 * untouched.  A freed block's tag is cleared first, so a stale header is
 * never taken for a live one.
 */
#ifndef MA_BLOCK_H
#define MA_BLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "global.h"
#include "internal.h"
#include "thread.h"

struct ma_hdr {
	uint64_t size;   /* requested bytes */
	union {
		struct {
			uint32_t check;  /* ma_hdr_check(user, cookie) while live, 0 once freed */
			uint16_t epoch;  /* fork generation of the process that allocated it */
			uint8_t shift;   /* user - base == 1 << shift */
			uint8_t flags;
		};
		/* All four as one word: written with one store, tested by the fast
		 * free with one compare (which also proves shift and epoch), and
		 * cleared with one store of the same width as the allocator's own
		 * 8-byte load there (glibc's tcache key), so it forwards. */
		uint64_t tag;
	};
};

/* Tier 2's extension, directly below ma_hdr when call sites are on. */
struct ma_hdr_site {
	uint64_t birth;  /* allocation clock (bytes allocated so far) at birth */
	uint32_t site;   /* index into the call-site table */
	uint32_t spare;
};

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ma_hdr_tag assumes a little-endian layout"
#endif

/* The tag word of a header: check, epoch and shift as laid out above. */
MA_INLINE uint64_t ma_hdr_tag(uint32_t check, uint16_t epoch, uint8_t shift)
{
	return (uint64_t)check | (uint64_t)epoch << 32 | (uint64_t)shift << 48;
}

_Static_assert(sizeof(struct ma_hdr) == 16, "header must keep 16-byte alignment");
_Static_assert(sizeof(struct ma_hdr_site) == 16, "site extension must keep 16-byte alignment");

#define MA_HDR_MIN_LOG2 4 /* 16 bytes: Tier 1 */
#define MA_HDR_MAX_LOG2 5 /* 32 bytes: Tier 2 */
/* Every header of a process has one of these sizes (ma_g.hdr_bytes), fixed at start-up. */
#define MA_HDR_BYTES_TIER1 (1u << MA_HDR_MIN_LOG2)
#define MA_HDR_BYTES_TIER2 (1u << MA_HDR_MAX_LOG2)

MA_INLINE struct ma_hdr *ma_hdr_of(void *user)
{
	return (struct ma_hdr *)user - 1;
}

MA_INLINE struct ma_hdr_site *ma_hdr_site_of(void *user)
{
	return (struct ma_hdr_site *)((struct ma_hdr *)user - 1) - 1;
}

MA_INLINE uint32_t ma_hdr_check(const void *user, uint32_t cookie)
{
	/* The address under a random per-process key: one shift and one xor.  A
	 * foreign block would also have to carry our epoch and shift in the tag's
	 * upper half (ma_hdr_tag), where glibc keeps a small size field. */
	return (uint32_t)((uintptr_t)user >> 4) ^ cookie;
}

MA_INLINE void *ma_hdr_base(void *user, const struct ma_hdr *h)
{
	return (char *)user - ((uintptr_t)1 << h->shift);
}

/* The check key of blocks born in epoch `epoch`: a fork child's key differs,
 * so the fast free tests "ours and not inherited" with one compare. */
MA_INLINE uint32_t ma_hdr_key(uint16_t epoch)
{
	return ma_g.cookie ^ ((uint32_t)epoch * 0x9E3779B9u);
}

/* A record's header keys for fork generation `epoch` (cached in the record). */
MA_INLINE void ma_hdr_keys_set(struct ma_thread *t, uint16_t epoch)
{
	t->epoch = epoch;
	t->key = ma_hdr_key(epoch);
	t->tag_hi = ma_hdr_tag(0, epoch, ma_g.hdr_log2);
}

MA_INLINE void ma_hdr_set(void *user, uint64_t size, uint32_t key, uint16_t epoch, uint8_t shift)
{
	struct ma_hdr *h = ma_hdr_of(user);
	h->size = size;
	h->tag = ma_hdr_tag(ma_hdr_check(user, key), epoch, shift);
}

/* The tag of a block of t's with the usual offset (what the fast free expects). */
MA_INLINE uint64_t ma_hdr_tag_own(const void *user, const struct ma_thread *t)
{
	return ma_hdr_check(user, t->key) | t->tag_hi;
}

/* The same for a block of t's with the usual offset: two stores. */
MA_INLINE void ma_hdr_set_own(void *user, uint64_t size, const struct ma_thread *t)
{
	struct ma_hdr *h = ma_hdr_of(user);
	h->size = size;
	h->tag = ma_hdr_tag_own(user, t);
}

/* Did this process (of any fork generation) write h?  Not a proof for a
 * pointer from elsewhere: see the probability above. */
MA_INLINE bool ma_hdr_is_ours(const void *user, const struct ma_hdr *h)
{
	return h->check == ma_hdr_check(user, ma_hdr_key(h->epoch));
}

#endif
