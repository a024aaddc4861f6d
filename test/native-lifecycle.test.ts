/**
 * F10: a closed channel used again, close() while a read is pending, a batch still on its
 * way to a channel that was closed and garbage-collected, process.exit() and Worker
 * termination with reads pending, threads that cannot be created, and the one reader
 * thread that serves every channel. The crash-prone parts run in a child node process
 * (test/fixtures/native-lifecycle.js) inside a private namespace.
 */
import { types } from 'node:util';
import { Channel, runDump } from '../lib/netlink/channel';
import { decodeNetlinkMessage, encodeNetlinkRequest } from '../lib/diag/netlink';
import { SockdiagError } from '../lib/errors';
import { createNetns, describeFreshNetns, describeRoot, freshNetns, Netns } from './helpers/netns';
import { exitOf, runChild, sleep, threadCount, threadsNamed } from './helpers/native';

interface ErrorShape {
  name?: string;
  message?: string;
  code?: string;
}
interface AfterClose {
  read: ErrorShape & { returned?: string };
  send: ErrorShape & { returned?: string };
  close: 'ok' | ErrorShape;
}
interface ClosedReport {
  channelFds: { fd: number; link: string }[];
  closeCallMs: number;
  settledWith: string;
  settledAfterMs: number;
  closedFlag: boolean;
  portIdAfterClose: number;
  afterClose: AfterClose;
  busyFirstDump: { status: number; items: number };
  freshReused: number[];
  afterReuse: { idle: AfterClose; busy: AfterClose };
  freshDumps: { status: number; items: number; ownPortSeen: boolean }[];
  reused: number[];
  problems: string[];
}
interface Counts {
  fds: number;
  threads: number;
  readers?: number;
}
interface WorkerReport {
  baseline: Counts;
  rounds: { during: Counts; terminateMs: number; after: Counts }[];
  final: Counts;
  mainDump: { status: number; items: number };
}

const CLOSED = { name: 'Error', code: 'ERR_SOCKDIAG_CLOSED', message: 'The channel is closed' };
const expectClosedErrors = (a: AfterClose): void => {
  // Thrown synchronously: a returned promise would show up as { returned: 'object' }.
  expect(a.read).toEqual(CLOSED);
  expect(a.send).toEqual(CLOSED);
  expect(a.close).toBe('ok');
};

