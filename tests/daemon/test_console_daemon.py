#!/usr/bin/env python3
"""Console logs under a flood: a real ukd (its own --root, --socket and a small
--console-max) against the real libvirtd, through the REST API.

The flooding guest is tests/daemon/apps/flood.c (numbered 100-byte lines as fast as
its UART takes them); the quiet neighbour is the httpd example. Checked: the flooder's
console stays within --console-max on disk (console.log + console.log.1, plus the
bounded console.idx), tail/since/follow read across rotations, ukd's RSS and CPU stay
bounded, the neighbour's API latency and health hold against a baseline measured in
the same test with a CPU-bound guest in the flooder's place (same CPU load, no
output), and the log resumes after kill -9 of ukd. 1 GiB at the rate ukd takes it:
tests/reliability/test_console_flood.py.

Environment: UKD, UKD_HELLO, UKD_HTTPD (the httpd example's static ELF).
Run one case: test_console_daemon.py CASE; list them: test_console_daemon.py --list.
"""
import datetime
import json
import os
import signal
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_daemon as td  # noqa: E402

HTTPD = os.environ.get("UKD_HTTPD", "build/images-build/httpd/httpd")
# Long form (docs/guarantees.md): UKD_FLOOD_MIB=1024 UKD_FLOOD_SECS=...
FLOOD_MIB = int(os.environ.get("UKD_FLOOD_MIB", "100"))
FLOOD_SECS = int(os.environ.get("UKD_FLOOD_SECS", "25"))
CAP = 256 << 10       # --console-max of these tests
IDX_MAX = 64 << 10    # LOGTIME_IDX_MAX
RSS_GROWTH_MAX = 16 << 20

with open(os.path.join(HERE, "apps", "flood.c"), "rb") as f:
    FLOOD_C = f.read()


def line_no(line):
    """The number of a flood line ("flood 000000123 ....."), or None: also for a line cut
    short in its number (the last one, still being written, or one at a gap)."""
    parts = line.split()
    if len(parts) >= 2 and parts[0] == "flood" and parts[1].isdigit() and len(parts[1]) == 9:
        return int(parts[1])
    return None


def numbers(text):
    return [n for n in (line_no(l) for l in text.splitlines()) if n is not None]


def rfc3339_now():
    return datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) << 10
    return 0


class Follower(threading.Thread):
    """GET .../logs?follow=1&tail=0 in a thread: the flood numbers it got, and when."""

    def __init__(self, sock, ref):
        super().__init__(daemon=True)
        self.sock, self.ref = sock, ref
        self.got = []  # (monotonic time, number)
        self.done = False
        self.error = None

    def run(self):
        c = td.UnixHTTPConnection(self.sock, timeout=120)
        try:
            c.request("GET", "/v1/instances/%s/logs?follow=1&tail=0" % self.ref)
            r = c.getresponse()
            while True:
                line = r.readline()
                if not line:
                    break
                text = line.decode(errors="replace")
                if text.startswith("flood done"):
                    self.done = True
                    break
                n = line_no(text)
                if n is not None:
                    self.got.append((time.monotonic(), n))
        except Exception as e:  # reported by the test
            self.error = e
        finally:
            c.close()


