/* Static files, as nginx's core, index and static modules serve them: root/alias (with
 * regex captures), index, try_files, types{} and the response itself (Content-Type by
 * extension, Last-Modified, ETag, conditional requests, byte ranges, HEAD), sent with
 * sendfile(2) or read through one buffer. The pure pieces live in http_static_path.c. */
#include "http/http_static.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf_value.h"
#include "core/px_log.h"
#include "core/px_time.h"
#include "http/http_core.h"
#include "http/http_location.h"
#include "http/http_map.h"
#include "http/http_parse.h"

extern conf_module_t http_static_module;

typedef struct {
    http_cv_t name;
    unsigned absolute : 1; /* a literal starting with '/': redirect without testing */
} index_t;

typedef struct {
    http_cv_t value;
    int code;              /* last entry "=404": answer with it */
    unsigned test_dir : 1; /* the entry ended with '/': it must be a directory */
} try_t;

typedef struct {
    px_str_t ext; /* lowercase */
    px_str_t type;
} type_entry_t;

enum { IMS_OFF, IMS_EXACT, IMS_BEFORE };

typedef struct {
    /* root or alias: the path when literal (made absolute), else compiled */
    px_str_t root;
    http_cv_t root_cv;
    const char *prefix;  /* -p: what a relative value evaluated at run time is under */
    size_t root_literal; /* bytes of the value that come from no variable */
    size_t alias_len;    /* 0 for root; the location's name length; HTTP_ALIAS_WHOLE */
    unsigned root_set : 1;
    unsigned root_vars : 1;
    unsigned alias : 1;

    px_array_t *indices;   /* index_t */
    px_array_t *try_files; /* try_t; not inherited, as in nginx */
    px_array_t *types;     /* type_entry_t, as written in this level's types{} */
    http_map_table_t *types_table;
    int types_hash_max_size;
    int types_hash_bucket_size;

    int sendfile;
    int tcp_nopush;
    size_t sendfile_max_chunk;
    conf_bufs_t output_buffers;
    int log_not_found;
    int etag;
    int if_modified_since;
    int max_ranges;
} static_loc_conf_t;

/* A piece of the body: bytes in memory (data) or a range of the file. */
typedef struct {
    const char *data;
    int64_t offset;
    int64_t len;
} piece_t;

/* Per request: try_files' alias flag, and the file being sent. */
typedef struct {
    http_request_t *r;
    int fd;
    const char *path;
    unsigned add_uri_to_alias : 1;
    unsigned use_sendfile : 1;
    unsigned corked : 1;
    piece_t *pieces;
    size_t npieces, cur;
    char *buf;
    size_t buf_size;
    size_t max_chunk;
    px_post_t resume;
} static_ctx_t;

static static_loc_conf_t *loc_conf(http_request_t *r)
{
    return r->loc_conf[http_static_module.index];
}

static void ctx_cleanup(void *data)
{
    static_ctx_t *ctx = data;
    if (ctx->fd >= 0)
        close(ctx->fd);
    ctx->fd = -1;
    px_post_cancel(&ctx->resume);
}

static static_ctx_t *get_ctx(http_request_t *r)
{
    if (r->static_ctx)
        return r->static_ctx;
    static_ctx_t *ctx = px_pcalloc(r->pool, sizeof(*ctx));
    if (ctx == NULL || px_pool_cleanup_add(r->pool, ctx_cleanup, ctx) != PX_OK)
        return NULL;
    ctx->r = r;
    ctx->fd = -1;
    r->static_ctx = ctx;
    return ctx;
}

/* ---- mapping a URI to a path ---- */

/* The root (or alias) value for r, absolute; *literal says how many leading bytes came from
 * the configuration rather than from variables. PX_ERROR when a variable failed. */
static int eval_root(http_request_t *r, static_loc_conf_t *slcf, px_str_t *root, size_t *literal)
{
    if (!slcf->root_vars) {
        *root = slcf->root;
        *literal = slcf->root.len;
        return PX_OK;
    }
    px_str_t v;
    if (http_cv_eval(r, &slcf->root_cv, &v) != PX_OK)
        return PX_ERROR;
    *literal = slcf->root_literal;
    if (v.len == 0 || v.data[0] != '/') {
        /* a value that starts with a variable is made absolute at run time, as nginx does */
        const char *prefix = slcf->prefix;
        char *full = px_psprintf(r->pool, "%s%.*s", prefix, (int)v.len, v.data);
        if (full == NULL)
            return PX_ERROR;
        *literal += strlen(prefix);
        v = px_str_make(full, strlen(full));
    }
    *root = v;
    return PX_OK;
}

/* Maps uri (plus `extra` bytes of room) to a path: NULL on failure (500). *root_len is the
 * length of the root part, *safe_from where the request's part starts. */
static char *map_path(http_request_t *r, static_loc_conf_t *slcf, px_str_t uri, size_t extra,
                      size_t *len, size_t *root_len, size_t *safe_from)
{
    px_str_t root;
    size_t literal;
    if (eval_root(r, slcf, &root, &literal) != PX_OK)
        return NULL;
    char *out = px_palloc(r->pool, root.len + uri.len + extra + 1);
    if (out == NULL)
        return NULL;
    static_ctx_t *ctx = r->static_ctx;
    *len = http_static_map(root, slcf->alias_len, ctx && ctx->add_uri_to_alias, uri, out);
    *root_len = root.len;
    *safe_from = literal;
    return out;
}

/* A path that could leave its directory is refused as not found. */
static int refuse_unsafe(http_request_t *r, const char *path, size_t len, size_t from)
{
    if (!http_static_path_unsafe(px_str_make(path, len), from))
        return 0;
    px_log_error(PX_LOG_ERR, &r->log, 0, "refusing \"%.*s\": it leaves the %s directory",
                 (int)len, path, loc_conf(r)->alias ? "alias" : "root");
    return 1;
}

/* ---- variables ---- */

static int var_document_root(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    (void)data;
    size_t literal;
    if (eval_root(r, loc_conf(r), &v->value, &literal) != PX_OK)
        return PX_ERROR;
    return PX_OK;
}

