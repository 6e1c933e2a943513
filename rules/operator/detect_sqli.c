/* SPDX-License-Identifier: MIT */
/* @detectSQLi: a small SQL tokenizer run in three quoting contexts (value as-is, value placed after an opening
 * single quote, after an opening double quote). Tokens are classified, folded (multi-word keywords, unary signs,
 * arithmetic, inline comments) and the resulting sequence is checked against structural rules describing how an
 * injection continues a query. No heap; work is linear in the input and capped in tokens. */
#include "detect.h"
#include "detect_sqli_words.h"

#include <stdint.h>
#include <string.h>

/* Token classes; they are also the characters of the fingerprint. */
enum {
    T_STRING = 's',
    T_NUMBER = '1',
    T_BAREWORD = 'n',
    T_VARIABLE = 'v',
    T_KEYWORD = 'k',
    T_STATEMENT = 'E',
    T_UNION = 'U',
    T_CLAUSE = 'B',
    T_DELAY = 'T',
    T_FUNCTION = 'f',
    T_OPERATOR = 'o',
    T_LOGIC = '&',
    T_COMMENT = 'c',
    T_LPAREN = '(',
    T_RPAREN = ')',
    T_COMMA = ',',
    T_SEMICOLON = ';',
    T_OTHER = '?',
};

/* Operator flavours, so comparisons can be told apart from arithmetic and unary signs. */
enum { OP_COMPARE = 1, OP_ARITH = 2, OP_UNARY_OK = 4, OP_CAST = 8, OP_WORD = 16 };

#define MAX_TOKENS 48

typedef struct {
    char type;
    unsigned char op;   /* OP_* flags for operators */
    unsigned char word; /* SW_* id for keywords/functions, 0 otherwise */
    unsigned char risky;
    unsigned char unterminated; /* strings/comments that run to the end of input */
    unsigned char call;         /* bareword/function immediately followed by '(' */
    unsigned char quoted_ident; /* `identifier` */
    size_t pos, len;            /* source text; for strings the content between the quotes */
} sql_token;

typedef struct {
    const char *s;
    size_t len;
    size_t pos;
    int in_exec_comment;   /* inside MySQL's executable comment: its body is code */
    int backslash_escapes; /* MySQL reads \\' inside a string as a quote; standard SQL does not */
} sql_lexer;

/* Byte classes, looked up once per byte instead of chains of comparisons. */
/* CC_SPLITS_WORDS (digits, NBSP) and CC_NOT_DIGIT (other word bytes) serve no_rule_can_fire. */
enum { CC_WORD = 1, CC_DIGIT = 2, CC_SPACE = 4, CC_SPLITS_WORDS = 8, CC_NOT_DIGIT = 16 };

/* word: letters, digits, '_', '$' and every byte >= 0x80; space: what SQL engines skip, NUL included, and 0xa0 (NBSP,
 * which MySQL and MSSQL skip in some builds) which is also a word byte. Range designators are a GNU extension. */
static const unsigned char char_class[256] = {
    ['a' ... 'z'] = CC_WORD | CC_NOT_DIGIT,
    ['A' ... 'Z'] = CC_WORD | CC_NOT_DIGIT,
    ['0' ... '9'] = CC_WORD | CC_DIGIT | CC_SPLITS_WORDS,
    ['_'] = CC_WORD | CC_NOT_DIGIT,
    ['$'] = CC_WORD | CC_NOT_DIGIT,
    [0x80 ... 0x9f] = CC_WORD | CC_NOT_DIGIT,
    [0xa0] = CC_WORD | CC_SPACE | CC_SPLITS_WORDS | CC_NOT_DIGIT,
    [0xa1 ... 0xff] = CC_WORD | CC_NOT_DIGIT,
    [' '] = CC_SPACE,
    ['\t'] = CC_SPACE,
    ['\n'] = CC_SPACE,
    ['\r'] = CC_SPACE,
    ['\v'] = CC_SPACE,
    ['\f'] = CC_SPACE,
    [0] = CC_SPACE,
};

static inline int is_word_char(unsigned char c)
{
    return char_class[c] & CC_WORD;
}

static inline int is_digit(unsigned char c)
{
    return char_class[c] & CC_DIGIT;
}

static inline int is_space(unsigned char c)
{
    return char_class[c] & CC_SPACE;
}

/* Skips a quoted run starting after the opening quote; returns the index after the closing quote, or len. */
static size_t skip_quoted(const char *s, size_t len, size_t i, char quote, int backslash_escapes, int *unterminated)
{
    while (i < len) {
        if (backslash_escapes && s[i] == '\\' && i + 1 < len) {
            i += 2;
            continue;
        }
        if (s[i] == quote) {
            if (i + 1 < len && s[i + 1] == quote) { /* doubled quote is an escaped quote */
                i += 2;
                continue;
            }
            *unterminated = 0;
            return i + 1;
        }
        i++;
    }
    *unterminated = 1;
    return len;
}

static size_t skip_spaces(const char *s, size_t len, size_t i)
{
    while (i < len && is_space((unsigned char)s[i]))
        i++;
    return i;
}

static void classify_operator(const char *p, size_t n, sql_token *t)
{
    t->type = T_OPERATOR;
    if ((n == 2 && ((p[0] == '&' && p[1] == '&') || (p[0] == '|' && p[1] == '|')))) {
        t->type = T_LOGIC;
        return;
    }
    if (n == 1 && (p[0] == '=' || p[0] == '<' || p[0] == '>'))
        t->op = OP_COMPARE;
    else if (n >= 2 &&
             (p[0] == '<' || p[0] == '>' || p[0] == '!' || p[0] == '@' || p[0] == '?' || p[0] == '#' || p[1] == '=' || p[1] == '>'))
        t->op = OP_COMPARE;
    else if (n == 2 && p[0] == ':' && p[1] == ':')
        t->op = OP_CAST;
    else if (n == 1 && p[0] == '?')
        t->op = OP_COMPARE; /* PostgreSQL jsonb key test */
    else if (n == 1 && (p[0] == '-' || p[0] == '+' || p[0] == '!' || p[0] == '~'))
        t->op = OP_ARITH | OP_UNARY_OK;
    else
        t->op = OP_ARITH;
}

