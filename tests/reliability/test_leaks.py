#!/usr/bin/env python3
"""Leaks (docs/guarantees.md, "Leaks"): instance life cycles through a real
ukd (against the real libvirtd) leave its fd count at its baseline and its
RSS within RSS_GROWTH_CAP_MIB; and under valgrind, ukd loses no memory
("definitely lost: 0 bytes") over create/start/remove cycles and a clean
shutdown.

Environment: UKD (the ukd binary), UKD_HELLO (the hello example).
Run one case: test_leaks.py CASE; list them: test_leaks.py --list.
Long form: UKD_LEAK_CYCLES=1000 UKD_LEAK_BOOTS=1000 test_leaks.py cycles
"""
import os
import time
import re
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
import test_daemon  # noqa: E402
from test_daemon import main, HELLO, Daemon, running_domains, virsh  # noqa: E402
from procstat import proc_fds, proc_rss_mib  # noqa: E402

CYCLES = int(os.environ.get("UKD_LEAK_CYCLES", "300"))  # create + remove, no guest
BOOTS = int(os.environ.get("UKD_LEAK_BOOTS", "10"))  # create + start + exit + remove
RSS_GROWTH_CAP_MIB = 8


class LeakTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ukd-leak-test-")
        os.chmod(self.dir, 0o755)
        self.ukd = Daemon(os.path.join(self.dir, "root"), os.path.join(self.dir, "ukd.sock"),
                          os.path.join(self.dir, "ukd.log"))
        self.domains = set()

    def tearDown(self):
        self.ukd.stop()
        for name in self.domains:
            if name in running_domains():
                virsh("destroy", name)
        if any(e for e in sys.exc_info()) or os.environ.get("UKD_TEST_VERBOSE"):
            print(self.ukd.read_log()[-20000:])
        shutil.rmtree(self.dir, ignore_errors=True)

    def api(self, method, path, body=None, expect=None):
        r = self.ukd.request(method, path, body)
        if expect is not None:
            self.assertEqual(r.status, expect, "%s %s -> %r" % (method, path, r))
        return r

    def upload(self):
        with open(HELLO, "rb") as f:
            r = self.ukd.request("POST", "/v1/images?name=hello", f.read(),
                                 {"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 201, r)

    def boot_cycle(self, i):
        """Create and start hello (it exits at once), wait for the exit, remove it."""
        r = self.api("POST", "/v1/instances", {"image": "hello", "name": "b%d" % i}, 201)
        self.domains.add(r.json.get("domain"))
        for _ in range(600):
            if self.api("GET", "/v1/instances/b%d" % i, expect=200).json["state"] == "exited":
                break
            time.sleep(0.1)
        else:
            self.fail("b%d never exited" % i)
        self.api("DELETE", "/v1/instances/b%d" % i, expect=204)

    def cycles(self, n, boots):
        for i in range(n):
            self.api("POST", "/v1/instances", {"image": "hello", "name": "c%d" % i,
                                               "start": False, "env": {"I": str(i)}}, 201)
            self.api("GET", "/v1/instances", expect=200)
            self.api("DELETE", "/v1/instances/c%d" % i, expect=204)
        for i in range(boots):
            self.boot_cycle(i)

    def test_cycles(self):
        """Fds and RSS stay flat over CYCLES create/remove and BOOTS create/start/remove."""
        self.ukd.start()
        pid = self.ukd.proc.pid
        self.upload()
        self.cycles(50, 3)  # warm up: caches, sqlite pages, libvirt's connection
        fds, rss = proc_fds(pid), proc_rss_mib(pid)
        self.cycles(CYCLES, BOOTS)
        time.sleep(1)
        fds2, rss2 = proc_fds(pid), proc_rss_mib(pid)
        print("%d create/remove and %d create/start/remove cycles: fds %d -> %d, "
              "RSS %.1f -> %.1f MiB" % (CYCLES, BOOTS, fds, fds2, rss, rss2))
        self.assertLessEqual(fds2, fds, "ukd leaks fds")
        self.assertLess(rss2 - rss, RSS_GROWTH_CAP_MIB, "ukd's RSS grows")
        self.assertEqual(self.api("GET", "/v1/instances", expect=200).json, [])

    def test_valgrind(self):
        """ukd under valgrind: no memory definitely lost, no invalid access."""
        vlog = os.path.join(self.dir, "valgrind.log")
        real = test_daemon.UKD
        wrapper = os.path.join(self.dir, "ukd-valgrind")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec valgrind --leak-check=full --errors-for-leak-kinds=definite "
                    "--error-exitcode=99 --track-fds=no --log-file=%s %s \"$@\"\n" % (vlog, real))
        os.chmod(wrapper, 0o755)
        test_daemon.UKD = wrapper
        try:
            self.ukd.start()
        finally:
            test_daemon.UKD = real
        self.upload()
        self.cycles(int(os.environ.get("UKD_LEAK_VALGRIND_CYCLES", "50")), 2)
        rc = self.ukd.stop()
        with open(vlog) as f:
            report = f.read()
        summary = re.findall(r"(definitely lost: .*|indirectly lost: .*|ERROR SUMMARY: .*)",
                             report)
        print("valgrind: %s" % "; ".join(summary))
        self.assertRegex(report, r"definitely lost: 0 bytes|All heap blocks were freed",
                         report[-6000:])
        self.assertRegex(report, r"ERROR SUMMARY: 0 errors", report[-6000:])
        self.assertEqual(rc, 0, report[-6000:])


if __name__ == "__main__":
    main(LeakTest)
