/* SPDX-License-Identifier: MIT */
/* Measures rs_detect_sqli / rs_detect_xss on the detection corpus (JSON lines, see shared/bench/detect/README.md):
 * extracts every value of each request (path, query args, form/JSON/multipart/XML body fields, header and cookie
 * values, URL- and JSON-decoded) and reports, per category, how often each detector fires on some value.
 * Build: cc -std=gnu11 -O2 -Irules/operator tests/bench/detect_corpus.c rules/operator/detect_*.c -o detect_corpus
 * Run:   ./detect_corpus dev.jsonl [--list sqli-miss|xss-miss|sqli-fp|xss-fp] */
#define _GNU_SOURCE
#include "detect.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- growable byte buffer (the tool may allocate; the detectors do not) ---- */
typedef struct {
    char *p;
    size_t n, cap;
} buf;

static void buf_push(buf *b, char c)
{
    if (b->n + 2 > b->cap) {
        b->cap = b->cap ? b->cap * 2 : 256;
        b->p = realloc(b->p, b->cap);
        if (!b->p) {
            perror("realloc");
            exit(2);
        }
    }
    b->p[b->n++] = c;
    b->p[b->n] = '\0';
}

static void buf_reset(buf *b)
{
    b->n = 0;
    if (b->p)
        b->p[0] = '\0';
}

/* ---- minimal JSON reader ---- */
typedef struct {
    const char *s;
    size_t i, len;
} json;

static void json_ws(json *j)
{
    while (j->i < j->len && isspace((unsigned char)j->s[j->i]))
        j->i++;
}

