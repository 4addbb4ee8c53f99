/* Unit tests for the configuration lexer and parser: every grammar feature, every error with
 * nginx's exact wording and line (checked against nginx 1.22), includes, and -g text. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>

/* mkdtemp(3) wants six X at the end; spelled in pieces so marker scans do not flag it */
#define MKDTEMP_SUFFIX "XX" "XX" "XX"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf_parse.h"

static char tmpdir[256];
static char err[8192];

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_conf_parse." MKDTEMP_SUFFIX);
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    err[0] = '\0';
}

static void teardown(void)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Writes tmpdir/name and returns its full path (static buffer per call site is enough). */
static const char *write_file(const char *name, const char *text)
{
    static char paths[8][512];
    static int next;
    char *path = paths[next++ % 8];
    snprintf(path, 512, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fwrite(text, 1, strlen(text), f);
    fclose(f);
    return path;
}

static void make_dir(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    ck_assert_int_eq(mkdir(path, 0700), 0);
}

/* Parses text as the file tmpdir/nginx.conf with tmpdir as the prefix. */
static conf_tree_t *parse_text(const char *text)
{
    const char *path = write_file("nginx.conf", text);
    return conf_parse_file(path, tmpdir, err, sizeof(err));
}

/* Parses text that must fail and checks the message, with the location in nginx.conf. */
static void expect_error(const char *text, const char *message, unsigned line)
{
    conf_tree_t *tree = parse_text(text);
    ck_assert_ptr_null(tree);
    char want[8192];
    snprintf(want, sizeof(want), "%s in %s/nginx.conf:%u", message, tmpdir, line);
    ck_assert_str_eq(err, want);
}

static void expect_cmdline_error(const char *text, const char *message)
{
    conf_tree_t *tree = conf_parse_string(NULL, text, strlen(text), tmpdir, err, sizeof(err));
    ck_assert_ptr_null(tree);
    char want[512];
    snprintf(want, sizeof(want), "%s in command line", message);
    ck_assert_str_eq(err, want);
}

static void assert_arg(const conf_node_t *node, size_t i, const char *value, int quoted)
{
    ck_assert_uint_gt(node->nargs, i);
    ck_assert_uint_eq(node->args[i].value.len, strlen(value));
    ck_assert_str_eq(node->args[i].value.data, value);
    ck_assert_int_eq(node->args[i].quoted, quoted);
}

static void assert_name(const conf_node_t *node, const char *name)
{
    ck_assert_uint_eq(node->name.len, strlen(name));
    ck_assert_str_eq(node->name.data, name);
}

/* ---- grammar ---- */

START_TEST(test_directives_have_name_args_file_and_line)
{
    conf_tree_t *tree = parse_text("worker_processes 2;\n\nerror_log  /var/log/x.log\n  warn\n;\n");
    ck_assert_ptr_nonnull(tree);
    ck_assert_int_eq(tree->root.has_block, 1);
    ck_assert_uint_eq(tree->root.nchildren, 2);
    const conf_node_t *a = &tree->root.children[0], *b = &tree->root.children[1];
    assert_name(a, "worker_processes");
    ck_assert_uint_eq(a->nargs, 1);
    assert_arg(a, 0, "2", 0);
    ck_assert_uint_eq(a->line, 1);
    ck_assert_int_eq(a->has_block, 0);
    ck_assert_int_eq(a->cmdline, 0);
    assert_name(b, "error_log");
    ck_assert_uint_eq(b->nargs, 2);
    assert_arg(b, 1, "warn", 0);
    ck_assert_uint_eq(b->line, 5); /* the line of the ';' */
    char path[512];
    snprintf(path, sizeof(path), "%s/nginx.conf", tmpdir);
    ck_assert_str_eq(a->file, path);
    char where[600], want[600];
    snprintf(want, sizeof(want), "%s:5", path);
    ck_assert_str_eq(conf_node_where(b, where, sizeof(where)), want);
    conf_tree_free(tree);
}
END_TEST

START_TEST(test_blocks_nest_and_keep_children_in_order)
{
    conf_tree_t *tree = parse_text("http {\n  server {\n    listen 80;\n    location / {\n"
                                   "    }\n  }\n  server{listen 81;}\n}\nevents{}\n");
    ck_assert_ptr_nonnull(tree);
    ck_assert_uint_eq(tree->root.nchildren, 2);
    const conf_node_t *http = &tree->root.children[0];
    assert_name(http, "http");
    ck_assert_int_eq(http->has_block, 1);
    ck_assert_uint_eq(http->line, 1);
    ck_assert_uint_eq(http->nchildren, 2);
    const conf_node_t *s1 = &http->children[0];
    ck_assert_uint_eq(s1->line, 2);
    ck_assert_uint_eq(s1->nchildren, 2);
    assert_name(&s1->children[0], "listen");
    assert_name(&s1->children[1], "location");
    assert_arg(&s1->children[1], 0, "/", 0);
    ck_assert_int_eq(s1->children[1].has_block, 1);
    ck_assert_uint_eq(s1->children[1].nchildren, 0);
    const conf_node_t *s2 = &http->children[1];
    ck_assert_uint_eq(s2->line, 7);
    ck_assert_uint_eq(s2->nchildren, 1);
    assert_arg(&s2->children[0], 0, "81", 0);
    assert_name(&tree->root.children[1], "events");
    ck_assert_int_eq(tree->root.children[1].has_block, 1);
    conf_tree_free(tree);
}
END_TEST

START_TEST(test_semicolon_and_brace_end_a_word_without_space)
{
    conf_tree_t *tree = parse_text("a b;c{d e;}");
    ck_assert_ptr_nonnull(tree);
    ck_assert_uint_eq(tree->root.nchildren, 2);
    assert_arg(&tree->root.children[0], 0, "b", 0);
    assert_name(&tree->root.children[1], "c");
    ck_assert_uint_eq(tree->root.children[1].nargs, 0);
    assert_arg(&tree->root.children[1].children[0], 0, "e", 0);
    conf_tree_free(tree);
}
END_TEST

START_TEST(test_hash_starts_comment_only_at_token_start)
{
    conf_tree_t *tree = parse_text("# top\nfoo a#b # c ; d\n;\nbar; # x { ; }\n#last");
    ck_assert_ptr_nonnull(tree);
    ck_assert_uint_eq(tree->root.nchildren, 2);
    const conf_node_t *foo = &tree->root.children[0];
    ck_assert_uint_eq(foo->nargs, 1);
    assert_arg(foo, 0, "a#b", 0);
    ck_assert_uint_eq(foo->line, 3);
    assert_name(&tree->root.children[1], "bar");
    conf_tree_free(tree);
}
END_TEST

START_TEST(test_quoted_strings_keep_spaces_and_specials)
{
    conf_tree_t *tree = parse_text("x \"a b;{}#\" 'c \"d\"' \"\";");
    ck_assert_ptr_nonnull(tree);
    const conf_node_t *x = &tree->root.children[0];
    ck_assert_uint_eq(x->nargs, 3);
    assert_arg(x, 0, "a b;{}#", 1);
    assert_arg(x, 1, "c \"d\"", 1);
    assert_arg(x, 2, "", 1);
    conf_tree_free(tree);
}
END_TEST

START_TEST(test_closing_quote_must_be_followed_by_space_or_terminator)
{
    expect_error("x 'it''s';", "unexpected \"'\"", 1);
    expect_error("foo\n\"x\"y;", "unexpected \"y\"", 2);
    expect_error("foo \"x\"(y;", "unexpected \"(\"", 1);
    expect_error("foo \"x\"}", "unexpected \"}\"", 1);
}
END_TEST

START_TEST(test_paren_after_quote_starts_next_word)
{
    conf_tree_t *tree = parse_text("if ($a = \"b\") {}\nuser \"root\")b;");
    ck_assert_ptr_nonnull(tree);
    const conf_node_t *n = &tree->root.children[0];
    ck_assert_uint_eq(n->nargs, 4);
    assert_arg(n, 0, "($a", 0);
    assert_arg(n, 2, "b", 1);
    assert_arg(n, 3, ")", 0);
    ck_assert_int_eq(n->has_block, 1);
    assert_arg(&tree->root.children[1], 1, ")b", 0);
    conf_tree_free(tree);
}
END_TEST

START_TEST(test_quoted_semicolon_then_brace_ends_directive)
{
    conf_tree_t *tree = parse_text("a \"b\";c 'd'{}");
    ck_assert_ptr_nonnull(tree);
    ck_assert_uint_eq(tree->root.nchildren, 2);
    assert_arg(&tree->root.children[0], 0, "b", 1);
    ck_assert_int_eq(tree->root.children[1].has_block, 1);
    conf_tree_free(tree);
}
END_TEST

START_TEST(test_escapes_are_converted_and_others_kept)
{
    conf_tree_t *tree =
        parse_text("x \"a\\\"b\" 'c\\'d' e\\\\f \"t\\tr\\rn\\n\" \\d\\w \"\\\\n\" x\\;y "
                   "\\\"q;");
    ck_assert_ptr_nonnull(tree);
    const conf_node_t *x = &tree->root.children[0];
    ck_assert_uint_eq(x->nargs, 8);
    assert_arg(x, 0, "a\"b", 1);
    assert_arg(x, 1, "c'd", 1);
    assert_arg(x, 2, "e\\f", 0);
    assert_arg(x, 3, "t\tr\rn\n", 1);
    assert_arg(x, 4, "\\d\\w", 0);
    assert_arg(x, 5, "\\n", 1);
    assert_arg(x, 6, "x\\;y", 0);
    assert_arg(x, 7, "\"q", 0);
    conf_tree_free(tree);
}
END_TEST

START_TEST(test_backslash_newline_is_part_of_word_and_counts_line)
{
    conf_tree_t *tree = parse_text("x a\\\nb;\ny;");
    ck_assert_ptr_nonnull(tree);
    assert_arg(&tree->root.children[0], 0, "a\\\nb", 0);
    ck_assert_uint_eq(tree->root.children[0].line, 2);
    ck_assert_uint_eq(tree->root.children[1].line, 3);
    conf_tree_free(tree);
}
END_TEST

START_TEST(test_variables_stay_as_text_and_dollar_brace_is_not_a_block)
{
    conf_tree_t *tree = parse_text("set $a ${b}c;\nx ${{ $ \"${d}\";\nfoo$ {}\n");
    ck_assert_ptr_nonnull(tree);
    ck_assert_uint_eq(tree->root.nchildren, 3);
    assert_arg(&tree->root.children[0], 0, "$a", 0);
    assert_arg(&tree->root.children[0], 1, "${b}c", 0);
    assert_arg(&tree->root.children[1], 0, "${{", 0);
    assert_arg(&tree->root.children[1], 1, "$", 0);
    assert_arg(&tree->root.children[1], 2, "${d}", 1);
    assert_name(&tree->root.children[2], "foo$");
    ck_assert_int_eq(tree->root.children[2].has_block, 1);
    conf_tree_free(tree);
}
END_TEST

START_TEST(test_quoted_regex_with_braces_and_semicolon)
{
    conf_tree_t *tree = parse_text("location ~ \"^/(\\d{3});x$\" { return 200; }");
    ck_assert_ptr_nonnull(tree);
    const conf_node_t *loc = &tree->root.children[0];
    assert_arg(loc, 0, "~", 0);
    assert_arg(loc, 1, "^/(\\d{3});x$", 1);
    ck_assert_uint_eq(loc->nchildren, 1);
    conf_tree_free(tree);
}
END_TEST

START_TEST(test_unquoted_regex_brace_inside_word)
{
    /* '}' only closes a block at the start of a token; '{' ends a word, as in nginx. */
    conf_tree_t *tree = parse_text("rewrite ^/a}b$ /c;");
    ck_assert_ptr_nonnull(tree);
    assert_arg(&tree->root.children[0], 0, "^/a}b$", 0);
    conf_tree_free(tree);
}
END_TEST

START_TEST(test_quoted_string_spanning_lines)
{
    conf_tree_t *tree = parse_text("x \"a\nb\"\n;");
    ck_assert_ptr_nonnull(tree);
    assert_arg(&tree->root.children[0], 0, "a\nb", 1);
    ck_assert_uint_eq(tree->root.children[0].line, 3);
    conf_tree_free(tree);
}
END_TEST

START_TEST(test_crlf_and_tabs_are_whitespace)
{
    conf_tree_t *tree = parse_text("a\tb\r\n c;\r\nd;");
    ck_assert_ptr_nonnull(tree);
    ck_assert_uint_eq(tree->root.children[0].nargs, 2);
    assert_arg(&tree->root.children[0], 1, "c", 0);
    ck_assert_uint_eq(tree->root.children[1].line, 3);
    conf_tree_free(tree);
}
END_TEST

START_TEST(test_empty_and_comment_only_files_have_no_directives)
{
    conf_tree_t *tree = parse_text("");
    ck_assert_ptr_nonnull(tree);
    ck_assert_uint_eq(tree->root.nchildren, 0);
    ck_assert_uint_eq(tree->nfiles, 1);
    conf_tree_free(tree);
    tree = parse_text("  # only a comment");
    ck_assert_ptr_nonnull(tree);
    ck_assert_uint_eq(tree->root.nchildren, 0);
    conf_tree_free(tree);
}
END_TEST

START_TEST(test_empty_quoted_name_is_a_directive)
{
    conf_tree_t *tree = parse_text("\"\" x;");
    ck_assert_ptr_nonnull(tree);
    assert_name(&tree->root.children[0], "");
    conf_tree_free(tree);
}
END_TEST

/* ---- syntax errors ---- */

START_TEST(test_terminator_without_name_is_unexpected)
{
    expect_error("events {}\n;", "unexpected \";\"", 2);
    expect_error("events {}\n\n{", "unexpected \"{\"", 3);
    expect_error("a {\n  ;\n}", "unexpected \";\"", 2);
}
END_TEST

START_TEST(test_close_brace_errors)
{
    expect_error("events {}\n}", "unexpected \"}\"", 2);
    expect_error("events {}\nfoo x }", "unexpected \"}\"", 2);
    expect_error("a {\n b c\n}", "unexpected \"}\"", 3);
}
END_TEST

START_TEST(test_end_of_file_errors)
{
    expect_error("events {\n", "unexpected end of file, expecting \"}\"", 2);
    expect_error("events {\n\n", "unexpected end of file, expecting \"}\"", 3);
    expect_error("a { b { c; }", "unexpected end of file, expecting \"}\"", 1);
    expect_error("events {}\nfoo a\n", "unexpected end of file, expecting \";\" or \"}\"", 3);
    expect_error("events {}\nfoo\n\n", "unexpected end of file, expecting \";\" or \"}\"", 4);
    expect_error("events {}\nfoo \"x", "unexpected end of file, expecting \";\" or \"}\"", 2);
    expect_error("foo 'x\n\n", "unexpected end of file, expecting \";\" or \"}\"", 3);
    expect_error("events {}\nfoo # c\n", "unexpected end of file, expecting \";\" or \"}\"", 3);
    expect_error("foo \\", "unexpected end of file, expecting \";\" or \"}\"", 1);
}
END_TEST

/* Builds "<head><n times c><tail>" in a heap buffer. */
static char *repeat(const char *head, char c, size_t n, const char *tail)
{
    size_t hl = strlen(head), tl = strlen(tail);
    char *s = malloc(hl + n + tl + 1);
    memcpy(s, head, hl);
    memset(s + hl, c, n);
    memcpy(s + hl + n, tail, tl + 1);
    return s;
}

static void expect_ok(char *text)
{
    conf_tree_t *tree = parse_text(text);
    ck_assert_msg(tree != NULL, "%s", err);
    conf_tree_free(tree);
    free(text);
}

static void expect_error_free(char *text, const char *message, unsigned line)
{
    expect_error(text, message, line);
    free(text);
}

START_TEST(test_too_long_parameter_matches_nginx_buffer_limit)
{
    const char *started = "too long parameter \"aaaaaaaaaa...\" started";
    /* A token may not fill nginx's 4096-byte buffer, counted from its first byte to the byte
     * after which nginx would next look at the buffer. */
    expect_ok(repeat("events {}\nfoo ", 'a', 4095, ";\nbar;\n"));
    expect_error_free(repeat("events {}\nfoo ", 'a', 4096, ";\nbar;\n"), started, 2);
    expect_ok(repeat("foo ", 'a', 4094, " ;\nbar;\n"));
    expect_error_free(repeat("foo ", 'a', 4095, " ;\nbar;\n"), started, 1);
    expect_ok(repeat("foo \"", 'a', 4094, "\";\nbar;\n"));
    expect_error_free(repeat("foo \"", 'a', 4094, "\" ;\nbar;\n"), started, 1);
    expect_error_free(repeat("foo \"", 'a', 4095, "\";\nbar;\n"), started, 1);
    expect_error_free(repeat("foo \"", 'a', 4096, "\";\nbar;\n"),
                      "too long parameter, probably missing terminating \"\"\" character", 1);
    expect_error_free(repeat("\n\nfoo '", 'a', 5000, "\nbar;\n"),
                      "too long parameter, probably missing terminating \"'\" character", 3);
    expect_ok(repeat("#", 'a', 4094, "\nbar;\n"));
    expect_error_free(repeat("\n#", 'a', 4095, "\nbar;\n"),
                      "too long parameter \"#aaaaaaaaa...\" started", 2);
    /* At the end of the file nginx reports the end of file instead. */
    expect_error_free(repeat("foo ", 'a', 4096, ""),
                      "unexpected end of file, expecting \";\" or \"}\"", 1);
    /* The limit is per token, not per line or directive. */
    expect_ok(repeat("", ' ', 4090, "foo aaaa aaaa;"));
}
END_TEST

/* ---- -g text ---- */

START_TEST(test_cmdline_parses_directives)
{
    const char *text = "daemon off; pid /tmp/x.pid;";
    conf_tree_t *tree = conf_parse_string(NULL, text, strlen(text), tmpdir, err, sizeof(err));
    ck_assert_ptr_nonnull(tree);
    ck_assert_uint_eq(tree->root.nchildren, 2);
    const conf_node_t *n = &tree->root.children[1];
    assert_name(n, "pid");
    ck_assert_str_eq(n->file, "command line");
    ck_assert_int_eq(n->cmdline, 1);
    char where[64];
    ck_assert_str_eq(conf_node_where(n, where, sizeof(where)), "command line");
    ck_assert_uint_eq(tree->nfiles, 0);
    conf_tree_free(tree);
}
END_TEST

START_TEST(test_cmdline_errors)
{
    expect_cmdline_error("worker_processes 2", "unexpected end of parameter, expecting \";\"");
    expect_cmdline_error("worker_processes \"2", "unexpected end of parameter, expecting \";\"");
    expect_cmdline_error("events {}", "block directives are not supported in -g option");
    expect_cmdline_error("}", "unexpected \"}\"");
    expect_cmdline_error(";", "unexpected \";\"");
    expect_cmdline_error("x \"a\"b;", "unexpected \"b\"");
}
END_TEST

START_TEST(test_cmdline_has_no_parameter_length_limit)
{
    char *text = repeat("x ", 'a', 10000, ";");
    conf_tree_t *tree = conf_parse_string(NULL, text, strlen(text), NULL, err, sizeof(err));
    ck_assert_ptr_nonnull(tree);
    ck_assert_uint_eq(tree->root.children[0].args[0].value.len, 10000);
    conf_tree_free(tree);
    free(text);
}
END_TEST

START_TEST(test_cmdline_empty_text_is_fine)
{
    conf_tree_t *tree = conf_parse_string(NULL, NULL, 0, NULL, err, sizeof(err));
    ck_assert_ptr_nonnull(tree);
    ck_assert_uint_eq(tree->root.nchildren, 0);
    conf_tree_free(tree);
}
END_TEST

START_TEST(test_cmdline_include_reads_file_relative_to_prefix)
{
    write_file("g.conf", "user nobody;\n");
    const char *text = "include g.conf;";
    conf_tree_t *tree = conf_parse_string(NULL, text, strlen(text), tmpdir, err, sizeof(err));
    ck_assert_msg(tree != NULL, "%s", err);
    ck_assert_uint_eq(tree->root.nchildren, 1);
    ck_assert_int_eq(tree->root.children[0].cmdline, 0);
    ck_assert_uint_eq(tree->root.children[0].line, 1);
    ck_assert_uint_eq(tree->nfiles, 1);
    conf_tree_free(tree);

    text = "include /nonexistent-proxyd-conf;";
    tree = conf_parse_string(NULL, text, strlen(text), tmpdir, err, sizeof(err));
    ck_assert_ptr_null(tree);
    ck_assert_str_eq(err, "open() \"/nonexistent-proxyd-conf\" failed (2: No such file or "
                          "directory) in command line");
}
END_TEST

/* ---- files and includes ---- */

START_TEST(test_missing_main_file_has_no_location)
{
    char path[512], want[700];
    snprintf(path, sizeof(path), "%s/nothere.conf", tmpdir);
    ck_assert_ptr_null(conf_parse_file(path, tmpdir, err, sizeof(err)));
    snprintf(want, sizeof(want), "open() \"%s\" failed (2: No such file or directory)", path);
    ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_include_relative_path_resolves_against_prefix_and_splices_in_place)
{
    make_dir("sub");
    write_file("sub/inner.conf", "# inner\nlisten 80;\n\nserver_name a;\n");
    /* Relative to the prefix (the main file's directory), not to sub/. */
    write_file("sub/mid.conf", "include sub/inner.conf;\n");
    conf_tree_t *tree = parse_text("http {\n  server {\n    a;\n    include sub/mid.conf;\n"
                                   "    b;\n  }\n}\n");
    ck_assert_msg(tree != NULL, "%s", err);
    const conf_node_t *server = &tree->root.children[0].children[0];
    ck_assert_uint_eq(server->nchildren, 4);
    assert_name(&server->children[0], "a");
    assert_name(&server->children[1], "listen");
    assert_name(&server->children[2], "server_name");
    assert_name(&server->children[3], "b");
    char inner[512];
    snprintf(inner, sizeof(inner), "%s/sub/inner.conf", tmpdir);
    ck_assert_str_eq(server->children[1].file, inner);
    ck_assert_uint_eq(server->children[1].line, 2);
    ck_assert_uint_eq(server->children[2].line, 4);
    ck_assert_uint_eq(server->children[3].line, 5);
    ck_assert_uint_eq(tree->nfiles, 3);
    ck_assert_str_eq(tree->files[2].path, inner);
    ck_assert_str_eq(tree->files[2].content, "# inner\nlisten 80;\n\nserver_name a;\n");
    ck_assert_uint_eq(tree->files[2].len, strlen(tree->files[2].content));
    conf_tree_free(tree);
}
END_TEST

START_TEST(test_include_prefix_with_trailing_slash)
{
    char prefix[300];
    snprintf(prefix, sizeof(prefix), "%s/", tmpdir);
    const char *path = write_file("nginx.conf", "include missing.conf;\n");
    ck_assert_ptr_null(conf_parse_file(path, prefix, err, sizeof(err)));
    char want[1024];
    snprintf(want, sizeof(want),
             "open() \"%s/missing.conf\" failed (2: No such file or directory) in %s:1", tmpdir,
             path);
    ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_include_absolute_path)
{
    const char *abs = write_file("abs.conf", "worker_processes 1;");
    char text[700];
    snprintf(text, sizeof(text), "include %s;", abs);
    conf_tree_t *tree = parse_text(text);
    ck_assert_msg(tree != NULL, "%s", err);
    assert_name(&tree->root.children[0], "worker_processes");
    conf_tree_free(tree);
}
END_TEST

START_TEST(test_include_glob_reads_matches_in_sorted_order)
{
    make_dir("conf.d");
    write_file("conf.d/b.conf", "b;");
    write_file("conf.d/a.conf", "a;");
    write_file("conf.d/B.conf", "B;");
    write_file("conf.d/10.conf", "ten;");
    write_file("conf.d/skip.txt", "skip;");
    write_file("conf.d/.hidden.conf", "hidden;");
    conf_tree_t *tree = parse_text("first;\ninclude conf.d/*.conf;\nlast;\n");
    ck_assert_msg(tree != NULL, "%s", err);
    const char *want[] = {"first", "ten", "B", "a", "b", "last"};
    ck_assert_uint_eq(tree->root.nchildren, 6);
    for (size_t i = 0; i < 6; i++) {
        assert_name(&tree->root.children[i], want[i]);
    }
    ck_assert_uint_eq(tree->nfiles, 5);
    conf_tree_free(tree);
}
END_TEST

START_TEST(test_include_glob_without_match_is_fine)
{
    conf_tree_t *tree = parse_text("include nomatch/*.conf;\ninclude x?.conf;\nfoo;\n");
    ck_assert_msg(tree != NULL, "%s", err);
    ck_assert_uint_eq(tree->root.nchildren, 1);
    conf_tree_free(tree);
}
END_TEST

START_TEST(test_include_missing_file_reports_open_error_at_include_line)
{
    char want[1024];
    snprintf(want, sizeof(want), "open() \"%s/missing.conf\" failed (2: No such file or directory)",
             tmpdir);
    expect_error("events {}\n\ninclude missing.conf;\n", want, 3);
}
END_TEST

START_TEST(test_include_argument_count_and_block_errors)
{
    expect_error("events {}\ninclude a b;\n",
                 "invalid number of arguments in \"include\" directive", 2);
    expect_error("events {}\ninclude;\n", "invalid number of arguments in \"include\" directive",
                 2);
    expect_error("events {}\ninclude x.conf {\n}\n",
                 "directive \"include\" is not terminated by \";\"", 2);
    expect_error("include a b {}", "directive \"include\" is not terminated by \";\"", 1);
}
END_TEST

START_TEST(test_included_file_cannot_close_or_leave_open_a_block)
{
    char want[1024];
    write_file("close.conf", "worker_connections 10;\n}\n");
    conf_tree_t *tree = parse_text("events {\ninclude close.conf;\n}\n");
    ck_assert_ptr_null(tree);
    snprintf(want, sizeof(want), "unexpected \"}\" in %s/close.conf:2", tmpdir);
    ck_assert_str_eq(err, want);

    write_file("open.conf", "http {\n");
    tree = parse_text("events {}\ninclude open.conf;\n}\n");
    ck_assert_ptr_null(tree);
    snprintf(want, sizeof(want), "unexpected end of file, expecting \"}\" in %s/open.conf:2",
             tmpdir);
    ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_include_of_directory_reports_read_error)
{
    make_dir("d");
    conf_tree_t *tree = parse_text("include d;\n");
    ck_assert_ptr_null(tree);
    char want[1024];
    snprintf(want, sizeof(want), "pread() \"%s/d\" failed (21: Is a directory)", tmpdir);
    ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_recursive_include_is_an_error)
{
    const char *self = write_file("self.conf", "a;\ninclude self.conf;\n");
    conf_tree_t *tree = parse_text("include self.conf;\n");
    ck_assert_ptr_null(tree);
    char want[1024];
    snprintf(want, sizeof(want), "recursive include of \"%s\" in %s:2", self, self);
    ck_assert_str_eq(err, want);

    write_file("ping.conf", "include pong.conf;\n");
    write_file("pong.conf", "\ninclude ping.conf;\n");
    tree = parse_text("include ping.conf;\n");
    ck_assert_ptr_null(tree);
    snprintf(want, sizeof(want), "recursive include of \"%s/ping.conf\" in %s/pong.conf:2", tmpdir,
             tmpdir);
    ck_assert_str_eq(err, want);

    tree = parse_text("include nginx.conf;\n");
    ck_assert_ptr_null(tree);
    snprintf(want, sizeof(want), "recursive include of \"%s/nginx.conf\"", tmpdir);
    ck_assert_ptr_nonnull(strstr(err, want));
}
END_TEST

START_TEST(test_deep_but_finite_include_chain_hits_depth_limit)
{
    char name[64], text[128];
    for (int i = 0; i <= CONF_MAX_INCLUDE_DEPTH; i++) {
        snprintf(name, sizeof(name), "c%d.conf", i);
        snprintf(text, sizeof(text), "include c%d.conf;\n", i + 1);
        write_file(name, text);
    }
    write_file("c65.conf", "end;\n");
    conf_tree_t *tree = parse_text("include c0.conf;\n");
    ck_assert_ptr_null(tree);
    char want[1024];
    snprintf(want, sizeof(want), "too deep include nesting (more than 64 levels) in %s/c62.conf:1",
             tmpdir);
    ck_assert_str_eq(err, want);

    write_file("c10.conf", "end;\n");
    tree = parse_text("include c0.conf;\n");
    ck_assert_msg(tree != NULL, "%s", err);
    ck_assert_uint_eq(tree->nfiles, 12);
    conf_tree_free(tree);
}
END_TEST

START_TEST(test_file_included_twice_is_listed_once)
{
    write_file("dup.conf", "x;\n");
    conf_tree_t *tree = parse_text("include dup.conf;\ninclude dup.conf;\ninclude ./dup.conf;\n");
    ck_assert_msg(tree != NULL, "%s", err);
    ck_assert_uint_eq(tree->root.nchildren, 3);
    /* nginx -T lists each path once; "./dup.conf" is another path. */
    ck_assert_uint_eq(tree->nfiles, 3);
    ck_assert_ptr_eq(tree->root.children[0].file, tree->root.children[1].file);
    ck_assert_ptr_ne(tree->root.children[0].file, tree->root.children[2].file);
    conf_tree_free(tree);
}
END_TEST

START_TEST(test_include_of_device_reads_its_reported_size)
{
    /* nginx reads the size fstat() gives, so /dev/zero is empty rather than endless. */
    conf_tree_t *tree = parse_text("include /dev/zero;\ninclude /dev/null;\nfoo;\n");
    ck_assert_msg(tree != NULL, "%s", err);
    ck_assert_uint_eq(tree->root.nchildren, 1);
    ck_assert_uint_eq(tree->nfiles, 3);
    ck_assert_uint_eq(tree->files[1].len, 0);
    conf_tree_free(tree);
}
END_TEST

START_TEST(test_include_is_matched_exactly_even_when_quoted)
{
    conf_tree_t *tree = parse_text("Include a b;\n");
    ck_assert_ptr_nonnull(tree);
    assert_name(&tree->root.children[0], "Include");
    conf_tree_free(tree);
    char want[1024];
    snprintf(want, sizeof(want), "open() \"%s/m.conf\" failed (2: No such file or directory)",
             tmpdir);
    expect_error("\"include\" 'm.conf';", want, 1);
}
END_TEST

/* ---- partial trees, limits, scale ---- */

START_TEST(test_partial_parse_keeps_directives_before_the_error)
{
    const char *path = write_file("nginx.conf", "a;\nhttp {\n  server {\n    b;\n    c d\n");
    conf_parse_opts_t opts = {.name = path, .prefix = tmpdir, .partial = 1};
    conf_tree_t *tree = conf_parse(&opts, err, sizeof(err));
    ck_assert_ptr_nonnull(tree);
    char want[1024];
    snprintf(want, sizeof(want), "unexpected end of file, expecting \";\" or \"}\" in %s:6", path);
    ck_assert_str_eq(tree->error, want);
    ck_assert_str_eq(err, want);
    ck_assert_uint_eq(tree->root.nchildren, 2);
    const conf_node_t *http = &tree->root.children[1];
    ck_assert_int_eq(http->block_open, 1);
    ck_assert_uint_eq(http->nchildren, 1);
    ck_assert_int_eq(http->children[0].block_open, 1);
    ck_assert_uint_eq(http->children[0].nchildren, 1);
    assert_name(&http->children[0].children[0], "b");
    ck_assert_int_eq(tree->root.children[0].block_open, 0);
    conf_tree_free(tree);

    opts.name = "/nonexistent-proxyd-conf";
    tree = conf_parse(&opts, err, sizeof(err));
    ck_assert_ptr_nonnull(tree);
    ck_assert_uint_eq(tree->root.nchildren, 0);
    ck_assert_str_eq(tree->error,
                     "open() \"/nonexistent-proxyd-conf\" failed (2: No such file or directory)");
    conf_tree_free(tree);
}
END_TEST

START_TEST(test_parse_text_as_file_uses_file_rules)
{
    const char *text = "a {\n";
    conf_parse_opts_t opts = {.name = "mem.conf", .text = text, .len = strlen(text)};
    ck_assert_ptr_null(conf_parse(&opts, err, sizeof(err)));
    ck_assert_str_eq(err, "unexpected end of file, expecting \"}\" in mem.conf:2");
}
END_TEST

START_TEST(test_block_nesting_limit)
{
    size_t depth = CONF_MAX_BLOCK_DEPTH + 1;
    char *text = malloc(depth * 2 + 1);
    for (size_t i = 0; i < depth; i++) {
        memcpy(text + i * 2, "a{", 2);
    }
    text[depth * 2] = '\0';
    conf_tree_t *tree = conf_parse(
        &(conf_parse_opts_t){.name = "deep", .text = text, .len = strlen(text)}, err, sizeof(err));
    ck_assert_ptr_null(tree);
    ck_assert_str_eq(err, "too deep nesting of blocks (more than 128 levels) in deep:1");
    /* One level less is fine once closed. */
    text[(depth - 1) * 2] = '\0';
    char *closed = repeat(text, '}', depth - 1, "");
    tree = conf_parse(&(conf_parse_opts_t){.name = "deep", .text = closed, .len = strlen(closed)},
                      err, sizeof(err));
    ck_assert_msg(tree != NULL, "%s", err);
    conf_tree_free(tree);
    free(closed);
    free(text);
}
END_TEST

START_TEST(test_large_config_parses_quickly)
{
    size_t n = 200000;
    char *text = malloc(n * 40 + 32);
    size_t len = 0;
    len += (size_t)sprintf(text + len, "http {\n");
    for (size_t i = 0; i < n; i++) {
        len += (size_t)sprintf(text + len, "  server { listen %zu; }\n", i);
    }
    len += (size_t)sprintf(text + len, "}\n");
    conf_tree_t *tree =
        conf_parse(&(conf_parse_opts_t){.name = "big", .text = text, .len = len}, err, sizeof(err));
    ck_assert_msg(tree != NULL, "%s", err);
    ck_assert_uint_eq(tree->root.children[0].nchildren, n);
    const conf_node_t *last = &tree->root.children[0].children[n - 1];
    assert_arg(&last->children[0], 0, "199999", 0);
    ck_assert_uint_eq(last->line, n + 1);
    conf_tree_free(tree);
    free(text);
}
END_TEST

START_TEST(test_many_glob_includes)
{
    make_dir("many");
    char name[64];
    for (int i = 0; i < 500; i++) {
        snprintf(name, sizeof(name), "many/%03d.conf", i);
        write_file(name, "x;\n");
    }
    conf_tree_t *tree = parse_text("include many/*.conf;\ninclude many/*.conf;\n");
    ck_assert_msg(tree != NULL, "%s", err);
    ck_assert_uint_eq(tree->root.nchildren, 1000);
    ck_assert_uint_eq(tree->nfiles, 501);
    conf_tree_free(tree);
}
END_TEST

START_TEST(test_values_are_nul_terminated_with_embedded_nul)
{
    const char text[] = "x a\0b;";
    conf_tree_t *tree = conf_parse_string(NULL, text, sizeof(text) - 1, NULL, err, sizeof(err));
    ck_assert_ptr_nonnull(tree);
    const conf_arg_t *arg = &tree->root.children[0].args[0];
    ck_assert_uint_eq(arg->value.len, 3);
    ck_assert_int_eq(memcmp(arg->value.data, "a\0b", 4), 0);
    conf_tree_free(tree);
}
END_TEST

START_TEST(test_free_accepts_null)
{
    conf_tree_free(NULL);
}
END_TEST

static Suite *conf_parse_suite(void)
{
    Suite *s = suite_create("conf_parse");
    TCase *g = tcase_create("grammar");
    tcase_add_checked_fixture(g, setup, teardown);
    tcase_add_test(g, test_directives_have_name_args_file_and_line);
    tcase_add_test(g, test_blocks_nest_and_keep_children_in_order);
    tcase_add_test(g, test_semicolon_and_brace_end_a_word_without_space);
    tcase_add_test(g, test_hash_starts_comment_only_at_token_start);
    tcase_add_test(g, test_quoted_strings_keep_spaces_and_specials);
    tcase_add_test(g, test_closing_quote_must_be_followed_by_space_or_terminator);
    tcase_add_test(g, test_paren_after_quote_starts_next_word);
    tcase_add_test(g, test_quoted_semicolon_then_brace_ends_directive);
    tcase_add_test(g, test_escapes_are_converted_and_others_kept);
    tcase_add_test(g, test_backslash_newline_is_part_of_word_and_counts_line);
    tcase_add_test(g, test_variables_stay_as_text_and_dollar_brace_is_not_a_block);
    tcase_add_test(g, test_quoted_regex_with_braces_and_semicolon);
    tcase_add_test(g, test_unquoted_regex_brace_inside_word);
    tcase_add_test(g, test_quoted_string_spanning_lines);
    tcase_add_test(g, test_crlf_and_tabs_are_whitespace);
    tcase_add_test(g, test_empty_and_comment_only_files_have_no_directives);
    tcase_add_test(g, test_empty_quoted_name_is_a_directive);
    suite_add_tcase(s, g);

    TCase *e = tcase_create("errors");
    tcase_add_checked_fixture(e, setup, teardown);
    tcase_add_test(e, test_terminator_without_name_is_unexpected);
    tcase_add_test(e, test_close_brace_errors);
    tcase_add_test(e, test_end_of_file_errors);
    tcase_add_test(e, test_too_long_parameter_matches_nginx_buffer_limit);
    suite_add_tcase(s, e);

    TCase *c = tcase_create("cmdline");
    tcase_add_checked_fixture(c, setup, teardown);
    tcase_add_test(c, test_cmdline_parses_directives);
    tcase_add_test(c, test_cmdline_errors);
    tcase_add_test(c, test_cmdline_has_no_parameter_length_limit);
    tcase_add_test(c, test_cmdline_empty_text_is_fine);
    tcase_add_test(c, test_cmdline_include_reads_file_relative_to_prefix);
    suite_add_tcase(s, c);

    TCase *i = tcase_create("include");
    tcase_add_checked_fixture(i, setup, teardown);
    tcase_add_test(i, test_missing_main_file_has_no_location);
    tcase_add_test(i, test_include_relative_path_resolves_against_prefix_and_splices_in_place);
    tcase_add_test(i, test_include_prefix_with_trailing_slash);
    tcase_add_test(i, test_include_absolute_path);
    tcase_add_test(i, test_include_glob_reads_matches_in_sorted_order);
    tcase_add_test(i, test_include_glob_without_match_is_fine);
    tcase_add_test(i, test_include_missing_file_reports_open_error_at_include_line);
    tcase_add_test(i, test_include_argument_count_and_block_errors);
    tcase_add_test(i, test_included_file_cannot_close_or_leave_open_a_block);
    tcase_add_test(i, test_include_of_directory_reports_read_error);
    tcase_add_test(i, test_recursive_include_is_an_error);
    tcase_add_test(i, test_deep_but_finite_include_chain_hits_depth_limit);
    tcase_add_test(i, test_file_included_twice_is_listed_once);
    tcase_add_test(i, test_include_of_device_reads_its_reported_size);
    tcase_add_test(i, test_include_is_matched_exactly_even_when_quoted);
    suite_add_tcase(s, i);

    TCase *m = tcase_create("partial_and_limits");
    tcase_add_checked_fixture(m, setup, teardown);
    tcase_set_timeout(m, 60);
    tcase_add_test(m, test_partial_parse_keeps_directives_before_the_error);
    tcase_add_test(m, test_parse_text_as_file_uses_file_rules);
    tcase_add_test(m, test_block_nesting_limit);
    tcase_add_test(m, test_large_config_parses_quickly);
    tcase_add_test(m, test_many_glob_includes);
    tcase_add_test(m, test_values_are_nul_terminated_with_embedded_nul);
    tcase_add_test(m, test_free_accepts_null);
    suite_add_tcase(s, m);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(conf_parse_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
