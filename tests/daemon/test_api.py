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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_daemon  # noqa: E402
from test_daemon import main, DaemonTest, Response, UKD, HELLO, free_port, tar_of  # noqa: E402

UKCTL = os.environ.get("UKCTL", "build/bin/ukctl")
KV = os.environ.get("UKD_KV", "build/images-build/kv/kv")
TOKEN = "t0k-%d-secret" % os.getpid()

# An idle guest: its heartbeats come on time whatever the host's load.
SLEEPER_C = b"""#include <stdio.h>
#include <unistd.h>
int main(void)
{
	printf("sleeping\\n");
	fflush(stdout);
	sleep(600);
	return 0;
}
"""

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
        tokfile = self.restart_listening(self.port, TOKEN)
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
        # A busy loop under TCG: a good part of a host CPU, even on a busy host.
        self.assertGreater(s["cpu"]["percent"], 5.0)
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

    # --- 4. streamed builds ---

    def test_build_stream(self):
        """?stream=1 streams the compiler's output as NDJSON; ukctl build shows it."""
        good = tar_of([("uk.json", json.dumps({"name": "later", "sources": ["later.c"]})
                        .encode()), ("later.c", LATER_C)])
        r = self.upload_tar(good, "?stream=1", expect=200)
        self.assertEqual(r.headers.get("Content-Type"), "application/x-ndjson")
        lines = [json.loads(line) for line in r.raw.decode().splitlines()]
        text = "".join(m.get("stream", "") for m in lines)
        self.assertIn("compiling later.c\n", text)
        self.assertIn("linking\n", text)
        self.assertEqual(lines[-1]["status"], 201)
        self.assertEqual(lines[-1]["image"]["name"], "later")
        self.assertEqual(len(self.stored_files()), 1)

        bad = tar_of([("uk.json", json.dumps({"name": "bad", "sources": ["bad.c"]}).encode()),
                      ("bad.c", b"int main(void) { return undeclared_thing; }\n")])
        r = self.upload_tar(bad, "?stream=1", expect=200)
        lines = [json.loads(line) for line in r.raw.decode().splitlines()]
        text = "".join(m.get("stream", "") for m in lines)
        self.assertIn("undeclared_thing", text)
        self.assertEqual(lines[-1]["status"], 422)
        self.assertEqual(lines[-1]["error"]["code"], "build_failed")
        # Nothing stored for the failed build; refusals before the build are plain 4xx.
        self.assertEqual(len(self.stored_files()), 1)
        self.assertEqual([i["name"] for i in self.api("GET", "/v1/images", expect=200).json],
                         ["later"])
        self.upload_tar(b"not a tar", "?stream=1&name=BAD", expect=422)

        ctx = os.path.join(self.dir, "ctx")
        os.makedirs(ctx)
        with open(os.path.join(ctx, "uk.json"), "w") as f:
            json.dump({"name": "bad", "sources": ["bad.c"]}, f)
        with open(os.path.join(ctx, "bad.c"), "w") as f:
            f.write("int main(void) { return undeclared_thing; }\n")
        p = self.ukctl("build", "-t", "bad2", ctx)
        self.assertEqual(p.returncode, 1, p)
        self.assertIn("Uploading", p.stderr)
        self.assertIn("compiling bad.c\n", p.stderr)
        self.assertIn("undeclared_thing", p.stderr)
        self.assertIn("ukctl: build: compiling bad.c failed", p.stderr)
        self.assertEqual(len(self.stored_files()), 1)
        with open(os.path.join(ctx, "bad.c"), "w") as f:
            f.write("int main(void) { return 0; }\n")
        p = self.ukctl("build", "-t", "good2", ctx)
        self.assertEqual(p.returncode, 0, p)
        self.assertIn("compiling bad.c\n", p.stderr)
        self.assertRegex(p.stdout, r"^Built good2:latest sha256:[0-9a-f]{64} ")
        p = self.ukctl("build", "-q", "-t", "good3", ctx)
        self.assertEqual(p.returncode, 0, p)
        self.assertRegex(p.stdout, r"^sha256:[0-9a-f]{64}\n$")
        self.assertEqual(p.stderr, "")

    # --- 5. volumes and the heartbeat interval ---

    def test_volume_checks(self):
        """Bad volumes and heartbeat intervals are refused (422) and create nothing."""
        self.upload_elf(HELLO, "hello")
        disk = os.path.join(self.dir, "disk.img")
        with open(disk, "wb") as f:
            f.truncate(1 << 20)
        for vols, why in (([disk], "FILE:/dev/vdX"), (["disk.img:/dev/vda"], "absolute"),
                          ([self.dir + "/none.img:/dev/vda"], "existing regular file"),
                          ([self.dir + ":/dev/vda"], "existing regular file"),
                          ([disk + ":/dev/sda"], "virtio disk"),
                          ([disk + ":/dev/vdaa"], "virtio disk"),
                          ([disk + ":/dev/vda", disk + ":/dev/vda"], "given twice"),
                          ([disk + ":/dev/vda", disk + ":/dev/vdb"], "attached twice"),
                          ("x", "list"), ([5], "FILE:/dev/vdX")):
            r = self.api("POST", "/v1/instances", {"image": "hello", "volumes": vols},
                         expect=422)
            self.assertIn(why, r.json["error"]["message"], vols)
        other = os.path.join(self.dir, "other.img")
        open(other, "wb").close()
        r = self.api("POST", "/v1/instances",
                     {"image": "hello", "volumes": [disk + ":/dev/vda", other + ":/dev/vdb"]},
                     expect=422)
        self.assertIn("at most 1", r.json["error"]["message"])
        for ms in (0, 99, 3600001, "1s"):
            self.api("POST", "/v1/instances", {"image": "hello", "health_interval_ms": ms},
                     expect=422)
        self.assertEqual(self.api("GET", "/v1/instances", expect=200).json, [])
        p = self.ukctl("run", "-d", "-v", "disk.img:/dev/vda", "hello")
        self.assertEqual(p.returncode, 1, p)
        self.assertIn("absolute path", p.stderr)
        p = self.ukctl("run", "-d", "--health-interval", "soon", "hello")
        self.assertEqual(p.returncode, 2, p)

    def test_health_interval(self):
        """--health-interval 200ms: the guest beats five times a second; ukd knows it."""
        ctx = tar_of([("uk.json", json.dumps({"name": "sleeper", "sources": ["s.c"],
                                               "mem": 16}).encode()), ("s.c", SLEEPER_C)])
        self.upload_tar(ctx)
        p = self.ukctl("run", "-d", "--name", "hb", "--health-interval", "200ms", "sleeper")
        self.assertEqual(p.returncode, 0, p)
        inst = self.api("GET", "/v1/instances/hb", expect=200).json
        self.domains.add(inst["domain"])
        self.assertEqual(inst["health_interval_ms"], 200)
        self.wait_log("hb", "sleeping")
        xml = test_daemon.virsh("dumpxml", inst["domain"]).stdout
        self.assertIn("uk.heartbeat=200 ", xml)

        def beat():
            return self.api("GET", "/v1/instances/hb/health", expect=200).json["heartbeat"]

        deadline = time.monotonic() + 60
        while not beat() and time.monotonic() < deadline:
            time.sleep(0.2)
        b0 = beat()
        time.sleep(3)
        b1 = beat()
        # In the guest's own time: under TCG on a busy host its clock may run slow.
        ms = (b1["uptime_ns"] - b0["uptime_ns"]) / 1e6 / max(1, b1["seq"] - b0["seq"])
        print("heartbeat every %.0f ms of guest time (%d beats)" % (ms, b1["seq"] - b0["seq"]))
        self.assertGreaterEqual(b1["seq"] - b0["seq"], 3)
        self.assertTrue(150 <= ms <= 300, ms)
        h = self.api("GET", "/v1/instances/hb/health", expect=200).json
        self.assertNotEqual(h["status"], "unhealthy", h)

    def test_volume_kv(self):
        """kv keeps its keys on a volume (--aof /dev/vda) across a restart of the instance."""
        with open(KV, "rb") as f:
            self.api("POST", "/v1/images?name=kv", f.read(),
                     {"Content-Type": "application/octet-stream"}, expect=201)
        disk = os.path.join(self.dir, "kv.img")
        with open(disk, "wb") as f:
            f.truncate(8 << 20)
        os.chmod(disk, 0o666)
        port = free_port()
        p = self.ukctl("run", "-d", "--name", "db", "-m", "64", "-v", disk + ":/dev/vda",
                       "-p", "127.0.0.1:%d:6379" % port, "kv", "--port", "6379", "--aof",
                       "/dev/vda")
        self.assertEqual(p.returncode, 0, p)
        inst = self.api("GET", "/v1/instances/db", expect=200).json
        self.domains.add(inst["domain"])
        self.assertEqual(inst["volumes"], [disk + ":/dev/vda"])
        xml = test_daemon.virsh("dumpxml", inst["domain"]).stdout
        self.assertRegex(xml, r"<source file='%s'" % re.escape(disk))

        def resp(*cmds, timeout=90):
            deadline = time.monotonic() + timeout
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                        out = b""
                        for c in cmds:
                            s.sendall(b"*%d\r\n" % len(c) + b"".join(
                                b"$%d\r\n%s\r\n" % (len(a), a) for a in c))
                        s.settimeout(10)
                        while out.count(b"\r\n") < len(cmds):
                            chunk = s.recv(4096)
                            if not chunk:
                                raise OSError("closed")
                            out += chunk
                        return out
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.3)

        self.assertEqual(resp([b"SET", b"color", b"blue"], [b"SET", b"n", b"42"]),
                         b"+OK\r\n+OK\r\n")
        self.assertEqual(resp([b"GET", b"color"]), b"$4\r\nblue\r\n")
        p = self.ukctl("restart", "-t", "5", "db")
        self.assertEqual(p.returncode, 0, p)
        self.assertEqual(resp([b"GET", b"color"], [b"GET", b"n"]),
                         b"$4\r\nblue\r\n$2\r\n42\r\n")
        log = self.api("GET", "/v1/instances/db/logs", expect=200).raw.decode()
        self.assertIn("/dev/vda", log)

    # --- 6. the list, reused while nothing changes ---

    def test_list_follows_changes(self):
        """GET /v1/instances is reused between changes but always shows the latest rows."""
        self.upload_elf(HELLO, "hello")
        for n in ("a", "b", "c"):
            self.run_instance({"image": "hello", "name": n, "start": False, "args": ["0"]})
        first = self.api("GET", "/v1/instances", expect=200)
        self.assertEqual(self.api("GET", "/v1/instances", expect=200).raw, first.raw)
        self.assertEqual([i["name"] for i in first.json], ["a", "b", "c"])
        self.api("DELETE", "/v1/instances/b", expect=204)
        self.assertEqual([i["name"] for i in self.api("GET", "/v1/instances").json], ["a", "c"])
        self.api("POST", "/v1/instances/c/start", expect=200)
        deadline = time.monotonic() + 90
        while True:
            c = [i for i in self.api("GET", "/v1/instances").json if i["name"] == "c"][0]
            if c["state"] == "exited" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual((c["state"], c["exit_status"]), ("exited", 0))
        self.assertEqual(c, self.api("GET", "/v1/instances/c", expect=200).json)

    # --- the contract ---

    def test_openapi_covers_routes(self):
        """Every route ukd serves is in api/openapi.yaml with its method, and no other."""
        here = os.path.dirname(os.path.abspath(__file__))
        src = os.path.join(here, "..", "..")
        with open(os.path.join(src, "ukd", "api.c")) as f:
            served = {(m.lower(), "/" + "/".join(seg.strip().strip('"') for seg in segs.split(",")))
                      for m, segs in re.findall(r"\{HTTP_([A-Z]+), \{([^}]*)\}", f.read())}
        documented = set()
        path = None
        with open(os.path.join(src, "api", "openapi.yaml")) as f:
            for line in f:
                m = re.match(r"^  (/\S*):\s*$", line)
                if m:
                    path = re.sub(r"\{[^}]+\}", "*", m.group(1))
                    continue
                m = re.match(r"^    (get|post|put|delete|patch):", line)
                if m and path:
                    documented.add((m.group(1), path))
                if re.match(r"^\S", line):
                    path = None
        self.assertTrue(served)
        self.assertEqual(sorted(served - documented), [], "served but not in openapi.yaml")
        self.assertEqual(sorted(documented - served), [], "in openapi.yaml but not served")
        # And each answers as documented for an unknown instance or with bad input.
        self.api("GET", "/v1/instances/nope/stats", expect=404)
        self.api("GET", "/v1/instances/nope/logs?since=soon", expect=400)


# Only this file's cases: the harness's own tests run from test_daemon.py.
for _name in dir(DaemonTest):
    if _name.startswith("test_") and _name not in ApiTest.__dict__:
        setattr(ApiTest, _name, None)

if __name__ == "__main__":
    main(ApiTest)
