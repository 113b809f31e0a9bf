/*
 * capacity.h: the host-memory admission check. Before a guest starts, the
 * guest memory of every instance that may be running (starting, running,
 * stopping) plus the new one must fit in the host's memory times the
 * configured overcommit ratio (ukd --mem-overcommit, default 1.0). A start
 * that does not fit is refused with 507 and nothing is created or changed.
 */
#ifndef UKD_CAPACITY_H
#define UKD_CAPACITY_H

#include <stddef.h>
#include <stdint.h>

struct daemon;

#define CAPACITY_RATIO_DEFAULT 1.0

struct capacity {
	uint64_t host_mib;	/* MemTotal */
	uint64_t limit_mib;	/* host_mib x ratio */
	uint64_t committed_mib; /* guest memory of instances that may be running */
};

/* Fills cap, leaving instance exclude_id (or none) out of committed_mib. */
int capacity_get(struct daemon *d, const char *exclude_id, struct capacity *cap);

/*
 * 0 if an instance exclude_id needing mem_mib may start; -ENOSPC with the
 * reason in err if it would pass the limit; another -errno if unknown.
 */
int capacity_check(struct daemon *d, const char *exclude_id, unsigned mem_mib, char *err,
		   size_t len);

#endif
