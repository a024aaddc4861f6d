/**
 * The sockdiag command beyond the conformance list: every option against an empty namespace
 * (as ss), the options ss 6.1 lacks (-Q, -B), -h/-V, -D files that ss reads back, -K and -E.
 * F20 (a huge listing piped to head) is in cli-f20.test.ts.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createNetns, describeRoot, Netns, Population, runCommand, waitSocketsInUse } from './helpers/netns';
import { run } from '../lib/cli/main';
import { parseCommandLine, CliExit, ArgsHost } from '../lib/cli/args';
import { resolveSelection } from '../lib/cli/select';
import { TableRenderer } from '../lib/cli/table';

const MAIN = path.join(__dirname, '..', 'dist', 'cli', 'main.js');

/** Runs the command in-process; returns what it printed. */
async function inProcess(args: string[]): Promise<{ stdout: string; stderr: string; status: number }> {
  let stdout = '';
  let stderr = '';
  const status = await run(args, { write: (t) => void (stdout += typeof t === 'string' ? t : Buffer.from(t).toString('utf8')) }, { write: (t) => void (stderr += String(t)) });
  return { stdout, stderr, status };
}

const host: ArgsHost = { readFilterFile: () => '', checkNetns: () => undefined, selinuxEnabled: () => false, version: () => 'v\n' };

describe('command line and selection (no root needed)', () => {
  test('bundles, attached and separate arguments, long options and prefixes, permutation', () => {
    const a = parseCommandLine(['dport', '=', ':22', '-tanp', '-finet6', '--fam', 'unix', '--query=udp', 'sport', '>', ':1'], host);
    expect([a.numeric, a.processes, a.stateFilter !== 0]).toEqual([true, 1, true]);
    expect(a.words).toEqual(['dport', '=', ':22', 'sport', '>', ':1']);
    expect(() => parseCommandLine(['-fINET6'], host)).toThrow(CliExit);
    expect(() => parseCommandLine(['--s'], host)).toThrow(/ambiguous; possibilities: '--sctp' '--socket' '--summary'/);
    expect(parseCommandLine(['--', '-t'], host).words).toEqual(['-t']);
  });

  test("ss's table logic: Netid and State columns, default states, -A exclusions, -4/-6 order", () => {
    const sel = (args: string[]) => resolveSelection(parseCommandLine(args, host));
    expect(sel([]).tables.map((t) => t.protocol)).toEqual(['netlink', 'packet', 'unix', 'raw', 'udp', 'tcp', 'dccp', 'sctp', 'vsock', 'xdp', 'mptcp'].filter((p) => p !== 'netlink' && p !== 'packet' && p !== 'xdp'));
    expect(sel(['-a']).tables.map((t) => t.protocol)).toEqual(['netlink', 'packet', 'unix', 'raw', 'udp', 'tcp', 'dccp', 'sctp', 'vsock', 'xdp', 'mptcp']);
    expect([sel(['-t']).showNetid, sel(['-t']).showState, sel(['-w']).showState, sel(['-x']).showNetid]).toEqual([false, true, false, true]);
    expect(sel(['-a', '-A', 'all,!tcp']).tables.map((t) => t.protocol)).not.toContain('tcp');
    expect(sel(['-t', '-4', '-6']).inetFamilies).toEqual(['inet6']);
    expect(sel(['-t', '-6', '-4']).inetFamilies).toEqual(['inet']);
    expect(sel(['-t', 'state', 'listening']).showState).toBe(false);
    expect(() => sel(['state', 'nope'])).toThrow(/wrong state name/);
  });

  test('the layout is ss render(): widths from measured cells, the last row\'s last cell not measured', () => {
    let out = '';
    const t = new TableRenderer({ netid: false, state: true, queues: true, header: true }, (s) => (out += s));
    const row = (state: string, ext: string) => ({ netid: 'tcp', state, recvQ: '0', sendQ: '0', localAddr: '1.2.3.4:', localPort: '80', peerAddr: '*:', peerPort: '*', process: ext });
    t.row(row('LISTEN', ' a'));
    t.row(row('ESTAB', ' a-much-longer-cell'));
    t.end();
    expect(out).toBe(
      'State  Recv-Q Send-Q Local Address:Port Peer Address:PortProcess\n' +
        'LISTEN 0      0            1.2.3.4:80              *:*    a     \n' +
        'ESTAB  0      0            1.2.3.4:80              *:*    a-much-longer-cell\n',
    );
  });
});

