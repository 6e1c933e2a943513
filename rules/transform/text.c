/* SPDX-License-Identifier: MIT */
/* Byte-level transformations: case, whitespace, NULs, trimming, comments, cmdLine, parity, length
 * and the encoders (hexEncode, urlEncode). ModSecurity runs in the C locale, so "space" and "letter"
 * mean ASCII only. */
#include "transform/tf_internal.h"

#include <stdio.h>

static size_t copy_prefix(unsigned char *d, const unsigned char *s, size_t n)
{
    if (n != 0)
        memcpy(d, s, n);
    return n;
}

static inline int is_upper(unsigned char c)
{
    return c >= 'A' && c <= 'Z';
}

static inline int is_lower(unsigned char c)
{
    return c >= 'a' && c <= 'z';
}

int rs_tf_lowercase(rs_str_t in, rs_buf_t *out)
{
    const unsigned char *s = (const unsigned char *)in.base;
    size_t n = in.len, i = 0;
    while (i < n && !is_upper(s[i]))
        i++;
    if (i == n)
        return rs_tf_unchanged(out);
    unsigned char *d = rs_tf_begin(out, n);
    copy_prefix(d, s, i);
    for (; i < n; i++)
        d[i] = is_upper(s[i]) ? (unsigned char)(s[i] | 0x20) : s[i];
    return rs_tf_finish(in, out, n);
}

int rs_tf_uppercase(rs_str_t in, rs_buf_t *out)
{
    const unsigned char *s = (const unsigned char *)in.base;
    size_t n = in.len, i = 0;
    while (i < n && !is_lower(s[i]))
        i++;
    if (i == n)
        return rs_tf_unchanged(out);
    unsigned char *d = rs_tf_begin(out, n);
    copy_prefix(d, s, i);
    for (; i < n; i++)
        d[i] = is_lower(s[i]) ? (unsigned char)(s[i] & ~0x20) : s[i];
    return rs_tf_finish(in, out, n);
}

int rs_tf_compress_whitespace(rs_str_t in, rs_buf_t *out)
{
    const unsigned char *s = (const unsigned char *)in.base;
    size_t n = in.len, i = 0;
    /* Unchanged as long as every whitespace is a single plain space. */
    while (i < n && (!rs_tf_is_space(s[i]) || (s[i] == ' ' && (i + 1 == n || !rs_tf_is_space(s[i + 1])))))
        i++;
    if (i == n)
        return rs_tf_unchanged(out);
    unsigned char *d = rs_tf_begin(out, n);
    size_t o = copy_prefix(d, s, i);
    int in_space = 0; /* the prefix never ends inside a run that matters: s[i] starts a run */
    for (; i < n; i++) {
        if (rs_tf_is_space(s[i])) {
            if (!in_space)
                d[o++] = ' ';
            in_space = 1;
        } else {
            d[o++] = s[i];
            in_space = 0;
        }
    }
    return rs_tf_finish(in, out, o);
}

static inline int is_removable_space(unsigned char c)
{
    /* 0xa0 and 0xc2 are the bytes of a (UTF-8 or Latin-1) non-breaking space. */
    return rs_tf_is_space(c) || c == 0xa0 || c == 0xc2;
}

int rs_tf_remove_whitespace(rs_str_t in, rs_buf_t *out)
{
    const unsigned char *s = (const unsigned char *)in.base;
    size_t n = in.len, i = 0;
    while (i < n && !is_removable_space(s[i]))
        i++;
    if (i == n)
        return rs_tf_unchanged(out);
    unsigned char *d = rs_tf_begin(out, n);
    size_t o = copy_prefix(d, s, i);
    for (; i < n; i++)
        if (!is_removable_space(s[i]))
            d[o++] = s[i];
    return rs_tf_finish(in, out, o);
}

