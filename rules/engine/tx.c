/* SPDX-License-Identifier: MIT */
/* Transactions: the request's variables, the body processors, and rule-by-rule evaluation of a phase with
 * ModSecurity v3 semantics (setvar per matching value, chains, multiMatch, skip/skipAfter, ctl, block via
 * SecDefaultAction, what gets logged). The prefilter only decides whether an operator needs to run at all;
 * everything else is the same code in both modes, which is what keeps their verdicts identical. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <limits.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "body/body.h"
#include "engine_internal.h"
#include "transform/transform.h"

static const rs_str_t empty_str = {"", 0};

#define RS_MAX_CHAIN 63 /* transformations tested one by one under multiMatch (chains are far shorter) */

/* ---- small helpers ---------------------------------------------------------------------------------- */

int rs_tx_trace_on(const rs_tx_t *tx)
{
    return tx->trace != NULL;
}

void rs_tx_tracef(rs_tx_t *tx, const char *fmt, ...)
{
    if (tx->trace == NULL)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    tx->trace(tx->trace_ctx, line);
}

/* std::stoi as ModSecurity uses it: leading blanks, sign, digits; anything unparsable or out of int range is 0. */
static int mod_stoi(rs_str_t s)
{
    size_t i = 0;
    while (i < s.len && isspace((unsigned char)s.base[i]))
        i++;
    int neg = 0;
    if (i < s.len && (s.base[i] == '+' || s.base[i] == '-'))
        neg = s.base[i++] == '-';
    if (i >= s.len || !isdigit((unsigned char)s.base[i]))
        return 0;
    long long v = 0;
    for (; i < s.len && isdigit((unsigned char)s.base[i]); i++) {
        v = v * 10 + (s.base[i] - '0');
        if (v > (long long)INT_MAX + 1)
            return 0;
    }
    v = neg ? -v : v;
    if (v > INT_MAX || v < INT_MIN)
        return 0;
    return (int)v;
}

static rs_str_t lower_dup(rs_tx_t *tx, rs_str_t s)
{
    char *p = rs_arena_dup(&tx->arena, s.base, s.len);
    for (size_t i = 0; i < s.len; i++)
        p[i] = (char)tolower((unsigned char)p[i]);
    return rs_str(p, s.len);
}

static rs_str_t dup_str(rs_tx_t *tx, rs_str_t s)
{
    return rs_str(rs_arena_dup(&tx->arena, s.base, s.len), s.len);
}

/* ---- lifecycle -------------------------------------------------------------------------------------- */

rs_tx_t *rs_tx_new(void)
{
    rs_tx_t *tx = calloc(1, sizeof(*tx));
    if (tx == NULL)
        return NULL;
    tx->opscratch = rs_op_scratch_new();
    tx->match_data = pcre2_match_data_create(16, NULL);
    return tx;
}

void rs_tx_free(rs_tx_t *tx)
{
    if (tx == NULL)
        return;
    if (tx->db != NULL)
        rs_tx_end(tx);
    rs_arena_free(&tx->arena);
    rs_cand_tx_free(tx->cand);
    rs_op_scratch_free(tx->opscratch);
    pcre2_match_data_free((pcre2_match_data *)tx->match_data);
    rs_buf_free(&tx->tbuf);
    rs_buf_free(&tx->mbuf);
    rs_buf_free(&tx->xbuf);
    for (int i = 0; i < RS_VAR__COUNT; i++)
        free(tx->coll[i].items);
    free(tx->matched_vars.items);
    free(tx->remove_ids);
    free(tx->remove_tags);
    free(tx->remove_targets);
    free(tx->matches);
    free(tx->tcache);
    free(tx->tindex);
    free(tx->tindex_gen);
    free(tx->vals);
    free(tx->txidx);
    free(tx);
}

void rs_tx_set_trace(rs_tx_t *tx, rs_trace_fn fn, void *ctx)
{
    tx->trace = fn;
    tx->trace_ctx = ctx;
}

static void reset_state(rs_tx_t *tx)
{
    rs_arena_reset(&tx->arena);
    memset(tx->scalar_set, 0, sizeof(tx->scalar_set));
    for (int i = 0; i < RS_VAR__COUNT; i++) {
        tx->coll[i].n = 0;
        tx->coll_key[i] = empty_str;
    }
    tx->matched_vars.n = 0;
    tx->matched_set = 0;
    tx->args_combined = 0;
    tx->highest_severity = 255;
    tx->body_processor = RS_BODYPROC_NONE;
    tx->body_type = RS_BODYPROC_NONE;
    tx->body_access = -1;
    tx->force_body_var = 0;
    tx->skip_next = 0;
    tx->marker = NULL;
    tx->allow_type = RS_ALLOWTYPE_NONE;
    tx->intercepted = 0;
    tx->it_status = 200;
    tx->it_url = empty_str;
    tx->disposition = RS_PASS;
    tx->would_block = 0;
    tx->would_status = 0;
    tx->decided_by = 0;
    tx->limit_hits = 0;
    tx->body_error = 0;
    tx->body_over_limit = 0;
    memset(tx->phase_done, 0, sizeof(tx->phase_done));
    tx->cur_phase = 0;
    tx->cur_rule = NULL;
    tx->nremove_ids = tx->nremove_tags = tx->nremove_targets = 0;
    tx->nmatches = 0;
    tx->ntcache = 0;
    tx->nvals = 0;
    tx->mbuf.len = 0;
    if (++tx->gen == 0) { /* generation wrapped: clear the index for real */
        if (tx->tindex_gen != NULL)
            memset(tx->tindex_gen, 0, tx->tindex_cap * sizeof(*tx->tindex_gen));
        tx->gen = 1;
    }
}

/* ---- argument and body sinks ------------------------------------------------------------------------ */

/* ModSecurity's addArgument: ARGS plus ARGS_GET / ARGS_POST (which < 0: ARGS only, as for JSON bodies),
 * under SecArgumentsLimit, counted in ARGS_COMBINED_SIZE. */
static void add_argument(rs_tx_t *tx, int which, rs_str_t key, rs_str_t value)
{
    const rs_ruleset_t *rs = tx->db->rs;
    if (rs->arguments_limit != 0 && tx->coll[RS_VAR_ARGS].n >= rs->arguments_limit)
        return;
    rs_str_t k = dup_str(tx, key), v = dup_str(tx, value);
    rs_kvlist_push(&tx->coll[RS_VAR_ARGS], k, v);
    if (which >= 0)
        rs_kvlist_push(&tx->coll[which], k, v);
    tx->args_combined += key.len + value.len;
    rs_tx_set_scalar_num(tx, RS_VAR_ARGS_COMBINED_SIZE, (long long)tx->args_combined);
}

typedef struct st_sink_ctx_t {
    rs_tx_t *tx;
    int args_var;  /* ARGS_GET or ARGS_POST; -1 for ARGS only (JSON) */
    int multipart; /* multipart fields go straight to ARGS and ARGS_POST (no limit, not in the combined size) */
    rs_buf_t *xml_text;
    uint64_t files_size;
} sink_ctx_t;

