#!/usr/bin/env python3
"""Boot benchmark: hello.img against a do-nothing PVH kernel, same VMM, same run.

  python3 tests/bench/boot_bench.py [--build build] [--runs 20] [--rng]

Prints, for the accelerator in use (UKD_ACCEL, default tcg):
  - whole QEMU process time (start to exit) for each, median and p90, and the
    ratio hello/floor (target: <= 1.2);
  - the guest's own first-instruction-to-application-entry time (debug=boot),
    median (target: well under 1 ms under KVM);
  - image sizes (target: hello.img < 512 KiB).
Runs alternate between the two kernels so machine noise hits both alike.
--rng gives both VMs a virtio-rng device, as ukd's libvirt domains have.
"""
import argparse
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "guest"))
import guest  # noqa: E402


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--rng", action="store_true", help="add a virtio-rng device to both VMs")
    a = ap.parse_args()
    extra = guest.virtio_rng() if a.rng else ()
    hello = os.path.join(a.build, "images", "hello.img")
    floor = os.path.join(a.build, "tests", "bench", "floor.elf")
    times = {"floor": [], "hello": []}
    entry_us = []
    guest.boot(floor, extra=extra)  # warm the page cache and QEMU's own start-up files
    guest.boot(hello, extra=extra)
    for _ in range(a.runs):
        r = guest.boot(floor, extra=extra)
        assert r.status == 0, r
        times["floor"].append(r.seconds)
        r = guest.boot(hello, "debug=boot", extra=extra)
        assert r.status == 0 and "Hello from ukd" in r.output, r
        times["hello"].append(r.seconds)
        m = re.search(r"application entry: (\d+) us", r.output)
        entry_us.append(int(m.group(1)))
    print("accelerator: %s, %d runs each%s" %
          (guest.accel(), a.runs, ", with virtio-rng" if a.rng else ""))
    for k in ("floor", "hello"):
        print("%-6s QEMU process: median %6.1f ms  p90 %6.1f ms" %
              (k, 1000 * statistics.median(times[k]), 1000 * pct(times[k], 90)))
    ratio = statistics.median(times["hello"]) / statistics.median(times["floor"])
    print("ratio hello/floor (median): %.2f  (target <= 1.20)" % ratio)
    print("guest first instruction -> application entry: median %d us, p90 %d us" %
          (statistics.median(entry_us), pct(entry_us, 90)))
    size = os.path.getsize(hello)
    print("hello.img: %d bytes (%.0f KiB; target < 512 KiB)" % (size, size / 1024))


if __name__ == "__main__":
    main()