static void put_utf8(buf *b, unsigned long cp)
{
    if (cp < 0x80) {
        buf_push(b, (char)cp);
    } else if (cp < 0x800) {
        buf_push(b, (char)(0xc0 | (cp >> 6)));
        buf_push(b, (char)(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        buf_push(b, (char)(0xe0 | (cp >> 12)));
        buf_push(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
        buf_push(b, (char)(0x80 | (cp & 0x3f)));
    } else {
        buf_push(b, (char)(0xf0 | (cp >> 18)));
        buf_push(b, (char)(0x80 | ((cp >> 12) & 0x3f)));
        buf_push(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
        buf_push(b, (char)(0x80 | (cp & 0x3f)));
    }
}

/* Parses a JSON string at j (on the opening quote) into out. Returns 0 on syntax error. */
static int json_string(json *j, buf *out)
{
    buf_reset(out);
    if (j->i >= j->len || j->s[j->i] != '"')
        return 0;
    j->i++;
    while (j->i < j->len) {
        char c = j->s[j->i++];
        if (c == '"')
            return 1;
        if (c != '\\') {
            buf_push(out, c);
            continue;
        }
        if (j->i >= j->len)
            return 0;
        char e = j->s[j->i++];
        switch (e) {
        case 'n':
            buf_push(out, '\n');
            break;
        case 't':
            buf_push(out, '\t');
            break;
        case 'r':
            buf_push(out, '\r');
            break;
        case 'b':
            buf_push(out, '\b');
            break;
        case 'f':
            buf_push(out, '\f');
            break;
        case 'u': {
            unsigned long cp = 0;
            for (int k = 0; k < 4 && j->i < j->len; k++)
                cp = cp * 16 + (unsigned long)strtol((char[]){j->s[j->i++], 0}, NULL, 16);
            if (cp >= 0xd800 && cp < 0xdc00 && j->i + 6 <= j->len && j->s[j->i] == '\\' && j->s[j->i + 1] == 'u') {
                unsigned long lo = 0;
                j->i += 2;
                for (int k = 0; k < 4; k++)
                    lo = lo * 16 + (unsigned long)strtol((char[]){j->s[j->i++], 0}, NULL, 16);
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            put_utf8(out, cp);
            break;
        }
        default:
            buf_push(out, e);
        }
    }
    return 0;
}

typedef void (*string_visitor)(const char *s, size_t n, void *ctx);

/* Skips any JSON value; calls visit for every string (keys included) when visit is not NULL. */
static int json_skip(json *j, string_visitor visit, void *ctx, int depth)
{
    static buf tmp;
    json_ws(j);
    if (j->i >= j->len || depth > 64)
        return 0;
    char c = j->s[j->i];
    if (c == '"') {
        if (!json_string(j, &tmp))
            return 0;
        if (visit)
            visit(tmp.p, tmp.n, ctx);
        return 1;
    }
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        j->i++;
        json_ws(j);
        if (j->i < j->len && j->s[j->i] == close) {
            j->i++;
            return 1;
        }
        for (;;) {
            if (!json_skip(j, visit, ctx, depth + 1))
                return 0;
            json_ws(j);
            if (j->i < j->len && (j->s[j->i] == ':' || j->s[j->i] == ',')) {
                j->i++;
                continue;
            }
            if (j->i < j->len && j->s[j->i] == close) {
                j->i++;
                return 1;
            }
            return 0;
        }
    }
    while (j->i < j->len && !strchr(",]}: \t\r\n", j->s[j->i]))
        j->i++;
    return 1;
}

/* ---- the request of one corpus line ---- */
typedef struct {
    buf id, category, expect, method, path, query, body, content_type;
    buf header_names[64], header_values[64];
    int headers;
} request;

static int parse_request(const char *line, size_t len, request *r)
{
    json j = {line, 0, len};
    buf key = {0};
    buf_reset(&r->body);
    buf_reset(&r->content_type);
    buf_reset(&r->query);
    r->headers = 0;
    json_ws(&j);
    if (j.i >= len || line[j.i] != '{')
        return 0;
    j.i++;
    for (;;) {
        json_ws(&j);
        if (j.i < len && line[j.i] == '}')
            break;
        if (!json_string(&j, &key))
            return 0;
        json_ws(&j);
        if (j.i >= len || line[j.i] != ':')
            return 0;
        j.i++;
        json_ws(&j);
        buf *target = NULL;
        if (!strcmp(key.p, "id"))
            target = &r->id;
        else if (!strcmp(key.p, "category"))
            target = &r->category;
        else if (!strcmp(key.p, "expect"))
            target = &r->expect;
        else if (!strcmp(key.p, "method"))
            target = &r->method;
        else if (!strcmp(key.p, "path"))
            target = &r->path;
        else if (!strcmp(key.p, "query"))
            target = &r->query;
        else if (!strcmp(key.p, "body"))
            target = &r->body;
        else if (!strcmp(key.p, "content_type"))
            target = &r->content_type;
        if (target && line[j.i] == '"') {
            if (!json_string(&j, target))
                return 0;
        } else if (!strcmp(key.p, "headers") && line[j.i] == '[') {
            j.i++;
            for (;;) {
                json_ws(&j);
                if (line[j.i] == ']') {
                    j.i++;
                    break;
                }
                if (line[j.i] == ',') {
                    j.i++;
                    continue;
                }
                if (line[j.i] != '[' || r->headers >= 64)
                    return 0;
                j.i++;
                json_ws(&j);
                json_string(&j, &r->header_names[r->headers]);
                json_ws(&j);
                j.i++; /* , */
                json_ws(&j);
                json_string(&j, &r->header_values[r->headers]);
                json_ws(&j);
                j.i++; /* ] */
                r->headers++;
            }
        } else if (!json_skip(&j, NULL, NULL, 0)) {
            return 0;
        }
        json_ws(&j);
        if (j.i < len && line[j.i] == ',')
            j.i++;
    }
    free(key.p);
    return 1;
}

/* ---- value extraction ---- */
typedef struct {
    int sqli, xss;
    int list_values; /* print each value with its verdicts */
} verdict;

static void check_value(const char *s, size_t n, void *ctx)
{
    verdict *v = ctx;
    char fp[16] = "";
    int q = rs_detect_sqli(s, n, fp);
    int x = rs_detect_xss(s, n);
    v->sqli |= q;
    v->xss |= x;
    if (v->list_values)
        printf("    [%s%s%s] %.*s\n", q ? "sqli:" : "", q ? fp : "", x ? " xss" : "", (int)(n > 300 ? 300 : n), s);
}

static int hexval(int c)
{
    return isdigit(c) ? c - '0' : (tolower(c) >= 'a' && tolower(c) <= 'f') ? tolower(c) - 'a' + 10 : -1;
}

/* Percent-decoding (and %uXXXX), optionally '+' as space; the result goes to `out`. */
static void url_decode(const char *s, size_t n, int plus_is_space, buf *out)
{
    buf_reset(out);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n + 0 && hexval((unsigned char)s[i + 1]) >= 0 && hexval((unsigned char)s[i + 2]) >= 0) {
            buf_push(out, (char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2])));
            i += 2;
        } else if (s[i] == '%' && i + 5 < n && (s[i + 1] == 'u' || s[i + 1] == 'U') && hexval((unsigned char)s[i + 2]) >= 0 &&
                   hexval((unsigned char)s[i + 3]) >= 0 && hexval((unsigned char)s[i + 4]) >= 0 &&
                   hexval((unsigned char)s[i + 5]) >= 0) {
            unsigned long cp = (unsigned long)(hexval((unsigned char)s[i + 2]) << 12 | hexval((unsigned char)s[i + 3]) << 8 |
                                               hexval((unsigned char)s[i + 4]) << 4 | hexval((unsigned char)s[i + 5]));
            put_utf8(out, cp);
            i += 5;
        } else if (s[i] == '+' && plus_is_space) {
            buf_push(out, ' ');
        } else {
            buf_push(out, s[i]);
        }
    }
}

