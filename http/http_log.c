/* The access log module: `log_format` compiles a line template, `access_log` attaches logs
 * to a level; each worker opens the files after fork (never under -t), writes one line per
 * request at its end, buffering when asked, and reopens them on SIGUSR1. */
#include "http/http_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "conf/conf_value.h"
#include "core/px_event.h"
#include "core/px_log.h"
#include "http/http_variables.h"

enum { ESCAPE_DEFAULT, ESCAPE_JSON, ESCAPE_NONE };

typedef struct {
    px_str_t text; /* literal text, when index < 0 */
    int index;     /* variable index */
} log_op_t;

typedef struct {
    px_str_t name;
    int escape;
    log_op_t *ops;
    size_t nops;
    const char *source; /* predefined formats are compiled when first used */
} log_fmt_t;

/* One open file, shared by every access_log that names the same path. */
typedef struct {
    char *path;
    int fd;
    char *buf; /* buffer=, NULL when unbuffered */
    size_t size;
    size_t used;
    int64_t flush; /* flush=, ms; 0 none */
    px_timer_t timer;
    time_t error_sec; /* write errors are reported at most once a second */
} log_file_t;

typedef struct {
    log_file_t *file; /* constant path */
    http_cv_t path;   /* path with variables: opened for each line */
    const char *prefix;
    log_fmt_t *fmt;
    http_cv_t cond;
    int has_cond;
} log_target_t;

typedef struct {
    px_array_t formats; /* log_fmt_t* */
} log_main_conf_t;

typedef struct {
    px_array_t *logs; /* log_target_t; NULL: none at this level */
    int off;
} log_loc_conf_t;

/* Per cycle: the files its workers open. */
typedef struct {
    px_array_t files; /* log_file_t* */
} log_core_conf_t;

static const char combined_format[] = "$remote_addr - $remote_user [$time_local] \"$request\" "
                                      "$status $body_bytes_sent \"$http_referer\" "
                                      "\"$http_user_agent\"";

/* ---- format compilation ---- */

static int is_name_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '_';
}

/* Appends the ops of one log_format argument (nginx's own `$` rules for log formats). */
static const char *compile_arg(conf_ctx_t *cf, px_str_t s, px_array_t *ops)
{
    size_t i = 0;
    while (i < s.len) {
        log_op_t *op = px_array_push(ops);
        if (op == NULL)
            return CONF_ERROR;
        if (s.data[i] != '$') {
            size_t start = i;
            while (i < s.len && s.data[i] != '$')
                i++;
            op->text = px_str_make(s.data + start, i - start);
            op->index = -1;
            continue;
        }
        if (++i == s.len)
            return px_psprintf(cf->pool, "invalid parameter \"%.*s\"", (int)s.len, s.data);
        int bracket = s.data[i] == '{';
        if (bracket && ++i == s.len)
            return px_psprintf(cf->pool, "invalid parameter \"%.*s\"", (int)s.len, s.data);
        size_t start = i;
        while (i < s.len && is_name_char(s.data[i]))
            i++;
        px_str_t name = px_str_make(s.data + start, i - start);
        if (bracket) {
            if (i == s.len || s.data[i] != '}')
                return px_psprintf(cf->pool, "the closing bracket in \"%.*s\" variable is missing",
                                   (int)name.len, name.data);
            i++;
        }
        if (name.len == 0)
            return px_psprintf(cf->pool, "invalid parameter \"%.*s\"", (int)s.len, s.data);
        op->index = http_var_index(cf, name);
        if (op->index < 0)
            return CONF_ERROR;
    }
    return NULL;
}

static const char *compile_format(conf_ctx_t *cf, log_fmt_t *fmt, const conf_arg_t *args,
                                  size_t nargs)
{
    px_array_t ops;
    if (px_array_init(&ops, cf->pool, 8, sizeof(log_op_t)) != PX_OK)
        return CONF_ERROR;
    for (size_t i = 0; i < nargs; i++) {
        const char *rv = compile_arg(cf, args[i].value, &ops);
        if (rv)
            return rv;
    }
    fmt->ops = ops.elts;
    fmt->nops = ops.nelts;
    return NULL;
}

static log_fmt_t *find_format(log_main_conf_t *lmcf, px_str_t name)
{
    log_fmt_t **f = lmcf->formats.elts;
    for (size_t i = 0; i < lmcf->formats.nelts; i++) {
        if (px_str_eq(f[i]->name, name))
            return f[i];
    }
    return NULL;
}

