#!/usr/bin/env node
/**
 * `sockdiag-exporter`: serves the socket metrics of `sockdiag/prometheus` at /metrics.
 *
 * ```
 * sockdiag-exporter --listen 127.0.0.1:9355 [--netns NAME]… [--prefix sockdiag_]
 *                   [--web.config.file web.yml]
 * ```
 * node_exporter's `--web.listen-address`, `--web.telemetry-path` and `--web.config.file`
 * are accepted, so a deployment's flags and web config carry over.
 * SIGTERM or SIGINT stops it gracefully: no new connections, scrapes in progress finish.
 * A port already taken is a one-line error and exit status 1.
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { netnsPath, type NetnsRef } from '../netlink/channel';
import { ALL_PROTOCOLS } from '../diag/registry';
import type { ProtocolName } from '../diag/constants';
import { SockdiagError } from '../errors';
import { startExporter, formatHostPort, DEFAULT_PORT, type ExporterOptions } from './server';

const USAGE = `Usage: sockdiag-exporter [OPTIONS]
Serves socket metrics (NETLINK_SOCK_DIAG) for Prometheus at http://HOST:PORT/metrics
(OpenMetrics or the text format, as the scraper asks; gzipped when it accepts gzip).

  --listen HOST:PORT     address to listen on (default 127.0.0.1:${DEFAULT_PORT}; [::1]:PORT for IPv6,
                         :PORT for every interface)
  --web.listen-address HOST:PORT
                         the same (node_exporter's name)
  --path PATH            path of the metrics page (default /metrics)
  --web.telemetry-path PATH
                         the same (node_exporter's name)
  --web.config.file FILE TLS and basic authentication, in the Prometheus exporters' web config
                         format (YAML: tls_server_config.cert_file/key_file, client_auth_type,
                         client_ca_file, min_version; basic_auth_users with bcrypt hashes;
                         http_server_config.headers); read again when it changes
  --netns NAME           list this network namespace (a name under /var/run/netns, a path or a
                         pid); repeat for several, each series then has a netns label
                         (default: the exporter's own namespace)
  --prefix PREFIX        metric name prefix (default sockdiag_; node_ gives node_exporter's
                         node_tcp_connection_states)
  --protocols LIST       socket kinds, comma-separated (default: every kind the kernel answers)
  --per-process          add sockets per process (walks /proc at every scrape)
  --watch                also count TCP/UDP destroy events (sockets closed) and the events
                         the kernel dropped (events_total, events_lost_total)
  --no-per-listener      leave out the per-address listen-queue series
  --max-listeners N      at most N listening addresses (default 1000)
  --max-processes N      at most N processes (default 100)
  --timeout MS           abort a dump after MS milliseconds (default 10000)
  --max-connections N    serve at most N connections at once (default 256)
  --header-timeout MS    close a connection whose request headers take longer (default 10000)
  --idle-timeout MS      close a connection silent for MS milliseconds (default 30000)
  --process-metrics      also export the exporter's own process_* metrics (CPU, memory, fds)
  -h, --help             this message
  -V, --version          the version
`;

/** Parsed command line. */
export interface ExporterArgs {
  /** Print the usage and exit. */
  help?: boolean;
  /** Print the version and exit. */
  version?: boolean;
  /** What to start. */
  options: ExporterOptions;
}

/** A command-line mistake: printed with the usage hint, exit status 2. */
export class UsageError extends SockdiagError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, 'SOCKDIAG_USAGE');
  }
}
Object.defineProperty(UsageError.prototype, 'name', { value: 'UsageError', enumerable: false, writable: true, configurable: true });

/** Splits `HOST:PORT`, `[V6]:PORT` or `:PORT`. */
export function parseListen(text: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  if (!m) throw new UsageError(`--listen: expected HOST:PORT, [IPV6]:PORT or :PORT, got '${text}'`);
  const port = Number(m[3]);
  if (port > 65535) throw new UsageError(`--listen: port ${port} is out of range`);
  const host = m[1] ?? m[2];
  return { host: host === '' ? undefined : host, port };
}

function integer(flag: string, text: string | undefined, min: number): number {
  const n = Number(text);
  if (text === undefined || !/^\d+$/.test(text) || n < min) throw new UsageError(`${flag}: expected an integer ≥ ${min}, got '${text ?? ''}'`);
  return n;
}

