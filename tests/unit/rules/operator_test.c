/* SPDX-License-Identifier: MIT */
/* Unit tests for the SecRule operators: each operator's match / no match / negation and the edge cases where
 * ModSecurity v3.0.9 has specific behaviour (empty values and parameters, numeric parsing, @pm syntax). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <dirent.h>

#include <cmocka.h>

#include "operator/operator.h"

static rs_op_scratch_t *scratch;

static rs_op_t *make(const char *name, const char *param, int negated)
{
    char *err = NULL;
    rs_op_t *op = rs_op_create(rs_str(name, strlen(name)), rs_str(param, strlen(param)), negated, EP_SOURCE_DIR, &err);
    if (op == NULL)
        fail_msg("@%s %s: %s", name, param, err ? err : "?");
    return op;
}

static char *make_error(const char *name, const char *param)
{
    char *err = NULL;
    rs_op_t *op = rs_op_create(rs_str(name, strlen(name)), rs_str(param, strlen(param)), 0, EP_SOURCE_DIR, &err);
    assert_null(op);
    assert_non_null(err);
    return err;
}

static int run_full(const char *name, const char *param, int negated, const char *value, rs_op_result_t *res)
{
    rs_op_t *op = make(name, param, negated);
    int rc = rs_op_exec(op, rs_str(param, strlen(param)), rs_str(value, strlen(value)), 1, NULL, scratch, res);
    rs_op_free(op);
    return rc;
}

static int run(const char *name, const char *param, const char *value)
{
    rs_op_result_t res;
    return run_full(name, param, 0, value, &res);
}

static int run_neg(const char *name, const char *param, const char *value)
{
    rs_op_result_t res;
    return run_full(name, param, 1, value, &res);
}

static void test_rx(void **state)
{
    rs_op_result_t res;
    assert_int_equal(run_full("rx", "a(b+)(c)?", 0, "xxabbbd", &res), 1);
    assert_int_equal(res.captures[0].len, 4);
    assert_memory_equal(res.captures[0].base, "abbb", 4);
    assert_memory_equal(res.captures[1].base, "bbb", 3);
    assert_int_equal(res.captures[2].len, 0); /* unset group */
    assert_int_equal(res.matched.len, 4);
    assert_int_equal(run("rx", "^abc$", "abd"), 0);
    assert_int_equal(run_neg("rx", "^abc$", "abd"), 1);
    assert_int_equal(run_neg("rx", "abc", "xabcx"), 0);
    /* v3 flags: DOTALL and MULTILINE, case-sensitive unless (?i) */
    assert_int_equal(run("rx", "a.b", "a\nb"), 1);
    assert_int_equal(run("rx", "^b$", "a\nb\nc"), 1);
    assert_int_equal(run("rx", "ABC", "abc"), 0);
    assert_int_equal(run("rx", "(?i)ABC", "abc"), 1);
    /* empty parameter matches everything, like v3 */
    assert_int_equal(run("rx", "", "anything"), 1);
    /* more than 10 groups: captures 0..9 still filled */
    assert_int_equal(run_full("rx", "(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)", 0, "abcdefghijkl", &res), 1);
    assert_int_equal(res.ncaptures, 10);
    assert_memory_equal(res.captures[9].base, "i", 1);
    free(make_error("rx", "a(b"));
}

static void test_rx_limits(void **state)
{
    rs_op_t *op = make("rx", "(a+)+$", 0);
    char value[64];
    memset(value, 'a', sizeof(value) - 2);
    value[sizeof(value) - 2] = '!';
    value[sizeof(value) - 1] = '\0';
    rs_op_limits_t limits = {1000, 1000};
    rs_op_result_t res;
    assert_int_equal(rs_op_exec(op, rs_str("", 0), rs_str(value, strlen(value)), 0, &limits, scratch, &res), 0);
    assert_int_equal(res.limit_hit, 1);
    rs_op_free(op);
}