static const char *set_log_format(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                                  void *conf)
{
    (void)d;
    log_main_conf_t *lmcf = conf;
    px_str_t name = n->args[0].value;
    if (find_format(lmcf, name))
        return px_psprintf(cf->pool, "duplicate \"log_format\" name \"%s\"", name.data);
    log_fmt_t *fmt = px_pcalloc(cf->pool, sizeof(*fmt));
    log_fmt_t **slot = px_array_push(&lmcf->formats);
    if (fmt == NULL || slot == NULL)
        return CONF_ERROR;
    fmt->name = name;
    size_t first = 1;
    px_str_t a1 = n->args[1].value;
    if (a1.len >= 7 && memcmp(a1.data, "escape=", 7) == 0) {
        const char *v = a1.data + 7;
        if (strcmp(v, "default") == 0)
            fmt->escape = ESCAPE_DEFAULT;
        else if (strcmp(v, "json") == 0)
            fmt->escape = ESCAPE_JSON;
        else if (strcmp(v, "none") == 0)
            fmt->escape = ESCAPE_NONE;
        else
            return px_psprintf(cf->pool, "unknown log format escaping \"%s\"", v);
        first = 2;
    }
    *slot = fmt;
    return compile_format(cf, fmt, n->args + first, n->nargs - first);
}

/* ---- access_log ---- */

static log_core_conf_t *core_conf(px_cycle_t *cycle)
{
    return cycle->conf[http_log_module.index];
}

static log_file_t *find_or_add_file(conf_ctx_t *cf, const char *path)
{
    log_core_conf_t *lcc = core_conf(cf->cycle);
    log_file_t **files = lcc->files.elts;
    for (size_t i = 0; i < lcc->files.nelts; i++) {
        if (strcmp(files[i]->path, path) == 0)
            return files[i];
    }
    log_file_t *file = px_pcalloc(cf->pool, sizeof(*file));
    log_file_t **slot = px_array_push(&lcc->files);
    if (file == NULL || slot == NULL)
        return NULL;
    file->path = px_pstrdup(cf->pool, path, strlen(path));
    file->fd = -1;
    *slot = file;
    return file;
}

static const char *full_path(conf_ctx_t *cf, px_str_t path)
{
    if (path.len && path.data[0] == '/')
        return path.data;
    return px_psprintf(cf->pool, "%s%.*s", cf->cycle->prefix ? cf->cycle->prefix : "",
                       (int)path.len, path.data);
}

