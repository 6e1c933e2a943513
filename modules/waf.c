/* SPDX-License-Identifier: MIT */
/* The `waf` module: the request path's inspection step. Each named rule set is compiled once per generation
 * (off the request path) into an rs_db_t; each request runs phases 1 and 2 of the rule set that applies to it
 * (tenant's choice, else a route policy, else the default), on a transaction taken from a per-thread pool,
 * then is blocked, logged or passed. The transaction stays with the request so phases 3 and 4 see the
 * response headers, and can still replace the response with the block answer before any of it is sent. */
#include "waf.h"
#include "waf_watch.h"
#include "ir.h" /* rs_engine_mode_t */

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_BLOCK_BODY    "{\"error\":\"request blocked\",\"request_id\":\"{request_id}\"}\n"
#define DEFAULT_LOG_VALUE_MAX 200
#define CAPTURE_MAX           16384 /* bytes of a blocked request kept in the WAF log for `rules explain` */

/* ---- configuration ------------------------------------------------------------------------------------ */

static void ruleset_clear(ep_waf_ruleset_t *rs)
{
    free(rs->name);
    for (size_t i = 0; i < rs->nfiles; i++)
        free(rs->files[i]);
    free(rs->files);
    if (rs->db != NULL)
        rs_db_release(rs->db);
}

static void exclusion_clear(ep_waf_exclusion_t *x)
{
    free(x->tenant);
    free(x->path_prefix);
    for (size_t k = 0; k < x->nremove_ids; k++)
        free(x->remove_ids[k]);
    free(x->remove_ids);
    for (size_t k = 0; k < x->nremove_targets; k++)
        free(x->remove_targets[k]);
    free(x->remove_targets);
    for (size_t k = 0; k < x->nrulesets; k++)
        free(x->rulesets[k]);
    free(x->rulesets);
}

static void waf_conf_free(void *p)
{
    ep_waf_conf_t *c = p;
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nrulesets; i++)
        ruleset_clear(&c->rulesets[i]);
    free(c->rulesets);
    for (size_t i = 0; i < c->nroutes; i++) {
        free(c->routes[i].host);
        free(c->routes[i].path_prefix);
    }
    free(c->routes);
    for (size_t i = 0; i < c->nexclusions; i++)
        exclusion_clear(&c->exclusions[i]);
    free(c->exclusions);
    free(c->block_body);
    free(c->block_content_type);
    free(c->log_path);
    if (c->log_fd > 2)
        close(c->log_fd);
    free(c);
}

static const char *const mode_names[] = {"on", "detection_only", "off", NULL};
static const char *const limit_actions[] = {"reject", "partial", NULL};

/* generated exclusion rules: 101000-101399, outside the edge policy's 100100-100999 (conf/rules/edge-policy.conf) */
#define EXCLUSION_ID_BASE 101000
#define EXCLUSION_MAX     400

/* Tenant ids and path prefixes go into generated rule text: keep them to characters that need no quoting. */
static int safe_token(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s != '\0'; s++)
        if (*s <= ' ' || *s == '"' || *s == '\'' || *s == '\\' || *s == ',' || (unsigned char)*s >= 0x7f)
            return 0;
    return 1;
}

static int applies_to(const ep_waf_exclusion_t *x, const char *ruleset)
{
    if (x->nrulesets == 0)
        return 1;
    for (size_t i = 0; i < x->nrulesets; i++)
        if (strcmp(x->rulesets[i], ruleset) == 0)
            return 1;
    return 0;
}

/* Exclusions as rule text: static removals for unconditional ones (no run-time cost), otherwise a phase-1 rule
 * matching the tenant (TX:edgeproxy_tenant, set by the WAF before phase 1) and/or the path prefix whose ctl
 * actions remove rules or targets for the rest of that transaction. It runs before every CRS rule. */
static void exclusions_text(const ep_waf_exclusion_t *xs, size_t n, const char *ruleset, rs_buf_t *out)
{
    for (size_t i = 0; i < n; i++) {
        const ep_waf_exclusion_t *x = &xs[i];
        if (!applies_to(x, ruleset))
            continue;
        if (x->tenant == NULL && x->path_prefix == NULL) {
            for (size_t k = 0; k < x->nremove_ids; k++)
                rs_buf_printf(out, "SecRuleRemoveById %s\n", x->remove_ids[k]);
            for (size_t k = 0; k < x->nremove_targets; k++) {
                const char *semi = strchr(x->remove_targets[k], ';');
                rs_buf_printf(out, "SecRuleUpdateTargetById %.*s \"!%s\"\n", (int)(semi - x->remove_targets[k]),
                              x->remove_targets[k], semi + 1);
            }
            continue;
        }
        rs_buf_t ctls = {0};
        for (size_t k = 0; k < x->nremove_ids; k++)
            rs_buf_printf(&ctls, ",ctl:ruleRemoveById=%s", x->remove_ids[k]);
        for (size_t k = 0; k < x->nremove_targets; k++)
            rs_buf_printf(&ctls, ",ctl:ruleRemoveTargetById=%s", x->remove_targets[k]);
        unsigned id = EXCLUSION_ID_BASE + (unsigned)i;
        if (x->tenant != NULL && x->path_prefix != NULL)
            rs_buf_printf(out,
                          "SecRule TX:edgeproxy_tenant \"@streq %s\" \"id:%u,phase:1,pass,nolog,t:none,chain\"\n"
                          "    SecRule REQUEST_FILENAME \"@beginsWith %s\" \"t:none%s\"\n",
                          x->tenant, id, x->path_prefix, ctls.base);
        else if (x->tenant != NULL)
            rs_buf_printf(out, "SecRule TX:edgeproxy_tenant \"@streq %s\" \"id:%u,phase:1,pass,nolog,t:none%s\"\n", x->tenant, id,
                          ctls.base);
        else
            rs_buf_printf(out, "SecRule REQUEST_FILENAME \"@beginsWith %s\" \"id:%u,phase:1,pass,nolog,t:none%s\"\n",
                          x->path_prefix, id, ctls.base);
        rs_buf_free(&ctls);
    }
}

