/* nginx's rewrite module: rewrite, return, set, break and if () at server and location
 * level, compiled at load into one list of operations per level and run in the
 * server-rewrite and rewrite phases. An if () block's operations sit inline in its
 * parent's list (a false condition jumps over them); a true one switches the request to the
 * block's own location-level configuration, which is how directives such as proxy_pass or
 * add_header inside the block take effect. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "conf/conf_value.h"
#include "core/px_log.h"
#include "core/px_pool.h"
#include "http/http_core.h"
#include "http/http_regex.h"
#include "http/http_request.h"
#include "http/http_rewrite.h"
#include "http/http_variables.h"

extern conf_module_t http_rewrite_module;

enum { OP_REWRITE, OP_RETURN, OP_SET, OP_BREAK, OP_IF };
enum { FLAG_NONE, FLAG_LAST, FLAG_BREAK, FLAG_REDIRECT, FLAG_PERMANENT };

typedef struct {
    int op;
    /* rewrite; if () with a regex */
    http_regex_t *re;
    px_str_t pattern;
    /* rewrite: the replacement; return: the text; set and if (): the value */
    http_cv_t value;
    int flag;
    int status;             /* rewrite: 301/302 for a redirect; return: its code */
    unsigned redirect : 1;  /* the rewrite answers with Location */
    unsigned add_args : 1;  /* the request's args follow (no trailing '?') */
    unsigned has_args : 1;  /* the replacement has a '?' */
    unsigned has_value : 1; /* return with a text */
    size_t args_part;       /* parts index of the literal holding the '?' */
    size_t args_off;        /* and its offset there */
    /* set; if () */
    int var;
    int cond;
    int file_test;
    unsigned negate : 1;
    conf_http_ctx_t *ctx; /* if (): the block's configuration */
    size_t next;          /* if (): the operation after the block */
} rw_op_t;

typedef struct {
    px_array_t *ops; /* rw_op_t; NULL when the level has none */
    int log;         /* rewrite_log */
} rewrite_loc_conf_t;

static void *create_loc_conf(conf_ctx_t *cf)
{
    rewrite_loc_conf_t *c = px_pcalloc(cf->pool, sizeof(*c));
    if (c)
        c->log = CONF_UNSET;
    return c;
}

static const char *merge_loc_conf(conf_ctx_t *cf, void *parent, void *child)
{
    (void)cf;
    rewrite_loc_conf_t *prev = parent, *c = child;
    /* operations belong to their level: a location does not run its server's */
    CONF_MERGE(c->log, prev->log, 0);
    return NULL;
}

static rw_op_t *push_op(conf_ctx_t *cf, rewrite_loc_conf_t *rlcf, int kind)
{
    if (rlcf->ops == NULL) {
        rlcf->ops = px_pcalloc(cf->pool, sizeof(px_array_t));
        if (rlcf->ops == NULL || px_array_init(rlcf->ops, cf->pool, 4, sizeof(rw_op_t)) != PX_OK)
            return NULL;
    }
    rw_op_t *op = px_array_push(rlcf->ops);
    if (op) {
        memset(op, 0, sizeof(*op));
        op->op = kind;
        op->var = -1;
    }
    return op;
}

static int starts_with(px_str_t s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s.len >= n && memcmp(s.data, prefix, n) == 0;
}

/* ---- directives ---- */

