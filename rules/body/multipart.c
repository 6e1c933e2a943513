/* SPDX-License-Identifier: MIT */
/* multipart/form-data body processor reproducing ModSecurity v3.0.9's observable behaviour: the boundary
 * checks on Content-Type, the 4096-byte line machine, part header rules, which MULTIPART_* flag each oddity
 * raises, which errors stop parsing and which only set REQBODY_ERROR_MSG, and its quirks (form values lose
 * the line breaks between their lines; arguments are reported only when the final boundary was seen).
 * Error messages are v3's ("Multipart: ..."); the caller adds "Multipart parsing error: ". */
#include <stdio.h>
#include <string.h>

#include "body/body.h"

#define MP_LINE_MAX 4096 /* ModSecurity's MULTIPART_BUF_SIZE: longer lines are cut into chunks of this size */
#define MP_NONE     ((size_t)-1)
#define MP_BUCKETS  4096 /* part header lookups: v3 uses a hash map, so many headers must stay cheap */

enum { PART_UNKNOWN, PART_FORMDATA, PART_FILE };

/* A string that lives either in the input or in the scratch buffer (which may move when it grows). */
typedef struct {
    const char *ptr;
    size_t off, len;
    int in_scratch;
} mp_text_t;

/* Records kept in the scratch buffer (memcpy'd, so no alignment needed), chained by offset. */
typedef struct {
    size_t next;      /* next record in the same hash bucket */
    const char *name; /* header names are slices of the body */
    size_t name_len;
    mp_text_t value;
} mp_header_t;

typedef struct {
    size_t next;
    mp_text_t text;
} mp_line_t;

/* A finished part, waiting for the final boundary; followed by value, name and file name bytes. */
typedef struct {
    int type;
    size_t value_len, name_len, filename_len, file_size;
} mp_done_t;

typedef struct {
    const rs_body_sink_t *sink;
    rs_buf_t *b;
    rs_multipart_flags_t *f;
    const char *boundary;
    size_t blen;
    int flag_error, crlf_line, is_complete;
    size_t boundary_count;
    char error[sizeof(((rs_body_error_t *)0)->message)]; /* last error assigned; "" when none */
    size_t done_end;                                     /* scratch bytes used by finished parts */

    /* the part being built */
    int has_part, in_data, data_read, type;
    struct {
        uint32_t part; /* the bucket is valid only for the part numbered so (no clearing per part) */
        size_t first;
    } headers[MP_BUCKETS]; /* header records by hash of the lower-cased name */
    uint32_t part_number;
    size_t lines, lines_tail; /* header line records, in order */
    mp_text_t last_line;      /* header line not yet recorded */
    const char *last_name;    /* header being built, for folding */
    size_t last_name_len;
    mp_text_t name, filename;
    size_t value_off, reserve, file_size;
    char reserve_bytes[2];
} mp_t;

/* The last error wins, as in v3 (a later "Final boundary missing." replaces an earlier message). */
static void set_error(mp_t *m, const char *message, const char *detail, size_t detail_len)
{
    snprintf(m->error, sizeof(m->error), "%s%.*s", message, (int)detail_len, detail);
}

static const char *text_ptr(const mp_t *m, mp_text_t t)
{
    return t.in_scratch ? m->b->base + t.off : t.ptr;
}

static mp_text_t input_text(const char *p, size_t len)
{
    return (mp_text_t){p, 0, len, 0};
}

/* Appends bytes (possibly from the scratch itself) and returns them as a scratch text. */
static mp_text_t scratch_append(mp_t *m, mp_text_t t)
{
    rs_buf_reserve(m->b, t.len);
    mp_text_t out = {NULL, m->b->len, t.len, 1};
    if (t.len == 0)
        return out;
    memmove(m->b->base + m->b->len, text_ptr(m, t), t.len);
    m->b->len += t.len;
    m->b->base[m->b->len] = '\0';
    return out;
}

