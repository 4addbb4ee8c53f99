/* The nginx configuration language: a tokenizer that behaves like nginx's byte for byte (the
 * same tokens, escapes, error messages and lines), a recursive-descent parser building the
 * directive tree, and `include` expansion. Everything the tree holds lives in one arena. */
#include "conf/conf_parse.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ERR_MAX 8192
#define CHUNK_SIZE (64 * 1024)

/* ---- arena ---- */

typedef struct chunk {
    struct chunk *next;
    size_t used;
    size_t size;
    max_align_t data[];
} chunk_t;

struct conf_tree_mem {
    chunk_t *chunks;
    size_t files_cap;
    size_t *slots; /* open-addressed set of file paths: index into files + 1, 0 = empty */
    size_t nslots;
};

static void *arena_alloc(struct conf_tree_mem *mem, size_t size)
{
    size_t align = sizeof(max_align_t);
    size = (size + align - 1) / align * align;
    chunk_t *c = mem->chunks;
    if (c == NULL || c->size - c->used < size) {
        /* A large request gets a chunk of its own so that the current chunk stays in use. */
        size_t cap = size > CHUNK_SIZE / 4 ? size : CHUNK_SIZE;
        chunk_t *n = malloc(sizeof(chunk_t) + cap);
        if (n == NULL) {
            return NULL;
        }
        n->used = 0;
        n->size = cap;
        if (c != NULL && cap != CHUNK_SIZE) {
            n->next = c->next;
            c->next = n;
        } else {
            n->next = c;
            mem->chunks = n;
        }
        c = n;
    }
    void *p = (char *)c->data + c->used;
    c->used += size;
    return p;
}

static char *arena_strdup(struct conf_tree_mem *mem, const char *s, size_t len)
{
    char *p = arena_alloc(mem, len + 1);
    if (p != NULL) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

/* ---- parser state ---- */

enum { TOK_DIRECTIVE, TOK_BLOCK_START, TOK_BLOCK_END, TOK_EOF };
enum { BODY_FILE, BODY_BLOCK };

typedef struct {
    const char *name;
    const char *pos;
    const char *end;
    unsigned line;
    int cmdline;
} source_t;

typedef struct {
    dev_t dev;
    ino_t ino;
} file_id_t;

typedef struct {
    conf_tree_t *tree;
    struct conf_tree_mem *mem;
    const char *prefix;

    conf_arg_t *words; /* the directive being read: name, then arguments */
    size_t nwords;
    size_t words_cap;

    /* Finished directives of every open block, innermost block on top; a block's children
     * are copied out when it closes, so each node is copied once. */
    conf_node_t *nodes;
    size_t nnodes;
    size_t nodes_cap;

    file_id_t active[CONF_MAX_INCLUDE_DEPTH + 1]; /* files being read, outermost first */
    unsigned nactive;

    int oom;
    char msg[ERR_MAX];
} parser_t;

static int fail_errno(parser_t *ps, const source_t *src, unsigned line, int err, const char *fmt,
                      ...) __attribute__((format(printf, 5, 6)));

static int fail_errno(parser_t *ps, const source_t *src, unsigned line, int err, const char *fmt,
                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(ps->msg, sizeof(ps->msg), fmt, ap);
    va_end(ap);
    size_t used = n < 0 ? 0 : ((size_t)n < sizeof(ps->msg) ? (size_t)n : sizeof(ps->msg) - 1);
    char *p = ps->msg + used;
    size_t left = sizeof(ps->msg) - used;
    if (err != 0) {
        n = snprintf(p, left, " (%d: %s)", err, strerror(err));
        used = n < 0 ? 0 : ((size_t)n < left ? (size_t)n : left - 1);
        p += used;
        left -= used;
    }
    if (src != NULL && src->cmdline) {
        snprintf(p, left, " in %s", src->name);
    } else if (src != NULL) {
        snprintf(p, left, " in %s:%u", src->name, line);
    }
    return PX_ERROR;
}

#define fail(ps, src, ...) fail_errno((ps), (src), (src)->line, 0, __VA_ARGS__)

static int out_of_memory(parser_t *ps)
{
    ps->oom = 1;
    snprintf(ps->msg, sizeof(ps->msg), "out of memory");
    return PX_ERROR;
}

static int grow(void **items, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) {
        return PX_OK;
    }
    size_t ncap = *cap ? *cap * 2 : 16;
    while (ncap < need) {
        ncap *= 2;
    }
    void *p = realloc(*items, ncap * size);
    if (p == NULL) {
        return PX_ERROR;
    }
    *items = p;
    *cap = ncap;
    return PX_OK;
}

