/* SPDX-License-Identifier: MIT */
/* edgeproxy's entry point: command line, sub-commands (`edgeproxy rules ...`, `edgeproxy ctl ...`), config
 * test, start-up, and the signal loop on the main thread (SIGHUP reload, SIGUSR1 reopen logs, SIGTERM/SIGINT
 * graceful drain then exit 0). All other threads block these signals. */
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accesslog.h"
#include "admin.h"
#include "demo.h"
#include "generation.h"
#include "registry.h"
#include "upstream.h"
#include "worker.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define EP_LEAK_CHECK() __lsan_do_leak_check()
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/lsan_interface.h>
#define EP_LEAK_CHECK() __lsan_do_leak_check()
#endif
#endif
#ifndef EP_LEAK_CHECK
#define EP_LEAK_CHECK() ((void)0)
#endif

/* The sub-commands: `edgeproxy rules ...` (rules/engine/cli.c) and `edgeproxy ctl ...` (modules/ctl.c). */
int rs_cli_main(int argc, char **argv);
int ep_ctl_main(int argc, char **argv);
/* modules/waf_explain.c */
extern int ep_waf_explain_main(int argc, char **argv);

static const ep_demo_origin_t demo_origins[] = {
    {"multi-stable", 18101}, {"multi-canary", 18102}, {"acme-single", 18103}, {NULL, 0}};

static void usage(FILE *out)
{
    fprintf(out, "usage: edgeproxy [-c FILE] [-t] [--demo] [--listen HOST:PORT] [--admin-listen HOST:PORT]\n"
                 "                 [--state-dir DIR] [--version] [--help]\n"
                 "       edgeproxy rules ...   rule-set tools (compile, test, explain)\n"
                 "       edgeproxy ctl ...     admin API client\n"
                 "\n"
                 "  -c, --config FILE        configuration file (default /etc/edgeproxy/edgeproxy.yaml)\n"
                 "  -t, --test               check the configuration and everything it references, print each\n"
                 "                           problem as FILE:LINE:COL: message, exit 0 when valid and 1 otherwise\n"
                 "      --demo               run conf/demo.yaml with built-in demo origins on 127.0.0.1:18101-18103\n"
                 "      --listen HOST:PORT   replaces the first listener's address\n"
                 "      --admin-listen H:P   replaces admin.listen\n"
                 "      --state-dir DIR      replaces state_dir\n"
                 "      --version            print the version\n"
                 "signals: HUP reloads the configuration, USR1 reopens log files, TERM/INT drain and exit.\n");
}

static const char *find_demo_config(void)
{
    static const char *const candidates[] = {"conf/demo.yaml", EP_SOURCE_DIR "/conf/demo.yaml", "/usr/share/edgeproxy/demo.yaml",
                                             NULL};
    for (const char *const *p = candidates; *p != NULL; ++p)
        if (access(*p, R_OK) == 0)
            return *p;
    return candidates[0];
}

