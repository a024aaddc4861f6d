/**
 * The HTTP side of `sockdiag-exporter`: a node:http (or, with a web config, node:https)
 * server that answers `GET /metrics` with one collection of the socket metrics, written by
 * sockdiag itself (no prom-client): OpenMetrics when the scraper asks for it, else the text
 * format, gzipped when the scraper accepts it.
 * @module
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { statSync } from 'node:fs';
import { createSocketCollector, type SocketCollectorOptions, type SocketCollector } from '../prometheus';
import { formatExposition, negotiateFormat, CONTENT_TYPES, type FamilyData } from '../prometheus/exposition';
import { SockdiagError } from '../errors';
import { watchSockets, type SocketWatch } from '../api/watch';
import { netnsPath, type NetnsRef } from '../netlink/channel';
import { processStats } from '../proc/self';
import { loadWebConfig, webConfigStamp, type WebConfig, type TlsSettings } from './webconfig';
import { bcryptVerify, credentialKey } from './bcrypt';

const gzipAsync = promisify(gzip);

/** Options of {@link startExporter}. */
export interface ExporterOptions extends SocketCollectorOptions {
  /** Address to listen on (default `'127.0.0.1'`). */
  host?: string;
  /** Port (default 9355; 0 picks a free one). */
  port?: number;
  /** Path of the metrics page (default `'/metrics'`). */
  path?: string;
  /**
   * Also export the exporter process's own `process_cpu_seconds_total`,
   * `process_resident_memory_bytes`, `process_virtual_memory_bytes`,
   * `process_start_time_seconds`, `process_open_fds` and `process_max_fds` (default false).
   */
  processMetrics?: boolean;
  /**
   * A web config file in the Prometheus exporters' format (`--web.config.file`): TLS and
   * basic authentication (see `./webconfig`). A file that cannot be used rejects the start.
   */
  webConfigFile?: string;
  /**
   * Also watch each namespace's TCP/UDP destroy events (`watchSockets()`), counted in
   * `events_total{type="destroy"}` (sockets closed), `event_overruns_total` and
   * `events_lost_total`. A watch that fails is retried every 5 s (default false).
   */
  watch?: boolean;
  /**
   * Connections served at once (default 256); more wait in the kernel's accept queue. With
   * the timeouts below, slow or idle clients cannot hold the exporter for long.
   */
  maxConnections?: number;
  /** Milliseconds a client has to send its request headers (default 10 000). */
  headersTimeoutMs?: number;
  /** Milliseconds a connection may stay silent, between or within requests, before it is closed (default 30 000). */
  idleTimeoutMs?: number;
}

/** A running exporter. */
export interface Exporter {
  /** The address actually bound. */
  readonly address: AddressInfo;
  /** The metrics behind the page. */
  readonly collector: SocketCollector;
  /** Whether it serves HTTPS. */
  readonly tls: boolean;
  /** Stops accepting connections, lets the scrapes in progress finish (at most `graceMs`, default 5000), then closes. */
  close(graceMs?: number): Promise<void>;
}

const WATCH_RETRY_MS = 5_000;
// How often a watched namespace is checked for having been replaced (deleted, then created
// again under the same name): the watch holds the old one, which no longer gets events.
const WATCH_CHECK_MS = 1_000;

