/* SPDX-License-Identifier: MIT */
/* Required-literal extraction for @rx: parses the PCRE syntax into a small tree (bytes, sequences,
 * alternations, repeats) and computes, bottom-up, the exact finite language of small sub-expressions and a set
 * of literals every match must contain. Anything not understood makes the whole extraction give up (-1):
 * a set that is too narrow would let attacks bypass the prefilter, a missing set only costs speed. */
#include "operator/op_internal.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH    200  /* nesting of groups and quantifiers */
#define CLASS_EXPAND 10   /* a byte class with at most this many (case folded) members is expanded */
#define CROSS_MAX    256  /* largest exact set built by concatenation */
#define UNION_MAX    4096 /* largest exact or required set built by alternation */
#define REQ_MAX      1024 /* largest literal set handed out */
/* a second condition is only worth its automaton reports when it is about as rare as one punctuation byte
 * (single letters and digits would report on nearly every value) */
#define REQ2_MAX_COST 0.035
#define MAX_LIT_LEN   128 /* longer exact strings are not built (the prefix run is used instead) */

/* ---- tree ----------------------------------------------------------------------------------------------- */

static rs_rx_node_t *node_new(rs_rx_kind_t kind)
{
    rs_rx_node_t *n = calloc(1, sizeof(*n));
    if (n == NULL)
        abort();
    n->kind = kind;
    return n;
}

static void node_add(rs_rx_node_t *parent, rs_rx_node_t *kid)
{
    if (parent->nkids == parent->capkids) {
        parent->capkids = parent->capkids ? parent->capkids * 2 : 4;
        parent->kids = realloc(parent->kids, parent->capkids * sizeof(*parent->kids));
        if (parent->kids == NULL)
            abort();
    }
    parent->kids[parent->nkids++] = kid;
}

void rs_rx_free(rs_rx_node_t *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->nkids; i++)
        rs_rx_free(n->kids[i]);
    free(n->kids);
    free(n);
}

/* ---- parser --------------------------------------------------------------------------------------------- */

typedef struct {
    const char *p, *end;
    int caseless;
    int depth;
    int transparent; /* last atom was a comment, option setting or stray \E: a quantifier after it is unclear */
    int quoted;      /* last atom was \Q...\E: a quantifier after it applies to its last character only */
    const char *why; /* set on failure */
} rx_parser_t;

static void set_add(uint8_t set[32], unsigned c)
{
    set[c >> 3] |= (uint8_t)(1u << (c & 7));
}

static void set_add_range(uint8_t set[32], unsigned lo, unsigned hi)
{
    for (unsigned c = lo; c <= hi; c++)
        set_add(set, c);
}

static void set_add_cased(uint8_t set[32], unsigned c, int caseless)
{
    set_add(set, c);
    if (caseless) {
        if (c >= 'a' && c <= 'z')
            set_add(set, c - 32);
        else if (c >= 'A' && c <= 'Z')
            set_add(set, c + 32);
    }
}

static void set_union(uint8_t set[32], const uint8_t other[32], int negate)
{
    for (int i = 0; i < 32; i++)
        set[i] |= negate ? (uint8_t)~other[i] : other[i];
}

static rs_rx_node_t *fail(rx_parser_t *ps, const char *why)
{
    if (ps->why == NULL)
        ps->why = why;
    return NULL;
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* Fills `set` for a class escape letter (d D w W s S h H v V N); returns 0 when `c` is not one. */
static int class_escape(int c, uint8_t set[32])
{
    uint8_t base[32] = {0};
    int negate = c >= 'A' && c <= 'Z'; /* \D \W \S \H \V are the complements */
    switch (negate ? c + 32 : c) {
    case 'd':
        set_add_range(base, '0', '9');
        break;
    case 'w':
        set_add_range(base, '0', '9');
        set_add_range(base, 'a', 'z');
        set_add_range(base, 'A', 'Z');
        set_add(base, '_');
        break;
    case 's':
        set_add_range(base, 9, 13);
        set_add(base, ' ');
        break;
    case 'h':
        set_add(base, 9);
        set_add(base, ' ');
        set_add(base, 0xa0);
        break;
    case 'v':
        set_add_range(base, 10, 13);
        set_add(base, 0x85);
        break;
    case 'n':
        if (!negate)
            return 0; /* \n is a character, \N is "not a newline" */
        set_add(base, '\n');
        break;
    default:
        return 0;
    }
    set_union(set, base, negate);
    return 1;
}

/* Parses a single-character escape after the backslash (shared by classes and atoms). Returns the byte, or -1
 * when the escape is not a single known character. */
static int char_escape(rx_parser_t *ps)
{
    if (ps->p >= ps->end)
        return -1;
    int c = (unsigned char)*ps->p++;
    switch (c) {
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    case 'f':
        return '\f';
    case 'e':
        return 0x1b;
    case 'a':
        return 0x07;
    case 'c':
        if (ps->p >= ps->end)
            return -1;
        c = (unsigned char)*ps->p++;
        if (c >= 'a' && c <= 'z')
            c -= 32;
        return c ^ 0x40;
    case 'x': {
        if (ps->p < ps->end && *ps->p == '{') {
            unsigned v = 0;
            int nd = 0;
            ps->p++;
            while (ps->p < ps->end && rs_hex_value((unsigned char)*ps->p) >= 0 && nd < 8) {
                v = v * 16 + (unsigned)rs_hex_value((unsigned char)*ps->p++);
                nd++;
            }
            if (ps->p >= ps->end || *ps->p != '}' || nd == 0 || v > 255)
                return -1;
            ps->p++;
            return (int)v;
        }
        unsigned v = 0;
        for (int i = 0; i < 2 && ps->p < ps->end && rs_hex_value((unsigned char)*ps->p) >= 0; i++)
            v = v * 16 + (unsigned)rs_hex_value((unsigned char)*ps->p++);
        return (int)v;
    }
    case '0': {
        unsigned v = 0;
        for (int i = 0; i < 2 && ps->p < ps->end && *ps->p >= '0' && *ps->p <= '7'; i++)
            v = v * 8 + (unsigned)(*ps->p++ - '0');
        return (int)v;
    }
    case 'o': {
        if (ps->p >= ps->end || *ps->p != '{')
            return -1;
        ps->p++;
        unsigned v = 0;
        int nd = 0;
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '7' && nd < 4) {
            v = v * 8 + (unsigned)(*ps->p++ - '0');
            nd++;
        }
        if (ps->p >= ps->end || *ps->p != '}' || nd == 0 || v > 255)
            return -1;
        ps->p++;
        return (int)v;
    }
    default:
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            return -1; /* an escape we do not model */
        return c;      /* escaped punctuation stands for itself */
    }
}

