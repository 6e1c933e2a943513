/* SPDX-License-Identifier: MIT */
/* Test helper shared by the unit tests: rule text given inline, compiled into a database. */
#ifndef EP_TEST_RULES_COMPILE_H
#define EP_TEST_RULES_COMPILE_H

#include "rs.h"

/** Compiles `rules` (as a file named test.conf) with the prefilter on or off; prints the errors and returns NULL
 *  when it does not compile. */
rs_db_t *test_compile_rules(const char *rules, int prefilter);

#endif