static size_t record_append(mp_t *m, const void *rec, size_t size, size_t *head, size_t *tail)
{
    size_t off = m->b->len;
    rs_buf_append(m->b, rec, size);
    if (*tail != MP_NONE)
        memcpy(m->b->base + *tail, &off, sizeof(off)); /* `next` is the first field of every record */
    else
        *head = off;
    *tail = off;
    return off;
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_xdigit(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static int ieq(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return 0;
    for (size_t i = 0; i < alen; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return 0;
    return 1;
}

static void copy_flag_string(char *dst, size_t size, const char *s, size_t len)
{
    if (len >= size)
        len = size - 1;
    memcpy(dst, s, len);
    dst[len] = '\0';
}

/* Content-Type parameter checks ------------------------------------------------------------------------- */

/* Occurrences of "boundary" (any case) that have an '=' somewhere after them. */
static int count_boundary_params(const char *s, size_t len)
{
    int count = 0;
    const char *last_eq = NULL;
    for (size_t i = len; i > 0; i--)
        if (s[i - 1] == '=') {
            last_eq = s + i - 1;
            break;
        }
    for (size_t i = 0; i + 8 <= len; i++)
        if (ieq(s + i, 8, "boundary", 8) && last_eq != NULL && last_eq >= s + i + 8)
            count++;
    return count;
}

static int boundary_chars_valid(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_alnum(c) || (c == ' ' && i + 1 < len) || strchr("'()+_,-./:=?", c) != NULL)
            continue;
        return 0;
    }
    return 1;
}

static const char *find_str(const char *s, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(s + i, needle, n) == 0)
            return s + i;
    return NULL;
}

/* Takes the boundary from the Content-Type value. Returns 0 when the body must not be parsed. */
static int parse_content_type(mp_t *m, const char *ct, size_t len)
{
    const char *end = ct + len;
    m->flag_error = 1; /* every early exit below but two is a hard error */
    if (len == 0) {
        set_error(m, "Multipart: Content-Type header not available.", "", 0);
        return 0;
    }
    if (len > 1024) {
        set_error(m, "Multipart: Invalid boundary in C-T (length).", "", 0);
        return 0;
    }
    if (len < 19 || !ieq(ct, 19, "multipart/form-data", 19)) {
        set_error(m, "Multipart: Invalid MIME type.", "", 0);
        return 0;
    }
    if (count_boundary_params(ct, len) > 1) {
        set_error(m, "Multipart: Multiple boundary parameters in C-T.", "", 0);
        return 0;
    }
    const char *param = find_str(ct, len, "boundary");
    if (param == NULL) {
        if (count_boundary_params(ct, len) > 0)
            set_error(m, "Multipart: Invalid boundary in C-T (case sensitivity).", "", 0);
        else
            set_error(m, "Multipart: Boundary not found in C-T.", "", 0);
        return 0;
    }
    int seen_semicolon = 0;
    for (const char *p = ct + 19; p < param; p++) {
        if (is_space((unsigned char)*p))
            continue;
        if (!seen_semicolon && *p == ';') {
            seen_semicolon = 1;
            continue;
        }
        set_error(m, "Multipart: Invalid boundary in C-T (malformed).", "", 0);
        return 0;
    }
    if (!seen_semicolon)
        m->f->missing_semicolon = 1;
    const char *eq = memchr(param + 8, '=', (size_t)(end - param - 8));
    if (eq == NULL) {
        set_error(m, "Multipart: Invalid boundary in C-T (malformed).", "", 0);
        return 0;
    }
    for (const char *p = param + 8; p < eq; p++) {
        if (!is_space((unsigned char)*p)) {
            set_error(m, "Multipart: Invalid boundary in C-T (parameter name).", "", 0);
            return 0;
        }
        m->f->boundary_whitespace = 1;
    }
    const char *b = eq + 1;
    size_t blen = (size_t)(end - b);
    if (blen > 0 && is_space((unsigned char)*b))
        m->f->boundary_whitespace = 1;
    if (blen >= 2 && b[0] == '"' && b[blen - 1] == '"') {
        b++;
        blen -= 2;
        if (blen == 0) {
            m->flag_error = 0; /* ModSecurity gives up silently here */
            return 0;
        }
        m->f->boundary_quoted = 1;
    } else {
        if ((blen > 0 && b[0] == '"') || (blen >= 2 && b[blen - 1] == '"')) {
            set_error(m, "Multipart: Invalid boundary in C-T (quote).", "", 0);
            return 0;
        }
        if (blen == 0) {
            m->flag_error = 0;
            return 0;
        }
    }
    if (count_boundary_params(b, blen) != 0) {
        set_error(m, "Multipart: Invalid boundary in C-T (content).", "", 0);
        return 0;
    }
    /* A parameter after the boundary (e.g. "; charset=...") is tolerated. */
    if (!boundary_chars_valid(b, blen)) {
        const char *semi = memchr(b, ';', blen);
        if (semi != NULL)
            blen = (size_t)(semi - b);
    }
    if (!boundary_chars_valid(b, blen)) {
        set_error(m, "Multipart: Invalid boundary in C-T (characters).", "", 0);
        return 0;
    }
    if (blen == 0) {
        set_error(m, "Multipart: Invalid boundary in C-T (empty).", "", 0);
        return 0;
    }
    m->boundary = b;
    m->blen = blen;
    m->flag_error = 0;
    return 1;
}

