/**
 * The consumers of the engine that are more than a listing, driven by the fake kernel
 * (test/helpers/fake-kernel.ts): the command's text and JSON output (`run(argv, out, err,
 * { engine })`), `-K`, `-E` and `-D`, watchSockets, destroySocket(s), a tracker's open /
 * change / close events and the metric snapshots. Expected texts are derived from the
 * declared table (the inet ones are what ss 6.1 prints for the same reply bytes, read
 * through TCPDIAG_FILE). Nothing here needs root or the native addon: loading the addon
 * throws (see the mock below). The command's lookup of interface names (rtnetlink through
 * the native channel, not the engine) meets that throw and goes on without names, as it
 * does wherever rtnetlink fails; the tables here name no interface.
 */
import { Registry } from 'prom-client';
import { run, type Output } from '../lib/cli/main';
import { Engine, AbortError, NotSupportedError, SockdiagSystemError, decodeDump, destroySocket, destroySockets, listSockets, trackSockets, watchSockets, type TrackEvent } from '../lib';
import { registerSocketMetrics, takeSnapshot } from '../lib/prometheus';
import type { ChannelFactory } from '../lib/engine/channel';
import { fakeKernel, TARGET_KERNEL_UNSUPPORTED, type FakeInetSocket, type FakeKernel, type FakeKernelSpec, type FakeSocket } from './helpers/fake-kernel';

// Every path below must run without the addon: opening a real channel fails the test.
jest.mock('../lib/netlink/binding', () => ({
  nativeBinding: () => {
    throw new Error('the native addon was loaded by a test that must run without it');
  },
}));

const kernels: FakeKernel[] = [];
function kernelWith(spec: FakeKernelSpec = {}): FakeKernel {
  const k = fakeKernel({ sockets: TABLE, listChannels: false, ...spec });
  kernels.push(k);
  return k;
}
afterEach(() => {
  for (const k of kernels.splice(0)) expect(k.leaked()).toEqual([]);
});

const TABLE: FakeSocket[] = [
  { protocol: 'tcp', state: 'listening', local: { address: '0.0.0.0', port: 22 }, sendQ: 128, cookie: 0xbn, inode: 501 },
  {
    protocol: 'tcp',
    local: { address: '10.0.0.1', port: 22 },
    remote: { address: '10.0.0.2', port: 50000 },
    cookie: 0xcn,
    inode: 502,
    uid: 1000,
    recvQ: 3,
    sendQ: 4,
    timer: { name: 'keepalive', expiresMs: 7000, retransmits: 0 },
    attrs: { info: { rttUs: 1234, sndCwnd: 10 }, cong: 'cubic' },
  },
  { protocol: 'tcp', state: 'listening', local: { address: '::', port: 8080 }, sendQ: 4096, cookie: 0xen, inode: 503, attrs: { v6only: true } },
  { protocol: 'tcp', local: { address: 'fd00::1', port: 443 }, remote: { address: 'fd00::2', port: 40000 }, cookie: 0xdn, inode: 504 },
  { protocol: 'udp', state: 'closed', local: { address: '0.0.0.0', port: 53 }, cookie: 0xfn, inode: 505 },
  { protocol: 'unix', type: 'stream', state: 'listening', path: '/run/x.sock', inode: 601, cookie: 0x15n, rqlen: { rqueue: 0, wqueue: 128 } },
  { protocol: 'unix', type: 'dgram', state: 'closed', path: '@abstract', inode: 602, cookie: 0x16n },
];

/** Lines written as `cat -A` shows them: each ends with `$`, so trailing spaces are visible. */
const text = (...lines: string[]): string => lines.map((l) => `${l.slice(0, -1)}\n`).join('');

// ---------------------------------------------------------------------------------------
// The command.

interface Ran {
  status: number;
  out: string;
  bytes: Buffer;
  err: string;
}

