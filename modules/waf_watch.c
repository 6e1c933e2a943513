/* SPDX-License-Identifier: MIT */
/* Live rule changes: a thread watches the directories of the configured rule files with inotify and, once
 * writes have settled for the debounce interval, asks the core for an ordinary reload. The reload compiles the
 * new rule sets off the request path and swaps the generation atomically; a set that fails to compile is
 * rejected with its errors and the old generation keeps serving. Directories are watched rather than files
 * because editors save by writing a new file and renaming it over the old one. */
#include "waf_watch.h"

#include <errno.h>
#include <glob.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "generation.h"

#define MAX_DIRS 64

struct st_ep_waf_watch_t {
    pthread_t thread;
    int running;
    int inotify_fd;
    int stop_pipe[2];
    pthread_mutex_t lock;
    uint64_t debounce_ms;
    int wds[MAX_DIRS];
    char *dirs[MAX_DIRS];
    size_t ndirs;
    uint64_t reloads, failures;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Rule files, their data files (.data for @pmFromFile) and included files all live in these directories. */
static int is_rule_file(const char *name)
{
    size_t n = strlen(name);
    return (n > 5 && strcmp(name + n - 5, ".conf") == 0) || (n > 5 && strcmp(name + n - 5, ".data") == 0) ||
           (n > 6 && strcmp(name + n - 6, ".rules") == 0);
}

/* Drains pending events; returns 1 when one of them concerns a rule file. */
static int drain_events(int fd)
{
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    int relevant = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            return relevant;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            if (ev->len != 0 && is_rule_file(ev->name))
                relevant = 1;
            p += sizeof(*ev) + ev->len;
        }
    }
}

static void *watch_main(void *arg)
{
    ep_waf_watch_t *w = arg;
    uint64_t due = 0; /* when the pending reload may run; 0: nothing pending */
    for (;;) {
        struct pollfd pfd[2] = {{w->inotify_fd, POLLIN, 0}, {w->stop_pipe[0], POLLIN, 0}};
        int timeout = -1;
        if (due != 0) {
            uint64_t now = now_ms();
            timeout = due > now ? (int)(due - now) : 0;
        }
        int r = poll(pfd, 2, timeout);
        if (r < 0 && errno != EINTR)
            break;
        if (pfd[1].revents != 0)
            break;
        if (r > 0 && (pfd[0].revents & POLLIN) != 0) {
            pthread_mutex_lock(&w->lock);
            int relevant = drain_events(w->inotify_fd);
            uint64_t debounce = w->debounce_ms;
            pthread_mutex_unlock(&w->lock);
            if (relevant)
                due = now_ms() + debounce; /* every new write pushes the reload back: save bursts make one reload */
            continue;
        }
        if (due != 0 && now_ms() >= due) {
            due = 0;
            rs_errors_t errs = {0};
            uint64_t t0 = now_ms();
            if (ep_generation_reload(&errs) == 0) {
                __atomic_add_fetch(&w->reloads, 1, __ATOMIC_RELAXED);
                fprintf(stderr, "edgeproxy: waf: rule files changed: new rules live (reload took %llu ms)\n",
                        (unsigned long long)(now_ms() - t0));
            } else {
                __atomic_add_fetch(&w->failures, 1, __ATOMIC_RELAXED);
                fprintf(stderr,
                        "edgeproxy: waf: rule files changed but the new rules were rejected; the old rules keep serving:\n");
                rs_errors_print(&errs, stderr);
            }
            rs_errors_free(&errs);
        }
    }
    return NULL;
}

ep_waf_watch_t *ep_waf_watch_new(void)
{
    ep_waf_watch_t *w = calloc(1, sizeof(*w));
    w->inotify_fd = -1;
    w->stop_pipe[0] = w->stop_pipe[1] = -1;
    pthread_mutex_init(&w->lock, NULL);
    return w;
}

static void add_dir(ep_waf_watch_t *w, const char *file)
{
    char *dir = strdup(file), *slash = strrchr(dir, '/');
    if (slash == NULL) {
        free(dir);
        dir = strdup(".");
    } else if (slash == dir) {
        slash[1] = '\0';
    } else {
        *slash = '\0';
    }
    for (size_t i = 0; i < w->ndirs; i++)
        if (strcmp(w->dirs[i], dir) == 0) {
            free(dir);
            return;
        }
    if (w->ndirs == MAX_DIRS) {
        fprintf(stderr, "edgeproxy: waf: more than %d rule directories; %s is not watched\n", MAX_DIRS, dir);
        free(dir);
        return;
    }
    int wd = inotify_add_watch(w->inotify_fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVED_FROM);
    if (wd < 0) {
        fprintf(stderr, "edgeproxy: waf: cannot watch %s: %s\n", dir, strerror(errno));
        free(dir);
        return;
    }
    w->wds[w->ndirs] = wd;
    w->dirs[w->ndirs++] = dir;
}

/* Runs on whichever thread commits a generation, the watcher's own included (its reload commits too), so it
 * never stops the thread: with watching switched off it only drops the watches. */
void ep_waf_watch_update(ep_waf_watch_t *w, const ep_waf_conf_t *conf)
{
    int want = conf != NULL && conf->watch;
    if (!want && !w->running)
        return;
    if (!w->running) {
        w->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (w->inotify_fd < 0 || pipe(w->stop_pipe) != 0) {
            fprintf(stderr, "edgeproxy: waf: cannot watch rule files: %s\n", strerror(errno));
            return;
        }
    }
    pthread_mutex_lock(&w->lock);
    for (size_t i = 0; i < w->ndirs; i++) {
        inotify_rm_watch(w->inotify_fd, w->wds[i]);
        free(w->dirs[i]);
    }
    w->ndirs = 0;
    if (want)
        w->debounce_ms = conf->watch_debounce_ms;
    for (size_t i = 0; want && i < conf->nrulesets; i++) {
        const ep_waf_ruleset_t *rs = &conf->rulesets[i];
        for (size_t k = 0; k < rs->nfiles; k++) {
            glob_t g;
            if (glob(rs->files[k], GLOB_NOCHECK, NULL, &g) == 0) {
                for (size_t j = 0; j < g.gl_pathc; j++)
                    add_dir(w, g.gl_pathv[j]);
                globfree(&g);
            }
        }
    }
    pthread_mutex_unlock(&w->lock);
    if (!w->running && pthread_create(&w->thread, NULL, watch_main, w) == 0)
        w->running = 1;
}

static void watch_stop(ep_waf_watch_t *w)
{
    if (w->running) {
        ssize_t n = write(w->stop_pipe[1], "x", 1);
        (void)n;
        pthread_join(w->thread, NULL);
        w->running = 0;
    }
    for (size_t i = 0; i < w->ndirs; i++)
        free(w->dirs[i]);
    w->ndirs = 0;
    for (int i = 0; i < 2; i++)
        if (w->stop_pipe[i] >= 0) {
            close(w->stop_pipe[i]);
            w->stop_pipe[i] = -1;
        }
    if (w->inotify_fd >= 0) {
        close(w->inotify_fd);
        w->inotify_fd = -1;
    }
}

void ep_waf_watch_free(ep_waf_watch_t *w)
{
    watch_stop(w);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

void ep_waf_watch_counts(const ep_waf_watch_t *w, uint64_t *reloads, uint64_t *failures)
{
    *reloads = __atomic_load_n(&w->reloads, __ATOMIC_RELAXED);
    *failures = __atomic_load_n(&w->failures, __ATOMIC_RELAXED);
}
