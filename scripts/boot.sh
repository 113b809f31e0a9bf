#!/usr/bin/env bash
# Boots a ukd image under QEMU directly (no libvirt, no ukd), console on this
# terminal: the quickest way to try or debug a guest.
#
#   scripts/boot.sh [--gdb] [--kvm] [--mem MIB] IMAGE [RUNTIME-OPTIONS...] [-- ARGS...]
#
#   scripts/boot.sh build/images/hello.img -- 3          # exit status 3
#   scripts/boot.sh build/images/hello.img env.GREETING=hi debug=boot
#   scripts/boot.sh --gdb build/images/hello.img         # then: gdb -ex 'target remote :1234'
#
# Exits with the guest's exit status. Guests run under TCG unless --kvm is
# given (HOST-NOTES.md: KVM on these machines cannot run guest ring 0).
set -euo pipefail

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
accel=tcg mem=64 gdb=()
while [ $# -gt 0 ]; do
  case "$1" in
    --gdb) gdb=(-s -S); shift ;;
    --kvm) accel=kvm; shift ;;
    --mem) mem=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    -*) echo "boot.sh: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || usage
image=$1; shift
[ -r "$image" ] || { echo "boot.sh: cannot read image $image" >&2; exit 2; }
cpu=max
[ "$accel" = kvm ] && cpu=host,-arch-capabilities
[ "${#gdb[@]}" -gt 0 ] && echo "boot.sh: waiting for gdb on :1234 (symbols: build/runtime/runtime.elf)" >&2

set +e
qemu-system-x86_64 -M pc,accel=$accel -cpu $cpu -m "$mem" -nodefaults -no-user-config \
  -display none -bios /usr/share/qemu/qboot.rom -kernel "$image" -append "$*" \
  -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=1 -no-reboot "${gdb[@]}" </dev/null
rc=$?
set -e
# isa-debug-exit: QEMU exits with (status << 1) | 1; anything even is QEMU's own error.
if [ $((rc % 2)) = 1 ]; then exit $(((rc - 1) / 2)); fi
echo "boot.sh: QEMU failed (exit code $rc)" >&2
exit 125