int rs_tf_remove_nulls(rs_str_t in, rs_buf_t *out)
{
    const unsigned char *s = (const unsigned char *)in.base;
    size_t n = in.len;
    const unsigned char *nul = n != 0 ? memchr(s, 0, n) : NULL;
    if (nul == NULL)
        return rs_tf_unchanged(out);
    size_t i = (size_t)(nul - s);
    unsigned char *d = rs_tf_begin(out, n);
    size_t o = copy_prefix(d, s, i);
    for (; i < n; i++)
        if (s[i] != 0)
            d[o++] = s[i];
    return rs_tf_finish(in, out, o);
}

int rs_tf_replace_nulls(rs_str_t in, rs_buf_t *out)
{
    const unsigned char *s = (const unsigned char *)in.base;
    size_t n = in.len;
    const unsigned char *nul = n != 0 ? memchr(s, 0, n) : NULL;
    if (nul == NULL)
        return rs_tf_unchanged(out);
    unsigned char *d = rs_tf_begin(out, n);
    copy_prefix(d, s, n);
    for (size_t i = (size_t)(nul - s); i < n; i++)
        if (d[i] == 0)
            d[i] = ' ';
    return rs_tf_finish(in, out, n);
}

static int trim_to(rs_str_t in, rs_buf_t *out, int left, int right)
{
    const unsigned char *s = (const unsigned char *)in.base;
    size_t start = 0, end = in.len;
    if (right)
        while (end > 0 && rs_tf_is_space(s[end - 1]))
            end--;
    if (left)
        while (start < end && rs_tf_is_space(s[start]))
            start++;
    if (start == 0 && end == in.len)
        return rs_tf_unchanged(out);
    unsigned char *d = rs_tf_begin(out, end - start);
    copy_prefix(d, s + start, end - start);
    return rs_tf_finish(in, out, end - start);
}

int rs_tf_trim(rs_str_t in, rs_buf_t *out)
{
    return trim_to(in, out, 1, 1);
}

int rs_tf_trim_left(rs_str_t in, rs_buf_t *out)
{
    return trim_to(in, out, 1, 0);
}

int rs_tf_trim_right(rs_str_t in, rs_buf_t *out)
{
    return trim_to(in, out, 0, 1);
}

/* Byte at i, or the NUL that terminates ModSecurity's C-string copy of the value. */
static inline unsigned char at_or_nul(const unsigned char *s, size_t n, size_t i)
{
    return i < n ? s[i] : 0;
}

int rs_tf_remove_comments(rs_str_t in, rs_buf_t *out)
{
    const unsigned char *s = (const unsigned char *)in.base;
    size_t n = in.len, i = 0;
    while (i < n && s[i] != '/' && s[i] != '<' && s[i] != '-' && s[i] != '#')
        i++;
    if (i == n)
        return rs_tf_unchanged(out);
    unsigned char *d = rs_tf_begin(out, n);
    size_t o = copy_prefix(d, s, i);
    int in_comment = 0;
    while (i < n) {
        if (!in_comment) {
            if (s[i] == '/' && i + 1 < n && s[i + 1] == '*') {
                in_comment = 1;
                i += 2;
            } else if (s[i] == '<' && i + 3 < n && s[i + 1] == '!' && s[i + 2] == '-' && s[i + 3] == '-') {
                in_comment = 1;
                i += 4;
            } else if ((s[i] == '-' && i + 1 < n && s[i + 1] == '-') || s[i] == '#') {
                break; /* a line comment ends the value */
            } else {
                d[o++] = s[i++];
            }
        } else if (s[i] == '*' && i + 1 < n && s[i + 1] == '/') {
            /* ModSecurity copies the byte after a closing marker without looking at it (a NUL at the end). */
            in_comment = 0;
            i += 2;
            d[o++] = at_or_nul(s, n, i);
            i++;
        } else if (s[i] == '-' && i + 2 < n && s[i + 1] == '-' && s[i + 2] == '>') {
            in_comment = 0;
            i += 3;
            d[o++] = at_or_nul(s, n, i);
            i++;
        } else {
            i++;
        }
    }
    if (in_comment)
        d[o++] = ' ';
    return rs_tf_finish(in, out, o);
}

