/* SPDX-License-Identifier: MIT */
/* @detectSQLi and @detectXSS: our own tokenizer-and-fingerprint detectors, in the spirit of libinjection.
 * No heap allocation; input is (ptr, len) and need not be NUL-terminated. Thread-safe (no globals written). */
#ifndef RS_DETECT_H
#define RS_DETECT_H

#include <stddef.h>

/** Returns 1 when `s` looks like SQL injection. When it does and fingerprint is not NULL, a short
 *  NUL-terminated description of the matching token pattern (at most 15 chars + NUL) is written there. */
int rs_detect_sqli(const char *s, size_t len, char fingerprint[16]);

/** Returns 1 when `s` looks like cross-site scripting (HTML/JS injection). */
int rs_detect_xss(const char *s, size_t len);

#endif
