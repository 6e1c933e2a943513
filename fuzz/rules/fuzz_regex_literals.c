/* SPDX-License-Identifier: MIT */
/* Fuzz target: soundness of the @rx required-literal extraction. Input: a regex up to the first '\n', then a
 * subject. Whenever PCRE2 (with the @rx flags) matches the subject, or a string generated from the regex, one
 * of the extracted literals must occur in it; otherwise the prefilter would skip a rule that matches. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "operator/op_internal.h"

static int fold_eq(const char *a, const char *b, size_t n, int nocase)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (nocase) {
            x = (x >= 'A' && x <= 'Z') ? (unsigned char)(x + 32) : x;
            y = (y >= 'A' && y <= 'Z') ? (unsigned char)(y + 32) : y;
        }
        if (x != y)
            return 0;
    }
    return 1;
}

static int some_literal_occurs(const rs_str_t *lits, int n, int nocase, const char *s, size_t len)
{
    for (int i = 0; i < n; i++)
        for (size_t p = 0; p + lits[i].len <= len; p++)
            if (fold_eq(s + p, lits[i].base, lits[i].len, nocase))
                return 1;
    return 0;
}

static uint64_t rng;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

static void gen(const rs_rx_node_t *n, rs_buf_t *out)
{
    if (out->len > 1000)
        return;
    switch (n->kind) {
    case RS_RX_SET: {
        unsigned members[256], m = 0;
        for (unsigned c = 0; c < 256; c++)
            if (rs_rx_set_has(n->set, c))
                members[m++] = c;
        if (m)
            rs_buf_putc(out, (char)members[rnd() % m]);
        break;
    }
    case RS_RX_CAT:
        for (size_t i = 0; i < n->nkids; i++)
            gen(n->kids[i], out);
        break;
    case RS_RX_ALT:
        if (n->nkids)
            gen(n->kids[rnd() % n->nkids], out);
        break;
    case RS_RX_REPEAT: {
        uint32_t span = n->max == RS_RX_INF || n->max - n->min > 3 ? 3 : n->max - n->min;
        uint32_t times = n->min + rnd() % (span + 1);
        for (uint32_t i = 0; i < times && i < 64; i++)
            gen(n->kids[0], out);
        break;
    }
    case RS_RX_EMPTY:
    case RS_RX_ANY:
        break;
    }
}

static void check(pcre2_code *re, pcre2_match_data *md, pcre2_match_context *mc, const rs_str_t *lits, int n, int nocase,
                  const char *s, size_t len)
{
    int rc = pcre2_match(re, (PCRE2_SPTR)(s ? s : ""), len, 0, 0, md, mc);
    if (rc >= 0 && !some_literal_occurs(lits, n, nocase, s, len))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    const char *nl = memchr(p, '\n', size);
    size_t rlen = nl ? (size_t)(nl - p) : size;
    if (rlen > 1024)
        return 0;
    const char *subject = nl ? nl + 1 : "";
    size_t slen = nl ? size - rlen - 1 : 0;

    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)p, rlen, PCRE2_DOTALL | PCRE2_MULTILINE, &errcode, &erroff, NULL);
    if (re == NULL)
        return 0;
    rs_str_t *lits;
    int nocase;
    int n = rs_rx_required_literals(p, rlen, &lits, &nocase);
    if (n >= 0) {
        pcre2_match_data *md = pcre2_match_data_create(4, NULL);
        pcre2_match_context *mc = pcre2_match_context_create(NULL);
        pcre2_set_match_limit(mc, 100000);
        check(re, md, mc, lits, n, nocase, subject, slen);
        rs_rx_node_t *tree = rs_rx_parse(p, rlen, 0, NULL);
        if (tree == NULL)
            abort(); /* a literal set was produced, so the pattern parsed */
        rng = 0x9e3779b97f4a7c15ull ^ size;
        for (int i = 0; i < 16; i++) {
            rs_buf_t b = {0};
            gen(tree, &b);
            check(re, md, mc, lits, n, nocase, b.base, b.len);
            rs_buf_free(&b);
        }
        rs_rx_free(tree);
        pcre2_match_context_free(mc);
        pcre2_match_data_free(md);
        rs_op_literals_free(lits, n);
    }
    pcre2_code_free(re);
    return 0;
}