class ConsoleTest(td.DaemonTest):
    def setUp(self):
        super().setUp()
        self.ukd.stop()
        self.ukd.start("--console-max", "256K")

    # --- helpers ---

    def flood_image(self):
        ctx = td.tar_of([("uk.json", json.dumps({"name": "flood", "sources": ["flood.c"],
                                                  "mem": 16}).encode()),
                         ("flood.c", FLOOD_C)])
        return self.upload_tar(ctx).json

    def console_files(self, iid):
        d = os.path.join(self.root, "instances", iid)
        sizes = {}
        for name in ("console.log", "console.log.1", "console.idx"):
            try:
                sizes[name] = os.path.getsize(os.path.join(d, name))
            except FileNotFoundError:
                sizes[name] = 0
        return sizes

    def check_bounded(self, iid):
        s = self.console_files(iid)
        self.assertLessEqual(s["console.log"] + s["console.log.1"], CAP, s)
        self.assertLessEqual(s["console.idx"], IDX_MAX, s)
        return s

    def tail(self, ref, n):
        return self.api("GET", "/v1/instances/%s/logs?tail=%d" % (ref, n),
                        expect=200).raw.decode(errors="replace")

    def last_number(self, ref):
        ns = numbers(self.tail(ref, 3))
        return ns[-1] if ns else -1

    def latencies(self, ref, n, between=0.05, watch=None):
        out = []
        for _ in range(n):
            t = time.perf_counter()
            self.api("GET", "/v1/instances/" + ref, expect=200)
            out.append((time.perf_counter() - t) * 1000)
            if watch:
                watch()
            time.sleep(between)
        return out

    def quiet_health_ok(self):
        h = self.api("GET", "/v1/instances/q/health", expect=200).json
        self.assertIn(h["status"], ("starting", "healthy"), h)
        self.assertIsNotNone(h["heartbeat"], h)
        return h

    # --- tests ---

    def test_flood_bounded_and_neighbour_unharmed(self):
        """A guest floods its console: disk, ukd's RSS and CPU stay bounded, tail, since
        and follow work across rotations, and a quiet neighbour's API latency holds."""
        with open(HTTPD, "rb") as f:
            self.api("POST", "/v1/images?name=httpd", f.read(),
                     {"Content-Type": "application/octet-stream"}, 201)
        self.flood_image()
        self.spin_image()
        pid = self.ukd.proc.pid
        self.run_instance({"image": "httpd", "name": "q", "args": ["8080", "/www"]})
        self.wait_state("q", "running")
        self.wait_for("heartbeat from q", lambda: self.api(
            "GET", "/v1/instances/q/health", expect=200).json["heartbeat"] is not None, 60)

        # Baseline: a guest that burns its CPU as the flooder will, without output.
        self.run_instance({"image": "spin", "name": "s"})
        self.wait_log("s", "spinning")
        time.sleep(1)
        base = self.latencies("q", 150)
        rss0 = proc_rss(pid)
        self.quiet_health_ok()
        self.api("POST", "/v1/instances/s/kill", expect=200)

        inst = self.run_instance({"image": "flood", "name": "f",
                                  "args": [str(FLOOD_MIB), str(FLOOD_SECS)]}).json
        iid = inst["id"]
        self.wait_log("f", "flood: up to")
        follower = Follower(self.ukd.sock, "f")
        follower.start()
        cpu0, t0 = proc_cpu(pid), time.monotonic()
        rss_max = [rss0]

        def watch():
            self.check_bounded(iid)
            rss_max[0] = max(rss_max[0], proc_rss(pid))

        # Once it rotated, `since` a moment finds the lines written after it (the
        # machine's load decides how fast the guest writes: one rotation is enough).
        while self.console_files(iid)["console.log.1"] == 0:
            self.assertLess(time.monotonic() - t0, FLOOD_SECS, self.console_files(iid))
            watch()
            time.sleep(0.2)
        before = self.last_number("f")
        since = rfc3339_now()
        time.sleep(0.3)
        after = self.last_number("f")
        got = numbers(self.api("GET", "/v1/instances/f/logs?since=" + since,
                               expect=200).raw.decode(errors="replace"))
        print("since %s: first line %d (tail before %d, after %d)" %
              (since, got[0], before, after))
        self.assertLessEqual(got[0], after)
        self.assertGreaterEqual(got[0], before - 200)
        self.assertEqual(got, list(range(got[0], got[0] + len(got))))

        during = self.latencies("q", 150, watch=watch)
        self.quiet_health_ok()
        # Disk and RSS are watched until the end (hours in the long form).
        deadline = time.monotonic() + FLOOD_SECS + 60
        while "flood done" not in self.tail("f", 2):
            self.assertLess(time.monotonic(), deadline, "the flood did not end")
            watch()
            time.sleep(1)
        self.quiet_health_ok()
        cpu = (proc_cpu(pid) - cpu0) / (time.monotonic() - t0)
        follower.join(30)
        s = self.check_bounded(iid)

        done = [l for l in self.tail("f", 2).splitlines() if l.startswith("flood done")]
        self.assertEqual(len(done), 1)
        lines, nbytes = int(done[0].split()[2]), int(done[0].split()[4])
        secs = float(done[0].split()[7])
        self.assertEqual(self.last_number("f"), lines - 1)
        self.assertGreater(nbytes, CAP // 2, "the flood should have rotated the log")
        self.assertGreater(s["console.log.1"], 0)

        self.assertIsNone(follower.error)
        self.assertTrue(follower.done, "the follower did not see the flood end")
        fnums = [n for _, n in follower.got]
        self.assertEqual(fnums, list(range(fnums[0], fnums[0] + len(fnums))),
                         "the follower missed lines")
        self.assertEqual(fnums[-1], lines - 1)

        med0, med1 = statistics.median(base), statistics.median(during)
        p90 = lambda v: sorted(v)[int(len(v) * 0.9)]  # noqa: E731
        print("UART throughput: %d bytes in %.1f s = %.1f KB/s" % (nbytes, secs,
                                                                  nbytes / secs / 1000))
        print("on disk: %r (cap %d)" % (s, CAP))
        print("ukd CPU during the flood: %.1f%% of a core" % (cpu * 100))
        print("ukd RSS: %d KiB before, %d KiB at most during" % (rss0 >> 10, rss_max[0] >> 10))
        print("GET /v1/instances/q: median %.2f ms -> %.2f ms (%+.0f%%), p90 %.2f -> %.2f ms"
              % (med0, med1, (med1 / med0 - 1) * 100, p90(base), p90(during)))
        self.assertLess(rss_max[0] - rss0, RSS_GROWTH_MAX)
        self.assertLess(cpu, 0.25)
        # The target is 20%; this 2-core machine is shared and noisy, so the test
        # fails only on a clear regression and prints the measured change.
        self.assertLess(med1, med0 * 1.5 + 1.0)

    def test_logs_resume_after_kill9(self):
        """kill -9 of ukd during a flood: the adopted instance's log goes on, bounded,
        with offsets continuing across the old rotation."""
        self.flood_image()
        # Long enough to outlast a loaded machine's slow rotation, restart and follow.
        inst = self.run_instance({"image": "flood", "name": "f", "args": ["1000", "150"]}).json
        iid = inst["id"]
        self.wait_log("f", "flood: up to")
        self.wait_for("rotation", lambda: self.console_files(iid)["console.log.1"] > 0)
        n1 = self.last_number("f")
        self.ukd.stop(signal.SIGKILL)
        self.assertIn(inst["domain"], td.running_domains())
        time.sleep(2)
        self.ukd.start("--console-max", "256K")
        self.wait_state("f", "running")
        self.wait_for("resumed log", lambda: self.last_number("f") > n1 + 100, 30)
        self.assertIn("adopted", self.ukd.read_log())
        # What the log holds reads in order: older lines, a gap while no ukd listened
        # (QEMU drops console output then), newer ones.
        allnums = numbers(self.api("GET", "/v1/instances/f/logs", expect=200).raw.decode())
        self.assertEqual(allnums, sorted(set(allnums)))
        self.assertGreater(allnums[-1], n1)
        follower = Follower(self.ukd.sock, "f")
        follower.start()
        deadline = time.monotonic() + 30
        while len(follower.got) < 500:
            self.assertLess(time.monotonic(), deadline, "follow did not stream")
            self.check_bounded(iid)
            time.sleep(0.2)
        fnums = [n for _, n in follower.got]
        self.assertEqual(fnums[:500], list(range(fnums[0], fnums[0] + 500)))
        self.check_bounded(iid)
        self.api("POST", "/v1/instances/f/kill", expect=200)


if __name__ == "__main__":
    td.main(ConsoleTest, own=True)