static const char *set_access_log(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                                  void *conf)
{
    (void)d;
    log_loc_conf_t *llcf = conf;
    const conf_arg_t *args = n->args;
    if (strcmp(args[0].value.data, "off") == 0) {
        llcf->off = 1;
        if (n->nargs == 1)
            return NULL;
        return px_psprintf(cf->pool, "invalid parameter \"%s\"", args[1].value.data);
    }
    px_str_t path = args[0].value;
    if (strncmp(path.data, "syslog:", 7) == 0)
        return "logging to syslog is not supported by proxyd";

    log_main_conf_t *lmcf = cf->http->main_conf[http_log_module.index];
    px_str_t fmt_name = n->nargs >= 2 ? args[1].value : PX_STR("combined");
    log_fmt_t *fmt = find_format(lmcf, fmt_name);
    if (fmt == NULL)
        return px_psprintf(cf->pool, "unknown log format \"%s\"", fmt_name.data);
    if (fmt->source) {
        conf_arg_t src = {px_str_make(fmt->source, strlen(fmt->source)), 1};
        fmt->source = NULL;
        const char *rv = compile_format(cf, fmt, &src, 1);
        if (rv)
            return rv;
    }

    log_target_t target;
    memset(&target, 0, sizeof(target));
    target.fmt = fmt;
    int64_t buffer = 0, flush = 0;
    for (size_t i = 2; i < n->nargs; i++) {
        px_str_t a = args[i].value;
        if (strncmp(a.data, "buffer=", 7) == 0) {
            buffer = conf_parse_size(px_str_make(a.data + 7, a.len - 7));
            if (buffer <= 0)
                return px_psprintf(cf->pool, "invalid buffer size \"%s\"", a.data + 7);
        } else if (strncmp(a.data, "flush=", 6) == 0) {
            flush = conf_parse_msec(px_str_make(a.data + 6, a.len - 6));
            if (flush <= 0)
                return px_psprintf(cf->pool, "invalid flush time \"%s\"", a.data + 6);
        } else if (strcmp(a.data, "gzip") == 0 || strncmp(a.data, "gzip=", 5) == 0) {
            return "the \"gzip\" parameter of \"access_log\" is not supported by proxyd";
        } else if (strncmp(a.data, "if=", 3) == 0) {
            const char *rv = http_cv_compile(cf, px_str_make(a.data + 3, a.len - 3), &target.cond);
            if (rv)
                return rv;
            target.has_cond = 1;
        } else {
            return px_psprintf(cf->pool, "invalid parameter \"%s\"", a.data);
        }
    }
    if (flush && !buffer)
        return px_psprintf(cf->pool, "no buffer is defined for access_log \"%s\"", path.data);

    const char *rv = http_cv_compile(cf, path, &target.path);
    if (rv)
        return rv;
    if (target.path.has_vars) {
        if (buffer)
            return "buffered logs cannot have variables in name";
        target.prefix = cf->cycle->prefix ? cf->cycle->prefix : "";
    } else {
        log_file_t *file = find_or_add_file(cf, full_path(cf, path));
        if (file == NULL)
            return CONF_ERROR;
        if (buffer) {
            if (file->buf) {
                if (file->size != (size_t)buffer || file->flush != flush)
                    return px_psprintf(cf->pool,
                                       "access_log \"%s\" already defined with conflicting "
                                       "parameters",
                                       path.data);
            } else {
                file->buf = px_palloc(cf->pool, (size_t)buffer);
                if (file->buf == NULL)
                    return CONF_ERROR;
                file->size = (size_t)buffer;
                file->flush = flush;
            }
        }
        target.file = file;
    }

    if (llcf->logs == NULL) {
        llcf->logs = px_palloc(cf->pool, sizeof(px_array_t));
        if (llcf->logs == NULL || px_array_init(llcf->logs, cf->pool, 2, sizeof(log_target_t)))
            return CONF_ERROR;
    }
    log_target_t *slot = px_array_push(llcf->logs);
    if (slot == NULL)
        return CONF_ERROR;
    *slot = target;
    return NULL;
}

/* ---- writing ---- */

static void report_write(log_file_t *file, ssize_t n, size_t len, int err)
{
    if (file->error_sec == px_current_sec)
        return;
    file->error_sec = px_current_sec;
    if (n < 0)
        px_log_error(PX_LOG_ALERT, NULL, err, "write() to \"%s\" failed", file->path);
    else
        px_log_error(PX_LOG_ALERT, NULL, 0, "write() to \"%s\" was incomplete: %zd of %zu",
                     file->path, n, len);
}

static void write_out(log_file_t *file, const char *data, size_t len)
{
    if (file->fd < 0 || len == 0)
        return;
    ssize_t n = write(file->fd, data, len);
    if (n != (ssize_t)len)
        report_write(file, n, len, errno);
}

static void flush_file(log_file_t *file)
{
    if (file->used) {
        write_out(file, file->buf, file->used);
        file->used = 0;
    }
    if (px_timer_active(&file->timer))
        px_timer_del(&file->timer);
}

static void flush_expired(px_timer_t *t)
{
    flush_file(t->data);
}

static void append_line(log_file_t *file, const char *line, size_t len)
{
    if (file->buf == NULL) {
        write_out(file, line, len);
        return;
    }
    if (len > file->size - file->used)
        flush_file(file);
    if (len > file->size - file->used) {
        write_out(file, line, len);
        return;
    }
    memcpy(file->buf + file->used, line, len);
    file->used += len;
    if (file->flush && !px_timer_active(&file->timer))
        px_timer_add(&file->timer, (px_msec_t)file->flush);
}

static void write_to_path(http_request_t *r, log_target_t *t, const char *line, size_t len)
{
    px_str_t name;
    if (http_cv_eval(r, &t->path, &name) != PX_OK)
        return;
    char *path = name.len && name.data[0] == '/'
                     ? px_pstrdup(r->pool, name.data, name.len)
                     : px_psprintf(r->pool, "%s%.*s", t->prefix, (int)name.len, name.data);
    if (path == NULL)
        return;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        px_log_error(PX_LOG_ERR, &r->log, errno, "open() \"%s\" failed", path);
        return;
    }
    ssize_t n = write(fd, line, len);
    if (n != (ssize_t)len) {
        if (n < 0)
            px_log_error(PX_LOG_ALERT, &r->log, errno, "write() to \"%s\" failed", path);
        else
            px_log_error(PX_LOG_ALERT, &r->log, 0, "write() to \"%s\" was incomplete: %zd of %zu",
                         path, n, len);
    }
    close(fd);
}

