/* SPDX-License-Identifier: MIT */
/* Worker threads and listeners. Sockets are opened on the main thread before the workers start (so a port in
 * use is reported at once), one SO_REUSEPORT socket per worker and listener. h2o's configuration is static:
 * one host, one path, the pipeline handler, filter and logger (pipeline.c); everything that changes on reload
 * lives in the generation, which reaches each worker as a message. */
#include "worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "registry.h"
#include "upstream.h"

__thread ep_worker_t *ep_self;

static h2o_globalconf_t globalconf;
static ep_worker_t *workers;
static unsigned nworkers;
static SSL_CTX *listener_ssl[EP_MAX_LISTENERS];

struct worker_msg {
    h2o_multithread_message_t super;
    ep_generation_t *gen; /* NULL: start draining */
};

/* ------------------------------------------------------------ per-worker generations */

h2o_timeout_t *ep_worker_io_timeout(ep_worker_t *w, uint64_t ms)
{
    for (size_t i = 0; i < w->nio_timeouts; ++i)
        if (w->io_timeouts[i].ms == ms)
            return &w->io_timeouts[i].timeout;
    size_t slot = w->nio_timeouts;
    if (slot == sizeof(w->io_timeouts) / sizeof(w->io_timeouts[0]))
        return &w->io_timeouts[slot - 1].timeout; /* pathological config churn: reuse the last timer */
    w->io_timeouts[slot].ms = ms;
    h2o_timeout_init(w->ctx.loop, &w->io_timeouts[slot].timeout, ms);
    ++w->nio_timeouts;
    return &w->io_timeouts[slot].timeout;
}

static ep_worker_gen_t *worker_gen_create(ep_worker_t *w, ep_generation_t *gen)
{
    ep_worker_gen_t *wg = calloc(1, sizeof(*wg));
    if (wg == NULL)
        abort();
    wg->gen = gen; /* takes the caller's reference */
    wg->worker = w;
    wg->refs = 1;
    size_t n;
    const ep_module_t *const *mods = ep_modules(&n);
    for (size_t i = 0; i < n && i < gen->nmodules; ++i)
        if (mods[i]->thread_init != NULL)
            wg->tstate[i] = mods[i]->thread_init(gen->module_conf[i], ep_module_gstate(i));
    wg->client_ctx.loop = w->ctx.loop;
    wg->client_ctx.getaddr_receiver = &w->ctx.receivers.hostinfo_getaddr;
    /* libh2o 2.2.5 has one upstream I/O timer (connect, first byte and between reads alike) */
    wg->client_ctx.io_timeout = ep_worker_io_timeout(w, gen->conf->timeouts.upstream_first_byte_ms);
    return wg;
}

void ep_worker_gen_retain(ep_worker_gen_t *wg)
{
    ++wg->refs;
}

void ep_worker_gen_release(ep_worker_gen_t *wg)
{
    if (--wg->refs != 0)
        return;
    size_t n;
    const ep_module_t *const *mods = ep_modules(&n);
    for (size_t i = 0; i < n && i < wg->gen->nmodules; ++i)
        if (mods[i]->thread_free != NULL && wg->tstate[i] != NULL)
            mods[i]->thread_free(wg->tstate[i]);
    ep_generation_release(wg->gen);
    free(wg);
}

/* ------------------------------------------------------------ accept + connection counting */

static void on_conn_close(void *data)
{
    ep_worker_t *w = data;
    atomic_fetch_sub_explicit(&w->stats.connections, 1, memory_order_relaxed);
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    ep_worker_t *w = ep_self;
    h2o_accept_ctx_t *actx = listener->data;
    if (err != NULL)
        return;
    /* bounded per wake-up so one busy listener cannot starve the loop */
    for (int i = 0; i < 16; ++i) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL)
            return;
        atomic_fetch_add_explicit(&w->stats.connections, 1, memory_order_relaxed);
        sock->on_close.cb = on_conn_close;
        sock->on_close.data = w;
        h2o_accept(actx, sock);
    }
}

