/* SPDX-License-Identifier: MIT */
/* The SecRule language parser: reads files (following Include / IncludeOptional), dispatches directives,
 * builds rules (targets, operator, actions), links chains and records SecRuleRemove* / SecRuleUpdate*
 * for rs_ruleset_finish. Errors are collected as FILE:LINE:COL and parsing goes on after each one. */
#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "lang_parser.h"

#define MAX_INCLUDE_DEPTH 32

void lang_error(parser_t *P, lx_pos_t pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rs_errors_vadd(P->errs, P->file, pos.line, pos.col, fmt, ap);
    va_end(ap);
    P->nerrors++;
}

const char *lang_intern_file(rs_ruleset_t *rs, const char *name)
{
    for (size_t i = 0; i < rs->nfiles; i++) {
        if (strcmp(rs->files[i], name) == 0)
            return rs->files[i];
    }
    char *copy = rs_strndup(name, strlen(name));
    *LANG_PUSH(rs->files, rs->nfiles) = copy;
    return copy;
}

lang_pending_t *lang_pending(rs_ruleset_t *rs)
{
    if (rs->pending == NULL)
        rs->pending = lang_xcalloc(1, sizeof(lang_pending_t));
    return rs->pending;
}

rs_rule_t *lang_id_find(lang_pending_t *p, uint32_t id)
{
    if (p->id_cap == 0)
        return NULL;
    for (size_t i = (id * 2654435761u) & (p->id_cap - 1);; i = (i + 1) & (p->id_cap - 1)) {
        if (p->id_slots[i] == NULL)
            return NULL;
        if (p->id_slots[i]->id == id)
            return p->id_slots[i];
    }
}

void lang_id_insert(lang_pending_t *p, rs_rule_t *r)
{
    if ((p->id_count + 1) * 2 > p->id_cap) {
        size_t old_cap = p->id_cap;
        rs_rule_t **old = p->id_slots;
        p->id_cap = old_cap ? old_cap * 2 : 1024;
        p->id_slots = lang_xcalloc(p->id_cap, sizeof(*p->id_slots));
        p->id_count = 0;
        for (size_t i = 0; i < old_cap; i++) {
            if (old[i] != NULL)
                lang_id_insert(p, old[i]);
        }
        free(old);
    }
    size_t i = (r->id * 2654435761u) & (p->id_cap - 1);
    while (p->id_slots[i] != NULL)
        i = (i + 1) & (p->id_cap - 1);
    p->id_slots[i] = r;
    p->id_count++;
}

lang_rule_t *lang_rule_new(parser_t *P, uint8_t kind, lx_pos_t pos)
{
    lang_rule_t *lr = lang_xcalloc(1, sizeof(*lr));
    lr->r.kind = kind;
    /* ModSecurity v3 puts rules without a phase action in phase 1 (request headers), unlike v2's 2 */
    lr->r.phase = 1;
    lr->r.file = P->file;
    lr->r.line = pos.line;
    lr->r.col = pos.col;
    lr->r.severity = RS_SEVERITY_UNSET;
    return lr;
}

/* ---- operators -------------------------------------------------------------------------------------- */

static const char *const supported_operators[] = {"rx",
                                                  "pm",
                                                  "pmf",
                                                  "pmFromFile",
                                                  "detectSQLi",
                                                  "detectXSS",
                                                  "eq",
                                                  "ge",
                                                  "gt",
                                                  "le",
                                                  "lt",
                                                  "streq",
                                                  "within",
                                                  "beginsWith",
                                                  "endsWith",
                                                  "contains",
                                                  "containsWord",
                                                  "ipMatch",
                                                  "ipMatchF",
                                                  "ipMatchFromFile",
                                                  "validateByteRange",
                                                  "validateUrlEncoding",
                                                  "validateUtf8Encoding",
                                                  "unconditionalMatch",
                                                  "noMatch",
                                                  "strmatch",
                                                  "geoLookup",
                                                  "rbl",
                                                  NULL};

