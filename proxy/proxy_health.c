/* Active health checks, in the spirit of nginx's commercial `health_check`: a location that
 * proxies to an upstream{} group names the check, and one process (the worker in slot 0)
 * sends each peer of the group `GET uri` every interval. A response whose status (and body,
 * with a `match` block) passes counts as a pass; anything else as a failure. After `fails`
 * failures in a row the peer is marked unhealthy in the group's shared state, so no worker
 * picks it, until `passes` passes in a row bring it back.
 *
 *   match ok { status 200-399; body ~ "alive"; }            # http
 *   health_check interval=5s fails=1 passes=1 uri=/ port=N match=ok;   # location */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/conf_value.h"
#include "core/px_log.h"
#include "core/px_process.h"
#include "core/px_regex.h"
#include "proxy/proxy_http.h"
#include "upstream/ups_connect.h"
#include "upstream/ups_upstream.h"

typedef struct {
    int lo, hi;
} status_range_t;

typedef struct {
    px_str_t name;
    status_range_t ranges[16];
    size_t nranges;
    int negate_status; /* status ! 500 */
    px_regex_t *body;  /* body ~ / !~ */
    int negate_body;
    const char *file;
    unsigned line;
} health_match_t;

struct probe;

typedef struct {
    proxy_loc_conf_t *plcf; /* the location: its group, connect and read timeouts */
    px_msec_t interval;
    int fails, passes;
    px_str_t uri;
    int port; /* 0: the peer's own */
    px_str_t match_name;
    health_match_t *match;
    const char *file;
    unsigned line;
    struct probe *probes; /* in the checking worker */
} health_check_t;

typedef struct probe {
    health_check_t *hc;
    ups_upstream_t *ups;
    size_t peer;
    px_conn_t *c;
    px_timer_t timer; /* next probe */
    px_log_t log;
    char req[512];
    size_t req_len, req_sent;
    char buf[4096];
    size_t len;
    int failed_in_row, passed_in_row;
} probe_t;

typedef struct {
    px_array_t checks;  /* health_check_t* */
    px_array_t matches; /* health_match_t* */
} health_main_conf_t;

extern conf_module_t proxy_health_module;

static void *create_main_conf(conf_ctx_t *cf)
{
    health_main_conf_t *m = px_pcalloc(cf->pool, sizeof(*m));
    if (m == NULL || px_array_init(&m->checks, cf->pool, 2, sizeof(void *)) != PX_OK ||
        px_array_init(&m->matches, cf->pool, 2, sizeof(void *)) != PX_OK)
        return NULL;
    return m;
}

/* ---- configuration ---- */

static int param(px_str_t p, const char *name, px_str_t *value)
{
    size_t n = strlen(name);
    if (p.len <= n || memcmp(p.data, name, n) != 0 || p.data[n] != '=')
        return 0;
    *value = px_str_make(p.data + n + 1, p.len - n - 1);
    return 1;
}

/* health_check [interval=T] [fails=N] [passes=N] [uri=URI] [port=N] [match=NAME] */
static const char *set_health_check(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                                    void *conf)
{
    (void)d;
    health_main_conf_t *m = conf;
    health_check_t *hc = px_pcalloc(cf->pool, sizeof(*hc));
    health_check_t **slot = px_array_push(&m->checks);
    if (hc == NULL || slot == NULL)
        return CONF_ERROR;
    *slot = hc;
    hc->plcf = cf->http->loc_conf[proxy_http_module.index];
    hc->interval = 5000;
    hc->fails = 1;
    hc->passes = 1;
    hc->uri = PX_STR("/");
    hc->file = n->file;
    hc->line = n->line;
    for (size_t i = 0; i < n->nargs; i++) {
        px_str_t p = n->args[i].value, v;
        int64_t num;
        if (param(p, "interval", &v)) {
            if ((num = conf_parse_msec(v)) <= 0)
                goto invalid;
            hc->interval = (px_msec_t)num;
        } else if (param(p, "fails", &v)) {
            if ((num = conf_parse_number(v)) <= 0 || num > 1000000)
                goto invalid;
            hc->fails = (int)num;
        } else if (param(p, "passes", &v)) {
            if ((num = conf_parse_number(v)) <= 0 || num > 1000000)
                goto invalid;
            hc->passes = (int)num;
        } else if (param(p, "uri", &v)) {
            if (v.len == 0 || v.data[0] != '/' || memchr(v.data, ' ', v.len) ||
                memchr(v.data, '\r', v.len) || memchr(v.data, '\n', v.len) || v.len > 256)
                goto invalid;
            hc->uri = v;
        } else if (param(p, "port", &v)) {
            if ((num = conf_parse_number(v)) <= 0 || num > 65535)
                goto invalid;
            hc->port = (int)num;
        } else if (param(p, "match", &v)) {
            if (v.len == 0)
                goto invalid;
            hc->match_name = v;
        } else {
            goto invalid;
        }
        continue;
    invalid:
        return px_psprintf(cf->pool, "invalid parameter \"%s\"", p.data);
    }
    return NULL;
}

