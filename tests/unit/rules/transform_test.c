/* SPDX-License-Identifier: MIT */
/* Transformation tests: replays the golden vectors in tests/vectors/transform/ (expected values taken from
 * libmodsecurity 3.0.9) and checks lookup, the "changed" result, hashes and buffer reuse.
 *
 * Vector format, one file per transformation named <transformation>.txt (name as rs_transform_lookup takes it):
 *   # comment lines, only before the first block
 *   --TEST-- free text describing the case
 *   --INPUT--
 *   <one line: the input value>
 *   --EXPECTED--
 *   <one line: the value ModSecurity produces>
 * Values are single lines; "\\" stands for a backslash and "\xHH" for any byte (NUL, newline, non-ASCII).
 * The expected "changed" result is derived: 1 exactly when EXPECTED differs from INPUT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transform/transform.h"

#define VECTOR_DIR EP_SOURCE_DIR "/tests/vectors/transform"

/* Transformations the Core Rule Set uses: each needs a solid set of vectors. */
static const char *const crs_transforms[] = {
    "urlDecodeUni",     "htmlEntityDecode", "jsDecode",        "cssDecode",     "cmdLine",          "compressWhitespace",
    "removeWhitespace", "removeNulls",      "replaceComments", "normalizePath", "normalizePathWin", "base64Decode",
    "hexEncode",        "lowercase",        "utf8toUnicode",   "sha1",          "length",           "urlDecode",
};

static int hex_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (c | 0x20) - 'a' + 10;
    return -1;
}

/* Decodes a vector value into buf; returns its length or -1 on a malformed escape. */
static long unescape(const char *s, size_t n, char *buf)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            buf[o++] = s[i];
            continue;
        }
        if (i + 1 < n && s[i + 1] == '\\') {
            buf[o++] = '\\';
            i++;
        } else if (i + 3 < n && s[i + 1] == 'x' && hex_nibble(s[i + 2]) >= 0 && hex_nibble(s[i + 3]) >= 0) {
            buf[o++] = (char)(hex_nibble(s[i + 2]) * 16 + hex_nibble(s[i + 3]));
            i += 3;
        } else {
            return -1;
        }
    }
    return (long)o;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *data = malloc((size_t)n + 1);
    assert_non_null(data);
    *len = fread(data, 1, (size_t)n, fp);
    data[*len] = '\0';
    fclose(fp);
    return data;
}

/* Next line of text starting at *pos (without its newline). Returns 0 at the end of the text. */
static int next_line(const char *text, size_t len, size_t *pos, const char **line, size_t *line_len)
{
    if (*pos >= len)
        return 0;
    const char *start = text + *pos;
    const char *nl = memchr(start, '\n', len - *pos);
    size_t n = nl != NULL ? (size_t)(nl - start) : len - *pos;
    *line = start;
    *line_len = n;
    *pos += n + (nl != NULL);
    return 1;
}

static int line_is(const char *line, size_t n, const char *marker)
{
    size_t m = strlen(marker);
    return n >= m && memcmp(line, marker, m) == 0;
}

typedef struct {
    const char *file;
    int id;
    rs_buf_t out;
    int cases;
} vector_run_t;

static void check_case(vector_run_t *run, const char *name, size_t name_len, const char *in, size_t in_len, const char *exp,
                       size_t exp_len)
{
    /* Twice through the same buffer: a reused, already grown buffer must give the same answer. */
    for (int round = 0; round < 2; round++) {
        int changed = rs_transform_apply(run->id, rs_str(in, in_len), &run->out);
        const char *got = changed ? run->out.base : in;
        size_t got_len = changed ? run->out.len : in_len;
        int expect_changed = exp_len != in_len || memcmp(exp, in, in_len) != 0;
        if (got_len != exp_len || memcmp(got, exp, exp_len) != 0 || changed != expect_changed)
            fail_msg("%s: \"%.*s\": got %zu bytes (changed=%d), expected %zu bytes (changed=%d)", run->file, (int)name_len, name,
                     got_len, changed, exp_len, expect_changed);
        if (changed)
            assert_int_equal(run->out.base[run->out.len], '\0');
        else
            assert_int_equal(run->out.len == 0 || (run->out.len == in_len && memcmp(run->out.base, in, in_len) == 0), 1);
    }
    run->cases++;
}

