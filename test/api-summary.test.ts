/**
 * summary() = `ss -s`, and formatSummary() = its text, byte for byte.
 *
 * - Formatting and arithmetic: `ss -s` reads /proc/net/sockstat, sockstat6 and snmp from
 *   the paths in PROC_NET_SOCKSTAT, PROC_NET_SOCKSTAT6 and PROC_NET_SNMP when set, so ss and
 *   sockdiag are given the very same files (captured in a namespace, and made up ones with
 *   wide, negative and missing figures) and their texts must be identical.
 * - Live: in a namespace with a known population, every number equals what `ss -s` prints
 *   there, and the per-namespace counts also equal what a dump of the same sockets counts.
 *   The TCP total, "closed" and "orphaned" rest on kernel-wide counters that other tests'
 *   sockets move, so those are compared on a reading that ss brackets (ours, ss, ours).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { summary, formatSummary, parseSummaryFiles, summaryFromFigures, Summary } from '../lib/api/summary';
import { listSockets } from '../lib/api/list';
import { createNetns, describeRoot, runCommand, Netns, Population } from './helpers/netns';

/** `ss -s` as numbers, parsed from its text (independently of lib/api/summary). */
function parseSsSummary(text: string): Omit<Summary, 'figures'> {
  const total = /^Total: (-?\d+)$/m.exec(text);
  const tcp = /^TCP: +(-?\d+) \(estab (-?\d+), closed (-?\d+), orphaned (-?\d+), timewait (-?\d+)\)$/m.exec(text);
  if (!total || !tcp) throw new Error(`not ss -s output: ${JSON.stringify(text)}`);
  const row = (name: string): { total: number; ipv4: number; ipv6: number } => {
    const m = new RegExp(`^${name}\\t +(-?\\d+) +(-?\\d+) +(-?\\d+) *$`, 'm').exec(text);
    if (!m) throw new Error(`no ${name} row in ${JSON.stringify(text)}`);
    return { total: Number(m[1]), ipv4: Number(m[2]), ipv6: Number(m[3]) };
  };
  return {
    total: Number(total[1]),
    tcp: { total: Number(tcp[1]), estab: Number(tcp[2]), closed: Number(tcp[3]), orphaned: Number(tcp[4]), timewait: Number(tcp[5]) },
    transport: { raw: row('RAW'), udp: row('UDP'), tcp: row('TCP'), inet: row('INET'), frag: row('FRAG') },
  };
}

/** `ss -s` over the given file texts (undefined: that file is missing). */
async function ssOverFiles(dir: string, files: { sockstat: string; sockstat6?: string; snmp: string }): Promise<string> {
  const p = (n: string): string => path.join(dir, n);
  writeFileSync(p('sockstat'), files.sockstat);
  rmSync(p('sockstat6'), { force: true });
  if (files.sockstat6 !== undefined) writeFileSync(p('sockstat6'), files.sockstat6);
  writeFileSync(p('snmp'), files.snmp);
  const r = await runCommand('ss', ['-s'], {
    env: { ...process.env, PROC_NET_SOCKSTAT: p('sockstat'), PROC_NET_SOCKSTAT6: p('sockstat6'), PROC_NET_SNMP: p('snmp') },
    check: true,
  });
  return r.stdout;
}

const SNMP = (estab: number): string =>
  'Ip: Forwarding DefaultTTL InReceives\nIp: 1 64 10\n' +
  'Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors\n' +
  `Tcp: 1 200 120000 -1 5 6 0 0 ${estab} 100 100 0 0 0 0\n` +
  'Udp: InDatagrams NoPorts\nUdp: 3 4\n';

const sockstat = (v: { used: number; tcp: number; orphan: number; tw: number; alloc: number; udp: number; raw: number; frag: number; fragMem: number }): string =>
  `sockets: used ${v.used}\nTCP: inuse ${v.tcp} orphan ${v.orphan} tw ${v.tw} alloc ${v.alloc} mem 7\nUDP: inuse ${v.udp} mem 2\n` +
  `UDPLITE: inuse 0\nRAW: inuse ${v.raw}\nFRAG: inuse ${v.frag} memory ${v.fragMem}\n`;
