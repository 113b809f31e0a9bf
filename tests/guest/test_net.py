#!/usr/bin/env python3
"""Network tests: real virtio-net guests in a network namespace the test makes,
driven by real clients (ping, curl, wrk, python sockets). Needs root.

Run one case: test_net.py Net.test_ping   (ctest runs each case separately)
"""
import os
import re
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guest  # noqa: E402
from netns import GUEST_IP, NetGuest  # noqa: E402

IMAGES = os.environ.get("UKD_IMAGES", "build/images")
SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
STATIC = "ip=%s/24 gw=10.77.0.1" % GUEST_IP
URL = "http://%s:8080" % GUEST_IP

# Opens N fresh connections one after the other, each a full GET; prints "errors E".
SEQUENTIAL = r'''
import socket, sys
n, errors = int(sys.argv[1]), 0
for i in range(n):
    try:
        s = socket.create_connection((sys.argv[2], 8080), timeout=5)
        s.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        if not data.startswith(b"HTTP/1.1 200"):
            errors += 1
    except OSError:
        errors += 1
print("errors", errors)
'''

# Sends a header that never ends (up to 1 GiB, bounded by time); prints the reply's status line.
HUGE_HEADER = r'''
import socket, sys, time
s = socket.create_connection((sys.argv[1], 8080), timeout=5)
s.sendall(b"GET / HTTP/1.1\r\nX-Big: ")
sent, t0 = 0, time.monotonic()
try:
    while sent < (1 << 30) and time.monotonic() - t0 < 10:
        s.sendall(b"a" * 65536)
        sent += 65536
except OSError:
    pass
try:
    print("reply", s.recv(100).split(b"\r\n")[0].decode())
except OSError as e:
    print("reply error", e)
'''


# Pipelines SET k0..k(N-1) = value-i, then checks every reply; prints "stored N".
KV_FILL = r'''
import socket, sys
n = int(sys.argv[2])
s = socket.create_connection((sys.argv[1], 6379), timeout=30)
out = b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\nk%d\r\n$%d\r\nvalue-%d\r\n" % (len(b"k%d" % i), i, len(b"value-%d" % i), i) for i in range(n))
s.sendall(out)
buf = b""
while buf.count(b"\r\n") < n:
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
print("stored", buf.count(b"+OK\r\n"))
'''


# Hostile traffic from inside the namespace: 10,000 SYNs from spoofed sources
# (raw IP), then 3,000 malformed Ethernet frames (random, truncated headers,
# bad checksums) written straight onto the tap. Bounded in count.
HOSTILE = r'''
import os, random, socket, struct, sys
guest = socket.inet_aton(sys.argv[1])
random.seed(1)

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for i in range(10000):
    src = socket.inet_aton("10.77.%d.%d" % (random.randint(1, 250), random.randint(1, 250)))
    sport = random.randint(1024, 65535)
    tcp = struct.pack("!HHIIBBHHH", sport, 8080, random.getrandbits(32), 0, 5 << 4, 0x02, 65535, 0, 0)
    pseudo = src + guest + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), i & 0xffff, 0, 64, 6, 0, src, guest)
    raw.sendto(ip + tcp, (sys.argv[1], 0))
pk = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
pk.bind(("tap0", 0))
mac = bytes.fromhex("525400123456")
for i in range(3000):
    kind = i % 3
    if kind == 0:
        body = os.urandom(random.randint(0, 1500))
        frame = mac + os.urandom(6) + body
    elif kind == 1:  # IPv4 header cut short, claiming more
        frame = mac + os.urandom(6) + b"\x08\x00" + bytes([0x45, 0]) + struct.pack("!H", 1500) + os.urandom(random.randint(0, 10))
    else:  # well-formed IPv4/TCP with a wrong checksum
        tcp = struct.pack("!HHIIBBHHH", 4444, 8080, 1, 0, 5 << 4, 0x10, 100, 0xdead, 0) + os.urandom(20)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0x1234, socket.inet_aton("10.77.0.1"), guest)
        frame = mac + os.urandom(6) + b"\x08\x00" + ip + tcp
    pk.send(frame[:1514] if len(frame) >= 14 else frame + b"\0" * (14 - len(frame)))
print("sent")
'''


def kv():
    return os.path.join(IMAGES, "kv.img")


def httpd():
    return os.path.join(IMAGES, "httpd.img")


