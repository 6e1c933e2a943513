/* SPDX-License-Identifier: MIT */
/* SecRule operators: compilation of the parameter at load time and execution against one value, with the
 * semantics of ModSecurity v3.0.9 (numeric parsing, empty-parameter cases, @pm phrase syntax). Execution
 * allocates nothing: PCRE2 match data, match context and JIT stack live in the per-thread scratch. */
#include "operator/op_internal.h"
#include "operator/detect.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RS_RX_OPTIONS (PCRE2_DOTALL | PCRE2_MULTILINE) /* what v3 compiles every @rx with */
#define RS_OVEC_PAIRS 10                               /* captures 0..9 are all the capture action uses */

struct st_rs_op_scratch_t {
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit;
    uint32_t default_match_limit, default_depth_limit;
    char fingerprint[16]; /* @detectSQLi result, referenced by result->matched */
};

/* ---- names ---------------------------------------------------------------------------------------------- */

typedef struct {
    const char *name;
    rs_op_kind_t kind;
    int expands_macros; /* v3 evaluates %{...} in the parameter for this operator */
} op_name_t;

static const op_name_t op_names[] = {
    {"rx", RS_OP_RX, 1},
    {"pm", RS_OP_PM, 0},
    {"pmFromFile", RS_OP_PMF, 0},
    {"pmf", RS_OP_PMF, 0},
    {"detectSQLi", RS_OP_DETECT_SQLI, 0},
    {"detectXSS", RS_OP_DETECT_XSS, 0},
    {"eq", RS_OP_EQ, 1},
    {"ge", RS_OP_GE, 1},
    {"gt", RS_OP_GT, 1},
    {"le", RS_OP_LE, 1},
    {"lt", RS_OP_LT, 1},
    {"streq", RS_OP_STREQ, 1},
    {"within", RS_OP_WITHIN, 1},
    {"beginsWith", RS_OP_BEGINS_WITH, 1},
    {"endsWith", RS_OP_ENDS_WITH, 1},
    {"contains", RS_OP_CONTAINS, 1},
    {"containsWord", RS_OP_CONTAINS_WORD, 1},
    {"ipMatch", RS_OP_IP_MATCH, 0},
    {"ipMatchFromFile", RS_OP_IP_MATCH_FROM_FILE, 0},
    {"ipMatchF", RS_OP_IP_MATCH_FROM_FILE, 0},
    {"validateByteRange", RS_OP_VALIDATE_BYTE_RANGE, 0},
    {"validateUrlEncoding", RS_OP_VALIDATE_URL_ENCODING, 0},
    {"validateUtf8Encoding", RS_OP_VALIDATE_UTF8_ENCODING, 0},
    {"unconditionalMatch", RS_OP_UNCONDITIONAL_MATCH, 0},
    {"noMatch", RS_OP_NO_MATCH, 0},
    {"strmatch", RS_OP_STRMATCH, 1},
    {"geoLookup", RS_OP_GEO_LOOKUP, 0},
    {"rbl", RS_OP_RBL, 0},
};

/* Canonical name per kind (first table entry of that kind). */
static const char *kind_name(rs_op_kind_t kind)
{
    for (size_t i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++)
        if (op_names[i].kind == kind)
            return op_names[i].name;
    return "?";
}

static char *errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *errorf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *m = malloc((size_t)n + 1);
    if (m == NULL)
        abort();
    va_start(ap, fmt);
    vsnprintf(m, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return m;
}

/* ---- numbers as v3 reads them ------------------------------------------------------------------------- */

static int is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Leading blanks, optional sign, decimal digits. *ok = 0 when no digit; *overflow set when out of range
 * (value then clamped like strtoll). */
