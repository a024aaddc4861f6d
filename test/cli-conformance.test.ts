/**
 * Conformance of the `sockdiag` command with iproute2's `ss` on this machine: in one private
 * namespace with a varied population (tcp v4/v6 in many states with queued data, udp, unix
 * of every type and address kind, packet, netlink, mptcp), each invocation below runs as
 * `ss`, then as sockdiag, then as `ss` again, all inside one `ip netns exec` (a runner
 * script calls the command's `run()` in-process, so 140 invocations cost one Node start).
 *
 * Outputs must be equal byte for byte. Only what moves between the two runs of ss itself is
 * masked, and only for cases where the two ss runs differ: timer remainders, rtt and the
 * other live tcp_info figures, the last* ages, the trailing padding of the last column (its
 * width follows those figures), the host-wide TCP counts of `-s`; then, word by word, any
 * other word that differs between the two ss runs (a packet socket's queue that moves with
 * loopback traffic). The masked ss runs must then agree with each other, which proves the
 * mask covers exactly the movement. `-s`'s `Total:` (this namespace's sockets) is compared
 * unmasked: each -s run waits until the sockets of the runs before are freed. One thing
 * differs by nature and is removed everywhere: the row of the observer's own sock_diag
 * socket in netlink listings (`tcpdiag:ss/PID` vs `tcpdiag:node/PID`: another process,
 * another port id, so another position in the kernel's hash; ss's own row moves between two
 * ss runs as well); when the observers' pids differ in length, that row may also have set
 * the width of its column, and spacing is then compared collapsed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createNetns, describeRoot, Netns, Population } from './helpers/netns';

const MAIN = path.join(__dirname, '..', 'dist', 'cli', 'main.js');

/** Cases where sockdiag is known to differ from ss 6.1, with the reason. Keep it short. */
const knownDifferences: Readonly<Record<string, string>> = {};

