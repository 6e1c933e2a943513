/* SPDX-License-Identifier: MIT */
/* The rule engine as the proxy and the tools see it: compile SecRule files once into an immutable database,
 * then run transactions against it, one per request, on per-thread scratch.
 *
 *   rs_db_t *db = rs_db_compile(sources, n, &opts, &errs);      control thread, slow, allocates freely
 *   rs_tx_t *tx = rs_tx_new();                                  once per worker thread
 *   rs_tx_begin(tx, db, &request);                              per request
 *   rs_tx_run_phase(tx, 1, &verdict); ... phase 2 with the body, 3 with response headers
 *   rs_tx_end(tx);                                              releases nothing: the scratch is reused
 *
 * The database is shared by all threads and reference counted (atomic). A transaction allocates nothing on
 * the heap once its buffers have grown to the largest request seen (steady state). */
#ifndef RS_H
#define RS_H

#include <stdint.h>
#include "util/util.h"

typedef struct st_rs_db_t rs_db_t;
typedef struct st_rs_tx_t rs_tx_t;

/* ---- compile ---------------------------------------------------------------------------------------- */

/** One input: a rule file by path, or inline text (text != NULL) named `path` in messages. */
typedef struct st_rs_source_t {
    const char *path;
    const char *text;
    size_t text_len;
} rs_source_t;

typedef struct st_rs_compile_opts_t {
    int use_prefilter; /* 1 (default when opts == NULL): one-pass literal prefilter; 0: plain rule-by-rule */
    int engine_mode;   /* -1: as the rule files say (SecRuleEngine); otherwise rs_engine_mode_t overrides */
} rs_compile_opts_t;

/** Parses and compiles. Returns NULL after adding FILE:LINE:COL errors to errs. */
rs_db_t *rs_db_compile(const rs_source_t *sources, size_t nsources, const rs_compile_opts_t *opts, rs_errors_t *errs);
void rs_db_retain(rs_db_t *db);  /* any thread */
void rs_db_release(rs_db_t *db); /* any thread; frees on the last reference */

typedef struct st_rs_db_stats_t {
    unsigned rules;             /* rules including chain members */
    unsigned rules_by_phase[6]; /* top-level rules per phase 1..5 */
    unsigned regexes;           /* @rx operators */
    unsigned prefiltered;       /* operators guarded by the literal prefilter */
    unsigned unfiltered;        /* operators with no required literal: always confirmed */
    unsigned literals;          /* literals in the prefilter automata */
    size_t memory_bytes;        /* approximate size of the database */
    double compile_ms;          /* parse + compile wall time */
    int engine_mode;            /* rs_engine_mode_t in force */
} rs_db_stats_t;
void rs_db_stats(const rs_db_t *db, rs_db_stats_t *stats);

/* ---- transactions ----------------------------------------------------------------------------------- */

typedef struct st_rs_header_t {
    rs_str_t name, value;
} rs_header_t;

/** The request as received. Strings are borrowed for the duration of the transaction. */
typedef struct st_rs_request_t {
    rs_str_t method;
    rs_str_t uri;               /* request target as sent, with the query string */
    rs_str_t protocol;          /* "HTTP/1.1" */
    const rs_header_t *headers; /* all headers as received, including Host, Content-Type, Content-Length */
    size_t nheaders;
    rs_str_t body;             /* the request body, possibly cut to the inspection limit */
    uint64_t body_full_length; /* the body's real length (> body.len when cut) */
    rs_str_t remote_addr;      /* client address as decided by edgeproxy (CloudFront-aware) */
    uint16_t remote_port;
    rs_str_t server_addr;
    uint16_t server_port;
    rs_str_t unique_id; /* the request id */
} rs_request_t;

typedef struct st_rs_response_t {
    int status;
    rs_str_t protocol;
    const rs_header_t *headers;
    size_t nheaders;
} rs_response_t;

typedef enum { RS_PASS = 0, RS_DENY, RS_DROP, RS_REDIRECT, RS_ALLOW } rs_disposition_t;

/** One rule that matched (chain: reported once, for the chain's head id, with the last member's data). */
typedef struct st_rs_match_t {
    uint32_t rule_id;
    uint8_t phase;
    int severity;      /* RS_SEVERITY_UNSET (-1) when the rule has none */
    rs_str_t msg;      /* expanded */
    rs_str_t logdata;  /* expanded */
    rs_str_t var_name; /* e.g. "ARGS:q" */
    rs_str_t value;    /* the matched (transformed) value */
    const char *const *tags;
    size_t ntags;
    const char *file;
    unsigned line;
    int disruptive; /* this match decided the disposition */
} rs_match_t;

