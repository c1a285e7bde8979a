/* SPDX-License-Identifier: Apache-2.0 */
/* tier2_none.c: call sites compiled out (meson -Dstacks=disabled, or no walker for this CPU). */
#include "tier2.h"

#include "counters.h"
#include "real.h"

bool ma_tier2_available(void) { return false; }
bool ma_tier2_init(const struct ma_options *opt) { (void)opt; return false; }
uint32_t ma_tier2_sample(struct ma_thread *t, uint64_t size) { (void)t; (void)size; return 1; }
void ma_tier2_on_alloc(struct ma_thread *t, void *user, uint64_t size, uintptr_t fp, uint32_t weight) { (void)t; (void)user; (void)size; (void)fp; (void)weight; }
void ma_tier2_on_free(struct ma_thread *t, const struct ma_hdr_site *ext, uint64_t size) { (void)t; (void)ext; (void)size; }
/* Without a walker the mode is never MA_MODE_TRACED: only MA_MODE_FROZEN,
 * with counting stopped, sends the fast paths here. */
void *ma_tier2_alloc(struct ma_thread *t, enum ma_call call, size_t size, size_t reserve, bool zero,
                     uintptr_t fp)
{
	(void)call; (void)size; (void)fp;
	uint32_t outer = ma_update_enter(t);
	if (outer != MA_UPDATE_STOPPED)
		ma_update_leave(t, outer); /* not reached: kept safe anyway */
	return ma_real_alloc_uncounted(reserve, 0, zero);
}
/* Not reached (the shim comes here in MA_MODE_TRACED alone): what the real one does when counting stopped. */
void *ma_tier2_born(struct ma_thread *t, enum ma_call call, size_t size, char *base)
{
	(void)size;
	ma_own_add(&t->calls[call], (uint64_t)-1);
	return base;
}
void ma_tier2_free(struct ma_thread *t, enum ma_call call, void *p)
{
	(void)call;
	uint32_t outer = ma_update_enter(t);
	if (outer != MA_UPDATE_STOPPED)
		ma_update_leave(t, outer); /* not reached: kept safe anyway */
	ma_real_free_uncounted(p);
}
void ma_tier2_thread_exit(struct ma_thread *t) { (void)t; }
void ma_tier2_after_fork(struct ma_thread *self) { (void)self; }
void ma_tier2_before_dlclose(void *handle) { (void)handle; }
void ma_tier2_after_dlclose(void) {}

#include "tier2_report.h"
bool ma_tier2_freeze(struct ma_t2_frozen *f) { (void)f; return false; }
void ma_tier2_release(struct ma_t2_frozen *f) { (void)f; }