static long long parse_ll(const char *s, size_t len, int *ok, int *overflow)
{
    size_t i = 0;
    int neg = 0;
    unsigned long long v = 0, lim;
    *ok = 0;
    *overflow = 0;
    while (i < len && is_space((unsigned char)s[i]))
        i++;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    lim = neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        *ok = 1;
        unsigned d = (unsigned)(s[i] - '0');
        if (*overflow || v > (lim - d) / 10) {
            *overflow = 1;
            v = lim;
            continue;
        }
        v = v * 10 + d;
    }
    if (neg)
        return v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    return (long long)v;
}

/* atoll(): what @ge @gt @le @lt use. */
static long long v3_atoll(const char *s, size_t len)
{
    int ok, overflow;
    return parse_ll(s, len, &ok, &overflow);
}

/* std::stoi() with exceptions mapped to 0: what @eq uses. */
static long long v3_stoi(const char *s, size_t len)
{
    int ok, overflow;
    long long v = parse_ll(s, len, &ok, &overflow);
    if (!ok || overflow || v < INT_MIN || v > INT_MAX)
        return 0;
    return v;
}

/* ---- files ---------------------------------------------------------------------------------------------- */

static char *resolve_path(const char *name, const char *base_dir)
{
    if (name[0] == '/' || base_dir == NULL || base_dir[0] == '\0')
        return rs_strndup(name, strlen(name));
    size_t n = strlen(base_dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p == NULL)
        abort();
    snprintf(p, n, "%s/%s", base_dir, name);
    return p;
}

/* Reads a whole file (relative names tried against base_dir, then as given). */
static char *read_file(const char *name, const char *base_dir, size_t *len, char **err)
{
    char *path = resolve_path(name, base_dir);
    rs_buf_t b = {0};
    if (rs_read_file(path, 0, &b) != 0 && (strcmp(path, name) == 0 || rs_read_file(name, 0, &b) != 0)) {
        *err = errorf("failed to open file \"%s\": %s", path, strerror(errno));
        free(path);
        rs_buf_free(&b);
        return NULL;
    }
    free(path);
    *len = b.len;
    return b.base;
}

/* ---- @pm / @pmFromFile phrase lists -------------------------------------------------------------------- */

static void add_phrase(rs_op_t *op, const char *s, size_t len, size_t *cap)
{
    if (op->nphrases == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        op->phrases = realloc(op->phrases, *cap * sizeof(char *));
        op->phrase_lens = realloc(op->phrase_lens, *cap * sizeof(size_t));
        if (op->phrases == NULL || op->phrase_lens == NULL)
            abort();
    }
    op->phrases[op->nphrases] = rs_strndup(s, len);
    op->phrase_lens[op->nphrases] = len;
    op->nphrases++;
}

/* The @pm content syntax: optional surrounding double quotes, |hex bytes| sections and the escapes \: \; \\
 * \". Returns the decoded text (malloc'ed, *out_len) or NULL when it uses an unsupported escape, in which
 * case v3 falls back to the raw parameter. */
static char *decode_pm_content(const char *p, size_t len, size_t *out_len)
{
    size_t i = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\t'))
        i++;
    if (len - i >= 2 && p[i] == '"' && p[len - 1] == '"') {
        i++;
        len--;
    }
    char *out = malloc(len - i + 1);
    if (out == NULL)
        abort();
    size_t o = 0;
    int in_hex = 0, esc = 0, pending = -1;
    for (; i < len; i++) {
        char c = p[i];
        if (c == '|') {
            in_hex = !in_hex;
            pending = -1;
        } else if (!esc && c == '\\') {
            esc = 1;
        } else if (in_hex) {
            int d = rs_hex_value((unsigned char)c);
            if (d < 0)
                continue; /* v3 skips anything else inside |...| */
            if (pending < 0) {
                pending = d;
            } else {
                out[o++] = (char)(pending * 16 + d);
                pending = -1;
            }
        } else if (esc) {
            if (c != ':' && c != ';' && c != '\\' && c != '"') {
                free(out);
                return NULL;
            }
            out[o++] = c;
            esc = 0;
        } else {
            out[o++] = c;
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

static void split_phrases(rs_op_t *op, const char *s, size_t len, size_t *cap)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && is_space((unsigned char)s[i]))
            i++;
        size_t start = i;
        while (i < len && !is_space((unsigned char)s[i]))
            i++;
        if (i > start)
            add_phrase(op, s + start, i - start, cap);
    }
}

