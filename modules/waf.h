/* SPDX-License-Identifier: MIT */
/* The `waf` module: runs each request through the compiled rule set that applies to it (by tenant, route or
 * default), blocks, logs and counts. Config section `waf:`; see conf/edgeproxy.yaml. */
#ifndef EP_WAF_H
#define EP_WAF_H

#include <pthread.h>
#include <stdint.h>
#include "module.h"
#include "rs.h"

typedef enum { EP_WAF_MODE_ON = 0, EP_WAF_MODE_DETECTION_ONLY, EP_WAF_MODE_OFF } ep_waf_mode_t;

/** A named rule set: its files compiled into one database. */
typedef struct st_ep_waf_ruleset_t {
    char *name;
    char **files; /* as configured, resolved against the config directory (globs allowed) */
    size_t nfiles;
    int paranoia_level;     /* 1..4 (CRS tx.paranoia_level) */
    int inbound_threshold;  /* CRS tx.inbound_anomaly_score_threshold */
    int outbound_threshold; /* CRS tx.outbound_anomaly_score_threshold */
    int mode;               /* ep_waf_mode_t */
    uint64_t body_limit;    /* bytes inspected; 0 = as the rule files say */
    int body_limit_partial; /* over the limit: 1 = inspect the first body_limit bytes, 0 = reject with 413 */
    rs_db_t *db;            /* NULL when mode is off */
} ep_waf_ruleset_t;

/** A route policy: requests whose host and path prefix match use `ruleset`. */
typedef struct st_ep_waf_route_t {
    char *host; /* NULL: any */
    char *path_prefix;
    size_t path_prefix_len;
    ep_waf_ruleset_t *ruleset;
} ep_waf_route_t;

/** Rules removed for a tenant and/or path prefix, without editing the rule files. */
typedef struct st_ep_waf_exclusion_t {
    char *tenant;      /* NULL: every tenant */
    char *path_prefix; /* NULL: every path */
    char **rulesets;   /* rule sets it applies to; none: all */
    size_t nrulesets;
    char **remove_ids; /* "942100" or "942100-942199" */
    size_t nremove_ids;
    char **remove_targets; /* "ID;VAR:key" as ctl:ruleRemoveTargetById takes it */
    size_t nremove_targets;
} ep_waf_exclusion_t;

typedef struct st_ep_waf_conf_t {
    ep_waf_ruleset_t *rulesets;
    size_t nrulesets;
    ep_waf_ruleset_t *default_ruleset;
    ep_waf_route_t *routes;
    size_t nroutes;
    ep_waf_exclusion_t *exclusions;
    size_t nexclusions;
    int fail_open;    /* an internal WAF error lets the request through (default: closed -> 503) */
    char *block_body; /* template; "{request_id}" is replaced */
    char *block_content_type;
    char *log_path; /* WAF log (JSON lines); "-" = stderr; NULL = off */
    int log_fd;
    size_t log_value_max; /* matched values are truncated to this many bytes in the log */
    int capture_requests; /* blocked requests are captured in the WAF log for `rules explain` */
    int watch;            /* recompile when a rule file changes (inotify, debounced) */
    uint64_t watch_debounce_ms;
} ep_waf_conf_t;

/** Process-wide WAF state that outlives generations: counters for /metrics. */
typedef struct st_ep_waf_counter_t {
    uint32_t rule_id;
    uint64_t by_disposition[3]; /* pass (logged only), block, detect */
} ep_waf_counter_t;

typedef struct st_ep_waf_global_t {
    pthread_mutex_t lock;
    ep_waf_counter_t *counters; /* open addressing by rule id */
    size_t ncounters, cap;
    uint64_t requests, blocked, detected, errors, limit_hits, body_rejected;
    uint64_t memo[6];                /* the workers' memo lookups, as rs_memo_stats_t lists them (atomic adds) */
    struct st_ep_waf_watch_t *watch; /* rule file watcher (waf_watch.c) */
} ep_waf_global_t;

extern const ep_module_t ep_module_waf;

/** `edgeproxy rules explain -c CONFIG ...` (argv starts after "rules"); see modules/waf_explain.c. */
int ep_waf_explain_main(int argc, char **argv);

/** Builds the JSON WAF log line for a verdict (exposed for tests). */
void ep_waf_format_log(rs_buf_t *out, const ep_req_t *req, const char *ruleset, const char *disposition, const rs_verdict_t *v,
                       size_t value_max, rs_str_t raw_request);
/** JSON-escapes s into out (control characters as \u00XX), truncated to max bytes (0 = no limit). */
void ep_json_escape(rs_buf_t *out, const char *s, size_t len, size_t max);

#endif