/* ---- tokenizer ---- */

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* Copies a word out of the source, converting \" \' \\ \t \r \n; any other backslash pair is kept
 * whole so that regexes such as \d reach the directive unchanged. */
static int push_word(parser_t *ps, const char *start, const char *end, int quoted)
{
    if (grow((void **)&ps->words, &ps->words_cap, ps->nwords + 1, sizeof(conf_arg_t)) != PX_OK) {
        return out_of_memory(ps);
    }
    char *dst = arena_alloc(ps->mem, (size_t)(end - start) + 1);
    if (dst == NULL) {
        return out_of_memory(ps);
    }
    size_t len = 0;
    for (const char *s = start; s < end;) {
        if (*s == '\\' && s + 1 < end) {
            char next = s[1];
            char conv = next == 't' ? '\t' : next == 'r' ? '\r' : next == 'n' ? '\n' : 0;
            if (conv != 0) {
                dst[len++] = conv;
                s += 2;
                continue;
            }
            if (next == '"' || next == '\'' || next == '\\') {
                s++;
            }
        }
        dst[len++] = *s++;
    }
    dst[len] = '\0';
    ps->words[ps->nwords].value = px_str_make(dst, len);
    ps->words[ps->nwords].quoted = quoted;
    ps->nwords++;
    return PX_OK;
}

static int too_long(parser_t *ps, const source_t *src, const char *start, unsigned start_line,
                    char quote)
{
    if (quote != 0) {
        return fail_errno(ps, src, start_line, 0,
                          "too long parameter, probably missing terminating \"%c\" character",
                          quote);
    }
    /* The excerpt is raw bytes, as nginx prints it. */
    char excerpt[11];
    memcpy(excerpt, start, 10);
    excerpt[10] = '\0';
    return fail_errno(ps, src, start_line, 0, "too long parameter \"%s...\" started", excerpt);
}

/* Reads one directive's words into ps->words up to the ';' or '{' that ends it, or a '}' or the
 * end of the input. The states mirror nginx's tokenizer, including its quirks: '#' starts a
 * comment only at the start of a token, a '{' right after '$' belongs to the word, and a quoted
 * string must be followed by whitespace, ';', '{' or ')'. */
