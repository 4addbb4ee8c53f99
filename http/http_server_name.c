/*
 * server_name parsing, and the per-address sets Host is matched against: three
 * hash tables (exact names, the suffixes of leading wildcards, the prefixes of
 * trailing ones) probed once per label of the host, then the regexes in order.
 */
#include "http/http_server_name.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct {
    px_str_t key;
    const http_server_name_t *sn;
    void *conf;
    int used;
    /*
     * A `.example.com` that conflicts on its wildcard half has already claimed
     * example.com in nginx: later servers conflict on it, yet it routes nowhere.
     */
    int live;
} slot_t;

typedef struct {
    slot_t *slots;
    size_t cap;
    size_t count;
} table_t;

typedef struct {
    const http_server_name_t *sn;
    void *conf;
} regex_entry_t;

struct http_server_names_s {
    table_t exact;
    table_t leading;
    table_t trailing;
    regex_entry_t *regexes;
    size_t nregexes;
    size_t regexes_cap;
};

static int has_upper(px_str_t s)
{
    for (size_t i = 0; i < s.len; i++) {
        if (s.data[i] >= 'A' && s.data[i] <= 'Z')
            return 1;
    }
    return 0;
}

/* nginx's wildcard rules: one '*' at most, no "..", no NUL, and '*' only as "*." or ".*". */
static http_server_name_kind_t classify(px_str_t name)
{
    const char *p = name.data;
    size_t len = name.len, stars = 0;

    for (size_t i = 0; i < len; i++) {
        if (p[i] == '*' && ++stars > 1)
            return HTTP_SERVER_NAME_INVALID;
        if ((p[i] == '.' && i + 1 < len && p[i + 1] == '.') || p[i] == '\0')
            return HTTP_SERVER_NAME_INVALID;
    }
    if (len > 1 && p[0] == '.')
        return HTTP_SERVER_NAME_DOT;
    if (len > 2 && p[0] == '*' && p[1] == '.')
        return HTTP_SERVER_NAME_LEADING;
    if (len > 2 && p[len - 2] == '.' && p[len - 1] == '*')
        return HTTP_SERVER_NAME_TRAILING;
    return stars ? HTTP_SERVER_NAME_INVALID : HTTP_SERVER_NAME_EXACT;
}

int http_server_name_parse(px_str_t text, http_server_name_t *sn, char *err, size_t err_size)
{
    int warned = 0;
    int tlen = (int)text.len;

    memset(sn, 0, sizeof(*sn));
    if (text.len
        && ((text.data[0] == '*' && (text.len < 3 || text.data[1] != '.'))
            || (text.data[0] == '.' && text.len < 2))) {
        if (err && err_size)
            snprintf(err, err_size, "server name \"%.*s\" is invalid", tlen, text.data);
        return PX_ERROR;
    }
    if (text.len && memchr(text.data, '/', text.len)) {
        if (err && err_size)
            snprintf(err, err_size, "server name \"%.*s\" has suspicious symbols", tlen, text.data);
        warned = 1;
    }

    if (text.len && text.data[0] == '~') {
        if (text.len == 1) {
            if (err && err_size)
                snprintf(err, err_size, "empty regex in server name \"%.*s\"", tlen, text.data);
            return PX_ERROR;
        }
        px_str_t pattern = px_str_make(text.data + 1, text.len - 1);
        sn->regex =
            px_regex_compile(pattern, has_upper(pattern) ? PX_REGEX_CASELESS : 0, err, err_size);
        if (sn->regex == NULL)
            return PX_ERROR;
        sn->kind = HTTP_SERVER_NAME_REGEX;
        sn->name = px_regex_pattern(sn->regex);
        return warned ? PX_DECLINED : PX_OK;
    }

    char *lower = malloc(text.len + 1);
    if (lower == NULL) {
        if (err && err_size)
            snprintf(err, err_size, "server name \"%.*s\": out of memory", tlen, text.data);
        return PX_ERROR;
    }
    for (size_t i = 0; i < text.len; i++)
        lower[i] = px_tolower(text.data[i]);
    lower[text.len] = '\0';
    sn->name = px_str_make(lower, text.len);
    sn->kind = classify(sn->name);
    return warned ? PX_DECLINED : PX_OK;
}

void http_server_name_free(http_server_name_t *sn)
{
    if (sn->regex)
        px_regex_free(sn->regex);
    else
        free((char *)sn->name.data);
    memset(sn, 0, sizeof(*sn));
}

static uint64_t hash_key(const char *p, size_t len)
{
    uint64_t h = 14695981039346656037ULL;

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static slot_t *table_slot(const table_t *t, const char *key, size_t len)
{
    if (t->cap == 0)
        return NULL;
    size_t mask = t->cap - 1;
    for (size_t i = hash_key(key, len) & mask;; i = (i + 1) & mask) {
        slot_t *s = &t->slots[i];
        if (!s->used || (s->key.len == len && (len == 0 || memcmp(s->key.data, key, len) == 0)))
            return s;
    }
}

static const slot_t *table_find(const table_t *t, const char *key, size_t len)
{
    const slot_t *s = table_slot(t, key, len);
    return s && s->used && s->live ? s : NULL;
}

static int table_has(const table_t *t, px_str_t key)
{
    const slot_t *s = table_slot(t, key.data, key.len);
    return s && s->used;
}

static int table_grow(table_t *t)
{
    size_t cap = t->cap ? t->cap * 2 : 16;
    slot_t *slots = calloc(cap, sizeof(*slots));

    if (slots == NULL)
        return PX_ERROR;
    table_t grown = {slots, cap, t->count};
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i].used)
            *table_slot(&grown, t->slots[i].key.data, t->slots[i].key.len) = t->slots[i];
    }
    free(t->slots);
    *t = grown;
    return PX_OK;
}

