/* SPDX-License-Identifier: MIT */
/* Canary decisions that need no server: the latency buckets and p99 estimate, the automatic-rollback judgement
 * (5xx ratio and p99 against stable with margins and a minimum of requests), the schedule's next step, and the
 * admin PUT body reader with its 400 messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "canary.h"

static void fill(ep_canary_window_t *w, uint64_t requests, uint64_t errors, uint64_t latency_us)
{
    memset(w, 0, sizeof(*w));
    w->requests = requests;
    w->errors_5xx = errors;
    w->hist[ep_canary_lat_bucket(latency_us)] = requests;
}

static void test_latency_buckets(void **state)
{
    (void)state;
    assert_int_equal(ep_canary_lat_bucket(0), 0);
    assert_int_equal(ep_canary_lat_bucket(1000), 0);   /* 1 ms: le 1 */
    assert_int_equal(ep_canary_lat_bucket(1001), 1);   /* just above: le 2 */
    assert_int_equal(ep_canary_lat_bucket(99000), 11); /* le 100 */
    assert_int_equal(ep_canary_lat_bucket(60000000), EP_CANARY_LAT_BUCKETS - 1);
    ep_canary_window_t w;
    fill(&w, 0, 0, 0);
    assert_true(ep_canary_p99_ms(&w) == 0);
    /* 99 fast requests and 1 slow one: p99 is still the fast bucket; a second slow one moves it */
    memset(&w, 0, sizeof(w));
    w.hist[ep_canary_lat_bucket(4000)] = 99;
    w.hist[ep_canary_lat_bucket(900000)] = 1;
    assert_true(ep_canary_p99_ms(&w) == 5);
    w.hist[ep_canary_lat_bucket(4000)] = 98;
    w.hist[ep_canary_lat_bucket(900000)] = 2;
    assert_true(ep_canary_p99_ms(&w) == 1000);
}

static void test_judge(void **state)
{
    (void)state;
    ep_canary_rollback_t rb = {.window_ms = 60000, .min_requests = 20, .error_margin = 0.05, .p99_margin_ms = 100};
    ep_canary_window_t st, ca;
    char why[300];
    /* too few canary requests: no verdict, whatever the figures */
    fill(&st, 1000, 0, 5000);
    fill(&ca, 19, 19, 5000);
    assert_int_equal(ep_canary_judge(&st, &ca, &rb, why, sizeof(why)), EP_CANARY_NO_DATA);
    assert_non_null(strstr(why, "min_requests"));
    /* errors within the margin over stable's ratio: healthy */
    fill(&st, 1000, 20, 5000); /* 2% */
    fill(&ca, 100, 6, 5000);   /* 6% < 2% + 5% */
    assert_int_equal(ep_canary_judge(&st, &ca, &rb, why, sizeof(why)), EP_CANARY_HEALTHY);
    fill(&ca, 100, 8, 5000); /* 8% > 7% */
    assert_int_equal(ep_canary_judge(&st, &ca, &rb, why, sizeof(why)), EP_CANARY_FAILING);
    assert_non_null(strstr(why, "5xx ratio 0.0800 (8/100)"));
    /* stable without traffic counts as 0% errors */
    fill(&st, 0, 0, 0);
    fill(&ca, 20, 2, 5000);
    assert_int_equal(ep_canary_judge(&st, &ca, &rb, why, sizeof(why)), EP_CANARY_FAILING);
    /* latency: p99 beyond stable's + margin fails; within passes; needs stable data */
    fill(&st, 1000, 0, 20000); /* le 20 ms */
    fill(&ca, 100, 0, 140000); /* le 150 ms: 150 > 20 + 100 */
    assert_int_equal(ep_canary_judge(&st, &ca, &rb, why, sizeof(why)), EP_CANARY_FAILING);
    assert_non_null(strstr(why, "p99"));
    fill(&ca, 100, 0, 90000); /* le 100 ms: 100 <= 120 */
    assert_int_equal(ep_canary_judge(&st, &ca, &rb, why, sizeof(why)), EP_CANARY_HEALTHY);
    fill(&st, 5, 0, 20000);
    fill(&ca, 100, 0, 900000);
    assert_int_equal(ep_canary_judge(&st, &ca, &rb, why, sizeof(why)), EP_CANARY_HEALTHY); /* no baseline */
    rb.p99_margin_ms = 0;                                                                  /* latency check off */
    fill(&st, 1000, 0, 1000);
    assert_int_equal(ep_canary_judge(&st, &ca, &rb, why, sizeof(why)), EP_CANARY_HEALTHY);
}

static void test_next_step(void **state)
{
    (void)state;
    const uint32_t steps[] = {100, 500, 2500, 5000, 10000};
    assert_int_equal(ep_canary_next_step(steps, 5, 0), 0);
    assert_int_equal(ep_canary_next_step(steps, 5, 100), 1);
    assert_int_equal(ep_canary_next_step(steps, 5, 1000), 2); /* 10% set by hand: next is 25% */
    assert_int_equal(ep_canary_next_step(steps, 5, 10000), 5);
    assert_int_equal(ep_canary_next_step(steps, 0, 0), 0);
}

static int body(const char *text, uint32_t *bp, char *reason, char *err)
{
    return ep_canary_parse_weight_body(text, strlen(text), bp, reason, 64, err, 300);
}

static void test_put_body(void **state)
{
    (void)state;
    uint32_t bp = 0;
    char reason[64], err[300];
    assert_int_equal(body("{\"weight\": 5.5, \"reason\": \"ticket 7\"}", &bp, reason, err), 0);
    assert_int_equal(bp, 550);
    assert_string_equal(reason, "ticket 7");
    assert_int_equal(body("{\"weight\":\"0.01\"}", &bp, reason, err), 0);
    assert_int_equal(bp, 1);
    assert_string_equal(reason, "");
    assert_int_equal(body(" {\"reason\":null,\"weight\":100} ", &bp, reason, err), 0);
    assert_int_equal(bp, 10000);
    struct {
        const char *in, *msg;
    } bad[] = {
        {"", "missing JSON body"},
        {"{", "invalid JSON"},
        {"{\"weight\": 5,}", "invalid JSON"},
        {"[5]", "JSON object"},
        {"{\"weight\": 100.01}", "out of range"},
        {"{\"weight\": 1e3}", "out of range"},
        {"{\"weight\": 0.001}", "out of range"},
        {"{\"weight\": \"5%\"}", "not a percentage"},
        {"{\"weight\": null}", "must be a number"},
        {"{\"reason\": \"x\"}", "missing \"weight\""},
        {"{\"weight\": 5, \"reason\": 7}", "reason must be a string"},
        {"{\"weight\": 5, \"extra\": 1}", "unknown field \"extra\""},
        {"{\"weight\": 5} x", "trailing data"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(body(bad[i].in, &bp, reason, err), -1);
        if (strstr(err, bad[i].msg) == NULL) {
            fprintf(stderr, "'%s': got '%s', want '%s'\n", bad[i].in, err, bad[i].msg);
            fail();
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_latency_buckets),
        cmocka_unit_test(test_judge),
        cmocka_unit_test(test_next_step),
        cmocka_unit_test(test_put_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
