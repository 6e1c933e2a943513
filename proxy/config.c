/* SPDX-License-Identifier: MIT */
/* Reads the core's top-level config sections into ep_config_t (see conf/edgeproxy.yaml for every directive,
 * its default and unit). Every problem is reported with its position and parsing goes on, so one run of
 * `edgeproxy -t` lists all of them. Upstreams are resolved to long-lived registry objects here. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <openssl/ssl.h>

#include "upstream.h"

const char *const ep_config_core_keys[] = {
    "listen",     "threads",   "limits",   "timeouts",  "upstreams", "routes", "default_upstream",
    "request_id", "error_log", "shutdown", "state_dir", "admin",     NULL};

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (p == NULL)
        abort();
    return p;
}

int ep_split_hostport(const char *s, char *host, size_t hostsize, uint16_t *port)
{
    const char *colon, *h = s;
    size_t hl;
    if (*s == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL || end[1] != ':')
            return -1;
        h = s + 1;
        hl = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL || memchr(s, ':', (size_t)(colon - s)) != NULL)
            return -1;
        hl = (size_t)(colon - s);
    }
    if (hl == 0 || hl >= hostsize)
        return -1;
    for (size_t i = 0; i < hl; ++i)
        if (!(isalnum((unsigned char)h[i]) || h[i] == '.' || h[i] == '-' || h[i] == ':' || h[i] == '_'))
            return -1;
    const char *p = colon + 1;
    if (*p == '\0' || strlen(p) > 5)
        return -1;
    unsigned v = 0;
    for (; *p != '\0'; ++p) {
        if (!isdigit((unsigned char)*p))
            return -1;
        v = v * 10 + (unsigned)(*p - '0');
    }
    if (v == 0 || v > 65535)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (uint16_t)v;
    return 0;
}

static int parse_listener(ep_conf_ctx_t *c, const ep_node_t *n, ep_listen_conf_t *l, int check_files)
{
    static const char *const keys[] = {"address", "tls", "http2", NULL};
    static const char *const tls_keys[] = {"certificate", "key", NULL};
    int ret = 0;
    if (n->type == EP_NODE_SCALAR) {
        /* shorthand: "- 127.0.0.1:8080" */
        char host[256];
        if (ep_split_hostport(n->scalar, host, sizeof(host), &l->port) != 0)
            return ep_conf_error(c, n, "invalid listen address '%s' (expected host:port)", n->scalar);
        l->host = xstrdup(host);
        return 0;
    }
    if (ep_conf_check_map(c, n, "listen", keys) != 0)
        ret = -1;
    const char *addr;
    const ep_node_t *an = ep_node_get(n, "address");
    if (an == NULL)
        return ep_conf_error(c, n, "listener needs an 'address' (host:port)");
    if (ep_conf_str(c, n, "address", NULL, &addr) != 0)
        return -1;
    char host[256];
    if (ep_split_hostport(addr, host, sizeof(host), &l->port) != 0)
        return ep_conf_error(c, an, "invalid listen address '%s' (expected host:port)", addr);
    l->host = xstrdup(host);
    const ep_node_t *tls = ep_node_get(n, "tls");
    if (tls != NULL) {
        if (ep_conf_check_map(c, tls, "tls", tls_keys) != 0)
            return -1;
        if (ep_node_get(tls, "certificate") == NULL || ep_node_get(tls, "key") == NULL)
            return ep_conf_error(c, tls, "'tls' needs both 'certificate' and 'key'");
        if (ep_conf_path(c, tls, "certificate", NULL, &l->tls_cert) != 0 || ep_conf_path(c, tls, "key", NULL, &l->tls_key) != 0)
            return -1;
        if (check_files) {
            SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
            if (SSL_CTX_use_certificate_chain_file(ctx, l->tls_cert) != 1)
                ret = ep_conf_error(c, ep_node_get(tls, "certificate"), "cannot load certificate '%s'", l->tls_cert);
            else if (SSL_CTX_use_PrivateKey_file(ctx, l->tls_key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1)
                ret = ep_conf_error(c, ep_node_get(tls, "key"),
                                    "cannot load private key '%s' (or it does not match the certificate)", l->tls_key);
            SSL_CTX_free(ctx);
        }
    }
    if (ep_conf_bool(c, n, "http2", 0, &l->http2) != 0)
        ret = -1;
    if (l->http2 && tls == NULL)
        ret = ep_conf_error(c, ep_node_get(n, "http2"), "'http2' needs a TLS listener");
    return ret;
}

