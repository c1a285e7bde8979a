/* SPDX-License-Identifier: Apache-2.0 */
/* report_text.c: the short human summary printed on stderr at exit. */
#include <string.h>

#include "fmt.h"
#include "options.h"
#include "global.h"
#include "report_format.h"

/* Wrappers that only pass an allocation on: the summary names their callers. */
static bool is_wrapper(const char *fn)
{
	static const char *const prefixes[] = {
		"operator new", "_Znwm", "_Znam", "_ZnwmSt", "_ZnamSt", "strdup", "strndup",
		"__strdup", "__libc_", "xmalloc", "xcalloc", "xrealloc", "g_malloc", "g_realloc",
	};
	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
		if (strncmp(fn, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

/* "12.3 KiB in 1,234 blocks" */
static void bytes_in_blocks(struct ma_buf *b, uint64_t bytes, uint64_t blocks)
{
	ma_buf_bytes_human(b, bytes);
	ma_buf_str(b, " in ");
	ma_buf_u64_grouped(b, blocks);
	ma_buf_str(b, blocks == 1 ? " block" : " blocks");
}

static void frames_line(struct ma_buf *b, const struct ma_site_total *s)
{
	unsigned shown = 0;
	if (s->is_overflow) {
		ma_buf_str(b, "[overflow: stacks beyond MOD_ALLOC_BUCKETS_MAX]");
		return;
	}
	for (uint32_t i = 0; i < s->nframes && shown < 3; i++) {
		char fn[1024], mod[MA_PATH_MAX];
		struct ma_frame_info fi;
		ma_report_frame(s->frames[i], &fi, fn, sizeof fn, mod, sizeof mod);
		if (shown == 0 && i + 1 < s->nframes && is_wrapper(fi.function))
			continue;
		if (shown)
			ma_buf_str(b, " < ");
		if (strcmp(fi.function, "??") != 0) {
			ma_buf_str(b, fi.function);
		} else {
			const char *base = strrchr(fi.module, '/');
			ma_buf_str(b, base ? base + 1 : fi.module);
			ma_buf_char(b, '+');
			ma_buf_hex(b, fi.offset);
		}
		shown++;
	}
	if (!s->nframes)
		ma_buf_str(b, "[no frames]");
}

static uint64_t by_bytes(const struct ma_site_total *s) { return s->bytes; }
static uint64_t by_peak(const struct ma_site_total *s) { return s->at_peak_bytes; }
static uint64_t by_leak(const struct ma_site_total *s) { return s->live_bytes; }

/* The top three sites by one key, by selection (no sorting, no memory). */
static void top3(struct ma_buf *b, const struct ma_t2_frozen *f, const char *title,
                 uint64_t (*key)(const struct ma_site_total *))
{
	uint32_t pick[3];
	unsigned n = 0;
	for (unsigned k = 0; k < 3; k++) {
		uint64_t best = 0;
		bool found = false;
		for (size_t i = 0; i < f->count; i++) {
			uint32_t ix = f->order[i];
			bool taken = false;
			for (unsigned j = 0; j < n; j++)
				taken |= pick[j] == ix;
			uint64_t v = key(&f->sites[ix]);
			if (!taken && v > best) {
				best = v;
				pick[n] = ix;
				found = true;
			}
		}
		if (!found)
			break;
		n++;
	}
	if (!n)
		return;
	ma_buf_str(b, "modalloc: top sites by ");
	ma_buf_str(b, title);
	if (ma_g.backtraces && ma_g.opt.sample) {
		ma_buf_str(b, " (");
		ma_report_sample_note(b);
		ma_buf_char(b, ')');
	}
	ma_buf_str(b, ":\n");
	for (unsigned k = 0; k < n; k++) {
		const struct ma_site_total *s = &f->sites[pick[k]];
		ma_buf_str(b, "modalloc:   ");
		bytes_in_blocks(b, key(s), key == by_bytes ? s->blocks : key == by_peak ? s->at_peak_blocks : s->live_blocks);
		ma_buf_str(b, "  ");
		frames_line(b, s);
		ma_buf_char(b, '\n');
	}
}

void ma_report_sample_note(struct ma_buf *b)
{
	uint64_t v = ma_g.opt.sample;
	if (!ma_g.backtraces || !v)
		return;
	static const char *const units[] = { "bytes", "KiB", "MiB", "GiB", "TiB" };
	unsigned u = 0;
	while (u < 4 && v >= 1024 && v % 1024 == 0) {
		v /= 1024;
		u++;
	}
	ma_buf_str(b, "estimated, sampled every ");
	ma_buf_u64_grouped(b, v);
	ma_buf_char(b, ' ');
	ma_buf_str(b, v == 1 && u == 0 ? "byte" : units[u]);
}

void ma_report_stack_warning(struct ma_buf *b, const struct ma_t2_frozen *f)
{
	if (!f || !f->shallow_warning)
		return;
	ma_buf_str(b, "modalloc: stacks end early (frame pointers missing) for ");
	ma_buf_u64_grouped(b, f->early_events);
	ma_buf_str(b, " allocations: call sites are cut short; rebuild with -fno-omit-frame-pointer\n");
}

void ma_report_summary(struct ma_buf *b, const struct ma_report *r, const char *json_path)
{
	const struct ma_snapshot *s = &r->snap;
	ma_buf_line_head(b, (uint64_t)r->pid);
	ma_buf_u64_grouped(b, s->blocks);
	ma_buf_str(b, s->blocks == 1 ? " allocation, " : " allocations, ");
	ma_buf_bytes_human(b, s->bytes);
	ma_buf_str(b, "; peak ");
	bytes_in_blocks(b, s->peak_bytes, s->peak_blocks);
	ma_buf_str(b, "; leaked ");
	bytes_in_blocks(b, s->live_bytes, s->live_blocks);
	ma_buf_str(b, "; RSS peak ");
	ma_buf_bytes_human(b, r->rss_peak_bytes);
	if (r->signal) {
		char name[32];
		ma_report_signal_name(r->signal, name, sizeof name);
		ma_buf_str(b, "; killed by ");
		ma_buf_str(b, name);
	}
	ma_buf_char(b, '\n');
	const struct ma_t2_frozen *f = r->sites;
	if (f) {
		top3(b, f, "bytes allocated", by_bytes);
		top3(b, f, "bytes at the peak", by_peak);
		top3(b, f, "bytes leaked", by_leak);
		if (f->overflow_events) {
			ma_buf_str(b, "modalloc: call-site table full: ");
			ma_buf_u64_grouped(b, f->overflow_events);
			ma_buf_str(b, f->overflow_events == 1 ? " event from " : " events from ");
			ma_buf_u64_grouped(b, f->overflow_stacks);
			ma_buf_str(b, f->overflow_stacks == 1 ? " stack went" : " stacks went");
			ma_buf_str(b, " to the overflow site; MOD_ALLOC_BUCKETS_MAX=");
			ma_buf_u64(b, f->buckets_needed);
			ma_buf_str(b, " would hold them\n");
		}
		ma_report_stack_warning(b, f);
	}
	if (json_path) {
		ma_buf_str(b, "modalloc: report ");
		ma_buf_str_printable(b, json_path);
		ma_buf_char(b, '\n');
	}
}