static void print_demo_help(const ep_config_t *conf, const char *self)
{
    const char *h = conf->listen[0].host;
    unsigned p = conf->listen[0].port;
    printf("edgeproxy demo: proxy on http://%s:%u, admin on http://%s:%u, demo origins:", h, p, conf->admin.host, conf->admin.port);
    for (const ep_demo_origin_t *o = demo_origins; o->name != NULL; ++o)
        printf(" %s=127.0.0.1:%u", o->name, o->port);
    printf("\n\nTry:\n"
           "  curl -s http://%s:%u/                                             # default route (multi-stable)\n"
           "  curl -s -H 'Host: globex.demo.localhost' http://%s:%u/cart        # tenant on the shared pool, 10%% canary\n"
           "  curl -s -H 'Host: globex.demo.localhost' -H 'X-Canary: always' http://%s:%u/   # force the canary\n"
           "  curl -s -H 'Host: acme.demo.localhost' http://%s:%u/              # tenant on its dedicated backend\n"
           "  curl -s -H 'X-Tenant-Id: initech' http://%s:%u/                   # tenant named by a header\n"
           "  curl -s -i -H 'X-Forwarded-For: 198.51.100.7' http://%s:%u/        # client address from a trusted proxy\n"
           "  curl -s -i 'http://%s:%u/?q=1%%27%%20OR%%201=1--'                      # blocked by the WAF (403)\n"
           "  curl -s -H 'Authorization: Bearer demo-admin-token' http://%s:%u/status\n"
           "  curl -s -H 'Authorization: Bearer demo-admin-token' http://%s:%u/metrics\n"
           "  kill -HUP %d    # reload conf/demo.yaml\n\n"
           "Move the canary (ops):\n"
           "  %s ctl --admin http://%s:%u --token demo-admin-token canary list\n"
           "  %s ctl --admin http://%s:%u --token demo-admin-token canary set app 50 --reason 'more canary'\n"
           "  %s ctl --admin http://%s:%u --token demo-admin-token canary rollback app\n"
           "  %s ctl --admin http://%s:%u --token demo-admin-token tenant where acme\n"
           "Why was a request blocked (id from the X-Request-Id response header):\n"
           "  %s rules explain -c %s --request-id ID\n\n",
           h, p, h, p, h, p, h, p, h, p, h, p, h, p, conf->admin.host, conf->admin.port, conf->admin.host, conf->admin.port,
           (int)getpid(), self, conf->admin.host, conf->admin.port, self, conf->admin.host, conf->admin.port, self,
           conf->admin.host, conf->admin.port, self, conf->admin.host, conf->admin.port, self, conf->file);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "rules") == 0) {
        /* `rules explain -c CONFIG` explains against the live config's rule sets (the WAF module knows them);
         * every other rules sub-command works on rule files alone */
        for (int i = 2; i < argc; i++)
            if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0)
                return ep_waf_explain_main(argc - 2, argv + 2);
        return rs_cli_main(argc - 1, argv + 1);
    }
    if (argc >= 2 && strcmp(argv[1], "ctl") == 0)
        return ep_ctl_main(argc - 1, argv + 1);

    enum { OPT_DEMO = 256, OPT_LISTEN, OPT_ADMIN_LISTEN, OPT_STATE_DIR, OPT_VERSION };
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"test", no_argument, NULL, 't'},
                                             {"demo", no_argument, NULL, OPT_DEMO},
                                             {"listen", required_argument, NULL, OPT_LISTEN},
                                             {"admin-listen", required_argument, NULL, OPT_ADMIN_LISTEN},
                                             {"state-dir", required_argument, NULL, OPT_STATE_DIR},
                                             {"version", no_argument, NULL, OPT_VERSION},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *config = NULL;
    int test_only = 0, demo = 0, opt;
    ep_overrides_t ov = {0};
    while ((opt = getopt_long(argc, argv, "c:th", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config = optarg;
            break;
        case 't':
            test_only = 1;
            break;
        case OPT_DEMO:
            demo = 1;
            break;
        case OPT_LISTEN:
            ov.listen = optarg;
            break;
        case OPT_ADMIN_LISTEN:
            ov.admin_listen = optarg;
            break;
        case OPT_STATE_DIR:
            ov.state_dir = optarg;
            break;
        case OPT_VERSION:
            printf("edgeproxy %s (libh2o %s)\n", EP_VERSION, H2O_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (config == NULL)
        config = demo ? find_demo_config() : "/etc/edgeproxy/edgeproxy.yaml";

    /* signals go to the main thread only: block them before any thread starts */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (ep_modules_global_init() != 0)
        return 1;
    rs_errors_t errs = {0};
    ep_generation_t *gen = ep_generation_build(config, &ov, 1, &errs);
    if (test_only) {
        rs_errors_print(&errs, stdout);
        int ok = gen != NULL;
        if (ok)
            printf("%s: configuration OK\n", config);
        else
            printf("%s: configuration has %zu error%s\n", config, errs.count, errs.count == 1 ? "" : "s");
        rs_errors_free(&errs);
        ep_generation_release(gen);
        return ok ? 0 : 1;
    }
    if (gen == NULL) {
        rs_errors_print(&errs, stderr);
        rs_errors_free(&errs);
        return 1;
    }
    rs_errors_free(&errs);
    ep_config_t *conf = gen->conf;
    if (conf->error_log != NULL && freopen(conf->error_log, "a", stderr) == NULL) {
        fprintf(stdout, "edgeproxy: cannot open error log %s\n", conf->error_log);
        return 1;
    }
    setvbuf(stderr, NULL, _IOLBF, 0);

    if (ep_upstream_registry_start() != 0)
        return 1;
    if (demo && ep_demo_start(demo_origins) != 0)
        return 1;
    ep_generation_set_initial(gen, config, &ov);
    if (ep_workers_start(gen) != 0)
        return 1;
    if (ep_admin_start(conf) != 0)
        return 1;
    fprintf(stderr, "edgeproxy %s: generation %llu serving on", EP_VERSION, (unsigned long long)gen->id);
    for (size_t i = 0; i < conf->nlisten; ++i)
        fprintf(stderr, " %s%s:%u", conf->listen[i].tls_cert != NULL ? "https://" : "http://", conf->listen[i].host,
                conf->listen[i].port);
    fprintf(stderr, " with %u worker%s\n", conf->threads, conf->threads == 1 ? "" : "s");
    if (demo)
        print_demo_help(conf, argv[0]);

    for (;;) {
        int sig;
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            rs_errors_t rerrs = {0};
            if (ep_generation_reload(&rerrs) == 0) {
                ep_generation_t *now = ep_generation_current();
                fprintf(stderr, "edgeproxy: reloaded %s: generation %llu\n", config, (unsigned long long)now->id);
                ep_generation_release(now);
            } else {
                fprintf(stderr, "edgeproxy: reload of %s rejected, the running configuration stays:\n", config);
                rs_errors_print(&rerrs, stderr);
            }
            rs_errors_free(&rerrs);
        } else if (sig == SIGUSR1) {
            ep_generation_t *now = ep_generation_current();
            if (now->conf->error_log != NULL && freopen(now->conf->error_log, "a", stderr) != NULL)
                setvbuf(stderr, NULL, _IOLBF, 0);
            ep_generation_release(now);
            if (ep_accesslog_reopen() != 0)
                fprintf(stderr, "edgeproxy: cannot reopen the access log: %m\n");
            fprintf(stderr, "edgeproxy: log files reopened\n");
        } else {
            ep_generation_t *now = ep_generation_current();
            uint64_t deadline = now->conf->shutdown_deadline_ms;
            ep_generation_release(now);
            fprintf(stderr, "edgeproxy: %s: draining (deadline %llu ms)\n", sig == SIGTERM ? "SIGTERM" : "SIGINT",
                    (unsigned long long)deadline);
            int drained = ep_workers_drain(deadline);
            fprintf(stderr, "edgeproxy: %s, exiting\n", drained == 0 ? "drained" : "deadline reached");
            /* _exit skips atexit handlers (workers may still run at the deadline), so run LeakSanitizer here */
            if (drained == 0)
                EP_LEAK_CHECK();
            fflush(NULL);
            _exit(0);
        }
    }
}
