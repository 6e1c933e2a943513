/* SPDX-License-Identifier: MIT */
/* The action list of SecRule / SecAction / SecDefaultAction / SecRuleUpdateActionById: splits
 * "id:1,phase:2,t:none,msg:'a, b',setvar:'tx.x=+1'" into actions and fills the rule with them. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "lang_internal.h"
#include "lang_parser.h"
#include "transform/transform.h"

static int parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
{
    if (len == 0 || len > 20)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (d > max || v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int lang_parse_uint(const lx_text_t *t, uint64_t max, uint64_t *out)
{
    return parse_u64(t->s, t->len, max, out);
}

/* "A" or "A-B" */
int lang_parse_id_range(const char *s, size_t len, uint32_t *lo, uint32_t *hi)
{
    const char *dash = memchr(s, '-', len);
    uint64_t a, b;
    if (dash == NULL) {
        if (parse_u64(s, len, UINT32_MAX, &a) != 0)
            return -1;
        *lo = *hi = (uint32_t)a;
        return 0;
    }
    if (parse_u64(s, (size_t)(dash - s), UINT32_MAX, &a) != 0 ||
        parse_u64(dash + 1, len - (size_t)(dash - s) - 1, UINT32_MAX, &b) != 0 || b < a)
        return -1;
    *lo = (uint32_t)a;
    *hi = (uint32_t)b;
    return 0;
}

static int macro_or_error(parser_t *P, const lx_text_t *v, const char *what, rs_macro_t *out)
{
    char *err = NULL;
    if (rs_macro_parse(v->s, v->len, out, &err) != 0) {
        lang_error(P, lx_pos(v, 0), "%s: %s", what, err ? err : "bad macro");
        free(err);
        return -1;
    }
    return 0;
}

static const struct {
    const char *name;
    int value;
} severity_names[] = {{"EMERGENCY", 0}, {"ALERT", 1},  {"CRITICAL", 2}, {"ERROR", 3},
                      {"WARNING", 4},   {"NOTICE", 5}, {"INFO", 6},     {"DEBUG", 7}};

static int storage_collection(rs_str_t name, int allow_tx)
{
    int v = rs_var_lookup(name);
    if (v < 0 || !(rs_var_table[v].flags & RS_VF_PERSISTENT))
        return -1;
    if (v == RS_VAR_TX && !allow_tx)
        return -1;
    return v;
}

/* "tx.name" -> collection + name text (the part after the first '.') */
static int split_collection(parser_t *P, const lx_text_t *v, size_t len, const char *what, int allow_tx, int *coll, lx_text_t *name)
{
    const char *dot = memchr(v->s, '.', len);
    if (dot == NULL || dot == v->s) {
        lang_error(P, lx_pos(v, 0), "%s: expected COLLECTION.name in '%.*s'", what, (int)len, v->s);
        return -1;
    }
    size_t clen = (size_t)(dot - v->s);
    *coll = storage_collection(rs_str(v->s, clen), allow_tx);
    if (*coll < 0) {
        lang_error(P, lx_pos(v, 0), "%s: unknown collection '%.*s'", what, (int)clen, v->s);
        return -1;
    }
    *name = lx_sub(v, clen + 1, len - clen - 1);
    if (name->len == 0) {
        lang_error(P, lx_pos(v, clen + 1), "%s: missing variable name", what);
        return -1;
    }
    return 0;
}

