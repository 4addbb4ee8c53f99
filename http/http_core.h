/* The HTTP layer's central types: per-level configuration of the core module, the
 * request, and the small API other http/ files and later layers (proxy/) use. */
#ifndef HTTP_CORE_H
#define HTTP_CORE_H

#include <sys/uio.h>

#include "conf/conf_module.h"
#include "core/px_conn.h"
#include "core/px_cycle.h"

typedef struct http_request http_request_t;
typedef struct http_core_loc_conf http_core_loc_conf_t;
typedef struct http_core_srv_conf http_core_srv_conf_t;

/* ---- variables (http_variables.c) ---- */

typedef struct {
    px_str_t value;
    unsigned valid : 1;
    unsigned not_found : 1;
    unsigned no_cacheable : 1;
} http_var_value_t;

typedef int (*http_var_get_fn)(http_request_t *r, http_var_value_t *v, uintptr_t data);

#define HTTP_VAR_CHANGEABLE 1u  /* `set` may assign it */
#define HTTP_VAR_NOCACHEABLE 2u /* re-evaluated on every read */
#define HTTP_VAR_PREFIX 4u      /* a family: http_, arg_, cookie_, sent_http_ ... */

typedef struct {
    px_str_t name;
    http_var_get_fn get;
    uintptr_t data;
    unsigned flags;
} http_var_def_t;

/* Registers a variable (or a prefix family) at configuration time. */
int http_var_define(conf_ctx_t *cf, const http_var_def_t *def);
/* Registers n definitions. */
int http_var_define_all(conf_ctx_t *cf, const http_var_def_t *defs, size_t n);
/* Returns the index a compiled value uses to read variable name, or -1 (conf error logged). */
int http_var_index(conf_ctx_t *cf, px_str_t name);
/* Value of variable index for r; NULL if it has no value (not found). */
http_var_value_t *http_var_get(http_request_t *r, int index);
/* By name at request time (slower): for map keys and tests. */
http_var_value_t *http_var_get_by_name(http_request_t *r, px_str_t name);

/* A value with variables ("$scheme://$host$request_uri"), compiled once at load. */
typedef struct {
    px_str_t literal; /* the whole value when it has no variables */
    struct http_cv_part *parts;
    size_t nparts;
    unsigned has_vars : 1;
} http_cv_t;

const char *http_cv_compile(conf_ctx_t *cf, px_str_t src, http_cv_t *cv);
int http_cv_eval(http_request_t *r, const http_cv_t *cv, px_str_t *out);

/* ---- headers ---- */

typedef struct {
    px_str_t name;
    px_str_t value;
} http_header_t;

/* ---- configuration ---- */

typedef struct {
    px_array_t servers;   /* http_core_srv_conf_t* */
    px_array_t ports;     /* http_listen_t: every listen, grouped into sockets at the end */
    /* variables: owned by http_variables.c, set up there on first use */
    px_array_t variables; /* definitions */
    px_array_t used_vars; /* px_str_t names referenced, resolved at the end of http{} */
    px_array_t var_index; /* definition pointers by index */
    /* Phase handlers, registered by modules in their postconfiguration hook. Each returns
     * PX_DECLINED (or PX_OK) to go on, or a status / PX_DONE to end the phases. */
    px_array_t phase_post_read; /* after the server is chosen (realip) */
    px_array_t phase_server_rewrite; /* before a location is chosen (server-level rewrite) */
    px_array_t phase_rewrite;   /* in the chosen location */
    px_array_t phase_preaccess; /* limits; realip again for location-level settings */
    px_array_t phase_access;
    px_array_t phase_precontent; /* try_files */
    /* Content for a location without a content handler of its own (index, then static
     * files): the first answer other than PX_DECLINED ends the request; all decline: 404. */
    px_array_t phase_content;
    /* Header filters: run in order on every response head just before it is serialised
     * (add_header, expires); PX_OK or PX_ERROR (500). */
    px_array_t header_filters; /* http_handler_fn */
} http_core_main_conf_t;

typedef int (*http_handler_fn)(http_request_t *r);
/* Appends a handler to a phase (or to the header filters), in a module's postconfiguration. */
int http_push_handler(px_array_t *phase, http_handler_fn fn);

