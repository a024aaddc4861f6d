/**
 * Issue 3, property test: random inet filter ASTs over a live population of TCP sockets in a
 * private network namespace. For every generated filter and for each of `-4` and `-6`, three
 * independent selections must be the same set of socket cookies:
 *
 *   (1) `listSockets({ filter: ast })`: the kernel runs our bytecode, the library re-checks in
 *       userspace what the bytecode cannot express;
 *   (2) an unfiltered `listSockets`, filtered here in JS by the state mask of
 *       `filterStateMask` and `matchesFilter(ast.expr, s)`;
 *   (3) `ss -H -n -e -t -4|-6 -a <filterToString(ast) split into words>`, cookies read from
 *       ` sk:<hex>`.
 *
 * The population is built so that the kernel's `autobound` (port not bound by the user) and
 * ss's rule (local port in net.ipv4.ip_local_port_range) agree on every socket: sockets bound
 * by the user to a fixed port sit outside the ephemeral range and a listener bound to a fixed
 * port outside that range accepts no connection (an accepted socket is never "user-bound" to
 * the kernel). Where the two rules disagree (filter-bytecode.test.ts shows such sockets), ss
 * and listSockets give kernel ∧ rule, which a per-socket evaluator cannot reproduce.
 *
 * HARD RULE: nothing here touches the host's sockets. The namespace is private (loopback
 * only) and is removed at the end; ss runs inside it through nsenter.
 *
 * Two state-word cases the property found are pinned as plain tests below (they fail until
 * the library follows ss there): state words that cancel out to an empty set, and masks that
 * keep new-syn-recv (bit 12) while dropping syn-recv (bit 3).
 *
 * FILTER_PROPERTY_RUNS (default 150) and FC_SEED replay or widen a run.
 */
import { execFile } from 'node:child_process';
import fc from 'fast-check';
import { listSockets } from '../lib';
import type { Filter, FilterExpr, InetHost, PortOp, StateClause, StateWord } from '../lib/filter/ast';
import { filterToString } from '../lib/filter/print';
import { parseFilter } from '../lib/filter/parse';
import { filterStateMask } from '../lib/filter/bytecode';
import { matchesFilter, type EvaluateContext } from '../lib/filter/evaluate';
import { ALL_STATES_MASK, STATE_NUMBERS } from '../lib/diag/constants';
import type { InetSocket } from '../lib/diag/inet';
import { formatIPv6, parseAddressInto } from '../lib/diag/inet/address';
import type { Socket } from '../lib/diag/socket';
import { createNetns, describeRoot, startPython, type Helper, type Netns, type Population } from './helpers/netns';

type Fam = 'inet' | 'inet6';
const FAMS: readonly Fam[] = ['inet', 'inet6'];

// Extra IPv6 addresses put on the namespace's lo (127.0.0.0/8 needs none).
const V6_ADDRESSES = ['fd00::1', 'fd00::2', '2001:db8::5'];

// ---------------------------------------------------------------------------------------
// A varied population: several source addresses and ports, listeners (wildcard, specific,
// fixed and ephemeral ports, dual-stack), established pairs (v4, v6, v4-mapped), half-closed
// pairs (FIN-WAIT-2 / CLOSE-WAIT), sockets bound to lo with SO_BINDTODEVICE.

