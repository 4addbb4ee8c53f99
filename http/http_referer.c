/* The referer module (nginx's ngx_http_referer_module): valid_referers,
 * referer_hash_max_size, referer_hash_bucket_size and $invalid_referer ("" when the first
 * Referer header is valid for the location, "1" when not). The keys of a level are read by
 * its directive, completed with the server's names (server_names) when the level is merged,
 * checked against nginx's hash limits and sorted for lookup; a level without valid_referers
 * takes its parent's as a whole. */
#include "http/http_referer.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "core/px_log.h"
#include "http/http_core.h"
#include "http/http_server_name.h"

conf_module_t http_referer_module;

/* ---- keys ---- */

static int parse_host(px_str_t host, int *kind, px_str_t *name)
{
    unsigned stars = 0;
    for (size_t i = 0; i < host.len; i++) {
        char c = host.data[i];
        if (c == '*' && ++stars > 1)
            return PX_DECLINED;
        if (c == '.' && i + 1 < host.len && host.data[i + 1] == '.')
            return PX_DECLINED;
        if (c == '\0')
            return PX_DECLINED;
    }
    if (host.len > 1 && host.data[0] == '.') {
        *kind = HTTP_REFERER_HEAD_DOT;
        *name = px_str_make(host.data + 1, host.len - 1);
    } else if (host.len > 2 && host.data[0] == '*' && host.data[1] == '.') {
        *kind = HTTP_REFERER_HEAD_STAR;
        *name = px_str_make(host.data + 2, host.len - 2);
    } else if (host.len > 2 && host.data[host.len - 2] == '.' && host.data[host.len - 1] == '*') {
        *kind = HTTP_REFERER_TAIL;
        *name = px_str_make(host.data, host.len - 2);
    } else if (stars) {
        return PX_DECLINED;
    } else {
        *kind = HTTP_REFERER_EXACT;
        *name = host;
    }
    return PX_OK;
}

/* nginx keeps exact names (".example.com" counts as "example.com" there), head wildcards
 * and tail wildcards in three sets; a name twice in one set is a conflict. */
static int same_set(int a, int b)
{
    if (a == b)
        return 1;
    if (a == HTTP_REFERER_HEAD_DOT)
        return b != HTTP_REFERER_TAIL;
    if (b == HTTP_REFERER_HEAD_DOT)
        return a != HTTP_REFERER_TAIL;
    return 0;
}

int http_referer_key_add(px_array_t *keys, px_str_t host, px_str_t uri)
{
    int kind;
    px_str_t name;
    if (parse_host(host, &kind, &name) != PX_OK)
        return PX_DECLINED;
    char *lower = px_palloc(keys->pool, name.len + 1);
    if (lower == NULL)
        return PX_ERROR;
    for (size_t i = 0; i < name.len; i++)
        lower[i] = px_tolower(name.data[i]);
    lower[name.len] = '\0';
    name.data = lower;

    const http_referer_key_t *k = keys->elts;
    for (size_t i = 0; i < keys->nelts; i++) {
        if (same_set(k[i].kind, kind) && px_str_eq(k[i].name, name))
            return PX_BUSY;
    }
    http_referer_key_t *nk = px_array_push(keys);
    if (nk == NULL)
        return PX_ERROR;
    nk->kind = kind;
    nk->name = name;
    nk->uri = uri;
    return PX_OK;
}

/* ---- nginx's hash limits ----
 * nginx puts exact names in one hash and each level of its wildcard trees in another; a
 * hash must fit every element in a bucket and find a size up to max_size where no bucket
 * overflows, else it warns and builds with max_size buckets. The same arithmetic here
 * tells which configurations nginx refuses. */

#define CACHELINE 64
#define HASH_PTR 8

typedef struct {
    size_t max_size, bucket_size;
    int not_optimal;
    char *err;
    size_t err_size;
} hash_limits_t;

static size_t align8(size_t n)
{
    return (n + HASH_PTR - 1) & ~(size_t)(HASH_PTR - 1);
}

static size_t element_size(size_t len)
{
    return HASH_PTR + align8(len + 2);
}

