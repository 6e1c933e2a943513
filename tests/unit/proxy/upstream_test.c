/* SPDX-License-Identifier: MIT */
/* Upstream selection: round robin, the in-flight cap, passive health (N consecutive connect failures -> skipped
 * for T ms, back afterwards, reset by a success), retry exclusion, and the registry's get-or-create identity. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "upstream.h"

/* Servers are shared by host:port across upstreams (and so is their health): each test gets its own ports,
 * `base` selects them, so tests do not see each other's failures. */
static ep_upstream_t *make_at(const char *name, unsigned base, uint32_t max_conns, uint32_t threshold, uint64_t skip_ms)
{
    char a[3][32];
    const char *servers[3];
    for (int i = 0; i < 3; ++i) {
        snprintf(a[i], sizeof(a[i]), "127.0.0.1:%u", base + (unsigned)i);
        servers[i] = a[i];
    }
    ep_upstream_params_t p = {.max_conns = max_conns, .fail_threshold = threshold, .fail_skip_ms = skip_ms, .keepalive_ms = 2000};
    char err[128];
    ep_upstream_t *up = ep_upstream_get(name, servers, 3, &p, err, sizeof(err));
    assert_non_null(up);
    return up;
}

static unsigned next_base = 7000;

static ep_upstream_t *make(const char *name, uint32_t max_conns, uint32_t threshold, uint64_t skip_ms)
{
    next_base += 10;
    return make_at(name, next_base, max_conns, threshold, skip_ms);
}

static void test_round_robin(void **state)
{
    ep_upstream_t *up = make("rr", 0, 3, 1000);
    int hits[3] = {0};
    for (int i = 0; i < 300; ++i) {
        ep_server_t *s = ep_upstream_pick(up, NULL, 1, NULL);
        assert_non_null(s);
        for (int k = 0; k < 3; ++k)
            hits[k] += s == up->servers[k];
    }
    assert_int_equal(hits[0], 100);
    assert_int_equal(hits[1], 100);
    assert_int_equal(hits[2], 100);
    /* consecutive picks never repeat a server while all are healthy */
    ep_server_t *a = ep_upstream_pick(up, NULL, 1, NULL), *b = ep_upstream_pick(up, NULL, 1, NULL);
    assert_ptr_not_equal(a, b);
}

static void test_health_skip_and_recover(void **state)
{
    ep_upstream_t *up = make("health", 0, 2, 5000);
    ep_server_t *bad = up->servers[1];
    uint64_t now = 1000000;
    ep_server_report(up, bad, 1, now);
    /* one failure is below the threshold: still chosen */
    int seen = 0;
    for (int i = 0; i < 3; ++i)
        seen += ep_upstream_pick(up, NULL, now, NULL) == bad;
    assert_int_equal(seen, 1);
    ep_server_report(up, bad, 1, now);
    for (int i = 0; i < 30; ++i)
        assert_ptr_not_equal(ep_upstream_pick(up, NULL, now + 4999, NULL), bad);
    /* after the skip period it is tried again */
    seen = 0;
    for (int i = 0; i < 3; ++i)
        seen += ep_upstream_pick(up, NULL, now + 5000, NULL) == bad;
    assert_int_equal(seen, 1);
    /* still failing: down again at the first failure */
    ep_server_report(up, bad, 1, now + 5000);
    for (int i = 0; i < 30; ++i)
        assert_ptr_not_equal(ep_upstream_pick(up, NULL, now + 5001, NULL), bad);
    /* recovered: a success resets the count, so one failure no longer marks it down */
    ep_server_report(up, bad, 0, now + 10001);
    ep_server_report(up, bad, 1, now + 10002);
    seen = 0;
    for (int i = 0; i < 3; ++i)
        seen += ep_upstream_pick(up, NULL, now + 10003, NULL) == bad;
    assert_int_equal(seen, 1);
}

static void test_all_down(void **state)
{
    ep_upstream_t *up = make("alldown", 0, 1, 1000);
    for (int k = 0; k < 3; ++k)
        ep_server_report(up, up->servers[k], 1, 50);
    int busy = -1;
    assert_null(ep_upstream_pick(up, NULL, 51, &busy));
    assert_int_equal(busy, 0);
    assert_non_null(ep_upstream_pick(up, NULL, 1050, &busy));
}

static void test_inflight_cap(void **state)
{
    ep_upstream_t *up = make("cap", 2, 3, 1000);
    for (int k = 0; k < 3; ++k) {
        ep_server_acquire(up->servers[k]);
        ep_server_acquire(up->servers[k]);
    }
    int busy = 0;
    assert_null(ep_upstream_pick(up, NULL, 1, &busy));
    assert_int_equal(busy, 1);
    ep_server_release(up->servers[2]);
    for (int i = 0; i < 5; ++i)
        assert_ptr_equal(ep_upstream_pick(up, NULL, 1, &busy), up->servers[2]);
    for (int k = 0; k < 3; ++k) {
        ep_server_release(up->servers[k]);
        if (k != 2)
            ep_server_release(up->servers[k]);
    }
}

static void test_exclude_for_retry(void **state)
{
    ep_upstream_t *up = make("retry", 0, 3, 1000);
    for (int i = 0; i < 10; ++i)
        assert_ptr_not_equal(ep_upstream_pick(up, up->servers[0], 1, NULL), up->servers[0]);
    static const char *const one[] = {"127.0.0.1:7001"};
    ep_upstream_params_t p = {.fail_threshold = 1};
    char err[128];
    ep_upstream_t *single = ep_upstream_get("single", one, 1, &p, err, sizeof(err));
    assert_null(ep_upstream_pick(single, single->servers[0], 1, NULL));
}

static void test_registry_identity(void **state)
{
    ep_upstream_t *a = make_at("same", 8000, 0, 3, 1000), *b = make_at("same", 8000, 0, 3, 1000),
                  *c = make_at("same", 8000, 0, 4, 1000);
    assert_ptr_equal(a, b);
    assert_ptr_not_equal(a, c);
    /* servers (and their pools and health) are shared by host:port across upstreams */
    assert_ptr_equal(a->servers[0], c->servers[0]);
    static const char *const bad[] = {"nope"};
    ep_upstream_params_t p = {0};
    char err[128];
    assert_null(ep_upstream_get("bad", bad, 1, &p, err, sizeof(err)));
    assert_string_equal(err, "invalid server 'nope' (expected host:port)");
    assert_null(ep_upstream_get("empty", bad, 0, &p, err, sizeof(err)));
}

static void test_runtime_creation_links_pool_timer(void **state)
{
    /* before the registry starts, pools wait for their idle timer; after it, creation links it at once */
    ep_upstream_t *early = make("early", 0, 3, 1000);
    assert_null(early->servers[0]->pool._interval_cb.loop);
    assert_int_equal(ep_upstream_registry_start(), 0);
    assert_non_null(early->servers[0]->pool._interval_cb.loop);
    ep_upstream_t *late = make("late", 0, 3, 1000);
    assert_non_null(late->servers[0]->pool._interval_cb.loop);
    assert_int_equal(late->servers[0]->pool.timeout, 2000);
    assert_int_equal(ep_upstream_registry_start(), 0); /* idempotent */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_robin),
        cmocka_unit_test(test_health_skip_and_recover),
        cmocka_unit_test(test_all_down),
        cmocka_unit_test(test_inflight_cap),
        cmocka_unit_test(test_exclude_for_retry),
        cmocka_unit_test(test_registry_identity),
        cmocka_unit_test(test_runtime_creation_links_pool_timer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
