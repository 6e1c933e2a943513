/* SPDX-License-Identifier: MIT */
/* `edgeproxy rules ...`: the rule engine's command line for security staff.
 *
 *   rules check FILE...                      parse + compile, print FILE:LINE:COL errors; exit 1 on error
 *   rules stats FILE...                      database statistics (rules, regexes, prefilter coverage, memory)
 *   rules explain --rules FILE... --request REQ [--trace] [--no-prefilter]
 *                                            run a raw HTTP request file through phases 1-2 and show the
 *                                            matched rules, variables, transformed values, scores, verdict
 *   rules test [--rules FILE...] TESTFILE... run rule tests; exit 1 when any fails
 *
 * Test file format (plain text, close to CRS go-ftw but without YAML):
 *
 *   # comment lines and blank lines between tests are ignored
 *   rules: ../../conf/crs.conf          rule files for every test in the file, relative to the test file
 *                                       (repeatable, globs allowed; --rules on the command line wins)
 *   === test: sqli in a query argument  starts a test; the name is free text
 *   match: 942100 942190                rule ids that must be logged (repeatable)
 *   no-match: 920350                    rule ids that must not be logged (repeatable)
 *   status: 403                         expected outcome: an HTTP status (deny) or "pass" (optional)
 *   --- request                         the raw HTTP request follows, up to the next "=== test:" or EOF
 *   GET /?id=1'%20or%20'1'='1 HTTP/1.1
 *   Host: localhost
 *
 * Request lines are sent with CRLF line ends; trailing blank lines of a request are dropped; a body
 * (after the blank line) gets a Content-Length unless the request has one. */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_internal.h"

int rs_cli_main(int argc, char **argv);

static void usage(FILE *out)
{
    fprintf(out, "usage: rules check FILE...\n"
                 "       rules stats FILE...\n"
                 "       rules explain --rules FILE... --request REQ [--trace] [--no-prefilter]\n"
                 "       rules test [--rules FILE...] TESTFILE...\n");
}

