/* SPDX-License-Identifier: MIT */
/* Tenant map scale: builds a map of N tenants (default 100,000; one in ten single-tenant), then reports load
 * time, the map's own memory and the process RSS growth, and the cost of lookups (present ids in random order,
 * absent ids). Built and run by tests/bench/tenants_scale.sh; targets: load < 1 s, memory < 50 MB. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "tenant.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f != NULL)
        fclose(f);
    return kb;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    long lookups = argc > 2 ? strtol(argv[2], NULL, 10) : 10000000;
    if (n <= 0 || lookups <= 0)
        return 2;
    rs_buf_t text = {0};
    for (long i = 0; i < n; i++) {
        if (i % 10 == 0)
            rs_buf_printf(&text, "tenant-%07ld: {placement: single, upstream: single-%ld, pinned: stable}\n", i, i % 64);
        else
            rs_buf_printf(&text, "tenant-%07ld: multi\n", i);
    }
    long rss0 = rss_kb();
    rs_errors_t errs = {0};
    double t0 = now_ms();
    ep_tenant_map_t *m = ep_tenant_map_parse("bench.yaml", text.base, text.len, &errs);
    double load = now_ms() - t0;
    if (m == NULL) {
        rs_errors_print(&errs, stderr);
        return 1;
    }
    long rss1 = rss_kb();
    printf("tenants            %ld (%.1f MB of map text)\n", n, text.len / 1048576.0);
    printf("load               %.1f ms%s\n", load, load < 1000 ? "" : "   ** over the 1 s target **");
    printf("map memory         %.1f MB (RSS +%.1f MB)%s\n", ep_tenant_map_memory(m) / 1048576.0, (rss1 - rss0) / 1024.0,
           ep_tenant_map_memory(m) < 50u << 20 ? "" : "   ** over the 50 MB target **");
    /* random present ids: a multiplicative permutation so no two lookups in a row touch neighbouring slots */
    char id[32];
    uint64_t found = 0;
    t0 = now_ms();
    for (long k = 0; k < lookups; k++) {
        long i = (long)(((uint64_t)k * 2654435761u) % (uint64_t)n);
        int len = snprintf(id, sizeof(id), "tenant-%07ld", i);
        found += ep_tenant_map_find(m, id, (size_t)len) != NULL;
    }
    double hit_ns = (now_ms() - t0) * 1e6 / lookups;
    t0 = now_ms();
    uint64_t missing = 0;
    for (long k = 0; k < lookups / 10; k++) {
        int len = snprintf(id, sizeof(id), "absent-%07ld", k);
        missing += ep_tenant_map_find(m, id, (size_t)len) == NULL;
    }
    double miss_ns = (now_ms() - t0) * 1e6 / (lookups / 10);
    printf("lookup (present)   %.0f ns incl. formatting the id (%llu/%ld found)\n", hit_ns, (unsigned long long)found, lookups);
    printf("lookup (absent)    %.0f ns (%llu/%ld absent)\n", miss_ns, (unsigned long long)missing, lookups / 10);
    ep_tenant_map_free(m);
    rs_buf_free(&text);
    return found == (uint64_t)lookups && missing == (uint64_t)(lookups / 10) && load < 1000 ? 0 : 1;
}
