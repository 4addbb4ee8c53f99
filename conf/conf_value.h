/* Directive argument values: numbers, sizes, offsets, times and on/off flags, accepted and
 * rejected exactly as nginx's slot setters do, and nginx's words for a rejected value. */
#ifndef CONF_VALUE_H
#define CONF_VALUE_H

#include "core/px_string.h"

/* Every parser returns -1 when nginx would reject the text. */

/* Decimal digits only: no sign, no spaces, no unit ("1k" is not a number). */
int64_t conf_parse_number(px_str_t text);
/* Bytes: "1024", "8k"/"8K", "1m"/"1M". No "g": nginx keeps that for offsets. */
int64_t conf_parse_size(px_str_t text);
/* Bytes as for sizes, plus "1g"/"1G" (client_max_body_size, proxy_max_temp_file_size). */
int64_t conf_parse_offset(px_str_t text);
/* Milliseconds from "500ms", "30s", "30", "1h 30m", "1h30m", "1w2d"; units case-sensitive,
 * in decreasing order, each once; a bare number means seconds. "y" and "M" are rejected. */
int64_t conf_parse_msec(px_str_t text);
/* Seconds: the same grammar with "y" (365 days) and "M" (30 days) allowed and "ms" rejected. */
int64_t conf_parse_sec(px_str_t text);
/* 1 for "on", 0 for "off" (any case), -1 otherwise. */
int conf_parse_flag(px_str_t text);

typedef enum {
    CONF_VALUE_NUMBER,
    CONF_VALUE_SIZE,
    CONF_VALUE_OFFSET,
    CONF_VALUE_MSEC,
    CONF_VALUE_SEC,
    CONF_VALUE_FLAG
} conf_value_kind_t;

/* Parses text as kind into *out. On failure writes into err (see conf_value_error) and
 * returns PX_ERROR. */
int conf_value_parse(conf_value_kind_t kind, px_str_t directive, px_str_t text, int64_t *out,
                     char *err, size_t errsize);

/* What an nginx slot setter returns for a bad value, to be shown as "\"name\" directive %s":
 * "invalid number" for numbers, "invalid value" for sizes, offsets and times. NULL for flags,
 * whose message names the value (see conf_value_error). */
const char *conf_value_reason(conf_value_kind_t kind);

/* nginx's whole message for a rejected value, without level or " in file:line":
 *   "keepalive_requests" directive invalid number
 *   "client_max_body_size" directive invalid value
 *   invalid value "x" in "sendfile" directive, it must be "on" or "off"
 * Returns the length snprintf would have written. */
size_t conf_value_error(char *buf, size_t size, conf_value_kind_t kind, px_str_t directive,
                        px_str_t value);

/* "\"name\" directive is duplicate": a slot directive given twice at one level. */
size_t conf_value_duplicate_error(char *buf, size_t size, px_str_t directive);

#endif
