/**
 * Every policy of the listing engine, through every consumer it applies to, on the fake
 * kernel (test/helpers/fake-kernel.ts): duplicates dropped by cookie (kept by raw dumps),
 * NLM_F_DUMP_INTR, kinds the kernel lacks (skipped, or raised when named; remembered per
 * engine), abort before, during and after a run, timeouts, error replies (NLMSG_ERROR and
 * inside NLMSG_DONE), ENOBUFS and truncated datagrams. The consumers are listSockets,
 * streamSockets, rawDump, trackSockets and the metric snapshot (takeSnapshot). After every
 * test no channel is left open. Nothing here needs root or the native addon: loading the
 * addon fails this file (see the mock below).
 */
import { listSockets, streamSockets, rawDump, decodeDump, trackSockets, Engine, AbortError, TimeoutError, NotSupportedError, SockdiagError, SockdiagSystemError } from '../lib';
import { takeSnapshot } from '../lib/prometheus';
import { newEngineStats } from '../lib/engine';
import type { Datagrams } from '../lib/netlink/channel';
import { forEachMessage } from '../lib/netlink/message';
import type { ProtocolName } from '../lib/diag/constants';
import { IPPROTO, SOCK_DIAG_BY_FAMILY } from '../lib/diag/constants';
import { decodeInetMessage } from '../lib/diag/inet';
import type { ChannelFactory } from '../lib/engine/channel';
import { fakeKernel, TARGET_KERNEL_UNSUPPORTED, type FakeKernel, type FakeKernelSpec, type FakeSocket } from './helpers/fake-kernel';

// Every path below must run without the addon: opening a real channel fails the test.
jest.mock('../lib/netlink/binding', () => ({
  nativeBinding: () => {
    throw new Error('the native addon was loaded by a test that must run without it');
  },
}));

// ---------------------------------------------------------------------------------------
// The kernels of a test, checked for open channels after it.

const kernels: FakeKernel[] = [];

/** A fake kernel that does not list its own channels in netlink dumps (tables hold only what a test declares). */
function kernelWith(spec: FakeKernelSpec): FakeKernel {
  const k = fakeKernel({ listChannels: false, ...spec });
  kernels.push(k);
  return k;
}

afterEach(() => {
  for (const k of kernels.splice(0)) expect(k.leaked()).toEqual([]);
});

/** `n` established IPv4 TCP sockets with tcp_info, cookies 1000… in table order. */
function tcpTable(n: number): FakeSocket[] {
  return Array.from({ length: n }, (_, i) => ({
    protocol: 'tcp',
    local: { address: '10.0.0.1', port: 1024 + (i % 60000) },
    remote: { address: '10.0.0.2', port: 80 + Math.floor(i / 60000) },
    cookie: BigInt(1000 + i),
    attrs: { info: { rttUs: 100 + i, sndCwnd: 10 } },
  }));
}
const cookiesOf = (n: number): bigint[] => Array.from({ length: n }, (_, i) => BigInt(1000 + i));

/** The sock_diag messages of a received batch. */
function dataMessages(batch: Datagrams): number {
  let n = 0;
  batch.offsets.forEach((start, i) => forEachMessage(batch.data, start, start + batch.lengths[i], (_off, h) => void (h.type === SOCK_DIAG_BY_FAMILY && n++)));
  return n;
}

/** The kernel's channels, with `onBatch` called for every batch a read returns (before the engine sees it). */
function tapped(kernel: FakeKernel, onBatch: (batch: Datagrams) => void): ChannelFactory {
  return (request) => {
    const ch = kernel.open(request);
    return {
      get portId() {
        return ch.portId;
      },
      get closed() {
        return ch.closed;
      },
      nextSeq: () => ch.nextSeq(),
      send: (b) => ch.send(b),
      read: () =>
        ch.read().then((b) => {
          if (b !== null) onBatch(b);
          return b;
        }),
      close: () => ch.close(),
    };
  };
}

/** The error a promise rejects with (a test fails when it resolves). */
async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('it succeeded');
    },
    (e: unknown) => e,
  );
}

// ---------------------------------------------------------------------------------------
// The consumers, each behind one interface: run a listing, report what reached the caller.

