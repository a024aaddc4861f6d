#!/usr/bin/env python3
"""Socket population for sockdiag's integration tests.

Run ONLY inside a private network namespace:

    ip netns exec NS python3 population.py '<json spec>'

It creates a varied set of sockets on loopback, prints ONE JSON line on stdout
describing each of them (kind, SO_COOKIE, inode, addresses, the state it is
expected to be in), then waits until stdin closes or SIGTERM arrives, and exits
after removing the files it made.

Spec (all keys optional):
  kinds          list of 'tcp', 'udp', 'unix', 'packet', 'netlink', 'mptcp', 'raw'
                 (default: all but 'raw')
  extraTcpPairs  number of additional established TCP pairs (default 0)
  extraFamily    'inet' (default) or 'inet6' for those pairs
  unixDir        directory for filesystem unix sockets (default: a fresh
                 directory under /tmp, removed at exit)

Output (one line): {"pid", "comm", "children", "uid", "netns", "unixDir",
  "sockets": [{name, kind, family, type, protocol, state, fd, cookie (decimal
  string, null for a SYN-RECV request socket), inode, local/remote {address,
  port} | path/peerPath/peerInode | portid/groups/netlinkProtocol |
  ethProtocol/interface, and per-socket extras}],
  "refused": [{kind, step, errno, message}], "warnings": [...],
  "extra": null | {family, address, port, listenerCookie, listenerInode,
            fields, pairs: [[clientCookie, serverCookie, clientInode,
            serverInode, clientPort], ...]}}

With 'udp', one UDP socket ('udp4-shared') is also held by a forked child named
'sd-pop child' (at fd 200), which exits when this process does.

It refuses to run anywhere but in a namespace bound at /var/run/netns/sd-*
(the host's sockets are never to be touched).
"""

import errno
import fcntl
import json
import os
import resource
import shutil
import signal
import socket
import struct
import sys
import tempfile
import time

SOL_SOCKET = 1
SO_COOKIE = 57
SO_BINDTODEVICE = 25
IPPROTO_MPTCP = 262
SIOCINQ = 0x541B
SIOCOUTQ = 0x5411
ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
NETLINK_ROUTE = 0
NETLINK_SOCK_DIAG = 4
NETLINK_GENERIC = 16
RTMGRP_LINK = 0x1
RTMGRP_IPV4_IFADDR = 0x10

ALL_KINDS = ['tcp', 'udp', 'unix', 'packet', 'netlink', 'mptcp', 'raw']
# raw inet sockets are opt-in: this kernel has no raw_diag (ss falls back to /proc/net/raw).
DEFAULT_KINDS = ['tcp', 'udp', 'unix', 'packet', 'netlink', 'mptcp']
OTHER_UID = 65534

# /proc/net/tcp state numbers
TCP_STATES = {
    1: 'established', 2: 'syn-sent', 3: 'syn-recv', 4: 'fin-wait-1',
    5: 'fin-wait-2', 6: 'time-wait', 7: 'closed', 8: 'close-wait',
    9: 'last-ack', 10: 'listening', 11: 'closing',
}

keep = []        # every socket object we hold, so none is garbage-collected
sockets = []     # records printed in the JSON line
refused = []     # what the kernel (or this machine) refused
warnings = []    # things that did not come out as intended
children = []    # pids of helper children
keep_fds_parent = []  # plain fds to keep open (the child's lifeline pipe)


def cookie_of(s):
    return struct.unpack('<Q', s.getsockopt(SOL_SOCKET, SO_COOKIE, 8))[0]


def inode_of(s):
    return os.fstat(s.fileno()).st_ino


def queue(s, req):
    buf = fcntl.ioctl(s.fileno(), req, b'\0\0\0\0')
    return struct.unpack('i', buf)[0]


def family_name(af):
    return {socket.AF_INET: 'inet', socket.AF_INET6: 'inet6', socket.AF_UNIX: 'unix',
            socket.AF_PACKET: 'packet', socket.AF_NETLINK: 'netlink'}[af]


