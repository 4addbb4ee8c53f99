/* One cached clock per event-loop iteration, and the time strings logs and headers use. */
#ifndef PX_TIME_H
#define PX_TIME_H

#include <stdint.h>
#include <time.h>
#include "core/px_string.h"

typedef uint64_t px_msec_t;

extern volatile px_msec_t px_current_msec; /* monotonic milliseconds */
extern volatile time_t px_current_sec;     /* wall clock seconds */
extern volatile unsigned px_current_msec_part;

void px_time_update(void);
px_str_t px_time_err_log(void);   /* "2026/01/02 03:04:05" */
px_str_t px_time_http_local(void); /* "02/Jan/2026:03:04:05 +0000" */
px_str_t px_time_iso8601(void);   /* "2026-01-02T03:04:05+00:00" */
px_str_t px_time_http_date(void); /* "Fri, 02 Jan 2026 03:04:05 GMT" */
/* Formats t as an HTTP date into buf (at least 30 bytes); returns length. */
size_t px_time_format_http(time_t t, char *buf);

#endif