/* Known to ModSecurity, refused here (card-number checks, external scanners, XML schemas, ...). */
static const char *const unsupported_operators[] = {
    "verifyCC",       "verifyCPF", "verifySSN",    "verifySVNR", "inspectFile", "fuzzyHash", "validateDTD",
    "validateSchema", "gsbLookup", "validateHash", "rsub",       "rxGlobal",    NULL};

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int parse_operator(parser_t *P, const lx_text_t *t, rs_rule_t *r)
{
    const char *s = t->s;
    size_t n = t->len, i = 0;
    while (i < n && is_ws(s[i]))
        i++;
    int negated = 0;
    if (i < n && s[i] == '!') {
        negated = 1;
        i++;
        while (i < n && is_ws(s[i]))
            i++;
    }
    rs_str_t name = RS_STR("rx");
    size_t name_off = i;
    if (i < n && s[i] == '@') {
        size_t ns = ++i;
        while (i < n && !is_ws(s[i]))
            i++;
        rs_str_t written = rs_str(s + ns, i - ns);
        name.base = NULL;
        for (size_t k = 0; supported_operators[k] != NULL; k++) {
            if (rs_str_ieq(written, supported_operators[k]))
                name = rs_str(supported_operators[k], strlen(supported_operators[k]));
        }
        if (name.base == NULL) {
            for (size_t k = 0; unsupported_operators[k] != NULL; k++) {
                if (rs_str_ieq(written, unsupported_operators[k])) {
                    lang_error(P, lx_pos(t, name_off), "unsupported operator '@%.*s'", (int)written.len, written.base);
                    return -1;
                }
            }
            lang_error(P, lx_pos(t, name_off), "unknown operator '@%.*s'", (int)written.len, written.base);
            return -1;
        }
        while (i < n && is_ws(s[i]))
            i++;
    }
    size_t pe = n;
    while (pe > i && is_ws(s[pe - 1]))
        pe--;
    char *err = NULL;
    r->op = rs_op_create(name, rs_str(s + i, pe - i), negated, P->base_dir, &err);
    if (r->op == NULL) {
        lang_error(P, lx_pos(t, name_off), "operator '@%.*s': %s", (int)name.len, name.base, err ? err : "invalid");
        free(err);
        return -1;
    }
    return 0;
}

/* ---- rules ------------------------------------------------------------------------------------------ */

static void target_error(void *ctx, lx_pos_t pos, const char *msg)
{
    lang_error(ctx, pos, "%s", msg);
}

/* Adds a parsed SecRule / SecAction to the ruleset (or to the chain being built), or drops it when it had
 * errors. `errors_before` tells whether this rule produced any. */
static void add_rule(parser_t *P, lang_rule_t *lr, size_t errors_before)
{
    lang_pending_t *p = lang_pending(P->rs);
    rs_rule_t *r = &lr->r;
    lx_pos_t pos = {r->line, r->col};
    if (p->chain_tail != NULL || p->chain_broken) {
        if (r->disruptive != RS_DISRUPT_NONE && r->disruptive != RS_DISRUPT_BLOCK)
            lang_error(P, pos, "disruptive actions are only allowed in the first rule of a chain");
        /* v3 runs a member's `block` through the chain start's disruptive action: nothing to keep */
        r->disruptive = RS_DISRUPT_NONE;
        r->id = 0;
        r->is_chain_member = 1;
        if (P->nerrors != errors_before || p->chain_broken) {
            p->chain_tail = NULL;
            p->chain_broken = lr->has_chain;
            lang_rule_free(r);
            return;
        }
        r->phase = p->chain_tail->phase;
        p->chain_tail->chain = r;
        p->chain_tail = lr->has_chain ? r : NULL;
        return;
    }
    if (r->id == 0) {
        lang_error(P, pos, "rule has no id");
    } else {
        rs_rule_t *first = lang_id_find(p, r->id);
        if (first != NULL)
            lang_error(P, pos, "duplicate rule id %u (first at %s:%u)", r->id, first->file, first->line);
    }
    if (P->nerrors != errors_before) {
        p->chain_broken = lr->has_chain;
        lang_rule_free(r);
        return;
    }
    rs_ruleset_t *rs = P->rs;
    if (rs->nrules == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 256;
        rs->rules = lang_xrealloc(rs->rules, rs->cap * sizeof(*rs->rules));
    }
    rs->rules[rs->nrules++] = r;
    lang_id_insert(p, r);
    p->chain_tail = lr->has_chain ? r : NULL;
}

