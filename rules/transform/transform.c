/* SPDX-License-Identifier: MIT */
/* The transformation table: names (with ModSecurity's aliases), ids and dispatch. Lookup is
 * case-insensitive because ModSecurity's rule scanner matches t:<name> case-insensitively. */
#include "transform/tf_internal.h"

typedef struct {
    const char *name;
    rs_tf_fn fn;
} tf_entry_t;

/* Index = id. Id 0 ("none") never runs: the parser uses it to clear the chain. */
static const tf_entry_t tf_table[] = {
    {"none", NULL},
    {"base64Decode", rs_tf_base64_decode},
    {"base64DecodeExt", rs_tf_base64_decode_ext},
    {"base64Encode", rs_tf_base64_encode},
    {"cmdLine", rs_tf_cmd_line},
    {"compressWhitespace", rs_tf_compress_whitespace},
    {"cssDecode", rs_tf_css_decode},
    {"escapeSeqDecode", rs_tf_escape_seq_decode},
    {"hexDecode", rs_tf_hex_decode},
    {"hexEncode", rs_tf_hex_encode},
    {"htmlEntityDecode", rs_tf_html_entity_decode},
    {"jsDecode", rs_tf_js_decode},
    {"length", rs_tf_length},
    {"lowercase", rs_tf_lowercase},
    {"md5", rs_tf_md5},
    {"normalizePath", rs_tf_normalize_path},
    {"normalizePathWin", rs_tf_normalize_path_win},
    {"parityEven7bit", rs_tf_parity_even_7bit},
    {"parityOdd7bit", rs_tf_parity_odd_7bit},
    {"parityZero7bit", rs_tf_parity_zero_7bit},
    {"removeComments", rs_tf_remove_comments},
    {"removeCommentsChar", rs_tf_remove_comments_char},
    {"removeNulls", rs_tf_remove_nulls},
    {"removeWhitespace", rs_tf_remove_whitespace},
    {"replaceComments", rs_tf_replace_comments},
    {"replaceNulls", rs_tf_replace_nulls},
    {"sha1", rs_tf_sha1},
    {"sqlHexDecode", rs_tf_sql_hex_decode},
    {"trim", rs_tf_trim},
    {"trimLeft", rs_tf_trim_left},
    {"trimRight", rs_tf_trim_right},
    {"uppercase", rs_tf_uppercase},
    {"urlDecode", rs_tf_url_decode},
    {"urlDecodeUni", rs_tf_url_decode_uni},
    {"urlEncode", rs_tf_url_encode},
    {"utf8toUnicode", rs_tf_utf8_to_unicode},
};

#define TF_COUNT ((int)(sizeof(tf_table) / sizeof(tf_table[0])))

/* British spellings ModSecurity also accepts. */
static const struct {
    const char *alias, *canonical;
} tf_aliases[] = {
    {"normalisePath", "normalizePath"},
    {"normalisePathWin", "normalizePathWin"},
};

int rs_transform_lookup(rs_str_t name)
{
    for (int id = 0; id < TF_COUNT; id++)
        if (rs_str_ieq(name, tf_table[id].name))
            return id;
    for (size_t a = 0; a < sizeof(tf_aliases) / sizeof(tf_aliases[0]); a++)
        if (rs_str_ieq(name, tf_aliases[a].alias))
            return rs_transform_lookup(rs_str(tf_aliases[a].canonical, strlen(tf_aliases[a].canonical)));
    return -1;
}

const char *rs_transform_name(int id)
{
    return id >= 0 && id < TF_COUNT ? tf_table[id].name : NULL;
}

int rs_transform_count(void)
{
    return TF_COUNT;
}

int rs_transform_apply(int id, rs_str_t in, rs_buf_t *out)
{
    if (id <= RS_TRANSFORM_NONE || id >= TF_COUNT)
        return rs_tf_unchanged(out);
    return tf_table[id].fn(in, out);
}
