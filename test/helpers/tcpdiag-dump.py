#!/usr/bin/env python3
"""Writes to stdout the kernel's reply to a legacy inet_diag request, byte for byte.

Run ONLY inside a private network namespace made by the test helpers:

    ip netns exec sd-<pid>-<n> python3 tcpdiag-dump.py > FILE

The request is TCPDIAG_GETSOCK (nlmsg_type 18) with the old `struct inet_diag_req` and
family AF_UNSPEC: one walk of the TCP table for both address families, every state, the
MEMINFO, INFO, VEGASINFO, CONG, TOS, TCLASS and SKMEMINFO extensions. The kernel answers
with messages of type 18 (it copies the request's type), IPv4 and IPv6 sockets mixed in
table order, and one NLMSG_DONE. The datagrams are written as received, up to and with
that NLMSG_DONE: the same layout as a file of `ss -D`, but one dump for both families.
"""

import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from population import in_test_netns  # noqa: E402

NETLINK_SOCK_DIAG = 4
TCPDIAG_GETSOCK = 18
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
SEQ = 0x5eed
# idiag_ext bit (n - 1) asks for attribute n: MEMINFO 1, INFO 2, VEGASINFO 3, CONG 4,
# TOS 5, TCLASS 6, SKMEMINFO 7.
EXTENSIONS = 0x7f


def request():
    # struct inet_diag_req: family, src_len, dst_len, ext, inet_diag_sockid (48 bytes:
    # ports, two 16-byte addresses, interface, cookie), states, dbs.
    body = struct.pack('=BBBB', socket.AF_UNSPEC, 0, 0, EXTENSIONS) + bytes(48) + struct.pack('=II', 0xffffffff, 0)
    return struct.pack('=IHHII', 16 + len(body), TCPDIAG_GETSOCK, NLM_F_REQUEST | NLM_F_DUMP, SEQ, 0) + body


def main():
    if not in_test_netns():
        raise SystemExit('tcpdiag-dump.py: refusing to run outside a test network namespace')
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
    s.sendto(request(), (0, 0))
    out = sys.stdout.buffer
    while True:
        data = s.recv(1 << 20)
        out.write(data)
        off = 0
        while off + 16 <= len(data):
            length, kind = struct.unpack_from('=IH', data, off)
            if kind == NLMSG_ERROR:
                errno = -struct.unpack_from('=i', data, off + 16)[0]
                raise SystemExit('tcpdiag-dump.py: the kernel answered %s' % os.strerror(errno))
            if kind == NLMSG_DONE:
                out.flush()
                return
            off += (length + 3) & ~3


if __name__ == '__main__':
    main()
