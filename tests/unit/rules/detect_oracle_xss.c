/* SPDX-License-Identifier: MIT */
/* Test oracle: a frozen copy of @detectXSS as of commit 07d66d8 (rules/operator/detect_xss.c), renamed
 * oracle_detect_xss. detect_diff_test.c includes it and checks that the optimised detector returns exactly the same
 * verdicts. Do not edit except to re-freeze deliberately. */
#include <stdint.h>
#include <string.h>

/* A byte string read either raw or with HTML character references (and a few look-alike encodings) decoded on the
 * fly. Positions are always raw byte offsets. */
typedef struct {
    const char *s;
    size_t len;
    int decode;
} html_view;

#define END_OF_INPUT (-1)

typedef struct {
    const char *name;
    unsigned char value;
} named_reference;

/* Only references that matter for markup or URL syntax; case-insensitive since obfuscation plays with case. */
static const named_reference named_refs[] = {
    {"lt", '<'},     {"gt", '>'},       {"amp", '&'},   {"quot", '"'},  {"apos", '\''},  {"colon", ':'},
    {"tab", '\t'},   {"newline", '\n'}, {"lpar", '('},  {"rpar", ')'},  {"equals", '='}, {"sol", '/'},
    {"period", '.'}, {"comma", ','},    {"excl", '!'},  {"lsqb", '['},  {"rsqb", ']'},   {"grave", '`'},
    {"nbsp", ' '},   {"semi", ';'},     {"plus", '+'},  {"bsol", '\\'}, {"num", '#'},    {"lbrace", '{'},
    {"rbrace", '}'}, {"percnt", '%'},   {"quest", '?'}, {"ast", '*'},   {"commat", '@'}, {"dollar", '$'},
};

