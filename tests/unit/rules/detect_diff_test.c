/* SPDX-License-Identifier: MIT */
/* Differential test of the optimised @detectSQLi / @detectXSS against frozen copies of the detectors as they were
 * before the optimisation (detect_oracle_*.c): every corpus value, every string literal of detect_test.c, the fuzz
 * seeds and a few hundred thousand generated strings (random bytes, SQL and HTML token soups, mutated values) must
 * get the same verdict, and the same SQLi fingerprint when it fires. Also prints a rough speed figure. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "operator/detect.h"
#include "util/util.h"

/* The oracles are test-only copies of the old code; their functions are static and renamed (oracle_*). */
#include "detect_oracle_sqli.c"
#include "detect_oracle_xss.c"

/* From operator/detect_sqli_words.h, whose enum and types clash with the oracle's frozen copies. */
int sql_word_table_check(void);

#define MAX_VALUE    4096
#define MAX_REPORTED 10

typedef struct {
    unsigned long compared;
    unsigned long differences;
    unsigned long sqli_hits, xss_hits;
} diff_stats;

static diff_stats stats;

static void print_escaped(const char *s, size_t len)
{
    for (size_t i = 0; i < len && i < 200; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            putchar(c);
        else
            printf("\\x%02x", c);
    }
}

/* Runs old and new detectors on one string; counts and reports any difference. */
static void compare_one(const char *s, size_t len)
{
    char fp_old[16] = "", fp_new[16] = "";
    int sqli_old = oracle_detect_sqli(s, len, fp_old);
    int sqli_new = rs_detect_sqli(s, len, fp_new);
    int xss_old = oracle_detect_xss(s, len);
    int xss_new = rs_detect_xss(s, len);
    stats.compared++;
    stats.sqli_hits += (unsigned long)sqli_old;
    stats.xss_hits += (unsigned long)xss_old;
    int differs = sqli_old != sqli_new || (sqli_old && strcmp(fp_old, fp_new) != 0) || xss_old != xss_new;
    if (!differs)
        return;
    if (stats.differences++ < MAX_REPORTED) {
        printf("DIFF sqli %d/%d fp '%s'/'%s' xss %d/%d on \"", sqli_old, sqli_new, fp_old, fp_new, xss_old, xss_new);
        print_escaped(s, len);
        printf("\"\n");
    }
}

/* ---- deterministic generator ---- */

static uint64_t rng_state;

static uint32_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static size_t rng_below(size_t n)
{
    return n ? rng_next() % n : 0;
}

/* ---- collected values (corpus, literals, seeds), reused as mutation material ---- */

#define POOL_CAP 200000

static char **pool;
static size_t *pool_len;
static size_t pool_count;

static void pool_add(const char *s, size_t len)
{
    if (len > MAX_VALUE)
        len = MAX_VALUE;
    compare_one(s, len);
    if (pool_count >= POOL_CAP)
        return;
    char *copy = malloc(len + 1);
    assert_non_null(copy);
    memcpy(copy, s, len);
    copy[len] = '\0';
    pool[pool_count] = copy;
    pool_len[pool_count] = len;
    pool_count++;
}

static void pool_free(void)
{
    for (size_t i = 0; i < pool_count; i++)
        free(pool[i]);
    pool_count = 0;
}

/* The whole file (caller frees), or NULL when it cannot be read. */
static char *read_file(const char *path, size_t *len_out)
{
    rs_buf_t b = {0};
    *len_out = 0;
    if (rs_read_file(path, 0, &b) != 0) {
        rs_buf_free(&b);
        return NULL;
    }
    *len_out = b.len;
    return b.base;
}

