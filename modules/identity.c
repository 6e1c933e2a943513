/* SPDX-License-Identifier: MIT */
/* The client_identity module: the client address (TCP peer, or what a trusted proxy says) and the optional
 * origin-verify secret header. First in the pipeline, so every later module reads ep_req_t.client_addr. */
#include "identity.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "module.h"

/* ------------------------------------------------------------ pure helpers */

int ep_ip_parse(const char *s, size_t len, uint8_t out[16])
{
    char buf[INET6_ADDRSTRLEN + 1];
    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    struct in_addr v4;
    if (inet_pton(AF_INET, buf, &v4) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &v4, 4);
        return 0;
    }
    struct in6_addr v6;
    if (inet_pton(AF_INET6, buf, &v6) == 1) {
        memcpy(out, &v6, 16);
        return 0;
    }
    return -1;
}

int ep_cidr_parse(const char *s, size_t len, ep_cidr_t *out)
{
    const char *slash = memchr(s, '/', len);
    size_t alen = slash != NULL ? (size_t)(slash - s) : len;
    if (ep_ip_parse(s, alen, out->addr) != 0)
        return -1;
    int is_v4 = memchr(s, ':', alen) == NULL;
    unsigned max = is_v4 ? 32 : 128, bits = max;
    if (slash != NULL) {
        const char *p = slash + 1, *end = s + len;
        if (p == end || end - p > 3)
            return -1;
        bits = 0;
        for (; p < end; ++p) {
            if (*p < '0' || *p > '9')
                return -1;
            bits = bits * 10 + (unsigned)(*p - '0');
        }
        if (bits > max)
            return -1;
    }
    out->prefix = (uint8_t)(is_v4 ? bits + 96 : bits);
    /* clear host bits so contains() can compare masked bytes directly */
    for (unsigned i = out->prefix; i < 128; ++i)
        out->addr[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
    return 0;
}

int ep_cidr_contains(const ep_cidr_t *list, size_t n, const uint8_t ip[16])
{
    for (size_t k = 0; k < n; ++k) {
        const ep_cidr_t *c = &list[k];
        unsigned full = c->prefix / 8, rest = c->prefix % 8;
        if (memcmp(c->addr, ip, full) != 0)
            continue;
        if (rest != 0 && ((ip[full] & (uint8_t)(0xff00u >> rest)) != c->addr[full]))
            continue;
        return 1;
    }
    return 0;
}

static void trim(const char **s, size_t *len)
{
    while (*len != 0 && (**s == ' ' || **s == '\t'))
        ++*s, --*len;
    while (*len != 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
        --*len;
}

/* "ip:port", "[v6]:port", or a bare address; normalises to the textual form of the parsed address */
static int parse_addr_port(const char *s, size_t len, int allow_bare, char *out, size_t outsize, uint16_t *port)
{
    const char *host = s;
    size_t hl = len;
    const char *portp = NULL;
    trim(&host, &hl);
    s = host;
    len = hl;
    if (len != 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (close == NULL)
            return -1;
        host = s + 1;
        hl = (size_t)(close - host);
        if (close + 1 < s + len) {
            if (close[1] != ':')
                return -1;
            portp = close + 2;
        }
    } else {
        const char *first = memchr(s, ':', len), *last = first;
        for (const char *q = first; q != NULL; q = memchr(q + 1, ':', (size_t)(s + len - q - 1)))
            last = q;
        if (first != NULL && first == last) { /* exactly one colon: IPv4 with port */
            hl = (size_t)(first - s);
            portp = first + 1;
        }
    }
    if (portp == NULL && !allow_bare)
        return -1;
    unsigned pv = 0;
    if (portp != NULL) {
        const char *end = s + len;
        if (portp == end || end - portp > 5)
            return -1;
        for (const char *q = portp; q < end; ++q) {
            if (*q < '0' || *q > '9')
                return -1;
            pv = pv * 10 + (unsigned)(*q - '0');
        }
        if (pv > 65535)
            return -1;
    }
    uint8_t ip[16];
    if (ep_ip_parse(host, hl, ip) != 0)
        return -1;
    if (memcmp(ip, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
        inet_ntop(AF_INET, ip + 12, out, (socklen_t)outsize);
    else
        inet_ntop(AF_INET6, ip, out, (socklen_t)outsize);
    *port = (uint16_t)pv;
    return 0;
}

const char *ep_identity_resolve(const ep_identity_conf_t *conf, const char *peer, uint16_t peer_port, const char *cf_viewer,
                                size_t cf_len, const char *xff, size_t xff_len, char *out, size_t outsize, uint16_t *port)
{
    snprintf(out, outsize, "%s", peer);
    *port = peer_port;
    uint8_t ip[16];
    if (conf == NULL || conf->ntrusted == 0 || ep_ip_parse(peer, strlen(peer), ip) != 0 ||
        !ep_cidr_contains(conf->trusted, conf->ntrusted, ip))
        return "peer";
    char tmp[64];
    uint16_t p;
    if (cf_viewer != NULL && parse_addr_port(cf_viewer, cf_len, 0, tmp, sizeof(tmp), &p) == 0) {
        snprintf(out, outsize, "%s", tmp);
        *port = p;
        return "cloudfront";
    }
    if (xff != NULL && xff_len != 0) {
        /* the last hop is the one the trusted proxy appended; anything before it is client-controlled */
        const char *comma = NULL;
        for (size_t i = xff_len; i > 0; --i)
            if (xff[i - 1] == ',') {
                comma = xff + i - 1;
                break;
            }
        const char *hop = comma != NULL ? comma + 1 : xff;
        if (parse_addr_port(hop, (size_t)(xff + xff_len - hop), 1, tmp, sizeof(tmp), &p) == 0) {
            snprintf(out, outsize, "%s", tmp);
            *port = 0;
            return "xff";
        }
    }
    return "peer";
}

int ep_identity_verify_secret(const ep_identity_conf_t *conf, const char *value, size_t len)
{
    int ok = 0;
    /* every secret is compared, in full, whatever the outcome: timing tells nothing about which matched */
    for (size_t i = 0; i < conf->nsecrets; ++i) {
        size_t sl = strlen(conf->secrets[i]);
        uint8_t buf[256] = {0};
        size_t n = len < sizeof(buf) ? len : sizeof(buf);
        memcpy(buf, value, n);
        int same = CRYPTO_memcmp(buf, conf->secrets[i], sl < sizeof(buf) ? sl : sizeof(buf)) == 0;
        ok |= same & (len == sl);
    }
    return ok;
}

/* ------------------------------------------------------------ module */

static int load_cidr_file(ep_conf_ctx_t *c, const ep_node_t *at, const char *path, ep_identity_conf_t *conf)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return ep_conf_error(c, at, "cannot open trusted proxies file '%s': %s", path, strerror(errno));
    char line[256];
    unsigned lineno = 0;
    int ret = 0;
    while (fgets(line, sizeof(line), fp) != NULL) {
        ++lineno;
        char *p = line + strspn(line, " \t");
        char *hash = strchr(p, '#');
        if (hash != NULL)
            *hash = '\0';
        size_t len = strcspn(p, " \t\r\n");
        if (len == 0)
            continue;
        ep_cidr_t cidr;
        if (ep_cidr_parse(p, len, &cidr) != 0) {
            rs_errors_add(c->errs, path, lineno, (unsigned)(p - line) + 1, "invalid CIDR '%.*s'", (int)len, p);
            ret = -1;
            continue;
        }
        conf->trusted = realloc(conf->trusted, (conf->ntrusted + 1) * sizeof(*conf->trusted));
        conf->trusted[conf->ntrusted++] = cidr;
    }
    fclose(fp);
    return ret;
}

static void identity_conf_free(void *p)
{
    ep_identity_conf_t *conf = p;
    if (conf == NULL)
        return;
    free(conf->trusted);
    free(conf->verify_header);
    for (size_t i = 0; i < conf->nsecrets; ++i)
        free(conf->secrets[i]);
    free(conf);
}

static int identity_on_config(ep_conf_ctx_t *c, const ep_node_t *node, void *gstate, void **out)
{
    static const char *const keys[] = {"trusted_proxies", "trusted_proxies_file", "origin_verify", NULL};
    static const char *const ov_keys[] = {"header", "secrets", NULL};
    ep_identity_conf_t *conf = calloc(1, sizeof(*conf));
    int ret = 0;
    *out = conf;
    if (ep_conf_check_map(c, node, "client_identity", keys) != 0)
        return -1;
    const ep_node_t *tp = ep_node_get(node, "trusted_proxies");
    if (ep_conf_expect(c, tp, EP_NODE_SEQ, "trusted_proxies") != 0)
        ret = -1;
    else if (tp != NULL) {
        conf->trusted = calloc(tp->count + 1, sizeof(*conf->trusted));
        for (size_t i = 0; i < tp->count; ++i) {
            const ep_node_t *v = tp->values[i];
            if (v->type != EP_NODE_SCALAR || ep_cidr_parse(v->scalar, v->scalar_len, &conf->trusted[conf->ntrusted]) != 0) {
                ret = ep_conf_error(c, v, "invalid CIDR '%s'", v->type == EP_NODE_SCALAR ? v->scalar : "");
                continue;
            }
            ++conf->ntrusted;
        }
    }
    char *file = NULL;
    if (ep_conf_path(c, node, "trusted_proxies_file", NULL, &file) != 0)
        ret = -1;
    if (file != NULL) {
        if (load_cidr_file(c, ep_node_get(node, "trusted_proxies_file"), file, conf) != 0)
            ret = -1;
        free(file);
    }
    const ep_node_t *ov = ep_node_get(node, "origin_verify");
    if (ov != NULL) {
        const char *hdr;
        if (ep_conf_check_map(c, ov, "origin_verify", ov_keys) != 0 || ep_conf_str(c, ov, "header", NULL, &hdr) != 0)
            return -1;
        if (hdr == NULL)
            return ep_conf_error(c, ov, "'origin_verify' needs a 'header'");
        conf->verify_header = strdup(hdr);
        for (char *p = conf->verify_header; *p != '\0'; ++p)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        const ep_node_t *secrets = ep_node_get(ov, "secrets");
        if (secrets == NULL)
            return ep_conf_error(c, ov, "'origin_verify' needs 'secrets' (one or two)");
        if (ep_conf_expect(c, secrets, EP_NODE_SEQ, "secrets") != 0)
            return -1;
        if (secrets->count < 1 || secrets->count > 2)
            return ep_conf_error(c, secrets, "'secrets' takes one or two values (two while rotating)");
        for (size_t i = 0; i < secrets->count; ++i) {
            const ep_node_t *v = secrets->values[i];
            if (v->type != EP_NODE_SCALAR || v->scalar_len < 16 || v->scalar_len > 255) {
                ret = ep_conf_error(c, v, "an origin-verify secret must be 16 to 255 characters");
                continue;
            }
            conf->secrets[conf->nsecrets++] = strdup(v->scalar);
        }
    }
    return ret;
}

static ep_status_t identity_on_req(const void *_conf, void *gstate, void *tstate, ep_req_t *r)
{
    const ep_identity_conf_t *conf = _conf;
    h2o_req_t *req = r->h2o;
    struct sockaddr_storage ss;
    char peer[64] = "";
    uint16_t peer_port = 0;
    socklen_t sl = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    if (sl != 0) {
        size_t n = h2o_socket_getnumerichost((struct sockaddr *)&ss, sl, peer);
        peer[n != SIZE_MAX ? n : 0] = '\0';
        int32_t p = h2o_socket_getport((struct sockaddr *)&ss);
        peer_port = p > 0 ? (uint16_t)p : 0;
    }
    const char *cf = NULL, *xff = NULL;
    size_t cf_len = 0, xff_len = 0;
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("cloudfront-viewer-address"), -1);
    if (i >= 0)
        cf = req->headers.entries[i].value.base, cf_len = req->headers.entries[i].value.len;
    /* several X-Forwarded-For lines: the last line holds the last hop */
    for (i = -1; (i = h2o_find_header(&req->headers, H2O_TOKEN_X_FORWARDED_FOR, i)) >= 0;)
        xff = req->headers.entries[i].value.base, xff_len = req->headers.entries[i].value.len;
    ep_identity_resolve(conf, peer, peer_port, cf, cf_len, xff, xff_len, r->client_addr, sizeof(r->client_addr), &r->client_port);

    if (conf != NULL && conf->verify_header != NULL) {
        ssize_t vi = h2o_find_header_by_str(&req->headers, conf->verify_header, strlen(conf->verify_header), -1);
        if (vi < 0 || !ep_identity_verify_secret(conf, req->headers.entries[vi].value.base, req->headers.entries[vi].value.len)) {
            h2o_req_log_error(req, "client_identity", "origin verify failed (%s header) from %s", vi < 0 ? "missing" : "wrong",
                              r->client_addr);
            h2o_send_error_403(req, "Forbidden", "forbidden\n", 0);
            return EP_DONE;
        }
    }
    return EP_NEXT;
}

const ep_module_t ep_module_identity = {
    .name = "client_identity",
    .on_config = identity_on_config,
    .conf_free = identity_conf_free,
    .on_req = identity_on_req,
};