static int build_phrase_automaton(rs_op_t *op)
{
    if (op->nphrases == 0)
        return 0;
    rs_str_t *pats = malloc(op->nphrases * sizeof(*pats));
    if (pats == NULL)
        abort();
    for (size_t i = 0; i < op->nphrases; i++)
        pats[i] = rs_str(op->phrases[i], op->phrase_lens[i]);
    op->ac = rs_ac_build(pats, NULL, op->nphrases, 1);
    free(pats);
    return 0;
}

static int compile_pm(rs_op_t *op)
{
    size_t cap = 0, dlen;
    char *decoded = decode_pm_content(op->param, op->param_len, &dlen);
    if (decoded != NULL) {
        split_phrases(op, decoded, dlen, &cap);
        free(decoded);
    } else {
        split_phrases(op, op->param, op->param_len, &cap);
    }
    return build_phrase_automaton(op);
}

/* v3: a line is a comment when empty or when its first non-blank character is '#'. We also drop a trailing
 * CR and blank-only lines (v3 would add them as phrases of spaces, which matches nearly everything). */
static void add_phrase_lines(rs_op_t *op, const char *text, size_t len, size_t *cap)
{
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        while (i < len && text[i] != '\n')
            i++;
        size_t end = i;
        i++;
        if (end > start && text[end - 1] == '\r')
            end--;
        size_t k = start;
        while (k < end && is_space((unsigned char)text[k]))
            k++;
        if (k == end || text[k] == '#')
            continue;
        add_phrase(op, text + start, end - start, cap);
    }
}

/* Runs cb on each blank-separated file name of the parameter. */
static int for_each_file(rs_op_t *op, const char *base_dir, char **err,
                         int (*cb)(rs_op_t *, const char *text, size_t len, size_t *cap, char **err))
{
    size_t cap = 0, i = 0;
    int nfiles = 0;
    while (i < op->param_len) {
        while (i < op->param_len && is_space((unsigned char)op->param[i]))
            i++;
        size_t start = i;
        while (i < op->param_len && !is_space((unsigned char)op->param[i]))
            i++;
        if (i == start)
            break;
        char *name = rs_strndup(op->param + start, i - start);
        size_t len;
        char *text = read_file(name, base_dir, &len, err);
        free(name);
        if (text == NULL)
            return -1;
        int rc = cb(op, text, len, &cap, err);
        free(text);
        if (rc != 0)
            return -1;
        nfiles++;
    }
    if (nfiles == 0) {
        *err = errorf("@%s needs a file name", op->name);
        return -1;
    }
    return 0;
}

static int pmf_file_cb(rs_op_t *op, const char *text, size_t len, size_t *cap, char **err)
{
    add_phrase_lines(op, text, len, cap);
    return 0;
}

/* IP list files: '#' starts a comment, each line may hold a comma separated list. */
static int ipf_file_cb(rs_op_t *op, const char *text, size_t len, size_t *cap, char **err)
{
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        while (i < len && text[i] != '\n')
            i++;
        size_t end = i;
        i++;
        const char *hash = memchr(text + start, '#', end - start);
        if (hash != NULL)
            end = (size_t)(hash - text);
        if (rs_ipset_add_list(op->ips, text + start, end - start, err) != 0)
            return -1;
    }
    return 0;
}

/* ---- @validateByteRange --------------------------------------------------------------------------------- */

static int parse_byte_value(const char *s, size_t len, long *out)
{
    int ok, overflow;
    long long v = parse_ll(s, len, &ok, &overflow);
    if (!ok || overflow || v < 0 || v > 255)
        return -1;
    *out = (long)v;
    return 0;
}