/* Adds a value, its URL-decoded form, and its parts split at '&', '=' and ';' (query strings, cookies). */
static void add_value_and_parts(const char *s, size_t len)
{
    pool_add(s, len);
    static char decoded[MAX_VALUE];
    size_t n = 0;
    for (size_t i = 0; i < len && n < sizeof(decoded); i++) {
        if (s[i] == '%' && i + 2 < len && rs_hex_value(s[i + 1]) >= 0 && rs_hex_value(s[i + 2]) >= 0) {
            decoded[n++] = (char)(rs_hex_value(s[i + 1]) * 16 + rs_hex_value(s[i + 2]));
            i += 2;
        } else {
            decoded[n++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    if (n != len || memcmp(decoded, s, len) != 0)
        pool_add(decoded, n);
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || decoded[i] == '&' || decoded[i] == '=' || decoded[i] == ';') {
            if (i > start && (start > 0 || i < n))
                pool_add(decoded + start, i - start);
            start = i + 1;
        }
    }
}

/* Every JSON string of a corpus line (keys included), unescaped, plus its parts. */
static void add_json_strings(const char *line, size_t len)
{
    static char value[MAX_VALUE];
    for (size_t i = 0; i < len; i++) {
        if (line[i] != '"')
            continue;
        size_t n = 0;
        i++;
        while (i < len && line[i] != '"') {
            char c = line[i++];
            if (c == '\\' && i < len) {
                char e = line[i++];
                if (e == 'u' && i + 4 <= len) {
                    unsigned long cp = 0;
                    for (int k = 0; k < 4; k++)
                        cp = cp * 16 +
                             (unsigned long)(rs_hex_value(line[i + (size_t)k]) < 0 ? 0 : rs_hex_value(line[i + (size_t)k]));
                    i += 4;
                    if (n + 3 < sizeof(value))
                        n += rs_utf8_encode(value + n, (unsigned)cp);
                    continue;
                }
                c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b' : e == 'f' ? '\f' : e;
            }
            if (n < sizeof(value))
                value[n++] = c;
        }
        add_value_and_parts(value, n);
    }
}

static void add_corpus(void)
{
    char path[1024];
    const char *env = getenv("EP_DETECT_CORPUS");
    snprintf(path, sizeof(path), "%s", env ? env : EP_SOURCE_DIR "/../shared/bench/detect/data/dev.jsonl");
    size_t len;
    char *data = read_file(path, &len);
    if (!data) {
        printf("corpus %s absent: skipped\n", path);
        return;
    }
    unsigned long before = stats.compared;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || data[i] == '\n') {
            add_json_strings(data + start, i - start);
            start = i + 1;
        }
    }
    free(data);
    printf("corpus: %lu values compared\n", stats.compared - before);
}

/* Every string literal (adjacent literals joined) of the golden test file. */
static void add_test_literals(void)
{
    size_t len;
    char *src = read_file(EP_SOURCE_DIR "/tests/unit/rules/detect_test.c", &len);
    assert_non_null(src);
    unsigned long before = stats.compared;
    static char value[MAX_VALUE];
    size_t i = 0;
    while (i < len) {
        if (src[i] == '\'' && i + 2 < len) { /* character constants such as '"' */
            i += src[i + 1] == '\\' ? 4 : 3;
            continue;
        }
        if (src[i] != '"') {
            i++;
            continue;
        }
        size_t n = 0;
        while (i < len && src[i] == '"') {
            i++;
            while (i < len && src[i] != '"') {
                char c = src[i++];
                if (c == '\\' && i < len) {
                    char e = src[i++];
                    if (e == 'x') {
                        int v = 0;
                        while (i < len && rs_hex_value(src[i]) >= 0)
                            v = v * 16 + rs_hex_value(src[i++]);
                        c = (char)v;
                    } else if (e >= '0' && e <= '7') {
                        int v = e - '0';
                        for (int k = 0; k < 2 && i < len && src[i] >= '0' && src[i] <= '7'; k++)
                            v = v * 8 + (src[i++] - '0');
                        c = (char)v;
                    } else {
                        c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'v' ? '\v' : e == 'f' ? '\f' : e;
                    }
                }
                if (n < sizeof(value))
                    value[n++] = c;
            }
            i++;
            while (i < len && (src[i] == ' ' || src[i] == '\n' || src[i] == '\t'))
                i++;
        }
        pool_add(value, n);
    }
    free(src);
    printf("detect_test.c literals: %lu compared\n", stats.compared - before);
    assert_true(stats.compared - before > 100);
}

