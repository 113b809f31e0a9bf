#!/usr/bin/env python3
"""Runtime benchmark: syscall round trip and thread switch cost, unikernel vs
the same binary as a native Linux process, in one run; and the host CPU an
idle unikernel costs.

  python3 tests/bench/runtime_bench.py [--build build] [--idle-seconds 60]

The unikernel runs under UKD_ACCEL (default tcg on these machines: their KVM
cannot run guest ring 0). Ratios > 1 mean the unikernel is slower.
"""
import argparse
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "guest"))
import guest  # noqa: E402


def parse(text):
    return {k: float(v) for k, v in re.findall(r"^(\w+_ns) ([\d.]+)$", text, re.M)}


def cpu_seconds(pid):
    """User + system CPU time of process pid (all its threads), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cpu(image, seconds):
    """Boots a guest that sleeps, and measures the QEMU process's CPU time while it idles."""
    p = subprocess.Popen(guest.qemu_argv(image, "-- idle"), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        time.sleep(3)  # boot and settle
        c0, t0 = cpu_seconds(p.pid), time.monotonic()
        time.sleep(seconds)
        return (cpu_seconds(p.pid) - c0) / (time.monotonic() - t0)
    finally:
        p.kill()
        p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--idle-seconds", type=float, default=60)
    a = ap.parse_args()
    d = os.path.join(a.build, "tests", "bench")
    native = parse(subprocess.run([os.path.join(d, "syscall_cost")], stdout=subprocess.PIPE,
                                  text=True, check=True).stdout)
    r = guest.boot(os.path.join(d, "syscall_cost.img"), timeout=600)
    uni = parse(r.output)
    print("accelerator: %s" % guest.accel())
    for k in sorted(native):
        print("%-18s native %8.1f ns  unikernel %8.1f ns  ratio %.2f" %
              (k, native[k], uni.get(k, float("nan")), uni.get(k, float("nan")) / native[k]))
    frac = idle_cpu(os.path.join(d, "idle.img"), a.idle_seconds)
    print("idle unikernel over %.0f s: %.3f%% of one host core" % (a.idle_seconds, 100 * frac))


if __name__ == "__main__":
    main()