static uint64_t nginx_hash(px_str_t s)
{
    uint64_t key = 0;
    for (size_t i = 0; i < s.len; i++)
        key = key * 31 + (unsigned char)px_tolower(s.data[i]);
    return key;
}

static int hash_cmp(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    return *x < *y ? -1 : *x > *y;
}

/* Names whose whole hashes are equal share a bucket at every size; when they overflow it,
 * no size fits and nginx's search would run to max_size for nothing. 1, 0, or -1 (no
 * memory). */
static int fits_anywhere(const px_str_t *names, size_t n, size_t room)
{
    uint64_t *h = malloc((n ? n : 1) * 2 * sizeof(uint64_t));
    if (h == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        h[2 * i] = nginx_hash(names[i]);
        h[2 * i + 1] = element_size(names[i].len);
    }
    qsort(h, n, 2 * sizeof(uint64_t), hash_cmp);
    int ok = 1;
    for (size_t i = 0, sum = 0; i < n && ok; i++) {
        sum = (i > 0 && h[2 * i] == h[2 * i - 2]) ? sum + h[2 * i + 1] : h[2 * i + 1];
        ok = sum <= room;
    }
    free(h);
    return ok;
}

static int hash_fits(const px_str_t *names, size_t n, hash_limits_t *hl)
{
    if (hl->max_size == 0) {
        snprintf(hl->err, hl->err_size,
                 "could not build referer_hash, you should increase referer_hash_max_size: 0");
        return PX_ERROR;
    }
    if (hl->bucket_size > 65536 - CACHELINE) {
        snprintf(hl->err, hl->err_size,
                 "could not build referer_hash, too large referer_hash_bucket_size: %zu",
                 hl->bucket_size);
        return PX_ERROR;
    }
    for (size_t i = 0; i < n; i++) {
        if (hl->bucket_size < element_size(names[i].len) + HASH_PTR) {
            snprintf(hl->err, hl->err_size,
                     "could not build referer_hash, you should increase "
                     "referer_hash_bucket_size: %zu",
                     hl->bucket_size);
            return PX_ERROR;
        }
    }
    size_t room = hl->bucket_size - HASH_PTR;
    size_t start = n / (room / (2 * HASH_PTR));
    if (start == 0)
        start = 1;
    if (hl->max_size > 10000 && n && hl->max_size / n < 100)
        start = hl->max_size - 1000;
    int possible = fits_anywhere(names, n, room);
    if (possible < 0) {
        snprintf(hl->err, hl->err_size, "out of memory");
        return PX_ERROR;
    }
    size_t *used = NULL, cap = 0;
    int found = 0;
    for (size_t size = start; possible && !found && size <= hl->max_size; size++) {
        if (size > cap) {
            cap = size * 2;
            size_t *grown = realloc(used, cap * sizeof(size_t));
            if (grown == NULL) {
                free(used);
                snprintf(hl->err, hl->err_size, "out of memory");
                return PX_ERROR;
            }
            used = grown;
        }
        memset(used, 0, size * sizeof(size_t));
        found = 1;
        for (size_t i = 0; i < n && found; i++) {
            size_t b = (size_t)(nginx_hash(names[i]) % size);
            used[b] += element_size(names[i].len);
            found = used[b] <= room;
        }
    }
    free(used);
    if (!found)
        hl->not_optimal++;
    return PX_OK;
}

/* nginx's order for wildcard names: '.' below every other character. */
static int dns_cmp(const void *a, const void *b)
{
    const px_str_t *x = a, *y = b;
    for (size_t i = 0;; i++) {
        int c1 = i < x->len ? (unsigned char)px_tolower(x->data[i]) : 0;
        int c2 = i < y->len ? (unsigned char)px_tolower(y->data[i]) : 0;
        if (c1 == c2) {
            if (c1 == 0)
                return 0;
            continue;
        }
        c1 = c1 == '.' ? ' ' : c1;
        c2 = c2 == '.' ? ' ' : c2;
        return c1 - c2;
    }
}

/* One level of a wildcard tree: the first labels of sorted names; names sharing a label
 * continue one level down with the rest, and deeper levels are built first. */
