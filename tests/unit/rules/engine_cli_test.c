/* SPDX-License-Identifier: MIT */
/* Tests of the `rules` command line (rules/engine/cli.c): check reports errors with FILE:LINE and exit 1,
 * stats and explain run on the CRS, and `rules test` passes the committed vectors and fails a wrong test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

int rs_cli_main(int argc, char **argv);

/* Runs the CLI with its stdout sent to /dev/null (its "N passed, N failed" summary is not this test's). */
static int cli(int argc, const char **argv)
{
    fflush(stdout);
    int saved = dup(1);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    close(null);
    int rc = rs_cli_main(argc, (char **)argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    return rc;
}

static char *write_temp(const char *text)
{
    char *path = strdup("/tmp/ep-cli-test-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    return path;
}

/* Captures what fn writes to stderr (fd 2) into buf. */
static int capture_stderr(int (*fn)(int, const char **), int argc, const char **argv, char *buf, size_t size)
{
    char path[] = "/tmp/ep-cli-err-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    int rc = fn(argc, argv);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, buf, size - 1);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    return rc;
}

static void test_check_good_and_bad(void **state)
{
    (void)state;
    char *good = write_temp("SecRuleEngine On\nSecRule ARGS \"@rx abc\" \"id:1,phase:1,deny\"\n");
    const char *a1[] = {"rules", "check", good};
    assert_int_equal(cli(3, a1), 0);
    const char *a2[] = {"rules", "stats", good};
    assert_int_equal(cli(3, a2), 0);

    char *bad =
        write_temp("SecRuleEngine On\nSecRule ARGS \"@rx abc\" \"id:1,phase:1,deny\"\nSecRule NOPE_VAR \"@rx x\" \"id:2\"\n");
    const char *a3[] = {"rules", "check", bad};
    char err[4096];
    assert_int_equal(capture_stderr(cli, 3, a3, err, sizeof(err)), 1);
    char where[600];
    snprintf(where, sizeof(where), "%s:3:", bad);
    if (strstr(err, where) == NULL)
        fail_msg("expected an error at %s, got: %s", where, err);
    unlink(good);
    unlink(bad);
    free(good);
    free(bad);
}

static void test_explain(void **state)
{
    (void)state;
    char *rules =
        write_temp("SecRuleEngine On\nSecRule ARGS:q \"@contains evil\" \"id:7,phase:1,deny,status:403,log,msg:'evil'\"\n");
    char *req = write_temp("GET /?q=very+evil HTTP/1.1\r\nHost: x\r\n\r\n");
    const char *a[] = {"rules", "explain", "--rules", rules, "--request", req, "--trace"};
    assert_int_equal(cli(7, a), 0);
    const char *missing[] = {"rules", "explain", "--rules", rules};
    assert_int_equal(cli(4, missing), 2);
    unlink(rules);
    unlink(req);
    free(rules);
    free(req);
}

static void test_rule_tests(void **state)
{
    (void)state;
    const char *a[] = {"rules", "test", "tests/vectors/rules/crs_basic.test"};
    assert_int_equal(cli(3, a), 0);

    char *rules = write_temp("SecRuleEngine On\nSecRule ARGS:q \"@contains evil\" \"id:7,phase:1,deny,log\"\n");
    char text[1024];
    snprintf(text, sizeof(text),
             "rules: %s\n=== test: must fail\nmatch: 8\n--- request\nGET /?q=evil HTTP/1.1\nHost: x\n\n"
             "=== test: passes\nmatch: 7\nstatus: 403\n--- request\nGET /?q=evil HTTP/1.1\nHost: x\n",
             rules);
    char *t = write_temp(text);
    const char *b[] = {"rules", "test", t};
    assert_int_equal(cli(3, b), 1);
    unlink(rules);
    unlink(t);
    free(rules);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_good_and_bad),
        cmocka_unit_test(test_explain),
        cmocka_unit_test(test_rule_tests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
