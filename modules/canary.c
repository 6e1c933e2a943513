/* SPDX-License-Identifier: MIT */
/* The `canary` module: services (host + path prefix) with a stable and a canary upstream, a sticky and
 * monotonic split by weight in basis points, tester overrides, per-variant metrics, automatic rollback over a
 * sliding window and a step schedule (a 1 s ticker thread), and the /canary admin API. Runtime weights live
 * in process-wide slots that outlive generations, are persisted atomically and audited on every change. */
#include "canary.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "module.h"
#include "generation.h"
#include "upstream.h"
#include "jwt_json.h"
#include "split.h"
#include "tenant.h"

#define MAX_SERVICES   64
#define MAX_STEPS      16
#define WINDOW_MAX_S   3600
#define NAME_MAX_LEN   63
#define STATE_FILE     "canary-state.json"
#define AUDIT_FILE     "canary-audit.log"
#define BODY_MAX_DEPTH 8

enum { V_STABLE = 0, V_CANARY = 1 };
enum { P_MULTI = 0, P_SINGLE = 1, P_NONE = 2, P_COUNT = 3 };
static const char *const placement_labels[P_COUNT] = {"multi", "single", "none"};
static const char *const variant_names[2] = {"stable", "canary"};

typedef enum { SCHED_NONE = 0, SCHED_RUNNING, SCHED_DONE, SCHED_STOPPED, SCHED_PAUSED } sched_state_t;
static const char *const sched_names[] = {"none", "running", "done", "stopped", "paused"};

const double ep_canary_lat_bounds_ms[EP_CANARY_LAT_BUCKETS] = {
    1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000, INFINITY};

/* ---- pure pieces (canary.h) ------------------------------------------------------------------------------ */

unsigned ep_canary_lat_bucket(uint64_t latency_us)
{
    double ms = (double)latency_us / 1000.0;
    for (unsigned i = 0; i < EP_CANARY_LAT_BUCKETS - 1; i++)
        if (ms <= ep_canary_lat_bounds_ms[i])
            return i;
    return EP_CANARY_LAT_BUCKETS - 1;
}

double ep_canary_p99_ms(const ep_canary_window_t *w)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < EP_CANARY_LAT_BUCKETS; i++)
        total += w->hist[i];
    if (total == 0)
        return 0;
    uint64_t rank = (total * 99 + 99) / 100; /* ceil(0.99 * total) */
    uint64_t seen = 0;
    for (unsigned i = 0; i < EP_CANARY_LAT_BUCKETS; i++) {
        seen += w->hist[i];
        if (seen >= rank)
            return i == EP_CANARY_LAT_BUCKETS - 1 ? ep_canary_lat_bounds_ms[EP_CANARY_LAT_BUCKETS - 2] * 2
                                                  : ep_canary_lat_bounds_ms[i];
    }
    return ep_canary_lat_bounds_ms[EP_CANARY_LAT_BUCKETS - 2] * 2;
}

ep_canary_health_t ep_canary_judge(const ep_canary_window_t *stable, const ep_canary_window_t *canary,
                                   const ep_canary_rollback_t *rb, char *why, size_t why_size)
{
    double sr = stable->requests ? (double)stable->errors_5xx / (double)stable->requests : 0;
    double cr = canary->requests ? (double)canary->errors_5xx / (double)canary->requests : 0;
    double sp = ep_canary_p99_ms(stable), cp = ep_canary_p99_ms(canary);
    if (canary->requests < rb->min_requests || canary->requests == 0) {
        snprintf(why, why_size, "canary requests %llu < min_requests %llu", (unsigned long long)canary->requests,
                 (unsigned long long)rb->min_requests);
        return EP_CANARY_NO_DATA;
    }
    if (cr > sr + rb->error_margin) {
        snprintf(why, why_size, "canary 5xx ratio %.4f (%llu/%llu) exceeds stable %.4f (%llu/%llu) + margin %.4f over %llus", cr,
                 (unsigned long long)canary->errors_5xx, (unsigned long long)canary->requests, sr,
                 (unsigned long long)stable->errors_5xx, (unsigned long long)stable->requests, rb->error_margin,
                 (unsigned long long)(rb->window_ms / 1000));
        return EP_CANARY_FAILING;
    }
    if (rb->p99_margin_ms > 0 && stable->requests >= rb->min_requests && cp > sp + (double)rb->p99_margin_ms) {
        snprintf(why, why_size, "canary p99 %.1fms exceeds stable p99 %.1fms + margin %llums over %llus (requests %llu/%llu)", cp,
                 sp, (unsigned long long)rb->p99_margin_ms, (unsigned long long)(rb->window_ms / 1000),
                 (unsigned long long)canary->requests, (unsigned long long)stable->requests);
        return EP_CANARY_FAILING;
    }
    snprintf(why, why_size, "healthy: 5xx %.4f vs %.4f, p99 %.1fms vs %.1fms (requests %llu/%llu)", cr, sr, cp, sp,
             (unsigned long long)canary->requests, (unsigned long long)stable->requests);
    return EP_CANARY_HEALTHY;
}

size_t ep_canary_next_step(const uint32_t *steps_bp, size_t nsteps, uint32_t weight_bp)
{
    for (size_t i = 0; i < nsteps; i++)
        if (steps_bp[i] > weight_bp)
            return i;
    return nsteps;
}

/* ---- configuration ------------------------------------------------------------------------------------- */

typedef enum { KEY_NONE = 0, KEY_COOKIE, KEY_HEADER, KEY_TENANT, KEY_CLIENT } sticky_kind_t;

struct svc_slot;

typedef struct {
    char *name;
    char **hosts; /* exact lowercase names or ".suffix" for "*.suffix"; none: any host */
    size_t nhosts;
    char *path_prefix;
    size_t path_prefix_len;
    char *stable, *canary; /* upstream names */
    uint32_t weight_bp;    /* configured */
    sticky_kind_t sticky;
    char *sticky_name; /* cookie name, or lowercase header name */
    char *override_header, *override_cookie, *override_token, *override_token_header;
    ep_cidr_t *trusted;
    size_t ntrusted;
    int rollback_enabled;
    ep_canary_rollback_t rollback;
    uint32_t steps[MAX_STEPS];
    size_t nsteps;
    uint64_t interval_ms;
    struct svc_slot *slot; /* process-wide runtime state (reserved at config time, activated at commit) */
} service_conf_t;

typedef struct {
    atomic_int refcnt;
    service_conf_t *services;
    size_t nservices;
    char *state_file, *audit_log; /* NULL: in the core's state_dir */
} canary_conf_t;

typedef struct {
    int64_t sec; /* monotonic second this bucket holds */
    uint32_t requests[2], errors[2];
    uint32_t hist[2][EP_CANARY_LAT_BUCKETS];
} win_bucket_t;

typedef struct svc_slot {
    char name[NAME_MAX_LEN + 1];
    int committed; /* part of a live generation at least once */
    int active;    /* in the live generation */
    atomic_uint weight_bp;
    uint32_t configured_bp;
    /* schedule */
    sched_state_t sched;
    size_t sched_index;
    int64_t sched_next_at; /* wall clock seconds */
    /* copies of the live config, read by the ticker (under the global lock) */
    int rollback_enabled;
    ep_canary_rollback_t rollback;
    uint32_t steps[MAX_STEPS];
    size_t nsteps;
    uint64_t interval_ms;
    /* the sliding window */
    pthread_mutex_t wlock;
    win_bucket_t win[WINDOW_MAX_S];
    /* metrics */
    atomic_uint_fast64_t requests[2][P_COUNT];
    atomic_uint_fast64_t responses[2][P_COUNT][5];
    atomic_uint_fast64_t lat_hist[2][EP_CANARY_LAT_BUCKETS];
    atomic_uint_fast64_t lat_sum_us[2];
    atomic_uint_fast64_t overrides[2];
    atomic_uint_fast64_t rollbacks, changes;
    char last_reason[200];
    int64_t last_change;
} svc_slot_t;

typedef struct {
    char name[NAME_MAX_LEN + 1];
    uint32_t weight_bp, configured_bp;
    sched_state_t sched;
    size_t sched_index;
    int64_t sched_next_at;
} persisted_t;

