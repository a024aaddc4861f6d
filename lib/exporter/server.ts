/**
 * The HTTP side of `sockdiag-exporter`: a node:http server that answers `GET /metrics`
 * with one scrape of a prom-client registry holding the socket metrics.
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type * as PromClient from 'prom-client';
import { registerSocketMetrics, loadPromClient, type SocketMetricsOptions, type SocketMetrics } from '../prometheus';
import { SockdiagError } from '../errors';
import { watchSockets, type SocketWatch } from '../api/watch';
import { netnsPath, type NetnsRef } from '../netlink/channel';
import { statSync } from 'node:fs';

/** Options of {@link startExporter}. */
export interface ExporterOptions extends Omit<SocketMetricsOptions, 'register'> {
  /** Address to listen on (default `'127.0.0.1'`). */
  host?: string;
  /** Port (default 9355; 0 picks a free one). */
  port?: number;
  /** Path of the metrics page (default `'/metrics'`). */
  path?: string;
  /**
   * Also export the exporter process's own CPU, memory and event-loop metrics (prom-client's
   * defaults; default false: promtool's lint rejects their `nodejs_active_handles_total` gauge).
   */
  processMetrics?: boolean;
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
  readonly metrics: SocketMetrics;
  /** The registry the page formats. */
  readonly registry: PromClient.Registry;
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
 * system error, e.g. `EADDRINUSE`) when the address cannot be bound.
 */
export async function startExporter(opts: ExporterOptions = {}): Promise<Exporter> {
  const client = loadPromClient();
  const registry = new client.Registry();
  const {
    host = '127.0.0.1',
    port = DEFAULT_PORT,
    path = '/metrics',
    processMetrics = false,
    watch = false,
    maxConnections = 256,
    headersTimeoutMs = 10_000,
    idleTimeoutMs = 30_000,
    ...metricOpts
  } = opts;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`port must be 0…65535, got ${String(port)}`);
  for (const [name, v] of [['maxConnections', maxConnections], ['headersTimeoutMs', headersTimeoutMs], ['idleTimeoutMs', idleTimeoutMs]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive integer, got ${String(v)}`);
  }
  if (typeof path !== 'string' || !path.startsWith('/')) throw new TypeError(`path must start with '/', got ${String(path)}`);
  const metrics = registerSocketMetrics({ ...metricOpts, register: registry });
  if (processMetrics) client.collectDefaultMetrics({ register: registry });

  const pending = new Set<Promise<void>>();
  // Concurrent scrapes share one dump: a crowd of clients costs one listing, not one each.
  let inFlight: Promise<string> | undefined;
  const scrape = (): Promise<string> => {
    inFlight ??= registry.metrics().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
  const server: Server = createServer(
    // Slow clients: headers must arrive in time (checked every second), silent connections close.
    { headersTimeout: headersTimeoutMs, requestTimeout: Math.max(headersTimeoutMs, idleTimeoutMs), connectionsCheckingInterval: Math.min(1_000, headersTimeoutMs) },
    (req, res) => {
      const done = answer(req, res, registry, path, scrape);
      pending.add(done);
      void done.finally(() => pending.delete(done));
    },
  );
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
        await metrics.countEvents(watching, netns);
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
  if (watch) for (const t of metrics.source.targets) void watchLoop(t.netns);

  return {
    address: server.address() as AddressInfo,
    metrics,
    registry,
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
        metrics.unregister();
      })();
      return closing;
    },
  };
}

async function answer(req: IncomingMessage, res: ServerResponse, registry: PromClient.Registry, path: string, scrape: () => Promise<string>): Promise<void> {
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
    const body = await scrape();
    res.writeHead(200, { 'Content-Type': registry.contentType, 'Content-Length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch (err) {
    res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`scrape failed: ${(err as Error)?.message ?? String(err)}\n`);
  }
}

/** `host:port`, with brackets around an IPv6 host. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
