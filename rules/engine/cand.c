/* SPDX-License-Identifier: MIT */
/* The one-pass candidate scan: what makes the compiled path cheaper than rule-by-rule evaluation.
 *
 * At compile time every rule whose targets are request variables that stay fixed during a phase (ARGS,
 * headers, cookies, URI, body, XML, ...) and whose operator needs one of a set of literals to match (regex
 * required literals, @pm phrases, @contains strings...) gets a slot. All those literals, case-folded, go into
 * one Aho-Corasick automaton; literal -> slots that need it.
 *
 * At the start of a phase, every value of those variables is transformed under the chains that some slotted
 * rule of that phase reads that value under (its variable, and its key when the rule names one member; a chain shares its
 * prefix with others in the trie, and a transformation that cannot change a value, judged from a one-pass
 * byte profile of it, is not even called), each DISTINCT resulting string is scanned once, and when one of a
 * slot's literals occurs in a string its own chain produced from a value it reads, that string is recorded
 * for the slot (strings equal but for letter case are scanned once: the automaton ignores case). When the
 * phase reaches the rule, its operator is run on the recorded strings only: the rule is a candidate when one
 * matches (or errs, or hits a work limit). What the scan learns about short strings (the operator's verdict
 * per slot, the literals found, each transformation node's output) is remembered across requests in a memo
 * (rs_memo_t, one per worker thread, or the transaction's own). A rule that is not a candidate cannot match
 * (its operator matches none of the values it could read) and is answered "no match" without collecting a
 * single value. Case folding, keys compared without case and ignoring the rule's negated targets only ever
 * add candidates, never remove one, so verdicts stay identical to the reference evaluator's
 * (tests/unit/rules/scan_vs_ref_test.c checks that on the corpus). */
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "transform/transform.h"

/* ---- which transformations can change which values ---------------------------------------------------- */

/* A byte profile: bit b set when byte b occurs. */
typedef struct st_profile_t {
    uint64_t w[4];
} profile_t;

/* At scan time a value's profile is one word: bit k set when a byte of trigger set k occurs (the distinct
 * trigger sets in use are numbered at build time; byte_groups[b] has the bits of the sets holding b). */
static uint32_t profile_of(const uint32_t *byte_groups, rs_str_t s)
{
    const unsigned char *c = (const unsigned char *)s.base;
    uint32_t g0 = 0, g1 = 0;
    size_t i = 0;
    for (; i + 2 <= s.len; i += 2) {
        g0 |= byte_groups[c[i]];
        g1 |= byte_groups[c[i + 1]];
    }
    if (i < s.len)
        g0 |= byte_groups[c[i]];
    return g0 | g1;
}

static void mask_add(profile_t *m, const char *bytes)
{
    for (const unsigned char *c = (const unsigned char *)bytes; *c != '\0'; c++)
        m->w[*c >> 6] |= 1ull << (*c & 63);
}

static void mask_range(profile_t *m, int lo, int hi)
{
    for (int b = lo; b <= hi; b++)
        m->w[b >> 6] |= 1ull << (b & 63);
}

#define WHITESPACE " \t\n\r\f\v"

/* The bytes without which a transformation leaves its input unchanged (conservative: a listed byte only
 * means "call it"). Transformations not listed always run. Checked by tests/unit/rules/cand_test.c. */
static int trigger_mask(const char *name, profile_t *m)
{
    memset(m, 0, sizeof(*m));
    if (strcmp(name, "lowercase") == 0) {
        mask_range(m, 'A', 'Z');
    } else if (strcmp(name, "uppercase") == 0) {
        mask_range(m, 'a', 'z');
    } else if (strcmp(name, "urlDecode") == 0 || strcmp(name, "urlDecodeUni") == 0) {
        mask_add(m, "%+");
    } else if (strcmp(name, "htmlEntityDecode") == 0) {
        mask_add(m, "&");
    } else if (strcmp(name, "jsDecode") == 0 || strcmp(name, "escapeSeqDecode") == 0) {
        mask_add(m, "\\");
    } else if (strcmp(name, "cssDecode") == 0) {
        mask_add(m, "\\");
        mask_range(m, 0, 0);
    } else if (strcmp(name, "removeNulls") == 0 || strcmp(name, "replaceNulls") == 0) {
        mask_range(m, 0, 0);
    } else if (strcmp(name, "removeWhitespace") == 0 || strcmp(name, "compressWhitespace") == 0 || strcmp(name, "trim") == 0 ||
               strcmp(name, "trimLeft") == 0 || strcmp(name, "trimRight") == 0) {
        mask_add(m, WHITESPACE);
        mask_range(m, 0x80, 0xff); /* non-breaking spaces and other locale whitespace */
    } else if (strcmp(name, "normalizePath") == 0 || strcmp(name, "normalizePathWin") == 0) {
        /* without a slash only a final "." or ".." segment can go (node_info_t.dot_end covers it) */
        mask_add(m, "/\\");
    } else if (strcmp(name, "cmdLine") == 0) {
        mask_range(m, 'A', 'Z');
        mask_add(m, "\\\"'^,;/(" WHITESPACE);
    } else if (strcmp(name, "replaceComments") == 0) {
        mask_add(m, "/*");
    } else if (strcmp(name, "removeComments") == 0 || strcmp(name, "removeCommentsChar") == 0) {
        mask_add(m, "/*-#<>");
    } else if (strcmp(name, "utf8toUnicode") == 0) {
        mask_range(m, 0x80, 0xff);
        mask_range(m, 0, 0);
    } else {
        return 0; /* unknown effect: always run */
    }
    return 1;
}

#define MAX_TRIGGER_SETS 32

/* ---- compile ------------------------------------------------------------------------------------------- */

/* Variables whose values cannot change while a phase's rules run (the body is processed before phase 2's). */
static int is_fixed_var(int var)
{
    switch (var) {
    case RS_VAR_ARGS:
    case RS_VAR_ARGS_GET:
    case RS_VAR_ARGS_POST:
    case RS_VAR_ARGS_NAMES:
    case RS_VAR_ARGS_GET_NAMES:
    case RS_VAR_ARGS_POST_NAMES:
    case RS_VAR_REQUEST_HEADERS:
    case RS_VAR_REQUEST_HEADERS_NAMES:
    case RS_VAR_REQUEST_COOKIES:
    case RS_VAR_REQUEST_COOKIES_NAMES:
    case RS_VAR_REQUEST_FILENAME:
    case RS_VAR_REQUEST_BASENAME:
    case RS_VAR_REQUEST_URI:
    case RS_VAR_REQUEST_URI_RAW:
    case RS_VAR_REQUEST_LINE:
    case RS_VAR_REQUEST_METHOD:
    case RS_VAR_REQUEST_PROTOCOL:
    case RS_VAR_REQUEST_BODY:
    case RS_VAR_QUERY_STRING:
    case RS_VAR_FILES:
    case RS_VAR_FILES_NAMES:
    case RS_VAR_FILES_TMP_CONTENT:
    case RS_VAR_MULTIPART_PART_HEADERS:
    case RS_VAR_XML:
    case RS_VAR_RESPONSE_HEADERS:
    case RS_VAR_RESPONSE_HEADERS_NAMES:
        return 1;
    default:
        return 0;
    }
}

/* Which members of a collection a target reads, as far as this scan tells them apart: all of them, the one
 * named (VAR:key), or those whose key starts with / contains a literal (VAR:/^literal/ and VAR:/literal/,
 * caseless regexes). Keys are compared without case: a superset of the engine's test. */
enum { SEL_ALL = 0, SEL_EXACT, SEL_PREFIX, SEL_SUBSTR };

typedef struct st_member_sel_t {
    int kind;
    rs_str_t text;
} member_sel_t;

typedef struct st_keyed_sel_t {
    int var;
    member_sel_t sel;
} keyed_sel_t;

#define RS_VAR_WORDS ((RS_VAR__COUNT + 63) / 64)
#define RS_MAX_STEPS 16 /* multiMatch chains up to this many steps get a literal slot per step */

/* Per transformation node, what the scan needs for every value: one cache line holds several nodes. */
typedef struct st_node_info_t {
    uint32_t parent;
    uint32_t group;  /* trigger-set bit; 0 with always set */
    uint8_t always;  /* no trigger set: the transformation always runs */
    uint8_t dot_end; /* also runs on a value ending in '.' (normalizePath) */
    uint8_t transform;
} node_info_t;

/* A chain some slotted rule reads a variable under: for every member (key NULL) or one member (its key). */
typedef struct st_var_need_t {
    uint32_t chain;
    int kind; /* SEL_* */
    const char *key;
    size_t key_len;
} var_need_t;

/* What one phase's scan computes: per variable, the chains its values must be scanned under. */
typedef struct st_scan_plan_t {
    var_need_t *needs[RS_VAR__COUNT];
    uint32_t nneeds[RS_VAR__COUNT];
    /* per variable, what every value needs (needs without a key), precomputed: the chains and the nodes to
     * compute in trie order; keyed needs left in needs[] name chains beyond those */
    uint32_t *base_chains[RS_VAR__COUNT], nbase_chains[RS_VAR__COUNT];
    uint32_t *base_nodes[RS_VAR__COUNT], nbase_nodes[RS_VAR__COUNT];
    /* per variable, the sweep slots that read it; sweep_all[i]: it reads every member (no key test needed) */
    uint32_t *sweeps[RS_VAR__COUNT], nsweeps[RS_VAR__COUNT];
    uint8_t *sweep_all[RS_VAR__COUNT];
    /* per variable, the member selections of rules that read only some members (VAR:key, VAR:/re/): a value
     * whose key none of them selects is scanned exactly like any other such value with the same bytes, so a
     * repeat of those bytes is skipped */
    member_sel_t *keyed_sels[RS_VAR__COUNT];
    uint32_t nkeyed_sels[RS_VAR__COUNT];
} scan_plan_t;

