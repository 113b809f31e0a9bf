#!/usr/bin/env python3
"""ukd crash and restart (docs/guarantees.md, "ukd crash and restart"): a script
creates and removes instances of a spinning guest (unless UKD_CRASH_DESTROYS=0, also
starts, kills and removes running ones), stops running ones gracefully, and
uploads (tar build contexts: build, pack, store) and deletes images through the
API of a real ukd (against the real libvirtd), and ukd is killed with SIGKILL
at POINTS random moments, each during a request (mid-create, mid-stop,
mid-build, ...). After each restart, within SETTLE_S (libvirtd may still be
carrying out what the killed ukd asked for: a domain starting or being destroyed):

- no instance is duplicated, and everything the API acknowledged holds: an
  acknowledged create exists, an acknowledged remove is gone, an acknowledged
  start runs, an acknowledged kill or stop does not; an acknowledged upload is
  listed (by id and name:tag), an acknowledged image delete is gone;
- every libvirt domain of ours matches exactly one instance, and that
  instance is running; no running instance lacks its domain;
- an instance that ran before the kill and was not touched still runs with
  the same start time (its guest was adopted, not restarted);
- no instance directory or image file is orphaned, every image row has its
  file, no short socket link in /run/uk outlives its instance or is half-made
  and every running instance has its two, and nothing else is left under ukd's root: no build directory, no
  partial or temporary file (an upload cut short is whole or absent);
- now and then, an acknowledged upload boots: an instance of it runs the
  program to its exit status;
- some instances are networked, in the ukd's own network namespace: an httpd
  guest with a published TCP port, or a UDP echo guest with a published /udp
  port, on uk0 or on a network the script created; the script also creates
  and removes networks (killed mid-way too). The bridges tagged as ukd's are
  exactly its networks' (an acknowledged network exists, an acknowledged
  removal is gone); the taps tagged as ukd's are exactly the running
  networked instances' (plugged and filtered: one ebtables chain per tap;
  none left in the host's namespace); ukd listens on exactly the published
  TCP ports of all its instances and holds exactly their published UDP ports
  (a port is held for the instance's life), and no other; ukd holds no TCP
  connection on the host's side once the test's clients are done; a
  networked guest that ran before the kill and was not touched answers on
  its published port at once (a sample each point), and at the end every
  running one does, whether or not the request that started it was answered
  (UKD_CRASH_STRICT_NET=0, for diagnosis only, lets a run started by an
  unanswered request that never answers pass, printed as KNOWN:
  docs/guarantees.md §1 says what that was).

Environment: UKD (the ukd binary), UKD_HTTPD (the httpd example's static ELF).
The UDP echo guest is built from tests/net/apps/udpecho.c.
Run one case: test_crash_restart.py CASE;
list them: test_crash_restart.py --list.
Long form: UKD_CRASH_POINTS=500 UKD_CRASH_SEED=N test_crash_restart.py kill9_at_random_points
"""
import json
import os
import random
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "net"))
from test_daemon import SPIN_C, Daemon, free_port, main, tar_of, virsh  # noqa: E402
from test_net_daemon import http_status, links, sh, ukd_tag  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
HTTPD = os.environ.get("UKD_HTTPD", "build/images-build/httpd/httpd")
POINTS = int(os.environ.get("UKD_CRASH_POINTS", "50"))
SEED = int(os.environ.get("UKD_CRASH_SEED", str(os.getpid())))
MAX_LIVE = 2  # running (spinning) guests at most: the machine has two cores
MAX_NET_LIVE = 2  # running networked (httpd, idle) guests at most, besides those
# A create is networked while fewer than MIN_NET instances are, else with NET_SHARE.
# UKD_CRASH_NET=0 leaves networked instances out.
# A networked create is a UDP echo guest with UDP_SHARE, on a network of the
# script's (not uk0) with OTHER_NET_SHARE when there is one; at most MAX_NETS
# networks of the script's at a time.
MIN_NET, NET_SHARE, UDP_SHARE, OTHER_NET_SHARE, MAX_NETS = 2, 0.3, 0.3, 0.5, 2
if os.environ.get("UKD_CRASH_NET", "1") != "1":
    MIN_NET, NET_SHARE, MAX_NETS = 0, 0, 0
ACTIVE = ("starting", "running", "stopping")
SETTLE_S = 15  # time for libvirtd to finish what the killed ukd had asked for
# Destroying running guests (POST .../kill, DELETE ?force=1 of a running one) in
# the script: on by default; UKD_CRASH_DESTROYS=0 leaves them out. (A ukd killed
# while libvirtd destroyed a domain used to adopt the dying domain and show the
# instance running once it was gone; ukd now looks at the adopted domains again
# after each reconcile: instance_recheck.)
DESTROYS = os.environ.get("UKD_CRASH_DESTROYS", "1") == "1"
STOP_T = 2  # the graceful stop's deadline (?t=): the spinning guest ends at SIGTERM
USE_EVERY = 3  # an acknowledged upload boots every USE_EVERY-th one
EXIT_C = b"""#include <stdio.h>
static const char version[] = "v%d";
int main(void)
{
	printf("%%s\\n", version);
	return 3;
}
"""
LINK_DIR = "/run/uk"  # QEMUSOCK_LINK_DIR
# What ukd's root may hold besides images/sha256/ID.img and instances/ID/.
ROOT_FILES = {"ukd.db", "ukd.db-wal", "ukd.db-shm", "ukd.db-journal", "ukd.lock", "images",
              "instances", "tmp"}


