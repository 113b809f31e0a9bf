"""A guest on its own network: a network namespace the test creates, a tap
in it for QEMU's virtio-net, and helpers to run clients inside it. Nothing
leaves the namespace (HOST-NOTES.md: network rules), and everything is torn
down by PID and name on exit.
"""
import os
import subprocess
import tempfile
import time

import guest

HOST_IP = "10.77.0.1"
GUEST_IP = "10.77.0.2"


class NetGuest:
    def __init__(self, image, append="", mem=64, dhcp=False, disk=None):
        self.ns = "ukdt%d-%d" % (os.getpid(), int(time.monotonic() * 1000) % 100000)
        self.image, self.append, self.mem, self.dhcp = image, append, mem, dhcp
        self.disk = disk  # a raw disk file, seen by the guest as /dev/vda
        self.qemu = self.dnsmasq = None
        self.console = tempfile.NamedTemporaryFile(prefix="ukd-console-", delete=False)

    def sh(self, *argv, check=True, timeout=120, **kw):
        """Runs argv inside the namespace."""
        return subprocess.run(["ip", "netns", "exec", self.ns] + list(argv), check=check,
                              timeout=timeout, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              **kw)

    def __enter__(self):
        run = lambda *a: subprocess.run(list(a), check=True, stdout=subprocess.DEVNULL)
        run("ip", "netns", "add", self.ns)
        run("ip", "-n", self.ns, "link", "set", "lo", "up")
        run("ip", "-n", self.ns, "tuntap", "add", "dev", "tap0", "mode", "tap")
        run("ip", "-n", self.ns, "addr", "add", HOST_IP + "/24", "dev", "tap0")
        run("ip", "-n", self.ns, "link", "set", "tap0", "up")
        if self.dhcp:
            self.dnsmasq = subprocess.Popen(
                ["ip", "netns", "exec", self.ns, "dnsmasq", "--no-daemon", "--port=0",
                 "--interface=tap0", "--bind-interfaces", "--dhcp-range=10.77.0.50,10.77.0.60,1h",
                 "--dhcp-leasefile=" + self.console.name + ".leases", "--conf-file=/dev/null"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        argv = guest.qemu_argv(self.image, self.append, self.mem) + [
            "-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no",
            "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56"]
        if self.disk:
            argv += ["-drive", "file=%s,if=none,id=d0,format=raw" % self.disk,
                     "-device", "virtio-blk-pci,drive=d0"]
        self.qemu = subprocess.Popen(["ip", "netns", "exec", self.ns] + argv,
                                     stdin=subprocess.DEVNULL, stdout=self.console,
                                     stderr=subprocess.STDOUT)
        return self

    def output(self):
        with open(self.console.name, errors="replace") as f:
            return f.read().replace("\r", "")

    def wait_for(self, text, timeout=60):
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if text in self.output():
                return True
            if self.qemu.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("no %r on the console after %ds:\n%s" % (text, timeout, self.output()))

    def alive(self):
        return self.qemu.poll() is None

    def __exit__(self, *exc):
        for p in (self.qemu, self.dnsmasq):
            if p and p.poll() is None:
                p.kill()
                p.wait()
        subprocess.run(["ip", "netns", "del", self.ns], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        for f in (self.console.name, self.console.name + ".leases"):
            if os.path.exists(f):
                os.unlink(f)
        return False
