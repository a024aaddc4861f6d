#!/usr/bin/env python3
"""Socket peers for the destroy tests (test/api-destroy.test.ts).

Run ONLY inside a private network namespace:

    ip netns exec NS python3 destroy-peers.py

It reads one JSON command per line on stdin and answers each with one JSON line
on stdout: {"id": N, "ok": true, ...} or {"id": N, "error": "..."}. Sockets are
kept by handle (an integer) and described as {h, family, cookie (decimal string),
inode, local: {address, port}, remote: {address, port}}. It exits when stdin
closes.

Commands ("cmd"):
  listen   {family: 4|6, host?, port?, reuseport?, defer?, backlog?, rcvbuf?}
  udp      {family: 4|6, host?, port?, reuseport?, connect?: [host, port]}
  pairs    {listener: h, count, family?: 4|6, host?, accept?: true}
           TCP connections to a listener; with accept: false the server ends
           are never accepted (SYN-RECV with a TCP_DEFER_ACCEPT listener)
  connect  {family, host, port, bind?: [host, port], reuseaddr?} -> the client
  accept   {listener: h} -> the next accepted socket
  close    {h, rst?}  (rst: SO_LINGER {1, 0}, so the close sends a RST)
  probe    {hs, send?}  per handle: {state (TCP_INFO state, or null), send
           (with send: true; 'ok' or the errno name), recv (UDP: errno name
           of a non-blocking recv, EAGAIN when nothing happened)}
  unixpair {} -> two unix stream sockets (cookie, inode)
  orphan   {} -> a client closed with unsent data to a peer that does not
           read: an orphaned FIN-WAIT-1 socket
  timewait {} -> a TIME-WAIT socket (the client closed first)
  churn    {listener: h, host, port, family} start connecting in a thread
  churncount {} -> how many connections the churn has made so far
  churnstop {} -> every connection the churn made: [client, server] infos
"""

import errno
import json
import os
import socket
import struct
import sys
import threading
import time

SO_COOKIE = 57
TCP_INFO = 11
STATES = {1: 'established', 2: 'syn-sent', 3: 'syn-recv', 4: 'fin-wait-1', 5: 'fin-wait-2',
          6: 'time-wait', 7: 'closed', 8: 'close-wait', 9: 'last-ack', 10: 'listening', 11: 'closing'}


def refuse_host():
    try:
        me = os.stat('/proc/self/ns/net')
    except OSError:
        sys.exit('cannot stat /proc/self/ns/net')
    for name in os.listdir('/var/run/netns') if os.path.isdir('/var/run/netns') else []:
        if not name.startswith('sd-'):
            continue
        try:
            st = os.stat(os.path.join('/var/run/netns', name))
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (me.st_dev, me.st_ino):
            return
    sys.exit('destroy-peers.py runs only inside a test namespace (/var/run/netns/sd-*)')


refuse_host()

socks = {}
lock = threading.Lock()
next_handle = [1]


def cookie_of(s):
    return struct.unpack('Q', s.getsockopt(socket.SOL_SOCKET, SO_COOKIE, 8))[0]


def endpoint(addr):
    return {'address': addr[0], 'port': addr[1]}


def keep(s):
    with lock:
        h = next_handle[0]
        next_handle[0] += 1
        socks[h] = s
    return h


def describe(h):
    s = socks[h]
    fam = 'inet6' if s.family == socket.AF_INET6 else 'inet'
    out = {'h': h, 'family': fam, 'cookie': str(cookie_of(s)), 'inode': os.fstat(s.fileno()).st_ino}
    try:
        out['local'] = endpoint(s.getsockname())
    except OSError:
        pass
    try:
        out['remote'] = endpoint(s.getpeername())
    except OSError:
        out['remote'] = {'address': '::' if fam == 'inet6' else '0.0.0.0', 'port': 0}
    return out


def af(f):
    return socket.AF_INET6 if f == 6 else socket.AF_INET


def loop_host(f):
    return '::1' if f == 6 else '127.0.0.1'


def tcp_state(s):
    if s.type != socket.SOCK_STREAM or s.family == socket.AF_UNIX:
        return None
    try:
        return STATES.get(s.getsockopt(socket.IPPROTO_TCP, TCP_INFO, 8)[0], 'unknown')
    except OSError:
        return None


def errname(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def tcp_state_in_proc(local_port, remote_port):
    # /proc/net/tcp{,6}: the "st" column of the line with these ports.
    for path in ('/proc/net/tcp', '/proc/net/tcp6'):
        with open(path) as f:
            next(f)
            for line in f:
                p = line.split()
                lp = int(p[1].split(':')[1], 16)
                rp = int(p[2].split(':')[1], 16)
                if lp == local_port and rp == remote_port:
                    return STATES.get(int(p[3], 16), 'unknown')
    return None


def wait_proc_state(lp, rp, want, timeout=3.0):
    end = time.time() + timeout
    got = None
    while time.time() < end:
        got = tcp_state_in_proc(lp, rp)
        if got == want:
            return got
        time.sleep(0.01)
    return got


def cmd_listen(a):
    f = a.get('family', 4)
    s = socket.socket(af(f), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if a.get('reuseport'):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if f == 6 and a.get('dual'):
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    if a.get('rcvbuf'):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a['rcvbuf'])
    if a.get('defer'):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 60)
    s.bind((a.get('host', loop_host(f)), a.get('port', 0)))
    s.listen(a.get('backlog', 1024))
    return describe(keep(s))