static int compile_byte_range(rs_op_t *op, char **err)
{
    size_t i = 0;
    const char *p = op->param;
    while (i <= op->param_len) {
        size_t j = i;
        while (j < op->param_len && p[j] != ',')
            j++;
        size_t k = i;
        while (k < j && is_space((unsigned char)p[k]))
            k++;
        if (k == j && op->param_len != 0) {
            i = j + 1; /* empty entry, e.g. a trailing comma: v3 ignores it too */
            continue;
        }
        const char *dash = memchr(p + i, '-', j - i);
        long lo, hi;
        if (dash == NULL) {
            if (parse_byte_value(p + i, j - i, &lo) != 0)
                goto bad;
            hi = lo;
        } else {
            size_t d = (size_t)(dash - p);
            if (parse_byte_value(p + i, d - i, &lo) != 0 || parse_byte_value(p + d + 1, j - d - 1, &hi) != 0 || lo > hi)
                goto bad;
        }
        for (long c = lo; c <= hi; c++)
            op->byte_table[c >> 3] |= (uint8_t)(1u << (c & 7));
        i = j + 1;
        continue;
    bad:
        *err = errorf("invalid byte range \"%.*s\" in \"%s\"", (int)(j - i), p + i, op->param);
        return -1;
    }
    return 0;
}

/* ---- create / free -------------------------------------------------------------------------------------- */

static pcre2_code *compile_regex(const char *pattern, size_t len, char **err)
{
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, len, RS_RX_OPTIONS, &errcode, &erroff, NULL);
    if (re == NULL && err != NULL) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(errcode, msg, sizeof(msg));
        *err = errorf("invalid regular expression at offset %zu: %s", (size_t)erroff, (const char *)msg);
    }
    return re;
}

rs_op_t *rs_op_create(rs_str_t name, rs_str_t param, int negated, const char *base_dir, char **err)
{
    const op_name_t *found = NULL;
    for (size_t i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++)
        if (rs_str_ieq(name, op_names[i].name)) {
            found = &op_names[i];
            break;
        }
    if (found == NULL) {
        *err = errorf("unsupported operator @%.*s", (int)name.len, name.base ? name.base : "");
        return NULL;
    }
    rs_op_t *op = calloc(1, sizeof(*op));
    if (op == NULL)
        abort();
    op->kind = found->kind;
    op->name = kind_name(found->kind);
    op->param = rs_strndup(param.base ? param.base : "", param.len);
    op->param_len = param.len;
    op->negated = negated != 0;
    op->has_macro = found->expands_macros && memmem(op->param, op->param_len, "%{", 2) != NULL;

    int rc = 0;
    switch (op->kind) {
    case RS_OP_RX:
        if (!op->has_macro && op->param_len != 0) {
            op->re = compile_regex(op->param, op->param_len, err);
            if (op->re == NULL)
                rc = -1;
            else
                pcre2_jit_compile(op->re, PCRE2_JIT_COMPLETE); /* failure leaves the interpreter in use */
        }
        break;
    case RS_OP_PM:
        rc = compile_pm(op);
        break;
    case RS_OP_PMF:
        rc = for_each_file(op, base_dir, err, pmf_file_cb);
        if (rc == 0)
            rc = build_phrase_automaton(op);
        break;
    case RS_OP_EQ:
        if (!op->has_macro)
            op->number = v3_stoi(op->param, op->param_len);
        break;
    case RS_OP_GE:
    case RS_OP_GT:
    case RS_OP_LE:
    case RS_OP_LT:
        if (!op->has_macro)
            op->number = v3_atoll(op->param, op->param_len);
        break;
    case RS_OP_IP_MATCH:
        op->ips = rs_ipset_new();
        rc = rs_ipset_add_list(op->ips, op->param, op->param_len, err);
        break;
    case RS_OP_IP_MATCH_FROM_FILE:
        op->ips = rs_ipset_new();
        rc = for_each_file(op, base_dir, err, ipf_file_cb);
        break;
    case RS_OP_VALIDATE_BYTE_RANGE:
        rc = compile_byte_range(op, err);
        break;
    default:
        break;
    }
    if (rc != 0) {
        rs_op_free(op);
        return NULL;
    }
    return op;
}