class Net(unittest.TestCase):
    def start(self, g):
        g.__enter__()
        self.addCleanup(g.__exit__, None, None, None)
        print("accelerator: %s" % guest.accel())
        return g

    def test_ping(self):
        g = self.start(NetGuest(httpd(), STATIC))
        g.wait_for("listening on port 8080")
        r = g.sh("ping", "-c", "3", "-i", "0.2", "-W", "2", GUEST_IP, check=False)
        print(r.stdout.decode())
        self.assertEqual(r.returncode, 0)
        self.assertIn("3 received", r.stdout.decode())

    def test_httpd_serves_files_identically(self):
        g = self.start(NetGuest(httpd(), STATIC))
        g.wait_for("listening on port 8080")
        for name in ("index.html", "blob.bin"):
            r = g.sh("curl", "-sS", "-m", "20", URL + "/" + name)
            with open(os.path.join(SRC, "images", "httpd", "www", name), "rb") as f:
                self.assertEqual(r.stdout, f.read(), name)
        r = g.sh("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", URL + "/nope")
        self.assertEqual(r.stdout, b"404")

    def test_sequential_connections(self):
        g = self.start(NetGuest(httpd(), STATIC))
        g.wait_for("listening on port 8080")
        r = g.sh(sys.executable, "-c", SEQUENTIAL, "1000", GUEST_IP, timeout=300)
        print(r.stdout.decode())
        self.assertIn("errors 0", r.stdout.decode())
        self.assertTrue(g.alive())

    def wrk(self, g, seconds, *extra):
        r = g.sh("wrk", "-t1", "-c8", "-d%ds" % seconds, "--timeout", "5s", *extra,
                 URL + "/index.html", timeout=seconds + 60)
        out = r.stdout.decode()
        print(out)
        self.assertNotIn("Socket errors", out)
        return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def test_wrk_keepalive_and_close(self):
        g = self.start(NetGuest(httpd(), STATIC))
        g.wait_for("listening on port 8080")
        keepalive = self.wrk(g, 10)
        close_first = self.wrk(g, 1, "-H", "Connection: close")
        close_long = self.wrk(g, 10, "-H", "Connection: close")
        print("keep-alive %.0f req/s; close: first second %.0f, 10 s %.0f" %
              (keepalive, close_first, close_long))
        self.assertGreater(keepalive, 0)
        # With churn, TIME_WAIT must not exhaust the stack: no collapse over 10 s.
        self.assertGreater(close_long, close_first / 2)

    def test_hostile_traffic_does_not_crash(self):
        g = self.start(NetGuest(httpd(), STATIC))
        g.wait_for("listening on port 8080")
        r = g.sh(sys.executable, "-c", HOSTILE, GUEST_IP, timeout=240)
        self.assertIn("sent", r.stdout.decode(), r.stdout.decode())
        self.assertTrue(g.alive(), g.output())
        r = g.sh("curl", "-sS", "-m", "20", "--retry", "3", URL + "/index.html", check=False)
        self.assertIn(b"Hello from a ukd unikernel", r.stdout, g.output())
        self.assertNotIn("=== crash", g.output())

    def test_serves_in_8_mib(self):
        # The memory target: httpd keeps serving with 8 MiB of guest RAM.
        g = self.start(NetGuest(httpd(), STATIC, mem=8))
        g.wait_for("listening on port 8080")
        r = g.sh("curl", "-sS", "-m", "20", URL + "/blob.bin")
        self.assertEqual(len(r.stdout), 200000)
        self.wrk(g, 3)
        self.assertTrue(g.alive())

    def test_answers_after_a_quiet_idle_spell(self):
        # Idle for 16 s, the runtime stops lwIP's cyclic timers (no wake-ups, no host
        # CPU); the next frame catches them up first. ARP, ping and HTTP all still work.
        g = self.start(NetGuest(httpd(), STATIC))
        g.wait_for("listening on port 8080")
        g.sh("curl", "-sS", "-m", "20", "-o", "/dev/null", URL + "/index.html")
        time.sleep(20)
        g.sh("ip", "neigh", "flush", "all")  # our side asks again: the guest must answer ARP
        r = g.sh("ping", "-c", "2", "-i", "0.2", "-W", "5", GUEST_IP, check=False)
        self.assertEqual(r.returncode, 0, r.stdout.decode())
        time.sleep(20)
        r = g.sh("curl", "-sS", "-m", "20", "-o", "/dev/null", "-w", "%{http_code}",
                 URL + "/index.html")
        self.assertEqual(r.stdout, b"200")
        self.assertTrue(g.alive())

    def test_dhcp(self):
        g = self.start(NetGuest(httpd(), "", dhcp=True))
        g.wait_for("(DHCP)", timeout=60)
        addr = re.search(r"net: (10\.77\.0\.\d+) netmask", g.output()).group(1)
        r = g.sh("ping", "-c", "2", "-W", "2", addr, check=False)
        self.assertEqual(r.returncode, 0, r.stdout.decode())
        time.sleep(20)  # quiet (the lease's timer still ticks): the next frame wakes it
        r = g.sh("ping", "-c", "2", "-W", "5", addr, check=False)
        self.assertEqual(r.returncode, 0, r.stdout.decode())

    def test_huge_header_rejected_and_service_continues(self):
        g = self.start(NetGuest(httpd(), STATIC))
        g.wait_for("listening on port 8080")
        r = g.sh(sys.executable, "-c", HUGE_HEADER, GUEST_IP, timeout=120)
        print(r.stdout.decode())
        self.assertIn("431", r.stdout.decode())
        r = g.sh("curl", "-sS", "-m", "10", URL + "/index.html")
        self.assertIn(b"Hello from a ukd unikernel", r.stdout)


