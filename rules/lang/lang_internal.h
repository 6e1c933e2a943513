/* SPDX-License-Identifier: MIT */
/* Private pieces shared by the SecRule parser files: the logical-line lexer, the parser state and the
 * helpers that build and free rules. Nothing here is visible outside rules/lang. */
#ifndef RS_LANG_INTERNAL_H
#define RS_LANG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "ir.h"

void *lang_xrealloc(void *p, size_t n);
void *lang_xcalloc(size_t n, size_t size);
/* Appends one element to a growable array (*arr, *count) and returns a pointer to the zeroed slot. */
#define LANG_PUSH(arr, count)                                                                                                      \
    ((arr) = lang_xrealloc((arr), ((count) + 1) * sizeof(*(arr))), memset(&(arr)[(count)], 0, sizeof(*(arr))), &(arr)[(count)++])

/* ---- lexer ------------------------------------------------------------------------------------------- */

/* A piece of text with the source position of every byte (pos[len] is the position just after it). */
typedef struct {
    unsigned line, col;
} lx_pos_t;

typedef struct {
    char *s; /* NUL-terminated */
    size_t len;
    lx_pos_t *pos; /* len + 1 entries */
} lx_text_t;

/* One directive: its name and arguments, quotes removed. */
typedef struct {
    lx_text_t name;
    lx_text_t *args;
    size_t nargs;
    int quoted_last; /* the last argument was quoted */
} lx_directive_t;

typedef struct {
    const char *src;
    size_t len, off;
    unsigned line, col;
    lx_text_t logical; /* current logical line (continuations joined) */
    size_t logical_cap;
} lx_reader_t;

void lx_reader_init(lx_reader_t *rd, const char *src, size_t len);
void lx_reader_free(lx_reader_t *rd);
/* Reads the next non-empty, non-comment logical line. Returns 0 at end of input. */
int lx_next_line(lx_reader_t *rd);
/* Splits the current logical line into a directive. On a lexical error returns -1 with *err_msg (static
 * string) and *err_pos set; the directive is then unusable. */
int lx_split(const lx_text_t *line, lx_directive_t *d, const char **err_msg, lx_pos_t *err_pos);
void lx_directive_free(lx_directive_t *d);
/* Position of byte `off` of a text (the end position when off >= len). */
lx_pos_t lx_pos(const lx_text_t *t, size_t off);
/* A sub-text sharing positions with the original (caller must not free). */
lx_text_t lx_sub(const lx_text_t *t, size_t off, size_t len);

/* ---- rules ------------------------------------------------------------------------------------------- */

/* The parser's view of a rule: the public rule plus what is needed until rs_ruleset_finish. Rules are
 * always allocated as lang_rule_t, so freeing the rs_rule_t frees the whole. */
typedef struct {
    rs_rule_t r;
    unsigned had_tnone : 1;        /* the rule's own t: list contained t:none: no default transformations */
    unsigned has_chain : 1;        /* chain action */
    unsigned has_phase : 1;        /* phase action given */
    unsigned defaults_applied : 1; /* SecDefaultAction merged */
    unsigned has_block_or_disrupt : 1;
} lang_rule_t;

void lang_rule_free(rs_rule_t *r); /* frees the rule and the rest of its chain */
void lang_target_free(rs_target_t *t);
void lang_ctl_free(rs_ctl_t *c);

/* Pending SecRuleRemove* / SecRuleUpdate* directives and the bookkeeping of a ruleset being parsed. */
typedef struct {
    uint32_t lo, hi;
} lang_id_range_t;

typedef struct {
    int by_tag; /* 0: by id range, 1: by tag */
    lang_id_range_t ids;
    char *tag;
    rs_target_t *targets;
    size_t ntargets;
    const char *file;
    unsigned line, col;
} lang_update_target_t;

typedef struct {
    uint32_t id;
    lang_rule_t *actions; /* the actions to merge, parsed as a rule */
    const char *file;
    unsigned line, col;
} lang_update_action_t;

typedef struct {
    lang_id_range_t *remove_ids;
    size_t nremove_ids;
    char **remove_tags;
    size_t nremove_tags;
    char **remove_msgs;
    size_t nremove_msgs;
    lang_update_target_t *update_targets;
    size_t nupdate_targets;
    lang_update_action_t *update_actions;
    size_t nupdate_actions;

    /* ids of all top-level rules seen, for duplicate detection: open addressing, 0 = empty */
    rs_rule_t **id_slots;
    size_t id_cap, id_count;

    rs_rule_t *chain_tail; /* last rule of a chain still waiting for its next member, or NULL */
    int chain_broken;      /* a chain whose start had errors: its members are parsed but dropped */
    int include_depth;
} lang_pending_t;

lang_pending_t *lang_pending(rs_ruleset_t *rs);
rs_rule_t *lang_id_find(lang_pending_t *p, uint32_t id);
void lang_id_insert(lang_pending_t *p, rs_rule_t *r);

/* Parses one target (no '|') such as "!ARGS:foo", "&TX:x", "REQUEST_COOKIES:/^s/". The error message
 * (malloc'ed) names the offending token; *err_off is its offset in the text. */
int lang_parse_target(const lx_text_t *t, rs_target_t *out, char **err, size_t *err_off);
/* Parses a '|' separated list. Errors are reported one by one through the callback. */
typedef void (*lang_error_fn)(void *ctx, lx_pos_t pos, const char *msg);
int lang_parse_targets(const lx_text_t *t, rs_target_t **out, size_t *nout, lang_error_fn on_error, void *ctx);

#endif
