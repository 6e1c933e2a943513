/* SPDX-License-Identifier: MIT */
/* JWT tenant source: keys are generated in the test with OpenSSL, published as a JWKS, and tokens signed
 * with them. Good RS256 and ES256 tokens verify; expired, not-yet-valid, wrong-key, wrong-alg, alg none,
 * HMAC-with-the-public-key, tampered, wrong iss/aud tokens are refused; the cache answers repeats and
 * never serves an expired token. */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "jwt.h"
#include "util/util.h"

#define NOW 1800000000LL

static EVP_PKEY *rsa_key, *rsa_other, *ec_key;
static char *jwks_text;

static void b64url(rs_buf_t *out, const unsigned char *p, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        rs_buf_putc(out, tbl[(v >> 18) & 63]);
        rs_buf_putc(out, tbl[(v >> 12) & 63]);
        if (i + 1 < n)
            rs_buf_putc(out, tbl[(v >> 6) & 63]);
        if (i + 2 < n)
            rs_buf_putc(out, tbl[v & 63]);
    }
}

static void b64url_str(rs_buf_t *out, const char *s)
{
    b64url(out, (const unsigned char *)s, strlen(s));
}

static void b64url_bn(rs_buf_t *out, const BIGNUM *bn, int pad_to)
{
    unsigned char buf[600];
    int n = pad_to > 0 ? BN_bn2binpad(bn, buf, pad_to) : BN_bn2bin(bn, buf);
    b64url(out, buf, (size_t)n);
}

static void jwk_rsa(rs_buf_t *out, EVP_PKEY *k, const char *kid)
{
    BIGNUM *n = NULL, *e = NULL;
    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n);
    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e);
    rs_buf_printf(out, "{\"kty\":\"RSA\",\"kid\":\"%s\",\"use\":\"sig\",\"n\":\"", kid);
    b64url_bn(out, n, 0);
    rs_buf_printf(out, "\",\"e\":\"");
    b64url_bn(out, e, 0);
    rs_buf_printf(out, "\"}");
    BN_free(n);
    BN_free(e);
}

static void jwk_ec(rs_buf_t *out, EVP_PKEY *k, const char *kid)
{
    BIGNUM *x = NULL, *y = NULL;
    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &x);
    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &y);
    rs_buf_printf(out, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"%s\",\"x\":\"", kid);
    b64url_bn(out, x, 32);
    rs_buf_printf(out, "\",\"y\":\"");
    b64url_bn(out, y, 32);
    rs_buf_printf(out, "\"}");
    BN_free(x);
    BN_free(y);
}

/* header.payload signed with key (RS256 or ES256 by key type); returns a malloc'ed token */
static char *sign_token(EVP_PKEY *key, const char *header, const char *payload)
{
    rs_buf_t t = {0};
    b64url_str(&t, header);
    rs_buf_putc(&t, '.');
    b64url_str(&t, payload);
    size_t signed_len = t.len;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char sig[600];
    size_t siglen = sizeof(sig);
    assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_equal(EVP_DigestSign(md, sig, &siglen, (const unsigned char *)t.base, signed_len), 1);
    EVP_MD_CTX_free(md);
    rs_buf_putc(&t, '.');
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
        const unsigned char *p = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)siglen);
        unsigned char raw[64];
        BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32);
        BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32);
        ECDSA_SIG_free(es);
        b64url(&t, raw, 64);
    } else {
        b64url(&t, sig, siglen);
    }
    return t.base;
}

static char *claims(long long exp, long long nbf, const char *iss, const char *aud_json, const char *tenant)
{
    rs_buf_t b = {0};
    rs_buf_printf(&b, "{\"sub\":\"u1\"");
    if (exp != 0)
        rs_buf_printf(&b, ",\"exp\":%lld", exp);
    if (nbf != 0)
        rs_buf_printf(&b, ",\"nbf\":%lld", nbf);
    if (iss != NULL)
        rs_buf_printf(&b, ",\"iss\":\"%s\"", iss);
    if (aud_json != NULL)
        rs_buf_printf(&b, ",\"aud\":%s", aud_json);
    if (tenant != NULL)
        rs_buf_printf(&b, ",\"tenant\":\"%s\"", tenant);
    rs_buf_putc(&b, '}');
    return b.base;
}