/** The invocations: ss(8)'s options one by one and combined, its USAGE EXAMPLES, filters. `@F` is the filter file. */
function cases(pop: Population, ns: string): string[][] {
  const words = (s: string): string[] => s.split(' ').filter(Boolean);
  const listenPort = pop.byName('tcp4-listen').local!.port;
  const list: string[][] = [
    // Tables and families.
    [], ['-t'], ['-u'], ['-w'], ['-x'], ['-0'], ['-M'], ['-S'], ['-d'], ['--vsock'], ['--tipc'], ['--xdp'],
    ['-4'], ['-6'], ['-f', 'inet'], ['-f', 'inet6'], ['-f', 'link'], ['-f', 'unix'], ['-f', 'netlink'], ['-f', 'vsock'],
    ['-f', 'tipc'], ['-f', 'xdp'], ['-finet6'], ['--family=unix'],
    ['-A', 'all'], ['-A', 'inet'], ['-A', 'tcp'], ['-A', 'udp'], ['-A', 'raw'], ['-A', 'unix'], ['-A', 'unix_dgram'],
    ['-A', 'unix_stream'], ['-A', 'unix_seqpacket'], ['-A', 'packet'], ['-A', 'packet_raw'], ['-A', 'packet_dgram'],
    ['-A', 'netlink'], ['-A', 'mptcp'], ['-A', 'sctp'], ['-A', 'dccp'], ['-A', 'tipc'], ['-A', 'vsock_stream'],
    ['-A', 'vsock_dgram'], ['-A', 'xdp'], ['-A', 'tcp,udp'], ['-A', 'u_str,p_raw'], ['-A', 'all,!unix,!netlink'],
    ['--query=tcp', '-a'], ['--socket', 'udp', '-a'], ['-t', '-x'], ['-4', '-x', '-a'], ['-4', '-6', '-ta'], ['-6', '-4', '-ta'],
    // States.
    ['-a'], ['-l'], ['-ta'], ['-tl'], ['-ua'], ['-ul'], ['-xa'], ['-xl'], ['-0a'], ['-wa'], ['-Ma'], ['-Ml'],
    ...['all', 'established', 'listening', 'syn-sent', 'syn-recv', 'fin-wait-2', 'close-wait', 'time-wait', 'connected',
      'synchronized', 'bucket', 'big', 'closed', 'unconnected', 'ESTABLISHED'].map((s) => ['-tn', 'state', s]),
    words('-tn exclude established'), words('-tan exclude listening'), words('-tn state established state listening'),
    words('-tn exclude all'), words('-tn excl established'), words('-x state connected'), words('-u state closed'),
    words('-a state closed'), words('-an state listening exclude closed'),
    // What is shown.
    ['-n'], ['-tan'], ['-tanH'], ['-tanO'], ['-tane'], ['-tano'], ['-tanm'], ['-tanp'], ['-tanT'], ['-tani'], ['-tanoi'],
    ['-tanie'], ['-tanb'], ['-tan', '--tos'], ['-tan', '--cgroup'], ['-tan', '--inet-sockopt'], ['-ta'], ['-tar'], ['-tanr'],
    ['-uae'], ['-uaep'], ['-uam'], ['-uan', '--tos'], ['-xap'], ['-xae'], ['-xam'], ['-xanO'], ['-0ae'], ['-0ap'], ['-0am'],
    ['-0ab'], ['-f', 'netlink', '-e'], ['-f', 'netlink', '-n'], ['-f', 'netlink', '-m'], ['-f', 'netlink', '-p'],
    ['-aep'], ['-aem'], ['-aO'], ['-aeOm'], ['-Mai'], ['-Mae'], ['-Mam'], ['-tanioemp'], ['-aH'], ['-tanieO'], ['--tipcinfo'],
    ['-tapn', '--cgroup', '--tos'], ['-tn', '-o', '-e', '-m', '-i'],
    // Long options and abbreviations.
    words('--tcp --all --numeric'), words('--ipv4 --tcp --all'), words('--listening --udp'), words('--extended --tcp'),
    words('--memory --unix'), words('--info --tcp --numeric'), words('--processes --unix --all'), words('--no-header -t'),
    words('--oneline -tan'), words('--options -tn'), words('--resolve -t'), words('--num --tc --al'), words('--threads -tan'),
    words('--packet --all'), words('--raw --all'), words('--dccp'), words('--sctp'), words('--mptcp --all'),
    // The man page's USAGE EXAMPLES.
    words('-t -a'), words('-u -a'), ['-o', 'state', 'established', '( dport = :ssh or sport = :ssh )'],
    words('-x src /tmp/.X11-unix/*'), ['-o', 'state', 'fin-wait-1', '( sport = :http or sport = :https )', 'dst', '193.233.7/24'],
    ['-a', '-A', 'all,!tcp'], words('-t -a -Z'),
    // Filters.
    words('-tan sport > :1024'), words('-tan dst 127.0.0.1'), words('-tan src 127.0.0.0/8'), words('-tan6 dst [::1]'),
    words(`-tan sport = :${listenPort}`), words(`-tan dport = :${listenPort}`), words(`-tan ( sport = :${listenPort} or dport = :${listenPort} )`),
    words('-tan not dst 127.0.0.1'), words('-tan dev lo'), words('-tan cgroup /'), words('-tan cgroup /unified'), words('-xa src /tmp/*'), words('-xa src @*'),
    words('-0a src ip'), words('-ua autobound'), words('-ta autobound'), words('-tan -F @F'), words('-tan state established -F @F'),
    ['-tan', 'dport', '!=', ':1', 'and', 'sport', '>=', ':1'], words('-tan dport le :1024 or sport ge :1024'),
    words('-a dst 127.0.0.1'), words('-f inet dst 127.0.0.1:*'),
    // Everything else.
    ['-N', ns, '-tan'], ['-s'], ['-s', '-t'], ['-s', 'state', 'established'], ['-tanK', 'dport', '=', ':1'], ['-Z'], ['-z'],
    words('-x -D /dev/null'), ['-tanpeoim', '-O'],
  ];
  return list;
}

