/* libFuzzer target for judging Referer values (valid_referers): a fixed rule set with exact
 * names, URI prefixes, all three wildcard kinds and a regex, fed arbitrary header values;
 * also host keys read from the input must be accepted or refused, never crash. */
#include <stdlib.h>
#include <string.h>

#include "http/http_referer.h"

static px_pool_t *pool;
static http_referer_table_t table;
static px_regex_t *regex;
static http_referer_rules_t rules;

static void setup(void)
{
    pool = px_pool_create(4096);
    px_array_t *keys = px_pcalloc(pool, sizeof(*keys));
    px_array_init(keys, pool, 8, sizeof(http_referer_key_t));
    static const char *const hosts[][2] = {{"example.com", ""}, {"img.example.org", "/pics/"},
                                           {".dot.org", ""},    {"*.star.net", ""},
                                           {"www.tail.*", ""},  {"a.b", "/x"}};
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        if (http_referer_key_add(keys, px_str_make(hosts[i][0], strlen(hosts[i][0])),
                                 px_str_make(hosts[i][1], strlen(hosts[i][1]))) != PX_OK)
            abort();
    }
    if (http_referer_table_build(&table, pool, keys) != PX_OK)
        abort();
    char err[256];
    regex = px_regex_compile(PX_STR("\\.google\\.[a-z]+/"), PX_REGEX_CASELESS, err, sizeof(err));
    if (regex == NULL)
        abort();
    rules.table = &table;
    rules.regexes = &regex;
    rules.nregexes = 1;
    rules.none = 1;
    rules.blocked = 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (pool == NULL)
        setup();
    px_str_t value = px_str_make((const char *)data, size);
    int rc = http_referer_valid(&rules, &value);
    if (rc != 0 && rc != 1)
        abort();
    /* without "http://" or "https://" nothing is valid unless blocked is allowed */
    if (rc == 1 && !(size >= 7 && strncasecmp(value.data, "http://", 7) == 0) &&
        !(size >= 8 && strncasecmp(value.data, "https://", 8) == 0))
        abort();

    px_pool_t *p = px_pool_create(1024);
    px_array_t keys;
    px_array_init(&keys, p, 2, sizeof(http_referer_key_t));
    const char *slash = memchr(data, '/', size);
    size_t hlen = slash ? (size_t)(slash - (const char *)data) : size;
    int k = http_referer_key_add(&keys, px_str_make((const char *)data, hlen),
                                 px_str_make((const char *)data + hlen, size - hlen));
    if (k == PX_OK) {
        http_referer_table_t t;
        if (http_referer_table_build(&t, p, &keys) != PX_OK)
            abort();
    }
    px_pool_destroy(p);
    return 0;
}