static int var_realpath_root(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    (void)data;
    px_str_t root;
    size_t literal;
    if (eval_root(r, loc_conf(r), &root, &literal) != PX_OK)
        return PX_ERROR;
    char *path = px_pstrdup(r->pool, root.data, root.len);
    char real[PATH_MAX];
    if (path == NULL)
        return PX_ERROR;
    if (realpath(path, real) == NULL) {
        px_log_error(PX_LOG_CRIT, &r->log, errno, "realpath() \"%s\" failed", path);
        return PX_ERROR;
    }
    v->value = px_pstr(r->pool, real, strlen(real));
    return v->value.data ? PX_OK : PX_ERROR;
}

static int var_request_filename(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    (void)data;
    size_t len, root_len, from;
    char *path = map_path(r, loc_conf(r), r->uri, 0, &len, &root_len, &from);
    if (path == NULL)
        return PX_ERROR;
    v->value = px_str_make(path, len);
    return PX_OK;
}

/* ---- try_files (precontent) ---- */

/* Tests one try_files path: 1 found, 0 not (or not of the wanted kind). */
static int try_path(http_request_t *r, const char *path, int test_dir)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        if (errno != ENOENT && errno != ENOTDIR && errno != ENAMETOOLONG)
            px_log_error(PX_LOG_CRIT, &r->log, errno, "stat() \"%s\" failed", path);
        return 0;
    }
    return S_ISDIR(st.st_mode) == (test_dir != 0);
}

static int try_files_handler(http_request_t *r)
{
    static_loc_conf_t *slcf = loc_conf(r);
    if (slcf->try_files == NULL)
        return PX_DECLINED;
    try_t *tf = slcf->try_files->elts;
    size_t n = slcf->try_files->nelts;
    for (size_t i = 0; i + 1 < n; i++) {
        px_str_t value;
        if (http_cv_eval(r, &tf[i].value, &value) != PX_OK)
            return 500;
        px_str_t root;
        size_t literal;
        if (eval_root(r, slcf, &root, &literal) != PX_OK)
            return 500;
        /* with an alias the location's prefix of the value is replaced by the alias */
        size_t skip = 0;
        if (slcf->alias && slcf->alias_len != HTTP_ALIAS_WHOLE && value.len >= slcf->alias_len &&
            memcmp(value.data, r->uri.data, slcf->alias_len < r->uri.len ? slcf->alias_len : r->uri.len) == 0 &&
            slcf->alias_len <= r->uri.len)
            skip = slcf->alias_len;
        px_str_t rest = px_str_make(value.data + skip, value.len - skip);
        char *path = px_psprintf(r->pool, "%.*s%.*s", (int)root.len, root.data, (int)rest.len, rest.data);
        if (path == NULL)
            return 500;
        size_t len = root.len + rest.len;
        if (http_static_path_unsafe(px_str_make(path, len), literal))
            continue;
        if (!try_path(r, path, tf[i].test_dir))
            continue;
        static_ctx_t *ctx = get_ctx(r);
        if (ctx == NULL)
            return 500;
        if (!slcf->alias) {
            r->uri = rest;
        } else if (slcf->alias_len == HTTP_ALIAS_WHOLE) {
            if (!tf[i].test_dir) {
                r->uri = rest;
                ctx->add_uri_to_alias = 1;
            }
        } else {
            char *uri = px_psprintf(r->pool, "%.*s%.*s", (int)slcf->alias_len, r->uri.data,
                                    (int)rest.len, rest.data);
            if (uri == NULL)
                return 500;
            r->uri = px_str_make(uri, slcf->alias_len + rest.len);
        }
        http_span_t ex = http_uri_exten(r->uri.data, r->uri.len);
        r->exten = px_str_make(r->uri.data + ex.start, ex.len);
        return PX_DECLINED;
    }
    try_t *last = &tf[n - 1];
    if (last->code)
        return last->code;
    px_str_t target;
    if (http_cv_eval(r, &last->value, &target) != PX_OK)
        return 500;
    /* the fallback: a named location, or a URI with arguments of its own if it has a '?' */
    if (target.len && target.data[0] == '@') {
        http_named_location(r, target);
        return PX_DONE;
    }
    px_str_t uri = target, args = PX_NULL_STR;
    const char *q = memchr(target.data, '?', target.len);
    if (q) {
        uri = px_str_make(target.data, (size_t)(q - target.data));
        args = px_str_make(q + 1, target.len - (size_t)(q - target.data) - 1);
    }
    http_internal_redirect(r, uri, args);
    return PX_DONE;
}

/* ---- index (content) ---- */

/* nginx's answer for an index path that cannot be used. */
static int index_error(http_request_t *r, const char *path, int err)
{
    if (err == EACCES) {
        px_log_error(PX_LOG_ERR, &r->log, err, "\"%s\" is forbidden", path);
        return 403;
    }
    if (loc_conf(r)->log_not_found)
        px_log_error(PX_LOG_ERR, &r->log, err, "\"%s\" is not found", path);
    return 404;
}

/* Whether the directory of the index files exists: PX_OK, or the status to answer. */
static int index_test_dir(http_request_t *r, char *path, size_t dir_len)
{
    char saved = path[dir_len];
    path[dir_len] = '\0';
    struct stat st;
    int rc = stat(path, &st);
    int err = errno;
    path[dir_len] = saved;
    if (rc < 0) {
        if (err == ENOENT)
            return index_error(r, path, ENOENT);
        if (err == EACCES)
            return PX_OK;
        path[dir_len] = '\0';
        px_log_error(PX_LOG_CRIT, &r->log, err, "stat() \"%s\" failed", path);
        return 500;
    }
    if (S_ISDIR(st.st_mode))
        return PX_OK;
    path[dir_len] = '\0';
    px_log_error(PX_LOG_ALERT, &r->log, 0, "\"%s\" is not a directory", path);
    return 500;
}

static int is_get_head_post(http_request_t *r)
{
    return r->method == HTTP_METHOD_GET || r->method == HTTP_METHOD_HEAD ||
           r->method == HTTP_METHOD_POST;
}