static rs_db_t *compile_files(char **files, size_t n, int prefilter, int quiet)
{
    rs_source_t *src = calloc(n ? n : 1, sizeof(*src));
    if (src == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        src[i].path = files[i];
    rs_errors_t errs = {0};
    rs_compile_opts_t opts = {.use_prefilter = prefilter, .engine_mode = -1};
    rs_db_t *db = rs_db_compile(src, n, &opts, &errs);
    if (!quiet || db == NULL)
        rs_errors_print(&errs, stderr);
    rs_errors_free(&errs);
    free(src);
    return db;
}

static const char *mode_name(int m)
{
    return m == RS_ENGINE_OFF ? "Off" : m == RS_ENGINE_DETECTION_ONLY ? "DetectionOnly" : "On";
}

static int cmd_check(int argc, char **argv, int stats)
{
    if (argc < 1) {
        usage(stderr);
        return 2;
    }
    rs_db_t *db = compile_files(argv, (size_t)argc, 1, 0);
    if (db == NULL) {
        fprintf(stderr, "rules: compile failed\n");
        return 1;
    }
    rs_db_stats_t st;
    rs_db_stats(db, &st);
    if (!stats) {
        printf("ok: %u rules (phase 1: %u, 2: %u, 3: %u, 4: %u, 5: %u), compiled in %.1f ms\n", st.rules, st.rules_by_phase[1],
               st.rules_by_phase[2], st.rules_by_phase[3], st.rules_by_phase[4], st.rules_by_phase[5], st.compile_ms);
    } else {
        printf("rules:              %u (including chain members)\n", st.rules);
        for (int p = 1; p <= 5; p++)
            printf("  phase %d:          %u\n", p, st.rules_by_phase[p]);
        printf("regexes (@rx):      %u\n", st.regexes);
        printf("prefiltered ops:    %u\n", st.prefiltered);
        printf("unfiltered ops:     %u (always run)\n", st.unfiltered);
        unsigned unfiltered_rx = 0;
        for (size_t i = 0; i < db->ncrules; i++) {
            const rs_crule_t *cr = &db->crules[i];
            if (cr->rule->op != NULL && rs_op_kind(cr->rule->op) == RS_OP_RX && cr->pf_slot < 0)
                unfiltered_rx++;
        }
        printf("unfiltered regexes: %u\n", unfiltered_rx);
        printf("literals:           %u\n", st.literals);
        printf("memory:             %zu bytes (approx.)\n", st.memory_bytes);
        printf("compile time:       %.1f ms\n", st.compile_ms);
        printf("engine mode:        %s\n", mode_name(st.engine_mode));
    }
    rs_db_release(db);
    return 0;
}

static void trace_print(void *ctx, const char *line)
{
    fprintf((FILE *)ctx, "  | %s\n", line);
}

static const char *disp_name(rs_disposition_t d)
{
    switch (d) {
    case RS_DENY:
        return "deny";
    case RS_DROP:
        return "drop";
    case RS_REDIRECT:
        return "redirect";
    case RS_ALLOW:
        return "allow";
    default:
        return "pass";
    }
}

/* Runs phases 1 and 2 of one request. */
static int run_request(rs_db_t *db, rs_tx_t *tx, const rs_request_t *req, rs_verdict_t *v)
{
    rs_tx_begin(tx, db, req);
    if (rs_tx_run_phase(tx, 1, v) != 0)
        return -1;
    if (v->disposition == RS_PASS || v->disposition == RS_ALLOW)
        if (rs_tx_run_phase(tx, 2, v) != 0)
            return -1;
    return 0;
}

static int cmd_explain(int argc, char **argv)
{
    char **files = calloc((size_t)argc + 1, sizeof(char *));
    size_t nfiles = 0;
    const char *reqpath = NULL;
    int trace = 0, prefilter = 1;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--rules") == 0) {
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
                files[nfiles++] = argv[++i];
        } else if (strcmp(argv[i], "--request") == 0 && i + 1 < argc)
            reqpath = argv[++i];
        else if (strcmp(argv[i], "--trace") == 0)
            trace = 1;
        else if (strcmp(argv[i], "--no-prefilter") == 0)
            prefilter = 0;
        else {
            fprintf(stderr, "rules explain: unexpected argument '%s'\n", argv[i]);
            free(files);
            return 2;
        }
    }
    if (nfiles == 0 || reqpath == NULL) {
        usage(stderr);
        free(files);
        return 2;
    }
    rs_db_t *db = compile_files(files, nfiles, prefilter, 0);
    free(files);
    if (db == NULL)
        return 1;
    rs_buf_t raw = {0}, storage = {0};
    if (rs_read_file(reqpath, 0, &raw) != 0) {
        fprintf(stderr, "rules explain: cannot read %s: %s\n", reqpath, strerror(errno));
        rs_db_release(db);
        return 1;
    }
    rs_request_t req;
    char err[256];
    if (rs_request_parse_raw(rs_str(raw.base, raw.len), &req, &storage, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", reqpath, err);
        rs_buf_free(&raw);
        rs_db_release(db);
        return 1;
    }
    rs_tx_t *tx = rs_tx_new();
    if (trace)
        rs_tx_set_trace(tx, trace_print, stdout);
    rs_verdict_t v;
    printf("request: %.*s %.*s %.*s\n", (int)req.method.len, req.method.base, (int)req.uri.len, req.uri.base, (int)req.protocol.len,
           req.protocol.base);
    run_request(db, tx, &req, &v);
    printf("matched rules: %zu\n", v.nmatches);
    for (size_t i = 0; i < v.nmatches; i++) {
        const rs_match_t *m = &v.matches[i];
        printf("  %u (phase %u, severity %d%s) %s:%u\n", m->rule_id, m->phase, m->severity, m->disruptive ? ", disruptive" : "",
               m->file ? m->file : "?", m->line);
        printf("    msg:      %.*s\n", (int)m->msg.len, m->msg.base);
        if (m->logdata.len)
            printf("    logdata:  %.*s\n", (int)(m->logdata.len > 300 ? 300 : m->logdata.len), m->logdata.base);
        printf("    variable: %.*s\n", (int)m->var_name.len, m->var_name.base);
        printf("    value:    '%.*s'%s\n", (int)(m->value.len > 300 ? 300 : m->value.len), m->value.base,
               m->value.len > 300 ? "..." : "");
    }
    printf("inbound score: %d, outbound score: %d\n", v.inbound_score, v.outbound_score);
    if (v.limit_hits)
        printf("regex limit hits: %u\n", v.limit_hits);
    if (v.body_error)
        printf("request body error\n");
    printf("disposition: %s", disp_name(v.disposition));
    if (v.disposition == RS_DENY || v.disposition == RS_DROP || v.disposition == RS_REDIRECT)
        printf(" (status %u, rule %u)", v.status, v.rule_id);
    else if (v.would_block)
        printf(" (would block with status %u, rule %u)", v.status, v.rule_id);
    printf("\n");
    rs_tx_end(tx);
    rs_tx_free(tx);
    rs_request_free_parsed(&req);
    rs_buf_free(&raw);
    rs_buf_free(&storage);
    rs_db_release(db);
    return 0;
}

/* ---- rules test ------------------------------------------------------------------------------------- */

typedef struct st_idlist_t {
    uint32_t ids[64];
    size_t n;
} idlist_t;

static void parse_ids(const char *s, idlist_t *l)
{
    while (*s) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        if (end == s) {
            s++;
            continue;
        }
        if (l->n < 64)
            l->ids[l->n++] = (uint32_t)v;
        s = end;
    }
}

