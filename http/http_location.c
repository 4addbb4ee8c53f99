/*
 * Location selection with nginx's order. Each level keeps its `=`, `^~` and
 * plain prefix locations in one sorted array and its regexes in config order.
 * A URI is looked up by binary search for the greatest name not above it, then
 * by walking that entry's chain of prefix parents; see find_static().
 */
#include "http/http_location.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    px_str_t name;
    http_location_t *exact;
    http_location_t *inclusive;
    int auto_redirect;
    /* Index of the longest inclusive entry whose name is a proper prefix of this one, or -1. */
    long up;
} prefix_entry_t;

struct http_location_s {
    http_location_kind_t kind;
    px_str_t name;
    void *conf;
    int auto_redirect;
    px_regex_t *regex;
    http_location_t *parent;
    size_t seq;

    http_location_t **children;
    size_t nchildren;
    size_t children_cap;

    prefix_entry_t *prefixes;
    size_t nprefixes;
    http_location_t **regexes;
    size_t nregexes;
};

struct http_location_tree_s {
    /* The server level: a nameless location holding the top-level ones. */
    http_location_t root;
    http_location_t **named;
    size_t nnamed;
    size_t next_seq;
    int finalized;
};

/* What a level's search found, mirroring nginx's OK / AGAIN / DONE / DECLINED. */
enum { FOUND_NONE, FOUND_PREFIX, FOUND_FINAL, FOUND_REDIRECT, FOUND_ERROR };