static void sink_item(void *ctx, rs_item_kind_t kind, rs_str_t name, rs_str_t value)
{
    sink_ctx_t *c = ctx;
    rs_tx_t *tx = c->tx;
    switch (kind) {
    case RS_ITEM_ARG:
        if (c->multipart) {
            rs_str_t k = dup_str(tx, name), v = dup_str(tx, value);
            rs_kvlist_push(&tx->coll[RS_VAR_ARGS], k, v);
            rs_kvlist_push(&tx->coll[RS_VAR_ARGS_POST], k, v);
        } else
            add_argument(tx, c->args_var, name, value);
        break;
    case RS_ITEM_FILE:
        rs_kvlist_push(&tx->coll[RS_VAR_FILES], dup_str(tx, name), dup_str(tx, value));
        rs_kvlist_push(&tx->coll[RS_VAR_FILES_NAMES], dup_str(tx, name), dup_str(tx, name));
        break;
    case RS_ITEM_FILE_SIZE:
        rs_kvlist_push(&tx->coll[RS_VAR_FILES_SIZES], dup_str(tx, name), dup_str(tx, value));
        c->files_size += (uint64_t)strtoull(rs_arena_dup(&tx->arena, value.base, value.len), NULL, 10);
        break;
    case RS_ITEM_FILE_CONTENT:
        rs_kvlist_push(&tx->coll[RS_VAR_FILES_TMP_CONTENT], dup_str(tx, name), dup_str(tx, value));
        break;
    case RS_ITEM_PART_HEADER:
        rs_kvlist_push(&tx->coll[RS_VAR_MULTIPART_PART_HEADERS], dup_str(tx, name), dup_str(tx, value));
        break;
    case RS_ITEM_XML_TEXT:
        if (c->xml_text != NULL)
            rs_buf_append(c->xml_text, value.base, value.len);
        break;
    case RS_ITEM_XML_ATTR:
        rs_kvlist_push(&tx->coll[RS_VAR_XML], RS_STR("//@*"), dup_str(tx, value));
        break;
    }
}

/* ---- begin: URI, headers, cookies ------------------------------------------------------------------- */

/* %XX decoding only (no '+'), invalid sequences kept: ModSecurity's uri_decode. */
static rs_str_t uri_decode(rs_tx_t *tx, rs_str_t s)
{
    char *out = rs_arena_alloc(&tx->arena, s.len + 1);
    size_t o = 0;
    for (size_t i = 0; i < s.len;) {
        if (s.base[i] == '%' && i + 2 < s.len) {
            int a = rs_hex_value((unsigned char)s.base[i + 1]), b = rs_hex_value((unsigned char)s.base[i + 2]);
            if (a >= 0 && b >= 0) {
                out[o++] = (char)((a << 4) | b);
                i += 3;
                continue;
            }
        }
        out[o++] = s.base[i++];
    }
    out[o] = '\0';
    return rs_str(out, o);
}

static size_t find_char(rs_str_t s, char c)
{
    const char *p = s.len ? memchr(s.base, c, s.len) : NULL;
    return p ? (size_t)(p - s.base) : SIZE_MAX;
}

static void process_uri(rs_tx_t *tx, const rs_request_t *req)
{
    rs_str_t uri = req->uri;
    size_t frag = find_char(uri, '#');
    rs_str_t uri_s = frag == SIZE_MAX ? uri : rs_str(uri.base, frag);
    size_t qpos = find_char(uri_s, '?');
    rs_str_t decoded = uri_decode(tx, uri_s);

    rs_tx_set_scalar(tx, RS_VAR_REQUEST_METHOD, req->method.base, req->method.len);
    rs_buf_t *b = &tx->mbuf;
    b->len = 0;
    rs_buf_append(b, req->method.base, req->method.len);
    rs_buf_putc(b, ' ');
    rs_buf_append(b, uri.base, uri.len);
    rs_buf_putc(b, ' ');
    rs_buf_append(b, req->protocol.base, req->protocol.len);
    rs_tx_set_scalar(tx, RS_VAR_REQUEST_LINE, b->base, b->len);
    b->len = 0;
    rs_tx_set_scalar(tx, RS_VAR_REQUEST_PROTOCOL, req->protocol.base, req->protocol.len);

    size_t dq = find_char(decoded, '?');
    rs_str_t path = dq == SIZE_MAX ? decoded : rs_str(decoded.base, dq);
    if (qpos != SIZE_MAX)
        rs_tx_set_scalar(tx, RS_VAR_QUERY_STRING, uri_s.base + qpos + 1, uri_s.len - qpos - 1);
    rs_tx_set_scalar(tx, RS_VAR_REQUEST_FILENAME, path.base, path.len);
    for (size_t i = path.len; i > 0; i--) {
        if (path.base[i - 1] == '/' || path.base[i - 1] == '\\') {
            if (i < path.len)
                rs_tx_set_scalar(tx, RS_VAR_REQUEST_BASENAME, path.base + i, path.len - i);
            break;
        }
    }

    /* absolute-form targets (scheme://host/path): REQUEST_URI keeps the path */
    rs_str_t parsed = decoded;
    if (decoded.len && decoded.base[0] != '/') {
        size_t colon = find_char(decoded, ':');
        if (colon != SIZE_MAX && colon + 3 <= decoded.len && decoded.base[colon + 1] == '/' && decoded.base[colon + 2] == '/') {
            rs_str_t rest = rs_str(decoded.base + colon + 3, decoded.len - colon - 3);
            size_t slash = find_char(rest, '/');
            if (slash != SIZE_MAX)
                parsed = rs_str(rest.base + slash, rest.len - slash);
        }
    }
    rs_tx_set_scalar(tx, RS_VAR_REQUEST_URI, parsed.base, parsed.len);
    rs_tx_set_scalar(tx, RS_VAR_REQUEST_URI_RAW, uri.base, uri.len);

    if (tx->scalar_set[RS_VAR_QUERY_STRING] && tx->scalar[RS_VAR_QUERY_STRING].len) {
        sink_ctx_t c = {tx, RS_VAR_ARGS_GET, 0, NULL, 0};
        rs_body_sink_t sink = {sink_item, &c};
        int invalid = 0;
        rs_buf_t *scratch = &tx->tbuf;
        rs_parse_urlencoded(tx->scalar[RS_VAR_QUERY_STRING], tx->db->rs->argument_separator, &sink, scratch, &invalid);
    }
}

static void cookie_item(void *ctx, rs_item_kind_t kind, rs_str_t name, rs_str_t value)
{
    rs_tx_t *tx = ctx;
    (void)kind;
    rs_kvlist_push(&tx->coll[RS_VAR_REQUEST_COOKIES], dup_str(tx, name), dup_str(tx, value));
}

static void process_headers(rs_tx_t *tx, const rs_request_t *req)
{
    for (size_t i = 0; i < req->nheaders; i++) {
        rs_str_t name = req->headers[i].name, value = req->headers[i].value;
        rs_kvlist_push(&tx->coll[RS_VAR_REQUEST_HEADERS], name, value);
        if (rs_str_ieq(name, "authorization")) {
            size_t sp = find_char(value, ' ');
            rs_tx_set_scalar(tx, RS_VAR_AUTH_TYPE, value.base, sp == SIZE_MAX ? value.len : sp);
        } else if (rs_str_ieq(name, "cookie")) {
            rs_body_sink_t sink = {cookie_item, tx};
            rs_parse_cookies(value, &sink);
        } else if (rs_str_ieq(name, "content-type")) {
            if (value.len >= 19 && rs_str_ieq(rs_str(value.base, 19), "multipart/form-data")) {
                tx->body_type = RS_BODYPROC_MULTIPART;
                rs_tx_set_scalar(tx, RS_VAR_REQBODY_PROCESSOR, "MULTIPART", 9);
            }
            if (value.len >= 33 && rs_str_ieq(rs_str(value.base, 33), "application/x-www-form-urlencoded")) {
                tx->body_type = RS_BODYPROC_URLENCODED;
                rs_tx_set_scalar(tx, RS_VAR_REQBODY_PROCESSOR, "URLENCODED", 10);
            }
        } else if (rs_str_ieq(name, "host")) {
            size_t colon = find_char(value, ':');
            rs_tx_set_scalar(tx, RS_VAR_SERVER_NAME, value.base, colon == SIZE_MAX ? value.len : colon);
        }
    }
}

