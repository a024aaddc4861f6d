/**
 * `netns` at the API level (issue 4 item 3, F12): listSockets, streamSockets and summary
 * take a namespace as a name under /var/run/netns, a path or a pid; a missing name, a
 * deleted namespace, a pid that exited and a path that is not a network namespace give
 * system errors whose message names the namespace; and however many calls succeed or
 * fail, every thread of this process stays in its own namespace. (The channel-level cases
 * — fds, EBADF, a channel kept open across `ip netns del` — are in native-netns.test.ts.)
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { listSockets, streamSockets } from '../lib/api/list';
import { summary } from '../lib/api/summary';
import { SockdiagSystemError } from '../lib/errors';
import { createNetns, describeRoot, pythonBinary, Netns, Population } from './helpers/netns';
import { fdsOpenOn, threadNetns } from './helpers/native';

const cookiesOf = (socks: readonly { cookie: bigint }[]): string[] => socks.map((s) => String(s.cookie)).sort();

/** What a call rejected with (or 'resolved'). */
async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  return 'resolved';
}

describeRoot('netns on the API: a name, a path or a pid', () => {
  let ns: Netns;
  let empty: Netns;
  let pop: Population;
  let dir: string;
  beforeAll(async () => {
    ns = await createNetns();
    empty = await createNetns();
    pop = await ns.spawnPopulation({ kinds: ['tcp', 'udp'] });
    dir = mkdtempSync(path.join(tmpdir(), 'sockdiag-netns-'));
    writeFileSync(path.join(dir, 'plain'), 'not a namespace\n');
  }, 60_000);
  afterAll(async () => {
    await pop?.stop();
    await ns?.destroy();
    await empty?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('by name, by path and by pid: the same sockets, the population\'s; another namespace has none of them', async () => {
    const opts = { protocols: ['tcp', 'udp'] as const, extensions: 'none' as const };
    const byName = cookiesOf(await listSockets({ ...opts, netns: ns.name }));
    const byPath = cookiesOf(await listSockets({ ...opts, netns: ns.path }));
    const byPid = cookiesOf(await listSockets({ ...opts, netns: pop.pid }));
    const streamed: { cookie: bigint }[] = [];
    for await (const s of streamSockets({ ...opts, netns: pop.pid })) streamed.push(s);
    expect(byPath).toEqual(byName);
    expect(byPid).toEqual(byName);
    expect(cookiesOf(streamed)).toEqual(byName);
    const made = pop.sockets.filter((s) => s.cookie !== null).map((s) => String(s.cookie));
    expect(made.length).toBeGreaterThan(20);
    expect(byName).toEqual(expect.arrayContaining(made));
    const other = new Set(cookiesOf(await listSockets({ ...opts, netns: empty.name })));
    expect(made.filter((c) => other.has(c))).toEqual([]);
    expect(other.size).toBe(0);
  });

  test('summary by name, path and pid reads the same namespace', async () => {
    const [a, b, c] = await Promise.all([summary({ netns: ns.name }), summary({ netns: ns.path }), summary({ netns: pop.pid })]);
    expect(b.transport).toEqual(a.transport);
    expect(c.transport).toEqual(a.transport);
    expect(a.transport.udp.total).toBe(pop.sockets.filter((s) => s.kind === 'udp').length);
    expect((await summary({ netns: empty.name })).transport.inet.total).toBe(0);
  });

  describe('clear errors: code, errno, syscall, and a message naming the namespace', () => {
    const calls: [string, (netns: string | number) => Promise<unknown>][] = [
      ['listSockets', (netns) => listSockets({ netns, protocols: ['tcp'] })],
      ['streamSockets', async (netns) => {
        for await (const s of streamSockets({ netns, protocols: ['tcp'] })) void s;
      }],
      ['summary', (netns) => summary({ netns })],
    ];

    test.each(calls)('%s: a missing name, a pid that exited, a file that is not a netns, another kind of namespace', async (_name, call) => {
      const missing = `sd-${process.pid}-no-such-namespace`;
      const e1 = await failure(call(missing));
      expect(e1).toBeInstanceOf(SockdiagSystemError);
      expect(e1).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'open' });
      expect((e1 as Error).message).toContain(`network namespace "${missing}" (/var/run/netns/${missing}) does not exist`);

      const gone = spawnSync('true').pid!;
      const e2 = await failure(call(gone));
      expect(e2).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'open' });
      expect((e2 as Error).message).toContain(`the network namespace of pid ${gone} (/proc/${gone}/ns/net): no such process`);

      const plain = path.join(dir, 'plain');
      const e3 = await failure(call(plain));
      expect(e3).toMatchObject({ code: 'EINVAL', errno: -22, syscall: 'setns' });
      expect((e3 as Error).message).toContain(`${plain} is not a network namespace`);

      const e4 = await failure(call('/proc/self/ns/mnt'));
      expect(e4).toMatchObject({ code: 'EINVAL', syscall: 'setns' });
      expect((e4 as Error).message).toContain('/proc/self/ns/mnt is not a network namespace');

      const e5 = await failure(call('/nonexistent-dir/ns'));
      expect(e5).toMatchObject({ code: 'ENOENT', syscall: 'open' });
      expect((e5 as Error).message).toContain('network namespace /nonexistent-dir/ns does not exist');
    });

    test.each(calls)('%s: a bad reference is a TypeError before anything is opened', async (_name, call) => {
      for (const bad of [0, -1, 1.5, '']) expect(await failure(call(bad))).toBeInstanceOf(TypeError);
    });

    test('a deleted namespace: gone by name and by path', async () => {
      const x = await createNetns();
      await listSockets({ netns: x.name, protocols: ['tcp'] });
      await x.destroy();
      for (const call of calls.map((c) => c[1])) {
        const byName = await failure(call(x.name));
        expect(byName).toMatchObject({ code: 'ENOENT', syscall: 'open' });
        expect((byName as Error).message).toContain(`network namespace "${x.name}" (${x.path}) does not exist`);
        expect(await failure(call(x.path))).toMatchObject({ code: 'ENOENT', syscall: 'open' });
      }
    });
  });

  test('a namespace deleted while a process still lives in it: reachable by that pid only, until the process exits', async () => {
    const x = await createNetns();
    const script = "import json,os,socket,sys; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(); print(json.dumps([os.getpid(), s.getsockname()[1]]), flush=True); sys.stdin.read()";
    const child = spawn('ip', ['netns', 'exec', x.name, pythonBinary(), '-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
    try {
      const [pid, port] = await new Promise<[number, number]>((resolve, reject) => {
        child.stdout.once('data', (b: Buffer) => resolve(JSON.parse(b.toString()) as [number, number]));
        child.once('close', () => reject(new Error('helper exited')));
      });
      expect(spawnSync('ip', ['netns', 'del', x.name]).status).toBe(0);
      const socks = await listSockets({ netns: pid, protocols: ['tcp'], extensions: 'none' });
      expect(socks.map((s) => (s as { local: { port: number } }).local.port)).toEqual([port]);
      expect((await summary({ netns: pid })).transport.tcp.total).toBe(1);
      expect(await failure(listSockets({ netns: x.name, protocols: ['tcp'] }))).toMatchObject({ code: 'ENOENT', syscall: 'open' });
      child.stdin.end();
      await exited;
      const after = await failure(listSockets({ netns: pid, protocols: ['tcp'] }));
      expect(after).toMatchObject({ code: 'ENOENT', syscall: 'open' });
      expect((after as Error).message).toContain(`pid ${pid}`);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
      await x.destroy();
    }
  });

  test('after 240 calls (concurrent, successes and failures mixed) every thread is in the original namespace and no namespace fd is held', async () => {
    const original = readlinkSync('/proc/self/ns/net');
    const refs: (string | number)[] = [ns.name, ns.path, pop.pid, `sd-${process.pid}-missing`, path.join(dir, 'plain'), spawnSync('true').pid!];
    const outcomes = new Map<string, number>();
    const wrong: string[] = [];
    for (let batch = 0; batch < 30; batch++) {
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => {
          const ref = refs[(batch * 8 + i) % refs.length];
          return i % 3 === 2 ? summary({ netns: ref }) : listSockets({ netns: ref, protocols: ['tcp', 'udp'], extensions: 'none' });
        }),
      );
      for (const r of results) {
        const key = r.status === 'fulfilled' ? 'ok' : String((r.reason as { code?: string }).code);
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      }
      for (const [tid, link] of threadNetns()) if (link !== original) wrong.push(`batch ${batch}: thread ${tid} in ${link}`);
    }
    expect(wrong).toEqual([]);
    expect(readlinkSync('/proc/self/ns/net')).toBe(original);
    expect(Object.fromEntries(outcomes)).toEqual({ ok: 120, ENOENT: 80, EINVAL: 40 });
    expect(fdsOpenOn(statSync(ns.path))).toEqual([]);
  });
});
