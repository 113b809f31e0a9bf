#!/usr/bin/env python3
"""API benchmark: GET /v1/instances latency with 1000 instances, and ukd's RSS.

  python3 tests/bench/api_bench.py [--build build] [--instances 1000] [--requests 200]

Starts its own ukd (own --root, --socket and --netns), uploads hello, creates
N instances with start:false (no VMs: this measures ukd, not libvirt), then
times R sequential GET /v1/instances over one keep-alive unix-socket
connection and prints the median and p99 (target: p99 < 5 ms), the response
size, and ukd's RSS before and after the instances exist; then the same
right after a change each time (a new instance), when ukd must read the rows
again. Exits 1 when the first p99 misses the target.
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
from test_daemon import UnixHTTPConnection  # noqa: E402

TARGET_P99_MS = 5.0


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def request(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    return r.status, data


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.environ.get("UKD_BUILD", "build"))
    ap.add_argument("--instances", type=int, default=1000)
    ap.add_argument("--requests", type=int, default=200)
    a = ap.parse_args()
    ukd = os.environ.get("UKD", os.path.join(a.build, "bin", "ukd"))
    hello = os.environ.get("UKD_HELLO", os.path.join(a.build, "images-build", "hello", "hello"))
    tmp = tempfile.mkdtemp(prefix="ukd-api-bench-")
    os.chmod(tmp, 0o755)
    sock = os.path.join(tmp, "ukd.sock")
    netns = "ukdb-%d" % os.getpid()
    log = open(os.path.join(tmp, "ukd.log"), "w")
    proc = subprocess.Popen([ukd, "--root", os.path.join(tmp, "root"), "--socket", sock,
                             "--netns", netns, "--foreground"], stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                with open(os.path.join(tmp, "ukd.log")) as f:
                    raise SystemExit("ukd did not start:\n" + f.read())
            try:
                conn = UnixHTTPConnection(sock)
                if request(conn, "GET", "/v1/system/info")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        with open(hello, "rb") as f:
            st, _ = request(conn, "POST", "/v1/images?name=hello", f.read(),
                            {"Content-Type": "application/octet-stream"})
        assert st in (200, 201), st
        rss0 = rss_kib(proc.pid)
        t0 = time.monotonic()
        for i in range(a.instances):
            body = json.dumps({"image": "hello", "name": "b%04d" % i, "start": False,
                               "env": {"K": "V%d" % i}, "args": ["1", "two"]})
            st, data = request(conn, "POST", "/v1/instances", body,
                               {"Content-Type": "application/json"})
            assert st == 201, (st, data)
        create_s = time.monotonic() - t0
        lat = []
        size = 0
        for _ in range(10):  # warm-up
            request(conn, "GET", "/v1/instances")
        for _ in range(a.requests):
            t = time.perf_counter()
            st, data = request(conn, "GET", "/v1/instances")
            lat.append((time.perf_counter() - t) * 1000)
            assert st == 200
            size = len(data)
        assert len(json.loads(data)) == a.instances
        rss1 = rss_kib(proc.pid)
        # The same after a change each time (one more instance): rows are read again,
        # only the new one is rendered.
        churn = []
        for i in range(50):
            body = json.dumps({"image": "hello", "name": "c%04d" % i, "start": False})
            st, _ = request(conn, "POST", "/v1/instances", body,
                            {"Content-Type": "application/json"})
            assert st == 201, st
            t = time.perf_counter()
            st, data = request(conn, "GET", "/v1/instances")
            churn.append((time.perf_counter() - t) * 1000)
        med, p99 = statistics.median(lat), pct(lat, 99)
        print("created %d instances (start:false) in %.1f s (%.1f ms each)" %
              (a.instances, create_s, 1000 * create_s / a.instances))
        print("GET /v1/instances with %d instances, %d requests: median %.2f ms, p99 %.2f ms "
              "(target p99 < %.0f ms), %d bytes" % (a.instances, a.requests, med, p99,
                                                    TARGET_P99_MS, size))
        print("  after a change each time (%d requests): median %.2f ms, p99 %.2f ms" %
              (len(churn), statistics.median(churn), pct(churn, 99)))
        print("ukd RSS: %.1f MiB with no instances, %.1f MiB with %d" %
              (rss0 / 1024, rss1 / 1024, a.instances))
        return 0 if p99 < TARGET_P99_MS else 1
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        subprocess.run(["ip", "netns", "del", netns], stderr=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
