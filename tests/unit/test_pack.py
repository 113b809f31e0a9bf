#!/usr/bin/env python3
"""Tests for `ukd pack`: what it refuses, and what a good image contains.

Usage:
  python3 tests/unit/test_pack.py --ukd PATH_TO_UKD --runtime PATH_TO_RUNTIME_ELF \
      --musl-app PATH_TO_STATIC_APP [unittest options]

Every refusal must exit non-zero, name the problem on stderr and leave no
output (or temporary) file behind. Standard library only.
"""

import argparse
import os
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import unittest

UKD = RUNTIME = MUSL_APP = None

PT_LOAD, PT_NOTE = 1, 4
UKIMG_APP, UKIMG_MANIFEST, UKIMG_FILE = 1, 2, 3
HEADER = struct.Struct("<8sIIQ")  # struct ukimg_header
ENTRY = struct.Struct("<IIQQ112s")  # struct ukimg_entry
PHDR = struct.Struct("<IIQQQQQQ")  # Elf64_Phdr


def read(path):
    with open(path, "rb") as f:
        return f.read()


def phdrs(elf):
    """The program headers of an ELF64 little-endian file, as tuples."""
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    assert phentsize == PHDR.size, phentsize
    return [PHDR.unpack_from(elf, phoff + i * PHDR.size) for i in range(phnum)]


def payload(img):
    """The payload bytes: the file range of the last PT_LOAD."""
    loads = [p for p in phdrs(img) if p[0] == PT_LOAD]
    _, _, off, _, _, filesz, _, _ = loads[-1]
    return img[off:off + filesz]


def entries(pl):
    """(header fields, [entry fields...]) of a payload."""
    hdr = HEADER.unpack_from(pl, 0)
    ents = [ENTRY.unpack_from(pl, HEADER.size + i * ENTRY.size) for i in range(hdr[2])]
    return hdr, ents


class PackTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="test_pack.")
        self.out = os.path.join(self.dir, "out.img")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, data):
        with open(self.path(name), "wb") as f:
            f.write(data)
        return self.path(name)

    def pack(self, app, *extra):
        cmd = [UKD, "pack", app, "-o", self.out, "--runtime", RUNTIME, *extra]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60)

    def patched_app(self, name, offset, value):
        data = bytearray(read(MUSL_APP))
        data[offset:offset + len(value)] = value
        return self.write(name, bytes(data))

    def assertRefused(self, app, pattern, *extra):
        """Non-zero exit, pattern and app name in the message, nothing left behind."""
        before = set(os.listdir(self.dir))
        r = self.pack(app, *extra)
        self.assertNotEqual(r.returncode, 0, "packer accepted it: " + r.stderr)
        self.assertRegex(r.stderr, pattern)
        self.assertTrue(r.stderr.startswith("ukd pack: "), r.stderr)
        self.assertEqual(r.stderr.count("\n"), 1, "not one line: " + r.stderr)
        self.assertFalse(os.path.exists(self.out), "output file left behind")
        self.assertEqual(set(os.listdir(self.dir)), before, "temporary file left behind")
        return r

    # -- refusals ---------------------------------------------------------

    def test_dynamic_elf(self):
        gcc = shutil.which("gcc")
        if not gcc:
            self.skipTest("gcc not installed")
        src = self.write("dyn.c", b"int main(void) { return 0; }\n")
        subprocess.run([gcc, "-o", self.path("dyn"), src], check=True, timeout=120)
        r = self.assertRefused(self.path("dyn"), r"dynamically linked")
        self.assertIn("dyn:", r.stderr)

    def test_32bit_elf(self):
        app = self.patched_app("elf32", 4, b"\x01")  # EI_CLASS = ELFCLASS32
        r = self.assertRefused(app, r"64-bit")
        self.assertIn("elf32:", r.stderr)

    def test_wrong_machine(self):
        app = self.patched_app("arm64", 0x12, struct.pack("<H", 183))  # EM_AARCH64
        r = self.assertRefused(app, r"x86-64")
        self.assertIn("arm64:", r.stderr)

    def test_truncated_elf(self):
        app = self.write("trunc", read(MUSL_APP)[:100])
        r = self.assertRefused(app, r"truncated")
        self.assertIn("trunc:", r.stderr)

    def test_text_file(self):
        app = self.write("notes.txt", b"just some text, not a program\n")
        self.assertRefused(app, r"notes\.txt: not an ELF file")

    def test_long_text_file(self):
        app = self.write("long.txt", b"not a program\n" * 100)
        self.assertRefused(app, r"long\.txt: not an ELF file")

    def test_missing_file(self):
        self.assertRefused(self.path("missing.elf"), r"missing\.elf: No such file")

    def test_empty_file(self):
        app = self.write("empty.elf", b"")
        self.assertRefused(app, r"empty\.elf: empty file")

    def test_directory(self):
        os.mkdir(self.path("adir"))
        self.assertRefused(self.path("adir"), r"adir: not a regular file")

    def test_env_without_equals(self):
        self.assertRefused(MUSL_APP, r'env "NOVALUE"', "--env", "NOVALUE")

    def test_guest_path_dotdot(self):
        host = self.write("f.txt", b"x")
        self.assertRefused(MUSL_APP, r'contains "\.\."', "--file", host + ":/etc/../x")

    def test_guest_path_relative(self):
        host = self.write("f.txt", b"x")
        self.assertRefused(MUSL_APP, r"not absolute", "--file", host + ":etc/x")

    def test_name_too_long(self):
        self.assertRefused(MUSL_APP, r"too long", "--name", "n" * 112)

    # -- a good image -----------------------------------------------------

    def test_good_pack(self):
        host = self.write("motd.txt", b"hello from the host\n")
        os.chmod(host, 0o640)
        r = self.pack(MUSL_APP, "--name", "hello-img", "--mem", "32",
                      "--env", "GREETING=hi", "--env", "EMPTY=",
                      "--file", host + ":/etc/motd", "--", "--loud", "a b")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(os.listdir(self.dir)), ["motd.txt", "out.img"])
        self.assertEqual(stat.S_IMODE(os.stat(self.out).st_mode), 0o644)

        img, rt, app = read(self.out), read(RUNTIME), read(MUSL_APP)
        # The runtime is copied verbatim after its (patched) ELF header.
        self.assertEqual(img[64:len(rt)], rt[64:])
        ph = phdrs(img)
        self.assertEqual(len(ph), len(phdrs(rt)) + 1)
        self.assertIn(PT_NOTE, [p[0] for p in ph], "runtime's PT_NOTE lost")
        last = [p for p in ph if p[0] == PT_LOAD][-1]
        self.assertEqual(last[2] % 4096, 0)
        self.assertEqual(last[3], last[4])  # vaddr == paddr

        pl = payload(img)
        (magic, version, nentries, size), ents = entries(pl)
        self.assertEqual(magic, b"UKIMAGE\0")
        self.assertEqual(version, 1)
        self.assertEqual(size, len(pl))
        for _, _, off, esize, _ in ents:
            self.assertLessEqual(off + esize, len(pl), "entry outside the payload")

        by_type = {}
        for e in ents:
            by_type.setdefault(e[0], []).append(e)
        man = by_type[UKIMG_MANIFEST][0]
        strings = pl[man[2]:man[2] + man[3]].split(b"\0")
        self.assertEqual(strings[-1], b"", "manifest not NUL-terminated")
        self.assertEqual(strings[:-1], [
            b"name=hello-img", b"mem=32", b"app=" + os.path.basename(MUSL_APP).encode(),
            b"arg=--loud", b"arg=a b", b"env=GREETING=hi", b"env=EMPTY="])

        appent = by_type[UKIMG_APP][0]
        self.assertEqual(appent[2] % 4096, 0, "app not 4 KiB aligned")
        self.assertEqual(pl[appent[2]:appent[2] + appent[3]], app)

        f = by_type[UKIMG_FILE][0]
        self.assertEqual(f[1], 0o640)
        self.assertEqual(f[4].rstrip(b"\0"), b"/etc/motd")
        self.assertEqual(pl[f[2]:f[2] + f[3]], b"hello from the host\n")

    def test_defaults(self):
        r = self.pack(MUSL_APP)
        self.assertEqual(r.returncode, 0, r.stderr)
        pl = payload(read(self.out))
        _, ents = entries(pl)
        man = [e for e in ents if e[0] == UKIMG_MANIFEST][0]
        strings = pl[man[2]:man[2] + man[3]].split(b"\0")
        base = os.path.basename(MUSL_APP).encode()
        self.assertEqual(strings[:3], [b"name=" + base, b"mem=64", b"app=" + base])

    def test_replaces_existing_output(self):
        self.write("out.img", b"old image")
        r = self.pack(MUSL_APP)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(payload(read(self.out))[:8], b"UKIMAGE\0")
        self.assertEqual(os.listdir(self.dir), ["out.img"])


def main():
    global UKD, RUNTIME, MUSL_APP
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ukd", required=True, help="the ukd binary")
    ap.add_argument("--runtime", required=True, help="runtime ELF passed as --runtime")
    ap.add_argument("--musl-app", required=True, help="a static x86-64 program")
    args, rest = ap.parse_known_args()
    UKD = os.path.abspath(args.ukd)
    RUNTIME = os.path.abspath(args.runtime)
    MUSL_APP = os.path.abspath(args.musl_app)

    prog = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2)
    res = prog.result
    failed = len(res.failures) + len(res.errors)
    skipped = len(res.skipped)
    print("test_pack: %d run, %d passed, %d failed, %d skipped" %
          (res.testsRun, res.testsRun - failed - skipped, failed, skipped))
    sys.exit(0 if res.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
