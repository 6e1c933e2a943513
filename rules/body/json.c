/* SPDX-License-Identifier: MIT */
/* application/json body processor: a strict RFC 8259 parser (no library) that names every scalar the way
 * ModSecurity v3 does with yajl: "json" for the root, "json.key.sub" through objects, ".array_N" for array
 * elements, "empty-key" for "" object keys. Iterative, so deep nesting costs scratch bytes, not C stack.
 * Error messages are the processor's own ("parse error: ..."); the caller adds "JSON parsing error: ". */
#include <stdio.h>
#include <string.h>

#include "body/body.h"

#define JSON_DEFAULT_MAX_DEPTH 10000 /* ModSecurity's default when SecRequestBodyJsonDepthLimit is unset */
#define NO_FRAME               ((size_t)-1)

/* One open object or array. Stored in the scratch buffer (memcpy'd, so no alignment needed) followed by
 * its name bytes; frames sit back to back from offset 0, the pending key and the current value after them. */
typedef struct {
    size_t prev;     /* offset of the enclosing frame, NO_FRAME at the root */
    size_t name_len; /* bytes of name following the record */
    size_t counter;  /* arrays: index of the next element */
    unsigned char is_array;
} json_frame_t;

typedef struct {
    const char *start, *p, *end;
    rs_buf_t *b;
    const rs_body_sink_t *sink;
    rs_body_error_t *err;
    unsigned max_depth, depth;
    size_t frames_end; /* bytes used by frames */
    size_t top;        /* offset of the innermost frame or NO_FRAME */
    size_t key_len;    /* pending object key, stored at frames_end */
    int failed;
} json_parser_t;

static json_frame_t frame_at(const json_parser_t *jp, size_t off)
{
    json_frame_t f;
    memcpy(&f, jp->b->base + off, sizeof(f));
    return f;
}

static void frame_store(json_parser_t *jp, size_t off, const json_frame_t *f)
{
    memcpy(jp->b->base + off, f, sizeof(*f));
}

static void fail(json_parser_t *jp, const char *what)
{
    if (jp->failed)
        return;
    jp->failed = 1;
    if (jp->err != NULL) {
        jp->err->error = 1;
        snprintf(jp->err->message, sizeof(jp->err->message), "parse error: %s at offset %zu", what, (size_t)(jp->p - jp->start));
    }
}

static void skip_ws(json_parser_t *jp)
{
    while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r'))
        jp->p++;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return 0;
    }
    *out = v;
    return 1;
}

/* Length of the UTF-8 sequence starting at p (structural check as yajl does: lead byte and continuation
 * bytes), 0 when invalid or truncated. */