int rs_tf_remove_comments_char(rs_str_t in, rs_buf_t *out)
{
    const unsigned char *s = (const unsigned char *)in.base;
    size_t n = in.len, i = 0;
    while (i < n && s[i] != '/' && s[i] != '*' && s[i] != '<' && s[i] != '-' && s[i] != '#')
        i++;
    if (i == n)
        return rs_tf_unchanged(out);
    unsigned char *d = rs_tf_begin(out, n);
    size_t o = copy_prefix(d, s, i);
    while (i < n) {
        if ((s[i] == '/' && i + 1 < n && s[i + 1] == '*') || (s[i] == '*' && i + 1 < n && s[i + 1] == '/'))
            i += 2;
        else if (s[i] == '<' && i + 3 < n && s[i + 1] == '!' && s[i + 2] == '-' && s[i + 3] == '-')
            i += 4;
        else if (s[i] == '-' && i + 2 < n && s[i + 1] == '-' && s[i + 2] == '>')
            i += 3;
        else if (s[i] == '-' && i + 1 < n && s[i + 1] == '-')
            i += 2;
        else if (s[i] == '#')
            i += 1;
        else
            d[o++] = s[i++];
    }
    return rs_tf_finish(in, out, o);
}

int rs_tf_replace_comments(rs_str_t in, rs_buf_t *out)
{
    const unsigned char *s = (const unsigned char *)in.base;
    size_t n = in.len, i = 0;
    while (i < n && !(s[i] == '/' && i + 1 < n && s[i + 1] == '*'))
        i++;
    if (i == n)
        return rs_tf_unchanged(out);
    unsigned char *d = rs_tf_begin(out, n);
    size_t o = copy_prefix(d, s, i);
    int in_comment = 0;
    while (i < n) {
        if (!in_comment) {
            if (s[i] == '/' && i + 1 < n && s[i + 1] == '*') {
                in_comment = 1;
                i += 2;
            } else {
                d[o++] = s[i++];
            }
        } else if (s[i] == '*' && i + 1 < n && s[i + 1] == '/') {
            in_comment = 0;
            i += 2;
            d[o++] = ' ';
        } else {
            i++;
        }
    }
    if (in_comment)
        d[o++] = ' ';
    return rs_tf_finish(in, out, o);
}

static inline int cmd_separator(unsigned char c)
{
    return c == ' ' || c == ',' || c == ';' || c == '\t' || c == '\r' || c == '\n';
}

/* Would cmdLine keep this byte exactly as it is (given what follows)? */
static inline int cmd_keeps(const unsigned char *s, size_t n, size_t i)
{
    unsigned char c = s[i];
    if (c == ' ')
        return i + 1 == n || !(cmd_separator(s[i + 1]) || s[i + 1] == '/' || s[i + 1] == '(');
    return !(cmd_separator(c) || c == '"' || c == '\'' || c == '\\' || c == '^' || is_upper(c));
}

int rs_tf_cmd_line(rs_str_t in, rs_buf_t *out)
{
    const unsigned char *s = (const unsigned char *)in.base;
    size_t n = in.len, i = 0;
    while (i < n && cmd_keeps(s, n, i))
        i++;
    if (i == n)
        return rs_tf_unchanged(out);
    unsigned char *d = rs_tf_begin(out, n);
    size_t o = 0;
    int last_was_space = 0; /* the last byte written is a separator space */
    for (i = 0; i < n; i++) {
        unsigned char c = s[i];
        switch (c) {
        case '"':
        case '\'':
        case '\\':
        case '^':
            break; /* dropped */
        case ' ':
        case ',':
        case ';':
        case '\t':
        case '\r':
        case '\n':
            if (!last_was_space)
                d[o++] = ' ';
            last_was_space = 1;
            break;
        case '/':
        case '(':
            if (last_was_space)
                o--; /* no space before a slash or an opening parenthesis */
            d[o++] = c;
            last_was_space = 0;
            break;
        default:
            d[o++] = is_upper(c) ? (unsigned char)(c | 0x20) : c;
            last_was_space = 0;
            break;
        }
    }
    return rs_tf_finish(in, out, o);
}