void rs_op_free(rs_op_t *op)
{
    if (op == NULL)
        return;
    pcre2_code_free(op->re);
    rs_ac_free(op->ac);
    for (size_t i = 0; i < op->nphrases; i++)
        free(op->phrases[i]);
    free(op->phrases);
    free(op->phrase_lens);
    rs_ipset_free(op->ips);
    free(op->param);
    free(op);
}

rs_op_kind_t rs_op_kind(const rs_op_t *op)
{
    return op->kind;
}

const char *rs_op_name(const rs_op_t *op)
{
    return op->name;
}

rs_str_t rs_op_param(const rs_op_t *op)
{
    return rs_str(op->param, op->param_len);
}

int rs_op_negated(const rs_op_t *op)
{
    return op->negated;
}

int rs_op_has_macro(const rs_op_t *op)
{
    return op->has_macro;
}

/* ---- scratch -------------------------------------------------------------------------------------------- */

rs_op_scratch_t *rs_op_scratch_new(void)
{
    rs_op_scratch_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    s->md = pcre2_match_data_create(RS_OVEC_PAIRS, NULL);
    s->mctx = pcre2_match_context_create(NULL);
    s->jit = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
    if (s->md == NULL || s->mctx == NULL)
        abort();
    if (s->jit != NULL)
        pcre2_jit_stack_assign(s->mctx, NULL, s->jit);
    if (pcre2_config(PCRE2_CONFIG_MATCHLIMIT, &s->default_match_limit) < 0)
        s->default_match_limit = 10000000;
    if (pcre2_config(PCRE2_CONFIG_DEPTHLIMIT, &s->default_depth_limit) < 0)
        s->default_depth_limit = 10000000;
    return s;
}

void rs_op_scratch_free(rs_op_scratch_t *s)
{
    if (s == NULL)
        return;
    pcre2_match_data_free(s->md);
    pcre2_match_context_free(s->mctx);
    pcre2_jit_stack_free(s->jit);
    free(s);
}

/* ---- execution ------------------------------------------------------------------------------------------ */

static int exec_rx(const rs_op_t *op, rs_str_t pattern, rs_str_t value, int want_capture, const rs_op_limits_t *limits,
                   rs_op_scratch_t *scratch, rs_op_result_t *result)
{
    pcre2_code *re = op->re, *own = NULL;
    if (op->has_macro) {
        if (pattern.len == 0)
            pattern = RS_STR(".*"); /* v3 compiles an empty expanded pattern as ".*" */
        own = re = compile_regex(pattern.base, pattern.len, NULL);
        if (re == NULL)
            return -1;
    } else if (re == NULL) {
        return 1; /* empty @rx parameter: v3 reports a match without running anything */
    }
    pcre2_set_match_limit(scratch->mctx, limits && limits->match_limit ? limits->match_limit : scratch->default_match_limit);
    pcre2_set_depth_limit(scratch->mctx, limits && limits->depth_limit ? limits->depth_limit : scratch->default_depth_limit);
    PCRE2_SPTR subject = (PCRE2_SPTR)(value.base ? value.base : "");
    int rc = pcre2_match(re, subject, value.len, 0, 0, scratch->md, scratch->mctx);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
        rc = pcre2_match(re, subject, value.len, 0, PCRE2_NO_JIT, scratch->md, scratch->mctx);
    if (own != NULL)
        pcre2_code_free(own);
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT ||
        rc == PCRE2_ERROR_JIT_STACKLIMIT) {
        result->limit_hit = 1;
        return 0;
    }
    if (rc < 0)
        return -1;
    if (rc == 0)
        rc = RS_OVEC_PAIRS; /* more groups than we keep: the first ones are filled */
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(scratch->md);
    /* defensive: PCRE2 builds that allow \K in lookarounds can report a start after the end */
    result->matched = rs_str(value.base + ov[0], ov[1] >= ov[0] ? ov[1] - ov[0] : 0);
    if (want_capture) {
        for (int i = 0; i < rc; i++) {
            if (ov[2 * i] == PCRE2_UNSET || ov[2 * i + 1] < ov[2 * i])
                result->captures[i] = rs_str(NULL, 0); /* an unset group */
            else
                result->captures[i] = rs_str(value.base + ov[2 * i], ov[2 * i + 1] - ov[2 * i]);
        }
        result->ncaptures = rc;
    }
    return 1;
}