static int expect_args(parser_t *P, const lx_directive_t *d, size_t min, size_t max)
{
    if (d->nargs >= min && d->nargs <= max)
        return 0;
    lx_pos_t pos = lx_pos(&d->name, 0);
    if (min == max)
        lang_error(P, pos, "%s takes %zu argument%s, got %zu", d->name.s, min, min == 1 ? "" : "s", d->nargs);
    else
        lang_error(P, pos, "%s takes %zu to %zu arguments, got %zu", d->name.s, min, max, d->nargs);
    return -1;
}

static void dir_secrule(parser_t *P, lx_directive_t *d)
{
    if (expect_args(P, d, 2, 3) != 0)
        return;
    size_t before = P->nerrors;
    lang_rule_t *lr = lang_rule_new(P, RS_RULE_SECRULE, lx_pos(&d->name, 0));
    lang_parse_targets(&d->args[0], &lr->r.targets, &lr->r.ntargets, target_error, P);
    parse_operator(P, &d->args[1], &lr->r);
    if (d->nargs == 3)
        lang_parse_actions(P, &d->args[2], lr, LANG_CTX_RULE);
    add_rule(P, lr, before);
}

static void dir_secaction(parser_t *P, lx_directive_t *d)
{
    if (expect_args(P, d, 1, 1) != 0)
        return;
    size_t before = P->nerrors;
    lang_rule_t *lr = lang_rule_new(P, RS_RULE_SECACTION, lx_pos(&d->name, 0));
    lang_parse_actions(P, &d->args[0], lr, LANG_CTX_RULE);
    add_rule(P, lr, before);
}

static void dir_secmarker(parser_t *P, lx_directive_t *d)
{
    if (expect_args(P, d, 1, 1) != 0)
        return;
    if (d->args[0].len == 0) {
        lang_error(P, lx_pos(&d->args[0], 0), "SecMarker needs a name");
        return;
    }
    lang_rule_t *lr = lang_rule_new(P, RS_RULE_MARKER, lx_pos(&d->name, 0));
    /* a marker belongs to every phase (v3 inserts it into each): phase 0 says so */
    lr->r.phase = 0;
    lr->r.marker = rs_strndup(d->args[0].s, d->args[0].len);
    rs_ruleset_t *rs = P->rs;
    if (rs->nrules == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 256;
        rs->rules = lang_xrealloc(rs->rules, rs->cap * sizeof(*rs->rules));
    }
    rs->rules[rs->nrules++] = &lr->r;
}

static void dir_default_action(parser_t *P, lx_directive_t *d)
{
    if (expect_args(P, d, 1, 1) != 0)
        return;
    size_t before = P->nerrors;
    lx_pos_t pos = lx_pos(&d->name, 0);
    lang_rule_t *lr = lang_rule_new(P, RS_RULE_SECACTION, pos);
    lang_parse_actions(P, &d->args[0], lr, LANG_CTX_DEFAULT);
    if (P->nerrors == before) {
        /* as v3: `block` refers to the default action, so it cannot be one */
        if (lr->r.disruptive == RS_DISRUPT_NONE || lr->r.disruptive == RS_DISRUPT_BLOCK)
            lang_error(P, pos, "SecDefaultAction must specify a disruptive action (pass, deny, drop, allow, redirect)");
        else if (P->rs->default_actions[lr->r.phase] != NULL)
            lang_error(P, pos, "SecDefaultAction for phase %u already given at %s:%u", lr->r.phase,
                       P->rs->default_actions[lr->r.phase]->file, P->rs->default_actions[lr->r.phase]->line);
    }
    if (P->nerrors != before) {
        lang_rule_free(&lr->r);
        return;
    }
    P->rs->default_actions[lr->r.phase] = &lr->r;
}

