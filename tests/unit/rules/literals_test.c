/* SPDX-License-Identifier: MIT */
/* Tests of the @rx required-literal extraction. Besides expected sets for known patterns, a soundness check
 * over every @rx of the installed CRS: on strings generated from each regex and on the dev corpus values,
 * whenever PCRE2 finds a match, one of the extracted literals must occur in the value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>

#include <cmocka.h>

#include "operator/op_internal.h"

#define CRS_DIR    "/usr/share/modsecurity-crs/rules"
#define DEV_CORPUS "/work/shared/bench/detect/data/dev.jsonl"

/* ---- helpers -------------------------------------------------------------------------------------------- */

static int fold_eq(const char *a, const char *b, size_t n, int nocase)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (nocase) {
            x = (x >= 'A' && x <= 'Z') ? (unsigned char)(x + 32) : x;
            y = (y >= 'A' && y <= 'Z') ? (unsigned char)(y + 32) : y;
        }
        if (x != y)
            return 0;
    }
    return 1;
}

static int lits_occur(rs_str_t *lits, int n, int nocase, const char *s, size_t len)
{
    for (int i = 0; i < n; i++)
        for (size_t p = 0; p + lits[i].len <= len; p++)
            if (fold_eq(s + p, lits[i].base, lits[i].len, nocase))
                return 1;
    return 0;
}

static int has_lit(rs_str_t *lits, int n, const char *want)
{
    for (int i = 0; i < n; i++)
        if (lits[i].len == strlen(want) && memcmp(lits[i].base, want, lits[i].len) == 0)
            return 1;
    return 0;
}

/* Checks the expected literal set of `re` exactly (order free). expected = NULL-terminated list, or NULL for -1 */
static void expect_lits(const char *re, int want_nocase, const char *const *expected)
{
    rs_str_t *lits;
    int nocase;
    int n = rs_rx_required_literals(re, strlen(re), &lits, &nocase);
    if (expected == NULL) {
        if (n != -1)
            fail_msg("%s: expected no literal set, got %d literals", re, n);
        return;
    }
    int count = 0;
    while (expected[count] != NULL)
        count++;
    if (n != count)
        fail_msg("%s: expected %d literals, got %d", re, count, n);
    for (int i = 0; i < count; i++)
        if (!has_lit(lits, n, expected[i]))
            fail_msg("%s: literal \"%s\" missing", re, expected[i]);
    assert_int_equal(nocase, want_nocase);
    rs_op_literals_free(lits, n);
}

/* Every literal of the set of `re` contains one of the needles (when the exact choice is a matter of taste). */
static void expect_each_contains(const char *re, const char *needle1, const char *needle2)
{
    rs_str_t *lits;
    int nocase;
    int n = rs_rx_required_literals(re, strlen(re), &lits, &nocase);
    if (n <= 0)
        fail_msg("%s: expected a literal set, got %d", re, n);
    for (int i = 0; i < n; i++) {
        char *l = rs_strndup(lits[i].base, lits[i].len);
        if (strstr(l, needle1) == NULL && (needle2 == NULL || strstr(l, needle2) == NULL))
            fail_msg("%s: literal \"%s\" contains neither \"%s\" nor \"%s\"", re, l, needle1, needle2 ? needle2 : "");
        free(l);
    }
    rs_op_literals_free(lits, n);
}