typedef struct {
    pthread_mutex_t lock; /* slots' control fields, the state file, the audit log */
    svc_slot_t *slots[MAX_SERVICES];
    size_t nslots;
    canary_conf_t *current;
    char *state_path, *audit_path;
    int warned_no_state;
    persisted_t *persisted;
    size_t npersisted;
    pthread_t ticker;
    int ticker_started;
    pthread_cond_t tick_cond;
    int stopping;
} canary_global_t;

typedef struct {
    uint64_t rng;
} canary_thread_t;

static void conf_destroy(canary_conf_t *c)
{
    for (size_t i = 0; i < c->nservices; i++) {
        service_conf_t *s = &c->services[i];
        free(s->name);
        for (size_t k = 0; k < s->nhosts; k++)
            free(s->hosts[k]);
        free(s->hosts);
        free(s->path_prefix);
        free(s->stable);
        free(s->canary);
        free(s->sticky_name);
        free(s->override_header);
        free(s->override_cookie);
        free(s->override_token);
        free(s->override_token_header);
        free(s->trusted);
    }
    free(c->services);
    free(c->state_file);
    free(c->audit_log);
    free(c);
}

static void conf_release(canary_conf_t *c)
{
    if (c != NULL && atomic_fetch_sub(&c->refcnt, 1) == 1)
        conf_destroy(c);
}

static void canary_conf_free(void *p)
{
    conf_release(p);
}

/* A weight as written in the config: a number of percent (5, 5.5, 0.01). */
static int conf_percent(ep_conf_ctx_t *c, const ep_node_t *n, uint32_t *out_bp)
{
    if (n->type != EP_NODE_SCALAR || n->quoted || ep_split_parse_percent(n->scalar, n->scalar_len, out_bp) != 0)
        return ep_conf_error(c, n, "a weight is a percentage from 0 to 100 in steps of 0.01, e.g. 5 or 12.5");
    return 0;
}

static svc_slot_t *slot_find(canary_global_t *g, const char *name)
{
    for (size_t i = 0; i < g->nslots; i++)
        if (strcmp(g->slots[i]->name, name) == 0)
            return g->slots[i];
    return NULL;
}

/* Reserves a slot by name at config time. It stays inert (not active, weight untouched) until a commit. */
static svc_slot_t *slot_reserve(canary_global_t *g, const char *name, uint32_t weight_bp)
{
    pthread_mutex_lock(&g->lock);
    svc_slot_t *s = slot_find(g, name);
    if (s == NULL && g->nslots < MAX_SERVICES) {
        s = calloc(1, sizeof(*s));
        snprintf(s->name, sizeof(s->name), "%s", name);
        atomic_init(&s->weight_bp, weight_bp);
        s->configured_bp = weight_bp;
        pthread_mutex_init(&s->wlock, NULL);
        g->slots[g->nslots++] = s;
    }
    pthread_mutex_unlock(&g->lock);
    return s;
}

static int read_sticky(ep_conf_ctx_t *c, service_conf_t *s, const ep_node_t *n)
{
    if (n == NULL) {
        s->sticky = KEY_NONE;
        return 0;
    }
    if (n->type == EP_NODE_SCALAR) {
        if (strcmp(n->scalar, "tenant") == 0)
            s->sticky = KEY_TENANT;
        else if (strcmp(n->scalar, "client") == 0)
            s->sticky = KEY_CLIENT;
        else if (strcmp(n->scalar, "none") == 0)
            s->sticky = KEY_NONE;
        else
            return ep_conf_error(c, n, "sticky is tenant, client, none, {cookie: NAME} or {header: NAME}");
        return 0;
    }
    static const char *const keys[] = {"cookie", "header", NULL};
    const char *cookie, *header;
    if (ep_conf_check_map(c, n, "sticky", keys) != 0 || ep_conf_str(c, n, "cookie", NULL, &cookie) != 0 ||
        ep_conf_str(c, n, "header", NULL, &header) != 0)
        return -1;
    if ((cookie == NULL) == (header == NULL))
        return ep_conf_error(c, n, "sticky needs exactly one of cookie or header");
    s->sticky = cookie != NULL ? KEY_COOKIE : KEY_HEADER;
    s->sticky_name = cookie != NULL ? strdup(cookie) : rs_strdup_lower(header);
    return 0;
}

static int read_override(ep_conf_ctx_t *c, service_conf_t *s, const ep_node_t *n)
{
    if (n == NULL)
        return 0;
    static const char *const keys[] = {"header", "cookie", "token", "token_header", "trusted", NULL};
    const char *header, *cookie, *token, *token_header;
    if (ep_conf_check_map(c, n, "override", keys) != 0 || ep_conf_str(c, n, "header", NULL, &header) != 0 ||
        ep_conf_str(c, n, "cookie", NULL, &cookie) != 0 || ep_conf_str(c, n, "token", NULL, &token) != 0 ||
        ep_conf_str(c, n, "token_header", "X-Canary-Token", &token_header) != 0)
        return -1;
    if (header == NULL && cookie == NULL)
        return ep_conf_error(c, n, "override needs a header or a cookie (e.g. header: X-Canary)");
    s->override_header = header != NULL ? rs_strdup_lower(header) : NULL;
    s->override_cookie = cookie != NULL ? strdup(cookie) : NULL;
    s->override_token = token != NULL ? strdup(token) : NULL;
    s->override_token_header = rs_strdup_lower(token_header);
    const ep_node_t *tr = ep_node_get(n, "trusted");
    if (tr != NULL) {
        if (ep_conf_expect(c, tr, EP_NODE_SEQ, "override.trusted") != 0)
            return -1;
        s->trusted = calloc(tr->count + 1, sizeof(*s->trusted));
        for (size_t i = 0; i < tr->count; i++)
            if (tr->values[i]->type != EP_NODE_SCALAR ||
                ep_cidr_parse(tr->values[i]->scalar, tr->values[i]->scalar_len, &s->trusted[s->ntrusted++]) != 0)
                return ep_conf_error(c, tr->values[i], "not an address or CIDR network");
    }
    if (s->override_token == NULL && s->ntrusted == 0)
        return ep_conf_error(c, n, "override needs a token or trusted networks (else nobody could use it)");
    return 0;
}

static int read_rollback(ep_conf_ctx_t *c, service_conf_t *s, const ep_node_t *n)
{
    if (n == NULL)
        return 0;
    static const char *const keys[] = {"window", "min_requests", "error_margin", "p99_margin", NULL};
    int64_t minreq;
    if (ep_conf_check_map(c, n, "rollback", keys) != 0 ||
        ep_conf_duration_ms(c, n, "window", 60000, 1000, (uint64_t)WINDOW_MAX_S * 1000, &s->rollback.window_ms) != 0 ||
        ep_conf_int(c, n, "min_requests", 20, 1, 1000000000, &minreq) != 0 ||
        ep_conf_double(c, n, "error_margin", 0.05, 0, 1, &s->rollback.error_margin) != 0 ||
        ep_conf_duration_ms(c, n, "p99_margin", 0, 0, 600000, &s->rollback.p99_margin_ms) != 0)
        return -1;
    s->rollback.min_requests = (uint64_t)minreq;
    s->rollback_enabled = 1;
    return 0;
}

static int read_schedule(ep_conf_ctx_t *c, service_conf_t *s, const ep_node_t *n)
{
    if (n == NULL)
        return 0;
    static const char *const keys[] = {"steps", "interval", NULL};
    if (ep_conf_check_map(c, n, "schedule", keys) != 0 ||
        ep_conf_duration_ms(c, n, "interval", 600000, 1000, 86400000ull * 30, &s->interval_ms) != 0)
        return -1;
    const ep_node_t *steps = ep_node_get(n, "steps");
    if (steps == NULL || steps->type != EP_NODE_SEQ || steps->count == 0 || steps->count > MAX_STEPS)
        return ep_conf_error(c, steps != NULL ? steps : n, "schedule.steps is a list of 1 to %d increasing percentages", MAX_STEPS);
    for (size_t i = 0; i < steps->count; i++) {
        if (conf_percent(c, steps->values[i], &s->steps[i]) != 0)
            return -1;
        if (i > 0 && s->steps[i] <= s->steps[i - 1])
            return ep_conf_error(c, steps->values[i], "schedule steps must increase");
    }
    s->nsteps = steps->count;
    return 0;
}

