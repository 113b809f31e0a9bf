#!/usr/bin/env python3
"""API abuse (docs/guarantees.md, "API abuse"): a real ukd (its own --root and
--socket, against the real libvirtd) under connection floods, slowloris
clients, oversized requests and hostile JSON. Throughout, another client's
GET /v1/instances keeps answering within PROBE_BOUND_S; afterwards ukd's open
fds (/proc/PID/fd) return to their baseline and its RSS stays within
RSS_GROWTH_CAP_MIB of its baseline.

Environment: UKD (the ukd binary), UKD_HELLO (the hello example).
Run one case: test_api_abuse.py CASE; list them: test_api_abuse.py --list.
Long form: UKD_ABUSE_ROUNDS=20 test_api_abuse.py flood
"""
import os
import resource
import shutil
import socket
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
from test_daemon import main, HELLO, Daemon, UnixHTTPConnection  # noqa: E402
from procstat import proc_fds, proc_rss_mib  # noqa: E402

CONNS = int(os.environ.get("UKD_ABUSE_CONNS", "1000"))
ROUNDS = int(os.environ.get("UKD_ABUSE_ROUNDS", "1"))
PROBE_BOUND_S = 2.0  # the slowest probe answer allowed while ukd is abused
RSS_GROWTH_CAP_MIB = 64  # ukd's RSS above its baseline, at any sample
FD_SETTLE_S = 10  # time for the fd count to come back once the abusers are gone
# ukd's timeouts (ukd/http.h): idle connections, and a whole request.
IDLE_TIMEOUT_S = 30
REQUEST_TIMEOUT_S = 60


