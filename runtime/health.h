/*
 * health.h: the health agent. Part of the runtime, not of the application:
 * it speaks the health protocol (api/ukhealth.h) to the host over a transport
 * (health_transport.h: a virtio-console port, else COM2) and serves
 * /dev/health to the application.
 *
 * Guest side of the protocol: a hello once the application runs, then
 * heartbeats every interval (default 1 s; `uk.heartbeat=MS`, 0 disables;
 * the host may change it), ready / not-ready, and at the end panic (crash
 * report) and exit, written synchronously before power-off. Host messages
 * (ping, shutdown, set-heartbeat-interval) are handled from the transport's
 * interrupt (virtio-console), and looked for at idle entry and at each
 * heartbeat (COM2, polled). Without a transport every call is a no-op.
 *
 * Command-line options (all optional): uk.id=ID (instance id, echoed in the
 * hello), uk.image=SHA256HEX (image digest, echoed), uk.heartbeat=MS,
 * uk.port=N (readiness port; default: the manifest's port=, else any listen),
 * uk.exit-wait=MS (how long an exit waits for a host that went away).
 *
 * /dev/health accepts one command per write (text, at most 256 bytes, a
 * trailing newline allowed): "ready", "not-ready [REASON]",
 * "metric NAME VALUE" (set), "metric-add NAME DELTA". Metric names are
 * [A-Za-z_:][A-Za-z0-9_:]*, at most HEALTH_METRIC_NAME_MAX bytes; values are
 * signed 64-bit decimal; at most HEALTH_METRICS_MAX names (then -ENOSPC).
 */
#ifndef RUNTIME_HEALTH_H
#define RUNTIME_HEALTH_H

#include <stdint.h>

/* A `uk.*` option from the command line: 1 if it was the agent's, else 0. */
int health_option(const char *word);
/* Just before the application starts: finds the transport, creates /dev/health, arms the hello. */
void health_start(void);

/*
 * Hook for the socket layer: the application listens on `port`. The first
 * listen on the readiness port (or on any port when none is configured)
 * makes the instance ready.
 */
void health_note_listen(int port);

/* Network figures for heartbeats; the network stack defines it (weak: zeros until then). */
struct health_net_stats {
	uint32_t sockets[4]; /* enum health_sock_state */
	uint64_t pkts_in, pkts_out, bytes_in, bytes_out;
};
void health_net_stats(struct health_net_stats *out) __attribute__((weak));

/* The crash path (crash.c): a report begins; each symbolized address of it. */
void health_panic_begin(const char *what, const char *where, uint64_t fault_addr);
void health_panic_frame(uint64_t addr, const char *symbol, uint64_t offset, int in_app);
/* How the process ends, before proc_exit: killed by a signal; out of memory. */
void health_note_signal(int sig);
void health_note_oom(void);
/*
 * From proc_exit, first: if no host is connected where one is expected (it
 * was earlier, or ukd started the guest: uk.id=), as while ukd restarts,
 * waits for one, halted, at most uk.exit-wait=MS (default
 * HEALTH_EXIT_WAIT_DEFAULT_MS, 0: no wait), so that the exit frame reaches
 * it. From then on interrupts only wake the vCPU.
 */
void health_exit_wait(void);
/* From proc_exit: sends what is pending (hello, panic) and the exit frame, flushed. */
void health_exit(int status);

#endif