/* Content-Disposition -------------------------------------------------------------------------------- */

/* Parses the Content-Disposition value of the current part; returns ModSecurity's result code (< 0 bad). */
static int parse_content_disposition(mp_t *m, mp_text_t cd)
{
    /* The value may move while we append to the scratch: work on offsets. */
    size_t pos = 9, len = cd.len;
#define AT(i) ((i) < len ? text_ptr(m, cd)[i] : '\0')
    int filename_star_seen = 0;
    if (len < 9 || memcmp(text_ptr(m, cd), "form-data", 9) != 0)
        return -1;
    while (AT(pos) == '\t' || AT(pos) == ' ')
        pos++;
    if (pos >= len)
        return 1;
    if (AT(pos) != ';')
        return -2;
    pos++;
    while (pos < len) {
        while (AT(pos) == '\t' || AT(pos) == ' ')
            pos++;
        if (pos >= len)
            return -3;
        size_t pname = pos;
        while (pos < len && AT(pos) != '=' && AT(pos) != '\t' && AT(pos) != ' ')
            pos++;
        if (pos >= len)
            return -4;
        size_t pname_len = pos - pname;
        while (AT(pos) == '\t' || AT(pos) == ' ')
            pos++;
        if (pos >= len)
            return -5;
        if (AT(pos) != '=')
            return -13;
        pos++;
        while (AT(pos) == '\t' || AT(pos) == ' ')
            pos++;
        if (pos >= len)
            return -6;

        int is_name = pname_len == 4 && memcmp(text_ptr(m, cd) + pname, "name", 4) == 0;
        int is_filename = pname_len == 8 && memcmp(text_ptr(m, cd) + pname, "filename", 8) == 0;
        int is_filename_star = pname_len == 9 && memcmp(text_ptr(m, cd) + pname, "filename*", 9) == 0;
        char quote = '\0';
        int unterminated = 0;
        mp_text_t value = {NULL, m->b->len, 0, 1};
        if (is_filename_star) {
            /* charset'language'percent-encoded-name */
            size_t charset = pos;
            while (pos < len && (is_alnum((unsigned char)AT(pos)) || strchr("!#$%&+-^_`{}~", AT(pos)) != NULL))
                pos++;
            if (AT(pos) != '\'' || pos == charset)
                return -16;
            pos++;
            while (pos < len && AT(pos) != '\'')
                pos++;
            if (AT(pos) != '\'')
                return -17;
            pos++;
            size_t start = pos;
            while (pos < len && AT(pos) != ';') {
                unsigned char c = (unsigned char)AT(pos);
                if (c == '%') {
                    if (!is_xdigit((unsigned char)AT(pos + 1)) || !is_xdigit((unsigned char)AT(pos + 2)))
                        return -18;
                    pos += 3;
                } else if (is_alnum(c) || strchr("!#$&+-.^_`~", c) != NULL) {
                    pos++;
                } else {
                    return -19;
                }
            }
            value = (mp_text_t){NULL, cd.off + start, pos - start, 1};
            if (!cd.in_scratch)
                value = input_text(cd.ptr + start, pos - start);
        } else if (AT(pos) == '"' || AT(pos) == '\'') {
            /* Single quotes are accepted like some backends do, but flagged. */
            quote = AT(pos);
            if (quote == '\'')
                m->f->invalid_quoting = 1;
            pos++;
            if (pos >= len)
                return -7;
            while (pos < len) {
                char c = AT(pos);
                if (c == '\\') {
                    if (pos + 1 >= len)
                        return -8;
                    if (AT(pos + 1) == quote || AT(pos + 1) == '\\')
                        pos++; /* only the quote and '\' can be escaped; other backslashes stay */
                } else if (c == quote) {
                    break;
                }
                rs_buf_putc(m->b, AT(pos));
                value.len++;
                pos++;
            }
            unterminated = pos >= len;
            pos++; /* the closing quote */
        } else {
            size_t start = pos;
            while (pos < len) {
                unsigned char c = (unsigned char)AT(pos);
                if (c <= 32 || c >= 127 || strchr("()<>@,;:\\\"/[]?=", c) != NULL)
                    break;
                pos++;
            }
            value = cd.in_scratch ? (mp_text_t){NULL, cd.off + start, pos - start, 1} : input_text(cd.ptr + start, pos - start);
        }

        if (is_name || is_filename) {
            const char *v = text_ptr(m, value);
            if (quote != '"' && value.len != 0 && memchr(v, '\'', value.len) != NULL)
                m->f->invalid_quoting = 1;
            if (is_name) {
                copy_flag_string(m->f->name, sizeof(m->f->name), v, value.len);
                if (m->name.len != 0)
                    return -14;
                m->name = value;
            } else {
                copy_flag_string(m->f->filename, sizeof(m->f->filename), v, value.len);
                if (m->filename.len != 0)
                    return -15;
                m->filename = value;
            }
        } else if (is_filename_star) {
            if (filename_star_seen)
                return -20;
            filename_star_seen = value.len != 0;
        } else {
            return -11;
        }
        /* v3 reads past the end of an unterminated quoted value and, in practice, fails on what follows. */
        if (unterminated)
            return -12;

        if (pos < len) {
            while (AT(pos) == '\t' || AT(pos) == ' ')
                pos++;
            if (pos < len) {
                if (AT(pos) != ';') {
                    if (AT(pos - 1) == '\'' || AT(pos - 1) == '"')
                        m->f->invalid_quoting = 1;
                    return -12;
                }
                pos++;
            }
        }
    }
    if (filename_star_seen && m->filename.len == 0)
        return -21;
    return 1;
#undef AT
}