/** Runs the command on the kernel's channels; `whileRunning` may act meanwhile, seeing the output so far. */
async function command(kernel: FakeKernel, argv: string[], whileRunning?: (sofar: () => Ran) => Promise<void>): Promise<Ran> {
  const chunks: Buffer[] = [];
  let err = '';
  const sofar = (status = -1): Ran => {
    const bytes = Buffer.concat(chunks);
    return { status, out: bytes.toString(), bytes, err };
  };
  const out: Output = { write: (t) => void chunks.push(Buffer.from(t)) };
  const running = run(argv, out, { write: (t) => void (err += String(t)) }, { engine: new Engine({ channels: kernel.channels }) });
  await whileRunning?.(() => sofar());
  return sofar(await running);
}

/** Waits (turn by turn of the event loop) until `done` holds. */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((res) => setImmediate(res));
}

/** Stops a running `-E` as SIGINT would: calls the listener it added. */
function interrupt(before: readonly unknown[]): void {
  const stop = process.listeners('SIGINT').find((l) => !before.includes(l));
  expect(stop).toBeDefined();
  (stop as () => void)();
}

// Column widths follow the terminal only when stdout is one; these tests write elsewhere.
let restoreTty: (() => void) | undefined;
beforeAll(() => {
  const had = Object.getOwnPropertyDescriptor(process.stdout, 'isTTY');
  Object.defineProperty(process.stdout, 'isTTY', { value: false, configurable: true });
  restoreTty = () => (had ? Object.defineProperty(process.stdout, 'isTTY', had) : delete (process.stdout as { isTTY?: boolean }).isTTY);
});
afterAll(() => restoreTty?.());

