/* SPDX-License-Identifier: MIT */
/* Decoding transformations: urlDecode, urlDecodeUni, htmlEntityDecode, jsDecode, cssDecode,
 * escapeSeqDecode, hexDecode, sqlHexDecode and utf8toUnicode. Each reproduces ModSecurity v3's output
 * byte for byte, including its quirks (documented where they are surprising). */
#include "transform/tf_internal.h"

#include <limits.h>
#include <stdint.h>

/* Copies the untouched prefix found by a fast scan. */
/* The C escape letters jsDecode and escapeSeqDecode share: \a \b \f \n \r \t \v -> the control byte, else -1. */
static int c_escape_letter(unsigned char c)
{
    switch (c) {
    case 'a':
        return '\a';
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    case 'v':
        return '\v';
    default:
        return -1;
    }
}

static size_t copy_prefix(unsigned char *d, const unsigned char *s, size_t n)
{
    if (n != 0)
        memcpy(d, s, n);
    return n;
}

static size_t scan_for2(const unsigned char *s, size_t n, unsigned char a, unsigned char b)
{
    size_t i = 0;
    while (i < n && s[i] != a && s[i] != b)
        i++;
    return i;
}

int rs_tf_url_decode(rs_str_t in, rs_buf_t *out)
{
    const unsigned char *s = (const unsigned char *)in.base;
    size_t n = in.len, i = scan_for2(s, n, '%', '+');
    if (i == n)
        return rs_tf_unchanged(out);
    unsigned char *d = rs_tf_begin(out, n);
    size_t o = copy_prefix(d, s, i);
    while (i < n) {
        if (s[i] == '%' && i + 2 < n && rs_tf_is_hex(s[i + 1]) && rs_tf_is_hex(s[i + 2])) {
            d[o++] = rs_tf_x2c(s + i + 1);
            i += 3;
        } else {
            /* Invalid or truncated escapes stay as they are. */
            d[o++] = s[i] == '+' ? ' ' : s[i];
            i++;
        }
    }
    return rs_tf_finish(in, out, o);
}

/* Lower byte of a %uHHHH / \uHHHH escape; full-width ASCII (U+FF01..U+FF5E) folds to ASCII. This is
 * ModSecurity's behaviour without SecUnicodeMapFile, which is the default. */
static unsigned char unicode_escape_byte(const unsigned char *hex4)
{
    unsigned char c = rs_tf_x2c(hex4 + 2);
    if (c > 0x00 && c < 0x5f && (hex4[0] | 0x20) == 'f' && (hex4[1] | 0x20) == 'f')
        c += 0x20;
    return c;
}

int rs_tf_url_decode_uni(rs_str_t in, rs_buf_t *out)
{
    const unsigned char *s = (const unsigned char *)in.base;
    size_t n = in.len, i = scan_for2(s, n, '%', '+');
    if (i == n)
        return rs_tf_unchanged(out);
    unsigned char *d = rs_tf_begin(out, n);
    size_t o = copy_prefix(d, s, i);
    while (i < n) {
        if (s[i] != '%') {
            d[o++] = s[i] == '+' ? ' ' : s[i];
            i++;
        } else if (i + 1 < n && (s[i + 1] | 0x20) == 'u') {
            if (i + 5 < n && rs_tf_is_hex(s[i + 2]) && rs_tf_is_hex(s[i + 3]) && rs_tf_is_hex(s[i + 4]) && rs_tf_is_hex(s[i + 5])) {
                d[o++] = unicode_escape_byte(s + i + 2);
                i += 6;
            } else {
                /* Bad %u: both bytes go out verbatim, and the 'u' is not looked at again. */
                d[o++] = s[i++];
                d[o++] = s[i++];
            }
        } else if (i + 2 < n && rs_tf_is_hex(s[i + 1]) && rs_tf_is_hex(s[i + 2])) {
            d[o++] = rs_tf_x2c(s + i + 1);
            i += 3;
        } else {
            d[o++] = s[i++];
        }
    }
    return rs_tf_finish(in, out, o);
}

/* strtol() semantics for an entity's digits: saturates at LONG_MAX, whose low byte is 0xff. */
static unsigned char entity_value(const unsigned char *p, size_t len, unsigned base)
{
    uint64_t v = 0;
    for (size_t k = 0; k < len; k++) {
        unsigned digit = p[k] <= '9' ? p[k] - '0' : (p[k] | 0x20) - 'a' + 10;
        if (v > ((uint64_t)LONG_MAX - digit) / base)
            return (unsigned char)(LONG_MAX & 0xff);
        v = v * base + digit;
    }
    return (unsigned char)v;
}

