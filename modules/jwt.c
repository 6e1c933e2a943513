/* SPDX-License-Identifier: MIT */
/* JWKS loading and compact JWS verification (RS256, ES256) with OpenSSL 3, claim checks, and the per-thread
 * cache of verified tokens. Anything unexpected in a token is a refusal: a token that fails verification
 * never selects a tenant. */
#include "jwt.h"
#include "util/util.h"
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "jwt_json.h"

#define JWT_MAX_TOKEN  8192
#define JWT_JSON_DEPTH 16
#define JWKS_MAX_BYTES (1u << 20)
#define RSA_MIN_BITS   2048
#define KID_MAX        128

typedef enum { KEY_RSA, KEY_EC } key_kind_t;

typedef struct {
    key_kind_t kind;
    char kid[KID_MAX]; /* "" when the JWK has none */
    EVP_PKEY *pkey;
} jwk_t;

struct st_ep_jwks_t {
    jwk_t *keys;
    size_t count;
};

static const signed char b64url_table[256] = {
    ['A'] = 1,  ['B'] = 2,  ['C'] = 3,  ['D'] = 4,  ['E'] = 5,  ['F'] = 6,  ['G'] = 7,  ['H'] = 8,  ['I'] = 9,  ['J'] = 10,
    ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20,
    ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30,
    ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
    ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49, ['x'] = 50,
    ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60,
    ['8'] = 61, ['9'] = 62, ['-'] = 63, ['_'] = 64,
}; /* value + 1; 0 = not in the alphabet */

long ep_base64url_decode(const char *in, size_t len, unsigned char *out)
{
    while (len > 0 && in[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_table[(unsigned char)in[i]];
        if (v == 0)
            return -1;
        acc = (acc << 6) | (uint32_t)(v - 1);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    /* leftover bits must be zero (canonical encoding) */
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return -1;
    return (long)o;
}

/* Decodes a base64url JWK member into a freshly malloc'ed buffer. */
static unsigned char *b64_member(const ep_json_t *jwk, const char *name, size_t *out_len)
{
    const ep_json_t *v = ep_json_get(jwk, name);
    if (v == NULL || v->type != EP_JSON_STRING || v->len == 0 || v->len > 4096)
        return NULL;
    unsigned char *buf = malloc(v->len * 3 / 4 + 3);
    if (buf == NULL)
        return NULL;
    long n = ep_base64url_decode(v->str, v->len, buf);
    if (n <= 0) {
        free(buf);
        return NULL;
    }
    *out_len = (size_t)n;
    return buf;
}

static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

static EVP_PKEY *rsa_from_jwk(const ep_json_t *jwk, const char **why)
{
    size_t nlen = 0, elen = 0;
    unsigned char *n = b64_member(jwk, "n", &nlen), *e = b64_member(jwk, "e", &elen);
    EVP_PKEY *pkey = NULL;
    BIGNUM *bn_n = NULL, *bn_e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    *why = "RSA key needs base64url 'n' and 'e'";
    if (n == NULL || e == NULL)
        goto done;
    bn_n = BN_bin2bn(n, (int)nlen, NULL);
    bn_e = BN_bin2bn(e, (int)elen, NULL);
    if (bn_n == NULL || bn_e == NULL)
        goto done;
    *why = "RSA key shorter than 2048 bits";
    if (BN_num_bits(bn_n) < RSA_MIN_BITS)
        goto done;
    *why = "RSA key rejected by OpenSSL";
    if ((bld = OSSL_PARAM_BLD_new()) == NULL || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
        goto done;
    pkey = pkey_fromdata("RSA", bld);
done:
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    free(n);
    free(e);
    return pkey;
}

static EVP_PKEY *ec_from_jwk(const ep_json_t *jwk, const char **why)
{
    const char *crv = ep_json_get_str(jwk, "crv");
    *why = "EC key must use crv P-256";
    if (crv == NULL || strcmp(crv, "P-256") != 0)
        return NULL;
    size_t xlen = 0, ylen = 0;
    unsigned char *x = b64_member(jwk, "x", &xlen), *y = b64_member(jwk, "y", &ylen);
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    *why = "EC key needs 32-byte base64url 'x' and 'y'";
    if (x == NULL || y == NULL || xlen != 32 || ylen != 32)
        goto done;
    unsigned char point[65];
    point[0] = 0x04; /* uncompressed */
    memcpy(point + 1, x, 32);
    memcpy(point + 33, y, 32);
    *why = "EC key is not a point on P-256";
    if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
        !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)))
        goto done;
    pkey = pkey_fromdata("EC", bld);
done:
    OSSL_PARAM_BLD_free(bld);
    free(x);
    free(y);
    return pkey;
}

