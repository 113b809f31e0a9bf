/* check.c: see check.h. */
#define _GNU_SOURCE
#include "check.h"

#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "virt.h"

static int check_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

int check_accel(const char *override, char *why, size_t len)
{
	if (override) {
		if (strcmp(override, "kvm") && strcmp(override, "tcg")) {
			snprintf(why, len, "unknown accelerator \"%s\" (use kvm or tcg)", override);
			return -EINVAL;
		}
		snprintf(why, len, "chosen with --accel");
		return !strcmp(override, "kvm");
	}
	if (!check_exists("/dev/kvm")) {
		snprintf(why, len, "/dev/kvm is missing");
		return 0;
	}
	if (check_exists("/sys/module/kvm_pvm")) {
		snprintf(why, len,
			 "/dev/kvm is provided by kvm_pvm, which emulates guest ring 0 "
			 "(no hardware virtualization)");
		return 0;
	}
	if (check_exists("/sys/module/kvm_intel") || check_exists("/sys/module/kvm_amd")) {
		snprintf(why, len, "hardware KVM (%s)",
			 check_exists("/sys/module/kvm_intel") ? "kvm_intel" : "kvm_amd");
		return 1;
	}
	snprintf(why, len, "/dev/kvm exists but no known KVM provider is loaded");
	return 0;
}

static void check_quiet(void *opaque, virErrorPtr err)
{
	(void)opaque;
	(void)err;
}

static int check_libvirt(const char *uri)
{
	virConnectPtr c;
	unsigned long ver;

	virSetErrorFunc(NULL, check_quiet);
	if (!(c = virConnectOpen(uri))) {
		printf("FAIL libvirt: cannot connect to %s: %s\n", uri, virGetLastErrorMessage());
		return 1;
	}
	if (virConnectGetLibVersion(c, &ver) == 0)
		printf("ok   libvirt: %s answers (libvirt %lu.%lu.%lu)\n", uri, ver / 1000000,
		       ver / 1000 % 1000, ver % 1000);
	else
		printf("ok   libvirt: %s answers\n", uri);
	virConnectClose(c);
	return 0;
}

int check_run(const char *root, const char *libvirt_uri, const char *accel)
{
	char why[256];
	int fails = 0, kvm;

	fails += check_libvirt(libvirt_uri);
	if (access(VIRT_QBOOT, R_OK) == 0) {
		printf("ok   firmware: %s\n", VIRT_QBOOT);
	} else {
		printf("FAIL firmware: %s is missing (install qemu-system-x86)\n", VIRT_QBOOT);
		fails++;
	}
	kvm = check_accel(accel, why, sizeof(why));
	if (kvm < 0) {
		printf("FAIL accelerator: %s\n", why);
		fails++;
	} else {
		printf("ok   accelerator: %s (%s)\n", kvm ? "kvm" : "tcg", why);
	}
	if (access("/usr/bin/musl-gcc", X_OK) == 0)
		printf("ok   builder: /usr/bin/musl-gcc\n");
	else
		printf("warn builder: /usr/bin/musl-gcc is missing: build contexts will fail "
		       "(install musl-tools)\n");
	if (access(root, W_OK) == 0)
		printf("ok   state: %s is writable\n", root);
	else if (errno == ENOENT)
		printf("ok   state: %s will be created\n", root);
	else {
		printf("FAIL state: %s: %s\n", root, strerror(errno));
		fails++;
	}
	return fails ? 1 : 0;
}
