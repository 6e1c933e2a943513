/* SPDX-License-Identifier: MIT */
/* Canary split: the sticky hash's distribution at 1%, 5% and 50% stays within a binomial tolerance (fixed keys
 * and seeds, so the test is deterministic), users keep their variant and stay on the canary as the weight
 * grows, keyless requests follow the weight, percentages parse exactly, and overrides need a token or a
 * trusted client network. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "split.h"

#define USERS 200000

static int key_of(int i, char *buf, size_t size)
{
    return snprintf(buf, size, "user-%d@example.com", i);
}

/* |observed - expected| within 5 standard deviations of Binomial(n, p) */
static void assert_binomial(unsigned long hits, unsigned long n, double p)
{
    double expected = n * p, sigma = sqrt(n * p * (1 - p));
    double dev = fabs((double)hits - expected);
    if (dev > 5 * sigma) {
        fprintf(stderr, "hits %lu of %lu at p=%.4f: expected %.1f +- %.1f\n", hits, n, p, expected, 5 * sigma);
        fail();
    }
}

static void sticky_distribution(uint32_t weight_bp)
{
    char key[64];
    unsigned long hits = 0;
    for (int i = 0; i < USERS; i++) {
        int n = key_of(i, key, sizeof(key));
        hits += (unsigned long)ep_split_sticky(weight_bp, "app", key, (size_t)n);
    }
    assert_binomial(hits, USERS, weight_bp / 10000.0);
}

static void test_sticky_distribution_1_5_50(void **state)
{
    (void)state;
    sticky_distribution(100);
    sticky_distribution(500);
    sticky_distribution(5000);
}

static void test_random_distribution(void **state)
{
    (void)state;
    const uint32_t weights[] = {100, 500, 5000};
    for (size_t w = 0; w < 3; w++) {
        uint64_t rng = 12345 + w; /* fixed seed */
        unsigned long hits = 0;
        for (int i = 0; i < USERS; i++)
            hits += (unsigned long)ep_split_random(weights[w], &rng);
        assert_binomial(hits, USERS, weights[w] / 10000.0);
    }
    uint64_t rng = 1;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(ep_split_random(0, &rng), 0);
        assert_int_equal(ep_split_random(10000, &rng), 1);
    }
}

static void test_stickiness(void **state)
{
    (void)state;
    char key[64];
    for (int i = 0; i < 5000; i++) {
        int n = key_of(i, key, sizeof(key));
        int first = ep_split_sticky(1000, "app", key, (size_t)n);
        for (int r = 0; r < 5; r++)
            assert_int_equal(ep_split_sticky(1000, "app", key, (size_t)n), first);
        assert_true(ep_split_bucket("app", key, (size_t)n) < 10000);
    }
    /* services pick different users: the buckets are not all equal between two services */
    int differ = 0;
    for (int i = 0; i < 1000; i++) {
        int n = key_of(i, key, sizeof(key));
        differ += ep_split_bucket("app", key, (size_t)n) != ep_split_bucket("checkout", key, (size_t)n);
    }
    assert_true(differ > 900);
    /* the separator keeps ("ab","c") and ("a","bc") apart */
    assert_int_not_equal(ep_split_bucket("ab", "c", 1), ep_split_bucket("a", "bc", 2));
}

static void test_monotonic(void **state)
{
    (void)state;
    char key[64];
    unsigned long at5 = 0, at10 = 0;
    for (int i = 0; i < USERS; i++) {
        int n = key_of(i, key, sizeof(key));
        int c5 = ep_split_sticky(500, "app", key, (size_t)n), c10 = ep_split_sticky(1000, "app", key, (size_t)n);
        if (c5)
            assert_int_equal(c10, 1); /* on the canary at 5% -> still on it at 10% */
        at5 += (unsigned long)c5;
        at10 += (unsigned long)c10;
    }
    assert_true(at10 > at5);
    /* and down again: everybody on the canary at 10% who is not at 5% leaves, nobody else moves */
    for (int i = 0; i < 1000; i++) {
        int n = key_of(i, key, sizeof(key));
        assert_true(ep_split_sticky(0, "app", key, (size_t)n) == 0);
        assert_true(ep_split_sticky(10000, "app", key, (size_t)n) == 1);
    }
}