/* rewrite regex replacement [last|break|redirect|permanent] */
static const char *set_rewrite(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                               void *conf)
{
    (void)d;
    rw_op_t *op = push_op(cf, conf, OP_REWRITE);
    if (op == NULL)
        return CONF_ERROR;
    px_str_t pattern = n->args[0].value, repl = n->args[1].value;
    if (repl.len == 0)
        return "empty replacement";
    op->pattern = pattern;
    if (http_regex_compile(cf, pattern, 0, &op->re) != PX_OK)
        return CONF_ERROR;

    op->flag = FLAG_NONE;
    if (starts_with(repl, "http://") || starts_with(repl, "https://") ||
        starts_with(repl, "$scheme")) {
        op->redirect = 1;
        op->status = 302;
        op->flag = FLAG_LAST;
    }
    if (n->nargs == 3) {
        px_str_t f = n->args[2].value;
        if (px_str_eq_lit(f, "last")) {
            op->flag = FLAG_LAST;
        } else if (px_str_eq_lit(f, "break")) {
            op->flag = FLAG_BREAK;
        } else if (px_str_eq_lit(f, "redirect")) {
            op->flag = FLAG_REDIRECT;
            op->redirect = 1;
            op->status = 302;
        } else if (px_str_eq_lit(f, "permanent")) {
            op->flag = FLAG_PERMANENT;
            op->redirect = 1;
            op->status = 301;
        } else {
            return px_psprintf(cf->pool, "invalid parameter \"%s\"", f.data);
        }
    }
    /* a last '?' drops the request's own arguments */
    if (repl.len && repl.data[repl.len - 1] == '?')
        repl.len--;
    else
        op->add_args = 1;
    const char *rv = http_cv_compile(cf, repl, &op->value);
    if (rv)
        return rv;
    /* where the new arguments begin: the first '?' written in the replacement itself */
    size_t nparts = op->value.has_vars ? op->value.nparts : 1;
    for (size_t i = 0; i < nparts && !op->has_args; i++) {
        px_str_t text = op->value.has_vars ? op->value.parts[i].text : op->value.literal;
        if (op->value.has_vars && op->value.parts[i].kind != HTTP_CV_LITERAL)
            continue;
        const char *q = memchr(text.data, '?', text.len);
        if (q) {
            op->has_args = 1;
            op->args_part = i;
            op->args_off = (size_t)(q - text.data);
        }
    }
    return NULL;
}

/* return code [text] | return URL */
static const char *set_return(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                              void *conf)
{
    (void)d;
    rw_op_t *op = push_op(cf, conf, OP_RETURN);
    if (op == NULL)
        return CONF_ERROR;
    px_str_t a0 = n->args[0].value;
    int64_t code = conf_parse_number(a0);
    const px_str_t *text = NULL;
    if (code < 0) {
        if (n->nargs != 1 || !(starts_with(a0, "http://") || starts_with(a0, "https://") ||
                               starts_with(a0, "$scheme")))
            return px_psprintf(cf->pool, "invalid return code \"%s\"", a0.data);
        op->status = 302;
        text = &n->args[0].value;
    } else {
        if (code > 999)
            return px_psprintf(cf->pool, "invalid return code \"%s\"", a0.data);
        op->status = (int)code;
        if (n->nargs == 2)
            text = &n->args[1].value;
    }
    if (text) {
        const char *rv = http_cv_compile(cf, *text, &op->value);
        if (rv)
            return rv;
        op->has_value = 1;
    }
    return NULL;
}

static const char *set_break(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                             void *conf)
{
    (void)n;
    (void)d;
    return push_op(cf, conf, OP_BREAK) ? NULL : CONF_ERROR;
}

/* A variable `set` assigns: created on first use, refused for built-in read-only ones. */
static int settable_var(conf_ctx_t *cf, px_str_t name)
{
    const http_var_def_t def = {name, NULL, 0, HTTP_VAR_CHANGEABLE};
    if (http_var_define_settable(cf, &def, NULL) != PX_OK)
        return -1;
    return http_var_index(cf, name);
}

/* set $variable value */
static const char *set_set(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                           void *conf)
{
    (void)d;
    px_str_t name = n->args[0].value;
    if (name.len < 2 || name.data[0] != '$')
        return px_psprintf(cf->pool, "invalid variable name \"%s\"", name.data);
    name.data++;
    name.len--;
    rw_op_t *op = push_op(cf, conf, OP_SET);
    if (op == NULL)
        return CONF_ERROR;
    if ((op->var = settable_var(cf, name)) < 0)
        return CONF_ERROR;
    return http_cv_compile(cf, n->args[1].value, &op->value);
}

