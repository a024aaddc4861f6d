/**
 * watchSockets(): destroy events in a private namespace (F17, F18), exact loss counts,
 * and the lifecycle (break, return, close, abort: sockets and threads back to baseline).
 */
import { watchSockets, SocketEvent, SocketWatch } from '../lib/api/watch';
import { listSockets } from '../lib/api/list';
import { encodeInetMessage } from '../lib/diag/inet';
import { AF, IPPROTO } from '../lib/diag/constants';
import type { InetSocket } from '../lib/diag/inet';
import type { NetlinkSocket } from '../lib/diag/netlink';
import { SockdiagSystemError } from '../lib/errors';
import { createNetns, describeRoot, pythonBinary, Netns } from './helpers/netns';
import { fdCount, threadCount, sleep } from './helpers/native';

// Runs a list of steps in one python process inside the namespace and prints one JSON
// result per step. Cookies are SO_COOKIE (level SOL_SOCKET, option 57), as decimal strings.
const PY = String.raw`
import json, resource, socket, sys, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
def cookie(s): return str(int.from_bytes(s.getsockopt(socket.SOL_SOCKET, 57, 8), 'little'))
def fam(f): return (socket.AF_INET6, '::1') if f == '6' else (socket.AF_INET, '127.0.0.1')
out = []
for step in json.loads(sys.argv[1]):
    op = step['op']
    if op == 'tcp':
        af, host = fam(step.get('family', '4'))
        l = socket.socket(af, socket.SOCK_STREAM); l.bind((host, 0)); l.listen(4096)
        pairs = []
        for i in range(step['n']):
            c = socket.socket(af, socket.SOCK_STREAM); c.connect(l.getsockname()[:2]); s, _ = l.accept()
            pairs.append((c, s))
        r = {'listener': cookie(l), 'port': l.getsockname()[1],
             'pairs': [{'client': cookie(c), 'server': cookie(s), 'clientPort': c.getsockname()[1]} for c, s in pairs]}
        for c, s in pairs: c.close(); s.close()
        l.close()
        out.append(r)
    elif op == 'udp':
        af, host = fam(step.get('family', '4'))
        cookies = []
        for i in range(step.get('n', 1)):
            u = socket.socket(af, socket.SOCK_DGRAM); u.bind((host, 0)); cookies.append(cookie(u)); u.close()
            time.sleep(step.get('gap', 0))
        out.append({'cookies': cookies})
    elif op == 'unix':
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); d.bind('\0sd-watch-%d' % time.time_ns())
        cookies = [cookie(a), cookie(b), cookie(d)]
        a.close(); b.close(); d.close()
        out.append({'cookies': cookies})
    elif op == 'send':
        n = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 4); n.bind((0, 0))
        n.sendto(bytes.fromhex(step['hex']), (step['portId'], 0)); n.close()
        out.append({})
print(json.dumps(out))
`;

interface TcpResult {
  listener: string;
  port: number;
  pairs: Array<{ client: string; server: string; clientPort: number }>;
}

async function py<T = unknown>(ns: Netns, steps: object[]): Promise<T[]> {
  const r = await ns.exec([pythonBinary(), '-c', PY, JSON.stringify(steps)], { check: true, timeoutMs: 30_000 });
  return JSON.parse(r.stdout) as T[];
}

const tcpCookies = (r: TcpResult): string[] => [r.listener, ...r.pairs.flatMap((p) => [p.client, p.server])];

/** Consumes a watch in the background, keeping what it yields. */
class Collector {
  readonly events: SocketEvent[] = [];
  error: unknown;
  readonly done: Promise<void>;

  constructor(readonly watch: SocketWatch) {
    this.done = (async () => {
      try {
        for await (const e of watch) this.events.push(e);
      } catch (err) {
        this.error = err;
      }
    })();
  }

  destroyed(): InetSocket[] {
    return this.events.flatMap((e) => (e.type === 'destroy' ? [e.socket] : []));
  }

  cookies(): string[] {
    return this.destroyed().map((s) => String(s.cookie));
  }

