/*
 * Streaming decoder for the chunked transfer-coding, shared by request bodies and (later)
 * upstream responses. What it accepts follows nginx 1.22: bare LF is a line end everywhere
 * in the framing, but a CR must be followed by LF; chunk extensions and trailer lines are
 * skipped unchecked; sizes above HTTP_CHUNK_SIZE_MAX are invalid.
 */
#include "http/http_parse.h"

enum {
    CH_START = 0,       /* first hex digit of a chunk size */
    CH_SIZE,            /* more hex digits, or the end of the size */
    CH_EXTENSION,       /* ";name=value" (or after a space/tab), skipped */
    CH_SIZE_ALMOST_DONE, /* CR seen on the size line */
    CH_DATA,
    CH_AFTER_DATA,      /* the CRLF that closes the data */
    CH_AFTER_DATA_ALMOST_DONE,
    CH_TRAILER_START,   /* an empty line ends the body, anything else is a trailer field */
    CH_TRAILER_LINE,
    CH_TRAILER_ALMOST_DONE,
    CH_END_ALMOST_DONE, /* CR of the final empty line */
    CH_DONE
};

void http_chunked_init(http_chunked_t *c)
{
    c->state = CH_START;
    c->size = 0;
}

static int hex_value(unsigned char ch)
{
    unsigned char c = (unsigned char)(ch | 0x20);

    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* The size line is complete: data follows, or the trailer section after the last chunk. */
static int size_line_state(const http_chunked_t *c)
{
    return c->size == 0 ? CH_TRAILER_START : CH_DATA;
}

int http_parse_chunked(http_chunked_t *c, const char *buf, size_t len, size_t *consumed,
                       http_span_t *data)
{
    size_t i = 0;

    data->start = 0;
    data->len = 0;

    while (i < len) {
        unsigned char ch = (unsigned char)buf[i];
        int digit;

        switch (c->state) {
        case CH_START:
            digit = hex_value(ch);
            if (digit < 0)
                goto invalid;
            c->size = (uint64_t)digit;
            c->state = CH_SIZE;
            break;

        case CH_SIZE:
            digit = hex_value(ch);
            if (digit >= 0) {
                /* size <= HTTP_CHUNK_SIZE_MAX here, so this cannot overflow. */
                c->size = c->size * 16 + (uint64_t)digit;
                if (c->size > HTTP_CHUNK_SIZE_MAX)
                    goto invalid;
                break;
            }
            switch (ch) {
            case '\r':
                c->state = CH_SIZE_ALMOST_DONE;
                break;
            case '\n':
                c->state = size_line_state(c);
                break;
            case ';':
            case ' ':
            case '\t':
                c->state = CH_EXTENSION;
                break;
            default:
                goto invalid;
            }
            break;

        case CH_EXTENSION:
            if (ch == '\r')
                c->state = CH_SIZE_ALMOST_DONE;
            else if (ch == '\n')
                c->state = size_line_state(c);
            break;

        case CH_SIZE_ALMOST_DONE:
            if (ch != '\n')
                goto invalid;
            c->state = size_line_state(c);
            break;

        case CH_DATA: {
            size_t avail = len - i;
            size_t n = c->size < avail ? (size_t)c->size : avail;

            data->start = i;
            data->len = n;
            c->size -= n;
            if (c->size == 0)
                c->state = CH_AFTER_DATA;
            *consumed = i + n;
            return HTTP_PARSE_OK;
        }

        case CH_AFTER_DATA:
            if (ch == '\r')
                c->state = CH_AFTER_DATA_ALMOST_DONE;
            else if (ch == '\n')
                c->state = CH_START;
            else
                goto invalid;
            break;

        case CH_AFTER_DATA_ALMOST_DONE:
            if (ch != '\n')
                goto invalid;
            c->state = CH_START;
            break;

        case CH_TRAILER_START:
            if (ch == '\r') {
                c->state = CH_END_ALMOST_DONE;
                break;
            }
            if (ch == '\n')
                goto done;
            c->state = CH_TRAILER_LINE;
            break;

        case CH_TRAILER_LINE:
            if (ch == '\r')
                c->state = CH_TRAILER_ALMOST_DONE;
            else if (ch == '\n')
                c->state = CH_TRAILER_START;
            break;

        case CH_TRAILER_ALMOST_DONE:
            if (ch != '\n')
                goto invalid;
            c->state = CH_TRAILER_START;
            break;

        case CH_END_ALMOST_DONE:
            if (ch != '\n')
                goto invalid;
            goto done;

        case CH_DONE:
            *consumed = 0;
            return HTTP_PARSE_CHUNKED_DONE;
        }
        i++;
    }

    *consumed = len;
    return c->state == CH_DONE ? HTTP_PARSE_CHUNKED_DONE : HTTP_PARSE_AGAIN;

done:
    c->state = CH_DONE;
    *consumed = i + 1;
    return HTTP_PARSE_CHUNKED_DONE;

invalid:
    *consumed = i;
    return HTTP_PARSE_INVALID_CHUNK;
}
