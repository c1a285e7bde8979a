/* SPDX-License-Identifier: Apache-2.0 */
/* report_format.c: one frame, symbolized for the writers. */
#include "report_format.h"

#include <string.h>

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
