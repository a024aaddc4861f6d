/**
 * `sockdiag/prometheus`: socket metrics for a prom-client registry, from one dump per scrape.
 *
 * prom-client is an optional peer dependency: install it next to sockdiag to use this module.
 *
 * @example
 * ```ts
 * import { register } from 'prom-client';
 * import { registerSocketMetrics } from 'sockdiag/prometheus';
 * registerSocketMetrics({ register, protocols: ['tcp', 'udp'] });
 * // GET /metrics → res.end(await register.metrics())
 * ```
 * @module sockdiag/prometheus
 */
import type * as PromClient from 'prom-client';
import type { Registry } from 'prom-client';
import { SockdiagError } from '../errors';
import type { NetnsRef } from '../netlink/channel';
import type { ProtocolName, SocketState } from '../diag/constants';
import { SnapshotSource, type SourceOptions, type NamespaceResult, type CountableEvent } from './source';
import { STATE_LABELS, type Distribution } from './snapshot';

export { STATE_LABELS, RTT_BUCKETS_SECONDS, CWND_BUCKETS_SEGMENTS, takeSnapshot, quantiles } from './snapshot';
export type { SocketSnapshot, SnapshotOptions, ListenerQueue, ProcessSocketCount, Distribution } from './snapshot';
export { SnapshotSource, DEFAULT_TIMEOUT_MS, PARALLEL_NAMESPACES } from './source';
export type { SourceOptions, NamespaceResult, NamespaceHealth, EventHealth, CountableEvent } from './source';

/** Options of {@link registerSocketMetrics}. Every field is optional. */
export interface SocketMetricsOptions extends SourceOptions {
  /** Registry to register on (default: prom-client's global `register`). */
  register?: Registry;
  /** Prepended to every metric name (default `'sockdiag_'`; `'node_'` gives node_exporter's `node_tcp_connection_states`). */
  prefix?: string;
}

/** What {@link registerSocketMetrics} returns. */
export interface SocketMetrics {
  /** The full names of the metrics registered. */
  readonly names: readonly string[];
  /** The dumps and counters behind the metrics. */
  readonly source: SnapshotSource;
  /**
   * Counts the events of a `watchSockets()` or `trackSockets()` iterable until it ends, in
   * `events_total{type}`, `event_overruns_total` and `events_lost_total`. With several
   * namespaces, `netns` says which one the events come from.
   */
  countEvents(events: AsyncIterable<CountableEvent>, netns?: NetnsRef): Promise<void>;
  /** Removes the metrics from the registry. */
  unregister(): void;
}

/** Prometheus metric types used here. */
export type MetricKind = 'gauge' | 'counter' | 'histogram';

/** One metric family: its name without the prefix, type, labels and help text. */
export interface MetricFamily {
  /** Name after the prefix. */
  name: string;
  /** Prometheus type. */
  type: MetricKind;
  /** Label names (a `netns` label comes first when several namespaces are listed). */
  labels: readonly string[];
  /** The HELP text. */
  help: string;
  /** Registered only when this holds for the options. */
  when?: (o: SocketMetricsOptions) => boolean;
}

const listsTcp = (o: SocketMetricsOptions): boolean => o.protocols === undefined || o.protocols.includes('tcp');
const perListener = (o: SocketMetricsOptions): boolean => o.perListener !== false;
const perProcess = (o: SocketMetricsOptions): boolean => o.perProcess === true;