/** Parses the command line (without the node and script arguments). */
export function parseArgs(argv: readonly string[]): ExporterArgs {
  const options: ExporterOptions = {};
  const netns: NetnsRef[] = [];
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let inline: string | undefined;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    if (eq > 0) {
      inline = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const value = (): string => {
      if (inline !== undefined) return inline;
      if (i + 1 >= argv.length) throw new UsageError(`${arg} needs a value`);
      return argv[++i];
    };
    switch (arg) {
      case '-h':
      case '--help':
        return { help: true, options };
      case '-V':
      case '--version':
        return { version: true, options };
      case '--listen':
      case '--web.listen-address': {
        const { host, port } = parseListen(value());
        options.host = host ?? '::';
        options.port = port;
        break;
      }
      case '--netns': {
        const v = value();
        if (v === '') throw new UsageError('--netns: empty name');
        netns.push(/^\d+$/.test(v) ? Number(v) : v);
        break;
      }
      case '--prefix':
        options.prefix = value();
        break;
      case '--protocols': {
        const list = value().split(',').filter(Boolean);
        for (const p of list) if (!ALL_PROTOCOLS.includes(p as ProtocolName)) throw new UsageError(`--protocols: unknown protocol '${p}' (known: ${ALL_PROTOCOLS.join(', ')})`);
        if (list.length === 0) throw new UsageError('--protocols: empty list');
        options.protocols = list as ProtocolName[];
        break;
      }
      case '--per-process':
        options.perProcess = true;
        break;
      case '--watch':
        options.watch = true;
        break;
      case '--no-per-listener':
        options.perListener = false;
        break;
      case '--max-listeners':
        options.maxListeners = integer(arg, value(), 0);
        break;
      case '--max-processes':
        options.maxProcesses = integer(arg, value(), 0);
        break;
      case '--timeout':
        options.timeoutMs = integer(arg, value(), 1);
        break;
      case '--path':
      case '--web.telemetry-path':
        options.path = value();
        if (!options.path.startsWith('/')) throw new UsageError(`${arg} must start with '/', got '${options.path}'`);
        break;
      case '--web.config.file': {
        const file = value();
        if (file === '') throw new UsageError('--web.config.file: empty file name');
        options.webConfigFile = path.resolve(file);
        break;
      }
      case '--process-metrics':
        options.processMetrics = true;
        break;
      case '--max-connections':
        options.maxConnections = integer(arg, value(), 1);
        break;
      case '--header-timeout':
        options.headersTimeoutMs = integer(arg, value(), 1);
        break;
      case '--idle-timeout':
        options.idleTimeoutMs = integer(arg, value(), 1);
        break;
      default:
        throw new UsageError(`unknown option '${argv[i]}'`);
    }
  }
  if (new Set(netns.map(String)).size !== netns.length) throw new UsageError('--netns: the same namespace is named twice');
  if (netns.length > 0) options.netns = netns;
  return { options };
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Runs the exporter until SIGTERM/SIGINT; resolves with the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  let args: ExporterArgs;
  try {
    args = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`sockdiag-exporter: ${(err as Error).message}\nTry 'sockdiag-exporter --help'.\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (args.version) {
    process.stdout.write(`sockdiag-exporter ${version()}\n`);
    return 0;
  }
  const opts = args.options;
  const namespaces = Array.isArray(opts.netns) ? (opts.netns as NetnsRef[]) : [];
  for (const ref of namespaces) {
    // Only a warning: a namespace may appear later (a container starting); until then its `up` is 0.
    if (!existsSync(netnsPath(ref))) process.stderr.write(`sockdiag-exporter: warning: network namespace ${String(ref)} does not exist (yet): ${netnsPath(ref)}\n`);
  }
  let lastError = '';
  opts.onError = (err, netns) => {
    const msg = `sockdiag-exporter: dump of ${netns === undefined ? 'the own namespace' : `netns ${String(netns)}`} failed: ${(err as Error)?.message ?? String(err)}`;
    // The same failure at every scrape is reported once, until something changes.
    if (msg !== lastError) process.stderr.write(`${msg}\n`);
    lastError = msg;
  };

  let exporter;
  try {
    exporter = await startExporter(opts);
  } catch (err) {
    process.stderr.write(`sockdiag-exporter: ${(err as Error).message}\n`);
    return 1;
  }
  const where = formatHostPort(exporter.address.address, exporter.address.port);
  process.stderr.write(`sockdiag-exporter: listening on ${exporter.tls ? 'https' : 'http'}://${where}${opts.path ?? '/metrics'}\n`);

  return new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.stderr.write(`sockdiag-exporter: ${signal}, shutting down\n`);
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      void exporter.close().then(() => resolve(0));
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

if (require.main === module) {
  // Exit explicitly: a dump aborted by the shutdown may still hold a handle for a moment.
  void main(process.argv.slice(2)).then((status) => process.exit(status));
}
