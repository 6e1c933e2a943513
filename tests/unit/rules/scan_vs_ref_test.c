/* SPDX-License-Identifier: MIT */
/* Differential test of the rule engine's two modes: the compiled fast path (literal prefilter) must give
 * exactly the verdict of the rule-by-rule reference evaluator (same matches in the same order with the same
 * data, same scores, same disposition) on the OWASP CRS at paranoia level 4, for every request of the
 * detection corpus (../shared/bench/detect/data/dev.jsonl) plus variants that move each payload into other
 * parts of the request (cookies, headers, JSON and multipart bodies, the path). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rs.h"

#define CRS_DIR   "/usr/share/modsecurity-crs/rules"
#define CRS_SETUP "/etc/modsecurity/crs/crs-setup.conf"

/* ---- a small JSON reader for the corpus lines ------------------------------------------------------- */

typedef struct st_jcase_t {
    rs_buf_t method, path, query, body, ctype;
    rs_buf_t hname[64], hvalue[64];
    size_t nheaders;
} jcase_t;

static void skip_ws(const char **p)
{
    while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')
        (*p)++;
}

static void put_utf8(rs_buf_t *b, unsigned cp)
{
    if (cp < 0x80)
        rs_buf_putc(b, (char)cp);
    else if (cp < 0x800) {
        rs_buf_putc(b, (char)(0xC0 | (cp >> 6)));
        rs_buf_putc(b, (char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        rs_buf_putc(b, (char)(0xE0 | (cp >> 12)));
        rs_buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        rs_buf_putc(b, (char)(0x80 | (cp & 0x3F)));
    } else {
        rs_buf_putc(b, (char)(0xF0 | (cp >> 18)));
        rs_buf_putc(b, (char)(0x80 | ((cp >> 12) & 0x3F)));
        rs_buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        rs_buf_putc(b, (char)(0x80 | (cp & 0x3F)));
    }
}

static unsigned hex4(const char *s)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return 0xFFFD;
    }
    return v;
}

/* Reads a JSON string at *p (which points at the quote) into out (may be NULL to skip). */
static int read_string(const char **p, rs_buf_t *out)
{
    if (**p != '"')
        return -1;
    (*p)++;
    if (out != NULL)
        out->len = 0;
    while (**p && **p != '"') {
        char c = *(*p)++;
        if (c != '\\') {
            if (out != NULL)
                rs_buf_putc(out, c);
            continue;
        }
        char e = *(*p)++;
        unsigned cp = 0;
        switch (e) {
        case 'n':
            cp = '\n';
            break;
        case 't':
            cp = '\t';
            break;
        case 'r':
            cp = '\r';
            break;
        case 'b':
            cp = '\b';
            break;
        case 'f':
            cp = '\f';
            break;
        case 'u':
            if (strlen(*p) < 4)
                return -1;
            cp = hex4(*p);
            *p += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && (*p)[0] == '\\' && (*p)[1] == 'u') {
                unsigned lo = hex4(*p + 2);
                if (lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    *p += 6;
                }
            }
            break;
        case '\0':
            return -1;
        default:
            cp = (unsigned char)e;
        }
        if (out != NULL)
            put_utf8(out, cp);
    }
    if (**p != '"')
        return -1;
    (*p)++;
    if (out != NULL && out->base == NULL)
        rs_buf_reserve(out, 1);
    return 0;
}

static int skip_value(const char **p);

static int skip_container(const char **p, char open, char close)
{
    (*p)++;
    skip_ws(p);
    if (**p == close) {
        (*p)++;
        return 0;
    }
    for (int guard = 0; guard < 100000; guard++) {
        skip_ws(p);
        if (open == '{') {
            if (read_string(p, NULL) != 0)
                return -1;
            skip_ws(p);
            if (**p != ':')
                return -1;
            (*p)++;
            skip_ws(p);
        }
        if (skip_value(p) != 0)
            return -1;
        skip_ws(p);
        if (**p == ',') {
            (*p)++;
            continue;
        }
        if (**p == close) {
            (*p)++;
            return 0;
        }
        return -1;
    }
    return -1;
}

static int skip_value(const char **p)
{
    skip_ws(p);
    if (**p == '"')
        return read_string(p, NULL);
    if (**p == '{')
        return skip_container(p, '{', '}');
    if (**p == '[')
        return skip_container(p, '[', ']');
    while (**p && **p != ',' && **p != '}' && **p != ']')
        (*p)++;
    return 0;
}

