"""TCP flows at fixed rates over loopback, for the rate tests (run inside a test namespace).

    python3 flows.py '{"rates": [1000000, 200000, 20000]}'

Forks a receiver process (comm "flowsink") that listens on 127.0.0.1 and reads everything,
then, as the sender (comm "flowsrc"), opens one connection per rate, flow i from
127.0.0.(10+i), and writes rate/100 bytes every 10 ms on each (paced on a monotonic clock,
so the long-run rate is exact). Prints one JSON line, {"sender", "receiver", "port",
"flows": [{"rate", "clientAddress", "clientPort"}]}, and runs until stdin closes; then both
processes exit.
"""
import json
import os
import signal
import socket
import sys
import threading
import time

TICK = 0.01


def set_comm(name):
    with open('/proc/self/comm', 'w') as f:
        f.write(name)


def receiver(listener, ready_w):
    set_comm('flowsink')
    os.write(ready_w, b'r')

    def drain(conn):
        try:
            while conn.recv(1 << 16):
                pass
        except OSError:
            pass

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=drain, args=(conn,), daemon=True).start()


def send(conn, rate):
    chunk = b'x' * max(1, int(rate * TICK))
    due = time.monotonic()
    try:
        while True:
            conn.sendall(chunk)
            due += TICK
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    except OSError:
        pass


def main():
    spec = json.loads(sys.argv[1])
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(('127.0.0.1', 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    ready_r, ready_w = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            receiver(listener, ready_w)
        finally:
            os._exit(0)
    # The receiver dies with us (it is killed below when stdin closes, or when we die).
    os.read(ready_r, 1)
    listener.close()
    set_comm('flowsrc')
    flows = []
    for i, rate in enumerate(spec['rates']):
        conn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        address = '127.0.0.%d' % (10 + i)
        conn.bind((address, 0))
        conn.connect(('127.0.0.1', port))
        flows.append({'rate': rate, 'clientAddress': address, 'clientPort': conn.getsockname()[1]})
        threading.Thread(target=send, args=(conn, rate), daemon=True).start()
    print(json.dumps({'sender': os.getpid(), 'receiver': child, 'port': port, 'flows': flows}), flush=True)
    try:
        sys.stdin.read()
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)


if __name__ == '__main__':
    main()