/* Length of the operator at s[i], 0 when there is none. */
static size_t operator_length(const char *s, size_t len, size_t i)
{
    unsigned char c1 = i + 1 < len ? (unsigned char)s[i + 1] : 0;
    unsigned char c2 = i + 2 < len ? (unsigned char)s[i + 2] : 0;
    switch (s[i]) {
    case '=':
        return c1 == '=' ? (c2 == '=' ? 3 : 2) : 1;
    case '!':
        if (c1 == '=')
            return c2 == '=' ? 3 : 2;
        return c1 == '<' || c1 == '>' ? 2 : 1;
    case '<':
        if (c1 == '=')
            return c2 == '>' ? 3 : 2;
        return c1 == '>' || c1 == '<' || c1 == '@' ? 2 : 1;
    case '-':
        if (c1 == '>')
            return c2 == '>' ? 3 : 2;
        return 1;
    case '#': /* only reached before '>' or '-' (otherwise a comment) */
        if (c1 == '>')
            return c2 == '>' ? 3 : 2;
        return c1 == '-' ? 2 : 0;
    case '>':
        return c1 == '=' || c1 == '>' ? 2 : 1;
    case ':':
        return c1 == '=' || c1 == ':' ? 2 : 0;
    case '|':
        return c1 == '|' ? 2 : 1;
    case '&':
        return c1 == '&' ? 2 : 1;
    case '?':
        return c1 == '|' || c1 == '&' ? 2 : 1;
    case '^':
        return c1 == '=' ? 2 : 1;
    case '+':
    case '*':
    case '/':
    case '%':
    case '~':
        return 1;
    default:
        return 0;
    }
}

/* Reads one token; returns 0 at end of input. */
static int lex_one(sql_lexer *lx, sql_token *t)
{
    const char *s = lx->s;
    size_t len = lx->len;
    memset(t, 0, sizeof(*t));
    for (;;) {
        size_t i = skip_spaces(s, len, lx->pos);
        lx->pos = i;
        if (i >= len)
            return 0;
        t->pos = i;
        unsigned char c = (unsigned char)s[i];
        unsigned char c1 = i + 1 < len ? (unsigned char)s[i + 1] : 0;

        if (c == '/' && c1 == '*') {
            if (i + 2 < len && s[i + 2] == '!') { /* MySQL executable comment: strip marker and version */
                size_t j = i + 3;
                while (j < len && is_digit((unsigned char)s[j]))
                    j++;
                lx->pos = j;
                lx->in_exec_comment = 1;
                continue;
            }
            const char *end = NULL;
            for (size_t j = i + 2; j + 1 < len; j++) {
                if (s[j] == '*' && s[j + 1] == '/') {
                    end = s + j + 2;
                    break;
                }
            }
            t->type = T_COMMENT;
            t->unterminated = end == NULL;
            lx->pos = end ? (size_t)(end - s) : len;
            return 1;
        }
        if (c == '*' && c1 == '/' && lx->in_exec_comment) {
            lx->in_exec_comment = 0;
            lx->pos = i + 2;
            continue;
        }
        if ((c == '-' && c1 == '-') || (c == '#' && c1 != '>' && c1 != '-')) {
            size_t j = i;
            while (j < len && s[j] != '\n')
                j++;
            t->type = T_COMMENT;
            t->unterminated = 1;
            lx->pos = j;
            return 1;
        }
        if (c == '\'' || c == '"') {
            int unterminated = 0;
            lx->pos = skip_quoted(s, len, i + 1, (char)c, lx->backslash_escapes, &unterminated);
            t->type = T_STRING;
            t->unterminated = (unsigned char)unterminated;
            t->pos = i + 1;
            t->len = lx->pos - (i + 1) - (unterminated ? 0 : 1);
            return 1;
        }
        if (c == '`') { /* quoted identifier */
            int unterminated = 0;
            lx->pos = skip_quoted(s, len, i + 1, '`', 0, &unterminated);
            /* `db`.`table` and `db`.table are one qualified name */
            while (!unterminated && lx->pos + 1 < len && s[lx->pos] == '.') {
                if (s[lx->pos + 1] == '`') {
                    lx->pos = skip_quoted(s, len, lx->pos + 2, '`', 0, &unterminated);
                } else if (is_word_char((unsigned char)s[lx->pos + 1])) {
                    size_t j = lx->pos + 1;
                    while (j < len && is_word_char((unsigned char)s[j]))
                        j++;
                    lx->pos = j;
                } else {
                    break;
                }
            }
            t->type = T_BAREWORD;
            t->quoted_ident = 1;
            return 1;
        }
        if (c == '(' || c == ')' || c == ',' || c == ';') {
            t->type = (char)c;
            lx->pos = i + 1;
            return 1;
        }
        if (c == '@') {
            size_t j = i + 1;
            if (j < len && s[j] == '@')
                j++;
            if (j < len && (s[j] == '`' || s[j] == '\'' || s[j] == '"')) {
                int unterminated = 0;
                j = skip_quoted(s, len, j + 1, s[j], lx->backslash_escapes, &unterminated);
            } else {
                while (j < len && (is_word_char((unsigned char)s[j]) || s[j] == '.'))
                    j++;
            }
            t->type = j > i + 1 ? T_VARIABLE : T_OTHER;
            if (t->type == T_OTHER && j < len && s[j] == '>') { /* PostgreSQL @> containment operator */
                t->type = T_OPERATOR;
                t->op = OP_COMPARE;
                j++;
            }
            lx->pos = j;
            return 1;
        }
        if (is_digit(c) || (c == '.' && is_digit(c1))) {
            size_t j = i;
            int plain_digits = 1;
            if (c == '0' && (c1 == 'x' || c1 == 'X' || c1 == 'b' || c1 == 'B')) {
                j = i + 2;
                while (j < len && is_word_char((unsigned char)s[j]))
                    j++;
            } else {
                while (j < len && is_digit((unsigned char)s[j]))
                    j++;
                if (j < len && s[j] == '.') {
                    plain_digits = 0;
                    j++;
                    while (j < len && is_digit((unsigned char)s[j]))
                        j++;
                }
                if (j + 1 < len && (s[j] == 'e' || s[j] == 'E') &&
                    (is_digit((unsigned char)s[j + 1]) ||
                     ((s[j + 1] == '+' || s[j + 1] == '-') && j + 2 < len && is_digit((unsigned char)s[j + 2])))) {
                    j += 2;
                    plain_digits = 0;
                    while (j < len && is_digit((unsigned char)s[j]))
                        j++;
                }
            }
            /* Digits running into letters ("1st", "5desc") form an identifier; a decimal or exponent number ends
             * where the letters start, as in MySQL ("1e1union", "1.union"). */
            if (plain_digits && j < len && is_word_char((unsigned char)s[j]) && !(s[j] == 'e' || s[j] == 'E')) {
                while (j < len && is_word_char((unsigned char)s[j]))
                    j++;
                t->type = T_BAREWORD;
            } else {
                t->type = T_NUMBER;
            }
            lx->pos = j;
            return 1;
        }
        if (is_word_char(c)) {
            size_t j = i;
            while (j < len &&
                   (is_word_char((unsigned char)s[j]) || (s[j] == '.' && j + 1 < len && is_word_char((unsigned char)s[j + 1]))))
                j++;
            /* N'..', X'..', B'..', E'..' literal prefixes */
            if (j == i + 1 && j < len && s[j] == '\'' &&
                (c == 'n' || c == 'N' || c == 'x' || c == 'X' || c == 'b' || c == 'B' || c == 'e' || c == 'E')) {
                int unterminated = 0;
                lx->pos = skip_quoted(s, len, j + 1, '\'', lx->backslash_escapes, &unterminated);
                t->type = T_STRING;
                t->unterminated = (unsigned char)unterminated;
                t->pos = j + 1;
                t->len = lx->pos - (j + 1) - (unterminated ? 0 : 1);
                return 1;
            }
            size_t after = skip_spaces(s, len, j);
            int paren_next = after < len && s[after] == '(';
            const sql_word *w = sql_word_lookup(s + i, j - i);
            const char *dot = w ? NULL : memchr(s + i, '.', j - i);
            if (dot) { /* information_schema.tables: the qualifier tells */
                const sql_word *q = sql_word_lookup(s + i, (size_t)(dot - (s + i)));
                if (q && q->cls == T_BAREWORD)
                    w = q;
            }
            t->type = T_BAREWORD;
            if (w) {
                t->type = w->cls;
                t->word = w->id;
                t->risky = w->risky;
                if (w->cls == T_FUNCTION && !paren_next)
                    t->type = T_BAREWORD; /* "left", "user", "count" are words unless called */
                if (w->cls == T_STATEMENT && paren_next && w->also_function)
                    t->type = T_FUNCTION; /* REPLACE(...), INSERT(...) */
                if (w->cls == T_KEYWORD && w->also_function && paren_next)
                    t->type = T_FUNCTION; /* IF(...), EXISTS(...) */
                if (w->cls == T_OPERATOR)
                    t->op = OP_WORD | (w->id == SW_NOT ? (OP_COMPARE | OP_UNARY_OK) : OP_COMPARE);
            }
            t->call = (unsigned char)(paren_next && after == j);
            lx->pos = j;
            return 1;
        }
        /* operators: the longest of ===, !==, <=>, ->>, #>>, ==, <=, >=, <>, !=, :=, ::, ||, &&, <<, >>, ->, <@, ?|,
         * ?&, !<, !>, ^=, #>, #- ('@' operators were read above), else one of =<>+-*\/%^|&~!? */
        size_t op_len = operator_length(s, len, i);
        if (op_len) {
            classify_operator(s + i, op_len, t);
            lx->pos = i + op_len;
            return 1;
        }
        t->type = T_OTHER;
        lx->pos = i + 1;
        return 1;
    }
}