static const char *parse_status(conf_ctx_t *cf, const conf_node_t *c, health_match_t *hm)
{
    size_t i = 0;
    if (c->nargs && px_str_eq_lit(c->args[0].value, "!")) {
        hm->negate_status = 1;
        i = 1;
    }
    if (i == c->nargs)
        return "invalid number of arguments in \"status\" directive";
    for (; i < c->nargs; i++) {
        px_str_t a = c->args[i].value;
        const char *dash = memchr(a.data, '-', a.len);
        int64_t lo, hi;
        if (dash) {
            lo = conf_parse_number(px_str_make(a.data, (size_t)(dash - a.data)));
            hi = conf_parse_number(px_str_make(dash + 1, a.len - (size_t)(dash - a.data) - 1));
        } else {
            lo = hi = conf_parse_number(a);
        }
        if (lo < 100 || hi > 599 || lo > hi || hm->nranges == 16)
            return px_psprintf(cf->pool, "invalid status \"%s\"", a.data);
        hm->ranges[hm->nranges++] = (status_range_t){(int)lo, (int)hi};
    }
    return NULL;
}

static void free_regex(void *re)
{
    px_regex_free(re);
}

/* match NAME { status [!] CODE|LO-HI ...; body [!]~ REGEX; } */
static const char *set_match(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                             void *conf)
{
    (void)d;
    health_main_conf_t *m = conf;
    health_match_t **mm = m->matches.elts;
    for (size_t i = 0; i < m->matches.nelts; i++) {
        if (px_str_eq(mm[i]->name, n->args[0].value))
            return px_psprintf(cf->pool, "match \"%s\" is duplicate", n->args[0].value.data);
    }
    health_match_t *hm = px_pcalloc(cf->pool, sizeof(*hm));
    health_match_t **slot = px_array_push(&m->matches);
    if (hm == NULL || slot == NULL)
        return CONF_ERROR;
    *slot = hm;
    hm->name = n->args[0].value;
    hm->file = n->file;
    hm->line = n->line;
    for (size_t i = 0; i < n->nchildren; i++) {
        const conf_node_t *c = &n->children[i];
        const conf_node_t *was = cf->node;
        cf->node = c;
        const char *rv = NULL;
        if (c->has_block) {
            rv = px_psprintf(cf->pool, "unexpected \"{\" after \"%s\"", c->name.data);
        } else if (px_str_eq_lit(c->name, "status")) {
            rv = parse_status(cf, c, hm);
        } else if (px_str_eq_lit(c->name, "body")) {
            if (c->nargs != 2 ||
                !(px_str_eq_lit(c->args[0].value, "~") || px_str_eq_lit(c->args[0].value, "!~")))
                rv = "invalid number of arguments in \"body\" directive";
            else if (hm->body)
                rv = "\"body\" directive is duplicate";
            else {
                char err[512];
                hm->negate_body = c->args[0].value.data[0] == '!';
                hm->body = px_regex_compile(c->args[1].value, 0, err, sizeof(err));
                if (hm->body == NULL)
                    rv = px_pstrdup(cf->pool, err, strlen(err));
                else if (px_pool_cleanup_add(cf->pool, free_regex, hm->body) != PX_OK)
                    rv = CONF_ERROR;
            }
        } else {
            rv = px_psprintf(cf->pool, "unknown directive \"%s\"", c->name.data);
        }
        if (rv) {
            if (rv != CONF_ERROR)
                conf_log(cf, PX_LOG_EMERG, 0, "%s", rv);
            cf->node = was;
            return CONF_ERROR;
        }
        cf->node = was;
    }
    return NULL;
}

