/* SPDX-License-Identifier: MIT */
/* Variable resolution for the rule engine: what a target (VAR, VAR:key, VAR:/regex/, &VAR, with !VAR:key
 * exclusions) yields for the running transaction, macro expansion (%{tx.x}, %{MATCHED_VAR}, %{rule.id}),
 * and the TX and persistent collections that setvar writes. Semantics follow ModSecurity v3: scalar
 * variables always yield one value (empty when never set), collection keys compare case-insensitively. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <pcre2.h>
#include <stdint.h>
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
    rs_tx_set_scalar(tx, var, num, rs_fmt_ll(num, v));
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
    size_t n = rs_fmt_ll(num, v);
    return rs_str(rs_arena_dup(&tx->arena, num, n), n);
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
    if (var == RS_VAR_TX && key != NULL) {
        long i = rs_tx_find_tx(tx, k);
        if (i >= 0)
            *out = tx->coll[RS_VAR_TX].items[i].value;
        return i >= 0;
    }
    int base = names_of(var);
    const rs_kvlist_t *l = base >= 0 ? (base == RS_VAR_MATCHED_VARS ? &tx->matched_vars : &tx->coll[base])
                                     : (var == RS_VAR_MATCHED_VARS ? &tx->matched_vars : &tx->coll[var]);
    for (size_t i = 0; i < l->n; i++)
        if (key == NULL || rs_key_ieq(l->items[i].key, k)) {
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

/* A VAR:/regex/ selector that is only a literal, optionally anchored at the start (CRS's TX:/^HEADER_NAME_/),
 * tested without PCRE: the regex is caseless, so the literal is compared without case. */
typedef struct st_key_literal_t {
    int ok, anchored;
    rs_str_t text;
} key_literal_t;

