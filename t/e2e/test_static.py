"""Static files: root, alias (with regex captures), index, try_files, types{} and the shipped
mime.types, the response headers (Content-Type, Last-Modified, ETag, Accept-Ranges),
conditional requests (304, 412), byte ranges (206, 416, multipart), HEAD, directory
redirects and errors, path traversal attempts, a 50 MB file sent whole and abandoned
halfway, and the -t warning for the alias traversal trap.

Most cases run the same configuration under proxyd and under Debian's nginx 1.22 (same
document root, so the same mtimes) and compare status, the headers that matter and the body."""
import email.utils
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import proxyd_test  # noqa: E402

SRC = os.environ.get("PROXYD_SRC") or os.path.join(os.path.dirname(__file__), "..", "..")
MIME_TYPES = os.path.join(SRC, "mime.types")

CONF = """
http {
    include mime.types;
    server {
        listen 127.0.0.1:%(port)d;
        root %(root)s/www;
        sendfile on;
        tcp_nopush on;
        location / { }
        location /idx/ { index missing.html second.html; }
        location /absidx/ { index nothere.html /www-index.html; }
        location /varidx/ { index $arg_i.html; }
        location /tf/ { try_files $uri $uri/ /tf-fallback.txt?from=tf; }
        location /tf404/ { try_files $uri =404; }
        location /tfnamed/ { try_files $uri @named; }
        location @named { root %(root)s/named; }
        location /loop/ { try_files $uri /loop/missing; }
        location /img { alias %(root)s/data/img/; }
        location /alias/ { alias %(root)s/data/img/; }
        location ~ ^/re/(.+)$ { alias %(root)s/data/img/$1; }
        location ~ ^/cap/(?<file>.+)$ { alias %(root)s/data/img/$file; }
        location ~ ^/tfa/(.+)$ { alias %(root)s/data/img/$1; try_files "" =404; }
        location ~ \\.whole$ { alias %(root)s/data/img/a.txt; }
        location /nosendfile/ { sendfile off; output_buffers 1 4k; }
        location /types/ { types { text/x-custom cst; } default_type application/x-def; }
        location /maxr/ { max_ranges 1; }
        location /norange/ { max_ranges 0; }
        location /noetag/ { etag off; }
        location /imsbefore/ { if_modified_since before; }
        location /imsoff/ { if_modified_since off; }
        location /nolog/ { log_not_found off; }
        location /vars/ { root %(root)s/www; try_files /$arg_f =404; }
        location /ifroot/ { if ($arg_alt) { root %(root)s/alt; sendfile off; } }
    }
}
"""

BIG = 50 * 1024 * 1024