typedef struct st_ftest_t {
    char name[200];
    unsigned line;
    idlist_t must, mustnot;
    int status; /* -1 unchecked, 0 pass, else deny status */
    rs_buf_t raw;
} ftest_t;

static int logged(const rs_verdict_t *v, uint32_t id)
{
    for (size_t i = 0; i < v->nmatches; i++)
        if (v->matches[i].rule_id == id)
            return 1;
    return 0;
}

/* Completes a request text: CRLF line ends, and a Content-Length for a body that has none. */
static void finish_request(const char *text, size_t len, rs_buf_t *out)
{
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    out->len = 0;
    const char *hdr_end = NULL;
    rs_buf_t head = {0};
    size_t pos = 0;
    int has_len = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t e = end > pos && text[end - 1] == '\r' ? end - 1 : end;
        if (e == pos) {
            hdr_end = nl ? nl + 1 : text + len;
            break;
        }
        if (e - pos >= 15 && strncasecmp(text + pos, "content-length:", 15) == 0)
            has_len = 1;
        rs_buf_append(&head, text + pos, e - pos);
        rs_buf_append(&head, "\r\n", 2);
        pos = nl ? end + 1 : len;
    }
    size_t body_len = hdr_end ? (size_t)(text + len - hdr_end) : 0;
    rs_buf_append(out, head.base ? head.base : "", head.len);
    if (body_len > 0 && !has_len)
        rs_buf_printf(out, "Content-Length: %zu\r\n", body_len);
    rs_buf_append(out, "\r\n", 2);
    if (body_len > 0)
        rs_buf_append(out, hdr_end, body_len);
    rs_buf_free(&head);
}

