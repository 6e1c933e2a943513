/* SPDX-License-Identifier: MIT */
/* Unit tests of the rule engine (rules/engine): variables and selectors, exclusions and counts, macro
 * expansion, setvar operations, chains, skip/skipAfter, ctl actions, block via SecDefaultAction,
 * DetectionOnly, multiMatch, raw request parsing, and the OWASP CRS anomaly scoring on known requests. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rs.h"
#include "rules_compile.h"

/* Allocation counter for the steady-state test: the test binary's malloc family wraps glibc's (not under a
 * sanitizer, which owns malloc itself). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define EP_UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define EP_UNDER_SANITIZER 1
#endif
#endif
#ifndef EP_UNDER_SANITIZER
#define EP_COUNT_ALLOCS 1
#endif
#ifdef EP_COUNT_ALLOCS
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
static volatile long alloc_count;
void *malloc(size_t n)
{
    alloc_count++;
    return __libc_malloc(n);
}
void *calloc(size_t n, size_t s)
{
    alloc_count++;
    return __libc_calloc(n, s);
}
void *realloc(void *p, size_t n)
{
    alloc_count++;
    return __libc_realloc(p, n);
}
void free(void *p)
{
    __libc_free(p);
}
#endif

typedef struct st_env_t {
    rs_db_t *db;
    rs_tx_t *tx;
    rs_request_t req;
    rs_buf_t raw, storage;
    rs_verdict_t v;
} env_t;

/* Compiles `rules`, runs `raw` (a request with \n line ends) through phases 1 and 2. */
static void run(env_t *e, const char *rules, const char *raw)
{
    memset(e, 0, sizeof(*e));
    e->db = test_compile_rules(rules, 1);
    assert_non_null(e->db);
    for (const char *p = raw; *p; p++) {
        if (*p == '\n' && (p == raw || p[-1] != '\r'))
            rs_buf_putc(&e->raw, '\r');
        rs_buf_putc(&e->raw, *p);
    }
    char err[128];
    assert_int_equal(rs_request_parse_raw((rs_str_t){e->raw.base, e->raw.len}, &e->req, &e->storage, err, sizeof(err)), 0);
    e->tx = rs_tx_new();
    assert_int_equal(rs_tx_begin(e->tx, e->db, &e->req), 0);
    assert_int_equal(rs_tx_run_phase(e->tx, 1, &e->v), 0);
    assert_int_equal(rs_tx_run_phase(e->tx, 2, &e->v), 0);
}

static void done(env_t *e)
{
    rs_tx_end(e->tx);
    rs_tx_free(e->tx);
    rs_db_release(e->db);
    rs_request_free_parsed(&e->req);
    rs_buf_free(&e->raw);
    rs_buf_free(&e->storage);
}

static int matched(const rs_verdict_t *v, uint32_t id)
{
    for (size_t i = 0; i < v->nmatches; i++)
        if (v->matches[i].rule_id == id)
            return 1;
    return 0;
}

static const rs_match_t *match_of(const rs_verdict_t *v, uint32_t id)
{
    for (size_t i = 0; i < v->nmatches; i++)
        if (v->matches[i].rule_id == id)
            return &v->matches[i];
    return NULL;
}

static void assert_tx(env_t *e, const char *key, const char *want)
{
    rs_str_t got;
    int found = rs_tx_get_var(e->tx, key, &got);
    if (want == NULL) {
        assert_false(found);
        return;
    }
    assert_true(found);
    char buf[256];
    snprintf(buf, sizeof(buf), "%.*s", (int)got.len, got.base);
    assert_string_equal(buf, want);
}

static void assert_str(rs_str_t s, const char *want)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%.*s", (int)s.len, s.base);
    assert_string_equal(buf, want);
}

#define BASE        "SecRuleEngine On\nSecRequestBodyAccess On\n"
#define GET(target) "GET " target " HTTP/1.1\nHost: example.com:8080\nUser-Agent: UnitTest/1.0\n\n"

