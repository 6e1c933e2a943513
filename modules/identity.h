/* SPDX-License-Identifier: MIT */
/* Client identity: who the client is when edgeproxy sits behind CloudFront (or another trusted proxy), and the
 * origin-verify shared secret. Pure functions over plain values, so they are unit-tested without sockets; the
 * module (identity.c) is the one place that fills ep_req_t.client_addr. */
#ifndef EP_IDENTITY_H
#define EP_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

typedef struct st_ep_cidr_t {
    uint8_t addr[16]; /* IPv4 as ::ffff:a.b.c.d */
    uint8_t prefix;   /* in bits, over the 128-bit form */
} ep_cidr_t;

typedef struct st_ep_identity_conf_t {
    ep_cidr_t *trusted;
    size_t ntrusted;
    char *verify_header; /* lower-case; NULL: origin verify off */
    char *secrets[2];
    size_t nsecrets;
} ep_identity_conf_t;

/** "10.0.0.0/8", "2600:9000::/28", or a bare address (host route). 0 or -1. */
int ep_cidr_parse(const char *s, size_t len, ep_cidr_t *out);
/** Parses an IP literal (no port, no brackets) into the 128-bit form. 0 or -1. */
int ep_ip_parse(const char *s, size_t len, uint8_t out[16]);
int ep_cidr_contains(const ep_cidr_t *list, size_t n, const uint8_t ip[16]);

/** Decides the client address. peer: the TCP peer (textual). cf_viewer / xff: header values or NULL.
 *  Only when the peer is trusted: CloudFront-Viewer-Address ("ip:port", "[v6]:port") first, else the LAST
 *  X-Forwarded-For hop; an unparsable header falls back to the peer. Writes the textual address (and port when
 *  known, else 0). Returns the source: "peer", "cloudfront", "xff". */
const char *ep_identity_resolve(const ep_identity_conf_t *conf, const char *peer, uint16_t peer_port, const char *cf_viewer,
                                size_t cf_len, const char *xff, size_t xff_len, char *out, size_t outsize, uint16_t *port);

/** Constant-time check of a presented origin-verify value against the configured secrets (1 = accepted). */
int ep_identity_verify_secret(const ep_identity_conf_t *conf, const char *value, size_t len);

#endif