/* Parts ---------------------------------------------------------------------------------------------- */

static void start_part(mp_t *m)
{
    m->has_part = 1;
    m->in_data = m->data_read = 0;
    m->type = PART_UNKNOWN;
    m->part_number++;
    m->lines = m->lines_tail = MP_NONE;
    m->last_line = (mp_text_t){0};
    m->last_name = NULL;
    m->last_name_len = 0;
    m->name = m->filename = (mp_text_t){0};
    m->reserve = m->file_size = 0;
    /* Room for the finished-part record, so the part's bytes can later slide down in place. */
    rs_buf_reserve(m->b, sizeof(mp_done_t));
    m->b->len += sizeof(mp_done_t);
    m->value_off = m->b->len;
}

static void record_last_line(mp_t *m)
{
    if (m->last_line.len == 0)
        return;
    mp_line_t rec = {MP_NONE, m->last_line};
    record_append(m, &rec, sizeof(rec), &m->lines, &m->lines_tail);
    m->last_line = (mp_text_t){0};
}

/* Ends the current part: reports its header lines, keeps it for the end if it has a name. */
static void finish_part(mp_t *m)
{
    if (!m->has_part)
        return;
    if (m->sink != NULL && m->sink->item != NULL)
        for (size_t off = m->lines; off != MP_NONE;) {
            mp_line_t rec;
            memcpy(&rec, m->b->base + off, sizeof(rec));
            m->sink->item(m->sink->ctx, RS_ITEM_PART_HEADER, rs_str(text_ptr(m, m->name), m->name.len),
                          rs_str(text_ptr(m, rec.text), rec.text.len));
            off = rec.next;
        }
    if (m->name.len == 0) {
        m->f->invalid_part = 1;
    } else {
        /* Layout at done_end: record, value, name, file name. The value bytes (only present once the data
         * phase started) are the tail of the scratch; copy the names after them first. */
        size_t value_len = m->in_data ? m->b->len - m->value_off : 0;
        size_t value_src = m->in_data ? m->value_off : m->b->len;
        size_t names_src = m->b->len;
        scratch_append(m, m->name);
        scratch_append(m, m->filename);
        mp_done_t rec = {m->type, value_len, m->name.len, m->filename.len, m->file_size};
        size_t dst = m->done_end + sizeof(rec);
        memmove(m->b->base + dst, m->b->base + value_src, value_len);
        memmove(m->b->base + dst + value_len, m->b->base + names_src, m->name.len + m->filename.len);
        memcpy(m->b->base + m->done_end, &rec, sizeof(rec));
        m->done_end = dst + value_len + m->name.len + m->filename.len;
    }
    m->b->len = m->done_end;
    m->has_part = 0;
}

