/* SPDX-License-Identifier: Apache-2.0 */
/* stack.c: frame-pointer walking policy over arch/<cpu>/frame.h. */
#include "stack.h"

#include <fcntl.h>
#include <string.h>

#include "frame.h"
#include "internal.h"
#include "os.h"

static uintptr_t self_lo, self_hi;

void ma_stack_set_self(uintptr_t lo, uintptr_t hi)
{
	self_lo = lo;
	self_hi = hi;
}

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

static bool in_range(const struct ma_range *r, uintptr_t p)
{
	return p >= r->lo && p < r->hi;
}

/* The range of the stack `fp` is on, learning new ones within a budget. */
static bool range_of(struct ma_stack_state *s, uintptr_t fp, struct ma_range *r)
{
	if (MA_LIKELY(in_range(&s->own, fp))) {
		*r = s->own;
		return true;
	}
	for (unsigned i = 0; i < MA_STACK_ALT_SLOTS; i++)
		if (in_range(&s->alt[i], fp)) {
			*r = s->alt[i];
			return true;
		}
	if (s->lookups >= MA_STACK_MAX_LOOKUPS)
		return false;
	s->lookups++;
	struct ma_range found;
	if (!ma_stack_find_mapping(fp, &found))
		return false;
	if (found.hi == s->own.hi) { /* the main stack grew down */
		s->own = found;
	} else {
		s->alt[s->alt_next] = found;
		s->alt_next = (s->alt_next + 1) % MA_STACK_ALT_SLOTS;
	}
	*r = found;
	return true;
}

unsigned ma_stack_walk(uintptr_t fp, struct ma_range r, uintptr_t *out, unsigned max, bool *truncated)
{
	unsigned n = 0;
	bool in_self = true; /* our own frames come first; skip them, then stop looking */
	*truncated = false;
	if (r.hi < r.lo + 2 * sizeof(uintptr_t))
		return 0;
	uintptr_t top = r.hi - 2 * sizeof(uintptr_t);
	while (!(fp & (sizeof(uintptr_t) - 1)) && fp >= r.lo && fp <= top) {
		uintptr_t next, ret;
		ma_arch_record(fp, &next, &ret);
		if (!ret)
			break;
		uintptr_t pc = ma_arch_pc(ret);
		if (in_self && pc >= self_lo && pc < self_hi) {
			/* still inside the library */
		} else {
			in_self = false;
			if (n == max) {
				*truncated = true;
				break;
			}
			out[n++] = pc;
		}
		if (next <= fp) /* strictly toward the stack base, or stop */
			break;
		fp = next;
	}
	return n;
}

unsigned ma_stack_capture(struct ma_stack_state *s, uintptr_t *out, unsigned max, bool *truncated)
{
	return ma_stack_capture_from(s, ma_arch_frame(), out, max, truncated);
}

unsigned ma_stack_capture_from(struct ma_stack_state *s, uintptr_t fp, uintptr_t *out, unsigned max,
                               bool *truncated)
{
	struct ma_range r;
	*truncated = false;
	if (!MA_ARCH_CAN_WALK)
		return 0;
	if (MA_UNLIKELY(!range_of(s, fp, &r))) {
		s->unknown_stack_events++;
		return 0;
	}
	return ma_stack_walk(fp, r, out, max, truncated);
}