static void test_rx_macro(void **state)
{
    rs_op_t *op = make("rx", "^%{tx.x}$", 0);
    assert_true(rs_op_has_macro(op));
    rs_op_result_t res;
    assert_int_equal(rs_op_exec(op, RS_STR("^ab+$"), RS_STR("abbb"), 0, NULL, scratch, &res), 1);
    assert_int_equal(rs_op_exec(op, RS_STR("^ab+$"), RS_STR("ac"), 0, NULL, scratch, &res), 0);
    assert_int_equal(rs_op_exec(op, RS_STR("a("), RS_STR("ac"), 0, NULL, scratch, &res), -1);
    rs_op_free(op);
}

static void test_pm(void **state)
{
    rs_op_result_t res;
    rs_op_t *op = make("pm", "foo BAR baz", 0);
    assert_int_equal(rs_op_exec(op, RS_STR(""), RS_STR("xx bar yy"), 1, NULL, scratch, &res), 1);
    assert_int_equal(res.matched.len, 3);
    assert_memory_equal(res.matched.base, "BAR", 3); /* the phrase as written in the list */
    assert_int_equal(res.ncaptures, 1);
    rs_op_free(op);
    assert_int_equal(run("pm", "foo bar", "fo ba"), 0);
    assert_int_equal(run_neg("pm", "foo bar", "fo ba"), 1);
    assert_int_equal(run("pm", "document.cookie <!--", "x<!--y"), 1);
    /* quotes, escapes and hex bytes */
    assert_int_equal(run("pm", "\"a\\;b\"", "xa;by"), 1);
    assert_int_equal(run("pm", "|41 42|c", "zabc"), 1);
    assert_int_equal(run("pm", "|41 42|c", "zab"), 0);
    /* overlapping phrases: the first one to end wins */
    assert_int_equal(run_full("pm", "abcd bc", 0, "abcd", &res), 1);
    assert_int_equal(res.matched.len, 2);
    assert_int_equal(run("pm", "", "x"), 0);
}

static void test_pmf(void **state)
{
    char dir[] = "/tmp/ep_optest_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/a.data", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("# comment\n\n   \nfirst phrase\n  # indented comment\nSecond\r\n", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/b.data", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("third", f);
    fclose(f);

    char *err = NULL;
    rs_op_t *op = rs_op_create(RS_STR("pmFromFile"), RS_STR("a.data b.data"), 0, dir, &err);
    assert_non_null(op);
    assert_string_equal(rs_op_name(op), "pmFromFile");
    rs_op_result_t res;
    assert_int_equal(rs_op_exec(op, RS_STR(""), RS_STR("the FIRST PHRASE here"), 0, NULL, scratch, &res), 1);
    assert_int_equal(rs_op_exec(op, RS_STR(""), RS_STR("xsecondx"), 0, NULL, scratch, &res), 1);
    assert_int_equal(rs_op_exec(op, RS_STR(""), RS_STR("a third"), 0, NULL, scratch, &res), 1);
    assert_int_equal(rs_op_exec(op, RS_STR(""), RS_STR("first comment"), 0, NULL, scratch, &res), 0);
    assert_int_equal(rs_op_exec(op, RS_STR(""), RS_STR("   "), 0, NULL, scratch, &res), 0);
    rs_str_t *lits;
    int nocase;
    int n = rs_op_required_literals(op, &lits, &nocase);
    assert_int_equal(n, 3);
    assert_true(nocase);
    rs_op_literals_free(lits, n);
    rs_op_free(op);

    op = rs_op_create(RS_STR("pmf"), RS_STR("b.data"), 1, dir, &err);
    assert_non_null(op);
    assert_int_equal(rs_op_exec(op, RS_STR(""), RS_STR("third"), 0, NULL, scratch, &res), 0);
    rs_op_free(op);

    err = NULL;
    assert_null(rs_op_create(RS_STR("pmf"), RS_STR("missing.data"), 0, dir, &err));
    assert_non_null(err);
    free(err);

    snprintf(path, sizeof(path), "%s/a.data", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/b.data", dir);
    unlink(path);
    rmdir(dir);
}

static void test_crs_pmf(void **state)
{
    const char *dir = "/usr/share/modsecurity-crs/rules";
    if (access(dir, R_OK) != 0)
        skip();
    char *err = NULL;
    /* every data file CRS ships loads, with phrases */
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d)) != NULL) {
        size_t nl = strlen(e->d_name);
        if (nl < 6 || strcmp(e->d_name + nl - 5, ".data") != 0)
            continue;
        rs_op_t *pmf = rs_op_create(RS_STR("pmf"), rs_str(e->d_name, nl), 0, dir, &err);
        if (pmf == NULL)
            fail_msg("%s: %s", e->d_name, err);
        rs_str_t *lits;
        int nocase;
        int n = rs_op_required_literals(pmf, &lits, &nocase);
        assert_true(n > 0);
        rs_op_literals_free(lits, n);
        rs_op_free(pmf);
        files++;
    }
    closedir(d);
    assert_true(files > 0);
    rs_op_t *op = rs_op_create(RS_STR("pmFromFile"), RS_STR("unix-shell.data"), 0, dir, &err);
    assert_non_null(op);
    rs_op_result_t res;
    assert_int_equal(rs_op_exec(op, RS_STR(""), RS_STR("cat /etc/passwd"), 0, NULL, scratch, &res), 1);
    assert_int_equal(rs_op_exec(op, RS_STR(""), RS_STR("hello world"), 0, NULL, scratch, &res), 0);
    rs_op_free(op);
}

