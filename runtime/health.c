/*
 * health.c: the health agent (health.h). Frames are built and checked by the
 * shared codec (api/ukhealth.c) and written synchronously through the
 * transport, so whatever was sent before power-off has left the guest.
 *
 * Everything runs with interrupts off, from the scheduler's runtime timers,
 * its idle hook, /dev/health writes and the exit and crash paths; the
 * buffers are static so the crash path needs no allocation and little stack.
 */
#include "health.h"

#include "ukhealth.h"
#include "console.h"
#include "cpu.h"
#include "errno.h"
#include "fdtable.h"
#include "fmt.h"
#include "health_transport.h"
#include "image.h"
#include "lib.h"
#include "pmem.h"
#include "proc.h"
#include "ramfs.h"
#include "sched.h"
#include "signal.h"
#include "syscall.h"
#include "time.h"
#include "vfs.h"

#define SIGTERM 15
#define DEADLINE_STATUS 137 /* as if SIGKILLed, which is what a forced power-off is */
#define CMD_MAX 256
#define POLL_MAX 4096 /* host bytes looked at per poll, so a flood cannot hold the guest */

/*
 * The transport, chosen at first use (choose()): the virtio port's setup
 * costs several ms under TCG, which the boot (first instruction to main)
 * should not pay; the first frame goes out after main anyway.
 */
static const struct health_transport *tp;
static const struct health_transport *const transports[] = {&health_virtio, &health_uart_com2};
static int enabled, sending, exiting, panicking;

/* Configuration (command line). */
static char inst_id[HEALTH_ID_MAX + 1];
static uint8_t digest[HEALTH_DIGEST_SIZE];
static uint32_t interval_ms = HEALTH_INTERVAL_DEFAULT_MS;
static int ready_port = -1; /* -1: any port */
static uint32_t exit_wait_ms = HEALTH_EXIT_WAIT_DEFAULT_MS;

/* State. */
static int hello_sent, hello_lost, ready, listened, exit_sig, oom, deadline_hit, exit_waited;
/* The last readiness frame did not leave (device busy, host away): the next beat sends it. */
static int readiness_lost;
static char not_ready_reason[HEALTH_REASON_MAX + 1];
static uint64_t seq, frames_dropped;
static struct health_metric metrics[HEALTH_METRICS_MAX];
static uint32_t nmetrics;
static struct sched_timer beat, deadline;

/* Static buffers: the crash path must not allocate, nor use much stack. */
static struct health_msg out_msg, in_msg, panic_msg;
static uint8_t out_buf[HEALTH_FRAME_MAX];
static struct ukhealth_reader reader;

static void transport_event(int event);

/* Picks the transport at first use; 0, or -1 (none: the agent turns itself off). */
static int choose(void)
{
	if (tp)
		return 0;
	for (size_t i = 0; i < sizeof(transports) / sizeof(transports[0]); i++)
		if (transports[i]->probe()) {
			tp = transports[i];
			if (tp->set_notify)
				tp->set_notify(transport_event);
			return 0;
		}
	enabled = 0;
	return -1;
}

/*
 * out_buf[tail_off, tail_end): the rest of a frame the transport took only
 * part of (COM2, the host stopped reading). It goes before any other byte,
 * so the host never sees a frame cut short; until it has left, new frames
 * are dropped and counted.
 */
static size_t tail_off, tail_end;

/* 0 if no part of an earlier frame waits to leave (it may leave now). */
static int tail_pending(void)
{
	if (tail_off < tail_end)
		tail_off += tp->write(out_buf + tail_off, tail_end - tail_off);
	return tail_off < tail_end;
}

