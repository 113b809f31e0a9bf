#!/usr/bin/env python3
"""Leaks (docs/guarantees.md, "Leaks"): instance life cycles through a real
ukd (against the real libvirtd) leave its fd count at its baseline and its
RSS within RSS_GROWTH_CAP_MIB; under valgrind, and built with AddressSanitizer
(LeakSanitizer) and UBSan, ukd loses no memory and makes no invalid access over
create/start/stop/remove cycles and a clean shutdown.

The cycles: create/list/remove without a guest; create + start of hello (it
exits at once) + remove; and create + start of httpd + graceful stop + start
again + stop + remove (a long-running guest ended through its health channel).

Environment: UKD (the ukd binary), UKD_ASAN (ukd-asan), UKD_HELLO (the hello
example), UKD_HTTPD (the httpd example).
Run one case: test_leaks.py CASE; list them: test_leaks.py --list.
Long form: UKD_LEAK_CYCLES=1000 UKD_LEAK_BOOTS=1000 UKD_LEAK_STOPS=1000 test_leaks.py cycles
(and asan, valgrind: UKD_LEAK_ASAN_CYCLES, UKD_LEAK_VALGRIND_CYCLES).
"""
import os
import time
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
import test_daemon  # noqa: E402
from test_daemon import main, HELLO  # noqa: E402
from procstat import proc_fds, proc_rss_mib  # noqa: E402

CYCLES = int(os.environ.get("UKD_LEAK_CYCLES", "300"))  # create + remove, no guest
BOOTS = int(os.environ.get("UKD_LEAK_BOOTS", "6"))  # create + start + exit + remove
STOPS = int(os.environ.get("UKD_LEAK_STOPS", "3"))  # httpd: create, start, stop x2, remove
HTTPD = os.environ.get("UKD_HTTPD", "build/images-build/httpd/httpd")
UKD_ASAN = os.environ.get("UKD_ASAN", "build/bin/ukd-asan")
RSS_GROWTH_CAP_MIB = 8


class LeakTest(test_daemon.DaemonTest):
    autostart = False

    def upload(self):
        self.upload_elf(HELLO, "hello")
        self.upload_elf(HTTPD, "httpd")

    def stop_cycle(self, i):
        """httpd created and started, stopped gracefully, started and stopped again, removed."""
        name = "s%d" % i
        r = self.api("POST", "/v1/instances", {"image": "httpd", "name": name,
                                               "args": ["8080", "/www"]}, expect=201)
        self.domains.add(r.json.get("domain"))
        for again in (False, True):
            if again:
                self.api("POST", "/v1/instances/%s/start" % name, expect=200)
            self.wait_state(name, "running")
            r = self.api("POST", "/v1/instances/%s/stop?t=10" % name, expect=200).json
            self.assertEqual((r["state"], r["exit_reason"]), ("exited", "stopped"), r)
        self.api("DELETE", "/v1/instances/" + name, expect=204)

    def boot_cycle(self, i):
        """Create and start hello (it exits at once), wait for the exit, remove it."""
        r = self.api("POST", "/v1/instances", {"image": "hello", "name": "b%d" % i}, expect=201)
        self.domains.add(r.json.get("domain"))
        self.wait_state("b%d" % i, "exited")
        self.api("DELETE", "/v1/instances/b%d" % i, expect=204)

    def progress(self, what, i, pid):
        """Long forms: fds and RSS every 100 cycles, so a trend shows before the end."""
        if pid and i % 100 == 99:
            print("  %s %d: fds %d, RSS %.1f MiB" % (what, i + 1, proc_fds(pid), proc_rss_mib(pid)),
                  flush=True)

    def cycles(self, n, boots, stops, pid=None):
        for i in range(n):
            self.api("POST", "/v1/instances", {"image": "hello", "name": "c%d" % i,
                                               "start": False, "env": {"I": str(i)}}, expect=201)
            self.api("GET", "/v1/instances", expect=200)
            self.api("DELETE", "/v1/instances/c%d" % i, expect=204)
        t = time.monotonic()
        for i in range(boots):
            self.boot_cycle(i)
            self.progress("boot cycle", i, pid)
        t2 = time.monotonic()
        for i in range(stops):
            self.stop_cycle(i)
            self.progress("stop cycle", i, pid)
        print("%d boot cycles %.1f s, %d stop cycles %.1f s" %
              (boots, t2 - t, stops, time.monotonic() - t2))

    def test_cycles(self):
        """Fds and RSS stay flat over CYCLES create/remove, BOOTS create/start/remove
        and STOPS create/start/stop/start/stop/remove cycles."""
        self.ukd.start()
        pid = self.ukd.proc.pid
        self.upload()
        self.cycles(50, 3, 2)  # warm up: caches, sqlite pages, libvirt's connection
        fds, rss = proc_fds(pid), proc_rss_mib(pid)
        self.cycles(CYCLES, BOOTS, STOPS, pid)
        time.sleep(1)
        fds2, rss2 = proc_fds(pid), proc_rss_mib(pid)
        print("%d create/remove, %d create/start/remove and %d create/start/stop/start/stop/"
              "remove cycles: fds %d -> %d, RSS %.1f -> %.1f MiB" %
              (CYCLES, BOOTS, STOPS, fds, fds2, rss, rss2))
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
        self.cycles(int(os.environ.get("UKD_LEAK_VALGRIND_CYCLES", "50")), 2, 1)
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

    def test_asan(self):
        """ukd built with ASan, LSan and UBSan (ukd-asan): no leak, no invalid access,
        no undefined behaviour over life cycles of every kind and a clean shutdown."""
        prefix = os.path.join(self.dir, "asan")
        env = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=97:log_path=" + prefix,
               "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:log_path=" + prefix}
        real = test_daemon.UKD
        test_daemon.UKD = UKD_ASAN
        try:
            with test_daemon.environ(**env):
                self.ukd.start()
        finally:
            test_daemon.UKD = real
        self.upload()
        n = int(os.environ.get("UKD_LEAK_ASAN_CYCLES", "100"))
        self.cycles(n, 3, 2)
        rc = self.ukd.stop()
        reports = ""
        for f in sorted(os.listdir(self.dir)):
            if f.startswith("asan."):
                with open(os.path.join(self.dir, f), errors="replace") as fh:
                    reports += fh.read()
        print("ukd-asan: %d create/remove, 3 boot and 2 stop cycles: exit status %s, "
              "%d bytes of sanitizer reports" % (n, rc, len(reports)))
        self.assertEqual(reports, "", reports[-8000:])
        self.assertEqual(rc, 0)


if __name__ == "__main__":
    main(LeakTest, own=True)