/* Compiles a parsed condition into op. */
static const char *compile_condition(conf_ctx_t *cf, const conf_node_t *n, rw_op_t *op)
{
    size_t nw = n->nargs;
    px_str_t *words = px_palloc(cf->pool, nw * sizeof(*words));
    if (words == NULL)
        return CONF_ERROR;
    for (size_t i = 0; i < nw; i++)
        words[i] = n->args[i].value;
    http_rw_cond_t c;
    char err[256];
    if (http_rw_parse_condition(words, nw, &c, err, sizeof(err)) != PX_OK)
        return px_pstrdup(cf->pool, err, strlen(err));
    op->cond = c.kind;
    op->negate = c.negate;
    op->file_test = c.file_test;
    if (c.kind != HTTP_RW_COND_FILE && (op->var = http_var_index(cf, c.var)) < 0)
        return CONF_ERROR;
    if (c.kind == HTTP_RW_COND_REGEX) {
        op->pattern = px_pstr(cf->pool, c.operand.data, c.operand.len);
        return http_regex_compile(cf, op->pattern, c.caseless, &op->re) == PX_OK ? NULL
                                                                                 : CONF_ERROR;
    }
    if (c.kind == HTTP_RW_COND_VAR)
        return NULL;
    return http_cv_compile(cf, c.operand, &op->value);
}

/* if (condition) { ... } */
static const char *set_if(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                          void *conf)
{
    (void)d;
    rewrite_loc_conf_t *rlcf = conf;
    rw_op_t *op = push_op(cf, rlcf, OP_IF);
    if (op == NULL)
        return CONF_ERROR;
    size_t at = rlcf->ops->nelts - 1;
    const char *rv = compile_condition(cf, n, op);
    if (rv)
        return rv;
    conf_http_ctx_t *ctx = http_core_if_level(cf, n);
    if (ctx == NULL)
        return CONF_ERROR;
    op->ctx = ctx;
    /* the block's own rewrite directives land inline in this level's list */
    rewrite_loc_conf_t *inner = ctx->loc_conf[http_rewrite_module.index];
    inner->ops = rlcf->ops;
    unsigned type = cf->type == CONF_SRV ? CONF_SIF : CONF_LIF;
    if (http_core_if_apply(cf, n, ctx, type) != PX_OK)
        return CONF_ERROR;
    inner->ops = NULL;
    ((rw_op_t *)rlcf->ops->elts)[at].next = rlcf->ops->nelts;
    return NULL;
}

/* uninitialized_variable_warn: kept in the core's location conf, where variables read it */
static const char *set_uninit_warn(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                                   void *conf)
{
    (void)conf;
    http_core_loc_conf_t *clcf = cf->http->loc_conf[http_core_module.index];
    conf_directive_t flag = *d;
    flag.offset = offsetof(http_core_loc_conf_t, uninitialized_variable_warn);
    return conf_set_flag(cf, n, &flag, clcf);
}

/* ---- running ---- */

static void put_escaped_arg(px_pbuf_t *b, px_str_t s)
{
    size_t n = http_rw_escape_args(s.data, s.len, NULL);
    char *out = px_palloc(b->pool, n);
    http_rw_escape_args(s.data, s.len, out);
    px_pbuf_put(b, out, n);
}

static px_str_t capture(http_request_t *r, int group)
{
    if (group < r->ncaptures && r->captures && r->captures_subject) {
        size_t from = r->captures[2 * group], to = r->captures[2 * group + 1];
        if (from != (size_t)-1 && to >= from)
            return px_str_make(r->captures_subject + from, to - from);
    }
    return PX_STR("");
}

/* The replacement of a matched rewrite: *args_at is where the new arguments start in the
 * result (after its '?'), or (size_t)-1 when it has none. */
static px_str_t expand(http_request_t *r, const rw_op_t *op, size_t *args_at)
{
    px_pbuf_t b = {NULL, 0, 0, r->pool};
    *args_at = (size_t)-1;
    int escape = r->quoted_uri || r->plus_in_uri;
    if (!op->value.has_vars) {
        px_pbuf_str(&b, op->value.literal);
        if (op->has_args)
            *args_at = op->args_off + 1;
    } else {
        for (size_t i = 0; i < op->value.nparts; i++) {
            const struct http_cv_part *p = &op->value.parts[i];
            if (p->kind == HTTP_CV_LITERAL) {
                if (op->has_args && i == op->args_part)
                    *args_at = b.len + op->args_off + 1;
                px_pbuf_str(&b, p->text);
            } else if (p->kind == HTTP_CV_VAR) {
                http_var_value_t *v = http_var_get(r, p->index);
                if (v)
                    px_pbuf_str(&b, v->value);
            } else if (escape && (op->redirect || *args_at != (size_t)-1)) {
                put_escaped_arg(&b, capture(r, p->index));
            } else {
                px_pbuf_str(&b, capture(r, p->index));
            }
        }
    }
    return px_str_make(b.p ? b.p : "", b.len);
}

