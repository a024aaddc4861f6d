/**
 * `sockdiag/otel`: socket metrics as OpenTelemetry observable instruments on a caller's
 * `Meter`, from one dump per collection. `system.network.connection.count` follows the
 * semantic conventions (`network.transport`, `network.connection.state`), and so do the
 * attributes elsewhere (`process.pid`, `process.executable.name`, `network.local.*`); the
 * other instruments are the families of `sockdiag/prometheus` under `sockdiag.*` names
 * that an OpenTelemetry-to-Prometheus translation turns into the same names (no instrument
 * of ours ends in `.count`, which promtool's lint would read as a `_count` suffix).
 *
 * `@opentelemetry/api` is an optional peer dependency; only its types are used, since the
 * caller brings the `Meter`.
 *
 * @example
 * ```ts
 * import { metrics } from '@opentelemetry/api';
 * import { registerSocketInstruments } from 'sockdiag/otel';
 * registerSocketInstruments({ meter: metrics.getMeter('sockdiag'), protocols: ['tcp'] });
 * ```
 * @module sockdiag/otel
 */
import type { Attributes, BatchObservableCallback, BatchObservableResult, Meter, Observable } from '@opentelemetry/api';
import type { NetnsRef } from '../netlink/channel';
import type { SocketState } from '../diag/constants';
import { SnapshotSource, type SourceOptions, type CountableEvent, type NamespaceResult, type KernelCounters } from '../prometheus/source';
import { STATE_LABELS, BYTE_QUEUE_PROTOCOLS, LISTENING_PROTOCOLS, quantiles, type Distribution } from '../prometheus/snapshot';

/** Options of {@link registerSocketInstruments}. */
export interface SocketInstrumentsOptions extends SourceOptions {
  /** The meter to create the instruments on. */
  meter: Meter;
}

/** What {@link registerSocketInstruments} returns. */
export interface SocketInstruments {
  /** The names of the instruments created. */
  readonly names: readonly string[];
  /** The dumps and counters behind the instruments. */
  readonly source: SnapshotSource;
  /**
   * Counts the events of a `watchSockets()` or `trackSockets()` iterable until it ends
   * (`sockdiag.events`, `sockdiag.event.overruns`, `sockdiag.events.lost`). With several
   * namespaces, `netns` says which one the events come from.
   */
  countEvents(events: AsyncIterable<CountableEvent>, netns?: NetnsRef): Promise<void>;
  /** Stops observing: the meter's collections no longer dump. */
  unregister(): void;
}

/** OpenTelemetry instrument kinds used here. */
export type InstrumentKind = 'updowncounter' | 'gauge' | 'counter';

/** One instrument: name, kind, unit, description and attribute keys. */
export interface InstrumentFamily {
  /** Instrument name. */
  name: string;
  /** Observable kind. */
  kind: InstrumentKind;
  /** UCUM unit. */
  unit: string;
  /** Description. */
  description: string;
  /** Attribute keys (`sockdiag.netns` is added when several namespaces are listed). */
  attributes: readonly string[];
  /** The kernel counter it reports, when it is one (observed when TCP or UDP is listed). */
  kernel?: keyof KernelCounters;
}

/** The quantiles `sockdiag.tcp.rtt` and `sockdiag.tcp.cwnd` report (1 = the largest value). */
export const QUANTILES: readonly number[] = [0.5, 0.9, 0.99, 1];

