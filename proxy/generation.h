/* SPDX-License-Identifier: MIT */
/* A generation: the parsed config plus every module's conf, immutable once built and shared by all worker
 * threads. Reference counted (atomic): each worker holds one reference to its current generation and each
 * request pins the one it started on, so a reload never changes the config under a running request. */
#ifndef EP_GENERATION_H
#define EP_GENERATION_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include "config.h"
#include "util/util.h"

#define EP_MAX_MODULES 16

typedef struct st_ep_generation_t {
    uint64_t id;
    atomic_long refcnt;
    ep_config_t *conf;
    size_t nmodules;
    void *module_conf[EP_MAX_MODULES]; /* index as in ep_modules() */
    time_t created;
} ep_generation_t;

/** Command-line settings that override the file (they apply to every generation). */
typedef struct st_ep_overrides_t {
    const char *listen;       /* replaces the first listener's address */
    const char *admin_listen; /* replaces admin.listen */
    const char *state_dir;
} ep_overrides_t;

/** Reads `path`, parses the core sections and hands every other top-level key to the module of that name
 *  (unknown keys are errors). Returns NULL with all errors added. refcnt starts at 1. */
ep_generation_t *ep_generation_build(const char *path, const ep_overrides_t *ov, uint64_t id, rs_errors_t *errs);
/** Same, from text (tests, fuzzing). */
ep_generation_t *ep_generation_build_text(const char *name, const char *text, size_t len, const ep_overrides_t *ov, uint64_t id,
                                          rs_errors_t *errs);
void ep_generation_retain(ep_generation_t *gen);
void ep_generation_release(ep_generation_t *gen);

/** The conf a module built for this generation (NULL when the module is not linked or keeps none). */
const void *ep_generation_module_conf(const struct st_ep_generation_t *gen, const char *module_name);

/** During a module's on_config: the core config of the generation being built (its upstreams are already
 *  resolved), or NULL when the core sections had errors. NULL outside on_config. */
const ep_config_t *ep_generation_building(void);
/** The upstream of that name in a config (NULL when absent). */
struct st_ep_upstream_t *ep_config_upstream(const ep_config_t *conf, const char *name);
/** During on_config: whether the config being built defines that upstream (a module checking the names it
 *  references; upstreams of older generations do not count). */
int ep_generation_building_has_upstream(const char *name);
/** During on_config: whether the config being built defines that WAF rule set (a key of waf.rulesets), so a
 *  module can check the rule set names it references before the waf module has read its section. 1 when there
 *  is nothing to check against: outside on_config, or waf.rulesets is not a mapping (its own error). */
int ep_generation_building_has_ruleset(const char *name);
/** Request time: the upstream of that name in the request's generation, or NULL. */
struct st_ep_upstream_t *ep_generation_upstream(const ep_generation_t *gen, const char *name);

/* ---- the live generation (control side) ---- */

/** Installs the first generation (at start-up). Takes the caller's reference. */
void ep_generation_set_initial(ep_generation_t *gen, const char *path, const ep_overrides_t *ov);
/** Current generation, retained: release it when done. */
ep_generation_t *ep_generation_current(void);
/** Builds a new generation from the start-up file and, when valid, publishes it to the workers and commits the
 *  modules. Serialised (SIGHUP and POST /reload may race). Returns 0, or -1 with errors (old keeps serving). */
int ep_generation_reload(rs_errors_t *errs);
/** Number of generations still alive (tests and /status: old ones disappear when their last request ends). */
long ep_generation_alive(void);

#endif
