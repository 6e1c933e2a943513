/* SPDX-License-Identifier: MIT */
/* Required-literal extraction for @rx (placeholder until the regex walker lands: always "unsure"). */
#include "operator/op_internal.h"

int rs_rx_required_literals(const char *re, size_t len, rs_str_t **lits, int *nocase)
{
    *lits = NULL;
    *nocase = 0;
    return -1;
}
