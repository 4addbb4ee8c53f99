/* The pure parts of the rewrite module (http_rewrite.c), apart so they can be unit tested:
 * the if () condition grammar, truthiness and file tests, the escaping of captures, and how
 * a rewrite's result becomes the new URI and arguments or a redirect target. */
#ifndef HTTP_REWRITE_H
#define HTTP_REWRITE_H

#include <sys/stat.h>

#include "core/px_pool.h"
#include "core/px_string.h"

enum { HTTP_RW_COND_VAR, HTTP_RW_COND_EQ, HTTP_RW_COND_NE, HTTP_RW_COND_REGEX, HTTP_RW_COND_FILE };
enum { HTTP_RW_FILE_F, HTTP_RW_FILE_D, HTTP_RW_FILE_E, HTTP_RW_FILE_X };

typedef struct {
    int kind;         /* HTTP_RW_COND_* */
    px_str_t var;     /* the variable's name without '$' (all but file tests) */
    px_str_t operand; /* the value compared with, the regex, or the path of a file test */
    int file_test;    /* HTTP_RW_FILE_* */
    unsigned negate : 1;
    unsigned caseless : 1;
} http_rw_cond_t;

/* Parses the words of `if (...)` as nginx does: PX_OK, or PX_ERROR with nginx's message
 * ("invalid condition \"...\"", "unexpected \"...\" in condition") in err. */
int http_rw_parse_condition(const px_str_t *words, size_t n, http_rw_cond_t *c, char *err,
                            size_t errlen);
/* A variable's truth in if ($var): neither empty nor "0". */
int http_rw_true(px_str_t value);
/* Whether a file test holds for what stat() returned (exists = 0: it did not). */
int http_rw_file_test(int test, int negate, int exists, const struct stat *st);
/* Escapes s as nginx escapes captures placed in arguments or a redirect; returns the
 * length, writing to out when it is not NULL. */
size_t http_rw_escape_args(const char *s, size_t n, char *out);
/* Undoes %XX escapes in a redirect target up to its first '?', as nginx does, for bytes
 * from '&' to '~' (others stay escaped); returns the new length (in place). */
size_t http_rw_unescape_redirect(char *s, size_t n);
/* The result of a rewrite that is not a redirect: out is the expanded replacement and
 * args_at where its arguments start (after its '?'), or (size_t)-1 without one. */
void http_rw_split(px_pool_t *pool, px_str_t out, size_t args_at, int add_args, px_str_t old_args,
                   px_str_t *uri, px_str_t *args);
/* A redirect's target: the replacement, then the request's arguments unless dropped. */
px_str_t http_rw_redirect_target(px_pool_t *pool, px_str_t out, size_t args_at, int add_args,
                                 px_str_t old_args);

#endif
