/* SPDX-License-Identifier: MIT */
/* The parsed rule set: what rules/lang produces from SecRule files and rules/engine compiles and runs.
 * Everything here is plain data owned by the rs_ruleset_t (freed by rs_ruleset_free). Names, selectors and
 * macros are already resolved to ids, operators are compiled, t: chains are final (t:none and
 * SecDefaultAction applied), and SecRuleRemove / SecRuleUpdate directives are applied (as ModSecurity v3
 * does: whatever their position in the files) by rs_ruleset_finish. */
#ifndef RS_IR_H
#define RS_IR_H

#include <stdint.h>
#include "util/util.h"
#include "operator/operator.h"

/* ---- variables -------------------------------------------------------------------------------------- */

#define RS_VF_COLLECTION 1 /* has keys: VAR:name / VAR:/regex/ selectors, & counts its members */
#define RS_VF_PERSISTENT 2 /* a storage collection written by setvar (TX, IP, GLOBAL, SESSION, USER, RESOURCE) */

/* X(enum suffix, name as written in rules, flags) */
#define RS_VARIABLES(X)                                                                                                            \
    X(ARGS, "ARGS", RS_VF_COLLECTION)                                                                                              \
    X(ARGS_GET, "ARGS_GET", RS_VF_COLLECTION)                                                                                      \
    X(ARGS_POST, "ARGS_POST", RS_VF_COLLECTION)                                                                                    \
    X(ARGS_NAMES, "ARGS_NAMES", RS_VF_COLLECTION)                                                                                  \
    X(ARGS_GET_NAMES, "ARGS_GET_NAMES", RS_VF_COLLECTION)                                                                          \
    X(ARGS_POST_NAMES, "ARGS_POST_NAMES", RS_VF_COLLECTION)                                                                        \
    X(ARGS_COMBINED_SIZE, "ARGS_COMBINED_SIZE", 0)                                                                                 \
    X(REQUEST_HEADERS, "REQUEST_HEADERS", RS_VF_COLLECTION)                                                                        \
    X(REQUEST_HEADERS_NAMES, "REQUEST_HEADERS_NAMES", RS_VF_COLLECTION)                                                            \
    X(REQUEST_COOKIES, "REQUEST_COOKIES", RS_VF_COLLECTION)                                                                        \
    X(REQUEST_COOKIES_NAMES, "REQUEST_COOKIES_NAMES", RS_VF_COLLECTION)                                                            \
    X(REQUEST_FILENAME, "REQUEST_FILENAME", 0)                                                                                     \
    X(REQUEST_BASENAME, "REQUEST_BASENAME", 0)                                                                                     \
    X(REQUEST_URI, "REQUEST_URI", 0)                                                                                               \
    X(REQUEST_URI_RAW, "REQUEST_URI_RAW", 0)                                                                                       \
    X(REQUEST_LINE, "REQUEST_LINE", 0)                                                                                             \
    X(REQUEST_METHOD, "REQUEST_METHOD", 0)                                                                                         \
    X(REQUEST_PROTOCOL, "REQUEST_PROTOCOL", 0)                                                                                     \
    X(REQUEST_BODY, "REQUEST_BODY", 0)                                                                                             \
    X(REQUEST_BODY_LENGTH, "REQUEST_BODY_LENGTH", 0)                                                                               \
    X(QUERY_STRING, "QUERY_STRING", 0)                                                                                             \
    X(FILES, "FILES", RS_VF_COLLECTION)                                                                                            \
    X(FILES_NAMES, "FILES_NAMES", RS_VF_COLLECTION)                                                                                \
    X(FILES_SIZES, "FILES_SIZES", RS_VF_COLLECTION)                                                                                \
    X(FILES_COMBINED_SIZE, "FILES_COMBINED_SIZE", 0)                                                                               \
    X(FILES_TMP_CONTENT, "FILES_TMP_CONTENT", RS_VF_COLLECTION)                                                                    \
    X(FILES_TMPNAMES, "FILES_TMPNAMES", RS_VF_COLLECTION)                                                                          \
    X(MULTIPART_PART_HEADERS, "MULTIPART_PART_HEADERS", RS_VF_COLLECTION)                                                          \
    X(MULTIPART_STRICT_ERROR, "MULTIPART_STRICT_ERROR", 0)                                                                         \
    X(MULTIPART_UNMATCHED_BOUNDARY, "MULTIPART_UNMATCHED_BOUNDARY", 0)                                                             \
    X(MULTIPART_BOUNDARY_QUOTED, "MULTIPART_BOUNDARY_QUOTED", 0)                                                                   \
    X(MULTIPART_BOUNDARY_WHITESPACE, "MULTIPART_BOUNDARY_WHITESPACE", 0)                                                           \
    X(MULTIPART_DATA_BEFORE, "MULTIPART_DATA_BEFORE", 0)                                                                           \
    X(MULTIPART_DATA_AFTER, "MULTIPART_DATA_AFTER", 0)                                                                             \
    X(MULTIPART_HEADER_FOLDING, "MULTIPART_HEADER_FOLDING", 0)                                                                     \
    X(MULTIPART_LF_LINE, "MULTIPART_LF_LINE", 0)                                                                                   \
    X(MULTIPART_CRLF_LF_LINES, "MULTIPART_CRLF_LF_LINES", 0)                                                                       \
    X(MULTIPART_MISSING_SEMICOLON, "MULTIPART_MISSING_SEMICOLON", 0)                                                               \
    X(MULTIPART_INVALID_QUOTING, "MULTIPART_INVALID_QUOTING", 0)                                                                   \
    X(MULTIPART_INVALID_PART, "MULTIPART_INVALID_PART", 0)                                                                         \
    X(MULTIPART_INVALID_HEADER_FOLDING, "MULTIPART_INVALID_HEADER_FOLDING", 0)                                                     \
    X(MULTIPART_FILE_LIMIT_EXCEEDED, "MULTIPART_FILE_LIMIT_EXCEEDED", 0)                                                           \
    X(MULTIPART_FILENAME, "MULTIPART_FILENAME", 0)                                                                                 \
    X(MULTIPART_NAME, "MULTIPART_NAME", 0)                                                                                         \
    X(REQBODY_ERROR, "REQBODY_ERROR", 0)                                                                                           \
    X(REQBODY_ERROR_MSG, "REQBODY_ERROR_MSG", 0)                                                                                   \
    X(REQBODY_PROCESSOR, "REQBODY_PROCESSOR", 0)                                                                                   \
    X(REQBODY_PROCESSOR_ERROR, "REQBODY_PROCESSOR_ERROR", 0)                                                                       \
    X(REQBODY_PROCESSOR_ERROR_MSG, "REQBODY_PROCESSOR_ERROR_MSG", 0)                                                               \
    X(INBOUND_DATA_ERROR, "INBOUND_DATA_ERROR", 0)                                                                                 \
    X(OUTBOUND_DATA_ERROR, "OUTBOUND_DATA_ERROR", 0)                                                                               \
    X(XML, "XML", RS_VF_COLLECTION)                                                                                                \
    X(TX, "TX", RS_VF_COLLECTION | RS_VF_PERSISTENT)                                                                               \
    X(IP, "IP", RS_VF_COLLECTION | RS_VF_PERSISTENT)                                                                               \
    X(GLOBAL, "GLOBAL", RS_VF_COLLECTION | RS_VF_PERSISTENT)                                                                       \
    X(SESSION, "SESSION", RS_VF_COLLECTION | RS_VF_PERSISTENT)                                                                     \
    X(USER, "USER", RS_VF_COLLECTION | RS_VF_PERSISTENT)                                                                           \
    X(RESOURCE, "RESOURCE", RS_VF_COLLECTION | RS_VF_PERSISTENT)                                                                   \
    X(ENV, "ENV", RS_VF_COLLECTION)                                                                                                \
    X(GEO, "GEO", RS_VF_COLLECTION)                                                                                                \
    X(RULE, "RULE", RS_VF_COLLECTION)                                                                                              \
    X(REMOTE_ADDR, "REMOTE_ADDR", 0)                                                                                               \
    X(REMOTE_PORT, "REMOTE_PORT", 0)                                                                                               \
    X(REMOTE_HOST, "REMOTE_HOST", 0)                                                                                               \
    X(REMOTE_USER, "REMOTE_USER", 0)                                                                                               \
    X(SERVER_ADDR, "SERVER_ADDR", 0)                                                                                               \
    X(SERVER_NAME, "SERVER_NAME", 0)                                                                                               \
    X(SERVER_PORT, "SERVER_PORT", 0)                                                                                               \
    X(AUTH_TYPE, "AUTH_TYPE", 0)                                                                                                   \
    X(UNIQUE_ID, "UNIQUE_ID", 0)                                                                                                   \
    X(MATCHED_VAR, "MATCHED_VAR", 0)                                                                                               \
    X(MATCHED_VARS, "MATCHED_VARS", RS_VF_COLLECTION)                                                                              \
    X(MATCHED_VAR_NAME, "MATCHED_VAR_NAME", 0)                                                                                     \
    X(MATCHED_VARS_NAMES, "MATCHED_VARS_NAMES", RS_VF_COLLECTION)                                                                  \
    X(HIGHEST_SEVERITY, "HIGHEST_SEVERITY", 0)                                                                                     \
    X(DURATION, "DURATION", 0)                                                                                                     \
    X(TIME, "TIME", 0)                                                                                                             \
    X(TIME_EPOCH, "TIME_EPOCH", 0)                                                                                                 \
    X(TIME_DAY, "TIME_DAY", 0)                                                                                                     \
    X(TIME_HOUR, "TIME_HOUR", 0)                                                                                                   \
    X(TIME_MIN, "TIME_MIN", 0)                                                                                                     \
    X(TIME_MON, "TIME_MON", 0)                                                                                                     \
    X(TIME_SEC, "TIME_SEC", 0)                                                                                                     \
    X(TIME_WDAY, "TIME_WDAY", 0)                                                                                                   \
    X(TIME_YEAR, "TIME_YEAR", 0)                                                                                                   \
    X(FULL_REQUEST, "FULL_REQUEST", 0)                                                                                             \
    X(FULL_REQUEST_LENGTH, "FULL_REQUEST_LENGTH", 0)                                                                               \
    X(STATUS_LINE, "STATUS_LINE", 0)                                                                                               \
    X(RESPONSE_HEADERS, "RESPONSE_HEADERS", RS_VF_COLLECTION)                                                                      \
    X(RESPONSE_HEADERS_NAMES, "RESPONSE_HEADERS_NAMES", RS_VF_COLLECTION)                                                          \
    X(RESPONSE_STATUS, "RESPONSE_STATUS", 0)                                                                                       \
    X(RESPONSE_PROTOCOL, "RESPONSE_PROTOCOL", 0)                                                                                   \
    X(RESPONSE_BODY, "RESPONSE_BODY", 0)                                                                                           \
    X(RESPONSE_CONTENT_TYPE, "RESPONSE_CONTENT_TYPE", 0)                                                                           \
    X(RESPONSE_CONTENT_LENGTH, "RESPONSE_CONTENT_LENGTH", 0)                                                                       \
    X(WEBSERVER_ERROR_LOG, "WEBSERVER_ERROR_LOG", RS_VF_COLLECTION)

