/* SPDX-License-Identifier: MIT */
/* Internals shared by the files of rules/operator/ (and by its unit tests): the IP address set behind
 * @ipMatch, the compiled operator layout, and the regex syntax tree used for literal extraction. */
#ifndef RS_OP_INTERNAL_H
#define RS_OP_INTERNAL_H

#include "operator/operator.h"

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

/* ---- IP sets (@ipMatch, @ipMatchFromFile) ---- */
typedef struct st_rs_ipset_t rs_ipset_t;
rs_ipset_t *rs_ipset_new(void);
void rs_ipset_free(rs_ipset_t *set);
/** Adds a comma separated list of addresses / CIDR blocks (spaces around entries ignored). 0 or -1 + *err. */
int rs_ipset_add_list(rs_ipset_t *set, const char *list, size_t len, char **err);
/** 1 when `addr` (textual IPv4 or IPv6 address) lies in the set, 0 otherwise (also for unparsable text). */
int rs_ipset_contains(const rs_ipset_t *set, const char *addr, size_t len);

/* ---- Aho-Corasick ---- */
/** rs_ac_build with an explicit cap on dense transition entries (states past it use sparse edges). */
rs_ac_t *rs_ac_build_budget(const rs_str_t *patterns, const uint32_t *ids, size_t n, int nocase, size_t dense_budget);

/* ---- compiled operator ---- */
struct st_rs_op_t {
    rs_op_kind_t kind;
    const char *name;
    char *param; /* raw, NUL-terminated */
    size_t param_len;
    int negated;
    int has_macro;
    pcre2_code *re; /* @rx without macros */
    rs_ac_t *ac;    /* @pm, @pmFromFile */
    char **phrases; /* @pm phrases, indexed by automaton id */
    size_t *phrase_lens;
    size_t nphrases;
    long long number;       /* numeric operators without macros: param as v3 parses it */
    uint8_t byte_table[32]; /* @validateByteRange: allowed bytes */
    rs_ipset_t *ips;
};

/* ---- regex syntax tree for literal extraction ---- */
typedef enum {
    RS_RX_SET,    /* one byte out of a set (literal chars, classes, dot) */
    RS_RX_CAT,    /* children in sequence */
    RS_RX_ALT,    /* one of the children */
    RS_RX_REPEAT, /* child repeated min..max times (max = RS_RX_INF for unbounded) */
    RS_RX_EMPTY,  /* zero width: anchors, \b, lookarounds (their content never consumed), empty branch */
    RS_RX_ANY,    /* unknown content of unknown length (backreferences, recursion) */
} rs_rx_kind_t;

#define RS_RX_INF 0xffffffffu

typedef struct st_rs_rx_node_t rs_rx_node_t;
struct st_rs_rx_node_t {
    rs_rx_kind_t kind;
    uint8_t set[32]; /* RS_RX_SET: the bytes (case variants already added in caseless mode) */
    int caseless;    /* RS_RX_SET: built under (?i) */
    uint32_t min, max;
    rs_rx_node_t **kids;
    size_t nkids, capkids;
};

/** Parses PCRE syntax into a tree. Returns NULL (and sets *why when not NULL) on anything not understood. */
rs_rx_node_t *rs_rx_parse(const char *re, size_t len, int caseless, const char **why);
void rs_rx_free(rs_rx_node_t *n);
/** Literal set of a regex: the rs_op_required_literals contract for one pattern. */
int rs_rx_required_literals(const char *re, size_t len, rs_str_t **lits, int *nocase);
/** The same, plus (when lits2 is not NULL) a second literal set every match also contains, independent of the
 *  first: *n2 is its size, or -1 when the regex has none. */
int rs_rx_required_literal_groups(const char *re, size_t len, rs_str_t **lits, int *nocase, rs_str_t **lits2, int *n2);

static inline int rs_rx_set_has(const uint8_t set[32], unsigned c)
{
    return (set[c >> 3] >> (c & 7)) & 1;
}

#endif