/** Runs every case as ss, sockdiag (in-process) and ss again; writes [{ a, b, c }] as JSON. */
const RUNNER = `
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const [casesFile, outFile, mainJs] = process.argv.slice(2);
const { run } = require(mainJs);
// ss writes to files: pipes from Node are unix socket pairs, which ss would list.
const spawnFile = (cmd, args) => {
  const fo = fs.openSync('run.out', 'w+');
  const fe = fs.openSync('run.err', 'w+');
  const r = spawnSync(cmd, args, { stdio: ['ignore', fo, fe], timeout: 20000 });
  fs.closeSync(fo);
  fs.closeSync(fe);
  return { stdout: fs.readFileSync('run.out', 'utf8'), stderr: fs.readFileSync('run.err', 'utf8'), status: r.status };
};
const ss = (args) => spawnFile('ss', args);
// -s prints the namespace's count of sockets in use as Total:. The population's sockets are
// a constant; the sockets the commands before opened here (all closed) still count until an
// RCU grace period frees them. Before each -s run the count must be back to the population's
// own: taken once at the start, when it has not moved for a second.
const inUse = () => Number(/^sockets: used (\\d+)$/m.exec(fs.readFileSync('/proc/net/sockstat', 'utf8'))[1]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let population;
const settle = async (args) => {
  if (!args.includes('-s')) return;
  for (const end = Date.now() + 10000; inUse() !== population; await sleep(10)) {
    if (Date.now() > end) throw new Error('the namespace holds ' + inUse() + ' sockets, not ' + population + ' (a socket left open?)');
  }
};
(async () => {
  population = inUse();
  for (let since = Date.now(), end = since + 15000; Date.now() - since < 1000; await sleep(10)) {
    if (Date.now() > end) throw new Error('the socket count of the namespace does not settle');
    const n = inUse();
    if (n !== population) [population, since] = [n, Date.now()];
  }
  const results = [];
  for (const args of JSON.parse(fs.readFileSync(casesFile, 'utf8'))) {
    await settle(args);
    const a = ss(args);
    await settle(args);
    let b;
    if (args.includes('-s')) {
      // The summary counts the sockets the process holds: a fresh process, as the command runs.
      b = spawnFile(process.execPath, [mainJs, ...args]);
    } else {
      let stdout = '', stderr = '';
      const status = await run(args, { write: (t) => { stdout += typeof t === 'string' ? t : Buffer.from(t).toString('utf8'); } }, { write: (t) => { stderr += t; } });
      b = { stdout, stderr, status };
    }
    await settle(args);
    const c = ss(args);
    results.push({ args, a, b, c });
  }
  fs.writeFileSync(outFile, JSON.stringify(results));
})().catch((e) => { console.error(e); process.exit(1); });
`;

