/* SPDX-License-Identifier: MIT */
/* Tests of the Aho-Corasick automaton (rs_ac_*): every occurrence reported with the right id and end offset,
 * case folding, duplicates, empty patterns, early stop, and a randomized comparison with naive search. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "operator/op_internal.h"

#define MAX_HITS 4096

typedef struct {
    uint32_t id[MAX_HITS];
    size_t end[MAX_HITS];
    size_t n;
    size_t stop_after; /* 0 = never stop */
} hits_t;

static int collect(void *ctx, uint32_t id, size_t end)
{
    hits_t *h = ctx;
    if (h->n < MAX_HITS) {
        h->id[h->n] = id;
        h->end[h->n] = end;
    }
    h->n++;
    return h->stop_after != 0 && h->n >= h->stop_after;
}

static int has_hit(const hits_t *h, uint32_t id, size_t end)
{
    for (size_t i = 0; i < h->n && i < MAX_HITS; i++)
        if (h->id[i] == id && h->end[i] == end)
            return 1;
    return 0;
}

static rs_ac_t *build(const char *const *pats, size_t n, int nocase)
{
    rs_str_t s[64];
    uint32_t ids[64];
    for (size_t i = 0; i < n; i++) {
        s[i] = rs_str(pats[i], strlen(pats[i]));
        ids[i] = (uint32_t)(100 + i);
    }
    return rs_ac_build(s, ids, n, nocase);
}

static void test_basic(void **state)
{
    const char *const pats[] = {"he", "she", "his", "hers"};
    rs_ac_t *ac = build(pats, 4, 0);
    assert_non_null(ac);
    assert_true(rs_ac_memory(ac) > 0);
    hits_t h = {0};
    const char *text = "ushers";
    assert_int_equal(rs_ac_scan(ac, text, strlen(text), collect, &h), 0);
    assert_int_equal(h.n, 3);
    assert_true(has_hit(&h, 101, 4)); /* she ends at 4 */
    assert_true(has_hit(&h, 100, 4)); /* he (suffix of she) */
    assert_true(has_hit(&h, 103, 6)); /* hers */
    h = (hits_t){0};
    assert_int_equal(rs_ac_scan(ac, "HERS", 4, collect, &h), 0);
    assert_int_equal(h.n, 0); /* case-sensitive */
    rs_ac_free(ac);
}

static void test_nocase(void **state)
{
    const char *const pats[] = {"SeLeCt", "<script"};
    rs_ac_t *ac = build(pats, 2, 1);
    hits_t h = {0};
    const char *text = "x SELECT y <SCRIPT z select";
    rs_ac_scan(ac, text, strlen(text), collect, &h);
    assert_int_equal(h.n, 3);
    assert_true(has_hit(&h, 100, 8));
    assert_true(has_hit(&h, 101, 18));
    assert_true(has_hit(&h, 100, strlen(text)));
    rs_ac_free(ac);
}

static void test_duplicates_empty_and_stop(void **state)
{
    const char *const pats[] = {"ab", "ab", "", "b"};
    rs_ac_t *ac = build(pats, 4, 0);
    hits_t h = {0};
    rs_ac_scan(ac, "xab", 3, collect, &h);
    assert_int_equal(h.n, 4); /* empty once at 0, both "ab", "b" */
    assert_true(has_hit(&h, 102, 0));
    assert_true(has_hit(&h, 100, 3));
    assert_true(has_hit(&h, 101, 3));
    assert_true(has_hit(&h, 103, 3));
    h = (hits_t){.stop_after = 2};
    assert_int_equal(rs_ac_scan(ac, "xab", 3, collect, &h), 1);
    assert_int_equal(h.n, 2);
    rs_ac_free(ac);
    assert_null(rs_ac_build(NULL, NULL, 0, 0));
    assert_int_equal(rs_ac_scan(NULL, "abc", 3, collect, &h), 0);
    assert_int_equal(rs_ac_memory(NULL), 0);
}