static int wildcard_level(const px_str_t *names, size_t n, hash_limits_t *hl)
{
    px_str_t *labels = malloc((n ? n : 1) * sizeof(px_str_t));
    px_str_t *next = malloc((n ? n : 1) * sizeof(px_str_t));
    int rc = labels && next ? PX_OK : PX_ERROR;
    size_t nlabels = 0;
    for (size_t i = 0, j; rc == PX_OK && i < n; i = j) {
        size_t len = 0;
        while (len < names[i].len && names[i].data[len] != '.')
            len++;
        int dot = len < names[i].len;
        labels[nlabels++] = px_str_make(names[i].data, len);
        size_t dot_len = len + 1;
        if (dot)
            len++;
        size_t nnext = 0;
        if (names[i].len != len)
            next[nnext++] = px_str_make(names[i].data + len, names[i].len - len);
        for (j = i + 1; j < n; j++) {
            if (names[j].len < len || memcmp(names[i].data, names[j].data, len) != 0)
                break;
            if (!dot && names[j].len > len && names[j].data[len] != '.')
                break;
            next[nnext++] = px_str_make(names[j].data + dot_len, names[j].len - dot_len);
        }
        if (nnext)
            rc = wildcard_level(next, nnext, hl);
    }
    if (rc == PX_OK)
        rc = hash_fits(labels, nlabels, hl);
    else if (labels == NULL || next == NULL)
        snprintf(hl->err, hl->err_size, "out of memory");
    free(labels);
    free(next);
    return rc;
}

/* "*.example.com" as nginx stores it: "com.example."; ".example.com": "com.example". */
static px_str_t head_form(const http_referer_key_t *k, char *buf)
{
    size_t n = 0, end = k->name.len;
    for (size_t i = k->name.len; i-- > 0;) {
        if (k->name.data[i] == '.') {
            memcpy(buf + n, k->name.data + i + 1, end - i - 1);
            n += end - i - 1;
            buf[n++] = '.';
            end = i;
        }
    }
    memcpy(buf + n, k->name.data, end);
    n += end;
    if (k->kind == HTTP_REFERER_HEAD_STAR)
        buf[n++] = '.';
    return px_str_make(buf, n);
}

static int wildcard_tree(const px_array_t *keys, int head, hash_limits_t *hl)
{
    const http_referer_key_t *k = keys->elts;
    size_t n = 0, bytes = 0;
    for (size_t i = 0; i < keys->nelts; i++) {
        if (head ? k[i].kind == HTTP_REFERER_HEAD_DOT || k[i].kind == HTTP_REFERER_HEAD_STAR
                 : k[i].kind == HTTP_REFERER_TAIL) {
            n++;
            bytes += k[i].name.len + 1;
        }
    }
    if (n == 0)
        return PX_OK;
    px_str_t *names = malloc(n * sizeof(px_str_t));
    char *buf = malloc(bytes);
    if (names == NULL || buf == NULL) {
        free(names);
        free(buf);
        snprintf(hl->err, hl->err_size, "out of memory");
        return PX_ERROR;
    }
    size_t m = 0;
    char *p = buf;
    for (size_t i = 0; i < keys->nelts; i++) {
        if (head && (k[i].kind == HTTP_REFERER_HEAD_DOT || k[i].kind == HTTP_REFERER_HEAD_STAR)) {
            names[m] = head_form(&k[i], p);
            p += names[m++].len;
        } else if (!head && k[i].kind == HTTP_REFERER_TAIL) {
            names[m++] = k[i].name;
        }
    }
    qsort(names, n, sizeof(px_str_t), dns_cmp);
    int rc = wildcard_level(names, n, hl);
    free(names);
    free(buf);
    return rc;
}

int http_referer_hash_check(const px_array_t *keys, size_t max_size, size_t bucket_size, char *err,
                            size_t err_size, int *not_optimal)
{
    hash_limits_t hl = {max_size, (bucket_size + CACHELINE - 1) & ~(size_t)(CACHELINE - 1), 0, err,
                        err_size};
    const http_referer_key_t *k = keys->elts;
    size_t nexact = 0;
    for (size_t i = 0; i < keys->nelts; i++)
        nexact += k[i].kind == HTTP_REFERER_EXACT;
    int rc = PX_OK;
    if (nexact) {
        px_str_t *names = malloc(nexact * sizeof(px_str_t));
        if (names == NULL) {
            snprintf(err, err_size, "out of memory");
            return PX_ERROR;
        }
        size_t m = 0;
        for (size_t i = 0; i < keys->nelts; i++) {
            if (k[i].kind == HTTP_REFERER_EXACT)
                names[m++] = k[i].name;
        }
        rc = hash_fits(names, nexact, &hl);
        free(names);
    }
    if (rc == PX_OK)
        rc = wildcard_tree(keys, 1, &hl);
    if (rc == PX_OK)
        rc = wildcard_tree(keys, 0, &hl);
    *not_optimal = hl.not_optimal;
    return rc;
}

