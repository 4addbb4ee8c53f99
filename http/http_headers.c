/* add_header and expires (nginx's ngx_http_headers_module): response headers added by the
 * configuration, in a header filter that runs on every response head. As in nginx, expires
 * runs first (Expires, then Cache-Control), then each add_header in the order written; all
 * of them go after the server's own headers. */
#include <stdio.h>

#include "conf/conf_value.h"
#include "core/px_time.h"
#include "http/http_core.h"

enum {
    EXPIRES_UNSET = -1,
    EXPIRES_OFF,
    EXPIRES_EPOCH,
    EXPIRES_MAX,
    EXPIRES_ACCESS,   /* relative to the time of the response */
    EXPIRES_MODIFIED, /* relative to Last-Modified (to now when there is none) */
    EXPIRES_DAILY     /* "@15h30m": the next time of day, in local time */
};

/* How a header name is added: most are appended; nginx keeps one ETag and one
 * Last-Modified, so another add_header of those replaces (or with "" removes) it. */
enum { ADD_APPEND, ADD_REPLACE, ADD_LAST_MODIFIED };

typedef struct {
    px_str_t name; /* as written: its case is what the client sees */
    http_cv_t value;
    int how;
    int always;
} add_header_t;

typedef struct {
    px_array_t *headers; /* add_header_t; NULL: none at this level, take the parent's */
    int expires;
    int64_t expires_time;    /* seconds; for DAILY the time of day */
    http_cv_t expires_value; /* a value with variables, parsed for each response */
    int expires_has_value;
} headers_loc_conf_t;

conf_module_t http_headers_module;

/* nginx's fixed values for `expires epoch` and `expires max` (max-age of ten years). */
#define EPOCH_DATE "Thu, 01 Jan 1970 00:00:01 GMT"
#define MAX_DATE "Thu, 31 Dec 2037 23:55:55 GMT"
#define MAX_AGE "max-age=315360000"
/* Dates past the year 9999 are written as its last second, and those before 1970 as
 * the epoch, so the Expires value always has four year digits. */
#define LAST_DATE ((time_t)253402300799)

/* ---- expires values ---- */

/* Parses an expires time as written in the configuration or produced by its variables.
 * *kind is ACCESS or MODIFIED on entry. Returns NULL or nginx's reason. */
static const char *parse_expires(px_str_t text, int *kind, int64_t *seconds)
{
    if (*kind != EXPIRES_MODIFIED) {
        if (px_str_eq_lit(text, "epoch")) {
            *kind = EXPIRES_EPOCH;
            return NULL;
        }
        if (px_str_eq_lit(text, "max")) {
            *kind = EXPIRES_MAX;
            return NULL;
        }
        if (px_str_eq_lit(text, "off")) {
            *kind = EXPIRES_OFF;
            return NULL;
        }
    }
    int minus = 0;
    if (text.len && text.data[0] == '@') {
        if (*kind == EXPIRES_MODIFIED)
            return "daily time cannot be used with \"modified\" parameter";
        *kind = EXPIRES_DAILY;
        text = px_str_make(text.data + 1, text.len - 1);
    } else if (text.len && (text.data[0] == '+' || text.data[0] == '-')) {
        minus = text.data[0] == '-';
        text = px_str_make(text.data + 1, text.len - 1);
    }
    int64_t t = conf_parse_sec(text);
    if (t < 0)
        return "invalid value";
    if (*kind == EXPIRES_DAILY && t > 24 * 60 * 60)
        return "daily time value must be less than 24 hours";
    *seconds = minus ? -t : t;
    return NULL;
}

/* Time arithmetic wraps as nginx's does on a 64-bit time_t, without undefined behaviour. */
static int64_t wrap_add(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

static size_t format_date(int64_t t, char *buf)
{
    if (t < 0)
        t = 0;
    if (t > LAST_DATE)
        t = LAST_DATE;
    return px_time_format_http((time_t)t, buf);
}

/* The next moment (after now) whose local time of day is `when` seconds; -1 when mktime()
 * cannot tell. */
static int64_t next_daily(time_t now, int64_t when)
{
    struct tm tm;
    localtime_r(&now, &tm);
    tm.tm_hour = (int)(when / 3600);
    tm.tm_min = (int)(when % 3600 / 60);
    tm.tm_sec = (int)(when % 60);
    time_t next = mktime(&tm);
    if (next == -1)
        return -1;
    if (next > now)
        return next;
    tm.tm_mday++; /* mktime() normalises the 32nd of a month */
    return mktime(&tm);
}

/* ---- HTTP dates (for `expires modified` against a Last-Modified header) ---- */

static const char month_names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

static int digits(const char **p, const char *end, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++, (*p)++) {
        if (*p >= end || **p < '0' || **p > '9')
            return -1;
        v = v * 10 + (**p - '0');
    }
    return v;
}