/* ---- checking ---- */

static void schedule(probe_t *p);

static int matches(const health_match_t *hm, int status, const char *body, size_t body_len)
{
    if (hm == NULL)
        return status >= 200 && status < 400;
    int in = hm->nranges == 0;
    for (size_t i = 0; i < hm->nranges; i++)
        in |= status >= hm->ranges[i].lo && status <= hm->ranges[i].hi;
    if (hm->nranges && in == hm->negate_status)
        return 0;
    if (hm->nranges == 0 && !(status >= 200 && status < 400))
        return 0;
    if (hm->body) {
        size_t ov[2];
        int found = px_regex_exec(hm->body, body, body_len, ov, 1) >= 0;
        if (found == hm->negate_body)
            return 0;
    }
    return 1;
}

/* err: the errno value behind a failure, 0 when there is none */
static void result(probe_t *p, int ok, const char *why, int err)
{
    const ups_peer_conf_t *pc = ups_group_peer(p->ups->group, p->peer);
    const ups_peer_state_t *st = ups_peer_state(p->ups->group, p->peer);
    px_str_t group = p->ups->conf->name;
    if (ok) {
        p->failed_in_row = 0;
        if (++p->passed_in_row >= p->hc->passes && st->checker_down) {
            ups_upstream_set_healthy(p->ups, p->peer, 1);
            px_log_error(PX_LOG_NOTICE, &p->log, 0,
                         "peer %.*s of upstream \"%.*s\" is healthy again", (int)pc->name.len,
                         pc->name.data, (int)group.len, group.data);
        }
    } else {
        p->passed_in_row = 0;
        if (++p->failed_in_row >= p->hc->fails && !st->checker_down) {
            ups_upstream_set_healthy(p->ups, p->peer, 0);
            px_log_error(PX_LOG_WARN, &p->log, err,
                         "peer %.*s of upstream \"%.*s\" is unhealthy (%s), health check in %s:%u",
                         (int)pc->name.len, pc->name.data, (int)group.len, group.data, why,
                         p->hc->file, p->hc->line);
        }
    }
}

static void finish(probe_t *p, int ok, const char *why, int err)
{
    if (p->c) {
        p->c->data = NULL;
        px_conn_close(p->c);
        p->c = NULL;
    }
    result(p, ok, why, err);
    schedule(p);
}

static void evaluate(probe_t *p)
{
    int status = 0;
    char proto[16];
    if (sscanf(p->buf, "%15s %d", proto, &status) != 2 || strncmp(proto, "HTTP/1.", 7) != 0 ||
        status < 100 || status > 599) {
        finish(p, 0, "no valid HTTP response", 0);
        return;
    }
    const char *body = NULL;
    for (size_t i = 0; i + 3 < p->len; i++) {
        if (memcmp(p->buf + i, "\r\n\r\n", 4) == 0) {
            body = p->buf + i + 4;
            break;
        }
    }
    size_t body_len = body ? p->len - (size_t)(body - p->buf) : 0;
    int ok = matches(p->hc->match, status, body ? body : "", body_len);
    char why[64];
    snprintf(why, sizeof(why), "status %d%s", status, ok ? "" : " did not match");
    finish(p, ok, why, 0);
}

/* Whether the whole response is in: the head and as many body bytes as Content-Length says
 * (a server may keep the connection open after answering). */