static void set_error(http_location_error_t *err, void *conf, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(http_location_error_t *err, void *conf, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    err->conf = conf;
}

static int is_regex(http_location_kind_t kind)
{
    return kind == HTTP_LOC_REGEX || kind == HTTP_LOC_REGEX_CASELESS;
}

static int is_static(http_location_kind_t kind)
{
    return kind == HTTP_LOC_PREFIX || kind == HTTP_LOC_PREFIX_NOREGEX || kind == HTTP_LOC_EXACT;
}

int http_location_parse_args(const px_str_t *args, size_t nargs, http_location_kind_t *kind,
                             px_str_t *name, char *err, size_t err_size)
{
    if (nargs == 2) {
        px_str_t mod = args[0];

        *name = args[1];
        if (px_str_eq_lit(mod, "="))
            *kind = HTTP_LOC_EXACT;
        else if (px_str_eq_lit(mod, "^~"))
            *kind = HTTP_LOC_PREFIX_NOREGEX;
        else if (px_str_eq_lit(mod, "~"))
            *kind = HTTP_LOC_REGEX;
        else if (px_str_eq_lit(mod, "~*"))
            *kind = HTTP_LOC_REGEX_CASELESS;
        else {
            if (err && err_size)
                snprintf(err, err_size, "invalid location modifier \"%.*s\"", (int)mod.len,
                         mod.data);
            return PX_ERROR;
        }
        return PX_OK;
    }

    /* One argument: the modifier may be glued to the name, as nginx allows. */
    px_str_t arg = args[0];
    const char *p = arg.data;
    size_t len = arg.len;

    if (len >= 1 && p[0] == '=') {
        *kind = HTTP_LOC_EXACT;
        *name = px_str_make(p + 1, len - 1);
    } else if (len >= 2 && p[0] == '^' && p[1] == '~') {
        *kind = HTTP_LOC_PREFIX_NOREGEX;
        *name = px_str_make(p + 2, len - 2);
    } else if (len >= 2 && p[0] == '~' && p[1] == '*') {
        *kind = HTTP_LOC_REGEX_CASELESS;
        *name = px_str_make(p + 2, len - 2);
    } else if (len >= 1 && p[0] == '~') {
        *kind = HTTP_LOC_REGEX;
        *name = px_str_make(p + 1, len - 1);
    } else {
        *kind = (len >= 1 && p[0] == '@') ? HTTP_LOC_NAMED : HTTP_LOC_PREFIX;
        *name = arg;
    }
    return PX_OK;
}

http_location_tree_t *http_location_tree_create(void)
{
    http_location_tree_t *tree = calloc(1, sizeof(*tree));

    if (tree)
        tree->root.kind = HTTP_LOC_PREFIX;
    return tree;
}

static void free_location(http_location_t *loc)
{
    for (size_t i = 0; i < loc->nchildren; i++) {
        free_location(loc->children[i]);
        free(loc->children[i]);
    }
    free(loc->children);
    free(loc->prefixes);
    free(loc->regexes);
    px_regex_free(loc->regex);
    free((char *)loc->name.data);
}

void http_location_tree_free(http_location_tree_t *tree)
{
    if (tree == NULL)
        return;
    free_location(&tree->root);
    free(tree->named);
    free(tree);
}

static int check_nesting(const http_location_t *parent, const http_location_def_t *def,
                         http_location_error_t *err)
{
    int nlen = (int)def->name.len, plen = (int)parent->name.len;

    if (parent->kind == HTTP_LOC_EXACT) {
        set_error(err, def->conf, "location \"%.*s\" cannot be inside the exact location \"%.*s\"",
                  nlen, def->name.data, plen, parent->name.data);
        return PX_ERROR;
    }
    if (parent->kind == HTTP_LOC_NAMED) {
        set_error(err, def->conf, "location \"%.*s\" cannot be inside the named location \"%.*s\"",
                  nlen, def->name.data, plen, parent->name.data);
        return PX_ERROR;
    }
    if (def->kind == HTTP_LOC_NAMED) {
        set_error(err, def->conf, "named location \"%.*s\" can be on the server level only", nlen,
                  def->name.data);
        return PX_ERROR;
    }
    /* nginx compares against the parent's text even when the parent is a regex. */
    if (!is_regex(def->kind)
        && (def->name.len < parent->name.len
            || (parent->name.len && memcmp(def->name.data, parent->name.data, parent->name.len)))) {
        set_error(err, def->conf, "location \"%.*s\" is outside location \"%.*s\"", nlen,
                  def->name.data, plen, parent->name.data);
        return PX_ERROR;
    }
    return PX_OK;
}

static int append_child(http_location_t *parent, http_location_t *child)
{
    if (parent->nchildren == parent->children_cap) {
        size_t cap = parent->children_cap ? parent->children_cap * 2 : 4;
        http_location_t **grown = realloc(parent->children, cap * sizeof(*grown));
        if (grown == NULL)
            return PX_ERROR;
        parent->children = grown;
        parent->children_cap = cap;
    }
    parent->children[parent->nchildren++] = child;
    return PX_OK;
}

int http_location_add(http_location_tree_t *tree, http_location_t *parent,
                      const http_location_def_t *def, http_location_t **out,
                      http_location_error_t *err)
{
    char reason[sizeof(err->msg)];
    px_regex_t *regex = NULL;

    if (tree->finalized) {
        set_error(err, def->conf, "location \"%.*s\" added after the locations were finalized",
                  (int)def->name.len, def->name.data);
        return PX_ERROR;
    }
    /* nginx compiles the regex before it looks at nesting, so its error comes first. */
    if (is_regex(def->kind)) {
        unsigned flags = def->kind == HTTP_LOC_REGEX_CASELESS ? PX_REGEX_CASELESS : 0;
        regex = px_regex_compile(def->name, flags, reason, sizeof(reason));
        if (regex == NULL) {
            set_error(err, def->conf, "%s", reason);
            return PX_ERROR;
        }
    }
    if (parent && check_nesting(parent, def, err) != PX_OK) {
        px_regex_free(regex);
        return PX_ERROR;
    }

    http_location_t *loc = calloc(1, sizeof(*loc));
    char *name = malloc(def->name.len + 1);
    if (loc == NULL || name == NULL || append_child(parent ? parent : &tree->root, loc) != PX_OK) {
        free(loc);
        free(name);
        px_regex_free(regex);
        set_error(err, def->conf, "out of memory");
        return PX_ERROR;
    }
    if (def->name.len)
        memcpy(name, def->name.data, def->name.len);
    name[def->name.len] = '\0';

    loc->kind = def->kind;
    loc->name = px_str_make(name, def->name.len);
    loc->conf = def->conf;
    loc->auto_redirect = def->auto_redirect;
    loc->regex = regex;
    loc->parent = parent ? parent : &tree->root;
    loc->seq = tree->next_seq++;
    if (out)
        *out = loc;
    return PX_OK;
}

/* nginx's order: bytewise, except that '/' sorts before every other byte. */
static int byte_rank(unsigned char c)
{
    return c == '/' ? 0 : c + 1;
}

static int compare_names(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;

    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i])
            return byte_rank((unsigned char)a[i]) - byte_rank((unsigned char)b[i]);
    }
    return alen < blen ? -1 : alen > blen;
}

