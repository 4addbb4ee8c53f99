/* The string part of a `map` block: exact keys and, with `hostnames`, "*.example.com",
 * ".example.com" and "www.example.*" wildcards, with nginx's conflict rules when keys are
 * added and nginx's lookup order (exact, longest head wildcard, longest tail wildcard).
 * Regular expressions and values belong to http_map.c; this part needs no request. */
#ifndef HTTP_MAP_H
#define HTTP_MAP_H

#include "core/px_pool.h"
#include "core/px_string.h"

typedef struct http_map_table http_map_table_t;

http_map_table_t *http_map_table_create(px_pool_t *pool);

/* Adds key (its leading '\' already removed) mapping to value. With hostnames, the
 * wildcard forms are recognised. Matching ignores case. Returns PX_OK; PX_BUSY when the
 * key conflicts with an earlier one (nginx: conflicting parameter); PX_DECLINED when
 * hostnames is set and key is no valid hostname or wildcard ("a..b", "www.*.com", "*");
 * PX_ERROR when out of memory. */
int http_map_table_add(http_map_table_t *t, px_str_t key, int hostnames, void *value);

/* The value for subject: an exact key, else the longest matching head wildcard, else the
 * longest matching tail wildcard; NULL when none matches. The caller strips the trailing
 * dot of a hostname. */
void *http_map_table_find(const http_map_table_t *t, px_str_t subject);

#endif