def networked(inst):
    """An instance with a NIC (every networked instance of the script publishes a port)."""
    return bool(inst.get("ports"))


def published(insts, proto):
    """The host ports the instances publish for proto ("tcp" or "udp")."""
    return sorted(p["host_port"] for i in insts for p in i.get("ports") or []
                  if p.get("proto", "tcp") == proto)


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def udp_echo(port, timeout=1.0):
    """"echo:" + what was sent, from a UDP echo guest's published port, or an error."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(b"ping", ("127.0.0.1", port))
            return s.recvfrom(2048)[0]
        except OSError as e:
            return e


def exit_ctx(version):
    """A small build context whose image differs with version: prints it, exits 3."""
    return tar_of([("uk.json", json.dumps({"name": "exit3", "sources": ["exit.c"],
                                           "mem": 16}).encode()),
                   ("exit.c", EXIT_C % version)])


class CrashRestartTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ukd-crash-test-")
        os.chmod(self.dir, 0o755)
        self.root = os.path.join(self.dir, "root")
        self.ukd = Daemon(self.root, os.path.join(self.dir, "ukd.sock"),
                          os.path.join(self.dir, "ukd.log"))
        self.ids = set()  # every instance id ever seen: our domains are named after them
        self.prefix = None
        self.tag = ukd_tag(self.root)  # the alias of ukd's bridges and taps
        self.uuids = {}  # (domain, started) -> the run's domain UUID (its tap's name)
        self.probes = [0, 0]  # adopted networked guests asked through their port; answered

    def tearDown(self):
        self.ukd.stop()
        for name in self.domains():
            virsh("destroy", name)
        for link in links():  # taps a failed run left in the host's namespace
            if link.get("ifalias") == self.tag:
                sh("ip", "link", "del", link["ifname"], check=False)
        sh("ip", "netns", "del", self.ukd.netns, check=False)
        if any(e for e in sys.exc_info()) or os.environ.get("UKD_TEST_VERBOSE"):
            print(self.ukd.read_log()[-30000:])
        shutil.rmtree(self.dir, ignore_errors=True)

    def domains(self):
        """Our running libvirt domains; a failing virsh is an error, not an empty list."""
        for _ in range(5):
            p = virsh("list", "--name")
            if p.returncode == 0:
                return [d for d in p.stdout.split() if self.ours(d)]
            time.sleep(1)
        self.fail("virsh list failed: %s" % p.stdout)

    def ours(self, domain):
        return self.prefix and any(domain == self.prefix + i[:12] for i in self.ids)

    def instances(self):
        r = self.ukd.request("GET", "/v1/instances", timeout=60)
        self.assertEqual(r.status, 200, r)
        for i in r.json:
            self.ids.add(i["id"])
            if self.prefix is None and i.get("domain"):
                self.prefix = i["domain"][:-12]
        return r.json

    def settled(self):
        """The instance list once no instance is between states (after reconciliation)."""
        deadline = time.monotonic() + 60
        while True:
            insts = self.instances()
            if all(i["state"] not in ("starting", "stopping") for i in insts) or \
                    time.monotonic() > deadline:
                return insts
            time.sleep(0.2)

    def request_then_kill(self, method, path, body, headers, delay):
        """Sends a request, SIGKILLs ukd after delay s; returns the answer (or None) and how
        long it took."""
        result = {}

        def send():
            t = time.monotonic()
            try:
                result["r"] = self.ukd.request(method, path, body, headers, timeout=60)
                result["s"] = time.monotonic() - t
            except OSError as e:
                result["e"] = e

        t = threading.Thread(target=send)
        t.start()
        time.sleep(delay)
        self.ukd.stop(signal.SIGKILL)
        t.join(60)
        return result.get("r"), result.get("s")

    def networks(self):
        r = self.ukd.request("GET", "/v1/networks", timeout=60)
        self.assertEqual(r.status, 200, r)
        return r.json

    def check(self, insts, acked, before, acked_images, acked_names, acked_nets):
        by_name = {}
        for i in insts:
            self.assertNotIn(i["name"], by_name, "instance %s twice" % i["name"])
            by_name[i["name"]] = i
        self.assertEqual(len({i["id"] for i in insts}), len(insts), "an id twice")
        for name, want in acked.items():
            if want == "absent":
                self.assertNotIn(name, by_name, "removed %s came back" % name)
            else:
                self.assertIn(name, by_name, "acknowledged %s is lost" % name)
                if want == "running":
                    self.assertEqual(by_name[name]["state"], "running", by_name[name])
                elif want == "not-running":
                    self.assertNotIn(by_name[name]["state"], ACTIVE, by_name[name])
        doms = self.domains()
        for d in doms:
            owners = [i for i in insts if self.prefix + i["id"][:12] == d]
            self.assertEqual(len(owners), 1, "domain %s has %d instances" % (d, len(owners)))
            self.assertEqual(owners[0]["state"], "running", (d, owners[0]))
        for i in insts:
            if i["state"] == "running":
                self.assertIn(self.prefix + i["id"][:12], doms, "%s runs without a domain" % i)
        for name, started in before.items():
            if name in by_name and by_name[name]["state"] == "running":
                self.assertEqual(by_name[name]["started"], started,
                                 "%s was restarted, not adopted" % name)
        dirs = set(os.listdir(os.path.join(self.root, "instances")))
        self.assertEqual(dirs, {i["id"] for i in insts}, "orphaned instance directories")
        r = self.ukd.request("GET", "/v1/images", timeout=60)
        self.assertEqual(r.status, 200, r)
        by_id = {i["id"][7:]: i for i in r.json}
        files = os.listdir(os.path.join(self.root, "images", "sha256"))
        self.assertEqual(sorted(files), sorted(i + ".img" for i in by_id),
                         "image files and rows differ (orphaned or partial files)")
        for img_id, want in acked_images.items():
            if want == "absent":
                self.assertNotIn(img_id, by_id, "deleted image %s came back" % img_id)
            else:
                self.assertIn(img_id, by_id, "acknowledged image %s is lost" % img_id)
        for ref, img_id in acked_names.items():
            self.assertIn(img_id, by_id, "acknowledged %s is lost" % ref)
            self.assertEqual("%s:%s" % (by_id[img_id].get("name"), by_id[img_id].get("tag")), ref,
                             "acknowledged %s does not name sha256:%s" % (ref, img_id))
        # Nothing else under the root: no build directory, no partial file.
        self.assertLessEqual(set(os.listdir(self.root)), ROOT_FILES, "stray files in root")
        self.assertEqual(os.listdir(os.path.join(self.root, "images")), ["sha256"])
        self.assertEqual(os.listdir(os.path.join(self.root, "tmp")), [],
                         "build directories left in tmp")
        self.assertEqual(self.builders(), [], "a compiler outlived the killed ukd")
        nets = {n["name"] for n in self.networks()}
        for name, want in acked_nets.items():
            if want == "absent":
                self.assertNotIn(name, nets, "removed network %s came back" % name)
            else:
                self.assertIn(name, nets, "acknowledged network %s is lost" % name)
        self.check_links(insts)
        self.check_net(insts, doms)

    def check_links(self, insts):
        """The short links QEMU is given (/run/uk/ID16c and ID16h, ukd/qemusock.h) point only
        into live instances' directories, none is half-made, and a running instance has both."""
        by_id = {i["id"]: i for i in insts}
        ours = os.path.join(self.root, "instances") + "/"
        have = set()
        for name in os.listdir(LINK_DIR) if os.path.isdir(LINK_DIR) else []:
            try:
                to = os.readlink(os.path.join(LINK_DIR, name))
            except OSError:
                continue
            if not to.startswith(ours):
                continue  # another ukd's
            iid, _, sock = to[len(ours):].partition("/")
            self.assertIn(iid, by_id, "link %s -> %s outlives its instance" % (name, to))
            self.assertEqual(name, iid[:16] + sock[:1], "half-made or misnamed link %s -> %s" %
                             (name, to))
            have.add(name)
        for i in insts:
            if i["state"] == "running":
                self.assertLessEqual({i["id"][:16] + "c", i["id"][:16] + "h"}, have,
                                     "running %s lacks its socket links" % i["name"])

    def taps(self, ns, kind="tun"):
        return sorted(l["ifname"] for l in links(ns) if l.get("ifalias") == self.tag and
                      l.get("linkinfo", {}).get("info_kind") == kind)

    def tap_of(self, inst):
        """The tap of an instance's current run: "uk" + 13 hex digits of its domain UUID."""
        key = (inst["domain"], inst["started"])
        if key not in self.uuids:
            p = virsh("domuuid", inst["domain"])
            self.assertEqual(p.returncode, 0, p.stdout)
            self.uuids[key] = p.stdout.strip()
        return "uk" + self.uuids[key].replace("-", "")[:13]

    def ukd_sockets(self, flags):
        """ukd's TCP sockets in the host's namespace: [(state, local port, peer)]."""
        out = sh("ss", "-Hna" + flags + "p").stdout
        found = []
        for line in out.splitlines():
            if "pid=%d," % self.ukd.proc.pid not in line:
                continue
            f = line.split()
            found.append((f[0], int(f[3].rsplit(":", 1)[1]), f[4]))
        return found

    def check_net(self, insts, doms):
        """Bridges are exactly the store's networks'; taps, filters and forwards exactly
        its networked instances'."""
        self.assertEqual(self.taps(self.ukd.netns, "bridge"),
                         sorted(n["bridge"] for n in self.networks()),
                         "bridges in ukd's namespace are not its networks'")
        running = [i for i in insts if networked(i) and i["state"] == "running" and
                   i["domain"] in doms]
        want = sorted(self.tap_of(i) for i in running)
        self.assertEqual(self.taps(self.ukd.netns), want,
                         "taps in ukd's namespace are not the running networked instances'")
        self.assertEqual(self.taps(None), [], "a tap of ukd's left in the host's namespace")
        chains = re.findall(r"^:(uk[0-9a-f]+) ", sh("ip", "netns", "exec", self.ukd.netns,
                                                     "ebtables-save").stdout, re.M)
        self.assertEqual(sorted(chains), want, "ebtables chains are not the taps'")
        tcp = self.ukd_sockets("t")
        listening = sorted(port for state, port, _ in tcp if state == "LISTEN")
        self.assertEqual(listening, published(insts, "tcp"),
                         "ukd's listeners are not the published TCP ports")
        self.assertEqual([s for s in tcp if s[0] != "LISTEN"], [],
                         "ukd holds TCP connections nobody uses")
        self.assertEqual(sorted(port for _, port, _ in self.ukd_sockets("u")),
                         published(insts, "udp"),
                         "ukd's UDP sockets are not the published UDP ports")

    def answers(self, inst, within):
        """The guest answers on its published port within s: 404 for a GET of / (httpd),
        or an echo of a datagram (udpecho; 404 too then)."""
        port, udp = inst["ports"][0]["host_port"], inst["ports"][0].get("proto") == "udp"
        deadline = time.monotonic() + within
        while True:
            if udp:
                status = udp_echo(port)
                status = 404 if status == b"echo:ping" else status
            else:
                try:
                    status = http_status("http://127.0.0.1:%d/" % port, timeout=5)
                except OSError as e:
                    status = e
            if status == 404 or time.monotonic() > deadline:
                return status
            time.sleep(0.3)

    def probe(self, inst, within, clean, unreachable):
        """The guest answers on its published port. A run that never answered and was
        started by a request ukd was killed in (not in clean) that does not answer fails
        too, unless UKD_CRASH_STRICT_NET=0 (diagnosis only): then it is recorded."""
        run = (inst["name"], inst["started"])
        got = self.answers(inst, within)
        if got == 404:
            clean.add(run)
            self.probes[1] += 1
            return
        self.net_diagnosis(inst)
        if run in clean or os.environ.get("UKD_CRASH_STRICT_NET", "1") != "0":
            self.fail("%s does not answer on its port (%r)" % (inst["name"], got))
        print("KNOWN: %s (started by an unanswered request) does not answer on its port" %
              inst["name"])
        unreachable.add(run)

    def net_diagnosis(self, inst):
        """What the kernel and the guest say when a guest does not answer on its port."""
        ns = ["ip", "netns", "exec", self.ukd.netns]
        for argv in (["ip", "-d", "link"], ["ebtables-save"], ["ip", "neigh"],
                     ["bridge", "fdb"], ["ping", "-c", "2", "-W", "1", inst["network"]["ip"]]):
            print("$ %s\n%s" % (" ".join(argv), sh(*(ns + argv), check=False).stdout))
        print(self.ukd.request("GET", "/v1/instances/%s/logs" % inst["name"]).raw[-3000:])
        tap = self.tap_of(inst)
        host = sh("ip", "-d", "link", "show", "dev", tap, check=False).stdout
        print("$ ip -d link show dev %s (host)\n%s" % (tap, host))
        print(sh("virsh", "-c", "qemu:///system", "domstate", "--reason", inst["domain"],
                 check=False).stdout)
        print(sh("virsh", "-c", "qemu:///system", "domiflist", inst["domain"], check=False).stdout)
        print(sh("virsh", "-c", "qemu:///system", "qemu-monitor-command", "--hmp", inst["domain"],
                 "info network", check=False).stdout)

    def test_orphaned_image_files_removed(self):
        """What a killed upload or image delete leaves in images/sha256 (a file no row
        holds, a partial file) is gone after a restart; stored images keep theirs."""
        self.ukd.start()
        r = self.ukd.request("POST", "/v1/images?name=exit3", exit_ctx(1),
                             {"Content-Type": "application/x-tar"})
        self.assertEqual(r.status, 201, r)
        kept = r.json["id"][7:] + ".img"
        self.ukd.stop(signal.SIGKILL)
        store = os.path.join(self.root, "images", "sha256")
        for f in ("%064x.img" % 1, kept + ".tmp-x1y2z3"):
            with open(os.path.join(store, f), "wb") as out:
                out.write(b"\x7fELF")
        self.ukd.start()
        self.assertEqual(os.listdir(store), [kept])
        self.use_image(kept[:64])

    def builders(self):
        """The processes working under ukd's tmp (compilers of a build)."""
        tmp, found = os.path.join(self.root, "tmp"), []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                cwd = os.readlink("/proc/%s/cwd" % pid)
            except OSError:
                continue
            if cwd == tmp or cwd.startswith(tmp + "/"):
                found.append(int(pid))
        return found

    def test_killed_build_leaves_no_compiler(self):
        """ukd killed mid-build: its compiler (in a process group of its own, beyond the
        killed ukd's time limit) does not outlive the next ukd's start."""
        self.ukd.start()
        # A source that takes the compiler many seconds: it is still at work at the kill.
        slow = "\n".join("int f%d(int x){int s=0;for(int i=0;i<x;i++)s+=i*%d^(s>>3);return s;}"
                         % (i, i) for i in range(2000)) + "\nint main(void){return f1(3)&1;}\n"
        ctx = tar_of([("uk.json", json.dumps({"name": "slow", "sources": ["slow.c"],
                                               "mem": 16}).encode()),
                      ("slow.c", slow.encode())])

        def upload():
            try:
                self.ukd.request("POST", "/v1/images", ctx,
                                 {"Content-Type": "application/x-tar"}, timeout=60)
            except OSError:
                pass  # ukd is killed meanwhile

        threading.Thread(target=upload, daemon=True).start()
        deadline = time.monotonic() + 20
        while not self.builders() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        self.ukd.stop(signal.SIGKILL)
        left = self.builders()
        self.assertTrue(left, "no compiler at work under tmp when ukd was killed")
        self.ukd.start()
        self.assertEqual(self.builders(), [], "a compiler outlived the killed ukd")
        self.assertEqual(os.listdir(os.path.join(self.root, "tmp")), [])

    def upload_httpd(self):
        with open(HTTPD, "rb") as f:
            r = self.ukd.request("POST", "/v1/images?name=httpd", f.read(),
                                 {"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 201, r)
        return r.json["id"][7:]

    def net_whole(self, within):
        """check_net holds within s (libvirtd may still be destroying a domain)."""
        deadline = time.monotonic() + within
        while True:
            insts = self.settled()
            try:
                self.check_net(insts, self.domains())
                return insts
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def test_killed_remove_of_networked_instance(self):
        """ukd killed while libvirtd destroys a networked guest (a forced remove): the next
        ukd adopts the dying domain, sees it end at once and removes its tap while its
        reconcile plugs that tap; no tap and no ebtables chain is left behind. (A chain
        was, before the tap jobs were serialized: reliability.crash seed 7, point 4.)"""
        self.ukd.start()
        self.upload_httpd()
        for k, delay in enumerate((0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1)):
            name = "n%d" % k
            r = self.ukd.request("POST", "/v1/instances", {
                "image": "httpd", "name": name, "memory_mib": 16, "start": True,
                "args": ["8080", "/www"], "ports": ["%d:8080" % free_port()]}, timeout=60)
            self.assertEqual(r.status, 201, r)
            self.instances()
            reply, _ = self.request_then_kill("DELETE", "/v1/instances/%s?force=1" % name,
                                              None, None, delay)
            self.ukd.start()
            insts = self.net_whole(SETTLE_S)
            print("remove killed after %.1f s -> %s; %s" %
                  (delay, reply.status if reply else None,
                   [(i["name"], i["state"]) for i in insts]))
            if reply is not None:
                self.assertEqual(reply.status, 204, reply)
            self.ukd.request("DELETE", "/v1/instances/%s?force=1" % name, timeout=60)
        self.net_whole(SETTLE_S)

    def test_killed_networked_create_answers(self):
        """ukd killed while libvirtd starts a networked guest (a create with start, killed
        0.05 to 0.2 s in) and away for AWAY_S: QEMU's first connects to the console and
        health sockets are refused. The next ukd adopts the guest and it answers on its
        published port. (QEMU 7.2 booted no kernel when the error it printed for those
        first connects was 129 bytes or longer: ukd/qemusock.h; reliability.crash seeds 7,
        13 and 101. UKD_CRASH_DELAYS=0.1,0.2,... and UKD_CRASH_AWAY=S sweep other moments.)"""
        self.ukd.start()
        self.upload_httpd()
        delays = [float(x) for x in os.environ.get("UKD_CRASH_DELAYS",
                                                   "0.05,0.1,0.15,0.2").split(",")]
        away = float(os.environ.get("UKD_CRASH_AWAY", "2"))
        failed, adopted, errors = [], 0, []
        for k, delay in enumerate(delays):
            name = "k%d" % k
            reply, _ = self.request_then_kill("POST", "/v1/instances", {
                "image": "httpd", "name": name, "memory_mib": 16, "start": True,
                "args": ["8080", "/www"], "ports": ["%d:8080" % free_port()]}, None, delay)
            time.sleep(away)
            self.ukd.start()
            inst = {i["name"]: i for i in self.settled()}.get(name)
            got = None
            if inst and inst["state"] == "running":
                adopted += 1
                got = self.answers(inst, 20)
                errors += self.connect_errors(inst["domain"])
                if got != 404:
                    failed.append((name, delay, got))
                    self.net_diagnosis(inst)
                    self.guest_diagnosis(inst)
            print("create killed after %.2f s, ukd away %.1f s -> %s; %s, port: %r" %
                  (delay, away, reply.status if reply else None,
                   inst["state"] if inst else None, got))
            if inst:
                r = self.ukd.request("DELETE", "/v1/instances/%s?force=1" % name, timeout=60)
                self.assertEqual(r.status, 204, r)
        self.assertEqual(failed, [], "adopted guests that never answered on their port")
        # Under 129 bytes even with the longest error a connect gives (ukd/qemusock.h).
        worst = [e.rsplit("': ", 1)[0] + "': Too many levels of symbolic links" for e in errors]
        print("%d connect errors printed by QEMU, the longest %d bytes (%d with ELOOP's text)" %
              (len(errors), max(map(len, errors), default=0), max(map(len, worst), default=0)))
        self.assertLess(max(map(len, worst), default=0), 129, errors)
        # ukd away while QEMU (re)connects: each adopted guest's QEMU printed one.
        self.assertGreaterEqual(len(errors), adopted, "QEMU printed no connect error")
        # Else every kill landed before libvirtd started a domain, and nothing was tested.
        self.assertGreater(adopted, 0, "no guest was running after its ukd's restart")

    def connect_errors(self, domain):
        """The first-connect errors QEMU printed in this run of the domain, from "Unable"
        (QEMU 7.2 overwrote the kernel's header from the 129th byte on: ukd/qemusock.h)."""
        with open("/var/log/libvirt/qemu/%s.log" % domain, errors="replace") as f:
            log = f.read()
        run = log.rsplit("starting up", 1)[-1]  # libvirt's header of each QEMU start
        return [line[line.index("Unable to connect"):] for line in run.splitlines()
                if "Unable to connect character device" in line]

    def guest_diagnosis(self, inst):
        """Where the guest's CPU is, and whether its kernel is in memory (QEMU's monitor)."""
        for cmd in ("info registers", "xp /4xw 0x100000"):
            out = sh("virsh", "-c", "qemu:///system", "qemu-monitor-command", "--hmp",
                     inst["domain"], cmd, check=False).stdout
            print("$ %s\n%s" % (cmd, "\n".join(out.splitlines()[:4])))
        print(sh("tail", "-3", "/var/log/libvirt/qemu/%s.log" % inst["domain"],
                 check=False).stdout)

    def test_adopted_guest_reconnects_without_peer_record(self):
        """ukd killed after the domain started but before QEMU first connected to its
        console and health sockets (no record of QEMU's user yet): the next ukd gives its
        new sockets to the user libvirt gave the old ones, and QEMU reconnects both. (They
        stayed root's and the guest had no health channel and no console log for its
        whole life: reliability.crash seed 7, a create killed after 15 ms.)"""
        self.ukd.start()
        ctx = tar_of([("uk.json", json.dumps({"name": "spin", "sources": ["spin.c"],
                                               "mem": 16}).encode()), ("spin.c", SPIN_C)])
        r = self.ukd.request("POST", "/v1/images", ctx, {"Content-Type": "application/x-tar"})
        self.assertEqual(r.status, 201, r)
        r = self.ukd.request("POST", "/v1/instances", {"image": "spin", "name": "s",
                                                       "start": True}, timeout=60)
        self.assertEqual(r.status, 201, r)
        inst = r.json
        self.ids.add(inst["id"])

        def health(want, within):
            deadline = time.monotonic() + within
            while True:
                h = self.ukd.request("GET", "/v1/instances/s/health").json
                if h["channel"] == want or time.monotonic() > deadline:
                    return h
                time.sleep(0.2)

        self.assertEqual(health("connected", 30)["channel"], "connected")
        self.ukd.stop(signal.SIGKILL)
        d = os.path.join(self.root, "instances", inst["id"])
        for f in ("console.peer", "health.peer"):
            os.unlink(os.path.join(d, f))  # as if QEMU had not connected before the kill
        self.ukd.start()
        self.assertEqual(self.ukd.request("GET", "/v1/instances/s").json["started"],
                         inst["started"])
        self.assertEqual(health("connected", 15)["channel"], "connected",
                         "QEMU did not reconnect the health channel")
        for f in ("console.sock", "health.sock"):
            self.assertNotEqual(os.stat(os.path.join(d, f)).st_uid, 0, f)
        r = self.ukd.request("DELETE", "/v1/instances/s?force=1", timeout=60)
        self.assertEqual(r.status, 204, r)

    def use_image(self, img_id):
        """An instance of the image runs the program to its exit status, then goes."""
        r = self.ukd.request("POST", "/v1/instances", {"image": "sha256:" + img_id,
                                                       "name": "use", "start": True},
                             timeout=60)
        self.assertEqual(r.status, 201, r)
        self.ids.add(r.json["id"])
        deadline = time.monotonic() + 60
        while True:
            i = self.ukd.request("GET", "/v1/instances/use").json
            if i["state"] == "exited" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual((i["state"], i["exit_status"]), ("exited", 3), i)
        r = self.ukd.request("DELETE", "/v1/instances/use?force=1", timeout=60)
        self.assertEqual(r.status, 204, r)

    def test_kill9_at_random_points(self):
        rnd = random.Random(SEED)
        print("seed %d, %d kill points" % (SEED, POINTS))
        self.ukd.start()
        ctx = tar_of([("uk.json", json.dumps({"name": "spin", "sources": ["spin.c"],
                                               "mem": 16}).encode()), ("spin.c", SPIN_C)])
        t = time.monotonic()
        r = self.ukd.request("POST", "/v1/images", ctx, {"Content-Type": "application/x-tar"})
        upload_s = time.monotonic() - t  # how long a build takes here: kill points inside
        self.assertEqual(r.status, 201, r)
        spin_id = r.json["id"][7:]
        httpd_id = self.upload_httpd()
        with open(os.path.join(HERE, "..", "net", "apps", "udpecho.c"), "rb") as f:
            r = self.ukd.request("POST", "/v1/images", tar_of([
                ("uk.json", json.dumps({"name": "udpecho", "sources": ["udpecho.c"],
                                        "mem": 16}).encode()), ("udpecho.c", f.read())]),
                {"Content-Type": "application/x-tar"})
        self.assertEqual(r.status, 201, r)
        udp_id = r.json["id"][7:]
        probe_rnd = random.Random(SEED + 1)  # which adopted guest is asked, apart from the script
        # Runs (name, started) known to be plugged by an answered start, or to have answered
        # on their port; runs started by an unanswered request that never answered (fatal
        # unless UKD_CRASH_STRICT_NET=0; docs/guarantees.md §1).
        clean, unreachable = set(), set()
        acked, ops, acks, seq, took = {}, {}, {}, 0, {}
        acked_images, acked_names, uploads, used, nets = {}, {}, {}, 0, 0
        acked_nets, udps, others = {}, 0, 0
        t0 = time.monotonic()
        for point in range(POINTS):
            insts = self.settled()
            names = [i["name"] for i in insts]
            live = [i["name"] for i in insts if i["state"] == "running"]
            idle = [i["name"] for i in insts if i["state"] not in ACTIVE]
            live_net = [i["name"] for i in insts if i["state"] == "running" and networked(i)]
            room = {True: len(live_net) < MAX_NET_LIVE, False: len(live) - len(live_net) < MAX_LIVE}
            startable = [i["name"] for i in insts if i["state"] not in ACTIVE and
                         room[networked(i)]]
            before = {i["name"]: i["started"] for i in insts if i["state"] == "running"}
            images = [i for i in self.ukd.request("GET", "/v1/images").json
                      if i["id"][7:] not in (spin_id, httpd_id, udp_id)]
            mynets = sorted(n["name"] for n in self.networks() if n["name"] != "uk0")
            choices = ["create"] if len(names) < 6 or not (DESTROYS or idle) else []
            removable = names if DESTROYS else idle
            choices += ["remove"] * bool(removable) + ["kill"] * bool(live and DESTROYS)
            choices += ["start"] * bool(startable)
            choices += ["stop"] * bool(live)
            choices += ["upload"] + ["rmi"] * (2 if len(images) > 2 else len(images) > 0)
            choices += ["netadd"] * (len(mynets) < MAX_NETS) + ["netrm"] * bool(mynets)
            op = rnd.choice(choices)
            name = None
            if op == "create":
                seq += 1
                name = "c%d" % seq
                net = sum(map(networked, insts)) < MIN_NET or rnd.random() < NET_SHARE
                start = room[net]
                spec = {"image": "spin", "name": name, "start": start}
                if net and rnd.random() < UDP_SHARE:  # a UDP echo guest, 7777/udp published
                    spec.update(image="udpecho", memory_mib=16, args=["7777"],
                                ports=["%d:7777/udp" % free_udp_port()])
                elif net:  # an httpd guest, its port 8080 published on loopback
                    spec.update(image="httpd", memory_mib=16, args=["8080", "/www"],
                                ports=["%d:8080" % free_port()])
                if net and mynets and rnd.random() < OTHER_NET_SHARE:
                    spec["network"] = rnd.choice(mynets)
                req = ("POST", "/v1/instances", spec, None)
                on_ack = "running" if start else "present"
            elif op == "netadd":
                seq += 1
                name = "n%d" % seq
                req = ("POST", "/v1/networks",
                       {"name": name, "subnet": "10.%d.%d.0/24" % (210 + seq // 250, seq % 250)},
                       None)
            elif op == "netrm":
                name = rnd.choice(mynets)
                req = ("DELETE", "/v1/networks/" + name, None, None)
            elif op == "upload":
                # A new build, or (now and then) the same bytes as an earlier one, under a
                # new or an existing name:tag.
                if uploads and rnd.random() < 0.25:
                    version = rnd.choice(sorted(uploads))
                else:
                    seq += 1
                    version = seq
                ref = "up%d:t%d" % (rnd.randrange(3), rnd.randrange(2))
                req = ("POST", "/v1/images?name=" + ref, exit_ctx(version),
                       {"Content-Type": "application/x-tar"})
            elif op == "rmi":
                img = rnd.choice(images)
                img_ref = ("%s:%s" % (img["name"], img["tag"]) if img.get("name") and
                           rnd.random() < 0.5 else img["id"])
                req = ("DELETE", "/v1/images/" + img_ref, None, None)
            else:
                name = rnd.choice({"remove": removable, "kill": live, "start": startable,
                                   "stop": live}[op])
                path = "/v1/instances/" + name
                req = {"remove": ("DELETE", path + "?force=1", None, None),
                       "kill": ("POST", path + "/kill", None, None),
                       "start": ("POST", path + "/start", None, None),
                       "stop": ("POST", path + "/stop?t=%d" % STOP_T, None, None)}[op]
                on_ack = {"remove": "absent", "kill": "not-running", "start": "running",
                          "stop": "not-running"}[op]
            before.pop(name, None)  # touched by this operation: it may restart
            # Mostly in the middle of the operation, sometimes after its answer.
            # Fast operations (a create without start, a remove) take tens of ms; a
            # start waits for the guest, a graceful stop up to STOP_T and the destroy,
            # a build its compiler: how long each takes here is learnt as it goes.
            kind = op + ("+net" if op == "create" and net else "") + \
                ("+start" if op == "create" and start else "")
            slow = took.setdefault(kind, {"upload": upload_s, "rmi": 0.1,
                                          "stop": STOP_T + 1}.get(op, 2.5))
            # Uploads and stops are answered before the kill more often: the images
            # uploads make are what deletes and boots work on, and a stop takes seconds.
            x = rnd.random() + (0.25 if op in ("upload", "stop") else 0)
            delay = (rnd.uniform(0, 0.02) if x < 0.3 else rnd.uniform(0, slow) if x < 0.8
                     else rnd.uniform(slow, slow * 2))
            reply, answered_s = self.request_then_kill(*req, delay)
            if answered_s is not None:  # up at once, down slowly: answer times vary
                took[kind] = max(answered_s, 0.7 * slow + 0.3 * answered_s)
            elif delay > slow:  # not answered yet: it takes longer than that here
                took[kind] = 1.2 * delay
            status = reply.status if reply is not None else None
            ok = status is not None and 200 <= status < 300
            ops[op] = ops.get(op, 0) + 1
            nets += op == "create" and net
            acks[op] = acks.get(op, 0) + ok
            if op == "upload":
                if ok:
                    img_id = reply.json["id"][7:]
                    for k in [k for k, v in acked_names.items() if v == img_id]:
                        del acked_names[k]  # the same bytes again: the name moves
                    acked_images[img_id] = "present"
                    acked_names[ref] = img_id
                    uploads[version] = img_id
                else:
                    acked_names.pop(ref, None)  # it may or may not have moved
                    if status is not None:
                        self.fail("upload %s answered %d: %s" % (ref, status, reply.json))
            elif op == "rmi":
                img_id = img["id"][7:]
                if ok:
                    acked_images[img_id] = "absent"
                    for k in [k for k, v in acked_names.items() if v == img_id]:
                        del acked_names[k]
                    uploads = {v: i for v, i in uploads.items() if i != img_id}
                else:
                    acked_images.pop(img_id, None)
                    for k in [k for k, v in acked_names.items() if v == img_id]:
                        del acked_names[k]
                    if status is not None:
                        self.fail("delete of %s answered %d" % (img_ref, status))
            elif op in ("netadd", "netrm"):
                if ok:
                    acked_nets[name] = "present" if op == "netadd" else "absent"
                elif status == 409 and op == "netrm":
                    self.assertEqual(reply.json["error"]["code"], "network_in_use", reply.json)
                else:
                    acked_nets.pop(name, None)
                    if status is not None:
                        self.fail("%s %s answered %d: %s" % (op, name, status, reply.json))
            elif ok:
                acked[name] = on_ack
                if op == "create":  # acknowledged: it exists (and runs, if started)
                    udps += spec.get("image") == "udpecho"
                    others += "network" in spec
            elif status is not None and op != "create":
                self.fail("%s %s answered %d" % (op, name, status))
            else:
                acked.pop(name, None)  # no answer: it may or may not have happened
            t_kill = time.monotonic()
            self.ukd.start()
            # What the dead ukd asked libvirtd for may still be under way (a domain
            # starting or being destroyed): the state must be whole within SETTLE_S.
            deadline = time.monotonic() + SETTLE_S
            while True:
                insts = self.settled()
                try:
                    self.check(insts, acked, before, acked_images, acked_names, acked_nets)
                    break
                except AssertionError:
                    if time.monotonic() < deadline:
                        time.sleep(0.5)
                        continue
                    print("point %d: %s %s after %.3f s -> %s" %
                          (point, op, name or req[1], delay, status))
                    print(self.ukd.read_log()[-30000:])
                    raise
            print("point %d: %s %s after %.3f s -> %s; whole again %.1f s later" %
                  (point, op, name or req[1], delay, status, time.monotonic() - t_kill))
            if ok and op in ("create", "start"):
                clean.update((i["name"], i["started"]) for i in insts
                             if i["name"] == name and i["state"] == "running")
            # A networked guest adopted by the new ukd answers through its published port.
            adopted = [i for i in insts if networked(i) and i["state"] == "running" and
                       before.get(i["name"]) == i["started"] and
                       (i["name"], i["started"]) not in unreachable]
            if adopted:
                i = probe_rnd.choice(adopted)
                self.probes[0] += 1
                self.probe(i, 15, clean, unreachable)
            # An acknowledged state lasts only until the next operation on it.
            for i in insts:
                if acked.get(i["name"]) in ("running", "not-running"):
                    acked[i["name"]] = "present"
            if op == "upload" and ok:
                used += 1
                if used % USE_EVERY == 1:
                    self.use_image(img_id)
        # At the end every running networked guest answers on its published port.
        insts = self.settled()
        final = [i for i in insts if networked(i) and i["state"] == "running"]
        for i in final:
            if (i["name"], i["started"]) not in unreachable:
                self.probes[0] += 1
                self.probe(i, 30, clean, unreachable)
        print("%d kills in %.0f s; operations (acknowledged before the kill/all) %s; "
              "%d uploads booted; answer times learnt %s; %d networked instances created "
              "(acknowledged: %d UDP echo guests, %d on the script's networks), "
              "%d of %d probes answered on their port (adopted guests, and all at the end), "
              "%d running at the end; runs started by an unanswered request that never "
              "answered: %s" %
              (POINTS, time.monotonic() - t0,
               ", ".join("%s %d/%d" % (o, acks[o], n) for o, n in sorted(ops.items())),
               (used + USE_EVERY - 1) // USE_EVERY,
               ", ".join("%s %.2f s" % kv for kv in sorted(took.items())),
               nets, udps, others, self.probes[1], self.probes[0], len(final),
               sorted(unreachable) or "none"))


if __name__ == "__main__":
    main(CrashRestartTest)