const POPULATION = String.raw`
import json, os, socket, sys, time
def in_test_netns():
    try:
        mine = os.stat('/proc/self/ns/net').st_ino
        names = os.listdir('/var/run/netns')
    except OSError:
        return False
    return any(n.startswith('sd-') and os.stat('/var/run/netns/' + n).st_ino == mine for n in names)
if not in_test_netns():
    raise SystemExit('refusing to run outside a test network namespace')
A4, A6 = socket.AF_INET, socket.AF_INET6
SO_BINDTODEVICE = 25
keep = []
def sock(af, dev=False, v6only=None):
    s = socket.socket(af, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if v6only is not None: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if v6only else 0)
    if dev: s.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, b'lo')
    keep.append(s)
    return s
def listen(af, addr, port=0, dev=False, v6only=None):
    s = sock(af, dev, v6only if af == A6 else None)
    s.bind((addr, port)); s.listen(64)
    return s
def connect(l, af, dest, bind=None, dev=False, shut=False):
    c = sock(af, dev)
    if bind is not None: c.bind(bind)
    c.connect((dest, l.getsockname()[1]))
    a, _ = l.accept(); keep.append(a)
    if shut: c.shutdown(socket.SHUT_WR)
# IPv4: ephemeral listeners with clients from several addresses, some on fixed ports.
la = listen(A4, '127.0.0.1')
for _ in range(2): connect(la, A4, '127.0.0.1')
for _ in range(2): connect(la, A4, '127.0.0.1', bind=('127.0.0.2', 0))
for i in range(2): connect(la, A4, '127.0.0.1', bind=('127.0.0.3', 1000 + i))
connect(la, A4, '127.0.0.1', shut=True)
lb = listen(A4, '127.0.0.5')
for i in range(2): connect(lb, A4, '127.0.0.5', bind=('127.0.0.4', 2000 + i))
connect(lb, A4, '127.0.0.5', bind=('127.0.0.4', 0))
connect(lb, A4, '127.0.0.5', bind=('127.0.0.4', 2002), shut=True)
# Listeners on fixed ports outside the ephemeral range: no connections (see the header).
for addr, port in (('0.0.0.0', 22), ('127.0.0.1', 443), ('127.0.0.9', 1024), ('127.0.0.1', 8080), ('127.0.0.6', 80)):
    listen(A4, addr, port)
# A fixed port inside the ephemeral range: its listener goes away once it has accepted.
lf = listen(A4, '127.0.0.6', 45000)
for _ in range(2): connect(lf, A4, '127.0.0.6', bind=('127.0.0.7', 0))
keep.remove(lf); lf.close()
# Bound to lo (SO_BINDTODEVICE): listener and one client; another client is not.
ld = listen(A4, '127.0.0.8', dev=True)
connect(ld, A4, '127.0.0.8', dev=True)
connect(ld, A4, '127.0.0.8', bind=('127.0.0.8', 3000))
# IPv6.
l6 = listen(A6, '::1', v6only=True)
for _ in range(2): connect(l6, A6, '::1')
connect(l6, A6, '::1', bind=('::1', 1001))
connect(l6, A6, '::1', shut=True)
l6b = listen(A6, 'fd00::1', v6only=True)
for _ in range(2): connect(l6b, A6, 'fd00::1', bind=('fd00::2', 0))
connect(l6b, A6, 'fd00::1', bind=('fd00::2', 3001))
connect(l6b, A6, 'fd00::1', bind=('2001:db8::5', 3002), shut=True)
for addr, port in (('::', 22), ('fd00::2', 443), ('2001:db8::5', 80), ('::1', 1024)):
    listen(A6, addr, port, v6only=True)
l6d = listen(A6, 'fd00::2', dev=True, v6only=True)
connect(l6d, A6, 'fd00::2', dev=True)
connect(l6d, A6, 'fd00::2', bind=('::1', 0))
# Dual-stack: IPv4 clients give v4-mapped accepted sockets; a v6 client talks v4-mapped.
lm = listen(A6, '::', v6only=False)
for _ in range(2): connect(lm, A4, '127.0.0.1', bind=('127.0.0.2', 0))
connect(lm, A6, '::ffff:127.0.0.8')
connect(lm, A6, '::ffff:127.0.0.3', bind=('::ffff:127.0.0.3', 1500))
time.sleep(0.2)
print(json.dumps({'count': len(keep)}), flush=True)
sys.stdin.read()
`;

interface Holder {
  helper: Helper;
  count: number;
}

async function startHolder(ns: Netns): Promise<Holder> {
  const helper = await startPython(ns, POPULATION);
  return { helper, count: helper.info.count as number };
}