static void test_binary(void **state)
{
    rs_str_t pats[2] = {{"\x00\xff", 2}, {"\xff\x00\x01", 3}};
    rs_ac_t *ac = rs_ac_build(pats, NULL, 2, 1);
    hits_t h = {0};
    const char text[] = {'a', 0, (char)0xff, 0, 1};
    rs_ac_scan(ac, text, sizeof(text), collect, &h);
    assert_int_equal(h.n, 2);
    assert_true(has_hit(&h, 0, 3)); /* ids default to the index */
    assert_true(has_hit(&h, 1, 5));
    rs_ac_free(ac);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

/* Byte-wise (strncasecmp would stop at a NUL byte). */
static int eq_fold(const char *a, const char *b, size_t n, int nocase)
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

static void test_random_vs_naive(void **state)
{
    static const char alphabet[] = "abAB-\0c";
    for (int round = 0; round < 2000; round++) {
        int nocase = round & 1;
        size_t np = 1 + rnd() % 20;
        char buf[20][8];
        rs_str_t pats[20];
        for (size_t i = 0; i < np; i++) {
            size_t len = 1 + rnd() % 6;
            for (size_t k = 0; k < len; k++)
                buf[i][k] = alphabet[rnd() % 7];
            pats[i] = rs_str(buf[i], len);
        }
        char text[200];
        size_t tlen = rnd() % sizeof(text);
        for (size_t k = 0; k < tlen; k++)
            text[k] = alphabet[rnd() % 7];
        /* alternate between the all-dense automaton and ones with few dense rows */
        static const size_t budgets[] = {(size_t)1 << 30, 1, 20, 200};
        rs_ac_t *ac = rs_ac_build_budget(pats, NULL, np, nocase, budgets[round % 4]);
        hits_t h = {0};
        rs_ac_scan(ac, text, tlen, collect, &h);
        size_t expected = 0;
        for (size_t i = 0; i < np; i++)
            for (size_t end = pats[i].len; end <= tlen; end++)
                if (eq_fold(text + end - pats[i].len, pats[i].base, pats[i].len, nocase)) {
                    expected++;
                    assert_true(has_hit(&h, (uint32_t)i, end));
                }
        assert_int_equal(h.n, expected);
        rs_ac_free(ac);
    }
}

static void test_many_patterns(void **state)
{
    /* a prefilter-sized automaton: 5000 patterns */
    enum { N = 5000 };
    char(*store)[12] = malloc(N * sizeof(*store));
    rs_str_t *pats = malloc(N * sizeof(*pats));
    for (int i = 0; i < N; i++) {
        int len = snprintf(store[i], sizeof(store[i]), "k%dw", i * 7919);
        pats[i] = rs_str(store[i], (size_t)len);
    }
    for (int variant = 0; variant < 2; variant++) {
        /* variant 1: a dense budget far below the state count, so most states are sparse */
        rs_ac_t *ac = variant == 0 ? rs_ac_build(pats, NULL, N, 1) : rs_ac_build_budget(pats, NULL, N, 1, 1000);
        hits_t h = {0};
        const char *text = "zz K7919W zz k39595w";
        rs_ac_scan(ac, text, strlen(text), collect, &h);
        assert_int_equal(h.n, 2);
        assert_true(has_hit(&h, 1, 9));
        assert_true(has_hit(&h, 5, strlen(text)));
        if (variant == 1)
            assert_true(rs_ac_memory(ac) < 1000 * 4 + N * 12 * 24); /* bounded by the budget plus sparse edges */
        rs_ac_free(ac);
    }
    free(pats);
    free(store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),  cmocka_unit_test(test_nocase),          cmocka_unit_test(test_duplicates_empty_and_stop),
        cmocka_unit_test(test_binary), cmocka_unit_test(test_random_vs_naive), cmocka_unit_test(test_many_patterns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
