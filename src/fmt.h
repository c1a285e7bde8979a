/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fmt.h: allocation-free output.  A ma_buf collects text in caller-provided
 * storage and either flushes to a file descriptor when full (fd >= 0) or
 * truncates (fd < 0, for building strings).  A write error is sticky and
 * reported once by ma_buf_finish.  No stdio, no malloc, no locale.
 */
#ifndef MA_FMT_H
#define MA_FMT_H

#include <stddef.h>
#include <stdint.h>

struct ma_buf {
	char *data;
	size_t cap, len;
	int fd;         /* flush target, or -1: a fixed string that truncates */
	int error;      /* first negative errno from a flush, or 0 */
	int truncated;  /* fd < 0 and something did not fit */
};

void ma_buf_init(struct ma_buf *b, char *storage, size_t cap, int fd);
void ma_buf_mem(struct ma_buf *b, const void *p, size_t n);
void ma_buf_str(struct ma_buf *b, const char *s);
void ma_buf_char(struct ma_buf *b, char c);
void ma_buf_u64(struct ma_buf *b, uint64_t v);
void ma_buf_i64(struct ma_buf *b, int64_t v);
void ma_buf_hex(struct ma_buf *b, uint64_t v);            /* 0x-prefixed, lowercase */
void ma_buf_u64_grouped(struct ma_buf *b, uint64_t v);    /* 1,234,567 */
void ma_buf_bytes_human(struct ma_buf *b, uint64_t v);    /* 12.3 MiB, rounded as the modalloc command does */
/* s with control characters shown as '?': a name that cannot break a line. */
void ma_buf_str_printable(struct ma_buf *b, const char *s);
/* A JSON string literal, quotes included; invalid UTF-8 bytes become U+FFFD. */
void ma_buf_json_str(struct ma_buf *b, const char *s);
void ma_buf_json_strn(struct ma_buf *b, const char *s, size_t n);
/* Flushes what is left; returns 0 or the first error.  For fd < 0, NUL-terminates. */
int ma_buf_finish(struct ma_buf *b);

/*
 * The program's name (the basename of path, control characters as '?') for
 * the heads of the library's lines; set once at start-up.  Until then lines
 * start "modalloc: " alone.
 */
void ma_fmt_set_program(const char *path);
/* "modalloc: cc1 (pid 42): " (or "modalloc: pid 42: " with no name set). */
void ma_buf_line_head(struct ma_buf *b, uint64_t pid);

/* One line on stderr, headed "modalloc: NAME (pid N): " once the name is
 * set (else "modalloc: "), assembled without stdio. */
void ma_warn(const char *a, const char *b, const char *c, const char *d);

#endif
