"""Boots ukd images under raw QEMU for the guest tests and benchmarks.

The accelerator comes from UKD_ACCEL (default tcg: these machines' KVM
cannot run guest ring 0, see HOST-NOTES.md). The exit status travels through
QEMU's isa-debug-exit device: QEMU exits with (status << 1) | 1.
"""
import os
import re
import subprocess
import time

QBOOT = "/usr/share/qemu/qboot.rom"


def accel():
    return os.environ.get("UKD_ACCEL", "tcg")


def qemu_argv(image, append="", mem=64, debug_exit=True, extra=()):
    """extra: more QEMU arguments, e.g. health_serial()'s COM2."""
    a = accel()
    cpu = "host,-arch-capabilities" if a == "kvm" else "max"
    argv = ["qemu-system-x86_64", "-M", "pc,accel=" + a, "-cpu", cpu,
            "-m", str(mem), "-nodefaults", "-no-user-config", "-display", "none",
            "-bios", QBOOT, "-kernel", image, "-serial", "stdio"]
    if append:
        argv += ["-append", append]
    if debug_exit:
        argv += ["-device", "isa-debug-exit,iobase=0xf4,iosize=1", "-no-reboot"]
    # else a reset (triple fault) reboots the guest instead of ending QEMU, so
    # only a real ACPI power-off passes a test that waits for QEMU to exit.
    return argv + list(extra)


DOMAIN_XML = """<domain type='{type}'>
  <name>{name}</name>
  <memory unit='MiB'>{mem}</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type>
    <loader type='rom'>/usr/share/qemu/qboot.rom</loader>
    <kernel>{kernel}</kernel>{initrd}<cmdline>{cmdline}</cmdline></os>
  <cpu mode='maximum'/>
  <on_poweroff>destroy</on_poweroff><on_reboot>destroy</on_reboot><on_crash>destroy</on_crash>
  <devices><controller type='usb' model='none'/><memballoon model='none'/>
    <serial type='file'><source path='{console}'/></serial></devices>
</domain>"""


def domain_xml(name, kernel, console, cmdline="", mem=64, initrd=None):
    """A transient libvirt domain booting kernel as ukd runs its guests (machine
    pc, qboot, PVH direct boot, accel()), its serial console written to the
    file console. kernel, initrd and console must be reachable by libvirt-qemu."""
    cmdline = cmdline.replace("&", "&amp;").replace("<", "&lt;")
    return DOMAIN_XML.format(type="kvm" if accel() == "kvm" else "qemu", name=name, mem=mem,
                             kernel=kernel, cmdline=cmdline, console=console,
                             initrd="<initrd>%s</initrd>" % initrd if initrd else "")

def health_serial(sock_path):
    """COM2 (the runtime's fallback health channel) as a client of a unix socket the test listens on."""
    return ["-chardev", "socket,id=health,path=" + sock_path, "-serial", "chardev:health"]


HEALTH_PORT_NAME = "org.ukd.health.0"  # api/ukhealth.h


def health_virtio(sock_path=None, max_ports=None):
    """The health channel: a named virtio-console port on a unix socket (None: on
    a null chardev, which takes and drops every byte). max_ports=4 is what ukd
    gives the controller; QEMU's default is 31."""
    chardev = "socket,id=health,path=" + sock_path if sock_path else "null,id=health"
    ctl = "virtio-serial-pci" + (",max_ports=%d" % max_ports if max_ports else "")
    return ["-device", ctl, "-chardev", chardev,
            "-device", "virtserialport,chardev=health,name=" + HEALTH_PORT_NAME]


class Result:
    def __init__(self, status, output, seconds):
        self.status = status      # the guest's exit status, or None if it did not report one
        self.output = output      # console text, \r removed
        self.seconds = seconds

    def __repr__(self):
        return "status=%r after %.2fs, console:\n%s" % (self.status, self.seconds, self.output)


def virtio_rng(rdrand=True):
    """QEMU arguments for a virtio-rng device fed from the host's /dev/urandom
    (what ukd's libvirt domains have); rdrand=False also hides RDRAND."""
    argv = ["-object", "rng-random,id=rng0,filename=/dev/urandom",
            "-device", "virtio-rng-pci,rng=rng0"]
    if not rdrand:
        cpu = "host,-arch-capabilities" if accel() == "kvm" else "max"
        argv = ["-cpu", cpu + ",-rdrand"] + argv  # QEMU takes the last -cpu
    return argv


def boot(image, append="", mem=64, timeout=60, debug_exit=True, extra=()):
    """Boots image and returns a Result once QEMU has exited.

    Without debug_exit the guest must power the VM off by itself (ACPI), as
    it does under libvirt; Result.qemu_rc is then QEMU's own exit code.
    extra: more QEMU arguments (e.g. virtio_rng())."""
    t0 = time.monotonic()
    p = subprocess.run(qemu_argv(image, append, mem, debug_exit, extra), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    out = p.stdout.decode("utf-8", "replace").replace("\r", "")
    # QEMU itself exits with 1 on errors, which isa-debug-exit would also give
    # for status 0: only a status the console confirms is believed.
    # The process exit code keeps 8 bits of (status << 1) | 1.
    m = re.findall(r"^exit status (\d+)$", out, re.M)
    status = None
    if m and ((int(m[-1]) << 1) | 1) & 0xff == p.returncode:
        status = int(m[-1])
    r = Result(status, out, time.monotonic() - t0)
    r.qemu_rc = p.returncode
    return r