static void process_boundary(mp_t *m, int last)
{
    finish_part(m);
    if (!last)
        start_part(m);
}

/* Part header names compare case-insensitively. Returns 1 and the record offset when found. */
static size_t header_bucket(const char *name, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ lower((unsigned char)name[i])) * 16777619u;
    return h % MP_BUCKETS;
}

static int find_header(const mp_t *m, const char *name, size_t name_len, size_t *at)
{
    size_t bucket = header_bucket(name, name_len);
    if (m->headers[bucket].part != m->part_number)
        return 0;
    for (size_t off = m->headers[bucket].first; off != MP_NONE;) {
        mp_header_t rec;
        memcpy(&rec, m->b->base + off, sizeof(rec));
        if (ieq(rec.name, rec.name_len, name, name_len)) {
            *at = off;
            return 1;
        }
        off = rec.next;
    }
    return 0;
}

static mp_header_t header_at(const mp_t *m, size_t off)
{
    mp_header_t rec;
    memcpy(&rec, m->b->base + off, sizeof(rec));
    return rec;
}

/* End of the part headers: decide what the part is. Errors are reported but not fatal, like v3. */
static void end_of_headers(mp_t *m)
{
    record_last_line(m);
    size_t at;
    if (!find_header(m, "Content-Disposition", 19, &at)) {
        set_error(m, "Multipart: Part missing Content-Disposition header.", "", 0);
        return;
    }
    mp_text_t cd = header_at(m, at).value;
    int rc = parse_content_disposition(m, cd);
    if (rc < 0) {
        char head[64];
        snprintf(head, sizeof(head), "Multipart: Invalid Content-Disposition header (%d): ", rc);
        set_error(m, head, text_ptr(m, cd), cd.len);
        return;
    }
    if (m->name.len == 0) {
        set_error(m, "Multipart: Content-Disposition header missing name field.", "", 0);
        return;
    }
    if (m->filename.len != 0) {
        /* Catch parsers that only understood filename*=. */
        if (find_str(text_ptr(m, cd), cd.len, "filename=") == NULL) {
            set_error(m, "Multipart: Invalid Content-Disposition header (filename).", "", 0);
            return;
        }
        m->type = PART_FILE;
    } else {
        m->type = PART_FORMDATA;
    }
    m->in_data = 1;
    m->data_read = 0;
    m->last_name = NULL;
    m->value_off = m->b->len;
}

static size_t chomp_len(const char *s, size_t len)
{
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
        len--;
    return len;
}

