/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wline.h: the test programs' output lines, without stdio (its buffer is a
 * malloc the counts would see).  A line is built on the stack and written
 * with one write(2), so lines of several processes stay whole in a pipe.
 * Shared by tests/integration (t.h) and tests/stress (stress.h).
 */
#ifndef WLINE_H
#define WLINE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

struct wline {
	char s[512];
	size_t n;
};

static inline void wl_str(struct wline *l, const char *s)
{
	while (*s && l->n < sizeof l->s - 2)
		l->s[l->n++] = *s++;
}

static inline void wl_u64(struct wline *l, uint64_t v)
{
	char tmp[24];
	int i = 0;
	do
		tmp[i++] = (char)('0' + v % 10);
	while ((v /= 10) && i < 23);
	while (i > 0 && l->n < sizeof l->s - 2)
		l->s[l->n++] = tmp[--i];
}

static inline void wl_i64(struct wline *l, int64_t v)
{
	if (v < 0) {
		wl_str(l, "-");
		wl_u64(l, (uint64_t)0 - (uint64_t)v);
	} else {
		wl_u64(l, (uint64_t)v);
	}
}

/* Ends the line and writes it to stdout whole. */
static inline void wl_flush(struct wline *l)
{
	l->s[l->n++] = '\n';
	size_t off = 0;
	while (off < l->n) {
		ssize_t w = write(1, l->s + off, l->n - off);
		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			break;
		}
		off += (size_t)w;
	}
	l->n = 0;
}

#endif
