/* SPDX-License-Identifier: MIT */
/* Fuzz target for the SecRule parser: bytes -> rs_parse_text -> rs_ruleset_finish -> rs_ruleset_free.
 * Must not crash or leak, and every error must carry a line number. Inputs that would read files
 * (Include, @pmFromFile, @ipMatchFromFile) are skipped: they could open blocking files such as /proc/kmsg. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "ir.h"

static int mentions(const uint8_t *data, size_t size, const char *word)
{
    size_t n = strlen(word);
    for (size_t i = 0; i + n <= size; i++) {
        if (strncasecmp((const char *)data + i, word, n) == 0)
            return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16 || mentions(data, size, "include") || mentions(data, size, "@pmf") || mentions(data, size, "@ipmatchf"))
        return 0;
    rs_ruleset_t *rs = rs_ruleset_new();
    rs_errors_t errs = {0};
    rs_parse_text(rs, "fuzz.conf", "/nonexistent", (const char *)data, size, &errs);
    rs_ruleset_finish(rs, &errs);
    for (size_t i = 0; i < errs.count; i++) {
        if (errs.items[i].line == 0)
            abort();
    }
    /* formatting every rule must work too */
    rs_buf_t out = {0};
    for (size_t i = 0; i < rs->nrules; i++)
        rs_rule_format(rs->rules[i], &out);
    rs_buf_free(&out);
    rs_errors_free(&errs);
    rs_ruleset_free(rs);
    return 0;
}
