/**
 * `sockdiag/prometheus`: socket metrics in the Prometheus formats, from one dump per scrape.
 *
 * Two ways in: {@link registerSocketMetrics} puts them on a prom-client registry (prom-client
 * is an optional peer dependency, needed only for that), and {@link createSocketCollector}
 * gives the families to write with {@link formatExposition}, with no dependency at all (what
 * `sockdiag-exporter` serves).
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
import type { Registry, RegistryContentType } from 'prom-client';
import { SockdiagError } from '../errors';
import type { NetnsRef } from '../netlink/channel';
import type { ProtocolName, SocketState } from '../diag/constants';
import { SnapshotSource, type SourceOptions, type NamespaceResult, type CountableEvent, type KernelCounters } from './source';
import { STATE_LABELS, BYTE_QUEUE_PROTOCOLS, LISTENING_PROTOCOLS } from './snapshot';
import { expandGaugeHistograms, CONTENT_TYPES, type FamilyData, type FamilyType, type Labels } from './exposition';

export { STATE_LABELS, PROTOCOL_STATES, RTT_BUCKETS_SECONDS, CWND_BUCKETS_SEGMENTS, takeSnapshot, quantiles } from './snapshot';
export type { SocketSnapshot, SnapshotOptions, ListenerQueue, ProcessSocketCount, Distribution } from './snapshot';
export { SnapshotSource, DEFAULT_TIMEOUT_MS, PARALLEL_NAMESPACES } from './source';
export type { SourceOptions, NamespaceResult, NamespaceHealth, EventHealth, CountableEvent, KernelCounters } from './source';
export { formatExposition, negotiateFormat, expandGaugeHistograms, formatValue, CONTENT_TYPES } from './exposition';
export type { FamilyData, FamilyType, Sample, HistogramSample, Labels, ExpositionFormat } from './exposition';

/** Options of {@link createSocketCollector}. Every field is optional. */
export interface SocketCollectorOptions extends SourceOptions {
  /**
   * Prepended to every metric name (default `'sockdiag_'`; `'node_'` gives node_exporter's
   * `node_tcp_connection_states`, with its values).
   */
  prefix?: string;
}

/** Options of {@link registerSocketMetrics}. Every field is optional. */
export interface SocketMetricsOptions extends SocketCollectorOptions {
  /** Registry to register on, text or OpenMetrics (default: prom-client's global `register`). */
  register?: Registry<RegistryContentType>;
}

/** What {@link createSocketCollector} returns. */
export interface SocketCollector {
  /** The full names of the families, in the order {@link SocketCollector.collect} gives them. */
  readonly names: readonly string[];
  /** The dumps and counters behind the metrics. */
  readonly source: SnapshotSource;
  /**
   * Runs one dump per namespace and returns every family. Callers that ask while a
   * collection runs share it.
   */
  collect(): Promise<FamilyData[]>;
  /**
   * Counts the events of a `watchSockets()` or `trackSockets()` iterable until it ends, in
   * `events_total{type}`, `event_overruns_total` and `events_lost_total`. With several
   * namespaces, `netns` says which one the events come from.
   */
  countEvents(events: AsyncIterable<CountableEvent>, netns?: NetnsRef): Promise<void>;
}

/** What {@link registerSocketMetrics} returns. */
export interface SocketMetrics extends Omit<SocketCollector, 'collect'> {
  /**
   * The full names of the metrics registered: the families, with each gauge histogram as its
   * three series families (`_bucket`, `_gsum`, `_gcount`).
   */
  readonly names: readonly string[];
  /** Removes the metrics from the registry. */
  unregister(): void;
}

/** One metric family: its name without the prefix, type, labels and help text. */
export interface MetricFamily {
  /** Name after the prefix. */
  name: string;
  /** Exposition type (a `gaugehistogram` is three gauge-like families in the text format). */
  type: Exclude<FamilyType, 'untyped'>;
  /** Label names (a `netns` label comes first when several namespaces are listed). */
  labels: readonly string[];
  /** The HELP text. */
  help: string;
  /** Registered only when this holds for the options. */
  when?: (o: SourceOptions) => boolean;
  /** The kernel counter it reports, when it is one. */
  kernel?: keyof KernelCounters;
}

const lists = (p: ProtocolName) => (o: SourceOptions): boolean => o.protocols === undefined || o.protocols.includes(p);
const listsTcp = lists('tcp');
const listsUdp = lists('udp');
const perListener = (o: SourceOptions): boolean => o.perListener !== false;
const perProcess = (o: SourceOptions): boolean => o.perProcess === true;

