/**
 * F12: opening a channel in a namespace that is missing, wrong, closed or deleted; every
 * thread stays in the process's own namespace. F13: running without root (setpriv to
 * uid 65534 without capabilities) and as root of a private user+net namespace.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Channel, runDump, DumpStats } from '../lib/netlink/channel';
import { nativeBinding } from '../lib/netlink/binding';
import { encodeNetlinkRequest, decodeNetlinkMessage, NetlinkSocket } from '../lib/diag/netlink';
import { createNetns, describeFreshNetns, describeRoot, Netns } from './helpers/netns';
import { exitOf, fdCount, fdsOpenOn, runChild, sleep, threadCount, threadNetns, threadsNamed } from './helpers/native';

const ownNetns = (): string => readlinkSync('/proc/self/ns/net');
const newStats = (): DumpStats => ({ messages: 0, interrupted: false, foreignDropped: 0 });

/** What Channel.open threw (the addon's error; see the realm note in native-lifecycle.test.ts). */
function openError(open: () => { close(): void }): unknown {
  try {
    open().close();
  } catch (e) {
    return e;
  }
  return 'opened';
}

async function netlinkSockets(ch: Channel): Promise<NetlinkSocket[]> {
  const out: NetlinkSocket[] = [];
  const req = encodeNetlinkRequest();
  for await (const batch of runDump(ch, req, decodeNetlinkMessage, { operation: 'dump', family: 'netlink' }, newStats())) out.push(...batch);
  return out;
}

/** A folder holding `plain`, a file that is not a namespace. */
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sockdiag-f12-'));
  writeFileSync(path.join(dir, 'plain'), 'not a namespace\n');
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// Opening fails before any socket exists: no root needed.
describe('F12: references that name no network namespace', () => {
  test('a missing name is ENOENT from open; a file that is not a netns is EINVAL from setns; an exited pid is ENOENT', () => {
    expect(openError(() => Channel.open({ netns: `sd-${process.pid}-no-such-namespace` }))).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'open' });
    expect(openError(() => Channel.open({ netns: path.join(dir, 'plain') }))).toMatchObject({ code: 'EINVAL', errno: -22, syscall: 'setns' });
    expect(openError(() => Channel.open({ netns: '/proc/self/ns/mnt' }))).toMatchObject({ code: 'EINVAL', errno: -22, syscall: 'setns' });
    const gone = spawnSync('true');
    expect(gone.status).toBe(0);
    expect(openError(() => Channel.open({ netns: gone.pid! }))).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'open' });
    // Messages carry the syscall and the errno name.
    expect(String((openError(() => Channel.open({ netns: '/proc/self/ns/mnt' })) as Error).message)).toMatch(/setns EINVAL/);
  });
});

