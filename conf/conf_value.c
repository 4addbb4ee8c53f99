/* Directive argument values with nginx's acceptance rules; see conf_value.h. */
#include "conf/conf_value.h"

#include <stdio.h>

int64_t conf_parse_number(px_str_t text)
{
    return px_atoi(text.data, text.len);
}

/* A number with an optional one-letter binary unit as its last character. */
static int64_t parse_scaled(px_str_t text, int allow_giga)
{
    size_t len = text.len;
    int64_t scale = 1;

    if (len == 0)
        return -1;

    switch (text.data[len - 1]) {
    case 'k':
    case 'K':
        scale = 1024;
        len--;
        break;
    case 'm':
    case 'M':
        scale = 1024 * 1024;
        len--;
        break;
    case 'g':
    case 'G':
        if (!allow_giga)
            return -1;
        scale = 1024 * 1024 * 1024;
        len--;
        break;
    default:
        break;
    }

    int64_t n = px_atoi(text.data, len);
    if (n < 0 || n > INT64_MAX / scale)
        return -1;
    return n * scale;
}

int64_t conf_parse_size(px_str_t text)
{
    return parse_scaled(text, 0);
}

int64_t conf_parse_offset(px_str_t text)
{
    return parse_scaled(text, 1);
}

/* Units must come in this order, each at most once. A space after a bare number closes it
 * as seconds: it may follow what "s" may follow, and nothing but a bare number may follow
 * it, so "1m1 1" is valid but "1s1 ", "1 1s" and "1 500ms" are not. */
enum time_step {
    STEP_START,
    STEP_YEAR,
    STEP_MONTH,
    STEP_WEEK,
    STEP_DAY,
    STEP_HOUR,
    STEP_MIN,
    STEP_SEC,
    STEP_MSEC,
    STEP_SPACE
};

static int add_scaled(int64_t *total, int64_t value, int64_t scale)
{
    if (value > INT64_MAX / scale)
        return -1;
    value *= scale;
    if (*total > INT64_MAX - value)
        return -1;
    *total += value;
    return 0;
}

static int64_t parse_time(px_str_t text, int in_seconds)
{
    const char *p = text.data;
    const char *end = p + text.len;
    int64_t total = 0;
    int64_t value = 0;
    int seen_digit = 0;
    /* nginx forbids years and months where the result is in milliseconds. */
    enum time_step step = in_seconds ? STEP_START : STEP_MONTH;

    while (p < end) {
        if (*p >= '0' && *p <= '9') {
            int digit = *p++ - '0';
            if (value > (INT64_MAX - digit) / 10)
                return -1;
            value = value * 10 + digit;
            seen_digit = 1;
            continue;
        }

        enum time_step next;
        int64_t seconds = 1;
        int is_msec = 0;

        switch (*p++) {
        case 'y':
            next = STEP_YEAR;
            seconds = 365 * 24 * 3600;
            break;
        case 'M':
            next = STEP_MONTH;
            seconds = 30 * 24 * 3600;
            break;
        case 'w':
            next = STEP_WEEK;
            seconds = 7 * 24 * 3600;
            break;
        case 'd':
            next = STEP_DAY;
            seconds = 24 * 3600;
            break;
        case 'h':
            next = STEP_HOUR;
            seconds = 3600;
            break;
        case 'm':
            if (p < end && *p == 's') {
                if (in_seconds)
                    return -1;
                p++;
                next = STEP_MSEC;
                is_msec = 1;
            } else {
                next = STEP_MIN;
                seconds = 60;
            }
            break;
        case 's':
            next = STEP_SEC;
            break;
        case ' ':
            next = STEP_SPACE;
            break;
        default:
            return -1;
        }

        if (step >= (next == STEP_SPACE ? STEP_SEC : next))
            return -1;
        step = next;

        int64_t scale = (is_msec || in_seconds) ? seconds : seconds * 1000;
        if (add_scaled(&total, value, scale) != 0)
            return -1;
        value = 0;

        while (p < end && *p == ' ')
            p++;
    }

    if (!seen_digit)
        return -1;
    if (add_scaled(&total, value, in_seconds ? 1 : 1000) != 0)
        return -1;
    return total;
}

int64_t conf_parse_msec(px_str_t text)
{
    return parse_time(text, 0);
}

int64_t conf_parse_sec(px_str_t text)
{
    return parse_time(text, 1);
}

int conf_parse_flag(px_str_t text)
{
    if (px_str_caseeq_lit(text, "on"))
        return 1;
    if (px_str_caseeq_lit(text, "off"))
        return 0;
    return -1;
}

int conf_value_parse(conf_value_kind_t kind, px_str_t directive, px_str_t text, int64_t *out,
                     char *err, size_t errsize)
{
    int64_t v = -1;

    switch (kind) {
    case CONF_VALUE_NUMBER:
        v = conf_parse_number(text);
        break;
    case CONF_VALUE_SIZE:
        v = conf_parse_size(text);
        break;
    case CONF_VALUE_OFFSET:
        v = conf_parse_offset(text);
        break;
    case CONF_VALUE_MSEC:
        v = conf_parse_msec(text);
        break;
    case CONF_VALUE_SEC:
        v = conf_parse_sec(text);
        break;
    case CONF_VALUE_FLAG:
        v = conf_parse_flag(text);
        break;
    }

    if (v < 0) {
        conf_value_error(err, errsize, kind, directive, text);
        return PX_ERROR;
    }
    *out = v;
    return PX_OK;
}

const char *conf_value_reason(conf_value_kind_t kind)
{
    switch (kind) {
    case CONF_VALUE_NUMBER:
        return "invalid number";
    case CONF_VALUE_FLAG:
        return NULL;
    default:
        return "invalid value";
    }
}

/* "%.*s" arguments: a length printf accepts and never a NULL pointer. */
static int clamp_len(size_t len)
{
    return len > (size_t)INT32_MAX ? INT32_MAX : (int)len;
}

static const char *text_of(px_str_t s)
{
    return s.data ? s.data : "";
}

size_t conf_value_error(char *buf, size_t size, conf_value_kind_t kind, px_str_t directive,
                        px_str_t value)
{
    int n;

    if (kind == CONF_VALUE_FLAG)
        n = snprintf(
            buf, size, "invalid value \"%.*s\" in \"%.*s\" directive, it must be \"on\" or \"off\"",
            clamp_len(value.len), text_of(value), clamp_len(directive.len), text_of(directive));
    else
        n = snprintf(buf, size, "\"%.*s\" directive %s", clamp_len(directive.len),
                     text_of(directive), conf_value_reason(kind));
    return n < 0 ? 0 : (size_t)n;
}

size_t conf_value_duplicate_error(char *buf, size_t size, px_str_t directive)
{
    int n = snprintf(buf, size, "\"%.*s\" directive is duplicate", clamp_len(directive.len),
                     text_of(directive));
    return n < 0 ? 0 : (size_t)n;
}