static void add_fuzz_seeds(const char *name)
{
    char dir_path[1024];
    snprintf(dir_path, sizeof(dir_path), "%s/fuzz/corpus/%s", EP_SOURCE_DIR, name);
    DIR *dir = opendir(dir_path);
    assert_non_null(dir);
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[2048];
        snprintf(path, sizeof(path), "%s/%s", dir_path, e->d_name);
        size_t len;
        char *data = read_file(path, &len);
        if (data) {
            pool_add(data, len);
            free(data);
        }
    }
    closedir(dir);
}

/* ---- generated strings ---- */

static const char *const sql_pieces[] = {
    "'",
    "\"",
    "`",
    "\\",
    "\\'",
    " ",
    "  ",
    "\t",
    "\n",
    "--",
    "-- ",
    "#",
    "/*",
    "*/",
    "/*!",
    "/*!50000",
    "(",
    ")",
    ",",
    ";",
    "=",
    "==",
    "<>",
    "!=",
    "<=>",
    "<",
    ">",
    "+",
    "-",
    "*",
    "/",
    "%",
    "|",
    "||",
    "&&",
    "::",
    ":=",
    "->",
    "->>",
    "#>",
    "@>",
    "<@",
    "?|",
    "@",
    "@@",
    "@x",
    "1",
    "0",
    "1.5",
    "1e1",
    "0x1f",
    ".5",
    "1st",
    "x",
    "a.b",
    "users",
    "select",
    "SELECT",
    "union",
    "UNION",
    "all",
    "from",
    "where",
    "and",
    "or",
    "OR",
    "not",
    "is",
    "in",
    "like",
    "null",
    "true",
    "order",
    "by",
    "group",
    "having",
    "limit",
    "into",
    "outfile",
    "drop",
    "table",
    "insert",
    "values",
    "update",
    "set",
    "delete",
    "exec",
    "xp_cmdshell",
    "declare",
    "waitfor",
    "delay",
    "sleep",
    "benchmark",
    "if",
    "char",
    "concat",
    "information_schema.tables",
    "as",
    "case",
    "when",
    "then",
    "end",
    "shutdown",
    "N'",
    "x'",
    "e'",
    "admin",
    "name",
    "email",
    "version",
    "user",
    "count",
    "exists",
    "between",
    "div",
    "xor",
    "replace",
    "time",
};

static const char *const html_pieces[] = {
    "<",
    ">",
    "</",
    "<?",
    "/",
    "=",
    "\"",
    "'",
    "`",
    " ",
    "\t",
    "\n",
    "&",
    "&#",
    "&#x",
    "&lt;",
    "&colon;",
    "&#106;",
    "&#x6a",
    ";",
    ":",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ".",
    ",",
    "!",
    "+",
    "+ADw-",
    "\\",
    "\\u0061",
    "\\u{61}",
    "/*",
    "*/",
    "\xef\xbc\x9c",
    "script",
    "SCRIPT",
    "img",
    "svg",
    "iframe",
    "a",
    "x:script",
    "src",
    "href",
    "onerror",
    "onload",
    "onclick",
    "onfoo",
    "style",
    "srcdoc",
    "javascript:",
    "JaVaScRiPt",
    "vbscript:",
    "data:text/html",
    "expression(",
    "url(",
    "-moz-binding:",
    "behavior:",
    "alert",
    "confirm",
    "prompt",
    "eval",
    "Function",
    "new",
    "document",
    "cookie",
    "window",
    "self",
    "top",
    "call",
    "apply",
    "fromCharCode",
    "constructor",
    "setTimeout",
    "1",
    "x",
    "body",
    "?.",
    "${",
    "[]",
    "![]",
    "+[]",
    "javascript&colon;",
    "atob",
    "content",
    "execScript",
    "frames",
    "globalThis",
    "importScripts",
    "parent",
    "this",
    "setInterval",
    "setImmediate",
    "document.cookie",
    "self[",
    "top[",
    "(",
    ".call`",
    "alert`1`",
    "\\u0061lert",
    "java\tscript",
    "mocha:",
    "livescript:",
    "data:image/svg",
    "url(vbscript",
    "behavior:url(",
    "/**/javascript:",
    "DATA:TEXT/XML",
    ":expression(",
};