/* A list of scalars into a malloc'ed array of strings; each checked by `valid` when given. */
static int scalar_list(ep_conf_ctx_t *c, const ep_node_t *map, const char *key, int (*valid)(const char *), const char *what,
                       char ***out, size_t *n)
{
    const ep_node_t *l = ep_node_get(map, key);
    *out = NULL;
    *n = 0;
    if (l == NULL)
        return 0;
    if (ep_conf_expect(c, l, EP_NODE_SEQ, key) != 0)
        return -1;
    *out = calloc(l->count ? l->count : 1, sizeof(char *));
    int ret = 0;
    for (size_t i = 0; i < l->count; i++) {
        const ep_node_t *v = l->values[i];
        if (ep_conf_expect(c, v, EP_NODE_SCALAR, key) != 0) {
            ret = -1;
            continue;
        }
        if (valid != NULL && !valid(v->scalar)) {
            ret = ep_conf_error(c, v, "'%s' is not %s", v->scalar, what);
            continue;
        }
        (*out)[(*n)++] = strdup(v->scalar);
    }
    return ret;
}

/* "942100" or "942100-942199" */
static int valid_id_or_range(const char *s)
{
    char *end;
    unsigned long a = strtoul(s, &end, 10);
    if (end == s || a == 0)
        return 0;
    if (*end == '-') {
        const char *b = end + 1;
        unsigned long z = strtoul(b, &end, 10);
        if (end == b || z < a)
            return 0;
    }
    return *end == '\0';
}

/* "942100;ARGS:comment" as ctl:ruleRemoveTargetById takes it */
static int valid_id_target(const char *s)
{
    char *end;
    unsigned long a = strtoul(s, &end, 10);
    return end != s && a != 0 && *end == ';' && safe_token(end + 1);
}

static int parse_exclusions(ep_conf_ctx_t *c, const ep_node_t *node, ep_waf_conf_t *conf)
{
    static const char *const allowed[] = {"tenant", "path_prefix", "rulesets", "remove_ids", "remove_targets", NULL};
    if (ep_conf_expect(c, node, EP_NODE_SEQ, "waf.exclusions") != 0)
        return -1;
    if (node->count > EXCLUSION_MAX)
        return ep_conf_error(c, node, "at most %d exclusions", EXCLUSION_MAX);
    conf->exclusions = calloc(node->count ? node->count : 1, sizeof(*conf->exclusions));
    int ret = 0;
    for (size_t i = 0; i < node->count; i++) {
        const ep_node_t *e = node->values[i];
        ep_waf_exclusion_t *x = &conf->exclusions[conf->nexclusions++];
        if (ep_conf_check_map(c, e, "waf.exclusions entry", allowed) != 0) {
            ret = -1;
            continue;
        }
        const char *tenant, *prefix;
        if (ep_conf_str(c, e, "tenant", NULL, &tenant) != 0 || ep_conf_str(c, e, "path_prefix", NULL, &prefix) != 0) {
            ret = -1;
            continue;
        }
        if (tenant != NULL && !safe_token(tenant))
            ret = ep_conf_error(c, ep_node_get(e, "tenant"), "tenant id '%s' has characters a rule cannot match", tenant);
        if (prefix != NULL && (prefix[0] != '/' || !safe_token(prefix)))
            ret = ep_conf_error(c, ep_node_get(e, "path_prefix"), "path_prefix must start with '/' and hold no spaces or quotes");
        x->tenant = tenant ? strdup(tenant) : NULL;
        x->path_prefix = prefix ? strdup(prefix) : NULL;
        if (scalar_list(c, e, "remove_ids", valid_id_or_range, "a rule id or id range", &x->remove_ids, &x->nremove_ids) != 0 ||
            scalar_list(c, e, "remove_targets", valid_id_target, "ID;VARIABLE[:key]", &x->remove_targets, &x->nremove_targets) !=
                0 ||
            scalar_list(c, e, "rulesets", NULL, NULL, &x->rulesets, &x->nrulesets) != 0)
            ret = -1;
        if (x->nremove_ids == 0 && x->nremove_targets == 0)
            ret = ep_conf_error(c, e, "exclusion removes nothing: give remove_ids and/or remove_targets");
    }
    return ret;
}

/* Sources of one rule set: generated settings first (so files can still override them), then the files. */
static int compile_ruleset(ep_conf_ctx_t *c, const ep_node_t *at, const ep_waf_conf_t *conf, ep_waf_ruleset_t *rs)
{
    rs_buf_t setup = {0};
    rs_buf_printf(&setup,
                  "# generated by edgeproxy for rule set '%s'\n"
                  "SecAction \"id:100090,phase:1,pass,nolog,t:none,setvar:tx.paranoia_level=%d,"
                  "setvar:tx.inbound_anomaly_score_threshold=%d,setvar:tx.outbound_anomaly_score_threshold=%d\"\n",
                  rs->name, rs->paranoia_level, rs->inbound_threshold, rs->outbound_threshold);
    if (rs->body_limit != 0)
        rs_buf_printf(&setup, "SecRequestBodyLimit %llu\nSecRequestBodyLimitAction %s\n", (unsigned long long)rs->body_limit,
                      rs->body_limit_partial ? "ProcessPartial" : "Reject");
    exclusions_text(conf->exclusions, conf->nexclusions, rs->name, &setup);

    size_t cap = 8, n = 0;
    rs_source_t *src = malloc(cap * sizeof(*src));
    char *setup_name = NULL;
    if (asprintf(&setup_name, "<waf.rulesets.%s>", rs->name) < 0)
        abort();
    src[n++] = (rs_source_t){setup_name, setup.base, setup.len};
    glob_t *globs = calloc(rs->nfiles, sizeof(glob_t));
    int ret = 0;
    for (size_t i = 0; i < rs->nfiles; i++) {
        int g = glob(rs->files[i], GLOB_NOCHECK, NULL, &globs[i]);
        if (g != 0) {
            ep_conf_error(c, at, "rule set '%s': cannot expand '%s'", rs->name, rs->files[i]);
            ret = -1;
            continue;
        }
        for (size_t k = 0; k < globs[i].gl_pathc; k++) {
            if (n == cap)
                src = realloc(src, (cap *= 2) * sizeof(*src));
            src[n++] = (rs_source_t){globs[i].gl_pathv[k], NULL, 0};
        }
    }
    if (ret == 0) {
        /* DetectionOnly as ModSecurity runs it: every phase evaluated, nothing intercepted, would_block reported */
        rs_compile_opts_t opts = {.use_prefilter = 1,
                                  .engine_mode = rs->mode == EP_WAF_MODE_DETECTION_ONLY ? RS_ENGINE_DETECTION_ONLY : -1};
        rs->db = rs_db_compile(src, n, &opts, c->errs);
        if (rs->db == NULL)
            ret = -1;
    }
    for (size_t i = 0; i < rs->nfiles; i++)
        globfree(&globs[i]);
    free(globs);
    free(src);
    free(setup_name);
    rs_buf_free(&setup);
    return ret;
}

