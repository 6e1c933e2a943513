/* SPDX-License-Identifier: MIT */
/* rs_ruleset_finish and rs_ruleset_free: applies SecDefaultAction, SecRuleRemove* and SecRuleUpdate*
 * to the parsed rules (ModSecurity v3 applies them wherever they appear in the files, so they are kept
 * aside until the end), checks chains, skipAfter markers and ids, and frees everything. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include "lang_internal.h"

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void rule_free_one(rs_rule_t *r)
{
    for (size_t i = 0; i < r->ntargets; i++)
        lang_target_free(&r->targets[i]);
    free(r->targets);
    if (r->op != NULL)
        rs_op_free(r->op);
    free(r->transforms);
    rs_macro_free(&r->redirect);
    rs_macro_free(&r->msg);
    rs_macro_free(&r->logdata);
    free_strings(r->tags, r->ntags);
    free(r->ver);
    free(r->rev);
    free(r->maturity);
    free(r->accuracy);
    for (size_t i = 0; i < r->nsetvars; i++) {
        rs_macro_free(&r->setvars[i].name);
        rs_macro_free(&r->setvars[i].value);
    }
    free(r->setvars);
    for (size_t i = 0; i < r->nexpirevars; i++) {
        rs_macro_free(&r->expirevars[i].name);
        rs_macro_free(&r->expirevars[i].seconds);
    }
    free(r->expirevars);
    for (size_t i = 0; i < r->ninitcols; i++)
        rs_macro_free(&r->initcols[i].key);
    free(r->initcols);
    for (size_t i = 0; i < r->nctls; i++)
        lang_ctl_free(&r->ctls[i]);
    free(r->ctls);
    free(r->skip_after);
    free(r->marker);
    free(r); /* the lang_rule_t that contains it */
}

void lang_rule_free(rs_rule_t *r)
{
    while (r != NULL) {
        rs_rule_t *next = r->chain;
        rule_free_one(r);
        r = next;
    }
}

static void pending_free(lang_pending_t *p)
{
    if (p == NULL)
        return;
    free(p->remove_ids);
    free_strings(p->remove_tags, p->nremove_tags);
    free_strings(p->remove_msgs, p->nremove_msgs);
    for (size_t i = 0; i < p->nupdate_targets; i++) {
        lang_update_target_t *u = &p->update_targets[i];
        free(u->tag);
        for (size_t k = 0; k < u->ntargets; k++)
            lang_target_free(&u->targets[k]);
        free(u->targets);
    }
    free(p->update_targets);
    for (size_t i = 0; i < p->nupdate_actions; i++)
        lang_rule_free(&p->update_actions[i].actions->r);
    free(p->update_actions);
    free(p->id_slots);
    free(p);
}

void rs_ruleset_free(rs_ruleset_t *rs)
{
    if (rs == NULL)
        return;
    for (size_t i = 0; i < rs->nrules; i++)
        lang_rule_free(rs->rules[i]);
    free(rs->rules);
    for (int i = 0; i < 6; i++) {
        if (rs->default_actions[i] != NULL)
            lang_rule_free(rs->default_actions[i]);
    }
    free(rs->component_signature);
    free_strings(rs->files, rs->nfiles);
    pending_free(rs->pending);
    free(rs);
}

/* ---- SecDefaultAction ------------------------------------------------------------------------------- */

/* What v3 takes from the phase's SecDefaultAction at run time, made static: its transformations run
 * before the rule's own unless the rule says t:none; its log/auditlog/status apply when the rule gives
 * none. Its disruptive action is NOT copied: v3 only uses it through `block` (RS_DISRUPT_BLOCK), and a
 * rule without a disruptive action does not disrupt. */
static void apply_defaults(rs_ruleset_t *rs, lang_rule_t *lr)
{
    rs_rule_t *r = &lr->r;
    if (lr->defaults_applied || r->kind == RS_RULE_MARKER)
        return;
    lr->defaults_applied = 1;
    const rs_rule_t *d = r->phase < 6 ? rs->default_actions[r->phase] : NULL;
    if (d == NULL) {
        /* the implicit default is "log,auditlog,pass" */
        if (!r->log && !r->nolog)
            r->log = 1;
        if (!r->auditlog && !r->noauditlog)
            r->auditlog = 1;
        return;
    }
    if (!lr->had_tnone && d->ntransforms != 0) {
        uint8_t *t = lang_xrealloc(NULL, d->ntransforms + r->ntransforms);
        memcpy(t, d->transforms, d->ntransforms);
        if (r->ntransforms)
            memcpy(t + d->ntransforms, r->transforms, r->ntransforms);
        free(r->transforms);
        r->transforms = t;
        r->ntransforms += d->ntransforms;
    }
    if (!r->log && !r->nolog) {
        r->log = d->log;
        r->nolog = d->nolog;
        if (!d->log && !d->nolog)
            r->log = 1;
    }
    if (!r->auditlog && !r->noauditlog) {
        r->auditlog = d->auditlog;
        r->noauditlog = d->noauditlog;
        if (!d->auditlog && !d->noauditlog)
            r->auditlog = 1;
    }
    if (r->status == 0)
        r->status = d->status;
}

