/* SPDX-License-Identifier: MIT */
/* The `canary` module's pure pieces, exposed for tests: the latency buckets shared by /metrics and the
 * rollback window, the p99 estimate from a histogram, and the automatic-rollback decision that compares the
 * canary's 5xx ratio and p99 latency with stable's over a window. */
#ifndef EP_CANARY_H
#define EP_CANARY_H

#include <stddef.h>
#include <stdint.h>

#define EP_CANARY_LAT_BUCKETS 24 /* the last one is +Inf */

/** Upper bounds of the latency buckets in milliseconds (index EP_CANARY_LAT_BUCKETS - 1 is +Inf). */
extern const double ep_canary_lat_bounds_ms[EP_CANARY_LAT_BUCKETS];
/** Bucket index for a latency in microseconds. */
unsigned ep_canary_lat_bucket(uint64_t latency_us);

/** One variant's figures over the window. */
typedef struct st_ep_canary_window_t {
    uint64_t requests, errors_5xx;
    uint64_t hist[EP_CANARY_LAT_BUCKETS];
} ep_canary_window_t;

/** The p99 latency in ms: the upper bound of the bucket holding the 99th percentile (0 without data; the
 *  +Inf bucket reports the last finite bound times two). */
double ep_canary_p99_ms(const ep_canary_window_t *w);

typedef struct st_ep_canary_rollback_t {
    uint64_t window_ms;
    uint64_t min_requests;  /* canary requests needed in the window before judging */
    double error_margin;    /* canary 5xx ratio may exceed stable's by this much (0.05 = 5 points) */
    uint64_t p99_margin_ms; /* canary p99 may exceed stable's by this much; 0: latency not checked */
} ep_canary_rollback_t;

typedef enum { EP_CANARY_HEALTHY = 0, EP_CANARY_FAILING = 1, EP_CANARY_NO_DATA = -1 } ep_canary_health_t;

/** Judges the canary against stable. `why` receives the figures (for the log and the audit line). The
 *  latency check needs min_requests on both sides; the error check compares with stable's ratio (0 when
 *  stable saw nothing). */
ep_canary_health_t ep_canary_judge(const ep_canary_window_t *stable, const ep_canary_window_t *canary,
                                   const ep_canary_rollback_t *rb, char *why, size_t why_size);

/** The next step of a schedule above the current weight: index into steps, or nsteps when none is above. */
size_t ep_canary_next_step(const uint32_t *steps_bp, size_t nsteps, uint32_t weight_bp);

/** Reads a PUT /canary/{service} body ({"weight": 5.5, "reason": "..."}; the weight may be a string "5.5").
 *  Returns 0, or -1 with a message for the 400 answer in err. */
int ep_canary_parse_weight_body(const char *body, size_t len, uint32_t *bp, char *reason, size_t reason_size, char *err,
                                size_t err_size);

#endif
