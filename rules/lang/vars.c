/* SPDX-License-Identifier: MIT */
/* The table of variables the SecRule language knows (generated from RS_VARIABLES in ir.h) and the
 * case-insensitive name lookup used by the parser, macros and the engine. */
#include <string.h>
#include <strings.h>
#include "ir.h"

#define RS_VAR_ROW_(id, name, flags) {name, flags},
const rs_var_info_t rs_var_table[RS_VAR__COUNT] = {RS_VARIABLES(RS_VAR_ROW_)};
#undef RS_VAR_ROW_

int rs_var_lookup(rs_str_t name)
{
    for (int i = 0; i < RS_VAR__COUNT; i++) {
        if (rs_str_ieq(name, rs_var_table[i].name))
            return i;
    }
    /* ModSecurity v3 accepts this older spelling too */
    if (rs_str_ieq(name, "MULTIPART_SEMICOLON_MISSING"))
        return RS_VAR_MULTIPART_MISSING_SEMICOLON;
    return -1;
}