void ep_accept_batch(h2o_socket_t *listener, const char *err)
{
    if (err != NULL)
        return;
    for (int i = 0; i < 16; ++i) { /* bounded per wake-up, as the workers' listeners */
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL)
            return;
        h2o_accept(listener->data, sock);
    }
}

static void stop_listeners(ep_worker_t *w)
{
    for (size_t i = 0; i < w->nlisteners; ++i) {
        if (w->listeners[i] == NULL)
            continue;
        /* take what is already queued: closing a SO_REUSEPORT socket resets its backlog */
        h2o_socket_t *sock;
        while ((sock = h2o_evloop_socket_accept(w->listeners[i])) != NULL) {
            atomic_fetch_add_explicit(&w->stats.connections, 1, memory_order_relaxed);
            sock->on_close.cb = on_conn_close;
            sock->on_close.data = w;
            h2o_accept(&w->accept_ctx[i], sock);
        }
        h2o_socket_read_stop(w->listeners[i]);
        h2o_socket_close(w->listeners[i]);
        w->listeners[i] = NULL;
    }
}

static void on_message(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    ep_worker_t *w = ep_self;
    while (!h2o_linklist_is_empty(messages)) {
        struct worker_msg *m = H2O_STRUCT_FROM_MEMBER(struct worker_msg, super.link, messages->next);
        h2o_linklist_unlink(&m->super.link);
        if (m->gen != NULL) {
            ep_worker_gen_t *old = w->cur;
            w->cur = worker_gen_create(w, m->gen);
            ep_worker_gen_release(old);
        } else if (!w->draining) {
            w->draining = 1;
            stop_listeners(w);
            h2o_context_request_shutdown(&w->ctx);
        }
        free(m);
    }
}

static void *worker_main(void *arg)
{
    ep_worker_t *w = arg;
    ep_self = w;
    w->loop = h2o_evloop_create();
    h2o_context_init(&w->ctx, w->loop, &globalconf);
    h2o_multithread_register_receiver(w->ctx.queue, &w->receiver, on_message);
    w->cur = worker_gen_create(w, w->startup_gen);
    for (size_t i = 0; i < w->nlisteners; ++i) {
        w->accept_ctx[i] = (h2o_accept_ctx_t){.ctx = &w->ctx, .hosts = globalconf.hosts, .ssl_ctx = listener_ssl[i]};
        w->listeners[i] = h2o_evloop_socket_create(w->loop, w->listen_fds[i], H2O_SOCKET_FLAG_DONT_READ);
        w->listeners[i]->data = &w->accept_ctx[i];
        h2o_socket_read_start(w->listeners[i], on_accept);
    }
    while (!w->draining)
        h2o_evloop_run(w->loop, INT32_MAX);
    /* drain: requests in flight finish; idle HTTP/1 keep-alive connections are not closed by libh2o 2.2.5,
     * so the worker reports itself drained once no request is active (the main thread enforces the deadline) */
    while (atomic_load_explicit(&w->stats.active_requests, memory_order_relaxed) != 0)
        h2o_evloop_run(w->loop, 50);
    /* a few more turns flush the last responses to their sockets */
    for (int i = 0; i < 5; ++i)
        h2o_evloop_run(w->loop, 10);
    atomic_store(&w->drained, 1);
    /* keep running (and keep this thread's memory reachable) until the process exits */
    for (;;)
        h2o_evloop_run(w->loop, INT32_MAX);
    return NULL;
}

/* ------------------------------------------------------------ listeners */

static int open_listener(const ep_listen_conf_t *l)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *res;
    char port[8];
    snprintf(port, sizeof(port), "%u", l->port);
    int rc = getaddrinfo(l->host, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "edgeproxy: listen %s:%u: %s\n", l->host, l->port, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
        listen(fd, 1024) != 0) {
        fprintf(stderr, "edgeproxy: listen %s:%u: %s\n", l->host, l->port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    freeaddrinfo(res);
    return fd;
}

static SSL_CTX *make_ssl_ctx(const ep_listen_conf_t *l)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(ctx, l->tls_cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, l->tls_key, SSL_FILETYPE_PEM) != 1) {
        fprintf(stderr, "edgeproxy: listen %s:%u: cannot load TLS certificate/key\n", l->host, l->port);
        SSL_CTX_free(ctx);
        return NULL;
    }
    static const h2o_iovec_t http1_only[] = {{H2O_STRLIT("http/1.1")}, {NULL, 0}};
    h2o_ssl_register_alpn_protocols(ctx, l->http2 ? h2o_alpn_protocols : http1_only);
    return ctx;
}