/* Values made of the bytes and words the detectors' early exits accept, plus the ones at their edges (one '=',
 * words after numbers, NBSP, "--", "->", a block comment opener, "::", ":="), so that the exits are exercised on both sides. */
static const char *const plain_pieces[] = {
    " ",      "  ",     "\xa0",   "\t",        "\x01",      "\x7f",     ".",
    ",",      ";",      ":",      "::",        ":=",        "-",        "--",
    "->",     "/",      "/*",     "*",         "+",         "%",        "=",
    "==",     "@",      "@a",     "[",         "]",         "{",        "}",
    "\\",     "1",      "12",     "1.5",       ".5",        "1e",       "1e5",
    "0x1f",   "1else",  "2union", "\xa0union", "\xa0order", "1.5e3",    "e",
    "x",      "abc",    "json",   "order",     "by",        "group",    "from",
    "where",  "into",   "values", "set",       "limit",     "waitfor",  "delay",
    "time",   "as",     "null",   "true",      "false",     "NULL",     "union",
    "select", "and",    "or",     "like",      "in",        "is",       "not",
    "having", "sleep",  "user",   "count",     "left",      "a.b",      "x.union",
    "sku",    "Blue",   "cotton", "maria",     "example",   "com",      "AB",
    "-1",     "_id",    "$x",     "\xc3\xa9",  "asc",       "desc",     "table",
    "exists", "if",     "case",   "end",       "top",       "all",      "distinct",
    "#",      "#-",     "*/",     "/**/",      "\n",        "3f1c",     "1e1",
    "0x1",    "x=",     "=1",     "@a=",       "(",         ")",        "((",
    "))",     "count(", "concat", "if",        "exists",    "database", "utl_http.request",
    "x.y",    "5.0",    "1)",     "(1",        "Linux",
};

static size_t soup(char *out, size_t cap, const char *const *pieces, size_t count)
{
    size_t n = 0;
    size_t parts = 1 + rng_below(12);
    for (size_t p = 0; p < parts; p++) {
        const char *piece = pieces[rng_below(count)];
        size_t m = strlen(piece);
        if (n + m > cap)
            break;
        memcpy(out + n, piece, m);
        n += m;
    }
    return n;
}

/* Short sequences of plain pieces, mostly separated by a space, as values are written. */
static size_t plain_soup(char *out, size_t cap)
{
    size_t n = 0;
    size_t parts = 1 + rng_below(6);
    for (size_t p = 0; p < parts; p++) {
        const char *piece = plain_pieces[rng_below(sizeof(plain_pieces) / sizeof(plain_pieces[0]))];
        size_t m = strlen(piece);
        if (n + m + 1 > cap)
            break;
        if (p > 0 && rng_below(4) != 0)
            out[n++] = ' ';
        memcpy(out + n, piece, m);
        n += m;
    }
    return n;
}

static size_t random_bytes(char *out, size_t cap)
{
    /* mostly printable ASCII, with the occasional control or high byte */
    size_t n = rng_below(cap < 48 ? cap : 48);
    for (size_t i = 0; i < n; i++) {
        uint32_t r = rng_next();
        out[i] = (r & 7) == 0 ? (char)(r >> 8) : (char)(0x20 + (r >> 8) % 95);
    }
    return n;
}

