/* SPDX-License-Identifier: MIT */
/* SecRule transformations (t:...), byte-exact with ModSecurity v3. Pure functions over bytes; no allocation
 * beyond the caller's reusable output buffer. The parser maps names to ids; the engine applies chains. */
#ifndef RS_TRANSFORM_H
#define RS_TRANSFORM_H

#include "util/util.h"

/** Id 0 is "none": at parse time it clears the transformations collected so far; it never runs. */
#define RS_TRANSFORM_NONE 0

/** Looks a transformation up by name (case-insensitive, as ModSecurity). Returns its id (> 0 for real ones,
 *  RS_TRANSFORM_NONE for "none"), or -1 when unknown. Aliases (normalisePath, base64decode) map to one id. */
int rs_transform_lookup(rs_str_t name);

/** Canonical name of an id, e.g. "urlDecodeUni". */
const char *rs_transform_name(int id);

/** Number of ids (valid ids are 0 .. count-1). */
int rs_transform_count(void);

/**
 * Applies transformation `id` to `in`, writing the result to `out` (reset first; left NUL-terminated).
 * Returns 1 when the result differs from the input, 0 when it is byte-identical (out then holds a copy
 * or nothing: callers that see 0 keep using `in`). `in` must not point into `out`.
 */
int rs_transform_apply(int id, rs_str_t in, rs_buf_t *out);

#endif
