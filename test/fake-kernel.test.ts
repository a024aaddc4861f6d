/**
 * The fake kernel of test/helpers/fake-kernel.ts, driven through the levels that take an
 * injected channel today: the dump loop (runDump, visitReplies), the destroy pipeline
 * (destroyOn) and raw dumps (rawDatagrams). Nothing here needs root or the native addon:
 * loading the addon fails this file (see the mock below).
 */
import { constants as os } from 'node:os';
import { runDump, visitReplies, type DumpStats, type Channel, type MessageDecoder } from '../lib/netlink/channel';
import { NLMSG, NLM_F, readHeader } from '../lib/netlink/message';
import { NotSupportedError, SockdiagError, SockdiagSystemError } from '../lib/errors';
import { AF, IPPROTO, STATE_NUMBERS, TCPDIAG_GETSOCK, type SocketState } from '../lib/diag/constants';
import { decodeInetMessage, encodeInetRequest, encodeTcpBothFamiliesRequest, type InetSocket, type TcpSocket } from '../lib/diag/inet';
import { decodeUnixMessage, encodeUnixRequest, UDIAG_SHOW } from '../lib/diag/unix';
import { decodePacketMessage, encodePacketRequest } from '../lib/diag/packet';
import { decodeNetlinkMessage, encodeNetlinkRequest, NDIAG_SHOW } from '../lib/diag/netlink';
import { encodeVsockRequest } from '../lib/diag/vsock';
import { compileFilter } from '../lib/filter/bytecode';
import { parseFilter } from '../lib/filter/parse';
import { matchesFilter } from '../lib/filter/evaluate';
import { destroyOn } from '../lib/api/destroy';
import { decodeDump } from '../lib/api/raw';
import { rawDatagrams, newEngineStats as newRawStats } from '../lib/engine';
import type { Socket } from '../lib/diag/socket';
import type { ChannelFactory } from '../lib/engine/channel';
import { fakeKernel, TARGET_KERNEL_UNSUPPORTED, type FakeKernelChannel, type FakeSocket, type FaultRule } from './helpers/fake-kernel';

// Every path below must run without the addon: opening a real channel fails the test.
jest.mock('../lib/netlink/binding', () => ({
  nativeBinding: () => {
    throw new Error('the native addon was loaded by a test that must run without it');
  },
}));

const DUMP = { operation: 'dump', family: 'inet', protocol: 'tcp' } as const;
const ALL = 0xffffffff;
const bit = (s: SocketState): number => 1 << STATE_NUMBERS[s];
const newStats = (): DumpStats => ({ messages: 0, interrupted: false, foreignDropped: 0 });
const tcp: MessageDecoder<InetSocket> = (b, off, len) => decodeInetMessage(b, off, len, IPPROTO.TCP);

/** Every item of one dump on `ch`. */
async function dump<T>(ch: FakeKernelChannel, request: Buffer, decode: MessageDecoder<T>, context: object = DUMP): Promise<{ items: T[]; stats: DumpStats }> {
  const stats = newStats();
  const items: T[] = [];
  for await (const batch of runDump(ch, request, decode, context, stats)) items.push(...batch);
  return { items, stats };
}

/** The error a dump ends with. */
async function dumpError(ch: FakeKernelChannel, request: Buffer, context: object = DUMP): Promise<unknown> {
  return dump(ch, request, tcp, context).then(
    () => {
      throw new Error('the dump succeeded');
    },
    (e: unknown) => e,
  );
}

/** `n` established IPv4 TCP sockets 10.0.0.1:1000+i → 10.0.0.2:80, with tcp_info. */
function many(n: number): FakeSocket[] {
  return Array.from({ length: n }, (_, i) => ({ protocol: 'tcp', local: { address: '10.0.0.1', port: 1000 + i }, remote: { address: '10.0.0.2', port: 80 }, attrs: { info: { rttUs: i } } }) as const);
}

/** Each datagram of one dump sent by hand: its length and its messages' (type, flags). */
async function datagrams(ch: FakeKernelChannel, request: Buffer): Promise<{ reads: number; sizes: number[]; messages: Array<{ type: number; flags: number }> }> {
  const seq = ch.nextSeq();
  request.writeUInt32LE(seq, 8);
  ch.send(request);
  const out = { reads: 0, sizes: [] as number[], messages: [] as Array<{ type: number; flags: number }> };
  for (;;) {
    const batch = await ch.read();
    out.reads++;
    if (batch === null) throw new Error('closed');
    let finished = false;
    batch.offsets.forEach((start, i) => {
      out.sizes.push(batch.lengths[i]);
      for (let off = start; off < start + batch.lengths[i]; ) {
        const h = readHeader(batch.data, off, start + batch.lengths[i]);
        out.messages.push({ type: h.type, flags: h.flags });
        if (h.type === NLMSG.DONE) finished = true;
        off += (h.len + 3) & ~3;
      }
    });
    if (finished) return out;
  }
}

