/* SPDX-License-Identifier: MIT */
/* Fuzz target: the Aho-Corasick automaton against naive search. Input: first byte = flags (bit 0: nocase,
 * bits 1-2: dense-row budget variant), then patterns separated by '|' up to the first '\n', then the text.
 * Every occurrence the naive search finds must be reported, and nothing else. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "operator/op_internal.h"

#define MAX_PATS 64

typedef struct {
    const rs_str_t *pats;
    const char *text;
    int nocase;
    size_t reported;
} fuzz_ctx_t;

static unsigned char fold(unsigned char c, int nocase)
{
    return nocase && c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static int occurs_at(const rs_str_t *p, const char *text, size_t end, int nocase)
{
    if (end < p->len)
        return 0;
    for (size_t i = 0; i < p->len; i++)
        if (fold((unsigned char)text[end - p->len + i], nocase) != fold((unsigned char)p->base[i], nocase))
            return 0;
    return 1;
}

static int on_match(void *arg, uint32_t id, size_t end)
{
    fuzz_ctx_t *ctx = arg;
    if (id >= MAX_PATS || !occurs_at(&ctx->pats[id], ctx->text, end, ctx->nocase))
        abort(); /* reported something that is not there */
    ctx->reported++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int nocase = data[0] & 1;
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (nl == NULL)
        return 0;
    rs_str_t pats[MAX_PATS] = {{0}};
    size_t n = 0;
    const char *start = p;
    for (const char *q = p; q <= nl && n < MAX_PATS; q++) {
        if (q == nl || *q == '|') {
            pats[n++] = rs_str(start, (size_t)(q - start));
            start = q + 1;
        }
    }
    const char *text = nl + 1;
    size_t tlen = (size_t)(end - text);
    static const size_t budgets[] = {(size_t)1 << 30, 1, 8, 64};
    rs_ac_t *ac = rs_ac_build_budget(pats, NULL, n, nocase, budgets[(data[0] >> 1) & 3]);
    fuzz_ctx_t ctx = {pats, text, nocase, 0};
    rs_ac_scan(ac, text, tlen, on_match, &ctx);
    size_t expected = 0;
    for (size_t i = 0; i < n; i++) {
        if (pats[i].len == 0) {
            expected++; /* empty patterns are reported once */
            continue;
        }
        for (size_t e = pats[i].len; e <= tlen; e++)
            expected += occurs_at(&pats[i], text, e, nocase);
    }
    if (expected != ctx.reported)
        abort();
    rs_ac_free(ac);
    return 0;
}