/* POSIX class inside brackets, e.g. [:alpha:] (ASCII, as PCRE2's default tables). */
static int posix_class(const char *name, size_t len, uint8_t set[32])
{
    uint8_t b[32] = {0};
#define IS(lit) (len == sizeof(lit) - 1 && memcmp(name, lit, len) == 0)
    if (IS("alpha")) {
        set_add_range(b, 'a', 'z');
        set_add_range(b, 'A', 'Z');
    } else if (IS("digit")) {
        set_add_range(b, '0', '9');
    } else if (IS("alnum")) {
        set_add_range(b, 'a', 'z');
        set_add_range(b, 'A', 'Z');
        set_add_range(b, '0', '9');
    } else if (IS("upper")) {
        set_add_range(b, 'A', 'Z');
    } else if (IS("lower")) {
        set_add_range(b, 'a', 'z');
    } else if (IS("space")) {
        set_add_range(b, 9, 13);
        set_add(b, ' ');
    } else if (IS("blank")) {
        set_add(b, 9);
        set_add(b, ' ');
    } else if (IS("xdigit")) {
        set_add_range(b, '0', '9');
        set_add_range(b, 'a', 'f');
        set_add_range(b, 'A', 'F');
    } else if (IS("word")) {
        set_add_range(b, 'a', 'z');
        set_add_range(b, 'A', 'Z');
        set_add_range(b, '0', '9');
        set_add(b, '_');
    } else if (IS("punct")) {
        set_add_range(b, 33, 47);
        set_add_range(b, 58, 64);
        set_add_range(b, 91, 96);
        set_add_range(b, 123, 126);
    } else if (IS("print")) {
        set_add_range(b, 32, 126);
    } else if (IS("graph")) {
        set_add_range(b, 33, 126);
    } else if (IS("cntrl")) {
        set_add_range(b, 0, 31);
        set_add(b, 127);
    } else if (IS("ascii")) {
        set_add_range(b, 0, 127);
    } else {
        return -1;
    }
#undef IS
    set_union(set, b, 0);
    return 0;
}

static rs_rx_node_t *parse_class(rx_parser_t *ps)
{
    uint8_t set[32] = {0};
    int negate = 0, first = 1;
    if (ps->p < ps->end && *ps->p == '^') {
        negate = 1;
        ps->p++;
    }
    int prev = -1; /* last single byte added, for ranges */
    for (;;) {
        if (ps->p >= ps->end)
            return fail(ps, "unterminated class");
        int c = (unsigned char)*ps->p;
        if (c == ']' && !first) {
            ps->p++;
            break;
        }
        first = 0;
        if (c == '[' && ps->p + 1 < ps->end && ps->p[1] == ':') {
            const char *q = ps->p + 2;
            int pneg = 0;
            if (q < ps->end && *q == '^') {
                pneg = 1;
                q++;
            }
            const char *nm = q;
            while (q + 1 < ps->end && !(q[0] == ':' && q[1] == ']'))
                q++;
            if (q + 1 >= ps->end)
                return fail(ps, "bad POSIX class");
            uint8_t pset[32] = {0};
            if (posix_class(nm, (size_t)(q - nm), pset) != 0)
                return fail(ps, "unknown POSIX class");
            set_union(set, pset, pneg);
            ps->p = q + 2;
            prev = -1;
            continue;
        }
        int lo;
        ps->p++;
        if (c == '\\') {
            if (ps->p >= ps->end)
                return fail(ps, "trailing backslash");
            int e = (unsigned char)*ps->p;
            if (e == 'b') {
                ps->p++;
                lo = 8;
            } else if (e != 'N' && class_escape(e, set)) {
                ps->p++;
                prev = -1;
                continue;
            } else if (e == 'Q' || e == 'E' || e == 'p' || e == 'P' || e == 'R' || e == 'X' || e == 'N') {
                return fail(ps, "unsupported escape in class");
            } else {
                lo = char_escape(ps);
                if (lo < 0)
                    return fail(ps, "unsupported escape in class");
            }
        } else if (c == '-' && prev >= 0 && ps->p < ps->end && *ps->p != ']') {
            /* range prev-hi */
            int hi;
            int h = (unsigned char)*ps->p;
            if (h == '[')
                return fail(ps, "range to POSIX class");
            ps->p++;
            if (h == '\\') {
                if (ps->p >= ps->end)
                    return fail(ps, "trailing backslash");
                int e = (unsigned char)*ps->p;
                if (e == 'b') {
                    ps->p++;
                    hi = 8;
                } else {
                    uint8_t dummy[32] = {0};
                    if (class_escape(e, dummy))
                        return fail(ps, "range to class escape");
                    hi = char_escape(ps);
                    if (hi < 0)
                        return fail(ps, "unsupported escape in class");
                }
            } else {
                hi = h;
            }
            if (hi < prev)
                return fail(ps, "reversed range");
            for (int k = prev; k <= hi; k++)
                set_add_cased(set, (unsigned)k, ps->caseless);
            prev = -1;
            continue;
        } else {
            lo = c;
        }
        set_add_cased(set, (unsigned)lo, ps->caseless);
        prev = lo;
    }
    if (ps->caseless) /* POSIX classes and escapes too: (?i)[[:upper:]] also matches lower case */
        for (unsigned c = 'a'; c <= 'z'; c++)
            if (rs_rx_set_has(set, c) || rs_rx_set_has(set, c - 32)) {
                set_add(set, c);
                set_add(set, c - 32);
            }
    rs_rx_node_t *n = node_new(RS_RX_SET);
    if (negate) {
        for (int i = 0; i < 32; i++)
            n->set[i] = (uint8_t)~set[i];
    } else {
        memcpy(n->set, set, 32);
    }
    n->caseless = ps->caseless;
    return n;
}

static rs_rx_node_t *char_node(unsigned c, int caseless)
{
    rs_rx_node_t *n = node_new(RS_RX_SET);
    set_add_cased(n->set, c, caseless);
    n->caseless = caseless;
    return n;
}

static rs_rx_node_t *parse_alt(rx_parser_t *ps);

/* Skips a group name terminated by `close`. */
static int skip_name(rx_parser_t *ps, char close)
{
    while (ps->p < ps->end && *ps->p != close)
        ps->p++;
    if (ps->p >= ps->end)
        return -1;
    ps->p++;
    return 0;
}

/* Parses the inside of a group up to and including ')'. Option changes inside do not leak out. */
static rs_rx_node_t *group_body(rx_parser_t *ps, int caseless_inside)
{
    int saved = ps->caseless;
    ps->caseless = caseless_inside;
    rs_rx_node_t *n = parse_alt(ps);
    ps->caseless = saved;
    ps->quoted = ps->transparent = 0; /* flags of the group's last atom do not describe the group */
    if (n == NULL)
        return NULL;
    if (ps->p >= ps->end || *ps->p != ')') {
        rs_rx_free(n);
        return fail(ps, "missing )");
    }
    ps->p++;
    return n;
}

