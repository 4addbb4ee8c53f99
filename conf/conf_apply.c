/* Walks the parsed tree and applies each directive through its module's table, with
 * nginx's checks and messages (unknown directive, not allowed here, arity, block), and
 * loads a whole configuration into a new cycle. */
#include "conf/conf_module.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/px_log.h"

/* Set when a block of a partial tree ended at its syntax error. Setters above it then fail
 * without a message of their own (or with one nginx would never have reached), and the
 * syntax error is what gets reported. */
static int stopped_at_syntax_error;

void conf_log(conf_ctx_t *cf, int level, int err, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    char where[1024];
    const char *w = cf->node ? conf_node_where(cf->node, where, sizeof(where)) : NULL;
    if (err) {
        size_t used = strlen(msg);
        snprintf(msg + used, sizeof(msg) - used, " (%d: %s)", err, strerror(err));
    }
    if (w)
        px_log_error(level, NULL, 0, "%s in %s", msg, w);
    else
        px_log_error(level, NULL, 0, "%s", msg);
    if (level <= PX_LOG_WARN)
        cf->warned = 1;
}

static int arity_ok(unsigned arity, size_t nargs)
{
    static const unsigned by_count[] = {CONF_NOARGS, CONF_TAKE1, CONF_TAKE2, CONF_TAKE3,
                                        CONF_TAKE4,  CONF_TAKE5, CONF_TAKE6, CONF_TAKE7};
    if (arity & CONF_ANY)
        return 1;
    if (arity & CONF_FLAG)
        return nargs == 1;
    if (arity & CONF_1MORE)
        return nargs >= 1;
    if (arity & CONF_2MORE)
        return nargs >= 2;
    if (nargs >= sizeof(by_count) / sizeof(by_count[0]))
        return 0;
    return (arity & by_count[nargs]) != 0;
}

static void *conf_for_level(conf_ctx_t *cf, const conf_directive_t *d, const conf_module_t *m)
{
    switch (d->conf_level) {
    case CONF_CORE_CONF:
        return cf->cycle->conf[m->index];
    case CONF_HTTP_MAIN_CONF:
        return cf->http ? cf->http->main_conf[m->index] : NULL;
    case CONF_HTTP_SRV_CONF:
        return cf->http ? cf->http->srv_conf[m->index] : NULL;
    case CONF_HTTP_LOC_CONF:
        return cf->http ? cf->http->loc_conf[m->index] : NULL;
    }
    return NULL;
}

static int apply_directive(conf_ctx_t *cf, const conf_node_t *node)
{
    int found = 0;
    cf->node = node;
    for (size_t i = 0; i < cf->nmodules; i++) {
        const conf_module_t *m = cf->modules[i];
        if (m->directives == NULL)
            continue;
        for (const conf_directive_t *d = m->directives; d->name; d++) {
            if (!px_str_eq_lit(node->name, d->name))
                continue;
            found = 1;
            if (!(d->contexts & cf->type))
                continue;
            if (!(d->arity & CONF_BLOCK) && node->has_block) {
                conf_log(cf, PX_LOG_EMERG, 0, "directive \"%s\" is not terminated by \";\"",
                         d->name);
                return PX_ERROR;
            }
            if ((d->arity & CONF_BLOCK) && !node->has_block) {
                conf_log(cf, PX_LOG_EMERG, 0, "directive \"%s\" has no opening \"{\"", d->name);
                return PX_ERROR;
            }
            if (!arity_ok(d->arity, node->nargs)) {
                conf_log(cf, PX_LOG_EMERG, 0, "invalid number of arguments in \"%s\" directive",
                         d->name);
                return PX_ERROR;
            }
            const char *rv = d->set(cf, node, d, conf_for_level(cf, d, m));
            cf->node = node;
            if (rv && stopped_at_syntax_error)
                return PX_ABORT;
            if (rv == CONF_ERROR)
                return PX_ERROR;
            if (rv) {
                conf_log(cf, PX_LOG_EMERG, 0, "%s", rv);
                return PX_ERROR;
            }
            return PX_OK;
        }
    }
    if (found)
        conf_log(cf, PX_LOG_EMERG, 0, "\"%s\" directive is not allowed here", node->name.data);
    else
        conf_log(cf, PX_LOG_EMERG, 0, "unknown directive \"%s\"", node->name.data);
    return PX_ERROR;
}

int conf_apply_block(conf_ctx_t *cf, const conf_node_t *block, unsigned type)
{
    unsigned saved = cf->type;
    cf->type = type;
    for (size_t i = 0; i < block->nchildren; i++) {
        const conf_node_t *node = &block->children[i];
        int rc = apply_directive(cf, node);
        if (rc != PX_OK) {
            cf->type = saved;
            return rc;
        }
    }
    cf->type = saved;
    /* A partial tree ends inside this block: nginx stopped at the syntax error here, before
     * anything that runs at the end of a block. */
    if (block->block_open) {
        stopped_at_syntax_error = 1;
        return PX_ABORT;
    }
    return PX_OK;
}

