/* SPDX-License-Identifier: MIT */
/* The canary split as pure functions: a sticky, monotonic variant choice from a keyed hash, a weighted coin
 * for requests without a key, the override rules (X-Canary: always|never, accepted only with a token or
 * from trusted client networks) and CIDR matching. No I/O and no global state, so it is tested exactly. */
#ifndef EP_SPLIT_H
#define EP_SPLIT_H

#include <stddef.h>
#include <stdint.h>
#include "identity.h" /* ep_cidr_t: one network type for the whole proxy */

#define EP_SPLIT_SCALE 10000u /* weights are basis points: 0..10000 = 0..100.00% */

/** The bucket 0..9999 of a key for a service: a user keeps its bucket, so it keeps its variant while the
 *  weight is unchanged, and a bucket below 5% is also below 10% (monotonic). The service name is mixed in
 *  so services do not all pick the same users. */
uint32_t ep_split_bucket(const char *service, const char *key, size_t key_len);

/** 1 (canary) when the key's bucket is below weight_bp. */
int ep_split_sticky(uint32_t weight_bp, const char *service, const char *key, size_t key_len);

/** A keyless request: canary with probability weight_bp / 10000, from a per-thread generator state. */
int ep_split_random(uint32_t weight_bp, uint64_t *rng_state);
uint64_t ep_split_rng_next(uint64_t *state);

/** Parses a percentage ("5.5", "10", "0.01", "100") into basis points; -1 when not a number in 0..100 or
 *  finer than 0.01. */
int ep_split_parse_percent(const char *s, size_t len, uint32_t *out_bp);
/** From a double percentage (JSON numbers); -1 when out of range or not a multiple of 0.01 (within 1e-6). */
int ep_split_percent_to_bp(double percent, uint32_t *out_bp);

/* ---- overrides ---------------------------------------------------------------------------------------- */

typedef enum { EP_OVERRIDE_NONE = 0, EP_OVERRIDE_ALWAYS, EP_OVERRIDE_NEVER } ep_override_t;

/** "always" / "never" (ASCII case-insensitive, surrounding spaces ignored); anything else is NONE. */
ep_override_t ep_split_parse_override(const char *value, size_t len);

typedef struct st_ep_override_policy_t {
    const char *token;        /* secret that the request shows in the token header; NULL: no token accepted */
    const ep_cidr_t *trusted; /* client networks allowed to override without a token (identity.h) */
    size_t ntrusted;
} ep_override_policy_t;

/** Whether an override request is accepted: the token matches (constant time), or the client address is
 *  in a trusted network. presented_token may be NULL. */
int ep_split_override_allowed(const ep_override_policy_t *policy, const char *client_addr, const char *presented_token,
                              size_t presented_len);

/** Constant-time equality of two byte strings (the length difference is not hidden). */
int ep_ct_equal(const char *a, size_t alen, const char *b, size_t blen);

#endif