/** Every metric family this module registers (the README's table comes from here). */
export const METRIC_FAMILIES: readonly MetricFamily[] = [
  { name: 'sockets', type: 'gauge', labels: ['protocol', 'state'], help: "Sockets by protocol and state (node_exporter's state names); only non-zero series." },
  { name: 'tcp_connection_states', type: 'gauge', labels: ['state'], help: "TCP sockets by state with the rx_queued_bytes and tx_queued_bytes pseudo-states, as node_exporter's node_tcp_connection_states.", when: listsTcp },
  { name: 'socket_receive_queue_bytes', type: 'gauge', labels: ['protocol'], help: 'Bytes waiting to be read, summed over sockets that are not listening (inet and unix stream sockets; UDP counts datagram memory, as ss).' },
  { name: 'socket_send_queue_bytes', type: 'gauge', labels: ['protocol'], help: 'Bytes sent and not yet acknowledged (TCP) or queued (others), summed over sockets that are not listening.' },
  { name: 'listeners', type: 'gauge', labels: ['protocol'], help: 'Listening sockets.' },
  { name: 'listeners_full', type: 'gauge', labels: ['protocol'], help: 'Listening sockets whose accept queue is full: the kernel drops new connections to them.' },
  { name: 'listen_queue_length', type: 'gauge', labels: ['protocol', 'address', 'port'], help: 'Connections waiting to be accepted on a listening address (Recv-Q of the listener).', when: perListener },
  { name: 'listen_queue_backlog', type: 'gauge', labels: ['protocol', 'address', 'port'], help: "The accept queue's limit: listen()'s backlog capped by somaxconn (Send-Q of the listener).", when: perListener },
  { name: 'listen_queue_omitted', type: 'gauge', labels: [], help: 'Listening addresses left out of listen_queue_* by maxListeners (the shallowest queues).', when: perListener },
  { name: 'tcp_retransmitted_segments', type: 'gauge', labels: [], help: 'Segments retransmitted over the lifetime of the TCP sockets now open (sum of tcpi_total_retrans).', when: listsTcp },
  { name: 'tcp_lost_segments', type: 'gauge', labels: [], help: 'Segments the TCP sockets now open presume lost (sum of tcpi_lost).', when: listsTcp },
  { name: 'tcp_unacked_retransmits', type: 'gauge', labels: [], help: 'Retransmitted segments not yet acknowledged (sum of tcpi_retrans).', when: listsTcp },
  { name: 'tcp_retransmitting_sockets', type: 'gauge', labels: [], help: 'TCP sockets in retransmission backoff (tcpi_retransmits > 0).', when: listsTcp },
  { name: 'tcp_rtt_seconds', type: 'histogram', labels: [], help: 'Smoothed RTT of the TCP connections now open (a gauge histogram: buckets describe this scrape, use histogram_quantile without rate).', when: listsTcp },
  { name: 'tcp_cwnd_segments', type: 'histogram', labels: [], help: 'Congestion window of the TCP connections now open, in segments (a gauge histogram, like tcp_rtt_seconds).', when: listsTcp },
  { name: 'process_sockets', type: 'gauge', labels: ['pid', 'command'], help: 'Sockets held by a process.', when: perProcess },
  { name: 'process_omitted', type: 'gauge', labels: [], help: 'Processes left out of process_sockets by maxProcesses (those with the fewest sockets).', when: perProcess },
  { name: 'up', type: 'gauge', labels: [], help: '1 when the last dump succeeded, 0 when it failed (its socket series are then absent).' },
  { name: 'dump_duration_seconds', type: 'gauge', labels: [], help: 'Wall time of the last dump.' },
  { name: 'dumps_total', type: 'counter', labels: [], help: 'Dumps run.' },
  { name: 'dump_errors_total', type: 'counter', labels: [], help: 'Dumps that failed or timed out.' },
  { name: 'dumps_interrupted_total', type: 'counter', labels: [], help: 'Dumps the kernel flagged as interrupted (NLM_F_DUMP_INTR): sockets may have been missed.' },
  { name: 'duplicates_dropped_total', type: 'counter', labels: [], help: 'Sockets a non-atomic dump reported twice, dropped by cookie.' },
  { name: 'events_total', type: 'counter', labels: ['type'], help: 'Events counted from socket event streams (countEvents), by type.' },
  { name: 'event_overruns_total', type: 'counter', labels: [], help: 'Times the kernel dropped socket events (ENOBUFS).' },
  { name: 'events_lost_total', type: 'counter', labels: [], help: 'Socket events known to be lost in overruns.' },
];

/** node_exporter's TCP states, always present in tcp_connection_states (zero when none). */
const NODE_TCP_STATES = ['established', 'syn_sent', 'syn_recv', 'fin_wait1', 'fin_wait2', 'time_wait', 'close', 'close_wait', 'last_ack', 'listen', 'closing'];

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * Loads the peer dependency prom-client, or throws a `SockdiagError` (code
 * `SOCKDIAG_PEER_MISSING`) that says how to install it.
 * @internal
 */
export function loadPromClient(): typeof PromClient {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('prom-client') as typeof PromClient;
  } catch (cause) {
    throw new SockdiagError('sockdiag/prometheus needs the prom-client package, an optional peer dependency: npm install prom-client', 'SOCKDIAG_PEER_MISSING', { cause });
  }
}

type Labels = Record<string, string>;
interface HistogramSeries {
  labels: Labels;
  dist: Distribution;
}
/** The part of a prom-client histogram this module drives. */
interface SnapshotHistogram {
  series: HistogramSeries[];
}

