/* SPDX-License-Identifier: MIT */
/* Tests of the candidate scan's verdict cache (rules/engine/cand.c), which keeps slot verdicts across the
 * requests a transaction serves: every request is also run rule by rule (a database without the prefilter)
 * and must give the same matches, whatever the cache holds; the cache's counters show it is used; its
 * memory stays fixed under ever-new values; entries of one database never answer for another; a memo shared
 * by a thread's transactions carries what one learnt to the next. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/engine_internal.h"
#include "rules_compile.h"

static const char RULES[] = "SecRuleEngine DetectionOnly\n"
                            "SecRule REQUEST_HEADERS:User-Agent \"@detectSQLi\" \"id:1,phase:1,pass,log,t:none\"\n"
                            "SecRule REQUEST_HEADERS:User-Agent \"@rx (?i)evil[0-9]\" \"id:2,phase:1,pass,log,t:none\"\n"
                            "SecRule ARGS \"@detectXSS\" \"id:3,phase:1,pass,log,t:none,t:urlDecodeUni\"\n"
                            "SecRule ARGS \"@rx ^abc[0-9]{3}$\" \"id:4,phase:1,pass,log,t:none\"\n"
                            "SecRule ARGS \"@rx ^abc[a-z]{3}$\" \"id:5,phase:1,pass,log,t:none\"\n"
                            "SecRule ARGS \"@validateByteRange 32-126\" \"id:6,phase:1,pass,log,t:none\"\n"
                            "SecRule ARGS \"@detectSQLi\" \"id:7,phase:1,pass,log,t:none,t:lowercase\"\n"
                            "SecRule ARGS \"@pm select union\" \"id:8,phase:1,pass,log,t:none\"\n";

/* A GET with the User-Agent and one query argument `a` (percent-encoded). */
static void build_request(rs_buf_t *raw, rs_buf_t *storage, rs_request_t *req, const char *ua, const char *arg)
{
    raw->len = 0;
    rs_buf_printf(raw, "GET /p?a=");
    for (const unsigned char *c = (const unsigned char *)arg; *c != '\0'; c++) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9'))
            rs_buf_putc(raw, (char)*c);
        else
            rs_buf_printf(raw, "%%%02X", *c);
    }
    rs_buf_printf(raw, " HTTP/1.1\r\nHost: localhost\r\nUser-Agent: %s\r\n\r\n", ua);
    char err[128];
    assert_int_equal(rs_request_parse_raw((rs_str_t){raw->base, raw->len}, req, storage, err, sizeof(err)), 0);
}

/* Runs phases 1 and 2 and describes what matched (rule, variable, value, work limits hit) in sig. */
static void run(rs_tx_t *tx, rs_db_t *db, const char *ua, const char *arg, char *sig, size_t size)
{
    rs_buf_t raw = {0}, storage = {0};
    rs_request_t req;
    build_request(&raw, &storage, &req, ua, arg);
    rs_verdict_t v;
    assert_int_equal(rs_tx_begin(tx, db, &req), 0);
    assert_int_equal(rs_tx_run_phase(tx, 1, &v), 0);
    assert_int_equal(rs_tx_run_phase(tx, 2, &v), 0);
    size_t n = (size_t)snprintf(sig, size, "limits %u;", v.limit_hits);
    for (size_t i = 0; i < v.nmatches && n < size; i++) {
        const rs_match_t *m = &v.matches[i];
        n += (size_t)snprintf(sig + n, size - n, " %u %.*s=%.*s;", m->rule_id, (int)m->var_name.len, m->var_name.base,
                              (int)m->value.len, m->value.base);
    }
    assert_true(n < size);
    rs_tx_end(tx);
    rs_request_free_parsed(&req);
    rs_buf_free(&raw);
    rs_buf_free(&storage);
}

typedef struct st_fixture_t {
    rs_db_t *fast, *ref;
    rs_tx_t *tx, *tx_ref;
    char sig[2048];
} fixture_t;