static int index_handler(http_request_t *r)
{
    if (r->uri.len == 0 || r->uri.data[r->uri.len - 1] != '/' || !is_get_head_post(r))
        return PX_DECLINED;
    static_loc_conf_t *slcf = loc_conf(r);
    index_t *idx = slcf->indices->elts;
    int dir_tested = 0;
    for (size_t i = 0; i < slcf->indices->nelts; i++) {
        px_str_t name;
        if (http_cv_eval(r, &idx[i].name, &name) != PX_OK)
            return 500;
        if (name.len && name.data[0] == '/') {
            http_internal_redirect(r, name, r->args);
            return PX_DONE;
        }
        if (name.len == 0)
            continue;
        size_t len, root_len, from;
        char *path = map_path(r, slcf, r->uri, name.len, &len, &root_len, &from);
        if (path == NULL)
            return 500;
        size_t dir_end = len;
        memcpy(path + len, name.data, name.len);
        len += name.len;
        path[len] = '\0';
        if (refuse_unsafe(r, path, len, from))
            return 404;
        struct stat st;
        if (stat(path, &st) < 0) {
            int err = errno;
            if (err == ENOTDIR || err == ENAMETOOLONG || err == EACCES)
                return index_error(r, path, err);
            if (!dir_tested) {
                /* the directory itself, without its trailing slash (an alias without one
                 * has none to drop) */
                size_t dir_len = dir_end > 1 && path[dir_end - 1] == '/' ? dir_end - 1 : dir_end;
                int rc = index_test_dir(r, path, dir_len);
                if (rc != PX_OK)
                    return rc;
                dir_tested = 1;
            }
            if (err == ENOENT)
                continue;
            px_log_error(PX_LOG_CRIT, &r->log, err, "stat() \"%s\" failed", path);
            return 500;
        }
        char *uri = px_psprintf(r->pool, "%.*s%.*s", (int)r->uri.len, r->uri.data, (int)name.len,
                                name.data);
        if (uri == NULL)
            return 500;
        http_internal_redirect(r, px_str_make(uri, r->uri.len + name.len), r->args);
        return PX_DONE;
    }
    return PX_DECLINED;
}

/* ---- the response ---- */

static px_str_t content_type(http_request_t *r, static_loc_conf_t *slcf)
{
    http_span_t ex = http_uri_exten(r->uri.data, r->uri.len);
    px_str_t exten = px_str_make(r->uri.data + ex.start, ex.len);
    if (exten.len && slcf->types_table) {
        px_str_t *type = http_map_table_find(slcf->types_table, exten);
        if (type)
            return *type;
    }
    return r->loc->default_type;
}

static int request_header(http_request_t *r, const char *name, px_str_t *value)
{
    http_header_t *h = r->headers.elts;
    for (size_t i = 0; i < r->headers.nelts; i++) {
        if (px_str_caseeq_lit(h[i].name, name)) {
            *value = h[i].value;
            return 1;
        }
    }
    return 0;
}

/* nginx's not-modified filter: 0 to go on, 304 or 412. */
static int preconditions(http_request_t *r, static_loc_conf_t *slcf, time_t mtime, px_str_t etag)
{
    px_str_t v;
    if (request_header(r, "If-Unmodified-Since", &v)) {
        time_t t = http_static_parse_date(v);
        if (t == -1 || t < mtime)
            return 412;
    }
    if (request_header(r, "If-Match", &v) && !http_static_etag_match(v, etag, 0))
        return 412;
    px_str_t ims, inm;
    int has_ims = request_header(r, "If-Modified-Since", &ims);
    int has_inm = request_header(r, "If-None-Match", &inm);
    if (!has_ims && !has_inm)
        return 0;
    if (has_ims) {
        if (slcf->if_modified_since == IMS_OFF)
            return 0;
        time_t t = http_static_parse_date(ims);
        if (t != mtime && (slcf->if_modified_since == IMS_EXACT || t < mtime))
            return 0;
    }
    if (has_inm && !http_static_etag_match(inm, etag, 1))
        return 0;
    return 304;
}

/* If-Range: whether the range applies to this version of the file. */
static int if_range_ok(http_request_t *r, time_t mtime, px_str_t etag)
{
    px_str_t v;
    if (!request_header(r, "If-Range", &v))
        return 1;
    if (v.len >= 2 && v.data[v.len - 1] == '"')
        return etag.len && px_str_eq(v, etag);
    return http_static_parse_date(v) == mtime;
}

static unsigned long boundary_counter;

/* The body pieces of a multipart/byteranges answer; sets Content-Type and the length. */
static piece_t *multipart(http_request_t *r, px_str_t type, http_range_t *ranges, size_t n,
                          int64_t size, size_t *npieces, int64_t *total)
{
    if (boundary_counter == 0)
        boundary_counter = (unsigned long)getpid() * 1000 + (unsigned long)(px_current_sec % 1000);
    unsigned long b = ++boundary_counter;
    char *ct = px_psprintf(r->pool, "multipart/byteranges; boundary=%020lu", b);
    piece_t *p = px_palloc(r->pool, (2 * n + 1) * sizeof(*p));
    if (ct == NULL || p == NULL)
        return NULL;
    r->content_type = px_str_make(ct, strlen(ct));
    *total = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char *head = px_psprintf(r->pool,
                                 "\r\n--%020lu\r\nContent-Type: %.*s\r\nContent-Range: bytes "
                                 "%lld-%lld/%lld\r\n\r\n",
                                 b, (int)type.len, type.data, (long long)ranges[i].start,
                                 (long long)ranges[i].end - 1, (long long)size);
        if (head == NULL)
            return NULL;
        p[k++] = (piece_t){head, 0, (int64_t)strlen(head)};
        p[k++] = (piece_t){NULL, ranges[i].start, ranges[i].end - ranges[i].start};
        *total += (int64_t)strlen(head) + ranges[i].end - ranges[i].start;
    }
    char *tail = px_psprintf(r->pool, "\r\n--%020lu--\r\n", b);
    if (tail == NULL)
        return NULL;
    p[k++] = (piece_t){tail, 0, (int64_t)strlen(tail)};
    *total += (int64_t)strlen(tail);
    *npieces = k;
    return p;
}

