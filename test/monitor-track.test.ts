/**
 * trackSockets in a private namespace (issue 6 acceptance): open 1,000 connections, change
 * 100, close 500 while tracking at 100 ms; every open and close is reported exactly once,
 * untouched sockets neither change nor close across 100 dumps. Once with destroy events,
 * once from dumps alone, side by side on the same sockets.
 */
import { spawn, ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { trackSockets, TrackEvent, SocketTracker } from '../lib/monitor/track';
import { AbortError } from '../lib/errors';
import { createNetns, describeRoot, Netns, pythonBinary } from './helpers/netns';

// Holds loopback TCP pairs and opens, feeds or closes them on command (one JSON line per reply).
const HELPER = String.raw`
import json, socket, struct, sys, threading, time
SO_COOKIE = 57
def cookie(s): return str(struct.unpack('Q', s.getsockopt(socket.SOL_SOCKET, SO_COOKIE, 8))[0])
L = socket.socket(); L.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
L.bind(('127.0.0.1', 0)); L.listen(4096)
pairs = []
churning = threading.Event()
C = socket.socket(); C.bind(('127.0.0.1', 0)); C.listen(64)
def churn():
    # Short-lived connections (reset at once) on a second listener, while asked to.
    while True:
        churning.wait()
        c = socket.create_connection(C.getsockname()); s, _ = C.accept()
        for x in (c, s): x.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        c.close(); s.close(); time.sleep(0.003)
threading.Thread(target=churn, daemon=True).start()
def reply(x): sys.stdout.write(json.dumps(x) + '\n'); sys.stdout.flush()
reply({'listener': cookie(L), 'churnListener': cookie(C)})
for line in sys.stdin:
    cmd, *a = line.split()
    if cmd == 'open':
        out = []
        for _ in range(int(a[0])):
            c = socket.create_connection(L.getsockname()); s, _ = L.accept(); pairs.append((c, s)); out.append([cookie(c), cookie(s)])
        reply({'pairs': out})
    elif cmd == 'send':
        for c, s in pairs[int(a[0]):int(a[1])]:
            c.sendall(b'x' * 1000); got = 0
            while got < 1000: got += len(s.recv(4096))
        reply({'ok': 1})
    elif cmd in ('reset', 'fin'):
        for c, s in pairs[int(a[0]):int(a[1])]:
            if cmd == 'reset':
                for x in (c, s): x.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            c.close(); s.close()
        reply({'ok': 1})
    elif cmd == 'unix':
        unix = socket.socketpair(); reply({'pair': [cookie(x) for x in unix]})
    elif cmd == 'unixclose':
        for x in unix: x.close()
        reply({'ok': 1})
    elif cmd == 'churn':
        (churning.set if a[0] == 'on' else churning.clear)(); time.sleep(0.05)
        reply({'ok': 1})
`;

interface Helper {
  send(cmd: string): Promise<Record<string, unknown>>;
  listener: bigint;
  churnListener: bigint;
  stop(): void;
}

async function startHelper(ns: Netns): Promise<Helper> {
  const child: ChildProcessWithoutNullStreams = spawn('ip', ['netns', 'exec', ns.name, pythonBinary(), '-c', HELPER], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const read = async (): Promise<Record<string, unknown>> => {
    const r = await lines.next();
    if (r.done) throw new Error(`helper exited: ${stderr}`);
    return JSON.parse(r.value as string) as Record<string, unknown>;
  };
  const first = await read();
  return {
    listener: BigInt(first.listener as string),
    churnListener: BigInt(first.churnListener as string),
    send: (cmd) => {
      child.stdin.write(`${cmd}\n`);
      return read();
    },
    stop: () => {
      child.stdin.end();
      child.kill('SIGKILL');
    },
  };
}

/** Runs a tracker in the background, keeping its events. */
function record(tracker: SocketTracker): { events: TrackEvent[]; done: Promise<void> } {
  const events: TrackEvent[] = [];
  const done = (async () => {
    for await (const e of tracker) events.push(e);
  })();
  return { events, done };
}

async function until(what: string, cond: () => boolean, timeoutMs = 15_000, state?: () => unknown): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}${state ? `: ${JSON.stringify(state())}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Counts of events by type, per cookie. */
function tally(events: readonly TrackEvent[]): Record<'open' | 'change' | 'close', Map<bigint, number>> {
  const out = { open: new Map<bigint, number>(), change: new Map<bigint, number>(), close: new Map<bigint, number>() };
  for (const e of events) out[e.type].set(e.socket.cookie, (out[e.type].get(e.socket.cookie) ?? 0) + 1);
  return out;
}

test('bad options are rejected at once', () => {
  expect(() => trackSockets({ interval: 5 })).toThrow(RangeError);
  expect(() => trackSockets({ interval: NaN })).toThrow(TypeError);
  expect(() => trackSockets({ processes: true } as never)).toThrow(TypeError);
  expect(() => trackSockets({ signal: {} as never })).toThrow(TypeError);
});

describeRoot('trackSockets on live sockets', () => {
  let ns: Netns;
  let helper: Helper;
  beforeAll(async () => {
    // A small TCP hash table: dumps resume mid-chain, so churn makes them miss sockets (F6).
    ns = await createNetns({ ehashEntries: 128 });
    helper = await startHelper(ns);
  }, 60_000);
  afterAll(async () => {
    helper?.stop();
    await ns?.destroy();
  });

  test('1,000 connections: opens, changes and closes exactly once, no false closes over 100 dumps', async () => {
    const withEvents = trackSockets({ netns: ns.name, protocols: ['tcp'], interval: 100 });
    const dumpsOnly = trackSockets({ netns: ns.name, protocols: ['tcp'], interval: 100, events: false });
    const a = record(withEvents);
    const b = record(dumpsOnly);
    let all: bigint[] = [];
    let changed: bigint[] = [];
    let untouched: bigint[] = [];
    let closed: bigint[] = [];
    try {
      await until('first dumps', () => withEvents.stats.dumps > 0 && dumpsOnly.stats.dumps > 0);
      expect(withEvents.stats.events).toBe(true);
      expect(dumpsOnly.stats.events).toBe(false);

      const pairs = ((await helper.send('open 1000')).pairs as [string, string][]).map(([c, s]) => [BigInt(c), BigInt(s)] as const);
      all = [helper.listener, helper.churnListener, ...pairs.flat()];
      changed = pairs.slice(0, 100).flat();
      untouched = pairs.slice(100, 500).flat();
      closed = pairs.slice(500).flat();
      await until('2,002 opens', () => withEvents.stats.opened >= all.length && dumpsOnly.stats.opened >= all.length);

      // Connections come and go all along, so that dumps run under churn (F6).
      await helper.send('churn on');
      await helper.send('send 0 100');
      await helper.send('reset 500 1000');
      const dumpsAtClose = Math.min(withEvents.stats.dumps, dumpsOnly.stats.dumps);
      await until('1,000 closes', () => withEvents.stats.closed >= closed.length && dumpsOnly.stats.closed >= closed.length);
      // Keep tracking: the untouched sockets must stay open across 100 dumps.
      const stats = (): unknown => [withEvents.stats, dumpsOnly.stats];
      await until('100 more dumps', () => Math.min(withEvents.stats.dumps, dumpsOnly.stats.dumps) >= dumpsAtClose + 100, 40_000, stats);
      await helper.send('churn off');
      const dumpsAtQuiet = Math.min(withEvents.stats.dumps, dumpsOnly.stats.dumps);
      await until('3 quiet dumps', () => Math.min(withEvents.stats.dumps, dumpsOnly.stats.dumps) >= dumpsAtQuiet + 3);
    } finally {
      withEvents.close();
      dumpsOnly.close();
    }
    await Promise.all([a.done, b.done]);

    for (const [tracker, r] of [[withEvents, a], [dumpsOnly, b]] as const) {
      const t = tally(r.events);
      expect(all.filter((c) => !t.open.has(c))).toEqual([]);
      expect([...t.open.values()].every((n) => n === 1)).toBe(true);
      // Churned connections a dump happened to see opened once and closed once too.
      const known = new Set(all);
      const churned = [...t.open.keys()].filter((c) => !known.has(c));
      expect([...t.close.keys()].sort()).toEqual([...closed, ...churned].sort());
      expect([...t.close.values()].every((n) => n === 1)).toBe(true);
      for (const c of changed) expect([c, t.change.get(c) ?? 0]).toEqual([c, expect.any(Number)]);
      expect(changed.filter((c) => (t.change.get(c) ?? 0) === 0)).toEqual([]);
      expect(untouched.filter((c) => t.change.has(c))).toEqual([]);
      // Every change names a field that matters, and carries the previous form.
      for (const e of r.events) if (e.type === 'change') expect(e.previous.cookie).toBe(e.socket.cookie);
      expect(tracker.stats.tracked).toBe(all.length - closed.length);
      expect(tracker.stats.dumps).toBeGreaterThanOrEqual(100);
    }
    const closesA = a.events.filter((e) => e.type === 'close');
    const closesB = b.events.filter((e) => e.type === 'close');
    expect(closesB.every((e) => e.type === 'close' && e.reason === 'vanished')).toBe(true);
    // With events, every close the kernel reported comes with its final tcp_info.
    const destroyed = closesA.filter((e) => e.type === 'close' && e.reason === 'destroyed');
    expect(destroyed.length + withEvents.stats.eventsLost).toBeGreaterThanOrEqual(closed.length * 0.5);
    for (const e of destroyed) {
      if (e.type !== 'close') continue;
      expect(e.previous?.cookie).toBe(e.socket.cookie);
      expect(e.socket.protocol === 'tcp' && e.socket.info?.state).toBeDefined();
    }
    // A change of the fed connections shows in their byte counters.
    const fed = a.events.find((e) => e.type === 'change' && e.socket.cookie === changed[0]);
    expect(fed).toBeDefined();
  }, 60_000);

  test('a graceful close: with events, TIME-WAIT remnants are not reported again; without, they change and stay', async () => {
    const withEvents = trackSockets({ netns: ns.name, protocols: ['tcp'], interval: 50 });
    const dumpsOnly = trackSockets({ netns: ns.name, protocols: ['tcp'], interval: 50, events: false });
    const a = record(withEvents);
    const b = record(dumpsOnly);
    let pairs: (readonly [bigint, bigint])[];
    try {
      const opened = (await helper.send('open 20')).pairs as [string, string][];
      pairs = opened.map(([c, s]) => [BigInt(c), BigInt(s)] as const);
      await until('opens', () => pairs.every(([c, s]) => [a, b].every((r) => r.events.some((e) => e.type === 'open' && e.socket.cookie === c) && r.events.some((e) => e.type === 'open' && e.socket.cookie === s))));
      // The previous test opened pairs 0-999; these are 1000-1019.
      await helper.send('fin 1000 1020');
      const clients = pairs.map(([c]) => c);
      const servers = pairs.map(([, s]) => s);
      await until('closes', () => [...clients, ...servers].every((c) => a.events.some((e) => e.type === 'close' && e.socket.cookie === c)));
      await until('server closes without events', () => servers.every((c) => b.events.some((e) => e.type === 'close' && e.socket.cookie === c)));
      const dumps = withEvents.stats.dumps;
      await until('10 more dumps', () => withEvents.stats.dumps >= dumps + 10 && dumpsOnly.stats.dumps >= dumps + 10);
      const ta = tally(a.events);
      const tb = tally(b.events);
      for (const c of [...clients, ...servers]) {
        expect([c, ta.open.get(c), ta.close.get(c)]).toEqual([c, 1, 1]);
      }
      // From dumps alone, the clients are still there in TIME-WAIT: changed, not closed.
      for (const c of clients) {
        expect([c, tb.close.get(c)]).toEqual([c, undefined]);
        const last = b.events.filter((e) => e.socket.cookie === c).pop();
        expect(last?.type === 'change' && last.socket.state).toBe('time-wait');
      }
      expect(dumpsOnly.stats.tracked).toBeGreaterThanOrEqual(clients.length);
    } finally {
      withEvents.close();
      dumpsOnly.close();
    }
    await Promise.all([a.done, b.done]);
  }, 40_000);

  test('unix and netlink sockets: opened and closed by the dump rule; the tracker does not see its own socket', async () => {
    const t = trackSockets({ netns: ns.name, protocols: ['unix', 'netlink'], interval: 30 });
    const r = record(t);
    try {
      await until('first dumps', () => t.stats.dumps >= 2);
      const before = r.events.length;
      await until('quiet dumps', () => t.stats.dumps >= 8);
      // Each dump runs on the same channel, whose socket is left out: nothing comes or goes.
      expect(r.events.slice(before)).toEqual([]);
      const pair = ((await helper.send('unix')).pair as string[]).map(BigInt);
      await until('unix opens', () => pair.every((c) => r.events.some((e) => e.type === 'open' && e.socket.cookie === c)));
      await helper.send('unixclose');
      await until('unix closes', () => pair.every((c) => r.events.some((e) => e.type === 'close' && e.socket.cookie === c)));
      const dumps = t.stats.dumps;
      await until('more dumps', () => t.stats.dumps >= dumps + 3);
      const mine = r.events.filter((e) => pair.includes(e.socket.cookie));
      expect(mine.map((e) => e.type).sort()).toEqual(['close', 'close', 'open', 'open']);
      expect(mine.every((e) => e.type !== 'close' || e.reason === 'vanished')).toBe(true);
      expect(t.stats.events).toBe(false);
    } finally {
      t.close();
    }
    await r.done;
  });

  test('abort rejects a pending next() with AbortError; close() ends it; a missing namespace is an error', async () => {
    const ac = new AbortController();
    const t = trackSockets({ netns: ns.name, protocols: ['tcp'], interval: 1000, signal: ac.signal });
    const it = t[Symbol.asyncIterator]();
    // Take the opens of the first dump, then wait on the next interval.
    let r = await it.next();
    while (!r.done && t.stats.dumps === 0) r = await it.next();
    const pending = (async () => {
      for (;;) {
        const x = await it.next();
        if (x.done) return;
      }
    })();
    setTimeout(() => ac.abort(), 50);
    await expect(pending).rejects.toBeInstanceOf(AbortError);

    const u = trackSockets({ netns: ns.name, protocols: ['tcp'], interval: 1000 });
    const first = await u.next();
    expect(first.done).toBe(false);
    setTimeout(() => u.close(), 50);
    for (;;) if ((await u.next()).done) break;

    const missing = trackSockets({ netns: 'sd-no-such-namespace', interval: 100 });
    await expect(missing.next()).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
