/*
 * A thin PCRE2 wrapper: patterns are compiled once at config load (JIT when the
 * library has it) and matched without allocating, as location, server_name, map
 * and rewrite need.
 */
#ifndef PX_REGEX_H
#define PX_REGEX_H

#include "core/px_string.h"

#define PX_REGEX_CASELESS 0x1

/* Offset of a group that did not take part in the match. */
#define PX_REGEX_UNSET ((size_t)-1)

/* Capture pairs a caller keeps: group 0 and groups 1..31; later groups read as unset. */
#define PX_REGEX_MAX_PAIRS 32

typedef struct px_regex_s px_regex_t;

typedef struct {
    px_str_t name;
    int index;
} px_regex_name_t;

/*
 * Compiles pattern. On failure returns NULL and writes nginx's message into err,
 * e.g. `pcre2_compile() failed: missing closing parenthesis in "^/(a"`, with
 * ` at "<rest of pattern>"` appended when PCRE2 points inside the pattern.
 */
px_regex_t *px_regex_compile(px_str_t pattern, unsigned flags, char *err, size_t err_size);
void px_regex_free(px_regex_t *re);

/*
 * Matches subject. On a match returns the number of pairs written to ovector
 * (at least 1 unless pairs is 0; group i is ovector[2i], ovector[2i+1], PX_REGEX_UNSET when the
 * group did not take part); groups at or past the returned count are unset.
 * Returns PX_DECLINED when there is no match and PX_ERROR when PCRE2 fails
 * (e.g. a match limit). ovector may be NULL when pairs is 0.
 */
int px_regex_exec(const px_regex_t *re, const char *subject, size_t len, size_t *ovector,
                  int pairs);

px_str_t px_regex_pattern(const px_regex_t *re);
/* Number of capturing groups, not counting group 0. */
int px_regex_capture_count(const px_regex_t *re);
/* Named groups, sorted by name. */
size_t px_regex_name_count(const px_regex_t *re);
const px_regex_name_t *px_regex_names(const px_regex_t *re);
/* Group index of a named group, or -1. */
int px_regex_name_index(const px_regex_t *re, px_str_t name);

#endif