static void process_part_header(mp_t *m, const char *line, size_t len)
{
    if (memchr(line, '\0', len) != NULL) {
        set_error(m, "Multipart: Nul byte in part headers.", "", 0);
        return;
    }
    size_t without_eol = len - 1;
    if (len > 1 && line[len - 2] == '\r') {
        m->crlf_line = 1;
        without_eol--;
    } else {
        m->f->lf_line = 1;
    }
    if ((len == 2 && line[0] == '\r' && line[1] == '\n') || (len == 1 && line[0] == '\n')) {
        end_of_headers(m);
        return;
    }
    if (is_space((unsigned char)line[0])) {
        /* Folded continuation of the previous header (PHP accepts any whitespace: flagged). */
        m->f->header_folding = 1;
        if (line[0] != '\t' && line[0] != ' ')
            m->f->invalid_header_folding = 1;
        if (m->last_name == NULL) {
            set_error(m, "Multipart: Invalid part header (folding error).", "", 0);
            return;
        }
        size_t i = 0;
        while (i < len && is_space((unsigned char)line[i])) {
            if (line[i] != '\t' && line[i] != ' ')
                m->f->invalid_header_folding = 1;
            i++;
        }
        size_t more = chomp_len(line + i, len - i);
        size_t at;
        find_header(m, m->last_name, m->last_name_len, &at);
        mp_header_t h = header_at(m, at);
        mp_text_t value = scratch_append(m, h.value);
        scratch_append(m, input_text(" ", 1));
        scratch_append(m, input_text(line + i, more));
        value.len = m->b->len - value.off;
        h.value = value;
        memcpy(m->b->base + at, &h, sizeof(h));
        if (value.len > MP_LINE_MAX) {
            set_error(m, "Multipart: Part header too long.", "", 0);
            return;
        }
        mp_text_t whole = scratch_append(m, input_text(m->last_name, m->last_name_len));
        scratch_append(m, input_text(": ", 2));
        scratch_append(m, value);
        whole.len = m->b->len - whole.off;
        m->last_line = whole;
        return;
    }
    record_last_line(m);
    const char *colon = memchr(line, ':', len);
    if (colon == NULL) {
        set_error(m, "Multipart: Invalid part header (colon missing): ", line, len);
        return;
    }
    if (colon == line) {
        set_error(m, "Multipart: Invalid part header (header name missing).", "", 0);
        return;
    }
    const char *v = colon + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    size_t at;
    if (find_header(m, line, (size_t)(colon - line), &at))
        return; /* duplicate header: ModSecurity ignores it without an error message */
    size_t bucket = header_bucket(line, (size_t)(colon - line));
    size_t chain = m->headers[bucket].part == m->part_number ? m->headers[bucket].first : MP_NONE;
    mp_header_t h = {chain, line, (size_t)(colon - line), input_text(v, chomp_len(v, (size_t)(end - v)))};
    m->headers[bucket].part = m->part_number;
    m->headers[bucket].first = m->b->len;
    rs_buf_append(m->b, &h, sizeof(h));
    m->last_name = line;
    m->last_name_len = (size_t)(colon - line);
    m->last_line = without_eol > 0 ? input_text(line, len) : (mp_text_t){0};
}

/* One chunk of part content. A trailing CRLF/LF is held back: it belongs to the next chunk unless a
 * boundary follows. (v3 then drops the held-back bytes of form fields: "a\r\nb" becomes "ab".) */
static void process_part_data(mp_t *m, const char *data, size_t len)
{
    m->data_read = 1;
    size_t held = 0;
    if (len >= 1 && data[len - 1] == '\n')
        held = len >= 2 && data[len - 2] == '\r' ? 2 : 1;
    len -= held;
    if (m->type == PART_FILE) {
        rs_buf_append(m->b, m->reserve_bytes, m->reserve);
        m->file_size += m->reserve + len;
    }
    rs_buf_append(m->b, data, len);
    m->reserve = held;
    memcpy(m->reserve_bytes, data + len, held);
}

/* The line machine ------------------------------------------------------------------------------------ */

static int matches_boundary(const mp_t *m, const char *p, size_t avail)
{
    return avail >= m->blen && memcmp(p, m->boundary, m->blen) == 0;
}