static int response_complete(const probe_t *p)
{
    const char *end = NULL;
    for (size_t i = 0; i + 3 < p->len; i++) {
        if (memcmp(p->buf + i, "\r\n\r\n", 4) == 0) {
            end = p->buf + i + 4;
            break;
        }
    }
    if (end == NULL)
        return 0;
    for (const char *h = p->buf; h < end; h++) {
        if ((h == p->buf || h[-1] == '\n') && strncasecmp(h, "content-length:", 15) == 0) {
            long n = strtol(h + 15, NULL, 10);
            return n >= 0 && (size_t)(p->buf + p->len - end) >= (size_t)n;
        }
    }
    return 0;
}

static void probe_event(px_conn_t *c)
{
    probe_t *p = c->data;
    if (p == NULL)
        return;
    if (c->closing) {
        /* the worker stops: the probe ends without a verdict */
        p->c = NULL;
        c->data = NULL;
        px_conn_close(c);
        return;
    }
    if (p->req_sent == 0) {
        int err = ups_connect_result(c);
        if (err) {
            finish(p, 0, "connect() failed", err);
            return;
        }
        if (!c->writable)
            return;
    }
    while (p->req_sent < p->req_len) {
        ssize_t n = px_conn_send(c, p->req + p->req_sent, p->req_len - p->req_sent);
        if (n == PX_AGAIN)
            return;
        if (n < 0) {
            finish(p, 0, "send() failed", errno);
            return;
        }
        p->req_sent += (size_t)n;
        px_timer_del(&c->read_timer);
        px_timer_add(&c->read_timer, (px_msec_t)p->hc->plcf->read_timeout);
    }
    for (;;) {
        if (p->len + 1 >= sizeof(p->buf)) {
            evaluate(p);
            return;
        }
        ssize_t n = px_conn_recv(c, p->buf + p->len, sizeof(p->buf) - 1 - p->len);
        if (n == PX_AGAIN)
            return;
        if (n < 0) {
            finish(p, 0, "recv() failed", errno);
            return;
        }
        if (n == 0) {
            p->buf[p->len] = '\0';
            evaluate(p);
            return;
        }
        p->len += (size_t)n;
        p->buf[p->len] = '\0';
        if (response_complete(p)) {
            evaluate(p);
            return;
        }
    }
}

static void probe_timeout(px_timer_t *t)
{
    px_conn_t *c = t->data;
    probe_t *p = c->data;
    if (p)
        finish(p, 0, "timed out", 0);
}

static void start_probe(px_timer_t *t)
{
    probe_t *p = t->data;
    if (px_worker_exiting)
        return;
    const px_addr_t *a = &p->ups->addrs[p->peer];
    struct sockaddr_storage sa = a->sa;
    if (p->hc->port) {
        if (sa.ss_family == AF_INET)
            ((struct sockaddr_in *)&sa)->sin_port = htons((uint16_t)p->hc->port);
        else if (sa.ss_family == AF_INET6)
            ((struct sockaddr_in6 *)&sa)->sin6_port = htons((uint16_t)p->hc->port);
    }
    p->len = 0;
    p->req_sent = 0;
    int err = 0;
    p->c = ups_connect((struct sockaddr *)&sa, a->len, &p->log, &err);
    if (p->c == NULL) {
        result(p, 0, "connect() failed", err);
        schedule(p);
        return;
    }
    p->c->data = p;
    /* a graceful stop closes probes in flight like idle connections */
    px_conn_set_idle(p->c, 1);
    p->c->read_handler = probe_event;
    p->c->write_handler = probe_event;
    p->c->read_timer.handler = probe_timeout;
    p->c->read_timer.data = p->c;
    px_timer_add(&p->c->read_timer, (px_msec_t)p->hc->plcf->connect_timeout);
    if (p->c->writable)
        probe_event(p->c);
}

static void schedule(probe_t *p)
{
    if (!px_worker_exiting)
        px_timer_add(&p->timer, p->hc->interval);
}

/* Per cycle (main context): the checks of its http{}, for the worker hook. */
typedef struct {
    health_main_conf_t *m;
} health_core_conf_t;