static int parse_setvar(parser_t *P, rs_rule_t *r, const lx_text_t *v)
{
    rs_setvar_t sv;
    memset(&sv, 0, sizeof(sv));
    lx_text_t body = *v;
    if (body.len && body.s[0] == '!') {
        sv.op = RS_SETVAR_DELETE;
        body = lx_sub(v, 1, v->len - 1);
    }
    const char *eq = sv.op == RS_SETVAR_DELETE ? NULL : memchr(body.s, '=', body.len);
    size_t name_end = eq ? (size_t)(eq - body.s) : body.len;
    int coll;
    lx_text_t name;
    if (split_collection(P, &body, name_end, "setvar", 1, &coll, &name) != 0)
        return -1;
    sv.collection = (uint16_t)coll;
    if (macro_or_error(P, &name, "setvar", &sv.name) != 0)
        return -1;
    lx_text_t val = lx_sub(&body, body.len, 0);
    if (eq != NULL) {
        size_t vo = name_end + 1;
        if (vo < body.len && (body.s[vo] == '+' || body.s[vo] == '-')) {
            sv.op = body.s[vo] == '+' ? RS_SETVAR_ADD : RS_SETVAR_SUB;
            vo++;
        }
        val = lx_sub(&body, vo, body.len - vo);
    }
    if (sv.op != RS_SETVAR_DELETE) {
        char *vcopy = rs_strndup(val.s, val.len);
        lx_text_t vt = {vcopy, val.len, val.pos};
        int rc = macro_or_error(P, &vt, "setvar", &sv.value);
        free(vcopy);
        if (rc != 0) {
            rs_macro_free(&sv.name);
            return -1;
        }
    }
    *LANG_PUSH(r->setvars, r->nsetvars) = sv;
    return 0;
}

static int parse_expirevar(parser_t *P, rs_rule_t *r, const lx_text_t *v)
{
    const char *eq = memchr(v->s, '=', v->len);
    if (eq == NULL) {
        lang_error(P, lx_pos(v, 0), "expirevar: expected COLLECTION.name=SECONDS in '%s'", v->s);
        return -1;
    }
    size_t ne = (size_t)(eq - v->s);
    int coll;
    lx_text_t name;
    if (split_collection(P, v, ne, "expirevar", 1, &coll, &name) != 0)
        return -1;
    rs_expirevar_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.collection = (uint16_t)coll;
    char *ncopy = rs_strndup(name.s, name.len);
    lx_text_t nt = {ncopy, name.len, name.pos};
    int rc = macro_or_error(P, &nt, "expirevar", &ev.name);
    free(ncopy);
    if (rc != 0)
        return -1;
    lx_text_t secs = lx_sub(v, ne + 1, v->len - ne - 1);
    if (macro_or_error(P, &secs, "expirevar", &ev.seconds) != 0) {
        rs_macro_free(&ev.name);
        return -1;
    }
    *LANG_PUSH(r->expirevars, r->nexpirevars) = ev;
    return 0;
}

static int parse_initcol(parser_t *P, rs_rule_t *r, const lx_text_t *v)
{
    const char *eq = memchr(v->s, '=', v->len);
    size_t ne = eq ? (size_t)(eq - v->s) : v->len;
    int coll = storage_collection(rs_str(v->s, ne), 0);
    if (eq == NULL || coll < 0) {
        lang_error(P, lx_pos(v, 0), "initcol: expected IP|GLOBAL|SESSION|USER|RESOURCE=KEY, got '%s'", v->s);
        return -1;
    }
    rs_initcol_t ic;
    memset(&ic, 0, sizeof(ic));
    ic.collection = (uint16_t)coll;
    lx_text_t key = lx_sub(v, ne + 1, v->len - ne - 1);
    if (macro_or_error(P, &key, "initcol", &ic.key) != 0)
        return -1;
    *LANG_PUSH(r->initcols, r->ninitcols) = ic;
    return 0;
}

static int on_off(const char *s, size_t len, int64_t *out)
{
    if (rs_str_ieq(rs_str(s, len), "on") || rs_str_ieq(rs_str(s, len), "true")) {
        *out = 1;
        return 0;
    }
    if (rs_str_ieq(rs_str(s, len), "off") || rs_str_ieq(rs_str(s, len), "false")) {
        *out = 0;
        return 0;
    }
    return -1;
}

void lang_ctl_free(rs_ctl_t *c)
{
    free(c->text);
    lang_target_free(&c->target);
}

