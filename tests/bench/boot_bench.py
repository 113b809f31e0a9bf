#!/usr/bin/env python3
"""Boot benchmark: hello.img against a do-nothing PVH kernel, same VMM, same run.

  python3 tests/bench/boot_bench.py [--build build] [--runs 20] [--rng]

Prints, for the accelerator in use (UKD_ACCEL, default tcg):
  - whole QEMU process time (start to exit) for each, median and p90, and the
    ratio hello/floor (target: <= 1.2);
  - the guest's own first-instruction-to-application-entry time (debug=boot),
    median (target: well under 1 ms under KVM);
  - image sizes (target: hello.img < 512 KiB).
Runs alternate between the kernels so machine noise hits them alike.
--rng gives every VM a virtio-rng device (what ukd's libvirt domains get with
--rng on). With --health, hello also boots with its health channel on a null
chardev, over COM2 and over a virtio-console port (as under ukd), to show what
each channel costs at boot.
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
    ap.add_argument("--rng", action="store_true", help="add a virtio-rng device to every VM")
    ap.add_argument("--health", action="store_true", help="also hello+COM2 and hello+virtio")
    a = ap.parse_args()
    extra = guest.virtio_rng() if a.rng else ()
    hello = os.path.join(a.build, "images", "hello.img")
    floor = os.path.join(a.build, "tests", "bench", "floor.elf")
    times = {"floor": [], "hello": []}
    entry_us = []
    channels = {}
    if a.health:
        channels = {"hello+com2": ["-chardev", "null,id=health", "-serial", "chardev:health"],
                    "hello+virtio": guest.health_virtio(max_ports=4)}
    for k in channels:
        times[k] = []
    ch_entry = {k: [] for k in channels}
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
        for k, ch in channels.items():
            r = guest.boot(hello, "debug=boot", extra=list(extra) + list(ch))
            assert r.status == 0 and "Hello from ukd" in r.output, r
            assert ("virtio-console port 1" in r.output) == k.endswith("virtio"), r
            times[k].append(r.seconds)
            m = re.search(r"application entry: (\d+) us", r.output)
            ch_entry[k].append(int(m.group(1)))
    print("accelerator: %s, %d runs each%s" %
          (guest.accel(), a.runs, ", with virtio-rng" if a.rng else ""))
    for k in times:
        print("%-12s QEMU process: median %6.1f ms  p90 %6.1f ms" %
              (k, 1000 * statistics.median(times[k]), 1000 * pct(times[k], 90)))
    ratio = statistics.median(times["hello"]) / statistics.median(times["floor"])
    print("ratio hello/floor (median): %.2f  (target <= 1.20)" % ratio)
    print("guest first instruction -> application entry: median %d us, p90 %d us" %
          (statistics.median(entry_us), pct(entry_us, 90)))
    for k, v in ch_entry.items():
        print("  %-12s first instruction -> application entry: median %d us, p90 %d us" %
              (k, statistics.median(v), pct(v, 90)))
        print("  %-12s ratio to floor (median): %.2f" %
              (k, statistics.median(times[k]) / statistics.median(times["floor"])))
    size = os.path.getsize(hello)
    print("hello.img: %d bytes (%.0f KiB; target < 512 KiB)" % (size, size / 1024))


if __name__ == "__main__":
    main()
