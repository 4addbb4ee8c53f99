/* map: variables whose value is looked up from another value (exact, hostnames, regex).
 * `map string $var { ... }` compiles its block at load into a key table (http_map.h), a list
 * of regexes in the order written and compiled values; the variable is computed when first
 * read and cached for the request unless the map is `volatile`. */
#include "http/http_map.h"

#include <stddef.h>

#include "core/px_log.h"
#include "http/http_core.h"
#include "http/http_regex.h"
#include "http/http_variables.h"

/* ---- the key table ---- */

/* Three sets of names, as nginx keeps them: exact keys (plus "example.com" for each
 * ".example.com", which only serves to find conflicts), head wildcards by their suffix
 * ("example.com") and tail wildcards by their prefix with its dot ("www.example."). */
enum { NS_EXACT, NS_HEAD, NS_TAIL };
enum { KIND_EXACT, KIND_SHADOW, KIND_STAR, KIND_DOT, KIND_TAIL };

typedef struct {
    px_str_t key; /* lowercase */
    unsigned ns;
    unsigned kind;
    void *value;
} map_key_t;

struct http_map_table {
    px_pool_t *pool;
    map_key_t **slots; /* open addressing, a power of two in size */
    size_t cap;
    size_t used;
    size_t nwild; /* head and tail wildcards: lookups skip them when there are none */
};

static size_t key_hash(unsigned ns, px_str_t s)
{
    uint64_t h = 1469598103934665603ull ^ ns;
    for (size_t i = 0; i < s.len; i++) {
        h ^= (unsigned char)px_tolower(s.data[i]);
        h *= 1099511628211ull;
    }
    return (size_t)(h ^ (h >> 29));
}

static map_key_t **find_slot(map_key_t **slots, size_t cap, unsigned ns, px_str_t s)
{
    size_t i = key_hash(ns, s) & (cap - 1);
    while (slots[i] && (slots[i]->ns != ns || !px_str_caseeq(slots[i]->key, s)))
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

static map_key_t *get(const http_map_table_t *t, unsigned ns, px_str_t s)
{
    if (t->used == 0)
        return NULL;
    return *find_slot(t->slots, t->cap, ns, s);
}

static int grow(http_map_table_t *t)
{
    size_t cap = t->cap ? t->cap * 2 : 16;
    map_key_t **slots = px_pcalloc(t->pool, cap * sizeof(*slots));
    if (slots == NULL)
        return PX_ERROR;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i])
            *find_slot(slots, cap, t->slots[i]->ns, t->slots[i]->key) = t->slots[i];
    }
    t->slots = slots;
    t->cap = cap;
    return PX_OK;
}

static int insert(http_map_table_t *t, unsigned ns, unsigned kind, px_str_t key, void *value)
{
    if ((t->used + 1) * 2 > t->cap && grow(t) != PX_OK)
        return PX_ERROR;
    map_key_t **slot = find_slot(t->slots, t->cap, ns, key);
    if (*slot)
        return PX_BUSY;
    map_key_t *k = px_palloc(t->pool, sizeof(*k));
    char *low = px_palloc(t->pool, key.len + 1);
    if (k == NULL || low == NULL)
        return PX_ERROR;
    for (size_t i = 0; i < key.len; i++)
        low[i] = px_tolower(key.data[i]);
    low[key.len] = '\0';
    *k = (map_key_t){px_str_make(low, key.len), ns, kind, value};
    *slot = k;
    t->used++;
    if (ns != NS_EXACT)
        t->nwild++;
    return PX_OK;
}

http_map_table_t *http_map_table_create(px_pool_t *pool)
{
    http_map_table_t *t = px_pcalloc(pool, sizeof(*t));
    if (t)
        t->pool = pool;
    return t;
}

/* nginx's accepted wildcard forms: one '*' at most, no empty label, no NUL. */
static int wildcard_ok(px_str_t key, size_t *stars)
{
    *stars = 0;
    for (size_t i = 0; i < key.len; i++) {
        if (key.data[i] == '*' && ++*stars > 1)
            return 0;
        if (key.data[i] == '.' && i + 1 < key.len && key.data[i + 1] == '.')
            return 0;
        if (key.data[i] == '\0')
            return 0;
    }
    return 1;
}

int http_map_table_add(http_map_table_t *t, px_str_t key, int hostnames, void *value)
{
    if (hostnames) {
        size_t stars;
        if (!wildcard_ok(key, &stars))
            return PX_DECLINED;
        if (key.len > 1 && key.data[0] == '.') {
            /* ".example.com" also matches "example.com", so it conflicts with that exact key,
             * before and after it. */
            px_str_t suffix = px_str_make(key.data + 1, key.len - 1);
            if (get(t, NS_EXACT, suffix))
                return PX_BUSY;
            if (get(t, NS_HEAD, suffix))
                return PX_BUSY;
            int rc = insert(t, NS_EXACT, KIND_SHADOW, suffix, value);
            return rc == PX_OK ? insert(t, NS_HEAD, KIND_DOT, suffix, value) : rc;
        }
        if (key.len > 2 && key.data[0] == '*' && key.data[1] == '.')
            return insert(t, NS_HEAD, KIND_STAR, px_str_make(key.data + 2, key.len - 2), value);
        if (key.len > 2 && key.data[key.len - 2] == '.' && key.data[key.len - 1] == '*')
            return insert(t, NS_TAIL, KIND_TAIL, px_str_make(key.data, key.len - 1), value);
        if (stars)
            return PX_DECLINED;
    }
    return insert(t, NS_EXACT, KIND_EXACT, key, value);
}

