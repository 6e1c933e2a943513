/* SPDX-License-Identifier: MIT */
/* Byte strings, growable buffers and error lists shared by every rules/ component. */
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <strings.h>

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (q == NULL) {
        fputs("edgeproxy: out of memory\n", stderr);
        abort();
    }
    return q;
}

int rs_str_eq(rs_str_t a, const char *lit)
{
    size_t n = strlen(lit);
    return a.len == n && memcmp(a.base, lit, n) == 0;
}

int rs_str_ieq(rs_str_t a, const char *lit)
{
    size_t n = strlen(lit);
    return a.len == n && strncasecmp(a.base, lit, n) == 0;
}

int rs_str_ieq2(rs_str_t a, rs_str_t b)
{
    return a.len == b.len && (a.len == 0 || strncasecmp(a.base, b.base, a.len) == 0);
}

char *rs_strndup(const char *s, size_t len)
{
    char *p = xrealloc(NULL, len + 1);
    if (len != 0)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *rs_strdup_lower(const char *s)
{
    char *d = rs_strndup(s, strlen(s));
    for (char *p = d; *p != '\0'; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return d;
}

void rs_buf_reserve(rs_buf_t *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap < 64 ? 64 : b->cap;
    while (cap < need)
        cap *= 2;
    b->base = xrealloc(b->base, cap);
    b->cap = cap;
}

void rs_buf_append(rs_buf_t *b, const void *p, size_t n)
{
    rs_buf_reserve(b, n);
    if (n != 0)
        memcpy(b->base + b->len, p, n);
    b->len += n;
    b->base[b->len] = '\0';
}

void rs_buf_putc(rs_buf_t *b, char c)
{
    rs_buf_reserve(b, 1);
    b->base[b->len++] = c;
    b->base[b->len] = '\0';
}

void rs_buf_printf(rs_buf_t *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n > 0) {
        rs_buf_reserve(b, (size_t)n);
        vsnprintf(b->base + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

size_t rs_utf8_encode(char out[4], unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

void rs_buf_put_utf8(rs_buf_t *b, unsigned cp)
{
    char tmp[4];
    rs_buf_append(b, tmp, rs_utf8_encode(tmp, cp));
}

void rs_buf_free(rs_buf_t *b)
{
    free(b->base);
    b->base = NULL;
    b->len = b->cap = 0;
}

int rs_read_file(const char *path, size_t max, rs_buf_t *out)
{
    rs_buf_reset(out);
    rs_buf_reserve(out, 0);
    out->base[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    int ret = -1, saved = 0;
    if (fstat(fd, &st) != 0) {
        saved = errno;
        goto Exit;
    }
    if (!S_ISREG(st.st_mode)) {
        saved = EISDIR; /* a FIFO or device could block forever or never end */
        goto Exit;
    }
    if (max != 0 && (uint64_t)st.st_size > max) {
        saved = EFBIG;
        goto Exit;
    }
    rs_buf_reserve(out, (size_t)st.st_size);
    for (;;) {
        rs_buf_reserve(out, 65536);
        ssize_t n = read(fd, out->base + out->len, out->cap - out->len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            saved = errno;
            goto Exit;
        }
        if (n == 0)
            break;
        out->len += (size_t)n;
        if (max != 0 && out->len > max) { /* grew while we read */
            saved = EFBIG;
            goto Exit;
        }
    }
    out->base[out->len] = '\0';
    ret = 0;
Exit:
    close(fd);
    if (ret != 0)
        errno = saved;
    return ret;
}

void rs_errors_vadd(rs_errors_t *errs, const char *file, unsigned line, unsigned col, const char *fmt, va_list ap)
{
    if (errs == NULL)
        return;
    if (errs->count == errs->cap) {
        errs->cap = errs->cap ? errs->cap * 2 : 8;
        errs->items = xrealloc(errs->items, errs->cap * sizeof(*errs->items));
    }
    rs_error_t *e = &errs->items[errs->count++];
    e->file = file ? rs_strndup(file, strlen(file)) : NULL;
    e->line = line;
    e->col = col;
    rs_buf_t msg = {0};
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    rs_buf_reserve(&msg, n > 0 ? (size_t)n : 0);
    vsnprintf(msg.base, msg.cap, fmt, ap);
    e->message = msg.base;
}

void rs_errors_add(rs_errors_t *errs, const char *file, unsigned line, unsigned col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rs_errors_vadd(errs, file, line, col, fmt, ap);
    va_end(ap);
}

void rs_error_format(const rs_error_t *e, char *buf, size_t size)
{
    snprintf(buf, size, "%s:%u:%u: %s", e->file ? e->file : "-", e->line, e->col, e->message);
}

void rs_errors_print(const rs_errors_t *errs, FILE *out)
{
    for (size_t i = 0; i < errs->count; i++) {
        const rs_error_t *e = &errs->items[i];
        fprintf(out, "%s:%u:%u: %s\n", e->file ? e->file : "-", e->line, e->col, e->message);
    }
}

void rs_errors_free(rs_errors_t *errs)
{
    for (size_t i = 0; i < errs->count; i++) {
        free(errs->items[i].file);
        free(errs->items[i].message);
    }
    free(errs->items);
    errs->items = NULL;
    errs->count = errs->cap = 0;
}
