/* SPDX-License-Identifier: MIT */
/* Query strings, application/x-www-form-urlencoded bodies and Cookie headers, split and decoded the way
 * ModSecurity v3 does it (Transaction::extractArguments and the cookie handling in addRequestHeader). */
#include <string.h>

#include "body/body.h"

/* Non-strict URL decoding: "%XX" with two hex digits becomes one byte, '+' a space, and any other '%' is
 * kept as-is and counted as invalid. Appends to b. */
static void urldecode_append(rs_buf_t *b, const char *s, size_t len, int *invalid)
{
    rs_buf_reserve(b, len);
    char *out = b->base + b->len;
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            /* ModSecurity needs both digits present: a '%' in the last two bytes is invalid. */
            int hi = i + 2 < len ? rs_hex_value((unsigned char)s[i + 1]) : -1;
            int lo = hi >= 0 ? rs_hex_value((unsigned char)s[i + 2]) : -1;
            if (hi >= 0 && lo >= 0) {
                *out++ = (char)(hi * 16 + lo);
                i += 3;
                continue;
            }
            *invalid = 1;
            *out++ = '%';
        } else {
            *out++ = c == '+' ? ' ' : (char)c;
        }
        i++;
    }
    b->len = (size_t)(out - b->base);
    b->base[b->len] = '\0';
}

size_t rs_parse_urlencoded(rs_str_t in, char separator, const rs_body_sink_t *sink, rs_buf_t *scratch, int *invalid_encoding)
{
    size_t count = 0;
    int invalid = 0;
    const char *p = in.base, *end = in.base + in.len;

    /* Like std::getline splitting: "a&&b" yields an empty middle token, a trailing separator does not
     * yield a final empty token. Every token, even an empty one, becomes an argument. */
    while (p < end) {
        const char *sep = memchr(p, separator, (size_t)(end - p));
        const char *tok_end = sep != NULL ? sep : end;
        const char *eq = memchr(p, '=', (size_t)(tok_end - p));
        const char *name_end = eq != NULL ? eq : tok_end;
        const char *value = eq != NULL ? eq + 1 : tok_end;

        rs_buf_reset(scratch);
        urldecode_append(scratch, p, (size_t)(name_end - p), &invalid);
        size_t name_len = scratch->len;
        urldecode_append(scratch, value, (size_t)(tok_end - value), &invalid);
        if (sink != NULL && sink->item != NULL)
            sink->item(sink->ctx, RS_ITEM_ARG, rs_str(scratch->base, name_len),
                       rs_str(scratch->base + name_len, scratch->len - name_len));
        count++;
        p = sep != NULL ? sep + 1 : end;
    }
    if (invalid_encoding != NULL)
        *invalid_encoding = invalid;
    return count;
}

static int is_c_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

size_t rs_parse_cookies(rs_str_t header, const rs_body_sink_t *sink)
{
    size_t count = 0;
    const char *p = header.base, *end = header.base + header.len;

    while (p < end) {
        const char *sep = memchr(p, ';', (size_t)(end - p));
        size_t tok_len = (size_t)((sep != NULL ? sep : end) - p);
        const char *next = sep != NULL ? sep + 1 : end;
        /* Only the final cookie-pair loses trailing whitespace (ModSecurity strips it after splitting). */
        if (next == end)
            while (tok_len > 0 && is_c_space((unsigned char)p[tok_len - 1]))
                tok_len--;
        const char *tok_end = p + tok_len;
        const char *eq = memchr(p, '=', tok_len);
        const char *name = p, *name_end = eq != NULL ? eq : tok_end;
        while (name < name_end && is_c_space((unsigned char)*name))
            name++;
        if (name < name_end) {
            const char *value = eq != NULL ? eq + 1 : tok_end;
            if (sink != NULL && sink->item != NULL)
                sink->item(sink->ctx, RS_ITEM_ARG, rs_str(name, (size_t)(name_end - name)),
                           rs_str(value, (size_t)(tok_end - value)));
            count++;
        }
        p = next;
    }
    return count;
}
