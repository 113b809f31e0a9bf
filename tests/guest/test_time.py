#!/usr/bin/env python3
"""Guest clock tests: the TSC frequency the runtime measures against the PIT
must not depend on how busy the host is, and a guest sleep must last what it
asked for, as seen from the host.

The host is loaded on purpose while the guests run: the test starts
LOAD_PROCS busy-loop processes (each ends by itself after LOAD_SECONDS, and
is killed by PID when the test is done), so the vCPU thread is descheduled
now and then, which is what made the 2 ms calibration window wrong by up to
4x before its ends were bracketed (runtime/time.c).

Run one case:  test_time.py Clock.test_tsc_frequency_stable_under_load
List cases:    test_time.py --list
Images come from UKD_IMAGES (build/images) and UKD_TEST_IMAGES (build/tests/guest).
"""
import contextlib
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guest  # noqa: E402

IMAGES = os.environ.get("UKD_IMAGES", "build/images")
TEST_IMAGES = os.environ.get("UKD_TEST_IMAGES", "build/tests/guest")

LOAD_PROCS = 2        # as many as this machine has cores
LOAD_SECONDS = 90     # the most a load process lives, whatever happens to the test
BOOTS = 6
MAX_SPREAD = 0.03     # (max - min) / median of the measured TSC frequencies


@contextlib.contextmanager
def host_load(procs=LOAD_PROCS, seconds=LOAD_SECONDS):
    """Busy-loop processes for the duration of the block (bounded in time by themselves too)."""
    loop = "import time\nend = time.monotonic() + %d\nwhile time.monotonic() < end:\n    pass\n"
    ps = [subprocess.Popen([sys.executable, "-c", loop % seconds]) for _ in range(procs)]
    try:
        yield
    finally:
        for p in ps:
            p.kill()
            p.wait()


def boot_timed(image, append, timeout=60):
    """Boots image; returns [(host seconds since QEMU started, console line)], and QEMU's exit code.

    The console is read by a thread at real-time priority where the test may
    set one (root): on a loaded host a normal reader is itself descheduled
    and would see lines late, which is the kind of error being measured."""
    t0 = time.monotonic()
    p = subprocess.Popen(guest.qemu_argv(image, append), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = []

    def read():
        with contextlib.suppress(OSError):
            os.sched_setscheduler(threading.get_native_id(), os.SCHED_FIFO, os.sched_param(1))
        for raw in iter(p.stdout.readline, b""):
            lines.append((time.monotonic() - t0,
                          raw.decode("utf-8", "replace").replace("\r", "").rstrip("\n")))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        rc = p.wait(timeout=timeout)
    finally:
        p.kill()
        rc = p.wait()
        reader.join()
        p.stdout.close()
    return lines, rc


def tsc_khz(output):
    m = re.search(r"^boot: TSC (\d+) kHz, from (\S+)(.*)$", output, re.M)
    return (int(m.group(1)), m.group(2) + m.group(3)) if m else (None, None)


class Clock(unittest.TestCase):
    def test_tsc_frequency_stable_under_load(self):
        khz = []
        with host_load():
            for _ in range(BOOTS):
                r = guest.boot(os.path.join(IMAGES, "hello.img"), "debug=boot")
                f, source = tsc_khz(r.output)
                print("accelerator: %s; TSC %s kHz from %s (boot %.2fs)" %
                      (guest.accel(), f, source, r.seconds))
                self.assertEqual(r.status, 0, r)
                self.assertIsNotNone(f, r)
                khz.append(f)
        med = statistics.median(khz)
        spread = (max(khz) - min(khz)) / med
        print("TSC kHz over %d boots under load: min %d median %d max %d, spread %.2f%%" %
              (BOOTS, min(khz), med, max(khz), 100 * spread))
        self.assertLessEqual(spread, MAX_SPREAD, khz)

    def test_nanosleep_one_second_under_load(self):
        # probe prints "probe random", sleeps 1000 ms (usleep: nanosleep), then
        # prints "main at ...": the host times the gap between the two lines.
        gaps = []
        with host_load():
            for _ in range(2):
                lines, rc = boot_timed(os.path.join(TEST_IMAGES, "probe.img"),
                                       "debug=boot -- random 1000")
                text = "\n".join(t for _, t in lines)
                print("accelerator: %s; qemu rc %d; console:\n%s" % (guest.accel(), rc, text))
                at = {t.split(" ")[0] + " " + t.split(" ")[1]: s for s, t in lines
                      if t.startswith(("probe random", "main at"))}
                self.assertIn("probe random", at, text)
                self.assertIn("main at", at, text)
                gaps.append(at["main at"] - at["probe random"])
                print("TSC %s kHz from %s; 1 s sleep took %.3f s on the host" %
                      (tsc_khz(text) + (gaps[-1],)))
        # Never shorter; longer only by what a loaded host's scheduling adds
        # (a TSC calibrated 2x off, as before, makes it 0.5 s or 2 s).
        for g in gaps:
            self.assertGreaterEqual(g, 0.97, gaps)
            self.assertLessEqual(g, 1.3, gaps)


def cases():
    loader = unittest.TestLoader()
    for name in loader.getTestCaseNames(Clock):
        yield "Clock.%s" % name


if __name__ == "__main__":
    if sys.argv[1:] == ["--list"]:
        print("\n".join(cases()))
        sys.exit(0)
    unittest.main(verbosity=2)