void *http_map_table_find(const http_map_table_t *t, px_str_t s)
{
    map_key_t *k = get(t, NS_EXACT, s);
    if (k && k->kind == KIND_EXACT)
        return k->value;
    if (s.len == 0 || t->nwild == 0)
        return NULL;
    /* Head wildcards, longest suffix first: the whole name only matches ".name". */
    k = get(t, NS_HEAD, s);
    if (k && k->kind == KIND_DOT)
        return k->value;
    for (size_t i = 0; i < s.len; i++) {
        if (s.data[i] != '.')
            continue;
        k = get(t, NS_HEAD, px_str_make(s.data + i + 1, s.len - i - 1));
        if (k)
            return k->value;
    }
    /* Tail wildcards, longest prefix first: "www.example.*" needs "www.example." and more. */
    for (size_t i = s.len; i-- > 0;) {
        if (s.data[i] != '.')
            continue;
        k = get(t, NS_TAIL, px_str_make(s.data, i + 1));
        if (k)
            return k->value;
    }
    return NULL;
}

/* ---- configuration ---- */

/* map_hash_max_size and map_hash_bucket_size size nginx's hash tables; the table here
 * grows as keys are added, so they are only checked, as nginx checks them. */
typedef struct {
    int hash_max_size;
    int hash_bucket_size;
} map_main_conf_t;

typedef struct {
    http_regex_t *regex;
    http_cv_t *value;
} map_regex_t;

typedef struct {
    px_str_t name; /* the variable, for messages */
    http_cv_t source;
    http_map_table_t *table;
    map_regex_t *regexes;
    size_t nregexes;
    http_cv_t *default_value;
    unsigned hostnames : 1;
    unsigned is_volatile : 1;
} map_t;

/* A map whose value reads itself, directly or through others, would recurse forever:
 * nested map evaluations are bounded as nginx bounds nested variables. */
#define MAP_MAX_DEPTH 100
static unsigned map_depth;

static int map_variable(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    map_t *map = (map_t *)data;
    if (map_depth >= MAP_MAX_DEPTH) {
        px_log_error(PX_LOG_ERR, &r->log, 0, "cycle while evaluating variable \"%.*s\"",
                     (int)map->name.len, map->name.data);
        return PX_ERROR;
    }
    map_depth++;
    int rc = PX_ERROR;
    px_str_t subject;
    if (http_cv_eval(r, &map->source, &subject) != PX_OK)
        goto done;
    if (map->hostnames && subject.len && subject.data[subject.len - 1] == '.')
        subject.len--;
    http_cv_t *value = http_map_table_find(map->table, subject);
    /* An empty value never reaches the regexes, as in nginx. */
    for (size_t i = 0; value == NULL && subject.len && i < map->nregexes; i++) {
        int m = http_regex_exec(r, map->regexes[i].regex, subject);
        if (m < 0)
            break;
        if (m == 1)
            value = map->regexes[i].value;
    }
    if (value == NULL)
        value = map->default_value;
    if (value == NULL)
        v->value = PX_STR("");
    else if (http_cv_eval(r, value, &v->value) != PX_OK)
        goto done;
    v->no_cacheable = map->is_volatile;
    rc = PX_OK;
done:
    map_depth--;
    return rc;
}

/* The error of one line of the block, with that line's file:line. */
static const char *entry_error(conf_ctx_t *cf, const conf_node_t *entry, const char *msg)
{
    cf->node = entry;
    if (msg != CONF_ERROR)
        conf_log(cf, PX_LOG_EMERG, 0, "%s", msg);
    return CONF_ERROR;
}

/* One line of the block: `hostnames;`, `volatile;`, `default value;`, `~regex value;`,
 * `~*regex value;` or `key value;` (`include` was expanded by the parser). */