static int next_token(sql_lexer *lx, sql_token *t)
{
    if (!lex_one(lx, t))
        return 0;
    if (t->type != T_STRING)
        t->len = lx->pos > t->pos ? lx->pos - t->pos : 0;
    return 1;
}

static int is_operand(char type)
{
    return type == T_STRING || type == T_NUMBER || type == T_BAREWORD || type == T_VARIABLE;
}

/* Tokenizes and folds. Returns the number of folded tokens; *inline_comment is set when a comment sat between
 * tokens (used as whitespace, a classic filter evasion). */
static size_t tokenize_folded(const char *s, size_t len, char context, int backslash_escapes, sql_token *out, int *inline_comment)
{
    sql_lexer lx = {s, len, 0, 0, backslash_escapes};
    size_t n = 0;
    *inline_comment = 0;
    if (context) {
        int unterminated = 0;
        lx.pos = skip_quoted(s, len, 0, context, backslash_escapes, &unterminated);
        memset(&out[0], 0, sizeof(out[0]));
        out[0].type = T_STRING;
        out[0].len = lx.pos ? lx.pos - 1 : 0;
        n = 1;
    }
    sql_token t;
    int raw = 0;
    while (n < MAX_TOKENS && raw < MAX_TOKENS * 4 && next_token(&lx, &t)) {
        raw++;
        sql_token *prev = n ? &out[n - 1] : NULL;
        /* A comment followed by more code is whitespace: drop it but remember it. */
        if (prev && prev->type == T_COMMENT) {
            n--;
            *inline_comment = 1;
            prev = n ? &out[n - 1] : NULL;
        }
        if (prev && (prev->type == T_UNION || prev->type == T_STATEMENT) && t.type == T_KEYWORD &&
            (t.word == SW_ALL || t.word == SW_DISTINCT || t.word == SW_TOP || t.word == SW_INTO))
            continue; /* UNION ALL, SELECT DISTINCT, INSERT INTO */
        if (prev && prev->type == T_KEYWORD && (prev->word == SW_ORDER || prev->word == SW_GROUP) && t.type == T_KEYWORD &&
            t.word == SW_BY) {
            prev->type = T_CLAUSE;
            continue;
        }
        if (prev && prev->type == T_KEYWORD && prev->word == SW_WAITFOR && t.type == T_KEYWORD &&
            (t.word == SW_DELAY || t.word == SW_TIME)) {
            prev->type = T_DELAY;
            continue;
        }
        if (prev && prev->type == T_OPERATOR && (prev->word == SW_NOT || prev->word == SW_IS) && t.type == T_OPERATOR)
            continue; /* IS NOT, NOT LIKE, NOT IN, NOT BETWEEN */
        if (prev && prev->type == T_OPERATOR && (prev->op & OP_CAST) && (t.type == T_BAREWORD || t.type == T_KEYWORD)) {
            n--; /* value::type is still the value */
            continue;
        }
        /* Unary sign/NOT directly before an operand where no operand precedes: drop it. */
        if (is_operand(t.type) || t.type == T_FUNCTION || t.type == T_LPAREN) {
            if (prev && prev->type == T_OPERATOR && (prev->op & OP_UNARY_OK) &&
                (n < 2 || !(is_operand(out[n - 2].type) || out[n - 2].type == T_RPAREN))) {
                n--;
                prev = n ? &out[n - 1] : NULL;
            }
            /* Arithmetic between numbers/identifiers folds into one operand (1+1, x*2, -1). */
            if (t.type == T_NUMBER && n >= 2 && prev->type == T_OPERATOR && (prev->op & OP_ARITH) &&
                (out[n - 2].type == T_NUMBER || out[n - 2].type == T_BAREWORD || out[n - 2].type == T_VARIABLE)) {
                n--;
                continue;
            }
        }
        out[n++] = t;
    }
    return n;
}

static char type_at(const sql_token *t, size_t n, size_t i)
{
    return i < n ? t[i].type : 0;
}

/* What may legitimately end an injected boolean expression: nothing, a comment, another statement or clause. */
static int is_terminator(const sql_token *t, size_t n, size_t i)
{
    char c = type_at(t, n, i);
    /* a dangling quote at the very end closes the application's own quote */
    int dangling_quote = c == T_STRING && t[i].unterminated && i + 1 == n && t[i].len <= 8;
    return c == 0 || c == T_COMMENT || c == T_SEMICOLON || c == T_LOGIC || c == T_UNION || c == T_CLAUSE || c == T_RPAREN ||
           dangling_quote || (c == T_KEYWORD && (t[i].word == SW_LIMIT || t[i].word == SW_INTO || t[i].word == SW_FROM));
}

