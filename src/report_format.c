/* SPDX-License-Identifier: Apache-2.0 */
/* report_format.c: one frame, symbolized for the writers; a signal's name. */
#define _GNU_SOURCE
#include "report_format.h"

#include <signal.h>
#include <string.h>

#include "fmt.h"
#include "symbolize.h"
#include "tier2.h"

void ma_report_frame(uintptr_t ip, struct ma_frame_info *fi, char *fn_buf, size_t fn_cap,
                     char *mod_buf, size_t mod_cap)
{
	static struct ma_sym_result res; /* reports are serialised by lock_reporting */
	fi->ip = ip;
	fi->module = "";
	fi->offset = ip;
	fi->function = "??";
	bool found;
	if (ip & MA_FRAME_TAG) { /* a frame of a library dlclose()d since (tier2.h) */
		int idx = (int)((ip & ~MA_FRAME_TAG) >> MA_FRAME_TAG_SHIFT);
		uintptr_t lo, hi;
		found = ma_sym_module_span(idx, &lo, &hi);
		if (found) {
			ip = lo + (ip & (MA_FRAME_TAG_OFFSETS - 1)); /* the address it had */
			fi->ip = fi->offset = ip;
			found = ma_sym_resolve_in(idx, ip - 1, &res);
		}
	} else {
		/* ip - 1: a return address may already belong to the next function. */
		found = ma_sym_resolve(ip - 1, &res);
	}
	if (!found)
		return;
	if (res.found_module) {
		size_t n = strnlen(res.module, mod_cap - 1);
		memcpy(mod_buf, res.module, n);
		mod_buf[n] = '\0';
		fi->module = mod_buf;
		fi->offset = res.offset + 1;
	}
	if (res.found_function) {
		size_t n = strnlen(res.function, fn_cap - 1);
		memcpy(fn_buf, res.function, n);
		fn_buf[n] = '\0';
		fi->function = fn_buf;
	}
}

void ma_report_signal_name(int sig, char *buf, size_t cap)
{
	struct ma_buf b;
	ma_buf_init(&b, buf, cap, -1);
	ma_buf_str(&b, "SIG");
	/* A static table: async-signal-safe.  29 is SIGIO to the shell and Python. */
	const char *abbrev = sig == SIGIO ? "IO" : sigabbrev_np(sig);
	if (abbrev) {
		ma_buf_str(&b, abbrev);
	} else if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
		ma_buf_str(&b, "RTMIN+");
		ma_buf_u64(&b, (uint64_t)(sig - SIGRTMIN));
	} else {
		ma_buf_u64(&b, (uint64_t)sig);
	}
	ma_buf_finish(&b);
}
