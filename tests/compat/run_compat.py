#!/usr/bin/env python3
"""Differential compatibility suite: each program in tests/compat/progs runs as
a normal Linux process and as a unikernel (under QEMU; TCG on machines whose
KVM cannot run guest ring 0), and the two outputs and exit statuses must match.

  run_compat.py --build build NAME...     # some programs
  run_compat.py --build build --all       # all; prints "N passed, N failed"

Programs print only deterministic text. The unikernel's console also carries
runtime lines ("runtime: ...", "killed by signal N") and the final "exit status N"; those are taken
out before the comparison, and N is compared with the native exit status.
"""
import argparse
import difflib
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "guest"))
import guest  # noqa: E402


def native(binary, timeout):
    p = subprocess.run([binary], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout, env={"PATH": "/usr/bin:/bin"})
    status = p.returncode if p.returncode >= 0 else 128 - p.returncode
    return status, p.stdout.decode("utf-8", "replace")


def unikernel(image, timeout):
    r = guest.boot(image, timeout=timeout)
    lines = [l for l in r.output.split("\n")
             if not l.startswith("runtime: ") and not l.startswith("killed by signal ")]
    out = "\n".join(lines)
    out = re.sub(r"exit status \d+\n?$", "", out)
    return r.status, out


def check(build, name, timeout=120):
    d = os.path.join(build, "tests", "compat")
    variants = [(name, os.path.join(d, name), os.path.join(d, name + ".img"))]
    glibc = os.path.join(d, "glibc", name)
    with open(os.path.join(HERE, "progs", name + ".c")) as f:
        wants_glibc = "// compat: glibc" in f.read()
    if wants_glibc:
        variants.append((name + " (glibc)", glibc, os.path.join(d, name + "-glibc.img")))
    ok = True
    for label, binary, image in variants:
        n_status, n_out = native(binary, timeout)
        u_status, u_out = unikernel(image, timeout)
        same = n_status == u_status and n_out == u_out
        print("%-28s %s  (native status %s, unikernel status %s, accelerator %s)" %
              (label, "ok  " if same else "FAIL", n_status, u_status, guest.accel()))
        if not same:
            ok = False
            sys.stdout.writelines(difflib.unified_diff(
                n_out.splitlines(True), u_out.splitlines(True), "native", "unikernel"))
            print()
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--all", action="store_true")
    ap.add_argument("names", nargs="*")
    a = ap.parse_args()
    names = a.names
    if a.all:
        names = sorted(f[:-2] for f in os.listdir(os.path.join(HERE, "progs")) if f.endswith(".c"))
    passed = failed = 0
    for n in names:
        if check(a.build, n):
            passed += 1
        else:
            failed += 1
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed or not names else 0)


if __name__ == "__main__":
    main()