const TABLE: FakeSocket[] = [
  { protocol: 'tcp', state: 'listening', local: { address: '0.0.0.0', port: 22 }, cookie: 11n, inode: 501 },
  {
    protocol: 'tcp',
    local: { address: '10.0.0.1', port: 22 },
    remote: { address: '10.0.0.2', port: 50000 },
    cookie: 12n,
    inode: 502,
    uid: 1000,
    recvQ: 3,
    sendQ: 4,
    timer: { name: 'keepalive', expiresMs: 7000, retransmits: 0 },
    attrs: { info: { rttUs: 1234, sndCwnd: 10 }, cong: 'cubic', mark: 7, shutdown: 0, cgroupId: 99n },
  },
  { protocol: 'tcp', local: { address: 'fd00::1', port: 443 }, remote: { address: 'fd00::2', port: 40000 }, cookie: 13n, attrs: { v6only: true } },
  { protocol: 'tcp', state: 'listening', local: { address: '::', port: 8080 }, cookie: 14n, attrs: { v6only: true } },
  { protocol: 'udp', state: 'closed', local: { address: '0.0.0.0', port: 53 }, cookie: 15n },
  { protocol: 'unix', type: 'stream', state: 'listening', path: '/run/x.sock', inode: 601, cookie: 21n, rqlen: { rqueue: 0, wqueue: 128 }, shutdown: 0 },
  { protocol: 'unix', type: 'dgram', state: 'closed', path: '@abstract', inode: 602, cookie: 22n },
  { protocol: 'packet', type: 'raw', packetProtocol: 3, inode: 701, cookie: 31n, info: { ifindex: 2, version: 2, reserveBytes: 0, copyThreshBytes: 0, tstamp: 0, flags: 0 }, uid: 0 },
  { protocol: 'netlink', type: 'raw', netlinkProtocol: 0, portId: 777, inode: 801, cookie: 41n, groups: [1] },
];

