/* SPDX-License-Identifier: MIT */
/* The ordered list of pipeline modules (identity -> tenants -> waf -> canary -> access log). The order here IS
 * the request order; the upstream step runs in the core between the last on_req and the response. Modules
 * written by other parts of the project are referenced weakly so the core links while they are being built. */
#ifndef EP_REGISTRY_H
#define EP_REGISTRY_H

#include <stddef.h>
#include "module.h"

extern const ep_module_t ep_module_identity;
extern const ep_module_t ep_module_accesslog;
extern const ep_module_t ep_module_tenant __attribute__((weak));
extern const ep_module_t ep_module_canary __attribute__((weak));
extern const ep_module_t ep_module_waf __attribute__((weak));

/** The modules linked into this binary, in pipeline order (absent weak modules are skipped). */
const ep_module_t *const *ep_modules(size_t *count);
/** Index of a module in ep_modules(), or -1. */
int ep_module_index(const char *name);

/** Process-wide module state (global_init ran once). Index as in ep_modules(). */
int ep_modules_global_init(void);
void *ep_module_gstate(size_t index);

#endif
