/* SPDX-License-Identifier: MIT */
/* The admin listener (status, reload, metrics, module endpoints) on its own thread. */
#ifndef EP_ADMIN_H
#define EP_ADMIN_H

#include "config.h"

/** Binds the admin listener from the start-up config and starts its thread (no-op when disabled). */
int ep_admin_start(const ep_config_t *conf);

#endif