int http_referer_hash_warning(size_t max_size, size_t bucket_size, char *buf, size_t size)
{
    return snprintf(buf, size,
                    "could not build optimal referer_hash, you should increase either "
                    "referer_hash_max_size: %zu or referer_hash_bucket_size: %zu; ignoring "
                    "referer_hash_bucket_size",
                    max_size, (bucket_size + CACHELINE - 1) & ~(size_t)(CACHELINE - 1));
}

/* ---- lookup ---- */

static int key_cmp(const void *a, const void *b)
{
    const http_referer_key_t *x = a, *y = b;
    size_t n = x->name.len < y->name.len ? x->name.len : y->name.len;
    int c = memcmp(x->name.data, y->name.data, n);
    if (c)
        return c;
    return x->name.len < y->name.len ? -1 : x->name.len > y->name.len;
}

static http_referer_key_t *sorted_kind(px_pool_t *pool, const px_array_t *keys, int kind_a,
                                       int kind_b, size_t *n)
{
    const http_referer_key_t *k = keys->elts;
    *n = 0;
    for (size_t i = 0; i < keys->nelts; i++)
        *n += k[i].kind == kind_a || k[i].kind == kind_b;
    if (*n == 0)
        return NULL;
    http_referer_key_t *out = px_palloc(pool, *n * sizeof(*out));
    if (out == NULL)
        return NULL;
    size_t m = 0;
    for (size_t i = 0; i < keys->nelts; i++) {
        if (k[i].kind == kind_a || k[i].kind == kind_b)
            out[m++] = k[i];
    }
    qsort(out, m, sizeof(*out), key_cmp);
    return out;
}

int http_referer_table_build(http_referer_table_t *t, px_pool_t *pool, const px_array_t *keys)
{
    t->exact = sorted_kind(pool, keys, HTTP_REFERER_EXACT, HTTP_REFERER_EXACT, &t->nexact);
    t->head = sorted_kind(pool, keys, HTTP_REFERER_HEAD_DOT, HTTP_REFERER_HEAD_STAR, &t->nhead);
    t->tail = sorted_kind(pool, keys, HTTP_REFERER_TAIL, HTTP_REFERER_TAIL, &t->ntail);
    if ((t->nexact && !t->exact) || (t->nhead && !t->head) || (t->ntail && !t->tail))
        return PX_ERROR;
    return PX_OK;
}

static const http_referer_key_t *find(const http_referer_key_t *keys, size_t n, px_str_t name)
{
    if (n == 0)
        return NULL;
    http_referer_key_t probe = {HTTP_REFERER_EXACT, name, PX_NULL_STR};
    return bsearch(&probe, keys, n, sizeof(*keys), key_cmp);
}

const http_referer_key_t *http_referer_table_find(const http_referer_table_t *t, px_str_t host)
{
    const http_referer_key_t *k = find(t->exact, t->nexact, host);
    if (k || host.len == 0)
        return k;
    /* the longest wildcard wins: ".example.com" for the whole host first, then the
     * suffixes after each dot from the left */
    k = find(t->head, t->nhead, host);
    if (k && k->kind == HTTP_REFERER_HEAD_DOT)
        return k;
    for (size_t i = 0; i < host.len; i++) {
        if (host.data[i] != '.')
            continue;
        k = find(t->head, t->nhead, px_str_make(host.data + i + 1, host.len - i - 1));
        if (k)
            return k;
    }
    for (size_t i = host.len; i-- > 0;) {
        if (host.data[i] != '.')
            continue;
        k = find(t->tail, t->ntail, px_str_make(host.data, i));
        if (k)
            return k;
    }
    return NULL;
}