static int do_rewrite(http_request_t *r, const rw_op_t *op, int log, int *stop)
{
    int m = http_regex_exec(r, op->re, r->uri);
    if (m < 0)
        return 500;
    if (log)
        px_log_error(PX_LOG_NOTICE, &r->log, 0, "\"%.*s\" %s \"%.*s\"", (int)op->pattern.len,
                     op->pattern.data, m ? "matches" : "does not match", (int)r->uri.len,
                     r->uri.data);
    if (!m)
        return PX_DECLINED;

    size_t args_at;
    px_str_t out = expand(r, op, &args_at);
    if (op->redirect) {
        out.len = http_rw_unescape_redirect((char *)out.data, out.len);
        px_str_t target = http_rw_redirect_target(r->pool, out, args_at, op->add_args, r->args);
        if (log)
            px_log_error(PX_LOG_NOTICE, &r->log, 0, "rewritten redirect: \"%.*s\"", (int)target.len,
                         target.data);
        *stop = 1;
        return http_send_return(r, op->status, &target);
    }

    px_str_t uri, args;
    http_rw_split(r->pool, out, args_at, op->add_args, r->args, &uri, &args);
    if (uri.len == 0) {
        px_log_error(PX_LOG_ERR, &r->log, 0, "the rewritten URI has a zero length");
        return 500;
    }
    r->uri = uri;
    r->args = args;
    r->internal = 1;
    http_set_exten(r);
    if (log)
        px_log_error(PX_LOG_NOTICE, &r->log, 0, "rewritten data: \"%.*s\", args: \"%.*s\"",
                     (int)uri.len, uri.data, (int)args.len, args.data);
    if (op->flag == FLAG_BREAK) {
        r->location_rewritten = 1;
        r->uri_changed = 0;
        *stop = 1;
    } else {
        r->uri_changed = 1;
        *stop = op->flag == FLAG_LAST;
    }
    return PX_DECLINED;
}

static int file_test(http_request_t *r, const rw_op_t *op, px_str_t path)
{
    char *z = px_pstrdup(r->pool, path.data, path.len);
    struct stat st;
    int exists = stat(z, &st) == 0;
    if (!exists && errno != ENOENT && errno != ENOTDIR && errno != ENAMETOOLONG)
        px_log_error(PX_LOG_CRIT, &r->log, errno, "stat() \"%s\" failed", z);
    return http_rw_file_test(op->file_test, op->negate, exists, &st);
}

/* Evaluates an if () condition: 1 true, 0 false, or a status to end with. */
static int condition(http_request_t *r, const rw_op_t *op, int log)
{
    if (op->cond == HTTP_RW_COND_FILE) {
        px_str_t path;
        if (http_cv_eval(r, &op->value, &path) != PX_OK)
            return 500;
        return file_test(r, op, path);
    }
    http_var_value_t *v = http_var_get(r, op->var);
    px_str_t value = v ? v->value : PX_STR("");
    switch (op->cond) {
    case HTTP_RW_COND_VAR:
        return http_rw_true(value);
    case HTTP_RW_COND_EQ:
    case HTTP_RW_COND_NE: {
        px_str_t other;
        if (http_cv_eval(r, &op->value, &other) != PX_OK)
            return 500;
        return px_str_eq(value, other) == (op->cond == HTTP_RW_COND_EQ);
    }
    default: {
        int m = http_regex_exec(r, op->re, value);
        if (m < 0)
            return 500;
        if (log)
            px_log_error(PX_LOG_NOTICE, &r->log, 0, "\"%.*s\" %s \"%.*s\"", (int)op->pattern.len,
                         op->pattern.data, m ? "matches" : "does not match", (int)value.len,
                         value.data);
        return op->negate ? !m : m;
    }
    }
}

