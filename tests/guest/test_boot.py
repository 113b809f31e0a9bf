#!/usr/bin/env python3
"""Guest tests: boot real images under QEMU and check what a user would see.

Run one case:  test_boot.py Boot.test_hello_prints   (ctest does this per case)
List cases:    test_boot.py --list
Images come from UKD_IMAGES (build/images) and UKD_TEST_IMAGES (build/tests/guest).
"""
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guest  # noqa: E402

IMAGES = os.environ.get("UKD_IMAGES", "build/images")
TEST_IMAGES = os.environ.get("UKD_TEST_IMAGES", "build/tests/guest")
RUNTIME = os.environ.get("UKD_RUNTIME", "build/runtime/runtime-stripped.elf")


def hello():
    return os.path.join(IMAGES, "hello.img")


def probe():
    return os.path.join(TEST_IMAGES, "probe.img")


class GuestCase(unittest.TestCase):
    def boot(self, image, append="", extra=()):
        r = guest.boot(image, append, extra=extra)
        print("accelerator: %s; %s %r -> status %r in %.2fs" %
              (guest.accel(), os.path.basename(image), append, r.status, r.seconds))
        print(r.output)
        return r

    def assertCrash(self, r, signal, *patterns):
        self.assertEqual(r.status, 128 + signal, r)
        self.assertIn("=== crash:", r.output, r)
        self.assertEqual(r.output.count("=== crash:"), 1, "exactly one report")
        for p in patterns:
            self.assertRegex(r.output, p)


class Boot(GuestCase):
    def test_hello_prints(self):
        r = self.boot(hello())
        self.assertEqual(r.status, 0, r)
        self.assertIn("Hello from ukd\n", r.output)
        self.assertIn("argv[0] = hello\n", r.output)
        self.assertIn("GREETING = hi from the manifest\n", r.output)
        self.assertIn("exit status 0\n", r.output)

    def test_exit_status_and_args(self):
        r = self.boot(hello(), "-- 3 second")
        self.assertEqual(r.status, 3, r)
        self.assertIn("argv[1] = 3\nargv[2] = second\n", r.output)
        self.assertNotIn("argv[3]", r.output)

    def test_env_option_overrides_manifest(self):
        r = self.boot(hello(), 'env.GREETING="hello world" -- 0')
        self.assertEqual(r.status, 0, r)
        self.assertIn("GREETING = hello world\n", r.output)

    def test_unknown_option_reported(self):
        r = self.boot(hello(), "colour=blue")
        self.assertEqual(r.status, 0, r)
        self.assertIn("unknown option 'colour=blue'", r.output)

    def test_glibc_static_hello(self):
        r = self.boot(os.path.join(TEST_IMAGES, "hello-glibc.img"), "-- 5")
        self.assertEqual(r.status, 5, r)
        self.assertIn("Hello from ukd\n", r.output)
        self.assertIn("GREETING = glibc\n", r.output)

    def test_glibc_static_pie_hello(self):
        r = self.boot(os.path.join(TEST_IMAGES, "hello-glibc-pie.img"), "-- 6")
        self.assertEqual(r.status, 6, r)
        self.assertIn("Hello from ukd\n", r.output)

    def test_runtime_without_application(self):
        r = self.boot(RUNTIME)
        self.assertEqual(r.status, 127, r)
        self.assertIn("carries no application", r.output)

    def test_powers_off_by_itself(self):
        # No isa-debug-exit device: the runtime must end the VM through ACPI,
        # as it will under libvirt, and QEMU must exit cleanly.
        r = guest.boot(hello(), "-- 7", debug_exit=False, timeout=30)
        print(r)
        self.assertEqual(r.qemu_rc, 0, r)
        self.assertIn("exit status 7\n", r.output)

    def test_boot_timestamps(self):
        r = self.boot(hello(), "debug=boot")
        self.assertEqual(r.status, 0, r)
        self.assertRegex(r.output, r"boot: first instruction to application entry: \d+ us")


