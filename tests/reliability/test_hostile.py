#!/usr/bin/env python3
"""Hostile guests (docs/guarantees.md, "Hostile guests"): real guests under the
real libvirtd (TCG) abuse their health channel or spin their CPU next to a
quiet httpd instance B, through a real ukd.

The offender A runs an image packed with runtime-hostile.elf, a test-only
build of the runtime whose /dev/health also takes "raw BYTES" and sends them
to the host as they are: what a compromised guest kernel can do (any bytes
on its virtio-console port). B's image has the normal runtime: ukd is started
without --runtime to build it, then restarted with --runtime for A's.

Each case measures B as a user notices it, with A quiet (booted, present,
idle), with A quiet next to a busy core (a plain busy process on the host:
the control), and with A abusing, in the same test: the latency of GET
/v1/instances/B and GET /v1/instances/B/health (medians), and the intervals
between B's heartbeats as ukd saw them arrive (median). A spinning, wedged or
console-flooding A alternates quiet and abusing windows itself (ABAB...,
PAIRS pairs after a warm-up pair); a flooding A is destroyed by ukd's
verdict, so each of FLOODS offenders in turn gives one pair: its flood until
the verdict against its quiet window before and a window after it is gone
(the destroy and the next boot are in no window), and against a window next
to a busy core right before the flood. Asserted on the median of the pairs'
ratios: B's API latencies next to A abusing over next to a busy core below
1.2 (the issue's < 20%: what the offender costs beyond a busy CPU, which on
this 2-vCPU host alone can slow everything by up to 1.5x) in the long form
(15 pairs or more), below 1.5 over the suite's 6 pairs and 2.0 over its 4
flood offenders (OWN_BOUNDS: the median of few pairs is noisy), and over
quiet below 2.0 (LATENCY_BOUND); B's heartbeat interval abusing over quiet
within 1.2 both ways. The client's own CPU time per request is printed per pair as
a measure of how much slower the host ran in each window.
It checks ukd's RSS stays within RSS_GROWTH_CAP_MIB of its baseline and that a
flooding A is marked unhealthy with a clear reason and destroyed
(exit_reason "health-abuse"), as the restart policy then decides. A
CPU-spinning A keeps heartbeating (its timer interrupt sends them) and is left
running; a wedged one is unhealthy and left running. Each window also
prints, per request, the time ukd's event loop and this client's thread spent
on a CPU and waiting runnable (their schedstat): whether a slow window waited
for a CPU or ran slower (docs/guarantees.md, "Where the 1.2-1.4 next to a busy
guest comes from").

Environment: UKD (the ukd binary), UKD_HTTPD (the httpd example's ELF),
UKD_HOSTILE_RUNTIME (build/runtime/runtime-hostile.elf).
Run one case: test_hostile.py CASE; list them: test_hostile.py --list.
Long form (more pairs, the 1.2 bound): UKD_HOSTILE_PAIRS=30 UKD_HOSTILE_FLOODS=15
test_hostile.py cpu_spin (and wedged_guest, console_flood, frame_flood, event_flood)
"""
import json
import os
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
import test_daemon as td  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
HTTPD = os.environ.get("UKD_HTTPD", "build/images-build/httpd/httpd")
HOSTILE_RUNTIME = os.environ.get("UKD_HOSTILE_RUNTIME", "build/runtime/runtime-hostile.elf")
B_INTERVAL_MS = 100  # B's heartbeat interval: 10 intervals a second to measure
RSS_GROWTH_CAP_MIB = 8
CONSOLE_MAX = 256 << 10  # ukd's --console-max: each instance's console on disk
# Spin, wedge and console: PAIRS quiet/abusing window pairs, driven by the
# guest (ABAB...), plus one first pair discarded as warm-up: quiet for
# 2 WINDOW_S (measured as it is, then next to a busy core), abusing for WINDOW_S.
PAIRS = int(os.environ.get("UKD_HOSTILE_PAIRS", "6"))
WINDOW_S = int(os.environ.get("UKD_HOSTILE_WINDOW_S", "2"))
# Floods end in ukd's verdict, so each pair is a fresh offender: quiet window
# (offender booted and idle), then its flood until the verdict, then a quiet
# window with the offender gone: the flood is compared with the quiet
# windows on both its sides, which cancels the machine's drift.
FLOODS = int(os.environ.get("UKD_HOSTILE_FLOODS", "4"))
FLOOD_QUIET_S = 2.5
FLOOD_BUSY_S = 1.5  # then next to a busy core (BusyCore), right before the flood
FLOOD_AFTER_S = 2
# The issue's bound, < 20% change (the median of the pairs' ratios): B's
# heartbeat interval with A abusing over with A quiet, and B's API latencies
# with A abusing over next to a busy core, next to every offender. Single pairs range from about 0.5 to 2.5
# on this host (docs/guarantees.md, "Hostile guests"): the many short pairs
# are what make the median a measurement of the offender, not of the machine.
RATIO_BOUND = float(os.environ.get("UKD_HOSTILE_RATIO", "1.2"))
# B's API latencies over quiet: 2.0 (next to the offender over next to a
# busy core: RATIO_BOUND). Every offender here keeps a vCPU of this 2-vCPU
# host busy, and on some runs the other vCPU then runs everything slower:
# a fresh-clone CI run measured medians of 1.24/1.56 (GET B, GET B/health)
# next to a wedged guest and 1.26/1.57 next to a frame flood, with the test
# client's own CPU time per request up by a median 1.27x and 1.15x in the
# same windows (its code does not depend on the offender); other runs
# measured 0.93-1.11. The 1.2 is asserted against the control (below).
LATENCY_BOUND = float(os.environ.get("UKD_HOSTILE_LATENCY_RATIO", "2.0"))
# B's API latencies next to the offender over next to a busy core: the
# issue's 1.2 over 15 pairs or more (the long form), 1.5 over 6 to 14 (the
# suite's spin, wedge and console), 2.0 over fewer (the suite's 4 flood
# offenders). Single pairs of this ratio range from about 0.5 to 2.2 on this
# host, so a median of few moves far with noise alone: resampling the long
# form's pairs (30 per offender, 15 per flood; medians 0.94-1.09, taken
# with another test booting guests alongside), a median of 6 reached 1.2 in
# up to 9% of draws, 1.5 in 0.01-0.15% (spin, wedge, console; up to 2.3%
# for the floods), a median of 4 reached 1.5 in up to 6% and 2.0 in up to
# 0.1% (floods), a median of 15 reached 1.2 in up to 2.5%. The bound
# follows the pairs planned (PAIRS, FLOODS), not those left after overruns.
# UKD_HOSTILE_OWN_RATIO sets it.
OWN_BOUNDS = ((15, RATIO_BOUND), (6, 1.5), (0, 2.0))  # (pairs at least, bound)
OWN_BOUND = os.environ.get("UKD_HOSTILE_OWN_RATIO")


