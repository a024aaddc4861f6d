/**
 * The sockdiag command against ss on the same live sockets (the first cut: issue 5 extends
 * this to every option). Runs the built command (dist/) inside a private namespace.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { createNetns, describeRoot, Netns, Population } from './helpers/netns';

const CLI = path.join(__dirname, '..', 'dist', 'cli', 'main.js');

describeRoot('sockdiag vs ss', () => {
  let ns: Netns;
  let pop: Population;
  beforeAll(async () => {
    ns = await createNetns();
    pop = await ns.spawnPopulation({ kinds: ['tcp', 'udp'] });
  }, 60_000);
  afterAll(async () => {
    await pop?.stop();
    await ns?.destroy();
  });

  const ss = (args: string[]): ReturnType<typeof spawnSync> => spawnSync('ip', ['netns', 'exec', ns.name, 'ss', ...args], { encoding: 'utf8' });
  const ours = (args: string[]): ReturnType<typeof spawnSync> => spawnSync(process.execPath, [CLI, '-N', ns.name, ...args], { encoding: 'utf8' });

  test.each([
    [['-tan']],
    [['-tn']],
    [['-uan']],
    [['-tanH']],
    [['-ltn']],
    [['-tan', 'state', 'established']],
    [['-tan', 'state', 'established', '(', 'dport', '=', ':ssh', 'or', 'sport', '=', ':ssh', ')']],
    [['-tan', 'sport', '>', ':1024', 'and', 'not', 'dst', '[::1]']],
    [['-tan4', 'dst', '127.0.0.0/8']],
    [['-tan', 'exclude', 'listening']],
  ])('%j prints what ss prints', (args) => {
    const a = ss(args);
    const b = ours(args);
    expect(b.stderr).toBe('');
    expect(b.status).toBe(a.status);
    expect(b.stdout).toBe(a.stdout);
    expect(String(a.stdout).split('\n').length).toBeGreaterThan(1);
  });

  test.each([
    [['-tan', 'dport', '=', ':22', 'or', '('], 255],
    [['-tan', 'dst', '999.1.1.1'], 1],
    [['-tan', 'sport', '>=', 'bogus', 'and'], 1],
    [['--no-such-option'], 255],
  ])('%j fails like ss: same exit status, a message on stderr, nothing on stdout', (args, status) => {
    const a = ss(args as string[]);
    const b = ours(args as string[]);
    expect(a.status).toBe(status);
    expect(b.status).toBe(status);
    expect(b.stdout).toBe('');
    expect(String(b.stderr).length).toBeGreaterThan(0);
  });
});