function run(cmd: string, args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 64 << 20, timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (err as { code?: unknown }).code : 0;
      resolve({ status: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

// ---------------------------------------------------------------------------------------
// Generators.

// State words ss 6.1 knows (it has neither new-syn-recv nor bound-inactive).
const SS61_STATE_WORDS: readonly StateWord[] = [
  'established', 'syn-sent', 'syn-recv', 'fin-wait-1', 'fin-wait-2', 'time-wait', 'closed', 'close-wait',
  'last-ack', 'listening', 'closing', 'unknown', 'all', 'connected', 'synchronized', 'bucket', 'big',
];

const PORT_OPS: readonly PortOp[] = ['<', '<=', '=', '!=', '>=', '>'];

const V4_POOL = [
  '127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.7', '127.0.0.8',
  '127.0.0.9', '127.0.0.0', '0.0.0.0', '10.0.0.1', '255.255.255.255',
];
const V6_POOL = [
  '::1', '::', ...V6_ADDRESSES, 'fd00::', '::ffff:127.0.0.1', '::ffff:127.0.0.2', '::ffff:127.0.0.3',
  '::ffff:127.0.0.8', '::ffff:0.0.0.0', 'fe80::1', '2001:db8::',
];

/** and/or in the parser's shape: at least two items, the first never of the same kind. */
function join(kind: 'and' | 'or', items: FilterExpr[]): FilterExpr {
  const first = items[0];
  return first.kind === kind ? { kind, items: [...first.items, ...items.slice(1)] } : { kind, items };
}

function filterArb(fam: Fam, ports: readonly number[]): fc.Arbitrary<Filter> {
  const v6 = fam === 'inet6';
  const portArb = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...ports) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 65535 }) });
  const bits = v6 ? 128 : 32;
  const prefixArb = fc.oneof(
    fc.constantFrom(...(v6 ? [0, 8, 16, 64, 96, 104, 112, 120, 124, 126, 127, 128] : [0, 1, 8, 16, 24, 29, 30, 31, 32])),
    fc.integer({ min: 0, max: bits }),
  );
  const addrArb = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...(v6 ? V6_POOL : V4_POOL)) }, { weight: 1, arbitrary: v6 ? fc.ipV6() : fc.ipV4() });
  const hostArb = fc
    .record({
      side: fc.constantFrom('src' as const, 'dst' as const),
      address: fc.option(addrArb, { nil: undefined, freq: 4 }),
      prefixLen: fc.option(prefixArb, { nil: undefined, freq: 2 }),
      port: fc.option(portArb, { nil: undefined, freq: 2 }),
      withFamily: fc.boolean(),
    })
    .map(({ side, address, prefixLen, port, withFamily }): FilterExpr => {
      const host: InetHost = { family: withFamily ? fam : undefined };
      if (address !== undefined) {
        // fc.ipV6() may give forms inet_ntop would not print: keep the AST canonical.
        host.address = v6 ? canonicalV6(address) : address;
        if (prefixLen !== undefined) host.prefixLen = prefixLen;
      }
      if (port !== undefined) host.port = port;
      return { kind: 'host', side, host };
    });
  const portLeaf = fc
    .tuple(fc.constantFrom('src' as const, 'dst' as const), fc.constantFrom(...PORT_OPS), portArb)
    .map(([side, op, port]): FilterExpr => ({ kind: 'port', side, op, port }));
  const leafArb: fc.Arbitrary<FilterExpr> = fc.oneof(
    { weight: 5, arbitrary: portLeaf },
    { weight: 5, arbitrary: hostArb },
    { weight: 1, arbitrary: fc.constant<FilterExpr>({ kind: 'autobound' }) },
    { weight: 1, arbitrary: fc.constantFrom<FilterExpr>({ kind: 'dev', op: '=', device: 'lo' }, { kind: 'dev', op: '!=', device: 'lo' }) },
  );
  const { expr } = fc.letrec<{ expr: FilterExpr }>((tie) => ({
    expr: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leafArb,
      fc.array(tie('expr'), { minLength: 2, maxLength: 3 }).map((items) => join('and', items)),
      fc.array(tie('expr'), { minLength: 2, maxLength: 3 }).map((items) => join('or', items)),
      tie('expr').map((item): FilterExpr => ({ kind: 'not', item })),
    ),
  }));
  const clause = fc.record({ include: fc.boolean(), word: fc.constantFrom(...SS61_STATE_WORDS) });
  const statesArb: fc.Arbitrary<StateClause[]> = fc.oneof(
    { weight: 3, arbitrary: fc.constant<StateClause[]>([]) },
    { weight: 2, arbitrary: fc.array(clause, { minLength: 1, maxLength: 3 }) },
  );
  return fc
    .tuple(statesArb, fc.option(expr, { nil: undefined, freq: 12 }))
    .map(([states, e]): Filter => (e === undefined ? { states } : { states, expr: e }));
}

