/**
 * The Prometheus rules shipped in prometheus/: promtool checks them and runs their unit tests
 * (test/rules/), and every metric name the rules and those tests use must appear on a real
 * scrape page of the exporter (run against a private namespace holding a TCP listener, with
 * --watch so the event counters are there).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { createNetns, describeRoot, startPython, type Helper, type Netns } from './helpers/netns';

const root = path.join(__dirname, '..');
const RULES = path.join(root, 'prometheus', 'sockdiag-rules.yml');
const RULE_TESTS = path.join(root, 'test', 'rules', 'sockdiag-rules.test.yml');
const BIN = path.join(root, 'dist', 'exporter', 'main.js');

test('promtool check rules accepts the rules, and promtool test rules passes their unit tests', () => {
  const check = spawnSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
  expect(check.error).toBeUndefined();
  expect(`${check.stdout}${check.stderr}`).toMatch(/SUCCESS: 9 rules found/);
  expect(check.status).toBe(0);
  const run = spawnSync('promtool', ['test', 'rules', RULE_TESTS], { encoding: 'utf8' });
  expect(`${run.stdout}${run.stderr}`).toMatch(/SUCCESS/);
  expect(run.status).toBe(0);
});

test('the package ships the rules', () => {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { files: string[] };
  expect(pkg.files).toContain('prometheus');
});

describeRoot('the rules against a real scrape page', () => {
  let ns: Netns;
  let listener: Helper;
  beforeAll(async () => {
    ns = await createNetns();
    listener = await startPython(ns, "import json, socket, sys\nl = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(8)\nprint(json.dumps({}), flush=True)\nsys.stdin.read()");
  });
  afterAll(async () => {
    await listener?.stop();
    await ns?.destroy();
  });

  test('every sockdiag_ metric the rules and their tests use is on the page', async () => {
    expect(existsSync(BIN)).toBe(true);
    const s = createServer();
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    const port = (s.address() as { port: number }).port;
    await new Promise((resolve) => s.close(resolve));
    const ex = spawn(process.execPath, [BIN, '--listen', `127.0.0.1:${port}`, '--netns', ns.name, '--watch'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    ex.stderr.on('data', (b: Buffer) => (err += b.toString()));
    try {
      let page = '';
      const deadline = Date.now() + 15_000;
      while (page === '') {
        try {
          const r = await fetch(`http://127.0.0.1:${port}/metrics`);
          if (r.status === 200) page = await r.text();
        } catch {
          if (Date.now() > deadline) throw new Error(`exporter did not answer: ${err}`);
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      const onPage = new Set([...page.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/gm)].map((m) => m[1]));
      const used = new Set<string>();
      for (const file of [RULES, RULE_TESTS]) {
        // Recording rules' own names (sockdiag:…) contain a colon and are not matched here.
        for (const m of readFileSync(file, 'utf8').matchAll(/\bsockdiag_[a-z_]+\b/g)) used.add(m[0]);
      }
      expect(used.size).toBeGreaterThanOrEqual(10);
      expect([...used].filter((name) => !onPage.has(name))).toEqual([]);
    } finally {
      ex.kill('SIGKILL');
    }
  });
});
