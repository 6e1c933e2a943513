/* SPDX-License-Identifier: MIT */
/* Fuzz target for the config loader: YAML text -> ep_doc_parse -> the full generation build (core sections and
 * every linked module's on_config) -> free. Checks that errors always carry a message and that a document the
 * loader accepts yields a complete configuration. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf_node.h"
#include "generation.h"
#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        ep_modules_global_init();
        ready = 1;
    }
    rs_errors_t errs = {0};
    ep_doc_t *doc = ep_doc_parse("fuzz.yaml", (const char *)data, size, &errs);
    if (doc != NULL)
        ep_doc_free(doc);
    else
        assert(errs.count != 0);
    rs_errors_free(&errs);

    ep_generation_t *gen = ep_generation_build_text("fuzz.yaml", (const char *)data, size, NULL, 1, &errs);
    if (gen != NULL) {
        assert(errs.count == 0);
        assert(gen->conf != NULL && gen->conf->nlisten >= 1 && gen->conf->threads >= 1);
        ep_generation_release(gen);
    } else {
        assert(errs.count != 0);
        for (size_t i = 0; i < errs.count; ++i)
            assert(errs.items[i].message != NULL && errs.items[i].message[0] != '\0');
    }
    rs_errors_free(&errs);
    return 0;
}
