#!/usr/bin/env python3
"""ukctl end-to-end tests: the real ukctl against a real ukd (its own --root
and --socket) and the real libvirtd, checking what a user or a script sees:
output, exit statuses, and that --json matches the API.

Each test starts its own ukd; at the end it stops it by PID and destroys the
libvirt domains of the instances it created (only those, named by the API).

Environment: UKCTL, UKD (binaries), UKD_HELLO (the hello example, a static
ELF), UKCTL_COMPLETION (completion.bash).
Run one case: test_ukctl.py CASE; list them: test_ukctl.py --list.
"""
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "daemon"))
from test_daemon import main, Daemon, running_domains, virsh, SPIN_C, HELLO  # noqa: E402

with open(os.path.join(HERE, "..", "daemon", "apps", "exit_after.c"), "rb") as f:
    EXIT_AFTER_C = f.read()

UKCTL = os.environ.get("UKCTL", "build/bin/ukctl")
COMPLETION = os.environ.get("UKCTL_COMPLETION", os.path.join(HERE, "..", "..", "ukctl",
                                                             "completion.bash"))
COMMANDS = ["build", "images", "rmi", "image", "run", "list", "ps", "start", "stop", "restart",
            "kill", "rm", "logs", "inspect", "health", "stats", "events", "info", "version"]
HINT = "Is the daemon running?"


class Result:
    def __init__(self, p):
        self.rc, self.out, self.err = p.returncode, p.stdout, p.stderr

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return "rc=%d\nstdout: %s\nstderr: %s" % (self.rc, self.out[-3000:], self.err[-3000:])


