/* SPDX-License-Identifier: MIT */
/* Speed of rs_detect_sqli / rs_detect_xss against the frozen pre-optimisation copies (the test oracles), in ns per
 * call on short benign values (the kind a JSON POST carries) and on attack strings. Also checks that both agree.
 * Build: cc -std=gnu11 -O2 -Irules -Irules/operator tests/bench/detect_speed.c rules/operator/detect_*.c -o detect_speed
 * Run:   ./detect_speed [rounds [corpus.jsonl]]   (or under valgrind --tool=callgrind for instruction counts); with a
 *        corpus (shared/bench/detect/data/dev.jsonl), every JSON string of it is also timed, keys included. */
#define _POSIX_C_SOURCE 200809L
#include "../unit/rules/detect_oracle_sqli.c"
#include "../unit/rules/detect_oracle_xss.c"
#include "detect.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const char *const benign[] = {
    "json.order.items.array_12.sku",
    "Blue cotton shirt",
    "maria.garcia@example.com",
    "19.99",
    "AB-1234",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "en-US,en;q=0.5",
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "session=3f1c2a9be7d44c1e8e0f; theme=dark",
    "json.customer.address.street",
    "221B Baker Street",
    "2026-11-25T13:05:00Z",
    "gzip, deflate, br",
    "https://shop.example.com/cart?step=2",
    "true",
    "550e8400-e29b-41d4-a716-446655440000",
    "Please deliver after 5 pm, ring twice.",
    "application/json",
};

static const char *const attacks[] = {
    "1' or '1'='1",
    "1 union select username, password from users--",
    "admin'--",
    "1; drop table users",
    "' and sleep(5)#",
    "1) or (1=1",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(document.cookie)>",
    "javascript:alert(1)",
    "\"><svg/onload=confirm`1`>",
    "<a href=\"jav&#x61;script:alert(1)\">x</a>",
    "';alert(String.fromCharCode(88,83,83))//",
};

typedef int (*detector)(const char *s, size_t len);

static int current_sqli(const char *s, size_t len)
{
    char fp[16];
    return rs_detect_sqli(s, len, fp);
}

static int frozen_sqli(const char *s, size_t len)
{
    char fp[16];
    return oracle_detect_sqli(s, len, fp);
}

/* The fastest of a few repetitions: the machine is shared, and interference only ever adds time. */
static double ns_per_call(detector d, const char *const *set, size_t count, long rounds, int *hits)
{
    size_t lens[64];
    for (size_t k = 0; k < count; k++)
        lens[k] = strlen(set[k]);
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        struct timespec a, b;
        int h = 0;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (long r = 0; r < rounds; r++)
            for (size_t k = 0; k < count; k++)
                h += d(set[k], lens[k]);
        clock_gettime(CLOCK_MONOTONIC, &b);
        *hits = h;
        double ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / ((double)rounds * (double)count);
        if (rep == 0 || ns < best)
            best = ns;
    }
    return best;
}

static int report(const char *name, detector before, detector after, long rounds)
{
    static const struct {
        const char *label;
        const char *const *set;
        size_t count;
    } sets[] = {{"benign", benign, sizeof(benign) / sizeof(benign[0])}, {"attack", attacks, sizeof(attacks) / sizeof(attacks[0])}};
    int mismatch = 0;
    for (size_t k = 0; k < 2; k++) {
        int hits_before, hits_after;
        double t_before = ns_per_call(before, sets[k].set, sets[k].count, rounds, &hits_before);
        double t_after = ns_per_call(after, sets[k].set, sets[k].count, rounds, &hits_after);
        printf("%-5s %-6s before %8.1f ns/call  after %8.1f ns/call  x%.2f  (hits %d/%d)\n", name, sets[k].label, t_before, t_after,
               t_before / t_after, hits_before, hits_after);
        mismatch |= hits_before != hits_after;
    }
    return mismatch;
}

/* Every JSON string of the corpus (keys and values, escapes left as written), NUL-separated in one buffer. */
static char *load_corpus_strings(const char *path, size_t *count, size_t *bytes)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 20, n = 0;
    char *out = malloc(cap);
    int c, in_string = 0, escaped = 0;
    *count = 0;
    while (out && (c = fgetc(f)) != EOF) {
        if (n + 2 > cap) {
            char *bigger = realloc(out, cap * 2);
            if (!bigger) {
                free(out);
                out = NULL;
                break;
            }
            out = bigger;
            cap *= 2;
        }
        if (!in_string) {
            in_string = c == '"';
            continue;
        }
        if (!escaped && c == '"') {
            out[n++] = '\0';
            (*count)++;
            in_string = 0;
            continue;
        }
        escaped = !escaped && c == '\\';
        out[n++] = (char)c;
    }
    fclose(f);
    *bytes = n;
    return out;
}

static double corpus_ns_per_call(detector d, const char *strings, size_t bytes, size_t count, int *hits)
{
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        struct timespec a, b;
        int h = 0;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (size_t i = 0; i < bytes;) {
            size_t len = strlen(strings + i);
            h += d(strings + i, len);
            i += len + 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        *hits = h;
        double ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / (double)count;
        if (rep == 0 || ns < best)
            best = ns;
    }
    return best;
}

static int report_corpus(const char *path)
{
    size_t count = 0, bytes = 0;
    char *strings = load_corpus_strings(path, &count, &bytes);
    if (!strings || count == 0) {
        fprintf(stderr, "cannot read %s\n", path);
        free(strings);
        return 1;
    }
    int mismatch = 0;
    static const struct {
        const char *name;
        detector before, after;
    } detectors[] = {{"sqli", frozen_sqli, current_sqli}, {"xss", oracle_detect_xss, rs_detect_xss}};
    for (size_t k = 0; k < 2; k++) {
        int hits_before, hits_after;
        double t_before = corpus_ns_per_call(detectors[k].before, strings, bytes, count, &hits_before);
        double t_after = corpus_ns_per_call(detectors[k].after, strings, bytes, count, &hits_after);
        printf("%-5s corpus before %8.1f ns/call  after %8.1f ns/call  x%.2f  (%zu strings, hits %d/%d)\n", detectors[k].name,
               t_before, t_after, t_before / t_after, count, hits_before, hits_after);
        mismatch |= hits_before != hits_after;
    }
    free(strings);
    return mismatch;
}

int main(int argc, char **argv)
{
    long rounds = argc > 1 ? atol(argv[1]) : 20000;
    if (rounds <= 0)
        rounds = 1;
    int mismatch = report("sqli", frozen_sqli, current_sqli, rounds);
    mismatch |= report("xss", oracle_detect_xss, rs_detect_xss, rounds);
    if (argc > 2)
        mismatch |= report_corpus(argv[2]);
    if (mismatch)
        fprintf(stderr, "verdicts differ between the frozen and the current detectors\n");
    return mismatch;
}
