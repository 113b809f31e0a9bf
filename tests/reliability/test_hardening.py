#!/usr/bin/env python3
"""Guest hardening (docs/guarantees.md, "Guest hardening"):

- every image the build makes (example images, test and benchmark images)
  and the application inside it has no segment both writable and executable,
  and the application asks for a non-executable stack (readelf -lW);
- in a booted guest, executing the stack or the heap faults (NX); writing to
  text and reading page 0 are tests/guest/test_boot.py's Protection cases;
- the PIE base, AT_RANDOM and the stack-protector canary differ across
  BOOTS boots of the same image.

Environment: UKD_BUILD (the build directory), UKD_TEST_IMAGES (build/tests/guest).
Run one case: test_hardening.py CASE; list them: test_hardening.py --list.
Long form: UKD_HARDENING_BOOTS=200 test_hardening.py randomness_across_boots
"""
import os
import re
import subprocess
import sys
import tempfile
import unittest
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "guest"))
import guest  # noqa: E402

BUILD = os.environ.get("UKD_BUILD", "build")
TEST_IMAGES = os.environ.get("UKD_TEST_IMAGES", os.path.join(BUILD, "tests", "guest"))
BOOTS = int(os.environ.get("UKD_HARDENING_BOOTS", "20"))
# Two guests at a time: the machine's two cores, shared with whatever else ctest runs.
PARALLEL = 2


def probe():
    return os.path.join(TEST_IMAGES, "probe.img")


def images():
    found = []
    for d, _, files in os.walk(BUILD):
        found += [os.path.join(d, f) for f in files if f.endswith(".img")]
    return sorted(found)


def segments(path):
    """readelf -lW's program headers: [(type, flags)], flags a set of 'R', 'W', 'E'."""
    out = subprocess.run(["readelf", "-lW", path], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, check=True).stdout
    segs = []
    for line in out.splitlines():
        m = re.match(r"\s+([A-Z_]+)\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+"
                     r"0x[0-9a-f]+\s+([RWE ]+?)\s+0x[0-9a-f]+$", line)
        if m:
            segs.append((m.group(1), set(m.group(2).replace(" ", ""))))
    return segs


def app_of(image, out):
    """Writes the application ELF packed in image (its .uk.app section) to out."""
    sh = subprocess.run(["readelf", "-SW", image], stdout=subprocess.PIPE, text=True,
                        check=True).stdout
    m = re.search(r"\]\s+\.uk\.app\s+\S+\s+[0-9a-f]+\s+([0-9a-f]+)\s+([0-9a-f]+)", sh)
    if not m:
        return False
    off, size = int(m.group(1), 16), int(m.group(2), 16)
    with open(image, "rb") as f:
        f.seek(off)
        data = f.read(size)
    with open(out, "wb") as f:
        f.write(data)
    return data[:4] == b"\x7fELF"


class Hardening(unittest.TestCase):
    def test_no_writable_executable_segment(self):
        """No image, and no application inside one, maps a page both writable and executable."""
        imgs = images()
        self.assertGreater(len(imgs), 5, "no images under %s: build first" % BUILD)
        bad = []
        with tempfile.TemporaryDirectory() as tmp:
            for img in imgs:
                app = os.path.join(tmp, "app")
                if not app_of(img, app):
                    bad.append("%s: no application ELF in .uk.app" % img)
                    continue
                for what, path in (("image", img), ("application", app)):
                    for typ, flags in segments(path):
                        if typ == "LOAD" and {"W", "E"} <= flags:
                            bad.append("%s (%s): a writable and executable segment" %
                                       (img, what))
                stacks = [flags for typ, flags in segments(app) if typ == "GNU_STACK"]
                # Without PT_GNU_STACK, Linux would give the program an executable stack.
                if len(stacks) != 1 or "E" in stacks[0]:
                    bad.append("%s: the application does not ask for a non-executable stack "
                               "(PT_GNU_STACK %s)" % (img, stacks))
        print("%d images checked" % len(imgs))
        self.assertEqual(bad, [])

    def boot(self, append):
        r = guest.boot(probe(), append)
        print("accelerator: %s; probe %r -> status %r in %.2fs" %
              (guest.accel(), append, r.status, r.seconds))
        return r

    def assert_nx_fault(self, r):
        self.assertEqual(r.status, 128 + 11, r)
        self.assertEqual(r.output.count("=== crash:"), 1, r)
        data = re.search(r"calling data at (0x[0-9a-f]+)", r.output).group(1)
        # The fetch itself faults, at the very byte the probe wrote...
        self.assertRegex(r.output, r"fault address 0x0*%s: instruction fetch from a protected "
                         r"page, from user mode" % data[2:], r)
        # ...and the report does not pass that address off as some function of the program.
        self.assertRegex(r.output, r"\nat 0x0*%s  \? \(application\)" % data[2:], r)
        self.assertNotIn("probe survived", r.output)

    def test_execute_stack_faults(self):
        r = self.boot("-- execstack")
        print(r.output)
        self.assert_nx_fault(r)

    def test_execute_heap_faults(self):
        r = self.boot("-- execheap")
        print(r.output)
        self.assert_nx_fault(r)

    def test_randomness_across_boots(self):
        """PIE base, AT_RANDOM and the stack canary: all different in each of BOOTS boots."""
        with ThreadPoolExecutor(PARALLEL) as pool:
            results = list(pool.map(lambda _: self.boot("-- random"), range(BOOTS)))
        bases, randoms, canaries = [], [], []
        for r in results:
            self.assertEqual(r.status, 0, r)
            bases.append(re.search(r"main at (0x[0-9a-f]+)", r.output).group(1))
            randoms.append(re.search(r"AT_RANDOM ([0-9a-f]{32})", r.output).group(1))
            canaries.append(re.search(r"canary ([0-9a-f]{16})", r.output).group(1))
        print("bases %s\ncanaries %s" % (bases, canaries))
        # 28 bits of page-granular base (runtime/loader.c): a repeat in 20 boots has
        # odds of about 1 in 1.4 million; the 64-bit values must never repeat.
        self.assertEqual(len(set(bases)), BOOTS, bases)
        self.assertEqual(len(set(randoms)), BOOTS, randoms)
        self.assertEqual(len(set(canaries)), BOOTS, canaries)
        # A canary whose bytes are all zero, or that is not derived per boot, is no canary.
        self.assertNotIn("0" * 16, canaries)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--list":
        for name in unittest.defaultTestLoader.getTestCaseNames(Hardening):
            print(name[len("test_"):])
        sys.exit(0)
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        sys.argv[1] = "Hardening.test_" + sys.argv[1]
    unittest.main(verbosity=2)
