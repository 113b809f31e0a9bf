#!/usr/bin/env python3
"""The same image boots through libvirt (transient domain, PVH direct boot with
qboot, as ukd will run it) and powers itself off when the program exits.

Needs libvirtd on qemu:///system (scripts/setup.sh starts it).
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guest  # noqa: E402

IMAGES = os.environ.get("UKD_IMAGES", "build/images")
URI = "qemu:///system"

def virsh(*args, check=True):
    return subprocess.run(["virsh", "-c", URI] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, check=check, timeout=120)


class Libvirt(unittest.TestCase):
    def setUp(self):
        # libvirt's QEMU runs as libvirt-qemu: the image must be world-readable on a readable path.
        self.dir = tempfile.mkdtemp(prefix="ukd-test-")
        os.chmod(self.dir, 0o755)
        self.image = os.path.join(self.dir, "hello.img")
        shutil.copy(os.path.join(IMAGES, "hello.img"), self.image)
        os.chmod(self.image, 0o644)
        self.name = "ukd-test-%d" % os.getpid()

    def tearDown(self):
        virsh("destroy", self.name, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_hello_under_libvirt(self):
        console = os.path.join(self.dir, "console.log")
        xml = os.path.join(self.dir, "domain.xml")
        with open(xml, "w") as f:
            f.write(guest.domain_xml(self.name, self.image, console,
                                     cmdline="env.GREETING=libvirt -- 4", mem=32))
        t0 = time.monotonic()
        virsh("create", xml)
        while time.monotonic() - t0 < 60 and self.name in virsh("list", "--name").stdout.split():
            time.sleep(0.1)
        print("accelerator: %s; domain ran %.2fs" % (guest.accel(), time.monotonic() - t0))
        with open(console, errors="replace") as f:
            out = f.read().replace("\r", "")
        print(out)  # before the checks, so a failure shows how far the guest got
        self.assertNotIn(self.name, virsh("list", "--name").stdout.split(), "guest did not power off")
        self.assertIn("Hello from ukd\n", out)
        self.assertIn("GREETING = libvirt\n", out)
        self.assertIn("exit status 4\n", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