interface Run {
  engine: Engine;
  protocols?: ProtocolName[];
  signal?: AbortSignal;
  timeoutMs?: number;
  recvSize?: number;
  /** Called for each item as the caller receives it (socket, datagram or event; a listing's sockets once it resolved). */
  onItem?: (item: unknown, count: number) => void;
}

interface Outcome {
  /** Distinct sockets listed. */
  sockets: number;
  /** Their cookies in order (not for the snapshot, which keeps counts only). */
  cookies?: bigint[];
  interrupted: boolean;
  /** Duplicates the consumer dropped. */
  duplicatesDropped: number;
  /** Duplicates the consumer kept (raw bytes). */
  keptDuplicates: number;
  /** Kinds reported skipped (trackers do not report them). */
  unsupported?: ProtocolName[];
}

interface Consumer {
  name: string;
  /** Delivers items before the run ends (a stream, datagrams, events). */
  incremental: boolean;
  /** Takes `timeoutMs` and `recvSize`. */
  listingOptions: boolean;
  /** Drops duplicates (a raw dump keeps the kernel's bytes). */
  dedups: boolean;
  run(r: Run): Promise<Outcome>;
}

const listOptions = (r: Run): Record<string, unknown> => ({
  engine: r.engine,
  extensions: ['info'],
  ...(r.protocols && { protocols: r.protocols }),
  ...(r.signal && { signal: r.signal }),
  ...(r.timeoutMs && { timeoutMs: r.timeoutMs }),
  ...(r.recvSize && { recvSize: r.recvSize }),
});

const LIST: Consumer = {
  name: 'listSockets',
  incremental: false,
  listingOptions: true,
  dedups: true,
  async run(r) {
    const l = await listSockets(listOptions(r));
    l.forEach((s, i) => r.onItem?.(s, i + 1));
    return { sockets: l.length, cookies: l.map((s) => s.cookie), interrupted: l.interrupted, duplicatesDropped: l.duplicatesDropped, keptDuplicates: 0, unsupported: l.unsupported };
  },
};

const STREAM: Consumer = {
  name: 'streamSockets',
  incremental: true,
  listingOptions: true,
  dedups: true,
  async run(r) {
    const stream = streamSockets(listOptions(r));
    const cookies: bigint[] = [];
    for await (const s of stream) {
      cookies.push(s.cookie);
      r.onItem?.(s, cookies.length);
    }
    const { interrupted, duplicatesDropped, unsupported } = stream.stats;
    return { sockets: cookies.length, cookies, interrupted, duplicatesDropped, keptDuplicates: 0, unsupported };
  },
};

const RAW: Consumer = {
  name: 'rawDump',
  incremental: true,
  listingOptions: true,
  dedups: false,
  async run(r) {
    const dump = rawDump(listOptions(r));
    const parts: Buffer[] = [];
    for await (const d of dump) {
      parts.push(d);
      r.onItem?.(d, parts.length);
    }
    const decoded = decodeDump(Buffer.concat(parts));
    const { interrupted, duplicatesDropped, unsupported } = dump.stats;
    return { sockets: decoded.length, cookies: decoded.map((s) => s.cookie), interrupted, duplicatesDropped, keptDuplicates: decoded.duplicatesDropped, unsupported };
  },
};

const TRACK: Consumer = {
  name: 'trackSockets',
  incremental: true,
  listingOptions: true,
  dedups: true,
  // One dump (the tables here are never empty): every socket opens, then the tracker is left.
  async run(r) {
    const tracker = trackSockets({ ...listOptions(r), interval: 60_000, events: false });
    const cookies: bigint[] = [];
    for await (const e of tracker) {
      if (e.type === 'open') cookies.push(e.socket.cookie);
      r.onItem?.(e, cookies.length);
      if (tracker.stats.dumps >= 1 && cookies.length === tracker.stats.opened) break;
    }
    const { interruptedDumps, duplicatesDropped } = tracker.stats;
    return { sockets: cookies.length, cookies, interrupted: interruptedDumps > 0, duplicatesDropped, keptDuplicates: 0 };
  },
};