/** Every instrument this module creates (the README's table comes from here). */
export const INSTRUMENT_FAMILIES: readonly InstrumentFamily[] = [
  { name: 'system.network.connection.count', kind: 'updowncounter', unit: '{connection}', description: 'Sockets by transport and state (OpenTelemetry semantic conventions).', attributes: ['network.transport', 'network.connection.state'] },
  { name: 'sockdiag.socket.queue.size', kind: 'updowncounter', unit: 'By', description: 'Bytes queued, summed over sockets that are not listening (receive: waiting to be read; transmit: not yet acknowledged or sent).', attributes: ['network.transport', 'network.io.direction'] },
  { name: 'sockdiag.listeners', kind: 'updowncounter', unit: '{socket}', description: 'Listening sockets.', attributes: ['network.transport'] },
  { name: 'sockdiag.listeners_full', kind: 'updowncounter', unit: '{socket}', description: 'Listening sockets whose accept queue is full (the kernel drops new connections to them).', attributes: ['network.transport'] },
  { name: 'sockdiag.listen.queue.length', kind: 'gauge', unit: '{connection}', description: 'Connections waiting to be accepted on a listening address.', attributes: ['network.transport', 'network.local.address', 'network.local.port'] },
  { name: 'sockdiag.listen.queue.backlog', kind: 'gauge', unit: '{connection}', description: "The accept queue's limit (listen() backlog capped by somaxconn).", attributes: ['network.transport', 'network.local.address', 'network.local.port'] },
  { name: 'sockdiag.tcp.listen_overflows', kind: 'counter', unit: '{packet}', description: "Connections dropped because a listener's accept queue was full (TcpExt ListenOverflows).", attributes: [], kernel: 'tcpListenOverflows' },
  { name: 'sockdiag.tcp.listen_drops', kind: 'counter', unit: '{packet}', description: 'SYNs and connections dropped by listeners for any reason, overflows included (TcpExt ListenDrops).', attributes: [], kernel: 'tcpListenDrops' },
  { name: 'sockdiag.tcp.segments_sent', kind: 'counter', unit: '{segment}', description: 'TCP segments sent (Tcp OutSegs).', attributes: [], kernel: 'tcpSegmentsSent' },
  { name: 'sockdiag.tcp.segments_retransmitted', kind: 'counter', unit: '{segment}', description: 'TCP segments retransmitted (Tcp RetransSegs).', attributes: [], kernel: 'tcpSegmentsRetransmitted' },
  { name: 'sockdiag.tcp.memory', kind: 'updowncounter', unit: 'By', description: 'Memory of TCP socket buffers (sockstat TCP mem; kernel-wide).', attributes: [], kernel: 'tcpMemoryBytes' },
  { name: 'sockdiag.udp.memory', kind: 'updowncounter', unit: 'By', description: 'Memory of UDP socket buffers (sockstat UDP mem; kernel-wide).', attributes: [], kernel: 'udpMemoryBytes' },
  { name: 'sockdiag.udp.receive_buffer_errors', kind: 'counter', unit: '{datagram}', description: 'UDP datagrams dropped because a receive buffer was full (Udp and Udp6 RcvbufErrors).', attributes: [], kernel: 'udpReceiveBufferErrors' },
  { name: 'sockdiag.udp.send_buffer_errors', kind: 'counter', unit: '{datagram}', description: 'UDP sends that failed for want of send-buffer space (Udp and Udp6 SndbufErrors).', attributes: [], kernel: 'udpSendBufferErrors' },
  { name: 'sockdiag.tcp.retransmitted_segments', kind: 'updowncounter', unit: '{segment}', description: 'Segments retransmitted over the lifetime of the TCP sockets now open (sum of tcpi_total_retrans).', attributes: [] },
  { name: 'sockdiag.tcp.lost_segments', kind: 'updowncounter', unit: '{segment}', description: 'Segments the TCP sockets now open presume lost (sum of tcpi_lost).', attributes: [] },
  { name: 'sockdiag.tcp.unacked_retransmits', kind: 'updowncounter', unit: '{segment}', description: 'Retransmitted segments not yet acknowledged (sum of tcpi_retrans).', attributes: [] },
  { name: 'sockdiag.tcp.retransmitting_sockets', kind: 'updowncounter', unit: '{socket}', description: 'TCP sockets in retransmission backoff.', attributes: [] },
  { name: 'sockdiag.tcp.rtt', kind: 'gauge', unit: 's', description: 'Smoothed RTT of the TCP connections now open, at the quantiles of QUANTILES (1 = the largest).', attributes: ['sockdiag.quantile'] },
  { name: 'sockdiag.tcp.cwnd', kind: 'gauge', unit: '{segment}', description: 'Congestion window of the TCP connections now open, at the quantiles of QUANTILES.', attributes: ['sockdiag.quantile'] },
  { name: 'sockdiag.process.sockets', kind: 'updowncounter', unit: '{socket}', description: 'Sockets held by a process (only with perProcess).', attributes: ['process.pid', 'process.executable.name'] },
  { name: 'sockdiag.up', kind: 'gauge', unit: '1', description: '1 when the last dump succeeded, 0 when it failed.', attributes: [] },
  { name: 'sockdiag.dump.duration', kind: 'gauge', unit: 's', description: 'Wall time of the last dump.', attributes: [] },
  { name: 'sockdiag.dumps', kind: 'counter', unit: '{dump}', description: 'Dumps run.', attributes: [] },
  { name: 'sockdiag.dump.errors', kind: 'counter', unit: '{dump}', description: 'Dumps that failed or timed out.', attributes: [] },
  { name: 'sockdiag.dumps.interrupted', kind: 'counter', unit: '{dump}', description: 'Dumps the kernel flagged as interrupted (NLM_F_DUMP_INTR).', attributes: [] },
  { name: 'sockdiag.duplicates_dropped', kind: 'counter', unit: '{socket}', description: 'Sockets a non-atomic dump reported twice, dropped by cookie.', attributes: [] },
  { name: 'sockdiag.events', kind: 'counter', unit: '{event}', description: 'Events counted from socket event streams, by type.', attributes: ['sockdiag.event.type'] },
  { name: 'sockdiag.event.overruns', kind: 'counter', unit: '{overrun}', description: 'Times the kernel dropped socket events (ENOBUFS).', attributes: [] },
  { name: 'sockdiag.events.lost', kind: 'counter', unit: '{event}', description: 'Socket events known to be lost in overruns.', attributes: [] },
];