int rs_tx_begin(rs_tx_t *tx, rs_db_t *db, const rs_request_t *req)
{
    if (tx->db != NULL)
        rs_tx_end(tx);
    rs_db_retain(db);
    tx->db = db;
    tx->req = req;
    tx->memo = tx->memo_next; /* between requests only: a request's interned strings point into its memo */
    reset_state(tx);
    clock_gettime(CLOCK_REALTIME, &tx->start);
    clock_gettime(CLOCK_MONOTONIC, &tx->start_mono);
    tx->engine_mode = db->engine_mode;

    rs_tx_set_scalar(tx, RS_VAR_REMOTE_ADDR, req->remote_addr.base, req->remote_addr.len);
    rs_tx_set_scalar(tx, RS_VAR_REMOTE_HOST, req->remote_addr.base, req->remote_addr.len);
    rs_tx_set_scalar_num(tx, RS_VAR_REMOTE_PORT, req->remote_port);
    rs_tx_set_scalar(tx, RS_VAR_SERVER_ADDR, req->server_addr.base, req->server_addr.len);
    rs_tx_set_scalar_num(tx, RS_VAR_SERVER_PORT, req->server_port);
    rs_tx_set_scalar(tx, RS_VAR_UNIQUE_ID, req->unique_id.base, req->unique_id.len);
    process_uri(tx, req);
    process_headers(tx, req);
    return 0;
}

void rs_tx_use_memo(rs_tx_t *tx, rs_memo_t *memo)
{
    tx->memo_next = memo;
}

void rs_tx_end(rs_tx_t *tx)
{
    if (tx->db == NULL)
        return;
    rs_db_t *db = tx->db;
    tx->db = NULL;
    tx->req = NULL;
    tx->nmatches = 0;
    rs_db_release(db);
}

void rs_tx_set_response(rs_tx_t *tx, const rs_response_t *res)
{
    if (tx->db == NULL)
        return;
    tx->coll[RS_VAR_RESPONSE_HEADERS].n = 0;
    tx->v3order_gen[RS_VAR_RESPONSE_HEADERS] = 0; /* refilled below: its emulated order is stale */
    rs_tx_set_scalar_num(tx, RS_VAR_RESPONSE_STATUS, res->status);
    rs_tx_set_scalar(tx, RS_VAR_RESPONSE_PROTOCOL, res->protocol.base, res->protocol.len);
    char line[64];
    int n = snprintf(line, sizeof(line), "%.*s %d", (int)(res->protocol.len > 16 ? 16 : res->protocol.len), res->protocol.base,
                     res->status);
    rs_tx_set_scalar(tx, RS_VAR_STATUS_LINE, line, (size_t)n);
    for (size_t i = 0; i < res->nheaders; i++) {
        rs_str_t name = dup_str(tx, res->headers[i].name), value = dup_str(tx, res->headers[i].value);
        rs_kvlist_push(&tx->coll[RS_VAR_RESPONSE_HEADERS], name, value);
        if (rs_str_ieq(name, "content-type"))
            rs_tx_set_scalar(tx, RS_VAR_RESPONSE_CONTENT_TYPE, value.base, value.len);
        else if (rs_str_ieq(name, "content-length"))
            rs_tx_set_scalar(tx, RS_VAR_RESPONSE_CONTENT_LENGTH, value.base, value.len);
    }
}

int rs_tx_get_var(rs_tx_t *tx, const char *key, rs_str_t *value)
{
    if (tx->db == NULL)
        return 0;
    return rs_tx_first_value(tx, RS_VAR_TX, key, strlen(key), value);
}

/* ---- request body (start of phase 2) ---------------------------------------------------------------- */

static void set_body_error(rs_tx_t *tx, const char *prefix, const char *msg)
{
    char text[256];
    int n = snprintf(text, sizeof(text), "%s%s", prefix, msg);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(text))
        n = sizeof(text) - 1;
    rs_tx_set_scalar(tx, RS_VAR_REQBODY_ERROR, "1", 1);
    rs_tx_set_scalar(tx, RS_VAR_REQBODY_PROCESSOR_ERROR, "1", 1);
    rs_tx_set_scalar(tx, RS_VAR_REQBODY_ERROR_MSG, text, (size_t)n);
    rs_tx_set_scalar(tx, RS_VAR_REQBODY_PROCESSOR_ERROR_MSG, text, (size_t)n);
    tx->body_error = 1;
}

static void set_body_ok(rs_tx_t *tx)
{
    rs_tx_set_scalar(tx, RS_VAR_REQBODY_ERROR, "0", 1);
    rs_tx_set_scalar(tx, RS_VAR_REQBODY_PROCESSOR_ERROR, "0", 1);
}

/* Flags keep their value, not just 0/1: MULTIPART_UNMATCHED_BOUNDARY is 2 for a properly closed body
 * (ModSecurity's convention), so rules testing "@eq 1" only catch real unmatched boundaries. */
static void set_flag(rs_tx_t *tx, int var, int v)
{
    char digit = (char)('0' + (v < 0 ? 0 : v > 9 ? 9 : v));
    rs_tx_set_scalar(tx, var, &digit, 1);
}

static int header_value(const rs_request_t *req, const char *name, rs_str_t *out)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (rs_str_ieq(req->headers[i].name, name)) {
            *out = req->headers[i].value;
            return 1;
        }
    return 0;
}

static void do_disrupt(rs_tx_t *tx, const rs_crule_t *cr, int kind, rs_rulemsg_t *rm);

