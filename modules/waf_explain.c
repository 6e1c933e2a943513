/* SPDX-License-Identifier: MIT */
/* `edgeproxy rules explain -c CONFIG ...`: why the live configuration blocks (or passes) a request. The request
 * comes from a raw HTTP file or, by request id, from the capture the WAF log keeps of each blocked request; the
 * rule set is the one the config names (or the one the log line recorded). Prints every matched rule with its
 * variable, transformed value and message, the anomaly scores and the disposition. */
#include "waf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_all(const char *path, size_t *len)
{
    rs_buf_t b = {0};
    if (rs_read_file(path, 0, &b) != 0) {
        rs_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return b.base;
}

/* Finds the JSON string value of `key` in a WAF log line and decodes the escapes ep_json_escape writes. */
static int json_field(const char *line, const char *key, rs_buf_t *out)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":\"", key);
    const char *p = strstr(line, pat);
    if (p == NULL)
        return -1;
    rs_buf_reset(out);
    for (p += strlen(pat); *p != '\0' && *p != '"'; p++) {
        if (*p != '\\') {
            rs_buf_putc(out, *p);
            continue;
        }
        p++;
        if (*p == 'u' && p[1] && p[2] && p[3] && p[4]) {
            rs_buf_putc(out, (char)strtol((char[]){p[3], p[4], 0}, NULL, 16));
            p += 4;
        } else if (*p == 'n') {
            rs_buf_putc(out, '\n');
        } else if (*p != '\0') {
            rs_buf_putc(out, *p);
        } else {
            break;
        }
    }
    rs_buf_reserve(out, 0);
    return 0;
}

/* The captured request and rule set of the last WAF log line for request id `id`. */
static int find_logged_request(const char *log_path, const char *id, rs_buf_t *raw, rs_buf_t *ruleset)
{
    size_t len;
    char *log = read_all(log_path, &len);
    if (log == NULL) {
        fprintf(stderr, "cannot read WAF log %s\n", log_path);
        return -1;
    }
    char pat[300];
    snprintf(pat, sizeof(pat), "\"request_id\":\"%s\"", id);
    int found = -1;
    for (char *line = log, *nl; line < log + len; line = nl + 1) {
        nl = memchr(line, '\n', (size_t)(log + len - line));
        if (nl == NULL)
            nl = log + len;
        *nl = '\0';
        if (strstr(line, pat) == NULL)
            continue;
        if (json_field(line, "request", raw) == 0) {
            json_field(line, "ruleset", ruleset);
            found = 0;
        }
    }
    free(log);
    if (found != 0)
        fprintf(stderr, "no captured request with id %s in %s (only blocked requests are captured)\n", id, log_path);
    return found;
}

static void print_trace(void *ctx, const char *line)
{
    fprintf(ctx, "  trace: %s\n", line);
}

static int usage(void)
{
    fputs("usage: edgeproxy rules explain -c CONFIG [--ruleset NAME] [--trace]\n"
          "                               (--request RAW_HTTP_FILE | --request-id ID [--waf-log FILE])\n",
          stderr);
    return 2;
}