static int parse_ruleset(ep_conf_ctx_t *c, const ep_node_t *key, const ep_node_t *node, const ep_waf_conf_t *conf,
                         ep_waf_ruleset_t *rs)
{
    static const char *const allowed[] = {"files", "paranoia_level", "inbound_threshold", "outbound_threshold",
                                          "mode",  "body_limit",     "body_limit_action", NULL};
    rs->name = rs_strndup(key->scalar, key->scalar_len);
    if (ep_conf_check_map(c, node, "waf.rulesets entry", allowed) != 0)
        return -1;
    int64_t pl, in, out;
    int ok = ep_conf_int(c, node, "paranoia_level", 1, 1, 4, &pl) == 0;
    ok &= ep_conf_int(c, node, "inbound_threshold", 5, 1, 10000, &in) == 0;
    ok &= ep_conf_int(c, node, "outbound_threshold", 4, 1, 10000, &out) == 0;
    ok &= ep_conf_enum(c, node, "mode", mode_names, EP_WAF_MODE_ON, &rs->mode) == 0;
    ok &= ep_conf_size(c, node, "body_limit", 0, 0, (uint64_t)1 << 32, &rs->body_limit) == 0;
    ok &= ep_conf_enum(c, node, "body_limit_action", limit_actions, 0, &rs->body_limit_partial) == 0;
    rs->paranoia_level = (int)pl;
    rs->inbound_threshold = (int)in;
    rs->outbound_threshold = (int)out;
    const ep_node_t *files = ep_node_get(node, "files");
    if (rs->mode != EP_WAF_MODE_OFF) {
        if (files == NULL)
            return ep_conf_error(c, node, "rule set '%s' needs 'files' (or mode: off)", rs->name);
        if (ep_conf_expect(c, files, EP_NODE_SEQ, "files") != 0)
            return -1;
        rs->files = calloc(files->count ? files->count : 1, sizeof(char *));
        for (size_t i = 0; i < files->count; i++) {
            const ep_node_t *f = files->values[i];
            if (ep_conf_expect(c, f, EP_NODE_SCALAR, "files entry") != 0)
                return -1;
            if (f->scalar[0] == '/' || c->base_dir == NULL) {
                rs->files[rs->nfiles++] = rs_strndup(f->scalar, f->scalar_len);
            } else {
                char *p;
                if (asprintf(&p, "%s/%s", c->base_dir, f->scalar) < 0)
                    abort();
                rs->files[rs->nfiles++] = p;
            }
        }
    }
    if (!ok)
        return -1;
    if (rs->mode == EP_WAF_MODE_OFF)
        return 0;
    return compile_ruleset(c, node, conf, rs);
}

static ep_waf_ruleset_t *find_ruleset(ep_waf_conf_t *conf, const char *name)
{
    for (size_t i = 0; i < conf->nrulesets; i++)
        if (strcmp(conf->rulesets[i].name, name) == 0)
            return &conf->rulesets[i];
    return NULL;
}

static int parse_routes(ep_conf_ctx_t *c, const ep_node_t *node, ep_waf_conf_t *conf)
{
    static const char *const allowed[] = {"host", "path_prefix", "ruleset", NULL};
    if (ep_conf_expect(c, node, EP_NODE_SEQ, "waf.routes") != 0)
        return -1;
    conf->routes = calloc(node->count ? node->count : 1, sizeof(*conf->routes));
    int ret = 0;
    for (size_t i = 0; i < node->count; i++) {
        const ep_node_t *r = node->values[i];
        if (ep_conf_check_map(c, r, "waf.routes entry", allowed) != 0) {
            ret = -1;
            continue;
        }
        const char *host, *prefix, *name;
        if (ep_conf_str(c, r, "host", NULL, &host) != 0 || ep_conf_str(c, r, "path_prefix", "/", &prefix) != 0 ||
            ep_conf_str(c, r, "ruleset", NULL, &name) != 0) {
            ret = -1;
            continue;
        }
        if (name == NULL) {
            ret = ep_conf_error(c, r, "waf.routes entry needs 'ruleset'");
            continue;
        }
        ep_waf_route_t *route = &conf->routes[conf->nroutes++];
        route->host = host ? strdup(host) : NULL;
        route->path_prefix = strdup(prefix);
        route->path_prefix_len = strlen(prefix);
        route->ruleset = find_ruleset(conf, name);
        if (route->ruleset == NULL)
            ret = ep_conf_error(c, ep_node_get(r, "ruleset"), "unknown rule set '%s'", name);
    }
    return ret;
}