/* Returns 1 when phase 2 rules are to run. */
static int process_body(rs_tx_t *tx)
{
    const rs_ruleset_t *rs = tx->db->rs;
    const rs_request_t *req = tx->req;
    rs_str_t body = req->body;
    uint64_t full = req->body_full_length > body.len ? req->body_full_length : body.len;

    rs_tx_set_scalar(tx, RS_VAR_INBOUND_DATA_ERROR, "0", 1);
    if (rs->request_body_limit > 0 && full > rs->request_body_limit) {
        rs_tx_set_scalar(tx, RS_VAR_INBOUND_DATA_ERROR, "1", 1);
        tx->body_over_limit = 1;
        if (rs->body_limit_action == RS_BODY_LIMIT_REJECT) {
            if (tx->engine_mode == RS_ENGINE_ON) {
                tx->intercepted = 1;
                tx->disposition = RS_DENY;
                tx->it_status = 403;
                tx->decided_by = 0;
                return 0;
            }
            if (tx->engine_mode == RS_ENGINE_DETECTION_ONLY && !tx->would_block) {
                tx->would_block = 1;
                tx->would_status = 403;
            }
            body = rs_str(body.base, 0); /* ModSecurity drops the chunk that crossed the limit */
        } else if (body.len > rs->request_body_limit)
            body.len = (size_t)rs->request_body_limit;
    }

    rs_str_t ctype = empty_str;
    header_value(req, "content-type", &ctype);
    int nofiles_exceeded = 0;
    if (tx->body_type == RS_BODYPROC_URLENCODED || tx->body_processor == RS_BODYPROC_JSON ||
        tx->body_processor == RS_BODYPROC_XML) {
        if (rs->request_body_no_files_limit && body.len > rs->request_body_no_files_limit) {
            rs_tx_set_scalar(tx, RS_VAR_REQBODY_ERROR, "1", 1);
            const char *m = "Request body excluding files is bigger than the maximum expected.";
            rs_tx_set_scalar(tx, RS_VAR_REQBODY_ERROR_MSG, m, strlen(m));
            rs_tx_set_scalar(tx, RS_VAR_INBOUND_DATA_ERROR, "1", 1);
            tx->body_error = 1;
            nofiles_exceeded = 1;
        }
    }

    rs_body_error_t err;
    memset(&err, 0, sizeof(err));
    sink_ctx_t c = {tx, RS_VAR_ARGS_POST, 0, NULL, 0};
    rs_body_sink_t sink = {sink_item, &c};
    if (tx->body_processor == RS_BODYPROC_XML) {
        if (!nofiles_exceeded) {
            rs_buf_t *text = &tx->xbuf;
            text->len = 0;
            c.xml_text = text;
            rs_parse_xml(body, 10000, &sink, &tx->tbuf, &err);
            if (!err.error)
                rs_kvlist_push(&tx->coll[RS_VAR_XML], RS_STR("/*"), dup_str(tx, rs_str(text->base ? text->base : "", text->len)));
            if (err.error)
                set_body_error(tx, "XML parsing error: ", err.message);
            else
                set_body_ok(tx);
        }
    } else if (tx->body_processor == RS_BODYPROC_JSON) {
        if (!nofiles_exceeded) {
            unsigned depth = rs->request_body_json_depth_limit ? (unsigned)rs->request_body_json_depth_limit : 10000;
            c.args_var = -1;
            rs_parse_json(body, depth, &sink, &tx->tbuf, &err);
            if (err.error && body.len > 0)
                set_body_error(tx, "JSON parsing error: ", err.message);
            else
                set_body_ok(tx);
        }
    } else if (tx->body_type == RS_BODYPROC_MULTIPART) {
        rs_multipart_flags_t fl;
        memset(&fl, 0, sizeof(fl));
        c.multipart = 1;
        rs_parse_multipart(body, ctype, &sink, &tx->tbuf, &fl, &err);
        set_flag(tx, RS_VAR_MULTIPART_STRICT_ERROR, fl.strict_error);
        set_flag(tx, RS_VAR_MULTIPART_BOUNDARY_QUOTED, fl.boundary_quoted);
        set_flag(tx, RS_VAR_MULTIPART_BOUNDARY_WHITESPACE, fl.boundary_whitespace);
        set_flag(tx, RS_VAR_MULTIPART_DATA_BEFORE, fl.data_before);
        set_flag(tx, RS_VAR_MULTIPART_DATA_AFTER, fl.data_after);
        set_flag(tx, RS_VAR_MULTIPART_HEADER_FOLDING, fl.header_folding);
        set_flag(tx, RS_VAR_MULTIPART_LF_LINE, fl.lf_line);
        set_flag(tx, RS_VAR_MULTIPART_CRLF_LF_LINES, fl.crlf_lf_lines);
        set_flag(tx, RS_VAR_MULTIPART_MISSING_SEMICOLON, fl.missing_semicolon);
        set_flag(tx, RS_VAR_MULTIPART_INVALID_QUOTING, fl.invalid_quoting);
        set_flag(tx, RS_VAR_MULTIPART_INVALID_PART, fl.invalid_part);
        set_flag(tx, RS_VAR_MULTIPART_INVALID_HEADER_FOLDING, fl.invalid_header_folding);
        set_flag(tx, RS_VAR_MULTIPART_FILE_LIMIT_EXCEEDED, fl.file_limit_exceeded);
        set_flag(tx, RS_VAR_MULTIPART_UNMATCHED_BOUNDARY, fl.unmatched_boundary);
        if (fl.filename[0])
            rs_tx_set_scalar(tx, RS_VAR_MULTIPART_FILENAME, fl.filename, strlen(fl.filename));
        if (fl.name[0])
            rs_tx_set_scalar(tx, RS_VAR_MULTIPART_NAME, fl.name, strlen(fl.name));
        rs_tx_set_scalar_num(tx, RS_VAR_FILES_COMBINED_SIZE, (long long)c.files_size);
        if (err.error)
            set_body_error(tx, "Multipart parsing error: ", err.message);
        else
            set_body_ok(tx);
    } else if (tx->body_type == RS_BODYPROC_URLENCODED) {
        if (!nofiles_exceeded) {
            int invalid = 0;
            rs_parse_urlencoded(body, rs->argument_separator, &sink, &tx->tbuf, &invalid);
        }
    } else
        set_body_ok(tx);

    int access = tx->body_access >= 0 ? tx->body_access : rs->request_body_access;
    if (!access)
        return 0;

    if (tx->db->uses_var[RS_VAR_FULL_REQUEST] || tx->db->uses_var[RS_VAR_FULL_REQUEST_LENGTH]) {
        rs_buf_t *b = &tx->mbuf;
        b->len = 0;
        for (size_t i = 0; i < req->nheaders; i++) {
            rs_buf_append(b, req->headers[i].name.base, req->headers[i].name.len);
            rs_buf_append(b, ": ", 2);
            rs_buf_append(b, req->headers[i].value.base, req->headers[i].value.len);
            rs_buf_putc(b, '\n');
        }
        rs_buf_append(b, "\n\n", 2);
        rs_buf_append(b, body.base, body.len);
        rs_tx_set_scalar(tx, RS_VAR_FULL_REQUEST, b->base, b->len);
        rs_tx_set_scalar_num(tx, RS_VAR_FULL_REQUEST_LENGTH, (long long)b->len);
        b->len = 0;
    }
    if (body.len > 0) {
        tx->scalar[RS_VAR_REQUEST_BODY] = body; /* borrowed from the request for the transaction */
        tx->scalar_set[RS_VAR_REQUEST_BODY] = 1;
        rs_tx_set_scalar_num(tx, RS_VAR_REQUEST_BODY_LENGTH, (long long)body.len);
    }
    return 1;
}

/* ---- transformation memo and prefilter -------------------------------------------------------------- */

static uint32_t tc_hash(const char *p, size_t len, uint32_t node)
{
    uint64_t h = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull;
    h ^= (uint64_t)len * 0xC2B2AE3D27D4EB4Full;
    h ^= (uint64_t)node * 0x165667B19E3779F9ull;
    h ^= h >> 29;
    return (uint32_t)h;
}

static void tc_grow_index(rs_tx_t *tx)
{
    size_t cap = tx->tindex_cap ? tx->tindex_cap * 2 : 1024;
    free(tx->tindex);
    free(tx->tindex_gen);
    tx->tindex = malloc(cap * sizeof(*tx->tindex));
    tx->tindex_gen = calloc(cap, sizeof(*tx->tindex_gen));
    if (tx->tindex == NULL || tx->tindex_gen == NULL)
        abort();
    tx->tindex_cap = cap;
    for (size_t i = 0; i < tx->ntcache; i++) {
        rs_tcache_ent_t *e = &tx->tcache[i];
        size_t s = tc_hash(e->in_base, e->in_len, e->node) & (cap - 1);
        while (tx->tindex_gen[s] == tx->gen)
            s = (s + 1) & (cap - 1);
        tx->tindex_gen[s] = tx->gen;
        tx->tindex[s] = (uint32_t)i;
    }
}

