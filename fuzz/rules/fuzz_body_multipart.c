/* SPDX-License-Identifier: MIT */
/* Fuzz target for rs_parse_multipart: the first line of the input is the Content-Type value, the rest is
 * the body. Checks the flag values, that MULTIPART_STRICT_ERROR covers the other flags, and that files
 * report a decimal size matching their content length. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "body/body.h"

typedef struct {
    size_t items, last_content;
    uint32_t hash;
} tally_t;

static void check(int cond)
{
    if (!cond)
        abort();
}

static void on_item(void *ctx, rs_item_kind_t kind, rs_str_t name, rs_str_t value)
{
    tally_t *t = ctx;
    check(kind <= RS_ITEM_PART_HEADER);
    if (kind != RS_ITEM_PART_HEADER)
        check(name.len > 0);
    if (kind == RS_ITEM_FILE_SIZE) {
        char buf[32];
        check(value.len > 0 && value.len < sizeof(buf));
        memcpy(buf, value.base, value.len);
        buf[value.len] = '\0';
        t->last_content = strtoul(buf, NULL, 10);
    }
    if (kind == RS_ITEM_FILE_CONTENT)
        check(value.len == t->last_content);
    for (size_t i = 0; i < name.len; i++)
        t->hash = t->hash * 31 + (uint8_t)name.base[i];
    for (size_t i = 0; i < value.len; i++)
        t->hash = t->hash * 31 + (uint8_t)value.base[i];
    t->items++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t ct_len = nl != NULL ? (size_t)(nl - data) : size;
    rs_str_t ct = rs_str((const char *)data, ct_len);
    rs_str_t body = nl != NULL ? rs_str((const char *)nl + 1, size - ct_len - 1) : rs_str((const char *)data + size, 0);

    rs_buf_t scratch = {0};
    tally_t a = {0}, b = {0};
    rs_body_sink_t sink = {on_item, &a};
    rs_multipart_flags_t f, g;
    rs_body_error_t err;
    rs_parse_multipart(body, ct, &sink, &scratch, &f, &err);
    int bits[] = {f.boundary_quoted,     f.boundary_whitespace,
                  f.data_before,         f.data_after,
                  f.header_folding,      f.lf_line,
                  f.missing_semicolon,   f.invalid_quoting,
                  f.invalid_part,        f.invalid_header_folding,
                  f.file_limit_exceeded, f.crlf_lf_lines};
    int any = 0;
    for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
        check(bits[i] == 0 || bits[i] == 1);
        if (i + 1 < sizeof(bits) / sizeof(bits[0]))
            any |= bits[i];
    }
    check(f.strict_error == 0 || f.strict_error == 1);
    check(!any || f.strict_error);
    check(f.unmatched_boundary >= 0 && f.unmatched_boundary <= 2);
    check(memchr(f.name, '\0', sizeof(f.name)) != NULL && memchr(f.filename, '\0', sizeof(f.filename)) != NULL);
    check(!err.error || err.message[0] != '\0');

    sink.ctx = &b;
    rs_parse_multipart(body, ct, &sink, &scratch, &g, &err);
    check(a.items == b.items && a.hash == b.hash && memcmp(&f, &g, sizeof(f)) == 0);
    rs_buf_free(&scratch);
    return 0;
}
