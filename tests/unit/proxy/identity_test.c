/* SPDX-License-Identifier: MIT */
/* Client identity: CIDR parsing and matching (IPv4, IPv6, mapped), which source decides the client address
 * (peer, CloudFront-Viewer-Address incl. [v6]:port, last X-Forwarded-For hop) depending on trust, and the
 * origin-verify secret check with two secrets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "identity.h"

static ep_cidr_t cidrs[4];
static ep_identity_conf_t conf;

static int setup(void **state)
{
    assert_int_equal(ep_cidr_parse("10.0.0.0/8", 10, &cidrs[0]), 0);
    assert_int_equal(ep_cidr_parse("2600:9000::/28", 14, &cidrs[1]), 0);
    assert_int_equal(ep_cidr_parse("192.168.1.7", 11, &cidrs[2]), 0);
    conf = (ep_identity_conf_t){.trusted = cidrs, .ntrusted = 3};
    return 0;
}

static int contains(const char *ip)
{
    uint8_t a[16];
    assert_int_equal(ep_ip_parse(ip, strlen(ip), a), 0);
    return ep_cidr_contains(cidrs, 3, a);
}

static void test_cidr(void **state)
{
    assert_true(contains("10.1.2.3"));
    assert_true(contains("10.255.255.255"));
    assert_false(contains("11.0.0.1"));
    assert_true(contains("192.168.1.7"));
    assert_false(contains("192.168.1.8"));
    assert_true(contains("2600:9000:1234::1"));
    assert_true(contains("2600:900f::1"));
    assert_false(contains("2600:9010::1"));
    assert_true(contains("::ffff:10.0.0.1")); /* v4-mapped form of a trusted v4 address */
    assert_false(contains("::1"));

    ep_cidr_t c;
    static const char *const bad[] = {"10.0.0.0/33", "10.0.0.0/", "::/129", "10.0.0/8", "1.2.3.4/8x", "hello", "", NULL};
    for (const char *const *p = bad; *p != NULL; ++p)
        assert_int_equal(ep_cidr_parse(*p, strlen(*p), &c), -1);
    assert_int_equal(ep_cidr_parse("0.0.0.0/0", 9, &c), 0);
    uint8_t a[16];
    ep_ip_parse("8.8.8.8", 7, a);
    assert_true(ep_cidr_contains(&c, 1, a));
    ep_ip_parse("::1", 3, a);
    assert_false(ep_cidr_contains(&c, 1, a)); /* 0.0.0.0/0 covers IPv4 only */
}

static const char *resolve(const char *peer, const char *cf, const char *xff, char *out, uint16_t *port)
{
    return ep_identity_resolve(&conf, peer, 40000, cf, cf != NULL ? strlen(cf) : 0, xff, xff != NULL ? strlen(xff) : 0, out, 64,
                               port);
}

static void test_untrusted_peer(void **state)
{
    char out[64];
    uint16_t port;
    assert_string_equal(resolve("203.0.113.5", "198.51.100.1:443", "198.51.100.2", out, &port), "peer");
    assert_string_equal(out, "203.0.113.5");
    assert_int_equal(port, 40000);
}

static void test_cloudfront_viewer_address(void **state)
{
    char out[64];
    uint16_t port;
    assert_string_equal(resolve("10.0.0.9", "198.51.100.1:51234", "198.51.100.2", out, &port), "cloudfront");
    assert_string_equal(out, "198.51.100.1");
    assert_int_equal(port, 51234);
    assert_string_equal(resolve("2600:9000::42", "[2001:db8::7]:443", NULL, out, &port), "cloudfront");
    assert_string_equal(out, "2001:db8::7");
    assert_int_equal(port, 443);
    /* normalised form */
    assert_string_equal(resolve("10.0.0.9", "[2001:DB8:0::7]:1", NULL, out, &port), "cloudfront");
    assert_string_equal(out, "2001:db8::7");
    /* malformed values fall through to XFF, then to the peer */
    static const char *const bad[] = {"198.51.100.1", "[2001:db8::7]", "2001:db8::7:443", "1.2.3.4:99999", "x:1", "[::1]x", NULL};
    for (const char *const *p = bad; *p != NULL; ++p) {
        assert_string_equal(resolve("10.0.0.9", *p, "198.51.100.2", out, &port), "xff");
        assert_string_equal(out, "198.51.100.2");
        assert_string_equal(resolve("10.0.0.9", *p, NULL, out, &port), "peer");
        assert_string_equal(out, "10.0.0.9");
    }
}

static void test_xff_last_hop(void **state)
{
    char out[64];
    uint16_t port;
    assert_string_equal(resolve("10.0.0.9", NULL, "1.1.1.1, 2.2.2.2,3.3.3.3", out, &port), "xff");
    assert_string_equal(out, "3.3.3.3");
    assert_int_equal(port, 0);
    assert_string_equal(resolve("10.0.0.9", NULL, " 2001:db8::1 ", out, &port), "xff");
    assert_string_equal(out, "2001:db8::1");
    assert_string_equal(resolve("10.0.0.9", NULL, "1.1.1.1, [2001:db8::2]:80", out, &port), "xff");
    assert_string_equal(out, "2001:db8::2");
    assert_string_equal(resolve("10.0.0.9", NULL, "5.5.5.5:8080", out, &port), "xff");
    assert_string_equal(out, "5.5.5.5");
    /* the last hop is garbage: the peer, never an earlier (client-controlled) hop */
    assert_string_equal(resolve("10.0.0.9", NULL, "1.1.1.1, unknown", out, &port), "peer");
    assert_string_equal(out, "10.0.0.9");
    assert_string_equal(resolve("10.0.0.9", NULL, "1.1.1.1,", out, &port), "peer");
    assert_string_equal(resolve("10.0.0.9", NULL, "", out, &port), "peer");
}

static void test_no_trusted_proxies(void **state)
{
    char out[64];
    uint16_t port;
    ep_identity_conf_t none = {0};
    assert_string_equal(ep_identity_resolve(&none, "10.0.0.9", 1, "1.2.3.4:5", 9, "6.6.6.6", 7, out, sizeof(out), &port), "peer");
    assert_string_equal(out, "10.0.0.9");
    assert_string_equal(ep_identity_resolve(NULL, "::1", 1, NULL, 0, "6.6.6.6", 7, out, sizeof(out), &port), "peer");
    assert_string_equal(out, "::1");
}

static void test_origin_verify(void **state)
{
    ep_identity_conf_t c = {.nsecrets = 2};
    c.secrets[0] = "old-secret-0123456789";
    c.secrets[1] = "new-secret-0123456789";
    assert_true(ep_identity_verify_secret(&c, "old-secret-0123456789", 21));
    assert_true(ep_identity_verify_secret(&c, "new-secret-0123456789", 21));
    assert_false(ep_identity_verify_secret(&c, "new-secret-012345678", 20));
    assert_false(ep_identity_verify_secret(&c, "new-secret-01234567890", 22));
    assert_false(ep_identity_verify_secret(&c, "", 0));
    assert_false(ep_identity_verify_secret(&c, "xew-secret-0123456789", 21));
    c.nsecrets = 1;
    assert_false(ep_identity_verify_secret(&c, "new-secret-0123456789", 21));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_untrusted_peer),
        cmocka_unit_test(test_cloudfront_viewer_address),
        cmocka_unit_test(test_xff_last_hop),
        cmocka_unit_test(test_no_trusted_proxies),
        cmocka_unit_test(test_origin_verify),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