class KV(unittest.TestCase):
    start = Net.start

    def cli(self, g, *args, **kw):
        r = g.sh("redis-cli", "-h", GUEST_IP, *args, timeout=120, **kw)
        return r.stdout

    def test_redis_benchmark(self):
        g = self.start(NetGuest(kv(), STATIC))
        g.wait_for("listening on port 6379")
        r = g.sh("redis-benchmark", "-h", GUEST_IP, "-t", "ping,set,get", "-n", "100000", "-q",
                 timeout=600)
        out = r.stdout.decode(errors="replace")
        print(out[-600:])
        self.assertEqual(r.returncode, 0)
        for t in ("PING_INLINE", "PING_MBULK", "SET", "GET"):
            self.assertRegex(out, t + r": [\d.]+ requests per second")
        self.assertTrue(g.alive())

    def test_values_round_trip(self):
        g = self.start(NetGuest(kv(), STATIC))
        g.wait_for("listening on port 6379")
        binary = bytes(range(256)) * 4
        big = os.urandom(1 << 20)
        for key, value in (("bin", binary), ("big", big)):
            self.assertEqual(self.cli(g, "-x", "set", key, input=value).strip(), b"OK")
            # redis-cli appends a newline to raw output; compare the payload.
            self.assertEqual(self.cli(g, "--raw", "get", key)[:-1], value, key)
        self.assertEqual(self.cli(g, "incr", "n").strip(), b"1")
        self.assertEqual(self.cli(g, "set", "t", "v", "EX", "100").strip(), b"OK")
        self.assertIn(self.cli(g, "ttl", "t").strip(), (b"100", b"99"))

    def test_garbage_does_not_crash(self):
        g = self.start(NetGuest(kv(), STATIC))
        g.wait_for("listening on port 6379")
        junk = "import socket,os,sys\nfor i in range(50):\n s=socket.create_connection((sys.argv[1],6379),timeout=5)\n s.sendall(os.urandom(4096)+b'*9999999\\r\\n$-5\\r\\n')\n try: s.recv(100)\n except OSError: pass\n s.close()\nprint('sent')"
        g.sh(sys.executable, "-c", junk, GUEST_IP, timeout=120)
        self.assertEqual(self.cli(g, "ping").strip(), b"PONG")

    def test_aof_on_disk_survives_power_off(self):
        disk = tempfile.NamedTemporaryFile(prefix="ukd-kv-disk-", delete=False)
        disk.truncate(32 << 20)
        disk.close()
        self.addCleanup(os.unlink, disk.name)
        args = STATIC + " -- --port 6379 --aof /dev/vda --appendfsync everysec"
        with NetGuest(kv(), args, disk=disk.name) as g:
            g.wait_for("listening on port 6379")
            r = g.sh(sys.executable, "-c", KV_FILL, GUEST_IP, "10000", timeout=300)
            self.assertIn("stored 10000", r.stdout.decode())
            time.sleep(2.5)  # past the everysec fsync
        # The VM was killed outright; boot again on the same disk.
        with NetGuest(kv(), args, disk=disk.name) as g:
            g.wait_for("listening on port 6379", timeout=120)
            self.assertIn("replayed 10000 keys", g.output())
            self.assertEqual(self.cli(g, "dbsize").strip(), b"10000")
            self.assertEqual(self.cli(g, "get", "k1234").strip(), b"value-1234")


def cases():
    loader = unittest.TestLoader()
    return ["%s.%s" % (c.__name__, n) for c in (Net, KV) for n in loader.getTestCaseNames(c)]


if __name__ == "__main__":
    if sys.argv[1:] == ["--list"]:
        print("\n".join(cases()))
        sys.exit(0)
    unittest.main(verbosity=2)