typedef struct {
    uint32_t id;
    size_t end;
    int found;
} first_match_t;

static int on_first_match(void *ctx, uint32_t id, size_t end)
{
    first_match_t *m = ctx;
    m->id = id;
    m->end = end;
    m->found = 1;
    return 1;
}

static int exec_pm(const rs_op_t *op, rs_str_t value, int want_capture, rs_op_result_t *result)
{
    first_match_t m = {0, 0, 0};
    rs_ac_scan(op->ac, value.base, value.len, on_first_match, &m);
    if (!m.found)
        return 0;
    /* v3 reports the phrase as written in the list (TX.0 with capture) */
    result->matched = rs_str(op->phrases[m.id], op->phrase_lens[m.id]);
    if (want_capture) {
        result->captures[0] = result->matched;
        result->ncaptures = 1;
    }
    return 1;
}

static int is_ascii_letter(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* v3 @containsWord: the parameter bounded by non-letters (digits and '_' count as boundaries). */
static int contains_word(rs_str_t value, rs_str_t word, rs_op_result_t *result)
{
    if (word.len == 0)
        return 1;
    if (value.len == 0 || word.len > value.len)
        return 0;
    for (size_t pos = 0; pos + word.len <= value.len; pos++) {
        if (memcmp(value.base + pos, word.base, word.len) != 0)
            continue;
        size_t after = pos + word.len;
        int left_ok = pos == 0 || !is_ascii_letter((unsigned char)value.base[pos - 1]);
        int right_ok = after == value.len || !is_ascii_letter((unsigned char)value.base[after]);
        if (left_ok && right_ok) {
            result->matched = rs_str(value.base + pos, word.len);
            return 1;
        }
    }
    return 0;
}

static int validate_url_encoding(rs_str_t v)
{
    if (v.len == 0)
        return 0;
    for (size_t i = 0; i < v.len;) {
        if (v.base[i] != '%') {
            i++;
            continue;
        }
        if (i + 2 >= v.len)
            return 1; /* not enough characters */
        if (rs_hex_value((unsigned char)v.base[i + 1]) < 0 || rs_hex_value((unsigned char)v.base[i + 2]) < 0)
            return 1; /* non-hexadecimal digits */
        i += 3;
    }
    return 0;
}

/* Length of the valid UTF-8 character at p, or 0 when it is invalid (truncated, bad continuation, overlong,
 * surrogate or beyond U+10FFFF), following v3's checks. */
static size_t utf8_char_len(const unsigned char *p, size_t left)
{
    unsigned c = p[0];
    size_t n;
    uint32_t d;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) {
        n = 2;
        d = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3;
        d = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        if (c >= 0xF5)
            return 0;
        n = 4;
        d = c & 0x07;
    } else {
        return 0;
    }
    if (left < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        d = (d << 6) | (p[i] & 0x3F);
    }
    if (d >= 0xD800 && d <= 0xDFFF)
        return 0;
    if ((n == 4 && d < 0x10000) || (n == 3 && d < 0x800) || (n == 2 && d < 0x80))
        return 0;
    return n;
}

static int invalid_utf8(rs_str_t v)
{
    const unsigned char *p = (const unsigned char *)v.base;
    for (size_t i = 0; i < v.len;) {
        size_t n = utf8_char_len(p + i, v.len - i);
        if (n == 0)
            return 1;
        i += n;
    }
    return 0;
}

