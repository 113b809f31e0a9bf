/*
 * ukhealth.h: the health protocol between the runtime's health agent (guest,
 * runtime/health.c) and ukd's health monitor (host, ukd/health.c).
 * Self-contained and compiled by both sides, with api/ukhealth.c, the one
 * checked codec that every frame crossing the VM boundary goes through.
 *
 * Transport: a byte stream, the virtio-console port named HEALTH_PORT_NAME
 * (libvirt <channel><target type='virtio' name=.../>), or the guest's COM2
 * 16550 when there is none. The stream is a sequence of frames:
 *
 *   offset 0  u16 magic   HEALTH_MAGIC (bytes 'U' 'H')
 *   offset 2  u16 type    enum health_type
 *   offset 4  u32 len     payload bytes that follow, 0..HEALTH_PAYLOAD_MAX
 *   offset 8  payload
 *
 * All integers are little-endian and unaligned. This frame header never
 * changes; what a payload holds is versioned by the protocol version that
 * the guest announces in every hello (HEALTH_VERSION). A host MUST refuse
 * (close the channel, with a reason) a hello whose version it does not know;
 * a reader MUST treat every frame as hostile: the length is checked before
 * anything is buffered, payloads are decoded field by field against their
 * length, strings are bounded and limited to printable ASCII.
 *
 * Strings are "str8": a u8 length then that many bytes, each 0x20..0x7e,
 * no NUL. Each string field below gives its maximum length.
 *
 * Times are nanoseconds (u64). "VM clock": nanoseconds since the virtual
 * CPU's time-stamp counter was reset, i.e. since the VM powered on.
 */
#ifndef UKHEALTH_H
#define UKHEALTH_H

#include <stddef.h>
#include <stdint.h>

#define HEALTH_VERSION 1
#define HEALTH_MAGIC 0x4855u /* "UH" on the wire */
#define HEALTH_HDR_SIZE 8u
#define HEALTH_FRAME_MAX 4096u
#define HEALTH_PAYLOAD_MAX (HEALTH_FRAME_MAX - HEALTH_HDR_SIZE)
/* The virtio-console port's name: the guest looks for it, the host names it so. */
#define HEALTH_PORT_NAME "org.ukd.health.0"

#define HEALTH_ID_MAX 64      /* instance id */
#define HEALTH_REASON_MAX 200 /* not-ready and panic reasons */
#define HEALTH_SYMBOL_MAX 64  /* one backtrace symbol */
#define HEALTH_FRAMES_MAX 16  /* backtrace entries in a panic */
#define HEALTH_METRICS_MAX 16 /* application metrics in a heartbeat */
#define HEALTH_METRIC_NAME_MAX 32
#define HEALTH_DIGEST_SIZE 32 /* sha256 */

/* Heartbeat interval bounds (milliseconds; 0 disables heartbeats). */
#define HEALTH_INTERVAL_DEFAULT_MS 1000u
#define HEALTH_INTERVAL_MIN_MS 10u
#define HEALTH_INTERVAL_MAX_MS 3600000u
/* Shutdown deadline bounds (milliseconds). */
#define HEALTH_DEADLINE_MIN_MS 1u
#define HEALTH_DEADLINE_MAX_MS 3600000u
/*
 * How long an exiting guest waits for a host to connect, when none is and
 * one is expected (ukd restarting), before it powers off without its exit
 * frame delivered (milliseconds; the guest's uk.exit-wait=MS, 0: no wait).
 */
#define HEALTH_EXIT_WAIT_DEFAULT_MS 60000u
#define HEALTH_EXIT_WAIT_MAX_MS 600000u

enum health_type {
	/* guest -> host */
	HEALTH_HELLO = 1,
	HEALTH_HEARTBEAT = 2,
	HEALTH_READY = 3, /* no payload */
	HEALTH_NOT_READY = 4,
	HEALTH_LOG_DROPPED = 5,
	HEALTH_EXIT = 6,
	HEALTH_PANIC = 7,
	/* host -> guest */
	HEALTH_PING = 0x81,
	HEALTH_SHUTDOWN = 0x82,
	HEALTH_SET_INTERVAL = 0x83,
};

/* Which end a reader serves: it accepts only the other end's message types. */
enum health_dir {
	HEALTH_TO_HOST, /* frames the guest sends */
	HEALTH_TO_GUEST,
};

/*
 * hello: the first frame after the agent starts (and again when a ping asks).
 *   u16 version         HEALTH_VERSION the guest speaks (decoded first)
 *   u16 flags           0
 *   u32 runtime_version major << 16 | minor << 8 | patch
 *   u64 first_ns        VM clock at the runtime's first instruction
 *   u64 main_ns         VM clock at the application's first instruction (0: not yet)
 *   u64 wall_ns         guest CLOCK_REALTIME (ns since 1970) when the hello was sent
 *   u8[32] digest       sha256 of the image, as the host named it (uk.image=); 0s: unknown
 *   str8 instance_id    <= HEALTH_ID_MAX, [0-9A-Za-z._-] (uk.id=); may be empty
 */
