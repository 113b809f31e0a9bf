#!/usr/bin/env python3
"""ukd's host networking, end to end: a real ukd (its own --root, --socket and
--netns) against the real libvirtd, with httpd guests on ukd's networks.

All guest traffic stays inside the test's own namespace (ukd's, named
ukdt-PID-N) or goes through ports ukd publishes on 127.0.0.1. Each test
stops its ukd by PID, destroys only the domains it created, deletes its
namespace and any tap left in the host's namespace that carries its ukd's
tag. Loops are bounded in count and time.

Environment: UKD, UKD_HTTPD (the httpd example's static ELF), UKD_NET_APPS
(tests/net/apps). Run one case: test_net_daemon.py CASE; list: --list.
"""
import ctypes
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
import test_daemon as td  # noqa: E402

HTTPD = os.environ.get("UKD_HTTPD", "build/images-build/httpd/httpd")
UKCTL = os.environ.get("UKCTL", "build/bin/ukctl")
APPS = os.environ.get("UKD_NET_APPS", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                    "apps"))
SEQ = [0]


def ukd_tag(root):
    """The alias ukd gives its bridges and taps (network.c: FNV-1a of the root)."""
    h = 2166136261
    for b in root.encode():
        h = ((h ^ b) * 16777619) & 0xffffffff
    return "ukd:%08x" % h


def sh(*argv, check=True, timeout=60):
    return subprocess.run(list(argv), check=check, timeout=timeout, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)


def links(ns=None):
    argv = ["ip"] + (["-n", ns] if ns else []) + ["-j", "-d", "link", "show"]
    r = sh(*argv, check=False)
    return json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else []


def http_get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


def http_status(url, timeout=10):
    try:
        return http_get(url, timeout)[0]
    except urllib.error.HTTPError as e:
        return e.code