static int run_vector_file(const char *dir, const char *file, rs_buf_t *out)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    size_t len = 0;
    char *text = read_file(path, &len);
    assert_non_null(text);

    size_t base_len = strlen(file) - 4; /* strip ".txt" */
    vector_run_t run = {file, rs_transform_lookup(rs_str(file, base_len)), *out, 0};
    if (run.id <= RS_TRANSFORM_NONE)
        fail_msg("%s: file name is not a transformation", file);

    char *in = malloc(len + 1), *exp = malloc(len + 1);
    assert_non_null(in);
    assert_non_null(exp);
    size_t pos = 0, line_len = 0;
    const char *line = NULL;
    while (next_line(text, len, &pos, &line, &line_len)) {
        if (line_len == 0 || line[0] == '#')
            continue;
        if (!line_is(line, line_len, "--TEST--"))
            fail_msg("%s: expected --TEST--, got \"%.*s\"", file, (int)line_len, line);
        const char *name = line + 8;
        size_t name_len = line_len - 8;
        const char *in_line = NULL, *exp_line = NULL, *marker = NULL;
        size_t in_line_len = 0, exp_line_len = 0, marker_len = 0;
        if (!next_line(text, len, &pos, &marker, &marker_len) || !line_is(marker, marker_len, "--INPUT--") ||
            !next_line(text, len, &pos, &in_line, &in_line_len) || !next_line(text, len, &pos, &marker, &marker_len) ||
            !line_is(marker, marker_len, "--EXPECTED--") || !next_line(text, len, &pos, &exp_line, &exp_line_len))
            fail_msg("%s: \"%.*s\": incomplete block", file, (int)name_len, name);
        long in_n = unescape(in_line, in_line_len, in);
        long exp_n = unescape(exp_line, exp_line_len, exp);
        if (in_n < 0 || exp_n < 0)
            fail_msg("%s: \"%.*s\": bad escape", file, (int)name_len, name);
        check_case(&run, name, name_len, in, (size_t)in_n, exp, (size_t)exp_n);
    }
    *out = run.out;
    free(in);
    free(exp);
    free(text);
    return run.cases;
}

static void test_golden_vectors(void **state)
{
    (void)state;
    DIR *d = opendir(VECTOR_DIR);
    assert_non_null(d);
    int per_id[64] = {0};
    assert_true(rs_transform_count() <= 64);
    rs_buf_t out = {0};
    int files = 0, total = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".txt") != 0)
            continue;
        int cases = run_vector_file(VECTOR_DIR, e->d_name, &out);
        per_id[rs_transform_lookup(rs_str(e->d_name, n - 4))] += cases;
        total += cases;
        files++;
    }
    closedir(d);
    rs_buf_free(&out);
    /* Every transformation has vectors; the ones CRS relies on have at least eight. */
    for (int id = 1; id < rs_transform_count(); id++)
        if (per_id[id] == 0)
            fail_msg("no vectors for %s", rs_transform_name(id));
    for (size_t k = 0; k < sizeof(crs_transforms) / sizeof(crs_transforms[0]); k++) {
        int id = rs_transform_lookup(rs_str(crs_transforms[k], strlen(crs_transforms[k])));
        assert_true(id > 0);
        if (per_id[id] < 8)
            fail_msg("only %d vectors for %s", per_id[id], crs_transforms[k]);
    }
    print_message("%d vectors in %d files\n", total, files);
    assert_true(files >= rs_transform_count() - 1);
}

static int lookup(const char *name)
{
    return rs_transform_lookup(rs_str(name, strlen(name)));
}

static void test_lookup(void **state)
{
    (void)state;
    assert_int_equal(lookup("none"), RS_TRANSFORM_NONE);
    assert_int_equal(lookup("NONE"), RS_TRANSFORM_NONE);
    assert_int_equal(lookup("nothing"), -1);
    assert_int_equal(lookup(""), -1);
    assert_int_equal(lookup("urlDecod"), -1);
    assert_true(lookup("base64Decode") > 0);
    assert_int_equal(lookup("base64decode"), lookup("base64Decode"));
    assert_true(lookup("base64DecodeExt") != lookup("base64Decode"));
    assert_int_equal(lookup("normalisePath"), lookup("normalizePath"));
    assert_int_equal(lookup("NORMALISEPATHWIN"), lookup("normalizePathWin"));
    assert_true(lookup("normalizePath") != lookup("normalizePathWin"));
    assert_int_equal(lookup("utf8ToUnicode"), lookup("utf8toUnicode"));
    /* Every id has a canonical name that maps back to it. */
    assert_true(rs_transform_count() >= 36);
    for (int id = 0; id < rs_transform_count(); id++) {
        const char *name = rs_transform_name(id);
        assert_non_null(name);
        assert_int_equal(lookup(name), id);
    }
    assert_null(rs_transform_name(-1));
    assert_null(rs_transform_name(rs_transform_count()));
}

static void test_none_and_bad_ids_leave_value(void **state)
{
    (void)state;
    rs_buf_t out = {0};
    assert_int_equal(rs_transform_apply(RS_TRANSFORM_NONE, RS_STR("ABC"), &out), 0);
    assert_int_equal(out.len, 0);
    assert_int_equal(rs_transform_apply(-1, RS_STR("ABC"), &out), 0);
    assert_int_equal(rs_transform_apply(rs_transform_count(), RS_STR("ABC"), &out), 0);
    assert_int_equal(out.len, 0);
    rs_buf_free(&out);
}

static void digest_hex(int id, const char *in, size_t len, char *hex)
{
    rs_buf_t out = {0};
    assert_int_equal(rs_transform_apply(id, rs_str(in, len), &out), 1);
    for (size_t i = 0; i < out.len; i++)
        sprintf(hex + 2 * i, "%02x", (unsigned char)out.base[i]);
    rs_buf_free(&out);
}

