/* realip: the client address taken from a header sent by a trusted proxy (nginx's
 * ngx_http_realip_module). set_real_ip_from lists the trusted peers, real_ip_header names
 * the field, real_ip_recursive walks a chain of proxies. The handler runs in the post-read
 * phase with the server's settings and again in preaccess with the location's, replacing
 * the connection's peer address for the rest of the request; the pool cleanup puts the
 * real peer back so a keepalive connection's next request starts from it. */
#include "http/http_realip.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "core/px_log.h"
#include "core/px_pool.h"
#include "http/http_core.h"
#include "http/http_proxy_protocol.h"

conf_module_t http_realip_module;

enum { HEADER_UNSET = -1, HEADER_X_REAL_IP, HEADER_X_FORWARDED_FOR, HEADER_PROXY, HEADER_FIELD };

typedef struct {
    px_array_t *from; /* px_cidr_t; NULL: none at this level, inherited as a whole */
    int type;         /* HEADER_* */
    px_str_t field;   /* HEADER_FIELD's name */
    int recursive;
} realip_loc_conf_t;

/* ---- reading addresses ---- */

static int parse_host(const char *p, size_t len, struct sockaddr_storage *out, socklen_t *outlen)
{
    memset(out, 0, sizeof(*out));
    struct sockaddr_in *sin = (struct sockaddr_in *)out;
    if (px_inet4_parse(p, len, &sin->sin_addr) == PX_OK) {
        sin->sin_family = AF_INET;
        *outlen = sizeof(*sin);
        return PX_OK;
    }
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
    if (px_inet6_parse(p, len, &sin6->sin6_addr) == PX_OK) {
        sin6->sin6_family = AF_INET6;
        *outlen = sizeof(*sin6);
        return PX_OK;
    }
    return PX_ERROR;
}

/* Decimal digits only, 1-65535; 0 when not a port. */
static unsigned parse_port(const char *p, size_t len)
{
    unsigned port = 0;
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        port = port * 10 + (unsigned)(p[i] - '0');
        if (port > 65535)
            return 0;
    }
    return port;
}

int http_realip_parse_addr(const char *p, size_t len, struct sockaddr_storage *out,
                           socklen_t *outlen)
{
    if (parse_host(p, len, out, outlen) == PX_OK)
        return PX_OK;
    const char *end = p + len;
    const char *host = p, *colon;
    if (len && p[0] == '[') {
        const char *close = memchr(p, ']', len);
        if (close == NULL || close + 1 == end || close[1] != ':')
            return PX_ERROR;
        host = p + 1;
        colon = close + 1;
        len = (size_t)(close - host);
    } else {
        colon = memchr(p, ':', len);
        if (colon == NULL)
            return PX_ERROR;
        len = (size_t)(colon - p);
    }
    unsigned port = parse_port(colon + 1, (size_t)(end - colon - 1));
    if (port == 0 || parse_host(host, len, out, outlen) != PX_OK)
        return PX_ERROR;
    if (out->ss_family == AF_INET)
        ((struct sockaddr_in *)out)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)out)->sin6_port = htons((uint16_t)port);
    return PX_OK;
}

/* ---- walking a forwarding header ---- */

static int is_trusted(const px_cidr_t *trusted, size_t n, const struct sockaddr_storage *addr)
{
    for (size_t i = 0; i < n; i++) {
        if (px_cidr_match(&trusted[i], (const struct sockaddr *)addr))
            return 1;
    }
    return 0;
}

static int is_separator(char c)
{
    return c == ' ' || c == ',';
}

/* How far the walk through one value got. */
enum { WALK_NONE, WALK_STOPPED, WALK_THROUGH };

/* One header value from its end. WALK_NONE: nothing taken (untrusted address in hand, or
 * the last item invalid); WALK_STOPPED: items taken, then an untrusted address or an
 * invalid item ended the walk; WALK_THROUGH: the single step taken (not recursive) or every
 * item consumed. nginx's scan never treats the value's first byte as a separator, so ",a"
 * yields the item ",a" (invalid); an empty item before a leading separator is invalid too. */