static int exec_raw(const rs_op_t *op, rs_str_t param, rs_str_t value, int want_capture, const rs_op_limits_t *limits,
                    rs_op_scratch_t *scratch, rs_op_result_t *result)
{
    switch (op->kind) {
    case RS_OP_RX:
        return exec_rx(op, param, value, want_capture, limits, scratch, result);
    case RS_OP_PM:
    case RS_OP_PMF:
        return exec_pm(op, value, want_capture, result);
    case RS_OP_DETECT_SQLI:
        scratch->fingerprint[0] = '\0';
        if (!rs_detect_sqli(value.base ? value.base : "", value.len, scratch->fingerprint))
            return 0;
        result->matched = rs_str(scratch->fingerprint, strnlen(scratch->fingerprint, sizeof(scratch->fingerprint)));
        if (want_capture) {
            result->captures[0] = result->matched;
            result->ncaptures = 1;
        }
        return 1;
    case RS_OP_DETECT_XSS:
        if (!rs_detect_xss(value.base ? value.base : "", value.len))
            return 0;
        result->matched = value;
        if (want_capture) {
            result->captures[0] = value;
            result->ncaptures = 1;
        }
        return 1;
    case RS_OP_EQ: {
        long long p = op->has_macro ? v3_stoi(param.base, param.len) : op->number;
        return v3_stoi(value.base, value.len) == p;
    }
    case RS_OP_GE:
    case RS_OP_GT:
    case RS_OP_LE:
    case RS_OP_LT: {
        long long p = op->has_macro ? v3_atoll(param.base, param.len) : op->number;
        long long v = v3_atoll(value.base, value.len);
        return op->kind == RS_OP_GE ? v >= p : op->kind == RS_OP_GT ? v > p : op->kind == RS_OP_LE ? v <= p : v < p;
    }
    case RS_OP_STREQ:
        return value.len == param.len && (param.len == 0 || memcmp(value.base, param.base, param.len) == 0);
    case RS_OP_WITHIN:
        if (value.len == 0)
            return 1; /* v3: an empty value is within anything */
        return param.len >= value.len && memmem(param.base, param.len, value.base, value.len) != NULL;
    case RS_OP_BEGINS_WITH:
        if (value.len < param.len || (param.len != 0 && memcmp(value.base, param.base, param.len) != 0))
            return 0;
        result->matched = rs_str(value.base, param.len);
        return 1;
    case RS_OP_ENDS_WITH:
        if (value.len < param.len || (param.len != 0 && memcmp(value.base + value.len - param.len, param.base, param.len) != 0))
            return 0;
        result->matched = rs_str(value.base + value.len - param.len, param.len);
        return 1;
    case RS_OP_CONTAINS:
    case RS_OP_STRMATCH: {
        if (param.len == 0)
            return 1;
        if (value.len < param.len)
            return 0;
        const char *at = memmem(value.base, value.len, param.base, param.len);
        if (at == NULL)
            return 0;
        result->matched = rs_str(at, param.len);
        return 1;
    }
    case RS_OP_CONTAINS_WORD:
        return contains_word(value, param, result);
    case RS_OP_IP_MATCH:
    case RS_OP_IP_MATCH_FROM_FILE:
        return rs_ipset_contains(op->ips, value.base, value.len);
    case RS_OP_VALIDATE_BYTE_RANGE:
        for (size_t i = 0; i < value.len; i++)
            if (!rs_rx_set_has(op->byte_table, (unsigned char)value.base[i]))
                return 1;
        return 0;
    case RS_OP_VALIDATE_URL_ENCODING:
        return validate_url_encoding(value);
    case RS_OP_VALIDATE_UTF8_ENCODING:
        return invalid_utf8(value);
    case RS_OP_UNCONDITIONAL_MATCH:
        return 1;
    case RS_OP_NO_MATCH:
    case RS_OP_GEO_LOOKUP:
    case RS_OP_RBL:
        return 0;
    case RS_OP__COUNT:
        break;
    }
    return -1;
}