static void test_numeric(void **state)
{
    assert_int_equal(run("eq", "5", "5"), 1);
    assert_int_equal(run("eq", "5", " 5"), 1);
    assert_int_equal(run("eq", "5", "5abc"), 1); /* stoi reads the numeric prefix */
    assert_int_equal(run("eq", "0", "abc"), 1);  /* non-numeric = 0 */
    assert_int_equal(run("eq", "0", ""), 1);
    assert_int_equal(run("eq", "0", "99999999999"), 1); /* out of int range: stoi throws, v3 uses 0 */
    assert_int_equal(run("eq", "5", "6"), 0);
    assert_int_equal(run_neg("eq", "5", "6"), 1);
    assert_int_equal(run("eq", "-3", "-3"), 1);
    assert_int_equal(run("gt", "10", "11"), 1);
    assert_int_equal(run("gt", "10", "10"), 0);
    assert_int_equal(run("ge", "10", "10"), 1);
    assert_int_equal(run("lt", "10", "9"), 1);
    assert_int_equal(run("lt", "10", "x"), 1);
    assert_int_equal(run("le", "10", "10"), 1);
    assert_int_equal(run("le", "10", "11"), 0);
    assert_int_equal(run("gt", "99999999999", "100000000000"), 1); /* atoll is 64-bit */
    assert_int_equal(run_neg("lt", "1", "0"), 0);

    rs_op_t *op = make("eq", "%{tx.x}", 0);
    assert_true(rs_op_has_macro(op));
    rs_op_result_t res;
    assert_int_equal(rs_op_exec(op, RS_STR("7"), RS_STR("7"), 0, NULL, scratch, &res), 1);
    assert_int_equal(rs_op_exec(op, RS_STR("8"), RS_STR("7"), 0, NULL, scratch, &res), 0);
    rs_op_free(op);
}