static int walk_value(px_str_t v, const px_cidr_t *trusted, size_t ntrusted, int recursive,
                      struct sockaddr_storage *addr, socklen_t *addrlen)
{
    size_t end = v.len;
    int taken = 0;
    for (;;) {
        if (!is_trusted(trusted, ntrusted, addr))
            return taken ? WALK_STOPPED : WALK_NONE;
        while (end > 1 && is_separator(v.data[end - 1]))
            end--;
        size_t start = end ? end - 1 : 0;
        while (start > 0 && !is_separator(v.data[start]))
            start--;
        if (start > 0)
            start++;
        struct sockaddr_storage item;
        socklen_t itemlen;
        if (end == 0 ||
            http_realip_parse_addr(v.data + start, end - start, &item, &itemlen) != PX_OK)
            return taken ? WALK_STOPPED : WALK_NONE;
        *addr = item;
        *addrlen = itemlen;
        taken = 1;
        if (!recursive || start == 0)
            return WALK_THROUGH;
        end = start - 1;
    }
}

int http_realip_forwarded(const px_str_t *values, size_t nvalues, const px_cidr_t *trusted,
                          size_t ntrusted, int recursive, struct sockaddr_storage *addr,
                          socklen_t *addrlen)
{
    int found = 0;
    /* Several fields of the header are one list in order: the last field's items come
     * last, so the walk goes through the fields from the last one. */
    for (size_t i = nvalues; i-- > 0;) {
        int rc = walk_value(values[i], trusted, ntrusted, recursive, addr, addrlen);
        if (rc == WALK_NONE)
            break;
        found = 1;
        if (rc == WALK_STOPPED || !recursive)
            break;
    }
    return found ? PX_OK : PX_DECLINED;
}

/* ---- per-request state ----
 * A request whose address was replaced keeps the real peer here until its pool goes; nginx
 * replaces the address at most once per request (internal redirects included). */

typedef struct {
    px_conn_t *conn;
    struct sockaddr_storage peer;
    socklen_t peer_len;
} realip_state_t;

static realip_state_t *find_state(const http_request_t *r)
{
    return r->realip;
}

static void restore_peer(void *data)
{
    realip_state_t *state = data;
    state->conn->peer = state->peer;
    state->conn->peer_len = state->peer_len;
}

static int set_addr(http_request_t *r, const struct sockaddr_storage *addr, socklen_t len)
{
    realip_state_t *state = px_palloc(r->pool, sizeof(*state));
    if (state == NULL || px_pool_cleanup_add(r->pool, restore_peer, state) != PX_OK)
        return 500;
    px_conn_t *c = r->conn;
    state->conn = c;
    state->peer = c->peer;
    state->peer_len = c->peer_len;
    r->realip = state;
    c->peer = *addr;
    c->peer_len = len;
    return PX_DECLINED;
}

/* ---- the phase handler ---- */

static const http_header_t *first_header(http_request_t *r, px_str_t name)
{
    const http_header_t *h = r->headers.elts;
    for (size_t i = 0; i < r->headers.nelts; i++) {
        if (px_str_caseeq(h[i].name, name))
            return &h[i];
    }
    return NULL;
}

static int realip_handler(http_request_t *r)
{
    realip_loc_conf_t *rlcf = http_get_module_loc_conf(r, http_realip_module);
    if (rlcf->from == NULL || r->conn == NULL || find_state(r))
        return PX_DECLINED;

    px_str_t one, *values = &one;
    size_t nvalues = 1;
    const http_header_t *h;
    switch (rlcf->type) {
    case HEADER_X_FORWARDED_FOR: {
        const http_header_t *all = r->headers.elts;
        nvalues = 0;
        for (size_t i = 0; i < r->headers.nelts; i++)
            nvalues += px_str_caseeq_lit(all[i].name, "X-Forwarded-For");
        if (nvalues == 0)
            return PX_DECLINED;
        if (nvalues > 1 && (values = px_palloc(r->pool, nvalues * sizeof(px_str_t))) == NULL)
            return 500;
        size_t n = 0;
        for (size_t i = 0; i < r->headers.nelts; i++) {
            if (px_str_caseeq_lit(all[i].name, "X-Forwarded-For"))
                values[n++] = all[i].value;
        }
        break;
    }
    case HEADER_PROXY: {
        /* the header's source address (and port), if the peer that sent it is trusted;
         * nothing for a connection without one, or with LOCAL / UNKNOWN */
        const px_pp_header_t *pp = http_pp_header(r);
        if (pp == NULL || pp->local || (pp->family != AF_INET && pp->family != AF_INET6) ||
            !is_trusted(rlcf->from->elts, rlcf->from->nelts, &r->conn->peer))
            return PX_DECLINED;
        struct sockaddr_storage addr;
        memcpy(&addr, &pp->src, sizeof(addr));
        return set_addr(r, &addr, pp->src_len);
    }
    default:
        h = first_header(r, rlcf->type == HEADER_FIELD ? rlcf->field : PX_STR("X-Real-IP"));
        if (h == NULL)
            return PX_DECLINED;
        one = h->value;
        break;
    }

    struct sockaddr_storage addr = r->conn->peer;
    socklen_t addrlen = r->conn->peer_len;
    if (http_realip_forwarded(values, nvalues, rlcf->from->elts, rlcf->from->nelts, rlcf->recursive,
                              &addr, &addrlen) != PX_OK)
        return PX_DECLINED;
    return set_addr(r, &addr, addrlen);
}