static int compare_static(const void *pa, const void *pb)
{
    const http_location_t *a = *(http_location_t *const *)pa;
    const http_location_t *b = *(http_location_t *const *)pb;
    int rc = compare_names(a->name.data, a->name.len, b->name.data, b->name.len);

    if (rc)
        return rc;
    if ((a->kind == HTTP_LOC_EXACT) != (b->kind == HTTP_LOC_EXACT))
        return a->kind == HTTP_LOC_EXACT ? -1 : 1;
    return a->seq < b->seq ? -1 : 1;
}

static int compare_named(const void *pa, const void *pb)
{
    const http_location_t *a = *(http_location_t *const *)pa;
    const http_location_t *b = *(http_location_t *const *)pb;
    int rc = compare_names(a->name.data, a->name.len, b->name.data, b->name.len);

    if (rc)
        return rc;
    return a->seq < b->seq ? -1 : 1;
}

static int ends_in_slash(px_str_t name)
{
    return name.len && name.data[name.len - 1] == '/';
}

/* Merges `= /x` with `/x` or `^~ /x` into one entry, as nginx does; anything else equal is a
 * duplicate. */
static int build_prefixes(http_location_t *loc, http_location_t **sorted, size_t n,
                          http_location_error_t *err)
{
    loc->prefixes = calloc(n, sizeof(*loc->prefixes));
    if (loc->prefixes == NULL) {
        set_error(err, loc->conf, "out of memory");
        return PX_ERROR;
    }

    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        http_location_t *child = sorted[i];
        prefix_entry_t *e = count ? &loc->prefixes[count - 1] : NULL;

        if (e == NULL || !px_str_eq(e->name, child->name)) {
            e = &loc->prefixes[count++];
            e->name = child->name;
            e->up = -1;
        } else if (child->kind == HTTP_LOC_EXACT ? e->exact != NULL : e->inclusive != NULL) {
            set_error(err, child->conf, "duplicate location \"%.*s\"", (int)child->name.len,
                      child->name.data);
            return PX_ERROR;
        }
        if (child->kind == HTTP_LOC_EXACT)
            e->exact = child;
        else
            e->inclusive = child;
        if (child->auto_redirect && ends_in_slash(child->name))
            e->auto_redirect = 1;
    }
    loc->nprefixes = count;

    /*
     * Sorted, every name comes after its prefixes, and the names that start with
     * a given one follow it contiguously, so a stack of the inclusive entries
     * that prefix the current name yields each entry's nearest one.
     */
    long *stack = malloc(count * sizeof(*stack));
    size_t depth = 0;
    if (stack == NULL && count) {
        set_error(err, loc->conf, "out of memory");
        return PX_ERROR;
    }
    for (size_t i = 0; i < count; i++) {
        prefix_entry_t *e = &loc->prefixes[i];

        while (depth) {
            px_str_t top = loc->prefixes[stack[depth - 1]].name;
            if (top.len < e->name.len && memcmp(top.data, e->name.data, top.len) == 0)
                break;
            depth--;
        }
        e->up = depth ? stack[depth - 1] : -1;
        if (e->inclusive)
            stack[depth++] = (long)i;
    }
    free(stack);
    return PX_OK;
}