/* Index of the memo entry for `in` transformed by chain node `node`, computing it (and its prefixes). */
static size_t tc_get(rs_tx_t *tx, rs_str_t in, uint32_t node)
{
    if (tx->ntcache * 2 >= tx->tindex_cap)
        tc_grow_index(tx);
    size_t mask = tx->tindex_cap - 1, s = tc_hash(in.base, in.len, node) & mask;
    while (tx->tindex_gen[s] == tx->gen) {
        rs_tcache_ent_t *e = &tx->tcache[tx->tindex[s]];
        if (e->in_base == in.base && e->in_len == in.len && e->node == node)
            return tx->tindex[s];
        s = (s + 1) & mask;
    }
    rs_str_t out = in;
    if (node != 0) {
        const rs_tnode_t *tn = &tx->db->tnodes[node];
        rs_str_t prev = in;
        if (tn->parent != 0) {
            size_t pi = tc_get(tx, in, tn->parent); /* may move tx->tcache: index only after the call */
            prev = tx->tcache[pi].out;
        }
        tx->tbuf.len = 0;
        /* a result with the same bytes counts as unchanged (multiMatch tests changed values only) */
        if (rs_transform_apply(tn->transform, prev, &tx->tbuf) == 1 &&
            !(tx->tbuf.len == prev.len && (prev.len == 0 || memcmp(tx->tbuf.base, prev.base, prev.len) == 0)))
            out = rs_str(rs_arena_dup(&tx->arena, tx->tbuf.base ? tx->tbuf.base : "", tx->tbuf.len), tx->tbuf.len);
        else
            out = prev;
        /* the recursion may have grown the index: find the slot again */
        if (tx->ntcache * 2 >= tx->tindex_cap)
            tc_grow_index(tx);
        mask = tx->tindex_cap - 1;
        s = tc_hash(in.base, in.len, node) & mask;
        while (tx->tindex_gen[s] == tx->gen)
            s = (s + 1) & mask;
    }
    if (tx->ntcache == tx->cap_tcache) {
        size_t cap = tx->cap_tcache ? tx->cap_tcache * 2 : 512;
        rs_tcache_ent_t *n = realloc(tx->tcache, cap * sizeof(*n));
        if (n == NULL)
            abort();
        tx->tcache = n;
        tx->cap_tcache = cap;
    }
    size_t idx = tx->ntcache++;
    tx->tcache[idx] = (rs_tcache_ent_t){in.base, in.len, node, tx->gen, out, NULL};
    tx->tindex_gen[s] = tx->gen;
    tx->tindex[s] = (uint32_t)idx;
    return idx;
}

static int pf_on_match(void *ctx, uint32_t id, size_t end)
{
    uint64_t *bits = ctx;
    (void)end;
    bits[id >> 6] |= 1ull << (id & 63);
    return 0;
}

/* Whether lit occurs in s; ignoring ASCII case when nocase (the automaton's rule for caseless literals). */
static int contains_literal(rs_str_t s, rs_str_t lit, int nocase)
{
    if (lit.len == 0)
        return 1;
    if (lit.len > s.len)
        return 0;
    if (!nocase)
        return memmem(s.base, s.len, lit.base, lit.len) != NULL;
    unsigned first = (unsigned char)lit.base[0];
    int letter = (first | 0x20) - 'a' < 26u;
    const char *end = s.base + s.len - lit.len + 1; /* last possible start + 1 */
    for (const char *p = s.base; p < end; p++) {
        if (!letter) { /* a byte with no case: let memchr find its next occurrence */
            p = memchr(p, (int)first, (size_t)(end - p));
            if (p == NULL)
                return 0;
        } else if (((unsigned char)*p | 0x20) != (first | 0x20))
            continue;
        if (rs_key_ieq(rs_str(p, lit.len), lit))
            return 1;
    }
    return 0;
}

/* Whether the prefilter allows the operator of cr to run on entry e (its chain's automata found one of its
 * literals in the transformed value). One scan per distinct transformed value and chain. */
static int pf_allows(rs_tx_t *tx, const rs_crule_t *cr, size_t ei)
{
    rs_tcache_ent_t *e = &tx->tcache[ei];
    if (e->hits == NULL && cr->pf_nlits != 0) { /* no scan of this value yet: search for the rule's own few */
        for (size_t k = 0; k < cr->pf_nlits; k++)
            if (contains_literal(e->out, cr->pf_lits[k], cr->pf_nocase))
                return 1;
        return 0;
    }
    if (e->hits == NULL) {
        const rs_pfchain_t *pc = &tx->db->pf[cr->tnode];
        size_t words = (pc->nslots + 63) / 64;
        uint64_t *bits = rs_arena_alloc(&tx->arena, words * sizeof(uint64_t));
        memset(bits, 0, words * sizeof(uint64_t));
        if (pc->ac_case != NULL)
            rs_ac_scan(pc->ac_case, e->out.base, e->out.len, pf_on_match, bits);
        if (pc->ac_nocase != NULL)
            rs_ac_scan(pc->ac_nocase, e->out.base, e->out.len, pf_on_match, bits);
        e->hits = bits;
    }
    return (e->hits[cr->pf_slot >> 6] >> (cr->pf_slot & 63)) & 1;
}

/* ---- matches and messages --------------------------------------------------------------------------- */

static void rm_init(rs_rulemsg_t *rm)
{
    memset(rm, 0, sizeof(*rm));
    rm->save = 1;
    rm->severity = RS_SEVERITY_UNSET;
}

static void push_match(rs_tx_t *tx, const rs_crule_t *cr, const rs_rulemsg_t *rm)
{
    if (tx->nmatches == tx->cap_matches) {
        size_t cap = tx->cap_matches ? tx->cap_matches * 2 : 32;
        rs_match_t *m = realloc(tx->matches, cap * sizeof(*m));
        if (m == NULL)
            abort();
        tx->matches = m;
        tx->cap_matches = cap;
    }
    const rs_rule_t *h = cr->head->rule;
    rs_match_t *m = &tx->matches[tx->nmatches++];
    m->rule_id = h->id;
    m->phase = h->phase;
    m->severity = rm->severity;
    m->msg = rm->msg;
    m->logdata = rm->logdata;
    m->var_name = tx->matched_set ? tx->matched_name : empty_str;
    m->value = tx->matched_set ? tx->matched_var : empty_str;
    m->tags = (const char *const *)h->tags;
    m->ntags = h->ntags;
    m->file = h->file;
    m->line = h->line;
    m->disruptive = rm->disruptive;
    if (tx->trace != NULL)
        rs_tx_tracef(tx, "  => logged rule %u: msg='%.*s' data='%.*s'", h->id, (int)m->msg.len, m->msg.base,
                     (int)(m->logdata.len > 200 ? 200 : m->logdata.len), m->logdata.base);
}

/* ---- actions ---------------------------------------------------------------------------------------- */

static void run_setvar(rs_tx_t *tx, const rs_setvar_t *sv)
{
    rs_str_t name = rs_tx_expand(tx, &sv->name);
    if (name.len == 0)
        return;
    name = lower_dup(tx, name);
    if (sv->op == RS_SETVAR_DELETE) {
        rs_tx_coll_del(tx, sv->collection, name);
        return;
    }
    rs_str_t value;
    char num[24];
    if (sv->op == RS_SETVAR_SET) {
        value = sv->value.raw == NULL ? RS_STR("1") : rs_tx_expand(tx, &sv->value);
    } else {
        int pre = mod_stoi(rs_tx_expand(tx, &sv->value));
        rs_str_t cur;
        int curv = rs_tx_first_value(tx, sv->collection, name.base, name.len, &cur) ? mod_stoi(cur) : 0;
        long long r = sv->op == RS_SETVAR_ADD ? (long long)curv + pre : (long long)curv - pre;
        value = rs_str(num, rs_fmt_ll(num, (int)r)); /* int arithmetic as ModSecurity */
    }
    if (tx->trace != NULL)
        rs_tx_tracef(tx, "  setvar %s.%.*s = %.*s", rs_var_table[sv->collection].name, (int)name.len, name.base,
                     (int)(value.len > 100 ? 100 : value.len), value.base);
    rs_tx_coll_set(tx, sv->collection, name, value);
}

static void run_setvars(rs_tx_t *tx, const rs_rule_t *r)
{
    for (size_t i = 0; i < r->nsetvars; i++)
        run_setvar(tx, &r->setvars[i]);
}