static int read_headers(const char **p, jcase_t *c)
{
    skip_ws(p);
    if (**p != '[')
        return skip_value(p);
    (*p)++;
    for (int guard = 0; guard < 1000; guard++) {
        skip_ws(p);
        if (**p == ']') {
            (*p)++;
            return 0;
        }
        if (**p == ',') {
            (*p)++;
            continue;
        }
        if (**p != '[')
            return -1;
        (*p)++;
        skip_ws(p);
        rs_buf_t *n = c->nheaders < 64 ? &c->hname[c->nheaders] : NULL;
        rs_buf_t *v = c->nheaders < 64 ? &c->hvalue[c->nheaders] : NULL;
        if (read_string(p, n) != 0)
            return -1;
        skip_ws(p);
        if (**p == ',')
            (*p)++;
        skip_ws(p);
        if (read_string(p, v) != 0)
            return -1;
        skip_ws(p);
        if (**p != ']')
            return -1;
        (*p)++;
        if (c->nheaders < 64)
            c->nheaders++;
    }
    return -1;
}

static int parse_case(const char *line, jcase_t *c)
{
    c->nheaders = 0;
    c->method.len = c->path.len = c->query.len = c->body.len = c->ctype.len = 0;
    const char *p = line;
    skip_ws(&p);
    if (*p != '{')
        return -1;
    p++;
    rs_buf_t key = {0};
    int rc = -1;
    for (int guard = 0; guard < 1000; guard++) {
        skip_ws(&p);
        if (*p == '}') {
            rc = 0;
            break;
        }
        if (*p == ',') {
            p++;
            continue;
        }
        if (read_string(&p, &key) != 0)
            break;
        skip_ws(&p);
        if (*p != ':')
            break;
        p++;
        skip_ws(&p);
        rs_buf_t *dst = NULL;
        rs_str_t k = {key.base, key.len};
        if (rs_str_eq(k, "method"))
            dst = &c->method;
        else if (rs_str_eq(k, "path"))
            dst = &c->path;
        else if (rs_str_eq(k, "query"))
            dst = &c->query;
        else if (rs_str_eq(k, "body"))
            dst = &c->body;
        else if (rs_str_eq(k, "content_type"))
            dst = &c->ctype;
        if (rs_str_eq(k, "headers")) {
            if (read_headers(&p, c) != 0)
                break;
        } else if (dst != NULL && *p == '"') {
            if (read_string(&p, dst) != 0)
                break;
        } else if (skip_value(&p) != 0)
            break;
    }
    rs_buf_free(&key);
    return rc;
}

/* ---- requests --------------------------------------------------------------------------------------- */

typedef struct st_built_t {
    rs_buf_t raw, storage;
    rs_request_t req;
} built_t;

/* Serialises a request as score.py's build_request does, then parses it back with rs_request_parse_raw. */
static int build_raw(built_t *b, const char *method, const char *target, size_t ntarget, const rs_header_t *hs, size_t nh,
                     const char *body, size_t nbody)
{
    b->raw.len = 0;
    rs_buf_printf(&b->raw, "%s ", method);
    rs_buf_append(&b->raw, target, ntarget);
    rs_buf_printf(&b->raw, " HTTP/1.1\r\n");
    for (size_t i = 0; i < nh; i++) {
        rs_buf_append(&b->raw, hs[i].name.base, hs[i].name.len);
        rs_buf_append(&b->raw, ": ", 2);
        rs_buf_append(&b->raw, hs[i].value.base, hs[i].value.len);
        rs_buf_append(&b->raw, "\r\n", 2);
    }
    if (nbody > 0)
        rs_buf_printf(&b->raw, "Content-Length: %zu\r\n", nbody);
    rs_buf_append(&b->raw, "\r\n", 2);
    rs_buf_append(&b->raw, body, nbody);
    char err[128];
    return rs_request_parse_raw((rs_str_t){b->raw.base, b->raw.len}, &b->req, &b->storage, err, sizeof(err));
}

/* ---- comparing verdicts ----------------------------------------------------------------------------- */

static int str_same(rs_str_t a, rs_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.base, b.base, a.len) == 0);
}