#define LITS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_expected_sets(void **state)
{
    expect_lits("abc", 0, LITS("abc"));
    expect_each_contains("(?i)union\\s+select", "select", "union");
    expect_lits("(?:foo|bar)baz", 0, LITS("foobaz", "barbaz"));
    expect_lits("[sS][eE][lL]ect", 1, LITS("select"));
    expect_lits("(?i:<script|javascript:)", 1, LITS("<script", "javascript:"));
    expect_lits("a{3}", 0, LITS("aaa"));
    expect_lits("x?yz", 0, LITS("yz"));
    expect_lits("a(?=b)c", 0, LITS("ac"));
    expect_lits("\\x41\\x{42}C", 0, LITS("ABC"));
    expect_lits("\\Qa.b\\E", 0, LITS("a.b"));
    expect_lits("(?i)(?:abc|de)f", 1, LITS("abcf", "def"));
    expect_lits("(?:abc)+", 0, LITS("abc"));
    expect_lits("x(?i)ab(?-i)CD", 1, LITS("xabcd"));
    expect_lits("foo|(?:bar)?", 0, NULL); /* the second branch can match empty */
    expect_lits(".*", 0, NULL);
    expect_lits("[^a]+", 0, NULL);
    expect_lits("\\w+", 0, NULL);
    expect_lits("(?x) a b c", 0, NULL); /* extended mode is not modelled */
    expect_lits("(*UTF)abc", 0, NULL);
    expect_lits("(?(1)a|b)", 0, NULL);
    expect_lits("a(", 0, NULL);
    expect_lits("", 0, NULL);
    /* the best part of a concatenation is chosen */
    expect_each_contains("a\\s*longword\\d+x", "longword", NULL);
    /* character classes of a few members expand */
    expect_lits("ab[cd]ef", 0, LITS("abcef", "abdef"));
    /* \b is zero width */
    expect_lits("\\bselect\\b", 0, LITS("select"));
    /* prefixes and suffixes of inexact parts extend neighbouring literals */
    expect_lits("u(?:nion\\s+all|pdate\\s)", 0, LITS("union", "update")); /* branch variants collapse */
    expect_each_contains("(?:\\w+ab|\\d+ab)cd\\s", "abcd", NULL);
    expect_lits("abc(?:x+|y+)", 0, LITS("abcx", "abcy"));
    expect_lits("a+bcd", 0, LITS("abcd"));
    /* caseless classes: POSIX names cover both cases under (?i) */
    expect_each_contains("(?i)x[[:upper:]]y", "x", "y");
    expect_lits("(?i)ab[[:lower:]]{0}cd", 1, LITS("abcd"));
    /* backreferences are unknown text */
    expect_each_contains("(a+)x\\1yz", "ax", "yz");
}

/* ---- random generation from the parsed tree ------------------------------------------------------------ */

static uint64_t rng_state = 88172645463325252ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)rng_state;
}

static void gen(const rs_rx_node_t *n, rs_buf_t *out, int budget)
{
    if (out->len > 2000)
        return;
    switch (n->kind) {
    case RS_RX_SET: {
        int members[256], m = 0;
        for (int c = 0; c < 256; c++)
            if (rs_rx_set_has(n->set, (unsigned)c))
                members[m++] = c;
        if (m > 0) {
            /* mostly printable choices so that the surrounding pattern has a chance */
            int pick = members[rnd() % (unsigned)m];
            rs_buf_putc(out, (char)pick);
        }
        break;
    }
    case RS_RX_CAT:
        for (size_t i = 0; i < n->nkids; i++)
            gen(n->kids[i], out, budget);
        break;
    case RS_RX_ALT:
        if (n->nkids)
            gen(n->kids[rnd() % n->nkids], out, budget);
        break;
    case RS_RX_REPEAT: {
        uint32_t span = n->max == RS_RX_INF ? 3 : n->max - n->min;
        if (span > 3)
            span = 3;
        uint32_t times = n->min + rnd() % (span + 1);
        if (times > 50)
            times = 50;
        for (uint32_t i = 0; i < times; i++)
            gen(n->kids[0], out, budget);
        break;
    }
    case RS_RX_EMPTY:
        break;
    case RS_RX_ANY: {
        int k = (int)(rnd() % 3);
        for (int i = 0; i < k; i++)
            rs_buf_putc(out, (char)('a' + rnd() % 26));
        break;
    }
    }
}

/* ---- CRS regexes ---------------------------------------------------------------------------------------- */

typedef struct {
    char **items;
    size_t n, cap;
} strlist_t;

static void strlist_push(strlist_t *l, char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->items = realloc(l->items, l->cap * sizeof(char *));
        assert_non_null(l->items);
    }
    l->items[l->n++] = s;
}

static void strlist_free(strlist_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    rs_buf_t b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rs_buf_append(&b, chunk, n);
    fclose(f);
    rs_buf_reserve(&b, 0);
    b.base[b.len] = '\0';
    *len = b.len;
    return b.base;
}