/* ---- removals and updates --------------------------------------------------------------------------- */

static int rule_has_tag(const rs_rule_t *r, const char *tag)
{
    for (size_t i = 0; i < r->ntags; i++) {
        if (strcmp(r->tags[i], tag) == 0)
            return 1;
    }
    return 0;
}

static int removed(const lang_pending_t *p, const rs_rule_t *r)
{
    if (r->kind == RS_RULE_MARKER)
        return 0;
    for (size_t i = 0; i < p->nremove_ids; i++) {
        if (r->id >= p->remove_ids[i].lo && r->id <= p->remove_ids[i].hi)
            return 1;
    }
    /* v3 compares tag and msg as plain strings */
    for (size_t i = 0; i < p->nremove_tags; i++) {
        if (rule_has_tag(r, p->remove_tags[i]))
            return 1;
    }
    for (size_t i = 0; i < p->nremove_msgs; i++) {
        if (r->msg.raw != NULL && strcmp(r->msg.raw, p->remove_msgs[i]) == 0)
            return 1;
    }
    return 0;
}

static void target_copy(rs_target_t *dst, const rs_target_t *src)
{
    *dst = *src;
    dst->key = src->key ? rs_strndup(src->key, src->key_len) : NULL;
    dst->key_regex_src = src->key_regex_src ? rs_strndup(src->key_regex_src, strlen(src->key_regex_src)) : NULL;
    dst->key_regex = src->key_regex ? pcre2_code_copy(src->key_regex) : NULL;
    if (src->key_regex != NULL && dst->key_regex == NULL)
        abort(); /* out of memory */
}

static void add_targets(rs_rule_t *r, const lang_update_target_t *u)
{
    if (r->kind != RS_RULE_SECRULE)
        return;
    for (size_t i = 0; i < u->ntargets; i++)
        target_copy(LANG_PUSH(r->targets, r->ntargets), &u->targets[i]);
}

static void macro_move(rs_macro_t *dst, rs_macro_t *src)
{
    rs_macro_free(dst);
    *dst = *src;
    memset(src, 0, sizeof(*src));
}

/* SecRuleUpdateActionById as v3 runs it: its disruptive action replaces the rule's; its transformations
 * (those after its last t:none) run after the rule's; the other actions are added to the rule's. */
static void update_actions(rs_rule_t *r, lang_rule_t *ulr)
{
    rs_rule_t *u = &ulr->r;
    if (u->disruptive != RS_DISRUPT_NONE) {
        r->disruptive = u->disruptive;
        r->allow_scope = u->allow_scope;
        if (u->disruptive == RS_DISRUPT_REDIRECT)
            macro_move(&r->redirect, &u->redirect);
    }
    if (u->ntransforms) {
        r->transforms = lang_xrealloc(r->transforms, r->ntransforms + u->ntransforms);
        memcpy(r->transforms + r->ntransforms, u->transforms, u->ntransforms);
        r->ntransforms += u->ntransforms;
    }
    if (u->status)
        r->status = u->status;
    if (u->msg.raw)
        macro_move(&r->msg, &u->msg);
    if (u->logdata.raw)
        macro_move(&r->logdata, &u->logdata);
    if (u->severity != RS_SEVERITY_UNSET)
        r->severity = u->severity;
    if (u->log || u->nolog) {
        r->log = u->log;
        r->nolog = u->nolog;
    }
    if (u->auditlog || u->noauditlog) {
        r->auditlog = u->auditlog;
        r->noauditlog = u->noauditlog;
    }
    r->capture |= u->capture;
    r->multi_match |= u->multi_match;
    if (u->skip)
        r->skip = u->skip;
    if (u->skip_after) {
        free(r->skip_after);
        r->skip_after = u->skip_after;
        u->skip_after = NULL;
    }
#define APPEND_MOVE(field, nfield)                                                                                                 \
    if (u->nfield) {                                                                                                               \
        r->field = lang_xrealloc(r->field, (r->nfield + u->nfield) * sizeof(*r->field));                                           \
        memcpy(r->field + r->nfield, u->field, u->nfield * sizeof(*r->field));                                                     \
        r->nfield += u->nfield;                                                                                                    \
        free(u->field);                                                                                                            \
        u->field = NULL;                                                                                                           \
        u->nfield = 0;                                                                                                             \
    }
    APPEND_MOVE(tags, ntags)
    APPEND_MOVE(setvars, nsetvars)
    APPEND_MOVE(expirevars, nexpirevars)
    APPEND_MOVE(initcols, ninitcols)
    APPEND_MOVE(ctls, nctls)
#undef APPEND_MOVE
}

