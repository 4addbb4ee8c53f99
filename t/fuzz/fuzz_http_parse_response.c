/*
 * libFuzzer target for the upstream response-head parser: the input is what a backend sent.
 * Beyond memory safety it checks the parser's contract: every span and position stays inside
 * the bytes given, and feeding the input one byte at a time gives the same results as
 * feeding it at once.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_parse_response.h"

#define MAX_RESULTS 4096

typedef struct {
    int rc[MAX_RESULTS];
    size_t pos[MAX_RESULTS];
    int n;
    int last_rc;
    http_response_t r;
} run_t;

static void check_span(http_span_t s, size_t len)
{
    if (s.start > len || s.len > len - s.start)
        abort();
}

/* One parse step: the status line first, then header lines; after an interim head the next
 * status line, as the proxy would read it. */
static int step(http_response_t *r, int *in_headers, const char *buf, size_t len)
{
    int rc;

    if (!*in_headers) {
        rc = http_response_parse_status_line(r, buf, len);
        if (rc == HTTP_PARSE_OK)
            *in_headers = 1;
        return rc;
    }
    rc = http_response_parse_header_line(r, buf, len);
    if (rc == HTTP_PARSE_HEADERS_DONE && http_response_is_interim(r->status)) {
        http_response_next(r);
        *in_headers = 0;
        return HTTP_PARSE_OK;
    }
    return rc;
}

static void record(run_t *run, int rc, size_t len)
{
    const http_response_t *r = &run->r;

    if (r->pos > len)
        abort();
    check_span(r->header_name, len);
    check_span(r->header_value, len);
    check_span(r->header_line, len);
    check_span(r->status_line, len);
    check_span(r->reason, len);
    if (rc == HTTP_PARSE_UPSTREAM_INVALID_HEADER && r->pos >= len)
        abort();
    if (run->n < MAX_RESULTS) {
        run->rc[run->n] = rc;
        run->pos[run->n] = r->pos;
    }
    run->n++;
    run->last_rc = rc;
}

static void parse_whole(run_t *run, const char *buf, size_t len)
{
    int in_headers = 0;
    int rc;

    http_response_init(&run->r);
    do {
        rc = step(&run->r, &in_headers, buf, len);
        record(run, rc, len);
    } while (rc == HTTP_PARSE_OK);
}

static void parse_slowly(run_t *run, const char *buf, size_t len)
{
    int in_headers = 0;
    size_t avail = 0;
    int rc;

    http_response_init(&run->r);
    for (;;) {
        rc = step(&run->r, &in_headers, buf, avail);
        if (rc == HTTP_PARSE_AGAIN && avail < len) {
            avail++;
            continue;
        }
        record(run, rc, len);
        if (rc != HTTP_PARSE_OK)
            break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy, so that reading past size is caught by ASan. */
    char *buf = malloc(size ? size : 1);
    static run_t whole, slow;
    char message[128];

    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    memset(&whole, 0, sizeof(whole));
    memset(&slow, 0, sizeof(slow));

    parse_whole(&whole, buf, size);
    parse_slowly(&slow, buf, size);

    if (whole.n != slow.n || whole.r.pos != slow.r.pos || whole.r.status != slow.r.status ||
        whole.r.content_length != slow.r.content_length || whole.r.chunked != slow.r.chunked ||
        whole.r.connection_close != slow.r.connection_close)
        abort();
    for (int i = 0; i < whole.n && i < MAX_RESULTS; i++) {
        if (whole.rc[i] != slow.rc[i] || whole.pos[i] != slow.pos[i])
            abort();
    }

    http_response_format_error(&whole.r, whole.last_rc, buf, message, sizeof(message));
    (void)http_response_body_kind(whole.r.status, size & 1, whole.r.content_length,
                                  whole.r.chunked);
    free(buf);
    return 0;
}
