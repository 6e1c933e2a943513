/* SPDX-License-Identifier: MIT */
/* Fuzz target: bytes -> a raw HTTP request (rs_request_parse_raw) -> phases 1 and 2 of a small fixed rule set
 * in both engine modes (literal prefilter and rule-by-rule reference). Crashes, sanitizer reports and any
 * difference between the two verdicts abort. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs.h"

static const char rules[] =
    "SecRuleEngine On\n"
    "SecRequestBodyAccess On\n"
    "SecDefaultAction \"phase:2,log,auditlog,pass\"\n"
    "SecRule REQUEST_HEADERS:Content-Type \"@rx (?i)^application/json\" "
    "\"id:10,phase:1,pass,nolog,t:none,ctl:requestBodyProcessor=JSON\"\n"
    "SecRule REQUEST_HEADERS:Content-Type \"@rx (?i)^(?:text|application)/xml\" "
    "\"id:11,phase:1,pass,nolog,t:none,ctl:requestBodyProcessor=XML\"\n"
    "SecAction \"id:12,phase:1,pass,nolog,setvar:tx.score=0,setvar:tx.threshold=10\"\n"
    "SecRule ARGS:skip \"@streq yes\" \"id:13,phase:2,pass,nolog,skipAfter:END-ATTACKS\"\n"
    "SecRule ARGS:quiet \"@streq yes\" \"id:14,phase:1,pass,nolog,ctl:ruleRemoveTargetById=103;ARGS:q\"\n"
    "SecRule ARGS|ARGS_NAMES|REQUEST_COOKIES|REQUEST_HEADERS:User-Agent|XML:/* \"@rx (?i)union\\s+(?:all\\s+)?select\" "
    "\"id:100,phase:2,block,capture,t:none,t:urlDecodeUni,t:lowercase,msg:'sqli %{TX.0}',"
    "logdata:'%{MATCHED_VAR_NAME}=%{MATCHED_VAR}',severity:2,setvar:tx.score=+5\"\n"
    "SecRule ARGS|REQUEST_BODY \"@rx <script[^>]*>\" \"id:101,phase:2,block,t:none,t:htmlEntityDecode,t:lowercase,"
    "multiMatch,msg:'xss',severity:2,setvar:tx.score=+5\"\n"
    "SecRule ARGS \"@pm etc/passwd /bin/sh cmd.exe\" \"id:102,phase:2,block,t:none,t:urlDecode,t:normalizePath,"
    "capture,msg:'lfi %{TX.0}',severity:2,setvar:tx.score=+5\"\n"
    "SecRule ARGS \"@detectSQLi\" \"id:103,phase:2,block,t:none,t:utf8toUnicode,t:urlDecodeUni,t:removeNulls,multiMatch,"
    "msg:'libinjection',severity:2,setvar:tx.score=+5\"\n"
    "SecRule ARGS|REQUEST_FILENAME \"@detectXSS\" \"id:104,phase:2,block,t:none,t:urlDecodeUni,t:htmlEntityDecode,"
    "msg:'xss2',severity:2,setvar:tx.score=+5\"\n"
    "SecRule REQUEST_URI|REQUEST_HEADERS \"@contains ../\" \"id:105,phase:1,block,t:none,t:urlDecode,t:cmdLine,"
    "msg:'traversal',severity:3,setvar:tx.score=+4\"\n"
    "SecRule REQUEST_METHOD \"!@within GET POST HEAD\" \"id:106,phase:1,block,msg:'method',severity:4,"
    "setvar:tx.score=+3\"\n"
    "SecRule REQUEST_HEADERS:Host \"@rx ^\\d+\\.\\d+\" \"id:107,phase:1,pass,log,chain,msg:'numeric host'\"\n"
    "  SecRule REQUEST_HEADERS:User-Agent \"@rx ^$\" \"t:none,setvar:tx.score=+2\"\n"
    "SecRule FILES|FILES_NAMES \"@rx \\.(?:php|jsp)$\" \"id:108,phase:2,block,t:none,t:lowercase,msg:'upload',"
    "setvar:tx.score=+5\"\n"
    "SecRule ARGS \"@beginsWith {{\" \"id:109,phase:2,pass,log,t:none,t:compressWhitespace,msg:'template'\"\n"
    "SecRule &ARGS \"@gt 20\" \"id:110,phase:2,block,msg:'too many args',setvar:tx.score=+1\"\n"
    "SecRule ARGS:/^id/ \"!@rx ^[0-9]*$\" \"id:111,phase:2,pass,log,t:none,t:trim,msg:'id not numeric'\"\n"
    "SecRule REQUEST_COOKIES:/^sess/ \"@rx [^a-f0-9]\" \"id:112,phase:1,pass,log,t:none,t:base64Decode,"
    "msg:'cookie %{MATCHED_VAR_NAME}'\"\n"
    "SecMarker END-ATTACKS\n"
    "SecRule TX:score \"@ge %{tx.threshold}\" \"id:199,phase:2,deny,status:403,log,msg:'score %{tx.score}'\"\n";

static rs_db_t *db_ref, *db_fast;
static rs_tx_t *tx_ref, *tx_fast;

static rs_db_t *compile(int prefilter)
{
    rs_source_t src = {"fuzz.conf", rules, sizeof(rules) - 1};
    rs_errors_t errs = {0};
    rs_compile_opts_t opts = {.use_prefilter = prefilter, .engine_mode = -1};
    rs_db_t *db = rs_db_compile(&src, 1, &opts, &errs);
    if (db == NULL) {
        rs_errors_print(&errs, stderr);
        abort();
    }
    rs_errors_free(&errs);
    return db;
}

static int same(rs_str_t a, rs_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.base, b.base, a.len) == 0);
}

static void run(rs_tx_t *tx, rs_db_t *db, const rs_request_t *req, rs_verdict_t *v)
{
    rs_tx_begin(tx, db, req);
    rs_tx_run_phase(tx, 1, v);
    rs_tx_run_phase(tx, 2, v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (db_ref == NULL) {
        db_ref = compile(0);
        db_fast = compile(1);
        tx_ref = rs_tx_new();
        tx_fast = rs_tx_new();
    }
    rs_request_t req;
    rs_buf_t storage = {0};
    char err[128];
    if (rs_request_parse_raw((rs_str_t){(const char *)data, size}, &req, &storage, err, sizeof(err)) != 0) {
        rs_buf_free(&storage);
        return 0;
    }
    rs_verdict_t a, b;
    run(tx_ref, db_ref, &req, &a);
    run(tx_fast, db_fast, &req, &b);
    int ok = a.disposition == b.disposition && a.status == b.status && a.rule_id == b.rule_id && a.nmatches == b.nmatches &&
             a.inbound_score == b.inbound_score && a.would_block == b.would_block;
    for (size_t i = 0; ok && i < a.nmatches; i++) {
        const rs_match_t *x = &a.matches[i], *y = &b.matches[i];
        ok = x->rule_id == y->rule_id && same(x->msg, y->msg) && same(x->logdata, y->logdata) && same(x->var_name, y->var_name) &&
             same(x->value, y->value) && x->severity == y->severity;
    }
    if (!ok) {
        fprintf(stderr, "reference and prefilter verdicts differ (%zu vs %zu matches, disposition %d vs %d)\n", a.nmatches,
                b.nmatches, a.disposition, b.disposition);
        abort();
    }
    rs_tx_end(tx_ref);
    rs_tx_end(tx_fast);
    rs_request_free_parsed(&req);
    rs_buf_free(&storage);
    return 0;
}