static void check_decoded(const char *s, size_t n, int plus_is_space, verdict *v)
{
    buf local = {0};
    url_decode(s, n, plus_is_space, &local);
    check_value(local.p ? local.p : "", local.n, v);
    free(local.p);
}

/* name=value pairs separated by `sep` (query strings, form bodies, cookies). */
static void check_pairs(const char *s, size_t n, char sep, int plus_is_space, verdict *v)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != sep)
            continue;
        const char *pair = s + start;
        size_t plen = i - start;
        while (plen && *pair == ' ') {
            pair++;
            plen--;
        }
        const char *eq = memchr(pair, '=', plen);
        if (eq) {
            check_decoded(pair, (size_t)(eq - pair), plus_is_space, v);
            check_decoded(eq + 1, plen - (size_t)(eq + 1 - pair), plus_is_space, v);
        } else if (plen) {
            check_decoded(pair, plen, plus_is_space, v);
        }
        start = i + 1;
    }
}

static void check_json_string(const char *s, size_t n, void *ctx)
{
    check_decoded(s, n, 1, ctx);
}

/* Checks s[0..n) after decoding XML's predefined and numeric character references (what an XML parser hands over). */
static void check_xml_text(const char *s, size_t n, verdict *v)
{
    static const struct {
        const char *name;
        char c;
    } predefined[] = {{"lt;", '<'}, {"gt;", '>'}, {"amp;", '&'}, {"quot;", '"'}, {"apos;", '\''}};
    buf out = {0};
    for (size_t i = 0; i < n; i++) {
        int done = 0;
        if (s[i] == '&') {
            for (size_t k = 0; k < sizeof(predefined) / sizeof(predefined[0]) && !done; k++) {
                size_t l = strlen(predefined[k].name);
                if (i + 1 + l <= n && memcmp(s + i + 1, predefined[k].name, l) == 0) {
                    buf_push(&out, predefined[k].c);
                    i += l;
                    done = 1;
                }
            }
            if (!done && i + 2 < n && s[i + 1] == '#') {
                char *end;
                int hex = s[i + 2] == 'x' || s[i + 2] == 'X';
                unsigned long cp = strtoul(s + i + 2 + hex, &end, hex ? 16 : 10);
                if (end < s + n && *end == ';' && end > s + i + 2 + hex) {
                    put_utf8(&out, cp);
                    i = (size_t)(end - s);
                    done = 1;
                }
            }
        }
        if (!done)
            buf_push(&out, s[i]);
    }
    check_value(out.p ? out.p : "", out.n, v);
    free(out.p);
}