/**
 * A prom-client Histogram whose buckets are computed once per scrape from a snapshot, not
 * observed one value at a time: `observe()` costs about 0.5 µs a call, 100 ms per scrape of
 * 100k sockets for two histograms, and a count per bucket is all the output needs.
 */
function snapshotHistogramClass(client: typeof PromClient): new (cfg: PromClient.HistogramConfiguration<string>) => PromClient.Histogram<string> & SnapshotHistogram {
  type Exported = PromClient.MetricObjectWithValues<PromClient.MetricValueWithName<string>>;
  class Precomputed extends client.Histogram<string> implements SnapshotHistogram {
    series: HistogramSeries[] = [];
    private readonly config: PromClient.HistogramConfiguration<string>;
    constructor(cfg: PromClient.HistogramConfiguration<string>) {
      super(cfg);
      this.config = cfg;
    }
    private async export(): Promise<Exported> {
      const { name, help, collect } = this.config;
      if (collect) await collect.call(this);
      const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
      for (const { labels, dist } of this.series) {
        let acc = 0;
        dist.bounds.forEach((le, i) => {
          acc += dist.counts[i];
          values.push({ labels: { ...labels, le }, value: acc, metricName: `${name}_bucket` });
        });
        values.push({ labels: { ...labels, le: '+Inf' }, value: dist.count, metricName: `${name}_bucket` });
        values.push({ labels, value: dist.sum, metricName: `${name}_sum` });
        values.push({ labels, value: dist.count, metricName: `${name}_count` });
      }
      // prom-client's own objects carry the type as the string the text format prints.
      return { name, help, type: 'histogram' as unknown as PromClient.MetricType, values, aggregator: 'sum' } as Exported;
    }
    override get(): Promise<Exported> {
      return this.export();
    }
    /** What the registry formats (prom-client calls it in place of get() when present). */
    getForPromString(): Promise<Exported> {
      return this.export();
    }
    override reset(): void {
      this.series = [];
    }
  }
  return Precomputed;
}

/**
 * Registers socket metrics on a prom-client registry. Each scrape runs one dump per
 * namespace (inside `collect()`, shared by every metric of the scrape) and reduces it
 * to the series of {@link METRIC_FAMILIES}: sockets by protocol and state, queue bytes,
 * accept queues of listeners, TCP retransmits and loss, RTT and cwnd histograms, sockets
 * per process when asked, and the library's own health.
 *
 * Label cardinality is bounded: protocol × state, one series per listening address (at
 * most `maxListeners`, default 1000), one per process only with `perProcess` (at most
 * `maxProcesses`, default 100); never one per connection. With several namespaces
 * (`netns: [...]`) every series also has a `netns` label.
 *
 * A failed dump does not fail the scrape: `up` becomes 0, `dump_errors_total` grows, that
 * namespace's socket series are left out, and `onError` is told.
 *
 * @example
 * ```ts
 * const registry = new Registry();
 * registerSocketMetrics({ register: registry, netns: ['web', 'db'], perProcess: true });
 * ```
 */
