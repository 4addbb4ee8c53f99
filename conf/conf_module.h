/* Modules and their directive tables: where each directive may appear, how many
 * arguments it takes, and the setter that stores its value. The walker in conf_apply.c
 * checks every directive of the parsed tree against these tables with nginx's errors. */
#ifndef CONF_MODULE_H
#define CONF_MODULE_H

#include "conf/conf_parse.h"
#include "core/px_cycle.h"

/* Contexts (where a directive may appear). */
#define CONF_MAIN 0x0001u
#define CONF_EVENTS 0x0002u
#define CONF_HTTP 0x0004u
#define CONF_SRV 0x0008u
#define CONF_LOC 0x0010u
#define CONF_LIF 0x0020u   /* if () inside a location */
#define CONF_SIF 0x0040u   /* if () inside a server */
#define CONF_UPS 0x0080u   /* upstream {} */
#define CONF_LMT 0x0100u   /* limit_except {} */
#define CONF_STREAM 0x0200u
#define CONF_STREAM_SRV 0x0400u
#define CONF_STREAM_UPS 0x0800u

/* Arity (arguments after the name). */
#define CONF_NOARGS 0x00001u
#define CONF_TAKE1 0x00002u
#define CONF_TAKE2 0x00004u
#define CONF_TAKE3 0x00008u
#define CONF_TAKE4 0x00010u
#define CONF_TAKE5 0x00020u
#define CONF_TAKE6 0x00040u
#define CONF_TAKE7 0x00080u
#define CONF_TAKE12 (CONF_TAKE1 | CONF_TAKE2)
#define CONF_TAKE13 (CONF_TAKE1 | CONF_TAKE3)
#define CONF_TAKE23 (CONF_TAKE2 | CONF_TAKE3)
#define CONF_TAKE123 (CONF_TAKE1 | CONF_TAKE2 | CONF_TAKE3)
#define CONF_TAKE1234 (CONF_TAKE1 | CONF_TAKE2 | CONF_TAKE3 | CONF_TAKE4)
#define CONF_FLAG 0x00100u  /* exactly one argument: on|off */
#define CONF_1MORE 0x00200u
#define CONF_2MORE 0x00400u
#define CONF_ANY 0x00800u
#define CONF_BLOCK 0x01000u /* requires { } */

/* Which configuration structure a directive's setter receives. */
enum { CONF_CORE_CONF, CONF_HTTP_MAIN_CONF, CONF_HTTP_SRV_CONF, CONF_HTTP_LOC_CONF };

typedef struct conf_ctx conf_ctx_t;
typedef struct conf_directive conf_directive_t;

/* A setter returns NULL on success or nginx's message (without " in file:line").
 * CONF_ERROR means the error was already reported. */
#define CONF_ERROR ((const char *)-1)
typedef const char *(*conf_set_fn)(conf_ctx_t *cf, const conf_node_t *node,
                                    const conf_directive_t *d, void *conf);

struct conf_directive {
    const char *name;
    unsigned contexts;
    unsigned arity;
    conf_set_fn set;
    int conf_level;
    size_t offset;
    const void *post; /* extra data for the setter (an enum table, bounds) */
};

typedef struct conf_module conf_module_t;
struct conf_module {
    const char *name;
    const conf_directive_t *directives;
    /* main context */
    void *(*create_core_conf)(conf_ctx_t *cf);
    const char *(*init_core_conf)(conf_ctx_t *cf, void *conf);
    /* http context levels */
    /* at the start of http{}: define variables, so that `set` meets them as nginx does */
    int (*preconfiguration)(conf_ctx_t *cf);
    void *(*create_main_conf)(conf_ctx_t *cf);
    const char *(*init_main_conf)(conf_ctx_t *cf, void *conf);
    void *(*create_srv_conf)(conf_ctx_t *cf);
    const char *(*merge_srv_conf)(conf_ctx_t *cf, void *parent, void *child);
    void *(*create_loc_conf)(conf_ctx_t *cf);
    const char *(*merge_loc_conf)(conf_ctx_t *cf, void *parent, void *child);
    /* after the whole http{} block: register phase handlers, build lookup structures */
    int (*postconfiguration)(conf_ctx_t *cf);
    int index; /* position in the module list, set at load */
};

