/* SPDX-License-Identifier: MIT */
/* Config parsing: a complete good file read into the right values, and bad files reported with their exact
 * FILE:LINE:COL: message (every problem of a file at once). Goes through ep_generation_build_text, the same
 * path as `edgeproxy -t` and reloads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "generation.h"
#include "upstream.h"

static ep_generation_t *build(const char *text, rs_errors_t *errs)
{
    return ep_generation_build_text("test.yaml", text, strlen(text), NULL, 1, errs);
}

/* Builds `text`, expects failure, and checks that the formatted errors are exactly `expected` (joined by \n). */
static void expect_errors(const char *text, const char *expected)
{
    rs_errors_t errs = {0};
    ep_generation_t *gen = build(text, &errs);
    assert_null(gen);
    char all[4096] = "";
    for (size_t i = 0; i < errs.count; ++i) {
        char line[512];
        rs_error_format(&errs.items[i], line, sizeof(line));
        strncat(all, line, sizeof(all) - strlen(all) - 2);
        if (i + 1 != errs.count)
            strcat(all, "\n");
    }
    assert_string_equal(all, expected);
    rs_errors_free(&errs);
}

static void test_good_config(void **state)
{
    const char *text = "listen:\n"
                       "  - address: 127.0.0.1:8081\n"
                       "  - \"[::1]:8082\"\n"
                       "threads: 3\n"
                       "limits:\n"
                       "  max_header_size: 8k\n"
                       "  max_header_count: 50\n"
                       "  max_body_size: 2m\n"
                       "timeouts:\n"
                       "  client_header: 5s\n"
                       "  upstream_first_byte: 1500ms\n"
                       "  upstream_idle: 2m\n"
                       "upstreams:\n"
                       "  web:\n"
                       "    servers: [127.0.0.1:9001, 127.0.0.1:9002]\n"
                       "    max_connections: 64\n"
                       "    health: {fail_threshold: 5, skip: 20s}\n"
                       "    keepalive_timeout: 3s\n"
                       "  api:\n"
                       "    servers: [\"[::1]:9003\"]\n"
                       "routes:\n"
                       "  - host: api.example.com\n"
                       "    path_prefix: /v1\n"
                       "    upstream: api\n"
                       "    strip_prefix: yes\n"
                       "default_upstream: web\n"
                       "request_id: {header: X-Trace-Id, trust_incoming: true}\n"
                       "shutdown: {deadline: 45s}\n"
                       "admin:\n"
                       "  listen: 127.0.0.1:9911\n"
                       "  tokens:\n"
                       "    - {name: ops, token: 0123456789abcdef}\n";
    rs_errors_t errs = {0};
    ep_generation_t *gen = build(text, &errs);
    if (gen == NULL)
        rs_errors_print(&errs, stderr);
    assert_non_null(gen);
    const ep_config_t *c = gen->conf;
    assert_int_equal(c->nlisten, 2);
    assert_string_equal(c->listen[0].host, "127.0.0.1");
    assert_int_equal(c->listen[0].port, 8081);
    assert_string_equal(c->listen[1].host, "::1");
    assert_int_equal(c->listen[1].port, 8082);
    assert_int_equal(c->threads, 3);
    assert_int_equal(c->limits.max_header_size, 8192);
    assert_int_equal(c->limits.max_header_count, 50);
    assert_int_equal(c->limits.max_body_size, 2 * 1024 * 1024);
    assert_int_equal(c->timeouts.client_header_ms, 5000);
    assert_int_equal(c->timeouts.client_idle_ms, 60000); /* default */
    assert_int_equal(c->timeouts.upstream_first_byte_ms, 1500);
    assert_int_equal(c->timeouts.upstream_idle_ms, 120000);
    assert_int_equal(c->nupstreams, 2);
    assert_string_equal(c->upstreams[0].name, "web");
    assert_int_equal(c->upstreams[0].nservers, 2);
    assert_int_equal(c->upstreams[0].max_conns, 64);
    assert_int_equal(c->upstreams[0].fail_threshold, 5);
    assert_int_equal(c->upstreams[0].fail_skip_ms, 20000);
    assert_int_equal(c->upstreams[0].keepalive_ms, 3000);
    assert_non_null(c->upstreams[0].rt);
    assert_int_equal(c->upstreams[0].rt->nservers, 2);
    assert_string_equal(c->upstreams[0].rt->servers[1]->hostport, "127.0.0.1:9002");
    assert_ptr_equal(c->default_upstream, c->upstreams[0].rt);
    assert_int_equal(c->nroutes, 1);
    assert_ptr_equal(c->routes[0].upstream, c->upstreams[1].rt);
    assert_true(c->routes[0].strip_prefix);
    assert_string_equal(c->request_id.header, "x-trace-id");
    assert_true(c->request_id.trust_incoming);
    assert_int_equal(c->shutdown_deadline_ms, 45000);
    assert_int_equal(c->admin.port, 9911);
    assert_int_equal(c->admin.ntokens, 1);
    assert_string_equal(c->admin.tokens[0].name, "ops");

    assert_ptr_equal(ep_config_upstream(c, "api"), c->upstreams[1].rt);
    assert_null(ep_config_upstream(c, "nope"));
    assert_null(ep_generation_building()); /* only set while modules read their sections */

    /* route lookup */
    assert_ptr_equal(ep_config_route(c, "API.example.com", 15, "/v1/x", 5), &c->routes[0]);
    assert_null(ep_config_route(c, "api.example.com", 15, "/v2", 3));
    assert_null(ep_config_route(c, "www.example.com", 15, "/v1", 3));

    /* the same upstream definition in a later generation is the same long-lived object */
    ep_generation_t *gen2 = build(text, &errs);
    assert_non_null(gen2);
    assert_ptr_equal(gen2->conf->upstreams[0].rt, c->upstreams[0].rt);
    ep_generation_release(gen2);
    ep_generation_release(gen);
    rs_errors_free(&errs);
}

