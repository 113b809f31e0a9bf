"""The Linux-guest baseline, built at bench time from Debian packages.

Nothing binary is committed: `apt-get download` fetches the cloud kernel
(linux-image-cloud-amd64, resolved to its versioned package) and
busybox-static into a cache directory, `dpkg-deb -x` unpacks them, and this
module writes a gzip'd cpio initramfs (newc format, written here: no cpio
tool needed) whose /init

  - mounts proc, sys and devtmpfs,
  - loads the virtio modules the cloud kernel builds as modules (virtio_pci,
    virtio_net and what they depend on, read from each module's .modinfo),
  - configures eth0 from the kernel command line (bench.ip=A/N bench.gw=G),
  - prints READY on the console,
  - and runs the programs given as bench.run=/bin/httpd,8080,/www (commas
    become spaces; repeatable), e.g. the same static httpd and kv our images
    contain.

Two archives: the base one (busybox, modules, /init) used for boot timing
and the size comparison, and one with the applications appended (Linux
accepts concatenated cpio archives).
"""
import gzip
import os
import re
import shutil
import subprocess

READY = "ukd-bench: linux ready"
KERNEL_PKG = "linux-image-cloud-amd64"
BUSYBOX_PKG = "busybox-static"
# The drivers a guest on virtio-net needs, as module names.
WANTED_MODULES = ("virtio_pci", "virtio_net")

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /etc/modules.order); do insmod /lib/modules/$m.ko; done
ip link set lo up
for w in $(cat /proc/cmdline); do
  case "$w" in
    bench.ip=*) IP=${w#bench.ip=} ;;
    bench.gw=*) GW=${w#bench.gw=} ;;
    bench.run=*) RUN="$RUN
$(echo "${w#bench.run=}" | tr , ' ')" ;;
  esac
done
if [ -n "$IP" ]; then
  ip addr add "$IP" dev eth0 && ip link set eth0 up
  [ -n "$GW" ] && ip route add default via "$GW"
fi
echo "%s"
echo "$RUN" | while read -r cmd; do
  [ -n "$cmd" ] && $cmd &
