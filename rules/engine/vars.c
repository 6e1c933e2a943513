/* SPDX-License-Identifier: MIT */
/* Variable resolution for the rule engine: what a target (VAR, VAR:key, VAR:/regex/, &VAR, with !VAR:key
 * exclusions) yields for the running transaction, macro expansion (%{tx.x}, %{MATCHED_VAR}, %{rule.id}),
 * and the TX and persistent collections that setvar writes. Semantics follow ModSecurity v3: scalar
 * variables always yield one value (empty when never set), collection keys compare case-insensitively. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_internal.h"

static const rs_str_t empty_str = {"", 0};

void rs_tx_set_scalar(rs_tx_t *tx, int var, const char *s, size_t n)
{
    tx->scalar[var] = rs_str(rs_arena_dup(&tx->arena, s, n), n);
    tx->scalar_set[var] = 1;
}

void rs_tx_set_scalar_num(rs_tx_t *tx, int var, long long v)
{
    char num[32];
    int n = snprintf(num, sizeof(num), "%lld", v);
    rs_tx_set_scalar(tx, var, num, (size_t)n);
}

/* The list that holds a collection's members, for the variables stored as lists. */
rs_kvlist_t *rs_tx_coll(rs_tx_t *tx, int var)
{
    return &tx->coll[var];
}

/* Collections whose members are another collection's keys. */
static int names_of(int var)
{
    switch (var) {
    case RS_VAR_ARGS_NAMES:
        return RS_VAR_ARGS;
    case RS_VAR_ARGS_GET_NAMES:
        return RS_VAR_ARGS_GET;
    case RS_VAR_ARGS_POST_NAMES:
        return RS_VAR_ARGS_POST;
    case RS_VAR_REQUEST_HEADERS_NAMES:
        return RS_VAR_REQUEST_HEADERS;
    case RS_VAR_REQUEST_COOKIES_NAMES:
        return RS_VAR_REQUEST_COOKIES;
    case RS_VAR_RESPONSE_HEADERS_NAMES:
        return RS_VAR_RESPONSE_HEADERS;
    case RS_VAR_MATCHED_VARS_NAMES:
        return RS_VAR_MATCHED_VARS;
    default:
        return -1;
    }
}

static int is_persistent_store(int var)
{
    return var == RS_VAR_IP || var == RS_VAR_GLOBAL || var == RS_VAR_SESSION || var == RS_VAR_USER || var == RS_VAR_RESOURCE;
}

static rs_str_t fmt_num(rs_tx_t *tx, long long v)
{
    char num[32];
    int n = snprintf(num, sizeof(num), "%lld", v);
    return rs_str(rs_arena_dup(&tx->arena, num, (size_t)n), (size_t)n);
}