def cmd_udp(a):
    f = a.get('family', 4)
    s = socket.socket(af(f), socket.SOCK_DGRAM)
    if a.get('reuseport'):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind((a.get('host', loop_host(f)), a.get('port', 0)))
    if a.get('connect'):
        s.connect(tuple(a['connect']))
    return describe(keep(s))


def connect_to(f, host, port, bind=None, reuseaddr=False):
    c = socket.socket(af(f), socket.SOCK_STREAM)
    if reuseaddr:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if bind:
        c.bind(tuple(bind))
    c.connect((host, port))
    return c


def cmd_pairs(a):
    lst = socks[a['listener']]
    lhost, lport = lst.getsockname()[:2]
    f = a.get('family', 6 if lst.family == socket.AF_INET6 else 4)
    host = a.get('host', lhost)
    out = []
    for _ in range(a['count']):
        c = connect_to(f, host, lport)
        ch = keep(c)
        if a.get('accept', True):
            srv, _addr = lst.accept()
            out.append([describe(ch), describe(keep(srv))])
        else:
            out.append([describe(ch), None])
    return {'pairs': out}


def cmd_connect(a):
    c = connect_to(a['family'], a['host'], a['port'], a.get('bind'), a.get('reuseaddr', False))
    return describe(keep(c))


def cmd_accept(a):
    srv, _addr = socks[a['listener']].accept()
    return describe(keep(srv))


def cmd_close(a):
    s = socks.pop(a['h'])
    if a.get('rst'):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    s.close()
    return {}


def cmd_probe(a):
    out = {}
    for h in a['hs']:
        s = socks.get(h)
        if s is None:
            out[str(h)] = None
            continue
        r = {'state': tcp_state(s)}
        if a.get('send') and s.type == socket.SOCK_STREAM:
            try:
                s.send(b'x', socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL)
                r['send'] = 'ok'
            except OSError as e:
                r['send'] = errname(e)
        if s.type == socket.SOCK_DGRAM:
            try:
                s.recv(1, socket.MSG_DONTWAIT)
                r['recv'] = 'data'
            except OSError as e:
                r['recv'] = errname(e)
        out[str(h)] = r
    return {'probe': out}


def cmd_unixpair(a):
    x, y = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    out = []
    for s in (x, y):
        h = keep(s)
        out.append({'h': h, 'family': 'unix', 'cookie': str(cookie_of(s)), 'inode': os.fstat(s.fileno()).st_ino})
    return {'pair': out}


def cmd_orphan(a):
    # The server end does not read and has a small receive buffer, so the client's
    # data stays unsent; closing the client then leaves an orphan in FIN-WAIT-1.
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    lst.bind(('127.0.0.1', 0))
    lst.listen(1)
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
    c.connect(lst.getsockname())
    srv, _ = lst.accept()
    keep(srv)
    lst.close()
    c.setblocking(False)
    chunk = b'y' * 65536
    deadline = time.time() + 3
    while time.time() < deadline:
        try:
            c.send(chunk)
        except BlockingIOError:
            break
    time.sleep(0.05)
    info = {'family': 'inet', 'cookie': str(cookie_of(c)), 'inode': 0,
            'local': endpoint(c.getsockname()), 'remote': endpoint(c.getpeername())}
    c.close()
    info['observedState'] = wait_proc_state(info['local']['port'], info['remote']['port'], 'fin-wait-1')
    return info


def cmd_timewait(a):
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.bind(('127.0.0.1', 0))
    lst.listen(1)
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.connect(lst.getsockname())
    srv, _ = lst.accept()
    lst.close()
    info = {'family': 'inet', 'cookie': str(cookie_of(c)), 'inode': 0,
            'local': endpoint(c.getsockname()), 'remote': endpoint(c.getpeername())}
    c.close()
    wait_proc_state(info['local']['port'], info['remote']['port'], 'fin-wait-2')
    srv.close()
    info['observedState'] = wait_proc_state(info['local']['port'], info['remote']['port'], 'time-wait')
    return info


churn = {'stop': None, 'thread': None, 'made': []}


def cmd_churn(a):
    lst = socks[a['listener']]
    stop = threading.Event()
    made = []

    def run():
        while not stop.is_set():
            try:
                c = connect_to(a['family'], a['host'], a['port'])
                srv, _addr = lst.accept()
            except OSError:
                continue
            ch, sh = keep(c), keep(srv)
            made.append([describe(ch), describe(sh)])
            time.sleep(a.get('intervalMs', 1) / 1000.0)

    t = threading.Thread(target=run, daemon=True)
    churn.update(stop=stop, thread=t, made=made)
    t.start()
    return {}


def cmd_churncount(a):
    return {'count': len(churn['made'])}


def cmd_churnstop(a):
    churn['stop'].set()
    churn['thread'].join()
    return {'made': churn['made']}


COMMANDS = {name[4:]: fn for name, fn in list(globals().items()) if name.startswith('cmd_')}


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        req = json.loads(line)
        try:
            res = COMMANDS[req['cmd']](req)
            res = dict(res, id=req['id'], ok=True)
        except Exception as e:  # answered, never fatal: the test reports it
            res = {'id': req['id'], 'error': '%s: %s' % (type(e).__name__, e)}
        sys.stdout.write(json.dumps(res) + '\n')
        sys.stdout.flush()


main()
