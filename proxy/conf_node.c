/* SPDX-License-Identifier: MIT */
/* YAML (libyaml) -> a tree of ep_node_t that keeps each node's line and column, plus the typed getters every
 * config reader uses. All nodes and strings of a document come from one arena freed with the document, so a
 * failed load frees everything in one call. */
#include "conf_node.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

/* ----------------------------------------------------------------- arena */

struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    _Alignas(16) char data[];
};

static void *arena_alloc(ep_doc_t *doc, size_t n)
{
    struct arena_block *b = doc->arena;
    n = (n + 15) & ~(size_t)15;
    if (b == NULL || b->cap - b->used < n) {
        size_t cap = n > 8192 ? n : 8192;
        struct arena_block *nb = malloc(sizeof(*nb) + cap);
        if (nb == NULL)
            abort();
        nb->next = b;
        nb->used = 0;
        nb->cap = cap;
        doc->arena = b = nb;
    }
    void *p = b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

static char *arena_strndup(ep_doc_t *doc, const char *s, size_t len)
{
    char *p = arena_alloc(doc, len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void ep_doc_free(ep_doc_t *doc)
{
    if (doc == NULL)
        return;
    struct arena_block *b = doc->arena;
    while (b != NULL) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
    free(doc->file);
    free(doc);
}

/* ----------------------------------------------------------------- parser */

struct builder {
    ep_doc_t *doc;
    yaml_parser_t parser;
    rs_errors_t *errs;
    unsigned depth;
};

#define EP_MAX_DEPTH 64 /* bounds recursion on hostile input */

static void err_at_mark(struct builder *b, yaml_mark_t m, const char *msg)
{
    rs_errors_add(b->errs, b->doc->file, (unsigned)m.line + 1, (unsigned)m.column + 1, "%s", msg);
}

static int next_event(struct builder *b, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&b->parser, ev)) {
        const char *problem = b->parser.problem != NULL ? b->parser.problem : "YAML syntax error";
        char msg[256];
        if (b->parser.context != NULL)
            snprintf(msg, sizeof(msg), "%s %s", b->parser.context, problem);
        else
            snprintf(msg, sizeof(msg), "%s", problem);
        err_at_mark(b, b->parser.problem_mark, msg);
        return -1;
    }
    return 0;
}

static void push_child(ep_doc_t *doc, ep_node_t *parent, ep_node_t *key, ep_node_t *value, size_t *cap)
{
    if (parent->count == *cap) {
        size_t ncap = *cap == 0 ? 8 : *cap * 2;
        ep_node_t **nv = arena_alloc(doc, ncap * sizeof(*nv));
        if (parent->count != 0)
            memcpy(nv, parent->values, parent->count * sizeof(*nv));
        parent->values = nv;
        if (parent->type == EP_NODE_MAP) {
            ep_node_t **nk = arena_alloc(doc, ncap * sizeof(*nk));
            if (parent->count != 0)
                memcpy(nk, parent->keys, parent->count * sizeof(*nk));
            parent->keys = nk;
        }
        *cap = ncap;
    }
    if (parent->type == EP_NODE_MAP)
        parent->keys[parent->count] = key;
    parent->values[parent->count++] = value;
}

static ep_node_t *new_node(struct builder *b, ep_node_type_t type, yaml_mark_t m)
{
    ep_node_t *n = arena_alloc(b->doc, sizeof(*n));
    n->type = type;
    n->file = b->doc->file;
    n->line = (unsigned)m.line + 1;
    n->col = (unsigned)m.column + 1;
    return n;
}

/* Builds the node that starts with `ev` (already consumed). Returns NULL on error (reported). */
static ep_node_t *build_node(struct builder *b, yaml_event_t *ev)
{
    ep_node_t *n = NULL;
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        err_at_mark(b, ev->start_mark, "YAML aliases are not supported");
        return NULL;
    case YAML_SCALAR_EVENT:
        if (ev->data.scalar.anchor != NULL) {
            err_at_mark(b, ev->start_mark, "YAML anchors are not supported");
            return NULL;
        }
        n = new_node(b, EP_NODE_SCALAR, ev->start_mark);
        n->scalar = arena_strndup(b->doc, (const char *)ev->data.scalar.value, ev->data.scalar.length);
        n->scalar_len = ev->data.scalar.length;
        n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        return n;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int is_map = ev->type == YAML_MAPPING_START_EVENT;
        const yaml_char_t *anchor = is_map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
        if (anchor != NULL) {
            err_at_mark(b, ev->start_mark, "YAML anchors are not supported");
            return NULL;
        }
        if (++b->depth > EP_MAX_DEPTH) {
            err_at_mark(b, ev->start_mark, "nesting too deep");
            return NULL;
        }
        n = new_node(b, is_map ? EP_NODE_MAP : EP_NODE_SEQ, ev->start_mark);
        size_t cap = 0;
        for (;;) {
            yaml_event_t child;
            if (next_event(b, &child) != 0)
                return NULL;
            if (child.type == YAML_SEQUENCE_END_EVENT || child.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&child);
                break;
            }
            ep_node_t *key = build_node(b, &child);
            yaml_event_delete(&child);
            if (key == NULL)
                return NULL;
            ep_node_t *value = NULL;
            if (is_map) {
                if (key->type != EP_NODE_SCALAR) {
                    rs_errors_add(b->errs, b->doc->file, key->line, key->col, "mapping keys must be scalars");
                    return NULL;
                }
                for (size_t i = 0; i < n->count; ++i) {
                    if (strcmp(n->keys[i]->scalar, key->scalar) == 0) {
                        rs_errors_add(b->errs, b->doc->file, key->line, key->col, "duplicate key '%s'", key->scalar);
                        return NULL;
                    }
                }
                yaml_event_t vev;
                if (next_event(b, &vev) != 0)
                    return NULL;
                value = build_node(b, &vev);
                yaml_event_delete(&vev);
                if (value == NULL)
                    return NULL;
                push_child(b->doc, n, key, value, &cap);
            } else {
                push_child(b->doc, n, NULL, key, &cap);
            }
        }
        --b->depth;
        return n;
    }
    default:
        err_at_mark(b, ev->start_mark, "unexpected YAML event");
        return NULL;
    }
}

