/*
 * netcmd.h: runs the host's network tools (ip, ebtables-restore) for ukd's
 * network modules.
 *
 * Why programs and not netlink: the kernel objects ukd manages (namespaces,
 * bridges, taps, addresses, ebtables rules) take five different netlink
 * families and message layouts, while iproute2 and ebtables are the
 * reference clients of exactly those interfaces, are in every Debian
 * install, and take a whole batch of commands per exec (`ip -batch -`,
 * `ebtables-restore --noflush`). An attach costs four execs (one to create
 * the tap, three to filter, move and enslave it: 9-18 ms each on an idle
 * 2-core test host, see docs/networking.md), off the loop on the thread
 * pool, once per run; nothing here is on a per-packet path.
 *
 * Every function blocks: call it from a worker thread (or at startup,
 * before the loop serves). Each returns 0 or a negative errno with the
 * tool's own message in err.
 */
#ifndef NETCMD_H
#define NETCMD_H

#include <stddef.h>

/* Largest output netcmd_run captures (an `ip -j link` of thousands of links fits). */
#define NETCMD_OUT_MAX (16u << 20)

/*
 * Runs argv (argv[0] looked up in PATH) with input (may be NULL) on its
 * stdin. On success *out (if out) holds its stdout, malloc'd and
 * NUL-terminated. Fails with -ENOENT when the tool said a device or chain
 * does not exist, -EEXIST when it exists already, else -EIO.
 */
int netcmd_run(const char *const argv[], const char *input, char **out, char *err, size_t errlen);

/* `ip [-n NS] -batch -` with the given lines; ns NULL: the host's namespace. */
int netcmd_ip_batch(const char *ns, const char *lines, char *err, size_t errlen);

/* `ebtables-restore --noflush` of the nat table lines, inside ns (NULL: here). */
int netcmd_ebtables(const char *ns, const char *lines, char *err, size_t errlen);

#endif
