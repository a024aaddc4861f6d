/**
 * sockdiag-top: its command line, keys, model and rendering; then the acceptance tests in a
 * real terminal (a tmux pane on a private tmux server) inside a private namespace holding
 * flows at ~1 MB/s, ~200 KB/s and ~20 KB/s: the busiest flow first and the order following
 * the rates, refreshes, sort and group keys, pause, help, a resize, NO_COLOR, the terminal
 * restored after q, Ctrl-C, SIGINT and SIGTERM (exit status 0), batch and NDJSON frames in
 * rank order, and the view as an unprivileged user.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, symlinkSync } from 'node:fs';
import * as path from 'node:path';
import { parseTopArgs, usageText } from '../lib/top/args';
import { parseKeys } from '../lib/top/terminal';
import { TopModel, type GroupKey, type SortKey } from '../lib/top/model';
import { formatRate, formatRtt, renderBatch, renderScreen, sparkline, type ScreenOptions } from '../lib/top/render';
import { CliExit, type ArgsHost } from '../lib/cli/args';
import type { ConnectionRate, RateSample } from '../lib/monitor/rates';
import { createNetns, describeRoot, type Netns } from './helpers/netns';
import { startFlows, type Flows } from './helpers/flows';
import { libForChildren } from './helpers/destroy-lib';

const MAIN = path.join(__dirname, '..', 'dist', 'top', 'main.js');
/**
 * A short name for it to type into the terminal: a long command line (a checkout in a deep
 * folder) wraps when the test narrows the window, and tmux's reflow of the wrapped line
 * while the view holds the alternate screen then leaves a stray line on the normal one.
 */
const TYPED_MAIN = `/tmp/sdtop-${process.pid}.js`;

const host: ArgsHost = {
  readFilterFile: () => 'dport = :22\n',
  checkNetns: (name) => (name === 'there' ? undefined : `Cannot open network namespace "${name}": No such file or directory`),
  selinuxEnabled: () => false,
  version: () => 'sockdiag 0.1.0 (ss utility, iproute2-6.1.0 compatible)\n',
};

function exitOf(fn: () => unknown): CliExit {
  try {
    fn();
  } catch (e) {
    if (e instanceof CliExit) return e;
    throw e;
  }
  throw new Error('no CliExit');
}