static int verdict_same(const rs_verdict_t *a, const rs_verdict_t *b, char *why, size_t n)
{
    if (a->disposition != b->disposition || a->status != b->status || a->rule_id != b->rule_id ||
        a->would_block != b->would_block) {
        snprintf(why, n, "disposition %d/%u/%u vs %d/%u/%u", a->disposition, a->status, a->rule_id, b->disposition, b->status,
                 b->rule_id);
        return 0;
    }
    if (a->inbound_score != b->inbound_score || a->outbound_score != b->outbound_score) {
        snprintf(why, n, "score %d vs %d", a->inbound_score, b->inbound_score);
        return 0;
    }
    if (a->nmatches != b->nmatches) {
        snprintf(why, n, "%zu matches vs %zu", a->nmatches, b->nmatches);
        for (size_t i = 0; i < a->nmatches || i < b->nmatches; i++) {
            size_t w = strlen(why);
            snprintf(why + w, n - w, " [%u|%u]", i < a->nmatches ? a->matches[i].rule_id : 0,
                     i < b->nmatches ? b->matches[i].rule_id : 0);
        }
        return 0;
    }
    for (size_t i = 0; i < a->nmatches; i++) {
        const rs_match_t *x = &a->matches[i], *y = &b->matches[i];
        if (x->rule_id != y->rule_id || x->severity != y->severity || !str_same(x->msg, y->msg) ||
            !str_same(x->logdata, y->logdata) || !str_same(x->var_name, y->var_name) || !str_same(x->value, y->value) ||
            x->disruptive != y->disruptive) {
            snprintf(why, n, "match %zu differs: rule %u vs %u, var %.*s vs %.*s", i, x->rule_id, y->rule_id, (int)x->var_name.len,
                     x->var_name.base, (int)y->var_name.len, y->var_name.base);
            return 0;
        }
    }
    return 1;
}

typedef struct st_runner_t {
    rs_db_t *ref, *fast;
    rs_tx_t *tx_ref, *tx_fast;
    unsigned compared, blocked, matched;
    unsigned failures;
} runner_t;

static void run_phases(rs_tx_t *tx, rs_db_t *db, const rs_request_t *req, rs_verdict_t *v)
{
    rs_tx_begin(tx, db, req);
    rs_tx_run_phase(tx, 1, v);
    rs_tx_run_phase(tx, 2, v);
}

static void compare_request(runner_t *r, const rs_request_t *req, const char *label)
{
    rs_verdict_t a, b;
    run_phases(r->tx_ref, r->ref, req, &a);
    char why[1024];
    /* the prefilter's transaction is reused, so its verdict cache serves the whole corpus; the second run of
     * each request finds every verdict of the first there */
    for (int round = 0; round < 2; round++) {
        run_phases(r->tx_fast, r->fast, req, &b);
        if (!verdict_same(&a, &b, why, sizeof(why))) {
            if (r->failures < 20)
                fprintf(stderr, "MISMATCH %s: reference vs prefilter (run %d): %s\n", label, round + 1, why);
            r->failures++;
        }
        if (round == 0)
            rs_tx_end(r->tx_fast);
    }
    r->compared++;
    if (a.disposition != RS_PASS)
        r->blocked++;
    if (a.nmatches)
        r->matched++;
    rs_tx_end(r->tx_ref);
    rs_tx_end(r->tx_fast);
}

static rs_db_t *compile_crs(int prefilter, int pl)
{
    static char setup[512];
    snprintf(setup, sizeof(setup),
             "SecRuleEngine On\nSecRequestBodyAccess On\n"
             "SecRule REQUEST_HEADERS:Content-Type \"@rx (?i)^application/json\" "
             "\"id:100000,phase:1,pass,nolog,t:none,ctl:requestBodyProcessor=JSON\"\n"
             "SecAction \"id:100090,phase:1,pass,nolog,t:none,setvar:tx.paranoia_level=%d\"\n",
             pl);
    rs_source_t src[3] = {
        {"setup.conf", setup, strlen(setup)},
        {CRS_SETUP, NULL, 0},
        {"crs.conf", "Include " CRS_DIR "/*.conf\n", strlen("Include " CRS_DIR "/*.conf\n")},
    };
    rs_errors_t errs = {0};
    rs_compile_opts_t opts = {.use_prefilter = prefilter, .engine_mode = -1};
    rs_db_t *db = rs_db_compile(src, 3, &opts, &errs);
    if (db == NULL)
        rs_errors_print(&errs, stderr);
    rs_errors_free(&errs);
    return db;
}

