/**
 * Live: the row cells and details the `sockdiag` command prints, against the real `ss`
 * (iproute2 6.1) on the same sockets, in a private network namespace holding the shared
 * population (tcp v4/v6 in many states, udp, unix, packet, netlink, mptcp) and
 * details-population.py (timers, tos/tclass/mark, service-name ports, BPF filter, fanout,
 * ring, a connected netlink socket, shut-down unix sockets, reno/cubic).
 *
 * For each set of detail options: `ss -H -a OPTIONS -A tcp,udp,unix,packet,netlink,mptcp`
 * runs, then the library lists the same tables and formatRow formats them, then ss runs
 * again. Lines are compared with whitespace runs collapsed (column padding is the table
 * layout's business, not the formatter's) and `\n\t` kept as a marker. Fields that move by
 * themselves are masked: timer remainders, rtt, last*, rates, busy/limited times. Of the
 * other fields, a line equal in both ss runs must appear exactly in ours; a line that
 * changed between the two ss runs (a zero-window probe, a packet counted) must equal one
 * of the two.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as path from 'node:path';
import { createNetns, describeRoot, pythonBinary, type Netns, type Population } from './helpers/netns';
import { SS_SHELL } from './helpers/ss';
import { listSockets } from '../lib/api/list';
import { formatRow, type FormatOptions } from '../lib/cli/format';
import { prepareFormat } from '../lib/cli/details';
import type { Row } from '../lib/cli/table';

const TABLES = ['tcp', 'udp', 'unix', 'packet', 'netlink', 'mptcp'] as const;

/** Option sets: ss's flags and the FormatOptions they mean. */
const CASES: ReadonlyArray<readonly [string[], Partial<FormatOptions>]> = [
  [[], {}],
  [['-n'], { numeric: true }],
  [['-r'], { resolve: true }],
  [['-o'], { options: true }],
  [['-e'], { extended: true }],
  [['-m'], { memory: true }],
  [['-nm', '-O'], { numeric: true, memory: true, oneline: true }],
  [['-i'], { info: true }],
  [['-noi'], { numeric: true, options: true, info: true }],
  [['-nemi'], { numeric: true, extended: true, memory: true, info: true }],
  [['-nemi', '-O'], { numeric: true, extended: true, memory: true, info: true, oneline: true }],
  [['-p'], { processes: true }],
  // -T is left to test/cli-format.test.ts: ss -T walks every thread of the host in /proc,
  // which takes ss alone 15-20 s on a loaded CI machine.
  [['-nep'], { numeric: true, extended: true, processes: true }],
  [['--tos'], { tos: true }],
  [['--cgroup'], { cgroup: true }],
  [['--inet-sockopt'], { inetSockopt: true }],
  [['--inet-sockopt', '-O'], { inetSockopt: true, oneline: true }],
  [['-b'], { bpf: true }],
  [['-eb', '-O'], { extended: true, bpf: true, oneline: true }],
];

/** Values that change by themselves between two listings. */
function mask(line: string): string {
  return line
    .replace(/timer:\(([a-zA-Z0-9_]+),[^,]*,/g, 'timer:($1,#,')
    .replace(/\b(rtt|rcv_rtt|minrtt|mrtt|lastsnd|lastrcv|lastack|busy|bw|rwnd_limited|sndbuf_limited):[0-9.]+(\/[0-9.]+)?[a-zA-Z]*(\([0-9.]+%\))?/g, '$1:#')
    .replace(/\b(send|pacing_rate|delivery_rate) [0-9.]+[kMGT]?bps(\/[0-9.]+[kMGT]?bps)?/g, '$1 #');
}

/**
 * Queues that move by themselves: packet sockets count the loopback traffic of the
 * population's retransmitting sockets, and the kernel's sock_diag socket holds the
 * request being served (ss's request and ours differ in size).
 */
function maskQueues(line: string): string {
  if (/^p_(raw|dgr) /.test(line) || /^nl \S+ \S+ \S+ (tcpdiag:kernel|4:0) /.test(line)) {
    return line.replace(/^(\S+ \S+ )\S+/, '$1#').replace(/skmem:\(r\d+/, 'skmem:(r#').replace(/,d\d+\)/, ',d#)');
  }
  return line;
}

/** One socket's text with column padding removed, `\n\t` kept visible. */
const normalize = (text: string): string => maskQueues(mask(text.replace(/\n\t/g, ' ⏎ ').replace(/\s+/g, ' ').trim()));

/** ss's lines: a line starting with a tab continues the socket above it. */
function ssSockets(stdout: string): string[] {
  const out: string[] = [];
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('\t') && out.length > 0) out[out.length - 1] += `\n${line}`;
    else out.push(line);
  }
  return out.map(normalize);
}

const rowText = (r: Row): string => normalize([r.netid, r.state, r.recvQ, r.sendQ, r.localAddr + r.localPort, r.peerAddr + r.peerPort].join(' ') + r.process);

function runSs(ns: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, 'sh', '-c', SS_SHELL, 'sh', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (status) => {
      if (status === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new Error(`ss ${args.join(' ')} exited ${status}: ${Buffer.concat(err).toString('utf8')}`));
    });
  });
}