struct st_rs_cand_db_t {
    uint64_t id;         /* unique per database: scratch sized for another one is resized */
    int32_t *slot_of;    /* per crule index: its first slot, or -1 when the rule always runs */
    uint8_t *slot_count; /* per crule index: its slots (one per chain step for multiMatch with literals) */
    uint32_t nfiltered;  /* rules whose slots have literals (stats) */
    uint32_t nslots;
    uint16_t *slot_chain;        /* per slot: index into chains[] */
    const rs_op_t **slot_op;     /* per slot: the rule's operator */
    const rs_rule_t **slot_rule; /* per slot: the rule (its targets say which values it reads) */
    uint8_t *slot_sweep;         /* per slot: SWEEP_* (how its strings are recorded) */
    uint8_t *slot_two;           /* per slot: its operator needs a literal of each of two sets (group 0 and 1) */
    uint8_t *slot_cached;        /* per slot: its verdicts are worth keeping across requests (vcache_t) */
    /* per slot, bit per variable: it reads every member of it / some members (keys to test) */
    uint64_t (*slot_reads_all)[RS_VAR_WORDS];
    uint64_t (*slot_reads_some)[RS_VAR_WORDS];
    /* per slot, its member selections of the variables it reads only in part: keyed[first .. first + n) */
    uint32_t *slot_keyed_first;
    uint16_t *slot_keyed_n;
    keyed_sel_t *keyed;
    size_t nkeyed, cap_keyed;
    uint32_t nsweep;        /* slots without literals (stats) */
    scan_plan_t plans[6];   /* per phase 1..5: what the slotted rules of that phase read */
    uint32_t **chain_nodes; /* per chain: its nodes, root side first */
    uint32_t *chain_depth;
    uint32_t *chains; /* distinct final tnodes of slotted rules */
    uint32_t nchains;
    uint32_t *chain_index; /* per tnode: index into chains[] + 1, 0 when none */
    uint8_t *node_needed;  /* per tnode: on the path to a needed chain */
    node_info_t *ninfo;    /* per tnode: what the scan's inner loop reads, packed in one place */
    uint32_t byte_groups[256];
    profile_t group_masks[MAX_TRIGGER_SETS];
    uint32_t ngroups;
    rs_ac_t *ac;
    rs_str_t *lits;         /* the literals (folded), for stats and debugging */
    uint32_t **lit_slots;   /* per literal: slots that need it, as slot << 1 | literal set (0 or 1), by chain */
    uint32_t **lit_run_end; /* per literal and entry: index after the last entry of the same chain */
    uint32_t *lit_nslots;
    size_t nlits;
};

/* A distinct string content of the request. */
typedef struct st_intern_ent_t {
    const char *base;
    size_t len;
    uint64_t hash;
    uint32_t lit_first, lit_n;
    uint8_t lits_known;
    uint64_t vpos; /* where this request copied the bytes into the verdict cache's ring, VPOS_NONE before */
} intern_ent_t;

#define VPOS_NONE UINT64_MAX

/* How a slot's strings are found: by the automaton (one of its literals occurs), or every string it reads
 * (operators with no required literal; multiMatch also records every step of its chain that changed the
 * value). Either way the operator runs on each distinct content once, when the phase reaches the rule. */
enum { SWEEP_NONE = 0, SWEEP_FINAL, SWEEP_STEPS };

/* A string one of a slot's literals occurs in, under the slot's chain, from a value the slot reads. */
typedef struct st_cand_hit_t {
    rs_str_t str;
    uint32_t next; /* index + 1 of the slot's previous hit, 0 when none */
    uint32_t id;   /* str's intern id */
} cand_hit_t;

enum { VERDICT_UNKNOWN = 0, VERDICT_MATCH, VERDICT_NO_MATCH };

/* Verdicts of slot operators kept across requests (rs_memo_t: the one a worker thread shares among its
 * transactions, or a transaction's own): the same header values reach the same detectors and regexes on every
 * request. Found by (database, slot, bytes), the bytes compared in full (the hash only picks the set: a crafted
 * collision finds nothing). Bounded: a fixed set-associative table, strings of at most VCACHE_MAX_LEN bytes
 * copied into a ring that overwrites its oldest bytes (an entry whose bytes were overwritten is dead). Only
 * definite verdicts are kept (an error or a hit work limit is asked again). Entries name their database, so
 * tenants with different rule sets share one memo and a reload's old entries simply age out. */
#define VCACHE_WAYS     8
#define VCACHE_SET_BITS 9
#define VCACHE_MAX_LEN  256
#define VCACHE_RING     (128u << 10)
#define VCACHE_ENTRIES  (VCACHE_WAYS << VCACHE_SET_BITS)
/* The same memo keeps the automaton's findings per string (the literals it contains), in a table of its own
 * keyed by (database, bytes): a string seen before is not scanned again. Strings with more literals than an
 * entry holds are scanned every time. */
#define LCACHE_SET_BITS 8
#define LCACHE_ENTRIES  (VCACHE_WAYS << LCACHE_SET_BITS)
#define LCACHE_MAX_LITS 12
#define LITS_SLOT       UINT32_MAX /* the slot field of literal-table entries */
/* And the output of a transformation node for a string, keyed by (database, node, bytes): the same header
 * values go through the same lowercase / urlDecodeUni / cmdLine chains on every request. */
#define TCACHE_SET_BITS 8
#define TCACHE_ENTRIES  (VCACHE_WAYS << TCACHE_SET_BITS)

typedef struct st_vcache_ent_t {
    uint64_t db;  /* id of the candidate database whose slot it is */
    uint64_t pos; /* where its bytes start, counted in bytes ever written to the ring */
    uint32_t tag; /* from the hash of (slot, bytes), bit 0 set; 0 when empty */
    uint32_t slot;
    uint32_t used; /* lookup clock at its last use */
    uint16_t len;
    uint8_t value; /* the verdict (1 match, 0 no match); in the literal table, how many literals */
    /* found again since stored: entries that never were are replaced first, so a flood of new values does
     * not push out the values every request brings */
    uint8_t reused;
} vcache_ent_t;

typedef struct st_rs_memo_t {
    vcache_ent_t ents[VCACHE_ENTRIES];
    vcache_ent_t lents[LCACHE_ENTRIES];
    uint32_t lits[LCACHE_ENTRIES][LCACHE_MAX_LITS]; /* per literal-table entry: the literals found */
    uint64_t lit_hits, lit_misses;
    vcache_ent_t tents[TCACHE_ENTRIES]; /* value: 1 when the node changed the string (output below), else 0 */
    uint64_t tout_pos[TCACHE_ENTRIES];  /* per transformation entry: its output's bytes in the ring */
    uint32_t tout_prof[TCACHE_ENTRIES]; /* and their byte profile */
    uint16_t tout_len[TCACHE_ENTRIES];
    uint64_t tf_hits, tf_misses;
    uint64_t written; /* bytes ever written to the ring: the next goes at written % VCACHE_RING */
    uint32_t clock;
    uint64_t hits, misses;
    char ring[VCACHE_RING];
} vcache_t;

rs_memo_t *rs_memo_new(void)
{
    return calloc(1, sizeof(vcache_t));
}

void rs_memo_free(rs_memo_t *memo)
{
    free(memo);
}

void rs_memo_stats(const rs_memo_t *memo, rs_memo_stats_t *st)
{
    *st = (rs_memo_stats_t){memo->hits, memo->misses, memo->lit_hits, memo->lit_misses, memo->tf_hits, memo->tf_misses};
}

struct st_rs_cand_tx_t {
    uint64_t sized_for; /* id of the candidate db the arrays below fit */
    uint64_t *bits;     /* candidate slots of the current phase */
    int valid;          /* bits hold this phase's scan (0 before the first scan or when tracing) */
    rs_str_t *out;      /* per tnode: output for the value being scanned */
    uint32_t *prof;     /* per tnode: byte profile of its output for the value being scanned */
    uint32_t *stamp;    /* per chain: serial of the string it produced */
    uint32_t *seen;     /* per literal: serial of the string it was last found in */
    uint32_t *tried;    /* per slot: serial of the string it was last recorded for */
    uint32_t *gserial;  /* per two-set slot: serial of the string gmask describes */
    uint8_t *gmask;     /* per two-set slot: which of its literal sets occurred in that string */
    /* strings on which a slot's literal occurred, verified lazily: only rules the phase reaches pay */
    cand_hit_t *hits;
    size_t nhits, cap_hits;
    uint32_t *hit_head;   /* per slot: index + 1 of its latest hit, 0 when none */
    uint8_t *verdict;     /* per slot: VERDICT_* */
    uint32_t *node_stamp; /* per tnode: value serial when the node is needed for the value being scanned */
    uint32_t value_serial;
    uint32_t *want;  /* chains needed for the value being scanned (when a keyed need applies) */
    uint32_t *nodes; /* and the nodes to compute for them */
    uint8_t *wanted; /* per chain: in want[] */
    uint32_t serial; /* increases with every distinct string scanned */
    rs_buf_t tbuf;
    rs_val_t *vals;
    size_t nvals, cap_vals;
    /* distinct strings of the value being scanned */
    rs_str_t *strs;
    uint32_t *str_serial;
    uint32_t *str_id;
    size_t nstrs, cap_strs;
    /* strings interned by content for the whole request (id = index): one automaton scan per distinct content,
     * its literals kept for the next value with the same bytes */
    intern_ent_t *ients;
    size_t nients, cap_ients;
    uint32_t *itab, *itab_gen; /* open addressing: entry index, valid when itab_gen == igen */
    size_t itab_cap;
    uint32_t igen, itx_gen; /* itx_gen: tx->gen the interned strings belong to */
    uint32_t *ilits;        /* literal ids found, per entry a run [lit_first, lit_first + lit_n) */
    size_t nilits, cap_ilits;
    uint32_t *node_id; /* per tnode: intern id of its output for the value being scanned */
    /* (slot, string id) pairs already recorded in this scan: each slot verifies a content once */
    uint64_t *pset;
    uint32_t *pset_gen;
    size_t pset_cap, npset;
    uint32_t pgen;
    vcache_t *vcache; /* allocated at the first verification of a cached slot */
};

