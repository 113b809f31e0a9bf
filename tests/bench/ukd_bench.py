"""Metrics measured through ukd itself (tests/bench/run): 2 (API -> ready),
7 (start rate), 6 (density), ukd's RSS growth (5) and the idle cost of
instances run by ukd (8: health channel, heartbeats, a NIC on uk0).

Each measurement starts its own ukd (own --root, --socket and --netns, debug
log, like tests/daemon/test_daemon.py's Daemon), uploads the httpd example
and drives ukd over its unix socket the way ukctl does. Readiness is ukd's
`instance.ready` event (health `ready` from the guest), read from
GET /v1/events?follow=1; its time stamp (ms, stamped by ukd when the frame
arrived) is compared with the wall clock when the POST was sent, so the
stream's 200 ms polling does not count.

The baselines go through the same libvirtd: the floor kernel (and the Linux
guest for 2) as transient domains created with `virsh create` (vms.Domain),
ready when their line reaches the console file.

Clean-up, also on failure: every domain of this ukd's instances (names from
the API: ukd-ID12) and every floor domain we created is destroyed, ukd is
stopped by PID, its namespace deleted and any tap or bridge it left in the
host's namespace (carrying its tag) removed.
"""
import concurrent.futures
import datetime
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "daemon"))
import test_daemon  # noqa: E402
from test_daemon import UnixHTTPConnection  # noqa: E402

import vms  # noqa: E402

HTTPD_ARGS = ["8080", "/www"]
SUBNET = "10.202.0.0/16"  # inside our own namespace: room for the density run


def _wall(ts):
    """ukd's event/log time (2026-11-27T15:45:01.974Z) -> seconds since the epoch."""
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        m = re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M)
    return int(m.group(1)) if m else 0


def host_mem():
    """(used MiB, fraction used) from MemTotal - MemAvailable."""
    with open("/proc/meminfo") as f:
        v = dict((l.split(":")[0], int(l.split()[1])) for l in f)
    used = v["MemTotal"] - v["MemAvailable"]
    return used / 1024, used / v["MemTotal"]


def ukd_tag(root):
    """The alias ukd gives its bridges and taps (network.c: FNV-1a of the root)."""
    h = 2166136261
    for b in root.encode():
        h = ((h ^ b) * 16777619) & 0xffffffff
    return "ukd:%08x" % h


