/* SPDX-License-Identifier: MIT */
/* rs_db_t: compiles a parsed rule set into what transactions run: rules per phase in load order (SecMarker
 * in every phase, as ModSecurity), chain links, a trie of transformation chains so shared prefixes are
 * computed once per value, and the literal prefilter: per chain, Aho-Corasick automata over the required
 * literals of the operators of the rules using that chain. Immutable after compile; atomically refcounted. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_internal.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (p == NULL)
        abort();
    return p;
}

/* Finds or adds the trie node for `parent` followed by `transform`. */
static uint32_t tnode_child(rs_db_t *db, size_t *cap, uint32_t parent, uint8_t transform)
{
    for (size_t i = 1; i < db->ntnodes; i++)
        if (db->tnodes[i].parent == parent && db->tnodes[i].transform == transform)
            return (uint32_t)i;
    if (db->ntnodes == *cap) {
        *cap *= 2;
        db->tnodes = realloc(db->tnodes, *cap * sizeof(*db->tnodes));
        if (db->tnodes == NULL)
            abort();
    }
    db->tnodes[db->ntnodes] = (rs_tnode_t){parent, transform, (uint16_t)(db->tnodes[parent].depth + 1)};
    return (uint32_t)db->ntnodes++;
}

int rs_db_tnode_chain(const rs_db_t *db, uint32_t node, uint8_t *out, size_t max)
{
    int depth = db->tnodes[node].depth;
    for (int d = depth - 1; d >= 0 && node != 0; d--) {
        if ((size_t)d < max)
            out[d] = db->tnodes[node].transform;
        node = db->tnodes[node].parent;
    }
    return depth;
}

static void mark_macro(rs_db_t *db, const rs_macro_t *m)
{
    for (size_t i = 0; i < m->nparts; i++)
        if (m->parts[i].kind == RS_MP_VAR)
            db->uses_var[m->parts[i].var] = 1;
}

/* Literal sets collected per chain before the automata are built. */
typedef struct st_pf_build_t {
    rs_str_t *pats[2];
    uint32_t *ids[2];
    size_t n[2], cap[2];
} pf_build_t;

static void pf_add(pf_build_t *b, int nocase, rs_str_t lit, uint32_t id)
{
    if (b->n[nocase] == b->cap[nocase]) {
        b->cap[nocase] = b->cap[nocase] ? b->cap[nocase] * 2 : 32;
        b->pats[nocase] = realloc(b->pats[nocase], b->cap[nocase] * sizeof(rs_str_t));
        b->ids[nocase] = realloc(b->ids[nocase], b->cap[nocase] * sizeof(uint32_t));
        if (b->pats[nocase] == NULL || b->ids[nocase] == NULL)
            abort();
    }
    char *copy = rs_strndup(lit.base, lit.len);
    b->pats[nocase][b->n[nocase]] = rs_str(copy, lit.len);
    b->ids[nocase][b->n[nocase]] = id;
    b->n[nocase]++;
}

static void setup_crule(rs_db_t *db, rs_crule_t *cr, const rs_rule_t *r, rs_crule_t *head, size_t *tcap)
{
    cr->rule = r;
    cr->head = head;
    cr->pf_slot = -1;
    cr->is_marker = r->kind == RS_RULE_MARKER;
    cr->is_unconditional = r->kind == RS_RULE_SECACTION || (r->kind == RS_RULE_SECRULE && r->op == NULL);
    cr->has_block = r->disruptive == RS_DISRUPT_BLOCK;
    uint32_t node = 0;
    for (size_t i = 0; i < r->ntransforms; i++)
        node = tnode_child(db, tcap, node, r->transforms[i]);
    cr->tnode = node;
    const rs_target_t *t0 = r->ntargets == 1 ? &r->targets[0] : NULL;
    cr->tx_member = r->kind == RS_RULE_SECRULE && r->op != NULL && t0 != NULL && t0->var == RS_VAR_TX && t0->key != NULL &&
                    t0->key_regex == NULL && !t0->is_count && !t0->is_negated;
    if (r->op != NULL && rs_op_has_macro(r->op)) {
        rs_str_t p = rs_op_param(r->op);
        char *err = NULL;
        if (rs_macro_parse(p.base, p.len, &cr->op_macro, &err) == 0) {
            cr->op_has_macro = 1;
            mark_macro(db, &cr->op_macro);
        }
        free(err);
    }
    for (size_t i = 0; i < r->ntargets; i++)
        db->uses_var[r->targets[i].var] = 1;
    mark_macro(db, &r->msg);
    mark_macro(db, &r->logdata);
    for (size_t i = 0; i < r->nsetvars; i++) {
        mark_macro(db, &r->setvars[i].name);
        mark_macro(db, &r->setvars[i].value);
    }
}

