#!/usr/bin/env python3
"""Health agent tests: boot images under raw QEMU with the health channel
connected to a unix socket this test listens on, and check the
health-protocol frames (api/ukhealth.h) that arrive, and what the guest does
with the host's. Every case runs twice: over COM2 (class Health, the
fallback channel) and over a named virtio-console port (class HealthVirtio,
what ukd sets up); a busy application reached by a shutdown is virtio only.

The frames are decoded here independently of api/ukhealth.c, from the wire
layout the header documents, so the two implementations check each other.

Run one case:  test_health.py Health.test_hello_and_exit_status
               test_health.py HealthVirtio.test_hello_and_exit_status
List cases:    test_health.py --list
"""
import os
import select
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guest  # noqa: E402

IMAGES = os.environ.get("UKD_IMAGES", "build/images")
TEST_IMAGES = os.environ.get("UKD_TEST_IMAGES", "build/tests/guest")

MAGIC = 0x4855
HELLO, HEARTBEAT, READY, NOT_READY, LOG_DROPPED, EXIT, PANIC = range(1, 8)
PING, SHUTDOWN, SET_INTERVAL = 0x81, 0x82, 0x83
EXIT_REASONS = ["normal", "signal", "out-of-memory", "panic", "shutdown-deadline"]
INSTANCE = "0123456789abcdef0123456789abcdef"
DIGEST = "ab" * 32


class Reader:
    def __init__(self, b):
        self.b, self.o = b, 0

    def u(self, n):
        v = int.from_bytes(self.b[self.o:self.o + n], "little")
        assert self.o + n <= len(self.b), "short payload"
        self.o += n
        return v

    def s(self):
        n = self.u(1)
        v = self.b[self.o:self.o + n].decode("ascii")
        self.o += n
        return v


def decode(t, p):
    r, m = Reader(p), {"type": t}
    if t == HELLO:
        m.update(version=r.u(2), flags=r.u(2), runtime_version=r.u(4), first_ns=r.u(8),
                 main_ns=r.u(8), wall_ns=r.u(8), digest=bytes(p[r.o:r.o + 32]).hex())
        r.o += 32
        m["instance_id"] = r.s()
    elif t == HEARTBEAT:
        for k in ("seq", "uptime_ns", "mem_used", "mem_limit", "mem_peak", "cpu_ns"):
            m[k] = r.u(8)
        m["threads"], m["fds"] = r.u(4), r.u(4)
        m["sockets"] = [r.u(4) for _ in range(4)]
        for k in ("pkts_in", "pkts_out", "bytes_in", "bytes_out", "unknown_syscalls"):
            m[k] = r.u(8)
        m["metrics"] = {}
        for _ in range(r.u(1)):
            name = r.s()
            m["metrics"][name] = struct.unpack("<q", struct.pack("<Q", r.u(8)))[0]
    elif t == NOT_READY:
        m["reason"] = r.s()
    elif t == EXIT:
        m.update(status=r.u(1), reason=EXIT_REASONS[r.u(1)], signal=r.u(1))
        r.u(1)
    elif t == PANIC:
        m["reason"], m["fault_addr"] = r.s(), r.u(8)
        m["frames"] = [dict(addr=r.u(8), offset=r.u(8), where=r.u(1), symbol=r.s())
                       for _ in range(r.u(1))]
    elif t == LOG_DROPPED:
        m.update(console_bytes=r.u(8), health_frames=r.u(8))
    assert r.o == len(p), "payload of type %d has %d trailing bytes" % (t, len(p) - r.o)
    return m


def frame(t, payload=b""):
    return struct.pack("<HHI", MAGIC, t, len(payload)) + payload