/* Literal dictionary used while building: literal text (folded) -> index, through an open-addressing table
 * (CRS phrase files hold thousands of literals). */
typedef struct st_lit_build_t {
    rs_str_t *lits;
    size_t n, cap;
    uint32_t **slots;
    uint32_t *nslots, *capslots;
    uint32_t *table; /* literal index + 1, 0 = empty */
    size_t tabcap;
} lit_build_t;

static size_t lit_hash(rs_str_t s)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < s.len; i++)
        h = (h ^ (unsigned char)s.base[i]) * 1099511628211ull;
    return (size_t)h;
}

static void lit_rehash(lit_build_t *b)
{
    size_t cap = b->tabcap ? b->tabcap * 2 : 1024;
    uint32_t *t = calloc(cap, sizeof(uint32_t));
    if (t == NULL)
        abort();
    for (size_t i = 0; i < b->n; i++) {
        size_t h = lit_hash(b->lits[i]) & (cap - 1);
        while (t[h] != 0)
            h = (h + 1) & (cap - 1);
        t[h] = (uint32_t)i + 1;
    }
    free(b->table);
    b->table = t;
    b->tabcap = cap;
}

static uint32_t lit_index(lit_build_t *b, rs_str_t lit)
{
    if ((b->n + 1) * 2 > b->tabcap)
        lit_rehash(b);
    size_t h = lit_hash(lit) & (b->tabcap - 1);
    for (; b->table[h] != 0; h = (h + 1) & (b->tabcap - 1)) {
        const rs_str_t *e = &b->lits[b->table[h] - 1];
        if (e->len == lit.len && memcmp(e->base, lit.base, lit.len) == 0)
            return b->table[h] - 1;
    }
    b->table[h] = (uint32_t)b->n + 1;
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 256;
        b->lits = realloc(b->lits, b->cap * sizeof(*b->lits));
        b->slots = realloc(b->slots, b->cap * sizeof(*b->slots));
        b->nslots = realloc(b->nslots, b->cap * sizeof(*b->nslots));
        b->capslots = realloc(b->capslots, b->cap * sizeof(*b->capslots));
        if (b->lits == NULL || b->slots == NULL || b->nslots == NULL || b->capslots == NULL)
            abort();
    }
    char *copy = rs_strndup(lit.base, lit.len);
    b->lits[b->n] = rs_str(copy, lit.len);
    b->slots[b->n] = NULL;
    b->nslots[b->n] = b->capslots[b->n] = 0;
    return (uint32_t)b->n++;
}

static void lit_add_slot(lit_build_t *b, uint32_t li, uint32_t slot)
{
    if (b->nslots[li] != 0 && b->slots[li][b->nslots[li] - 1] == slot)
        return;
    if (b->nslots[li] == b->capslots[li]) {
        b->capslots[li] = b->capslots[li] ? b->capslots[li] * 2 : 2;
        b->slots[li] = realloc(b->slots[li], b->capslots[li] * sizeof(uint32_t));
        if (b->slots[li] == NULL)
            abort();
    }
    b->slots[li][b->nslots[li]++] = slot;
}

static int rule_eligible(const rs_crule_t *cr)
{
    const rs_rule_t *r = cr->rule;
    if (r->kind != RS_RULE_SECRULE || r->op == NULL || cr->op_has_macro || rs_op_negated(r->op))
        return 0;
    size_t positive = 0;
    for (size_t i = 0; i < r->ntargets; i++) {
        const rs_target_t *t = &r->targets[i];
        if (t->is_count || !is_fixed_var(t->var))
            return 0;
        positive += !t->is_negated;
    }
    return positive != 0;
}

/* Operators whose run on a string costs more than finding its verdict in the cache (the string's hash is
 * known, the lookup compares its bytes once). */
static int op_worth_caching(const rs_op_t *op)
{
    switch (rs_op_kind(op)) {
    case RS_OP_RX:
    case RS_OP_DETECT_SQLI:
    case RS_OP_DETECT_XSS:
    case RS_OP_PM:
    case RS_OP_PMF:
    case RS_OP_CONTAINS:
    case RS_OP_CONTAINS_WORD:
    case RS_OP_VALIDATE_BYTE_RANGE:
    case RS_OP_VALIDATE_URL_ENCODING:
    case RS_OP_VALIDATE_UTF8_ENCODING:
        return 1;
    default:
        return 0;
    }
}

static int keyed_by_member(int var)
{
    switch (var) {
    case RS_VAR_ARGS:
    case RS_VAR_ARGS_GET:
    case RS_VAR_ARGS_POST:
    case RS_VAR_REQUEST_HEADERS:
    case RS_VAR_REQUEST_COOKIES:
        return 1;
    default:
        return 0; /* XML:/xpath, *_NAMES and the rest: whole variable */
    }
}

static member_sel_t member_sel_of(const rs_target_t *t)
{
    member_sel_t sel = {SEL_ALL, {NULL, 0}};
    if ((t->key == NULL && t->key_regex == NULL) || !keyed_by_member(t->var))
        return sel;
    if (t->key_regex == NULL) {
        sel.kind = SEL_EXACT;
        sel.text = rs_str(t->key, t->key_len);
        return sel;
    }
    const char *src = t->key_regex_src;
    if (src == NULL)
        return sel;
    int anchored = src[0] == '^';
    const char *p = src + anchored;
    size_t n = 0;
    for (; p[n] != '\0'; n++) {
        char ch = p[n];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
            return sel; /* regex syntax: whole variable */
    }
    if (n == 0)
        return sel;
    sel.kind = anchored ? SEL_PREFIX : SEL_SUBSTR;
    sel.text = rs_str(p, n);
    return sel;
}

static int sel_matches(int kind, rs_str_t text, rs_str_t key)
{
    switch (kind) {
    case SEL_ALL:
        return 1;
    case SEL_EXACT:
        return rs_key_ieq(key, text);
    case SEL_PREFIX:
        return key.len >= text.len && rs_key_ieq(rs_str(key.base, text.len), text);
    default:
        for (size_t i = 0; i + text.len <= key.len; i++)
            if (rs_key_ieq(rs_str(key.base + i, text.len), text))
                return 1;
        return 0;
    }
}

/* Whether slot reads the value `key` of variable `var`: every member (bitset), none, or one of the member
 * selections of its targets on var (precomputed at build). */
static int slot_reads(const rs_cand_db_t *c, uint32_t slot, int var, rs_str_t key)
{
    uint64_t bit = 1ull << (var & 63);
    if (c->slot_reads_all[slot][var >> 6] & bit)
        return 1;
    if (!(c->slot_reads_some[slot][var >> 6] & bit))
        return 0;
    for (uint32_t i = c->slot_keyed_first[slot]; i < c->slot_keyed_first[slot] + c->slot_keyed_n[slot]; i++)
        if (c->keyed[i].var == var && sel_matches(c->keyed[i].sel.kind, c->keyed[i].sel.text, key))
            return 1;
    return 0;
}

static void add_need(scan_plan_t *c, const rs_target_t *t, uint32_t chain)
{
    if (t->is_negated || t->is_count)
        return;
    member_sel_t sel = member_sel_of(t);
    var_need_t *v = c->needs[t->var];
    uint32_t n = c->nneeds[t->var];
    for (uint32_t i = 0; i < n; i++)
        if (v[i].chain == chain &&
            (v[i].kind == SEL_ALL || (v[i].kind == sel.kind && rs_key_ieq(rs_str(v[i].key, v[i].key_len), sel.text))))
            return;
    v = realloc(v, (n + 1) * sizeof(*v));
    if (v == NULL)
        abort();
    v[n] = (var_need_t){chain, sel.kind, sel.text.base, sel.text.len};
    c->needs[t->var] = v;
    c->nneeds[t->var] = n + 1;
}

/* Lists a sweep slot under the variable a positive target reads; all members unless a key narrows it. */
static void add_sweep(scan_plan_t *c, const rs_target_t *t, uint32_t slot)
{
    if (t->is_negated || t->is_count)
        return;
    int all = member_sel_of(t).kind == SEL_ALL;
    uint32_t n = c->nsweeps[t->var];
    for (uint32_t i = 0; i < n; i++)
        if (c->sweeps[t->var][i] == slot) {
            c->sweep_all[t->var][i] |= (uint8_t)all;
            return;
        }
    c->sweeps[t->var] = realloc(c->sweeps[t->var], (n + 1) * sizeof(uint32_t));
    c->sweep_all[t->var] = realloc(c->sweep_all[t->var], n + 1);
    if (c->sweeps[t->var] == NULL || c->sweep_all[t->var] == NULL)
        abort();
    c->sweeps[t->var][n] = slot;
    c->sweep_all[t->var][n] = (uint8_t)all;
    c->nsweeps[t->var] = n + 1;
}

/* The trigger set of a transformation as a group bit (numbering distinct sets as they come); 0 when it has
 * none or the sets are exhausted: then it always runs. */
static int trigger_group(rs_cand_db_t *c, const char *name, uint32_t *group)
{
    profile_t m;
    *group = 0;
    if (!trigger_mask(name, &m))
        return 0;
    uint32_t k = 0;
    for (; k < c->ngroups; k++)
        if (memcmp(&c->group_masks[k], &m, sizeof(m)) == 0)
            break;
    if (k == c->ngroups) {
        if (k == MAX_TRIGGER_SETS)
            return 0;
        c->group_masks[c->ngroups++] = m;
        for (int b = 0; b < 256; b++)
            if ((m.w[b >> 6] >> (b & 63)) & 1)
                c->byte_groups[b] |= 1u << k;
    }
    *group = 1u << k;
    return 1;
}

