/* SPDX-License-Identifier: MIT */
/* Strict JSON reader into an arena (see jwt_json.h). Recursive descent with an explicit depth bound; strings
 * are decoded (escapes, \u surrogate pairs) and must be valid UTF-8. */
#include "jwt_json.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/util.h"

typedef struct st_arena_chunk_t {
    struct st_arena_chunk_t *next;
    size_t used, cap;
    _Alignas(16) char data[];
} arena_chunk_t;

struct st_ep_json_doc_t {
    arena_chunk_t *chunks;
    ep_json_t *root;
};

typedef struct {
    const char *p, *end, *start;
    ep_json_doc_t *doc;
    unsigned depth, max_depth;
    char *err;
    size_t err_size;
    int failed;
} parser_t;

static void *arena_alloc(ep_json_doc_t *doc, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    arena_chunk_t *c = doc->chunks;
    if (c == NULL || c->cap - c->used < n) {
        size_t cap = n > 4096 ? n : 4096;
        arena_chunk_t *nc = malloc(sizeof(*nc) + cap);
        if (nc == NULL)
            return NULL;
        nc->used = 0;
        nc->cap = cap;
        nc->next = doc->chunks;
        doc->chunks = nc;
        c = nc;
    }
    void *r = c->data + c->used;
    c->used += n;
    return r;
}

__attribute__((format(printf, 2, 3))) static void fail(parser_t *ps, const char *fmt, ...)
{
    if (ps->failed)
        return;
    ps->failed = 1;
    if (ps->err == NULL || ps->err_size == 0)
        return;
    int n = snprintf(ps->err, ps->err_size, "offset %zu: ", (size_t)(ps->p - ps->start));
    if (n < 0 || (size_t)n >= ps->err_size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->err + n, ps->err_size - (size_t)n, fmt, ap);
    va_end(ap);
}

