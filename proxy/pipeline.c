/* SPDX-License-Identifier: MIT */
/* The single h2o handler and its filter and logger. Per request: pin the worker's generation, check limits,
 * assign the request id, run every module's on_req in registry order, then proxy to the chosen upstream with
 * h2o_req_overrides_t + h2o_reprocess_request. The filter turns libh2o's 502s into 504 (timeouts) or a retry
 * on another server (idempotent request whose connect failed), adds the request id to the response, runs
 * the on_response hooks and, when one of them replaced the response, sends its body instead of the upstream's;
 * the logger runs the on_log hooks. */
#include "pipeline.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "registry.h"
#include "worker.h"

typedef struct st_ep_pctx_t {
    ep_req_t r; /* first: ep_req_t * and ep_pctx_t * are the same pointer */
    ep_worker_gen_t *wg;
    ep_upstream_t *up;
    ep_server_t *server;
    h2o_iovec_t upstream_path;
    h2o_iovec_t rewrite_prefix;
    size_t errlog_mark;
    int retried;
    int response_hooks_ran;
} ep_pctx_t;

static const char env_key[] = "EP_PIPELINE_CTX";

ep_req_t *ep_req_of(h2o_req_t *req)
{
    h2o_iovec_t *slot = h2o_req_getenv(req, env_key, sizeof(env_key) - 1, 0);
    return slot != NULL ? (ep_req_t *)slot->base : NULL;
}

const char *ep_req_server(const ep_req_t *r)
{
    const ep_pctx_t *p = (const ep_pctx_t *)r;
    return p->server != NULL ? p->server->hostport : NULL;
}

int ep_req_retried(const ep_req_t *r)
{
    return ((const ep_pctx_t *)r)->retried;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void ep_request_id_generate(char *buf)
{
    /* xorshift128+ seeded per thread from getrandom: unique and unpredictable enough for correlation ids */
    static __thread uint64_t s[2];
    if (s[0] == 0 && s[1] == 0) {
        if (getrandom(s, sizeof(s), 0) != sizeof(s) || (s[0] == 0 && s[1] == 0)) {
            s[0] = now_ns() ^ (uint64_t)(uintptr_t)&s;
            s[1] = 0x9e3779b97f4a7c15ull;
        }
    }
    uint64_t out[2];
    for (int i = 0; i < 2; ++i) {
        uint64_t x = s[0], y = s[1];
        s[0] = y;
        x ^= x << 23;
        s[1] = x ^ y ^ (x >> 17) ^ (y >> 26);
        out[i] = s[1] + y;
    }
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; ++i) {
        unsigned char b = (unsigned char)(out[i / 8] >> ((i % 8) * 8));
        buf[2 * i] = hex[b >> 4];
        buf[2 * i + 1] = hex[b & 15];
    }
    buf[32] = '\0';
}

static int request_id_acceptable(h2o_iovec_t v)
{
    if (v.len == 0 || v.len > 128)
        return 0;
    for (size_t i = 0; i < v.len; ++i) {
        unsigned char c = (unsigned char)v.base[i];
        if (c <= 0x20 || c >= 0x7f)
            return 0;
    }
    return 1;
}

static void on_pctx_dispose(void *_p)
{
    ep_pctx_t *p = _p;
    if (p->server != NULL)
        ep_server_release(p->server);
    ep_worker_t *w = p->wg->worker;
    atomic_fetch_sub_explicit(&w->stats.active_requests, 1, memory_order_relaxed);
    ep_worker_gen_release(p->wg);
}

static int method_is_idempotent(h2o_iovec_t m)
{
    static const char *const list[] = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE", NULL};
    for (const char *const *p = list; *p != NULL; ++p)
        if (h2o_memis(m.base, m.len, *p, strlen(*p)))
            return 1;
    return 0;
}

/* Sends the request to `s` (already acquired). `deferred`: from inside a filter, where libh2o must finish the
 * current response first. */