const sockstat6 = (v: { tcp: number; udp: number; raw: number; frag: number }): string =>
  `TCP6: inuse ${v.tcp}\nUDP6: inuse ${v.udp}\nUDPLITE6: inuse 0\nRAW6: inuse ${v.raw}\nFRAG6: inuse ${v.frag} memory 0\n`;

describe('formatSummary: the text of ss -s over the same /proc files', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sockdiag-summary-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const cases: [string, { sockstat: string; sockstat6?: string; snmp: string }][] = [
    ['all zero', { sockstat: sockstat({ used: 0, tcp: 0, orphan: 0, tw: 0, alloc: 0, udp: 0, raw: 0, frag: 0, fragMem: 0 }), sockstat6: sockstat6({ tcp: 0, udp: 0, raw: 0, frag: 0 }), snmp: SNMP(0) }],
    [
      'every figure distinct',
      { sockstat: sockstat({ used: 311, tcp: 17, orphan: 3, tw: 5, alloc: 40, udp: 7, raw: 2, frag: 4, fragMem: 9000 }), sockstat6: sockstat6({ tcp: 11, udp: 13, raw: 1, frag: 6 }), snmp: SNMP(9) },
    ],
    [
      // (Sums stay below 2^31: past it ss's C ints wrap, and sockdiag's numbers do not.)
      'figures wider than ss columns, and a negative "closed"',
      { sockstat: sockstat({ used: 1234567890, tcp: 999999999, orphan: 12, tw: 1000000, alloc: 5, udp: 123456789, raw: 0, frag: 0, fragMem: 0 }), sockstat6: sockstat6({ tcp: 1000000000, udp: 1, raw: 77, frag: 0 }), snmp: SNMP(2147483647) },
    ],
    ['no sockstat6 (IPv6 disabled)', { sockstat: sockstat({ used: 9, tcp: 3, orphan: 0, tw: 1, alloc: 8, udp: 2, raw: 0, frag: 0, fragMem: 0 }), snmp: SNMP(2) }],
  ];
  test.each(cases)('%s', async (_name, files) => {
    const ss = await ssOverFiles(dir, files);
    const ours = formatSummary(summaryFromFigures(parseSummaryFiles(files.sockstat, files.sockstat6 ?? '', files.snmp)));
    expect(ours).toBe(ss);
  });

  test('the numbers are ss arithmetic on the figures (an independent parse of ss text agrees)', async () => {
    const files = cases[1][1];
    const s = summaryFromFigures(parseSummaryFiles(files.sockstat, files.sockstat6!, files.snmp));
    expect({ total: s.total, tcp: s.tcp, transport: s.transport }).toEqual(parseSsSummary(await ssOverFiles(dir, files)));
    expect(s).toMatchObject({
      total: 311,
      tcp: { total: 45, estab: 9, closed: 40 - (17 + 11 - 5), orphaned: 3, timewait: 5 },
      transport: { inet: { total: 2 + 7 + 17 + 1 + 13 + 11, ipv4: 26, ipv6: 25 }, frag: { total: 10, ipv4: 4, ipv6: 6 } },
    });
    expect(s.figures).toMatchObject({ tcpAlloc: 40, tcpMemPages: 7, frag4Memory: 9000, tcpCurrEstab: 9 });
  });
});