struct http_core_srv_conf {
    px_array_t names;       /* http_server_name_t, as written */
    px_array_t name_regexes; /* http_regex_t* per name (NULL unless a regex): named captures */
    conf_http_ctx_t *ctx;   /* this server's configuration arrays */
    const char *file;
    unsigned line;
    void *locations;        /* http_location tree */
    px_array_t top_locations; /* conf_http_ctx_t* of the server-level locations */
    px_str_t server_name;   /* the first name, $server_name */
    size_t client_header_buffer_size;
    conf_bufs_t large_client_header_buffers;
    int64_t client_header_timeout;
    int merge_slashes;
    int underscores_in_headers;
    int ignore_invalid_headers;
    int listen_seen;
};

typedef struct {
    int code;
    int overwrite;        /* -1: keep; 0: "=" without code (take the target's); >0: =code */
    http_cv_t uri;
} http_error_page_t;

struct http_core_loc_conf {
    px_str_t name;                 /* as written: "/images/", "~ \.php$", "@fallback" */
    int kind;                      /* HTTP_LOC_* from http_location.h */
    conf_http_ctx_t *ctx;
    px_array_t nested;             /* conf_http_ctx_t* of directly nested locations */
    const char *file;
    unsigned line;
    http_handler_fn content_handler; /* set by proxy_pass, return ... */
    int64_t keepalive_timeout;
    int64_t keepalive_header;      /* second argument of keepalive_timeout, -1 none */
    int keepalive_requests;
    int64_t keepalive_time;
    int64_t client_body_timeout;
    int64_t send_timeout;
    int64_t client_max_body_size;
    size_t client_body_buffer_size;
    px_str_t client_body_temp_path;
    int server_tokens;
    int tcp_nodelay;
    px_str_t default_type;
    int recursive_error_pages;
    int absolute_redirect;
    int server_name_in_redirect;
    int port_in_redirect;
    int lingering_close;           /* LINGERING_OFF, _ON, _ALWAYS */
    int64_t lingering_time;
    int64_t lingering_timeout;
    int reset_timedout_connection;
    int uninitialized_variable_warn;
    px_array_t *error_pages;       /* http_error_page_t, inherited as a whole */
    px_log_t *error_log;           /* error_log at http/server/location level */
    void *regex;                   /* http_regex_t of a regex location, for named captures */
    unsigned internal : 1;
    unsigned noname : 1;           /* an if () block's configuration */
    unsigned auto_redirect : 1;    /* set by proxy_pass: /name without its slash redirects */
};

enum { LINGERING_OFF, LINGERING_ON, LINGERING_ALWAYS };

/* ---- the request ---- */

enum {
    HTTP_UNKNOWN = 0,
    HTTP_GET,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_DELETE,
    HTTP_OPTIONS,
    HTTP_PATCH,
    HTTP_TRACE,
    HTTP_CONNECT
};

struct http_request {
    px_conn_t *conn;
    struct http_conn *hc;
    px_pool_t *pool;
    px_log_t log;

    /* request line, as sent and as normalised */
    px_str_t request_line;
    px_str_t method_name;
    px_str_t unparsed_uri; /* request target as sent ($request_uri) */
    px_str_t uri;          /* decoded, normalised path ($uri) */
    px_str_t args;
    px_str_t exten;
    px_str_t schema;
    px_str_t host_in_line;
    int method;
    int http_major, http_minor;
    int http_version; /* major * 1000 + minor */

    /* request headers */
    px_array_t headers; /* http_header_t */
    px_str_t host;      /* validated, lowercased, without port */
    http_header_t *h_host, *h_content_length, *h_transfer_encoding, *h_connection, *h_expect,
        *h_content_type, *h_upgrade;
    int64_t content_length_n;
    unsigned chunked_in : 1;
    unsigned keepalive : 1;
    unsigned expect_continue : 1;
    unsigned continue_sent : 1;
    unsigned internal : 1;
    unsigned error_page_done : 1;
    unsigned header_only : 1;
    unsigned discarding_body : 1;
    unsigned body_done : 1;
    unsigned body_started : 1; /* the body reader's state in the connection is set up */
    unsigned lingering : 1;
    unsigned logged : 1;
    unsigned uri_changed : 1; /* rewrite changed the URI: choose the location again */
    unsigned location_rewritten : 1; /* rewrite ... break changed the URI in this location */
    unsigned args_set : 1;    /* `set $args`: the request target as sent is stale */
    unsigned quoted_uri : 1;  /* the request target had %XX escapes */
    unsigned plus_in_uri : 1; /* ... or a '+' */

