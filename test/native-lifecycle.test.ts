/**
 * F10: a closed channel used again, close() while a read is pending, a batch still on its
 * way to a channel that was closed and garbage-collected, process.exit() and Worker
 * termination with reads pending. The crash-prone parts run in a child node process
 * (test/fixtures/native-lifecycle.js) inside a private namespace.
 */
import { types } from 'node:util';
import { Channel } from '../lib/netlink/channel';
import { SockdiagError } from '../lib/errors';
import { createNetns, describeFreshNetns, describeRoot, freshNetns, Netns } from './helpers/netns';
import { exitOf, runChild, sleep } from './helpers/native';

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
    // The channel owned exactly a netlink socket and an eventfd.
    expect(j.channelFds.map((f) => f.link.replace(/\d+/, 'N')).sort()).toEqual(['anon_inode:[eventfd]', 'socket:[N]']);
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
    // 50 files took the old numbers and were neither read nor closed.
    expect(j.reused.length).toBeGreaterThanOrEqual(2);
    expect(j.problems).toEqual([]);
  });

  test('process.exit() with reads pending (idle, plain, read-ahead) ends the process within 1 s', async () => {
    const r = await runChild<{ exitingAt: number; threads: number }>(ns, 'native-lifecycle.js', ['exit']);
    expect(exitOf(r)).toEqual({ status: 0, signal: null });
    expect(r.json).toBeDefined();
    // Three reader threads were running when exit was called.
    expect(r.json!.threads).toBeGreaterThanOrEqual(3);
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

  test('a Worker terminated mid-read: cleanup hook stops the readers; fds and threads return to baseline; the main thread still dumps', async () => {
    const r = await runChild<WorkerReport>(ns, 'native-lifecycle.js', ['worker'], { timeoutMs: 30_000 });
    expect(exitOf(r)).toEqual({ status: 0, signal: null });
    const j = r.json!;
    expect(j).toBeDefined();
    expect(j.rounds).toHaveLength(5);
    for (const round of j.rounds) {
      // Three channels (2 fds each) and three reader threads lived in the worker.
      expect(round.during.fds).toBeGreaterThanOrEqual(j.baseline.fds + 6);
      expect(round.during.threads).toBeGreaterThanOrEqual(j.baseline.threads + 4);
      expect(round.terminateMs).toBeLessThan(1000);
      expect(round.after).toEqual(j.baseline);
    }
    expect(j.final).toEqual(j.baseline);
    expect(j.mainDump.status).toBe(0);
    expect(j.mainDump.items).toBeGreaterThan(0);
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
