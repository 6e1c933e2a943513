/* SPDX-License-Identifier: MIT */
/* Fuzz target for rs_parse_json: the input is a JSON body, parsed with a small and the default depth limit.
 * Checks that names start with "json", errors carry a message, and a valid document parses the same way
 * with a reused scratch buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "body/body.h"

typedef struct {
    size_t items;
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
    check(name.len >= 4 && memcmp(name.base, "json", 4) == 0);
    for (size_t i = 0; i < name.len; i++)
        t->hash = t->hash * 31 + (uint8_t)name.base[i];
    for (size_t i = 0; i < value.len; i++)
        t->hash = t->hash * 31 + (uint8_t)value.base[i];
    t->items++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rs_str_t in = rs_str((const char *)data, size);
    rs_buf_t scratch = {0};
    tally_t a = {0}, b = {0};
    rs_body_sink_t sink = {on_item, &a};
    rs_body_error_t err;
    rs_parse_json(in, 0, &sink, &scratch, &err);
    check(err.error == 0 || err.error == 1);
    check(!err.error || (err.message[0] != '\0' && memchr(err.message, '\0', sizeof(err.message)) != NULL));
    int first_error = err.error;

    sink.ctx = &b;
    rs_parse_json(in, 0, &sink, &scratch, &err);
    check(err.error == first_error && a.items == b.items && a.hash == b.hash);

    rs_parse_json(in, 3, NULL, &scratch, &err);
    rs_buf_free(&scratch);
    return 0;
}
