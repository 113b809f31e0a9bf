#!/usr/bin/env python3
"""Health channel benchmark: how long a host->guest shutdown takes to act, over
COM2 (polled) and over the virtio-console port (interrupt-driven), in one run.

  python3 tests/bench/health_bench.py [--build build] [--runs 5]

For each channel and each application (health_app "term": sleeps until
SIGTERM; "spin": busy in a loop until SIGTERM), with heartbeats at the default
1 s: boot, wait for the hello and a random part of a heartbeat interval, send
`shutdown`, and time until the guest's exit frame arrives (SIGTERM handler
run, exit 0). Also the guest's own first-instruction-to-main time from the
hello, per channel. Prints medians and maxima. UKD_ACCEL as for every guest
test (default tcg).
"""
import argparse
import os
import random
import statistics
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "guest"))
import guest  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    os.environ.setdefault("UKD_IMAGES", os.path.join(a.build, "images"))
    os.environ.setdefault("UKD_TEST_IMAGES", os.path.join(a.build, "tests", "guest"))
    import test_health as th  # after the environment: it reads the image paths

    rnd = random.Random(1)
    lat = {}
    boot = {"com2": [], "virtio": []}
    for _ in range(a.runs):
        for mode in ("term", "spin"):
            for tr in ("com2", "virtio"):
                g = th.Guest(th.app_img(), "uk.heartbeat=1000 -- " + mode, tr)
                try:
                    h = g.wait_for(th.HELLO)
                    boot[tr].append((h["main_ns"] - h["first_ns"]) / 1e6)
                    g.pump(0.2 + rnd.random())
                    t0 = time.monotonic()
                    g.send(th.frame(th.SHUTDOWN, struct.pack("<I", 10000)))
                    e = g.wait_for(th.EXIT, timeout=15)
                    took = time.monotonic() - t0
                    assert (e["status"], e["reason"]) == (0, "normal"), e
                    lat.setdefault((tr, mode), []).append(took * 1000)
                    g.proc.wait(timeout=15)
                finally:
                    g.close()
    print("accelerator: %s, %d runs each, heartbeats every 1000 ms" % (guest.accel(), a.runs))
    for (tr, mode), v in sorted(lat.items()):
        print("shutdown -> exit frame, %-6s %-5s app: median %7.1f ms  max %7.1f ms" %
              (tr, mode, statistics.median(v), max(v)))
    for tr, v in boot.items():
        print("first instruction -> main, %-6s: median %6.1f ms" % (tr, statistics.median(v)))


if __name__ == "__main__":
    main()