static key_literal_t key_literal_of(const rs_target_t *t)
{
    key_literal_t kl = {0};
    const char *src = t->key_regex_src;
    if (t->key_regex == NULL || src == NULL)
        return kl;
    kl.anchored = src[0] == '^';
    const char *p = src + kl.anchored;
    size_t n = 0;
    for (; p[n] != '\0'; n++) {
        char c = p[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return kl; /* anything else may be syntax */
    }
    kl.ok = n != 0;
    kl.text = rs_str(p, n);
    return kl;
}

static int key_literal_match(const key_literal_t *kl, rs_str_t key)
{
    if (key.len < kl->text.len)
        return 0;
    if (kl->anchored)
        return rs_key_ieq(rs_str(key.base, kl->text.len), kl->text);
    for (size_t i = 0; i + kl->text.len <= key.len; i++)
        if (rs_key_ieq(rs_str(key.base + i, kl->text.len), kl->text))
            return 1;
    return 0;
}

static int selector_match_lit(rs_tx_t *tx, const rs_target_t *t, const key_literal_t *kl, rs_str_t key)
{
    if (kl->ok)
        return key_literal_match(kl, key);
    if (t->key_regex != NULL)
        return key_regex_match(tx, t->key_regex, key);
    if (t->key != NULL)
        return rs_key_ieq(key, rs_str(t->key, t->key_len));
    return 1;
}

static int selector_match(rs_tx_t *tx, const rs_target_t *t, rs_str_t key)
{
    key_literal_t kl = key_literal_of(t);
    return selector_match_lit(tx, t, &kl, key);
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
    (*vals)[(*n)++] = (rs_val_t){(uint16_t)var, 0, key, value};
}

/* ---- ModSecurity v3's member order ------------------------------------------------------------------ */

/* v3 stores ARGS, headers, cookies, files... in std::unordered_multimap<std::string, ..., MyHash, MyEqual>
 * (hash: sum of the lower-cased bytes) and visits members in the hashtable's list order, which decides which
 * match is the last one (MATCHED_VAR, logdata) and the order of multiMatch messages. This is libstdc++'s
 * (GCC 12) multi-key insertion and prime rehash policy, replayed over the members in insertion order (checked
 * against std::unordered_multimap itself, and against libmodsecurity on requests with many arguments). */
static const uint32_t v3_primes[] = {
    2,    3,    5,    7,    11,   13,    17,    19,    23,    29,    31,    37,    41,    43,    47,    53,    59,
    61,   67,   71,   73,   79,   83,    89,    97,    103,   109,   113,   127,   137,   139,   149,   157,   167,
    179,  193,  199,  211,  227,  241,   257,   277,   293,   313,   337,   359,   383,   409,   439,   467,   503,
    541,  577,  619,  661,  709,  761,   823,   887,   953,   1031,  1109,  1193,  1289,  1381,  1493,  1613,  1741,
    1879, 2029, 2179, 2357, 2549, 2753,  2971,  3209,  3469,  3739,  4027,  4349,  4703,  5087,  5503,  5953,  6427,
    6949, 7517, 8123, 8783, 9497, 10273, 11113, 12011, 12983, 14033, 15173, 16411, 17749, 19183, 20753, 22447, 24281};

typedef struct st_v3_table_t {
    size_t nb, next_resize;
    int32_t *next, *bkt, head, bb; /* bkt[b]: node before bucket b's first node; bb stands for before-begin */
    const size_t *hash;
    const rs_kv_t *items;
} v3_table_t;

static size_t v3_next_bkt(v3_table_t *h, size_t n)
{
    static const unsigned char fast[] = {2, 2, 2, 3, 5, 5, 7, 7, 11, 11, 11, 11, 13, 13};
    if (n < sizeof(fast)) {
        if (n == 0)
            return 1;
        h->next_resize = fast[n];
        return fast[n];
    }
    size_t np = sizeof(v3_primes) / sizeof(v3_primes[0]), i = 6;
    while (i < np - 1 && v3_primes[i] < n)
        i++;
    h->next_resize = v3_primes[i];
    return v3_primes[i];
}

static int32_t *v3_next_of(v3_table_t *h, int32_t node)
{
    return node == h->bb ? &h->head : &h->next[node];
}

static void v3_rehash(rs_tx_t *tx, v3_table_t *h, size_t nb)
{
    int32_t *nbk = rs_arena_alloc(&tx->arena, nb * sizeof(int32_t));
    for (size_t i = 0; i < nb; i++)
        nbk[i] = -1;
    int32_t p = h->head, prev_p = -1;
    h->head = -1;
    size_t bbegin_bkt = 0, prev_bkt = 0;
    int check = 0;
    while (p >= 0) {
        int32_t next = h->next[p];
        size_t b = h->hash[p] % nb;
        if (prev_p >= 0 && prev_bkt == b) {
            h->next[p] = h->next[prev_p];
            h->next[prev_p] = p;
            check = 1;
        } else {
            if (check) {
                if (h->next[prev_p] >= 0 && h->hash[h->next[prev_p]] % nb != prev_bkt)
                    nbk[h->hash[h->next[prev_p]] % nb] = prev_p;
                check = 0;
            }
            if (nbk[b] < 0) {
                h->next[p] = h->head;
                h->head = p;
                nbk[b] = h->bb;
                if (h->next[p] >= 0)
                    nbk[bbegin_bkt] = p;
                bbegin_bkt = b;
            } else {
                int32_t *pn = v3_next_of(h, nbk[b]);
                h->next[p] = *pn;
                *pn = p;
            }
        }
        prev_p = p;
        prev_bkt = b;
        p = next;
    }
    if (check && h->next[prev_p] >= 0 && h->hash[h->next[prev_p]] % nb != prev_bkt)
        nbk[h->hash[h->next[prev_p]] % nb] = prev_p;
    h->bkt = nbk;
    h->nb = nb;
}

static void v3_insert(rs_tx_t *tx, v3_table_t *h, int32_t node, size_t nelt)
{
    if (nelt + 1 > h->next_resize) {
        size_t min_bkts = nelt + 1 > (h->next_resize ? 0 : 11) ? nelt + 1 : 11; /* max load factor 1 */
        if (min_bkts >= h->nb) {
            size_t want = min_bkts + 1 > h->nb * 2 ? min_bkts + 1 : h->nb * 2;
            v3_rehash(tx, h, v3_next_bkt(h, want));
        } else
            h->next_resize = h->nb;
    }
    size_t b = h->hash[node] % h->nb;
    int32_t prev = -1;
    if (h->bkt[b] >= 0) { /* an equivalent key in the bucket: the new node goes just before the first one */
        int32_t pp = h->bkt[b];
        for (int32_t p = *v3_next_of(h, pp);; p = h->next[p]) {
            if (h->hash[p] == h->hash[node] && rs_key_ieq(h->items[p].key, h->items[node].key)) {
                prev = pp;
                break;
            }
            if (h->next[p] < 0 || h->hash[h->next[p]] % h->nb != b)
                break;
            pp = p;
        }
    }
    if (prev < 0 && h->bkt[b] >= 0)
        prev = h->bkt[b];
    if (prev >= 0) {
        int32_t *pn = v3_next_of(h, prev);
        h->next[node] = *pn;
        *pn = node;
    } else { /* empty bucket: the node starts the whole list */
        h->next[node] = h->head;
        h->head = node;
        if (h->next[node] >= 0)
            h->bkt[h->hash[h->next[node]] % h->nb] = node;
        h->bkt[b] = h->bb;
    }
}

/* Collections that ModSecurity v3 holds in such a multimap (the *_NAMES ones share their base's order). */
static int v3_multimap(int var)
{
    switch (var) {
    case RS_VAR_ARGS:
    case RS_VAR_ARGS_GET:
    case RS_VAR_ARGS_POST:
    case RS_VAR_REQUEST_HEADERS:
    case RS_VAR_REQUEST_COOKIES:
    case RS_VAR_FILES:
    case RS_VAR_FILES_NAMES:
    case RS_VAR_FILES_SIZES:
    case RS_VAR_FILES_TMP_CONTENT:
    case RS_VAR_MULTIPART_PART_HEADERS:
    case RS_VAR_RESPONSE_HEADERS:
    case RS_VAR_TX: /* InMemoryPerProcess, same container (its order is replayed from the live keys only) */
        return 1;
    default:
        return 0;
    }
}

/* Indices of l's members in v3's visiting order, or NULL to keep insertion order. */
static const uint32_t *v3_order(rs_tx_t *tx, int var, const rs_kvlist_t *l)
{
    if (!v3_multimap(var) || l->n < 2 || l->n > INT32_MAX / 2)
        return NULL;
    /* the order depends on the keys only: reused until a key is added or removed (TX changes without changing
     * its size when a key is deleted and another added, hence the version and not only the count) */
    if (tx->v3order_gen[var] == tx->gen && tx->v3order_n[var] == l->n && tx->v3order_version[var] == tx->coll_version[var])
        return tx->v3order[var];
    size_t n = l->n;
    size_t *hash = rs_arena_alloc(&tx->arena, n * sizeof(size_t));
    for (size_t i = 0; i < n; i++) {
        size_t h = 0;
        for (size_t k = 0; k < l->items[i].key.len; k++)
            h += (size_t)(unsigned char)tolower((unsigned char)l->items[i].key.base[k]);
        hash[i] = h;
    }
    /* AnchoredSetVariable's constructor calls reserve(10): 11 buckets, the next resize at 11 members;
     * InMemoryPerProcess (TX) calls reserve(1000): 1031 buckets */
    size_t nb = var == RS_VAR_TX ? 1031 : 11;
    v3_table_t h = {.nb = nb, .next_resize = nb, .head = -1, .bb = (int32_t)n, .hash = hash, .items = l->items};
    h.next = rs_arena_alloc(&tx->arena, n * sizeof(int32_t));
    h.bkt = rs_arena_alloc(&tx->arena, nb * sizeof(int32_t));
    for (size_t b = 0; b < nb; b++)
        h.bkt[b] = -1;
    for (size_t i = 0; i < n; i++)
        v3_insert(tx, &h, (int32_t)i, i);
    uint32_t *order = rs_arena_alloc(&tx->arena, n * sizeof(uint32_t));
    size_t k = 0;
    for (int32_t p = h.head; p >= 0 && k < n; p = h.next[p])
        order[k++] = (uint32_t)p;
    tx->v3order[var] = order;
    tx->v3order_n[var] = n;
    tx->v3order_gen[var] = tx->gen;
    tx->v3order_version[var] = tx->coll_version[var];
    return order;
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
    if (var == RS_VAR_TX && t->key != NULL && t->key_regex == NULL) {
        /* TX holds each key once (rs_tx_coll_set replaces): TX:key is one indexed lookup */
        rs_str_t k = rs_str(t->key, t->key_len);
        long i = rs_tx_find_tx(tx, k);
        if (t->is_count) {
            push_val(vals, nvals, cap, var, k, fmt_num(tx, i >= 0));
            (*vals)[*nvals - 1].whole = 0;
        } else if (i >= 0 && !excluded(tx, r, var, tx->coll[RS_VAR_TX].items[i].key))
            push_val(vals, nvals, cap, var, tx->coll[RS_VAR_TX].items[i].key, tx->coll[RS_VAR_TX].items[i].value);
        return;
    }
    int base = names_of(var);
    rs_kvlist_t scratch = {0};
    const rs_kvlist_t *l = members(tx, base >= 0 ? base : var, &scratch);
    size_t count = 0;
    /* v3 lists the members of a VAR:key selection in hashtable order and those of a whole collection or a
     * VAR:/regex/ selection in reverse hashtable order */
    const uint32_t *order = t->is_count ? NULL : v3_order(tx, base >= 0 ? base : var, l);
    int reverse = order != NULL && !(t->key != NULL && t->key_regex == NULL);
    key_literal_t kl = key_literal_of(t);
    for (size_t j = 0; j < l->n; j++) {
        size_t i = order == NULL ? j : order[reverse ? l->n - 1 - j : j];
        rs_str_t k = l->items[i].key;
        if (!selector_match_lit(tx, t, &kl, k))
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
        (*vals)[*nvals - 1].whole = t->key == NULL && t->key_regex == NULL;
    }
}

/* ---- setvar targets --------------------------------------------------------------------------------- */

/* Hash of a TX key without case from its length and four of its bytes: cheap for the names CRS uses, which
 * differ in length or at the ends (anomaly_score_pl1 / _pl2); equal hashes are told apart by comparing. */
static size_t fold_hash(rs_str_t key)
{
    if (key.len == 0)
        return 0;
    const unsigned char *p = (const unsigned char *)key.base;
    size_t n = key.len;
    uint32_t a = p[0] | 0x20, b = p[n - 1] | 0x20, c = p[n / 2] | 0x20, d = p[n / 3] | 0x20;
    uint64_t h = ((uint64_t)n << 32) ^ (a << 24) ^ (b << 16) ^ (c << 8) ^ d;
    h *= 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 29);
}