/* "ID;VAR:key" or "tag;VAR:key" */
static int ctl_target(parser_t *P, const lx_text_t *val, const char *what, rs_ctl_t *c, int by_id)
{
    const char *semi = memchr(val->s, ';', val->len);
    if (semi == NULL) {
        lang_error(P, lx_pos(val, 0), "ctl:%s: expected '%s;VARIABLE' in '%s'", what, by_id ? "ID" : "TAG", val->s);
        return -1;
    }
    size_t sl = (size_t)(semi - val->s);
    if (by_id) {
        if (lang_parse_id_range(val->s, sl, &c->id_lo, &c->id_hi) != 0) {
            lang_error(P, lx_pos(val, 0), "ctl:%s: invalid rule id '%.*s'", what, (int)sl, val->s);
            return -1;
        }
    } else {
        c->text = rs_strndup(val->s, sl);
    }
    lx_text_t tt = lx_sub(val, sl + 1, val->len - sl - 1);
    char *copy = rs_strndup(tt.s, tt.len);
    lx_text_t tc = {copy, tt.len, tt.pos};
    char *err;
    size_t eoff;
    int rc = lang_parse_target(&tc, &c->target, &err, &eoff);
    free(copy);
    if (rc != 0) {
        lang_error(P, lx_pos(&tt, eoff), "ctl:%s: %s", what, err);
        free(err);
        free(c->text);
        c->text = NULL;
        return -1;
    }
    return 0;
}

static int parse_ctl(parser_t *P, rs_rule_t *r, const lx_text_t *v)
{
    const char *eq = memchr(v->s, '=', v->len);
    if (eq == NULL) {
        lang_error(P, lx_pos(v, 0), "ctl: expected NAME=VALUE, got '%s'", v->s);
        return -1;
    }
    size_t nl = (size_t)(eq - v->s);
    rs_str_t name = rs_str(v->s, nl);
    lx_text_t val = lx_sub(v, nl + 1, v->len - nl - 1);
    rs_str_t vs = rs_str(val.s, val.len);
    rs_ctl_t c;
    memset(&c, 0, sizeof(c));
    if (rs_str_ieq(name, "ruleEngine")) {
        c.kind = RS_CTL_RULE_ENGINE;
        if (rs_str_ieq(vs, "on"))
            c.ival = RS_ENGINE_ON;
        else if (rs_str_ieq(vs, "off"))
            c.ival = RS_ENGINE_OFF;
        else if (rs_str_ieq(vs, "DetectionOnly"))
            c.ival = RS_ENGINE_DETECTION_ONLY;
        else
            goto bad_value;
    } else if (rs_str_ieq(name, "ruleRemoveById")) {
        /* a list of ids and ranges separated by spaces: one ctl entry each */
        size_t i = 0;
        int n = 0;
        while (i < val.len) {
            while (i < val.len && val.s[i] == ' ')
                i++;
            size_t st = i;
            while (i < val.len && val.s[i] != ' ')
                i++;
            if (i == st)
                break;
            rs_ctl_t *cc = LANG_PUSH(r->ctls, r->nctls);
            cc->kind = RS_CTL_RULE_REMOVE_BY_ID;
            if (lang_parse_id_range(val.s + st, i - st, &cc->id_lo, &cc->id_hi) != 0) {
                r->nctls--;
                lang_error(P, lx_pos(&val, st), "ctl:ruleRemoveById: invalid rule id '%.*s'", (int)(i - st), val.s + st);
                return -1;
            }
            n++;
        }
        if (n == 0)
            goto bad_value;
        return 0;
    } else if (rs_str_ieq(name, "ruleRemoveByTag")) {
        c.kind = RS_CTL_RULE_REMOVE_BY_TAG;
        if (val.len == 0)
            goto bad_value;
        c.text = rs_strndup(val.s, val.len);
    } else if (rs_str_ieq(name, "ruleRemoveTargetById")) {
        c.kind = RS_CTL_RULE_REMOVE_TARGET_BY_ID;
        if (ctl_target(P, &val, "ruleRemoveTargetById", &c, 1) != 0)
            return -1;
    } else if (rs_str_ieq(name, "ruleRemoveTargetByTag")) {
        c.kind = RS_CTL_RULE_REMOVE_TARGET_BY_TAG;
        if (ctl_target(P, &val, "ruleRemoveTargetByTag", &c, 0) != 0)
            return -1;
    } else if (rs_str_ieq(name, "requestBodyProcessor")) {
        c.kind = RS_CTL_REQUEST_BODY_PROCESSOR;
        if (rs_str_ieq(vs, "URLENCODED"))
            c.ival = RS_BODYPROC_URLENCODED;
        else if (rs_str_ieq(vs, "MULTIPART"))
            c.ival = RS_BODYPROC_MULTIPART;
        else if (rs_str_ieq(vs, "JSON"))
            c.ival = RS_BODYPROC_JSON;
        else if (rs_str_ieq(vs, "XML"))
            c.ival = RS_BODYPROC_XML;
        else
            goto bad_value;
    } else if (rs_str_ieq(name, "requestBodyAccess")) {
        c.kind = RS_CTL_REQUEST_BODY_ACCESS;
        if (on_off(val.s, val.len, &c.ival) != 0)
            goto bad_value;
    } else if (rs_str_ieq(name, "forceRequestBodyVariable")) {
        c.kind = RS_CTL_FORCE_REQUEST_BODY_VARIABLE;
        if (on_off(val.s, val.len, &c.ival) != 0)
            goto bad_value;
    } else if (rs_str_ieq(name, "requestBodyLimit")) {
        uint64_t n;
        c.kind = RS_CTL_REQUEST_BODY_LIMIT;
        if (parse_u64(val.s, val.len, INT64_MAX, &n) != 0)
            goto bad_value;
        c.ival = (int64_t)n;
    } else if (rs_str_ieq(name, "auditEngine")) {
        c.kind = RS_CTL_AUDIT_ENGINE;
        if (!rs_str_ieq(vs, "on") && !rs_str_ieq(vs, "off") && !rs_str_ieq(vs, "RelevantOnly"))
            goto bad_value;
        c.text = rs_strndup(val.s, val.len);
    } else if (rs_str_ieq(name, "auditLogParts")) {
        c.kind = RS_CTL_AUDIT_LOG_PARTS;
        if (val.len == 0)
            goto bad_value;
        c.text = rs_strndup(val.s, val.len);
    } else {
        lang_error(P, lx_pos(v, 0), "unknown ctl '%.*s'", (int)nl, v->s);
        return -1;
    }
    *LANG_PUSH(r->ctls, r->nctls) = c;
    return 0;
bad_value:
    lang_error(P, lx_pos(&val, 0), "ctl:%.*s: invalid value '%s'", (int)nl, v->s, val.s);
    return -1;
}