static int is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Named entities ModSecurity knows; everything else is left as written. */
static int named_entity(const unsigned char *p, size_t len, unsigned char *c)
{
    rs_str_t name = rs_str((const char *)p, len);
    if (rs_str_ieq(name, "quot"))
        *c = '"';
    else if (rs_str_ieq(name, "amp"))
        *c = '&';
    else if (rs_str_ieq(name, "lt"))
        *c = '<';
    else if (rs_str_ieq(name, "gt"))
        *c = '>';
    else if (rs_str_ieq(name, "nbsp"))
        *c = 0xa0;
    else
        return 0;
    return 1;
}

int rs_tf_html_entity_decode(rs_str_t in, rs_buf_t *out)
{
    const unsigned char *s = (const unsigned char *)in.base;
    size_t n = in.len, i = 0;
    const unsigned char *amp = n != 0 ? memchr(s, '&', n) : NULL;
    if (amp == NULL)
        return rs_tf_unchanged(out);
    i = (size_t)(amp - s);
    unsigned char *d = rs_tf_begin(out, n);
    size_t o = copy_prefix(d, s, i);
    while (i < n) {
        size_t keep = 1; /* bytes copied verbatim when no entity decodes here */
        if (s[i] == '&' && i + 1 < n) {
            size_t j = i + 1;
            if (s[j] == '#') {
                keep = 2;
                unsigned base = 10;
                if (j + 1 < n) {
                    j++;
                    if (s[j] == 'x' || s[j] == 'X') {
                        keep = 3;
                        base = 16;
                        j++;
                    }
                    size_t k = j;
                    while (j < n && (base == 16 ? rs_tf_is_hex(s[j]) : is_digit(s[j])))
                        j++;
                    if (j > k) {
                        d[o++] = entity_value(s + k, j - k, base);
                        i = j < n && s[j] == ';' ? j + 1 : j;
                        continue;
                    }
                }
            } else {
                size_t k = j;
                while (j < n && is_alnum(s[j]))
                    j++;
                if (j > k) {
                    unsigned char c;
                    if (named_entity(s + k, j - k, &c)) {
                        d[o++] = c;
                        i = j < n && s[j] == ';' ? j + 1 : j;
                        continue;
                    }
                    keep = j - k + 1;
                }
            }
        }
        for (size_t z = 0; z < keep && i < n; z++)
            d[o++] = s[i++];
    }
    return rs_tf_finish(in, out, o);
}

int rs_tf_js_decode(rs_str_t in, rs_buf_t *out)
{
    const unsigned char *s = (const unsigned char *)in.base;
    size_t n = in.len;
    const unsigned char *bs = n != 0 ? memchr(s, '\\', n) : NULL;
    if (bs == NULL)
        return rs_tf_unchanged(out);
    size_t i = (size_t)(bs - s);
    unsigned char *d = rs_tf_begin(out, n);
    size_t o = copy_prefix(d, s, i);
    while (i < n) {
        if (s[i] != '\\') {
            d[o++] = s[i++];
        } else if (i + 5 < n && s[i + 1] == 'u' && rs_tf_is_hex(s[i + 2]) && rs_tf_is_hex(s[i + 3]) && rs_tf_is_hex(s[i + 4]) &&
                   rs_tf_is_hex(s[i + 5])) {
            d[o++] = unicode_escape_byte(s + i + 2);
            i += 6;
        } else if (i + 3 < n && s[i + 1] == 'x' && rs_tf_is_hex(s[i + 2]) && rs_tf_is_hex(s[i + 3])) {
            d[o++] = rs_tf_x2c(s + i + 2);
            i += 4;
        } else if (i + 1 < n && rs_tf_is_odigit(s[i + 1])) {
            /* Up to three octal digits, but only two when three would overflow a byte. */
            size_t j = 1;
            while (j < 3 && i + 1 + j < n && rs_tf_is_odigit(s[i + 1 + j]))
                j++;
            if (j == 3 && s[i + 1] > '3')
                j = 2;
            unsigned v = 0;
            for (size_t k = 0; k < j; k++)
                v = v * 8 + (s[i + 1 + k] - '0');
            d[o++] = (unsigned char)v;
            i += 1 + j;
        } else if (i + 1 < n) {
            unsigned char c = s[i + 1];
            int e = c_escape_letter(c);
            d[o++] = e >= 0 ? (unsigned char)e : c; /* any other escaped byte stands for itself */
            i += 2;
        } else {
            d[o++] = s[i++]; /* a lone trailing backslash stays */
        }
    }
    return rs_tf_finish(in, out, o);
}