static void test_strings(void **state)
{
    assert_int_equal(run("streq", "abc", "abc"), 1);
    assert_int_equal(run("streq", "abc", "abcd"), 0);
    assert_int_equal(run("streq", "abc", "ABC"), 0);
    assert_int_equal(run_neg("streq", "abc", "abd"), 1);
    assert_int_equal(run("streq", "", ""), 1);

    assert_int_equal(run("within", "GET POST HEAD", "POST"), 1);
    assert_int_equal(run("within", "GET POST HEAD", "PUT"), 0);
    assert_int_equal(run("within", "GET POST", "T P"), 1); /* substring, not word */
    assert_int_equal(run("within", "GET", ""), 1);         /* v3: empty value is within */
    assert_int_equal(run_neg("within", "GET POST", "DELETE"), 1);
    rs_op_t *op = make("within", "%{tx.allowed_methods}", 1);
    rs_op_result_t res;
    assert_int_equal(rs_op_exec(op, RS_STR("GET HEAD"), RS_STR("HEAD"), 0, NULL, scratch, &res), 0);
    assert_int_equal(rs_op_exec(op, RS_STR("GET HEAD"), RS_STR("PUT"), 0, NULL, scratch, &res), 1);
    rs_op_free(op);

    assert_int_equal(run("beginsWith", "ab", "abc"), 1);
    assert_int_equal(run("beginsWith", "ab", "a"), 0);
    assert_int_equal(run("beginsWith", "", "a"), 1);
    assert_int_equal(run_neg("beginsWith", "ab", "cab"), 1);
    assert_int_equal(run("endsWith", ".php", "index.php"), 1);
    assert_int_equal(run("endsWith", ".php", "index.phps"), 0);
    assert_int_equal(run("endsWith", ".php", "php"), 0);
    assert_int_equal(run_neg("endsWith", ".php", "a.php"), 0);
    assert_int_equal(run("contains", "b", "abc"), 1);
    assert_int_equal(run("contains", "B", "abc"), 0);
    assert_int_equal(run("contains", "", "abc"), 1);
    assert_int_equal(run_neg("contains", "x", "abc"), 1);
    assert_int_equal(run("strmatch", "bc", "abcd"), 1);
    assert_int_equal(run("strmatch", "bd", "abcd"), 0);

    assert_int_equal(run("containsWord", "foo", "a foo b"), 1);
    assert_int_equal(run("containsWord", "foo", "foo"), 1);
    assert_int_equal(run("containsWord", "foo", "foo bar"), 1);
    assert_int_equal(run("containsWord", "foo", "bar foo"), 1);
    assert_int_equal(run("containsWord", "foo", "foobar"), 0);
    assert_int_equal(run("containsWord", "foo", "xfoo"), 0);
    assert_int_equal(run("containsWord", "foo", "1foo2"), 1); /* only letters make a word in v3 */
    assert_int_equal(run("containsWord", "foo", "foox foo"), 1);
    assert_int_equal(run("containsWord", "", "x"), 1);
    assert_int_equal(run("containsWord", "foo", ""), 0);
    assert_int_equal(run_neg("containsWord", "foo", "foobar"), 1);
}

