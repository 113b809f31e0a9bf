#!/usr/bin/env python3
"""ukd's API surface end to end: the TCP listener with its bearer token, stats
and metrics, logs since a time, streamed builds, volumes and the heartbeat
interval. A real ukd (its own --root, --socket and --netns) against the real
libvirtd, driven over HTTP and through the real ukctl.

Environment: UKD, UKCTL, UKD_HELLO (the hello example), UKD_KV (the kv example).
Run one case: test_api.py CASE; list them: test_api.py --list.
"""
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_daemon import DaemonTest, Response, UKD, HELLO, tar_of, running_domains  # noqa: E402

UKCTL = os.environ.get("UKCTL", "build/bin/ukctl")
KV = os.environ.get("UKD_KV", "build/images-build/kv/kv")
TOKEN = "t0k-%d-secret" % os.getpid()

LATER_C = b"""#include <stdio.h>
#include <unistd.h>
int main(void)
{
	printf("early line\\n");
	fflush(stdout);
	sleep(4);
	printf("late line\\n");
	fflush(stdout);
	return 0;
}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tcp_request(port, method, path, token=None, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = "Bearer " + token
    try:
        c.request(method, path, body=body, headers=h)
        return Response(c.getresponse())
    finally:
        c.close()


class ApiTest(DaemonTest):
    extra = ()

    def setUp(self):
        self.port = free_port()
        super().setUp()

    def ukctl(self, *args, env=None, timeout=120):
        e = dict(os.environ, UKD_HOST="unix://" + self.ukd.sock, NO_COLOR="1")
        e.pop("UKD_TOKEN", None)
        e.update(env or {})
        return subprocess.run([UKCTL] + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=e, timeout=timeout)

    def restart_with(self, *extra):
        self.assertEqual(self.ukd.stop(), 0)
        self.ukd.start(*extra)

    # --- 1. TCP with a bearer token ---

    def test_tcp_token(self):
        """--listen: 401 without or with a wrong token, ukctl works with the right one."""
        tokfile = os.path.join(self.dir, "token")
        with open(tokfile, "w") as f:
            f.write(TOKEN + "\n")
        os.chmod(tokfile, 0o600)
        self.restart_with("--listen", "127.0.0.1:%d" % self.port, "--token-file", tokfile)
        self.upload_elf(HELLO, "hello")

        for tok in (None, "wrong", TOKEN + "x", ""):
            r = tcp_request(self.port, "GET", "/v1/instances", tok)
            self.assertEqual(r.status, 401, r)
            self.assertEqual(r.headers.get("WWW-Authenticate"), "Bearer")
            self.assertEqual(r.json["error"]["code"], "unauthorized")
        # Refused before the body is read or the path routed: nothing is created.
        r = tcp_request(self.port, "POST", "/v1/instances", "wrong",
                        json.dumps({"image": "hello", "start": False}),
                        {"Content-Type": "application/json"})
        self.assertEqual(r.status, 401, r)
        r = tcp_request(self.port, "GET", "/no/such/path", None)
        self.assertEqual(r.status, 401, r)
        self.assertEqual(self.api("GET", "/v1/instances", expect=200).json, [])
        r = tcp_request(self.port, "GET", "/v1/system/info", TOKEN)
        self.assertEqual(r.status, 200, r)

        host = "tcp://127.0.0.1:%d" % self.port
        p = self.ukctl("-H", host, "ps", "-a")
        self.assertEqual(p.returncode, 1, p)
        self.assertIn("needs a bearer token", p.stderr)
        p = self.ukctl("ps", "-a", env={"UKD_HOST": host, "UKD_TOKEN": "nope"})
        self.assertEqual(p.returncode, 1, p)
        self.assertIn("token is wrong", p.stderr)
        p = self.ukctl("run", "-d", "--name", "t1", "hello", "0",
                       env={"UKD_HOST": host, "UKD_TOKEN": TOKEN})
        self.assertEqual(p.returncode, 0, p)
        self.domains.add("ukd-" + p.stdout.strip()[:12])
        p = self.ukctl("-H", host, "--token-file", tokfile, "ps", "-a", "--json")
        self.assertEqual(p.returncode, 0, p)
        self.assertEqual([i["name"] for i in json.loads(p.stdout)], ["t1"])
        # The unix socket needs no token and keeps its mode.
        self.assertEqual(os.stat(self.ukd.sock).st_mode & 0o777, 0o660)
        self.assertEqual(self.ukctl("ps", "-a", "-q").returncode, 0)

    def test_tcp_refuses_without_token(self):
        """--listen without a readable, non-empty token file: ukd does not start."""
        sock = os.path.join(self.dir, "other.sock")
        root = os.path.join(self.dir, "other")
        empty = os.path.join(self.dir, "empty")
        open(empty, "w").close()
        for extra, why in ((["--listen", "127.0.0.1:%d" % self.port], "--token-file"),
                           (["--listen", "127.0.0.1:%d" % self.port, "--token-file",
                             os.path.join(self.dir, "missing")], "No such file"),
                           (["--listen", "127.0.0.1:%d" % self.port, "--token-file", empty],
                            "empty")):
            p = subprocess.run([UKD, "--root", root, "--socket", sock, "--foreground"] + extra,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               timeout=60)
            self.assertNotEqual(p.returncode, 0, p.stdout)
            self.assertIn(why, p.stdout)
            self.assertFalse(os.path.exists(sock))
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", self.port), timeout=2).close()

    # --- 2. stats and metrics ---

    def test_stats(self):
        """A spinning guest: stats show its CPU, memory and NIC; metrics and ukctl stats too."""
        self.spin_image()
        inst = self.run_instance({"image": "spin", "name": "sp1", "network": "uk0"}).json
        self.wait_state("sp1", "running")
        self.wait_log("sp1", "spinning")
        s = self.api("GET", "/v1/instances/sp1/stats?sample_ms=500", expect=200).json
        print("stats:", json.dumps(s))
        self.assertEqual((s["id"], s["name"], s["sample_ms"]), (inst["id"], "sp1", 500))
        # A busy loop under TCG: most of a host CPU.
        self.assertGreater(s["cpu"]["percent"], 20.0)
        self.assertGreater(s["cpu"]["time_ns"], 0)
        self.assertEqual(s["memory"]["max_bytes"], 16 << 20)
        self.assertGreater(s["memory"]["current_bytes"], 0)
        self.assertEqual(s["network"]["interfaces"], 1)
        for k in ("rx_bytes", "rx_packets", "tx_bytes", "tx_packets"):
            self.assertGreaterEqual(s["network"][k], 0)
        one = self.api("GET", "/v1/instances/sp1/stats?sample_ms=0", expect=200).json
        self.assertIsNone(one["cpu"]["percent"])
        self.assertGreaterEqual(one["cpu"]["time_ns"], s["cpu"]["time_ns"])
        self.api("GET", "/v1/instances/sp1/stats?sample_ms=99999", expect=400)
        self.api("GET", "/v1/instances/nope/stats", expect=404)

        m = self.api("GET", "/metrics", expect=200).raw.decode()
        labels = '{instance="%s",name="sp1"}' % inst["id"]
        for series in ("ukd_instance_vm_cpu_seconds_total", "ukd_instance_vm_memory_bytes",
                       "ukd_instance_network_receive_packets_total",
                       "ukd_instance_network_transmit_packets_total"):
            self.assertRegex(m, re.escape(series + labels) + r" [0-9.]+\n")
        self.assertIn("ukd_instance_vm_memory_max_bytes%s %d\n" % (labels, 16 << 20), m)

        p = self.ukctl("stats", "--no-stream")
        self.assertEqual(p.returncode, 0, p)
        print(p.stdout)
        lines = p.stdout.splitlines()
        self.assertRegex(lines[0], r"^ID +NAME +CPU % +MEM USAGE / LIMIT +MEM % +NET RX / TX")
        self.assertEqual(len(lines), 2, p.stdout)
        self.assertRegex(lines[1], r"^%s +sp1 +[0-9]+\.[0-9]{2}%% +.* / 16\.0 MiB " %
                         inst["id"][:12])
        p = self.ukctl("stats", "--json", "sp1")
        self.assertEqual(p.returncode, 0, p)
        self.assertEqual(json.loads(p.stdout)[0]["name"], "sp1")
        p = self.ukctl("stats", "--no-stream", "nope")
        self.assertEqual(p.returncode, 1, p)
        self.assertIn("no instance nope", p.stderr)

        self.api("POST", "/v1/instances/sp1/kill", expect=200)
        self.api("GET", "/v1/instances/sp1/stats", expect=409)
        p = self.ukctl("stats", "--no-stream", "sp1")
        self.assertEqual(p.returncode, 0, p)
        self.assertRegex(p.stdout.splitlines()[1], r" +sp1 +- +- +- +- +- +-$")

    # --- 3. logs since ---

    def test_logs_since(self):
        """?since= and ukctl logs --since: RFC 3339, durations, unix seconds; bad ones 400."""
        ctx = tar_of([("uk.json", json.dumps({"name": "later", "sources": ["later.c"],
                                               "mem": 16}).encode()),
                      ("later.c", LATER_C)])
        self.upload_tar(ctx)
        self.run_instance({"image": "later", "name": "l1"})
        self.wait_log("l1", "early line")
        time.sleep(1)
        mid = time.time()
        self.wait_log("l1", "late line")
        self.wait_state("l1", "exited")
        full = self.api("GET", "/v1/instances/l1/logs", expect=200).raw.decode()
        self.assertIn("early line\n", full)

        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(mid)) + \
            (".%03dZ" % int((mid % 1) * 1000))
        for since in (stamp, "%.3f" % mid, "%ds" % int(time.time() - mid)):
            r = self.api("GET", "/v1/instances/l1/logs?since=" + since, expect=200)
            text = r.raw.decode()
            self.assertIn("late line\n", text, since)
            self.assertNotIn("early line", text, since)
            self.assertTrue(full.endswith(text), (since, text))
        # Long ago: everything; in the future: nothing; with tail: the last lines of that.
        self.assertEqual(self.api("GET", "/v1/instances/l1/logs?since=1h", expect=200).raw
                         .decode(), full)
        self.assertEqual(self.api("GET", "/v1/instances/l1/logs?since=%d" %
                                  (time.time() + 3600), expect=200).raw, b"")
        self.assertEqual(self.api("GET", "/v1/instances/l1/logs?since=1h&tail=1",
                                  expect=200).raw, full.splitlines(True)[-1].encode())
        for bad in ("yesterday", "10x", "2024-13-01T00:00:00Z", "-5m", "1h30"):
            r = self.api("GET", "/v1/instances/l1/logs?since=" + bad, expect=400)
            self.assertEqual(r.json["error"]["code"], "bad_query")

        p = self.ukctl("logs", "--since", stamp, "l1")
        self.assertEqual(p.returncode, 0, p)
        self.assertIn("late line", p.stdout)
        self.assertNotIn("early line", p.stdout)
        p = self.ukctl("logs", "--since", "2h", "l1")
        self.assertEqual((p.returncode, p.stdout), (0, full))
        p = self.ukctl("logs", "--since", "whenever", "l1")
        self.assertEqual(p.returncode, 1, p)
        self.assertIn("RFC 3339", p.stderr)


# Only this file's cases: the harness's own tests run from test_daemon.py.
for _name in dir(DaemonTest):
    if _name.startswith("test_") and _name not in ApiTest.__dict__:
        setattr(ApiTest, _name, None)

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--list":
        for name in unittest.defaultTestLoader.getTestCaseNames(ApiTest):
            print(name[len("test_"):])
        sys.exit(0)
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        sys.argv[1] = "ApiTest.test_" + sys.argv[1]
    unittest.main(verbosity=2)
