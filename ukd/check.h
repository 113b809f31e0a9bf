/*
 * check.h: host checks (`ukd --check`) and the choice of accelerator.
 */
#ifndef CHECK_H
#define CHECK_H

#include <stddef.h>

/*
 * Decides between KVM and TCG. override is "kvm", "tcg" or NULL (detect).
 * Detection: no /dev/kvm, or KVM provided by kvm_pvm (which emulates guest
 * ring 0, HOST-NOTES.md), means TCG; a hardware KVM module (kvm_intel,
 * kvm_amd) means KVM. Returns 1 for KVM, 0 for TCG, -EINVAL for a bad
 * override; why is set either way.
 */
int check_accel(const char *override, char *why, size_t len);

/* Prints the host checks for `ukd --check` to stdout; returns the exit status. */
int check_run(const char *root, const char *libvirt_uri, const char *accel);

#endif