ep_doc_t *ep_doc_parse(const char *name, const char *text, size_t len, rs_errors_t *errs)
{
    struct builder b = {.errs = errs};
    b.doc = calloc(1, sizeof(*b.doc));
    if (b.doc == NULL)
        abort();
    b.doc->file = strdup(name != NULL ? name : "<config>");
    if (!yaml_parser_initialize(&b.parser))
        abort();
    yaml_parser_set_input_string(&b.parser, (const unsigned char *)text, len);

    int ok = 0, docs = 0;
    for (;;) {
        yaml_event_t ev;
        if (next_event(&b, &ev) != 0)
            break;
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            ok = 1;
            break;
        }
        if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        if (t == YAML_DOCUMENT_START_EVENT) {
            if (++docs > 1) {
                err_at_mark(&b, ev.start_mark, "only one YAML document is allowed");
                yaml_event_delete(&ev);
                break;
            }
            yaml_event_delete(&ev);
            continue;
        }
        ep_node_t *n = build_node(&b, &ev);
        yaml_event_delete(&ev);
        if (n == NULL)
            break;
        b.doc->root = n;
    }
    yaml_parser_delete(&b.parser);
    if (!ok) {
        ep_doc_free(b.doc);
        return NULL;
    }
    return b.doc;
}

ep_doc_t *ep_doc_load(const char *path, rs_errors_t *errs)
{
    rs_buf_t buf = {0};
    if (rs_read_file(path, 0, &buf) != 0) {
        rs_errors_add(errs, path, 0, 0, "cannot read: %s", strerror(errno));
        rs_buf_free(&buf);
        return NULL;
    }
    ep_doc_t *doc = ep_doc_parse(path, buf.base, buf.len, errs);
    rs_buf_free(&buf);
    return doc;
}

/* ----------------------------------------------------------------- getters */

int ep_conf_error(ep_conf_ctx_t *c, const ep_node_t *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rs_errors_vadd(c->errs, at != NULL ? at->file : NULL, at != NULL ? at->line : 0, at != NULL ? at->col : 0, fmt, ap);
    va_end(ap);
    return -1;
}