static size_t utf8_seq_len(const unsigned char *p, const unsigned char *end)
{
    size_t n;
    if (p[0] < 0x80)
        return 1;
    if ((p[0] >> 5) == 0x6)
        n = 2;
    else if ((p[0] >> 4) == 0xE)
        n = 3;
    else if ((p[0] >> 3) == 0x1E)
        n = 4;
    else
        return 0;
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

/* Parses the string at jp->p (on the opening quote) and appends its decoded bytes to the scratch. */
static int parse_string(json_parser_t *jp)
{
    jp->p++;
    for (;;) {
        const char *run = jp->p;
        while (jp->p < jp->end && *jp->p != '"' && *jp->p != '\\' && (unsigned char)*jp->p >= 0x20 && (unsigned char)*jp->p < 0x80)
            jp->p++;
        rs_buf_append(jp->b, run, (size_t)(jp->p - run));
        if (jp->p >= jp->end) {
            fail(jp, "premature EOF inside string");
            return 0;
        }
        unsigned char c = (unsigned char)*jp->p;
        if (c == '"') {
            jp->p++;
            return 1;
        }
        if (c < 0x20) {
            fail(jp, "invalid character inside string");
            return 0;
        }
        if (c >= 0x80) {
            size_t n = utf8_seq_len((const unsigned char *)jp->p, (const unsigned char *)jp->end);
            if (n == 0) {
                fail(jp, "invalid bytes in UTF8 string");
                return 0;
            }
            rs_buf_append(jp->b, jp->p, n);
            jp->p += n;
            continue;
        }
        /* backslash escape */
        if (jp->end - jp->p < 2) {
            fail(jp, "premature EOF inside string");
            return 0;
        }
        char e = jp->p[1];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e != '\0' && simple != NULL) {
            static const char decoded[] = "\"\\/\b\f\n\r\t";
            rs_buf_putc(jp->b, decoded[simple - "\"\\/bfnrt"]);
            jp->p += 2;
            continue;
        }
        if (e != 'u') {
            fail(jp, "invalid escaped character in string");
            return 0;
        }
        unsigned cp;
        if (jp->end - jp->p < 6 || !hex4(jp->p + 2, &cp)) {
            fail(jp, "invalid \\u escape in string");
            return 0;
        }
        jp->p += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            /* As yajl: a high surrogate combines with whatever \u escape (four hex digits) follows (a proper
             * pair gives the right code point), a lone one becomes '?'; a lone low surrogate is encoded as is. */
            unsigned low;
            if (jp->end - jp->p >= 6 && jp->p[0] == '\\' && jp->p[1] == 'u' && hex4(jp->p + 2, &low)) {
                cp = ((cp & 0x3F) << 10) | ((((cp >> 6) & 0xF) + 1) << 16) | (low & 0x3FF);
                jp->p += 6;
            } else {
                cp = '?';
            }
        }
        rs_buf_put_utf8(jp->b, cp);
    }
}

/* Appends the name of the value about to be reported (or of the container about to open) to the scratch:
 * the path of the open frames, then the key ("empty-key" when "") inside objects, nothing inside arrays,
 * "json" at the root. */
static void append_path(json_parser_t *jp, int with_path)
{
    rs_buf_t *b = jp->b;
    size_t bound = jp->key_len + 16;
    if (with_path)
        for (size_t off = 0; off < jp->frames_end;) {
            json_frame_t f = frame_at(jp, off);
            bound += f.name_len + 8 + 20;
            off += sizeof(f) + f.name_len;
        }
    rs_buf_reserve(b, bound);
    if (with_path)
        for (size_t off = 0; off < jp->frames_end;) {
            json_frame_t f = frame_at(jp, off);
            memcpy(b->base + b->len, b->base + off + sizeof(f), f.name_len);
            b->len += f.name_len;
            if (f.is_array) { /* ".array_<counter>": formatted by hand, as this runs for every array element */
                memcpy(b->base + b->len, ".array_", 7);
                b->len += 7;
                char digits[24];
                size_t nd = 0;
                size_t v = f.counter;
                do {
                    digits[nd++] = (char)('0' + v % 10);
                    v /= 10;
                } while (v != 0);
                while (nd > 0)
                    b->base[b->len++] = digits[--nd];
            } else
                b->base[b->len++] = '.';
            off += sizeof(f) + f.name_len;
        }
    if (jp->top == NO_FRAME) {
        memcpy(b->base + b->len, "json", 4);
        b->len += 4;
    } else if (!frame_at(jp, jp->top).is_array) {
        if (jp->key_len == 0) {
            memcpy(b->base + b->len, "empty-key", 9);
            b->len += 9;
        } else {
            memcpy(b->base + b->len, b->base + jp->frames_end, jp->key_len);
            b->len += jp->key_len;
        }
    }
    b->base[b->len] = '\0';
}

/* A finished element of the innermost array advances its index. */
static void element_done(json_parser_t *jp)
{
    if (jp->top != NO_FRAME) {
        json_frame_t f = frame_at(jp, jp->top);
        if (f.is_array) {
            f.counter++;
            frame_store(jp, jp->top, &f);
        }
    }
    jp->key_len = 0;
    jp->b->len = jp->frames_end;
}