describeFreshNetns('F10: closed channels and pending reads (native addon, in a child in a namespace of its own)', () => {
  const ns = freshNetns;

  test('close() twice; calls after close throw ERR_SOCKDIAG_CLOSED synchronously; a pending read settles with null within 100 ms; reused fd numbers are never touched', async () => {
    const r = await runChild<ClosedReport>(ns, 'native-lifecycle.js', ['closed'], { nodeArgs: ['--expose-gc'] });
    expect(exitOf(r)).toEqual({ status: 0, signal: null });
    const j = r.json!;
    expect(j).toBeDefined();
    // The channel owns exactly its netlink socket (the reader thread's epoll and eventfd are shared).
    expect(j.channelFds.map((f) => f.link.replace(/\d+/, 'N'))).toEqual(['socket:[N]']);
    // Pending read on an idle event channel (groups 1-4): close() wakes it.
    expect(j.settledWith).toBe('null');
    expect(j.settledAfterMs).toBeGreaterThanOrEqual(0);
    expect(j.settledAfterMs).toBeLessThan(100);
    expect(j.closeCallMs).toBeLessThan(100);
    expect(j.closedFlag).toBe(true);
    expect(j.portIdAfterClose).toBeGreaterThan(0);
    expectClosedErrors(j.afterClose);
    expect(j.busyFirstDump.status).toBe(0);
    expect(j.busyFirstDump.items).toBeGreaterThan(0);
    // A new channel got the old numbers; the old channels, called again and collected,
    // did not steal its datagrams or close its fds.
    expect(j.freshReused.length).toBeGreaterThan(0);
    expectClosedErrors(j.afterReuse.idle);
    expectClosedErrors(j.afterReuse.busy);
    expect(j.freshDumps).toHaveLength(3);
    for (const d of j.freshDumps) expect(d).toMatchObject({ status: 0, ownPortSeen: true });
    // The 50 files took the old socket numbers (each channel opened took the number the one
    // before had freed) and were neither read nor closed.
    expect(j.reused.length).toBeGreaterThanOrEqual(1);
    expect(j.problems).toEqual([]);
  });

  test('process.exit() with reads pending (idle, plain, read-ahead) ends the process within 1 s', async () => {
    const r = await runChild<{ exitingAt: number; readers: number }>(ns, 'native-lifecycle.js', ['exit']);
    expect(exitOf(r)).toEqual({ status: 0, signal: null });
    expect(r.json).toBeDefined();
    // The reader thread (one for the three channels) was blocked in epoll_wait when exit was called.
    expect(r.json!.readers).toBe(1);
    expect(r.endedAt - r.json!.exitingAt).toBeLessThan(1000);
  });

  test('a batch queued just before close() never reaches the collected channel (nor the next one in its memory)', async () => {
    const r = await runChild<{ rounds: number; collected: number; foreign: number; examples: unknown[] }>(ns, 'native-lifecycle.js', ['collected', '200'], {
      nodeArgs: ['--expose-gc'],
      timeoutMs: 30_000,
    });
    expect(exitOf(r)).toEqual({ status: 0, signal: null });
    expect(r.json).toBeDefined();
    // The closed channels were really collected (their destructors ran) ...
    expect(r.json!.collected).toBeGreaterThanOrEqual(r.json!.rounds / 2);
    // ... and no read of a new channel ever resolved with an old channel's datagrams.
    expect(r.json!.examples).toEqual([]);
    expect(r.json!.foreign).toBe(0);
  });

  test("a Worker terminated mid-read: cleanup hook stops the worker's reader; fds and threads return to baseline; the main thread still dumps", async () => {
    const r = await runChild<WorkerReport>(ns, 'native-lifecycle.js', ['worker'], { timeoutMs: 30_000 });
    expect(exitOf(r)).toEqual({ status: 0, signal: null });
    const j = r.json!;
    expect(j).toBeDefined();
    expect(j.rounds).toHaveLength(5);
    for (const round of j.rounds) {
      // Three channels and the worker's reader (its epoll fd and eventfd) lived in the worker.
      expect(round.during.fds).toBeGreaterThanOrEqual(j.baseline.fds + 5);
      expect(round.during.threads).toBeGreaterThanOrEqual(j.baseline.threads + 2);
      expect(round.during.readers).toBe(1);
      expect(round.terminateMs).toBeLessThan(1000);
      expect(round.after).toEqual(j.baseline);
    }
    expect(j.final).toEqual(j.baseline);
    expect(j.mainDump.status).toBe(0);
    expect(j.mainDump.items).toBeGreaterThan(0);
  });

});

describeRoot('one reader thread for every channel', () => {
  let ns: Netns;
  beforeAll(async () => {
    ns = await createNetns();
  });
  afterAll(async () => {
    await ns?.destroy();
  });

  test('200 channels with a read pending each: at most 3 threads more than before (one reader); close() settles every read with null and the reader stops', async () => {
    await sleep(50); // threads of earlier tests (namespace helpers) have ended
    const baseline = threadCount();
    expect(threadsNamed('sockdiag-reader')).toBe(0);
    const channels: Channel[] = [];
    const reads: Promise<unknown>[] = [];
    for (let i = 0; i < 200; i++) {
      // Half idle event channels, half plain ones: nothing arrives on either.
      const ch = Channel.open({ netns: ns.name, groups: i % 2 === 0 ? 0xf : 0 });
      channels.push(ch);
      reads.push(ch.read());
    }
    await sleep(100);
    const during = threadCount();
    expect(threadsNamed('sockdiag-reader')).toBe(1);
    expect(during - baseline).toBeGreaterThanOrEqual(1);
    expect(during - baseline).toBeLessThanOrEqual(3);
    let settled = 0;
    for (const r of reads) void r.then(() => settled++);
    await sleep(20);
    expect(settled).toBe(0); // nothing to receive: every read is still pending
    for (const ch of channels) ch.close();
    expect(await Promise.all(reads)).toEqual(channels.map(() => null));
    expect(threadsNamed('sockdiag-reader')).toBe(0);
    expect(threadCount()).toBeLessThanOrEqual(baseline);
  });

  test('a reader shared by busy channels: 20 channels dump at once, each gets exactly its own whole answer', async () => {
    const channels = Array.from({ length: 20 }, () => Channel.open({ netns: ns.name }));
    try {
      const dumps = channels.map(async (ch) => {
        const seen: number[] = [];
        const stats = { messages: 0, interrupted: false, foreignDropped: 0 };
        for await (const batch of runDump(ch, encodeNetlinkRequest(), decodeNetlinkMessage, { operation: 'dump', family: 'netlink' }, stats)) {
          for (const s of batch) if (s.netlinkProtocol === 4) seen.push(s.portId >>> 0);
        }
        return { seen, foreign: stats.foreignDropped };
      });
      const results = await Promise.all(dumps);
      const ports = channels.map((ch) => ch.portId);
      for (const r of results) {
        expect(r.foreign).toBe(0);
        // Every channel's socket is in every answer (all 20 were open during each dump).
        expect(r.seen).toEqual(expect.arrayContaining(ports));
      }
    } finally {
      for (const ch of channels) ch.close();
    }
  });
});