static void test_hash_known_answers(void **state)
{
    (void)state;
    /* RFC 1321 appendix A.5 and FIPS 180-1 examples. */
    static const struct {
        const char *in, *md5, *sha1;
    } kat[] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72", "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0", "c12252ceda8be8994d5fa0290a47231c1d16aae3"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "8215ef0796a20bcaaae116d3876c664a",
         "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901234567890", "57edf4a22be3c955ac49da2e2107b67a",
         "50abf5706a150990a08b2c5ea40fa0e585554732"},
    };
    char hex[64];
    for (size_t k = 0; k < sizeof(kat) / sizeof(kat[0]); k++) {
        digest_hex(lookup("md5"), kat[k].in, strlen(kat[k].in), hex);
        assert_string_equal(hex, kat[k].md5);
        digest_hex(lookup("sha1"), kat[k].in, strlen(kat[k].in), hex);
        assert_string_equal(hex, kat[k].sha1);
    }
    size_t million = 1000000;
    char *a = malloc(million);
    assert_non_null(a);
    memset(a, 'a', million);
    digest_hex(lookup("sha1"), a, million, hex);
    assert_string_equal(hex, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    digest_hex(lookup("md5"), a, million, hex);
    assert_string_equal(hex, "7707d6ae4e027c70eea2a935c2296f21");
    free(a);
}

/* Values that need no change take the fast path: result 0 and nothing written. */
static void test_fast_path_reports_unchanged(void **state)
{
    (void)state;
    static const struct {
        const char *tf, *value;
    } same[] = {
        {"urlDecode", "plain/value-1"},
        {"urlDecodeUni", "plain"},
        {"lowercase", "already lower 123"},
        {"uppercase", "UPPER"},
        {"htmlEntityDecode", "<b>"},
        {"jsDecode", "x=1"},
        {"cssDecode", "a:b"},
        {"removeNulls", "abc"},
        {"removeWhitespace", "abc"},
        {"compressWhitespace", "a b c"},
        {"cmdLine", "ls -la x"},
        {"normalizePath", "/a/b/c"},
        {"normalizePathWin", "/a/b"},
        {"utf8toUnicode", "ascii"},
        {"replaceComments", "a*/b"},
        {"removeComments", "abc"},
        {"trim", "a b"},
        {"urlEncode", "abc*"},
        {"escapeSeqDecode", "abc"},
        {"parityZero7bit", "abc"},
        {"replaceNulls", "abc"},
    };
    rs_buf_t out = {0};
    for (size_t k = 0; k < sizeof(same) / sizeof(same[0]); k++) {
        int id = lookup(same[k].tf);
        assert_true(id > 0);
        if (rs_transform_apply(id, rs_str(same[k].value, strlen(same[k].value)), &out) != 0)
            fail_msg("%s changed \"%s\"", same[k].tf, same[k].value);
        assert_int_equal(out.len, 0);
        assert_null(out.base); /* never allocated */
    }
    rs_buf_free(&out);
}

/* Once the buffer has grown, applying transformations does not reallocate it. */
static void test_no_allocation_after_growth(void **state)
{
    (void)state;
    static const char *const values[] = {"%3Cscript%3E+alert(1)", "SELECT/**/1", "&lt;a&gt;", "\\u0061\\x62",
                                         "\xc3\xa9\xe2\x82\xac",  "/a/./b/../c", "QUJD",      "  pad  "};
    rs_buf_t out = {0};
    rs_buf_reserve(&out, 4096);
    char *base = out.base;
    size_t cap = out.cap;
    for (int round = 0; round < 3; round++)
        for (int id = 1; id < rs_transform_count(); id++)
            for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
                rs_transform_apply(id, rs_str(values[v], strlen(values[v])), &out);
                assert_ptr_equal(out.base, base);
                assert_int_equal(out.cap, cap);
            }
    rs_buf_free(&out);
}

/* A CRS-style chain: each step feeds the previous result to the next one. */
static void test_chain(void **state)
{
    (void)state;
    const char *chain[] = {"utf8toUnicode", "urlDecodeUni", "htmlEntityDecode", "jsDecode",
                           "cssDecode",     "removeNulls",  "lowercase"};
    rs_buf_t bufs[2] = {{0}, {0}};
    rs_str_t cur = RS_STR("%3CSCRIPT%3E&#x61;lert\\x28%u0031)%00");
    int which = 0;
    for (size_t k = 0; k < sizeof(chain) / sizeof(chain[0]); k++) {
        if (rs_transform_apply(lookup(chain[k]), cur, &bufs[which])) {
            cur = rs_str(bufs[which].base, bufs[which].len);
            which ^= 1;
        }
    }
    assert_int_equal(cur.len, strlen("<script>alert(1)"));
    assert_memory_equal(cur.base, "<script>alert(1)", cur.len);
    rs_buf_free(&bufs[0]);
    rs_buf_free(&bufs[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_vectors),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_none_and_bad_ids_leave_value),
        cmocka_unit_test(test_hash_known_answers),
        cmocka_unit_test(test_fast_path_reports_unchanged),
        cmocka_unit_test(test_no_allocation_after_growth),
        cmocka_unit_test(test_chain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
