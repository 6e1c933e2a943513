/* SPDX-License-Identifier: MIT */
/* Private to the @detectSQLi tokenizer: the SQL words it knows (keywords, logic operators, functions) with their
 * token class and, for the few the rules look at individually, an id. */
#ifndef RS_DETECT_SQLI_WORDS_H
#define RS_DETECT_SQLI_WORDS_H

#include <stddef.h>

enum {
    SW_NONE = 0,
    SW_SELECT,
    SW_INSERT,
    SW_UPDATE,
    SW_DELETE,
    SW_DROP,
    SW_CREATE,
    SW_ALTER,
    SW_TRUNCATE,
    SW_EXEC,
    SW_DECLARE,
    SW_SHUTDOWN,
    SW_FROM,
    SW_INTO,
    SW_VALUES,
    SW_SET,
    SW_ALL,
    SW_DISTINCT,
    SW_TOP,
    SW_BY,
    SW_ORDER,
    SW_GROUP,
    SW_LIMIT,
    SW_TABLE_LIKE, /* TABLE, DATABASE, SCHEMA, VIEW, ... after CREATE/DROP/ALTER */
    SW_WAITFOR,
    SW_DELAY,
    SW_TIME,
    SW_NOT,
    SW_IS,
    SW_IN,
    SW_AS,
    SW_OUTFILE,
    SW_WHERE,
};

typedef struct {
    const char *name;            /* lower case */
    char cls;                    /* token class character, see detect_sqli.c */
    unsigned char id;            /* SW_* */
    unsigned char risky;         /* functions with no business at the start of a value (sleep, load_file...) */
    unsigned char also_function; /* keyword that is a function when called: IF(, REPLACE(, EXISTS( */
} sql_word;

/** Case-insensitive lookup of `s[0..n)`; NULL when it is not a known SQL word. */
const sql_word *sql_word_lookup(const char *s, size_t n);

/** The words of the table, for building filters over them: count and the i-th entry. */
size_t sql_word_count(void);
const sql_word *sql_word_at(size_t i);

/** Returns 1 when every word of the table is found by sql_word_lookup (the hash index is up to date). */
int sql_word_table_check(void);

#endif
