/* SPDX-License-Identifier: MIT */
/* Persistent collections (IP, GLOBAL, SESSION, USER, RESOURCE): one in-memory store per process shared by
 * all transactions under a mutex, as ModSecurity v3's in-memory backend. Entries expire by expirevar, or
 * SecCollectionTimeout seconds after their last write, so per-client keys do not grow without bound.
 * Also the transaction arena and key/value lists, the small allocators everything else builds on. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_internal.h"

/* ---- arena ------------------------------------------------------------------------------------------ */

#define ARENA_BLOCK 65536

void *rs_arena_alloc(rs_arena_t *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    rs_arena_block_t *b = a->cur;
    if (b != NULL && b->cap - b->used >= n) {
        void *p = b->data + b->used;
        b->used += n;
        return p;
    }
    /* try the blocks after the current one (kept from earlier requests) */
    while (b != NULL && b->next != NULL) {
        b = b->next;
        b->used = 0;
        if (b->cap >= n) {
            a->cur = b;
            b->used = n;
            return b->data;
        }
    }
    size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
    rs_arena_block_t *nb = malloc(sizeof(*nb) + cap);
    if (nb == NULL)
        abort();
    nb->cap = cap;
    nb->used = n;
    nb->next = NULL;
    if (b == NULL)
        a->first = nb;
    else {
        nb->next = b->next;
        b->next = nb;
    }
    a->cur = nb;
    return nb->data;
}

char *rs_arena_dup(rs_arena_t *a, const char *s, size_t n)
{
    char *p = rs_arena_alloc(a, n + 1);
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void rs_arena_reset(rs_arena_t *a)
{
    a->cur = a->first;
    if (a->first != NULL)
        a->first->used = 0;
}

void rs_arena_free(rs_arena_t *a)
{
    rs_arena_block_t *b = a->first;
    while (b != NULL) {
        rs_arena_block_t *n = b->next;
        free(b);
        b = n;
    }
    a->first = a->cur = NULL;
}

void rs_kvlist_push(rs_kvlist_t *l, rs_str_t key, rs_str_t value)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        rs_kv_t *items = realloc(l->items, cap * sizeof(*items));
        if (items == NULL)
            abort();
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n++] = (rs_kv_t){key, value};
}

/* ---- persistent store ------------------------------------------------------------------------------- */

typedef struct st_store_ent_t {
    struct st_store_ent_t *next;
    uint16_t var;
    char *ckey, *key, *value; /* key lower-cased */
    size_t ckey_len, key_len, value_len;
    time_t expires; /* 0: never */
} store_ent_t;

#define STORE_BUCKETS 4096

static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static store_ent_t *store_tab[STORE_BUCKETS];
static size_t store_writes;

static uint32_t store_hash(int var, rs_str_t ckey, rs_str_t key)
{
    uint32_t h = 2166136261u ^ (uint32_t)var;
    for (size_t i = 0; i < ckey.len; i++)
        h = (h ^ (uint8_t)ckey.base[i]) * 16777619u;
    h = (h ^ 0xff) * 16777619u;
    for (size_t i = 0; i < key.len; i++) {
        uint8_t c = (uint8_t)key.base[i];
        if (c >= 'A' && c <= 'Z')
            c += 32;
        h = (h ^ c) * 16777619u;
    }
    return h % STORE_BUCKETS;
}

static int ent_is(const store_ent_t *e, int var, rs_str_t ckey, rs_str_t key)
{
    return e->var == var && e->ckey_len == ckey.len && memcmp(e->ckey, ckey.base, ckey.len) == 0 &&
           rs_str_ieq2(rs_str(e->key, e->key_len), key);
}

static void ent_free(store_ent_t *e)
{
    free(e->ckey);
    free(e->key);
    free(e->value);
    free(e);
}

/* Drops expired entries of one chain; called with the lock held. */
static void sweep_chain(store_ent_t **slot, time_t now)
{
    while (*slot != NULL) {
        store_ent_t *e = *slot;
        if (e->expires != 0 && e->expires <= now) {
            *slot = e->next;
            ent_free(e);
        } else
            slot = &e->next;
    }
}