/* Per-level configuration arrays of the http context, indexed by module index. */
typedef struct {
    void **main_conf;
    void **srv_conf;
    void **loc_conf;
} conf_http_ctx_t;

struct conf_ctx {
    px_cycle_t *cycle;
    px_pool_t *pool;
    conf_module_t **modules;
    size_t nmodules;
    unsigned type;            /* the context we are in: CONF_MAIN, CONF_HTTP, ... */
    conf_http_ctx_t *http;    /* current http level (NULL outside http{}) */
    void *block_data;         /* for blocks with their own inner grammar (types, map) */
    const conf_node_t *node;  /* directive being applied, for messages */
    int test_only;            /* -t: never open, write, or load anything */
    int warned;
};

/* Applies the directives of block (node->children) in context type. */
int conf_apply_block(conf_ctx_t *cf, const conf_node_t *block, unsigned type);
/* Logs "[level] msg in file:line" for the current directive. */
void conf_log(conf_ctx_t *cf, int level, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A file named in the configuration: absolute as written, else relative to the directory of
 * the configuration file (nginx's conf prefix), in cf->pool. */
char *conf_full_path(conf_ctx_t *cf, px_str_t name);

/* Loads a whole configuration into a new cycle, or returns NULL after reporting. */
typedef struct {
    const char *prefix;
    const char *conf_file;
    const char *conf_prefix;
    const char *g_directives;
    const char *error_log_cli;
    int test_only;
    int announce_syntax_ok;    /* -t without -q: print "syntax is ok" once parsing succeeded */
    const char *announce_name; /* the file name as the user gave it */
    conf_module_t **modules;
    size_t nmodules;
} conf_load_opts_t;

px_cycle_t *conf_load(const conf_load_opts_t *opts);

/* Standard setters (conf_setters.c). The value lands at (char *)conf + d->offset. */
const char *conf_set_flag(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf);
const char *conf_set_num(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf);
const char *conf_set_size(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf);
const char *conf_set_off(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf);
const char *conf_set_msec(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf);
const char *conf_set_sec(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf);
const char *conf_set_str(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf);
const char *conf_set_enum(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf);
/* A temp directory (client_body_temp_path, proxy_temp_path) into a px_str_t, relative to
 * the prefix; the level arguments (1 or 2 each) are checked only: temp files here are kept
 * flat in the directory and unlinked as soon as they are opened. */
const char *conf_set_temp_path(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                               void *conf);
const char *conf_set_bufs(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf);

/* Unset markers for merge, as nginx's NGX_CONF_UNSET. */
#define CONF_UNSET (-1)
#define CONF_UNSET_SIZE ((size_t)-1)
#define CONF_UNSET_MSEC ((int64_t)-1)
#define CONF_MERGE(c, p, def)                                                                      \
    do {                                                                                           \
        if ((c) == CONF_UNSET)                                                                     \
            (c) = ((p) == CONF_UNSET) ? (def) : (p);                                               \
    } while (0)
#define CONF_MERGE_SIZE(c, p, def)                                                                 \
    do {                                                                                           \
        if ((c) == CONF_UNSET_SIZE)                                                                \
            (c) = ((p) == CONF_UNSET_SIZE) ? (def) : (p);                                          \
    } while (0)
#define CONF_MERGE_PTR(c, p, def)                                                                  \
    do {                                                                                           \
        if ((c) == NULL)                                                                           \
            (c) = ((p) == NULL) ? (def) : (p);                                                     \
    } while (0)

typedef struct {
    const char *name;
    int value;
} conf_enum_t;

typedef struct {
    int num;
    size_t size;
} conf_bufs_t;

#endif
