/**
 * sockdiag-exporter: its command line, a port already taken, graceful shutdown, and the
 * acceptance test: a real Prometheus server (Debian's /usr/bin/prometheus, on loopback with
 * a temporary config and storage) scrapes the exporter, which lists a private namespace
 * holding a listener with a full accept queue; Prometheus's HTTP API must then return the
 * counts per state and the listen-queue depth that `ss` shows. promtool checks the page.
 *
 * The exporter and Prometheus listen on 127.0.0.1 of the host (loopback only) and are
 * always killed; the exporter reaches the namespace only through the library's netns option.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs, parseListen } from '../lib/exporter/main';
import { createNetns, describeFreshNetns, describeRoot, inFreshNetns, type Netns } from './helpers/netns';
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

  test('a real Prometheus scrapes it: counts per state and the listen-queue depth through /api/v1/query; promtool accepts the page', async () => {
    expect(existsSync(PROMETHEUS)).toBe(true);
    const exporterPort = await freePort();
    const ex = start(process.execPath, [BIN, '--listen', `127.0.0.1:${exporterPort}`, '--netns', ns.name]);
    const dir = mkdtempSync(path.join(tmpdir(), 'sockdiag-prom-'));
    let prom: ReturnType<typeof start> | undefined;
    try {
      const page = await exporterReady(exporterPort, ex.stderr);
      const lint = spawnSync('promtool', ['check', 'metrics'], { input: page, encoding: 'utf8' });
      expect(`${lint.stdout}${lint.stderr}`).toBe('');
      expect(lint.status).toBe(0);

      const promPort = await freePort();
      const config = path.join(dir, 'prometheus.yml');
      writeFileSync(
        config,
        [
          'global:',
          '  scrape_interval: 1s',
          '  scrape_timeout: 1s',
          '  evaluation_interval: 1s',
          'scrape_configs:',
          '  - job_name: sockdiag',
          '    static_configs:',
          `      - targets: ['127.0.0.1:${exporterPort}']`,
          '',
        ].join('\n'),
      );
      prom = start(PROMETHEUS, [`--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn']);
      const diag = (): string => `prometheus: ${prom?.stderr() ?? ''} exporter: ${ex.stderr()}`;
      type Sample = { metric: Record<string, string>; value: [number, string] };
      const query = async (q: string): Promise<Sample[]> => {
        const r = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`);
        const body = (await r.json()) as { status: string; data: { result: Sample[] } };
        if (body.status !== 'success') throw new Error(`query ${q}: ${JSON.stringify(body)}`);
        return body.data.result;
      };
      // Prometheus's own view of the target, then our series.
      await until('Prometheus scraped the exporter', async () => ((await query('up{job="sockdiag"} == 1')).length === 1 ? true : undefined), 30_000, diag);
      const states = await until('tcp_connection_states in Prometheus', async () => {
        const r = await query('sockdiag_tcp_connection_states');
        return r.length > 0 ? r : undefined;
      }, 15_000, diag);
      const byState = Object.fromEntries(states.map((s) => [s.metric.state, Number(s.value[1])]));
      const ss = await ssTcpStates(ns.name);
      expect(Object.fromEntries(ss)).toEqual({ established: 8, listen: 2, syn_sent: 2 });
      for (const state of ['established', 'syn_sent', 'syn_recv', 'fin_wait1', 'fin_wait2', 'time_wait', 'close', 'close_wait', 'last_ack', 'listen', 'closing']) {
        expect([state, byState[state]]).toEqual([state, ss.get(state) ?? 0]);
      }
      expect(byState.rx_queued_bytes).toBe(1000);
      expect(states.every((s) => s.metric.netns === ns.name && s.metric.job === 'sockdiag')).toBe(true);

      const q = await ssListenQueue(ns.name, pop.fullPort);
      expect(q).toEqual({ recvQ: 3, sendQ: 2 });
      const depth = await query(`sockdiag_listen_queue_length{protocol="tcp",port="${pop.fullPort}"}`);
      expect(depth.map((s) => [s.metric.address, Number(s.value[1])])).toEqual([['127.0.0.1', q.recvQ]]);
      const backlog = await query(`sockdiag_listen_queue_backlog{port="${pop.fullPort}"}`);
      expect(Number(backlog[0]?.value[1])).toBe(q.sendQ);
      // The overflow signal as an operator would alert on it.
      const full = await query('sockdiag_listen_queue_length > sockdiag_listen_queue_backlog');
      expect(full.map((s) => s.metric.port)).toEqual([String(pop.fullPort)]);
      expect(Number((await query('sockdiag_listeners_full{protocol="tcp"}'))[0]?.value[1])).toBe(1);
      // The RTT histogram works with histogram_quantile as documented (no rate()).
      const p50 = Number((await query('histogram_quantile(0.5, sockdiag_tcp_rtt_seconds_bucket)'))[0]?.value[1]);
      expect(p50).toBeGreaterThan(0);
      expect(p50).toBeLessThan(0.1);
    } finally {
      kill(prom?.child);
      kill(ex.child);
      await prom?.exited;
      await ex.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