static rs_rx_node_t *parse_group(rx_parser_t *ps)
{
    /* ps->p is just after '(' */
    if (ps->p < ps->end && *ps->p == '*')
        return fail(ps, "verb");
    if (ps->p >= ps->end || *ps->p != '?')
        return group_body(ps, ps->caseless); /* capturing group */
    ps->p++;
    if (ps->p >= ps->end)
        return fail(ps, "truncated group");
    char c = *ps->p;
    switch (c) {
    case '#':
        while (ps->p < ps->end && *ps->p != ')')
            ps->p++;
        if (ps->p >= ps->end)
            return fail(ps, "unterminated comment");
        ps->p++;
        ps->transparent = 1;
        return node_new(RS_RX_EMPTY);
    case ':':
    case '>':
    case '|':
        ps->p++;
        return group_body(ps, ps->caseless);
    case '=':
    case '!': {
        ps->p++;
        rs_rx_node_t *inner = group_body(ps, ps->caseless);
        if (inner == NULL)
            return NULL;
        rs_rx_free(inner); /* lookarounds consume nothing */
        return node_new(RS_RX_EMPTY);
    }
    case '<':
        if (ps->p + 1 < ps->end && (ps->p[1] == '=' || ps->p[1] == '!')) {
            ps->p += 2;
            rs_rx_node_t *inner = group_body(ps, ps->caseless);
            if (inner == NULL)
                return NULL;
            rs_rx_free(inner);
            return node_new(RS_RX_EMPTY);
        }
        ps->p++;
        if (skip_name(ps, '>') != 0)
            return fail(ps, "bad group name");
        return group_body(ps, ps->caseless);
    case '\'':
        ps->p++;
        if (skip_name(ps, '\'') != 0)
            return fail(ps, "bad group name");
        return group_body(ps, ps->caseless);
    case 'P':
        ps->p++;
        if (ps->p < ps->end && *ps->p == '<') {
            ps->p++;
            if (skip_name(ps, '>') != 0)
                return fail(ps, "bad group name");
            return group_body(ps, ps->caseless);
        }
        if (ps->p < ps->end && (*ps->p == '=' || *ps->p == '>')) {
            if (skip_name(ps, ')') != 0)
                return fail(ps, "bad reference");
            return node_new(RS_RX_ANY); /* backreference / subroutine call */
        }
        return fail(ps, "unknown (?P");
    case 'R':
    case '&':
    case '+':
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        if (c == '-' && ps->p + 1 < ps->end && !is_digit((unsigned char)ps->p[1]))
            break; /* (?-i) option unsetting */
        if (skip_name(ps, ')') != 0)
            return fail(ps, "bad subroutine call");
        return node_new(RS_RX_ANY); /* recursion / subroutine call */
    case '(':
        return fail(ps, "conditional group");
    default:
        break;
    }
    /* option letters: (?i) (?-i) (?i:...) (?^) ... */
    int caseless = ps->caseless, on = 1;
    while (ps->p < ps->end) {
        c = *ps->p++;
        if (c == ')') {
            ps->caseless = caseless; /* applies to the rest of the enclosing group */
            ps->transparent = 1;
            return node_new(RS_RX_EMPTY);
        }
        if (c == ':')
            return group_body(ps, caseless);
        if (c == '-') {
            on = 0;
        } else if (c == '^') {
            caseless = 0;
        } else if (c == 'i') {
            caseless = on;
        } else if (c == 'x') {
            if (on)
                return fail(ps, "extended mode");
        } else if (c != 'm' && c != 's' && c != 'n' && c != 'U' && c != 'J') {
            return fail(ps, "unknown option");
        }
    }
    return fail(ps, "unterminated option group");
}

static rs_rx_node_t *parse_escape(rx_parser_t *ps)
{
    if (ps->p >= ps->end)
        return fail(ps, "trailing backslash");
    int c = (unsigned char)*ps->p;
    rs_rx_node_t *n;
    switch (c) {
    case 'b':
    case 'B':
    case 'A':
    case 'z':
    case 'Z':
    case 'G':
    case 'K':
        ps->p++;
        return node_new(RS_RX_EMPTY);
    case 'E':
        ps->p++;
        ps->transparent = 1;
        return node_new(RS_RX_EMPTY);
    case 'Q': {
        ps->p++;
        ps->quoted = 1;
        rs_rx_node_t *cat = node_new(RS_RX_CAT);
        while (ps->p < ps->end) {
            if (ps->p + 1 < ps->end && ps->p[0] == '\\' && ps->p[1] == 'E') {
                ps->p += 2;
                break;
            }
            node_add(cat, char_node((unsigned char)*ps->p++, ps->caseless));
        }
        return cat;
    }
    case 'R':
    case 'X':
    case 'p':
    case 'P':
    case 'C':
        /* sequences / properties: unknown bytes. \p{..} and \P{..} have a braced or single-letter argument. */
        ps->p++;
        if (c == 'p' || c == 'P') {
            if (ps->p < ps->end && *ps->p == '{') {
                if (skip_name(ps, '}') != 0)
                    return fail(ps, "bad property");
            } else if (ps->p < ps->end) {
                ps->p++;
            }
        }
        return node_new(RS_RX_ANY);
    case 'g':
    case 'k':
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '{' || *ps->p == '<' || *ps->p == '\'')) {
            char close = *ps->p == '{' ? '}' : *ps->p == '<' ? '>' : '\'';
            ps->p++;
            if (skip_name(ps, close) != 0)
                return fail(ps, "bad reference");
        } else if (c == 'g') {
            if (ps->p < ps->end && (*ps->p == '-' || *ps->p == '+'))
                ps->p++;
            if (ps->p >= ps->end || !is_digit((unsigned char)*ps->p))
                return fail(ps, "bad \\g");
            while (ps->p < ps->end && is_digit((unsigned char)*ps->p))
                ps->p++;
        } else {
            return fail(ps, "bad \\k");
        }
        return node_new(RS_RX_ANY);
    default:
        break;
    }
    if (c >= '1' && c <= '9') {
        /* backreference (or octal for large numbers): unknown content either way */
        while (ps->p < ps->end && is_digit((unsigned char)*ps->p))
            ps->p++;
        return node_new(RS_RX_ANY);
    }
    n = node_new(RS_RX_SET);
    if (class_escape(c, n->set)) {
        ps->p++;
        n->caseless = ps->caseless;
        return n;
    }
    rs_rx_free(n);
    int ch = char_escape(ps);
    if (ch < 0)
        return fail(ps, "unsupported escape");
    return char_node((unsigned)ch, ps->caseless);
}