/* ---- judging a Referer ---- */

/* nginx copies the host into a buffer of this size; a longer host is invalid */
#define HOST_MAX 256

static int any_match(px_regex_t *const *re, size_t n, const char *s, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        int rc = px_regex_exec(re[i], s, len, NULL, 0);
        if (rc == PX_ERROR)
            return PX_ERROR;
        if (rc != PX_DECLINED)
            return 1;
    }
    return 0;
}

int http_referer_valid(const http_referer_rules_t *rules, const px_str_t *referer)
{
    const http_referer_table_t *t = rules->table;
    if ((t == NULL || t->nexact + t->nhead + t->ntail == 0) && rules->nregexes == 0 &&
        rules->nname_regexes == 0)
        return 1;
    if (referer == NULL)
        return rules->none;

    const char *ref = referer->data, *last = referer->data + referer->len;
    /* nginx takes anything shorter than "http://i.ru" for a referer without a scheme */
    if (referer->len >= sizeof("http://i.ru") - 1 && strncasecmp(ref, "http://", 7) == 0)
        ref += 7;
    else if (referer->len >= sizeof("http://i.ru") - 1 && strncasecmp(ref, "https://", 8) == 0)
        ref += 8;
    else
        return rules->blocked;

    char host[HOST_MAX];
    size_t len = 0;
    const char *p = ref;
    for (; p < last && *p != '/' && *p != ':'; p++) {
        if (len == HOST_MAX)
            return 0;
        host[len++] = px_tolower(*p);
    }

    const http_referer_key_t *k = t ? http_referer_table_find(t, px_str_make(host, len)) : NULL;
    if (k) {
        /* the port, if any, is skipped; a key that names the host decides alone */
        while (p < last && *p != '/')
            p++;
        return k->uri.len == 0 ||
               ((size_t)(last - p) >= k->uri.len && memcmp(p, k->uri.data, k->uri.len) == 0);
    }
    int rc = any_match(rules->name_regexes, rules->nname_regexes, host, len);
    if (rc != 0)
        return rc;
    return any_match(rules->regexes, rules->nregexes, ref, (size_t)(last - ref));
}

/* ---- configuration ---- */

typedef struct {
    px_array_t *keys; /* http_referer_key_t; NULL: no valid_referers here */
    http_referer_table_t table;
    px_array_t *regexes;      /* px_regex_t *; NULL: unset, inherited */
    px_array_t *name_regexes; /* the server's regex names, likewise */
    int no_referer;
    int blocked_referer;
    int server_names;
    int max_size;
    int bucket_size;
    http_core_srv_conf_t *srv; /* the server whose names server_names means */
} referer_loc_conf_t;

static int push_regex(px_pool_t *pool, px_array_t **arr, px_regex_t *re)
{
    if (*arr == NULL) {
        *arr = px_palloc(pool, sizeof(px_array_t));
        if (*arr == NULL || px_array_init(*arr, pool, 2, sizeof(px_regex_t *)) != PX_OK)
            return PX_ERROR;
    }
    px_regex_t **slot = px_array_push(*arr);
    if (slot == NULL)
        return PX_ERROR;
    *slot = re;
    return PX_OK;
}

static void free_regex(void *re)
{
    px_regex_free(re);
}

/* nginx's message for a host it refused, or NULL. */
static const char *add_key(conf_ctx_t *cf, px_array_t *keys, px_str_t host, px_str_t uri)
{
    int rc = http_referer_key_add(keys, host, uri);
    if (rc == PX_DECLINED)
        return px_psprintf(cf->pool, "invalid hostname or wildcard \"%.*s\"", (int)host.len,
                           host.data);
    if (rc == PX_BUSY) {
        /* nginx lowercases the name in place before it finds the conflict */
        char *lower = px_pstrdup(cf->pool, host.data, host.len);
        if (lower == NULL)
            return CONF_ERROR;
        for (size_t i = 0; i < host.len; i++)
            lower[i] = px_tolower(lower[i]);
        return px_psprintf(cf->pool, "conflicting parameter \"%.*s\"", (int)host.len, lower);
    }
    return rc == PX_OK ? NULL : CONF_ERROR;
}