static const ep_jwt_policy_t policy = {"https://id.example.com", "edgeproxy", "tenant", 30};

static ep_jwt_status_t verify(const ep_jwks_t *keys, const char *token, char *out)
{
    int64_t exp;
    return ep_jwt_verify(keys, &policy, token, strlen(token), NOW, out, 64, &exp);
}

static int setup(void **state)
{
    (void)state;
    rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    rsa_other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    ec_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(rsa_key);
    assert_non_null(ec_key);
    rs_buf_t j = {0};
    rs_buf_printf(&j, "{\"keys\":[");
    jwk_rsa(&j, rsa_key, "rsa1");
    rs_buf_putc(&j, ',');
    jwk_ec(&j, ec_key, "ec1");
    rs_buf_printf(&j, ",{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}"); /* HMAC keys are never used */
    jwks_text = j.base;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(rsa_key);
    EVP_PKEY_free(rsa_other);
    EVP_PKEY_free(ec_key);
    free(jwks_text);
    return 0;
}

static ep_jwks_t *load_keys(void)
{
    char err[256];
    ep_jwks_t *k = ep_jwks_parse(jwks_text, strlen(jwks_text), err, sizeof(err));
    if (k == NULL)
        fprintf(stderr, "%s\n", err);
    assert_non_null(k);
    assert_int_equal(ep_jwks_count(k), 2);
    return k;
}

static void test_good_tokens(void **state)
{
    (void)state;
    ep_jwks_t *keys = load_keys();
    char out[64];
    char *c = claims(NOW + 600, NOW - 10, "https://id.example.com", "\"edgeproxy\"", "acme");
    char *t = sign_token(rsa_key, "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"rsa1\"}", c);
    assert_int_equal(verify(keys, t, out), EP_JWT_OK);
    assert_string_equal(out, "acme");
    free(t);
    /* no kid: every key of the right type is tried */
    t = sign_token(rsa_key, "{\"alg\":\"RS256\"}", c);
    assert_int_equal(verify(keys, t, out), EP_JWT_OK);
    free(t);
    t = sign_token(ec_key, "{\"alg\":\"ES256\",\"kid\":\"ec1\"}", c);
    assert_int_equal(verify(keys, t, out), EP_JWT_OK);
    assert_string_equal(out, "acme");
    free(t);
    free(c);
    /* aud as an array containing ours */
    c = claims(NOW + 600, 0, "https://id.example.com", "[\"other\",\"edgeproxy\"]", "globex");
    t = sign_token(ec_key, "{\"alg\":\"ES256\"}", c);
    assert_int_equal(verify(keys, t, out), EP_JWT_OK);
    assert_string_equal(out, "globex");
    free(t);
    free(c);
    ep_jwks_free(keys);
}

static void test_time_claims(void **state)
{
    (void)state;
    ep_jwks_t *keys = load_keys();
    char out[64];
    struct {
        long long exp, nbf;
        ep_jwt_status_t want;
    } cases[] = {
        {NOW - 31, 0, EP_JWT_EXPIRED}, /* beyond the 30 s leeway */
        {NOW - 29, 0, EP_JWT_OK},      /* within it */
        {0, 0, EP_JWT_EXPIRED},        /* no exp at all */
        {NOW + 600, NOW + 31, EP_JWT_NOT_YET},
        {NOW + 600, NOW + 29, EP_JWT_OK},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *c = claims(cases[i].exp, cases[i].nbf, "https://id.example.com", "\"edgeproxy\"", "acme");
        char *t = sign_token(rsa_key, "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", c);
        assert_int_equal(verify(keys, t, out), cases[i].want);
        free(t);
        free(c);
    }
    ep_jwks_free(keys);
}