/* Splits each variable's needs into the precomputed part every value has and the keyed rest. */
static void build_var_bases(const rs_db_t *db, const rs_cand_db_t *cd, scan_plan_t *c)
{
    uint8_t *in_base = calloc(cd->nchains ? cd->nchains : 1, 1);
    uint8_t *node_in = calloc(db->ntnodes ? db->ntnodes : 1, 1);
    if (in_base == NULL || node_in == NULL)
        abort();
    for (int var = 0; var < RS_VAR__COUNT; var++) {
        uint32_t n = c->nneeds[var];
        if (n == 0)
            continue;
        c->base_chains[var] = malloc(n * sizeof(uint32_t));
        c->base_nodes[var] = malloc((db->ntnodes ? db->ntnodes : 1) * sizeof(uint32_t));
        if (c->base_chains[var] == NULL || c->base_nodes[var] == NULL)
            abort();
        memset(in_base, 0, cd->nchains ? cd->nchains : 1);
        memset(node_in, 0, db->ntnodes ? db->ntnodes : 1);
        for (uint32_t i = 0; i < n; i++) {
            uint32_t k = c->needs[var][i].chain;
            if (c->needs[var][i].kind != SEL_ALL || in_base[k])
                continue;
            in_base[k] = 1;
            c->base_chains[var][c->nbase_chains[var]++] = k;
            for (uint32_t d = 0; d < cd->chain_depth[k]; d++)
                node_in[cd->chain_nodes[k][d]] = 1;
        }
        for (size_t node = 1; node < db->ntnodes; node++)
            if (node_in[node])
                c->base_nodes[var][c->nbase_nodes[var]++] = (uint32_t)node;
        uint32_t kept = 0; /* keyed needs of a chain every value gets anyway add nothing */
        for (uint32_t i = 0; i < n; i++)
            if (c->needs[var][i].kind != SEL_ALL && !in_base[c->needs[var][i].chain])
                c->needs[var][kept++] = c->needs[var][i];
        c->nneeds[var] = kept;
    }
    free(in_base);
    free(node_in);
}

rs_cand_db_t *rs_cand_build(rs_db_t *db)
{
    static _Atomic uint64_t next_id = 1;
    rs_cand_db_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    c->id = atomic_fetch_add(&next_id, 1);
    c->slot_of = malloc((db->ncrules ? db->ncrules : 1) * sizeof(int32_t));
    c->slot_count = malloc(db->ncrules ? db->ncrules : 1);
    size_t max_slots = 1; /* a multiMatch rule may take one slot per step of its chain */
    for (size_t i = 0; i < db->ncrules; i++)
        max_slots += db->crules[i].rule->multi_match ? RS_MAX_STEPS : 1;
    c->chain_index = calloc(db->ntnodes, sizeof(uint32_t));
    c->slot_chain = malloc(max_slots * sizeof(uint16_t));
    c->slot_op = malloc(max_slots * sizeof(*c->slot_op));
    c->slot_rule = malloc(max_slots * sizeof(*c->slot_rule));
    c->slot_sweep = malloc(max_slots);
    c->slot_two = malloc(max_slots);
    c->slot_cached = malloc(max_slots);
    c->slot_keyed_first = malloc(max_slots * sizeof(uint32_t));
    c->slot_keyed_n = malloc(max_slots * sizeof(uint16_t));
    c->slot_reads_all = malloc(max_slots * sizeof(*c->slot_reads_all));
    c->slot_reads_some = malloc(max_slots * sizeof(*c->slot_reads_some));
    c->chains = malloc((db->ntnodes ? db->ntnodes : 1) * sizeof(uint32_t));
    if (c->slot_of == NULL || c->slot_count == NULL || c->chain_index == NULL || c->slot_chain == NULL || c->slot_op == NULL ||
        c->slot_rule == NULL || c->slot_sweep == NULL || c->slot_two == NULL || c->slot_cached == NULL ||
        c->slot_reads_all == NULL || c->slot_reads_some == NULL || c->chains == NULL)
        abort();
    lit_build_t b = {0};
    for (size_t i = 0; i < db->ncrules; i++) {
        rs_crule_t *cr = &db->crules[i];
        c->slot_of[i] = -1;
        c->slot_count[i] = 0;
        if (!rule_eligible(cr))
            continue;
        rs_str_t *lits = NULL;
        int nocase = 0;
        rs_str_t *lits2 = NULL;
        int n2 = -1;
        int n = rs_op_required_literal_groups(cr->rule->op, &lits, &nocase, &lits2, &n2);
        int usable = n > 0;
        for (int k = 0; k < n && usable; k++)
            usable = lits[k].len != 0;
        int second = usable && n2 > 0; /* a second literal set the operator also needs */
        for (int k = 0; k < n2 && second; k++)
            second = lits2[k].len != 0;
        if (!second) {
            if (n2 > 0)
                rs_op_literals_free(lits2, n2);
            n2 = 0;
        }
        if (!usable) { /* no literal to look for: the slot reads every string (a sweep) */
            if (n > 0)
                rs_op_literals_free(lits, n);
            n = 0;
        }
        /* multiMatch tests the value and the output of every step of its chain: with literals, one slot per
         * step (each step's output is scanned as a chain of its own); without, one sweep of all steps */
        uint32_t steps[RS_MAX_STEPS];
        uint32_t nsteps = 0;
        if (usable && cr->rule->multi_match) {
            uint32_t depth = db->tnodes[cr->tnode].depth;
            if (depth + 1 > RS_MAX_STEPS) { /* longer than any real chain: sweep instead */
                rs_op_literals_free(lits, n);
                n = 0;
                usable = 0;
            } else {
                nsteps = depth + 1;
                for (uint32_t node = cr->tnode, d = depth; d > 0; node = db->tnodes[node].parent)
                    steps[d--] = node;
                steps[0] = 0;
            }
        }
        if (nsteps == 0)
            steps[nsteps++] = cr->tnode;
        c->slot_of[i] = (int32_t)c->nslots;
        c->slot_count[i] = (uint8_t)nsteps;
        for (uint32_t st = 0; st < nsteps; st++) {
            uint32_t slot = c->nslots++, tnode = steps[st];
            c->slot_sweep[slot] = usable ? SWEEP_NONE : cr->rule->multi_match ? SWEEP_STEPS : SWEEP_FINAL;
            c->nsweep += !usable;
            if (c->chain_index[tnode] == 0) {
                c->chains[c->nchains] = tnode;
                c->chain_index[tnode] = ++c->nchains;
            }
            c->slot_chain[slot] = (uint16_t)(c->chain_index[tnode] - 1);
            c->slot_op[slot] = cr->rule->op;
            c->slot_rule[slot] = cr->rule;
            c->slot_keyed_first[slot] = (uint32_t)c->nkeyed;
            c->slot_keyed_n[slot] = 0;
            memset(c->slot_reads_all[slot], 0, sizeof(c->slot_reads_all[slot]));
            memset(c->slot_reads_some[slot], 0, sizeof(c->slot_reads_some[slot]));
            for (size_t t = 0; t < cr->rule->ntargets; t++) {
                const rs_target_t *tg = &cr->rule->targets[t];
                if (tg->is_negated || tg->is_count)
                    continue;
                member_sel_t sel = member_sel_of(tg);
                uint64_t(*bits)[RS_VAR_WORDS] = sel.kind == SEL_ALL ? c->slot_reads_all : c->slot_reads_some;
                bits[slot][tg->var >> 6] |= 1ull << (tg->var & 63);
                if (sel.kind != SEL_ALL) {
                    if (c->nkeyed == c->cap_keyed) {
                        c->cap_keyed = c->cap_keyed ? c->cap_keyed * 2 : 64;
                        c->keyed = realloc(c->keyed, c->cap_keyed * sizeof(*c->keyed));
                        if (c->keyed == NULL)
                            abort();
                    }
                    c->keyed[c->nkeyed++] = (keyed_sel_t){tg->var, sel};
                    c->slot_keyed_n[slot]++;
                }
            }
            int phase = cr->head->rule->phase;
            for (int p = 1; p <= 5; p++)
                if (phase == p || phase < 1 || phase > 5) /* a phase out of range: scanned in every phase */
                    for (size_t t = 0; t < cr->rule->ntargets; t++) {
                        add_need(&c->plans[p], &cr->rule->targets[t], c->slot_chain[slot]);
                        if (!usable)
                            add_sweep(&c->plans[p], &cr->rule->targets[t], slot);
                    }
            c->slot_two[slot] = (uint8_t)second;
            c->slot_cached[slot] = (uint8_t)op_worth_caching(cr->rule->op);
            for (int g = 0; g < 2; g++) {
                const rs_str_t *gl = g == 0 ? lits : lits2;
                for (int k = 0; k < (g == 0 ? n : n2); k++) {
                    /* fold to lower case: the automaton matches without case, a superset of any case-sensitive test */
                    char *low = rs_strndup(gl[k].base, gl[k].len);
                    for (size_t j = 0; j < gl[k].len; j++)
                        if (low[j] >= 'A' && low[j] <= 'Z')
                            low[j] = (char)(low[j] - 'A' + 'a');
                    lit_add_slot(&b, lit_index(&b, rs_str(low, gl[k].len)), slot << 1 | (uint32_t)g);
                    free(low);
                }
            }
        }
        if (n2 > 0)
            rs_op_literals_free(lits2, n2);
        c->nfiltered += usable;
        rs_op_literals_free(lits, n);
    }
    /* the transformation nodes that must be computed: every needed chain and its ancestors */
    c->node_needed = calloc(db->ntnodes ? db->ntnodes : 1, 1);
    c->ninfo = calloc(db->ntnodes ? db->ntnodes : 1, sizeof(node_info_t));
    if (c->node_needed == NULL || c->ninfo == NULL)
        abort();
    for (uint32_t k = 0; k < c->nchains; k++)
        for (uint32_t n = c->chains[k]; n != 0 && !c->node_needed[n]; n = db->tnodes[n].parent)
            c->node_needed[n] = 1;
    c->chain_nodes = calloc(c->nchains ? c->nchains : 1, sizeof(uint32_t *));
    c->chain_depth = calloc(c->nchains ? c->nchains : 1, sizeof(uint32_t));
    if (c->chain_nodes == NULL || c->chain_depth == NULL)
        abort();
    for (uint32_t k = 0; k < c->nchains; k++) {
        uint32_t depth = 0;
        for (uint32_t n = c->chains[k]; n != 0; n = db->tnodes[n].parent)
            depth++;
        c->chain_nodes[k] = malloc((depth ? depth : 1) * sizeof(uint32_t));
        if (c->chain_nodes[k] == NULL)
            abort();
        c->chain_depth[k] = depth;
        for (uint32_t n = c->chains[k], d = depth; n != 0; n = db->tnodes[n].parent)
            c->chain_nodes[k][--d] = n;
    }
    for (int p = 1; p <= 5; p++)
        build_var_bases(db, c, &c->plans[p]);
    for (size_t i = 0; i < db->ncrules; i++) { /* the member selections that make a value's key count */
        if (c->slot_of[i] < 0)
            continue;
        const rs_rule_t *r = db->crules[i].rule;
        int phase = db->crules[i].head->rule->phase;
        for (size_t t = 0; t < r->ntargets; t++) {
            const rs_target_t *tg = &r->targets[t];
            member_sel_t sel = member_sel_of(tg);
            if (tg->is_negated || tg->is_count || sel.kind == SEL_ALL)
                continue;
            for (int p = 1; p <= 5; p++) {
                if (phase != p && phase >= 1 && phase <= 5)
                    continue;
                scan_plan_t *pl = &c->plans[p];
                uint32_t n = pl->nkeyed_sels[tg->var], d = 0;
                while (d < n &&
                       !(pl->keyed_sels[tg->var][d].kind == sel.kind && rs_key_ieq(pl->keyed_sels[tg->var][d].text, sel.text)))
                    d++;
                if (d < n) /* many rules name the same member (User-Agent, Content-Type...) */
                    continue;
                pl->keyed_sels[tg->var] = realloc(pl->keyed_sels[tg->var], (n + 1) * sizeof(member_sel_t));
                if (pl->keyed_sels[tg->var] == NULL)
                    abort();
                pl->keyed_sels[tg->var][n] = sel;
                pl->nkeyed_sels[tg->var] = n + 1;
            }
        }
    }
    for (size_t n = 1; n < db->ntnodes; n++) {
        const char *name = rs_transform_name(db->tnodes[n].transform);
        node_info_t *info = &c->ninfo[n];
        info->parent = db->tnodes[n].parent;
        info->transform = db->tnodes[n].transform;
        info->always = !trigger_group(c, name, &info->group);
        info->dot_end = strcmp(name, "normalizePath") == 0 || strcmp(name, "normalizePathWin") == 0;
    }
    if (b.n != 0) {
        uint32_t *ids = malloc(b.n * sizeof(uint32_t));
        for (size_t i = 0; i < b.n; i++)
            ids[i] = (uint32_t)i;
        c->ac = rs_ac_build(b.lits, ids, b.n, 1);
        free(ids);
        if (c->ac != NULL)
            db->stats.memory_bytes += rs_ac_memory(c->ac);
    }
    c->lits = b.lits;
    free(b.capslots);
    free(b.table);
    c->lit_slots = b.slots;
    c->lit_nslots = b.nslots;
    c->nlits = b.n;
    /* each literal's slots grouped by chain, with the end of each group: a string that is not the output of a
     * chain skips all that chain's slots at once (common literals serve dozens of slots on a few chains) */
    c->lit_run_end = calloc(b.n ? b.n : 1, sizeof(uint32_t *));
    if (c->lit_run_end == NULL)
        abort();
    for (size_t li = 0; li < b.n; li++) {
        uint32_t n = b.nslots[li], *v = b.slots[li];
        for (uint32_t i = 1; i < n; i++) { /* insertion sort by chain, stable: lists are short */
            uint32_t e = v[i], j = i;
            while (j > 0 && c->slot_chain[v[j - 1] >> 1] > c->slot_chain[e >> 1]) {
                v[j] = v[j - 1];
                j--;
            }
            v[j] = e;
        }
        c->lit_run_end[li] = malloc((n ? n : 1) * sizeof(uint32_t));
        if (c->lit_run_end[li] == NULL)
            abort();
        for (uint32_t i = n; i-- > 0;)
            c->lit_run_end[li][i] =
                i + 1 < n && c->slot_chain[v[i + 1] >> 1] == c->slot_chain[v[i] >> 1] ? c->lit_run_end[li][i + 1] : i + 1;
    }
    db->stats.literals = (unsigned)b.n;
    db->stats.prefiltered = c->nfiltered;
    db->stats.unfiltered = 0;
    for (size_t i = 0; i < db->ncrules; i++)
        if ((c->slot_of[i] < 0 || c->slot_sweep[c->slot_of[i]] != SWEEP_NONE) && db->crules[i].rule->kind == RS_RULE_SECRULE &&
            db->crules[i].rule->op != NULL)
            db->stats.unfiltered++;
    return c;
}