/* Values of the variables computed when read. Returns 1 when var is one of them. */
static int computed_scalar(rs_tx_t *tx, int var, rs_str_t *out)
{
    struct tm tm;
    time_t now = tx->start.tv_sec;
    char buf[64];
    int n;
    switch (var) {
    case RS_VAR_HIGHEST_SEVERITY:
        *out = fmt_num(tx, tx->highest_severity);
        return 1;
    case RS_VAR_DURATION: {
        /* seconds since the transaction began, printed as std::to_string(double) (ModSecurity's format) */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double secs = (double)(ts.tv_sec - tx->start_mono.tv_sec) + (double)(ts.tv_nsec - tx->start_mono.tv_nsec) / 1e9;
        n = snprintf(buf, sizeof(buf), "%f", secs);
        *out = rs_str(rs_arena_dup(&tx->arena, buf, (size_t)n), (size_t)n);
        return 1;
    }
    case RS_VAR_TIME_EPOCH:
        *out = fmt_num(tx, (long long)now);
        return 1;
    case RS_VAR_TIME:
    case RS_VAR_TIME_DAY:
    case RS_VAR_TIME_HOUR:
    case RS_VAR_TIME_MIN:
    case RS_VAR_TIME_MON:
    case RS_VAR_TIME_SEC:
    case RS_VAR_TIME_WDAY:
    case RS_VAR_TIME_YEAR:
        localtime_r(&now, &tm);
        if (var == RS_VAR_TIME)
            n = snprintf(buf, sizeof(buf), "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
        else {
            int v = var == RS_VAR_TIME_DAY    ? tm.tm_mday
                    : var == RS_VAR_TIME_HOUR ? tm.tm_hour
                    : var == RS_VAR_TIME_MIN  ? tm.tm_min
                    : var == RS_VAR_TIME_MON  ? tm.tm_mon
                    : var == RS_VAR_TIME_SEC  ? tm.tm_sec
                    : var == RS_VAR_TIME_WDAY ? tm.tm_wday
                                              : tm.tm_year + 1900;
            n = snprintf(buf, sizeof(buf), "%d", v);
        }
        *out = rs_str(rs_arena_dup(&tx->arena, buf, (size_t)n), (size_t)n);
        return 1;
    case RS_VAR_MATCHED_VAR:
        *out = tx->matched_set ? tx->matched_var : empty_str;
        return 1;
    case RS_VAR_MATCHED_VAR_NAME:
        *out = tx->matched_set ? tx->matched_name : empty_str;
        return 1;
    default:
        return 0;
    }
}

static rs_str_t scalar_value(rs_tx_t *tx, int var)
{
    rs_str_t v;
    if (computed_scalar(tx, var, &v))
        return v;
    return tx->scalar_set[var] ? tx->scalar[var] : empty_str;
}

/* The RULE collection: properties of the rule being evaluated (its chain head). */
static int rule_prop(rs_tx_t *tx, rs_str_t key, rs_str_t *out)
{
    if (tx->cur_rule == NULL)
        return 0;
    const rs_rule_t *r = tx->cur_rule->head->rule;
    if (rs_str_ieq(key, "id")) {
        *out = fmt_num(tx, r->id);
    } else if (rs_str_ieq(key, "phase")) {
        *out = fmt_num(tx, r->phase);
    } else if (rs_str_ieq(key, "severity")) {
        if (r->severity == RS_SEVERITY_UNSET)
            return 0;
        *out = fmt_num(tx, r->severity);
    } else if (rs_str_ieq(key, "msg") && r->msg.raw != NULL) {
        *out = rs_str(r->msg.raw, strlen(r->msg.raw));
    } else if (rs_str_ieq(key, "logdata") && r->logdata.raw != NULL) {
        *out = rs_str(r->logdata.raw, strlen(r->logdata.raw));
    } else if (rs_str_ieq(key, "rev") && r->rev != NULL) {
        *out = rs_str(r->rev, strlen(r->rev));
    } else if (rs_str_ieq(key, "ver") && r->ver != NULL) {
        *out = rs_str(r->ver, strlen(r->ver));
    } else
        return 0;
    return 1;
}

/* Members of a list-backed collection for a persistent store: loaded into a scratch list. */
static const rs_kvlist_t *members(rs_tx_t *tx, int var, rs_kvlist_t *scratch)
{
    if (is_persistent_store(var)) {
        scratch->n = 0;
        rs_store_list(var, tx->coll_key[var], &tx->arena, scratch);
        return scratch;
    }
    if (var == RS_VAR_MATCHED_VARS)
        return &tx->matched_vars;
    return &tx->coll[var];
}

int rs_tx_first_value(rs_tx_t *tx, int var, const char *key, size_t key_len, rs_str_t *out)
{
    rs_str_t k = rs_str(key, key_len);
    if (!(rs_var_table[var].flags & RS_VF_COLLECTION)) {
        *out = scalar_value(tx, var);
        return 1;
    }
    if (var == RS_VAR_RULE)
        return key != NULL && rule_prop(tx, k, out);
    if (is_persistent_store(var)) {
        if (key == NULL)
            return 0;
        return rs_store_get(var, tx->coll_key[var], k, &tx->arena, out);
    }
    int base = names_of(var);
    const rs_kvlist_t *l = base >= 0 ? (base == RS_VAR_MATCHED_VARS ? &tx->matched_vars : &tx->coll[base])
                                     : (var == RS_VAR_MATCHED_VARS ? &tx->matched_vars : &tx->coll[var]);
    for (size_t i = 0; i < l->n; i++)
        if (key == NULL || rs_str_ieq2(l->items[i].key, k)) {
            *out = base >= 0 ? l->items[i].key : l->items[i].value;
            return 1;
        }
    return 0;
}

rs_str_t rs_tx_full_name(rs_tx_t *tx, int var, rs_str_t key)
{
    const char *name = rs_var_table[var].name;
    size_t nl = strlen(name);
    if (!(rs_var_table[var].flags & RS_VF_COLLECTION))
        return rs_str(name, nl);
    char *p = rs_arena_alloc(&tx->arena, nl + 1 + key.len + 1);
    memcpy(p, name, nl);
    p[nl] = ':';
    if (key.len)
        memcpy(p + nl + 1, key.base, key.len);
    p[nl + 1 + key.len] = '\0';
    return rs_str(p, nl + 1 + key.len);
}

static int key_regex_match(rs_tx_t *tx, void *re, rs_str_t key)
{
    int rc = pcre2_match((pcre2_code *)re, (PCRE2_SPTR)(key.base ? key.base : ""), key.len, 0, 0,
                         (pcre2_match_data *)tx->match_data, NULL);
    return rc >= 0;
}

static int selector_match(rs_tx_t *tx, const rs_target_t *t, rs_str_t key)
{
    if (t->key_regex != NULL)
        return key_regex_match(tx, t->key_regex, key);
    if (t->key != NULL)
        return rs_str_ieq2(key, rs_str(t->key, t->key_len));
    return 1;
}

/* !VAR:key exclusions of the rule that apply to members of var (ModSecurity's key exclusions). */
static int excluded(rs_tx_t *tx, const rs_rule_t *r, int var, rs_str_t key)
{
    for (size_t i = 0; i < r->ntargets; i++) {
        const rs_target_t *x = &r->targets[i];
        if (!x->is_negated || x->var != var || (x->key == NULL && x->key_regex == NULL))
            continue;
        if (selector_match(tx, x, key))
            return 1;
    }
    return 0;
}

static void push_val(rs_val_t **vals, size_t *n, size_t *cap, int var, rs_str_t key, rs_str_t value)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        rs_val_t *nv = realloc(*vals, nc * sizeof(*nv));
        if (nv == NULL)
            abort();
        *vals = nv;
        *cap = nc;
    }
    (*vals)[(*n)++] = (rs_val_t){(uint16_t)var, key, value};
}

