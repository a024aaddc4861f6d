/**
 * sampleRates: the rate arithmetic, closes (destroy events, two missed dumps, TIME-WAIT
 * remnants) and options on a fake kernel whose tcp_info counters the test moves; then, live
 * in a private namespace, flows at ~1 MB/s, ~200 KB/s and ~20 KB/s measured at their rates,
 * with their owners, and their closes reported with the final counters.
 */
import { sampleRates, type RateSample, type RateSampler } from '../lib/monitor/rates';
import { Engine } from '../lib/engine';
import { AbortError } from '../lib/errors';
import { fakeKernel, type FakeInetSocket, type FakeKernel } from './helpers/fake-kernel';
import { createNetns, describeRoot, type Netns } from './helpers/netns';
import { startFlows, type Flows } from './helpers/flows';

const A = 0x1000n;
const B = 0x2000n;

function tcp(cookie: bigint, port: number, info: Record<string, unknown>, extra: Partial<FakeInetSocket> = {}): FakeInetSocket {
  return {
    protocol: 'tcp', cookie, state: 'established', local: { address: '10.0.0.1', port }, remote: { address: '10.0.0.2', port: 443 },
    recvQ: 7, sendQ: 9, attrs: { info: { rttUs: 1500, sndCwnd: 10, bytesAcked: 0n, bytesReceived: 0n, totalRetrans: 0, ...info } }, ...extra,
  };
}

/** The table entry's tcp_info, to move its counters between dumps. */
function infoOf(k: FakeKernel, cookie: bigint): Record<string, unknown> {
  const s = k.sockets().find((x) => x.cookie === cookie) as FakeInetSocket | undefined;
  if (s === undefined) throw new Error(`no socket ${cookie}`);
  return s.attrs!.info as Record<string, unknown>;
}

async function next(s: RateSampler): Promise<RateSample> {
  const r = await s.next();
  if (r.done) throw new Error('the sampler ended');
  return r.value;
}