static int parse_on_off(parser_t *P, lx_directive_t *d, uint8_t *out)
{
    if (expect_args(P, d, 1, 1) != 0)
        return -1;
    rs_str_t v = rs_str(d->args[0].s, d->args[0].len);
    if (rs_str_ieq(v, "On"))
        *out = 1;
    else if (rs_str_ieq(v, "Off"))
        *out = 0;
    else {
        lang_error(P, lx_pos(&d->args[0], 0), "%s: expected On or Off, got '%s'", d->name.s, d->args[0].s);
        return -1;
    }
    return 0;
}

static void dir_rule_engine(parser_t *P, lx_directive_t *d)
{
    if (expect_args(P, d, 1, 1) != 0)
        return;
    rs_str_t v = rs_str(d->args[0].s, d->args[0].len);
    if (rs_str_ieq(v, "On"))
        P->rs->engine_mode = RS_ENGINE_ON;
    else if (rs_str_ieq(v, "Off"))
        P->rs->engine_mode = RS_ENGINE_OFF;
    else if (rs_str_ieq(v, "DetectionOnly"))
        P->rs->engine_mode = RS_ENGINE_DETECTION_ONLY;
    else
        lang_error(P, lx_pos(&d->args[0], 0), "SecRuleEngine: expected On, Off or DetectionOnly, got '%s'", d->args[0].s);
}

static void dir_request_body_access(parser_t *P, lx_directive_t *d)
{
    parse_on_off(P, d, &P->rs->request_body_access);
}

static void dir_response_body_access(parser_t *P, lx_directive_t *d)
{
    parse_on_off(P, d, &P->rs->response_body_access);
}

static int parse_number(parser_t *P, lx_directive_t *d, uint64_t max, uint64_t *out)
{
    if (expect_args(P, d, 1, 1) != 0)
        return -1;
    if (lang_parse_uint(&d->args[0], max, out) != 0) {
        lang_error(P, lx_pos(&d->args[0], 0), "%s: invalid number '%s'", d->name.s, d->args[0].s);
        return -1;
    }
    return 0;
}

#define NUMBER_DIRECTIVE(fn, field, max)                                                                                           \
    static void fn(parser_t *P, lx_directive_t *d)                                                                                 \
    {                                                                                                                              \
        uint64_t v;                                                                                                                \
        if (parse_number(P, d, (max), &v) == 0)                                                                                    \
            P->rs->field = v;                                                                                                      \
    }
NUMBER_DIRECTIVE(dir_body_limit, request_body_limit, UINT64_MAX / 2)
NUMBER_DIRECTIVE(dir_body_no_files_limit, request_body_no_files_limit, UINT64_MAX / 2)
NUMBER_DIRECTIVE(dir_json_depth_limit, request_body_json_depth_limit, UINT64_MAX / 2)
NUMBER_DIRECTIVE(dir_pcre_match_limit, pcre_match_limit, UINT32_MAX)
NUMBER_DIRECTIVE(dir_pcre_match_limit_recursion, pcre_match_limit_recursion, UINT32_MAX)
NUMBER_DIRECTIVE(dir_collection_timeout, collection_timeout, UINT32_MAX)
NUMBER_DIRECTIVE(dir_arguments_limit, arguments_limit, UINT32_MAX)