/* Handles one chunk (a line, or a piece of a long line). Returns 0 on a fatal error. */
static int process_chunk(mp_t *m, const char *buf, size_t len, int contains_line, int crlf_end, int cut)
{
    const char *nul = memchr(buf, '\0', len);
    size_t slen = nul != NULL ? (size_t)(nul - buf) : len; /* v3 looks at the chunk as a C string here */
#define AT(i) ((i) < len ? buf[i] : '\0')
    int is_boundary = 0;
    if (contains_line && slen > 3 && buf[0] == '-' && buf[1] == '-') {
        if (slen >= m->blen + 2 && matches_boundary(m, buf + 2, slen - 2)) {
            if (crlf_end == 2)
                m->f->lf_line = 1;
            if (!m->data_read && m->boundary_count > 0) {
                m->f->invalid_part = 1; /* a boundary where part content should begin: treated as content */
            } else {
                size_t e = 2 + m->blen;
                if (m->boundary_count > 0)
                    m->f->unmatched_boundary = 2; /* v3's marker for "matched a boundary after the first" */
                int is_final = 0;
                if (AT(e) == '-' && AT(e + 1) == '-') {
                    is_final = 1;
                    e += 2;
                    if (m->is_complete) {
                        m->flag_error = 1;
                        set_error(m, "Multipart: Invalid boundary (final duplicate).", "", 0);
                        return 0;
                    }
                }
                if ((AT(e) == '\r' && AT(e + 1) == '\n' && AT(e + 2) == '\0') || (AT(e) == '\n' && AT(e + 1) == '\0')) {
                    if (AT(e) == '\n')
                        m->f->lf_line = 1;
                    else
                        m->crlf_line = 1;
                    process_boundary(m, is_final);
                    if (is_final)
                        m->is_complete = 1;
                    is_boundary = 1;
                    m->boundary_count++;
                } else {
                    m->flag_error = 1;
                    set_error(m, "Multipart: Invalid boundary: ", buf, slen);
                    return 0;
                }
            }
        } else {
            if (m->f->boundary_quoted && slen >= m->blen + 3 && buf[2] == '"' && matches_boundary(m, buf + 3, slen - 3)) {
                m->flag_error = 1;
                set_error(m, "Multipart: Invalid boundary (quotes).", "", 0);
                return 0;
            }
            size_t p = 2;
            while (p < slen && is_space((unsigned char)buf[p]))
                p++;
            if (p != 2 && matches_boundary(m, buf + p, slen - p)) {
                m->flag_error = 1;
                set_error(m, "Multipart: Invalid boundary (whitespace).", "", 0);
                return 0;
            }
            m->f->unmatched_boundary = 1;
        }
    } else if (contains_line) {
        /* Something resembling our boundary inside a line. */
        for (size_t i = 0; i + 1 < len; i++)
            if (buf[i] == '-' && buf[i + 1] == '-' && matches_boundary(m, buf + i + 2, len - i - 2)) {
                m->f->unmatched_boundary = 1;
                break;
            }
    }
#undef AT
    if (is_boundary)
        return 1;
    if (!m->has_part) {
        m->f->data_before = 1;
    } else if (!m->in_data) {
        if (len == MP_LINE_MAX || cut) {
            m->flag_error = 1;
            set_error(m, "Multipart: Part header line over 4096 bytes long", "", 0);
            return 0;
        }
        process_part_header(m, buf, len);
    } else {
        process_part_data(m, buf, len);
    }
    return 1;
}

static void report_parts(mp_t *m)
{
    if (m->sink == NULL || m->sink->item == NULL)
        return;
    for (size_t off = 0; off < m->done_end;) {
        mp_done_t rec;
        memcpy(&rec, m->b->base + off, sizeof(rec));
        const char *value = m->b->base + off + sizeof(rec);
        rs_str_t name = rs_str(value + rec.value_len, rec.name_len);
        rs_str_t filename = rs_str(value + rec.value_len + rec.name_len, rec.filename_len);
        if (rec.type == PART_FILE) {
            char size[24];
            int n = snprintf(size, sizeof(size), "%zu", rec.file_size);
            m->sink->item(m->sink->ctx, RS_ITEM_FILE, name, filename);
            m->sink->item(m->sink->ctx, RS_ITEM_FILE_SIZE, name, rs_str(size, (size_t)n));
            m->sink->item(m->sink->ctx, RS_ITEM_FILE_CONTENT, name, rs_str(value, rec.value_len));
        } else {
            m->sink->item(m->sink->ctx, RS_ITEM_ARG, name, rs_str(value, rec.value_len));
        }
        off += sizeof(rec) + rec.value_len + rec.name_len + rec.filename_len;
    }
}