const SNAPSHOT: Consumer = {
  name: 'takeSnapshot',
  incremental: false,
  listingOptions: false,
  dedups: true,
  async run(r) {
    const s = await takeSnapshot({ engine: r.engine, perListener: false, ...(r.protocols && { protocols: r.protocols }), ...(r.signal && { signal: r.signal }) });
    return { sockets: s.sockets, interrupted: s.interrupted, duplicatesDropped: s.duplicatesDropped, keptDuplicates: 0, unsupported: s.unsupported };
  },
};

const ALL = [LIST, STREAM, RAW, TRACK, SNAPSHOT];
/** test.each rows: each consumer under its name. */
const rows = (consumers: Consumer[]): Array<[string, Consumer]> => consumers.map((c) => [c.name, c]);
const INCREMENTAL = ALL.filter((c) => c.incremental);
const WITH_LISTING_OPTIONS = ALL.filter((c) => c.listingOptions);

const N = 300;
// The faults below hit the IPv4 TCP dump (the IPv6 one is empty and answers with NLMSG_DONE alone).
const TCP4 = { protocol: 'tcp', family: 'inet' } as const;
const TCP = ['tcp'] as ProtocolName[];

// ---------------------------------------------------------------------------------------

describe('duplicates of a non-atomic dump', () => {
  test.each(rows(ALL))('%s: dropped by cookie and counted (raw dumps keep the bytes)', async (_name, c) => {
    const kernel = kernelWith({ sockets: tcpTable(N), faults: [{ match: TCP4, duplicate: 1 }] });
    let received = 0;
    const engine = new Engine({ channels: tapped(kernel, (b) => (received += dataMessages(b))) });
    const out = await c.run({ engine, protocols: TCP });
    const repeated = received - N;
    expect(repeated).toBeGreaterThan(0);
    expect(out.sockets).toBe(N);
    if (out.cookies) expect(out.cookies).toEqual(cookiesOf(N));
    if (c.dedups) expect([out.duplicatesDropped, out.keptDuplicates]).toEqual([repeated, 0]);
    else expect([out.duplicatesDropped, out.keptDuplicates]).toEqual([0, repeated]);
  });
});

describe('NLM_F_DUMP_INTR', () => {
  test.each(rows(ALL))('%s: the run is marked interrupted and every socket is still returned', async (_name, c) => {
    const clean = await c.run({ engine: new Engine({ channels: kernelWith({ sockets: tcpTable(N) }).channels }), protocols: TCP });
    expect(clean.interrupted).toBe(false);
    const kernel = kernelWith({ sockets: tcpTable(N), faults: [{ match: TCP4, interrupt: 2 }] });
    const out = await c.run({ engine: new Engine({ channels: kernel.channels }), protocols: TCP });
    expect(out.interrupted).toBe(true);
    expect(out.sockets).toBe(N);
    if (out.cookies) expect(out.cookies).toEqual(cookiesOf(N));
  });
});

