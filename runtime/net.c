/*
 * net.c: lwIP glue. See lwip/lwipopts.h for why lwIP runs without threads:
 * frames go from the virtio-net interrupt straight into ethernet_input.
 */
#include "net.h"

#include "../drivers/netdev.h"
#include "console.h"
#include "cpu.h"
#include "crash.h"
#include "errno.h"
#include "fmt.h"
#include "health.h"
#include "ukhealth.h"
#include "heap.h"
#include "lib.h"
#include "random.h"
#include "sched.h"
#include "time.h"

#include "lwip/dhcp.h"
#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/ip4_frag.h"
#include "lwip/netif.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"

#define MAX_FRAME 1518

static struct netif netif;
static struct netdev *dev;
static struct sched_timer timer;
static int dhcp_used;
static int stack_ready;

/*
 * Quiet mode. lwIP's cyclic timers (ARP and IP reassembly every second, DHCP
 * every 500 ms and 60 s) would wake an idle guest four times a second, and
 * under TCG each wake-up costs QEMU a main-loop round and the vCPU thread a
 * switch. With no frame in or out for NET_QUIET_MS, no TCP connection (not even
 * TIME_WAIT) and no DHCP request outstanding, those timers have nothing to do
 * but age the ARP table: the stack goes quiet and the guest sleeps (until
 * DHCP's next lease tick when DHCP is used). The next frame, outgoing
 * connection or datagram first catches up: the ARP and reassembly timers run
 * once per second missed (bounded: after ARP_MAXAGE ticks every entry has
 * expired), as if the ticks had happened with nothing else going on, which is
 * what the quiet time was. NET_QUIET_MS is past IP_REASS_MAXAGE and
 * ARP_MAXPENDING ticks: nothing half-done is left to time out.
 */
#define NET_QUIET_MS ((IP_REASS_MAXAGE + 1) * 1000u)
#define NET_CATCH_UP_MAX (ARP_MAXAGE + 1)
static int quiet;
static u32_t quiet_since, last_frame;

/* ---- what lwIP needs from its platform (lwip/arch/cc.h) ---- */

u32_t sys_now(void)
{
	return (u32_t)(time_now_ns(CLOCK_MONOTONIC) / 1000000);
}

void lwip_diag(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	kprintf("lwip: %s", buf);
}

void lwip_assert_failed(const char *msg, const char *file, int line)
{
	kprintf("lwip: assertion failed at %s:%d: %s\n", file, line, msg);
	crash_panic("lwIP assertion");
}

unsigned long lwip_random(void)
{
	return (unsigned long)random_u64();
}

void *lwip_heap_alloc(size_t size)
{
	return kmalloc(size);
}

void *lwip_heap_calloc(size_t n, size_t size)
{
	return n && size > ~(size_t)0 / n ? 0 : kmalloc(n * size); /* kmalloc zeroes */
}

void lwip_heap_free(void *p)
{
	kfree(p);
}

int atoi(const char *s)
{
	int v = 0, neg = *s == '-';

	for (s += neg; *s >= '0' && *s <= '9'; s++)
		v = v * 10 + (*s - '0');
	return neg ? -v : v;
}

/* ---- timers ---- */

static void on_timer(struct sched_timer *t)
{
	(void)t;
	net_wake();
	sys_check_timeouts();
	net_timers_changed();
}

/* Something for the stack to do now: if it was quiet, the timers catch up first. */
void net_wake(void)
{
	u32_t now, ticks;

	if (!quiet)
		return;
	now = sys_now();
	ticks = (now - quiet_since) / 1000;
	if (ticks > NET_CATCH_UP_MAX)
		ticks = NET_CATCH_UP_MAX;
	/* The last one is lwIP's own, overdue: sys_check_timeouts runs it. */
	for (u32_t i = 1; i < ticks; i++) {
		etharp_tmr();
		ip_reass_tmr();
	}
	quiet = 0;
	sys_check_timeouts();
}

/* Nothing the cyclic timers could still have to do (see NET_QUIET_MS). */
static int can_be_quiet(u32_t now)
{
	struct dhcp *d = netif_dhcp_data(&netif);

	return now - last_frame >= NET_QUIET_MS && !tcp_active_pcbs && !tcp_tw_pcbs &&
	       !(d && d->request_timeout);
}

/*
 * Loopback traffic (127.0.0.1, our own address) waits on lwIP's loop queues
 * until polled. Each delivery may queue an answer (SYN, SYN-ACK, ACK...), so
 * poll until the queues are empty, with a bound against a ping-pong loop.
 */
static void deliver_loopback(void)
{
	for (int round = 0; round < 64; round++) {
		struct netif *n;
		int pending = 0;

		NETIF_FOREACH(n)
		pending |= n->loop_first != NULL;
		if (!pending)
			return;
		netif_poll_all();
	}
}

