/* SPDX-License-Identifier: MIT */
/* rs_rule_format: writes a parsed rule back as SecRule text (for dumps and `rules explain`). The output
 * shows the rule as the engine runs it: final t: list, defaults merged, updates applied. */
#include <string.h>
#include "lang_internal.h"
#include "transform/transform.h"

static const char *const disrupt_names[] = {"", "pass", "block", "deny", "drop", "allow", "redirect"};
static const char *const severity_names[] = {"EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG"};

/* Appends a value in single quotes, escaping embedded quotes. */
static void put_quoted(rs_buf_t *out, const char *s, size_t len)
{
    rs_buf_putc(out, '\'');
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\'')
            rs_buf_putc(out, '\\');
        rs_buf_putc(out, s[i]);
    }
    rs_buf_putc(out, '\'');
}

/* Appends text for use inside a double-quoted argument. */
static void put_dq(rs_buf_t *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"')
            rs_buf_putc(out, '\\');
        rs_buf_putc(out, s[i]);
    }
}

static void sep(rs_buf_t *out, int *first)
{
    if (!*first)
        rs_buf_putc(out, ',');
    *first = 0;
}

static void put_target(rs_buf_t *out, const rs_target_t *t)
{
    if (t->is_negated)
        rs_buf_putc(out, '!');
    if (t->is_count)
        rs_buf_putc(out, '&');
    rs_buf_printf(out, "%s", rs_var_table[t->var].name);
    if (t->key_regex_src != NULL)
        rs_buf_printf(out, ":/%s/", t->key_regex_src);
    else if (t->key != NULL) {
        rs_buf_putc(out, ':');
        rs_buf_append(out, t->key, t->key_len);
    }
}

static void put_macro_action(rs_buf_t *out, int *first, const char *name, const rs_macro_t *m)
{
    if (m->raw == NULL)
        return;
    sep(out, first);
    rs_buf_printf(out, "%s:", name);
    put_quoted(out, m->raw, strlen(m->raw));
}

static void put_ctl(rs_buf_t *out, const rs_ctl_t *c)
{
    static const char *const engine[] = {"Off", "On", "DetectionOnly"};
    static const char *const bodyproc[] = {"NONE", "URLENCODED", "MULTIPART", "JSON", "XML"};
    rs_buf_t v = {0};
    switch (c->kind) {
    case RS_CTL_RULE_ENGINE:
        rs_buf_printf(&v, "ruleEngine=%s", engine[c->ival >= 0 && c->ival <= 2 ? c->ival : 0]);
        break;
    case RS_CTL_RULE_REMOVE_BY_ID:
        if (c->id_lo == c->id_hi)
            rs_buf_printf(&v, "ruleRemoveById=%u", c->id_lo);
        else
            rs_buf_printf(&v, "ruleRemoveById=%u-%u", c->id_lo, c->id_hi);
        break;
    case RS_CTL_RULE_REMOVE_BY_TAG:
        rs_buf_printf(&v, "ruleRemoveByTag=%s", c->text);
        break;
    case RS_CTL_RULE_REMOVE_TARGET_BY_ID:
        if (c->id_lo == c->id_hi)
            rs_buf_printf(&v, "ruleRemoveTargetById=%u;", c->id_lo);
        else
            rs_buf_printf(&v, "ruleRemoveTargetById=%u-%u;", c->id_lo, c->id_hi);
        put_target(&v, &c->target);
        break;
    case RS_CTL_RULE_REMOVE_TARGET_BY_TAG:
        rs_buf_printf(&v, "ruleRemoveTargetByTag=%s;", c->text);
        put_target(&v, &c->target);
        break;
    case RS_CTL_REQUEST_BODY_PROCESSOR:
        rs_buf_printf(&v, "requestBodyProcessor=%s", bodyproc[c->ival >= 0 && c->ival <= 4 ? c->ival : 0]);
        break;
    case RS_CTL_REQUEST_BODY_ACCESS:
        rs_buf_printf(&v, "requestBodyAccess=%s", c->ival ? "On" : "Off");
        break;
    case RS_CTL_FORCE_REQUEST_BODY_VARIABLE:
        rs_buf_printf(&v, "forceRequestBodyVariable=%s", c->ival ? "On" : "Off");
        break;
    case RS_CTL_REQUEST_BODY_LIMIT:
        rs_buf_printf(&v, "requestBodyLimit=%lld", (long long)c->ival);
        break;
    case RS_CTL_AUDIT_ENGINE:
        rs_buf_printf(&v, "auditEngine=%s", c->text ? c->text : "");
        break;
    case RS_CTL_AUDIT_LOG_PARTS:
        rs_buf_printf(&v, "auditLogParts=%s", c->text ? c->text : "");
        break;
    default:
        rs_buf_printf(&v, "unknown");
        break;
    }
    rs_buf_printf(out, "ctl:");
    if (v.len)
        put_quoted(out, v.base, v.len);
    rs_buf_free(&v);
}

