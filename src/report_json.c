/* SPDX-License-Identifier: Apache-2.0 */
/* report_json.c: the modalloc JSON report, format version 1. */
#include "fmt.h"
#include "options.h"
#include "global.h"
#include "report_format.h"

#include "modalloc.h"

static void key(struct ma_buf *b, const char *k, bool first)
{
	if (!first)
		ma_buf_str(b, ", ");
	ma_buf_char(b, '"');
	ma_buf_str(b, k);
	ma_buf_str(b, "\": ");
}

static void kv_u64(struct ma_buf *b, const char *k, uint64_t v, bool first)
{
	key(b, k, first);
	ma_buf_u64(b, v);
}

static void kv_bool(struct ma_buf *b, const char *k, bool v, bool first)
{
	key(b, k, first);
	ma_buf_str(b, v ? "true" : "false");
}

static void kv_hex(struct ma_buf *b, const char *k, uint64_t v, bool first)
{
	key(b, k, first);
	ma_buf_char(b, '"');
	ma_buf_hex(b, v);
	ma_buf_char(b, '"');
}

static void write_frames(struct ma_buf *b, const struct ma_site_total *s)
{
	ma_buf_char(b, '[');
	for (uint32_t i = 0; i < s->nframes; i++) {
		char fn[1024], mod[MA_PATH_MAX];
		struct ma_frame_info fi;
		ma_report_frame(s->frames[i], &fi, fn, sizeof fn, mod, sizeof mod);
		ma_buf_str(b, i ? ",\n    {" : "\n    {");
		kv_hex(b, "ip", fi.ip, true);
		key(b, "module", false);
		ma_buf_json_str(b, fi.module);
		kv_hex(b, "offset", fi.offset, false);
		key(b, "function", false);
		ma_buf_json_str(b, fi.function);
		ma_buf_char(b, '}');
	}
	ma_buf_char(b, ']');
}

static void write_sites(struct ma_buf *b, const struct ma_t2_frozen *f)
{
	ma_buf_str(b, ",\n \"stacks\": {");
	kv_u64(b, "sites", f->count, true);
	kv_u64(b, "truncated", f->truncated_events, false);
	kv_u64(b, "overflow_events", f->overflow_events, false);
	kv_u64(b, "overflow_stacks", f->overflow_stacks, false);
	kv_u64(b, "buckets_needed", f->buckets_needed, false);
	kv_u64(b, "table_buckets", f->table_buckets, false);
	kv_u64(b, "profiler_bytes", f->profiler_bytes, false);
	kv_bool(b, "shallow_warning", f->shallow_warning, false);
	kv_u64(b, "ended_early", f->early_events, false);
	if (ma_g.opt.sample)
		kv_u64(b, "samples", f->samples, false);
	if (f->shallow_warning) {
		key(b, "hint", false);
		ma_buf_json_str(b, "many allocations have stacks that end early, in code without frame pointers: "
		                   "rebuild the program (and its libraries) with -fno-omit-frame-pointer");
	}
	ma_buf_str(b, "},\n \"sites\": [");
	for (size_t i = 0; i < f->count; i++) {
		const struct ma_site_total *s = &f->sites[f->order[i]];
		ma_buf_str(b, i ? ",\n  {" : "\n  {");
		kv_u64(b, "blocks", s->blocks, true);
		kv_u64(b, "bytes", s->bytes, false);
		kv_u64(b, "max_bytes", s->max_bytes, false);
		kv_u64(b, "max_blocks", s->max_blocks, false);
		kv_u64(b, "at_peak_bytes", s->at_peak_bytes, false);
		kv_u64(b, "at_peak_blocks", s->at_peak_blocks, false);
		kv_u64(b, "live_bytes", s->live_bytes, false);
		kv_u64(b, "live_blocks", s->live_blocks, false);
		kv_u64(b, "frees", s->frees, false);
		if (ma_g.opt.sample) /* the sampled blocks behind the estimates */
			kv_u64(b, "samples", s->samples, false);
		kv_u64(b, "lifetime_total", s->lifetime_total, false);
		key(b, "lifetime_unit", false);
		ma_buf_str(b, "\"bytes_allocated\"");
		kv_bool(b, "truncated", s->truncated, false);
		kv_bool(b, "ended_early", s->ended_early, false);
		if (s->is_overflow)
			kv_bool(b, "overflow", true, false);
		key(b, "size_hist_log2", false);
		unsigned last = 0;
		for (unsigned k = 0; k < MA_SITE_HIST; k++)
			if (s->hist[k])
				last = k + 1;
		ma_buf_char(b, '[');
		for (unsigned k = 0; k < last; k++) {
			if (k)
				ma_buf_char(b, ',');
			ma_buf_u64(b, s->hist[k]);
		}
		ma_buf_char(b, ']');
		key(b, "frames", false);
		write_frames(b, s);
		ma_buf_char(b, '}');
	}
	ma_buf_str(b, "]");
}

