#!/usr/bin/env python3
"""Writes the seed corpora of fuzz.virtq, fuzz.lwip, fuzz.vcon_ctrl,
fuzz.since, fuzz.restart and fuzz.elf (committed under tests/fuzz/corpus/):
small valid inputs in the formats the targets describe. Run it after changing
a format:

    python3 tests/fuzz/make_seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

GUEST_MAC = bytes.fromhex("525400123456")
PEER_MAC = bytes.fromhex("525400000001")
GUEST_IP = bytes([10, 0, 0, 2])
PEER_IP = bytes([10, 0, 0, 1])


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def eth(dst, ethertype, payload):
    return dst + PEER_MAC + struct.pack("!H", ethertype) + payload


def ip4(proto, payload, src=PEER_IP, dst=GUEST_IP, ident=1, frag=0, dst_mac=GUEST_MAC):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64, proto, 0,
                      src, dst)
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return eth(dst_mac, 0x0800, hdr + payload)


def l4_csum(proto, seg, src=PEER_IP, dst=GUEST_IP):
    return csum(src + dst + struct.pack("!BBH", 0, proto, len(seg)) + seg)


def tcp(sport, dport, seq, ack, flags, data=b"", opts=b""):
    off = (20 + len(opts)) // 4
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags, 65535, 0, 0)
    seg += opts + data
    c = l4_csum(6, seg)
    return ip4(6, seg[:16] + struct.pack("!H", c) + seg[18:])


def udp(sport, dport, data, dst=GUEST_IP, dst_mac=GUEST_MAC, ident=1):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    c = l4_csum(17, seg, dst=dst) or 0xFFFF
    return ip4(17, seg[:6] + struct.pack("!H", c) + seg[8:], dst=dst, dst_mac=dst_mac,
               ident=ident)


def icmp_echo(ident, seq, data):
    msg = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + data
    return ip4(1, msg[:2] + struct.pack("!H", csum(msg)) + msg[4:])


def arp(op, target_mac=b"\0" * 6):
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, PEER_MAC, PEER_IP, target_mac,
                       GUEST_IP)
    return eth(b"\xff" * 6 if op == 1 else GUEST_MAC, 0x0806, body)


ARP_REQ = arp(1)
ARP_REPLY = arp(2, GUEST_MAC)
SYN = tcp(40000, 80, 1000, 0, 0x02, opts=b"\x02\x04\x05\xb4")  # MSS 1460
ACK = tcp(40000, 80, 1001, 0, 0x10)
UDP = udp(40001, 53, b"hello, udp")
PING = icmp_echo(7, 1, b"ping" * 8)


# ---- fuzz_virtq: header, then operations ----
def vq_header(qsize, noff=0, mult=4, features=(1 << 5) | (1 << 15)):
    return struct.pack("<HHHH", qsize, noff, mult, features)


def vq_deliver(data, reported=None):
    return b"\0" + struct.pack("<H", len(data)) + data + struct.pack(
        "<I", len(data) if reported is None else reported)


def net_hdr(nbufs=1):
    return b"\0" * 10 + struct.pack("<H", nbufs)


VQ_IRQ = b"\x04"
VQ_TXDONE = b"\x06"


def vq_send(n):
    return b"\x05" + struct.pack("<H", n)


def virtq_seeds():
    yield "one_frame", vq_header(256) + vq_deliver(net_hdr() + ARP_REQ) + VQ_IRQ
    yield "send_and_complete", (vq_header(8) + vq_send(60) + vq_send(1514) + VQ_TXDONE +
                                VQ_TXDONE + vq_send(42))
    first = net_hdr(2) + SYN + b"\0" * (2048 - 12 - len(SYN))
    yield "merged_buffers", (vq_header(16) + vq_deliver(first) + vq_deliver(b"x" * 300) + VQ_IRQ)
    wrap = vq_header(4)
    for i in range(12):
        wrap += vq_deliver(net_hdr() + (UDP if i % 2 else PING)) + VQ_IRQ
    yield "ring_wrap", wrap
    yield "lying_len", vq_header(8) + vq_deliver(net_hdr() + ARP_REQ, 0xFFFFFFFF) + VQ_IRQ
    yield "bad_id", (vq_header(8) + b"\x01\x00" + struct.pack("<II", 0x10000, 64) +
                     vq_deliver(net_hdr() + PING) + VQ_IRQ)


# ---- fuzz_lwip: a mode byte (bit 0: DHCP), then records of u8 control (ms to advance, 0x40 ack the guest,
# 0x80 fix checksums), u16 length, frame ----
def rec(frame, ms=0, ack=False, fix=True):
    return struct.pack("<BH", ms | (0x40 if ack else 0) | (0x80 if fix else 0), len(frame)) + frame


def dhcp(msg_type, ident):
    """A DHCP reply from 10.0.0.1 offering 10.0.0.2 (the harness fills in the xid)."""
    bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 2, 1, 6, 0, 0, 0, 0, b"\0" * 4, GUEST_IP,
                        PEER_IP, b"\0" * 4, GUEST_MAC, b"", b"")
    opts = (b"\x63\x82\x53\x63" + bytes([53, 1, msg_type]) + bytes([54, 4]) + PEER_IP +
            bytes([51, 4]) + struct.pack("!I", 3600) + bytes([1, 4, 255, 255, 255, 0]) +
            bytes([3, 4]) + PEER_IP + bytes([6, 4]) + PEER_IP + b"\xff")
    return udp(67, 68, bootp + opts, dst=b"\xff" * 4, dst_mac=b"\xff" * 6, ident=ident)


def lwip_seeds():
    for name, data in lwip_records():
        yield name, b"\0" + data  # mode 0: the static address
    # mode 1: DHCP; the offer and the ack follow the guest's transaction ids.
    yield "dhcp_offer_ack", b"\x01" + rec(dhcp(2, 1), 1, ack=True) + rec(
        dhcp(5, 2), 1, ack=True) + rec(b"", 63, fix=False) + rec(b"", 63, fix=False) + rec(
            PING, 1)
    yield "dhcp_nak", b"\x01" + rec(dhcp(2, 1), 1, ack=True) + rec(dhcp(6, 2), 1, ack=True)


def lwip_records():
    yield "arp_request", rec(ARP_REQ)
    yield "arp_reply", rec(ARP_REPLY)
    yield "tcp_syn", rec(SYN)
    yield "tcp_handshake", rec(ARP_REPLY) + rec(SYN) + rec(ACK, 10, ack=True) + rec(
        tcp(40000, 80, 1001, 0, 0x18, b"GET / HTTP/1.0\r\n\r\n"), 10, ack=True) + rec(
            tcp(40000, 80, 1019, 0, 0x11), 10, ack=True)
    # The guest's answers wait for ARP: the peer's address comes first.
    yield "tcp_data_both_ways", rec(ARP_REPLY) + rec(SYN) + rec(ACK, 10, ack=True) + rec(
        tcp(40000, 80, 1001, 0, 0x18, b"x" * 1400), 1, ack=True) + rec(
            tcp(40000, 80, 2401, 0, 0x10), 63, ack=True) + rec(
                tcp(40000, 80, 2401, 0, 0x04), 1, ack=True)
    yield "udp_datagram", rec(ARP_REPLY) + rec(UDP)
    yield "icmp_echo", rec(ARP_REPLY) + rec(PING)
    # An IP datagram in two fragments (reassembly), then time for its timer.
    payload = struct.pack("!HHHH", 40002, 53, 8 + 40, 0) + b"f" * 40
    yield "ip_fragments", (rec(ip4(17, payload[:24], ident=9, frag=0x2000)) +
                           rec(ip4(17, payload[24:], ident=9, frag=3), 50) + rec(b"", 63, fix=False))


# ---- fuzz_vcon_ctrl: u8 max_nr_ports, then (u8 reported length, u8 bytes, bytes) ----
def ctrl(event, value, port=1, extra=b""):
    m = struct.pack("<IHH", port, event, value) + extra
    return bytes([len(m), len(m)]) + m


def vcon_ctrl_seeds():
    name = b"org.ukd.health.0\0"
    yield "qemu_open", b"\x1f" + ctrl(1, 1) + ctrl(7, 1, extra=name) + ctrl(6, 1)
    yield "open_close_remove", (b"\x1f" + ctrl(1, 1) + ctrl(7, 1, extra=name) + ctrl(6, 1) +
                                ctrl(6, 0) + ctrl(2, 1))
    yield "two_ports", (b"\x04" + ctrl(1, 1) + ctrl(1, 1, 2) + ctrl(7, 1, 2, b"other\0") +
                        ctrl(7, 1, 1, name))


def since_seeds():
    for i, t in enumerate([b"2024-05-01T10:00:00Z", b"2024-05-01T10:00:00.123+02:00", b"10m",
                           b"1h30m", b"500ms", b"2d", b"1714557600", b"1714557600.5"]):
        yield "t%d" % i, t


def restart_seeds():
    for p in [b"no", b"on-failure", b"on-failure:3", b"always", b"unless-stopped"]:
        yield p.decode().replace(":", "_"), p


# ---- fuzz_elf: a minimal static executable and PIE, each with a symbol table ----
def elf(etype):
    code = b"\x31\xff\xb8\x3c\x00\x00\x00\x0f\x05" + b"\x90" * 7  # exit(0)
    strtab = b"\0_start\0"
    base = 0x400000 if etype == 2 else 0
    sym = struct.pack("<IBBHQQ", 0, 0, 0, 0, 0, 0) + struct.pack("<IBBHQQ", 1, 0x12, 0, 1,
                                                                 base + 120, len(code))
    shoff = 144 + len(sym)
    ehdr = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + struct.pack(
        "<HHIQQQIHHHHHH", etype, 62, 1, base + 120, 64, shoff, 0, 64, 56, 1, 64, 3, 0)
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, 136, 136, 0x1000)
    body = ehdr + phdr + code + strtab + sym
    sh = b"\0" * 64
    sh += struct.pack("<IIQQQQIIQQ", 0, 2, 0, 0, 144, len(sym), 2, 1, 8, 24)
    sh += struct.pack("<IIQQQQIIQQ", 0, 3, 0, 0, 136, len(strtab), 0, 0, 1, 0)
    return body + sh


def elf_seeds():
    yield "static_exec", elf(2)
    yield "static_pie", elf(3)


def write(name, seeds):
    d = os.path.join(HERE, "corpus", name)
    os.makedirs(d, exist_ok=True)
    for fname, data in seeds:
        with open(os.path.join(d, fname), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write("virtq", virtq_seeds())
    write("lwip", lwip_seeds())
    write("vcon_ctrl", vcon_ctrl_seeds())
    write("since", since_seeds())
    write("restart", restart_seeds())
    write("elf", elf_seeds())
