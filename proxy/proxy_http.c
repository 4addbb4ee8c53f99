/* proxy_pass over HTTP/1.x. */
#include "http/http_core.h"

conf_module_t proxy_http_module = {
    .name = "proxy_http",
};