def type_name(t):
    return {socket.SOCK_STREAM: 'stream', socket.SOCK_DGRAM: 'dgram',
            socket.SOCK_SEQPACKET: 'seqpacket', socket.SOCK_RAW: 'raw'}[t]


def inet_addr(a):
    return {'address': a[0], 'port': a[1]}


def unix_name(n):
    """getsockname() of a unix socket → ss's spelling ('@…' for abstract), or None."""
    if isinstance(n, bytes):
        if not n:
            return None
        if n[0] == 0:
            return '@' + n[1:].decode('utf-8', 'replace')
        return n.decode('utf-8', 'replace')
    return n or None


def record(name, kind, s, state, **more):
    """Describe a live socket we keep open."""
    r = {
        'name': name,
        'kind': kind,
        'family': family_name(s.family),
        'type': type_name(s.type),
        'protocol': s.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL),
        'state': state,
        'fd': s.fileno(),
        'cookie': str(cookie_of(s)),
        'inode': inode_of(s),
    }
    if s.family in (socket.AF_INET, socket.AF_INET6):
        r['local'] = inet_addr(s.getsockname())
        try:
            r['remote'] = inet_addr(s.getpeername())
        except OSError:
            r['remote'] = {'address': '0.0.0.0' if s.family == socket.AF_INET else '::', 'port': 0}
    elif s.family == socket.AF_UNIX:
        r['path'] = unix_name(s.getsockname())
        try:
            r['peerPath'] = unix_name(s.getpeername())
        except OSError:
            pass
    r.update(more)
    keep.append(s)
    sockets.append(r)
    return r


def tcp_proc_states():
    """(local port, remote port, family) → state name, from this namespace's /proc/net/tcp{,6}."""
    res = {}
    for fam, path in (('inet', '/proc/net/tcp'), ('inet6', '/proc/net/tcp6')):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    p = line.split()
                    lport = int(p[1].rsplit(':', 1)[1], 16)
                    rport = int(p[2].rsplit(':', 1)[1], 16)
                    res[(fam, lport, rport)] = TCP_STATES.get(int(p[3], 16), p[3])
        except FileNotFoundError:
            pass
    return res


def wait_state(fam, lport, rport, want, timeout=3.0):
    end = time.time() + timeout
    while True:
        got = tcp_proc_states().get((fam, lport, rport))
        if got == want or time.time() > end:
            return got
        time.sleep(0.01)


def fill_until_blocked(s, chunk=65536):
    """Send without blocking until the kernel takes no more (the peer does not read)."""
    s.setblocking(False)
    data = b'q' * chunk
    total = 0
    idle_rounds = 0
    while idle_rounds < 3:
        try:
            while True:
                total += s.send(data)
        except BlockingIOError:
            idle_rounds += 1
            time.sleep(0.05)
    return total


class as_uid:
    """Create sockets owned by another uid: a socket's owner is the fsuid at creation."""

    def __init__(self, uid):
        self.uid = uid

    def __enter__(self):
        os.setegid(self.uid)
        os.seteuid(self.uid)

    def __exit__(self, *exc):
        os.seteuid(0)
        os.setegid(0)


def listener(af, addr, backlog=128, v6only=None, proto=0):
    s = socket.socket(af, socket.SOCK_STREAM, proto)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if v6only is not None:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if v6only else 0)
    s.bind((addr, 0))
    s.listen(backlog)
    return s


def connect_pair(lsock, af, dest, proto=0, client_opts=()):
    c = socket.socket(af, socket.SOCK_STREAM, proto)
    for level, opt, val in client_opts:
        c.setsockopt(level, opt, val)
    c.connect((dest, lsock.getsockname()[1]))
    a, _ = lsock.accept()
    return c, a


# ---------------------------------------------------------------- TCP

