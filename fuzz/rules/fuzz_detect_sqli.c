/* SPDX-License-Identifier: MIT */
/* Fuzz target for rs_detect_sqli: the input is the value, copied to an exact-size heap buffer so that any read
 * past its end is caught by ASan. Checks the verdict is 0/1, the fingerprint is NUL-terminated within 16 bytes
 * and only written on a hit, and that the verdict does not depend on the fingerprint pointer. */
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
    char fingerprint[16];
    memset(fingerprint, 'X', sizeof(fingerprint));
    int hit = rs_detect_sqli(value, size, fingerprint);
    check(hit == 0 || hit == 1);
    if (hit)
        check(memchr(fingerprint, '\0', sizeof(fingerprint)) != NULL);
    else
        for (size_t i = 0; i < sizeof(fingerprint); i++)
            check(fingerprint[i] == 'X');
    check(rs_detect_sqli(value, size, NULL) == hit);
    free(value);
    return 0;
}