static int is_value(char c)
{
    return c == T_STRING || c == T_NUMBER || c == T_VARIABLE;
}

/* Does a statement that runs SQL begin at t[i]? */
static int statement_at(const sql_token *t, size_t n, size_t i)
{
    char c = type_at(t, n, i);
    if (c == T_DELAY)
        return 1;
    if (c == T_LPAREN)
        return type_at(t, n, i + 1) == T_STATEMENT && statement_at(t, n, i + 1);
    if (c != T_STATEMENT)
        return 0;
    char a = type_at(t, n, i + 1), b = type_at(t, n, i + 2);
    switch (t[i].word) {
    case SW_SELECT:
        if (a == T_LPAREN) /* select (1), select (select ...); not "select() also ..." */
            return b == T_STATEMENT || is_value(b) || b == T_FUNCTION || b == T_LPAREN;
        if (a == T_OPERATOR || is_value(a) || a == T_FUNCTION)
            return b == 0 || b == T_COMMA || b == T_COMMENT || b == T_KEYWORD || b == T_UNION || b == T_SEMICOLON ||
                   a == T_FUNCTION || b == T_LOGIC || b == T_OPERATOR;
        if (a == T_BAREWORD && t[i + 1].risky)
            return 1; /* select pg_sleep, select information_schema.x */
        if (a == T_BAREWORD)
            return b == T_COMMA || b == T_CLAUSE ||
                   (b == T_KEYWORD && t[i + 2].word == SW_FROM && type_at(t, n, i + 3) == T_BAREWORD &&
                    (is_terminator(t, n, i + 4) || type_at(t, n, i + 4) == T_KEYWORD));
        return 0;
    case SW_INSERT:
        return a == T_BAREWORD && (b == T_LPAREN || t[i + 2].word == SW_VALUES || (b == T_STATEMENT && t[i + 2].word == SW_SELECT));
    case SW_DELETE: /* "delete from cart" is a button label; DELETE FROM t WHERE / ; / -- is SQL */
        return a == T_KEYWORD && t[i + 1].word == SW_FROM && b == T_BAREWORD &&
               (type_at(t, n, i + 3) == T_SEMICOLON || type_at(t, n, i + 3) == T_COMMENT ||
                (type_at(t, n, i + 3) == T_KEYWORD && (t[i + 3].word == SW_WHERE || t[i + 3].word == SW_LIMIT)));
    case SW_UPDATE:
        return a == T_BAREWORD && b == T_KEYWORD && t[i + 2].word == SW_SET;
    case SW_DROP:
    case SW_CREATE:
    case SW_ALTER:
    case SW_TRUNCATE:
        return (a == T_KEYWORD && t[i + 1].word == SW_TABLE_LIKE && (b == T_BAREWORD || b == T_KEYWORD)) ||
               (t[i].word == SW_DROP && a == T_BAREWORD && b == T_SEMICOLON);
    case SW_EXEC: /* exec xp_cmdshell 'dir', exec('...'), exec @sql; not "execute modified versions" */
        return a == T_STRING || a == T_VARIABLE || (a == T_LPAREN && (b == T_STRING || b == T_VARIABLE || b == T_STATEMENT)) ||
               (a == T_BAREWORD && (b == 0 || b == T_STRING || b == T_VARIABLE || b == T_SEMICOLON || b == T_COMMENT ||
                                    b == T_NUMBER || b == T_COMMA));
    case SW_DECLARE:
        return a == T_VARIABLE;
    case SW_SHUTDOWN: /* a lone "shutdown" is an ordinary word; see judge() for "; shutdown" */
        return a == T_COMMENT || a == T_SEMICOLON;
    default:
        return a == T_VARIABLE || a == T_FUNCTION;
    }
}

/* After a logic operator at t[i-1]: does what follows read as an injected condition? `strict` (no quote closed
 * before) demands a comparison or function so that "5 or 6" stays prose. */
static int condition_at(const sql_token *t, size_t n, size_t i, int strict)
{
    while (type_at(t, n, i) == T_OPERATOR && (t[i].op & OP_UNARY_OK))
        i++;
    char c = type_at(t, n, i);
    if (c == T_FUNCTION || c == T_VARIABLE)
        return 1;
    if (c == T_LPAREN) { /* (select ...), (sleep(1)), ((...)), or a condition in parentheses; not "(0, 0)" */
        char d = type_at(t, n, i + 1);
        if (is_value(d) && type_at(t, n, i + 2) == T_RPAREN && type_at(t, n, i + 3) == T_OPERATOR && (t[i + 3].op & OP_COMPARE))
            return 1; /* (1)=(1) */
        return d == T_STATEMENT || d == T_FUNCTION || d == T_LPAREN || condition_at(t, n, i + 1, strict);
    }
    if (c == T_STATEMENT)
        return statement_at(t, n, i);
    if (c == T_STRING || c == T_NUMBER) {
        char d = type_at(t, n, i + 1);
        if (c == T_STRING && d == T_OPERATOR && (t[i + 1].op & OP_COMPARE) && !(t[i + 1].op & OP_WORD) && type_at(t, n, i + 2) != 0)
            return 1; /* OR 'literal' <symbol operator> ... */
        if (d == T_OPERATOR && (t[i + 1].op & OP_COMPARE)) {
            char e = type_at(t, n, i + 2);
            if (e == T_LPAREN || e == T_FUNCTION)
                return 1;
            return (is_operand(e) || e == 0) && (e == 0 || is_terminator(t, n, i + 3));
        }
        if (strict)
            return d == T_COMMENT || d == T_SEMICOLON || (d == T_LOGIC && condition_at(t, n, i + 2, strict));
        if (c == T_STRING && t[i].unterminated && t[i].len > 8)
            return 0; /* "BSD *or* GPL, not "and". Closes: ..." is prose that happens to quote a word */
        return is_terminator(t, n, i + 1);
    }
    if (c == T_BAREWORD) {
        char d = type_at(t, n, i + 1);
        if (!strict && t[i].call)
            return 1; /* ' and some_function(... */
        if (d == T_OPERATOR && (t[i + 1].op & OP_COMPARE)) {
            char e = type_at(t, n, i + 2);
            return e == T_LPAREN || e == T_FUNCTION || e == 0 || (is_operand(e) && is_terminator(t, n, i + 3));
        }
        return 0;
    }
    return 0;
}