static void test_ip(void **state)
{
    const char *list = "192.168.0.0/16, 10.1.2.3,2001:db8::/32 ,::1";
    assert_int_equal(run("ipMatch", list, "192.168.44.1"), 1);
    assert_int_equal(run("ipMatch", list, "192.169.0.1"), 0);
    assert_int_equal(run("ipMatch", list, "10.1.2.3"), 1);
    assert_int_equal(run("ipMatch", list, "10.1.2.4"), 0);
    assert_int_equal(run("ipMatch", list, "2001:db8:1::5"), 1);
    assert_int_equal(run("ipMatch", list, "2001:db9::5"), 0);
    assert_int_equal(run("ipMatch", list, "::1"), 1);
    assert_int_equal(run("ipMatch", list, "not an ip"), 0);
    assert_int_equal(run("ipMatch", list, ""), 0);
    assert_int_equal(run_neg("ipMatch", list, "8.8.8.8"), 1);
    assert_int_equal(run("ipMatch", "0.0.0.0/0", "8.8.8.8"), 1);
    assert_int_equal(run("ipMatch", "10.0.0.0/9", "10.127.255.255"), 1);
    assert_int_equal(run("ipMatch", "10.0.0.0/9", "10.128.0.0"), 0);
    free(make_error("ipMatch", "1.2.3.4,999.1.1.1"));
    free(make_error("ipMatch", "1.2.3.4/33"));

    char dir[] = "/tmp/ep_optest_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/ips.txt", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("# blocked\n1.2.3.0/24\n\n5.6.7.8 # trailing comment\nfe80::/10\n", f);
    fclose(f);
    char *err = NULL;
    rs_op_t *op = rs_op_create(RS_STR("ipMatchF"), RS_STR("ips.txt"), 0, dir, &err);
    assert_non_null(op);
    rs_op_result_t res;
    assert_int_equal(rs_op_exec(op, RS_STR(""), RS_STR("1.2.3.200"), 0, NULL, scratch, &res), 1);
    assert_int_equal(rs_op_exec(op, RS_STR(""), RS_STR("5.6.7.8"), 0, NULL, scratch, &res), 1);
    assert_int_equal(rs_op_exec(op, RS_STR(""), RS_STR("fe80::1"), 0, NULL, scratch, &res), 1);
    assert_int_equal(rs_op_exec(op, RS_STR(""), RS_STR("5.6.7.9"), 0, NULL, scratch, &res), 0);
    rs_op_free(op);
    unlink(path);
    rmdir(dir);
}

static void test_validate(void **state)
{
    assert_int_equal(run("validateByteRange", "1-255", "abc"), 0);
    assert_int_equal(run("validateByteRange", "32-126", "abc\x01"), 1);
    assert_int_equal(run("validateByteRange", "38,44-46,48-58,61,65-90,95,97-122", "a=b&c"), 0);
    assert_int_equal(run("validateByteRange", "38,44-46,48-58,61,65-90,95,97-122", "a b"), 1);
    assert_int_equal(run_neg("validateByteRange", "97", "aaa"), 1);
    assert_int_equal(run("validateByteRange", "97", ""), 0);
    assert_int_equal(run("validateByteRange", "97-98,", "ab"), 0); /* trailing comma ignored */
    free(make_error("validateByteRange", ""));
    free(make_error("validateByteRange", "10-300"));
    free(make_error("validateByteRange", "20-10"));
    free(make_error("validateByteRange", "x"));

    assert_int_equal(run("validateUrlEncoding", "", "a%20b"), 0);
    assert_int_equal(run("validateUrlEncoding", "", "a%2"), 1);
    assert_int_equal(run("validateUrlEncoding", "", "a%zzb"), 1);
    assert_int_equal(run("validateUrlEncoding", "", "%41"), 0);
    assert_int_equal(run("validateUrlEncoding", "", ""), 0);
    assert_int_equal(run_neg("validateUrlEncoding", "", "%4"), 0);

    assert_int_equal(run("validateUtf8Encoding", "", "plain"), 0);
    assert_int_equal(run("validateUtf8Encoding", "", "caf\xc3\xa9"), 0);
    assert_int_equal(run("validateUtf8Encoding", "", "\xf0\x9f\x98\x80"), 0);
    assert_int_equal(run("validateUtf8Encoding", "", "caf\xc3"), 1);          /* truncated */
    assert_int_equal(run("validateUtf8Encoding", "", "\xc0\xaf"), 1);         /* overlong */
    assert_int_equal(run("validateUtf8Encoding", "", "\xed\xa0\x80"), 1);     /* surrogate */
    assert_int_equal(run("validateUtf8Encoding", "", "\xf5\x80\x80\x80"), 1); /* > U+10FFFF */
    assert_int_equal(run("validateUtf8Encoding", "", "\xff"), 1);
    assert_int_equal(run("validateUtf8Encoding", "", "\xc3\x28"), 1); /* bad continuation */
}

