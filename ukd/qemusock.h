/*
 * qemusock.h: the unix sockets ukd listens on for an instance's QEMU (its
 * chardevs connect in client mode and reconnect): the health channel
 * (health.c) and the console (consolelog.c).
 *
 * A socket is its owner's only (0600): libvirt hands it to QEMU's user as
 * the domain starts, and no other local user may pose as the guest. QEMU's
 * user is remembered in a peer file ("UID GID", next to the socket) when it
 * connects, so that a restarted ukd hands its new socket to the same user
 * and a running QEMU can reconnect.
 */
#ifndef QEMUSOCK_H
#define QEMUSOCK_H

#include <uv.h>

/*
 * Listens on path (a stale socket of an earlier ukd goes) with server, a
 * uv_pipe_init'ed pipe, calling cb for each connection: bound, made 0600,
 * handed to the user in the peer file if peer is not NULL (a warning naming
 * instance id if that fails), then listening. Returns 0 or a libuv error.
 */
int qemusock_listen(uv_pipe_t *server, const char *path, const char *peer, uv_connection_cb cb,
		    const char *id);

/* Records the user at the other end of fd (QEMU's, never root) in the peer file. */
void qemusock_peer_save(uv_os_fd_t fd, const char *peer);

/*
 * The path QEMU is given for the socket at path: a short symlink to it,
 * QEMUSOCK_LINK_DIR "/" + 16 hex digits of instance id + kind ('c' console,
 * 'h' health), 25 bytes. Why short: QEMU 7.2's PVH loader leaves fw_cfg's
 * setup-data entry pointing at a stack array of a function that has
 * returned (fixed upstream in 9.2, "hw/i386/elfboot: allocate header in
 * heap"); when a chardev's first connect fails (ukd down while libvirtd
 * starts the domain), QEMU prints "Unable to connect character device ID:
 * Failed to connect to 'PATH': ERROR", and a message of 129 bytes or more
 * overwrites the kernel's ELF magic there: qboot then takes its multiboot
 * path, zeroes the kernel and halts. This path and the short chardev ids
 * (virt.c) keep it at 113 bytes (connection refused) to 128 (ELOOP, the
 * longest error a connect gives here) (docs/guarantees.md §1).
 * Falls back to path itself if the link cannot be made. buf gets the path
 * to put in the domain XML.
 */
#define QEMUSOCK_LINK_DIR "/run/uk"
void qemusock_link(const char *path, const char *id, char kind, char *buf, size_t len);

/* Removes the instance's links that point into dir, its directory (its removal). */
void qemusock_unlink(const char *id, const char *dir);

/*
 * Removes the links in QEMUSOCK_LINK_DIR whose instance directory is gone
 * (their ukd's root was removed with its instances): at start. A live
 * instance's link is also made again whenever its ukd listens
 * (qemusock_listen).
 */
void qemusock_sweep(void);

#endif
