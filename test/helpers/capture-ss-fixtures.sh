#!/bin/bash
# Capture real `ss` output on this machine for the parser tests:
#   test/helpers/fixtures/ss-<version>/<table>.txt
# Everything happens in a private network namespace made and removed here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ver=$(ss -V | sed -n 's/.*iproute2-\([0-9.]*\).*/\1/p')
out="$here/fixtures/ss-$ver"
mkdir -p "$out"
ns="sd-$$-1"
py=/usr/bin/python3; [ -x "$py" ] || py=python3
cleanup() {
  exec 3>&- 2>/dev/null || true
  for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  sleep 0.2
  for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
fifo=$(mktemp -u /tmp/sd-capture-XXXXXX)
mkfifo "$fifo"
ip netns exec "$ns" "$py" "$here/population.py" \
  '{"kinds":["tcp","udp","unix","packet","netlink","mptcp","raw"]}' <"$fifo" >"$out/population.json" &
exec 3>"$fifo"
rm -f "$fifo"
for _ in $(seq 100); do [ -s "$out/population.json" ] && break; sleep 0.05; done
run() {
  local table=$1; shift
  ip netns exec "$ns" sh -c 'mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null; exec ss "$@"' sh \
    -H -O -n -a -e -m -i -p "$@" >"$out/$table.txt"
}
run tcp4 -t -4; run tcp6 -t -6; run udp4 -u -4; run udp6 -u -6; run raw4 -w -4; run raw6 -w -6
run mptcp4 -M -4; run unix -x; run packet -0; run netlink -A netlink
# the same TCP table with a header and without -O, for the record
ip netns exec "$ns" sh -c 'mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null; exec ss "$@"' sh \
  -n -a -e -m -i -p -t >"$out/tcp-multiline-with-header.txt"
wc -l "$out"/*.txt