static int parse_upstream(ep_conf_ctx_t *c, const ep_node_t *key, const ep_node_t *n, ep_upstream_conf_t *u)
{
    static const char *const keys[] = {"servers", "max_connections", "health", "keepalive_timeout", NULL};
    static const char *const health_keys[] = {"fail_threshold", "skip", NULL};
    int ret = 0;
    u->name = xstrdup(key->scalar);
    if (ep_conf_check_map(c, n, key->scalar, keys) != 0)
        return -1;
    const ep_node_t *sv = ep_node_get(n, "servers");
    if (sv == NULL)
        return ep_conf_error(c, n, "upstream '%s' needs 'servers'", u->name);
    if (ep_conf_expect(c, sv, EP_NODE_SEQ, "servers") != 0)
        return -1;
    if (sv->count == 0)
        return ep_conf_error(c, sv, "upstream '%s' has no servers", u->name);
    u->servers = calloc(sv->count, sizeof(char *));
    for (size_t i = 0; i < sv->count; ++i) {
        const ep_node_t *s = sv->values[i];
        char host[256];
        uint16_t port;
        if (s->type != EP_NODE_SCALAR || ep_split_hostport(s->scalar, host, sizeof(host), &port) != 0) {
            ret = ep_conf_error(c, s, "invalid server '%s' (expected host:port)", s->type == EP_NODE_SCALAR ? s->scalar : "");
            continue;
        }
        u->servers[u->nservers++] = xstrdup(s->scalar);
    }
    int64_t v;
    if (ep_conf_int(c, n, "max_connections", 0, 0, 1000000, &v) != 0)
        ret = -1;
    u->max_conns = (uint32_t)v;
    const ep_node_t *h = ep_node_get(n, "health");
    if (ep_conf_check_map(c, h, "health", health_keys) != 0)
        ret = -1;
    if (ep_conf_int(c, h, "fail_threshold", 3, 1, 1000, &v) != 0)
        ret = -1;
    u->fail_threshold = (uint32_t)v;
    if (ep_conf_duration_ms(c, h, "skip", 10000, 0, 3600000, &u->fail_skip_ms) != 0)
        ret = -1;
    if (ep_conf_duration_ms(c, n, "keepalive_timeout", 2000, 0, 3600000, &u->keepalive_ms) != 0)
        ret = -1;
    if (ret == 0) {
        ep_upstream_params_t p = {u->max_conns, u->fail_threshold, u->fail_skip_ms, u->keepalive_ms};
        char err[300];
        if ((u->rt = ep_upstream_get(u->name, (const char *const *)u->servers, u->nservers, &p, err, sizeof(err))) == NULL)
            ret = ep_conf_error(c, sv, "%s", err);
    }
    return ret;
}

static ep_upstream_t *find_upstream(ep_config_t *conf, const char *name)
{
    for (size_t i = 0; i < conf->nupstreams; ++i)
        if (strcmp(conf->upstreams[i].name, name) == 0)
            return conf->upstreams[i].rt;
    return NULL;
}

static int upstream_declared(ep_config_t *conf, const char *name)
{
    for (size_t i = 0; i < conf->nupstreams; ++i)
        if (strcmp(conf->upstreams[i].name, name) == 0)
            return 1;
    return 0;
}

static int parse_route(ep_conf_ctx_t *c, ep_config_t *conf, const ep_node_t *n, ep_route_t *r)
{
    static const char *const keys[] = {"host", "path_prefix", "upstream", "strip_prefix", NULL};
    int ret = 0;
    if (ep_conf_check_map(c, n, "routes", keys) != 0)
        return -1;
    const char *host, *prefix, *up;
    if (ep_conf_str(c, n, "host", NULL, &host) != 0 || ep_conf_str(c, n, "path_prefix", "/", &prefix) != 0 ||
        ep_conf_str(c, n, "upstream", NULL, &up) != 0 || ep_conf_bool(c, n, "strip_prefix", 0, &r->strip_prefix) != 0)
        return -1;
    if (prefix[0] != '/')
        ret = ep_conf_error(c, ep_node_get(n, "path_prefix"), "'path_prefix' must start with '/'");
    if (up == NULL)
        return ep_conf_error(c, n, "route needs an 'upstream'");
    if (!upstream_declared(conf, up))
        return ep_conf_error(c, ep_node_get(n, "upstream"), "unknown upstream '%s'", up);
    r->host = host != NULL ? xstrdup(host) : NULL;
    r->path_prefix = xstrdup(prefix);
    r->path_prefix_len = strlen(prefix);
    r->upstream = find_upstream(conf, up);
    return ret;
}