int rs_tf_css_decode(rs_str_t in, rs_buf_t *out)
{
    const unsigned char *s = (const unsigned char *)in.base;
    size_t n = in.len, i = scan_for2(s, n, '\\', '\0');
    if (i == n)
        return rs_tf_unchanged(out);
    unsigned char *d = rs_tf_begin(out, n);
    size_t o = copy_prefix(d, s, i);
    while (i < n) {
        if (s[i] != '\\') {
            d[o++] = s[i++];
            continue;
        }
        if (i + 1 >= n) {
            i++; /* a trailing backslash continues to nothing */
            continue;
        }
        i++;
        size_t j = 0;
        while (j < 6 && i + j < n && rs_tf_is_hex(s[i + j]))
            j++;
        if (j == 0) {
            if (s[i] != '\n') /* backslash-newline is a line continuation */
                d[o++] = s[i];
            i++;
            continue;
        }
        /* Only the last two hex digits count; 4..6-digit escapes of the form (00)FFxx are
         * full-width ASCII and fold to plain ASCII. */
        const unsigned char *h = s + i;
        unsigned char c = j == 1 ? (unsigned char)rs_tf_hex_digit_loose(h[0]) : rs_tf_x2c(h + j - 2);
        int fullwidth = j == 4 || (j == 5 && h[0] == '0') || (j == 6 && h[0] == '0' && h[1] == '0');
        if (fullwidth && c > 0x00 && c < 0x5f && (h[j - 3] | 0x20) == 'f' && (h[j - 4] | 0x20) == 'f')
            c += 0x20;
        d[o++] = c;
        if (i + j < n && rs_tf_is_space(s[i + j]))
            j++; /* one whitespace after a hex escape belongs to it */
        i += j;
    }
    /* ModSecurity hands the result back as a C string: it ends at the first NUL. */
    const unsigned char *nul = o != 0 ? memchr(d, '\0', o) : NULL;
    if (nul != NULL)
        o = (size_t)(nul - d);
    return rs_tf_finish(in, out, o);
}

int rs_tf_escape_seq_decode(rs_str_t in, rs_buf_t *out)
{
    const unsigned char *s = (const unsigned char *)in.base;
    size_t n = in.len;
    const unsigned char *bs = n != 0 ? memchr(s, '\\', n) : NULL;
    if (bs == NULL)
        return rs_tf_unchanged(out);
    size_t i = (size_t)(bs - s);
    unsigned char *d = rs_tf_begin(out, n);
    size_t o = copy_prefix(d, s, i);
    while (i < n) {
        if (s[i] != '\\' || i + 1 >= n) {
            d[o++] = s[i++];
            continue;
        }
        int c = c_escape_letter(s[i + 1]);
        if (c < 0 && (s[i + 1] == '\\' || s[i + 1] == '?' || s[i + 1] == '\'' || s[i + 1] == '"'))
            c = s[i + 1];
        if (c != -1) {
            i += 2;
        } else if (s[i + 1] == 'x' || s[i + 1] == 'X') {
            if (i + 3 < n && rs_tf_is_hex(s[i + 2]) && rs_tf_is_hex(s[i + 3])) {
                c = rs_tf_x2c(s + i + 2);
                i += 4;
            }
        } else if (rs_tf_is_odigit(s[i + 1])) {
            size_t j = 1;
            while (j < 3 && i + 1 + j < n && rs_tf_is_odigit(s[i + 1 + j]))
                j++;
            c = 0;
            for (size_t k = 0; k < j; k++)
                c = c * 8 + (s[i + 1 + k] - '0');
            i += 1 + j;
        }
        if (c == -1) {
            /* Unknown escape: the backslash is dropped, the next byte kept. */
            d[o++] = s[i + 1];
            i += 2;
        } else {
            d[o++] = (unsigned char)c;
        }
    }
    return rs_tf_finish(in, out, o);
}

int rs_tf_hex_decode(rs_str_t in, rs_buf_t *out)
{
    const unsigned char *s = (const unsigned char *)in.base;
    size_t n = in.len;
    if (n == 0)
        return rs_tf_unchanged(out);
    unsigned char *d = rs_tf_begin(out, n / 2);
    size_t o = 0;
    /* Pairs are decoded without validation; an odd last digit is dropped. */
    for (size_t i = 0; i + 1 < n; i += 2)
        d[o++] = rs_tf_x2c(s + i);
    return rs_tf_finish(in, out, o);
}

/* Byte at i, or the NUL that terminates ModSecurity's C-string copy of the value. */
static inline unsigned char at_or_nul(const unsigned char *s, size_t n, size_t i)
{
    return i < n ? s[i] : 0;
}