class Probe(threading.Thread):
    """Another, well-behaved client: GET /v1/instances every 50 ms, timed."""

    def __init__(self, daemon):
        super().__init__(daemon=True)
        self.ukd = daemon
        self.stop_ev = threading.Event()
        self.lat, self.errors, self.rss = [], [], []

    def run(self):
        while not self.stop_ev.is_set():
            t0 = time.monotonic()
            try:
                c = UnixHTTPConnection(self.ukd.sock, timeout=30)
                c.request("GET", "/v1/instances")
                r = c.getresponse()
                r.read()
                c.close()
                if r.status != 200:
                    self.errors.append("status %d" % r.status)
            except OSError as e:
                self.errors.append(repr(e))
            self.lat.append(time.monotonic() - t0)
            self.rss.append(proc_rss_mib(self.ukd.proc.pid))
            time.sleep(0.05)

    def finish(self):
        self.stop_ev.set()
        self.join(60)
        lat = sorted(self.lat)
        return {"n": len(lat), "p50_ms": 1000 * lat[len(lat) // 2] if lat else None,
                "p99_ms": 1000 * lat[min(len(lat) - 1, len(lat) * 99 // 100)] if lat else None,
                "max_ms": 1000 * lat[-1] if lat else None, "errors": self.errors,
                "rss_max_mib": max(self.rss) if self.rss else None}


def connect(path, timeout=30):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)  # as curl and http.client do: EAGAIN if ukd's backlog is full
    return s


def recv_all(s, timeout):
    """What the server sends until it hangs up (or timeout): (data, closed)."""
    s.settimeout(timeout)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out, True
            out += chunk
    except socket.timeout:
        return out, False
    except OSError:
        return out, True


def answer(s, timeout=10):
    """One whole response (head and Content-Length body), without waiting for a hang-up."""
    s.settimeout(timeout)
    out = b""
    while True:
        head, sep, body = out.partition(b"\r\n\r\n")
        if sep:
            n = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    n = int(v)
            if len(body) >= n:
                return out
        try:
            chunk = s.recv(65536)
        except OSError:
            return out
        if not chunk:
            return out
        out += chunk


def status_of(data):
    parts = data.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[0].startswith(b"HTTP/1.") else None


class ApiAbuseTest(unittest.TestCase):
    def setUp(self):
        # The flood needs more fds than the usual soft limit of 1024.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = min(hard, max(soft, CONNS + 512)) if hard != resource.RLIM_INFINITY else CONNS + 512
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        self.dir = tempfile.mkdtemp(prefix="ukd-abuse-test-")
        os.chmod(self.dir, 0o755)
        self.ukd = Daemon(os.path.join(self.dir, "root"), os.path.join(self.dir, "ukd.sock"),
                          os.path.join(self.dir, "ukd.log"))
        self.ukd.start()
        self.pid = self.ukd.proc.pid
        # Some state for the probe to list: an image and ten instances that never start.
        with open(HELLO, "rb") as f:
            r = self.ukd.request("POST", "/v1/images?name=hello", f.read(),
                                 {"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 201, r)
        for i in range(10):
            r = self.ukd.request("POST", "/v1/instances",
                                 {"image": "hello", "name": "i%d" % i, "start": False})
            self.assertEqual(r.status, 201, r)
        self.assertEqual(self.ukd.request("GET", "/v1/instances").status, 200)
        time.sleep(0.5)
        self.base_fds = proc_fds(self.pid)
        self.base_rss = proc_rss_mib(self.pid)
        self.probe = Probe(self.ukd)
        self.probe.start()

    def tearDown(self):
        if self.probe.is_alive():
            self.probe.finish()
        self.ukd.stop()
        if any(e for e in sys.exc_info()) or os.environ.get("UKD_TEST_VERBOSE"):
            print(self.ukd.read_log()[-20000:])
        shutil.rmtree(self.dir, ignore_errors=True)

    def finish(self):
        """The probe's verdict, then fds back to baseline and RSS within the cap."""
        stats = self.probe.finish()
        self.assertIsNone(self.ukd.proc.poll(), "ukd died")
        deadline = time.monotonic() + FD_SETTLE_S
        while proc_fds(self.pid) > self.base_fds and time.monotonic() < deadline:
            time.sleep(0.2)
        fds, rss = proc_fds(self.pid), proc_rss_mib(self.pid)
        print("probe: %d requests, p50 %.1f ms, p99 %.1f ms, max %.1f ms; ukd fds %d "
              "(baseline %d), RSS %.1f MiB (baseline %.1f, max seen %.1f)" %
              (stats["n"], stats["p50_ms"], stats["p99_ms"], stats["max_ms"], fds,
               self.base_fds, rss, self.base_rss, stats["rss_max_mib"]))
        self.assertEqual(stats["errors"], [], "the probe failed while ukd was abused")
        self.assertGreater(stats["n"], 0)
        self.assertLess(stats["max_ms"], PROBE_BOUND_S * 1000, stats)
        self.assertLessEqual(fds, self.base_fds, "ukd leaks fds")
        self.assertLess(max(stats["rss_max_mib"], rss) - self.base_rss, RSS_GROWTH_CAP_MIB)
        r = self.ukd.request("GET", "/v1/instances")
        self.assertEqual((r.status, len(r.json)), (200, 10))

    def test_flood(self):
        """CONNS concurrent connections, half idle and half with a partial request."""
        for _ in range(ROUNDS):
            socks = []
            for i in range(CONNS):
                try:
                    s = connect(self.ukd.sock, timeout=10)
                except OSError as e:
                    self.fail("connection %d refused by the kernel: %r" % (i, e))
                if i % 2:
                    try:
                        s.sendall(b"GET /v1/instances HTTP/1.1\r\nHost: x\r\n")
                    except OSError:
                        pass  # ukd may shed connections beyond its limit
                socks.append(s)
            # Everyone connected at once; hold them while the probe keeps asking.
            time.sleep(3)
            peak = proc_fds(self.pid)
            for s in socks:
                s.close()
            print("%d connections held; ukd had %d fds at the peak" % (CONNS, peak))
        self.finish()

    def test_slowloris(self):
        """Clients that trickle a request or say nothing are timed out, and cost nothing."""
        slow = [connect(self.ukd.sock) for _ in range(100)]
        idle = [connect(self.ukd.sock) for _ in range(100)]
        req = b"POST /v1/instances HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"{" * 99
        t0 = time.monotonic()
        idle_closed = slow_closed = None
        slow_status = set()
        pos = 0
        for s in idle + slow:
            s.setblocking(False)
        while time.monotonic() - t0 < REQUEST_TIMEOUT_S + 15 and slow_closed is None:
            # One more byte from each slow client per second: never a whole request.
            for s in slow:
                try:
                    s.send(req[pos:pos + 1])
                except OSError:
                    pass
            pos = min(pos + 1, len(req) - 2)
            time.sleep(1)
            if idle_closed is None and all(self._closed(s) for s in idle):
                idle_closed = time.monotonic() - t0
            done = [self._closed(s, slow_status) for s in slow]
            if all(done):
                slow_closed = time.monotonic() - t0
        print("idle clients closed after %s s, slow ones after %s s (answers: %s)" %
              (idle_closed, slow_closed, sorted(slow_status)))
        self.assertIsNotNone(idle_closed, "idle connections were never timed out")
        self.assertLess(idle_closed, IDLE_TIMEOUT_S + 10)
        self.assertIsNotNone(slow_closed, "slowloris connections were never timed out")
        self.assertLess(slow_closed, REQUEST_TIMEOUT_S + 10)
        self.assertLessEqual(slow_status, {408})
        for s in slow + idle:
            s.close()
        self.finish()

    def _closed(self, s, statuses=None):
        closed = self.__dict__.setdefault("closed_socks", set())
        if id(s) in closed:
            return True
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    closed.add(id(s))
                    return True
                if statuses is not None and status_of(data):
                    statuses.add(status_of(data))
        except BlockingIOError:
            return False
        except OSError:
            closed.add(id(s))
            return True

    def raw(self, data, timeout=10):
        s = connect(self.ukd.sock)
        try:
            s.sendall(data)
        except OSError:
            pass  # refused mid-request: the answer is already there
        out = answer(s, timeout)
        s.close()
        return out

    def test_oversized(self):
        """Oversized request lines, headers and bodies: 414, 431 and 413, before the body."""
        # One huge header, many small ones, a huge URL.
        out = self.raw(b"GET /v1/instances HTTP/1.1\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n")
        self.assertEqual(status_of(out), 431, out[:200])
        many = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 90) for i in range(400))
        out = self.raw(b"GET /v1/instances HTTP/1.1\r\n" + many + b"\r\n")
        self.assertEqual(status_of(out), 431, out[:200])
        out = self.raw(b"GET /v1/instances?x=" + b"a" * 8000 + b" HTTP/1.1\r\n\r\n")
        self.assertEqual(status_of(out), 414, out[:200])
        # Bodies: refused on the Content-Length alone, the body never sent.
        for path, size in (("/v1/instances", 2 << 20), ("/v1/networks", 1 << 30),
                           ("/v1/images", 1 << 40), ("/v1/instances/i0/start", 1 << 62)):
            s = connect(self.ukd.sock)
            s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % (path.encode(), size))
            out = answer(s)
            s.close()
            self.assertEqual(status_of(out), 413, (path, out[:200]))
        # A chunked body grows past the limit: 413 as soon as it does.
        s = connect(self.ukd.sock)
        s.sendall(b"POST /v1/instances HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"10000\r\n" + b"[" * 0x10000 + b"\r\n"
        try:
            for _ in range(40):  # 2.5 MiB, past API_JSON_MAX (1 MiB)
                s.sendall(chunk)
        except OSError:
            pass
        out = answer(s)
        s.close()
        self.assertEqual(status_of(out), 413, out[:200])
        # Content-Length overflow and negative: 400, not a huge allocation.
        for cl in (b"99999999999999999999999", b"-1"):
            out = self.raw(b"POST /v1/instances HTTP/1.1\r\nContent-Length: " + cl + b"\r\n\r\n")
            self.assertEqual(status_of(out), 400, out[:200])
        self.finish()

    def post_json(self, body):
        s = connect(self.ukd.sock)
        s.sendall(b"POST /v1/instances HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        out = answer(s, 30)
        s.close()
        return status_of(out), out

    def test_hostile_json(self):
        """Invalid UTF-8 and deeply nested JSON are 400s; ukd neither crashes nor stores."""
        cases = [
            (b'{"image": "hel\xfflo"}', 400),  # not UTF-8 at all
            (b'{"image": "hello", "name": "\xc0\xaf"}', 400),  # overlong encoding
            (b'{"image": "hello", "env": {"A": "\xed\xa0\x80"}}', 400),  # encoded surrogate
            (b'{"image": "hello", "env": {"A": "\\ud800"}}', 400),  # lone surrogate escape
            (b'{"image": "hello", "args": ["\xf4\x90\x80\x80"]}', 400),  # past U+10FFFF
            (b'{"image": "hello", "args": ["a\\u0000b"]}', 400),  # NUL inside a string
            (b'{"image": "hello", "\xfe": 1}', 400),  # a key that is not UTF-8
            (b"[" * 200000 + b"]" * 200000, 400),  # deeper than any parser should go
            (b'{"a":' * 100000 + b"1" + b"}" * 100000, 400),
            (b'{"image": "hello", "env": {"A": ' + b"[" * 1000 + b"]" * 1000 + b"}}", 422),
            (b'{"image": "hello", "image": "hello"}', 400),  # duplicate key
        ]
        for body, want in cases:
            status, out = self.post_json(body)
            self.assertEqual(status, want, (body[:80], out[:300]))
            self.assertIsNone(self.ukd.proc.poll(), "ukd died on %r" % body[:80])
        self.finish()


if __name__ == "__main__":
    main(ApiAbuseTest)
