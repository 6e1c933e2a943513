/* SPDX-License-Identifier: MIT */
/* The `tenants` module: decides which tenant a request belongs to (host, trusted header, path prefix or a
 * verified JWT claim, in the configured order; first known tenant wins), where it runs (its placement and
 * upstream from the tenant map), routes preview hosts to upstreams made from a template at run time, and
 * answers GET /tenants/{id} on the admin API. The map is part of the generation, so a reload swaps it whole. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "module.h"
#include "generation.h"
#include "upstream.h"
#include "jwt.h"
#include "jwt_json.h"
#include "split.h"
#include "tenant.h"

typedef enum { SRC_HOST, SRC_HEADER, SRC_PATH, SRC_JWT, SRC_COUNT } source_t;
static const char *const source_names[] = {"host", "header", "path", "jwt", NULL};

typedef struct {
    char *host; /* lowercase, no port */
    char *tenant;
} exact_host_t;

typedef struct {
    char *pattern;  /* "pr-{n}.preview.example.com" */
    char *upstream; /* template: "127.0.0.1:{n}" */
    int digits_only;
} preview_t;

typedef struct {
    atomic_int refcnt; /* the generation's reference + admin calls in flight */
    char *map_path;
    ep_tenant_map_t *map;
    source_t sources[SRC_COUNT];
    size_t nsources;
    char **wildcards; /* suffixes with the '*' removed: ".demo.localhost" */
    size_t nwildcards;
    exact_host_t *exact;
    size_t nexact;
    char *header; /* NULL: no header source */
    size_t header_len;
    ep_cidr_t *header_from;
    size_t nheader_from;
    char *path_prefix; /* "/t/" */
    size_t path_prefix_len;
    int strip_path;
    ep_jwks_t *jwks;
    char *jwt_header; /* "authorization" */
    char *jwt_issuer, *jwt_audience, *jwt_claim;
    ep_jwt_policy_t jwt_policy;
    uint64_t jwt_cache_size;
    char *shared_upstream;
    char *default_tenant_name;
    const ep_tenant_t *default_tenant;
    int unknown_status; /* 404 or 421 */
    int required;       /* a request with no tenant at all is rejected (else passes without one) */
    preview_t *previews;
    size_t npreviews;
    uint64_t preview_max;
} tenant_conf_t;

enum { M_HOST, M_HEADER, M_PATH, M_JWT, M_DEFAULT, M_PREVIEW, M_SRC_COUNT };

typedef struct {
    pthread_mutex_t lock;
    tenant_conf_t *current; /* the live generation's conf (for admin calls), retained */
    atomic_uint_fast64_t by_source[M_SRC_COUNT];
    atomic_uint_fast64_t by_placement[2];
    atomic_uint_fast64_t rejected_unknown, rejected_none;
    atomic_uint_fast64_t jwt_verified, jwt_cache_hits, jwt_refused;
    atomic_uint_fast64_t preview_upstreams, preview_refused;
} tenant_global_t;

#define PREVIEW_CACHE 64

typedef struct {
    ep_jwt_cache_t *jwt_cache;
    struct {
        char host[128];
        const ep_upstream_t *up;
    } preview_cache[PREVIEW_CACHE];
} tenant_thread_t;

/* ---- conf lifetime ------------------------------------------------------------------------------------ */

static void conf_destroy(tenant_conf_t *c)
{
    free(c->map_path);
    ep_tenant_map_free(c->map);
    for (size_t i = 0; i < c->nwildcards; i++)
        free(c->wildcards[i]);
    free(c->wildcards);
    for (size_t i = 0; i < c->nexact; i++) {
        free(c->exact[i].host);
        free(c->exact[i].tenant);
    }
    free(c->exact);
    free(c->header);
    free(c->header_from);
    free(c->path_prefix);
    ep_jwks_free(c->jwks);
    free(c->jwt_header);
    free(c->jwt_issuer);
    free(c->jwt_audience);
    free(c->jwt_claim);
    free(c->shared_upstream);
    free(c->default_tenant_name);
    for (size_t i = 0; i < c->npreviews; i++) {
        free(c->previews[i].pattern);
        free(c->previews[i].upstream);
    }
    free(c->previews);
    free(c);
}

static void conf_release(tenant_conf_t *c)
{
    if (c != NULL && atomic_fetch_sub(&c->refcnt, 1) == 1)
        conf_destroy(c);
}

static void tenant_conf_free(void *p)
{
    conf_release(p);
}

/* ---- config ------------------------------------------------------------------------------------------- */

