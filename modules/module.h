/* SPDX-License-Identifier: MIT */
/* The request pipeline's one interface. Every request-path feature is a module: it reads its own config
 * section into an immutable conf that lives in a generation, keeps per-thread state per generation, may keep
 * process-wide runtime state that survives reloads (canary weights, metrics), and handles requests in a fixed
 * order (modules/registry.c): identity -> tenant -> waf -> canary -> upstream -> log.
 *
 * Threads: on_config / conf_free / global_* run on the control thread; thread_* and on_req / on_response /
 * on_log on a worker thread, for requests of that worker only; admin handlers on the admin thread. */
#ifndef EP_MODULE_H
#define EP_MODULE_H

#include "h2o_wrap.h"
#include "conf_node.h"
#include "util/util.h"

struct st_ep_generation_t;
struct st_ep_upstream_t;

typedef enum { EP_NEXT = 0, EP_DONE = 1 } ep_status_t; /* DONE: the module sent a response; the pipeline stops */

/** What the pipeline knows about a request; lives in the request's pool. Earlier modules fill facts that
 *  later ones and the logs read. Strings are NUL-terminated and pool-allocated unless noted. */
typedef struct st_ep_req_t {
    h2o_req_t *h2o;
    const struct st_ep_generation_t *gen; /* pinned for the request's whole life */
    unsigned worker_index;
    uint64_t start_ns; /* monotonic */

    /* identity (the one place the client address is decided) */
    char client_addr[64]; /* textual IP, no port */
    uint16_t client_port;
    h2o_iovec_t request_id;

    /* tenant */
    const char *tenant_id;     /* NULL when unknown */
    const char *placement;     /* "multi" | "single" | NULL */
    const char *tenant_source; /* which source resolved it: "host", "header", "path", "jwt", "default" */
    const char *ruleset;       /* WAF rule set name chosen for this request (tenant or route policy); NULL: default */
    int waf_detection_only;    /* tenant runs its rule set in DetectionOnly */

    /* routing: the upstream the request goes to, and the path sent upstream (prefix stripped) */
    const struct st_ep_upstream_t *upstream;
    h2o_iovec_t upstream_path; /* .base == NULL: the request's own path */
    const char *service;       /* canary service name, NULL when none matched */
    const char *variant;       /* "stable" | "canary" | NULL */

    /* waf summary for the access log */
    const char *waf_action; /* "pass" | "block" | "detect" | "error" | NULL when the WAF did not run */
    int waf_score;
    uint32_t waf_rule;
    void *waf_ctx; /* the WAF's per-request state (its transaction, kept for the response phase) */

    /* set by an on_response hook that replaces the response (it has set h2o->res.status, .reason and
     * .headers itself): the pipeline discards the upstream's body, never sending any of it, and sends
     * response_body instead with its Content-Length (none for HEAD) */
    int response_replaced;
    h2o_iovec_t response_body;
} ep_req_t;

/** An admin API call as a module sees it (the core has authenticated it). */
typedef struct st_ep_admin_req_t {
    const char *method; /* "GET", "PUT", "POST", ... */
    const char *path;   /* without the query, e.g. "/canary/app" */
    h2o_iovec_t body;
    const char *token_name; /* name of the token that authenticated the call (for the audit log) */
    const char *client_addr;
    const struct st_ep_generation_t *gen; /* current generation */
    /* the answer: status + JSON body (module writes into out) */
    int status;
    rs_buf_t *out;
} ep_admin_req_t;

typedef struct st_ep_module_t {
    const char *name; /* config section key and log tag, e.g. "tenants" */

    /* control thread, once per process: runtime state that outlives generations (NULL hooks allowed) */
    int (*global_init)(void **gstate);
    void (*global_free)(void *gstate);

    /* control thread, once per generation: parse + validate + build (node is NULL when the section is absent).
     * Must not change gstate until on_commit: a generation that fails to load leaves nothing behind. */
    int (*on_config)(ep_conf_ctx_t *c, const ep_node_t *node, void *gstate, void **conf);
    /* control thread: the generation built with conf is now live (reconcile runtime state, e.g. weights) */
    void (*on_commit)(void *conf, void *gstate);
    void (*conf_free)(void *conf);

    /* worker thread, once per generation it serves */
    void *(*thread_init)(const void *conf, void *gstate);
    void (*thread_free)(void *tstate);

    /* worker thread, per request */
    ep_status_t (*on_req)(const void *conf, void *gstate, void *tstate, ep_req_t *req);
    /* response headers are known (before they are sent): may change status/headers, or replace the whole
     * response (ep_req_t.response_replaced) */
    void (*on_response)(const void *conf, void *gstate, void *tstate, ep_req_t *req);
    /* the response is done (never responds, never fails): metrics, rollback windows */
    void (*on_log)(const void *conf, void *gstate, void *tstate, ep_req_t *req);

    /* admin thread: handle a call whose path starts with admin_prefix (e.g. "/canary"); return 1 if handled */
    const char *admin_prefix;
    int (*on_admin)(void *gstate, ep_admin_req_t *areq);
    /* admin thread: append Prometheus text for GET /metrics */
    void (*metrics)(void *gstate, const struct st_ep_generation_t *gen, rs_buf_t *out);
} ep_module_t;

#endif