static void dir_body_limit_action(parser_t *P, lx_directive_t *d)
{
    if (expect_args(P, d, 1, 1) != 0)
        return;
    rs_str_t v = rs_str(d->args[0].s, d->args[0].len);
    if (rs_str_ieq(v, "Reject"))
        P->rs->body_limit_action = RS_BODY_LIMIT_REJECT;
    else if (rs_str_ieq(v, "ProcessPartial"))
        P->rs->body_limit_action = RS_BODY_LIMIT_PROCESS_PARTIAL;
    else
        lang_error(P, lx_pos(&d->args[0], 0), "%s: expected Reject or ProcessPartial, got '%s'", d->name.s, d->args[0].s);
}

static void dir_argument_separator(parser_t *P, lx_directive_t *d)
{
    if (expect_args(P, d, 1, 1) != 0)
        return;
    if (d->args[0].len != 1) {
        lang_error(P, lx_pos(&d->args[0], 0), "SecArgumentSeparator: expected one character, got '%s'", d->args[0].s);
        return;
    }
    P->rs->argument_separator = d->args[0].s[0];
}

static void dir_component_signature(parser_t *P, lx_directive_t *d)
{
    if (expect_args(P, d, 1, 1) != 0)
        return;
    free(P->rs->component_signature);
    P->rs->component_signature = rs_strndup(d->args[0].s, d->args[0].len);
}

/* Splits every argument on spaces too: `SecRuleRemoveById 1 2-5 "7 8"`. */
static void dir_remove_by_id(parser_t *P, lx_directive_t *d)
{
    if (expect_args(P, d, 1, SIZE_MAX) != 0)
        return;
    lang_pending_t *p = lang_pending(P->rs);
    for (size_t a = 0; a < d->nargs; a++) {
        const lx_text_t *t = &d->args[a];
        size_t i = 0;
        while (i < t->len) {
            while (i < t->len && is_ws(t->s[i]))
                i++;
            size_t st = i;
            while (i < t->len && !is_ws(t->s[i]))
                i++;
            if (i == st)
                break;
            lang_id_range_t rg;
            if (lang_parse_id_range(t->s + st, i - st, &rg.lo, &rg.hi) != 0) {
                lang_error(P, lx_pos(t, st), "%s: invalid rule id or range '%.*s'", d->name.s, (int)(i - st), t->s + st);
                continue;
            }
            *LANG_PUSH(p->remove_ids, p->nremove_ids) = rg;
        }
    }
}

static void dir_remove_by_tag(parser_t *P, lx_directive_t *d)
{
    if (expect_args(P, d, 1, 1) != 0)
        return;
    lang_pending_t *p = lang_pending(P->rs);
    *LANG_PUSH(p->remove_tags, p->nremove_tags) = rs_strndup(d->args[0].s, d->args[0].len);
}

static void dir_remove_by_msg(parser_t *P, lx_directive_t *d)
{
    if (expect_args(P, d, 1, 1) != 0)
        return;
    lang_pending_t *p = lang_pending(P->rs);
    *LANG_PUSH(p->remove_msgs, p->nremove_msgs) = rs_strndup(d->args[0].s, d->args[0].len);
}

static void update_target(parser_t *P, lx_directive_t *d, int by_tag)
{
    if (expect_args(P, d, 2, 2) != 0)
        return;
    lang_update_target_t u;
    memset(&u, 0, sizeof(u));
    u.by_tag = by_tag;
    if (by_tag) {
        u.tag = rs_strndup(d->args[0].s, d->args[0].len);
    } else if (lang_parse_id_range(d->args[0].s, d->args[0].len, &u.ids.lo, &u.ids.hi) != 0) {
        lang_error(P, lx_pos(&d->args[0], 0), "%s: invalid rule id '%s'", d->name.s, d->args[0].s);
        return;
    }
    if (lang_parse_targets(&d->args[1], &u.targets, &u.ntargets, target_error, P) != 0) {
        free(u.tag);
        return;
    }
    u.file = P->file;
    lx_pos_t pos = lx_pos(&d->name, 0);
    u.line = pos.line;
    u.col = pos.col;
    lang_pending_t *p = lang_pending(P->rs);
    *LANG_PUSH(p->update_targets, p->nupdate_targets) = u;
}