static void put_setvar(rs_buf_t *out, const rs_setvar_t *s)
{
    rs_buf_t v = {0};
    if (s->op == RS_SETVAR_DELETE)
        rs_buf_putc(&v, '!');
    rs_buf_printf(&v, "%s.%s", rs_var_table[s->collection].name, s->name.raw ? s->name.raw : "");
    if (s->op != RS_SETVAR_DELETE) {
        rs_buf_printf(&v, "=%s%s",
                      s->op == RS_SETVAR_ADD   ? "+"
                      : s->op == RS_SETVAR_SUB ? "-"
                                               : "",
                      s->value.raw ? s->value.raw : "");
    }
    rs_buf_printf(out, "setvar:");
    put_quoted(out, v.base, v.len);
    rs_buf_free(&v);
}

static void put_actions(const rs_rule_t *r, rs_buf_t *out)
{
    int first = 1;
    if (r->id) {
        sep(out, &first);
        rs_buf_printf(out, "id:%u", r->id);
    }
    if (r->kind != RS_RULE_MARKER && !r->is_chain_member) {
        sep(out, &first);
        rs_buf_printf(out, "phase:%u", r->phase);
    }
    if (r->disruptive != RS_DISRUPT_NONE && r->disruptive < sizeof(disrupt_names) / sizeof(disrupt_names[0])) {
        sep(out, &first);
        if (r->disruptive == RS_DISRUPT_REDIRECT) {
            rs_buf_printf(out, "redirect:");
            put_quoted(out, r->redirect.raw ? r->redirect.raw : "", r->redirect.raw ? strlen(r->redirect.raw) : 0);
        } else {
            rs_buf_printf(out, "%s", disrupt_names[r->disruptive]);
            if (r->disruptive == RS_DISRUPT_ALLOW && r->allow_scope != RS_ALLOW_ALL)
                rs_buf_printf(out, ":%s", r->allow_scope == RS_ALLOW_PHASE ? "phase" : "request");
        }
    }
    if (r->status) {
        sep(out, &first);
        rs_buf_printf(out, "status:%u", r->status);
    }
    if (r->capture) {
        sep(out, &first);
        rs_buf_printf(out, "capture");
    }
    if (r->kind == RS_RULE_SECRULE) {
        sep(out, &first);
        rs_buf_printf(out, "t:none");
        for (size_t i = 0; i < r->ntransforms; i++) {
            const char *tn = rs_transform_name(r->transforms[i]);
            rs_buf_printf(out, ",t:%s", tn ? tn : "?");
        }
    }
    if (r->log || r->nolog) {
        sep(out, &first);
        rs_buf_printf(out, "%s", r->log ? "log" : "nolog");
    }
    if (r->auditlog || r->noauditlog) {
        sep(out, &first);
        rs_buf_printf(out, "%s", r->auditlog ? "auditlog" : "noauditlog");
    }
    if (r->multi_match) {
        sep(out, &first);
        rs_buf_printf(out, "multiMatch");
    }
    put_macro_action(out, &first, "msg", &r->msg);
    put_macro_action(out, &first, "logdata", &r->logdata);
    for (size_t i = 0; i < r->ntags; i++) {
        sep(out, &first);
        rs_buf_printf(out, "tag:");
        put_quoted(out, r->tags[i], strlen(r->tags[i]));
    }
    if (r->severity >= 0 && r->severity <= 7) {
        sep(out, &first);
        rs_buf_printf(out, "severity:'%s'", severity_names[r->severity]);
    }
    const struct {
        const char *name;
        const char *value;
    } strs[] = {{"ver", r->ver}, {"rev", r->rev}, {"maturity", r->maturity}, {"accuracy", r->accuracy}};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        if (strs[i].value != NULL) {
            sep(out, &first);
            rs_buf_printf(out, "%s:", strs[i].name);
            put_quoted(out, strs[i].value, strlen(strs[i].value));
        }
    }
    for (size_t i = 0; i < r->ninitcols; i++) {
        sep(out, &first);
        rs_buf_printf(out, "initcol:%s=", rs_var_table[r->initcols[i].collection].name);
        rs_buf_printf(out, "%s", r->initcols[i].key.raw ? r->initcols[i].key.raw : "");
    }
    for (size_t i = 0; i < r->nctls; i++) {
        sep(out, &first);
        put_ctl(out, &r->ctls[i]);
    }
    for (size_t i = 0; i < r->nsetvars; i++) {
        sep(out, &first);
        put_setvar(out, &r->setvars[i]);
    }
    for (size_t i = 0; i < r->nexpirevars; i++) {
        const rs_expirevar_t *e = &r->expirevars[i];
        sep(out, &first);
        rs_buf_printf(out, "expirevar:'%s.%s=%s'", rs_var_table[e->collection].name, e->name.raw ? e->name.raw : "",
                      e->seconds.raw ? e->seconds.raw : "");
    }
    if (r->skip) {
        sep(out, &first);
        rs_buf_printf(out, "skip:%d", r->skip);
    }
    if (r->skip_after) {
        sep(out, &first);
        rs_buf_printf(out, "skipAfter:%s", r->skip_after);
    }
    if (r->chain) {
        sep(out, &first);
        rs_buf_printf(out, "chain");
    }
}

