/* placeholder: being written */
#include "http/http_core.h"

conf_module_t http_static_module = {
    .name = "http_static",
};
