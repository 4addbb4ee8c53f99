/* Small string helpers shared by every layer. */
#include "px_string.h"

int64_t px_atoi(const char *p, size_t len)
{
    int64_t v = 0;
    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        if (v > (INT64_MAX - (p[i] - '0')) / 10)
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

int64_t px_hextoi(const char *p, size_t len)
{
    int64_t v = 0;
    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = px_tolower(p[i]);
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else
            return -1;
        if (v > (INT64_MAX >> 4))
            return -1;
        v = (v << 4) | d;
    }
    return v;
}
