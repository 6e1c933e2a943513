/* SPDX-License-Identifier: MIT */
/* The admin listener: its own thread, event loop and h2o configuration, default 127.0.0.1:9901. Every call
 * needs `Authorization: Bearer <token>` (compared in constant time against every configured token). Built in:
 * GET /status, POST /reload, GET /metrics; other paths go to the module whose admin_prefix matches. */
#include "admin.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <strings.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "generation.h"
#include "registry.h"
#include "upstream.h"
#include "worker.h"

static h2o_globalconf_t admin_conf;
static h2o_context_t admin_ctx;
static h2o_accept_ctx_t admin_accept;
static h2o_evloop_t *admin_loop;
static int admin_fd = -1;
static time_t started_at;

static void json_escape(rs_buf_t *b, const char *s)
{
    rs_buf_putc(b, '"');
    for (; *s != '\0'; ++s) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            rs_buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            rs_buf_printf(b, "\\u%04x", c);
        else
            rs_buf_putc(b, (char)c);
    }
    rs_buf_putc(b, '"');
}

/* Returns the name of the matching token or NULL. Every token is compared in full. */
static const char *authenticate(h2o_req_t *req, const ep_config_t *conf)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i < 0)
        return NULL;
    h2o_iovec_t v = req->headers.entries[i].value;
    if (v.len < 7 || strncasecmp(v.base, "Bearer ", 7) != 0)
        return NULL;
    const char *tok = v.base + 7;
    size_t len = v.len - 7;
    const char *found = NULL;
    for (size_t k = 0; k < conf->admin.ntokens; ++k) {
        const char *t = conf->admin.tokens[k].token;
        size_t tl = strlen(t);
        char buf[256] = {0};
        memcpy(buf, tok, len < sizeof(buf) ? len : sizeof(buf));
        int same = CRYPTO_memcmp(buf, t, tl < sizeof(buf) ? tl : sizeof(buf)) == 0 && tl == len;
        if (same && found == NULL)
            found = conf->admin.tokens[k].name;
    }
    return found;
}

static void upstream_status(ep_upstream_t *up, void *arg)
{
    rs_buf_t *b = arg;
    uint64_t now = ep_now_ms();
    if (b->base[b->len - 1] != '[')
        rs_buf_putc(b, ',');
    rs_buf_append(b, "{\"name\":", 8);
    json_escape(b, up->name);
    rs_buf_append(b, ",\"servers\":[", 12);
    for (size_t i = 0; i < up->nservers; ++i) {
        ep_server_t *s = up->servers[i];
        rs_buf_printf(b, "%s{\"address\":", i ? "," : "");
        json_escape(b, s->hostport);
        rs_buf_printf(b, ",\"healthy\":%s,\"inflight\":%u,\"consecutive_failures\":%u}",
                      atomic_load(&s->down_until_ms) > now ? "false" : "true", atomic_load(&s->inflight),
                      atomic_load(&s->consecutive_failures));
    }
    rs_buf_append(b, "]}", 2);
}

static void upstream_metrics(ep_upstream_t *up, void *arg)
{
    rs_buf_t *b = arg;
    uint64_t now = ep_now_ms();
    for (size_t i = 0; i < up->nservers; ++i) {
        ep_server_t *s = up->servers[i];
        rs_buf_printf(b, "edgeproxy_upstream_requests_total{upstream=\"%s\",server=\"%s\"} %llu\n", up->name, s->hostport,
                      (unsigned long long)atomic_load(&s->requests));
        rs_buf_printf(b, "edgeproxy_upstream_connect_failures_total{upstream=\"%s\",server=\"%s\"} %llu\n", up->name, s->hostport,
                      (unsigned long long)atomic_load(&s->connect_failures));
        rs_buf_printf(b, "edgeproxy_upstream_inflight{upstream=\"%s\",server=\"%s\"} %u\n", up->name, s->hostport,
                      atomic_load(&s->inflight));
        rs_buf_printf(b, "edgeproxy_upstream_healthy{upstream=\"%s\",server=\"%s\"} %d\n", up->name, s->hostport,
                      atomic_load(&s->down_until_ms) <= now);
    }
}

static void build_status(rs_buf_t *b, const ep_generation_t *gen)
{
    rs_buf_printf(b, "{\"version\":\"%s\",\"generation\":%llu,\"generations_alive\":%ld,\"uptime_s\":%lld,\"workers\":%u",
                  EP_VERSION, (unsigned long long)gen->id, ep_generation_alive(), (long long)(time(NULL) - started_at),
                  ep_workers_count());
    uint64_t conns = 0, active = 0;
    for (unsigned i = 0; i < ep_workers_count(); ++i) {
        conns += atomic_load(&ep_worker_at(i)->stats.connections);
        active += atomic_load(&ep_worker_at(i)->stats.active_requests);
    }
    rs_buf_printf(b, ",\"connections\":%llu,\"active_requests\":%llu,\"upstreams\":[", (unsigned long long)conns,
                  (unsigned long long)active);
    ep_upstream_foreach(upstream_status, b);
    rs_buf_append(b, "]}\n", 3);
}