/* ---- variables: the real peer ---- */

static void peer_of(http_request_t *r, const struct sockaddr_storage **sa, socklen_t *len)
{
    realip_state_t *state = find_state(r);
    *sa = state ? &state->peer : &r->conn->peer;
    *len = state ? state->peer_len : r->conn->peer_len;
}

static int get_realip_remote_addr(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    (void)data;
    if (r->conn == NULL) {
        v->not_found = 1;
        return PX_OK;
    }
    const struct sockaddr_storage *sa;
    socklen_t len;
    peer_of(r, &sa, &len);
    char buf[PX_ADDR_TEXT_SIZE];
    size_t n = px_addr_to_text((const struct sockaddr *)sa, len, 0, buf, sizeof(buf));
    v->value = px_pstr(r->pool, buf, n);
    if (v->value.data == NULL)
        return PX_ERROR;
    return PX_OK;
}

static int get_realip_remote_port(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    (void)data;
    if (r->conn == NULL) {
        v->not_found = 1;
        return PX_OK;
    }
    const struct sockaddr_storage *sa;
    socklen_t len;
    peer_of(r, &sa, &len);
    unsigned port = 0;
    if (sa->ss_family == AF_INET)
        port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
    else if (sa->ss_family == AF_INET6)
        port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    v->value = PX_STR("");
    if (port > 0) {
        char *s = px_psprintf(r->pool, "%u", port);
        if (s == NULL)
            return PX_ERROR;
        v->value = px_str_make(s, strlen(s));
    }
    return PX_OK;
}

/* ---- configuration ---- */

static px_cidr_t *push_from(conf_ctx_t *cf, realip_loc_conf_t *rlcf)
{
    if (rlcf->from == NULL) {
        rlcf->from = px_palloc(cf->pool, sizeof(px_array_t));
        if (rlcf->from == NULL ||
            px_array_init(rlcf->from, cf->pool, 2, sizeof(px_cidr_t)) != PX_OK)
            return NULL;
    }
    return px_array_push(rlcf->from);
}

/* A name that is no address or CIDR is resolved now, as nginx does; every address it has
 * is trusted alone. nginx's word for anything unusable is "host not found". */
static const char *trust_host(conf_ctx_t *cf, realip_loc_conf_t *rlcf, px_str_t name)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (name.len == 0 || memchr(name.data, '\0', name.len) ||
        getaddrinfo(name.data, NULL, &hints, &res) != 0)
        return px_psprintf(cf->pool, "host not found in set_real_ip_from \"%.*s\"", (int)name.len,
                           name.data);
    /* IPv4 addresses first, as nginx lists them */
    for (int pass = 0; pass < 2; pass++) {
        int family = pass == 0 ? AF_INET : AF_INET6;
        for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
            if (ai->ai_family != family)
                continue;
            px_cidr_t *cidr = push_from(cf, rlcf);
            if (cidr == NULL) {
                freeaddrinfo(res);
                return CONF_ERROR;
            }
            memset(cidr, 0, sizeof(*cidr));
            cidr->family = family;
            if (family == AF_INET) {
                cidr->u.v4.addr = ((struct sockaddr_in *)ai->ai_addr)->sin_addr;
                cidr->u.v4.mask.s_addr = 0xffffffffu;
            } else {
                cidr->u.v6.addr = ((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
                memset(&cidr->u.v6.mask, 0xff, sizeof(cidr->u.v6.mask));
            }
        }
    }
    freeaddrinfo(res);
    return NULL;
}

