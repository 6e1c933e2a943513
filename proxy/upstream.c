/* SPDX-License-Identifier: MIT */
/* The upstream registry: servers keyed by host:port (one h2o socket pool each) and named upstreams keyed by
 * name + servers + parameters, created on demand and kept for the life of the process. A housekeeping thread
 * owns the loop that runs the pools' idle timers: libh2o needs h2o_socketpool_set_timeout() on a loop before a
 * pool is first used (a NULL loop segfaults), and that call is only safe on the loop's own thread. */
#include "upstream.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"

struct timer_request {
    h2o_multithread_message_t super;
    ep_server_t *server;
    uint64_t idle_ms;
    int done;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t timer_done = PTHREAD_COND_INITIALIZER;
static ep_server_t **servers;
static size_t nservers, servers_cap;
static ep_upstream_t **upstreams;
static size_t nupstreams, upstreams_cap;

static struct {
    int started;
    pthread_t tid;
    h2o_evloop_t *loop;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t receiver;
} house;

uint64_t ep_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n, sz);
    if (p == NULL)
        abort();
    return p;
}

static void grow(void ***arr, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    size_t ncap = *cap == 0 ? 16 : *cap * 2;
    void **n = realloc(*arr, ncap * sizeof(void *));
    if (n == NULL)
        abort();
    *arr = n;
    *cap = ncap;
}

/* ------------------------------------------------------------ housekeeping loop */

static void on_timer_request(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    while (!h2o_linklist_is_empty(messages)) {
        struct timer_request *r = H2O_STRUCT_FROM_MEMBER(struct timer_request, super.link, messages->next);
        h2o_linklist_unlink(&r->super.link);
        h2o_socketpool_set_timeout(&r->server->pool, house.loop, r->idle_ms);
        pthread_mutex_lock(&registry_lock);
        r->done = 1;
        pthread_cond_broadcast(&timer_done);
        pthread_mutex_unlock(&registry_lock);
    }
}

static void *house_main(void *arg)
{
    for (;;)
        h2o_evloop_run(house.loop, INT32_MAX);
    return NULL;
}

/* Runs set_timeout on the housekeeping loop and waits for it. Called with registry_lock held. */
static void link_pool_timer(ep_server_t *s, uint64_t idle_ms)
{
    struct timer_request r = {.server = s, .idle_ms = idle_ms};
    h2o_multithread_send_message(&house.receiver, &r.super);
    while (!r.done)
        pthread_cond_wait(&timer_done, &registry_lock);
}

int ep_upstream_registry_start(void)
{
    pthread_mutex_lock(&registry_lock);
    if (house.started) {
        pthread_mutex_unlock(&registry_lock);
        return 0;
    }
    house.loop = h2o_evloop_create();
    house.queue = h2o_multithread_create_queue(house.loop);
    h2o_multithread_register_receiver(house.queue, &house.receiver, on_timer_request);
    /* pools created before the start (the first generation) get their timers now, on this thread, before the
     * loop runs: the loop is not running yet, so this is still single-threaded use of it */
    for (size_t i = 0; i < nservers; ++i)
        h2o_socketpool_set_timeout(&servers[i]->pool, house.loop, servers[i]->pool.timeout);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&house.tid, NULL, house_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_mutex_unlock(&registry_lock);
        return -1;
    }
    pthread_detach(house.tid);
    house.started = 1;
    pthread_mutex_unlock(&registry_lock);
    return 0;
}

/* ------------------------------------------------------------ registry */

static ep_server_t *server_get_locked(const char *hostport, uint64_t idle_ms, char *err, size_t errsize)
{
    for (size_t i = 0; i < nservers; ++i)
        if (strcmp(servers[i]->hostport, hostport) == 0)
            return servers[i];

    char host[256];
    uint16_t port;
    if (ep_split_hostport(hostport, host, sizeof(host), &port) != 0) {
        snprintf(err, errsize, "invalid server '%s' (expected host:port)", hostport);
        return NULL;
    }
    ep_server_t *s = xcalloc(1, sizeof(*s));
    s->hostport = strdup(hostport);
    char url[300];
    snprintf(url, sizeof(url), strchr(host, ':') != NULL ? "http://[%s]:%u/" : "http://%s:%u/", host, port);
    if (h2o_url_parse(url, SIZE_MAX, &s->url) != 0) {
        snprintf(err, errsize, "invalid server '%s'", hostport);
        free(s->hostport);
        free(s);
        return NULL;
    }
    /* numeric addresses become a sockaddr pool (no DNS on the request path); names are resolved per connect */
    struct sockaddr_storage ss = {0};
    socklen_t sslen = 0;
    struct sockaddr_in *v4 = (void *)&ss;
    struct sockaddr_in6 *v6 = (void *)&ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        sslen = sizeof(*v4);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        sslen = sizeof(*v6);
    }
    if (sslen != 0)
        h2o_socketpool_init_by_address(&s->pool, (struct sockaddr *)&ss, sslen, 0, SIZE_MAX);
    else
        h2o_socketpool_init_by_hostport(&s->pool, h2o_iovec_init(host, strlen(host)), port, 0, SIZE_MAX);
    s->pool.timeout = idle_ms;
    if (house.started)
        link_pool_timer(s, idle_ms);
    grow((void ***)&servers, &servers_cap, nservers + 1);
    servers[nservers++] = s;
    return s;
}