/** An IPv6 address as inet_ntop prints it (what the parser produces). */
function canonicalV6(text: string): string {
  const b = Buffer.alloc(16);
  parseAddressInto(text, b, 0);
  return formatIPv6(b, 0);
}

// ---------------------------------------------------------------------------------------

const key = (s: Socket): string => s.cookie.toString();

function describeSocket(s: Socket | undefined, cookie: string): string {
  if (!s) return `${cookie} (not in the unfiltered listing)`;
  const t = s as InetSocket;
  const ep = (e: { address: string; port: number }): string => (e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`);
  return `${cookie} ${t.state} ${ep(t.local)} -> ${ep(t.remote)}${t.interface ? ` if${t.interface}` : ''}`;
}

function diff(name: string, a: readonly string[], b: readonly string[], names: [string, string], byCookie: Map<string, Socket>): string | undefined {
  const sa = new Set(a);
  const sb = new Set(b);
  const onlyA = a.filter((c) => !sb.has(c));
  const onlyB = b.filter((c) => !sa.has(c));
  if (onlyA.length === 0 && onlyB.length === 0) return undefined;
  const lines = [`  ${name}:`];
  for (const c of onlyA) lines.push(`    only in ${names[0]}: ${describeSocket(byCookie.get(c), c)}`);
  for (const c of onlyB) lines.push(`    only in ${names[1]}: ${describeSocket(byCookie.get(c), c)}`);
  return lines.join('\n');
}

/** cookie → state: what must not change while one filter is compared. */
function snapshot(list: readonly Socket[]): string {
  return list
    .map((s) => `${s.cookie}:${(s as InetSocket).state}`)
    .sort()
    .join(',');
}

interface Stats {
  generated: number;
  compared: number;
  retried: number;
  nonEmpty: number;
  proper: number;
  distinct: Set<string>;
}

const shellQuote = (w: string): string => `'${w.replace(/'/g, `'\\''`)}'`;