static int read_hosts(ep_conf_ctx_t *c, tenant_conf_t *conf, const ep_node_t *hosts)
{
    if (hosts == NULL)
        return 0;
    if (ep_conf_expect(c, hosts, EP_NODE_SEQ, "tenants.hosts") != 0)
        return -1;
    int ret = 0;
    conf->wildcards = calloc(hosts->count + 1, sizeof(*conf->wildcards));
    conf->exact = calloc(hosts->count + 1, sizeof(*conf->exact));
    for (size_t i = 0; i < hosts->count; i++) {
        const ep_node_t *h = hosts->values[i];
        if (h->type == EP_NODE_SCALAR) {
            if (strncmp(h->scalar, "*.", 2) != 0 || strlen(h->scalar) < 4 || strchr(h->scalar + 1, '*') != NULL) {
                ret = ep_conf_error(c, h, "a host pattern is '*.suffix' (the label in '*' is the tenant id), or {host, tenant}");
                continue;
            }
            conf->wildcards[conf->nwildcards++] = rs_strdup_lower(h->scalar + 1);
            continue;
        }
        static const char *const keys[] = {"host", "tenant", NULL};
        const char *host, *tenant;
        if (ep_conf_check_map(c, h, "tenants.hosts[]", keys) != 0 || ep_conf_str(c, h, "host", NULL, &host) != 0 ||
            ep_conf_str(c, h, "tenant", NULL, &tenant) != 0) {
            ret = -1;
            continue;
        }
        if (host == NULL || tenant == NULL) {
            ret = ep_conf_error(c, h, "an exact host entry needs 'host' and 'tenant'");
            continue;
        }
        conf->exact[conf->nexact].host = rs_strdup_lower(host);
        conf->exact[conf->nexact].tenant = strdup(tenant);
        conf->nexact++;
    }
    return ret;
}

static int read_jwt(ep_conf_ctx_t *c, tenant_conf_t *conf, const ep_node_t *jwt)
{
    static const char *const keys[] = {"jwks", "claim", "issuer", "audience", "leeway", "cache_size", "header", NULL};
    if (ep_conf_check_map(c, jwt, "tenants.jwt", keys) != 0)
        return -1;
    char *jwks_path = NULL;
    const char *claim, *iss, *aud, *header;
    uint64_t leeway_ms;
    int ret = 0;
    ret |= ep_conf_path(c, jwt, "jwks", NULL, &jwks_path);
    ret |= ep_conf_str(c, jwt, "claim", "tenant", &claim);
    ret |= ep_conf_str(c, jwt, "issuer", NULL, &iss);
    ret |= ep_conf_str(c, jwt, "audience", NULL, &aud);
    ret |= ep_conf_str(c, jwt, "header", "authorization", &header);
    ret |= ep_conf_duration_ms(c, jwt, "leeway", 30000, 0, 3600000, &leeway_ms);
    ret |= ep_conf_int(c, jwt, "cache_size", 4096, 16, 1 << 20, (int64_t *)&conf->jwt_cache_size);
    if (ret != 0) {
        free(jwks_path);
        return -1;
    }
    if (jwks_path == NULL)
        return ep_conf_error(c, jwt, "tenants.jwt needs 'jwks' (a JWKS file with the RS256/ES256 public keys)");
    char err[256];
    conf->jwks = ep_jwks_load(jwks_path, err, sizeof(err));
    free(jwks_path);
    if (conf->jwks == NULL)
        return ep_conf_error(c, ep_node_get(jwt, "jwks"), "%s", err);
    conf->jwt_claim = strdup(claim);
    conf->jwt_issuer = iss != NULL ? strdup(iss) : NULL;
    conf->jwt_audience = aud != NULL ? strdup(aud) : NULL;
    conf->jwt_header = rs_strdup_lower(header);
    conf->jwt_policy = (ep_jwt_policy_t){conf->jwt_issuer, conf->jwt_audience, conf->jwt_claim, (int64_t)(leeway_ms / 1000)};
    return 0;
}

static int read_previews(ep_conf_ctx_t *c, tenant_conf_t *conf, const ep_node_t *seq)
{
    if (seq == NULL)
        return 0;
    if (ep_conf_expect(c, seq, EP_NODE_SEQ, "tenants.preview") != 0)
        return -1;
    conf->previews = calloc(seq->count + 1, sizeof(*conf->previews));
    int ret = 0;
    for (size_t i = 0; i < seq->count; i++) {
        static const char *const keys[] = {"host", "upstream", "capture", NULL};
        static const char *const captures[] = {"digits", "label", NULL};
        const ep_node_t *p = seq->values[i];
        const char *host, *tmpl;
        int capture;
        if (ep_conf_check_map(c, p, "tenants.preview[]", keys) != 0 || ep_conf_str(c, p, "host", NULL, &host) != 0 ||
            ep_conf_str(c, p, "upstream", NULL, &tmpl) != 0 || ep_conf_enum(c, p, "capture", captures, 0, &capture) != 0) {
            ret = -1;
            continue;
        }
        if (host == NULL || tmpl == NULL || strstr(host, "{n}") == NULL || strstr(strstr(host, "{n}") + 3, "{n}") != NULL) {
            ret = ep_conf_error(c, p, "a preview needs 'host' with exactly one {n} capture and an 'upstream' template");
            continue;
        }
        char probe[300];
        if (strstr(tmpl, "{n}") == NULL || ep_template_expand(tmpl, "1", 1, probe, sizeof(probe)) != 0 ||
            strchr(probe, ':') == NULL) {
            ret = ep_conf_error(c, ep_node_get(p, "upstream"),
                                "the upstream template must be host:port with {n}, e.g. 127.0.0.1:{n}");
            continue;
        }
        conf->previews[conf->npreviews].pattern = rs_strdup_lower(host);
        conf->previews[conf->npreviews].upstream = strdup(tmpl);
        conf->previews[conf->npreviews].digits_only = capture == 0;
        conf->npreviews++;
    }
    return ret;
}

