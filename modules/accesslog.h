/* SPDX-License-Identifier: MIT */
/* The JSON access log (module "access_log"): formatting and the SIGUSR1 reopen. */
#ifndef EP_ACCESSLOG_H
#define EP_ACCESSLOG_H

#include <stdint.h>
#include "module.h"

/** Reopens the access log file at the same path (logrotate). 0 or -1. */
int ep_accesslog_reopen(void);
/** Appends the JSON line for a finished request (newline included). */
void ep_accesslog_format(rs_buf_t *b, ep_req_t *r, uint64_t now_ns);

#endif