def make_tcp():
    # Listeners: specific and wildcard, v4 and v6 (one dual-stack :: listener).
    l4 = listener(socket.AF_INET, '127.0.0.1')
    record('tcp4-listen', 'tcp', l4, 'listening')
    l4any = listener(socket.AF_INET, '0.0.0.0')
    record('tcp4-listen-any', 'tcp', l4any, 'listening')
    l6 = listener(socket.AF_INET6, '::1', v6only=True)
    record('tcp6-listen', 'tcp', l6, 'listening')
    l6any = listener(socket.AF_INET6, '::', v6only=False)
    record('tcp6-listen-any-dualstack', 'tcp', l6any, 'listening', v6only=False)

    # A listener owned by another uid (ss -e prints uid: only when it is not 0).
    with as_uid(OTHER_UID):
        lu = listener(socket.AF_INET, '127.0.0.1')
    record('tcp4-listen-uid', 'tcp', lu, 'listening', uid=OTHER_UID)

    # Established pairs.
    c, a = connect_pair(l4, socket.AF_INET, '127.0.0.1')
    record('tcp4-est-client', 'tcp', c, 'established')
    record('tcp4-est-server', 'tcp', a, 'established')
    c, a = connect_pair(l6, socket.AF_INET6, '::1')
    record('tcp6-est-client', 'tcp', c, 'established')
    record('tcp6-est-server', 'tcp', a, 'established')

    # IPv4-mapped IPv6: a v6 socket talking to 127.0.0.1 through the dual-stack listener.
    c, a = connect_pair(l6any, socket.AF_INET6, '::ffff:127.0.0.1')
    record('tcp6-mapped-client', 'tcp', c, 'established')
    record('tcp6-mapped-server', 'tcp', a, 'established')

    # Queued data both ways, v4 and v6: the server never reads the client's 1000
    # bytes (server Recv-Q), and sends until blocked while the client does not read
    # (server Send-Q > 0, client Recv-Q > 0).
    for fam, lst, dest, tag in ((socket.AF_INET, l4, '127.0.0.1', 'tcp4'),
                                (socket.AF_INET6, l6, '::1', 'tcp6')):
        c, a = connect_pair(lst, fam, dest, client_opts=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)])
        a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        c.sendall(b'r' * 1000)
        sent = fill_until_blocked(a)
        time.sleep(0.05)
        rc = record(tag + '-queued-client', 'tcp', c, 'established',
                    recvQ=queue(c, SIOCINQ), sendQ=queue(c, SIOCOUTQ))
        rs = record(tag + '-queued-server', 'tcp', a, 'established',
                    recvQ=queue(a, SIOCINQ), sendQ=queue(a, SIOCOUTQ), bytesWritten=sent)
        if rs['recvQ'] != 1000 or rs['sendQ'] <= 0 or rc['recvQ'] <= 0:
            warnings.append('%s queues: server %d/%d client %d/%d' %
                            (tag, rs['recvQ'], rs['sendQ'], rc['recvQ'], rc['sendQ']))

    # TIME-WAIT: the client closes first (FIN-WAIT-2), then the server closes, so
    # the client's side becomes TIME-WAIT. The cookie carries over to the
    # timewait socket; its inode becomes 0 and it has no process.
    c, a = connect_pair(l4, socket.AF_INET, '127.0.0.1')
    ck, ci = cookie_of(c), inode_of(c)
    lp, rp = c.getsockname()[1], c.getpeername()[1]
    c.close()
    wait_state('inet', rp, lp, 'close-wait')
    a.close()
    got = wait_state('inet', lp, rp, 'time-wait')
    tw = {'name': 'tcp4-time-wait', 'kind': 'tcp', 'family': 'inet', 'type': 'stream', 'protocol': 6,
          'state': 'time-wait', 'fd': None, 'cookie': str(ck), 'inode': 0, 'formerInode': ci,
          'local': {'address': '127.0.0.1', 'port': lp}, 'remote': {'address': '127.0.0.1', 'port': rp},
          'observedState': got}
    sockets.append(tw)
    if got != 'time-wait':
        warnings.append('TIME-WAIT did not appear (state %s)' % got)

    # CLOSE-WAIT and FIN-WAIT-2: the client shuts down its sending side, the
    # server does not close.
    c, a = connect_pair(l4, socket.AF_INET, '127.0.0.1')
    c.shutdown(socket.SHUT_WR)
    lp, rp = c.getsockname()[1], c.getpeername()[1]
    got_s = wait_state('inet', rp, lp, 'close-wait')
    got_c = wait_state('inet', lp, rp, 'fin-wait-2')
    record('tcp4-fin-wait-2', 'tcp', c, 'fin-wait-2', observedState=got_c)
    record('tcp4-close-wait', 'tcp', a, 'close-wait', observedState=got_s)
    if got_s != 'close-wait' or got_c != 'fin-wait-2':
        warnings.append('CLOSE-WAIT/FIN-WAIT-2 came out as %s/%s' % (got_s, got_c))

    # SYN-RECV: with TCP_DEFER_ACCEPT the listener ignores the bare final ACK and
    # keeps the request socket in SYN-RECV; the client is ESTABLISHED. One on a
    # v4 listener and one IPv4-mapped on a dual-stack v6 listener.
    for fam_l, addr, tag in ((socket.AF_INET, '127.0.0.1', 'tcp4'), (socket.AF_INET6, '::', 'tcp6mapped')):
        ld = listener(fam_l, addr, v6only=(False if fam_l == socket.AF_INET6 else None))
        ld.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 60)
        record(tag + '-defer-listen', 'tcp', ld, 'listening')
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.connect(('127.0.0.1', ld.getsockname()[1]))
        lp, rp = c.getsockname()[1], c.getpeername()[1]
        record(tag + '-defer-client', 'tcp', c, 'established')
        # The request socket of a v6 listener is AF_INET6 even for a v4 client.
        rfam = 'inet6' if fam_l == socket.AF_INET6 else 'inet'
        raddr = '::ffff:127.0.0.1' if fam_l == socket.AF_INET6 else '127.0.0.1'
        got = wait_state(rfam, rp, lp, 'syn-recv')
        sockets.append({'name': tag + '-syn-recv', 'kind': 'tcp', 'family': rfam, 'type': 'stream',
                        'protocol': 6, 'state': 'syn-recv', 'fd': None, 'cookie': None, 'inode': 0,
                        'local': {'address': raddr, 'port': rp},
                        'remote': {'address': raddr, 'port': lp}, 'observedState': got,
                        'requestOf': ld.getsockname()[1]})
        if got != 'syn-recv':
            warnings.append('%s SYN-RECV did not appear (state %s)' % (tag, got))

    # SYN-SENT and a listener with a pending (not accepted) connection: backlog 0
    # holds one connection; the next SYN is dropped, so that client stays SYN-SENT.
    lb = listener(socket.AF_INET, '127.0.0.1', backlog=0)
    p = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    p.connect(('127.0.0.1', lb.getsockname()[1]))
    record('tcp4-pending-client', 'tcp', p, 'established')
    record('tcp4-listen-backlog-full', 'tcp', lb, 'listening', recvQ=1)
    ss_ = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ss_.setblocking(False)
    try:
        ss_.connect(('127.0.0.1', lb.getsockname()[1]))
    except BlockingIOError:
        pass
    time.sleep(0.02)
    lp = ss_.getsockname()[1]
    got = wait_state('inet', lp, lb.getsockname()[1], 'syn-sent', timeout=1.0)
    record('tcp4-syn-sent', 'tcp', ss_, 'syn-sent', observedState=got,
           remote={'address': '127.0.0.1', 'port': lb.getsockname()[1]})
    if got != 'syn-sent':
        warnings.append('SYN-SENT did not appear (state %s)' % got)