void rs_tx_collect(rs_tx_t *tx, const rs_crule_t *cr, const rs_target_t *t, rs_val_t **vals, size_t *nvals, size_t *cap)
{
    int var = t->var;
    const rs_rule_t *r = cr->rule;
    size_t start = *nvals;

    if (!(rs_var_table[var].flags & RS_VF_COLLECTION)) {
        rs_str_t v = scalar_value(tx, var);
        if (t->is_count)
            push_val(vals, nvals, cap, var, empty_str, fmt_num(tx, 1));
        else
            push_val(vals, nvals, cap, var, empty_str, v);
        return;
    }

    if (var == RS_VAR_RULE) {
        static const char *const props[] = {"id", "rev", "severity", "logdata", "msg"};
        size_t count = 0;
        for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
            rs_str_t k = rs_str(props[i], strlen(props[i])), v;
            if (!selector_match(tx, t, k) || !rule_prop(tx, k, &v))
                continue;
            count++;
            if (!t->is_count)
                push_val(vals, nvals, cap, var, k, v);
        }
        if (t->is_count)
            push_val(vals, nvals, cap, var, empty_str, fmt_num(tx, (long long)count));
        return;
    }

    if (is_persistent_store(var) && t->key != NULL && t->key_regex == NULL) {
        /* one key of a shared collection: a direct lookup instead of listing the whole store */
        rs_str_t v;
        int found = rs_store_get(var, tx->coll_key[var], rs_str(t->key, t->key_len), &tx->arena, &v);
        if (t->is_count)
            push_val(vals, nvals, cap, var, rs_str(t->key, t->key_len), fmt_num(tx, found));
        else if (found && !excluded(tx, r, var, rs_str(t->key, t->key_len)))
            push_val(vals, nvals, cap, var, rs_str(t->key, t->key_len), v);
        return;
    }
    int base = names_of(var);
    rs_kvlist_t scratch = {0};
    const rs_kvlist_t *l = members(tx, base >= 0 ? base : var, &scratch);
    size_t count = 0;
    for (size_t i = 0; i < l->n; i++) {
        rs_str_t k = l->items[i].key;
        if (!selector_match(tx, t, k))
            continue;
        count++;
        if (t->is_count)
            continue;
        if (excluded(tx, r, var, k))
            continue;
        push_val(vals, nvals, cap, var, k, base >= 0 ? k : l->items[i].value);
    }
    free(scratch.items);
    if (t->is_count) {
        *nvals = start;
        rs_str_t name = t->key != NULL ? rs_str(t->key, t->key_len) : empty_str;
        push_val(vals, nvals, cap, var, name, fmt_num(tx, (long long)count));
    }
}