static void dir_update_target_by_id(parser_t *P, lx_directive_t *d)
{
    update_target(P, d, 0);
}

static void dir_update_target_by_tag(parser_t *P, lx_directive_t *d)
{
    update_target(P, d, 1);
}

static void dir_update_action_by_id(parser_t *P, lx_directive_t *d)
{
    if (expect_args(P, d, 2, 2) != 0)
        return;
    uint64_t id;
    if (lang_parse_uint(&d->args[0], UINT32_MAX, &id) != 0 || id == 0) {
        lang_error(P, lx_pos(&d->args[0], 0), "%s: invalid rule id '%s'", d->name.s, d->args[0].s);
        return;
    }
    size_t before = P->nerrors;
    lx_pos_t pos = lx_pos(&d->name, 0);
    lang_rule_t *lr = lang_rule_new(P, RS_RULE_SECACTION, pos);
    lang_parse_actions(P, &d->args[1], lr, LANG_CTX_UPDATE);
    if (P->nerrors == before && (lr->r.id != 0 || lr->has_phase || lr->has_chain))
        lang_error(P, lx_pos(&d->args[1], 0), "%s cannot change id, phase or chain", d->name.s);
    if (P->nerrors != before) {
        lang_rule_free(&lr->r);
        return;
    }
    lang_pending_t *p = lang_pending(P->rs);
    lang_update_action_t *u = LANG_PUSH(p->update_actions, p->nupdate_actions);
    u->id = (uint32_t)id;
    u->actions = lr;
    u->file = P->file;
    u->line = pos.line;
    u->col = pos.col;
}

static int parse_buffer(parser_t *P, const char *text, size_t len);

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return rs_strndup(".", 1);
    if (slash == path)
        return rs_strndup("/", 1);
    return rs_strndup(path, (size_t)(slash - path));
}

static int read_file(const char *path, char **out, size_t *len)
{
    rs_buf_t b = {0};
    if (rs_read_file(path, 0, &b) != 0) {
        int saved = errno;
        rs_buf_free(&b);
        errno = saved;
        return -1;
    }
    *out = b.base;
    *len = b.len;
    return 0;
}

/* Parses one file; `P_parent` (may be NULL) is the including parser, for error positions. */
static int parse_one_file(rs_ruleset_t *rs, const char *path, rs_errors_t *errs, parser_t *parent, lx_pos_t at)
{
    char *text;
    size_t len;
    if (read_file(path, &text, &len) != 0) {
        if (parent != NULL)
            lang_error(parent, at, "cannot read '%s': %s", path, strerror(errno));
        else
            rs_errors_add(errs, path, 0, 0, "cannot read '%s': %s", path, strerror(errno));
        return -1;
    }
    char *dir = dir_of(path);
    parser_t P = {rs, errs, lang_intern_file(rs, path), dir, 0};
    parse_buffer(&P, text, len);
    free(dir);
    free(text);
    if (parent != NULL)
        parent->nerrors += P.nerrors;
    return P.nerrors ? -1 : 0;
}

static void include(parser_t *P, lx_directive_t *d, int optional)
{
    if (expect_args(P, d, 1, 1) != 0)
        return;
    lang_pending_t *p = lang_pending(P->rs);
    lx_pos_t pos = lx_pos(&d->name, 0);
    if (p->include_depth >= MAX_INCLUDE_DEPTH) {
        lang_error(P, pos, "%s: includes nested more than %d deep (a loop?)", d->name.s, MAX_INCLUDE_DEPTH);
        return;
    }
    const char *arg = d->args[0].s;
    rs_buf_t path = {0};
    if (arg[0] != '/')
        rs_buf_printf(&path, "%s/", P->base_dir);
    rs_buf_append(&path, arg, d->args[0].len);
    glob_t g;
    memset(&g, 0, sizeof(g));
    int rc = glob(path.base, 0, NULL, &g); /* results come sorted */
    if (rc == GLOB_NOMATCH) {
        if (!optional)
            lang_error(P, lx_pos(&d->args[0], 0), "Include: no file matches '%s'", path.base);
    } else if (rc != 0) {
        lang_error(P, lx_pos(&d->args[0], 0), "%s: cannot expand '%s'", d->name.s, path.base);
    } else {
        p->include_depth++;
        for (size_t i = 0; i < g.gl_pathc; i++)
            parse_one_file(P->rs, g.gl_pathv[i], P->errs, P, lx_pos(&d->args[0], 0));
        p->include_depth--;
    }
    globfree(&g);
    rs_buf_free(&path);
}

