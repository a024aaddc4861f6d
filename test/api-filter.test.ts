/**
 * listSockets with a filter, against ss with the same filter on the same live sockets:
 * the kernel part (bytecode) and the userspace part (re-check) together select what ss does.
 */
import { listSockets, FilterSyntaxError, and, or, state, dport, sport } from '../lib';
import type { Filter, FilterExpr } from '../lib/filter/ast';
import { Engine, newEngineStats } from '../lib/engine';

const engine = new Engine();
import { TCPDIAG_GETSOCK } from '../lib/diag/constants';
import { createNetns, describeRoot, Netns, Population } from './helpers/netns';
import { runSs, SsTable } from './helpers/ss';

const port = (side: 'src' | 'dst', op: '<' | '<=' | '=' | '!=' | '>=' | '>', n: number): FilterExpr => ({ kind: 'port', side, op, port: n });
const host = (side: 'src' | 'dst', address: string | undefined, prefixLen?: number, p?: number): FilterExpr => ({
  kind: 'host', side, host: { family: address?.includes(':') ? 'inet6' : 'inet', address, prefixLen, port: p },
});

describeRoot('listSockets({ filter }) selects what ss selects', () => {
  let ns: Netns;
  let pop: Population;
  let listenPort = 0;
  beforeAll(async () => {
    ns = await createNetns();
    pop = await ns.spawnPopulation({ kinds: ['tcp', 'unix'], extraTcpPairs: 200 });
    listenPort = pop.extra!.port;
  }, 120_000);
  afterAll(async () => {
    await pop?.stop();
    await ns?.destroy();
  });

  // [ss words, the same filter as an AST]
  const cases = (): Array<[string[], Filter]> => [
    [['state', 'established'], { states: [{ include: true, word: 'established' }] }],
    [['state', 'listening'], { states: [{ include: true, word: 'listening' }] }],
    [['exclude', 'established'], { states: [{ include: false, word: 'established' }] }],
    [['dport', '=', `:${listenPort}`], { states: [], expr: port('dst', '=', listenPort) }],
    [['sport', '>', '1024', 'and', 'sport', '<', '40000'], { states: [], expr: { kind: 'and', items: [port('src', '>', 1024), port('src', '<', 40000)] } }],
    [['state', 'established', '(', 'dport', '=', `:${listenPort}`, 'or', 'sport', '=', `:${listenPort}`, ')'], {
      states: [{ include: true, word: 'established' }],
      expr: { kind: 'or', items: [port('dst', '=', listenPort), port('src', '=', listenPort)] },
    }],
    [['dst', '127.0.0.0/8'], { states: [], expr: host('dst', '127.0.0.0', 8) }],
    [['src', '[::1]'], { states: [], expr: host('src', '::1') }],
    [['not', 'src', '127.0.0.1'], { states: [], expr: { kind: 'not', item: host('src', '127.0.0.1') } }],
    [['dev', 'lo'], { states: [], expr: { kind: 'dev', op: '=', device: 'lo' } }],
    [['autobound'], { states: [], expr: { kind: 'autobound' } }],
  ];

  test('a filter with a syntax error rejects with FilterSyntaxError naming the position', async () => {
    await expect(listSockets({ netns: ns.name, filter: 'dport = :22 or (' })).rejects.toBeInstanceOf(FilterSyntaxError);
    await expect(listSockets({ netns: ns.name, filter: 'sport >= :ssh and bogus' })).rejects.toMatchObject({ position: 18, token: 'bogus' });
    // A cgroup that does not exist is a bad value (exit status 1 in the CLI), as in ss.
    await expect(listSockets({ netns: ns.name, filter: 'dport = :1 or cgroup /no/such/cgroup' })).rejects.toMatchObject({ name: 'FilterValueError', position: 21, token: '/no/such/cgroup', exitStatus: 1 });
  });

  test('the builder gives the same sockets as the text', async () => {
    const built = await listSockets({ netns: ns.name, protocols: ['tcp'], filter: and(state('established'), or(dport.eq(listenPort), sport.eq(listenPort))) });
    const text = await listSockets({ netns: ns.name, protocols: ['tcp'], filter: `state established ( dport = :${listenPort} or sport = :${listenPort} )` });
    expect(built.map((s) => s.cookie).sort()).toEqual(text.map((s) => s.cookie).sort());
    expect(built.length).toBeGreaterThanOrEqual(400);
  });

  test('a filtered TCP listing of both families walks the table once and returns what two one-family listings return, IPv4 first', async () => {
    const listing = await engine.plan({ netns: ns.name, protocols: ['tcp'], filter: 'dst 127.0.0.0/8 or src [::1]' }, newEngineStats(), 'filtered');
    expect(listing.dumps).toHaveLength(1);
    expect(listing.dumps[0].plan.mixedFamilies).toBe(true);
    expect(listing.dumps[0].plan.request.readUInt16LE(4)).toBe(TCPDIAG_GETSOCK);
    for (const filter of ['dst 127.0.0.0/8 or src [::1]', `sport = :${listenPort} or dport = :${listenPort}`, 'not src 127.0.0.1']) {
      const both = await listSockets({ netns: ns.name, protocols: ['tcp'], filter });
      const v4 = await listSockets({ netns: ns.name, protocols: ['tcp'], families: ['inet'], filter });
      const v6 = await listSockets({ netns: ns.name, protocols: ['tcp'], families: ['inet6'], filter });
      expect(v4.length + v6.length).toBeGreaterThan(0);
      // The population's sockets do not change between the three listings.
      expect(both.map((s) => `${s.family} ${s.cookie}`).sort()).toEqual([...v4, ...v6].map((s) => `${s.family} ${s.cookie}`).sort());
      const families = both.map((s) => s.family);
      expect(families).toEqual([...families].sort((a, b) => (a === b ? 0 : a === 'inet' ? -1 : 1)));
    }
    // Unfiltered and streamed listings keep one dump per family (ss's order).
    expect((await engine.plan({ protocols: ['tcp'] }, newEngineStats(), 'filtered')).dumps).toHaveLength(2);
    expect((await engine.plan({ protocols: ['tcp'], filter: 'dport = :1' }, newEngineStats())).dumps).toHaveLength(2);
  });

  test('tcp (v4 and v6) and unix, for state words, ports, hosts, not, dev and autobound', async () => {
    let compared = 0;
    for (const [words, filter] of cases()) {
      for (const [table, protocols] of [['tcp4', ['tcp']], ['tcp6', ['tcp']], ['unix', ['unix']]] as Array<[SsTable, ('tcp' | 'unix')[]]>) {
        // ss rejects a host of the other family when -4/-6 is given.
        const text = words.join(' ');
        if ((table === 'tcp6' && /\d+\.\d+\.\d+\.\d+/.test(text)) || (table === 'tcp4' && text.includes('['))) continue;
        if (table === 'unix' && filter.expr !== undefined) continue; // inet predicates on unix sockets: issue 3 covers them
        // With a single state selected ss drops the State column, which the row parser expects.
        const singleState = filter.states.length === 1 && filter.states[0].include;
        if (table === 'unix' && singleState) continue;
        const fam = table === 'tcp4' ? ['inet' as const] : table === 'tcp6' ? ['inet6' as const] : undefined;
        const ours = await listSockets({ netns: ns.name, protocols, filter, ...(fam ? { families: fam } : {}) });
        const key = (x: { inode: number; cookie?: bigint }): string => (table === 'unix' ? String(x.inode) : String(x.cookie));
        let theirs: string[];
        if (table === 'unix') {
          theirs = (await runSs(ns.name, table, ['-a', ...words])).records.map((r) => String(r.unix?.inode)).sort();
        } else {
          // Cookies straight from the `sk:` of each line (-e), whatever columns ss chose.
          const r = await ns.exec(['ss', '-H', '-n', '-e', '-t', table === 'tcp4' ? '-4' : '-6', '-a', ...words], { check: true });
          theirs = [...r.stdout.matchAll(/ sk:([0-9a-f]+)/g)].map((m) => String(BigInt(`0x${m[1]}`))).sort();
        }
        expect({ filter: words.join(' '), table, sockets: ours.map((s) => key(s)).sort() }).toEqual({ filter: words.join(' '), table, sockets: theirs });
        // The same filter as ss text gives the same sockets.
        const fromText = await listSockets({ netns: ns.name, protocols, filter: text, ...(fam ? { families: fam } : {}) });
        expect(fromText.map((s) => key(s)).sort()).toEqual(theirs);
        compared += theirs.length;
      }
    }
    expect(compared).toBeGreaterThan(500);
  }, 120_000);

  test('autobound uses the listed namespace’s ephemeral port range, not this process’s', async () => {
    const rangeFile = '/proc/sys/net/ipv4/ip_local_port_range';
    const before = (await ns.exec(['cat', rangeFile], { check: true })).stdout.trim();
    await ns.exec(['sh', '-c', `echo '50000 60999' > ${rangeFile}`], { check: true });
    try {
      const ours = (await listSockets({ netns: ns.name, protocols: ['tcp'], filter: 'autobound' })).map((s) => String(s.cookie)).sort();
      const r = await ns.exec(['ss', '-H', '-n', '-e', '-t', '-a', 'autobound'], { check: true });
      const theirs = [...r.stdout.matchAll(/ sk:([0-9a-f]+)/g)].map((m) => String(BigInt(`0x${m[1]}`))).sort();
      expect(ours).toEqual(theirs);
      // The host's range (this process's) would select more: the test can tell them apart.
      const all = await listSockets({ netns: ns.name, protocols: ['tcp'] });
      const [lo] = before.split(/\s+/).map(Number);
      expect(all.some((s) => 'local' in s && s.local.port >= lo && s.local.port < 50000 && s.state !== 'listening')).toBe(true);
    } finally {
      await ns.exec(['sh', '-c', `echo '${before}' > ${rangeFile}`], { check: true });
    }
  });
});