# ---------------------------------------------------------------- UDP

def make_udp():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(('127.0.0.1', 0))
    record('udp4-bound', 'udp', u, 'closed')
    ua = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ua.bind(('0.0.0.0', 0))
    record('udp4-bound-any', 'udp', ua, 'closed')
    u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u6.bind(('::1', 0))
    record('udp6-bound', 'udp', u6, 'closed')

    # Bound to a device: ss prints the %lo suffix.
    ud = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ud.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, b'lo\0')
    ud.bind(('0.0.0.0', 0))
    record('udp4-bound-dev-lo', 'udp', ud, 'closed', interface=socket.if_nametoindex('lo'))

    with as_uid(OTHER_UID):
        uu = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    uu.bind(('::', 0))
    record('udp6-bound-any-uid', 'udp', uu, 'closed', uid=OTHER_UID)

    # Connected.
    uc = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    uc.connect(('127.0.0.1', u.getsockname()[1]))
    record('udp4-connected', 'udp', uc, 'established')
    uc6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    uc6.connect(('::1', u6.getsockname()[1]))
    record('udp6-connected', 'udp', uc6, 'established')

    # Queued datagrams nobody reads.
    uq = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    uq.bind(('127.0.0.1', 0))
    snd = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(3):
        snd.sendto(b'd' * (100 + i), uq.getsockname())
    time.sleep(0.01)
    record('udp4-queued', 'udp', uq, 'closed', datagrams=3, recvQ=queue(uq, SIOCINQ))
    record('udp4-sender', 'udp', snd, 'closed')