static void fixture_init(fixture_t *f, const char *rules)
{
    f->fast = test_compile_rules(rules, 1);
    f->ref = test_compile_rules(rules, 0);
    assert_non_null(f->fast);
    assert_non_null(f->ref);
    f->tx = rs_tx_new();
    f->tx_ref = rs_tx_new();
}

static void fixture_free(fixture_t *f)
{
    rs_tx_free(f->tx);
    rs_tx_free(f->tx_ref);
    rs_db_release(f->fast);
    rs_db_release(f->ref);
}

/* Runs the request on the reused transaction (cache and all) and rule by rule: the same matches. Leaves
 * the description in f->sig. */
static void check(fixture_t *f, const char *ua, const char *arg)
{
    char want[2048];
    run(f->tx_ref, f->ref, ua, arg, want, sizeof(want));
    run(f->tx, f->fast, ua, arg, f->sig, sizeof(f->sig));
    assert_string_equal(f->sig, want);
}

static int has_match(const char *sig, unsigned id)
{
    char needle[16];
    snprintf(needle, sizeof(needle), " %u ", id);
    return strstr(sig, needle) != NULL;
}

static rs_cand_cache_stats_t stats_of(rs_tx_t *tx)
{
    rs_cand_cache_stats_t st;
    rs_cand_cache_stats(tx, &st);
    return st;
}

static const char UA[] = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

static void test_repeat_hits(void **state)
{
    (void)state;
    fixture_t f;
    fixture_init(&f, RULES);
    const char *args[] = {"blue shirt", "1' or '1'='1", "<script>alert(1)</script>", "abc123"};
    for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++) {
        check(&f, UA, args[i]);
        char first[2048];
        strcpy(first, f.sig);
        rs_cand_cache_stats_t before = stats_of(f.tx);
        check(&f, UA, args[i]);
        rs_cand_cache_stats_t after = stats_of(f.tx);
        assert_string_equal(f.sig, first);
        assert_true(after.counts.verdict_hits > before.counts.verdict_hits);         /* the second run is answered from the cache */
        assert_int_equal(after.counts.verdict_misses, before.counts.verdict_misses); /* and entirely */
        assert_true(after.counts.literal_hits > before.counts.literal_hits);         /* its strings are not scanned again either */
        assert_int_equal(after.counts.literal_misses, before.counts.literal_misses);
    }
    check(&f, UA, "1' or '1'='1");
    assert_true(has_match(f.sig, 7)); /* a cached match is a match */
    check(&f, UA, "<script>alert(1)</script>");
    assert_true(has_match(f.sig, 3));
    fixture_free(&f);
}

/* A benign string and then strings one byte away, and one string under two slots with opposite verdicts. */
static void test_attack_after_benign(void **state)
{
    (void)state;
    fixture_t f;
    fixture_init(&f, RULES);
    check(&f, "Mozilla/5.0 evilX", "abc12x");
    assert_false(has_match(f.sig, 2));
    assert_false(has_match(f.sig, 4));
    check(&f, "Mozilla/5.0 evil7", "abc123");
    assert_true(has_match(f.sig, 2));
    assert_true(has_match(f.sig, 4));
    assert_false(has_match(f.sig, 5));
    check(&f, UA, "abcxyz"); /* the other slot on the same literal: its own verdict */
    assert_true(has_match(f.sig, 5));
    assert_false(has_match(f.sig, 4));
    check(&f, UA, "abc123");
    assert_true(has_match(f.sig, 4));
    assert_false(has_match(f.sig, 5));

    static const char *pairs[][2] = {
        {"1' on '1'='1", "1' or '1'='1"},
        {"<scripx>alert(1)</scripx>", "<script>alert(1)</script>"},
        {"hello\x7e", "hello\x7f"},
        {"we select the best", "1 union select 2"},
    };
    static const unsigned caught_by[] = {7, 3, 6, 8};
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        for (int round = 0; round < 2; round++) {
            check(&f, UA, pairs[i][0]);
            check(&f, UA, pairs[i][1]);
            assert_true(has_match(f.sig, caught_by[i]));
        }
    }
    /* the attack string in the User-Agent: another slot (rule 1) than the cached verdicts of rule 7 */
    check(&f, "1' or '1'='1", "x");
    assert_true(has_match(f.sig, 1));
    fixture_free(&f);
}