static rs_rx_node_t *parse_atom(rx_parser_t *ps)
{
    int c = (unsigned char)*ps->p++;
    switch (c) {
    case '(': {
        if (++ps->depth > MAX_DEPTH)
            return fail(ps, "too deep");
        rs_rx_node_t *n = parse_group(ps);
        ps->depth--;
        return n;
    }
    case '[':
        return parse_class(ps);
    case '.': {
        rs_rx_node_t *n = node_new(RS_RX_SET);
        memset(n->set, 0xff, sizeof(n->set)); /* DOTALL */
        return n;
    }
    case '^':
    case '$':
        return node_new(RS_RX_EMPTY);
    case '\\':
        return parse_escape(ps);
    case '*':
    case '+':
    case '?':
        return fail(ps, "quantifier without operand");
    default:
        return char_node((unsigned)c, ps->caseless);
    }
}

/* Reads "{n}", "{n,}" or "{n,m}" at ps->p; returns 0 and advances when it is one. */
static int parse_braces(rx_parser_t *ps, uint32_t *min, uint32_t *max)
{
    const char *q = ps->p + 1;
    unsigned long lo = 0, hi;
    if (q >= ps->end || !is_digit((unsigned char)*q))
        return -1;
    while (q < ps->end && is_digit((unsigned char)*q)) {
        lo = lo * 10 + (unsigned long)(*q++ - '0');
        if (lo > 65535)
            return -1;
    }
    hi = lo;
    if (q < ps->end && *q == ',') {
        q++;
        if (q < ps->end && is_digit((unsigned char)*q)) {
            hi = 0;
            while (q < ps->end && is_digit((unsigned char)*q)) {
                hi = hi * 10 + (unsigned long)(*q++ - '0');
                if (hi > 65535)
                    return -1;
            }
        } else {
            hi = RS_RX_INF;
        }
    }
    if (q >= ps->end || *q != '}' || hi < lo)
        return -1;
    ps->p = q + 1;
    *min = (uint32_t)lo;
    *max = (uint32_t)hi;
    return 0;
}

/* "{,2}" and "{1, 2}" are literal text for PCRE2 10.42 but quantifiers for 10.43+: refuse to guess. */
static int looks_like_quantifier(const char *p, const char *end)
{
    int digits = 0;
    for (p++; p < end && *p != '}'; p++) {
        if (is_digit((unsigned char)*p))
            digits = 1;
        else if (*p != ',' && *p != ' ')
            return 0;
    }
    return p < end && digits;
}

static rs_rx_node_t *parse_concat(rx_parser_t *ps)
{
    rs_rx_node_t *cat = node_new(RS_RX_CAT);
    while (ps->p < ps->end && *ps->p != '|' && *ps->p != ')') {
        ps->transparent = ps->quoted = 0;
        rs_rx_node_t *atom = parse_atom(ps);
        if (atom == NULL) {
            rs_rx_free(cat);
            return NULL;
        }
        if (ps->quoted) {
            /* \Q...\E: its characters are separate atoms */
            if (atom->nkids == 0) {
                ps->transparent = 1;
            } else {
                for (size_t i = 0; i + 1 < atom->nkids; i++)
                    node_add(cat, atom->kids[i]);
                rs_rx_node_t *last = atom->kids[atom->nkids - 1];
                atom->nkids = 0;
                rs_rx_free(atom);
                atom = last;
            }
        }
        if (ps->transparent && ps->p < ps->end &&
            (*ps->p == '*' || *ps->p == '+' || *ps->p == '?' ||
             (*ps->p == '{' && ps->p + 1 < ps->end && is_digit((unsigned char)ps->p[1])))) {
            rs_rx_free(atom);
            rs_rx_free(cat);
            return fail(ps, "quantifier after a comment or option setting");
        }
        for (;;) {
            uint32_t min, max;
            if (ps->p >= ps->end)
                break;
            char q = *ps->p;
            if (q == '*') {
                min = 0, max = RS_RX_INF;
                ps->p++;
            } else if (q == '+') {
                min = 1, max = RS_RX_INF;
                ps->p++;
            } else if (q == '?') {
                min = 0, max = 1;
                ps->p++;
            } else if (q == '{') {
                if (parse_braces(ps, &min, &max) != 0) {
                    if (looks_like_quantifier(ps->p, ps->end)) {
                        rs_rx_free(atom);
                        rs_rx_free(cat);
                        return fail(ps, "quantifier syntax of a newer PCRE2");
                    }
                    break; /* a literal '{' */
                }
            } else {
                break;
            }
            if (ps->p < ps->end && (*ps->p == '?' || *ps->p == '+'))
                ps->p++; /* lazy / possessive: same language */
            rs_rx_node_t *rep = node_new(RS_RX_REPEAT);
            rep->min = min;
            rep->max = max;
            node_add(rep, atom);
            atom = rep;
        }
        node_add(cat, atom);
    }
    return cat;
}

static rs_rx_node_t *parse_alt(rx_parser_t *ps)
{
    rs_rx_node_t *first = parse_concat(ps);
    if (first == NULL)
        return NULL;
    if (ps->p >= ps->end || *ps->p != '|')
        return first;
    rs_rx_node_t *alt = node_new(RS_RX_ALT);
    node_add(alt, first);
    while (ps->p < ps->end && *ps->p == '|') {
        ps->p++;
        rs_rx_node_t *b = parse_concat(ps);
        if (b == NULL) {
            rs_rx_free(alt);
            return NULL;
        }
        node_add(alt, b);
    }
    return alt;
}

rs_rx_node_t *rs_rx_parse(const char *re, size_t len, int caseless, const char **why)
{
    rx_parser_t ps = {.p = re, .end = re + len, .caseless = caseless};
    rs_rx_node_t *n = parse_alt(&ps);
    if (n != NULL && ps.p != ps.end) {
        rs_rx_free(n);
        n = fail(&ps, "unbalanced )");
    }
    if (why)
        *why = ps.why;
    return n;
}

/* ---- literal sets --------------------------------------------------------------------------------------- */

typedef struct {
    char *s;
    size_t len;
    int nocase; /* compare ASCII case-insensitively */
} lit_t;

typedef struct {
    lit_t *v;
    size_t n, cap;
} litset_t;

