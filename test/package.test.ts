/**
 * The package as users get it: require and ESM import by name, and `npm pack` installed
 * into an empty folder (addon, JS and types). Listings run in a private namespace (the first
 * two in one of their own, so without root too).
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createNetns, describeFreshNetns, describeRoot, inFreshNetns, Netns } from './helpers/netns';

const root = path.join(__dirname, '..');
const run = (cmd: string, args: string[], cwd: string, timeout = 300_000): ReturnType<typeof spawnSync> =>
  spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, npm_config_loglevel: 'error' } });

/** Runs `node ARGS` in a namespace of its own, from `cwd`; `/proc/self/ns/net` names that namespace. */
const nodeInFreshNetns = (args: string[], cwd: string): ReturnType<typeof spawnSync> => {
  const [cmd, ...rest] = inFreshNetns([process.execPath, ...args]);
  return run(cmd, rest, cwd);
};

const listScript = (how: 'require' | 'import'): string =>
  how === 'require'
    ? `const { listSockets, streamSockets } = require('sockdiag'); listSockets({ netns: process.argv[1], protocols: ['tcp','unix'] }).then(s => { if (typeof streamSockets !== 'function') throw new Error('no streamSockets'); console.log('ok', Array.isArray(s), typeof s.duplicatesDropped); });`
    : `import { listSockets, streamSockets } from 'sockdiag'; const s = await listSockets({ netns: process.argv[1], protocols: ['tcp','unix'] }); if (typeof streamSockets !== 'function') throw new Error('no streamSockets'); console.log('ok', Array.isArray(s), typeof s.duplicatesDropped);`;

describeFreshNetns('the package, by name, from the checkout (each run in a namespace of its own)', () => {
  beforeAll(() => {
    // The built package is what CI tests (npm run compile runs before npm test).
    expect(existsSync(path.join(root, 'dist', 'index.js'))).toBe(true);
  });

  test('require("sockdiag") and ESM import { listSockets } from "sockdiag" both work', () => {
    const cjs = nodeInFreshNetns(['-e', listScript('require'), '/proc/self/ns/net'], root);
    expect(cjs.stderr).toBe('');
    expect(cjs.stdout).toBe('ok true number\n');
    const esm = nodeInFreshNetns(['--input-type=module', '-e', listScript('import'), '/proc/self/ns/net'], root);
    expect(esm.stderr).toBe('');
    expect(esm.stdout).toBe('ok true number\n');
  });

  // The integrations: subpaths of the package, by name, from CommonJS and ESM. Run from the
  // checkout, where prom-client and @opentelemetry/api are installed (dev dependencies).
  const subpathScript = (how: 'require' | 'import'): string => {
    const body = `const r = new Registry(); registerSocketMetrics({ register: r, netns: process.argv[1], protocols: ['tcp'] }); const text = await r.metrics(); if (!/^sockdiag_up 1$/m.test(text)) throw new Error('no sockdiag_up 1'); if (typeof registerSocketInstruments !== 'function') throw new Error('no otel'); console.log('ok');`;
    return how === 'require'
      ? `const { registerSocketMetrics } = require('sockdiag/prometheus'); const { registerSocketInstruments } = require('sockdiag/otel'); const { Registry } = require('prom-client'); (async () => { ${body} })().catch((e) => { console.error(e); process.exit(1); });`
      : `import { registerSocketMetrics } from 'sockdiag/prometheus'; import { registerSocketInstruments } from 'sockdiag/otel'; import { Registry } from 'prom-client'; ${body}`;
  };

  test('require("sockdiag/prometheus") and ESM import from "sockdiag/prometheus" and "sockdiag/otel" work', () => {
    const cjs = nodeInFreshNetns(['-e', subpathScript('require'), '/proc/self/ns/net'], root);
    expect(cjs.stderr).toBe('');
    expect(cjs.stdout).toBe('ok\n');
    const esm = nodeInFreshNetns(['--input-type=module', '-e', subpathScript('import'), '/proc/self/ns/net'], root);
    expect(esm.stderr).toBe('');
    expect(esm.stdout).toBe('ok\n');
  });
});