class Protection(GuestCase):
    def test_null_dereference(self):
        r = self.boot(probe(), "-- null")
        self.assertCrash(r, 11, r"page fault", r"fault address 0x0000000000000000",
                         r"at 0x[0-9a-f]+  null_deref\S*\+0x[0-9a-f]+ \(application\)",
                         r"#1 .*\(application\)")

    def test_write_into_code(self):
        r = self.boot(probe(), "-- codewrite")
        self.assertCrash(r, 11, r"write to a protected page, from user mode",
                         r"write_code\+0x")

    def test_read_runtime_memory(self):
        r = self.boot(probe(), "-- peek 0x100000")
        self.assertCrash(r, 11, r"fault address 0x0000000000100000: read of a protected page",
                         r"off-limits")
        self.assertNotIn("read ", r.output.split("probe peek")[1].split("===")[0])

    def test_write_runtime_data(self):
        # The runtime's data pages (page tables, stacks, the GDT) sit just above its code.
        r = self.boot(probe(), "-- poke 0x10c000")
        self.assertCrash(r, 11, r"write to a protected page", r"off-limits")

    def test_read_direct_map(self):
        r = self.boot(probe(), "-- peek 0xffff888000100000")
        self.assertCrash(r, 11, r"page fault")

    def test_runtime_fault_report(self):
        r = self.boot(hello(), "debug=crash")
        self.assertEqual(r.status, 255, r)
        self.assertRegex(r.output, r"=== crash: page fault .* in the runtime ===")
        self.assertRegex(r.output, r"at 0x[0-9a-f]+  crash_test\+0x[0-9a-f]+ \(runtime\)")
        self.assertRegex(r.output, r"#1 .* boot_main\+0x[0-9a-f]+ \(runtime\)")
        self.assertIn("runtime panic", r.output)

    def test_stack_smash_caught(self):
        r = self.boot(probe(), "-- smash")
        self.assertCrash(r, 11, r"__stack_chk_fail")
        self.assertNotIn("probe survived", r.output)

    def test_invalid_instruction(self):
        r = self.boot(probe(), "-- ud")
        self.assertCrash(r, 4, r"invalid opcode", r"main\+0x")

    def test_pie_base_and_at_random_differ(self):
        seen = []
        for _ in range(2):
            r = self.boot(probe(), "-- random")
            self.assertEqual(r.status, 0, r)
            base = re.search(r"main at (0x[0-9a-f]+)", r.output).group(1)
            rnd = re.search(r"AT_RANDOM ([0-9a-f]{32})", r.output).group(1)
            seen.append((base, rnd))
        self.assertNotEqual(seen[0][0], seen[1][0], "PIE base must be random")
        self.assertNotEqual(seen[0][1], seen[1][1], "AT_RANDOM must differ")

    def test_virtio_rng_feeds_getrandom(self):
        # Without RDRAND, virtio-rng is the guest's only real entropy.
        seen = []
        for _ in range(2):
            r = self.boot(probe(), "-- random", extra=guest.virtio_rng(rdrand=False))
            self.assertEqual(r.status, 0, r)
            self.assertIn("runtime: virtio-rng, 64 bytes of entropy at boot\n", r.output)
            rnd = re.search(r"AT_RANDOM ([0-9a-f]{32})", r.output).group(1)
            got = re.search(r"getrandom ([0-9a-f]{64})", r.output).group(1)
            self.assertNotEqual(got, "0" * 64)
            seen.append((rnd, got))
        self.assertNotEqual(seen[0][0], seen[1][0], "AT_RANDOM must differ across boots")
        self.assertNotEqual(seen[0][1], seen[1][1], "getrandom must differ across boots")

    def test_virtio_rng_starts_after_boot_with_rdrand(self):
        # With RDRAND the pool is sound at once: the device joins after boot, which
        # does not wait for it; its bytes reach a later getrandom.
        r = self.boot(probe(), "debug=boot -- random 1500", extra=guest.virtio_rng())
        self.assertEqual(r.status, 0, r)
        self.assertIn("runtime: virtio-rng, starts after boot", r.output)
        self.assertRegex(r.output, r"getrandom [0-9a-f]{64}\n")
        n = int(re.search(r"runtime: virtio-rng: (\d+) bytes of entropy mixed in", r.output)
                .group(1))
        self.assertGreaterEqual(n, 64, r)

    def test_no_virtio_rng_without_the_device(self):
        r = self.boot(probe(), "-- random")
        self.assertEqual(r.status, 0, r)
        self.assertNotIn("virtio-rng", r.output)


class Syscalls(GuestCase):
    def test_memory_and_sse(self):
        r = self.boot(probe(), "-- memory")
        self.assertEqual(r.status, 0, r)
        self.assertIn("float 2.500\n", r.output)
        self.assertIn("memory ok\n", r.output)

    def test_unknown_syscall_enosys_named_once(self):
        r = self.boot(probe(), "-- enosys")
        self.assertEqual(r.status, 0, r)
        self.assertEqual(r.output.count("syscall 100 -> -1 errno 38"), 2, r)
        self.assertEqual(r.output.count("syscall times (100) is not implemented"), 1, r)


def cases():
    loader = unittest.TestLoader()
    for cls in (Boot, Protection, Syscalls):
        for name in loader.getTestCaseNames(cls):
            yield "%s.%s" % (cls.__name__, name)


if __name__ == "__main__":
    if sys.argv[1:] == ["--list"]:
        print("\n".join(cases()))
        sys.exit(0)
    unittest.main(verbosity=2)
