/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tier2.h: the call-site tier's hooks into the core.  With call sites off
 * (or on a CPU without a frame walker) these are never called on the
 * allocation path: the core tests ma_g.backtraces first.
 */
#ifndef MA_TIER2_H
#define MA_TIER2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "options.h"
#include "thread.h"

struct ma_buf;
struct ma_hdr_site;

/* True when this build can capture stacks on this CPU. */
bool ma_tier2_available(void);
/* Sets up the site table; false (after one stderr line) to run without sites. */
bool ma_tier2_init(const struct ma_options *opt);
/*
 * Sampled call sites (ma_g.sampling): the sampler's verdict on a block of
 * `size` bytes about to be born on t, from the countdown in ma_tls: 0 when
 * passed over (its bytes taken off the countdown), else its weight (>= 1).
 */
uint32_t ma_tier2_sample(struct ma_thread *t, uint64_t size);
/* A tracked block was born / is dying.  `user` has the site extension below
 * its header (block.h); fp is the shim's frame, where the walk starts;
 * weight: 1 for exact call sites, ma_tier2_sample's verdict when sampling (0:
 * the extension only says so, for its free). */
void ma_tier2_on_alloc(struct ma_thread *t, void *user, uint64_t size, uintptr_t fp, uint32_t weight);
void ma_tier2_on_free(struct ma_thread *t, const struct ma_hdr_site *ext, uint64_t size);
/*
 * The fast paths when ma_g.mode is set (core.h): the whole event, the real
 * call included, in one function each; with counting stopped, an uncounted
 * block (ma_real_alloc_uncounted, ma_real_free_uncounted).  free's p passed
 * the header tag check.
 */
void *ma_tier2_alloc(struct ma_thread *t, enum ma_call call, size_t size, size_t reserve, bool zero,
                     uintptr_t fp);
/*
 * The same, after the caller counted the call and made the real one for the
 * request + MA_HDR_BYTES_TIER2 bytes (base: its result, NULL if it failed).
 * The shim's tail call: the walk starts at this function's own frame record,
 * the shim's caller's.  If counting has stopped since the caller looked,
 * base itself, uncounted.
 */
void *ma_tier2_born(struct ma_thread *t, enum ma_call call, size_t size, char *base);
void ma_tier2_free(struct ma_thread *t, enum ma_call call, void *p);
void ma_tier2_thread_exit(struct ma_thread *t);
void ma_tier2_after_fork(struct ma_thread *self);
/* Before the real dlclose: frames in that library keep its names (tier2.c). */
void ma_tier2_before_dlclose(void *handle);
/* After the real dlclose: the module table drops what was unmapped. */
void ma_tier2_after_dlclose(void);

/* A frame rewritten at dlclose: module index and offset instead of an address. */
#define MA_FRAME_TAG ((uintptr_t)1 << 63)
#define MA_FRAME_TAG_SHIFT 40
#define MA_FRAME_TAG_MODULES ((uint64_t)1 << 22)
#define MA_FRAME_TAG_OFFSETS ((uint64_t)1 << MA_FRAME_TAG_SHIFT)

#endif