#define RS_VAR_ENUM_(id, name, flags) RS_VAR_##id,
typedef enum { RS_VARIABLES(RS_VAR_ENUM_) RS_VAR__COUNT } rs_var_id_t;
#undef RS_VAR_ENUM_

typedef struct st_rs_var_info_t {
    const char *name;
    unsigned flags;
} rs_var_info_t;
extern const rs_var_info_t rs_var_table[RS_VAR__COUNT];
/** Case-insensitive lookup of a variable name; -1 when unknown. */
int rs_var_lookup(rs_str_t name);

/* ---- macros: %{VAR} / %{VAR.key} / %{rule.id} in setvar, msg, logdata, operator params ---------------- */

typedef enum {
    RS_MP_LITERAL, /* text */
    RS_MP_VAR,     /* variable var, key in text (NULL = scalar/whole), e.g. %{tx.anomaly_score}, %{MATCHED_VAR} */
} rs_macro_part_kind_t;

typedef struct st_rs_macro_part_t {
    uint8_t kind;
    uint16_t var; /* rs_var_id_t, for RS_MP_VAR */
    char *text;   /* literal text, or the lower-cased key for RS_MP_VAR (NULL when none) */
    size_t len;
} rs_macro_part_t;

/** A string that may contain macros. nparts == 0: empty. Constant when no part is RS_MP_VAR. */
typedef struct st_rs_macro_t {
    rs_macro_part_t *parts;
    size_t nparts;
    char *raw; /* as written, NUL-terminated; NULL when absent */
} rs_macro_t;