/* Every distinct upstream name the map uses must exist in the config. */
static int check_map_upstreams(ep_conf_ctx_t *c, const ep_node_t *at, tenant_conf_t *conf)
{
    const char *checked[64];
    size_t nchecked = 0;
    int ret = 0;
    for (size_t i = 0; i < ep_tenant_map_count(conf->map); i++) {
        const ep_tenant_t *t = ep_tenant_map_at(conf->map, i);
        if (t->upstream == NULL)
            continue;
        size_t k = 0;
        while (k < nchecked && checked[k] != t->upstream) /* interned: pointer equality */
            k++;
        if (k < nchecked)
            continue;
        if (nchecked < 64)
            checked[nchecked++] = t->upstream;
        if (!ep_generation_building_has_upstream(t->upstream)) {
            rs_errors_add(c->errs, conf->map_path, t->line, 1, "tenant '%s': unknown upstream '%s'", t->id, t->upstream);
            ret = -1;
        }
    }
    (void)at;
    return ret;
}

/* Every distinct WAF rule set name the map uses must be a rule set of the config (waf.rulesets); the error
 * points at the first use of the name in the map. */
static int check_map_rulesets(ep_conf_ctx_t *c, tenant_conf_t *conf)
{
    const char *checked[64];
    size_t nchecked = 0;
    int ret = 0;
    for (size_t i = 0; i < ep_tenant_map_count(conf->map); i++) {
        const ep_tenant_t *t = ep_tenant_map_at(conf->map, i);
        if (t->ruleset == NULL)
            continue;
        size_t k = 0;
        while (k < nchecked && strcmp(checked[k], t->ruleset) != 0)
            k++;
        if (k < nchecked)
            continue;
        if (nchecked < 64)
            checked[nchecked++] = t->ruleset;
        if (!ep_generation_building_has_ruleset(t->ruleset)) {
            rs_errors_add(c->errs, conf->map_path, t->line, t->ruleset_col,
                          "tenant '%s': unknown WAF rule set '%s' (not in waf.rulesets)", t->id, t->ruleset);
            ret = -1;
        }
    }
    return ret;
}

