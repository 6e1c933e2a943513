/* SPDX-License-Identifier: MIT */
/* Building, publishing and freeing generations. A build is all-or-nothing: when the core or any module reports
 * an error, everything built so far is freed and nothing changes (modules may not touch their process-wide
 * state before on_commit). Reloads are serialised by one mutex; they run on the thread that asked (the main
 * thread for SIGHUP, the admin thread for POST /reload), never on a worker. */
#include "generation.h"

#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "worker.h"

static atomic_long alive;
static __thread const ep_config_t *building;
static __thread const ep_node_t *building_root; /* the document being built, during on_config */
static __thread int building_modules;

const ep_config_t *ep_generation_building(void)
{
    return building;
}

struct st_ep_upstream_t *ep_config_upstream(const ep_config_t *conf, const char *name)
{
    for (size_t i = 0; conf != NULL && i < conf->nupstreams; ++i)
        if (strcmp(conf->upstreams[i].name, name) == 0)
            return conf->upstreams[i].rt;
    return NULL;
}

int ep_generation_building_has_upstream(const char *name)
{
    /* with broken core sections there is nothing to check against, and their errors are the ones to read */
    return building == NULL || ep_config_upstream(building, name) != NULL;
}

int ep_generation_building_has_ruleset(const char *name)
{
    if (!building_modules)
        return 1;
    const ep_node_t *waf = ep_node_get(building_root, "waf");
    if (waf == NULL)
        return 0; /* no WAF: no rule set of any name */
    const ep_node_t *sets = ep_node_get(waf, "rulesets");
    if (sets == NULL || sets->type != EP_NODE_MAP)
        return 1; /* the waf module reports that */
    for (size_t i = 0; i < sets->count; ++i)
        if (sets->keys[i]->type == EP_NODE_SCALAR && strcmp(sets->keys[i]->scalar, name) == 0)
            return 1;
    return 0;
}

struct st_ep_upstream_t *ep_generation_upstream(const ep_generation_t *gen, const char *name)
{
    return gen != NULL && name != NULL ? ep_config_upstream(gen->conf, name) : NULL;
}

static void free_generation(ep_generation_t *gen)
{
    size_t n;
    const ep_module_t *const *mods = ep_modules(&n);
    for (size_t i = 0; i < gen->nmodules && i < n; ++i)
        if (gen->module_conf[i] != NULL && mods[i]->conf_free != NULL)
            mods[i]->conf_free(gen->module_conf[i]);
    ep_config_free(gen->conf);
    free(gen);
    atomic_fetch_sub(&alive, 1);
}

void ep_generation_retain(ep_generation_t *gen)
{
    atomic_fetch_add_explicit(&gen->refcnt, 1, memory_order_relaxed);
}

void ep_generation_release(ep_generation_t *gen)
{
    if (gen != NULL && atomic_fetch_sub_explicit(&gen->refcnt, 1, memory_order_acq_rel) == 1)
        free_generation(gen);
}

long ep_generation_alive(void)
{
    return atomic_load(&alive);
}

const void *ep_generation_module_conf(const struct st_ep_generation_t *gen, const char *module_name)
{
    int i = ep_module_index(module_name);
    return gen != NULL && i >= 0 && (size_t)i < gen->nmodules ? gen->module_conf[i] : NULL;
}