static const char *map_entry(conf_ctx_t *cf, map_t *map, px_array_t *regexes, const conf_node_t *e)
{
    if (e->has_block)
        return entry_error(cf, e, "unexpected \"{\"");
    px_str_t key = e->name;
    if (e->nargs == 0 && px_str_eq_lit(key, "hostnames")) {
        map->hostnames = 1;
        return NULL;
    }
    if (e->nargs == 0 && px_str_eq_lit(key, "volatile")) {
        map->is_volatile = 1;
        return NULL;
    }
    if (e->nargs != 1)
        return entry_error(cf, e, "invalid number of the map parameters");

    cf->node = e;
    http_cv_t *value = px_palloc(cf->pool, sizeof(*value));
    if (value == NULL)
        return CONF_ERROR;
    const char *rv = http_cv_compile(cf, e->args[0].value, value);
    if (rv)
        return entry_error(cf, e, rv);

    if (px_str_eq_lit(key, "default")) {
        if (map->default_value)
            return entry_error(cf, e, "duplicate default map parameter");
        map->default_value = value;
        return NULL;
    }
    if (key.len && key.data[0] == '~') {
        int caseless = key.len > 1 && key.data[1] == '*';
        size_t skip = caseless ? 2 : 1;
        map_regex_t *re = px_array_push(regexes);
        if (re == NULL)
            return CONF_ERROR;
        re->value = value;
        if (http_regex_compile(cf, px_str_make(key.data + skip, key.len - skip), caseless,
                               &re->regex) != PX_OK)
            return CONF_ERROR;
        return NULL;
    }
    /* "\default", "\~name", "\hostnames": the key itself. */
    if (key.len && key.data[0] == '\\') {
        key.data++;
        key.len--;
    }
    int rc = http_map_table_add(map->table, key, map->hostnames, value);
    if (rc == PX_OK)
        return NULL;
    if (rc == PX_DECLINED)
        return entry_error(
            cf, e,
            px_psprintf(cf->pool, "invalid hostname or wildcard \"%.*s\"", (int)key.len, key.data));
    if (rc == PX_BUSY) {
        /* nginx names the key as it stored it: lowercase. */
        char *low = px_pstrdup(cf->pool, key.data, key.len);
        if (low == NULL)
            return CONF_ERROR;
        for (size_t i = 0; i < key.len; i++)
            low[i] = px_tolower(low[i]);
        return entry_error(cf, e, px_psprintf(cf->pool, "conflicting parameter \"%s\"", low));
    }
    return CONF_ERROR;
}

static const char *set_map(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                           void *conf)
{
    (void)d;
    /* nginx fixes the hash sizes at the first map, so a map_hash_* directive after a map
     * is a duplicate. */
    map_main_conf_t *mcf = conf;
    if (mcf->hash_max_size == CONF_UNSET)
        mcf->hash_max_size = 2048;
    if (mcf->hash_bucket_size == CONF_UNSET)
        mcf->hash_bucket_size = 64;
    map_t *map = px_pcalloc(cf->pool, sizeof(*map));
    if (map == NULL || (map->table = http_map_table_create(cf->pool)) == NULL)
        return CONF_ERROR;
    const char *rv = http_cv_compile(cf, n->args[0].value, &map->source);
    if (rv)
        return rv;

    px_str_t name = n->args[1].value;
    if (name.len == 0 || name.data[0] != '$')
        return px_psprintf(cf->pool, "invalid variable name \"%.*s\"", (int)name.len, name.data);
    name.data++;
    name.len--;
    if (name.len == 0)
        return "invalid variable name \"$\"";
    map->name = name;
    /* `set` may assign a map's variable, as in nginx. Whether it is cached is decided per
     * value (v->no_cacheable), since `volatile` comes later, inside the block. */
    const http_var_def_t def = {name, map_variable, (uintptr_t)map, HTTP_VAR_CHANGEABLE};
    if (http_var_define(cf, &def) != PX_OK)
        return CONF_ERROR;

    px_array_t regexes;
    if (px_array_init(&regexes, cf->pool, 4, sizeof(map_regex_t)) != PX_OK)
        return CONF_ERROR;
    for (size_t i = 0; i < n->nchildren; i++) {
        rv = map_entry(cf, map, &regexes, &n->children[i]);
        if (rv)
            return rv;
    }
    cf->node = n;
    map->regexes = regexes.elts;
    map->nregexes = regexes.nelts;
    return NULL;
}

static void *create_main_conf(conf_ctx_t *cf)
{
    map_main_conf_t *mcf = px_palloc(cf->pool, sizeof(*mcf));
    if (mcf) {
        mcf->hash_max_size = CONF_UNSET;
        mcf->hash_bucket_size = CONF_UNSET;
    }
    return mcf;
}

#define MAIN_OFF(f) CONF_HTTP_MAIN_CONF, offsetof(map_main_conf_t, f)

static const conf_directive_t map_directives[] = {
    {"map", CONF_HTTP, CONF_BLOCK | CONF_TAKE2, set_map, CONF_HTTP_MAIN_CONF, 0, NULL},
    {"map_hash_max_size", CONF_HTTP, CONF_TAKE1, conf_set_num, MAIN_OFF(hash_max_size), NULL},
    {"map_hash_bucket_size", CONF_HTTP, CONF_TAKE1, conf_set_num, MAIN_OFF(hash_bucket_size), NULL},
    {NULL, 0, 0, NULL, 0, 0, NULL},
};

conf_module_t http_map_module = {
    .name = "http_map",
    .directives = map_directives,
    .create_main_conf = create_main_conf,
};