static void test_request_variables(void **state)
{
    (void)state;
    env_t e;
    run(&e,
        BASE "SecRule REQUEST_FILENAME \"@streq /a b/c.php\" \"id:1,phase:1,pass,log\"\n"
             "SecRule REQUEST_BASENAME \"@streq c.php\" \"id:2,phase:1,pass,log\"\n"
             "SecRule QUERY_STRING \"@streq x=1&y=%41+b\" \"id:3,phase:1,pass,log\"\n"
             "SecRule REQUEST_URI \"@streq /a b/c.php?x=1&y=A+b\" \"id:4,phase:1,pass,log\"\n"
             "SecRule REQUEST_URI_RAW \"@streq /a%20b/c.php?x=1&y=%41+b\" \"id:5,phase:1,pass,log\"\n"
             "SecRule REQUEST_LINE \"@streq GET /a%20b/c.php?x=1&y=%41+b HTTP/1.1\" \"id:6,phase:1,pass,log\"\n"
             "SecRule ARGS:y \"@streq A b\" \"id:7,phase:1,pass,log\"\n"
             "SecRule SERVER_NAME \"@streq example.com\" \"id:8,phase:1,pass,log\"\n"
             "SecRule REQUEST_HEADERS:user-agent \"@streq UnitTest/1.0\" \"id:9,phase:1,pass,log\"\n"
             "SecRule ARGS_COMBINED_SIZE \"@eq 6\" \"id:10,phase:1,pass,log\"\n"
             "SecRule REQUEST_METHOD \"@streq GET\" \"id:11,phase:1,pass,log\"\n"
             "SecRule REQUEST_PROTOCOL \"@streq HTTP/1.1\" \"id:12,phase:1,pass,log\"\n",
        GET("/a%20b/c.php?x=1&y=%41+b"));
    for (uint32_t id = 1; id <= 12; id++) {
        if (!matched(&e.v, id))
            fail_msg("rule %u did not match", id);
    }
    assert_int_equal(e.v.disposition, RS_PASS);
    done(&e);
}

static void test_body_and_cookies(void **state)
{
    (void)state;
    env_t e;
    run(&e,
        BASE "SecRule ARGS_POST:name \"@streq bob smith\" \"id:1,phase:2,pass,log\"\n"
             "SecRule ARGS_GET:name \"@streq q\" \"id:2,phase:2,pass,log\"\n"
             "SecRule &ARGS:name \"@eq 2\" \"id:3,phase:2,pass,log\"\n"
             "SecRule REQUEST_COOKIES:SID \"@streq abc\" \"id:4,phase:1,pass,log\"\n"
             "SecRule REQUEST_COOKIES_NAMES \"@streq theme\" \"id:5,phase:1,pass,log\"\n"
             "SecRule REQUEST_BODY \"@contains bob+smith\" \"id:6,phase:2,pass,log\"\n"
             "SecRule REQBODY_PROCESSOR \"@streq URLENCODED\" \"id:7,phase:1,pass,log\"\n"
             "SecRule ARGS_POST:name \"@streq bob smith\" \"id:8,phase:1,pass,log\"\n"
             "SecRule REQUEST_BODY_LENGTH \"@eq 19\" \"id:9,phase:2,pass,log\"\n",
        "POST /form?name=q HTTP/1.1\nHost: h\nCookie: SID=abc; theme=dark\n"
        "Content-Type: application/x-www-form-urlencoded\nContent-Length: 19\n\nname=bob+smith&z=%2");
    for (uint32_t id = 1; id <= 7; id++)
        if (!matched(&e.v, id))
            fail_msg("rule %u did not match", id);
    assert_false(matched(&e.v, 8)); /* no body arguments in phase 1 */
    assert_true(matched(&e.v, 9));
    done(&e);
}

static void test_json_body_via_ctl(void **state)
{
    (void)state;
    env_t e;
    run(&e,
        BASE "SecRule REQUEST_HEADERS:Content-Type \"@rx ^application/json\" "
             "\"id:1,phase:1,pass,nolog,ctl:requestBodyProcessor=JSON\"\n"
             "SecRule ARGS:json.user.name \"@streq eve\" \"id:2,phase:2,pass,log\"\n"
             "SecRule REQBODY_PROCESSOR \"@streq JSON\" \"id:3,phase:2,pass,log\"\n"
             "SecRule REQBODY_ERROR \"@eq 0\" \"id:4,phase:2,pass,log\"\n"
             "SecRule &ARGS_POST \"@eq 0\" \"id:5,phase:2,pass,log\"\n", /* JSON fills ARGS only, as v3 */
        "POST / HTTP/1.1\nHost: h\nContent-Type: application/json\nContent-Length: 25\n\n{\"user\": {\"name\": \"eve\"}}");
    assert_true(matched(&e.v, 2));
    assert_true(matched(&e.v, 3));
    assert_true(matched(&e.v, 4));
    assert_true(matched(&e.v, 5));
    assert_false(matched(&e.v, 1)); /* nolog */
    done(&e);
}

static void test_selectors_and_exclusions(void **state)
{
    (void)state;
    env_t e;
    run(&e,
        BASE "SecRule ARGS|!ARGS:safe \"@contains evil\" \"id:1,phase:1,pass,log,setvar:tx.hits=+1\"\n"
             "SecRule ARGS:/^pre_/ \"@contains evil\" \"id:2,phase:1,pass,log,setvar:tx.rx=+1\"\n"
             "SecRule &ARGS \"@eq 3\" \"id:3,phase:1,pass,log\"\n"
             "SecRule &ARGS:missing \"@eq 0\" \"id:4,phase:1,pass,log\"\n"
             "SecRule ARGS_NAMES \"@rx ^pre_\" \"id:5,phase:1,pass,log,msg:'%{MATCHED_VAR_NAME}=%{MATCHED_VAR}'\"\n"
             "SecRule REQUEST_HEADERS|!REQUEST_HEADERS:/^user/ \"@contains UnitTest\" \"id:6,phase:1,pass,log\"\n",
        GET("/?safe=evil&pre_a=evil&other=evil"));
    assert_true(matched(&e.v, 1));
    assert_tx(&e, "hits", "2"); /* setvar runs once per matching value: other and pre_a, not safe */
    assert_tx(&e, "rx", "1");
    assert_true(matched(&e.v, 3));
    assert_true(matched(&e.v, 4));
    assert_str(match_of(&e.v, 5)->msg, "ARGS_NAMES:pre_a=pre_a");
    assert_false(matched(&e.v, 6));
    assert_str(match_of(&e.v, 1)->var_name, "ARGS:other"); /* the last matching value is reported */
    done(&e);
}