/* Reports a scalar. The value is either in the input (in_scratch == 0) or at value_off in the scratch. */
static void emit_scalar(json_parser_t *jp, const char *value, size_t value_len, size_t value_off, int in_scratch)
{
    size_t name_off = jp->b->len;
    append_path(jp, 1);
    if (jp->sink != NULL && jp->sink->item != NULL) {
        const char *v = in_scratch ? jp->b->base + value_off : value;
        jp->sink->item(jp->sink->ctx, RS_ITEM_ARG, rs_str(jp->b->base + name_off, jp->b->len - name_off), rs_str(v, value_len));
    }
    element_done(jp);
}

static int open_container(json_parser_t *jp, int is_array)
{
    if (++jp->depth > jp->max_depth) {
        fail(jp, "client cancelled parse via callback return value. Parsing depth limit exceeded");
        return 0;
    }
    /* The frame's name goes where the pending key is: build it after the key, then slide it into place. */
    size_t key_off = jp->frames_end;
    jp->b->len = key_off + jp->key_len;
    append_path(jp, 0);
    size_t name_len = jp->b->len - key_off - jp->key_len;
    json_frame_t f = {jp->top, name_len, 0, (unsigned char)is_array};
    rs_buf_reserve(jp->b, sizeof(f));
    memmove(jp->b->base + key_off + sizeof(f), jp->b->base + key_off + jp->key_len, name_len);
    frame_store(jp, key_off, &f);
    jp->top = key_off;
    jp->frames_end = key_off + sizeof(f) + name_len;
    jp->b->len = jp->frames_end;
    jp->key_len = 0;
    return 1;
}

static void close_container(json_parser_t *jp)
{
    json_frame_t f = frame_at(jp, jp->top);
    jp->frames_end = jp->top;
    jp->top = f.prev;
    jp->depth--;
    element_done(jp);
}

static int parse_number(json_parser_t *jp)
{
    const char *s = jp->p, *q = jp->p;
    if (q < jp->end && *q == '-')
        q++;
    if (q < jp->end && *q == '0') {
        q++;
    } else if (q < jp->end && *q >= '1' && *q <= '9') {
        while (q < jp->end && *q >= '0' && *q <= '9')
            q++;
    } else {
        jp->p = q;
        fail(jp, "malformed number, a digit is required after the minus sign");
        return 0;
    }
    if (q < jp->end && *q == '.') {
        q++;
        if (q >= jp->end || *q < '0' || *q > '9') {
            jp->p = q;
            fail(jp, "malformed number, a digit is required after the decimal point");
            return 0;
        }
        while (q < jp->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < jp->end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < jp->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= jp->end || *q < '0' || *q > '9') {
            jp->p = q;
            fail(jp, "malformed number, a digit is required after the exponent");
            return 0;
        }
        while (q < jp->end && *q >= '0' && *q <= '9')
            q++;
    }
    jp->p = q;
    emit_scalar(jp, s, (size_t)(q - s), 0, 0);
    return 1;
}

static int parse_literal(json_parser_t *jp, const char *word, const char *reported)
{
    size_t n = strlen(word);
    if ((size_t)(jp->end - jp->p) < n || memcmp(jp->p, word, n) != 0) {
        fail(jp, "invalid string in json text");
        return 0;
    }
    jp->p += n;
    emit_scalar(jp, reported, strlen(reported), 0, 0);
    return 1;
}

