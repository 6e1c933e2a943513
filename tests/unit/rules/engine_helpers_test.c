/* SPDX-License-Identifier: MIT */
/* Tests of the engine's inlined hot-path helpers (engine_internal.h): rs_fmt_ll formats like "%lld" and
 * rs_key_ieq compares like an ASCII strncasecmp, checked against the C library on edge values and on
 * random inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "engine/engine_internal.h"
#include "transform/transform.h"

static void check_fmt(long long v)
{
    char want[32], got[32];
    int n = snprintf(want, sizeof(want), "%lld", v);
    size_t len = rs_fmt_ll(got, v);
    assert_int_equal(len, (size_t)n);
    assert_memory_equal(got, want, len);
}

static void test_fmt_edges(void **state)
{
    (void)state;
    static const long long values[] = {0,
                                       1,
                                       -1,
                                       9,
                                       10,
                                       -10,
                                       99,
                                       100,
                                       2147483647LL,
                                       -2147483648LL,
                                       1000000007LL,
                                       9223372036854775807LL,
                                       -9223372036854775807LL - 1};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        check_fmt(values[i]);
}

static void test_fmt_random(void **state)
{
    (void)state;
    srand(7);
    for (int i = 0; i < 20000; i++) {
        /* built in unsigned arithmetic: shifting a signed value into the sign bit is undefined */
        unsigned long long u = ((unsigned long long)rand() << 33) ^ ((unsigned long long)rand() << 9) ^ (unsigned)rand();
        long long v = (long long)(u & 0x7fffffffffffffffull);
        check_fmt(i % 2 ? v : -v);
        check_fmt(v % 1000);
    }
}

static int libc_ieq(rs_str_t a, rs_str_t b)
{
    return a.len == b.len && (a.len == 0 || strncasecmp(a.base, b.base, a.len) == 0);
}

static void test_key_ieq(void **state)
{
    (void)state;
    assert_true(rs_key_ieq(RS_STR("User-Agent"), RS_STR("user-agent")));
    assert_true(rs_key_ieq(RS_STR(""), RS_STR("")));
    assert_false(rs_key_ieq(RS_STR("abc"), RS_STR("abcd")));
    assert_false(rs_key_ieq(RS_STR("@"), RS_STR("`"))); /* differ only in 0x20 but are not letters */
    assert_false(rs_key_ieq(RS_STR("["), RS_STR("{")));
    /* every pair of bytes at every position of a 19-byte key: the eight-byte words and the tail are compared
     * apart, a letter elsewhere in the key must not change the verdict */
    for (size_t pos = 0; pos < 19; pos++)
        for (int x = 0; x < 256; x++)
            for (int y = 0; y < 256; y++) {
                char a[19], b[19];
                memcpy(a, "Paranoia_Level-x9Z", 19);
                memcpy(b, "pARANOIA_lEVEL-X9z", 19);
                a[pos] = (char)x;
                b[pos] = (char)y;
                assert_int_equal(rs_key_ieq(rs_str(a, 19), rs_str(b, 19)), libc_ieq(rs_str(a, 19), rs_str(b, 19)));
            }
    /* random keys over a small alphabet with both cases, the 0x20 look-alikes and bytes above 0x7f */
    static const char alphabet[] = "aAzZ@`[{_-09\xc1\xe1";
    srand(11);
    for (int i = 0; i < 50000; i++) {
        char a[24], b[24];
        size_t n = (size_t)(rand() % 24);
        for (size_t k = 0; k < n; k++) {
            a[k] = alphabet[rand() % (sizeof(alphabet) - 1)];
            b[k] = rand() % 3 ? a[k] ^ (char)(rand() % 2 ? 0x20 : 0) : alphabet[rand() % (sizeof(alphabet) - 1)];
        }
        assert_int_equal(rs_key_ieq(rs_str(a, n), rs_str(b, n)), libc_ieq(rs_str(a, n), rs_str(b, n)));
    }
}

/* The candidate scan (cand.c) skips normalizePath on a value with no slash or backslash that does not end in
 * '.': the transformation must leave such a value as it is. */
static void test_normalize_path_trigger(void **state)
{
    (void)state;
    static const char alphabet[] = "a.b/\\.";
    const char *names[] = {"normalizePath", "normalizePathWin"};
    srand(5);
    rs_buf_t out = {0};
    for (size_t t = 0; t < 2; t++) {
        int id = rs_transform_lookup(rs_str(names[t], strlen(names[t])));
        assert_true(id >= 0);
        for (int i = 0; i < 50000; i++) {
            char v[10];
            size_t n = (size_t)(rand() % 10);
            for (size_t k = 0; k < n; k++)
                v[k] = alphabet[rand() % (sizeof(alphabet) - 1)];
            if (memchr(v, '/', n) != NULL || memchr(v, '\\', n) != NULL || (n != 0 && v[n - 1] == '.'))
                continue;
            rs_buf_reset(&out);
            int rc = rs_transform_apply(id, rs_str(v, n), &out);
            if (rc == 1) { /* a result was written: it must be the same bytes */
                assert_int_equal(out.len, n);
                assert_memory_equal(out.base ? out.base : "", v, n);
            }
        }
    }
    rs_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmt_edges),
        cmocka_unit_test(test_fmt_random),
        cmocka_unit_test(test_key_ieq),
        cmocka_unit_test(test_normalize_path_trigger),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