static void test_setvar_and_macros(void **state)
{
    (void)state;
    env_t e;
    run(&e,
        BASE "SecAction \"id:1,phase:1,pass,nolog,setvar:tx.a=10,setvar:tx.b=x,setvar:tx.gone=1\"\n"
             "SecAction \"id:2,phase:1,pass,nolog,setvar:tx.a=+5,setvar:tx.c=-3,setvar:!tx.gone\"\n"
             "SecAction \"id:3,phase:1,pass,nolog,setvar:tx.a=-%{tx.c},setvar:tx.b=+2\"\n"
             "SecAction \"id:4,phase:1,pass,nolog,setvar:'tx.name_%{tx.b}=%{REQUEST_METHOD}-%{tx.a}'\"\n"
             "SecRule ARGS:q \"@rx (a+)(b+)\" \"id:5,phase:1,pass,capture,log,logdata:'%{tx.1}/%{TX.2}',"
             "msg:'rule %{rule.id} saw %{MATCHED_VAR}'\"\n",
        GET("/?q=xaabbbz"));
    assert_tx(&e, "a", "18");
    assert_tx(&e, "c", "-3");
    assert_tx(&e, "b", "2"); /* "x" counts as 0 */
    assert_tx(&e, "gone", NULL);
    assert_tx(&e, "name_2", "GET-18");
    assert_tx(&e, "0", "aabbb");
    const rs_match_t *m = match_of(&e.v, 5);
    assert_non_null(m);
    assert_str(m->logdata, "aa/bbb");
    assert_str(m->msg, "rule 5 saw xaabbbz");
    assert_false(matched(&e.v, 1));
    done(&e);
}

static void test_chain(void **state)
{
    (void)state;
    env_t e;
    run(&e,
        BASE "SecRule REQUEST_METHOD \"@streq GET\" \"id:1,phase:1,deny,status:418,log,msg:'chained',chain\"\n"
             "  SecRule ARGS:a \"@streq 1\" \"chain\"\n"
             "  SecRule ARGS:b \"@streq 2\" \"setvar:tx.chained=1\"\n"
             "SecRule REQUEST_METHOD \"@streq GET\" \"id:2,phase:1,pass,log,chain\"\n"
             "  SecRule ARGS:a \"@streq nope\" \"setvar:tx.never=1\"\n",
        GET("/?a=1&b=2"));
    assert_false(matched(&e.v, 2));
    assert_tx(&e, "never", NULL);
    assert_tx(&e, "chained", "1");
    const rs_match_t *m = match_of(&e.v, 1);
    assert_non_null(m);
    assert_str(m->var_name, "ARGS:b"); /* the last member's data */
    assert_int_equal(e.v.disposition, RS_DENY);
    assert_int_equal(e.v.status, 418);
    assert_int_equal(e.v.rule_id, 1);
    done(&e);
}

/* Chain members are prefiltered by their own literals, searched directly in the value (with and without case,
 * a literal starting with a letter or not); each rule here must match exactly when its literal occurs. */
static void test_chain_member_literals(void **state)
{
    (void)state;
    static const char rules[] = BASE "SecRule REQUEST_METHOD \"@streq GET\" \"id:11,phase:1,pass,log,chain\"\n"
                                     "  SecRule ARGS:q \"@rx (?i)union\\s+select\" \"t:none\"\n"
                                     "SecRule REQUEST_METHOD \"@streq GET\" \"id:12,phase:1,pass,log,chain\"\n"
                                     "  SecRule ARGS:q \"@rx %[0-9a-f]{2}\" \"t:none\"\n"
                                     "SecRule REQUEST_METHOD \"@streq GET\" \"id:13,phase:1,pass,log,chain\"\n"
                                     "  SecRule ARGS:q \"@rx Admin\" \"t:none\"\n";
    static const struct {
        const char *uri;
        int m11, m12, m13;
    } cases[] = {
        {"/?q=xx+UnIoN+SeLeCt+1", 1, 0, 0},  /* caseless literal in mixed case */
        {"/?q=unio+select", 0, 0, 0},        /* a near miss */
        {"/?q=%25zz%2541", 0, 1, 0},         /* no-case byte first ('%'): the regex matches the second one */
        {"/?q=zz41", 0, 0, 0},               /* no '%' at all */
        {"/?q=admin+Admin", 0, 0, 1},        /* case-sensitive literal after a wrong-case one */
        {"/?q=ADMIN", 0, 0, 0},              /* wrong case only */
        {"/?q=union", 0, 0, 0},              /* shorter than the literal */
        {"/?q=select+union+select", 1, 0, 0} /* at the very end */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        env_t e;
        char raw[256];
        snprintf(raw, sizeof(raw), GET("%s"), cases[i].uri);
        run(&e, rules, raw);
        assert_int_equal(matched(&e.v, 11), cases[i].m11);
        assert_int_equal(matched(&e.v, 12), cases[i].m12);
        assert_int_equal(matched(&e.v, 13), cases[i].m13);
        done(&e);
    }
}