/**
 * Creates the instruments of {@link INSTRUMENT_FAMILIES} on `meter` and one batch callback
 * that, at each collection, runs one dump per namespace and observes them all. Attribute
 * cardinality is bounded as in `sockdiag/prometheus`: transport × state, one series per
 * listening address (at most `maxListeners`), per process only with `perProcess`. State
 * values are the semantic conventions' (`established`, `syn_received`, `fin_wait_1`, …);
 * every usual state of each kind dumped is observed, 0 when empty.
 * A failed dump observes `sockdiag.up` = 0 and no socket values for that namespace.
 */
export function registerSocketInstruments(opts: SocketInstrumentsOptions): SocketInstruments {
  if (opts === null || typeof opts !== 'object') throw new TypeError('options must be an object');
  const meter = opts.meter;
  if (meter === null || typeof meter !== 'object' || typeof meter.addBatchObservableCallback !== 'function') throw new TypeError('meter must be an OpenTelemetry Meter');
  const source = new SnapshotSource(opts);
  const instruments = new Map<string, Observable>();
  for (const f of INSTRUMENT_FAMILIES) {
    const options = { description: f.description, unit: f.unit };
    const inst = f.kind === 'gauge' ? meter.createObservableGauge(f.name, options) : f.kind === 'counter' ? meter.createObservableCounter(f.name, options) : meter.createObservableUpDownCounter(f.name, options);
    instruments.set(f.name, inst);
  }

  const listsTcp = opts.protocols === undefined || opts.protocols.includes('tcp');
  const callback: BatchObservableCallback = async (result: BatchObservableResult) => {
    const results = await source.collect();
    for (const r of results) observeNamespace(result, instruments, source, r, listsTcp);
  };
  const observables = [...instruments.values()];
  meter.addBatchObservableCallback(callback, observables);
  return {
    names: INSTRUMENT_FAMILIES.map((f) => f.name),
    source,
    countEvents: (events, netns) => source.countEvents(events, netns),
    unregister: () => meter.removeBatchObservableCallback(callback, observables),
  };
}