static int waf_on_config(ep_conf_ctx_t *c, const ep_node_t *node, void *gstate, void **out)
{
    static const char *const allowed[] = {
        "rulesets", "default_ruleset", "routes",          "failure_mode", "block_body",     "block_content_type",
        "log",      "log_value_max",   "capture_blocked", "watch",        "watch_debounce", "exclusions",
        NULL};
    static const char *const failure_modes[] = {"closed", "open", NULL};
    *out = NULL;
    if (node == NULL)
        return 0; /* no waf section: the module stays out of the request path */
    if (ep_conf_check_map(c, node, "waf", allowed) != 0)
        return -1;
    ep_waf_conf_t *conf = calloc(1, sizeof(*conf));
    conf->log_fd = -1;
    int ok = 1;
    const char *s;
    int64_t vmax;
    ok &= ep_conf_enum(c, node, "failure_mode", failure_modes, 0, &conf->fail_open) == 0;
    ok &= ep_conf_str(c, node, "block_body", DEFAULT_BLOCK_BODY, &s) == 0;
    conf->block_body = strdup(s);
    ok &= ep_conf_str(c, node, "block_content_type", "application/json", &s) == 0;
    conf->block_content_type = strdup(s);
    ok &= ep_conf_int(c, node, "log_value_max", DEFAULT_LOG_VALUE_MAX, 16, 65536, &vmax) == 0;
    conf->log_value_max = (size_t)vmax;
    ok &= ep_conf_bool(c, node, "capture_blocked", 1, &conf->capture_requests) == 0;
    ok &= ep_conf_bool(c, node, "watch", 0, &conf->watch) == 0;
    ok &= ep_conf_duration_ms(c, node, "watch_debounce", 300, 10, 60000, &conf->watch_debounce_ms) == 0;
    const ep_node_t *log = ep_node_get(node, "log");
    if (log != NULL) {
        if (ep_conf_expect(c, log, EP_NODE_SCALAR, "waf.log") != 0) {
            ok = 0;
        } else if (strcmp(log->scalar, "-") == 0) {
            conf->log_path = strdup("-");
            conf->log_fd = 2;
        } else if (ep_conf_path(c, node, "log", NULL, &conf->log_path) == 0) {
            conf->log_fd = open(conf->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
            if (conf->log_fd < 0) {
                ep_conf_error(c, log, "cannot open WAF log '%s': %s", conf->log_path, strerror(errno));
                ok = 0;
            }
        } else {
            ok = 0;
        }
    }

    const ep_node_t *exclusions = ep_node_get(node, "exclusions");
    if (exclusions != NULL && parse_exclusions(c, exclusions, conf) != 0)
        ok = 0;
    const ep_node_t *sets = ep_node_get(node, "rulesets");
    if (sets == NULL) {
        ep_conf_error(c, node, "waf needs 'rulesets'");
        goto Error;
    }
    if (ep_conf_expect(c, sets, EP_NODE_MAP, "waf.rulesets") != 0)
        goto Error;
    conf->rulesets = calloc(sets->count ? sets->count : 1, sizeof(*conf->rulesets));
    for (size_t i = 0; i < sets->count; i++) {
        if (parse_ruleset(c, sets->keys[i], sets->values[i], conf, &conf->rulesets[conf->nrulesets++]) != 0)
            ok = 0;
    }
    for (size_t i = 0; i < conf->nexclusions; i++)
        for (size_t k = 0; k < conf->exclusions[i].nrulesets; k++)
            if (find_ruleset(conf, conf->exclusions[i].rulesets[k]) == NULL) {
                ep_conf_error(c, ep_node_get(exclusions->values[i], "rulesets"), "unknown rule set '%s'",
                              conf->exclusions[i].rulesets[k]);
                ok = 0;
            }
    const char *def;
    ok &= ep_conf_str(c, node, "default_ruleset", conf->nrulesets ? conf->rulesets[0].name : NULL, &def) == 0;
    if (def != NULL && (conf->default_ruleset = find_ruleset(conf, def)) == NULL) {
        ep_conf_error(c, ep_node_get(node, "default_ruleset"), "unknown rule set '%s'", def);
        ok = 0;
    }
    const ep_node_t *routes = ep_node_get(node, "routes");
    if (routes != NULL && parse_routes(c, routes, conf) != 0)
        ok = 0;
    if (!ok)
        goto Error;
    *out = conf;
    return 0;
Error:
    waf_conf_free(conf);
    return -1;
}

/* ---- per-thread state: a pool of transactions, so the request path allocates none in the steady state ---- */

/* Idle transactions a thread keeps. Each holds its scratch (arenas, scan tables), so a burst of thousands of
 * concurrent requests must not leave thousands behind; past this many they are freed. */
#define WAF_IDLE_MAX 256

typedef struct st_waf_thread_t {
    rs_tx_t **idle;
    size_t nidle;
    rs_memo_t *memo;               /* verdicts the thread's transactions share across requests (NULL: each keeps its own) */
    rs_memo_stats_t memo_reported; /* what of memo's counters went to the global ones already */
    ep_waf_global_t *global;
    rs_buf_t line; /* WAF log line being built */
    rs_buf_t raw;  /* captured request */
} waf_thread_t;

static void *waf_thread_init(const void *conf, void *gstate)
{
    waf_thread_t *t = calloc(1, sizeof(waf_thread_t));
    if (t != NULL)
        t->global = gstate;
    return t;
}

/* Adds what the thread's memo counted since the last call to the global counters (on the thread itself: the
 * memo is not read from another one). */
static void report_memo(waf_thread_t *t)
{
    if (t->memo == NULL || t->global == NULL)
        return;
    rs_memo_stats_t now, *was = &t->memo_reported;
    rs_memo_stats(t->memo, &now);
    const uint64_t delta[6] = {now.verdict_hits - was->verdict_hits,     now.verdict_misses - was->verdict_misses,
                               now.literal_hits - was->literal_hits,     now.literal_misses - was->literal_misses,
                               now.transform_hits - was->transform_hits, now.transform_misses - was->transform_misses};
    for (int i = 0; i < 6; i++)
        if (delta[i] != 0)
            __atomic_add_fetch(&t->global->memo[i], delta[i], __ATOMIC_RELAXED);
    *was = now;
}

static void waf_thread_free(void *p)
{
    waf_thread_t *t = p;
    for (size_t i = 0; i < t->nidle; i++)
        rs_tx_free(t->idle[i]);
    free(t->idle);
    rs_memo_free(t->memo);
    rs_buf_free(&t->line);
    rs_buf_free(&t->raw);
    free(t);
}

/* A request's hold on its transaction; returned to the thread's pool when the request's memory is released
 * (after the logger ran). The pool belongs to the generation's thread state, which the request also pins. */
typedef struct st_waf_req_t {
    rs_tx_t *tx;
    waf_thread_t *thread;
    const ep_waf_ruleset_t *ruleset;
    int detection_only;
    rs_verdict_t verdict;
    int have_verdict;
} waf_req_t;

static void waf_req_dispose(void *p)
{
    waf_req_t *w = p;
    if (w->tx == NULL)
        return;
    rs_tx_end(w->tx);
    waf_thread_t *t = w->thread;
    report_memo(t);
    if (t->idle == NULL)
        t->idle = malloc(WAF_IDLE_MAX * sizeof(*t->idle));
    if (t->idle != NULL && t->nidle < WAF_IDLE_MAX)
        t->idle[t->nidle++] = w->tx;
    else /* after a burst of concurrent requests (or with no memory for the pool): give it back */
        rs_tx_free(w->tx);
    w->tx = NULL;
}

/* ---- counters ------------------------------------------------------------------------------------------ */

static int waf_global_init(void **out)
{
    ep_waf_global_t *g = calloc(1, sizeof(*g));
    pthread_mutex_init(&g->lock, NULL);
    g->watch = ep_waf_watch_new();
    *out = g;
    return 0;
}

static void waf_global_free(void *p)
{
    ep_waf_global_t *g = p;
    ep_waf_watch_free(g->watch);
    pthread_mutex_destroy(&g->lock);
    free(g->counters);
    free(g);
}

static ep_waf_counter_t *counter_slot(ep_waf_global_t *g, uint32_t id)
{
    if (g->ncounters * 2 >= g->cap) {
        size_t ncap = g->cap ? g->cap * 2 : 256;
        ep_waf_counter_t *n = calloc(ncap, sizeof(*n));
        for (size_t i = 0; i < g->cap; i++) {
            if (g->counters[i].rule_id == 0)
                continue;
            size_t j = g->counters[i].rule_id * 2654435761u % ncap;
            while (n[j].rule_id != 0)
                j = (j + 1) % ncap;
            n[j] = g->counters[i];
        }
        free(g->counters);
        g->counters = n;
        g->cap = ncap;
    }
    size_t j = id * 2654435761u % g->cap;
    while (g->counters[j].rule_id != 0 && g->counters[j].rule_id != id)
        j = (j + 1) % g->cap;
    if (g->counters[j].rule_id == 0) {
        g->counters[j].rule_id = id;
        g->ncounters++;
    }
    return &g->counters[j];
}

enum { DISP_PASS = 0, DISP_BLOCK = 1, DISP_DETECT = 2 };

/* Counts the matches from index `from` on and the regex limit hits above `limit_hits_before` (the response
 * phases add to a verdict the request phases already counted). */
static void count_matches(ep_waf_global_t *g, const rs_verdict_t *v, size_t from, unsigned limit_hits_before, int disp)
{
    pthread_mutex_lock(&g->lock);
    for (size_t i = from; i < v->nmatches; i++)
        counter_slot(g, v->matches[i].rule_id)->by_disposition[disp]++;
    if (v->limit_hits > limit_hits_before)
        g->limit_hits += v->limit_hits - limit_hits_before;
    if (disp == DISP_BLOCK)
        g->blocked++;
    else if (disp == DISP_DETECT)
        g->detected++;
    pthread_mutex_unlock(&g->lock);
}

static void count_verdict(ep_waf_global_t *g, const rs_verdict_t *v, int disp)
{
    count_matches(g, v, 0, 0, disp);
}

static void waf_metrics(void *gstate, const struct st_ep_generation_t *gen, rs_buf_t *out)
{
    ep_waf_global_t *g = gstate;
    static const char *const disp_names[] = {"pass", "block", "detect"};
    pthread_mutex_lock(&g->lock);
    rs_buf_printf(out, "# HELP edgeproxy_waf_requests_total Requests inspected by the WAF.\n"
                       "# TYPE edgeproxy_waf_requests_total counter\n");
    rs_buf_printf(out, "edgeproxy_waf_requests_total %llu\n", (unsigned long long)g->requests);
    rs_buf_printf(out, "# HELP edgeproxy_waf_verdicts_total Requests by WAF disposition.\n"
                       "# TYPE edgeproxy_waf_verdicts_total counter\n");
    rs_buf_printf(out, "edgeproxy_waf_verdicts_total{disposition=\"block\"} %llu\n", (unsigned long long)g->blocked);
    rs_buf_printf(out, "edgeproxy_waf_verdicts_total{disposition=\"detect\"} %llu\n", (unsigned long long)g->detected);
    rs_buf_printf(out, "edgeproxy_waf_verdicts_total{disposition=\"body_rejected\"} %llu\n", (unsigned long long)g->body_rejected);
    rs_buf_printf(out, "edgeproxy_waf_verdicts_total{disposition=\"error\"} %llu\n", (unsigned long long)g->errors);
    rs_buf_printf(out,
                  "# HELP edgeproxy_waf_regex_limit_hits_total Regex match/depth limit hits.\n"
                  "# TYPE edgeproxy_waf_regex_limit_hits_total counter\n"
                  "edgeproxy_waf_regex_limit_hits_total %llu\n",
                  (unsigned long long)g->limit_hits);
    static const char *const memo_tables[] = {"verdict", "literals", "transform"};
    rs_buf_printf(out, "# HELP edgeproxy_waf_memo_lookups_total What the rule engine looked up in its memo of strings seen "
                       "in earlier requests, by table and result.\n"
                       "# TYPE edgeproxy_waf_memo_lookups_total counter\n");
    for (int i = 0; i < 6; i++)
        rs_buf_printf(out, "edgeproxy_waf_memo_lookups_total{table=\"%s\",result=\"%s\"} %llu\n", memo_tables[i / 2],
                      i % 2 ? "miss" : "hit", (unsigned long long)__atomic_load_n(&g->memo[i], __ATOMIC_RELAXED));
    rs_buf_printf(out, "# HELP edgeproxy_waf_rule_matches_total Rule matches by rule id and request disposition.\n"
                       "# TYPE edgeproxy_waf_rule_matches_total counter\n");
    for (size_t i = 0; i < g->cap; i++) {
        const ep_waf_counter_t *ct = &g->counters[i];
        if (ct->rule_id == 0)
            continue;
        for (int d = 0; d < 3; d++)
            if (ct->by_disposition[d] != 0)
                rs_buf_printf(out, "edgeproxy_waf_rule_matches_total{rule=\"%u\",disposition=\"%s\"} %llu\n", ct->rule_id,
                              disp_names[d], (unsigned long long)ct->by_disposition[d]);
    }
    pthread_mutex_unlock(&g->lock);
}

/* ---- the WAF log --------------------------------------------------------------------------------------- */

void ep_json_escape(rs_buf_t *out, const char *s, size_t len, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    int truncated = max != 0 && len > max;
    if (truncated)
        len = max;
    rs_buf_reserve(out, len + 8);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            rs_buf_putc(out, '\\');
            rs_buf_putc(out, (char)ch);
        } else if (ch < 0x20 || ch == 0x7f) {
            char esc[7] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15], 0};
            rs_buf_append(out, esc, 6);
        } else if (ch >= 0x80) {
            /* keep the log valid UTF-8 whatever the request held: escape raw high bytes */
            char esc[7] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15], 0};
            rs_buf_append(out, esc, 6);
        } else {
            rs_buf_putc(out, (char)ch);
        }
    }
    if (truncated)
        rs_buf_append(out, "...", 3);
}