typedef struct {
    int exact_ok; /* the node matches exactly one of `exact` */
    litset_t exact;
    int req_ok; /* every match contains one of `req` (all non-empty) */
    litset_t req;
    int pre_ok; /* every match starts with one of `pre` (may hold "") */
    litset_t pre;
    int suf_ok; /* every match ends with one of `suf` (may hold "") */
    litset_t suf;
    int req2_ok; /* every match also contains one of `req2`, a set independent of `req` (a second condition) */
    litset_t req2;
} info_t;

static void ls_free(litset_t *ls)
{
    for (size_t i = 0; i < ls->n; i++)
        free(ls->v[i].s);
    free(ls->v);
    memset(ls, 0, sizeof(*ls));
}

static void ls_push(litset_t *ls, const char *s, size_t len, int nocase)
{
    for (size_t i = 0; i < ls->n; i++)
        if (ls->v[i].len == len && ls->v[i].nocase == nocase && memcmp(ls->v[i].s, s, len) == 0)
            return;
    if (ls->n == ls->cap) {
        ls->cap = ls->cap ? ls->cap * 2 : 4;
        ls->v = realloc(ls->v, ls->cap * sizeof(*ls->v));
        if (ls->v == NULL)
            abort();
    }
    ls->v[ls->n++] = (lit_t){rs_strndup(s, len), len, nocase};
}

static void ls_append(litset_t *dst, const litset_t *src)
{
    for (size_t i = 0; i < src->n; i++)
        ls_push(dst, src->v[i].s, src->v[i].len, src->v[i].nocase);
}

static int ls_has_empty(const litset_t *ls)
{
    for (size_t i = 0; i < ls->n; i++)
        if (ls->v[i].len == 0)
            return 1;
    return 0;
}

/* Cross product a x b into *out. Returns -1 (out untouched) when it would be too large. */
static int ls_cross(const litset_t *a, const litset_t *b, litset_t *out)
{
    if (a->n * b->n > CROSS_MAX)
        return -1;
    litset_t r = {0};
    for (size_t i = 0; i < a->n; i++)
        for (size_t j = 0; j < b->n; j++) {
            size_t len = a->v[i].len + b->v[j].len;
            if (len > MAX_LIT_LEN) {
                ls_free(&r);
                return -1;
            }
            char buf[MAX_LIT_LEN];
            memcpy(buf, a->v[i].s, a->v[i].len);
            memcpy(buf + a->v[i].len, b->v[j].s, b->v[j].len);
            ls_push(&r, buf, len, a->v[i].nocase || b->v[j].nocase);
        }
    *out = r;
    return 0;
}

/* Rough chance that a byte of benign traffic is `c`: letters and digits are everywhere, URL punctuation
 * is common, other punctuation and control bytes are rare. */
static double byte_chance(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 0.05;
    if (c == ' ')
        return 0.1;
    if (strchr("=&%./-_+,:", c) != NULL && c != 0)
        return 0.03;
    if (c >= 0x21 && c <= 0x7e)
        return 0.01;
    if (c >= 9 && c <= 13)
        return 0.02; /* tabs and line breaks are common in bodies */
    return c >= 0x80 ? 0.02 : 0.005;
}

/* Chance to meet one literal, plus a price per literal: a wider set must buy a real drop in chance. */
static double lit_cost(const lit_t *l)
{
    double w = 1;
    for (size_t k = 0; k < l->len && w > 1e-12; k++)
        w *= byte_chance((unsigned char)l->s[k]);
    return w + 1e-7;
}

/* Expected false-positive weight of a literal set: the sum over its literals of the chance to meet them. */
static double ls_cost(const litset_t *ls)
{
    double cost = 0;
    for (size_t i = 0; i < ls->n; i++)
        cost += lit_cost(&ls->v[i]);
    return cost;
}

static int contains(const lit_t *hay, const lit_t *needle, int nocase);

/* Whether meeting a literal of a always means meeting one of b (each literal of a contains one of b): b then
 * adds nothing as a second condition. */
static int ls_implies(const litset_t *a, const litset_t *b)
{
    for (size_t i = 0; i < a->n; i++) {
        int found = 0;
        for (size_t j = 0; j < b->n && !found; j++)
            found = contains(&a->v[i], &b->v[j], 1);
        if (!found)
            return 0;
    }
    return 1;
}

/* ls_cost of the set without the literals that contain another one of it (they add no chance to meet it:
 * {"=", " =", "\t="} costs what "=" costs). */
static double ls_min_cost(const litset_t *ls)
{
    double cost = 0;
    for (size_t i = 0; i < ls->n; i++) {
        int redundant = 0;
        for (size_t j = 0; j < ls->n && !redundant; j++)
            redundant = i != j && (ls->v[j].len < ls->v[i].len || (ls->v[j].len == ls->v[i].len && j < i)) &&
                        contains(&ls->v[i], &ls->v[j], 1);
        if (!redundant)
            cost += lit_cost(&ls->v[i]);
    }
    return cost;
}

/* Candidate tracking for concatenations: keeps the cheapest set seen. */
typedef struct {
    int ok;
    litset_t best;
    double cost;
    litset_t *all; /* every usable set offered (copies), to pick a second condition from (NULL: not kept) */
    size_t nall, capall;
} pick_t;

static void pick_offer(pick_t *pk, litset_t *ls)
{
    if (ls->n == 0 || ls->n > UNION_MAX || ls_has_empty(ls)) {
        ls_free(ls);
        return;
    }
    if (pk->all != NULL && ls->n <= 64) {
        if (pk->nall == pk->capall) {
            pk->capall *= 2;
            pk->all = realloc(pk->all, pk->capall * sizeof(litset_t));
            if (pk->all == NULL)
                abort();
        }
        litset_t copy = {0};
        ls_append(&copy, ls);
        pk->all[pk->nall++] = copy;
    }
    double c = ls_cost(ls);
    if (!pk->ok || c < pk->cost) {
        if (pk->ok)
            ls_free(&pk->best);
        pk->best = *ls;
        pk->cost = c;
        pk->ok = 1;
        memset(ls, 0, sizeof(*ls));
    } else {
        ls_free(ls);
    }
}

static void offer_copy(pick_t *pk, const litset_t *ls)
{
    litset_t c = {0};
    ls_append(&c, ls);
    pick_offer(pk, &c);
}

static void info_free(info_t *in)
{
    ls_free(&in->exact);
    ls_free(&in->req);
    ls_free(&in->req2);
    ls_free(&in->pre);
    ls_free(&in->suf);
}

/* The cheapest usable requirement of an analysed node: its exact strings or its required set. */
static int best_req(const info_t *in, litset_t *out)
{
    pick_t pk = {0};
    if (in->exact_ok)
        offer_copy(&pk, &in->exact);
    if (in->req_ok)
        offer_copy(&pk, &in->req);
    if (!pk.ok)
        return 0;
    *out = pk.best;
    return 1;
}