static void add_remove_target(rs_tx_t *tx, const rs_ctl_t *c, int by_tag)
{
    if (tx->nremove_targets == tx->cap_remove_targets) {
        size_t cap = tx->cap_remove_targets ? tx->cap_remove_targets * 2 : 16;
        rs_remove_target_t *n = realloc(tx->remove_targets, cap * sizeof(*n));
        if (n == NULL)
            abort();
        tx->remove_targets = n;
        tx->cap_remove_targets = cap;
    }
    tx->remove_targets[tx->nremove_targets++] = (rs_remove_target_t){(uint8_t)by_tag, c->id_lo, c->id_hi, c->text, &c->target};
}

static void run_ctl(rs_tx_t *tx, const rs_ctl_t *c)
{
    switch (c->kind) {
    case RS_CTL_RULE_ENGINE:
        tx->engine_mode = (int)c->ival;
        break;
    case RS_CTL_RULE_REMOVE_BY_ID:
        if (tx->nremove_ids == tx->cap_remove_ids) {
            size_t cap = tx->cap_remove_ids ? tx->cap_remove_ids * 2 : 16;
            uint32_t(*n)[2] = realloc(tx->remove_ids, cap * sizeof(*n));
            if (n == NULL)
                abort();
            tx->remove_ids = n;
            tx->cap_remove_ids = cap;
        }
        tx->remove_ids[tx->nremove_ids][0] = c->id_lo;
        tx->remove_ids[tx->nremove_ids][1] = c->id_hi;
        tx->nremove_ids++;
        break;
    case RS_CTL_RULE_REMOVE_BY_TAG:
        if (tx->nremove_tags == tx->cap_remove_tags) {
            size_t cap = tx->cap_remove_tags ? tx->cap_remove_tags * 2 : 16;
            const char **n = realloc(tx->remove_tags, cap * sizeof(*n));
            if (n == NULL)
                abort();
            tx->remove_tags = n;
            tx->cap_remove_tags = cap;
        }
        tx->remove_tags[tx->nremove_tags++] = c->text;
        break;
    case RS_CTL_RULE_REMOVE_TARGET_BY_ID:
        add_remove_target(tx, c, 0);
        break;
    case RS_CTL_RULE_REMOVE_TARGET_BY_TAG:
        add_remove_target(tx, c, 1);
        break;
    case RS_CTL_REQUEST_BODY_PROCESSOR:
        if (c->ival == RS_BODYPROC_URLENCODED) {
            tx->body_type = RS_BODYPROC_URLENCODED;
            rs_tx_set_scalar(tx, RS_VAR_REQBODY_PROCESSOR, "URLENCODED", 10);
        } else if (c->ival == RS_BODYPROC_MULTIPART) {
            tx->body_type = RS_BODYPROC_MULTIPART;
            rs_tx_set_scalar(tx, RS_VAR_REQBODY_PROCESSOR, "MULTIPART", 9);
        } else if (c->ival == RS_BODYPROC_JSON) {
            tx->body_processor = RS_BODYPROC_JSON;
            rs_tx_set_scalar(tx, RS_VAR_REQBODY_PROCESSOR, "JSON", 4);
        } else if (c->ival == RS_BODYPROC_XML) {
            tx->body_processor = RS_BODYPROC_XML;
            rs_tx_set_scalar(tx, RS_VAR_REQBODY_PROCESSOR, "XML", 3);
        }
        break;
    case RS_CTL_REQUEST_BODY_ACCESS:
        tx->body_access = c->ival ? 1 : 0;
        break;
    case RS_CTL_FORCE_REQUEST_BODY_VARIABLE:
        tx->force_body_var = c->ival ? 1 : 0;
        break;
    default:
        break; /* body limit, audit settings: nothing to do per transaction */
    }
}

static int rule_has_tag(const rs_rule_t *r, const char *tag)
{
    for (size_t i = 0; i < r->ntags; i++)
        if (strcmp(r->tags[i], tag) == 0)
            return 1;
    return 0;
}

/* Runs a disruptive action (deny/drop/redirect/allow/pass) as ModSecurity's executeAction: only when the
 * engine is On; in DetectionOnly it records what would have happened. */
static void do_disrupt(rs_tx_t *tx, const rs_crule_t *cr, int kind, rs_rulemsg_t *rm)
{
    const rs_rule_t *h = cr->head->rule;
    int blocking = kind == RS_DISRUPT_DENY || kind == RS_DISRUPT_DROP || kind == RS_DISRUPT_REDIRECT;
    if (tx->engine_mode != RS_ENGINE_ON) {
        if (tx->engine_mode == RS_ENGINE_DETECTION_ONLY && blocking && !tx->would_block) {
            tx->would_block = 1;
            tx->would_status = kind == RS_DISRUPT_REDIRECT ? 302 : (tx->it_status == 200 ? 403 : tx->it_status);
            tx->decided_by = h->id;
        }
        return;
    }
    switch (kind) {
    case RS_DISRUPT_DENY:
    case RS_DISRUPT_DROP:
        if (tx->it_status == 200)
            tx->it_status = 403;
        tx->intercepted = 1;
        tx->disposition = kind == RS_DISRUPT_DENY ? RS_DENY : RS_DROP;
        rm->disruptive = 1;
        tx->decided_by = h->id;
        tx->would_block = 1;
        break;
    case RS_DISRUPT_REDIRECT:
        tx->it_url = rs_tx_expand(tx, &cr->rule->redirect);
        if (tx->it_status == 200 || !(tx->it_status <= 307 && tx->it_status >= 301))
            tx->it_status = 302;
        tx->intercepted = 1;
        tx->disposition = RS_REDIRECT;
        rm->disruptive = 1;
        tx->decided_by = h->id;
        tx->would_block = 1;
        break;
    case RS_DISRUPT_ALLOW:
        tx->allow_type = cr->rule->allow_scope == RS_ALLOW_PHASE     ? RS_ALLOWTYPE_PHASE
                         : cr->rule->allow_scope == RS_ALLOW_REQUEST ? RS_ALLOWTYPE_REQUEST
                                                                     : RS_ALLOWTYPE_ALL;
        if (tx->allow_type != RS_ALLOWTYPE_PHASE) {
            tx->disposition = RS_ALLOW;
            tx->decided_by = h->id;
        }
        break;
    case RS_DISRUPT_PASS:
        tx->it_status = 200;
        tx->it_url = empty_str;
        break;
    default:
        break;
    }
}

/* ModSecurity's executeActionsAfterFullMatch for one rule of a chain (members first, then the head). */
static void after_full_match(rs_tx_t *tx, const rs_crule_t *cr, rs_rulemsg_t *rm)
{
    const rs_rule_t *r = cr->rule;
    const rs_rule_t *def = tx->db->rs->default_actions[r->phase];
    if (def != NULL) {
        if (def->log)
            rm->save = 1;
        if (def->nolog)
            rm->save = 0;
        if (def->status)
            tx->it_status = def->status;
        run_setvars(tx, def);
    }
    if (r->severity != RS_SEVERITY_UNSET) {
        rm->severity = r->severity;
        if (r->severity < tx->highest_severity)
            tx->highest_severity = r->severity;
    }
    if (r->logdata.raw != NULL) {
        rm->logdata = rs_tx_expand(tx, &r->logdata);
        rm->has_logdata = 1;
    }
    if (r->msg.raw != NULL) {
        rm->msg = rs_tx_expand(tx, &r->msg);
        rm->has_msg = 1;
    }
    if (r->log)
        rm->save = 1;
    if (r->nolog)
        rm->save = 0;
    if (r->status)
        tx->it_status = r->status;
    for (size_t i = 0; i < r->ninitcols; i++) {
        rs_str_t key = rs_tx_expand(tx, &r->initcols[i].key);
        tx->coll_key[r->initcols[i].collection] = dup_str(tx, key);
    }
    for (size_t i = 0; i < r->nexpirevars; i++) {
        const rs_expirevar_t *e = &r->expirevars[i];
        if (e->collection == RS_VAR_TX)
            continue;
        rs_str_t name = rs_tx_expand(tx, &e->name);
        long secs = mod_stoi(rs_tx_expand(tx, &e->seconds));
        rs_store_expire(e->collection, tx->coll_key[e->collection], name, secs);
    }
    for (size_t i = 0; i < r->nctls; i++)
        run_ctl(tx, &r->ctls[i]);
    if (r->skip > 0)
        tx->skip_next = (uint32_t)r->skip;
    if (r->skip_after != NULL)
        tx->marker = r->skip_after;
    if (cr->has_block) {
        if (def != NULL && def->disruptive != RS_DISRUPT_NONE && def->disruptive != RS_DISRUPT_BLOCK)
            do_disrupt(tx, cr, def->disruptive, rm);
    } else if (r->disruptive != RS_DISRUPT_NONE)
        do_disrupt(tx, cr, r->disruptive, rm);
}