class Ukd:
    """Our own ukd with httpd uploaded; a follower thread records instance events."""

    def __init__(self, ctx, tag="b"):
        self.ctx = ctx
        self.dir = tempfile.mkdtemp(prefix="ukd-bench-ukd-", dir=ctx.work)
        os.chmod(self.dir, 0o755)
        self.root = os.path.join(self.dir, "root")
        self.sock = os.path.join(self.dir, "ukd.sock")
        self.logpath = os.path.join(self.dir, "ukd.log")
        self.netns = "ukdb%d%s" % (os.getpid(), tag)
        self.proc = None
        self.domains = set()
        self.events = {}  # instance id -> {type: event time (epoch s)}
        self.cond = threading.Condition()
        self.stream = None

    def __enter__(self):
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self):
        self.log = open(self.logpath, "w")
        self.proc = subprocess.Popen(
            [self.ctx.ukd, "--root", self.root, "--socket", self.sock, "--netns", self.netns,
             "--default-subnet", SUBNET, "--foreground", "--log-level", "debug"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("ukd did not start:\n" + self.read_log()[-3000:])
            try:
                st, info = self.request("GET", "/v1/system/info")
                if st == 200 and info["libvirt"]["connected"]:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        self.accel = info.get("accelerator")
        with open(self.ctx.bin("httpd"), "rb") as f:
            st, body = self.request("POST", "/v1/images?name=httpd", f.read(),
                                    {"Content-Type": "application/octet-stream"})
        if st not in (200, 201):
            raise RuntimeError("upload httpd: %d %r" % (st, body))
        self.stream = UnixHTTPConnection(self.sock, timeout=None)
        self.stream.request("GET", "/v1/events?follow=1")
        r = self.stream.getresponse()
        if r.status != 200:
            raise RuntimeError("GET /v1/events: %d" % r.status)
        threading.Thread(target=self._follow, args=(r,), daemon=True).start()

    def _follow(self, r):
        try:
            for line in r:
                e = json.loads(line)
                if not e.get("type", "").startswith("instance."):
                    continue
                with self.cond:
                    self.events.setdefault(e["subject"], {}).setdefault(e["type"], _wall(e["time"]))
                    self.cond.notify_all()
        except (OSError, ValueError):
            pass

    def request(self, method, path, body=None, headers=None, timeout=600):
        """(status, the JSON answer or else the raw body)."""
        r = test_daemon.request(self.sock, method, path, body, headers, timeout)
        return r.status, r.json if r.json is not None else r.raw

    def run(self, name, network=None):
        """POST /v1/instances (httpd, start:true). Returns (wall time sent, instance or
        None, error text)."""
        spec = {"image": "httpd", "name": name, "memory_mib": 16, "args": HTTPD_ARGS,
                "start": True}
        if network:
            spec["network"] = network
        sent = time.time()
        try:
            st, body = self.request("POST", "/v1/instances", spec)
        except OSError as e:
            return sent, None, str(e)
        if isinstance(body, dict) and body.get("domain"):
            with self.cond:
                self.domains.add(body["domain"])
        if st != 201:
            return sent, None, "%d %r" % (st, body)
        return sent, body, None

    def wait(self, ids, timeout):
        """Waits until every id has instance.ready (or one exits); returns
        {id: ready time} (only the ready ones)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                ready = {i: self.events[i]["instance.ready"] for i in ids
                         if "instance.ready" in self.events.get(i, {})}
                bad = [i for i in ids if "instance.exited" in self.events.get(i, {})]
                if len(ready) == len(ids) or bad or time.monotonic() > deadline:
                    return ready
                self.cond.wait(0.5)

    def remove_all(self):
        """Kills and removes every instance (bounded); returns seconds taken."""
        t0 = time.monotonic()
        try:
            st, lst = self.request("GET", "/v1/instances", timeout=120)
        except OSError:
            return None
        if st != 200:
            return None
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            list(ex.map(lambda i: self._remove(i), lst))
        return time.monotonic() - t0

    def _remove(self, inst):
        if inst.get("domain"):
            with self.cond:
                self.domains.add(inst["domain"])
        try:
            self.request("DELETE", "/v1/instances/%s?force=1" % inst["id"], timeout=120)
        except OSError:
            pass

    def stop_following(self):
        """Closes GET /v1/events?follow=1 (its 200 ms polling is the harness's cost, not
        an idle instance's)."""
        if self.stream:
            self.stream.close()
            self.stream = None

    def rss_kib(self):
        return rss_kib(self.proc.pid)

    def read_log(self):
        try:
            with open(self.logpath, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def __exit__(self, *exc):
        try:
            if self.proc and self.proc.poll() is None:
                self.remove_all()
        finally:
            if self.stream:
                self.stream.close()
            if self.proc and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            if self.proc:
                self.log.close()
            # Every domain of our instances, whatever ukd managed to do.
            running = set(vms.virsh("list", "--name", check=False).stdout.split())
            for name in self.domains & running:
                vms.virsh("destroy", name, check=False)
            tag = ukd_tag(self.root)
            r = subprocess.run(["ip", "-j", "-d", "link", "show"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
            for link in json.loads(r.stdout or "[]"):
                if link.get("ifalias") == tag:
                    subprocess.run(["ip", "link", "del", link["ifname"]],
                                   stderr=subprocess.DEVNULL)
            subprocess.run(["ip", "netns", "del", self.netns], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            shutil.rmtree(self.dir, ignore_errors=True)
        return False


# The API -> ready path from ukd's debug log (ms time stamps) and the guest's hello.
LOG_LINE = re.compile(r"^(\S+Z) ukd\[\w+\]: (.*)$", re.M)


def breakdown(log, iid, sent, ready):
    """Phases of one start, in ms: client -> ukd's POST line, ukd (request to domain
    XML), libvirt until QEMU opens the health socket, libvirt until the domain's
    started event, firmware (-> the guest's first instruction, from the hello's
    'main N ms after the first instruction'), guest first instruction -> main,
    main -> ready event."""
    t = {}
    post = None
    for ts, msg in LOG_LINE.findall(log):
        w = _wall(ts)
        if msg == "POST /v1/instances" and w >= sent - 0.002 and post is None:
            post = w
        if iid in msg or ("ukd-" + iid[:12]) in msg:
            if "domain XML" in msg:
                t.setdefault("xml", w)
            elif "health channel connected" in msg:
                t.setdefault("chan", w)
            elif "virt: event 2/" in msg:
                t.setdefault("started", w)
            elif "health hello" in msg:
                m = re.search(r"main ([\d.]+) ms after the first instruction", msg)
                if m:
                    t.setdefault("hello", w)
                    t["main_ms"] = float(m.group(1))
    if post is None or not all(k in t for k in ("xml", "chan", "started", "hello")):
        return None
    first = t["hello"] - t["main_ms"] / 1000
    ms = lambda a, b: round(1000 * (b - a), 1)
    return {"client -> ukd": ms(sent, post), "ukd: request -> domain XML": ms(post, t["xml"]),
            "libvirt: create -> QEMU opens the health socket": ms(t["xml"], t["chan"]),
            "libvirt: QEMU up -> domain started (vCPUs run)": ms(t["chan"], t["started"]),
            "firmware (qboot) -> first guest instruction": ms(t["started"], first),
            "guest: first instruction -> main": round(t["main_ms"], 1),
            "main -> ready event": ms(t["hello"], ready)}


def _floor_domains(ctx, tag, n):
    g = ctx.floor_guest(mem=16)
    return [vms.Domain(g, ctx.work, "ukdb-%d-%s-%d" % (os.getpid(), tag, i)) for i in range(n)]


def m_ready(ctx, row, median):
    """2: POST /v1/instances (httpd) -> instance.ready, vs floor and Linux guest through
    the same libvirt, interleaved."""
    n = ctx.reps(1, 10)
    ours, floor, linux, phases = [], [], [], []
    with Ukd(ctx, "r") as u:
        for i in range(n):
            sent, inst, err = u.run("ready%d" % i)
            if err:
                raise RuntimeError("POST /v1/instances: " + err)
            got = u.wait([inst["id"]], 120)
            if inst["id"] not in got:
                raise RuntimeError("instance %s not ready in 120 s; log:\n%s" %
                                   (inst["id"], u.read_log()[-3000:]))
            ours.append(1000 * (got[inst["id"]] - sent))
            phases.append(breakdown(u.read_log(), inst["id"], sent, got[inst["id"]]))
            u.request("DELETE", "/v1/instances/%s?force=1" % inst["id"])
            for kind, out in (("floor", floor), ("linux", linux)):
                if kind == "linux" and ctx.quick and i:
                    continue
                g = ctx.floor_guest(mem=16) if kind == "floor" else ctx.linux_guest()
                d = vms.Domain(g, ctx.work, "ukdb-%d-r%s-%d" % (os.getpid(), kind, i)).start()
                try:
                    out.append(1000 * d.wait_ready())
                finally:
                    d.destroy()
    good = [p for p in phases if p]
    mean_phases = ({k: round(statistics.median(p[k] for p in good), 1) for k in good[0]}
                   if good else None)
    rows = []
    for base, b, target, lim in (("floor", floor, "<= 1.1x floor", 1.1),
                                 ("linux", linux, "<= 0.5x Linux", 0.5)):
        rows.append(row("2", "ukd: POST /v1/instances httpd -> ready vs %s via virsh create" % base,
                        "ms", median(ours), median(b), base, target,
                        (lambda lim: lambda o, r: r <= lim)(lim),
                        {"ours": ours, "baseline": b}, breakdown_ms=mean_phases,
                        breakdown_samples=phases))
    return rows


def _start_many(n, start_one, threads):
    """Runs start_one(i) for i < n on a pool of `threads`; returns their results."""
    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        return list(ex.map(start_one, range(n)))


def m_rate(ctx, row, median):
    """7: N concurrent POST /v1/instances -> all ready, vs N floor kernels created
    concurrently with virsh create through the same libvirtd."""
    n = ctx.reps(5, ctx.rate_n)
    timeout = 120 + 10 * n
    with Ukd(ctx, "s") as u:
        t0 = time.time()
        res = _start_many(n, lambda i: u.run("rate%d" % i), n)
        errs = [e for _, _, e in res if e]
        if errs:
            raise RuntimeError("%d of %d POSTs failed, first: %s" % (len(errs), n, errs[0]))
        ids = [inst["id"] for _, inst, _ in res]
        got = u.wait(ids, timeout)
        if len(got) < n:
            raise RuntimeError("%d of %d instances ready after %d s" % (len(got), n, timeout))
        ours_s = max(got.values()) - t0
        post_ms = sorted(1000 * (got[i] - s) for (s, inst, _), i in zip(res, ids))
        rss = u.rss_kib() / 1024
        rm_s = u.remove_all()
    doms = _floor_domains(ctx, "s", n)
    try:
        t0 = time.time()
        _start_many(n, lambda i: doms[i].start(), n)
        deadline = time.monotonic() + timeout
        ready = {}
        while len(ready) < n and time.monotonic() < deadline:
            for i, d in enumerate(doms):
                if i not in ready and d.g.ready in d.output():
                    ready[i] = time.time()
            time.sleep(0.05)
        if len(ready) < n:
            raise RuntimeError("%d of %d floor domains ready after %d s" % (len(ready), n, timeout))
        floor_s = max(ready.values()) - t0
    finally:
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            list(ex.map(lambda d: d.destroy(), doms))
    return [row("7", "start rate: %d concurrent POST /v1/instances -> all ready vs %d floor "
                "via virsh create" % (n, n), "/s", n / ours_s, n / floor_s, "floor",
                ">= 0.8x floor", lambda o, r: r >= 0.8,
                {"ours": [n / ours_s], "baseline": [n / floor_s]}, n=n, ours_total_s=ours_s,
                floor_total_s=floor_s, ours_post_to_ready_ms=post_ms, ukd_rss_mib=rss,
                remove_all_s=rm_s)]


def _thread_ticks(pid):
    """{thread name: clock ticks (user + system)} of one process."""
    out = {}
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
                st = f.read()
        except FileNotFoundError:
            continue
        fields = st.rsplit(")", 1)[1].split()
        name = st[st.index("(") + 1:st.rindex(")")]
        out[name] = out.get(name, 0) + int(fields[11]) + int(fields[12])
    return out


def _libvirtd_pid():
    r = subprocess.run(["pidof", "-s", "libvirtd"], stdout=subprocess.PIPE, text=True)
    return int(r.stdout.split()[0]) if r.stdout.strip() else None


def idle_cpu(groups, window):
    """Host CPU over `window` s of each group {name: [pids]}, in % of one core, and of
    QEMU's threads by name (summed over the group "qemu"). A process that ends
    counts up to its last reading."""
    hz = os.sysconf("SC_CLK_TCK")

    def read():
        got = {}
        for g, pids in groups.items():
            for p in pids:
                try:
                    got[(g, p)] = _thread_ticks(p)
                except (FileNotFoundError, ProcessLookupError):
                    pass
        return got

    a, t0 = read(), time.monotonic()
    time.sleep(window)
    b, t1 = read(), time.monotonic()
    pct = {g: 0.0 for g in groups}
    threads = {}
    for (g, p), th in b.items():
        for name, v in th.items():
            d = v - a.get((g, p), {}).get(name, v)
            pct[g] += 100 * d / hz / (t1 - t0)
            if g == "qemu":
                threads[name] = threads.get(name, 0) + 100 * d / hz / (t1 - t0)
    return pct, threads


def qemu_pids(domains):
    pids = []
    for d in domains:
        with open("/run/libvirt/qemu/%s.pid" % d) as f:
            pids.append(int(f.read().strip()))
    return pids


def m_idle(ctx, row, median):
    """8 through ukd: N idle httpd instances as ukd runs them (health channel with
    heartbeats every second, a NIC on uk0), host CPU of their QEMUs and of ukd over
    the window, against N floor kernels created with virsh create through the same
    libvirtd, over the same window length, one after the other. libvirtd's CPU is
    recorded too (other users of libvirtd on the machine show up in it)."""
    ns = ctx.reps([3], [n for n in (10, 100) if n <= ctx.max_n])
    window = ctx.reps(3, 60)
    settle = ctx.reps(2, 20)  # past the runtime's quiet time for lwIP's timers (16 s)
    rows = []
    for n in ns:
        with Ukd(ctx, "i") as u:
            res = _start_many(n, lambda i: u.run("idle%d" % i, network="uk0"), min(n, 10))
            errs = [e for _, _, e in res if e]
            if errs:
                raise RuntimeError("%d of %d POSTs failed, first: %s" % (len(errs), n, errs[0]))
            insts = [inst for _, inst, _ in res]
            got = u.wait([x["id"] for x in insts], 120 + 10 * n)
            if len(got) < n:
                late = [x["id"] for x in insts if x["id"] not in got]
                raise RuntimeError("%d of %d instances ready (not: %s); ukd log:\n%s" % (
                    len(got), n, " ".join(late), "\n".join(
                        l for l in u.read_log().splitlines() if any(i in l for i in late))[-3000:]))
            u.stop_following()
            time.sleep(settle)
            lv = _libvirtd_pid()
            ours, threads = idle_cpu({"qemu": qemu_pids(x["domain"] for x in insts),
                                      "ukd": [u.proc.pid], "libvirtd": [lv] if lv else []},
                                     window)
            st, lst = u.request("GET", "/v1/instances")
            healthy = sum(1 for x in lst if x["state"] == "running")
        doms = _floor_domains(ctx, "i", n)
        try:
            for d in doms:
                d.start()
            for d in doms:
                d.wait_ready(timeout=120 + 2 * n)
            time.sleep(settle)
            lv = _libvirtd_pid()
            floor, _ = idle_cpu({"qemu": [d.pid() for d in doms],
                                 "libvirtd": [lv] if lv else []}, window)
        finally:
            for d in doms:
                d.destroy()
        per = (ours["qemu"] + ours["ukd"]) / n
        base = floor["qemu"] / n
        rows.append(row("8", "idle host CPU per instance through ukd (heartbeats 1 s, NIC on "
                        "uk0; QEMU + ukd) over %d s, N=%d: vs floor via virsh" % (window, n),
                        "% core", per, base, "floor", "<= 1.2x floor",
                        lambda o, r: None if r is None else r <= 1.2,
                        {"ours": [per], "baseline": [base]}, n=n, window_s=window,
                        settle_s=settle, running=healthy,
                        qemu_pct=ours["qemu"] / n, ukd_pct=ours["ukd"] / n,
                        qemu_threads_pct={k: v / n for k, v in threads.items()},
                        libvirtd_pct_total={"ours": ours["libvirtd"], "floor": floor["libvirtd"]}))
    return rows


def m_density(ctx, row, median):
    """6 (and 5's ukd RSS growth): httpd instances through ukd, in batches, until one
    fails, host memory is 90% used or the cap; all ready; a sample answers HTTP in
    ukd's namespace."""
    cap = ctx.reps(3, ctx.density_max_n)
    batch = ctx.reps(3, 10)
    marks = {1, 10, 100}
    with Ukd(ctx, "d") as u:
        rss = {0: u.rss_kib() / 1024}
        mem0 = host_mem()[0]
        mem = {0: mem0}
        insts, stop = [], None
        t0 = time.monotonic()
        max_s = getattr(ctx, "density_max_s", None)
        while len(insts) < cap and stop is None:
            used, frac = host_mem()
            if frac >= 0.9:
                stop = "host memory %.0f%% used" % (100 * frac)
                break
            if max_s and time.monotonic() - t0 > max_s:
                stop = "time limit %d s" % max_s
                break
            k = min(batch, cap - len(insts))
            # Up to the next mark exactly, so RSS is read at N = 1, 10, 100.
            nxt = min([m for m in marks if m > len(insts)] or [cap])
            k = min(k, nxt - len(insts))
            base = len(insts)
            res = _start_many(k, lambda i: u.run("d%04d" % (base + i), network="uk0"), k)
            ok = [inst for _, inst, e in res if not e]
            errs = [e for _, _, e in res if e]
            got = u.wait([x["id"] for x in ok], 120 + 10 * k)
            insts += [x for x in ok if x["id"] in got]
            if errs:
                stop = "POST failed at N=%d: %s" % (len(insts) + 1, errs[0][:200])
            elif len(got) < len(ok):
                stop = "an instance was not ready at N=%d" % (len(insts) + 1)
            n = len(insts)
            print("density: %d ready after %.0f s" % (n, time.monotonic() - t0), flush=True)
            if n in marks or n == cap or stop:
                time.sleep(1)  # settle
                rss[n] = u.rss_kib() / 1024
                mem[n] = host_mem()[0]
        if stop is None and len(insts) >= cap:
            stop = "cap %d reached" % cap
        start_s = time.monotonic() - t0
        n = len(insts)
        # Everyone still healthy (ready, not exited) and a sample answers HTTP.
        st, lst = u.request("GET", "/v1/instances", timeout=120)
        running = [x for x in lst if x["state"] == "running"]
        sample = insts[:: max(1, n // 5)][:5]
        answered = 0
        for x in sample:
            ip = (x.get("network") or {}).get("ip")
            r = subprocess.run(["ip", "netns", "exec", u.netns, "curl", "-s", "-o", "/dev/null",
                                "-w", "%{http_code}", "-m", "10", "http://%s:8080/index.html" % ip],
                               stdout=subprocess.PIPE, text=True, timeout=30)
            answered += r.stdout.strip() not in ("", "000")  # any HTTP answer (no /www: 404)
        unhealthy = [i for i in u.events if "instance.unhealthy" in u.events[i]]
        # What the N idle instances cost the host's CPU now (QEMU + ukd), per instance.
        u.stop_following()
        idle, _ = idle_cpu({"qemu": qemu_pids(x["domain"] for x in insts),
                            "ukd": [u.proc.pid]}, ctx.reps(2, 10))
        rss_end = u.rss_kib() / 1024
        used_end = host_mem()[0]
        rm_s = u.remove_all()
    if n == 0:
        raise RuntimeError("no instance started: " + (stop or "?"))
    if len(running) < n or answered < len(sample):
        raise RuntimeError("density: %d of %d running, %d of %d sampled answered HTTP" %
                           (len(running), n, answered, len(sample)))
    rows = [row("6", "density: httpd instances through ukd, all ready (stop: %s)" % stop,
                "instances", n, target=">= 500",
                # Below a cap of 500 (--quick) or cut by --density-max-s, the count says
                # nothing about the target.
                check=(lambda o, r: o >= 500) if (cap >= 500 or stop != "cap %d reached" % cap)
                and not stop.startswith("time limit") else None,
                samples={"ours": [n]}, stop=stop, start_s=start_s,
                host_used_mib={str(k): v for k, v in mem.items()},
                host_used_growth_mib=used_end - mem0, ukd_rss_mib=rss_end,
                sampled_http=answered, unhealthy=len(unhealthy), remove_all_s=rm_s,
                idle_cpu_pct_per_instance=(idle["qemu"] + idle["ukd"]) / n,
                idle_qemu_pct_total=idle["qemu"], idle_ukd_pct=idle["ukd"])]
    for k in sorted(rss):
        if k == 0:
            continue
        rows.append(row("5", "ukd RSS with N=%d running instances (growth over N=0)" % k,
                        "MiB", rss[k], rss[0], "ukd with none", "", None,
                        {"ours": [rss[k]], "baseline": [rss[0]]},
                        growth_mib=rss[k] - rss[0],
                        growth_per_instance_kib=1024 * (rss[k] - rss[0]) / k,
                        host_used_growth_mib=mem[k] - mem0))
    return rows
