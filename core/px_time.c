/* Cached time: one clock read per loop iteration; strings rebuilt once a second. */
#include "core/px_time.h"

#include <stdio.h>
#include <sys/time.h>

volatile px_msec_t px_current_msec;
volatile time_t px_current_sec;
volatile unsigned px_current_msec_part;

static time_t cached_for = -1;
static char err_log_buf[32], http_local_buf[40], iso_buf[40], http_date_buf[40];
static size_t err_log_len, http_local_len, iso_len, http_date_len;

static const char *wdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

size_t px_time_format_http(time_t t, char *buf)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    return (size_t)sprintf(buf, "%s, %02d %s %4d %02d:%02d:%02d GMT", wdays[tm.tm_wday], tm.tm_mday,
                           months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void rebuild_strings(time_t sec)
{
    struct tm tm;
    localtime_r(&sec, &tm);
    long off = tm.tm_gmtoff / 60;
    char sign = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    err_log_len = (size_t)snprintf(err_log_buf, sizeof(err_log_buf), "%4d/%02d/%02d %02d:%02d:%02d",
                                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                                   tm.tm_sec);
    http_local_len = (size_t)snprintf(http_local_buf, sizeof(http_local_buf),
                                      "%02d/%s/%4d:%02d:%02d:%02d %c%02ld%02ld", tm.tm_mday,
                                      months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                                      tm.tm_sec, sign, off / 60, off % 60);
    iso_len = (size_t)snprintf(iso_buf, sizeof(iso_buf), "%4d-%02d-%02dT%02d:%02d:%02d%c%02ld:%02ld",
                               tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                               tm.tm_sec, sign, off / 60, off % 60);
    http_date_len = px_time_format_http(sec, http_date_buf);
    cached_for = sec;
}

void px_time_update(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    px_current_msec = (px_msec_t)ts.tv_sec * 1000 + (px_msec_t)ts.tv_nsec / 1000000;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    px_current_sec = tv.tv_sec;
    px_current_msec_part = (unsigned)(tv.tv_usec / 1000);
}

static void ensure_strings(void)
{
    if (px_current_sec == 0)
        px_time_update();
    if (cached_for != px_current_sec)
        rebuild_strings(px_current_sec);
}

px_str_t px_time_err_log(void)
{
    ensure_strings();
    return px_str_make(err_log_buf, err_log_len);
}

px_str_t px_time_http_local(void)
{
    ensure_strings();
    return px_str_make(http_local_buf, http_local_len);
}

px_str_t px_time_iso8601(void)
{
    ensure_strings();
    return px_str_make(iso_buf, iso_len);
}

px_str_t px_time_http_date(void)
{
    ensure_strings();
    return px_str_make(http_date_buf, http_date_len);
}