static void send_upstream(ep_pctx_t *p, h2o_req_t *req, ep_server_t *s, int deferred)
{
    const ep_config_t *conf = p->r.gen->conf;
    p->server = s;
    h2o_req_overrides_t *ov = h2o_mem_alloc_pool(&req->pool, sizeof(*ov));
    memset(ov, 0, sizeof(*ov));
    ov->socketpool = &s->pool;
    ov->client_ctx = &p->wg->client_ctx;
    ov->location_rewrite.match = &s->url;
    ov->location_rewrite.path_prefix = p->rewrite_prefix;
    h2o_headers_command_t *cmds = h2o_mem_alloc_pool(&req->pool, 2 * sizeof(*cmds));
    h2o_iovec_t *name = h2o_mem_alloc_pool(&req->pool, sizeof(*name));
    *name = h2o_iovec_init(conf->request_id.header, strlen(conf->request_id.header));
    cmds[0] = (h2o_headers_command_t){H2O_HEADERS_CMD_SET, name, p->r.request_id};
    cmds[1] = (h2o_headers_command_t){.cmd = H2O_HEADERS_CMD_NULL};
    ov->headers_cmds = cmds;
    p->errlog_mark = req->error_logs.size;
    if (deferred)
        h2o_reprocess_request_deferred(req, req->method, req->scheme, req->authority, p->upstream_path, ov, 0);
    else
        h2o_reprocess_request(req, req->method, req->scheme, req->authority, p->upstream_path, ov, 0);
}

static int reject(h2o_req_t *req, int status, const char *reason, const char *body)
{
    h2o_send_error_generic(req, status, reason, body, 0);
    return 0;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    ep_worker_t *w = ep_self;
    ep_worker_gen_t *wg = w->cur;
    const ep_generation_t *gen = wg->gen;
    const ep_config_t *conf = gen->conf;

    ep_pctx_t *p = h2o_mem_alloc_shared(&req->pool, sizeof(*p), on_pctx_dispose);
    memset(p, 0, sizeof(*p));
    p->wg = wg;
    ep_worker_gen_retain(wg);
    atomic_fetch_add_explicit(&w->stats.active_requests, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->stats.requests, 1, memory_order_relaxed);
    p->r.h2o = req;
    p->r.gen = gen;
    p->r.worker_index = w->index;
    p->r.start_ns = now_ns();
    *h2o_req_getenv(req, env_key, sizeof(env_key) - 1, 1) = h2o_iovec_init((char *)p, 0);

    /* request id: the client's only when trusted and sane */
    ssize_t hi = h2o_find_header_by_str(&req->headers, conf->request_id.header, strlen(conf->request_id.header), -1);
    if (conf->request_id.trust_incoming && hi >= 0 && request_id_acceptable(req->headers.entries[hi].value)) {
        p->r.request_id = req->headers.entries[hi].value;
    } else {
        char *id = h2o_mem_alloc_pool(&req->pool, 33);
        ep_request_id_generate(id);
        p->r.request_id = h2o_iovec_init(id, 32);
    }

    /* limits libh2o does not enforce itself (its own caps are 100 headers and ~400 KiB of head) */
    size_t header_bytes = req->input.authority.len + req->input.path.len;
    for (size_t i = 0; i < req->headers.size; ++i)
        header_bytes += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 4;
    if (req->headers.size > conf->limits.max_header_count || header_bytes > conf->limits.max_header_size)
        return reject(req, 431, "Request Header Fields Too Large", "request header fields too large\n");
    if (req->entity.base != NULL && req->entity.len > conf->limits.max_body_size)
        return reject(req, 413, "Request Entity Too Large", "request entity is too large\n");

    size_t n;
    const ep_module_t *const *mods = ep_modules(&n);
    for (size_t i = 0; i < n && i < gen->nmodules; ++i) {
        if (mods[i]->on_req == NULL)
            continue;
        if (mods[i]->on_req(gen->module_conf[i], ep_module_gstate(i), wg->tstate[i], &p->r) == EP_DONE)
            return 0;
    }

    /* upstream: a module's choice, else the route table, else the default upstream */
    ep_upstream_t *up = (ep_upstream_t *)p->r.upstream;
    p->upstream_path = req->path;
    p->rewrite_prefix = h2o_iovec_init(H2O_STRLIT("/"));
    if (up == NULL) {
        h2o_iovec_t host = req->authority;
        const char *colon = host.len != 0 && host.base[0] != '[' ? memchr(host.base, ':', host.len) : NULL;
        size_t hostlen = colon != NULL ? (size_t)(colon - host.base) : host.len;
        const ep_route_t *route = ep_config_route(conf, host.base, hostlen, req->path.base, req->path.len);
        if (route != NULL) {
            up = route->upstream;
            if (route->strip_prefix && route->path_prefix_len > 1) {
                size_t plen = route->path_prefix_len;
                if (req->path.len > plen && req->path.base[plen] == '/') {
                    p->upstream_path = h2o_iovec_init(req->path.base + plen, req->path.len - plen);
                } else {
                    /* "/api" or "/api?x" -> "/" or "/?x" */
                    char *np = h2o_mem_alloc_pool(&req->pool, req->path.len - plen + 2);
                    np[0] = '/';
                    memcpy(np + 1, req->path.base + plen, req->path.len - plen);
                    p->upstream_path = h2o_iovec_init(np, req->path.len - plen + 1);
                }
                p->rewrite_prefix = h2o_iovec_init(route->path_prefix, route->path_prefix_len);
            }
        } else {
            up = conf->default_upstream;
        }
        p->r.upstream = up;
    }
    if (p->r.upstream_path.base != NULL)
        p->upstream_path = p->r.upstream_path;
    if (up == NULL)
        return reject(req, 404, "Not Found", "no route\n");
    p->up = up;

    int busy = 0;
    ep_server_t *s = ep_upstream_pick(up, NULL, ep_now_ms(), &busy);
    if (s == NULL) {
        if (busy) {
            atomic_fetch_add_explicit(&w->stats.local_503, 1, memory_order_relaxed);
            return reject(req, 503, "Service Unavailable", "upstream at capacity\n");
        }
        return reject(req, 502, "Bad Gateway", "no healthy upstream server\n");
    }
    ep_server_acquire(s);
    send_upstream(p, req, s, 0);
    return 0;
}