/* Escaped length of s, or with out != NULL writes it there and returns the length. */
static size_t escape_default(char *out, px_str_t s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char ch = (unsigned char)s.data[i];
        if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\') {
            if (out) {
                out[n] = '\\';
                out[n + 1] = 'x';
                out[n + 2] = hex[ch >> 4];
                out[n + 3] = hex[ch & 0xf];
            }
            n += 4;
        } else {
            if (out)
                out[n] = (char)ch;
            n++;
        }
    }
    return n;
}

static size_t escape_json(char *out, px_str_t s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char ch = (unsigned char)s.data[i];
        char esc = 0;
        switch (ch) {
        case '"': esc = '"'; break;
        case '\\': esc = '\\'; break;
        case '\n': esc = 'n'; break;
        case '\r': esc = 'r'; break;
        case '\t': esc = 't'; break;
        case '\b': esc = 'b'; break;
        case '\f': esc = 'f'; break;
        }
        if (esc) {
            if (out) {
                out[n] = '\\';
                out[n + 1] = esc;
            }
            n += 2;
        } else if (ch < 0x20) {
            if (out)
                memcpy(out + n, (char[]){'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 0xf]}, 6);
            n += 6;
        } else {
            if (out)
                out[n] = (char)ch;
            n++;
        }
    }
    return n;
}

static size_t put_value(char *out, int escape, const http_var_value_t *v)
{
    if (v == NULL) {
        /* Not found: "-" by default, nothing in json and none modes (as nginx). */
        if (escape != ESCAPE_DEFAULT)
            return 0;
        if (out)
            out[0] = '-';
        return 1;
    }
    if (escape == ESCAPE_DEFAULT)
        return escape_default(out, v->value);
    if (escape == ESCAPE_JSON)
        return escape_json(out, v->value);
    if (out && v->value.len)
        memcpy(out, v->value.data, v->value.len);
    return v->value.len;
}

/* The whole line with its "\n", in r->pool. */
static int format_line(http_request_t *r, const log_fmt_t *fmt, px_str_t *line)
{
    http_var_value_t local[32];
    const http_var_value_t *local_found[32];
    int small = fmt->nops <= 32;
    http_var_value_t *values = small ? local : px_palloc(r->pool, fmt->nops * sizeof(*values));
    const http_var_value_t **found = small ? local_found
                                           : px_palloc(r->pool, fmt->nops * sizeof(*found));
    if (values == NULL || found == NULL)
        return PX_ERROR;
    size_t len = 1;
    for (size_t i = 0; i < fmt->nops; i++) {
        const log_op_t *op = &fmt->ops[i];
        if (op->index < 0) {
            len += op->text.len;
            continue;
        }
        /* Copied: a non-cacheable variable read again would overwrite the slot. */
        http_var_value_t *v = http_var_get(r, op->index);
        if (v) {
            values[i] = *v;
            found[i] = &values[i];
        } else {
            found[i] = NULL;
        }
        len += put_value(NULL, fmt->escape, found[i]);
    }
    char *buf = px_palloc(r->pool, len);
    if (buf == NULL)
        return PX_ERROR;
    size_t pos = 0;
    for (size_t i = 0; i < fmt->nops; i++) {
        const log_op_t *op = &fmt->ops[i];
        if (op->index < 0) {
            memcpy(buf + pos, op->text.data, op->text.len);
            pos += op->text.len;
        } else {
            pos += put_value(buf + pos, fmt->escape, found[i]);
        }
    }
    buf[pos++] = '\n';
    *line = px_str_make(buf, pos);
    return PX_OK;
}

int http_log_request(http_request_t *r)
{
    log_loc_conf_t *llcf = r->loc_conf ? r->loc_conf[http_log_module.index] : NULL;
    if (llcf == NULL || llcf->off || llcf->logs == NULL)
        return PX_OK;
    log_target_t *t = llcf->logs->elts;
    for (size_t i = 0; i < llcf->logs->nelts; i++) {
        if (t[i].has_cond) {
            px_str_t val;
            if (http_cv_eval(r, &t[i].cond, &val) != PX_OK)
                continue;
            if (val.len == 0 || (val.len == 1 && val.data[0] == '0'))
                continue;
        }
        px_str_t line;
        if (format_line(r, t[i].fmt, &line) != PX_OK)
            continue;
        if (t[i].file)
            append_line(t[i].file, line.data, line.len);
        else
            write_to_path(r, &t[i], line.data, line.len);
    }
    return PX_OK;
}

/* ---- worker hooks ---- */

static int open_file(log_file_t *file)
{
    file->fd = open(file->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (file->fd < 0) {
        px_log_error(PX_LOG_EMERG, NULL, errno, "open() \"%s\" failed", file->path);
        return PX_ERROR;
    }
    return PX_OK;
}

/* A file that cannot be opened is reported and skipped: the worker keeps serving. */
static int init_worker(px_cycle_t *cycle)
{
    log_core_conf_t *lcc = core_conf(cycle);
    log_file_t **files = lcc->files.elts;
    for (size_t i = 0; i < lcc->files.nelts; i++) {
        px_timer_init(&files[i]->timer, flush_expired, files[i]);
        files[i]->used = 0;
        open_file(files[i]);
    }
    return PX_OK;
}

static void exit_worker(px_cycle_t *cycle)
{
    log_core_conf_t *lcc = core_conf(cycle);
    log_file_t **files = lcc->files.elts;
    for (size_t i = 0; i < lcc->files.nelts; i++) {
        flush_file(files[i]);
        if (files[i]->fd >= 0)
            close(files[i]->fd);
        files[i]->fd = -1;
    }
}

static void reopen_logs(px_cycle_t *cycle)
{
    log_core_conf_t *lcc = core_conf(cycle);
    log_file_t **files = lcc->files.elts;
    for (size_t i = 0; i < lcc->files.nelts; i++) {
        flush_file(files[i]);
        int old = files[i]->fd;
        if (open_file(files[i]) != PX_OK) {
            files[i]->fd = old;
            continue;
        }
        if (old >= 0)
            close(old);
    }
}

/* ---- module ---- */

static void *create_core_conf(conf_ctx_t *cf)
{
    log_core_conf_t *lcc = px_pcalloc(cf->pool, sizeof(*lcc));
    if (lcc == NULL || px_array_init(&lcc->files, cf->pool, 4, sizeof(log_file_t *)) != PX_OK)
        return NULL;
    px_worker_hooks_t *hooks = px_array_push(&cf->cycle->worker_hooks);
    if (hooks == NULL)
        return NULL;
    hooks->init_worker = init_worker;
    hooks->exit_worker = exit_worker;
    hooks->reopen_logs = reopen_logs;
    return lcc;
}

static void *create_main_conf(conf_ctx_t *cf)
{
    log_main_conf_t *lmcf = px_pcalloc(cf->pool, sizeof(*lmcf));
    log_fmt_t *combined = px_pcalloc(cf->pool, sizeof(*combined));
    if (lmcf == NULL || combined == NULL ||
        px_array_init(&lmcf->formats, cf->pool, 4, sizeof(log_fmt_t *)) != PX_OK)
        return NULL;
    combined->name = PX_STR("combined");
    combined->source = combined_format;
    log_fmt_t **slot = px_array_push(&lmcf->formats);
    if (slot == NULL)
        return NULL;
    *slot = combined;
    return lmcf;
}

static void *create_loc_conf(conf_ctx_t *cf)
{
    return px_pcalloc(cf->pool, sizeof(log_loc_conf_t));
}

/* A level with no access_log of its own takes its parent's, `off` included. proxyd logs
 * nothing by default (nginx would write logs/access.log). */
static const char *merge_loc_conf(conf_ctx_t *cf, void *parent, void *child)
{
    (void)cf;
    log_loc_conf_t *prev = parent, *conf = child;
    if (conf->logs || conf->off)
        return NULL;
    conf->logs = prev->logs;
    conf->off = prev->off;
    return NULL;
}

static const conf_directive_t log_directives[] = {
    {"log_format", CONF_HTTP, CONF_2MORE, set_log_format, CONF_HTTP_MAIN_CONF, 0,
     NULL},
    {"access_log", CONF_HTTP | CONF_SRV | CONF_LOC | CONF_LIF | CONF_LMT, CONF_1MORE,
     set_access_log, CONF_HTTP_LOC_CONF, 0, NULL},
    {NULL, 0, 0, NULL, 0, 0, NULL},
};

conf_module_t http_log_module = {
    .name = "http_log",
    .directives = log_directives,
    .create_core_conf = create_core_conf,
    .create_main_conf = create_main_conf,
    .create_loc_conf = create_loc_conf,
    .merge_loc_conf = merge_loc_conf,
};
