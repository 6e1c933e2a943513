/* SPDX-License-Identifier: MIT */
/* A small strict JSON reader (RFC 8259) for the few documents the tenant and canary modules read: JWT headers
 * and claims, JWKS files, admin API request bodies and the persisted canary state. The whole document is
 * parsed into one arena; values are read-only views into it. Depth and size are bounded by the caller. */
#ifndef EP_JWT_JSON_H
#define EP_JWT_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef enum { EP_JSON_NULL, EP_JSON_BOOL, EP_JSON_NUMBER, EP_JSON_STRING, EP_JSON_ARRAY, EP_JSON_OBJECT } ep_json_type_t;

typedef struct st_ep_json_t ep_json_t;
struct st_ep_json_t {
    ep_json_type_t type;
    int boolean;
    double number;
    const char *str; /* EP_JSON_STRING: decoded UTF-8, NUL-terminated (may contain NUL: use len) */
    size_t len;
    /* EP_JSON_OBJECT: keys[i] -> items[i]; EP_JSON_ARRAY: items[i] */
    const char **keys;
    ep_json_t **items;
    size_t count;
};

typedef struct st_ep_json_doc_t ep_json_doc_t;

/** Parses `len` bytes. Returns NULL with a message ("offset N: ...") in err on failure. max_depth bounds
 *  nesting (arrays + objects). */
ep_json_doc_t *ep_json_parse(const char *text, size_t len, unsigned max_depth, char *err, size_t err_size);
const ep_json_t *ep_json_root(const ep_json_doc_t *doc);
void ep_json_free(ep_json_doc_t *doc);

/** Object member by key (the last one when a key repeats); NULL when absent or obj is not an object. */
const ep_json_t *ep_json_get(const ep_json_t *obj, const char *key);
/** The string value of obj[key], or NULL when absent or not a string. */
const char *ep_json_get_str(const ep_json_t *obj, const char *key);

/** Appends s as a JSON string literal (with quotes) to a growable buffer. */
struct st_rs_buf_t;
void ep_json_quote(struct st_rs_buf_t *out, const char *s, size_t len);

#endif
