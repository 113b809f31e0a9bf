#!/usr/bin/env bash
# The Quick start demo: starts ukd (if it is not running), builds the httpd
# example into an image through ukd's API, runs it with port 8080 published
# on 127.0.0.1, and fetches its page. Afterwards:
#
#   curl http://127.0.0.1:8080/          # the unikernel answers
#   build/bin/ukctl ps                   # it is listed, with its health
#   build/bin/ukctl rm -f web            # and gone again
#
# Usage: scripts/demo.sh [BUILD_DIR]   (default: ./build; run as root)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$here/build}
ukctl=$build/bin/ukctl
say() { printf 'demo: %s\n' "$*"; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }

[ -x "$ukctl" ] || die "$ukctl not found: build first (cmake -S . -B build && cmake --build build)"
if ! "$ukctl" version >/dev/null 2>&1; then
  say "starting ukd (state and log in /var/lib/ukd, socket /run/ukd/ukd.sock)"
  "$build/bin/ukd" || die "ukd did not start (see /var/lib/ukd/ukd.log)"
  for _ in $(seq 1 50); do "$ukctl" version >/dev/null 2>&1 && break; sleep 0.2; done
  "$ukctl" version >/dev/null || die "ukd does not answer (see /var/lib/ukd/ukd.log)"
fi
say "building images/httpd into the image 'httpd'"
"$ukctl" build -t httpd "$here/images/httpd"
if "$ukctl" inspect web >/dev/null 2>&1; then
  say "removing the previous demo instance 'web'"
  "$ukctl" rm -f web >/dev/null
fi
say "running it as 'web', port 8080 published on 127.0.0.1"
"$ukctl" run -d --name web -p 8080:8080 httpd
for _ in $(seq 1 100); do
  curl -sf -m 2 http://127.0.0.1:8080/ >/dev/null 2>&1 && break
  sleep 0.3
done
say "curl http://127.0.0.1:8080/ says:"
curl -sS -m 5 http://127.0.0.1:8080/
say "try it yourself: curl http://127.0.0.1:8080/ ; $ukctl ps ; $ukctl logs web ; $ukctl rm -f web"
