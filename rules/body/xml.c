/* SPDX-License-Identifier: MIT */
/* text/xml body processor: a hand-written well-formedness checker (what ModSecurity v3 asks of libxml2)
 * that reports text and attribute values for XML:/ *. It never loads or expands anything external.
 * DOCTYPE policy: the declaration is checked for balance only, then reported verbatim as one XML_TEXT item
 * named "!DOCTYPE" so rules can see XXE payloads. References to general entities it declares stay as the
 * literal text "&name;" (never expanded); references to undeclared entities are an error, as in libxml2.
 * Error messages start like v3's ("XML: Failed parsing document."); the caller adds "XML parsing error: ". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "body/body.h"

#define XML_DEFAULT_MAX_DEPTH 256 /* libxml2's limit without XML_PARSE_HUGE, which ModSecurity doesn't set */

/* scratch layout: [sorted names of entities the DOCTYPE declares][element path "/a/b"][attribute name
 * records][text or attribute value being decoded] */
typedef struct {
    const char *start, *p, *end;
    rs_buf_t *b;
    const rs_body_sink_t *sink;
    rs_body_error_t *err;
    unsigned max_depth, depth;
    size_t path_base, path_len; /* the path is [path_base, path_len) of the scratch */
    size_t nentities;
    int has_doctype, latin1, failed;
} xml_parser_t;

enum { NAME_GENERAL_ENTITY, NAME_PARAMETER_ENTITY, NAME_PARAMETER_REFERENCE };

/* A name in the input: an attribute name, or an entity declaration / parameter entity reference. */
typedef struct {
    const char *name;
    size_t len;
    int type;
} xml_name_t;

/* Orders by name then type: equal means same name and type (lookups, duplicate checks). */
static int name_type_cmp(const void *a, const void *b)
{
    const xml_name_t *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    int c = memcmp(x->name, y->name, x->len);
    if (c != 0)
        return c;
    return x->type < y->type ? -1 : x->type > y->type;
}

/* The same, then input order (for sorting). */
static int name_cmp(const void *a, const void *b)
{
    int c = name_type_cmp(a, b);
    if (c != 0)
        return c;
    const xml_name_t *x = a, *y = b;
    return x->name < y->name ? -1 : x->name > y->name;
}

static void fail(xml_parser_t *xp, const char *what)
{
    if (xp->failed)
        return;
    xp->failed = 1;
    if (xp->err != NULL) {
        xp->err->error = 1;
        snprintf(xp->err->message, sizeof(xp->err->message), "XML: Failed parsing document. (%s at offset %zu)", what,
                 (size_t)(xp->p - xp->start));
    }
}

static void emit(xml_parser_t *xp, rs_item_kind_t kind, const char *name, size_t name_len, size_t value_off)
{
    if (xp->sink != NULL && xp->sink->item != NULL)
        xp->sink->item(xp->sink->ctx, kind, rs_str(name, name_len), rs_str(xp->b->base + value_off, xp->b->len - value_off));
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_ws(xml_parser_t *xp)
{
    while (xp->p < xp->end && is_ws(*xp->p))
        xp->p++;
}

static int starts_with(const xml_parser_t *xp, const char *s)
{
    size_t n = strlen(s);
    return (size_t)(xp->end - xp->p) >= n && memcmp(xp->p, s, n) == 0;
}

/* XML names, loosely: ASCII letters, '_', ':' and any non-ASCII byte start one; digits, '-', '.' follow. */
static int name_start_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || c >= 0x80;
}