static void setup_globalconf(const ep_config_t *conf)
{
    h2o_config_init(&globalconf);
    globalconf.server_name = h2o_iovec_init(H2O_STRLIT("edgeproxy"));
    globalconf.max_request_entity_size = conf->limits.max_body_size;
    /* one libh2o timer serves both the header read and the keep-alive idle wait */
    globalconf.http1.req_timeout = conf->timeouts.client_header_ms < conf->timeouts.client_keepalive_ms
                                       ? conf->timeouts.client_header_ms
                                       : conf->timeouts.client_keepalive_ms;
    globalconf.http1.upgrade_to_http2 = 0; /* no cleartext h2c: HTTP/2 only where a TLS listener enables it */
    globalconf.http2.idle_timeout = conf->timeouts.client_idle_ms;
    globalconf.http2.graceful_shutdown_timeout = conf->shutdown_deadline_ms;
    globalconf.proxy.io_timeout = conf->timeouts.upstream_first_byte_ms;
    globalconf.proxy.emit_x_forwarded_headers = 1;
    globalconf.proxy.emit_via_header = 0;
    h2o_hostconf_t *host = h2o_config_register_host(&globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *root = h2o_config_register_path(host, "/", 0);
    ep_pipeline_register(root);
}

int ep_workers_start(ep_generation_t *gen)
{
    const ep_config_t *conf = gen->conf;
    if (conf->nlisten > EP_MAX_LISTENERS) {
        fprintf(stderr, "edgeproxy: at most %d listeners\n", EP_MAX_LISTENERS);
        return -1;
    }
    setup_globalconf(conf);
    for (size_t i = 0; i < conf->nlisten; ++i)
        if (conf->listen[i].tls_cert != NULL && (listener_ssl[i] = make_ssl_ctx(&conf->listen[i])) == NULL)
            return -1;
    nworkers = conf->threads;
    workers = calloc(nworkers, sizeof(*workers));
    for (unsigned t = 0; t < nworkers; ++t) {
        ep_worker_t *w = &workers[t];
        w->index = t;
        w->nlisteners = conf->nlisten;
        for (size_t i = 0; i < conf->nlisten; ++i)
            if ((w->listen_fds[i] = open_listener(&conf->listen[i])) < 0)
                return -1;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* signals are handled by the main thread only */
    for (unsigned t = 0; t < nworkers; ++t) {
        ep_generation_retain(gen);
        workers[t].startup_gen = gen;
        if (pthread_create(&workers[t].tid, NULL, worker_main, &workers[t]) != 0) {
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            return -1;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return 0;
}

static void send_msg(ep_worker_t *w, ep_generation_t *gen)
{
    struct worker_msg *m = calloc(1, sizeof(*m));
    if (m == NULL)
        abort();
    m->gen = gen;
    /* the receiver is registered on the worker thread; wait until its context exists */
    while (w->receiver.queue == NULL)
        usleep(1000);
    h2o_multithread_send_message(&w->receiver, &m->super);
}

void ep_workers_publish(ep_generation_t *gen)
{
    for (unsigned t = 0; t < nworkers; ++t) {
        ep_generation_retain(gen);
        send_msg(&workers[t], gen);
    }
}

int ep_workers_drain(uint64_t deadline_ms)
{
    uint64_t end = ep_now_ms() + deadline_ms;
    for (unsigned t = 0; t < nworkers; ++t)
        send_msg(&workers[t], NULL);
    for (unsigned t = 0; t < nworkers; ++t) {
        while (!atomic_load(&workers[t].drained)) {
            if (ep_now_ms() >= end)
                return -1;
            usleep(10000);
        }
    }
    return 0;
}

unsigned ep_workers_count(void)
{
    return nworkers;
}

ep_worker_t *ep_worker_at(unsigned i)
{
    return i < nworkers ? &workers[i] : NULL;
}
