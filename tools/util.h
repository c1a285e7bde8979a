/* SPDX-License-Identifier: Apache-2.0 */
/*
 * util.h: small helpers shared by the modalloc command's subcommands:
 * one-line errors, checked allocation, number and size parsing, and the
 * human-readable byte format used in every table.
 */
#ifndef MT_UTIL_H
#define MT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MT_PROG "modalloc"

/* Prints "modalloc: <msg>" on stderr. */
void mt_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* mt_err then exit(status). */
_Noreturn void mt_die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void *mt_xmalloc(size_t n);
void *mt_xcalloc(size_t n, size_t m);
void *mt_xrealloc(void *p, size_t n);
char *mt_xstrdup(const char *s);
char *mt_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Decimal unsigned integer, nothing else (no sign, space or junk, no
 * overflow); 0 on success, -1 leaving *out alone otherwise.
 */
int mt_parse_u64(const char *s, uint64_t *out);
/* "0x" or "0X" and hex digits, nothing else, as mt_parse_u64: "0x7f3a". */
int mt_parse_hex(const char *s, uint64_t *out);
/*
 * The decimal number at the start of s ("12" of "12.json"), as
 * mt_parse_u64 but *end is set to the first byte after the digits.
 */
int mt_parse_u64_prefix(const char *s, uint64_t *out, const char **end);
/*
 * A size: a decimal number (a fraction allowed) and an optional unit,
 * case-insensitive: B, k/K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB.  Every unit is
 * binary (k = 1024), as memory sizes are.  "1.5GiB" = 1610612736.
 */
int mt_parse_size(const char *s, uint64_t *out);

/* "512 B", "1.5 KiB", "12.3 MiB": writes into buf (at least 16 bytes). */
const char *mt_human(uint64_t bytes, char *buf, size_t cap);
/* Signed variant with an explicit sign: "+1.0 KiB", "-512 B", "0 B". */
const char *mt_human_signed(int64_t bytes, char *buf, size_t cap);
/* 1234567 -> "1,234,567". */
const char *mt_grouped(uint64_t v, char *buf, size_t cap);

/*
 * Copies at most width display columns of s into buf, ending with "..." when
 * cut; control characters are escaped ("\n", "\t"), so the copy is one line.
 */
const char *mt_trunc(const char *s, size_t width, char *buf, size_t cap);

/* Standard option helpers: is this argument --help / -h? */
bool mt_is_help(const char *arg);

/*
 * After getopt_long(3) (optstring starting with ':') returned '?' or ':':
 * dies with one line naming the option, "CMD: unknown option '-x' (see
 * modalloc CMD --help)" or "option --top needs a value".
 */
_Noreturn void mt_opt_fail(const char *cmd, int c, char **argv);

struct option;
/*
 * getopt_long(3) for a subcommand, with what every subcommand does alike:
 * -h/--help prints usage on stdout and exits 0; an unknown option or a
 * missing value dies through mt_opt_fail(cmd, ...).  optstring starts with
 * ':' (after a '+', if any) and has 'h'.  Returns the next other option, or
 * -1 after the last.
 */
int mt_getopt(int argc, char **argv, const char *optstring, const struct option *longopts,
              const char *cmd, const char *usage);
/*
 * The FILE operands after the options (argv[optind..]): dies "CMD: no FILE
 * given (see modalloc CMD --help)" when there is none, and "CMD: takes one
 * FILE" when there are more and just_one is set.  Returns how many there are.
 */
size_t mt_need_files(const char *cmd, int argc, bool just_one);

/* Reads a whole file; NULL with errno set on failure. */
char *mt_read_file(const char *path, size_t *len);

#endif
