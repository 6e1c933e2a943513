/* SPDX-License-Identifier: MIT */
/* Target lists of SecRule: "ARGS|!ARGS:foo|&TX:x|REQUEST_COOKIES:/^s/|XML:/xpath". Splits on '|' outside
 * quoted keys and /regex/ keys, resolves names and compiles regex selectors (case-insensitive). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lang_internal.h"

static char *fmt_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *fmt_msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = lang_xrealloc(NULL, (size_t)(n < 0 ? 0 : n) + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)(n < 0 ? 0 : n) + 1, fmt, ap);
    va_end(ap);
    return s;
}

void lang_target_free(rs_target_t *t)
{
    free(t->key);
    free(t->key_regex_src);
    if (t->key_regex != NULL)
        pcre2_code_free(t->key_regex);
    memset(t, 0, sizeof(*t));
}

/* Finds the end of a /regex/ key starting at s[start] == '/': the index of the closing unescaped '/'. */
static size_t regex_end(const char *s, size_t start, size_t n)
{
    for (size_t i = start + 1; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n)
            i++;
        else if (s[i] == '/')
            return i;
    }
    return n;
}

int lang_parse_target(const lx_text_t *t, rs_target_t *out, char **err, size_t *err_off)
{
    memset(out, 0, sizeof(*out));
    *err = NULL;
    *err_off = 0;
    const char *s = t->s;
    size_t n = t->len, i = 0;
    if (i < n && s[i] == '!') {
        out->is_negated = 1;
        i++;
    }
    if (i < n && s[i] == '&') {
        out->is_count = 1;
        i++;
    }
    size_t name_start = i;
    while (i < n && s[i] != ':')
        i++;
    rs_str_t name = rs_str(s + name_start, i - name_start);
    if (name.len == 0) {
        *err = fmt_msg("missing variable name in '%s'", s);
        *err_off = name_start;
        return -1;
    }
    int var = rs_var_lookup(name);
    if (var < 0) {
        *err = fmt_msg("unknown variable '%.*s'", (int)name.len, name.base);
        *err_off = name_start;
        return -1;
    }
    out->var = (uint16_t)var;
    out->line = lx_pos(t, 0).line;
    out->col = lx_pos(t, 0).col;
    if (i >= n)
        return 0;

    /* VAR:key */
    size_t key_start = ++i;
    if (!(rs_var_table[var].flags & RS_VF_COLLECTION)) {
        *err = fmt_msg("variable '%s' takes no key", rs_var_table[var].name);
        *err_off = key_start;
        return -1;
    }
    if (key_start >= n) {
        *err = fmt_msg("missing key after '%s:'", rs_var_table[var].name);
        *err_off = key_start;
        return -1;
    }
    const char *key = s + key_start;
    size_t key_len = n - key_start;
    if (key_len >= 2 && key[0] == '\'' && key[key_len - 1] == '\'') {
        key++;
        key_len -= 2;
    } else if (key[0] == '/' && var != RS_VAR_XML) {
        size_t end = regex_end(s, key_start, n);
        if (end != n - 1) {
            *err = fmt_msg("bad regex key '%.*s' (expected /regex/)", (int)key_len, key);
            *err_off = key_start;
            return -1;
        }
        int ec;
        PCRE2_SIZE eo;
        out->key_regex_src = rs_strndup(key + 1, key_len - 2);
        out->key_regex = pcre2_compile((PCRE2_SPTR)out->key_regex_src, key_len - 2, PCRE2_CASELESS, &ec, &eo, NULL);
        if (out->key_regex == NULL) {
            PCRE2_UCHAR buf[160];
            pcre2_get_error_message(ec, buf, sizeof(buf));
            *err = fmt_msg("bad regex key /%s/: %s at offset %zu", out->key_regex_src, (const char *)buf, (size_t)eo);
            *err_off = key_start;
            lang_target_free(out);
            return -1;
        }
        return 0;
    }
    out->key = rs_strndup(key, key_len);
    out->key_len = key_len;
    /* keys compare case-insensitively everywhere in v3 except XPath expressions */
    if (var != RS_VAR_XML) {
        for (size_t k = 0; k < key_len; k++)
            out->key[k] = (char)tolower((unsigned char)out->key[k]);
    }
    return 0;
}

int lang_parse_targets(const lx_text_t *t, rs_target_t **out, size_t *nout, lang_error_fn on_error, void *ctx)
{
    const char *s = t->s;
    size_t n = t->len, i = 0;
    int nerr = 0;
    *out = NULL;
    *nout = 0;
    if (n == 0) {
        on_error(ctx, lx_pos(t, 0), "empty variable list");
        return -1;
    }
    while (i <= n) {
        size_t start = i;
        /* find the end of this element: '|' outside 'quoted' and /regex/ keys */
        int after_colon = 0;
        while (i < n && s[i] != '|') {
            if (s[i] == ':' && !after_colon) {
                after_colon = 1;
                if (i + 1 < n && s[i + 1] == '\'') {
                    const char *q = memchr(s + i + 2, '\'', n - i - 2);
                    i = q ? (size_t)(q - s) + 1 : n;
                    continue;
                }
                if (i + 1 < n && s[i + 1] == '/') {
                    /* XML:/xpath is text, everything else a regex */
                    size_t nm = start;
                    while (nm < i && (s[nm] == '!' || s[nm] == '&'))
                        nm++;
                    if (!rs_str_ieq(rs_str(s + nm, i - nm), "XML")) {
                        size_t e = regex_end(s, i + 1, n);
                        i = e < n ? e + 1 : n;
                        continue;
                    }
                }
            }
            i++;
        }
        lx_text_t el = lx_sub(t, start, i - start);
        /* tolerate spaces around '|' */
        while (el.len && (el.s[0] == ' ' || el.s[0] == '\t'))
            el = lx_sub(&el, 1, el.len - 1);
        while (el.len && (el.s[el.len - 1] == ' ' || el.s[el.len - 1] == '\t'))
            el.len--;
        char *copy = rs_strndup(el.s, el.len); /* element as its own NUL-terminated text */
        lx_text_t elc = {copy, el.len, el.pos};
        rs_target_t tg;
        char *err;
        size_t err_off;
        if (el.len == 0) {
            on_error(ctx, lx_pos(t, start), "empty variable in list");
            nerr++;
        } else if (lang_parse_target(&elc, &tg, &err, &err_off) != 0) {
            on_error(ctx, lx_pos(&el, err_off), err);
            free(err);
            nerr++;
        } else {
            *LANG_PUSH(*out, *nout) = tg;
        }
        free(copy);
        i++; /* past '|' (or past the end) */
    }
    if (nerr) {
        for (size_t k = 0; k < *nout; k++)
            lang_target_free(&(*out)[k]);
        free(*out);
        *out = NULL;
        *nout = 0;
        return -1;
    }
    return 0;
}