describe('answers decoded from the request bytes, encoded with the library encoders', () => {
  test('inet dumps: the family, the state mask and idiag_ext choose what the kernel sends', async () => {
    const kernel = fakeKernel({ sockets: TABLE });
    const ch = kernel.open();
    const established = await dump(ch, encodeInetRequest({ family: AF.INET, protocol: IPPROTO.TCP, states: bit('established'), extensions: ['info'] }), tcp);
    expect(established.items).toHaveLength(1);
    const s = established.items[0] as TcpSocket;
    expect({ ...s }).toMatchObject({ protocol: 'tcp', family: 'inet', state: 'established', cookie: 12n, inode: 502, uid: 1000, recvQ: 3, sendQ: 4 });
    expect(s.local).toEqual({ address: '10.0.0.1', port: 22 });
    expect(s.remote).toEqual({ address: '10.0.0.2', port: 50000 });
    expect(s.timer).toEqual({ name: 'keepalive', expiresMs: 7000, retransmits: 0 });
    expect(s.info?.rttUs).toBe(1234);
    expect(s.info?.sndCwnd).toBe(10);
    expect(s.info?.rcvMss).toBe(0); // the rest of a full tcp_info, as the kernel sends it
    expect(s.cong).toBeUndefined(); // not asked for
    expect(s.mark).toBe(7); // privileged: always
    expect(s.cgroupId).toBe(99n); // always
    expect(s.shutdown).toBe(0);

    const all = await dump(ch, encodeInetRequest({ family: AF.INET, protocol: IPPROTO.TCP, states: ALL }), tcp);
    expect(all.items.map((x) => x.cookie)).toEqual([11n, 12n]);
    expect((all.items[1] as TcpSocket).cong).toBe('cubic');

    const v6 = await dump(ch, encodeInetRequest({ family: AF.INET6, protocol: IPPROTO.TCP, states: ALL }), tcp);
    expect(v6.items.map((x) => [x.cookie, x.family, x.v6only])).toEqual([[13n, 'inet6', undefined], [14n, 'inet6', true]]);

    const udp = await dump(ch, encodeInetRequest({ family: AF.INET, protocol: IPPROTO.UDP, states: ALL }), (b, o, l) => decodeInetMessage(b, o, l, IPPROTO.UDP));
    expect(udp.items.map((x) => [x.protocol, x.cookie, x.local.port])).toEqual([['udp', 15n, 53]]);

    expect(kernel.requests.map((r) => [r.kind, r.protocol, r.familyName, r.answer])).toEqual([
      ['dump', 'tcp', 'inet', 'dump'],
      ['dump', 'tcp', 'inet', 'dump'],
      ['dump', 'tcp', 'inet6', 'dump'],
      ['dump', 'udp', 'inet', 'dump'],
    ]);
    expect(kernel.requests[0]).toMatchObject({ states: bit('established'), ext: 2 });
  });

  test('an unprivileged kernel leaves INET_DIAG_MARK out', async () => {
    const ch = fakeKernel({ sockets: TABLE, privileged: false }).open();
    const { items } = await dump(ch, encodeInetRequest({ family: AF.INET, protocol: IPPROTO.TCP, states: bit('established') }), tcp);
    expect(items[0].mark).toBeUndefined();
    expect(items[0].cgroupId).toBe(99n);
  });

  test('TCPDIAG_GETSOCK walks both families once, in table order, and its replies carry its own type', async () => {
    const ch = fakeKernel({ sockets: TABLE }).open();
    const seen: Array<[number, bigint]> = [];
    const stats = newStats();
    const request = encodeTcpBothFamiliesRequest({ states: ALL });
    const seq = ch.nextSeq();
    request.writeUInt32LE(seq, 8);
    ch.send(request);
    let finished = false;
    while (!finished) {
      const batch = await ch.read();
      finished = visitReplies(batch!, seq, ch.portId, DUMP, stats, (b, off, len) => void seen.push([b.readUInt16LE(off + 4), tcp(b, off, len)!.cookie]));
    }
    expect(seen).toEqual([[TCPDIAG_GETSOCK, 11n], [TCPDIAG_GETSOCK, 12n], [TCPDIAG_GETSOCK, 13n], [TCPDIAG_GETSOCK, 14n]]);
  });

  test('INET_DIAG_REQ_BYTECODE runs as the kernel runs it: the filtered dump is the unfiltered one filtered in userspace', async () => {
    const sockets: FakeSocket[] = [...many(40), ...TABLE, { protocol: 'tcp', local: { address: '::ffff:10.0.0.1', port: 22 }, remote: { address: '::ffff:10.9.9.9', port: 1 } }];
    const ch = fakeKernel({ sockets }).open();
    for (const text of ['sport = :22', 'dport = :80 and sport >= :1010 and sport < :1020', 'src 10.0.0.1 and not dport = :80', 'dst 10.0.0.0/8', 'sport = :22 or sport = :443', 'not src fd00::/16']) {
      let excluded = 0;
      for (const family of [AF.INET, AF.INET6] as const) {
        const expr = parseFilter(text).expr!;
        const compiled = compileFilter(expr, { family: family === AF.INET ? 'inet' : 'inet6' });
        expect(compiled.exact).toBe(true);
        const filtered = await dump(ch, encodeInetRequest({ family, protocol: IPPROTO.TCP, states: ALL, bytecode: compiled.bytecode }), tcp);
        const everything = await dump(ch, encodeInetRequest({ family, protocol: IPPROTO.TCP, states: ALL }), tcp);
        const expected = everything.items.filter((s) => matchesFilter(expr, s as Socket));
        expect(filtered.items.map((s) => s.cookie)).toEqual(expected.map((s) => s.cookie));
        excluded += everything.items.length - expected.length;
      }
      expect(excluded).toBeGreaterThan(0);
    }
    expect(ch.requests.filter((r) => r.bytecode !== undefined)).toHaveLength(12);
  });

  test('a program the kernel audit refuses gets EINVAL; MARK_COND without privileges gets EPERM', async () => {
    const bad = Buffer.from([0x02, 4, 8, 0]); // a port comparison without its operand
    const einval = await dumpError(fakeKernel().open(), encodeInetRequest({ family: AF.INET, protocol: IPPROTO.TCP, states: ALL, bytecode: bad }));
    expect(einval).toMatchObject({ code: 'EINVAL', errno: -os.errno.EINVAL, syscall: 'recvmsg' });
    const mark = compileFilter(parseFilter('fwmark = 7').expr!, { family: 'inet' }).bytecode!;
    const eperm = await dumpError(fakeKernel({ privileged: false }).open(), encodeInetRequest({ family: AF.INET, protocol: IPPROTO.TCP, states: ALL, bytecode: mark }));
    expect(eperm).toMatchObject({ code: 'EPERM' });
    const ok = await dump(fakeKernel({ sockets: TABLE }).open(), encodeInetRequest({ family: AF.INET, protocol: IPPROTO.TCP, states: ALL, bytecode: mark }), tcp);
    expect(ok.items.map((s) => s.cookie)).toEqual([12n]);
  });

  test('unix, packet and netlink dumps: states and show bits; netlink dumps list the open channels too', async () => {
    const kernel = fakeKernel({ sockets: TABLE });
    const ch = kernel.open();
    const listening = await dump(ch, encodeUnixRequest({ states: ['listening'], show: UDIAG_SHOW.NAME }), decodeUnixMessage);
    expect(listening.items).toHaveLength(1);
    expect(listening.items[0]).toMatchObject({ type: 'stream', state: 'listening', path: '/run/x.sock', inode: 601, cookie: 21n, shutdown: 0, rqlen: undefined });
    const unix = await dump(ch, encodeUnixRequest(), decodeUnixMessage);
    expect(unix.items.map((s) => [s.path, s.recvQ, s.sendQ])).toEqual([['/run/x.sock', 0, 128], ['@abstract', 0, 0]]);

    const packet = await dump(ch, encodePacketRequest(), decodePacketMessage);
    expect(packet.items).toHaveLength(1);
    expect(packet.items[0]).toMatchObject({ packetProtocol: 3, ifindex: 2, uid: 0, cookie: 31n });
    const bare = await dump(ch, encodePacketRequest({ show: 0 }), decodePacketMessage);
    expect(bare.items[0]).toMatchObject({ info: undefined, uid: undefined });

    const events = kernel.open({ groups: 0b1111, rcvbuf: 4096 });
    const netlink = await dump(ch, encodeNetlinkRequest(), decodeNetlinkMessage);
    expect(netlink.items.map((s) => [s.portId >>> 0, s.netlinkProtocol, s.groups])).toEqual([
      [777, 0, [1]],
      [ch.portId, 4, undefined],
      [events.portId, 4, [0b1111]],
    ]);
    expect(netlink.items[2].meminfo).toMatchObject({ rmemAlloc: 0, rcvbuf: 8192, drops: 0 });
    const route = await dump(ch, encodeNetlinkRequest({ protocol: 0 }), decodeNetlinkMessage);
    expect(route.items.map((s) => s.cookie)).toEqual([41n]);
  });

  test('destroyOn through the fake: destroyed sockets leave the table, a wrong cookie is gone, an orphan the kernel keeps lingers', async () => {
    const kernel = fakeKernel({ sockets: [...many(5), { protocol: 'tcp', state: 'fin-wait-1', inode: 0, local: { address: '10.0.0.1', port: 2000 }, remote: { address: '10.0.0.3', port: 80 }, survivesDestroy: true }] });
    const ch = kernel.open();
    const listed = (await dump(ch, encodeInetRequest({ family: AF.INET, protocol: IPPROTO.TCP, states: ALL }), tcp)).items as Socket[];
    expect(listed).toHaveLength(6);
    const stale = { ...listed[1], cookie: 0xdeadn } as Socket;
    const results = await destroyOn(ch, [listed[0], stale, listed[2], listed[5]]);
    expect(results.map((r) => r.outcome)).toEqual(['destroyed', 'gone', 'destroyed', 'lingering']);
    expect(results[1].error).toMatchObject({ code: 'ENOENT', operation: 'destroy' });
    expect(results[3].remaining).toMatchObject({ state: 'fin-wait-1', cookie: listed[5].cookie });
    expect(kernel.sockets().map((s) => s.cookie)).toEqual([listed[1], listed[3], listed[4], listed[5]].map((s) => s.cookie));
    expect(kernel.requests.filter((r) => r.kind === 'destroy').map((r) => r.answer)).toEqual(['ack', 'error', 'ack', 'ack']);

    const unprivileged = fakeKernel({ sockets: many(2), privileged: false });
    await expect(destroyOn(unprivileged.open(), listed.slice(3, 4))).rejects.toMatchObject({ code: 'EPERM', operation: 'destroy' });
  });

  test('a get by id answers one message, or ENOENT (TCP) / ESTALE (UDP) for a wrong cookie', async () => {
    const kernel = fakeKernel({ sockets: TABLE });
    const ch = kernel.open();
    const ask = async (protocol: number, cookie: bigint, sport: number): Promise<number | bigint> => {
      const seq = ch.nextSeq();
      const req = encodeInetRequest({ family: AF.INET, protocol, states: ALL, flags: NLM_F.REQUEST, id: { sport, src: Buffer.from([0, 0, 0, 0, ...Array(12).fill(0)]), cookie } });
      req.writeUInt32LE(seq, 8);
      ch.send(req);
      const batch = (await ch.read())!;
      const h = readHeader(batch.data, batch.offsets[0], batch.offsets[0] + batch.lengths[0]);
      expect(h.seq).toBe(seq);
      if (h.type === NLMSG.ERROR) return batch.data.readInt32LE(batch.offsets[0] + 16);
      expect(h.flags).toBe(0);
      return decodeInetMessage(batch.data, batch.offsets[0], h.len, protocol).cookie;
    };
    expect(await ask(IPPROTO.TCP, 11n, 22)).toBe(11n);
    expect(await ask(IPPROTO.TCP, 0xffffffffffffffffn, 22)).toBe(11n);
    expect(await ask(IPPROTO.TCP, 5n, 22)).toBe(-os.errno.ENOENT);
    expect(await ask(IPPROTO.UDP, 5n, 53)).toBe(-os.errno.ESTALE);
    expect(await ask(IPPROTO.TCP, 11n, 23)).toBe(-os.errno.ENOENT);
  });
});