static void set_cork(static_ctx_t *ctx, int on)
{
    px_conn_t *c = ctx->r->conn;
    if (c->peer.ss_family != AF_INET && c->peer.ss_family != AF_INET6)
        return;
    int v = on;
    if (setsockopt(c->io.fd, IPPROTO_TCP, TCP_CORK, &v, sizeof(v)) < 0)
        px_log_error(PX_LOG_CRIT, &c->log, errno, "setsockopt(TCP_CORK) failed");
    ctx->corked = (unsigned)on;
}

static void send_done(static_ctx_t *ctx)
{
    http_request_t *r = ctx->r;
    if (ctx->corked)
        set_cork(ctx, 0);
    r->write_event_handler = NULL;
    http_send_last(r);
    http_finalize(r, PX_OK);
}

/* Writes the queue, then the pieces, until done, the socket is full, or sendfile_max_chunk
 * bytes went out in one go (then the rest waits for the next loop turn so other
 * connections get theirs). */
static void send_pieces(http_request_t *r)
{
    static_ctx_t *ctx = r->static_ctx;
    int64_t budget = ctx->max_chunk ? (int64_t)ctx->max_chunk : INT64_MAX;
    for (;;) {
        int rc = http_flush(r);
        if (rc == PX_AGAIN)
            return;
        if (rc != PX_OK) {
            http_terminate(r, r->status);
            return;
        }
        if (ctx->cur == ctx->npieces) {
            send_done(ctx);
            return;
        }
        if (budget <= 0) {
            px_post(&ctx->resume);
            return;
        }
        piece_t *p = &ctx->pieces[ctx->cur];
        if (p->len == 0) {
            ctx->cur++;
            continue;
        }
        if (p->data) {
            if (http_send_body(r, p->data, (size_t)p->len, NULL, NULL) != PX_OK) {
                http_terminate(r, r->status);
                return;
            }
            ctx->cur++;
            continue;
        }
        ssize_t n;
        if (ctx->use_sendfile) {
            int64_t want = p->len < budget ? p->len : budget;
            n = http_sendfile(r, ctx->fd, &p->offset, (size_t)want);
            if (n == PX_AGAIN)
                return;
            if (n == PX_ERROR) {
                http_terminate(r, r->status);
                return;
            }
            if (n == 0) {
                px_log_error(PX_LOG_ALERT, &r->log, 0, "sendfile() reported that \"%s\" was truncated at %lld",
                             ctx->path, (long long)p->offset);
                http_terminate(r, r->status);
                return;
            }
        } else {
            size_t want = p->len < (int64_t)ctx->buf_size ? (size_t)p->len : ctx->buf_size;
            n = pread(ctx->fd, ctx->buf, want, (off_t)p->offset);
            if (n <= 0) {
                if (n < 0)
                    px_log_error(PX_LOG_CRIT, &r->log, errno, "pread() \"%s\" failed", ctx->path);
                else
                    px_log_error(PX_LOG_ALERT, &r->log, 0, "read only 0 of %zu from \"%s\"", want,
                                 ctx->path);
                http_terminate(r, r->status);
                return;
            }
            if (http_send_body(r, ctx->buf, (size_t)n, NULL, NULL) != PX_OK) {
                http_terminate(r, r->status);
                return;
            }
            p->offset += n;
        }
        p->len -= n;
        budget -= n;
        if (p->len == 0)
            ctx->cur++;
    }
}

static void resume_pieces(void *data)
{
    static_ctx_t *ctx = data;
    send_pieces(ctx->r);
}

/* Answers with the open file fd (regular, st): 200, 206, 304, or a status to finalize with. */
static int send_file(http_request_t *r, static_loc_conf_t *slcf, static_ctx_t *ctx, struct stat *st)
{
    int64_t size = (int64_t)st->st_size;
    time_t mtime = st->st_mtime;
    char etag_buf[40];
    px_str_t etag = PX_NULL_STR;
    if (slcf->etag)
        etag = px_pstr(r->pool, etag_buf, http_static_etag(mtime, size, etag_buf));
    px_str_t type = content_type(r, slcf);
    /* error_page ... =code makes the status something else: no validators apply then */
    int plain = r->err_status == 0 || r->err_status == 200;
    int cond = plain ? preconditions(r, slcf, mtime, etag) : 0;
    if (cond == 412)
        return 412;

    char date[40];
    size_t dlen = px_time_format_http(mtime, date);
    r->last_modified = px_pstr(r->pool, date, dlen);
    if (etag.len && http_add_out_header(r, PX_STR("ETag"), etag) != PX_OK)
        return 500;
    r->status = 200;
    if (cond == 304) {
        r->status = 304;
        r->out_content_length = -1;
        r->content_type = PX_NULL_STR;
        if (http_send_header(r) != PX_OK)
            return 500;
        http_send_last(r);
        http_finalize(r, PX_OK);
        return PX_DONE;
    }
    r->content_type = type;
    r->out_content_length = size;

    piece_t whole = {NULL, 0, size};
    piece_t *pieces = &whole;
    size_t npieces = 1;
    px_str_t range;
    int ranges_apply = plain && r->http_version >= 1000 && slcf->max_ranges != 0;
    if (ranges_apply && request_header(r, "Range", &range) && range.len >= 7 &&
        px_str_caseeq(px_str_make(range.data, 6), PX_STR("bytes=")) && if_range_ok(r, mtime, etag)) {
        size_t cap = 1;
        for (size_t i = 0; i < range.len; i++)
            cap += range.data[i] == ',';
        http_range_t *ranges = px_palloc(r->pool, cap * sizeof(*ranges));
        size_t n;
        if (ranges == NULL)
            return 500;
        int rc = http_static_parse_range(range, size, slcf->max_ranges, ranges, cap, &n);
        if (rc == HTTP_RANGE_UNSATISFIABLE) {
            char *cr = px_psprintf(r->pool, "bytes */%lld", (long long)size);
            r->last_modified = PX_NULL_STR;
            r->out_headers.nelts = 0;
            if (cr == NULL || http_add_out_header(r, PX_STR("Content-Range"), px_str_make(cr, strlen(cr))) != PX_OK)
                return 500;
            return 416;
        }
        if (rc == HTTP_RANGE_OK) {
            r->status = 206;
            if (n == 1) {
                char *cr = px_psprintf(r->pool, "bytes %lld-%lld/%lld", (long long)ranges[0].start,
                                       (long long)ranges[0].end - 1, (long long)size);
                if (cr == NULL ||
                    http_add_out_header(r, PX_STR("Content-Range"), px_str_make(cr, strlen(cr))) != PX_OK)
                    return 500;
                whole = (piece_t){NULL, ranges[0].start, ranges[0].end - ranges[0].start};
                r->out_content_length = whole.len;
            } else {
                pieces = multipart(r, type, ranges, n, size, &npieces, &r->out_content_length);
                if (pieces == NULL)
                    return 500;
            }
        } else if (http_add_out_header(r, PX_STR("Accept-Ranges"), PX_STR("bytes")) != PX_OK) {
            return 500;
        }
    } else if (ranges_apply && http_add_out_header(r, PX_STR("Accept-Ranges"), PX_STR("bytes")) != PX_OK) {
        return 500;
    }

    ctx->use_sendfile = (unsigned)slcf->sendfile;
    if (ctx->use_sendfile && slcf->tcp_nopush && !r->header_only && r->out_content_length > 0)
        set_cork(ctx, 1);
    if (http_send_header(r) != PX_OK)
        return 500;
    if (r->header_only || r->out_content_length == 0) {
        if (ctx->corked)
            set_cork(ctx, 0);
        http_send_last(r);
        http_finalize(r, PX_OK);
        return PX_DONE;
    }
    if (pieces == &whole) {
        pieces = px_palloc(r->pool, sizeof(*pieces));
        if (pieces == NULL)
            return 500;
        *pieces = whole;
    }
    ctx->pieces = pieces;
    ctx->npieces = npieces;
    ctx->max_chunk = slcf->sendfile_max_chunk;
    if (!ctx->use_sendfile) {
        ctx->buf_size = slcf->output_buffers.size;
        ctx->buf = px_palloc(r->pool, ctx->buf_size);
        if (ctx->buf == NULL)
            return 500;
    }
    px_post_init(&ctx->resume, resume_pieces, ctx);
    r->write_event_handler = send_pieces;
    send_pieces(r);
    return PX_DONE;
}

