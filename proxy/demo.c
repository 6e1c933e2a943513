/* SPDX-License-Identifier: MIT */
/* Demo origins: one h2o loop on its own thread listening on several loopback ports; the local port of the
 * connection tells which origin answers. Each answer is a JSON object naming the origin and echoing the method,
 * path, Host, X-Forwarded-For and X-Request-Id it received, so a reader can see what the proxy did. */
#include "demo.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h2o_wrap.h"
#include "worker.h"
#include "util/util.h"

#define DEMO_MAX 8

static h2o_globalconf_t demo_conf;
static h2o_context_t demo_ctx;
static h2o_accept_ctx_t demo_accept;
static h2o_evloop_t *demo_loop;
static ep_demo_origin_t origins[DEMO_MAX];
static int fds[DEMO_MAX];
static size_t norigins;

static void put_json(rs_buf_t *b, const char *key, const char *s, size_t len, int first)
{
    rs_buf_printf(b, "%s\"%s\":", first ? "" : ",", key);
    if (s == NULL) {
        rs_buf_append(b, "null", 4);
        return;
    }
    rs_buf_putc(b, '"');
    for (size_t i = 0; i < len; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            rs_buf_printf(b, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            rs_buf_printf(b, "\\u%04x", c);
        else
            rs_buf_putc(b, (char)c);
    }
    rs_buf_putc(b, '"');
}

static void put_header(rs_buf_t *b, h2o_req_t *req, const char *key, const char *lname)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, lname, strlen(lname), -1);
    if (i < 0)
        put_json(b, key, NULL, 0, 0);
    else
        put_json(b, key, req->headers.entries[i].value.base, req->headers.entries[i].value.len, 0);
}

static int on_demo_req(h2o_handler_t *self, h2o_req_t *req)
{
    struct sockaddr_storage ss;
    socklen_t sl = req->conn->callbacks->get_sockname(req->conn, (struct sockaddr *)&ss);
    int32_t port = sl != 0 ? h2o_socket_getport((struct sockaddr *)&ss) : -1;
    const char *name = "unknown";
    for (size_t i = 0; i < norigins; ++i)
        if (origins[i].port == port)
            name = origins[i].name;
    rs_buf_t b = {0};
    rs_buf_putc(&b, '{');
    put_json(&b, "backend", name, strlen(name), 1);
    put_json(&b, "method", req->method.base, req->method.len, 0);
    put_json(&b, "path", req->path.base, req->path.len, 0);
    put_json(&b, "host", req->authority.base, req->authority.len, 0);
    put_header(&b, req, "x_forwarded_for", "x-forwarded-for");
    put_header(&b, req, "x_forwarded_proto", "x-forwarded-proto");
    put_header(&b, req, "x_request_id", "x-request-id");
    put_header(&b, req, "x_tenant", "x-tenant");
    rs_buf_printf(&b, ",\"body_bytes\":%zu}\n", req->entity.base != NULL ? req->entity.len : 0);
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = b.len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_send_inline(req, b.base, b.len);
    rs_buf_free(&b);
    return 0;
}

static void *demo_main(void *arg)
{
    demo_loop = h2o_evloop_create();
    h2o_context_init(&demo_ctx, demo_loop, &demo_conf);
    demo_accept = (h2o_accept_ctx_t){.ctx = &demo_ctx, .hosts = demo_conf.hosts};
    for (size_t i = 0; i < norigins; ++i) {
        h2o_socket_t *l = h2o_evloop_socket_create(demo_loop, fds[i], H2O_SOCKET_FLAG_DONT_READ);
        l->data = &demo_accept;
        h2o_socket_read_start(l, ep_accept_batch);
    }
    for (;;)
        h2o_evloop_run(demo_loop, INT32_MAX);
    return NULL;
}

int ep_demo_start(const ep_demo_origin_t *list)
{
    for (norigins = 0; list[norigins].name != NULL && norigins < DEMO_MAX; ++norigins) {
        origins[norigins] = list[norigins];
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(list[norigins].port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
            bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 128) != 0) {
            fprintf(stderr, "edgeproxy: demo origin %s on 127.0.0.1:%u: %m\n", list[norigins].name, list[norigins].port);
            if (fd >= 0)
                close(fd);
            return -1;
        }
        fds[norigins] = fd;
    }
    h2o_config_init(&demo_conf);
    demo_conf.server_name = h2o_iovec_init(H2O_STRLIT("edgeproxy-demo-origin"));
    h2o_hostconf_t *host = h2o_config_register_host(&demo_conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *root = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *h = h2o_create_handler(root, sizeof(*h));
    h->on_req = on_demo_req;
    pthread_t tid;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&tid, NULL, demo_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return -1;
    pthread_detach(tid);
    return 0;
}