describe('the command’s text, on the fake kernel', () => {
  test.each([
    [
      '-tan',
      ['-tan'],
      text(
        'State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process$',
        'LISTEN 0      128          0.0.0.0:22        0.0.0.0:*           $',
        'ESTAB  3      4           10.0.0.1:22       10.0.0.2:50000       $',
        'LISTEN 0      4096            [::]:8080         [::]:*           $',
        'ESTAB  0      0          [fd00::1]:443     [fd00::2]:40000       $',
      ),
    ],
    [
      '-tanie',
      ['-tanie'],
      text(
        `State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process${' '.repeat(81)}$`,
        'LISTEN 0      128          0.0.0.0:22        0.0.0.0:*     ino:501 sk:b$',
        `\t${' '.repeat(73)}$`,
        'ESTAB  3      4           10.0.0.1:22       10.0.0.2:50000 timer:(keepalive,7sec,0) uid:1000 ino:502 sk:c$',
        '\t cubic rtt:1.234/0 cwnd:10 reordering:0$',
        'LISTEN 0      4096            [::]:8080         [::]:*     ino:503 sk:e v6only:1$',
        `\t${' '.repeat(64)}$`,
        'ESTAB  0      0          [fd00::1]:443     [fd00::2]:40000 ino:504 sk:d$',
        `\t${' '.repeat(73)}$`,
      ),
    ],
    [
      'a filter (sport = :22)',
      ['-tan', 'sport', '=', ':22'],
      text(
        'State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process$',
        'LISTEN 0      128          0.0.0.0:22        0.0.0.0:*           $',
        'ESTAB  3      4           10.0.0.1:22       10.0.0.2:50000       $',
      ),
    ],
    [
      'a state filter (-tn: connected only), IPv6 only',
      ['-tn6'],
      text(
        'State Recv-Q Send-Q Local Address:Port Peer Address:Port Process$',
        'ESTAB 0      0          [fd00::1]:443     [fd00::2]:40000       $',
      ),
    ],
    [
      '-uan',
      ['-uan'],
      text(
        'State  Recv-Q Send-Q Local Address:Port Peer Address:PortProcess$',
        'UNCONN 0      0            0.0.0.0:53        0.0.0.0:*          $',
      ),
    ],
    [
      '-xa',
      ['-xa'],
      text(
        'Netid State  Recv-Q Send-Q Local Address:Port Peer Address:PortProcess$',
        'u_str LISTEN 0      128      /run/x.sock 601             * 0          $',
        'u_dgr UNCONN 0      0          @abstract 602             * 0          $',
      ),
    ],
    [
      '-San on a kernel without SCTP (an empty table, as ss)',
      ['-San'],
      text('State Recv-Q Send-Q Local Address:Port Peer Address:PortProcess$'),
    ],
  ])('%s', async (_what, argv, expected) => {
    const kernel = kernelWith({ unsupported: TARGET_KERNEL_UNSUPPORTED });
    const r = await command(kernel, argv);
    expect(r).toMatchObject({ status: 0, err: '' });
    expect(r.out).toBe(expected);
  });

  test('--json: one object per socket of the table, in listing order (IPv4 first)', async () => {
    const r = await command(kernelWith(), ['-tan', '--json']);
    expect(r).toMatchObject({ status: 0, err: '' });
    const rows = JSON.parse(r.out) as Array<Record<string, unknown>>;
    const tcp = TABLE.filter((s): s is FakeInetSocket => s.protocol === 'tcp');
    const v4first = [...tcp.filter((s) => !s.local!.address.includes(':')), ...tcp.filter((s) => s.local!.address.includes(':'))];
    expect(rows).toHaveLength(4);
    rows.forEach((row, i) => {
      const s = v4first[i];
      const v6 = s.local!.address.includes(':');
      expect(row).toMatchObject({
        protocol: 'tcp',
        family: v6 ? 'inet6' : 'inet',
        state: s.state ?? 'established',
        cookie: Number(s.cookie),
        inode: s.inode,
        uid: s.uid ?? 0,
        recvQ: s.recvQ ?? 0,
        sendQ: s.sendQ ?? 0,
        local: s.local,
        remote: s.remote ?? { address: v6 ? '::' : '0.0.0.0', port: 0 },
      });
    });
    // Extensions come in JSON whatever the flags: the established IPv4 socket's tcp_info and congestion control.
    expect(rows[1]).toMatchObject({ cong: 'cubic', timer: { name: 'keepalive', expiresMs: 7000, retransmits: 0 }, info: { rttUs: 1234, sndCwnd: 10 } });
    expect(rows[2]).toMatchObject({ v6only: true });

    const nd = await command(kernelWith(), ['-xa', '--json=ndjson']);
    expect(nd.out.trimEnd().split('\n').map((l) => JSON.parse(l) as { path: string; inode: number; type: string })).toEqual([
      expect.objectContaining({ protocol: 'unix', type: 'stream', state: 'listening', path: '/run/x.sock', inode: 601, sendQ: 128 }),
      expect.objectContaining({ protocol: 'unix', type: 'dgram', state: 'closed', path: '@abstract', inode: 602 }),
    ]);
  });

  test('a kernel error ends the command with status 1 and the error on stderr; nothing half-printed', async () => {
    const kernel = kernelWith({ faults: [{ match: { protocol: 'tcp' }, error: 'EBUSY' }] });
    const r = await command(kernel, ['-tan']);
    expect(r.status).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/^sockdiag: recvmsg EBUSY \(dump inet\+inet6 tcp\)/);
  });

  test('-K: destroys what the filter selects and prints it', async () => {
    const kernel = kernelWith();
    const r = await command(kernel, ['-K', '-tan', 'dport', '=', ':50000']);
    expect(r).toMatchObject({ status: 0, err: '' });
    expect(r.out).toBe(
      text(
        'State Recv-Q Send-Q Local Address:Port Peer Address:Port Process$',
        'ESTAB 3      4           10.0.0.1:22       10.0.0.2:50000       $',
      ),
    );
    expect(kernel.sockets().map((s) => s.cookie)).not.toContain(0xcn);
    expect(kernel.sockets()).toHaveLength(TABLE.length - 1);
    expect(kernel.requests.filter((r) => r.kind === 'destroy').map((r) => [r.answer, r.id?.cookie])).toEqual([['ack', 0xcn]]);
  });

  test('-K on an unprivileged kernel: nothing destroyed, status 1 with EPERM on stderr', async () => {
    const kernel = kernelWith({ privileged: false });
    const r = await command(kernel, ['-K', '-tan', 'dport', '=', ':50000']);
    expect(r.status).toBe(1);
    expect(r.err).toMatch(/EPERM.*CAP_NET_ADMIN/);
    expect(kernel.sockets()).toHaveLength(TABLE.length);
  });

  test('-E: prints each destroyed socket as its event arrives, until SIGINT', async () => {
    const kernel = kernelWith();
    const before = process.listeners('SIGINT');
    const r = await command(kernel, ['-E', '-tn'], async (sofar) => {
      await until(() => kernel.opened.some((ch) => ch.groups !== 0));
      kernel.closeSocket(0xfn); // UDP: not selected by -t
      kernel.closeSocket(0xcn);
      await until(() => sofar().out.includes('10.0.0.2:50000'));
      interrupt(before);
    });
    expect(r).toMatchObject({ status: 0, err: '' });
    expect(r.out).toBe(
      text(
        'State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process$',
        // The event carries the socket as freed: state CLOSE, empty queues.
        'UNCONN 0      0           10.0.0.1:22       10.0.0.2:50000       $',
      ),
    );
    expect(process.listeners('SIGINT')).toEqual(before);
  });

  test('-E: lost events are reported on stderr, the rest printed', async () => {
    const kernel = kernelWith({ sockets: many(500), listChannels: true });
    const before = process.listeners('SIGINT');
    let drops = 0;
    const r = await command(kernel, ['-E', '-tnH'], async (sofar) => {
      await until(() => kernel.opened.some((ch) => ch.groups !== 0));
      // More events at once than the event socket's buffer holds.
      for (const s of [...kernel.sockets()]) kernel.closeSocket(s.cookie);
      drops = kernel.opened.find((ch) => ch.groups !== 0)!.drops;
      expect(drops).toBeGreaterThan(0);
      await until(() => sofar().out.split('\n').length > 500 - drops);
      interrupt(before);
    });
    expect(r.status).toBe(0);
    expect(r.err).toBe(`sockdiag: events lost (${drops})\n`);
    expect(r.out.split('\n').filter(Boolean)).toHaveLength(500 - drops);
  });

  test('-D -: the raw TCP replies, which decode to the table’s TCP sockets', async () => {
    const r = await command(kernelWith(), ['-D', '-', '-tan']);
    expect(r.status).toBe(0);
    expect(decodeDump(r.bytes).map((s) => s.cookie)).toEqual([0xbn, 0xcn, 0xen, 0xdn]);
  });
});