/* Far more distinct values than the cache holds, with attacks among them, every few hundred a value too long
 * to cache, and a User-Agent every request brings: memory stays put, verdicts stay right and the recurring
 * value keeps being found. */
static void test_many_values_bounded(void **state)
{
    (void)state;
    fixture_t f;
    fixture_init(&f, RULES);
    check(&f, UA, "an early benign value");
    rs_cand_cache_stats_t first = stats_of(f.tx);
    assert_true(first.memory_bytes > 0);
    const unsigned n = 3 * (unsigned)first.capacity;
    char arg[600];
    unsigned attacks = 0;
    for (unsigned i = 0; i < n; i++) {
        if (i % 10 == 3)
            snprintf(arg, sizeof(arg), "1' or '%u'='%u", i, i);
        else if (i % 10 == 7)
            snprintf(arg, sizeof(arg), "<script>alert(%u)</script>", i);
        else if (i % 300 == 11)
            snprintf(arg, sizeof(arg), "%0500u", i);
        else
            snprintf(arg, sizeof(arg), "a benign value number %u of the flood, with some padding text", i);
        check(&f, UA, arg);
        if (i % 10 == 3 || i % 10 == 7) {
            assert_true(has_match(f.sig, i % 10 == 3 ? 7 : 3));
            attacks++;
        }
        rs_cand_cache_stats_t st = stats_of(f.tx);
        assert_int_equal(st.memory_bytes, first.memory_bytes);
        assert_true(st.live <= st.capacity);
    }
    rs_cand_cache_stats_t last = stats_of(f.tx);
    assert_true(attacks > n / 10);
    assert_true(last.counts.verdict_misses - first.counts.verdict_misses >= n); /* every new value was looked up */
    assert_true(last.counts.verdict_hits - first.counts.verdict_hits >= n - 1); /* the User-Agent, found on every request */
    check(&f, UA, "an early benign value");
    check(&f, UA, "1' or '1'='1");
    assert_true(has_match(f.sig, 7));
    fixture_free(&f);
}

/* Two databases whose only rules take the same slots with other operators: a verdict of one must not answer
 * for the other when a transaction moves between them (as after a reload). */
static void test_other_database(void **state)
{
    (void)state;
    fixture_t a, b;
    fixture_init(&a, "SecRule ARGS \"@rx ^abc[0-9]{3}$\" \"id:10,phase:1,pass,log,t:none\"\n"
                     "SecRule ARGS \"@validateByteRange 48-57\" \"id:11,phase:1,pass,log,t:none\"\n");
    fixture_init(&b, "SecRule ARGS \"@rx ^abc[0-9]{2}[a-z]$\" \"id:10,phase:1,pass,log,t:none\"\n"
                     "SecRule ARGS \"@validateByteRange 97-122\" \"id:11,phase:1,pass,log,t:none\"\n");
    rs_tx_free(b.tx);
    b.tx = a.tx; /* one transaction, two databases */
    /* each string first gets a no-match in one database, then must match in the other */
    for (int round = 0; round < 3; round++) {
        check(&a, UA, "abc12d");
        assert_false(has_match(a.sig, 10));
        check(&b, UA, "abc12d");
        assert_true(has_match(b.sig, 10));
        check(&b, UA, "abc123");
        assert_false(has_match(b.sig, 10));
        check(&a, UA, "abc123");
        assert_true(has_match(a.sig, 10));
        check(&a, UA, "123");
        assert_false(has_match(a.sig, 11));
        check(&b, UA, "123");
        assert_true(has_match(b.sig, 11));
        check(&b, UA, "xyz");
        assert_false(has_match(b.sig, 11));
        check(&a, UA, "xyz");
        assert_true(has_match(a.sig, 11));
    }
    b.tx = NULL;
    fixture_free(&a);
    fixture_free(&b);
}

