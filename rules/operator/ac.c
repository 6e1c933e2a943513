/* SPDX-License-Identifier: MIT */
/* Aho-Corasick multi-literal automaton, used by @pm / @pmFromFile and by the engine's one-pass prefilter.
 * States are numbered breadth-first; the shallow ones (where a scan spends nearly all its time) get a dense
 * DFA row over byte equivalence classes, so the hot loop is one table load per input byte. Deep states beyond a
 * memory budget keep only their trie edges and a failure link, which bounds memory for very large phrase lists. */
#include "operator/op_internal.h"

#include <stdlib.h>
#include <string.h>

#define AC_OUT    0x80000000u /* target state reports matches */
#define AC_SPARSE 0x40000000u /* target is a sparse state: low bits are its id (else a premultiplied dense row) */
#define AC_VALUE  0x3fffffffu
#define AC_NONE   0xffffffffu

#define AC_DEFAULT_DENSE_BUDGET ((size_t)4 << 20) /* dense entries (x4 bytes) */

struct st_rs_ac_t {
    uint8_t byte_class[256]; /* byte -> equivalence class (ASCII case folded when nocase) */
    uint32_t nclasses;
    uint32_t nstates, ndense;
    uint32_t *dense; /* ndense rows of nclasses encoded targets */
    /* sparse states (id >= ndense): trie edges sorted by class, and failure link */
    uint32_t *edge_first; /* indexed by id - ndense, size nsparse + 1 */
    uint8_t *edge_class;
    uint32_t *edge_target; /* encoded */
    uint32_t *fail;        /* indexed by id - ndense; plain state ids */
    /* outputs: own pattern ids of state s are out_ids[out_first[s] .. out_first[s + 1]), then follow out_link */
    uint32_t *out_first;
    uint32_t *out_ids;
    uint32_t *out_link;
    uint32_t *empty_ids; /* ids of empty patterns: reported once, at offset 0 */
    size_t nempty;
};

static void *ac_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        abort();
    return p;
}

