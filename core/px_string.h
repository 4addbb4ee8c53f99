/* Length + pointer strings and the status codes every layer returns. */
#ifndef PX_STRING_H
#define PX_STRING_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PX_OK 0
#define PX_ERROR -1
#define PX_AGAIN -2
#define PX_BUSY -3
#define PX_DONE -4
#define PX_DECLINED -5
#define PX_ABORT -6

typedef struct {
    const char *data;
    size_t len;
} px_str_t;

#define PX_STR(lit) ((px_str_t){(lit), sizeof(lit) - 1})
#define PX_NULL_STR ((px_str_t){NULL, 0})

static inline px_str_t px_str_make(const char *data, size_t len)
{
    px_str_t s = {data, len};
    return s;
}

static inline int px_str_eq(px_str_t a, px_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

static inline int px_str_eq_lit(px_str_t a, const char *lit)
{
    size_t n = strlen(lit);
    return a.len == n && memcmp(a.data, lit, n) == 0;
}

static inline char px_tolower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
}

/* Inline: header names are compared on every proxied request, and with a literal the
 * compiler folds strlen and rejects most names on their length alone. */
static inline int px_str_caseeq(px_str_t a, px_str_t b)
{
    if (a.len != b.len)
        return 0;
    for (size_t i = 0; i < a.len; i++) {
        /* names mostly come spelled alike: lowercase only the bytes that differ */
        char x = a.data[i], y = b.data[i];
        if (x != y && px_tolower(x) != px_tolower(y))
            return 0;
    }
    return 1;
}

static inline int px_str_caseeq_lit(px_str_t a, const char *lit)
{
    return px_str_caseeq(a, px_str_make(lit, strlen(lit)));
}
/* Parses a non-negative decimal; returns -1 on any non-digit, empty input or overflow. */
int64_t px_atoi(const char *p, size_t len);
/* Parses hexadecimal digits; -1 on error or overflow. */
int64_t px_hextoi(const char *p, size_t len);

#endif