const ep_node_t *ep_node_get(const ep_node_t *map, const char *key)
{
    if (map == NULL || map->type != EP_NODE_MAP)
        return NULL;
    for (size_t i = 0; i < map->count; ++i)
        if (strcmp(map->keys[i]->scalar, key) == 0)
            return map->values[i];
    return NULL;
}

static const char *type_name(ep_node_type_t t)
{
    return t == EP_NODE_MAP ? "a mapping" : t == EP_NODE_SEQ ? "a list" : "a scalar";
}

int ep_conf_expect(ep_conf_ctx_t *c, const ep_node_t *node, ep_node_type_t type, const char *what)
{
    if (node == NULL || node->type == type)
        return 0;
    return ep_conf_error(c, node, "'%s' must be %s", what, type_name(type));
}

int ep_conf_check_map(ep_conf_ctx_t *c, const ep_node_t *node, const char *what, const char *const *allowed)
{
    if (node == NULL)
        return 0;
    if (ep_conf_expect(c, node, EP_NODE_MAP, what) != 0)
        return -1;
    int ret = 0;
    for (size_t i = 0; i < node->count; ++i) {
        const char *k = node->keys[i]->scalar;
        const char *const *a;
        for (a = allowed; *a != NULL; ++a)
            if (strcmp(*a, k) == 0)
                break;
        if (*a == NULL)
            ret = ep_conf_error(c, node->keys[i], "unknown key '%s' in '%s'", k, what);
    }
    return ret;
}

/* Fetches map[key] as a scalar: 1 found, 0 absent, -1 wrong type (reported). */
static int get_scalar(ep_conf_ctx_t *c, const ep_node_t *map, const char *key, const ep_node_t **out)
{
    const ep_node_t *n = ep_node_get(map, key);
    *out = n;
    if (n == NULL)
        return 0;
    if (n->type != EP_NODE_SCALAR)
        return ep_conf_error(c, n, "'%s' must be a scalar", key);
    return 1;
}

int ep_conf_str(ep_conf_ctx_t *c, const ep_node_t *map, const char *key, const char *def, const char **out)
{
    const ep_node_t *n;
    *out = def;
    int r = get_scalar(c, map, key, &n);
    if (r <= 0)
        return r;
    *out = n->scalar;
    return 0;
}

int ep_conf_bool(ep_conf_ctx_t *c, const ep_node_t *map, const char *key, int def, int *out)
{
    const ep_node_t *n;
    *out = def;
    int r = get_scalar(c, map, key, &n);
    if (r <= 0)
        return r;
    static const char *const yes[] = {"true", "yes", "on", NULL}, *const no[] = {"false", "no", "off", NULL};
    if (!n->quoted) {
        for (const char *const *p = yes; *p != NULL; ++p)
            if (strcasecmp(n->scalar, *p) == 0)
                return *out = 1, 0;
        for (const char *const *p = no; *p != NULL; ++p)
            if (strcasecmp(n->scalar, *p) == 0)
                return *out = 0, 0;
    }
    return ep_conf_error(c, n, "'%s' must be a boolean (true or false)", key);
}

static int parse_i64(const char *s, int64_t *v)
{
    if (*s == '\0')
        return -1;
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *v = x;
    return 0;
}

int ep_conf_int(ep_conf_ctx_t *c, const ep_node_t *map, const char *key, int64_t def, int64_t min, int64_t max, int64_t *out)
{
    const ep_node_t *n;
    *out = def;
    int r = get_scalar(c, map, key, &n);
    if (r <= 0)
        return r;
    int64_t v;
    if (n->quoted || parse_i64(n->scalar, &v) != 0)
        return ep_conf_error(c, n, "'%s' must be an integer", key);
    if (v < min || v > max)
        return ep_conf_error(c, n, "'%s' must be between %lld and %lld", key, (long long)min, (long long)max);
    *out = v;
    return 0;
}