static void json_str(rs_buf_t *out, const char *key, const char *s, size_t len, size_t max)
{
    rs_buf_printf(out, ",\"%s\":\"", key);
    ep_json_escape(out, s, len, max);
    rs_buf_putc(out, '"');
}

/* phase: the response phase (3 or 4) that decided, 0 for the request phases (no field, as before) */
static void format_log(rs_buf_t *out, const ep_req_t *req, const char *ruleset, const char *disposition, int phase,
                       const rs_verdict_t *v, size_t value_max, rs_str_t raw_request)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    rs_buf_printf(out, "{\"time\":\"%s.%03ldZ\"", when, ts.tv_nsec / 1000000);
    json_str(out, "request_id", req->request_id.base ? req->request_id.base : "", req->request_id.len, 0);
    json_str(out, "client", req->client_addr, strlen(req->client_addr), 0);
    if (req->tenant_id != NULL)
        json_str(out, "tenant", req->tenant_id, strlen(req->tenant_id), 0);
    json_str(out, "ruleset", ruleset, strlen(ruleset), 0);
    json_str(out, "disposition", disposition, strlen(disposition), 0);
    if (phase != 0)
        rs_buf_printf(out, ",\"phase\":%d", phase);
    rs_buf_printf(out, ",\"status\":%u,\"rule\":%u,\"inbound_score\":%d,\"outbound_score\":%d", v->status, v->rule_id,
                  v->inbound_score, v->outbound_score);
    if (v->limit_hits)
        rs_buf_printf(out, ",\"regex_limit_hits\":%u", v->limit_hits);
    rs_buf_printf(out, ",\"matches\":[");
    for (size_t i = 0; i < v->nmatches; i++) {
        const rs_match_t *m = &v->matches[i];
        rs_buf_printf(out, "%s{\"id\":%u,\"phase\":%u", i ? "," : "", m->rule_id, m->phase);
        json_str(out, "msg", m->msg.base, m->msg.len, 0);
        if (m->severity >= 0)
            rs_buf_printf(out, ",\"severity\":%d", m->severity);
        json_str(out, "var", m->var_name.base, m->var_name.len, value_max);
        json_str(out, "value", m->value.base, m->value.len, value_max);
        if (m->logdata.len)
            json_str(out, "logdata", m->logdata.base, m->logdata.len, value_max);
        rs_buf_printf(out, ",\"tags\":[");
        for (size_t k = 0; k < m->ntags; k++) {
            rs_buf_printf(out, "%s\"", k ? "," : "");
            ep_json_escape(out, m->tags[k], strlen(m->tags[k]), 0);
            rs_buf_putc(out, '"');
        }
        rs_buf_printf(out, "]}");
    }
    rs_buf_putc(out, ']');
    if (raw_request.len)
        json_str(out, "request", raw_request.base, raw_request.len, CAPTURE_MAX);
    rs_buf_append(out, "}\n", 2);
}

