/* SPDX-License-Identifier: MIT */
/* `edgeproxy ctl`: the ops tool over the admin API. A small blocking HTTP/1.1 client (one request per
 * connection, Connection: close) that calls the admin listener with a bearer token and prints the answer in
 * readable form; the exit status is 0 on success, 1 when the call failed and 2 on a usage error. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include "jwt_json.h"
#include "split.h"
#include "util/util.h"

#define DEFAULT_ADMIN "http://127.0.0.1:9901"
#define IO_TIMEOUT_S  30
#define RESPONSE_MAX  (16u << 20)

int ep_ctl_main(int argc, char **argv);

static void usage(FILE *out)
{
    fprintf(out, "usage: edgeproxy ctl [--admin URL] [--token TOKEN] [--json] COMMAND\n"
                 "\n"
                 "  canary list                               services, weights and schedules\n"
                 "  canary show SERVICE                       one service with its live figures\n"
                 "  canary set SERVICE PERCENT --reason TEXT  set the canary weight (0 to 100, steps of 0.01)\n"
                 "  canary rollback SERVICE [--reason TEXT]   weight 0 now\n"
                 "  canary promote SERVICE [--reason TEXT]    weight 100 now\n"
                 "  tenant where ID                           where a tenant's requests go, and why\n"
                 "  reload                                    reload config, rules and maps\n"
                 "\n"
                 "  --admin URL    admin listener (default $EDGEPROXY_ADMIN or " DEFAULT_ADMIN ")\n"
                 "  --token TOKEN  bearer token (default $EDGEPROXY_ADMIN_TOKEN)\n"
                 "  --json         print the API's JSON answer as is\n"
                 "exit status: 0 success, 1 the call failed, 2 usage error\n");
}

typedef struct {
    int status;
    rs_buf_t body;
    char error[512]; /* transport problem, when status == 0 */
} http_resp_t;

