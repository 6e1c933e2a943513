/* SPDX-License-Identifier: MIT */
/* VAR:/regex/ selectors that are plain literals (TX:/^HEADER_NAME_/) are matched without PCRE (vars.c): the
 * literal fast path must select exactly the members the caseless regex selects, anchored or not, and
 * regexes with any syntax must still go to PCRE. Checked through whole rule sets, with and without the
 * prefilter (the compiled and the reference evaluator must agree too). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rs.h"
#include "rules_compile.h"

/* Runs phase 1 of `rules` on a small GET; returns the inbound anomaly score. */
static int score_of(const char *rules, int prefilter)
{
    rs_db_t *db = test_compile_rules(rules, prefilter);
    assert_non_null(db);
    static const char raw[] = "GET /a?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: test\r\n\r\n";
    rs_request_t req;
    rs_buf_t storage = {0};
    char err[128];
    assert_int_equal(rs_request_parse_raw(rs_str(raw, sizeof(raw) - 1), &req, &storage, err, sizeof(err)), 0);
    rs_tx_t *tx = rs_tx_new();
    rs_verdict_t v;
    rs_tx_begin(tx, db, &req);
    rs_tx_run_phase(tx, 1, &v);
    int score = v.inbound_score;
    rs_tx_end(tx);
    rs_tx_free(tx);
    rs_request_free_parsed(&req);
    rs_buf_free(&storage);
    rs_db_release(db);
    return score;
}

/* Sets TX members, then raises the score when the selector picks a member whose value starts with '/'. */
static int picks(const char *selector)
{
    char rules[1024];
    snprintf(rules, sizeof(rules),
             "SecRuleEngine On\n"
             "SecAction \"id:1,phase:1,pass,nolog,setvar:tx.header_name_foo=/foo/,setvar:tx.HEADER_NAME_BAR=/bar/,"
             "setvar:tx.xheader_name_=/x/,setvar:tx.other=/o/\"\n"
             "SecRule TX:%s \"@rx ^/\" \"id:2,phase:1,pass,nolog,multiMatch,setvar:tx.anomaly_score=+1\"\n",
             selector);
    int with = score_of(rules, 1), without = score_of(rules, 0);
    assert_int_equal(with, without);
    return with;
}

static void test_literal_selectors(void **state)
{
    (void)state;
    /* whether the rule matched at all (how often its actions ran is not the point here) */
    assert_true(picks("/^HEADER_NAME_/") > 0);
    assert_true(picks("/^header_name_/") > 0); /* caseless */
    assert_int_equal(picks("/^NOPE_/"), 0);
    assert_true(picks("/NAME_B/") > 0); /* unanchored: anywhere */
    assert_true(picks("/^xheader/") > 0);
    assert_true(picks("/^HEADER.NAME_/") > 0); /* syntax: through PCRE */
    assert_true(picks("/^HEADER_NAME_F[o]+$/") > 0);
    assert_int_equal(picks("/^OTHERS/"), 0);
}

/* Counting members: &TX:/regex/ gives how many members the selector picks. */
static int count(const char *selector)
{
    char rules[1024];
    snprintf(rules, sizeof(rules),
             "SecRuleEngine On\n"
             "SecAction \"id:1,phase:1,pass,nolog,setvar:tx.header_name_foo=/foo/,setvar:tx.HEADER_NAME_BAR=/bar/,"
             "setvar:tx.xheader_name_=/x/,setvar:tx.other=/o/\"\n"
             "SecRule &TX:%s \"@ge 0\" \"id:2,phase:1,pass,nolog,capture,setvar:tx.anomaly_score=%%{MATCHED_VAR}\"\n",
             selector);
    int with = score_of(rules, 1), without = score_of(rules, 0);
    assert_int_equal(with, without);
    return with;
}

static void test_literal_selector_counts(void **state)
{
    (void)state;
    assert_int_equal(count("/^HEADER_NAME_/"), 2);
    assert_int_equal(count("/^header_name_/"), 2);
    assert_int_equal(count("/HEADER_NAME_/"), 3); /* xheader_name_ too */
    assert_int_equal(count("/_name_b/"), 1);
    assert_int_equal(count("/^other/"), 1);
    assert_int_equal(count("/^ot-her/"), 0);
    assert_int_equal(count("/^HEADER_NAME_(?:FOO|BAR)/"), 2); /* PCRE */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal_selectors),
        cmocka_unit_test(test_literal_selector_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