static void dir_include(parser_t *P, lx_directive_t *d)
{
    include(P, d, 0);
}

static void dir_include_optional(parser_t *P, lx_directive_t *d)
{
    include(P, d, 1);
}

static void dir_ignored(parser_t *P, lx_directive_t *d)
{
    (void)P;
    (void)d;
}

typedef void (*directive_fn)(parser_t *P, lx_directive_t *d);

static const struct {
    const char *name;
    directive_fn fn;
} directives[] = {
    {"SecRule", dir_secrule},
    {"SecAction", dir_secaction},
    {"SecMarker", dir_secmarker},
    {"SecDefaultAction", dir_default_action},
    {"Include", dir_include},
    {"IncludeOptional", dir_include_optional},
    {"SecRuleEngine", dir_rule_engine},
    {"SecRequestBodyAccess", dir_request_body_access},
    {"SecResponseBodyAccess", dir_response_body_access},
    {"SecRequestBodyLimit", dir_body_limit},
    {"SecRequestBodyNoFilesLimit", dir_body_no_files_limit},
    {"SecRequestBodyLimitAction", dir_body_limit_action},
    {"SecRequestBodyJsonDepthLimit", dir_json_depth_limit},
    {"SecPcreMatchLimit", dir_pcre_match_limit},
    {"SecPcreMatchLimitRecursion", dir_pcre_match_limit_recursion},
    {"SecCollectionTimeout", dir_collection_timeout},
    {"SecArgumentsLimit", dir_arguments_limit},
    {"SecArgumentSeparator", dir_argument_separator},
    {"SecComponentSignature", dir_component_signature},
    {"SecRuleRemoveById", dir_remove_by_id},
    {"SecRuleRemoveByTag", dir_remove_by_tag},
    {"SecRuleRemoveByMsg", dir_remove_by_msg},
    {"SecRuleUpdateTargetById", dir_update_target_by_id},
    {"SecRuleUpdateTargetByTag", dir_update_target_by_tag},
    {"SecRuleUpdateActionById", dir_update_action_by_id},

    /* Accepted and ignored: they configure parts of ModSecurity that edgeproxy does not have or does
     * differently, so they have no meaning for this engine:
     *   audit log (edgeproxy writes its own WAF log) */
    {"SecAuditEngine", dir_ignored},
    {"SecAuditLog", dir_ignored},
    {"SecAuditLog2", dir_ignored},
    {"SecAuditLogDirMode", dir_ignored},
    {"SecAuditLogFileMode", dir_ignored},
    {"SecAuditLogFormat", dir_ignored},
    {"SecAuditLogParts", dir_ignored},
    {"SecAuditLogRelevantStatus", dir_ignored},
    {"SecAuditLogStorageDir", dir_ignored},
    {"SecAuditLogType", dir_ignored},
    /*   debug log (rules explain replaces it) */
    {"SecDebugLog", dir_ignored},
    {"SecDebugLogLevel", dir_ignored},
    /*   files on disk: no persistent collections, no upload storage, no unicode map (t:urlDecodeUni is
     *   byte-exact with v3's built-in default table) */
    {"SecTmpDir", dir_ignored},
    {"SecDataDir", dir_ignored},
    {"SecUploadDir", dir_ignored},
    {"SecUploadFileLimit", dir_ignored},
    {"SecUploadFileMode", dir_ignored},
    {"SecUploadKeepFiles", dir_ignored},
    {"SecTmpSaveUploadedFiles", dir_ignored},
    {"SecUnicodeMapFile", dir_ignored},
    /*   response bodies are not buffered for inspection by edgeproxy */
    {"SecResponseBodyMimeType", dir_ignored},
    {"SecResponseBodyMimeTypesClear", dir_ignored},
    {"SecResponseBodyLimit", dir_ignored},
    {"SecResponseBodyLimitAction", dir_ignored},
    /*   the request body is held in memory up to SecRequestBodyLimit anyway */
    {"SecRequestBodyInMemoryLimit", dir_ignored},
    /*   phoning home, server banner, cookie dialects, XML entities (never loaded), GeoIP (not built in) */
    {"SecStatusEngine", dir_ignored},
    {"SecServerSignature", dir_ignored},
    {"SecCookieFormat", dir_ignored},
    {"SecCookieV0Separator", dir_ignored},
    {"SecXmlExternalEntity", dir_ignored},
    {"SecGeoLookupDb", dir_ignored},
    {"SecHttpBlKey", dir_ignored}, /* @rbl never queries DNS here */
    {"SecWebAppId", dir_ignored},
    {"SecConnEngine", dir_ignored},
};

