/* SPDX-License-Identifier: MIT */
/* Aho-Corasick multi-literal automaton, compiled to a dense DFA over byte equivalence classes. Used by @pm /
 * @pmFromFile and by the engine's one-pass prefilter. The scan loop is one table load per input byte; states
 * that report matches are flagged in the top bit of the transition so the common path has no extra check. */
#include "operator/operator.h"

#include <stdlib.h>
#include <string.h>

#define AC_OUT_FLAG 0x80000000u
#define AC_NO_STATE 0xffffffffu

struct st_rs_ac_t {
    uint8_t byte_class[256]; /* byte -> equivalence class (ASCII case folded when nocase) */
    uint32_t nclasses;
    uint32_t nstates;
    /* delta[state * nclasses + class] = next_state * nclasses, | AC_OUT_FLAG when next_state reports */
    uint32_t *delta;
    /* Own patterns of a state: out_ids[out_first[s] .. out_first[s + 1]). Then follow out_link. */
    uint32_t *out_first;
    uint32_t *out_ids;
    uint32_t *out_link;  /* nearest proper suffix state with own patterns, AC_NO_STATE if none */
    uint32_t *empty_ids; /* ids of empty patterns: reported once, at offset 0 */
    size_t nempty;
};

static void *ac_alloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (p == NULL)
        abort();
    return p;
}

static void *ac_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        abort();
    return q;
}

static uint8_t fold(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* One (state, pattern) pair recorded while building the trie; sorted by state afterwards. */
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

rs_ac_t *rs_ac_build(const rs_str_t *patterns, const uint32_t *ids, size_t n, int nocase)
{
    if (n == 0)
        return NULL;
    rs_ac_t *ac = ac_alloc(sizeof(*ac));

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

    /* Trie, stored directly in the dense table: 0 = no edge (the root is never a child). */
    size_t max_states = total + 1;
    uint32_t *go = ac_alloc(max_states * nclasses * sizeof(uint32_t));
    uint32_t nstates = 1;
    ac_term_t *terms = ac_alloc(n * sizeof(*terms));
    size_t nterms = 0;
    ac->empty_ids = ac_alloc(n * sizeof(uint32_t));
    for (size_t i = 0; i < n; i++) {
        uint32_t id = ids ? ids[i] : (uint32_t)i;
        if (patterns[i].len == 0) {
            ac->empty_ids[ac->nempty++] = id;
            continue;
        }
        uint32_t s = 0;
        for (size_t j = 0; j < patterns[i].len; j++) {
            uint32_t cls = ac->byte_class[(uint8_t)patterns[i].base[j]];
            uint32_t *edge = &go[(size_t)s * nclasses + cls];
            if (*edge == 0)
                *edge = nstates++;
            s = *edge;
        }
        terms[nterms++] = (ac_term_t){s, id};
    }
    go = ac_realloc(go, (size_t)nstates * nclasses * sizeof(uint32_t));
    ac->nstates = nstates;

    /* Own outputs per state. */
    qsort(terms, nterms, sizeof(*terms), cmp_term);
    ac->out_first = ac_alloc(((size_t)nstates + 1) * sizeof(uint32_t));
    ac->out_ids = ac_alloc((nterms ? nterms : 1) * sizeof(uint32_t));
    size_t t = 0;
    for (uint32_t s = 0; s < nstates; s++) {
        ac->out_first[s] = (uint32_t)t;
        while (t < nterms && terms[t].state == s) {
            ac->out_ids[t] = terms[t].id;
            t++;
        }
    }
    ac->out_first[nstates] = (uint32_t)t;
    free(terms);

    /* BFS: failure links, output links, and completion of the DFA. */
    uint32_t *fail = ac_alloc((size_t)nstates * sizeof(uint32_t));
    uint32_t *queue = ac_alloc((size_t)nstates * sizeof(uint32_t));
    ac->out_link = ac_alloc((size_t)nstates * sizeof(uint32_t));
    for (uint32_t s = 0; s < nstates; s++)
        ac->out_link[s] = AC_NO_STATE;
    size_t qh = 0, qt = 0;
    for (uint32_t c = 0; c < nclasses; c++) {
        uint32_t nx = go[c];
        if (nx != 0) {
            fail[nx] = 0;
            queue[qt++] = nx;
        }
    }
    while (qh < qt) {
        uint32_t s = queue[qh++];
        uint32_t f = fail[s];
        ac->out_link[s] = (ac->out_first[f + 1] > ac->out_first[f]) ? f : ac->out_link[f];
        for (uint32_t c = 0; c < nclasses; c++) {
            uint32_t *edge = &go[(size_t)s * nclasses + c];
            if (*edge != 0) {
                fail[*edge] = go[(size_t)f * nclasses + c];
                queue[qt++] = *edge;
            } else {
                *edge = go[(size_t)f * nclasses + c]; /* f is shallower: already completed */
            }
        }
    }
    free(fail);
    free(queue);

    /* Premultiply targets and flag reporting states. */
    for (size_t e = 0; e < (size_t)nstates * nclasses; e++) {
        uint32_t nx = go[e];
        uint32_t v = nx * nclasses;
        if (ac->out_first[nx + 1] > ac->out_first[nx] || ac->out_link[nx] != AC_NO_STATE)
            v |= AC_OUT_FLAG;
        go[e] = v;
    }
    ac->delta = go;
    return ac;
}

void rs_ac_free(rs_ac_t *ac)
{
    if (ac == NULL)
        return;
    free(ac->delta);
    free(ac->out_first);
    free(ac->out_ids);
    free(ac->out_link);
    free(ac->empty_ids);
    free(ac);
}

/* Reports every pattern ending in `state` (own ones, then along the output links). */
static int report(const rs_ac_t *ac, uint32_t state, size_t end, int (*on_match)(void *, uint32_t, size_t), void *ctx)
{
    while (state != AC_NO_STATE) {
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
    const uint32_t *delta = ac->delta;
    const uint8_t *cls = ac->byte_class;
    const uint8_t *p = (const uint8_t *)s;
    uint32_t cur = 0; /* premultiplied state */
    for (size_t i = 0; i < len; i++) {
        cur = delta[cur + cls[p[i]]];
        if (__builtin_expect((cur & AC_OUT_FLAG) != 0, 0)) {
            cur &= ~AC_OUT_FLAG;
            if (report(ac, cur / ac->nclasses, i + 1, on_match, ctx))
                return 1;
        }
    }
    return 0;
}

size_t rs_ac_memory(const rs_ac_t *ac)
{
    if (ac == NULL)
        return 0;
    size_t nterms = ac->out_first[ac->nstates];
    return sizeof(*ac) + (size_t)ac->nstates * ac->nclasses * sizeof(uint32_t) + ((size_t)ac->nstates + 1) * sizeof(uint32_t) +
           nterms * sizeof(uint32_t) + (size_t)ac->nstates * sizeof(uint32_t) + ac->nempty * sizeof(uint32_t);
}