/* ---- targets ---------------------------------------------------------------------------------------- */

typedef struct st_rs_target_t {
    uint16_t var;       /* rs_var_id_t */
    uint8_t is_count;   /* &VAR */
    uint8_t is_negated; /* !VAR:key: removes matching members from the rule's other targets */
    char *key;          /* VAR:key, lower-cased for case-insensitive collections; NULL for the whole var */
    size_t key_len;
    void *key_regex;     /* VAR:/regex/ compiled (pcre2_code *, case-insensitive); NULL otherwise */
    char *key_regex_src; /* the regex as written, for messages and dumps */
    unsigned line, col;
} rs_target_t;

/* ---- actions ---------------------------------------------------------------------------------------- */

typedef enum {
    RS_DISRUPT_NONE = 0, /* no disruptive action given (inherits SecDefaultAction's) */
    RS_DISRUPT_PASS,
    RS_DISRUPT_BLOCK, /* resolved at run time to the default action of the phase */
    RS_DISRUPT_DENY,
    RS_DISRUPT_DROP,
    RS_DISRUPT_ALLOW, /* allow (whole transaction); see allow_scope */
    RS_DISRUPT_REDIRECT,
} rs_disrupt_t;

typedef enum { RS_ALLOW_ALL = 0, RS_ALLOW_PHASE, RS_ALLOW_REQUEST } rs_allow_scope_t;