/* ---- rule evaluation -------------------------------------------------------------------------------- */

static int removed_by_id(const rs_tx_t *tx, uint32_t id)
{
    for (size_t i = 0; i < tx->nremove_ids; i++)
        if (id >= tx->remove_ids[i][0] && id <= tx->remove_ids[i][1])
            return 1;
    return 0;
}

static int rt_applies(const rs_tx_t *tx, const rs_remove_target_t *rt, const rs_crule_t *cr)
{
    if (rt->by_tag)
        return rt->tag != NULL && rule_has_tag(cr->rule, rt->tag);
    uint32_t id = cr->rule->id;
    return id >= rt->id_lo && id <= rt->id_hi;
}

/* ctl:ruleRemoveTarget* naming a whole target of the rule (same variable and same selector). */
static int target_removed(const rs_tx_t *tx, const rs_crule_t *cr, const rs_target_t *t)
{
    for (size_t i = 0; i < tx->nremove_targets; i++) {
        const rs_remove_target_t *rt = &tx->remove_targets[i];
        const rs_target_t *x = rt->target;
        if (x->var != t->var || !rt_applies(tx, rt, cr))
            continue;
        if (x->key_regex_src != NULL || t->key_regex_src != NULL) {
            if (x->key_regex_src != NULL && t->key_regex_src != NULL && strcmp(x->key_regex_src, t->key_regex_src) == 0)
                return 1;
            continue;
        }
        if (x->key == NULL && t->key == NULL)
            return 1;
        if (x->key != NULL && t->key != NULL && rs_key_ieq(rs_str(x->key, x->key_len), rs_str(t->key, t->key_len)))
            return 1;
    }
    return 0;
}

/* ctl:ruleRemoveTarget* naming one member (VAR:key) of a collection the rule reads. */
static int value_removed(const rs_tx_t *tx, const rs_crule_t *cr, const rs_val_t *v)
{
    for (size_t i = 0; i < tx->nremove_targets; i++) {
        const rs_remove_target_t *rt = &tx->remove_targets[i];
        const rs_target_t *x = rt->target;
        if (x->var != v->var || x->key == NULL || x->key_regex_src != NULL || !rt_applies(tx, rt, cr))
            continue;
        if (rs_key_ieq(rs_str(x->key, x->key_len), v->key))
            return 1;
    }
    return 0;
}

static void clean_matched(rs_tx_t *tx)
{
    tx->matched_set = 0;
    tx->matched_vars.n = 0;
}

static void update_matched(rs_tx_t *tx, rs_str_t name, rs_str_t value)
{
    tx->matched_set = 1;
    tx->matched_var = value;
    tx->matched_name = name;
    rs_kvlist_push(&tx->matched_vars, name, value);
}