void net_timers_changed(void)
{
	u32_t ms, now;

	if (!stack_ready)
		return;
	deliver_loopback();
	now = sys_now();
	if (quiet && !can_be_quiet(now))
		quiet = 0; /* woken by a path that did not call net_wake: no catch-up */
	else if (!quiet && can_be_quiet(now)) {
		quiet = 1;
		quiet_since = now;
	}
	if (quiet)
		ms = dhcp_used ? DHCP_COARSE_TIMER_MSECS : SYS_TIMEOUTS_SLEEPTIME_INFINITE;
	else
		ms = sys_timeouts_sleeptime();

	if (ms == SYS_TIMEOUTS_SLEEPTIME_INFINITE)
		sched_timer_set(&timer, 0);
	else
		sched_timer_set(&timer, rdtsc() + time_ns_to_tsc((uint64_t)ms * 1000000) + 1);
}

/* ---- the interface ---- */

static err_t linkoutput(struct netif *n, struct pbuf *p)
{
	uint8_t frame[MAX_FRAME];

	(void)n;
	if (p->tot_len > sizeof(frame))
		return ERR_BUF;
	pbuf_copy_partial(p, frame, p->tot_len, 0);
	last_frame = sys_now();
	return dev->transmit(dev, frame, p->tot_len) ? ERR_MEM : ERR_OK;
}

static void receive(void *ctx, const void *frame, size_t len)
{
	struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL);

	(void)ctx;
	net_wake();
	last_frame = sys_now();
	if (!p) {
		dev->rx_dropped++;
		return;
	}
	pbuf_take(p, frame, (u16_t)len);
	if (netif.input(p, &netif) != ERR_OK)
		pbuf_free(p);
	net_timers_changed();
}

static err_t netif_setup(struct netif *n)
{
	n->name[0] = 'e';
	n->name[1] = 'n';
	n->hwaddr_len = 6;
	memcpy(n->hwaddr, dev->mac, 6);
	n->mtu = dev->mtu;
	n->flags =
		NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_LINK_UP;
	n->output = etharp_output;
	n->linkoutput = linkoutput;
	return ERR_OK;
}

static void status_changed(struct netif *n)
{
	char a[16], m[16], g[16];

	if (ip4_addr_isany(netif_ip4_addr(n)))
		return;
	ip4addr_ntoa_r(netif_ip4_addr(n), a, sizeof(a));
	ip4addr_ntoa_r(netif_ip4_netmask(n), m, sizeof(m));
	ip4addr_ntoa_r(netif_ip4_gw(n), g, sizeof(g));
	kprintf("runtime: net: %s netmask %s gateway %s%s\n", a, m, g, dhcp_used ? " (DHCP)" : "");
}

/* "a.b.c.d/prefix" into address and netmask. */
static int parse_cidr(const char *s, ip4_addr_t *addr, ip4_addr_t *mask)
{
	char buf[20];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	int prefix = slash ? atoi(slash + 1) : 24;

	if (n >= sizeof(buf) || prefix < 1 || prefix > 32 || (slash && !slash[1]))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = 0;
	if (!ip4addr_aton(buf, addr))
		return -EINVAL;
	ip4_addr_set_u32(mask, lwip_htonl(prefix == 32 ? 0xffffffffu : ~(0xffffffffu >> prefix)));
	return 0;
}

void net_stack_init(void)
{
	if (!stack_ready) {
		lwip_init();
		timer.fn = on_timer;
		stack_ready = 1;
	}
}

int net_init(const struct cmdline *c)
{
	ip4_addr_t addr, mask, gw;

	if (!(dev = netdev_first()))
		return 0;
	ip4_addr_set_zero(&addr);
	ip4_addr_set_zero(&mask);
	ip4_addr_set_zero(&gw);
	if (c->ip && parse_cidr(c->ip, &addr, &mask)) {
		kprintf("runtime: net: bad ip=%s (want ADDR/PREFIX)\n", c->ip);
		return -EINVAL;
	}
	if (c->gw && !ip4addr_aton(c->gw, &gw)) {
		kprintf("runtime: net: bad gw=%s\n", c->gw);
		return -EINVAL;
	}
	net_stack_init();
	dev->receive = receive;
	if (!netif_add(&netif, &addr, &mask, &gw, 0, netif_setup, ethernet_input))
		return -ENOMEM;
	netif_set_default(&netif);
	netif_set_status_callback(&netif, status_changed);
	netif_set_up(&netif);
	if (!c->ip) {
		dhcp_used = 1;
		dhcp_start(&netif);
	}
	net_timers_changed();
	return 0;
}

/* For the health agent's heartbeats: sockets by TCP state and interface counters. */
void health_net_stats(struct health_net_stats *out)
{
	struct tcp_pcb *p;
	struct tcp_pcb_listen *l;

	*out = (struct health_net_stats){0};
	if (!stack_ready)
		return;
	for (l = tcp_listen_pcbs.listen_pcbs; l; l = l->next)
		out->sockets[HEALTH_SOCK_LISTEN]++;
	for (p = tcp_active_pcbs; p; p = p->next)
		out->sockets[p->state == ESTABLISHED ? HEALTH_SOCK_ESTABLISHED
						     : HEALTH_SOCK_OTHER]++;
	for (p = tcp_tw_pcbs; p; p = p->next)
		out->sockets[HEALTH_SOCK_TIME_WAIT]++;
	if (!dev)
		return;
	out->pkts_in = dev->rx_packets;
	out->pkts_out = dev->tx_packets;
	out->bytes_in = dev->rx_bytes;
	out->bytes_out = dev->tx_bytes;
}
