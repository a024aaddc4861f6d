#!/usr/bin/env python3
"""Extra sockets for the CLI details test (test/cli-details.test.ts): the things the main
population does not make — timers, socket options, service-name ports, a BPF filter,
fanout and ring on packet sockets, a connected netlink socket, shut-down unix sockets,
a second thread (so that `ss -T` has two holders per socket).

Run ONLY inside a private namespace (/var/run/netns/sd-*): ip netns exec NS python3 THIS.
Prints one JSON line {"pid", "refused": [...]} when ready, then waits for stdin to close.
"""
import json
import os
import socket
import struct
import sys
import threading

SOL_SOCKET = 1
SO_MARK = 36
SO_ATTACH_FILTER = 26
IP_FREEBIND = 15
IP_TRANSPARENT = 19
IP_RECVERR = 11
IP_BIND_ADDRESS_NO_PORT = 24
SOL_PACKET = 263
PACKET_RX_RING = 5
PACKET_VERSION = 10
PACKET_FANOUT = 18
TPACKET_V2 = 1
ETH_P_ALL = 0x0003
ETH_P_ARP = 0x0806
ETH_P_8021Q = 0x8100

keep = []
refused = []


def attempt(what, fn):
    try:
        return fn()
    except OSError as e:
        refused.append({'step': what, 'errno': e.errno, 'message': str(e)})
        return None


def netns_guard():
    st = os.stat('/proc/self/ns/net')
    for name in os.listdir('/var/run/netns'):
        if name.startswith('sd-') and os.stat('/var/run/netns/' + name).st_ino == st.st_ino:
            return
    sys.stderr.write('refusing to run outside a sd-* network namespace\n')
    sys.exit(2)


def pair(family, addr, server_opts=(), client_opts=()):
    l = socket.socket(family, socket.SOCK_STREAM)
    for lvl, opt, val in server_opts:
        l.setsockopt(lvl, opt, val)
    l.bind((addr, 0))
    l.listen(4)
    c = socket.socket(family, socket.SOCK_STREAM)
    for lvl, opt, val in client_opts:
        c.setsockopt(lvl, opt, val)
    c.connect(l.getsockname()[:2])
    a, _ = l.accept()
    keep.extend([l, c, a])
    return l, c, a


def main():
    netns_guard()
    # keepalive timer (59min-ish), tos, mark, reno congestion control
    pair(socket.AF_INET, '127.0.0.1',
         client_opts=[(SOL_SOCKET, socket.SO_KEEPALIVE, 1), (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 3599),
                      (socket.IPPROTO_IP, socket.IP_TOS, 0x10), (SOL_SOCKET, SO_MARK, 0x42)])
    attempt('reno', lambda: pair(socket.AF_INET, '127.0.0.1',
                                 client_opts=[(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b'reno')]))
    attempt('cubic', lambda: pair(socket.AF_INET, '127.0.0.1',
                                  client_opts=[(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b'cubic')]))
    # IPv6 traffic class, v6only listener on ::, dual-stack listener
    attempt('tclass', lambda: pair(socket.AF_INET6, '::1',
                                   client_opts=[(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, 0x20)]))
    for v6only in (1, 0):
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
        s.bind(('::', 0))
        s.listen(1)
        keep.append(s)
    # service names: ssh, shell/syslog (tcp/udp differ), a named port inside the ephemeral range
    for port in (22, 514, 57000):
        attempt('tcp%d' % port, lambda: keep.append(bound_tcp(port)))
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    attempt('udp514', lambda: u.bind(('127.0.0.1', 514)))
    keep.append(u)
    # inet socket options
    o = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for opt in (IP_FREEBIND, IP_TRANSPARENT, IP_RECVERR, IP_BIND_ADDRESS_NO_PORT):
        attempt('sockopt%d' % opt, lambda: o.setsockopt(socket.IPPROTO_IP, opt, 1))
    o.bind(('127.0.0.1', 0))
    keep.append(o)
    # bound to a device
    d = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    attempt('bindtodevice', lambda: d.setsockopt(SOL_SOCKET, socket.SO_BINDTODEVICE, b'lo\0'))
    d.bind(('127.0.0.1', 0))
    d.listen(1)
    keep.append(d)
    # packet: BPF filter (accept nothing), fanout, v2 rx ring, 802.1Q and ARP protocols
    p = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    prog = struct.pack('HBBI', 0x06, 0, 0, 0)  # ret #0
    fprog = struct.pack('HL', 1, ctypes_addr(prog))
    attempt('bpf', lambda: p.setsockopt(SOL_SOCKET, SO_ATTACH_FILTER, fprog))
    keep.append(p)
    f = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    f.bind(('lo', ETH_P_ALL))
    attempt('fanout', lambda: f.setsockopt(SOL_PACKET, PACKET_FANOUT, 7 | (1 << 16)))
    keep.append(f)
    r = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_8021Q))
    attempt('version', lambda: r.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V2))
    attempt('ring', lambda: r.setsockopt(SOL_PACKET, PACKET_RX_RING, struct.pack('IIII', 4096, 2, 2048, 4)))
    keep.append(r)
    # netlink: connected to the kernel
    n = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    n.bind((0, 0))
    attempt('nlconnect', lambda: n.connect((0, 0)))
    keep.append(n)
    # unix: shut down one way, and the other
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    a.shutdown(socket.SHUT_WR)
    b.shutdown(socket.SHUT_RD)
    keep.extend([a, b])
    # a second thread: sockets are shared by the process's threads (ss -T lists each)
    ready = threading.Event()
    threading.Thread(target=lambda: (ready.set(), sys.stdin.read()), daemon=True).start()
    ready.wait()
    print(json.dumps({'pid': os.getpid(), 'refused': refused}), flush=True)
    sys.stdin.read()


def bound_tcp(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('127.0.0.1', port))
    s.listen(1)
    return s


_buffers = []


def ctypes_addr(b):
    import ctypes
    buf = ctypes.create_string_buffer(b, len(b))
    _buffers.append(buf)
    return ctypes.addressof(buf)


if __name__ == '__main__':
    main()
