/* SPDX-License-Identifier: MIT */
/* The core's part of the config file: listeners, threads, limits, timeouts, upstreams, routes, request ids,
 * shutdown, admin. Parsed once per generation into plain C values; runtime code never sees YAML. Sections
 * owned by modules (client_identity, access_log, tenants, waf, canary, ...) are handed to them (generation.c). */
#ifndef EP_CONFIG_H
#define EP_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include "conf_node.h"

struct st_ep_upstream_t;

typedef struct st_ep_listen_conf_t {
    char *host; /* numeric or name, e.g. "127.0.0.1", "::" */
    uint16_t port;
    char *tls_cert, *tls_key; /* both NULL: plain HTTP */
    int http2;                /* TLS listeners only; cleartext h2c is always refused */
} ep_listen_conf_t;

typedef struct st_ep_upstream_conf_t {
    char *name;
    char **servers; /* "host:port" */
    size_t nservers;
    uint32_t max_conns;          /* in-flight requests per server, 0 = unlimited; over it: 503 */
    uint32_t fail_threshold;     /* consecutive connect failures before a server is skipped */
    uint64_t fail_skip_ms;       /* how long it is skipped */
    uint64_t keepalive_ms;       /* idle pooled connections are closed after this */
    struct st_ep_upstream_t *rt; /* the long-lived runtime object (upstream.c registry) */
} ep_upstream_conf_t;

typedef struct st_ep_route_t {
    char *host;        /* exact (case-insensitive) Host without port, "*.suffix" or NULL = any */
    char *path_prefix; /* "/" when absent */
    size_t path_prefix_len;
    int strip_prefix;
    struct st_ep_upstream_t *upstream;
} ep_route_t;

typedef struct st_ep_admin_token_t {
    char *name, *token;
} ep_admin_token_t;

typedef struct st_ep_config_t {
    char *file, *base_dir;
    ep_listen_conf_t *listen;
    size_t nlisten;
    unsigned threads;

    struct {
        uint64_t max_header_size; /* total bytes of request header names + values: over it 431 */
        uint32_t max_header_count;
        uint64_t max_body_size; /* 413 */
    } limits;
    struct {
        uint64_t client_header_ms, client_idle_ms, client_keepalive_ms;
        uint64_t upstream_connect_ms, upstream_first_byte_ms, upstream_idle_ms;
    } timeouts;

    ep_upstream_conf_t *upstreams;
    size_t nupstreams;
    ep_route_t *routes;
    size_t nroutes;
    struct st_ep_upstream_t *default_upstream; /* routes.default; NULL: 404 when nothing matches */

    struct {
        char *header; /* lower-case, e.g. "x-request-id" */
        int trust_incoming;
    } request_id;

    char *error_log; /* NULL: stderr */
    uint64_t shutdown_deadline_ms;
    char *state_dir;

    struct {
        char *host;
        uint16_t port;
        int enabled;
        ep_admin_token_t *tokens;
        size_t ntokens;
    } admin;
} ep_config_t;

/** Top-level keys the core reads itself; every other key must name a module (see generation.c). */
extern const char *const ep_config_core_keys[];

/** Parses the core sections of `root`. Returns NULL with errors added (all problems are reported, not only the
 *  first). `-t` also checks that certificate/key files load. */
ep_config_t *ep_config_parse(ep_conf_ctx_t *c, const ep_node_t *root, const char *file);
void ep_config_free(ep_config_t *conf);

/** Splits "host:port" / "[v6]:port" into host and port; 0 or -1. */
int ep_split_hostport(const char *s, char *host, size_t hostsize, uint16_t *port);

/** The route for a request (host without port, path); NULL when none matches (then the default applies). */
const ep_route_t *ep_config_route(const ep_config_t *conf, const char *host, size_t hostlen, const char *path, size_t pathlen);

#endif