static void test_skip_and_skip_after(void **state)
{
    (void)state;
    env_t e;
    run(&e,
        BASE "SecAction \"id:1,phase:1,pass,nolog,skip:1\"\n"
             "SecAction \"id:2,phase:1,pass,nolog,setvar:tx.skipped=no\"\n"
             "SecAction \"id:3,phase:1,pass,nolog,setvar:tx.after_skip=yes,skipAfter:END\"\n"
             "SecAction \"id:4,phase:1,pass,nolog,setvar:tx.inside=yes\"\n"
             "SecMarker END\n"
             "SecAction \"id:5,phase:1,pass,nolog,setvar:tx.after_marker=yes\"\n",
        GET("/"));
    assert_tx(&e, "skipped", NULL);
    assert_tx(&e, "after_skip", "yes");
    assert_tx(&e, "inside", NULL);
    assert_tx(&e, "after_marker", "yes");
    done(&e);
}

static void test_ctl_actions(void **state)
{
    (void)state;
    env_t e;
    run(&e,
        BASE "SecRule ARGS:off \"@streq 1\" \"id:1,phase:1,pass,nolog,ctl:ruleRemoveById=10\"\n"
             "SecRule ARGS:t \"@streq 1\" \"id:2,phase:1,pass,nolog,ctl:ruleRemoveTargetById=11;ARGS:secret\"\n"
             "SecRule ARGS:t \"@streq 1\" \"id:3,phase:1,pass,nolog,ctl:ruleRemoveByTag=noisy\"\n"
             "SecRule ARGS \"@contains x\" \"id:10,phase:2,deny,log\"\n"
             "SecRule ARGS \"@contains hide\" \"id:11,phase:2,pass,log,setvar:tx.n11=+1\"\n"
             "SecRule ARGS \"@contains x\" \"id:12,phase:2,deny,log,tag:'noisy'\"\n",
        GET("/?off=1&t=1&secret=hide&q=hide&v=x"));
    assert_false(matched(&e.v, 10));
    assert_true(matched(&e.v, 11));
    assert_tx(&e, "n11", "1");
    assert_false(matched(&e.v, 12));
    assert_int_equal(e.v.disposition, RS_PASS);
    done(&e);
}

static void test_block_and_detection_only(void **state)
{
    (void)state;
    env_t e;
    const char *rules = "SecDefaultAction \"phase:2,log,auditlog,deny,status:403\"\n"
                        "SecRule ARGS \"@contains attack\" \"id:1,phase:2,block,log,msg:'blocked'\"\n";
    char buf[512];
    snprintf(buf, sizeof(buf), "SecRuleEngine On\nSecRequestBodyAccess On\n%s", rules);
    run(&e, buf, GET("/?a=attack"));
    assert_int_equal(e.v.disposition, RS_DENY);
    assert_int_equal(e.v.status, 403);
    assert_true(e.v.would_block);
    assert_true(match_of(&e.v, 1)->disruptive);
    done(&e);

    snprintf(buf, sizeof(buf), "SecRuleEngine DetectionOnly\nSecRequestBodyAccess On\n%s", rules);
    run(&e, buf, GET("/?a=attack"));
    assert_int_equal(e.v.disposition, RS_PASS);
    assert_true(e.v.would_block);
    assert_int_equal(e.v.rule_id, 1);
    assert_true(matched(&e.v, 1));
    done(&e);

    run(&e,
        "SecRuleEngine On\nSecRule ARGS:mode \"@streq watch\" \"id:1,phase:1,pass,nolog,ctl:ruleEngine=DetectionOnly\"\n"
        "SecRule ARGS \"@contains attack\" \"id:2,phase:1,deny,log\"\n",
        GET("/?mode=watch&a=attack"));
    assert_int_equal(e.v.disposition, RS_PASS);
    assert_true(e.v.would_block);
    done(&e);

    /* as ModSecurity v3: without SecRequestBodyAccess On, phase 2 rules do not run at all */
    snprintf(buf, sizeof(buf), "SecRuleEngine On\n%s", rules);
    run(&e, buf, GET("/?a=attack"));
    assert_int_equal(e.v.disposition, RS_PASS);
    assert_int_equal(e.v.nmatches, 0);
    done(&e);

    run(&e, "SecRuleEngine Off\nSecRule ARGS \"@contains attack\" \"id:2,phase:1,deny,log\"\n", GET("/?a=attack"));
    assert_int_equal(e.v.disposition, RS_PASS);
    assert_int_equal(e.v.nmatches, 0);
    done(&e);
}