function observeNamespace(result: BatchObservableResult, instruments: ReadonlyMap<string, Observable>, source: SnapshotSource, r: NamespaceResult, listsTcp: boolean): void {
  const base: Attributes = source.labelled ? { 'sockdiag.netns': r.label } : {};
  const observe = (name: string, value: number, attributes: Attributes = {}): void => {
    const inst = instruments.get(name);
    if (inst !== undefined) result.observe(inst, value, { ...base, ...attributes });
  };
  const h = source.health.get(r.label);
  if (h !== undefined) {
    observe('sockdiag.up', h.up ? 1 : 0);
    observe('sockdiag.dump.duration', h.lastDurationSeconds);
    observe('sockdiag.dumps', h.dumps);
    observe('sockdiag.dump.errors', h.errors);
    observe('sockdiag.dumps.interrupted', h.interrupted);
    observe('sockdiag.duplicates_dropped', h.duplicatesDropped);
  }
  const e = source.events.get(r.label);
  if (e !== undefined) {
    for (const [type, n] of e.byType) observe('sockdiag.events', n, { 'sockdiag.event.type': type });
    observe('sockdiag.event.overruns', e.overruns);
    observe('sockdiag.events.lost', e.lost);
  }
  const c = r.counters;
  if (c !== undefined) {
    for (const f of INSTRUMENT_FAMILIES) {
      const v = f.kernel === undefined ? undefined : c[f.kernel];
      if (v !== undefined) observe(f.name, v);
    }
  }
  const s = r.snapshot;
  if (s === undefined) return;
  for (const [protocol, states] of s.byState) {
    const merged = new Map<string, number>();
    for (const [state, n] of states) {
      const label = STATE_LABELS[state as SocketState].otel;
      merged.set(label, (merged.get(label) ?? 0) + n);
    }
    for (const [state, n] of merged) observe('system.network.connection.count', n, { 'network.transport': protocol, 'network.connection.state': state });
  }
  for (const protocol of s.protocols) {
    const transport = { 'network.transport': protocol };
    if (BYTE_QUEUE_PROTOCOLS.has(protocol)) {
      const q = s.queues.get(protocol);
      observe('sockdiag.socket.queue.size', q?.receiveBytes ?? 0, { ...transport, 'network.io.direction': 'receive' });
      observe('sockdiag.socket.queue.size', q?.sendBytes ?? 0, { ...transport, 'network.io.direction': 'transmit' });
    }
    if (LISTENING_PROTOCOLS.has(protocol)) {
      observe('sockdiag.listeners', s.listenersTotal.get(protocol) ?? 0, transport);
      observe('sockdiag.listeners_full', s.listenersFull.get(protocol) ?? 0, transport);
    }
  }
  for (const l of s.listeners) {
    const attrs = { 'network.transport': l.protocol, 'network.local.address': l.address, 'network.local.port': l.port };
    observe('sockdiag.listen.queue.length', l.queued, attrs);
    observe('sockdiag.listen.queue.backlog', l.backlog, attrs);
  }
  if (listsTcp) {
    observe('sockdiag.tcp.retransmitted_segments', s.tcp.retransmittedSegments);
    observe('sockdiag.tcp.lost_segments', s.tcp.lostSegments);
    observe('sockdiag.tcp.unacked_retransmits', s.tcp.unackedRetransmits);
    observe('sockdiag.tcp.retransmitting_sockets', s.tcp.retransmittingSockets);
  }
  observeQuantiles(observe, 'sockdiag.tcp.rtt', s.rtt);
  observeQuantiles(observe, 'sockdiag.tcp.cwnd', s.cwnd);
  for (const p of s.processes) observe('sockdiag.process.sockets', p.sockets, { 'process.pid': p.pid, 'process.executable.name': p.command });
}

function observeQuantiles(observe: (name: string, value: number, attributes?: Attributes) => void, name: string, d: Distribution): void {
  const values = quantiles(d, QUANTILES);
  QUANTILES.forEach((q, i) => {
    const v = values[i];
    if (v !== undefined) observe(name, v, { 'sockdiag.quantile': q });
  });
}