def parse(data):
    """(status, headers dict with lowercase names, body) of one response read until close."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower().decode()] = v.strip().decode()
    return status, headers, body


def build_tree(root):
    def put(name, data):
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    put("www/a.txt", b"hello\n")
    put("www/index.html", b"<p>root index</p>\n")
    put("www/page.HTML", b"<p>upper</p>\n")
    put("www/dir/index.html", b"<p>dir index</p>\n")
    os.makedirs(os.path.join(root, "www/noindex"), exist_ok=True)
    put("www/idx/second.html", b"second\n")
    put("www/www-index.html", b"absolute index\n")
    os.makedirs(os.path.join(root, "www/absidx"), exist_ok=True)
    os.makedirs(os.path.join(root, "www/tf404"), exist_ok=True)
    put("www/varidx/v1.html", b"variable index\n")
    put("www/tf/exists.txt", b"exists\n")
    put("www/tf/sub/index.html", b"tf sub index\n")
    put("www/tf-fallback.txt", b"fallback\n")
    put("named/tfnamed/zzz", b"from named\n")
    put("www/tfnamed/here.txt", b"tfnamed here\n")
    put("www/nosendfile/data.bin", bytes(range(256)) * 4096)
    put("www/types/f.cst", b"custom\n")
    put("www/types/f.unknown", b"unknown\n")
    put("www/types/f.html", b"html\n")
    put("www/maxr/f.txt", b"0123456789")
    put("www/norange/f.txt", b"0123456789")
    put("www/noetag/f.txt", b"no etag\n")
    put("www/imsbefore/f.txt", b"before\n")
    put("www/imsoff/f.txt", b"off\n")
    put("www/r.txt", b"0123456789abcdefghij")
    put("www/empty.txt", b"")
    put("www/f.css", b"body{}\n")
    put("www/f.js", b"1;\n")
    put("www/f.png", b"\x89PNG")
    put("www/f.svg", b"<svg/>")
    put("www/noext", b"noext\n")
    put("www/.hidden", b"hidden\n")
    put("www/vars/v.txt", b"vars\n")
    put("www/ifroot/f.txt", b"main root\n")
    put("alt/ifroot/f.txt", b"alternative root\n")
    put("data/img/a.txt", b"in alias\n")
    put("data/img/sub/b.txt", b"in alias sub\n")
    put("data/secret.txt", b"SECRET next to the alias\n")
    put("secret.txt", b"SECRET next to the root\n")
    os.symlink(os.path.join(root, "www/a.txt"), os.path.join(root, "www/link.txt"))
    os.symlink(os.path.join(root, "www/big.bin"), os.path.join(root, "www/nosendfile/big.bin"))
    with open(os.path.join(root, "www/big.bin"), "wb") as f:
        block = hashlib.sha256(b"seed").digest() * 2048
        for _ in range(BIG // len(block)):
            f.write(block)
    os.chmod(os.path.join(root, "www"), 0o755)
    put("www/private.txt", b"private\n")
    os.chmod(os.path.join(root, "www/private.txt"), 0)
    # a fixed mtime so Last-Modified and ETag are known in advance
    for dirpath, dirnames, filenames in os.walk(root):
        for n in filenames:
            p = os.path.join(dirpath, n)
            if not os.path.islink(p):
                os.utime(p, (1700000000, 1700000000))


MTIME = 1700000000
LAST_MODIFIED = email.utils.formatdate(MTIME, usegmt=True)


def etag(size):
    return '"%x-%x"' % (MTIME, size)


class StaticDifferential(proxyd_test.Differential):
    """One configuration under proxyd and nginx over the same document tree."""

    @classmethod
    def conf_text(cls, port):
        return CONF % {"port": port, "root": cls.root}

    @classmethod
    def prepare(cls, server):
        shutil.copy(MIME_TYPES, server.path("mime.types"))

    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="proxyd-static-")
        os.chmod(cls.root, 0o755)
        build_tree(cls.root)
        try:
            super().setUpClass()
        except Exception:
            shutil.rmtree(cls.root, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.root, ignore_errors=True)

    def request(self, port, target, method="GET", headers=()):
        req = "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" % (method, target)
        for h in headers:
            req += h + "\r\n"
        return parse(proxyd_test.raw_request(port, (req + "\r\n").encode("latin-1")))

    def both(self, target, method="GET", headers=()):
        return (self.request(self.port, target, method, headers),
                self.request(self.nginx_port, target, method, headers))

    COMPARED = ("content-type", "content-length", "last-modified", "etag", "content-range",
                "accept-ranges")

    def same(self, target, method="GET", headers=(), status=None):
        """proxyd's answer, checked equal to nginx's in status, the compared headers, Location
        (port aside) and body (server name aside)."""
        (ps, ph, pb), (ns, nh, nb) = self.both(target, method, headers)
        self.assertEqual(ps, ns, "status for %s %s" % (method, target))
        for name in self.COMPARED:
            if name == "content-type" and nh.get(name, "").startswith("multipart/byteranges"):
                continue
            self.assertEqual(ph.get(name), nh.get(name), "%s for %s %s" % (name, method, target))
        if "location" in nh or "location" in ph:
            self.assertEqual(ph.get("location", "").replace(str(self.port), "PORT"),
                             nh.get("location", "").replace(str(self.nginx_port), "PORT"))
        norm = lambda b: re.sub(rb"<hr><center>[^<]*</center>", b"", b)
        self.assertEqual(norm(pb), norm(nb), "body for %s %s" % (method, target))
        if status is not None:
            self.assertEqual(ps, status)
        return ps, ph, pb

    # ---- plain files ----

    def test_file_is_served_with_type_length_last_modified_etag_and_accept_ranges(self):
        s, h, b = self.same("/a.txt", status=200)
        self.assertEqual(b, b"hello\n")
        self.assertEqual(h["content-type"], "text/plain")
        self.assertEqual(h["last-modified"], LAST_MODIFIED)
        self.assertEqual(h["etag"], etag(6))
        self.assertEqual(h["accept-ranges"], "bytes")

    def test_content_types_come_from_the_included_mime_types(self):
        for target, ctype in (("/f.css", "text/css"), ("/f.js", "application/javascript"),
                              ("/f.png", "image/png"), ("/f.svg", "image/svg+xml"),
                              ("/index.html", "text/html")):
            with self.subTest(target=target):
                self.assertEqual(self.same(target, status=200)[1]["content-type"], ctype)

    def test_extension_is_matched_ignoring_case(self):
        self.assertEqual(self.same("/page.HTML", status=200)[1]["content-type"], "text/html")

    def test_file_without_extension_and_dot_file_get_default_type(self):
        self.assertEqual(self.same("/noext", status=200)[1]["content-type"], "text/plain")
        self.assertEqual(self.same("/.hidden", status=200)[1]["content-type"], "text/plain")

    def test_location_types_block_replaces_inherited_types(self):
        self.assertEqual(self.same("/types/f.cst", status=200)[1]["content-type"], "text/x-custom")
        self.assertEqual(self.same("/types/f.html", status=200)[1]["content-type"], "application/x-def")
        self.assertEqual(self.same("/types/f.unknown", status=200)[1]["content-type"],
                         "application/x-def")

    def test_empty_file(self):
        s, h, b = self.same("/empty.txt", status=200)
        self.assertEqual(h["content-length"], "0")
        self.assertEqual(b, b"")

    def test_symlink_is_followed(self):
        self.assertEqual(self.same("/link.txt", status=200)[2], b"hello\n")

    def test_head_has_headers_without_body(self):
        s, h, b = self.same("/a.txt", method="HEAD", status=200)
        self.assertEqual(h["content-length"], "6")
        self.assertEqual(b, b"")

    def test_file_read_without_sendfile(self):
        s, h, b = self.same("/nosendfile/data.bin", status=200)
        self.assertEqual(b, bytes(range(256)) * 4096)

    # ---- methods ----

    def test_post_to_a_file_is_405_and_to_a_missing_file_404(self):
        self.same("/a.txt", method="POST", headers=("Content-Length: 0",), status=405)
        self.same("/missing.txt", method="POST", headers=("Content-Length: 0",), status=404)

    def test_put_and_delete_are_405(self):
        self.same("/a.txt", method="PUT", headers=("Content-Length: 0",), status=405)
        self.same("/a.txt", method="DELETE", status=405)
        self.same("/", method="DELETE", status=405)

    # ---- errors and directories ----

    def test_missing_file_is_404_and_logged_as_nginx_does(self):
        self.same("/missing.txt", status=404)
        log = proxyd_test.wait_for_text(self.proxyd.error_log, "missing.txt")
        self.assertIn('[error] ', log)
        self.assertIn('open() "%s/www/missing.txt" failed (2: No such file or directory)' % self.root, log)

    def test_log_not_found_off_keeps_404_out_of_the_log(self):
        self.same("/nolog/nothere.txt", status=404)
        self.same("/a.txt", status=200)
        self.assertNotIn("nothere.txt", self.proxyd.read_error_log())

    def test_file_as_a_directory_is_404(self):
        self.same("/a.txt/x", status=404)

    @unittest.skipIf(os.geteuid() == 0, "root reads any file")
    def test_unreadable_file_is_403(self):
        self.same("/private.txt", status=403)

    def test_directory_without_slash_redirects_301(self):
        self.same("/dir", status=301)
        self.same("/dir?a=1&b=2", status=301)

    def test_directory_with_index(self):
        self.assertEqual(self.same("/dir/", status=200)[2], b"<p>dir index</p>\n")
        self.assertEqual(self.same("/", status=200)[2], b"<p>root index</p>\n")

    def test_directory_without_index_is_403_with_nginx_log_line(self):
        self.same("/noindex/", status=403)
        log = proxyd_test.wait_for_text(self.proxyd.error_log, "directory index")
        self.assertIn('[error] ', log)
        self.assertIn('directory index of "%s/www/noindex/" is forbidden' % self.root, log)

    def test_missing_directory_with_slash_is_404(self):
        self.same("/nodir/", status=404)

    def test_index_tries_each_file_in_order(self):
        self.assertEqual(self.same("/idx/", status=200)[2], b"second\n")

    def test_absolute_last_index_redirects_internally(self):
        self.assertEqual(self.same("/absidx/", status=200)[2], b"absolute index\n")

    def test_index_with_a_variable(self):
        self.assertEqual(self.same("/varidx/?i=v1", status=200)[2], b"variable index\n")
        self.same("/varidx/?i=v2", status=403)

    def test_root_inside_if_applies_when_the_condition_holds(self):
        self.assertEqual(self.same("/ifroot/f.txt", status=200)[2], b"main root\n")
        self.assertEqual(self.same("/ifroot/f.txt?alt=1", status=200)[2], b"alternative root\n")

    # ---- try_files ----

    def test_try_files_serves_an_existing_file(self):
        self.assertEqual(self.same("/tf/exists.txt", status=200)[2], b"exists\n")

    def test_try_files_directory_entry(self):
        self.assertEqual(self.same("/tf/sub/", status=200)[2], b"tf sub index\n")
        self.same("/tf/sub", status=301)

    def test_try_files_falls_back_to_the_last_uri_with_its_own_args(self):
        self.assertEqual(self.same("/tf/none?x=1", status=200)[2], b"fallback\n")

    def test_try_files_code(self):
        self.same("/tf404/none", status=404)
        # a directory does not pass for a file
        self.same("/tf404/", status=404)

    def test_try_files_named_location(self):
        self.assertEqual(self.same("/tfnamed/zzz", status=200)[2], b"from named\n")
        self.assertEqual(self.same("/tfnamed/here.txt", status=200)[2], b"tfnamed here\n")

    def test_try_files_loop_ends_in_500_with_cycle_error(self):
        self.same("/loop/x", status=500)
        log = proxyd_test.wait_for_text(self.proxyd.error_log, "cycle")
        self.assertIn('rewrite or internal redirection cycle while internally redirecting to '
                      '"/loop/missing"', log)

    def test_try_files_with_request_variable_cannot_leave_the_root(self):
        self.same("/vars/?f=vars/v.txt", status=200)
        (ps, _, pb), (ns, _, nb) = self.both("/vars/?f=../secret.txt")
        self.assertEqual(ps, 404)
        self.assertNotIn(b"SECRET", pb)

    # ---- alias ----

    def test_alias_maps_the_rest_of_the_uri(self):
        self.assertEqual(self.same("/alias/a.txt", status=200)[2], b"in alias\n")
        self.assertEqual(self.same("/alias/sub/b.txt", status=200)[2], b"in alias sub\n")
        self.same("/alias/sub", status=301)

    def test_alias_in_regex_location_with_captures(self):
        self.assertEqual(self.same("/re/a.txt", status=200)[2], b"in alias\n")
        self.assertEqual(self.same("/re/sub/b.txt", status=200)[2], b"in alias sub\n")
        self.assertEqual(self.same("/cap/sub/b.txt", status=200)[2], b"in alias sub\n")

    def test_try_files_empty_in_a_regex_alias_location_serves_the_alias_path(self):
        self.assertEqual(self.same("/tfa/a.txt", status=200)[2], b"in alias\n")
        self.same("/tfa/a.txt", headers=["Range: bytes=0-1"], status=206)
        self.same("/tfa/missing.txt", status=404)

    def test_alias_in_regex_location_without_captures_is_the_whole_path(self):
        self.assertEqual(self.same("/any/thing.whole", status=200)[2], b"in alias\n")

    def test_alias_trap_never_serves_outside_the_alias_directory(self):
        # nginx serves data/secret.txt here; proxyd refuses
        (ps, _, pb), (ns, _, nb) = self.both("/img../secret.txt")
        self.assertEqual(ns, 200)
        self.assertIn(b"SECRET", nb)
        self.assertEqual(ps, 404)
        self.assertNotIn(b"SECRET", pb)
        self.assertIn("/data/img/../secret.txt", proxyd_test.wait_for_text(self.proxyd.error_log, "img/.."))
        # the location still serves what is inside
        self.assertEqual(self.same("/img/a.txt", status=200)[2], b"in alias\n")

    # ---- traversal ----

    def test_traversal_attempts_are_answered_as_nginx_and_never_leak(self):
        for target in ("/../secret.txt", "/%2e%2e/secret.txt", "/a/%2E%2E/%2e%2e/secret.txt",
                       "/..%2fsecret.txt", "/%2e%2e%2fsecret.txt", "/%252e%252e/secret.txt",
                       "/..\\secret.txt", "/a.txt%00", "/%00/secret.txt", "/alias/../../secret.txt",
                       "/alias/%2e%2e/secret.txt", "/re/..%2f..%2fsecret.txt", "/./../secret.txt"):
            with self.subTest(target=target):
                s, h, b = self.same(target)
                self.assertIn(s, (400, 403, 404))
                self.assertNotIn(b"SECRET", b)

    # ---- conditional requests ----

    def test_if_modified_since_equal_is_304_without_body_or_type(self):
        s, h, b = self.same("/a.txt", headers=("If-Modified-Since: " + LAST_MODIFIED,), status=304)
        self.assertEqual(b, b"")
        self.assertNotIn("content-type", h)
        self.assertEqual(h["etag"], etag(6))

    def test_if_modified_since_other_date_is_200_unless_before(self):
        later = email.utils.formatdate(MTIME + 60, usegmt=True)
        self.same("/a.txt", headers=("If-Modified-Since: " + later,), status=200)
        self.same("/imsbefore/f.txt", headers=("If-Modified-Since: " + later,), status=304)
        self.same("/imsoff/f.txt", headers=("If-Modified-Since: " + LAST_MODIFIED,), status=200)

    def test_if_modified_since_in_other_date_forms(self):
        self.same("/a.txt", headers=("If-Modified-Since: Tuesday, 14-Nov-23 22:13:20 GMT",), status=304)
        self.same("/a.txt", headers=("If-Modified-Since: Tue Nov 14 22:13:20 2023",), status=304)
        self.same("/a.txt", headers=("If-Modified-Since: garbage",), status=200)

    def test_if_none_match(self):
        self.same("/a.txt", headers=("If-None-Match: " + etag(6),), status=304)
        self.same("/a.txt", headers=("If-None-Match: W/" + etag(6),), status=304)
        self.same("/a.txt", headers=('If-None-Match: "x", ' + etag(6),), status=304)
        self.same("/a.txt", headers=("If-None-Match: *",), status=304)
        self.same("/a.txt", headers=('If-None-Match: "other"',), status=200)
        # "*" matches even a file sent without an ETag
        self.same("/noetag/f.txt", headers=("If-None-Match: *",), status=304)
        self.same("/noetag/f.txt", headers=('If-None-Match: ""',), status=200)
        self.same("/noetag/f.txt", headers=("If-Match: *",), status=200)

    def test_if_none_match_wins_over_if_modified_since(self):
        self.same("/a.txt", headers=('If-None-Match: "other"', "If-Modified-Since: " + LAST_MODIFIED),
                  status=200)

    def test_if_match_and_if_unmodified_since_failures_are_412(self):
        self.same("/a.txt", headers=('If-Match: "other"',), status=412)
        self.same("/a.txt", headers=("If-Match: " + etag(6),), status=200)
        self.same("/a.txt", headers=("If-Match: W/" + etag(6),), status=412)
        earlier = email.utils.formatdate(MTIME - 60, usegmt=True)
        self.same("/a.txt", headers=("If-Unmodified-Since: " + earlier,), status=412)
        self.same("/a.txt", headers=("If-Unmodified-Since: " + LAST_MODIFIED,), status=200)
        self.same("/a.txt", headers=("If-Unmodified-Since: garbage",), status=412)

    def test_etag_off_sends_none(self):
        s, h, b = self.same("/noetag/f.txt", status=200)
        self.assertNotIn("etag", h)

    # ---- ranges ----

    def test_single_range_is_206_with_content_range(self):
        for spec, body in (("0-3", b"0123"), ("5-", b"56789abcdefghij"), ("-3", b"hij"),
                           ("18-100", b"ij"), ("-30", b"0123456789abcdefghij"), ("0-0", b"0"), (" 2 - 4 ", b"234")):
            with self.subTest(spec=spec):
                s, h, b = self.same("/r.txt", headers=("Range: bytes=" + spec,), status=206)
                self.assertEqual(b, body)

    def test_range_on_head(self):
        self.same("/r.txt", method="HEAD", headers=("Range: bytes=0-3",), status=206)

    def test_unsatisfiable_range_is_416_with_star_content_range(self):
        for spec in ("20-", "100-200", "-0", "abc", "5-2", "0-1,", "1-2-3"):
            with self.subTest(spec=spec):
                s, h, b = self.same("/r.txt", headers=("Range: bytes=" + spec,), status=416)
                self.assertEqual(h["content-range"], "bytes */20")

    def test_range_that_is_not_bytes_is_ignored(self):
        self.same("/r.txt", headers=("Range: items=0-3",), status=200)
        self.same("/r.txt", headers=("Range: bytes=",), status=200)
        self.same("/r.txt", headers=("Range: BYTES=0-3",), status=206)

    def test_if_range_decides_whether_the_range_applies(self):
        self.same("/r.txt", headers=("Range: bytes=0-3", "If-Range: " + etag(20)), status=206)
        self.same("/r.txt", headers=("Range: bytes=0-3", 'If-Range: "other"'), status=200)
        self.same("/r.txt", headers=("Range: bytes=0-3", "If-Range: " + LAST_MODIFIED), status=206)
        self.same("/r.txt", headers=("Range: bytes=0-3", "If-Range: Mon, 01 Jan 2001 00:00:00 GMT"),
                  status=200)

    def test_multiple_ranges_are_multipart(self):
        (ps, ph, pb), (ns, nh, nb) = self.both("/r.txt", headers=("Range: bytes=0-1,5-6",))
        self.assertEqual((ps, ns), (206, 206))
        pbound = ph["content-type"].split("boundary=")[1]
        nbound = nh["content-type"].split("boundary=")[1]
        self.assertEqual(len(pbound), len(nbound))
        self.assertEqual(pb.replace(pbound.encode(), b"B"), nb.replace(nbound.encode(), b"B"))
        self.assertEqual(ph["content-length"], nh["content-length"])
        self.assertEqual(int(ph["content-length"]), len(pb))

    def test_overlapping_ranges_larger_than_the_file_send_it_whole(self):
        self.same("/maxr/f.txt", headers=("Range: bytes=0-9,0-9",), status=200)
        self.same("/r.txt", headers=("Range: bytes=0-19,0-19",), status=200)

    def test_max_ranges(self):
        self.same("/maxr/f.txt", headers=("Range: bytes=0-1,3-4",), status=200)
        self.same("/maxr/f.txt", headers=("Range: bytes=0-1",), status=206)
        s, h, b = self.same("/norange/f.txt", headers=("Range: bytes=0-1",), status=200)
        self.assertNotIn("accept-ranges", h)

    def test_range_with_if_none_match_match_is_304(self):
        self.same("/r.txt", headers=("Range: bytes=0-3", "If-None-Match: " + etag(20)), status=304)

    # ---- big file ----

    def test_big_file_arrives_whole(self):
        for target in ("/big.bin", "/nosendfile/big.bin"):
            s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % target).encode())
            chunks = []
            while True:
                b = s.recv(1 << 20)
                if not b:
                    break
                chunks.append(b)
            s.close()
            status, h, body = parse(b"".join(chunks))
            self.assertEqual(status, 200)
            self.assertEqual(len(body), BIG)
            with open(os.path.join(self.root, "www/big.bin"), "rb") as f:
                self.assertEqual(hashlib.sha256(body).hexdigest(), hashlib.sha256(f.read()).hexdigest())

    def test_big_range_arrives_whole(self):
        (ps, ph, pb) = self.request(self.port, "/big.bin", headers=("Range: bytes=1000-20000999",))
        self.assertEqual(ps, 206)
        with open(os.path.join(self.root, "www/big.bin"), "rb") as f:
            f.seek(1000)
            self.assertEqual(pb, f.read(20000000))

    def test_client_abort_halfway_leaks_no_descriptor(self):
        worker = self.proxyd.worker_pids()[0]
        fd_dir = "/proc/%d/fd" % worker
        self.same("/a.txt")
        before = len(os.listdir(fd_dir))
        for target in ("/big.bin", "/nosendfile/big.bin", "/big.bin"):
            s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % target.encode())
            got = 0
            while got < BIG // 2:
                got += len(s.recv(1 << 20))
            s.close()
        # the worker notices each close on its next write; then it still serves
        self.assertEqual(self.same("/a.txt", status=200)[2], b"hello\n")
        deadline = time.time() + 10
        while len(os.listdir(fd_dir)) > before and time.time() < deadline:
            time.sleep(0.05)
        self.assertLessEqual(len(os.listdir(fd_dir)), before)

    def test_keepalive_after_a_file(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        s.sendall(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /r.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        r1, rest = proxyd_test.recv_response(s)
        r2, rest = proxyd_test.recv_response(s, rest)
        s.close()
        self.assertTrue(r1.endswith(b"hello\n"))
        self.assertTrue(r2.endswith(b"0123456789abcdefghij"))


class StaticConfig(proxyd_test.TempDirCase):
    """-t: the alias trap warning, and nginx's messages for bad static directives."""

    def check(self, http, want_rc):
        conf = self.write("proxyd.conf", "events {}\nhttp {\n%s\n}\n" % http)
        p = subprocess.run([proxyd_test.PROXYD_BIN, "-t", "-p", self.dir + "/", "-c", conf],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, want_rc, p.stderr)
        return p.stderr, conf

    def nginx_check(self, http):
        conf = self.write("nginx.conf", "events {}\nhttp {\n%s\n}\n" % http)
        p = subprocess.run([proxyd_test.NGINX_BIN, "-t", "-p", self.dir + "/", "-c", conf, "-e", "stderr"],
                           capture_output=True, text=True, timeout=30)
        return [re.sub(r"^\S+ \S+ \[(\w+)\] \d+#\d+: ", r"[\1] ", l).replace(conf, "CONF")
                for l in p.stderr.splitlines() if "[" in l and "syntax" not in l and "test " not in l]

    def test_alias_trap_warns_with_file_and_line(self):
        err, conf = self.check("server {\n  listen 127.0.0.1:1;\n  location /img {\n"
                               "    alias /data/img/;\n  }\n}", 0)
        self.assertIn('proxyd: [warn] location "/img" without a trailing slash used with alias '
                      '"/data/img/" ending with a slash allows path traversal; proxyd refuses such '
                      'requests in %s:6\n' % conf, err)

    def test_alias_with_matching_slashes_does_not_warn(self):
        for loc, alias in (("/img/", "/data/img/"), ("/img", "/data/img"), ("= /img", "/data/img/"),
                           ("~ ^/img(.*)$", "/data/img/$1")):
            with self.subTest(loc=loc):
                err, _ = self.check("server { location %s { alias %s; } }" % (loc, alias), 0)
                self.assertNotIn("[warn]", err)

    def test_t_does_not_open_the_root(self):
        err, _ = self.check("server { root /nonexistent/dir; index a b; "
                            "location / { try_files $uri =404; } }", 0)
        self.assertNotIn("nonexistent", err)

    def test_bad_directives_fail_with_nginx_messages(self):
        cases = (
            "server { location /a { root /x; alias /y; } }",
            "server { location /a { root /x; root /y; } }",
            "server { location @a { alias /y; } }",
            "server { alias /y; }",
            "server { location /a { root $document_root/x; } }",
            "server { location /a { alias ${realpath_root}x; } }",
            'index "";',
            "server { location / { try_files $uri; } }",
            "server { location / { try_files $uri =abc; } }",
            "server { location / { try_files $uri =1000; } }",
            "server { location / { try_files $uri =; } }",
            "try_files a b;",
            "types { text/html html { } }",
            "types_hash_bucket_size 100000; server { }",
            "server { location / { types_hash_bucket_size 8; types { text/html %s; } } }" % ("a" * 70),
            "types_hash_max_size 0; server { }",
            "types_hash_max_size abc;",
            "sendfile_max_chunk 1x;",
            "max_ranges -1;",
            "if_modified_since foo;",
            "output_buffers 0 32k;",
            "output_buffers 1;",
            "sendfile maybe;",
        )
        for http in cases:
            with self.subTest(http=http):
                err, conf = self.check(http, 1)
                got = [l.replace("proxyd: ", "").replace(conf, "CONF") for l in err.splitlines()
                       if l.startswith("proxyd: [")]
                self.assertEqual(got, self.nginx_check(http))

    def test_warnings_match_nginx(self):
        for http in ("index /a.html b.html;",
                     "types { text/html html; text/plain HTML; }",
                     "types_hash_max_size 1; types { text/html a b c d e f g h i j k l m; } server { }"):
            with self.subTest(http=http):
                err, conf = self.check(http, 0)
                got = [l.replace("proxyd: ", "").replace(conf, "CONF") for l in err.splitlines()
                       if l.startswith("proxyd: [")]
                self.assertEqual(got, self.nginx_check(http))


if __name__ == "__main__":
    proxyd_test.main()