typedef enum { RS_SETVAR_SET, RS_SETVAR_ADD, RS_SETVAR_SUB, RS_SETVAR_DELETE } rs_setvar_op_t;

typedef struct st_rs_setvar_t {
    uint8_t op;          /* rs_setvar_op_t */
    uint16_t collection; /* RS_VAR_TX / IP / GLOBAL / SESSION / USER / RESOURCE */
    rs_macro_t name;     /* key, may contain macros; expanded then lower-cased */
    rs_macro_t value;    /* empty for DELETE; "" when written "setvar:tx.x" (set to empty) */
} rs_setvar_t;

typedef struct st_rs_expirevar_t {
    uint16_t collection;
    rs_macro_t name;
    rs_macro_t seconds;
} rs_expirevar_t;

typedef struct st_rs_initcol_t {
    uint16_t collection; /* IP, GLOBAL, SESSION, USER, RESOURCE */
    rs_macro_t key;
} rs_initcol_t;

typedef enum {
    RS_CTL_RULE_ENGINE,                 /* ival: rs_engine_mode_t */
    RS_CTL_RULE_REMOVE_BY_ID,           /* id_lo..id_hi */
    RS_CTL_RULE_REMOVE_BY_TAG,          /* text: tag (regex as ModSecurity v3 treats it: see COMPATIBILITY.md) */
    RS_CTL_RULE_REMOVE_TARGET_BY_ID,    /* id_lo..id_hi + target */
    RS_CTL_RULE_REMOVE_TARGET_BY_TAG,   /* text + target */
    RS_CTL_REQUEST_BODY_PROCESSOR,      /* ival: rs_body_processor_t */
    RS_CTL_REQUEST_BODY_ACCESS,         /* ival: 0/1 */
    RS_CTL_FORCE_REQUEST_BODY_VARIABLE, /* ival: 0/1 */
    RS_CTL_REQUEST_BODY_LIMIT,          /* ival: bytes */
    RS_CTL_AUDIT_ENGINE,                /* accepted, no effect (edgeproxy has its own WAF log) */
    RS_CTL_AUDIT_LOG_PARTS,             /* accepted, no effect */
} rs_ctl_kind_t;

typedef struct st_rs_ctl_t {
    uint8_t kind;
    int64_t ival;
    uint32_t id_lo, id_hi;
    char *text;
    rs_target_t target; /* for *_TARGET_*; target.var set, key/key_regex as selector */
} rs_ctl_t;

typedef enum { RS_ENGINE_OFF = 0, RS_ENGINE_ON, RS_ENGINE_DETECTION_ONLY } rs_engine_mode_t;
typedef enum {
    RS_BODYPROC_NONE = 0,
    RS_BODYPROC_URLENCODED,
    RS_BODYPROC_MULTIPART,
    RS_BODYPROC_JSON,
    RS_BODYPROC_XML
} rs_body_processor_t;

/* ---- rules ------------------------------------------------------------------------------------------ */

typedef enum { RS_RULE_SECRULE, RS_RULE_SECACTION, RS_RULE_MARKER } rs_rule_kind_t;

#define RS_SEVERITY_UNSET (-1)

typedef struct st_rs_rule_t rs_rule_t;
struct st_rs_rule_t {
    uint8_t kind;     /* rs_rule_kind_t */
    uint8_t phase;    /* 1..5 (chain members carry their head's phase) */
    uint32_t id;      /* 0 for chain members and markers */
    const char *file; /* owned by the ruleset (interned); for messages */
    unsigned line, col;

    /* SecRule only */
    rs_target_t *targets;
    size_t ntargets;
    rs_op_t *op;         /* NULL for SecAction and markers (SecAction behaves as @unconditionalMatch) */
    uint8_t *transforms; /* transformation ids in order, after t:none and defaults */
    size_t ntransforms;

