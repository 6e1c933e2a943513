/* SPDX-License-Identifier: MIT */
/* normalizePath / normalizePathWin: removes "." and "name/.." segments and repeated slashes the way
 * ModSecurity does (relative paths keep leading ".." they cannot resolve; absolute paths stop at "/";
 * a trailing slash survives only if the input had one). The Windows variant treats '\' as '/'. */
#include "transform/tf_internal.h"

#include <stddef.h>

/* Normalizes p[0..len) in place and returns the new length. Indices are signed because stepping back
 * over "x/.." may go before the start, which is then clamped to the root. */
static size_t normalize_in_place(unsigned char *p, size_t len, int win)
{
    if (len == 0)
        return 0;
    ptrdiff_t src = 0, dst = 0, end = (ptrdiff_t)len - 1;
    int relative = !(p[0] == '/' || (win && p[0] == '\\'));
    int trailing = p[end] == '/' || (win && p[end] == '\\');
    int hit_root = 0, done = 0;
    while (!done && src <= end) {
        int skip_copy = 0;
        /* Backslashes become slashes only as the scan reaches them (the current and the next byte): a
         * backslash swallowed by the slash-run skipping below is copied as it is, like ModSecurity does. */
        if (win) {
            if (p[src] == '\\')
                p[src] = '/';
            if (src < end && p[src + 1] == '\\')
                p[src + 1] = '/';
        }
        /* Segments are examined at their last byte (or at the end of the input). */
        int segment_end = 1;
        if (src == end)
            done = 1;
        else if (p[src + 1] != '/')
            segment_end = 0;
        if (segment_end) {
            if (src != end && p[src] == '/') {
                /* empty segment: the copy below collapses the slashes */
            } else if (p[src] == '.') {
                if (dst > 0 && p[dst - 1] == '.') {
                    /* ".." */
                    if (relative && (hit_root || dst - 2 <= 0)) {
                        hit_root = 1; /* nothing left to go back over: keep it */
                    } else {
                        dst -= 3;
                        while (dst > 0 && p[dst] != '/')
                            dst--;
                        if (dst <= 0) {
                            hit_root = 1;
                            dst = 0;
                            if (!relative && src == end)
                                dst++; /* keep the root slash */
                        }
                        if (done)
                            skip_copy = 1;
                        else
                            src++;
                    }
                } else if (dst == 0) {
                    /* leading "." */
                    if (done)
                        skip_copy = 1;
                    else
                        src++;
                } else if (p[dst - 1] == '/') {
                    /* "/." */
                    if (done) {
                        skip_copy = 1;
                    } else {
                        dst--;
                        src++;
                    }
                }
            } else if (dst > 0) {
                hit_root = 0; /* an ordinary segment */
            }
        }
        if (skip_copy)
            continue;
        if (p[src] == '/') {
            while (src < end && (p[src + 1] == '/' || (win && p[src + 1] == '\\')))
                src++;
            if (relative && dst == 0) {
                src++; /* a relative path does not start with a slash */
                continue;
            }
        }
        p[dst++] = p[src++];
    }
    if (!trailing && dst > 0 && p[dst - 1] == '/')
        dst--;
    return (size_t)dst;
}

static int normalize(rs_str_t in, rs_buf_t *out, int win)
{
    const unsigned char *s = (const unsigned char *)in.base;
    size_t n = in.len, i = 0;
    /* Nothing to do without a dot, a slash run or (on Windows) a backslash. */
    while (i < n && s[i] != '.' && !(s[i] == '/' && i + 1 < n && s[i + 1] == '/') && !(win && s[i] == '\\'))
        i++;
    if (i == n)
        return rs_tf_unchanged(out);
    unsigned char *d = rs_tf_begin(out, n);
    memcpy(d, s, n);
    return rs_tf_finish(in, out, normalize_in_place(d, n, win));
}

int rs_tf_normalize_path(rs_str_t in, rs_buf_t *out)
{
    return normalize(in, out, 0);
}

int rs_tf_normalize_path_win(rs_str_t in, rs_buf_t *out)
{
    return normalize(in, out, 1);
}
