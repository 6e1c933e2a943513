/* SPDX-License-Identifier: MIT */
/* Differential harness and benchmark: our rule engine against Debian's libmodsecurity3, in one process, on
 * the same rules and the same raw requests (tests/diff/corpus_to_raw.py output).
 *
 *   rules_vs_modsec compare --pl N [--min-identical PCT] [--list] RAWFILE RULEFILE...
 *       runs every request through both engines and compares the set of logged rule ids and the disposition;
 *       prints the share of identical requests and, per rule id, where they differ.
 *   rules_vs_modsec score --pl N [--threshold N] [--modsec] [--list] RAWFILE RULEFILE...
 *       blocks per corpus category (TPR on attacks, FPR on legitimate requests) for our engine, or for
 *       libmodsecurity with --modsec, and which rules fire on legitimate requests: the tuning loop's tool.
 *   rules_vs_modsec bench --pl N [--rounds R] [--compiled-only] RAWFILE RULEFILE...
 *       requests per second per core (thread CPU time) for the compiled database, the reference evaluator
 *       and libmodsecurity, plus compile time and database size. --compiled-only runs the compiled database
 *       alone, so a profiler sees nothing else.
 * libmodsecurity is linked here only: it is a test oracle, never part of edgeproxy. */
#include <modsecurity/intervention.h>
#include <modsecurity/modsecurity.h>
#include <modsecurity/rules_set.h>
#include <modsecurity/transaction.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rs.h"

typedef struct st_raw_case_t {
    char id[200];
    char expect[16];
    char category[64];
    rs_str_t raw;
} raw_case_t;

typedef struct st_idset_t {
    uint32_t ids[256];
    size_t n;
} idset_t;

static void idset_add(idset_t *s, uint32_t id)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->ids[i] == id)
            return;
    if (s->n < sizeof(s->ids) / sizeof(s->ids[0]))
        s->ids[s->n++] = id;
}

static int idset_has(const idset_t *s, uint32_t id)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->ids[i] == id)
            return 1;
    return 0;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        perror(path);
        exit(2);
    }
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        perror(path);
        exit(2);
    }
    fclose(fp);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

static raw_case_t *load_cases(char *buf, size_t len, size_t *ncases)
{
    size_t cap = 1024, n = 0;
    raw_case_t *cases = malloc(cap * sizeof(*cases));
    char *p = buf, *end = buf + len;
    while (p < end && strncmp(p, "@@ ", 3) == 0) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            break;
        *nl = '\0';
        if (n == cap)
            cases = realloc(cases, (cap *= 2) * sizeof(*cases));
        raw_case_t *c = &cases[n];
        size_t rawlen = 0;
        if (sscanf(p + 3, "%199s %15s %63s %zu", c->id, c->expect, c->category, &rawlen) != 4) {
            fprintf(stderr, "bad record header: %s\n", p);
            exit(2);
        }
        c->raw = (rs_str_t){nl + 1, rawlen};
        p = nl + 1 + rawlen + 1;
        n++;
    }
    *ncases = n;
    return cases;
}

/* ---- libmodsecurity side ---- */

typedef struct st_modsec_result_t {
    idset_t ids;
} modsec_result_t;

static void modsec_log(void *data, const void *msg)
{
    modsec_result_t *r = data;
    const char *s = msg, *p = s;
    while (r != NULL && (p = strstr(p, "[id \"")) != NULL) {
        p += 5;
        idset_add(&r->ids, (uint32_t)strtoul(p, NULL, 10));
    }
}

static int modsec_run(ModSecurity *ms, RulesSet *rules, const rs_request_t *req, modsec_result_t *res)
{
    memset(res, 0, sizeof(*res));
    Transaction *t = msc_new_transaction(ms, rules, res);
    char method[32], uri[65536];
    snprintf(method, sizeof(method), "%.*s", (int)req->method.len, req->method.base);
    snprintf(uri, sizeof(uri), "%.*s", (int)req->uri.len, req->uri.base);
    const char *ver = req->protocol.len > 5 ? req->protocol.base + 5 : "1.1";
    char version[8];
    snprintf(version, sizeof(version), "%.*s", (int)(req->protocol.len > 5 ? req->protocol.len - 5 : 3), ver);
    ModSecurityIntervention it = {.status = 200};
    int status = 0;
    msc_process_connection(t, "127.0.0.1", 40000, "127.0.0.1", 8080);
    msc_process_uri(t, uri, method, version);
    for (size_t i = 0; i < req->nheaders; i++)
        msc_add_n_request_header(t, (const unsigned char *)req->headers[i].name.base, req->headers[i].name.len,
                                 (const unsigned char *)req->headers[i].value.base, req->headers[i].value.len);
    msc_process_request_headers(t);
    /* a disruptive rule's message comes back in the intervention, not through the log callback */
    if (msc_intervention(t, &it) && it.disruptive) {
        status = it.status;
        if (it.log != NULL)
            modsec_log(res, it.log);
    }
    if (status == 0) {
        if (req->body.len)
            msc_append_request_body(t, (const unsigned char *)req->body.base, req->body.len);
        msc_process_request_body(t);
        free(it.log);
        it.log = NULL;
        if (msc_intervention(t, &it) && it.disruptive) {
            status = it.status;
            if (it.log != NULL)
                modsec_log(res, it.log);
        }
    }
    free(it.url);
    free(it.log);
    msc_process_logging(t);
    msc_transaction_cleanup(t);
    return status;
}