static int run_test_file(const char *path, char **cli_rules, size_t ncli_rules, int *npass, int *nfail)
{
    rs_buf_t text = {0};
    if (rs_read_file(path, 0, &text) != 0) {
        fprintf(stderr, "%s: cannot read: %s\n", path, strerror(errno));
        return -1;
    }
    char *dir = strdup(path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL)
        *slash = '\0';
    else
        strcpy(dir, ".");

    char **rules = NULL;
    size_t nrules = 0;
    ftest_t *tests = NULL;
    size_t ntests = 0;
    ftest_t *cur = NULL;
    int in_request = 0;
    const char *req_start = NULL;
    unsigned lineno = 0;
    char *p = text.base;
    char *end = text.base + text.len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        lineno++;
        size_t ll = (size_t)(le - p);
        if (ll >= 9 && strncmp(p, "=== test:", 9) == 0) {
            if (in_request && cur != NULL)
                finish_request(req_start, (size_t)(p - req_start), &cur->raw);
            in_request = 0;
            tests = realloc(tests, (ntests + 1) * sizeof(*tests));
            cur = &tests[ntests++];
            memset(cur, 0, sizeof(*cur));
            cur->status = -1;
            cur->line = lineno;
            const char *nm = p + 9;
            while (nm < le && *nm == ' ')
                nm++;
            snprintf(cur->name, sizeof(cur->name), "%.*s", (int)(le - nm), nm);
        } else if (in_request) {
            /* part of the request */
        } else if (ll >= 12 && strncmp(p, "--- request", 11) == 0 && cur != NULL) {
            in_request = 1;
            req_start = nl ? nl + 1 : end;
        } else if (ll >= 11 && strncmp(p, "--- request", 11) == 0 && cur != NULL) {
            in_request = 1;
            req_start = nl ? nl + 1 : end;
        } else if (ll > 6 && strncmp(p, "rules:", 6) == 0 && cur == NULL) {
            char pat[4096];
            const char *v = p + 6;
            while (v < le && *v == ' ')
                v++;
            snprintf(pat, sizeof(pat), "%s%s%.*s", *v == '/' ? "" : dir, *v == '/' ? "" : "/", (int)(le - v), v);
            glob_t g;
            if (glob(pat, 0, NULL, &g) == 0) {
                for (size_t i = 0; i < g.gl_pathc; i++) {
                    rules = realloc(rules, (nrules + 1) * sizeof(char *));
                    rules[nrules++] = strdup(g.gl_pathv[i]);
                }
                globfree(&g);
            } else {
                rules = realloc(rules, (nrules + 1) * sizeof(char *));
                rules[nrules++] = strdup(pat);
            }
        } else if (cur != NULL && ll > 6 && strncmp(p, "match:", 6) == 0) {
            char tmp[1024];
            snprintf(tmp, sizeof(tmp), "%.*s", (int)(ll - 6), p + 6);
            parse_ids(tmp, &cur->must);
        } else if (cur != NULL && ll > 9 && strncmp(p, "no-match:", 9) == 0) {
            char tmp[1024];
            snprintf(tmp, sizeof(tmp), "%.*s", (int)(ll - 9), p + 9);
            parse_ids(tmp, &cur->mustnot);
        } else if (cur != NULL && ll > 7 && strncmp(p, "status:", 7) == 0) {
            const char *v = p + 7;
            while (v < le && *v == ' ')
                v++;
            cur->status = (le - v >= 4 && strncmp(v, "pass", 4) == 0) ? 0 : atoi(v);
        } else if (ll > 0 && p[0] != '#') {
            int blank = 1;
            for (size_t i = 0; i < ll; i++)
                if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
                    blank = 0;
            if (!blank)
                fprintf(stderr, "%s:%u: ignored line: %.*s\n", path, lineno, (int)ll, p);
        }
        p = nl ? nl + 1 : end;
    }
    if (in_request && cur != NULL)
        finish_request(req_start, (size_t)(end - req_start), &cur->raw);

    int rc = 0;
    rs_db_t *db = ncli_rules ? compile_files(cli_rules, ncli_rules, 1, 1) : compile_files(rules, nrules, 1, 1);
    if (db == NULL) {
        fprintf(stderr, "%s: the rules did not compile\n", path);
        rc = -1;
    } else {
        rs_tx_t *tx = rs_tx_new();
        for (size_t i = 0; i < ntests; i++) {
            ftest_t *t = &tests[i];
            rs_request_t req;
            rs_buf_t storage = {0};
            char err[256];
            int ok = 1;
            char why[512] = "";
            if (rs_request_parse_raw(rs_str(t->raw.base ? t->raw.base : "", t->raw.len), &req, &storage, err, sizeof(err)) != 0) {
                ok = 0;
                snprintf(why, sizeof(why), "bad request: %s", err);
            } else {
                rs_verdict_t v;
                run_request(db, tx, &req, &v);
                for (size_t k = 0; k < t->must.n && ok; k++)
                    if (!logged(&v, t->must.ids[k])) {
                        ok = 0;
                        snprintf(why, sizeof(why), "rule %u did not match", t->must.ids[k]);
                    }
                for (size_t k = 0; k < t->mustnot.n && ok; k++)
                    if (logged(&v, t->mustnot.ids[k])) {
                        ok = 0;
                        snprintf(why, sizeof(why), "rule %u matched", t->mustnot.ids[k]);
                    }
                if (ok && t->status >= 0) {
                    int got = (v.disposition == RS_DENY || v.disposition == RS_DROP || v.disposition == RS_REDIRECT) ? v.status : 0;
                    if (got != t->status) {
                        ok = 0;
                        snprintf(why, sizeof(why), "outcome %d, expected %d (score %d)", got, t->status, v.inbound_score);
                    }
                }
                if (!ok) {
                    size_t w = strlen(why);
                    snprintf(why + w, sizeof(why) - w, "; logged:");
                    for (size_t k = 0; k < v.nmatches; k++) {
                        w = strlen(why);
                        snprintf(why + w, sizeof(why) - w, " %u", v.matches[k].rule_id);
                    }
                }
                rs_tx_end(tx);
                rs_request_free_parsed(&req);
            }
            rs_buf_free(&storage);
            if (ok) {
                (*npass)++;
                printf("PASS %s:%u %s\n", path, t->line, t->name);
            } else {
                (*nfail)++;
                printf("FAIL %s:%u %s: %s\n", path, t->line, t->name, why);
            }
        }
        rs_tx_free(tx);
        rs_db_release(db);
    }
    for (size_t i = 0; i < ntests; i++)
        rs_buf_free(&tests[i].raw);
    free(tests);
    for (size_t i = 0; i < nrules; i++)
        free(rules[i]);
    free(rules);
    free(dir);
    rs_buf_free(&text);
    return rc;
}

static int cmd_test(int argc, char **argv)
{
    char **cli_rules = calloc((size_t)argc + 1, sizeof(char *));
    size_t ncli = 0;
    int npass = 0, nfail = 0, errors = 0, nfiles = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--rules") == 0) {
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0 && strstr(argv[i + 1], ".test") == NULL)
                cli_rules[ncli++] = argv[++i];
            continue;
        }
        nfiles++;
        if (run_test_file(argv[i], cli_rules, ncli, &npass, &nfail) != 0)
            errors++;
    }
    free(cli_rules);
    if (nfiles == 0) {
        usage(stderr);
        return 2;
    }
    printf("%d passed, %d failed\n", npass, nfail);
    return (nfail || errors) ? 1 : 0;
}

int rs_cli_main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "check") == 0)
        return cmd_check(argc - 2, argv + 2, 0);
    if (strcmp(cmd, "stats") == 0)
        return cmd_check(argc - 2, argv + 2, 1);
    if (strcmp(cmd, "explain") == 0)
        return cmd_explain(argc - 2, argv + 2);
    if (strcmp(cmd, "test") == 0)
        return cmd_test(argc - 2, argv + 2);
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "rules: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
