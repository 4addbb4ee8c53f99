/* The nginx configuration language: lexer + parser -> tree of (name, args, block, file, line).
 * Knows only the grammar, plus `include`, which it expands in place. What directives mean is
 * checked elsewhere (the directive tables walk this tree). */
#ifndef CONF_PARSE_H
#define CONF_PARSE_H

#include <stddef.h>

#include "core/px_string.h"

/* nginx reads a file through a 4 KiB buffer: a token that fills it is an error. */
#define CONF_MAX_TOKEN 4096
#define CONF_MAX_INCLUDE_DEPTH 64
#define CONF_MAX_BLOCK_DEPTH 128

typedef struct {
    px_str_t value; /* unescaped; data is NUL-terminated (owned by the tree) */
    int quoted;     /* 1 if written with ' or " */
} conf_arg_t;

typedef struct conf_node conf_node_t;
struct conf_node {
    px_str_t name;    /* directive name (NUL-terminated) */
    conf_arg_t *args; /* arguments after the name */
    size_t nargs;
    int has_block;         /* 1 if the directive was followed by { ... } */
    conf_node_t *children; /* directives inside the block, in order (includes already expanded) */
    size_t nchildren;
    const char *file; /* file the directive came from ("command line" for -g text) */
    unsigned line;    /* line of the terminating ';' or '{' (where nginx reports errors) */
    int cmdline;      /* from -g text: nginx reports "in command line", without a line */
    int block_open;   /* only in a partial tree: the block was still open at the error */
    unsigned end_line; /* a block's closing '}': where nginx reports what it checks at the end */
};

typedef struct {
    char *path;
    char *content; /* NUL-terminated */
    size_t len;
} conf_file_t;

struct conf_tree_mem;

typedef struct conf_tree {
    conf_node_t root;   /* has_block=1, children = top-level directives */
    conf_file_t *files; /* every file read, in the order read, each path once (as `nginx -T`) */
    size_t nfiles;
    /* Set only by a partial parse that failed: the message, as written to err. */
    const char *error;
    struct conf_tree_mem *mem;
} conf_tree_t;

/* prefix: directory against which relative include paths resolve (nginx resolves them against
 * the directory of the main config file, not of the including file). NULL: the current directory.
 * On error returns NULL and writes nginx's message, without "[emerg]" but with its location:
 *   unexpected "}" in /x/nginx.conf:12 */
conf_tree_t *conf_parse_file(const char *path, const char *prefix, char *err, size_t errlen);

/* Parses -g text with nginx's rules for it: no blocks, no parameter length limit, errors
 * "in command line". name labels the nodes and messages; NULL means "command line". */
conf_tree_t *conf_parse_string(const char *name, const char *text, size_t len, const char *prefix,
                               char *err, size_t errlen);

typedef struct {
    const char *name; /* the file to read, or the label of text */
    const char *text; /* when not NULL, parse these len bytes instead of reading name */
    size_t len;
    const char *prefix; /* for relative include paths */
    int cmdline;        /* -g rules (see conf_parse_string) */
    /* nginx applies every directive before a syntax error, so a directive error earlier in the
     * file wins over it. With partial=1 a syntax error still returns the tree of the directives
     * completed before it, with tree->error set (blocks still open have block_open=1); a checker
     * reports its own first error, else tree->error. NULL then only means out of memory. */
    int partial;
} conf_parse_opts_t;

conf_tree_t *conf_parse(const conf_parse_opts_t *opts, char *err, size_t errlen);

void conf_tree_free(conf_tree_t *tree);

/* Where nginx says a directive is: "/x/nginx.conf:12", or "command line" for -g text. */
const char *conf_node_where(const conf_node_t *node, char *buf, size_t len);

#endif
