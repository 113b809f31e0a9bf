#!/usr/bin/env python3
"""ukd's health monitor against real guests through libvirt: the health
channel (a virtio-console port named org.ukd.health.0 ->
ROOT/instances/ID/health.sock), GET /v1/instances/{id}/health, graceful stop
through the channel (of a busy guest too), missed heartbeats, adoption after
a ukd restart, and a hostile peer on the channel.

Builds on test_daemon.py's harness (own ukd, own root; destroys only the
domains it created). Run one case: test_health_daemon.py CASE; --list.
"""
import json
import os
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_daemon as td  # noqa: E402

# Modes: "term" handles SIGTERM and exits 0; "spin" too, but busy in a loop
# (never idle, no system calls); "ignore" ignores SIGTERM; "idle" has no handler;
# "tick" has none either and prints "tick N" every second.
APP_C = b"""#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
static volatile sig_atomic_t term;
static void on_term(int s) { (void)s; term = 1; }
int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "idle";
	struct timespec ts = {0, 50000000};

	int spin = !strcmp(mode, "spin"), tick = !strcmp(mode, "tick"), n = 0;

	if (!strcmp(mode, "term") || spin)
		signal(SIGTERM, on_term);
	else if (!strcmp(mode, "ignore"))
		signal(SIGTERM, SIG_IGN);
	printf("app: %s\\n", mode);
	fflush(stdout);
	while (!term) {
		if (!spin)
			nanosleep(&ts, NULL);
		if (tick && ++n % 20 == 0) {
			printf("tick %d\\n", n / 20);
			fflush(stdout);
		}
	}
	printf("app: SIGTERM handled\\n");
	return 0;
}
"""