/* "1=1", "'a'='a'", "x like x": the same literal on both sides of an equality. */
static int tautology_at(const char *src, const sql_token *t, size_t n, size_t i)
{
    if (i + 2 >= n || !is_value(t[i].type) || t[i].type != t[i + 2].type || t[i + 1].type != T_OPERATOR ||
        !(t[i + 1].op & OP_COMPARE))
        return 0;
    const char *op = src + t[i + 1].pos;
    int equality = (t[i + 1].len == 1 && op[0] == '=') || (t[i + 1].len == 2 && op[0] == '=' && op[1] == '=') ||
                   (t[i + 1].len == 4 && (op[0] == 'l' || op[0] == 'L'));
    return equality && t[i].len == t[i + 2].len && memcmp(src + t[i].pos, src + t[i + 2].pos, t[i].len) == 0;
}

/* Is everything from t[from] to the last token an expression closed by a trailing comment? ("x'-email--") */
static int expression_then_comment(const sql_token *t, size_t n, size_t from)
{
    if (n < from + 2 || n > from + 10 || t[n - 1].type != T_COMMENT)
        return 0;
    for (size_t i = from; i + 1 < n; i++) {
        char c = t[i].type;
        if (!(is_operand(c) || c == T_OPERATOR || c == T_LOGIC || c == T_FUNCTION || c == T_LPAREN || c == T_RPAREN))
            return 0;
    }
    return 1;
}

/* The value begins in the middle of a query: a clause, a list or an operator with its operands. */
static int fragment_at_start(const sql_token *t, size_t n)
{
    char a = type_at(t, n, 0), b = type_at(t, n, 1), c = type_at(t, n, 2);
    switch (a) {
    case T_SEMICOLON: /* ;drop ..., ;SET @x */
        return b == T_STATEMENT || b == T_DELAY || (b == T_FUNCTION && t[1].risky) ||
               (b == T_KEYWORD && t[1].word == SW_SET && c == T_VARIABLE);
    case T_KEYWORD:
        if (t[0].word == SW_FROM)
            return (b == T_LPAREN && c == T_STATEMENT) ||
                   (b == T_BAREWORD && (t[1].quoted_ident || t[1].risky) &&
                    (c == 0 || c == T_KEYWORD || c == T_CLAUSE || c == T_SEMICOLON || c == T_COMMENT || c == T_UNION)) ||
                   (b == T_BAREWORD && ((c == T_KEYWORD && (t[2].word == SW_WHERE || t[2].word == SW_LIMIT)) || c == T_CLAUSE ||
                                        c == T_SEMICOLON || c == T_COMMENT || c == T_UNION));
        if (t[0].word == SW_VALUES)
            return b == T_LPAREN && is_value(c);
        if (t[0].word == SW_INTO)
            return b == T_KEYWORD && t[1].word == SW_OUTFILE;
        if (t[0].word == SW_SET) /* SET @x = ... */
            return b == T_VARIABLE && (c == 0 || (c == T_OPERATOR && (t[2].op & OP_COMPARE)));
        return 0;
    case T_CLAUSE: /* HAVING 1=1, ORDER BY 3, GROUP BY x, y */
        return b == T_FUNCTION || b == T_NUMBER ||
               (b == T_BAREWORD && ((c == T_OPERATOR && (t[2].op & OP_COMPARE)) || c == T_COMMA || c == T_COMMENT));
    case T_OPERATOR: /* IN (1,2), IN (SELECT ...) */
        return t[0].word == SW_IN && b == T_LPAREN &&
               (c == T_STATEMENT || (is_value(c) && (type_at(t, n, 3) == T_COMMA || type_at(t, n, 3) == T_RPAREN)));
    case T_FUNCTION: /* an SQL function call left open: "concat(", "database("; a VALUES list */
        return b == T_LPAREN && (n == 2 || (t[0].word == SW_VALUES && is_value(c)));
    default:
        break;
    }
    /* ... ) AS alias FROM, `col` AS `x` FROM */
    if ((a == T_RPAREN || (a == T_BAREWORD && t[0].quoted_ident) || a == T_NUMBER || a == T_STRING) && b == T_KEYWORD &&
        t[1].word == SW_AS && (c == T_BAREWORD || c == T_STRING) && type_at(t, n, 3) == T_KEYWORD && t[3].word == SW_FROM)
        return 1;
    return 0;
}