/** Starts details-population.py in the namespace and waits for its JSON line. */
function startDetails(ns: Netns): Promise<{ child: ChildProcessWithoutNullStreams; pid: number; refused: unknown[] }> {
  const script = path.join(__dirname, 'helpers', 'details-population.py');
  const child = spawn('ip', ['netns', 'exec', ns.name, pythonBinary(), script], { stdio: ['pipe', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`details-population.py did not start: ${err}`)), 20_000);
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      const j = JSON.parse(out.slice(0, nl)) as { pid: number; refused: unknown[] };
      resolve({ child, pid: j.pid, refused: j.refused });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`details-population.py exited ${code}: ${err}`));
    });
  });
}

describeRoot('CLI details against ss on live sockets', () => {
  let ns: Netns;
  let pop: Population;
  let details: Awaited<ReturnType<typeof startDetails>>;
  let ownerPids: number[];
  const totals = { cases: 0, lines: 0, stable: 0 };

  beforeAll(async () => {
    ns = await createNetns();
    pop = await ns.spawnPopulation();
    details = await startDetails(ns);
    ownerPids = [pop.pid, ...pop.children, details.pid];
  }, 60_000);

  afterAll(async () => {
    details?.child.stdin.end();
    await ns?.destroy();
    // eslint-disable-next-line no-console
    console.log(`cli-details: ${totals.cases} option sets, ${totals.lines} socket lines equal to ss (${totals.stable} stable across two ss runs)`);
  });

  /** Netlink rows of ss's and our own transient sockets differ by nature: keep the kernel's and the populations'. */
  const keep = (line: string): boolean => {
    const m = /^nl \S+ \S+ \S+ \S+?:(\S+) /.exec(line);
    if (!m) return true;
    const owner = m[1];
    return owner === 'kernel' || owner === '0' || ownerPids.some((p) => owner === String(p) || owner.endsWith(`/${p}`));
  };

  test.each(CASES.map(([flags, o]) => [flags.join(' ') || '(none)', flags, o] as const))('ss %s', async (_name, flags, o) => {
    const args = ['-H', '-a', ...flags, '-A', TABLES.join(',')];
    const before = await runSs(ns.name, args);
    const fmt: FormatOptions = { numeric: false, processes: false, extended: false, ifnames: new Map([[1, 'lo']]), ...o };
    const sockets = await listSockets({ netns: ns.name, protocols: [...TABLES], processes: fmt.processes || fmt.threads ? { threads: !!fmt.threads } : false });
    Object.assign(fmt, await prepareFormat(sockets, fmt));
    const ours = sockets.map((s) => rowText(formatRow(s, fmt))).filter(keep);
    const after = await runSs(ns.name, args);
    const a = ssSockets(before).filter(keep);
    const b = ssSockets(after).filter(keep);
    const inB = new Set(b);
    const oursCount = new Map<string, number>();
    for (const l of ours) oursCount.set(l, (oursCount.get(l) ?? 0) + 1);
    // Stable lines must be ours exactly; lines that moved between the ss runs must be one of the two.
    const missing = a.filter((l) => inB.has(l) && !oursCount.has(l));
    const inEither = new Set([...a, ...b]);
    const unknown = ours.filter((l) => !inEither.has(l));
    expect({ missing, unknown }).toEqual({ missing: [], unknown: [] });
    // Same multiset: as many of each line as ss prints.
    const count = (list: string[]): Map<string, number> => list.reduce((m, l) => m.set(l, (m.get(l) ?? 0) + 1), new Map<string, number>());
    const ca = count(a);
    const cb = count(b);
    // The library drops a socket a dump reports twice (the kernel lists a bound netlink socket that
    // joined groups twice); ss prints both copies. Allow exactly the duplicates it counted.
    const dropped = sockets.duplicatesDropped;
    const counted = [...oursCount].filter(([l, n]) => n !== ca.get(l) && n !== cb.get(l) && !(dropped > 0 && n < (ca.get(l) ?? 0)));
    const absent = [...ca].filter(([l, n]) => n === cb.get(l) && !oursCount.has(l));
    expect({ counted, absent }).toEqual({ counted: [], absent: [] });
    // ss's own sockets of the moment (with -r, glibc's nscd socket) appear in one ss run only.
    const key = (l: string): string => { const t = l.split(' '); return [t[0], t[1], t[4], t[5]].join(' '); };
    const known = new Set([...ours.map(key), ...b.map(key)]);
    const transient = a.filter((l) => !known.has(key(l)));
    expect(ours.length + dropped).toBe(a.length - transient.length);
    if (transient.length > 0) expect(transient).toEqual([expect.stringMatching(/^(udp|nl|u_str|u_dgr) /)]);
    totals.cases++;
    totals.lines += ours.length;
    totals.stable += a.filter((l) => inB.has(l)).length;
  }, 45_000);

  test('the details population made what it was asked', () => {
    // reno/cubic, tclass, the 22/514/57000 ports and the packet options all need root in a netns: nothing may be refused.
    expect(details.refused).toEqual([]);
    expect(pop.refused.filter((r) => r.kind !== 'raw')).toEqual([]);
  });
});
