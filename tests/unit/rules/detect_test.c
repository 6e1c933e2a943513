/* SPDX-License-Identifier: MIT */
/* Golden tests of @detectSQLi and @detectXSS (rs_detect_sqli / rs_detect_xss): classic attack forms must fire,
 * prose and ordinary values (apostrophes, numbers, e-mails, URLs, HTML-ish text, markdown) must not; plus the
 * (ptr, len) contract, the fingerprint contract and bounded work on adversarial inputs. */
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

static const char *const sqli_attacks[] = {
    /* tautologies */
    "' or 1=1--",
    "' or '1'='1",
    "\" or \"\"=\"",
    "1 or 1=1",
    "') or ('a'='a",
    "admin' or 'x'='x",
    "1' and 1=1#",
    "'='",
    "x' AND 1=(SELECT COUNT(*) FROM tabname); --",
    /* comment truncation */
    "admin'--",
    "admin' #",
    "admin'/*",
    "admin')-- -",
    /* UNION */
    "' union select 1,2,3--",
    "1 union all select null,null",
    "-1' UNION SELECT username, password FROM users--",
    "1/**/union/**/select/**/1,2",
    "1 /*!50000union*/ /*!50000select*/ 1,2",
    "0 UNION(SELECT table_name FROM information_schema.tables)",
    /* stacked queries */
    "1; drop table users",
    "'; drop table users--",
    "1; exec xp_cmdshell 'dir'",
    "'; shutdown--",
    /* time based */
    "' and sleep(5)--",
    "1 and sleep(5)",
    "sleep(5)#",
    "benchmark(1000000,md5(1))",
    "'; waitfor delay '0:0:5'--",
    "' || pg_sleep(5)--",
    "1) and sleep(5)#",
    "' + benchmark(1000000,sha1(1)) + '",
    /* error based */
    "' and extractvalue(1,concat(0x7e,version()))--",
    "1 AND updatexml(1,concat(0x7e,(select user())),1)",
    "' and 1=convert(int,@@version)--",
    /* boolean / subquery / clauses */
    "1' order by 3--",
    "' having 1=1--",
    "' or @@version--",
    "1 and (select count(*) from users)>0",
    "' and ascii(substring(database(),1,1))>64--",
    "1 AND 1=1 ORDER BY 1--",
    /* whole statements and fragments */
    "SELECT * FROM users WHERE id=1",
    "select name from users",
    "insert into users values ('a','b')",
    "update users set admin=1 where id=2",
    "AND 1=1",
    "or x = 'y",
    ";drop table x",
    "HAVING 1=1",
    "from information_schema.tables where 1",
    "concat(",
    "1 in (select password from users)",
    "x' -email--",
    /* tokenizer corner cases: MySQL number/keyword adjacency, a backslash that standard SQL does not honour */
    "1e1union select 1",
    "\\' or 1=1--",
    "1.union select 1",
    "1 or (1)=(1)",
    "admin@example.com' and email ! all (select email)--",
    "bob' or (select 1)",
    "'admin', '1'='1'",
};

static const char *const sqli_benign[] = {
    "O'Reilly",
    "D'or 1st parfume",
    "It's ok or not",
    "Don't do it or else",
    "rue d'Arlon",
    "Rock 'n' roll",
    "l'or blanc",
    "union was a great select",
    "select the best one from the list",
    "I would like to request a random number between 1 and 10, please.",
    "5 or 6",
    "1 or 2 apples",
    "and 7 oranges",
    "apples and oranges",
    "having fun",
    "Please select one option from the menu and press OK.",
    "We had to drop the plan; update me later",
    "john.doe@example.com",
    "http://example.com/a?b=c&d=e#frag",
    "/search?q=shoes&size=42",
    "DEAR FINN,--I think it would do; copy should reach us second post",
    "appUser(sitename,user)",
    "Just in case (abc)",
    "'foo';'bar';'def'",
    "my name is 'foo'; ",
    "The measures of the interior angles add up to 180 degrees (same color).",
    "Unless C++ support is disabled by specifying the \"--disable-cpp\" option",
    "Fix the licensing: BSD *or* GPL-2, not \"and\". Closes: #1012003",
    "2024-01-31",
    "+1 (555) 123-4567",
    "3.14159",
    "-42",
    "price >= 10 & < 20",
    "from Paris to Rome",
    "C:\\Users\\bob's files",
    "shutdown",
    "exec (Closes: #1021821)",
    /* technical prose that quotes symbols */
    "style content model; just skip until '>'",
    "First (or only) line of ' or \" string.",
    "select() also can't accept a FD > FD_SETSIZE",
    "anyway) -- again, this is to support pickle",
    "or (0, 0) if no source is available.",
    "delete from cart",
    "Tune2fs and e2fsck accept pathnames which include '=' characters",
    "",
    "It's and (select all of them)",
    "don't or (select me) please",
    "x, 1=1",
};