static void test_multimatch_and_transforms(void **state)
{
    (void)state;
    env_t e;
    run(&e,
        BASE "SecRule ARGS \"@contains <x>\" \"id:1,phase:1,pass,nolog,t:none,t:urlDecode,t:lowercase,multiMatch,"
             "setvar:tx.mm=+1\"\n"
             "SecRule ARGS \"@contains <x>\" \"id:2,phase:1,pass,nolog,t:none,t:urlDecode,t:lowercase,setvar:tx.single=+1\"\n"
             "SecRule ARGS \"@streq <X>\" \"id:3,phase:1,pass,log,t:none,t:urlDecode,multiMatch\"\n",
        GET("/?a=%253cX%253e&b=%3Cx%3E"));
    /* a: raw "%3cX%3e" -> urlDecode "<X>" -> lowercase "<x>": 1 match with multiMatch.
     * b (query-decoded "<x>"): unchanged by both transformations: tested once. */
    assert_tx(&e, "mm", "2");
    assert_tx(&e, "single", "2");
    assert_true(matched(&e.v, 3));
    done(&e);
}

static void test_allow(void **state)
{
    (void)state;
    env_t e;
    run(&e,
        BASE "SecRule REMOTE_ADDR \"@ipMatch 127.0.0.1\" \"id:1,phase:1,allow,nolog\"\n"
             "SecRule ARGS \"@contains attack\" \"id:2,phase:1,deny,log\"\n"
             "SecRule ARGS \"@contains attack\" \"id:3,phase:2,deny,log\"\n",
        GET("/?a=attack"));
    assert_int_equal(e.v.disposition, RS_ALLOW);
    assert_int_equal(e.v.nmatches, 0);
    done(&e);
}

/* IP/GLOBAL collections outlive the transaction (process-wide store), keyed by initcol; expirevar drops. */
static void test_persistent_collections(void **state)
{
    (void)state;
    /* initcol in its own rule: within one rule ModSecurity runs setvar before initcol */
    rs_db_t *db = test_compile_rules(BASE "SecAction \"id:1,phase:1,pass,nolog,initcol:ip=%{REQUEST_HEADERS.x-client},"
                                          "initcol:global=global\"\n"
                                          "SecAction \"id:3,phase:1,pass,nolog,setvar:ip.hits=+1,setvar:global.total=+1\"\n"
                                          "SecRule IP:hits \"@ge 3\" \"id:2,phase:1,deny,status:429,log,msg:'hits %{ip.hits}',"
                                          "expirevar:ip.hits=0\"\n",
                                     1);
    assert_non_null(db);
    rs_tx_t *tx = rs_tx_new();
    const char *raw_a = "GET / HTTP/1.1\r\nHost: h\r\nX-Client: unit-a\r\n\r\n";
    const char *raw_b = "GET / HTTP/1.1\r\nHost: h\r\nX-Client: unit-b\r\n\r\n";
    int dispositions[5];
    for (int i = 0; i < 5; i++) {
        rs_request_t req;
        rs_buf_t storage = {0};
        char err[64];
        const char *raw = i == 3 ? raw_b : raw_a; /* a, a, a (3rd hit: denied, counter expires), b, a */
        assert_int_equal(rs_request_parse_raw((rs_str_t){raw, strlen(raw)}, &req, &storage, err, sizeof(err)), 0);
        rs_verdict_t v;
        rs_tx_begin(tx, db, &req);
        rs_tx_run_phase(tx, 1, &v);
        dispositions[i] = v.disposition;
        if (i == 2) {
            assert_int_equal(v.status, 429);
            assert_str(v.matches[0].msg, "hits 3");
        }
        rs_tx_end(tx);
        rs_request_free_parsed(&req);
        rs_buf_free(&storage);
    }
    assert_int_equal(dispositions[0], RS_PASS);
    assert_int_equal(dispositions[1], RS_PASS);
    assert_int_equal(dispositions[2], RS_DENY);
    assert_int_equal(dispositions[3], RS_PASS); /* another client has its own counter */
    assert_int_equal(dispositions[4], RS_PASS); /* the expired counter starts again */
    rs_tx_free(tx);
    rs_db_release(db);
}

/* Members are visited in ModSecurity v3's std::unordered_multimap order (it decides which match is reported
 * last). The expected string was recorded from libmodsecurity 3.0.9 on the same rules and request. */