static int same_upstream(const ep_upstream_t *up, const char *name, const char *const *hostports, size_t n,
                         const ep_upstream_params_t *p)
{
    if (strcmp(up->name, name) != 0 || up->nservers != n || memcmp(&up->params, p, sizeof(*p)) != 0)
        return 0;
    for (size_t i = 0; i < n; ++i)
        if (strcmp(up->servers[i]->hostport, hostports[i]) != 0)
            return 0;
    return 1;
}

ep_upstream_t *ep_upstream_get(const char *name, const char *const *hostports, size_t n, const ep_upstream_params_t *params,
                               char *err, size_t errsize)
{
    ep_upstream_params_t p = *params;
    if (p.fail_threshold == 0)
        p.fail_threshold = 1;
    if (n == 0) {
        snprintf(err, errsize, "upstream '%s' has no servers", name);
        return NULL;
    }
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < nupstreams; ++i) {
        if (same_upstream(upstreams[i], name, hostports, n, &p)) {
            ep_upstream_t *found = upstreams[i];
            pthread_mutex_unlock(&registry_lock);
            return found;
        }
    }
    ep_server_t **list = xcalloc(n, sizeof(*list));
    for (size_t i = 0; i < n; ++i) {
        if ((list[i] = server_get_locked(hostports[i], p.keepalive_ms, err, errsize)) == NULL) {
            pthread_mutex_unlock(&registry_lock);
            free(list);
            return NULL;
        }
    }
    ep_upstream_t *up = xcalloc(1, sizeof(*up));
    up->name = strdup(name);
    up->servers = list;
    up->nservers = n;
    up->params = p;
    grow((void ***)&upstreams, &upstreams_cap, nupstreams + 1);
    upstreams[nupstreams++] = up;
    pthread_mutex_unlock(&registry_lock);
    return up;
}

void ep_upstream_foreach(void (*cb)(ep_upstream_t *up, void *arg), void *arg)
{
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < nupstreams; ++i)
        cb(upstreams[i], arg);
    pthread_mutex_unlock(&registry_lock);
}

/* ------------------------------------------------------------ selection and health */

ep_server_t *ep_upstream_pick(ep_upstream_t *up, const ep_server_t *exclude, uint64_t now_ms, int *all_busy)
{
    unsigned start = atomic_fetch_add_explicit(&up->rr, 1, memory_order_relaxed);
    int busy = 0, usable = 0;
    for (size_t k = 0; k < up->nservers; ++k) {
        ep_server_t *s = up->servers[(start + k) % up->nservers];
        if (s == exclude)
            continue;
        if (atomic_load_explicit(&s->down_until_ms, memory_order_relaxed) > now_ms)
            continue;
        ++usable;
        if (up->params.max_conns != 0 && atomic_load_explicit(&s->inflight, memory_order_relaxed) >= up->params.max_conns) {
            ++busy;
            continue;
        }
        if (all_busy != NULL)
            *all_busy = 0;
        return s;
    }
    if (all_busy != NULL)
        *all_busy = usable != 0 && busy == usable;
    return NULL;
}

void ep_server_acquire(ep_server_t *s)
{
    atomic_fetch_add_explicit(&s->inflight, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->requests, 1, memory_order_relaxed);
}

void ep_server_release(ep_server_t *s)
{
    atomic_fetch_sub_explicit(&s->inflight, 1, memory_order_relaxed);
}

void ep_server_report(ep_upstream_t *up, ep_server_t *s, int connect_failed, uint64_t now_ms)
{
    if (!connect_failed) {
        if (atomic_load_explicit(&s->consecutive_failures, memory_order_relaxed) != 0)
            atomic_store_explicit(&s->consecutive_failures, 0, memory_order_relaxed);
        return;
    }
    atomic_fetch_add_explicit(&s->connect_failures, 1, memory_order_relaxed);
    unsigned n = atomic_fetch_add_explicit(&s->consecutive_failures, 1, memory_order_relaxed) + 1;
    if (n >= up->params.fail_threshold) {
        atomic_store_explicit(&s->down_until_ms, now_ms + up->params.fail_skip_ms, memory_order_relaxed);
        /* the next failure after the skip period marks it down again at once */
        atomic_store_explicit(&s->consecutive_failures, up->params.fail_threshold - 1, memory_order_relaxed);
    }
}