describeRoot('filter property: listSockets (kernel + recheck) = matchesFilter = ss, on random filters', () => {
  let ns: Netns;
  let pop: Population;
  let holder: Holder;
  let ctx: EvaluateContext;
  let ports: number[] = [];
  let initial: Socket[] = [];

  beforeAll(async () => {
    ns = await createNetns();
    for (const a of V6_ADDRESSES) await ns.exec(['ip', '-6', 'addr', 'add', `${a}/128`, 'dev', 'lo', 'nodad'], { check: true });
    // TIME-WAIT, SYN-RECV, SYN-SENT, a listener of another uid, and 20 more IPv6 pairs.
    pop = await ns.spawnPopulation({ kinds: ['tcp'], extraTcpPairs: 20, extraFamily: 'inet6' });
    holder = await startHolder(ns);
    const range = (await ns.exec(['cat', '/proc/sys/net/ipv4/ip_local_port_range'], { check: true })).stdout.trim().split(/\s+/).map(Number);
    const lo = Number((await ns.exec(['cat', '/sys/class/net/lo/ifindex'], { check: true })).stdout.trim());
    // The namespace's own values, as ss reads them there.
    ctx = { ephemeralPorts: [range[0], range[1]], ifindex: (n) => (n === 'lo' ? lo : undefined) };
    initial = await listSockets({ netns: ns.name, protocols: ['tcp'] });
    const seen = new Set<number>([0, 1, 22, 80, 443, 1000, 1024, 2000, 3000, 32767, 32768, 45000, 60999, 61000, 65535]);
    for (const s of initial as InetSocket[]) {
      seen.add(s.local.port);
      seen.add(s.remote.port);
    }
    ports = [...seen].sort((a, b) => a - b);
  }, 120_000);

  afterAll(async () => {
    await holder?.helper.stop();
    await pop?.stop();
    await ns?.destroy();
  });

  test('the population is varied', () => {
    const inet = initial as InetSocket[];
    for (const fam of FAMS) {
      const mine = inet.filter((s) => s.family === fam);
      expect({ fam, listening: mine.some((s) => s.state === 'listening'), established: mine.some((s) => s.state === 'established') }).toEqual({
        fam,
        listening: true,
        established: true,
      });
      expect(new Set(mine.map((s) => s.local.address)).size).toBeGreaterThanOrEqual(4);
      expect(mine.some((s) => s.interface !== 0)).toBe(true);
    }
    expect(new Set(inet.map((s) => s.state)).size).toBeGreaterThanOrEqual(5);
    expect(holder.count).toBeGreaterThan(50);
  });

  /**
   * One comparison of the three selections for a v4 and a v6 filter: undefined when they
   * agree, 'churn' when the population changed meanwhile, else the report.
   */
  const checkOnce = async (filters: Record<Fam, Filter>, stats?: Stats): Promise<string | undefined | 'churn'> => {
    const text: Record<Fam, string> = { inet: filterToString(filters.inet), inet6: filterToString(filters.inet6) };
    const script = FAMS.map(
      (f) => `ss -H -n -e -t ${f === 'inet' ? '-4' : '-6'} -a ${text[f].split(/\s+/).filter(Boolean).map(shellQuote).join(' ')}; echo "@@rc $?"`,
    ).join('; ');
    const before = await listSockets({ netns: ns.name, protocols: ['tcp'] });
    const [ssOut, ours4, ours6] = await Promise.all([
      run('nsenter', [`--net=${ns.path}`, 'sh', '-c', script]),
      listSockets({ netns: ns.name, protocols: ['tcp'], families: ['inet'], filter: filters.inet }),
      listSockets({ netns: ns.name, protocols: ['tcp'], families: ['inet6'], filter: filters.inet6 }),
    ]);
    const after = await listSockets({ netns: ns.name, protocols: ['tcp'] });
    if (snapshot(before) !== snapshot(after)) return 'churn';
    const parts = ssOut.stdout.split(/^@@rc (\d+)\n/m);
    // ['out4', 'rc4', 'out6', 'rc6', '']
    if (parts.length !== 5 || parts[1] !== '0' || parts[3] !== '0') {
      return `ss failed on:\n  -4: ${text.inet}\n  -6: ${text.inet6}\n${ssOut.stdout}${ssOut.stderr}`;
    }
    const byCookie = new Map(after.map((s) => [key(s), s]));
    const problems: string[] = [];
    for (const [i, fam] of FAMS.entries()) {
      const f = filters[fam];
      const ours = (fam === 'inet' ? ours4 : ours6).map(key).sort();
      const mask = filterStateMask(f.states, ALL_STATES_MASK);
      const evaluated = after
        .filter((s) => s.family === fam)
        .filter((s) => ((mask >>> STATE_NUMBERS[(s as InetSocket).state]) & 1) === 1)
        .filter((s) => f.expr === undefined || matchesFilter(f.expr, s, ctx))
        .map(key)
        .sort();
      const theirs = [...parts[i * 2].matchAll(/ sk:([0-9a-f]+)/g)].map((m) => BigInt(`0x${m[1]}`).toString()).sort();
      const all = after.filter((s) => s.family === fam).length;
      const d1 = diff('listSockets({ filter }) vs matchesFilter', ours, evaluated, ['listSockets', 'matchesFilter'], byCookie);
      const d2 = diff('ss vs matchesFilter', theirs, evaluated, ['ss', 'matchesFilter'], byCookie);
      if (d1 || d2) problems.push([`filter (${fam === 'inet' ? '-4' : '-6'}): ${text[fam]}`, d1, d2].filter(Boolean).join('\n'));
      if (stats) stats.compared++;
      if (stats && evaluated.length > 0) stats.nonEmpty++;
      if (stats && evaluated.length > 0 && evaluated.length < all) stats.proper++;
      stats?.distinct.add(`${fam}:${evaluated.join(',')}`);
    }
    return problems.length > 0 ? problems.join('\n') : undefined;
  };

  /** checkOnce, again while the population churned (TIME-WAIT expiring, …); throws on a mismatch. */
  const compare = async (filters: Record<Fam, Filter>, stats?: Stats): Promise<void> => {
    // What ss gets is what the AST means: the printed text reads back to the same tree.
    for (const fam of FAMS) {
      const text = filterToString(filters[fam]);
      expect({ text, ast: parseFilter(text) }).toEqual({ text, ast: filters[fam] });
    }
    for (let attempt = 0; ; attempt++) {
      const outcome = await checkOnce(filters, stats);
      if (outcome === 'churn' && attempt < 5) {
        if (stats) stats.retried++;
        continue;
      }
      if (outcome === 'churn') throw new Error('the population kept changing while one filter was compared');
      if (outcome !== undefined) throw new Error(`selections differ\n${outcome}`);
      return;
    }
  };

  // Two cases the property found; pinned here so that they fail on every run until fixed.
  const statesOnly = (...states: StateClause[]): Record<Fam, Filter> => ({ inet: { states }, inet6: { states } });

  test('state words that cancel out (`exclude all`, `state listening exclude listening`): ss falls back to its default states', async () => {
    await compare(statesOnly({ include: false, word: 'all' }));
    await compare(statesOnly({ include: true, word: 'listening' }, { include: false, word: 'listening' }));
  });

  test('`exclude syn-recv`, `exclude bucket`, `state big` return no SYN-RECV request socket', async () => {
    expect((initial as InetSocket[]).some((s) => s.state === 'syn-recv')).toBe(true);
    await compare(statesOnly({ include: false, word: 'syn-recv' }));
    await compare(statesOnly({ include: false, word: 'bucket' }));
    await compare(statesOnly({ include: true, word: 'big' }));
  });

  test('random filters: the three selections agree for -4 and -6', async () => {
    const runs = Number(process.env.FILTER_PROPERTY_RUNS ?? 150);
    const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
    const started = Date.now();
    const stats: Stats = { generated: 0, compared: 0, retried: 0, nonEmpty: 0, proper: 0, distinct: new Set() };
    await fc.assert(
      fc.asyncProperty(filterArb('inet', ports), filterArb('inet6', ports), async (f4, f6) => {
        stats.generated++;
        await compare({ inet: f4, inet6: f6 }, stats);
      }),
      { numRuns: runs, seed },
    );
    const ms = Date.now() - started;
    // eslint-disable-next-line no-console
    console.log(
      `filter property: seed ${seed}, ${stats.generated} filter pairs, ${stats.compared} comparisons (3 selections each), ` +
        `${stats.nonEmpty} non-empty, ${stats.proper} proper subsets, ${stats.distinct.size} distinct selections, ` +
        `${stats.retried} retried for churn, ${ms} ms`,
    );
    expect(stats.generated).toBeGreaterThanOrEqual(runs);
    expect(stats.nonEmpty).toBeGreaterThan(stats.compared / 4);
    expect(stats.proper).toBeGreaterThan(stats.compared / 5);
    expect(stats.distinct.size).toBeGreaterThan(runs / 3);
  }, 180_000);
});
