/* PCRE2 behind px_regex.h: compile with JIT, match through one reused match block. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "core/px_regex.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>

struct px_regex_s {
    pcre2_code *code;
    char *pattern;
    size_t pattern_len;
    int captures;
    px_regex_name_t *names;
    size_t nnames;
};

/*
 * Workers are single-threaded, so one match block per thread serves every
 * match; it only grows, which happens when a pattern with more groups than any
 * before it first runs, never per request.
 */
static _Thread_local pcre2_match_data *match_data;
static _Thread_local uint32_t match_pairs;

static void compile_error(char *err, size_t err_size, int code, size_t offset, px_str_t pattern)
{
    PCRE2_UCHAR reason[256];

    if (err == NULL || err_size == 0)
        return;
    if (pcre2_get_error_message(code, reason, sizeof(reason)) < 0)
        snprintf((char *)reason, sizeof(reason), "error %d", code);

    int n = snprintf(err, err_size, "pcre2_compile() failed: %s in \"%.*s\"", (char *)reason,
                     (int)pattern.len, pattern.data);
    if (offset < pattern.len && n >= 0 && (size_t)n < err_size)
        snprintf(err + n, err_size - (size_t)n, " at \"%.*s\"", (int)(pattern.len - offset),
                 pattern.data + offset);
}

static int load_names(px_regex_t *re)
{
    uint32_t count = 0, entry_size = 0;
    PCRE2_SPTR table = NULL;

    pcre2_pattern_info(re->code, PCRE2_INFO_NAMECOUNT, &count);
    if (count == 0)
        return PX_OK;
    pcre2_pattern_info(re->code, PCRE2_INFO_NAMEENTRYSIZE, &entry_size);
    pcre2_pattern_info(re->code, PCRE2_INFO_NAMETABLE, &table);

    re->names = calloc(count, sizeof(*re->names));
    if (re->names == NULL)
        return PX_ERROR;
    /* Each entry is a big-endian group number followed by the NUL-terminated name. */
    for (uint32_t i = 0; i < count; i++) {
        PCRE2_SPTR entry = table + (size_t)i * entry_size;
        const char *name = (const char *)entry + 2;
        re->names[i].index = (entry[0] << 8) | entry[1];
        re->names[i].name = px_str_make(name, strlen(name));
    }
    re->nnames = count;
    return PX_OK;
}

px_regex_t *px_regex_compile(px_str_t pattern, unsigned flags, char *err, size_t err_size)
{
    int code;
    PCRE2_SIZE offset;
    uint32_t options = (flags & PX_REGEX_CASELESS) ? PCRE2_CASELESS : 0;
    px_regex_t *re = calloc(1, sizeof(*re));

    if (re == NULL)
        goto nomem;
    /* PCRE2 rejects a NULL pattern even with length 0. */
    re->code = pcre2_compile((PCRE2_SPTR)(pattern.data ? pattern.data : ""), pattern.len, options,
                             &code, &offset, NULL);
    if (re->code == NULL) {
        compile_error(err, err_size, code, offset, pattern);
        free(re);
        return NULL;
    }
    /* Without JIT support pcre2_match() falls back to the interpreter, so failure is fine. */
    pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);

    uint32_t groups = 0;
    pcre2_pattern_info(re->code, PCRE2_INFO_CAPTURECOUNT, &groups);
    re->captures = (int)groups;

    re->pattern = malloc(pattern.len + 1);
    if (re->pattern == NULL || load_names(re) != PX_OK)
        goto nomem;
    if (pattern.len)
        memcpy(re->pattern, pattern.data, pattern.len);
    re->pattern[pattern.len] = '\0';
    re->pattern_len = pattern.len;
    return re;

nomem:
    px_regex_free(re);
    if (err && err_size)
        snprintf(err, err_size, "regex \"%.*s\": out of memory", (int)pattern.len, pattern.data);
    return NULL;
}

void px_regex_free(px_regex_t *re)
{
    if (re == NULL)
        return;
    pcre2_code_free(re->code);
    free(re->names);
    free(re->pattern);
    free(re);
}

static int ensure_match_data(uint32_t pairs)
{
    if (match_data && match_pairs >= pairs)
        return PX_OK;
    if (pairs < 16)
        pairs = 16;
    pcre2_match_data *md = pcre2_match_data_create(pairs, NULL);
    if (md == NULL)
        return PX_ERROR;
    pcre2_match_data_free(match_data);
    match_data = md;
    match_pairs = pairs;
    return PX_OK;
}

int px_regex_exec(const px_regex_t *re, const char *subject, size_t len, size_t *ovector, int pairs)
{
    if (ensure_match_data((uint32_t)re->captures + 1) != PX_OK)
        return PX_ERROR;

    int rc =
        pcre2_match(re->code, (PCRE2_SPTR)(subject ? subject : ""), len, 0, 0, match_data, NULL);
    if (rc == PCRE2_ERROR_NOMATCH)
        return PX_DECLINED;
    if (rc < 0)
        return PX_ERROR;
    /* rc is 0 only when the block is too small, which ensure_match_data rules out. */
    if (rc > pairs)
        rc = pairs > 0 ? pairs : 0;

    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(match_data);
    for (int i = 0; i < 2 * rc; i++)
        ovector[i] = ov[i] == PCRE2_UNSET ? PX_REGEX_UNSET : (size_t)ov[i];
    return rc;
}

px_str_t px_regex_pattern(const px_regex_t *re)
{
    return px_str_make(re->pattern, re->pattern_len);
}

int px_regex_capture_count(const px_regex_t *re)
{
    return re->captures;
}

size_t px_regex_name_count(const px_regex_t *re)
{
    return re->nnames;
}

const px_regex_name_t *px_regex_names(const px_regex_t *re)
{
    return re->names;
}

int px_regex_name_index(const px_regex_t *re, px_str_t name)
{
    for (size_t i = 0; i < re->nnames; i++) {
        if (px_str_eq(re->names[i].name, name))
            return re->names[i].index;
    }
    return -1;
}
