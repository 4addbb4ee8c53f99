/*
 * server_name as nginx reads and matches it: each name is parsed once where the
 * directive is read, then added to the set of every listen address its server
 * is on; a request's Host is looked up in the set of the address it came to.
 */
#ifndef HTTP_SERVER_NAME_H
#define HTTP_SERVER_NAME_H

#include "core/px_regex.h"
#include "core/px_string.h"

typedef enum {
    HTTP_SERVER_NAME_EXACT,    /* example.com, and "" for requests without Host */
    HTTP_SERVER_NAME_LEADING,  /* *.example.com */
    HTTP_SERVER_NAME_DOT,      /* .example.com: example.com and *.example.com */
    HTTP_SERVER_NAME_TRAILING, /* www.example.* */
    HTTP_SERVER_NAME_REGEX,    /* ~^(?<user>.+)\.example\.net$ */
    /*
     * Passes the directive (as `www.*.example.com` does in nginx) but is refused
     * when added to an address set. nginx builds a set only for an address with
     * more than one server, or whose default server has a regex name.
     */
    HTTP_SERVER_NAME_INVALID
} http_server_name_kind_t;

typedef struct {
    http_server_name_kind_t kind;
    /* Lowercased as written; for a regex, the pattern without its '~'. Owned. */
    px_str_t name;
    px_regex_t *regex;
} http_server_name_t;

typedef struct http_server_names_s http_server_names_t;

typedef struct {
    const http_server_name_t *name;
    void *conf;
    /* Set when a regex name matched; captures index the host looked up. */
    const px_regex_t *regex;
    int npairs;
    size_t captures[2 * PX_REGEX_MAX_PAIRS];
} http_server_names_match_t;

/*
 * Parses one argument of server_name (the caller substitutes $hostname). A regex
 * is compiled caseless when it has an uppercase letter, since hosts arrive
 * lowercased. PX_ERROR with `server name "*x" is invalid`,
 * `empty regex in server name "~"` or the PCRE2 message; PX_DECLINED when the
 * name is accepted with a warning (`server name "a/b" has suspicious symbols`).
 * The caller appends " in file:line" to either.
 */
int http_server_name_parse(px_str_t text, http_server_name_t *sn, char *err, size_t err_size);
void http_server_name_free(http_server_name_t *sn);

http_server_names_t *http_server_names_create(void);
void http_server_names_free(http_server_names_t *set);

/*
 * Adds a parsed name (which must outlive the set) for the server whose conf is
 * given; addr is the address as nginx prints it ("0.0.0.0:80", "[::1]:8080").
 * PX_ERROR with `invalid server name or wildcard "www.*.example.com" on ADDR`;
 * PX_DECLINED, the name ignored, with `conflicting server name "x" on ADDR,
 * ignored` for the caller to log as a warning. Regex names never conflict.
 */
int http_server_names_add(http_server_names_t *set, const http_server_name_t *sn, void *conf,
                          px_str_t addr, char *err, size_t err_size);

/*
 * Looks a host up (lowercased, trailing dot stripped, "" when the request has
 * none): exact name, then the longest leading wildcard, then the longest
 * trailing wildcard, then the first matching regex in the order added.
 * PX_OK, PX_DECLINED (the address's default server applies) or PX_ERROR when a
 * regex failed to run.
 */
int http_server_names_find(const http_server_names_t *set, const char *host, size_t len,
                           http_server_names_match_t *m);

#endif
