/* SPDX-License-Identifier: MIT */
/* What the core knows about a request beyond ep_req_t (modules/module.h), for the core's own modules (identity,
 * access log) and the admin counters. */
#ifndef EP_PIPELINE_H
#define EP_PIPELINE_H

#include "module.h"
#include "upstream.h"

/** The ep_req_t of an h2o request handled by the pipeline, or NULL. */
ep_req_t *ep_req_of(h2o_req_t *req);
/** host:port of the server the request was sent to (the last one, after a retry), or NULL. */
const char *ep_req_server(const ep_req_t *r);
/** 1 when the request was retried on another server after a connect failure. */
int ep_req_retried(const ep_req_t *r);

/** Fills buf with a fresh request id (32 lowercase hex characters + NUL); buf must hold 33 bytes. */
void ep_request_id_generate(char *buf);

#endif
