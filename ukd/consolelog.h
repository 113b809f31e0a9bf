/*
 * consolelog.h: ukd writes every running instance's console (the guest's
 * COM1) to disk itself, bounded per instance.
 *
 * COM1 is a libvirt <serial type='unix'> chardev: QEMU connects to
 * ROOT/instances/ID/console.sock, where ukd listens (as for the health
 * channel, health.h), and ukd appends what arrives to console.log. When
 * console.log reaches half of --console-max (cfg->console_max, default
 * CONSOLELOG_MAX_DEFAULT) it becomes console.log.1 (replacing the one
 * before) and a new console.log begins, so an instance's console never
 * takes more than --console-max bytes of disk, plus its index
 * (console.idx, at most LOGTIME_IDX_MAX). Offsets run on across rotations
 * (logtime.h), so `tail`, `follow` and `since` read across them
 * (console.h).
 *
 * Why ukd and not virtlogd or QEMU: with <serial type='file'>, libvirt 9.0
 * already hands the file to virtlogd, which rotates it, but only with
 * host-wide limits (virtlogd.conf max_size, max_backups: every domain's
 * QEMU log too, no per-domain setting), with its own names (console.log.0
 * ...), unseen by the index, and at a cost: QEMU writes the UART a byte at
 * a time, virtlogd wakes for nearly every byte (17% of a core for one guest
 * writing 85 KB/s here), and ukd's inotify watch that dated the log woke
 * as often (8%). Here ukd takes at most CONSOLELOG_CHUNK bytes per
 * instance and then polls the socket every CONSOLELOG_PERIOD_MS while the
 * guest writes, every CONSOLELOG_FLOOD_PERIOD_MS once it has written
 * without a pause for CONSOLELOG_FLOOD_AFTER_MS (a flood) with no poll
 * taking a full chunk meanwhile (a UART's few hundred bytes a poll: a wake-up
 * for little; a writer that fills chunks keeps the short period), and longer when
 * more than CONSOLELOG_POLLERS guests write at once; back to the loop's
 * wake-up at the first byte once it is quiet: bytes pile up in the socket
 * meanwhile, so a guest that writes without a pause costs ukd
 * 1000/CONSOLELOG_FLOOD_PERIOD_MS polls a second after its first
 * CONSOLELOG_FLOOD_AFTER_MS, one that pauses now and then at most
 * 1000/CONSOLELOG_PERIOD_MS, all floods together about
 * CONSOLELOG_POLLERS * 1000/CONSOLELOG_PERIOD_MS, and one fixed buffer
 * shared by all instances. A guest that writes faster waits for its UART
 * (QEMU stops taking bytes while the socket is full; QEMU's socket holds
 * only some 270 one-byte writes, so about 50 KB/s get through in a burst
 * and a quarter of that in a flood): the flood slows the flooder, not ukd
 * or the other instances. (At 200 polls a second, a flooder raised the
 * other instances' API latency by 10-30%: docs/guarantees.md, "Hostile
 * guests".)
 *
 * The price: while no ukd listens (it was killed or is restarting), QEMU
 * drops what the guest writes to COM1 instead of blocking it; QEMU
 * reconnects within a second of the next ukd's listening, and the log goes
 * on from there (adoption). A guest that exits meanwhile holds its exit
 * until the health channel's host is back (runtime/health.h), then prints
 * its "exit status N" line. Domains of older ukds (<serial type='file'>)
 * keep writing console.log through virtlogd; their logs read as before.
 *
 * Everything runs on the daemon's loop thread.
 */
#ifndef CONSOLELOG_H
#define CONSOLELOG_H

#include <stddef.h>

#include "daemon.h"

#define CONSOLELOG_MAX_DEFAULT ((size_t)4 << 20)
#define CONSOLELOG_MAX_MIN ((size_t)64 << 10)
#define CONSOLELOG_CHUNK (64u << 10)
#define CONSOLELOG_PERIOD_MS 5
#define CONSOLELOG_FLOOD_AFTER_MS 250
#define CONSOLELOG_FLOOD_PERIOD_MS 20
#define CONSOLELOG_POLLERS 4

/* ROOT/instances/ID/console.sock into buf; -ENAMETOOLONG if it does not fit a unix socket. */
int consolelog_socket_path(struct daemon *d, const char *id, char *buf, size_t len);

/*
 * Listens on the instance's console socket. fresh: for a domain about to
 * start (a new run: console.log, console.log.1 and the index start empty);
 * else the domain already runs (ukd restarted) and its log goes on.
 * Returns 0 or -errno (the guest's console output is then lost).
 */
int consolelog_watch(struct daemon *d, const char *id, int fresh);

/*
 * Writes out what the guest already sent (the domain ended), records the
 * log's end in the index and stops listening. Harmless if not watched.
 */
void consolelog_unwatch(struct daemon *d, const char *id);

/* Stops every watch (daemon shutdown; guests keep running). */
void consolelog_close_all(struct daemon *d);

#endif