export function registerSocketMetrics(opts: SocketMetricsOptions = {}): SocketMetrics {
  if (opts === null || typeof opts !== 'object') throw new TypeError('options must be an object');
  const prefix = opts.prefix ?? 'sockdiag_';
  if (typeof prefix !== 'string' || (prefix !== '' && !NAME_RE.test(prefix))) throw new TypeError(`prefix must be a valid start of a Prometheus metric name, got ${String(prefix)}`);
  const source = new SnapshotSource(opts);
  const client = loadPromClient();
  const register = opts.register ?? client.register;
  if (register === null || typeof register !== 'object' || typeof register.registerMetric !== 'function') throw new TypeError('register must be a prom-client Registry');
  const Histogram = snapshotHistogramClass(client);
  const ns = source.labelled ? ['netns'] : [];

  let inFlight: Promise<void> | undefined;
  // Every metric's collect() lands here; the first of a scrape starts the dumps, the others wait for them.
  const collect = (): Promise<void> => {
    if (inFlight === undefined) {
      inFlight = source.collect().then((results) => {
        inFlight = undefined;
        apply(results);
      });
    }
    return inFlight;
  };

  const families = METRIC_FAMILIES.filter((f) => f.when === undefined || f.when(opts));
  const gauges = new Map<string, PromClient.Gauge<string>>();
  const counters = new Map<string, PromClient.Counter<string>>();
  const histograms = new Map<string, PromClient.Histogram<string> & SnapshotHistogram>();
  const names: string[] = [];
  try {
    for (const f of families) {
      const cfg = { name: prefix + f.name, help: f.help, labelNames: [...ns, ...f.labels], registers: [register], collect };
      if (f.type === 'gauge') gauges.set(f.name, new client.Gauge(cfg));
      else if (f.type === 'counter') counters.set(f.name, new client.Counter(cfg));
      else histograms.set(f.name, new Histogram(cfg));
      names.push(cfg.name);
    }
  } catch (err) {
    // A name already taken: take back what this call registered, leave the rest as it was.
    for (const n of names) register.removeSingleMetric(n);
    throw err;
  }

  function apply(results: readonly NamespaceResult[]): void {
    for (const g of gauges.values()) g.reset();
    for (const c of counters.values()) c.reset();
    for (const h of histograms.values()) h.reset();
    const set = (name: string, labels: Labels, value: number): void => gauges.get(name)?.set(labels, value);
    const count = (name: string, labels: Labels, value: number): void => counters.get(name)?.inc(labels, value);
    for (const r of results) {
      const base: Labels = source.labelled ? { netns: r.label } : {};
      const h = source.health.get(r.label);
      if (h !== undefined) {
        set('up', base, h.up ? 1 : 0);
        set('dump_duration_seconds', base, h.lastDurationSeconds);
        count('dumps_total', base, h.dumps);
        count('dump_errors_total', base, h.errors);
        count('dumps_interrupted_total', base, h.interrupted);
        count('duplicates_dropped_total', base, h.duplicatesDropped);
      }
      const e = source.events.get(r.label);
      if (e !== undefined) {
        for (const [type, n] of e.byType) count('events_total', { ...base, type }, n);
        count('event_overruns_total', base, e.overruns);
        count('events_lost_total', base, e.lost);
      }
      const s = r.snapshot;
      if (s === undefined) continue;

      const tcpStates = new Map<string, number>(NODE_TCP_STATES.map((st) => [st, 0]));
      for (const [protocol, states] of s.byState) {
        const merged = new Map<string, number>();
        for (const [state, n] of states) {
          const label = STATE_LABELS[state as SocketState].prometheus;
          merged.set(label, (merged.get(label) ?? 0) + n);
        }
        for (const [state, n] of merged) set('sockets', { ...base, protocol, state }, n);
        if (protocol === 'tcp') for (const [state, n] of merged) tcpStates.set(state, (tcpStates.get(state) ?? 0) + n);
      }
      const tcpQueues = s.queues.get('tcp');
      tcpStates.set('rx_queued_bytes', tcpQueues?.receiveBytes ?? 0);
      tcpStates.set('tx_queued_bytes', tcpQueues?.sendBytes ?? 0);
      for (const [state, n] of tcpStates) set('tcp_connection_states', { ...base, state }, n);

      for (const [protocol, q] of s.queues) {
        set('socket_receive_queue_bytes', { ...base, protocol }, q.receiveBytes);
        set('socket_send_queue_bytes', { ...base, protocol }, q.sendBytes);
      }
      for (const [protocol, n] of s.listenersTotal) {
        set('listeners', { ...base, protocol }, n);
        set('listeners_full', { ...base, protocol }, s.listenersFull.get(protocol) ?? 0);
      }
      for (const l of s.listeners) {
        const labels = { ...base, protocol: l.protocol, address: l.address, port: String(l.port) };
        set('listen_queue_length', labels, l.queued);
        set('listen_queue_backlog', labels, l.backlog);
      }
      set('listen_queue_omitted', base, s.listenersOmitted);
      set('tcp_retransmitted_segments', base, s.tcp.retransmittedSegments);
      set('tcp_lost_segments', base, s.tcp.lostSegments);
      set('tcp_unacked_retransmits', base, s.tcp.unackedRetransmits);
      set('tcp_retransmitting_sockets', base, s.tcp.retransmittingSockets);
      histograms.get('tcp_rtt_seconds')?.series.push({ labels: base, dist: s.rtt });
      histograms.get('tcp_cwnd_segments')?.series.push({ labels: base, dist: s.cwnd });
      for (const p of s.processes) set('process_sockets', { ...base, pid: String(p.pid), command: p.command }, p.sockets);
      set('process_omitted', base, s.processesOmitted);
    }
  }

  return {
    names,
    source,
    countEvents: (events, netns) => source.countEvents(events, netns),
    unregister() {
      for (const n of names) if (register.getSingleMetric(n) !== undefined) register.removeSingleMetric(n);
    },
  };
}

/** Re-exported for callers that name protocols or states in their own code. */
export type { ProtocolName, SocketState, NetnsRef };