void ep_waf_format_log(rs_buf_t *out, const ep_req_t *req, const char *ruleset, const char *disposition, const rs_verdict_t *v,
                       size_t value_max, rs_str_t raw_request)
{
    format_log(out, req, ruleset, disposition, 0, v, value_max, raw_request);
}

/* ---- the request path ---------------------------------------------------------------------------------- */

static const ep_waf_ruleset_t *choose_ruleset(const ep_waf_conf_t *conf, const ep_req_t *req)
{
    if (req->ruleset != NULL) {
        for (size_t i = 0; i < conf->nrulesets; i++)
            if (strcmp(conf->rulesets[i].name, req->ruleset) == 0)
                return &conf->rulesets[i];
        return conf->default_ruleset; /* a tenant map naming an unknown set was rejected at load; be safe */
    }
    h2o_req_t *h = req->h2o;
    for (size_t i = 0; i < conf->nroutes; i++) {
        const ep_waf_route_t *r = &conf->routes[i];
        if (r->host != NULL && !h2o_lcstris(h->authority.base, h->authority.len, r->host, strlen(r->host)))
            continue;
        if (h->path_normalized.len < r->path_prefix_len || memcmp(h->path_normalized.base, r->path_prefix, r->path_prefix_len) != 0)
            continue;
        return r->ruleset;
    }
    return conf->default_ruleset;
}

/* The request as the engine reads it: h2o consumed Host and Content-Length into fields, so they are put back. */
static void build_request(h2o_req_t *h, const ep_req_t *req, rs_request_t *out, uint64_t inspect_limit)
{
    size_t n = h->headers.size + 2, k = 0;
    rs_header_t *hdrs = h2o_mem_alloc_pool(&h->pool, n * sizeof(*hdrs));
    hdrs[k++] = (rs_header_t){RS_STR("Host"), {h->authority.base, h->authority.len}};
    char *cl = NULL;
    if (h->entity.base != NULL) {
        cl = h2o_mem_alloc_pool(&h->pool, 24);
        int cl_len = snprintf(cl, 24, "%zu", h->entity.len);
        hdrs[k++] = (rs_header_t){RS_STR("Content-Length"), {cl, (size_t)cl_len}};
    }
    for (size_t i = 0; i < h->headers.size; i++) {
        const h2o_header_t *hd = &h->headers.entries[i];
        const char *name = hd->orig_name != NULL ? hd->orig_name : hd->name->base;
        hdrs[k++] = (rs_header_t){{name, hd->name->len}, {hd->value.base, hd->value.len}};
    }
    memset(out, 0, sizeof(*out));
    out->method = (rs_str_t){h->method.base, h->method.len};
    out->uri = (rs_str_t){h->input.path.base, h->input.path.len};
    out->protocol = h->version >= 0x200 ? RS_STR("HTTP/2.0") : h->version == 0x100 ? RS_STR("HTTP/1.0") : RS_STR("HTTP/1.1");
    out->headers = hdrs;
    out->nheaders = k;
    out->body_full_length = h->entity.base != NULL ? h->entity.len : 0;
    out->body = (rs_str_t){h->entity.base, h->entity.base != NULL ? h->entity.len : 0};
    if (inspect_limit != 0 && out->body.len > inspect_limit)
        out->body.len = inspect_limit;
    out->remote_addr = (rs_str_t){req->client_addr, strlen(req->client_addr)};
    out->remote_port = req->client_port;
    out->unique_id = (rs_str_t){req->request_id.base, req->request_id.len};
}

/* A raw HTTP/1.1 rendering of the request for the WAF log, so `rules explain` can replay it. */
static rs_str_t capture_request(rs_buf_t *raw, const rs_request_t *r)
{
    rs_buf_reset(raw);
    rs_buf_append(raw, r->method.base, r->method.len);
    rs_buf_putc(raw, ' ');
    rs_buf_append(raw, r->uri.base, r->uri.len);
    rs_buf_append(raw, " HTTP/1.1\r\n", 11);
    for (size_t i = 0; i < r->nheaders; i++) {
        rs_buf_append(raw, r->headers[i].name.base, r->headers[i].name.len);
        rs_buf_append(raw, ": ", 2);
        rs_buf_append(raw, r->headers[i].value.base, r->headers[i].value.len);
        rs_buf_append(raw, "\r\n", 2);
    }
    rs_buf_append(raw, "\r\n", 2);
    rs_buf_append(raw, r->body.base, r->body.len);
    return (rs_str_t){raw->base, raw->len};
}