static int load_tokens_file(ep_conf_ctx_t *c, ep_config_t *conf, const ep_node_t *at, const char *path)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return ep_conf_error(c, at, "cannot open tokens file '%s': %s", path, strerror(errno));
    char line[1024];
    unsigned lineno = 0;
    int ret = 0;
    while (fgets(line, sizeof(line), fp) != NULL) {
        ++lineno;
        char *p = line + strspn(line, " \t");
        p[strcspn(p, "\r\n")] = '\0';
        if (*p == '\0' || *p == '#')
            continue;
        char *name = strtok(p, " \t"), *tok = strtok(NULL, " \t");
        if (name == NULL || tok == NULL || strtok(NULL, " \t") != NULL || strlen(tok) < 16) {
            rs_errors_add(c->errs, path, lineno, 1, "expected 'NAME TOKEN' (token at least 16 characters)");
            ret = -1;
            continue;
        }
        conf->admin.tokens = realloc(conf->admin.tokens, (conf->admin.ntokens + 1) * sizeof(*conf->admin.tokens));
        conf->admin.tokens[conf->admin.ntokens++] = (ep_admin_token_t){xstrdup(name), xstrdup(tok)};
    }
    fclose(fp);
    return ret;
}

static int parse_admin(ep_conf_ctx_t *c, ep_config_t *conf, const ep_node_t *n)
{
    static const char *const keys[] = {"enabled", "listen", "tokens", "tokens_file", NULL};
    static const char *const token_keys[] = {"name", "token", NULL};
    int ret = 0;
    if (ep_conf_check_map(c, n, "admin", keys) != 0)
        return -1;
    const char *listen;
    if (ep_conf_bool(c, n, "enabled", 1, &conf->admin.enabled) != 0 || ep_conf_str(c, n, "listen", "127.0.0.1:9901", &listen) != 0)
        return -1;
    char host[256];
    if (ep_split_hostport(listen, host, sizeof(host), &conf->admin.port) != 0)
        return ep_conf_error(c, ep_node_get(n, "listen"), "invalid admin listen address '%s'", listen);
    conf->admin.host = xstrdup(host);
    const ep_node_t *toks = ep_node_get(n, "tokens");
    if (ep_conf_expect(c, toks, EP_NODE_SEQ, "tokens") != 0)
        return -1;
    for (size_t i = 0; toks != NULL && i < toks->count; ++i) {
        const ep_node_t *t = toks->values[i];
        const char *name, *tok;
        if (ep_conf_check_map(c, t, "tokens", token_keys) != 0 || ep_conf_str(c, t, "name", NULL, &name) != 0 ||
            ep_conf_str(c, t, "token", NULL, &tok) != 0) {
            ret = -1;
            continue;
        }
        if (name == NULL || tok == NULL) {
            ret = ep_conf_error(c, t, "a token needs 'name' and 'token'");
            continue;
        }
        if (strlen(tok) < 16) {
            ret = ep_conf_error(c, ep_node_get(t, "token"), "admin token '%s' is too short (at least 16 characters)", name);
            continue;
        }
        conf->admin.tokens = realloc(conf->admin.tokens, (conf->admin.ntokens + 1) * sizeof(*conf->admin.tokens));
        conf->admin.tokens[conf->admin.ntokens++] = (ep_admin_token_t){xstrdup(name), xstrdup(tok)};
    }
    char *file = NULL;
    if (ep_conf_path(c, n, "tokens_file", NULL, &file) != 0)
        return -1;
    if (file != NULL) {
        if (load_tokens_file(c, conf, ep_node_get(n, "tokens_file"), file) != 0)
            ret = -1;
        free(file);
    }
    return ret;
}

static int check_keys(ep_conf_ctx_t *c, const ep_node_t *n, const char *what, const char *const *keys)
{
    return ep_conf_check_map(c, n, what, keys);
}

/* A list entry that failed to parse is not counted, so ep_config_free would not see it: free it here. */
static void free_listener(ep_listen_conf_t *l)
{
    free(l->host);
    free(l->tls_cert);
    free(l->tls_key);
    memset(l, 0, sizeof(*l));
}

static void free_upstream(ep_upstream_conf_t *u)
{
    for (size_t j = 0; j < u->nservers; ++j)
        free(u->servers[j]);
    free(u->servers);
    free(u->name);
    memset(u, 0, sizeof(*u));
}

static void free_route(ep_route_t *r)
{
    free(r->host);
    free(r->path_prefix);
    memset(r, 0, sizeof(*r));
}

