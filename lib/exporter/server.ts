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
import type { NetnsRef } from '../netlink/channel';

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

/** The port `sockdiag-exporter` listens on unless told otherwise. */
export const DEFAULT_PORT = 9355;

/**
 * Starts an exporter. Rejects with a `SockdiagError` (code `SOCKDIAG_LISTEN`, `cause` the
 * system error, e.g. `EADDRINUSE`) when the address cannot be bound.
 */
export async function startExporter(opts: ExporterOptions = {}): Promise<Exporter> {
  const client = loadPromClient();
  const registry = new client.Registry();
  const { host = '127.0.0.1', port = DEFAULT_PORT, path = '/metrics', processMetrics = false, watch = false, ...metricOpts } = opts;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`port must be 0…65535, got ${String(port)}`);
  if (typeof path !== 'string' || !path.startsWith('/')) throw new TypeError(`path must start with '/', got ${String(path)}`);
  const metrics = registerSocketMetrics({ ...metricOpts, register: registry });
  if (processMetrics) client.collectDefaultMetrics({ register: registry });

  const pending = new Set<Promise<void>>();
  const server: Server = createServer((req, res) => {
    const done = answer(req, res, registry, path);
    pending.add(done);
    void done.finally(() => pending.delete(done));
  });
  server.keepAliveTimeout = 5_000;
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
      const w = watchSockets(netns === undefined ? {} : { netns });
      watches.add(w);
      try {
        await metrics.countEvents(w, netns);
      } catch (err) {
        metricOpts.onError?.(err, netns);
      } finally {
        watches.delete(w);
        w.close();
      }
      if (closing === undefined) await new Promise((resolve) => setTimeout(resolve, WATCH_RETRY_MS).unref());
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

async function answer(req: IncomingMessage, res: ServerResponse, registry: PromClient.Registry, path: string): Promise<void> {
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
    const body = await registry.metrics();
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
