/**
 * sockdiag-exporter: its command line, the web config (YAML subset, bcrypt against libxcrypt's
 * hashes), a port already taken, graceful shutdown, gzip and OpenMetrics negotiation, TLS and
 * basic auth (a certificate made by openssl), series across a scrape in which connections
 * close, and the acceptance test: a real Prometheus server (Debian's /usr/bin/prometheus, on
 * loopback with a temporary config and storage) scrapes the exporter three ways (OpenMetrics
 * gzipped, plain text through a proxy, HTTPS with basic auth) while it lists a private
 * namespace holding a listener with a full accept queue; Prometheus's HTTP API must then
 * return the counts per state and the listen-queue depth that `ss` shows. promtool checks the page.
 *
 * The exporter and Prometheus listen on 127.0.0.1 of the host (loopback only) and are
 * always killed; the exporter reaches the namespace only through the library's netns option.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, createServer as createHttpServer, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parseArgs, parseListen } from '../lib/exporter/main';
import { acceptsGzip } from '../lib/exporter/server';
import { bcryptVerify } from '../lib/exporter/bcrypt';
import { parseYaml } from '../lib/exporter/yaml';
import { loadWebConfig } from '../lib/exporter/webconfig';
import { createNetns, describeFreshNetns, describeRoot, inFreshNetns, startPython, type Netns } from './helpers/netns';
import { startMetricsPopulation, ssTcpStates, ssListenQueue, waitForFullQueue, type MetricsPopulation } from './helpers/metrics-population';

const root = path.join(__dirname, '..');
const BIN = path.join(root, 'dist', 'exporter', 'main.js');
const PROMETHEUS = '/usr/bin/prometheus';

const children = new Set<ChildProcess>();
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

/** Spawns a process that the test always kills, collecting its stderr. */
function start(cmd: string, args: string[]): { child: ChildProcess; stderr: () => string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  let err = '';
  child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, stderr: () => err, exited };
}