static void analyse(const rs_rx_node_t *n, info_t *out);

static void analyse_set(const rs_rx_node_t *n, info_t *out)
{
    /* Case closed: every letter present in both cases -> represent by lower case, matched nocase. */
    int closed = 1, has_letter = 0;
    for (unsigned c = 'a'; c <= 'z'; c++) {
        int lo = rs_rx_set_has(n->set, c), up = rs_rx_set_has(n->set, c - 32);
        if (lo || up)
            has_letter = 1;
        if (lo != up)
            closed = 0;
    }
    int nocase = closed && has_letter;
    int count = 0;
    for (unsigned c = 0; c < 256; c++)
        if (rs_rx_set_has(n->set, c) && !(nocase && c >= 'A' && c <= 'Z'))
            count++;
    if (count == 0 || count > CLASS_EXPAND)
        return; /* nothing known (an empty set never matches, but we need not exploit that) */
    out->exact_ok = 1;
    for (unsigned c = 0; c < 256; c++)
        if (rs_rx_set_has(n->set, c) && !(nocase && c >= 'A' && c <= 'Z')) {
            char ch = (char)c;
            ls_push(&out->exact, &ch, 1, nocase && ((c >= 'a' && c <= 'z')));
        }
}

/* Every match of the sequence starts with one of the returned strings: exact children extend the set, the
 * first inexact child contributes its own prefixes and ends it. `dir` -1 walks backwards for suffixes. */
static litset_t cat_affix(const info_t *kids, size_t n, int dir)
{
    litset_t acc = {0};
    ls_push(&acc, "", 0, 0);
    for (size_t j = 0; j < n; j++) {
        const info_t *k = &kids[dir > 0 ? j : n - 1 - j];
        const litset_t *part = k->exact_ok ? &k->exact : dir > 0 ? (k->pre_ok ? &k->pre : NULL) : (k->suf_ok ? &k->suf : NULL);
        litset_t nx;
        if (part == NULL || (dir > 0 ? ls_cross(&acc, part, &nx) : ls_cross(part, &acc, &nx)) != 0)
            break;
        ls_free(&acc);
        acc = nx;
        if (!k->exact_ok)
            break;
    }
    return acc;
}

/* The first (or, from_end, last) `keep` bytes of each string: a shorter prefix / suffix set is still valid. */
static void ls_trim(const litset_t *src, size_t keep, int from_end, litset_t *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < src->n; i++) {
        size_t len = src->v[i].len < keep ? src->v[i].len : keep;
        ls_push(out, src->v[i].s + (from_end ? src->v[i].len - len : 0), len, src->v[i].nocase);
    }
}

static size_t ls_max_len(const litset_t *ls)
{
    size_t m = 0;
    for (size_t i = 0; i < ls->n; i++)
        if (ls->v[i].len > m)
            m = ls->v[i].len;
    return m;
}

/* Byte i of a string counted from its start, or from its end (for suffix sets). */
static unsigned char at_dir(const lit_t *l, size_t i, int from_end)
{
    return (unsigned char)(from_end ? l->s[l->len - 1 - i] : l->s[i]);
}

