/* SPDX-License-Identifier: MIT */
/* SecRule operators (@rx, @pm, @eq, ...). An operator is compiled once at load (regexes JIT-compiled, phrase
 * lists built into an Aho-Corasick automaton) and then executed by many threads at once, each with its own
 * rs_op_scratch_t. Also home of the literal extraction and multi-literal automaton the prefilter is built from. */
#ifndef RS_OPERATOR_H
#define RS_OPERATOR_H

#include "util/util.h"

typedef enum {
    RS_OP_RX,
    RS_OP_PM,
    RS_OP_PMF, /* @pmFromFile and @pmf */
    RS_OP_DETECT_SQLI,
    RS_OP_DETECT_XSS,
    RS_OP_EQ,
    RS_OP_GE,
    RS_OP_GT,
    RS_OP_LE,
    RS_OP_LT,
    RS_OP_STREQ,
    RS_OP_WITHIN,
    RS_OP_BEGINS_WITH,
    RS_OP_ENDS_WITH,
    RS_OP_CONTAINS,
    RS_OP_CONTAINS_WORD,
    RS_OP_IP_MATCH,
    RS_OP_IP_MATCH_FROM_FILE, /* @ipMatchFromFile and @ipMatchF */
    RS_OP_VALIDATE_BYTE_RANGE,
    RS_OP_VALIDATE_URL_ENCODING,
    RS_OP_VALIDATE_UTF8_ENCODING,
    RS_OP_UNCONDITIONAL_MATCH,
    RS_OP_NO_MATCH,
    RS_OP_STRMATCH,
    RS_OP_GEO_LOOKUP, /* accepted; matches nothing without a GeoIP database */
    RS_OP_RBL,        /* accepted; never matches: edgeproxy makes no DNS lookups on the request path */
    RS_OP__COUNT
} rs_op_kind_t;

typedef struct st_rs_op_t rs_op_t;

/** Per-thread state for executing operators (PCRE2 match data, JIT stack). One per worker thread. */
typedef struct st_rs_op_scratch_t rs_op_scratch_t;
rs_op_scratch_t *rs_op_scratch_new(void);
void rs_op_scratch_free(rs_op_scratch_t *s);

/** Regex work limits (as SecPcreMatchLimit / SecPcreMatchLimitRecursion). 0 = library default. */
typedef struct st_rs_op_limits_t {
    uint32_t match_limit;
    uint32_t depth_limit;
} rs_op_limits_t;

/**
 * Compiles an operator. `name` without the '@' (e.g. "rx"); `param` is the raw parameter text after the
 * operator name with surrounding spaces removed. A param containing "%{" macros is kept raw and compiled at
 * each execution instead (rs_op_has_macro() tells). Relative file names (@pmFromFile, @ipMatchFromFile) are
 * resolved against `base_dir` (the directory of the rule file). On error returns NULL and sets *err to a
 * malloc'ed message (the caller adds file:line:col).
 */
rs_op_t *rs_op_create(rs_str_t name, rs_str_t param, int negated, const char *base_dir, char **err);
void rs_op_free(rs_op_t *op);

rs_op_kind_t rs_op_kind(const rs_op_t *op);
const char *rs_op_name(const rs_op_t *op); /* canonical, without '@', e.g. "rx" */
rs_str_t rs_op_param(const rs_op_t *op);   /* raw parameter */
int rs_op_negated(const rs_op_t *op);
int rs_op_has_macro(const rs_op_t *op);

/** What an execution produced besides match / no match. */
typedef struct st_rs_op_result_t {
    rs_str_t captures[10]; /* @rx groups 0..9 (point into the value) when want_capture; len 0 when unset */
    int ncaptures;
    rs_str_t matched; /* the matching part of the value when the operator knows it (e.g. the @pm phrase) */
    int limit_hit;    /* a PCRE2 match or depth limit was hit: treated as no match, reported by the engine */
} rs_op_result_t;

/**
 * Runs the operator on `value`. `expanded_param` is used only when rs_op_has_macro(op): the parameter after
 * macro expansion. Returns 1 when the rule matches (negation already applied), 0 when not, -1 on an internal
 * error. Allocates nothing in the steady state.
 */
int rs_op_exec(const rs_op_t *op, rs_str_t expanded_param, rs_str_t value, int want_capture, const rs_op_limits_t *limits,
               rs_op_scratch_t *scratch, rs_op_result_t *result);

/* ---- prefilter support ------------------------------------------------------------------------------- */

/**
 * Literal requirements of a non-negated operator, for the one-pass prefilter: the operator can only match a
 * value that contains at least one of the returned literals (as a substring, compared case-insensitively
 * when *nocase is set). Returns the number of literals written into *lits (malloc'ed array of malloc'ed
 * strings, caller frees with rs_op_literals_free), or -1 when no such set exists (e.g. a regex that can
 * match without any fixed text, negated operators, numeric operators).
 */
int rs_op_required_literals(const rs_op_t *op, rs_str_t **lits, int *nocase);
/** rs_op_required_literals plus a second, independent literal set that a match also needs (*n2 = its size, -1
 *  when there is none; free it with rs_op_literals_free). Only regexes have one. */
int rs_op_required_literal_groups(const rs_op_t *op, rs_str_t **lits, int *nocase, rs_str_t **lits2, int *n2);
void rs_op_literals_free(rs_str_t *lits, int n);

/** A multi-literal automaton (Aho-Corasick), used by @pm and by the prefilter. Immutable after build. */
typedef struct st_rs_ac_t rs_ac_t;
/** Builds from patterns; pattern i reports id ids[i]. nocase folds ASCII case. Returns NULL when n == 0. */
rs_ac_t *rs_ac_build(const rs_str_t *patterns, const uint32_t *ids, size_t n, int nocase);
void rs_ac_free(rs_ac_t *ac);
/** Calls on_match(ctx, id, end_offset) for every occurrence; stops early and returns 1 when on_match returns
 *  non-zero, otherwise returns 0. Allocates nothing. */
int rs_ac_scan(const rs_ac_t *ac, const char *s, size_t len, int (*on_match)(void *ctx, uint32_t id, size_t end), void *ctx);
size_t rs_ac_memory(const rs_ac_t *ac);

#endif