void rs_parse_multipart(rs_str_t body, rs_str_t content_type, const rs_body_sink_t *sink, rs_buf_t *scratch,
                        rs_multipart_flags_t *flags, rs_body_error_t *err)
{
    rs_multipart_flags_t unused_flags;
    if (flags == NULL)
        flags = &unused_flags;
    memset(flags, 0, sizeof(*flags));
    mp_t m = {.sink = sink, .b = scratch, .f = flags};
    rs_buf_reset(scratch);
    /* ModSecurity reads the header as a C string. */
    const char *ct_nul = memchr(content_type.base, '\0', content_type.len);
    size_t ct_len = ct_nul != NULL ? (size_t)(ct_nul - content_type.base) : content_type.len;

    int seen_data = 0, contains_line = 1, crlf_end = 0;
    size_t start = 0, buflen = 0;
    if (parse_content_type(&m, content_type.base, ct_len) && body.len > 0) {
        seen_data = 1;
        int crlf_state = 0;
        size_t i = 0;
        while (i < body.len) {
            char c = body.base[i];
            int cut = 0;
            if (c == '\r' && buflen == MP_LINE_MAX - 1) {
                cut = 1; /* never end a chunk with '\r': it may start a CRLF */
            } else {
                i++;
                buflen++;
            }
            if (c == '\n' || buflen == MP_LINE_MAX || cut) {
                if (!process_chunk(&m, body.base + start, buflen, contains_line, crlf_end, cut))
                    break; /* the failed chunk stays pending, as in v3 */
                start += buflen;
                buflen = 0;
                contains_line = c == '\n';
                if (c == '\n')
                    crlf_state = crlf_state == 1 ? 3 : 2;
                crlf_end = crlf_state;
            }
            if (c == '\r')
                crlf_state = 1;
            else if (c != '\n')
                crlf_state = 0;
            if (m.is_complete && i < body.len) {
                flags->data_after = 1;
                break;
            }
        }
    }

    int report = 1;
    if (seen_data && !m.is_complete) {
        if (m.boundary_count > 0) {
            /* A final boundary without a line break at the very end still counts. */
            const char *pend = body.base + start;
            if (contains_line && buflen == 4 + m.blen && pend[0] == '-' && pend[1] == '-' &&
                memcmp(pend + 2, m.boundary, m.blen) == 0 && pend[2 + m.blen] == '-' && pend[3 + m.blen] == '-') {
                if (crlf_end == 2)
                    flags->lf_line = 1;
                if (!m.data_read)
                    flags->invalid_part = 1;
                process_boundary(&m, 1);
                m.is_complete = 1;
            }
            if (!m.is_complete) {
                set_error(&m, "Multipart: Final boundary missing.", "", 0);
                report = 0;
            }
        } else {
            set_error(&m, "Multipart: No boundaries found in payload.", "", 0);
            report = 0;
        }
    }
    if (report)
        report_parts(&m);

    flags->crlf_lf_lines = m.crlf_line && flags->lf_line;
    flags->strict_error = m.flag_error || flags->boundary_quoted || flags->boundary_whitespace || flags->data_before ||
                          flags->data_after || flags->header_folding || flags->lf_line || flags->missing_semicolon ||
                          flags->invalid_quoting || flags->invalid_part || flags->invalid_header_folding ||
                          flags->file_limit_exceeded;
    if (err != NULL) {
        err->error = m.error[0] != '\0';
        if (err->error)
            memcpy(err->message, m.error, sizeof(err->message));
        else
            err->message[0] = '\0';
    }
    rs_buf_reset(scratch);
}