/** Every metric family this module exposes (the README's table comes from here). */
export const METRIC_FAMILIES: readonly MetricFamily[] = [
  { name: 'sockets', type: 'gauge', labels: ['protocol', 'state'], help: "Sockets by protocol and state (node_exporter's state names); every usual state of each kind dumped, 0 when empty." },
  { name: 'tcp_connection_states', type: 'gauge', labels: ['state'], help: "TCP sockets by state with the rx_queued_bytes and tx_queued_bytes pseudo-states (Recv-Q and Send-Q over every TCP socket, listeners included), as node_exporter's node_tcp_connection_states.", when: listsTcp },
  { name: 'socket_receive_queue_bytes', type: 'gauge', labels: ['protocol'], help: 'Bytes waiting to be read, summed over sockets that are not listening (inet and unix stream sockets; UDP counts datagram memory, as ss).' },
  { name: 'socket_send_queue_bytes', type: 'gauge', labels: ['protocol'], help: 'Bytes sent and not yet acknowledged (TCP) or queued (others), summed over sockets that are not listening.' },
  { name: 'listeners', type: 'gauge', labels: ['protocol'], help: 'Listening sockets.' },
  { name: 'listeners_full', type: 'gauge', labels: ['protocol'], help: 'Listening sockets whose accept queue is full: the kernel drops new connections to them.' },
  { name: 'listen_queue_length', type: 'gauge', labels: ['protocol', 'address', 'port'], help: 'Connections waiting to be accepted on a listening address (Recv-Q of the listener).', when: perListener },
  { name: 'listen_queue_backlog', type: 'gauge', labels: ['protocol', 'address', 'port'], help: "The accept queue's limit: listen()'s backlog capped by somaxconn (Send-Q of the listener).", when: perListener },
  { name: 'listen_queue_omitted', type: 'gauge', labels: [], help: 'Listening addresses left out of listen_queue_* by maxListeners (the shallowest queues).', when: perListener },
  { name: 'tcp_listen_overflows_total', type: 'counter', labels: [], help: "Connections dropped because a listener's accept queue was full (TcpExt ListenOverflows).", when: listsTcp, kernel: 'tcpListenOverflows' },
  { name: 'tcp_listen_drops_total', type: 'counter', labels: [], help: 'SYNs and connections dropped by listeners for any reason, overflows included (TcpExt ListenDrops).', when: listsTcp, kernel: 'tcpListenDrops' },
  { name: 'tcp_segments_sent_total', type: 'counter', labels: [], help: 'TCP segments sent (Tcp OutSegs).', when: listsTcp, kernel: 'tcpSegmentsSent' },
  { name: 'tcp_segments_retransmitted_total', type: 'counter', labels: [], help: 'TCP segments retransmitted (Tcp RetransSegs).', when: listsTcp, kernel: 'tcpSegmentsRetransmitted' },
  { name: 'tcp_memory_bytes', type: 'gauge', labels: [], help: "Memory of TCP socket buffers (sockstat TCP mem; kernel-wide, the same in every namespace).", when: listsTcp, kernel: 'tcpMemoryBytes' },
  { name: 'udp_memory_bytes', type: 'gauge', labels: [], help: "Memory of UDP socket buffers (sockstat UDP mem; kernel-wide, the same in every namespace).", when: listsUdp, kernel: 'udpMemoryBytes' },
  { name: 'udp_receive_buffer_errors_total', type: 'counter', labels: [], help: 'UDP datagrams dropped because a receive buffer was full (Udp and Udp6 RcvbufErrors).', when: listsUdp, kernel: 'udpReceiveBufferErrors' },
  { name: 'udp_send_buffer_errors_total', type: 'counter', labels: [], help: 'UDP sends that failed for want of send-buffer space (Udp and Udp6 SndbufErrors).', when: listsUdp, kernel: 'udpSendBufferErrors' },
  { name: 'tcp_retransmitted_segments', type: 'gauge', labels: [], help: 'Segments retransmitted over the lifetime of the TCP sockets now open (sum of tcpi_total_retrans; drops when sockets close).', when: listsTcp },
  { name: 'tcp_lost_segments', type: 'gauge', labels: [], help: 'Segments the TCP sockets now open presume lost (sum of tcpi_lost).', when: listsTcp },
  { name: 'tcp_unacked_retransmits', type: 'gauge', labels: [], help: 'Retransmitted segments not yet acknowledged (sum of tcpi_retrans).', when: listsTcp },
  { name: 'tcp_retransmitting_sockets', type: 'gauge', labels: [], help: 'TCP sockets in retransmission backoff (tcpi_retransmits > 0).', when: listsTcp },
  { name: 'tcp_rtt_seconds', type: 'gaugehistogram', labels: [], help: 'Smoothed RTT of the TCP connections open at the scrape (a gauge histogram: use histogram_quantile without rate).', when: listsTcp },
  { name: 'tcp_cwnd_segments', type: 'gaugehistogram', labels: [], help: 'Congestion window of the TCP connections open at the scrape, in segments (a gauge histogram).', when: listsTcp },
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

const selectFamilies = (opts: SourceOptions): MetricFamily[] => METRIC_FAMILIES.filter((f) => f.when === undefined || f.when(opts));

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

/**
 * The socket metrics as families to write (see {@link formatExposition}), with no
 * dependency. Each {@link SocketCollector.collect} runs one dump per namespace (plus a read
 * of its /proc/net counters) and reduces it to the series of {@link METRIC_FAMILIES}.
 *
 * Label cardinality is bounded: protocol × state, one series per listening address (at
 * most `maxListeners`, default 1000), one per process only with `perProcess` (at most
 * `maxProcesses`, default 100); never one per connection. With several namespaces
 * (`netns: [...]`) every series also has a `netns` label.
 *
 * A failed dump does not fail the collection: `up` becomes 0, `dump_errors_total` grows, that
 * namespace's socket series are left out, and `onError` is told.
 *
 * @example
 * ```ts
 * const c = createSocketCollector({ netns: ['web', 'db'] });
 * const format = negotiateFormat(req.headers.accept);
 * res.setHeader('Content-Type', CONTENT_TYPES[format]);
 * res.end(formatExposition(await c.collect(), format));
 * ```
 */
export function createSocketCollector(opts: SocketCollectorOptions = {}): SocketCollector {
  if (opts === null || typeof opts !== 'object') throw new TypeError('options must be an object');
  const prefix = opts.prefix ?? 'sockdiag_';
  if (typeof prefix !== 'string' || (prefix !== '' && !NAME_RE.test(prefix))) throw new TypeError(`prefix must be a valid start of a Prometheus metric name, got ${String(prefix)}`);
  const source = new SnapshotSource(opts);
  const families = selectFamilies(opts);
  let inFlight: Promise<FamilyData[]> | undefined;
  return {
    names: families.map((f) => prefix + f.name),
    source,
    collect() {
      inFlight ??= source.collect().then((results) => {
        inFlight = undefined;
        return build(families, prefix, source, results);
      });
      return inFlight;
    },
    countEvents: (events, netns) => source.countEvents(events, netns),
  };
}

/** The families' series for one collection. */
function build(families: readonly MetricFamily[], prefix: string, source: SnapshotSource, results: readonly NamespaceResult[]): FamilyData[] {
  const out = new Map<string, FamilyData>();
  for (const f of families) out.set(f.name, { name: prefix + f.name, help: f.help, type: f.type, samples: [], ...(f.type === 'gaugehistogram' ? { histograms: [] } : {}) });
  const add = (name: string, labels: Labels, value: number): void => void out.get(name)?.samples.push({ labels, value });
  for (const r of results) {
    const base: Labels = source.labelled ? { netns: r.label } : {};
    const h = source.health.get(r.label);
    if (h !== undefined) {
      add('up', base, h.up ? 1 : 0);
      add('dump_duration_seconds', base, h.lastDurationSeconds);
      add('dumps_total', base, h.dumps);
      add('dump_errors_total', base, h.errors);
      add('dumps_interrupted_total', base, h.interrupted);
      add('duplicates_dropped_total', base, h.duplicatesDropped);
    }
    const e = source.events.get(r.label);
    if (e !== undefined) {
      for (const [type, n] of e.byType) add('events_total', { ...base, type }, n);
      add('event_overruns_total', base, e.overruns);
      add('events_lost_total', base, e.lost);
    }
    const c = r.counters;
    if (c !== undefined) {
      for (const f of families) {
        const v = f.kernel === undefined ? undefined : c[f.kernel];
        if (v !== undefined) add(f.name, base, v);
      }
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
      for (const [state, n] of merged) add('sockets', { ...base, protocol, state }, n);
      if (protocol === 'tcp') for (const [state, n] of merged) tcpStates.set(state, (tcpStates.get(state) ?? 0) + n);
    }
    tcpStates.set('rx_queued_bytes', s.tcpQueuesAll.receiveBytes);
    tcpStates.set('tx_queued_bytes', s.tcpQueuesAll.sendBytes);
    for (const [state, n] of tcpStates) add('tcp_connection_states', { ...base, state }, n);

    for (const protocol of s.protocols) {
      if (BYTE_QUEUE_PROTOCOLS.has(protocol)) {
        const q = s.queues.get(protocol);
        add('socket_receive_queue_bytes', { ...base, protocol }, q?.receiveBytes ?? 0);
        add('socket_send_queue_bytes', { ...base, protocol }, q?.sendBytes ?? 0);
      }
      if (LISTENING_PROTOCOLS.has(protocol)) {
        add('listeners', { ...base, protocol }, s.listenersTotal.get(protocol) ?? 0);
        add('listeners_full', { ...base, protocol }, s.listenersFull.get(protocol) ?? 0);
      }
    }
    for (const l of s.listeners) {
      const labels = { ...base, protocol: l.protocol, address: l.address, port: String(l.port) };
      add('listen_queue_length', labels, l.queued);
      add('listen_queue_backlog', labels, l.backlog);
    }
    add('listen_queue_omitted', base, s.listenersOmitted);
    add('tcp_retransmitted_segments', base, s.tcp.retransmittedSegments);
    add('tcp_lost_segments', base, s.tcp.lostSegments);
    add('tcp_unacked_retransmits', base, s.tcp.unackedRetransmits);
    add('tcp_retransmitting_sockets', base, s.tcp.retransmittingSockets);
    out.get('tcp_rtt_seconds')?.histograms?.push({ labels: base, dist: s.rtt });
    out.get('tcp_cwnd_segments')?.histograms?.push({ labels: base, dist: s.cwnd });
    for (const p of s.processes) add('process_sockets', { ...base, pid: String(p.pid), command: p.command }, p.sockets);
    add('process_omitted', base, s.processesOmitted);
  }
  return [...out.values()];
}

/**
 * Registers socket metrics on a prom-client registry: the families of
 * {@link createSocketCollector}, each scrape of the registry running one dump per
 * namespace (shared by every metric of the scrape). The gauge histograms `tcp_rtt_seconds`
 * and `tcp_cwnd_segments` are registered as their three series families (`_bucket`
 * untyped, `_gsum` and `_gcount` gauges), as the text format writes them; an OpenMetrics
 * registry shows `_bucket` as `unknown`.
 *
 * @example
 * ```ts
 * const registry = new Registry();
 * registerSocketMetrics({ register: registry, netns: ['web', 'db'], perProcess: true });
 * ```
 */
export function registerSocketMetrics(opts: SocketMetricsOptions = {}): SocketMetrics {
  if (opts === null || typeof opts !== 'object') throw new TypeError('options must be an object');
  const collector = createSocketCollector(opts);
  const register = opts.register ?? loadPromClient().register;
  if (register === null || typeof register !== 'object' || typeof register.registerMetric !== 'function') throw new TypeError('register must be a prom-client Registry');

  // Every metric's get() lands here; the first of a scrape starts the collection, the others share it.
  let pending: Promise<Map<string, FamilyData>> | undefined;
  const current = (): Promise<Map<string, FamilyData>> => {
    pending ??= collector.collect().then(
      (families) => {
        pending = undefined;
        return new Map(expandGaugeHistograms(families).map((f) => [f.name, f]));
      },
      (err: unknown) => {
        pending = undefined;
        throw err;
      },
    );
    return pending;
  };
  const prefix = opts.prefix ?? 'sockdiag_';
  const shape = expandGaugeHistograms(selectFamilies(opts).map((f) => ({ name: prefix + f.name, help: f.help, type: f.type, samples: [], histograms: [] })));
  const names: string[] = [];
  try {
    for (const { name, help, type } of shape) {
      const metric = {
        name,
        help,
        type,
        aggregator: 'sum',
        async get() {
          const f = (await current()).get(name);
          const om = register.contentType === CONTENT_TYPES.openmetrics;
          // prom-client writes an OpenMetrics counter as the family name plus _total.
          return {
            name: om && type === 'counter' ? name.replace(/_total$/, '') : name,
            help,
            type: type === 'untyped' ? (om ? 'unknown' : 'untyped') : type,
            values: (f?.samples ?? []).map((s) => ({ labels: { ...s.labels }, value: s.value })),
            aggregator: 'sum',
          };
        },
        reset() {
          // Values come from the kernel at each scrape; there is nothing to reset.
        },
      };
      register.registerMetric(metric as unknown as PromClient.Metric);
      names.push(name);
    }
  } catch (err) {
    // A name already taken: take back what this call registered, leave the rest as it was.
    for (const n of names) register.removeSingleMetric(n);
    throw err;
  }
  return {
    names,
    source: collector.source,
    countEvents: collector.countEvents,
    unregister() {
      for (const n of names) if (register.getSingleMetric(n) !== undefined) register.removeSingleMetric(n);
    },
  };
}

/** Re-exported for callers that name protocols or states in their own code. */
export type { ProtocolName, SocketState, NetnsRef };
