/* SPDX-License-Identifier: Apache-2.0 */
/* report_text.c: the short human summary printed on stderr at exit. */
#include "fmt.h"
#include "init.h"
#include "report.h"
#include "tier2.h"

void ma_report_summary(struct ma_buf *b, const struct ma_report *r, const char *json_path)
{
	const struct ma_snapshot *s = &r->snap;
	ma_buf_str(b, "modalloc: pid ");
	ma_buf_u64(b, (uint64_t)r->pid);
	ma_buf_str(b, ": ");
	ma_buf_u64_grouped(b, s->blocks);
	ma_buf_str(b, " allocations, ");
	ma_buf_bytes_human(b, s->bytes);
	ma_buf_str(b, "; peak ");
	ma_buf_bytes_human(b, s->peak_bytes);
	ma_buf_str(b, " in ");
	ma_buf_u64_grouped(b, s->peak_blocks);
	ma_buf_str(b, " blocks; leaked ");
	ma_buf_bytes_human(b, s->live_bytes);
	ma_buf_str(b, " in ");
	ma_buf_u64_grouped(b, s->live_blocks);
	ma_buf_str(b, " blocks; RSS peak ");
	ma_buf_bytes_human(b, r->rss_peak_bytes);
	ma_buf_char(b, '\n');
	if (ma_g.backtraces)
		ma_tier2_summary(b, r);
	if (json_path) {
		ma_buf_str(b, "modalloc: report ");
		ma_buf_str(b, json_path);
		ma_buf_char(b, '\n');
	}
}