done
while true; do wait; sleep 3600; done
""" % READY


def _run(argv, cwd=None):
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _download(pkg, dest):
    """apt-get download PKG into dest; returns the .deb path."""
    os.makedirs(dest, exist_ok=True)
    _run(["apt-get", "download", "-q", pkg], cwd=dest)
    debs = [f for f in os.listdir(dest) if f.startswith(pkg + "_") and f.endswith(".deb")]
    if not debs:
        raise RuntimeError("apt-get download %s left no .deb in %s" % (pkg, dest))
    return os.path.join(dest, sorted(debs)[-1])


def _field(deb, name):
    return subprocess.run(["dpkg-deb", "-f", deb, name], check=True, stdout=subprocess.PIPE,
                          text=True).stdout.strip()


class _Cpio:
    """A newc cpio archive written in memory."""

    def __init__(self):
        self.out = bytearray()
        self.ino = 1

    def _entry(self, name, mode, data=b"", rdev=(0, 0)):
        name_b = name.encode() + b"\0"
        fields = (self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name_b), 0)
        self.ino += 1
        self.out += b"070701" + b"".join(b"%08X" % f for f in fields) + name_b
        self.out += b"\0" * (-len(self.out) % 4)
        self.out += data
        self.out += b"\0" * (-len(self.out) % 4)

    def dir(self, name):
        self._entry(name, 0o040755)

    def file(self, name, data, mode=0o644):
        self._entry(name, 0o100000 | mode, data)

    def symlink(self, name, target):
        self._entry(name, 0o120777, target.encode())

    def chardev(self, name, major, minor):
        self._entry(name, 0o020600, rdev=(major, minor))

    def finish(self):
        self._entry("TRAILER!!!", 0)
        return bytes(self.out)


def _modinfo_depends(ko):
    with open(ko, "rb") as f:
        m = re.search(rb"\0depends=([^\0]*)\0", f.read())
    return [d for d in m.group(1).decode().split(",") if d] if m else []


def module_order(moddir):
    """The .ko files (relative to moddir) WANTED_MODULES need, dependencies first."""
    paths = {}
    for root, _, files in os.walk(moddir):
        for f in files:
            if f.endswith(".ko"):
                paths[f[:-3].replace("-", "_")] = os.path.relpath(os.path.join(root, f), moddir)
    order = []

    def visit(name):
        name = name.replace("-", "_")
        if name in order:
            return
        for d in _modinfo_depends(os.path.join(moddir, paths[name])):
            visit(d)
        order.append(name)

    for w in WANTED_MODULES:
        if w in paths:  # built in otherwise
            visit(w)
    return [paths[n] for n in order]


class LinuxGuest:
    """kernel: the bzImage; initrd: base archive; initrd_apps: with /bin/httpd, /bin/kv, /www."""

    def __init__(self, cache):
        self.cache = os.path.abspath(cache)
        self.dir = os.path.join(self.cache, "linux")
        self.kernel = os.path.join(self.dir, "vmlinuz")
        self.initrd = os.path.join(self.dir, "initrd-base.cpio.gz")
        self.initrd_apps = os.path.join(self.dir, "initrd-apps.cpio.gz")
        self.version_file = os.path.join(self.dir, "versions")

    def versions(self):
        with open(self.version_file) as f:
            return dict(line.strip().split("=", 1) for line in f if "=" in line)

    def prepare(self, apps, www_files):
        """Fetches and unpacks the packages once (cached), and writes both archives.

        apps: {guest path: host file}, www_files: {guest path: bytes}."""
        os.makedirs(self.dir, exist_ok=True)
        debs = os.path.join(self.cache, "debs")
        kroot = os.path.join(self.cache, "kernel-root")
        broot = os.path.join(self.cache, "busybox-root")
        if not os.path.exists(self.version_file):
            meta = _download(KERNEL_PKG, debs)
            # The metapackage depends on the versioned image package.
            dep = re.match(r"(linux-image-[\w.+-]+)", _field(meta, "Depends")).group(1)
            kdeb = _download(dep, debs)
            bdeb = _download(BUSYBOX_PKG, debs)
            for d, root in ((kdeb, kroot), (bdeb, broot)):
                shutil.rmtree(root, ignore_errors=True)
                _run(["dpkg-deb", "-x", d, root])
            vmlinuz = [f for f in os.listdir(os.path.join(kroot, "boot")) if f.startswith("vmlinuz-")][0]
            shutil.copy(os.path.join(kroot, "boot", vmlinuz), self.kernel)
            with open(self.version_file + ".tmp", "w") as f:
                f.write("kernel_package=%s\nkernel_version=%s\nbusybox_version=%s\n" %
                        (dep, _field(kdeb, "Version"), _field(bdeb, "Version")))
            os.rename(self.version_file + ".tmp", self.version_file)
        os.chmod(self.kernel, 0o644)
        moddir = [os.path.join(kroot, "lib", "modules", d)
                  for d in os.listdir(os.path.join(kroot, "lib", "modules"))][0]
        c = _Cpio()
        for d in ("bin", "dev", "proc", "sys", "etc", "lib", "lib/modules", "tmp"):
            c.dir(d)
        c.chardev("dev/console", 5, 1)
        with open(os.path.join(broot, "bin", "busybox"), "rb") as f:
            c.file("bin/busybox", f.read(), 0o755)
        c.symlink("bin/sh", "busybox")
        c.file("init", INIT.encode(), 0o755)
        mods = module_order(moddir)
        c.file("etc/modules.order", "".join(m[:-3] + "\n" for m in mods).encode())
        made = set()
        for m in mods:
            parts = m.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                p = "lib/modules/" + "/".join(parts[:i])
                if p not in made:
                    made.add(p)
                    c.dir(p)
            with open(os.path.join(moddir, m), "rb") as f:
                c.file("lib/modules/" + m, f.read())
        base = c.finish()
        self._write(self.initrd, base)
        a = _Cpio()
        dirs = set()
        for path in list(apps) + list(www_files):
            parts = path.strip("/").split("/")[:-1]
            for i in range(1, len(parts) + 1):
                dirs.add("/".join(parts[:i]))
        for d in sorted(dirs):
            a.dir(d)
        for path, host in apps.items():
            with open(host, "rb") as f:
                a.file(path.strip("/"), f.read(), 0o755)
        for path, data in www_files.items():
            a.file(path.strip("/"), data)
        self._write(self.initrd_apps, base + a.finish())
        self.modules = [os.path.basename(m)[:-3] for m in mods]
        return self

    @staticmethod
    def _write(path, data):
        with open(path + ".tmp", "wb") as f:
            f.write(gzip.compress(data, compresslevel=9, mtime=0))
        os.chmod(path + ".tmp", 0o644)
        os.rename(path + ".tmp", path)

    @staticmethod
    def cmdline(ip=None, gw=None, run=()):
        """run: argv lists of programs to start once the network is up."""
        c = "console=ttyS0 quiet panic=-1"
        if ip:
            c += " bench.ip=" + ip
        if gw:
            c += " bench.gw=" + gw
        for argv in run:
            c += " bench.run=" + ",".join(argv)
        return c
