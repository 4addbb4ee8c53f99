/* Pure pieces of the rewrite module: see http_rewrite.h. */
#include "http/http_rewrite.h"

#include <stdio.h>
#include <string.h>

static int invalid(px_str_t s, char *err, size_t errlen)
{
    snprintf(err, errlen, "invalid condition \"%.*s\"", (int)s.len, s.data);
    return PX_ERROR;
}

static int is(px_str_t s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.data, lit, s.len) == 0;
}

/* Word i of the condition with the opening and closing parentheses cut off it. */
static px_str_t word(const px_str_t *words, size_t n, size_t i, int cut_open, int cut_close)
{
    px_str_t s = words[i];
    if (i == 0 && cut_open) {
        s.data++;
        s.len--;
    }
    if (i == n - 1 && cut_close)
        s.len--;
    return s;
}

int http_rw_parse_condition(const px_str_t *words, size_t n, http_rw_cond_t *c, char *err,
                            size_t errlen)
{
    memset(c, 0, sizeof(*c));
    if (n == 0)
        return invalid(PX_STR(""), err, errlen);
    /* the parentheses stand alone or stick to the first and last words */
    if (words[0].len < 1 || words[0].data[0] != '(')
        return invalid(words[0], err, errlen);
    int cut_open = words[0].len > 1;
    size_t cur = cut_open ? 0 : 1, last = n - 1;
    px_str_t lw = word(words, n, last, cut_open, 0);
    if (lw.len < 1 || lw.data[lw.len - 1] != ')')
        return invalid(lw, err, errlen);
    int cut_close = lw.len > 1;
    if (!cut_close) {
        if (last == 0)
            return invalid(lw, err, errlen);
        last--;
    }
    if (cur > last)
        return invalid(word(words, n, n - 1, cut_open, cut_close), err, errlen);
    px_str_t p = word(words, n, cur, cut_open, cut_close);
    px_str_t lastw = word(words, n, last, cut_open, cut_close);

    if (p.len > 1 && p.data[0] == '$') {
        if (cur != last && cur + 2 != last)
            return invalid(p, err, errlen);
        c->var = px_str_make(p.data + 1, p.len - 1);
        if (cur == last) {
            c->kind = HTTP_RW_COND_VAR;
            return PX_OK;
        }
        px_str_t o = words[cur + 1];
        c->operand = lastw;
        if (is(o, "=") || is(o, "!=")) {
            c->kind = o.len == 1 ? HTTP_RW_COND_EQ : HTTP_RW_COND_NE;
            return PX_OK;
        }
        if (is(o, "~") || is(o, "~*") || is(o, "!~") || is(o, "!~*")) {
            c->kind = HTTP_RW_COND_REGEX;
            c->negate = o.data[0] == '!';
            c->caseless = o.data[o.len - 1] == '*';
            return PX_OK;
        }
        snprintf(err, errlen, "unexpected \"%.*s\" in condition", (int)o.len, o.data);
        return PX_ERROR;
    }
    if ((p.len == 2 && p.data[0] == '-') || (p.len == 3 && p.data[0] == '!' && p.data[1] == '-')) {
        if (cur + 1 != last)
            return invalid(p, err, errlen);
        c->kind = HTTP_RW_COND_FILE;
        c->negate = p.data[0] == '!';
        c->operand = lastw;
        switch (p.data[p.len - 1]) {
        case 'f':
            c->file_test = HTTP_RW_FILE_F;
            return PX_OK;
        case 'd':
            c->file_test = HTTP_RW_FILE_D;
            return PX_OK;
        case 'e':
            c->file_test = HTTP_RW_FILE_E;
            return PX_OK;
        case 'x':
            c->file_test = HTTP_RW_FILE_X;
            return PX_OK;
        default:
            return invalid(p, err, errlen);
        }
    }
    return invalid(p, err, errlen);
}

int http_rw_true(px_str_t value)
{
    return value.len && !(value.len == 1 && value.data[0] == '0');
}

int http_rw_file_test(int test, int negate, int exists, const struct stat *st)
{
    int yes = 0;
    if (exists) {
        switch (test) {
        case HTTP_RW_FILE_F:
            yes = S_ISREG(st->st_mode);
            break;
        case HTTP_RW_FILE_D:
            yes = S_ISDIR(st->st_mode);
            break;
        case HTTP_RW_FILE_E:
            /* nginx counts files, directories and links: not sockets or fifos */
            yes = S_ISREG(st->st_mode) || S_ISDIR(st->st_mode) || S_ISLNK(st->st_mode);
            break;
        default:
            yes = (st->st_mode & S_IXUSR) == S_IXUSR;
            break;
        }
    }
    return negate ? !yes : yes;
}

size_t http_rw_escape_args(const char *s, size_t n, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '#' || ch == '%' || ch == '&' || ch == '+' ||
            ch == ';' || ch == '?') {
            if (out) {
                out[len] = '%';
                out[len + 1] = hex[ch >> 4];
                out[len + 2] = hex[ch & 15];
            }
            len += 3;
        } else {
            if (out)
                out[len] = (char)ch;
            len++;
        }
    }
    return len;
}

/* a + sep + b in pool (sep only when both have bytes... as the caller says) */
static px_str_t join(px_pool_t *pool, px_str_t a, char sep, px_str_t b)
{
    char *p = px_palloc(pool, a.len + 1 + b.len + 1);
    memcpy(p, a.data, a.len);
    p[a.len] = sep;
    memcpy(p + a.len + 1, b.data, b.len);
    p[a.len + 1 + b.len] = '\0';
    return px_str_make(p, a.len + 1 + b.len);
}

void http_rw_split(px_pool_t *pool, px_str_t out, size_t args_at, int add_args, px_str_t old_args,
                   px_str_t *uri, px_str_t *args)
{
    if (args_at == (size_t)-1) {
        *uri = out;
        *args = add_args ? old_args : PX_NULL_STR;
        return;
    }
    *uri = px_str_make(out.data, args_at - 1);
    px_str_t own = px_str_make(out.data + args_at, out.len - args_at);
    *args = add_args && old_args.len ? join(pool, own, '&', old_args) : own;
}

px_str_t http_rw_redirect_target(px_pool_t *pool, px_str_t out, size_t args_at, int add_args,
                                 px_str_t old_args)
{
    if (!add_args || old_args.len == 0)
        return out;
    return join(pool, out, args_at != (size_t)-1 ? '&' : '?', old_args);
}

static int hex_value(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch |= 0x20;
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

size_t http_rw_unescape_redirect(char *s, size_t n)
{
    size_t i = 0, d = 0;
    while (i < n && s[i] != '?') {
        if (s[i] != '%') {
            s[d++] = s[i++];
            continue;
        }
        /* nginx drops a '%' (and a first hex digit) that do not make an escape */
        int hi = i + 1 < n ? hex_value((unsigned char)s[i + 1]) : -1;
        if (hi < 0) {
            i++;
            continue;
        }
        int lo = i + 2 < n ? hex_value((unsigned char)s[i + 2]) : -1;
        if (lo < 0) {
            i += 2;
            continue;
        }
        unsigned char ch = (unsigned char)(hi * 16 + lo);
        if (ch > '%' && ch < 0x7f) {
            s[d++] = (char)ch;
        } else {
            s[d++] = s[i];
            s[d++] = s[i + 1];
            s[d++] = s[i + 2];
        }
        i += 3;
        if (ch == '?') /* a decoded '?' ends the unescaping as a written one does */
            break;
    }
    if (i < n && d < i)
        memmove(s + d, s + i, n - i);
    return d + (n - i);
}
