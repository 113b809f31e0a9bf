#!/usr/bin/env python3
"""ukd daemon tests: a real ukd (its own --root and --socket) against the real
libvirtd on qemu:///system, driven through the REST API the way a client would.

Each test starts its own ukd, and at the end stops it by PID and destroys the
libvirt domains it created (only those: their names come from the API).

Environment: UKD (the ukd binary), UKD_HELLO (the hello example, a static ELF).
Run one case: test_daemon.py CASE; list them: test_daemon.py --list.
"""
import atexit
import contextlib
import http.client
import io
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import unittest

UKD = os.environ.get("UKD", "build/bin/ukd")
HELLO = os.environ.get("UKD_HELLO", "build/images-build/hello/hello")
URI = "qemu:///system"

SPIN_C = b"""#include <stdio.h>
int main(void)
{
	printf("spinning\\n");
	fflush(stdout);
	for (;;)
		__asm__ volatile("pause");
}
"""


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over ukd's unix socket."""

    def __init__(self, path, timeout=120):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class Response:
    def __init__(self, r):
        self.status = r.status
        self.headers = r.headers
        self.raw = r.read()
        self.json = None
        if (r.headers.get("Content-Type") or "").startswith("application/json") and self.raw:
            self.json = json.loads(self.raw)

    def __repr__(self):
        return "%d %r" % (self.status, self.raw[:2000])


def request(sock, method, path, body=None, headers=None, timeout=120):
    """One request to the ukd at unix socket sock; a dict or list body is sent as JSON."""
    c = UnixHTTPConnection(sock, timeout=timeout)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = dict(headers or {}, **{"Content-Type": "application/json"})
        c.request(method, path, body=body, headers=headers or {})
        return Response(c.getresponse())
    finally:
        c.close()


@contextlib.contextmanager
def environ(**env):
    """Sets the environment variables in env (a value of None unsets one) for the
    with block, e.g. a ukd start, and restores what they were after it."""
    def put(values):
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    saved = {k: os.environ.get(k) for k in env}
    try:
        put(env)
        yield
    finally:
        put(saved)


def free_port():
    """A TCP port on loopback that nothing listens on (at the time of asking)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def virsh(*args):
    return subprocess.run(["virsh", "-c", URI] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=120)


def running_domains():
    return virsh("list", "--name").stdout.split()


def tar_of(files):
    """files: list of (name, bytes) or (name, tarinfo-customizer)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in files:
            info = tarfile.TarInfo(name)
            if isinstance(data, bytes):
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            else:
                data(info)
                t.addfile(info)
    return buf.getvalue()