/* Prefiltered rules with at most this many literals search for them directly in a value until some rule of the
 * same chain has scanned it with the chain's automaton (the prefilter mostly serves chain members now: the
 * candidate scan settles the heads). */
#define PF_DIRECT_MAX 4

static void build_prefilter(rs_db_t *db)
{
    pf_build_t *pb = xcalloc(db->ntnodes, sizeof(*pb));
    db->pf = xcalloc(db->ntnodes, sizeof(*db->pf));
    for (size_t i = 0; i < db->ncrules; i++) {
        rs_crule_t *cr = &db->crules[i];
        const rs_rule_t *r = cr->rule;
        if (r->kind != RS_RULE_SECRULE || r->op == NULL)
            continue;
        /* Only regexes are worth guarding: @pm and the string operators are literal scans already, and
         * their phrase lists would only make every chain's automaton bigger. */
        if (r->multi_match || cr->op_has_macro || rs_op_kind(r->op) != RS_OP_RX) {
            db->stats.unfiltered++;
            continue;
        }
        rs_str_t *lits = NULL;
        int nocase = 0;
        int n = rs_op_required_literals(r->op, &lits, &nocase);
        int usable = n > 0;
        for (int k = 0; k < n && usable; k++)
            if (lits[k].len == 0)
                usable = 0;
        if (!usable) {
            if (n >= 0) /* n == 0: an operator that never matches; it simply runs unfiltered */
                rs_op_literals_free(lits, n);
            db->stats.unfiltered++;
            continue;
        }
        rs_pfchain_t *pc = &db->pf[cr->tnode];
        cr->pf_slot = (int32_t)pc->nslots++;
        for (int k = 0; k < n; k++)
            pf_add(&pb[cr->tnode], nocase ? 1 : 0, lits[k], (uint32_t)cr->pf_slot);
        db->stats.literals += (unsigned)n;
        db->stats.prefiltered++;
        if (n <= PF_DIRECT_MAX) { /* kept: a search for a few literals beats scanning a value for all of them */
            cr->pf_lits = lits;
            cr->pf_nlits = (uint8_t)n;
            cr->pf_nocase = (uint8_t)nocase;
        } else
            rs_op_literals_free(lits, n);
    }
    for (size_t t = 0; t < db->ntnodes; t++) {
        for (int c = 0; c < 2; c++) {
            if (pb[t].n[c] == 0)
                continue;
            rs_ac_t *ac = rs_ac_build(pb[t].pats[c], pb[t].ids[c], pb[t].n[c], c);
            if (c)
                db->pf[t].ac_nocase = ac;
            else
                db->pf[t].ac_case = ac;
            if (ac != NULL)
                db->stats.memory_bytes += rs_ac_memory(ac);
            for (size_t k = 0; k < pb[t].n[c]; k++)
                free((char *)pb[t].pats[c][k].base);
            free(pb[t].pats[c]);
            free(pb[t].ids[c]);
        }
    }
    free(pb);
}

static char *dir_of(const char *path)
{
    const char *slash = path != NULL ? strrchr(path, '/') : NULL;
    if (slash == NULL)
        return rs_strndup(".", 1);
    if (slash == path)
        return rs_strndup("/", 1);
    return rs_strndup(path, (size_t)(slash - path));
}