static int read_token(parser_t *ps, source_t *src)
{
    int last_space = 1, need_space = 0, comment = 0, variable = 0, escaped = 0;
    char quote = 0;
    const char *start = src->pos;
    unsigned start_line = src->line;

    ps->nwords = 0;
    for (;;) {
        if (src->pos == src->end) {
            if (ps->nwords > 0 || !last_space) {
                if (src->cmdline) {
                    return fail(ps, src, "unexpected end of parameter, expecting \";\"");
                }
                return fail(ps, src, "unexpected end of file, expecting \";\" or \"}\"");
            }
            return TOK_EOF;
        }
        /* nginx reads files through a buffer of CONF_MAX_TOKEN bytes and fails when one token
         * (counted from where it started, comments included) fills it; -g text has no limit. */
        if (!src->cmdline && src->pos - start == CONF_MAX_TOKEN) {
            return too_long(ps, src, start, start_line, quote);
        }

        char ch = *src->pos++;
        if (ch == '\n') {
            src->line++;
            comment = 0;
        }
        if (comment) {
            continue;
        }
        if (escaped) {
            escaped = 0;
            continue;
        }

        if (need_space) {
            if (is_space(ch)) {
                last_space = 1;
                need_space = 0;
                continue;
            }
            if (ch == ';') {
                return TOK_DIRECTIVE;
            }
            if (ch == '{') {
                return TOK_BLOCK_START;
            }
            if (ch != ')') {
                return fail(ps, src, "unexpected \"%c\"", ch);
            }
            /* `if ($a = "b")`: the ')' starts the next word. */
            last_space = 1;
            need_space = 0;
        }

        if (last_space) {
            start = src->pos - 1;
            start_line = src->line;
            if (is_space(ch)) {
                continue;
            }
            switch (ch) {
            case ';':
            case '{':
                if (ps->nwords == 0) {
                    return fail(ps, src, "unexpected \"%c\"", ch);
                }
                return ch == '{' ? TOK_BLOCK_START : TOK_DIRECTIVE;
            case '}':
                if (ps->nwords != 0) {
                    return fail(ps, src, "unexpected \"}\"");
                }
                return TOK_BLOCK_END;
            case '#':
                comment = 1;
                continue;
            case '\\':
                escaped = 1;
                break;
            case '"':
            case '\'':
                start++;
                quote = ch;
                break;
            case '$':
                variable = 1;
                break;
            default:
                break;
            }
            last_space = 0;
            continue;
        }

        if (ch == '{' && variable) {
            continue;
        }
        variable = 0;
        if (ch == '\\') {
            escaped = 1;
            continue;
        }
        if (ch == '$') {
            variable = 1;
            continue;
        }

        const char *end = src->pos - 1;
        if (quote != 0) {
            if (ch != quote) {
                continue;
            }
            quote = 0;
            need_space = 1;
            if (push_word(ps, start, end, 1) != PX_OK) {
                return PX_ERROR;
            }
            continue;
        }
        if (!is_space(ch) && ch != ';' && ch != '{') {
            continue;
        }
        last_space = 1;
        if (push_word(ps, start, end, 0) != PX_OK) {
            return PX_ERROR;
        }
        if (ch == ';') {
            return TOK_DIRECTIVE;
        }
        if (ch == '{') {
            return TOK_BLOCK_START;
        }
    }
}

/* ---- files ---- */

static size_t hash_path(const char *s)
{
    size_t h = 14695981039346656037u;
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    }
    return h;
}

static size_t *find_slot(struct conf_tree_mem *mem, const conf_tree_t *tree, const char *path)
{
    size_t mask = mem->nslots - 1;
    for (size_t i = hash_path(path) & mask;; i = (i + 1) & mask) {
        if (mem->slots[i] == 0 || strcmp(tree->files[mem->slots[i] - 1].path, path) == 0) {
            return &mem->slots[i];
        }
    }
}

static int rehash(struct conf_tree_mem *mem, const conf_tree_t *tree)
{
    size_t nslots = mem->nslots ? mem->nslots * 2 : 64;
    size_t *slots = calloc(nslots, sizeof(size_t));
    if (slots == NULL) {
        return PX_ERROR;
    }
    free(mem->slots);
    mem->slots = slots;
    mem->nslots = nslots;
    for (size_t i = 0; i < tree->nfiles; i++) {
        *find_slot(mem, tree, tree->files[i].path) = i + 1;
    }
    return PX_OK;
}

/* Records a file for `-T` once per path, as nginx does; returns the path the nodes point to, or
 * NULL when out of memory. Takes ownership of content (*kept=1) unless the path was seen before. */
static const char *remember_file(parser_t *ps, const char *path, char *content, size_t len,
                                 int *kept)
{
    conf_tree_t *tree = ps->tree;
    struct conf_tree_mem *mem = ps->mem;
    *kept = 0;
    if ((tree->nfiles + 1) * 2 > mem->nslots && rehash(mem, tree) != PX_OK) {
        return NULL;
    }
    size_t *slot = find_slot(mem, tree, path);
    if (*slot != 0) {
        return tree->files[*slot - 1].path;
    }
    char *stored = arena_strdup(mem, path, strlen(path));
    if (stored == NULL || grow((void **)&tree->files, &mem->files_cap, tree->nfiles + 1,
                               sizeof(conf_file_t)) != PX_OK) {
        return NULL;
    }
    tree->files[tree->nfiles] = (conf_file_t){stored, content, len};
    *slot = ++tree->nfiles;
    *kept = 1;
    return stored;
}