static int read_service(ep_conf_ctx_t *c, canary_global_t *g, service_conf_t *s, const ep_node_t *key, const ep_node_t *n)
{
    static const char *const keys[] = {"hosts",  "path_prefix", "stable",   "canary",   "weight",
                                       "sticky", "override",    "rollback", "schedule", NULL};
    if (!ep_tenant_id_valid(key->scalar, strlen(key->scalar)))
        return ep_conf_error(c, key, "a service name is 1-63 of A-Z a-z 0-9 - _");
    s->name = strdup(key->scalar);
    if (ep_conf_expect(c, n, EP_NODE_MAP, "canary.services.*") != 0 || ep_conf_check_map(c, n, "canary service", keys) != 0)
        return -1;
    const char *prefix, *stable, *canary;
    if (ep_conf_str(c, n, "path_prefix", "/", &prefix) != 0 || ep_conf_str(c, n, "stable", NULL, &stable) != 0 ||
        ep_conf_str(c, n, "canary", NULL, &canary) != 0)
        return -1;
    if (prefix[0] != '/')
        return ep_conf_error(c, ep_node_get(n, "path_prefix"), "path_prefix must start with '/'");
    s->path_prefix = strdup(prefix);
    s->path_prefix_len = strlen(prefix);
    if (stable == NULL || canary == NULL)
        return ep_conf_error(c, n, "service '%s' needs 'stable' and 'canary' upstreams", s->name);
    if (!ep_generation_building_has_upstream(stable))
        return ep_conf_error(c, ep_node_get(n, "stable"), "unknown upstream '%s'", stable);
    if (!ep_generation_building_has_upstream(canary))
        return ep_conf_error(c, ep_node_get(n, "canary"), "unknown upstream '%s'", canary);
    s->stable = strdup(stable);
    s->canary = strdup(canary);
    const ep_node_t *w = ep_node_get(n, "weight");
    s->weight_bp = 0;
    if (w != NULL && conf_percent(c, w, &s->weight_bp) != 0)
        return -1;
    const ep_node_t *hosts = ep_node_get(n, "hosts");
    if (hosts != NULL) {
        if (ep_conf_expect(c, hosts, EP_NODE_SEQ, "hosts") != 0)
            return -1;
        s->hosts = calloc(hosts->count + 1, sizeof(*s->hosts));
        for (size_t i = 0; i < hosts->count; i++) {
            const ep_node_t *h = hosts->values[i];
            if (h->type != EP_NODE_SCALAR || h->scalar[0] == '\0' || strchr(h->scalar + 1, '*') != NULL ||
                (h->scalar[0] == '*' && h->scalar[1] != '.'))
                return ep_conf_error(c, h, "a service host is an exact name or '*.suffix'");
            s->hosts[s->nhosts++] = rs_strdup_lower(h->scalar[0] == '*' ? h->scalar + 1 : h->scalar);
        }
    }
    if (read_sticky(c, s, ep_node_get(n, "sticky")) != 0 || read_override(c, s, ep_node_get(n, "override")) != 0 ||
        read_rollback(c, s, ep_node_get(n, "rollback")) != 0 || read_schedule(c, s, ep_node_get(n, "schedule")) != 0)
        return -1;
    if ((s->slot = slot_reserve(g, s->name, s->weight_bp)) == NULL)
        return ep_conf_error(c, key, "more than %d canary services in this process", MAX_SERVICES);
    return 0;
}

static int canary_on_config(ep_conf_ctx_t *c, const ep_node_t *node, void *gstate, void **out)
{
    canary_global_t *g = gstate;
    *out = NULL;
    if (node == NULL)
        return 0;
    static const char *const keys[] = {"services", "state_file", "audit_log", NULL};
    if (ep_conf_check_map(c, node, "canary", keys) != 0)
        return -1;
    canary_conf_t *conf = calloc(1, sizeof(*conf));
    atomic_init(&conf->refcnt, 1);
    if (ep_conf_path(c, node, "state_file", NULL, &conf->state_file) != 0 ||
        ep_conf_path(c, node, "audit_log", NULL, &conf->audit_log) != 0)
        goto fail;
    const ep_node_t *svcs = ep_node_get(node, "services");
    if (svcs != NULL) {
        if (ep_conf_expect(c, svcs, EP_NODE_MAP, "canary.services") != 0)
            goto fail;
        conf->services = calloc(svcs->count + 1, sizeof(*conf->services));
        int ret = 0;
        for (size_t i = 0; i < svcs->count; i++) {
            conf->nservices++;
            if (read_service(c, g, &conf->services[i], svcs->keys[i], svcs->values[i]) != 0)
                ret = -1;
        }
        if (ret != 0)
            goto fail;
    }
    *out = conf;
    return 0;
fail:
    conf_destroy(conf);
    return -1;
}

/* ---- persistence and audit ------------------------------------------------------------------------------ */

