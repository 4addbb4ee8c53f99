/* proxy_redirect: rewriting the Location and Refresh headers of a proxied response. The
 * implicit `default` maps the proxy_pass URL to the location, as nginx does. */
#include <string.h>

#include "http/http_regex.h"
#include "proxy/proxy_http.h"

/* Replaces the matched prefix of value (after skip bytes) by replacement. */
static px_str_t splice(http_request_t *r, px_str_t value, size_t skip, size_t matched, px_str_t repl)
{
    size_t len = skip + repl.len + (value.len - skip - matched);
    char *p = px_palloc(r->pool, len + 1);
    memcpy(p, value.data, skip);
    memcpy(p + skip, repl.data, repl.len);
    memcpy(p + skip + repl.len, value.data + skip + matched, value.len - skip - matched);
    return px_str_make(p, len);
}

static int starts_with(px_str_t s, px_str_t prefix)
{
    return s.len >= prefix.len && memcmp(s.data, prefix.data, prefix.len) == 0;
}

int proxy_rewrite_redirect(http_request_t *r, const proxy_loc_conf_t *conf, px_str_t value,
                           size_t skip, px_str_t *out)
{
    px_str_t tail = px_str_make(value.data + skip, value.len - skip);
    if (conf->redirect_default && conf->has_pass && !conf->pass.has_variables) {
        /* proxy_pass http://h:8000/wp/ in location /blog/: "http://h:8000/wp/" -> "/blog/";
         * without a URI part "http://h:8000/" -> "/" */
        px_str_t from = conf->pass.text, repl = conf->location;
        if (!conf->pass.has_uri) {
            char *f = px_palloc(r->pool, from.len + 2);
            memcpy(f, from.data, from.len);
            f[from.len] = '/';
            from = px_str_make(f, from.len + 1);
            repl = PX_STR("/");
        }
        if (starts_with(tail, from)) {
            *out = splice(r, value, skip, from.len, repl);
            return PX_OK;
        }
    }
    const proxy_redirect_t *rd = conf->redirects ? conf->redirects->elts : NULL;
    for (size_t i = 0; rd && i < conf->redirects->nelts; i++) {
        px_str_t repl;
        if (rd[i].regex) {
            if (http_regex_exec(r, rd[i].regex, tail) != 1)
                continue;
            if (http_cv_eval(r, &rd[i].replacement, &repl) != PX_OK)
                return PX_ERROR;
            /* a regex replaces the whole value */
            *out = splice(r, value, skip, tail.len, repl);
            return PX_OK;
        }
        px_str_t from;
        if (http_cv_eval(r, &rd[i].from_cv, &from) != PX_OK)
            return PX_ERROR;
        if (!starts_with(tail, from))
            continue;
        if (http_cv_eval(r, &rd[i].replacement, &repl) != PX_OK)
            return PX_ERROR;
        *out = splice(r, value, skip, from.len, repl);
        return PX_OK;
    }
    return PX_DECLINED;
}
