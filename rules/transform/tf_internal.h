/* SPDX-License-Identifier: MIT */
/* Internal pieces shared by the transformation sources: the per-transformation entry points and the
 * small output-buffer helpers every one of them uses (begin, finish, "nothing changed"). */
#ifndef RS_TF_INTERNAL_H
#define RS_TF_INTERNAL_H

#include "transform/transform.h"

#include <string.h>

/** Every transformation: writes its result to out, returns 1 when it differs from in, else 0. */
typedef int (*rs_tf_fn)(rs_str_t in, rs_buf_t *out);

/** Fast path: the transformation leaves the input alone, so out holds nothing. */
static inline int rs_tf_unchanged(rs_buf_t *out)
{
    out->len = 0;
    if (out->base != NULL)
        out->base[0] = '\0';
    return 0;
}

/** Resets out and makes room for `cap` bytes plus the NUL; returns where to write. */
static inline unsigned char *rs_tf_begin(rs_buf_t *out, size_t cap)
{
    out->len = 0;
    rs_buf_reserve(out, cap);
    return (unsigned char *)out->base;
}

/** Seals `len` written bytes and reports whether they differ from the input. */
static inline int rs_tf_finish(rs_str_t in, rs_buf_t *out, size_t len)
{
    out->len = len;
    out->base[len] = '\0';
    return len != in.len || (len != 0 && memcmp(out->base, in.base, len) != 0);
}

/* Hex helpers with ModSecurity's exact arithmetic: no validation, wraps modulo 256. */
static inline int rs_tf_is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static inline int rs_tf_hex_digit_loose(unsigned char c)
{
    return c >= 'A' ? (c & 0xdf) - 'A' + 10 : c - '0';
}
static inline unsigned char rs_tf_x2c(const unsigned char *p)
{
    return (unsigned char)(rs_tf_hex_digit_loose(p[0]) * 16 + rs_tf_hex_digit_loose(p[1]));
}
/* isspace() of the C locale, which is what ModSecurity runs under. */
static inline int rs_tf_is_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}
static inline int rs_tf_is_odigit(unsigned char c)
{
    return c >= '0' && c <= '7';
}

/* decode.c */
int rs_tf_url_decode(rs_str_t in, rs_buf_t *out);
int rs_tf_url_decode_uni(rs_str_t in, rs_buf_t *out);
int rs_tf_html_entity_decode(rs_str_t in, rs_buf_t *out);
int rs_tf_js_decode(rs_str_t in, rs_buf_t *out);
int rs_tf_css_decode(rs_str_t in, rs_buf_t *out);
int rs_tf_escape_seq_decode(rs_str_t in, rs_buf_t *out);
int rs_tf_hex_decode(rs_str_t in, rs_buf_t *out);
int rs_tf_sql_hex_decode(rs_str_t in, rs_buf_t *out);
int rs_tf_utf8_to_unicode(rs_str_t in, rs_buf_t *out);

/* base64.c */
int rs_tf_base64_decode(rs_str_t in, rs_buf_t *out);
int rs_tf_base64_decode_ext(rs_str_t in, rs_buf_t *out);
int rs_tf_base64_encode(rs_str_t in, rs_buf_t *out);

/* text.c */
int rs_tf_cmd_line(rs_str_t in, rs_buf_t *out);
int rs_tf_compress_whitespace(rs_str_t in, rs_buf_t *out);
int rs_tf_remove_whitespace(rs_str_t in, rs_buf_t *out);
int rs_tf_remove_nulls(rs_str_t in, rs_buf_t *out);
int rs_tf_replace_nulls(rs_str_t in, rs_buf_t *out);
int rs_tf_lowercase(rs_str_t in, rs_buf_t *out);
int rs_tf_uppercase(rs_str_t in, rs_buf_t *out);
int rs_tf_trim(rs_str_t in, rs_buf_t *out);
int rs_tf_trim_left(rs_str_t in, rs_buf_t *out);
int rs_tf_trim_right(rs_str_t in, rs_buf_t *out);
int rs_tf_remove_comments(rs_str_t in, rs_buf_t *out);
int rs_tf_remove_comments_char(rs_str_t in, rs_buf_t *out);
int rs_tf_replace_comments(rs_str_t in, rs_buf_t *out);
int rs_tf_parity_even_7bit(rs_str_t in, rs_buf_t *out);
int rs_tf_parity_odd_7bit(rs_str_t in, rs_buf_t *out);
int rs_tf_parity_zero_7bit(rs_str_t in, rs_buf_t *out);
int rs_tf_length(rs_str_t in, rs_buf_t *out);
int rs_tf_hex_encode(rs_str_t in, rs_buf_t *out);
int rs_tf_url_encode(rs_str_t in, rs_buf_t *out);

/* path.c */
int rs_tf_normalize_path(rs_str_t in, rs_buf_t *out);
int rs_tf_normalize_path_win(rs_str_t in, rs_buf_t *out);

/* hash.c: raw binary digests, as ModSecurity's t:md5 / t:sha1 produce */
void rs_md5(const void *data, size_t len, unsigned char digest[16]);
void rs_sha1(const void *data, size_t len, unsigned char digest[20]);
int rs_tf_md5(rs_str_t in, rs_buf_t *out);
int rs_tf_sha1(rs_str_t in, rs_buf_t *out);

#endif