static int static_handler(http_request_t *r)
{
    if (!is_get_head_post(r))
        return 405;
    static_loc_conf_t *slcf = loc_conf(r);
    size_t len, root_len, from;
    char *path = map_path(r, slcf, r->uri, 0, &len, &root_len, &from);
    if (path == NULL)
        return 500;
    /* try_files "" in a regex alias location leaves an empty URI that names the alias path
     * itself, a file as nginx serves it */
    if (r->uri.len && r->uri.data[r->uri.len - 1] == '/') {
        /* nothing served the directory (no index file): nginx's core answers */
        px_log_error(PX_LOG_ERR, &r->log, 0, "directory index of \"%s\" is forbidden", path);
        return 403;
    }
    if (refuse_unsafe(r, path, len, from))
        return 404;
    static_ctx_t *ctx = get_ctx(r);
    if (ctx == NULL)
        return 500;
    if (ctx->fd >= 0) {
        /* an earlier pass of this request (before an error_page) left its file */
        close(ctx->fd);
        ctx->fd = -1;
    }
    ctx->fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (ctx->fd < 0) {
        int err = errno, status, level = PX_LOG_ERR;
        if (err == ENOENT || err == ENOTDIR || err == ENAMETOOLONG) {
            status = 404;
        } else if (err == EACCES || err == EMLINK || err == ELOOP) {
            status = 403;
        } else {
            status = 500;
            level = PX_LOG_CRIT;
        }
        if (status != 404 || slcf->log_not_found)
            px_log_error(level, &r->log, err, "open() \"%s\" failed", path);
        return status;
    }
    ctx->path = path;
    struct stat st;
    if (fstat(ctx->fd, &st) < 0) {
        px_log_error(PX_LOG_CRIT, &r->log, errno, "fstat() \"%s\" failed", path);
        return 500;
    }
    if (S_ISDIR(st.st_mode)) {
        char *loc = px_psprintf(r->pool, "%.*s/%s%.*s", (int)r->uri.len, r->uri.data,
                                r->args.len ? "?" : "", (int)r->args.len, r->args.data);
        if (loc == NULL)
            return 500;
        r->location = http_absolute_location(r, px_str_make(loc, strlen(loc)));
        return 301;
    }
    if (!S_ISREG(st.st_mode)) {
        px_log_error(PX_LOG_CRIT, &r->log, 0, "\"%s\" is not a regular file", path);
        return 404;
    }
    if (r->method == HTTP_METHOD_POST)
        return 405;
    return send_file(r, slcf, ctx, &st);
}

/* ---- configuration ---- */