static void test_misc(void **state)
{
    assert_int_equal(run("unconditionalMatch", "", "x"), 1);
    assert_int_equal(run_neg("unconditionalMatch", "", "x"), 0);
    assert_int_equal(run("noMatch", "", "x"), 0);
    assert_int_equal(run_neg("noMatch", "", "x"), 1);
    assert_int_equal(run("geoLookup", "", "8.8.8.8"), 0);
    assert_int_equal(run("rbl", "sbl-xbl.spamhaus.org", "1.2.3.4"), 0);
    free(make_error("verifyCC", "\\d{13,16}"));
    rs_op_t *op = make("RX", "a", 1);
    assert_int_equal(rs_op_kind(op), RS_OP_RX);
    assert_string_equal(rs_op_name(op), "rx");
    assert_true(rs_op_negated(op));
    assert_false(rs_op_has_macro(op));
    assert_int_equal(rs_op_param(op).len, 1);
    rs_op_free(op);
    op = make("pm", "%{tx.x}", 0);
    assert_false(rs_op_has_macro(op)); /* v3 does not expand macros in @pm */
    rs_op_free(op);
}

static void test_literals_simple(void **state)
{
    rs_str_t *lits;
    int nocase;
    rs_op_t *op = make("contains", "abc", 0);
    int n = rs_op_required_literals(op, &lits, &nocase);
    assert_int_equal(n, 1);
    assert_int_equal(lits[0].len, 3);
    assert_false(nocase);
    rs_op_literals_free(lits, n);
    rs_op_free(op);
    op = make("contains", "abc", 1);
    assert_int_equal(rs_op_required_literals(op, &lits, &nocase), -1);
    rs_op_free(op);
    op = make("within", "GET POST", 0);
    assert_int_equal(rs_op_required_literals(op, &lits, &nocase), -1);
    rs_op_free(op);
    op = make("eq", "1", 0);
    assert_int_equal(rs_op_required_literals(op, &lits, &nocase), -1);
    rs_op_free(op);
    op = make("endsWith", "%{tx.x}", 0);
    assert_int_equal(rs_op_required_literals(op, &lits, &nocase), -1);
    rs_op_free(op);
    op = make("pm", "Foo bar", 0);
    n = rs_op_required_literals(op, &lits, &nocase);
    assert_int_equal(n, 2);
    assert_true(nocase);
    rs_op_literals_free(lits, n);
    rs_op_free(op);
}

/* Counting allocator: glibc lets the executable interpose malloc and friends. Only counted while armed. Not
 * under sanitizers, which own malloc themselves. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define EP_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define EP_ASAN 1
#endif

#ifndef EP_ASAN
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static int alloc_armed;
static size_t alloc_count;

void *malloc(size_t n)
{
    alloc_count += alloc_armed;
    return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
    alloc_count += alloc_armed;
    return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
    alloc_count += alloc_armed;
    return __libc_realloc(p, n);
}
#else
static int alloc_armed;
static size_t alloc_count;
#endif

static void test_no_alloc_steady_state(void **state)
{
    static const char *const ops[][2] = {
        {"rx", "(?i)(union\\s+select|<script)"},
        {"rx", "^(a+)+$"},
        {"pm", "select union <script"},
        {"eq", "5"},
        {"within", "GET POST"},
        {"containsWord", "select"},
        {"ipMatch", "10.0.0.0/8,::1"},
        {"validateByteRange", "32-126"},
        {"validateUtf8Encoding", ""},
        {"validateUrlEncoding", ""},
        {"detectSQLi", ""},
        {"detectXSS", ""},
    };
    static const char *const values[] = {
        "1 UNION  SELECT x", "harmless text", "<ScRiPt>alert(1)</script>", "10.1.2.3", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
        "caf\xc3\xa9 %41"};
    enum { NOPS = sizeof(ops) / sizeof(ops[0]), NVALUES = sizeof(values) / sizeof(values[0]) };
    rs_op_t *compiled[NOPS];
    for (size_t i = 0; i < NOPS; i++)
        compiled[i] = make(ops[i][0], ops[i][1], 0);
    rs_op_limits_t limits = {100000, 1000};
    rs_op_result_t res;
    for (int pass = 0; pass < 2; pass++) {
        alloc_count = 0;
        alloc_armed = pass == 1; /* pass 0 warms up (PCRE2 keeps interpreter frames in the match data) */
        for (int rep = 0; rep < 50; rep++)
            for (size_t i = 0; i < NOPS; i++)
                for (size_t v = 0; v < NVALUES; v++)
                    assert_true(
                        rs_op_exec(compiled[i], RS_STR(""), rs_str(values[v], strlen(values[v])), 1, &limits, scratch, &res) >= 0);
        alloc_armed = 0;
    }
    for (size_t i = 0; i < NOPS; i++)
        rs_op_free(compiled[i]);
