#!/usr/bin/env python3
"""Golden-file tests of ukctl's human output: each golden/NAME.json (the API's
JSON, a fixed "now", colour on or off) is rendered by `ukctl __render-test`
and must equal golden/NAME.out byte for byte: column widths, truncation of
long names, relative times, sizes, colours, empty lists.

Environment: UKCTL (the binary). UKCTL_UPDATE_GOLDEN=1 rewrites the .out files
(then read the diff before committing it).
Run one case: test_golden.py NAME; list them: test_golden.py --list.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "golden")
UKCTL = os.environ.get("UKCTL", "build/bin/ukctl")


def cases():
    return sorted(f[:-5] for f in os.listdir(GOLDEN) if f.endswith(".json"))


def check(name):
    p = subprocess.run([UKCTL, "__render-test", os.path.join(GOLDEN, name + ".json")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    if p.returncode != 0:
        print("ukctl failed (%d): %s" % (p.returncode, p.stderr.decode()))
        return 1
    out_path = os.path.join(GOLDEN, name + ".out")
    if os.environ.get("UKCTL_UPDATE_GOLDEN"):
        with open(out_path, "wb") as f:
            f.write(p.stdout)
        print("updated", out_path)
        return 0
    with open(out_path, "rb") as f:
        want = f.read()
    if p.stdout != want:
        print("%s: rendering differs from %s" % (name, out_path))
        print("--- want\n%s--- got\n%s---" % (want.decode(errors="replace"),
                                              p.stdout.decode(errors="replace")))
        return 1
    # Tables never end lines in blanks (they would be noise in every diff).
    for line in p.stdout.decode().splitlines():
        if line != line.rstrip(" "):
            print("%s: trailing blanks in %r" % (name, line))
            return 1
    print("%s: ok" % name)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--list":
        print("\n".join(cases()))
        sys.exit(0)
    names = sys.argv[1:] or cases()
    sys.exit(max(check(n) for n in names))
