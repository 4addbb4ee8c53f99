/* The one place that names the modules of every layer. */
#include "core/modules.h"

#include "conf/conf_module.h"

extern conf_module_t conf_core_module;
extern conf_module_t conf_events_module;
extern conf_module_t http_core_module;
extern conf_module_t http_ssl_module;
extern conf_module_t http_v2_module;
extern conf_module_t http_proxy_protocol_module;
extern conf_module_t http_log_module;
extern conf_module_t http_rewrite_module;
extern conf_module_t http_map_module;
extern conf_module_t http_realip_module;
extern conf_module_t http_headers_module;
extern conf_module_t http_referer_module;
extern conf_module_t http_static_module;
extern conf_module_t ups_http_module;
extern conf_module_t proxy_http_module;
extern conf_module_t proxy_ssl_module;
extern conf_module_t proxy_status_module;
extern conf_module_t proxy_health_module;
extern conf_module_t stream_proxy_module;

conf_module_t *px_modules[] = {
    &conf_core_module,
    &conf_events_module,
    &http_core_module,
    &http_ssl_module,
    &http_v2_module,
    &http_proxy_protocol_module,
    &http_log_module,
    &http_rewrite_module,
    &http_map_module,
    &http_realip_module,
    &http_headers_module,
    &http_referer_module,
    &http_static_module,
    &ups_http_module,
    &proxy_http_module,
    &proxy_ssl_module,
    &proxy_status_module,
    &proxy_health_module,
    &stream_proxy_module,
};

const size_t px_nmodules = sizeof(px_modules) / sizeof(px_modules[0]);