/* ---- our side ---- */

static int ours_run(rs_tx_t *tx, rs_db_t *db, const rs_request_t *req, idset_t *ids)
{
    rs_verdict_t v;
    memset(ids, 0, sizeof(*ids));
    rs_tx_begin(tx, db, req);
    rs_tx_run_phase(tx, 1, &v);
    if (v.disposition == RS_PASS)
        rs_tx_run_phase(tx, 2, &v);
    for (size_t i = 0; i < v.nmatches; i++)
        idset_add(ids, v.matches[i].rule_id);
    int status = v.disposition == RS_DENY || v.disposition == RS_DROP ? (v.status ? v.status : 403)
                 : v.disposition == RS_REDIRECT                       ? 302
                                                                      : 0;
    rs_tx_end(tx);
    return status;
}

static char *pl_setup(int pl, int threshold)
{
    char *s;
    if (asprintf(&s,
                 "SecAction \"id:100090,phase:1,pass,nolog,t:none,setvar:tx.paranoia_level=%d,"
                 "setvar:tx.inbound_anomaly_score_threshold=%d,setvar:tx.outbound_anomaly_score_threshold=4\"\n",
                 pl, threshold) < 0)
        abort();
    return s;
}

static double thread_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

typedef struct st_rule_diff_t {
    uint32_t id;
    unsigned only_ours, only_modsec;
} rule_diff_t;

static void count_diff(rule_diff_t *d, size_t *nd, uint32_t id, int ours)
{
    for (size_t i = 0; i < *nd; i++)
        if (d[i].id == id) {
            ours ? d[i].only_ours++ : d[i].only_modsec++;
            return;
        }
    if (*nd < 4096) {
        d[*nd] = (rule_diff_t){id, (unsigned)(ours != 0), (unsigned)(ours == 0)};
        (*nd)++;
    }
}