/* A regex that hits the match limit is asked again on every request: the rule-by-rule run reports the limit
 * each time, as the reference evaluator does. */
static void test_limit_not_cached(void **state)
{
    (void)state;
    fixture_t f;
    fixture_init(&f, "SecPcreMatchLimit 1000\nSecPcreMatchLimitRecursion 1000\n"
                     "SecRule ARGS \"@rx ^(\\w+\\s?)+$\" \"id:20,phase:1,pass,log,t:none\"\n");
    for (int i = 0; i < 3; i++) {
        check(&f, UA, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!");
        assert_non_null(strstr(f.sig, "limits 1;"));
    }
    check(&f, UA, "word");
    assert_true(has_match(f.sig, 20));
    fixture_free(&f);
}

/* A memo shared by transactions (a worker thread's): what one transaction learnt answers the next one's
 * request, with two databases sharing it too; every verdict stays the rule-by-rule one. */
static void test_shared_memo(void **state)
{
    (void)state;
    fixture_t a, b;
    fixture_init(&a, RULES);
    fixture_init(&b, "SecRule REQUEST_HEADERS:User-Agent \"@rx (?i)firefox/12[0-9]\" \"id:30,phase:1,pass,log,t:none\"\n"
                     "SecRule ARGS \"@detectSQLi\" \"id:31,phase:1,pass,log,t:none\"\n");
    rs_memo_t *memo = rs_memo_new();
    assert_non_null(memo);
    rs_tx_t *second = rs_tx_new();
    rs_tx_use_memo(a.tx, memo);
    rs_tx_use_memo(b.tx, memo);
    rs_tx_use_memo(second, memo);

    check(&a, UA, "shirt");
    rs_cand_cache_stats_t first = stats_of(a.tx);
    assert_int_equal(first.counts.verdict_hits, 0);
    assert_true(first.counts.verdict_misses > 0);
    rs_tx_t *own = a.tx;
    a.tx = second; /* the same request on another transaction of the thread: all answered by the memo */
    check(&a, UA, "shirt");
    rs_cand_cache_stats_t again = stats_of(second);
    assert_int_equal(again.counts.verdict_misses, first.counts.verdict_misses);
    assert_true(again.counts.verdict_hits >= first.counts.verdict_misses);
    rs_memo_stats_t ms; /* the transaction counts into the shared memo, not into a cache of its own */
    rs_memo_stats(memo, &ms);
    assert_int_equal(ms.verdict_hits, again.counts.verdict_hits);
    assert_int_equal(ms.verdict_misses, again.counts.verdict_misses);
    assert_int_equal(ms.literal_hits, again.counts.literal_hits);
    assert_int_equal(ms.transform_misses, again.counts.transform_misses);
    /* the other database reads the same User-Agent under its own slots: its own verdicts, no false reuse */
    check(&b, UA, "shirt");
    assert_true(has_match(b.sig, 30));
    check(&a, UA, "1' or '1'='1");
    assert_true(has_match(a.sig, 7));
    check(&b, UA, "1' or '1'='1");
    assert_true(has_match(b.sig, 31));
    check(&a, UA, "shirt");
    assert_false(has_match(a.sig, 7));

    a.tx = own;
    rs_tx_free(second);
    fixture_free(&a);
    fixture_free(&b);
    rs_memo_free(memo);
}

/* A string holding more literals than a memo entry keeps is scanned on every request, and still finds each
 * literal: each rule's literal is its only way to match, and half of the words carry it. */
static void test_many_literals_scanned_again(void **state)
{
    (void)state;
    static const char *const words[] = {"alpha", "bravo",  "charlie", "delta", "echo", "foxtrot",  "golf",  "hotel",
                                        "india", "juliet", "kilo",    "lima",  "mike", "november", "oscar", "papa"};
    char rules[4096], arg[256] = "";
    size_t n = 0;
    for (size_t i = 0; i < 16; i++) {
        n += (size_t)snprintf(rules + n, sizeof(rules) - n, "SecRule ARGS \"@rx %s7\" \"id:%zu,phase:1,pass,log,t:none\"\n",
                              words[i], 100 + i);
        strcat(arg, words[i]);
        strcat(arg, i % 8 != 0 ? "7 " : " "); /* 14 of the 16 literals: more than an entry holds */
    }
    fixture_t f;
    fixture_init(&f, rules);
    for (int round = 0; round < 2; round++) {
        rs_cand_cache_stats_t before = stats_of(f.tx);
        check(&f, UA, arg);
        for (size_t i = 0; i < 16; i++)
            assert_int_equal(has_match(f.sig, (unsigned)(100 + i)), i % 8 != 0);
        if (round == 1) /* found in the string again: kept nowhere, so never answered from the memo */
            assert_int_equal(stats_of(f.tx).counts.literal_hits, before.counts.literal_hits);
    }
    fixture_free(&f);
}

/* Transformation outputs kept across requests: a string seen before is not transformed again, a string one
 * byte away is, and an output longer than the memo keeps is computed every time; verdicts as rule by rule. */
static void test_transform_memo(void **state)
{
    (void)state;
    fixture_t f;
    fixture_init(&f, "SecRule REQUEST_HEADERS:User-Agent \"@rx firefox/12[0-9]\" \"id:40,phase:1,pass,log,t:none,t:lowercase\"\n"
                     "SecRule ARGS \"@rx union select\" \"id:41,phase:1,pass,log,t:none,t:urlDecodeUni,t:lowercase\"\n"
                     "SecRule ARGS \"@contains 4142434445\" \"id:42,phase:1,pass,log,t:none,t:hexEncode\"\n");
    check(&f, UA, "UNION%20SELECT");
    assert_true(has_match(f.sig, 40) && has_match(f.sig, 41) && has_match(f.sig, 42) == 0);
    rs_cand_cache_stats_t first = stats_of(f.tx);
    assert_true(first.counts.transform_misses > 0);
    check(&f, UA, "UNION%20SELECT"); /* the same bytes: every transformation answered by the memo */
    assert_true(has_match(f.sig, 40) && has_match(f.sig, 41));
    rs_cand_cache_stats_t again = stats_of(f.tx);
    assert_true(again.counts.transform_hits > first.counts.transform_hits);
    assert_int_equal(again.counts.transform_misses, first.counts.transform_misses);
    check(&f, UA, "UNION%20SELEC"); /* one byte away: transformed afresh, and no match */
    assert_false(has_match(f.sig, 41));
    assert_true(stats_of(f.tx).counts.transform_misses > again.counts.transform_misses);
    /* hexEncode doubles 150 bytes: an output the memo does not keep, so asked again, and still found */
    char long_arg[151];
    for (size_t i = 0; i < 150; i++)
        long_arg[i] = "ABCDE"[i % 5];
    long_arg[150] = '\0';
    for (int round = 0; round < 2; round++) {
        rs_cand_cache_stats_t before = stats_of(f.tx);
        check(&f, UA, long_arg);
        assert_true(has_match(f.sig, 42));
        assert_true(stats_of(f.tx).counts.transform_misses > before.counts.transform_misses);
    }
    fixture_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repeat_hits),
        cmocka_unit_test(test_attack_after_benign),
        cmocka_unit_test(test_many_values_bounded),
        cmocka_unit_test(test_other_database),
        cmocka_unit_test(test_limit_not_cached),
        cmocka_unit_test(test_shared_memo),
        cmocka_unit_test(test_many_literals_scanned_again),
        cmocka_unit_test(test_transform_memo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