# ---------------------------------------------------------------- unix

def make_unix(unix_dir, tag):
    pid = os.getpid()
    for typ, tname in ((socket.SOCK_STREAM, 'stream'), (socket.SOCK_SEQPACKET, 'seqpacket')):
        # Filesystem path listener: one accepted connection, one pending.
        path = os.path.join(unix_dir, tname + '.sock')
        l = socket.socket(socket.AF_UNIX, typ)
        l.bind(path)
        l.listen(16)
        c1 = socket.socket(socket.AF_UNIX, typ)
        c1.connect(path)
        a1, _ = l.accept()
        c2 = socket.socket(socket.AF_UNIX, typ)
        c2.connect(path)   # never accepted
        record('unix-%s-path-listen' % tname, 'unix', l, 'listening', pending=1)
        record('unix-%s-path-client' % tname, 'unix', c1, 'established', peerInode=inode_of(a1))
        record('unix-%s-path-server' % tname, 'unix', a1, 'established', peerInode=inode_of(c1))
        record('unix-%s-path-pending-client' % tname, 'unix', c2, 'established')

        # Abstract name listener with one accepted connection.
        name = '\0sd-pop-%d-%s-%s' % (pid, tag, tname)
        la = socket.socket(socket.AF_UNIX, typ)
        la.bind(name)
        la.listen(16)
        c = socket.socket(socket.AF_UNIX, typ)
        c.connect(name)
        a, _ = la.accept()
        record('unix-%s-abstract-listen' % tname, 'unix', la, 'listening')
        record('unix-%s-abstract-client' % tname, 'unix', c, 'established', peerInode=inode_of(a))
        record('unix-%s-abstract-server' % tname, 'unix', a, 'established', peerInode=inode_of(c))

        # Unnamed (socketpair), with queued data one way.
        x, y = socket.socketpair(socket.AF_UNIX, typ)
        x.send(b'u' * 300)
        record('unix-%s-pair-a' % tname, 'unix', x, 'established', peerInode=inode_of(y))
        record('unix-%s-pair-b' % tname, 'unix', y, 'established', peerInode=inode_of(x), recvQ=300)

    # Datagram: bound to a path with queued datagrams from a connected sender,
    # bound to an abstract name, and a socketpair.
    path = os.path.join(unix_dir, 'dgram.sock')
    d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    d.bind(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.connect(path)
    s.send(b'g' * 50)
    s.send(b'h' * 70)
    # A datagram socket that another one connects to turns ESTABLISHED too.
    record('unix-dgram-path', 'unix', d, 'established', datagrams=2, recvQ=50)
    record('unix-dgram-path-sender', 'unix', s, 'established', peerInode=inode_of(d))
    da = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    da.bind('\0sd-pop-%d-%s-dgram' % (pid, tag))
    record('unix-dgram-abstract', 'unix', da, 'closed')
    with as_uid(OTHER_UID):
        du = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    du.bind('\0sd-pop-%d-%s-dgram-uid' % (pid, tag))
    record('unix-dgram-abstract-uid', 'unix', du, 'closed', uid=OTHER_UID)
    x, y = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    record('unix-dgram-pair-a', 'unix', x, 'established', peerInode=inode_of(y))
    record('unix-dgram-pair-b', 'unix', y, 'established', peerInode=inode_of(x))


# ---------------------------------------------------------------- packet

def make_packet():
    lo = socket.if_nametoindex('lo')
    r = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    r.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    r.bind(('lo', ETH_P_ALL))
    record('packet-raw-all-lo', 'packet', r, 'closed', ethProtocol=ETH_P_ALL, interface=lo)
    d = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
    d.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    record('packet-dgram-ip', 'packet', d, 'closed', ethProtocol=ETH_P_IP, interface=0)
    # A packet socket with protocol 0 receives nothing: its queues never move.
    z = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    record('packet-raw-none', 'packet', z, 'closed', ethProtocol=0, interface=0)


# ---------------------------------------------------------------- netlink

def make_netlink():
    r = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
    r.bind((0, RTMGRP_LINK | RTMGRP_IPV4_IFADDR))
    pid_, groups = r.getsockname()
    record('netlink-route-groups', 'netlink', r, 'closed', portid=pid_, groups=groups, netlinkProtocol=NETLINK_ROUTE)
    d = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
    d.bind((0, 0))
    pid_, groups = d.getsockname()
    record('netlink-sock-diag', 'netlink', d, 'closed', portid=pid_, groups=groups, netlinkProtocol=NETLINK_SOCK_DIAG)
    g = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_GENERIC)
    g.bind((0, 0))
    pid_, groups = g.getsockname()
    record('netlink-generic', 'netlink', g, 'closed', portid=pid_, groups=groups, netlinkProtocol=NETLINK_GENERIC)


