/**
 * listSockets/streamSockets on live sockets in a private namespace: concurrency (F7),
 * early stop and abort (F8), a short leak run (F9), and duplicates under churn (F6).
 */
import { readdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { listSockets, streamSockets, AbortError, NotSupportedError, Socket } from '../lib';
import { createNetns, describeRoot, Netns, Population, pythonBinary } from './helpers/netns';

const fdCount = (): number => readdirSync('/proc/self/fd').length;
const threadCount = (): number => readdirSync('/proc/self/task').length;
const key = (s: Socket): string => `${s.protocol} ${s.cookie}`;
const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describeRoot('listings on live sockets', () => {
  let ns: Netns;
  let pop: Population;
  beforeAll(async () => {
    ns = await createNetns();
    pop = await ns.spawnPopulation({ kinds: ['tcp', 'udp', 'unix', 'packet', 'netlink'], extraTcpPairs: 1000 });
  }, 120_000);
  afterAll(async () => {
    await pop?.stop();
    await ns?.destroy();
  });

  test('a kind this kernel cannot dump: NotSupportedError when named, skipped and reported otherwise', async () => {
    for (const protocol of ['sctp', 'dccp', 'raw', 'vsock', 'tipc', 'xdp'] as const) {
      const p = listSockets({ netns: ns.name, protocols: [protocol] });
      await expect(p).rejects.toBeInstanceOf(NotSupportedError);
      await expect(p).rejects.toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'recvmsg', operation: 'dump' });
      await expect(p).rejects.toThrow(/not supported by this kernel/);
    }
    const all = await listSockets({ netns: ns.name });
    expect([...all.unsupported].sort()).toEqual(['dccp', 'raw', 'sctp', 'tipc', 'vsock', 'xdp']);
    expect(new Set(all.map((s) => s.protocol))).toEqual(new Set(['tcp', 'udp', 'unix', 'packet', 'netlink']));
  });

  test('every socket the population made is listed once, with its cookie and inode', async () => {
    const socks = await listSockets({ netns: ns.name, protocols: ['tcp', 'udp'] });
    const byCookie = new Map(socks.map((s) => [s.cookie, s]));
    expect(byCookie.size).toBe(socks.length);
    for (const p of pop.sockets) {
      if (p.cookie === null || (p.kind !== 'tcp' && p.kind !== 'udp')) continue;
      expect(byCookie.get(p.cookie)).toMatchObject({ inode: p.inode });
    }
    expect(socks.length).toBeGreaterThanOrEqual(2001);
  });

  test('streamSockets yields the same sockets as listSockets, in the same order', async () => {
    // listSockets runs its dumps side by side; its order must still be the sequential one.
    const protocols = ['tcp', 'udp', 'unix', 'packet'] as const;
    const list = (await listSockets({ netns: ns.name, protocols })).map(key);
    const streamed: string[] = [];
    for await (const s of streamSockets({ netns: ns.name, protocols })) streamed.push(key(s));
    expect(streamed).toEqual(list);
    expect(new Set(list.map((k) => k.split(' ')[0]))).toEqual(new Set(protocols));
  });

  test('an abort while the parallel dumps run closes every channel', async () => {
    await listSockets({ netns: ns.name });
    const fds = fdCount();
    for (const delay of [0, 1, 3]) {
      const ac = new AbortController();
      const p = listSockets({ netns: ns.name, signal: ac.signal });
      setTimeout(() => ac.abort(), delay);
      await p.then(
        () => undefined,
        (err: unknown) => expect(err).toBeInstanceOf(AbortError),
      );
      await settle(50);
      expect(fdCount()).toBe(fds);
    }
  });

  test('F7: 64 concurrent listings of every kind equal a serial one; fds and threads return to baseline', async () => {
    const protocols = ['tcp', 'udp', 'unix', 'packet', 'netlink'] as const;
    // The listings' own sock_diag sockets come and go with them: leave those out.
    const stable = (r: Socket[]): string[] => r.filter((s) => !(s.protocol === 'netlink' && s.netlinkProtocol === 4)).map(key).sort();
    const serial = stable(await listSockets({ netns: ns.name, protocols: [...protocols] }));
    expect(serial.length).toBeGreaterThan(2000);
    const fds = fdCount();
    const threads = threadCount();
    const results = await Promise.all(Array.from({ length: 64 }, () => listSockets({ netns: ns.name, protocols: [...protocols] })));
    for (const r of results) expect(stable(r)).toEqual(serial);
    await settle(50);
    expect(fdCount()).toBe(fds);
    expect(threadCount()).toBe(threads);
  });

  test('F8: break after the first socket closes the channel; the next listing is whole', async () => {
    const fresh = (await listSockets({ netns: ns.name, protocols: ['tcp'] })).length;
    const fds = fdCount();
    const threads = threadCount();
    let seen = 0;
    for await (const s of streamSockets({ netns: ns.name, protocols: ['tcp'] })) {
      expect(s.protocol).toBe('tcp');
      seen++;
      break;
    }
    expect(seen).toBe(1);
    await settle(100);
    expect(fdCount()).toBe(fds);
    expect(threadCount()).toBe(threads);
    expect((await listSockets({ netns: ns.name, protocols: ['tcp'] })).length).toBe(fresh);
  });

  test('F8: abort before start, mid-stream and after completion', async () => {
    const fds = fdCount();
    const before = new AbortController();
    before.abort(new Error('not wanted'));
    await expect(listSockets({ netns: ns.name, signal: before.signal })).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });

    const mid = new AbortController();
    let n = 0;
    const run = (async () => {
      for await (const s of streamSockets({ netns: ns.name, protocols: ['tcp'], signal: mid.signal })) {
        void s;
        if (++n === 10) mid.abort('enough');
      }
    })();
    await expect(run).rejects.toBeInstanceOf(AbortError);
    await expect(run).rejects.toMatchObject({ cause: 'enough' });
    expect(n).toBeLessThan(2001);

    const after = new AbortController();
    const whole = await listSockets({ netns: ns.name, protocols: ['udp'], signal: after.signal });
    after.abort();
    expect(whole.length).toBeGreaterThan(0);
    await settle(100);
    expect(fdCount()).toBe(fds);
  });

  test('F9 (short): 300 listings leave fds and threads exactly flat and the heap bounded', async () => {
    const opts = { netns: ns.name, protocols: ['tcp' as const] };
    for (let i = 0; i < 30; i++) await listSockets(opts);
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const fds = fdCount();
    const threads = threadCount();
    const heap = process.memoryUsage().heapUsed;
    for (let i = 0; i < 300; i++) {
      const s = await listSockets(opts);
      if (i % 50 === 0) expect(s.length).toBeGreaterThan(2000);
    }
    gc?.();
    await settle(20);
    expect(fdCount()).toBe(fds);
    expect(threadCount()).toBe(threads);
    // Without --expose-gc the heap is only sampled, so the bound is loose here; bench/ runs the strict one.
    expect(process.memoryUsage().heapUsed - heap).toBeLessThan(64 * 2 ** 20);
  }, 120_000);

  test('every socket object is usable: attributes decode lazily and toJSON shows them', async () => {
    const socks = await listSockets({ netns: ns.name, protocols: ['tcp'], states: ['established'] });
    const s = socks[0];
    expect(s.protocol).toBe('tcp');
    if (s.protocol !== 'tcp') return;
    expect(typeof s.info?.rttUs).toBe('number');
    expect(s.skmem?.rcvbuf).toBeGreaterThan(0);
    expect(s.cong).toMatch(/^[a-z]+$/);
    const json = (s as unknown as { toJSON(): Record<string, unknown> }).toJSON();
    expect(json).toMatchObject({ protocol: 'tcp', state: 'established', cong: s.cong });
    expect((json.info as { rttUs: number }).rttUs).toBe(s.info?.rttUs);
  });
});