static int build_level(http_location_t *loc, http_location_error_t *err)
{
    size_t nstatic = 0, nregex = 0;

    for (size_t i = 0; i < loc->nchildren; i++) {
        if (is_regex(loc->children[i]->kind))
            nregex++;
        else if (is_static(loc->children[i]->kind))
            nstatic++;
    }

    if (nregex) {
        loc->regexes = malloc(nregex * sizeof(*loc->regexes));
        if (loc->regexes == NULL) {
            set_error(err, loc->conf, "out of memory");
            return PX_ERROR;
        }
        for (size_t i = 0; i < loc->nchildren; i++) {
            if (is_regex(loc->children[i]->kind))
                loc->regexes[loc->nregexes++] = loc->children[i];
        }
    }

    /*
     * nginx never builds the prefix tree below a regex location: such nested
     * prefix and exact locations are accepted, never checked for duplicates and
     * never matched. Their regex children still are.
     */
    if (nstatic == 0 || is_regex(loc->kind)) {
        for (size_t i = 0; i < loc->nregexes; i++) {
            if (build_level(loc->regexes[i], err) != PX_OK)
                return PX_ERROR;
        }
        return PX_OK;
    }

    http_location_t **sorted = malloc(nstatic * sizeof(*sorted));
    if (sorted == NULL) {
        set_error(err, loc->conf, "out of memory");
        return PX_ERROR;
    }
    size_t n = 0;
    for (size_t i = 0; i < loc->nchildren; i++) {
        if (is_static(loc->children[i]->kind))
            sorted[n++] = loc->children[i];
    }
    qsort(sorted, n, sizeof(*sorted), compare_static);

    /* nginx reports a nested level's duplicates before its own level's. */
    int rc = PX_OK;
    for (size_t i = 0; i < n && rc == PX_OK; i++)
        rc = build_level(sorted[i], err);
    for (size_t i = 0; i < loc->nregexes && rc == PX_OK; i++)
        rc = build_level(loc->regexes[i], err);
    if (rc == PX_OK)
        rc = build_prefixes(loc, sorted, n, err);
    free(sorted);
    return rc;
}

int http_location_finalize(http_location_tree_t *tree, http_location_error_t *err)
{
    http_location_t *root = &tree->root;

    if (tree->finalized)
        return PX_OK;
    if (build_level(root, err) != PX_OK)
        return PX_ERROR;

    for (size_t i = 0; i < root->nchildren; i++) {
        if (root->children[i]->kind == HTTP_LOC_NAMED)
            tree->nnamed++;
    }
    if (tree->nnamed) {
        tree->named = malloc(tree->nnamed * sizeof(*tree->named));
        if (tree->named == NULL) {
            tree->nnamed = 0;
            set_error(err, NULL, "out of memory");
            return PX_ERROR;
        }
        size_t n = 0;
        for (size_t i = 0; i < root->nchildren; i++) {
            if (root->children[i]->kind == HTTP_LOC_NAMED)
                tree->named[n++] = root->children[i];
        }
        qsort(tree->named, n, sizeof(*tree->named), compare_named);
    }
    tree->finalized = 1;
    return PX_OK;
}

/*
 * The prefix search of one level. Among names equal to the URI an exact
 * location wins outright and an inclusive one is the answer for this level;
 * otherwise a name that is the URI plus '/' with auto_redirect wins over any
 * shorter prefix; otherwise the longest inclusive prefix. With '/' ranked
 * lowest that "URI/" name is the entry right after the greatest name below the
 * URI, and every name that prefixes the URI is on that entry's `up` chain.
 */
