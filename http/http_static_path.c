/* The request-independent pieces of static file serving (see http_static.h): path mapping,
 * the path safety check, Range parsing, entity tags and HTTP dates, each following what
 * nginx 1.22 does with the same input. */
#include "http/http_static.h"

#include <stdio.h>

size_t http_static_map(px_str_t base, size_t alias_len, int add_uri, px_str_t uri, char *out)
{
    size_t len = base.len;
    memcpy(out, base.data, base.len);
    px_str_t tail = uri;
    if (alias_len == HTTP_ALIAS_WHOLE) {
        if (!add_uri)
            tail = PX_NULL_STR;
    } else if (alias_len) {
        size_t skip = alias_len < uri.len ? alias_len : uri.len;
        tail = px_str_make(uri.data + skip, uri.len - skip);
    }
    if (tail.len)
        memcpy(out + len, tail.data, tail.len);
    len += tail.len;
    out[len] = '\0';
    return len;
}

int http_static_path_unsafe(px_str_t path, size_t from)
{
    if (memchr(path.data, '\0', path.len))
        return 1;
    /* a ".." segment that reaches into the request's part: the literal part before it is
     * the configuration's own business */
    for (size_t i = 0; i + 2 <= path.len; i++) {
        if (i + 2 <= from || path.data[i] != '.' || path.data[i + 1] != '.')
            continue;
        int starts = i == 0 || path.data[i - 1] == '/';
        int ends = i + 2 == path.len || path.data[i + 2] == '/';
        if (starts && ends)
            return 1;
    }
    return 0;
}