static void dispatch(parser_t *P, lx_directive_t *d)
{
    rs_str_t name = rs_str(d->name.s, d->name.len);
    for (size_t i = 0; i < sizeof(directives) / sizeof(directives[0]); i++) {
        if (rs_str_ieq(name, directives[i].name)) {
            directives[i].fn(P, d);
            return;
        }
    }
    lang_error(P, lx_pos(&d->name, 0), "unknown directive '%s'", d->name.s);
}

static int parse_buffer(parser_t *P, const char *text, size_t len)
{
    lx_reader_t rd;
    lx_reader_init(&rd, text, len);
    while (lx_next_line(&rd)) {
        lx_directive_t d;
        const char *msg;
        lx_pos_t pos;
        if (lx_split(&rd.logical, &d, &msg, &pos) != 0) {
            lang_error(P, pos, "%s", msg);
            continue;
        }
        if (d.name.s == NULL) {
            /* nothing but white space: not a directive */
        } else if (memchr(d.name.s, '\0', d.name.len) != NULL) {
            lang_error(P, lx_pos(&d.name, 0), "NUL byte in directive name");
        } else {
            dispatch(P, &d);
        }
        lx_directive_free(&d);
    }
    lx_reader_free(&rd);
    return P->nerrors ? -1 : 0;
}

/* ---- public API ------------------------------------------------------------------------------------- */

rs_ruleset_t *rs_ruleset_new(void)
{
    rs_ruleset_t *rs = lang_xcalloc(1, sizeof(*rs));
    rs->engine_mode = RS_ENGINE_ON;
    rs->request_body_access = 0;
    rs->response_body_access = 0;
    rs->body_limit_action = RS_BODY_LIMIT_REJECT;
    rs->request_body_limit = 134217728;
    rs->request_body_no_files_limit = 1048576;
    rs->request_body_json_depth_limit = 10000;
    rs->pcre_match_limit = 3000;
    rs->pcre_match_limit_recursion = 1000;
    rs->collection_timeout = 3600;
    rs->arguments_limit = 1000;
    rs->argument_separator = '&';
    return rs;
}

int rs_parse_file(rs_ruleset_t *rs, const char *path, rs_errors_t *errs)
{
    return parse_one_file(rs, path, errs, NULL, (lx_pos_t){0, 0});
}

int rs_parse_text(rs_ruleset_t *rs, const char *name, const char *base_dir, const char *text, size_t len, rs_errors_t *errs)
{
    parser_t P = {rs, errs, lang_intern_file(rs, name ? name : "<text>"), base_dir ? base_dir : ".", 0};
    return parse_buffer(&P, text, len);
}
