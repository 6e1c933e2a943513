/* SPDX-License-Identifier: MIT */
/* Fuzzes the JWT path: the input is verified as a bearer token (uncached and cached) against a fixed JWKS whose
 * private keys are not kept (the corpus holds valid RS256/ES256 tokens made with them), parsed as a JWKS
 * document, and decoded as base64url. Nothing may crash or leak; only well-signed tokens may verify. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "jwt.h"

static const char fixed_jwks[] =
    "{\"keys\": [{\"kty\": \"RSA\", \"kid\": \"fuzz-rsa\", \"use\": \"sig\", \"alg\": \"RS256\", \"n\": "
    "\"3_WElWxpUUv6ul_Fwvb08j4O0x3qzXH3k6tCd8UpTF-wVuzOBt--E3yLgyT0S9fSpWJnK9J0T6uKAiGk7daahDNniRx8DW9ATQukoiEJ_87Q8-"
    "wfwyUPGnkJFLCoZQw4XN8dRD0LrMmZN4uR8GH3sYjA1Q91SzhWqgScNXftG7IJpN11FbV-x5jKHdeYpUA0oBPnv_BHKXlmMvXaodtEDFHLNPADoW3qI089mGuxQ_"
    "gSNFEUyWiPXdAEnb1UwZvtNtfrGvLlzdiUtNUv69N4Ayev2ONYhSUL8OcCyg8wn2sTHvJa52v_JvkKP6gsxLAY833r6_6X4cdTibeqTF34uw\", \"e\": "
    "\"AQAB\"}, {\"kty\": \"EC\", \"kid\": \"fuzz-ec\", \"crv\": \"P-256\", \"x\": "
    "\"tdeG1Ia6_Y-Y1nr99yvE_FvC0rInbzdCDQUTh469b74\", \"y\": \"ZYUQ8ljhWzoW3fUWGV26mI5FRWjnnP76od6jvxW-14s\"}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ep_jwks_t *keys;
    static ep_jwt_cache_t *cache;
    char err[256], claim[64];
    if (keys == NULL) {
        keys = ep_jwks_parse(fixed_jwks, sizeof(fixed_jwks) - 1, err, sizeof(err));
        cache = ep_jwt_cache_new(16);
        if (keys == NULL)
            abort();
    }
    const ep_jwt_policy_t policy = {"https://id.example.com", "edgeproxy", "tenant", 30};
    int64_t exp;
    ep_jwt_status_t st = ep_jwt_verify(keys, &policy, (const char *)data, size, 1800000000, claim, sizeof(claim), &exp);
    int hit;
    ep_jwt_status_t st2 =
        ep_jwt_verify_cached(cache, keys, &policy, (const char *)data, size, 1800000000, claim, sizeof(claim), &hit);
    if (st != st2) /* the cache must never change an answer */
        abort();
    if (st == EP_JWT_OK && strlen(claim) == 0)
        abort();

    ep_jwks_t *parsed = ep_jwks_parse((const char *)data, size, err, sizeof(err));
    ep_jwks_free(parsed);

    unsigned char *out = malloc(size * 3 / 4 + 3);
    long n = ep_base64url_decode((const char *)data, size, out);
    if (n > (long)(size * 3 / 4 + 3))
        abort();
    free(out);
    return 0;
}