static void test_v3_member_order(void **state)
{
    (void)state;
    env_t e;
    run(&e,
        BASE "SecAction \"id:1,phase:1,pass,nolog,setvar:tx.o=start\"\n"
             "SecRule ARGS \"@rx .\" \"id:2,phase:1,pass,nolog,setvar:'tx.o=%{tx.o} %{MATCHED_VAR_NAME}'\"\n"
             "SecRule ARGS:dup \"@rx .\" \"id:3,phase:1,pass,nolog,setvar:'tx.o=%{tx.o} /%{MATCHED_VAR}'\"\n"
             "SecRule REQUEST_HEADERS_NAMES|REQUEST_COOKIES_NAMES \"@rx .\" \"id:4,phase:1,pass,nolog,"
             "setvar:'tx.o=%{tx.o} %{MATCHED_VAR}'\"\n",
        "GET /?a=1&b=2&dup=3&c=4&Dup=5&d=6&e=7&ab=8&ba=9&x1=10&x2=11&x3=12&dup=13&z=14&y=15 HTTP/1.1\nHost: h\n"
        "User-Agent: ua\nAccept: */*\nCookie: z=1; a=2; Zz=3\n\n");
    assert_tx(&e, "o",
              "start ARGS:x2 ARGS:e ARGS:x1 ARGS:d ARGS:ab ARGS:ba ARGS:dup ARGS:Dup ARGS:dup ARGS:c ARGS:z ARGS:b ARGS:y "
              "ARGS:a ARGS:x3 /13 /5 /3 Host User-Agent Cookie Accept z a Zz");
    done(&e);
}

static void test_raw_request_parser(void **state)
{
    (void)state;
    rs_request_t req;
    rs_buf_t storage = {0};
    char err[128];
    const char *chunked = "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n";
    assert_int_equal(rs_request_parse_raw((rs_str_t){chunked, strlen(chunked)}, &req, &storage, err, sizeof(err)), 0);
    assert_str(req.body, "Wikipedia");
    assert_str(req.method, "POST");
    assert_int_equal(req.nheaders, 2);
    rs_request_free_parsed(&req);
    const char *bad = "GET\r\n\r\n";
    assert_int_equal(rs_request_parse_raw((rs_str_t){bad, strlen(bad)}, &req, &storage, err, sizeof(err)), -1);
    const char *shortbody = "POST / HTTP/1.1\nContent-Length: 10\n\nabc";
    assert_int_equal(rs_request_parse_raw((rs_str_t){shortbody, strlen(shortbody)}, &req, &storage, err, sizeof(err)), -1);
    rs_buf_free(&storage);
}

/* ---- CRS ---------------------------------------------------------------------------------------------- */

#define CRS_SETUP "/etc/modsecurity/crs/crs-setup.conf"
#define CRS_RULES "/usr/share/modsecurity-crs/rules"

static void run_crs(env_t *e, const char *raw, int prefilter)
{
    char setup[] = "SecRuleEngine On\nSecRequestBodyAccess On\n";
    rs_source_t src[3] = {{"setup.conf", setup, strlen(setup)},
                          {CRS_SETUP, NULL, 0},
                          {"crs.conf", "Include " CRS_RULES "/*.conf\n", strlen("Include " CRS_RULES "/*.conf\n")}};
    rs_errors_t errs = {0};
    rs_compile_opts_t opts = {.use_prefilter = prefilter, .engine_mode = -1};
    memset(e, 0, sizeof(*e));
    e->db = rs_db_compile(src, 3, &opts, &errs);
    if (e->db == NULL)
        rs_errors_print(&errs, stderr);
    rs_errors_free(&errs);
    assert_non_null(e->db);
    for (const char *p = raw; *p; p++) {
        if (*p == '\n' && (p == raw || p[-1] != '\r'))
            rs_buf_putc(&e->raw, '\r');
        rs_buf_putc(&e->raw, *p);
    }
    char err[128];
    assert_int_equal(rs_request_parse_raw((rs_str_t){e->raw.base, e->raw.len}, &e->req, &e->storage, err, sizeof(err)), 0);
    e->tx = rs_tx_new();
    rs_tx_begin(e->tx, e->db, &e->req);
    rs_tx_run_phase(e->tx, 1, &e->v);
    rs_tx_run_phase(e->tx, 2, &e->v);
}

static void test_crs_sqli_blocked(void **state)
{
    (void)state;
    for (int prefilter = 0; prefilter <= 1; prefilter++) {
        env_t e;
        run_crs(&e,
                "GET /?id=1%27%20or%20%271%27%3D%271 HTTP/1.1\nHost: localhost\nUser-Agent: Mozilla/5.0\n"
                "Accept: text/html\n\n",
                prefilter);
        assert_true(matched(&e.v, 942100));
        assert_true(e.v.inbound_score >= 5);
        assert_int_equal(e.v.disposition, RS_DENY);
        assert_int_equal(e.v.status, 403);
        assert_int_equal(e.v.rule_id, 949110);
        const rs_match_t *m = match_of(&e.v, 942100);
        assert_str(m->var_name, "ARGS:id");
        assert_int_equal(m->severity, 2);
        done(&e);
    }
}