static const char *const xss_attacks[] = {
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=x OnError=alert(1)>",
    "<svg/onload=alert(1)>",
    "<svg\nonload=alert(1)>",
    "<body onload=alert(1)>",
    "<details open ontoggle=prompt(1)>",
    "<iframe src=\"https://evil.example\"></iframe>",
    "<object data=x></object>",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
    "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
    "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">x</a>",
    "<a href=\"java&Tab;script&colon;alert(1)\">x</a>",
    "<form action=\"vbscript:msgbox(1)\"><input type=submit></form>",
    "<iframe srcdoc=\"&lt;script&gt;alert(1)&lt;/script&gt;\">",
    "<div style=\"width:expression(alert(1))\">",
    "<p style=\"background:url(javascript:alert(1))\">",
    "\" onmouseover=\"alert(1)",
    "' onfocus=alert(1) autofocus '",
    "\"><script>alert(1)</script>",
    "javascript:alert(1)",
    "  JAVASCRIPT:alert(document.domain)",
    "data:text/html,<script>alert(1)</script>",
    "&lt;svg/onload&equals;alert(1)&gt;",
    "\xef\xbc\x9cscript\xef\xbc\x9e alert(1)",
    "+ADw-script+AD4-alert(1)+ADw-/script+AD4-",
    "'-alert(1)-'",
    "\";alert(1);//",
    "eval(atob(\"YWxlcnQoKQ==\"))",
    "alert`1`",
    "confirm.call(null,1)",
    "[1].some(confirm)",
    "a=document/*x*/./*y*/cookie",
    "self[\"alert\"](1)",
    "\\u0061lert(1)",
    "(![]+[])[+!+[]]+(![]+[])[!+[]+!+[]]",
    "<style>@import 'http://evil.example/x.css';</style>",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
};

static const char *const xss_benign[] = {
    "a < b",
    "<3",
    "x>y",
    "1 < 2 > 0",
    "h2<h1",
    "I love <b>bold</b> and <i>italic</i> text",
    "<p class=\"note\">Hello</p>",
    "<a href=\"https://example.com/page?x=1\">link</a>",
    "**markdown** _here_ [link](http://example.com) `code`",
    "type <enter type here>.",
    "The standard for the <$ tag is to enclose text",
    "please confirm (yes/no)",
    "online=yes",
    "onion rings, only on Mondays",
    "style=color:red;background:white",
    "JavaScript: The Good Parts is a book",
    "regular expression(s) are useful",
    "my document.txt is ready",
    "O'Reilly said \"hi\" & left",
    "john.doe@example.com",
    "https://www.youtube.com/watch?v=abc&t=1s",
    "Function(x) is defined below",
    "OnStartupSec=",
    "vererbung!!!!!!!!!!!!!!!!!!!!!! [sic]",
    "",
};

static void test_sqli_attacks_fire(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(sqli_attacks) / sizeof(sqli_attacks[0]); i++) {
        char fingerprint[16] = "";
        int hit = rs_detect_sqli(sqli_attacks[i], strlen(sqli_attacks[i]), fingerprint);
        if (!hit)
            print_error("missed SQLi: %s\n", sqli_attacks[i]);
        assert_int_equal(hit, 1);
        assert_true(strlen(fingerprint) > 0 && strlen(fingerprint) < 16);
    }
}

static void test_sqli_benign_pass(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(sqli_benign) / sizeof(sqli_benign[0]); i++) {
        char fingerprint[16] = "untouched";
        int hit = rs_detect_sqli(sqli_benign[i], strlen(sqli_benign[i]), fingerprint);
        if (hit)
            print_error("false SQLi (%s): %s\n", fingerprint, sqli_benign[i]);
        assert_int_equal(hit, 0);
        assert_string_equal(fingerprint, "untouched"); /* only written on a hit */
    }
}

