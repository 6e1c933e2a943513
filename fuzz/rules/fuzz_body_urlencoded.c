/* SPDX-License-Identifier: MIT */
/* Fuzz target for rs_parse_urlencoded: the whole input is a query string / form body. Checks that decoding
 * never grows names or values, that every token yields one argument, and that a scratch buffer reused
 * across calls gives the same result. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "body/body.h"

typedef struct {
    size_t items, bytes;
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
    check(kind == RS_ITEM_ARG);
    t->items++;
    t->bytes += name.len + value.len;
    for (size_t i = 0; i < name.len; i++) /* touch every byte so ASan sees bad pointers */
        t->hash = t->hash * 31 + (uint8_t)name.base[i];
    for (size_t i = 0; i < value.len; i++)
        t->hash = t->hash * 31 + (uint8_t)value.base[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rs_str_t in = rs_str((const char *)data, size);
    rs_buf_t scratch = {0};
    tally_t first = {0}, second = {0};
    rs_body_sink_t sink = {on_item, &first};
    int invalid = 0;
    size_t n = rs_parse_urlencoded(in, '&', &sink, &scratch, &invalid);
    check(n == first.items && (invalid == 0 || invalid == 1));
    check(first.bytes <= size);
    size_t separators = 0;
    for (size_t i = 0; i < size; i++)
        separators += data[i] == '&';
    check(n <= separators + 1 && (size == 0 || n >= 1 || size == separators));

    sink.ctx = &second;
    int invalid2 = 0;
    check(rs_parse_urlencoded(in, '&', &sink, &scratch, &invalid2) == n);
    check(second.hash == first.hash && invalid2 == invalid);

    rs_parse_urlencoded(in, ';', NULL, &scratch, NULL);
    rs_buf_free(&scratch);
    return 0;
}