#ifdef EP_ASAN
    (void)alloc_armed;
    skip(); /* the executions ran; allocation counting needs the plain allocator */
#endif
    assert_int_equal(alloc_count, 0);
}

/* Shared compiled operators, one scratch per thread: results must equal the single-threaded ones. */
typedef struct {
    rs_op_t **ops;
    size_t nops;
    const char *const *values;
    size_t nvalues;
    const int *expected;
    int mismatches;
} thread_job_t;

static void *thread_main(void *arg)
{
    thread_job_t *job = arg;
    rs_op_scratch_t *own = rs_op_scratch_new();
    rs_op_result_t res;
    for (int rep = 0; rep < 200; rep++)
        for (size_t i = 0; i < job->nops; i++)
            for (size_t v = 0; v < job->nvalues; v++) {
                int rc = rs_op_exec(job->ops[i], RS_STR(""), rs_str(job->values[v], strlen(job->values[v])), 1, NULL, own, &res);
                if (rc != job->expected[i * job->nvalues + v])
                    job->mismatches++;
            }
    rs_op_scratch_free(own);
    return NULL;
}

static void test_threads(void **state)
{
    static const char *const specs[][2] = {
        {"rx", "(?i)(union\\s+select|<script)"}, {"pm", "select union <script"}, {"rx", "^[a-z]+$"}, {"containsWord", "union"}};
    static const char *const values[] = {"1 UNION  SELECT x", "harmless", "<ScRiPt>", "union", "x"};
    enum { NOPS = 4, NVALUES = 5, NTHREADS = 4 };
    rs_op_t *ops[NOPS];
    int expected[NOPS * NVALUES];
    rs_op_result_t res;
    for (size_t i = 0; i < NOPS; i++) {
        ops[i] = make(specs[i][0], specs[i][1], 0);
        for (size_t v = 0; v < NVALUES; v++)
            expected[i * NVALUES + v] =
                rs_op_exec(ops[i], RS_STR(""), rs_str(values[v], strlen(values[v])), 1, NULL, scratch, &res);
    }
    pthread_t th[NTHREADS];
    thread_job_t jobs[NTHREADS];
    for (int t = 0; t < NTHREADS; t++) {
        jobs[t] = (thread_job_t){ops, NOPS, values, NVALUES, expected, 0};
        assert_int_equal(pthread_create(&th[t], NULL, thread_main, &jobs[t]), 0);
    }
    for (int t = 0; t < NTHREADS; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(jobs[t].mismatches, 0);
    }
    for (size_t i = 0; i < NOPS; i++)
        rs_op_free(ops[i]);
}

static int setup(void **state)
{
    scratch = rs_op_scratch_new();
    return scratch == NULL;
}

static int teardown(void **state)
{
    rs_op_scratch_free(scratch);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rx),
        cmocka_unit_test(test_rx_limits),
        cmocka_unit_test(test_rx_macro),
        cmocka_unit_test(test_pm),
        cmocka_unit_test(test_pmf),
        cmocka_unit_test(test_crs_pmf),
        cmocka_unit_test(test_numeric),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_ip),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_misc),
        cmocka_unit_test(test_literals_simple),
        cmocka_unit_test(test_no_alloc_steady_state),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
