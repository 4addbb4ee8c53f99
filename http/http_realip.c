/* realip: the client address taken from a header sent by a trusted proxy. */
#include "http/http_core.h"

conf_module_t http_realip_module = {
    .name = "http_realip",
};
