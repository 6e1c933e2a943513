/* SPDX-License-Identifier: MIT */
/* Fuzz target for rs_parse_cookies: the input is a Cookie header value. Checks that every reported name and
 * value points inside the input, names are non-empty and start with a non-space, and the count matches. */
#include <stdint.h>
#include <stdlib.h>

#include "body/body.h"

typedef struct {
    const char *base;
    size_t len, items;
} span_t;

static void check(int cond)
{
    if (!cond)
        abort();
}

static int inside(const span_t *s, rs_str_t x)
{
    return x.len == 0 || (x.base >= s->base && x.base + x.len <= s->base + s->len);
}

static void on_item(void *ctx, rs_item_kind_t kind, rs_str_t name, rs_str_t value)
{
    span_t *s = ctx;
    check(kind == RS_ITEM_ARG);
    check(name.len > 0 && inside(s, name) && inside(s, value));
    check(name.base[0] != ' ' && name.base[0] != '\t');
    for (size_t i = 0; i < name.len; i++)
        check(name.base[i] != ';' && name.base[i] != '=');
    for (size_t i = 0; i < value.len; i++)
        check(value.base[i] != ';');
    s->items++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    span_t s = {(const char *)data, size, 0};
    rs_body_sink_t sink = {on_item, &s};
    size_t n = rs_parse_cookies(rs_str((const char *)data, size), &sink);
    check(n == s.items);
    return 0;
}