ep_config_t *ep_config_parse(ep_conf_ctx_t *c, const ep_node_t *root, const char *file)
{
    ep_config_t *conf = calloc(1, sizeof(*conf));
    if (conf == NULL)
        abort();
    size_t errs_before = c->errs->count;
    conf->file = xstrdup(file != NULL ? file : "<config>");
    conf->base_dir = xstrdup(c->base_dir != NULL ? c->base_dir : ".");

    /* listen */
    const ep_node_t *ln = ep_node_get(root, "listen");
    if (ln != NULL && ln->type == EP_NODE_SCALAR) {
        conf->listen = calloc(1, sizeof(*conf->listen));
        conf->nlisten = parse_listener(c, ln, conf->listen, 1) == 0;
        if (conf->nlisten == 0)
            free_listener(conf->listen);
    } else if (ln != NULL && ep_conf_expect(c, ln, EP_NODE_SEQ, "listen") == 0) {
        conf->listen = calloc(ln->count + 1, sizeof(*conf->listen));
        for (size_t i = 0; i < ln->count; ++i)
            if (parse_listener(c, ln->values[i], &conf->listen[conf->nlisten], 1) == 0)
                ++conf->nlisten;
            else
                free_listener(&conf->listen[conf->nlisten]);
    }
    if (ln == NULL) {
        conf->listen = calloc(1, sizeof(*conf->listen));
        conf->listen[0].host = xstrdup("127.0.0.1");
        conf->listen[0].port = 8080;
        conf->nlisten = 1;
    }

    int64_t v;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    ep_conf_int(c, root, "threads", 0, 0, 256, &v);
    conf->threads = v != 0 ? (unsigned)v : (unsigned)(ncpu > 0 ? ncpu : 1);

    static const char *const limit_keys[] = {"max_header_size", "max_header_count", "max_body_size", NULL};
    const ep_node_t *lim = ep_node_get(root, "limits");
    check_keys(c, lim, "limits", limit_keys);
    /* the header limits are enforced by the handler; libh2o itself stops at 100 headers (400) and ~400 KiB */
    ep_conf_size(c, lim, "max_header_size", 16384, 256, 400 * 1024, &conf->limits.max_header_size);
    ep_conf_int(c, lim, "max_header_count", 100, 1, 100, &v);
    conf->limits.max_header_count = (uint32_t)v;
    ep_conf_size(c, lim, "max_body_size", 1024 * 1024, 0, (uint64_t)1 << 30, &conf->limits.max_body_size);

    static const char *const timeout_keys[] = {
        "client_header", "client_idle", "client_keepalive", "upstream_connect", "upstream_first_byte", "upstream_idle", NULL};
    const ep_node_t *to = ep_node_get(root, "timeouts");
    check_keys(c, to, "timeouts", timeout_keys);
    const uint64_t max_to = 3600000;
    ep_conf_duration_ms(c, to, "client_header", 10000, 100, max_to, &conf->timeouts.client_header_ms);
    ep_conf_duration_ms(c, to, "client_idle", 60000, 100, max_to, &conf->timeouts.client_idle_ms);
    ep_conf_duration_ms(c, to, "client_keepalive", 10000, 100, max_to, &conf->timeouts.client_keepalive_ms);
    ep_conf_duration_ms(c, to, "upstream_connect", 5000, 100, max_to, &conf->timeouts.upstream_connect_ms);
    ep_conf_duration_ms(c, to, "upstream_first_byte", 30000, 100, max_to, &conf->timeouts.upstream_first_byte_ms);
    ep_conf_duration_ms(c, to, "upstream_idle", 30000, 100, max_to, &conf->timeouts.upstream_idle_ms);

    const ep_node_t *ups = ep_node_get(root, "upstreams");
    if (ups != NULL && ep_conf_expect(c, ups, EP_NODE_MAP, "upstreams") == 0) {
        conf->upstreams = calloc(ups->count + 1, sizeof(*conf->upstreams));
        for (size_t i = 0; i < ups->count; ++i)
            if (parse_upstream(c, ups->keys[i], ups->values[i], &conf->upstreams[conf->nupstreams]) == 0)
                ++conf->nupstreams;
            else
                free_upstream(&conf->upstreams[conf->nupstreams]);
    }
    const ep_node_t *routes = ep_node_get(root, "routes");
    if (routes != NULL && ep_conf_expect(c, routes, EP_NODE_SEQ, "routes") == 0) {
        conf->routes = calloc(routes->count + 1, sizeof(*conf->routes));
        for (size_t i = 0; i < routes->count; ++i)
            if (parse_route(c, conf, routes->values[i], &conf->routes[conf->nroutes]) == 0)
                ++conf->nroutes;
            else
                free_route(&conf->routes[conf->nroutes]);
    }
    const char *defup;
    if (ep_conf_str(c, root, "default_upstream", NULL, &defup) == 0 && defup != NULL) {
        if (!upstream_declared(conf, defup))
            ep_conf_error(c, ep_node_get(root, "default_upstream"), "unknown upstream '%s'", defup);
        conf->default_upstream = find_upstream(conf, defup);
    }

    static const char *const rid_keys[] = {"header", "trust_incoming", NULL};
    const ep_node_t *rid = ep_node_get(root, "request_id");
    check_keys(c, rid, "request_id", rid_keys);
    const char *hdr;
    ep_conf_str(c, rid, "header", "X-Request-Id", &hdr);
    conf->request_id.header = xstrdup(hdr);
    for (char *p = conf->request_id.header; *p != '\0'; ++p)
        *p = (char)tolower((unsigned char)*p);
    if (conf->request_id.header[0] == '\0' ||
        strspn(conf->request_id.header, "abcdefghijklmnopqrstuvwxyz0123456789-_") != strlen(conf->request_id.header))
        ep_conf_error(c, ep_node_get(rid, "header"), "'header' must be a header name");
    ep_conf_bool(c, rid, "trust_incoming", 0, &conf->request_id.trust_incoming);

    ep_conf_path(c, root, "error_log", NULL, &conf->error_log);
    static const char *const sd_keys[] = {"deadline", NULL};
    const ep_node_t *sd = ep_node_get(root, "shutdown");
    check_keys(c, sd, "shutdown", sd_keys);
    ep_conf_duration_ms(c, sd, "deadline", 30000, 0, 3600000, &conf->shutdown_deadline_ms);
    ep_conf_path(c, root, "state_dir", NULL, &conf->state_dir);

    const ep_node_t *admin = ep_node_get(root, "admin");
    if (admin != NULL) {
        parse_admin(c, conf, admin);
    } else {
        conf->admin.enabled = 1;
        conf->admin.host = xstrdup("127.0.0.1");
        conf->admin.port = 9901;
    }

    if (c->errs->count != errs_before) {
        ep_config_free(conf);
        return NULL;
    }
    return conf;
}

