/* The list of every module of every layer, in the order their directives are looked up. */
#ifndef PX_MODULES_H
#define PX_MODULES_H

#include <stddef.h>

struct conf_module;
extern struct conf_module *px_modules[];
extern const size_t px_nmodules;

#endif
