"""Starting the guests the benchmark compares, the same ways for all of them.

- Guest: what to boot (kernel file, optional initrd, command line, memory,
  the console line that means "ready").
- boot_raw(): raw QEMU (guest.qemu_argv: `pc`, qboot, TCG or KVM), timed
  from process start to the ready line on the console.
- Domain: the same guest as a transient libvirt domain (as ukd runs ours).
- Lab: a network namespace with a bridge and one tap per guest, for
  anything that talks to guests; torn down by name and PID on exit.
"""
import os
import select
import subprocess
import time

import guest

URI = "qemu:///system"
BRIDGE_IP = "10.77.0.1"


class Guest:
    def __init__(self, name, kernel, ready, cmdline="", mem=64, initrd=None):
        self.name, self.kernel, self.ready = name, kernel, ready
        self.cmdline, self.mem, self.initrd = cmdline, mem, initrd

    def argv(self, extra=()):
        x = ["-initrd", self.initrd] if self.initrd else []
        # No isa-debug-exit: every guest is stopped by us once ready, as under
        # libvirt; a guest that resets (a Linux panic) ends QEMU.
        return guest.qemu_argv(self.kernel, self.cmdline, self.mem, debug_exit=False,
                               extra=x + ["-no-reboot"] + list(extra))


def _wait_output(p, ready, timeout, t0):
    """Reads p's stdout until ready appears; returns (seconds since t0, text)."""
    buf = b""
    want = ready.encode()
    fd = p.stdout.fileno()
    while time.monotonic() - t0 < timeout:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk
            if want in buf:
                return time.monotonic() - t0, buf.decode(errors="replace")
    raise RuntimeError("no %r within %ds; console:\n%s" % (ready, timeout,
                                                           buf.decode(errors="replace")[-2000:]))


def boot_raw(g, timeout=120):
    """Raw QEMU: seconds from process start to the ready line, and the console text."""
    t0 = time.monotonic()
    p = subprocess.Popen(g.argv(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        return _wait_output(p, g.ready, timeout, t0)
    finally:
        p.kill()
        p.wait()
        p.stdout.close()


def virsh(*args, check=True):
    return subprocess.run(["virsh", "-c", URI] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, check=check, timeout=120)


class Domain:
    """g as a transient libvirt domain. workdir must be readable by libvirt-qemu
    (0755), and so must the kernel and initrd."""

    def __init__(self, g, workdir, name):
        self.g, self.name = g, name
        self.console = os.path.join(workdir, name + ".console")
        self.xml = os.path.join(workdir, name + ".xml")
        with open(self.xml, "w") as f:
            f.write(guest.domain_xml(name, g.kernel, self.console, g.cmdline, g.mem, g.initrd))

    def start(self):
        self.t0 = time.monotonic()
        virsh("create", self.xml)
        return self

    def output(self):
        try:
            with open(self.console, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_ready(self, timeout=180):
        """Seconds from `virsh create` to the ready line."""
        while True:
            t = time.monotonic() - self.t0
            if self.g.ready in self.output():
                return t
            if t > timeout:
                break
            time.sleep(0.01)
        raise RuntimeError("%s: no %r within %ds; console:\n%s" %
                           (self.name, self.g.ready, timeout, self.output()[-2000:]))

    def pid(self):
        with open("/run/libvirt/qemu/%s.pid" % self.name) as f:
            return int(f.read().strip())

    def destroy(self):
        virsh("destroy", self.name, check=False)
        for f in (self.console, self.xml):
            if os.path.exists(f):
                os.unlink(f)


class Lab:
    """A network namespace (unique name with our PID) with bridge br0 at
    10.77.0.1/24 and one tap per started guest."""

    def __init__(self, workdir):
        self.ns = "ukdb%d" % os.getpid()
        self.workdir = workdir
        self.procs = []
        self.taps = 0

    def ip(self, *args):
        subprocess.run(["ip", "-n", self.ns] + list(args), check=True, stdout=subprocess.DEVNULL)

    def __enter__(self):
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        self.ip("link", "set", "lo", "up")
        self.ip("link", "add", "br0", "type", "bridge")
        self.ip("addr", "add", BRIDGE_IP + "/24", "dev", "br0")
        self.ip("link", "set", "br0", "up")
        return self

    def sh(self, *argv, timeout=120, check=True):
        """Runs argv inside the namespace; returns its output."""
        return subprocess.run(["ip", "netns", "exec", self.ns] + list(argv), check=check,
                              timeout=timeout, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
                              ).stdout.decode(errors="replace")

    def spawn(self, argv, log=None):
        """Starts a process inside the namespace (a host-side server or a QEMU)."""
        out = open(log, "wb") if log else subprocess.DEVNULL
        p = subprocess.Popen(["ip", "netns", "exec", self.ns] + list(argv),
                             stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def start_vm(self, g):
        """Boots g on a new tap on br0; returns a LabVM."""
        tap = "tap%d" % self.taps
        mac = "52:54:00:12:35:%02x" % self.taps
        self.taps += 1
        self.ip("tuntap", "add", "dev", tap, "mode", "tap")
        self.ip("link", "set", tap, "master", "br0")
        self.ip("link", "set", tap, "up")
        console = os.path.join(self.workdir, "%s-%s.console" % (g.name, tap))
        p = self.spawn(g.argv(["-netdev", "tap,id=n0,ifname=%s,script=no,downscript=no" % tap,
                               "-device", "virtio-net-pci,netdev=n0,mac=" + mac]), console)
        return LabVM(self, g, p, tap, console)

    def stop(self, p):
        if p.poll() is None:
            p.kill()
        p.wait()
        if p in self.procs:
            self.procs.remove(p)

    def __exit__(self, *exc):
        for p in list(self.procs):
            self.stop(p)
        subprocess.run(["ip", "netns", "del", self.ns], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        return False


class LabVM:
    def __init__(self, lab, g, proc, tap, console):
        self.lab, self.g, self.proc, self.tap, self.console = lab, g, proc, tap, console
        self.t0 = time.monotonic()

    def output(self):
        with open(self.console, errors="replace") as f:
            return f.read()

    def wait_for(self, text, timeout=180):
        while time.monotonic() - self.t0 < timeout:
            if text in self.output():
                return time.monotonic() - self.t0
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("%s: no %r after %ds; console:\n%s" %
                           (self.g.name, text, timeout, self.output()[-2000:]))

    def stop(self):
        self.lab.stop(self.proc)
        self.lab.ip("link", "del", self.tap)
        if os.path.exists(self.console):
            os.unlink(self.console)