/* ------------------------------------------------------------ filter */

static void swallow_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt, h2o_send_state_t state)
{
}

/* The output stream of a replaced response (ep_req_t.response_replaced): whatever the generator sends first
 * (the upstream's first body chunk, the end of an empty body, or an upstream error) is dropped and answered
 * with the whole replacement body as the final send. The upstream body is never passed on; the generator is
 * stopped when the request is disposed (its upstream connection is closed, not pooled, since its body was not
 * read). libh2o offers no public way to end a response before the generator's first send, so the answer
 * leaves when the upstream's first body bytes (or its end, or the io timeout) arrive. */
typedef struct st_ep_replacement_ostream_t {
    h2o_ostream_t super;
    h2o_iovec_t body;
} ep_replacement_ostream_t;

static void replacement_send(h2o_ostream_t *_self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt, h2o_send_state_t state)
{
    ep_replacement_ostream_t *self = (ep_replacement_ostream_t *)_self;
    int head = h2o_memis(req->input.method.base, req->input.method.len, H2O_STRLIT("HEAD"));
    h2o_ostream_send_next(&self->super, req, &self->body, head || self->body.len == 0 ? 0 : 1, H2O_SEND_STATE_FINAL);
}

/* libh2o 2.2.5 prepends filters (h2o_create_filter), so this one, registered after the path's chunked encoder,
 * runs first: the replacement stream goes to the top of the chain (required to end the response with our
 * final send), and the chunked encoder, set up after us, sees the replacement's Content-Length. */
static void setup_replacement(ep_pctx_t *p, h2o_req_t *req, h2o_ostream_t ***slot)
{
    req->res.content_length = p->r.response_body.len;
    ssize_t te;
    while ((te = h2o_find_header(&req->res.headers, H2O_TOKEN_TRANSFER_ENCODING, -1)) != -1)
        h2o_delete_header(&req->res.headers, te);
    ep_replacement_ostream_t *os = (ep_replacement_ostream_t *)h2o_add_ostream(req, sizeof(*os), *slot);
    os->super.do_send = replacement_send;
    os->body = p->r.response_body;
    *slot = &os->super.next;
}

static int errlog_is(h2o_req_t *req, size_t mark, const char *const *msgs)
{
    if (req->error_logs.size <= mark)
        return 0;
    h2o_iovec_t m = req->error_logs.entries[req->error_logs.size - 1].msg;
    for (const char *const *p = msgs; *p != NULL; ++p)
        if (h2o_memis(m.base, m.len, *p, strlen(*p)))
            return 1;
    return 0;
}