describeRoot('summary() in a namespace = ss -s there', () => {
  let ns: Netns;
  let pop: Population;
  let dir: string;
  beforeAll(async () => {
    ns = await createNetns();
    dir = mkdtempSync(path.join(tmpdir(), 'sockdiag-summary-live-'));
    pop = await ns.spawnPopulation({ kinds: ['tcp', 'udp', 'unix'], extraTcpPairs: 40, extraFamily: 'inet6' });
  }, 60_000);
  afterAll(async () => {
    await pop?.stop();
    await ns?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const ssSummary = async (): Promise<string> => (await ns.exec(['ss', '-s'], { check: true })).stdout;

  test('the per-namespace numbers equal ss -s, and a dump of the same sockets counts the same', async () => {
    const ours = await summary({ netns: ns.name });
    const ss = parseSsSummary(await ssSummary());
    expect(ours.total).toBe(ss.total);
    expect(ours.transport).toEqual(ss.transport);
    expect(ours.tcp.estab).toBe(ss.tcp.estab);
    expect(ours.tcp.timewait).toBe(ss.tcp.timewait);

    // The same figures from a dump: TCP "inuse" counts the hashed full sockets (not
    // TIME-WAIT, not SYN-RECV requests), CurrEstab ESTABLISHED + CLOSE-WAIT.
    const socks = await listSockets({ netns: ns.name, protocols: ['tcp', 'udp'], extensions: 'none' });
    const count = (p: string, fam: string, pred: (state: string) => boolean): number =>
      socks.filter((s) => s.protocol === p && (s as { family: string }).family === fam && pred(s.state)).length;
    const hashed = (st: string): boolean => st !== 'time-wait' && st !== 'syn-recv';
    expect(ours.transport.tcp).toEqual({ total: count('tcp', 'inet', hashed) + count('tcp', 'inet6', hashed), ipv4: count('tcp', 'inet', hashed), ipv6: count('tcp', 'inet6', hashed) });
    expect(ours.transport.udp.ipv4).toBe(count('udp', 'inet', () => true));
    expect(ours.transport.udp.ipv6).toBe(count('udp', 'inet6', () => true));
    const both = (st: string): number => count('tcp', 'inet', (x) => x === st) + count('tcp', 'inet6', (x) => x === st);
    expect(ours.tcp.estab).toBe(both('established') + both('close-wait'));
    expect(ours.tcp.timewait).toBe(both('time-wait'));
    // And the population's own account of what it made.
    expect(ours.tcp.estab).toBeGreaterThanOrEqual(80 + pop.sockets.filter((s) => s.kind === 'tcp' && s.state === 'established').length);
    expect(ours.transport.udp.total).toBe(pop.sockets.filter((s) => s.kind === 'udp').length);
    expect(ours.transport.raw).toEqual({ total: 0, ipv4: 0, ipv6: 0 });
  });

  test('formatSummary(summary()) is byte for byte what ss -s prints (on a reading ss brackets)', async () => {
    const seen: string[] = [];
    let equal = false;
    for (let attempt = 0; attempt < 20 && !equal; attempt++) {
      const before = formatSummary(await summary({ netns: ns.name }));
      const ss = await ssSummary();
      const after = formatSummary(await summary({ netns: ns.name }));
      equal = ss === before || ss === after;
      if (!equal) seen.push(`ours: ${JSON.stringify(before)}\nss:   ${JSON.stringify(ss)}\nours: ${JSON.stringify(after)}`);
    }
    if (!equal) throw new Error(`never equal in 20 attempts:\n${seen.slice(-3).join('\n')}`);
  });

  test('the files read are those of the namespace: equal to `cat` run inside it, and ss over those files prints our text', async () => {
    for (let attempt = 0; ; attempt++) {
      const cat = async (f: string): Promise<string> => (await ns.exec(['cat', `/proc/net/${f}`], { check: true })).stdout;
      const files = { sockstat: await cat('sockstat'), sockstat6: await cat('sockstat6'), snmp: await cat('snmp') };
      const fromFiles = parseSummaryFiles(files.sockstat, files.sockstat6, files.snmp);
      const ours = (await summary({ netns: ns.path })).figures;
      // Kernel-wide counters may have moved between the two readings: retry those.
      const stable = ours.tcpAlloc === fromFiles.tcpAlloc && ours.tcpOrphans === fromFiles.tcpOrphans && ours.tcpMemPages === fromFiles.tcpMemPages;
      if (stable || attempt === 10) {
        // Under heavy load elsewhere the kernel-wide counters may never hold still: then only
        // the namespace's own figures are compared exactly.
        const own = (f: typeof ours): Partial<typeof ours> => (stable ? f : { ...f, tcpAlloc: undefined, tcpOrphans: undefined, tcpMemPages: undefined });
        expect(own(ours)).toEqual(own(fromFiles));
        expect(formatSummary(summaryFromFigures(fromFiles))).toBe(await ssOverFiles(dir, files));
        break;
      }
    }
  });

  test('a namespace named by pid is the same namespace', async () => {
    const byName = await summary({ netns: ns.name });
    const byPid = await summary({ netns: pop.pid });
    expect(byPid.transport).toEqual(byName.transport);
    expect(byPid.total).toBe(byName.total);
  });
});