static void skip_ws(parser_t *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static ep_json_t *new_value(parser_t *ps, ep_json_type_t type)
{
    ep_json_t *v = arena_alloc(ps->doc, sizeof(*v));
    if (v == NULL) {
        fail(ps, "out of memory");
        return NULL;
    }
    memset(v, 0, sizeof(*v));
    v->type = type;
    return v;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char ch = p[i];
        v <<= 4;
        if (ch >= '0' && ch <= '9')
            v |= (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            v |= (unsigned)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F')
            v |= (unsigned)(ch - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when invalid (overlongs and surrogates refused). */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

static char *parse_string_raw(parser_t *ps, size_t *out_len)
{
    /* ps->p is at the opening quote; decoded output is never longer than the input */
    const char *q = ps->p + 1;
    const char *close = q;
    while (close < ps->end && *close != '"') {
        if (*close == '\\' && close + 1 < ps->end)
            close++;
        close++;
    }
    if (close >= ps->end) {
        fail(ps, "unterminated string");
        return NULL;
    }
    char *buf = arena_alloc(ps->doc, (size_t)(close - q) + 1);
    if (buf == NULL) {
        fail(ps, "out of memory");
        return NULL;
    }
    size_t o = 0;
    ps->p = q;
    while (ps->p < close) {
        unsigned char ch = (unsigned char)*ps->p;
        if (ch < 0x20) {
            fail(ps, "control character in string");
            return NULL;
        }
        if (ch != '\\') {
            size_t n = utf8_seq((const unsigned char *)ps->p, (const unsigned char *)close);
            if (n == 0) {
                fail(ps, "invalid UTF-8 in string");
                return NULL;
            }
            memcpy(buf + o, ps->p, n);
            o += n;
            ps->p += n;
            continue;
        }
        ps->p++;
        char e = *ps->p++;
        switch (e) {
        case '"':
        case '\\':
        case '/':
            buf[o++] = e;
            break;
        case 'b':
            buf[o++] = '\b';
            break;
        case 'f':
            buf[o++] = '\f';
            break;
        case 'n':
            buf[o++] = '\n';
            break;
        case 'r':
            buf[o++] = '\r';
            break;
        case 't':
            buf[o++] = '\t';
            break;
        case 'u': {
            unsigned cp;
            if (close - ps->p < 4 || hex4(ps->p, &cp) != 0) {
                fail(ps, "bad \\u escape");
                return NULL;
            }
            ps->p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (close - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' || hex4(ps->p + 2, &lo) != 0 || lo < 0xDC00 ||
                    lo > 0xDFFF) {
                    fail(ps, "unpaired surrogate in \\u escape");
                    return NULL;
                }
                ps->p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                fail(ps, "unpaired surrogate in \\u escape");
                return NULL;
            }
            /* \u0000 decodes to 1 byte from 6 input bytes and 4-byte sequences come from 12: always fits */
            o += rs_utf8_encode(buf + o, cp);
            break;
        }
        default:
            fail(ps, "bad escape '\\%c'", e);
            return NULL;
        }
    }
    buf[o] = '\0';
    ps->p = close + 1;
    *out_len = o;
    return buf;
}

static ep_json_t *parse_value(parser_t *ps);

static ep_json_t *parse_container(parser_t *ps, int is_object)
{
    if (++ps->depth > ps->max_depth) {
        fail(ps, "nesting deeper than %u", ps->max_depth);
        return NULL;
    }
    ep_json_t *v = new_value(ps, is_object ? EP_JSON_OBJECT : EP_JSON_ARRAY);
    if (v == NULL)
        return NULL;
    ps->p++; /* [ or { */
    size_t cap = 0;
    skip_ws(ps);
    char close = is_object ? '}' : ']';
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        ps->depth--;
        return v;
    }
    for (;;) {
        const char *key = NULL;
        skip_ws(ps);
        if (is_object) {
            size_t klen;
            if (ps->p >= ps->end || *ps->p != '"') {
                fail(ps, "expected a string key");
                return NULL;
            }
            if ((key = parse_string_raw(ps, &klen)) == NULL)
                return NULL;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                fail(ps, "expected ':'");
                return NULL;
            }
            ps->p++;
        }
        ep_json_t *item = parse_value(ps);
        if (item == NULL)
            return NULL;
        if (v->count == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            ep_json_t **ni = arena_alloc(ps->doc, ncap * sizeof(*ni));
            const char **nk = is_object ? arena_alloc(ps->doc, ncap * sizeof(*nk)) : NULL;
            if (ni == NULL || (is_object && nk == NULL)) {
                fail(ps, "out of memory");
                return NULL;
            }
            if (cap) {
                memcpy(ni, v->items, cap * sizeof(*ni));
                if (is_object)
                    memcpy(nk, v->keys, cap * sizeof(*nk));
            }
            v->items = ni;
            v->keys = nk;
            cap = ncap;
        }
        v->items[v->count] = item;
        if (is_object)
            v->keys[v->count] = key;
        v->count++;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            ps->depth--;
            return v;
        }
        fail(ps, "expected ',' or '%c'", close);
        return NULL;
    }
}

static ep_json_t *parse_number(parser_t *ps)
{
    const char *s = ps->p;
    const char *q = s;
    if (q < ps->end && *q == '-')
        q++;
    if (q < ps->end && *q == '0') {
        q++;
    } else if (q < ps->end && *q >= '1' && *q <= '9') {
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    } else {
        fail(ps, "invalid number");
        return NULL;
    }
    if (q < ps->end && *q == '.') {
        q++;
        if (q >= ps->end || *q < '0' || *q > '9') {
            fail(ps, "invalid number");
            return NULL;
        }
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < ps->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= ps->end || *q < '0' || *q > '9') {
            fail(ps, "invalid number");
            return NULL;
        }
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    char tmp[64];
    size_t n = (size_t)(q - s);
    if (n >= sizeof(tmp)) {
        fail(ps, "number too long");
        return NULL;
    }
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    ep_json_t *v = new_value(ps, EP_JSON_NUMBER);
    if (v == NULL)
        return NULL;
    v->number = strtod(tmp, NULL);
    if (!isfinite(v->number)) {
        fail(ps, "number out of range");
        return NULL;
    }
    ps->p = q;
    return v;
}