static void test_refusals(void **state)
{
    (void)state;
    ep_jwks_t *keys = load_keys();
    char out[64];
    char *c = claims(NOW + 600, 0, "https://id.example.com", "\"edgeproxy\"", "acme");
    /* signed by a key that is not in the JWKS */
    char *t = sign_token(rsa_other, "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", c);
    assert_int_equal(verify(keys, t, out), EP_JWT_BAD_SIGNATURE);
    free(t);
    /* an RSA signature presented as ES256 */
    t = sign_token(rsa_key, "{\"alg\":\"ES256\"}", c);
    assert_int_equal(verify(keys, t, out), EP_JWT_BAD_SIGNATURE);
    free(t);
    /* unknown kid */
    t = sign_token(rsa_key, "{\"alg\":\"RS256\",\"kid\":\"nope\"}", c);
    assert_int_equal(verify(keys, t, out), EP_JWT_NO_KEY);
    free(t);
    /* algorithms other than RS256/ES256 */
    t = sign_token(rsa_key, "{\"alg\":\"RS512\"}", c);
    assert_int_equal(verify(keys, t, out), EP_JWT_BAD_ALG);
    free(t);
    /* alg none with an empty signature */
    rs_buf_t n = {0};
    b64url_str(&n, "{\"alg\":\"none\"}");
    rs_buf_putc(&n, '.');
    b64url_str(&n, c);
    rs_buf_putc(&n, '.');
    assert_int_equal(verify(keys, n.base, out), EP_JWT_BAD_ALG);
    rs_buf_free(&n);
    /* HS256 keyed with the public key text (the classic algorithm confusion) */
    rs_buf_t h = {0};
    b64url_str(&h, "{\"alg\":\"HS256\",\"kid\":\"rsa1\"}");
    rs_buf_putc(&h, '.');
    b64url_str(&h, c);
    unsigned char mac[32];
    unsigned maclen = 0;
    HMAC(EVP_sha256(), jwks_text, (int)strlen(jwks_text), (const unsigned char *)h.base, h.len, mac, &maclen);
    rs_buf_putc(&h, '.');
    b64url(&h, mac, maclen);
    assert_int_equal(verify(keys, h.base, out), EP_JWT_BAD_ALG);
    rs_buf_free(&h);
    /* a critical header extension we do not understand */
    t = sign_token(rsa_key, "{\"alg\":\"RS256\",\"crit\":[\"x\"],\"x\":1}", c);
    assert_int_equal(verify(keys, t, out), EP_JWT_MALFORMED);
    free(t);
    /* tampered payload: the signature no longer matches */
    t = sign_token(rsa_key, "{\"alg\":\"RS256\"}", c);
    char *dot = strchr(t, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    ep_jwt_status_t st = verify(keys, t, out);
    assert_true(st == EP_JWT_BAD_SIGNATURE || st == EP_JWT_MALFORMED);
    free(t);
    free(c);
    /* issuer and audience */
    c = claims(NOW + 600, 0, "https://evil.example.com", "\"edgeproxy\"", "acme");
    t = sign_token(rsa_key, "{\"alg\":\"RS256\"}", c);
    assert_int_equal(verify(keys, t, out), EP_JWT_BAD_ISSUER);
    free(t);
    free(c);
    c = claims(NOW + 600, 0, "https://id.example.com", "[\"other\"]", "acme");
    t = sign_token(rsa_key, "{\"alg\":\"RS256\"}", c);
    assert_int_equal(verify(keys, t, out), EP_JWT_BAD_AUDIENCE);
    free(t);
    free(c);
    c = claims(NOW + 600, 0, "https://id.example.com", "\"edgeproxy\"", NULL);
    t = sign_token(rsa_key, "{\"alg\":\"RS256\"}", c);
    assert_int_equal(verify(keys, t, out), EP_JWT_NO_CLAIM);
    free(t);
    free(c);
    /* shapes */
    const char *bad[] = {"", "abc", "a.b", "a.b.c.d", "!!!.e30.", "e30.e30.", ".e30.x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_not_equal(verify(keys, bad[i], out), EP_JWT_OK);
    ep_jwks_free(keys);
}

static void test_jwks_errors(void **state)
{
    (void)state;
    char err[256];
    assert_null(ep_jwks_parse("{}", 2, err, sizeof(err)));
    assert_non_null(strstr(err, "keys"));
    assert_null(ep_jwks_parse("{\"keys\":[{\"kty\":\"oct\",\"k\":\"eA\"}]}", 33, err, sizeof(err)));
    assert_non_null(strstr(err, "no usable key"));
    /* RSA keys below 2048 bits are refused */
    EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    rs_buf_t j = {0};
    rs_buf_printf(&j, "{\"keys\":[");
    jwk_rsa(&j, small, "s");
    rs_buf_printf(&j, "]}");
    assert_null(ep_jwks_parse(j.base, j.len, err, sizeof(err)));
    assert_non_null(strstr(err, "2048"));
    rs_buf_free(&j);
    EVP_PKEY_free(small);
    assert_null(ep_jwks_parse("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"AA\",\"y\":\"AA\"}]}", 56, err, sizeof(err)));
    assert_null(ep_jwks_parse("not json", 8, err, sizeof(err)));
    assert_non_null(strstr(err, "not valid JSON"));
}

static void test_cache(void **state)
{
    (void)state;
    ep_jwks_t *keys = load_keys();
    ep_jwt_cache_t *cache = ep_jwt_cache_new(64);
    char out[64];
    char *c = claims(NOW + 100, 0, "https://id.example.com", "\"edgeproxy\"", "initech");
    char *t = sign_token(rsa_key, "{\"alg\":\"RS256\"}", c);
    int hit = -1;
    assert_int_equal(ep_jwt_verify_cached(cache, keys, &policy, t, strlen(t), NOW, out, sizeof(out), &hit), EP_JWT_OK);
    assert_int_equal(hit, 0);
    for (int i = 0; i < 5; i++) {
        out[0] = '\0';
        assert_int_equal(ep_jwt_verify_cached(cache, keys, &policy, t, strlen(t), NOW + i, out, sizeof(out), &hit), EP_JWT_OK);
        assert_int_equal(hit, 1);
        assert_string_equal(out, "initech");
    }
    /* past exp + leeway the cached entry is not served */
    assert_int_equal(ep_jwt_verify_cached(cache, keys, &policy, t, strlen(t), NOW + 131, out, sizeof(out), &hit), EP_JWT_EXPIRED);
    assert_int_equal(hit, 0);
    /* failures are not cached, and a different token with the same prefix is a miss */
    char *t2 = sign_token(rsa_other, "{\"alg\":\"RS256\"}", c);
    assert_int_equal(ep_jwt_verify_cached(cache, keys, &policy, t2, strlen(t2), NOW, out, sizeof(out), &hit), EP_JWT_BAD_SIGNATURE);
    assert_int_equal(ep_jwt_verify_cached(cache, keys, &policy, t2, strlen(t2), NOW, out, sizeof(out), &hit), EP_JWT_BAD_SIGNATURE);
    assert_int_equal(hit, 0);
    /* bounded: many distinct tokens reuse the fixed slots */
    for (int i = 0; i < 200; i++) {
        char tenant[16];
        snprintf(tenant, sizeof(tenant), "t%d", i);
        char *ci = claims(NOW + 100, 0, "https://id.example.com", "\"edgeproxy\"", tenant);
        char *ti = sign_token(ec_key, "{\"alg\":\"ES256\"}", ci);
        assert_int_equal(ep_jwt_verify_cached(cache, keys, &policy, ti, strlen(ti), NOW, out, sizeof(out), &hit), EP_JWT_OK);
        assert_string_equal(out, tenant);
        free(ti);
        free(ci);
    }
    free(t2);
    free(t);
    free(c);
    ep_jwt_cache_free(cache);
    ep_jwks_free(keys);
}

static void test_base64url(void **state)
{
    (void)state;
    unsigned char out[16];
    assert_int_equal(ep_base64url_decode("aGk", 3, out), 2);
    assert_memory_equal(out, "hi", 2);
    assert_int_equal(ep_base64url_decode("aGk=", 4, out), 2);
    assert_int_equal(ep_base64url_decode("a", 1, out), -1);
    assert_int_equal(ep_base64url_decode("aG+", 3, out), -1); /* '+' is base64, not base64url */
    assert_int_equal(ep_base64url_decode("aGl", 3, out), -1); /* non-zero trailing bits */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_tokens), cmocka_unit_test(test_time_claims), cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_jwks_errors), cmocka_unit_test(test_cache),       cmocka_unit_test(test_base64url),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
