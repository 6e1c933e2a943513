/* SPDX-License-Identifier: MIT */
/* Fuzz target for rs_detect_xss: the input is the value, copied to an exact-size heap buffer so that any read
 * past its end is caught by ASan. Checks the verdict is 0/1 and deterministic. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "operator/detect.h"

static void check(int cond)
{
    if (!cond)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *value = malloc(size ? size : 1);
    if (!value)
        return 0;
    if (size)
        memcpy(value, data, size);
    int hit = rs_detect_xss(value, size);
    check(hit == 0 || hit == 1);
    check(rs_detect_xss(value, size) == hit);
    free(value);
    return 0;
}
