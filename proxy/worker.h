/* SPDX-License-Identifier: MIT */
/* Worker threads: one event loop, one h2o context and one SO_REUSEPORT socket per listener each. A worker
 * holds its current generation (swapped only on its own thread, by a message from the control thread) plus
 * the per-thread module state built for it; requests pin that pair until they end. */
#ifndef EP_WORKER_H
#define EP_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include "h2o_wrap.h"
#include "generation.h"

#define EP_MAX_LISTENERS 16

/** A generation as one worker serves it. Only touched on that worker's thread, so `refs` is not atomic. */
typedef struct st_ep_worker_gen_t {
    ep_generation_t *gen;
    struct st_ep_worker_t *worker;
    long refs; /* the worker's own reference (while current) + one per request */
    void *tstate[EP_MAX_MODULES];
    h2o_http1client_ctx_t client_ctx; /* upstream I/O timer of this generation */
} ep_worker_gen_t;

typedef struct st_ep_worker_stats_t {
    atomic_uint_fast64_t requests, status_class[6], active_requests, connections, upstream_retries, local_503, upstream_504;
} ep_worker_stats_t;

typedef struct st_ep_worker_t {
    unsigned index;
    pthread_t tid;
    h2o_evloop_t *loop;
    h2o_context_t ctx;
    size_t nlisteners;
    int listen_fds[EP_MAX_LISTENERS];
    h2o_accept_ctx_t accept_ctx[EP_MAX_LISTENERS];
    h2o_socket_t *listeners[EP_MAX_LISTENERS];
    h2o_multithread_receiver_t receiver; /* generation swaps and the drain order */
    ep_worker_gen_t *cur;
    ep_generation_t *startup_gen;
    int draining;
    atomic_int drained; /* set by the worker once no request is active after the drain order */
    ep_worker_stats_t stats;
    struct {
        uint64_t ms;
        h2o_timeout_t timeout;
    } io_timeouts[8]; /* one per distinct upstream timeout seen (never freed: bounded by distinct values) */
    size_t nio_timeouts;
} ep_worker_t;

/** The worker running on this thread (NULL elsewhere). */
extern __thread ep_worker_t *ep_self;

/** Opens listeners (errors printed, -1) and starts the workers on the first generation. */
int ep_workers_start(ep_generation_t *gen);
/** Hands a new generation to every worker (each takes a reference). */
void ep_workers_publish(ep_generation_t *gen);
/** Graceful stop: stop accepting, let requests in flight finish, up to deadline_ms. Returns when every worker
 *  has stopped (0) or the deadline passed (-1). */
int ep_workers_drain(uint64_t deadline_ms);
unsigned ep_workers_count(void);
ep_worker_t *ep_worker_at(unsigned i);

/* pipeline.c */
void ep_pipeline_register(h2o_pathconf_t *pathconf);
/** A request's hold on its worker generation (taken in the handler, dropped when the request's pool dies). */
void ep_worker_gen_retain(ep_worker_gen_t *wg);
void ep_worker_gen_release(ep_worker_gen_t *wg);
h2o_timeout_t *ep_worker_io_timeout(ep_worker_t *w, uint64_t ms);

/** Read callback for the side listeners (admin API, demo origins): accepts up to 16 connections per wake-up
 *  into the h2o_accept_ctx_t that listener->data points to. */
void ep_accept_batch(h2o_socket_t *listener, const char *err);

#endif
