/* SPDX-License-Identifier: MIT */
/* Fuzzes the tenant map reader: any input either loads (and then every tenant is found again by its id, in any
 * case) or is refused with positioned errors. The input's first line is also used as a Host for the wildcard
 * and preview-capture matchers and for template expansion. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "tenant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rs_errors_t errs = {0};
    ep_tenant_map_t *m = ep_tenant_map_parse("fuzz.yaml", (const char *)data, size, &errs);
    if (m != NULL) {
        if (errs.count != 0)
            abort();
        for (size_t i = 0; i < ep_tenant_map_count(m); i++) {
            const ep_tenant_t *t = ep_tenant_map_at(m, i);
            char upper[EP_TENANT_ID_MAX + 1];
            for (size_t k = 0; k < t->id_len; k++)
                upper[k] = (char)toupper((unsigned char)t->id[k]);
            if (ep_tenant_map_find(m, t->id, t->id_len) != t || ep_tenant_map_find(m, upper, t->id_len) != t ||
                ep_tenant_from_id(t->id) != t)
                abort();
            if (t->placement == EP_PLACEMENT_SINGLE && t->upstream == NULL)
                abort();
        }
        ep_tenant_map_free(m);
    } else {
        for (size_t i = 0; i < errs.count; i++)
            if (errs.items[i].message == NULL)
                abort();
    }
    rs_errors_free(&errs);

    const char *nl = memchr(data, '\n', size);
    size_t hlen = nl != NULL ? (size_t)(nl - (const char *)data) : size;
    const char *label, *cap;
    size_t n = ep_host_wildcard_match(".demo.test", (const char *)data, hlen, &label);
    if (n > 0 && !ep_tenant_id_valid(label, n))
        abort();
    n = ep_host_capture_match("pr-{n}.preview.test", (const char *)data, hlen, &cap);
    if (n > 0) {
        char out[128];
        if (ep_template_expand("127.0.0.1:{n}", cap, n, out, sizeof(out)) == 0 && strlen(out) != 10 + n)
            abort();
    }
    return 0;
}