static void test_defaults(void **state)
{
    rs_errors_t errs = {0};
    ep_generation_t *gen = build("", &errs);
    assert_non_null(gen);
    const ep_config_t *c = gen->conf;
    assert_int_equal(c->nlisten, 1);
    assert_int_equal(c->listen[0].port, 8080);
    assert_true(c->threads >= 1);
    assert_int_equal(c->limits.max_body_size, 1024 * 1024);
    assert_int_equal(c->limits.max_header_size, 16384);
    assert_int_equal(c->timeouts.upstream_first_byte_ms, 30000);
    assert_string_equal(c->request_id.header, "x-request-id");
    assert_false(c->request_id.trust_incoming);
    assert_int_equal(c->shutdown_deadline_ms, 30000);
    assert_int_equal(c->admin.port, 9901);
    assert_null(c->default_upstream);
    ep_generation_release(gen);
}

static void test_overrides(void **state)
{
    rs_errors_t errs = {0};
    ep_overrides_t ov = {.listen = "127.0.0.2:7000", .admin_listen = "127.0.0.1:7001", .state_dir = "/var/lib/x"};
    const char *text = "listen: [127.0.0.1:1, 127.0.0.1:2]\n";
    ep_generation_t *gen = ep_generation_build_text("o.yaml", text, strlen(text), &ov, 1, &errs);
    assert_non_null(gen);
    assert_string_equal(gen->conf->listen[0].host, "127.0.0.2");
    assert_int_equal(gen->conf->listen[0].port, 7000);
    assert_int_equal(gen->conf->listen[1].port, 2);
    assert_int_equal(gen->conf->admin.port, 7001);
    assert_string_equal(gen->conf->state_dir, "/var/lib/x");
    ep_generation_release(gen);
}

static void test_unknown_keys(void **state)
{
    expect_errors("threads: 2\nbogus: 1\nlimits:\n  max_body: 1k\n", "test.yaml:2:1: unknown top-level key 'bogus'\n"
                                                                     "test.yaml:4:3: unknown key 'max_body' in 'limits'");
}