static void test_xss_attacks_fire(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(xss_attacks) / sizeof(xss_attacks[0]); i++) {
        int hit = rs_detect_xss(xss_attacks[i], strlen(xss_attacks[i]));
        if (!hit)
            print_error("missed XSS: %s\n", xss_attacks[i]);
        assert_int_equal(hit, 1);
    }
}

static void test_xss_benign_pass(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(xss_benign) / sizeof(xss_benign[0]); i++) {
        int hit = rs_detect_xss(xss_benign[i], strlen(xss_benign[i]));
        if (hit)
            print_error("false XSS: %s\n", xss_benign[i]);
        assert_int_equal(hit, 0);
    }
}

/* The fingerprint names the token pattern: string, logic operator, number, operator, number, comment. */
static void test_sqli_fingerprint_shape(void **state)
{
    (void)state;
    char fingerprint[16];
    assert_int_equal(rs_detect_sqli("' or 1=1--", 10, fingerprint), 1);
    assert_string_equal(fingerprint, "s&1o1c");
    assert_int_equal(rs_detect_sqli("1 union select 1", 16, fingerprint), 1);
    assert_non_null(strstr(fingerprint, "UE"));
    assert_int_equal(rs_detect_sqli("admin'--", 8, NULL), 1); /* NULL fingerprint is allowed */
    /* a long injection still yields a bounded, terminated fingerprint */
    const char *longer = "1 and 1=1 and 2=2 and 3=3 and 4=4 and 5=5 and 6=6";
    assert_int_equal(rs_detect_sqli(longer, strlen(longer), fingerprint), 1);
    assert_true(strlen(fingerprint) <= 15);
}

/* Only s[0..len) is read: what follows must not change the verdict, and no NUL is needed. */
static void test_length_is_respected(void **state)
{
    (void)state;
    const char sqli[] = {'a', 'd', 'm', 'i', 'n', '\'', '-', '-'};
    assert_int_equal(rs_detect_sqli(sqli, 5, NULL), 0);
    assert_int_equal(rs_detect_sqli(sqli, sizeof(sqli), NULL), 1);
    const char xss[] = "<b>hi</b><script>alert(1)</script>";
    assert_int_equal(rs_detect_xss(xss, 9), 0);
    assert_int_equal(rs_detect_xss(xss, sizeof(xss) - 1), 1);
    assert_int_equal(rs_detect_sqli(NULL, 0, NULL), 0);
    assert_int_equal(rs_detect_xss(NULL, 0), 0);
    /* embedded NULs are data, not terminators */
    const char nul_sqli[] = "1\0 or 1=1";
    assert_int_equal(rs_detect_sqli(nul_sqli, sizeof(nul_sqli) - 1, NULL), 1);
    const char nul_xss[] = "x\0<svg onload=alert(1)>";
    assert_int_equal(rs_detect_xss(nul_xss, sizeof(nul_xss) - 1), 1);
}

/* Adversarial repetitive inputs (unterminated comments, quotes, references, parentheses) must finish quickly:
 * the detectors do linear work. The time bound is generous so that a slow CI box does not flake. */
static void test_bounded_work(void **state)
{
    (void)state;
    static const char *const units[] = {"/*", "a/*", "'",  "\"", "(",  "&#",    "&#x0000", "<a ",       "<a b='",
                                        "on", "\\u", "--", "@@", "0x", "1 or ", "`",       "document.", "alert "};
    const size_t len = 1 << 20;
    char *big = malloc(len);
    assert_non_null(big);
    clock_t start = clock();
    for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
        size_t ul = strlen(units[u]);
        for (size_t i = 0; i < len; i++)
            big[i] = units[u][i % ul];
        int s = rs_detect_sqli(big, len, NULL);
        int x = rs_detect_xss(big, len);
        assert_true(s == 0 || s == 1);
        assert_true(x == 0 || x == 1);
    }
    double seconds = (double)(clock() - start) / CLOCKS_PER_SEC;
    free(big);
    assert_true(seconds < 20.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sqli_attacks_fire),      cmocka_unit_test(test_sqli_benign_pass),
        cmocka_unit_test(test_xss_attacks_fire),       cmocka_unit_test(test_xss_benign_pass),
        cmocka_unit_test(test_sqli_fingerprint_shape), cmocka_unit_test(test_length_is_respected),
        cmocka_unit_test(test_bounded_work),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
