#!/usr/bin/python3
"""Side-by-side benchmark: proxyd, nginx and HAProxy in front of the same backend, on loopback.

Every proxy runs one worker pinned to CPU 0; the backend (nginx, `return 200` and a 1 MiB
static file, one worker) and the load generator (wrk, h2load) share CPU 1. Each scenario runs the
proxies in turn, ROUNDS times, so that drift on the machine hits all of them alike; the table
shows the median round. Figures per scenario and proxy:

  req/s      wrk's (h2load's) requests per second
  p50, p99   wrk's latency percentiles (from h2load's per-request log)
  cpu/1k     user+sys CPU time of the proxy's processes per 1,000 requests, read from
             /proc/PID/stat before and after (steadier than req/s on a 2-core machine)
  rss        the proxy worker's peak resident memory (VmHWM)

and the ratios proxyd/nginx and proxyd/HAProxy (req/s: higher is better; cpu/1k: lower is
better). Scenario "idle" opens 8,000 keepalive connections that each made one request and
reports the worker's memory per connection instead (8,000: the file descriptor limit of this
machine, 20,000, must hold them twice over; HAProxy's maxconn is 9,000).

Scenarios "https", "handshakes" and "h2" run against a second and third set of proxy
instances, started only when one of them is asked for, that terminate TLS with one ECDSA P-256
certificate made for the run (TLSv1.2 and TLSv1.3 allowed, session cache and tickets off so
that no handshake is resumed; checked before the load). "h2" uses h2load and ALPN h2 only; a
proxy that cannot do it (does not start, negotiates no h2, answers nothing) gets a FAILED row
and the bench goes on.

Usage: bench.py [--seconds N] [--rounds N] [--only SCENARIO,...] [--proxyd PATH] [--results FILE]
(scenarios: small, 1m, post, newconn, idle, https, handshakes, h2; all by default)
"""
import argparse
import os
import resource
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PROXY_CPU = "0"
LOAD_CPU = "1"
BACKEND_PORT = 18080
# one set of proxy instances per kind of listener: plain HTTP, TLS, TLS with HTTP/2
PORTS = {"plain": {"proxyd": 18081, "nginx": 18082, "haproxy": 18083},
         "tls": {"proxyd": 18091, "nginx": 18092, "haproxy": 18093},
         "h2": {"proxyd": 18101, "nginx": 18102, "haproxy": 18103}}