function kill(child: ChildProcess | undefined): void {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** A loopback port nobody listens on right now. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, diag: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms: ${String(lastError ?? '')} ${diag()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One GET with exactly these headers (no automatic Accept-Encoding), over https when `ca` is given. */
function get(url: string, headers: Record<string, string> = {}, tls?: { ca: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = (tls ? httpsRequest : httpRequest)(url, { headers, ...(tls ? { ca: tls.ca } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (b: Buffer) => chunks.push(b));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${url} timed out`)));
    req.end();
  });
}

/** The samples of an exposition page: `name{labels}` → value, and each family's TYPE. */
function parsePage(text: string): { samples: Map<string, number>; types: Map<string, string> } {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) types.set(t[1], t[2]);
    else if (line !== '' && !line.startsWith('#')) {
      const at = line.lastIndexOf(' ');
      samples.set(line.slice(0, at), Number(line.slice(at + 1)));
    }
  }
  return { samples, types };
}

/** The series names of a page, and the family each belongs to (a counter's samples carry _total, a gauge histogram's _bucket/_gsum/_gcount). */
function familyOf(series: string, types: Map<string, string>): string | undefined {
  const name = series.replace(/\{.*$/, '');
  for (const f of [name, name.replace(/_(total|bucket|gsum|gcount)$/, '')]) if (types.has(f)) return f;
  return undefined;
}

/** A self-signed certificate for 127.0.0.1 and localhost, made with openssl in `dir`. */
function makeCert(dir: string): { cert: string; key: string } {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl: ${r.error?.message ?? r.stderr}`);
  return { cert, key };
}

/** A bcrypt hash ($2b$, cost 10) of `password`, made by libxcrypt through python's crypt module. */
function bcryptHash(password: string): string {
  const r = spawnSync('python3', ['-W', 'ignore', '-c', 'import crypt, sys\nprint(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024)))', password], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python3 crypt: ${r.stderr}`);
  return r.stdout.trim();
}

const basic = (user: string, password: string): Record<string, string> => ({ Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

/** Waits for the exporter's page to answer. */
function exporterReady(port: number, diag: () => string): Promise<string> {
  return until(
    'exporter answers',
    async () => {
      const r = await fetch(`http://127.0.0.1:${port}/metrics`);
      return r.status === 200 ? await r.text() : undefined;
    },
    15_000,
    diag,
  );
}

describe('sockdiag-exporter command line', () => {
  test('--listen forms', () => {
    expect(parseListen('127.0.0.1:9355')).toEqual({ host: '127.0.0.1', port: 9355 });
    expect(parseListen('[::1]:80')).toEqual({ host: '::1', port: 80 });
    expect(parseListen(':9100')).toEqual({ host: undefined, port: 9100 });
    expect(() => parseListen('9355')).toThrow(/HOST:PORT/);
    expect(() => parseListen('h:70000')).toThrow(/out of range/);
  });

  test('options, repeated --netns, and mistakes named', () => {
    const a = parseArgs(['--listen', '127.0.0.1:1234', '--netns', 'a', '--netns=b', '--netns', '42', '--prefix', 'x_', '--protocols', 'tcp,udp', '--per-process', '--no-per-listener', '--max-listeners', '5', '--timeout=2000', '--process-metrics']);
    expect(a.options).toMatchObject({ host: '127.0.0.1', port: 1234, netns: ['a', 'b', 42], prefix: 'x_', protocols: ['tcp', 'udp'], perProcess: true, perListener: false, maxListeners: 5, timeoutMs: 2000, processMetrics: true });
    expect(parseArgs(['--help']).help).toBe(true);
    expect(parseArgs(['-V']).version).toBe(true);
    expect(() => parseArgs(['--bogus'])).toThrow(/unknown option '--bogus'/);
    expect(() => parseArgs(['--netns'])).toThrow(/needs a value/);
    expect(() => parseArgs(['--protocols', 'tcp,nope'])).toThrow(/unknown protocol 'nope'/);
    expect(() => parseArgs(['--netns', 'a', '--netns', 'a'])).toThrow(/twice/);
    expect(() => parseArgs(['--timeout', '0'])).toThrow(/--timeout/);
  });
});

// Neither lists anything; were one to start serving after all, it would see only a
// namespace of its own.
describeFreshNetns('sockdiag-exporter command line', () => {
  /** [command, args] for spawnSync, in a fresh namespace. */
  const inFresh = (argv: string[]): [string, string[]] => {
    const [cmd, ...args] = inFreshNetns(argv);
    return [cmd, args];
  };

  test('bad arguments: exit status 2 with a hint; --help prints the usage', () => {
    const bad = spawnSync(...inFresh([process.execPath, BIN, '--listen', 'nowhere']), { encoding: 'utf8', timeout: 20_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^sockdiag-exporter: --listen: expected HOST:PORT.*\nTry 'sockdiag-exporter --help'\.\n$/);
    const help = spawnSync(...inFresh([process.execPath, BIN, '--help']), { encoding: 'utf8', timeout: 20_000 });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: sockdiag-exporter/);
  });
});

describe('the web config and its parts', () => {
  test("node_exporter's flags: --web.listen-address, --web.telemetry-path, --web.config.file", () => {
    const a = parseArgs(['--web.listen-address=:9100', '--web.telemetry-path', '/m', '--web.config.file', 'web.yml']);
    expect(a.options).toMatchObject({ host: '::', port: 9100, path: '/m', webConfigFile: path.resolve('web.yml') });
    expect(() => parseArgs(['--web.telemetry-path', 'm'])).toThrow(/--web.telemetry-path must start with '\/'/);
    expect(() => parseArgs(['--web.config.file='])).toThrow(/empty/);
    const help = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8', timeout: 20_000 });
    for (const flag of ['--listen', '--web.listen-address', '--path', '--web.telemetry-path', '--web.config.file', '--netns', '--prefix', '--protocols', '--per-process', '--watch', '--no-per-listener', '--max-listeners', '--max-processes', '--timeout', '--max-connections', '--header-timeout', '--idle-timeout', '--process-metrics', '--help', '--version']) {
      expect([flag, help.stdout.includes(` ${flag} `)]).toEqual([flag, true]);
    }
  });

  test('Accept-Encoding: gzip when named or by *, not at q=0', () => {
    expect(acceptsGzip('gzip')).toBe(true);
    expect(acceptsGzip('deflate, gzip;q=1.0, *;q=0.5')).toBe(true);
    expect(acceptsGzip('br, *')).toBe(true);
    expect(acceptsGzip('gzip;q=0')).toBe(false);
    expect(acceptsGzip('*;q=0.5, gzip;q=0')).toBe(false);
    expect(acceptsGzip('identity')).toBe(false);
    expect(acceptsGzip(undefined)).toBe(false);
  });

  test('YAML: the subset web configs use, and a refusal with the line for the rest', () => {
    const doc = parseYaml(
      [
        '---',
        '# a comment',
        'tls_server_config:',
        '  cert_file: "server.crt"   # quoted',
        "  key_file: 'it''s.key'",
        '  cipher_suites: [TLS_AES_128_GCM_SHA256, "b"]',
        '  list:',
        '  - one',
        '  - two # comment',
        'basic_auth_users:',
        '  alice: $2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG',
        'empty:',
        'pem: |',
        '  -----BEGIN-----',
        '  abc',
        '',
        'after: x',
      ].join('\n'),
    );
    expect(doc).toEqual({
      tls_server_config: { cert_file: 'server.crt', key_file: "it's.key", cipher_suites: ['TLS_AES_128_GCM_SHA256', 'b'], list: ['one', 'two'] },
      basic_auth_users: { alice: '$2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG' },
      empty: null,
      pem: '-----BEGIN-----\nabc\n',
      after: 'x',
    });
    expect(() => parseYaml('a: &anchor 1')).toThrow(/line 1: anchors/);
    expect(() => parseYaml('a: 1\na: 2')).toThrow(/line 2: duplicate key 'a'/);
    expect(() => parseYaml('a:\n  b: 1\n c: 2')).toThrow(/line 3: unexpected indentation/);
    expect(() => parseYaml('a: >\n  folded')).toThrow(/line 1/);
    expect(() => parseYaml('a: {b: 1}')).toThrow(/flow mappings/);
  });

  test('bcrypt: hashes made by libxcrypt (python crypt), $2a$, $2b$ and $2y$, match only their password', () => {
    // The published test vector, then hashes made here by an independent implementation.
    expect(bcryptVerify('U*U', '$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW')).toBe(true);
    expect(bcryptVerify('U*V', '$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW')).toBe(false);
    const passwords = ['', 'secret', 'pässwörd ✓', 'x'.repeat(72), 'y'.repeat(100)];
    const py = spawnSync('python3', ['-W', 'ignore', '-c', 'import crypt, json, sys\nfor p in json.loads(sys.argv[1]): print(crypt.crypt(p, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))', JSON.stringify(passwords)], { encoding: 'utf8' });
    expect(py.status).toBe(0);
    const hashes = py.stdout.trim().split('\n');
    expect(hashes).toHaveLength(passwords.length);
    passwords.forEach((p, i) => {
      expect(hashes[i]).toMatch(/^\$2b\$04\$/);
      expect([p, bcryptVerify(p, hashes[i])]).toEqual([p, true]);
      expect([p, bcryptVerify(`${p}!`, hashes[i])]).toEqual([p, p.length >= 72]);
      expect(bcryptVerify(p, hashes[i].replace('$2b$', '$2y$'))).toBe(true);
    });
    expect(bcryptVerify('secret', 'plain')).toBe(false);
  });

  test('loadWebConfig: paths relative to the file, and a clear error for what it cannot honour', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sockdiag-webcfg-'));
    try {
      const file = path.join(dir, 'web.yml');
      writeFileSync(path.join(dir, 'c.pem'), 'CERT');
      writeFileSync(path.join(dir, 'k.pem'), 'KEY');
      const load = (text: string): ReturnType<typeof loadWebConfig> => {
        writeFileSync(file, text);
        return loadWebConfig(file);
      };
      const c = load('tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  min_version: TLS13\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\nbasic_auth_users:\n  u: $2b$04$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW\n');
      expect(c.tls).toMatchObject({ cert: 'CERT', key: 'KEY', minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', clientAuth: 'NoClientCert' });
      expect(c.headers).toEqual({ 'X-Frame-Options': 'deny' });
      expect([...c.users.keys()]).toEqual(['u']);
      expect(load('').tls).toBeUndefined();
      expect(() => load('tls_server_config:\n  cert_file: c.pem\n')).toThrow(/key_file \(or key\) is required/);
      expect(() => load('tls_server_config:\n  cert_file: nope.pem\n  key_file: k.pem\n')).toThrow(/cannot read .*nope\.pem/);
      expect(() => load('tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  cipher_suites: [x]\n')).toThrow(/cipher_suites is not supported/);
      expect(() => load('tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  client_auth_type: RequireAndVerifyClientCert\n')).toThrow(/needs client_ca_file/);
      expect(() => load('basic_auth_users:\n  u: plaintext\n')).toThrow(/basic_auth_users.u: expected a bcrypt hash/);
      expect(() => load('tls_config: {}\n')).toThrow(/unknown setting 'tls_config'/);
      expect(() => load('rate_limit:\n  burst: 1\n')).toThrow(/rate_limit is not supported/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describeRoot('sockdiag-exporter', () => {
  let ns: Netns;
  let pop: MetricsPopulation;
  beforeAll(async () => {
    expect(existsSync(BIN)).toBe(true);
    ns = await createNetns();
    pop = await startMetricsPopulation(ns.name, 2, 5, 1000);
    await waitForFullQueue(ns.name, pop);
  }, 60_000);
  afterAll(async () => {
    children.forEach((c) => c.kill('SIGKILL'));
    await pop?.stop();
    await ns?.destroy();
  });

  test('a port already taken: one clear line on stderr and exit status 1', async () => {
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as { port: number }).port;
    try {
      const r = spawnSync(process.execPath, [BIN, '--listen', `127.0.0.1:${port}`, '--netns', ns.name], { encoding: 'utf8', timeout: 20_000 });
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(`sockdiag-exporter: cannot listen on 127.0.0.1:${port}: the address is already in use (another process listens there)\n`);
      expect(r.stdout).toBe('');
    } finally {
      holder.close();
    }
  });

  test('serves /metrics (404 elsewhere, 405 for POST); SIGTERM shuts it down gracefully with status 0', async () => {
    const port = await freePort();
    const ex = start(process.execPath, [BIN, '--listen', `127.0.0.1:${port}`, '--netns', ns.name, '--process-metrics']);
    try {
      const page = await exporterReady(port, ex.stderr);
      expect(page).toMatch(new RegExp(`^sockdiag_up\\{netns="${ns.name}"\\} 1$`, 'm'));
      expect(page).toMatch(/^process_cpu_seconds_total /m);
      expect((await fetch(`http://127.0.0.1:${port}/nothing`)).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' })).status).toBe(405);
      // A scrape in flight when SIGTERM arrives still gets its answer.
      const inFlight = fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.status);
      await new Promise((r) => setTimeout(r, 5));
      const t0 = Date.now();
      ex.child.kill('SIGTERM');
      expect(await inFlight).toBe(200);
      const { code, signal } = await ex.exited;
      expect({ code, signal }).toEqual({ code: 0, signal: null });
      expect(Date.now() - t0).toBeLessThan(5_000);
      expect(ex.stderr()).toMatch(/SIGTERM, shutting down/);
      await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
    } finally {
      kill(ex.child);
    }
  });

  test('--watch counts the namespace\'s destroy events (sockets closed)', async () => {
    const port = await freePort();
    const ex = start(process.execPath, [BIN, '--listen', `127.0.0.1:${port}`, '--netns', ns.name, '--watch', '--protocols', 'udp']);
    try {
      await exporterReady(port, ex.stderr);
      // Three UDP sockets opened and closed inside the namespace: three destroy events.
      await ns.exec(['python3', '-c', 'import socket\nfor _ in range(3):\n  s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); s.close()'], { check: true });
      const destroyed = await until(
        'destroy events counted',
        async () => {
          const page = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
          const m = new RegExp(`^sockdiag_events_total\\{netns="${ns.name}",type="destroy"\\} (\\d+)$`, 'm').exec(page);
          return m && Number(m[1]) >= 3 ? Number(m[1]) : undefined;
        },
        10_000,
        ex.stderr,
      );
      expect(destroyed).toBe(3);
      ex.child.kill('SIGTERM');
      expect((await ex.exited).code).toBe(0);
    } finally {
      kill(ex.child);
    }
  });

  test('--watch follows a namespace deleted and created again under the same name', async () => {
    const port = await freePort();
    // A namespace of its own (this test deletes and re-creates it), named like the suite's.
    const name = `${ns.name}r`;
    const run = (argv: string[]): void => {
      const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
    };
    const closeUdp = (n: number): void =>
      run(['ip', 'netns', 'exec', name, 'python3', '-c', `import socket\nfor _ in range(${n}):\n  s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); s.close()`]);
    run(['ip', 'netns', 'add', name]);
    const ex = start(process.execPath, [BIN, '--listen', `127.0.0.1:${port}`, '--netns', name, '--watch', '--protocols', 'udp']);
    const destroyed = async (): Promise<number | undefined> => {
      const page = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const m = new RegExp(`^sockdiag_events_total\\{netns="${name}",type="destroy"\\} (\\d+)$`, 'm').exec(page);
      return m ? Number(m[1]) : undefined;
    };
    try {
      await exporterReady(port, ex.stderr);
      closeUdp(2);
      expect(await until('the first namespace\'s events', async () => ((await destroyed()) === 2 ? 2 : undefined), 10_000, ex.stderr)).toBe(2);
      run(['ip', 'netns', 'del', name]);
      run(['ip', 'netns', 'add', name]);
      // The watch moves to the new namespace within a check interval; events there are counted.
      const moved = await until(
        'events of the namespace created again',
        async () => {
          closeUdp(1);
          const n = await destroyed();
          return n !== undefined && n >= 4 ? n : undefined;
        },
        15_000,
        ex.stderr,
      );
      expect(moved).toBeGreaterThanOrEqual(4);
      ex.child.kill('SIGTERM');
      expect((await ex.exited).code).toBe(0);
    } finally {
      kill(ex.child);
      spawnSync('ip', ['netns', 'del', name]);
    }
  });

  test('hundreds of slow clients do not starve a scrape: headers time out, idle connections close', async () => {
    const port = await freePort();
    const ex = start(process.execPath, [BIN, '--listen', `127.0.0.1:${port}`, '--netns', ns.name, '--header-timeout', '1000', '--idle-timeout', '2000', '--max-connections', '64']);
    const slow: Socket[] = [];
    try {
      await exporterReady(port, ex.stderr);
      // 300 connections that start a request and never finish its headers.
      for (let i = 0; i < 300; i++) {
        const c = connect(port, '127.0.0.1');
        c.on('error', () => undefined);
        c.resume(); // read what the server sends (its 408), so its close is seen
        c.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
        slow.push(c);
      }
      // A scrape (retried as a scraper would if refused) succeeds within a few seconds.
      const t0 = Date.now();
      const page = await until(
        'a scrape among slow clients',
        async () => {
          try {
            const r = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(1500) });
            return r.status === 200 ? await r.text() : undefined;
          } catch {
            return undefined;
          }
        },
        8_000,
        ex.stderr,
      );
      expect(page).toMatch(/^sockdiag_up\b/m);
      expect(Date.now() - t0).toBeLessThan(8_000);
      // And the server closed every slow connection (header timeout, or refused over the cap).
      await until('slow connections closed', async () => (slow.every((c) => c.destroyed || c.readableEnded) ? true : undefined), 6_000, ex.stderr);
    } finally {
      for (const c of slow) c.destroy();
      kill(ex.child);
    }
  });

  test('gzip and OpenMetrics when asked; across a scrape in which connections close no counter decreases, nothing is a histogram, and by-state series stay (at 0)', async () => {
    const port = await freePort();
    const ex = start(process.execPath, [BIN, '--listen', `127.0.0.1:${port}`, '--netns', ns.name, '--watch']);
    // 20 more connections, closed between the two scrapes.
    const conns = await startPython(
      ns,
      "import json, socket, sys\nl = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(64)\nc = [socket.create_connection(l.getsockname()) for _ in range(20)]\na = [l.accept()[0] for _ in range(20)]\nfor s in c: s.sendall(b'x')\nprint(json.dumps({'port': l.getsockname()[1]}), flush=True)\nsys.stdin.read()",
    );
    const listenerPort = conns.info.port as number;
    try {
      await exporterReady(port, ex.stderr);
      const url = `http://127.0.0.1:${port}/metrics`;
      const scrape = async (): Promise<{ text: ReturnType<typeof parsePage>; om: ReturnType<typeof parsePage> }> => {
        const zipped = await get(url, { 'Accept-Encoding': 'gzip' });
        expect(zipped.status).toBe(200);
        expect(zipped.headers['content-encoding']).toBe('gzip');
        expect(zipped.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
        const text = gunzipSync(zipped.body).toString();
        const om = await get(url, { Accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' });
        expect(om.headers['content-encoding']).toBeUndefined();
        expect(om.headers['content-type']).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
        expect(om.body.toString().endsWith('# EOF\n')).toBe(true);
        return { text: parsePage(text), om: parsePage(om.body.toString()) };
      };
      const plain = await get(url);
      expect(plain.headers['content-encoding']).toBeUndefined();
      expect(plain.body.toString()).toMatch(/^sockdiag_up\{netns="[^"]+"\} 1$/m);

      const first = await scrape();
      await conns.stop();
      await until('the connections closed', async () => ((await ssTcpStates(ns.name)).get('established') === 8 ? true : undefined), 10_000, ex.stderr);
      const second = await scrape();
      const established = (p: ReturnType<typeof parsePage>): number | undefined => p.samples.get(`sockdiag_sockets{netns="${ns.name}",protocol="tcp",state="established"}`);
      expect(established(first.text)).toBe(48);
      expect(established(second.text)).toBe(8);
      const gcount = `sockdiag_tcp_rtt_seconds_gcount{netns="${ns.name}"}`;
      for (const [format, p1, p2] of [['text', first.text, second.text], ['openmetrics', first.om, second.om]] as const) {
        // The distributions shrank with the connections: as a histogram that would have been a counter reset.
        expect([format, (p2.samples.get(gcount) ?? NaN) < (p1.samples.get(gcount) ?? NaN)]).toEqual([format, true]);
        expect([format, [...p1.types.values(), ...p2.types.values()].filter((t) => t === 'histogram' || t === 'summary')]).toEqual([format, []]);
        expect(p2.types.get('sockdiag_tcp_rtt_seconds') ?? p2.types.get('sockdiag_tcp_rtt_seconds_bucket')).toBe(format === 'text' ? 'untyped' : 'gaugehistogram');
        for (const [series, v1] of p1.samples) {
          const family = familyOf(series, p1.types);
          expect([series, family !== undefined]).toEqual([series, true]);
          // Every series of the first scrape is still there (states at 0, not gone), but those of the listening address that closed…
          if (!series.includes(`port="${listenerPort}"`)) expect([series, p2.samples.has(series)]).toEqual([series, true]);
          // …and no counter went down.
          if (p1.types.get(family as string) === 'counter') expect([series, (p2.samples.get(series) as number) >= v1]).toEqual([series, true]);
        }
      }
      expect(second.text.samples.get(`sockdiag_sockets{netns="${ns.name}",protocol="tcp",state="close_wait"}`)).toBe(0);
      expect(second.text.samples.get(`sockdiag_events_total{netns="${ns.name}",type="destroy"}`)).toBeGreaterThanOrEqual(0);
    } finally {
      await conns.stop();
      kill(ex.child);
    }
  });

  test('TLS and basic auth from a web config in the exporters\' format; a changed password takes effect without a restart; a bad file stops the start', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sockdiag-tls-'));
    const port = await freePort();
    let ex: ReturnType<typeof start> | undefined;
    try {
      const { cert } = makeCert(dir);
      const ca = { ca: readFileSync(cert, 'utf8') };
      const web = path.join(dir, 'web.yml');
      const config = (user: string, password: string): void =>
        writeFileSync(web, ['tls_server_config:', '  cert_file: cert.pem', '  key_file: key.pem', 'http_server_config:', '  headers:', '    X-Content-Type-Options: nosniff', 'basic_auth_users:', `  ${user}: ${bcryptHash(password)}`, ''].join('\n'));
      config('prometheus', 'scrape-secret');
      ex = start(process.execPath, [BIN, '--web.listen-address', `127.0.0.1:${port}`, '--netns', ns.name, '--web.config.file', web]);
      const url = `https://127.0.0.1:${port}/metrics`;
      await until('the exporter serves TLS', async () => ((await get(url, {}, ca).catch(() => undefined))?.status === 401 ? true : undefined), 15_000, ex.stderr);
      expect(ex.stderr()).toContain(`listening on https://127.0.0.1:${port}/metrics`);
      const anonymous = await get(url, {}, ca);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers['www-authenticate']).toBe('Basic');
      expect((await get(url, basic('prometheus', 'wrong'), ca)).status).toBe(401);
      expect((await get(url, basic('nobody', 'scrape-secret'), ca)).status).toBe(401);
      const ok = await get(url, { ...basic('prometheus', 'scrape-secret'), 'Accept-Encoding': 'gzip' }, ca);
      expect(ok.status).toBe(200);
      expect(ok.headers['x-content-type-options']).toBe('nosniff');
      expect(gunzipSync(ok.body).toString()).toMatch(/^sockdiag_up\{netns="[^"]+"\} 1$/m);
      // Plain HTTP is not served, nor a client that does not trust the certificate.
      expect((await get(`http://127.0.0.1:${port}/metrics`, basic('prometheus', 'scrape-secret')).catch(() => undefined))?.status).not.toBe(200);
      await expect(get(url, basic('prometheus', 'scrape-secret'), { ca: '' })).rejects.toThrow();
      // The file is read again when it changes: the old password stops working.
      config('prometheus', 'rotated');
      expect((await get(url, basic('prometheus', 'scrape-secret'), ca)).status).toBe(401);
      expect((await get(url, basic('prometheus', 'rotated'), ca)).status).toBe(200);
      ex.child.kill('SIGTERM');
      expect((await ex.exited).code).toBe(0);

      writeFileSync(web, 'basic_auth_users:\n  prometheus: plaintext\n');
      const bad = spawnSync(process.execPath, [BIN, '--listen', '127.0.0.1:0', '--netns', ns.name, '--web.config.file', web], { encoding: 'utf8', timeout: 20_000 });
      expect(bad.status).toBe(1);
      expect(bad.stderr).toBe(`sockdiag-exporter: web config ${web}: basic_auth_users.prometheus: expected a bcrypt hash ($2a$, $2b$ or $2y$)\n`);
    } finally {
      kill(ex?.child);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a real Prometheus scrapes it (OpenMetrics gzipped, text plain, and over TLS with basic auth): counts per state, the listen-queue depth, the gauge histograms; promtool accepts the page', async () => {
    expect(existsSync(PROMETHEUS)).toBe(true);
    const dir = mkdtempSync(path.join(tmpdir(), 'sockdiag-prom-'));
    const exporterPort = await freePort();
    const tlsPort = await freePort();
    const { cert } = makeCert(dir);
    const web = path.join(dir, 'web.yml');
    writeFileSync(web, ['tls_server_config:', '  cert_file: cert.pem', '  key_file: key.pem', 'basic_auth_users:', `  prometheus: ${bcryptHash('scrape-secret')}`, ''].join('\n'));
    const ex = start(process.execPath, [BIN, '--listen', `127.0.0.1:${exporterPort}`, '--netns', ns.name]);
    const exTls = start(process.execPath, [BIN, '--listen', `127.0.0.1:${tlsPort}`, '--netns', ns.name, '--web.config.file', web]);
    // Two proxies between Prometheus and the exporter that record what went through: one passes
    // Prometheus's request as it is (it asks for OpenMetrics and gzip), one asks for plain text.
    const proxies: Array<{ server: ReturnType<typeof createHttpServer>; port: number; seen: Array<{ type?: string; encoding?: string }> }> = [];
    for (const plain of [false, true]) {
      const seen: Array<{ type?: string; encoding?: string }> = [];
      const server = createHttpServer((req, res) => {
        const headers = { ...req.headers };
        if (plain) {
          headers.accept = 'text/plain;version=0.0.4';
          delete headers['accept-encoding'];
        }
        const up = httpRequest({ host: '127.0.0.1', port: exporterPort, path: req.url, method: req.method, headers }, (r) => {
          seen.push({ type: r.headers['content-type'], encoding: r.headers['content-encoding'] });
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        });
        up.on('error', () => res.writeHead(502).end());
        req.pipe(up);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      proxies.push({ server, port: (server.address() as { port: number }).port, seen });
    }
    let prom: ReturnType<typeof start> | undefined;
    try {
      const page = await exporterReady(exporterPort, ex.stderr);
      const lint = spawnSync('promtool', ['check', 'metrics'], { input: page, encoding: 'utf8' });
      expect(`${lint.stdout}${lint.stderr}`).toBe('');
      expect(lint.status).toBe(0);

      const promPort = await freePort();
      const config = path.join(dir, 'prometheus.yml');
      const job = (name: string, port: number, extra: string[] = []): string[] => [`  - job_name: ${name}`, ...extra, '    static_configs:', `      - targets: ['127.0.0.1:${port}']`];
      writeFileSync(
        config,
        [
          'global:',
          '  scrape_interval: 1s',
          '  scrape_timeout: 1s',
          '  evaluation_interval: 1s',
          'scrape_configs:',
          ...job('sockdiag', proxies[0].port),
          ...job('text', proxies[1].port),
          ...job('tls', tlsPort, ['    scheme: https', '    tls_config:', `      ca_file: ${cert}`, '    basic_auth:', '      username: prometheus', '      password: scrape-secret']),
          '',
        ].join('\n'),
      );
      prom = start(PROMETHEUS, [`--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn']);
      const diag = (): string => `prometheus: ${prom?.stderr() ?? ''} exporter: ${ex.stderr()} ${exTls.stderr()}`;
      type Sample = { metric: Record<string, string>; value: [number, string] };
      const api = async <T>(what: string): Promise<T> => {
        const r = await fetch(`http://127.0.0.1:${promPort}/api/v1/${what}`);
        const body = (await r.json()) as { status: string; data: T };
        if (body.status !== 'success') throw new Error(`${what}: ${JSON.stringify(body)}`);
        return body.data;
      };
      const query = async (q: string): Promise<Sample[]> => (await api<{ result: Sample[] }>(`query?query=${encodeURIComponent(q)}`)).result;
      // Prometheus's own view of the targets, then our series.
      await until('Prometheus scraped the three targets', async () => ((await query('up == 1')).length === 3 ? true : undefined), 30_000, diag);
      // What Prometheus got: OpenMetrics gzipped, and text without compression through the second proxy.
      expect(proxies[0].seen[0]).toEqual({ type: 'application/openmetrics-text; version=1.0.0; charset=utf-8', encoding: 'gzip' });
      expect(proxies[1].seen[0]).toEqual({ type: 'text/plain; version=0.0.4; charset=utf-8', encoding: undefined });
      const ss = await ssTcpStates(ns.name);
      expect(Object.fromEntries(ss)).toEqual({ established: 8, listen: 2, syn_sent: 2 });
      for (const j of ['sockdiag', 'text', 'tls']) {
        const states = await until(`tcp_connection_states of job ${j} in Prometheus`, async () => {
          const r = await query(`sockdiag_tcp_connection_states{job="${j}"}`);
          return r.length > 0 ? r : undefined;
        }, 15_000, diag);
        const byState = Object.fromEntries(states.map((s) => [s.metric.state, Number(s.value[1])]));
        for (const state of ['established', 'syn_sent', 'syn_recv', 'fin_wait1', 'fin_wait2', 'time_wait', 'close', 'close_wait', 'last_ack', 'listen', 'closing']) {
          expect([j, state, byState[state]]).toEqual([j, state, ss.get(state) ?? 0]);
        }
        expect([j, byState.rx_queued_bytes]).toEqual([j, 1000 + 3]);
        expect(states.every((s) => s.metric.netns === ns.name)).toBe(true);
        // The RTT gauge histogram works with histogram_quantile as documented (no rate()), whichever format carried it.
        const p50 = Number((await query(`histogram_quantile(0.5, sockdiag_tcp_rtt_seconds_bucket{job="${j}"})`))[0]?.value[1]);
        expect([j, p50 > 0 && p50 < 0.1]).toEqual([j, true]);
        expect([j, Number((await query(`sockdiag_tcp_rtt_seconds_gcount{job="${j}"}`))[0]?.value[1])]).toEqual([j, 8]);
        // The kernel's counters: the blocked clients' SYNs overflowed the accept queue.
        expect([j, Number((await query(`sockdiag_tcp_listen_overflows_total{job="${j}"}`))[0]?.value[1]) >= 2]).toEqual([j, true]);
      }
      // Prometheus kept the OpenMetrics type.
      const meta = await api<Record<string, Array<{ type: string }>>>('metadata?metric=sockdiag_tcp_rtt_seconds');
      expect(meta.sockdiag_tcp_rtt_seconds?.map((m) => m.type)).toContain('gaugehistogram');

      const q = await ssListenQueue(ns.name, pop.fullPort);
      expect(q).toEqual({ recvQ: 3, sendQ: 2 });
      const depth = await query(`sockdiag_listen_queue_length{job="sockdiag",protocol="tcp",port="${pop.fullPort}"}`);
      expect(depth.map((s) => [s.metric.address, Number(s.value[1])])).toEqual([['127.0.0.1', q.recvQ]]);
      const backlog = await query(`sockdiag_listen_queue_backlog{job="sockdiag",port="${pop.fullPort}"}`);
      expect(Number(backlog[0]?.value[1])).toBe(q.sendQ);
      // The overflow signal as an operator would alert on it.
      const full = await query('sockdiag_listen_queue_length{job="sockdiag"} > sockdiag_listen_queue_backlog');
      expect(full.map((s) => s.metric.port)).toEqual([String(pop.fullPort)]);
      expect(Number((await query('sockdiag_listeners_full{job="sockdiag",protocol="tcp"}'))[0]?.value[1])).toBe(1);
    } finally {
      kill(prom?.child);
      kill(ex.child);
      kill(exTls.child);
      await prom?.exited;
      await ex.exited;
      await exTls.exited;
      for (const p of proxies) p.server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