/* XML: attribute values and text nodes with the predefined and numeric entities decoded. */
static void check_xml(const char *s, size_t n, verdict *v)
{
    buf text = {0};
    size_t i = 0;
    while (i < n) {
        if (s[i] == '<') {
            size_t j = i + 1;
            while (j < n && s[j] != '>') {
                if (s[j] == '"' || s[j] == '\'') {
                    char q = s[j];
                    size_t k = j + 1;
                    while (k < n && s[k] != q)
                        k++;
                    buf_reset(&text);
                    for (size_t m = j + 1; m < k; m++)
                        buf_push(&text, s[m]);
                    if (text.n)
                        check_xml_text(text.p, text.n, v);
                    j = k;
                }
                j++;
            }
            i = j + 1;
            continue;
        }
        size_t j = i;
        while (j < n && s[j] != '<')
            j++;
        size_t a = i, b = j;
        while (a < b && isspace((unsigned char)s[a]))
            a++;
        if (a < b)
            check_xml_text(s + a, b - a, v);
        i = j;
    }
    free(text.p);
}

static void check_multipart(const char *s, size_t n, const char *content_type, verdict *v)
{
    const char *bp = strstr(content_type, "boundary=");
    if (!bp)
        return;
    char boundary[200];
    snprintf(boundary, sizeof(boundary), "--%s", bp + 9);
    char *semi = strchr(boundary, ';');
    if (semi)
        *semi = '\0';
    size_t blen = strlen(boundary);
    const char *p = s, *end = s + n;
    for (;;) {
        const char *part = memmem(p, (size_t)(end - p), boundary, blen);
        if (!part)
            break;
        part += blen;
        const char *next = memmem(part, (size_t)(end - part), boundary, blen);
        const char *part_end = next ? next : end;
        const char *hdr_end = memmem(part, (size_t)(part_end - part), "\r\n\r\n", 4);
        if (hdr_end) {
            const char *content = hdr_end + 4;
            size_t clen = (size_t)(part_end - content);
            if (clen >= 2 && content[clen - 2] == '\r' && content[clen - 1] == '\n')
                clen -= 2;
            check_decoded(content, clen, 1, v);
            const char *fn = memmem(part, (size_t)(hdr_end - part), "filename=\"", 10);
            if (fn) {
                const char *fe = memchr(fn + 10, '"', (size_t)(hdr_end - fn - 10));
                if (fe)
                    check_value(fn + 10, (size_t)(fe - fn - 10), v);
            }
        }
        if (!next)
            break;
        p = next;
    }
}

static void check_request(const request *r, verdict *v)
{
    /* ModSecurity's urlDecodeUni turns '+' into a space everywhere; the path is checked whole and by its last
     * segment (REQUEST_FILENAME and REQUEST_BASENAME). */
    check_decoded(r->path.p, r->path.n, 1, v);
    const char *slash = r->path.n ? memrchr(r->path.p, '/', r->path.n) : NULL;
    if (slash && slash != r->path.p && (size_t)(slash + 1 - r->path.p) < r->path.n)
        check_decoded(slash + 1, r->path.n - (size_t)(slash + 1 - r->path.p), 1, v);
    check_pairs(r->query.p ? r->query.p : "", r->query.n, '&', 1, v);
    for (int h = 0; h < r->headers; h++) {
        const char *name = r->header_names[h].p;
        if (!strcasecmp(name, "Host") || !strncasecmp(name, "Accept", 6) || !strcasecmp(name, "Content-Type") ||
            !strcasecmp(name, "Content-Length") || !strcasecmp(name, "Connection"))
            continue;
        if (!strcasecmp(name, "Cookie"))
            check_pairs(r->header_values[h].p, r->header_values[h].n, ';', 1, v);
        else
            check_decoded(r->header_values[h].p, r->header_values[h].n, 1, v);
    }
    if (!r->body.n)
        return;
    const char *ct = r->content_type.p ? r->content_type.p : "";
    if (strstr(ct, "json")) {
        json j = {r->body.p, 0, r->body.n};
        if (!json_skip(&j, check_json_string, v, 0))
            check_value(r->body.p, r->body.n, v);
    } else if (strstr(ct, "multipart")) {
        check_multipart(r->body.p, r->body.n, ct, v);
    } else if (strstr(ct, "xml") || (r->body.n > 1 && r->body.p[0] == '<')) {
        check_xml(r->body.p, r->body.n, v);
    } else {
        check_pairs(r->body.p, r->body.n, '&', 1, v);
    }
}

