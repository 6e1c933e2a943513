/* SPDX-License-Identifier: MIT */
/* Macro strings: "%{tx.anomaly_score}", "%{MATCHED_VAR}", "%{rule.id}" split into literal and variable
 * parts once at load, so the engine only concatenates at run time. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lang_internal.h"

static void push_part(rs_macro_t *m, uint8_t kind, uint16_t var, const char *text, size_t len)
{
    /* adjacent literals are merged so a constant string is always one part */
    if (kind == RS_MP_LITERAL && m->nparts != 0 && m->parts[m->nparts - 1].kind == RS_MP_LITERAL) {
        rs_macro_part_t *last = &m->parts[m->nparts - 1];
        last->text = lang_xrealloc(last->text, last->len + len + 1);
        memcpy(last->text + last->len, text, len);
        last->len += len;
        last->text[last->len] = '\0';
        return;
    }
    rs_macro_part_t *p = LANG_PUSH(m->parts, m->nparts);
    p->kind = kind;
    p->var = var;
    if (text != NULL) {
        p->text = rs_strndup(text, len);
        p->len = len;
        if (kind == RS_MP_VAR && var != RS_VAR_XML) {
            for (size_t i = 0; i < len; i++)
                p->text[i] = (char)tolower((unsigned char)p->text[i]);
        }
    }
}

int rs_macro_parse(const char *text, size_t len, rs_macro_t *out, char **err)
{
    memset(out, 0, sizeof(*out));
    if (err != NULL)
        *err = NULL;
    out->raw = rs_strndup(text, len);
    size_t i = 0, lit_start = 0;
    while (i + 1 < len) {
        if (!(text[i] == '%' && text[i + 1] == '{')) {
            i++;
            continue;
        }
        const char *close = memchr(text + i + 2, '}', len - i - 2);
        if (close == NULL)
            break; /* no closing brace: the rest is literal, as ModSecurity reads it */
        size_t inner_off = i + 2, inner_len = (size_t)(close - (text + inner_off));
        const char *inner = text + inner_off;
        size_t name_len = 0;
        while (name_len < inner_len && inner[name_len] != '.' && inner[name_len] != ':')
            name_len++;
        int var = rs_var_lookup(rs_str(inner, name_len));
        if (var < 0) {
            if (err != NULL) {
                size_t n = (size_t)snprintf(NULL, 0, "unknown variable '%.*s' in macro", (int)name_len, inner);
                *err = malloc(n + 1);
                if (*err != NULL)
                    snprintf(*err, n + 1, "unknown variable '%.*s' in macro", (int)name_len, inner);
            }
            rs_macro_free(out);
            return -1;
        }
        if (i > lit_start)
            push_part(out, RS_MP_LITERAL, 0, text + lit_start, i - lit_start);
        if (name_len < inner_len)
            push_part(out, RS_MP_VAR, (uint16_t)var, inner + name_len + 1, inner_len - name_len - 1);
        else
            push_part(out, RS_MP_VAR, (uint16_t)var, NULL, 0);
        i = (size_t)(close - text) + 1;
        lit_start = i;
    }
    if (len > lit_start)
        push_part(out, RS_MP_LITERAL, 0, text + lit_start, len - lit_start);
    return 0;
}

void rs_macro_free(rs_macro_t *m)
{
    for (size_t i = 0; i < m->nparts; i++)
        free(m->parts[i].text);
    free(m->parts);
    free(m->raw);
    memset(m, 0, sizeof(*m));
}
