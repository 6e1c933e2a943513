/* SPDX-License-Identifier: MIT */
/* Private structures of the rule engine: the compiled database (rules per phase, transformation-chain trie,
 * prefilter automata), the per-thread transaction scratch, and the process-wide persistent collections.
 * Shared by db.c, tx.c, vars.c, store.c and the CLI; nothing here is part of the public contract. */
#ifndef RS_ENGINE_INTERNAL_H
#define RS_ENGINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "ir.h"
#include "rs.h"

/* ---- compiled database ------------------------------------------------------------------------------ */

/** A node of the trie of transformation chains: node 0 is the empty chain; node n applies `transform` to
 *  the result of `parent`. Every rule's t: chain ends at one node, so shared prefixes are computed once. */
typedef struct st_rs_tnode_t {
    uint32_t parent;
    uint8_t transform;
    uint16_t depth;
} rs_tnode_t;

/** Literal prefilter of one transformation chain: one automaton per case mode over the literals of every
 *  prefiltered operator whose rule uses that chain. Automaton ids are operator slots (bit numbers). */
typedef struct st_rs_pfchain_t {
    rs_ac_t *ac_case, *ac_nocase;
    uint32_t nslots; /* prefiltered operators on this chain */
} rs_pfchain_t;

/** A rule as the engine runs it (chain members too). */
typedef struct st_rs_crule_t rs_crule_t;
struct st_rs_crule_t {
    const rs_rule_t *rule;
    rs_crule_t *chain;      /* next member of the chain */
    const rs_crule_t *head; /* the chain head (itself for heads) */
    uint32_t tnode;         /* final node of the t: chain */
    int32_t pf_slot;        /* bit in its chain's prefilter, -1 when the operator always runs */
    uint8_t is_marker, is_unconditional, has_block;
    uint8_t op_has_macro;
    uint8_t tx_member; /* its one target is TX:key (no regex, count or exclusion): read by a direct lookup */
    uint8_t pf_nlits;  /* when its prefilter literals are this few, they are searched directly (0: use the memo) */
    uint8_t pf_nocase;
    rs_str_t *pf_lits;
    rs_macro_t op_macro; /* the operator parameter as a macro, when it has %{...} */
    uint32_t index;      /* position in the phase list (heads), for traces */
};

struct st_rs_db_t {
    atomic_int refs;
    rs_ruleset_t *rs;
    int engine_mode;
    int use_prefilter;
    rs_crule_t *crules; /* all rules, heads and members */
    size_t ncrules;
    rs_crule_t **phase[6]; /* heads and markers per phase 1..5, in load order (markers in every phase) */
    size_t nphase[6];
    rs_tnode_t *tnodes;
    size_t ntnodes;
    rs_pfchain_t *pf; /* per tnode (NULL when no prefilter) */
    uint8_t uses_var[RS_VAR__COUNT];
    rs_db_stats_t stats;
    struct st_rs_cand_db_t *cand; /* one-pass candidate scan (cand.c); NULL without the prefilter */
};

/* ---- transaction scratch ---------------------------------------------------------------------------- */

/** Bump allocator made of blocks that are kept across requests: reset makes them all free again. */
typedef struct st_rs_arena_block_t {
    struct st_rs_arena_block_t *next;
    size_t cap, used;
    char data[];
} rs_arena_block_t;

typedef struct st_rs_arena_t {
    rs_arena_block_t *first, *cur;
} rs_arena_t;

void *rs_arena_alloc(rs_arena_t *a, size_t n);
char *rs_arena_dup(rs_arena_t *a, const char *s, size_t n); /* NUL-terminated copy */
void rs_arena_reset(rs_arena_t *a);
void rs_arena_free(rs_arena_t *a);

typedef struct st_rs_kv_t {
    rs_str_t key, value;
} rs_kv_t;

typedef struct st_rs_kvlist_t {
    rs_kv_t *items;
    size_t n, cap;
} rs_kvlist_t;

void rs_kvlist_push(rs_kvlist_t *l, rs_str_t key, rs_str_t value);

/** Decimal text of v into buf (at least 21 bytes, not NUL-terminated); returns its length. As "%lld", without
 *  printf's cost: counters and scores are formatted on every setvar. */
static inline size_t rs_fmt_ll(char *buf, long long v)
{
    char tmp[24];
    size_t n = 0;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    size_t len = 0;
    if (v < 0)
        buf[len++] = '-';
    while (n > 0)
        buf[len++] = tmp[--n];
    return len;
}

/** ASCII case-insensitive equality, inlined: member keys are compared on every read of a collection. */
/* ASCII letters of eight bytes made lower case at once: 0x20 is added to the bytes in 'A'..'Z' only. */
static inline uint64_t rs_fold8(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t low7 = x & ~high;
    uint64_t at_least_a = low7 + ones * (0x80 - 'A'), above_z = low7 + ones * (0x80 - 'Z' - 1);
    uint64_t upper = at_least_a & ~above_z & ~x & high;
    return x | (upper >> 2);
}