static void *create_core_conf(conf_ctx_t *cf)
{
    return px_pcalloc(cf->pool, sizeof(health_core_conf_t));
}

/* The worker in slot 0 runs every check of the cycle. */
static int start_checks(px_cycle_t *cycle)
{
    health_core_conf_t *cc = cycle->conf[proxy_health_module.index];
    if (px_worker_slot != 0 || cc == NULL || cc->m == NULL)
        return PX_OK;
    health_check_t **hc = cc->m->checks.elts;
    for (size_t i = 0; i < cc->m->checks.nelts; i++) {
        ups_upstream_t *u = hc[i]->plcf->target->ups;
        for (size_t k = 0; k < u->npeers; k++) {
            if (ups_group_peer(u->group, k)->down)
                continue;
            probe_t *p = &hc[i]->probes[k];
            p->hc = hc[i];
            p->ups = u;
            p->peer = k;
            p->log = px_errlog;
            p->req_len = (size_t)snprintf(p->req, sizeof(p->req),
                                          "GET %.*s HTTP/1.0\r\nHost: %.*s\r\n"
                                          "User-Agent: proxyd-health-check\r\n\r\n",
                                          (int)hc[i]->uri.len, hc[i]->uri.data,
                                          (int)u->conf->name.len, u->conf->name.data);
            px_timer_init(&p->timer, start_probe, p);
            /* the first round at once, then every interval */
            px_timer_add(&p->timer, 0);
        }
    }
    return PX_OK;
}

static int postconfiguration(conf_ctx_t *cf)
{
    health_main_conf_t *m = cf->http->main_conf[proxy_health_module.index];
    health_check_t **hc = m->checks.elts;
    for (size_t i = 0; i < m->checks.nelts; i++) {
        proxy_target_t *t = hc[i]->plcf->target;
        if (!hc[i]->plcf->has_pass || t == NULL || t->ups == NULL || t->ups->conf->implicit) {
            px_log_error(PX_LOG_EMERG, NULL, 0,
                         "\"health_check\" needs \"proxy_pass\" to an upstream{} group in %s:%u",
                         hc[i]->file, hc[i]->line);
            return PX_ERROR;
        }
        if (hc[i]->match_name.len) {
            health_match_t **mm = m->matches.elts;
            for (size_t k = 0; k < m->matches.nelts && hc[i]->match == NULL; k++) {
                if (px_str_eq(mm[k]->name, hc[i]->match_name))
                    hc[i]->match = mm[k];
            }
            if (hc[i]->match == NULL) {
                px_log_error(PX_LOG_EMERG, NULL, 0, "match \"%.*s\" not found in %s:%u",
                             (int)hc[i]->match_name.len, hc[i]->match_name.data, hc[i]->file,
                             hc[i]->line);
                return PX_ERROR;
            }
        }
        hc[i]->probes = px_pcalloc(cf->cycle->pool, t->ups->npeers * sizeof(probe_t));
        if (hc[i]->probes == NULL)
            return PX_ERROR;
    }
    if (m->checks.nelts) {
        health_core_conf_t *cc = cf->cycle->conf[proxy_health_module.index];
        px_worker_hooks_t *h = px_array_push(&cf->cycle->worker_hooks);
        if (h == NULL)
            return PX_ERROR;
        cc->m = m;
        memset(h, 0, sizeof(*h));
        h->init_worker = start_checks;
    }
    return PX_OK;
}

static const conf_directive_t health_directives[] = {
    {"health_check", CONF_LOC, CONF_ANY, set_health_check, CONF_HTTP_MAIN_CONF, 0, NULL},
    {"match", CONF_HTTP, CONF_BLOCK | CONF_TAKE1, set_match, CONF_HTTP_MAIN_CONF, 0, NULL},
    {NULL, 0, 0, NULL, 0, 0, NULL},
};

conf_module_t proxy_health_module = {
    .name = "health_check",
    .directives = health_directives,
    .create_core_conf = create_core_conf,
    .create_main_conf = create_main_conf,
    .postconfiguration = postconfiguration,
};