describe('sockdiag-top command line', () => {
  test('defaults: TCP connections (ss\'s connected states), 1 s, full screen, owners and events on', () => {
    const c = parseTopArgs([], host);
    expect(c).toMatchObject({ intervalMs: 1000, batch: false, iterations: undefined, json: false, sort: 'total', group: 'none', what: 'tcp' });
    expect(c.list).toMatchObject({ protocols: ['tcp'], families: ['inet', 'inet6'], processes: true, events: true });
    expect(c.list.states).toContain('established');
    expect(c.list.states).not.toContain('listening');
    expect(c.list.states).not.toContain('time-wait');
    expect(c.list.filter).toBeUndefined();
  });

  test("top's options: -b -n N -d S, --json, --rows, -o/-g with prefixes, --no-processes, --no-events", () => {
    expect(parseTopArgs(['-b', '-n', '3', '-d', '0.5'], host)).toMatchObject({ batch: true, iterations: 3, intervalMs: 500 });
    expect(parseTopArgs(['-bn2', '-d2'], host)).toMatchObject({ batch: true, iterations: 2, intervalMs: 2000 });
    expect(parseTopArgs(['--json', '--rows', '5'], host)).toMatchObject({ batch: true, json: true, maxRows: 5 });
    expect(parseTopArgs(['-o', 'retr', '--group=peer'], host)).toMatchObject({ sort: 'retrans', group: 'peer' });
    const c = parseTopArgs(['--no-processes', '--no-events'], host);
    expect(c.list.processes).toBeUndefined();
    expect(c.list.events).toBe(false);
    for (const bad of [['-d', '0'], ['-d', 'x'], ['-n', '0'], ['-o', 'speed'], ['-g', 'x'], ['--bogus'], ['-q']]) {
      const e = exitOf(() => parseTopArgs(bad, host));
      expect(e.status).toBe(255);
      expect(e.usage).toBe(true);
    }
    expect(exitOf(() => parseTopArgs(['-h'], host))).toMatchObject({ status: 0, stdout: usageText() });
    expect(exitOf(() => parseTopArgs(['-V'], host)).stdout).toBe('sockdiag-top 0.1.0\n');
  });

  test("ss's selection options and FILTER words, through the command's own parser", () => {
    expect(parseTopArgs(['-t', '-u'], host)).toMatchObject({ what: 'udp,tcp', list: { protocols: ['udp', 'tcp'] } });
    expect(parseTopArgs(['-u'], host)).toMatchObject({ what: 'udp', list: { protocols: ['udp'] } });
    expect(parseTopArgs(['-4'], host).list).toMatchObject({ protocols: ['tcp'], families: ['inet'] });
    expect(parseTopArgs(['-6'], host).list.families).toEqual(['inet6']);
    expect(parseTopArgs(['--dccp'], host).list.protocols).toEqual(['dccp']);
    expect(parseTopArgs(['-A', 'tcp,mptcp'], host).list.protocols).toEqual(['tcp', 'mptcp']);
    expect(parseTopArgs(['-N', 'there'], host).list.netns).toBe('/var/run/netns/there');
    expect(exitOf(() => parseTopArgs(['-N', 'gone'], host))).toMatchObject({ status: 1, stderr: 'Cannot open network namespace "gone": No such file or directory\n' });
    const s = parseTopArgs(['state', 'established', 'dport', '=', ':443', 'or', 'sport', '=', ':443'], host);
    expect(s.list.states).toEqual(['established']);
    expect(s.list.filter).toMatchObject({ expr: { kind: 'or' } });
    expect(parseTopArgs(['-a'], host).list.states).toContain('listening');
    expect(parseTopArgs(['-F', 'file'], host).list.filter).toMatchObject({ expr: { kind: 'port' } });
    expect(exitOf(() => parseTopArgs(['state', 'bogus'], host)).status).toBe(255);
    expect(exitOf(() => parseTopArgs(['-x'], host))).toMatchObject({ status: 1 });
    expect(exitOf(() => parseTopArgs(['-f', 'bogus'], host))).toMatchObject({ status: 255, stderr: 'sockdiag-top: "bogus" is invalid family\n' });
  });
});