struct health_hello {
	uint16_t version, flags;
	uint32_t runtime_version;
	uint64_t first_ns, main_ns, wall_ns;
	uint8_t digest[HEALTH_DIGEST_SIZE];
	char instance_id[HEALTH_ID_MAX + 1];
};

enum health_sock_state {
	HEALTH_SOCK_LISTEN,
	HEALTH_SOCK_ESTABLISHED,
	HEALTH_SOCK_TIME_WAIT,
	HEALTH_SOCK_OTHER,
	HEALTH_SOCK_NSTATES,
};

struct health_metric {
	char name[HEALTH_METRIC_NAME_MAX + 1];
	int64_t value;
};

/*
 * heartbeat: at the configured interval while the application runs.
 *   u64 seq              1, 2, 3... (a gap means frames were lost)
 *   u64 uptime_ns        since the runtime's first instruction
 *   u64 mem_used         bytes of guest RAM in use (pages handed out)
 *   u64 mem_limit        bytes of guest RAM the runtime manages
 *   u64 mem_peak         the most bytes ever in use at once (high-water mark)
 *   u64 cpu_ns           CPU time of the application's threads
 *   u32 threads          live application threads
 *   u32 fds              open file descriptors
 *   u32[4] sockets       by enum health_sock_state
 *   u64 pkts_in, pkts_out, bytes_in, bytes_out   network interfaces, since boot
 *   u64 unknown_syscalls syscalls answered with ENOSYS because unimplemented
 *   u8 nmetrics          <= HEALTH_METRICS_MAX, then per metric:
 *     str8 name          <= HEALTH_METRIC_NAME_MAX, [0-9A-Za-z_:.] (Prometheus-safe)
 *     i64 value
 */
struct health_heartbeat {
	uint64_t seq, uptime_ns, mem_used, mem_limit, mem_peak, cpu_ns;
	uint32_t threads, fds;
	uint32_t sockets[HEALTH_SOCK_NSTATES];
	uint64_t pkts_in, pkts_out, bytes_in, bytes_out;
	uint64_t unknown_syscalls;
	uint32_t nmetrics;
	struct health_metric metrics[HEALTH_METRICS_MAX];
};

/* not_ready: str8 reason (<= HEALTH_REASON_MAX). ready has no payload. */
struct health_not_ready {
	char reason[HEALTH_REASON_MAX + 1];
};

/*
 * log_dropped: totals since boot (u64 each).
 *   u64 console_bytes  console output the runtime could not write
 *   u64 health_frames  health frames the agent could not send (UART stuck)
 */
struct health_log_dropped {
	uint64_t console_bytes, health_frames;
};

enum health_exit_reason {
	HEALTH_EXIT_NORMAL = 0,	  /* exit/exit_group */
	HEALTH_EXIT_SIGNAL = 1,	  /* ended by a signal's default action */
	HEALTH_EXIT_OOM = 2,	  /* out of memory */
	HEALTH_EXIT_PANIC = 3,	  /* a crash report (application fault or runtime bug) */
	HEALTH_EXIT_DEADLINE = 4, /* still running at a shutdown's deadline: powered off */
	HEALTH_EXIT_NREASONS,
};

/*
 * exit: the last frame before power-off. A guest whose host is not
 * connected (the port's host side closed, as while ukd restarts) waits up
 * to HEALTH_EXIT_WAIT_DEFAULT_MS for one where a host is expected (one was
 * connected before, or uk.id= was given), then sends a hello (the new host
 * has not had one), the panic if any, and this.
 *   u8 status  0..255, the VM's exit status (Linux convention: 128+N for signal N)
 *   u8 reason  enum health_exit_reason
 *   u8 signal  1..64 for HEALTH_EXIT_SIGNAL (and the fault's signal for a panic), else 0
 *   u8 pad     0
 */
struct health_exit {
	uint8_t status, reason, signal;
};

enum health_where {
	HEALTH_IN_APP = 0,
	HEALTH_IN_RUNTIME = 1,
};

struct health_frame {
	uint64_t addr;
	uint64_t offset;		    /* from the symbol's start */
	uint8_t where;			    /* enum health_where */
	char symbol[HEALTH_SYMBOL_MAX + 1]; /* "" if unknown */
};

/*
 * panic: a crash report, sent before the exit frame.
 *   str8 reason        <= HEALTH_REASON_MAX, e.g. "page fault (#PF) in the application"
 *   u64 fault_addr     the faulting address (page faults), else 0
 *   u8 nframes         <= HEALTH_FRAMES_MAX, innermost first; per frame:
 *     u64 addr, u64 offset, u8 where, str8 symbol (<= HEALTH_SYMBOL_MAX)
 */
