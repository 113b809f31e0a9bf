/*
 * lwipopts.h: lwIP configured for the ukd runtime.
 *
 * NO_SYS=1 with the raw API, on purpose: the runtime has one vCPU and takes
 * interrupts only while the application runs or the vCPU idles, never in
 * the middle of runtime code. So received frames go from the virtio-net
 * interrupt straight into lwIP, and the socket syscalls (runtime/socket.c)
 * call lwIP directly: no tcpip thread, no mailbox, no context switch per
 * packet, and no locks. lwIP's timers run on one runtime deadline, armed
 * for the next lwIP timeout only (no periodic tick when idle).
 *
 * Tuned for servers: dynamic pools (memory is spent on connections in use,
 * not reserved), large windows, and a short MSL so TIME_WAIT pcbs cannot pile
 * up under connection churn.
 */
#ifndef LWIPOPTS_H
#define LWIPOPTS_H

#define NO_SYS 1
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_IPV4 1
#define LWIP_IPV6 0
#define LWIP_ARP 1
#define LWIP_ETHERNET 1
#define LWIP_ICMP 1
#define LWIP_RAW 0
#define LWIP_DHCP 1
#define LWIP_DNS 0
#define LWIP_IGMP 0
#define LWIP_UDP 1
#define LWIP_TCP 1
#define LWIP_NETIF_STATUS_CALLBACK 1
/* 127.0.0.1 and the guest's own address loop back; net.c delivers them. */
#define LWIP_NETIF_LOOPBACK 1
#define LWIP_LOOPBACK_MAX_PBUFS 256
#define LWIP_NETIF_LINK_CALLBACK 0
#define LWIP_STATS 0
#define LWIP_TIMERS 1
#define LWIP_CHECKSUM_ON_COPY 1
#define IP_REASSEMBLY 1
#define IP_FRAG 1

/* Memory: everything from the runtime heap, on demand. */
#define MEM_LIBC_MALLOC 1
#define MEMP_MEM_MALLOC 1
#define MEM_ALIGNMENT 8
#define mem_clib_malloc lwip_heap_alloc
#define mem_clib_free lwip_heap_free
#define mem_clib_calloc lwip_heap_calloc
#define MEMP_NUM_TCP_PCB 4096
#define MEMP_NUM_TCP_PCB_LISTEN 64
#define MEMP_NUM_UDP_PCB 64
#define MEMP_NUM_TCP_SEG 8192
#define MEMP_NUM_PBUF 1024
#define PBUF_POOL_SIZE 512
#define PBUF_POOL_BUFSIZE 1600
#define MEMP_NUM_SYS_TIMEOUT 16

/* TCP for servers. */
#define TCP_MSS 1460
#define TCP_WND (44 * TCP_MSS)
#define TCP_SND_BUF (44 * TCP_MSS)
#define TCP_SND_QUEUELEN (4 * TCP_SND_BUF / TCP_MSS)
#define TCP_SNDLOWAT (TCP_SND_BUF / 4)
/*
 * TIME_WAIT lasts 2 * MSL: 0.5 s, not lwIP's 2 min. lwIP walks its TIME_WAIT list
 * for incoming segments, so under connection churn (1000+ closes a second)
 * a long TIME_WAIT both exhausts memory and slows every packet down.
 */
#define TCP_MSL 250UL
#define TCP_LISTEN_BACKLOG 1
#define TCP_DEFAULT_LISTEN_BACKLOG 128
#define LWIP_TCP_KEEPALIVE 1
#define TCP_QUEUE_OOSEQ 1
#define SO_REUSE 1
#define LWIP_CALLBACK_API 1
#define LWIP_TCP_TIMESTAMPS 0
#define TCP_OVERSIZE TCP_MSS

#define LWIP_DEBUG 0
#define LWIP_NOASSERT 0

#endif
