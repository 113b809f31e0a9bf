#!/usr/bin/env python3
"""1 GiB into an instance's console (docs/guarantees.md, "hostile guests"): a real
ukd (its own --root, --socket and --console-max 256K) against the real libvirtd,
through the REST API, with the console tests' helpers (tests/daemon/test_console_daemon.py).

Under TCG a guest's UART gets 30-50 KB/s through to ukd (1 GiB: about 10 hours);
a KVM guest's is faster but still one byte per QEMU write. So a host process
stands in for QEMU on the instance's console socket (root may; a new connection
replaces QEMU's), with the instance's QEMU stopped (SIGSTOP) so that it does not
reconnect and take the socket back, and writes as fast as ukd takes it: what is
tested is ukd's side, the same code a guest's bytes go through. Checked every
second: console.log + console.log.1 within --console-max, console.idx within
64 KiB, ukd's RSS; at the end the log's last line is the last one written.

Environment: UKD, UKD_HELLO, UKD_HTTPD; UKD_CONSOLE_GIB_MIB (1024),
UKD_CONSOLE_GIB_SECS (300: fail if it takes longer).
Run one case: test_console_flood.py CASE; list them: test_console_flood.py --list.
"""
import os
import signal
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "daemon"))
import test_daemon as td  # noqa: E402
from test_console_daemon import (HTTPD, RSS_GROWTH_MAX, ConsoleTest, proc_cpu,  # noqa: E402
                                 proc_rss)

GIB_MIB = int(os.environ.get("UKD_CONSOLE_GIB_MIB", "1024"))
GIB_SECS = int(os.environ.get("UKD_CONSOLE_GIB_SECS", "300"))


class ConsoleFloodTest(ConsoleTest):
    def qemu_pid(self, domain):
        with open("/run/libvirt/qemu/%s.pid" % domain) as f:
            return int(f.read().split()[0])

    def test_gib_at_host_speed(self):
        """1 GiB into an instance's console at the rate ukd takes it: on disk it stays
        within --console-max, ukd's RSS holds, and the log ends with the last line."""
        with open(HTTPD, "rb") as f:
            self.api("POST", "/v1/images?name=httpd", f.read(),
                     {"Content-Type": "application/octet-stream"}, 201)
        inst = self.run_instance({"image": "httpd", "name": "g",
                                  "args": ["8080", "/www"]}).json
        iid = inst["id"]
        self.wait_state("g", "running")
        self.wait_log("g", "listening")
        qpid = self.qemu_pid(inst["domain"])
        pid = self.ukd.proc.pid
        rss0, cpu0 = proc_rss(pid), proc_cpu(pid)
        os.kill(qpid, signal.SIGSTOP)
        try:
            sk = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sk.connect(os.path.join(self.root, "instances", iid, "console.sock"))
            line = 0
            chunk_lines = 655  # 100-byte lines, 64 KiB a write
            total = GIB_MIB << 20
            sent, t0, next_check, rss_max = 0, time.monotonic(), 0, rss0
            while sent < total:
                buf = "".join("flood %09d %s\n" % (line + i, "x" * 83)
                              for i in range(chunk_lines)).encode()
                line += chunk_lines
                sk.sendall(buf)
                sent += len(buf)
                now = time.monotonic()
                if now >= next_check:
                    self.check_bounded(iid)
                    rss_max = max(rss_max, proc_rss(pid))
                    self.assertLess(now - t0, GIB_SECS, "only %d MiB in %d s" %
                                    (sent >> 20, GIB_SECS))
                    next_check = now + 1
            sk.shutdown(socket.SHUT_WR)
            secs = time.monotonic() - t0
            cpu = proc_cpu(pid) - cpu0
            last = line - 1
            self.wait_for("last line %d in the log" % last,
                          lambda: self.last_number("g") == last, 30)
            sizes = self.check_bounded(iid)
            rss_max = max(rss_max, proc_rss(pid))
            sk.close()
        finally:
            os.kill(qpid, signal.SIGCONT)
        print("%d MiB in %.1f s (%.1f MiB/s), ukd %.1f%% of a core, RSS %.1f -> %.1f MiB "
              "(max), on disk %s" % (sent >> 20, secs, (sent >> 20) / secs, 100 * cpu / secs,
                                     rss0 / 2**20, rss_max / 2**20, sizes))
        self.assertLess(rss_max - rss0, RSS_GROWTH_MAX)
        self.assertEqual(self.api("GET", "/v1/instances/g", expect=200).json["state"],
                         "running")
        self.api("POST", "/v1/instances/g/kill", expect=200)


if __name__ == "__main__":
    td.main(ConsoleFloodTest, own=True)