static const char *set_valid_referers(conf_ctx_t *cf, const conf_node_t *n,
                                      const conf_directive_t *d, void *conf)
{
    (void)d;
    referer_loc_conf_t *rlcf = conf;
    if (rlcf->keys == NULL) {
        rlcf->keys = px_palloc(cf->pool, sizeof(px_array_t));
        if (rlcf->keys == NULL ||
            px_array_init(rlcf->keys, cf->pool, 4, sizeof(http_referer_key_t)) != PX_OK)
            return CONF_ERROR;
    }
    rlcf->srv = cf->http->srv_conf[http_core_module.index];
    for (size_t i = 0; i < n->nargs; i++) {
        px_str_t v = n->args[i].value;
        if (v.len == 0)
            return "invalid referer \"\"";
        if (px_str_eq_lit(v, "none")) {
            rlcf->no_referer = 1;
        } else if (px_str_eq_lit(v, "blocked")) {
            rlcf->blocked_referer = 1;
        } else if (px_str_eq_lit(v, "server_names")) {
            rlcf->server_names = 1;
        } else if (v.data[0] == '~') {
            if (v.len == 1)
                return "empty regex in \"~\"";
            char err[512];
            px_regex_t *re = px_regex_compile(px_str_make(v.data + 1, v.len - 1), PX_REGEX_CASELESS,
                                              err, sizeof(err));
            if (re == NULL)
                return px_pstrdup(cf->pool, err, strlen(err));
            if (px_pool_cleanup_add(cf->pool, free_regex, re) != PX_OK ||
                push_regex(cf->pool, &rlcf->regexes, re) != PX_OK)
                return CONF_ERROR;
        } else {
            const char *slash = memchr(v.data, '/', v.len);
            size_t hlen = slash ? (size_t)(slash - v.data) : v.len;
            px_str_t uri = slash ? px_str_make(slash, v.len - hlen) : PX_NULL_STR;
            const char *msg = add_key(cf, rlcf->keys, px_str_make(v.data, hlen), uri);
            if (msg)
                return msg;
        }
    }
    return NULL;
}

static void *create_loc_conf(conf_ctx_t *cf)
{
    referer_loc_conf_t *rlcf = px_pcalloc(cf->pool, sizeof(*rlcf));
    if (rlcf) {
        rlcf->no_referer = CONF_UNSET;
        rlcf->blocked_referer = CONF_UNSET;
        rlcf->server_names = CONF_UNSET;
        rlcf->max_size = CONF_UNSET;
        rlcf->bucket_size = CONF_UNSET;
    }
    return rlcf;
}

static const char *add_server_names(conf_ctx_t *cf, referer_loc_conf_t *conf)
{
    const http_server_name_t *sn = conf->srv->names.elts;
    for (size_t i = 0; i < conf->srv->names.nelts; i++) {
        if (sn[i].kind == HTTP_SERVER_NAME_REGEX) {
            if (push_regex(cf->pool, &conf->name_regexes, sn[i].regex) != PX_OK)
                return CONF_ERROR;
            continue;
        }
        const char *msg = add_key(cf, conf->keys, sn[i].name, PX_NULL_STR);
        if (msg)
            return msg;
    }
    return NULL;
}