static int expect(const char **p, const char *end, char ch)
{
    if (*p >= end || **p != ch)
        return -1;
    (*p)++;
    return 0;
}

static int month_of(const char **p, const char *end)
{
    if (end - *p < 3)
        return -1;
    for (int m = 0; m < 12; m++) {
        if (memcmp(*p, month_names + 3 * m, 3) == 0) {
            *p += 3;
            return m;
        }
    }
    return -1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (month 0-11). */
static int64_t days_since_epoch(int64_t year, int month, int day)
{
    year -= month < 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    int64_t yoe = year - era * 400;
    int64_t mp = (month + 10) % 12;
    int64_t doy = (153 * mp + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Seconds since the epoch of an HTTP date in any of the three forms HTTP allows
 * ("Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
 * "Sun Nov  6 08:49:37 1994"), or -1. */
static int64_t parse_http_date(px_str_t s)
{
    const char *p = s.data, *end = s.data + s.len;
    while (p < end && *p != ',' && *p != ' ')
        p++;
    if (p == end)
        return -1;
    int asctime_form = *p == ' ';
    int day = 0, month = 0, year = 0, hour, min, sec;
    p++;
    if (asctime_form) {
        if ((month = month_of(&p, end)) < 0 || expect(&p, end, ' ') < 0)
            return -1;
        if (p < end && *p == ' ')
            p++;
        day = digits(&p, end, p + 1 < end && p[1] >= '0' && p[1] <= '9' ? 2 : 1);
        if (day < 0 || expect(&p, end, ' ') < 0)
            return -1;
    } else {
        if (expect(&p, end, ' ') < 0 || (day = digits(&p, end, 2)) < 0)
            return -1;
        if (p < end && *p == '-') {
            p++;
            if ((month = month_of(&p, end)) < 0 || expect(&p, end, '-') < 0 ||
                (year = digits(&p, end, 2)) < 0)
                return -1;
            year += year < 70 ? 2000 : 1900;
        } else if (expect(&p, end, ' ') < 0 || (month = month_of(&p, end)) < 0 ||
                   expect(&p, end, ' ') < 0 || (year = digits(&p, end, 4)) < 0) {
            return -1;
        }
        if (expect(&p, end, ' ') < 0)
            return -1;
    }
    if ((hour = digits(&p, end, 2)) < 0 || expect(&p, end, ':') < 0 ||
        (min = digits(&p, end, 2)) < 0 || expect(&p, end, ':') < 0 ||
        (sec = digits(&p, end, 2)) < 0)
        return -1;
    if (asctime_form && (expect(&p, end, ' ') < 0 || (year = digits(&p, end, 4)) < 0))
        return -1;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (hour > 23 || min > 59 || sec > 59 || day < 1 || day > mdays[month] ||
        (month == 1 && day == 29 && !leap))
        return -1;
    return days_since_epoch(year, month, day) * 86400 + hour * 3600 + min * 60 + sec;
}

/* The response's Last-Modified time: the server's own, or one among the headers (a
 * proxied response's); -1 when there is none or it is not a date. */
static int64_t last_modified_time(http_request_t *r)
{
    if (r->last_modified.len)
        return parse_http_date(r->last_modified);
    http_header_t *h = r->out_headers.elts;
    for (size_t i = r->out_headers.nelts; h && i-- > 0;) {
        if (h[i].value.len && px_str_caseeq_lit(h[i].name, "Last-Modified"))
            return parse_http_date(h[i].value);
    }
    return -1;
}

/* ---- the header filter ---- */

/* The last header named name that is still sent (a removed one has an empty value). */
static http_header_t *find_out_header(http_request_t *r, const char *name)
{
    http_header_t *h = r->out_headers.elts;
    for (size_t i = r->out_headers.nelts; h && i-- > 0;) {
        if (h[i].value.len && px_str_caseeq_lit(h[i].name, name))
            return &h[i];
    }
    return NULL;
}

/* Sets a header the response may already have (a proxied one): the existing line takes
 * the value where it stands. */
static int set_out_header(http_request_t *r, http_header_t *old, px_str_t name, px_str_t value)
{
    if (old) {
        old->value = value;
        return PX_OK;
    }
    return http_add_out_header(r, name, value);
}

/* Cache-Control: the first line takes the value and any others are dropped, as expires
 * overrides what a proxied response said. */
static int set_cache_control(http_request_t *r, px_str_t value)
{
    http_header_t *h = r->out_headers.elts, *first = NULL;
    for (size_t i = 0; h && i < r->out_headers.nelts; i++) {
        if (h[i].value.len == 0 || !px_str_caseeq_lit(h[i].name, "Cache-Control"))
            continue;
        if (first)
            h[i].name = h[i].value = PX_NULL_STR; /* removed */
        else
            first = &h[i];
    }
    return set_out_header(r, first, PX_STR("Cache-Control"), value);
}

static int set_expires(http_request_t *r, const headers_loc_conf_t *conf)
{
    int kind = conf->expires;
    int64_t seconds = conf->expires_time;
    if (conf->expires_has_value) {
        px_str_t text;
        if (http_cv_eval(r, &conf->expires_value, &text) != PX_OK)
            return PX_ERROR;
        /* a value nginx cannot read adds nothing, and is not an error */
        if (parse_expires(text, &kind, &seconds) != NULL || kind == EXPIRES_OFF)
            return PX_OK;
    }
    http_header_t *old = find_out_header(r, "Expires");
    if (kind == EXPIRES_EPOCH) {
        if (set_out_header(r, old, PX_STR("Expires"), PX_STR(EPOCH_DATE)) != PX_OK)
            return PX_ERROR;
        return set_cache_control(r, PX_STR("no-cache"));
    }
    if (kind == EXPIRES_MAX) {
        if (set_out_header(r, old, PX_STR("Expires"), PX_STR(MAX_DATE)) != PX_OK)
            return PX_ERROR;
        return set_cache_control(r, PX_STR(MAX_AGE));
    }
    char *date = px_palloc(r->pool, 32);
    if (date == NULL)
        return PX_ERROR;
    if (seconds == 0 && kind != EXPIRES_DAILY) {
        /* the Date header's own text, copied: the cached one changes every second */
        px_str_t now_text = px_time_http_date();
        memcpy(date, now_text.data, now_text.len);
        if (set_out_header(r, old, PX_STR("Expires"), px_str_make(date, now_text.len)) != PX_OK)
            return PX_ERROR;
        return set_cache_control(r, PX_STR("max-age=0"));
    }

    int64_t now = (int64_t)px_current_sec, at, max_age;
    int64_t modified = kind == EXPIRES_MODIFIED ? last_modified_time(r) : -1;
    if (kind == EXPIRES_DAILY) {
        at = next_daily((time_t)now, seconds);
        max_age = wrap_add(at, -now);
    } else if (modified == -1) {
        max_age = seconds;
        at = wrap_add(seconds, now);
    } else {
        at = wrap_add(seconds, modified);
        max_age = wrap_add(at, -now);
    }
    size_t len = format_date(at, date);
    if (set_out_header(r, old, PX_STR("Expires"), px_str_make(date, len)) != PX_OK)
        return PX_ERROR;
    /* nginx looks at the configured time here, not the one a variable gave */
    if (conf->expires_time < 0 || max_age < 0)
        return set_cache_control(r, PX_STR("no-cache"));
    char *cc = px_psprintf(r->pool, "max-age=%lld", (long long)max_age);
    if (cc == NULL)
        return PX_ERROR;
    return set_cache_control(r, px_str_make(cc, strlen(cc)));
}

static int add_one(http_request_t *r, const add_header_t *h, px_str_t value)
{
    if (h->how == ADD_APPEND)
        return value.len ? http_add_out_header(r, h->name, value) : PX_OK;
    if (h->how == ADD_LAST_MODIFIED)
        r->last_modified = PX_NULL_STR; /* the configured line is the only one sent */
    http_header_t *old = find_out_header(r, h->how == ADD_LAST_MODIFIED ? "Last-Modified" : "ETag");
    if (value.len == 0) {
        if (old)
            old->name = old->value = PX_NULL_STR; /* removed */
        return PX_OK;
    }
    if (old) /* unlike expires, the configured spelling of the name replaces the old one */
        old->name = h->name;
    return set_out_header(r, old, h->name, value);
}

/* The statuses nginx adds headers to unless add_header says `always`. */
static int status_takes_headers(int status)
{
    static const int listed[] = {200, 201, 204, 206, 301, 302, 303, 304, 307, 308};
    for (size_t i = 0; i < sizeof(listed) / sizeof(listed[0]); i++) {
        if (listed[i] == status)
            return 1;
    }
    return 0;
}

static int headers_filter(http_request_t *r)
{
    if (r->loc_conf == NULL)
        return PX_OK;
    const headers_loc_conf_t *conf = http_get_module_loc_conf(r, http_headers_module);
    if (conf->expires == EXPIRES_OFF && conf->headers == NULL)
        return PX_OK;
    int safe = status_takes_headers(r->status);
    if (conf->expires != EXPIRES_OFF && safe && set_expires(r, conf) != PX_OK)
        return PX_ERROR;
    const add_header_t *h = conf->headers ? conf->headers->elts : NULL;
    for (size_t i = 0; h && i < conf->headers->nelts; i++) {
        if (!safe && !h[i].always)
            continue;
        px_str_t value;
        if (http_cv_eval(r, &h[i].value, &value) != PX_OK || add_one(r, &h[i], value) != PX_OK)
            return PX_ERROR;
    }
    return PX_OK;
}

/* ---- configuration ---- */

static const char *set_add_header(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                                  void *conf)
{
    (void)d;
    headers_loc_conf_t *hcf = conf;
    if (hcf->headers == NULL) {
        hcf->headers = px_palloc(cf->pool, sizeof(px_array_t));
        if (hcf->headers == NULL ||
            px_array_init(hcf->headers, cf->pool, 2, sizeof(add_header_t)) != PX_OK)
            return CONF_ERROR;
    }
    add_header_t *h = px_array_push(hcf->headers);
    if (h == NULL)
        return CONF_ERROR;
    memset(h, 0, sizeof(*h));
    h->name = n->args[0].value;
    if (px_str_caseeq_lit(h->name, "Last-Modified"))
        h->how = ADD_LAST_MODIFIED;
    else if (px_str_caseeq_lit(h->name, "ETag"))
        h->how = ADD_REPLACE;
    else
        h->how = ADD_APPEND;
    const char *rv = http_cv_compile(cf, n->args[1].value, &h->value);
    if (rv)
        return rv;
    if (n->nargs == 2)
        return NULL;
    if (!px_str_eq_lit(n->args[2].value, "always"))
        return px_psprintf(cf->pool, "invalid parameter \"%s\"", n->args[2].value.data);
    h->always = 1;
    return NULL;
}

static const char *set_expires_directive(conf_ctx_t *cf, const conf_node_t *n,
                                         const conf_directive_t *d, void *conf)
{
    (void)d;
    headers_loc_conf_t *hcf = conf;
    if (hcf->expires != EXPIRES_UNSET)
        return "\"expires\" directive is duplicate";
    size_t at = 0;
    hcf->expires = EXPIRES_ACCESS;
    if (n->nargs == 2) {
        if (!px_str_eq_lit(n->args[0].value, "modified"))
            return "\"expires\" directive invalid value";
        hcf->expires = EXPIRES_MODIFIED;
        at = 1;
    }
    const char *rv = http_cv_compile(cf, n->args[at].value, &hcf->expires_value);
    if (rv)
        return rv;
    if (hcf->expires_value.has_vars) {
        hcf->expires_has_value = 1;
        return NULL;
    }
    rv = parse_expires(n->args[at].value, &hcf->expires, &hcf->expires_time);
    return rv ? px_psprintf(cf->pool, "\"expires\" directive %s", rv) : NULL;
}

static void *create_loc_conf(conf_ctx_t *cf)
{
    headers_loc_conf_t *hcf = px_pcalloc(cf->pool, sizeof(*hcf));
    if (hcf)
        hcf->expires = EXPIRES_UNSET;
    return hcf;
}

/* add_header is inherited as a whole, and only by a level that has none of its own. */
static const char *merge_loc_conf(conf_ctx_t *cf, void *parent, void *child)
{
    (void)cf;
    headers_loc_conf_t *prev = parent, *conf = child;
    if (conf->expires == EXPIRES_UNSET) {
        conf->expires = prev->expires == EXPIRES_UNSET ? EXPIRES_OFF : prev->expires;
        conf->expires_time = prev->expires_time;
        conf->expires_value = prev->expires_value;
        conf->expires_has_value = prev->expires_has_value;
    }
    if (conf->headers == NULL)
        conf->headers = prev->headers;
    return NULL;
}

static int postconfiguration(conf_ctx_t *cf)
{
    http_core_main_conf_t *cmcf = cf->http->main_conf[http_core_module.index];
    return http_push_handler(&cmcf->header_filters, headers_filter);
}

static const conf_directive_t headers_directives[] = {
    {"add_header", CONF_HTTP | CONF_SRV | CONF_LOC | CONF_LIF, CONF_TAKE23, set_add_header,
     CONF_HTTP_LOC_CONF, 0, NULL},
    {"expires", CONF_HTTP | CONF_SRV | CONF_LOC | CONF_LIF, CONF_TAKE12, set_expires_directive,
     CONF_HTTP_LOC_CONF, 0, NULL},
    {NULL, 0, 0, NULL, 0, 0, NULL},
};

conf_module_t http_headers_module = {
    .name = "http_headers",
    .directives = headers_directives,
    .create_loc_conf = create_loc_conf,
    .merge_loc_conf = merge_loc_conf,
    .postconfiguration = postconfiguration,
};