/* 0, or -1 if the frame did not leave (no channel, encoding error, dropped). */
static int send(struct health_msg *m)
{
	int n, ret = -1;
	size_t took;

	if (!enabled || sending || choose())
		return -1;
	sending = 1;
	if (tail_pending()) {
		frames_dropped++;
	} else if ((n = ukhealth_encode(m, out_buf, sizeof(out_buf))) < 0) {
		kprintf("runtime: health: cannot encode a %s frame (%d)\n",
			ukhealth_type_name(m->type), n);
	} else if (!(took = tp->write(out_buf, (size_t)n))) {
		frames_dropped++;
	} else {
		tail_off = took, tail_end = (size_t)n;
		ret = 0; /* whole, or its rest leaves before anything else */
	}
	sending = 0;
	return ret;
}

static void send_hello(void)
{
	struct health_hello *h = &out_msg.u.hello;

	out_msg = (struct health_msg){.type = HEALTH_HELLO};
	h->version = HEALTH_VERSION;
	h->runtime_version = UK_RUNTIME_VERSION;
	h->first_ns = time_tsc_to_ns(proc.tsc_boot);
	h->main_ns = proc.tsc_main ? time_tsc_to_ns(proc.tsc_main) : 0;
	h->wall_ns = (uint64_t)time_now_ns(CLOCK_REALTIME);
	memcpy(h->digest, digest, sizeof(digest));
	memcpy(h->instance_id, inst_id, sizeof(inst_id));
	/* A hello the host did not get is sent again when the host connects. */
	hello_lost = send(&out_msg) < 0;
	hello_sent = 1;
}

/* The readiness the application last declared (after a hello the host may have missed it). */
static void send_readiness(void)
{
	readiness_lost = 0;
	if (ready) {
		out_msg = (struct health_msg){.type = HEALTH_READY};
		readiness_lost = send(&out_msg) < 0;
	} else if (not_ready_reason[0]) {
		out_msg = (struct health_msg){.type = HEALTH_NOT_READY};
		memcpy(out_msg.u.not_ready.reason, not_ready_reason, sizeof(not_ready_reason));
		readiness_lost = send(&out_msg) < 0;
	}
}

static void send_heartbeat(void)
{
	struct health_heartbeat *h = &out_msg.u.heartbeat;
	struct health_net_stats net = {0};

	out_msg = (struct health_msg){.type = HEALTH_HEARTBEAT};
	h->seq = ++seq;
	h->uptime_ns = time_tsc_to_ns(rdtsc() - proc.tsc_boot);
	h->mem_used = (pmem_total_pages() - pmem_free_pages()) * PAGE_SIZE;
	h->mem_limit = pmem_total_pages() * PAGE_SIZE;
	h->mem_peak = pmem_high_water_pages() * PAGE_SIZE;
	h->cpu_ns = time_tsc_to_ns(sched_process_cpu_tsc());
	h->threads = (uint32_t)sched_nthreads();
	h->fds = (uint32_t)fd_count();
	if (health_net_stats)
		health_net_stats(&net);
	memcpy(h->sockets, net.sockets, sizeof(h->sockets));
	h->pkts_in = net.pkts_in;
	h->pkts_out = net.pkts_out;
	h->bytes_in = net.bytes_in;
	h->bytes_out = net.bytes_out;
	h->unknown_syscalls = syscall_unknown_count();
	h->nmetrics = nmetrics;
	memcpy(h->metrics, metrics, sizeof(metrics));
	send(&out_msg);
	if (frames_dropped) {
		out_msg = (struct health_msg){.type = HEALTH_LOG_DROPPED};
		out_msg.u.log_dropped.health_frames = frames_dropped;
		send(&out_msg);
	}
}

/* --- host messages --- */

static void deadline_fire(struct sched_timer *t)
{
	(void)t;
	deadline_hit = 1;
	kprintf("runtime: still running at the shutdown deadline; powering off\n");
	proc_exit(DEADLINE_STATUS);
}

static void beat_arm(uint64_t from)
{
	sched_timer_set(&beat, interval_ms ? from + time_ns_to_tsc(interval_ms * 1000000ull) : 0);
}