  /** Sum of the overrun counts (NaN if one is unknown). */
  lost(): number {
    return this.events.reduce((n, e) => (e.type === 'overrun' ? n + (e.lost ?? NaN) : n), 0);
  }

  /** Waits until `ready()` holds; false on timeout (the caller's expect shows the numbers). */
  async until(ready: () => boolean, ms = 10_000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!ready()) {
      if (this.error !== undefined || Date.now() > deadline) return false;
      await sleep(10);
    }
    return true;
  }

  async stop(): Promise<void> {
    this.watch.close();
    await this.done;
  }
}

/**
 * The kernel's drop counter of the event socket bound to exactly `groups` in the namespace,
 * once it has stopped moving: the kernel builds events on a work queue, which lags on a busy machine.
 */
async function settledDrops(ns: Netns, groups: number): Promise<number> {
  let last = -1;
  for (let i = 0; i < 200; i++) {
    const sockets = (await listSockets({ netns: ns.name, protocols: ['netlink'] })) as unknown as NetlinkSocket[];
    const mine = sockets.filter((s) => s.netlinkProtocol === 4 && s.groups?.[0] === groups);
    if (mine.length !== 1) throw new Error(`${mine.length} event sockets bound to groups ${groups}`);
    const drops = mine[0].meminfo?.drops ?? 0;
    if (drops > 0 && drops === last) return drops;
    last = drops;
    await sleep(50);
  }
  return last;
}

/** Checks that every cookie of `expected` is seen at most once, and nothing else is seen. */
function expectSubset(seen: string[], expected: string[]): void {
  const want = new Set(expected);
  const counts = new Map<string, number>();
  for (const c of seen) counts.set(c, (counts.get(c) ?? 0) + 1);
  expect([...counts].filter(([, n]) => n > 1)).toEqual([]);
  expect(seen.filter((c) => !want.has(c))).toEqual([]);
}

