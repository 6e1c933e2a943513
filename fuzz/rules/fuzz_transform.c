/* SPDX-License-Identifier: MIT */
/* Fuzz target for rules/transform: the first byte picks the transformation, the rest is the value.
 * Checks the contract (changed flag, NUL termination, output size bounds) and a few per-transformation
 * invariants (encode/decode round trips, idempotent case folding, removed bytes really gone). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "transform/transform.h"

static int id_of(const char *name)
{
    return rs_transform_lookup(rs_str(name, strlen(name)));
}

static void check(int cond)
{
    if (!cond)
        abort();
}

/* Applies id and returns the resulting value (the input itself when unchanged). */
static rs_str_t apply(int id, rs_str_t in, rs_buf_t *out)
{
    int changed = rs_transform_apply(id, in, out);
    check(changed == 0 || changed == 1);
    if (!changed) {
        check(out->len == 0 || (out->len == in.len && memcmp(out->base, in.base, in.len) == 0));
        return in;
    }
    check(out->base != NULL && out->base[out->len] == '\0');
    check(out->len != in.len || memcmp(out->base, in.base, in.len) != 0);
    return rs_str(out->base, out->len);
}

static size_t max_output(const char *name, size_t n)
{
    if (strcmp(name, "urlEncode") == 0)
        return 3 * n;
    if (strcmp(name, "hexEncode") == 0)
        return 2 * n;
    if (strcmp(name, "base64Encode") == 0)
        return (n + 2) / 3 * 4;
    if (strcmp(name, "utf8toUnicode") == 0)
        return 4 * n;
    if (strcmp(name, "length") == 0)
        return 20;
    if (strcmp(name, "md5") == 0)
        return 16;
    if (strcmp(name, "sha1") == 0)
        return 20;
    return n; /* everything else only shrinks or keeps the size */
}

static int has_byte(rs_str_t s, int (*pred)(unsigned char))
{
    for (size_t i = 0; i < s.len; i++)
        if (pred((unsigned char)s.base[i]))
            return 1;
    return 0;
}

static int is_nul(unsigned char c)
{
    return c == 0;
}

static int is_upper(unsigned char c)
{
    return c >= 'A' && c <= 'Z';
}

static int is_removed_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || c == 0xa0 || c == 0xc2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int id = 1 + data[0] % (rs_transform_count() - 1);
    const char *name = rs_transform_name(id);
    /* An exactly sized heap copy, so reading past the value is caught by ASan. */
    size_t n = size - 1;
    char *value = malloc(n != 0 ? n : 1);
    if (value == NULL)
        return 0;
    if (n != 0)
        memcpy(value, data + 1, n);
    rs_str_t in = rs_str(value, n);

    rs_buf_t out = {0}, again = {0};
    rs_str_t res = apply(id, in, &out);
    check(res.len <= max_output(name, n));

    if (strcmp(name, "lowercase") == 0) {
        check(!has_byte(res, is_upper));
        check(rs_transform_apply(id, res, &again) == 0);
    } else if (strcmp(name, "removeNulls") == 0) {
        check(!has_byte(res, is_nul));
    } else if (strcmp(name, "removeWhitespace") == 0) {
        check(!has_byte(res, is_removed_space));
        check(rs_transform_apply(id, res, &again) == 0);
    } else if (strcmp(name, "compressWhitespace") == 0 || strcmp(name, "trim") == 0) {
        check(rs_transform_apply(id, res, &again) == 0); /* idempotent */
    } else if (strcmp(name, "hexEncode") == 0) {
        rs_str_t back = apply(id_of("hexDecode"), res, &again);
        check(back.len == n && (n == 0 || memcmp(back.base, value, n) == 0));
    } else if (strcmp(name, "base64Encode") == 0) {
        rs_str_t back = apply(id_of("base64Decode"), res, &again);
        check(back.len == n && (n == 0 || memcmp(back.base, value, n) == 0));
        back = apply(id_of("base64DecodeExt"), res, &again);
        check(back.len == n && (n == 0 || memcmp(back.base, value, n) == 0));
    } else if (strcmp(name, "urlEncode") == 0) {
        rs_str_t back = apply(id_of("urlDecode"), res, &again);
        check(back.len == n && (n == 0 || memcmp(back.base, value, n) == 0));
    }

    /* The same buffer, reused for a different value, must still be right. */
    rs_str_t second = apply(id, rs_str(value, n / 2), &out);
    check(second.len <= max_output(name, n / 2));

    rs_buf_free(&out);
    rs_buf_free(&again);
    free(value);
    return 0;
}
