#!/usr/bin/env python3
"""Metric 12 (issue #8): HTTP requests/s through a published port on 127.0.0.1
(ukd's relay, ukd/portfwd.c) vs a client inside ukd's namespace straight to the
guest's address, target ratio >= 0.8.

One ukd (ukd_bench.Ukd: own --root, --socket, --netns, cleaned up on exit)
runs the httpd example built from a context with the 612-byte page of metric 9,
published as -p PORT:8080. wrk -t1 -c8 keep-alive runs alternately direct (in
the namespace) and through the port (A B B A A B ...), after a warm-up of each.
Runs are short (2 s) and many (20 pairs): on a shared host the load drifts
within seconds, and only runs close together in time compare. The result is
the median of each side and the median of per-pair ratios with its spread
(quartiles, min-max); and ukd's own CPU time per relayed request (utime +
stime from /proc during one more run; it moves with the host's load too, less).
A second row repeats all this with the same httpd as a host process answering
on the guest's address (NativeServer): the relay against a fast server.

Run by tests/bench/run (--only 12), or alone:
  tests/bench/portfwd_bench.py [--build build] [--reps 20] [--seconds 2]
      [--native]            # also the fast-server row
      [--profile SECONDS]   # also strace -c / perf ukd under load through the port
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "daemon"), os.path.join(HERE, "..", "guest")]
import ukd_bench  # noqa: E402
import vms  # noqa: E402
from test_daemon import free_port, tar_of  # noqa: E402

WRK_CONNS = 8


def page():
    """The 612-byte page of metric 9 (tests/bench/run's PAGE)."""
    head = (b"<!DOCTYPE html>\n<html>\n<head>\n<title>ukd benchmark page</title>\n</head>\n"
            b"<body>\n<h1>ukd benchmark page</h1>\n<p>")
    tail = b"</p>\n</body>\n</html>\n"
    return head + b"x" * (612 - len(head) - len(tail)) + tail


def wrk(argv, url, seconds, conns=WRK_CONNS):
    r = subprocess.run(argv + ["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds, "--timeout", "5s",
                               url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=seconds + 60)
    m = re.search(r"Requests/sec:\s+([\d.]+)", r.stdout)
    if not m or "Non-2xx" in r.stdout:
        raise RuntimeError("wrk %s: %s" % (url, r.stdout[-2000:]))
    return float(m.group(1))


def start_web(u):
    """Builds the httpd example with the page, runs it with a published port;
    returns (direct URL, published URL)."""
    with open(os.path.join(HERE, "..", "..", "images", "httpd", "httpd.c"), "rb") as f:
        src = f.read()
    spec = {"name": "web", "sources": ["httpd.c"], "mem": 16,
            "files": {"index.html": "/www/index.html"}}
    ctxt = tar_of([("uk.json", json.dumps(spec).encode()), ("httpd.c", src),
                   ("index.html", page())])
    st, body = u.request("POST", "/v1/images", ctxt, {"Content-Type": "application/x-tar"})
    if st not in (200, 201):
        raise RuntimeError("build web: %d %r" % (st, body))
    port = free_port()
    st, inst = u.request("POST", "/v1/instances", {
        "image": "web", "name": "web", "memory_mib": 16, "args": ["8080", "/www"],
        "ports": ["%d:8080" % port], "start": True})
    if isinstance(inst, dict) and inst.get("domain"):
        u.domains.add(inst["domain"])
    if st != 201:
        raise RuntimeError("run web: %d %r" % (st, inst))
    ready = u.wait([inst["id"]], 120)
    if inst["id"] not in ready:
        raise RuntimeError("web not ready:\n" + u.read_log()[-3000:])
    return ("http://%s:8080/index.html" % inst["network"]["ip"],
            "http://127.0.0.1:%d/index.html" % port)


class NativeServer:
    """The same httpd as a host process inside ukd's namespace, answering on the
    guest's address: that address goes on the namespace's lo (local delivery wins
    over the bridge's route), so both the direct client and ukd's relay reach the
    process, not the guest. With a server this fast (what a KVM guest comes
    closer to than a TCG one) the relay's own cost shows in the ratio."""

    def __init__(self, u, direct_url):
        self.u = u
        self.ip = re.search(r"//([\d.]+):", direct_url).group(1)
        self.www = os.path.join(u.dir, "www")
        os.makedirs(self.www, exist_ok=True)
        with open(os.path.join(self.www, "index.html"), "wb") as f:
            f.write(page())
        self.proc = None

    def __enter__(self):
        subprocess.run(["ip", "-n", self.u.netns, "addr", "add", self.ip + "/32", "dev", "lo"],
                       check=True)
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.u.netns, self.u.ctx.bin("httpd"),
                                      "8080", self.www], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()
        subprocess.run(["ip", "-n", self.u.netns, "addr", "del", self.ip + "/32", "dev", "lo"],
                       stderr=subprocess.DEVNULL)
        return False


def reap(domains):
    """Destroys any of domains still running once ukd is gone: under heavy load a
    domain outlived the clean-up of ukd_bench.Ukd once (its DELETE and virsh list
    raced with the stop)."""
    deadline = time.monotonic() + 30
    while domains and time.monotonic() < deadline:
        running = set(vms.virsh("list", "--name", check=False).stdout.split())
        left = domains & running
        if not left:
            return
        for name in left:
            vms.virsh("destroy", name, check=False)
        time.sleep(1)


def measure(u, direct_url, port_url, reps, seconds):
    ns = ["ip", "netns", "exec", u.netns]
    wrk(ns, direct_url, 2)  # warm up both paths
    wrk([], port_url, 2)
    direct, proxied = [], []
    for i in range(reps):
        # Alternate which goes first, so neither always follows the other.
        if i % 2:
            proxied.append(wrk([], port_url, seconds))
            direct.append(wrk(ns, direct_url, seconds))
        else:
            direct.append(wrk(ns, direct_url, seconds))
            proxied.append(wrk([], port_url, seconds))
        print("  pair %d: direct %.0f, published port %.0f, ratio %.3f" %
              (i + 1, direct[-1], proxied[-1], proxied[-1] / direct[-1]), flush=True)
    return direct, proxied


def summary(direct, proxied):
    ratios = sorted(p / d for p, d in zip(proxied, direct))
    q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    return {"direct_median": statistics.median(direct), "port_median": statistics.median(proxied),
            "ratio_of_medians": statistics.median(proxied) / statistics.median(direct),
            "paired_ratio_median": statistics.median(ratios), "paired_ratio_q1": q[0],
            "paired_ratio_q3": q[2], "paired_ratio_min": ratios[0], "paired_ratio_max": ratios[-1]}


def relay_cpu_per_request(u, port_url, seconds):
    """ukd's CPU seconds (utime + stime) per request during one run through the port."""
    def cpu():
        with open("/proc/%d/stat" % u.proc.pid) as f:
            v = f.read().rsplit(")", 1)[1].split()
        return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")
    c0 = cpu()
    rps = wrk([], port_url, seconds)
    return (cpu() - c0) / (rps * seconds)


def bench(ctx, row, median):
    reps, secs = ctx.reps(1, 20), 2
    domains = set()
    try:
        with ukd_bench.Ukd(ctx, "p") as u:
            domains = u.domains
            direct_url, port_url = start_web(u)
            direct, proxied = measure(u, direct_url, port_url, reps, secs)
            us = 1e6 * relay_cpu_per_request(u, port_url, secs)
            with NativeServer(u, direct_url):
                n_direct, n_proxied = measure(u, direct_url, port_url, reps, secs)
                n_us = 1e6 * relay_cpu_per_request(u, port_url, secs)
            accel = u.accel
    finally:
        reap(domains)
    rows = []
    for what, d, p, cpu, target, check in (
            ("the %s guest" % accel, direct, proxied, us, ">= 0.8x direct", lambda o, r: r >= 0.8),
            ("httpd as a host process (a fast server)", n_direct, n_proxied, n_us, "", None)):
        s = summary(d, p)
        rows.append(row("12", "HTTP req/s (wrk -c%d, 612 B) via published port vs direct: %s" %
                        (WRK_CONNS, what), "req/s", median(p), median(d),
                        "direct in ukd's namespace", target, check, {"ours": p, "baseline": d},
                        ukd_cpu_us_per_request=cpu,
                        **{k: s[k] for k in ("paired_ratio_q1", "paired_ratio_q3",
                                             "paired_ratio_min", "paired_ratio_max")}))
    return rows


def profile(u, port_url, seconds):
    """strace -c and perf of ukd for `seconds` under wrk through the port."""
    out = os.path.join(u.ctx.work, "prof")
    os.makedirs(out, exist_ok=True)
    # strace first, then a wrk run of its own: every request counted happened under strace.
    st = subprocess.Popen(["strace", "-c", "-f", "-p", str(u.proc.pid)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    time.sleep(1)
    rps_out = subprocess.run(["wrk", "-t1", "-c%d" % WRK_CONNS, "-d%ds" % seconds, port_url],
                             stdout=subprocess.PIPE, text=True).stdout
    st.send_signal(signal.SIGINT)
    strace_out = st.communicate()[0]
    print(strace_out)
    print(rps_out)
    reqs = int(re.search(r"(\d+) requests in", rps_out).group(1))
    calls = re.search(r"^100\.00\s+\S+\s+\S+\s+(\d+)", strace_out, re.M)
    if calls and reqs:
        print("syscalls per request (under strace, which slows ukd): %.2f" %
              (int(calls.group(1)) / reqs))
    data = os.path.join(out, "perf.data")
    w = subprocess.Popen(["wrk", "-t1", "-c%d" % WRK_CONNS, "-d%ds" % (seconds + 2), port_url],
                         stdout=subprocess.DEVNULL)
    time.sleep(1)
    subprocess.run(["perf", "record", "-g", "-o", data, "-p", str(u.proc.pid), "--", "sleep",
                    str(seconds)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    w.wait()
    # With children: the share of each syscall (write, epoll_wait, read) shows.
    rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--children",
                          "--percent-limit", "5", "-g", "none"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    print(rep.stdout[:6000])


def report(u, direct_url, port_url, reps, seconds, what):
    print("server: %s" % what, flush=True)
    direct, proxied = measure(u, direct_url, port_url, reps, seconds)
    us = 1e6 * relay_cpu_per_request(u, port_url, seconds)
    s = summary(direct, proxied)
    print("direct %s\nport   %s" % (["%.0f" % x for x in direct], ["%.0f" % x for x in proxied]))
    print("median direct %(direct_median).0f, port %(port_median).0f req/s; ratio of "
          "medians %(ratio_of_medians).3f; median paired ratio %(paired_ratio_median).3f"
          " (quartiles %(paired_ratio_q1).3f-%(paired_ratio_q3).3f, min %(paired_ratio_min).3f,"
          " max %(paired_ratio_max).3f)" % s)
    print("ukd CPU per relayed request: %.1f us" % us, flush=True)


class StandaloneCtx:
    """What ukd_bench.Ukd needs from tests/bench/run's Ctx."""

    def __init__(self, build):
        self.build = os.path.abspath(build)
        self.ukd = os.path.join(self.build, "bin", "ukd")
        self.work = tempfile.mkdtemp(prefix="ukd-bench-")
        os.chmod(self.work, 0o755)
        self.quick = False

    def bin(self, name):
        return os.path.join(self.build, "images-build", name, name)

    def reps(self, quick, full):
        return quick if self.quick else full


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(HERE, "..", "..", "build"))
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--seconds", type=int, default=2)
    ap.add_argument("--profile", type=int, default=0, help="profile ukd for N seconds")
    ap.add_argument("--native", action="store_true",
                    help="also with httpd as a host process on the guest's address")
    a = ap.parse_args()
    # SIGTERM (timeout(1)) unwinds like an error, so ukd, its guest and namespace go.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ctx = StandaloneCtx(a.build)
    domains = set()
    try:
        with ukd_bench.Ukd(ctx, "p") as u:
            domains = u.domains
            print("accelerator: %s" % u.accel, flush=True)
            direct_url, port_url = start_web(u)
            if a.profile:
                profile(u, port_url, a.profile)
            if a.reps:
                report(u, direct_url, port_url, a.reps, a.seconds, "guest (%s)" % u.accel)
            if a.reps and a.native:
                with NativeServer(u, direct_url):
                    report(u, direct_url, port_url, a.reps, a.seconds, "httpd as a host process")
    finally:
        reap(domains)
        shutil.rmtree(ctx.work, ignore_errors=True)


if __name__ == "__main__":
    main()