static void build_metrics(rs_buf_t *b, const ep_generation_t *gen)
{
    uint64_t req = 0, cls[6] = {0}, conns = 0, active = 0, retries = 0, l503 = 0, u504 = 0;
    for (unsigned i = 0; i < ep_workers_count(); ++i) {
        ep_worker_stats_t *s = &ep_worker_at(i)->stats;
        req += atomic_load(&s->requests);
        for (int k = 0; k < 6; ++k)
            cls[k] += atomic_load(&s->status_class[k]);
        conns += atomic_load(&s->connections);
        active += atomic_load(&s->active_requests);
        retries += atomic_load(&s->upstream_retries);
        l503 += atomic_load(&s->local_503);
        u504 += atomic_load(&s->upstream_504);
    }
    rs_buf_printf(b, "# TYPE edgeproxy_requests_total counter\nedgeproxy_requests_total %llu\n", (unsigned long long)req);
    rs_buf_append(b, "# TYPE edgeproxy_responses_total counter\n", 41);
    for (int k = 1; k < 6; ++k)
        rs_buf_printf(b, "edgeproxy_responses_total{class=\"%dxx\"} %llu\n", k, (unsigned long long)cls[k]);
    rs_buf_printf(b,
                  "# TYPE edgeproxy_connections gauge\nedgeproxy_connections %llu\n"
                  "# TYPE edgeproxy_active_requests gauge\nedgeproxy_active_requests %llu\n"
                  "# TYPE edgeproxy_upstream_retries_total counter\nedgeproxy_upstream_retries_total %llu\n"
                  "# TYPE edgeproxy_upstream_busy_total counter\nedgeproxy_upstream_busy_total %llu\n"
                  "# TYPE edgeproxy_upstream_timeouts_total counter\nedgeproxy_upstream_timeouts_total %llu\n"
                  "# TYPE edgeproxy_generation gauge\nedgeproxy_generation %llu\n"
                  "# TYPE edgeproxy_generations_alive gauge\nedgeproxy_generations_alive %ld\n",
                  (unsigned long long)conns, (unsigned long long)active, (unsigned long long)retries, (unsigned long long)l503,
                  (unsigned long long)u504, (unsigned long long)gen->id, ep_generation_alive());
    ep_upstream_foreach(upstream_metrics, b);
    size_t n;
    const ep_module_t *const *mods = ep_modules(&n);
    for (size_t i = 0; i < n; ++i)
        if (mods[i]->metrics != NULL)
            mods[i]->metrics(ep_module_gstate(i), gen, b);
}

static int respond(h2o_req_t *req, int status, const char *reason, const char *ctype, rs_buf_t *body)
{
    req->res.status = status;
    req->res.reason = reason;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype, strlen(ctype));
    req->res.content_length = body->len;
    h2o_send_inline(req, body->base != NULL ? body->base : "", body->len);
    rs_buf_free(body);
    return 0;
}

static int is(h2o_iovec_t v, const char *s)
{
    return h2o_memis(v.base, v.len, s, strlen(s));
}