/** The identity (device and inode) of the namespace a reference names now, or undefined when there is none. */
function namespaceIdentity(netns: NetnsRef): string | undefined {
  try {
    const st = statSync(netnsPath(netns));
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/** The port `sockdiag-exporter` listens on unless told otherwise. */
export const DEFAULT_PORT = 9355;

/**
 * Starts an exporter. Rejects with a `SockdiagError` (code `SOCKDIAG_LISTEN`, `cause` the
 * system error, e.g. `EADDRINUSE`) when the address cannot be bound, and with a
 * `WebConfigError` (code `SOCKDIAG_WEB_CONFIG`) when the web config cannot be used. With
 * basic auth, every path answers 401 without the right credentials (bcrypt verdicts are
 * cached, as in exporter-toolkit, so a scrape costs one hash per credential and file version).
 */
export async function startExporter(opts: ExporterOptions = {}): Promise<Exporter> {
  const {
    host = '127.0.0.1',
    port = DEFAULT_PORT,
    path = '/metrics',
    processMetrics = false,
    watch = false,
    maxConnections = 256,
    headersTimeoutMs = 10_000,
    idleTimeoutMs = 30_000,
    webConfigFile,
    ...metricOpts
  } = opts;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`port must be 0…65535, got ${String(port)}`);
  for (const [name, v] of [['maxConnections', maxConnections], ['headersTimeoutMs', headersTimeoutMs], ['idleTimeoutMs', idleTimeoutMs]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive integer, got ${String(v)}`);
  }
  if (typeof path !== 'string' || !path.startsWith('/')) throw new TypeError(`path must start with '/', got ${String(path)}`);
  const web = webConfigFile === undefined ? undefined : new LiveWebConfig(webConfigFile);
  const collector = createSocketCollector(metricOpts);

  const pending = new Set<Promise<void>>();
  // Concurrent scrapes share one dump (the collector's): a crowd of clients costs one listing, not one each.
  const scrape = async (): Promise<FamilyData[]> => {
    const families = await collector.collect();
    return processMetrics ? [...families, ...processFamilies()] : families;
  };
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const done = answer(req, res, path, scrape, web);
    pending.add(done);
    void done.finally(() => pending.delete(done));
  };
  // Slow clients: headers must arrive in time (checked every second), silent connections close.
  const httpOptions = { headersTimeout: headersTimeoutMs, requestTimeout: Math.max(headersTimeoutMs, idleTimeoutMs), connectionsCheckingInterval: Math.min(1_000, headersTimeoutMs) };
  const tls = web?.config.tls;
  const server: Server = tls === undefined ? createHttpServer(httpOptions, handler) : createHttpsServer({ ...httpOptions, ...tlsOptions(tls) }, handler);
  if (tls !== undefined) {
    web?.onTls((next) => (server as ReturnType<typeof createHttpsServer>).setSecureContext(tlsOptions(next)));
    // Go's policies that a TLS server option alone does not express.
    server.on('secureConnection', (socket: TLSSocket) => {
      const hasCert = Object.keys(socket.getPeerCertificate()).length > 0;
      if ((tls.clientAuth === 'RequireAnyClientCert' && !hasCert) || (tls.clientAuth === 'VerifyClientCertIfGiven' && hasCert && !socket.authorized)) socket.destroy();
    });
  }
  server.keepAliveTimeout = Math.min(5_000, idleTimeoutMs);
  server.maxConnections = maxConnections;
  server.setTimeout(idleTimeoutMs, (socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      const why = err.code === 'EADDRINUSE' ? 'the address is already in use (another process listens there)' : err.code === 'EADDRNOTAVAIL' ? 'no interface has that address' : err.code === 'EACCES' ? 'permission denied' : err.message;
      reject(new SockdiagError(`cannot listen on ${formatHostPort(host, port)}: ${why}`, 'SOCKDIAG_LISTEN', { cause: err }));
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port, exclusive: true });
  });
  server.on('error', () => undefined);

  let closing: Promise<void> | undefined;
  const watches = new Set<SocketWatch>();
  const watchLoop = async (netns: NetnsRef | undefined): Promise<void> => {
    while (closing === undefined) {
      const before = netns === undefined ? undefined : namespaceIdentity(netns);
      let replaced = false;
      let w: SocketWatch | undefined;
      let check: NodeJS.Timeout | undefined;
      try {
        // A namespace missing now is an error like any other: retried below.
        const watching = watchSockets(netns === undefined ? {} : { netns });
        w = watching;
        watches.add(watching);
        // A namespace deleted and created again under the same name is watched again.
        if (netns !== undefined) {
          check = setInterval(() => {
            if (namespaceIdentity(netns) !== before) {
              replaced = true;
              watching.close();
            }
          }, WATCH_CHECK_MS).unref();
        }
        await collector.countEvents(watching, netns);
      } catch (err) {
        metricOpts.onError?.(err, netns);
      } finally {
        if (check !== undefined) clearInterval(check);
        if (w !== undefined) {
          watches.delete(w);
          w.close();
        }
      }
      if (closing === undefined && !(replaced && netns !== undefined && namespaceIdentity(netns) !== undefined)) {
        await new Promise((resolve) => setTimeout(resolve, WATCH_RETRY_MS).unref());
      }
    }
  };
  if (watch) for (const t of collector.source.targets) void watchLoop(t.netns);

  return {
    address: server.address() as AddressInfo,
    collector,
    tls: tls !== undefined,
    close(graceMs = 5_000) {
      closing ??= (async () => {
        for (const w of watches) w.close();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        let timer: NodeJS.Timeout | undefined;
        const grace = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
        });
        await Promise.race([Promise.allSettled([...pending]), grace]);
        server.closeAllConnections();
        await closed;
        clearTimeout(timer);
      })();
      return closing;
    },
  };
}

async function answer(req: IncomingMessage, res: ServerResponse, path: string, scrape: () => Promise<FamilyData[]>, web: LiveWebConfig | undefined): Promise<void> {
  if (web !== undefined) {
    let config: WebConfig;
    try {
      config = web.current();
    } catch (err) {
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${(err as Error).message}\n`);
      return;
    }
    for (const [name, value] of Object.entries(config.headers)) res.setHeader(name, value);
    if (config.users.size > 0 && !web.authorized(req.headers.authorization)) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic', 'Content-Type': 'text/plain; charset=utf-8' }).end('Unauthorized\n');
      return;
    }
  }
  const url = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
    return;
  }
  if (url === '/') {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(`<html><head><title>sockdiag exporter</title></head><body><h1>sockdiag exporter</h1><p><a href="${path}">Metrics</a></p></body></html>\n`);
    return;
  }
  if (url !== path) {
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
    return;
  }
  try {
    const format = negotiateFormat(req.headers.accept);
    const text = formatExposition(await scrape(), format);
    const zip = acceptsGzip(req.headers['accept-encoding']);
    const body = zip ? await gzipAsync(text) : Buffer.from(text);
    res.writeHead(200, { 'Content-Type': CONTENT_TYPES[format], 'Content-Length': body.length, Vary: 'Accept-Encoding', ...(zip ? { 'Content-Encoding': 'gzip' } : {}) });
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch (err) {
    res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`scrape failed: ${(err as Error)?.message ?? String(err)}\n`);
  }
}

