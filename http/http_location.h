/*
 * Location selection as nginx does it: the caller adds each `location` block
 * with its parent while reading the config, finalizes the tree once, and looks
 * URIs up per request. The module knows nothing of what a location configures;
 * each carries an opaque conf pointer.
 */
#ifndef HTTP_LOCATION_H
#define HTTP_LOCATION_H

#include "core/px_regex.h"
#include "core/px_string.h"

typedef enum {
    HTTP_LOC_PREFIX,         /* location /uri */
    HTTP_LOC_PREFIX_NOREGEX, /* location ^~ /uri */
    HTTP_LOC_EXACT,          /* location = /uri */
    HTTP_LOC_REGEX,          /* location ~ re */
    HTTP_LOC_REGEX_CASELESS, /* location ~* re */
    HTTP_LOC_NAMED           /* location @name */
} http_location_kind_t;

typedef struct {
    http_location_kind_t kind;
    /* The URI, the regex without its modifier, or the name with its '@'. */
    px_str_t name;
    void *conf;
    /*
     * Set by the handlers nginx sets it for (proxy_pass, fastcgi_pass, ...) on a
     * location whose name ends in '/': a request for the name without that slash
     * then gets a redirect instead of whatever else would have matched.
     */
    int auto_redirect;
} http_location_def_t;

typedef struct http_location_s http_location_t;
typedef struct http_location_tree_s http_location_tree_t;

typedef struct {
    /* nginx's wording without the " in file:line" the caller appends. */
    char msg[512];
    /* conf of the location the message is about, to find its file:line. */
    void *conf;
} http_location_error_t;

typedef struct {
    /*
     * In, optional: called for every regex location that matches on the way
     * down, outermost first, while the captures are those of that regex. nginx
     * sets named captures as variables at that moment, so an outer regex's
     * names stay set when a nested regex matches after it.
     */
    void (*on_regex)(void *ctx, const px_regex_t *re, const char *uri, const size_t *captures,
                     int npairs);
    void *ctx;

    /* Out. */
    const http_location_t *loc;
    void *conf;
    /* The auto_redirect case: answer 301 to the URI with a '/' appended. */
    int redirect;
    /* The last regex that matched (whose captures $1..$9 read), or NULL. */
    const px_regex_t *regex;
    int npairs;
    size_t captures[2 * PX_REGEX_MAX_PAIRS];
} http_location_match_t;

/*
 * Splits the arguments of a `location` directive (1 or 2 of them, the caller has
 * checked the count) into kind and name, accepting the glued forms nginx accepts
 * (`=/x`, `^~/x`, `~*\.jpg$`). PX_ERROR with `invalid location modifier "x"`.
 */
int http_location_parse_args(const px_str_t *args, size_t nargs, http_location_kind_t *kind,
                             px_str_t *name, char *err, size_t err_size);

http_location_tree_t *http_location_tree_create(void);
void http_location_tree_free(http_location_tree_t *tree);

/*
 * Adds a location under parent (NULL for the server level) and returns its
 * handle in *out, for its own nested locations. Compiles a regex at once and
 * checks nesting, so these errors belong to the line of def: the PCRE2 message,
 * `location "/x" cannot be inside the exact location "/y"`,
 * `location "/x" cannot be inside the named location "@y"`,
 * `named location "@x" can be on the server level only`,
 * `location "/a" is outside location "/b"`. The name is copied.
 */
int http_location_add(http_location_tree_t *tree, http_location_t *parent,
                      const http_location_def_t *def, http_location_t **out,
                      http_location_error_t *err);

/*
 * Builds the lookup structures once every location is added. Fails with
 * `duplicate location "/x"`, err->conf naming the later of the two.
 * After a failure the tree can only be freed.
 */
int http_location_finalize(http_location_tree_t *tree, http_location_error_t *err);

/*
 * Selects the location for a URI (already normalized by the caller): PX_OK with
 * m filled, PX_DECLINED when nothing matched (the server level applies), or
 * PX_ERROR when a regex failed to run.
 */
int http_location_find(const http_location_tree_t *tree, const char *uri, size_t len,
                       http_location_match_t *m);

/* The conf of a named location, name with its '@'; the first defined wins. */
void *http_location_find_named(const http_location_tree_t *tree, px_str_t name);

void *http_location_conf(const http_location_t *loc);
px_str_t http_location_name(const http_location_t *loc);
http_location_kind_t http_location_kind(const http_location_t *loc);
/* For proxy_pass and the like, known only once the location's block is read. */
void http_location_set_auto_redirect(http_location_t *loc);
const http_location_t *http_location_parent(const http_location_t *loc);
/* The compiled regex of a regex location (for its named groups), else NULL. */
const px_regex_t *http_location_regex(const http_location_t *loc);

#endif