static int lower_ascii(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static int is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_html_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower_ascii(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Maps a decoded code point to what matters here: ASCII as is, full-width forms to ASCII, the rest to 0x80. */
static int fold_code_point(unsigned long cp)
{
    if (cp < 0x80)
        return (int)cp;
    if (cp >= 0xff01 && cp <= 0xff5e)
        return (int)(cp - 0xfee0);
    return 0x80;
}

static int decode_reference(const html_view *v, size_t i, size_t *next)
{
    const char *s = v->s;
    size_t len = v->len;
    size_t j = i + 1;
    if (j < len && s[j] == '#') {
        j++;
        int hex = j < len && (s[j] == 'x' || s[j] == 'X');
        if (hex)
            j++;
        size_t digits_start = j;
        unsigned long cp = 0;
        while (j < len && j - digits_start < 8) {
            int d = hex ? hex_value((unsigned char)s[j]) : ((s[j] >= '0' && s[j] <= '9') ? s[j] - '0' : -1);
            if (d < 0)
                break;
            cp = cp * (hex ? 16 : 10) + (unsigned long)d;
            j++;
        }
        while (j < len && j - digits_start < 32 && ((s[j] >= '0' && s[j] <= '9') || (hex && hex_value((unsigned char)s[j]) >= 0)))
            j++; /* absurdly long zero padding */
        if (j == digits_start)
            return -2;
        if (j < len && s[j] == ';')
            j++;
        *next = j;
        return fold_code_point(cp);
    }
    size_t k = j;
    while (k < len && k - j < 8 && is_alpha((unsigned char)s[k]))
        k++;
    if (k == j)
        return -2;
    for (size_t r = 0; r < sizeof(named_refs) / sizeof(named_refs[0]); r++) {
        size_t n = strlen(named_refs[r].name);
        if (n != k - j)
            continue;
        size_t m = 0;
        while (m < n && lower_ascii((unsigned char)s[j + m]) == named_refs[r].name[m])
            m++;
        if (m == n) {
            if (k < len && s[k] == ';')
                k++;
            *next = k;
            return named_refs[r].value;
        }
    }
    return -2;
}

/* The decoding side of char_at: c is one of the bytes the decoding view may read differently. */
static int __attribute__((noinline)) decoded_char_at(const html_view *v, size_t i, size_t *next, unsigned char c)
{
    if (c == '&') {
        int d = decode_reference(v, i, next);
        if (d != -2)
            return d;
        *next = i + 1;
        return c;
    }
    /* UTF-8 full-width forms U+FF01..U+FF5E (EF BC 81 .. EF BD 9E) read as their ASCII twins. */
    if (c == 0xef && i + 2 < v->len) {
        unsigned char b1 = (unsigned char)v->s[i + 1], b2 = (unsigned char)v->s[i + 2];
        if ((b1 == 0xbc || b1 == 0xbd) && b2 >= 0x80 && b2 <= 0xbf) {
            unsigned long cp = 0xf000 | ((unsigned long)(b1 & 0x3f) << 6) | (b2 & 0x3f);
            *next = i + 3;
            return fold_code_point(cp);
        }
    }
    /* UTF-7 "+ADw-" and "+AD4-" are '<' and '>' for a browser sniffing UTF-7. */
    if (c == '+' && i + 4 < v->len && v->s[i + 1] == 'A' && v->s[i + 2] == 'D' && v->s[i + 4] == '-' &&
        (v->s[i + 3] == 'w' || v->s[i + 3] == '4')) {
        *next = i + 5;
        return v->s[i + 3] == 'w' ? '<' : '>';
    }
    if (c == 0)
        return ' '; /* NULs are dropped by many parsers; treat as a separator */
    return c;
}

/* Character at raw offset i in the view; *next receives the offset after it. Inlined: it runs per byte. */
static inline __attribute__((always_inline)) int char_at(const html_view *v, size_t i, size_t *next)
{
    if (i >= v->len) {
        *next = v->len;
        return END_OF_INPUT;
    }
    unsigned char c = (unsigned char)v->s[i];
    *next = i + 1;
    if (!v->decode || (c != '&' && c != 0xef && c != '+' && c != 0))
        return c;
    return decoded_char_at(v, i, next, c);
}

/* ---- attribute checks ------------------------------------------------------------------------------------ */

/* Event names begin with one of these after "on"; used when there is no tag around to prove markup. */
static const char *const event_roots[] = {
    "abort",  "activate", "after",   "animation", "aux",      "before",     "begin",    "blur",       "bounce",  "can",
    "change", "click",    "close",   "content",   "context",  "copy",       "cue",      "cut",        "dbl",     "drag",
    "drop",   "duration", "emptied", "end",       "error",    "finish",     "focus",    "form",       "full",    "hash",
    "help",   "input",    "invalid", "key",       "load",     "lose",       "message",  "mouse",      "move",    "page",
    "paste",  "pause",    "play",    "pointer",   "popstate", "progress",   "property", "rate",       "ready",   "repeat",
    "reset",  "resize",   "scroll",  "search",    "seek",     "select",     "show",     "stalled",    "start",   "storage",
    "submit", "suspend",  "time",    "toggle",    "touch",    "transition", "unload",   "volume",     "waiting", "webkit",
    "wheel",  "zoom",     "data",    "filter",    "moz",      "row",        "track",    "visibility",
};

static int starts_with(const char *s, size_t n, const char *prefix)
{
    size_t p = strlen(prefix);
    return n >= p && memcmp(s, prefix, p) == 0;
}

/* name is lower case. `in_tag`: a real tag was opened in the value, so any on* name counts. */
static int is_event_handler(const char *name, size_t n, int in_tag)
{
    if (n < 5 || name[0] != 'o' || name[1] != 'n')
        return 0;
    size_t letters = 2;
    while (letters < n && name[letters] >= 'a' && name[letters] <= 'z')
        letters++;
    if (letters < 5)
        return 0;
    if (in_tag)
        return 1;
    for (size_t r = 0; r < sizeof(event_roots) / sizeof(event_roots[0]); r++)
        if (starts_with(name + 2, letters - 2, event_roots[r]))
            return 1;
    return 0;
}

/* Collects an attribute value through the view: lower case, without whitespace/control characters (which URL
 * parsers strip or obfuscators insert), without backslashes and CSS comments. Returns the collected length. */
static size_t normalize_value(const html_view *v, size_t from, size_t to, char *out, size_t cap)
{
    size_t n = 0;
    size_t i = from;
    while (i < to && n < cap) {
        size_t next;
        int c = char_at(v, i, &next);
        if (next > to)
            break;
        i = next;
        if (c == END_OF_INPUT)
            break;
        if (c <= 0x20 || c == '\\')
            continue;
        out[n++] = (char)lower_ascii(c);
        if (n >= 2 && out[n - 2] == '/' && out[n - 1] == '*') { /* drop CSS/JS comments */
            n -= 2;
            while (i < to) {
                c = char_at(v, i, &next);
                i = next;
                if (c == '*' && i < to && char_at(v, i, &next) == '/') {
                    i = next;
                    break;
                }
            }
        }
    }
    return n;
}

static int contains(const char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    if (m > n)
        return 0;
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return 1;
    return 0;
}

static int is_script_url(const char *u, size_t n)
{
    return starts_with(u, n, "javascript:") || starts_with(u, n, "vbscript:") || starts_with(u, n, "livescript:") ||
           starts_with(u, n, "mocha:") || starts_with(u, n, "data:text/html") || starts_with(u, n, "data:image/svg") ||
           starts_with(u, n, "data:application/xhtml") || starts_with(u, n, "data:text/xml");
}

/* Outside a proven tag, javascript:/vbscript: must be followed by code (a call, a template, an assignment) rather
 * than by a book title; data: URLs with an HTML/SVG type stand on their own. */
static int is_script_url_with_code(const char *u, size_t n)
{
    if (!is_script_url(u, n))
        return 0;
    if (starts_with(u, n, "data:"))
        return 1;
    const char *colon = memchr(u, ':', n);
    size_t rest = n - (size_t)(colon - u);
    return memchr(colon, '(', rest) || memchr(colon, '`', rest) || memchr(colon, '=', rest);
}

static int is_dangerous_style(const char *u, size_t n)
{
    return contains(u, n, "expression(") || contains(u, n, "javascript:") || contains(u, n, "vbscript:") ||
           contains(u, n, "url(javascript") || contains(u, n, "url(vbscript") || contains(u, n, "-moz-binding") ||
           contains(u, n, "behavior:") || contains(u, n, "behaviour:") || contains(u, n, "@import");
}

#define VALUE_CAP 512

static int attribute_is_dangerous(const html_view *v, const char *name, size_t name_len, size_t vfrom, size_t vto, int has_value,
                                  int in_tag)
{
    /* outside a real tag an empty value ("OnStartupSec=" in a config listing) proves nothing */
    if (has_value && (in_tag || vto > vfrom) && is_event_handler(name, name_len, in_tag))
        return 1;
    if (!has_value)
        return 0;
    char value[VALUE_CAP];
    size_t n = normalize_value(v, vfrom, vto, value, sizeof(value));
    if (in_tag ? is_script_url(value, n) : is_script_url_with_code(value, n))
        return 1;
    if (name_len == 5 && memcmp(name, "style", 5) == 0 && is_dangerous_style(value, n))
        return 1;
    if (name_len == 6 && memcmp(name, "srcdoc", 6) == 0 && memchr(value, '<', n))
        return 1;
    return 0;
}

/* ---- tags ------------------------------------------------------------------------------------------------- */

static const char *const script_capable_tags[] = {
    "script", "iframe", "frame",    "frameset", "object",  "embed", "applet", "base",   "meta", "link",
    "style",  "import", "vmlframe", "bgsound",  "isindex", "layer", "ilayer", "portal", "xss",
};

static int is_script_capable_tag(const char *name, size_t n)
{
    const char *colon = memchr(name, ':', n); /* v:vmlframe, x:script */
    if (colon) {
        n -= (size_t)(colon + 1 - name);
        name = colon + 1;
    }
    for (size_t t = 0; t < sizeof(script_capable_tags) / sizeof(script_capable_tags[0]); t++)
        if (n != 0 && script_capable_tags[t][0] == name[0] && strlen(script_capable_tags[t]) == n &&
            memcmp(script_capable_tags[t], name, n) == 0)
            return 1;
    return 0;
}

enum { VALUE_UNQUOTED = 0, VALUE_SINGLE = '\'', VALUE_DOUBLE = '"' };

/* Finds the end of an attribute value starting at i; returns the raw offset of its end and sets *after. */
static size_t value_end(const html_view *v, size_t i, int quoting, size_t *after)
{
    size_t next;
    for (;;) {
        int c = char_at(v, i, &next);
        if (c == END_OF_INPUT) {
            *after = i;
            return i;
        }
        if ((quoting && c == quoting) || (!quoting && (is_html_space(c) || c == '>'))) {
            *after = quoting ? next : i;
            return i;
        }
        i = next;
    }
}

#define NAME_CAP 48

/* Parses attributes from i (inside a tag, before an attribute name) to the closing '>'. Returns 1 when one is
 * dangerous; *end receives the offset after the tag. */
static int scan_attributes(const html_view *v, size_t i, int in_tag, size_t *end)
{
    size_t next;
    for (;;) {
        int c = char_at(v, i, &next);
        while (c != END_OF_INPUT && (is_html_space(c) || c == '/')) {
            i = next;
            c = char_at(v, i, &next);
        }
        if (c == END_OF_INPUT || c == '>') {
            *end = next;
            return 0;
        }
        char name[NAME_CAP];
        size_t name_len = 0;
        /* HTML5: a leading '=' belongs to the name; the name runs to space, '/', '>' or '='. */
        do {
            if (name_len < NAME_CAP)
                name[name_len++] = (char)lower_ascii(c);
            i = next;
            c = char_at(v, i, &next);
        } while (c != END_OF_INPUT && !is_html_space(c) && c != '/' && c != '>' && c != '=');
        while (c != END_OF_INPUT && is_html_space(c)) {
            i = next;
            c = char_at(v, i, &next);
        }
        int has_value = 0;
        size_t vfrom = i, vto = i;
        if (c == '=') {
            i = next;
            c = char_at(v, i, &next);
            while (c != END_OF_INPUT && is_html_space(c)) {
                i = next;
                c = char_at(v, i, &next);
            }
            int quoting = (c == '"' || c == '\'') ? c : VALUE_UNQUOTED;
            if (quoting)
                i = next;
            vfrom = i;
            vto = value_end(v, i, quoting, &i);
            has_value = 1;
        }
        if (attribute_is_dangerous(v, name, name_len, vfrom, vto, has_value, in_tag))
            return 1;
    }
}

/* Element content: look for tags. */
static int scan_data(const html_view *v, size_t i)
{
    size_t next;
    while (i < v->len) {
        int c = char_at(v, i, &next);
        i = next;
        if (c != '<')
            continue;
        int d = char_at(v, i, &next);
        int closing = 0, processing = 0;
        if (d == '/' || d == '?') {
            closing = d == '/';
            processing = d == '?';
            i = next;
            d = char_at(v, i, &next);
        }
        if (!(is_alpha(d) || (d == ':' && i + 1 < v->len)))
            continue;
        char name[NAME_CAP];
        size_t name_len = 0;
        while (d != END_OF_INPUT && !is_html_space(d) && d != '/' && d != '>' && d != '<') {
            if (name_len < NAME_CAP)
                name[name_len++] = (char)lower_ascii(d);
            i = next;
            d = char_at(v, i, &next);
        }
        if (is_script_capable_tag(name, name_len))
            return 1;
        if (closing || processing)
            continue;
        size_t after;
        if (scan_attributes(v, i, 1, &after))
            return 1;
        i = after;
    }
    return 0;
}

/* The value starts inside an attribute value of some tag (quoting given): finish that value, then the tag. */
static int scan_from_attribute_value(const html_view *v, int quoting)
{
    size_t after;
    size_t vto = value_end(v, 0, quoting, &after);
    if (attribute_is_dangerous(v, "", 0, 0, vto, 1, 0))
        return 1;
    if (after >= v->len)
        return 0;
    size_t tag_end;
    if (scan_attributes(v, after, 0, &tag_end))
        return 1;
    return scan_data(v, tag_end);
}

/* ---- JavaScript ------------------------------------------------------------------------------------------- */

/* Functions that run code or are the canonical proof-of-concept payloads. */
static const char *const js_sinks[] = {"alert",       "confirm",      "prompt",       "eval",         "setTimeout",
                                       "setInterval", "Function",     "execScript",   "fromCharCode", "atob",
                                       "constructor", "setImmediate", "importScripts"};
/* Properties of document that payloads read or write. */
static const char *const document_props[] = {
    "cookie",        "domain",         "write", "writeln", "location", "body", "createElement",
    "querySelector", "getElementById", "head",  "forms",   "referrer", "URL"};
/* Objects whose bracket access reaches globals ("self['alert']"). */
static const char *const global_objects[] = {"self", "top", "window", "parent", "globalThis", "frames", "this", "content"};

static int in_list(const char *word, size_t n, const char *const *list, size_t count)
{
    for (size_t k = 0; k < count; k++)
        if (n != 0 && list[k][0] == word[0] && strlen(list[k]) == n && memcmp(list[k], word, n) == 0)
            return 1;
    return 0;
}

static int is_js_ident_char(int c)
{
    return is_alpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '$';
}

/* Skips whitespace and JS comments; returns the next offset. Bounded so that a run of unterminated comment
 * openers cannot make the scan quadratic. */
#define JS_SKIP_LIMIT 64

static size_t js_skip(const html_view *v, size_t i)
{
    size_t next;
    size_t start = i;
    for (;;) {
        if (i - start > JS_SKIP_LIMIT)
            return i;
        int c = char_at(v, i, &next);
        if (c == END_OF_INPUT)
            return i;
        if (is_html_space(c) || c == '\v') {
            i = next;
            continue;
        }
        if (c == '/') {
            size_t n2;
            int d = char_at(v, next, &n2);
            if (d == '*') {
                size_t j = n2;
                int prev = 0;
                for (;;) {
                    int e = char_at(v, j, &n2);
                    if (e == END_OF_INPUT || j - start > JS_SKIP_LIMIT)
                        return j;
                    j = n2;
                    if (prev == '*' && e == '/')
                        break;
                    prev = e;
                }
                i = j;
                continue;
            }
        }
        return i;
    }
}

/* Reads an identifier at i, decoding \u escapes of four hex digits or of hex digits in braces (valid in JS identifiers). */
static size_t js_identifier(const html_view *v, size_t i, char *out, size_t cap, size_t *n_out)
{
    size_t n = 0, next;
    for (;;) {
        int c = char_at(v, i, &next);
        if (c == '\\' && char_at(v, next, &next) == 'u') {
            unsigned long cp = 0;
            size_t j = next;
            int braced = char_at(v, j, &next) == '{';
            if (braced)
                j = next;
            int digits = 0;
            int h;
            while (digits < 6 && (h = hex_value(char_at(v, j, &next))) >= 0) {
                cp = cp * 16 + (unsigned long)h;
                j = next;
                digits++;
            }
            if (braced && char_at(v, j, &next) == '}')
                j = next;
            if (digits == 0)
                break;
            c = fold_code_point(cp);
            next = j;
        }
        if (c == END_OF_INPUT || !is_js_ident_char(c))
            break;
        if (n < cap)
            out[n] = (char)c;
        n++;
        i = next;
    }
    *n_out = n;
    return i;
}

static int is_value_position(int prev)
{
    return prev == '(' || prev == ',' || prev == '=' || prev == '[' || prev == '{' || prev == ':' || prev == '?' || prev == '&' ||
           prev == '|';
}

/* True when s[from..to) is non-empty and only whitespace (no comment used as a separator). */
static int is_plain_gap(const html_view *v, size_t from, size_t to)
{
    if (from == to)
        return 0;
    for (size_t g = from; g < to; g++)
        if (!is_html_space((unsigned char)v->s[g]))
            return 0;
    return 1;
}

/* After "name (" with plain whitespace before the parenthesis: does the argument read as code rather than prose
 * ("alert (1)" versus "please confirm (yes/no)")? */
static int looks_like_js_argument(const html_view *v, size_t i)
{
    size_t next;
    int c = char_at(v, js_skip(v, i), &next);
    return (c >= '0' && c <= '9') || c == '"' || c == '\'' || c == '`' || c == ')' || c == '/' || c == '[';
}

/* Looks for sink calls, document property access and JSFuck-style bracket soup. */
static int scan_javascript(const html_view *v)
{
    size_t i = 0, next;
    int prev_sig = 0;   /* last significant non-identifier character */
    int after_new = 0;  /* the previous identifier was "new" */
    size_t soup = 0;    /* run of JSFuck alphabet: []()!+ */
    int soup_pairs = 0; /* "[]" inside the run: JSFuck is built from empty arrays */
    int soup_has_bang = 0, soup_prev = 0;
    char ident[24];
    while (i < v->len) {
        int c = char_at(v, i, &next);
        if (c == END_OF_INPUT)
            break;
        if (c == '[' || c == ']' || c == '(' || c == ')' || c == '!' || c == '+') {
            soup++;
            soup_has_bang |= c == '!';
            soup_pairs += soup_prev == '[' && c == ']';
            soup_prev = c;
            /* '+' may have been decoded to a space on the way in, so it is not required */
            if (soup >= 12 && soup_has_bang && soup_pairs >= 2)
                return 1;
        } else if (!is_html_space(c)) {
            soup = 0;
            soup_pairs = soup_has_bang = soup_prev = 0;
        }
        if (!(is_js_ident_char(c) || c == '\\') || (i > 0 && is_js_ident_char((unsigned char)v->s[i - 1]))) {
            if (!is_html_space(c) && !is_js_ident_char(c))
                prev_sig = c;
            i = next;
            continue;
        }
        size_t n;
        size_t j = js_identifier(v, i, ident, sizeof(ident), &n);
        if (j == i) {
            i = next;
            continue;
        }
        i = j;
        if (n > sizeof(ident))
            continue;
        size_t k = js_skip(v, j);
        int after = char_at(v, k, &next);
        if (after == '?') { /* optional chaining: alert?.( */
            size_t n2;
            if (char_at(v, next, &n2) == '.') {
                k = js_skip(v, n2);
                after = char_at(v, k, &next);
            }
        }
        if (in_list(ident, n, js_sinks, sizeof(js_sinks) / sizeof(js_sinks[0]))) {
            /* "Function(" is also an English word in titles; it counts after "new" or with a code argument */
            int needs_argument = n == 8 && memcmp(ident, "Function", 8) == 0 && !after_new;
            if (after == '`' || (after == '(' && ((!needs_argument && !is_plain_gap(v, j, k)) || looks_like_js_argument(v, next))))
                return 1;
            if (after == '.') {
                char prop[16];
                size_t pn;
                js_identifier(v, js_skip(v, next), prop, sizeof(prop), &pn);
                if ((pn == 4 && memcmp(prop, "call", 4) == 0) || (pn == 5 && memcmp(prop, "apply", 5) == 0) ||
                    (pn == 4 && memcmp(prop, "bind", 4) == 0) || (pn == 11 && memcmp(prop, "constructor", 11) == 0))
                    return 1;
            }
            /* a sink passed around as a value: [1].some(confirm), _=prompt, ${alert} */
            if ((is_value_position(prev_sig) || prev_sig == '{') &&
                (after == ')' || after == ',' || after == ']' || after == '}' || after == ';'))
                return 1;
        }
        if (n == 8 && memcmp(ident, "document", 8) == 0) {
            size_t m = k;
            int a = after;
            if (a == ')') { /* (document)["cookie"] */
                m = js_skip(v, next);
                a = char_at(v, m, &next);
            }
            if (a == '.' || a == '[') {
                size_t p = js_skip(v, next);
                int q = char_at(v, p, &next);
                if (q == '"' || q == '\'' || q == '`')
                    p = next;
                char prop[16];
                size_t pn;
                js_identifier(v, p, prop, sizeof(prop), &pn);
                if (pn <= sizeof(prop) && in_list(prop, pn, document_props, sizeof(document_props) / sizeof(document_props[0])))
                    return 1;
            }
        }
        if (after == '[' && in_list(ident, n, global_objects, sizeof(global_objects) / sizeof(global_objects[0]))) {
            size_t p = js_skip(v, next);
            int q = char_at(v, p, &next);
            if (q == '"' || q == '\'' || q == '`')
                return 1;
        }
        /* Function.prototype tricks as tagged templates: [].sort.call`${alert}` */
        if (prev_sig == '.' && after == '`' &&
            ((n == 4 && memcmp(ident, "call", 4) == 0) || (n == 5 && memcmp(ident, "apply", 5) == 0)))
            return 1;
        prev_sig = 0;
        after_new = n == 3 && memcmp(ident, "new", 3) == 0;
    }
    return 0;
}

/* The whole value used as a URL (href/src injection) or as the content of a style attribute. The style check
 * wants CSS syntax around the dangerous part, so that prose about "regular expressions" stays clean. */
static int is_script_url_or_style_value(const html_view *v)
{
    char value[VALUE_CAP];
    size_t n = normalize_value(v, 0, v->len, value, sizeof(value));
    return is_script_url_with_code(value, n) || contains(value, n, "url(javascript") || contains(value, n, "url(vbscript") ||
           contains(value, n, ":expression(") || contains(value, n, "-moz-binding:") || contains(value, n, "behavior:url(");
}

/* ---- cheap necessary conditions ------------------------------------------------------------------------- */

/* Whether the decoding view can read anything differently from the raw one: char_at only departs from the raw
 * byte at '&' (references), 0xEF (full-width forms), NUL and "+AD" (UTF-7). Without those both views are the
 * same and so are both passes. */
static int decoding_can_change(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '&' || c == 0xef || c == 0 || (c == '+' && i + 2 < len && s[i + 1] == 'A' && s[i + 2] == 'D'))
            return 1;
    }
    return 0;
}

