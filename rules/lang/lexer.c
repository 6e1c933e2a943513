/* SPDX-License-Identifier: MIT */
/* Lexer for SecRule files: joins backslash-continued lines into logical lines (remembering where every
 * byte came from, for FILE:LINE:COL messages), drops comments and blank lines, and splits a logical line
 * into the directive name and its arguments the way Apache/ModSecurity quote them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lang_internal.h"

void *lang_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n == 0 ? 1 : n);
    if (q == NULL) {
        fputs("edgeproxy: out of memory\n", stderr);
        abort();
    }
    return q;
}

void *lang_xcalloc(size_t n, size_t size)
{
    void *q = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);
    if (q == NULL) {
        fputs("edgeproxy: out of memory\n", stderr);
        abort();
    }
    return q;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

void lx_reader_init(lx_reader_t *rd, const char *src, size_t len)
{
    memset(rd, 0, sizeof(*rd));
    rd->src = src;
    rd->len = len;
    rd->line = 1;
    rd->col = 1;
}

void lx_reader_free(lx_reader_t *rd)
{
    free(rd->logical.s);
    free(rd->logical.pos);
    memset(&rd->logical, 0, sizeof(rd->logical));
}

static void logical_push(lx_reader_t *rd, char c, unsigned line, unsigned col)
{
    lx_text_t *t = &rd->logical;
    if (t->len + 2 > rd->logical_cap) {
        rd->logical_cap = rd->logical_cap < 256 ? 256 : rd->logical_cap * 2;
        t->s = lang_xrealloc(t->s, rd->logical_cap);
        t->pos = lang_xrealloc(t->pos, rd->logical_cap * sizeof(lx_pos_t));
    }
    t->s[t->len] = c;
    t->pos[t->len] = (lx_pos_t){line, col};
    t->len++;
}

/* Reads one logical line into rd->logical (may be blank). Returns 0 at end of input. */
static int read_logical(lx_reader_t *rd)
{
    if (rd->off >= rd->len)
        return 0;
    rd->logical.len = 0;
    while (rd->off < rd->len) {
        char c = rd->src[rd->off];
        if (c == '\\') {
            /* backslash-newline joins the next physical line, with nothing in between */
            size_t n = rd->off + 1;
            if (n < rd->len && rd->src[n] == '\r')
                n++;
            if (n < rd->len && rd->src[n] == '\n') {
                rd->off = n + 1;
                rd->line++;
                rd->col = 1;
                continue;
            }
        }
        if (c == '\n') {
            rd->off++;
            rd->line++;
            rd->col = 1;
            break;
        }
        if (c == '\r' && rd->off + 1 < rd->len && rd->src[rd->off + 1] == '\n') {
            rd->off++;
            rd->col++;
            continue;
        }
        logical_push(rd, c, rd->line, rd->col);
        rd->off++;
        rd->col++;
    }
    /* terminator and end position (one past the last byte) */
    lx_pos_t end = rd->logical.len ? rd->logical.pos[rd->logical.len - 1] : (lx_pos_t){rd->line, 1};
    if (rd->logical.len)
        end.col++;
    logical_push(rd, '\0', end.line, end.col);
    rd->logical.len--;
    return 1;
}

int lx_next_line(lx_reader_t *rd)
{
    while (read_logical(rd)) {
        size_t i = 0;
        while (i < rd->logical.len && is_space(rd->logical.s[i]))
            i++;
        if (i == rd->logical.len || rd->logical.s[i] == '#')
            continue;
        return 1;
    }
    return 0;
}

lx_pos_t lx_pos(const lx_text_t *t, size_t off)
{
    return t->pos[off < t->len ? off : t->len];
}

lx_text_t lx_sub(const lx_text_t *t, size_t off, size_t len)
{
    return (lx_text_t){t->s + off, len, t->pos + off};
}

/* A quote is escaped when an odd number of backslashes precede it. */
static int escaped_at(const char *s, size_t start, size_t i)
{
    size_t n = 0;
    while (i > start && s[i - 1] == '\\') {
        n++;
        i--;
    }
    return n & 1;
}

int lx_split(const lx_text_t *line, lx_directive_t *d, const char **err_msg, lx_pos_t *err_pos)
{
    memset(d, 0, sizeof(*d));
    const char *s = line->s;
    size_t i = 0, n = line->len;
    int first = 1;
    for (;;) {
        while (i < n && is_space(s[i]))
            i++;
        if (i >= n)
            break;
        lx_text_t tok = {0};
        int quoted = 0;
        if (!first && (s[i] == '"' || s[i] == '\'')) {
            char q = s[i];
            size_t start = i + 1, j = start;
            while (j < n && !(s[j] == q && !escaped_at(s, start, j)))
                j++;
            if (j >= n) {
                *err_msg = "missing closing quote";
                *err_pos = line->pos[i];
                lx_directive_free(d);
                return -1;
            }
            tok.s = lang_xrealloc(NULL, j - start + 1);
            tok.pos = lang_xrealloc(NULL, (j - start + 1) * sizeof(lx_pos_t));
            for (size_t k = start; k < j; k++) {
                if (s[k] == '\\' && k + 1 < j && s[k + 1] == q)
                    continue; /* \" stands for the quote itself */
                tok.pos[tok.len] = line->pos[k];
                tok.s[tok.len++] = s[k];
            }
            tok.s[tok.len] = '\0';
            tok.pos[tok.len] = line->pos[j];
            i = j + 1;
            quoted = 1;
            if (i < n && !is_space(s[i])) {
                *err_msg = "expected white space after closing quote";
                *err_pos = line->pos[i];
                free(tok.s);
                free(tok.pos);
                lx_directive_free(d);
                return -1;
            }
        } else {
            size_t start = i;
            while (i < n && !is_space(s[i]))
                i++;
            tok.len = i - start;
            tok.s = rs_strndup(s + start, tok.len);
            tok.pos = lang_xrealloc(NULL, (tok.len + 1) * sizeof(lx_pos_t));
            memcpy(tok.pos, line->pos + start, (tok.len + 1) * sizeof(lx_pos_t));
        }
        if (first) {
            d->name = tok;
            first = 0;
        } else {
            *LANG_PUSH(d->args, d->nargs) = tok;
            d->quoted_last = quoted;
        }
    }
    return 0;
}

void lx_directive_free(lx_directive_t *d)
{
    free(d->name.s);
    free(d->name.pos);
    for (size_t i = 0; i < d->nargs; i++) {
        free(d->args[i].s);
        free(d->args[i].pos);
    }
    free(d->args);
    memset(d, 0, sizeof(*d));
}