static const char *set_real_ip_from(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                                    void *conf)
{
    (void)d;
    realip_loc_conf_t *rlcf = conf;
    px_str_t text = n->args[0].value;
    px_cidr_t cidr;
    char msg[256];
    /* "all" belongs to allow/deny: for nginx's realip it is just a name to resolve */
    int rc =
        px_str_eq(text, PX_STR("all")) ? PX_ERROR : px_cidr_parse(&cidr, text, msg, sizeof(msg));
    if (rc == PX_ERROR)
        return trust_host(cf, rlcf, text);
    if (rc == PX_DONE)
        conf_log(cf, PX_LOG_WARN, 0, "%s", msg);
    px_cidr_t *slot = push_from(cf, rlcf);
    if (slot == NULL)
        return CONF_ERROR;
    *slot = cidr;
    return NULL;
}

static const char *set_real_ip_header(conf_ctx_t *cf, const conf_node_t *n,
                                      const conf_directive_t *d, void *conf)
{
    (void)cf;
    (void)d;
    realip_loc_conf_t *rlcf = conf;
    px_str_t value = n->args[0].value;
    /* nginx compares the special names case-sensitively: "x-real-ip" is a plain field,
     * found by name like any other (with the same result) */
    if (px_str_eq(value, PX_STR("X-Real-IP"))) {
        rlcf->type = HEADER_X_REAL_IP;
    } else if (px_str_eq(value, PX_STR("X-Forwarded-For"))) {
        rlcf->type = HEADER_X_FORWARDED_FOR;
    } else if (px_str_eq(value, PX_STR("proxy_protocol"))) {
        rlcf->type = HEADER_PROXY;
    } else {
        rlcf->type = HEADER_FIELD;
        rlcf->field = value;
    }
    return NULL;
}

static void *create_loc_conf(conf_ctx_t *cf)
{
    realip_loc_conf_t *rlcf = px_pcalloc(cf->pool, sizeof(*rlcf));
    if (rlcf) {
        rlcf->type = HEADER_UNSET;
        rlcf->recursive = CONF_UNSET;
    }
    return rlcf;
}

static const char *merge_loc_conf(conf_ctx_t *cf, void *parent, void *child)
{
    (void)cf;
    realip_loc_conf_t *prev = parent, *conf = child;
    if (conf->from == NULL)
        conf->from = prev->from;
    CONF_MERGE(conf->type, prev->type, HEADER_X_REAL_IP);
    CONF_MERGE(conf->recursive, prev->recursive, 0);
    /* nginx merges the field name apart from the kind of header */
    if (conf->field.len == 0)
        conf->field = prev->field;
    return NULL;
}

static int preconfiguration(conf_ctx_t *cf)
{
    static const http_var_def_t vars[] = {
        {PX_STR("realip_remote_addr"), get_realip_remote_addr, 0, 0},
        {PX_STR("realip_remote_port"), get_realip_remote_port, 0, 0},
    };
    return http_var_define_all(cf, vars, sizeof(vars) / sizeof(vars[0]));
}

static int postconfiguration(conf_ctx_t *cf)
{
    http_core_main_conf_t *cmcf = cf->http->main_conf[http_core_module.index];
    /* post-read sees the server's settings; preaccess the location's, for a request the
     * server level left alone */
    if (http_push_handler(&cmcf->phase_post_read, realip_handler) != PX_OK ||
        http_push_handler(&cmcf->phase_preaccess, realip_handler) != PX_OK)
        return PX_ERROR;
    return PX_OK;
}

#define LOC_OFF(f) CONF_HTTP_LOC_CONF, offsetof(realip_loc_conf_t, f)

static const conf_directive_t realip_directives[] = {
    {"set_real_ip_from", CONF_HTTP | CONF_SRV | CONF_LOC, CONF_TAKE1, set_real_ip_from,
     CONF_HTTP_LOC_CONF, 0, NULL},
    {"real_ip_header", CONF_HTTP | CONF_SRV | CONF_LOC, CONF_TAKE1, set_real_ip_header,
     CONF_HTTP_LOC_CONF, 0, NULL},
    {"real_ip_recursive", CONF_HTTP | CONF_SRV | CONF_LOC, CONF_FLAG, conf_set_flag,
     LOC_OFF(recursive), NULL},
    {NULL, 0, 0, NULL, 0, 0, NULL},
};

conf_module_t http_realip_module = {
    .name = "http_realip",
    .directives = realip_directives,
    .create_loc_conf = create_loc_conf,
    .merge_loc_conf = merge_loc_conf,
    .preconfiguration = preconfiguration,
    .postconfiguration = postconfiguration,
};