static void apply_overrides(ep_conf_ctx_t *c, ep_config_t *conf, const ep_overrides_t *ov)
{
    char host[256];
    uint16_t port;
    if (ov == NULL)
        return;
    if (ov->listen != NULL) {
        if (ep_split_hostport(ov->listen, host, sizeof(host), &port) != 0) {
            rs_errors_add(c->errs, "--listen", 0, 0, "invalid address '%s' (expected host:port)", ov->listen);
        } else {
            if (conf->nlisten == 0) {
                conf->listen = calloc(1, sizeof(*conf->listen));
                conf->nlisten = 1;
            }
            free(conf->listen[0].host);
            conf->listen[0].host = strdup(host);
            conf->listen[0].port = port;
        }
    }
    if (ov->admin_listen != NULL) {
        if (ep_split_hostport(ov->admin_listen, host, sizeof(host), &port) != 0) {
            rs_errors_add(c->errs, "--admin-listen", 0, 0, "invalid address '%s' (expected host:port)", ov->admin_listen);
        } else {
            free(conf->admin.host);
            conf->admin.host = strdup(host);
            conf->admin.port = port;
            conf->admin.enabled = 1;
        }
    }
    if (ov->state_dir != NULL) {
        free(conf->state_dir);
        conf->state_dir = strdup(ov->state_dir);
    }
}

static ep_generation_t *build_from_doc(ep_doc_t *doc, const char *file, const ep_overrides_t *ov, uint64_t id, rs_errors_t *errs)
{
    char *dircopy = strdup(file);
    ep_conf_ctx_t c = {.errs = errs, .base_dir = dirname(dircopy)};
    size_t errs_before = errs->count;
    const ep_node_t *root = doc->root;
    ep_generation_t *gen = NULL;

    if (root != NULL && root->type != EP_NODE_MAP) {
        ep_conf_error(&c, root, "the config must be a mapping of sections");
        goto Exit;
    }
    size_t nmods;
    const ep_module_t *const *mods = ep_modules(&nmods);
    /* every top-level key is either the core's or a module's */
    for (size_t i = 0; root != NULL && i < root->count; ++i) {
        const char *k = root->keys[i]->scalar;
        int known = ep_module_index(k) >= 0;
        for (const char *const *p = ep_config_core_keys; !known && *p != NULL; ++p)
            known = strcmp(*p, k) == 0;
        if (!known)
            ep_conf_error(&c, root->keys[i], "unknown top-level key '%s'", k);
    }
    ep_config_t *conf = ep_config_parse(&c, root, file);
    if (conf != NULL)
        apply_overrides(&c, conf, ov);

    gen = calloc(1, sizeof(*gen));
    gen->id = id;
    gen->conf = conf;
    gen->created = time(NULL);
    atomic_init(&gen->refcnt, 1);
    atomic_fetch_add(&alive, 1);
    /* modules run even when the core had errors, so -t lists every problem at once */
    building = conf;
    building_root = root;
    building_modules = 1;
    for (size_t i = 0; i < nmods; ++i) {
        gen->nmodules = i + 1;
        if (mods[i]->on_config == NULL)
            continue;
        const ep_node_t *section = ep_node_get(root, mods[i]->name);
        if (mods[i]->on_config(&c, section, ep_module_gstate(i), &gen->module_conf[i]) != 0 && errs->count == errs_before)
            rs_errors_add(errs, file, section != NULL ? section->line : 0, section != NULL ? section->col : 0,
                          "module '%s' rejected its configuration", mods[i]->name);
    }
    building = NULL;
    building_root = NULL;
    building_modules = 0;
    gen->nmodules = nmods;
    if (errs->count != errs_before || conf == NULL) {
        if (errs->count == errs_before)
            rs_errors_add(errs, file, 0, 0, "invalid configuration");
        free_generation(gen);
        gen = NULL;
    }
Exit:
    free(dircopy);
    return gen;
}

ep_generation_t *ep_generation_build_text(const char *name, const char *text, size_t len, const ep_overrides_t *ov, uint64_t id,
                                          rs_errors_t *errs)
{
    ep_doc_t *doc = ep_doc_parse(name, text, len, errs);
    if (doc == NULL)
        return NULL;
    ep_generation_t *gen = build_from_doc(doc, name, ov, id, errs);
    ep_doc_free(doc);
    return gen;
}