/* The caller has checked that key is not in the table. */
static slot_t *table_insert(table_t *t, px_str_t key, const http_server_name_t *sn, void *conf,
                            int live)
{
    if ((t->count + 1) * 10 > t->cap * 7 && table_grow(t) != PX_OK)
        return NULL;
    slot_t *s = table_slot(t, key.data, key.len);
    s->key = key;
    s->sn = sn;
    s->conf = conf;
    s->used = 1;
    s->live = live;
    t->count++;
    return s;
}

http_server_names_t *http_server_names_create(void)
{
    return calloc(1, sizeof(http_server_names_t));
}

void http_server_names_free(http_server_names_t *set)
{
    if (set == NULL)
        return;
    free(set->exact.slots);
    free(set->leading.slots);
    free(set->trailing.slots);
    free(set->regexes);
    free(set);
}

static int add_regex(http_server_names_t *set, const http_server_name_t *sn, void *conf)
{
    if (set->nregexes == set->regexes_cap) {
        size_t cap = set->regexes_cap ? set->regexes_cap * 2 : 4;
        regex_entry_t *grown = realloc(set->regexes, cap * sizeof(*grown));
        if (grown == NULL)
            return PX_ERROR;
        set->regexes = grown;
        set->regexes_cap = cap;
    }
    set->regexes[set->nregexes].sn = sn;
    set->regexes[set->nregexes].conf = conf;
    set->nregexes++;
    return PX_OK;
}

int http_server_names_add(http_server_names_t *set, const http_server_name_t *sn, void *conf,
                          px_str_t addr, char *err, size_t err_size)
{
    px_str_t name = sn->name, key = name;
    table_t *table = NULL;
    int conflict = 0, rc = PX_OK;

    switch (sn->kind) {
    case HTTP_SERVER_NAME_REGEX:
        rc = add_regex(set, sn, conf);
        break;
    case HTTP_SERVER_NAME_INVALID:
        if (err && err_size)
            snprintf(err, err_size, "invalid server name or wildcard \"%.*s\" on %.*s",
                     (int)name.len, name.data, (int)addr.len, addr.data);
        return PX_ERROR;
    case HTTP_SERVER_NAME_EXACT:
        table = &set->exact;
        break;
    case HTTP_SERVER_NAME_LEADING:
        table = &set->leading;
        key = px_str_make(name.data + 2, name.len - 2);
        break;
    case HTTP_SERVER_NAME_TRAILING:
        table = &set->trailing;
        key = px_str_make(name.data, name.len - 2);
        break;
    case HTTP_SERVER_NAME_DOT: {
        px_str_t bare = px_str_make(name.data + 1, name.len - 1);
        if (table_has(&set->exact, bare)) {
            conflict = 1;
            break;
        }
        /* Claimed before the wildcard half is checked, as nginx does. */
        slot_t *exact = table_insert(&set->exact, bare, sn, conf, 0);
        if (exact == NULL) {
            rc = PX_ERROR;
            break;
        }
        if (table_has(&set->leading, bare)) {
            conflict = 1;
            break;
        }
        if (table_insert(&set->leading, bare, sn, conf, 1) == NULL) {
            rc = PX_ERROR;
            break;
        }
        exact->live = 1;
        break;
    }
    }

    if (table) {
        if (table_has(table, key))
            conflict = 1;
        else if (table_insert(table, key, sn, conf, 1) == NULL)
            rc = PX_ERROR;
    }
    if (rc != PX_OK) {
        if (err && err_size)
            snprintf(err, err_size, "server name \"%.*s\": out of memory", (int)name.len,
                     name.data);
        return PX_ERROR;
    }
    if (conflict) {
        if (err && err_size)
            snprintf(err, err_size, "conflicting server name \"%.*s\" on %.*s, ignored",
                     (int)name.len, name.data, (int)addr.len, addr.data);
        return PX_DECLINED;
    }
    return PX_OK;
}

static int found(http_server_names_match_t *m, const slot_t *s)
{
    m->name = s->sn;
    m->conf = s->conf;
    return PX_OK;
}

int http_server_names_find(const http_server_names_t *set, const char *host, size_t len,
                           http_server_names_match_t *m)
{
    const slot_t *s;

    m->name = NULL;
    m->conf = NULL;
    m->regex = NULL;
    m->npairs = 0;

    if ((s = table_find(&set->exact, host, len)))
        return found(m, s);

    /* The leftmost dot leaves the longest suffix; "*." needs a label before it. */
    for (size_t i = 1; set->leading.count && i < len; i++) {
        if (host[i] == '.' && (s = table_find(&set->leading, host + i + 1, len - i - 1)))
            return found(m, s);
    }

    /* The rightmost dot leaves the longest prefix; ".*" needs a label after it. */
    for (size_t i = len; set->trailing.count && i-- > 0;) {
        if (host[i] == '.' && i + 1 < len && (s = table_find(&set->trailing, host, i)))
            return found(m, s);
    }

    for (size_t i = 0; i < set->nregexes; i++) {
        const http_server_name_t *sn = set->regexes[i].sn;
        int n = px_regex_exec(sn->regex, host, len, m->captures, PX_REGEX_MAX_PAIRS);

        if (n == PX_DECLINED)
            continue;
        if (n < 0)
            return PX_ERROR;
        m->name = sn;
        m->conf = set->regexes[i].conf;
        m->regex = sn->regex;
        m->npairs = n;
        return PX_OK;
    }
    return PX_DECLINED;
}