/* Pulls the operator argument of every SecRule whose operator is @rx (negated or not). */
static void collect_rx_from_conf(const char *text, strlist_t *out)
{
    /* join continuation lines */
    rs_buf_t joined = {0};
    for (const char *p = text; *p; p++) {
        if (p[0] == '\\' && p[1] == '\n') {
            p++;
            continue;
        }
        rs_buf_putc(&joined, *p);
    }
    rs_buf_putc(&joined, '\0');
    const char *line = joined.base;
    while (*line) {
        const char *eol = strchr(line, '\n');
        if (eol == NULL)
            eol = line + strlen(line);
        const char *p = line;
        while (p < eol && (*p == ' ' || *p == '\t'))
            p++;
        if ((size_t)(eol - p) > 8 && strncmp(p, "SecRule", 7) == 0 && (p[7] == ' ' || p[7] == '\t')) {
            p += 7;
            while (p < eol && (*p == ' ' || *p == '\t'))
                p++;
            while (p < eol && *p != ' ' && *p != '\t') /* variables */
                p++;
            while (p < eol && (*p == ' ' || *p == '\t'))
                p++;
            if (p < eol && *p == '"') {
                const char *start = ++p;
                while (p < eol && *p != '"') {
                    if (*p == '\\' && p + 1 < eol)
                        p++;
                    p++;
                }
                const char *op = start;
                if (*op == '!')
                    op++;
                if ((size_t)(p - op) > 4 && strncmp(op, "@rx", 3) == 0 && (op[3] == ' ' || op[3] == '\t')) {
                    op += 4;
                    while (op < p && (*op == ' ' || *op == '\t'))
                        op++;
                    strlist_push(out, rs_strndup(op, (size_t)(p - op)));
                }
            }
        }
        line = *eol ? eol + 1 : eol;
    }
    rs_buf_free(&joined);
}

static int collect_crs(strlist_t *out)
{
    DIR *d = opendir(CRS_DIR);
    if (d == NULL)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t nl = strlen(e->d_name);
        if (nl < 5 || strcmp(e->d_name + nl - 5, ".conf") != 0)
            continue;
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", CRS_DIR, e->d_name);
        size_t len;
        char *text = slurp(path, &len);
        if (text == NULL)
            continue;
        collect_rx_from_conf(text, out);
        free(text);
    }
    closedir(d);
    return 0;
}

/* Decodes the JSON string starting just after its opening quote. */
static char *json_string(const char *p, const char **endp)
{
    rs_buf_t b = {0};
    while (*p && *p != '"') {
        if (*p == '\\' && p[1]) {
            p++;
            switch (*p) {
            case 'n':
                rs_buf_putc(&b, '\n');
                break;
            case 'r':
                rs_buf_putc(&b, '\r');
                break;
            case 't':
                rs_buf_putc(&b, '\t');
                break;
            case 'b':
                rs_buf_putc(&b, '\b');
                break;
            case 'f':
                rs_buf_putc(&b, '\f');
                break;
            case 'u': {
                unsigned v = 0;
                for (int i = 1; i <= 4 && p[i]; i++) {
                    char c = p[i];
                    v = v * 16 + (unsigned)(c >= 'a' ? c - 'a' + 10 : c >= 'A' ? c - 'A' + 10 : c - '0');
                }
                p += 4;
                if (v < 0x80) {
                    rs_buf_putc(&b, (char)v);
                } else if (v < 0x800) {
                    rs_buf_putc(&b, (char)(0xc0 | (v >> 6)));
                    rs_buf_putc(&b, (char)(0x80 | (v & 0x3f)));
                } else {
                    rs_buf_putc(&b, (char)(0xe0 | (v >> 12)));
                    rs_buf_putc(&b, (char)(0x80 | ((v >> 6) & 0x3f)));
                    rs_buf_putc(&b, (char)(0x80 | (v & 0x3f)));
                }
                break;
            }
            default:
                rs_buf_putc(&b, *p);
            }
            p++;
        } else {
            rs_buf_putc(&b, *p++);
        }
    }
    if (endp)
        *endp = p;
    rs_buf_reserve(&b, 0);
    b.base[b.len] = '\0';
    return b.base;
}

static int hexv(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static char *url_decode(const char *s)
{
    size_t n = strlen(s);
    char *o = malloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexv((unsigned char)s[i + 1]) >= 0 && hexv((unsigned char)s[i + 2]) >= 0) {
            o[k++] = (char)(hexv((unsigned char)s[i + 1]) * 16 + hexv((unsigned char)s[i + 2]));
            i += 2;
        } else if (s[i] == '+') {
            o[k++] = ' ';
        } else {
            o[k++] = s[i];
        }
    }
    o[k] = '\0';
    return o;
}

/* Values of the dev corpus (queries, bodies, paths; raw and URL-decoded, truncated to keep the test quick). */
static void collect_corpus(strlist_t *out)
{
    size_t len;
    char *text = slurp(DEV_CORPUS, &len);
    if (text == NULL)
        return;
    static const char *const keys[] = {"\"query\": \"", "\"body\": \"", "\"path\": \""};
    for (char *line = text; line && *line;) {
        char *eol = strchr(line, '\n');
        if (eol)
            *eol = '\0';
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
            const char *at = strstr(line, keys[k]);
            if (at == NULL)
                continue;
            char *v = json_string(at + strlen(keys[k]), NULL);
            if (strlen(v) > 16384)
                v[16384] = '\0';
            if (v[0] == '\0') {
                free(v);
                continue;
            }
            strlist_push(out, url_decode(v));
            strlist_push(out, v);
        }
        line = eol ? eol + 1 : NULL;
    }
    free(text);
}