static int parse_admin_url(const char *url, char *host, size_t hostsize, char *port, size_t portsize)
{
    const char *p = url;
    if (strncmp(p, "http://", 7) == 0)
        p += 7;
    else if (strstr(p, "://") != NULL)
        return -1; /* https is not offered by the admin listener */
    const char *end = p + strcspn(p, "/");
    const char *colon;
    if (*p == '[') {
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (close == NULL)
            return -1;
        snprintf(host, hostsize, "%.*s", (int)(close - p - 1), p + 1);
        colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        snprintf(host, hostsize, "%.*s", (int)((colon != NULL ? colon : end) - p), p);
    }
    if (colon != NULL)
        snprintf(port, portsize, "%.*s", (int)(end - colon - 1), colon + 1);
    else
        snprintf(port, portsize, "80");
    return host[0] != '\0' && port[0] != '\0' ? 0 : -1;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Decodes a chunked body in place; -1 when malformed. */
static int dechunk(rs_buf_t *b, size_t start)
{
    size_t in = start, out = start;
    for (;;) {
        char *eol = memmem(b->base + in, b->len - in, "\r\n", 2);
        if (eol == NULL)
            return -1;
        char *endp;
        unsigned long n = strtoul(b->base + in, &endp, 16);
        if (endp == b->base + in)
            return -1;
        in = (size_t)(eol - b->base) + 2;
        if (n == 0)
            break;
        if (n > b->len - in)
            return -1;
        memmove(b->base + out, b->base + in, n);
        out += n;
        in += n + 2;
        if (in > b->len)
            return -1;
    }
    b->len = out;
    return 0;
}

static void http_call(const char *admin, const char *token, const char *method, const char *path, const char *body,
                      http_resp_t *resp)
{
    char host[256], port[16];
    memset(resp, 0, sizeof(*resp));
    if (parse_admin_url(admin, host, sizeof(host), port, sizeof(port)) != 0) {
        snprintf(resp->error, sizeof(resp->error), "invalid admin URL '%.200s' (expected http://HOST:PORT)", admin);
        return;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        snprintf(resp->error, sizeof(resp->error), "cannot resolve %.100s: %s", host, gai_strerror(gai));
        return;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        struct timeval tv = {IO_TIMEOUT_S, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            snprintf(resp->error, sizeof(resp->error), "cannot connect to %.200s: %s", admin, strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        return;
    rs_buf_t req = {0};
    size_t blen = body != NULL ? strlen(body) : 0;
    rs_buf_printf(&req, "%s %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: edgeproxy-ctl\r\nConnection: close\r\n", method, path, host,
                  port);
    if (token != NULL)
        rs_buf_printf(&req, "Authorization: Bearer %s\r\n", token);
    if (body != NULL || strcmp(method, "GET") != 0)
        rs_buf_printf(&req, "Content-Type: application/json\r\nContent-Length: %zu\r\n", blen);
    rs_buf_printf(&req, "\r\n");
    if (blen > 0)
        rs_buf_append(&req, body, blen);
    int ok = send_all(fd, req.base, req.len) == 0;
    rs_buf_free(&req);
    rs_buf_t in = {0};
    while (ok && in.len < RESPONSE_MAX) {
        rs_buf_reserve(&in, 8192);
        ssize_t n = recv(fd, in.base + in.len, 8192, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(resp->error, sizeof(resp->error), "reading from %.200s: %s", admin, strerror(errno));
            ok = 0;
            break;
        }
        if (n == 0)
            break;
        in.len += (size_t)n;
    }
    close(fd);
    if (!ok) {
        if (resp->error[0] == '\0')
            snprintf(resp->error, sizeof(resp->error), "sending to %.200s failed", admin);
        rs_buf_free(&in);
        return;
    }
    rs_buf_putc(&in, '\0');
    in.len--;
    char *hdr_end = in.base != NULL ? strstr(in.base, "\r\n\r\n") : NULL;
    int status = 0;
    if (hdr_end == NULL || sscanf(in.base, "HTTP/1.%*d %d", &status) != 1) {
        snprintf(resp->error, sizeof(resp->error), "not an HTTP answer from %.200s", admin);
        rs_buf_free(&in);
        return;
    }
    size_t body_at = (size_t)(hdr_end - in.base) + 4;
    *hdr_end = '\0';
    int chunked = strcasestr(in.base, "\r\ntransfer-encoding: chunked") != NULL;
    if (chunked && dechunk(&in, body_at) != 0) {
        snprintf(resp->error, sizeof(resp->error), "malformed chunked answer from %.200s", admin);
        rs_buf_free(&in);
        return;
    }
    resp->status = status;
    rs_buf_append(&resp->body, in.base + body_at, in.len - body_at);
    rs_buf_putc(&resp->body, '\0');
    resp->body.len--;
    rs_buf_free(&in);
}

static const ep_json_t *parse_body(http_resp_t *r, ep_json_doc_t **doc)
{
    *doc = r->body.len > 0 ? ep_json_parse(r->body.base, r->body.len, 32, NULL, 0) : NULL;
    return *doc != NULL ? ep_json_root(*doc) : NULL;
}

static double num(const ep_json_t *obj, const char *key, double def)
{
    const ep_json_t *v = ep_json_get(obj, key);
    return v != NULL && v->type == EP_JSON_NUMBER ? v->number : def;
}

static const char *str(const ep_json_t *obj, const char *key, const char *def)
{
    const char *s = ep_json_get_str(obj, key);
    return s != NULL ? s : def;
}

/* An error answer: prints the API's message. Returns 1 (the exit status). */
static int report_failure(const char *what, http_resp_t *r)
{
    if (r->status == 0) {
        fprintf(stderr, "edgeproxy ctl: %s: %s\n", what, r->error);
        return 1;
    }
    ep_json_doc_t *doc;
    const ep_json_t *root = parse_body(r, &doc);
    const char *msg = str(root, "error", NULL);
    if (r->status == 401)
        fprintf(stderr, "edgeproxy ctl: %s: unauthorized (401): check --token or EDGEPROXY_ADMIN_TOKEN\n", what);
    else if (msg != NULL)
        fprintf(stderr, "edgeproxy ctl: %s: %s (%d)\n", what, msg, r->status);
    else
        fprintf(stderr, "edgeproxy ctl: %s: HTTP %d %.*s\n", what, r->status, (int)(r->body.len > 300 ? 300 : r->body.len),
                r->body.base != NULL ? r->body.base : "");
    ep_json_free(doc);
    return 1;
}

static void print_weight(double w)
{
    printf("%g%%", w);
}

static void print_service_line(const ep_json_t *s)
{
    const ep_json_t *sched = ep_json_get(s, "schedule");
    printf("%-20s ", str(s, "service", "?"));
    char w[32], cw[32];
    snprintf(w, sizeof(w), "%g%%", num(s, "weight", 0));
    snprintf(cw, sizeof(cw), "%g%%", num(s, "configured_weight", 0));
    printf("%-8s %-10s %-16s %-16s %-9s %s\n", w, cw, str(s, "stable", "?"), str(s, "canary", "?"), str(sched, "state", "none"),
           str(s, "last_reason", ""));
}

static int cmd_canary(const char *admin, const char *token, int raw, int argc, char **argv)
{
    if (argc < 1) {
        usage(stderr);
        return 2;
    }
    const char *sub = argv[0];
    const char *reason = NULL;
    const char *pos[3] = {NULL, NULL, NULL};
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc)
            reason = argv[++i];
        else if (strncmp(argv[i], "--reason=", 9) == 0)
            reason = argv[i] + 9;
        else if (npos < 3)
            pos[npos++] = argv[i];
        else {
            fprintf(stderr, "edgeproxy ctl: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    http_resp_t r;
    char path[512];
    int rc = 0;
    if (strcmp(sub, "list") == 0 && npos == 0) {
        http_call(admin, token, "GET", "/canary", NULL, &r);
        if (r.status != 200) {
            rc = report_failure("canary list", &r);
        } else if (raw) {
            fputs(r.body.base, stdout);
        } else {
            ep_json_doc_t *doc;
            const ep_json_t *svcs = ep_json_get(parse_body(&r, &doc), "services");
            printf("%-20s %-8s %-10s %-16s %-16s %-9s %s\n", "SERVICE", "WEIGHT", "CONFIGURED", "STABLE", "CANARY", "SCHEDULE",
                   "LAST CHANGE");
            for (size_t i = 0; svcs != NULL && svcs->type == EP_JSON_ARRAY && i < svcs->count; i++)
                print_service_line(svcs->items[i]);
            if (svcs == NULL || svcs->count == 0)
                printf("(no canary services)\n");
            ep_json_free(doc);
        }
    } else if (strcmp(sub, "show") == 0 && npos == 1) {
        snprintf(path, sizeof(path), "/canary/%s", pos[0]);
        http_call(admin, token, "GET", path, NULL, &r);
        if (r.status != 200)
            rc = report_failure("canary show", &r);
        else
            fputs(r.body.base, stdout);
    } else if (strcmp(sub, "set") == 0 && npos == 2) {
        char pct[32];
        snprintf(pct, sizeof(pct), "%s", pos[1]);
        size_t pl = strlen(pct);
        if (pl > 0 && pct[pl - 1] == '%')
            pct[--pl] = '\0';
        uint32_t bp;
        if (ep_split_parse_percent(pct, pl, &bp) != 0) {
            fprintf(stderr, "edgeproxy ctl: '%s' is not a percentage from 0 to 100 in steps of 0.01\n", pos[1]);
            return 2;
        }
        if (reason == NULL || reason[0] == '\0') {
            fprintf(stderr, "edgeproxy ctl: canary set needs --reason TEXT (it goes to the audit log)\n");
            return 2;
        }
        rs_buf_t body = {0};
        rs_buf_printf(&body, "{\"weight\":%u.%02u,\"reason\":", bp / 100, bp % 100);
        ep_json_quote(&body, reason, strlen(reason));
        rs_buf_putc(&body, '}');
        snprintf(path, sizeof(path), "/canary/%s", pos[0]);
        http_call(admin, token, "PUT", path, body.base, &r);
        rs_buf_free(&body);
        if (r.status != 200) {
            rc = report_failure("canary set", &r);
        } else if (raw) {
            fputs(r.body.base, stdout);
        } else {
            ep_json_doc_t *doc;
            const ep_json_t *s = parse_body(&r, &doc);
            printf("%s: canary weight is now ", str(s, "service", pos[0]));
            print_weight(num(s, "weight", 0));
            printf(" (stable %s, canary %s)\n", str(s, "stable", "?"), str(s, "canary", "?"));
            ep_json_free(doc);
        }
    } else if ((strcmp(sub, "rollback") == 0 || strcmp(sub, "promote") == 0) && npos == 1) {
        rs_buf_t body = {0};
        if (reason != NULL) {
            rs_buf_printf(&body, "{\"reason\":");
            ep_json_quote(&body, reason, strlen(reason));
            rs_buf_putc(&body, '}');
        }
        snprintf(path, sizeof(path), "/canary/%s/%s", pos[0], sub);
        http_call(admin, token, "POST", path, body.base != NULL ? body.base : "", &r);
        rs_buf_free(&body);
        if (r.status != 200) {
            rc = report_failure(sub[0] == 'r' ? "canary rollback" : "canary promote", &r);
        } else if (raw) {
            fputs(r.body.base, stdout);
        } else {
            ep_json_doc_t *doc;
            const ep_json_t *s = parse_body(&r, &doc);
            printf("%s: %s, canary weight is now ", str(s, "service", pos[0]), sub[0] == 'r' ? "rolled back" : "promoted");
            print_weight(num(s, "weight", 0));
            printf("\n");
            ep_json_free(doc);
        }
    } else {
        usage(stderr);
        return 2;
    }
    rs_buf_free(&r.body);
    return rc;
}

static int cmd_tenant(const char *admin, const char *token, int raw, int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[0], "where") != 0) {
        usage(stderr);
        return 2;
    }
    char path[512];
    snprintf(path, sizeof(path), "/tenants/%s", argv[1]);
    http_resp_t r;
    http_call(admin, token, "GET", path, NULL, &r);
    int rc = 0;
    if (raw && r.status != 0) {
        fputs(r.body.base, stdout);
        rc = r.status == 200 ? 0 : 1;
    } else if (r.status == 200) {
        ep_json_doc_t *doc;
        const ep_json_t *t = parse_body(&r, &doc);
        const ep_json_t *servers = ep_json_get(t, "servers");
        printf("tenant %s: %s placement -> upstream %s", str(t, "tenant", argv[1]), str(t, "placement", "?"),
               str(t, "upstream", "?"));
        for (size_t i = 0; servers != NULL && servers->type == EP_JSON_ARRAY && i < servers->count; i++)
            printf("%s%s", i == 0 ? " (" : ", ", servers->items[i]->str != NULL ? servers->items[i]->str : "?");
        printf("%s\n", servers != NULL && servers->count > 0 ? ")" : "");
        printf("  why: %s\n", str(t, "why", ""));
        ep_json_free(doc);
    } else {
        rc = report_failure("tenant where", &r);
        ep_json_doc_t *doc;
        const ep_json_t *t = parse_body(&r, &doc);
        const ep_json_t *go = ep_json_get(t, "requests_go_to");
        if (go != NULL && go->type == EP_JSON_OBJECT)
            fprintf(stderr, "  its requests go to the default tenant %s: %s\n", str(go, "tenant", "?"), str(go, "why", ""));
        else if (go != NULL && go->type == EP_JSON_STRING)
            fprintf(stderr, "  its requests are %s\n", go->str);
        ep_json_free(doc);
    }
    rs_buf_free(&r.body);
    return rc;
}

static int cmd_reload(const char *admin, const char *token, int raw)
{
    http_resp_t r;
    http_call(admin, token, "POST", "/reload", "", &r);
    int rc = 0;
    if (r.status == 0 || r.status == 401 || r.status == 404) {
        rc = report_failure("reload", &r);
    } else if (raw) {
        fputs(r.body.base, stdout);
        rc = r.status == 200 ? 0 : 1;
    } else {
        ep_json_doc_t *doc;
        const ep_json_t *root = parse_body(&r, &doc);
        const ep_json_t *ok = ep_json_get(root, "reloaded");
        if (r.status == 200 && ok != NULL && ok->type == EP_JSON_BOOL && ok->boolean) {
            printf("reloaded: generation %.0f is live\n", num(root, "generation", 0));
        } else {
            const ep_json_t *errs = ep_json_get(root, "errors");
            fprintf(stderr, "edgeproxy ctl: reload rejected; the running configuration keeps serving:\n");
            for (size_t i = 0; errs != NULL && errs->type == EP_JSON_ARRAY && i < errs->count; i++)
                fprintf(stderr, "  %s\n", errs->items[i]->type == EP_JSON_STRING ? errs->items[i]->str : "?");
            if (errs == NULL)
                fprintf(stderr, "  HTTP %d %s\n", r.status, r.body.base != NULL ? r.body.base : "");
            rc = 1;
        }
        ep_json_free(doc);
    }
    rs_buf_free(&r.body);
    return rc;
}

int ep_ctl_main(int argc, char **argv)
{
    const char *admin = getenv("EDGEPROXY_ADMIN");
    const char *token = getenv("EDGEPROXY_ADMIN_TOKEN");
    int raw = 0, i = 1;
    if (admin == NULL || admin[0] == '\0')
        admin = DEFAULT_ADMIN;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--admin") == 0 && i + 1 < argc)
            admin = argv[++i];
        else if (strcmp(argv[i], "--token") == 0 && i + 1 < argc)
            token = argv[++i];
        else if (strcmp(argv[i], "--json") == 0)
            raw = 1;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "edgeproxy ctl: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    if (token == NULL || token[0] == '\0') {
        fprintf(stderr, "edgeproxy ctl: no admin token: pass --token TOKEN or set EDGEPROXY_ADMIN_TOKEN\n");
        return 2;
    }
    const char *cmd = argv[i];
    if (strcmp(cmd, "canary") == 0)
        return cmd_canary(admin, token, raw, argc - i - 1, argv + i + 1);
    if (strcmp(cmd, "tenant") == 0)
        return cmd_tenant(admin, token, raw, argc - i - 1, argv + i + 1);
    if (strcmp(cmd, "reload") == 0 && i + 1 == argc)
        return cmd_reload(admin, token, raw);
    usage(stderr);
    return 2;
}
