/**
 * The test harness itself: private namespaces, the socket population, stale cleanup,
 * the root requirement. Every socket here lives in a namespace made by the test.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readlinkSync } from 'node:fs';
import {
  cleanStaleNetns,
  createNetns,
  describeRoot,
  listSdNetns,
  netnsPids,
  pidAlive,
  Netns,
  PopulationKind,
  requireRoot,
} from './netns';
import { runSs, SsRecord, SsTable } from './ss';

describe('requireRoot', () => {
  const savedCI = process.env.CI;
  afterEach(() => {
    jest.restoreAllMocks();
    if (savedCI === undefined) delete process.env.CI;
    else process.env.CI = savedCI;
  });

  test('as root it lets the tests run', () => {
    jest.spyOn(process, 'getuid').mockReturnValue(0);
    expect(requireRoot()).toBe(true);
  });

  test('not root: the tests skip with a clear message, unless CI=true, where it fails', () => {
    jest.spyOn(process, 'getuid').mockReturnValue(1000);
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    delete process.env.CI;
    expect(requireRoot()).toBe(false);
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/^SKIPPED: .*need root/));
    process.env.CI = 'true';
    expect(() => requireRoot()).toThrow(/CI=true forbids skipping/);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

describeRoot('private network namespaces', () => {
  test('createNetns gives sd-<pid>-<n> with only lo, up; destroy kills what runs inside and removes it', async () => {
    const ns = await createNetns();
    expect(ns.name).toMatch(new RegExp(`^sd-${process.pid}-\\d+$`));
    expect(ns.path).toBe(`/var/run/netns/${ns.name}`);
    expect(existsSync(ns.path)).toBe(true);
    expect(listSdNetns()).toContain(ns.name);
    const links = await ns.exec(['ip', '-o', 'link', 'show'], { check: true });
    const lines = links.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^1: lo: <[^>]*\bUP\b/);

    const sleeper = spawn('ip', ['netns', 'exec', ns.name, 'sleep', '300'], { stdio: 'ignore' });
    await waitFor(() => netnsPids(ns.name).length > 0);
    expect(netnsPids(ns.name)).toContain(sleeper.pid);
    const exited = new Promise((r) => sleeper.on('exit', r));

    await ns.destroy();
    await exited;
    expect(existsSync(ns.path)).toBe(false);
    expect(listSdNetns()).not.toContain(ns.name);
    await ns.destroy(); // idempotent
    await expect(ns.exec(['true'])).rejects.toThrow(/destroyed/);
  });

  test('exec reports stdout, stderr and status; check rejects on failure', async () => {
    const ns = await createNetns();
    try {
      const r = await ns.exec(['sh', '-c', 'echo out; echo err >&2; exit 3']);
      expect(r).toMatchObject({ stdout: 'out\n', stderr: 'err\n', status: 3, signal: null });
      await expect(ns.exec(['sh', '-c', 'exit 4'], { check: true })).rejects.toThrow(/exited 4/);
      const t = await ns.exec(['sleep', '5'], { timeoutMs: 100 });
      expect(t.signal).toBe('SIGKILL');
      const i = await ns.exec(['cat'], { input: 'hello' });
      expect(i.stdout).toBe('hello');
    } finally {
      await ns.destroy();
    }
  });

  test('cleanStaleNetns removes namespaces whose creator is dead, and only those', async () => {
    const dead = spawnSync('true').pid;
    expect(alive(dead)).toBe(false);
    expect(pidAlive(dead)).toBe(false);
    const live = spawn('sleep', ['60'], { stdio: 'ignore' });
    // The stale namespace is named after a process that this call alone treats as dead: other
    // test files clean stale namespaces whenever they make one, and would remove a truly
    // stale one first.
    const creator = spawn('sleep', ['60'], { stdio: 'ignore' });
    const staleName = `sd-${creator.pid}-1`;
    const liveName = `sd-${live.pid}-1`;
    try {
      for (const n of [staleName, liveName]) {
        expect(spawnSync('ip', ['netns', 'add', n]).status).toBe(0);
      }
      const inside = spawn('ip', ['netns', 'exec', staleName, 'sleep', '300'], { stdio: 'ignore' });
      const insideExited = new Promise((r) => inside.on('exit', r));
      await waitFor(() => netnsPids(staleName).length > 0);

      const removed = cleanStaleNetns((pid) => pid !== creator.pid && pidAlive(pid));
      expect(removed).toContain(staleName);
      expect(removed).not.toContain(liveName);
      expect(existsSync(`/var/run/netns/${staleName}`)).toBe(false);
      expect(existsSync(`/var/run/netns/${liveName}`)).toBe(true);
      await insideExited;
    } finally {
      live.kill();
      creator.kill();
      spawnSync('ip', ['netns', 'del', liveName]);
      spawnSync('ip', ['netns', 'del', staleName]);
    }
    expect(listSdNetns()).not.toContain(liveName);
  });
});

const ALL_KINDS: PopulationKind[] = ['tcp', 'udp', 'unix', 'packet', 'netlink', 'mptcp', 'raw'];
const TABLES: SsTable[] = ['tcp4', 'tcp6', 'udp4', 'udp6', 'mptcp4', 'unix', 'packet', 'netlink', 'raw4', 'raw6'];

describeRoot('the socket population', () => {
  let ns: Netns;
  beforeAll(async () => {
    ns = await createNetns();
  });
  afterAll(async () => {
    await ns?.destroy();
  });

  test('every kind, in the namespace and not on the host, each socket seen by ss as described', async () => {
    const pop = await ns.spawnPopulation({ kinds: ALL_KINDS });
    try {
      expect(pop.warnings).toEqual([]);
      expect(pop.refused).toEqual([]);
      expect(pop.netns).not.toBe(readlinkSync('/proc/self/ns/net'));
      expect(pop.comm).toBe('python3');
      expect(new Set(pop.sockets.map((s) => s.kind))).toEqual(new Set(ALL_KINDS));
      const names = pop.sockets.map((s) => s.name);
      expect(new Set(names).size).toBe(names.length);
      const cookies = pop.sockets.filter((s) => s.cookie !== null).map((s) => s.cookie);
      expect(new Set(cookies).size).toBe(cookies.length);
      expect(pop.byName('tcp4-queued-server')).toMatchObject({ recvQ: 1000 });
      expect(pop.byName('tcp4-queued-server').sendQ).toBeGreaterThan(0);
      expect(pop.byName('tcp4-queued-client').recvQ).toBeGreaterThan(0);
      expect(() => pop.byName('nope')).toThrow(/no socket named nope/);
      expect(pop.children).toHaveLength(1);

      const ss: Record<string, SsRecord[]> = {};
      for (const t of TABLES) ss[t] = (await runSs(ns.name, t)).records;
      const all = Object.values(ss).flat();
      for (const p of pop.sockets) {
        let r: SsRecord | undefined;
        if (p.kind === 'unix') r = ss.unix!.find((x) => x.unix!.inode === p.inode);
        else if (p.kind === 'netlink') r = ss.netlink!.find((x) => x.netlink!.portid === p.portid && x.netlink!.protocol === p.netlinkProtocol);
        else if (p.kind === 'raw') r = all.find((x) => x.protocol === 'raw' && x.local.port === p.local!.port && x.family === p.family);
        else if (p.cookie !== null) r = all.find((x) => x.cookie === p.cookie && x.protocol === p.kind);
        else r = all.find((x) => x.state === p.state && x.local.port === p.local!.port && x.peer.port === p.remote!.port);
        expect({ name: p.name, seen: r !== undefined }).toEqual({ name: p.name, seen: true });
        expect({ name: p.name, state: r!.state }).toEqual({ name: p.name, state: p.state });
        if (p.local && p.kind !== 'raw') {
          expect({ name: p.name, local: r!.local.address, remote: r!.peer.address }).toEqual({
            name: p.name,
            local: p.local.address,
            remote: p.remote!.address,
          });
        }
      }
      // the socket the child also holds has two users
      const shared = pop.byName('udp4-shared');
      const sr = ss.udp4!.find((x) => x.cookie === shared.cookie)!;
      expect(sr.users!.map((u) => u.command).sort()).toEqual(['python3', 'sd-pop child']);
    } finally {
      await pop.stop();
    }
    // stop() ends the process and its child, and removes the unix socket directory
    expect(alive(pop.pid)).toBe(false);
    expect(await waitFor(() => pop.children.every((c) => !alive(c)))).toBe(true);
    expect(pop.unixDir).not.toBeNull();
    expect(existsSync(pop.unixDir!)).toBe(false);
    await pop.stop(); // idempotent
  });

  test('extraTcpPairs: 2000 established pairs, each with its cookie', async () => {
    const t0 = Date.now();
    const pop = await ns.spawnPopulation({ kinds: [], extraTcpPairs: 2000 });
    try {
      expect(pop.sockets).toEqual([]);
      expect(pop.extra).not.toBeNull();
      const extra = pop.extra!;
      expect(extra.pairs).toHaveLength(2000);
      const cookies = new Set(extra.pairs.flatMap((p) => [p.clientCookie, p.serverCookie]));
      expect(cookies.size).toBe(4000);
      const { records } = await runSs(ns.name, 'tcp4', ['sport', '=', `:${extra.port}`, 'or', 'dport', '=', `:${extra.port}`]);
      const est = records.filter((r) => r.state === 'established');
      expect(est).toHaveLength(4000);
      for (const r of est) expect(cookies.has(r.cookie!)).toBe(true);
      expect(Date.now() - t0).toBeLessThan(30_000);
    } finally {
      await pop.stop();
    }
  });

  test('a bad spec fails with the population error, not a hang', async () => {
    await expect(ns.spawnPopulation({ kinds: ['bogus' as PopulationKind] })).rejects.toThrow(/unknown kind 'bogus'/);
  });
});
