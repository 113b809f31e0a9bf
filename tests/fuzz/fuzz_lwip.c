/*
 * fuzz_lwip.c: libFuzzer target for the guest's network input path: the
 * runtime's lwIP glue (runtime/net.c) and lwIP itself (from LWIP_DIR, with
 * runtime/lwip/lwipopts.h), fed Ethernet frames the way virtio-net hands
 * them over: net_init configures the interface (10.0.0.2/24, gateway
 * 10.0.0.1) and every frame goes through the netdev receive callback net.c
 * installs, into the netif's input function (ethernet_input).
 *
 * An application as the runtime's sockets would drive it (lwIP's raw API):
 * a TCP server on port 80 that echoes what it reads and closes when the peer
 * does, and a UDP echo on port 53. lwIP's clock is the harness's: it moves
 * only when the input says so, and each move runs the expired lwIP timers
 * the way the runtime's deadline does.
 *
 * Input: a mode byte, then records. Mode bit 0 set: the interface starts
 * without an address and runs DHCP, as net.c does without ip= (dhcp_start),
 * so the records can answer it; otherwise it has its static address.
 * Records: a u8 control byte, u16 length (little endian), then the
 * frame (frames outside 14..1518 bytes, which the driver never delivers, only
 * advance the clock). The control byte's low 6 bits are milliseconds to
 * advance first; bit 6 sets an IPv4 TCP segment's acknowledgement number to
 * the next sequence number the guest will send (the peer follows the
 * conversation, whatever initial sequence number lwIP picked) and a DHCP
 * reply's transaction id to the guest's last one; bit 7 fixes
 * the IPv4 header's and TCP/UDP/ICMP checksums, so that mutations reach past
 * the checksum checks. After each input every connection is
 * aborted, the ARP table flushed and the clock moved 20 s on, so inputs do
 * not depend on each other more than lwIP's counters make them.
 *
 * Checked: no memory error or undefined behaviour, no lwIP assertion, every
 * frame sent is 14..1518 bytes.
 *
 *   (the build: tests/fuzz/CMakeLists.txt, target fuzz_lwip)
 *   build/tests/fuzz/fuzz_lwip -max_total_time=3600 -max_len=8192 CORPUS_DIR tests/fuzz/corpus/lwip
 */
/* lwIP first: its arch/cc.h defines BYTE_ORDER, which libc's headers then leave alone. */
#include "lwip/dhcp.h"
#include "lwip/netif.h"
#include "lwip/etharp.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../drivers/netdev.h"
#include "cmdline.h"
#include "net.h"
#include "sched.h"

/* ---- what runtime/net.c needs from the rest of the runtime ---- */

static uint64_t now_ns;
static uint64_t rng;
static struct sched_timer *lwip_timer;

int64_t time_now_ns(int clock)
{
	(void)clock;
	return (int64_t)now_ns;
}

uint64_t time_ns_to_tsc(uint64_t ns)
{
	return ns;
}

void sched_timer_set(struct sched_timer *t, uint64_t deadline)
{
	t->deadline = deadline;
	lwip_timer = t;
}

void crash_panic(const char *why)
{
	fprintf(stderr, "crash_panic: %s\n", why);
	abort();
}

uint64_t random_u64(void)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return rng;
}

void *kmalloc(size_t size)
{
	return calloc(1, size ? size : 1);
}

void kfree(void *p)
{
	free(p);
}

int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	return vsnprintf(buf, size, fmt, ap);
}

void kprintf(const char *fmt, ...)
{
	(void)fmt;
}

/* ---- the device: net.c finds it with netdev_first ---- */

static struct netdev dev = {.mac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56}, .mtu = 1500};

struct netdev *netdev_first(void)
{
	return &dev;
}

static uint32_t guest_next_seq; /* after the last TCP segment the guest sent */
static uint8_t guest_xid[4];	/* of the last DHCP message the guest sent */

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int transmit(struct netdev *nd, const void *frame, size_t len)
{
	const uint8_t *f = frame;
	volatile uint8_t sum = 0;
	size_t ihl, doff;

	(void)nd;
	if (len < 14 || len > 1518)
		abort();
	for (size_t i = 0; i < len; i++)
		sum += f[i];
	if (len < 34 || f[12] != 0x08 || f[13] != 0)
		return 0;
	ihl = (size_t)(f[14] & 0xf) * 4;
	/* A DHCP message (UDP to port 67): remember its transaction id. */
	if (f[23] == 17 && len >= 14 + ihl + 8 + 8 && f[14 + ihl + 3] == 67)
		memcpy(guest_xid, f + 14 + ihl + 8 + 4, 4);
	/* A TCP segment: remember where the guest's sequence space goes next. */
	if (f[23] != 6)
		return 0;
	if (len < 14 + ihl + 20 || (doff = (size_t)(f[14 + ihl + 12] >> 4) * 4) < 20 ||
	    len < 14 + ihl + doff)
		return 0;
	guest_next_seq = get32(f + 14 + ihl + 4) + (uint32_t)(len - 14 - ihl - doff) +
			 !!(f[14 + ihl + 13] & 0x02) + !!(f[14 + ihl + 13] & 0x01);
	return 0;
}

/* ---- the peer's help for the fuzzer (control bits 6 and 7) ---- */