describeRoot('the package as npm pack makes it', () => {
  let ns: Netns;
  beforeAll(async () => {
    ns = await createNetns();
    expect(existsSync(path.join(root, 'dist', 'index.js'))).toBe(true);
  });
  afterAll(() => ns?.destroy());

  /** Starts the installed exporter on a free port, returns one page of /metrics, stops it with SIGTERM. */
  async function serveOnce(bin: string, cwd: string): Promise<string> {
    const child = spawn(bin, ['--listen', '127.0.0.1:0', '--netns', ns.name], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    try {
      const deadline = Date.now() + 20_000;
      let url: string | undefined;
      while (url === undefined) {
        url = /listening on (http:\/\/\S+)/.exec(err)?.[1];
        if (url !== undefined) break;
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the installed exporter did not start: ${err}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const r = await fetch(url);
      expect(r.status).toBe(200);
      return await r.text();
    } finally {
      child.kill('SIGTERM');
    }
  }

  test('npm pack → install into an empty folder → require works, with types and a prebuild; npx sockdiag-exporter serves without prom-client', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sockdiag-pack-'));
    try {
      // Pack from a copy: prepack rebuilds the addon, and doing that in the checkout would
      // pull build/ from under the other test files running meanwhile.
      const src = path.join(dir, 'src');
      mkdirSync(src);
      for (const f of ['package.json', 'package-lock.json', 'binding.gyp', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'CHANGELOG.md', 'lib', 'native', 'prometheus']) {
        cpSync(path.join(root, f), path.join(src, f), { recursive: true });
      }
      symlinkSync(path.join(root, 'node_modules'), path.join(src, 'node_modules'));
      const pack = run('npm', ['pack', '--pack-destination', dir], src, 600_000);
      expect(pack.status).toBe(0);
      const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'));
      expect(tgz).toBeDefined();
      const listing = run('tar', ['-tzf', path.join(dir, tgz as string)], dir);
      const files = String(listing.stdout).split('\n');
      expect(files).toContain('package/dist/index.d.ts');
      expect(files).toContain('package/prebuilds/linux-x64/sockdiag.node');
      expect(files).toContain('package/native/channel.cc');
      expect(files.some((f) => f.startsWith('package/test/'))).toBe(false);
      const app = path.join(dir, 'app');
      run('mkdir', ['-p', app], dir);
      writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
      const inst = run('npm', ['install', '--no-audit', '--no-fund', path.join(dir, tgz as string)], app, 600_000);
      expect(inst.status).toBe(0);
      // Loaded from the prebuild (no compiler run, no build/ folder in the installed package).
      expect(existsSync(path.join(app, 'node_modules', 'sockdiag', 'build'))).toBe(false);
      const use = run(process.execPath, ['-e', listScript('require'), ns.name], app);
      expect(use.stderr).toBe('');
      expect(use.stdout).toBe('ok true number\n');
      // The optional peers are not installed here: sockdiag/otel loads (it needs only the caller's
      // Meter), registerSocketMetrics says what to install, and the exporter needs neither.
      const peers = run(process.execPath, ['-e', `const o = require('sockdiag/otel'); if (typeof o.registerSocketInstruments !== 'function') throw new Error('otel'); try { require('sockdiag/prometheus').registerSocketMetrics(); } catch (e) { console.log(e.code, e.message); }`], app);
      expect(peers.stderr).toBe('');
      expect(peers.stdout).toBe('SOCKDIAG_PEER_MISSING sockdiag/prometheus needs the prom-client package, an optional peer dependency: npm install prom-client\n');
      const served = await serveOnce(path.join(app, 'node_modules', '.bin', 'sockdiag-exporter'), app);
      expect(served).toMatch(new RegExp(`^sockdiag_up\\{netns="${ns.name}"\\} 1$`, 'm'));
      expect(files).toContain('package/prometheus/sockdiag-rules.yml');
      expect(files).toContain('package/dist/exporter/main.js');
      const top = run(path.join(app, 'node_modules', '.bin', 'sockdiag-top'), ['-N', ns.name, '-b', '-n', '1', '-d', '0.1'], app);
      expect(top.stderr).toBe('');
      expect(String(top.stdout)).toMatch(/^sockdiag-top \d{4}-.* connections/);
      expect(files).toContain('package/dist/prometheus/index.d.ts');
      expect(files).toContain('package/dist/otel/index.d.ts');
      writeFileSync(path.join(app, 'use.ts'), `import { listSockets, Socket, TcpSocket } from 'sockdiag';\nconst p: Promise<Socket[]> = listSockets({ protocols: ['tcp'] });\nvoid p.then((s) => s.filter((x): x is TcpSocket => x.protocol === 'tcp').map((t) => t.info?.rttUs));\n`);
      writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, module: 'node16', moduleResolution: 'node16', target: 'ES2022', noEmit: true, types: ['node'], typeRoots: [path.join(root, 'node_modules', '@types')] }, files: ['use.ts'] }));
      const tsc = run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], app);
      expect(String(tsc.stdout) + String(tsc.stderr)).toBe('');
      expect(tsc.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 900_000);
});