// ---------------------------------------------------------------------------------------

/** `n` established IPv4 TCP sockets 10.0.0.1:1000+i → 10.0.0.2:80 with tcp_info, cookies 1000…. */
function many(n: number): FakeSocket[] {
  return Array.from({ length: n }, (_, i) => ({ protocol: 'tcp', local: { address: '10.0.0.1', port: 1000 + i }, remote: { address: '10.0.0.2', port: 80 }, cookie: BigInt(1000 + i), attrs: { info: { rttUs: i } } }));
}

describe('watchSockets', () => {
  test('destroy events of the watched protocols, as the kernel multicasts them', async () => {
    const kernel = kernelWith();
    const engine = new Engine({ channels: kernel.channels });
    const all = watchSockets({ engine });
    const udpOnly = watchSockets({ engine, protocols: ['udp'] });
    expect(kernel.opened.map((ch) => ch.groups)).toEqual([0b1111, 0b1010]);
    kernel.closeSocket(0xcn);
    kernel.closeSocket(0xfn);
    kernel.closeSocket(0x15n); // unix: no event
    const a = [(await all.next()).value, (await all.next()).value];
    expect(a.map((e) => [e.type, e.socket.protocol, e.socket.family, e.socket.state, e.socket.cookie, e.socket.inode, e.socket.uid])).toEqual([
      ['destroy', 'tcp', 'inet', 'closed', 0xcn, 0, undefined],
      ['destroy', 'udp', 'inet', 'closed', 0xfn, 0, undefined],
    ]);
    expect(a[0].socket).toMatchObject({ local: { address: '10.0.0.1', port: 22 }, remote: { address: '10.0.0.2', port: 50000 }, info: { rttUs: 1234 } });
    expect(all.stats).toMatchObject({ events: 2, overruns: 0 });
    expect((await udpOnly.next()).value).toMatchObject({ type: 'destroy', socket: { protocol: 'udp', cookie: 0xfn } });
    all.close();
    expect(await udpOnly.return()).toEqual({ done: true, value: undefined });
    expect(await all.next()).toEqual({ done: true, value: undefined });
  });

  test('an overflow (ENOBUFS) becomes an overrun event counting exactly what the kernel dropped, then the queued events', async () => {
    const kernel = kernelWith({ sockets: many(200), listChannels: true });
    const watch = watchSockets({ engine: new Engine({ channels: kernel.channels }), rcvbuf: 4096 });
    for (const s of [...kernel.sockets()]) kernel.closeSocket(s.cookie);
    const events = kernel.opened[0];
    expect(events.drops).toBeGreaterThan(150);
    const first = (await watch.next()).value;
    expect(first).toMatchObject({ type: 'overrun', lost: events.drops });
    let destroyed = 0;
    while (destroyed + events.drops < 200) if ((await watch.next()).value.type === 'destroy') destroyed++;
    expect(watch.stats).toMatchObject({ overruns: 1, lost: events.drops, events: destroyed, lostUnknown: 0 });
    // The drop counter was read through a netlink dump of the kernel's channels, on a channel closed since.
    expect(kernel.requests.filter((r) => r.protocol === 'netlink').length).toBeGreaterThan(0);
    watch.close();
  });

  test('abort before: AbortError once, then done; no channel opened', async () => {
    const kernel = kernelWith();
    const controller = new AbortController();
    controller.abort();
    const watch = watchSockets({ engine: new Engine({ channels: kernel.channels }), signal: controller.signal });
    await expect(watch.next()).rejects.toBeInstanceOf(AbortError);
    expect(await watch.next()).toEqual({ done: true, value: undefined });
    expect(kernel.opened).toHaveLength(0);
  });

  test('abort during: not one more event after the abort, though more were queued', async () => {
    const kernel = kernelWith({ sockets: many(5) });
    const controller = new AbortController();
    const watch = watchSockets({ engine: new Engine({ channels: kernel.channels }), signal: controller.signal });
    for (const s of [...kernel.sockets()]) kernel.closeSocket(s.cookie);
    expect((await watch.next()).value).toMatchObject({ type: 'destroy', socket: { cookie: 1000n } });
    controller.abort();
    await expect(watch.next()).rejects.toBeInstanceOf(AbortError);
    expect(await watch.next()).toEqual({ done: true, value: undefined });
  });

  test('break closes the event socket', async () => {
    const kernel = kernelWith({ sockets: many(3) });
    const watch = watchSockets({ engine: new Engine({ channels: kernel.channels }) });
    for (const s of [...kernel.sockets()]) kernel.closeSocket(s.cookie);
    for await (const e of watch) {
      expect(e.type).toBe('destroy');
      break;
    }
    expect(kernel.opened[0].closed).toBe(true);
  });
});