describe('kinds the kernel lacks', () => {
  const refused = (kernel: FakeKernel, kinds: readonly ProtocolName[]): number => kernel.requests.filter((r) => kinds.includes(r.protocol!) && r.errno === -2).length;

  test.each(rows(ALL))('%s: skipped and reported when not named', async (_name, c) => {
    const kernel = kernelWith({ sockets: tcpTable(20), unsupported: TARGET_KERNEL_UNSUPPORTED });
    const out = await c.run({ engine: new Engine({ channels: kernel.channels }) });
    expect(out.sockets).toBe(20);
    if (out.unsupported) expect([...out.unsupported].sort()).toEqual([...TARGET_KERNEL_UNSUPPORTED].sort());
    // Each was asked for and refused (inet kinds in NLMSG_DONE, families with NLMSG_ERROR).
    for (const kind of TARGET_KERNEL_UNSUPPORTED) expect(refused(kernel, [kind])).toBeGreaterThan(0);
  });

  test.each(rows(ALL))('%s: a NotSupportedError when named', async (_name, c) => {
    const kernel = kernelWith({ sockets: tcpTable(20), unsupported: ['sctp'] });
    const err = await failure(c.run({ engine: new Engine({ channels: kernel.channels }), protocols: ['tcp', 'sctp'] }));
    expect(err).toBeInstanceOf(NotSupportedError);
    expect(err).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'recvmsg', operation: 'dump', protocol: 'sctp' });
  });

  test.each(rows(ALL))('%s: remembered per engine (not asked again) until forgotten; engines do not share it', async (_name, c) => {
    const kinds: ProtocolName[] = ['sctp', 'vsock'];
    const kernel = kernelWith({ sockets: tcpTable(5), unsupported: kinds });
    const engine = new Engine({ channels: kernel.channels });
    const asked = (): number => kernel.requests.filter((r) => kinds.includes(r.protocol!)).length;
    await c.run({ engine });
    const first = asked();
    expect(refused(kernel, ['sctp'])).toBeGreaterThan(0);
    expect(refused(kernel, ['vsock'])).toBeGreaterThan(0);

    const cached = await c.run({ engine });
    expect(asked()).toBe(first);
    expect(cached.sockets).toBe(5);
    if (cached.unsupported) expect([...cached.unsupported].sort()).toEqual(kinds);

    engine.forgetUnsupported();
    await c.run({ engine });
    const afterForget = asked();
    expect(afterForget).toBeGreaterThan(first);

    // Another engine on the same kernel learns for itself; the first still remembers.
    await c.run({ engine: new Engine({ channels: kernel.channels }) });
    const other = asked();
    expect(other).toBeGreaterThan(afterForget);
    await c.run({ engine });
    expect(asked()).toBe(other);

    // A cache of 0 ms asks every time.
    const uncached = new Engine({ channels: kernel.channels, unsupportedTtlMs: 0 });
    await c.run({ engine: uncached });
    await c.run({ engine: uncached });
    expect(asked()).toBeGreaterThanOrEqual(other + 4);
  });
});

describe('abort', () => {
  test.each(rows(ALL))('%s: a signal aborted before the call: AbortError, no channel opened', async (_name, c) => {
    const kernel = kernelWith({ sockets: tcpTable(10) });
    const controller = new AbortController();
    controller.abort();
    let delivered = 0;
    const err = await failure(c.run({ engine: new Engine({ channels: kernel.channels }), signal: controller.signal, onItem: () => delivered++ }));
    expect(err).toBeInstanceOf(AbortError);
    expect(err).toMatchObject({ code: 'ABORT_ERR', name: 'AbortError' });
    expect(delivered).toBe(0);
    expect(kernel.opened).toHaveLength(0);
    expect(kernel.requests).toHaveLength(0);
  });

  test.each(rows(ALL))('%s: aborted as the first batch arrives: AbortError, nothing of that batch delivered', async (_name, c) => {
    const kernel = kernelWith({ sockets: tcpTable(N) });
    const controller = new AbortController();
    const engine = new Engine({ channels: tapped(kernel, () => controller.abort(new Error('enough'))) });
    let delivered = 0;
    const err = await failure(c.run({ engine, protocols: TCP, signal: controller.signal, onItem: () => delivered++ }));
    expect(err).toBeInstanceOf(AbortError);
    expect((err as AbortError).cause).toEqual(new Error('enough'));
    expect(delivered).toBe(0);
    expect(kernel.opened.length).toBeGreaterThan(0);
  });

  // The defect fixed with the engine: the items of a batch already received went on after the abort.
  const AT: Record<string, number> = { streamSockets: 10, rawDump: 2, trackSockets: 10 };
  test.each(rows(INCREMENTAL))('%s: aborted by the caller at an item of 5,000 sockets: not one more item, AbortError at the next step', async (name, c) => {
    const kernel = kernelWith({ sockets: tcpTable(5000) });
    const controller = new AbortController();
    const at = AT[name];
    let delivered = 0;
    const err = await failure(
      c.run({
        engine: new Engine({ channels: kernel.channels }),
        protocols: TCP,
        signal: controller.signal,
        onItem: (_item, count) => {
          delivered = count;
          if (count === at) controller.abort();
        },
      }),
    );
    expect(err).toBeInstanceOf(AbortError);
    expect(delivered).toBe(at);
  });

  test.each(rows(ALL))('%s: aborting after the run finished changes nothing', async (_name, c) => {
    const kernel = kernelWith({ sockets: tcpTable(N) });
    const controller = new AbortController();
    const out = await c.run({ engine: new Engine({ channels: kernel.channels }), protocols: TCP, signal: controller.signal });
    const requests = kernel.requests.length;
    controller.abort();
    await new Promise((r) => setImmediate(r));
    expect(out.sockets).toBe(N);
    expect(kernel.requests).toHaveLength(requests);
  });

  test.each(rows(INCREMENTAL))('%s: break after the first item closes the channel, nothing more is asked', async (_name, c) => {
    const kernel = kernelWith({ sockets: tcpTable(N) });
    const engine = new Engine({ channels: kernel.channels });
    const iterable =
      c === STREAM ? streamSockets({ engine, protocols: TCP }) : c === RAW ? rawDump({ engine, protocols: TCP }) : trackSockets({ engine, protocols: TCP, interval: 60_000, events: false });
    let items = 0;
    for await (const _ of iterable) {
      items++;
      break;
    }
    expect(items).toBe(1);
    // A stream or raw dump stops within the IPv4 dump; a tracker yields once its whole dump is in.
    const asked = c === TRACK ? [['tcp', 'inet'], ['tcp', 'inet6']] : [['tcp', 'inet']];
    expect(kernel.requests.map((r) => [r.protocol, r.familyName])).toEqual(asked);
    await new Promise((r) => setTimeout(r, 30));
    expect(kernel.requests).toHaveLength(asked.length);
  });
});