class HealthDaemonTest(td.DaemonTest):
    def app_image(self):
        ctx = td.tar_of([("uk.json", json.dumps({"name": "happ", "sources": ["app.c"],
                                                  "mem": 16}).encode()),
                         ("app.c", APP_C)])
        return self.upload_tar(ctx).json

    def health(self, ref):
        return self.api("GET", "/v1/instances/%s/health" % ref, expect=200).json

    def wait_health(self, ref, pred, what, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            h = self.health(ref)
            if pred(h):
                return h
            if time.monotonic() > deadline:
                self.fail("instance %s: no %s after %ds: %r" % (ref, what, timeout, h))
            time.sleep(0.2)

    def test_hello_and_exit_through_health(self):
        """hello 3 under libvirt: the hello's versions, then the exit frame's status."""
        self.upload_elf(td.HELLO, "hello")
        inst = self.run_instance({"image": "hello", "name": "h", "args": ["3"]}).json
        done = self.wait_state("h", "exited")
        self.assertEqual((done["exit_status"], done["exit_reason"]), (3, "exited"))
        h = self.health("h")
        print(json.dumps(h, indent=1))
        self.assertEqual(h["status"], "exited")
        self.assertEqual(h["hello"]["protocol_version"], 1)
        self.assertEqual(h["hello"]["runtime_version"], "0.1.0")
        self.assertGreater(h["hello"]["main_ns"], h["hello"]["first_instruction_ns"])
        self.assertEqual(h["exit"], {"status": 3, "reason": "normal", "signal": 0})
        self.assertEqual(h["violations"]["total"], 0)
        sock = os.path.join(self.root, "instances", inst["id"], "health.sock")
        self.assertFalse(os.path.exists(sock), "the listener goes with the domain")
        self.api("GET", "/v1/instances/nope/health", expect=404)

    def test_stop_runs_sigterm_handler_or_powers_off_at_deadline(self):
        """stop sends shutdown: a handler runs and exits 0; an app ignoring SIGTERM ends at the deadline."""
        self.app_image()
        self.run_instance({"image": "happ", "name": "t", "args": ["term"]})
        h = self.wait_health("t", lambda h: h["heartbeat"], "heartbeat")
        self.assertEqual(h["status"], "starting")  # beating, never declared ready
        hb = h["heartbeat"]
        self.assertEqual((hb["threads"], hb["open_fds"]), (1, 3))
        inst_id = self.api("GET", "/v1/instances/t", expect=200).json["id"]
        prom = self.api("GET", "/metrics", expect=200).raw.decode()
        self.assertRegex(prom, r'ukd_instance_memory_used_bytes\{instance="%s"\} [1-9]' % inst_id)
        self.assertTrue(0 < hb["memory_used_bytes"] <= hb["memory_limit_bytes"], hb)
        t0 = time.monotonic()
        r = self.api("POST", "/v1/instances/t/stop?t=20", expect=200).json
        took = time.monotonic() - t0
        self.assertEqual((r["state"], r["exit_reason"], r["exit_status"]), ("exited", "stopped", 0))
        self.assertLess(took, 10)
        self.wait_log("t", "app: SIGTERM handled")
        self.assertEqual(self.health("t")["exit"]["reason"], "normal")

        self.run_instance({"image": "happ", "name": "i", "args": ["ignore"]})
        self.wait_health("i", lambda h: h["heartbeat"], "heartbeat")
        t0 = time.monotonic()
        r = self.api("POST", "/v1/instances/i/stop?t=4", expect=200).json
        took = time.monotonic() - t0
        self.assertEqual((r["state"], r["exit_status"], r["message"]),
                         ("exited", 137, "shutdown-deadline"), r)
        self.assertTrue(2.5 < took < 8, took)
        self.wait_log("i", "still running at the shutdown deadline")

    def test_stop_while_booting_and_after_adoption(self):
        """A stop asked for before the guest said hello, and one of a guest adopted by a
        restarted ukd, still reach its SIGTERM handler (not destroy at the deadline)."""
        self.app_image()
        self.run_instance({"image": "happ", "name": "t", "args": ["term"]})
        self.wait_state("t", "running")  # the domain runs; the guest is booting
        t0 = time.monotonic()
        r = self.api("POST", "/v1/instances/t/stop?t=30", expect=200).json
        took = time.monotonic() - t0
        # SIGTERM reached the application: its handler ran (0), or it came before
        # main() installed it (143); a destroy at the deadline has no status.
        self.assertEqual((r["state"], r["exit_reason"]), ("exited", "stopped"), r)
        self.assertIn(r["exit_status"], (0, 143), r)
        self.assertLess(took, 20)
        # The stop waited for the guest's hello, unless libvirtd's started event came
        # so late (a loaded host) that the hello was in before the stop was asked for.
        log = self.ukd.read_log()
        hello, stop = log.find("health hello"), log.find("POST /v1/instances/t/stop")
        if 0 <= hello < stop:
            print("the guest said hello before the stop: the boot-time path was not taken")
        else:
            self.assertIn("shutdown sent to the guest once it listened", log)

        self.api("POST", "/v1/instances/t/start", expect=200)
        self.wait_health("t", lambda h: h["heartbeat"], "heartbeat")
        self.ukd.stop(signal.SIGKILL)
        self.ukd.start()
        t0 = time.monotonic()
        r = self.api("POST", "/v1/instances/t/stop?t=30", expect=200).json
        took = time.monotonic() - t0
        self.assertEqual((r["state"], r["exit_reason"], r["exit_status"]), ("exited", "stopped", 0),
                         r)
        self.assertLess(took, 20)
        self.assertEqual(self.health("t")["exit"]["reason"], "normal")

    def test_stop_busy_app_over_virtio_channel(self):
        """stop of an app spinning in a loop is graceful and prompt: the port's interrupt brings the shutdown in."""
        self.app_image()
        inst = self.run_instance({"image": "happ", "name": "b", "args": ["spin"]}).json
        self.wait_health("b", lambda h: h["heartbeat"], "heartbeat")
        xml = td.virsh("dumpxml", inst["domain"]).stdout
        self.assertIn("<target type='virtio' name='org.ukd.health.0'", xml)
        serials = xml.split("<serial ")[1:]
        self.assertEqual(len(serials), 1, "COM1 only: no COM2 health channel any more")
        self.assertNotIn("health.sock", serials[0].split("</serial>")[0])
        self.wait_log("b", "virtio-console port 1 'org.ukd.health.0'")
        t0 = time.monotonic()
        r = self.api("POST", "/v1/instances/b/stop?t=20", expect=200).json
        took = time.monotonic() - t0
        print("stop of a busy guest: %.0f ms" % (took * 1000))
        self.assertEqual((r["state"], r["exit_reason"], r["exit_status"]), ("exited", "stopped", 0))
        self.assertLess(took, 3, "graceful stop within 3 s of a 20 s allowance")
        self.wait_log("b", "app: SIGTERM handled")
        self.assertEqual(self.health("b")["exit"]["reason"], "normal")

    def test_missed_heartbeats_and_adoption(self):
        """A suspended guest turns unhealthy and back; after a ukd restart the channel comes back."""
        self.app_image()
        inst = self.run_instance({"image": "happ", "name": "s", "args": ["idle"]}).json
        self.wait_health("s", lambda h: h["heartbeat"], "heartbeat")
        self.assertEqual(td.virsh("suspend", inst["domain"]).returncode, 0)
        h = self.wait_health("s", lambda h: h["status"] == "unhealthy", "unhealthy", 30)
        self.assertTrue(h["reason"].startswith("missed heartbeats"), h)
        self.assertEqual(td.virsh("resume", inst["domain"]).returncode, 0)
        before = self.wait_health("s", lambda h: h["status"] == "starting", "heartbeats again",
                                  30)["heartbeat"]["seq"]

        self.ukd.stop()
        self.ukd.start()
        h = self.wait_health("s", lambda h: h["heartbeat"] and h["channel"] == "connected",
                             "heartbeat after adoption", 30)
        self.assertGreater(h["heartbeat"]["seq"], before, "the same guest, its count went on")
        self.assertEqual(h["hello"]["protocol_version"], 1, "hello again on request")
        self.api("POST", "/v1/instances/s/kill", expect=200)

    def last_tick(self, ref):
        text = self.api("GET", "/v1/instances/%s/logs?tail=20" % ref, expect=200).raw.decode()
        ticks = [int(w.split()[1]) for w in text.splitlines() if w.startswith("tick ")]
        return max(ticks) if ticks else 0

    def test_adopt_five_after_kill9(self):
        """kill -9 ukd with 5 guests running: the next ukd adopts the same 5, uptime kept,
        none lost or duplicated; their logs and heartbeats resume."""
        self.app_image()
        names = ["a%d" % i for i in range(5)]
        insts = {n: self.run_instance({"image": "happ", "name": n, "args": ["tick"]}).json
                 for n in names}
        before = {}
        for n in names:
            self.wait_health(n, lambda h: h["heartbeat"], "heartbeat", 90)
            self.wait_log(n, "tick 1")
        for n in names:
            before[n] = (self.health(n)["heartbeat"]["seq"], self.last_tick(n))

        self.ukd.stop(td.signal.SIGKILL)
        doms = td.running_domains()
        for n in names:
            self.assertIn(insts[n]["domain"], doms)
        self.ukd.start()

        listed = self.api("GET", "/v1/instances", expect=200).json
        self.assertEqual(sorted(i["name"] for i in listed), names, "none lost or duplicated")
        doms = td.running_domains()
        for n in names:
            now = self.wait_state(n, "running")
            self.assertEqual((now["id"], now["domain"], now["started"]),
                             (insts[n]["id"], insts[n]["domain"], insts[n]["started"]))
            self.assertEqual(doms.count(insts[n]["domain"]), 1)
        for n in names:
            seq, tick = before[n]
            h = self.wait_health(n, lambda h: h["heartbeat"] and h["channel"] == "connected"
                                 and h["heartbeat"]["seq"] > seq, "heartbeat after adoption", 60)
            self.assertNotEqual(h["status"], "unhealthy", h)
            deadline = time.monotonic() + 60
            while self.last_tick(n) <= tick:
                self.assertLess(time.monotonic(), deadline, "%s: no new log line" % n)
                time.sleep(0.5)
        events = [json.loads(line) for line in
                  self.api("GET", "/v1/events", expect=200).raw.decode().splitlines()]
        adopted = sorted(e["name"] for e in events if e["type"] == "instance.adopted")
        self.assertEqual(adopted, names, "each adopted once")
        for n in names:
            self.api("POST", "/v1/instances/%s/kill" % n, expect=200)

    def test_hostile_peer_closes_channel(self):
        """Violations on the channel are counted; past the limit it is closed: unhealthy, protocol, destroyed."""
        self.ukd.stop()
        self.ukd.start("--health-violations", "3")
        self.app_image()
        inst = self.run_instance({"image": "happ", "name": "v", "args": ["idle"]}).json
        self.wait_health("v", lambda h: h["heartbeat"], "heartbeat")
        # Pose as the guest (root may): a new connection replaces QEMU's.
        s = socket.socket(socket.AF_UNIX)
        s.connect(os.path.join(self.root, "instances", inst["id"], "health.sock"))
        time.sleep(0.2)
        s.sendall(b"UH\x02\x00\xff\xff\xff\xff")          # a frame claiming 4 GiB
        s.sendall(b"UH\x42\x00\x00\x00\x00\x00")          # an unknown type
        s.sendall(b"UH\x03\x00\x04\x00\x00\x00\x00\x00\x00\x00")  # ready with a payload
        h = self.wait_health("v", lambda h: h["status"] == "unhealthy", "unhealthy", 20)
        self.assertTrue(h["reason"].startswith("protocol: 3 violations"), h)
        self.assertEqual((h["violations"]["length"], h["violations"]["type"],
                          h["violations"]["payload"]), (1, 1, 1))
        s.settimeout(5)
        got = b""
        while True:  # ukd's ping (it took us for a reconnecting QEMU), then the close
            chunk = s.recv(100)
            if not chunk:
                break
            got += chunk
        self.assertTrue(got.startswith(b"UH\x81\x00") or not got, got)
        s.close()
        # ukd destroys a guest that broke the protocol; policy "no": it stays down.
        r = self.wait_state("v", "exited", 30)
        self.assertEqual(r["exit_reason"], "health-abuse", r)
        self.assertTrue(r["message"].startswith("protocol: 3 violations"), r)
        self.assertEqual(self.health("v")["channel"], "closed")


if __name__ == "__main__":
    if sys.argv[1:] == ["--list"]:
        for name in sorted(n for n in vars(HealthDaemonTest) if n.startswith("test_")):
            print("HealthDaemonTest." + name)
        sys.exit(0)
    unittest.main(verbosity=2)