static void set_captures(rs_tx_t *tx, const rs_crule_t *cr, const rs_op_result_t *res)
{
    static const char *const digits[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    if (rs_op_kind(cr->rule->op) == RS_OP_RX) {
        for (int i = 0; i < res->ncaptures && i < 10; i++)
            if (res->captures[i].base != NULL)
                rs_tx_coll_set(tx, RS_VAR_TX, rs_str(digits[i], 1), res->captures[i]);
    } else if (res->matched.base != NULL)
        rs_tx_coll_set(tx, RS_VAR_TX, RS_STR("0"), res->matched);
}

/* Runs the operator of cr on one transformed value. */
static int exec_op(rs_tx_t *tx, const rs_crule_t *cr, rs_str_t value, size_t entry)
{
    const rs_rule_t *r = cr->rule;
    if (cr->pf_slot >= 0 && tx->db->use_prefilter && !pf_allows(tx, cr, entry))
        return 0;
    rs_str_t param = empty_str;
    if (cr->op_has_macro)
        param = rs_tx_expand(tx, &cr->op_macro);
    rs_op_result_t res; /* rs_op_exec clears it */
    rs_op_limits_t lim = {tx->db->rs->pcre_match_limit, tx->db->rs->pcre_match_limit_recursion};
    int rc = rs_op_exec(r->op, param, value, r->capture, &lim, tx->opscratch, &res);
    if (res.limit_hit)
        tx->limit_hits++;
    if (rc == 1 && r->capture)
        set_captures(tx, cr, &res);
    return rc == 1;
}

static int eval_rule(rs_tx_t *tx, const rs_crule_t *cr, rs_rulemsg_t *rm);

static void trace_value(rs_tx_t *tx, const rs_crule_t *cr, const rs_val_t *v, rs_str_t tv, int matched)
{
    rs_str_t name =
        v->whole ? rs_str(rs_var_table[v->var].name, strlen(rs_var_table[v->var].name)) : rs_tx_full_name(tx, v->var, v->key);
    rs_tx_tracef(tx, "  %s %.*s = '%.*s'%s", matched ? "MATCH" : "no   ", (int)name.len, name.base,
                 (int)(tv.len > 120 ? 120 : tv.len), tv.base, tv.len > 120 ? "..." : "");
    (void)cr;
}

/* Tests one value a target of cr resolved to: its transformed value, or with multiMatch the original and every
 * step that changed it. Runs the per-match actions; returns whether anything matched. */
static int test_value(rs_tx_t *tx, const rs_crule_t *cr, rs_rulemsg_t *rm, const rs_val_t *val)
{
    const rs_rule_t *r = cr->rule;
    rs_val_t v = *val;
    int any = 0;
    size_t steps[RS_MAX_CHAIN + 1];
    size_t nsteps = 0;
    if (r->multi_match) {
        uint32_t path[RS_MAX_CHAIN];
        int depth = tx->db->tnodes[cr->tnode].depth;
        if (depth > RS_MAX_CHAIN)
            depth = RS_MAX_CHAIN;
        uint32_t n = cr->tnode;
        for (int d = tx->db->tnodes[cr->tnode].depth - 1; d >= 0; d--) {
            if (d < RS_MAX_CHAIN)
                path[d] = n;
            n = tx->db->tnodes[n].parent;
        }
        steps[nsteps++] = tc_get(tx, v.value, 0);
        rs_str_t prev = v.value;
        for (int d = 0; d < depth; d++) {
            size_t e = tc_get(tx, v.value, path[d]);
            rs_str_t o = tx->tcache[e].out;
            if (o.base != prev.base || o.len != prev.len)
                steps[nsteps++] = e;
            prev = o;
        }
    } else if (cr->tnode == 0 && cr->pf_slot < 0)
        steps[nsteps++] = SIZE_MAX; /* the value as it is, and no prefilter entry to consult: no memo */
    else
        steps[nsteps++] = tc_get(tx, v.value, cr->tnode);

    for (size_t si = 0; si < nsteps; si++) {
        rs_str_t tv = steps[si] == SIZE_MAX ? v.value : tx->tcache[steps[si]].out;
        int m = exec_op(tx, cr, tv, steps[si]);
        if (tx->trace != NULL)
            trace_value(tx, cr, &v, tv, m);
        if (!m)
            continue;
        rs_str_t name =
            v.whole ? rs_str(rs_var_table[v.var].name, strlen(rs_var_table[v.var].name)) : rs_tx_full_name(tx, v.var, v.key);
        update_matched(tx, name, tv);
        run_setvars(tx, r);
        if (r->multi_match && r->chain == NULL) {
            if (r->severity != RS_SEVERITY_UNSET) {
                rm->severity = r->severity;
                if (r->severity < tx->highest_severity)
                    tx->highest_severity = r->severity;
            }
            if (r->logdata.raw != NULL)
                rm->logdata = rs_tx_expand(tx, &r->logdata);
            if (r->msg.raw != NULL)
                rm->msg = rs_tx_expand(tx, &r->msg);
        }
        if (r->multi_match && rm->save) {
            push_match(tx, cr, rm);
            int save = rm->save;
            rm_init(rm);
            rm->save = save;
        }
        any = 1;
    }
    return any;
}

static int eval_operator_rule(rs_tx_t *tx, const rs_crule_t *cr, rs_rulemsg_t *rm)
{
    const rs_rule_t *r = cr->rule;
    int any = 0;
    if (!rs_cand_may_match(tx, cr)) { /* none of its literals occurs in anything it can read */
        clean_matched(tx);
        return 0;
    }
    if (cr->tx_member && tx->nremove_targets == 0) { /* one TX:key target (CRS's gates): one indexed lookup */
        const rs_target_t *t = &r->targets[0];
        long i = rs_tx_find_tx(tx, rs_str(t->key, t->key_len));
        if (i >= 0) {
            const rs_kv_t *kv = &tx->coll[RS_VAR_TX].items[i];
            rs_val_t v = {RS_VAR_TX, 0, kv->key, kv->value};
            any = test_value(tx, cr, rm, &v);
        }
    } else
        for (size_t ti = 0; ti < r->ntargets; ti++) {
            const rs_target_t *t = &r->targets[ti];
            if (t->is_negated)
                continue;
            if (tx->nremove_targets && target_removed(tx, cr, t))
                continue;
            size_t start = tx->nvals;
            rs_tx_collect(tx, cr, t, &tx->vals, &tx->nvals, &tx->cap_vals);
            for (size_t vi = start; vi < tx->nvals; vi++) {
                rs_val_t v = tx->vals[vi];
                if (tx->nremove_targets && value_removed(tx, cr, &v))
                    continue;
                any |= test_value(tx, cr, rm, &v);
            }
            tx->nvals = start;
        }
    if (!any) {
        clean_matched(tx);
        return 0;
    }
    if (r->chain != NULL) {
        if (!eval_rule(tx, cr->chain, rm))
            return 0;
        tx->cur_rule = cr;
    }
    after_full_match(tx, cr, rm);
    if (cr->head == cr && rm->save && !r->multi_match)
        push_match(tx, cr, rm);
    return 1;
}

static int eval_rule(rs_tx_t *tx, const rs_crule_t *cr, rs_rulemsg_t *rm)
{
    const rs_rule_t *r = cr->rule;
    tx->cur_rule = cr;
    if (tx->trace != NULL && cr->head == cr)
        rs_tx_tracef(tx, "rule %u (%s:%u)", r->id, r->file ? r->file : "?", r->line);
    if (cr->is_unconditional) {
        run_setvars(tx, r);
        after_full_match(tx, cr, rm);
        if (cr->has_block && !r->multi_match)
            push_match(tx, cr, rm);
        else if (rm->save && !r->multi_match && rm->has_msg && rm->msg.len > 0)
            push_match(tx, cr, rm);
        return 1;
    }
    if (tx->nremove_ids && r->id != 0 && removed_by_id(tx, r->id))
        return 1;
    return eval_operator_rule(tx, cr, rm);
}

/* ---- phases ----------------------------------------------------------------------------------------- */

static void fill_verdict(rs_tx_t *tx, rs_verdict_t *v)
{
    memset(v, 0, sizeof(*v));
    v->disposition = (rs_disposition_t)tx->disposition;
    v->would_block = tx->would_block;
    if (tx->disposition == RS_DENY || tx->disposition == RS_DROP || tx->disposition == RS_REDIRECT)
        v->status = (uint16_t)tx->it_status;
    else if (tx->would_block)
        v->status = (uint16_t)tx->would_status;
    v->redirect = tx->disposition == RS_REDIRECT ? tx->it_url : empty_str;
    v->rule_id = tx->decided_by;
    v->matches = tx->matches;
    v->nmatches = tx->nmatches;
    rs_str_t s;
    if (rs_tx_first_value(tx, RS_VAR_TX, "anomaly_score", 13, &s))
        v->inbound_score = mod_stoi(s);
    else if (rs_tx_first_value(tx, RS_VAR_TX, "inbound_anomaly_score", 21, &s))
        v->inbound_score = mod_stoi(s);
    if (rs_tx_first_value(tx, RS_VAR_TX, "outbound_anomaly_score", 22, &s))
        v->outbound_score = mod_stoi(s);
    v->limit_hits = tx->limit_hits;
    v->body_error = tx->body_error;
    v->body_over_limit = tx->body_over_limit;
}

static void run_rules(rs_tx_t *tx, int phase)
{
    rs_crule_t **rules = tx->db->phase[phase];
    size_t n = tx->db->nphase[phase];
    for (size_t i = 0; i < n; i++) {
        const rs_crule_t *cr = rules[i];
        if (tx->marker != NULL && !cr->is_marker)
            continue;
        if (cr->is_marker) {
            if (tx->marker != NULL && strcmp(tx->marker, cr->rule->marker) == 0) {
                tx->marker = NULL;
                if (tx->trace != NULL)
                    rs_tx_tracef(tx, "marker %s reached", cr->rule->marker);
            }
            continue;
        }
        if (tx->skip_next > 0) {
            tx->skip_next--;
            continue;
        }
        if (tx->allow_type != RS_ALLOWTYPE_NONE)
            continue;
        if (tx->nremove_tags) {
            int removed = 0;
            for (size_t k = 0; k < tx->nremove_tags && !removed; k++)
                removed = rule_has_tag(cr->rule, tx->remove_tags[k]);
            if (removed)
                continue;
        }
        rs_rulemsg_t rm;
        rm_init(&rm);
        eval_rule(tx, cr, &rm);
        tx->cur_rule = NULL;
        if (tx->intercepted)
            break;
    }
}

int rs_tx_run_phase(rs_tx_t *tx, int phase, rs_verdict_t *verdict)
{
    if (tx->db == NULL || phase < 1 || phase > 5) {
        if (verdict != NULL)
            memset(verdict, 0, sizeof(*verdict));
        return -1;
    }
    tx->cur_phase = phase;
    int run = !tx->intercepted && !tx->phase_done[phase] && tx->engine_mode != RS_ENGINE_OFF;
    tx->phase_done[phase] = 1;
    if (run && tx->allow_type == RS_ALLOWTYPE_ALL && phase != 5)
        run = 0;
    if (run && tx->allow_type == RS_ALLOWTYPE_REQUEST && phase <= 2)
        run = 0;
    if (run && phase == 2 && !process_body(tx))
        run = 0;
    if (run) {
        tx->allow_type = RS_ALLOWTYPE_NONE;
        rs_cand_scan(tx, phase);
        run_rules(tx, phase);
    }
    if (verdict != NULL)
        fill_verdict(tx, verdict);
    return 0;
}