void rs_cand_free(rs_cand_db_t *c)
{
    if (c == NULL)
        return;
    rs_ac_free(c->ac);
    for (size_t i = 0; i < c->nlits; i++) {
        free(c->lit_slots[i]);
        free(c->lit_run_end[i]);
        free((char *)c->lits[i].base);
    }
    free(c->lits);
    free(c->lit_slots);
    free(c->lit_run_end);
    free(c->lit_nslots);
    free(c->slot_of);
    free(c->slot_count);
    free(c->slot_chain);
    free(c->slot_op);
    free(c->slot_rule);
    free(c->slot_sweep);
    free(c->slot_two);
    free(c->slot_cached);
    free(c->slot_keyed_first);
    free(c->slot_keyed_n);
    free(c->keyed);
    free(c->slot_reads_all);
    free(c->slot_reads_some);
    for (int p = 0; p <= 5; p++)
        for (int v = 0; v < RS_VAR__COUNT; v++) {
            free(c->plans[p].needs[v]);
            free(c->plans[p].base_chains[v]);
            free(c->plans[p].base_nodes[v]);
            free(c->plans[p].sweeps[v]);
            free(c->plans[p].sweep_all[v]);
            free(c->plans[p].keyed_sels[v]);
        }
    for (uint32_t k = 0; k < c->nchains; k++)
        free(c->chain_nodes[k]);
    free(c->chain_nodes);
    free(c->chain_depth);
    free(c->chains);
    free(c->chain_index);
    free(c->node_needed);
    free(c->ninfo);
    free(c);
}

/* ---- scan ---------------------------------------------------------------------------------------------- */

static void *grow(void *p, size_t n, size_t size)
{
    void *q = realloc(p, n * size);
    if (q == NULL)
        abort();
    return q;
}

static rs_cand_tx_t *cand_tx(rs_tx_t *tx)
{
    const rs_db_t *db = tx->db;
    const rs_cand_db_t *c = db->cand;
    rs_cand_tx_t *ct = tx->cand;
    if (ct == NULL) {
        ct = calloc(1, sizeof(*ct));
        if (ct == NULL)
            abort();
        tx->cand = ct;
    }
    if (ct->sized_for == c->id && ct->serial < UINT32_MAX - (1u << 24) && ct->value_serial < UINT32_MAX - (1u << 24))
        return ct;
    /* a new database (reload) or serials close to wrapping: size everything afresh (rare: not per request) */
    size_t nodes = db->ntnodes ? db->ntnodes : 1, nchains = c->nchains ? c->nchains : 1, nlits = c->nlits ? c->nlits : 1;
    ct->bits = grow(ct->bits, (c->nslots + 63) / 64 + 1, sizeof(uint64_t));
    ct->out = grow(ct->out, nodes, sizeof(rs_str_t));
    ct->prof = grow(ct->prof, nodes, sizeof(uint32_t));
    ct->stamp = grow(ct->stamp, nchains, sizeof(uint32_t));
    ct->seen = grow(ct->seen, nlits, sizeof(uint32_t));
    ct->tried = grow(ct->tried, c->nslots ? c->nslots : 1, sizeof(uint32_t));
    ct->gserial = grow(ct->gserial, c->nslots ? c->nslots : 1, sizeof(uint32_t));
    ct->gmask = grow(ct->gmask, c->nslots ? c->nslots : 1, 1);
    memset(ct->gserial, 0, (c->nslots ? c->nslots : 1) * sizeof(uint32_t));
    memset(ct->stamp, 0, nchains * sizeof(uint32_t));
    memset(ct->seen, 0, nlits * sizeof(uint32_t));
    memset(ct->tried, 0, (c->nslots ? c->nslots : 1) * sizeof(uint32_t));
    ct->hit_head = grow(ct->hit_head, c->nslots ? c->nslots : 1, sizeof(uint32_t));
    ct->verdict = grow(ct->verdict, c->nslots ? c->nslots : 1, 1);
    ct->node_stamp = grow(ct->node_stamp, nodes, sizeof(uint32_t));
    memset(ct->node_stamp, 0, nodes * sizeof(uint32_t));
    ct->value_serial = 0;
    ct->want = grow(ct->want, nchains, sizeof(uint32_t));
    ct->nodes = grow(ct->nodes, nodes, sizeof(uint32_t));
    ct->wanted = grow(ct->wanted, nchains, 1);
    memset(ct->wanted, 0, nchains);
    ct->node_id = grow(ct->node_id, nodes, sizeof(uint32_t));
    ct->serial = 0;
    ct->itx_gen = 0; /* interned literal runs belong to the old automaton */
    ct->nients = 0;
    ct->sized_for = c->id;
    return ct;
}

/* ---- interned strings ----------------------------------------------------------------------------------- */

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xC2B2AE3D27D4EB4Full);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
    }
    uint64_t w = 0;
    memcpy(&w, p + i, n - i);
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
    return h ^ (h >> 29);
}

