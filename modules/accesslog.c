/* SPDX-License-Identifier: MIT */
/* The access_log module: one JSON object per request and line, written with a single write() to a file
 * (O_APPEND) or stdout. The descriptor number never changes: reload to another path and SIGUSR1 (logrotate)
 * dup2() the new file onto it, so workers write without locks. Last in the pipeline. */
#include "accesslog.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "generation.h"
#include "module.h"
#include "pipeline.h"

typedef struct st_accesslog_conf_t {
    char *path; /* "-" = stdout; NULL = off */
} accesslog_conf_t;

static struct {
    pthread_mutex_t lock;
    atomic_int fd; /* -1 = off */
    char *path;
} g = {PTHREAD_MUTEX_INITIALIZER, -1, NULL};

static int open_path(const char *path)
{
    if (strcmp(path, "-") == 0)
        return dup(STDOUT_FILENO);
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

/* Points the stable descriptor at `path` (called with the lock held). */
static int install_locked(const char *path)
{
    if (path == NULL) {
        atomic_store(&g.fd, -1); /* the old descriptor stays open: a worker may be writing to it */
        return 0;
    }
    int nfd = open_path(path);
    if (nfd < 0)
        return -1;
    int cur = atomic_load(&g.fd);
    if (cur < 0) {
        atomic_store(&g.fd, nfd);
    } else {
        dup2(nfd, cur);
        close(nfd);
    }
    return 0;
}

int ep_accesslog_reopen(void)
{
    pthread_mutex_lock(&g.lock);
    int rc = g.path != NULL ? install_locked(g.path) : 0;
    pthread_mutex_unlock(&g.lock);
    return rc;
}

static int check_dir_writable(const char *path)
{
    char *copy = strdup(path);
    int rc = access(dirname(copy), W_OK);
    free(copy);
    return rc;
}

static int al_on_config(ep_conf_ctx_t *c, const ep_node_t *node, void *gstate, void **out)
{
    static const char *const keys[] = {"path", NULL};
    accesslog_conf_t *conf = calloc(1, sizeof(*conf));
    *out = conf;
    const char *path = "-";
    const ep_node_t *at = node;
    if (node == NULL) {
        conf->path = strdup("-");
        return 0;
    }
    if (node->type == EP_NODE_SCALAR) {
        path = node->scalar;
    } else {
        if (ep_conf_check_map(c, node, "access_log", keys) != 0 || ep_conf_str(c, node, "path", "-", &path) != 0)
            return -1;
        at = ep_node_get(node, "path") != NULL ? ep_node_get(node, "path") : node;
    }
    if (strcmp(path, "off") == 0)
        return 0;
    if (strcmp(path, "-") == 0) {
        conf->path = strdup("-");
        return 0;
    }
    if (path[0] == '\0')
        return ep_conf_error(c, at, "'access_log' must be a path, \"-\" (stdout) or off");
    if (path[0] == '/' || c->base_dir == NULL) {
        conf->path = strdup(path);
    } else {
        size_t n = strlen(c->base_dir) + strlen(path) + 2;
        conf->path = malloc(n);
        snprintf(conf->path, n, "%s/%s", c->base_dir, path);
    }
    /* checked without creating anything: -t and a rejected reload leave no trace */
    if (access(conf->path, F_OK) == 0 ? access(conf->path, W_OK) != 0 : check_dir_writable(conf->path) != 0)
        return ep_conf_error(c, at, "cannot open access log '%s': %s", conf->path, strerror(errno));
    return 0;
}

static void al_conf_free(void *p)
{
    accesslog_conf_t *conf = p;
    if (conf != NULL)
        free(conf->path);
    free(conf);
}

static void al_on_commit(void *p, void *gstate)
{
    accesslog_conf_t *conf = p;
    pthread_mutex_lock(&g.lock);
    int same = (conf->path == NULL && g.path == NULL) || (conf->path != NULL && g.path != NULL && strcmp(conf->path, g.path) == 0);
    if (!same) {
        if (install_locked(conf->path) != 0)
            fprintf(stderr, "edgeproxy: cannot open access log '%s': %s\n", conf->path, strerror(errno));
        free(g.path);
        g.path = conf->path != NULL ? strdup(conf->path) : NULL;
    }
    pthread_mutex_unlock(&g.lock);
}

static void json_str(rs_buf_t *b, const char *s, size_t len)
{
    if (s == NULL) {
        rs_buf_append(b, "null", 4);
        return;
    }
    static const char hex[] = "0123456789abcdef";
    rs_buf_putc(b, '"');
    for (size_t i = 0; i < len; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            rs_buf_putc(b, '\\');
            rs_buf_putc(b, (char)c);
        } else if (c < 0x20 || c >= 0x7f) {
            /* bytes, not characters: anything outside printable ASCII is escaped, so the line stays valid JSON */
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            rs_buf_append(b, e, 6);
        } else {
            rs_buf_putc(b, (char)c);
        }
    }
    rs_buf_putc(b, '"');
}

