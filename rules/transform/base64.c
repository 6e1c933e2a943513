/* SPDX-License-Identifier: MIT */
/* base64Decode, base64DecodeExt and base64Encode with ModSecurity v3's exact results: base64Decode is
 * strict (any invalid byte yields an empty value, an incomplete last quartet is dropped, the value ends
 * at its first NUL); base64DecodeExt skips whatever is not base64 and keeps partial quartets. */
#include "transform/tf_internal.h"

/* 0..63 for base64 digits, 64 for '=', -1 otherwise. */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    if (c == '=')
        return 64;
    return -1;
}

/* The strict decoder's validity rules: spaces only before a line break or at the end, CRLF/LF line breaks
 * anywhere, at most two '=' and nothing but padding after the first one. */
static int b64_strict_valid(const unsigned char *s, size_t n, size_t *digits)
{
    size_t equals = 0;
    *digits = 0;
    for (size_t i = 0; i < n; i++) {
        size_t spaces = 0;
        while (i < n && s[i] == ' ') {
            i++;
            spaces++;
        }
        if (i == n)
            break;
        if ((n - i >= 2 && s[i] == '\r' && s[i + 1] == '\n') || s[i] == '\n')
            continue;
        if (spaces != 0)
            return 0;
        if (s[i] == '=' && ++equals > 2)
            return 0;
        int v = b64_value(s[i]);
        if (v < 0 || (v < 64 && equals != 0))
            return 0;
        ++*digits;
    }
    return 1;
}

int rs_tf_base64_decode(rs_str_t in, rs_buf_t *out)
{
    const unsigned char *s = (const unsigned char *)in.base;
    const unsigned char *nul = in.len != 0 ? memchr(s, 0, in.len) : NULL;
    size_t n = nul != NULL ? (size_t)(nul - s) : in.len, digits;
    unsigned char *d = rs_tf_begin(out, n / 4 * 3);
    size_t o = 0;
    if (b64_strict_valid(s, n, &digits) && digits != 0) {
        uint32_t acc = 0;
        int pending = 0, keep = 3; /* each '=' removes one byte from the quartet that holds it */
        for (size_t i = 0; i < n; i++) {
            if (s[i] == '\r' || s[i] == '\n' || s[i] == ' ')
                continue;
            int v = b64_value(s[i]);
            if (v == 64) {
                keep--;
                v = 0;
            }
            acc = acc << 6 | (uint32_t)v;
            if (++pending == 4) {
                pending = 0;
                if (keep > 0)
                    d[o++] = (unsigned char)(acc >> 16);
                if (keep > 1)
                    d[o++] = (unsigned char)(acc >> 8);
                if (keep > 2)
                    d[o++] = (unsigned char)acc;
            }
        }
    }
    return rs_tf_finish(in, out, o);
}

int rs_tf_base64_decode_ext(rs_str_t in, rs_buf_t *out)
{
    const unsigned char *s = (const unsigned char *)in.base;
    size_t n = in.len;
    unsigned char *d = rs_tf_begin(out, n / 4 * 3 + 3);
    size_t o = 0, digits = 0;
    int last = -1; /* ModSecurity tests its last lookup against '=': both '=' and '9' (value 61) count */
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '=') {
            unsigned char next = i + 1 < n ? s[i + 1] : 0;
            if (next != '=' && digits % 4 == 1)
                return rs_tf_finish(in, out, 0); /* a single digit before padding: no result at all */
            last = '=';
            continue;
        }
        int v = b64_value(s[i]);
        last = v;
        if (v < 0)
            continue;
        switch (digits % 4) {
        case 0:
            d[o] = (unsigned char)(v << 2);
            break;
        case 1:
            d[o++] |= (unsigned char)(v >> 4);
            d[o] = (unsigned char)((v & 0x0f) << 4);
            break;
        case 2:
            d[o++] |= (unsigned char)(v >> 2);
            d[o] = (unsigned char)((v & 0x03) << 6);
            break;
        default:
            d[o++] |= (unsigned char)v;
            break;
        }
        digits++;
    }
    if (last == '=' && digits % 4 == 1)
        o = 0;
    return rs_tf_finish(in, out, o);
}

int rs_tf_base64_encode(rs_str_t in, rs_buf_t *out)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = (const unsigned char *)in.base;
    size_t n = in.len, o = 0;
    unsigned char *d = rs_tf_begin(out, (n + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        d[o++] = (unsigned char)alphabet[v >> 18];
        d[o++] = (unsigned char)alphabet[(v >> 12) & 63];
        d[o++] = (unsigned char)alphabet[(v >> 6) & 63];
        d[o++] = (unsigned char)alphabet[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
        d[o++] = (unsigned char)alphabet[v >> 18];
        d[o++] = (unsigned char)alphabet[(v >> 12) & 63];
        d[o++] = i + 1 < n ? (unsigned char)alphabet[(v >> 6) & 63] : '=';
        d[o++] = '=';
    }
    return rs_tf_finish(in, out, o);
}