describeRoot('watchSockets', () => {
  let a: Netns;
  let b: Netns;

  beforeAll(async () => {
    [a, b] = await Promise.all([createNetns(), createNetns()]);
  });

  afterAll(async () => {
    await Promise.all([a?.destroy(), b?.destroy()]);
  });

  test('F18: a TCP close in netns A gives both ends (cookies = SO_COOKIE) and the listener in A, nothing in B', async () => {
    const inA = new Collector(watchSockets({ netns: a.name }));
    const inB = new Collector(watchSockets({ netns: b.name }));
    try {
      const [r] = await py<TcpResult>(a, [{ op: 'tcp', n: 1 }]);
      const want = tcpCookies(r);
      expect(await inA.until(() => inA.events.length >= want.length)).toBe(true);
      await sleep(200);
      expect(inA.cookies().sort()).toEqual([...want].sort());
      const byCookie = new Map(inA.destroyed().map((s) => [String(s.cookie), s]));
      const client = byCookie.get(r.pairs[0].client)!;
      const server = byCookie.get(r.pairs[0].server)!;
      for (const s of [client, server]) {
        expect(s).toMatchObject({ protocol: 'tcp', family: 'inet', state: 'closed', inode: 0, uid: undefined });
        expect(s.info).toMatchObject({ state: 7 });
      }
      expect(client.local).toEqual({ address: '127.0.0.1', port: r.pairs[0].clientPort });
      expect(client.remote).toEqual({ address: '127.0.0.1', port: r.port });
      expect(server.local).toEqual({ address: '127.0.0.1', port: r.port });
      expect(server.remote).toEqual({ address: '127.0.0.1', port: r.pairs[0].clientPort });
      expect(byCookie.get(r.listener)!.local.port).toBe(r.port);
      for (const e of inA.events) expect(e.at).toBeLessThanOrEqual(Date.now());
      expect(inB.events).toEqual([]);
      expect(inA.watch.stats).toMatchObject({ events: 3, overruns: 0, foreignDropped: 0, malformed: 0 });
    } finally {
      await Promise.all([inA.stop(), inB.stop()]);
    }
    expect(inA.error).toBeUndefined();
    expect(inB.error).toBeUndefined();
  });

  test('F18: a UDP close gives a UDP event; unix closes give none', async () => {
    const w = new Collector(watchSockets({ netns: a.name }));
    try {
      const [unix, udp] = await py<{ cookies: string[] }>(a, [{ op: 'unix' }, { op: 'udp' }]);
      expect(await w.until(() => w.events.length >= 1)).toBe(true);
      await sleep(200);
      expect(w.cookies()).toEqual(udp.cookies);
      expect(w.destroyed()[0]).toMatchObject({ protocol: 'udp', family: 'inet' });
      expect(w.cookies().some((c) => unix.cookies.includes(c))).toBe(false);
    } finally {
      await w.stop();
    }
  });

  test('F18: IPv6 TCP and UDP events; protocols/families choose the groups', async () => {
    const all = new Collector(watchSockets({ netns: a.name }));
    const udp6 = new Collector(watchSockets({ netns: a.name, protocols: ['udp'], families: ['inet6'] }));
    const tcp4 = new Collector(watchSockets({ netns: a.name, protocols: ['tcp'], families: ['inet'] }));
    try {
      const [tcp, udp, tcpV4] = await py<TcpResult & { cookies: string[] }>(a, [
        { op: 'tcp', n: 2, family: '6' },
        { op: 'udp', family: '6' },
        { op: 'tcp', n: 1, family: '4' },
      ]);
      const want = [...tcpCookies(tcp), ...udp.cookies, ...tcpCookies(tcpV4)];
      expect(await all.until(() => all.events.length >= want.length)).toBe(true);
      expect(await udp6.until(() => udp6.events.length >= 1)).toBe(true);
      expect(await tcp4.until(() => tcp4.events.length >= 3)).toBe(true);
      await sleep(200);
      expect(all.cookies().sort()).toEqual(want.sort());
      for (const s of all.destroyed()) {
        const v6 = !tcpCookies(tcpV4).includes(String(s.cookie));
        expect(s.family).toBe(v6 ? 'inet6' : 'inet');
        if (v6) expect(s.local.address).toBe('::1');
      }
      expect(udp6.cookies()).toEqual(udp.cookies);
      expect(udp6.destroyed()[0]).toMatchObject({ protocol: 'udp', family: 'inet6' });
      expect(tcp4.cookies().sort()).toEqual(tcpCookies(tcpV4).sort());
    } finally {
      await Promise.all([all.stop(), udp6.stop(), tcp4.stop()]);
    }
  });

  test('F17: rcvbuf at its minimum, 300 connections closed unread: first an overrun with the exact loss, then events keep arriving', async () => {
    const watch = watchSockets({ netns: a.name, rcvbuf: 1 });
    let w: Collector | undefined;
    try {
      const [r] = await py<TcpResult>(a, [{ op: 'tcp', n: 300 }]);
      const want = tcpCookies(r);
      expect(want).toHaveLength(601);
      expect(await settledDrops(a, 0xf)).toBeGreaterThan(500);
      const first = await watch.next();
      expect(first.done).toBe(false);
      expect(first.value).toMatchObject({ type: 'overrun' });
      const lost = (first.value as Extract<SocketEvent, { type: 'overrun' }>).lost;
      expect(typeof lost).toBe('number');
      expect(lost).toBeGreaterThan(500);
      w = new Collector(watch);
      const collector = w;
      // The lost count is exact: what arrives plus what was lost is every socket closed.
      await collector.until(() => collector.events.length + lost! >= want.length, 5_000);
      await sleep(200);
      expect(collector.events.filter((e) => e.type === 'overrun')).toEqual([]);
      expect(collector.events.length + lost!).toBe(want.length);
      expectSubset(collector.cookies(), want);
      // Events keep arriving after the overrun (one at a time: the minimum buffer holds about one).
      const [udp] = await py<{ cookies: string[] }>(a, [{ op: 'udp', n: 3, gap: 0.05 }]);
      expect(await collector.until(() => udp.cookies.every((c) => collector.cookies().includes(c)))).toBe(true);
      expect(watch.stats).toMatchObject({ overruns: 1, lost, lostUnknown: 0 });
    } finally {
      watch.close();
      await w?.done;
    }
    expect(w?.error).toBeUndefined();
  });

  test('acceptance: 1,000 connections closed while watching: every destroy seen once, or overruns account for the gap', async () => {
    for (const rcvbuf of [undefined, 1]) {
      const w = new Collector(watchSockets({ netns: a.name, ...(rcvbuf === undefined ? {} : { rcvbuf }) }));
      try {
        await sleep(20);
        const [r] = await py<TcpResult>(a, [{ op: 'tcp', n: 1000 }]);
        const want = tcpCookies(r);
        await w.until(() => w.destroyed().length + w.lost() >= want.length, 10_000);
        await sleep(300);
        expectSubset(w.cookies(), want);
        expect({ rcvbuf, total: w.destroyed().length + w.lost() }).toEqual({ rcvbuf, total: want.length });
        expect(w.watch.stats.lostUnknown).toBe(0);
        // With the smallest buffer the reader cannot keep up: the loss path really ran.
        if (rcvbuf === 1) expect(w.watch.stats.overruns).toBeGreaterThan(0);
      } finally {
        await w.stop();
      }
      expect(w.error).toBeUndefined();
    }
  });

  test('F17: drops that go on after the overflow was reported (the queue still full) are counted too', async () => {
    // Default buffer: about 1,600 events queue up, far more than one read takes in, and the
    // kernel keeps dropping until all of them are read. The second burst comes after the
    // first overrun event was taken, while nothing reads.
    const watch = watchSockets({ netns: a.name });
    let w: Collector | undefined;
    try {
      const [first] = await py<TcpResult>(a, [{ op: 'tcp', n: 1500 }]);
      expect(await settledDrops(a, 0xf)).toBeGreaterThan(0);
      const head = await watch.next();
      expect(head.value).toMatchObject({ type: 'overrun' });
      const [second] = await py<TcpResult>(a, [{ op: 'tcp', n: 100 }]);
      await sleep(200);
      const want = [...tcpCookies(first), ...tcpCookies(second)];
      w = new Collector(watch);
      const collector = w;
      const lostFirst = (head.value as Extract<SocketEvent, { type: 'overrun' }>).lost!;
      await collector.until(() => collector.destroyed().length + collector.lost() + lostFirst >= want.length, 5_000);
      await sleep(200);
      expectSubset(collector.cookies(), want);
      expect(collector.destroyed().length + collector.lost() + lostFirst).toBe(want.length);
      expect(watch.stats.lost).toBe(collector.lost() + lostFirst);
    } finally {
      watch.close();
      await w?.done;
    }
  });

  test('the watched namespace stays the same after its name is deleted: events and the exact loss count', async () => {
    const c = await createNetns();
    let w: Collector | undefined;
    try {
      const watch = watchSockets({ netns: c.name, rcvbuf: 1 });
      const [r] = await py<TcpResult>(c, [{ op: 'tcp', n: 100 }]);
      const want = tcpCookies(r);
      await c.destroy(); // ip netns del: the name is gone, the namespace lives on through the watch
      // Read only now, so the overflow is counted after the name is gone.
      w = new Collector(watch);
      const collector = w;
      await collector.until(() => collector.destroyed().length + collector.lost() >= want.length, 5_000);
      await sleep(200);
      expectSubset(collector.cookies(), want);
      expect(collector.destroyed().length + collector.lost()).toBe(want.length);
      expect(watch.stats).toMatchObject({ lostUnknown: 0 });
      expect(watch.stats.overruns).toBeGreaterThan(0);
    } finally {
      await w?.stop();
      await c.destroy();
    }
  });

  test('F15: a datagram sent to the event socket by another process is dropped', async () => {
    // protocols/families pick one group, so the netlink listing names this watch alone.
    const w = new Collector(watchSockets({ netns: a.name, protocols: ['udp'], families: ['inet'] }));
    try {
      const sockets = (await listSockets({ netns: a.name, protocols: ['netlink'] })) as unknown as NetlinkSocket[];
      const mine = sockets.filter((s) => s.netlinkProtocol === 4 && s.groups?.[0] === 1 << 1);
      expect(mine).toHaveLength(1);
      const loopback = Buffer.from([127, 0, 0, 1, ...new Array<number>(12).fill(0)]);
      const fake = encodeInetMessage({
        msg: { family: AF.INET, state: 7, cookie: 123456789n, sport: 9, dport: 9, src: loopback, dst: loopback },
        attrs: { protocolNumber: IPPROTO.UDP },
      });
      const [, udp] = await py<{ cookies: string[] }>(a, [{ op: 'send', portId: mine[0].portId >>> 0, hex: fake.toString('hex') }, { op: 'udp' }]);
      expect(await w.until(() => w.events.length >= 1)).toBe(true);
      await sleep(100);
      expect(w.cookies()).toEqual(udp.cookies);
      expect(w.watch.stats.foreignDropped).toBe(1);
    } finally {
      await w.stop();
    }
  });

  describe('lifecycle (F8/F10): the event socket closes at once, nothing left behind', () => {
    let baseFds = 0;
    let baseThreads = 0;
    beforeEach(async () => {
      await sleep(20);
      baseFds = fdCount();
      baseThreads = threadCount();
    });

    test('break after an event', async () => {
      const watch = watchSockets({ netns: a.name });
      expect(fdCount()).toBe(baseFds + 2); // the namespace file and the socket (the reader thread's epoll fd and eventfd come with the first read)
      const closing = py(a, [{ op: 'udp' }]);
      let got: SocketEvent | undefined;
      for await (const e of watch) {
        got = e;
        break;
      }
      await closing;
      expect(got).toMatchObject({ type: 'destroy' });
      expect(fdCount()).toBe(baseFds);
      expect(threadCount()).toBe(baseThreads);
      expect(await watch.next()).toEqual({ done: true, value: undefined });
    });

    test('return() and close() with a next() pending settle it within 100 ms; close twice is fine', async () => {
      for (const end of ['return', 'close'] as const) {
        const watch = watchSockets({ netns: a.name });
        const pending = watch.next();
        await sleep(20);
        expect(threadCount()).toBe(baseThreads + 1);
        const t0 = Date.now();
        if (end === 'return') await watch.return();
        else watch.close();
        watch.close();
        expect(await pending).toEqual({ done: true, value: undefined });
        expect(Date.now() - t0).toBeLessThan(100);
        expect(fdCount()).toBe(baseFds);
        expect(threadCount()).toBe(baseThreads);
      }
    });

    test('abort: a pending next() rejects with AbortError (cause = reason), then the watch is done', async () => {
      const ac = new AbortController();
      const watch = watchSockets({ netns: a.name, signal: ac.signal });
      const pending = watch.next();
      await sleep(20);
      const reason = new Error('stop');
      ac.abort(reason);
      await expect(pending).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', cause: reason });
      expect(fdCount()).toBe(baseFds);
      expect(threadCount()).toBe(baseThreads);
      expect(await watch.next()).toEqual({ done: true, value: undefined });
    });

    test('an already-aborted signal opens nothing and the first next() rejects', async () => {
      const ac = new AbortController();
      ac.abort();
      const watch = watchSockets({ netns: a.name, signal: ac.signal });
      expect(fdCount()).toBe(baseFds);
      await expect(watch.next()).rejects.toMatchObject({ name: 'AbortError' });
      expect(await watch.next()).toEqual({ done: true, value: undefined });
    });

    test('bad options throw at the call, and open nothing', () => {
      const bad: unknown[] = [
        { protocols: ['raw'] },
        { protocols: [] },
        { protocols: 'tcp' },
        { families: ['unix'] },
        { families: [] },
        { rcvbuf: -1 },
        { rcvbuf: 1.5 },
        { rcvbuf: '1' },
        { signal: {} },
        null,
      ];
      for (const opts of bad) expect(() => watchSockets(opts as never)).toThrow(/protocols|families|rcvbuf|signal|options/);
      expect(() => watchSockets({ netns: 'sd-no-such-namespace' })).toThrow(SockdiagSystemError);
      try {
        watchSockets({ netns: 'sd-no-such-namespace' });
      } catch (err) {
        expect(err).toMatchObject({ code: 'ENOENT', syscall: 'open' });
      }
      expect(fdCount()).toBe(baseFds);
    });
  });
});