/* Words the JS scan needs one of (sinks, document, global objects, call/apply), grouped by first letter: a
 * plain substring test over them is a superset of the identifier tokens the scan reads. */
static const char *const js_words_a[] = {"alert", "atob", "apply", NULL};
static const char *const js_words_c[] = {"confirm", "constructor", "content", "call", NULL};
static const char *const js_words_d[] = {"document", NULL};
static const char *const js_words_e[] = {"eval", "execScript", NULL};
static const char *const js_words_f[] = {"fromCharCode", "frames", NULL};
static const char *const js_words_F[] = {"Function", NULL};
static const char *const js_words_g[] = {"globalThis", NULL};
static const char *const js_words_i[] = {"importScripts", NULL};
static const char *const js_words_p[] = {"prompt", "parent", NULL};
static const char *const js_words_s[] = {"setTimeout", "setInterval", "setImmediate", "self", NULL};
static const char *const js_words_t[] = {"top", "this", NULL};
static const char *const js_words_w[] = {"window", NULL};

static const char *const *js_words_from(unsigned char c)
{
    switch (c) {
    case 'a':
        return js_words_a;
    case 'c':
        return js_words_c;
    case 'd':
        return js_words_d;
    case 'e':
        return js_words_e;
    case 'f':
        return js_words_f;
    case 'F':
        return js_words_F;
    case 'g':
        return js_words_g;
    case 'i':
        return js_words_i;
    case 'p':
        return js_words_p;
    case 's':
        return js_words_s;
    case 't':
        return js_words_t;
    case 'w':
        return js_words_w;
    default:
        return NULL;
    }
}