static size_t mutate(char *out, size_t cap, const char *src, size_t len)
{
    size_t n = len < cap ? len : cap;
    memcpy(out, src, n);
    size_t edits = 1 + rng_below(4);
    for (size_t e = 0; e < edits; e++) {
        size_t at = rng_below(n + 1);
        switch (rng_below(5)) {
        case 0: /* replace a byte */
            if (n)
                out[rng_below(n)] = (char)rng_next();
            break;
        case 1: /* delete a byte */
            if (at < n) {
                memmove(out + at, out + at + 1, n - at - 1);
                n--;
            }
            break;
        case 2: { /* insert an SQL or HTML piece */
            const char *piece = rng_below(2) ? sql_pieces[rng_below(sizeof(sql_pieces) / sizeof(sql_pieces[0]))]
                                             : html_pieces[rng_below(sizeof(html_pieces) / sizeof(html_pieces[0]))];
            size_t m = strlen(piece);
            if (n + m <= cap) {
                memmove(out + at + m, out + at, n - at);
                memcpy(out + at, piece, m);
                n += m;
            }
            break;
        }
        case 3: /* cut the tail */
            n = at;
            break;
        default: { /* splice in part of another pool value */
            if (pool_count == 0)
                break;
            size_t other = rng_below(pool_count);
            size_t from = rng_below(pool_len[other] + 1);
            size_t m = rng_below(pool_len[other] - from + 1);
            if (m > 64)
                m = 64;
            if (n + m <= cap) {
                memmove(out + at + m, out + at, n - at);
                memcpy(out + at, pool[other] + from, m);
                n += m;
            }
            break;
        }
        }
    }
    return n;
}

#define GENERATED_PER_KIND 45000

static void test_word_index_is_complete(void **state)
{
    (void)state;
    assert_int_equal(sql_word_table_check(), 1);
}

static void test_same_verdicts(void **state)
{
    (void)state;
    pool = calloc(POOL_CAP, sizeof(*pool));
    pool_len = calloc(POOL_CAP, sizeof(*pool_len));
    assert_non_null(pool);
    assert_non_null(pool_len);
    memset(&stats, 0, sizeof(stats));

    add_corpus();
    add_test_literals();
    add_fuzz_seeds("detect_sqli");
    add_fuzz_seeds("detect_xss");

    unsigned long before = stats.compared;
    static char buf[MAX_VALUE];
    rng_state = 0x9e3779b97f4a7c15ull;
    for (int k = 0; k < GENERATED_PER_KIND; k++) {
        size_t n = random_bytes(buf, sizeof(buf));
        compare_one(buf, n);
        n = soup(buf, sizeof(buf), sql_pieces, sizeof(sql_pieces) / sizeof(sql_pieces[0]));
        compare_one(buf, n);
        n = soup(buf, sizeof(buf), html_pieces, sizeof(html_pieces) / sizeof(html_pieces[0]));
        compare_one(buf, n);
        n = soup(buf, sizeof(buf), plain_pieces, sizeof(plain_pieces) / sizeof(plain_pieces[0]));
        compare_one(buf, n);
        n = plain_soup(buf, sizeof(buf));
        compare_one(buf, n);
        if (pool_count) {
            size_t pick = rng_below(pool_count);
            n = mutate(buf, sizeof(buf), pool[pick], pool_len[pick]);
            compare_one(buf, n);
        }
    }
    /* every sequence of up to three plain pieces separated by a space, and every pair joined directly (also before a third piece)
     */
    enum { PLAIN = sizeof(plain_pieces) / sizeof(plain_pieces[0]) };
    for (size_t a = 0; a < PLAIN; a++) {
        for (size_t b = 0; b < PLAIN; b++) {
            int n = snprintf(buf, sizeof(buf), "%s%s", plain_pieces[a], plain_pieces[b]);
            compare_one(buf, (size_t)n);
            for (size_t c = 0; c < PLAIN; c++) {
                n = snprintf(buf, sizeof(buf), "%s %s %s", plain_pieces[a], plain_pieces[b], plain_pieces[c]);
                compare_one(buf, (size_t)n);
                n = snprintf(buf, sizeof(buf), "%s%s %s", plain_pieces[a], plain_pieces[b], plain_pieces[c]);
                compare_one(buf, (size_t)n);
            }
        }
    }
    /* nested parameters and tautologies: "W = V = V" with every kind of value and separator */
    static const char *const eq_names[] = {
        "x",        "a.b",       "count",  "order", "1",    "null", "@a",    "",       "x y",   "information_schema",
        "x-1",      "x - 1",     "x+1",    "x*2",   "x/2",  "x%2",  "x-1-1", "x - -1", "x.y-1", "x-y",
        "x-/**/1",  "x - y - 1", "x-null", "x-.5",  "x-@a", "x--1", "x-1x",  "x*-1",   "x-e1",  "x-/*y*/1",
        "x- --y\n1"};
    static const char *const eq_values[] = {"1",  "12", "1.5", ".5",   "1e5",  "1e+5", "1e",  "1ex", "3f1c",   "0x1f", "0b1",
                                            "-1", "+1", "x",   "null", "true", "@a",   "@@a", "a.b", "1\xa0x", "$x",   "_x"};
    static const char *const eq_seps[] = {"", " ", "/**/", "#\n", "--\n", "\xa0", "="};
    enum {
        NAMES = sizeof(eq_names) / sizeof(eq_names[0]),
        VALUES = sizeof(eq_values) / sizeof(eq_values[0]),
        SEPS = sizeof(eq_seps) / sizeof(eq_seps[0])
    };
    for (size_t w = 0; w < NAMES; w++)
        for (size_t v = 0; v < VALUES; v++)
            for (size_t a = 0; a < SEPS; a++)
                for (size_t b = 0; b < SEPS; b++)
                    for (size_t c = 0; c < SEPS; c++) {
                        const char *other = eq_values[(v + c) % VALUES];
                        int n = snprintf(buf, sizeof(buf), "%s%s=%s%s%s=%s", eq_names[w], eq_seps[a], eq_seps[b], eq_values[v],
                                         eq_seps[c], eq_values[v]);
                        compare_one(buf, (size_t)n);
                        n = snprintf(buf, sizeof(buf), "%s%s=%s%s%s=%s%s", eq_names[w], eq_seps[a], eq_seps[b], eq_values[v],
                                     eq_seps[c], other, eq_seps[a]);
                        compare_one(buf, (size_t)n);
                    }
    printf("generated: %lu compared\n", stats.compared - before);
    printf("total: %lu strings compared, %lu differences (old verdicts: %lu sqli, %lu xss hits)\n", stats.compared,
           stats.differences, stats.sqli_hits, stats.xss_hits);
    pool_free();
    free(pool);
    free(pool_len);
    assert_true(stats.compared >= 200000);
    assert_true(stats.sqli_hits > 1000 && stats.xss_hits > 1000); /* the generators do reach the detectors' rules */
    assert_int_equal(stats.differences, 0);
}