ep_jwks_t *ep_jwks_parse(const char *text, size_t len, char *err, size_t err_size)
{
    char jerr[128];
    ep_json_doc_t *doc = ep_json_parse(text, len, JWT_JSON_DEPTH, jerr, sizeof(jerr));
    if (doc == NULL) {
        snprintf(err, err_size, "JWKS is not valid JSON: %s", jerr);
        return NULL;
    }
    const ep_json_t *keys = ep_json_get(ep_json_root(doc), "keys");
    if (keys == NULL || keys->type != EP_JSON_ARRAY) {
        snprintf(err, err_size, "JWKS needs a \"keys\" array");
        ep_json_free(doc);
        return NULL;
    }
    ep_jwks_t *set = calloc(1, sizeof(*set));
    set->keys = calloc(keys->count ? keys->count : 1, sizeof(*set->keys));
    const char *last_why = "no key of type RSA or EC";
    for (size_t i = 0; i < keys->count; i++) {
        const ep_json_t *jwk = keys->items[i];
        const char *kty = ep_json_get_str(jwk, "kty");
        const char *use = ep_json_get_str(jwk, "use");
        const char *kid = ep_json_get_str(jwk, "kid");
        if (kty == NULL || (use != NULL && strcmp(use, "sig") != 0))
            continue;
        jwk_t *k = &set->keys[set->count];
        const char *why = "";
        if (strcmp(kty, "RSA") == 0) {
            k->kind = KEY_RSA;
            k->pkey = rsa_from_jwk(jwk, &why);
        } else if (strcmp(kty, "EC") == 0) {
            k->kind = KEY_EC;
            k->pkey = ec_from_jwk(jwk, &why);
        } else {
            continue; /* oct (HMAC) and others are never usable */
        }
        if (k->pkey == NULL) {
            last_why = why;
            continue;
        }
        snprintf(k->kid, sizeof(k->kid), "%s", kid != NULL ? kid : "");
        set->count++;
    }
    ep_json_free(doc);
    if (set->count == 0) {
        snprintf(err, err_size, "JWKS holds no usable key (%s)", last_why);
        ep_jwks_free(set);
        return NULL;
    }
    return set;
}

ep_jwks_t *ep_jwks_load(const char *path, char *err, size_t err_size)
{
    rs_buf_t buf = {0};
    ep_jwks_t *set = NULL;
    if (rs_read_file(path, JWKS_MAX_BYTES - 1, &buf) != 0) {
        if (errno == EFBIG)
            snprintf(err, err_size, "JWKS file %s is larger than 1 MiB", path);
        else
            snprintf(err, err_size, "cannot open JWKS file %s", path);
    } else {
        set = ep_jwks_parse(buf.base, buf.len, err, err_size);
    }
    rs_buf_free(&buf);
    return set;
}

size_t ep_jwks_count(const ep_jwks_t *keys)
{
    return keys != NULL ? keys->count : 0;
}

void ep_jwks_free(ep_jwks_t *keys)
{
    if (keys == NULL)
        return;
    for (size_t i = 0; i < keys->count; i++)
        EVP_PKEY_free(keys->keys[i].pkey);
    free(keys->keys);
    free(keys);
}

const char *ep_jwt_status_str(ep_jwt_status_t st)
{
    switch (st) {
    case EP_JWT_OK:
        return "ok";
    case EP_JWT_MALFORMED:
        return "malformed token";
    case EP_JWT_BAD_ALG:
        return "algorithm not allowed";
    case EP_JWT_NO_KEY:
        return "no matching key";
    case EP_JWT_BAD_SIGNATURE:
        return "bad signature";
    case EP_JWT_EXPIRED:
        return "expired or no exp";
    case EP_JWT_NOT_YET:
        return "not valid yet (nbf)";
    case EP_JWT_BAD_ISSUER:
        return "wrong issuer";
    case EP_JWT_BAD_AUDIENCE:
        return "wrong audience";
    case EP_JWT_NO_CLAIM:
        return "tenant claim missing";
    }
    return "?";
}

