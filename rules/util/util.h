/* SPDX-License-Identifier: MIT */
/* Small shared pieces of rules/: byte strings, growable buffers, error lists with file:line:col.
 * Everything in rules/ builds on these so errors and buffers look the same in every component. */
#ifndef RS_UTIL_H
#define RS_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/** A byte string; never assumed NUL-terminated. Same layout as h2o_iovec_t. */
typedef struct st_rs_str_t {
    const char *base;
    size_t len;
} rs_str_t;

#define RS_STR(lit) ((rs_str_t){(lit), sizeof(lit) - 1})
static inline rs_str_t rs_str(const char *base, size_t len)
{
    return (rs_str_t){base, len};
}
int rs_str_eq(rs_str_t a, const char *lit);  /* exact, lit is NUL-terminated */
int rs_str_ieq(rs_str_t a, const char *lit); /* ASCII case-insensitive */
int rs_str_ieq2(rs_str_t a, rs_str_t b);     /* ASCII case-insensitive */
char *rs_strndup(const char *s, size_t len); /* aborts on OOM; result NUL-terminated */
char *rs_strdup_lower(const char *s);        /* a copy with ASCII upper case folded; aborts on OOM */

/** Growable byte buffer. Reused across requests it stops allocating once it reaches its high-water mark. */
typedef struct st_rs_buf_t {
    char *base;
    size_t len, cap;
} rs_buf_t;

void rs_buf_reserve(rs_buf_t *b, size_t extra); /* ensures cap >= len + extra + 1 (room for a NUL); aborts on OOM */
void rs_buf_append(rs_buf_t *b, const void *p, size_t n);
void rs_buf_putc(rs_buf_t *b, char c);
void rs_buf_printf(rs_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void rs_buf_reset(rs_buf_t *b)
{
    b->len = 0;
}
void rs_buf_free(rs_buf_t *b);
/** Value of a hexadecimal digit (either case), or -1. */
static inline int rs_hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/** Writes code point cp (< 0x110000) as UTF-8 into out; returns the byte count (1..4). */
size_t rs_utf8_encode(char out[4], unsigned cp);
/** Appends code point cp as UTF-8. */
void rs_buf_put_utf8(rs_buf_t *b, unsigned cp);

/** Reads a whole regular file into out (reset first; left NUL-terminated, base never NULL). Returns 0, or -1
 *  with errno set: EISDIR for anything but a regular file, EFBIG when it is larger than max bytes (max 0: no
 *  limit). Every file edgeproxy reads whole (rules, data files, config, maps, keys, state) goes through it. */
int rs_read_file(const char *path, size_t max, rs_buf_t *out);

/** One problem in a rule file, config or request description. file is owned (may be NULL). */
typedef struct st_rs_error_t {
    char *file;
    unsigned line, col; /* 1-based; 0 when not known */
    char *message;
} rs_error_t;

typedef struct st_rs_errors_t {
    rs_error_t *items;
    size_t count, cap;
} rs_errors_t;

void rs_errors_add(rs_errors_t *errs, const char *file, unsigned line, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void rs_errors_vadd(rs_errors_t *errs, const char *file, unsigned line, unsigned col, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));
/** Prints each error as "FILE:LINE:COL: message\n". */
void rs_errors_print(const rs_errors_t *errs, FILE *out);
/** Formats error i as "FILE:LINE:COL: message" into buf (always NUL-terminated). */
void rs_error_format(const rs_error_t *e, char *buf, size_t size);
void rs_errors_free(rs_errors_t *errs);

#endif