def proc_rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def proc_cpu_s(pid):
    """User + system CPU seconds of a process (0 if it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def schedstat_us(path):
    """A thread's time on a CPU and waiting runnable for one (µs), from its
    schedstat; (0, 0) if it is gone."""
    try:
        with open(path) as f:
            run, wait = f.read().split()[:2]
    except (OSError, ValueError):
        return 0.0, 0.0
    return int(run) / 1000.0, int(wait) / 1000.0


class BusyCore:
    """
    The control: a plain busy process on the host, nothing to do with ukd or
    any guest, keeping one CPU busy as an offender's QEMU does, and in the
    guests' CPU cgroup as QEMU is (libvirt's "machine" group, if there is
    one). B next to it shows what a busy core alone costs on this host; B
    next to the offender over B next to it is the offender's own cost,
    ukd's handling of it. The process ends by itself after 30 s should this
    test die without killing it.
    """
    SPIN = "import time\nend = time.monotonic() + 30\nwhile time.monotonic() < end:\n    pass\n"
    CGROUP = "/sys/fs/cgroup/cpu/machine/cgroup.procs"  # cgroup v1, libvirt without systemd

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", self.SPIN])
        try:
            try:
                with open(self.CGROUP, "w") as f:
                    f.write(str(self.proc.pid))
            except OSError:
                pass  # no such group: the host's root group, as the test's
            time.sleep(0.1)  # running
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


def qemu_pid(domain):
    try:
        with open("/run/libvirt/qemu/%s.pid" % domain) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


class Phase:
    """What B looked like during one phase."""

    def __init__(self, name):
        self.name = name
        self.api_ms, self.health_ms, self.beats = [], [], {}
        self.rss_max = 0.0
        self.ukd_cpu = self.a_cpu = self.secs = 0.0
        # Per request (µs): ukd's event loop and this client's thread on a CPU,
        # and waiting runnable for one (the scheduler's share of the latency).
        self.ukd_run = self.ukd_wait = self.client_run = self.client_wait = 0.0

    @classmethod
    def merged(cls, name, phases):
        """One phase of several windows' samples (B's heartbeats keep their numbers)."""
        m = cls(name)
        for p in phases:
            m.api_ms += p.api_ms
            m.health_ms += p.health_ms
            m.beats.update(p.beats)
            m.rss_max = max(m.rss_max, p.rss_max)
            m.secs += p.secs
        n = sum(len(p.api_ms) for p in phases) or 1
        for attr in ("ukd_run", "ukd_wait", "client_run", "client_wait"):
            setattr(m, attr, sum(getattr(p, attr) * len(p.api_ms) for p in phases) / n)
        return m

    def intervals(self):
        seqs = sorted(self.beats)
        return [(self.beats[b] - self.beats[a]) / (b - a)
                for a, b in zip(seqs, seqs[1:]) if b > a]

    def medians(self):
        return (statistics.median(self.api_ms), statistics.median(self.health_ms),
                statistics.median(self.intervals()))

    def __str__(self):
        api, health, beat = self.medians()
        return ("%s: %.1f s, %d samples: GET B %.2f ms, GET B/health %.2f ms (medians), "
                "B's heartbeat interval %.1f ms (median of %d); ukd CPU %.1f%%, A's QEMU "
                "CPU %.1f%%, ukd RSS max %.1f MiB" %
                (self.name, self.secs, len(self.api_ms), api, health, beat,
                 len(self.intervals()), 100 * self.ukd_cpu / self.secs,
                 100 * self.a_cpu / self.secs, self.rss_max) +
                "; per request: ukd on a CPU %.0f us, runnable waiting %.0f us; "
                "client %.0f us, %.0f us" % (self.ukd_run, self.ukd_wait, self.client_run,
                                             self.client_wait))


class HostileTest(td.DaemonTest):
    TAIL = 20  # lines of A's log that alternate() looks for its markers in
    def setUp(self):
        # B's image with the built-in runtime, A's with the hostile one.
        super().setUp()
        self.upload_elf(HTTPD, "httpd")
        self.ukd.stop()
        self.ukd.start("--runtime", HOSTILE_RUNTIME, "--console-max", str(CONSOLE_MAX))
        with open(os.path.join(HERE, "apps", "hostile.c"), "rb") as f:
            self.upload_tar(td.tar_of([("uk.json", json.dumps({"name": "hostile",
                                                               "sources": ["hostile.c"],
                                                               "mem": 16}).encode()),
                                       ("hostile.c", f.read())]))

    # --- helpers ---

    def start_guest(self, spec):
        return self.run_instance(dict({"memory_mib": 16}, **spec)).json

    def get(self, ref):
        return self.api("GET", "/v1/instances/" + ref, expect=200).json

    def health(self, ref):
        return self.api("GET", "/v1/instances/%s/health" % ref, expect=200).json

    def log(self, ref, tail=None):
        return self.api("GET", "/v1/instances/%s/logs%s" % (ref, "?tail=%d" % tail if tail else ""),
                        expect=200).raw.decode(errors="replace")

    def events(self, ref):
        raw = self.api("GET", "/v1/events?instance=" + ref, expect=200).raw.decode()
        return [json.loads(line) for line in raw.splitlines() if line]

    def wait_marker(self, ref, line, timeout=60, tail=None):
        """Waits for a whole line of A's (a phase change) in its log (its last
        `tail` lines), polling every 50 ms."""
        return self.wait_for("%r in %s's log" % (line, ref),
                             lambda: line + "\n" in self.log(ref, tail), timeout, 0.05)

    def start_b(self):
        self.start_guest({"image": "httpd", "name": "b", "args": ["8080", "/www"],
                          "health_interval_ms": B_INTERVAL_MS})
        self.wait_for("B's heartbeats", lambda: self.health("b")["heartbeat"])
        self.measure("warm-up (discarded)", None, 2)

    def measure(self, name, a_ref, seconds, until=None):
        """Samples B (and A's state) every 20 ms for `seconds`, or until until(A) holds."""
        p = Phase(name)
        pid = self.ukd.proc.pid
        a_pid = qemu_pid(self.get(a_ref)["domain"]) if a_ref else None
        cpu0, a_cpu0, t0 = proc_cpu_s(pid), proc_cpu_s(a_pid) if a_pid else 0, time.monotonic()
        ukd_ss = "/proc/%d/task/%d/schedstat" % (pid, pid)
        me_ss = "/proc/self/task/%d/schedstat" % threading.get_native_id()
        ukd0, me0, requests = schedstat_us(ukd_ss), schedstat_us(me_ss), 0
        while time.monotonic() - t0 < seconds:
            t = time.monotonic()
            self.api("GET", "/v1/instances/b", expect=200)
            p.api_ms.append((time.monotonic() - t) * 1000)
            t = time.monotonic()
            h = self.health("b")
            now = time.monotonic()
            p.health_ms.append((now - t) * 1000)
            hb = h["heartbeat"]
            if hb and hb["seq"] not in p.beats:
                p.beats[hb["seq"]] = now * 1000 - hb["age_ms"]
            a = self.get(a_ref) if a_ref else None
            p.rss_max = max(p.rss_max, proc_rss_mib(pid))
            if a_pid and os.path.exists("/proc/%d" % a_pid):
                p.a_cpu = proc_cpu_s(a_pid) - a_cpu0
            requests += 3 if a_ref else 2
            if until and until(a):
                break
            time.sleep(0.02)
        p.secs = time.monotonic() - t0
        ukd1, me1 = schedstat_us(ukd_ss), schedstat_us(me_ss)
        p.ukd_run, p.ukd_wait = ((b - a) / requests for a, b in zip(ukd0, ukd1))
        p.client_run, p.client_wait = ((b - a) / requests for a, b in zip(me0, me1))
        p.ukd_cpu = proc_cpu_s(pid) - cpu0
        print(p, flush=True)
        return p

    def alternate(self, ref, mode):
        """
        The guest alternates quiet windows of 2 WINDOW_S and `mode` windows of
        WINDOW_S (hostile.c). A quiet window is measured from its marker for
        WINDOW_S - 0.5 s as it is, then as long again next to a busy core
        (BusyCore); a `mode` window from its marker for WINDOW_S - 0.5 s. A
        window whose next marker was already out when it ended overran (a late
        poll): its pair is left out. The first pair is the warm-up, left out
        too. The markers are looked for in the last TAIL lines of A's log (a
        console flood repeats its marker line). Returns (quiet, busy core,
        abusing) per pair.
        """
        pairs, overran, n = [], 0, self.TAIL
        for k in range(1, PAIRS + 2):
            self.wait_marker(ref, "hostile: quiet %d" % k, 3 * WINDOW_S + 60, n)
            q = self.measure("A quiet %d" % k, ref, WINDOW_S - 0.5)
            with BusyCore():
                busy = self.measure("A quiet, a busy core %d" % k, ref, WINDOW_S - 0.5)
            late = "hostile: go %s %d\n" % (mode, k) in self.log(ref, n)
            self.wait_marker(ref, "hostile: go %s %d" % (mode, k), 3 * WINDOW_S + 30, n)
            loud = self.measure("A %s %d" % (mode, k), ref, WINDOW_S - 0.5)
            nxt = "hostile: quiet %d\n" % (k + 1) if k <= PAIRS else "for good\n"
            late = late or nxt in self.log(ref, n)
            overran += late
            if k > 1 and not late:
                pairs.append((q, busy, loud))
        print("%d pairs measured, %d overran" % (len(pairs), overran), flush=True)
        self.assertGreaterEqual(len(pairs), PAIRS // 2, "too many windows overran")
        return pairs

    def ratio_bound(self, pairs, planned):
        """
        Per pair of windows, B's medians (the latencies of GET B and GET
        B/health, B's heartbeat interval as ukd saw it) with A abusing over
        B's with A quiet (raw), over B's next to a busy core (the offender's
        own cost: what it costs beyond keeping a CPU busy, which is ukd's
        handling of it), and next to a busy core over quiet (what a busy CPU
        alone costs on this host). Asserted on the median of the pairs'
        ratios: B's heartbeat interval raw within RATIO_BOUND both ways; its
        API latencies next to the offender over next to a busy core below
        OWN_BOUNDS for the `planned` number of pairs (the issue's < 20% over
        15 or more, wider over fewer), and raw below LATENCY_BOUND.
        """
        def ratio(a, b):
            return tuple(x / y for x, y in zip(a.medians(), b.medians()))

        def cpu(a, b):  # the client's own CPU per request: how much slower the host ran it
            return a.client_run / b.client_run if b.client_run else 1.0

        raw = [ratio(lo, qu) for qu, _, lo in pairs]
        busy = [ratio(bu, qu) for qu, bu, _ in pairs]
        own = [ratio(lo, bu) for _, bu, lo in pairs]
        for (qu, bu, lo), r, b, o in zip(pairs, raw, busy, own):
            print("  %s: abusing / quiet %.2f %.2f %.2f; busy core / quiet %.2f %.2f %.2f; "
                  "abusing / busy core %.2f %.2f; client CPU per request %.2fx, %.2fx" %
                  ((lo.name,) + r + b + o[:2] + (cpu(lo, qu), cpu(bu, qu))))

        def med(rs):
            return tuple(statistics.median(r[i] for r in rs) for i in range(3))

        m_raw, m_busy, m_own = med(raw), med(busy), med(own)
        print("ratios, median of %d pairs (GET B, GET B/health, heartbeat interval): "
              "abusing / quiet %.2f %.2f %.2f; a busy core / quiet %.2f %.2f %.2f; "
              "abusing / a busy core %.2f %.2f %.2f; the client's CPU per request %.2fx "
              "abusing, %.2fx busy core; load average %s" %
              ((len(pairs),) + m_raw + m_busy + m_own +
               (statistics.median(cpu(lo, qu) for qu, _, lo in pairs),
                statistics.median(cpu(bu, qu) for qu, bu, _ in pairs), os.getloadavg())),
              flush=True)
        bound = float(OWN_BOUND) if OWN_BOUND else \
            next(b for n, b in OWN_BOUNDS if planned >= n)
        print("asserted: abusing / a busy core < %.2f (%d pairs of %d), abusing / quiet < %.2f, "
              "heartbeat interval within %.2f" %
              (bound, len(pairs), planned, LATENCY_BOUND, RATIO_BOUND))
        self.assertLess(m_own[0], bound, own)
        self.assertLess(m_own[1], bound, own)
        self.assertLess(m_raw[0], LATENCY_BOUND, raw)
        self.assertLess(m_raw[1], LATENCY_BOUND, raw)
        self.assertLess(m_raw[2], RATIO_BOUND, raw)
        self.assertGreater(m_raw[2], 1 / RATIO_BOUND, raw)

    def assert_destroyed(self, ref, reason_prefix):
        """A is unhealthy with the reason, destroyed by ukd, and the events say so."""
        h = self.health(ref)
        self.assertEqual(h["status"], "unhealthy", h)
        self.assertTrue(h["reason"].startswith(reason_prefix), h)
        a = self.get(ref)
        self.assertEqual(a["exit_reason"], "health-abuse", a)
        if a["state"] == "exited":  # (crash-loop's message is about the loop)
            self.assertTrue((a["message"] or "").startswith(reason_prefix), a)
        kinds = [(e["type"], e.get("detail") or "") for e in self.events(ref)]
        self.assertIn(("instance.unhealthy", h["reason"]), kinds)
        self.assertIn(("instance.stopping", h["reason"]), kinds)
        self.assertTrue(any(t == "instance.exited" and d.startswith("health-abuse")
                            for t, d in kinds), kinds)
        return h, a

    def flood_pairs(self, mode, check):
        """
        FLOODS offenders in turn, each a pair: its flood until ukd's verdict
        against the quiet windows on both its sides, one with the offender
        booted and idle, one after it is gone; and against a window next to
        a busy core (BusyCore) right before the flood. The destroy in between
        (libvirtd and QEMU tearing the domain down, what any kill costs) and
        the next boot are in no window.
        """
        pairs = []
        for k in range(1, FLOODS + 1):
            ref = "a%d" % k
            delay = int(FLOOD_QUIET_S + FLOOD_BUSY_S) + 3
            self.start_guest({"image": "hostile", "name": ref, "args": [mode, str(delay)]})
            self.wait_marker(ref, "hostile: %s in %d s" % (mode, delay))
            # Its health channel is up: the flood will reach ukd.
            self.wait_for("%s's heartbeats" % ref, lambda: self.health(ref)["heartbeat"], 10, 0.05)
            time.sleep(0.5)
            quiet = self.measure("A%d quiet" % k, ref, FLOOD_QUIET_S)
            with BusyCore():
                busy = self.measure("A%d quiet, a busy core" % k, ref, FLOOD_BUSY_S)
            self.assertNotIn("hostile: go", self.log(ref), "the quiet window overran")
            self.wait_marker(ref, "hostile: go %s" % mode, delay + 30)
            n0 = len(self.events(ref))
            loud = self.measure("A%d %s" % (k, mode), ref, 60,
                                until=lambda a: a["state"] != "running")
            if self.get(ref)["state"] == "running":
                print("%s still running: %s\n%s\nukd's log:\n%s" %
                      (ref, self.health(ref), self.log(ref)[-1500:],
                       self.ukd.read_log()[-6000:]), flush=True)
            self.wait_for("%s exited" % ref, lambda: self.get(ref)["state"] == "exited", 30)
            h, _ = self.assert_destroyed(ref, "flood: ")
            check(ref, h, loud, n0)
            time.sleep(0.5)  # libvirtd and QEMU done with the teardown
            after = self.measure("A%d gone" % k, ref, FLOOD_AFTER_S)
            pairs.append((Phase.merged("A%d quiet and gone" % k, (quiet, after)), busy, loud))
        return pairs

    # --- tests ---

    def test_frame_flood(self):
        """A floods valid frames: throttled, B unaffected, A marked "flood" and destroyed."""
        self.start_b()
        rss0 = proc_rss_mib(self.ukd.proc.pid)

        def check(ref, h, loud, _):
            print("%s: %s; throttle %s; its log:\n%s" % (ref, h["reason"], h["throttle"],
                                                         self.log(ref)[-1500:]), flush=True)
            self.assertGreaterEqual(h["throttle"]["seconds"], 5, h)
            # At most the budget (1000 frames a second) was processed, plus one read.
            self.assertLess(h["throttle"]["frames"], 1000 * (loud.secs + 2) + 512, h)

        pairs = self.flood_pairs("frames", check)
        rss = max(p.rss_max for pair in pairs for p in pair)
        self.assertLess(rss - rss0, RSS_GROWTH_CAP_MIB)
        self.ratio_bound(pairs, FLOODS)
        # B never noticed: healthy throughout.
        self.assertEqual(self.health("b")["status"], "healthy")

    def test_event_flood(self):
        """A floods alternating ready/not-ready frames: events capped, B unaffected, destroyed."""
        self.start_b()

        def check(ref, h, loud, n0):
            toggles = [e for e in self.events(ref)[n0:]
                       if e["type"] in ("instance.ready", "instance.not-ready")]
            print("%s: %d readiness events recorded, throttle %s; its log:\n%s" %
                  (ref, len(toggles), h["throttle"], self.log(ref)[-800:]), flush=True)
            self.assertGreater(h["throttle"]["events_dropped"], 0, h)
            self.assertLessEqual(len(toggles), 5 * (loud.secs + 3), h)

        self.ratio_bound(self.flood_pairs("events", check), FLOODS)
        self.assertEqual(self.health("b")["status"], "healthy")

    def test_garbage_and_huge_lengths(self):
        """Garbage and 4 GiB length claims: violations, destroyed; on-failure restarts, then crash-loop."""
        rss0 = proc_rss_mib(self.ukd.proc.pid)
        self.start_guest({"image": "hostile", "name": "g", "args": ["garbage", "2"],
                          "restart": "on-failure:1"})
        self.wait_for("G in crash-loop", lambda: self.get("g")["state"] == "crash-loop", 120)
        g = self.get("g")
        self.assertEqual(g["restart_count"], 1, g)
        h, _ = self.assert_destroyed("g", "protocol: 16 violations (last: magic)")
        self.assertGreaterEqual(h["violations"]["magic"], 16, h)
        self.start_guest({"image": "hostile", "name": "l", "args": ["huge", "2"]})
        self.wait_for("L exited", lambda: self.get("l")["state"] == "exited", 90)
        h, _ = self.assert_destroyed("l", "protocol: 16 violations (last: length)")
        self.assertEqual(h["violations"]["length"], 16, h)
        self.assertEqual(self.get("l")["restart_count"], 0)  # policy "no": it stays down
        rss = proc_rss_mib(self.ukd.proc.pid)
        print("ukd RSS %.1f MiB before, %.1f MiB after" % (rss0, rss), flush=True)
        self.assertLess(rss - rss0, RSS_GROWTH_CAP_MIB)

    def alternate_offender(self, mode):
        """
        B runs; A (heartbeats every 200 ms) alternates quiet and `mode` windows,
        spinning its vCPU (or its UART) in the latter: A's CPU and B's ratios
        are asserted (ratio_bound). Returns the pairs when A is in `mode` for
        good, right after its last `mode` window.
        """
        self.start_b()
        self.start_guest({"image": "hostile", "name": "a", "health_interval_ms": 200,
                          "args": [mode, "2", str(PAIRS + 1), str(WINDOW_S),
                                   str(2 * WINDOW_S)]})
        pairs = self.alternate("a", mode)
        # A's QEMU takes what the (shared) host gives it: 0.5% idle, far more spinning.
        self.assertGreater(sum(lo.a_cpu for _, _, lo in pairs),
                           3 * sum(q.a_cpu for q, _, _ in pairs),
                           "A did not spin")
        self.ratio_bound(pairs, PAIRS)
        self.wait_marker("a", "hostile: go %s for good" % mode, tail=self.TAIL)
        return pairs

    def test_cpu_spin(self):
        """A spins its vCPU: it keeps heartbeating (healthy, not stopped); B unaffected."""
        self.alternate_offender("spin")
        seq0 = self.health("a")["heartbeat"]["seq"]
        time.sleep(WINDOW_S)
        h = self.health("a")
        self.assertIn(h["status"], ("starting", "healthy"), h)  # never ready: it does not listen
        self.assertGreater(h["heartbeat"]["seq"] - seq0, WINDOW_S * 1000 / 200 / 2, h)
        self.assertEqual(self.get("a")["state"], "running")
        self.api("POST", "/v1/instances/a/kill", expect=200)

    def test_console_flood(self):
        """A floods its console: the log on disk stays within --console-max, B unaffected."""
        rss0 = proc_rss_mib(self.ukd.proc.pid)
        pairs = self.alternate_offender("console")
        time.sleep(WINDOW_S)  # flooding for good
        a = self.get("a")
        d = os.path.join(self.root, "instances", a["id"])
        disk = {name: os.path.getsize(os.path.join(d, name)) if os.path.exists(
            os.path.join(d, name)) else 0 for name in ("console.log", "console.log.1")}
        rss = max(p.rss_max for pair in pairs for p in pair)
        print("A's console on disk: %s; ukd RSS %.1f MiB before, %.1f MiB at most" %
              (disk, rss0, rss), flush=True)
        self.assertGreater(disk["console.log.1"], 0, "the flood should have rotated the log")
        self.assertLessEqual(sum(disk.values()), CONSOLE_MAX, disk)
        self.assertLess(rss - rss0, RSS_GROWTH_CAP_MIB)
        # Not an abuse of anything but its own disk share: capped, left running.
        self.assertEqual(a["state"], "running")
        self.assertIn("hostile: go console for good\n", self.log("a", 3))
        self.api("POST", "/v1/instances/a/kill", expect=200)

    def test_wedged_guest(self):
        """A's kernel spins with interrupts off: missed heartbeats make it unhealthy; B unaffected."""
        self.alternate_offender("wedge")
        # 3 intervals (600 ms) plus the 1 s check, and a margin for TCG.
        h = self.wait_for("A unhealthy", lambda: (lambda h: h["status"] == "unhealthy" and h)(
            self.health("a")), 10)
        self.assertTrue(h["reason"].startswith("missed heartbeats"), h)
        print("A: %s" % h["reason"])
        # Each wedged window made it unhealthy, each quiet one healthy again.
        unhealthy = [e for e in self.events("a") if e["type"] == "instance.unhealthy"]
        self.assertGreaterEqual(len(unhealthy), 1, unhealthy)
        # Not a health-channel abuse: marked, left running (it may be a long GC pause).
        time.sleep(2)
        self.assertEqual(self.get("a")["state"], "running")
        self.api("POST", "/v1/instances/a/kill", expect=200)


if __name__ == "__main__":
    td.main(HostileTest, own=True)