static const char *set_root(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                            void *conf)
{
    static_loc_conf_t *slcf = conf;
    int alias = strcmp(d->name, "alias") == 0;
    http_core_loc_conf_t *clcf = cf->http->loc_conf[http_core_module.index];
    if (slcf->root_set) {
        if (slcf->alias == (unsigned)alias)
            return px_psprintf(cf->pool, "\"%s\" directive is duplicate", d->name);
        return px_psprintf(cf->pool, "\"%s\" directive is duplicate, \"%s\" directive was specified earlier",
                           d->name, slcf->alias ? "alias" : "root");
    }
    if (alias && clcf->kind == HTTP_LOC_NAMED)
        return "the \"alias\" directive cannot be used inside the named location";
    px_str_t value = n->args[0].value;
    static const char *const forbidden[] = {"$document_root", "${document_root}", "$realpath_root",
                                            "${realpath_root}"};
    for (size_t i = 0; i < 4; i++) {
        if (strstr(value.data, forbidden[i]))
            return px_psprintf(cf->pool, "the $%s variable cannot be used in the \"%s\" directive",
                               i < 2 ? "document_root" : "realpath_root", d->name);
    }
    int regex = clcf->kind == HTTP_LOC_REGEX || clcf->kind == HTTP_LOC_REGEX_CASELESS;
    if (alias && (clcf->kind == HTTP_LOC_PREFIX || clcf->kind == HTTP_LOC_PREFIX_NOREGEX) &&
        clcf->name.len && clcf->name.data[clcf->name.len - 1] != '/' && value.len &&
        value.data[value.len - 1] == '/')
        conf_log(cf, PX_LOG_WARN, 0,
                 "location \"%.*s\" without a trailing slash used with alias \"%s\" ending with a "
                 "slash allows path traversal; proxyd refuses such requests",
                 (int)clcf->name.len, clcf->name.data, value.data);
    if (!alias && value.len && value.data[value.len - 1] == '/')
        value.len--;
    if (value.len && value.data[0] != '$' && value.data[0] != '/') {
        char *full = px_psprintf(cf->pool, "%s%.*s", cf->cycle->prefix, (int)value.len, value.data);
        value = px_str_make(full, strlen(full));
    }
    slcf->root_set = 1;
    slcf->alias = (unsigned)alias;
    slcf->alias_len = alias ? (regex ? HTTP_ALIAS_WHOLE : clcf->name.len) : 0;
    slcf->root = px_pstr(cf->pool, value.data, value.len);
    const char *dollar = memchr(value.data, '$', value.len);
    slcf->root_literal = dollar ? (size_t)(dollar - value.data) : value.len;
    if (dollar) {
        slcf->root_vars = 1;
        const char *rv = http_cv_compile(cf, slcf->root, &slcf->root_cv);
        if (rv)
            return rv;
    }
    return NULL;
}

static const char *set_index(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                             void *conf)
{
    (void)d;
    static_loc_conf_t *slcf = conf;
    if (slcf->indices == NULL) {
        slcf->indices = px_pcalloc(cf->pool, sizeof(px_array_t));
        if (slcf->indices == NULL || px_array_init(slcf->indices, cf->pool, 2, sizeof(index_t)) != PX_OK)
            return CONF_ERROR;
    }
    for (size_t i = 0; i < n->nargs; i++) {
        px_str_t v = n->args[i].value;
        if (v.len == 0)
            return px_psprintf(cf->pool, "index \"%s\" in \"index\" directive is invalid", v.data);
        if (v.data[0] == '/' && i != n->nargs - 1)
            conf_log(cf, PX_LOG_WARN, 0, "only the last index in \"index\" directive should be absolute");
        index_t *idx = px_array_push(slcf->indices);
        if (idx == NULL)
            return CONF_ERROR;
        memset(idx, 0, sizeof(*idx));
        const char *rv = http_cv_compile(cf, v, &idx->name);
        if (rv)
            return rv;
        idx->absolute = v.data[0] == '/' && !idx->name.has_vars;
    }
    return NULL;
}

static const char *set_try_files(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                                 void *conf)
{
    (void)d;
    static_loc_conf_t *slcf = conf;
    if (slcf->try_files)
        return "\"try_files\" directive is duplicate";
    slcf->try_files = px_pcalloc(cf->pool, sizeof(px_array_t));
    if (slcf->try_files == NULL || px_array_init(slcf->try_files, cf->pool, n->nargs, sizeof(try_t)) != PX_OK)
        return CONF_ERROR;
    for (size_t i = 0; i < n->nargs; i++) {
        px_str_t v = n->args[i].value;
        try_t *tf = px_array_push(slcf->try_files);
        if (tf == NULL)
            return CONF_ERROR;
        memset(tf, 0, sizeof(*tf));
        int last = i == n->nargs - 1;
        if (!last && v.len && v.data[v.len - 1] == '/') {
            tf->test_dir = 1;
            v.len--;
        }
        if (last && v.len && v.data[0] == '=') {
            int64_t code = conf_parse_number(px_str_make(v.data + 1, v.len - 1));
            if (code < 0 || code > 999)
                return px_psprintf(cf->pool, "invalid code \"%s\"", v.data);
            tf->code = (int)code;
        }
        const char *rv = http_cv_compile(cf, px_pstr(cf->pool, v.data, v.len), &tf->value);
        if (rv)
            return rv;
    }
    return NULL;
}

/* One line of types{}: `type ext ...;` (include was expanded by the parser). */
static const char *type_entry(conf_ctx_t *cf, static_loc_conf_t *slcf, const conf_node_t *e)
{
    cf->node = e;
    if (e->has_block) {
        conf_log(cf, PX_LOG_EMERG, 0, "unexpected \"{\"");
        return CONF_ERROR;
    }
    px_str_t type = e->name;
    for (size_t i = 0; i < e->nargs; i++) {
        px_str_t ext = e->args[i].value;
        char *low = px_pstrdup(cf->pool, ext.data, ext.len);
        if (low == NULL)
            return CONF_ERROR;
        for (size_t k = 0; k < ext.len; k++)
            low[k] = px_tolower(low[k]);
        ext = px_str_make(low, ext.len);
        type_entry_t *t = slcf->types->elts;
        size_t k;
        for (k = 0; k < slcf->types->nelts; k++) {
            if (px_str_eq(t[k].ext, ext))
                break;
        }
        if (k < slcf->types->nelts) {
            conf_log(cf, PX_LOG_WARN, 0,
                     "duplicate extension \"%s\", content type: \"%s\", previous content type: \"%.*s\"",
                     low, type.data, (int)t[k].type.len, t[k].type.data);
            t[k].type = type;
            continue;
        }
        type_entry_t *nt = px_array_push(slcf->types);
        if (nt == NULL)
            return CONF_ERROR;
        nt->ext = ext;
        nt->type = type;
    }
    return NULL;
}

static const char *set_types(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                             void *conf)
{
    (void)d;
    static_loc_conf_t *slcf = conf;
    if (slcf->types == NULL) {
        slcf->types = px_pcalloc(cf->pool, sizeof(px_array_t));
        if (slcf->types == NULL || px_array_init(slcf->types, cf->pool, 64, sizeof(type_entry_t)) != PX_OK)
            return CONF_ERROR;
    }
    for (size_t i = 0; i < n->nchildren; i++) {
        const char *rv = type_entry(cf, slcf, &n->children[i]);
        if (rv)
            return rv;
    }
    cf->node = n;
    return NULL;
}