static void test_percent_parsing(void **state)
{
    (void)state;
    struct {
        const char *in;
        int ok;
        uint32_t bp;
    } cases[] = {{"5.5", 1, 550},    {"0.01", 1, 1},   {"100", 1, 10000}, {"0", 1, 0},    {"10", 1, 1000}, {"5.500", 1, 550},
                 {"12.34", 1, 1234}, {"100.01", 0, 0}, {"5.555", 0, 0},   {"-1", 0, 0},   {"", 0, 0},      {"5.", 0, 0},
                 {".5", 0, 0},       {"1e2", 0, 0},    {"abc", 0, 0},     {"1000", 0, 0}, {"5 ", 0, 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint32_t bp = 99999;
        int r = ep_split_parse_percent(cases[i].in, strlen(cases[i].in), &bp);
        assert_int_equal(r == 0, cases[i].ok);
        if (cases[i].ok)
            assert_int_equal(bp, cases[i].bp);
    }
    uint32_t bp;
    assert_int_equal(ep_split_percent_to_bp(5.5, &bp), 0);
    assert_int_equal(bp, 550);
    assert_int_equal(ep_split_percent_to_bp(0.01, &bp), 0);
    assert_int_equal(bp, 1);
    assert_int_equal(ep_split_percent_to_bp(33.33, &bp), 0);
    assert_int_equal(bp, 3333);
    assert_int_equal(ep_split_percent_to_bp(0.015, &bp), -1);
    assert_int_equal(ep_split_percent_to_bp(100.5, &bp), -1);
    assert_int_equal(ep_split_percent_to_bp(-0.01, &bp), -1);
    assert_int_equal(ep_split_percent_to_bp(NAN, &bp), -1);
}

static void test_override_rules(void **state)
{
    (void)state;
    assert_int_equal(ep_split_parse_override("always", 6), EP_OVERRIDE_ALWAYS);
    assert_int_equal(ep_split_parse_override(" Never ", 7), EP_OVERRIDE_NEVER);
    assert_int_equal(ep_split_parse_override("yes", 3), EP_OVERRIDE_NONE);
    assert_int_equal(ep_split_parse_override(NULL, 0), EP_OVERRIDE_NONE);

    ep_cidr_t nets[2];
    assert_int_equal(ep_cidr_parse("10.1.0.0/16", 11, &nets[0]), 0);
    assert_int_equal(ep_cidr_parse("fd00::/8", 8, &nets[1]), 0);
    ep_cidr_t bad;
    assert_int_equal(ep_cidr_parse("10.0.0.0/33", 11, &bad), -1);
    assert_int_equal(ep_cidr_parse("nonsense", 8, &bad), -1);
    assert_int_equal(ep_cidr_parse("10.0.0.0/", 9, &bad), -1);

    ep_override_policy_t pol = {"s3cret", nets, 2};
    /* token: exact match only */
    assert_true(ep_split_override_allowed(&pol, "203.0.113.9", "s3cret", 6));
    assert_false(ep_split_override_allowed(&pol, "203.0.113.9", "s3cre", 5));
    assert_false(ep_split_override_allowed(&pol, "203.0.113.9", "s3cret!", 7));
    assert_false(ep_split_override_allowed(&pol, "203.0.113.9", NULL, 0));
    /* trusted networks */
    assert_true(ep_split_override_allowed(&pol, "10.1.200.3", NULL, 0));
    assert_false(ep_split_override_allowed(&pol, "10.2.0.1", NULL, 0));
    assert_true(ep_split_override_allowed(&pol, "fd12::1", NULL, 0));
    assert_false(ep_split_override_allowed(&pol, "fe80::1", NULL, 0));
    assert_true(ep_split_override_allowed(&pol, "::ffff:10.1.0.7", NULL, 0)); /* IPv4-mapped client */
    /* no token configured: a presented empty token never matches */
    ep_override_policy_t nets_only = {NULL, nets, 1};
    assert_false(ep_split_override_allowed(&nets_only, "192.0.2.1", "", 0));
    ep_override_policy_t none = {NULL, NULL, 0};
    assert_false(ep_split_override_allowed(&none, "10.1.0.1", "x", 1));
    assert_true(ep_ct_equal("abc", 3, "abc", 3));
    assert_false(ep_ct_equal("abc", 3, "abd", 3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sticky_distribution_1_5_50),
        cmocka_unit_test(test_random_distribution),
        cmocka_unit_test(test_stickiness),
        cmocka_unit_test(test_monotonic),
        cmocka_unit_test(test_percent_parsing),
        cmocka_unit_test(test_override_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