static int verify_with(const jwk_t *k, const unsigned char *data, size_t data_len, const unsigned char *sig, size_t sig_len)
{
    unsigned char der[80];
    const unsigned char *use_sig = sig;
    size_t use_len = sig_len;
    if (k->kind == KEY_EC) {
        /* JWS carries r || s (32 bytes each); OpenSSL wants DER */
        if (sig_len != 64)
            return 0;
        ECDSA_SIG *es = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
        if (es == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(es, r, s)) {
            BN_free(r);
            BN_free(s);
            ECDSA_SIG_free(es);
            return 0;
        }
        unsigned char *p = der;
        int n = i2d_ECDSA_SIG(es, NULL);
        if (n <= 0 || (size_t)n > sizeof(der)) {
            ECDSA_SIG_free(es);
            return 0;
        }
        i2d_ECDSA_SIG(es, &p);
        ECDSA_SIG_free(es);
        use_sig = der;
        use_len = (size_t)n;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md != NULL && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
             EVP_DigestVerify(md, use_sig, use_len, data, data_len) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

static int json_int(const ep_json_t *v, int64_t *out)
{
    if (v == NULL || v->type != EP_JSON_NUMBER || v->number < -9e15 || v->number > 9e15)
        return -1;
    *out = (int64_t)v->number;
    return 0;
}

static ep_jwt_status_t check_claims(const ep_json_t *claims, const ep_jwt_policy_t *policy, int64_t now, char *claim_out,
                                    size_t claim_size, int64_t *exp_out)
{
    if (claims == NULL || claims->type != EP_JSON_OBJECT)
        return EP_JWT_MALFORMED;
    int64_t exp, nbf;
    /* tokens without exp would be valid (and cached) forever: refuse them */
    if (json_int(ep_json_get(claims, "exp"), &exp) != 0 || now > exp + policy->leeway_s)
        return EP_JWT_EXPIRED;
    const ep_json_t *nbf_v = ep_json_get(claims, "nbf");
    if (nbf_v != NULL && (json_int(nbf_v, &nbf) != 0 || now + policy->leeway_s < nbf))
        return EP_JWT_NOT_YET;
    if (policy->issuer != NULL) {
        const char *iss = ep_json_get_str(claims, "iss");
        if (iss == NULL || strcmp(iss, policy->issuer) != 0)
            return EP_JWT_BAD_ISSUER;
    }
    if (policy->audience != NULL) {
        const ep_json_t *aud = ep_json_get(claims, "aud");
        int found = 0;
        if (aud != NULL && aud->type == EP_JSON_STRING)
            found = strcmp(aud->str, policy->audience) == 0;
        else if (aud != NULL && aud->type == EP_JSON_ARRAY)
            for (size_t i = 0; i < aud->count && !found; i++)
                found = aud->items[i]->type == EP_JSON_STRING && strcmp(aud->items[i]->str, policy->audience) == 0;
        if (!found)
            return EP_JWT_BAD_AUDIENCE;
    }
    const ep_json_t *tenant = ep_json_get(claims, policy->claim != NULL ? policy->claim : "tenant");
    if (tenant == NULL || tenant->type != EP_JSON_STRING || tenant->len == 0 || tenant->len >= claim_size ||
        memchr(tenant->str, '\0', tenant->len) != NULL)
        return EP_JWT_NO_CLAIM;
    memcpy(claim_out, tenant->str, tenant->len + 1);
    *exp_out = exp;
    return EP_JWT_OK;
}

ep_jwt_status_t ep_jwt_verify(const ep_jwks_t *keys, const ep_jwt_policy_t *policy, const char *token, size_t len, int64_t now,
                              char *claim_out, size_t claim_size, int64_t *exp_out)
{
    if (len == 0 || len > JWT_MAX_TOKEN || keys == NULL)
        return EP_JWT_MALFORMED;
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 != NULL ? memchr(dot1 + 1, '.', (size_t)(token + len - dot1 - 1)) : NULL;
    if (dot1 == NULL || dot2 == NULL || memchr(dot2 + 1, '.', (size_t)(token + len - dot2 - 1)) != NULL)
        return EP_JWT_MALFORMED;
    size_t hlen = (size_t)(dot1 - token), plen = (size_t)(dot2 - dot1 - 1), slen = (size_t)(token + len - dot2 - 1);
    if (hlen == 0 || plen == 0)
        return EP_JWT_MALFORMED;
    /* one buffer for header, payload and signature; each fits in 3/4 of its text plus slack */
    unsigned char *buf = malloc(len + 16);
    if (buf == NULL)
        return EP_JWT_MALFORMED;
    unsigned char *hdr = buf, *pay, *sig;
    long hn = ep_base64url_decode(token, hlen, hdr);
    pay = hdr + (hn > 0 ? hn : 0) + 1;
    long pn = hn > 0 ? ep_base64url_decode(dot1 + 1, plen, pay) : -1;
    sig = pay + (pn > 0 ? pn : 0) + 1;
    long sn = pn > 0 ? ep_base64url_decode(dot2 + 1, slen, sig) : -1;
    ep_jwt_status_t st = EP_JWT_MALFORMED;
    ep_json_doc_t *hdoc = NULL, *pdoc = NULL;
    if (hn <= 0 || pn <= 0 || sn < 0)
        goto done;
    if ((hdoc = ep_json_parse((const char *)hdr, (size_t)hn, JWT_JSON_DEPTH, NULL, 0)) == NULL)
        goto done;
    const ep_json_t *h = ep_json_root(hdoc);
    const char *alg = ep_json_get_str(h, "alg");
    const ep_json_t *kid_v = ep_json_get(h, "kid");
    if (h->type != EP_JSON_OBJECT || (kid_v != NULL && kid_v->type != EP_JSON_STRING))
        goto done;
    /* we understand no critical extension, so any "crit" makes the token unacceptable (RFC 7515 4.1.11) */
    if (ep_json_get(h, "crit") != NULL)
        goto done;
    key_kind_t kind;
    st = EP_JWT_BAD_ALG;
    if (alg != NULL && strcmp(alg, "RS256") == 0)
        kind = KEY_RSA;
    else if (alg != NULL && strcmp(alg, "ES256") == 0)
        kind = KEY_EC;
    else
        goto done;
    /* the signature covers the encoded header and payload exactly as sent */
    const unsigned char *signed_part = (const unsigned char *)token;
    size_t signed_len = (size_t)(dot2 - token);
    st = EP_JWT_NO_KEY;
    int tried = 0, verified = 0;
    for (size_t i = 0; i < keys->count && !verified; i++) {
        const jwk_t *k = &keys->keys[i];
        if (k->kind != kind || (kid_v != NULL && strcmp(k->kid, kid_v->str) != 0))
            continue;
        tried = 1;
        verified = verify_with(k, signed_part, signed_len, sig, (size_t)sn);
    }
    if (!tried)
        goto done;
    st = EP_JWT_BAD_SIGNATURE;
    if (!verified)
        goto done;
    st = EP_JWT_MALFORMED;
    if ((pdoc = ep_json_parse((const char *)pay, (size_t)pn, JWT_JSON_DEPTH, NULL, 0)) == NULL)
        goto done;
    st = check_claims(ep_json_root(pdoc), policy, now, claim_out, claim_size, exp_out);
done:
    ep_json_free(hdoc);
    ep_json_free(pdoc);
    free(buf);
    return st;
}

/* ---- cache ------------------------------------------------------------------------------------------ */

#define CACHE_CLAIM_MAX 128

typedef struct {
    uint64_t hash;
    char *token; /* NULL: empty slot */
    size_t len;
    int64_t valid_until;
    char claim[CACHE_CLAIM_MAX];
} cache_slot_t;

struct st_ep_jwt_cache_t {
    cache_slot_t *slots;
    size_t mask;
};

ep_jwt_cache_t *ep_jwt_cache_new(size_t slots)
{
    size_t n = 16;
    while (n < slots && n < (1u << 20))
        n <<= 1;
    ep_jwt_cache_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->slots = calloc(n, sizeof(*c->slots));
    if (c->slots == NULL) {
        free(c);
        return NULL;
    }
    c->mask = n - 1;
    return c;
}

void ep_jwt_cache_free(ep_jwt_cache_t *cache)
{
    if (cache == NULL)
        return;
    for (size_t i = 0; i <= cache->mask; i++)
        free(cache->slots[i].token);
    free(cache->slots);
    free(cache);
}

static uint64_t token_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 31);
}