class UkctlTest(unittest.TestCase):
    def setUp(self):
        # libvirt's QEMU (user libvirt-qemu) must reach the image files: 0755 all the way.
        self.dir = tempfile.mkdtemp(prefix="ukctl-test-")
        os.chmod(self.dir, 0o755)
        self.root = os.path.join(self.dir, "root")
        self.sock = os.path.join(self.dir, "ukd.sock")
        self.ukd = Daemon(self.root, self.sock, os.path.join(self.dir, "ukd.log"))
        self.ukd.start()
        self.env = dict(os.environ, UKD_HOST="unix://" + self.sock)
        self.env.pop("NO_COLOR", None)

    def tearDown(self):
        domains = []
        if self.ukd.proc and self.ukd.proc.poll() is None:
            r = self.ukd.request("GET", "/v1/instances")
            domains = [i["domain"] for i in (r.json or [])]
        self.ukd.stop()
        running = running_domains()
        for name in domains:
            if name in running:
                virsh("destroy", name)
        if any(e for e in sys.exc_info()) or os.environ.get("UKD_TEST_VERBOSE"):
            print(self.ukd.read_log())
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- helpers ---

    def ukctl(self, *args, rc=None, env=None, timeout=180):
        p = subprocess.run([UKCTL] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=timeout, env=env or self.env)
        r = Result(p)
        if rc is not None:
            self.assertEqual(r.rc, rc, "ukctl %s -> %r" % (" ".join(args), r))
        return r

    def api(self, path):
        r = self.ukd.request("GET", path)
        self.assertEqual(r.status, 200, r)
        return r.json

    def wait_state(self, ref, state, timeout=90):
        deadline = time.monotonic() + timeout
        while True:
            got = self.ukctl("inspect", "--json", ref, rc=0).json()
            if got["state"] == state:
                return got
            if time.monotonic() > deadline:
                self.fail("%s is %s, not %s, after %ds" % (ref, got["state"], state, timeout))
            time.sleep(0.2)

    def wait_log(self, ref, text, timeout=90):
        deadline = time.monotonic() + timeout
        while True:
            r = self.ukctl("logs", ref)  # 1 until the instance exists
            out = r.out
            if r.rc == 0 and text in out:
                return out
            if time.monotonic() > deadline:
                self.fail("no %r in the log of %s after %ds: %r" % (text, ref, timeout, out))
            time.sleep(0.2)

    def spin_dir(self):
        d = os.path.join(self.dir, "spin")
        os.makedirs(os.path.join(d, ".git"))
        with open(os.path.join(d, ".git", "HEAD"), "w") as f:
            f.write("ref: refs/heads/main\n")
        with open(os.path.join(d, "uk.json"), "w") as f:
            json.dump({"name": "spin", "sources": ["spin.c"], "mem": 16}, f)
        with open(os.path.join(d, "spin.c"), "wb") as f:
            f.write(SPIN_C)
        return d

    def hello(self, ref="hello:v1"):
        return self.ukctl("build", "-q", "-t", ref, "--elf", HELLO, rc=0).out.strip()

    # --- tests ---

    def test_lifecycle(self):
        """build DIR -> run -d -> list/ps show it -> logs -> stop -> rm."""
        r = self.ukctl("build", "-t", "spin:v1", self.spin_dir(), rc=0)
        self.assertRegex(r.out, r"^Built spin:v1 sha256:[0-9a-f]{64} \(\d+\.\d KiB\)")
        self.assertIn("Sending build context", r.err)
        self.assertIn("2 files", r.err)  # uk.json and spin.c; .git stays home
        images = self.ukctl("images", rc=0).out.splitlines()
        self.assertRegex(images[0], r"^NAME +TAG +ID +SIZE +MEMORY +CREATED$")
        self.assertRegex(images[1], r"^spin +v1 +[0-9a-f]{12} +\d+\.\d KiB +16 MiB +"
                                    r"(just now|\d+ seconds? ago)$")

        iid = self.ukctl("run", "-d", "--name", "s1", "spin:v1", rc=0).out.strip()
        self.assertRegex(iid, r"^[0-9a-f]{32}$")
        self.wait_state("s1", "running")
        for cmd in ("list", "ps"):
            lines = self.ukctl(cmd, rc=0).out.splitlines()
            self.assertRegex(lines[0], r"^ID +NAME +IMAGE +STATE +STATUS +MEMORY +CREATED$")
            self.assertEqual(len(lines), 2, lines)
            self.assertRegex(lines[1], r"^%s +s1 +spin:v1 +running +Up .* +16 MiB +" % iid[:12])
        self.assertEqual(self.ukctl("ps", "-q", rc=0).out, iid + "\n")
        self.wait_log("s1", "spinning")
        # An id prefix works wherever a name does.
        self.assertIn("spinning", self.ukctl("logs", "--tail", "5", iid[:8], rc=0).out)

        self.assertEqual(self.ukctl("stop", "-t", "1", "s1", rc=0).out, "s1\n")
        got = self.ukctl("inspect", "--json", "s1", rc=0).json()
        self.assertEqual((got["state"], got["exit_reason"]), ("exited", "stopped"))
        self.assertNotIn(got["domain"], running_domains())
        self.assertEqual(self.ukctl("ps", rc=0).out.count("\n"), 1)  # the header only
        self.assertRegex(self.ukctl("ps", "-a", rc=0).out, r"exited +Stopped ")

        # Start again, then restart: a new run each time.
        self.ukctl("start", "s1", rc=0)
        self.wait_state("s1", "running")
        self.ukctl("restart", "-t", "0", "s1", rc=0)
        self.wait_state("s1", "running")
        r = self.ukctl("rm", "s1", rc=1)  # running
        self.assertIn("stop it first", r.err)
        self.ukctl("kill", "s1", rc=0)
        self.assertEqual(self.ukctl("rm", "s1", rc=0).out, "s1\n")
        self.assertEqual(self.api("/v1/instances"), [])
        self.assertEqual(self.ukctl("rmi", "spin:v1", rc=0).out, "Deleted spin:v1\n")
        self.assertEqual(self.api("/v1/images"), [])

    def test_foreground_status(self):
        """run without -d shows the console and exits with the guest's status (0 and 3)."""
        self.hello()
        r = self.ukctl("run", "--name", "zero", "hello:v1", "0", rc=0)
        self.assertIn("Hello from ukd\n", r.out)
        self.assertIn("argv[1] = 0\n", r.out)
        r = self.ukctl("run", "--name", "three", "-e", "GREETING=from ukctl", "hello:v1", "3",
                       "two words", rc=3)
        self.assertIn("argv[2] = two words\n", r.out)
        self.assertIn("GREETING = from ukctl\n", r.out)
        self.assertIn("exit status 3", r.out)
        got = self.ukctl("inspect", "--json", "three", rc=0).json()
        self.assertEqual((got["exit_status"], got["exit_reason"]), (3, "exited"))
        # --rm: the instance is gone afterwards, the status still comes through.
        self.ukctl("run", "--rm", "--name", "gone", "hello:v1", "5", rc=5)
        self.ukctl("inspect", "gone", rc=1)

    def test_ctrl_c(self):
        """Ctrl-C stops a foreground instance gracefully; a second Ctrl-C kills it."""
        self.ukctl("build", "-q", self.spin_dir(), rc=0)
        for name, sigs, reason in (("c1", 1, "stopped"), ("c2", 2, None)):
            p = subprocess.Popen([UKCTL, "run", "--name", name, "spin"], env=self.env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                self.wait_log(name, "spinning")
                t0 = time.monotonic()
                for _ in range(sigs):
                    p.send_signal(signal.SIGINT)
                    time.sleep(1)
                out, err = p.communicate(timeout=60)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            self.assertIn("spinning", out)
            self.assertIn("stopping the instance", err)
            got = self.ukctl("inspect", "--json", name, rc=0).json()
            self.assertEqual(got["state"], "exited")
            if sigs == 1:
                # This runtime ignores ACPI power-off: the 10 s deadline ends it.
                self.assertEqual(p.returncode, 143, err)
                self.assertEqual(got["exit_reason"], reason)
            else:
                self.assertIn("killing the instance", err)
                self.assertIn(p.returncode, (137, 143), err)
                self.assertLess(time.monotonic() - t0, 8, "the second Ctrl-C did not force")

    def test_json_matches_api(self):
        """--json output parses and is what the API answers."""
        self.hello()
        self.ukctl("run", "-d", "--name", "j1", "hello:v1", "0", rc=0)
        self.wait_state("j1", "exited")
        self.assertEqual(self.ukctl("images", "--json", rc=0).json(), self.api("/v1/images"))
        self.assertEqual(self.ukctl("image", "inspect", "--json", "hello:v1", rc=0).json(),
                         self.api("/v1/images/hello:v1"))
        self.assertEqual(self.ukctl("ps", "-a", "--json", rc=0).json(),
                         self.api("/v1/instances"))
        self.assertEqual(self.ukctl("list", "--json", rc=0).json(), [])  # nothing running
        self.assertEqual(self.ukctl("ps", "-a", "--filter", "state=exited", "--json",
                                    rc=0).json(), self.api("/v1/instances"))
        self.assertEqual(self.ukctl("inspect", "--json", "j1", rc=0).json(),
                         self.api("/v1/instances/j1"))
        self.assertEqual(self.ukctl("info", "--json", rc=0).json(), self.api("/v1/system/info"))
        v = self.ukctl("version", "--json", rc=0).json()
        self.assertEqual(v["server"]["version"], self.api("/v1/system/info")["version"])
        self.assertTrue(v["client"]["version"])
        r = self.ukctl("build", "--json", "-t", "hello:v2", "--elf", HELLO, rc=0).json()
        self.assertEqual(r, self.api("/v1/images/hello:v2"))

    def test_human_output(self):
        """version, info, image inspect and inspect read well; -q prints ids only."""
        img = self.hello()
        self.assertRegex(img, r"^sha256:[0-9a-f]{64}$")
        self.assertEqual(self.ukctl("images", "-q", rc=0).out, img + "\n")
        r = self.ukctl("version", rc=0)
        self.assertRegex(r.out, r"^Client: ukctl \S+\nServer: ukd \S+\n$")
        info = self.ukctl("info", rc=0).out
        self.assertRegex(info, r"accelerator: +(kvm|tcg)\n")
        self.assertRegex(info, r"images: +1\n")
        self.assertRegex(info, r"libvirt\.connected: +true\n")
        self.assertRegex(info, r"libvirt\.version: +\d+\.\d+\.\d+\n")
        self.assertRegex(info, r"libvirt\.hypervisor_version: +\d+\.\d+\.\d+\n")
        self.assertRegex(info, r"host\.cpus: +\d+\n")
        self.assertRegex(info, r"instances\.total: +0\n")
        r = self.ukctl("image", "inspect", img[7:19], rc=0)
        self.assertRegex(r.out, r"size: +\d+ \(\d+\.\d KiB\)\n")
        self.ukctl("run", "-d", "--name", "h", "-m", "32M", "hello:v1", "0", rc=0)
        got = self.wait_state("h", "exited")
        r = self.ukctl("inspect", "h", rc=0)
        self.assertRegex(r.out, r"exit_status: +0\n")
        self.assertRegex(r.out, r"memory_mib: +32\n")
        self.assertRegex(r.out, r"created: +%s \((just now|\d+ seconds? ago)\)\n" %
                         got["created"])
        self.assertNotIn("\033[", r.out)  # not a terminal: no colours
        lines = self.ukctl("ps", "-a", rc=0).out.splitlines()
        self.assertRegex(lines[1], r" h +hello:v1 +exited +Exited \(0\) ")

    def test_usage_errors(self):
        """Bad usage prints the usage and exits 2, before talking to ukd."""
        cases = [
            [], ["frobnicate"], ["--bogus", "ps"], ["ps", "--bogus"], ["ps", "extra"],
            ["run"], ["run", "-m", "lots", "hello"], ["run", "-e", "NOEQUALS", "hello"],
            ["run", "--rm", "-d", "hello"], ["stop", "-t", "abc", "x"], ["stop"],
            ["logs"], ["logs", "--tail", "x", "a"], ["build"], ["build", "--elf", HELLO],
            ["rmi"], ["image"], ["image", "frob"], ["inspect"], ["ps", "--filter", "colour=red"],
            ["-H"], ["start", "-t", "3", "x"],
        ]
        for args in cases:
            r = self.ukctl(*args)
            self.assertEqual(r.rc, 2, "%s: %r" % (args, r))
            self.assertIn("Usage: ukctl", r.err, args)
            self.assertEqual(r.out, "", args)
        r = self.ukctl("-H", "http://nope", "ps", rc=2)
        self.assertIn("unix:///PATH or tcp://HOST:PORT", r.err)
        self.assertEqual(self.api("/v1/instances"), [])

    def test_help(self):
        """--help on every command exits 0 and shows an example."""
        top = self.ukctl("--help", rc=0).out
        for cmd in COMMANDS:
            self.assertIn(cmd, top)
            r = self.ukctl(cmd, "--help", rc=0)
            self.assertTrue(r.out.startswith("Usage: ukctl "), cmd)
            self.assertIn("Example", r.out, cmd)
            self.assertEqual(self.ukctl("help", cmd, rc=0).out, r.out)

    def test_daemon_down(self):
        """No daemon: exit 3 with a hint on how to start it."""
        nowhere = dict(self.env, UKD_HOST="unix://" + os.path.join(self.dir, "nope.sock"))
        for args in (["ps"], ["images"], ["run", "hello"], ["info"], ["stop", "x"]):
            r = self.ukctl(*args, env=nowhere)
            self.assertEqual(r.rc, 3, "%s: %r" % (args, r))
            self.assertIn(HINT, r.err)
            self.assertIn("nope.sock", r.err)
        r = self.ukctl("version", env=nowhere)
        self.assertEqual(r.rc, 3)
        self.assertIn("Client: ukctl", r.out)
        # -H wins over UKD_HOST; TCP to a closed port is unreachable too.
        r = self.ukctl("-H", "tcp://127.0.0.1:9", "ps")
        self.assertEqual(r.rc, 3, r)
        self.assertIn(HINT, r.err)
        # The daemon going away is noticed the same way.
        self.ukd.stop()
        r = self.ukctl("ps")
        self.assertEqual(r.rc, 3, r)
        self.assertIn(HINT, r.err)

    def test_unknown_instance(self):
        """An unknown instance or image: exit 1 with ukd's own message."""
        for args in (["inspect", "nope"], ["stop", "nope"], ["start", "nope"], ["kill", "nope"],
                     ["rm", "nope"], ["logs", "nope"], ["restart", "nope"]):
            r = self.ukctl(*args)
            self.assertEqual(r.rc, 1, "%s: %r" % (args, r))
            self.assertIn("no instance nope", r.err)
        r = self.ukctl("run", "no-such-image")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("no image no-such-image", r.err)
        self.ukctl("rmi", "nope", rc=1)
        self.ukctl("image", "inspect", "nope", rc=1)
        # Several references: the good ones are done, the status says one failed.
        self.hello()
        self.ukctl("run", "-d", "--name", "k", "hello:v1", "0", rc=0)
        self.wait_state("k", "exited")
        r = self.ukctl("rm", "nope", "k", rc=1)
        self.assertEqual(r.out, "k\n")
        # A failed build carries the compiler's words.
        d = os.path.join(self.dir, "broken")
        os.mkdir(d)
        with open(os.path.join(d, "uk.json"), "w") as f:
            f.write('{"name": "broken", "sources": ["b.c"]}')
        with open(os.path.join(d, "b.c"), "w") as f:
            f.write("int main(void) { return nope; }\n")
        r = self.ukctl("build", d, rc=1)
        self.assertIn("nope", r.err)
        r = self.ukctl("build", "-t", "dyn", "--elf", "/bin/true", rc=1)
        self.assertIn("dynamically linked", r.err)

    def test_unsupported(self):
        """Flags ukd cannot serve yet say so (exit 1) and create nothing."""
        self.hello()
        for flag in (["--cpus", "2"],):
            r = self.ukctl("run", "-d", *flag, "hello:v1")
            self.assertEqual(r.rc, 1, "%s: %r" % (flag, r))
            self.assertIn("not supported by this ukd yet", r.err)
        self.assertEqual(self.api("/v1/instances"), [])

    def exit_dir(self):
        d = os.path.join(self.dir, "exit")
        os.makedirs(d)
        with open(os.path.join(d, "uk.json"), "w") as f:
            json.dump({"name": "exit", "sources": ["exit_after.c"], "mem": 16}, f)
        with open(os.path.join(d, "exit_after.c"), "wb") as f:
            f.write(EXIT_AFTER_C)
        return d

    def test_restart_policy_and_events(self):
        """run --restart on-failure:2 -> crash-loop in list/inspect; events shows the
        sequence; restart restarts; a bad policy is ukd's 422 (exit 1)."""
        self.ukctl("build", "-q", "-t", "exit", self.exit_dir(), rc=0)
        r = self.ukctl("run", "-d", "--restart", "sometimes", "--name", "bad", "exit", rc=1)
        self.assertIn("restart policy \"sometimes\" is unknown", r.err)
        self.ukctl("inspect", "bad", rc=1)
        r = self.ukctl("run", "--rm", "--restart", "always", "exit", rc=2)
        self.assertIn("--rm and --restart", r.err)

        self.ukctl("run", "-d", "--restart", "on-failure:2", "--name", "fl", "exit", "1", "1",
                   rc=0)
        got = self.wait_state("fl", "crash-loop", timeout=120)
        self.assertEqual((got["restart"], got["restart_count"]), ("on-failure:2", 2))
        # list shows a crash loop without -a, in its own state, with the restarts.
        line = [ln for ln in self.ukctl("list", rc=0).out.splitlines() if " fl " in ln]
        self.assertEqual(len(line), 1, line)
        self.assertRegex(line[0], r"crash-loop +Crash-loop \(1\) .*, 2 restarts")
        self.assertEqual([i["name"] for i in
                          self.ukctl("list", "--json", "--filter", "state=crash-loop",
                                     rc=0).json()], ["fl"])
        out = self.ukctl("inspect", "fl", rc=0).out
        self.assertRegex(out, r"restart: +on-failure:2")
        self.assertRegex(out, r"restart_count: +2")

        out = self.ukctl("events", "fl", rc=0).out
        kinds = [ln.split()[3] for ln in out.splitlines()]
        print(out)
        # Health transitions may come in between under a slow TCG; the life cycle is fixed.
        self.assertEqual([k for k in kinds if k not in ("ready", "not-ready", "unhealthy",
                                                       "healthy")],
                         ["created", "starting", "started", "exited", "restarted",
                          "starting", "started", "exited", "restarted", "starting",
                          "started", "exited", "crash-loop"])
        self.assertIn("status 1; restart in 100 ms", out)
        self.assertIn("status 1; restart in 200 ms", out)
        lines = [json.loads(ln) for ln in
                 self.ukctl("events", "--json", "fl", rc=0).out.splitlines()]
        self.assertEqual([e["type"] for e in lines], ["instance." + k for k in kinds])
        since = lines[-2]["id"]
        self.assertEqual([e["type"] for e in json.loads("[%s]" % ",".join(
            self.ukctl("events", "--json", "--since", str(since), "fl",
                       rc=0).out.splitlines()))], ["instance.crash-loop"])
        self.ukctl("events", "--since", "yesterday", rc=1)

        # events -f streams what happens next; restart restarts a running instance.
        self.ukctl("run", "-d", "--name", "sp", "--restart", "always", "spin:v1", rc=1)
        self.ukctl("build", "-q", "-t", "spin:v1", self.spin_dir(), rc=0)
        self.ukctl("run", "-d", "--name", "sp", "--restart", "always", "spin:v1", rc=0)
        self.wait_log("sp", "spinning")
        last = json.loads(self.ukctl("events", "--json", "sp", rc=0).out.splitlines()[-1])
        follow = subprocess.Popen([UKCTL, "events", "-f", "--since", str(last["id"]), "sp"],
                                  stdout=subprocess.PIPE, text=True, env=self.env)
        try:
            self.assertEqual(self.ukctl("restart", "-t", "2", "sp", rc=0).out, "sp\n")
            seen = []
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                ln = follow.stdout.readline()
                if not ln:
                    break
                seen.append(ln.split()[3])
                if seen[-2:] == ["starting", "started"]:
                    break
            self.assertEqual([k for k in seen if k not in ("ready", "not-ready", "unhealthy",
                                                           "healthy")],
                             ["stopping", "stopped", "starting", "started"])
        finally:
            follow.terminate()
            follow.wait()
        self.assertEqual(self.wait_state("sp", "running")["restart_count"], 0)
        self.ukctl("stop", "-t", "1", "sp", rc=0)
        time.sleep(1)
        self.assertEqual(self.ukctl("inspect", "--json", "sp", rc=0).json()["state"], "exited")

    def test_health(self):
        """health shows the API's health report, or says this ukd has none (exit 1)."""
        self.hello()
        self.ukctl("run", "-d", "--name", "hh", "hello:v1", "0", rc=0)
        raw = self.ukd.request("GET", "/v1/instances/hh/health")
        r = self.ukctl("health", "hh")
        if raw.status == 404 and raw.json["error"]["code"] == "not_found":
            self.assertEqual(r.rc, 1, r)
            self.assertIn("not supported by this ukd yet", r.err)
            self.assertEqual(r.out, "")
        else:
            self.assertEqual(r.rc, 0, r)
            self.assertIn("status:", r.out)
            got = self.ukctl("health", "--json", "hh", rc=0).json()
            self.assertEqual(sorted(got), sorted(raw.json))
        r = self.ukctl("health", "nope")
        self.assertEqual(r.rc, 1, r)
        self.ukctl("health", rc=2)

    def test_tcp_token(self):
        """tcp://HOST:PORT with UKD_TOKEN: the token goes as a bearer token (loopback stub)."""
        seen = []

        class Stub(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                seen.append((self.path, self.headers.get("Authorization")))
                body = json.dumps({"version": "9.9.9"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        srv = http.server.HTTPServer(("127.0.0.1", 0), Stub)
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        try:
            env = dict(self.env, UKD_TOKEN="s3cret")
            r = self.ukctl("-H", "tcp://127.0.0.1:%d" % srv.server_port, "version", env=env,
                           rc=0)
            self.assertEqual(r.out.splitlines()[1], "Server: ukd 9.9.9")
            self.assertEqual(seen, [("/v1/system/info", "Bearer s3cret")])
        finally:
            srv.shutdown()
            srv.server_close()

    def test_completion(self):
        """The bash completion script loads and completes commands and instance names."""
        self.hello()
        self.ukctl("run", "-d", "--name", "alpha", "hello:v1", "0", rc=0)

        def complete(*words):
            script = ('source "%s"; COMP_WORDS=(%s); COMP_CWORD=%d; _ukctl; '
                      'printf "%%s\\n" "${COMPREPLY[@]}"' %
                      (COMPLETION, " ".join("'%s'" % w for w in (UKCTL,) + words),
                       len(words)))
            p = subprocess.run(["bash", "-c", script], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=self.env, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            return p.stdout.split()

        self.assertEqual(complete("st"), ["start", "stop", "stats"])
        self.assertEqual(complete("logs", "al"), ["alpha"])
        self.assertEqual(complete("run", "hel"), ["hello:v1"])
        self.assertIn("--detach", complete("run", "--de"))


if __name__ == "__main__":
    main(UkctlTest)
