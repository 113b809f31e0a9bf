#!/usr/bin/env python3
"""Network benchmark: httpd and kv as unikernels (virtio-net through a tap in a
namespace this script creates) vs the same binaries as host processes in
that namespace, in one run. Prints requests/s and p99 latency, and ratios
(unikernel / native; > 1 means the unikernel is faster).

  python3 tests/bench/net_bench.py [--build build] [--seconds 10]
"""
import argparse
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "guest"))
import guest  # noqa: E402
from netns import GUEST_IP, HOST_IP, NetGuest  # noqa: E402

STATIC = "ip=%s/24 gw=%s" % (GUEST_IP, HOST_IP)


def wrk_argv(host, seconds, conns=16, path="/index.html"):
    return ["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds, "--latency",
            "http://%s:8080%s" % (host, path)]


def parse_wrk(out):
    """(requests/s, p99 latency in ms) from wrk --latency output."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    return rps, float(p99.group(1)) * scale


def wrk(g, host, seconds):
    return parse_wrk(g.sh(*wrk_argv(host, seconds), timeout=seconds + 60).stdout.decode())


def redis_argv(host, n, pipeline=1):
    return ["redis-benchmark", "-h", host, "-t", "get,set", "-n", str(n), "-P", str(pipeline),
            "-q", "--precision", "3"]


def parse_redis(out):
    """{"SET": requests/s, "GET": requests/s} from redis-benchmark -q output."""
    return dict((m.group(1), float(m.group(2)))
                for m in re.finditer(r"(SET|GET): ([\d.]+) requests per second", out))


def redis(g, host, n):
    out = g.sh(*redis_argv(host, n), timeout=600).stdout.decode(errors="replace")
    return parse_redis(out), None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--requests", type=int, default=100000)
    a = ap.parse_args()
    imgs = os.path.join(a.build, "images")
    bins = os.path.join(a.build, "images-build")
    www = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "images", "httpd", "www")
    print("accelerator: %s" % guest.accel())
    with NetGuest(os.path.join(imgs, "httpd.img"), STATIC) as g:
        g.wait_for("listening on port 8080")
        uni = wrk(g, GUEST_IP, a.seconds)
        native_p = subprocess.Popen(["ip", "netns", "exec", g.ns, os.path.join(bins, "httpd", "httpd"),
                                     "8080", www], stdout=subprocess.DEVNULL)
        time.sleep(0.5)
        nat = wrk(g, HOST_IP, a.seconds)
        native_p.kill()
        native_p.wait()
    print("httpd  unikernel %8.0f req/s p99 %7.2f ms | native %8.0f req/s p99 %7.2f ms | "
          "ratio %.2f" % (uni[0], uni[1], nat[0], nat[1], uni[0] / nat[0]))
    with NetGuest(os.path.join(imgs, "kv.img"), STATIC) as g:
        g.wait_for("listening on port 6379")
        uni, _ = redis(g, GUEST_IP, a.requests)
        native_p = subprocess.Popen(["ip", "netns", "exec", g.ns, os.path.join(bins, "kv", "kv"),
                                     "--port", "6379"], stdout=subprocess.DEVNULL)
        time.sleep(0.5)
        nat, _ = redis(g, HOST_IP, a.requests)
        native_p.kill()
        native_p.wait()
    for k in ("SET", "GET"):
        print("kv %-4s unikernel %8.0f req/s | native %8.0f req/s | ratio %.2f" %
              (k, uni.get(k, 0), nat.get(k, 1), uni.get(k, 0) / nat.get(k, 1)))


if __name__ == "__main__":
    main()