/** Whether two strings are equal but for ASCII letter case (keys, and strings the automaton cannot tell apart). */
static inline int rs_key_ieq(rs_str_t a, rs_str_t b)
{
    if (a.len != b.len)
        return 0;
    if (a.base == b.base)
        return 1;
    size_t i = 0;
    for (; i + 8 <= a.len; i += 8) {
        uint64_t x, y;
        memcpy(&x, a.base + i, 8);
        memcpy(&y, b.base + i, 8);
        if (x != y && rs_fold8(x) != rs_fold8(y))
            return 0;
    }
    for (; i < a.len; i++) {
        unsigned x = (unsigned char)a.base[i], y = (unsigned char)b.base[i];
        if (x != y && x + ((x - 'A' < 26u) << 5) != y + ((y - 'A' < 26u) << 5))
            return 0;
    }
    return 1;
}

/** One value a target resolved to. */
typedef struct st_rs_val_t {
    uint16_t var;
    uint8_t whole; /* a &VAR count of a whole collection: named "VAR", not "VAR:" */
    rs_str_t key;  /* member key (collections), empty for scalars */
    rs_str_t value;
} rs_val_t;

/** Memo of transformations: (input bytes identity, chain node) -> output, plus the prefilter result. */
typedef struct st_rs_tcache_ent_t {
    const char *in_base;
    size_t in_len;
    uint32_t node;
    uint32_t gen;
    rs_str_t out;
    uint64_t *hits; /* prefilter: bit per slot of the chain, NULL until scanned */
} rs_tcache_ent_t;

/** What a rule evaluation reports (ModSecurity's RuleMessage). */
typedef struct st_rs_rulemsg_t {
    int save;
    int disruptive;
    int severity;
    rs_str_t msg, logdata;
    int has_msg, has_logdata;
} rs_rulemsg_t;

typedef enum { RS_ALLOWTYPE_NONE = 0, RS_ALLOWTYPE_ALL, RS_ALLOWTYPE_PHASE, RS_ALLOWTYPE_REQUEST } rs_allowtype_t;

typedef struct st_rs_remove_target_t {
    uint8_t by_tag;
    uint32_t id_lo, id_hi;
    const char *tag;
    const rs_target_t *target;
} rs_remove_target_t;

struct st_rs_tx_t {
    rs_db_t *db;
    rs_memo_t *memo, *memo_next; /* shared verdict memo (NULL: the transaction's own); next: from rs_tx_use_memo */
    const rs_request_t *req;
    rs_arena_t arena;
    rs_op_scratch_t *opscratch;
    void *match_data; /* pcre2_match_data for key selectors */
    rs_buf_t tbuf;    /* transformation output */
    rs_buf_t mbuf;    /* macro expansion */
    rs_buf_t xbuf;    /* XML text being collected */

    /* variables */
    rs_str_t scalar[RS_VAR__COUNT];
    uint8_t scalar_set[RS_VAR__COUNT];
    rs_kvlist_t coll[RS_VAR__COUNT]; /* used for the collection variables that hold their own members */
    uint64_t args_combined;
    int highest_severity;
    int body_processor; /* rs_body_processor_t chosen by Content-Type or ctl */
    int body_type;      /* what Content-Type alone said: URLENCODED / MULTIPART / NONE */
    int body_access;    /* -1: as configured, else ctl */
    int force_body_var;
    int engine_mode;
    rs_str_t coll_key[RS_VAR__COUNT]; /* initcol keys of the persistent collections */
    struct timespec start, start_mono;

    /* evaluation state */
    uint32_t skip_next;
    const char *marker;
    int allow_type;
    int intercepted; /* a disruptive action ran: later rules and phases do nothing */
    int it_status;   /* ModSecurity's intervention status (200 = none) */
    rs_str_t it_url;
    int disposition;
    int would_block, would_status;
    uint32_t decided_by;
    unsigned limit_hits;
    int body_error, body_over_limit;
    int phase_done[6];
    int cur_phase;
    const rs_crule_t *cur_rule;

    /* MATCHED_VAR* */
    int matched_set;
    rs_str_t matched_var, matched_name;
    rs_kvlist_t matched_vars; /* key = full name, value = value */

    /* runtime exceptions from ctl */
    uint32_t (*remove_ids)[2];
    size_t nremove_ids, cap_remove_ids;
    const char **remove_tags;
    size_t nremove_tags, cap_remove_tags;
    rs_remove_target_t *remove_targets;
    size_t nremove_targets, cap_remove_targets;

    /* matches */
    rs_match_t *matches;
    size_t nmatches, cap_matches;

    /* transformation memo */
    rs_tcache_ent_t *tcache;
    uint32_t *tindex; /* open addressing: entry index + 1, valid when tgen matches */
    uint32_t *tindex_gen;
    size_t tindex_cap, ntcache, cap_tcache;
    uint32_t gen;