static void txidx_put(rs_tx_t *tx, size_t member)
{
    size_t mask = tx->txidx_cap - 1, h = fold_hash(tx->coll[RS_VAR_TX].items[member].key) & mask;
    while (tx->txidx[h] != 0)
        h = (h + 1) & mask;
    tx->txidx[h] = (uint32_t)member + 1;
}

/* (Re)builds the TX index when it is stale (another request, or a key was removed). */
static void txidx_sync(rs_tx_t *tx)
{
    const rs_kvlist_t *l = &tx->coll[RS_VAR_TX];
    if (tx->txidx_gen == tx->gen && tx->txidx_version == tx->coll_version[RS_VAR_TX] && tx->txidx != NULL)
        return;
    size_t cap = tx->txidx_cap ? tx->txidx_cap : 256;
    while (cap < l->n * 2 + 2)
        cap *= 2;
    if (cap != tx->txidx_cap) {
        free(tx->txidx);
        tx->txidx = malloc(cap * sizeof(uint32_t));
        if (tx->txidx == NULL)
            abort();
        tx->txidx_cap = cap;
    }
    memset(tx->txidx, 0, cap * sizeof(uint32_t));
    for (size_t i = 0; i < l->n; i++)
        txidx_put(tx, i);
    tx->txidx_gen = tx->gen;
    tx->txidx_version = tx->coll_version[RS_VAR_TX];
}

