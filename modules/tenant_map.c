/* SPDX-License-Identifier: MIT */
/* The tenant map: a line-oriented reader for the YAML subset described in tenant.h, records in an arena,
 * interned setting strings and an open-addressing hash table sized once from the line count (no rehash).
 * Also the host pattern helpers (wildcard label, preview capture, template expansion). */
#include "tenant.h"
#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAP_MAX_ERRORS 20
#define ARENA_CHUNK    (1u << 20)
#define VALUE_MAX      255
#define INTERN_SLOTS   1024

typedef struct st_chunk_t {
    struct st_chunk_t *next;
    size_t used, cap;
    _Alignas(16) char data[];
} chunk_t;

struct st_ep_tenant_map_t {
    chunk_t *chunks;
    size_t chunk_size;         /* arena chunks: sized from the input, at most ARENA_CHUNK */
    size_t bytes;              /* everything malloc'ed */
    const ep_tenant_t **table; /* open addressing, NULL = empty */
    uint32_t *hashes;          /* hash of each slot's id (skips most string compares) */
    size_t mask;
    const ep_tenant_t **order; /* file order */
    size_t count;
    const char **interned; /* small open-addressing set of setting strings */
    size_t interned_count;
};

static void *arena_alloc(ep_tenant_map_t *m, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    chunk_t *c = m->chunks;
    if (c == NULL || c->cap - c->used < n) {
        size_t cap = n > m->chunk_size ? n : m->chunk_size;
        chunk_t *nc = malloc(sizeof(*nc) + cap);
        if (nc == NULL)
            abort();
        nc->used = 0;
        nc->cap = cap;
        nc->next = m->chunks;
        m->chunks = nc;
        m->bytes += sizeof(*nc) + cap;
        c = nc;
    }
    void *r = c->data + c->used;
    c->used += n;
    return r;
}

static uint32_t id_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    /* final avalanche (murmur3 fmix32): sequential ids must not cluster under linear probing */
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    return h ^ (h >> 16);
}