/* Even parity of the low 7 bits plus bit 7 as a parity bit. */
static inline int odd_bit_count(unsigned char c)
{
    unsigned x = c ^ (c >> 4);
    return (0x6996 >> (x & 0xf)) & 1;
}

int rs_tf_parity_even_7bit(rs_str_t in, rs_buf_t *out)
{
    const unsigned char *s = (const unsigned char *)in.base;
    size_t n = in.len;
    unsigned char *d = rs_tf_begin(out, n);
    for (size_t i = 0; i < n; i++)
        d[i] = odd_bit_count(s[i]) ? (unsigned char)(s[i] | 0x80) : (unsigned char)(s[i] & 0x7f);
    return rs_tf_finish(in, out, n);
}

int rs_tf_parity_odd_7bit(rs_str_t in, rs_buf_t *out)
{
    const unsigned char *s = (const unsigned char *)in.base;
    size_t n = in.len;
    unsigned char *d = rs_tf_begin(out, n);
    for (size_t i = 0; i < n; i++)
        d[i] = odd_bit_count(s[i]) ? (unsigned char)(s[i] & 0x7f) : (unsigned char)(s[i] | 0x80);
    return rs_tf_finish(in, out, n);
}

int rs_tf_parity_zero_7bit(rs_str_t in, rs_buf_t *out)
{
    const unsigned char *s = (const unsigned char *)in.base;
    size_t n = in.len, i = 0;
    while (i < n && s[i] < 0x80)
        i++;
    if (i == n)
        return rs_tf_unchanged(out);
    unsigned char *d = rs_tf_begin(out, n);
    for (i = 0; i < n; i++)
        d[i] = s[i] & 0x7f;
    return rs_tf_finish(in, out, n);
}

int rs_tf_length(rs_str_t in, rs_buf_t *out)
{
    char num[32];
    int len = snprintf(num, sizeof(num), "%zu", in.len);
    unsigned char *d = rs_tf_begin(out, (size_t)len);
    memcpy(d, num, (size_t)len);
    return rs_tf_finish(in, out, (size_t)len);
}

static const char hex_lower[] = "0123456789abcdef";

int rs_tf_hex_encode(rs_str_t in, rs_buf_t *out)
{
    const unsigned char *s = (const unsigned char *)in.base;
    size_t n = in.len;
    unsigned char *d = rs_tf_begin(out, 2 * n);
    for (size_t i = 0; i < n; i++) {
        d[2 * i] = (unsigned char)hex_lower[s[i] >> 4];
        d[2 * i + 1] = (unsigned char)hex_lower[s[i] & 0xf];
    }
    return rs_tf_finish(in, out, 2 * n);
}

static inline int url_safe(unsigned char c)
{
    return c == '*' || (c >= '0' && c <= '9') || is_upper(c) || is_lower(c);
}

int rs_tf_url_encode(rs_str_t in, rs_buf_t *out)
{
    const unsigned char *s = (const unsigned char *)in.base;
    size_t n = in.len, i = 0;
    while (i < n && url_safe(s[i]))
        i++;
    if (i == n)
        return rs_tf_unchanged(out);
    unsigned char *d = rs_tf_begin(out, 3 * n);
    size_t o = copy_prefix(d, s, i);
    for (; i < n; i++) {
        unsigned char c = s[i];
        if (c == ' ') {
            d[o++] = '+';
        } else if (url_safe(c)) {
            d[o++] = c;
        } else {
            d[o++] = '%';
            d[o++] = (unsigned char)hex_lower[c >> 4];
            d[o++] = (unsigned char)hex_lower[c & 0xf];
        }
    }
    return rs_tf_finish(in, out, o);
}
