/* SPDX-License-Identifier: MIT */
/* Tenants: the tenant map (a file listing each tenant and where it runs), host patterns (wildcard suffixes
 * whose one label is the tenant id, and preview patterns with a {n} capture) and the lookups the tenant
 * module and the canary module share. The map is immutable once built and lives in a generation.
 *
 * Map file: a YAML subset, one tenant per line, so 100,000 tenants load fast and errors point exactly:
 *     # comment
 *     globex: multi                       # shared pool (the config's default shared upstream)
 *     initech: {placement: multi, upstream: multi-stable}
 *     acme: {placement: single, upstream: acme-single, pinned: stable, ruleset: strict, detection_only: true}
 *     umbrella: {placement: single, upstream: umbrella-single, service: umbrella-app}   # its own canary
 * Keys: placement (multi|single), upstream, pinned (stable|none), service, ruleset, detection_only (bool). */
#ifndef EP_TENANT_H
#define EP_TENANT_H

#include <stddef.h>
#include <stdint.h>
#include "util/util.h"

#define EP_TENANT_ID_MAX 63
#define EP_TENANT_MAGIC  0x54454e41u /* "TENA": guards ep_tenant_from_id() */

typedef enum { EP_PLACEMENT_MULTI = 0, EP_PLACEMENT_SINGLE = 1 } ep_placement_t;

typedef struct st_ep_tenant_t {
    uint32_t magic;
    uint8_t placement;      /* ep_placement_t */
    uint8_t pinned_stable;  /* never sent to a canary */
    uint8_t detection_only; /* WAF rule set in DetectionOnly for this tenant */
    uint8_t id_len;
    const char *upstream; /* upstream name; NULL: the shared default for multi */
    const char *service;  /* its own canary service; NULL: services match by host and path */
    const char *ruleset;  /* WAF rule set name; NULL: default */
    uint32_t line;        /* where it was defined in the map file */
    uint16_t ruleset_col; /* column of the ruleset value on that line (for errors), 0 when none; saturates */
    char id[];            /* lowercase, NUL-terminated: ep_req_t.tenant_id points here */
} ep_tenant_t;

typedef struct st_ep_tenant_map_t ep_tenant_map_t;

/** Parses a map (text need not be NUL-terminated). name is used in FILE:LINE:COL errors. Returns NULL when
 *  there is any error (all are reported, up to a bound). */
ep_tenant_map_t *ep_tenant_map_parse(const char *name, const char *text, size_t len, rs_errors_t *errs);
ep_tenant_map_t *ep_tenant_map_load(const char *path, rs_errors_t *errs);
void ep_tenant_map_free(ep_tenant_map_t *map);

/** Constant-time (hash) lookup, ASCII case-insensitive. NULL when unknown. */
const ep_tenant_t *ep_tenant_map_find(const ep_tenant_map_t *map, const char *id, size_t len);
size_t ep_tenant_map_count(const ep_tenant_map_t *map);
/** Bytes the map holds (records, strings, table). */
size_t ep_tenant_map_memory(const ep_tenant_map_t *map);
/** Iterates in file order: i in [0, count). */
const ep_tenant_t *ep_tenant_map_at(const ep_tenant_map_t *map, size_t i);

/** The record whose id the pointer is (ep_req_t.tenant_id as set by the tenant module), or NULL when the
 *  pointer does not come from a map. Lets the canary module read pinned/service without another lookup. */
const ep_tenant_t *ep_tenant_from_id(const char *tenant_id);

const char *ep_placement_str(ep_placement_t p);

/** A valid tenant id: 1..63 of [A-Za-z0-9_-] (host labels and path segments stay unambiguous). */
int ep_tenant_id_valid(const char *s, size_t len);

/* ---- host patterns ------------------------------------------------------------------------------------ */

/** A wildcard suffix "*.app.example.com": the host's single label left of the suffix is the tenant id.
 *  Returns the label's length and sets *label (into host), or 0 when the host does not match. Case-insensitive;
 *  a ":port" on the host is ignored. */
size_t ep_host_wildcard_match(const char *pattern_suffix, const char *host, size_t host_len, const char **label);

/** A pattern with one capture, e.g. "pr-{n}.preview.example.com" (the capture matches 1..63 characters of
 *  [A-Za-z0-9-], never a dot). Returns the capture length (and *cap) or 0. */
size_t ep_host_capture_match(const char *pattern, const char *host, size_t host_len, const char **cap);

/** Replaces every "{n}" in template with the capture into out; -1 when it does not fit. */
int ep_template_expand(const char *tmpl, const char *cap, size_t cap_len, char *out, size_t out_size);

#endif
