#!/usr/bin/env python3
"""Plots bench-results.json files (tests/bench/run) with gnuplot into one PNG:
boot-to-ready latency distribution (raw QEMU and libvirt), host memory vs
instance count (QEMU PSS through libvirt, and the host's memory in use for
instances run by ukd) and idle host CPU per instance vs instance count, ours
against the Linux guest and the floor kernel. Rows of several runs are merged
(a later file's row wins for the same metric and name).

  python3 tests/bench/plot.py bench-results.json [more.json ...] docs/performance.png
"""
import json
import re
import subprocess
import sys


def cdf_block(name, values):
    v = sorted(values)
    lines = ["%g 0" % v[0]] + ["%g %g" % (x, (i + 1) / len(v)) for i, x in enumerate(v)]
    return "$%s << EOD\n%s\nEOD\n" % (name, "\n".join(lines))


def points_block(name, pts, least=None):
    """A gnuplot data block $name of (n, value) points in order of n; least: the
    smallest value drawn (a log scale cannot show 0); an empty series draws nothing."""
    lines = "\n".join("%d %g" % (n, v if least is None else max(v, least))
                      for n, v in sorted(pts))
    return "$%s << EOD\n%s\nEOD\n" % (name, lines or "1 NaN")


def main():
    srcs, png = sys.argv[1:-1], sys.argv[-1]
    merged = {}
    for src in srcs:
        with open(src) as f:
            res = json.load(f)
        for r in res["metrics"]:
            merged[(r["metric"], r["name"])] = r
    rows = list(merged.values())
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
        if r["metric"] == "5" and m and "QEMU PSS" in r["name"]:
            n = int(m.group(1))
            for k, key in (("ours", "ours"), ("linux", "baseline"), ("floor", "floor")):
                s = r["samples"].get(key) or []
                if s:
                    mem[k].append((n, sum(s)))  # total PSS of the N QEMU processes
    # Instances through ukd: growth of the host's memory in use (ukd_bench.m_density),
    # from the last density run given, at N = 1, 10, 100 and where it stopped.
    density = [r for r in rows if r["metric"] == "6" and r.get("host_used_mib")]
    if density:
        r = density[-1]
        used = r["host_used_mib"]
        mem["ukd"] = [(int(k), v - used["0"]) for k, v in used.items() if k != "0"]
        if r.get("host_used_growth_mib") and r["ours"] not in (1, 10, 100):
            mem["ukd"].append((r["ours"], r["host_used_growth_mib"]))
    # Idle host CPU per instance (% of a core), by N.
    cpu = {"ours": [], "floor": [], "linux": [], "ukd": [], "ukd_floor": []}
    for r in rows:
        m = re.search(r"N=(\d+)", r["name"])
        if r["metric"] != "8" or not m or r["ours"] is None:
            continue
        n = int(m.group(1))
        if "through ukd" in r["name"]:
            cpu["ukd"].append((n, r["ours"]))
            cpu["ukd_floor"].append((n, r["baseline"]))
        elif r.get("baseline_name") == "floor" or "vs floor" in r["name"]:
            cpu["ours"].append((n, r["ours"]))
            cpu["floor"].append((n, r["baseline"]))
            if r.get("linux_pct") is not None:
                cpu["linux"].append((n, r["linux_pct"]))
    if density and density[-1].get("idle_cpu_pct_per_instance") is not None:
        cpu["ukd"].append((density[-1]["ours"], density[-1]["idle_cpu_pct_per_instance"]))
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
    mem.setdefault("ukd", [])
    for k, pts in mem.items():
        script += points_block("m_" + k, pts)
    for k, pts in cpu.items():
        # log scale: 0 (nothing measurable) is drawn at 0.001 % of a core
        script += points_block("c_" + k, pts, 0.001)
    t = "%s, %s, %s" % (res.get("date", "")[:10], res.get("accelerator", ""), res.get("cpu", ""))
    script += """
set terminal pngcairo size 1800,500 font ',10' dashed
set output '%s'
set multiplot layout 1,3 title 'ukd vs Linux guest (%s)'
set title 'boot to ready line: distribution (solid raw QEMU, dashed libvirt)'
set logscale x
set xlabel 'ms from start to ready line'
set ylabel 'fraction of boots'
set yrange [0:1.02]
set key center right
plot %s
set title 'host memory vs idle instances'
set logscale xy
set autoscale y
set xlabel 'instances'
set ylabel 'MiB'
set key top left
plot $m_ours using 1:2 with linespoints lw 2 lc rgb '#1f77b4' title 'httpd via libvirt (sum of QEMU PSS)', \\
     $m_ukd using 1:2 with linespoints lw 2 dt 2 lc rgb '#1f77b4' title 'httpd run by ukd (host memory in use, growth)', \\
     $m_linux using 1:2 with linespoints lw 2 lc rgb '#d62728' title 'Linux guest (busybox; QEMU PSS)', \\
     $m_floor using 1:2 with linespoints lw 2 lc rgb '#7f7f7f' title 'floor kernel (QEMU PSS)'
set title 'idle host CPU per instance (0 drawn at 0.001)'
set ylabel '%% of one core'
set key top right
plot $c_ours using 1:2 with linespoints lw 2 lc rgb '#1f77b4' title 'httpd via libvirt (no health channel, no NIC)', \\
     $c_ukd using 1:2 with linespoints lw 2 dt 2 lc rgb '#1f77b4' title 'httpd run by ukd (heartbeats 1 s, NIC; QEMU + ukd)', \\
     $c_linux using 1:2 with linespoints lw 2 lc rgb '#d62728' title 'Linux guest', \\
     $c_floor using 1:2 with linespoints lw 2 lc rgb '#7f7f7f' title 'floor kernel', \\
     $c_ukd_floor using 1:2 with points pt 6 ps 1.5 lc rgb '#7f7f7f' title 'floor kernel (same run as ukd)'
unset multiplot
""" % (png, t, ", ".join(plots))
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    print("wrote %s" % png)


if __name__ == "__main__":
    main()
