/**
 * Dumps over the real addon, in a private namespace holding ~2000 TCP sockets:
 * F15 (datagrams from another netlink socket are dropped), F16 (MSG_TRUNC is a typed
 * error), F4/F7 low level (EBUSY, "not supported" as NLMSG_DONE or NLMSG_ERROR, EINVAL,
 * 80 pipelined requests).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Channel, runDump, DumpChannel, DumpStats, Datagrams } from '../lib/netlink/channel';
import { encodeInetRequest, decodeInetMessage, InetSocket } from '../lib/diag/inet';
import { encodeVsockRequest } from '../lib/diag/vsock';
import { encodeTipcRequest } from '../lib/diag/tipc';
import { encodeXdpRequest } from '../lib/diag/xdp';
import { NotSupportedError, SockdiagSystemError, ErrorContext } from '../lib/errors';
import { NLMSG, NLM_F } from '../lib/netlink/message';
import { createNetns, describeRoot, Netns, pythonBinary } from './helpers/netns';
import { FIXTURES, rawMessages, readUntil, sleep, RawMessage } from './helpers/native';

const ALL_STATES = 0xffffffff;
const TCP: ErrorContext = { operation: 'dump', family: 'inet', protocol: 'tcp' };
const newStats = (): DumpStats => ({ messages: 0, interrupted: false, foreignDropped: 0 });
const decodeTcp = (b: Buffer, off: number, len: number): InetSocket => decodeInetMessage(b, off, len, 6);
const tcpRequest = (): Buffer => encodeInetRequest({ family: 2, protocol: 6, states: ALL_STATES });

/** A channel wrapper that records every batch it hands to runDump. */
function recording(ch: Channel, onSend?: (request: Uint8Array) => void): DumpChannel & { batches: Datagrams[] } {
  const batches: Datagrams[] = [];
  return {
    batches,
    get portId() {
      return ch.portId;
    },
    nextSeq: () => ch.nextSeq(),
    send(request: Uint8Array) {
      ch.send(request);
      onSend?.(request);
    },
    async read() {
      const b = await ch.read();
      if (b !== null) batches.push(b);
      return b;
    },
  };
}

async function collect<T>(ch: DumpChannel, request: Buffer, decode: (b: Buffer, off: number, len: number) => T, context: ErrorContext, stats = newStats()): Promise<T[]> {
  const out: T[] = [];
  for await (const batch of runDump(ch, request, decode, context, stats)) out.push(...batch);
  return out;
}

/** What runDump threw (or 'resolved'). */
async function dumpError(request: Buffer, context: ErrorContext, ns: Netns): Promise<unknown> {
  const ch = Channel.open({ netns: ns.name });
  try {
    await collect(ch, request, () => 1, context);
    return 'resolved';
  } catch (e) {
    return e;
  } finally {
    ch.close();
  }
}

/** Sends `request` with a fresh seq and returns the message that ended its answer. */
async function lastMessage(request: Buffer, ns: Netns): Promise<RawMessage> {
  const ch = Channel.open({ netns: ns.name });
  try {
    const seq = ch.nextSeq();
    request.writeUInt32LE(seq, 8);
    ch.send(request);
    const { messages } = await readUntil(ch, (m) => m.seq === seq && (m.type === NLMSG.DONE || m.type === NLMSG.ERROR));
    return messages[messages.length - 1];
  } finally {
    ch.close();
  }
}

