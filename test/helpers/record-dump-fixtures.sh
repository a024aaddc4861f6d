#!/bin/bash
# Record the raw inet_diag dumps the decoder tests read (test/fixtures/dumps/, see its
# README.md), as root, in a private network namespace made and removed here:
#   population.json     what population.py made (kinds: tcp): cookie, inode, addresses,
#                       state and uid of every socket, as Python saw them
#   ss-tan.dump         `ss -taoeimn --tos -D FILE` on those sockets (iproute2's writer:
#                       SOCK_DIAG_BY_FAMILY replies, the IPv4 dump then the IPv6 dump)
#   tcpdiag-unspec.dump the kernel's reply to one legacy TCPDIAG_GETSOCK request for
#                       AF_UNSPEC (tcpdiag-dump.py): both families in one dump, type 18
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(cd "$here/.." && pwd)/fixtures/dumps
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
fifo=$(mktemp -u /tmp/sd-record-XXXXXX)
mkfifo "$fifo"
: >"$out/population.json"
ip netns exec "$ns" "$py" "$here/population.py" '{"kinds":["tcp"]}' <"$fifo" >"$out/population.json" &
exec 3>"$fifo"
rm -f "$fifo"
for _ in $(seq 200); do [ -s "$out/population.json" ] && break; sleep 0.05; done
[ -s "$out/population.json" ] || { echo "population.py did not start" >&2; exit 1; }
ip netns exec "$ns" ss -taoeimn --tos -D "$out/ss-tan.dump"
ip netns exec "$ns" "$py" "$here/tcpdiag-dump.py" >"$out/tcpdiag-unspec.dump"
echo "recorded on Linux $(uname -r) with $(ss -V)"
ls -l "$out"
