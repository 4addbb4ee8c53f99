/* valid_referers and $invalid_referer (nginx's ngx_http_referer_module): the pure pieces,
 * kept apart from the directive table so unit tests can call them. A referer list is read
 * into keys (exact hosts and wildcards, each with an optional URI prefix), the keys become
 * a lookup table, and a Referer header value is judged against the table, the regexes and
 * the none/blocked flags as nginx judges it. */
#ifndef HTTP_REFERER_H
#define HTTP_REFERER_H

#include "core/px_pool.h"
#include "core/px_regex.h"
#include "core/px_string.h"

enum {
    HTTP_REFERER_EXACT,     /* example.com */
    HTTP_REFERER_HEAD_DOT,  /* .example.com: example.com itself and its subdomains */
    HTTP_REFERER_HEAD_STAR, /* *.example.com: subdomains only */
    HTTP_REFERER_TAIL       /* www.example.*: www.example.com, www.example.co.uk ... */
};

typedef struct {
    int kind;
    px_str_t name; /* lowercased; a wildcard's fixed part: "example.com", "www.example" */
    px_str_t uri;  /* prefix the referer's path must start with ("/galleries/"); empty: any */
} http_referer_key_t;

/* Adds host (as written, without its URI part) with uri to keys (an array of
 * http_referer_key_t from pool). PX_OK; PX_DECLINED when host is no valid hostname or
 * wildcard (nginx: invalid hostname or wildcard); PX_BUSY when it conflicts with an
 * earlier key (nginx: conflicting parameter): the same exact host, the same wildcard, or
 * ".example.com" together with "example.com" or "*.example.com"; PX_ERROR out of memory. */
int http_referer_key_add(px_array_t *keys, px_str_t host, px_str_t uri);

/* Whether nginx 1.22 could build its hashes for keys with referer_hash_max_size and
 * referer_hash_bucket_size (the bucket size rounded up to 64 as nginx does): PX_OK, or
 * PX_ERROR with nginx's message in err ("could not build referer_hash, you should increase
 * referer_hash_bucket_size: 64"). *not_optimal counts the hashes nginx warns about
 * ("could not build optimal referer_hash ..."), which it builds anyway. */
int http_referer_hash_check(const px_array_t *keys, size_t max_size, size_t bucket_size, char *err,
                            size_t err_size, int *not_optimal);
/* nginx's warning for one hash it could not build optimally. */
int http_referer_hash_warning(size_t max_size, size_t bucket_size, char *buf, size_t size);

/* Keys sorted for lookup. */
typedef struct {
    http_referer_key_t *exact, *head, *tail;
    size_t nexact, nhead, ntail;
} http_referer_table_t;

int http_referer_table_build(http_referer_table_t *t, px_pool_t *pool, const px_array_t *keys);
/* The key for a lowercased host: the exact host, else the longest matching head wildcard,
 * else the longest matching tail wildcard; NULL when none. */
const http_referer_key_t *http_referer_table_find(const http_referer_table_t *t, px_str_t host);

typedef struct {
    const http_referer_table_t *table;
    px_regex_t *const *regexes; /* "~pattern": matched after "http://" or "https://" */
    size_t nregexes;
    px_regex_t *const *name_regexes; /* the server's regex names: matched against the host */
    size_t nname_regexes;
    int none;    /* no Referer header is valid */
    int blocked; /* a Referer without "http://" or "https://" is valid */
} http_referer_rules_t;

/* Judges the first Referer header (NULL when the request has none): 1 valid, 0 invalid,
 * PX_ERROR when a regex failed to run. Rules with no key and no regex accept everything. */
int http_referer_valid(const http_referer_rules_t *rules, const px_str_t *referer);

#endif