static char *dir_of(px_pool_t *pool, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return px_pstrdup(pool, "./", 2);
    return px_pstrdup(pool, path, (size_t)(slash - path + 1));
}

static char *absolute(px_pool_t *pool, const char *prefix, const char *path)
{
    if (path[0] == '/')
        return px_pstrdup(pool, path, strlen(path));
    return px_psprintf(pool, "%s%s", prefix, path);
}

/* Applies a parsed tree; reports the tree's own syntax error when the directives before
 * it applied cleanly (the order in which nginx finds errors). */
static int apply_tree(conf_ctx_t *cf, conf_tree_t *tree)
{
    stopped_at_syntax_error = 0;
    int rc = conf_apply_block(cf, &tree->root, CONF_MAIN);
    if (rc == PX_ERROR)
        return PX_ERROR;
    if (tree->error) {
        px_log_error(PX_LOG_EMERG, NULL, 0, "%s", tree->error);
        return PX_ERROR;
    }
    return PX_OK;
}

px_cycle_t *conf_load(const conf_load_opts_t *opts)
{
    px_cycle_t *cycle = px_cycle_new();
    if (cycle == NULL)
        return NULL;
    px_pool_t *pool = cycle->pool;
    cycle->prefix = opts->prefix;
    cycle->conf_file = absolute(pool, opts->prefix, opts->conf_file);
    cycle->conf_prefix = opts->conf_prefix ? opts->conf_prefix : dir_of(pool, cycle->conf_file);
    cycle->error_log_cli = opts->error_log_cli;
    cycle->conf = px_pcalloc(pool, opts->nmodules * sizeof(void *));

    conf_ctx_t cf;
    memset(&cf, 0, sizeof(cf));
    cf.cycle = cycle;
    cf.pool = pool;
    cf.modules = opts->modules;
    cf.nmodules = opts->nmodules;
    cf.type = CONF_MAIN;
    cf.test_only = opts->test_only;
    for (size_t i = 0; i < opts->nmodules; i++) {
        opts->modules[i]->index = (int)i;
        if (opts->modules[i]->create_core_conf) {
            cycle->conf[i] = opts->modules[i]->create_core_conf(&cf);
            if (cycle->conf[i] == NULL)
                goto failed;
        }
    }

    char err[4096];
    conf_tree_t *gtree = NULL;
    if (opts->g_directives) {
        conf_parse_opts_t po = {NULL, opts->g_directives, strlen(opts->g_directives),
                                cycle->conf_prefix, 1, 1};
        gtree = conf_parse(&po, err, sizeof(err));
        if (gtree == NULL) {
            px_log_error(PX_LOG_EMERG, NULL, 0, "%s", err);
            goto failed;
        }
        px_pool_cleanup_add(pool, (void (*)(void *))conf_tree_free, gtree);
        if (apply_tree(&cf, gtree) != PX_OK)
            goto failed;
    }

    conf_parse_opts_t po = {cycle->conf_file, NULL, 0, cycle->conf_prefix, 0, 1};
    conf_tree_t *tree = conf_parse(&po, err, sizeof(err));
    if (tree == NULL) {
        px_log_error(PX_LOG_EMERG, NULL, 0, "%s", err);
        goto failed;
    }
    px_pool_cleanup_add(pool, (void (*)(void *))conf_tree_free, tree);
    cycle->conf_tree = tree;
    if (apply_tree(&cf, tree) != PX_OK)
        goto failed;
    /* nginx announces the syntax as soon as the files are read; later checks follow it. */
    if (opts->announce_syntax_ok)
        fprintf(stderr, "proxyd: the configuration file %s syntax is ok\n", opts->announce_name);

    cf.node = NULL;
    for (size_t i = 0; i < opts->nmodules; i++) {
        conf_module_t *m = opts->modules[i];
        if (m->init_core_conf) {
            const char *rv = m->init_core_conf(&cf, cycle->conf[i]);
            if (rv == CONF_ERROR)
                goto failed;
            if (rv) {
                px_log_error(PX_LOG_EMERG, NULL, 0, "%s", rv);
                goto failed;
            }
        }
    }
    if (px_cycle_clone_reuseport(cycle) != PX_OK)
        goto failed;
    return cycle;

failed:
    px_cycle_free(cycle);
    return NULL;
}

char *conf_full_path(conf_ctx_t *cf, px_str_t name)
{
    if (name.len > 0 && name.data[0] == '/')
        return px_pstrdup(cf->pool, name.data, name.len);
    return px_psprintf(cf->pool, "%s%.*s", cf->cycle->conf_prefix ? cf->cycle->conf_prefix : "",
                       (int)name.len, name.data);
}