int rs_store_get(int var, rs_str_t ckey, rs_str_t key, rs_arena_t *a, rs_str_t *out)
{
    int found = 0;
    time_t now = time(NULL);
    pthread_mutex_lock(&store_lock);
    uint32_t h = store_hash(var, ckey, key);
    sweep_chain(&store_tab[h], now);
    for (store_ent_t *e = store_tab[h]; e != NULL; e = e->next)
        if (ent_is(e, var, ckey, key)) {
            *out = rs_str(rs_arena_dup(a, e->value, e->value_len), e->value_len);
            found = 1;
            break;
        }
    pthread_mutex_unlock(&store_lock);
    return found;
}

void rs_store_list(int var, rs_str_t ckey, rs_arena_t *a, rs_kvlist_t *out)
{
    time_t now = time(NULL);
    pthread_mutex_lock(&store_lock);
    for (size_t h = 0; h < STORE_BUCKETS; h++) {
        sweep_chain(&store_tab[h], now);
        for (store_ent_t *e = store_tab[h]; e != NULL; e = e->next)
            if (e->var == var && e->ckey_len == ckey.len && memcmp(e->ckey, ckey.base, ckey.len) == 0)
                rs_kvlist_push(out, rs_str(rs_arena_dup(a, e->key, e->key_len), e->key_len),
                               rs_str(rs_arena_dup(a, e->value, e->value_len), e->value_len));
    }
    pthread_mutex_unlock(&store_lock);
}

void rs_store_set(int var, rs_str_t ckey, rs_str_t key, rs_str_t value, uint32_t timeout)
{
    time_t now = time(NULL);
    pthread_mutex_lock(&store_lock);
    uint32_t h = store_hash(var, ckey, key);
    store_ent_t *e = store_tab[h];
    while (e != NULL && !ent_is(e, var, ckey, key))
        e = e->next;
    if (e == NULL) {
        e = calloc(1, sizeof(*e));
        if (e == NULL)
            abort();
        e->var = (uint16_t)var;
        e->ckey = rs_strndup(ckey.base, ckey.len);
        e->ckey_len = ckey.len;
        e->key = rs_strndup(key.base, key.len);
        for (size_t i = 0; i < key.len; i++)
            if (e->key[i] >= 'A' && e->key[i] <= 'Z')
                e->key[i] += 32;
        e->key_len = key.len;
        e->next = store_tab[h];
        store_tab[h] = e;
    } else
        free(e->value);
    e->value = rs_strndup(value.base, value.len);
    e->value_len = value.len;
    if (timeout != 0)
        e->expires = now + timeout;
    /* an occasional full sweep bounds the memory of keys nobody reads again */
    if (++store_writes % 4096 == 0)
        for (size_t i = 0; i < STORE_BUCKETS; i++)
            sweep_chain(&store_tab[i], now);
    pthread_mutex_unlock(&store_lock);
}

void rs_store_del(int var, rs_str_t ckey, rs_str_t key)
{
    pthread_mutex_lock(&store_lock);
    store_ent_t **slot = &store_tab[store_hash(var, ckey, key)];
    while (*slot != NULL) {
        if (ent_is(*slot, var, ckey, key)) {
            store_ent_t *e = *slot;
            *slot = e->next;
            ent_free(e);
            break;
        }
        slot = &(*slot)->next;
    }
    pthread_mutex_unlock(&store_lock);
}

void rs_store_expire(int var, rs_str_t ckey, rs_str_t key, long seconds)
{
    pthread_mutex_lock(&store_lock);
    for (store_ent_t *e = store_tab[store_hash(var, ckey, key)]; e != NULL; e = e->next)
        if (ent_is(e, var, ckey, key)) {
            e->expires = time(NULL) + (seconds > 0 ? seconds : 0);
            break;
        }
    pthread_mutex_unlock(&store_lock);
}

void rs_store_clear(void)
{
    pthread_mutex_lock(&store_lock);
    for (size_t i = 0; i < STORE_BUCKETS; i++) {
        while (store_tab[i] != NULL) {
            store_ent_t *e = store_tab[i];
            store_tab[i] = e->next;
            ent_free(e);
        }
    }
    pthread_mutex_unlock(&store_lock);
}