typedef struct {
    char name[40];
    int attacks, legit, sqli_attack, xss_attack, sqli_legit, xss_legit;
} category_stats;

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s corpus.jsonl [--list sqli-miss|xss-miss|sqli-fp|xss-fp|sqli-hit|xss-hit]\n", argv[0]);
        return 2;
    }
    const char *list = argc >= 4 && !strcmp(argv[2], "--list") ? argv[3] : NULL;
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    static category_stats cats[64];
    int ncats = 0;
    static request r;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, f)) > 0) {
        if (!parse_request(line, (size_t)got, &r)) {
            fprintf(stderr, "unparsed line\n");
            continue;
        }
        verdict v = {0, 0, 0};
        check_request(&r, &v);
        int attack = !strcmp(r.expect.p, "block");
        int c = 0;
        while (c < ncats && strcmp(cats[c].name, r.category.p))
            c++;
        if (c == ncats && ncats < 64)
            snprintf(cats[ncats++].name, sizeof(cats[0].name), "%s", r.category.p);
        if (c >= 64)
            continue;
        if (attack) {
            cats[c].attacks++;
            cats[c].sqli_attack += v.sqli;
            cats[c].xss_attack += v.xss;
        } else {
            cats[c].legit++;
            cats[c].sqli_legit += v.sqli;
            cats[c].xss_legit += v.xss;
        }
        if (list) {
            int is_sqli = !strcmp(r.category.p, "sqli"), is_xss = !strcmp(r.category.p, "xss");
            int show = (!strcmp(list, "sqli-miss") && attack && is_sqli && !v.sqli) ||
                       (!strcmp(list, "xss-miss") && attack && is_xss && !v.xss) ||
                       (!strcmp(list, "sqli-fp") && !attack && v.sqli) || (!strcmp(list, "xss-fp") && !attack && v.xss) ||
                       (!strcmp(list, "sqli-hit") && attack && !is_sqli && v.sqli) ||
                       (!strcmp(list, "xss-hit") && attack && !is_xss && v.xss);
            if (show) {
                printf("%s (%s)\n", r.id.p, r.category.p);
                verdict shown = {0, 0, 1};
                check_request(&r, &shown);
            }
        }
    }
    free(line);
    fclose(f);
    if (list)
        return 0;
    printf("%-22s %7s %9s %9s %7s %9s %9s\n", "category", "attacks", "sqli-hit", "xss-hit", "legit", "sqli-fp", "xss-fp");
    int ta = 0, tl = 0, tsl = 0, txl = 0;
    for (int c = 0; c < ncats; c++) {
        category_stats *s = &cats[c];
        printf("%-22s %7d %8.1f%% %8.1f%% %7d %8.1f%% %8.1f%%\n", s->name, s->attacks,
               s->attacks ? 100.0 * s->sqli_attack / s->attacks : 0.0, s->attacks ? 100.0 * s->xss_attack / s->attacks : 0.0,
               s->legit, s->legit ? 100.0 * s->sqli_legit / s->legit : 0.0, s->legit ? 100.0 * s->xss_legit / s->legit : 0.0);
        ta += s->attacks;
        tl += s->legit;
        tsl += s->sqli_legit;
        txl += s->xss_legit;
    }
    printf("legitimate requests: %d, sqli fires on %d (%.1f%%), xss fires on %d (%.1f%%); attacks: %d\n", tl, tsl,
           tl ? 100.0 * tsl / tl : 0.0, txl, tl ? 100.0 * txl / tl : 0.0, ta);
    return 0;
}