# ---------------------------------------------------------------- MPTCP

def make_mptcp():
    try:
        l = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP)
    except OSError as e:
        refused.append({'kind': 'mptcp', 'step': 'socket', 'errno': errno.errorcode.get(e.errno, str(e.errno)),
                        'message': str(e)})
        return
    try:
        l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        l.bind(('127.0.0.1', 0))
        l.listen(16)
        c, a = connect_pair(l, socket.AF_INET, '127.0.0.1', proto=IPPROTO_MPTCP)
        c.sendall(b'm' * 200)   # the server does not read: Recv-Q 200
        time.sleep(0.02)
    except OSError as e:
        refused.append({'kind': 'mptcp', 'step': 'connect', 'errno': errno.errorcode.get(e.errno, str(e.errno)),
                        'message': str(e)})
        l.close()
        return
    record('mptcp-listen', 'mptcp', l, 'listening')
    record('mptcp-client', 'mptcp', c, 'established')
    record('mptcp-server', 'mptcp', a, 'established', recvQ=200)


# ---------------------------------------------------------------- a socket two processes hold

def make_shared():
    """A UDP socket also held by a child process (named 'sd-pop child', at fd 200),
    so that ss -p lists two users for it. The child exits when we do."""
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(('127.0.0.1', 0))
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(u.fileno(), 200)
            devnull = os.open('/dev/null', os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            keep_fds = {0, 1, 2, r, 200}
            for fd in map(int, os.listdir('/proc/self/fd')):
                if fd not in keep_fds:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            with open('/proc/self/comm', 'w') as f:
                f.write('sd-pop child')
            while os.read(r, 1):
                pass
        finally:
            os._exit(0)
    os.close(r)
    keep_fds_parent.append(w)
    record('udp4-shared', 'udp', u, 'closed',
           holders=[{'pid': os.getpid(), 'fd': u.fileno()}, {'pid': pid, 'fd': 200, 'command': 'sd-pop child'}])
    children.append(pid)


# ---------------------------------------------------------------- raw (opt-in)

def make_raw():
    try:
        r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        r.bind(('127.0.0.1', 0))
        r6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    except OSError as e:
        refused.append({'kind': 'raw', 'step': 'socket', 'errno': errno.errorcode.get(e.errno, str(e.errno)),
                        'message': str(e)})
        return
    record('raw4-icmp', 'raw', r, 'closed')
    record('raw6-icmpv6', 'raw', r6, 'closed')


# ---------------------------------------------------------------- extra pairs

def make_extra(n, fam):
    af = socket.AF_INET6 if fam == 'inet6' else socket.AF_INET
    addr = '::1' if fam == 'inet6' else '127.0.0.1'
    l = listener(af, addr, backlog=4096, v6only=(True if fam == 'inet6' else None))
    keep.append(l)
    lport = l.getsockname()[1]
    pairs = []
    for _ in range(n):
        c = socket.socket(af, socket.SOCK_STREAM)
        c.connect((addr, lport))
        a, _ = l.accept()
        keep.append(c)
        keep.append(a)
        pairs.append([str(cookie_of(c)), str(cookie_of(a)), inode_of(c), inode_of(a), c.getsockname()[1]])
    return {'family': fam, 'address': addr, 'port': lport, 'listenerCookie': str(cookie_of(l)),
            'listenerInode': inode_of(l),
            'fields': ['clientCookie', 'serverCookie', 'clientInode', 'serverInode', 'clientPort'],
            'pairs': pairs}


# ---------------------------------------------------------------- main

def in_test_netns():
    """True only inside a namespace made by the test helpers: one bound at
    /var/run/netns/sd-* (ip netns exec). Never the host's."""
    try:
        mine = os.stat('/proc/self/ns/net').st_ino
        names = os.listdir('/var/run/netns')
    except OSError:
        return False
    for name in names:
        if not name.startswith('sd-'):
            continue
        try:
            if os.stat(os.path.join('/var/run/netns', name)).st_ino == mine:
                return True
        except OSError:
            pass
    return False


def main():
    if not in_test_netns():
        raise SystemExit('population.py: refusing to run outside a test network namespace '
                         '(use: ip netns exec sd-<pid>-<n> python3 population.py SPEC)')
    spec = json.loads(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] else {}
    kinds = spec.get('kinds', DEFAULT_KINDS)
    for k in kinds:
        if k not in ALL_KINDS:
            raise SystemExit('population.py: unknown kind %r' % k)
    n_extra = int(spec.get('extraTcpPairs', 0))

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if 2 * n_extra + 200 > hard:
        raise SystemExit('population.py: extraTcpPairs=%d needs more than the %d open files allowed'
                         % (n_extra, hard))

    own_dir = None
    unix_dir = spec.get('unixDir')
    if 'unix' in kinds and not unix_dir:
        own_dir = unix_dir = tempfile.mkdtemp(prefix='sd-pop-%d-' % os.getpid())

    def on_term(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    try:
        builders = {
            'tcp': make_tcp, 'udp': make_udp, 'packet': make_packet,
            'netlink': make_netlink, 'mptcp': make_mptcp,
            'unix': lambda: make_unix(unix_dir, 'p'), 'raw': make_raw,
        }
        for k in ALL_KINDS:
            if k in kinds:
                builders[k]()
        if 'udp' in kinds:
            make_shared()
        extra_info = make_extra(n_extra, spec.get('extraFamily', 'inet')) if n_extra > 0 else None
        with open('/proc/self/comm') as f:
            comm = f.read().strip()
        netns = os.readlink('/proc/self/ns/net')
        out = {'pid': os.getpid(), 'comm': comm, 'children': children, 'uid': os.getuid(), 'netns': netns,
               'unixDir': unix_dir, 'sockets': sockets, 'refused': refused, 'warnings': warnings,
               'extra': extra_info}
        sys.stdout.write(json.dumps(out, separators=(',', ':')) + '\n')
        sys.stdout.flush()
        # Hold everything until stdin closes (or SIGTERM).
        while sys.stdin.buffer.read(65536):
            pass
    finally:
        for s in keep:
            try:
                s.close()
            except OSError:
                pass
        for fd in keep_fds_parent:
            try:
                os.close(fd)
            except OSError:
                pass
        for pid in children:
            try:
                os.waitpid(pid, 0)
            except OSError:
                pass
        if own_dir:
            shutil.rmtree(own_dir, ignore_errors=True)


if __name__ == '__main__':
    main()
