#!/usr/bin/env python3
"""Store faults (docs/guarantees.md, "Store faults"):

- disk_full: ukd whose state directory is a tiny tmpfs that fills up. Every
  write the full disk refuses is answered with a clear 5xx (507
  insufficient_storage), ukd keeps serving, the store passes
  `PRAGMA integrity_check`, everything acknowledged before is still there,
  and writes succeed again once there is room.
- io_errors, malloc_failures: the Nth write (or allocation) of sqlite's fails
  (store_fault.c, LD_PRELOAD into an unmodified ukd) during a create, for
  N = 1, 2, ... until the create no longer reaches it: each time ukd answers
  201 or 5xx and keeps running, and after a restart the store passes
  `PRAGMA integrity_check` and holds exactly what was acknowledged.
- instance_ops_io, instance_ops_malloc, image_ops_io, image_ops_malloc: the
  same faults during start, stop (?t=0) or kill, and delete of a real
  (sleeping) guest, and during an upload and the delete of that image: the
  points each operation reaches are counted first (UKD_FAULT=KIND:0), then a
  fresh subject goes through the operations once per fault point, each
  operation failing at that point in its own armed window. The answer is 2xx
  or 5xx, the next requests work and show what the answer said (nothing left
  "starting" or "stopping"), and after a restart the store is whole and holds
  exactly what was acknowledged: no orphaned instance directory, image file,
  temporary file or libvirt domain.
- image_file_faults: every write, fsync and rename of an upload's files under
  images/ and tmp/ fails in turn with EIO, then ENOSPC: 500 or 507 saying
  so, nothing partial listed or left on disk, earlier images untouched.

Long form: UKD_FAULT_DENSE=1 (every point). Needs root (mount) and the running
libvirtd. Environment: UKD (the ukd binary), UKD_HELLO (the hello example),
UKD_STORE_FAULT (the store_fault.so shim).
Run one case: test_store_faults.py CASE; list them: test_store_faults.py --list.
"""
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
from test_daemon import HELLO, Daemon, environ, main, tar_of, virsh  # noqa: E402

TMPFS_MIB = 16
STORE_FAULT = os.environ.get("UKD_STORE_FAULT", "build/tests/reliability/libstore_fault.so")
# Fault points tried per kind: every one of the first few (20 writes, 10 allocations),
# then 25% further apart each time, until one lies past the end of the create. The long form: UKD_FAULT_DENSE=1
# (every point, up to UKD_FAULT_POINTS).
MAX_POINTS = int(os.environ.get("UKD_FAULT_POINTS", "60"))
DENSE = os.environ.get("UKD_FAULT_DENSE") == "1"


# The other operations' sweeps count the points an operation reaches first, then try
# every one of the first few and 60% further apart each time after them, and the last.
T0 = time.monotonic()  # the points' progress is printed in seconds since
GROWTH = float(os.environ.get("UKD_FAULT_GROWTH", "1.6"))
# The instance operations reach thousands of allocations and each sweep point boots a
# guest: three times as far apart each time.
MALLOC_GROWTH = float(os.environ.get("UKD_FAULT_GROWTH", "3"))

SLEEP_C = b"""#include <stdio.h>
#include <unistd.h>
int main(void)
{
	printf("sleeping\\n");
	fflush(stdout);
	for (;;)
		sleep(3600);
}
"""


# An instance's life in the instance sweeps: stop and kill take turns.
INSTANCE_OPS = ("start", ("stop", "kill"), "delete")
# How long the API may take to show an observation the store refused once (ukd writes
# it again, after 100 ms at first).
SETTLE_S = 3


def fault_points_of(count, dense_until, growth=None):
    """The points of an operation that reaches `count` to fault (all of them if DENSE)."""
    pts, n = {count} if count else set(), 1
    while n <= count:
        pts.add(n)
        n = n + 1 if DENSE or n < dense_until else int(n * (growth or GROWTH)) + 1
    return pts


