/* Regular expressions as the http layer uses them: compiled at load with their named
 * captures registered as variables, matched per request with the captures kept in the
 * request for $1..$9 and $name. */
#ifndef HTTP_REGEX_H
#define HTTP_REGEX_H

#include "core/px_regex.h"
#include "http/http_core.h"

typedef struct {
    int group;     /* capture group number */
    int var_index; /* the variable of the same name */
} http_regex_name_t;

typedef struct {
    px_regex_t *regex;
    int pairs; /* ovector pairs a match fills: group 0 + groups, capped at PX_REGEX_MAX_PAIRS */
    http_regex_name_t *names;
    size_t nnames;
} http_regex_t;

/* Compiles pattern; on failure logs nginx's [emerg] (with file:line) and returns PX_ERROR.
 * The regex is freed with cf->pool. */
int http_regex_compile(conf_ctx_t *cf, px_str_t pattern, int caseless, http_regex_t **out);
/* Wraps a regex compiled elsewhere (location, server_name) so its named captures become
 * variables; the caller keeps ownership of re. */
int http_regex_wrap(conf_ctx_t *cf, px_regex_t *re, http_regex_t **out);
/* 1 on a match (captures stored in r), 0 on no match (r unchanged), -1 on error (logged). */
int http_regex_exec(http_request_t *r, http_regex_t *re, px_str_t subject);
/* Stores the result of a match done elsewhere: ovector holds pairs pairs over subject. */
int http_regex_store(http_request_t *r, const http_regex_t *re, px_str_t subject,
                     const size_t *ovector, int pairs);

#endif