/* =, <, >, <=, >=, <>, !=, ==, <=> and word operators (LIKE, RLIKE...), not arrows or JSON operators. */
static int is_plain_comparison(const char *src, const sql_token *op)
{
    const char *p = src + op->pos;
    if (op->len == 0)
        return 0;
    if ((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z'))
        return 1;
    for (size_t i = 0; i < op->len; i++)
        if (p[i] != '=' && p[i] != '<' && p[i] != '>' && p[i] != '!')
            return 0;
    return 1;
}

static int has_space(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (is_space((unsigned char)s[i]))
            return 1;
    return 0;
}

/* PostgreSQL JSON/containment operators: #>, #>>, #-, @>, <@, @?, @@, ?, ?|, ?& */
static int is_json_operator(const char *src, const sql_token *op)
{
    const char *p = src + op->pos;
    return op->len >= 1 && (p[0] == '#' || p[0] == '@' || p[0] == '?' || (op->len == 2 && p[0] == '<' && p[1] == '@'));
}

/* A comment that ends an injection: "--" followed by nothing or a non-word character ("--disable-x" is prose about
 * options), and not containing the context quote (which would mean the text goes on as prose). */
static int comment_is_terminal(const char *src, const sql_token *c, char quote)
{
    const char *p = src + c->pos;
    if (c->len >= 3 && p[0] == '-' && p[1] == '-') {
        unsigned char after = (unsigned char)p[2];
        if (is_word_char(after))
            return 0;
    }
    return !(quote && memchr(p, quote, c->len));
}

/* Is there a parenthesised SELECT with something to select ("(select email", "( select 1") at t[from] or after? */
static int subquery_after(const sql_token *t, size_t n, size_t from)
{
    for (size_t i = from; i + 2 < n; i++) {
        char a = type_at(t, n, i + 2);
        if (t[i].type == T_LPAREN && t[i + 1].type == T_STATEMENT && t[i + 1].word == SW_SELECT &&
            (is_operand(a) || a == T_FUNCTION || a == T_OPERATOR))
            return 1;
    }
    return 0;
}

/* Applies the rules to one folded sequence. `quoted`: the input was assumed to start inside a string. */
static int judge(const char *src, const sql_token *t, size_t n, char context, int inline_comment)
{
    int quoted = context != 0;
    /* Prose quotes words ("skip until '>'", "Single-line ' or \" string"); an injected value rarely has spaces
     * before the quote it closes. The weak shapes below (quote then comparison, comment or bare OR) need that. */
    int plain_prefix = quoted && n > 0 && t[0].len > 0 ? !has_space(src, t[0].len) : quoted;
    for (size_t i = 0; i < n; i++) {
        char c = t[i].type;
        /* UNION [ALL] SELECT, a second statement, a subquery */
        if (c == T_UNION) {
            size_t j = i + 1;
            while (type_at(t, n, j) == T_LPAREN)
                j++;
            if (type_at(t, n, j) == T_STATEMENT && t[j].word == SW_SELECT)
                return 1;
        }
        if ((c == T_SEMICOLON || c == T_LPAREN) && statement_at(t, n, i + 1))
            return 1;
        if (c == T_SEMICOLON && type_at(t, n, i + 1) == T_STATEMENT && t[i + 1].word == SW_SHUTDOWN)
            return 1;
        if (c == T_KEYWORD && t[i].word == SW_INTO && type_at(t, n, i + 1) == T_KEYWORD && t[i + 1].word == SW_OUTFILE &&
            type_at(t, n, i + 2) == T_STRING)
            return 1; /* INTO OUTFILE '/path' */
        /* sleep(5), benchmark(...), extractvalue(...) called with SQL arguments, anywhere */
        if (c == T_FUNCTION && t[i].risky && t[i].call) {
            char a = type_at(t, n, i + 2);
            if (is_value(a) || a == T_LPAREN || a == T_FUNCTION || a == T_STATEMENT || a == T_RPAREN)
                return 1;
        }
        /* a tautology that starts a condition; after a comma only with quoted literals ("'a', '1'='1'"), since
         * lists of numbers and words ("x, 1=1") are also how people write */
        if ((i == 0 || t[i - 1].type == T_LOGIC || t[i - 1].type == T_LPAREN || (t[i - 1].type == T_COMMA && c == T_STRING)) &&
            tautology_at(src, t, n, i) && (i + 3 >= n || is_terminator(t, n, i + 3)))
            return 1;
    }
    if (n == 0)
        return 0;

    char first = t[0].type;
    if (!quoted && (first == T_STATEMENT || first == T_LPAREN || first == T_DELAY) && statement_at(t, n, 0))
        return 1;
    if (first == T_FUNCTION && t[0].risky)
        return 1;
    if (fragment_at_start(t, n))
        return 1;
    if (first == T_LOGIC) /* a condition fragment: "AND 1=1", "OR x = '" */
        return condition_at(t, n, 1, 1) || (inline_comment && type_at(t, n, 1) != 0);

    if (!(first == T_STRING || first == T_NUMBER || (first == T_BAREWORD && !quoted) || first == T_VARIABLE))
        return 0;
    size_t j = 1;
    while (type_at(t, n, j) == T_RPAREN)
        j++;
    int closed_paren = j > 1;
    char c = type_at(t, n, j);
    int strict = !quoted;
    if (quoted && (c == T_OPERATOR || c == T_LOGIC) && expression_then_comment(t, n, j) &&
        comment_is_terminal(src, &t[n - 1], context))
        return 1;
    /* "x' and email ! all (select email)--": the string closed, a condition, and a subquery inside it. Needs a
     * value with no space before the quote it closes, as the other weak shapes do. */
    if (quoted && plain_prefix && c == T_LOGIC && subquery_after(t, n, j + 1))
        return 1;
    switch (c) {
    case T_LOGIC:
        if (first == T_BAREWORD && !closed_paren) {
            /* bare word then OR/AND: only a full comparison followed by an ending counts */
            size_t k = j + 1;
            char a = type_at(t, n, k), b = type_at(t, n, k + 1);
            return (is_operand(a) && b == T_OPERATOR && (t[k + 1].op & OP_COMPARE) && is_operand(type_at(t, n, k + 2)) &&
                    (type_at(t, n, k + 3) == 0 || type_at(t, n, k + 3) == T_COMMENT)) ||
                   a == T_FUNCTION;
        }
        return condition_at(t, n, j + 1, (strict && !closed_paren) || (quoted && !plain_prefix));
    case T_CLAUSE: { /* ORDER BY 3--, HAVING 1=1, GROUP BY x,y */
        char d = type_at(t, n, j + 1), e = type_at(t, n, j + 2);
        if (first == T_BAREWORD && !closed_paren)
            return 0;
        return (is_operand(d) || d == T_FUNCTION) &&
               (is_terminator(t, n, j + 2) || e == T_COMMA || (e == T_OPERATOR && (t[j + 2].op & OP_COMPARE)) || d == T_FUNCTION);
    }
    case T_DELAY:
        return 1;
    case T_UNION:
        return quoted;
    case T_STATEMENT: {
        /* the string closed and a statement follows: "' drop table x" */
        return quoted && (statement_at(t, n, j) || type_at(t, n, j + 1) == T_COMMENT);
    }
    case T_SEMICOLON: {
        char d = type_at(t, n, j + 1);
        return quoted && (((d == 0 || d == T_COMMENT) && plain_prefix) || d == T_STATEMENT || d == T_DELAY);
    }
    case T_COMMENT: /* admin'--, admin'#, admin') followed by a block comment; "1) --" but not "anyway) -- again" */
        return ((quoted && plain_prefix) || (closed_paren && first != T_BAREWORD)) && comment_is_terminal(src, &t[j], context);
    case T_OPERATOR:
        /* "name LIKE '": a comparison left open on a quote */
        if (first == T_BAREWORD && !quoted && (t[j].op & OP_COMPARE) && is_plain_comparison(src, &t[j]) && j + 2 == n &&
            t[j + 1].type == T_STRING && t[j + 1].unterminated && t[j + 1].len == 0)
            return 1;
        if (!quoted && !closed_paren && first != T_STRING)
            return 0;
        /* '{"a":1}'::jsonb @> '...': PostgreSQL JSON operators between literals */
        if (first == T_STRING && !quoted && is_json_operator(src, &t[j]) && type_at(t, n, j + 1) == T_STRING)
            return 1;
        if (type_at(t, n, j + 1) == T_FUNCTION || (type_at(t, n, j + 1) == T_LPAREN && statement_at(t, n, j + 2)))
            return 1;
        if ((t[j].op & OP_COMPARE) && is_plain_comparison(src, &t[j]) && is_value(type_at(t, n, j + 1)) &&
            type_at(t, n, j + 2) != T_RPAREN && !(t[j + 1].unterminated && t[j + 1].len > 8) && (plain_prefix || !quoted))
            return is_terminator(t, n, j + 2);
        return 0;
    case T_KEYWORD:
        return quoted && t[j].word == SW_INTO;
    default:
        return 0;
    }
}

/* Inside a `quoted identifier`: only structural continuations (alias then FROM, a comparison with a value). */
static int judge_identifier(const char *src, const sql_token *t, size_t n)
{
    if (fragment_at_start(t, n))
        return 1;
    return n >= 3 && t[1].type == T_OPERATOR && (t[1].op & OP_COMPARE) && is_plain_comparison(src, &t[1]) && is_value(t[2].type) &&
           !(t[2].unterminated && t[2].len > 8) && !has_space(src, t[0].len) && (n == 3 || t[3].type == T_COMMENT);
}

static void write_fingerprint(const sql_token *t, size_t n, char fingerprint[16])
{
    size_t k = 0;
    for (; k < n && k < 15; k++)
        fingerprint[k] = t[k].type;
    fingerprint[k] = '\0';
}

/* What a word can do in a value that has none of the bytes no_rule_can_fire rejects (flags; 0 is harmless). */
enum {
    WORD_MAY_FIRE = 1, /* statements, UNION, clauses, word operators, logic words, keywords the rules name */
    WORD_NUMBER = 2,   /* NULL, TRUE, FALSE: values, which matter next to an '=' (a tautology) */
    WORD_FUNCTION = 4, /* functions and keywords such as IF( and EXISTS(: called only if the value has '(' */
};

static int classify_plain_word(const sql_word *w)
{
    if (w == NULL)
        return 0;
    switch (w->cls) {
    case T_STATEMENT:
    case T_UNION:
    case T_CLAUSE:
    case T_OPERATOR:
    case T_LOGIC:
        return WORD_MAY_FIRE;
    case T_KEYWORD:
        if (w->id == SW_FROM || w->id == SW_VALUES || w->id == SW_INTO || w->id == SW_SET || w->id == SW_BY || w->id == SW_WAITFOR)
            return WORD_MAY_FIRE;
        return w->also_function ? WORD_FUNCTION : 0;
    case T_NUMBER:
        return WORD_NUMBER;
    case T_FUNCTION:
        return WORD_FUNCTION;
    default:
        return 0;
    }
}

/* Bit n of plain_word_filter[f][letter - 'a'] is set when a word of length n starting with that letter has flags
 * (f = 1) or flags other than WORD_FUNCTION (f = 0): most words of a value fail this test and need no hashing. Built
 * once before main() from the word table itself; if that did not happen, no_rule_can_fire() gives up (the full
 * detector runs). */
static uint32_t plain_word_filter[2][26];
static int plain_word_filter_ready;

__attribute__((constructor)) static void build_plain_word_filter(void)
{
    for (size_t i = 0; i < sql_word_count(); i++) {
        const sql_word *w = sql_word_at(i);
        size_t n = strlen(w->name);
        unsigned letter = (unsigned)(unsigned char)w->name[0] - 'a';
        if (letter >= 26 || n >= 32)
            return; /* cannot be represented: leave the filter unused */
        int flags = classify_plain_word(w);
        if (flags & ~WORD_FUNCTION)
            plain_word_filter[0][letter] |= 1u << n;
        if (flags)
            plain_word_filter[1][letter] |= 1u << n;
    }
    plain_word_filter_ready = 1;
}

/* The flags of the word s[0..n). Without `with_functions`, a word that can only be a function is not looked up and
 * WORD_FUNCTION means "may be a function". */
static int classify_plain_word_at(const char *s, size_t n, int with_functions)
{
    unsigned letter = (unsigned)((unsigned char)s[0] | 0x20) - 'a';
    if (letter >= 26 || n >= 32 || !((plain_word_filter[1][letter] >> n) & 1))
        return 0;
    if (!with_functions && !((plain_word_filter[0][letter] >> n) & 1))
        return WORD_FUNCTION;
    return classify_plain_word(sql_word_lookup(s, n));
}

/* Words inside a run of word bytes s[from..to) that start after a digit or an NBSP ("1else" lexes as 1 then else;
 * a decimal number ends before an NBSP the lexer then skips): their flags. */
static int classify_inner_words(const char *s, size_t from, size_t to, int with_functions)
{
    int flags = 0;
    for (size_t p = from + 1; p < to; p++) {
        unsigned char before = (unsigned char)s[p - 1];
        if ((is_digit(before) || before == 0xa0) && !is_digit((unsigned char)s[p]))
            flags |= classify_plain_word_at(s + p, to - p, with_functions);
    }
    return flags;
}

/* Does the token at s[i] (after spaces) read as a word rather than a value? A letter starts a word; digits followed
 * by a word byte other than 'e' form an identifier ("3f1c"); anything else may be a number, a variable or worse. */
static int word_token_at(const char *s, size_t len, size_t i)
{
    while (i < len && is_space((unsigned char)s[i]))
        i++;
    if (i >= len)
        return 0;
    unsigned char c = (unsigned char)s[i];
    if (is_word_char(c) && !is_digit(c))
        return 1;
    if (!is_digit(c))
        return 0;
    if (c == '0' && i + 1 < len && (s[i + 1] == 'x' || s[i + 1] == 'X' || s[i + 1] == 'b' || s[i + 1] == 'B'))
        return 0;
    while (i < len && is_digit((unsigned char)s[i]))
        i++;
    return i < len && is_word_char((unsigned char)s[i]) && s[i] != 'e' && s[i] != 'E';
}

/* Does a comment start at s[i]? */
static int comment_at(const char *s, size_t len, size_t i)
{
    unsigned char next = i + 1 < len ? (unsigned char)s[i + 1] : 0;
    return (s[i] == '/' && next == '*') || (s[i] == '-' && next == '-') || s[i] == '#';
}

/* An exact early exit for plain values. When the value has no quote, parenthesis, comparison other than '=', logic,
 * JSON operator or executable-comment byte, the only token types are words, numbers, variables, commas, semicolons,
 * arithmetic operators, '=', comments and '?' (other), plus whatever the words are. None of the rules in judge() and
 * fragment_at_start() can fire on such a sequence unless a word is one classify_plain_word() flags, except through
 * '=': a tautology "v = v" needs a value first, either at the start of the value or, for a nested parameter, right
 * after "name=". So with an '=' the value must start with a word that is not a number, and if that word is followed
 * by '=' (the "name=" form, possibly after arithmetic that folds into the word), what follows must be a word too (a comment before
 * that '=' is not reasoned about; one after it is not a word). No quote means only the unquoted context runs, so this proves
 * rs_detect_sqli returns 0. One pass; the lexer starts a word at the start of a run of word bytes, and inside one only after a
 * number or a skipped NBSP; a word with dots is only ever a function or a table name, so checking the dot-free pieces covers it. */
enum { PLAIN_MAY_FIRE, PLAIN_CANNOT_FIRE, PLAIN_ASK_FUNCTIONS };

static int plain_scan(const char *s, size_t len, int with_functions)
{
    size_t first = 0;
    while (first < len && is_space((unsigned char)s[first]))
        first++;
    int equals = 0, comments = 0, parens = 0, dotted = 0, word_flags = 0;
    size_t run_end = 0;    /* where the last run of word bytes ended */
    int run_is_number = 0; /* and whether it was only digits */
    for (size_t k = first; k < len;) {
        unsigned char c = (unsigned char)s[k];
        if (char_class[c] & CC_WORD) {
            size_t start = k;
            unsigned char classes = char_class[c], cls;
            const unsigned char *p = (const unsigned char *)s + k + 1, *end = (const unsigned char *)s + len;
            while (p < end && ((cls = char_class[*p]) & CC_WORD)) {
                classes |= cls;
                p++;
            }
            k = (size_t)(p - (const unsigned char *)s);
            int flags = classify_plain_word_at(s + start, k - start, with_functions);
            /* digits or an NBSP followed by other word bytes may start a word inside the run */
            if ((classes & (CC_SPLITS_WORDS | CC_NOT_DIGIT)) == (CC_SPLITS_WORDS | CC_NOT_DIGIT))
                flags |= classify_inner_words(s, start, k, with_functions);
            if (flags & WORD_MAY_FIRE)
                return PLAIN_MAY_FIRE;
            word_flags |= flags;
            run_end = k;
            run_is_number = !(classes & CC_NOT_DIGIT);
            continue;
        }
        k++;
        if (char_class[c] & CC_SPACE)
            continue;
        unsigned char next = k < len ? (unsigned char)s[k] : 0;
        switch (c) {
        case '=':
            equals = 1;
            continue;
        case '(':
        case ')':
            parens = 1;
            continue;
        case '.': /* a word going on after a dot ("utl_http.request") is looked up whole; "5.0" is a number */
            dotted |= run_end == k - 1 && !run_is_number && is_word_char(next);
            continue;
        case ':': /* alone it is "other"; "::" and ":=" are operators */
            if (next == ':' || next == '=')
                return PLAIN_MAY_FIRE;
            continue;
        case '-': /* "--" comments, "->" is a JSON operator */
            if (next == '>')
                return PLAIN_MAY_FIRE;
            comments |= next == '-';
            continue;
        case '/': /* a block comment opened with '!' is MySQL's executable comment: code, not a comment */
            if (next == '*' && k + 1 < len && s[k + 1] == '!')
                return PLAIN_MAY_FIRE;
            comments |= next == '*';
            continue;
        case '#': /* a comment, except the PostgreSQL operators #> and #- */
            if (next == '>' || next == '-')
                return PLAIN_MAY_FIRE;
            comments = 1;
            continue;
        case '\'':
        case '"':
        case '`':
        case '<':
        case '>':
        case '!':
        case '?':
        case '&':
        case '|':
        case '^':
        case '~':
            return PLAIN_MAY_FIRE;
        default: /* , ; [ ] { } \\ @ + * % and control bytes */
            continue;
        }
    }
    /* With parentheses: a function may be called, a closed parenthesis may end an injected operand (then a comment or a
     * comparison continues it) and a tautology may follow '('; none of those without functions, comments and '='. */
    if (parens && (equals || comments || dotted))
        return PLAIN_MAY_FIRE;
    if (parens && (word_flags & WORD_FUNCTION))
        return with_functions ? PLAIN_MAY_FIRE : PLAIN_ASK_FUNCTIONS;
    if (!equals)
        return PLAIN_CANNOT_FIRE;
    if ((word_flags & WORD_NUMBER) || first >= len || !is_word_char((unsigned char)s[first]) || is_digit((unsigned char)s[first]))
        return PLAIN_MAY_FIRE;
    /* the first token is the word at `first` (dots join its pieces); is the next token '='? */
    size_t k = first;
    while (k < len && (is_word_char((unsigned char)s[k]) || (s[k] == '.' && k + 1 < len && is_word_char((unsigned char)s[k + 1]))))
        k++;
    while (k < len && is_space((unsigned char)s[k]))
        k++;
    if (k >= len)
        return PLAIN_CANNOT_FIRE;
    if (comments && comment_at(s, len, k))
        return PLAIN_MAY_FIRE;
    /* "x-1=...", "x - -1=...": arithmetic with a number folds into the word before it, so '=' may still be the second
     * token; followed by a word ("en-US") the operator stays */
    if (s[k] == '+' || s[k] == '-' || s[k] == '*' || s[k] == '/' || s[k] == '%') {
        size_t j = k;
        while (j < len &&
               (s[j] == '+' || s[j] == '-' || s[j] == '*' || s[j] == '/' || s[j] == '%' || is_space((unsigned char)s[j]))) {
            if (comment_at(s, len, j))
                return PLAIN_MAY_FIRE;
            j++;
        }
        return word_token_at(s, len, j) ? PLAIN_CANNOT_FIRE : PLAIN_MAY_FIRE;
    }
    if (s[k] != '=')
        return PLAIN_CANNOT_FIRE;
    k++;
    while (k < len && is_space((unsigned char)s[k]))
        k++;
    return word_token_at(s, len, k) ? PLAIN_CANNOT_FIRE : PLAIN_MAY_FIRE;
}

/* Function names are looked up only when the value has a parenthesis and a word that may be one. */
static int no_rule_can_fire(const char *s, size_t len)
{
    if (!plain_word_filter_ready)
        return 0;
    int verdict = plain_scan(s, len, 0);
    if (verdict == PLAIN_ASK_FUNCTIONS)
        verdict = plain_scan(s, len, 1);
    return verdict == PLAIN_CANNOT_FIRE;
}

int rs_detect_sqli(const char *s, size_t len, char fingerprint[16])
{
    /* quoting context of the injection point, and whether backslash escapes a quote (MySQL) or not (standard) */
    static const struct {
        char quote;
        char backslash_escapes;
    } contexts[] = {{0, 1}, {'\'', 1}, {'"', 1}, {'`', 0}, {'\'', 0}, {'"', 0}};
    sql_token tokens[MAX_TOKENS];
    if (s == NULL || no_rule_can_fire(s, len))
        return 0;
    int has_backslash = memchr(s, '\\', len) != NULL;
    for (size_t c = 0; c < sizeof(contexts) / sizeof(contexts[0]); c++) {
        char quote = contexts[c].quote;
        if (quote && memchr(s, quote, len) == NULL)
            continue; /* the value never leaves the string: nothing to inject */
        if (quote != '`' && !contexts[c].backslash_escapes && !has_backslash)
            continue; /* same tokens as the escaping variant */
        int inline_comment = 0;
        size_t n = tokenize_folded(s, len, quote, contexts[c].backslash_escapes, tokens, &inline_comment);
        /* "name=<payload>": a nested parameter (a query string inside a value) is judged from after its '=' */
        size_t skip = 0;
        if (!quote && n > 2 && tokens[0].type == T_BAREWORD && tokens[1].type == T_OPERATOR && tokens[1].len == 1 &&
            s[tokens[1].pos] == '=')
            skip = 2;
        int hit = quote == '`' ? judge_identifier(s, tokens, n) : judge(s, tokens, n, quote, inline_comment);
        if (hit || (skip && judge(s, tokens + skip, n - skip, 0, inline_comment))) {
            if (fingerprint)
                write_fingerprint(tokens, n, fingerprint);
            return 1;
        }
    }
    return 0;
}