class Guest:
    """A guest booted with its health channel (transport "com2" or "virtio") on a
    unix socket we listen on."""

    def __init__(self, image, append, transport="com2"):
        self.dir = tempfile.TemporaryDirectory(prefix="ukd-health-")
        path = os.path.join(self.dir.name, "health.sock")
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(1)
        channel = guest.health_virtio if transport == "virtio" else guest.health_serial
        argv = guest.qemu_argv(image, append, extra=channel(path))
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.srv.settimeout(30)
        self.conn, _ = self.srv.accept()
        self.buf = b""
        self.msgs = []   # (arrival time, message)
        self.eof = False
        print("accelerator: %s; %s %r over %s" % (guest.accel(), os.path.basename(image), append,
                                                 transport))

    def close(self):
        """Cleanup for a test that failed half-way: QEMU ends, files go."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.conn.close()
        self.srv.close()
        self.dir.cleanup()

    def send(self, data):
        self.conn.sendall(data)

    def pump(self, timeout):
        """Reads and decodes what arrives within timeout seconds (less at EOF)."""
        end = time.monotonic() + timeout
        while not self.eof and time.monotonic() < end:
            rl, _, _ = select.select([self.conn], [], [], max(0, end - time.monotonic()))
            if not rl:
                break
            data = self.conn.recv(65536)
            if not data:
                self.eof = True
                break
            self.buf += data
            while len(self.buf) >= 8:
                magic, t, n = struct.unpack("<HHI", self.buf[:8])
                assert magic == MAGIC, "bad magic in %r" % self.buf[:16]
                assert n <= 4088, "frame too long: %d" % n
                if len(self.buf) < 8 + n:
                    break
                m = decode(t, self.buf[8:8 + n])
                self.msgs.append((time.monotonic(), m))
                self.buf = self.buf[8 + n:]

    def wait_for(self, t, timeout=30):
        end = time.monotonic() + timeout
        while True:
            for _, m in self.msgs:
                if m["type"] == t:
                    return m
            if self.eof or time.monotonic() > end:
                raise AssertionError("no frame of type %d; got %r" % (t, self.of_type(None)))
            self.pump(min(1, end - time.monotonic()))

    def of_type(self, t):
        return [m for _, m in self.msgs if t is None or m["type"] == t]

    def finish(self, timeout=60):
        """Waits for QEMU to end; returns the console text."""
        self.pump(timeout)
        try:
            out = self.proc.communicate(timeout=timeout)[0]
        finally:
            self.close()
        text = out.decode("utf-8", "replace").replace("\r", "")
        print(text)
        for m in self.msgs:
            print("%.3f %r" % (m[0] - self.t0, m[1]))
        return text


def hello_img():
    return os.path.join(IMAGES, "hello.img")


def app_img():
    return os.path.join(TEST_IMAGES, "health_app.img")


def cpu_seconds(pid):
    """User + system CPU time of a process so far (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Health(unittest.TestCase):
    TRANSPORT = "com2"

    def Guest(self, image, append):
        g = Guest(image, append, self.TRANSPORT)
        self.addCleanup(g.close)
        return g

    def test_hello_and_exit_status(self):
        g = self.Guest(hello_img(), "uk.id=%s uk.image=sha256:%s -- 3" % (INSTANCE, DIGEST))
        h = g.wait_for(HELLO)
        e = g.wait_for(EXIT)
        out = g.finish()
        self.assertIn("exit status 3\n", out)
        self.assertEqual(h["version"], 1)
        self.assertEqual(h["runtime_version"], 0x000100)  # project(ukd VERSION 0.1.0)
        self.assertEqual(h["instance_id"], INSTANCE)
        self.assertEqual(h["digest"], DIGEST)
        self.assertGreater(h["first_ns"], 0)
        self.assertGreater(h["main_ns"], h["first_ns"])
        self.assertLess(h["main_ns"] - h["first_ns"], 5 * 10**9, "first instruction to main")
        self.assertGreater(h["wall_ns"], 1.6e18, "wall clock after 2020")
        self.assertEqual(g.of_type(None)[0]["type"], HELLO, "hello comes first")
        self.assertEqual(g.of_type(None)[-1]["type"], EXIT, "exit comes last")
        self.assertEqual((e["status"], e["reason"], e["signal"]), (3, "normal", 0))

    def test_heartbeats_at_interval_and_set_interval(self):
        g = self.Guest(app_img(), "uk.heartbeat=200 -- idle")
        g.wait_for(HELLO)
        g.pump(2.2)
        beats = g.of_type(HEARTBEAT)
        # Under TCG the guest clock is the host's: allow generous jitter, but
        # demand the cadence (not one beat per idle wakeup, not none).
        self.assertGreaterEqual(len(beats), 7, "heartbeats in 2.2 s at 200 ms")
        self.assertEqual([b["seq"] for b in beats], list(range(1, len(beats) + 1)))
        gaps = [(b["uptime_ns"] - a["uptime_ns"]) / 1e6 for a, b in zip(beats, beats[1:])]
        self.assertTrue(all(150 < x < 400 for x in gaps), gaps)
        b = beats[-1]
        self.assertGreater(b["mem_limit"], 32 << 20)
        self.assertTrue(0 < b["mem_used"] <= b["mem_peak"] <= b["mem_limit"], b)
        self.assertEqual(b["threads"], 1)
        self.assertEqual(b["fds"], 3)
        # The host changes the interval: 1 s now.
        g.send(frame(SET_INTERVAL, struct.pack("<I", 1000)))
        g.pump(0.5)
        n0 = len(g.of_type(HEARTBEAT))
        g.pump(2.5)
        self.assertTrue(1 <= len(g.of_type(HEARTBEAT)) - n0 <= 4, len(g.of_type(HEARTBEAT)) - n0)
        # No handler: SIGTERM's default action ends it, and the exit frame says so.
        g.send(frame(SHUTDOWN, struct.pack("<I", 10000)))
        e = g.wait_for(EXIT)
        g.finish()
        self.assertEqual((e["status"], e["reason"], e["signal"]), (143, "signal", 15))

    def test_heartbeats_disabled(self):
        g = self.Guest(app_img(), "uk.heartbeat=0 -- idle")
        g.wait_for(HELLO)
        g.pump(1.5)
        self.assertEqual(g.of_type(HEARTBEAT), [])
        # Nothing wakes an idle guest with heartbeats off; end it from outside.
        g.proc.kill()
        g.finish()

    def test_host_that_stops_reading_gets_only_whole_frames(self):
        # A host busy elsewhere stops reading while 10 ms heartbeats go on:
        # the channel backs up and frames are dropped, but what arrives
        # afterwards must still parse (pump() checks every frame's magic
        # and length), and the drops are reported, not hidden.
        g = self.Guest(app_img(), "uk.heartbeat=10 -- idle")
        g.wait_for(HELLO)
        time.sleep(4)
        g.pump(3.0)
        before = len(g.of_type(HEARTBEAT))
        g.pump(1.0)
        self.assertGreater(len(g.of_type(HEARTBEAT)), before, "heartbeats resume")
        dropped = g.of_type(LOG_DROPPED)
        print("heartbeats %d, drop reports %r" % (len(g.of_type(HEARTBEAT)), dropped[-1:]))
        # The channel did back up (else this tested nothing); measured over both transports.
        self.assertTrue(dropped and dropped[-1]["health_frames"] > 0, dropped)
        g.send(frame(SHUTDOWN, struct.pack("<I", 10000)))
        e = g.wait_for(EXIT)
        g.finish()
        self.assertEqual(e["reason"], "signal")

    def test_ready_and_metrics_from_dev_health(self):
        g = self.Guest(app_img(), "uk.heartbeat=300 -- ready")
        nr = g.wait_for(NOT_READY)
        g.wait_for(READY)
        e = g.wait_for(EXIT)
        out = g.finish()
        self.assertIn("health_app: ready", out)
        self.assertEqual(nr["reason"], "warming up")
        types = [m["type"] for m in g.of_type(None)]
        self.assertLess(types.index(NOT_READY), types.index(READY))
        beats = g.of_type(HEARTBEAT)
        self.assertTrue(beats, "heartbeats while the app idles 2 s")
        self.assertEqual(beats[-1]["metrics"], {"requests": 42, "temp:c": -5})
        self.assertEqual((e["status"], e["reason"]), (0, "normal"))

    def test_ready_when_listening_on_manifest_port(self):
        # httpd's manifest says port=8080: listen() on it is readiness, no library needed.
        g = self.Guest(os.path.join(IMAGES, "httpd.img"), "uk.heartbeat=300")
        g.wait_for(HELLO)
        g.wait_for(READY)
        g.pump(1)
        beats = g.of_type(HEARTBEAT)
        self.assertTrue(beats)
        self.assertEqual(beats[-1]["sockets"][0], 1, "one listening socket")
        g.proc.kill()
        g.finish()

    def test_null_dereference_panic_then_exit(self):
        g = self.Guest(app_img(), "-- null")
        p = g.wait_for(PANIC)
        e = g.wait_for(EXIT)
        g.finish()
        self.assertIn("page fault", p["reason"])
        self.assertIn("application", p["reason"])
        self.assertEqual(p["fault_addr"], 0)
        self.assertTrue(p["frames"][0]["symbol"].startswith("crash_here"), p)  # .constprop
        self.assertEqual(p["frames"][0]["where"], 0)
        self.assertEqual((e["status"], e["reason"], e["signal"]), (139, "panic", 11))
        types = [m["type"] for m in g.of_type(None)]
        self.assertEqual(types[-2:], [PANIC, EXIT])

    def test_shutdown_runs_sigterm_handler(self):
        g = self.Guest(app_img(), "uk.heartbeat=100 -- term")
        g.wait_for(HELLO)
        g.pump(0.3)
        t0 = time.monotonic()
        g.send(frame(SHUTDOWN, struct.pack("<I", 5000)))
        e = g.wait_for(EXIT)
        took = time.monotonic() - t0
        out = g.finish()
        self.assertIn("health_app: SIGTERM handled", out)
        self.assertEqual((e["status"], e["reason"]), (0, "normal"))
        self.assertLess(took, 5, "exited within the deadline")

    def test_shutdown_deadline_powers_off(self):
        g = self.Guest(app_img(), "uk.heartbeat=100 -- ignore")
        g.wait_for(HELLO)
        g.pump(0.3)
        t0 = time.monotonic()
        g.send(frame(SHUTDOWN, struct.pack("<I", 1000)))
        e = g.wait_for(EXIT)
        took = time.monotonic() - t0
        out = g.finish()
        self.assertIn("still running at the shutdown deadline", out)
        self.assertEqual((e["status"], e["reason"]), (137, "shutdown-deadline"))
        self.assertTrue(0.9 < took < 4, took)

    def test_ping_resends_hello(self):
        g = self.Guest(app_img(), "uk.heartbeat=100 uk.id=%s -- idle" % INSTANCE)
        g.wait_for(HELLO)
        g.send(frame(PING, struct.pack("<I", 1)))
        g.pump(1.0)
        hellos = g.of_type(HELLO)
        self.assertEqual(len(hellos), 2)
        self.assertEqual(hellos[1]["instance_id"], INSTANCE)
        # Garbage from the host is counted and reported, never fatal.
        g.send(b"\xff" * 100 + frame(SHUTDOWN, struct.pack("<I", 10000)))
        e = g.wait_for(EXIT)
        out = g.finish()
        self.assertIn("bad frame from the host (magic)", out)
        self.assertEqual(e["reason"], "signal")


class HealthVirtio(Health):
    """The same cases over the virtio-console port, and what only it can do."""
    TRANSPORT = "virtio"

    def test_console_says_virtio_port(self):
        g = self.Guest(hello_img(), "-- 0")
        g.wait_for(HELLO)
        g.wait_for(EXIT)
        out = g.finish()
        self.assertIn("virtio-console port 1 '%s'" % guest.HEALTH_PORT_NAME, out)

    def test_shutdown_reaches_busy_app_with_heartbeats_off(self):
        # The app spins in ring 3 and never idles; no heartbeat timer either.
        # Only the port's interrupt can bring the shutdown in: over COM2
        # (polled) it would wait forever.
        g = self.Guest(app_img(), "uk.heartbeat=0 -- spin")
        g.wait_for(HELLO)
        g.pump(0.5)
        self.assertEqual(g.of_type(EXIT), [], "still spinning")
        t0 = time.monotonic()
        g.send(frame(SHUTDOWN, struct.pack("<I", 10000)))
        e = g.wait_for(EXIT, timeout=10)
        took = time.monotonic() - t0
        out = g.finish()
        print("shutdown to exit frame: %.0f ms" % (took * 1000))
        self.assertIn("health_app: SIGTERM handled", out)
        self.assertEqual((e["status"], e["reason"]), (0, "normal"))
        self.assertLess(took, 1.0, "handled at once, not at a deadline or a heartbeat")

    def test_hello_resent_when_host_connects_late(self):
        # As after a ukd restart: QEMU's chardev has nobody to connect to when
        # the guest says hello (QEMU drops the bytes), and connects later
        # (reconnect=1). The port's PORT_OPEN makes the guest say hello again,
        # though heartbeats are off and the app idles.
        path = self.socket_path()
        proc = self.reconnecting_qemu(path, "uk.heartbeat=0 uk.id=%s -- idle" % INSTANCE)
        time.sleep(2)  # the guest has run its hello into the void by now
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(srv.close)
        srv.bind(path)
        srv.listen(1)
        srv.settimeout(10)
        conn, _ = srv.accept()
        self.addCleanup(conn.close)
        g = self.reader(conn)
        h = g.wait_for(HELLO, timeout=10)
        self.assertEqual(h["instance_id"], INSTANCE)
        conn.sendall(frame(SHUTDOWN, struct.pack("<I", 10000)))
        e = g.wait_for(EXIT, timeout=10)
        self.assertEqual((e["reason"], e["signal"]), ("signal", 15))
        out = proc.communicate(timeout=30)[0].decode("utf-8", "replace")
        print(out)
        self.assertIn("(host not connected yet)", out)

    def socket_path(self):
        """A path for the health socket in a directory of its own (removed at cleanup).
        A short path: this host's QEMU 7.2 hangs its main loop (the guest never runs,
        over COM2 as well) when a reconnect=1 socket chardev's first connect fails on
        a path of 40-odd characters; 26 work."""
        d = tempfile.TemporaryDirectory(prefix="u", dir="/tmp")
        self.addCleanup(d.cleanup)
        return os.path.join(d.name, "h.sock")

    def reconnecting_qemu(self, path, append):
        """QEMU running the app with append, its health port a reconnect=1 client of
        the unix socket at path (as under ukd); killed at cleanup."""
        argv = guest.qemu_argv(app_img(), append)
        argv += ["-device", "virtio-serial-pci",
                 "-chardev", "socket,id=health,path=%s,reconnect=1" % path,
                 "-device", "virtserialport,chardev=health,name=" + guest.HEALTH_PORT_NAME]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        self.addCleanup(proc.stdout.close)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        return proc

    def reconnecting_guest(self, append):
        """A guest whose health port is a reconnect=1 client of a socket we listen on
        (as under ukd); returns (qemu, listening socket, its path, first connection)."""
        path = self.socket_path()
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(1)
        proc = self.reconnecting_qemu(path, append)
        srv.settimeout(30)
        conn, _ = srv.accept()
        return proc, srv, path, conn

    @staticmethod
    def reader(conn):
        g = Guest.__new__(Guest)  # the reader half of Guest on this connection
        g.conn, g.buf, g.msgs, g.eof, g.t0 = conn, b"", [], False, time.monotonic()
        return g

    def host_away_then_back(self, mode, away):
        """The host closes the channel after the hello (as a killed ukd), the app ends
        meanwhile (mode: "ready" exits 0 after 2 s, "later" crashes after 2 s), and
        after `away` seconds a host listens again. Returns (frames the new host got,
        console, QEMU's CPU seconds while the guest waited)."""
        proc, srv, path, conn = self.reconnecting_guest(
            "uk.id=%s -- %s" % (INSTANCE, "ready" if mode == "ready" else "later 2000"))
        g = self.reader(conn)
        g.wait_for(HELLO, timeout=30)
        conn.close()
        srv.close()
        os.unlink(path)  # QEMU's reconnects fail meanwhile, as with no ukd listening
        time.sleep(2.5)  # the app has ended by now; its exit waits
        cpu0 = cpu_seconds(proc.pid)
        time.sleep(away - 2.5)
        cpu = cpu_seconds(proc.pid) - cpu0
        self.assertIsNone(proc.poll(), "the guest waits for its host")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(srv.close)
        srv.bind(path)
        srv.listen(1)
        srv.settimeout(10)
        t0 = time.monotonic()
        conn, _ = srv.accept()
        self.addCleanup(conn.close)
        g = self.reader(conn)
        g.wait_for(EXIT, timeout=10)
        took = time.monotonic() - t0
        out = proc.communicate(timeout=30)[0].decode("utf-8", "replace").replace("\r", "")
        g.pump(1)
        print(out)
        print("exit frame %.0f ms after the host listened again; QEMU used %.2f s of CPU "
              "in %.1f s of waiting" % (took * 1000, cpu, away - 2.5))
        self.assertLess(took, 3, "within QEMU's reconnect period (1 s), loaded host allowed")
        self.assertLess(cpu, 0.25 * (away - 2.5), "halted while it waits, not spinning")
        self.assertIn("runtime: exiting while the host is away; waiting up to 60000 ms", out)
        self.assertRegex(out, r"runtime: the host is back after \d+ ms\n")
        return [m for _, m in g.msgs], out

    def test_exit_waits_for_host_that_went_away(self):
        # As when ukd is killed and restarted: the exit (exit_group) waits, halted,
        # for the next host, which gets a hello (it had none) and then the exit frame.
        msgs, out = self.host_away_then_back("ready", 5)
        self.assertEqual([m["type"] for m in msgs], [HELLO, EXIT])
        self.assertEqual(msgs[0]["instance_id"], INSTANCE)
        self.assertEqual((msgs[1]["status"], msgs[1]["reason"]), (0, "normal"))
        self.assertIn("exit status 0\n", out)

    def test_crash_waits_for_host_that_went_away(self):
        # The same from the crash path (a trap handler, not a system call): the panic
        # report is held too.
        msgs, out = self.host_away_then_back("later", 5)
        self.assertEqual([m["type"] for m in msgs], [HELLO, PANIC, EXIT])
        self.assertIn("page fault", msgs[1]["reason"])
        self.assertEqual((msgs[2]["status"], msgs[2]["reason"]), (139, "panic"))

    def test_exit_wait_is_bounded(self):
        # No host comes back: the guest powers off after uk.exit-wait=MS all the same.
        # A guest whose host never connected (a null chardev) does not wait at all.
        proc, srv, path, conn = self.reconnecting_guest(
            "uk.exit-wait=1500 uk.id=%s -- ready" % INSTANCE)
        self.reader(conn).wait_for(HELLO, timeout=30)
        conn.close()
        srv.close()
        os.unlink(path)
        t0 = time.monotonic()
        out = proc.communicate(timeout=30)[0].decode("utf-8", "replace").replace("\r", "")
        print(out)
        print("QEMU ended %.1f s after the host left (app: 2 s, wait: 1.5 s)"
              % (time.monotonic() - t0))
        self.assertIn("waiting up to 1500 ms", out)
        self.assertRegex(out, r"runtime: no host after 1[5-9]\d\d ms; exiting without it\n")
        self.assertIn("exit status 0\n", out)
        r = guest.boot(app_img(), "-- ready", extra=guest.health_virtio(None))
        self.assertEqual(r.status, 0, r)
        self.assertNotIn("waiting up to", r.output)

    def test_frames_from_host_split_and_batched(self):
        # Host bytes arrive in whatever pieces the socket makes: a ping split
        # in two writes, then set-interval and ping in one, all handled.
        g = self.Guest(app_img(), "uk.heartbeat=0 -- idle")
        g.wait_for(HELLO)
        p = frame(PING, struct.pack("<I", 0))
        g.send(p[:5])
        time.sleep(0.2)
        g.send(p[5:])
        g.wait_for(HEARTBEAT, timeout=5)
        g.send(frame(SET_INTERVAL, struct.pack("<I", 200)) + frame(PING, struct.pack("<I", 1)))
        g.pump(1.5)
        self.assertEqual(len(g.of_type(HELLO)), 2)
        self.assertGreaterEqual(len(g.of_type(HEARTBEAT)), 5)
        g.proc.kill()
        g.finish()


if __name__ == "__main__":
    if sys.argv[1:] == ["--list"]:
        for cls in (Health, HealthVirtio):
            for name in sorted(n for n in dir(cls) if n.startswith("test_")):
                print(cls.__name__ + "." + name)
        sys.exit(0)
    unittest.main(verbosity=2)