/** Result of a phase. Pointers stay valid until the next rs_tx_begin/rs_tx_end on the same tx. */
typedef struct st_rs_verdict_t {
    rs_disposition_t disposition; /* already RS_PASS in DetectionOnly mode (would_block says what it would do) */
    int would_block;              /* the rules decided to deny/drop/redirect (also in DetectionOnly) */
    uint16_t status;              /* HTTP status for RS_DENY (403 when the rule gave none) */
    rs_str_t redirect;            /* Location for RS_REDIRECT */
    uint32_t rule_id;             /* the rule that decided, 0 when none */
    const rs_match_t *matches;    /* all matches so far in this transaction, in order */
    size_t nmatches;
    int inbound_score;   /* TX:anomaly_score (CRS 3.3: tx.anomaly_score, else inbound_anomaly_score) */
    int outbound_score;  /* TX:outbound_anomaly_score */
    unsigned limit_hits; /* regex match/depth limits hit so far */
    int body_error;      /* REQBODY_ERROR */
    int body_over_limit; /* the body was over SecRequestBodyLimit */
} rs_verdict_t;

rs_tx_t *rs_tx_new(void);
void rs_tx_free(rs_tx_t *tx);

/** Starts a transaction: parses the URI, query arguments, headers and cookies. The db is retained until
 *  rs_tx_end. Returns 0. */
int rs_tx_begin(rs_tx_t *tx, rs_db_t *db, const rs_request_t *req);
/** Runs phase 1 (request headers), 2 (request body: the body processor runs first), 3 (response headers,
 *  after rs_tx_set_response), 4 (response body) or 5 (logging). Later phases after a disruptive verdict do
 *  nothing. Returns 0, or -1 on an internal error (the verdict then says what was decided so far). */
int rs_tx_run_phase(rs_tx_t *tx, int phase, rs_verdict_t *verdict);
void rs_tx_set_response(rs_tx_t *tx, const rs_response_t *res);
/** Sets a TX variable (lower-case key) of the running transaction, between rs_tx_begin and phase 1: how
 *  the proxy tells the rules what it decided (edgeproxy sets TX:edgeproxy_tenant). The value is copied. */
void rs_tx_set_var(rs_tx_t *tx, const char *key, rs_str_t value);
/** Looks up a TX variable (lower-case key) of the running transaction, e.g. "blocking_paranoia_level". */
int rs_tx_get_var(rs_tx_t *tx, const char *key, rs_str_t *value);
/** Ends the transaction and releases the db reference. */
void rs_tx_end(rs_tx_t *tx);

/** What the engine learnt about strings, remembered across requests: a string one rule's operator already
 *  judged is not judged again, a string already searched for the rules' literals is not searched again, and
 *  a transformation already applied to a string is not applied again (the same User-Agent, Accept or cookie
 *  values go through the same chains, detectors and regexes on every request).
 *  Bounded (about 520 KB) and exact (strings are compared in full). A transaction keeps its own unless given
 *  one: a worker thread should make one and give it to every transaction it runs, so the memory is per thread
 *  and every request of the thread profits. Used by one thread at a time; serves any number of databases. */
typedef struct st_rs_memo_t rs_memo_t;
rs_memo_t *rs_memo_new(void); /* NULL when out of memory */
void rs_memo_free(rs_memo_t *memo);
/** From its next rs_tx_begin on, tx uses memo (NULL: its own). memo must outlive that use. */
void rs_tx_use_memo(rs_tx_t *tx, rs_memo_t *memo);
/** Lookups since the memo was made, found (hits) or not: rule verdicts, literal searches, transformations.
 *  Read on the thread that uses the memo. */
typedef struct st_rs_memo_stats_t {
    uint64_t verdict_hits, verdict_misses;
    uint64_t literal_hits, literal_misses;
    uint64_t transform_hits, transform_misses;
} rs_memo_stats_t;
void rs_memo_stats(const rs_memo_t *memo, rs_memo_stats_t *st);

/** Debug trace for `rules explain`: when set, the engine reports each rule evaluation. */
typedef void (*rs_trace_fn)(void *ctx, const char *line);
void rs_tx_set_trace(rs_tx_t *tx, rs_trace_fn fn, void *ctx);

/* ---- request files (tools and tests) ---------------------------------------------------------------- */

/** Parses a raw HTTP/1.x request (request line, headers, blank line, body; Content-Length or chunked) into
 *  *req, with strings pointing into `raw` or into `storage`. Returns 0, or -1 with a message in err. */
int rs_request_parse_raw(rs_str_t raw, rs_request_t *req, rs_buf_t *storage, char *err, size_t errsize);
void rs_request_free_parsed(rs_request_t *req);

#endif