describe('timeouts', () => {
  test.each(
    rows(WITH_LISTING_OPTIONS).flatMap(([name, c]) => [
      [name, 'held', c],
      [name, 'dropped', c],
    ]) as Array<[string, 'held' | 'dropped', Consumer]>,
  )('%s: timeoutMs over a request the kernel %s: TimeoutError, channel closed', async (_name, how, c) => {
    const kernel = kernelWith({ sockets: tcpTable(N), faults: [how === 'held' ? { match: TCP4, hold: true } : { match: TCP4, drop: true }] });
    const t0 = Date.now();
    const err = await failure(c.run({ engine: new Engine({ channels: kernel.channels }), protocols: TCP, timeoutMs: 50 }));
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toMatchObject({ code: 'ERR_SOCKDIAG_TIMEOUT', timeoutMs: 50, message: 'The listing did not finish within 50 ms' });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(kernel.requests.find((r) => r.familyName === 'inet')?.answer).toBe(how);
  });

  test('takeSnapshot (no timeoutMs of its own; the metric helpers pass a timeout signal): AbortError, channel closed', async () => {
    const kernel = kernelWith({ sockets: tcpTable(N), faults: [{ match: TCP4, hold: true }] });
    const err = await failure(SNAPSHOT.run({ engine: new Engine({ channels: kernel.channels }), protocols: TCP, signal: AbortSignal.timeout(50) }));
    expect(err).toBeInstanceOf(AbortError);
    expect((err as AbortError).cause).toMatchObject({ name: 'TimeoutError' });
  });

  test('the engine’s replyTimeoutMs (a RunOptions field; listings keep the 30 s default): a dropped request fails the dump alone, channel closed', async () => {
    const kernel = kernelWith({ sockets: tcpTable(5), faults: [{ match: TCP4, drop: true }] });
    const engine = new Engine({ channels: kernel.channels });
    const stats = newEngineStats();
    const listing = await engine.plan({ protocols: TCP }, stats);
    const err = await failure(
      (async () => {
        for await (const _ of engine.steps(listing, stats, {}, { replyTimeoutMs: 50 })) void _;
      })(),
    );
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toMatchObject({ code: 'ERR_SOCKDIAG_TIMEOUT', timeoutMs: 50, message: 'The kernel did not answer the dump within 50 ms (was the request dropped?)' });
  });
});

