/* SPDX-License-Identifier: Apache-2.0 */
/* stack.c: the thread's stack range and captures off it. */
#include "stack.h"

#include <fcntl.h>
#include <string.h>

#include "frame.h"
#include "internal.h"
#include "os.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Parses "lo-hi " at the start of a maps line. */
static bool parse_range(const char *s, const char *end, struct ma_range *r)
{
	uintptr_t v[2] = { 0, 0 };
	for (int k = 0; k < 2; k++) {
		int n = 0, d;
		while (s < end && (d = hexval(*s)) >= 0) {
			v[k] = (v[k] << 4) | (uintptr_t)d;
			s++;
			n++;
		}
		if (!n || s >= end || *s != (k == 0 ? '-' : ' '))
			return false;
		s++;
	}
	r->lo = v[0];
	r->hi = v[1];
	return true;
}

bool ma_stack_find_mapping(uintptr_t addr, struct ma_range *out)
{
	/* Lines straddle reads: keep the unfinished tail at the buffer's front. */
	char buf[4096];
	size_t have = 0;
	bool found = false;
	int fd = ma_os_open("/proc/self/maps", O_RDONLY, 0);
	if (fd < 0)
		return false;
	for (;;) {
		ssize_t n = ma_os_read_all(fd, buf + have, sizeof buf - have);
		if (n <= 0 && have == 0)
			break;
		size_t len = have + (n > 0 ? (size_t)n : 0);
		size_t start = 0;
		for (size_t i = 0; i < len; i++) {
			if (buf[i] != '\n')
				continue;
			struct ma_range r;
			if (parse_range(buf + start, buf + i, &r) && addr >= r.lo && addr < r.hi) {
				*out = r;
				found = true;
				goto done;
			}
			start = i + 1;
		}
		if (n <= 0)
			break;
		have = len - start;
		if (have == sizeof buf) /* an absurd line: drop it */
			have = 0;
		memmove(buf, buf + start, have);
	}
done:
	ma_os_close(fd);
	return found;
}

void ma_stack_thread_init(struct ma_stack_state *s)
{
	memset(s, 0, sizeof *s);
	uintptr_t here = (uintptr_t)__builtin_frame_address(0);
	if (!ma_stack_find_mapping(here, &s->own))
		s->own.lo = s->own.hi = 0;
	s->lookups = 1;
}

/* Is fp on the thread's own stack?  The main thread's stack grows down:
 * learn its new bottom, within a budget of /proc/self/maps reads. */
static bool on_own_stack(struct ma_stack_state *s, uintptr_t fp)
{
	if (MA_LIKELY(ma_stack_in_range(&s->own, fp)))
		return true;
	if (fp >= s->own.lo || s->own.lo - fp > (64u << 20) || s->lookups >= MA_STACK_MAX_LOOKUPS)
		return false;
	s->lookups++;
	struct ma_range found;
	if (ma_stack_find_mapping(fp, &found) && found.hi == s->own.hi) {
		s->own = found;
		return true;
	}
	return false;
}

unsigned ma_stack_capture_slow(struct ma_stack_state *s, uintptr_t fp, uintptr_t *out, unsigned max,
                               bool *truncated, uintptr_t *diff, unsigned *stop, struct ma_stack_code *code)
{
	*truncated = false;
	*diff = 0;
	*stop = MA_STACK_EARLY;
	if (!MA_ARCH_CAN_WALK)
		return 0;
	if (on_own_stack(s, fp)) {
		if (ma_stack_unwind_cfi)
			return ma_cfi_walk(fp, s->own, out, max, truncated, diff, NULL, stop, code);
		return ma_stack_walk(fp, s->own, false, out, max, truncated, diff, NULL, stop, code);
	}
	/* Another stack (sigaltstack, a coroutine): its extent is unknown, so the
	 * walk may go MA_STACK_FOREIGN_SPAN above where it starts, reading every
	 * record with a checked read. */
	struct ma_range r = { fp, fp + MA_STACK_FOREIGN_SPAN };
	if (r.hi < r.lo)
		r.hi = UINTPTR_MAX;
	if (ma_stack_unwind_cfi) /* back to the thread's stack through a signal frame */
		return ma_cfi_walk_foreign(fp, r, s->own, out, max, truncated, diff, stop, code);
	return ma_stack_walk(fp, r, true, out, max, truncated, diff, NULL, stop, code);
}