describeRoot('F12: namespaces that are missing, wrong, closed or deleted', () => {
  let ns: Netns;
  beforeAll(async () => {
    ns = await createNetns();
  });
  afterAll(async () => {
    await ns?.destroy();
  });

  test('a namespace fd works and stays the caller\'s; a closed fd number is EBADF from setns', () => {
    const { Channel: Native } = nativeBinding();
    const fd = openSync(ns.path, 'r');
    try {
      expect(fdsOpenOn(statSync(ns.path))).toEqual([fd]); // (the helper sees such an fd)
      const ch = new Native({ netns: fd });
      expect(ch.portId).toBeGreaterThan(0);
      ch.close();
      // The addon did not close the caller's fd: it still refers to the namespace.
      expect(fstatSync(fd).ino).toBe(statSync(ns.path).ino);
    } finally {
      closeSync(fd);
    }
    // A closed number: far above every open fd, so that no other thread of this process
    // can be handed it meanwhile (fds are allocated lowest first).
    const closed = Math.max(fd, ...readdirSync('/proc/self/fd').map(Number)) + 1000;
    expect(() => fstatSync(closed)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(openError(() => new Native({ netns: closed }))).toMatchObject({ code: 'EBADF', errno: -9, syscall: 'setns' });
  });

  test('1000 opens (success and failure mixed, readers running): every thread stays in the original namespace; fds and threads back to baseline', async () => {
    const original = ownNetns();
    const fds = fdCount();
    const threads = threadCount();
    const targets = [ns.name, `sd-${process.pid}-missing`, path.join(dir, 'plain'), '/proc/self/ns/mnt', ns.path];
    const open: Channel[] = [];
    const reads: Promise<unknown>[] = [];
    const outcomes = new Map<string, number>();
    const wrong: string[] = [];
    const check = (when: string): void => {
      for (const [tid, link] of threadNetns()) if (link !== original) wrong.push(`${when}: thread ${tid} in ${link}`);
    };
    for (let i = 0; i < 1000; i++) {
      const target = targets[i % targets.length];
      let outcome = 'opened';
      try {
        const ch = Channel.open({ netns: target, groups: i % 2 === 0 ? 0xf : 0 });
        if (open.length < 16) {
          // Keep some open with a read pending (the reader thread blocked in epoll_wait()).
          open.push(ch);
          reads.push(ch.read());
        } else {
          ch.close();
        }
      } catch (e) {
        outcome = String((e as { code?: string }).code);
      }
      outcomes.set(`${target} ${outcome}`, (outcomes.get(`${target} ${outcome}`) ?? 0) + 1);
      if (i % 50 === 49) check(`after open ${i + 1}`);
    }
    expect(open).toHaveLength(16);
    expect(threadsNamed('sockdiag-reader')).toBe(1);
    check('with 16 readers');
    for (const ch of open) ch.close();
    expect(await Promise.all(reads)).toEqual(open.map(() => null));
    await sleep(50);
    check('after closing');
    expect(wrong).toEqual([]);
    expect(Object.fromEntries(outcomes)).toEqual({
      [`${ns.name} opened`]: 200,
      [`sd-${process.pid}-missing ENOENT`]: 200,
      [`${path.join(dir, 'plain')} EINVAL`]: 200,
      ['/proc/self/ns/mnt EINVAL']: 200,
      [`${ns.path} opened`]: 200,
    });
    expect(fdCount()).toBe(fds);
    expect(threadCount()).toBe(threads);
    expect(ownNetns()).toBe(original);
  });

  test('a deleted namespace: the channel still dumps it and keeps it alive; close() releases it; no nsfs fd is ever held', async () => {
    const x = await createNetns();
    const y = await createNetns();
    try {
      // Canary: a veth pair between X and Y. When X is freed, its end goes and takes Y's with it.
      const made = spawnSync('ip', ['-n', x.name, 'link', 'add', 'sdcanx', 'type', 'veth', 'peer', 'name', 'sdcany', 'netns', y.name], { encoding: 'utf8' });
      expect(made.stderr).toBe('');
      const canaryAlive = (): boolean => spawnSync('ip', ['-n', y.name, 'link', 'show', 'sdcany']).status === 0;
      expect(canaryAlive()).toBe(true);
      const xFile = statSync(x.path);

      const ch = Channel.open({ netns: x.name });
      expect(fdsOpenOn(xFile)).toEqual([]);
      const del = spawnSync('ip', ['netns', 'del', x.name], { encoding: 'utf8' });
      expect(del.status).toBe(0);
      await sleep(300);
      expect(canaryAlive()).toBe(true); // X lives on: the channel's socket holds it

      // The channel still works, in X: its own socket is in X's netlink table.
      const socks = await netlinkSockets(ch);
      expect(socks.find((s) => s.portId === ch.portId && s.netlinkProtocol === 4)).toBeDefined();
      expect(fdsOpenOn(xFile)).toEqual([]);

      const t0 = Date.now();
      ch.close();
      let released = -1;
      while (Date.now() - t0 < 5000) {
        if (!canaryAlive()) {
          released = Date.now() - t0;
          break;
        }
        await sleep(20);
      }
      expect(released).toBeGreaterThanOrEqual(0);
      expect(fdsOpenOn(xFile)).toEqual([]);
    } finally {
      await x.destroy();
      await y.destroy();
    }
  });
});

interface UnprivReport {
  uid: number;
  euid: number;
  listenPort?: number;
  status?: number;
  count?: number;
  markSeen?: boolean;
  attributeTypes?: number[];
  localPorts?: number[];
  dumpError?: unknown;
  otherNetns?: { ok: boolean; portId?: number; error?: { name: string; message: string; code: string; errno: number; syscall: string } };
}

describeRoot('F13: without root', () => {
  let ns: Netns;
  let other: Netns;
  let tcpPorts: number[];
  beforeAll(async () => {
    ns = await createNetns();
    other = await createNetns();
    const pop = await ns.spawnPopulation({ kinds: ['tcp'] });
    // The child dumps AF_INET TCP: the population's IPv4 sockets that a process holds.
    tcpPorts = pop.sockets.filter((s) => s.family === 'inet' && s.local && s.fd !== null).map((s) => s.local!.port);
    expect(tcpPorts.length).toBeGreaterThan(0);
  }, 60_000);
  afterAll(async () => {
    await ns?.destroy();
    await other?.destroy();
  });

  test('as root (control): the dump has INET_DIAG_MARK, another netns opens', async () => {
    const r = await runChild<UnprivReport>(ns, 'native-unprivileged.js', [JSON.stringify({ otherNetns: other.path })]);
    expect(exitOf(r)).toEqual({ status: 0, signal: null });
    expect(r.json).toMatchObject({ uid: 0, status: 0, markSeen: true, otherNetns: { ok: true } });
    for (const p of tcpPorts) expect(r.json!.localPorts).toContain(p);
  });

  test('uid 65534 without capabilities (setpriv): the dump works without INET_DIAG_MARK; another netns is EPERM from setns, naming CAP_SYS_ADMIN', async () => {
    const root = await runChild<UnprivReport>(ns, 'native-unprivileged.js');
    const r = await runChild<UnprivReport>(ns, 'native-unprivileged.js', [JSON.stringify({ otherNetns: other.path })], {
      prefix: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all'],
    });
    expect(exitOf(r)).toEqual({ status: 0, signal: null });
    expect(r.stderr).toBe('');
    const j = r.json!;
    expect(j).toMatchObject({ uid: 65534, euid: 65534, status: 0, markSeen: false });
    expect(j.count).toBe(root.json!.count);
    for (const p of tcpPorts) expect(j.localPorts).toContain(p);
    expect(j.attributeTypes).toContain(2); // INET_DIAG_INFO still comes
    expect(j.attributeTypes).not.toContain(15);
    expect(j.otherNetns).toEqual({
      ok: false,
      error: {
        name: 'Error',
        code: 'EPERM',
        errno: -1,
        syscall: 'setns',
        message: 'setns EPERM (Operation not permitted): entering another network namespace needs CAP_SYS_ADMIN',
      },
    });
  });
});

describeFreshNetns('F13: root of a user namespace of its own', () => {
  test('unshare -Urn: root of a private user+net namespace dumps its own sockets (a listener it made)', async () => {
    const r = await runChild<UnprivReport>(null, 'native-unprivileged.js', [JSON.stringify({ listen: true })], { prefix: ['unshare', '-Urn'] });
    expect(exitOf(r)).toEqual({ status: 0, signal: null });
    const j = r.json!;
    expect(j).toMatchObject({ uid: 0, status: 0 });
    expect(j.listenPort).toBeGreaterThan(0);
    // Its own namespace holds exactly the one listener it made.
    expect(j.localPorts).toEqual([j.listenPort]);
    // CAP_NET_ADMIN over its own netns: the privileged attribute comes too.
    expect(j.markSeen).toBe(true);
  });
});