/* Reads a whole file. Errors name the directive that included it (src), as nginx does, except a
 * read error, which nginx logs without a location. */
static int read_file(parser_t *ps, const source_t *src, const char *path, file_id_t *id,
                     char **content, size_t *len)
{
    unsigned line = src ? src->line : 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return fail_errno(ps, src, line, errno, "open() \"%s\" failed", path);
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return fail_errno(ps, src, line, err, "fstat() \"%s\" failed", path);
    }
    id->dev = st.st_dev;
    id->ino = st.st_ino;

    /* Like nginx, read the size fstat() reported: a device such as /dev/zero reads as empty
     * instead of forever. */
    size_t size = st.st_size > 0 ? (size_t)st.st_size : 0, n = 0;
    char *buf = malloc(size + 1);
    if (buf == NULL) {
        close(fd);
        return out_of_memory(ps);
    }
    while (n < size) {
        ssize_t got = read(fd, buf + n, size - n);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            int err = errno;
            free(buf);
            close(fd);
            return fail_errno(ps, NULL, 0, err, "pread() \"%s\" failed", path);
        }
        if (got == 0) {
            source_t self = {path, NULL, NULL, 1, 0};
            free(buf);
            close(fd);
            return fail_errno(ps, &self, 1, 0, "pread() returned only %zu bytes instead of %zu", n,
                              size);
        }
        n += (size_t)got;
    }
    close(fd);
    buf[n] = '\0';
    *content = buf;
    *len = n;
    return PX_OK;
}

/* ---- parser ---- */

static int parse_body(parser_t *ps, source_t *src, int kind, unsigned depth);

static int push_node(parser_t *ps, const conf_node_t *node)
{
    if (grow((void **)&ps->nodes, &ps->nodes_cap, ps->nnodes + 1, sizeof(conf_node_t)) != PX_OK) {
        return out_of_memory(ps);
    }
    ps->nodes[ps->nnodes++] = *node;
    return PX_OK;
}

/* Moves the nodes finished since base into the arena as node's children. */
static int collect_children(parser_t *ps, size_t base, conf_node_t *node)
{
    size_t n = ps->nnodes - base;
    node->nchildren = n;
    node->children = NULL;
    if (n > 0) {
        node->children = arena_alloc(ps->mem, n * sizeof(conf_node_t));
        if (node->children == NULL) {
            return out_of_memory(ps);
        }
        memcpy(node->children, ps->nodes + base, n * sizeof(conf_node_t));
    }
    ps->nnodes = base;
    return PX_OK;
}

static int parse_file(parser_t *ps, const source_t *includer, const char *path, unsigned depth)
{
    file_id_t id;
    char *content = NULL;
    size_t len = 0;
    if (read_file(ps, includer, path, &id, &content, &len) != PX_OK) {
        return PX_ERROR;
    }
    for (unsigned i = 0; i < ps->nactive; i++) {
        if (ps->active[i].dev == id.dev && ps->active[i].ino == id.ino) {
            free(content);
            return fail(ps, includer, "recursive include of \"%s\"", path);
        }
    }
    /* A path read before keeps its first content for -T; this read is only parsed. */
    int kept;
    const char *name = remember_file(ps, path, content, len, &kept);
    if (name == NULL) {
        free(content);
        return out_of_memory(ps);
    }

    source_t src = {name, content, content + len, 1, 0};
    ps->active[ps->nactive++] = id;
    int rc = parse_body(ps, &src, BODY_FILE, depth);
    ps->nactive--;
    if (!kept) {
        free(content);
    }
    return rc;
}

/* include PATH: relative paths resolve against the prefix; a path with a wildcard is a glob
 * whose matches are read in sorted order, and that may match nothing. */