static int tenant_on_config(ep_conf_ctx_t *c, const ep_node_t *node, void *gstate, void **out)
{
    *out = NULL;
    if (node == NULL)
        return 0; /* no tenants section: the module stays out of the way */
    static const char *const keys[] = {
        "map", "sources",        "shared_upstream", "hosts",    "header",  "header_from",           "path_prefix", "strip_path",
        "jwt", "default_tenant", "unknown_status",  "required", "preview", "preview_max_upstreams", NULL};
    if (ep_conf_check_map(c, node, "tenants", keys) != 0)
        return -1;
    tenant_conf_t *conf = calloc(1, sizeof(*conf));
    atomic_init(&conf->refcnt, 1);
    int ret = 0;
    const char *shared, *header, *path_prefix, *def;
    int64_t status;
    ret |= ep_conf_path(c, node, "map", NULL, &conf->map_path);
    ret |= ep_conf_str(c, node, "shared_upstream", NULL, &shared);
    ret |= ep_conf_str(c, node, "header", NULL, &header);
    ret |= ep_conf_str(c, node, "path_prefix", NULL, &path_prefix);
    ret |= ep_conf_bool(c, node, "strip_path", 1, &conf->strip_path);
    ret |= ep_conf_str(c, node, "default_tenant", NULL, &def);
    ret |= ep_conf_int(c, node, "unknown_status", 404, 400, 599, &status);
    ret |= ep_conf_bool(c, node, "required", 1, &conf->required);
    ret |= ep_conf_size(c, node, "preview_max_upstreams", 1000, 1, 1000000, &conf->preview_max);
    if (ret != 0)
        goto fail;
    if (status != 404 && status != 421) {
        ep_conf_error(c, ep_node_get(node, "unknown_status"), "unknown_status must be 404 or 421");
        goto fail;
    }
    conf->unknown_status = (int)status;
    if (shared != NULL) {
        if (!ep_generation_building_has_upstream(shared)) {
            ep_conf_error(c, ep_node_get(node, "shared_upstream"), "unknown upstream '%s'", shared);
            goto fail;
        }
        conf->shared_upstream = strdup(shared);
    }
    if (header != NULL) {
        conf->header = rs_strdup_lower(header);
        conf->header_len = strlen(header);
    }
    const ep_node_t *from = ep_node_get(node, "header_from");
    if (from != NULL) {
        if (ep_conf_expect(c, from, EP_NODE_SEQ, "tenants.header_from") != 0)
            goto fail;
        conf->header_from = calloc(from->count + 1, sizeof(*conf->header_from));
        for (size_t i = 0; i < from->count; i++) {
            if (from->values[i]->type != EP_NODE_SCALAR ||
                ep_cidr_parse(from->values[i]->scalar, from->values[i]->scalar_len, &conf->header_from[i]) != 0) {
                ep_conf_error(c, from->values[i], "not an address or CIDR network");
                goto fail;
            }
        }
        conf->nheader_from = from->count;
    }
    if (path_prefix != NULL) {
        size_t n = strlen(path_prefix);
        if (n < 2 || path_prefix[0] != '/' || path_prefix[n - 1] != '/') {
            ep_conf_error(c, ep_node_get(node, "path_prefix"), "path_prefix must start and end with '/', e.g. /t/");
            goto fail;
        }
        conf->path_prefix = strdup(path_prefix);
        conf->path_prefix_len = n;
    }
    if (read_hosts(c, conf, ep_node_get(node, "hosts")) != 0 || read_previews(c, conf, ep_node_get(node, "preview")) != 0)
        goto fail;
    const ep_node_t *jwt = ep_node_get(node, "jwt");
    if (jwt != NULL && read_jwt(c, conf, jwt) != 0)
        goto fail;

    /* sources: as listed, or every configured one in the default order */
    const ep_node_t *src = ep_node_get(node, "sources");
    if (src != NULL) {
        if (ep_conf_expect(c, src, EP_NODE_SEQ, "tenants.sources") != 0)
            goto fail;
        for (size_t i = 0; i < src->count; i++) {
            const ep_node_t *s = src->values[i];
            int k = -1;
            for (int j = 0; s->type == EP_NODE_SCALAR && source_names[j] != NULL; j++)
                if (strcmp(s->scalar, source_names[j]) == 0)
                    k = j;
            if (k < 0) {
                ep_conf_error(c, s, "a tenant source is host, header, path or jwt");
                goto fail;
            }
            for (size_t j = 0; j < conf->nsources; j++)
                if (conf->sources[j] == (source_t)k) {
                    ep_conf_error(c, s, "source '%s' listed twice", source_names[k]);
                    goto fail;
                }
            const char *missing = k == SRC_HEADER && conf->header == NULL                 ? "header"
                                  : k == SRC_PATH && conf->path_prefix == NULL            ? "path_prefix"
                                  : k == SRC_JWT && conf->jwks == NULL                    ? "jwt"
                                  : k == SRC_HOST && conf->nwildcards + conf->nexact == 0 ? "hosts"
                                                                                          : NULL;
            if (missing != NULL) {
                ep_conf_error(c, s, "source '%s' needs tenants.%s", source_names[k], missing);
                goto fail;
            }
            conf->sources[conf->nsources++] = (source_t)k;
        }
    } else {
        if (conf->nwildcards + conf->nexact > 0)
            conf->sources[conf->nsources++] = SRC_HOST;
        if (conf->header != NULL)
            conf->sources[conf->nsources++] = SRC_HEADER;
        if (conf->path_prefix != NULL)
            conf->sources[conf->nsources++] = SRC_PATH;
        if (conf->jwks != NULL)
            conf->sources[conf->nsources++] = SRC_JWT;
    }

    if (conf->map_path == NULL) {
        ep_conf_error(c, node, "tenants needs 'map' (the tenant map file)");
        goto fail;
    }
    if ((conf->map = ep_tenant_map_load(conf->map_path, c->errs)) == NULL)
        goto fail;
    int upstreams_ok = check_map_upstreams(c, node, conf) == 0;
    if (check_map_rulesets(c, conf) != 0 || !upstreams_ok)
        goto fail;
    for (size_t i = 0; i < ep_tenant_map_count(conf->map); i++) {
        const ep_tenant_t *t = ep_tenant_map_at(conf->map, i);
        if (t->placement == EP_PLACEMENT_MULTI && t->upstream == NULL && conf->shared_upstream == NULL) {
            rs_errors_add(c->errs, conf->map_path, t->line, 1, "tenant '%s' is 'multi' but tenants.shared_upstream is not set",
                          t->id);
            goto fail;
        }
    }
    for (size_t i = 0; i < conf->nexact; i++)
        if (ep_tenant_map_find(conf->map, conf->exact[i].tenant, strlen(conf->exact[i].tenant)) == NULL) {
            ep_conf_error(c, ep_node_get(node, "hosts"), "host '%s' names tenant '%s', which is not in the map",
                          conf->exact[i].host, conf->exact[i].tenant);
            goto fail;
        }
    if (def != NULL) {
        conf->default_tenant_name = strdup(def);
        if ((conf->default_tenant = ep_tenant_map_find(conf->map, def, strlen(def))) == NULL) {
            ep_conf_error(c, ep_node_get(node, "default_tenant"), "default tenant '%s' is not in the map", def);
            goto fail;
        }
    }
    *out = conf;
    return 0;
fail:
    conf_destroy(conf);
    return -1;
}

/* ---- global state -------------------------------------------------------------------------------------- */

static int tenant_global_init(void **gstate)
{
    tenant_global_t *g = calloc(1, sizeof(*g));
    pthread_mutex_init(&g->lock, NULL);
    *gstate = g;
    return 0;
}