static const char *intern(ep_tenant_map_t *m, const char *s, size_t len)
{
    uint32_t h = id_hash(s, len);
    size_t i = h & (INTERN_SLOTS - 1);
    for (size_t probes = 0; probes < INTERN_SLOTS; probes++, i = (i + 1) & (INTERN_SLOTS - 1)) {
        const char *e = m->interned[i];
        if (e == NULL) {
            char *copy = arena_alloc(m, len + 1);
            memcpy(copy, s, len);
            copy[len] = '\0';
            /* keep the set at most half full; past that, strings are just not shared */
            if (m->interned_count < INTERN_SLOTS / 2) {
                m->interned[i] = copy;
                m->interned_count++;
            }
            return copy;
        }
        if (strlen(e) == len && memcmp(e, s, len) == 0)
            return e;
    }
    char *copy = arena_alloc(m, len + 1);
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

int ep_tenant_id_valid(const char *s, size_t len)
{
    if (len == 0 || len > EP_TENANT_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

const char *ep_placement_str(ep_placement_t p)
{
    return p == EP_PLACEMENT_SINGLE ? "single" : "multi";
}

const ep_tenant_t *ep_tenant_map_find(const ep_tenant_map_t *map, const char *id, size_t len)
{
    if (map == NULL || len == 0 || len > EP_TENANT_ID_MAX)
        return NULL;
    char lower[EP_TENANT_ID_MAX + 1];
    for (size_t i = 0; i < len; i++)
        lower[i] = (char)tolower((unsigned char)id[i]);
    uint32_t h = id_hash(lower, len);
    for (size_t i = h & map->mask;; i = (i + 1) & map->mask) {
        const ep_tenant_t *t = map->table[i];
        if (t == NULL)
            return NULL;
        if (map->hashes[i] == h && t->id_len == len && memcmp(t->id, lower, len) == 0)
            return t;
    }
}

size_t ep_tenant_map_count(const ep_tenant_map_t *map)
{
    return map != NULL ? map->count : 0;
}

size_t ep_tenant_map_memory(const ep_tenant_map_t *map)
{
    return map != NULL ? map->bytes : 0;
}

const ep_tenant_t *ep_tenant_map_at(const ep_tenant_map_t *map, size_t i)
{
    return map != NULL && i < map->count ? map->order[i] : NULL;
}

const ep_tenant_t *ep_tenant_from_id(const char *tenant_id)
{
    if (tenant_id == NULL)
        return NULL;
    const ep_tenant_t *t = (const ep_tenant_t *)(tenant_id - offsetof(ep_tenant_t, id));
    return t->magic == EP_TENANT_MAGIC ? t : NULL;
}

void ep_tenant_map_free(ep_tenant_map_t *map)
{
    if (map == NULL)
        return;
    chunk_t *c = map->chunks;
    while (c != NULL) {
        chunk_t *next = c->next;
        free(c);
        c = next;
    }
    free(map->table);
    free(map->hashes);
    free(map->order);
    free(map->interned);
    free(map);
}

/* ---- parser ------------------------------------------------------------------------------------------- */

typedef struct {
    const char *name;
    rs_errors_t *errs;
    unsigned nerrors;
    const char *line; /* start of the current line */
    unsigned lineno;
} reader_t;

__attribute__((format(printf, 3, 4))) static void map_error(reader_t *r, const char *at, const char *fmt, ...)
{
    if (r->nerrors++ >= MAP_MAX_ERRORS)
        return;
    va_list ap;
    va_start(ap, fmt);
    rs_errors_vadd(r->errs, r->name, r->lineno, (unsigned)(at - r->line) + 1, fmt, ap);
    va_end(ap);
}

static const char *skip_spaces(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* A scalar inside a flow mapping: quoted ("..." with \" and \\, or '...' with ''), or plain up to ',' '}'
 * or " #". Writes into out (NUL-terminated). Returns the position after it, or NULL after an error. */
static const char *read_scalar(reader_t *r, const char *p, const char *end, int in_flow, char *out, size_t *out_len)
{
    size_t o = 0;
    if (p < end && (*p == '"' || *p == '\'')) {
        char q = *p;
        const char *start = p++;
        for (;;) {
            if (p >= end) {
                map_error(r, start, "unterminated quoted string");
                return NULL;
            }
            char ch = *p++;
            if (ch == q) {
                if (q == '\'' && p < end && *p == '\'') {
                    ch = *p++;
                } else {
                    break;
                }
            } else if (q == '"' && ch == '\\') {
                if (p >= end || (*p != '"' && *p != '\\')) {
                    map_error(r, p - 1, "unsupported escape (only \\\" and \\\\)");
                    return NULL;
                }
                ch = *p++;
            }
            if (o >= VALUE_MAX) {
                map_error(r, start, "value longer than %d characters", VALUE_MAX);
                return NULL;
            }
            out[o++] = ch;
        }
    } else {
        const char *start = p;
        while (p < end && !(in_flow && (*p == ',' || *p == '}' || *p == '{' || *p == '[')) &&
               !(*p == '#' && p > start && (p[-1] == ' ' || p[-1] == '\t'))) {
            if (o >= VALUE_MAX) {
                map_error(r, start, "value longer than %d characters", VALUE_MAX);
                return NULL;
            }
            out[o++] = *p++;
        }
        while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'))
            o--;
        if (o == 0) {
            map_error(r, start, "expected a value");
            return NULL;
        }
    }
    out[o] = '\0';
    *out_len = o;
    return p;
}

static int parse_bool(const char *v, int *out)
{
    if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on")) {
        *out = 1;
        return 0;
    }
    if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off")) {
        *out = 0;
        return 0;
    }
    return -1;
}

static int valid_name(const char *v)
{
    /* upstream, service and rule set names: printable, no spaces */
    for (; *v != '\0'; v++)
        if ((unsigned char)*v <= ' ' || (unsigned char)*v >= 0x7f)
            return 0;
    return 1;
}

/* Settings of one tenant, read from "{k: v, ...}" (p at '{'). Returns 0 or -1. */
static int read_flow_map(reader_t *r, ep_tenant_map_t *m, const char *p, const char *end, ep_tenant_t *t, const char *id_at)
{
    const char *placement_at = NULL;
    p = skip_spaces(p + 1, end);
    int empty = p < end && *p == '}'; /* "{}": all defaults */
    if (empty)
        p++;
    while (!empty) {
        p = skip_spaces(p, end);
        const char *key_at = p;
        while (p < end && (isalnum((unsigned char)*p) || *p == '_'))
            p++;
        size_t klen = (size_t)(p - key_at);
        if (klen == 0) {
            map_error(r, key_at, "expected a setting name");
            return -1;
        }
        if (p >= end || *p != ':') {
            map_error(r, p, "expected ':' after '%.*s'", (int)klen, key_at);
            return -1;
        }
        p = skip_spaces(p + 1, end);
        char val[VALUE_MAX + 1];
        size_t vlen;
        const char *val_at = p;
        if ((p = read_scalar(r, p, end, 1, val, &vlen)) == NULL)
            return -1;
#define KEY_IS(lit) (klen == sizeof(lit) - 1 && memcmp(key_at, lit, klen) == 0)
        if (KEY_IS("placement")) {
            if (strcmp(val, "multi") == 0) {
                t->placement = EP_PLACEMENT_MULTI;
            } else if (strcmp(val, "single") == 0) {
                t->placement = EP_PLACEMENT_SINGLE;
            } else {
                map_error(r, val_at, "placement must be 'multi' or 'single', not '%s'", val);
                return -1;
            }
            placement_at = val_at;
        } else if (KEY_IS("upstream") || KEY_IS("service") || KEY_IS("ruleset")) {
            if (!valid_name(val)) {
                map_error(r, val_at, "'%.*s' must be a name without spaces", (int)klen, key_at);
                return -1;
            }
            const char *s = intern(m, val, vlen);
            if (KEY_IS("upstream"))
                t->upstream = s;
            else if (KEY_IS("service"))
                t->service = s;
            else {
                t->ruleset = s;
                size_t col = (size_t)(val_at - r->line) + 1;
                t->ruleset_col = (uint16_t)(col < UINT16_MAX ? col : UINT16_MAX);
            }
        } else if (KEY_IS("pinned")) {
            int b;
            if (strcmp(val, "stable") == 0)
                t->pinned_stable = 1;
            else if (strcmp(val, "none") == 0)
                t->pinned_stable = 0;
            else if (parse_bool(val, &b) == 0)
                t->pinned_stable = (uint8_t)b;
            else {
                map_error(r, val_at, "pinned must be 'stable' or 'none'");
                return -1;
            }
        } else if (KEY_IS("detection_only")) {
            int b;
            if (parse_bool(val, &b) != 0) {
                map_error(r, val_at, "detection_only must be true or false");
                return -1;
            }
            t->detection_only = (uint8_t)b;
        } else {
            map_error(r, key_at, "unknown tenant setting '%.*s' (placement, upstream, pinned, service, ruleset, detection_only)",
                      (int)klen, key_at);
            return -1;
        }
#undef KEY_IS
        p = skip_spaces(p, end);
        if (p < end && *p == ',')
            p++;
        else if (p < end && *p == '}') {
            p++;
            break;
        } else {
            map_error(r, p, "expected ',' or '}'");
            return -1;
        }
    }
    p = skip_spaces(p, end);
    if (p < end && *p != '#') {
        map_error(r, p, "unexpected text after the tenant's settings");
        return -1;
    }
    if (t->placement == EP_PLACEMENT_SINGLE && t->upstream == NULL) {
        map_error(r, placement_at != NULL ? placement_at : id_at, "a 'single' tenant needs its own 'upstream'");
        return -1;
    }
    return 0;
}

static void insert(ep_tenant_map_t *m, const ep_tenant_t *t, uint32_t h)
{
    size_t i = h & m->mask;
    while (m->table[i] != NULL)
        i = (i + 1) & m->mask;
    m->table[i] = t;
    m->hashes[i] = h;
}

ep_tenant_map_t *ep_tenant_map_parse(const char *name, const char *text, size_t len, rs_errors_t *errs)
{
    size_t lines = 1;
    for (const char *q = text; (q = memchr(q, '\n', (size_t)(text + len - q))) != NULL; q++)
        lines++;
    ep_tenant_map_t *m = calloc(1, sizeof(*m));
    size_t slots = 16;
    while (slots < lines * 2)
        slots <<= 1;
    m->table = calloc(slots, sizeof(*m->table));
    m->hashes = calloc(slots, sizeof(*m->hashes));
    m->order = malloc(lines * sizeof(*m->order));
    m->interned = calloc(INTERN_SLOTS, sizeof(*m->interned));
    if (m->table == NULL || m->hashes == NULL || m->order == NULL || m->interned == NULL)
        abort();
    m->mask = slots - 1;
    m->chunk_size = len + 4096 < ARENA_CHUNK ? len + 4096 : ARENA_CHUNK;
    m->bytes = sizeof(*m) + slots * (sizeof(*m->table) + sizeof(*m->hashes)) + lines * sizeof(*m->order) +
               INTERN_SLOTS * sizeof(*m->interned);

    reader_t r = {.name = name, .errs = errs};
    const char *p = text, *end = text + len;
    while (p < end && r.nerrors < MAP_MAX_ERRORS) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = eol != NULL ? eol : end;
        r.line = p;
        r.lineno++;
        const char *next = eol != NULL ? eol + 1 : end;
        if (line_end > p && line_end[-1] == '\r')
            line_end--;
        if (r.lineno == 1 && line_end - p >= 3 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
            (unsigned char)p[2] == 0xBF)
            p += 3; /* UTF-8 byte order mark */
        const char *q = skip_spaces(p, line_end);
        if (q == line_end || *q == '#' || (line_end - p == 3 && memcmp(p, "---", 3) == 0)) {
            p = next;
            continue;
        }
        if (q != p) {
            map_error(&r, p, "tenant entries start at column 1 (one 'id: settings' per line)");
            p = next;
            continue;
        }
        const char *id_at = q;
        while (q < line_end && *q != ':' && *q != ' ' && *q != '\t')
            q++;
        size_t id_len = (size_t)(q - id_at);
        if (!ep_tenant_id_valid(id_at, id_len)) {
            map_error(&r, id_at, "invalid tenant id '%.*s' (1-63 of A-Z a-z 0-9 - _)", (int)(id_len > 80 ? 80 : id_len), id_at);
            p = next;
            continue;
        }
        if (q >= line_end || *q != ':') {
            map_error(&r, q, "expected ':' after the tenant id");
            p = next;
            continue;
        }
        q++;
        if (q < line_end && *q != ' ' && *q != '\t') {
            map_error(&r, q, "expected a space after ':'");
            p = next;
            continue;
        }
        q = skip_spaces(q, line_end);
        ep_tenant_t *t = arena_alloc(m, sizeof(*t) + id_len + 1);
        memset(t, 0, sizeof(*t));
        t->magic = EP_TENANT_MAGIC;
        t->id_len = (uint8_t)id_len;
        t->line = r.lineno;
        for (size_t i = 0; i < id_len; i++)
            t->id[i] = (char)tolower((unsigned char)id_at[i]);
        t->id[id_len] = '\0';
        int ok;
        if (q < line_end && *q == '{') {
            ok = read_flow_map(&r, m, q, line_end, t, id_at) == 0;
        } else {
            char val[VALUE_MAX + 1];
            size_t vlen;
            const char *val_at = q;
            ok = q < line_end && read_scalar(&r, q, line_end, 0, val, &vlen) != NULL;
            if (q >= line_end)
                map_error(&r, q, "expected 'multi' or '{settings}' after the tenant id");
            else if (ok && strcmp(val, "multi") != 0) {
                map_error(&r, val_at, "a bare value can only be 'multi'; use {placement: single, upstream: NAME}");
                ok = 0;
            }
        }
        if (ok) {
            uint32_t h = id_hash(t->id, id_len);
            const ep_tenant_t *dup = ep_tenant_map_find(m, t->id, id_len);
            if (dup != NULL) {
                map_error(&r, id_at, "duplicate tenant '%s' (first defined at line %u)", t->id, (unsigned)dup->line);
            } else {
                insert(m, t, h);
                m->order[m->count++] = t;
            }
        }
        p = next;
    }
    if (r.nerrors > MAP_MAX_ERRORS)
        rs_errors_add(errs, name, 0, 0, "%u more errors not shown", r.nerrors - MAP_MAX_ERRORS);
    if (r.nerrors > 0) {
        ep_tenant_map_free(m);
        return NULL;
    }
    return m;
}

ep_tenant_map_t *ep_tenant_map_load(const char *path, rs_errors_t *errs)
{
    rs_buf_t buf = {0};
    ep_tenant_map_t *m = NULL;
    if (rs_read_file(path, (size_t)1 << 30, &buf) != 0)
        rs_errors_add(errs, path, 0, 0, "cannot read the tenant map: %s", errno == EFBIG ? "larger than 1 GiB" : strerror(errno));
    else
        m = ep_tenant_map_parse(path, buf.base, buf.len, errs);
    rs_buf_free(&buf);
    return m;
}

/* ---- host patterns ------------------------------------------------------------------------------------ */

static size_t host_without_port(const char *host, size_t len)
{
    if (len > 0 && host[0] == '[') /* IPv6 literal: never a tenant host */
        return len;
    const char *colon = memchr(host, ':', len);
    size_t n = colon != NULL ? (size_t)(colon - host) : len;
    if (n > 0 && host[n - 1] == '.') /* trailing dot of a fully qualified name */
        n--;
    return n;
}

size_t ep_host_wildcard_match(const char *pattern_suffix, const char *host, size_t host_len, const char **label)
{
    /* pattern_suffix is ".app.example.com" (the '*' stripped) */
    host_len = host_without_port(host, host_len);
    size_t slen = strlen(pattern_suffix);
    if (host_len <= slen || strncasecmp(host + host_len - slen, pattern_suffix, slen) != 0)
        return 0;
    size_t llen = host_len - slen;
    if (memchr(host, '.', llen) != NULL || !ep_tenant_id_valid(host, llen))
        return 0;
    *label = host;
    return llen;
}

size_t ep_host_capture_match(const char *pattern, const char *host, size_t host_len, const char **cap)
{
    host_len = host_without_port(host, host_len);
    const char *brace = strstr(pattern, "{n}");
    if (brace == NULL)
        return 0;
    size_t pre = (size_t)(brace - pattern), post = strlen(brace + 3);
    if (host_len <= pre + post || strncasecmp(host, pattern, pre) != 0 || strncasecmp(host + host_len - post, brace + 3, post) != 0)
        return 0;
    size_t clen = host_len - pre - post;
    if (clen > EP_TENANT_ID_MAX)
        return 0;
    for (size_t i = 0; i < clen; i++) {
        unsigned char c = (unsigned char)host[pre + i];
        if (!(isalnum(c) || c == '-'))
            return 0;
    }
    *cap = host + pre;
    return clen;
}

int ep_template_expand(const char *tmpl, const char *cap, size_t cap_len, char *out, size_t out_size)
{
    size_t o = 0;
    for (const char *p = tmpl; *p != '\0';) {
        if (strncmp(p, "{n}", 3) == 0) {
            if (o + cap_len >= out_size)
                return -1;
            memcpy(out + o, cap, cap_len);
            o += cap_len;
            p += 3;
        } else {
            if (o + 1 >= out_size)
                return -1;
            out[o++] = *p++;
        }
    }
    if (o >= out_size)
        return -1;
    out[o] = '\0';
    return 0;
}
