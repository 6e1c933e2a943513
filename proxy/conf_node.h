/* SPDX-License-Identifier: MIT */
/* The YAML config as a tree of nodes that remember where they were written, and typed accessors that
 * report every problem as FILE:LINE:COL: message. The core and every module read their section with these,
 * so all config errors look alike and no module touches libyaml. */
#ifndef EP_CONF_NODE_H
#define EP_CONF_NODE_H

#include <stddef.h>
#include <stdint.h>
#include "util/util.h" /* rs_errors_t: the one error list used everywhere */

typedef enum { EP_NODE_SCALAR, EP_NODE_MAP, EP_NODE_SEQ } ep_node_type_t;

typedef struct st_ep_node_t ep_node_t;
struct st_ep_node_t {
    ep_node_type_t type;
    const char *file; /* owned by the document */
    unsigned line, col;
    char *scalar; /* EP_NODE_SCALAR: value, NUL-terminated */
    size_t scalar_len;
    int quoted; /* scalar was quoted (so "123" is a string even where a number is expected) */
    /* EP_NODE_MAP: keys[i] -> values[i]; EP_NODE_SEQ: values[i] */
    ep_node_t **keys, **values;
    size_t count;
};

typedef struct st_ep_doc_t {
    ep_node_t *root; /* NULL for an empty document */
    char *file;
    void *arena; /* private */
} ep_doc_t;

/** Parses a YAML file (one document; anchors and aliases refused). Returns NULL with errors added. */
ep_doc_t *ep_doc_load(const char *path, rs_errors_t *errs);
ep_doc_t *ep_doc_parse(const char *name, const char *text, size_t len, rs_errors_t *errs);
void ep_doc_free(ep_doc_t *doc);

/** Context for reading one config: the error list and the config file's directory (for relative paths). */
typedef struct st_ep_conf_ctx_t {
    rs_errors_t *errs;
    const char *base_dir;
} ep_conf_ctx_t;

/** Adds an error at the node's position. Returns -1 so callers can `return ep_conf_error(...)`. */
int ep_conf_error(ep_conf_ctx_t *c, const ep_node_t *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/** Map lookup; NULL when absent (or when map is NULL). */
const ep_node_t *ep_node_get(const ep_node_t *map, const char *key);
/** Checks that `node` is a map whose keys are all in the NULL-terminated `allowed` list; reports each unknown
 *  key ("unknown key 'x' in 'section'"). Returns 0 or -1. */
int ep_conf_check_map(ep_conf_ctx_t *c, const ep_node_t *node, const char *what, const char *const *allowed);
/** Requires a given node type; reports "'key' must be a mapping/list/scalar". */
int ep_conf_expect(ep_conf_ctx_t *c, const ep_node_t *node, ep_node_type_t type, const char *what);

/* Typed getters: read map[key]; when absent, store the default and return 0; on a wrong type or a value out
 * of [min, max] report at the value's position and return -1 (the output then holds the default). */
int ep_conf_str(ep_conf_ctx_t *c, const ep_node_t *map, const char *key, const char *def, const char **out);
int ep_conf_bool(ep_conf_ctx_t *c, const ep_node_t *map, const char *key, int def, int *out);
int ep_conf_int(ep_conf_ctx_t *c, const ep_node_t *map, const char *key, int64_t def, int64_t min, int64_t max, int64_t *out);
int ep_conf_double(ep_conf_ctx_t *c, const ep_node_t *map, const char *key, double def, double min, double max, double *out);
/** Durations: "250ms", "10s", "5m", "1h" (a bare number is seconds). Output in milliseconds. */
int ep_conf_duration_ms(ep_conf_ctx_t *c, const ep_node_t *map, const char *key, uint64_t def, uint64_t min, uint64_t max,
                        uint64_t *out);
/** Sizes: "512", "16k", "8m", "1g" (powers of 1024). Output in bytes. */
int ep_conf_size(ep_conf_ctx_t *c, const ep_node_t *map, const char *key, uint64_t def, uint64_t min, uint64_t max, uint64_t *out);
/** One of the NULL-terminated `choices` (exact); stores its index. */
int ep_conf_enum(ep_conf_ctx_t *c, const ep_node_t *map, const char *key, const char *const *choices, int def, int *out);
/** A path resolved against c->base_dir when relative; malloc'ed into *out (NULL when absent and def NULL). */
int ep_conf_path(ep_conf_ctx_t *c, const ep_node_t *map, const char *key, const char *def, char **out);

#endif
