/* SPDX-License-Identifier: MIT */
/* Built-in demo origins for `edgeproxy --demo`: small HTTP/1.1 servers on loopback that echo what they got. */
#ifndef EP_DEMO_H
#define EP_DEMO_H

#include <stdint.h>

typedef struct st_ep_demo_origin_t {
    const char *name; /* "multi-stable" */
    uint16_t port;
} ep_demo_origin_t;

/** Starts one thread serving every origin of the NULL-name-terminated list. 0 or -1 (port in use). */
int ep_demo_start(const ep_demo_origin_t *origins);

#endif
