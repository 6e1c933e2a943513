/* SPDX-License-Identifier: MIT */
/* Facts the embedding program hands to the rules before phase 1 (e.g. the tenant, as TX:edgeproxy_tenant),
 * so rule files can key exclusions and policy on what the proxy already decided. */
#include <string.h>

#include "engine_internal.h"

void rs_tx_set_var(rs_tx_t *tx, const char *key, rs_str_t value)
{
    if (tx->db == NULL)
        return;
    rs_tx_coll_set(tx, RS_VAR_TX, rs_str(key, strlen(key)), value);
}