    /* configuration chosen for this request */
    http_core_srv_conf_t *srv;
    http_core_loc_conf_t *loc;
    void **loc_conf;
    void **srv_conf;
    void **main_conf;

    /* regex captures of the last match (location, server_name, if, rewrite) */
    size_t *captures;     /* px_regex ovector: 2 offsets per pair */
    int ncaptures;         /* pairs */
    const char *captures_subject;
    int uri_changes;       /* internal redirects left */

    /* response */
    int status;
    int err_status;        /* error_page: status to send instead */
    px_str_t status_line;
    px_array_t out_headers; /* http_header_t */
    px_str_t content_type;
    int64_t out_content_length; /* -1 unknown */
    px_str_t location;     /* Location header value */
    unsigned header_sent : 1;
    unsigned chunked_out : 1;
    unsigned keepalive_out : 1;
    unsigned out_last : 1; /* the whole response is queued */
    unsigned upgrade : 1;  /* a 101 toward the client: "Connection: upgrade" */
    unsigned own_server : 1; /* Server comes from out_headers (proxy_pass_header Server) */
    unsigned own_date : 1;   /* Date likewise */
    px_array_t upstream_headers; /* http_header_t of the proxied response head */
    /* ", upstream: \"http://PEER/URI\"" in error lines, put together only when one is logged */
    const char *upstream_scheme, *upstream_peer;
    px_str_t upstream_uri;
    px_str_t last_modified; /* Last-Modified header value, written among nginx's own */

    /* A content handler that works asynchronously (proxy_pass) takes the client
     * connection's events while it runs, and keeps its state here. */
    void (*read_event_handler)(http_request_t *r);
    void (*write_event_handler)(http_request_t *r);
    void *content_ctx;
    void *realip; /* realip's saved peer: the address is replaced once per request */
    void *static_ctx; /* the static module's state: a file being sent, try_files' alias flag */
    int body_status; /* why http_body_read failed: 400, 408, 413, 499 */

    uint64_t request_length;
    uint64_t bytes_sent;
    uint64_t header_bytes_sent;

    px_msec_t start_msec;
    time_t start_sec;
    unsigned start_msec_part;

    http_var_value_t *vars; /* per-request variable cache, by index */
    char request_id[33];
};

/* Per-listening-address server lookup, built in http_core_module.c. */
typedef struct http_addr_conf {
    http_core_srv_conf_t *default_server;
    int default_explicit;
    void *names; /* http_server_names_t */
    struct sockaddr_storage sa;
    socklen_t salen;
    const void *opts; /* the listen that carried socket options */
    unsigned ssl : 1; /* connections start with a TLS handshake (http_ssl.c) */
    unsigned http2 : 1; /* `listen ... http2`: HTTP/2 whatever the server's `http2` says */
    unsigned proxy_protocol : 1; /* connections start with a PROXY protocol header */
} http_addr_conf_t;

extern conf_module_t http_core_module;

#define http_get_module_loc_conf(r, m) ((r)->loc_conf[(m).index])
#define http_get_module_srv_conf(r, m) ((r)->srv_conf[(m).index])
#define http_get_module_main_conf(r, m) ((r)->main_conf[(m).index])

/* An if () block (rewrite module): a location-level configuration of its own, merged from
 * the enclosing level. http_core_if_level creates it; the caller prepares its module
 * confs, then http_core_if_apply reads the block's directives into it (type CONF_SIF or
 * CONF_LIF). */
conf_http_ctx_t *http_core_if_level(conf_ctx_t *cf, const conf_node_t *n);
int http_core_if_apply(conf_ctx_t *cf, const conf_node_t *n, conf_http_ctx_t *ctx, unsigned type);

/* ---- request API ---- */

