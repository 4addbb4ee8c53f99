/* The standard setters: a directive's one argument parsed and stored at an offset. */
#include "conf/conf_module.h"
#include "conf/conf_value.h"

#include <stdio.h>

static const char *value_error(conf_ctx_t *cf, conf_value_kind_t kind, const conf_node_t *n)
{
    char buf[1024];
    conf_value_error(buf, sizeof(buf), kind, n->name, n->args[0].value);
    return px_pstrdup(cf->pool, buf, strlen(buf));
}

static const char *duplicate(conf_ctx_t *cf, const conf_node_t *n)
{
    return px_psprintf(cf->pool, "\"%s\" directive is duplicate", n->name.data);
}

const char *conf_set_flag(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    int *field = (int *)((char *)conf + d->offset);
    if (*field != CONF_UNSET)
        return duplicate(cf, n);
    int v = conf_parse_flag(n->args[0].value);
    if (v < 0)
        return value_error(cf, CONF_VALUE_FLAG, n);
    *field = v;
    return NULL;
}

const char *conf_set_num(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    int *field = (int *)((char *)conf + d->offset);
    if (*field != CONF_UNSET)
        return duplicate(cf, n);
    int64_t v = conf_parse_number(n->args[0].value);
    if (v < 0 || v > 0x7fffffff)
        return value_error(cf, CONF_VALUE_NUMBER, n);
    *field = (int)v;
    return NULL;
}

const char *conf_set_size(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    size_t *field = (size_t *)((char *)conf + d->offset);
    if (*field != CONF_UNSET_SIZE)
        return duplicate(cf, n);
    int64_t v = conf_parse_size(n->args[0].value);
    if (v < 0)
        return value_error(cf, CONF_VALUE_SIZE, n);
    *field = (size_t)v;
    return NULL;
}

const char *conf_set_off(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    int64_t *field = (int64_t *)((char *)conf + d->offset);
    if (*field != -1)
        return duplicate(cf, n);
    int64_t v = conf_parse_offset(n->args[0].value);
    if (v < 0)
        return value_error(cf, CONF_VALUE_OFFSET, n);
    *field = v;
    return NULL;
}

const char *conf_set_msec(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    int64_t *field = (int64_t *)((char *)conf + d->offset);
    if (*field != -1)
        return duplicate(cf, n);
    int64_t v = conf_parse_msec(n->args[0].value);
    if (v < 0)
        return value_error(cf, CONF_VALUE_MSEC, n);
    *field = v;
    return NULL;
}

const char *conf_set_sec(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    int64_t *field = (int64_t *)((char *)conf + d->offset);
    if (*field != -1)
        return duplicate(cf, n);
    int64_t v = conf_parse_sec(n->args[0].value);
    if (v < 0)
        return value_error(cf, CONF_VALUE_SEC, n);
    *field = v;
    return NULL;
}

const char *conf_set_str(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    px_str_t *field = (px_str_t *)((char *)conf + d->offset);
    if (field->data)
        return duplicate(cf, n);
    *field = n->args[0].value;
    return NULL;
}

const char *conf_set_enum(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    int *field = (int *)((char *)conf + d->offset);
    if (*field != CONF_UNSET)
        return duplicate(cf, n);
    for (const conf_enum_t *e = d->post; e->name; e++) {
        if (px_str_caseeq_lit(n->args[0].value, e->name)) {
            *field = e->value;
            return NULL;
        }
    }
    return px_psprintf(cf->pool, "invalid value \"%s\"", n->args[0].value.data);
}

/* "number size", as proxy_buffers 8 4k. */
const char *conf_set_bufs(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    conf_bufs_t *field = (conf_bufs_t *)((char *)conf + d->offset);
    if (field->num)
        return duplicate(cf, n);
    int64_t num = conf_parse_number(n->args[0].value);
    int64_t size = conf_parse_size(n->args[1].value);
    if (num <= 0 || size <= 0)
        return px_psprintf(cf->pool, "\"%s\" directive invalid value", n->name.data);
    field->num = (int)num;
    field->size = (size_t)size;
    return NULL;
}

const char *conf_set_temp_path(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                               void *conf)
{
    px_str_t *field = (px_str_t *)((char *)conf + d->offset);
    if (field->len)
        return duplicate(cf, n);
    for (size_t i = 1; i < n->nargs; i++) {
        int64_t lv = conf_parse_number(n->args[i].value);
        if (lv < 1 || lv > 2)
            return px_psprintf(cf->pool, "invalid value \"%.*s\"", (int)n->args[i].value.len,
                               n->args[i].value.data);
    }
    px_str_t p = n->args[0].value;
    if (p.len && p.data[0] != '/') {
        char *full = px_psprintf(cf->pool, "%s%.*s", cf->cycle->prefix, (int)p.len, p.data);
        p = px_str_make(full, strlen(full));
    }
    *field = p;
    return NULL;
}