describe('destroySocket and destroySockets', () => {
  const ORPHAN: FakeSocket = { protocol: 'tcp', state: 'fin-wait-1', inode: 0, local: { address: '10.0.0.1', port: 2000 }, remote: { address: '10.0.0.3', port: 80 }, cookie: 77n, survivesDestroy: true };

  test('one socket by id and cookie: destroyed, then gone; a unix socket is refused without asking the kernel', async () => {
    const kernel = kernelWith();
    const engine = new Engine({ channels: kernel.channels });
    const [victim] = await listSockets({ engine, protocols: ['tcp'], filter: 'dport = :50000' });
    expect(await destroySocket(victim, { engine })).toMatchObject({ outcome: 'destroyed', socket: victim });
    expect(kernel.sockets().map((s) => s.cookie)).not.toContain(0xcn);
    const again = await destroySocket(victim, { engine }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(SockdiagSystemError);
    expect(again).toMatchObject({ code: 'ENOENT', operation: 'destroy' });

    const unix = (await listSockets({ engine, protocols: ['unix'] })).find((s) => s.inode === 601)!;
    const destroys = kernel.requests.filter((r) => r.kind === 'destroy').length;
    const refused = await destroySocket(unix, { engine }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(NotSupportedError);
    expect(refused).toMatchObject({ code: 'EOPNOTSUPP', operation: 'destroy' });
    expect(kernel.requests.filter((r) => r.kind === 'destroy')).toHaveLength(destroys);
  });

  test('destroySockets: what the listing selects, each with its outcome (an orphan the kernel keeps lingers)', async () => {
    const kernel = kernelWith({ sockets: [...many(300), ORPHAN, ...TABLE] });
    const r = await destroySockets({ engine: new Engine({ channels: kernel.channels }), protocols: ['tcp'], filter: 'dport = :80' });
    expect(r.counts).toEqual({ destroyed: 300, lingering: 1, gone: 0, refused: 0 });
    expect(r.results[300]).toMatchObject({ outcome: 'lingering', remaining: { cookie: 77n, state: 'fin-wait-1' } });
    expect(r.listing).toEqual({ interrupted: false, duplicatesDropped: 0, unsupported: [] });
    expect(kernel.sockets().map((s) => s.cookie)).toEqual([77n, ...TABLE.map((s) => s.cookie)]);
  });

  test('unprivileged: EPERM naming CAP_NET_ADMIN, nothing destroyed', async () => {
    const kernel = kernelWith({ sockets: many(3), privileged: false });
    const err = await destroySockets({ engine: new Engine({ channels: kernel.channels }), protocols: ['tcp'] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EPERM', operation: 'destroy', message: expect.stringMatching(/CAP_NET_ADMIN/) });
    expect(kernel.sockets()).toHaveLength(3);
  });

  test('abort before: AbortError, no channel opened; a named kind the kernel lacks: NotSupportedError', async () => {
    const kernel = kernelWith({ unsupported: ['sctp'] });
    const engine = new Engine({ channels: kernel.channels });
    const controller = new AbortController();
    controller.abort();
    await expect(destroySockets({ engine, protocols: ['tcp'], signal: controller.signal })).rejects.toBeInstanceOf(AbortError);
    const [victim] = await listSockets({ engine, protocols: ['tcp'] });
    const opened = kernel.opened.length;
    await expect(destroySocket(victim, { engine, signal: controller.signal })).rejects.toBeInstanceOf(AbortError);
    expect(kernel.opened).toHaveLength(opened);
    expect(kernel.requests.filter((r) => r.kind === 'destroy')).toHaveLength(0);
    await expect(destroySockets({ engine, protocols: ['sctp'] })).rejects.toBeInstanceOf(NotSupportedError);
    expect(kernel.sockets()).toHaveLength(TABLE.length);
  });

  test('abort during: as the first acks arrive: AbortError, no more requests sent, channels closed', async () => {
    const kernel = kernelWith({ sockets: many(1000) });
    const controller = new AbortController();
    let destroying = false;
    const channels: ChannelFactory = (request) => {
      const ch = kernel.open(request);
      const read = ch.read.bind(ch);
      ch.read = () =>
        read().then((b) => {
          if (destroying) controller.abort();
          return b;
        });
      const send = ch.send.bind(ch);
      ch.send = (b) => {
        if (Buffer.from(b).readUInt16LE(4) === 21) destroying = true; // SOCK_DESTROY
        send(b);
      };
      return ch;
    };
    const err = await destroySockets({ engine: new Engine({ channels }), protocols: ['tcp'], signal: controller.signal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    const sent = kernel.requests.filter((r) => r.kind === 'destroy').length;
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThan(1000);
    expect(kernel.sockets().length).toBe(1000 - sent);
  });
});

describe('trackSockets', () => {
  /** The next `n` events. */
  async function take(it: AsyncIterator<TrackEvent>, n: number): Promise<TrackEvent[]> {
    const out: TrackEvent[] = [];
    while (out.length < n) out.push((await it.next()).value as TrackEvent);
    return out;
  }

  test('opens, a destroy event, a change and a vanished socket, with the tracker’s engine for events too', async () => {
    const kernel = kernelWith({ sockets: many(3) });
    const tracker = trackSockets({ engine: new Engine({ channels: kernel.channels }), protocols: ['tcp'], interval: 20 });
    const opened = await take(tracker, 3);
    expect(opened.map((e) => [e.type, e.socket.cookie])).toEqual([['open', 1000n], ['open', 1001n], ['open', 1002n]]);
    expect(tracker.stats.events).toBe(true);
    expect(tracker.stats.eventsError).toBeUndefined();
    expect(kernel.opened.filter((ch) => ch.groups === 0b0101)).toHaveLength(1);

    kernel.closeSocket(1000n);
    const [closed] = await take(tracker, 1);
    expect(closed).toMatchObject({ type: 'close', reason: 'destroyed', socket: { cookie: 1000n, inode: 0 }, previous: { cookie: 1000n } });

    (kernel.sockets().find((s) => s.cookie === 1002n) as FakeInetSocket).recvQ = 7;
    kernel.remove(1001n); // gone without an event
    const [changed, vanished] = await take(tracker, 2);
    expect(changed).toMatchObject({ type: 'change', socket: { cookie: 1002n, recvQ: 7 }, previous: { cookie: 1002n, recvQ: 0 } });
    expect(vanished).toMatchObject({ type: 'close', reason: 'vanished', socket: { cookie: 1001n } });
    expect(tracker.stats).toMatchObject({ opened: 3, changed: 1, closed: 2, closedByEvent: 1, tracked: 1 });
    tracker.close();
    expect(await tracker.next()).toEqual({ done: true, value: undefined });
  });
});

describe('the metric snapshots', () => {
  test('takeSnapshot: the table reduced to counts, queues, listeners and TCP distributions', async () => {
    const kernel = kernelWith({ unsupported: TARGET_KERNEL_UNSUPPORTED });
    const s = await takeSnapshot({ engine: new Engine({ channels: kernel.channels }) });
    expect(s.sockets).toBe(TABLE.length);
    expect(Object.fromEntries([...s.byState].map(([p, m]) => [p, Object.fromEntries(m)]))).toEqual({
      tcp: { listening: 2, established: 2 },
      udp: { closed: 1 },
      unix: { listening: 1, closed: 1 },
    });
    expect(s.queues.get('tcp')).toEqual({ receiveBytes: 3, sendBytes: 4 });
    expect(s.listeners).toEqual([
      { protocol: 'tcp', address: '0.0.0.0', port: 22, queued: 0, backlog: 128, sockets: 1 },
      { protocol: 'tcp', address: '::', port: 8080, queued: 0, backlog: 4096, sockets: 1 },
      { protocol: 'unix', address: '/run/x.sock', port: 0, queued: 0, backlog: 128, sockets: 1 },
    ]);
    expect([s.rtt.count, s.rtt.sum, s.cwnd.count, s.cwnd.sum]).toEqual([1, 0.001234, 1, 10]);
    expect([...s.unsupported].sort()).toEqual([...TARGET_KERNEL_UNSUPPORTED].sort());
    expect([s.interrupted, s.duplicatesDropped]).toEqual([false, 0]);
  });

  test('registerSocketMetrics on an engine: a scrape lists the fake kernel; a failed dump is counted', async () => {
    const kernel = kernelWith({ faults: [{ match: { protocol: 'udp', family: 'inet' }, skip: 1, error: 'EBUSY' }] });
    const register = new Registry();
    const errors: unknown[] = [];
    // The kernel's counters come from /proc/net, not from the engine: left out here.
    registerSocketMetrics({ register, engine: new Engine({ channels: kernel.channels }), protocols: ['tcp', 'udp'], kernelCounters: false, onError: (e) => errors.push(e) });
    const first = await register.metrics();
    expect(first).toContain('sockdiag_sockets{protocol="tcp",state="established"} 2');
    expect(first).toContain('sockdiag_sockets{protocol="tcp",state="listen"} 2');
    expect(first).toContain('sockdiag_sockets{protocol="udp",state="close"} 1');
    expect(errors).toEqual([]);
    await register.metrics();
    expect(errors).toEqual([expect.objectContaining({ code: 'EBUSY', protocol: 'udp' })]);
    expect(() => registerSocketMetrics({ register: new Registry(), engine: {} as Engine })).toThrow(/engine must be an Engine/);
  });
});
