/* capacity.c: see capacity.h. */
#define _GNU_SOURCE
#include "capacity.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "instance.h"
#include "store.h"

struct capacity_sum {
	const char *exclude;
	uint64_t mib;
};

static int capacity_add(const struct store_instance *inst, void *opaque)
{
	struct capacity_sum *s = opaque;

	if (instance_active(inst) && !(s->exclude && !strcmp(inst->id, s->exclude)))
		s->mib += inst->mem_mib;
	return 0;
}

static int capacity_host_mib(uint64_t *mib)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[128];
	unsigned long long kib;
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %llu kB", &kib) == 1) {
			*mib = kib >> 10;
			ret = 0;
			break;
		}
	fclose(f);
	return ret;
}

int capacity_get(struct daemon *d, const char *exclude_id, struct capacity *cap)
{
	struct capacity_sum s = {.exclude = exclude_id};
	double ratio = d->cfg->mem_overcommit > 0 ? d->cfg->mem_overcommit : CAPACITY_RATIO_DEFAULT;
	int ret;

	memset(cap, 0, sizeof(*cap));
	if ((ret = capacity_host_mib(&cap->host_mib)) < 0 ||
	    (ret = store_instance_list(d->store, capacity_add, &s)) < 0)
		return ret;
	cap->committed_mib = s.mib;
	cap->limit_mib = (uint64_t)((double)cap->host_mib * ratio);
	return 0;
}

int capacity_check(struct daemon *d, const char *exclude_id, unsigned mem_mib, char *err,
		   size_t len)
{
	struct capacity cap;
	int ret;

	if ((ret = capacity_get(d, exclude_id, &cap)) < 0)
		return snprintf(err, len, "cannot read the host's capacity: %s", strerror(-ret)),
		       ret;
	if (cap.committed_mib + mem_mib <= cap.limit_mib)
		return 0;
	snprintf(err, len,
		 "not enough host memory: %u MiB for this guest on top of %" PRIu64
		 " MiB committed to running guests passes the limit of %" PRIu64
		 " MiB (host memory %" PRIu64 " MiB x overcommit %.2f; ukd --mem-overcommit)",
		 mem_mib, cap.committed_mib, cap.limit_mib, cap.host_mib,
		 d->cfg->mem_overcommit > 0 ? d->cfg->mem_overcommit : CAPACITY_RATIO_DEFAULT);
	return -ENOSPC;
}
