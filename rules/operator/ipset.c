/* SPDX-License-Identifier: MIT */
/* Sets of IPv4/IPv6 networks for @ipMatch and @ipMatchFromFile. Lists in rules are short, so a flat array
 * of (address, prefix) scanned linearly beats a radix tree on both code size and cache behaviour. */
#include "operator/op_internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t addr[16];
    unsigned prefix; /* bits */
    int v6;
} ip_net_t;

struct st_rs_ipset_t {
    ip_net_t *nets;
    size_t count, cap;
};

rs_ipset_t *rs_ipset_new(void)
{
    rs_ipset_t *set = calloc(1, sizeof(*set));
    if (set == NULL)
        abort();
    return set;
}

void rs_ipset_free(rs_ipset_t *set)
{
    if (set == NULL)
        return;
    free(set->nets);
    free(set);
}

static char *bad_entry_error(const char *entry)
{
    size_t n = strlen(entry) + 64;
    char *m = malloc(n);
    if (m == NULL)
        abort();
    snprintf(m, n, "invalid IP address or network \"%s\"", entry);
    return m;
}

/* Parses "addr" or "addr/bits" (NUL-terminated, trimmed) into *net. */
static int parse_net(const char *text, ip_net_t *net)
{
    char buf[INET6_ADDRSTRLEN + 8];
    if (strlen(text) >= sizeof(buf))
        return -1;
    strcpy(buf, text);
    char *slash = strchr(buf, '/');
    long bits = -1;
    if (slash != NULL) {
        *slash = '\0';
        char *end;
        if (slash[1] == '\0')
            return -1;
        bits = strtol(slash + 1, &end, 10);
        if (*end != '\0' || bits < 0)
            return -1;
    }
    memset(net, 0, sizeof(*net));
    if (strchr(buf, ':') != NULL) {
        if (inet_pton(AF_INET6, buf, net->addr) != 1)
            return -1;
        net->v6 = 1;
        if (bits > 128)
            return -1;
        net->prefix = bits < 0 ? 128 : (unsigned)bits;
    } else {
        if (inet_pton(AF_INET, buf, net->addr) != 1)
            return -1;
        if (bits > 32)
            return -1;
        net->prefix = bits < 0 ? 32 : (unsigned)bits;
    }
    return 0;
}

int rs_ipset_add_list(rs_ipset_t *set, const char *list, size_t len, char **err)
{
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && list[j] != ',')
            j++;
        size_t a = i, b = j;
        while (a < b && (list[a] == ' ' || list[a] == '\t' || list[a] == '\r' || list[a] == '\n'))
            a++;
        while (b > a && (list[b - 1] == ' ' || list[b - 1] == '\t' || list[b - 1] == '\r' || list[b - 1] == '\n'))
            b--;
        if (b > a) {
            char *entry = rs_strndup(list + a, b - a);
            ip_net_t net;
            if (parse_net(entry, &net) != 0) {
                if (err)
                    *err = bad_entry_error(entry);
                free(entry);
                return -1;
            }
            free(entry);
            if (set->count == set->cap) {
                set->cap = set->cap ? set->cap * 2 : 8;
                set->nets = realloc(set->nets, set->cap * sizeof(*set->nets));
                if (set->nets == NULL)
                    abort();
            }
            set->nets[set->count++] = net;
        }
        i = j + 1;
    }
    return 0;
}

static int prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned bytes = bits / 8, rest = bits % 8;
    if (memcmp(a, b, bytes) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[bytes] & mask) == (b[bytes] & mask);
}

int rs_ipset_contains(const rs_ipset_t *set, const char *addr, size_t len)
{
    char buf[INET6_ADDRSTRLEN + 1];
    if (len == 0 || len >= sizeof(buf))
        return 0;
    memcpy(buf, addr, len);
    buf[len] = '\0';
    uint8_t bin[16];
    int v6;
    if (memchr(buf, ':', len) != NULL) {
        if (inet_pton(AF_INET6, buf, bin) != 1)
            return 0;
        v6 = 1;
    } else {
        if (inet_pton(AF_INET, buf, bin) != 1)
            return 0;
        v6 = 0;
    }
    for (size_t i = 0; i < set->count; i++)
        if (set->nets[i].v6 == v6 && prefix_equal(set->nets[i].addr, bin, set->nets[i].prefix))
            return 1;
    return 0;
}