describe('error replies', () => {
  test.each(rows(ALL))('%s: an error inside NLMSG_DONE: SockdiagSystemError with the dump’s context', async (_name, c) => {
    const kernel = kernelWith({ sockets: tcpTable(N), faults: [{ match: TCP4, doneError: 'EINTR', doneAfter: 250, extack: 'walk interrupted' }] });
    const items: unknown[] = [];
    const err = await failure(c.run({ engine: new Engine({ channels: kernel.channels }), protocols: TCP, onItem: (item) => items.push(item) }));
    expect(err).toBeInstanceOf(SockdiagSystemError);
    expect(err).not.toBeInstanceOf(NotSupportedError);
    expect(err).toMatchObject({ code: 'EINTR', errno: -4, syscall: 'recvmsg', operation: 'dump', family: 'inet', protocol: 'tcp', extack: 'walk interrupted' });
    if (c === RAW) {
      // The datagrams before the one that carried the error still went out, as the kernel sent them.
      expect(items.length).toBeGreaterThan(0);
      let cookies: bigint[] = [];
      const bytes = Buffer.concat(items as Buffer[]);
      forEachMessage(bytes, 0, bytes.length, (off, h) => {
        if (h.type === SOCK_DIAG_BY_FAMILY) cookies.push(decodeInetMessage(bytes, off, h.len, IPPROTO.TCP).cookie);
      });
      cookies = cookies.filter((x, i) => cookies.indexOf(x) === i);
      expect(cookies.length).toBeGreaterThan(0);
      expect(cookies.length).toBeLessThan(250);
      expect(cookies).toEqual(cookiesOf(cookies.length));
    }
  });

  test.each(rows(ALL))('%s: NLMSG_ERROR: SockdiagSystemError with errno, extack and the dump’s context', async (_name, c) => {
    const kernel = kernelWith({ sockets: tcpTable(N), faults: [{ match: TCP4, error: 'EBUSY', extack: 'dump already running' }] });
    let delivered = 0;
    const err = await failure(c.run({ engine: new Engine({ channels: kernel.channels }), protocols: TCP, onItem: () => delivered++ }));
    expect(err).toBeInstanceOf(SockdiagSystemError);
    expect(err).not.toBeInstanceOf(NotSupportedError);
    expect(err).toMatchObject({ code: 'EBUSY', errno: -16, syscall: 'recvmsg', operation: 'dump', family: 'inet', protocol: 'tcp', extack: 'dump already running' });
    expect(delivered).toBe(0);
  });

  test.each(rows(ALL))('%s: ENOBUFS from a read: SockdiagSystemError ENOBUFS saying what overflowed', async (_name, c) => {
    const kernel = kernelWith({ sockets: tcpTable(N), faults: [{ match: TCP4, readError: 'ENOBUFS', afterDatagrams: 1 }] });
    const err = await failure(c.run({ engine: new Engine({ channels: kernel.channels }), protocols: TCP }));
    expect(err).toBeInstanceOf(SockdiagSystemError);
    expect(err).toMatchObject({ code: 'ENOBUFS', errno: -105, syscall: 'recvmsg' });
    expect((err as Error).message).toMatch(/receive buffer overflowed/);
  });
});

describe('truncated datagrams', () => {
  test.each(rows(WITH_LISTING_OPTIONS))('%s: a receive size smaller than a datagram: ERR_SOCKDIAG_TRUNCATED', async (_name, c) => {
    const kernel = kernelWith({ sockets: tcpTable(N) });
    const err = await failure(c.run({ engine: new Engine({ channels: kernel.channels }), protocols: TCP, recvSize: 256 }));
    expect(err).toBeInstanceOf(SockdiagError);
    expect(err).toMatchObject({ code: 'ERR_SOCKDIAG_TRUNCATED', message: expect.stringMatching(/larger than the receive buffer \(256 bytes\)/) });
    expect(kernel.opened.every((ch) => ch.recvSize === 256)).toBe(true);
  });

  test.each(rows(ALL))('%s: a datagram truncated in flight: ERR_SOCKDIAG_TRUNCATED, the run stops', async (_name, c) => {
    const kernel = kernelWith({ sockets: tcpTable(N), faults: [{ match: TCP4, truncate: 1 }] });
    const err = await failure(c.run({ engine: new Engine({ channels: kernel.channels }), protocols: TCP }));
    expect(err).toBeInstanceOf(SockdiagError);
    expect(err).toMatchObject({ code: 'ERR_SOCKDIAG_TRUNCATED' });
  });
});
