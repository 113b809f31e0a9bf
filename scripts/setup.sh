#!/usr/bin/env bash
# Idempotent host setup for ukd on Debian 12, run as root.
#
# Installs the Debian packages the project needs, fetches the lwIP source
# package into the build area, makes /dev/kvm usable by libvirt's QEMU and
# starts virtlogd and libvirtd when they are not running (these machines have
# no systemd). Every step says what it does; any failure stops the script with
# the reason.
#
# Usage: scripts/setup.sh [BUILD_DIR]    (default: ./build next to this repo)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${1:-$here/build}

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }
trap 'die "step failed at line $LINENO (command: $BASH_COMMAND)"' ERR

[ "$(id -u)" = 0 ] || die "must run as root (installs packages, starts libvirtd)"
[ -r /etc/debian_version ] || die "this script supports Debian 12 only"

# Packages: host build, guest toolchain, VM stack, test tools, benchmark plots.
packages=(
  build-essential cmake pkg-config clang clang-format
  musl-tools musl-dev libc6-dev
  qemu-system-x86 libvirt-daemon-system libvirt-clients libvirt-dev
  libuv1-dev libsqlite3-dev libjansson-dev libcurl4-openssl-dev
  libhttp-parser-dev nettle-dev libarchive-dev
  binutils file curl iproute2 iputils-ping python3 xz-utils wrk dnsmasq-base redis-tools
  gnuplot-nox
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done

# A deb-src entry is needed for `apt-get source lwip` (HOST-NOTES.md).
src_list=/etc/apt/sources.list.d/ukd-deb-src.sources
need_update=0
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ &&
   ! grep -qs '^deb-src' /etc/apt/sources.list; then
  say "adding a deb-src entry ($src_list)"
  [ -r /etc/apt/sources.list.d/debian.sources ] ||
    die "/etc/apt/sources.list.d/debian.sources not found; add a deb-src line by hand"
  sed 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources >"$src_list"
  need_update=1
fi

if [ ${#missing[@]} -gt 0 ] || [ $need_update = 1 ]; then
  say "apt-get update"
  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
fi
if [ ${#missing[@]} -gt 0 ]; then
  say "installing: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}" >/dev/null
else
  say "all ${#packages[@]} packages present"
fi

# lwIP source: fetched, never committed; the build unpacks it.
lwip_dir=$build_dir/third_party
mkdir -p "$lwip_dir"
if ! ls "$lwip_dir"/lwip_*.orig.tar.* >/dev/null 2>&1; then
  say "fetching the lwip source package into $lwip_dir"
  (cd "$lwip_dir" && apt-get source --download-only -q lwip >/dev/null) ||
    die "apt-get source lwip failed (is a deb-src entry present and apt-get update done?)"
fi
if [ ! -d "$lwip_dir/lwip" ]; then
  say "unpacking lwip into $lwip_dir/lwip"
  mkdir -p "$lwip_dir/lwip"
  tar -xf "$(ls "$lwip_dir"/lwip_*.orig.tar.* | head -n1)" -C "$lwip_dir/lwip" --strip-components=1
fi

# /dev/kvm: libvirt runs QEMU as libvirt-qemu:kvm; here it is root:root 0600.
if [ -e /dev/kvm ]; then
  getent group kvm >/dev/null || groupadd -r kvm
  if [ "$(stat -c %G:%a /dev/kvm)" != kvm:660 ]; then
    say "making /dev/kvm usable by group kvm"
    chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
  fi
fi

# libvirt without systemd.
mkdir -p /var/log/libvirt /run/libvirt
if ! pgrep -x -r R,S,D virtlogd >/dev/null; then
  say "starting virtlogd"
  virtlogd -d
fi
if ! pgrep -x -r R,S,D libvirtd >/dev/null; then
  say "starting libvirtd"
  libvirtd -d
fi
for _ in $(seq 1 60); do
  virsh -c qemu:///system version >/dev/null 2>&1 && break
  sleep 0.5
done
virsh -c qemu:///system version >/dev/null 2>&1 ||
  die "libvirtd does not answer on qemu:///system (see /var/log/libvirt/libvirtd.log)"
say "libvirtd answers: $(virsh -c qemu:///system version 2>/dev/null | grep -i 'running hypervisor' | sed 's/.*: //')"
say "done"