/* Finishes r with status rc: a special response for errors (honouring error_page), or
 * completion after a content handler sent everything. */
void http_finalize(http_request_t *r, int rc);
/* Sends a complete response with the given body (may be empty) from memory. */
int http_send_simple(http_request_t *r, int status, px_str_t content_type, px_str_t body);
/* Re-runs location matching and phases for a new URI (error_page, try_files, rewrite last). */
int http_internal_redirect(http_request_t *r, px_str_t uri, px_str_t args);
/* An internal redirect to "uri?args" as error_page and X-Accel-Redirect make one: the
 * method becomes GET (HEAD stays HEAD). */
int http_internal_redirect_get(http_request_t *r, px_str_t target);
int http_named_location(http_request_t *r, px_str_t name);
/* ---- streaming responses (http_response.c) ----
 * A content handler that streams calls http_send_header once, then queues body pieces
 * that stay in its own buffers until their done callback runs, then http_send_last, and
 * finally http_finalize(r, PX_OK). http_flush writes what it can without blocking. */

typedef void (*http_out_done_fn)(void *arg);

/* Serialises the response head (status, headers in r, header filters) and queues it;
 * decides keepalive and chunked output from r->out_content_length. */
int http_send_header(http_request_t *r);
/* Queues body bytes, chunk-framed when the response is chunked; done(arg) runs once they
 * are written (or at once for a HEAD response). PX_ERROR when the queue is full. */
int http_send_body(http_request_t *r, const char *data, size_t len, http_out_done_fn done,
                   void *arg);
/* Queues the end of the body (the last chunk of a chunked response). */
int http_send_last(http_request_t *r);
/* Free pieces in the queue: a body piece takes up to 3. */
size_t http_out_room(http_request_t *r);
/* Bytes queued and not yet written. */
size_t http_out_pending(http_request_t *r);
/* Sends up to len bytes of file fd from *offset straight to the client with sendfile(2),
 * advancing *offset; the queue must be empty. Bytes sent (0 when the file ends early),
 * PX_AGAIN when the socket is full (the write_event_handler runs when it drains;
 * send_timeout is armed), PX_ERROR when the client is gone (logged at info). */
ssize_t http_sendfile(http_request_t *r, int fd, int64_t *offset, size_t len);
/* Writes queued bytes: PX_OK when all are out, PX_AGAIN when the socket is full (the
 * request's write_event_handler runs when it drains; send_timeout is armed), PX_ERROR when
 * the client is gone (logged at info). */
int http_flush(http_request_t *r);
/* Ends a request whose connection cannot go on (client gone, upstream broke mid-body):
 * logs it with status (unless logged) and closes the connection. r is gone afterwards. */
void http_terminate(http_request_t *r, int status);

/* ---- request body (http_body.c) ---- */

/* Sends "100 Continue" if the client waits for it. PX_OK or PX_ERROR. */
int http_body_start(http_request_t *r);
/* Reads decoded body bytes (Content-Length or chunked) into buf: >0 bytes, 0 when the body
 * is complete, PX_AGAIN when nothing more is here yet, PX_ERROR with r->body_status set
 * (400 broken chunked body or early close, 413 too large; logged). */
ssize_t http_body_read(http_request_t *r, char *buf, size_t size);
/* Whether the request has a body at all. */
int http_body_expected(http_request_t *r);
/* Arms client_body_timeout; when it fires the request ends with 408. */
void http_body_wait(http_request_t *r);

/* Runs the header filters (add_header, expires) on the response about to be sent. */
int http_run_header_filters(http_request_t *r);
/* A redirect target as nginx writes it: a path made absolute ("http://host:port/path")
 * unless absolute_redirect is off; anything else as it is. */
px_str_t http_absolute_location(http_request_t *r, px_str_t path);
/* Recomputes r->exten after r->uri changed (rewrite, internal redirect). */
void http_set_exten(http_request_t *r);
/* Adds a response header. */
int http_add_out_header(http_request_t *r, px_str_t name, px_str_t value);
const char *http_status_text(int status);
/* Log context for error lines: ", client: A, server: S, request: \"R\", host: \"H\"". */
size_t http_log_context(px_log_t *log, char *buf, size_t len);

#endif