describeRoot('dumps over the native addon (2000 TCP sockets in a private namespace)', () => {
  let ns: Netns;
  let baseline: InetSocket[];
  let cookies: string[];
  beforeAll(async () => {
    ns = await createNetns();
    await ns.spawnPopulation({ kinds: ['tcp'], extraTcpPairs: 1000 });
    const ch = Channel.open({ netns: ns.name });
    try {
      baseline = await collect(ch, tcpRequest(), decodeTcp, TCP);
    } finally {
      ch.close();
    }
    cookies = baseline.map((s) => String(s.cookie)).sort();
  }, 90_000);
  afterAll(async () => {
    await ns?.destroy();
  });

  test('the namespace holds the population (2000 pairs and more), each socket once', () => {
    expect(baseline.length).toBeGreaterThanOrEqual(2001);
    expect(new Set(cookies).size).toBe(cookies.length);
  });

  test('read-ahead: while JavaScript holds a batch the reader receives the next one, so the next read settles at once (before a setImmediate), and the dump is still whole', async () => {
    const ch = Channel.open({ netns: ns.name });
    try {
      const req = tcpRequest();
      const seq = ch.nextSeq();
      req.writeUInt32LE(seq, 8);
      ch.send(req);
      const first = await ch.read();
      expect(first).not.toBeNull();
      await sleep(200); // the reader receives one batch ahead meanwhile
      let immediateRan = false;
      setImmediate(() => {
        immediateRan = true;
      });
      const second = await ch.read();
      // Settled from the batch in hand: a promise already resolved, no trip through the event loop.
      expect(immediateRan).toBe(false);
      expect(second).not.toBeNull();
      const rest = await readUntil(ch, (m) => m.seq === seq && (m.type === NLMSG.DONE || m.type === NLMSG.ERROR));
      const all = [...rawMessages(first!), ...rawMessages(second!), ...rest.messages].filter((m) => m.seq === seq && m.type === 20);
      const whole = (m: RawMessage): Buffer => Buffer.from(m.payload.buffer, m.payload.byteOffset - 16, m.payload.length + 16);
      expect(all.map((m) => String(decodeTcp(whole(m), 0, m.payload.length + 16).cookie)).sort()).toEqual(cookies);
    } finally {
      ch.close();
    }
  });

  describe('F15: foreign datagrams', () => {
    test('a crafted socket and NLMSG_DONE sent to our port id by another netlink socket during a dump are dropped and counted', async () => {
      const ch = Channel.open({ netns: ns.name });
      let spoof: { senderPort: number; sent: number[] } | undefined;
      let spoofErr = '';
      // Right after the request: the kernel has queued the dump's first datagram; the crafted
      // ones land behind it, before the rest of the dump.
      const rec = recording(ch, (request) => {
        const seq = Buffer.from(request.buffer, request.byteOffset, request.byteLength).readUInt32LE(8);
        const r = spawnSync('ip', ['netns', 'exec', ns.name, pythonBinary(), path.join(FIXTURES, 'netlink-spoof.py'), String(ch.portId), String(seq)], { encoding: 'utf8', timeout: 10_000 });
        spoofErr = r.stderr;
        if (r.status === 0) spoof = JSON.parse(r.stdout) as { senderPort: number; sent: number[] };
      });
      const stats = newStats();
      let socks: InetSocket[];
      try {
        socks = await collect(rec, tcpRequest(), decodeTcp, TCP, stats);
      } finally {
        ch.close();
      }
      expect(spoofErr).toBe('');
      expect(spoof).toBeDefined();
      expect(spoof!.sent).toEqual([88, 20]);
      expect(spoof!.senderPort).not.toBe(0);
      // They did arrive: two datagrams from the spoofer's port, addressed to our seq and port.
      const fromSpoofer = rec.batches.flatMap((b) => b.senders.filter((s) => s === spoof!.senderPort));
      expect(fromSpoofer).toHaveLength(2);
      // ... and were dropped: no fake socket, the dump was not cut short, both counted.
      expect(stats.foreignDropped).toBe(2);
      expect(socks.some((s) => s.cookie === 0xfeedfacecafebeefn || s.inode === 424242)).toBe(false);
      expect(socks.map((s) => String(s.cookie)).sort()).toEqual(cookies);
    });
  });

  describe('F16: MSG_TRUNC', () => {
    test('recvSize 256: the dump fails with ERR_SOCKDIAG_TRUNCATED and yields nothing', async () => {
      const ch = Channel.open({ netns: ns.name, recvSize: 256 });
      let yielded = 0;
      let error: unknown = 'no error';
      try {
        for await (const batch of runDump(ch, tcpRequest(), decodeTcp, TCP, newStats())) yielded += batch.length;
      } catch (e) {
        error = e;
      } finally {
        ch.close();
      }
      expect(error).toMatchObject({ code: 'ERR_SOCKDIAG_TRUNCATED' });
      expect((error as Error).message).toMatch(/256 bytes.*MSG_TRUNC/);
      expect(yielded).toBe(0);
    });

    test('the default receive size takes a 2000-socket dump with every extension whole', async () => {
      const ch = Channel.open({ netns: ns.name });
      const rec = recording(ch);
      let socks: InetSocket[];
      try {
        socks = await collect(rec, encodeInetRequest({ family: 2, protocol: 6, states: ALL_STATES }), decodeTcp, TCP);
      } finally {
        ch.close();
      }
      expect(socks.map((s) => String(s.cookie)).sort()).toEqual(cookies);
      const lengths = rec.batches.flatMap((b) => b.lengths);
      // Datagrams far above 256 bytes came (so the test above is meaningful), all whole.
      expect(Math.max(...lengths)).toBeGreaterThan(16 * 1024);
      expect(socks.filter((s) => s.state === 'established' && s.info !== undefined).length).toBeGreaterThanOrEqual(2000);
    });
  });

  describe('F4/F7: kernel errors, low level', () => {
    test('a second dump started on a channel while the first runs gets EBUSY as a SockdiagSystemError; the first one still ends', async () => {
      const ch = Channel.open({ netns: ns.name });
      try {
        const first = tcpRequest();
        const seq1 = ch.nextSeq();
        first.writeUInt32LE(seq1, 8);
        ch.send(first); // dump 1 runs: the kernel queued its first datagram, nothing read yet
        const stats2 = newStats();
        const err = await collect(ch, tcpRequest(), decodeTcp, TCP, stats2).then(
          () => 'resolved',
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(SockdiagSystemError);
        expect(err).not.toBeInstanceOf(NotSupportedError);
        expect(err).toMatchObject({ code: 'EBUSY', errno: -16, syscall: 'recvmsg', operation: 'dump', protocol: 'tcp' });
        // Dump 1's first datagram came before the EBUSY and was dropped as not ours.
        expect(stats2.foreignDropped).toBeGreaterThan(0);
        const rest = await readUntil(ch, (m) => m.seq === seq1 && (m.type === NLMSG.DONE || m.type === NLMSG.ERROR));
        expect(rest.messages[rest.messages.length - 1]).toMatchObject({ type: NLMSG.DONE, status: 0 });
        expect(rest.errors).toEqual([]);
      } finally {
        ch.close();
      }
    });

    test.each([
      ['sctp', 132],
      ['dccp', 33],
      ['raw', 255],
    ])('inet protocol %s (%i): ENOENT inside NLMSG_DONE, NotSupportedError from runDump', async (name, protocol) => {
      const last = await lastMessage(encodeInetRequest({ family: 2, protocol, states: ALL_STATES }), ns);
      expect(last).toMatchObject({ type: NLMSG.DONE, status: -2 });
      const err = await dumpError(encodeInetRequest({ family: 2, protocol, states: ALL_STATES }), { operation: 'dump', family: 'inet', protocol: name }, ns);
      expect(err).toBeInstanceOf(NotSupportedError);
      expect(err).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'recvmsg', operation: 'dump', protocol: name });
      expect((err as Error).message).toMatch(/not supported by this kernel/);
    });

    test.each([
      ['vsock', 40, () => encodeVsockRequest()],
      ['tipc', 30, () => encodeTipcRequest()],
      ['xdp', 44, () => encodeXdpRequest()],
      ['smc', 43, () => encodeInetRequest({ family: 43, protocol: 0, states: ALL_STATES })],
    ])('family %s (%i): ENOENT as NLMSG_ERROR, NotSupportedError from runDump', async (name, family, request) => {
      const req = request();
      expect(req[16]).toBe(family);
      const last = await lastMessage(req, ns);
      expect(last).toMatchObject({ type: NLMSG.ERROR, status: -2 });
      const err = await dumpError(request(), { operation: 'dump', family: name }, ns);
      expect(err).toBeInstanceOf(NotSupportedError);
      expect(err).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'recvmsg', operation: 'dump', family: name });
    });

    test.each([
      ['family 200', () => encodeInetRequest({ family: 200, protocol: 6, states: ALL_STATES })],
      [
        'a request shorter than inet_diag_req_v2',
        () => {
          const b = Buffer.alloc(20);
          b.writeUInt32LE(20, 0);
          b.writeUInt16LE(20, 4);
          b.writeUInt16LE(NLM_F.REQUEST | NLM_F.DUMP, 6);
          b[16] = 2;
          b[17] = 6;
          return b;
        },
      ],
    ])('%s: EINVAL as NLMSG_ERROR, a SockdiagSystemError (not "not supported")', async (_name, request) => {
      const last = await lastMessage(request(), ns);
      expect(last).toMatchObject({ type: NLMSG.ERROR, status: -22 });
      const err = await dumpError(request(), TCP, ns);
      expect(err).toBeInstanceOf(SockdiagSystemError);
      expect(err).not.toBeInstanceOf(NotSupportedError);
      expect(err).toMatchObject({ code: 'EINVAL', errno: -22, syscall: 'recvmsg' });
    });

    test('80 requests pipelined without reading, default receive buffer: dump 1 whole, then EBUSY for each of the other 79; no hang', async () => {
      const ch = Channel.open({ netns: ns.name });
      try {
        const seqs: number[] = [];
        for (let i = 0; i < 80; i++) {
          const req = tcpRequest();
          const seq = ch.nextSeq();
          req.writeUInt32LE(seq, 8);
          seqs.push(seq);
          ch.send(req);
        }
        const ended = new Set<number>();
        const r = await readUntil(ch, (m) => {
          if (m.type === NLMSG.DONE || m.type === NLMSG.ERROR) ended.add(m.seq);
          return ended.size === 80;
        });
        expect(r.errors).toEqual([]);
        const data = r.messages.filter((m) => m.type === 20);
        expect(data.every((m) => m.seq === seqs[0])).toBe(true);
        expect(data.length).toBe(baseline.length);
        const ends = r.messages.filter((m) => m.type === NLMSG.DONE || m.type === NLMSG.ERROR);
        expect(ends.find((m) => m.seq === seqs[0])).toMatchObject({ type: NLMSG.DONE, status: 0 });
        const busy = ends.filter((m) => m.seq !== seqs[0]);
        expect(busy).toHaveLength(79);
        expect(busy.every((m) => m.type === NLMSG.ERROR && m.status === -16)).toBe(true);
      } finally {
        ch.close();
      }
    });

    test('80 requests pipelined with the smallest receive buffer: the overrun surfaces as a typed ENOBUFS (recvmsg) error, and dump 1 still ends', async () => {
      const ch = Channel.open({ netns: ns.name, rcvbuf: 1 });
      try {
        const seqs: number[] = [];
        for (let i = 0; i < 80; i++) {
          const req = tcpRequest();
          const seq = ch.nextSeq();
          req.writeUInt32LE(seq, 8);
          seqs.push(seq);
          ch.send(req);
        }
        // The EBUSY answers do not fit: the kernel drops them and flags ENOBUFS.
        const r = await readUntil(ch, (m) => m.seq === seqs[0] && m.type === NLMSG.DONE);
        expect(r.errors.length).toBeGreaterThanOrEqual(1);
        for (const e of r.errors) expect(e).toMatchObject({ code: 'ENOBUFS', errno: -105, syscall: 'recvmsg' });
        // A read's error is not about opening the channel.
        for (const e of r.errors) expect((e as { operation?: string }).operation).toBeUndefined();
        expect(r.messages[r.messages.length - 1].status).toBe(0);
        expect(r.messages.filter((m) => m.type === 20 && m.seq === seqs[0]).length).toBe(baseline.length);
      } finally {
        ch.close();
      }
    });
  });
});