describeRoot('F10: closed channels through lib Channel', () => {
  let ns: Netns;
  beforeAll(async () => {
    ns = await createNetns();
  });
  afterAll(async () => {
    await ns?.destroy();
  });

  test('an idle event channel in the namespace: pending read settles with null within 100 ms of close(); then send throws and read rejects, typed', async () => {
    const ch = Channel.open({ netns: ns.name, groups: 0xf });
    let settled: unknown = 'pending';
    let at = 0;
    const read = ch.read().then((v) => {
      settled = v;
      at = performance.now();
    });
    await sleep(50);
    expect(settled).toBe('pending');
    const t0 = performance.now();
    ch.close();
    ch.close();
    await Promise.race([read, sleep(1000)]);
    expect(settled).toBeNull();
    expect(at - t0).toBeLessThan(100);
    expect(ch.closed).toBe(true);
    let thrown: unknown;
    try {
      ch.send(Buffer.alloc(16));
    } catch (e) {
      thrown = e;
    }
    // Thrown synchronously, as a typed library error (even though the addon's error comes
    // from another realm inside jest).
    expect(types.isNativeError(thrown)).toBe(true);
    expect(thrown).toBeInstanceOf(SockdiagError);
    expect(thrown).toMatchObject({ code: 'ERR_SOCKDIAG_CLOSED' });
    let readThrown: unknown;
    try {
      void ch.read();
    } catch (e) {
      readThrown = e;
    }
    expect(readThrown).toBeInstanceOf(SockdiagError);
    expect(readThrown).toMatchObject({ code: 'ERR_SOCKDIAG_CLOSED' });
  });
});


// setpriv to another user needs root (in a user namespace of our own it cannot switch uid).
describeRoot('F10: a process that cannot create threads (root drops to uid 65534)', () => {
  const ns = freshNetns;
  test('threads cannot be created (RLIMIT_NPROC 1, unprivileged): read, open in a namespace and readNetFiles fail with EAGAIN from pthread_create; the process goes on', async () => {
    const r = await runChild<Record<string, unknown>>(ns, 'native-lifecycle.js', ['nothreads'], {
      prefix: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all'],
    });
    expect(exitOf(r)).toEqual({ status: 0, signal: null });
    const j = r.json!;
    expect(j).toMatchObject({ uid: 65534, prlimit: 0, prlimitErr: '' });
    const refused = { name: 'Error', code: 'EAGAIN', errno: -11, syscall: 'pthread_create', message: 'pthread_create EAGAIN (Resource temporarily unavailable)' };
    expect(j.read).toEqual(refused);
    expect(j.readAgain).toEqual(refused);
    expect(j.open).toEqual(refused);
    expect(j.netFiles).toEqual(refused);
    // What needs no new thread still works.
    expect(j.netFilesHere).toBe('ok');
    expect(j.close).toBe('ok');
    expect(j.closed).toBe(true);
    expect(j.threadsAfter).toBe(j.threadsBefore);
  });
});