ep_generation_t *ep_generation_build(const char *path, const ep_overrides_t *ov, uint64_t id, rs_errors_t *errs)
{
    ep_doc_t *doc = ep_doc_load(path, errs);
    if (doc == NULL)
        return NULL;
    ep_generation_t *gen = build_from_doc(doc, path, ov, id, errs);
    ep_doc_free(doc);
    return gen;
}

/* ------------------------------------------------------------ the live generation */

static pthread_mutex_t reload_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static ep_generation_t *current;
static char *config_path;
static ep_overrides_t overrides;
static uint64_t next_id = 1;
static uint64_t startup_max_body;

static void commit_modules(ep_generation_t *gen)
{
    size_t n;
    const ep_module_t *const *mods = ep_modules(&n);
    for (size_t i = 0; i < n && i < gen->nmodules; ++i)
        if (mods[i]->on_commit != NULL)
            mods[i]->on_commit(gen->module_conf[i], ep_module_gstate(i));
}

void ep_generation_set_initial(ep_generation_t *gen, const char *path, const ep_overrides_t *ov)
{
    config_path = strdup(path);
    startup_max_body = gen->conf->limits.max_body_size;
    if (ov != NULL)
        overrides = *ov;
    pthread_mutex_lock(&current_lock);
    current = gen;
    next_id = gen->id + 1;
    pthread_mutex_unlock(&current_lock);
    commit_modules(gen);
}

ep_generation_t *ep_generation_current(void)
{
    pthread_mutex_lock(&current_lock);
    ep_generation_t *g = current;
    if (g != NULL)
        ep_generation_retain(g);
    pthread_mutex_unlock(&current_lock);
    return g;
}

/* Settings libh2o fixes at start-up: a reload accepts them but they apply at the next restart. */
static void warn_restart_only(const ep_generation_t *old, const ep_generation_t *gen)
{
    const ep_config_t *a = old->conf, *b = gen->conf;
    int listen_changed = a->nlisten != b->nlisten;
    for (size_t i = 0; !listen_changed && i < a->nlisten; ++i)
        listen_changed = strcmp(a->listen[i].host, b->listen[i].host) != 0 || a->listen[i].port != b->listen[i].port ||
                         (a->listen[i].tls_cert == NULL) != (b->listen[i].tls_cert == NULL) ||
                         a->listen[i].http2 != b->listen[i].http2;
    const char *what[6];
    size_t n = 0;
    if (listen_changed)
        what[n++] = "listen";
    if (a->threads != b->threads)
        what[n++] = "threads";
    if (a->timeouts.client_header_ms != b->timeouts.client_header_ms || a->timeouts.client_idle_ms != b->timeouts.client_idle_ms ||
        a->timeouts.client_keepalive_ms != b->timeouts.client_keepalive_ms)
        what[n++] = "timeouts.client_*";
    if (a->admin.port != b->admin.port || strcmp(a->admin.host, b->admin.host) != 0 || a->admin.enabled != b->admin.enabled)
        what[n++] = "admin.listen";
    if (b->limits.max_body_size > startup_max_body)
        what[n++] = "limits.max_body_size (above the start-up value, which stays the ceiling)";
    for (size_t i = 0; i < n; ++i)
        fprintf(stderr, "edgeproxy: warning: %s changed; it takes effect at the next restart\n", what[i]);
}

int ep_generation_reload(rs_errors_t *errs)
{
    pthread_mutex_lock(&reload_lock);
    ep_generation_t *gen = ep_generation_build(config_path, &overrides, next_id, errs);
    if (gen == NULL) {
        pthread_mutex_unlock(&reload_lock);
        return -1;
    }
    ++next_id;
    warn_restart_only(current, gen);
    ep_workers_publish(gen);
    pthread_mutex_lock(&current_lock);
    ep_generation_t *old = current;
    current = gen;
    pthread_mutex_unlock(&current_lock);
    commit_modules(gen);
    ep_generation_release(old);
    pthread_mutex_unlock(&reload_lock);
    return 0;
}