long rs_tx_find_tx(rs_tx_t *tx, rs_str_t key)
{
    txidx_sync(tx);
    const rs_kvlist_t *l = &tx->coll[RS_VAR_TX];
    size_t mask = tx->txidx_cap - 1, h = fold_hash(key) & mask;
    for (; tx->txidx[h] != 0; h = (h + 1) & mask)
        if (rs_key_ieq(l->items[tx->txidx[h] - 1].key, key))
            return (long)tx->txidx[h] - 1;
    return -1;
}

void rs_tx_coll_set(rs_tx_t *tx, int var, rs_str_t key, rs_str_t value)
{
    if (is_persistent_store(var)) {
        rs_store_set(var, tx->coll_key[var], key, value, tx->db->rs->collection_timeout);
        return;
    }
    rs_kvlist_t *l = &tx->coll[var];
    rs_str_t v = rs_str(rs_arena_dup(&tx->arena, value.base, value.len), value.len);
    if (var == RS_VAR_TX) {
        long i = rs_tx_find_tx(tx, key);
        if (i >= 0) {
            l->items[i].value = v;
            return;
        }
        rs_kvlist_push(l, rs_str(rs_arena_dup(&tx->arena, key.base, key.len), key.len), v);
        tx->coll_version[var]++;
        if (l->n * 2 + 2 <= tx->txidx_cap) { /* keep the index in step; a full one is rebuilt larger */
            txidx_put(tx, l->n - 1);
            tx->txidx_version = tx->coll_version[var];
        }
        return;
    }
    for (size_t i = 0; i < l->n; i++)
        if (rs_key_ieq(l->items[i].key, key)) {
            l->items[i].value = v;
            return;
        }
    rs_kvlist_push(l, rs_str(rs_arena_dup(&tx->arena, key.base, key.len), key.len), v);
    tx->coll_version[var]++;
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
        if (!rs_key_ieq(l->items[i].key, key))
            l->items[o++] = l->items[i];
    if (o != l->n)
        tx->coll_version[var]++;
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