static void tenant_global_free(void *gstate)
{
    tenant_global_t *g = gstate;
    conf_release(g->current);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

static void tenant_on_commit(void *conf, void *gstate)
{
    tenant_global_t *g = gstate;
    tenant_conf_t *c = conf, *old;
    if (c != NULL)
        atomic_fetch_add(&c->refcnt, 1);
    pthread_mutex_lock(&g->lock);
    old = g->current;
    g->current = c;
    pthread_mutex_unlock(&g->lock);
    conf_release(old);
}

static tenant_conf_t *current_conf(tenant_global_t *g)
{
    pthread_mutex_lock(&g->lock);
    tenant_conf_t *c = g->current;
    if (c != NULL)
        atomic_fetch_add(&c->refcnt, 1);
    pthread_mutex_unlock(&g->lock);
    return c;
}

static void *tenant_thread_init(const void *conf, void *gstate)
{
    const tenant_conf_t *c = conf;
    tenant_thread_t *t = calloc(1, sizeof(*t));
    if (c != NULL && c->jwks != NULL)
        t->jwt_cache = ep_jwt_cache_new(c->jwt_cache_size);
    return t;
}

static void tenant_thread_free(void *tstate)
{
    tenant_thread_t *t = tstate;
    if (t == NULL)
        return;
    ep_jwt_cache_free(t->jwt_cache);
    free(t);
}

/* ---- request path -------------------------------------------------------------------------------------- */

static h2o_iovec_t header_value(h2o_req_t *h, const char *lower_name, size_t len)
{
    ssize_t i = h2o_find_header_by_str(&h->headers, lower_name, len, -1);
    return i >= 0 ? h->headers.entries[i].value : h2o_iovec_init(NULL, 0);
}

static int header_source_allowed(const tenant_conf_t *c, const ep_req_t *req)
{
    if (c->nheader_from == 0)
        return 1;
    uint8_t ip[16];
    return ep_ip_parse(req->client_addr, strlen(req->client_addr), ip) == 0 &&
           ep_cidr_contains(c->header_from, c->nheader_from, ip);
}

/* The id a source names (a view into the request), or length 0. */
static h2o_iovec_t source_id(const tenant_conf_t *c, tenant_global_t *g, tenant_thread_t *t, ep_req_t *req, source_t s,
                             char *jwt_buf, size_t jwt_size, size_t *path_consumed)
{
    h2o_req_t *h = req->h2o;
    h2o_iovec_t none = {NULL, 0};
    switch (s) {
    case SRC_HOST: {
        h2o_iovec_t host = h->input.authority;
        size_t hl = host.len;
        const char *colon = memchr(host.base, ':', hl);
        if (colon != NULL && host.base[0] != '[')
            hl = (size_t)(colon - host.base);
        for (size_t i = 0; i < c->nexact; i++)
            if (strlen(c->exact[i].host) == hl && strncasecmp(c->exact[i].host, host.base, hl) == 0)
                return h2o_iovec_init(c->exact[i].tenant, strlen(c->exact[i].tenant));
        for (size_t i = 0; i < c->nwildcards; i++) {
            const char *label;
            size_t n = ep_host_wildcard_match(c->wildcards[i], host.base, host.len, &label);
            if (n > 0)
                return h2o_iovec_init(label, n);
        }
        return none;
    }
    case SRC_HEADER: {
        if (!header_source_allowed(c, req))
            return none;
        h2o_iovec_t v = header_value(h, c->header, c->header_len);
        return v.len > 0 && ep_tenant_id_valid(v.base, v.len) ? v : none;
    }
    case SRC_PATH: {
        const char *p = h->path.base;
        size_t len = h->path.len;
        if (len <= c->path_prefix_len || memcmp(p, c->path_prefix, c->path_prefix_len) != 0)
            return none;
        size_t i = c->path_prefix_len;
        while (i < len && p[i] != '/' && p[i] != '?')
            i++;
        if (!ep_tenant_id_valid(p + c->path_prefix_len, i - c->path_prefix_len))
            return none;
        *path_consumed = i;
        return h2o_iovec_init(p + c->path_prefix_len, i - c->path_prefix_len);
    }
    case SRC_JWT: {
        h2o_iovec_t v = header_value(h, c->jwt_header, strlen(c->jwt_header));
        if (v.len < 8 || strncasecmp(v.base, "Bearer ", 7) != 0)
            return none;
        const char *tok = v.base + 7;
        size_t tlen = v.len - 7;
        while (tlen > 0 && *tok == ' ') {
            tok++;
            tlen--;
        }
        int hit = 0;
        ep_jwt_status_t st =
            ep_jwt_verify_cached(t->jwt_cache, c->jwks, &c->jwt_policy, tok, tlen, (int64_t)time(NULL), jwt_buf, jwt_size, &hit);
        if (st != EP_JWT_OK) {
            atomic_fetch_add_explicit(&g->jwt_refused, 1, memory_order_relaxed);
            return none;
        }
        atomic_fetch_add_explicit(hit ? &g->jwt_cache_hits : &g->jwt_verified, 1, memory_order_relaxed);
        return h2o_iovec_init(jwt_buf, strlen(jwt_buf));
    }
    default:
        return none;
    }
}

static void send_json(h2o_req_t *h, int status, const char *reason, rs_buf_t *body)
{
    char *copy = h2o_mem_alloc_pool(&h->pool, body->len + 1);
    memcpy(copy, body->base, body->len);
    h->res.status = status;
    h->res.reason = reason;
    h->res.content_length = body->len;
    h2o_add_header(&h->pool, &h->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_send_inline(h, copy, body->len);
}

static ep_status_t reject(const tenant_conf_t *c, tenant_global_t *g, ep_req_t *req, h2o_iovec_t id)
{
    rs_buf_t b = {0};
    if (id.len > 0) {
        atomic_fetch_add_explicit(&g->rejected_unknown, 1, memory_order_relaxed);
        rs_buf_printf(&b, "{\"error\":\"unknown tenant\",\"tenant\":");
        ep_json_quote(&b, id.base, id.len);
        rs_buf_printf(&b, "}\n");
    } else {
        atomic_fetch_add_explicit(&g->rejected_none, 1, memory_order_relaxed);
        rs_buf_printf(&b, "{\"error\":\"no tenant in the request\",\"hint\":\"use a tenant host name%s%s\"}\n",
                      c->header != NULL ? " or the tenant header" : "", c->path_prefix != NULL ? " or the tenant path prefix" : "");
    }
    send_json(req->h2o, c->unknown_status, c->unknown_status == 421 ? "Misdirected Request" : "Not Found", &b);
    rs_buf_free(&b);
    return EP_DONE;
}

/* Preview hosts: the capture names the upstream, created on first use (bounded). */
static int route_preview(const tenant_conf_t *c, tenant_global_t *g, tenant_thread_t *t, ep_req_t *req)
{
    h2o_iovec_t host = req->h2o->input.authority;
    for (size_t i = 0; i < c->npreviews; i++) {
        const preview_t *pv = &c->previews[i];
        const char *cap;
        size_t clen = ep_host_capture_match(pv->pattern, host.base, host.len, &cap);
        if (clen == 0)
            continue;
        if (pv->digits_only) {
            size_t k = 0;
            while (k < clen && cap[k] >= '0' && cap[k] <= '9')
                k++;
            if (k != clen || clen > 5)
                continue;
        }
        char hostport[300];
        if (ep_template_expand(pv->upstream, cap, clen, hostport, sizeof(hostport)) != 0)
            continue;
        /* per-thread cache keyed by the expanded host:port, so the registry lock is taken once per thread */
        uint32_t slot = ep_split_bucket("preview", hostport, strlen(hostport)) % PREVIEW_CACHE;
        const ep_upstream_t *up = NULL;
        if (t != NULL && strcmp(t->preview_cache[slot].host, hostport) == 0)
            up = t->preview_cache[slot].up;
        if (up == NULL) {
            if (atomic_load(&g->preview_upstreams) >= c->preview_max) {
                atomic_fetch_add_explicit(&g->preview_refused, 1, memory_order_relaxed);
                return 0;
            }
            char name[320], err[200];
            snprintf(name, sizeof(name), "preview:%s", hostport);
            const char *servers[1] = {hostport};
            ep_upstream_params_t params = {.max_conns = 0, .fail_threshold = 3, .fail_skip_ms = 2000, .keepalive_ms = 10000};
            up = ep_upstream_get(name, servers, 1, &params, err, sizeof(err));
            if (up == NULL)
                return 0;
            /* counts distinct per-thread creations: an upper bound of the registry's growth, never lower */
            atomic_fetch_add(&g->preview_upstreams, 1);
            if (t != NULL && strlen(hostport) < sizeof(t->preview_cache[slot].host)) {
                strcpy(t->preview_cache[slot].host, hostport);
                t->preview_cache[slot].up = up;
            }
        }
        /* a record of its own so the tenant id is a real tenant for the canary module (placement single) */
        ep_tenant_t *rec = h2o_mem_alloc_pool(&req->h2o->pool, sizeof(*rec) + 8 + clen + 1);
        memset(rec, 0, sizeof(*rec));
        rec->magic = EP_TENANT_MAGIC;
        rec->placement = EP_PLACEMENT_SINGLE;
        rec->pinned_stable = 1;
        memcpy(rec->id, "preview-", 8);
        memcpy(rec->id + 8, cap, clen);
        rec->id[8 + clen] = '\0';
        rec->id_len = (uint8_t)(8 + clen);
        req->tenant_id = rec->id;
        req->placement = "single";
        req->tenant_source = "preview";
        req->upstream = up;
        atomic_fetch_add_explicit(&g->by_source[M_PREVIEW], 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&g->by_placement[EP_PLACEMENT_SINGLE], 1, memory_order_relaxed);
        return 1;
    }
    return 0;
}

static ep_status_t tenant_on_req(const void *cp, void *gstate, void *tstate, ep_req_t *req)
{
    const tenant_conf_t *c = cp;
    tenant_global_t *g = gstate;
    tenant_thread_t *t = tstate;
    if (c == NULL)
        return EP_NEXT;
    if (c->npreviews > 0 && route_preview(c, g, t, req))
        return EP_NEXT;

    char jwt_buf[EP_TENANT_ID_MAX + 2];
    h2o_iovec_t first_unknown = {NULL, 0};
    const ep_tenant_t *tenant = NULL;
    int source = -1;
    size_t path_consumed = 0;
    for (size_t i = 0; i < c->nsources && tenant == NULL; i++) {
        size_t consumed = 0;
        h2o_iovec_t id = source_id(c, g, t, req, c->sources[i], jwt_buf, sizeof(jwt_buf), &consumed);
        if (id.len == 0)
            continue;
        tenant = ep_tenant_map_find(c->map, id.base, id.len);
        if (tenant != NULL) {
            source = (int)c->sources[i];
            path_consumed = consumed;
        } else if (first_unknown.len == 0) {
            first_unknown = h2o_strdup(&req->h2o->pool, id.base, id.len);
        }
    }
    if (tenant == NULL) {
        if (c->default_tenant != NULL) {
            tenant = c->default_tenant;
            source = M_DEFAULT;
        } else if (first_unknown.len > 0 || c->required) {
            return reject(c, g, req, first_unknown);
        } else {
            return EP_NEXT;
        }
    }
    req->tenant_id = tenant->id;
    req->placement = ep_placement_str((ep_placement_t)tenant->placement);
    req->tenant_source = source == M_DEFAULT ? "default" : source_names[source];
    if (tenant->ruleset != NULL)
        req->ruleset = tenant->ruleset;
    req->waf_detection_only = tenant->detection_only;
    const char *upname = tenant->upstream != NULL ? tenant->upstream : c->shared_upstream;
    const ep_upstream_t *up = ep_generation_upstream(req->gen, upname);
    if (up != NULL)
        req->upstream = up;
    if (path_consumed > 0 && c->strip_path) {
        /* "/t/acme/x?y" -> "/x?y"; "/t/acme" -> "/" */
        h2o_iovec_t path = req->h2o->path;
        size_t rest = path.len - path_consumed;
        if (rest == 0 || path.base[path_consumed] != '/') {
            char *np = h2o_mem_alloc_pool(&req->h2o->pool, rest + 2);
            np[0] = '/';
            memcpy(np + 1, path.base + path_consumed, rest);
            req->upstream_path = h2o_iovec_init(np, rest + 1);
        } else {
            req->upstream_path = h2o_iovec_init(path.base + path_consumed, rest);
        }
    }
    atomic_fetch_add_explicit(&g->by_source[source == M_DEFAULT ? M_DEFAULT : source], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&g->by_placement[tenant->placement], 1, memory_order_relaxed);
    return EP_NEXT;
}

/* ---- admin: GET /tenants/{id} ---------------------------------------------------------------------------- */

static void describe_upstream(rs_buf_t *out, const ep_generation_t *gen, const char *name)
{
    const ep_upstream_t *up = ep_generation_upstream(gen, name);
    rs_buf_printf(out, ",\"upstream\":");
    ep_json_quote(out, name, strlen(name));
    rs_buf_printf(out, ",\"servers\":[");
    for (size_t i = 0; up != NULL && i < up->nservers; i++) {
        if (i > 0)
            rs_buf_putc(out, ',');
        ep_json_quote(out, up->servers[i]->hostport, strlen(up->servers[i]->hostport));
    }
    rs_buf_putc(out, ']');
}

static void describe_tenant(rs_buf_t *out, const tenant_conf_t *c, const ep_generation_t *gen, const ep_tenant_t *t,
                            int via_default, const char *asked, size_t asked_len)
{
    const char *upname = t->upstream != NULL ? t->upstream : c->shared_upstream;
    rs_buf_printf(out, "{\"tenant\":");
    ep_json_quote(out, t->id, t->id_len);
    if (via_default) {
        rs_buf_printf(out, ",\"asked\":");
        ep_json_quote(out, asked, asked_len);
    }
    rs_buf_printf(out, ",\"placement\":\"%s\"", ep_placement_str((ep_placement_t)t->placement));
    describe_upstream(out, gen, upname != NULL ? upname : "");
    rs_buf_printf(out, ",\"pinned_stable\":%s,\"service\":", t->pinned_stable ? "true" : "false");
    if (t->service != NULL)
        ep_json_quote(out, t->service, strlen(t->service));
    else
        rs_buf_printf(out, "null");
    rs_buf_printf(out, ",\"ruleset\":");
    if (t->ruleset != NULL)
        ep_json_quote(out, t->ruleset, strlen(t->ruleset));
    else
        rs_buf_printf(out, "null");
    rs_buf_printf(out, ",\"detection_only\":%s,\"why\":", t->detection_only ? "true" : "false");
    rs_buf_t why = {0};
    if (via_default)
        rs_buf_printf(&why, "'%.*s' is not in the tenant map; tenants.default_tenant sends it to '%s'. ", (int)asked_len, asked,
                      t->id);
    rs_buf_printf(&why, "%s line %u: %s placement ", c->map_path, (unsigned)t->line,
                  ep_placement_str((ep_placement_t)t->placement));
    if (t->placement == EP_PLACEMENT_SINGLE)
        rs_buf_printf(&why, "on its own upstream '%s'", t->upstream);
    else if (t->upstream != NULL)
        rs_buf_printf(&why, "on the shared upstream '%s' named in the map", t->upstream);
    else
        rs_buf_printf(&why, "on the shared upstream '%s' (tenants.shared_upstream)", c->shared_upstream);
    if (t->pinned_stable)
        rs_buf_printf(&why, "; pinned to stable (never a canary)");
    if (t->service != NULL)
        rs_buf_printf(&why, "; its own canary service '%s'", t->service);
    ep_json_quote(out, why.base, why.len);
    rs_buf_free(&why);
    rs_buf_printf(out, ",\"map_line\":%u}\n", (unsigned)t->line);
}

static int tenant_on_admin(void *gstate, ep_admin_req_t *areq)
{
    tenant_global_t *g = gstate;
    const char *path = areq->path;
    if (strncmp(path, "/tenants", 8) != 0 || (path[8] != '\0' && path[8] != '/'))
        return 0;
    if (strcmp(areq->method, "GET") != 0) {
        areq->status = 405;
        rs_buf_printf(areq->out, "{\"error\":\"only GET is allowed on /tenants\"}\n");
        return 1;
    }
    const tenant_conf_t *gc = ep_generation_module_conf(areq->gen, "tenants");
    tenant_conf_t *c = gc != NULL ? (tenant_conf_t *)gc : current_conf(g);
    if (gc != NULL)
        atomic_fetch_add(&c->refcnt, 1);
    if (c == NULL) {
        areq->status = 404;
        rs_buf_printf(areq->out, "{\"error\":\"tenant routing is not configured\"}\n");
        return 1;
    }
    const char *id = path[8] == '/' ? path + 9 : "";
    size_t idlen = strlen(id);
    while (idlen > 0 && id[idlen - 1] == '/')
        idlen--;
    if (idlen == 0) {
        areq->status = 200;
        rs_buf_printf(areq->out, "{\"tenants\":%zu,\"map\":", ep_tenant_map_count(c->map));
        ep_json_quote(areq->out, c->map_path, strlen(c->map_path));
        rs_buf_printf(areq->out, ",\"memory_bytes\":%zu,\"sources\":[", ep_tenant_map_memory(c->map));
        for (size_t i = 0; i < c->nsources; i++)
            rs_buf_printf(areq->out, "%s\"%s\"", i ? "," : "", source_names[c->sources[i]]);
        rs_buf_printf(areq->out, "],\"default_tenant\":");
        if (c->default_tenant_name != NULL)
            ep_json_quote(areq->out, c->default_tenant_name, strlen(c->default_tenant_name));
        else
            rs_buf_printf(areq->out, "null");
        rs_buf_printf(areq->out, ",\"unknown_status\":%d}\n", c->unknown_status);
    } else {
        const ep_tenant_t *t = ep_tenant_map_find(c->map, id, idlen);
        if (t != NULL) {
            areq->status = 200;
            describe_tenant(areq->out, c, areq->gen, t, 0, id, idlen);
        } else {
            areq->status = 404;
            rs_buf_printf(areq->out, "{\"error\":\"unknown tenant\",\"tenant\":");
            ep_json_quote(areq->out, id, idlen);
            rs_buf_printf(areq->out, ",\"requests_go_to\":");
            if (c->default_tenant != NULL) {
                rs_buf_t d = {0};
                describe_tenant(&d, c, areq->gen, c->default_tenant, 1, id, idlen);
                while (d.len > 0 && d.base[d.len - 1] == '\n')
                    d.len--;
                rs_buf_append(areq->out, d.base, d.len);
                rs_buf_free(&d);
            } else {
                rs_buf_printf(areq->out, "\"rejected with %d\"", c->unknown_status);
            }
            rs_buf_printf(areq->out, "}\n");
        }
    }
    conf_release(c);
    return 1;
}

static void tenant_metrics(void *gstate, const struct st_ep_generation_t *gen, rs_buf_t *out)
{
    tenant_global_t *g = gstate;
    static const char *const names[M_SRC_COUNT] = {"host", "header", "path", "jwt", "default", "preview"};
    rs_buf_printf(out, "# HELP edgeproxy_tenant_requests_total Requests by the source that resolved their tenant.\n"
                       "# TYPE edgeproxy_tenant_requests_total counter\n");
    for (int i = 0; i < M_SRC_COUNT; i++)
        rs_buf_printf(out, "edgeproxy_tenant_requests_total{source=\"%s\"} %llu\n", names[i],
                      (unsigned long long)atomic_load(&g->by_source[i]));
    rs_buf_printf(out, "# HELP edgeproxy_tenant_placement_requests_total Requests by tenant placement.\n"
                       "# TYPE edgeproxy_tenant_placement_requests_total counter\n");
    for (int i = 0; i < 2; i++)
        rs_buf_printf(out, "edgeproxy_tenant_placement_requests_total{placement=\"%s\"} %llu\n",
                      ep_placement_str((ep_placement_t)i), (unsigned long long)atomic_load(&g->by_placement[i]));
    rs_buf_printf(out,
                  "# HELP edgeproxy_tenant_rejected_total Requests refused for an unknown or missing tenant.\n"
                  "# TYPE edgeproxy_tenant_rejected_total counter\n"
                  "edgeproxy_tenant_rejected_total{reason=\"unknown\"} %llu\n"
                  "edgeproxy_tenant_rejected_total{reason=\"none\"} %llu\n"
                  "# HELP edgeproxy_tenant_jwt_total Bearer tokens seen by the jwt tenant source.\n"
                  "# TYPE edgeproxy_tenant_jwt_total counter\n"
                  "edgeproxy_tenant_jwt_total{result=\"verified\"} %llu\n"
                  "edgeproxy_tenant_jwt_total{result=\"cache_hit\"} %llu\n"
                  "edgeproxy_tenant_jwt_total{result=\"refused\"} %llu\n"
                  "# HELP edgeproxy_tenant_preview_upstreams Preview upstreams created at run time.\n"
                  "# TYPE edgeproxy_tenant_preview_upstreams gauge\n"
                  "edgeproxy_tenant_preview_upstreams %llu\n",
                  (unsigned long long)atomic_load(&g->rejected_unknown), (unsigned long long)atomic_load(&g->rejected_none),
                  (unsigned long long)atomic_load(&g->jwt_verified), (unsigned long long)atomic_load(&g->jwt_cache_hits),
                  (unsigned long long)atomic_load(&g->jwt_refused), (unsigned long long)atomic_load(&g->preview_upstreams));
    tenant_conf_t *c = current_conf(g);
    if (c != NULL) {
        rs_buf_printf(out,
                      "# HELP edgeproxy_tenant_map_tenants Tenants in the live tenant map.\n"
                      "# TYPE edgeproxy_tenant_map_tenants gauge\n"
                      "edgeproxy_tenant_map_tenants %zu\n",
                      ep_tenant_map_count(c->map));
        conf_release(c);
    }
}

const ep_module_t ep_module_tenant = {
    .name = "tenants",
    .global_init = tenant_global_init,
    .global_free = tenant_global_free,
    .on_config = tenant_on_config,
    .on_commit = tenant_on_commit,
    .conf_free = tenant_conf_free,
    .thread_init = tenant_thread_init,
    .thread_free = tenant_thread_free,
    .on_req = tenant_on_req,
    .admin_prefix = "/tenants",
    .on_admin = tenant_on_admin,
    .metrics = tenant_metrics,
};