/* Parses one value; containers are opened here and closed by the main loop. Returns 0 on error. */
static int parse_value(json_parser_t *jp, int *opened)
{
    *opened = 0;
    skip_ws(jp);
    if (jp->p >= jp->end) {
        fail(jp, "premature EOF");
        return 0;
    }
    switch (*jp->p) {
    case '{':
    case '[':
        if (!open_container(jp, *jp->p == '['))
            return 0;
        jp->p++;
        *opened = 1;
        return 1;
    case '"': {
        size_t value_off = jp->frames_end + jp->key_len;
        jp->b->len = value_off;
        if (!parse_string(jp))
            return 0;
        emit_scalar(jp, NULL, jp->b->len - value_off, value_off, 1);
        return 1;
    }
    case 't':
        return parse_literal(jp, "true", "true");
    case 'f':
        return parse_literal(jp, "false", "false");
    case 'n':
        return parse_literal(jp, "null", "");
    default:
        if (*jp->p == '-' || (*jp->p >= '0' && *jp->p <= '9'))
            return parse_number(jp);
        fail(jp, "invalid char in json text");
        return 0;
    }
}

/* Inside an object, at a key position: reads "key" ':' into the pending key. */
static int parse_key(json_parser_t *jp)
{
    skip_ws(jp);
    if (jp->p >= jp->end) {
        fail(jp, "premature EOF");
        return 0;
    }
    if (*jp->p != '"') {
        fail(jp, "object key must be a string");
        return 0;
    }
    jp->b->len = jp->frames_end;
    if (!parse_string(jp))
        return 0;
    jp->key_len = jp->b->len - jp->frames_end;
    skip_ws(jp);
    if (jp->p >= jp->end || *jp->p != ':') {
        fail(jp, "object key and value must be separated by a colon (':')");
        return 0;
    }
    jp->p++;
    return 1;
}

static int is_top_array(json_parser_t *jp)
{
    return frame_at(jp, jp->top).is_array;
}

/* After a container opened: handles an immediate close, or reads the first key of an object. Returns 1 when
 * the caller must parse a value next, 0 when the container closed right away, -1 on error. */
static int after_open(json_parser_t *jp)
{
    skip_ws(jp);
    char close = is_top_array(jp) ? ']' : '}';
    if (jp->p < jp->end && *jp->p == close) {
        jp->p++;
        close_container(jp);
        return 0;
    }
    if (!is_top_array(jp) && !parse_key(jp))
        return -1;
    return 1;
}

void rs_parse_json(rs_str_t body, unsigned max_depth, const rs_body_sink_t *sink, rs_buf_t *scratch, rs_body_error_t *err)
{
    json_parser_t jp = {.start = body.base,
                        .p = body.base,
                        .end = body.base + body.len,
                        .b = scratch,
                        .sink = sink,
                        .err = err,
                        .max_depth = max_depth != 0 ? max_depth : JSON_DEFAULT_MAX_DEPTH,
                        .top = NO_FRAME};
    if (err != NULL) {
        err->error = 0;
        err->message[0] = '\0';
    }
    rs_buf_reset(scratch);
    /* ModSecurity does not flag an empty body as a JSON error. */
    if (body.len == 0)
        return;

    int need_value = 1;
    for (;;) {
        if (need_value) {
            int opened;
            if (!parse_value(&jp, &opened))
                return;
            if (opened) {
                int r = after_open(&jp);
                if (r < 0)
                    return;
                need_value = r;
                continue;
            }
        }
        /* A value just finished: close containers or move to the next element. */
        if (jp.top == NO_FRAME)
            break;
        skip_ws(&jp);
        if (jp.p >= jp.end) {
            fail(&jp, "premature EOF");
            return;
        }
        char close = is_top_array(&jp) ? ']' : '}';
        if (*jp.p == close) {
            jp.p++;
            close_container(&jp);
            need_value = 0;
        } else if (*jp.p == ',') {
            jp.p++;
            if (!is_top_array(&jp) && !parse_key(&jp))
                return;
            need_value = 1;
        } else {
            fail(&jp, is_top_array(&jp) ? "after array element, I expect ',' or ']'"
                                        : "after key and value, inside map, I expect ',' or '}'");
            return;
        }
    }
    skip_ws(&jp);
    if (jp.p != jp.end)
        fail(&jp, "trailing garbage");
}