static void itab_grow(rs_cand_tx_t *ct)
{
    size_t cap = ct->itab_cap ? ct->itab_cap * 2 : 1024;
    free(ct->itab);
    free(ct->itab_gen);
    ct->itab = malloc(cap * sizeof(uint32_t));
    ct->itab_gen = calloc(cap, sizeof(uint32_t));
    if (ct->itab == NULL || ct->itab_gen == NULL)
        abort();
    ct->itab_cap = cap;
    for (size_t i = 0; i < ct->nients; i++) {
        size_t h = ct->ients[i].hash & (cap - 1);
        while (ct->itab_gen[h] == ct->igen)
            h = (h + 1) & (cap - 1);
        ct->itab_gen[h] = ct->igen;
        ct->itab[h] = (uint32_t)i;
    }
}

/* The id of the string's content in this request, adding it when new. */
static uint32_t intern(rs_cand_tx_t *ct, rs_str_t str)
{
    if ((ct->nients + 1) * 2 > ct->itab_cap)
        itab_grow(ct);
    uint64_t hv = hash_bytes(str.base, str.len);
    size_t mask = ct->itab_cap - 1, h = hv & mask;
    for (; ct->itab_gen[h] == ct->igen; h = (h + 1) & mask) {
        const intern_ent_t *e = &ct->ients[ct->itab[h]];
        if (e->hash == hv && e->len == str.len && memcmp(e->base, str.base, str.len) == 0)
            return ct->itab[h];
    }
    if (ct->nients == ct->cap_ients) {
        ct->cap_ients = ct->cap_ients ? ct->cap_ients * 2 : 256;
        ct->ients = grow(ct->ients, ct->cap_ients, sizeof(intern_ent_t));
    }
    ct->ients[ct->nients] = (intern_ent_t){str.base, str.len, hv, 0, 0, 0, VPOS_NONE};
    ct->itab_gen[h] = ct->igen;
    ct->itab[h] = (uint32_t)ct->nients;
    return (uint32_t)ct->nients++;
}

/* Starts a new request's set of interned strings (the strings live in the transaction's arena). */
static void intern_begin(rs_cand_tx_t *ct, uint32_t tx_gen)
{
    if (ct->itx_gen == tx_gen && ct->nients != 0)
        return;
    ct->itx_gen = tx_gen;
    ct->nients = 0;
    ct->nilits = 0;
    if (++ct->igen == 0) {
        if (ct->itab_gen != NULL)
            memset(ct->itab_gen, 0, ct->itab_cap * sizeof(uint32_t));
        ct->igen = 1;
    }
}