static void set_string(char **dst, const lx_text_t *v)
{
    free(*dst);
    *dst = rs_strndup(v->s, v->len);
}

static int set_disruptive(parser_t *P, lang_rule_t *lr, int d, lx_pos_t pos)
{
    lr->r.disruptive = (uint8_t)d;
    (void)P;
    (void)pos;
    return 0;
}

/* Actions ModSecurity knows but that edgeproxy refuses: they run programs, touch the host environment,
 * proxy elsewhere or stall workers. */
static const char *const unsupported_actions[] = {"exec",   "proxy",  "pause",   "setenv",       "setuid", "setsid",
                                                  "setrsc", "append", "prepend", "deprecatevar", NULL};

/* Accepted with no effect: they only mask data in ModSecurity's audit log, which edgeproxy does not
 * write, or declare XML namespaces for XPath targets that edgeproxy's XML support does not evaluate. */
static const char *const noop_actions[] = {
    "sanitiseArg", "sanitiseMatched", "sanitiseMatchedBytes", "sanitiseRequestHeader", "sanitiseResponseHeader", "xmlns", NULL};

static int in_list(const char *const *list, rs_str_t name)
{
    for (size_t i = 0; list[i] != NULL; i++) {
        if (rs_str_ieq(name, list[i]))
            return 1;
    }
    return 0;
}