static void test_crs_xss_blocked(void **state)
{
    (void)state;
    env_t e;
    run_crs(&e,
            "POST /comment HTTP/1.1\nHost: localhost\nUser-Agent: Mozilla/5.0\nAccept: text/html\n"
            "Content-Type: application/x-www-form-urlencoded\nContent-Length: 36\n\ntext=%3Cscript%3Ealert(1)%3C/script%3E",
            1);
    assert_true(matched(&e.v, 941100) || matched(&e.v, 941110));
    assert_true(e.v.inbound_score >= 5);
    assert_int_equal(e.v.disposition, RS_DENY);
    done(&e);
}

static void test_crs_benign_passes(void **state)
{
    (void)state;
    const char *reqs[] = {
        "GET /index.html HTTP/1.1\nHost: localhost\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\nAccept: text/html\n\n",
        "GET /search?q=blue+shoes&page=2 HTTP/1.1\nHost: shop.example\nUser-Agent: Mozilla/5.0\nAccept: */*\n"
        "Cookie: session=4f2a9c; lang=en\n\n",
        "POST /login HTTP/1.1\nHost: localhost\nUser-Agent: Mozilla/5.0\nAccept: text/html\n"
        "Content-Type: application/x-www-form-urlencoded\nContent-Length: 28\n\nuser=alice&password=hunter22",
    };
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        env_t e;
        run_crs(&e, reqs[i], 1);
        if (e.v.inbound_score != 0)
            fail_msg("request %zu scored %d (first match %u)", i, e.v.inbound_score, e.v.nmatches ? e.v.matches[0].rule_id : 0);
        assert_int_equal(e.v.disposition, RS_PASS);
        assert_int_equal(e.v.nmatches, 0);
        done(&e);
    }
}

/* Once its buffers have grown, a transaction allocates nothing on the heap (CRS, requests seen before). */
static void test_steady_state_no_allocation(void **state)
{
    (void)state;
#ifndef EP_COUNT_ALLOCS
    skip();
#else
    env_t e;
    run_crs(&e,
            "POST /comment?id=1%27%20or%201=1 HTTP/1.1\nHost: localhost\nUser-Agent: Mozilla/5.0\nAccept: text/html\n"
            "Cookie: a=b; c=d\nContent-Type: application/x-www-form-urlencoded\nContent-Length: 36\n\n"
            "text=%3Cscript%3Ealert(1)%3C/script%3E",
            1);
    assert_true(alloc_count > 1000); /* the counter sees the compile's allocations: the hook is live */
    rs_verdict_t v;
    for (int round = 0; round < 3; round++) { /* warm up */
        rs_tx_begin(e.tx, e.db, &e.req);
        rs_tx_run_phase(e.tx, 1, &v);
        rs_tx_run_phase(e.tx, 2, &v);
        rs_tx_end(e.tx);
    }
    long before = alloc_count;
    for (int round = 0; round < 20; round++) {
        rs_tx_begin(e.tx, e.db, &e.req);
        rs_tx_run_phase(e.tx, 1, &v);
        rs_tx_run_phase(e.tx, 2, &v);
        assert_int_equal(v.disposition, RS_DENY);
        rs_tx_end(e.tx);
    }
    long allocs = alloc_count - before;
    if (allocs != 0)
        fail_msg("%ld heap allocations in 20 steady-state requests", allocs);
    rs_tx_begin(e.tx, e.db, &e.req); /* done() ends it */
    done(&e);
#endif
}

/* One database, several threads, each with its own transaction: the same verdicts as a single thread. */
typedef struct st_thread_job_t {
    rs_db_t *db;
    const rs_request_t *reqs;
    size_t nreqs;
    const int *want_scores;
    int mismatches;
} thread_job_t;

static void *thread_run(void *arg)
{
    thread_job_t *j = arg;
    rs_tx_t *tx = rs_tx_new();
    for (int round = 0; round < 5; round++)
        for (size_t i = 0; i < j->nreqs; i++) {
            rs_verdict_t v;
            rs_tx_begin(tx, j->db, &j->reqs[i]);
            rs_tx_run_phase(tx, 1, &v);
            rs_tx_run_phase(tx, 2, &v);
            if (v.inbound_score != j->want_scores[i])
                j->mismatches++;
            rs_tx_end(tx);
        }
    rs_tx_free(tx);
    return NULL;
}