describe('keys, model and rendering', () => {
  test('raw input becomes keys: characters, Ctrl-C, arrows and pages; unknown escapes are dropped', () => {
    expect(parseKeys('q')).toEqual(['q']);
    expect(parseKeys('\x03')).toEqual(['ctrl-c']);
    expect(parseKeys('s\x1b[A\x1b[B\x1b[5~\x1b[6~\x1bOHx')).toEqual(['s', 'up', 'down', 'pageup', 'pagedown', 'home', 'x']);
    expect(parseKeys('\x1b[1;5Cr')).toEqual(['r']);
    expect(parseKeys('\x1b')).toEqual(['escape']);
  });

  test('numbers: rates 1024-based in at most 6 characters, RTT in ms, sparklines scaled to their maximum', () => {
    expect([undefined, 0, 0.4, 999, 1000, 20_000, 200_000, 1_000_000, 5e9].map(formatRate)).toEqual(['-', '0', '0', '999B', '0.98K', '19.5K', '195K', '977K', '4.66G']);
    expect([undefined, 0, 42, 1500, 25_000, 250_000].map(formatRtt)).toEqual(['-', '-', '0.04ms', '1.50ms', '25.0ms', '250ms']);
    expect(sparkline([0, 50, 100], 8, true)).toBe('     ▁▅█');
    expect(sparkline([1, 2, 3, 4, 5, 6, 7, 8, 9], 8, false)).toBe('::-=++*#');
    expect(sparkline([0, 0], 4, false)).toBe('  __');
    expect(sparkline([], 8, true)).toBe('        ');
  });

  const conn = (cookie: number, send: number, recv: number, extra: Partial<ConnectionRate> = {}): ConnectionRate => ({
    cookie: BigInt(cookie), protocol: 'tcp', family: 'inet', local: { address: '10.0.0.1', port: 1000 + cookie }, remote: { address: `10.0.1.${cookie % 3}`, port: 443 },
    state: 'established', inode: cookie, uid: 0, recvQ: cookie, sendQ: 0, sendBytesPerSec: send, recvBytesPerSec: recv, retransPerSec: 0, deliveryRateBytesPerSec: undefined,
    rttUs: 1000 * cookie, cwnd: 10, notsentBytes: 0, bytesAcked: 0, bytesReceived: 0, totalRetrans: 0, elapsedMs: 1000,
    processes: [{ pid: 100 + (cookie % 2), command: cookie % 2 ? 'odd' : 'even', fd: 3 }], ...extra,
  });
  const sampleOf = (conns: ConnectionRate[], at = 0): RateSample => ({ at, elapsedMs: 1000, connections: new Map(conns.map((c) => [c.cookie, c])), closed: [] });

  test('ranking by each key, grouping by process, peer host and local port, totals and histories', () => {
    const m = new TopModel();
    const conns = [conn(1, 100, 0), conn(2, 0, 5000), conn(3, 3000, 3000, { retransPerSec: 2 }), conn(4, 10, 10, { sendQ: 9000 })];
    m.update(sampleOf(conns));
    const order = (sort: SortKey): string[] => {
      m.sort = sort;
      return m.frame()!.rows.map((r) => r.id);
    };
    expect(order('total')).toEqual(['3', '2', '1', '4']);
    expect(order('send')).toEqual(['3', '1', '4', '2']);
    expect(order('recv')).toEqual(['2', '3', '4', '1']);
    expect(order('rtt')).toEqual(['4', '3', '2', '1']);
    expect(order('retrans')[0]).toBe('3');
    expect(order('queue')[0]).toBe('4');
    const f = m.frame()!;
    expect(f.totals).toMatchObject({ connections: 4, send: 3110, recv: 8010, retrans: 2, closed: 0 });
    expect(f.totals.states.get('established')).toBe(4);
    const groups = (group: GroupKey): Array<[string, number]> => {
      m.group = group;
      m.sort = 'total';
      return m.frame()!.rows.map((r) => [r.group!, r.connections]);
    };
    expect(groups('process')).toEqual([['odd(101)', 2], ['even(100)', 2]]);
    expect(groups('peer')).toEqual([['10.0.1.0', 1], ['10.0.1.2', 1], ['10.0.1.1', 2]]);
    expect(groups('port')).toHaveLength(4);
    m.group = 'none';
    m.update(sampleOf(conns));
    expect(m.frame()!.rows.find((r) => r.id === '3')!.history).toEqual([6000, 6000]);
    // A group's trend is the sum of its members' (aligned on the newest point).
    m.update(sampleOf([...conns, conn(7, 1, 1)]));
    m.group = 'peer';
    expect(m.frame()!.rows.find((r) => r.group === '10.0.1.1')).toMatchObject({ connections: 3, history: [120, 120, 122] });
  });

  const screen = (over: Partial<ScreenOptions> = {}): ScreenOptions => ({ width: 120, height: 40, color: true, unicode: true, intervalMs: 1000, what: 'tcp', paused: false, scroll: 0, help: false, ...over });
  // eslint-disable-next-line no-control-regex
  const strip = (s: string): string[] => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').split('\r\n');

  test('the screen fits the terminal at any width; NO_COLOR leaves only inverse and bold; batch frames are plain', () => {
    const m = new TopModel();
    m.update(sampleOf(Array.from({ length: 60 }, (_, i) => conn(i + 1, i * 1000, 0, { local: { address: 'fe80::1234:5678:9abc:def0', port: 40000 + i }, family: 'inet6', retransPerSec: i % 5 }))));
    for (const width of [20, 40, 60, 80, 120, 200]) {
      const lines = strip(renderScreen(m.frame(), screen({ width, height: 24 })));
      expect(lines).toHaveLength(24);
      for (const l of lines) expect(l.length).toBeLessThanOrEqual(width);
    }
    const narrow = strip(renderScreen(m.frame(), screen({ width: 80 })));
    expect(narrow[2]).toMatch(/^Local Address:Port/);
    expect(narrow[2]).not.toMatch(/Process/);
    expect(narrow[3]).toMatch(/^…[0-9a-f:]+\]:40059 /);
    const colored = renderScreen(m.frame(), screen());
    expect(colored).toMatch(/\x1b\[3[1-7]m/);
    const plain = renderScreen(m.frame(), screen({ color: false }));
    expect(plain).not.toMatch(/\x1b\[3[0-9]/);
    expect(plain).toMatch(/\x1b\[7m/);
    expect(strip(renderScreen(m.frame(), screen({ help: true }))).join('\n')).toMatch(/Keys\n\n {2}t {2}sort by total/);
    const batch = renderBatch(m.frame()!, { unicode: false, maxRows: 3 });
    expect(batch).not.toMatch(/\x1b/);
    const lines = batch.split('\n');
    expect(lines[0]).toMatch(/^sockdiag-top \d{4}-\d\d-\d\dT.*60 connections \(60 ESTAB\)/);
    expect(lines[1]).toMatch(/^Local Address:Port +Peer Address:Port +State/);
    expect(lines.slice(2, 5).map((l) => l.split(/ +/)[0])).toEqual(['[fe80::1234:5678:9abc:def0]:40059', '[fe80::1234:5678:9abc:def0]:40058', '[fe80::1234:5678:9abc:def0]:40057']);
    expect(lines.slice(5)).toEqual(['', '']);
  });
});

// ---------------------------------------------------------------------------------------
// In a real terminal.

const SOCKET = `sdtest-top-${process.pid}`;
const tmux = (...args: string[]): string => execFileSync('tmux', ['-L', SOCKET, '-f', '/dev/null', ...args], { encoding: 'utf8' });
const capture = (s: string): string => tmux('capture-pane', '-p', '-t', s);
const paneFlag = (s: string, flag: string): string => tmux('display-message', '-p', '-t', s, `#{${flag}}`).trim();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => T | undefined, timeoutMs = 15_000, diag: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms\n${diag()}`);
    await sleep(50);
  }
}

interface Screen {
  text: string;
  header: string;
  totals: string;
  titles: string;
  rows: string[][];
}

function parseScreen(text: string): Screen {
  const lines = text.split('\n');
  const t = lines.findIndex((l) => /^(Local Address:Port|Process|Peer Host|Local Port) /.test(l));
  return {
    text,
    header: lines[0] ?? '',
    totals: lines[1] ?? '',
    titles: t < 0 ? '' : lines[t],
    rows: t < 0 ? [] : lines.slice(t + 1).filter((l) => l.trim() !== '').map((l) => l.trim().split(/ +/)),
  };
}

/** A pane running a shell, in which the test types the command. */
function startShell(name: string, width = 120, height = 40): void {
  tmux('new-session', '-d', '-s', name, '-x', String(width), '-y', String(height), 'env PS1=READY$ sh');
}

/** The pid of the command the pane's shell runs (its only child). */
function commandPid(name: string): number {
  const shell = paneFlag(name, 'pane_pid');
  const children = readFileSync(`/proc/${shell}/task/${shell}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  if (children.length !== 1) throw new Error(`pane ${name}: shell ${shell} has children ${children.join(',')}`);
  return children[0];
}

describeRoot('sockdiag-top in a terminal, on flows at known rates in a private namespace', () => {
  let ns: Netns;
  let flows: Flows;
  const RATES = [1_000_000, 200_000, 20_000];
  // Each flow has two ends in the namespace: the client (sending) and the server (receiving).
  const flowOf = (row: string[]): number => flows.flows.findIndex((f) => row[0] === `${f.clientAddress}:${f.clientPort}` || row[1] === `${f.clientAddress}:${f.clientPort}`);
  const command = (args: string, env = ''): string => `ip netns exec ${ns.name} env LANG=C.UTF-8 ${env} ${process.execPath} ${TYPED_MAIN} ${args}; echo EXIT=$?`;
  const diag = (s: string) => () => capture(s);

  /** Starts the view in a shell pane and waits for a frame with rates. */
  async function startView(name: string, args = '-d 0.5', env = ''): Promise<Screen> {
    startShell(name);
    await until('shell prompt', () => capture(name).includes('READY$') || undefined, 5000, diag(name));
    tmux('send-keys', '-t', name, command(args, env), 'Enter');
    return until('a frame with rates', () => {
      const s = parseScreen(capture(name));
      return s.rows.length >= 6 && s.rows.every((r) => r[3] !== '-') && s.totals.includes('send ') && !s.totals.includes('send -') ? s : undefined;
    }, 15_000, diag(name));
  }

  async function expectRestored(name: string, status = 0): Promise<string> {
    const text = await until('the shell back with the exit status', () => (/EXIT=\d+/.test(capture(name)) ? capture(name) : undefined), 10_000, diag(name));
    expect(text).toMatch(new RegExp(`EXIT=${status}\\b`));
    // The normal screen again: the typed command line and the prompt after it, no view left.
    expect(text).toContain(`${TYPED_MAIN} `);
    expect(text).toMatch(new RegExp(`EXIT=${status}\\n(READY\\$ ?)`));
    expect(text).not.toMatch(/Local Address:Port|sockdiag-top {2}\d/);
    expect(paneFlag(name, 'alternate_on')).toBe('0');
    expect(paneFlag(name, 'cursor_flag')).toBe('1');
    return text;
  }

  beforeAll(async () => {
    expect(spawnSync('tmux', ['-V']).status).toBe(0);
    rmSync(TYPED_MAIN, { force: true });
    symlinkSync(MAIN, TYPED_MAIN);
    ns = await createNetns();
    flows = await startFlows(ns, RATES);
  }, 30_000);

  afterAll(async () => {
    spawnSync('tmux', ['-L', SOCKET, 'kill-server']);
    rmSync(TYPED_MAIN, { force: true });
    // tmux leaves its socket file behind.
    rmSync(path.join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid!()}`, SOCKET), { force: true });
    await flows?.stop();
    await ns?.destroy();
  });

  test('the busiest flow first, the order following the rates; it refreshes; sort, group, pause, help, resize; q restores the terminal', async () => {
    const v = 'view';
    let s = await startView(v);
    expect(paneFlag(v, 'alternate_on')).toBe('1');
    expect(paneFlag(v, 'cursor_flag')).toBe('0');
    expect(s.header).toMatch(/^sockdiag-top {2}\d\d:\d\d:\d\d {2}every 0\.5s {2}tcp {2}sort: total {2}group: none +h help {2}q quit$/);
    expect(s.totals).toMatch(/^6 connections \(6 ESTAB\) {2}send \S+\/s {2}recv \S+\/s {2}retrans \S+\/s {2}closed 0/);
    expect(s.titles).toMatch(/^Local Address:Port +Peer Address:Port +State +Send\/s +Recv\/s +Trend +RTT +Retr\/s +Cwnd +Recv-Q +Send-Q +Process/);
    // Two rows per flow (its two ends), flows in the order of their rates.
    expect(s.rows.map(flowOf)).toEqual([0, 0, 1, 1, 2, 2]);
    expect(s.rows.every((r) => r[2] === 'ESTAB')).toBe(true);
    expect(s.rows.map((r) => r[r.length - 1].replace(/\(\d+\)$/, '')).sort()).toEqual(['flowsink', 'flowsink', 'flowsink', 'flowsrc', 'flowsrc', 'flowsrc']);

    // It refreshes: the clock moves and the rows stay ranked.
    const clock = s.header.split(/ +/)[1];
    s = await until('a refresh', () => {
      const x = parseScreen(capture(v));
      return x.header.split(/ +/)[1] !== clock && x.rows.length === 6 ? x : undefined;
    }, 5000, diag(v));
    expect(s.rows.map(flowOf)).toEqual([0, 0, 1, 1, 2, 2]);

    // Sort keys: by send, the three senders first; by receive, the three receivers.
    const sorted = async (key: string, title: RegExp): Promise<Screen> => {
      tmux('send-keys', '-t', v, key);
      return until(`sort ${key}`, () => {
        const x = parseScreen(capture(v));
        return title.test(x.header) && x.rows.length === 6 ? x : undefined;
      }, 5000, diag(v));
    };
    s = await sorted('s', /sort: send/);
    expect(s.rows.slice(0, 3).map((r) => r[0])).toEqual(flows.flows.map((f) => `${f.clientAddress}:${f.clientPort}`));
    s = await sorted('r', /sort: recv/);
    expect(s.rows.slice(0, 3).map((r) => r[1])).toEqual(flows.flows.map((f) => `${f.clientAddress}:${f.clientPort}`));
    s = await sorted('R', /sort: rtt/);
    s = await sorted('Q', /sort: queue/);
    s = await sorted('x', /sort: retrans/);
    s = await sorted('t', /sort: total/);
    expect(s.rows.map(flowOf)).toEqual([0, 0, 1, 1, 2, 2]);

    // Group keys.
    const grouped = async (key: string, title: RegExp, n: number): Promise<Screen> => {
      tmux('send-keys', '-t', v, key);
      return until(`group ${key}`, () => {
        const x = parseScreen(capture(v));
        return title.test(x.titles) && x.rows.length === n ? x : undefined;
      }, 5000, diag(v));
    };
    s = await grouped('p', /^Process +Conns +Send\/s/, 2);
    expect(s.header).toMatch(/group: process/);
    expect(s.rows.map((r) => [r[0], r[1]]).sort()).toEqual([[`flowsink(${flows.receiver})`, '3'], [`flowsrc(${flows.sender})`, '3']]);
    s = await grouped('H', /^Peer Host +Conns/, 4);
    expect(s.rows.map((r) => [r[0], r[1]])).toEqual([['127.0.0.1', '3'], ...flows.flows.map((f) => [f.clientAddress, '1'])]);
    s = await grouped('L', /^Local Port +Conns/, 4);
    expect(s.rows[0].slice(0, 2)).toEqual([`:${flows.port}`, '3']);
    expect(s.rows.slice(1).map((r) => r[0])).toEqual(flows.flows.map((f) => `:${f.clientPort}`));
    s = await grouped('c', /^Local Address:Port/, 6);
    expect(s.rows.map(flowOf)).toEqual([0, 0, 1, 1, 2, 2]);

    // Pause: the clock stops; space again resumes.
    tmux('send-keys', '-t', v, 'Space');
    s = await until('paused', () => (capture(v).split('\n')[0].includes('PAUSED') ? parseScreen(capture(v)) : undefined), 5000, diag(v));
    const frozen = s.header.split(/ +/)[1];
    await sleep(1200);
    expect(parseScreen(capture(v)).header.split(/ +/)[1]).toBe(frozen);
    tmux('send-keys', '-t', v, 'Space');
    await until('resumed', () => {
      const h = capture(v).split('\n')[0];
      return !h.includes('PAUSED') && h.split(/ +/)[1] !== frozen ? true : undefined;
    }, 5000, diag(v));

    // Help, closed by any key.
    tmux('send-keys', '-t', v, 'h');
    await until('help', () => (/^Keys$/m.test(capture(v)) ? true : undefined), 5000, diag(v));
    expect(capture(v)).toMatch(/q Ctrl-C {2}quit/);
    tmux('send-keys', '-t', v, 'z');
    await until('help closed', () => (parseScreen(capture(v)).rows.length === 6 ? true : undefined), 5000, diag(v));

    // A resize redraws at the new size at once.
    tmux('resize-window', '-t', v, '-x', '72', '-y', '12');
    s = await until('redrawn at 72x12', () => {
      const x = parseScreen(capture(v));
      return /^Local Address:Port/.test(x.titles) && !x.titles.includes('Process') && x.text.split('\n').every((l) => l.length <= 72) ? x : undefined;
    }, 3000, diag(v));
    expect(s.text.replace(/\n$/, '').split('\n')).toHaveLength(12);
    expect(s.totals).toMatch(/^6 connections/);
    expect(s.rows.length).toBeGreaterThanOrEqual(6);
    expect(s.rows.slice(0, 6).map(flowOf)).toEqual([0, 0, 1, 1, 2, 2]);
    tmux('resize-window', '-t', v, '-x', '160', '-y', '40');
    s = await until('redrawn at 160x40', () => {
      const x = parseScreen(capture(v));
      return x.header.length === 160 ? x : undefined;
    }, 3000, diag(v));
    expect(s.titles).toMatch(/Process$/);

    tmux('send-keys', '-t', v, 'q');
    await expectRestored(v);
  }, 90_000);

  test.each([
    ['Ctrl-C', (name: string) => void tmux('send-keys', '-t', name, 'C-c')],
    ['SIGINT', (name: string) => process.kill(commandPid(name), 'SIGINT')],
    ['SIGTERM', (name: string) => process.kill(commandPid(name), 'SIGTERM')],
  ])('%s restores the terminal and exits 0', async (_what, stop) => {
    const name = `stop-${_what.toLowerCase()}`;
    await startView(name);
    expect(paneFlag(name, 'alternate_on')).toBe('1');
    stop(name);
    await expectRestored(name);
  }, 30_000);

  test('an error while the view runs restores the terminal, then says what went wrong (exit 1)', async () => {
    const name = 'error';
    startShell(name);
    await until('shell prompt', () => capture(name).includes('READY$') || undefined, 5000, diag(name));
    // The filter parses, and fails when the first dump resolves it: after the view has started.
    tmux('send-keys', '-t', name, command('-d 0.5 cgroup = /no/such/cgroup'), 'Enter');
    const text = await expectRestored(name, 1);
    expect(text).toMatch(/sockdiag-top: .*no such cgroup.*\nEXIT=1/);
  }, 30_000);

  test('NO_COLOR: no colour escapes on the screen; colours otherwise', async () => {
    await startView('colour');
    await startView('nocolour', '-d 0.5', 'NO_COLOR=1');
    const withEscapes = (name: string): string => tmux('capture-pane', '-p', '-e', '-t', name);
    // eslint-disable-next-line no-control-regex
    const colour = /\x1b\[[0-9;]*(3[0-7]|9[0-7]|38;)/;
    await until('colour in the plain view', () => (colour.test(withEscapes('colour')) ? true : undefined), 5000, diag('colour'));
    expect(withEscapes('nocolour')).not.toMatch(colour);
    expect(withEscapes('nocolour')).toMatch(/\x1b\[7m/);
    tmux('send-keys', '-t', 'colour', 'q');
    tmux('send-keys', '-t', 'nocolour', 'q');
    await expectRestored('colour');
    await expectRestored('nocolour');
  }, 30_000);

  function batchFrames(out: string): Screen[] {
    return out.split('\n\n').filter((f) => f.trim() !== '').map((f) => parseScreen(f));
  }

  test('batch mode: -b -n 3 prints 3 plain frames, each a header line then the rows in rank order, local address first', async () => {
    const r = await ns.exec([process.execPath, MAIN, '-b', '-n', '3', '-d', '0.5'], { timeoutMs: 20_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).not.toMatch(/\x1b/);
    const frames = batchFrames(r.stdout);
    expect(frames).toHaveLength(3);
    for (const f of frames) {
      expect(f.header).toMatch(/^sockdiag-top \d{4}-\d\d-\d\dT\S+ {2}6 connections \(6 ESTAB\) {2}send [\d.]+[KM]\/s/);
      expect(f.rows.map(flowOf)).toEqual([0, 0, 1, 1, 2, 2]);
      for (const row of f.rows) expect(row[0]).toMatch(/^127\.0\.0\.\d+:\d+$/);
    }
    // ss's device check: an unknown device is an error (status 1), a known one filters.
    const bad = await ns.exec([process.execPath, MAIN, '-b', '-n', '1', '-d', '0.1', 'dev', '=', 'nosuch0'], { timeoutMs: 20_000 });
    expect(bad).toMatchObject({ status: 1, stdout: '', stderr: 'Cannot parse device.\n' });
    const lo = await ns.exec([process.execPath, MAIN, '-b', '-n', '1', '-d', '0.1', 'dev', '=', 'lo'], { timeoutMs: 20_000 });
    expect(lo.status).toBe(0);
    // Not a terminal and no -b: batch all the same.
    const piped = await ns.exec([process.execPath, MAIN, '-n', '1', '-d', '0.5', '-o', 'send'], { timeoutMs: 20_000 });
    const [one] = batchFrames(piped.stdout);
    expect(batchFrames(piped.stdout)).toHaveLength(1);
    expect(one.rows.slice(0, 3).map((row) => row[0])).toEqual(flows.flows.map((f) => `${f.clientAddress}:${f.clientPort}`));
  }, 30_000);

  test('--json prints NDJSON frames with the rates, in rank order', async () => {
    const r = await ns.exec([process.execPath, MAIN, '--json', '-n', '2', '-d', '0.5', 'dport', '=', `:${flows.port}`], { timeoutMs: 20_000 });
    expect(r.status).toBe(0);
    const frames = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { totals: { connections: number }; rows: Array<{ local: { address: string; port: number }; sendBytesPerSec: number; processes: Array<{ command: string }> }> });
    expect(frames).toHaveLength(2);
    for (const f of frames) {
      // The filter keeps the client ends (their peer port is the listener's).
      expect(f.totals.connections).toBe(3);
      expect(f.rows.map((row) => row.local.address)).toEqual(flows.flows.map((x) => x.clientAddress));
      f.rows.forEach((row, i) => {
        expect(Math.abs(row.sendBytesPerSec - RATES[i]) / RATES[i]).toBeLessThan(0.25);
        expect(row.processes.map((p) => p.command)).toEqual(['flowsrc']);
      });
    }
  }, 30_000);

  test('unprivileged (uid 65534): the same rates, owners of root\'s sockets not shown', async () => {
    const lib = libForChildren();
    const r = await ns.exec(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, `${lib}/dist/top/main.js`, '--json', '-n', '1', '-d', '0.5'], { timeoutMs: 20_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const f = JSON.parse(r.stdout) as { rows: Array<{ local: { address: string }; peer: { address: string }; sendBytesPerSec: number; recvBytesPerSec: number; processes: unknown[] }> };
    expect(f.rows.map((row) => flows.flows.findIndex((x) => x.clientAddress === row.local.address || x.clientAddress === row.peer.address))).toEqual([0, 0, 1, 1, 2, 2]);
    expect(f.rows[0].sendBytesPerSec + f.rows[0].recvBytesPerSec).toBeGreaterThan(RATES[0] * 0.75);
    for (const row of f.rows) expect(row.processes).toEqual([]);
  }, 30_000);
});