static int cmp_fwd(const void *a, const void *b)
{
    const lit_t *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static int cmp_back(const void *a, const void *b)
{
    const lit_t *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    for (size_t i = 0; i < n; i++) {
        int c = (int)at_dir(x, i, 1) - (int)at_dir(y, i, 1);
        if (c)
            return c;
    }
    return (x->len > y->len) - (x->len < y->len);
}

static size_t common_len(const lit_t *a, const lit_t *b, int from_end)
{
    size_t n = a->len < b->len ? a->len : b->len, i = 0;
    while (i < n && at_dir(a, i, from_end) == at_dir(b, i, from_end))
        i++;
    return i;
}

/* Cuts each string where it branches off a neighbour after at least `min_common` shared bytes: variants that
 * only differ past a long common start ("union\t", "union\n", ...) collapse into that start ("union"). */
static void ls_branch_trim(const litset_t *src, size_t min_common, int from_end, litset_t *out)
{
    memset(out, 0, sizeof(*out));
    lit_t *v = malloc((src->n ? src->n : 1) * sizeof(*v));
    if (v == NULL)
        abort();
    memcpy(v, src->v, src->n * sizeof(*v));
    qsort(v, src->n, sizeof(*v), from_end ? cmp_back : cmp_fwd);
    for (size_t i = 0; i < src->n; i++) {
        size_t keep = 0;
        if (i > 0)
            keep = common_len(&v[i], &v[i - 1], from_end);
        if (i + 1 < src->n) {
            size_t c = common_len(&v[i], &v[i + 1], from_end);
            keep = c > keep ? c : keep;
        }
        if (keep < min_common)
            keep = v[i].len;
        ls_push(out, v[i].s + (from_end ? v[i].len - keep : 0), keep, v[i].nocase);
    }
    free(v);
}

/* Offers tail x (each useful trim of pre) as candidates: they are all contiguous text of every match. */
static void offer_joined(pick_t *pk, const litset_t *tail, const litset_t *pre)
{
    for (size_t common = 3; common <= 6; common++) {
        litset_t trimmed, joined;
        ls_branch_trim(pre, common, 0, &trimmed);
        if (ls_cross(tail, &trimmed, &joined) == 0)
            pick_offer(pk, &joined);
        ls_free(&trimmed);
    }
    size_t max = ls_max_len(pre);
    for (size_t keep = 1; keep <= max && keep <= 16; keep++) {
        litset_t trimmed, joined;
        ls_trim(pre, keep, 0, &trimmed);
        if (ls_cross(tail, &trimmed, &joined) == 0)
            pick_offer(pk, &joined);
        ls_free(&trimmed);
    }
    litset_t joined;
    if (max > 16 && ls_cross(tail, pre, &joined) == 0)
        pick_offer(pk, &joined);
}

/* The trim of a suffix set that is cheapest as a literal set (keeps the tail of a sequence small). Candidates:
 * the last 1..16 bytes of every string, and the branch trims. */
static void best_suffix_trim(const litset_t *suf, litset_t *out)
{
    size_t max = ls_max_len(suf), uniform = max < 16 ? max : 16;
    double best_cost = 0;
    int have = 0;
    memset(out, 0, sizeof(*out));
    for (size_t variant = 1; variant <= uniform + 4; variant++) {
        litset_t t;
        if (variant <= uniform)
            ls_trim(suf, variant, 1, &t);
        else
            ls_branch_trim(suf, variant - uniform + 2, 1, &t); /* common lengths 3..6 */
        double c = ls_has_empty(&t) ? 1e30 : ls_cost(&t);
        if (!have || c < best_cost) {
            ls_free(out);
            *out = t;
            best_cost = c;
            have = 1;
        } else {
            ls_free(&t);
        }
    }
    if (max > 16 || !have) {
        ls_free(out);
        ls_append(out, suf);
    }
}

static void analyse_cat(const rs_rx_node_t *n, info_t *out)
{
    info_t *kids = calloc(n->nkids ? n->nkids : 1, sizeof(*kids));
    if (kids == NULL)
        abort();
    for (size_t i = 0; i < n->nkids; i++)
        analyse(n->kids[i], &kids[i]);

    /* Candidates: `tail` holds the strings the text matched so far must end with. */
    pick_t pk = {0};
    pk.capall = 8;
    pk.all = malloc(pk.capall * sizeof(litset_t));
    if (pk.all == NULL)
        abort();
    litset_t tail = {0};
    ls_push(&tail, "", 0, 0);
    int all_exact = 1;
    for (size_t i = 0; i < n->nkids; i++) {
        info_t *k = &kids[i];
        litset_t joined;
        if (k->exact_ok) {
            if (k->exact.n > 1)
                offer_copy(&pk, &tail); /* the tail so far stays a valid choice when the product gets wide */
            if (ls_cross(&tail, &k->exact, &joined) == 0) {
                ls_free(&tail);
                tail = joined;
            } else {
                all_exact = 0;
                pick_offer(&pk, &tail);
                memset(&tail, 0, sizeof(tail));
                ls_append(&tail, &k->exact);
            }
        } else {
            all_exact = 0;
            if (k->pre_ok)
                offer_joined(&pk, &tail, &k->pre); /* tail and the child's start are adjacent */
            pick_offer(&pk, &tail);
            memset(&tail, 0, sizeof(tail));
            if (k->suf_ok)
                best_suffix_trim(&k->suf, &tail);
            else
                ls_push(&tail, "", 0, 0);
        }
        if (k->req_ok)
            offer_copy(&pk, &k->req);
        if (k->req2_ok)
            offer_copy(&pk, &k->req2);
    }
    if (all_exact) {
        out->exact_ok = 1;
        out->exact = tail;
    } else {
        pick_offer(&pk, &tail);
        out->pre = cat_affix(kids, n->nkids, 1);
        out->pre_ok = 1;
        out->suf = cat_affix(kids, n->nkids, -1);
        out->suf_ok = 1;
    }
    if (pk.ok) {
        out->req_ok = 1;
        out->req = pk.best;
        /* the cheapest other requirement that the first does not imply: both must hold */
        double cost2 = 0;
        size_t pick2 = pk.nall;
        for (size_t i = 0; i < pk.nall; i++) {
            double c = ls_min_cost(&pk.all[i]);
            if (c <= REQ2_MAX_COST && (pick2 == pk.nall || c < cost2) && !ls_implies(&out->req, &pk.all[i])) {
                pick2 = i;
                cost2 = c;
            }
        }
        if (pick2 != pk.nall) {
            out->req2_ok = 1;
            out->req2 = pk.all[pick2];
            pk.all[pick2] = (litset_t){0};
        }
    }
    for (size_t i = 0; i < pk.nall; i++)
        ls_free(&pk.all[i]);
    free(pk.all);
    for (size_t i = 0; i < n->nkids; i++)
        info_free(&kids[i]);
    free(kids);
}

static void analyse_alt(const rs_rx_node_t *n, info_t *out)
{
    int exact_ok = 1, req_ok = 1, pre_ok = 1, suf_ok = 1, any2 = 0;
    litset_t exact = {0}, req = {0}, pre = {0}, suf = {0}, req2 = {0};
    for (size_t i = 0; i < n->nkids; i++) {
        info_t k = {0};
        analyse(n->kids[i], &k);
        if (pre_ok && k.pre_ok && pre.n + k.pre.n <= UNION_MAX) {
            ls_append(&pre, &k.pre);
        } else {
            pre_ok = 0;
            ls_free(&pre);
        }
        if (suf_ok && k.suf_ok && suf.n + k.suf.n <= UNION_MAX) {
            ls_append(&suf, &k.suf);
        } else {
            suf_ok = 0;
            ls_free(&suf);
        }
        if (exact_ok && k.exact_ok && exact.n + k.exact.n <= UNION_MAX) {
            ls_append(&exact, &k.exact);
        } else {
            exact_ok = 0;
            ls_free(&exact);
        }
        litset_t r = {0};
        int got = req_ok ? best_req(&k, &r) : 0;
        if (got && req.n + r.n <= UNION_MAX) {
            /* the second condition of a branch, or its first where it has none: (A) or (B and C) needs (A or C) */
            const litset_t *r2 = k.req2_ok ? &k.req2 : &r;
            any2 |= k.req2_ok;
            if (req2.n + r2->n <= UNION_MAX)
                ls_append(&req2, r2);
            else
                any2 = -1000;
            ls_append(&req, &r);
            ls_free(&r);
        } else {
            if (got)
                ls_free(&r);
            req_ok = 0;
            ls_free(&req);
        }
        info_free(&k);
    }
    out->exact_ok = exact_ok;
    out->exact = exact;
    out->req_ok = req_ok;
    out->req = req;
    if (req_ok && any2 > 0 && ls_min_cost(&req2) <= REQ2_MAX_COST) {
        out->req2_ok = 1;
        out->req2 = req2;
    } else {
        ls_free(&req2);
    }
    out->pre_ok = pre_ok;
    out->pre = pre;
    out->suf_ok = suf_ok;
    out->suf = suf;
}

static void analyse_repeat(const rs_rx_node_t *n, info_t *out)
{
    info_t k = {0};
    analyse(n->kids[0], &k);
    if (n->max == 0) {
        out->exact_ok = 1;
        ls_push(&out->exact, "", 0, 0);
        info_free(&k);
        return;
    }
    if (k.exact_ok) {
        /* child^min as a requirement (each match starts with one of them) and, for bounded repeats, the whole
         * finite language */
        litset_t pow = {0};
        ls_push(&pow, "", 0, 0);
        int ok = 1;
        for (uint32_t i = 0; i < n->min && ok; i++) {
            litset_t nx;
            if (ls_cross(&pow, &k.exact, &nx) != 0) {
                ok = 0;
                break;
            }
            ls_free(&pow);
            pow = nx;
        }
        if (ok && n->max != RS_RX_INF) {
            litset_t all = {0}, cur = {0};
            ls_append(&all, &pow);
            ls_append(&cur, &pow);
            int eok = 1;
            for (uint32_t i = n->min; i < n->max && eok; i++) {
                litset_t nx;
                if (ls_cross(&cur, &k.exact, &nx) != 0) {
                    eok = 0;
                    break;
                }
                ls_free(&cur);
                cur = nx;
                if (all.n + cur.n > CROSS_MAX) {
                    eok = 0;
                    break;
                }
                ls_append(&all, &cur);
            }
            ls_free(&cur);
            if (eok) {
                out->exact_ok = 1;
                out->exact = all;
            } else {
                ls_free(&all);
            }
        }
        if (ok && n->min >= 1 && !ls_has_empty(&pow)) {
            out->req_ok = 1;
            out->req = pow;
            pow = (litset_t){0};
        }
        ls_free(&pow);
    }
    /* a repeat starts and ends like one repetition (or is empty) */
    if (k.pre_ok) {
        out->pre_ok = 1;
        ls_append(&out->pre, &k.pre);
        if (n->min == 0)
            ls_push(&out->pre, "", 0, 0);
    }
    if (k.suf_ok) {
        out->suf_ok = 1;
        ls_append(&out->suf, &k.suf);
        if (n->min == 0)
            ls_push(&out->suf, "", 0, 0);
    }
    if (n->min >= 1) {
        litset_t r;
        if (best_req(&k, &r)) {
            pick_t pk = {0};
            if (out->req_ok)
                pick_offer(&pk, &out->req);
            pick_offer(&pk, &r);
            out->req_ok = pk.ok;
            out->req = pk.best;
        }
        if (k.req2_ok && out->req_ok && !ls_implies(&out->req, &k.req2)) { /* each repetition meets both */
            out->req2_ok = 1;
            out->req2 = k.req2;
            k.req2 = (litset_t){0};
        }
    }
    info_free(&k);
}

static void analyse(const rs_rx_node_t *n, info_t *out)
{
    memset(out, 0, sizeof(*out));
    switch (n->kind) {
    case RS_RX_SET:
        analyse_set(n, out);
        break;
    case RS_RX_EMPTY:
        out->exact_ok = 1;
        ls_push(&out->exact, "", 0, 0);
        break;
    case RS_RX_ANY:
        break;
    case RS_RX_CAT:
        analyse_cat(n, out);
        break;
    case RS_RX_ALT:
        analyse_alt(n, out);
        break;
    case RS_RX_REPEAT:
        analyse_repeat(n, out);
        break;
    }
    if (out->exact_ok) {
        /* an exact language is its own prefix and suffix set */
        ls_free(&out->pre);
        ls_free(&out->suf);
        ls_append(&out->pre, &out->exact);
        ls_append(&out->suf, &out->exact);
        out->pre_ok = out->suf_ok = 1;
    }
    if (out->req_ok && (out->req.n == 0 || ls_has_empty(&out->req))) {
        ls_free(&out->req);
        out->req_ok = 0;
    }
    if (out->req2_ok && (!out->req_ok || out->req2.n == 0 || ls_has_empty(&out->req2))) {
        ls_free(&out->req2);
        out->req2_ok = 0;
    }
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

/* Contains `needle` (folding case when nocase). */
static int contains(const lit_t *hay, const lit_t *needle, int nocase)
{
    if (needle->len > hay->len)
        return 0;
    for (size_t i = 0; i + needle->len <= hay->len; i++) {
        size_t k = 0;
        while (k < needle->len && (nocase ? lower(hay->s[i + k]) == lower(needle->s[k]) : hay->s[i + k] == needle->s[k]))
            k++;
        if (k == needle->len)
            return 1;
    }
    return 0;
}

/* Hands out a literal set as rs_op_required_literals does: one case mode for the whole set, literals that
 * contain another one of the set dropped. Returns the count, or -1 when the set is unusable. Frees set. */
static int hand_out(litset_t *set, rs_str_t **lits, int *nocase)
{
    /* One case mode for the whole set: folding a case-sensitive literal only widens what it accepts. */
    int any_nocase = 0;
    for (size_t i = 0; i < set->n; i++)
        any_nocase |= set->v[i].nocase;
    litset_t norm = {0};
    for (size_t i = 0; i < set->n; i++) {
        if (any_nocase)
            for (size_t k = 0; k < set->v[i].len; k++)
                set->v[i].s[k] = lower(set->v[i].s[k]);
        ls_push(&norm, set->v[i].s, set->v[i].len, any_nocase);
    }
    ls_free(set);
    /* A literal containing another one of the set adds nothing. */
    char *drop = calloc(norm.n ? norm.n : 1, 1);
    if (drop == NULL)
        abort();
    for (size_t i = 0; i < norm.n; i++)
        for (size_t j = 0; j < norm.n && !drop[i]; j++)
            if (i != j && !drop[j] && contains(&norm.v[i], &norm.v[j], any_nocase))
                drop[i] = 1;
    size_t kept = 0;
    for (size_t i = 0; i < norm.n; i++)
        kept += !drop[i];
    if (kept == 0 || kept > REQ_MAX) {
        free(drop);
        ls_free(&norm);
        return -1;
    }
    rs_str_t *out = malloc(kept * sizeof(*out));
    if (out == NULL)
        abort();
    size_t o = 0;
    for (size_t i = 0; i < norm.n; i++)
        if (!drop[i]) {
            out[o++] = rs_str(norm.v[i].s, norm.v[i].len);
            norm.v[i].s = NULL;
        }
    free(drop);
    ls_free(&norm);
    *lits = out;
    *nocase = any_nocase;
    return (int)kept;
}

int rs_rx_required_literal_groups(const char *re, size_t len, rs_str_t **lits, int *nocase, rs_str_t **lits2, int *n2)
{
    *lits = NULL;
    *nocase = 0;
    if (lits2 != NULL) {
        *lits2 = NULL;
        *n2 = -1;
    }
    rs_rx_node_t *tree = rs_rx_parse(re, len, 0, NULL);
    if (tree == NULL)
        return -1;
    info_t in;
    analyse(tree, &in);
    rs_rx_free(tree);
    litset_t set;
    int ok = best_req(&in, &set);
    /* the second condition only goes with the required set it was chosen against */
    int second = ok && lits2 != NULL && in.req2_ok && !ls_implies(&set, &in.req2);
    litset_t set2 = {0};
    if (second) {
        set2 = in.req2;
        in.req2 = (litset_t){0};
    }
    info_free(&in);
    if (!ok) {
        ls_free(&set2);
        return -1;
    }
    int n = hand_out(&set, lits, nocase);
    if (second && n > 0) {
        int nocase2;
        *n2 = hand_out(&set2, lits2, &nocase2);
    } else
        ls_free(&set2);
    return n;
}

int rs_rx_required_literals(const char *re, size_t len, rs_str_t **lits, int *nocase)
{
    return rs_rx_required_literal_groups(re, len, lits, nocase, NULL, NULL);
}