static void handle(const struct health_msg *m)
{
	uint64_t when;

	switch (m->type) {
	case HEALTH_PING:
		if (m->u.ping.flags & HEALTH_PING_HELLO) {
			send_hello();
			send_readiness();
		}
		send_heartbeat();
		break;
	case HEALTH_SHUTDOWN:
		when = rdtsc() + time_ns_to_tsc(m->u.shutdown.deadline_ms * 1000000ull);
		kprintf("runtime: shutdown requested by the host: SIGTERM, power-off in %u ms\n",
			m->u.shutdown.deadline_ms);
		if (!deadline.deadline || when < deadline.deadline)
			sched_timer_set(&deadline, when);
		signal_send(0, SIGTERM);
		break;
	case HEALTH_SET_INTERVAL:
		interval_ms = m->u.set_interval.interval_ms;
		if (hello_sent)
			beat_arm(rdtsc());
		break;
	}
}

static void poll_host(void)
{
	uint8_t buf[64];
	size_t n, off, used, total = 0;
	enum health_violation kind;

	if (!enabled || choose())
		return;
	/* The rest of a frame cut short goes now, not only before the next frame (heartbeats off).
	 */
	if (!sending && tail_off < tail_end) {
		sending = 1;
		tail_pending();
		sending = 0;
	}
	while (enabled && total < POLL_MAX && (n = tp->read(buf, sizeof(buf)))) {
		total += n;
		for (off = 0; off < n; off += used) {
			enum health_event ev = ukhealth_reader_feed(&reader, buf + off, n - off,
								    &used, &in_msg, &kind);

			if (ev == HEALTH_R_MSG)
				handle(&in_msg);
			else if (ev == HEALTH_R_VIOLATION && reader.violations == 1)
				kprintf("runtime: health: bad frame from the host (%s)\n",
					ukhealth_violation_name(kind));
		}
	}
}

static void beat_fire(struct sched_timer *t)
{
	uint64_t was = rdtsc();

	(void)t;
	poll_host();
	if (!enabled)
		return; /* no transport after all: no more beats, an idle guest sleeps */
	/*
	 * Next beat one interval after this one began: a guest that stalled does
	 * not catch up with a burst. (A set-heartbeat-interval just handled has
	 * re-armed the timer already.) Armed before the frame goes: under TCG
	 * both wake QEMU's main loop, which then takes them in one round.
	 */
	if (beat.deadline == 0)
		beat_arm(was);
	if (!hello_sent || hello_lost) { /* lost: the host was not connected */
		send_hello();
		send_readiness();
	} else {
		if (readiness_lost)
			send_readiness();
		send_heartbeat();
	}
}

/* --- the application's side: /dev/health and readiness --- */

static void set_ready(void)
{
	if (ready)
		return;
	ready = 1;
	not_ready_reason[0] = 0;
	send_readiness();
}

static void set_not_ready(const char *reason, size_t len)
{
	size_t i;

	if (!len) {
		reason = "not ready";
		len = strlen(reason);
	}
	for (i = 0; i < len && i < HEALTH_REASON_MAX; i++)
		not_ready_reason[i] = reason[i] >= 0x20 && reason[i] <= 0x7e ? reason[i] : '?';
	not_ready_reason[i] = 0;
	ready = 0;
	send_readiness();
}

void health_note_listen(int port)
{
	if (listened || (ready_port >= 0 && port != ready_port))
		return;
	listened = 1;
	set_ready();
}