/* ---- checks ----------------------------------------------------------------------------------------- */

static int marker_exists(const rs_ruleset_t *rs, const char *name)
{
    for (size_t i = 0; i < rs->nrules; i++) {
        if (rs->rules[i]->kind == RS_RULE_MARKER && strcmp(rs->rules[i]->marker, name) == 0)
            return 1;
    }
    return 0;
}

int rs_ruleset_finish(rs_ruleset_t *rs, rs_errors_t *errs)
{
    size_t before = errs->count;
    lang_pending_t *p = lang_pending(rs);

    if (p->chain_tail != NULL) {
        rs_rule_t *t = p->chain_tail;
        rs_errors_add(errs, t->file, t->line, t->col, "rule has the chain action but no rule follows it");
        p->chain_tail = NULL;
    }

    /* removals first: updates of a removed rule are moot */
    size_t kept = 0;
    for (size_t i = 0; i < rs->nrules; i++) {
        rs_rule_t *r = rs->rules[i];
        if (removed(p, r))
            lang_rule_free(r);
        else
            rs->rules[kept++] = r;
    }
    rs->nrules = kept;
    free(p->id_slots);
    p->id_slots = NULL;
    p->id_cap = p->id_count = 0;
    for (size_t i = 0; i < rs->nrules; i++) {
        if (rs->rules[i]->id != 0)
            lang_id_insert(p, rs->rules[i]);
    }

    for (size_t i = 0; i < rs->nrules; i++) {
        for (rs_rule_t *r = rs->rules[i]; r != NULL; r = r->chain)
            apply_defaults(rs, (lang_rule_t *)r);
    }

    for (size_t i = 0; i < p->nupdate_targets; i++) {
        const lang_update_target_t *u = &p->update_targets[i];
        if (u->by_tag) {
            for (size_t k = 0; k < rs->nrules; k++) {
                if (rule_has_tag(rs->rules[k], u->tag))
                    add_targets(rs->rules[k], u);
            }
        } else if (u->ids.hi - u->ids.lo < 4096) {
            for (uint64_t id = u->ids.lo; id <= u->ids.hi; id++) {
                rs_rule_t *r = lang_id_find(p, (uint32_t)id);
                if (r != NULL)
                    add_targets(r, u);
            }
        } else {
            for (size_t k = 0; k < rs->nrules; k++) {
                if (rs->rules[k]->id >= u->ids.lo && rs->rules[k]->id <= u->ids.hi)
                    add_targets(rs->rules[k], u);
            }
        }
    }
    for (size_t i = 0; i < p->nupdate_actions; i++) {
        lang_update_action_t *u = &p->update_actions[i];
        rs_rule_t *r = lang_id_find(p, u->id);
        if (r != NULL)
            update_actions(r, u->actions);
    }

    /* applied: forget them so a second finish does not apply them twice */
    rs_rule_t **slots = p->id_slots;
    size_t cap = p->id_cap, count = p->id_count;
    p->id_slots = NULL;
    pending_free(p);
    p = rs->pending = lang_xcalloc(1, sizeof(lang_pending_t));
    p->id_slots = slots;
    p->id_cap = cap;
    p->id_count = count;

    for (size_t i = 0; i < rs->nrules; i++) {
        for (const rs_rule_t *r = rs->rules[i]; r != NULL; r = r->chain) {
            if (r->skip_after != NULL && !marker_exists(rs, r->skip_after))
                rs_errors_add(errs, r->file, r->line, r->col, "skipAfter: no SecMarker named '%s'", r->skip_after);
        }
    }
    return errs->count == before ? 0 : -1;
}