int rs_tf_sql_hex_decode(rs_str_t in, rs_buf_t *out)
{
    const unsigned char *s = (const unsigned char *)in.base;
    size_t n = in.len;
    if (n == 0)
        return rs_tf_unchanged(out);
    unsigned char *d = rs_tf_begin(out, n);
    size_t o = 0, p = 0;
    /* ModSecurity's loop never visits the last byte itself (it stops at p + 1 == n) and stops at a NUL;
     * a 0xHH.. run is decoded and the byte after it copied unconditionally. */
    while (p + 1 < n && s[p] != 0) {
        if (s[p] == '0' && (s[p + 1] | 0x20) == 'x' && rs_tf_is_hex(at_or_nul(s, n, p + 2)) &&
            rs_tf_is_hex(at_or_nul(s, n, p + 3))) {
            size_t q = p + 2;
            while (rs_tf_is_hex(at_or_nul(s, n, q)) && rs_tf_is_hex(at_or_nul(s, n, q + 1))) {
                d[o++] = rs_tf_x2c(s + q);
                q += 2;
            }
            d[o++] = at_or_nul(s, n, q);
            p = q + 1;
        } else {
            d[o++] = s[p++];
        }
    }
    /* The result is read back as a C string. */
    const unsigned char *nul = o != 0 ? memchr(d, '\0', o) : NULL;
    if (nul != NULL)
        o = (size_t)(nul - d);
    return rs_tf_finish(in, out, o);
}

/* Writes "%u" and the code point in lower-case hex, at least four digits. */
static size_t put_percent_u(unsigned char *d, unsigned cp)
{
    static const char hex[] = "0123456789abcdef";
    char digits[8];
    size_t nd = 0;
    do {
        digits[nd++] = hex[cp & 0xf];
        cp >>= 4;
    } while (cp != 0);
    size_t o = 0;
    d[o++] = '%';
    d[o++] = 'u';
    for (size_t pad = nd; pad < 4; pad++)
        d[o++] = '0';
    while (nd != 0)
        d[o++] = (unsigned char)digits[--nd];
    return o;
}

static inline int is_cont(unsigned char c)
{
    return (c & 0xc0) == 0x80;
}

int rs_tf_utf8_to_unicode(rs_str_t in, rs_buf_t *out)
{
    const unsigned char *s = (const unsigned char *)in.base;
    size_t n = in.len, i = 0;
    /* Pure ASCII without NULs passes through unchanged. */
    while (i < n && s[i] != 0 && s[i] < 0x80)
        i++;
    if (i == n)
        return rs_tf_unchanged(out);
    /* Worst case 4-byte sequence: stray F5..F7 byte + "%u" + 6 digits = 9 bytes, so 4 per input byte bounds it. */
    unsigned char *d = rs_tf_begin(out, 4 * n + 1);
    size_t o = copy_prefix(d, s, i);
    while (i < n) {
        unsigned char c = s[i];
        size_t seq = 0; /* length of a valid multi-byte sequence, 0 otherwise */
        unsigned cp = 0;
        if (c < 0x80) {
            if (c != 0) /* NULs vanish: ModSecurity overwrites them and reads the result as a C string */
                d[o++] = c;
        } else if ((c & 0xe0) == 0xc0) {
            if (is_cont(at_or_nul(s, n, i + 1))) {
                seq = 2;
                cp = ((c & 0x1fu) << 6) | (s[i + 1] & 0x3fu);
            }
        } else if ((c & 0xf0) == 0xe0) {
            if (is_cont(at_or_nul(s, n, i + 1)) && is_cont(at_or_nul(s, n, i + 2))) {
                seq = 3;
                cp = ((c & 0x0fu) << 12) | ((s[i + 1] & 0x3fu) << 6) | (s[i + 2] & 0x3fu);
            }
        } else if ((c & 0xf8) == 0xf0) {
            if (c >= 0xf5)
                d[o++] = c; /* beyond U+10FFFF: the lead byte is emitted as well */
            if (is_cont(at_or_nul(s, n, i + 1)) && is_cont(at_or_nul(s, n, i + 2)) && is_cont(at_or_nul(s, n, i + 3))) {
                seq = 4;
                cp = ((c & 0x07u) << 18) | ((s[i + 1] & 0x3fu) << 12) | ((s[i + 2] & 0x3fu) << 6) | (s[i + 3] & 0x3fu);
            }
        } else {
            d[o++] = c; /* stray continuation byte or F8..FF */
        }
        if (seq != 0) {
            o += put_percent_u(d + o, cp);
            /* Surrogates and overlong forms additionally get their lead byte appended. */
            if (cp >= 0xd800 && cp <= 0xdfff)
                d[o++] = c;
            if ((seq == 4 && cp < 0x10000) || (seq == 3 && cp < 0x800) || (seq == 2 && cp < 0x80))
                d[o++] = c;
            i += seq;
        } else {
            i++; /* invalid lead bytes are dropped */
        }
    }
    return rs_tf_finish(in, out, o);
}
