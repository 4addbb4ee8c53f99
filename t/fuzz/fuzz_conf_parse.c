/* libFuzzer target for the configuration parser. The first input byte picks the mode: -g text
 * (conf_parse_string) or text with file rules and a partial tree, which reaches blocks and the
 * parameter length limit; either way the tree must be well formed and freed cleanly. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "conf/conf_parse.h"

/* Walks the tree checking what the API promises: NUL-terminated names and values, lines set. */
static size_t walk(const conf_node_t *node)
{
    size_t count = 1;
    if (node->name.data != NULL && node->name.data[node->name.len] != '\0') {
        __builtin_trap();
    }
    for (size_t i = 0; i < node->nargs; i++) {
        if (node->args[i].value.data[node->args[i].value.len] != '\0') {
            __builtin_trap();
        }
    }
    if (!node->has_block && node->nchildren != 0) {
        __builtin_trap();
    }
    for (size_t i = 0; i < node->nchildren; i++) {
        if (node->children[i].line == 0) {
            __builtin_trap();
        }
        count += walk(&node->children[i]);
    }
    return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    char err[512];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    conf_tree_t *tree;
    /* Includes resolve against a prefix that does not exist, so the fuzzer never reads files. */
    const char *prefix = "/nonexistent-proxyd-fuzz";
    if (data[0] & 1) {
        tree = conf_parse_string(NULL, text, len, prefix, err, sizeof(err));
    } else {
        conf_parse_opts_t opts = {
            .name = "fuzz.conf", .text = text, .len = len, .prefix = prefix, .partial = 1};
        tree = conf_parse(&opts, err, sizeof(err));
        if (tree == NULL) {
            __builtin_trap();
        }
    }
    if (tree != NULL) {
        walk(&tree->root);
        conf_tree_free(tree);
    }
    return 0;
}