static void on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    ep_pctx_t *p = (ep_pctx_t *)ep_req_of(req);
    if (p == NULL) {
        h2o_setup_next_ostream(req, slot);
        return;
    }
    ep_worker_t *w = p->wg->worker;
    if (p->server != NULL && !p->response_hooks_ran) {
        /* nothing was sent on a failed or timed-out connect: it counts for health and may be retried */
        static const char *const connect_errors[] = {"connection failed", "failed to connect to host", "connection timeout", NULL};
        static const char *const timeouts[] = {"I/O timeout", "connection timeout", NULL};
        int connect_failed = req->res.status == 502 && errlog_is(req, p->errlog_mark, connect_errors);
        int timed_out = req->res.status == 502 && errlog_is(req, p->errlog_mark, timeouts);
        uint64_t now = ep_now_ms();
        ep_server_report(p->up, p->server, connect_failed, now);
        if (connect_failed && !p->retried && method_is_idempotent(req->method)) {
            ep_server_t *other = ep_upstream_pick(p->up, p->server, now, NULL);
            if (other != NULL) {
                p->retried = 1;
                atomic_fetch_add_explicit(&w->stats.upstream_retries, 1, memory_order_relaxed);
                ep_server_release(p->server);
                ep_server_acquire(other);
                send_upstream(p, req, other, 1);
                h2o_ostream_t *os = h2o_add_ostream(req, sizeof(*os), slot);
                os->do_send = swallow_send;
                return;
            }
        }
        if (timed_out) {
            atomic_fetch_add_explicit(&w->stats.upstream_504, 1, memory_order_relaxed);
            req->res.status = 504;
            req->res.reason = "Gateway Timeout";
        }
    }
    const ep_config_t *conf = p->r.gen->conf;
    h2o_set_header_by_str(&req->pool, &req->res.headers, conf->request_id.header, strlen(conf->request_id.header), 0,
                          p->r.request_id.base, p->r.request_id.len, 1);
    if (!p->response_hooks_ran) {
        p->response_hooks_ran = 1;
        size_t n;
        const ep_module_t *const *mods = ep_modules(&n);
        for (size_t i = 0; i < n && i < p->r.gen->nmodules; ++i)
            if (mods[i]->on_response != NULL)
                mods[i]->on_response(p->r.gen->module_conf[i], ep_module_gstate(i), p->wg->tstate[i], &p->r);
        if (p->r.response_replaced) {
            /* the hook replaced the headers: the request id goes on the new answer too */
            h2o_set_header_by_str(&req->pool, &req->res.headers, conf->request_id.header, strlen(conf->request_id.header), 0,
                                  p->r.request_id.base, p->r.request_id.len, 1);
            setup_replacement(p, req, &slot);
        }
    }
    h2o_setup_next_ostream(req, slot);
}

/* ------------------------------------------------------------ logger */

static void log_access(h2o_logger_t *self, h2o_req_t *req)
{
    ep_pctx_t *p = (ep_pctx_t *)ep_req_of(req);
    if (p == NULL)
        return;
    ep_worker_t *w = p->wg->worker;
    int cls = req->res.status / 100;
    if (cls < 1 || cls > 5)
        cls = 0;
    atomic_fetch_add_explicit(&w->stats.status_class[cls], 1, memory_order_relaxed);
    size_t n;
    const ep_module_t *const *mods = ep_modules(&n);
    for (size_t i = 0; i < n && i < p->r.gen->nmodules; ++i)
        if (mods[i]->on_log != NULL)
            mods[i]->on_log(p->r.gen->module_conf[i], ep_module_gstate(i), p->wg->tstate[i], &p->r);
}

void ep_pipeline_register(h2o_pathconf_t *pathconf)
{
    h2o_handler_t *h = h2o_create_handler(pathconf, sizeof(*h));
    h->on_req = on_req;
    h2o_filter_t *f = h2o_create_filter(pathconf, sizeof(*f));
    f->on_setup_ostream = on_setup_ostream;
    h2o_logger_t *l = h2o_create_logger(pathconf, sizeof(*l));
    l->log_access = log_access;
}