describe('multipart replies', () => {
  test('a dump is split as the kernel splits it: the first datagram within NLMSG_GOODSIZE, later ones up to the reader’s size, NLM_F_MULTI on each message, NLMSG_DONE last', async () => {
    const kernel = fakeKernel({ sockets: many(400) });
    const big = await datagrams(kernel.open(), encodeInetRequest({ family: AF.INET, protocol: IPPROTO.TCP, states: ALL }));
    expect(big.messages).toHaveLength(401);
    expect(big.messages.slice(0, 400).every((m) => m.type === 20 && m.flags === NLM_F.MULTI)).toBe(true);
    expect(big.messages[400]).toEqual({ type: NLMSG.DONE, flags: NLM_F.MULTI });
    expect(big.sizes[0]).toBeLessThanOrEqual(3776);
    expect(Math.max(...big.sizes.slice(1))).toBeLessThanOrEqual(32448);
    expect(Math.max(...big.sizes.slice(1))).toBeGreaterThan(16384);
    expect(big.reads).toBe(1); // the addon takes what is ready, up to 64 datagrams

    const small = await datagrams(kernel.open({ recvSize: 8192 }), encodeInetRequest({ family: AF.INET, protocol: IPPROTO.TCP, states: ALL }));
    expect(Math.max(...small.sizes)).toBeLessThanOrEqual(8192);
    expect(small.sizes.length).toBeGreaterThan(big.sizes.length);

    const fixed = await datagrams(fakeKernel({ sockets: many(400), readBatch: 2, datagramBytes: 4096 }).open(), encodeInetRequest({ family: AF.INET, protocol: IPPROTO.TCP, states: ALL }));
    expect(Math.max(...fixed.sizes)).toBeLessThanOrEqual(4096);
    expect(fixed.reads).toBe(Math.ceil(fixed.sizes.length / 2));
  });

  test('readBatch on a request: its reply comes N datagrams per read (backpressure paths)', async () => {
    const kernel = fakeKernel({ sockets: many(300), faults: [{ readBatch: 1 }] });
    const r = await datagrams(kernel.open(), encodeInetRequest({ family: AF.INET, protocol: IPPROTO.TCP, states: ALL }));
    expect(r.reads).toBe(r.sizes.length);
    expect(r.reads).toBeGreaterThan(2);
  });

  test('changing the table between reads misses or repeats sockets, as a non-atomic dump does', async () => {
    const request = (): Buffer => encodeInetRequest({ family: AF.INET, protocol: IPPROTO.TCP, states: ALL });
    for (const change of ['remove', 'insert'] as const) {
      const kernel = fakeKernel({ sockets: many(300), readBatch: 1 });
      const ch = kernel.open();
      const before = kernel.sockets().map((s) => s.cookie);
      const cookies: bigint[] = [];
      const stats = newStats();
      let reads = 0;
      for await (const batch of runDump(ch, request(), tcp, DUMP, stats)) {
        cookies.push(...batch.map((s) => s.cookie));
        if (++reads === 1) {
          if (change === 'remove') kernel.sockets().splice(0, 5);
          else for (let i = 0; i < 5; i++) kernel.sockets().unshift({ ...many(1)[0], cookie: 0x9000n + BigInt(i), inode: 1 });
        }
      }
      if (change === 'remove') {
        // Five sockets that were there all along are never seen.
        expect(cookies.length).toBe(295);
        expect(before.filter((c) => !cookies.includes(c)).length).toBe(5);
      } else {
        expect(cookies.length).toBe(305);
        expect(new Set(cookies).size).toBe(300); // five repeated
      }
    }
  });
});

