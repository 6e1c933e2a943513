/* SPDX-License-Identifier: MIT */
/* The explicit module order of the pipeline. A weak module that is not linked in has address NULL and is
 * skipped: its config section is then an unknown key, which -t reports. */
#include "registry.h"

#include <stdio.h>
#include <string.h>

#define EP_MAX_MODULES 16

static const ep_module_t *modules[EP_MAX_MODULES];
static size_t nmodules;
static void *gstates[EP_MAX_MODULES];
static int globals_ready;

static void build_list(void)
{
    if (nmodules != 0)
        return;
    const ep_module_t *ordered[] = {&ep_module_identity, &ep_module_tenant, &ep_module_waf, &ep_module_canary,
                                    &ep_module_accesslog};
    for (size_t i = 0; i < sizeof(ordered) / sizeof(ordered[0]); ++i)
        if (ordered[i] != NULL)
            modules[nmodules++] = ordered[i];
}

const ep_module_t *const *ep_modules(size_t *count)
{
    build_list();
    *count = nmodules;
    return modules;
}

int ep_module_index(const char *name)
{
    build_list();
    for (size_t i = 0; i < nmodules; ++i)
        if (strcmp(modules[i]->name, name) == 0)
            return (int)i;
    return -1;
}

int ep_modules_global_init(void)
{
    build_list();
    if (globals_ready)
        return 0;
    for (size_t i = 0; i < nmodules; ++i) {
        if (modules[i]->global_init != NULL && modules[i]->global_init(&gstates[i]) != 0) {
            fprintf(stderr, "edgeproxy: module '%s' failed to initialise\n", modules[i]->name);
            return -1;
        }
    }
    globals_ready = 1;
    return 0;
}

void *ep_module_gstate(size_t index)
{
    return index < nmodules ? gstates[index] : NULL;
}
