/* SPDX-License-Identifier: MIT */
/* Parser state shared by the directive parser (parser.c) and the action parser (actions.c). */
#ifndef RS_LANG_PARSER_H
#define RS_LANG_PARSER_H

#include "lang_internal.h"

enum { LANG_CTX_RULE, LANG_CTX_DEFAULT, LANG_CTX_UPDATE };

typedef struct {
    rs_ruleset_t *rs;
    rs_errors_t *errs;
    const char *file;     /* interned name used in messages */
    const char *base_dir; /* for relative Include and @pmFromFile; "." when unknown */
    size_t nerrors;       /* errors added by this parse */
} parser_t;

void lang_error(parser_t *P, lx_pos_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int lang_parse_actions(parser_t *P, const lx_text_t *t, lang_rule_t *lr, int ctx);
int lang_parse_uint(const lx_text_t *t, uint64_t max, uint64_t *out);
int lang_parse_id_range(const char *s, size_t len, uint32_t *lo, uint32_t *hi);
lang_rule_t *lang_rule_new(parser_t *P, uint8_t kind, lx_pos_t pos);
const char *lang_intern_file(rs_ruleset_t *rs, const char *name);

#endif