describe('faults', () => {
  const request = (): Buffer => encodeInetRequest({ family: AF.INET, protocol: IPPROTO.TCP, states: ALL });
  const on = (faults: FaultRule[], sockets: FakeSocket[] = many(300)): FakeKernelChannel => fakeKernel({ sockets, faults }).open();

  test('NLMSG_ERROR with an errno and an extack message', async () => {
    const kernel = fakeKernel({ faults: [{ match: { protocol: 'tcp' }, error: 'EBUSY', extack: 'dump already running' }] });
    const err = await dumpError(kernel.open(), request());
    expect(err).toBeInstanceOf(SockdiagSystemError);
    expect(err).not.toBeInstanceOf(NotSupportedError);
    expect(err).toMatchObject({ code: 'EBUSY', errno: -16, syscall: 'recvmsg', operation: 'dump', extack: 'dump already running' });
    expect(kernel.requests[0]).toMatchObject({ answer: 'error', errno: -16 });
  });

  test('an error inside NLMSG_DONE after some messages', async () => {
    const ch = on([{ doneError: 'EINTR', doneAfter: 3, extack: 'walk interrupted' }]);
    const seen: bigint[] = [];
    const stats = newStats();
    const err = await (async () => {
      for await (const b of runDump(ch, request(), tcp, DUMP, stats)) seen.push(...b.map((s) => s.cookie));
    })().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EINTR', errno: -os.errno.EINTR, extack: 'walk interrupted' });
    expect(stats.messages).toBe(3);
  });

  test('NLM_F_DUMP_INTR from the third message on marks the dump interrupted and keeps every socket', async () => {
    const { items, stats } = await dump(on([{ interrupt: 2 }]), request(), tcp);
    expect(items).toHaveLength(300);
    expect(stats.interrupted).toBe(true);
    const clean = await dump(on([]), request(), tcp);
    expect(clean.stats.interrupted).toBe(false);
  });

  test('duplicates: a datagram starting with the previous one’s last socket again', async () => {
    const { items } = await dump(on([{ duplicate: 1 }]), request(), tcp);
    const cookies = items.map((s) => s.cookie);
    expect(new Set(cookies).size).toBe(300);
    expect(cookies.length).toBeGreaterThan(300);
  });

  test('a kind the kernel lacks: inet protocols end with ENOENT in NLMSG_DONE, families get NLMSG_ERROR ENOENT, both NotSupportedError', async () => {
    const kernel = fakeKernel({ sockets: [{ protocol: 'sctp', local: { address: '10.0.0.1', port: 9 } }], unsupported: TARGET_KERNEL_UNSUPPORTED });
    const sctp = await dumpError(kernel.open(), encodeInetRequest({ family: AF.INET, protocol: IPPROTO.SCTP, states: ALL }), { operation: 'dump', protocol: 'sctp' });
    expect(sctp).toBeInstanceOf(NotSupportedError);
    expect(sctp).toMatchObject({ code: 'ENOENT', protocol: 'sctp' });
    const vsock = await dumpError(kernel.open(), encodeVsockRequest(), { operation: 'dump', family: 'vsock' });
    expect(vsock).toBeInstanceOf(NotSupportedError);
    expect(kernel.requests.map((r) => [r.protocol, r.answer, r.errno])).toEqual([
      ['sctp', 'dump', -2],
      ['vsock', 'error', -2],
    ]);
    // No message came before the DONE (the declared sctp socket has no handler to list it).
    expect(kernel.opened[0].reads).toBe(1);
  });

  test('ENOBUFS from read(), first or after some datagrams', async () => {
    const first = await dumpError(on([{ readError: 'ENOBUFS' }]), request());
    expect(first).toBeInstanceOf(SockdiagSystemError);
    expect(first).toMatchObject({ code: 'ENOBUFS', errno: -105, syscall: 'recvmsg' });
    const ch = on([{ readError: 'ENOBUFS', afterDatagrams: 2 }]);
    const seen: bigint[] = [];
    const later = await (async () => {
      for await (const b of runDump(ch, request(), tcp, DUMP, newStats())) seen.push(...b.map((s) => s.cookie));
    })().catch((e: unknown) => e);
    expect(later).toMatchObject({ code: 'ENOBUFS' });
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.length).toBeLessThan(300);
  });

  test('a truncated datagram fails the read as the addon does (ERR_SOCKDIAG_TRUNCATED), after the datagrams before it', async () => {
    const tiny = await dumpError(fakeKernel({ sockets: many(3) }).open({ recvSize: 256 }), request());
    expect(tiny).toBeInstanceOf(SockdiagError);
    expect(tiny).toMatchObject({ code: 'ERR_SOCKDIAG_TRUNCATED', message: 'A datagram was larger than the receive buffer (256 bytes); the rest of it was lost (MSG_TRUNC)' });

    const ch = on([{ truncate: 1 }]);
    const seq = ch.nextSeq();
    const req = request();
    req.writeUInt32LE(seq, 8);
    ch.send(req);
    const firstRead = await ch.read();
    expect(firstRead!.offsets).toHaveLength(1); // the one before the lost datagram
    await expect(ch.read()).rejects.toMatchObject({ code: 'ERR_SOCKDIAG_TRUNCATED' });
    const after = await ch.read(); // the dump goes on after the lost datagram
    expect(after!.offsets.length).toBeGreaterThan(0);
  });

  test('a datagram from a foreign port and messages for another seq or port are dropped and counted', async () => {
    const { items, stats } = await dump(on([{ foreign: 31337, stale: true }]), request(), tcp);
    expect(items).toHaveLength(300);
    expect(stats.foreignDropped).toBe(3);
  });

  test('a dropped request: read() waits until close(), which settles it with null', async () => {
    const kernel = fakeKernel({ sockets: many(3), faults: [{ drop: true }] });
    const ch = kernel.open();
    const p = dump(ch, request(), tcp).catch((e: unknown) => e);
    await new Promise((r) => setImmediate(r));
    expect(ch.readPending).toBe(true);
    expect(kernel.requests[0].answer).toBe('dropped');
    ch.close();
    expect(await p).toMatchObject({ code: 'ERR_SOCKDIAG_CLOSED' });
    expect(kernel.leaked()).toEqual([]);
  });

  test('a held request is answered on release()', async () => {
    const kernel = fakeKernel({ sockets: many(3), faults: [{ hold: true, times: 1 }] });
    const ch = kernel.open();
    const p = dump(ch, request(), tcp);
    await new Promise((r) => setImmediate(r));
    expect(ch.readPending).toBe(true);
    kernel.release();
    expect((await p).items).toHaveLength(3);
    expect((await dump(ch, request(), tcp)).items).toHaveLength(3); // times: 1
  });

  test('a second dump while the first still runs gets EBUSY; the first completes', async () => {
    const ch = fakeKernel({ sockets: many(300) }).open();
    const a = request();
    const b = request();
    const seqA = ch.nextSeq();
    const seqB = ch.nextSeq();
    a.writeUInt32LE(seqA, 8);
    b.writeUInt32LE(seqB, 8);
    ch.send(a);
    expect(ch.dumpRunning).toBe(true);
    ch.send(b);
    const stats = newStats();
    const got: bigint[] = [];
    let errorOfB: unknown;
    for (let finished = false; !finished; ) {
      const batch = (await ch.read())!;
      finished = visitReplies(batch, seqA, ch.portId, DUMP, stats, (buf, off, len) => void got.push(tcp(buf, off, len)!.cookie));
      try {
        visitReplies(batch, seqB, ch.portId, DUMP, newStats(), () => undefined);
      } catch (e) {
        errorOfB = e;
      }
    }
    expect(got).toHaveLength(300);
    expect(errorOfB).toMatchObject({ code: 'EBUSY' });
    expect(ch.dumpRunning).toBe(false);
  });

  test('as measured: 80 dumps pipelined with the smallest receive buffer overflow it with their EBUSY answers (ENOBUFS), and dump 1 still ends', async () => {
    const kernel = fakeKernel({ sockets: many(300) });
    const ch = kernel.open({ rcvbuf: 1 });
    const seqs: number[] = [];
    for (let i = 0; i < 80; i++) {
      const req = request();
      seqs.push(ch.nextSeq());
      req.writeUInt32LE(seqs[i], 8);
      ch.send(req);
    }
    const errors: unknown[] = [];
    const got: bigint[] = [];
    for (let finished = false; !finished; ) {
      const batch = await ch.read().catch((e: unknown) => void errors.push(e));
      if (batch) finished = visitReplies(batch, seqs[0], ch.portId, DUMP, newStats(), (b, off, len) => void got.push(tcp(b, off, len)!.cookie));
    }
    expect(errors).toEqual([expect.objectContaining({ code: 'ENOBUFS', errno: -105, syscall: 'recvmsg' })]);
    expect(got).toHaveLength(300);
    expect(kernel.requests.slice(1).every((r) => r.errno === -os.errno.EBUSY)).toBe(true);
    expect(ch.drops).toBe(79);
  });

  test('sendError makes send() throw; skip and times choose which requests a rule hits', async () => {
    const ch = on([{ sendError: 'ENOBUFS', times: 1 }, { match: { kind: 'dump', protocol: 'tcp' }, skip: 1, times: 1, error: 'EAGAIN' }], many(2));
    expect(() => ch.send(request())).toThrow(expect.objectContaining({ code: 'ENOBUFS', syscall: 'sendmsg' }));
    expect((await dump(ch, request(), tcp)).items).toHaveLength(2); // skipped by the second rule
    expect(await dumpError(ch, request())).toMatchObject({ code: 'EAGAIN' });
    expect((await dump(ch, request(), tcp)).items).toHaveLength(2);
  });

  test('the channel behaves as the addon’s: a read with nothing to come rejects (strict), a second read or a closed channel throws at once', async () => {
    const ch = fakeKernel().open();
    await expect(ch.read()).rejects.toThrow(/nothing to come/);
    const events = fakeKernel().open({ groups: 1 });
    const pending = events.read();
    expect(() => events.read()).toThrow(expect.objectContaining({ code: 'ERR_SOCKDIAG_READ_PENDING' }));
    events.close();
    events.close();
    expect(await pending).toBeNull();
    expect(() => events.read()).toThrow(expect.objectContaining({ code: 'ERR_SOCKDIAG_CLOSED' }));
    expect(() => events.send(request())).toThrow(expect.objectContaining({ code: 'ERR_SOCKDIAG_CLOSED' }));
  });
});