rs_db_t *rs_db_compile(const rs_source_t *sources, size_t nsources, const rs_compile_opts_t *opts, rs_errors_t *errs)
{
    double t0 = now_ms();
    rs_errors_t local = {0};
    if (errs == NULL)
        errs = &local;
    size_t errs_before = errs->count;
    rs_ruleset_t *rs = rs_ruleset_new();
    if (rs == NULL)
        return NULL;
    for (size_t i = 0; i < nsources; i++) {
        const rs_source_t *s = &sources[i];
        if (s->text != NULL) {
            char *dir = dir_of(s->path);
            rs_parse_text(rs, s->path ? s->path : "<inline>", dir, s->text, s->text_len, errs);
            free(dir);
        } else
            rs_parse_file(rs, s->path, errs);
    }
    if (errs->count == errs_before)
        rs_ruleset_finish(rs, errs);
    if (errs->count != errs_before) {
        rs_ruleset_free(rs);
        rs_errors_free(&local);
        return NULL;
    }

    rs_db_t *db = xcalloc(1, sizeof(*db));
    atomic_init(&db->refs, 1);
    db->rs = rs;
    db->use_prefilter = opts == NULL ? 1 : opts->use_prefilter;
    db->engine_mode = (opts != NULL && opts->engine_mode >= 0) ? opts->engine_mode : rs->engine_mode;

    size_t tcap = 64;
    db->tnodes = xcalloc(tcap, sizeof(*db->tnodes));
    db->ntnodes = 1;

    size_t total = 0;
    for (size_t i = 0; i < rs->nrules; i++)
        for (const rs_rule_t *r = rs->rules[i]; r != NULL; r = r->chain)
            total++;
    db->crules = xcalloc(total, sizeof(*db->crules));
    for (int p = 1; p <= 5; p++)
        db->phase[p] = xcalloc(rs->nrules, sizeof(rs_crule_t *));

    size_t k = 0;
    for (size_t i = 0; i < rs->nrules; i++) {
        const rs_rule_t *r = rs->rules[i];
        rs_crule_t *head = &db->crules[k];
        rs_crule_t *prev = NULL;
        for (const rs_rule_t *m = r; m != NULL; m = m->chain) {
            rs_crule_t *cr = &db->crules[k++];
            setup_crule(db, cr, m, head, &tcap);
            if (prev != NULL)
                prev->chain = cr;
            prev = cr;
            db->stats.rules++;
            if (m->op != NULL && rs_op_kind(m->op) == RS_OP_RX)
                db->stats.regexes++;
        }
        if (head->is_marker) {
            db->stats.rules--;
            for (int p = 1; p <= 5; p++) {
                head->index = (uint32_t)db->nphase[p];
                db->phase[p][db->nphase[p]++] = head;
            }
        } else if (r->phase >= 1 && r->phase <= 5) {
            head->index = (uint32_t)db->nphase[r->phase];
            db->phase[r->phase][db->nphase[r->phase]++] = head;
            db->stats.rules_by_phase[r->phase]++;
        }
    }
    db->ncrules = k;
    for (int p = 1; p <= 5; p++)
        if (rs->default_actions[p] != NULL)
            for (size_t i = 0; i < rs->default_actions[p]->nsetvars; i++)
                mark_macro(db, &rs->default_actions[p]->setvars[i].value);

    if (db->use_prefilter) {
        build_prefilter(db);
        db->cand = rs_cand_build(db);
    } else
        for (size_t i = 0; i < db->ncrules; i++)
            if (db->crules[i].rule->kind == RS_RULE_SECRULE && db->crules[i].rule->op != NULL)
                db->stats.unfiltered++;

    db->stats.memory_bytes += sizeof(*db) + db->ncrules * sizeof(rs_crule_t) + db->ntnodes * sizeof(rs_tnode_t);
    db->stats.engine_mode = db->engine_mode;
    db->stats.compile_ms = now_ms() - t0;
    rs_errors_free(&local);
    return db;
}

void rs_db_retain(rs_db_t *db)
{
    atomic_fetch_add_explicit(&db->refs, 1, memory_order_relaxed);
}

void rs_db_release(rs_db_t *db)
{
    if (db == NULL || atomic_fetch_sub_explicit(&db->refs, 1, memory_order_acq_rel) != 1)
        return;
    rs_cand_free(db->cand);
    for (size_t i = 0; i < db->ncrules; i++) {
        if (db->crules[i].op_has_macro)
            rs_macro_free(&db->crules[i].op_macro);
        if (db->crules[i].pf_lits != NULL)
            rs_op_literals_free(db->crules[i].pf_lits, db->crules[i].pf_nlits);
    }
    if (db->pf != NULL) {
        for (size_t t = 0; t < db->ntnodes; t++) {
            if (db->pf[t].ac_case != NULL)
                rs_ac_free(db->pf[t].ac_case);
            if (db->pf[t].ac_nocase != NULL)
                rs_ac_free(db->pf[t].ac_nocase);
        }
        free(db->pf);
    }
    for (int p = 1; p <= 5; p++)
        free(db->phase[p]);
    free(db->crules);
    free(db->tnodes);
    rs_ruleset_free(db->rs);
    free(db);
}

void rs_db_stats(const rs_db_t *db, rs_db_stats_t *stats)
{
    *stats = db->stats;
}