class NetTest(unittest.TestCase):
    def setUp(self):
        SEQ[0] += 1
        self.ns = "ukdt-%d-%d" % (os.getpid(), SEQ[0])
        self.dir = tempfile.mkdtemp(prefix="ukd-net-test-")
        os.chmod(self.dir, 0o755)
        self.root = os.path.join(self.dir, "root")
        self.tag = ukd_tag(self.root)
        self.ukd = td.Daemon(self.root, os.path.join(self.dir, "ukd.sock"),
                             os.path.join(self.dir, "ukd.log"))
        self.domains = set()
        self.start_ukd()
        print("accelerator: %s" % self.api("GET", "/v1/system/info").json["accelerator"])

    def start_ukd(self):
        self.ukd.start("--netns", self.ns, "--default-subnet", "10.201.0.0/24")

    def tearDown(self):
        self.ukd.stop()
        running = set(td.running_domains())
        for name in self.domains & running:
            td.virsh("destroy", name)
        for link in links():
            if link.get("ifalias") == self.tag:
                sh("ip", "link", "del", link["ifname"], check=False)
        sh("ip", "netns", "del", self.ns, check=False)
        if any(e for e in sys.exc_info()) or os.environ.get("UKD_TEST_VERBOSE"):
            print(self.ukd.read_log()[-20000:])
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- helpers ---

    def api(self, method, path, body=None, headers=None, expect=None):
        r = self.ukd.request(method, path, body, headers)
        if expect is not None:
            self.assertEqual(r.status, expect, "%s %s -> %r" % (method, path, r))
        return r

    def upload_httpd(self):
        with open(HTTPD, "rb") as f:
            self.api("POST", "/v1/images?name=httpd", f.read(),
                     {"Content-Type": "application/octet-stream"}, 201)

    def upload_fetch(self):
        with open(os.path.join(APPS, "fetch.c"), "rb") as f:
            src = f.read()
        ctx = td.tar_of([("uk.json", json.dumps({"name": "fetch", "sources": ["fetch.c"],
                                                  "mem": 16}).encode()), ("fetch.c", src)])
        self.api("POST", "/v1/images", ctx, {"Content-Type": "application/x-tar"}, 201)

    def instance(self, name, image="httpd", network=None, ports=(), args=None, expect=201,
                 start=True):
        spec = {"image": image, "name": name, "memory_mib": 16, "start": start}
        spec["args"] = args if args is not None else ["8080", "/www"]
        if network:
            spec["network"] = network
        if ports:
            spec["ports"] = list(ports)
        r = self.api("POST", "/v1/instances", spec)
        if r.json and "domain" in r.json:
            self.domains.add(r.json["domain"])
        self.assertEqual(r.status, expect, r)
        return r.json

    def wait_log(self, ref, text, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.api("GET", "/v1/instances/%s/logs" % ref, expect=200)
            if text in r.raw.decode(errors="replace"):
                return r.raw.decode(errors="replace")
            time.sleep(0.2)
        self.fail("no %r in the log of %s after %ds: %r" % (text, ref, timeout, r.raw[-2000:]))

    def in_ns(self, *argv, timeout=60):
        return sh("ip", "netns", "exec", self.ns, *argv, check=False, timeout=timeout)

    def our_taps(self, ns):
        return sorted(l["ifname"] for l in links(ns) if l.get("ifalias") == self.tag and
                      l.get("linkinfo", {}).get("info_kind") == "tun")

    def our_bridges(self):
        return sorted(l["ifname"] for l in links(self.ns) if l.get("ifalias") == self.tag and
                      l.get("linkinfo", {}).get("info_kind") == "bridge")

    @staticmethod
    def listening(port, pid=None):
        """True if a TCP socket listens on 127.0.0.1:port (of process pid, if given).
        Only listeners count: on a busy machine other tests' client sockets may hold
        the same port number for a while."""
        out = subprocess.run(["ss", "-Hltnp", "sport = :%d" % port], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True).stdout
        lines = [l for l in out.splitlines() if "127.0.0.1:%d " % port in l + " "]
        if pid is not None:
            lines = [l for l in lines if "pid=%d," % pid in l]
        return bool(lines)

    def ebtables_chains(self):
        out = self.in_ns("ebtables-save").stdout
        return sorted(re.findall(r"^:(uk[0-9a-f]+) ", out, re.M))

    # --- tests ---

    def test_two_httpd_published_and_isolated(self):
        """A and B on uk0 answer on their published ports; a guest on uk0 reaches B by IP;
        a guest on another network does not reach A; the host is not reachable from them."""
        self.upload_httpd()
        self.upload_fetch()
        pa, pb = td.free_port(), td.free_port()
        a = self.instance("a", ports=["%d:8080" % pa])
        b = self.instance("b", ports=["127.0.0.1:%d:8080/tcp" % pb])
        self.assertEqual(a["network"]["name"], "uk0")
        self.assertNotEqual(a["network"]["ip"], b["network"]["ip"])
        self.assertRegex(a["network"]["mac"], r"^02(:[0-9a-f]{2}){5}$")
        self.assertEqual(a["ports"], [{"host_ip": "127.0.0.1", "host_port": pa,
                                       "guest_port": 8080, "proto": "tcp"}])
        for ref, port in (("a", pa), ("b", pb)):
            self.wait_log(ref, "listening on port 8080")
            self.assertEqual(http_status("http://127.0.0.1:%d/index.html" % port), 404)
        # Straight to the guests' addresses from inside ukd's namespace.
        r = self.in_ns("curl", "-sS", "-m", "10", "-o", "/dev/null", "-w", "%{http_code}",
                       "http://%s:8080/" % b["network"]["ip"])
        self.assertEqual(r.stdout, "404", r.stdout)
        # A guest on uk0 fetches from B by IP.
        self.instance("f1", image="fetch", args=[b["network"]["ip"], "8080", "10"],
                      network="uk0")
        self.assertIn("fetch OK HTTP/1.", self.wait_log("f1", "fetch done", 90))
        # Another network: its guest cannot reach A (no route between bridges).
        n2 = self.api("POST", "/v1/networks", {"name": "net2", "subnet": "10.202.0.0/24"},
                      expect=201).json
        self.assertEqual((n2["gateway"], n2["namespace"]), ("10.202.0.1", self.ns))
        self.assertIn(n2["bridge"], self.our_bridges())
        self.instance("f2", image="fetch", args=[a["network"]["ip"], "8080", "10"],
                      network="net2")
        self.wait_log("f2", "fetch FAIL", 60)
        time.sleep(5)
        log = self.api("GET", "/v1/instances/f2/logs", expect=200).raw.decode()
        self.assertNotIn("fetch OK", log)
        # ...nor the host: nothing routes out of ukd's namespace.
        r = self.in_ns("ip", "route", "get", "1.1.1.1")
        self.assertNotEqual(r.returncode, 0, r.stdout)
        # A network in use cannot go; an unused one can.
        r = self.api("DELETE", "/v1/networks/net2", expect=409)
        self.assertEqual(r.json["error"]["code"], "network_in_use")
        self.api("DELETE", "/v1/instances/f2?force=1", expect=204)
        self.api("DELETE", "/v1/networks/net2", expect=204)
        self.assertNotIn(n2["bridge"], self.our_bridges())

    def test_port_taken_is_409_and_nothing_created(self):
        self.upload_httpd()
        held = socket.socket()
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        try:
            r = self.api("POST", "/v1/instances", {"image": "httpd", "name": "x",
                                                   "ports": ["%d:8080" % port]})
            self.assertEqual(r.status, 409, r)
            self.assertEqual(r.json["error"]["code"], "port_in_use")
            self.assertIn("in use", r.json["error"]["message"])
        finally:
            held.close()
        # Taken by another instance: the same answer; the second port of a refused
        # request does not stay bound.
        p1, p2 = td.free_port(), td.free_port()
        self.instance("a", ports=["%d:8080" % p1], start=False)
        r = self.api("POST", "/v1/instances", {"image": "httpd", "name": "y",
                                               "ports": ["%d:80" % p2, "%d:8080" % p1]})
        self.assertEqual(r.status, 409, r)
        self.assertFalse(self.listening(p2), "the refused request left port %d bound" % p2)
        names = [i["name"] for i in self.api("GET", "/v1/instances", expect=200).json]
        self.assertEqual(names, ["a"])
        self.assertEqual(self.our_taps(self.ns) + self.our_taps(None), [])
        uk0 = self.api("GET", "/v1/networks/uk0", expect=200).json
        self.assertEqual(uk0["instances"], 1)
        # Malformed specs are 422.
        for bad in (["80"], ["0:80"], ["1.2.3:80:80"], ["80:80/sctp"], "80:80"):
            r = self.api("POST", "/v1/instances", {"image": "httpd", "ports": bad})
            self.assertEqual(r.status, 422, (bad, r))
        r = self.api("POST", "/v1/instances", {"image": "httpd", "network": "nope"})
        self.assertEqual(r.status, 404, r)

    def tap_fd(self, domain, tap):
        """A duplicate of QEMU's own fd for the tap (pidfd_getfd): writing to it is
        exactly what a compromised guest's virtio-net can do."""
        with open("/run/libvirt/qemu/%s.pid" % domain) as f:
            pid = int(f.read())
        fddir = "/proc/%d/fdinfo" % pid
        target = None
        for n in os.listdir(fddir):
            try:
                with open(os.path.join(fddir, n)) as f:
                    if re.search(r"^iff:\s*%s$" % tap, f.read(), re.M):
                        target = int(n)
            except OSError:
                pass
        self.assertIsNotNone(target, "QEMU holds no fd for %s" % tap)
        libc = ctypes.CDLL(None, use_errno=True)
        pidfd = os.pidfd_open(pid)
        fd = libc.syscall(438, pidfd, target, 0)  # SYS_pidfd_getfd
        os.close(pidfd)
        self.assertGreaterEqual(fd, 0, os.strerror(ctypes.get_errno()))
        hdr = ctypes.c_int(0)
        fcntl.ioctl(fd, 0x800454d7, hdr)  # TUNGETVNETHDRSZ
        return fd, hdr.value

    @staticmethod
    def frame(dst_mac, src_mac, src_ip, dst_ip, payload):
        mac = lambda m: bytes(int(x, 16) for x in m.split(":"))
        udp = struct.pack("!HHHH", 40000, 9999, 8 + len(payload), 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                         socket.inet_aton(src_ip), socket.inet_aton(dst_ip))
        s = sum(struct.unpack("!10H", ip))
        s = (s & 0xffff) + (s >> 16)
        ip = ip[:10] + struct.pack("!H", ~((s & 0xffff) + (s >> 16)) & 0xffff) + ip[12:]
        return mac(dst_mac) + mac(src_mac) + b"\x08\x00" + ip + udp

    @staticmethod
    def arp(src_mac, sender_mac, sender_ip, target_ip):
        mac = lambda m: bytes(int(x, 16) for x in m.split(":"))
        body = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2) + mac(sender_mac) + \
            socket.inet_aton(sender_ip) + b"\xff" * 6 + socket.inet_aton(target_ip)
        return b"\xff" * 6 + mac(src_mac) + b"\x08\x06" + body

    SNIFF = r'''
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0))
s.settimeout(0.2)
seen, t0 = {}, time.monotonic()
print("ready", flush=True)
while time.monotonic() - t0 < float(sys.argv[2]):
    try:
        data = s.recv(65536)
    except socket.timeout:
        continue
    for tag in (b"LEGIT", b"SPOOFIP", b"SPOOFMAC", b"SPOOFBOTH"):
        if tag in data:
            seen[tag.decode()] = seen.get(tag.decode(), 0) + 1
    if data[12:14] == b"\x08\x06" and data[28:32] == socket.inet_aton(sys.argv[3]):
        seen["ARPSPOOF"] = seen.get("ARPSPOOF", 0) + 1
print(sorted(seen.items()), flush=True)
'''

    def test_spoofed_frames_do_not_reach_the_other_instance(self):
        """Frames written into S's tap (as S's QEMU would) reach A only with S's own MAC and
        address; with B's address or MAC they are dropped before the bridge learns them."""
        self.upload_httpd()
        a = self.instance("a", network="uk0")
        b = self.instance("b", network="uk0")
        s = self.instance("s", network="uk0")
        for ref in ("a", "b", "s"):
            self.wait_log(ref, "listening on port 8080")
        # The tap of a run is "uk" + the first 13 hex digits of its domain's UUID.
        uuid = lambda inst: td.virsh("domuuid", inst["domain"]).stdout.strip()
        taps = {i["name"]: "uk" + uuid(i).replace("-", "")[:13] for i in (a, s)}
        fd, hdrlen = self.tap_fd(s["domain"], taps["s"])
        sniff = subprocess.Popen(["ip", "netns", "exec", self.ns, sys.executable, "-c",
                                  self.SNIFF, taps["a"], "4", b["network"]["ip"]],
                                 stdout=subprocess.PIPE, text=True)
        try:
            self.assertEqual(sniff.stdout.readline().strip(), "ready")
            A, B, S = a["network"], b["network"], s["network"]
            frames = [
                self.frame(A["mac"], S["mac"], S["ip"], A["ip"], b"LEGIT"),
                self.frame(A["mac"], S["mac"], B["ip"], A["ip"], b"SPOOFIP"),
                self.frame(A["mac"], B["mac"], S["ip"], A["ip"], b"SPOOFMAC"),
                self.frame(A["mac"], B["mac"], B["ip"], A["ip"], b"SPOOFBOTH"),
                # "B's address is at my MAC": ARP poisoning, broadcast.
                self.arp(S["mac"], S["mac"], B["ip"], A["ip"]),
            ]
            for _ in range(3):
                for fr in frames:
                    os.write(fd, b"\0" * hdrlen + fr)
                time.sleep(0.1)
            seen = dict(eval(sniff.communicate(timeout=30)[0].strip().splitlines()[-1]))
        finally:
            os.close(fd)
            if sniff.poll() is None:
                sniff.kill()
        print("frames seen on A's tap:", seen)
        self.assertGreaterEqual(seen.get("LEGIT", 0), 1, "the control frame must arrive")
        for tag in ("SPOOFIP", "SPOOFMAC", "SPOOFBOTH", "ARPSPOOF"):
            self.assertEqual(seen.get(tag, 0), 0, tag)
        # The bridge never learnt B's MAC on S's port.
        fdb = sh("bridge", "-n", self.ns, "fdb", "show", "dev", taps["s"]).stdout
        self.assertNotIn(B["mac"], fdb)
        # And B still answers from its own address.
        r = self.in_ns("curl", "-sS", "-m", "10", "-o", "/dev/null", "-w", "%{http_code}",
                       "http://%s:8080/" % B["ip"])
        self.assertEqual(r.stdout, "404")

    def ukctl(self, *args, rc=0):
        r = subprocess.run([UKCTL, "-H", "unix://" + self.ukd.sock] + list(args), text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        self.assertEqual(r.returncode, rc, "ukctl %s: %s%s" % (args, r.stdout, r.stderr))
        return r

    def test_ukctl_network_and_publish(self):
        """ukctl network create|ls|inspect|rm, and run -p / --net, as a user types them."""
        self.upload_httpd()
        r = self.ukctl("network", "create", "--subnet", "10.203.0.0/24", "--bridge",
                       "ukt%d" % (os.getpid() % 100000), "back")
        self.assertEqual(r.stdout, "back\n")
        ls = self.ukctl("network", "ls").stdout
        self.assertRegex(ls, r"NAME\s+SUBNET\s+GATEWAY\s+BRIDGE\s+INSTANCES")
        self.assertRegex(ls, r"back\s+10\.203\.0\.0/24\s+10\.203\.0\.1\s+ukt\d+\s+0")
        self.assertRegex(ls, r"uk0\s+10\.201\.0\.0/24")
        self.assertEqual(self.ukctl("network", "ls", "-q").stdout.split(), ["uk0", "back"])
        self.assertIn("subnet:", self.ukctl("network", "inspect", "back").stdout)
        r = self.ukctl("network", "create", "--subnet", "10.203.0.0/25", "other", rc=1)
        self.assertIn("overlaps", r.stderr)
        port = td.free_port()
        self.ukctl("run", "-d", "--name", "w", "--net", "back", "-p", "%d:8080" % port,
                   "httpd", "8080", "/www")
        self.domains.add(self.api("GET", "/v1/instances/w").json["domain"])
        out = self.ukctl("inspect", "w").stdout
        self.assertRegex(out, r"network\.ip:\s+10\.203\.0\.\d+")
        self.assertRegex(out, r"network\.mac:\s+02:")
        self.wait_log("w", "listening on port 8080")
        self.assertEqual(http_status("http://127.0.0.1:%d/" % port), 404)
        r = self.ukctl("network", "rm", "back", rc=1)
        self.assertIn("attached", r.stderr)
        r = self.ukctl("run", "-d", "-p", "%d:8080" % port, "httpd", rc=1)
        self.assertIn("in use", r.stderr)
        self.ukctl("rm", "-f", "w")
        self.assertEqual(self.ukctl("network", "rm", "back").stdout, "Deleted back\n")

    def test_quick_start_build_context_with_files(self):
        """The README's demo: ukctl build images/httpd (uk.json with files and a
        port), run with -p, and the packed files come back byte for byte."""
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "images",
                           "httpd")
        r = self.ukctl("build", "-t", "web", src)
        self.assertIn("Built web:latest", r.stdout + r.stderr)
        port = td.free_port()
        self.ukctl("run", "-d", "--name", "web", "-p", "%d:8080" % port, "web")
        self.domains.add(self.api("GET", "/v1/instances/web").json["domain"])
        self.wait_log("web", "listening on port 8080")
        for name in ("index.html", "blob.bin"):
            with open(os.path.join(src, "www", name), "rb") as f:
                self.assertEqual(http_get("http://127.0.0.1:%d/%s" % (port, name)), (200, f.read()),
                                 name)
        self.ukctl("rm", "-f", "web")

    def test_udp_published_port(self):
        """A /udp published port relays datagrams both ways, one flow per client."""
        with open(os.path.join(APPS, "udpecho.c"), "rb") as f:
            src = f.read()
        ctx = td.tar_of([("uk.json", json.dumps({"name": "udpecho", "sources": ["udpecho.c"],
                                                  "mem": 16}).encode()), ("udpecho.c", src)])
        self.api("POST", "/v1/images", ctx, {"Content-Type": "application/x-tar"}, 201)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        self.instance("u", image="udpecho", args=["7777"], ports=["%d:7777/udp" % port])
        self.wait_log("u", "udpecho: ready")
        clients = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
        try:
            for i, c in enumerate(clients):
                c.settimeout(2)
                got = None
                for _ in range(10):  # UDP: a few tries, bounded
                    c.sendto(b"hello %d" % i, ("127.0.0.1", port))
                    try:
                        got = c.recvfrom(2048)[0]
                        break
                    except socket.timeout:
                        continue
                self.assertEqual(got, b"echo:hello %d" % i)
        finally:
            for c in clients:
                c.close()

    def reset_fast(self, port):
        """A client of the port is reset within a second (no guest behind it)."""
        t0 = time.monotonic()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                self.assertEqual(s.recv(100), b"")
        except (ConnectionResetError, BrokenPipeError):
            pass
        return time.monotonic() - t0

    def test_published_port_of_stopped_instance(self):
        """The port stays held for a created or stopped instance (nobody else gets it),
        but a client is turned away at once rather than left waiting; once started,
        the guest answers on it."""
        self.upload_httpd()
        port = td.free_port()
        self.instance("a", ports=["%d:8080" % port], start=False)
        self.assertTrue(self.listening(port))
        self.assertLess(self.reset_fast(port), 1.0)
        self.api("POST", "/v1/instances/a/start", expect=200)
        self.domains.add(self.api("GET", "/v1/instances/a").json["domain"])
        self.wait_log("a", "listening on port 8080")
        self.assertEqual(http_status("http://127.0.0.1:%d/" % port), 404)
        self.api("POST", "/v1/instances/a/kill", expect=200)
        deadline = time.monotonic() + 30
        while (self.api("GET", "/v1/instances/a").json["state"] != "exited" and
               time.monotonic() < deadline):
            time.sleep(0.2)
        self.assertTrue(self.listening(port))
        self.assertLess(self.reset_fast(port), 1.0)

    def test_netns_none_bridges_in_host_namespace(self):
        """--netns none: the bridge and the tap stay in the host's namespace, the guest
        answers on its address from the host and through its published port, and
        removing the instance leaves no tap or filter chain behind. The subnet is
        TEST-NET-2 (198.51.100.0/24, never routed) so the host's routes are untouched."""
        self.ukd.stop()
        sh("ip", "netns", "del", self.ns, check=False)
        self.ukd.start("--netns", "none", "--default-subnet", "198.51.100.0/24")
        self.upload_httpd()
        port = td.free_port()
        a = self.instance("a", ports=["%d:8080" % port])
        self.wait_log("a", "listening on port 8080")
        ip = a["network"]["ip"]
        self.assertTrue(ip.startswith("198.51.100."), ip)
        bridges = [l["ifname"] for l in links() if l.get("ifalias") == self.tag and
                   l.get("linkinfo", {}).get("info_kind") == "bridge"]
        self.assertEqual(len(bridges), 1, links())
        taps = self.our_taps(None)
        self.assertEqual(len(taps), 1)
        self.assertFalse(os.path.exists("/run/netns/" + self.ns))
        # The image has no files packed, so httpd's 404 is its answer.
        self.assertEqual(http_status("http://%s:8080/index.html" % ip), 404)
        self.assertEqual(http_status("http://127.0.0.1:%d/index.html" % port), 404)
        self.api("DELETE", "/v1/instances/a?force=1", expect=204)
        deadline = time.monotonic() + 30
        while self.our_taps(None) and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertEqual(self.our_taps(None), [])
        chains = re.findall(r"^:(uk[0-9a-f]+) ", sh("ebtables-save").stdout, re.M)
        self.assertNotIn(taps[0], chains)
        self.assertFalse(self.listening(port))

    def kernel_state(self):
        return {"ns_taps": self.our_taps(self.ns), "host_taps": self.our_taps(None),
                "bridges": self.our_bridges(), "chains": self.ebtables_chains()}

    def test_churn_with_kill9_leaves_no_orphans(self):
        """24 instances created and removed (6 live at a time, so addresses are
        reused), ukd killed with -9 once midway: no address given twice, and
        afterwards no tap, forward, chain or bridge the store does not account
        for. (kill -9 at many points is reliability.crash's job.)"""
        self.upload_httpd()
        base = td.free_port()
        live, ips, ports = [], {}, {}
        killed = False
        for i in range(24):
            port = base + 1 + i
            if i == 12:
                # Kill while a create is in flight.
                t = threading.Thread(target=lambda: self.api(
                    "POST", "/v1/instances", {"image": "httpd", "name": "c%d" % i,
                                              "memory_mib": 16, "args": ["8080", "/www"],
                                              "ports": ["%d:8080" % port]}))
                t.start()
                time.sleep(0.3)
                self.ukd.proc.send_signal(signal.SIGKILL)
                self.ukd.proc.wait()
                t.join(30)
                killed = True
                self.start_ukd()
                r = self.api("GET", "/v1/instances/c%d" % i)
                if r.status == 200:
                    self.domains.add(r.json["domain"])
                    live.append("c%d" % i)
                    ips["c%d" % i] = r.json["network"]["ip"]
                    ports["c%d" % i] = port
                continue
            inst = self.instance("c%d" % i, ports=["%d:8080" % port])
            live.append(inst["name"])
            ips[inst["name"]] = inst["network"]["ip"]
            ports[inst["name"]] = port
            self.assertEqual(len(set(ips.values())), len(ips), ips)
            if len(live) > 6:
                gone = live.pop(0)
                self.api("DELETE", "/v1/instances/%s?force=1" % gone, expect=204)
        self.assertTrue(killed)
        # The store and the kernel agree: one tap per running instance, nothing else.
        running = [i for i in self.api("GET", "/v1/instances", expect=200).json]
        st = self.kernel_state()
        print("live:", sorted(i["name"] for i in running), st)
        self.assertEqual(len(st["ns_taps"]), len(running))
        self.assertEqual(st["host_taps"], [])
        self.assertEqual(st["chains"], st["ns_taps"])
        for name in live:
            self.assertEqual(http_status("http://127.0.0.1:%d/" % ports[name], 20), 404, name)
        # Everything goes; a restart finds nothing to clean and nothing to bring back.
        for name in live:
            self.api("DELETE", "/v1/instances/%s?force=1" % name, expect=204)
        self.ukd.stop()
        self.start_ukd()
        time.sleep(1)
        st = self.kernel_state()
        self.assertEqual((st["ns_taps"], st["host_taps"], st["chains"]), ([], [], []))
        uk0 = self.api("GET", "/v1/networks/uk0", expect=200).json
        self.assertEqual(st["bridges"], [uk0["bridge"]])
        self.assertEqual(uk0["instances"], 0)
        for name in ports:
            self.assertFalse(self.listening(ports[name], self.ukd.proc.pid),
                             "forward of %s left over" % name)
        self.assertEqual(len(set(ips.values())), len(ips), "an address was given twice")

    def test_restart_adopts_taps_and_forwards(self):
        """A ukd restart (SIGTERM and -9) keeps a running instance reachable through its
        published port and leaves its tap alone."""
        self.upload_httpd()
        port = td.free_port()
        self.instance("a", ports=["%d:8080" % port])
        self.wait_log("a", "listening on port 8080")
        before = self.kernel_state()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            self.ukd.stop(sig)
            self.start_ukd()
            self.assertEqual(self.kernel_state(), before)
            self.assertEqual(http_status("http://127.0.0.1:%d/" % port), 404)

    def wrk(self, argv, url, seconds):
        r = sh(*(argv + ["wrk", "-t1", "-c8", "-d%ds" % seconds, "--timeout", "5s", url]),
               check=False, timeout=seconds + 60)
        m = re.search(r"Requests/sec:\s+([\d.]+)", r.stdout)
        self.assertIsNotNone(m, r.stdout)
        self.assertNotIn("Socket errors", r.stdout)
        return float(m.group(1))

    def test_bench_published_port_vs_direct(self):
        """Requests/s through the published port against a client inside ukd's namespace
        hitting the guest directly (target ratio >= 0.8), in short alternating runs
        (A B B A ...: the load of a shared host drifts within seconds); the median of
        the per-pair ratios is the measurement. tests/bench/portfwd_bench.py (metric 12
        of tests/bench/run) is the full version, with the 612-byte page."""
        self.upload_httpd()
        port = td.free_port()
        a = self.instance("a", ports=["%d:8080" % port])
        self.wait_log("a", "listening on port 8080")
        direct_url = "http://%s:8080/index.html" % a["network"]["ip"]
        port_url = "http://127.0.0.1:%d/index.html" % port
        ns = ["ip", "netns", "exec", self.ns]
        self.wrk(ns, direct_url, 2)  # warm up
        self.wrk([], port_url, 2)
        direct, proxied = [], []
        for i in range(int(os.environ.get("UKD_NET_BENCH_PAIRS", "8"))):
            runs = [(direct, ns, direct_url), (proxied, [], port_url)]
            for out, argv, url in (runs if i % 2 == 0 else runs[::-1]):
                out.append(self.wrk(argv, url, 2))
        ratios = sorted(p / d for p, d in zip(proxied, direct))
        ratio = statistics.median(ratios)
        print("BENCH requests/s: direct %s, published port %s; median paired ratio %.2f "
              "(min %.2f, max %.2f; target 0.8)" % ([round(x) for x in direct],
                                                    [round(x) for x in proxied], ratio,
                                                    ratios[0], ratios[-1]))
        # The target is 0.8. On a 2-core host where wrk, ukd and the TCG guest
        # compete for the cores with other jobs, single pairs range from 0.5 to 1.9
        # (docs/networking.md); the assertion guards against regressions, the printed
        # ratio is the measurement.
        self.assertGreaterEqual(ratio, 0.5)

    def test_bench_attach_100(self):
        self.upload_httpd()
        n = int(os.environ.get("UKD_NET_ATTACH_N", "100"))
        t0 = time.monotonic()
        for i in range(n):
            self.instance("m%d" % i, network="uk0")
        total = time.monotonic() - t0
        log = self.ukd.read_log()
        made = [float(x) for x in re.findall(r"tap \S+ created in ([\d.]+) ms", log)]
        plugged = [float(x) for x in re.findall(r"tap \S+ plugged into \S+ in ([\d.]+) ms", log)]
        self.assertEqual((len(made), len(plugged)), (n, n))
        print("BENCH attach %d instances: %.1f s wall (create+start), network share %.2f s "
              "(tap create mean %.1f ms, plug mean %.1f ms)" %
              (n, total, (sum(made) + sum(plugged)) / 1000, sum(made) / n, sum(plugged) / n))
        self.assertEqual(len(self.our_taps(self.ns)), n)
        ips = [i["network"]["ip"] for i in self.api("GET", "/v1/instances", expect=200).json]
        self.assertEqual(len(set(ips)), n)


def cases():
    return ["NetTest." + n for n in unittest.TestLoader().getTestCaseNames(NetTest)]


if __name__ == "__main__":
    if sys.argv[1:] == ["--list"]:
        print("\n".join(cases()))
        sys.exit(0)
    unittest.main(verbosity=2)