describe('destroy events (multicast groups)', () => {
  test('closing a TCP or UDP socket multicasts it to the channels bound to its group, in its namespace only', async () => {
    const kernel = fakeKernel({
      sockets: [
        { protocol: 'tcp', local: { address: '10.0.0.1', port: 5 }, remote: { address: '10.0.0.2', port: 6 }, cookie: 1n, attrs: { info: { rttUs: 77 } } },
        { protocol: 'udp', local: { address: 'fd00::1', port: 53 }, cookie: 2n },
        { protocol: 'unix', cookie: 3n },
      ],
      namespaces: { other: [] },
    });
    const all = kernel.open({ groups: 0b1111 });
    const tcpOnly = kernel.open({ groups: 0b0101 });
    const elsewhere = kernel.open({ groups: 0b1111, netns: 'other' });
    for (const c of [1n, 2n, 3n]) kernel.closeSocket(c);
    expect(kernel.sockets()).toHaveLength(0);

    const batch = (await all.read())!;
    expect(batch.groups).toEqual([1, 8]);
    expect(batch.senders).toEqual([0, 0]);
    const events = batch.offsets.map((off, i) => {
      const h = readHeader(batch.data, off, off + batch.lengths[i]);
      expect(h).toMatchObject({ type: 20, flags: 0, seq: 0, pid: 0 });
      return decodeInetMessage(batch.data, off, h.len, -1);
    });
    expect(events.map((e) => [e.protocol, e.family, e.state, e.cookie, e.inode])).toEqual([
      ['tcp', 'inet', 'closed', 1n, 0],
      ['udp', 'inet6', 'closed', 2n, 0],
    ]);
    expect((events[0] as TcpSocket).info?.rttUs).toBe(77);
    expect((await tcpOnly.read())!.groups).toEqual([1]);
    const idle = elsewhere.read();
    elsewhere.close();
    expect(await idle).toBeNull();
  });

  test('overflow: the first read fails with ENOBUFS, queued events follow, drops are counted and a netlink dump shows them', async () => {
    const kernel = fakeKernel({ sockets: many(200) });
    const events = kernel.open({ groups: 1, rcvbuf: 4096 }); // an 8 KiB buffer: a handful of events
    for (const s of [...kernel.sockets()]) kernel.closeSocket(s.cookie);
    expect(events.drops).toBeGreaterThan(150);
    const query = kernel.open();
    const counters = async (): Promise<{ rmemAlloc?: number; drops?: number }> => {
      const { items } = await dump(query, encodeNetlinkRequest({ protocol: 4, show: NDIAG_SHOW.MEMINFO }), decodeNetlinkMessage, { operation: 'dump', family: 'netlink' });
      const mine = items.find((s) => s.portId >>> 0 === events.portId)!;
      return { rmemAlloc: mine.meminfo?.rmemAlloc, drops: mine.meminfo?.drops };
    };
    const full = await counters();
    expect(full.drops).toBe(events.drops);
    expect(full.rmemAlloc).toBeGreaterThan(8192);

    await expect(events.read()).rejects.toMatchObject({ code: 'ENOBUFS', errno: -105, syscall: 'recvmsg' });
    const queued = (await events.read())!;
    expect(queued.offsets.length + events.drops).toBe(200);
    expect(await counters()).toEqual({ rmemAlloc: 0, drops: events.drops });
    // Read empty, the socket takes events again.
    kernel.emitDestroy({ protocol: 'tcp', local: { address: '10.0.0.1', port: 1 }, cookie: 5n });
    expect((await events.read())!.offsets).toHaveLength(1);
  });
});