static void runner_init(runner_t *r, int pl)
{
    memset(r, 0, sizeof(*r));
    r->ref = compile_crs(0, pl);
    r->fast = compile_crs(1, pl);
    assert_non_null(r->ref);
    assert_non_null(r->fast);
    rs_db_stats_t st;
    rs_db_stats(r->fast, &st);
    assert_true(st.prefiltered > 100); /* the fast path really filters most operators */
    r->tx_ref = rs_tx_new();
    r->tx_fast = rs_tx_new();
}

static void runner_free(runner_t *r)
{
    rs_tx_free(r->tx_ref);
    rs_tx_free(r->tx_fast);
    rs_db_release(r->ref);
    rs_db_release(r->fast);
}

/* Deterministic variant generator: puts the case's payload in another place of the request. */
static void variants(runner_t *r, const jcase_t *c, unsigned idx)
{
    const rs_buf_t *payload = c->query.len ? &c->query : c->body.len ? &c->body : &c->path;
    if (payload->len == 0 || payload->len > 4096)
        return;
    built_t b = {0};
    rs_header_t hs[4];
    rs_buf_t t = {0}, v = {0};
    switch (idx % 5) {
    case 0: /* cookie */
        rs_buf_printf(&v, "session=abc; data=%.*s", (int)payload->len, payload->base);
        hs[0] = (rs_header_t){RS_STR("Host"), RS_STR("localhost")};
        hs[1] = (rs_header_t){RS_STR("Cookie"), {v.base, v.len}};
        if (build_raw(&b, "GET", "/index.php", 10, hs, 2, "", 0) == 0)
            compare_request(r, &b.req, "variant:cookie");
        break;
    case 1: /* headers */
        hs[0] = (rs_header_t){RS_STR("Host"), RS_STR("localhost")};
        hs[1] = (rs_header_t){RS_STR("User-Agent"), {payload->base, payload->len}};
        hs[2] = (rs_header_t){RS_STR("Referer"), {payload->base, payload->len}};
        if (build_raw(&b, "GET", "/", 1, hs, 3, "", 0) == 0)
            compare_request(r, &b.req, "variant:headers");
        break;
    case 2: /* JSON body */
        rs_buf_putc(&v, '{');
        rs_buf_printf(&v, "\"a\":{\"b\":[\"");
        for (size_t i = 0; i < payload->len; i++) {
            unsigned char ch = (unsigned char)payload->base[i];
            if (ch == '"' || ch == '\\' || ch < 0x20)
                rs_buf_printf(&v, "\\u%04x", ch);
            else
                rs_buf_putc(&v, (char)ch);
        }
        rs_buf_printf(&v, "\"]}}");
        hs[0] = (rs_header_t){RS_STR("Host"), RS_STR("localhost")};
        hs[1] = (rs_header_t){RS_STR("Content-Type"), RS_STR("application/json")};
        if (build_raw(&b, "POST", "/api", 4, hs, 2, v.base, v.len) == 0)
            compare_request(r, &b.req, "variant:json");
        break;
    case 3: /* multipart field */
        rs_buf_printf(&v, "--xyzBOUNDARY\r\nContent-Disposition: form-data; name=\"field\"\r\n\r\n%.*s\r\n--xyzBOUNDARY--\r\n",
                      (int)payload->len, payload->base);
        hs[0] = (rs_header_t){RS_STR("Host"), RS_STR("localhost")};
        hs[1] = (rs_header_t){RS_STR("Content-Type"), RS_STR("multipart/form-data; boundary=xyzBOUNDARY")};
        if (build_raw(&b, "POST", "/upload", 7, hs, 2, v.base, v.len) == 0)
            compare_request(r, &b.req, "variant:multipart");
        break;
    default: /* path and argument name */
        rs_buf_printf(&t, "/x/");
        for (size_t i = 0; i < payload->len; i++) {
            unsigned char ch = (unsigned char)payload->base[i];
            if (ch <= 0x20 || ch >= 0x7f || ch == '#' || ch == '?')
                rs_buf_printf(&t, "%%%02X", ch);
            else
                rs_buf_putc(&t, (char)ch);
        }
        rs_buf_printf(&t, "?k=1");
        hs[0] = (rs_header_t){RS_STR("Host"), RS_STR("localhost")};
        if (build_raw(&b, "GET", t.base, t.len, hs, 1, "", 0) == 0)
            compare_request(r, &b.req, "variant:path");
        break;
    }
    rs_request_free_parsed(&b.req);
    rs_buf_free(&b.raw);
    rs_buf_free(&b.storage);
    rs_buf_free(&t);
    rs_buf_free(&v);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s == NULL || fread(s, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(s);
        return NULL;
    }
    fclose(f);
    s[n] = '\0';
    *len = (size_t)n;
    return s;
}

