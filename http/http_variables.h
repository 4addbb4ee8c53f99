/* Variables beyond the core API of http_core.h: the hooks http{} calls, assignment for
 * `set`, the pieces of a compiled value, and the request-header lookups variables use. */
#ifndef HTTP_VARIABLES_H
#define HTTP_VARIABLES_H

#include "http/http_core.h"

/* Called by http{} before its directives: registers the core variables. */
int http_variables_preconfigure(conf_ctx_t *cf);
/* Called at the end of http{}: binds every referenced name to its definition. An unknown
 * name logs nginx's `unknown "foo" variable` (no file:line) and returns PX_ERROR. It binds
 * only indexes taken since its last call, so a later caller may run it again. */
int http_variables_resolve(conf_ctx_t *cf);
/* Allocates r->vars from r->pool (all values unknown). Call again to forget every value. */
int http_variables_request_init(http_request_t *r);

/* A prefix family's getter receives data = (uintptr_t)(const http_var_prefix_arg_t *):
 * the rest of the name after the prefix (lowercase) and the family's own data. */
typedef struct {
    px_str_t suffix;
    uintptr_t data;
} http_var_prefix_arg_t;

/* What assigning a variable does when it is more than storing the value ($args). */
typedef void (*http_var_set_fn)(http_request_t *r, px_str_t value, uintptr_t data);

/* http_var_define with an assignment hook. Defining a name again is allowed only when the
 * existing definition is HTTP_VAR_CHANGEABLE (then it is kept and reused, as nginx does for
 * `set` and named captures); otherwise: the duplicate "name" variable. A definition with
 * get == NULL has a value only once assigned (a `set` variable): reading it before logs
 * nginx's [warn] using uninitialized "name" variable. */
int http_var_define_settable(conf_ctx_t *cf, const http_var_def_t *def, http_var_set_fn set);
/* Defines a named capture's variable (http_regex.c): changeable, not found until set. */
int http_var_define_capture(conf_ctx_t *cf, px_str_t name);
/* Assigns a value at request time (the `set` directive, named captures). value must live as
 * long as r->pool. */
int http_var_set(http_request_t *r, int index, px_str_t value);
/* Name of variable index (for messages), empty when out of range. */
px_str_t http_var_name(http_request_t *r, int index);

/* The pieces of a compiled value (http_cv_t.parts). */
enum { HTTP_CV_LITERAL, HTTP_CV_VAR, HTTP_CV_CAPTURE };

struct http_cv_part {
    int kind;
    px_str_t text; /* HTTP_CV_LITERAL */
    int index;     /* HTTP_CV_VAR: variable index; HTTP_CV_CAPTURE: group 1..9 */
};

/* Lookups shared with other modules. Each returns 1 and sets *value when found, else 0. */
/* Query argument name (case-insensitive) in r->args: "a=1&b=2". */
int http_arg(http_request_t *r, px_str_t name, px_str_t *value);
/* Cookie name (case-insensitive) in the request's Cookie headers. */
int http_cookie(http_request_t *r, px_str_t name, px_str_t *value);
/* Request header by name (case-insensitive); several headers are joined with ", " (Cookie
 * with "; "), into r->pool. */
int http_request_header(http_request_t *r, px_str_t name, px_str_t *value);

#endif
