/**
 * Invalid command lines: sockdiag refuses them as ss does — the same exit status, a message
 * on stderr, nothing on stdout, and never a stack trace. Each run is in a namespace of its
 * own (were a case valid after all, it would list only that empty namespace).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describeFreshNetns, freshNetns } from './helpers/netns';

const MAIN = path.join(__dirname, '..', 'dist', 'cli', 'main.js');

describeFreshNetns('invalid sockdiag command lines fail like ss', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sd-cli-invalid-'));
    writeFileSync(path.join(dir, 'filter'), 'dport = :22\n');
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const cases = (): string[][] => [
    ['-y'],
    ['-tanq'],
    ['--foo'],
    ['--foo=bar'],
    ['-f'],
    ['--family'],
    ['--numeric=1'],
    ['--s'],
    ['--con'],
    ['-A'],
    ['-A', 'tcp,bogus'],
    ['-A', ''],
    ['-A', 'tcp,'],
    ['-Aall,!nope'],
    ['-f', 'bogus'],
    ['--family=ipx'],
    ['-N', 'sd-no-such-namespace'],
    ['-F', '/nonexistent/sockdiag-filter'],
    ['-F', path.join(dir, 'filter'), '-F', path.join(dir, 'filter')],
    ['-Z'],
    ['-z', '-t'],
    ['-D'],
    ['--net'],
    ['--diag'],
    ['state', 'bogus'],
    ['state'],
    ['-t', 'exclude'],
    ['-tan', 'dport', '=', ':22', 'or', '('],
    ['-tan', '(', 'dport', '=', ':22'],
    ['-tan', 'dst', '999.1.1.1'],
    ['-tan', 'dev', 'sd-no-such-dev'],
    ['-tan', 'fwmark', '=', 'zz'],
  ];

  test('same exit status as ss, a message on stderr, nothing on stdout, no stack trace', async () => {
    const inNs = (cmd: string[]): Promise<{ stdout: string; stderr: string; status: number | null }> => freshNetns.exec(cmd, { timeoutMs: 30_000 });
    const all = cases();
    expect(all.length).toBeGreaterThanOrEqual(20);
    const failures: string[] = [];
    // A few at a time: each is a Node start.
    for (let i = 0; i < all.length; i += 8) {
      const batch = all.slice(i, i + 8);
      const runs = await Promise.all(batch.map(async (args) => ({ args, ss: await inNs(['ss', ...args]), ours: await inNs([process.execPath, MAIN, ...args]) })));
      for (const { args, ss, ours } of runs) {
        const name = JSON.stringify(args);
        if (ss.status === 0) failures.push(`${name}: ss accepts it (the case is not invalid)`);
        if (ours.status !== ss.status) failures.push(`${name}: exit ${ours.status}, ss ${ss.status}`);
        if (ours.stdout !== '') failures.push(`${name}: stdout ${JSON.stringify(ours.stdout.slice(0, 200))}`);
        if (ours.stderr.trim() === '') failures.push(`${name}: nothing on stderr`);
        if (/^\s+at .+\(.*:\d+:\d+\)$/m.test(ours.stderr)) failures.push(`${name}: stack trace on stderr`);
      }
    }
    expect(failures).toEqual([]);
  }, 120_000);

  test('unusual but valid lines are accepted like ss: "--" ends the options, filter words may come first', async () => {
    for (const args of [['state', 'all', '-t', '-n'], ['-n', '--', 'state', 'listening'], ['dport', '=', ':22', '-ta']]) {
      const ours = await freshNetns.exec([process.execPath, MAIN, ...args]);
      const ss = await freshNetns.exec(['ss', ...args]);
      expect({ args, status: ours.status, stdout: ours.stdout }).toEqual({ args, status: ss.status, stdout: ss.stdout });
    }
  }, 60_000);
});
