#!/usr/bin/env python3
"""Restart policies, POST .../restart and GET /v1/events: a real ukd (its own --root
and --socket) against the real libvirtd, through the REST API.

The guest is tests/daemon/apps/exit_after.c (`exit_after SECONDS STATUS`), built
by ukd from a build context; spin (test_daemon.SPIN_C) runs until stopped.

Environment: UKD (the ukd binary), UKD_HELLO (the hello example, a static ELF). Run one case: test_restart_daemon.py CASE;
list them: test_restart_daemon.py --list.
"""
import json
import os
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_daemon import DaemonTest, UnixHTTPConnection, main, tar_of, HELLO  # noqa: E402

with open(os.path.join(HERE, "apps", "exit_after.c"), "rb") as f:
    EXIT_AFTER_C = f.read()
with open(os.path.join(HERE, "apps", "exit_on.c"), "rb") as f:
    EXIT_ON_C = f.read()


def parse_time(s):
    """ukd's RFC 3339 UTC time ("...T10:00:00.123Z") into seconds since the epoch."""
    import calendar
    base, frac = s[:-1].split(".")
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + int(frac) / 1000


class RestartTest(DaemonTest):
    # --- helpers ---

    def exit_image(self):
        ctx = tar_of([("uk.json", json.dumps({"name": "exit", "sources": ["exit_after.c"],
                                               "mem": 16}).encode()),
                      ("exit_after.c", EXIT_AFTER_C)])
        return self.upload_tar(ctx).json

    def exit_on_image(self):
        ctx = tar_of([("uk.json", json.dumps({"name": "exit-on", "sources": ["exit_on.c"],
                                               "mem": 16}).encode()),
                      ("exit_on.c", EXIT_ON_C)])
        return self.upload_tar(ctx).json

    def run_exit_on(self, name, status):
        """exit_on (tests/daemon/apps/exit_on.c) with on-failure: it exits with status
        once the first byte of its volume is not 0; returns the volume's path."""
        disk = os.path.join(self.dir, name + ".img")
        with open(disk, "wb") as f:
            f.truncate(1 << 20)
        os.chmod(disk, 0o666)
        self.run_instance({"image": "exit-on", "name": name, "args": ["/dev/vda", str(status)],
                           "volumes": [disk + ":/dev/vda"], "restart": "on-failure"})
        return disk

    @staticmethod
    def tell_exit(disk, byte=b"\x01"):
        with open(disk, "r+b") as f:
            f.write(byte)

    def events(self, query=""):
        r = self.api("GET", "/v1/events" + query, expect=200)
        self.assertTrue(r.headers["Content-Type"].startswith("application/x-ndjson"), r)
        return [json.loads(line) for line in r.raw.decode().splitlines()]

    def kinds(self, ref):
        return [e["type"] for e in self.events("?instance=" + ref)]

    # --- tests ---

    def test_on_failure_then_crash_loop(self):
        """on-failure:3: exactly 3 restarts with growing delays, then crash-loop, and it stays."""
        self.exit_image()
        inst = self.run_instance({"image": "exit", "name": "fl", "args": ["1", "1"],
                                  "restart": "on-failure:3"}).json
        self.assertEqual(inst["restart"], "on-failure:3")
        done = self.wait_state("fl", "crash-loop", timeout=120)
        self.assertEqual(done["restart_count"], 3)
        self.assertEqual(done["exit_status"], 1)
        self.assertIsNone(done["restart_at"])
        listed = {i["name"]: i for i in self.api("GET", "/v1/instances", expect=200).json}
        self.assertEqual(listed["fl"]["state"], "crash-loop")

        evs = self.events("?instance=fl")
        kinds = [e["type"] for e in evs]
        print("events:", kinds)
        self.assertEqual(kinds.count("instance.restarted"), 3, kinds)
        self.assertEqual(kinds.count("instance.exited"), 4, kinds)
        self.assertEqual(kinds.count("instance.started"), 4, kinds)
        self.assertEqual(kinds[0], "instance.created")
        self.assertEqual(kinds[-2:], ["instance.exited", "instance.crash-loop"])
        for e in evs:
            self.assertEqual(e["name"], "fl")
        # Each exit says status 1; the restart follows it after the announced delay,
        # and the delays grow: 100, 200, 400 ms.
        delays = []
        for i, e in enumerate(evs):
            if e["type"] != "instance.restarted":
                continue
            prev = evs[i - 1]
            self.assertEqual(prev["type"], "instance.exited")
            self.assertTrue(prev["detail"].startswith("status 1; restart in "), prev)
            ms = int(e["detail"].split("after ")[1].split(" ms")[0])
            gap = parse_time(e["time"]) - parse_time(prev["time"])
            print("restart after %d ms (measured %.0f ms)" % (ms, gap * 1000))
            # The exit's event is written a few ms after the exit it times the delay from.
            self.assertGreaterEqual(gap * 1000, ms - 30)
            self.assertLess(gap * 1000, ms + 2000)
            delays.append(ms)
        self.assertEqual(delays, [100, 200, 400])
        self.assertEqual(evs[-2]["detail"], "status 1")

        # It stays down: no restart behind the user's back.
        time.sleep(2)
        self.assertEqual(self.api("GET", "/v1/instances/fl", expect=200).json["state"],
                         "crash-loop")
        # A user's start begins a new series.
        again = self.api("POST", "/v1/instances/fl/start", expect=200).json
        self.assertEqual(again["restart_count"], 0)
        self.api("POST", "/v1/instances/fl/kill", expect=200)
        st = self.api("GET", "/v1/instances/fl", expect=200).json
        self.assertEqual((st["state"], st["desired_state"]), ("exited", "stopped"))

    def test_fast_exit_on_failure(self):
        """A guest that exits at once (maybe before libvirt's create returns) is still
        restarted as the policy says: on-failure:2 with hello exiting 3."""
        self.upload_elf(HELLO, "hello")
        self.run_instance({"image": "hello", "name": "fast", "args": ["3"],
                           "restart": "on-failure:2"})
        done = self.wait_state("fast", "crash-loop", timeout=90)
        self.assertEqual((done["restart_count"], done["exit_status"]), (2, 3))
        self.assertEqual(self.kinds("fast").count("instance.restarted"), 2)

    def test_pending_restart_survives_kill9(self):
        """A restart the policy scheduled is in the store: ukd killed -9 while it waits
        does it when it is back, once, with the same backoff."""
        self.upload_elf(HELLO, "hello")
        self.run_instance({"image": "hello", "name": "pend", "args": ["1"],
                           "restart": "on-failure"})

        def waiting():
            evs = self.events("?instance=pend")
            last = evs[-1]
            if last["type"] == "instance.exited" and last["detail"].endswith(
                    "restart in 1600 ms"):
                return evs
            return None
        before = self.wait_for("a 1.6 s backoff", waiting, timeout=120)
        self.ukd.stop(signal.SIGKILL)
        self.ukd.start()
        after = self.wait_for("the pending restart", lambda: [
            e for e in self.events("?instance=pend&since=%d" % before[-1]["id"])
            if e["type"] == "instance.restarted"], timeout=60)
        self.assertEqual(after[0]["detail"], "restart 5, after 1600 ms")
        # Exactly once: the next exit schedules 3200 ms, not a second 1600 ms restart.
        self.wait_for("the next exit", lambda: [
            e for e in self.events("?instance=pend&since=%d" % after[0]["id"])
            if e["type"] == "instance.exited"], timeout=60)
        evs = self.events("?instance=pend&since=%d" % before[-1]["id"])
        self.assertEqual([e["detail"] for e in evs if e["type"] == "instance.restarted"],
                         ["restart 5, after 1600 ms"], evs)
        self.assertTrue([e for e in evs if e["type"] == "instance.exited"][0]["detail"]
                        .endswith("restart in 3200 ms"), evs)
        self.api("POST", "/v1/instances/pend/stop", expect=200)

    def test_no_policy_stays_exited(self):
        """Without a policy (or with "no") a failed run stays exited with its status."""
        self.exit_image()
        a = self.run_instance({"image": "exit", "name": "n1", "args": ["1", "1"]}).json
        self.assertEqual(a["restart"], "no")
        self.run_instance({"image": "exit", "name": "n2", "args": ["1", "1"], "restart": "no"})
        for ref in ("n1", "n2"):
            self.assertEqual(self.wait_state(ref, "exited")["exit_status"], 1)
        time.sleep(2)
        for ref in ("n1", "n2"):
            st = self.api("GET", "/v1/instances/" + ref, expect=200).json
            self.assertEqual((st["state"], st["exit_status"], st["restart_count"]),
                             ("exited", 1, 0))
            self.assertNotIn("instance.restarted", self.kinds(ref))
            self.assertEqual(self.kinds(ref)[-1], "instance.exited")

    def test_always_and_user_stop(self):
        """always restarts a run that exits 0; a user's stop is not undone."""
        self.exit_image()
        self.run_instance({"image": "exit", "name": "al", "args": ["1", "0"],
                           "restart": "always"})
        self.wait_for("two restarts", lambda: self.api(
            "GET", "/v1/instances/al", expect=200).json["restart_count"] >= 2, timeout=120)
        evs = self.events("?instance=al")
        self.assertIn("status 0; restart in 100 ms", [e.get("detail") for e in evs])
        # Stop it, whether it runs or waits for its next restart.
        st = self.api("POST", "/v1/instances/al/stop?t=5", expect=200).json
        self.assertEqual(st["desired_state"], "stopped")
        count = st["restart_count"]
        time.sleep(3)
        st = self.api("GET", "/v1/instances/al", expect=200).json
        self.assertEqual(st["state"], "exited")
        self.assertEqual(st["restart_count"], count)
        self.assertIsNone(st["restart_at"])
        self.assertEqual(self.kinds("al")[-1], "instance.stopped")

    def test_restart_endpoint_and_bad_policy(self):
        """POST .../restart stops gracefully and starts; bad policies are 422 and store nothing."""
        self.exit_image()
        spin = self.spin_image()
        for bad in ("sometimes", "on-failure:0", "on-failure:-1", "on-failure:x",
                    "on-failure:", "always:3", "", 5, None):
            r = self.run_instance({"image": "exit", "name": "bad", "restart": bad}, expect=422)
            self.assertEqual(r.json["error"]["code"], "invalid_spec")
            self.assertIn("restart", r.json["error"]["message"])
        self.assertEqual(self.api("GET", "/v1/instances", expect=200).json, [])
        self.assertEqual([e for e in self.events() if e["type"].startswith("instance.")], [])

        first = self.run_instance({"image": spin["id"], "name": "sp"}).json
        self.wait_log("sp", "spinning")
        t0 = time.monotonic()
        again = self.api("POST", "/v1/instances/sp/restart?t=2", expect=200).json
        print("restart took %.2f s" % (time.monotonic() - t0))
        self.domains.add(again["domain"])
        self.assertIn(again["state"], ("starting", "running"))
        self.assertEqual(self.wait_state("sp", "running")["restart_count"], 0)
        self.wait_log("sp", "spinning")
        kinds = self.kinds("sp")
        self.assertEqual(kinds[kinds.index("instance.stopping"):],
                         ["instance.stopping", "instance.stopped", "instance.starting",
                          "instance.started"])
        self.assertNotEqual(first["started"], self.api("GET", "/v1/instances/sp",
                                                        expect=200).json["started"])
        # A created instance: restart starts it.
        self.run_instance({"image": "exit", "name": "cr", "args": ["5", "0"], "start": False})
        r = self.api("POST", "/v1/instances/cr/restart", expect=200).json
        self.assertIn(r["state"], ("starting", "running"))
        self.api("POST", "/v1/instances/nope/restart", expect=404)
        self.api("GET", "/v1/instances/sp/restart", expect=405)
        self.api("POST", "/v1/instances/sp/kill", expect=200)
        self.api("POST", "/v1/instances/cr/kill", expect=200)

    def test_events_api(self):
        """GET /v1/events: NDJSON, since=ID|TIME, instance=REF, follow=1 streams new ones."""
        self.exit_image()
        self.run_instance({"image": "exit", "name": "ev", "args": ["0.2", "0"],
                           "start": False})
        evs = self.events()
        self.assertEqual([e["type"] for e in evs][-2:], ["image.stored", "instance.created"])
        evs = evs[-2:]
        ids = [e["id"] for e in evs]
        self.assertEqual(ids, sorted(ids))
        self.assertEqual(self.events("?since=%d" % ids[0]), evs[1:])
        self.assertEqual(self.events("?since=1h")[-2:], evs)
        self.assertEqual(self.events("?since=2999-01-01T00:00:00Z"), [])
        self.assertEqual(self.events("?since=%s" % evs[1]["time"]), evs[1:])
        for bad in ("yesterday", "-1", "10x", "2024-13-45T00:00:00Z"):
            self.api("GET", "/v1/events?since=" + bad, expect=400)
        self.api("GET", "/v1/events?instance=nope", expect=404)

        # Follow: the stream carries what happens after it opened.
        c = UnixHTTPConnection(self.ukd.sock, timeout=60)
        c.request("GET", "/v1/events?follow=1&instance=ev&since=%d" % ids[-1])
        resp = c.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.headers["Transfer-Encoding"], "chunked")
        self.api("POST", "/v1/instances/ev/start", expect=200)
        got = []
        while not got or got[-1]["type"] != "instance.exited":
            line = resp.fp.readline()
            if not line:
                break
            if line.strip() and line.startswith(b"{"):
                got.append(json.loads(line))
        c.close()
        self.assertEqual([e["type"] for e in got],
                         ["instance.starting", "instance.started", "instance.exited"])
        self.assertEqual(got[-1]["detail"], "status 0")
        self.api("DELETE", "/v1/instances/ev", expect=204)
        last = self.events()[-1]
        self.assertEqual((last["type"], last["name"]), ("instance.removed", "ev"))

    def test_policies_across_ukd_restart(self):
        """A guest that failed while ukd was down is restarted when ukd is back; always
        brings back a user-stopped instance at ukd start, unless-stopped does not."""
        self.exit_image()
        spin = self.spin_image()
        for name, policy in (("al", "always"), ("us", "unless-stopped")):
            self.run_instance({"image": spin["id"], "name": name, "restart": policy,
                               "start": False})
            self.api("POST", "/v1/instances/%s/start" % name, expect=200)
            self.api("POST", "/v1/instances/%s/kill" % name, expect=200)
        self.run_instance({"image": "exit", "name": "of", "args": ["3", "1"],
                           "restart": "on-failure"})
        self.assertEqual(self.ukd.stop(), 0)
        time.sleep(4)  # of's guest exits 1 while nobody watches
        self.ukd.start()
        self.wait_for("a restart of of", lambda: self.api(
            "GET", "/v1/instances/of", expect=200).json["restart_count"] == 1)
        evs = self.events("?instance=of")
        exited = [e for e in evs if e["type"] == "instance.exited"]
        self.assertEqual(len(exited), 1, evs)
        # The guest ended while no ukd listened: its exit waited for the next ukd
        # (runtime/health.h), so the status is the one it exited with.
        self.assertEqual(exited[0]["detail"], "status 1; restart in 100 ms")
        self.assertEqual([e["detail"] for e in evs if e["type"] == "instance.restarted"],
                         ["restart 1, after 100 ms"])
        al = self.wait_state("al", "running")
        self.domains.add(al["domain"])
        kinds = self.kinds("al")
        self.assertEqual(kinds[-5:], ["instance.stopped", "instance.restart-pending",
                                      "instance.restarted", "instance.starting",
                                      "instance.started"])
        time.sleep(1)
        us = self.api("GET", "/v1/instances/us", expect=200).json
        self.assertEqual((us["state"], us["desired_state"]), ("exited", "stopped"))
        for name in ("of", "al"):
            self.api("POST", "/v1/instances/%s/kill" % name, expect=200)

    def test_exit_status_while_ukd_away(self):
        """ukd killed -9: guests that exit (0 and 3) while it is down, and one that exits
        (0) in the first second after its restart, before QEMU has reconnected: each
        status is recorded exactly, and on-failure restarts only the one that failed."""
        self.exit_on_image()
        disks = {name: self.run_exit_on(name, status)
                 for name, status in (("zero", 0), ("three", 3), ("late", 0))}
        for name in disks:
            self.wait_log(name, "exit_on: exiting with")
            self.wait_for("the health hello of " + name, lambda: self.api(
                "GET", "/v1/instances/%s/health" % name, expect=200).json["hello"])
        ids = {name: self.api("GET", "/v1/instances/" + name, expect=200).json["id"]
               for name in disks}
        self.ukd.stop(signal.SIGKILL)
        t_down = time.monotonic()
        self.tell_exit(disks["zero"])
        self.tell_exit(disks["three"])
        time.sleep(3)  # both have exited by now, into a wait for the next ukd
        self.tell_exit(disks["three"], b"\x00")  # its restart runs until told again
        # "late" is told to exit the moment the new ukd listens on its health socket
        # (health_watch at adoption replaces the dead ukd's socket file): QEMU
        # reconnects up to a second later, so it ends while nobody is connected.
        sock = os.path.join(self.root, "instances", ids["late"], "health.sock")
        def ident():
            st = os.stat(sock)
            return st.st_ino, st.st_ctime_ns  # inode numbers are soon reused
        stale = ident()
        told = []

        def tell_late():
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if ident() != stale:
                        self.tell_exit(disks["late"])
                        told.append(time.monotonic())
                        return
                except FileNotFoundError:
                    pass
                time.sleep(0.005)
        teller = threading.Thread(target=tell_late)
        teller.start()
        t_up = time.monotonic()
        self.ukd.start()
        teller.join()
        self.assertTrue(told, "the new ukd never listened on " + sock)
        print("ukd down %.1f s; it listened again %.2f s after its start, ready %.2f s after "
              "its start" % (t_up - t_down, told[0] - t_up, time.monotonic() - t_up))
        # Until QEMU reconnects (a second at most) the held guests are adopted and
        # shown running, their health unknown (no hello to this ukd yet), never healthy.
        seen, ended = set(), set()
        while ended != {"zero", "late"} and time.monotonic() < told[0] + 5:
            for name in ("zero", "late"):
                st = self.api("GET", "/v1/instances/" + name, expect=200).json
                h = self.api("GET", "/v1/instances/%s/health" % name, expect=200).json
                seen.add((name, st["state"], h["status"]))
                if st["state"] == "exited":
                    ended.add(name)
            time.sleep(0.05)
        print("meanwhile (instance, state, health):", sorted(seen))
        self.assertFalse([s for s in seen if s[2] == "healthy"], seen)

        self.wait_for("a restart of three", lambda: self.api(
            "GET", "/v1/instances/three", expect=200).json["restart_count"] == 1)
        three = self.wait_state("three", "running")
        self.domains.add(three["domain"])
        for name in ("zero", "late"):
            st = self.wait_state(name, "exited")
            self.assertEqual((st["exit_status"], st["exit_reason"], st["restart_count"]),
                             (0, "exited", 0), st)
        evs = {n: [e for e in self.events("?instance=" + n)
                   if e["type"] in ("instance.exited", "instance.restarted")] for n in disks}
        print("events:", {n: [e["detail"] for e in evs[n]] for n in evs})
        self.assertEqual([e["detail"] for e in evs["zero"]], ["status 0"])
        self.assertEqual([e["detail"] for e in evs["late"]], ["status 0"])
        self.assertEqual([e["detail"] for e in evs["three"]],
                         ["status 3; restart in 100 ms", "restart 1, after 100 ms"])
        # The guests said how long their exit waited (once QEMU's console reconnected).
        for name in ("zero", "late"):
            log = self.api("GET", "/v1/instances/%s/logs" % name, expect=200).raw.decode()
            waited = [line for line in log.splitlines() if "the host is back" in line]
            print("%s: %s" % (name, waited[-1] if waited else "(the line was not logged)"))
        time.sleep(1)
        for name in ("zero", "late"):
            st = self.api("GET", "/v1/instances/" + name, expect=200).json
            self.assertEqual((st["state"], st["restart_count"]), ("exited", 0), st)
        self.api("POST", "/v1/instances/three/kill", expect=200)


if __name__ == "__main__":
    main(RestartTest, own=True)