static void json_cstr(rs_buf_t *b, const char *s)
{
    json_str(b, s, s != NULL ? strlen(s) : 0);
}

void ep_accesslog_format(rs_buf_t *b, ep_req_t *r, uint64_t now_ns)
{
    h2o_req_t *req = r->h2o;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[40];
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    rs_buf_printf(b, "{\"time\":\"%s.%03ldZ\",\"request_id\":", ts, (long)(tv.tv_usec / 1000));
    json_str(b, r->request_id.base, r->request_id.len);
    rs_buf_append(b, ",\"client\":", 10);
    json_cstr(b, r->client_addr);
    rs_buf_append(b, ",\"method\":", 10);
    json_str(b, req->input.method.base, req->input.method.len);
    rs_buf_append(b, ",\"host\":", 8);
    json_str(b, req->input.authority.base, req->input.authority.len);
    rs_buf_append(b, ",\"path\":", 8);
    json_str(b, req->input.path.base, req->input.path.len);
    rs_buf_printf(b, ",\"status\":%d,\"bytes_in\":%zu,\"bytes_out\":%zu,\"duration_us\":%llu", req->res.status,
                  req->entity.base != NULL ? req->entity.len : 0, req->bytes_sent,
                  (unsigned long long)((now_ns - r->start_ns) / 1000));
    rs_buf_append(b, ",\"upstream\":", 12);
    json_cstr(b, r->upstream != NULL ? ((const ep_upstream_t *)r->upstream)->name : NULL);
    rs_buf_append(b, ",\"server\":", 10);
    json_cstr(b, ep_req_server(r));
    rs_buf_printf(b, ",\"retried\":%s,\"tenant\":", ep_req_retried(r) ? "true" : "false");
    json_cstr(b, r->tenant_id);
    rs_buf_append(b, ",\"placement\":", 13);
    json_cstr(b, r->placement);
    rs_buf_append(b, ",\"service\":", 11);
    json_cstr(b, r->service);
    rs_buf_append(b, ",\"variant\":", 11);
    json_cstr(b, r->variant);
    rs_buf_append(b, ",\"waf\":", 7);
    json_cstr(b, r->waf_action);
    rs_buf_printf(b, ",\"waf_score\":%d,\"waf_rule\":%u,\"generation\":%llu}\n", r->waf_score, r->waf_rule,
                  (unsigned long long)r->gen->id);
}

static pthread_key_t line_key;
static pthread_once_t line_key_once = PTHREAD_ONCE_INIT;

static void free_line(void *p)
{
    rs_buf_free(p);
}

static void make_line_key(void)
{
    pthread_key_create(&line_key, free_line);
}

static void al_on_log(const void *_conf, void *gstate, void *tstate, ep_req_t *r)
{
    int fd = atomic_load_explicit(&g.fd, memory_order_relaxed);
    if (fd < 0 || ((const accesslog_conf_t *)_conf)->path == NULL)
        return;
    static __thread rs_buf_t line;
    if (line.base == NULL) {
        /* freed when the worker thread exits */
        pthread_once(&line_key_once, make_line_key);
        pthread_setspecific(line_key, &line);
    }
    rs_buf_reset(&line);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ep_accesslog_format(&line, r, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
    /* one write per line: O_APPEND keeps lines from different threads whole */
    ssize_t n = write(fd, line.base, line.len);
    (void)n;
}

const ep_module_t ep_module_accesslog = {
    .name = "access_log",
    .on_config = al_on_config,
    .on_commit = al_on_commit,
    .conf_free = al_conf_free,
    .on_log = al_on_log,
};