/* Applies one action. Returns 0 or -1 (error already reported). */
static int apply_action(parser_t *P, lang_rule_t *lr, int ctx, const lx_text_t *name_t, const lx_text_t *v, int has_value)
{
    rs_rule_t *r = &lr->r;
    rs_str_t name = rs_str(name_t->s, name_t->len);
    lx_pos_t npos = lx_pos(name_t, 0);
    uint64_t n;

#define NEED_VALUE()                                                                                                               \
    do {                                                                                                                           \
        if (!has_value) {                                                                                                          \
            lang_error(P, npos, "action '%.*s' needs a value", (int)name.len, name.base);                                          \
            return -1;                                                                                                             \
        }                                                                                                                          \
    } while (0)
#define NO_VALUE()                                                                                                                 \
    do {                                                                                                                           \
        if (has_value) {                                                                                                           \
            lang_error(P, npos, "action '%.*s' takes no value", (int)name.len, name.base);                                         \
            return -1;                                                                                                             \
        }                                                                                                                          \
    } while (0)
#define NOT_IN_DEFAULT()                                                                                                           \
    do {                                                                                                                           \
        if (ctx == LANG_CTX_DEFAULT) {                                                                                             \
            lang_error(P, npos, "action '%.*s' is not allowed in SecDefaultAction", (int)name.len, name.base);                     \
            return -1;                                                                                                             \
        }                                                                                                                          \
    } while (0)

    if (rs_str_ieq(name, "id")) {
        NEED_VALUE();
        NOT_IN_DEFAULT();
        if (parse_u64(v->s, v->len, UINT32_MAX, &n) != 0 || n == 0) {
            lang_error(P, lx_pos(v, 0), "invalid rule id '%s'", v->s);
            return -1;
        }
        r->id = (uint32_t)n;
    } else if (rs_str_ieq(name, "phase")) {
        NEED_VALUE();
        if (parse_u64(v->s, v->len, 5, &n) == 0 && n >= 1)
            r->phase = (uint8_t)n;
        else if (rs_str_ieq(rs_str(v->s, v->len), "request"))
            r->phase = 2;
        else if (rs_str_ieq(rs_str(v->s, v->len), "response"))
            r->phase = 4;
        else if (rs_str_ieq(rs_str(v->s, v->len), "logging"))
            r->phase = 5;
        else {
            lang_error(P, lx_pos(v, 0), "invalid phase '%s'", v->s);
            return -1;
        }
        lr->has_phase = 1;
    } else if (rs_str_ieq(name, "pass")) {
        NO_VALUE();
        return set_disruptive(P, lr, RS_DISRUPT_PASS, npos);
    } else if (rs_str_ieq(name, "block")) {
        NO_VALUE();
        return set_disruptive(P, lr, RS_DISRUPT_BLOCK, npos);
    } else if (rs_str_ieq(name, "deny")) {
        NO_VALUE();
        return set_disruptive(P, lr, RS_DISRUPT_DENY, npos);
    } else if (rs_str_ieq(name, "drop")) {
        NO_VALUE();
        return set_disruptive(P, lr, RS_DISRUPT_DROP, npos);
    } else if (rs_str_ieq(name, "allow")) {
        r->allow_scope = RS_ALLOW_ALL;
        if (has_value) {
            if (rs_str_ieq(rs_str(v->s, v->len), "phase"))
                r->allow_scope = RS_ALLOW_PHASE;
            else if (rs_str_ieq(rs_str(v->s, v->len), "request"))
                r->allow_scope = RS_ALLOW_REQUEST;
            else {
                lang_error(P, lx_pos(v, 0), "invalid allow scope '%s' (expected phase or request)", v->s);
                return -1;
            }
        }
        return set_disruptive(P, lr, RS_DISRUPT_ALLOW, npos);
    } else if (rs_str_ieq(name, "redirect")) {
        NEED_VALUE();
        rs_macro_free(&r->redirect);
        if (macro_or_error(P, v, "redirect", &r->redirect) != 0)
            return -1;
        return set_disruptive(P, lr, RS_DISRUPT_REDIRECT, npos);
    } else if (rs_str_ieq(name, "status")) {
        NEED_VALUE();
        if (parse_u64(v->s, v->len, 999, &n) != 0 || n < 100) {
            lang_error(P, lx_pos(v, 0), "invalid status '%s'", v->s);
            return -1;
        }
        r->status = (uint16_t)n;
    } else if (rs_str_ieq(name, "chain")) {
        NO_VALUE();
        NOT_IN_DEFAULT();
        lr->has_chain = 1;
    } else if (rs_str_ieq(name, "capture")) {
        NO_VALUE();
        r->capture = 1;
    } else if (rs_str_ieq(name, "multiMatch")) {
        NO_VALUE();
        r->multi_match = 1;
    } else if (rs_str_ieq(name, "log")) {
        NO_VALUE();
        r->log = 1;
        r->nolog = 0;
    } else if (rs_str_ieq(name, "nolog")) {
        NO_VALUE();
        r->nolog = 1;
        r->log = 0;
    } else if (rs_str_ieq(name, "auditlog")) {
        NO_VALUE();
        r->auditlog = 1;
        r->noauditlog = 0;
    } else if (rs_str_ieq(name, "noauditlog")) {
        NO_VALUE();
        r->noauditlog = 1;
        r->auditlog = 0;
    } else if (rs_str_ieq(name, "t")) {
        NEED_VALUE();
        int id = rs_transform_lookup(rs_str(v->s, v->len));
        if (id < 0) {
            lang_error(P, lx_pos(v, 0), "unknown transformation '%s'", v->s);
            return -1;
        }
        if (id == RS_TRANSFORM_NONE) {
            if (ctx == LANG_CTX_DEFAULT) {
                lang_error(P, lx_pos(v, 0), "t:none is not allowed in SecDefaultAction");
                return -1;
            }
            r->ntransforms = 0;
            lr->had_tnone = 1;
        } else {
            *LANG_PUSH(r->transforms, r->ntransforms) = (uint8_t)id;
        }
    } else if (rs_str_ieq(name, "msg")) {
        NEED_VALUE();
        rs_macro_free(&r->msg);
        return macro_or_error(P, v, "msg", &r->msg);
    } else if (rs_str_ieq(name, "logdata")) {
        NEED_VALUE();
        rs_macro_free(&r->logdata);
        return macro_or_error(P, v, "logdata", &r->logdata);
    } else if (rs_str_ieq(name, "tag")) {
        NEED_VALUE();
        *LANG_PUSH(r->tags, r->ntags) = rs_strndup(v->s, v->len);
    } else if (rs_str_ieq(name, "severity")) {
        NEED_VALUE();
        int sev = -1;
        if (parse_u64(v->s, v->len, 7, &n) == 0)
            sev = (int)n;
        for (size_t i = 0; sev < 0 && i < sizeof(severity_names) / sizeof(severity_names[0]); i++) {
            if (rs_str_ieq(rs_str(v->s, v->len), severity_names[i].name))
                sev = severity_names[i].value;
        }
        if (sev < 0) {
            lang_error(P, lx_pos(v, 0), "invalid severity '%s'", v->s);
            return -1;
        }
        r->severity = sev;
    } else if (rs_str_ieq(name, "ver")) {
        NEED_VALUE();
        NOT_IN_DEFAULT();
        set_string(&r->ver, v);
    } else if (rs_str_ieq(name, "rev")) {
        NEED_VALUE();
        NOT_IN_DEFAULT();
        set_string(&r->rev, v);
    } else if (rs_str_ieq(name, "maturity")) {
        NEED_VALUE();
        NOT_IN_DEFAULT();
        if (parse_u64(v->s, v->len, 9, &n) != 0) {
            lang_error(P, lx_pos(v, 0), "invalid maturity '%s' (expected 0-9)", v->s);
            return -1;
        }
        set_string(&r->maturity, v);
    } else if (rs_str_ieq(name, "accuracy")) {
        NEED_VALUE();
        NOT_IN_DEFAULT();
        if (parse_u64(v->s, v->len, 9, &n) != 0) {
            lang_error(P, lx_pos(v, 0), "invalid accuracy '%s' (expected 0-9)", v->s);
            return -1;
        }
        set_string(&r->accuracy, v);
    } else if (rs_str_ieq(name, "setvar")) {
        NEED_VALUE();
        return parse_setvar(P, r, v);
    } else if (rs_str_ieq(name, "expirevar")) {
        NEED_VALUE();
        return parse_expirevar(P, r, v);
    } else if (rs_str_ieq(name, "initcol")) {
        NEED_VALUE();
        return parse_initcol(P, r, v);
    } else if (rs_str_ieq(name, "skip")) {
        NEED_VALUE();
        if (parse_u64(v->s, v->len, INT32_MAX, &n) != 0) {
            lang_error(P, lx_pos(v, 0), "invalid skip count '%s'", v->s);
            return -1;
        }
        r->skip = (int)n;
    } else if (rs_str_ieq(name, "skipAfter")) {
        NEED_VALUE();
        if (v->len == 0) {
            lang_error(P, lx_pos(v, 0), "skipAfter needs a marker name");
            return -1;
        }
        set_string(&r->skip_after, v);
    } else if (rs_str_ieq(name, "ctl")) {
        NEED_VALUE();
        return parse_ctl(P, r, v);
    } else if (in_list(noop_actions, name)) {
        return 0;
    } else if (in_list(unsupported_actions, name)) {
        lang_error(P, npos, "unsupported action '%.*s'", (int)name.len, name.base);
        return -1;
    } else {
        lang_error(P, npos, "unknown action '%.*s'", (int)name.len, name.base);
        return -1;
    }
    return 0;
#undef NEED_VALUE
#undef NO_VALUE
#undef NOT_IN_DEFAULT
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int lang_parse_actions(parser_t *P, const lx_text_t *t, lang_rule_t *lr, int ctx)
{
    const char *s = t->s;
    size_t n = t->len, i = 0;
    int nerr = 0;
    while (i < n) {
        while (i < n && is_ws(s[i]))
            i++;
        if (i >= n)
            break;
        size_t ns = i;
        while (i < n && s[i] != ':' && s[i] != ',' && !is_ws(s[i]))
            i++;
        lx_text_t name = lx_sub(t, ns, i - ns);
        if (name.len == 0) {
            lang_error(P, lx_pos(t, ns), "empty action");
            nerr++;
            i++;
            continue;
        }
        int has_value = 0;
        lx_text_t value = {0};
        char *vbuf = NULL;
        lx_pos_t *vpos = NULL;
        if (i < n && s[i] == ':') {
            has_value = 1;
            i++;
            if (i < n && s[i] == '\'') {
                size_t qs = i++;
                vbuf = lang_xrealloc(NULL, n - i + 1);
                vpos = lang_xrealloc(NULL, (n - i + 1) * sizeof(lx_pos_t));
                size_t vl = 0;
                while (i < n && s[i] != '\'') {
                    if (s[i] == '\\' && i + 1 < n && s[i + 1] == '\'')
                        i++; /* \' is a literal quote */
                    vpos[vl] = lx_pos(t, i);
                    vbuf[vl++] = s[i++];
                }
                if (i >= n) {
                    lang_error(P, lx_pos(t, qs), "missing closing quote");
                    free(vbuf);
                    free(vpos);
                    return -1;
                }
                vpos[vl] = lx_pos(t, i);
                vbuf[vl] = '\0';
                value = (lx_text_t){vbuf, vl, vpos};
                i++;
            } else {
                size_t vs = i;
                while (i < n && s[i] != ',')
                    i++;
                size_t ve = i;
                while (ve > vs && is_ws(s[ve - 1]))
                    ve--;
                vbuf = rs_strndup(s + vs, ve - vs);
                vpos = lang_xrealloc(NULL, (ve - vs + 1) * sizeof(lx_pos_t));
                memcpy(vpos, t->pos + vs, (ve - vs + 1) * sizeof(lx_pos_t));
                value = (lx_text_t){vbuf, ve - vs, vpos};
            }
        }
        while (i < n && is_ws(s[i]))
            i++;
        if (i < n && s[i] != ',') {
            lang_error(P, lx_pos(t, i), "expected ',' after action '%.*s'", (int)name.len, name.s);
            free(vbuf);
            free(vpos);
            return -1;
        }
        i++;
        char *nbuf = rs_strndup(name.s, name.len);
        lx_text_t nt = {nbuf, name.len, name.pos};
        if (apply_action(P, lr, ctx, &nt, &value, has_value) != 0)
            nerr++;
        free(nbuf);
        free(vbuf);
        free(vpos);
    }
    return nerr ? -1 : 0;
}