static void iso_time(char *buf, size_t size, time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void fmt_percent(rs_buf_t *b, uint32_t bp)
{
    if (bp % 100 == 0)
        rs_buf_printf(b, "%u", bp / 100);
    else if (bp % 10 == 0)
        rs_buf_printf(b, "%u.%u", bp / 100, (bp % 100) / 10);
    else
        rs_buf_printf(b, "%u.%02u", bp / 100, bp % 100);
}

/* Writes the state file: temp file, fsync, rename, fsync of the directory. Under g->lock. */
/* The state directory may not exist yet (a fresh demo, a new machine): create it and its parents. */
static void ensure_parent_dir(const char *path)
{
    char *dir = strdup(path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        for (char *p = dir + 1; *p != '\0'; p++) {
            if (*p != '/')
                continue;
            *p = '\0';
            mkdir(dir, 0755);
            *p = '/';
        }
        mkdir(dir, 0755);
    }
    free(dir);
}

static void persist(canary_global_t *g)
{
    if (g->state_path == NULL)
        return;
    rs_buf_t b = {0};
    rs_buf_printf(&b, "{\"version\":1,\"services\":{");
    int first = 1;
    for (size_t i = 0; i < g->nslots; i++) {
        svc_slot_t *s = g->slots[i];
        if (!s->committed)
            continue;
        rs_buf_printf(&b, "%s\n  ", first ? "" : ",");
        first = 0;
        ep_json_quote(&b, s->name, strlen(s->name));
        rs_buf_printf(
            &b, ":{\"weight_bp\":%u,\"configured_bp\":%u,\"schedule\":\"%s\",\"schedule_index\":%zu,\"next_step_at\":%lld}",
            atomic_load(&s->weight_bp), s->configured_bp, sched_names[s->sched], s->sched_index, (long long)s->sched_next_at);
    }
    rs_buf_printf(&b, "\n}}\n");
    size_t plen = strlen(g->state_path);
    char *tmp = malloc(plen + 16);
    snprintf(tmp, plen + 16, "%s.tmp", g->state_path);
    ensure_parent_dir(g->state_path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int ok = fd >= 0;
    size_t off = 0;
    while (ok && off < b.len) {
        ssize_t n = write(fd, b.base + off, b.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        ok = n > 0;
        off += n > 0 ? (size_t)n : 0;
    }
    ok = ok && fsync(fd) == 0;
    if (fd >= 0)
        ok = close(fd) == 0 && ok;
    ok = ok && rename(tmp, g->state_path) == 0;
    if (ok) {
        char *dir = strdup(g->state_path), *slash = strrchr(dir, '/');
        if (slash != NULL) {
            *(slash == dir ? slash + 1 : slash) = '\0';
            int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dfd >= 0) {
                fsync(dfd);
                close(dfd);
            }
        }
        free(dir);
    } else {
        fprintf(stderr, "edgeproxy: canary: cannot write %s: %s\n", g->state_path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    rs_buf_free(&b);
}

static void load_persisted(canary_global_t *g)
{
    rs_buf_t buf = {0};
    if (rs_read_file(g->state_path, 1 << 20, &buf) != 0) {
        if (errno != ENOENT) /* no state yet is the normal first start */
            fprintf(stderr, "edgeproxy: canary: cannot read state file %s: %s\n", g->state_path, strerror(errno));
        rs_buf_free(&buf);
        return;
    }
    char err[128];
    ep_json_doc_t *doc = ep_json_parse(buf.base, buf.len, BODY_MAX_DEPTH, err, sizeof(err));
    rs_buf_free(&buf);
    if (doc == NULL) {
        fprintf(stderr, "edgeproxy: canary: ignoring unreadable state file %s: %s\n", g->state_path, err);
        return;
    }
    const ep_json_t *svcs = ep_json_get(ep_json_root(doc), "services");
    if (svcs != NULL && svcs->type == EP_JSON_OBJECT) {
        g->persisted = calloc(svcs->count + 1, sizeof(*g->persisted));
        for (size_t i = 0; i < svcs->count; i++) {
            const ep_json_t *e = svcs->items[i];
            const ep_json_t *w = ep_json_get(e, "weight_bp"), *cw = ep_json_get(e, "configured_bp");
            const ep_json_t *si = ep_json_get(e, "schedule_index"), *na = ep_json_get(e, "next_step_at");
            const char *sched = ep_json_get_str(e, "schedule");
            if (w == NULL || w->type != EP_JSON_NUMBER || w->number < 0 || w->number > EP_SPLIT_SCALE || cw == NULL ||
                cw->type != EP_JSON_NUMBER || cw->number < 0 || cw->number > EP_SPLIT_SCALE || strlen(svcs->keys[i]) > NAME_MAX_LEN)
                continue;
            persisted_t *p = &g->persisted[g->npersisted++];
            snprintf(p->name, sizeof(p->name), "%s", svcs->keys[i]);
            p->weight_bp = (uint32_t)w->number;
            p->configured_bp = (uint32_t)cw->number;
            for (int k = 0; sched != NULL && k <= SCHED_PAUSED; k++)
                if (strcmp(sched, sched_names[k]) == 0)
                    p->sched = (sched_state_t)k;
            p->sched_index =
                si != NULL && si->type == EP_JSON_NUMBER && si->number >= 0 && si->number <= MAX_STEPS ? (size_t)si->number : 0;
            p->sched_next_at = na != NULL && na->type == EP_JSON_NUMBER ? (int64_t)na->number : 0;
        }
    }
    ep_json_free(doc);
}

typedef struct {
    const char *action; /* set, rollback, promote, auto-rollback, schedule, config */
    const char *token, *client;
    const char *reason;
    const char *figures; /* auto-rollback and schedule: the numbers that decided it */
} audit_t;

/* One JSON line per change. Under g->lock. */
static void audit(canary_global_t *g, svc_slot_t *s, uint32_t old_bp, uint32_t new_bp, const audit_t *a)
{
    char ts[32];
    time_t now = time(NULL);
    iso_time(ts, sizeof(ts), now);
    rs_buf_t b = {0};
    rs_buf_printf(&b, "{\"time\":\"%s\",\"action\":\"%s\",\"service\":", ts, a->action);
    ep_json_quote(&b, s->name, strlen(s->name));
    rs_buf_printf(&b, ",\"old_weight\":");
    fmt_percent(&b, old_bp);
    rs_buf_printf(&b, ",\"new_weight\":");
    fmt_percent(&b, new_bp);
    rs_buf_printf(&b, ",\"token\":");
    if (a->token != NULL)
        ep_json_quote(&b, a->token, strlen(a->token));
    else
        rs_buf_printf(&b, "null");
    rs_buf_printf(&b, ",\"client\":");
    if (a->client != NULL && a->client[0] != '\0')
        ep_json_quote(&b, a->client, strlen(a->client));
    else
        rs_buf_printf(&b, "null");
    rs_buf_printf(&b, ",\"reason\":");
    if (a->reason != NULL)
        ep_json_quote(&b, a->reason, strlen(a->reason));
    else
        rs_buf_printf(&b, "null");
    if (a->figures != NULL) {
        rs_buf_printf(&b, ",\"figures\":");
        ep_json_quote(&b, a->figures, strlen(a->figures));
    }
    rs_buf_printf(&b, "}\n");
    snprintf(s->last_reason, sizeof(s->last_reason), "%s: %s", a->action,
             a->reason != NULL    ? a->reason
             : a->figures != NULL ? a->figures
                                  : "");
    s->last_change = (int64_t)now;
    atomic_fetch_add(&s->changes, 1);
    if (g->audit_path != NULL) {
        ensure_parent_dir(g->audit_path);
        int fd = open(g->audit_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, b.base, b.len) != (ssize_t)b.len)
            fprintf(stderr, "edgeproxy: canary: cannot append to audit log %s: %s\n", g->audit_path, strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    rs_buf_free(&b);
}

/* Sets a weight and records it. Under g->lock. */
static void change_weight(canary_global_t *g, svc_slot_t *s, uint32_t new_bp, const audit_t *a)
{
    uint32_t old = atomic_exchange(&s->weight_bp, new_bp);
    audit(g, s, old, new_bp, a);
    fprintf(stderr, "edgeproxy: canary: service '%s' weight %u.%02u%% -> %u.%02u%% (%s%s%s)\n", s->name, old / 100, old % 100,
            new_bp / 100, new_bp % 100, a->action, a->reason != NULL || a->figures != NULL ? ": " : "",
            a->reason != NULL    ? a->reason
            : a->figures != NULL ? a->figures
                                 : "");
    persist(g);
}

static void schedule_reset(svc_slot_t *s, int64_t now)
{
    if (s->nsteps == 0) {
        s->sched = SCHED_NONE;
        return;
    }
    s->sched_index = ep_canary_next_step(s->steps, s->nsteps, atomic_load(&s->weight_bp));
    s->sched = s->sched_index < s->nsteps ? SCHED_RUNNING : SCHED_DONE;
    s->sched_next_at = now + (int64_t)(s->interval_ms / 1000);
}

/* ---- the ticker: automatic rollback and the schedule ------------------------------------------------------ */

static int64_t mono_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

static void window_sum(svc_slot_t *s, uint64_t window_ms, ep_canary_window_t out[2])
{
    memset(out, 0, 2 * sizeof(*out));
    int64_t now = mono_sec(), from = now - (int64_t)(window_ms / 1000) + 1;
    pthread_mutex_lock(&s->wlock);
    for (int64_t sec = from; sec <= now; sec++) {
        const win_bucket_t *b = &s->win[sec % WINDOW_MAX_S];
        if (b->sec != sec || sec <= 0)
            continue; /* a stale bucket from an earlier lap of the ring */
        for (int v = 0; v < 2; v++) {
            out[v].requests += b->requests[v];
            out[v].errors_5xx += b->errors[v];
            for (unsigned k = 0; k < EP_CANARY_LAT_BUCKETS; k++)
                out[v].hist[k] += b->hist[v][k];
        }
    }
    pthread_mutex_unlock(&s->wlock);
}

static void window_clear(svc_slot_t *s)
{
    pthread_mutex_lock(&s->wlock);
    memset(s->win, 0, sizeof(s->win));
    pthread_mutex_unlock(&s->wlock);
}

static void tick_service(canary_global_t *g, svc_slot_t *s, int64_t now)
{
    uint32_t w = atomic_load(&s->weight_bp);
    char why[300];
    ep_canary_health_t health = EP_CANARY_NO_DATA;
    if (s->rollback_enabled) {
        ep_canary_window_t win[2];
        window_sum(s, s->rollback.window_ms, win);
        health = ep_canary_judge(&win[V_STABLE], &win[V_CANARY], &s->rollback, why, sizeof(why));
        if (health == EP_CANARY_FAILING && w > 0) {
            if (s->sched == SCHED_RUNNING || s->sched == SCHED_PAUSED)
                s->sched = SCHED_STOPPED;
            atomic_fetch_add(&s->rollbacks, 1);
            change_weight(g, s, 0, &(audit_t){.action = "auto-rollback", .reason = "auto-rollback", .figures = why});
            /* the next judgement starts from fresh figures, not the ones that just failed */
            window_clear(s);
            return;
        }
    }
    if (s->sched == SCHED_RUNNING && now >= s->sched_next_at) {
        /* a failing window was handled above; without evidence hold the step until the window has enough
         * canary traffic, except from 0% where there can be none */
        if (s->rollback_enabled && health != EP_CANARY_HEALTHY && w > 0)
            return;
        if (s->sched_index >= s->nsteps) {
            s->sched = SCHED_DONE;
            persist(g);
            return;
        }
        uint32_t next = s->steps[s->sched_index++];
        char fig[400];
        snprintf(fig, sizeof(fig), "step %zu/%zu%s%s", s->sched_index, s->nsteps, s->rollback_enabled ? "; " : "",
                 s->rollback_enabled ? why : "");
        s->sched_next_at = now + (int64_t)(s->interval_ms / 1000);
        if (s->sched_index >= s->nsteps)
            s->sched = SCHED_DONE;
        change_weight(g, s, next, &(audit_t){.action = "schedule", .reason = "schedule", .figures = fig});
    }
}

static void *ticker_main(void *arg)
{
    canary_global_t *g = arg;
    pthread_mutex_lock(&g->lock);
    while (!g->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&g->tick_cond, &g->lock, &until);
        if (g->stopping)
            break;
        int64_t now = (int64_t)time(NULL);
        for (size_t i = 0; i < g->nslots; i++)
            if (g->slots[i]->active)
                tick_service(g, g->slots[i], now);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

/* ---- global state and commit ------------------------------------------------------------------------------- */

static int canary_global_init(void **gstate)
{
    canary_global_t *g = calloc(1, sizeof(*g));
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->tick_cond, NULL);
    *gstate = g;
    return 0;
}

static void canary_global_free(void *gstate)
{
    canary_global_t *g = gstate;
    pthread_mutex_lock(&g->lock);
    g->stopping = 1;
    pthread_cond_broadcast(&g->tick_cond);
    pthread_mutex_unlock(&g->lock);
    if (g->ticker_started)
        pthread_join(g->ticker, NULL);
    conf_release(g->current);
    for (size_t i = 0; i < g->nslots; i++) {
        pthread_mutex_destroy(&g->slots[i]->wlock);
        free(g->slots[i]);
    }
    free(g->state_path);
    free(g->audit_path);
    free(g->persisted);
    pthread_cond_destroy(&g->tick_cond);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

static char *state_path(const char *explicit_path, const char *file)
{
    if (explicit_path != NULL)
        return strdup(explicit_path);
    ep_generation_t *gen = ep_generation_current();
    const char *dir = gen != NULL && gen->conf != NULL ? gen->conf->state_dir : NULL;
    char *p = NULL;
    if (dir != NULL) {
        mkdir(dir, 0755);
        if (asprintf(&p, "%s/%s", dir, file) < 0)
            p = NULL;
    }
    ep_generation_release(gen);
    return p;
}

static void canary_on_commit(void *cp, void *gstate)
{
    canary_global_t *g = gstate;
    canary_conf_t *c = cp, *old;
    int64_t now = (int64_t)time(NULL);
    if (c != NULL)
        atomic_fetch_add(&c->refcnt, 1);
    pthread_mutex_lock(&g->lock);
    old = g->current;
    g->current = c;
    if (c != NULL) {
        char *sp = state_path(c->state_file, STATE_FILE), *ap = state_path(c->audit_log, AUDIT_FILE);
        int path_changed = sp != NULL && (g->state_path == NULL || strcmp(sp, g->state_path) != 0);
        free(g->state_path);
        free(g->audit_path);
        g->state_path = sp;
        g->audit_path = ap;
        if (path_changed) { /* restore once per state file (at start, or when the config moves it) */
            free(g->persisted);
            g->persisted = NULL;
            g->npersisted = 0;
            load_persisted(g);
        }
    }
    for (size_t i = 0; i < g->nslots; i++)
        g->slots[i]->active = 0;
    for (size_t i = 0; c != NULL && i < c->nservices; i++) {
        service_conf_t *sc = &c->services[i];
        svc_slot_t *s = sc->slot;
        int steps_changed =
            s->nsteps != sc->nsteps || memcmp(s->steps, sc->steps, sizeof(s->steps)) != 0 || s->interval_ms != sc->interval_ms;
        s->rollback_enabled = sc->rollback_enabled;
        s->rollback = sc->rollback;
        memcpy(s->steps, sc->steps, sizeof(s->steps));
        s->nsteps = sc->nsteps;
        s->interval_ms = sc->interval_ms;
        s->active = 1;
        if (!s->committed) {
            const persisted_t *p = NULL;
            for (size_t k = 0; k < g->npersisted; k++)
                if (strcmp(g->persisted[k].name, s->name) == 0)
                    p = &g->persisted[k];
            s->committed = 1;
            s->configured_bp = sc->weight_bp;
            if (p != NULL && p->configured_bp == sc->weight_bp) {
                /* restart: the runtime weight and the schedule's progress come back */
                atomic_store(&s->weight_bp, p->weight_bp);
                s->sched = s->nsteps > 0 ? p->sched : SCHED_NONE;
                s->sched_index = p->sched_index < s->nsteps ? p->sched_index : s->nsteps;
                s->sched_next_at = p->sched_next_at;
                if (s->nsteps > 0 && p->sched == SCHED_NONE)
                    schedule_reset(s, now); /* a schedule added to the config while stopped starts now */
                snprintf(s->last_reason, sizeof(s->last_reason), "restored from %s", g->state_path);
            } else {
                atomic_store(&s->weight_bp, sc->weight_bp);
                schedule_reset(s, now);
                if (p != NULL)
                    audit(g, s, p->weight_bp, sc->weight_bp,
                          &(audit_t){.action = "config", .reason = "configured weight changed while stopped"});
            }
        } else if (s->configured_bp != sc->weight_bp) {
            /* the config changed this service's weight: it wins over the runtime value */
            uint32_t was = atomic_load(&s->weight_bp);
            s->configured_bp = sc->weight_bp;
            atomic_store(&s->weight_bp, sc->weight_bp);
            schedule_reset(s, now);
            audit(g, s, was, sc->weight_bp, &(audit_t){.action = "config", .reason = "configured weight changed by a reload"});
        } else if (steps_changed) {
            schedule_reset(s, now);
        }
    }
    if (g->state_path == NULL && c != NULL && c->nservices > 0 && !g->warned_no_state) {
        g->warned_no_state = 1;
        fprintf(stderr, "edgeproxy: canary: no state_dir (or canary.state_file) configured: runtime weights are not "
                        "persisted across restarts\n");
    }
    persist(g);
    if (!g->ticker_started && c != NULL && c->nservices > 0)
        g->ticker_started = pthread_create(&g->ticker, NULL, ticker_main, g) == 0;
    pthread_mutex_unlock(&g->lock);
    conf_release(old);
}

static void *canary_thread_init(const void *conf, void *gstate)
{
    canary_thread_t *t = calloc(1, sizeof(*t));
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    t->rng = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)t;
    return t;
}

static void canary_thread_free(void *tstate)
{
    free(tstate);
}

/* ---- request path ---------------------------------------------------------------------------------------- */

static h2o_iovec_t header_value(h2o_req_t *h, const char *lower_name)
{
    ssize_t i = h2o_find_header_by_str(&h->headers, lower_name, strlen(lower_name), -1);
    return i >= 0 ? h->headers.entries[i].value : h2o_iovec_init(NULL, 0);
}

static h2o_iovec_t cookie_value(h2o_req_t *h, const char *name)
{
    size_t nlen = strlen(name);
    for (ssize_t i = -1; (i = h2o_find_header(&h->headers, H2O_TOKEN_COOKIE, i)) != -1;) {
        h2o_iovec_t v = h->headers.entries[i].value;
        const char *p = v.base, *end = v.base + v.len;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == ';'))
                p++;
            const char *semi = memchr(p, ';', (size_t)(end - p));
            const char *item_end = semi != NULL ? semi : end;
            const char *eq = memchr(p, '=', (size_t)(item_end - p));
            if (eq != NULL && (size_t)(eq - p) == nlen && memcmp(p, name, nlen) == 0)
                return h2o_iovec_init(eq + 1, (size_t)(item_end - eq - 1));
            p = item_end;
        }
    }
    return h2o_iovec_init(NULL, 0);
}

static int host_matches(const service_conf_t *s, h2o_iovec_t authority)
{
    if (s->nhosts == 0)
        return 1;
    size_t hl = authority.len;
    const char *colon = memchr(authority.base, ':', hl);
    if (colon != NULL && authority.base[0] != '[')
        hl = (size_t)(colon - authority.base);
    for (size_t i = 0; i < s->nhosts; i++) {
        const char *h = s->hosts[i];
        size_t n = strlen(h);
        if (h[0] == '.') {
            if (hl > n && strncasecmp(authority.base + hl - n, h, n) == 0)
                return 1;
        } else if (hl == n && strncasecmp(authority.base, h, n) == 0) {
            return 1;
        }
    }
    return 0;
}

static const service_conf_t *find_service(const canary_conf_t *c, const char *name)
{
    for (size_t i = 0; i < c->nservices; i++)
        if (strcmp(c->services[i].name, name) == 0)
            return &c->services[i];
    return NULL;
}

static int choose_variant(const service_conf_t *s, canary_thread_t *t, ep_req_t *req, const ep_tenant_t *tenant, int *overridden)
{
    h2o_req_t *h = req->h2o;
    *overridden = 0;
    if (tenant != NULL && tenant->pinned_stable)
        return V_STABLE;
    if (s->override_header != NULL || s->override_cookie != NULL) {
        h2o_iovec_t v = s->override_header != NULL ? header_value(h, s->override_header) : h2o_iovec_init(NULL, 0);
        if (v.base == NULL && s->override_cookie != NULL)
            v = cookie_value(h, s->override_cookie);
        ep_override_t ov = ep_split_parse_override(v.base, v.len);
        if (ov != EP_OVERRIDE_NONE) {
            h2o_iovec_t tok = header_value(h, s->override_token_header);
            ep_override_policy_t pol = {s->override_token, s->trusted, s->ntrusted};
            if (ep_split_override_allowed(&pol, req->client_addr, tok.base, tok.len)) {
                *overridden = 1;
                return ov == EP_OVERRIDE_ALWAYS ? V_CANARY : V_STABLE;
            }
        }
    }
    uint32_t w = atomic_load_explicit(&s->slot->weight_bp, memory_order_relaxed);
    if (w == 0)
        return V_STABLE;
    if (w >= EP_SPLIT_SCALE)
        return V_CANARY;
    h2o_iovec_t key = {NULL, 0};
    switch (s->sticky) {
    case KEY_COOKIE:
        key = cookie_value(h, s->sticky_name);
        break;
    case KEY_HEADER:
        key = header_value(h, s->sticky_name);
        break;
    case KEY_TENANT:
        if (req->tenant_id != NULL)
            key = h2o_iovec_init(req->tenant_id, strlen(req->tenant_id));
        break;
    case KEY_CLIENT:
        key = h2o_iovec_init(req->client_addr, strlen(req->client_addr));
        break;
    case KEY_NONE:
        break;
    }
    if (key.len > 0)
        return ep_split_sticky(w, s->name, key.base, key.len) ? V_CANARY : V_STABLE;
    return ep_split_random(w, &t->rng) ? V_CANARY : V_STABLE;
}

static ep_status_t canary_on_req(const void *cp, void *gstate, void *tstate, ep_req_t *req)
{
    const canary_conf_t *c = cp;
    if (c == NULL || c->nservices == 0)
        return EP_NEXT;
    const ep_tenant_t *tenant = ep_tenant_from_id(req->tenant_id);
    const service_conf_t *s = NULL;
    if (tenant != NULL && tenant->service != NULL) {
        s = find_service(c, tenant->service);
    } else if (tenant == NULL || tenant->placement != EP_PLACEMENT_SINGLE) {
        /* single-tenant backends take part only through a service of their own */
        h2o_iovec_t path = req->h2o->path_normalized;
        for (size_t i = 0; i < c->nservices && s == NULL; i++) {
            const service_conf_t *cand = &c->services[i];
            if (path.len >= cand->path_prefix_len && memcmp(path.base, cand->path_prefix, cand->path_prefix_len) == 0 &&
                host_matches(cand, req->h2o->input.authority))
                s = cand;
        }
    }
    if (s == NULL)
        return EP_NEXT;
    int overridden;
    int v = choose_variant(s, tstate, req, tenant, &overridden);
    if (overridden)
        atomic_fetch_add_explicit(&s->slot->overrides[v], 1, memory_order_relaxed);
    const ep_upstream_t *up = ep_generation_upstream(req->gen, v == V_CANARY ? s->canary : s->stable);
    if (up != NULL)
        req->upstream = up;
    req->service = s->name;
    req->variant = variant_names[v];
    return EP_NEXT;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void canary_on_log(const void *cp, void *gstate, void *tstate, ep_req_t *req)
{
    const canary_conf_t *c = cp;
    if (c == NULL || req->service == NULL || req->variant == NULL)
        return;
    const service_conf_t *s = NULL;
    for (size_t i = 0; i < c->nservices && s == NULL; i++)
        if (c->services[i].name == req->service)
            s = &c->services[i];
    if (s == NULL)
        return;
    svc_slot_t *slot = s->slot;
    int v = strcmp(req->variant, "canary") == 0 ? V_CANARY : V_STABLE;
    int p = req->placement == NULL ? P_NONE : strcmp(req->placement, "single") == 0 ? P_SINGLE : P_MULTI;
    int status = req->h2o->res.status;
    int klass = status >= 100 && status < 600 ? status / 100 - 1 : 4; /* no answer counts as a server error */
    uint64_t now = mono_ns();
    uint64_t lat_us = now > req->start_ns ? (now - req->start_ns) / 1000 : 0;
    unsigned b = ep_canary_lat_bucket(lat_us);
    atomic_fetch_add_explicit(&slot->requests[v][p], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&slot->responses[v][p][klass], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&slot->lat_hist[v][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&slot->lat_sum_us[v], lat_us, memory_order_relaxed);
    int64_t sec = (int64_t)(now / 1000000000ull);
    pthread_mutex_lock(&slot->wlock);
    win_bucket_t *wb = &slot->win[sec % WINDOW_MAX_S];
    if (wb->sec != sec) {
        memset(wb, 0, sizeof(*wb));
        wb->sec = sec;
    }
    wb->requests[v]++;
    if (klass == 4)
        wb->errors[v]++;
    wb->hist[v][b]++;
    pthread_mutex_unlock(&slot->wlock);
}

/* ---- admin API ------------------------------------------------------------------------------------------- */

static void service_json(rs_buf_t *out, const service_conf_t *sc, int detail)
{
    svc_slot_t *s = sc->slot;
    uint32_t w = atomic_load(&s->weight_bp);
    rs_buf_printf(out, "{\"service\":");
    ep_json_quote(out, sc->name, strlen(sc->name));
    rs_buf_printf(out, ",\"weight\":");
    fmt_percent(out, w);
    rs_buf_printf(out, ",\"weight_bp\":%u,\"configured_weight\":", w);
    fmt_percent(out, sc->weight_bp);
    rs_buf_printf(out, ",\"stable\":");
    ep_json_quote(out, sc->stable, strlen(sc->stable));
    rs_buf_printf(out, ",\"canary\":");
    ep_json_quote(out, sc->canary, strlen(sc->canary));
    rs_buf_printf(out, ",\"schedule\":{\"state\":\"%s\"", sched_names[s->sched]);
    if (s->nsteps > 0) {
        rs_buf_printf(out, ",\"steps\":[");
        for (size_t i = 0; i < s->nsteps; i++) {
            if (i)
                rs_buf_putc(out, ',');
            fmt_percent(out, s->steps[i]);
        }
        rs_buf_printf(out, "],\"next_index\":%zu,\"interval_s\":%llu", s->sched_index, (unsigned long long)(s->interval_ms / 1000));
        if (s->sched == SCHED_RUNNING)
            rs_buf_printf(out, ",\"next_step_in_s\":%lld", (long long)(s->sched_next_at - (int64_t)time(NULL)));
    }
    rs_buf_printf(out, "},\"rollbacks\":%llu,\"last_change\":", (unsigned long long)atomic_load(&s->rollbacks));
    if (s->last_change != 0) {
        char ts[32];
        iso_time(ts, sizeof(ts), (time_t)s->last_change);
        rs_buf_printf(out, "\"%s\"", ts);
    } else {
        rs_buf_printf(out, "null");
    }
    rs_buf_printf(out, ",\"last_reason\":");
    ep_json_quote(out, s->last_reason, strlen(s->last_reason));
    if (detail) {
        rs_buf_printf(out, ",\"path_prefix\":");
        ep_json_quote(out, sc->path_prefix, strlen(sc->path_prefix));
        rs_buf_printf(out, ",\"hosts\":[");
        for (size_t i = 0; i < sc->nhosts; i++) {
            if (i)
                rs_buf_putc(out, ',');
            char host[300];
            snprintf(host, sizeof(host), "%s%s", sc->hosts[i][0] == '.' ? "*" : "", sc->hosts[i]);
            ep_json_quote(out, host, strlen(host));
        }
        rs_buf_printf(out, "],\"requests\":{");
        for (int v = 0; v < 2; v++) {
            uint64_t total = 0, e5 = 0;
            for (int p = 0; p < P_COUNT; p++) {
                total += atomic_load(&s->requests[v][p]);
                e5 += atomic_load(&s->responses[v][p][4]);
            }
            rs_buf_printf(out, "%s\"%s\":{\"total\":%llu,\"5xx\":%llu}", v ? "," : "", variant_names[v], (unsigned long long)total,
                          (unsigned long long)e5);
        }
        rs_buf_putc(out, '}');
        if (s->rollback_enabled) {
            ep_canary_window_t win[2];
            window_sum(s, s->rollback.window_ms, win);
            char why[300];
            ep_canary_health_t h = ep_canary_judge(&win[V_STABLE], &win[V_CANARY], &s->rollback, why, sizeof(why));
            rs_buf_printf(out,
                          ",\"rollback\":{\"window_s\":%llu,\"min_requests\":%llu,\"error_margin\":%g,\"p99_margin_ms\":%llu,"
                          "\"health\":\"%s\",\"figures\":",
                          (unsigned long long)(s->rollback.window_ms / 1000), (unsigned long long)s->rollback.min_requests,
                          s->rollback.error_margin, (unsigned long long)s->rollback.p99_margin_ms,
                          h == EP_CANARY_HEALTHY   ? "healthy"
                          : h == EP_CANARY_FAILING ? "failing"
                                                   : "no-data");
            ep_json_quote(out, why, strlen(why));
            rs_buf_putc(out, '}');
        }
    }
    rs_buf_putc(out, '}');
}

static void admin_error(ep_admin_req_t *areq, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void admin_error(ep_admin_req_t *areq, int status, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    areq->status = status;
    rs_buf_printf(areq->out, "{\"error\":");
    ep_json_quote(areq->out, msg, strlen(msg));
    rs_buf_printf(areq->out, "}\n");
}

/* PUT body: {"weight": 5.5, "reason": "..."}; the weight may also be a string ("5.5"). */
int ep_canary_parse_weight_body(const char *body, size_t len, uint32_t *bp, char *reason, size_t reason_size, char *err,
                                size_t err_size)
{
    char jerr[160];
    reason[0] = '\0';
    if (len == 0) {
        snprintf(err, err_size, "missing JSON body, e.g. {\"weight\": 5.5, \"reason\": \"...\"}");
        return -1;
    }
    if (len > 65536) {
        snprintf(err, err_size, "body too large");
        return -1;
    }
    ep_json_doc_t *doc = ep_json_parse(body, len, BODY_MAX_DEPTH, jerr, sizeof(jerr));
    if (doc == NULL) {
        snprintf(err, err_size, "invalid JSON: %s", jerr);
        return -1;
    }
    int ret = -1;
    const ep_json_t *root = ep_json_root(doc);
    if (root->type != EP_JSON_OBJECT) {
        snprintf(err, err_size, "the body must be a JSON object with \"weight\"");
        goto done;
    }
    for (size_t i = 0; i < root->count; i++)
        if (strcmp(root->keys[i], "weight") != 0 && strcmp(root->keys[i], "reason") != 0) {
            snprintf(err, err_size, "unknown field \"%.64s\" (expected weight and reason)", root->keys[i]);
            goto done;
        }
    const ep_json_t *w = ep_json_get(root, "weight");
    if (w == NULL) {
        snprintf(err, err_size, "missing \"weight\" (a percentage from 0 to 100)");
        goto done;
    }
    if (w->type == EP_JSON_NUMBER) {
        if (ep_split_percent_to_bp(w->number, bp) != 0) {
            snprintf(err, err_size, "weight %g is out of range: it must be from 0 to 100 in steps of 0.01", w->number);
            goto done;
        }
    } else if (w->type == EP_JSON_STRING) {
        if (ep_split_parse_percent(w->str, w->len, bp) != 0) {
            snprintf(err, err_size, "weight \"%.32s\" is not a percentage from 0 to 100 in steps of 0.01", w->str);
            goto done;
        }
    } else {
        snprintf(err, err_size, "weight must be a number from 0 to 100");
        goto done;
    }
    const ep_json_t *r = ep_json_get(root, "reason");
    if (r != NULL && r->type != EP_JSON_STRING && r->type != EP_JSON_NULL) {
        snprintf(err, err_size, "reason must be a string");
        goto done;
    }
    if (r != NULL && r->type == EP_JSON_STRING)
        snprintf(reason, reason_size, "%s", r->str);
    ret = 0;
done:
    ep_json_free(doc);
    return ret;
}

static int parse_put_body(ep_admin_req_t *areq, uint32_t *bp, char *reason, size_t reason_size)
{
    char err[300];
    if (ep_canary_parse_weight_body(areq->body.base, areq->body.len, bp, reason, reason_size, err, sizeof(err)) == 0)
        return 0;
    admin_error(areq, 400, "%s", err);
    return -1;
}

static void optional_reason(ep_admin_req_t *areq, char *reason, size_t size)
{
    reason[0] = '\0';
    if (areq->body.len == 0 || areq->body.len > 65536)
        return;
    ep_json_doc_t *doc = ep_json_parse(areq->body.base, areq->body.len, BODY_MAX_DEPTH, NULL, 0);
    const char *r = doc != NULL ? ep_json_get_str(ep_json_root(doc), "reason") : NULL;
    if (r != NULL)
        snprintf(reason, size, "%s", r);
    ep_json_free(doc);
}

static int canary_on_admin(void *gstate, ep_admin_req_t *areq)
{
    canary_global_t *g = gstate;
    const char *path = areq->path;
    if (strncmp(path, "/canary", 7) != 0 || (path[7] != '\0' && path[7] != '/'))
        return 0;
    const canary_conf_t *c = ep_generation_module_conf(areq->gen, "canary");
    if (c == NULL) {
        admin_error(areq, 404, "no canary services are configured");
        return 1;
    }
    /* /canary[/svc[/action]] */
    char svc[NAME_MAX_LEN + 2] = "", action[32] = "";
    const char *p = path[7] == '/' ? path + 8 : path + 7;
    const char *slash = strchr(p, '/');
    size_t svclen = slash != NULL ? (size_t)(slash - p) : strlen(p);
    if (svclen > NAME_MAX_LEN) {
        admin_error(areq, 404, "unknown service");
        return 1;
    }
    memcpy(svc, p, svclen);
    svc[svclen] = '\0';
    if (slash != NULL)
        snprintf(action, sizeof(action), "%s", slash + 1);
    size_t alen = strlen(action);
    while (alen > 0 && action[alen - 1] == '/')
        action[--alen] = '\0';

    pthread_mutex_lock(&g->lock);
    if (svc[0] == '\0') {
        if (strcmp(areq->method, "GET") != 0) {
            admin_error(areq, 405, "only GET is allowed on /canary");
        } else {
            areq->status = 200;
            rs_buf_printf(areq->out, "{\"services\":[");
            for (size_t i = 0; i < c->nservices; i++) {
                if (i)
                    rs_buf_putc(areq->out, ',');
                service_json(areq->out, &c->services[i], 0);
            }
            rs_buf_printf(areq->out, "]}\n");
        }
        goto done;
    }
    const service_conf_t *sc = find_service(c, svc);
    if (sc == NULL) {
        admin_error(areq, 404, "unknown service '%s'", svc);
        goto done;
    }
    svc_slot_t *s = sc->slot;
    char reason[512];
    if (action[0] == '\0' && strcmp(areq->method, "GET") == 0) {
        areq->status = 200;
        service_json(areq->out, sc, 1);
        rs_buf_putc(areq->out, '\n');
    } else if (action[0] == '\0' && strcmp(areq->method, "PUT") == 0) {
        uint32_t bp;
        if (parse_put_body(areq, &bp, reason, sizeof(reason)) != 0)
            goto done;
        if (s->sched == SCHED_RUNNING)
            s->sched = SCHED_PAUSED; /* a person took over: the schedule waits */
        change_weight(
            g, s, bp,
            &(audit_t){
                .action = "set", .token = areq->token_name, .client = areq->client_addr, .reason = reason[0] ? reason : NULL});
        areq->status = 200;
        service_json(areq->out, sc, 0);
        rs_buf_putc(areq->out, '\n');
    } else if ((strcmp(action, "rollback") == 0 || strcmp(action, "promote") == 0) && strcmp(areq->method, "POST") == 0) {
        int promote = action[0] == 'p';
        optional_reason(areq, reason, sizeof(reason));
        if (s->nsteps > 0)
            s->sched = promote ? SCHED_DONE : SCHED_STOPPED;
        change_weight(g, s, promote ? EP_SPLIT_SCALE : 0,
                      &(audit_t){.action = promote ? "promote" : "rollback",
                                 .token = areq->token_name,
                                 .client = areq->client_addr,
                                 .reason = reason[0] ? reason : NULL});
        areq->status = 200;
        service_json(areq->out, sc, 0);
        rs_buf_putc(areq->out, '\n');
    } else if (action[0] == '\0' || strcmp(action, "rollback") == 0 || strcmp(action, "promote") == 0) {
        admin_error(areq, 405, "method %s not allowed here (GET/PUT /canary/{service}, POST /canary/{service}/rollback|promote)",
                    areq->method);
    } else {
        admin_error(areq, 404, "unknown canary action '%s' (rollback or promote)", action);
    }
done:
    pthread_mutex_unlock(&g->lock);
    return 1;
}

/* ---- metrics --------------------------------------------------------------------------------------------- */

static void canary_metrics(void *gstate, const struct st_ep_generation_t *gen, rs_buf_t *out)
{
    canary_global_t *g = gstate;
    static const char *const classes[5] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    pthread_mutex_lock(&g->lock);
    rs_buf_printf(out, "# HELP edgeproxy_canary_weight_percent Runtime canary weight per service.\n"
                       "# TYPE edgeproxy_canary_weight_percent gauge\n");
    for (size_t i = 0; i < g->nslots; i++) {
        if (!g->slots[i]->active)
            continue;
        rs_buf_printf(out, "edgeproxy_canary_weight_percent{service=\"%s\"} ", g->slots[i]->name);
        fmt_percent(out, atomic_load(&g->slots[i]->weight_bp));
        rs_buf_putc(out, '\n');
    }
    rs_buf_printf(out, "# HELP edgeproxy_canary_requests_total Requests per service, variant and tenant placement.\n"
                       "# TYPE edgeproxy_canary_requests_total counter\n");
    for (size_t i = 0; i < g->nslots; i++)
        for (int v = 0; v < 2 && g->slots[i]->committed; v++)
            for (int p = 0; p < P_COUNT; p++)
                rs_buf_printf(out, "edgeproxy_canary_requests_total{service=\"%s\",variant=\"%s\",placement=\"%s\"} %llu\n",
                              g->slots[i]->name, variant_names[v], placement_labels[p],
                              (unsigned long long)atomic_load(&g->slots[i]->requests[v][p]));
    rs_buf_printf(out, "# HELP edgeproxy_canary_responses_total Responses per service, variant, placement and status class.\n"
                       "# TYPE edgeproxy_canary_responses_total counter\n");
    for (size_t i = 0; i < g->nslots; i++)
        for (int v = 0; v < 2 && g->slots[i]->committed; v++)
            for (int p = 0; p < P_COUNT; p++)
                for (int k = 0; k < 5; k++) {
                    uint64_t n = atomic_load(&g->slots[i]->responses[v][p][k]);
                    if (n != 0 || k == 1 || k == 4)
                        rs_buf_printf(
                            out,
                            "edgeproxy_canary_responses_total{service=\"%s\",variant=\"%s\",placement=\"%s\",class=\"%s\"} "
                            "%llu\n",
                            g->slots[i]->name, variant_names[v], placement_labels[p], classes[k], (unsigned long long)n);
                }
    rs_buf_printf(out, "# HELP edgeproxy_canary_latency_seconds Response latency per service and variant.\n"
                       "# TYPE edgeproxy_canary_latency_seconds histogram\n");
    for (size_t i = 0; i < g->nslots; i++)
        for (int v = 0; v < 2 && g->slots[i]->committed; v++) {
            svc_slot_t *s = g->slots[i];
            uint64_t cum = 0;
            for (unsigned k = 0; k < EP_CANARY_LAT_BUCKETS; k++) {
                cum += atomic_load(&s->lat_hist[v][k]);
                if (k == EP_CANARY_LAT_BUCKETS - 1)
                    rs_buf_printf(out, "edgeproxy_canary_latency_seconds_bucket{service=\"%s\",variant=\"%s\",le=\"+Inf\"} %llu\n",
                                  s->name, variant_names[v], (unsigned long long)cum);
                else
                    rs_buf_printf(out, "edgeproxy_canary_latency_seconds_bucket{service=\"%s\",variant=\"%s\",le=\"%g\"} %llu\n",
                                  s->name, variant_names[v], ep_canary_lat_bounds_ms[k] / 1000.0, (unsigned long long)cum);
            }
            rs_buf_printf(out, "edgeproxy_canary_latency_seconds_sum{service=\"%s\",variant=\"%s\"} %.6f\n", s->name,
                          variant_names[v], (double)atomic_load(&s->lat_sum_us[v]) / 1e6);
            rs_buf_printf(out, "edgeproxy_canary_latency_seconds_count{service=\"%s\",variant=\"%s\"} %llu\n", s->name,
                          variant_names[v], (unsigned long long)cum);
        }
    rs_buf_printf(out, "# HELP edgeproxy_canary_rollbacks_total Automatic rollbacks per service.\n"
                       "# TYPE edgeproxy_canary_rollbacks_total counter\n");
    for (size_t i = 0; i < g->nslots; i++)
        if (g->slots[i]->committed)
            rs_buf_printf(out, "edgeproxy_canary_rollbacks_total{service=\"%s\"} %llu\n", g->slots[i]->name,
                          (unsigned long long)atomic_load(&g->slots[i]->rollbacks));
    rs_buf_printf(out,
                  "# HELP edgeproxy_canary_weight_changes_total Weight changes per service (API, schedule, rollback, config).\n"
                  "# TYPE edgeproxy_canary_weight_changes_total counter\n");
    for (size_t i = 0; i < g->nslots; i++)
        if (g->slots[i]->committed)
            rs_buf_printf(out, "edgeproxy_canary_weight_changes_total{service=\"%s\"} %llu\n", g->slots[i]->name,
                          (unsigned long long)atomic_load(&g->slots[i]->changes));
    rs_buf_printf(out, "# HELP edgeproxy_canary_overrides_total Requests whose variant a tester forced.\n"
                       "# TYPE edgeproxy_canary_overrides_total counter\n");
    for (size_t i = 0; i < g->nslots; i++)
        for (int v = 0; v < 2 && g->slots[i]->committed; v++)
            rs_buf_printf(out, "edgeproxy_canary_overrides_total{service=\"%s\",variant=\"%s\"} %llu\n", g->slots[i]->name,
                          variant_names[v], (unsigned long long)atomic_load(&g->slots[i]->overrides[v]));
    pthread_mutex_unlock(&g->lock);
}

const ep_module_t ep_module_canary = {
    .name = "canary",
    .global_init = canary_global_init,
    .global_free = canary_global_free,
    .on_config = canary_on_config,
    .on_commit = canary_on_commit,
    .conf_free = canary_conf_free,
    .thread_init = canary_thread_init,
    .thread_free = canary_thread_free,
    .on_req = canary_on_req,
    .on_log = canary_on_log,
    .admin_prefix = "/canary",
    .on_admin = canary_on_admin,
    .metrics = canary_metrics,
};
