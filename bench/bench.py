#!/usr/bin/python3
"""Side-by-side benchmark: proxyd, nginx and HAProxy in front of the same backend, on loopback.

Every proxy runs one worker pinned to CPU 0; the backend (nginx, `return 200` and a 1 MiB
static file, one worker) and the load generator (wrk) share CPU 1. Each scenario runs the
proxies in turn, ROUNDS times, so that drift on the machine hits all of them alike; the table
shows the median round. Figures per scenario and proxy:

  req/s      wrk's requests per second
  p50, p99   wrk's latency percentiles
  cpu/1k     user+sys CPU time of the proxy's processes per 1,000 requests, read from
             /proc/PID/stat before and after (steadier than req/s on a 2-core machine)
  rss        the proxy worker's peak resident memory (VmHWM)

and the ratios proxyd/nginx and proxyd/HAProxy (req/s: higher is better; cpu/1k: lower is
better). Scenario "idle" opens 8,000 keepalive connections that each made one request and
reports the worker's memory per connection instead (8,000: the file descriptor limit of this
machine, 20,000, must hold them twice over; HAProxy's maxconn is 9,000).

Usage: bench.py [--seconds N] [--rounds N] [--only SCENARIO,...] [--proxyd PATH] [--results FILE]
"""
import argparse
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PROXY_CPU = "0"
LOAD_CPU = "1"
PORTS = {"backend": 18080, "proxyd": 18081, "nginx": 18082, "haproxy": 18083}
CLK = os.sysconf("SC_CLK_TCK")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def wait_port(port, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
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
        listen 127.0.0.1:{backend};
        root {dir}/www;
        location = /small {{ return 200 "hello"; }}
        location = /post {{ return 200 "ok"; }}
        location = /1m {{ }}
    }}
}}
"""

NGINX_CONF = """
daemon off; master_process on; worker_processes 1; pid {dir}/nginx.pid; user root;
error_log {dir}/nginx.err error; worker_rlimit_nofile 20000;
events {{ worker_connections 16384; }}
http {{
    access_log off; keepalive_requests 1000000; keepalive_timeout 300s;
    client_max_body_size 10m; client_body_temp_path {dir}/nginx_body;
    proxy_temp_path {dir}/nginx_proxy;
    upstream backend {{ server 127.0.0.1:{backend}; keepalive 32; }}
    server {{
        listen 127.0.0.1:{nginx};
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
daemon off; master_process on; worker_processes 1; pid {dir}/proxyd.pid;
error_log {dir}/proxyd.err error; worker_rlimit_nofile 20000;
events {{ worker_connections 16384; }}
http {{
    access_log off; keepalive_requests 1000000; keepalive_timeout 300s;
    client_max_body_size 10m; client_body_temp_path {dir}/proxyd_body;
    proxy_temp_path {dir}/proxyd_proxy;
    server {{
        listen 127.0.0.1:{proxyd};
        location / {{ proxy_pass http://127.0.0.1:{backend}; }}
    }}
}}
"""

HAPROXY_CONF = """
global
    nbthread 1
    maxconn 9000
    pidfile {dir}/haproxy.pid
defaults
    mode http
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    timeout http-keep-alive 300s
    option http-keep-alive
    http-reuse always
frontend fe
    bind 127.0.0.1:{haproxy}
    default_backend be
backend be
    server b1 127.0.0.1:{backend}
"""


class Server:
    def __init__(self, name, cmd, port, cpu):
        self.name = name
        self.proc = subprocess.Popen(["taskset", "-c", cpu] + cmd, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(port)
        time.sleep(0.2)

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
    # name: (description, path, wrk connections, extra wrk arguments)
    "small": ("small responses over keepalive, 64 connections", "/small", 64, []),
    "1m": ("1 MiB responses, 8 connections", "/1m", 8, []),
    "post": ("100 KiB request bodies (POST), 16 connections", "/post", 16, ["-s", "{dir}/post.lua"]),
    "newconn": ("a new client connection per request, 16 connections", "/small", 16,
                ["-H", "Connection: close"]),
}


def load(server, port, path, conns, extra, seconds, workdir):
    extra = [a.replace("{dir}", workdir) for a in extra]
    before = server.cpu_ticks()
    out = run(["taskset", "-c", LOAD_CPU, "wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds,
               "--latency"] + extra + ["http://127.0.0.1:%d%s" % (port, path)],
              capture_output=True, text=True).stdout
    ticks = server.cpu_ticks() - before
    rps, p50, p99, requests, errors = parse_wrk(out)
    if errors:
        print("    %s: %d errors or non-2xx answers (they count in req/s)" % (server.name, errors),
              file=sys.stderr)
    cpu_ms_per_1k = (ticks * 1000.0 / CLK) / requests * 1000 if requests else 0.0
    return {"rps": rps, "p50": p50, "p99": p99, "cpu": cpu_ms_per_1k, "errors": errors,
            "rss": server.memory("VmHWM") / 1024.0}


def idle_connections(server, port, count=8000):
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    count = min(count, soft - 200)
    """Memory per idle keepalive connection: the worker's RSS growth over count connections
    that each made one request, divided by count."""
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


def fmt_ratio(a, b):
    return "%.2f" % (a / b) if b else "-"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default="small,1m,post,newconn,idle")
    ap.add_argument("--proxyd", default=os.path.join(ROOT, "build", "proxyd"))
    ap.add_argument("--results", default=None, help="also write the table to this file")
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    workdir = tempfile.mkdtemp(prefix="proxyd-bench-")
    os.makedirs(os.path.join(workdir, "www"))
    with open(os.path.join(workdir, "www", "1m"), "wb") as f:
        f.write(b"x" * (1 << 20))
    with open(os.path.join(workdir, "post.lua"), "w") as f:
        f.write('wrk.method = "POST"\nwrk.body = string.rep("p", 102400)\n'
                'wrk.headers["Content-Type"] = "application/octet-stream"\n')
    fill = dict(PORTS, dir=workdir)
    confs = {}
    for name, text in (("backend", BACKEND_CONF), ("nginx", NGINX_CONF), ("proxyd", PROXYD_CONF),
                       ("haproxy", HAPROXY_CONF)):
        path = os.path.join(workdir, name + ".conf")
        with open(path, "w") as f:
            f.write(text.format(**fill))
        confs[name] = path

    servers = {}
    try:
        servers["backend"] = Server("backend", ["nginx", "-p", workdir + "/", "-c", confs["backend"]],
                                    PORTS["backend"], LOAD_CPU)
        servers["proxyd"] = Server("proxyd", [args.proxyd, "-p", workdir + "/", "-c", confs["proxyd"]],
                                   PORTS["proxyd"], PROXY_CPU)
        servers["nginx"] = Server("nginx", ["nginx", "-p", workdir + "/", "-c", confs["nginx"]],
                                  PORTS["nginx"], PROXY_CPU)
        proxies = ["proxyd", "nginx"]
        if shutil.which("haproxy"):
            servers["haproxy"] = Server("haproxy", ["haproxy", "-W", "-db", "-f", confs["haproxy"]],
                                        PORTS["haproxy"], PROXY_CPU)
            proxies.append("haproxy")
        else:
            print("haproxy not installed: its column stays empty", file=sys.stderr)

        rows = []
        # idle first, while every proxy is fresh: connection slots touched by the load
        # scenarios would already count in the base RSS and hide their cost
        order = sorted(args.only.split(","), key=lambda x: x != "idle")
        for scen in order:
            if scen == "idle":
                res = {}
                for p in proxies:
                    try:
                        res[p] = idle_connections(servers[p], PORTS[p])
                    except (OSError, RuntimeError) as e:
                        print("idle: %s failed: %s" % (p, e), file=sys.stderr)
                        res[p] = {"per_conn": 0.0, "rss": servers[p].memory() / 1024.0}
                rows.append(("idle", "8,000 idle keepalive connections: memory per connection", res))
                print("idle: " + ", ".join("%s %.0f B/conn" % (p, res[p]["per_conn"]) for p in proxies),
                      file=sys.stderr)
                continue
            desc, path, conns, extra = SCENARIOS[scen]
            runs = {p: [] for p in proxies}
            for rnd in range(args.rounds):
                # a different proxy goes first each round: the order itself must not favour one
                for p in proxies[rnd % len(proxies):] + proxies[:rnd % len(proxies)]:
                    runs[p].append(load(servers[p], PORTS[p], path, conns, extra, args.seconds, workdir))
            res = {}
            for p in proxies:
                by_rps = sorted(runs[p], key=lambda r: r["rps"])
                med = dict(by_rps[len(by_rps) // 2])
                med["cpu"] = statistics.median(r["cpu"] for r in runs[p])
                res[p] = med
            rows.append((scen, desc, res))
            print("%s: " % scen + ", ".join("%s %.0f req/s %.1f ms/1k" % (p, res[p]["rps"], res[p]["cpu"])
                                            for p in proxies), file=sys.stderr)
    finally:
        for s in servers.values():
            s.stop()
        shutil.rmtree(workdir, True)

    lines = ["| scenario | proxy | req/s | p50 ms | p99 ms | CPU ms / 1k req | peak RSS MiB | "
             "req/s vs nginx | CPU vs nginx | req/s vs HAProxy | CPU vs HAProxy |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for scen, desc, res in rows:
        if scen == "idle":
            for p, r in res.items():
                ratio_n = fmt_ratio(res["proxyd"]["per_conn"], res["nginx"]["per_conn"]) if p == "proxyd" else ""
                ratio_h = (fmt_ratio(res["proxyd"]["per_conn"], res["haproxy"]["per_conn"])
                           if p == "proxyd" and "haproxy" in res else "")
                lines.append("| idle (bytes/conn) | %s | %.0f B/conn | | | | %.1f | mem %s | | mem %s | |"
                             % (p, r["per_conn"], r["rss"], ratio_n, ratio_h))
            continue
        for p, r in res.items():
            cols = ["", "", "", ""]
            if p == "proxyd":
                cols = [fmt_ratio(r["rps"], res["nginx"]["rps"]), fmt_ratio(r["cpu"], res["nginx"]["cpu"]),
                        fmt_ratio(r["rps"], res["haproxy"]["rps"]) if "haproxy" in res else "-",
                        fmt_ratio(r["cpu"], res["haproxy"]["cpu"]) if "haproxy" in res else "-"]
            lines.append("| %s | %s | %.0f | %.2f | %.2f | %.1f | %.1f | %s |"
                         % (scen, p, r["rps"], r["p50"], r["p99"], r["cpu"], r["rss"], " | ".join(cols)))
    table = "\n".join(lines)
    print(table)
    if args.results:
        with open(args.results, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
