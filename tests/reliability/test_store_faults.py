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

Needs root (mount). Environment: UKD (the ukd binary), UKD_HELLO (the hello
example), UKD_STORE_FAULT (the store_fault.so shim).
Run one case: test_store_faults.py CASE; list them: test_store_faults.py --list.
"""
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
from test_daemon import HELLO, Daemon  # noqa: E402

TMPFS_MIB = 16
STORE_FAULT = os.environ.get("UKD_STORE_FAULT", "build/tests/reliability/libstore_fault.so")
# Fault points tried per kind: every one of the first few (20 writes, 10 allocations),
# then 25% further apart each time, until one lies past the end of the create. The long form: UKD_FAULT_DENSE=1
# (every point, up to UKD_FAULT_POINTS).
MAX_POINTS = int(os.environ.get("UKD_FAULT_POINTS", "60"))
DENSE = os.environ.get("UKD_FAULT_DENSE") == "1"


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
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm,mode=0755" % TMPFS_MIB, "tmpfs",
                        self.root], check=True)
        self.ukd = Daemon(self.root, os.path.join(self.dir, "ukd.sock"),
                          os.path.join(self.dir, "ukd.log"))
        self.ukd.start()

    def tearDown(self):
        self.ukd.stop()
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
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            self.ukd.start()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

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


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--list":
        for name in unittest.defaultTestLoader.getTestCaseNames(StoreFaultTest):
            print(name[len("test_"):])
        sys.exit(0)
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        sys.argv[1] = "StoreFaultTest.test_" + sys.argv[1]
    unittest.main(verbosity=2)