typedef struct {
    pcre2_code *re;
    rs_str_t *lits;
    int n, nocase;
} checked_rx_t;

static int check_subject(const checked_rx_t *c, pcre2_match_data *md, const char *s, size_t len, const char *pattern)
{
    int rc = pcre2_match(c->re, (PCRE2_SPTR)s, len, 0, 0, md, NULL);
    if (rc < 0)
        return 0;
    if (!lits_occur(c->lits, c->n, c->nocase, s, len)) {
        fprintf(stderr, "UNSOUND: /%s/ matched \"%.*s\" but none of %d literals occurs (first: \"%.*s\")\n", pattern,
                (int)(len > 200 ? 200 : len), s, c->n, (int)c->lits[0].len, c->lits[0].base);
        return -1;
    }
    return 1;
}

static void test_crs_soundness(void **state)
{
    strlist_t rxs = {0}, corpus = {0};
    if (collect_crs(&rxs) != 0 || rxs.n == 0)
        skip();
    collect_corpus(&corpus);
    pcre2_match_data *md = pcre2_match_data_create(10, NULL);
    size_t with_set = 0, failures = 0, gen_matches = 0, corpus_matches = 0, min3 = 0;
    for (size_t i = 0; i < rxs.n; i++) {
        const char *pattern = rxs.items[i];
        if (strstr(pattern, "%{") != NULL)
            continue;
        checked_rx_t c = {0};
        c.n = rs_rx_required_literals(pattern, strlen(pattern), &c.lits, &c.nocase);
        if (c.n < 0)
            continue;
        with_set++;
        int shortest = 1 << 30;
        for (int k = 0; k < c.n; k++)
            if ((int)c.lits[k].len < shortest)
                shortest = (int)c.lits[k].len;
        min3 += shortest >= 3;
        int errcode;
        PCRE2_SIZE erroff;
        c.re = pcre2_compile((PCRE2_SPTR)pattern, strlen(pattern), PCRE2_DOTALL | PCRE2_MULTILINE, &errcode, &erroff, NULL);
        assert_non_null(c.re);
        pcre2_jit_compile(c.re, PCRE2_JIT_COMPLETE);
        /* generated strings, alone and embedded in noise */
        rs_rx_node_t *tree = rs_rx_parse(pattern, strlen(pattern), 0, NULL);
        assert_non_null(tree);
        for (int g = 0; g < 300; g++) {
            rs_buf_t b = {0};
            if (g & 1)
                rs_buf_append(&b, "xx ", 3);
            gen(tree, &b, 0);
            if (g & 2)
                rs_buf_append(&b, " yy", 3);
            int r = check_subject(&c, md, b.base ? b.base : "", b.len, pattern);
            failures += r < 0;
            gen_matches += r > 0;
            rs_buf_free(&b);
        }
        rs_rx_free(tree);
        for (size_t v = 0; v < corpus.n; v++) {
            int r = check_subject(&c, md, corpus.items[v], strlen(corpus.items[v]), pattern);
            failures += r < 0;
            corpus_matches += r > 0;
        }
        pcre2_code_free(c.re);
        rs_op_literals_free(c.lits, c.n);
    }
    printf("CRS @rx: %zu regexes, %zu with a literal set (%zu with all literals >= 3 bytes); checked %zu generated "
           "and %zu corpus matches; %zu unsound\n",
           rxs.n, with_set, min3, gen_matches, corpus_matches, failures);
    pcre2_match_data_free(md);
    strlist_free(&rxs);
    strlist_free(&corpus);
    assert_int_equal(failures, 0);
    assert_true(with_set > rxs.n / 2);
}

/* ---- random small regexes against random subjects -------------------------------------------------- */

static void rand_regex(rs_buf_t *b, int depth);