static const conf_enum_t ims_values[] = {
    {"off", IMS_OFF}, {"exact", IMS_EXACT}, {"before", IMS_BEFORE}, {NULL, 0}};

static void *create_loc_conf(conf_ctx_t *cf)
{
    static_loc_conf_t *c = px_pcalloc(cf->pool, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->prefix = cf->cycle->prefix;
    c->types_hash_max_size = CONF_UNSET;
    c->types_hash_bucket_size = CONF_UNSET;
    c->sendfile = CONF_UNSET;
    c->tcp_nopush = CONF_UNSET;
    c->sendfile_max_chunk = CONF_UNSET_SIZE;
    c->log_not_found = CONF_UNSET;
    c->etag = CONF_UNSET;
    c->if_modified_since = CONF_UNSET;
    c->max_ranges = CONF_UNSET;
    return c;
}

static size_t align_up(size_t n, size_t a)
{
    return (n + a - 1) & ~(a - 1);
}

/* nginx builds its types hash here and fails or warns with these words when
 * types_hash_max_size and types_hash_bucket_size cannot hold it; the lookup table used
 * here has no such limits, so only the messages are reproduced. */
static int check_types_hash(conf_ctx_t *cf, static_loc_conf_t *c)
{
    (void)cf;
    size_t bucket = (size_t)c->types_hash_bucket_size, max = (size_t)c->types_hash_max_size;
    type_entry_t *t = c->types->elts;
    size_t n = c->types->nelts;
    if (max == 0) {
        px_log_error(PX_LOG_EMERG, NULL, 0,
                     "could not build types_hash, you should increase types_hash_max_size: 0");
        return PX_ERROR;
    }
    if (bucket > 65536 - 64) {
        px_log_error(PX_LOG_EMERG, NULL, 0, "could not build types_hash, too large types_hash_bucket_size: %zu",
                     bucket);
        return PX_ERROR;
    }
    for (size_t i = 0; i < n; i++) {
        if (bucket < sizeof(void *) + align_up(t[i].ext.len + 2, sizeof(void *)) + sizeof(void *)) {
            px_log_error(PX_LOG_EMERG, NULL, 0,
                         "could not build types_hash, you should increase types_hash_bucket_size: %zu", bucket);
            return PX_ERROR;
        }
    }
    size_t room = bucket - sizeof(void *);
    size_t start = n / (room / (2 * sizeof(void *)));
    if (start == 0)
        start = 1;
    if (max > 10000 && n && max / n < 100)
        start = max - 1000;
    unsigned short *test = calloc(max, sizeof(*test));
    if (test == NULL)
        return PX_ERROR;
    int found = 0;
    for (size_t size = start; size <= max && !found; size++) {
        memset(test, 0, size * sizeof(*test));
        found = 1;
        for (size_t i = 0; i < n; i++) {
            uint64_t key = 0;
            for (size_t k = 0; k < t[i].ext.len; k++)
                key = key * 31 + (unsigned char)t[i].ext.data[k];
            size_t slot = (size_t)(key % size);
            size_t len = test[slot] + sizeof(void *) + align_up(t[i].ext.len + 2, sizeof(void *));
            if (len > room) {
                found = 0;
                break;
            }
            test[slot] = (unsigned short)len;
        }
    }
    free(test);
    if (!found)
        px_log_error(PX_LOG_WARN, NULL, 0,
                     "could not build optimal types_hash, you should increase either types_hash_max_size: "
                     "%zu or types_hash_bucket_size: %zu; ignoring types_hash_bucket_size",
                     max, bucket);
    return PX_OK;
}

static int build_types(conf_ctx_t *cf, static_loc_conf_t *c)
{
    if (check_types_hash(cf, c) != PX_OK)
        return PX_ERROR;
    c->types_table = http_map_table_create(cf->pool);
    if (c->types_table == NULL)
        return PX_ERROR;
    type_entry_t *t = c->types->elts;
    for (size_t i = 0; i < c->types->nelts; i++) {
        if (http_map_table_add(c->types_table, t[i].ext, 0, &t[i].type) == PX_ERROR)
            return PX_ERROR;
    }
    return PX_OK;
}

/* The types nginx knows without a types{} block. */
static int default_types(conf_ctx_t *cf, static_loc_conf_t *c)
{
    static const type_entry_t defaults[] = {
        {PX_STR("html"), PX_STR("text/html")},
        {PX_STR("gif"), PX_STR("image/gif")},
        {PX_STR("jpg"), PX_STR("image/jpeg")},
    };
    c->types = px_pcalloc(cf->pool, sizeof(px_array_t));
    if (c->types == NULL || px_array_init(c->types, cf->pool, 3, sizeof(type_entry_t)) != PX_OK)
        return PX_ERROR;
    for (size_t i = 0; i < 3; i++)
        *(type_entry_t *)px_array_push(c->types) = defaults[i];
    return PX_OK;
}

static void merge_hash_sizes(static_loc_conf_t *c, static_loc_conf_t *p)
{
    if (c->types_hash_max_size == CONF_UNSET)
        c->types_hash_max_size = p && p->types_hash_max_size != CONF_UNSET ? p->types_hash_max_size : 1024;
    if (c->types_hash_bucket_size == CONF_UNSET)
        c->types_hash_bucket_size = p && p->types_hash_bucket_size != CONF_UNSET ? p->types_hash_bucket_size : 64;
    c->types_hash_bucket_size = (int)align_up((size_t)c->types_hash_bucket_size, 64);
}

static const char *merge_loc_conf(conf_ctx_t *cf, void *parent, void *child)
{
    static_loc_conf_t *prev = parent, *conf = child;
    if (!conf->root_set) {
        if (!prev->root_set) {
            char *html = px_psprintf(cf->pool, "%shtml", cf->cycle->prefix);
            prev->root = px_str_make(html, strlen(html));
            prev->root_literal = prev->root.len;
            prev->root_set = 1;
        }
        conf->root = prev->root;
        conf->root_cv = prev->root_cv;
        conf->root_literal = prev->root_literal;
        conf->root_vars = prev->root_vars;
        conf->alias = prev->alias;
        conf->alias_len = prev->alias_len;
        conf->root_set = 1;
    }
    if (conf->indices == NULL) {
        if (prev->indices == NULL) {
            prev->indices = px_pcalloc(cf->pool, sizeof(px_array_t));
            if (prev->indices == NULL || px_array_init(prev->indices, cf->pool, 1, sizeof(index_t)) != PX_OK)
                return CONF_ERROR;
            index_t *idx = px_array_push(prev->indices);
            memset(idx, 0, sizeof(*idx));
            http_cv_compile(cf, PX_STR("index.html"), &idx->name);
        }
        conf->indices = prev->indices;
    }
    /* the http level is never merged itself: its hash sizes and types are settled here */
    if (prev->types_hash_max_size == CONF_UNSET || prev->types_hash_bucket_size == CONF_UNSET ||
        (prev->types_hash_bucket_size & 63))
        merge_hash_sizes(prev, NULL);
    merge_hash_sizes(conf, prev);
    if (conf->types == NULL) {
        if (prev->types == NULL && default_types(cf, prev) != PX_OK)
            return CONF_ERROR;
        if (prev->types_table == NULL && build_types(cf, prev) != PX_OK)
            return CONF_ERROR;
        conf->types = prev->types;
        conf->types_table = prev->types_table;
    } else if (conf->types_table == NULL && build_types(cf, conf) != PX_OK) {
        return CONF_ERROR;
    }
    CONF_MERGE(conf->sendfile, prev->sendfile, 0);
    CONF_MERGE(conf->tcp_nopush, prev->tcp_nopush, 0);
    CONF_MERGE_SIZE(conf->sendfile_max_chunk, prev->sendfile_max_chunk, 2 * 1024 * 1024);
    if (conf->output_buffers.num == 0)
        conf->output_buffers = prev->output_buffers.num ? prev->output_buffers : (conf_bufs_t){2, 32768};
    CONF_MERGE(conf->log_not_found, prev->log_not_found, 1);
    CONF_MERGE(conf->etag, prev->etag, 1);
    CONF_MERGE(conf->if_modified_since, prev->if_modified_since, IMS_EXACT);
    CONF_MERGE(conf->max_ranges, prev->max_ranges, INT_MAX);
    return NULL;
}

static int preconfiguration(conf_ctx_t *cf)
{
    static const http_var_def_t vars[] = {
        {PX_STR("document_root"), var_document_root, 0, HTTP_VAR_NOCACHEABLE},
        {PX_STR("realpath_root"), var_realpath_root, 0, HTTP_VAR_NOCACHEABLE},
        {PX_STR("request_filename"), var_request_filename, 0, HTTP_VAR_NOCACHEABLE},
    };
    return http_var_define_all(cf, vars, sizeof(vars) / sizeof(vars[0]));
}

static int postconfiguration(conf_ctx_t *cf)
{
    http_core_main_conf_t *cmcf = cf->http->main_conf[http_core_module.index];
    if (http_push_handler(&cmcf->phase_precontent, try_files_handler) != PX_OK ||
        http_push_handler(&cmcf->phase_content, index_handler) != PX_OK ||
        http_push_handler(&cmcf->phase_content, static_handler) != PX_OK)
        return PX_ERROR;
    return PX_OK;
}

#define LOC_OFF(f) CONF_HTTP_LOC_CONF, offsetof(static_loc_conf_t, f)
#define HSL (CONF_HTTP | CONF_SRV | CONF_LOC)

static const conf_directive_t static_directives[] = {
    {"root", HSL | CONF_LIF, CONF_TAKE1, set_root, CONF_HTTP_LOC_CONF, 0, NULL},
    {"alias", CONF_LOC, CONF_TAKE1, set_root, CONF_HTTP_LOC_CONF, 0, NULL},
    {"index", HSL, CONF_1MORE, set_index, CONF_HTTP_LOC_CONF, 0, NULL},
    {"try_files", CONF_SRV | CONF_LOC, CONF_2MORE, set_try_files, CONF_HTTP_LOC_CONF, 0, NULL},
    {"types", HSL, CONF_BLOCK | CONF_NOARGS, set_types, CONF_HTTP_LOC_CONF, 0, NULL},
    {"types_hash_max_size", HSL, CONF_TAKE1, conf_set_num, LOC_OFF(types_hash_max_size), NULL},
    {"types_hash_bucket_size", HSL, CONF_TAKE1, conf_set_num, LOC_OFF(types_hash_bucket_size), NULL},
    {"sendfile", HSL | CONF_LIF, CONF_FLAG, conf_set_flag, LOC_OFF(sendfile), NULL},
    {"tcp_nopush", HSL, CONF_FLAG, conf_set_flag, LOC_OFF(tcp_nopush), NULL},
    {"sendfile_max_chunk", HSL, CONF_TAKE1, conf_set_size, LOC_OFF(sendfile_max_chunk), NULL},
    {"output_buffers", HSL, CONF_TAKE2, conf_set_bufs, LOC_OFF(output_buffers), NULL},
    {"log_not_found", HSL, CONF_FLAG, conf_set_flag, LOC_OFF(log_not_found), NULL},
    {"etag", HSL, CONF_FLAG, conf_set_flag, LOC_OFF(etag), NULL},
    {"if_modified_since", HSL, CONF_TAKE1, conf_set_enum, LOC_OFF(if_modified_since), ims_values},
    {"max_ranges", HSL, CONF_TAKE1, conf_set_num, LOC_OFF(max_ranges), NULL},
    {NULL, 0, 0, NULL, 0, 0, NULL},
};

conf_module_t http_static_module = {
    .name = "http_static",
    .directives = static_directives,
    .create_loc_conf = create_loc_conf,
    .merge_loc_conf = merge_loc_conf,
    .preconfiguration = preconfiguration,
    .postconfiguration = postconfiguration,
};