    /* values being evaluated */
    rs_val_t *vals;
    size_t nvals, cap_vals;

    /* ModSecurity v3 keeps collections in std::unordered_multimap: the order it visits members in, emulated
     * per collection (vars.c), cached for the list length it was computed for in this request */
    uint32_t *v3order[RS_VAR__COUNT];
    size_t v3order_n[RS_VAR__COUNT];
    uint32_t v3order_gen[RS_VAR__COUNT];
    uint32_t v3order_version[RS_VAR__COUNT]; /* coll_version the order was computed at */
    uint32_t coll_version[RS_VAR__COUNT];    /* bumped when a key is added to or removed from coll[var] */
    /* TX keys -> member index + 1 (open addressing, keys folded to lower case): CRS reads and sets ~100 TX
     * keys by name per request; valid while txidx_gen == gen and txidx_version == coll_version[RS_VAR_TX] */
    uint32_t *txidx;
    size_t txidx_cap;
    uint32_t txidx_gen, txidx_version;

    rs_trace_fn trace;
    void *trace_ctx;
    struct st_rs_cand_tx_t *cand; /* candidate scan scratch (cand.c) */
};

/* vars.c */
void rs_tx_collect(rs_tx_t *tx, const rs_crule_t *cr, const rs_target_t *t, rs_val_t **vals, size_t *nvals, size_t *cap);
int rs_tx_first_value(rs_tx_t *tx, int var, const char *key, size_t key_len, rs_str_t *out);
rs_str_t rs_tx_full_name(rs_tx_t *tx, int var, rs_str_t key);
rs_str_t rs_tx_expand(rs_tx_t *tx, const rs_macro_t *m);
void rs_tx_set_scalar(rs_tx_t *tx, int var, const char *s, size_t n);
void rs_tx_set_scalar_num(rs_tx_t *tx, int var, long long v);
rs_kvlist_t *rs_tx_coll(rs_tx_t *tx, int var);
/** Index of TX's member with this key (ASCII case ignored), or -1. */
long rs_tx_find_tx(rs_tx_t *tx, rs_str_t key);
void rs_tx_coll_set(rs_tx_t *tx, int var, rs_str_t key, rs_str_t value); /* TX and persistent: set or replace */
void rs_tx_coll_del(rs_tx_t *tx, int var, rs_str_t key);

/* store.c: IP, GLOBAL, SESSION, USER, RESOURCE shared by all transactions of the process */
int rs_store_get(int var, rs_str_t ckey, rs_str_t key, rs_arena_t *a, rs_str_t *out);
void rs_store_list(int var, rs_str_t ckey, rs_arena_t *a, rs_kvlist_t *out);
void rs_store_set(int var, rs_str_t ckey, rs_str_t key, rs_str_t value, uint32_t timeout);
void rs_store_del(int var, rs_str_t ckey, rs_str_t key);
void rs_store_expire(int var, rs_str_t ckey, rs_str_t key, long seconds);
void rs_store_clear(void); /* tests */

/* tx.c: shared with the CLI for traces */
int rs_tx_trace_on(const rs_tx_t *tx);
void rs_tx_tracef(rs_tx_t *tx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* cand.c: which rules can match at all, from one scan of every fixed request value per phase */
typedef struct st_rs_cand_db_t rs_cand_db_t;
typedef struct st_rs_cand_tx_t rs_cand_tx_t;
rs_cand_db_t *rs_cand_build(rs_db_t *db);
void rs_cand_free(rs_cand_db_t *c);
/** Scans the phase's values (call after the body is processed, before the phase's rules). */
void rs_cand_scan(rs_tx_t *tx, int phase);
/** 0 when the rule cannot match in this phase (none of its literals occurs); 1 when it must be evaluated. */
int rs_cand_may_match(const rs_tx_t *tx, const rs_crule_t *cr);
void rs_cand_tx_free(rs_cand_tx_t *ct);
/** Slotted rules and how many are candidates after the last scan (stats, tests). */
void rs_cand_counts(const rs_tx_t *tx, unsigned *slots, unsigned *candidates);
/** The verdict memo the transaction uses (its thread's or its own), kept across requests (stats, tests). */
typedef struct st_rs_cand_cache_stats_t {
    rs_memo_stats_t counts; /* lookups since the memo was made (rs_memo_stats) */
    size_t live;            /* verdict entries held now */
    size_t capacity;        /* entries it can hold */
    size_t memory_bytes;    /* fixed once allocated */
} rs_cand_cache_stats_t;
void rs_cand_cache_stats(const rs_tx_t *tx, rs_cand_cache_stats_t *st);

/* db.c */
int rs_db_tnode_chain(const rs_db_t *db, uint32_t node, uint8_t *out, size_t max);

#endif
