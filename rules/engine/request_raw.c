/* SPDX-License-Identifier: MIT */
/* rs_request_parse_raw: a raw HTTP/1.x request as saved in a file (request line, headers, blank line,
 * body) into an rs_request_t, for `rules explain`, `rules test`, the differential tests and fuzzing.
 * Accepts CRLF or bare LF line ends; the body is Content-Length bytes, the decoded chunks when chunked,
 * or whatever follows the headers when neither is given. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

static int fail(char *err, size_t errsize, const char *msg)
{
    if (err != NULL && errsize > 0)
        snprintf(err, errsize, "%s", msg);
    return -1;
}

/* Next line [pos, end of line) without its CR/LF; *next is the start of the following line. Returns 0 when
 * no line end was found (the line then runs to the end of the data). */
static int next_line(rs_str_t raw, size_t pos, rs_str_t *line, size_t *next)
{
    const char *nl = pos < raw.len ? memchr(raw.base + pos, '\n', raw.len - pos) : NULL;
    size_t end = nl ? (size_t)(nl - raw.base) : raw.len;
    *next = nl ? end + 1 : raw.len;
    size_t e = end;
    if (e > pos && raw.base[e - 1] == '\r')
        e--;
    *line = rs_str(raw.base + pos, e - pos);
    return nl != NULL;
}

static rs_str_t trim(rs_str_t s)
{
    while (s.len && (s.base[0] == ' ' || s.base[0] == '\t')) {
        s.base++;
        s.len--;
    }
    while (s.len && (s.base[s.len - 1] == ' ' || s.base[s.len - 1] == '\t'))
        s.len--;
    return s;
}

static int parse_size(rs_str_t s, int hex, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;
    for (; i < s.len; i++) {
        char c = s.base[i];
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (hex && c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (hex && c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            break;
        if (v > (UINT64_MAX >> 4))
            return -1;
        v = v * (hex ? 16 : 10) + (uint64_t)d;
    }
    if (i == 0)
        return -1;
    *out = v;
    return 0;
}

int rs_request_parse_raw(rs_str_t raw, rs_request_t *req, rs_buf_t *storage, char *err, size_t errsize)
{
    memset(req, 0, sizeof(*req));
    rs_str_t line;
    size_t pos = 0, next;
    /* tolerate blank lines before the request line, as servers do */
    do {
        if (pos >= raw.len)
            return fail(err, errsize, "empty request");
        next_line(raw, pos, &line, &next);
        pos = next;
    } while (line.len == 0);

    const char *sp1 = memchr(line.base, ' ', line.len);
    if (sp1 == NULL)
        return fail(err, errsize, "request line has no target");
    req->method = rs_str(line.base, (size_t)(sp1 - line.base));
    rs_str_t rest = rs_str(sp1 + 1, line.len - (size_t)(sp1 + 1 - line.base));
    const char *sp2 = NULL;
    for (size_t i = rest.len; i > 0; i--)
        if (rest.base[i - 1] == ' ') {
            sp2 = rest.base + i - 1;
            break;
        }
    if (sp2 == NULL) {
        req->uri = rest;
        req->protocol = RS_STR("HTTP/1.0");
    } else {
        req->uri = rs_str(rest.base, (size_t)(sp2 - rest.base));
        req->protocol = rs_str(sp2 + 1, rest.len - (size_t)(sp2 + 1 - rest.base));
    }
    if (req->method.len == 0 || req->uri.len == 0)
        return fail(err, errsize, "malformed request line");
    if (req->protocol.len < 5 || memcmp(req->protocol.base, "HTTP/", 5) != 0)
        return fail(err, errsize, "request line does not end in HTTP/x.y");

    size_t cap = 16, n = 0;
    rs_header_t *hs = malloc(cap * sizeof(*hs));
    if (hs == NULL)
        return fail(err, errsize, "out of memory");
    int chunked = 0, have_len = 0, ended = 0;
    uint64_t clen = 0;
    while (pos < raw.len) {
        int had_nl = next_line(raw, pos, &line, &next);
        pos = next;
        if (line.len == 0) {
            ended = had_nl;
            break;
        }
        if (line.base[0] == ' ' || line.base[0] == '\t') {
            free(hs);
            return fail(err, errsize, "obsolete header line folding");
        }
        const char *colon = memchr(line.base, ':', line.len);
        if (colon == NULL || colon == line.base) {
            free(hs);
            return fail(err, errsize, "malformed header line");
        }
        if (n == cap) {
            cap *= 2;
            rs_header_t *nh = realloc(hs, cap * sizeof(*hs));
            if (nh == NULL) {
                free(hs);
                return fail(err, errsize, "out of memory");
            }
            hs = nh;
        }
        rs_str_t name = rs_str(line.base, (size_t)(colon - line.base));
        rs_str_t value = trim(rs_str(colon + 1, line.len - (size_t)(colon + 1 - line.base)));
        hs[n++] = (rs_header_t){name, value};
        if (rs_str_ieq(name, "content-length")) {
            if (parse_size(value, 0, &clen) != 0) {
                free(hs);
                return fail(err, errsize, "bad Content-Length");
            }
            have_len = 1;
        } else if (rs_str_ieq(name, "transfer-encoding") && value.len >= 7 &&
                   rs_str_ieq(rs_str(value.base + value.len - 7, 7), "chunked"))
            chunked = 1;
    }
    (void)ended;
    req->headers = hs;
    req->nheaders = n;

    rs_str_t body = rs_str(raw.base + pos, raw.len - pos);
    if (chunked) {
        rs_buf_reset(storage);
        size_t p = 0;
        for (;;) {
            if (p >= body.len) {
                rs_request_free_parsed(req);
                return fail(err, errsize, "chunked body ends early");
            }
            rs_str_t sizeline;
            next_line(body, p, &sizeline, &next);
            p = next;
            uint64_t sz;
            if (parse_size(sizeline, 1, &sz) != 0) {
                rs_request_free_parsed(req);
                return fail(err, errsize, "bad chunk size");
            }
            if (sz == 0)
                break;
            if (sz > body.len - p) {
                rs_request_free_parsed(req);
                return fail(err, errsize, "chunk longer than the data");
            }
            rs_buf_append(storage, body.base + p, (size_t)sz);
            p += (size_t)sz;
            if (p < body.len && body.base[p] == '\r')
                p++;
            if (p < body.len && body.base[p] == '\n')
                p++;
        }
        req->body = rs_str(storage->base ? storage->base : "", storage->len);
    } else if (have_len) {
        if (clen > body.len) {
            rs_request_free_parsed(req);
            return fail(err, errsize, "body shorter than Content-Length");
        }
        req->body = rs_str(body.base, (size_t)clen);
    } else
        req->body = body;
    req->body_full_length = req->body.len;
    req->remote_addr = RS_STR("127.0.0.1");
    req->remote_port = 40000;
    req->server_addr = RS_STR("127.0.0.1");
    req->server_port = 80;
    req->unique_id = RS_STR("raw-request");
    return 0;
}

void rs_request_free_parsed(rs_request_t *req)
{
    free((void *)req->headers);
    req->headers = NULL;
    req->nheaders = 0;
}