/** Fields that move between two runs of ss on a live population, and what they become. */
const VOLATILE: ReadonlyArray<[RegExp, string]> = [
  // The retransmission timer's backoff multiplies rto and is printed only when not 0: it
  // appears when the SYN-SENT socket retransmits its SYN between two runs.
  [/\brto:[0-9.]+ backoff:\d+/g, 'rto:*'],
  [/(timer:\([a-z]+,)[^,]*(,\d+\))/g, '$1*$2'],
  // The ages of the last send, receive and ack are printed only when not 0: a run that falls
  // on the millisecond of a window probe omits one. Dropped, presence and all.
  [/ (?:lastsnd|lastrcv|lastack):\d+/g, ''],
  [/\b((?:rtt|minrtt|rto|ato|busy|rcv_rtt|delivery_rate|pacing_rate|send|rcv_space|rcv_ssthresh|bytes_acked|bytes_received|segs_out|segs_in|data_segs_out|data_segs_in|delivered|snd_wnd|mrtt|bw)[: ])[0-9./a-zA-Z]+/g, '$1*'],
  [/\b((?:rwnd_limited|sndbuf_limited):)[^ ]+/g, '$1*'],
  // ss -s: TCP sockets allocated, `closed` (derived from it) and `orphaned` are counts over
  // the whole host (other namespaces come and go).
  [/^(TCP: +)\d+( \(estab \d+, closed )\d+(, orphaned )\d+/gm, '$1*$2*$3*'],
];

/** Removes the observer's own sock_diag socket row (tcpdiag with a port id that is not the population's). */
function dropObserver(text: string, popPid: number): string {
  return text
    .split('\n')
    .filter((line) => observerPort(line, popPid) === undefined)
    .join('\n');
}

/** The port id on an observer's row (a sock_diag socket neither the population's nor the kernel's). */
function observerPort(line: string, popPid: number): string | undefined {
  // NETLINK_SOCK_DIAG is protocol 4 (`tcpdiag`); -n prints the number.
  const m = /(?:^|\s)(?:tcpdiag|4):(?:[^\s/]+\/)?(\d+)/.exec(line);
  return m && Number(m[1]) !== popPid && m[1] !== '0' ? m[1] : undefined;
}

/**
 * The lengths of the observers' port ids in a listing. An observer's port id is its pid, so
 * it can have more or fewer digits in ss's run than in ours; its row is dropped, but it may
 * have set the width of the address column.
 */
function observerWidths(text: string, popPid: number): string {
  return text
    .split('\n')
    .map((line) => observerPort(line, popPid)?.length)
    .filter((n) => n !== undefined)
    .join();
}

/** The text with every run of blanks made one space, and lines trimmed. */
function collapseSpaces(text: string): string {
  return text
    .split('\n')
    .map((l) => l.trim().split(/\s+/).join(' '))
    .join('\n');
}

function maskVolatile(text: string): string {
  let t = text;
  for (const [re, by] of VOLATILE) t = t.replace(re, by);
  // The last column is padded to its widest cell, which follows the figures above.
  return t
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n');
}

/**
 * What still moved between the two ss runs, word by word: on each line where they differ,
 * the words that differ become `*` in all three outputs (that line's spacing is then not
 * compared; every other line still is, byte for byte).
 */
function maskMoved(a: string, b: string, c: string): [string, string, string] {
  const [la, lb, lc] = [a, b, c].map((t) => t.split('\n'));
  if (la.length !== lc.length || lb.length !== la.length) return [a, b, c];
  for (let i = 0; i < la.length; i++) {
    if (la[i] === lc[i]) continue;
    const [wa, wb, wc] = [la[i], lb[i], lc[i]].map((l) => l.trim().split(/\s+/));
    if (wa.length !== wc.length) continue;
    const moved = wa.map((w, k) => w !== wc[k]);
    const mask = (ws: string[]): string => ws.map((w, k) => (moved[k] ? '*' : w)).join(' ');
    la[i] = mask(wa);
    lc[i] = mask(wc);
    lb[i] = wb.length === wa.length ? mask(wb) : lb[i];
  }
  return [la.join('\n'), lb.join('\n'), lc.join('\n')];
}

/**
 * The text with each run of netlink rows sorted. Netlink sockets come in the order of the
 * kernel's hash table, which changes when the table resizes as the observer's own netlink
 * sockets come and go; the rows and the widths are still compared exactly.
 */
function netlinkRowsSorted(text: string): string {
  const out: string[] = [];
  let run: string[] = [];
  for (const line of [...text.split('\n'), '']) {
    if (line.startsWith('nl ')) run.push(line);
    else {
      out.push(...run.sort());
      run = [];
      out.push(line);
    }
  }
  return out.slice(0, -1).join('\n');
}

interface Run {
  stdout: string;
  stderr: string;
  status: number | null;
}

describeRoot('sockdiag command vs ss (conformance)', () => {
  let ns: Netns;
  let pop: Population;
  let dir: string;
  beforeAll(async () => {
    ns = await createNetns();
    pop = await ns.spawnPopulation({});
    dir = mkdtempSync(path.join(tmpdir(), 'sd-cli-conf-'));
  }, 60_000);
  afterAll(async () => {
    await pop?.stop();
    await ns?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('every invocation prints what ss prints', () => {
    const filterFile = path.join(dir, 'filter');
    writeFileSync(filterFile, '# sockets of the listener\nsport > :1024\n\nor dport > :1024\n');
    const all = cases(pop, ns.name).map((args) => args.map((a) => (a === '@F' ? filterFile : a)));
    expect(all.length).toBeGreaterThanOrEqual(120);
    writeFileSync(path.join(dir, 'cases.json'), JSON.stringify(all));
    writeFileSync(path.join(dir, 'runner.js'), RUNNER);
    const r = spawnSync(
      'ip',
      ['netns', 'exec', ns.name, 'sh', '-c', 'mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null; cd "$1" && exec node runner.js cases.json results.json "$2"', 'sh', dir, MAIN],
      { encoding: 'utf8', timeout: 400_000 },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const results = JSON.parse(readFileSync(path.join(dir, 'results.json'), 'utf8')) as Array<{ args: string[]; a: Run; b: Run; c: Run }>;
    const failures: string[] = [];
    let equal = 0;
    for (const { args, a, b, c } of results) {
      const name = args.join(' ').replace(filterFile, '@F').replace(ns.name, 'NS');
      let [sa, sb, sc] = [a, b, c].map((x) => dropObserver(x.stdout, pop.pid));
      // When the observers' pids differ in length, so may the width they gave their column:
      // spacing is then not compared (the words still are).
      if (new Set([a, b, c].map((x) => observerWidths(x.stdout, pop.pid))).size > 1) [sa, sb, sc] = [sa, sb, sc].map(collapseSpaces);
      // Live figures can move and move back between ss's two runs (TCP sockets allocated is a
      // count over the whole host, which other test files change): masked whenever any differ.
      if (sa !== sc || sb !== sa) [sa, sb, sc] = [sa, sb, sc].map(maskVolatile);
      if (sa !== sc) [sa, sb, sc] = maskMoved(sa, sb, sc);
      if (sb !== sa && netlinkRowsSorted(sb) === netlinkRowsSorted(sa)) sb = sa;
      const problems: string[] = [];
      if (sa !== sc) problems.push('ss itself is not stable under the mask');
      if (a.status !== b.status) problems.push(`exit status ${b.status}, ss ${a.status}`);
      if (sb !== sa) problems.push(`stdout differs:\n${firstDifference(sa, sb)}`);
      if ((a.stderr === '') !== (b.stderr === '') && a.status !== 0) problems.push(`stderr: ss ${JSON.stringify(a.stderr)}, ours ${JSON.stringify(b.stderr)}`);
      if (problems.length === 0) equal++;
      else if (!(name in knownDifferences)) failures.push(`${name}: ${problems.join('; ')}`);
    }
    // eslint-disable-next-line no-console
    console.log(`conformance: ${equal}/${results.length} equal`);
    expect(failures).toEqual([]);
  }, 450_000);

  test('a TCP listing of both families walks the kernel\'s table once (TCPDIAG_GETSOCK) and still prints IPv4 before IPv6, as ss', () => {
    const run = (cmd: string[]): { out: string; trace: string } => {
      const traceFile = path.join(dir, 'trace');
      const r = spawnSync('ip', ['netns', 'exec', ns.name, 'strace', '-f', '-qq', '-e', 'trace=sendto,sendmsg', '-o', traceFile, ...cmd], { encoding: 'utf8', timeout: 60_000 });
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
      return { out: r.stdout, trace: readFileSync(traceFile, 'utf8') };
    };
    const ours = run([process.execPath, MAIN, '-tan']);
    const theirs = run(['ss', '-tan']);
    expect(ours.trace.match(/nlmsg_type=TCPDIAG_GETSOCK/g) ?? []).toHaveLength(1);
    expect(ours.trace).not.toMatch(/nlmsg_type=SOCK_DIAG_BY_FAMILY/);
    expect(theirs.trace.match(/nlmsg_type=SOCK_DIAG_BY_FAMILY/g) ?? []).toHaveLength(2);
    const rows = (text: string): string[] => dropObserver(text, pop.pid).split('\n').slice(1).filter(Boolean);
    const v6 = (rows: string[]): number[] => rows.map((r, i) => (r.includes('[') ? i : -1)).filter((i) => i >= 0);
    // Both have IPv6 rows, all of them after the last IPv4 row, in the same places.
    expect(v6(rows(ours.out)).length).toBeGreaterThan(0);
    expect(v6(rows(ours.out))).toEqual(v6(rows(theirs.out)));
    expect(rows(ours.out).length).toBe(rows(theirs.out).length);
  }, 120_000);
});

/** The first differing line of two texts, for the failure message. */
function firstDifference(expected: string, actual: string): string {
  const e = expected.split('\n');
  const a = actual.split('\n');
  for (let i = 0; i < Math.max(e.length, a.length); i++) {
    if (e[i] !== a[i]) return `  line ${i + 1}\n  ss:   ${JSON.stringify(e[i])}\n  ours: ${JSON.stringify(a[i])}`;
  }
  return '  (equal)';
}