static int contains_js_word(const char *s, size_t len)
{
    for (size_t i = 0; i + 3 <= len; i++) {
        const char *const *words = js_words_from((unsigned char)s[i]);
        if (words == NULL)
            continue;
        for (; *words != NULL; words++) {
            size_t m = strlen(*words);
            if (m <= len - i && s[i + 1] == (*words)[1] && memcmp(s + i, *words, m) == 0)
                return 1;
        }
    }
    return 0;
}

/* For the raw view only (every character is its byte): whether any scan can fire at all.
 * - the URL/style value check needs ':' (every script URL scheme, -moz-binding:, behavior:) or '(' (url();
 * - element content needs '<'; attributes (also after a leading attribute value) need '=' to have a value;
 * - the JS scan fires only with one of `([.),]};` right after an identifier of its lists (JSFuck needs "[]"),
 *   and those identifiers are written out unless '\\' starts an escape. */
static int raw_view_may_fire(const char *s, size_t len)
{
    uint64_t lo = 0; /* bytes 0..63 present */
    uint64_t hi = 0; /* bytes 64..127 present */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 64)
            lo |= 1ull << c;
        else if (c < 128)
            hi |= 1ull << (c - 64);
    }
#define HAS(c) ((c) < 64 ? (lo >> (c)) & 1 : (hi >> ((c)-64)) & 1)
    if (HAS(':') || HAS('(') || HAS('<') || HAS('='))
        return 1;
    if (!(HAS('`') || HAS('.') || HAS(')') || HAS(',') || HAS(']') || HAS('}') || HAS(';') || HAS('[')))
        return 0;
    if (HAS('\\') || HAS('['))
        return 1;
#undef HAS
    return contains_js_word(s, len);
}

static int oracle_detect_xss(const char *s, size_t len)
{
    if (s == NULL || len == 0)
        return 0;
    int decoded_differs = decoding_can_change(s, len);
    for (int decode = 0; decode <= decoded_differs; decode++) {
        if (!decode && !raw_view_may_fire(s, len))
            continue;
        html_view v = {s, len, decode};
        if (is_script_url_or_style_value(&v) || scan_data(&v, 0) || scan_javascript(&v))
            return 1;
        size_t ignored;
        if (scan_attributes(&v, 0, 0, &ignored))
            return 1;
        static const int quotings[] = {VALUE_UNQUOTED, VALUE_SINGLE, VALUE_DOUBLE};
        for (size_t q = 0; q < sizeof(quotings) / sizeof(quotings[0]); q++) {
            if (quotings[q] && memchr(s, quotings[q], len) == NULL && !decode)
                continue;
            if (scan_from_attribute_value(&v, quotings[q]))
                return 1;
        }
    }
    return 0;
}