describe('the factory and its bookkeeping', () => {
  test('channels, port ids, namespaces, leaks and open failures', () => {
    const kernel = fakeKernel({ namespaces: { blue: [{ protocol: 'tcp', cookie: 1n }], '/proc/4321/ns/net': [] } });
    const factory: ChannelFactory = kernel.channels;
    const a = factory({});
    const b = factory({ netns: 'blue', recvSize: 4096 });
    const c = factory({ netns: 4321 });
    expect([a.portId, b.portId, c.portId]).toEqual([4242, 0xfffff000, 0xffffefff]);
    expect(kernel.opened.map((ch) => ch.request.netns)).toEqual([undefined, 'blue', 4321]);
    expect(kernel.sockets('blue')).toHaveLength(1);
    expect(kernel.sockets('/var/run/netns/blue')).toBe(kernel.sockets('blue'));
    expect(() => factory({ netns: 'nope' })).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'open', operation: 'open', message: expect.stringMatching(/network namespace "nope" \(\/var\/run\/netns\/nope\) does not exist/) }));
    expect(() => factory({ netns: -1 })).toThrow(TypeError);
    kernel.failNextOpen('EMFILE');
    expect(() => factory({})).toThrow(expect.objectContaining({ code: 'EMFILE', syscall: 'socket', operation: 'open' }));
    expect(kernel.leaked()).toEqual([a, b, c]);
    a.close();
    b.close();
    c.close();
    expect(kernel.leaked()).toEqual([]);
  });

  test('rawDatagrams (a listing) through the fake: a filter runs in the kernel, kinds it lacks are skipped', async () => {
    const kernel = fakeKernel({ sockets: [...TABLE, ...many(50)], unsupported: TARGET_KERNEL_UNSUPPORTED });
    const ch = kernel.open();
    const stats = newRawStats();
    const parts: Buffer[] = [];
    for await (const d of rawDatagrams({ filter: 'sport = :22 or sport = :1010' }, stats, ch as unknown as Channel)) parts.push(d.data);
    const sockets = decodeDump(Buffer.concat(parts));
    expect(sockets.map((s) => [s.protocol, s.cookie])).toEqual([
      ['tcp', 11n],
      ['tcp', 12n],
      ['tcp', kernel.sockets().find((s) => s.protocol === 'tcp' && s.local?.port === 1010)!.cookie],
    ]);
    expect(stats.unsupported.sort()).toEqual([...TARGET_KERNEL_UNSUPPORTED].sort());
    expect(kernel.requests.filter((r) => r.bytecode !== undefined).map((r) => r.familyName)).toEqual(expect.arrayContaining(['inet', 'inet6']));
    expect(kernel.leaked()).toEqual([ch]); // the caller's channel stays open
  });
});