static void run_corpus(int pl, unsigned max_cases)
{
    size_t len;
    const char *dir = getenv("EP_DETECT_DIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/data/dev.jsonl", dir ? dir : "../shared/bench/detect");
    char *text = read_all(path, &len);
    if (text == NULL) {
        fprintf(stderr, "corpus %s not found: comparing generated requests only\n", path);
        text = strdup("{\"method\":\"GET\",\"path\":\"/\",\"query\":\"id=1' or '1'='1\",\"headers\":[[\"Host\",\"a\"]]}\n"
                      "{\"method\":\"POST\",\"path\":\"/\",\"body\":\"q=<script>alert(1)</script>\","
                      "\"content_type\":\"application/x-www-form-urlencoded\",\"headers\":[]}\n");
        assert_non_null(text);
    }
    runner_t r;
    runner_init(&r, pl);
    jcase_t c;
    memset(&c, 0, sizeof(c));
    unsigned n = 0;
    for (char *line = text; line && *line && n < max_cases; n++) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (parse_case(line, &c) == 0 && c.method.len) {
            rs_header_t hs[70];
            size_t nh = 0;
            int have_host = 0;
            for (size_t i = 0; i < c.nheaders; i++) {
                rs_str_t name = {c.hname[i].base, c.hname[i].len};
                if (rs_str_ieq(name, "host"))
                    have_host = 1;
                if (rs_str_ieq(name, "content-length") || rs_str_ieq(name, "transfer-encoding"))
                    continue;
                hs[nh++] = (rs_header_t){name, {c.hvalue[i].base, c.hvalue[i].len}};
            }
            if (!have_host) {
                memmove(hs + 1, hs, nh * sizeof(hs[0]));
                hs[0] = (rs_header_t){RS_STR("Host"), RS_STR("localhost")};
                nh++;
            }
            if (c.ctype.len)
                hs[nh++] = (rs_header_t){RS_STR("Content-Type"), {c.ctype.base, c.ctype.len}};
            rs_buf_t target = {0};
            rs_buf_append(&target, c.path.len ? c.path.base : "/", c.path.len ? c.path.len : 1);
            if (c.query.len) {
                rs_buf_putc(&target, '?');
                rs_buf_append(&target, c.query.base, c.query.len);
            }
            char method[32];
            snprintf(method, sizeof(method), "%.*s", (int)c.method.len, c.method.base);
            built_t b = {0};
            if (build_raw(&b, method, target.base, target.len, hs, nh, c.body.base ? c.body.base : "", c.body.len) == 0)
                compare_request(&r, &b.req, "corpus");
            rs_request_free_parsed(&b.req);
            rs_buf_free(&b.raw);
            rs_buf_free(&b.storage);
            rs_buf_free(&target);
            variants(&r, &c, n);
        }
        line = nl ? nl + 1 : NULL;
    }
    fprintf(stderr, "PL%d: %u requests compared, %u with matches, %u blocked, %u mismatches\n", pl, r.compared, r.matched,
            r.blocked, r.failures);
    assert_true(r.compared >= 2);
    assert_true(r.blocked > 0);
    assert_int_equal(r.failures, 0);
    runner_free(&r);
    rs_buf_free(&c.method);
    rs_buf_free(&c.path);
    rs_buf_free(&c.query);
    rs_buf_free(&c.body);
    rs_buf_free(&c.ctype);
    for (int i = 0; i < 64; i++) {
        rs_buf_free(&c.hname[i]);
        rs_buf_free(&c.hvalue[i]);
    }
    free(text);
}

static void test_corpus_pl4(void **state)
{
    (void)state;
    run_corpus(4, 100000);
}

static void test_corpus_pl1(void **state)
{
    (void)state;
    run_corpus(1, 600);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_pl4),
        cmocka_unit_test(test_corpus_pl1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