static int include(parser_t *ps, source_t *src, int tok, unsigned depth)
{
    if (tok == TOK_BLOCK_START) {
        return fail(ps, src, "directive \"include\" is not terminated by \";\"");
    }
    if (ps->nwords != 2) {
        return fail(ps, src, "invalid number of arguments in \"include\" directive");
    }
    if (ps->nactive > CONF_MAX_INCLUDE_DEPTH - 1) {
        return fail(ps, src, "too deep include nesting (more than %d levels)",
                    CONF_MAX_INCLUDE_DEPTH);
    }

    px_str_t arg = ps->words[1].value;
    char *path;
    if (arg.data[0] == '/' || ps->prefix == NULL || ps->prefix[0] == '\0') {
        path = arena_strdup(ps->mem, arg.data, arg.len);
    } else {
        size_t plen = strlen(ps->prefix);
        int slash = ps->prefix[plen - 1] != '/';
        path = arena_alloc(ps->mem, plen + slash + arg.len + 1);
        if (path != NULL) {
            memcpy(path, ps->prefix, plen);
            path[plen] = '/';
            memcpy(path + plen + slash, arg.data, arg.len + 1);
        }
    }
    if (path == NULL) {
        return out_of_memory(ps);
    }

    if (strpbrk(path, "*?[") == NULL) {
        return parse_file(ps, src, path, depth);
    }
    glob_t gl;
    errno = 0;
    int rc = glob(path, 0, NULL, &gl);
    if (rc == GLOB_NOMATCH) {
        globfree(&gl);
        return PX_OK;
    }
    if (rc != 0) {
        int err = errno;
        globfree(&gl);
        return fail_errno(ps, src, src->line, err, "glob() \"%s\" failed", path);
    }
    rc = PX_OK;
    for (size_t i = 0; i < gl.gl_pathc && rc == PX_OK; i++) {
        rc = parse_file(ps, src, gl.gl_pathv[i], depth);
    }
    globfree(&gl);
    return rc;
}

static int make_node(parser_t *ps, const source_t *src, int tok, conf_node_t *node)
{
    memset(node, 0, sizeof(*node));
    node->name = ps->words[0].value;
    node->nargs = ps->nwords - 1;
    if (node->nargs > 0) {
        node->args = arena_alloc(ps->mem, node->nargs * sizeof(conf_arg_t));
        if (node->args == NULL) {
            return out_of_memory(ps);
        }
        memcpy(node->args, ps->words + 1, node->nargs * sizeof(conf_arg_t));
    }
    node->has_block = tok == TOK_BLOCK_START;
    node->file = src->name;
    node->line = src->line;
    node->cmdline = src->cmdline;
    return PX_OK;
}

/* Reads directives until the '}' closing a block (BODY_BLOCK) or the end of the input
 * (BODY_FILE: a file or -g text, which cannot close a block opened elsewhere). */
static int parse_body(parser_t *ps, source_t *src, int kind, unsigned depth)
{
    for (;;) {
        int tok = read_token(ps, src);
        if (tok == PX_ERROR) {
            return PX_ERROR;
        }
        if (tok == TOK_BLOCK_END) {
            return kind == BODY_BLOCK ? PX_OK : fail(ps, src, "unexpected \"}\"");
        }
        if (tok == TOK_EOF) {
            return kind == BODY_FILE ? PX_OK
                                     : fail(ps, src, "unexpected end of file, expecting \"}\"");
        }
        if (tok == TOK_BLOCK_START && src->cmdline) {
            return fail(ps, src, "block directives are not supported in -g option");
        }

        if (px_str_eq_lit(ps->words[0].value, "include")) {
            if (include(ps, src, tok, depth) != PX_OK) {
                return PX_ERROR;
            }
            continue;
        }

        conf_node_t node;
        if (make_node(ps, src, tok, &node) != PX_OK) {
            return PX_ERROR;
        }
        if (tok == TOK_DIRECTIVE) {
            if (push_node(ps, &node) != PX_OK) {
                return PX_ERROR;
            }
            continue;
        }
        if (depth >= CONF_MAX_BLOCK_DEPTH) {
            return fail(ps, src, "too deep nesting of blocks (more than %d levels)",
                        CONF_MAX_BLOCK_DEPTH);
        }
        size_t base = ps->nnodes;
        int rc = parse_body(ps, src, BODY_BLOCK, depth + 1);
        if (collect_children(ps, base, &node) != PX_OK) {
            return PX_ERROR;
        }
        node.block_open = rc != PX_OK;
        node.end_line = src->line;
        if (push_node(ps, &node) != PX_OK || rc != PX_OK) {
            return PX_ERROR;
        }
    }
}