describe('sampleRates on a fake kernel', () => {
  test('the first sample is the baseline; the next ones are the counters’ differences over the elapsed time, keyed by cookie', async () => {
    const k = fakeKernel({ sockets: [tcp(A, 1000, { bytesAcked: 5000n, bytesReceived: 100n, totalRetrans: 2, deliveryRateBytesPerSec: 12345n, notsentBytes: 3 })] });
    const s = sampleRates({ engine: new Engine({ channels: k.channels }), interval: 30 });
    try {
      const first = await next(s);
      expect(first.elapsedMs).toBe(0);
      const c0 = first.connections.get(A)!;
      expect(c0).toMatchObject({
        cookie: A, protocol: 'tcp', family: 'inet', state: 'established', local: { address: '10.0.0.1', port: 1000 }, remote: { address: '10.0.0.2', port: 443 },
        recvQ: 7, sendQ: 9, rttUs: 1500, cwnd: 10, notsentBytes: 3, deliveryRateBytesPerSec: 12345, bytesAcked: 5000, bytesReceived: 100, totalRetrans: 2,
        sendBytesPerSec: undefined, recvBytesPerSec: undefined, retransPerSec: undefined, elapsedMs: 0,
      });
      const info = infoOf(k, A);
      info.bytesAcked = 5000n + 300_000n;
      info.bytesReceived = 100n + 60_000n;
      info.totalRetrans = 2 + 6;
      info.rttUs = 2500;
      const second = await next(s);
      expect(second.elapsedMs).toBeGreaterThanOrEqual(25);
      const c1 = second.connections.get(A)!;
      const secs = c1.elapsedMs / 1000;
      expect(c1.elapsedMs).toBeCloseTo(second.elapsedMs, 6);
      expect(c1.sendBytesPerSec).toBeCloseTo(300_000 / secs, 6);
      expect(c1.recvBytesPerSec).toBeCloseTo(60_000 / secs, 6);
      expect(c1.retransPerSec).toBeCloseTo(6 / secs, 6);
      expect(c1.rttUs).toBe(2500);
      // Unchanged counters: zero rates, not undefined.
      const third = await next(s);
      expect(third.connections.get(A)).toMatchObject({ sendBytesPerSec: 0, recvBytesPerSec: 0, retransPerSec: 0 });
      expect(s.stats.samples).toBe(3);
    } finally {
      s.close();
    }
    expect(k.leaked()).toEqual([]);
  });

  test('a connection that opens between samples is measured from zero; a UDP socket has queues and no rates', async () => {
    const k = fakeKernel({ sockets: [tcp(A, 1000, {}), { protocol: 'udp', cookie: 0x3000n, local: { address: '10.0.0.1', port: 53 }, remote: { address: '10.0.0.9', port: 5353 }, recvQ: 768 }] });
    const s = sampleRates({ engine: new Engine({ channels: k.channels }), interval: 30, protocols: ['tcp', 'udp'] });
    try {
      await next(s);
      k.add(tcp(B, 2000, { bytesAcked: 40_000n }));
      const second = await next(s);
      const b = second.connections.get(B)!;
      expect(b.sendBytesPerSec).toBeCloseTo(40_000 / (second.elapsedMs / 1000), 6);
      const u = second.connections.get(0x3000n)!;
      expect(u).toMatchObject({ protocol: 'udp', recvQ: 768, sendBytesPerSec: undefined, rttUs: undefined, cwnd: undefined });
      expect([...second.connections.keys()]).toEqual([A, B, 0x3000n]);
    } finally {
      s.close();
    }
  });

  test('destroy events close a connection with its final counters; its TIME-WAIT remnant is not listed again', async () => {
    const k = fakeKernel({ sockets: [tcp(A, 1000, { bytesAcked: 1000n }), tcp(B, 2000, {})] });
    const s = sampleRates({ engine: new Engine({ channels: k.channels }), interval: 30 });
    try {
      await next(s);
      expect(s.stats.events).toBe(true);
      infoOf(k, A).bytesAcked = 1000n + 50_000n;
      const sock = k.closeSocket(A)!;
      // The kernel keeps a TIME-WAIT remnant under the same cookie, without tcp_info.
      k.add({ ...(sock as FakeInetSocket), state: 'time-wait', inode: 0, attrs: {} });
      const second = await next(s);
      expect(second.connections.has(A)).toBe(false);
      expect(second.closed).toHaveLength(1);
      const closed = second.closed[0];
      expect(closed).toMatchObject({ cookie: A, reason: 'destroyed', state: 'closed', bytesAcked: 51_000, local: { port: 1000 } });
      expect(closed.sendBytesPerSec).toBeGreaterThan(0);
      const third = await next(s);
      expect(third.connections.has(A)).toBe(false);
      expect(third.closed).toEqual([]);
      expect(third.connections.has(B)).toBe(true);
    } finally {
      s.close();
    }
  });

  test('without events a connection closes when two consecutive dumps miss it; one miss keeps it, and its rates span both intervals', async () => {
    const k = fakeKernel({ sockets: [tcp(A, 1000, {}), tcp(B, 2000, {})] });
    const s = sampleRates({ engine: new Engine({ channels: k.channels }), interval: 30, events: false });
    try {
      const first = await next(s);
      expect(s.stats.events).toBe(false);
      // B missed by one dump (as a non-atomic dump can), then back with more bytes.
      const b = k.remove(B)!;
      const second = await next(s);
      expect(second.connections.has(B)).toBe(false);
      expect(second.closed).toEqual([]);
      (b as FakeInetSocket).attrs!.info = { ...((b as FakeInetSocket).attrs!.info as object), bytesAcked: 90_000n };
      k.add(b);
      const third = await next(s);
      const back = third.connections.get(B)!;
      const span = third.at - first.at;
      expect(back.elapsedMs).toBeGreaterThan(third.elapsedMs + 20);
      expect(back.elapsedMs).toBeLessThanOrEqual(span + 5);
      expect(back.sendBytesPerSec).toBeCloseTo(90_000 / (back.elapsedMs / 1000), 6);
      // A gone for good: closed at the second dump that misses it, with its last row.
      k.remove(A);
      expect((await next(s)).closed).toEqual([]);
      const fifth = await next(s);
      expect(fifth.closed).toEqual([expect.objectContaining({ cookie: A, reason: 'vanished', state: 'established', bytesAcked: 0 })]);
      expect((await next(s)).closed).toEqual([]);
    } finally {
      s.close();
    }
  });

  test('options: inet kinds only, no extensions, an interval of at least 10 ms; the signal and close() stop it', async () => {
    expect(() => sampleRates({ protocols: ['unix'] as never })).toThrow(TypeError);
    expect(() => sampleRates({ extensions: 'all' } as never)).toThrow(/extensions/);
    expect(() => sampleRates({ interval: 5 })).toThrow(RangeError);
    expect(() => sampleRates({ interval: Number.NaN })).toThrow(TypeError);
    expect(() => sampleRates({ signal: {} as AbortSignal })).toThrow(TypeError);
    const k = fakeKernel({ sockets: [tcp(A, 1000, {})] });
    const ac = new AbortController();
    const s = sampleRates({ engine: new Engine({ channels: k.channels }), interval: 10_000, signal: ac.signal });
    await next(s);
    const pending = s.next();
    ac.abort(new Error('enough'));
    await expect(pending).rejects.toBeInstanceOf(AbortError);
    const c = sampleRates({ engine: new Engine({ channels: k.channels }), interval: 10_000 });
    await next(c);
    const waiting = c.next();
    c.close();
    await expect(waiting).resolves.toEqual({ done: true, value: undefined });
    let n = 0;
    for await (const sample of sampleRates({ engine: new Engine({ channels: k.channels }), interval: 10 })) {
      expect(sample.connections.size).toBe(1);
      if (++n === 3) break;
    }
    expect(k.leaked()).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------

/** Rates within this share of the generator's. */
const TOLERANCE = 0.2;

describeRoot('sampleRates live: flows at known rates in a private namespace', () => {
  let ns: Netns;
  let flows: Flows;
  const RATES = [1_000_000, 200_000, 20_000];

  beforeAll(async () => {
    ns = await createNetns();
    flows = await startFlows(ns, RATES);
  }, 30_000);

  afterAll(async () => {
    await flows?.stop();
    await ns?.destroy();
  });

  test('each end of each flow at its rate, ranked as the rates are; owners found; closes reported with final counters', async () => {
    const s = sampleRates({ netns: ns.name, interval: 500, processes: true, states: ['established'] });
    try {
      let sample: RateSample | undefined;
      // A few samples for the senders to settle.
      for (let i = 0; i < 4; i++) sample = await next(s);
      const conns = [...sample!.connections.values()];
      expect(conns).toHaveLength(2 * RATES.length);
      for (const f of flows.flows) {
        const client = conns.find((c) => c.local.port === f.clientPort)!;
        const server = conns.find((c) => c.remote.port === f.clientPort)!;
        expect(client.remote).toEqual({ address: '127.0.0.1', port: flows.port });
        expect(client.local.address).toBe(f.clientAddress);
        expect(Math.abs(client.sendBytesPerSec! - f.rate) / f.rate).toBeLessThan(TOLERANCE);
        expect(Math.abs(server.recvBytesPerSec! - f.rate) / f.rate).toBeLessThan(TOLERANCE);
        expect(client.recvBytesPerSec).toBeLessThan(f.rate * 0.01 + 100);
        expect(client.rttUs).toBeGreaterThan(0);
        expect(client.cwnd).toBeGreaterThan(0);
        expect(client.processes?.map((p) => p.command)).toEqual(['flowsrc']);
        expect(server.processes?.map((p) => p.command)).toEqual(['flowsink']);
        expect(client.processes![0].pid).toBe(flows.sender);
      }
      const bySend = conns.filter((c) => c.local.address !== '127.0.0.1').sort((a, b) => b.sendBytesPerSec! - a.sendBytesPerSec!);
      expect(bySend.map((c) => c.local.address)).toEqual(flows.flows.map((f) => f.clientAddress));
      expect(s.stats.events).toBe(true);
      const last = new Map(conns.map((c) => [c.cookie, c.bytesAcked ?? 0]));
      await flows.stop();
      const closed = [];
      for (let i = 0; i < 4 && closed.length < conns.length; i++) closed.push(...(await next(s)).closed);
      expect(closed).toHaveLength(conns.length);
      for (const c of closed) {
        expect(c.reason).toBe('destroyed');
        expect(c.bytesAcked).toBeGreaterThanOrEqual(last.get(c.cookie)!);
      }
    } finally {
      s.close();
    }
  }, 30_000);
});
