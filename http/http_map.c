/* map: variables whose value is looked up from another value (exact, hostnames, regex). */
#include "http/http_core.h"

conf_module_t http_map_module = {
    .name = "http_map",
};
