/* SPDX-License-Identifier: Apache-2.0 */
/*
 * report_format.h: what a report writer is handed (the frozen report), the
 * frame formatter every writer shares, and the writers (JSON, the stderr
 * summary, DHAT).  Below report.c, which freezes the state and writes the
 * files: the writers never call up into it.
 */
#ifndef MA_REPORT_FORMAT_H
#define MA_REPORT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "counters.h"
#include "tier2_report.h"
#include "timeline.h"

struct ma_buf;

/* Everything a writer needs, frozen once. */
struct ma_report {
	struct ma_snapshot snap;
	pid_t pid;
	uint64_t rss_peak_bytes;
	uint64_t wall_ns;
	bool at_exit;
	bool at_exec;
	int signal;                       /* the fatal signal this report is written for (fatal.c), or 0 */
	const struct ma_t2_frozen *sites; /* NULL without call sites */
	/* Memory over time: the samples, then the peak and the end inserted in clock order. */
	struct ma_timeline_point timeline[MA_TIMELINE_MAX + 2];
	unsigned timeline_count;
	uint64_t timeline_interval;
	uint64_t clock_end, clock_peak;
};

/* One frame, symbolized for the writers. */
struct ma_frame_info {
	uintptr_t ip;           /* the return address */
	const char *module;     /* path, or "" */
	uint64_t offset;        /* ip - module base */
	const char *function;   /* demangled name, or "??" */
};
void ma_report_frame(uintptr_t ip, struct ma_frame_info *fi, char *fn_buf, size_t fn_cap,
                     char *mod_buf, size_t mod_cap);

/* "SIGTERM", "SIGRTMIN+2"... into buf (cap >= 16). */
void ma_report_signal_name(int sig, char *buf, size_t cap);

typedef void (*ma_report_writer)(struct ma_buf *b, const struct ma_report *r);

/* The formats. */
void ma_report_json(struct ma_buf *b, const struct ma_report *r);
void ma_report_summary(struct ma_buf *b, const struct ma_report *r, const char *json_path);
/* The warning that stacks end early (frame pointers missing), if it applies:
 * a warning, so printed even when the summary is not (MOD_ALLOC_QUIET). */
void ma_report_stack_warning(struct ma_buf *b, const struct ma_t2_frozen *f);
/* When sampling (MOD_ALLOC_SAMPLE): "estimated, sampled every 512 KiB"; nothing when exact. */
void ma_report_sample_note(struct ma_buf *b);
void ma_report_dhat(struct ma_buf *b, const struct ma_report *r);

#endif