int rs_op_exec(const rs_op_t *op, rs_str_t expanded_param, rs_str_t value, int want_capture, const rs_op_limits_t *limits,
               rs_op_scratch_t *scratch, rs_op_result_t *result)
{
    rs_op_result_t local;
    if (result == NULL)
        result = &local;
    /* not a memset of the whole result: this runs for every rule and value, and captures[] are only read up to
     * ncaptures (each filled or set empty when written) */
    result->ncaptures = 0;
    result->matched = rs_str(NULL, 0);
    result->limit_hit = 0;
    if (value.base == NULL)
        value = rs_str("", 0);
    rs_str_t param = op->has_macro ? expanded_param : rs_str(op->param, op->param_len);
    if (param.base == NULL)
        param = rs_str("", 0);
    int rc = exec_raw(op, param, value, want_capture, limits, scratch, result);
    if (rc < 0)
        return -1;
    return op->negated ? !rc : rc;
}

/* ---- literal requirements ------------------------------------------------------------------------------- */

static int literals_of_strings(const rs_str_t *src, size_t n, rs_str_t **lits)
{
    rs_str_t *out = malloc((n ? n : 1) * sizeof(*out));
    if (out == NULL)
        abort();
    for (size_t i = 0; i < n; i++)
        out[i] = rs_str(rs_strndup(src[i].base, src[i].len), src[i].len);
    *lits = out;
    return (int)n;
}

int rs_op_required_literal_groups(const rs_op_t *op, rs_str_t **lits, int *nocase, rs_str_t **lits2, int *n2)
{
    *lits2 = NULL;
    *n2 = -1;
    if (op->kind == RS_OP_RX && !op->negated && !op->has_macro && op->param_len != 0)
        return rs_rx_required_literal_groups(op->param, op->param_len, lits, nocase, lits2, n2);
    return rs_op_required_literals(op, lits, nocase);
}

int rs_op_required_literals(const rs_op_t *op, rs_str_t **lits, int *nocase)
{
    *lits = NULL;
    *nocase = 0;
    if (op->negated)
        return -1;
    switch (op->kind) {
    case RS_OP_RX:
        if (op->has_macro || op->param_len == 0)
            return -1;
        return rs_rx_required_literals(op->param, op->param_len, lits, nocase);
    case RS_OP_PM:
    case RS_OP_PMF: {
        for (size_t i = 0; i < op->nphrases; i++)
            if (op->phrase_lens[i] == 0)
                return -1;
        rs_str_t *tmp = malloc((op->nphrases ? op->nphrases : 1) * sizeof(*tmp));
        if (tmp == NULL)
            abort();
        for (size_t i = 0; i < op->nphrases; i++)
            tmp[i] = rs_str(op->phrases[i], op->phrase_lens[i]);
        int n = literals_of_strings(tmp, op->nphrases, lits);
        free(tmp);
        *nocase = 1;
        return n;
    }
    case RS_OP_CONTAINS:
    case RS_OP_STRMATCH:
    case RS_OP_BEGINS_WITH:
    case RS_OP_ENDS_WITH:
    case RS_OP_STREQ:
    case RS_OP_CONTAINS_WORD: {
        if (op->has_macro || op->param_len == 0)
            return -1;
        rs_str_t p = rs_str(op->param, op->param_len);
        return literals_of_strings(&p, 1, lits);
    }
    case RS_OP_NO_MATCH:
    case RS_OP_GEO_LOOKUP:
    case RS_OP_RBL:
        *lits = malloc(sizeof(rs_str_t)); /* never matches: the empty set */
        if (*lits == NULL)
            abort();
        return 0;
    default:
        return -1;
    }
}

void rs_op_literals_free(rs_str_t *lits, int n)
{
    if (lits == NULL)
        return;
    for (int i = 0; i < n; i++)
        free((void *)lits[i].base);
    free(lits);
}