def _netns_del(name):
    subprocess.run(["ip", "netns", "del", name], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def _sweep_stale_netns():
    """Deletes test namespaces (ukdt-PID-...) whose test process is gone: one killed
    before its atexit ran (a timeout, a crash) would otherwise stay behind."""
    out = subprocess.run(["ip", "netns", "list"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True).stdout
    for line in out.splitlines():
        m = re.match(r"(ukdt-(\d+)-\S+)", line)
        if m and int(m.group(2)) != os.getpid() and not os.path.exists("/proc/" + m.group(2)):
            _netns_del(m.group(1))


def sweep_qemu_links():
    """Removes ukd's short links to QEMU's sockets (/run/uk, ukd/qemusock.h) whose
    instance directory is gone: a test root removed with its instances in it leaves
    them, and only a later ukd's start would. The same rule as ukd's own sweep, and
    only for the names ukd gives its links (test_qemu_socket_links keeps others)."""
    try:
        names = os.listdir("/run/uk")
    except OSError:
        return
    for name in names:
        if not re.fullmatch(r"[0-9a-f]{16}[ch]", name):
            continue
        path = os.path.join("/run/uk", name)
        try:
            to = os.readlink(path)
        except OSError:
            continue
        if to.startswith(tempfile.gettempdir() + "/") and not os.path.isdir(os.path.dirname(to)):
            with contextlib.suppress(OSError):
                os.unlink(path)


atexit.register(sweep_qemu_links)


class Daemon:
    seq = 0

    def __init__(self, root, sock, logpath):
        self.root, self.sock, self.logpath = root, sock, logpath
        self.proc = None
        # Its own network namespace (ukd creates it), kept across restarts and deleted
        # when the test process ends: tests never share ukd's default "ukd".
        if Daemon.seq == 0:
            _sweep_stale_netns()
        Daemon.seq += 1
        self.netns = "ukdt-%d-d%d" % (os.getpid(), Daemon.seq)
        atexit.register(_netns_del, self.netns)

    def start(self, *extra):
        self.log = open(self.logpath, "a")
        if "--netns" not in extra:
            extra = ("--netns", self.netns) + tuple(extra)
        self.proc = subprocess.Popen([UKD, "--root", self.root, "--socket", self.sock,
                                      "--foreground", "--log-level", "debug"] + list(extra),
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("ukd exited with %d:\n%s" % (self.proc.returncode,
                                                                 self.read_log()))
            try:
                r = self.request("GET", "/v1/system/info")
                # Ready for instances once libvirt is connected and reconciled.
                if r.status == 200 and r.json["libvirt"]["connected"]:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("ukd did not become ready:\n" + self.read_log())

    def stop(self, sig=signal.SIGTERM):
        if not self.proc or self.proc.poll() is not None:
            return None
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        return rc

    def read_log(self):
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def request(self, method, path, body=None, headers=None, timeout=120):
        return request(self.sock, method, path, body, headers, timeout)


class DaemonTest(unittest.TestCase):
    autostart = True  # False: the test starts self.ukd itself (other binary, options)

    def setUp(self):
        # libvirt's QEMU (user libvirt-qemu) must reach the image files: 0755 all the way.
        self.dir = tempfile.mkdtemp(prefix="ukd-daemon-test-")
        os.chmod(self.dir, 0o755)
        self.root = os.path.join(self.dir, "root")
        self.ukd = Daemon(self.root, os.path.join(self.dir, "ukd.sock"),
                          os.path.join(self.dir, "ukd.log"))
        self.domains = set()
        if self.autostart:
            self.ukd.start()

    def tearDown(self):
        self.ukd.stop()
        for name in self.domains:
            if name in running_domains():
                virsh("destroy", name)
        if any(e for e in sys.exc_info()) or os.environ.get("UKD_TEST_VERBOSE"):
            print(self.ukd.read_log())
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- helpers ---

    def api(self, method, path, body=None, headers=None, expect=None):
        r = self.ukd.request(method, path, body, headers)
        if expect is not None:
            self.assertEqual(r.status, expect, "%s %s -> %r" % (method, path, r))
        return r

    def restart_listening(self, port, token):
        """Restarts ukd with --listen 127.0.0.1:PORT and a token file (mode 0600)
        holding token; returns the token file's path."""
        tokfile = os.path.join(self.dir, "token")
        with open(tokfile, "w") as f:
            f.write(token + "\n")
        os.chmod(tokfile, 0o600)
        self.assertEqual(self.ukd.stop(), 0)
        self.ukd.start("--listen", "127.0.0.1:%d" % port, "--token-file", tokfile)
        return tokfile

    def upload_elf(self, path, name, expect=201):
        with open(path, "rb") as f:
            data = f.read()
        return self.api("POST", "/v1/images?name=" + name, data,
                        {"Content-Type": "application/octet-stream"}, expect)

    def upload_tar(self, data, query="", expect=201):
        return self.api("POST", "/v1/images" + query, data,
                        {"Content-Type": "application/x-tar"}, expect)

    def run_instance(self, spec, expect=201):
        r = self.api("POST", "/v1/instances", spec, expect=expect)
        if r.json and "domain" in r.json:
            self.domains.add(r.json["domain"])
        return r

    def wait_for(self, what, fn, timeout=90, step=0.2):
        """Calls fn every step seconds until it returns something true, and returns that;
        fails with "no WHAT" after timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            got = fn()
            if got:
                return got
            if time.monotonic() > deadline:
                self.fail("no %s after %ds" % (what, timeout))
            time.sleep(step)

    def wait_state(self, ref, state, timeout=90):
        deadline = time.monotonic() + timeout
        while True:
            r = self.api("GET", "/v1/instances/" + ref, expect=200)
            if r.json["state"] == state:
                return r.json
            if time.monotonic() > deadline:
                self.fail("instance %s is %s, not %s, after %ds" %
                          (ref, r.json["state"], state, timeout))
            time.sleep(0.2)

    def wait_log(self, ref, text, timeout=90):
        deadline = time.monotonic() + timeout
        while True:
            r = self.api("GET", "/v1/instances/%s/logs" % ref, expect=200)
            if text in r.raw.decode(errors="replace"):
                return r.raw.decode(errors="replace")
            if time.monotonic() > deadline:
                self.fail("no %r in the log of %s after %ds: %r" % (text, ref, timeout, r.raw))
            time.sleep(0.2)

    def stored_files(self):
        d = os.path.join(self.root, "images", "sha256")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def spin_image(self):
        ctx = tar_of([("uk.json", json.dumps({"name": "spin", "sources": ["spin.c"],
                                               "mem": 16}).encode()),
                      ("spin.c", SPIN_C)])
        return self.upload_tar(ctx).json

    # --- tests ---

    def test_hello_runs_and_exits(self):
        """Upload hello, run it with args ["3"]: it exits 3 and its output is in the logs."""
        st = os.stat(self.ukd.sock)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)

        img = self.upload_elf(HELLO, "hello:v1").json
        self.assertRegex(img["id"], r"^sha256:[0-9a-f]{64}$")
        self.assertEqual((img["name"], img["tag"]), ("hello", "v1"))
        path = os.path.join(self.root, "images", "sha256", img["id"][7:] + ".img")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o644)
        # The same bytes again: the same image, not a second one.
        again = self.upload_elf(HELLO, "hello:v1", expect=200).json
        self.assertEqual(again["id"], img["id"])
        self.assertEqual(len(self.api("GET", "/v1/images", expect=200).json), 1)
        for ref in ("hello:v1", img["id"], img["id"][7:19]):
            self.assertEqual(self.api("GET", "/v1/images/" + ref, expect=200).json["id"],
                             img["id"])

        inst = self.run_instance({"image": "hello:v1", "name": "h1", "args": ["3", "two words"],
                                  "env": {"GREETING": "from the test"}}).json
        self.assertIn(inst["state"], ("running", "exited"))
        done = self.wait_state("h1", "exited")
        self.assertEqual(done["exit_status"], 3)
        self.assertEqual(done["exit_reason"], "exited")
        self.assertIsNotNone(done["finished"])
        log = self.wait_log("h1", "exit status 3")
        self.assertIn("Hello from ukd\n", log)
        self.assertIn("argv[2] = two words\n", log)
        self.assertIn("GREETING = from the test\n", log)
        self.assertEqual(self.api("GET", "/v1/instances/h1/logs?tail=1", expect=200).raw,
                         b"exit status 3\n")
        self.assertNotIn(inst["domain"], running_domains())

        # Run it again: a new run, the new status.
        self.api("POST", "/v1/instances/h1/start", expect=200)
        self.assertEqual(self.wait_state("h1", "exited")["exit_status"], 3)

        names = [i["name"] for i in self.api("GET", "/v1/instances", expect=200).json]
        self.assertEqual(names, ["h1"])
        self.api("DELETE", "/v1/images/hello:v1", expect=409)  # in use
        self.api("DELETE", "/v1/instances/h1", expect=204)
        self.api("GET", "/v1/instances/h1", expect=404)
        self.api("DELETE", "/v1/images/hello:v1", expect=204)
        self.assertFalse(os.path.exists(path))
        self.assertEqual(self.api("GET", "/v1/images", expect=200).json, [])

    def test_bad_requests(self):
        """Refused requests answer the right status with a JSON error and change nothing."""
        self.upload_elf(HELLO, "hello")
        before = self.api("GET", "/v1/instances", expect=200).json

        def err(r, status):
            self.assertEqual(r.status, status, r)
            self.assertIsInstance(r.json["error"]["code"], str)
            self.assertTrue(r.json["error"]["message"])

        err(self.api("POST", "/v1/instances", b'{"image": "hello",',
                     {"Content-Type": "application/json"}), 400)
        err(self.api("POST", "/v1/instances", b'[1, 2]', {"Content-Type": "application/json"}),
            400)
        err(self.api("POST", "/v1/instances", {"image": "no-such-image"}), 404)
        err(self.api("POST", "/v1/instances", {"image": "hello", "colour": "red"}), 422)
        err(self.api("POST", "/v1/instances", {"image": "hello", "memory_mib": "lots"}), 422)
        err(self.api("POST", "/v1/instances", {"image": "hello", "args": [1]}), 422)
        err(self.api("POST", "/v1/instances", {"image": "hello", "name": "../x"}), 422)
        err(self.api("POST", "/v1/instances", {"image": "hello", "args": ["x" * 5000]}), 422)
        err(self.api("POST", "/v1/instances", b"x" * (10 << 20),
                     {"Content-Type": "application/json"}), 413)
        self.assertEqual(self.api("GET", "/v1/instances", expect=200).json, before)

        self.run_instance({"image": "hello", "name": "dup", "start": False})
        err(self.run_instance({"image": "hello", "name": "dup", "start": False}, expect=409),
            409)
        err(self.api("POST", "/v1/instances/nope/start"), 404)
        r = self.api("PUT", "/v1/instances")
        err(r, 405)
        self.assertEqual(r.headers["Allow"], "GET, POST")
        err(self.api("GET", "/v1/nothing"), 404)
        err(self.api("GET", "/v1/instances/dup/logs?tail=abc"), 400)
        # A client that sends garbage gets 400 and the daemon carries on.
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.ukd.sock)
        s.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        self.assertIn(b" 400 ", s.recv(4096))
        s.close()
        names = [i["name"] for i in self.api("GET", "/v1/instances", expect=200).json]
        self.assertEqual(names, ["dup"])
        self.api("DELETE", "/v1/instances/dup", expect=204)

    def test_http_protocol(self):
        """Keep-alive, pipelining, chunked bodies, 100-continue and header limits."""
        def raw(data, wait=0.5):
            s = socket.socket(socket.AF_UNIX)
            s.connect(self.ukd.sock)
            s.sendall(data)
            s.settimeout(wait)
            out = b""
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                out += chunk
            s.close()
            return out

        out = raw(b"GET /v1/images HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"POST /v1/instances HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"5\r\n{\"a\":\r\n2\r\n1}\r\n0\r\n\r\n"
                  b"GET /v1/nothing HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(re.findall(rb"HTTP/1.1 (\d{3}) ", out), [b"200", b"422", b"404"], out)
        out = raw(b"GET /v1/images HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 431 "), out)
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.ukd.sock)
        s.sendall(b"POST /v1/instances HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        self.assertEqual(s.recv(100), b"HTTP/1.1 100 Continue\r\n\r\n")
        s.sendall(b"{}")
        self.assertIn(b" 422 ", s.recv(4096))
        s.close()

    def test_bad_uploads(self):
        """Hostile or broken uploads are refused with the reason, and nothing is stored."""
        evil = tar_of([("uk.json", b'{"name":"evil","sources":["a.c"]}'),
                       ("a.c", b"int main(void){return 0;}\n"),
                       ("../escape.c", b"int x;\n")])
        r = self.upload_tar(evil, expect=422)
        self.assertIn("escape.c", r.json["error"]["message"])

        def symlink(info):
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
        r = self.upload_tar(tar_of([("uk.json", b'{"name":"l","sources":["a.c"]}'),
                                    ("a.c", symlink)]), expect=422)
        self.assertIn("only regular files", r.json["error"]["message"])
        r = self.upload_tar(tar_of([("/abs.c", b"int x;\n")]), expect=422)

        r = self.upload_tar(tar_of([("uk.json", b'{"name":"broken","sources":["b.c"]}'),
                                    ("b.c", b"int main(void) { return nope; }\n")]), expect=422)
        self.assertEqual(r.json["error"]["code"], "build_failed")
        self.assertIn("nope", r.json["error"]["message"])  # the compiler's own words
        r = self.upload_tar(tar_of([("uk.json", b'{"name":"m","sources":["missing.c"]}')]),
                            expect=422)
        r = self.upload_tar(b"this is not a tar archive" * 100, expect=422)

        # A dynamically linked program (the host's own /bin/true).
        r = self.upload_elf("/bin/true", "dyn", expect=422)
        self.assertIn("dynamically linked", r.json["error"]["message"])
        self.assertNotIn(self.root, r.json["error"]["message"])
        with tempfile.NamedTemporaryFile() as junk:
            junk.write(b"\x7fELF" + b"\0" * 200)
            junk.flush()
            self.upload_elf(junk.name, "junk", expect=422)
        self.api("POST", "/v1/images?name=Bad/Name", b"x",
                 {"Content-Type": "application/octet-stream"}, 422)
        self.api("POST", "/v1/images", b"x", {"Content-Type": "application/octet-stream"}, 422)
        self.api("POST", "/v1/images?name=x", b"x", {"Content-Type": "text/plain"}, 415)

        self.assertEqual(self.api("GET", "/v1/images", expect=200).json, [])
        self.assertEqual(self.stored_files(), [])
        self.assertEqual(os.listdir(os.path.join(self.root, "tmp")), [])

    def test_build_context_stop_kill_logs(self):
        """A tar build context builds and runs; stop, start, kill and log following work."""
        img = self.spin_image()
        self.assertEqual(img["name"], "spin")
        self.assertEqual(img["memory_mib"], 16)
        self.run_instance({"image": "spin", "name": "s1"})
        self.wait_state("s1", "running")
        self.wait_log("s1", "spinning")
        self.api("POST", "/v1/instances/s1/start", expect=409)  # already running
        self.api("DELETE", "/v1/instances/s1", expect=409)  # running, not forced

        # Graceful stop: this runtime ignores ACPI power-off, so the deadline destroys it.
        r = self.api("POST", "/v1/instances/s1/stop?t=1", expect=200).json
        self.assertEqual((r["state"], r["exit_reason"]), ("exited", "stopped"))
        self.assertNotIn(r["domain"], running_domains())

        self.api("POST", "/v1/instances/s1/start", expect=200)
        self.wait_log("s1", "spinning")
        # Follow the log: the stream carries the output and ends when the instance does.
        c = UnixHTTPConnection(self.ukd.sock, timeout=60)
        c.request("GET", "/v1/instances/s1/logs?follow=1")
        resp = c.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.headers["Transfer-Encoding"], "chunked")
        self.assertIn(b"spinning", resp.read1(4096))
        r = self.api("POST", "/v1/instances/s1/kill", expect=200).json
        self.assertEqual((r["state"], r["exit_reason"], r["desired_state"]),
                         ("exited", "killed", "stopped"))
        resp.read()  # returns once ukd ends the stream
        c.close()
        self.api("DELETE", "/v1/instances/s1", expect=204)

    def test_system_info(self):
        """system/info reports libvirt's and QEMU's versions, the host, and counts."""
        info = self.api("GET", "/v1/system/info", expect=200).json
        self.assertRegex(info["libvirt"]["version"], r"^\d+\.\d+\.\d+$")
        self.assertEqual(info["libvirt"]["hypervisor"], "QEMU")
        self.assertRegex(info["libvirt"]["hypervisor_version"], r"^\d+\.\d+\.\d+$")
        self.assertGreaterEqual(info["host"]["cpus"], 1)
        self.assertGreater(info["host"]["memory_mib"], 64)
        self.assertEqual((info["images"], info["instances"]), (0, {"total": 0, "by_state": {}}))
        self.upload_elf(HELLO, "hello")
        self.run_instance({"image": "hello", "name": "a", "start": False})
        self.run_instance({"image": "hello", "name": "b", "start": False})
        info = self.api("GET", "/v1/system/info", expect=200).json
        self.assertEqual((info["images"], info["instances"]),
                         (1, {"total": 2, "by_state": {"created": 2}}))

    def test_kill_during_stop(self):
        """A kill while a graceful stop waits for the guest ends the stop now (202)."""
        self.spin_image()
        self.run_instance({"image": "spin", "name": "s3"})
        self.wait_log("s3", "spinning")
        stop = {}

        def do_stop():
            stop["r"] = self.api("POST", "/v1/instances/s3/stop?t=60")
        t = threading.Thread(target=do_stop)
        t0 = time.monotonic()
        t.start()
        self.wait_state("s3", "stopping")
        deadline = time.monotonic() + 10
        while True:  # 409 busy until the shutdown request has gone to the guest
            r = self.api("POST", "/v1/instances/s3/kill")
            if r.status != 409 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json["state"], "stopping")
        t.join(timeout=30)
        self.assertLess(time.monotonic() - t0, 30, "the stop waited for its deadline")
        self.assertEqual(stop["r"].status, 200, stop["r"])
        self.assertEqual((stop["r"].json["state"], stop["r"].json["exit_reason"]),
                         ("exited", "stopped"))
        self.assertNotIn(stop["r"].json["domain"], running_domains())
        # Nothing to cut short any more: a kill of an exited instance is a plain 200.
        self.api("POST", "/v1/instances/s3/kill", expect=200)

    def test_adopt_after_crash(self):
        """kill -9 ukd with a guest running: the next ukd adopts it, once, and notices its end."""
        self.spin_image()
        inst = self.run_instance({"image": "spin", "name": "s2"}).json
        self.wait_log("s2", "spinning")
        self.ukd.stop(signal.SIGKILL)
        self.assertIn(inst["domain"], running_domains())

        self.ukd.start()
        now = self.wait_state("s2", "running")
        self.assertEqual(now["started"], inst["started"])
        self.assertEqual(now["id"], inst["id"])
        self.assertEqual(len(self.api("GET", "/v1/instances", expect=200).json), 1)
        self.assertEqual([d for d in running_domains() if d == inst["domain"]], [inst["domain"]])
        self.assertIn("adopted", self.ukd.read_log())

        # A clean stop leaves the guest running; if it ends meanwhile, the next ukd says so.
        self.assertEqual(self.ukd.stop(), 0)
        self.assertIn(inst["domain"], running_domains())
        virsh("destroy", inst["domain"])
        self.ukd.start()
        r = self.wait_state("s2", "exited")
        self.assertEqual(r["exit_reason"], "vanished")
        self.api("DELETE", "/v1/instances/s2", expect=204)

    def test_qemu_socket_links(self):
        """QEMU gets short links in /run/uk to an instance's console and health sockets
        (QEMU 7.2 boots no kernel when its first connect to a long path fails:
        docs/guarantees.md §1). Links whose instance directory is gone, and half-made
        ones of a dead ukd, are removed at start; a live instance's and others' stay;
        an instance's go with it."""
        self.spin_image()
        inst = self.run_instance({"image": "spin", "name": "l"}).json
        self.wait_log("l", "spinning")
        d = os.path.join(self.root, "instances", inst["id"])
        links = {k: "/run/uk/%s%s" % (inst["id"][:16], k) for k in "ch"}
        want = {"c": os.path.join(d, "console.sock"), "h": os.path.join(d, "health.sock")}
        for k in "ch":
            self.assertEqual(os.readlink(links[k]), want[k])
        self.assertIn("/run/uk/%sc" % inst["id"][:16], virsh("dumpxml", inst["domain"]).stdout)

        dead = subprocess.Popen(["true"])
        dead.wait()
        rnd = [os.urandom(8).hex() for _ in range(4)]
        gone = ["/run/uk/%sc" % rnd[0], "/run/uk/%sh.%d" % (rnd[1], dead.pid)]
        kept = ["/run/uk/%sh" % rnd[2], "/run/uk/%sc.x" % rnd[3]]
        targets = [os.path.join(self.dir, "removed-root", "instances", rnd[0], "console.sock"),
                   os.path.join(d, "health.sock"), os.path.join(self.dir, "console.sock"),
                   os.path.join(self.dir, "removed-root", "console.sock")]
        try:
            for link, to in zip(gone + kept, targets):
                os.symlink(to, link)
            self.ukd.stop(signal.SIGKILL)
            self.ukd.start()
            self.wait_state("l", "running")
            self.assertEqual([os.path.lexists(p) for p in gone + kept], [False, False, True, True])
            for k in "ch":
                self.assertEqual(os.readlink(links[k]), want[k])
            self.api("DELETE", "/v1/instances/l?force=1", expect=204)
            self.assertEqual([os.path.lexists(links[k]) for k in "ch"], [False, False])
        finally:
            for p in gone + kept:
                if os.path.lexists(p):
                    os.unlink(p)

    def test_virtio_rng_option(self):
        """--rng on gives guests a virtio-rng device; auto leaves it out under TCG (RDRAND)."""
        self.upload_elf(HELLO, "hello:v1")
        if self.api("GET", "/v1/system/info", expect=200).json["accelerator"] == "tcg":
            self.run_instance({"image": "hello:v1", "name": "auto"})
            self.assertEqual(self.wait_state("auto", "exited")["exit_status"], 0)
            self.assertNotIn("virtio-rng", self.wait_log("auto", "exit status 0"))
        self.assertEqual(self.ukd.stop(), 0)
        self.ukd.start("--rng", "on")
        self.assertIn("virtio-rng on", self.ukd.read_log())
        self.run_instance({"image": "hello:v1", "name": "on"})
        self.assertEqual(self.wait_state("on", "exited")["exit_status"], 0)
        self.assertIn("runtime: virtio-rng, starts after boot", self.wait_log("on", "exit status 0"))

    def test_check_and_process(self):
        """ukd --check reports the accelerator; a second ukd on the same root is refused
        (and leaves the running one's build directories alone)."""
        p = subprocess.run([UKD, "--check", "--root", self.root], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
        print(p.stdout)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertRegex(p.stdout, r"accelerator: (tcg|kvm) \(")
        self.assertIn("ok   libvirt", p.stdout)
        p = subprocess.run([UKD, "--accel", "fast"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        build = os.path.join(self.root, "tmp", "build-held")  # as an upload in progress has
        os.makedirs(build)
        open(os.path.join(build, "image.img"), "w").close()
        p = subprocess.run([UKD, "--root", self.root, "--socket", self.ukd.sock + "2",
                            "--foreground"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("another ukd", p.stdout)
        self.assertTrue(os.path.exists(os.path.join(build, "image.img")),
                        "a refused ukd emptied the running one's build directory")
        shutil.rmtree(build)
        info = self.api("GET", "/v1/system/info", expect=200).json
        self.assertIn(info["accelerator"], ("tcg", "kvm"))
        print("accelerator: %s (%s)" % (info["accelerator"], info["accelerator_reason"]))


def main(cls, own=False):
    """The command line of a test file whose cases are cls's: --list prints the
    case names (test_ prefix dropped; own: only those cls defines itself, not
    inherited ones), CASE runs cls.test_CASE, no argument runs them all."""
    names = [n for n in unittest.defaultTestLoader.getTestCaseNames(cls)
             if not own or n in cls.__dict__]
    if len(sys.argv) > 1 and sys.argv[1] == "--list":
        for name in names:
            print(name[len("test_"):])
        sys.exit(0)
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        sys.argv[1] = "%s.test_%s" % (cls.__name__, sys.argv[1])
    unittest.main(module=sys.modules[cls.__module__], verbosity=2)


if __name__ == "__main__":
    main(DaemonTest)
