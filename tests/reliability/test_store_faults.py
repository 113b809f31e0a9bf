#!/usr/bin/env python3
"""Store faults (docs/guarantees.md, "Store faults"): ukd whose state directory
is a tiny tmpfs that fills up. Every write the full disk refuses is answered
with a clear 5xx (507 insufficient_storage), ukd keeps serving, the store
passes `PRAGMA integrity_check`, everything acknowledged before is still
there, and writes succeed again once there is room.

Needs root (mount). Environment: UKD (the ukd binary), UKD_HELLO (the hello example).
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


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--list":
        for name in unittest.defaultTestLoader.getTestCaseNames(StoreFaultTest):
            print(name[len("test_"):])
        sys.exit(0)
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        sys.argv[1] = "StoreFaultTest.test_" + sys.argv[1]
    unittest.main(verbosity=2)
