/* SPDX-License-Identifier: MIT */
/* Test helper shared by the unit tests: rule text given inline, compiled into a database (rules_compile.h). */
#include "rules_compile.h"

#include <stdio.h>
#include <string.h>

rs_db_t *test_compile_rules(const char *rules, int prefilter)
{
    rs_source_t src = {"test.conf", rules, strlen(rules)};
    rs_errors_t errs = {0};
    rs_compile_opts_t opts = {.use_prefilter = prefilter, .engine_mode = -1};
    rs_db_t *db = rs_db_compile(&src, 1, &opts, &errs);
    if (db == NULL)
        rs_errors_print(&errs, stderr);
    rs_errors_free(&errs);
    return db;
}