static void rand_atom(rs_buf_t *b, int depth)
{
    static const char *const atoms[] = {"a",           "b",           "A",           "B",
                                        "-",           "\\.",         "ab",          "ba",
                                        "[ab]",        "[^a]",        "[a-c]",       "[aA]",
                                        "\\d",         "\\w",         "\\s",         "\\b",
                                        "^",           "$",           ".",           "\\x41",
                                        "\\Qa.\\E",    "(?i)",        "(?-i)",       "\\B",
                                        "[[:alpha:]]", "\\1",         "[\\-b]",      "\\n",
                                        "(?<=a)",      "(?<!b)",      "\\Z",         "\\z",
                                        "\\A",         "(?<n>a)",     "(?|a|b)",     "\\x{62}",
                                        "[]a]",        "[^]a]",       "[a-]",        "\\h",
                                        "\\v",         "\\R",         "\\N",         "[[:^alpha:]]",
                                        "(?s)",        "(?m)",        "(?U)",        "\\K",
                                        "\\cA",        "a{,2}",       "{",           "}",
                                        "x{2",         "(?#c)",       "[\\w-]",      "\\G",
                                        "(?P<x>b)",    "(?P=x)",      "\\01",        "[\\x41-\\x43]",
                                        "(?i)[a-b]",   "\\E",         "\\Q\\E",      "\\g{-1}",
                                        "(?1)",        "[[:upper:]]", "[[:lower:]]", "[^[:lower:]]"};
    uint32_t r = rnd() % 75;
    if (depth < 3 && r >= 68) {
        static const char *const open[] = {"(", "(?:", "(?i:", "(?=", "(?!", "(?>", "(?-i:"};
        rs_buf_append(b, open[r - 68], strlen(open[r - 68]));
        rand_regex(b, depth + 1);
        rs_buf_putc(b, ')');
        return;
    }
    const char *a = atoms[r % (sizeof(atoms) / sizeof(atoms[0]))];
    rs_buf_append(b, a, strlen(a));
}

static void rand_regex(rs_buf_t *b, int depth)
{
    int branches = 1 + (int)(rnd() % 3);
    for (int br = 0; br < branches; br++) {
        if (br)
            rs_buf_putc(b, '|');
        int atoms = (int)(rnd() % 5);
        for (int i = 0; i < atoms; i++) {
            rand_atom(b, depth);
            static const char *const quant[] = {"", "", "", "?", "*", "+", "{2}", "{1,2}", "{0,1}", "{2,}", "??", "+?", "{0}"};
            const char *q = quant[rnd() % (sizeof(quant) / sizeof(quant[0]))];
            const char *last = b->base + b->len - 1;
            if (*last != '(' && *last != '|' && *last != ')' && *last != ':' && *last != '^' && *last != '$')
                rs_buf_append(b, q, strlen(q));
        }
    }
}

static void test_random_regexes(void **state)
{
    static const char alphabet[] = "abAB-.1 \nc{},2]\x01x";
    pcre2_match_data *md = pcre2_match_data_create(4, NULL);
    size_t tried = 0, with_set = 0, matches = 0;
    for (int round = 0; round < 20000; round++) {
        rs_buf_t b = {0};
        rand_regex(&b, 0);
        rs_buf_putc(&b, '\0');
        const char *pattern = b.base;
        int errcode;
        PCRE2_SIZE erroff;
        pcre2_code *re =
            pcre2_compile((PCRE2_SPTR)pattern, strlen(pattern), PCRE2_DOTALL | PCRE2_MULTILINE, &errcode, &erroff, NULL);
        if (re == NULL) {
            rs_buf_free(&b);
            continue;
        }
        tried++;
        checked_rx_t c = {re, NULL, 0, 0};
        c.n = rs_rx_required_literals(pattern, strlen(pattern), &c.lits, &c.nocase);
        if (c.n >= 0) {
            with_set++;
            rs_rx_node_t *tree = rs_rx_parse(pattern, strlen(pattern), 0, NULL);
            assert_non_null(tree);
            for (int k = 0; k < 30; k++) {
                char subj[16];
                size_t len = rnd() % sizeof(subj);
                for (size_t i = 0; i < len; i++)
                    subj[i] = alphabet[rnd() % (sizeof(alphabet) - 1)];
                int r = check_subject(&c, md, subj, len, pattern);
                assert_true(r >= 0);
                matches += r > 0;
                rs_buf_t g = {0};
                gen(tree, &g, 0);
                r = check_subject(&c, md, g.base ? g.base : "", g.len, pattern);
                assert_true(r >= 0);
                matches += r > 0;
                rs_buf_free(&g);
            }
            rs_rx_free(tree);
            rs_op_literals_free(c.lits, c.n);
        }
        pcre2_code_free(re);
        rs_buf_free(&b);
    }
    printf("random regexes: %zu compiled, %zu with a literal set, %zu matches checked\n", tried, with_set, matches);
    pcre2_match_data_free(md);
    assert_true(with_set > tried / 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expected_sets),
        cmocka_unit_test(test_crs_soundness),
        cmocka_unit_test(test_random_regexes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
