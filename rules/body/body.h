/* SPDX-License-Identifier: MIT */
/* Request parsers that feed the rule engine's variables, as ModSecurity v3 parses them: query strings and
 * URL-encoded bodies, cookies, JSON, multipart/form-data and XML. Each parser walks its input once and
 * reports what it finds through a sink; strings handed to the sink are valid only during the call (the sink
 * copies what it keeps). No parser allocates except through the rs_buf_t scratch it is given. */
#ifndef RS_BODY_H
#define RS_BODY_H

#include "util/util.h"

/** Where parsed items go. kind says which variable they belong to. */
typedef enum {
    RS_ITEM_ARG,          /* an argument: name + value (ARGS_GET or ARGS_POST, decided by the caller) */
    RS_ITEM_FILE,         /* multipart file part: name = field name, value = file name (FILES, FILES_NAMES) */
    RS_ITEM_FILE_SIZE,    /* name = field name, value = decimal size (FILES_SIZES) */
    RS_ITEM_FILE_CONTENT, /* name = field name, value = content (FILES_TMP_CONTENT) */
    RS_ITEM_PART_HEADER,  /* name = field name, value = one header line of the part (MULTIPART_PART_HEADERS) */
    RS_ITEM_XML_TEXT,     /* name = element path, value = text node content (XML:/...) */
    RS_ITEM_XML_ATTR,     /* name = attribute name, value = attribute value (XML:/...@) */
} rs_item_kind_t;

typedef struct st_rs_body_sink_t {
    void (*item)(void *ctx, rs_item_kind_t kind, rs_str_t name, rs_str_t value);
    void *ctx;
} rs_body_sink_t;

/**
 * application/x-www-form-urlencoded and query strings. Splits on `separator` (normally '&'), then on the
 * first '='; decodes %XX and '+' in names and values as ModSecurity does (invalid %-sequences kept as-is).
 * Sets *invalid_encoding when a bad %-sequence was seen (may be NULL). Returns the number of arguments.
 */
size_t rs_parse_urlencoded(rs_str_t in, char separator, const rs_body_sink_t *sink, rs_buf_t *scratch, int *invalid_encoding);

/** A Cookie header value (version 0 cookies as ModSecurity v3 reads them): ';'-separated, leading spaces
 *  trimmed from names, no decoding. Returns the number of cookies. */
size_t rs_parse_cookies(rs_str_t header, const rs_body_sink_t *sink);

/** Result of a body processor that can fail. */
typedef struct st_rs_body_error_t {
    int error;         /* 1 when the body is malformed (REQBODY_ERROR / REQBODY_PROCESSOR_ERROR) */
    char message[160]; /* REQBODY_ERROR_MSG */
} rs_body_error_t;

/** application/json: nested keys joined with '.' under the prefix "json", arrays as ModSecurity v3 names
 *  them; scalars become RS_ITEM_ARG. max_depth bounds nesting (error beyond it). */
void rs_parse_json(rs_str_t body, unsigned max_depth, const rs_body_sink_t *sink, rs_buf_t *scratch, rs_body_error_t *err);

/** Multipart strictness flags, as the MULTIPART_* variables (each 0 or 1). */
typedef struct st_rs_multipart_flags_t {
    int strict_error, boundary_quoted, boundary_whitespace, data_before, data_after, header_folding, lf_line, missing_semicolon,
        invalid_quoting, invalid_part, invalid_header_folding, file_limit_exceeded, unmatched_boundary, crlf_lf_lines;
    char filename[256]; /* MULTIPART_FILENAME of the last file part (truncated) */
    char name[256];     /* MULTIPART_NAME of the last part (truncated) */
} rs_multipart_flags_t;

/** multipart/form-data. `content_type` is the whole header value (the boundary is taken from it). Fields
 *  become RS_ITEM_ARG; file parts RS_ITEM_FILE / _FILE_SIZE / _FILE_CONTENT; every part header line
 *  RS_ITEM_PART_HEADER. */
void rs_parse_multipart(rs_str_t body, rs_str_t content_type, const rs_body_sink_t *sink, rs_buf_t *scratch,
                        rs_multipart_flags_t *flags, rs_body_error_t *err);

/** text/xml, application/xml: checks well-formedness (no DTD processing, no external entities ever) and
 *  reports text nodes and attributes for XML:/ *. */
void rs_parse_xml(rs_str_t body, unsigned max_depth, const rs_body_sink_t *sink, rs_buf_t *scratch, rs_body_error_t *err);

#endif