static int name_char(unsigned char c)
{
    return name_start_char(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static size_t parse_name(xml_parser_t *xp)
{
    const char *s = xp->p;
    if (s >= xp->end || !name_start_char((unsigned char)*s)) {
        fail(xp, "name expected");
        return 0;
    }
    while (xp->p < xp->end && name_char((unsigned char)*xp->p))
        xp->p++;
    return (size_t)(xp->p - s);
}

static int xml_char_ok(unsigned cp)
{
    return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) ||
           (cp >= 0x10000 && cp <= 0x10FFFF);
}

/* Copies one input character (validating UTF-8 unless the document declared Latin-1, which is converted). */
static int copy_char(xml_parser_t *xp)
{
    unsigned char c = (unsigned char)*xp->p;
    if (c == '\r') {
        /* line ends are normalised to '\n' */
        xp->p += xp->p + 1 < xp->end && xp->p[1] == '\n' ? 2 : 1;
        rs_buf_putc(xp->b, '\n');
        return 1;
    }
    if (c < 0x80) {
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            fail(xp, "invalid control character");
            return 0;
        }
        rs_buf_putc(xp->b, (char)c);
        xp->p++;
        return 1;
    }
    if (xp->latin1) {
        rs_buf_put_utf8(xp->b, c);
        xp->p++;
        return 1;
    }
    size_t n = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || (size_t)(xp->end - xp->p) < n) {
        fail(xp, "invalid UTF-8");
        return 0;
    }
    unsigned cp = c & (0xFF >> (n + 1));
    for (size_t i = 1; i < n; i++) {
        unsigned char cc = (unsigned char)xp->p[i];
        if ((cc & 0xC0) != 0x80) {
            fail(xp, "invalid UTF-8");
            return 0;
        }
        cp = (cp << 6) | (cc & 0x3F);
    }
    static const unsigned min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_len[n] || !xml_char_ok(cp)) {
        fail(xp, "invalid UTF-8");
        return 0;
    }
    rs_buf_append(xp->b, xp->p, n);
    xp->p += n;
    return 1;
}

