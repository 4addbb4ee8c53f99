/* add_header and expires: response headers added by the configuration. */
#include "http/http_core.h"

conf_module_t http_headers_module = {
    .name = "http_headers",
};