static void test_threads_share_db(void **state)
{
    (void)state;
    const char *raws[] = {
        "GET /?id=1%27%20or%20%271%27%3D%271 HTTP/1.1\r\nHost: a\r\nUser-Agent: Mozilla/5.0\r\nAccept: */*\r\n\r\n",
        "GET /?q=%3Cscript%3Ealert(1)%3C/script%3E HTTP/1.1\r\nHost: a\r\nUser-Agent: Mozilla/5.0\r\nAccept: */*\r\n\r\n",
        "GET /index.html HTTP/1.1\r\nHost: a\r\nUser-Agent: Mozilla/5.0\r\nAccept: */*\r\n\r\n",
        "GET /a?f=../../etc/passwd HTTP/1.1\r\nHost: a\r\nUser-Agent: Mozilla/5.0\r\nAccept: */*\r\n\r\n",
    };
    enum { NREQ = 4, NTHREADS = 4 };
    env_t e;
    run_crs(&e, raws[2], 1);
    rs_request_t reqs[NREQ];
    rs_buf_t storage[NREQ];
    int want[NREQ];
    memset(storage, 0, sizeof(storage));
    for (int i = 0; i < NREQ; i++) {
        char err[64];
        assert_int_equal(rs_request_parse_raw((rs_str_t){raws[i], strlen(raws[i])}, &reqs[i], &storage[i], err, sizeof(err)), 0);
        rs_verdict_t v;
        rs_tx_begin(e.tx, e.db, &reqs[i]);
        rs_tx_run_phase(e.tx, 1, &v);
        rs_tx_run_phase(e.tx, 2, &v);
        want[i] = v.inbound_score;
        rs_tx_end(e.tx);
    }
    assert_true(want[0] > 0 && want[1] > 0 && want[2] == 0);
    pthread_t th[NTHREADS];
    thread_job_t jobs[NTHREADS];
    for (int t = 0; t < NTHREADS; t++) {
        jobs[t] = (thread_job_t){e.db, reqs, NREQ, want, 0};
        assert_int_equal(pthread_create(&th[t], NULL, thread_run, &jobs[t]), 0);
    }
    for (int t = 0; t < NTHREADS; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(jobs[t].mismatches, 0);
    }
    for (int i = 0; i < NREQ; i++) {
        rs_request_free_parsed(&reqs[i]);
        rs_buf_free(&storage[i]);
    }
    rs_tx_begin(e.tx, e.db, &e.req);
    done(&e);
}

static void test_tx_reuse_and_stats(void **state)
{
    (void)state;
    rs_db_t *db = test_compile_rules(BASE "SecRule ARGS \"@rx (?i)union\\s+select\" \"id:1,phase:1,deny,log\"\n"
                                          "SecRule ARGS \"@rx ^\\d+$\" \"id:2,phase:1,pass,log\"\n",
                                     1);
    assert_non_null(db);
    rs_db_stats_t st;
    rs_db_stats(db, &st);
    assert_int_equal(st.rules, 2);
    assert_int_equal(st.rules_by_phase[1], 2);
    assert_int_equal(st.regexes, 2);
    assert_int_equal(st.prefiltered + st.unfiltered, 2);
    rs_tx_t *tx = rs_tx_new();
    const char *raws[] = {"GET /?a=1%20UNION%20select%201 HTTP/1.1\r\nHost: h\r\n\r\n", "GET /?a=42 HTTP/1.1\r\nHost: h\r\n\r\n"};
    for (int round = 0; round < 50; round++) {
        for (int k = 0; k < 2; k++) {
            rs_request_t req;
            rs_buf_t storage = {0};
            char err[64];
            assert_int_equal(rs_request_parse_raw((rs_str_t){raws[k], strlen(raws[k])}, &req, &storage, err, sizeof(err)), 0);
            rs_verdict_t v;
            rs_tx_begin(tx, db, &req);
            rs_tx_run_phase(tx, 1, &v);
            assert_int_equal(v.disposition, k == 0 ? RS_DENY : RS_PASS);
            assert_int_equal(v.nmatches, 1);
            assert_int_equal(v.matches[0].rule_id, k == 0 ? 1 : 2);
            rs_tx_end(tx);
            rs_request_free_parsed(&req);
            rs_buf_free(&storage);
        }
    }
    rs_tx_free(tx);
    rs_db_release(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_variables),
        cmocka_unit_test(test_body_and_cookies),
        cmocka_unit_test(test_json_body_via_ctl),
        cmocka_unit_test(test_selectors_and_exclusions),
        cmocka_unit_test(test_setvar_and_macros),
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_chain_member_literals),
        cmocka_unit_test(test_skip_and_skip_after),
        cmocka_unit_test(test_ctl_actions),
        cmocka_unit_test(test_block_and_detection_only),
        cmocka_unit_test(test_multimatch_and_transforms),
        cmocka_unit_test(test_allow),
        cmocka_unit_test(test_persistent_collections),
        cmocka_unit_test(test_v3_member_order),
        cmocka_unit_test(test_raw_request_parser),
        cmocka_unit_test(test_crs_sqli_blocked),
        cmocka_unit_test(test_crs_xss_blocked),
        cmocka_unit_test(test_crs_benign_passes),
        cmocka_unit_test(test_tx_reuse_and_stats),
        cmocka_unit_test(test_steady_state_no_allocation),
        cmocka_unit_test(test_threads_share_db),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