describeRoot('sockdiag command', () => {
  let empty: Netns;
  let ns: Netns;
  let pop: Population;
  let dir: string;
  beforeAll(async () => {
    [empty, ns] = await Promise.all([createNetns(), createNetns()]);
    pop = await ns.spawnPopulation({ kinds: ['tcp', 'udp', 'unix'] });
    dir = mkdtempSync(path.join(tmpdir(), 'sd-cli-'));
  }, 60_000);
  afterAll(async () => {
    await pop?.stop();
    await Promise.all([empty?.destroy(), ns?.destroy()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('every option against an empty namespace prints what ss prints', async () => {
    const options = [
      [], ['-H'], ['-a'], ['-aH'], ['-l'], ['-t'], ['-tH'], ['-u'], ['-w'], ['-x'], ['-xa'], ['-0'], ['-0a'], ['-M'], ['-S'], ['-d'],
      ['--vsock'], ['--tipc'], ['--xdp'], ['-4'], ['-6'], ['-f', 'netlink'], ['-A', 'all,!netlink', '-a'], ['-n'], ['-r'], ['-o'], ['-e'],
      ['-m'], ['-p'], ['-T'], ['-i'], ['-b'], ['-O'], ['--tos'], ['--cgroup'], ['--inet-sockopt'], ['--tipcinfo'], ['-s'],
      ['-tanoiemp'], ['-K', 'dport', '=', ':1'], ['state', 'listening'], ['-t', 'exclude', 'all'], ['-t', 'dst', '10.0.0.0/8'],
    ];
    const failures: string[] = [];
    for (const args of options) {
      const all = ['-N', empty.name, ...args];
      // -s: `Total:` is the namespace's count of sockets in use, and the sockets that the
      // commands before this one opened in it (ss's and ours, all closed) still count until
      // an RCU grace period frees them: wait until the empty namespace holds none, before
      // each of the two runs (neither holds a socket there when it reads the count).
      const settle = (): Promise<void> => (args.includes('-s') ? waitSocketsInUse(empty, 0) : Promise.resolve());
      await settle();
      const ss = await runCommand('ss', all);
      await settle();
      const ours = await inProcess(all);
      // -s: of the `TCP:` line, the total (sockets allocated), `closed` (derived from it) and
      // `orphaned` are counts over the whole host, which other test files move; they are
      // masked. `estab` and `timewait`, and the transport table, are this namespace's.
      const mask = (t: string): string => t.replace(/^(TCP: +)\d+( \(estab \d+, closed )\d+(, orphaned )\d+/m, '$1*$2*$3*');
      // The observer's own sock_diag socket (`tcpdiag:ss/PID` vs `tcpdiag:node/PID`) is the one row
      // that differs by nature; with no other socket to set the width it also widens its column.
      const observer = (t: string): string =>
        t.includes('tcpdiag:') ? t.split('\n').filter((l) => !/tcpdiag:\S+\/\d+/.test(l)).map((l) => l.trim().split(/\s+/).join(' ')).join('\n') : t;
      if (ours.status !== ss.status || observer(mask(ours.stdout)) !== observer(mask(ss.stdout))) failures.push(`${args.join(' ')}: ${JSON.stringify(ours.stdout)} vs ss ${JSON.stringify(ss.stdout)}`);
    }
    expect(failures).toEqual([]);
  }, 300_000);

  test('options ss 6.1 lacks: -Q drops the queue columns, -B asks for bound-inactive sockets, -h and -V', async () => {
    // A connection of the population may still be changing state: -Q is bracketed by two plain runs.
    const before = await inProcess(['-N', ns.name, '-tan']);
    const q = await inProcess(['-N', ns.name, '-tanQ']);
    const after = await inProcess(['-N', ns.name, '-tan']);
    expect(q.status).toBe(0);
    expect(q.stdout.split('\n')[0]).toMatch(/^State +Local Address:Port +Peer Address:Port +Process$/);
    expect([before.stdout.split('\n').length, after.stdout.split('\n').length]).toContain(q.stdout.split('\n').length);
    const b = await inProcess(['-N', ns.name, '-tnB']);
    expect(b.status).toBe(0);
    expect(b.stdout).toMatch(/^Recv-Q/);
    const h = await inProcess(['-h']);
    expect([h.status, h.stderr]).toEqual([0, '']);
    expect(h.stdout).toMatch(/^Usage: sockdiag/);
    const v = await inProcess(['-V']);
    expect(v.stdout).toMatch(/^sockdiag \d/);
  }, 120_000);

  test('-D writes the TCP dump as ss does: ss reads our file back', async () => {
    const file = path.join(dir, 'tcp.dump');
    const d = await inProcess(['-N', ns.name, '-ta', '-D', file]);
    expect([d.status, d.stdout, d.stderr]).toEqual([0, '', '']);
    expect(statSync(file).size).toBeGreaterThan(0);
    // ss shows the first dump of such a file (IPv4), whoever wrote it.
    const fromFile = await runCommand('ss', ['-tan'], { env: { ...process.env, TCPDIAG_FILE: file } });
    const live = await ns.exec(['ss', '-tan4', 'state', 'all']);
    expect(fromFile.stdout).toBe(live.stdout);
  });

  test('-E prints sockets as they are destroyed; --json -E prints NDJSON events', async () => {
    const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, MAIN, '-Etn'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const jsonChild = spawn('ip', ['netns', 'exec', ns.name, process.execPath, MAIN, '-Et', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let json = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    jsonChild.stdout.on('data', (b: Buffer) => (json += b.toString()));
    await new Promise((r) => setTimeout(r, 1500));
    // A connection made and closed in the namespace.
    await ns.exec(['python3', '-c', 'import socket\nl=socket.socket();l.bind(("127.0.0.1",0));l.listen()\nc=socket.create_connection(l.getsockname());s,_=l.accept();c.close();s.close();l.close()']);
    for (let i = 0; i < 50 && !(out.includes('127.0.0.1') && json.includes('destroy')); i++) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGTERM');
    jsonChild.kill('SIGTERM');
    expect(out).toMatch(/^State +Recv-Q Send-Q +Local Address:Port +Peer Address:Port *Process\n/);
    expect(out).toMatch(/127\.0\.0\.1:\d+/);
    const ev = JSON.parse(json.split('\n')[0]) as { type: string; socket: { protocol: string } };
    expect([ev.type, ev.socket.protocol]).toEqual(['destroy', 'tcp']);
  }, 30_000);

  test('-K kills what the filter selects and prints it; the socket is gone afterwards', async () => {
    const victim = pop.sockets.find((s) => s.kind === 'tcp' && s.state === 'established' && s.family === 'inet' && s.local!.port !== pop.byName('tcp4-listen').local!.port)!;
    const filter = ['src', `127.0.0.1:${victim.local!.port}`, 'and', 'dst', `127.0.0.1:${victim.remote!.port}`];
    const k = await inProcess(['-N', ns.name, '-tnK', ...filter]);
    expect(k.status).toBe(0);
    const lines = k.stdout.split('\n').filter(Boolean);
    expect(lines[0]).toMatch(/^State/);
    expect(lines.slice(1).join('\n')).toContain(`127.0.0.1:${victim.local!.port}`);
    const after = await ns.exec(['ss', '-tnH', 'state', 'established', ...filter]);
    expect(after.stdout).toBe('');
  });
});