static void test_wrong_types_and_ranges(void **state)
{
    expect_errors("threads: many\n", "test.yaml:1:10: 'threads' must be an integer");
    expect_errors("threads: 1000\n", "test.yaml:1:10: 'threads' must be between 0 and 256");
    expect_errors("threads: \"2\"\n", "test.yaml:1:10: 'threads' must be an integer");
    expect_errors("limits:\n  max_body_size: 12q\n", "test.yaml:2:18: 'max_body_size' must be a size (e.g. 512, 16k, 8m, 1g)");
    expect_errors("timeouts:\n  client_header: 10 s\n",
                  "test.yaml:2:18: 'client_header' must be a duration (e.g. 250ms, 10s, 5m, 1h)");
    expect_errors("timeouts:\n  client_header: 5ms\n", "test.yaml:2:18: 'client_header' must be between 100ms and 3600000ms");
    expect_errors("request_id:\n  trust_incoming: maybe\n", "test.yaml:2:19: 'trust_incoming' must be a boolean (true or false)");
    expect_errors("limits: 5\n", "test.yaml:1:9: 'limits' must be a mapping");
    expect_errors("[1, 2]\n", "test.yaml:1:1: the config must be a mapping of sections");
}

static void test_upstream_and_route_errors(void **state)
{
    expect_errors("upstreams:\n"
                  "  web:\n"
                  "    servers: [127.0.0.1:80, nohost, 10.0.0.1:99999]\n"
                  "routes:\n"
                  "  - upstream: api\n"
                  "  - path_prefix: x\n"
                  "    upstream: web\n"
                  "default_upstream: nope\n",
                  "test.yaml:3:29: invalid server 'nohost' (expected host:port)\n"
                  "test.yaml:3:37: invalid server '10.0.0.1:99999' (expected host:port)\n"
                  "test.yaml:5:15: unknown upstream 'api'\n"
                  "test.yaml:6:18: 'path_prefix' must start with '/'\n"
                  "test.yaml:7:15: unknown upstream 'web'\n"
                  "test.yaml:8:19: unknown upstream 'nope'");
    expect_errors("upstreams:\n  web:\n    max_connections: 2\n", "test.yaml:3:5: upstream 'web' needs 'servers'");
    expect_errors("upstreams:\n  web:\n    servers: []\n", "test.yaml:3:14: upstream 'web' has no servers");
    expect_errors("upstreams:\n  web:\n    servers: [127.0.0.1:1]\n    health: {fail_threshold: 0}\n",
                  "test.yaml:4:30: 'fail_threshold' must be between 1 and 1000");
}

static void test_listen_and_admin_errors(void **state)
{
    expect_errors("listen:\n  - address: localhost\n", "test.yaml:2:14: invalid listen address 'localhost' (expected host:port)");
    expect_errors("listen:\n  - port: 80\n", "test.yaml:2:5: unknown key 'port' in 'listen'\n"
                                             "test.yaml:2:5: listener needs an 'address' (host:port)");
    expect_errors("admin:\n  tokens:\n    - {name: a, token: short}\n",
                  "test.yaml:3:24: admin token 'a' is too short (at least 16 characters)");
    expect_errors("admin:\n  listen: nowhere\n", "test.yaml:2:11: invalid admin listen address 'nowhere'");
}

static void test_yaml_errors(void **state)
{
    expect_errors("threads: 2\nthreads: 3\n", "test.yaml:2:1: duplicate key 'threads'");
    expect_errors("a: &x 1\nb: *x\n", "test.yaml:1:4: YAML anchors are not supported");
    expect_errors("threads: [1\n", "test.yaml:2:1: while parsing a flow sequence did not find expected ',' or ']'");
    expect_errors("---\na: 1\n---\nb: 2\n", "test.yaml:3:1: only one YAML document is allowed");
}