int ep_waf_explain_main(int argc, char **argv)
{
    const char *config = NULL, *ruleset_name = NULL, *request_file = NULL, *request_id = NULL, *waf_log = NULL;
    int trace = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && i + 1 < argc)
            config = argv[++i];
        else if (strcmp(a, "--ruleset") == 0 && i + 1 < argc)
            ruleset_name = argv[++i];
        else if (strcmp(a, "--request") == 0 && i + 1 < argc)
            request_file = argv[++i];
        else if (strcmp(a, "--request-id") == 0 && i + 1 < argc)
            request_id = argv[++i];
        else if (strcmp(a, "--waf-log") == 0 && i + 1 < argc)
            waf_log = argv[++i];
        else if (strcmp(a, "--trace") == 0)
            trace = 1;
        else if (strcmp(a, "explain") != 0)
            return usage();
    }
    if (config == NULL || (request_file == NULL) == (request_id == NULL))
        return usage();

    rs_errors_t errs = {0};
    ep_doc_t *doc = ep_doc_load(config, &errs);
    ep_waf_conf_t *conf = NULL;
    int ret = 1;
    rs_buf_t raw = {0}, logged_ruleset = {0}, storage = {0};
    if (doc == NULL)
        goto Exit;
    char *dir = strdup(config), *slash = strrchr(dir, '/');
    if (slash != NULL)
        *slash = '\0';
    ep_conf_ctx_t cctx = {&errs, slash != NULL ? dir : "."};
    void *confp = NULL;
    int cret = ep_module_waf.on_config(&cctx, ep_node_get(doc->root, "waf"), NULL, &confp);
    free(dir);
    conf = confp;
    if (cret != 0)
        goto Exit;
    if (conf == NULL) {
        fprintf(stderr, "%s: no 'waf' section: nothing inspects requests\n", config);
        goto Exit;
    }

    if (request_id != NULL) {
        const char *path = waf_log != NULL ? waf_log : conf->log_path;
        if (path == NULL || strcmp(path, "-") == 0) {
            fprintf(stderr, "the config logs the WAF to stderr or nowhere: give --waf-log FILE\n");
            goto Exit;
        }
        if (find_logged_request(path, request_id, &raw, &logged_ruleset) != 0)
            goto Exit;
        if (ruleset_name == NULL && logged_ruleset.len != 0)
            ruleset_name = logged_ruleset.base;
    } else {
        size_t len;
        char *data = read_all(request_file, &len);
        if (data == NULL) {
            fprintf(stderr, "cannot read %s\n", request_file);
            goto Exit;
        }
        rs_buf_append(&raw, data, len);
        free(data);
    }

    const ep_waf_ruleset_t *rs = conf->default_ruleset;
    if (ruleset_name != NULL) {
        rs = NULL;
        for (size_t i = 0; i < conf->nrulesets; i++)
            if (strcmp(conf->rulesets[i].name, ruleset_name) == 0)
                rs = &conf->rulesets[i];
        if (rs == NULL) {
            fprintf(stderr, "no rule set named '%s' in %s\n", ruleset_name, config);
            goto Exit;
        }
    }
    if (rs == NULL || rs->db == NULL) {
        printf("rule set '%s' is off: the request passes uninspected\n", rs ? rs->name : "(none)");
        ret = 0;
        goto Exit;
    }

    rs_request_t req;
    char perr[256];
    if (rs_request_parse_raw((rs_str_t){raw.base, raw.len}, &req, &storage, perr, sizeof(perr)) != 0) {
        fprintf(stderr, "cannot parse the request: %s\n", perr);
        goto Exit;
    }
    rs_tx_t *tx = rs_tx_new();
    if (trace)
        rs_tx_set_trace(tx, print_trace, stdout);
    rs_verdict_t v;
    printf("rule set: %s (mode %s)\nrequest: %.*s %.*s\n", rs->name,
           rs->mode == EP_WAF_MODE_DETECTION_ONLY ? "detection_only" : "on", (int)req.method.len, req.method.base, (int)req.uri.len,
           req.uri.base);
    rs_tx_begin(tx, rs->db, &req);
    int err = rs_tx_run_phase(tx, 1, &v);
    if (err == 0 && v.disposition == RS_PASS && !v.would_block)
        err = rs_tx_run_phase(tx, 2, &v);
    for (size_t i = 0; i < v.nmatches; i++) {
        const rs_match_t *m = &v.matches[i];
        printf("\nrule %u (phase %u, %s:%u)%s\n  msg:   %.*s\n  var:   %.*s\n  value: %.*s\n", m->rule_id, m->phase,
               m->file ? m->file : "-", m->line, m->disruptive ? "  <- decided" : "", (int)m->msg.len, m->msg.base,
               (int)m->var_name.len, m->var_name.base, (int)(m->value.len > 300 ? 300 : m->value.len), m->value.base);
        if (m->logdata.len)
            printf("  data:  %.*s\n", (int)(m->logdata.len > 300 ? 300 : m->logdata.len), m->logdata.base);
        if (m->severity >= 0)
            printf("  severity: %d\n", m->severity);
        for (size_t k = 0; k < m->ntags; k++)
            printf("%s%s", k ? ", " : "  tags:  ", m->tags[k]);
        if (m->ntags)
            printf("\n");
    }
    const char *disp = v.disposition == RS_DENY       ? "deny"
                       : v.disposition == RS_DROP     ? "drop"
                       : v.disposition == RS_REDIRECT ? "redirect"
                       : v.would_block                ? "pass (detection only: would block)"
                                                      : "pass";
    printf("\ninbound anomaly score: %d, outbound: %d\ndisposition: %s", v.inbound_score, v.outbound_score, disp);
    if (v.disposition == RS_DENY || v.would_block)
        printf(" (status %u, by rule %u)", v.status ? v.status : 403, v.rule_id);
    printf("\n");
    if (err != 0)
        printf("the engine reported an internal error\n");
    rs_tx_end(tx);
    rs_tx_free(tx);
    rs_request_free_parsed(&req);
    ret = err != 0;
Exit:
    rs_errors_print(&errs, stderr);
    rs_errors_free(&errs);
    if (conf != NULL)
        ep_module_waf.conf_free(conf);
    if (doc != NULL)
        ep_doc_free(doc);
    rs_buf_free(&raw);
    rs_buf_free(&logged_ruleset);
    rs_buf_free(&storage);
    return ret;
}