int ep_conf_double(ep_conf_ctx_t *c, const ep_node_t *map, const char *key, double def, double min, double max, double *out)
{
    const ep_node_t *n;
    *out = def;
    int r = get_scalar(c, map, key, &n);
    if (r <= 0)
        return r;
    char *end;
    errno = 0;
    double v = strtod(n->scalar, &end);
    if (n->quoted || n->scalar[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(v))
        return ep_conf_error(c, n, "'%s' must be a number", key);
    if (v < min || v > max)
        return ep_conf_error(c, n, "'%s' must be between %g and %g", key, min, max);
    *out = v;
    return 0;
}

/* Parses "<digits><unit>" where unit is looked up in `units` (suffix -> multiplier); "" is the bare unit. */
struct unit {
    const char *suffix;
    uint64_t mult;
};

static int parse_with_unit(const char *s, const struct unit *units, uint64_t *out)
{
    const char *p = s;
    uint64_t v = 0;
    if (*p < '0' || *p > '9')
        return -1;
    while (*p >= '0' && *p <= '9') {
        if (v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*p++ - '0');
    }
    for (const struct unit *u = units; u->suffix != NULL; ++u) {
        if (strcasecmp(p, u->suffix) == 0) {
            if (u->mult != 0 && v > UINT64_MAX / u->mult)
                return -1;
            *out = v * u->mult;
            return 0;
        }
    }
    return -1;
}

static int get_with_unit(ep_conf_ctx_t *c, const ep_node_t *map, const char *key, uint64_t def, uint64_t min, uint64_t max,
                         uint64_t *out, const struct unit *units, const char *what, const char *unit_name)
{
    const ep_node_t *n;
    *out = def;
    int r = get_scalar(c, map, key, &n);
    if (r <= 0)
        return r;
    uint64_t v;
    if (parse_with_unit(n->scalar, units, &v) != 0)
        return ep_conf_error(c, n, "'%s' must be %s", key, what);
    if (v < min || v > max)
        return ep_conf_error(c, n, "'%s' must be between %llu%s and %llu%s", key, (unsigned long long)min, unit_name,
                             (unsigned long long)max, unit_name);
    *out = v;
    return 0;
}

int ep_conf_duration_ms(ep_conf_ctx_t *c, const ep_node_t *map, const char *key, uint64_t def, uint64_t min, uint64_t max,
                        uint64_t *out)
{
    static const struct unit units[] = {{"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {NULL, 0}};
    return get_with_unit(c, map, key, def, min, max, out, units, "a duration (e.g. 250ms, 10s, 5m, 1h)", "ms");
}

int ep_conf_size(ep_conf_ctx_t *c, const ep_node_t *map, const char *key, uint64_t def, uint64_t min, uint64_t max, uint64_t *out)
{
    static const struct unit units[] = {{"", 1}, {"k", 1024}, {"m", 1024 * 1024}, {"g", 1024 * 1024 * 1024}, {NULL, 0}};
    return get_with_unit(c, map, key, def, min, max, out, units, "a size (e.g. 512, 16k, 8m, 1g)", " bytes");
}

int ep_conf_enum(ep_conf_ctx_t *c, const ep_node_t *map, const char *key, const char *const *choices, int def, int *out)
{
    const ep_node_t *n;
    *out = def;
    int r = get_scalar(c, map, key, &n);
    if (r <= 0)
        return r;
    for (int i = 0; choices[i] != NULL; ++i)
        if (strcmp(choices[i], n->scalar) == 0)
            return *out = i, 0;
    char list[256] = "";
    size_t off = 0;
    for (int i = 0; choices[i] != NULL && off < sizeof(list); ++i)
        off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "", choices[i]);
    return ep_conf_error(c, n, "'%s' must be one of: %s", key, list);
}

int ep_conf_path(ep_conf_ctx_t *c, const ep_node_t *map, const char *key, const char *def, char **out)
{
    const char *s;
    *out = NULL;
    if (ep_conf_str(c, map, key, def, &s) != 0)
        return -1;
    if (s == NULL)
        return 0;
    if (*s == '\0')
        return ep_conf_error(c, ep_node_get(map, key), "'%s' must not be empty", key);
    if (s[0] == '/' || c->base_dir == NULL || c->base_dir[0] == '\0') {
        *out = strdup(s);
    } else {
        size_t n = strlen(c->base_dir) + strlen(s) + 2;
        *out = malloc(n);
        if (*out != NULL)
            snprintf(*out, n, "%s/%s", c->base_dir, s);
    }
    if (*out == NULL)
        abort();
    return 0;
}