static uint16_t csum(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void fix_frame(uint8_t *f, size_t len, int ack, int sums)
{
	size_t ihl, l4len;
	uint8_t *ip = f + 14, *l4;
	uint32_t pseudo;

	if (len < 34 || f[12] != 0x08 || f[13] != 0 || (ip[0] >> 4) != 4)
		return;
	ihl = (size_t)(ip[0] & 0xf) * 4;
	if (ihl < 20 || len < 14 + ihl)
		return;
	l4 = ip + ihl;
	l4len = len - 14 - ihl;
	if (ack && ip[9] == 6 && l4len >= 20) {
		uint32_t a = guest_next_seq;

		l4[8] = (uint8_t)(a >> 24), l4[9] = (uint8_t)(a >> 16);
		l4[10] = (uint8_t)(a >> 8), l4[11] = (uint8_t)a;
	}
	if (ack && ip[9] == 17 && l4len >= 8 + 8 && l4[3] == 68)
		memcpy(l4 + 8 + 4, guest_xid, 4);
	if (!sums)
		return;
	put16(ip + 10, 0);
	put16(ip + 10, csum(0, ip, ihl));
	if ((ip[6] & 0x3f) || ip[7])
		return; /* a fragment: its checksum covers the whole datagram */
	pseudo = (uint32_t)(ip[12] << 8 | ip[13]) + (uint32_t)(ip[14] << 8 | ip[15]) +
		 (uint32_t)(ip[16] << 8 | ip[17]) + (uint32_t)(ip[18] << 8 | ip[19]) + ip[9] +
		 (uint32_t)l4len;
	if (ip[9] == 6 && l4len >= 20) {
		put16(l4 + 16, 0);
		put16(l4 + 16, csum(pseudo, l4, l4len));
	} else if (ip[9] == 17 && l4len >= 8) {
		put16(l4 + 6, 0);
		put16(l4 + 6, csum(pseudo, l4, l4len));
	} else if (ip[9] == 1 && l4len >= 4) {
		put16(l4 + 2, 0);
		put16(l4 + 2, csum(0, l4, l4len));
	}
}

/* ---- the application ---- */

static err_t echo_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	(void)arg, (void)err;
	if (!p) {
		tcp_arg(pcb, 0);
		tcp_recv(pcb, 0);
		if (tcp_close(pcb) != ERR_OK)
			tcp_abort(pcb);
		return ERR_OK;
	}
	tcp_recved(pcb, p->tot_len);
	for (struct pbuf *q = p; q; q = q->next)
		if (tcp_write(pcb, q->payload, q->len, TCP_WRITE_FLAG_COPY) != ERR_OK)
			break;
	tcp_output(pcb);
	pbuf_free(p);
	return ERR_OK;
}

static err_t echo_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	(void)arg;
	if (err != ERR_OK || !pcb)
		return ERR_VAL;
	tcp_recv(pcb, echo_recv);
	return ERR_OK;
}

static void udp_echo(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr,
		     u16_t port)
{
	(void)arg;
	udp_sendto(pcb, p, addr, port);
	pbuf_free(p);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct cmdline c = {.ip = "10.0.0.2/24", .gw = "10.0.0.1"};
	struct tcp_pcb *l = tcp_new();
	struct udp_pcb *u;

	(void)argc, (void)argv;
	dev.transmit = transmit;
	rng = 0x9e3779b97f4a7c15ull;
	if (net_init(&c) || !dev.receive)
		abort();
	if (!l || tcp_bind(l, IP_ANY_TYPE, 80) != ERR_OK || !(l = tcp_listen(l)))
		abort();
	tcp_accept(l, echo_accept);
	if (!(u = udp_new()) || udp_bind(u, IP_ANY_TYPE, 53) != ERR_OK)
		abort();
	udp_recv(u, udp_echo, 0);
	return 0;
}

/* Moves lwIP's clock on and runs its timer, as the runtime's deadline would. */
static void advance(uint32_t ms)
{
	now_ns += (uint64_t)ms * 1000000;
	if (lwip_timer && lwip_timer->deadline && lwip_timer->fn)
		lwip_timer->fn(lwip_timer);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct netif *nif = netif_default;
	ip4_addr_t addr, mask, gw;
	uint8_t frame[1518];
	int dhcp;

	if (!size)
		return 0;
	rng = 0x9e3779b97f4a7c15ull;
	dhcp = data[0] & 1;
	data++, size--;
	if (dhcp) {
		ip4_addr_copy(addr, *netif_ip4_addr(nif));
		ip4_addr_copy(mask, *netif_ip4_netmask(nif));
		ip4_addr_copy(gw, *netif_ip4_gw(nif));
		netif_set_addr(nif, IP4_ADDR_ANY4, IP4_ADDR_ANY4, IP4_ADDR_ANY4);
		if (dhcp_start(nif) != ERR_OK)
			abort();
	}
	while (size >= 3) {
		uint8_t ctl = data[0];
		size_t len = (size_t)(data[1] | data[2] << 8);

		data += 3, size -= 3;
		len = len < size ? len : size;
		advance(ctl & 0x3f);
		if (len >= 14 && len <= sizeof(frame)) {
			memcpy(frame, data, len);
			fix_frame(frame, len, ctl & 0x40, ctl & 0x80);
			dev.receive(dev.ctx, frame, len);
		}
		data += len, size -= len;
	}
	/* Forget this input: connections, ARP entries, fragments waiting for reassembly. */
	while (tcp_active_pcbs)
		tcp_abort(tcp_active_pcbs);
	while (tcp_tw_pcbs)
		tcp_abort(tcp_tw_pcbs);
	if (dhcp) {
		dhcp_release_and_stop(nif);
		netif_set_addr(nif, &addr, &mask, &gw);
	}
	etharp_cleanup_netif(nif);
	for (int i = 0; i < 20; i++)
		advance(1000);
	return 0;
}
