/* SPDX-License-Identifier: MIT */
/* Fuzzes what the admin API reads from request bodies: the PUT /canary/{service} body (weights must come out
 * in 0..10000 basis points or be refused with a message), the JSON reader under it, and percentage parsing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "canary.h"
#include "jwt_json.h"
#include "split.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t bp = 99999;
    char reason[128], err[300];
    err[0] = '\0';
    int r = ep_canary_parse_weight_body((const char *)data, size, &bp, reason, sizeof(reason), err, sizeof(err));
    if (r == 0 && bp > EP_SPLIT_SCALE)
        abort();
    if (r != 0 && err[0] == '\0')
        abort();

    char jerr[160];
    ep_json_doc_t *doc = ep_json_parse((const char *)data, size, 8, jerr, sizeof(jerr));
    if (doc != NULL) {
        rs_buf_t out = {0};
        const ep_json_t *root = ep_json_root(doc);
        if (root->type == EP_JSON_STRING)
            ep_json_quote(&out, root->str, root->len);
        rs_buf_free(&out);
        ep_json_free(doc);
    }

    uint32_t pb;
    if (ep_split_parse_percent((const char *)data, size, &pb) == 0 && pb > EP_SPLIT_SCALE)
        abort();
    return 0;
}