    /* actions */
    uint8_t disruptive;  /* rs_disrupt_t; chain members keep NONE */
    uint8_t allow_scope; /* rs_allow_scope_t, for RS_DISRUPT_ALLOW */
    uint16_t status;     /* status:NNN, 0 when not given */
    rs_macro_t redirect; /* redirect:URL */
    rs_macro_t msg, logdata;
    char **tags;
    size_t ntags;
    int severity; /* 0..7, RS_SEVERITY_UNSET */
    char *ver, *rev, *maturity, *accuracy;
    rs_setvar_t *setvars;
    size_t nsetvars;
    rs_expirevar_t *expirevars;
    size_t nexpirevars;
    rs_initcol_t *initcols;
    size_t ninitcols;
    rs_ctl_t *ctls;
    size_t nctls;
    unsigned capture : 1, multi_match : 1, log : 1, nolog : 1, auditlog : 1, noauditlog : 1, is_chain_member : 1;
    int skip;         /* skip:N, 0 when none */
    char *skip_after; /* skipAfter:MARKER, NULL when none */
    rs_rule_t *chain; /* the next rule of the chain (chain action), NULL when last */

    char *marker; /* SecMarker name (kind == RS_RULE_MARKER) */
};

typedef enum { RS_BODY_LIMIT_REJECT = 0, RS_BODY_LIMIT_PROCESS_PARTIAL } rs_body_limit_action_t;

/** A whole rule set as loaded from its files. */
typedef struct st_rs_ruleset_t {
    rs_rule_t **rules; /* top-level rules (chain heads, SecActions, markers) in load order, all phases */
    size_t nrules, cap;

    /* engine settings from directives; defaults are ModSecurity's */
    uint8_t engine_mode;                    /* SecRuleEngine, default RS_ENGINE_ON (we do not ship DetectionOnly as the
                                               library default: edgeproxy's config decides) */
    uint8_t request_body_access;            /* SecRequestBodyAccess, default 0 */
    uint8_t response_body_access;           /* SecResponseBodyAccess, default 0 */
    uint8_t body_limit_action;              /* SecRequestBodyLimitAction, default Reject */
    uint64_t request_body_limit;            /* SecRequestBodyLimit, bytes, default 134217728 */
    uint64_t request_body_no_files_limit;   /* SecRequestBodyNoFilesLimit, bytes, default 1048576 */
    uint64_t request_body_json_depth_limit; /* SecRequestBodyJsonDepthLimit, default 10000 */
    uint32_t pcre_match_limit;              /* SecPcreMatchLimit, default 3000 */
    uint32_t pcre_match_limit_recursion;    /* SecPcreMatchLimitRecursion, default 1000 */
    uint32_t collection_timeout;            /* SecCollectionTimeout, seconds, default 3600 */
    uint32_t arguments_limit;               /* SecArgumentsLimit, default 1000 */
    char argument_separator;                /* SecArgumentSeparator, default '&' */
    char *component_signature;              /* SecComponentSignature (informational) */
    rs_rule_t *default_actions[6];          /* SecDefaultAction per phase (1..5); NULL: phase:N,log,auditlog,pass */

    char **files; /* interned file names (rules point into these) */
    size_t nfiles;

    /* pending SecRuleRemove* / SecRuleUpdate* directives, applied by rs_ruleset_finish (parser-private) */
    void *pending;
} rs_ruleset_t;

/* ---- parsing (rules/lang) --------------------------------------------------------------------------- */

/** A new empty rule set with ModSecurity's default settings. */
rs_ruleset_t *rs_ruleset_new(void);
/** Parses a file and appends its rules (Include / IncludeOptional resolved relative to the including file,
 *  globs expanded in sorted order). Returns 0, or -1 after adding FILE:LINE:COL errors to errs. Parsing
 *  goes on after an error to report as many as it can. */
int rs_parse_file(rs_ruleset_t *rs, const char *path, rs_errors_t *errs);
/** Same for text held in memory; `name` is used in messages and `base_dir` for relative Include/@pmFromFile. */
int rs_parse_text(rs_ruleset_t *rs, const char *name, const char *base_dir, const char *text, size_t len, rs_errors_t *errs);
/** Applies removals and updates, checks that skipAfter markers exist (ModSecurity does not, but a typo is an
 *  error here) and that ids are unique. Returns 0 or -1 with errors. */
int rs_ruleset_finish(rs_ruleset_t *rs, rs_errors_t *errs);
void rs_ruleset_free(rs_ruleset_t *rs);

/** Parses a macro string (used by the parser, the engine for ad-hoc expansions, and tests). */
int rs_macro_parse(const char *text, size_t len, rs_macro_t *out, char **err);
void rs_macro_free(rs_macro_t *m);
/** Writes a rule back as SecRule text (for dumps and `rules explain`). */
void rs_rule_format(const rs_rule_t *r, rs_buf_t *out);

#endif