ep_jwt_status_t ep_jwt_verify_cached(ep_jwt_cache_t *cache, const ep_jwks_t *keys, const ep_jwt_policy_t *policy, const char *token,
                                     size_t len, int64_t now, char *claim_out, size_t claim_size, int *hit)
{
    if (hit != NULL)
        *hit = 0;
    if (cache == NULL || len == 0 || len > JWT_MAX_TOKEN) {
        int64_t exp;
        return ep_jwt_verify(keys, policy, token, len, now, claim_out, claim_size, &exp);
    }
    uint64_t h = token_hash(token, len);
    cache_slot_t *slot = &cache->slots[h & cache->mask];
    if (slot->token != NULL && slot->hash == h && slot->len == len && memcmp(slot->token, token, len) == 0) {
        if (now <= slot->valid_until && strlen(slot->claim) < claim_size) {
            strcpy(claim_out, slot->claim);
            if (hit != NULL)
                *hit = 1;
            return EP_JWT_OK;
        }
        free(slot->token); /* expired: verify again (and fail) */
        slot->token = NULL;
    }
    int64_t exp = 0;
    char claim[CACHE_CLAIM_MAX];
    ep_jwt_status_t st = ep_jwt_verify(keys, policy, token, len, now, claim, sizeof(claim), &exp);
    if (st != EP_JWT_OK)
        return st;
    if (strlen(claim) >= claim_size)
        return EP_JWT_NO_CLAIM;
    strcpy(claim_out, claim);
    char *copy = malloc(len);
    if (copy != NULL) {
        free(slot->token);
        memcpy(copy, token, len);
        slot->token = copy;
        slot->len = len;
        slot->hash = h;
        slot->valid_until = exp + policy->leeway_s;
        memcpy(slot->claim, claim, sizeof(claim));
    }
    return EP_JWT_OK;
}