/** Whether an Accept-Encoding header takes gzip (named, or `*`, with a q above 0). */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  let gz: number | undefined;
  let star: number | undefined;
  for (const part of header.split(',')) {
    const [coding, ...params] = part.split(';').map((x) => x.trim().toLowerCase());
    const q = params.map((p) => /^q=([\d.]+)$/.exec(p)).find((m) => m !== null);
    const weight = q ? Number(q[1]) : 1;
    if (coding === 'gzip' || coding === 'x-gzip') gz = weight;
    else if (coding === '*') star = weight;
  }
  return (gz ?? star ?? 0) > 0;
}

/** The node:tls options of a web config's TLS part. */
function tlsOptions(t: TlsSettings): Record<string, unknown> {
  const verify = t.clientAuth === 'RequireAndVerifyClientCert';
  return { cert: t.cert, key: t.key, ca: t.ca, minVersion: t.minVersion, maxVersion: t.maxVersion, honorCipherOrder: t.honorCipherOrder, requestCert: t.clientAuth !== 'NoClientCert', rejectUnauthorized: verify };
}

// A hash no password matches, checked for unknown users so that a wrong user name costs as much as a wrong password.
const NO_USER_HASH = `$2y$10$${'N'.repeat(53)}`;
const AUTH_CACHE_SIZE = 1000;

/** A web config file, read again whenever it (or a file it names) changes. */
class LiveWebConfig {
  config: WebConfig;
  private stamp: string;
  private readonly verdicts = new Map<string, boolean>();
  private tlsListener: ((t: TlsSettings) => void) | undefined;

  constructor(private readonly file: string) {
    this.config = loadWebConfig(file);
    this.stamp = webConfigStamp(this.config.files);
  }

  /** Called with the new TLS settings when they change. */
  onTls(listener: (t: TlsSettings) => void): void {
    this.tlsListener = listener;
  }

  /** The config now; throws when the changed file cannot be used (the request then fails, as in node_exporter). */
  current(): WebConfig {
    const stamp = webConfigStamp(this.config.files);
    if (stamp === this.stamp) return this.config;
    const next = loadWebConfig(this.file);
    this.stamp = webConfigStamp(next.files);
    if (next.tls !== undefined && JSON.stringify(next.tls) !== JSON.stringify(this.config.tls)) this.tlsListener?.(next.tls);
    this.config = next;
    this.verdicts.clear();
    return next;
  }

  /** Whether an Authorization header names a configured user with the right password (verdicts cached). */
  authorized(header: string | undefined): boolean {
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
    if (m === null) return false;
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const hash = this.config.users.get(user) ?? NO_USER_HASH;
    const key = credentialKey(user, password, hash);
    let ok = this.verdicts.get(key);
    if (ok === undefined) {
      ok = bcryptVerify(password, hash) && this.config.users.has(user);
      if (this.verdicts.size >= AUTH_CACHE_SIZE) this.verdicts.clear();
      this.verdicts.set(key, ok);
    }
    return ok;
  }
}

/** The standard process_* families of the exporter itself. */
function processFamilies(): FamilyData[] {
  const p = processStats();
  const family = (name: string, type: 'gauge' | 'counter', help: string, value: number | undefined): FamilyData[] => (value === undefined ? [] : [{ name, type, help, samples: [{ labels: {}, value }] }]);
  return [
    ...family('process_cpu_seconds_total', 'counter', 'Total user and system CPU time spent in seconds.', p.cpuSeconds),
    ...family('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', p.residentBytes),
    ...family('process_virtual_memory_bytes', 'gauge', 'Virtual memory size in bytes.', p.virtualBytes),
    ...family('process_start_time_seconds', 'gauge', 'Start time of the process since unix epoch in seconds.', p.startTimeSeconds),
    ...family('process_open_fds', 'gauge', 'Number of open file descriptors.', p.openFds),
    ...family('process_max_fds', 'gauge', 'Maximum number of open file descriptors.', p.maxFds),
  ];
}

/** `host:port`, with brackets around an IPv6 host. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