void ep_config_free(ep_config_t *conf)
{
    if (conf == NULL)
        return;
    for (size_t i = 0; i < conf->nlisten; ++i) {
        free(conf->listen[i].host);
        free(conf->listen[i].tls_cert);
        free(conf->listen[i].tls_key);
    }
    free(conf->listen);
    for (size_t i = 0; i < conf->nupstreams; ++i) {
        for (size_t j = 0; j < conf->upstreams[i].nservers; ++j)
            free(conf->upstreams[i].servers[j]);
        free(conf->upstreams[i].servers);
        free(conf->upstreams[i].name);
    }
    free(conf->upstreams);
    for (size_t i = 0; i < conf->nroutes; ++i) {
        free(conf->routes[i].host);
        free(conf->routes[i].path_prefix);
    }
    free(conf->routes);
    free(conf->request_id.header);
    free(conf->error_log);
    free(conf->state_dir);
    free(conf->admin.host);
    for (size_t i = 0; i < conf->admin.ntokens; ++i) {
        free(conf->admin.tokens[i].name);
        free(conf->admin.tokens[i].token);
    }
    free(conf->admin.tokens);
    free(conf->file);
    free(conf->base_dir);
    free(conf);
}

static int host_matches(const char *pattern, const char *host, size_t hostlen)
{
    if (pattern == NULL)
        return 1;
    if (pattern[0] == '*' && pattern[1] == '.') {
        size_t sl = strlen(pattern + 1); /* ".suffix" */
        return hostlen > sl && strncasecmp(host + hostlen - sl, pattern + 1, sl) == 0;
    }
    return strlen(pattern) == hostlen && strncasecmp(pattern, host, hostlen) == 0;
}

const ep_route_t *ep_config_route(const ep_config_t *conf, const char *host, size_t hostlen, const char *path, size_t pathlen)
{
    /* first match in file order: the operator lists specific routes first */
    for (size_t i = 0; i < conf->nroutes; ++i) {
        const ep_route_t *r = &conf->routes[i];
        if (!host_matches(r->host, host, hostlen))
            continue;
        if (pathlen < r->path_prefix_len || memcmp(path, r->path_prefix, r->path_prefix_len) != 0)
            continue;
        return r;
    }
    return NULL;
}