static int parse_i64(const char *s, size_t len, int64_t *out)
{
	uint64_t v = 0, lim = 9223372036854775807ull;
	int neg = len && s[0] == '-';
	size_t i = neg;

	if (i == len)
		return -EINVAL;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9' || v > (lim + neg - (uint64_t)(s[i] - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

static int metric_name_ok(const char *s, size_t len)
{
	if (!len || len > HEALTH_METRIC_NAME_MAX || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_' || s[i] == ':'))
			return 0;
	return 1;
}

/* "metric NAME VALUE" (add: 0) or "metric-add NAME DELTA" (add: 1), from after the verb. */
static long metric_cmd(const char *s, size_t len, int add)
{
	size_t nlen = 0;
	int64_t v;
	uint32_t i;

	while (nlen < len && s[nlen] != ' ')
		nlen++;
	if (nlen == len || !metric_name_ok(s, nlen) || parse_i64(s + nlen + 1, len - nlen - 1, &v))
		return -EINVAL;
	for (i = 0; i < nmetrics; i++)
		if (strlen(metrics[i].name) == nlen && !memcmp(metrics[i].name, s, nlen))
			break;
	if (i == nmetrics) {
		if (nmetrics == HEALTH_METRICS_MAX)
			return -ENOSPC;
		memcpy(metrics[i].name, s, nlen);
		metrics[i].name[nlen] = 0;
		metrics[i].value = 0;
		nmetrics++;
	}
	/* Wrapping add (through unsigned): a counter that overflows must not be UB. */
	metrics[i].value = add ? (int64_t)((uint64_t)metrics[i].value + (uint64_t)v) : v;
	return 0;
}

static int verb(const char *s, size_t len, const char *v, const char **rest, size_t *rlen)
{
	size_t n = strlen(v);

	if (len < n || memcmp(s, v, n) || (len > n && s[n] != ' '))
		return 0;
	*rest = s + n + (len > n);
	*rlen = len - n - (len > n);
	return 1;
}

#ifdef UK_HEALTH_RAW_TEST
/*
 * Test builds only (runtime-hostile.elf, which tests pack into a hostile
 * guest's image; ukd never embeds it): /dev/health takes "raw BYTES" and
 * sends BYTES to the host as they are, as a compromised guest kernel could,
 * and "wedge", after which the kernel spins with interrupts off for good
 * ("wedge MS": for MS milliseconds).
 */
static long raw_write(const char *s, size_t len)
{
	int ret;

	if (!enabled || sending || choose())
		return -EIO;
	sending = 1;
	ret = tail_pending() || tp->write((const uint8_t *)s, len) < len ? -1 : 0;
	sending = 0;
	if (ret < 0)
		frames_dropped++;
	return ret < 0 ? -EAGAIN : 0;
}

/* "wedge MS": the kernel spins with interrupts off for MS milliseconds, then goes on. */
static long wedge_for(const char *s, size_t len)
{
	uint64_t ms = 0, end, flags;

	for (size_t i = 0; i < len && s[i] != '\n'; i++) {
		if (s[i] < '0' || s[i] > '9' || ms > 3600000)
			return -1;
		ms = ms * 10 + (uint64_t)(s[i] - '0');
	}
	end = rdtsc() + time_ns_to_tsc(ms * 1000000);
	__asm__ volatile("pushfq; popq %0; cli" : "=r"(flags)::"memory");
	while (rdtsc() < end)
		__asm__ volatile("pause");
	__asm__ volatile("pushq %0; popfq" ::"r"(flags) : "memory", "cc");
	return 0;
}
#endif

static long dev_write(struct file *f, const void *buf, size_t len, uint64_t *pos)
{
	const char *s = buf, *rest;
	size_t n = len, rlen;
	long ret = 0;

	(void)f, (void)pos;
#ifdef UK_HEALTH_RAW_TEST
	if (len > 4 && !memcmp(s, "raw ", 4))
		return (ret = raw_write(s + 4, len - 4)) < 0 ? ret : (long)len;
	if (len > 6 && !memcmp(s, "wedge ", 6))
		return wedge_for(s + 6, len - 6) < 0 ? -EINVAL : (long)len;
	if (len >= 5 && !memcmp(s, "wedge", 5))
		for (;;)
			__asm__ volatile("cli; pause");
#endif
	if (len > CMD_MAX)
		return -EINVAL;
	if (n && s[n - 1] == '\n')
		n--;
	if (verb(s, n, "ready", &rest, &rlen) && !rlen)
		set_ready();
	else if (verb(s, n, "not-ready", &rest, &rlen))
		set_not_ready(rest, rlen);
	else if (verb(s, n, "metric", &rest, &rlen))
		ret = metric_cmd(rest, rlen, 0);
	else if (verb(s, n, "metric-add", &rest, &rlen))
		ret = metric_cmd(rest, rlen, 1);
	else
		ret = -EINVAL;
	return ret < 0 ? ret : (long)len;
}

static long dev_read(struct file *f, void *buf, size_t len, uint64_t *pos)
{
	(void)f, (void)buf, (void)len, (void)pos;
	return 0;
}

static int dev_stat(struct file *f, struct linux_stat *st)
{
	(void)f;
	*st = (struct linux_stat){0};
	st->st_mode = S_IFCHR | 0666;
	st->st_blksize = 4096;
	st->st_nlink = 1;
	return 0;
}

static unsigned dev_poll(struct file *f)
{
	(void)f;
	return POLLOUT | POLLWRNORM;
}

static const struct file_ops health_dev_ops = {
	.read = dev_read,
	.write = dev_write,
	.stat = dev_stat,
	.poll = dev_poll,
};

/* --- configuration and start --- */

static int parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	int64_t v;

	if (parse_i64(s, strlen(s), &v) || v < 0 || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int parse_digest(const char *s)
{
	if (!strncmp(s, "sha256:", 7))
		s += 7;
	if (strlen(s) != 2 * HEALTH_DIGEST_SIZE)
		return -EINVAL;
	for (int i = 0; i < HEALTH_DIGEST_SIZE; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		digest[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int parse_id(const char *s)
{
	size_t n = strlen(s);

	if (n > HEALTH_ID_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return -EINVAL;
	memcpy(inst_id, s, n + 1);
	return 0;
}

int health_option(const char *w)
{
	uint32_t v;
	int bad = 0;

	if (!strncmp(w, "uk.id=", 6))
		bad = parse_id(w + 6);
	else if (!strncmp(w, "uk.image=", 9))
		bad = parse_digest(w + 9);
	else if (!strncmp(w, "uk.heartbeat=", 13))
		bad = parse_u32(w + 13, HEALTH_INTERVAL_MAX_MS, &v) ||
		      (v && v < HEALTH_INTERVAL_MIN_MS) || ((interval_ms = v), 0);
	else if (!strncmp(w, "uk.port=", 8))
		bad = parse_u32(w + 8, 65535, &v) || ((ready_port = (int)v), 0);
	else if (!strncmp(w, "uk.exit-wait=", 13))
		bad = parse_u32(w + 13, HEALTH_EXIT_WAIT_MAX_MS, &exit_wait_ms);
	else
		return 0;
	if (bad)
		kprintf("runtime: bad value in '%s' ignored\n", w);
	return 1;
}

static void idle(void)
{
	poll_host();
}

/* From an interrupt-driven transport's handler: a busy application does not delay the host. */
static void transport_event(int event)
{
	if (event == HEALTH_TP_DATA)
		poll_host();
	else if (event == HEALTH_TP_CONNECTED && hello_lost) {
		send_hello();
		send_readiness();
	}
}

void health_start(void)
{
	const char *port = image_manifest_get("port");
	uint32_t v;

	if (ramfs_add_device("health", &health_dev_ops))
		kprintf("runtime: cannot create /dev/health\n");
	if (ready_port < 0 && port && !parse_u32(port, 65535, &v))
		ready_port = (int)v;
	enabled = 1; /* until choose() finds no transport */
	ukhealth_reader_init(&reader, HEALTH_TO_GUEST);
	beat.fn = beat_fire;
	deadline.fn = deadline_fire;
	sched_set_idle_hook(idle);
	/* Due at once: the hello goes out at the first timer interrupt after main starts. */
	sched_timer_set(&beat, rdtsc());
}

/* --- the end --- */

void health_panic_begin(const char *what, const char *where, uint64_t fault_addr)
{
	struct health_panic *p = &panic_msg.u.panic;
	char *r = p->reason;

	if (panicking++) { /* a fault while reporting one: keep the agent out of it */
		enabled = 0;
		return;
	}
	panic_msg = (struct health_msg){.type = HEALTH_PANIC};
	if (where)
		fmt_snprintf(r, sizeof(p->reason), "%s in the %s", what, where);
	else
		fmt_snprintf(r, sizeof(p->reason), "%s", what);
	for (; *r; r++)
		if (*r < 0x20 || *r > 0x7e)
			*r = '?';
	p->fault_addr = fault_addr;
}

void health_panic_frame(uint64_t addr, const char *symbol, uint64_t offset, int in_app)
{
	struct health_panic *p = &panic_msg.u.panic;
	struct health_frame *f;
	size_t i;

	if (panicking != 1 || p->nframes == HEALTH_FRAMES_MAX ||
	    (p->nframes && p->frames[p->nframes - 1].addr == addr))
		return;
	f = &p->frames[p->nframes++];
	f->addr = addr;
	f->offset = symbol ? offset : 0;
	f->where = in_app ? HEALTH_IN_APP : HEALTH_IN_RUNTIME;
	for (i = 0; symbol && symbol[i] && i < HEALTH_SYMBOL_MAX; i++)
		f->symbol[i] = symbol[i] >= 0x20 && symbol[i] <= 0x7e ? symbol[i] : '?';
	f->symbol[i] = 0;
}

void health_note_signal(int sig)
{
	if (!exit_sig)
		exit_sig = sig;
}

void health_note_oom(void)
{
	oom = 1;
}

/*
 * The exit record (panic, exit frame) must reach a host to count. When no
 * host is connected (ukd killed or restarting: QEMU drops what the port
 * carries meanwhile, and reconnects every second), the exit waits for one,
 * halted, up to exit_wait_ms; it gets a hello first (health_exit). Only
 * where a host is expected: one was connected earlier in this run, or ukd
 * started the guest (uk.id=; a ukd that died before the guest set the port
 * up leaves no other trace). A port nobody listens to (a null chardev, a
 * setup without ukd) does not hold the exit up.
 */
void health_exit_wait(void)
{
	uint64_t t0, ms;
	int back, ever;

	if (!enabled || exiting || exit_waited || !exit_wait_ms || choose() || !tp->host_away ||
	    !tp->host_away(&ever) || (!ever && !inst_id[0]))
		return;
	exit_waited = 1;
	kprintf("runtime: exiting while the host is away; waiting up to %u ms for it\n",
		exit_wait_ms);
	t0 = rdtsc();
	back = tp->wait_host(t0 + time_ns_to_tsc(exit_wait_ms * 1000000ull)) == 0;
	ms = time_tsc_to_ns(rdtsc() - t0) / 1000000;
	if (back) {
		hello_lost = 1; /* the hello went to the host that left */
		kprintf("runtime: the host is back after %lu ms\n", (unsigned long)ms);
	} else {
		kprintf("runtime: no host after %lu ms; exiting without it\n", (unsigned long)ms);
	}
}

void health_exit(int status)
{
	struct health_exit *e = &out_msg.u.exit;
	uint8_t reason = HEALTH_EXIT_NORMAL, sig = 0;

	if (!enabled || exiting)
		return;
	exiting = 1;
	if (!hello_sent || hello_lost)
		send_hello();
	if (panicking)
		send(&panic_msg);
	if (panicking)
		reason = HEALTH_EXIT_PANIC, sig = (uint8_t)exit_sig;
	else if (oom)
		reason = HEALTH_EXIT_OOM, sig = (uint8_t)exit_sig;
	else if (deadline_hit)
		reason = HEALTH_EXIT_DEADLINE;
	else if (exit_sig)
		reason = HEALTH_EXIT_SIGNAL, sig = (uint8_t)exit_sig;
	out_msg = (struct health_msg){.type = HEALTH_EXIT};
	e->status = (uint8_t)status;
	e->reason = reason;
	e->signal = sig > 64 ? 0 : sig;
	send(&out_msg);
	if (tp)
		tp->flush();
}