static void format_one(const rs_rule_t *r, rs_buf_t *out)
{
    if (r->kind == RS_RULE_MARKER) {
        rs_buf_printf(out, "SecMarker \"");
        put_dq(out, r->marker ? r->marker : "", r->marker ? strlen(r->marker) : 0);
        rs_buf_printf(out, "\"");
        return;
    }
    if (r->kind == RS_RULE_SECACTION) {
        rs_buf_printf(out, "SecAction \"");
    } else {
        rs_buf_printf(out, "SecRule ");
        for (size_t i = 0; i < r->ntargets; i++) {
            if (i)
                rs_buf_putc(out, '|');
            put_target(out, &r->targets[i]);
        }
        rs_buf_printf(out, " \"");
        if (r->op != NULL) {
            rs_str_t param = rs_op_param(r->op);
            rs_buf_printf(out, "%s@%s", rs_op_negated(r->op) ? "!" : "", rs_op_name(r->op));
            if (param.len) {
                rs_buf_putc(out, ' ');
                put_dq(out, param.base, param.len);
            }
        }
        rs_buf_printf(out, "\" \"");
    }
    rs_buf_t acts = {0};
    put_actions(r, &acts);
    if (acts.len)
        put_dq(out, acts.base, acts.len);
    rs_buf_free(&acts);
    rs_buf_putc(out, '"');
}

void rs_rule_format(const rs_rule_t *r, rs_buf_t *out)
{
    /* a chain is written whole, members indented on the following lines */
    for (const rs_rule_t *m = r; m != NULL; m = m->chain) {
        if (m != r)
            rs_buf_printf(out, "\n    ");
        format_one(m, out);
    }
}
