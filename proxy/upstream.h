/* SPDX-License-Identifier: MIT */
/* Upstreams: a process-wide, long-lived registry of servers (one keep-alive socket pool per host:port, shared
 * by all threads) and of named upstreams (an ordered list of servers with round robin, passive health and an
 * in-flight cap). Nothing is freed while the process runs, so a request, a generation or a module may hold a
 * pointer for as long as it likes; modules may create upstreams at run time (e.g. preview environments). */
#ifndef EP_UPSTREAM_H
#define EP_UPSTREAM_H

#include <stdatomic.h>
#include <stdint.h>
#include "h2o_wrap.h"

typedef struct st_ep_server_t {
    char *hostport; /* "127.0.0.1:8080" */
    h2o_url_t url;  /* http://hostport/ for Location rewriting */
    h2o_socketpool_t pool;
    atomic_uint consecutive_failures;
    atomic_uint_fast64_t down_until_ms; /* monotonic ms; skipped while now < down_until */
    atomic_uint inflight;
    atomic_uint_fast64_t requests, connect_failures;
} ep_server_t;

typedef struct st_ep_upstream_params_t {
    uint32_t max_conns;      /* per server in-flight cap, 0 = none */
    uint32_t fail_threshold; /* >= 1 */
    uint64_t fail_skip_ms;
    uint64_t keepalive_ms;
} ep_upstream_params_t;

typedef struct st_ep_upstream_t {
    char *name;
    ep_server_t **servers;
    size_t nservers;
    ep_upstream_params_t params;
    atomic_uint rr;
} ep_upstream_t;

/** Starts the registry's housekeeping thread (its loop runs the pools' idle-expiry timers). Call once, before
 *  any request is served; upstreams created before it get their timers when it starts. */
int ep_upstream_registry_start(void);

/** Get-or-create an upstream with exactly these servers and parameters. Thread-safe. Returns NULL with a
 *  message in err when a server is not a valid host:port. */
ep_upstream_t *ep_upstream_get(const char *name, const char *const *hostports, size_t n, const ep_upstream_params_t *params,
                               char *err, size_t errsize);

/** Monotonic milliseconds (the clock used for health). */
uint64_t ep_now_ms(void);

/** Picks a server by round robin among those not marked down and under the cap, never `exclude`.
 *  Returns NULL when none is usable; *all_busy is set when the only reason was the in-flight cap. */
ep_server_t *ep_upstream_pick(ep_upstream_t *up, const ep_server_t *exclude, uint64_t now_ms, int *all_busy);
/** In-flight accounting: acquire when a request is sent to the server, release when it ends. */
void ep_server_acquire(ep_server_t *s);
void ep_server_release(ep_server_t *s);
/** Passive health: a connect failure (counts toward the threshold) or any upstream answer (resets it). */
void ep_server_report(ep_upstream_t *up, ep_server_t *s, int connect_failed, uint64_t now_ms);

/** Iterates all registered upstreams (admin /status, /metrics); the callback runs under the registry lock. */
void ep_upstream_foreach(void (*cb)(ep_upstream_t *up, void *arg), void *arg);

#endif