static int on_admin_req(h2o_handler_t *self, h2o_req_t *req)
{
    ep_generation_t *gen = ep_generation_current();
    rs_buf_t body = {0};
    size_t pathlen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    h2o_iovec_t path = h2o_iovec_init(req->path.base, pathlen);
    const char *token_name = authenticate(req, gen->conf);
    int rc;
    if (token_name == NULL) {
        rs_buf_printf(&body, "{\"error\":\"unauthorized\"}\n");
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, H2O_STRLIT("Bearer"));
        rc = respond(req, 401, "Unauthorized", "application/json", &body);
    } else if (is(path, "/status") && is(req->method, "GET")) {
        build_status(&body, gen);
        rc = respond(req, 200, "OK", "application/json", &body);
    } else if (is(path, "/metrics") && is(req->method, "GET")) {
        build_metrics(&body, gen);
        rc = respond(req, 200, "OK", "text/plain; version=0.0.4", &body);
    } else if (is(path, "/reload") && is(req->method, "POST")) {
        rs_errors_t errs = {0};
        if (ep_generation_reload(&errs) == 0) {
            ep_generation_t *now = ep_generation_current();
            rs_buf_printf(&body, "{\"reloaded\":true,\"generation\":%llu}\n", (unsigned long long)now->id);
            ep_generation_release(now);
            fprintf(stderr, "edgeproxy: reloaded by admin token '%s'\n", token_name);
            rc = respond(req, 200, "OK", "application/json", &body);
        } else {
            rs_buf_printf(&body, "{\"reloaded\":false,\"errors\":[");
            for (size_t i = 0; i < errs.count; ++i) {
                char line[1024];
                rs_error_format(&errs.items[i], line, sizeof(line));
                if (i != 0)
                    rs_buf_putc(&body, ',');
                json_escape(&body, line);
                fprintf(stderr, "edgeproxy: reload rejected: %s\n", line);
            }
            rs_buf_printf(&body, "]}\n");
            rs_errors_free(&errs);
            rc = respond(req, 422, "Unprocessable Entity", "application/json", &body);
        }
    } else {
        size_t n;
        const ep_module_t *const *mods = ep_modules(&n);
        int handled = 0;
        char *cpath = h2o_mem_alloc_pool(&req->pool, path.len + 1), *method = h2o_mem_alloc_pool(&req->pool, req->method.len + 1);
        memcpy(cpath, path.base, path.len);
        cpath[path.len] = '\0';
        memcpy(method, req->method.base, req->method.len);
        method[req->method.len] = '\0';
        for (size_t i = 0; i < n && !handled; ++i) {
            const ep_module_t *m = mods[i];
            if (m->on_admin == NULL || m->admin_prefix == NULL)
                continue;
            size_t pl = strlen(m->admin_prefix);
            if (path.len < pl || memcmp(path.base, m->admin_prefix, pl) != 0 || (path.len > pl && path.base[pl] != '/'))
                continue;
            char peer[64] = "";
            struct sockaddr_storage ss;
            socklen_t sl = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
            if (sl != 0) {
                size_t pl2 = h2o_socket_getnumerichost((struct sockaddr *)&ss, sl, peer);
                peer[pl2 != SIZE_MAX ? pl2 : 0] = '\0';
            }
            ep_admin_req_t areq = {.method = method,
                                   .path = cpath,
                                   .body = req->entity.base != NULL ? req->entity : h2o_iovec_init("", 0),
                                   .token_name = token_name,
                                   .client_addr = peer,
                                   .gen = gen,
                                   .status = 200,
                                   .out = &body};
            handled = m->on_admin(ep_module_gstate(i), &areq);
            if (handled) {
                rc = respond(req, areq.status, areq.status < 400 ? "OK" : "Error", "application/json", &body);
                break;
            }
            rs_buf_reset(&body);
        }
        if (!handled) {
            rs_buf_printf(&body, "{\"error\":\"not found\"}\n");
            rc = respond(req, 404, "Not Found", "application/json", &body);
        }
    }
    ep_generation_release(gen);
    return rc;
}

static void *admin_main(void *arg)
{
    /* loop and context are created on the thread that runs them */
    admin_loop = h2o_evloop_create();
    h2o_context_init(&admin_ctx, admin_loop, &admin_conf);
    admin_accept = (h2o_accept_ctx_t){.ctx = &admin_ctx, .hosts = admin_conf.hosts};
    h2o_socket_t *listener = h2o_evloop_socket_create(admin_loop, admin_fd, H2O_SOCKET_FLAG_DONT_READ);
    listener->data = &admin_accept;
    h2o_socket_read_start(listener, ep_accept_batch);
    for (;;)
        h2o_evloop_run(admin_loop, INT32_MAX);
    return NULL;
}

int ep_admin_start(const ep_config_t *conf)
{
    started_at = time(NULL);
    if (!conf->admin.enabled)
        return 0;
    if (conf->admin.ntokens == 0)
        fprintf(stderr, "edgeproxy: warning: admin listener has no tokens; every call will be refused (401)\n");
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    struct sockaddr_in *v4 = (void *)&ss;
    struct sockaddr_in6 *v6 = (void *)&ss;
    if (inet_pton(AF_INET, conf->admin.host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(conf->admin.port);
        sl = sizeof(*v4);
    } else if (inet_pton(AF_INET6, conf->admin.host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(conf->admin.port);
        sl = sizeof(*v6);
    } else {
        fprintf(stderr, "edgeproxy: admin listen address must be a numeric IP: %s\n", conf->admin.host);
        return -1;
    }
    int one = 1;
    admin_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (admin_fd < 0 || setsockopt(admin_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(admin_fd, (struct sockaddr *)&ss, sl) != 0 || listen(admin_fd, 64) != 0) {
        fprintf(stderr, "edgeproxy: admin listen %s:%u: %m\n", conf->admin.host, conf->admin.port);
        return -1;
    }
    h2o_config_init(&admin_conf);
    admin_conf.server_name = h2o_iovec_init(H2O_STRLIT("edgeproxy-admin"));
    admin_conf.max_request_entity_size = 16 * 1024 * 1024;
    admin_conf.http1.upgrade_to_http2 = 0;
    h2o_hostconf_t *host = h2o_config_register_host(&admin_conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *root = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *h = h2o_create_handler(root, sizeof(*h));
    h->on_req = on_admin_req;
    pthread_t tid;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&tid, NULL, admin_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return -1;
    pthread_detach(tid);
    return 0;
}