static void pset_grow(rs_cand_tx_t *ct)
{
    size_t old_cap = ct->pset_cap, cap = old_cap ? old_cap * 2 : 1024;
    uint64_t *old = ct->pset;
    uint32_t *old_gen = ct->pset_gen;
    ct->pset = malloc(cap * sizeof(uint64_t));
    ct->pset_gen = calloc(cap, sizeof(uint32_t));
    if (ct->pset == NULL || ct->pset_gen == NULL)
        abort();
    ct->pset_cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old_gen[i] == ct->pgen) {
            size_t h = (size_t)((old[i] * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
            while (ct->pset_gen[h] == ct->pgen)
                h = (h + 1) & (cap - 1);
            ct->pset_gen[h] = ct->pgen;
            ct->pset[h] = old[i];
        }
    free(old);
    free(old_gen);
}

/* 1 when (slot, id) is new in this scan (and remembers it), 0 when it was recorded before. */
static int pset_add(rs_cand_tx_t *ct, uint32_t slot, uint32_t id)
{
    if ((ct->npset + 1) * 2 > ct->pset_cap)
        pset_grow(ct);
    uint64_t key = ((uint64_t)slot << 32) | id;
    size_t mask = ct->pset_cap - 1, h = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & mask;
    for (; ct->pset_gen[h] == ct->pgen; h = (h + 1) & mask)
        if (ct->pset[h] == key)
            return 0;
    ct->pset_gen[h] = ct->pgen;
    ct->pset[h] = key;
    ct->npset++;
    return 1;
}

static void pset_clear(rs_cand_tx_t *ct)
{
    ct->npset = 0;
    if (++ct->pgen == 0) {
        if (ct->pset_gen != NULL)
            memset(ct->pset_gen, 0, ct->pset_cap * sizeof(uint32_t));
        ct->pgen = 1;
    }
}

/* Records a string for a slot (once per content), which makes the slot a candidate to verify. */
static void record_hit(rs_cand_tx_t *ct, uint32_t slot, rs_str_t str, uint32_t id)
{
    if (!pset_add(ct, slot, id))
        return;
    if (ct->nhits == ct->cap_hits) {
        ct->cap_hits = ct->cap_hits ? ct->cap_hits * 2 : 64;
        ct->hits = grow(ct->hits, ct->cap_hits, sizeof(cand_hit_t));
    }
    ct->hits[ct->nhits] = (cand_hit_t){str, ct->hit_head[slot], id};
    ct->hit_head[slot] = (uint32_t)++ct->nhits;
    ct->bits[slot >> 6] |= 1ull << (slot & 63);
}

typedef struct st_scan_ctx_t {
    const rs_cand_db_t *c;
    rs_cand_tx_t *ct;
    uint32_t serial;
    int var; /* the value the scanned string came from */
    rs_str_t key;
    int record; /* append each literal found to ilits (a first scan of this content) */
} scan_ctx_t;

static int on_literal(void *arg, uint32_t lit, size_t end)
{
    scan_ctx_t *s = arg;
    rs_cand_tx_t *ct = s->ct;
    (void)end;
    if (ct->seen[lit] == s->serial)
        return 0;
    ct->seen[lit] = s->serial;
    if (s->record) {
        if (ct->nilits == ct->cap_ilits) {
            ct->cap_ilits = ct->cap_ilits ? ct->cap_ilits * 2 : 256;
            ct->ilits = grow(ct->ilits, ct->cap_ilits, sizeof(uint32_t));
        }
        ct->ilits[ct->nilits++] = lit;
    }
    const uint32_t *slots = s->c->lit_slots[lit], *run_end = s->c->lit_run_end[lit];
    for (uint32_t i = 0, n = s->c->lit_nslots[lit]; i < n; i++) {
        uint32_t slot = slots[i] >> 1;
        uint32_t chain = s->c->slot_chain[slot];
        if (ct->stamp[chain] != s->serial) { /* not this chain's string: skip its other slots too */
            i = run_end[i] - 1;
            continue;
        }
        if (ct->tried[slot] == s->serial)
            continue;
        if (s->c->slot_two[slot]) { /* both literal sets must occur in this string */
            if (ct->gserial[slot] != s->serial) {
                ct->gserial[slot] = s->serial;
                ct->gmask[slot] = 0;
            }
            ct->gmask[slot] |= (uint8_t)(1u << (slots[i] & 1));
            if (ct->gmask[slot] != 3)
                continue;
        }
        if (!slot_reads(s->c, slot, s->var, s->key))
            continue;
        ct->tried[slot] = s->serial;
        /* the chain's own output: the scanned string may differ from it in letter case */
        uint32_t node = s->c->chains[chain];
        record_hit(ct, slot, ct->out[node], ct->node_id[node]);
    }
    return 0;
}

/* ---- verdicts across requests ------------------------------------------------------------------------- */

static int vcache_live(const vcache_t *vc, const vcache_ent_t *e)
{
    return e->tag != 0 && vc->written - e->pos <= VCACHE_RING;
}

/* Where the string's bytes are in the ring: copied once per request, the slots that read it share the copy. */
/* Copies len bytes into the ring; returns where they start, counted in bytes ever written. */
static uint64_t ring_put(vcache_t *vc, const char *p, size_t len)
{
    size_t off = vc->written % VCACHE_RING;
    if (off + len > VCACHE_RING) { /* a string never wraps around the end */
        vc->written += VCACHE_RING - off;
        off = 0;
    }
    if (len != 0)
        memcpy(vc->ring + off, p, len);
    uint64_t pos = vc->written;
    vc->written += len;
    return pos;
}

static uint64_t vcache_bytes(vcache_t *vc, intern_ent_t *s)
{
    if (s->vpos != VPOS_NONE && vc->written - s->vpos <= VCACHE_RING)
        return s->vpos;
    s->vpos = ring_put(vc, s->base, s->len);
    return s->vpos;
}

static uint64_t vcache_hash(uint64_t str_hash, uint32_t slot)
{
    uint64_t h = (str_hash ^ (slot * 0x9E3779B97F4A7C15ull)) * 0xFF51AFD7ED558CCDull;
    return h ^ (h >> 29);
}

/* The entry of table ents (2^set_bits sets) for (db, slot, the string), or NULL and *way: the entry to replace
 * (dead, else the least recently used of those never found again, else of all). */
static vcache_ent_t *memo_find(vcache_t *vc, vcache_ent_t *ents, unsigned set_bits, uint64_t db, uint32_t slot, uint64_t hash,
                               intern_ent_t *s, vcache_ent_t **way)
{
    vcache_ent_t *set = &ents[(hash >> (64 - set_bits)) * VCACHE_WAYS];
    uint32_t tag = (uint32_t)hash | 1;
    vc->clock++;
    for (int w = 0; w < VCACHE_WAYS; w++) {
        vcache_ent_t *e = &set[w];
        if (e->tag == tag && e->slot == slot && e->db == db && e->len == s->len && vcache_live(vc, e) &&
            memcmp(vc->ring + e->pos % VCACHE_RING, s->base, s->len) == 0) {
            e->used = vc->clock;
            e->reused = 1;
            if (vc->written - e->pos > VCACHE_RING / 2) /* in use but soon overwritten: copy its bytes forward */
                e->pos = vcache_bytes(vc, s);
            return e;
        }
    }
    uint64_t worst = 0;
    *way = set;
    for (int w = 0; w < VCACHE_WAYS; w++) {
        vcache_ent_t *e = &set[w];
        uint64_t badness = !vcache_live(vc, e) ? UINT64_MAX : (uint64_t)!e->reused << 32 | (vc->clock - e->used);
        if (badness > worst) {
            worst = badness;
            *way = e;
        }
    }
    return NULL;
}

static void memo_store(vcache_t *vc, vcache_ent_t *e, uint64_t db, uint32_t slot, uint64_t hash, intern_ent_t *s, int value)
{
    uint64_t pos = vcache_bytes(vc, s);
    *e = (vcache_ent_t){db, pos, (uint32_t)hash | 1, slot, vc->clock, (uint16_t)s->len, (uint8_t)value, 0};
}

/* The slot's remembered verdict on the string (1 match, 0 no match), or -1 and *way: where to keep it. */
static int vcache_find(vcache_t *vc, uint64_t db, uint32_t slot, uint64_t hash, intern_ent_t *s, vcache_ent_t **way)
{
    const vcache_ent_t *e = memo_find(vc, vc->ents, VCACHE_SET_BITS, db, slot, hash, s, way);
    if (e == NULL) {
        vc->misses++;
        return -1;
    }
    vc->hits++;
    return e->value;
}

/* Appends to ilits the literals the automaton found in the string when it was scanned before, and tells
 * whether it was; else *way is where its findings go (memo_keep_lits). */
static int memo_lits(vcache_t *vc, rs_cand_tx_t *ct, uint64_t db, intern_ent_t *s, vcache_ent_t **way)
{
    *way = NULL;
    if (s->len == 0 || s->len > VCACHE_MAX_LEN)
        return 0;
    const vcache_ent_t *e = memo_find(vc, vc->lents, LCACHE_SET_BITS, db, LITS_SLOT, s->hash, s, way);
    if (e == NULL) {
        vc->lit_misses++;
        return 0;
    }
    vc->lit_hits++;
    const uint32_t *lits = vc->lits[e - vc->lents];
    if (ct->nilits + e->value > ct->cap_ilits) {
        ct->cap_ilits = (ct->nilits + e->value) * 2;
        ct->ilits = grow(ct->ilits, ct->cap_ilits, sizeof(uint32_t));
    }
    s->lit_first = (uint32_t)ct->nilits;
    s->lit_n = e->value;
    if (e->value != 0) { /* a string with no literal has no run to copy (and ilits may not exist yet) */
        memcpy(ct->ilits + ct->nilits, lits, e->value * sizeof(uint32_t));
        ct->nilits += e->value;
    }
    s->lits_known = 1;
    return 1;
}

/* What node did to the string before (0 unchanged; 1 changed, *out its output in the ring: copy it before the
 * memo is written again, *prof its profile), or -1 and *way: where to keep the answer (memo_keep_transform). */
static int memo_transform(vcache_t *vc, uint64_t db, uint32_t node, uint64_t hash, intern_ent_t *s, vcache_ent_t **way,
                          rs_str_t *out, uint32_t *prof)
{
    *way = NULL;
    if (s->len == 0 || s->len > VCACHE_MAX_LEN)
        return -1;
    vcache_ent_t *e = memo_find(vc, vc->tents, TCACHE_SET_BITS, db, node, hash, s, way);
    if (e != NULL && e->value != 0 && vc->written - vc->tout_pos[e - vc->tents] > VCACHE_RING) {
        *way = e; /* its output was overwritten: compute it again, in its place */
        e = NULL;
    }
    if (e == NULL) {
        vc->tf_misses++;
        return -1;
    }
    vc->tf_hits++;
    size_t i = (size_t)(e - vc->tents);
    *out = rs_str(vc->ring + vc->tout_pos[i] % VCACHE_RING, vc->tout_len[i]);
    *prof = vc->tout_prof[i];
    return e->value;
}

static void memo_keep_transform(vcache_t *vc, vcache_ent_t *way, uint64_t db, uint32_t node, uint64_t hash, intern_ent_t *s,
                                int changed, rs_str_t out, uint32_t prof)
{
    if (way == NULL || (changed && out.len > VCACHE_MAX_LEN))
        return;
    memo_store(vc, way, db, node, hash, s, changed);
    if (changed) { /* after the input's bytes: the output is the newer of the two */
        size_t i = (size_t)(way - vc->tents);
        vc->tout_pos[i] = ring_put(vc, out.base, out.len);
        vc->tout_len[i] = (uint16_t)out.len;
        vc->tout_prof[i] = prof;
    }
}

static void memo_keep_lits(vcache_t *vc, const rs_cand_tx_t *ct, uint64_t db, intern_ent_t *s, vcache_ent_t *way)
{
    if (way == NULL || s->lit_n > LCACHE_MAX_LITS)
        return;
    memo_store(vc, way, db, LITS_SLOT, s->hash, s, (int)s->lit_n);
    if (s->lit_n != 0)
        memcpy(vc->lits[way - vc->lents], ct->ilits + s->lit_first, s->lit_n * sizeof(uint32_t));
}

/* The memo the running transaction uses: its thread's when it was given one, else its own. */
static vcache_t *vcache_of(const rs_tx_t *tx, rs_cand_tx_t *ct)
{
    if (tx->memo != NULL)
        return tx->memo;
    if (ct->vcache == NULL) {
        ct->vcache = calloc(1, sizeof(vcache_t));
        if (ct->vcache == NULL)
            abort();
    }
    return ct->vcache;
}

/* Scans one value: the output of every chain a slotted rule reads this value under, each distinct string
 * once. Only the transformation nodes on those chains are computed. */
static void scan_value(rs_tx_t *tx, const rs_cand_db_t *c, const scan_plan_t *plan, rs_cand_tx_t *ct, const rs_val_t *val,
                       uint32_t value_id)
{
    const rs_db_t *db = tx->db;
    int var = val->var;
    const uint32_t *want = plan->base_chains[var], *nodes = plan->base_nodes[var];
    uint32_t nwant = plan->nbase_chains[var], nnodes = plan->nbase_nodes[var];
    const var_need_t *needs = plan->needs[var];
    uint32_t keyed = 0;
    while (keyed < plan->nneeds[var] && !sel_matches(needs[keyed].kind, rs_str(needs[keyed].key, needs[keyed].key_len), val->key))
        keyed++;
    if (keyed < plan->nneeds[var]) { /* a rule reads this member under more chains: add them and their nodes */
        uint32_t vs = ++ct->value_serial;
        memcpy(ct->want, want, nwant * sizeof(uint32_t));
        for (uint32_t w = 0; w < nwant; w++)
            ct->wanted[want[w]] = 1;
        for (uint32_t i = keyed; i < plan->nneeds[var]; i++) {
            uint32_t k = needs[i].chain;
            if (!ct->wanted[k] && sel_matches(needs[i].kind, rs_str(needs[i].key, needs[i].key_len), val->key)) {
                ct->wanted[k] = 1;
                ct->want[nwant++] = k;
            }
        }
        for (uint32_t w = 0; w < nwant; w++) {
            uint32_t k = ct->want[w];
            ct->wanted[k] = 0;
            for (uint32_t d = 0; d < c->chain_depth[k]; d++)
                ct->node_stamp[c->chain_nodes[k][d]] = vs;
        }
        nnodes = 0;
        for (size_t n = 1; n < db->ntnodes; n++)
            if (ct->node_stamp[n] == vs)
                ct->nodes[nnodes++] = (uint32_t)n;
        want = ct->want;
        nodes = ct->nodes;
    }
    if (nwant == 0)
        return;
    vcache_t *vc = vcache_of(tx, ct);
    ct->out[0] = val->value;
    ct->prof[0] = profile_of(c->byte_groups, val->value);
    ct->node_id[0] = value_id != UINT32_MAX ? value_id : intern(ct, val->value);
    for (uint32_t ni = 0; ni < nnodes; ni++) {
        uint32_t n = nodes[ni];
        const node_info_t *info = &c->ninfo[n];
        uint32_t parent = info->parent;
        rs_str_t in = ct->out[parent];
        uint32_t prof = ct->prof[parent];
        ct->out[n] = in;
        ct->prof[n] = prof;
        ct->node_id[n] = ct->node_id[parent];
        if (!info->always && (prof & info->group) == 0 && !(info->dot_end && in.len != 0 && in.base[in.len - 1] == '.'))
            continue; /* cannot change this value: skip the call */
        /* done to the same bytes in an earlier request? (intern may move ients: index them afresh each time) */
        uint64_t th = vcache_hash(ct->ients[ct->node_id[parent]].hash, n);
        vcache_ent_t *way;
        rs_str_t known_out;
        uint32_t known_prof;
        int known = memo_transform(vc, c->id, n, th, &ct->ients[ct->node_id[parent]], &way, &known_out, &known_prof);
        if (known == 0)
            continue;
        if (known == 1) {
            ct->out[n] = rs_str(rs_arena_dup(&tx->arena, known_out.base, known_out.len), known_out.len);
            ct->prof[n] = known_prof;
            ct->node_id[n] = intern(ct, ct->out[n]);
            continue;
        }
        rs_buf_reset(&ct->tbuf);
        int changed = rs_transform_apply(info->transform, in, &ct->tbuf) == 1 &&
                      !(ct->tbuf.len == in.len && (in.len == 0 || memcmp(ct->tbuf.base, in.base, in.len) == 0));
        if (changed) {
            ct->out[n] = rs_str(rs_arena_dup(&tx->arena, ct->tbuf.base ? ct->tbuf.base : "", ct->tbuf.len), ct->tbuf.len);
            ct->prof[n] = profile_of(c->byte_groups, ct->out[n]);
            ct->node_id[n] = intern(ct, ct->out[n]);
        }
        memo_keep_transform(vc, way, c->id, n, th, &ct->ients[ct->node_id[parent]], changed, ct->out[n], ct->prof[n]);
    }
    /* group the wanted chains by the string they produced, ignoring case; scan each distinct string once */
    uint32_t first_serial = ct->serial + 1;
    ct->nstrs = 0;
    for (uint32_t w = 0; w < nwant; w++) {
        uint32_t k = want[w];
        rs_str_t o = ct->out[c->chains[k]];
        size_t s = 0;
        for (; s < ct->nstrs; s++)
            if (rs_key_ieq(ct->strs[s], o))
                break;
        if (s == ct->nstrs) {
            if (ct->nstrs == ct->cap_strs) {
                ct->cap_strs = ct->cap_strs ? ct->cap_strs * 2 : 16;
                ct->strs = grow(ct->strs, ct->cap_strs, sizeof(rs_str_t));
                ct->str_serial = grow(ct->str_serial, ct->cap_strs, sizeof(uint32_t));
                ct->str_id = grow(ct->str_id, ct->cap_strs, sizeof(uint32_t));
            }
            ct->strs[s] = o;
            ct->str_serial[s] = ++ct->serial;
            ct->str_id[s] = ct->node_id[c->chains[k]];
            ct->nstrs++;
        }
        ct->stamp[k] = ct->str_serial[s];
    }
    if (c->ac != NULL)
        for (size_t s = 0; s < ct->nstrs; s++) {
            scan_ctx_t sc = {c, ct, ct->str_serial[s], val->var, val->key, 0};
            uint32_t id = ct->str_id[s];
            vcache_ent_t *way = NULL;
            if (!ct->ients[id].lits_known) /* scanned in an earlier request? */
                memo_lits(vc, ct, c->id, &ct->ients[id], &way);
            if (ct->ients[id].lits_known) { /* this content was scanned before: its literals again, no scan */
                for (uint32_t l = 0; l < ct->ients[id].lit_n; l++)
                    on_literal(&sc, ct->ilits[ct->ients[id].lit_first + l], 0);
                continue;
            }
            sc.record = 1;
            uint32_t first = (uint32_t)ct->nilits;
            rs_ac_scan(c->ac, ct->strs[s].base, ct->strs[s].len, on_literal, &sc);
            ct->ients[id].lit_first = first;
            ct->ients[id].lit_n = (uint32_t)ct->nilits - first;
            ct->ients[id].lits_known = 1;
            memo_keep_lits(vc, ct, c->id, &ct->ients[id], way);
        }
    /* sweep slots: every string their chain made of a value they read */
    for (uint32_t i = 0; i < plan->nsweeps[var]; i++) {
        uint32_t slot = plan->sweeps[var][i];
        uint32_t chain = c->slot_chain[slot];
        if (ct->stamp[chain] < first_serial || (!plan->sweep_all[var][i] && !slot_reads(c, slot, var, val->key)))
            continue;
        if (c->slot_sweep[slot] == SWEEP_STEPS) { /* multiMatch: the value and every step that changed it */
            uint32_t prev = 0;
            record_hit(ct, slot, ct->out[0], ct->node_id[0]);
            for (uint32_t d = 0; d < c->chain_depth[chain]; d++) {
                uint32_t n = c->chain_nodes[chain][d];
                if (ct->out[n].base != ct->out[prev].base || ct->out[n].len != ct->out[prev].len)
                    record_hit(ct, slot, ct->out[n], ct->node_id[n]);
                prev = n;
            }
        } else {
            uint32_t n = c->chains[chain];
            record_hit(ct, slot, ct->out[n], ct->node_id[n]);
        }
    }
}

void rs_cand_scan(rs_tx_t *tx, int phase)
{
    const rs_cand_db_t *c = tx->db->cand;
    if (c == NULL || c->nslots == 0 || tx->trace != NULL || phase < 1 || phase > 5) {
        if (tx->cand != NULL)
            tx->cand->valid = 0;
        return;
    }
    const scan_plan_t *plan = &c->plans[phase]; /* only what this phase's rules read */
    rs_cand_tx_t *ct = cand_tx(tx);
    memset(ct->bits, 0, ((c->nslots + 63) / 64 + 1) * sizeof(uint64_t));
    memset(ct->hit_head, 0, c->nslots * sizeof(uint32_t));
    memset(ct->verdict, VERDICT_UNKNOWN, c->nslots);
    ct->nhits = 0;
    pset_clear(ct);
    intern_begin(ct, tx->gen);
    static const rs_rule_t no_targets;
    rs_crule_t whole = {.rule = &no_targets};
    whole.head = &whole;
    for (int var = 0; var < RS_VAR__COUNT; var++) {
        if (plan->nneeds[var] == 0 && plan->nbase_chains[var] == 0)
            continue;
        rs_target_t t = {.var = (uint16_t)var};
        ct->nvals = 0;
        rs_tx_collect(tx, &whole, &t, &ct->vals, &ct->nvals, &ct->cap_vals);
        for (size_t i = 0; i < ct->nvals; i++) {
            uint32_t id = UINT32_MAX;
            uint32_t k = 0;
            while (k < plan->nkeyed_sels[var] &&
                   !sel_matches(plan->keyed_sels[var][k].kind, plan->keyed_sels[var][k].text, ct->vals[i].key))
                k++;
            if (k == plan->nkeyed_sels[var]) { /* no rule singles out this member: the same bytes find the same */
                id = intern(ct, ct->vals[i].value);
                if (!pset_add(ct, 0x80000000u | (uint32_t)var, id))
                    continue;
            }
            scan_value(tx, c, plan, ct, &ct->vals[i], id);
        }
    }
    ct->valid = 1;
}

/* Runs the slot's operator on the strings its literals occurred in. A literal occurring is only necessary;
 * the operator itself (pure: no macro, no negation, no multiMatch) on the very strings the rule would test
 * under its own chain decides. An error or a hit work limit keeps the rule a candidate, so the rule-by-rule
 * run reports it exactly as the reference evaluator does. */
static int verify_slot(const rs_tx_t *tx, const rs_cand_db_t *c, rs_cand_tx_t *ct, uint32_t slot)
{
    rs_op_limits_t lim = {tx->db->rs->pcre_match_limit, tx->db->rs->pcre_match_limit_recursion};
    vcache_t *vc = c->slot_cached[slot] ? vcache_of(tx, ct) : NULL;
    for (uint32_t h = ct->hit_head[slot]; h != 0; h = ct->hits[h - 1].next) {
        const cand_hit_t *hit = &ct->hits[h - 1];
        intern_ent_t *s = &ct->ients[hit->id]; /* the same bytes as hit->str */
        vcache_ent_t *way = NULL;
        uint64_t hash = 0;
        if (vc != NULL && s->len != 0 && s->len <= VCACHE_MAX_LEN) { /* "": cheap for any operator */
            hash = vcache_hash(s->hash, slot);
            int known = vcache_find(vc, c->id, slot, hash, s, &way);
            if (known == 1)
                return 1;
            if (known == 0)
                continue;
        }
        rs_op_result_t res; /* rs_op_exec clears it */
        int rc = rs_op_exec(c->slot_op[slot], rs_str("", 0), hit->str, 0, &lim, tx->opscratch, &res);
        if (way != NULL && rc >= 0 && !res.limit_hit)
            memo_store(vc, way, c->id, slot, hash, s, rc);
        if (rc != 0 || res.limit_hit)
            return 1;
    }
    return 0;
}

int rs_cand_may_match(const rs_tx_t *tx, const rs_crule_t *cr)
{
    rs_cand_tx_t *ct = tx->cand;
    if (ct == NULL || !ct->valid)
        return 1;
    const rs_cand_db_t *c = tx->db->cand;
    size_t ci = (size_t)(cr - tx->db->crules);
    int32_t first = c->slot_of[ci];
    if (first < 0)
        return 1;
    for (uint32_t slot = (uint32_t)first; slot < (uint32_t)first + c->slot_count[ci]; slot++) {
        if (((ct->bits[slot >> 6] >> (slot & 63)) & 1) == 0)
            continue;
        if (ct->verdict[slot] == VERDICT_UNKNOWN)
            ct->verdict[slot] = verify_slot(tx, c, ct, slot) ? VERDICT_MATCH : VERDICT_NO_MATCH;
        if (ct->verdict[slot] == VERDICT_MATCH)
            return 1;
    }
    return 0;
}

void rs_cand_tx_free(rs_cand_tx_t *ct)
{
    if (ct == NULL)
        return;
    free(ct->bits);
    free(ct->out);
    free(ct->prof);
    free(ct->stamp);
    free(ct->seen);
    free(ct->tried);
    free(ct->gserial);
    free(ct->gmask);
    free(ct->hits);
    free(ct->hit_head);
    free(ct->verdict);
    free(ct->node_stamp);
    free(ct->want);
    free(ct->nodes);
    free(ct->wanted);
    free(ct->vals);
    free(ct->strs);
    free(ct->str_serial);
    free(ct->str_id);
    free(ct->ients);
    free(ct->itab);
    free(ct->itab_gen);
    free(ct->ilits);
    free(ct->node_id);
    free(ct->pset);
    free(ct->pset_gen);
    free(ct->vcache);
    rs_buf_free(&ct->tbuf);
    free(ct);
}

void rs_cand_counts(const rs_tx_t *tx, unsigned *slots, unsigned *candidates)
{
    const rs_cand_db_t *c = tx->db != NULL ? tx->db->cand : NULL;
    *slots = c != NULL ? c->nslots : 0;
    *candidates = 0;
    if (c == NULL || tx->cand == NULL || !tx->cand->valid)
        return;
    for (uint32_t w = 0; w < (c->nslots + 63) / 64; w++)
        *candidates += (unsigned)__builtin_popcountll(tx->cand->bits[w]);
}

void rs_cand_cache_stats(const rs_tx_t *tx, rs_cand_cache_stats_t *st)
{
    const vcache_t *vc = tx->memo != NULL ? tx->memo : tx->cand != NULL ? tx->cand->vcache : NULL;
    memset(st, 0, sizeof(*st));
    if (vc == NULL)
        return;
    rs_memo_stats(vc, &st->counts);
    for (size_t i = 0; i < VCACHE_ENTRIES; i++)
        st->live += (size_t)vcache_live(vc, &vc->ents[i]);
    st->capacity = VCACHE_ENTRIES;
    st->memory_bytes = sizeof(*vc);
}