/* A printed figure only: timings on a shared machine are not asserted. */
static void test_speed_figure(void **state)
{
    (void)state;
    static const char *const benign[] = {"json.order.items.array_12.sku",
                                         "Blue cotton shirt",
                                         "maria.garcia@example.com",
                                         "19.99",
                                         "AB-1234",
                                         "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                                         "en-US,en;q=0.5",
                                         "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                                         "session=3f1c2a9be7d44c1e8e0f; theme=dark"};
    enum { ROUNDS = 2000, COUNT = sizeof(benign) / sizeof(benign[0]) };
    double ns[4] = {0};
    for (int which = 0; which < 4; which++) {
        struct timespec a, b;
        int hits = 0;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (int r = 0; r < ROUNDS; r++) {
            for (size_t k = 0; k < COUNT; k++) {
                size_t len = strlen(benign[k]);
                char fp[16];
                hits += which == 0   ? oracle_detect_sqli(benign[k], len, fp)
                        : which == 1 ? rs_detect_sqli(benign[k], len, fp)
                        : which == 2 ? oracle_detect_xss(benign[k], len)
                                     : rs_detect_xss(benign[k], len);
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        assert_int_equal(hits, 0);
        ns[which] = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / (ROUNDS * COUNT);
    }
    printf("benign ns/call (this build): sqli %.0f -> %.0f, xss %.0f -> %.0f\n", ns[0], ns[1], ns[2], ns[3]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_word_index_is_complete),
        cmocka_unit_test(test_same_verdicts),
        cmocka_unit_test(test_speed_figure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