/* ---- Range ---- */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Reads digits at *p into *out; -1 on overflow. */
static int read_number(const char **p, const char *end, int64_t *out)
{
    int64_t v = 0;
    while (*p < end && is_digit(**p)) {
        int d = **p - '0';
        if (v > (INT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        (*p)++;
    }
    *out = v;
    return 0;
}

static void skip_spaces(const char **p, const char *end)
{
    while (*p < end && **p == ' ')
        (*p)++;
}

int http_static_parse_range(px_str_t value, int64_t size, int max_ranges, http_range_t *ranges,
                            size_t cap, size_t *n)
{
    *n = 0;
    if (value.len < 7 || !px_str_caseeq(px_str_make(value.data, 6), PX_STR("bytes=")))
        return HTTP_RANGE_IGNORE;
    const char *p = value.data + 6, *end = value.data + value.len;
    int64_t total = 0;
    int64_t left = max_ranges;
    for (;;) {
        int64_t start = 0, last = 0;
        int suffix = 0;
        skip_spaces(&p, end);
        if (p < end && *p == '-') {
            suffix = 1;
            p++;
        } else {
            if (p == end || !is_digit(*p) || read_number(&p, end, &start) < 0)
                return HTTP_RANGE_UNSATISFIABLE;
            skip_spaces(&p, end);
            if (p == end || *p++ != '-')
                return HTTP_RANGE_UNSATISFIABLE;
            skip_spaces(&p, end);
            if (p == end || *p == ',') {
                last = size;
                goto found;
            }
        }
        if (p == end || !is_digit(*p) || read_number(&p, end, &last) < 0)
            return HTTP_RANGE_UNSATISFIABLE;
        skip_spaces(&p, end);
        if (p != end && *p != ',')
            return HTTP_RANGE_UNSATISFIABLE;
        if (suffix) {
            start = last < size ? size - last : 0;
            last = size - 1;
        }
        /* from here on last is exclusive */
        last = last >= size ? size : last + 1;
    found:
        if (start < last) {
            if (*n == cap)
                return HTTP_RANGE_IGNORE;
            ranges[(*n)++] = (http_range_t){start, last};
            if (total > INT64_MAX - (last - start))
                return HTTP_RANGE_UNSATISFIABLE;
            total += last - start;
            if (left-- == 0)
                return HTTP_RANGE_IGNORE;
        } else if (start == 0) {
            return HTTP_RANGE_IGNORE;
        }
        if (p == end || *p++ != ',')
            break;
    }
    if (*n == 0)
        return HTTP_RANGE_UNSATISFIABLE;
    if (total > size)
        return HTTP_RANGE_IGNORE;
    return HTTP_RANGE_OK;
}

/* ---- entity tags ---- */

int http_static_etag_match(px_str_t header, px_str_t etag, int weak)
{
    const char *p = header.data, *end = header.data + header.len;
    if (header.len == 1 && p[0] == '*')
        return 1;
    if (etag.len == 0)
        return 0;
    if (weak && etag.len > 2 && etag.data[0] == 'W' && etag.data[1] == '/') {
        etag.data += 2;
        etag.len -= 2;
    }
    while (p < end) {
        if (weak && end - p > 2 && p[0] == 'W' && p[1] == '/')
            p += 2;
        if (etag.len > (size_t)(end - p))
            return 0;
        if (memcmp(p, etag.data, etag.len) == 0) {
            const char *q = p + etag.len;
            while (q < end && (*q == ' ' || *q == '\t'))
                q++;
            if (q == end || *q == ',')
                return 1;
        }
        while (p < end && *p != ',')
            p++;
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
    }
    return 0;
}

size_t http_static_etag(time_t mtime, int64_t size, char *buf)
{
    int n = snprintf(buf, 40, "\"%llx-%llx\"", (unsigned long long)mtime, (unsigned long long)size);
    return n > 0 ? (size_t)n : 0;
}

/* ---- HTTP dates ---- */

static int month_of(const char *p)
{
    static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int m = 0; m < 12; m++) {
        if (memcmp(p, names + 3 * m, 3) == 0)
            return m;
    }
    return -1;
}

static int two_digits(const char *p)
{
    if (!is_digit(p[0]) || !is_digit(p[1]))
        return -1;
    return (p[0] - '0') * 10 + p[1] - '0';
}

/* Days since 1970-01-01 of a proleptic Gregorian date (month 0-11). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    m += 1;
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

time_t http_static_parse_date(px_str_t text)
{
    enum { RFC822, RFC850, ISOC } fmt = RFC822;
    const char *p = text.data, *end = text.data + text.len;
    /* the weekday, up to ',' (RFC 822/850) or ' ' (asctime) */
    for (; p < end; p++) {
        if (*p == ',')
            break;
        if (*p == ' ') {
            fmt = ISOC;
            break;
        }
    }
    for (p++; p < end; p++) {
        if (*p != ' ')
            break;
    }
    if (end - p < 18)
        return -1;
    int day = 0, month = 0, year = 0, hour, min, sec;
    if (fmt != ISOC) {
        if ((day = two_digits(p)) < 0)
            return -1;
        p += 2;
        if (*p == ' ') {
            if (end - p < 18)
                return -1;
            fmt = RFC822;
        } else if (*p == '-') {
            fmt = RFC850;
        } else {
            return -1;
        }
        p++;
    }
    if ((month = month_of(p)) < 0)
        return -1;
    p += 3;
    if ((fmt == RFC822 && *p != ' ') || (fmt == RFC850 && *p != '-'))
        return -1;
    p++;
    if (fmt == RFC822) {
        if (two_digits(p) < 0 || two_digits(p + 2) < 0)
            return -1;
        year = two_digits(p) * 100 + two_digits(p + 2);
        p += 4;
    } else if (fmt == RFC850) {
        if ((year = two_digits(p)) < 0)
            return -1;
        year += year < 70 ? 2000 : 1900;
        p += 2;
    }
    if (fmt == ISOC) {
        if (*p == ' ')
            p++;
        if (!is_digit(*p))
            return -1;
        day = *p++ - '0';
        if (*p != ' ') {
            if (!is_digit(*p))
                return -1;
            day = day * 10 + *p++ - '0';
        }
        if (end - p < 14)
            return -1;
    }
    if (*p++ != ' ')
        return -1;
    if ((hour = two_digits(p)) < 0 || p[2] != ':' || (min = two_digits(p + 3)) < 0 || p[5] != ':' ||
        (sec = two_digits(p + 6)) < 0)
        return -1;
    p += 8;
    if (fmt == ISOC) {
        if (end - p < 5 || *p++ != ' ')
            return -1;
        if (two_digits(p) < 0 || two_digits(p + 2) < 0)
            return -1;
        year = two_digits(p) * 100 + two_digits(p + 2);
    }
    if (hour > 23 || min > 59 || sec > 59)
        return -1;
    static const int mday[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day == 29 && month == 1) {
        if (!leap)
            return -1;
    } else if (day < 1 || day > mday[month]) {
        return -1;
    }
    int64_t t = days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec;
    /* before 1970 no file's time can compare with it (and -1 means "no date") */
    return t < 0 ? -1 : (time_t)t;
}