/* At '&': decodes a reference into the scratch. */
static int parse_reference(xml_parser_t *xp)
{
    const char *amp = xp->p;
    xp->p++;
    if (xp->p < xp->end && *xp->p == '#') {
        xp->p++;
        int hex = xp->p < xp->end && *xp->p == 'x';
        if (hex)
            xp->p++;
        unsigned cp = 0;
        size_t digits = 0;
        while (xp->p < xp->end && *xp->p != ';') {
            char c = *xp->p;
            unsigned d;
            if (c >= '0' && c <= '9')
                d = (unsigned)(c - '0');
            else if (hex && c >= 'a' && c <= 'f')
                d = (unsigned)(c - 'a' + 10);
            else if (hex && c >= 'A' && c <= 'F')
                d = (unsigned)(c - 'A' + 10);
            else
                break;
            if (cp <= 0x10FFFF)
                cp = cp * (hex ? 16 : 10) + d;
            digits++;
            xp->p++;
        }
        if (digits == 0 || xp->p >= xp->end || *xp->p != ';' || !xml_char_ok(cp)) {
            fail(xp, "invalid character reference");
            return 0;
        }
        xp->p++;
        rs_buf_put_utf8(xp->b, cp);
        return 1;
    }
    size_t n = parse_name(xp);
    if (n == 0 || xp->p >= xp->end || *xp->p != ';') {
        fail(xp, "invalid entity reference");
        return 0;
    }
    xp->p++;
    static const struct {
        const char *name;
        char c;
    } predefined[] = {{"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}};
    for (size_t i = 0; i < sizeof(predefined) / sizeof(predefined[0]); i++)
        if (strlen(predefined[i].name) == n && memcmp(amp + 1, predefined[i].name, n) == 0) {
            rs_buf_putc(xp->b, predefined[i].c);
            return 1;
        }
    xml_name_t key = {amp + 1, n, NAME_GENERAL_ENTITY};
    if (xp->nentities == 0 || bsearch(&key, xp->b->base, xp->nentities, sizeof(key), name_type_cmp) == NULL) {
        fail(xp, "undeclared entity");
        return 0;
    }
    rs_buf_append(xp->b, amp, (size_t)(xp->p - amp)); /* declared in a DTD we don't process: kept verbatim */
    return 1;
}

/* Skips "<!--" ... "-->" ("--" inside is an error). */
static int skip_comment(xml_parser_t *xp)
{
    xp->p += 4;
    for (;;) {
        const char *dash = memchr(xp->p, '-', (size_t)(xp->end - xp->p));
        if (dash == NULL || xp->end - dash < 3) {
            xp->p = xp->end;
            fail(xp, "unterminated comment");
            return 0;
        }
        xp->p = dash + 1;
        if (dash[1] == '-') {
            if (dash[2] != '>') {
                fail(xp, "'--' inside comment");
                return 0;
            }
            xp->p = dash + 3;
            return 1;
        }
    }
}

/* Skips "<?target ...?>"; the target "xml" is reserved to the declaration at the very start. */
static int skip_pi(xml_parser_t *xp)
{
    xp->p += 2;
    const char *target = xp->p;
    size_t n = parse_name(xp);
    if (n == 0)
        return 0;
    if (n == 3 && (target[0] | 0x20) == 'x' && (target[1] | 0x20) == 'm' && (target[2] | 0x20) == 'l') {
        fail(xp, "XML declaration not at the start");
        return 0;
    }
    for (; xp->p + 1 < xp->end; xp->p++)
        if (xp->p[0] == '?' && xp->p[1] == '>') {
            xp->p += 2;
            return 1;
        }
    xp->p = xp->end;
    fail(xp, "unterminated processing instruction");
    return 0;
}

/* "<?xml version=... encoding=... standalone=...?>" at offset 0. */
static int parse_xml_decl(xml_parser_t *xp)
{
    xp->p += 5;
    int seen_version = 0;
    for (;;) {
        int had_ws = xp->p < xp->end && is_ws(*xp->p);
        skip_ws(xp);
        if (starts_with(xp, "?>")) {
            xp->p += 2;
            if (!seen_version) {
                fail(xp, "XML declaration without version");
                return 0;
            }
            return 1;
        }
        if (!had_ws) {
            fail(xp, "malformed XML declaration");
            return 0;
        }
        const char *name = xp->p;
        size_t n = parse_name(xp);
        if (n == 0)
            return 0;
        skip_ws(xp);
        if (xp->p >= xp->end || *xp->p != '=') {
            fail(xp, "malformed XML declaration");
            return 0;
        }
        xp->p++;
        skip_ws(xp);
        if (xp->p >= xp->end || (*xp->p != '"' && *xp->p != '\'')) {
            fail(xp, "malformed XML declaration");
            return 0;
        }
        char q = *xp->p++;
        const char *value = xp->p;
        const char *close = memchr(xp->p, q, (size_t)(xp->end - xp->p));
        if (close == NULL) {
            fail(xp, "malformed XML declaration");
            return 0;
        }
        xp->p = close + 1;
        size_t vlen = (size_t)(close - value);
        if (n == 7 && memcmp(name, "version", 7) == 0 && !seen_version) {
            /* "1." followed by digits */
            size_t i = 2;
            while (i < vlen && value[i] >= '0' && value[i] <= '9')
                i++;
            if (vlen < 3 || value[0] != '1' || value[1] != '.' || i != vlen) {
                fail(xp, "unsupported XML version");
                return 0;
            }
            seen_version = 1;
        } else if (n == 8 && memcmp(name, "encoding", 8) == 0 && seen_version) {
            rs_str_t enc = rs_str(value, vlen);
            xp->latin1 = rs_str_ieq(enc, "ISO-8859-1") || rs_str_ieq(enc, "latin1") || rs_str_ieq(enc, "ISO_8859-1") ||
                         rs_str_ieq(enc, "latin-1");
        } else if (n == 10 && memcmp(name, "standalone", 10) == 0 && seen_version) {
            /* nothing to do */
        } else {
            fail(xp, "malformed XML declaration");
            return 0;
        }
    }
}

/* Requires at least one whitespace character and skips the run. */
static int require_ws(xml_parser_t *xp, const char *what)
{
    if (xp->p >= xp->end || !is_ws(*xp->p)) {
        fail(xp, what);
        return 0;
    }
    skip_ws(xp);
    return 1;
}

/* A quoted literal (system or public id, entity value): skipped, nothing in it is interpreted. */
static int skip_literal(xml_parser_t *xp)
{
    if (xp->p >= xp->end || (*xp->p != '"' && *xp->p != '\'')) {
        fail(xp, "quoted literal expected in DOCTYPE");
        return 0;
    }
    const char *close = memchr(xp->p + 1, *xp->p, (size_t)(xp->end - xp->p - 1));
    if (close == NULL) {
        xp->p = xp->end;
        fail(xp, "unterminated literal in DOCTYPE");
        return 0;
    }
    xp->p = close + 1;
    return 1;
}

/* Optional ExternalID: SYSTEM "sys" | PUBLIC "pub" "sys". Returns 1 when one was read, 0 if absent, -1 bad. */
static int parse_external_id(xml_parser_t *xp)
{
    int is_public = starts_with(xp, "PUBLIC");
    if (!is_public && !starts_with(xp, "SYSTEM"))
        return 0;
    xp->p += 6;
    if (!require_ws(xp, "whitespace expected after SYSTEM/PUBLIC") || !skip_literal(xp))
        return -1;
    if (is_public && (!require_ws(xp, "system literal expected") || !skip_literal(xp)))
        return -1;
    return 1;
}

/* <!ENTITY [%] name (value | ExternalID [NDATA name]) >; general entity names are recorded for lookups
 * (as name records at the start of the scratch, which holds nothing else before the root element). */
static int parse_entity_decl(xml_parser_t *xp)
{
    xp->p += 8;
    if (!require_ws(xp, "whitespace expected in ENTITY declaration"))
        return 0;
    int parameter = xp->p < xp->end && *xp->p == '%';
    if (parameter) {
        xp->p++;
        if (!require_ws(xp, "whitespace expected in ENTITY declaration"))
            return 0;
    }
    xml_name_t name = {xp->p, parse_name(xp), parameter ? NAME_PARAMETER_ENTITY : NAME_GENERAL_ENTITY};
    if (name.len == 0 || !require_ws(xp, "whitespace expected in ENTITY declaration"))
        return 0;
    if (xp->p < xp->end && (*xp->p == '"' || *xp->p == '\'')) {
        if (!skip_literal(xp))
            return 0;
    } else {
        int r = parse_external_id(xp);
        if (r <= 0) {
            if (r == 0)
                fail(xp, "entity value or external id expected");
            return 0;
        }
        const char *before = xp->p;
        skip_ws(xp);
        if (!parameter && xp->p != before && starts_with(xp, "NDATA")) {
            xp->p += 5;
            if (!require_ws(xp, "whitespace expected after NDATA") || parse_name(xp) == 0)
                return 0;
        }
    }
    skip_ws(xp);
    if (xp->p >= xp->end || *xp->p != '>') {
        fail(xp, "'>' expected at the end of ENTITY declaration");
        return 0;
    }
    xp->p++;
    rs_buf_append(xp->b, &name, sizeof(name));
    xp->nentities++;
    return 1;
}

/* <!ELEMENT ...>, <!ATTLIST ...>, <!NOTATION ...>: not interpreted, skipped up to '>' outside literals. */
static int skip_markup_decl(xml_parser_t *xp, size_t keyword_len)
{
    xp->p += keyword_len;
    if (!require_ws(xp, "whitespace expected in markup declaration"))
        return 0;
    while (xp->p < xp->end && *xp->p != '>') {
        if (*xp->p == '"' || *xp->p == '\'') {
            if (!skip_literal(xp))
                return 0;
        } else if (*xp->p == '<') {
            fail(xp, "'<' in markup declaration");
            return 0;
        } else {
            xp->p++;
        }
    }
    if (xp->p >= xp->end) {
        fail(xp, "unterminated markup declaration");
        return 0;
    }
    xp->p++;
    return 1;
}

/* The internal subset, after '[' up to and including ']'. */
static int parse_internal_subset(xml_parser_t *xp)
{
    for (;;) {
        skip_ws(xp);
        if (xp->p >= xp->end) {
            fail(xp, "unterminated DOCTYPE internal subset");
            return 0;
        }
        int ok;
        if (*xp->p == ']') {
            xp->p++;
            return 1;
        } else if (*xp->p == '%') {
            xp->p++; /* parameter entity reference: never loaded, but it must be declared */
            xml_name_t ref = {xp->p, parse_name(xp), NAME_PARAMETER_REFERENCE};
            ok = ref.len != 0 && xp->p < xp->end && *xp->p == ';';
            if (ok) {
                xp->p++;
                rs_buf_append(xp->b, &ref, sizeof(ref));
                xp->nentities++;
            } else {
                fail(xp, "malformed parameter entity reference");
            }
        } else if (starts_with(xp, "<!--")) {
            ok = skip_comment(xp);
        } else if (starts_with(xp, "<?")) {
            ok = skip_pi(xp);
        } else if (starts_with(xp, "<!ENTITY")) {
            ok = parse_entity_decl(xp);
        } else if (starts_with(xp, "<!ELEMENT")) {
            ok = skip_markup_decl(xp, 9);
        } else if (starts_with(xp, "<!ATTLIST")) {
            ok = skip_markup_decl(xp, 9);
        } else if (starts_with(xp, "<!NOTATION")) {
            ok = skip_markup_decl(xp, 10);
        } else {
            fail(xp, "unexpected content in DOCTYPE internal subset");
            ok = 0;
        }
        if (!ok)
            return 0;
    }
}

/* <!DOCTYPE name [ExternalID] ['[' subset ']'] >: checked, reported verbatim, nothing loaded. */
static int parse_doctype(xml_parser_t *xp)
{
    const char *s = xp->p;
    xp->p += 9;
    skip_ws(xp); /* libxml2 tolerates "<!DOCTYPEname" */
    if (parse_name(xp) == 0)
        return 0;
    const char *before = xp->p;
    skip_ws(xp);
    if (xp->p != before && parse_external_id(xp) < 0)
        return 0;
    skip_ws(xp);
    if (xp->p < xp->end && *xp->p == '[') {
        xp->p++;
        if (!parse_internal_subset(xp))
            return 0;
        skip_ws(xp);
    }
    if (xp->p >= xp->end || *xp->p != '>') {
        fail(xp, "'>' expected at the end of DOCTYPE");
        return 0;
    }
    xp->p++;
    xp->has_doctype = 1;
    if (xp->sink != NULL && xp->sink->item != NULL)
        xp->sink->item(xp->sink->ctx, RS_ITEM_XML_TEXT, RS_STR("!DOCTYPE"), rs_str(s, (size_t)(xp->p - s)));
    if (xp->nentities > 1)
        qsort(xp->b->base, xp->nentities, sizeof(xml_name_t), name_cmp);
    /* Sorted by name, type, then input position: each reference needs a parameter entity of its name
     * declared before it, and the first declaration of a name group is the earliest. */
    const xml_name_t *names = (const xml_name_t *)(const void *)xp->b->base;
    const char *declared_at = NULL;
    for (size_t i = 0; i < xp->nentities; i++) {
        int same_name = i > 0 && names[i - 1].len == names[i].len && memcmp(names[i - 1].name, names[i].name, names[i].len) == 0;
        if (!same_name)
            declared_at = NULL;
        if (names[i].type == NAME_PARAMETER_ENTITY && declared_at == NULL)
            declared_at = names[i].name;
        if (names[i].type == NAME_PARAMETER_REFERENCE && (declared_at == NULL || declared_at > names[i].name)) {
            fail(xp, "undeclared parameter entity");
            return 0;
        }
    }
    xp->path_base = xp->path_len = xp->b->len;
    return 1;
}

/* Attributes up to '>' or "/>". Returns 1 for an empty-element tag, 0 for a start tag, -1 on error. */
static int parse_attributes(xml_parser_t *xp)
{
    /* attribute name records are sorted in place at the end: keep them aligned */
    size_t names_off = (xp->b->len + _Alignof(xml_name_t) - 1) & ~(size_t)(_Alignof(xml_name_t) - 1), nattrs = 0;
    rs_buf_reserve(xp->b, names_off - xp->b->len);
    xp->b->len = names_off;
    for (;;) {
        int had_ws = xp->p < xp->end && is_ws(*xp->p);
        skip_ws(xp);
        if (xp->p >= xp->end) {
            fail(xp, "unterminated start tag");
            return -1;
        }
        if (*xp->p == '>' || starts_with(xp, "/>")) {
            int empty = *xp->p == '/';
            xp->p += empty ? 2 : 1;
            /* duplicate names: sorted, so equal names are neighbours (cheap even with many attributes) */
            xml_name_t *names = (xml_name_t *)(void *)(xp->b->base + names_off);
            if (nattrs > 1)
                qsort(names, nattrs, sizeof(xml_name_t), name_cmp);
            for (size_t i = 1; i < nattrs; i++)
                if (name_type_cmp(&names[i - 1], &names[i]) == 0) {
                    fail(xp, "duplicate attribute");
                    return -1;
                }
            xp->b->len = names_off;
            return empty;
        }
        if (!had_ws) {
            fail(xp, "attributes must be separated by whitespace");
            return -1;
        }
        xml_name_t attr = {xp->p, parse_name(xp), 0};
        if (attr.len == 0)
            return -1;
        rs_buf_append(xp->b, &attr, sizeof(attr));
        nattrs++;
        skip_ws(xp);
        if (xp->p >= xp->end || *xp->p != '=') {
            fail(xp, "attribute without value");
            return -1;
        }
        xp->p++;
        skip_ws(xp);
        if (xp->p >= xp->end || (*xp->p != '"' && *xp->p != '\'')) {
            fail(xp, "unquoted attribute value");
            return -1;
        }
        char q = *xp->p++;
        size_t value_off = xp->b->len;
        for (;;) {
            if (xp->p >= xp->end) {
                fail(xp, "unterminated attribute value");
                return -1;
            }
            char c = *xp->p;
            if (c == q) {
                xp->p++;
                break;
            }
            if (c == '<') {
                fail(xp, "'<' in attribute value");
                return -1;
            }
            if (c == '&') {
                if (!parse_reference(xp))
                    return -1;
            } else if (is_ws(c)) {
                rs_buf_putc(xp->b, ' '); /* attribute value normalisation (CRLF counts as one line end) */
                xp->p += c == '\r' && xp->p + 1 < xp->end && xp->p[1] == '\n' ? 2 : 1;
            } else if (!copy_char(xp)) {
                return -1;
            }
        }
        emit(xp, RS_ITEM_XML_ATTR, attr.name, attr.len, value_off);
        xp->b->len = value_off;
    }
}

/* Reports the character data collected since text_off (if any) under the current element path. */
static void flush_text(xml_parser_t *xp, size_t text_off)
{
    if (xp->b->len > text_off)
        emit(xp, RS_ITEM_XML_TEXT, xp->b->base + xp->path_base, xp->path_len - xp->path_base, text_off);
    xp->b->len = text_off;
}

static int parse_start_tag(xml_parser_t *xp)
{
    xp->p++;
    const char *name = xp->p;
    size_t n = parse_name(xp);
    if (n == 0)
        return 0;
    if (++xp->depth > xp->max_depth) {
        fail(xp, "excessive depth");
        return 0;
    }
    /* nothing but the entity names and the path is held in the scratch between items */
    xp->b->len = xp->path_len;
    rs_buf_putc(xp->b, '/');
    rs_buf_append(xp->b, name, n);
    xp->path_len = xp->b->len;
    int r = parse_attributes(xp);
    if (r < 0)
        return 0;
    if (r == 1) {
        while (xp->path_len > xp->path_base && xp->b->base[--xp->path_len] != '/')
            ;
        xp->b->len = xp->path_len;
        xp->depth--;
    }
    return 1;
}

static int parse_end_tag(xml_parser_t *xp)
{
    xp->p += 2;
    const char *name = xp->p;
    size_t n = parse_name(xp);
    if (n == 0)
        return 0;
    skip_ws(xp);
    if (xp->p >= xp->end || *xp->p != '>') {
        fail(xp, "malformed end tag");
        return 0;
    }
    xp->p++;
    size_t parent = xp->path_len;
    while (parent > xp->path_base && xp->b->base[parent - 1] != '/')
        parent--;
    if (xp->depth == 0 || xp->path_len - parent != n || memcmp(xp->b->base + parent, name, n) != 0) {
        fail(xp, "end tag does not match start tag");
        return 0;
    }
    xp->path_len = parent - 1;
    xp->b->len = xp->path_len;
    xp->depth--;
    return 1;
}

/* Content of elements: text, references, CDATA, comments, PIs and child elements. */
static int parse_content(xml_parser_t *xp)
{
    size_t text_off = xp->path_len;
    xp->b->len = text_off;
    while (xp->depth > 0) {
        if (xp->p >= xp->end) {
            fail(xp, "premature end of data");
            return 0;
        }
        char c = *xp->p;
        if (c == '<') {
            if (starts_with(xp, "<![CDATA[")) {
                xp->p += 9;
                for (;;) {
                    if (starts_with(xp, "]]>")) {
                        xp->p += 3;
                        break;
                    }
                    if (xp->p >= xp->end) {
                        fail(xp, "unterminated CDATA section");
                        return 0;
                    }
                    if (!copy_char(xp))
                        return 0;
                }
                continue;
            }
            flush_text(xp, text_off);
            int ok;
            if (starts_with(xp, "</"))
                ok = parse_end_tag(xp);
            else if (starts_with(xp, "<!--"))
                ok = skip_comment(xp);
            else if (starts_with(xp, "<?"))
                ok = skip_pi(xp);
            else if (starts_with(xp, "<!")) {
                fail(xp, "markup declaration inside content");
                ok = 0;
            } else
                ok = parse_start_tag(xp);
            if (!ok)
                return 0;
            text_off = xp->path_len;
            xp->b->len = text_off;
            continue;
        }
        if (c == '&') {
            if (!parse_reference(xp))
                return 0;
            continue;
        }
        if (c == ']' && starts_with(xp, "]]>")) {
            fail(xp, "']]>' in content");
            return 0;
        }
        if (!copy_char(xp))
            return 0;
    }
    return 1;
}

/* Outside the root element only whitespace, comments and PIs (and one DOCTYPE before the root) may appear. */
static int parse_misc(xml_parser_t *xp, int before_root)
{
    for (;;) {
        skip_ws(xp);
        if (xp->p >= xp->end || *xp->p != '<')
            return 1;
        if (starts_with(xp, "<!--")) {
            if (!skip_comment(xp))
                return 0;
        } else if (starts_with(xp, "<?")) {
            if (!skip_pi(xp))
                return 0;
        } else if (before_root && !xp->has_doctype && starts_with(xp, "<!DOCTYPE")) {
            if (!parse_doctype(xp))
                return 0;
        } else {
            return 1;
        }
    }
}

void rs_parse_xml(rs_str_t body, unsigned max_depth, const rs_body_sink_t *sink, rs_buf_t *scratch, rs_body_error_t *err)
{
    xml_parser_t xp = {.start = body.base,
                       .p = body.base,
                       .end = body.base + body.len,
                       .b = scratch,
                       .sink = sink,
                       .err = err,
                       .max_depth = max_depth != 0 ? max_depth : XML_DEFAULT_MAX_DEPTH};
    if (err != NULL) {
        err->error = 0;
        err->message[0] = '\0';
    }
    rs_buf_reset(scratch);
    if (starts_with(&xp, "\xEF\xBB\xBF"))
        xp.p += 3; /* UTF-8 byte order mark */
    if (starts_with(&xp, "<?xml") && xp.end - xp.p > 5 && (is_ws(xp.p[5]) || xp.p[5] == '?') && !parse_xml_decl(&xp))
        return;
    if (!parse_misc(&xp, 1))
        return;
    if (xp.p >= xp.end || *xp.p != '<' || starts_with(&xp, "<!")) {
        fail(&xp, xp.p >= xp.end ? "document is empty" : "start tag expected");
        return;
    }
    if (!parse_start_tag(&xp))
        return;
    if (xp.depth > 0 && !parse_content(&xp))
        return;
    if (!parse_misc(&xp, 0))
        return;
    if (xp.p != xp.end)
        fail(&xp, "extra content at the end of the document");
    rs_buf_reset(scratch);
}