static uint8_t fold(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* Build-time trie node: children as a sibling list. */
typedef struct {
    uint32_t first_child, next_sibling;
    uint32_t fail;
    uint32_t order; /* breadth-first number */
    uint8_t cls;
} trie_node_t;

typedef struct {
    uint32_t state, id;
} ac_term_t;

static int cmp_term(const void *a, const void *b)
{
    const ac_term_t *x = a, *y = b;
    if (x->state != y->state)
        return x->state < y->state ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static uint32_t trie_child(const trie_node_t *t, uint32_t s, uint8_t cls)
{
    for (uint32_t k = t[s].first_child; k != AC_NONE; k = t[k].next_sibling)
        if (t[k].cls == cls)
            return k;
    return AC_NONE;
}

static uint32_t encode(const rs_ac_t *ac, uint32_t state)
{
    uint32_t v = state < ac->ndense ? state * ac->nclasses : (AC_SPARSE | state);
    if (ac->out_first[state + 1] > ac->out_first[state] || ac->out_link[state] != AC_NONE)
        v |= AC_OUT;
    return v;
}

static uint32_t decode(const rs_ac_t *ac, uint32_t v)
{
    v &= ~AC_OUT;
    return (v & AC_SPARSE) ? (v & AC_VALUE) : v / ac->nclasses;
}

/* Transition of a sparse state: its own edge, else the failure chain down to a dense row. */
static uint32_t sparse_next(const rs_ac_t *ac, uint32_t state, uint32_t cls)
{
    while (state >= ac->ndense) {
        uint32_t i = state - ac->ndense;
        for (uint32_t e = ac->edge_first[i]; e < ac->edge_first[i + 1]; e++)
            if (ac->edge_class[e] == cls)
                return ac->edge_target[e];
        state = ac->fail[i];
    }
    return ac->dense[(size_t)state * ac->nclasses + cls];
}

rs_ac_t *rs_ac_build_budget(const rs_str_t *patterns, const uint32_t *ids, size_t n, int nocase, size_t dense_budget)
{
    if (n == 0)
        return NULL;
    rs_ac_t *ac = ac_calloc(1, sizeof(*ac));

    /* Equivalence classes: class 0 for bytes that occur in no pattern, one class per distinct (folded) byte. */
    uint8_t used[256] = {0};
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += patterns[i].len;
        for (size_t j = 0; j < patterns[i].len; j++) {
            uint8_t c = (uint8_t)patterns[i].base[j];
            used[nocase ? fold(c) : c] = 1;
        }
    }
    uint32_t nclasses = 1;
    uint8_t class_of[256] = {0};
    for (int c = 0; c < 256; c++)
        if (used[c])
            class_of[c] = (uint8_t)nclasses++;
    for (int c = 0; c < 256; c++)
        ac->byte_class[c] = class_of[nocase ? fold((uint8_t)c) : c];
    ac->nclasses = nclasses;
    if (total + 1 > AC_VALUE)
        abort(); /* over a billion pattern bytes: not a rule set */

    /* Trie. */
    trie_node_t *t = ac_calloc(total + 1, sizeof(*t));
    uint32_t nstates = 1;
    t[0].first_child = t[0].next_sibling = AC_NONE;
    ac_term_t *terms = ac_calloc(n, sizeof(*terms));
    size_t nterms = 0;
    ac->empty_ids = ac_calloc(n, sizeof(uint32_t));
    for (size_t i = 0; i < n; i++) {
        uint32_t id = ids ? ids[i] : (uint32_t)i;
        if (patterns[i].len == 0) {
            ac->empty_ids[ac->nempty++] = id;
            continue;
        }
        uint32_t s = 0;
        for (size_t j = 0; j < patterns[i].len; j++) {
            uint8_t cls = ac->byte_class[(uint8_t)patterns[i].base[j]];
            uint32_t k = trie_child(t, s, cls);
            if (k == AC_NONE) {
                k = nstates++;
                t[k].cls = cls;
                t[k].first_child = AC_NONE;
                t[k].next_sibling = t[s].first_child;
                t[s].first_child = k;
            }
            s = k;
        }
        terms[nterms++] = (ac_term_t){s, id};
    }
    ac->nstates = nstates;

    /* Breadth-first order and failure links (computed by chasing failures in the trie). */
    uint32_t *queue = ac_calloc(nstates, sizeof(uint32_t));
    size_t qh = 0, qt = 0;
    queue[qt++] = 0;
    t[0].fail = 0;
    while (qh < qt) {
        uint32_t s = queue[qh];
        t[s].order = (uint32_t)qh++;
        for (uint32_t k = t[s].first_child; k != AC_NONE; k = t[k].next_sibling) {
            if (s == 0) {
                t[k].fail = 0;
            } else {
                uint32_t f = t[s].fail, nx;
                while ((nx = trie_child(t, f, t[k].cls)) == AC_NONE && f != 0)
                    f = t[f].fail;
                t[k].fail = nx == AC_NONE ? 0 : nx;
            }
            queue[qt++] = k;
        }
    }

    /* Outputs, in breadth-first numbering. */
    for (size_t i = 0; i < nterms; i++)
        terms[i].state = t[terms[i].state].order;
    qsort(terms, nterms, sizeof(*terms), cmp_term);
    ac->out_first = ac_calloc((size_t)nstates + 1, sizeof(uint32_t));
    ac->out_ids = ac_calloc(nterms, sizeof(uint32_t));
    size_t ti = 0;
    for (uint32_t s = 0; s < nstates; s++) {
        ac->out_first[s] = (uint32_t)ti;
        while (ti < nterms && terms[ti].state == s) {
            ac->out_ids[ti] = terms[ti].id;
            ti++;
        }
    }
    ac->out_first[nstates] = (uint32_t)ti;
    free(terms);
    ac->out_link = ac_calloc(nstates, sizeof(uint32_t));
    ac->out_link[0] = AC_NONE;
    for (uint32_t o = 1; o < nstates; o++) { /* failure targets come earlier in breadth-first order */
        uint32_t f = t[t[queue[o]].fail].order;
        ac->out_link[o] = ac->out_first[f + 1] > ac->out_first[f] ? f : ac->out_link[f];
    }

    /* Dense rows for the first states in breadth-first order, as many as the budget allows. */
    size_t ndense = dense_budget / nclasses;
    if (ndense < 1)
        ndense = 1;
    if (ndense > nstates)
        ndense = nstates;
    if (ndense * nclasses > AC_VALUE)
        ndense = AC_VALUE / nclasses;
    ac->ndense = (uint32_t)ndense;
    ac->dense = ac_calloc(ndense * nclasses, sizeof(uint32_t));
    for (uint32_t o = 0; o < ndense; o++) {
        uint32_t s = queue[o];
        uint32_t *row = &ac->dense[(size_t)o * nclasses];
        if (o == 0) {
            uint32_t root_enc = encode(ac, 0);
            for (uint32_t c = 0; c < nclasses; c++)
                row[c] = root_enc;
        } else {
            memcpy(row, &ac->dense[(size_t)t[t[s].fail].order * nclasses], nclasses * sizeof(uint32_t));
        }
        for (uint32_t k = t[s].first_child; k != AC_NONE; k = t[k].next_sibling)
            row[t[k].cls] = encode(ac, t[k].order);
    }

    /* Sparse states: edges sorted by class, failure link. */
    uint32_t nsparse = nstates - ac->ndense;
    ac->edge_first = ac_calloc((size_t)nsparse + 1, sizeof(uint32_t));
    ac->fail = ac_calloc(nsparse, sizeof(uint32_t));
    size_t nedges = 0;
    for (uint32_t o = ac->ndense; o < nstates; o++)
        for (uint32_t k = t[queue[o]].first_child; k != AC_NONE; k = t[k].next_sibling)
            nedges++;
    ac->edge_class = ac_calloc(nedges, 1);
    ac->edge_target = ac_calloc(nedges, sizeof(uint32_t));
    size_t e = 0;
    for (uint32_t o = ac->ndense; o < nstates; o++) {
        uint32_t s = queue[o];
        ac->edge_first[o - ac->ndense] = (uint32_t)e;
        ac->fail[o - ac->ndense] = t[t[s].fail].order;
        for (uint32_t k = t[s].first_child; k != AC_NONE; k = t[k].next_sibling) {
            ac->edge_class[e] = t[k].cls;
            ac->edge_target[e] = encode(ac, t[k].order);
            e++;
        }
    }
    ac->edge_first[nsparse] = (uint32_t)e;
    free(queue);
    free(t);
    return ac;
}

rs_ac_t *rs_ac_build(const rs_str_t *patterns, const uint32_t *ids, size_t n, int nocase)
{
    return rs_ac_build_budget(patterns, ids, n, nocase, AC_DEFAULT_DENSE_BUDGET);
}

void rs_ac_free(rs_ac_t *ac)
{
    if (ac == NULL)
        return;
    free(ac->dense);
    free(ac->edge_first);
    free(ac->edge_class);
    free(ac->edge_target);
    free(ac->fail);
    free(ac->out_first);
    free(ac->out_ids);
    free(ac->out_link);
    free(ac->empty_ids);
    free(ac);
}

/* Reports every pattern ending in `state` (own ones, then along the output links). */
static int report(const rs_ac_t *ac, uint32_t state, size_t end, int (*on_match)(void *, uint32_t, size_t), void *ctx)
{
    while (state != AC_NONE) {
        for (uint32_t i = ac->out_first[state]; i < ac->out_first[state + 1]; i++)
            if (on_match(ctx, ac->out_ids[i], end))
                return 1;
        state = ac->out_link[state];
    }
    return 0;
}

int rs_ac_scan(const rs_ac_t *ac, const char *s, size_t len, int (*on_match)(void *ctx, uint32_t id, size_t end), void *ctx)
{
    if (ac == NULL)
        return 0;
    for (size_t i = 0; i < ac->nempty; i++)
        if (on_match(ctx, ac->empty_ids[i], 0))
            return 1;
    const uint32_t *dense = ac->dense;
    const uint8_t *cls = ac->byte_class;
    const uint8_t *p = (const uint8_t *)s;
    uint32_t cur = 0; /* encoded root */
    for (size_t i = 0; i < len; i++) {
        cur = (cur & AC_SPARSE) == 0 ? dense[cur + cls[p[i]]] : sparse_next(ac, cur & AC_VALUE, cls[p[i]]);
        if (__builtin_expect((cur & AC_OUT) != 0, 0)) {
            cur &= ~AC_OUT;
            if (report(ac, decode(ac, cur), i + 1, on_match, ctx))
                return 1;
        }
    }
    return 0;
}

size_t rs_ac_memory(const rs_ac_t *ac)
{
    if (ac == NULL)
        return 0;
    size_t nsparse = ac->nstates - ac->ndense;
    size_t nedges = ac->edge_first[nsparse];
    return sizeof(*ac) + (size_t)ac->ndense * ac->nclasses * sizeof(uint32_t) + (nsparse + 1) * sizeof(uint32_t) +
           nedges * (1 + sizeof(uint32_t)) + nsparse * sizeof(uint32_t) + ((size_t)ac->nstates + 1) * sizeof(uint32_t) +
           ac->out_first[ac->nstates] * sizeof(uint32_t) + (size_t)ac->nstates * sizeof(uint32_t) + ac->nempty * sizeof(uint32_t);
}