CLK = os.sysconf("SC_CLK_TCK")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def wait_port(port, proc, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("exited with status %d" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on port %d" % port)


# ---- configurations: equivalent on purpose (one worker, upstream keepalive, no logs) ----

BACKEND_CONF = """
daemon off; master_process off; worker_processes 1; pid {dir}/backend.pid;
error_log {dir}/backend.err error; worker_rlimit_nofile 20000;
events {{ worker_connections 16384; }}
http {{
    access_log off; keepalive_requests 1000000; keepalive_timeout 300s;
    client_max_body_size 10m; client_body_buffer_size 1m;
    server {{
        listen 127.0.0.1:{backend_port};
        root {dir}/www;
        location = /small {{ return 200 "hello"; }}
        location = /post {{ return 200 "ok"; }}
        location = /1m {{ }}
    }}
}}
"""

NGINX_CONF = """
daemon off; master_process on; worker_processes 1; pid {dir}/{name}.pid; user root;
error_log {dir}/{name}.err error; worker_rlimit_nofile 20000;
events {{ worker_connections 16384; }}
http {{
    access_log off; keepalive_requests 1000000; keepalive_timeout 300s;
    client_max_body_size 10m; client_body_temp_path {dir}/{name}_body;
    proxy_temp_path {dir}/{name}_proxy;
    upstream backend {{ server 127.0.0.1:{backend_port}; keepalive 32; }}
    server {{
        listen 127.0.0.1:{port}{listen};{tls}
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""

# proxyd: current nginx's defaults already are HTTP/1.1 with upstream keepalive
PROXYD_CONF = """
daemon off; master_process on; worker_processes 1; pid {dir}/{name}.pid;
error_log {dir}/{name}.err error; worker_rlimit_nofile 20000;
events {{ worker_connections 16384; }}
http {{
    access_log off; keepalive_requests 1000000; keepalive_timeout 300s;
    client_max_body_size 10m; client_body_temp_path {dir}/{name}_body;
    proxy_temp_path {dir}/{name}_proxy;
    server {{
        listen 127.0.0.1:{port}{listen};{tls}
        location / {{ proxy_pass http://127.0.0.1:{backend_port}; }}
    }}
}}
"""

HAPROXY_CONF = """
global
    nbthread 1
    maxconn 9000
    pidfile {dir}/{name}.pid{tls_global}
defaults
    mode http
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    timeout http-keep-alive 300s
    option http-keep-alive
    http-reuse always
frontend fe
    bind 127.0.0.1:{port}{bind}
    default_backend be
backend be
    server b1 127.0.0.1:{backend_port}
"""

# nginx and proxyd on a TLS listener. nginx 1.22 allows TLSv1 and TLSv1.1 by default and
# HAProxy 2.6 starts at TLSv1.2: the same two protocols everywhere. No session cache and no
# tickets, so that every new connection is a full handshake (wrk resumes sessions when it can).
TLS_DIRECTIVES = """
        ssl_certificate {dir}/cert.pem; ssl_certificate_key {dir}/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3; ssl_session_cache off; ssl_session_tickets off;"""


def proxy_conf(proxy, variant, name, workdir):
    """The configuration of one proxy instance of one variant (plain, tls, h2)."""
    fill = {"dir": workdir, "name": name, "port": PORTS[variant][proxy], "backend_port": BACKEND_PORT}
    tls = variant != "plain"
    if proxy == "haproxy":
        # prefer-client-ciphers: nginx's and proxyd's default, so the client's first choice
        # (AES-256 for wrk, AES-128 for h2load) wins everywhere
        bind = " ssl crt %s/haproxy.pem no-tls-tickets prefer-client-ciphers" % workdir if tls else ""
        if variant == "h2":
            bind += " alpn h2,http/1.1"
        return HAPROXY_CONF.format(bind=bind, tls_global="\n    tune.ssl.cachesize 0" if tls else "",
                                   **fill)
    listen = " ssl" if tls else ""
    directives = TLS_DIRECTIVES.format(dir=workdir) if tls else ""
    if variant == "h2":
        if proxy == "nginx":
            listen += " http2"  # 1.22 has no "http2" directive yet
        else:
            directives += "\n        http2 on;"  # proxyd follows current nginx
    return (NGINX_CONF if proxy == "nginx" else PROXYD_CONF).format(listen=listen, tls=directives, **fill)


def make_certificate(workdir):
    """One self-signed ECDSA P-256 certificate for all proxies; HAProxy wants cert and key in one file."""
    cert, key = os.path.join(workdir, "cert.pem"), os.path.join(workdir, "key.pem")
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost"], capture_output=True)
    with open(os.path.join(workdir, "haproxy.pem"), "w") as out:
        for path in (cert, key):
            with open(path) as f:
                out.write(f.read())


def tls_check(port):
    """Three connections in a row, each offering the previous one's session (after reading an
    answer, so that TLSv1.3 tickets have arrived): returns the protocol, the cipher and whether
    the proxy resumed any session."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    session, resumed, info = None, False, ("", "")
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with ctx.wrap_socket(raw, session=session) as s:
                s.sendall(b"GET /small HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
                while s.recv(4096):
                    pass
                resumed = resumed or s.session_reused
                info = (s.version(), s.cipher()[0])
                session = s.session
    return info[0], info[1], resumed


class Server:
    def __init__(self, name, cmd, port, cpu, workdir):
        self.name = name
        self.logs = [os.path.join(workdir, name + ".stderr"), os.path.join(workdir, name + ".err")]
        with open(self.logs[0], "wb") as log:
            self.proc = subprocess.Popen(["taskset", "-c", cpu] + cmd, stdout=subprocess.DEVNULL,
                                         stderr=log)
        try:
            wait_port(port, self.proc)
        except RuntimeError as e:
            self.stop()
            raise RuntimeError("%s: %s" % (e, self.last_error()))
        time.sleep(0.2)

    def last_error(self):
        """The last line the server wrote to stderr or its error log: why it did not start."""
        for path in self.logs:
            try:
                with open(path, errors="replace") as f:
                    lines = [x.strip() for x in f if x.strip()]
            except OSError:
                continue
            if lines:
                return lines[-1]
        return "no message"

    def pids(self):
        """The master and its children (workers)."""
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return [self.proc.pid] + [int(x) for x in out.stdout.split()]

    def worker(self):
        pids = self.pids()
        return pids[-1]

    def cpu_ticks(self):
        total = 0
        for pid in self.pids():
            try:
                with open("/proc/%d/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except OSError:
                pass
        return total

    def memory(self, field="VmRSS"):
        try:
            with open("/proc/%d/status" % self.worker()) as f:
                for line in f:
                    if line.startswith(field + ":"):
                        return int(line.split()[1])  # kB
        except OSError:
            pass
        return 0

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def parse_wrk(text):
    rps = p50 = p99 = 0.0
    requests = errors = 0
    units = {"us": 1e-3, "ms": 1.0, "s": 1000.0}

    def ms(v):
        for u in ("us", "ms", "s"):
            if v.endswith(u):
                return float(v[: -len(u)]) * units[u]
        return float(v)

    for line in text.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            rps = float(parts[1])
        elif len(parts) == 2 and parts[0] == "50%":
            p50 = ms(parts[1])
        elif len(parts) == 2 and parts[0] == "99%":
            p99 = ms(parts[1])
        elif "requests in" in line:
            requests = int(parts[0])
        elif "Non-2xx" in line:
            errors += int(parts[-1])
        elif "Socket errors" in line:
            errors += sum(int(x.rstrip(",")) for x in parts[3::2])
    return rps, p50, p99, requests, errors


SCENARIOS = {
    # name: (description, proxy instances, load tool, path, connections, extra tool arguments)
    "small": ("small responses over keepalive, 64 connections", "plain", "wrk", "/small", 64, []),
    "1m": ("1 MiB responses, 8 connections", "plain", "wrk", "/1m", 8, []),
    "post": ("100 KiB request bodies (POST), 16 connections", "plain", "wrk", "/post", 16,
             ["-s", "{dir}/post.lua"]),
    "newconn": ("a new client connection per request, 16 connections", "plain", "wrk", "/small", 16,
                ["-H", "Connection: close"]),
    "https": ("small responses over TLS keepalive, 64 connections", "tls", "wrk", "/small", 64, []),
    # the proxies refuse resumption (checked by tls_check), so each connection is a full handshake
    "handshakes": ("a new TLS connection (full handshake) per request, 16 connections", "tls", "wrk",
                   "/small", 16, ["-H", "Connection: close"]),
    "h2": ("HTTP/2 over TLS, 8 connections with 32 streams each (h2load)", "h2", "h2load", "/small", 8,
           ["-m", "32"]),
}
ALL = ["small", "1m", "post", "newconn", "idle", "https", "handshakes", "h2"]


def parse_h2load(text, in_flight):
    """req/s, responses, failed or non-2xx requests and the negotiated protocol (h2load exits 0
    even when no request succeeded). When the duration (-D) ends h2load abandons the requests in
    flight, at most in_flight of them, and counts them failed: only failures beyond those count."""
    rps = 0.0
    answered = errors = 0
    proto = ""
    for line in text.splitlines():
        parts = line.replace(",", "").split()
        if line.startswith("finished in"):
            rps = float(parts[3])
        elif line.startswith("requests:"):
            # requests: N total, N started, N done, N succeeded, N failed, N errored, N timeout
            errors += max(0, int(parts[9]) - in_flight)  # "failed" includes errored and timeout
        elif line.startswith("status codes:"):
            # status codes: N 2xx, N 3xx, N 4xx, N 5xx
            counts = [int(parts[i]) for i in (2, 4, 6, 8)]
            answered = sum(counts)
            errors += sum(counts[1:])
        elif line.startswith("Application protocol:"):
            proto = parts[2]
    return rps, answered, errors, proto


def percentiles(logfile):
    """p50 and p99 in ms from h2load's --log-file (third column: microseconds to the response's end)."""
    times = []
    with open(logfile) as f:
        for line in f:
            cols = line.split("\t")
            if len(cols) >= 3:
                times.append(int(cols[2]))
    if not times:
        return 0.0, 0.0
    times.sort()
    return times[len(times) // 2] / 1000.0, times[min(len(times) - 1, len(times) * 99 // 100)] / 1000.0


def load(server, port, scen, seconds, workdir):
    """One round of one scenario against one proxy: the figures, or {"failed": why}."""
    _, variant, tool, path, conns, extra = SCENARIOS[scen]
    extra = [a.replace("{dir}", workdir) for a in extra]
    url = "%s://127.0.0.1:%d%s" % ("http" if variant == "plain" else "https", port, path)
    before = server.cpu_ticks()
    if tool == "wrk":
        out = subprocess.run(["taskset", "-c", LOAD_CPU, "wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds,
                              "--latency"] + extra + [url], capture_output=True, text=True)
        ticks = server.cpu_ticks() - before
        rps, p50, p99, requests, errors = parse_wrk(out.stdout)
        if out.returncode != 0:
            said = (out.stderr + out.stdout).strip().splitlines()
            return {"failed": "wrk: " + (said[-1] if said else "exit status %d" % out.returncode)}
    else:
        logfile = os.path.join(workdir, "h2load.log")
        # --npn-list sets ALPN too in nghttp2 1.52 (it has no --alpn-list): h2 only, no fallback
        out = subprocess.run(["taskset", "-c", LOAD_CPU, "h2load", "-t1", "-c%d" % conns, "-D%d" % seconds,
                              "--npn-list=h2", "--log-file=" + logfile] + extra + [url],
                             capture_output=True, text=True)
        ticks = server.cpu_ticks() - before
        if out.returncode != 0:
            said = out.stderr.strip().splitlines()
            return {"failed": "h2load: " + (said[0] if said else "exit status %d" % out.returncode)}
        streams = int(extra[extra.index("-m") + 1]) if "-m" in extra else 1
        rps, requests, errors, proto = parse_h2load(out.stdout, conns * streams)
        if proto != "h2":
            return {"failed": "h2 not negotiated (ALPN)"}
        p50, p99 = percentiles(logfile)
    if requests == 0 or errors >= requests:
        return {"failed": "no request answered with 2xx (%d requests, %d failed or non-2xx)"
                % (requests, errors)}
    if errors:
        print("    %s: %d failed requests or non-2xx answers (they count in req/s)" % (server.name, errors),
              file=sys.stderr)
    cpu_ms_per_1k = (ticks * 1000.0 / CLK) / requests * 1000
    return {"rps": rps, "p50": p50, "p99": p99, "cpu": cpu_ms_per_1k, "errors": errors,
            "rss": server.memory("VmHWM") / 1024.0}


def idle_connections(server, port, count=8000):
    """Memory per idle keepalive connection: the worker's RSS growth over count connections
    that each made one request, divided by count."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    count = min(count, soft - 200)
    base = server.memory()
    socks = []
    req = b"GET /small HTTP/1.1\r\nHost: b\r\n\r\n"
    try:
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(req)
            socks.append(s)
        for s in socks:
            s.settimeout(10)
            got = b""
            while b"hello" not in got:
                d = s.recv(4096)
                if not d:
                    raise RuntimeError("connection closed")
                got += d
        time.sleep(0.5)
        grown = server.memory() - base
        return {"per_conn": grown * 1024.0 / count, "rss": server.memory() / 1024.0}
    finally:
        for s in socks:
            s.close()


def start_proxies(variant, args, workdir):
    """Starts every proxy's instance for one variant: ({proxy: Server}, {proxy: why it failed},
    the proxies that resumed a TLS session)."""
    servers, failed, resumers = {}, {}, set()
    proxies = ["proxyd", "nginx"] + (["haproxy"] if shutil.which("haproxy") else [])
    if len(proxies) == 2:
        print("haproxy not installed: its column stays empty", file=sys.stderr)
    if variant != "plain":
        try:
            if not os.path.exists(os.path.join(workdir, "haproxy.pem")):
                make_certificate(workdir)
        except (OSError, subprocess.CalledProcessError) as e:
            return {}, {p: "no certificate (openssl: %s)" % e for p in proxies}, resumers
    for p in proxies:
        name = p if variant == "plain" else "%s-%s" % (p, variant)
        conf = os.path.join(workdir, name + ".conf")
        with open(conf, "w") as f:
            f.write(proxy_conf(p, variant, name, workdir))
        cmd = {"proxyd": [args.proxyd, "-p", workdir + "/", "-c", conf],
               "nginx": ["nginx", "-p", workdir + "/", "-c", conf],
               "haproxy": ["haproxy", "-W", "-db", "-f", conf]}[p]
        try:
            servers[p] = Server(name, cmd, PORTS[variant][p], PROXY_CPU, workdir)
        except RuntimeError as e:
            failed[p] = "did not start (%s)" % e
            print("%s: %s" % (name, failed[p]), file=sys.stderr)
    if variant == "tls":
        # wrk resumes TLS sessions whenever the server lets it: a proxy that does would turn
        # "handshakes" into a test of resumption
        for p in list(servers):
            try:
                version, cipher, resumed = tls_check(PORTS[variant][p])
            except (OSError, ssl.SSLError) as e:
                failed[p] = "TLS check failed (%s)" % e
                continue
            print("tls: %s negotiates %s %s%s" % (p, version, cipher,
                                                  ", RESUMED A SESSION" if resumed else ", resumes none"),
                  file=sys.stderr)
            if resumed:
                resumers.add(p)
    return servers, failed, resumers


def ok(res, p):
    return p in res and "failed" not in res[p]


def fmt_ratio(a, b):
    return "%.2f" % (a / b) if b else "-"


def ratio(res, key, other):
    return fmt_ratio(res["proxyd"][key], res[other][key]) if ok(res, "proxyd") and ok(res, other) else "-"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default=",".join(ALL), help="comma-separated, from: " + ", ".join(ALL))
    ap.add_argument("--proxyd", default=os.path.join(ROOT, "build", "proxyd"))
    ap.add_argument("--results", default=None, help="also write the table to this file")
    args = ap.parse_args()
    wanted = [x for x in args.only.split(",") if x]
    unknown = [x for x in wanted if x not in ALL]
    if unknown:
        ap.error("unknown scenario %s (known: %s)" % (", ".join(unknown), ", ".join(ALL)))

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    workdir = tempfile.mkdtemp(prefix="proxyd-bench-")
    os.makedirs(os.path.join(workdir, "www"))
    with open(os.path.join(workdir, "www", "1m"), "wb") as f:
        f.write(b"x" * (1 << 20))
    with open(os.path.join(workdir, "post.lua"), "w") as f:
        f.write('wrk.method = "POST"\nwrk.body = string.rep("p", 102400)\n'
                'wrk.headers["Content-Type"] = "application/octet-stream"\n')
    backend_conf = os.path.join(workdir, "backend.conf")
    with open(backend_conf, "w") as f:
        f.write(BACKEND_CONF.format(dir=workdir, backend_port=BACKEND_PORT))

    backend = None
    variants = {}  # variant: what start_proxies returned
    try:
        backend = Server("backend", ["nginx", "-p", workdir + "/", "-c", backend_conf], BACKEND_PORT,
                         LOAD_CPU, workdir)
        rows = []
        # idle first, while every proxy is fresh: connection slots touched by the load
        # scenarios would already count in the base RSS and hide their cost
        order = sorted(wanted, key=lambda x: x != "idle")
        for scen in order:
            variant = "plain" if scen == "idle" else SCENARIOS[scen][1]
            if variant not in variants:
                variants[variant] = start_proxies(variant, args, workdir)
            servers, failed, resumers = variants[variant]
            proxies = [p for p in ("proxyd", "nginx", "haproxy") if p in servers or p in failed]
            res = {p: {"failed": failed[p]} for p in proxies if p in failed}
            if scen == "handshakes":
                res.update({p: {"failed": "resumed a TLS session: not every handshake is full"}
                            for p in resumers})
            if scen == "h2" and not shutil.which("h2load"):
                res.update({p: {"failed": "h2load not installed (Debian package nghttp2-client)"}
                            for p in proxies})
            live = [p for p in proxies if p not in res]
            if scen == "idle":
                for p in live:
                    try:
                        res[p] = idle_connections(servers[p], PORTS[variant][p])
                    except (OSError, RuntimeError) as e:
                        print("idle: %s failed: %s" % (p, e), file=sys.stderr)
                        res[p] = {"per_conn": 0.0, "rss": servers[p].memory() / 1024.0}
                rows.append(("idle", "8,000 idle keepalive connections: memory per connection", res))
                print("idle: " + ", ".join("%s %.0f B/conn" % (p, res[p]["per_conn"]) for p in live),
                      file=sys.stderr)
                continue
            runs = {p: [] for p in live}
            for rnd in range(args.rounds if live else 0):
                # a different proxy goes first each round: the order itself must not favour one
                for p in live[rnd % len(live):] + live[:rnd % len(live)]:
                    runs[p].append(load(servers[p], PORTS[variant][p], scen, args.seconds, workdir))
            for p in live:
                bad = [r for r in runs[p] if "failed" in r]
                if bad:
                    res[p] = bad[0]
                    continue
                by_rps = sorted(runs[p], key=lambda r: r["rps"])
                med = dict(by_rps[len(by_rps) // 2])
                med["cpu"] = statistics.median(r["cpu"] for r in runs[p])
                res[p] = med
            res = {p: res[p] for p in proxies}
            rows.append((scen, SCENARIOS[scen][0], res))
            print("%s: " % scen + ", ".join("%s FAILED: %s" % (p, r["failed"]) if "failed" in r else
                                            "%s %.0f req/s %.1f ms/1k" % (p, r["rps"], r["cpu"])
                                            for p, r in res.items()), file=sys.stderr)
    finally:
        for servers, _, _ in variants.values():
            for s in servers.values():
                s.stop()
        if backend:
            backend.stop()
        shutil.rmtree(workdir, True)

    lines = ["| scenario | proxy | req/s | p50 ms | p99 ms | CPU ms / 1k req | peak RSS MiB | "
             "req/s vs nginx | CPU vs nginx | req/s vs HAProxy | CPU vs HAProxy |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for scen, desc, res in rows:
        for p, r in res.items():
            if "failed" in r:
                why = r["failed"].replace("|", "/").replace("\n", " ")
                lines.append("| %s | %s | FAILED: %s | | | | | | | | |" % (scen, p, why))
            elif scen == "idle":
                ratio_n = ratio(res, "per_conn", "nginx") if p == "proxyd" else ""
                ratio_h = ratio(res, "per_conn", "haproxy") if p == "proxyd" and "haproxy" in res else ""
                lines.append("| idle (bytes/conn) | %s | %.0f B/conn | | | | %.1f | mem %s | | mem %s | |"
                             % (p, r["per_conn"], r["rss"], ratio_n, ratio_h))
            else:
                cols = ["", "", "", ""]
                if p == "proxyd":
                    cols = [ratio(res, "rps", "nginx"), ratio(res, "cpu", "nginx"),
                            ratio(res, "rps", "haproxy"), ratio(res, "cpu", "haproxy")]
                lines.append("| %s | %s | %.0f | %.2f | %.2f | %.1f | %.1f | %s |"
                             % (scen, p, r["rps"], r["p50"], r["p99"], r["cpu"], r["rss"], " | ".join(cols)))
    table = "\n".join(lines)
    print(table)
    if args.results:
        with open(args.results, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