static int literal(parser_t *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, word, n) == 0) {
        ps->p += n;
        return 1;
    }
    return 0;
}

static ep_json_t *parse_value(parser_t *ps)
{
    skip_ws(ps);
    if (ps->p >= ps->end) {
        fail(ps, "unexpected end of input");
        return NULL;
    }
    ep_json_t *v;
    switch (*ps->p) {
    case '{':
        return parse_container(ps, 1);
    case '[':
        return parse_container(ps, 0);
    case '"': {
        size_t len;
        char *s = parse_string_raw(ps, &len);
        if (s == NULL || (v = new_value(ps, EP_JSON_STRING)) == NULL)
            return NULL;
        v->str = s;
        v->len = len;
        return v;
    }
    case 't':
    case 'f':
        if (literal(ps, "true") || literal(ps, "false")) {
            if ((v = new_value(ps, EP_JSON_BOOL)) != NULL)
                v->boolean = ps->p[-1] == 'e' && ps->p[-2] == 'u';
            return v;
        }
        break;
    case 'n':
        if (literal(ps, "null"))
            return new_value(ps, EP_JSON_NULL);
        break;
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
            return parse_number(ps);
        break;
    }
    fail(ps, "unexpected character '%c'", *ps->p >= 0x20 && *ps->p < 0x7f ? *ps->p : '?');
    return NULL;
}

ep_json_doc_t *ep_json_parse(const char *text, size_t len, unsigned max_depth, char *err, size_t err_size)
{
    ep_json_doc_t *doc = calloc(1, sizeof(*doc));
    if (doc == NULL)
        return NULL;
    parser_t ps = {
        .p = text, .end = text + len, .start = text, .doc = doc, .max_depth = max_depth, .err = err, .err_size = err_size};
    if (err != NULL && err_size > 0)
        err[0] = '\0';
    doc->root = parse_value(&ps);
    if (doc->root != NULL) {
        skip_ws(&ps);
        if (ps.p != ps.end)
            fail(&ps, "trailing data after the JSON value");
    }
    if (ps.failed || doc->root == NULL) {
        if (!ps.failed)
            fail(&ps, "invalid JSON");
        ep_json_free(doc);
        return NULL;
    }
    return doc;
}

const ep_json_t *ep_json_root(const ep_json_doc_t *doc)
{
    return doc->root;
}

void ep_json_free(ep_json_doc_t *doc)
{
    if (doc == NULL)
        return;
    arena_chunk_t *c = doc->chunks;
    while (c != NULL) {
        arena_chunk_t *next = c->next;
        free(c);
        c = next;
    }
    free(doc);
}

const ep_json_t *ep_json_get(const ep_json_t *obj, const char *key)
{
    if (obj == NULL || obj->type != EP_JSON_OBJECT)
        return NULL;
    for (size_t i = obj->count; i-- > 0;)
        if (strcmp(obj->keys[i], key) == 0)
            return obj->items[i];
    return NULL;
}

const char *ep_json_get_str(const ep_json_t *obj, const char *key)
{
    const ep_json_t *v = ep_json_get(obj, key);
    return v != NULL && v->type == EP_JSON_STRING ? v->str : NULL;
}

void ep_json_quote(rs_buf_t *out, const char *s, size_t len)
{
    rs_buf_putc(out, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        switch (ch) {
        case '"':
            rs_buf_append(out, "\\\"", 2);
            break;
        case '\\':
            rs_buf_append(out, "\\\\", 2);
            break;
        case '\n':
            rs_buf_append(out, "\\n", 2);
            break;
        case '\r':
            rs_buf_append(out, "\\r", 2);
            break;
        case '\t':
            rs_buf_append(out, "\\t", 2);
            break;
        default:
            if (ch < 0x20 || ch == 0x7f)
                rs_buf_printf(out, "\\u%04x", ch);
            else
                rs_buf_putc(out, (char)ch);
        }
    }
    rs_buf_putc(out, '"');
}