describeRoot('F6: duplicates under churn in a small hash table', () => {
  let outer = '';
  let ns: Netns;
  let pop: Population;
  beforeAll(async () => {
    // 128 buckets: the dump resumes inside crowded buckets, where churn shifts positions.
    ns = await createNetns({ ehashEntries: 128 });
    outer = ns.name;
    const ehash = await ns.exec(['cat', '/proc/sys/net/ipv4/tcp_ehash_entries'], { check: true });
    expect(Number(ehash.stdout.trim())).toBe(128);
    pop = await ns.spawnPopulation({ kinds: ['tcp'], extraTcpPairs: 1000 });
  }, 120_000);
  afterAll(async () => {
    await pop?.stop();
    await ns?.destroy();
  });

  test('listings never contain a cookie twice; dropped duplicates are counted; sockets of the whole run are found', async () => {
    // A churning process opens and closes connections while we list in 4 KB datagrams.
    const code = `
import socket, time
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); l.bind(('127.0.0.9', 7000)); l.listen(4096)
end = time.time() + 20
while time.time() < end:
    cs = [socket.create_connection(('127.0.0.9', 7000)) for _ in range(50)]
    acc = [l.accept()[0] for _ in range(50)]
    for s in cs + acc: s.close()
`;
    const child = spawn('ip', ['netns', 'exec', outer, pythonBinary(), '-c', code], { stdio: 'ignore' });
    try {
      const stable = new Set(pop.extra!.pairs.flatMap((p) => [p.clientCookie, p.serverCookie]));
      let dropped = 0;
      let missed = 0;
      for (let i = 0; i < 30; i++) {
        const socks = await listSockets({ netns: ns.name, protocols: ['tcp'], recvSize: 4096, extensions: 'none' });
        const cookies = socks.map((s) => s.cookie);
        expect(new Set(cookies).size).toBe(cookies.length);
        dropped += socks.duplicatesDropped;
        const seen = new Set(cookies);
        for (const c of stable) if (!seen.has(c)) missed++;
      }
      // Misses are the kernel's (documented, never asserted to be zero): report them.
      // eslint-disable-next-line no-console
      console.log(`F6: over 30 listings under churn: ${dropped} duplicates dropped, ${missed} misses of stable sockets`);
      // With 128 buckets and churn the kernel does repeat sockets: they were dropped, not returned.
      expect(dropped).toBeGreaterThan(0);
    } finally {
      child.kill('SIGKILL');
    }
  }, 120_000);
});