/* ---- API ---- */

void conf_tree_free(conf_tree_t *tree)
{
    if (tree == NULL) {
        return;
    }
    for (size_t i = 0; i < tree->nfiles; i++) {
        free(tree->files[i].content);
    }
    free(tree->files);
    if (tree->mem != NULL) {
        chunk_t *c = tree->mem->chunks;
        while (c != NULL) {
            chunk_t *next = c->next;
            free(c);
            c = next;
        }
        free(tree->mem->slots);
        free(tree->mem);
    }
    free(tree);
}

static void copy_error(char *err, size_t errlen, const char *msg)
{
    if (err != NULL && errlen > 0) {
        snprintf(err, errlen, "%s", msg);
    }
}

conf_tree_t *conf_parse(const conf_parse_opts_t *opts, char *err, size_t errlen)
{
    conf_tree_t *tree = calloc(1, sizeof(*tree));
    parser_t *ps = calloc(1, sizeof(*ps));
    if (tree == NULL || ps == NULL || (tree->mem = calloc(1, sizeof(*tree->mem))) == NULL) {
        free(ps);
        conf_tree_free(tree);
        copy_error(err, errlen, "out of memory");
        return NULL;
    }
    ps->tree = tree;
    ps->mem = tree->mem;
    ps->prefix = opts->prefix;

    const char *label = opts->name ? opts->name : "command line";
    int rc;
    tree->root.has_block = 1;
    tree->root.cmdline = opts->text != NULL && opts->cmdline;
    if (opts->text != NULL) {
        source_t src = {arena_strdup(ps->mem, label, strlen(label)), opts->text,
                        opts->text + opts->len, 1, opts->cmdline};
        tree->root.file = src.name;
        rc = src.name == NULL ? out_of_memory(ps) : parse_body(ps, &src, BODY_FILE, 0);
    } else {
        rc = parse_file(ps, NULL, label, 0);
        tree->root.file = tree->nfiles > 0 ? tree->files[0].path : NULL;
    }

    if (collect_children(ps, 0, &tree->root) != PX_OK) {
        rc = PX_ERROR;
    }
    free(ps->words);
    free(ps->nodes);

    if (rc != PX_OK) {
        copy_error(err, errlen, ps->msg);
        if (!opts->partial || ps->oom ||
            (tree->error = arena_strdup(ps->mem, ps->msg, strlen(ps->msg))) == NULL) {
            conf_tree_free(tree);
            tree = NULL;
        }
    }
    free(ps);
    return tree;
}

conf_tree_t *conf_parse_file(const char *path, const char *prefix, char *err, size_t errlen)
{
    conf_parse_opts_t opts = {.name = path, .prefix = prefix};
    return conf_parse(&opts, err, errlen);
}

conf_tree_t *conf_parse_string(const char *name, const char *text, size_t len, const char *prefix,
                               char *err, size_t errlen)
{
    conf_parse_opts_t opts = {.name = name,
                              .text = text ? text : "",
                              .len = text ? len : 0,
                              .prefix = prefix,
                              .cmdline = 1};
    return conf_parse(&opts, err, errlen);
}

const char *conf_node_where(const conf_node_t *node, char *buf, size_t len)
{
    if (node->cmdline) {
        snprintf(buf, len, "%s", node->file);
    } else {
        snprintf(buf, len, "%s:%u", node->file, node->line);
    }
    return buf;
}
