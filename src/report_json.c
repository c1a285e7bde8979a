/* SPDX-License-Identifier: Apache-2.0 */
/* report_json.c: the modalloc JSON report, format version 1. */
#include "fmt.h"
#include "init.h"
#include "report.h"
#include "tier2.h"

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

void ma_report_json(struct ma_buf *b, const struct ma_report *r)
{
	const struct ma_snapshot *s = &r->snap;
	ma_buf_str(b, "{\"format\": \"modalloc\", \"version\": 1");
	kv_u64(b, "pid", (uint64_t)r->pid, false);
	key(b, "cmd", false);
	ma_buf_json_str(b, ma_g.cmd);
	key(b, "tool", false);
	ma_buf_str(b, "\"modalloc " MODALLOC_VERSION "\"");
	key(b, "at_exit", false);
	ma_buf_str(b, r->at_exit ? "true" : "false");

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
	key(b, "backtraces", true);
	ma_buf_str(b, ma_g.backtraces ? "true" : "false");
	kv_u64(b, "buckets", ma_g.opt.buckets, false);
	kv_u64(b, "depth", ma_g.opt.depth, false);
	kv_u64(b, "header_bytes", ma_g.hdr_bytes, false);
	kv_u64(b, "peak_slack_bytes", MA_LIVE_SLACK_BYTES, false);
	ma_buf_char(b, '}');
	if (ma_g.backtraces)
		ma_tier2_json(b, r);
	ma_buf_str(b, "\n}\n");
}