void ma_report_json(struct ma_buf *b, const struct ma_report *r)
{
	const struct ma_snapshot *s = &r->snap;
	ma_buf_str(b, "{\"format\": \"modalloc\", \"version\": 1");
	kv_u64(b, "pid", (uint64_t)r->pid, false);
	key(b, "cmd", false);
	ma_buf_json_str(b, ma_g.cmd);
	key(b, "tool", false);
	ma_buf_str(b, "\"modalloc " MODALLOC_VERSION "\"");
	kv_bool(b, "at_exit", r->at_exit, false);
	kv_bool(b, "at_exec", r->at_exec, false);
	if (r->signal) { /* written by the handler of a fatal signal (fatal.c) */
		char name[32];
		ma_report_signal_name(r->signal, name, sizeof name);
		key(b, "signal", false);
		ma_buf_json_str(b, name);
	}

	ma_buf_str(b, ",\n \"totals\": {");
	kv_u64(b, "blocks", s->blocks, true);
	kv_u64(b, "bytes", s->bytes, false);
	kv_u64(b, "frees", s->frees, false);
	kv_u64(b, "freed_bytes", s->freed_bytes, false);
	kv_u64(b, "peak_bytes", s->peak_bytes, false);
	kv_u64(b, "peak_blocks", s->peak_blocks, false);
	kv_u64(b, "live_bytes", s->live_bytes, false);
	kv_u64(b, "live_blocks", s->live_blocks, false);
	kv_u64(b, "rss_peak_bytes", r->rss_peak_bytes, false);
	kv_u64(b, "failed", s->failed, false);
	ma_buf_str(b, "},\n \"calls\": {");
	for (unsigned i = 0; i < MA_CALL_COUNT; i++)
		kv_u64(b, ma_call_names[i], s->calls[i], i == 0);
	ma_buf_str(b, "},\n \"inherited\": {");
	kv_u64(b, "frees", s->inherited_frees, true);
	kv_u64(b, "freed_bytes", s->inherited_freed_bytes, false);
	ma_buf_str(b, "},\n \"foreign_frees\": ");
	ma_buf_u64(b, s->foreign_frees);
	ma_buf_str(b, ",\n \"threads\": ");
	ma_buf_u64(b, s->threads);
	ma_buf_str(b, ",\n \"wall_ns\": ");
	ma_buf_u64(b, r->wall_ns);
	ma_buf_str(b, ",\n \"config\": {");
	kv_bool(b, "backtraces", ma_g.backtraces, true);
	kv_u64(b, "buckets", ma_g.opt.buckets, false);
	kv_u64(b, "buckets_max", ma_g.opt.buckets_max, false);
	kv_u64(b, "depth", ma_g.opt.depth, false);
	kv_u64(b, "header_bytes", ma_g.hdr_bytes, false);
	kv_u64(b, "peak_slack_bytes", MA_LIVE_SLACK_BYTES, false);
	/* MOD_ALLOC_SAMPLE: per-site figures are estimates when non-zero; totals and calls stay exact. */
	kv_u64(b, "sample_bytes", ma_g.backtraces ? ma_g.opt.sample : 0, false);
	if (ma_g.backtraces && ma_g.opt.sample)
		kv_u64(b, "sample_seed", ma_g.opt.sample_seed, false);
	/* How call sites are walked (MOD_ALLOC_UNWIND; "cfi" for auto, where the arch has that walk). */
	key(b, "unwind", false);
#if defined(__x86_64__) || defined(__aarch64__)
	ma_buf_str(b, ma_g.opt.unwind == MA_UNWIND_FP ? "\"fp\"" : "\"cfi\"");
#else
	ma_buf_str(b, "\"fp\"");
#endif
	ma_buf_str(b, "},\n \"timeline\": {\"unit\": \"bytes_allocated\"");
	kv_u64(b, "interval", r->timeline_interval, false);
	key(b, "peak", false);
	ma_buf_char(b, '[');
	ma_buf_u64(b, r->clock_peak);
	ma_buf_char(b, ',');
	ma_buf_u64(b, r->snap.peak_bytes);
	ma_buf_char(b, ']');
	key(b, "columns", false);
	ma_buf_str(b, "[\"clock\", \"live_bytes\", \"rss_bytes\"]");
	key(b, "points", false);
	ma_buf_char(b, '[');
	for (unsigned i = 0; i < r->timeline_count; i++) {
		const struct ma_timeline_point *p = &r->timeline[i];
		ma_buf_str(b, i ? ",[" : "[");
		ma_buf_u64(b, p->clock);
		ma_buf_char(b, ',');
		ma_buf_u64(b, p->live_bytes);
		ma_buf_char(b, ',');
		ma_buf_u64(b, p->rss_bytes);
		ma_buf_char(b, ']');
	}
	ma_buf_str(b, "]}");
	if (r->sites)
		write_sites(b, r->sites);
	ma_buf_str(b, "\n}\n");
}