/* Switches r to an if () block's configuration: its directives now apply. */
static void enter_block(http_request_t *r, conf_http_ctx_t *ctx)
{
    r->loc_conf = ctx->loc_conf;
    r->loc = ctx->loc_conf[http_core_module.index];
    if (r->loc->error_log) {
        r->log.fd = r->loc->error_log->fd;
        r->log.level = r->loc->error_log->level;
    }
}

static int run_script(http_request_t *r)
{
    rewrite_loc_conf_t *rlcf = http_get_module_loc_conf(r, http_rewrite_module);
    if (rlcf->ops == NULL)
        return PX_DECLINED;
    const rw_op_t *ops = rlcf->ops->elts;
    size_t nops = rlcf->ops->nelts;
    int log = rlcf->log;
    size_t i = 0;
    while (i < nops) {
        const rw_op_t *op = &ops[i];
        int stop = 0, rc;
        switch (op->op) {
        case OP_REWRITE:
            rc = do_rewrite(r, op, log, &stop);
            if (rc != PX_DECLINED)
                return rc;
            if (stop)
                return PX_DECLINED;
            i++;
            break;
        case OP_RETURN: {
            px_str_t text;
            if (op->has_value && http_cv_eval(r, &op->value, &text) != PX_OK)
                return 500;
            return http_send_return(r, op->status, op->has_value ? &text : NULL);
        }
        case OP_SET: {
            px_str_t value;
            if (http_cv_eval(r, &op->value, &value) != PX_OK ||
                http_var_set(r, op->var, value) != PX_OK)
                return 500;
            i++;
            break;
        }
        case OP_BREAK:
            return PX_DECLINED;
        default:
            rc = condition(r, op, log);
            if (rc > 1)
                return rc;
            if (rc) {
                enter_block(r, op->ctx);
                i++;
            } else {
                i = op->next;
            }
            break;
        }
    }
    return PX_DECLINED;
}

static int postconfiguration(conf_ctx_t *cf)
{
    http_core_main_conf_t *cmcf = cf->http->main_conf[http_core_module.index];
    if (http_push_handler(&cmcf->phase_server_rewrite, run_script) != PX_OK ||
        http_push_handler(&cmcf->phase_rewrite, run_script) != PX_OK)
        return PX_ERROR;
    return PX_OK;
}

#define RW_CTX (CONF_SRV | CONF_SIF | CONF_LOC | CONF_LIF)

static const conf_directive_t rewrite_directives[] = {
    {"rewrite", RW_CTX, CONF_TAKE23, set_rewrite, CONF_HTTP_LOC_CONF, 0, NULL},
    {"return", RW_CTX, CONF_TAKE12, set_return, CONF_HTTP_LOC_CONF, 0, NULL},
    {"break", RW_CTX, CONF_NOARGS, set_break, CONF_HTTP_LOC_CONF, 0, NULL},
    {"set", RW_CTX, CONF_TAKE2, set_set, CONF_HTTP_LOC_CONF, 0, NULL},
    /* not inside another if (), as nginx */
    {"if", CONF_SRV | CONF_LOC, CONF_BLOCK | CONF_1MORE, set_if, CONF_HTTP_LOC_CONF, 0, NULL},
    {"rewrite_log", CONF_HTTP | RW_CTX, CONF_FLAG, conf_set_flag, CONF_HTTP_LOC_CONF,
     offsetof(rewrite_loc_conf_t, log), NULL},
    {"uninitialized_variable_warn", CONF_HTTP | RW_CTX, CONF_FLAG, set_uninit_warn,
     CONF_HTTP_LOC_CONF, 0, NULL},
    {NULL, 0, 0, NULL, 0, 0, NULL},
};

conf_module_t http_rewrite_module = {
    .name = "http_rewrite",
    .directives = rewrite_directives,
    .create_loc_conf = create_loc_conf,
    .merge_loc_conf = merge_loc_conf,
    .postconfiguration = postconfiguration,
};