static int find_static(const http_location_t *level, const char *uri, size_t len,
                       http_location_match_t *m)
{
    const prefix_entry_t *entries = level->prefixes;
    size_t lo = 0, hi = level->nprefixes;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (compare_names(entries[mid].name.data, entries[mid].name.len, uri, len) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }

    long i = (long)lo - 1;
    if (i >= 0 && entries[i].name.len == len && memcmp(entries[i].name.data, uri, len) == 0) {
        if (entries[i].exact) {
            m->loc = entries[i].exact;
            return FOUND_FINAL;
        }
        m->loc = entries[i].inclusive;
        return FOUND_PREFIX;
    }

    if (lo < level->nprefixes) {
        const prefix_entry_t *next = &entries[lo];
        if (next->auto_redirect && next->name.len == len + 1
            && memcmp(next->name.data, uri, len) == 0) {
            m->loc = next->exact ? next->exact : next->inclusive;
            return FOUND_REDIRECT;
        }
    }
    if (i < 0)
        return FOUND_NONE;

    size_t common = 0, max = entries[i].name.len < len ? entries[i].name.len : len;
    while (common < max && entries[i].name.data[common] == uri[common])
        common++;
    for (long k = i; k >= 0; k = entries[k].up) {
        if (entries[k].inclusive && entries[k].name.len <= common) {
            m->loc = entries[k].inclusive;
            return FOUND_PREFIX;
        }
    }
    return FOUND_NONE;
}

static int find_in(const http_location_t *level, const char *uri, size_t len,
                   http_location_match_t *m)
{
    int rc = FOUND_NONE, noregex = 0;

    if (level->nprefixes) {
        rc = find_static(level, uri, len, m);
        if (rc == FOUND_FINAL || rc == FOUND_REDIRECT)
            return rc;
        if (rc == FOUND_PREFIX) {
            /* Only the prefix found at this level keeps this level's regexes out. */
            noregex = m->loc->kind == HTTP_LOC_PREFIX_NOREGEX;
            int nested = find_in(m->loc, uri, len, m);
            if (nested != FOUND_NONE && nested != FOUND_PREFIX)
                return nested;
        }
    }
    if (noregex)
        return rc;

    for (size_t i = 0; i < level->nregexes; i++) {
        const http_location_t *loc = level->regexes[i];
        int n = px_regex_exec(loc->regex, uri, len, m->captures, PX_REGEX_MAX_PAIRS);

        if (n == PX_DECLINED)
            continue;
        if (n < 0)
            return FOUND_ERROR;
        m->loc = loc;
        m->regex = loc->regex;
        m->npairs = n;
        if (m->on_regex)
            m->on_regex(m->ctx, loc->regex, uri, m->captures, n);
        /* nginx turns whatever the nested search found, a redirect included, into a plain match. */
        return find_in(loc, uri, len, m) == FOUND_ERROR ? FOUND_ERROR : FOUND_FINAL;
    }
    return rc;
}

int http_location_find(const http_location_tree_t *tree, const char *uri, size_t len,
                       http_location_match_t *m)
{
    m->loc = NULL;
    m->conf = NULL;
    m->redirect = 0;
    m->regex = NULL;
    m->npairs = 0;

    int rc = find_in(&tree->root, uri, len, m);
    if (rc == FOUND_ERROR)
        return PX_ERROR;
    if (m->loc == NULL)
        return PX_DECLINED;
    m->conf = m->loc->conf;
    m->redirect = rc == FOUND_REDIRECT;
    return PX_OK;
}

void *http_location_find_named(const http_location_tree_t *tree, px_str_t name)
{
    size_t lo = 0, hi = tree->nnamed;

    /* The lowest index among equal names is the first defined. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        px_str_t n = tree->named[mid]->name;
        if (compare_names(n.data, n.len, name.data, name.len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < tree->nnamed && px_str_eq(tree->named[lo]->name, name))
        return tree->named[lo]->conf;
    return NULL;
}

void *http_location_conf(const http_location_t *loc)
{
    return loc->conf;
}

px_str_t http_location_name(const http_location_t *loc)
{
    return loc->name;
}

http_location_kind_t http_location_kind(const http_location_t *loc)
{
    return loc->kind;
}

const http_location_t *http_location_parent(const http_location_t *loc)
{
    return loc->parent && loc->parent->parent ? loc->parent : NULL;
}

const px_regex_t *http_location_regex(const http_location_t *loc)
{
    return loc->regex;
}

void http_location_set_auto_redirect(http_location_t *loc)
{
    loc->auto_redirect = 1;
}