static const char *merge_loc_conf(conf_ctx_t *cf, void *parent, void *child)
{
    referer_loc_conf_t *prev = parent, *conf = child;
    /* nginx inherits the regexes even into a level with its own valid_referers */
    if (conf->regexes == NULL)
        conf->regexes = prev->regexes;
    if (conf->keys == NULL) {
        conf->table = prev->table;
        if (conf->name_regexes == NULL)
            conf->name_regexes = prev->name_regexes;
        CONF_MERGE(conf->no_referer, prev->no_referer, 0);
        CONF_MERGE(conf->blocked_referer, prev->blocked_referer, 0);
        CONF_MERGE(conf->max_size, prev->max_size, 2048);
        CONF_MERGE(conf->bucket_size, prev->bucket_size, 64);
        return NULL;
    }
    if (conf->server_names == 1) {
        const char *msg = add_server_names(cf, conf);
        if (msg)
            return msg;
    }
    if ((conf->no_referer == 1 || conf->blocked_referer == 1) && conf->keys->nelts == 0) {
        px_log_error(PX_LOG_EMERG, NULL, 0,
                     "the \"none\" or \"blocked\" referers are specified in the "
                     "\"valid_referers\" directive without any valid referer");
        return CONF_ERROR;
    }
    CONF_MERGE(conf->max_size, prev->max_size, 2048);
    CONF_MERGE(conf->bucket_size, prev->bucket_size, 64);

    char msg[256];
    int not_optimal = 0;
    int rc = http_referer_hash_check(conf->keys, (size_t)conf->max_size, (size_t)conf->bucket_size,
                                     msg, sizeof(msg), &not_optimal);
    if (not_optimal) {
        char warn[256];
        http_referer_hash_warning((size_t)conf->max_size, (size_t)conf->bucket_size, warn,
                                  sizeof(warn));
        for (int i = 0; i < not_optimal; i++)
            conf_log(cf, PX_LOG_WARN, 0, "%s", warn);
    }
    if (rc != PX_OK) {
        px_log_error(PX_LOG_EMERG, NULL, 0, "%s", msg);
        return CONF_ERROR;
    }
    if (http_referer_table_build(&conf->table, cf->pool, conf->keys) != PX_OK)
        return CONF_ERROR;
    if (conf->name_regexes == NULL)
        conf->name_regexes = prev->name_regexes;
    if (conf->no_referer == CONF_UNSET)
        conf->no_referer = 0;
    if (conf->blocked_referer == CONF_UNSET)
        conf->blocked_referer = 0;
    conf->keys = NULL;
    return NULL;
}

/* ---- $invalid_referer ---- */

static int get_invalid_referer(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    (void)data;
    referer_loc_conf_t *rlcf = http_get_module_loc_conf(r, http_referer_module);
    const px_str_t *referer = NULL;
    const http_header_t *h = r->headers.elts;
    for (size_t i = 0; i < r->headers.nelts; i++) {
        if (px_str_caseeq_lit(h[i].name, "Referer")) {
            referer = &h[i].value;
            break;
        }
    }
    http_referer_rules_t rules = {
        &rlcf->table,
        rlcf->regexes ? rlcf->regexes->elts : NULL,
        rlcf->regexes ? rlcf->regexes->nelts : 0,
        rlcf->name_regexes ? rlcf->name_regexes->elts : NULL,
        rlcf->name_regexes ? rlcf->name_regexes->nelts : 0,
        rlcf->no_referer == 1,
        rlcf->blocked_referer == 1,
    };
    int rc = http_referer_valid(&rules, referer);
    if (rc == PX_ERROR) {
        px_log_error(PX_LOG_ALERT, &r->log, 0, "pcre2_match() failed on \"%.*s\"",
                     (int)referer->len, referer->data);
        return PX_ERROR;
    }
    v->value = rc ? PX_STR("") : PX_STR("1");
    return PX_OK;
}

static int preconfiguration(conf_ctx_t *cf)
{
    static const http_var_def_t def = {PX_STR("invalid_referer"), get_invalid_referer, 0,
                                       HTTP_VAR_CHANGEABLE};
    return http_var_define(cf, &def);
}

#define LOC_OFF(f) CONF_HTTP_LOC_CONF, offsetof(referer_loc_conf_t, f)

static const conf_directive_t referer_directives[] = {
    {"valid_referers", CONF_SRV | CONF_LOC, CONF_1MORE, set_valid_referers, CONF_HTTP_LOC_CONF, 0,
     NULL},
    {"referer_hash_max_size", CONF_SRV | CONF_LOC, CONF_TAKE1, conf_set_num, LOC_OFF(max_size),
     NULL},
    {"referer_hash_bucket_size", CONF_SRV | CONF_LOC, CONF_TAKE1, conf_set_num,
     LOC_OFF(bucket_size), NULL},
    {NULL, 0, 0, NULL, 0, 0, NULL},
};

conf_module_t http_referer_module = {
    .name = "http_referer",
    .directives = referer_directives,
    .create_loc_conf = create_loc_conf,
    .merge_loc_conf = merge_loc_conf,
    .preconfiguration = preconfiguration,
};