static void test_split_hostport(void **state)
{
    char host[64];
    uint16_t port;
    assert_int_equal(ep_split_hostport("example.com:443", host, sizeof(host), &port), 0);
    assert_string_equal(host, "example.com");
    assert_int_equal(port, 443);
    assert_int_equal(ep_split_hostport("[2001:db8::1]:8080", host, sizeof(host), &port), 0);
    assert_string_equal(host, "2001:db8::1");
    assert_int_equal(port, 8080);
    assert_int_equal(ep_split_hostport("2001:db8::1:80", host, sizeof(host), &port), -1);
    assert_int_equal(ep_split_hostport("host:0", host, sizeof(host), &port), -1);
    assert_int_equal(ep_split_hostport("host:65536", host, sizeof(host), &port), -1);
    assert_int_equal(ep_split_hostport(":80", host, sizeof(host), &port), -1);
    assert_int_equal(ep_split_hostport("host:", host, sizeof(host), &port), -1);
    assert_int_equal(ep_split_hostport("ho st:80", host, sizeof(host), &port), -1);
}

static void test_typed_getters(void **state)
{
    rs_errors_t errs = {0};
    const char *text = "d1: 250ms\nd2: 10\nd3: 1h\ns1: 16k\ns2: 1g\nb: off\nf: 0.25\ne: two\n";
    ep_doc_t *doc = ep_doc_parse("g.yaml", text, strlen(text), &errs);
    assert_non_null(doc);
    ep_conf_ctx_t c = {.errs = &errs, .base_dir = "/etc/ep"};
    uint64_t v;
    assert_int_equal(ep_conf_duration_ms(&c, doc->root, "d1", 0, 0, UINT64_MAX, &v), 0);
    assert_int_equal(v, 250);
    assert_int_equal(ep_conf_duration_ms(&c, doc->root, "d2", 0, 0, UINT64_MAX, &v), 0);
    assert_int_equal(v, 10000);
    assert_int_equal(ep_conf_duration_ms(&c, doc->root, "d3", 0, 0, UINT64_MAX, &v), 0);
    assert_int_equal(v, 3600000);
    assert_int_equal(ep_conf_duration_ms(&c, doc->root, "absent", 77, 0, UINT64_MAX, &v), 0);
    assert_int_equal(v, 77);
    assert_int_equal(ep_conf_size(&c, doc->root, "s1", 0, 0, UINT64_MAX, &v), 0);
    assert_int_equal(v, 16384);
    assert_int_equal(ep_conf_size(&c, doc->root, "s2", 0, 0, UINT64_MAX, &v), 0);
    assert_int_equal(v, 1073741824);
    int b;
    assert_int_equal(ep_conf_bool(&c, doc->root, "b", 1, &b), 0);
    assert_int_equal(b, 0);
    double d;
    assert_int_equal(ep_conf_double(&c, doc->root, "f", 0, 0, 1, &d), 0);
    assert_true(d > 0.24 && d < 0.26);
    static const char *const choices[] = {"one", "two", NULL};
    int e;
    assert_int_equal(ep_conf_enum(&c, doc->root, "e", choices, 0, &e), 0);
    assert_int_equal(e, 1);
    assert_int_equal(ep_conf_enum(&c, doc->root, "b", choices, 0, &e), -1);
    char *path;
    assert_int_equal(ep_conf_path(&c, doc->root, "e", NULL, &path), 0);
    assert_string_equal(path, "/etc/ep/two");
    free(path);
    assert_int_equal(errs.count, 1);
    char line[256];
    rs_error_format(&errs.items[0], line, sizeof(line));
    assert_string_equal(line, "g.yaml:6:4: 'b' must be one of: one, two");
    ep_doc_free(doc);
    rs_errors_free(&errs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_config),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_wrong_types_and_ranges),
        cmocka_unit_test(test_upstream_and_route_errors),
        cmocka_unit_test(test_listen_and_admin_errors),
        cmocka_unit_test(test_yaml_errors),
        cmocka_unit_test(test_split_hostport),
        cmocka_unit_test(test_typed_getters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
