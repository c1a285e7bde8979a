/* SPDX-License-Identifier: Apache-2.0 */
/* fmt.c: allocation-free text and JSON formatting over a flushing buffer. */
#include "fmt.h"

#include <string.h>

#include "os.h"

void ma_buf_init(struct ma_buf *b, char *storage, size_t cap, int fd)
{
	b->data = storage;
	b->cap = cap;
	b->len = 0;
	b->fd = fd;
	b->error = 0;
	b->truncated = 0;
}

static void flush(struct ma_buf *b)
{
	if (b->fd < 0 || b->len == 0)
		return;
	if (!b->error) {
		int r = ma_os_write_all(b->fd, b->data, b->len);
		if (r < 0)
			b->error = r;
	}
	b->len = 0;
}

void ma_buf_mem(struct ma_buf *b, const void *p, size_t n)
{
	const char *s = p;
	if (b->cap == 0) {
		b->truncated = b->truncated || n > 0;
		return;
	}
	/* A string buffer keeps one byte for the terminating NUL. */
	size_t room_cap = b->fd < 0 ? b->cap - 1 : b->cap;
	while (n) {
		if (b->len == room_cap) {
			if (b->fd < 0) {
				b->truncated = 1;
				return;
			}
			flush(b);
		}
		size_t room = room_cap - b->len;
		size_t k = n < room ? n : room;
		memcpy(b->data + b->len, s, k);
		b->len += k;
		s += k;
		n -= k;
	}
}

void ma_buf_str(struct ma_buf *b, const char *s)
{
	ma_buf_mem(b, s, strlen(s));
}

void ma_buf_char(struct ma_buf *b, char c)
{
	ma_buf_mem(b, &c, 1);
}

void ma_buf_u64(struct ma_buf *b, uint64_t v)
{
	char tmp[24];
	int i = sizeof tmp;
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	ma_buf_mem(b, tmp + i, sizeof tmp - (size_t)i);
}

void ma_buf_i64(struct ma_buf *b, int64_t v)
{
	if (v < 0) {
		ma_buf_char(b, '-');
		ma_buf_u64(b, (uint64_t)0 - (uint64_t)v);
	} else {
		ma_buf_u64(b, (uint64_t)v);
	}
}

void ma_buf_hex(struct ma_buf *b, uint64_t v)
{
	char tmp[18];
	int i = sizeof tmp;
	do {
		tmp[--i] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	tmp[--i] = 'x';
	tmp[--i] = '0';
	ma_buf_mem(b, tmp + i, sizeof tmp - (size_t)i);
}

void ma_buf_u64_grouped(struct ma_buf *b, uint64_t v)
{
	char tmp[32];
	int i = sizeof tmp, digits = 0;
	do {
		if (digits && digits % 3 == 0)
			tmp[--i] = ',';
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
		digits++;
	} while (v);
	ma_buf_mem(b, tmp + i, sizeof tmp - (size_t)i);
}

/*
 * As the modalloc command prints sizes (printf "%.1f" of v / 1024^unit): the
 * tenths rounded to nearest, an exact half to even; from 1023.95 on, the
 * next unit.
 */
void ma_buf_bytes_human(struct ma_buf *b, uint64_t v)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	const unsigned last = sizeof unit / sizeof unit[0] - 1;
	if (v < 1024) {
		ma_buf_u64(b, v);
		ma_buf_str(b, " B");
		return;
	}
	unsigned u = 1;
	while (u < last && v >> (10 * u) >= 1024)
		u++;
	uint64_t tenths;
	for (;;) {
		/* tenths = v * 10 / 2^shift without overflow: rem * 10 < 2^64 as shift <= 60. */
		unsigned shift = 10 * u;
		uint64_t mask = (1ull << shift) - 1, half = 1ull << (shift - 1);
		uint64_t frac10 = (v & mask) * 10;
		tenths = (v >> shift) * 10 + (frac10 >> shift);
		uint64_t rem = frac10 & mask;
		if (rem > half || (rem == half && (tenths & 1)))
			tenths++;
		if (tenths < 10240 || u == last)
			break;
		u++;
	}
	ma_buf_u64(b, tenths / 10);
	ma_buf_char(b, '.');
	ma_buf_u64(b, tenths % 10);
	ma_buf_char(b, ' ');
	ma_buf_str(b, unit[u]);
}

void ma_buf_str_printable(struct ma_buf *b, const char *s)
{
	for (; *s; s++)
		ma_buf_char(b, (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

/* The program's name for the line heads, set once at start-up. */
static char program[64];

void ma_fmt_set_program(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t i = 0;
	for (; base[i] && i + 1 < sizeof program; i++)
		program[i] = (unsigned char)base[i] < 0x20 || base[i] == 0x7f ? '?' : base[i];
	program[i] = '\0';
}

void ma_buf_line_head(struct ma_buf *b, uint64_t pid)
{
	ma_buf_str(b, "modalloc: ");
	if (program[0]) {
		ma_buf_str(b, program);
		ma_buf_str(b, " (pid ");
		ma_buf_u64(b, pid);
		ma_buf_str(b, "): ");
	} else {
		ma_buf_str(b, "pid ");
		ma_buf_u64(b, pid);
		ma_buf_str(b, ": ");
	}
}

/* Length of a valid UTF-8 sequence starting at s (n bytes available), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned min;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	unsigned cp = c & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void ma_buf_json_strn(struct ma_buf *b, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	ma_buf_char(b, '"');
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		if (c == '"' || c == '\\') {
			ma_buf_char(b, '\\');
			ma_buf_char(b, (char)c);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			static const char hex[] = "0123456789abcdef";
			char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			if (c == '\n')
				ma_buf_str(b, "\\n");
			else if (c == '\t')
				ma_buf_str(b, "\\t");
			else if (c == '\r')
				ma_buf_str(b, "\\r");
			else
				ma_buf_mem(b, e, sizeof e);
			i++;
		} else if (c < 0x80) {
			ma_buf_char(b, (char)c);
			i++;
		} else {
			size_t k = utf8_len(s + i, n - i);
			if (k) {
				ma_buf_mem(b, s + i, k);
				i += k;
			} else {
				ma_buf_str(b, "\\ufffd");
				i++;
			}
		}
	}
	ma_buf_char(b, '"');
}

void ma_buf_json_str(struct ma_buf *b, const char *s)
{
	ma_buf_json_strn(b, s, strlen(s));
}

int ma_buf_finish(struct ma_buf *b)
{
	if (b->fd >= 0)
		flush(b);
	else if (b->cap)
		b->data[b->len] = '\0';
	return b->error;
}

void ma_warn(const char *a, const char *c2, const char *c3, const char *c4)
{
	char store[1024];
	struct ma_buf b;
	ma_buf_init(&b, store, sizeof store, -1);
	if (program[0])
		ma_buf_line_head(&b, (uint64_t)ma_os_getpid());
	else
		ma_buf_str(&b, "modalloc: ");
	const char *parts[] = { a, c2, c3, c4 };
	for (unsigned i = 0; i < 4; i++)
		if (parts[i])
			ma_buf_str(&b, parts[i]);
	ma_buf_finish(&b);
	/* Always end with exactly one newline, even when truncated. */
	if (b.len && store[b.len - 1] != '\n') {
		if (b.len == sizeof store - 1)
			b.len--;
		store[b.len++] = '\n';
	}
	ma_os_write_all(2, store, b.len);
}