static void write_log_phase(const ep_waf_conf_t *conf, waf_thread_t *t, const ep_req_t *req, const char *ruleset,
                            const char *disposition, int phase, const rs_verdict_t *v, rs_str_t raw)
{
    if (conf->log_fd < 0)
        return;
    rs_buf_reset(&t->line);
    format_log(&t->line, req, ruleset, disposition, phase, v, conf->log_value_max, raw);
    /* one write() per line: O_APPEND keeps lines from different threads whole */
    ssize_t w = write(conf->log_fd, t->line.base, t->line.len);
    (void)w;
}

static void write_log(const ep_waf_conf_t *conf, waf_thread_t *t, const ep_req_t *req, const char *ruleset, const char *disposition,
                      const rs_verdict_t *v, rs_str_t raw)
{
    write_log_phase(conf, t, req, ruleset, disposition, 0, v, raw);
}

static const char *block_reason(int status)
{
    return status == 403 ? "Forbidden" : status == 413 ? "Payload Too Large" : status == 400 ? "Bad Request" : "Blocked";
}

/* waf.block_body with the request id filled in, in the request's pool (NUL-terminated) */
static h2o_iovec_t block_body(const ep_waf_conf_t *conf, ep_req_t *req)
{
    h2o_req_t *h = req->h2o;
    const char *tpl = conf->block_body, *mark = strstr(tpl, "{request_id}");
    h2o_iovec_t body;
    if (mark == NULL) {
        body = h2o_strdup(&h->pool, tpl, SIZE_MAX);
    } else {
        size_t pre = (size_t)(mark - tpl), idlen = req->request_id.len, post = strlen(mark + 12);
        body.len = pre + idlen + post;
        body.base = h2o_mem_alloc_pool(&h->pool, body.len + 1);
        memcpy(body.base, tpl, pre);
        if (idlen)
            memcpy(body.base + pre, req->request_id.base, idlen);
        memcpy(body.base + pre + idlen, mark + 12, post + 1);
    }
    return body;
}

static void send_block(const ep_waf_conf_t *conf, ep_req_t *req, int status)
{
    h2o_req_t *h = req->h2o;
    h2o_iovec_t body = block_body(conf, req);
    h->res.status = status;
    h->res.reason = block_reason(status);
    h->res.content_length = body.len;
    h2o_add_header(&h->pool, &h->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, conf->block_content_type,
                   strlen(conf->block_content_type));
    h2o_send_inline(h, body.base, body.len);
}

/* The engine stopped the transaction (deny, drop or redirect). Under SecRuleEngine DetectionOnly (a rule
 * set's mode detection_only, or the rule files' own setting) it never does: it reports would_block. */
static int verdict_intercepts(const rs_verdict_t *v)
{
    return v->disposition == RS_DENY || v->disposition == RS_DROP || v->disposition == RS_REDIRECT;
}

static ep_status_t waf_on_req(const void *cp, void *gstate, void *tstate, ep_req_t *req)
{
    const ep_waf_conf_t *conf = cp;
    ep_waf_global_t *g = gstate;
    waf_thread_t *t = tstate;
    if (conf == NULL)
        return EP_NEXT; /* no waf section in this generation */
    const ep_waf_ruleset_t *rs = choose_ruleset(conf, req);
    if (rs == NULL || rs->mode == EP_WAF_MODE_OFF || rs->db == NULL)
        return EP_NEXT;
    h2o_req_t *h = req->h2o;
    int detection_only = rs->mode == EP_WAF_MODE_DETECTION_ONLY || req->waf_detection_only;

    /* body over the inspection limit: refuse it before any rule work, or inspect its first part */
    if (rs->body_limit != 0 && h->entity.base != NULL && h->entity.len > rs->body_limit && !rs->body_limit_partial) {
        __atomic_add_fetch(&g->body_rejected, 1, __ATOMIC_RELAXED);
        req->waf_action = detection_only ? "detect" : "block";
        if (!detection_only) {
            send_block(conf, req, 413);
            return EP_DONE;
        }
    }

    waf_req_t *w = h2o_mem_alloc_shared(&h->pool, sizeof(*w), waf_req_dispose);
    memset(w, 0, sizeof(*w));
    w->thread = t;
    w->ruleset = rs;
    w->detection_only = detection_only;
    if (t->nidle != 0)
        w->tx = t->idle[--t->nidle];
    else {
        w->tx = rs_tx_new();
        if (t->memo == NULL)
            t->memo = rs_memo_new();
        rs_tx_use_memo(w->tx, t->memo);
    }
    req->waf_ctx = w;

    rs_request_t r;
    build_request(h, req, &r, rs->body_limit_partial ? rs->body_limit : 0);
    rs_tx_begin(w->tx, rs->db, &r);
    if (req->tenant_id != NULL)
        rs_tx_set_var(w->tx, "edgeproxy_tenant", (rs_str_t){req->tenant_id, strlen(req->tenant_id)});
    __atomic_add_fetch(&g->requests, 1, __ATOMIC_RELAXED);
    int err = rs_tx_run_phase(w->tx, 1, &w->verdict);
    if (err == 0 && w->verdict.disposition == RS_PASS && !w->verdict.would_block)
        err = rs_tx_run_phase(w->tx, 2, &w->verdict);
    w->have_verdict = 1;
    const rs_verdict_t *v = &w->verdict;
    req->waf_score = v->inbound_score;
    req->waf_rule = v->rule_id;

    if (err != 0) {
        __atomic_add_fetch(&g->errors, 1, __ATOMIC_RELAXED);
        req->waf_action = "error";
        write_log(conf, t, req, rs->name, conf->fail_open ? "error-open" : "error-closed", v, (rs_str_t){NULL, 0});
        if (!conf->fail_open) {
            h2o_send_error_503(h, "Service Unavailable", "request could not be inspected\n", 0);
            return EP_DONE;
        }
        return EP_NEXT;
    }
    int blocks = v->would_block || verdict_intercepts(v);
    if (verdict_intercepts(v) && !detection_only) {
        req->waf_action = "block";
        count_verdict(g, v, DISP_BLOCK);
        rs_str_t raw = conf->capture_requests ? capture_request(&t->raw, &r) : (rs_str_t){NULL, 0};
        write_log(conf, t, req, rs->name, "block", v, raw);
        if (v->disposition == RS_REDIRECT && v->redirect.len != 0) {
            h2o_iovec_t loc = h2o_strdup(&h->pool, v->redirect.base, v->redirect.len);
            h2o_send_redirect(h, 302, "Found", loc.base, loc.len);
        } else if (v->disposition == RS_DROP) {
            h2o_send_error_generic(h, v->status ? v->status : 403, "Forbidden", "", H2O_SEND_ERROR_HTTP1_CLOSE_CONNECTION);
        } else {
            send_block(conf, req, v->status ? v->status : 403);
        }
        return EP_DONE;
    }
    if (blocks) {
        req->waf_action = "detect";
        count_verdict(g, v, DISP_DETECT);
        write_log(conf, t, req, rs->name, "detect", v, (rs_str_t){NULL, 0});
    } else {
        req->waf_action = "pass";
        if (v->nmatches != 0) {
            count_verdict(g, v, DISP_PASS);
            write_log(conf, t, req, rs->name, "pass", v, (rs_str_t){NULL, 0});
        }
    }
    return EP_NEXT;
}