def fault_points(dense_until):
    n = 1
    for _ in range(MAX_POINTS):
        yield n
        n = n + 1 if DENSE or n < dense_until else int(n * 1.25)


class StoreFaultTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ukd-store-fault-")
        os.chmod(self.dir, 0o755)
        self.root = os.path.join(self.dir, "root")
        os.mkdir(self.root)
        # Room for a compiled image and a few uploads, except where the disk is to be full.
        size = TMPFS_MIB if self._testMethodName == "test_disk_full" else 64
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm,mode=0755" % size, "tmpfs",
                        self.root], check=True)
        self.ukd = Daemon(self.root, os.path.join(self.dir, "ukd.sock"),
                          os.path.join(self.dir, "ukd.log"))
        self.ukd.start()

    def tearDown(self):
        self.ukd.stop()
        self.cleanup_domains()
        if any(e for e in sys.exc_info()) or os.environ.get("UKD_TEST_VERBOSE"):
            print(self.ukd.read_log()[-20000:])
        subprocess.run(["umount", self.root])
        shutil.rmtree(self.dir, ignore_errors=True)

    def fill(self):
        """Fills the state directory's filesystem up to its last byte."""
        path = os.path.join(self.root, "filler")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for block in (65536, 512, 1):
                try:
                    while True:
                        os.write(fd, b"\0" * block)
                except OSError:
                    pass
        finally:
            os.close(fd)
        return path

    def integrity(self):
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.root, "ukd.db"), uri=True)
        try:
            return db.execute("PRAGMA integrity_check").fetchall()
        finally:
            db.close()

    def assert_full(self, r, what):
        print("%s on a full disk: %r" % (what, r))
        self.assertGreaterEqual(r.status, 500, (what, r))
        self.assertEqual((r.status, r.json["error"]["code"]), (507, "insufficient_storage"),
                         (what, r))

    def test_disk_full(self):
        with open(HELLO, "rb") as f:
            hello = f.read()
        r = self.ukd.request("POST", "/v1/images?name=hello", hello,
                             {"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 201, r)
        for i in range(3):
            r = self.ukd.request("POST", "/v1/instances",
                                 {"image": "hello", "name": "before%d" % i, "start": False})
            self.assertEqual(r.status, 201, r)
        before = self.ukd.request("GET", "/v1/instances").json
        images_before = self.ukd.request("GET", "/v1/images").json

        filler = self.fill()
        failed, acked = 0, [i["name"] for i in before]
        for i in range(20):
            r = self.ukd.request("POST", "/v1/instances",
                                 {"image": "hello", "name": "full%d" % i, "start": False,
                                  "env": {"PAD": "x" * 2000}})
            if r.status == 201:
                acked.append("full%d" % i)  # sqlite may still fit a row into a page it has
                continue
            self.assert_full(r, "create")
            failed += 1
        self.assertGreater(failed, 0, "20 creates fitted into a full disk")
        # A new image (a different file) cannot be stored either, and leaves nothing behind.
        r = self.ukd.request("POST", "/v1/images?name=hello2", hello + b"\0" * 4096,
                             {"Content-Type": "application/octet-stream"})
        self.assert_full(r, "image upload")
        self.assertIsNone(self.ukd.proc.poll(), "ukd died on a full disk")
        # Reads keep working, and show what was acknowledged.
        r = self.ukd.request("GET", "/v1/instances")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(sorted(i["name"] for i in r.json), sorted(acked))
        self.assertEqual(self.integrity(), [("ok",)])
        print("%d creates refused with 507, %d fitted" % (failed, len(acked) - len(before)))

        # Room again: writes work, nothing was lost, the store is whole.
        os.unlink(filler)
        r = self.ukd.request("POST", "/v1/instances",
                             {"image": "hello", "name": "after", "start": False})
        self.assertEqual(r.status, 201, r)
        r = self.ukd.request("POST", "/v1/images?name=hello2", hello + b"\0" * 4096,
                             {"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 201, r)
        self.ukd.stop()
        self.assertEqual(self.integrity(), [("ok",)])
        self.ukd.start()
        insts = self.ukd.request("GET", "/v1/instances").json
        self.assertEqual(sorted(i["name"] for i in insts), sorted(acked + ["after"]))
        # A refused create leaves no instance directory behind.
        self.assertEqual(sorted(os.listdir(os.path.join(self.root, "instances"))),
                         sorted(i["id"] for i in insts))
        ids = [i["id"] for i in self.ukd.request("GET", "/v1/images").json]
        for img in images_before:
            self.assertIn(img["id"], ids)
        # No partial image file from the refused upload.
        files = os.listdir(os.path.join(self.root, "images", "sha256"))
        self.assertEqual(len(files), len(ids), files)


    def start_faulty(self, spec, arm, fired):
        env = {"LD_PRELOAD": STORE_FAULT, "UKD_FAULT": spec, "UKD_FAULT_ARM": arm,
               "UKD_FAULT_FIRED": fired}
        with environ(**env):
            self.ukd.start()

    def sweep(self, kind):
        """A fault at each point of a create in turn; returns how many points were hit."""
        with open(HELLO, "rb") as f:
            r = self.ukd.request("POST", "/v1/images?name=hello", f.read(),
                                 {"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 201, r)
        r = self.ukd.request("POST", "/v1/instances", {"image": "hello", "name": "base",
                                                       "start": False})
        self.assertEqual(r.status, 201, r)
        acked = {"base"}
        self.ukd.stop()
        arm, fired = os.path.join(self.dir, "arm"), os.path.join(self.dir, "fired")
        statuses, tried = {}, 0
        for n in fault_points(20 if kind == "io" else 10):
            tried += 1
            for p in (arm, fired):
                if os.path.exists(p):
                    os.unlink(p)
            self.start_faulty("%s:%d" % (kind, n), arm, fired)
            open(arm, "w").close()
            name = "f%d" % n
            r = self.ukd.request("POST", "/v1/instances",
                                 {"image": "hello", "name": name, "start": False})
            hit = os.path.exists(fired)
            statuses[r.status] = statuses.get(r.status, 0) + 1
            self.assertIn(r.status, (201, 500, 503, 507), (n, r))
            if r.status == 201:
                acked.add(name)
            # A fault past the create lands in this read (a 500 then), or later; the
            # read after it works again (the fault was transient), and ukd is alive.
            r2 = self.ukd.request("GET", "/v1/instances")
            self.assertIn(r2.status, (200,) if hit else (200, 500), (n, r2))
            r2 = self.ukd.request("GET", "/v1/instances")
            self.assertIsNone(self.ukd.proc.poll(), "ukd died at %s fault %d" % (kind, n))
            self.assertEqual(r2.status, 200, (n, r2))
            self.ukd.stop()
            self.assertEqual(self.integrity(), [("ok",)], "%s fault %d" % (kind, n))
            # What a fresh ukd reads is exactly what was acknowledged.
            self.ukd.start()
            names = {i["name"] for i in self.ukd.request("GET", "/v1/instances").json}
            self.assertEqual(names, acked, "%s fault %d" % (kind, n))
            dirs = set(os.listdir(os.path.join(self.root, "instances")))
            self.assertEqual(dirs, {i["id"] for i in
                                    self.ukd.request("GET", "/v1/instances").json},
                             "%s fault %d: instance directories" % (kind, n))
            self.ukd.stop()
            if not hit:
                break
        points = tried - (0 if hit else 1)
        print("%s faults: %d points hit (the last at %s%s), answers %s" %
              (kind, points, n, "" if hit else ", past the end", statuses))
        self.assertFalse(hit, "the create still reached fault %d: raise UKD_FAULT_POINTS" % n)
        return points, statuses

    def test_io_errors(self):
        points, statuses = self.sweep("io")
        self.assertGreater(points, 0, "no write was ever faulted")
        self.assertGreater(sum(v for k, v in statuses.items() if k >= 500), 0)

    def test_malloc_failures(self):
        points, statuses = self.sweep("malloc")
        self.assertGreater(points, 0, "no allocation was ever faulted")
        self.assertGreater(sum(v for k, v in statuses.items() if k >= 500), 0)

    # --- faults during the other operations (start, stop/kill, delete, uploads) ---

    def fault_env(self, kind, n, extra=None):
        env = {"LD_PRELOAD": STORE_FAULT, "UKD_FAULT": "%s:%d" % (kind, n),
               "UKD_FAULT_ARM": self.arm, "UKD_FAULT_FIRED": self.fired,
               "UKD_FAULT_COUNT": self.countf}
        env.update(extra or {})
        return env

    def up(self, kind, n, extra=None):
        """A ukd with the fault (unarmed), then the checks a restart owes the last operation."""
        if self.ukd.proc and self.ukd.proc.poll() is None:
            return
        with environ(**self.fault_env(kind, n, extra)):
            self.ukd.start()
        self.verify()

    def armed(self, fn, at=None, settle=0.0):
        """Runs fn with the fault armed (at point `at` if given); returns (its result, hit)."""
        if os.path.exists(self.fired):
            os.unlink(self.fired)
        with open(self.arm, "w") as f:
            f.write("" if at is None else str(at))
        try:
            r = fn()
            # What the operation sets off (lifecycle events) is part of it.
            time.sleep(settle)
        finally:
            os.unlink(self.arm)
        return r, os.path.exists(self.fired)

    def req(self, method, path, body=None, expect=None):
        headers = None
        if isinstance(body, bytes):
            headers = {"Content-Type": "application/octet-stream"}
        r = self.ukd.request(method, path, body, headers)
        if expect is not None:
            self.assertEqual(r.status, expect, "%s %s -> %r" % (method, path, r))
        return r

    def alive_after(self, what):
        """The request after a fault works; ukd is alive and leaves no temporary file."""
        r = self.req("GET", "/v1/instances")
        self.assertIsNone(self.ukd.proc.poll(), "ukd died at %s" % what)
        r = self.req("GET", "/v1/images")
        self.assertEqual(r.status, 200, (what, r))
        self.assertEqual(os.listdir(os.path.join(self.root, "tmp")), [], what)

    def our_domains(self):
        return {d for d in virsh("list", "--all", "--name").stdout.split()
                if d.startswith("ukd-") and d[4:] in {i[:12] for i in self.ids}}

    def verify(self):
        """What a fresh ukd reads is what was acknowledged; nothing is orphaned."""
        insts = {i["name"]: i for i in self.req("GET", "/v1/instances", expect=200).json}
        for name, m in self.model.items():
            i = insts.get(name)
            if m["exists"] is not None:
                self.assertEqual(i is not None, m["exists"], "%s: %r" % (name, i))
            m["exists"] = i is not None
            if not i:
                continue
            self.assertNotIn(i["state"], ("starting", "stopping"), i)
            running = i["state"] == "running"
            if m["running"] is not None:
                self.assertEqual(running, m["running"], i)
                self.assertEqual(i["desired_state"], "running" if running else "stopped", i)
            m["running"] = running
        self.assertEqual(set(insts), {n for n, m in self.model.items() if m["exists"]})
        # Exactly one domain per running instance, and none for anything else.
        doms = self.our_domains()
        want = {i["domain"] for i in insts.values() if i["state"] == "running"}
        self.assertEqual(doms, want, "libvirt domains against the store")
        self.assertEqual(set(os.listdir(os.path.join(self.root, "instances"))),
                         {i["id"] for i in insts.values()}, "instance directories")
        imgs = {i["name"]: i for i in self.req("GET", "/v1/images", expect=200).json}
        for name, m in self.images.items():
            if m["exists"] is not None:
                self.assertEqual(name in imgs, m["exists"], "image %s" % name)
            m["exists"] = name in imgs
        self.assertEqual(set(imgs), {n for n, m in self.images.items() if m["exists"]})
        self.assertEqual(sorted(os.listdir(os.path.join(self.root, "images", "sha256"))),
                         sorted(i["id"].split(":")[-1] + ".img" for i in imgs.values()),
                         "image files")

    def fault_setup(self, sleeper):
        self.arm, self.fired = os.path.join(self.dir, "arm"), os.path.join(self.dir, "fired")
        self.countf = os.path.join(self.dir, "count")
        self.model, self.images, self.ids = {}, {}, set()
        with open(HELLO, "rb") as f:
            self.hello = f.read()
        self.req("POST", "/v1/images?name=hello", self.hello, expect=201)
        self.images["hello"] = {"exists": True}
        if sleeper:
            ctx = tar_of([("uk.json", json.dumps({"name": "sleep", "sources": ["sleep.c"],
                                                   "mem": 16}).encode()), ("sleep.c", SLEEP_C)])
            r = self.ukd.request("POST", "/v1/images", ctx, {"Content-Type": "application/x-tar"})
            self.assertEqual(r.status, 201, r)
            self.images["sleep"] = {"exists": True}
        self.ukd.stop()

    def cleanup_domains(self):
        for d in self.our_domains() if getattr(self, "ids", None) else ():
            virsh("destroy", d)

    OK = {"start": 200, "stop": 200, "kill": 200, "delete": 204, "upload": 201,
          "image_delete": 204}

    def do(self, op, name):
        if op == "start":
            return self.req("POST", "/v1/instances/%s/start" % name)
        if op == "stop":
            return self.req("POST", "/v1/instances/%s/stop?t=0" % name)
        if op == "kill":
            return self.req("POST", "/v1/instances/%s/kill" % name)
        if op == "delete":
            return self.req("DELETE", "/v1/instances/" + name)
        if op == "upload":
            return self.req("POST", "/v1/images?name=" + name, self.image_bytes(name))
        return self.req("DELETE", "/v1/images/" + name)

    def image_bytes(self, name):
        # The hello ELF with trailing bytes: a new image (a new file) for each name.
        return self.hello + name.encode() * 64

    def prepare(self, op, name):
        """Brings the subject of op (no fault armed) where op needs it."""
        m = (self.images if op in ("upload", "image_delete") else self.model)[name]
        if op == "start" and m["running"]:
            self.assertEqual(self.do("kill", name).status, 200)
            m["running"] = False
        elif op in ("stop", "kill") and not m["running"]:
            self.assertEqual(self.do("start", name).status, 200)
            m["running"] = True
        elif op == "delete" and m["running"]:
            self.assertEqual(self.do("kill", name).status, 200)
            m["running"] = False
        elif op == "image_delete" and not m["exists"]:
            self.assertEqual(self.do("upload", name).status, 201)
            m["exists"] = True

    def acknowledge(self, op, name, status):
        """What op's answer promises about the store (None: either way, but whole)."""
        m = (self.images if op in ("upload", "image_delete") else self.model)[name]
        ok = status == self.OK[op]
        if op == "start":
            m["running"] = True if ok else None
        elif op in ("stop", "kill"):
            m["running"] = False if ok else None
        else:
            m["exists"] = (op == "upload") if ok else None

    def read_count(self):
        try:
            with open(self.countf) as f:
                return int(f.read())
        except (OSError, ValueError):
            return 0

    def live_state(self, op, name, status, what):
        """Right after op (no restart): the API shows what the answer said, nothing half-way."""
        if op in ("upload", "image_delete"):
            r = self.req("GET", "/v1/images/" + name)
            self.assertIn(r.status, (200, 404), (what, r))
            m = self.images[name]
            if m["exists"] is not None:
                self.assertEqual(r.status == 200, m["exists"], (what, r))
            m["exists"] = r.status == 200
            return
        # An observation the store refused is written again within a moment.
        deadline = time.monotonic() + SETTLE_S
        while True:
            r = self.req("GET", "/v1/instances/" + name)
            if (r.status != 200 or r.json["state"] not in ("starting", "stopping") or
                    time.monotonic() > deadline):
                break
            time.sleep(0.1)
        self.assertIn(r.status, (200, 404), (what, r))
        m = self.model[name]
        if m["exists"] is not None:
            self.assertEqual(r.status == 200, m["exists"], (what, r))
        m["exists"] = r.status == 200
        if r.status != 200:
            return
        self.assertNotIn(r.json["state"], ("starting", "stopping"), (what, r))
        running = r.json["state"] == "running"
        if m["running"] is not None:
            self.assertEqual(running, m["running"], (what, r))
        m["running"] = running
        self.assertEqual(running, r.json["domain"] in self.our_domains(), (what, r))

    def op_sweep(self, kind, subject, ops, dense_until, growth=None):
        """
        For each fault point n (n = 0 first: nothing fails, the points are counted),
        a fresh subject goes through ops in turn under one ukd, each op faulting at
        its nth point (an armed window each); the next request must see what the
        answer said. Then a restart: the next ukd checks what this one left.
        Returns {op: [points it reaches, points tried, points hit, answers]}.
        """
        flat = [o for op in ops for o in (op if isinstance(op, tuple) else (op,))]
        stats = {op: [0, 0, 0, {}] for op in flat}
        points = {op: set() for op in flat}
        todo, done = [0], set()
        while todo:
            n = todo.pop(0)
            # Alternatives take turns from one fault point to the next (all at n = 0).
            seq = [o for op in ops for o in (
                (op,) if not isinstance(op, tuple) else op if n == 0 else
                (op[len(done) % len(op)],))]
            done.add(n)
            name = "%s%d" % (subject[0], n)
            self.up(kind, n)
            if subject == "instance":
                r = self.req("POST", "/v1/instances", {"image": "sleep", "name": name,
                                                       "start": False}, expect=201)
                self.ids.add(r.json["id"])
                self.model[name] = {"exists": True, "running": False}
            else:
                self.images[name] = {"exists": False}
            for i, op in enumerate(seq):
                what = "%s fault %d in %s (step %d)" % (kind, n, op, i + 1)
                self.prepare(op, name)
                if n and n not in points[op]:
                    r = self.do(op, name)  # only a step towards the next operation here
                    self.assertEqual(r.status, self.OK[op], (what, r))
                    self.acknowledge(op, name, r.status)
                    continue
                settle = 0.5 if op in ("start", "stop", "kill") else 0
                r, hit = self.armed(lambda: self.do(op, name), settle=settle)
                print("%s: %d%s [%.1f s]" % (what, r.status, " (hit)" if hit else "",
                                             time.monotonic() - T0), flush=True)
                self.assertIn(r.status, (self.OK[op], 500, 503, 507), (what, r))
                if r.status >= 500:
                    self.assertTrue(r.json and r.json["error"]["message"], (what, r))
                self.acknowledge(op, name, r.status)
                self.alive_after(what)
                self.live_state(op, name, r.status, what)
                st = stats[op]
                if n == 0:
                    self.assertEqual(r.status, self.OK[op], (what, r))
                    st[0] = max(st[0], self.read_count())
                    points[op] |= fault_points_of(st[0], dense_until, growth)
                    todo = sorted(set(todo) | points[op] - done)
                else:
                    st[1] += 1
                    st[2] += hit
                    st[3][r.status] = st[3].get(r.status, 0) + 1
            self.ukd.stop()
            self.assertEqual(self.integrity(), [("ok",)], "%s fault %d" % (kind, n))
        self.up(kind, 0)
        self.ukd.stop()
        for op, (count, tried, hit, answers) in stats.items():
            print("%s faults in %s: %d points reached, %d tried, %d hit, answers %s" %
                  (kind, op, count, tried, hit, answers))
            self.assertGreater(count, 0, "%s never reached a %s point" % (op, kind))
            self.assertGreater(hit, 0, "no %s fault ever hit %s" % (kind, op))
        return stats

    def test_instance_ops_io(self):
        self.fault_setup(sleeper=True)
        self.op_sweep("io", "instance", INSTANCE_OPS, 2)

    def test_instance_ops_malloc(self):
        self.fault_setup(sleeper=True)
        self.op_sweep("malloc", "instance", INSTANCE_OPS, 2, MALLOC_GROWTH)

    def test_image_ops_io(self):
        self.fault_setup(sleeper=False)
        self.op_sweep("io", "upload", ("upload", "image_delete"), 100)

    def test_image_ops_malloc(self):
        self.fault_setup(sleeper=False)
        self.op_sweep("malloc", "upload", ("upload", "image_delete"), 10)

    # --- faults in the image store's own files ---

    def image_files(self):
        d = os.path.join(self.root, "images", "sha256")
        out = {}
        for f in os.listdir(d):
            with open(os.path.join(d, f), "rb") as fh:
                out[f] = hashlib.sha256(fh.read()).hexdigest()
        return out

    def file_sweep(self, err):
        """Every write, fsync and rename of an upload under images/ and tmp/ fails in turn."""
        extra = {"UKD_FAULT_PATHS": "%s:%s" % (os.path.join(self.root, "images"),
                                               os.path.join(self.root, "tmp")),
                 "UKD_FAULT_ERRNO": err}
        self.up("file", 0, extra)
        before = self.image_files()
        # Counted: nothing fails in a window armed without a point.
        r, _ = self.armed(lambda: self.do("upload", "count-" + err.lower()))
        self.assertEqual(r.status, 201, r)
        count = self.read_count()
        self.req("DELETE", "/v1/images/count-" + err.lower(), expect=204)
        self.assertEqual(self.image_files(), before)
        answers, hits = {}, 0
        for n in sorted(fault_points_of(count, 40)):
            name = "f-%s-%d" % (err.lower(), n)
            self.images[name] = {"exists": None}
            r, hit = self.armed(lambda: self.do("upload", name), at=n)
            what = "%s at file point %d of %d" % (err, n, count)
            answers[r.status] = answers.get(r.status, 0) + 1
            hits += hit
            self.assertTrue(hit, what)
            if r.status != 201:
                # A clear refusal: a full disk is 507, an I/O error 500, saying so.
                want = (507, "insufficient_storage") if err == "ENOSPC" else (500, "internal")
                self.assertEqual((r.status, r.json["error"]["code"]), want, (what, r))
                self.assertIn("full" if err == "ENOSPC" else "Input/output error",
                              r.json["error"]["message"], (what, r))
            self.alive_after(what)
            self.live_state("upload", name, r.status, what)
            self.assertEqual(self.images[name]["exists"], r.status == 201, (what, r))
            # Nothing partial on disk, and the images stored before are untouched.
            files = self.image_files()
            self.assertEqual({k: v for k, v in files.items() if k in before}, before, what)
            self.assertEqual(len(files), len(before) + (r.status == 201), (what, files))
            if r.status == 201:
                self.req("DELETE", "/v1/images/" + name, expect=204)
                self.images[name]["exists"] = False
        self.ukd.stop()
        self.assertEqual(self.integrity(), [("ok",)])
        self.up("file", 0, extra)
        self.ukd.stop()
        print("%s in the image files: an upload reaches %d points, %d tried, answers %s" %
              (err, count, hits, answers))
        return answers

    def test_image_file_faults(self):
        self.fault_setup(sleeper=False)
        for err in ("EIO", "ENOSPC"):
            answers = self.file_sweep(err)
            self.assertGreater(sum(v for k, v in answers.items() if k >= 500), 0, err)


if __name__ == "__main__":
    main(StoreFaultTest)
