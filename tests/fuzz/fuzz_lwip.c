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
 * Input: records of u8 milliseconds to advance, u16 length (little endian),
 * then the frame (frames outside 14..1518 bytes, which the driver never
 * delivers, only advance the clock). After each input every connection is
 * aborted, the ARP table flushed and the clock moved 20 s on, so inputs do
 * not depend on each other more than lwIP's counters make them.
 *
 * Checked: no memory error or undefined behaviour (unaligned accesses
 * aside: lwIP reads IP headers at 2-byte offsets, which x86 allows), no lwIP
 * assertion, every frame sent is 14..1518 bytes.
 *
 *   (the build: tests/fuzz/CMakeLists.txt, target fuzz_lwip)
 *   build/tests/fuzz/fuzz_lwip -max_total_time=3600 -max_len=8192 CORPUS_DIR tests/fuzz/corpus/lwip
 */
/* lwIP first: its arch/cc.h defines BYTE_ORDER, which libc's headers then leave alone. */
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

static int transmit(struct netdev *nd, const void *frame, size_t len)
{
	volatile uint8_t sum = 0;

	(void)nd;
	if (len < 14 || len > 1518)
		abort();
	for (size_t i = 0; i < len; i++)
		sum += ((const uint8_t *)frame)[i];
	return 0;
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
	rng = 0x9e3779b97f4a7c15ull;
	while (size >= 3) {
		uint8_t ms = data[0];
		size_t len = (size_t)(data[1] | data[2] << 8);

		data += 3, size -= 3;
		len = len < size ? len : size;
		advance(ms);
		if (len >= 14 && len <= 1518)
			dev.receive(dev.ctx, data, len);
		data += len, size -= len;
	}
	/* Forget this input: connections, ARP entries, fragments waiting for reassembly. */
	while (tcp_active_pcbs)
		tcp_abort(tcp_active_pcbs);
	while (tcp_tw_pcbs)
		tcp_abort(tcp_tw_pcbs);
	etharp_cleanup_netif(netif_default);
	for (int i = 0; i < 20; i++)
		advance(1000);
	return 0;
}