/* ---- setvar targets --------------------------------------------------------------------------------- */

void rs_tx_coll_set(rs_tx_t *tx, int var, rs_str_t key, rs_str_t value)
{
    if (is_persistent_store(var)) {
        rs_store_set(var, tx->coll_key[var], key, value, tx->db->rs->collection_timeout);
        return;
    }
    rs_kvlist_t *l = &tx->coll[var];
    rs_str_t v = rs_str(rs_arena_dup(&tx->arena, value.base, value.len), value.len);
    for (size_t i = 0; i < l->n; i++)
        if (rs_str_ieq2(l->items[i].key, key)) {
            l->items[i].value = v;
            return;
        }
    rs_kvlist_push(l, rs_str(rs_arena_dup(&tx->arena, key.base, key.len), key.len), v);
}

void rs_tx_coll_del(rs_tx_t *tx, int var, rs_str_t key)
{
    if (is_persistent_store(var)) {
        rs_store_del(var, tx->coll_key[var], key);
        return;
    }
    rs_kvlist_t *l = &tx->coll[var];
    size_t o = 0;
    for (size_t i = 0; i < l->n; i++)
        if (!rs_str_ieq2(l->items[i].key, key))
            l->items[o++] = l->items[i];
    l->n = o;
}

/* ---- macros ----------------------------------------------------------------------------------------- */

rs_str_t rs_tx_expand(rs_tx_t *tx, const rs_macro_t *m)
{
    if (m->nparts == 0)
        return empty_str;
    if (m->nparts == 1 && m->parts[0].kind == RS_MP_LITERAL)
        return rs_str(m->parts[0].text, m->parts[0].len);
    rs_buf_t *b = &tx->mbuf;
    size_t mark = b->len; /* expansions may nest (a value read for one part may itself be expanded) */
    for (size_t i = 0; i < m->nparts; i++) {
        const rs_macro_part_t *p = &m->parts[i];
        if (p->kind == RS_MP_LITERAL) {
            rs_buf_append(b, p->text, p->len);
            continue;
        }
        rs_str_t v;
        if (rs_tx_first_value(tx, p->var, p->text, p->text ? p->len : 0, &v) && v.len)
            rs_buf_append(b, v.base, v.len);
    }
    size_t n = b->len - mark;
    char *out = rs_arena_dup(&tx->arena, b->base ? b->base + mark : "", n);
    b->len = mark;
    return rs_str(out, n);
}