/* Whether the matches from index `from` on decided a block (or would have, in DetectionOnly). */
static int newly_decided(const rs_verdict_t *v, size_t from, int would_block_before)
{
    if (verdict_intercepts(v) || (v->would_block && !would_block_before))
        return 1;
    for (size_t i = from; i < v->nmatches; i++)
        if (v->matches[i].disruptive)
            return 1;
    return 0;
}

/* A disruptive verdict of a response phase: the response is replaced by the block answer (the pipeline
 * sends this body instead of the upstream's, none of which reaches the client). */
static void replace_response(const ep_waf_conf_t *conf, ep_req_t *req, const rs_verdict_t *v)
{
    h2o_req_t *h = req->h2o;
    int status = v->status ? v->status : 403;
    h->res.headers = (h2o_headers_t){NULL, 0, 0}; /* none of the upstream's headers (cookies, leaks) go out */
    h->res.mime_attr = NULL;
    h2o_iovec_t body = {NULL, 0};
    if (v->disposition == RS_REDIRECT && v->redirect.len != 0) {
        h->res.status = 302;
        h->res.reason = "Found";
        h2o_iovec_t loc = h2o_strdup(&h->pool, v->redirect.base, v->redirect.len);
        h2o_add_header(&h->pool, &h->res.headers, H2O_TOKEN_LOCATION, NULL, loc.base, loc.len);
    } else if (v->disposition == RS_DROP) {
        /* as on the request side: an empty answer and the HTTP/1 connection closed */
        h->res.status = status;
        h->res.reason = block_reason(status);
        h->http1_is_persistent = 0;
    } else {
        body = block_body(conf, req);
        h->res.status = status;
        h->res.reason = block_reason(status);
        h2o_add_header(&h->pool, &h->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, conf->block_content_type,
                       strlen(conf->block_content_type));
    }
    req->response_body = body;
    req->response_replaced = 1;
}

/* Phases 3 and 4 on the upstream's response headers, before any of the response is sent. The response body
 * is streamed, not buffered, so phase 4 runs with an empty RESPONSE_BODY: what it adds is the outbound
 * anomaly evaluation (CRS 959100) over the scores phase 3 set. A disruptive verdict replaces the response
 * with the block answer; DetectionOnly logs it as "detect". */
static void waf_on_response(const void *cp, void *gstate, void *tstate, ep_req_t *req)
{
    const ep_waf_conf_t *conf = cp;
    waf_req_t *w = req->waf_ctx;
    const char *action = req->waf_action ? req->waf_action : "";
    if (conf == NULL || w == NULL || w->tx == NULL || !w->have_verdict || strcmp(action, "block") == 0 ||
        strcmp(action, "error") == 0)
        return;
    h2o_req_t *h = req->h2o;
    size_t n = h->res.headers.size;
    rs_header_t *hdrs = h2o_mem_alloc_pool(&h->pool, (n + 1) * sizeof(*hdrs));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const h2o_header_t *hd = &h->res.headers.entries[i];
        hdrs[k++] = (rs_header_t){{hd->name->base, hd->name->len}, {hd->value.base, hd->value.len}};
    }
    /* libh2o keeps the upstream's Content-Length in a field, not among the headers: put it back for the rules */
    if (h->res.content_length != SIZE_MAX) {
        char *cl = h2o_mem_alloc_pool(&h->pool, 24);
        int cl_len = snprintf(cl, 24, "%zu", h->res.content_length);
        hdrs[k++] = (rs_header_t){RS_STR("Content-Length"), {cl, (size_t)cl_len}};
    }
    rs_response_t res = {.status = h->res.status, .protocol = RS_STR("HTTP/1.1"), .headers = hdrs, .nheaders = k};
    size_t before = w->verdict.nmatches;
    unsigned limit_hits_before = w->verdict.limit_hits;
    int would_block_before = w->verdict.would_block;
    rs_tx_set_response(w->tx, &res);
    if (rs_tx_run_phase(w->tx, 3, &w->verdict) != 0)
        return;
    int decided_in_3 = newly_decided(&w->verdict, before, would_block_before);
    if (!verdict_intercepts(&w->verdict) && rs_tx_run_phase(w->tx, 4, &w->verdict) != 0)
        return;
    const rs_verdict_t *v = &w->verdict;
    if (v->nmatches == before && !verdict_intercepts(v))
        return;
    int decided = newly_decided(v, before, would_block_before);
    int phase = decided ? (decided_in_3 ? 3 : 4) : v->matches[before].phase;
    if (verdict_intercepts(v) && !w->detection_only) {
        req->waf_action = "block";
        req->waf_rule = v->rule_id;
        count_matches(gstate, v, before, limit_hits_before, DISP_BLOCK);
        write_log_phase(conf, tstate, req, w->ruleset->name, "block", phase, v, (rs_str_t){NULL, 0});
        replace_response(conf, req, v);
        return;
    }
    if (decided) {
        req->waf_action = "detect";
        req->waf_rule = v->rule_id;
        count_matches(gstate, v, before, limit_hits_before, DISP_DETECT);
        write_log_phase(conf, tstate, req, w->ruleset->name, "detect", phase, v, (rs_str_t){NULL, 0});
        return;
    }
    count_matches(gstate, v, before, limit_hits_before, DISP_PASS);
    write_log_phase(conf, tstate, req, w->ruleset->name, "pass", phase, v, (rs_str_t){NULL, 0});
}

static void waf_on_commit(void *conf, void *gstate)
{
    ep_waf_global_t *g = gstate;
    ep_waf_watch_update(g->watch, conf);
}

const ep_module_t ep_module_waf = {
    .name = "waf",
    .global_init = waf_global_init,
    .global_free = waf_global_free,
    .on_config = waf_on_config,
    .on_commit = waf_on_commit,
    .conf_free = waf_conf_free,
    .thread_init = waf_thread_init,
    .thread_free = waf_thread_free,
    .on_req = waf_on_req,
    .on_response = waf_on_response,
    .metrics = waf_metrics,
};
