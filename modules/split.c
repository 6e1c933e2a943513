/* SPDX-License-Identifier: MIT */
/* Canary split logic (see split.h): keyed hash buckets, the weighted coin, percent parsing, override rules
 * and CIDR matching. */
#include "split.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a over the service name, a separator and the key, then a 64-bit finalizer (splitmix64) so that the
 * low bits used for the bucket depend on every input byte. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint32_t ep_split_bucket(const char *service, const char *key, size_t key_len)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = service != NULL ? service : ""; *p != '\0'; p++) {
        h ^= (unsigned char)*p;
        h *= 1099511628211ull;
    }
    h ^= 0xff; /* separator: ("ab","c") and ("a","bc") differ */
    h *= 1099511628211ull;
    for (size_t i = 0; i < key_len; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ull;
    }
    /* 2^64 mod 10000 is tiny relative to 2^64: the modulo bias is below 1e-15 */
    return (uint32_t)(mix64(h) % EP_SPLIT_SCALE);
}

int ep_split_sticky(uint32_t weight_bp, const char *service, const char *key, size_t key_len)
{
    return ep_split_bucket(service, key, key_len) < weight_bp;
}

uint64_t ep_split_rng_next(uint64_t *state)
{
    *state += 0x9e3779b97f4a7c15ull;
    return mix64(*state);
}

int ep_split_random(uint32_t weight_bp, uint64_t *rng_state)
{
    if (weight_bp == 0)
        return 0;
    if (weight_bp >= EP_SPLIT_SCALE)
        return 1;
    return ep_split_rng_next(rng_state) % EP_SPLIT_SCALE < weight_bp;
}

int ep_split_parse_percent(const char *s, size_t len, uint32_t *out_bp)
{
    /* digits, optional '.', at most two decimals: parsed exactly, no floating point */
    size_t i = 0;
    uint32_t whole = 0, frac = 0;
    unsigned ndigits = 0, nfrac = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        if (++ndigits > 3)
            return -1;
        whole = whole * 10 + (uint32_t)(s[i++] - '0');
    }
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (++nfrac > 2) {
                if (s[i] != '0') /* "5.500" is fine, "5.505" is finer than 0.01% */
                    return -1;
                i++;
                continue;
            }
            frac = frac * 10 + (uint32_t)(s[i++] - '0');
        }
        if (nfrac == 0)
            return -1;
    }
    if (i != len || ndigits == 0)
        return -1;
    if (nfrac == 1)
        frac *= 10;
    uint32_t bp = whole * 100 + frac;
    if (bp > EP_SPLIT_SCALE)
        return -1;
    *out_bp = bp;
    return 0;
}

int ep_split_percent_to_bp(double percent, uint32_t *out_bp)
{
    if (!isfinite(percent) || percent < 0 || percent > 100)
        return -1;
    double scaled = percent * 100.0;
    double rounded = nearbyint(scaled);
    if (fabs(scaled - rounded) > 1e-6)
        return -1;
    *out_bp = (uint32_t)rounded;
    return 0;
}

ep_override_t ep_split_parse_override(const char *value, size_t len)
{
    if (value == NULL)
        return EP_OVERRIDE_NONE;
    while (len > 0 && (*value == ' ' || *value == '\t')) {
        value++;
        len--;
    }
    while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
        len--;
    if (len == 6 && strncasecmp(value, "always", 6) == 0)
        return EP_OVERRIDE_ALWAYS;
    if (len == 5 && strncasecmp(value, "never", 5) == 0)
        return EP_OVERRIDE_NEVER;
    return EP_OVERRIDE_NONE;
}

int ep_ct_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return 0;
    volatile unsigned char diff = 0;
    for (size_t i = 0; i < alen; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

int ep_split_override_allowed(const ep_override_policy_t *policy, const char *client_addr, const char *presented_token,
                              size_t presented_len)
{
    if (policy == NULL)
        return 0;
    if (policy->token != NULL && policy->token[0] != '\0' && presented_token != NULL &&
        ep_ct_equal(policy->token, strlen(policy->token), presented_token, presented_len))
        return 1;
    uint8_t ip[16];
    return client_addr != NULL && ep_ip_parse(client_addr, strlen(client_addr), ip) == 0 &&
           ep_cidr_contains(policy->trusted, policy->ntrusted, ip);
}
