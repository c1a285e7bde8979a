/* SPDX-License-Identifier: Apache-2.0 */
/* api.c: include/modalloc.h, implemented from snapshots. */
#define MODALLOC_BUILDING_LIBRARY
#include "modalloc.h"

#include <string.h>

#include "counters.h"
#include "init.h"
#include "os.h"
#include "report.h"

static void copy_out(struct modalloc_stats *out, size_t size, const struct ma_snapshot *s,
                     uint64_t rss)
{
	struct modalloc_stats v = {
		.blocks = s->blocks,
		.bytes = s->bytes,
		.frees = s->frees,
		.freed_bytes = s->freed_bytes,
		.live_bytes = s->live_bytes,
		.live_blocks = s->live_blocks,
		.peak_bytes = s->peak_bytes,
		.peak_blocks = s->peak_blocks,
		.rss_peak_bytes = rss,
		.threads = s->threads,
	};
	memset(out, 0, size);
	memcpy(out, &v, size < sizeof v ? size : sizeof v);
}

static bool active(void)
{
	return ma_load_acquire(&ma_g.state) == MA_ACTIVE;
}

MA_EXPORT int modalloc_get_stats(struct modalloc_stats *out, size_t size)
{
	struct ma_snapshot s;
	if (!out)
		return -22;
	if (!active()) {
		memset(out, 0, size);
		return MODALLOC_NOT_ACTIVE;
	}
	ma_snapshot_process(&s);
	copy_out(out, size, &s, ma_os_rss_peak_bytes());
	return MODALLOC_OK;
}

MA_EXPORT int modalloc_get_thread_stats(struct modalloc_stats *out, size_t size)
{
	struct ma_snapshot s;
	if (!out)
		return -22;
	struct ma_thread *t = ma_thread_self();
	if (!t)
		t = ma_thread_enter();
	if (!active() || !t) {
		memset(out, 0, size);
		return MODALLOC_NOT_ACTIVE;
	}
	ma_snapshot_thread(t, &s);
	copy_out(out, size, &s, 0);
	return MODALLOC_OK;
}

MA_EXPORT int modalloc_write_report(const char *path)
{
	if (!active())
		return MODALLOC_NOT_ACTIVE;
	ma_guard_enter();
	int r = ma_report_now(path);
	ma_guard_leave();
	return r;
}

MA_EXPORT const char *modalloc_version(void)
{
	return MODALLOC_VERSION;
}
