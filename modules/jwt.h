/* SPDX-License-Identifier: MIT */
/* JWT bearer tokens as a tenant source: keys from a JWKS file (RSA and EC P-256), compact JWS verification
 * with RS256 and ES256 only (alg none and HMAC algorithms are refused), exp/nbf/iss/aud checks, and a bounded
 * per-thread cache so a client's repeated token costs one signature verification. OpenSSL 3. */
#ifndef EP_JWT_H
#define EP_JWT_H

#include <stddef.h>
#include <stdint.h>

typedef struct st_ep_jwks_t ep_jwks_t;

/** Loads keys from a JWKS document ({"keys": [...]}); keys of unsupported types are skipped. Returns NULL
 *  with a message in err when the document is invalid or holds no usable key. */
ep_jwks_t *ep_jwks_parse(const char *text, size_t len, char *err, size_t err_size);
ep_jwks_t *ep_jwks_load(const char *path, char *err, size_t err_size);
size_t ep_jwks_count(const ep_jwks_t *keys);
void ep_jwks_free(ep_jwks_t *keys);

typedef struct st_ep_jwt_policy_t {
    const char *issuer;   /* required "iss" value; NULL: not checked */
    const char *audience; /* must be "aud" or one of its array members; NULL: not checked */
    const char *claim;    /* the claim that names the tenant, e.g. "tenant" (string claim) */
    int64_t leeway_s;     /* clock skew allowed for exp and nbf */
} ep_jwt_policy_t;

typedef enum {
    EP_JWT_OK = 0,
    EP_JWT_MALFORMED, /* not three base64url parts, bad JSON, ... */
    EP_JWT_BAD_ALG,   /* alg none, HS*, or anything but RS256/ES256 */
    EP_JWT_NO_KEY,    /* no key matches kid/kty */
    EP_JWT_BAD_SIGNATURE,
    EP_JWT_EXPIRED, /* exp missing or in the past */
    EP_JWT_NOT_YET, /* nbf in the future */
    EP_JWT_BAD_ISSUER,
    EP_JWT_BAD_AUDIENCE,
    EP_JWT_NO_CLAIM, /* the tenant claim is missing, not a string, or too long */
} ep_jwt_status_t;

const char *ep_jwt_status_str(ep_jwt_status_t st);

/** Verifies a compact JWS and extracts the tenant claim into claim_out (NUL-terminated). *exp_out receives
 *  the token's expiry (seconds since the epoch). */
ep_jwt_status_t ep_jwt_verify(const ep_jwks_t *keys, const ep_jwt_policy_t *policy, const char *token, size_t len, int64_t now,
                              char *claim_out, size_t claim_size, int64_t *exp_out);

/** A bounded cache of verified tokens (one per worker thread; not thread-safe). Entries live until the
 *  token's exp; a full slot is replaced. Only successful verifications are cached. */
typedef struct st_ep_jwt_cache_t ep_jwt_cache_t;
ep_jwt_cache_t *ep_jwt_cache_new(size_t slots);
void ep_jwt_cache_free(ep_jwt_cache_t *cache);

/** Cached ep_jwt_verify: same result, one verification per distinct token while it is valid. hit (may be
 *  NULL) says whether the answer came from the cache. */
ep_jwt_status_t ep_jwt_verify_cached(ep_jwt_cache_t *cache, const ep_jwks_t *keys, const ep_jwt_policy_t *policy, const char *token,
                                     size_t len, int64_t now, char *claim_out, size_t claim_size, int *hit);

/** base64url (no padding, padding tolerated) into out; returns the decoded length or -1. out must hold
 *  len * 3 / 4 + 3 bytes. Exposed for tests and fuzzing. */
long ep_base64url_decode(const char *in, size_t len, unsigned char *out);

#endif