struct health_panic {
	char reason[HEALTH_REASON_MAX + 1];
	uint64_t fault_addr;
	uint32_t nframes;
	struct health_frame frames[HEALTH_FRAMES_MAX];
};

/* ping: u32 flags. The guest answers with a heartbeat (and a hello first with HELLO). */
#define HEALTH_PING_HELLO 1u
struct health_ping {
	uint32_t flags;
};

/*
 * shutdown: u32 deadline_ms (HEALTH_DEADLINE_MIN_MS..MAX). The application gets
 * SIGTERM now; if it still runs deadline_ms later, the guest powers off
 * (exit reason HEALTH_EXIT_DEADLINE, status 137).
 */
struct health_shutdown {
	uint32_t deadline_ms;
};

/* set_interval: u32 interval_ms, 0 (heartbeats off) or HEALTH_INTERVAL_MIN_MS..MAX. */
struct health_set_interval {
	uint32_t interval_ms;
};

struct health_msg {
	uint16_t type; /* enum health_type */
	union {
		struct health_hello hello;
		struct health_heartbeat heartbeat;
		struct health_not_ready not_ready;
		struct health_log_dropped log_dropped;
		struct health_exit exit;
		struct health_panic panic;
		struct health_ping ping;
		struct health_shutdown shutdown;
		struct health_set_interval set_interval;
	} u;
};

/* What a reader reports besides messages: protocol violations, by kind. */
enum health_violation {
	HEALTH_V_MAGIC,	  /* bytes that are not a frame header (once per run and per 4 KiB of it) */
	HEALTH_V_LENGTH,  /* length above HEALTH_PAYLOAD_MAX */
	HEALTH_V_TYPE,	  /* unknown type, or one the other end does not send */
	HEALTH_V_PAYLOAD, /* payload does not decode (size, range, characters) */
	HEALTH_V_VERSION, /* hello with a protocol version this side does not speak */
	HEALTH_V_NKINDS,
};

/* Decode errors (negative). */
#define HEALTH_E_TYPE (-1)
#define HEALTH_E_PAYLOAD (-2)
#define HEALTH_E_VERSION (-3)
#define HEALTH_E_SPACE (-4)

/*
 * Decodes one payload of the given type into *out. Returns 0, or
 * HEALTH_E_TYPE / HEALTH_E_PAYLOAD / HEALTH_E_VERSION (out->u.hello.version
 * then holds the version the peer announced). Reads only p[0..len).
 */
int ukhealth_decode(uint16_t type, const uint8_t *p, uint32_t len, struct health_msg *out);

/*
 * Encodes *m as a whole frame into buf (cap bytes). Returns the frame
 * length, or HEALTH_E_SPACE / HEALTH_E_PAYLOAD (a field out of range, which
 * the encoder refuses so that it never writes what a decoder rejects).
 */
int ukhealth_encode(const struct health_msg *m, uint8_t *buf, size_t cap);

/*
 * The incremental reader: bytes in, messages and violations out, no I/O and
 * no allocation. Its memory is the struct (one frame buffer), whatever the
 * peer sends: a payload is buffered only after its length was checked.
 */
struct ukhealth_reader {
	uint8_t dir; /* enum health_dir: which types are accepted */
	uint8_t in_garbage;
	uint32_t garbage; /* bytes into the current run of garbage */
	uint32_t have;	  /* bytes of the current frame in buf */
	uint32_t skip;	  /* payload bytes still to drop (unknown type) */
	uint8_t buf[HEALTH_FRAME_MAX];
	uint64_t frames, bytes, violations;
	uint64_t by_kind[HEALTH_V_NKINDS];
	uint16_t peer_version; /* after HEALTH_V_VERSION */
};

enum health_event {
	HEALTH_R_MORE,	    /* everything consumed; feed more bytes */
	HEALTH_R_MSG,	    /* *msg holds a message */
	HEALTH_R_VIOLATION, /* *kind says which; counters updated */
};

void ukhealth_reader_init(struct ukhealth_reader *r, enum health_dir dir);

/*
 * Consumes bytes from data[0..len) until one message or one violation is
 * complete, or the bytes run out. Returns the event; *used is how many bytes
 * were consumed (call again with the rest). kind may be NULL.
 */
enum health_event ukhealth_reader_feed(struct ukhealth_reader *r, const uint8_t *data, size_t len,
				       size_t *used, struct health_msg *msg,
				       enum health_violation *kind);

/* Names for logs and the API: "hello", "heartbeat"...; "magic", "length"... */
const char *ukhealth_type_name(uint16_t type);
const char *ukhealth_violation_name(enum health_violation v);
const char *ukhealth_exit_reason_name(uint8_t reason);

#endif