static int usage(void)
{
    fputs("usage: rules_vs_modsec compare|score|bench --pl N [--threshold N] [--min-identical PCT] [--list] [--rounds R] "
          "[--compiled-only] RAWFILE "
          "RULEFILE...\n",
          stderr);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    const char *mode = argv[1];
    int pl = 1, list = 0, rounds = 3, use_modsec = 0, threshold = 5, compiled_only = 0;
    double min_identical = -1;
    int i = 2;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--pl") == 0 && i + 1 < argc)
            pl = atoi(argv[++i]);
        else if (strcmp(argv[i], "--threshold") == 0 && i + 1 < argc)
            threshold = atoi(argv[++i]);
        else if (strcmp(argv[i], "--min-identical") == 0 && i + 1 < argc)
            min_identical = atof(argv[++i]);
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--list") == 0)
            list = 1;
        else if (strcmp(argv[i], "--modsec") == 0)
            use_modsec = 1;
        else if (strcmp(argv[i], "--compiled-only") == 0)
            compiled_only = 1;
        else
            return usage();
    }
    if (argc - i < 2)
        return usage();
    size_t rawlen, ncases;
    char *rawbuf = read_file(argv[i++], &rawlen);
    raw_case_t *cases = load_cases(rawbuf, rawlen, &ncases);
    char **files = argv + i;
    size_t nfiles = (size_t)(argc - i);

    /* both engines: generated paranoia setup first, then the same files */
    char *setup = pl_setup(pl, threshold);
    rs_source_t *src = calloc(nfiles + 1, sizeof(*src));
    src[0] = (rs_source_t){"<paranoia>", setup, strlen(setup)};
    for (size_t k = 0; k < nfiles; k++)
        src[k + 1] = (rs_source_t){files[k], NULL, 0};
    rs_errors_t errs = {0};
    double t0 = wall_ms();
    rs_compile_opts_t fast = {.use_prefilter = 1, .engine_mode = -1}, slow = {.use_prefilter = 0, .engine_mode = -1};
    rs_db_t *db = rs_db_compile(src, nfiles + 1, &fast, &errs);
    double compile_ms = wall_ms() - t0;
    rs_db_t *refdb = db ? rs_db_compile(src, nfiles + 1, &slow, &errs) : NULL;
    if (db == NULL || refdb == NULL) {
        rs_errors_print(&errs, stderr);
        return 1;
    }
    ModSecurity *ms = msc_init();
    msc_set_connector_info(ms, "edgeproxy-diff");
    msc_set_log_cb(ms, modsec_log);
    RulesSet *rules = msc_create_rules_set();
    const char *err = NULL;
    if (msc_rules_add(rules, setup, &err) < 0) {
        fprintf(stderr, "modsecurity: %s\n", err);
        return 1;
    }
    for (size_t k = 0; k < nfiles; k++)
        if (msc_rules_add_file(rules, files[k], &err) < 0) {
            fprintf(stderr, "modsecurity: %s: %s\n", files[k], err);
            return 1;
        }

    rs_request_t *reqs = calloc(ncases, sizeof(*reqs));
    rs_buf_t *storage = calloc(ncases, sizeof(*storage));
    int *parsed = calloc(ncases, sizeof(int));
    for (size_t k = 0; k < ncases; k++) {
        char perr[256];
        parsed[k] = rs_request_parse_raw(cases[k].raw, &reqs[k], &storage[k], perr, sizeof(perr)) == 0;
        if (!parsed[k])
            fprintf(stderr, "%s: cannot parse request: %s\n", cases[k].id, perr);
    }
    rs_tx_t *tx = rs_tx_new();
    int ret = 0;

    if (strcmp(mode, "compare") == 0) {
        size_t same = 0, total = 0, disp_diff = 0, nd = 0;
        rule_diff_t *diffs = calloc(4096, sizeof(*diffs));
        for (size_t k = 0; k < ncases; k++) {
            if (!parsed[k])
                continue;
            idset_t ours;
            modsec_result_t theirs;
            int s_ours = ours_run(tx, db, &reqs[k], &ours);
            int s_theirs = modsec_run(ms, rules, &reqs[k], &theirs);
            int equal = (s_ours != 0) == (s_theirs != 0);
            if (!equal)
                disp_diff++;
            for (size_t j = 0; j < ours.n; j++)
                if (!idset_has(&theirs.ids, ours.ids[j])) {
                    equal = 0;
                    count_diff(diffs, &nd, ours.ids[j], 1);
                }
            for (size_t j = 0; j < theirs.ids.n; j++)
                if (!idset_has(&ours, theirs.ids.ids[j])) {
                    equal = 0;
                    count_diff(diffs, &nd, theirs.ids.ids[j], 0);
                }
            total++;
            same += equal;
            if (!equal && list) {
                printf("DIFF %s ours=%d modsec=%d:", cases[k].id, s_ours, s_theirs);
                for (size_t j = 0; j < ours.n; j++)
                    if (!idset_has(&theirs.ids, ours.ids[j]))
                        printf(" +%u", ours.ids[j]);
                for (size_t j = 0; j < theirs.ids.n; j++)
                    if (!idset_has(&ours, theirs.ids.ids[j]))
                        printf(" -%u", theirs.ids.ids[j]);
                printf("\n");
            }
        }
        double pct = total ? 100.0 * (double)same / (double)total : 0;
        printf("PL%d: %zu requests, %zu identical (%.2f%%), %zu disposition differences\n", pl, total, same, pct, disp_diff);
        printf("per rule: id only-ours only-modsec\n");
        for (size_t k = 0; k < nd; k++)
            printf("  %u %u %u\n", diffs[k].id, diffs[k].only_ours, diffs[k].only_modsec);
        if (min_identical >= 0 && pct + 1e-9 < min_identical) {
            printf("FAIL: identical %.2f%% < required %.2f%%\n", pct, min_identical);
            ret = 1;
        }
        free(diffs);
    } else if (strcmp(mode, "score") == 0) {
        typedef struct {
            char name[64];
            unsigned attacks, blocked, legit, false_pos;
        } cat_t;
        cat_t cats[128];
        size_t ncats = 0, nd = 0;
        rule_diff_t *fp_rules = calloc(4096, sizeof(*fp_rules));
        unsigned attacks = 0, blocked = 0, legit = 0, false_pos = 0;
        for (size_t k = 0; k < ncases; k++) {
            if (!parsed[k])
                continue;
            idset_t ids;
            modsec_result_t mr;
            int status = use_modsec ? modsec_run(ms, rules, &reqs[k], &mr) : ours_run(tx, db, &reqs[k], &ids);
            if (use_modsec)
                ids = mr.ids;
            int is_block = status == 403;
            size_t c = 0;
            while (c < ncats && strcmp(cats[c].name, cases[k].category) != 0)
                c++;
            if (c == ncats && ncats < 128) {
                memset(&cats[ncats], 0, sizeof(cats[0]));
                snprintf(cats[ncats].name, sizeof(cats[0].name), "%s", cases[k].category);
                ncats++;
            }
            int attack = strcmp(cases[k].expect, "block") == 0;
            if (attack) {
                attacks++;
                blocked += is_block;
                if (c < ncats) {
                    cats[c].attacks++;
                    cats[c].blocked += is_block;
                }
                if (!is_block && list)
                    printf("MISS %s\n", cases[k].id);
            } else {
                legit++;
                false_pos += is_block;
                if (c < ncats) {
                    cats[c].legit++;
                    cats[c].false_pos += is_block;
                }
                if (is_block) {
                    for (size_t j = 0; j < ids.n; j++)
                        count_diff(fp_rules, &nd, ids.ids[j], 1);
                    if (list) {
                        printf("FP %s:", cases[k].id);
                        for (size_t j = 0; j < ids.n; j++)
                            printf(" %u", ids.ids[j]);
                        printf("\n");
                    }
                }
            }
        }
        printf("%s PL%d: TPR %.1f%% (%u/%u)  FPR %.1f%% (%u/%u)\n", use_modsec ? "libmodsecurity" : "edgeproxy", pl,
               attacks ? 100.0 * blocked / attacks : 0, blocked, attacks, legit ? 100.0 * false_pos / legit : 0, false_pos, legit);
        printf("%-22s %8s %8s\n", "category", "TPR", "FPR");
        for (size_t c = 0; c < ncats; c++) {
            char tpr[32] = "-", fpr[32] = "-";
            if (cats[c].attacks)
                snprintf(tpr, sizeof(tpr), "%.1f%%", 100.0 * cats[c].blocked / cats[c].attacks);
            if (cats[c].legit)
                snprintf(fpr, sizeof(fpr), "%.1f%%", 100.0 * cats[c].false_pos / cats[c].legit);
            printf("%-22s %8s %8s\n", cats[c].name, tpr, fpr);
        }
        printf("rules matched on blocked legitimate requests: id count\n");
        for (size_t j = 0; j < nd; j++)
            printf("  %u %u\n", fp_rules[j].id, fp_rules[j].only_ours);
        free(fp_rules);
    } else if (strcmp(mode, "bench") == 0) {
        double best[3] = {0, 0, 0};
        for (int r = 0; r < rounds; r++) {
            for (int e = 0; e < (compiled_only ? 1 : 3); e++) {
                double s0 = thread_seconds();
                size_t n = 0;
                for (size_t k = 0; k < ncases; k++) {
                    if (!parsed[k])
                        continue;
                    idset_t ids;
                    modsec_result_t mr;
                    if (e == 0)
                        ours_run(tx, db, &reqs[k], &ids);
                    else if (e == 1)
                        ours_run(tx, refdb, &reqs[k], &ids);
                    else
                        modsec_run(ms, rules, &reqs[k], &mr);
                    n++;
                }
                double rps = (double)n / (thread_seconds() - s0);
                if (rps > best[e])
                    best[e] = rps;
            }
        }
        rs_db_stats_t st;
        rs_db_stats(db, &st);
        printf("PL%d, %zu requests, best of %d rounds, requests/s per core (thread CPU time):\n", pl, ncases, rounds);
        printf("  compiled database (prefilter): %10.0f\n", best[0]);
        if (!compiled_only) {
            printf("  reference evaluator:           %10.0f\n", best[1]);
            printf("  libmodsecurity 3.0.9:          %10.0f\n", best[2]);
            printf("  speedup vs libmodsecurity: %.1fx, vs reference: %.1fx\n", best[0] / best[2], best[0] / best[1]);
        }
        printf("  compile: %.0f ms wall; database: %.1f MB; rules %u; regexes %u (prefiltered %u, unfiltered %u)\n", compile_ms,
               (double)st.memory_bytes / 1048576.0, st.rules, st.regexes, st.prefiltered, st.unfiltered);
    } else {
        ret = usage();
    }

    rs_tx_free(tx);
    for (size_t k = 0; k < ncases; k++) {
        if (parsed[k])
            rs_request_free_parsed(&reqs[k]);
        rs_buf_free(&storage[k]);
    }
    free(reqs);
    free(storage);
    free(parsed);
    rs_db_release(db);
    rs_db_release(refdb);
    rs_errors_free(&errs);
    msc_rules_cleanup(rules);
    msc_cleanup(ms);
    free(src);
    free(setup);
    free(cases);
    free(rawbuf);
    return ret;
}
