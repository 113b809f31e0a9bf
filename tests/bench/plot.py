#!/usr/bin/env python3
"""Plots a bench-results.json (tests/bench/run) with gnuplot into one PNG:
boot-to-ready latency distribution (raw QEMU and libvirt) and host memory vs
instance count, ours against the Linux guest (and the floor kernel).

  python3 tests/bench/plot.py bench-results.json docs/performance.png
"""
import json
import re
import subprocess
import sys


def cdf_block(name, values):
    v = sorted(values)
    lines = ["%g 0" % v[0]] + ["%g %g" % (x, (i + 1) / len(v)) for i, x in enumerate(v)]
    return "$%s << EOD\n%s\nEOD\n" % (name, "\n".join(lines))


def main():
    src, png = sys.argv[1], sys.argv[2]
    with open(src) as f:
        res = json.load(f)
    rows = res["metrics"]
    boot = {}
    for r in rows:
        m = re.match(r"boot to ready, (raw QEMU|libvirt): hello vs (floor|linux)", r["name"])
        if r["metric"] == "2" and m:
            path = "raw" if m.group(1) == "raw QEMU" else "libvirt"
            boot[(path, "ukd hello")] = r["samples"]["ours"]
            boot[(path, m.group(2))] = r["samples"]["baseline"]
    mem = {"ours": [], "linux": [], "floor": []}
    for r in rows:
        m = re.search(r"N=(\d+)", r["name"])
        if r["metric"] == "5" and m:
            n = int(m.group(1))
            for k, key in (("ours", "ours"), ("linux", "baseline"), ("floor", "floor")):
                s = r["samples"].get(key) or []
                if s:
                    mem[k].append((n, sum(s)))  # total PSS of the N QEMU processes
    script = ""
    plots = []
    colors = {"ukd hello": "#1f77b4", "linux": "#d62728", "floor": "#7f7f7f"}
    for i, ((path, who), vals) in enumerate(sorted(boot.items())):
        if not vals:
            continue
        name = "b%d" % i
        script += cdf_block(name, vals)
        dash = "dt 1" if path == "raw" else "dt 2"
        plots.append("$%s using 1:2 with steps lw 2 %s lc rgb '%s' title '%s, %s'" %
                     (name, dash, colors[who], who, path))
    for k, pts in mem.items():
        script += "$m_%s << EOD\n%s\nEOD\n" % (k, "\n".join("%d %g" % p for p in sorted(pts)) or "1 0")
    t = "%s, %s, %s" % (res.get("date", "")[:10], res.get("accelerator", ""), res.get("cpu", ""))
    script += """
set terminal pngcairo size 1200,500 font ',10' dashed
set output '%s'
set multiplot layout 1,2 title 'ukd vs Linux guest (%s)'
set title 'boot to ready line: distribution (solid raw QEMU, dashed libvirt)'
set logscale x
set xlabel 'ms from start to ready line'
set ylabel 'fraction of boots'
set yrange [0:1.02]
set key center right
plot %s
set title 'host memory (sum of QEMU PSS) vs idle instances, through libvirt'
set logscale xy
set autoscale y
set xlabel 'instances'
set ylabel 'MiB'
set key top left
plot $m_ours using 1:2 with linespoints lw 2 lc rgb '#1f77b4' title 'ukd httpd', \\
     $m_linux using 1:2 with linespoints lw 2 lc rgb '#d62728' title 'Linux guest (busybox)', \\
     $m_floor using 1:2 with linespoints lw 2 lc rgb '#7f7f7f' title 'floor kernel'
unset multiplot
""" % (png, t, ", ".join(plots))
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    print("wrote %s" % png)


if __name__ == "__main__":
    main()
