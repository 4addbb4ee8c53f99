/* Regex glue between core/px_regex and the request: named captures as variables, the last
 * match's groups in r->captures for $1..$9. */
#include "http/http_regex.h"

#include "core/px_log.h"
#include "http/http_variables.h"

static void free_regex(void *re)
{
    px_regex_free(re);
}

int http_regex_wrap(conf_ctx_t *cf, px_regex_t *re, http_regex_t **out)
{
    http_regex_t *hre = px_pcalloc(cf->pool, sizeof(*hre));
    if (hre == NULL)
        return PX_ERROR;
    hre->regex = re;
    int pairs = px_regex_capture_count(re) + 1;
    hre->pairs = pairs < PX_REGEX_MAX_PAIRS ? pairs : PX_REGEX_MAX_PAIRS;
    hre->nnames = px_regex_name_count(re);
    if (hre->nnames) {
        hre->names = px_palloc(cf->pool, hre->nnames * sizeof(*hre->names));
        if (hre->names == NULL)
            return PX_ERROR;
        const px_regex_name_t *names = px_regex_names(re);
        for (size_t i = 0; i < hre->nnames; i++) {
            if (http_var_define_capture(cf, names[i].name) != PX_OK)
                return PX_ERROR;
            int index = http_var_index(cf, names[i].name);
            if (index < 0)
                return PX_ERROR;
            hre->names[i].group = names[i].index;
            hre->names[i].var_index = index;
        }
    }
    *out = hre;
    return PX_OK;
}

int http_regex_compile(conf_ctx_t *cf, px_str_t pattern, int caseless, http_regex_t **out)
{
    char err[1024];
    px_regex_t *re = px_regex_compile(pattern, caseless ? PX_REGEX_CASELESS : 0, err, sizeof(err));
    if (re == NULL) {
        conf_log(cf, PX_LOG_EMERG, 0, "%s", err);
        return PX_ERROR;
    }
    if (px_pool_cleanup_add(cf->pool, free_regex, re) != PX_OK) {
        px_regex_free(re);
        return PX_ERROR;
    }
    return http_regex_wrap(cf, re, out);
}

int http_regex_store(http_request_t *r, const http_regex_t *re, px_str_t subject,
                     const size_t *ovector, int pairs)
{
    size_t *caps = px_palloc(r->pool, (size_t)pairs * 2 * sizeof(size_t));
    if (caps == NULL)
        return PX_ERROR;
    memcpy(caps, ovector, (size_t)pairs * 2 * sizeof(size_t));
    r->captures = caps;
    r->ncaptures = pairs;
    r->captures_subject = subject.data;
    for (size_t i = 0; i < re->nnames; i++) {
        int g = re->names[i].group;
        px_str_t value = PX_STR("");
        /* A group that did not take part reads as empty, as in nginx. */
        if (g < pairs && caps[2 * g] != PX_REGEX_UNSET)
            value = px_str_make(subject.data + caps[2 * g], caps[2 * g + 1] - caps[2 * g]);
        if (http_var_set(r, re->names[i].var_index, value) != PX_OK)
            return PX_ERROR;
    }
    return PX_OK;
}

int http_regex_exec(http_request_t *r, http_regex_t *re, px_str_t subject)
{
    size_t ovector[2 * PX_REGEX_MAX_PAIRS];
    int rc = px_regex_exec(re->regex, subject.data, subject.len, ovector, re->pairs);
    if (rc == PX_DECLINED) {
        /* as in nginx, a failed match leaves no $1..$9 behind */
        r->ncaptures = 0;
        return 0;
    }
    if (rc < 0) {
        px_str_t pattern = px_regex_pattern(re->regex);
        px_log_error(PX_LOG_ALERT, &r->log, 0, "pcre2_match() failed on \"%.*s\" using \"%.*s\"",
                     (int)subject.len, subject.data, (int)pattern.len, pattern.data);
        return -1;
    }
    /* Groups past rc are unset; keep them so $n for an unmatched group reads as empty. */
    for (int i = rc; i < re->pairs; i++)
        ovector[2 * i] = ovector[2 * i + 1] = PX_REGEX_UNSET;
    return http_regex_store(r, re, subject, ovector, re->pairs) == PX_OK ? 1 : -1;
}
