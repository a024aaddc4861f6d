/**
 * The dumps behind the metric helpers: one snapshot per namespace per collection, shared by
 * every instrument that asks while it runs, and the library's own cumulative counters
 * (dumps, errors, interrupted dumps, duplicates dropped, events lost).
 * @module
 */
import type { NetnsRef } from '../netlink/channel';
import type { ProtocolName, SocketState } from '../diag/constants';
import { ALL_PROTOCOLS } from '../diag/registry';
import { engineOf, type Engine } from '../engine';
import { readNetCounters, pageSize, type NetCounters } from '../proc/netstat';
import { takeSnapshot, PROTOCOL_STATES, type SocketSnapshot, type SnapshotOptions } from './snapshot';

/** Namespaces dumped at once by one collection. */
export const PARALLEL_NAMESPACES = 4;

/** Default {@link SourceOptions.timeoutMs}. */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** What the metric helpers dump, and how much detail they keep. */
export interface SourceOptions {
  /**
   * Namespace(s) to list: a name under /var/run/netns, a path or a pid (default: the caller's).
   * With an array, every series gets a `netns` label (attribute `sockdiag.netns` in OpenTelemetry).
   */
  netns?: NetnsRef | readonly NetnsRef[];
  /**
   * Socket kinds to list (default: every kind this kernel answers). Naming a kind the kernel
   * lacks (no diag module) makes every dump fail, as it makes `listSockets()` throw.
   */
  protocols?: readonly ProtocolName[];
  /** One series per listening address (default true). */
  perListener?: boolean;
  /** At most this many listening addresses, deepest accept queues first (default 1000). */
  maxListeners?: number;
  /** Sockets per process (one walk of /proc per collection; default false). */
  perProcess?: boolean;
  /** At most this many processes, those with the most sockets first (default 100). */
  maxProcesses?: number;
  /** A dump that takes longer is aborted and counted as an error (default 10 000 ms). */
  timeoutMs?: number;
  /** Called with each failed dump (the failure is also counted, and the namespace's series are left out). */
  onError?: (error: unknown, netns: NetnsRef | undefined) => void;
  /** The engine the dumps run on (default: the shared one); see `ListOptions.engine`. */
  engine?: Engine;
  /**
   * Also export the kernel's socket counters of each namespace, read from its /proc/net files
   * (default true when TCP or UDP is listed). A failed read is passed to `onError`; the socket
   * series are still exported.
   */
  kernelCounters?: boolean;
}

/**
 * The kernel's socket counters of a namespace that the metric helpers export (undefined
 * fields: the kernel has no such counter). The MIB counters only grow (until the namespace
 * is deleted); the memory figures are kernel-wide (sockstat's `mem`, shared by every namespace).
 */
export interface KernelCounters {
  /** `TcpExt:ListenOverflows`: connections that completed a handshake (or SYNs) dropped because an accept queue was full. */
  tcpListenOverflows?: number;
  /** `TcpExt:ListenDrops`: SYNs and handshakes dropped by listeners for any reason (overflows included). */
  tcpListenDrops?: number;
  /** `Tcp:OutSegs`: segments sent. */
  tcpSegmentsSent?: number;
  /** `Tcp:RetransSegs`: segments retransmitted. */
  tcpSegmentsRetransmitted?: number;
  /** sockstat `TCP: mem`, in bytes: memory of TCP buffers (kernel-wide). */
  tcpMemoryBytes?: number;
  /** sockstat `UDP: mem`, in bytes: memory of UDP buffers (kernel-wide). */
  udpMemoryBytes?: number;
  /** `Udp:RcvbufErrors` + `Udp6:RcvbufErrors`: datagrams dropped because a receive buffer was full. */
  udpReceiveBufferErrors?: number;
  /** `Udp:SndbufErrors` + `Udp6:SndbufErrors`: sends that failed for want of send-buffer space. */
  udpSendBufferErrors?: number;
}

/** Where each {@link KernelCounters} field comes from (the keys of `readNetCounters()`, summed). */
export const KERNEL_COUNTER_KEYS: Readonly<Record<keyof KernelCounters, readonly string[]>> = {
  tcpListenOverflows: ['TcpExt:ListenOverflows'],
  tcpListenDrops: ['TcpExt:ListenDrops'],
  tcpSegmentsSent: ['Tcp:OutSegs'],
  tcpSegmentsRetransmitted: ['Tcp:RetransSegs'],
  tcpMemoryBytes: ['TCP:mem'],
  udpMemoryBytes: ['UDP:mem'],
  udpReceiveBufferErrors: ['Udp:RcvbufErrors', 'Udp6:RcvbufErrors'],
  udpSendBufferErrors: ['Udp:SndbufErrors', 'Udp6:SndbufErrors'],
};

/** Reduces the parsed /proc/net files to {@link KernelCounters}. */
export function kernelCounters(c: NetCounters): KernelCounters {
  const out: KernelCounters = {};
  for (const [field, keys] of Object.entries(KERNEL_COUNTER_KEYS) as Array<[keyof KernelCounters, readonly string[]]>) {
    const present = keys.map((k) => c.get(k)).filter((v): v is number => v !== undefined && Number.isFinite(v));
    if (present.length === 0) continue;
    const sum = present.reduce((a, b) => a + b, 0);
    out[field] = field.endsWith('MemoryBytes') ? sum * pageSize() : sum;
  }
  return out;
}

/** One namespace of a collection. */
export interface NamespaceResult {
  /** The namespace as given (undefined: the caller's). */
  netns: NetnsRef | undefined;
  /** Its label value (`''` when there is no `netns` label). */
  label: string;
  /**
   * The reduced sockets; undefined when the dump failed. `byState` holds every state of
   * {@link PROTOCOL_STATES} and every state seen before in this namespace, 0 when empty.
   */
  snapshot: SocketSnapshot | undefined;
  /** The kernel's counters of the namespace; undefined when the dump failed or neither TCP nor UDP is listed. */
  counters?: KernelCounters;
  /** Why the dump failed. */
  error?: unknown;
}

/** Cumulative counters of one namespace since the helper was registered. */
export interface NamespaceHealth {
  /** Dumps run. */
  dumps: number;
  /** Dumps that failed (or timed out). */
  errors: number;
  /** Dumps the kernel flagged as interrupted (NLM_F_DUMP_INTR). */
  interrupted: number;
  /** Sockets a dump reported twice, dropped by cookie. */
  duplicatesDropped: number;
  /** Wall time of the last dump, in seconds. */
  lastDurationSeconds: number;
  /** Whether the last dump succeeded. */
  up: boolean;
}

/** Events seen by {@link SnapshotSource.countEvents}, per namespace label. */
export interface EventHealth {
  /** Events by type (`'destroy'`, `'open'`, `'close'`, `'overrun'`, …). */
  byType: Map<string, number>;
  /** Overruns: times the kernel dropped events (ENOBUFS). */
  overruns: number;
  /** Events known lost in those overruns (an overrun of unknown size adds 0 here, 1 to `overruns`). */
  lost: number;
}

/** An event of `watchSockets()` or `trackSockets()`, as far as the counters need it. */
export interface CountableEvent {
  /** `'overrun'` marks lost events; any other type is counted by name. */
  type: string;
  /** For an overrun: how many events were lost, when known. */
  lost?: number;
}

/** Runs the dumps of a metric helper and keeps its own counters. */
export class SnapshotSource {
  /** The namespaces listed, with their label values. */
  readonly targets: ReadonlyArray<{ netns: NetnsRef | undefined; label: string }>;
  /** Whether series carry a namespace label. */
  readonly labelled: boolean;
  /** Counters per namespace label. */
  readonly health = new Map<string, NamespaceHealth>();
  /** Event counters per namespace label. */
  readonly events = new Map<string, EventHealth>();
  private readonly opts: SourceOptions;
  /** States seen per namespace label and kind, reported (as 0) from then on. */
  private readonly seen = new Map<string, Map<ProtocolName, Set<SocketState>>>();
  private inFlight: Promise<NamespaceResult[]> | undefined;

  /** Checks the options (a bad one throws a TypeError or RangeError here, not at scrape time). */
  constructor(opts: SourceOptions = {}) {
    validate(opts);
    this.opts = opts;
    this.labelled = Array.isArray(opts.netns);
    const list: Array<NetnsRef | undefined> = Array.isArray(opts.netns) ? [...(opts.netns as readonly NetnsRef[])] : [opts.netns as NetnsRef | undefined];
    this.targets = list.map((netns) => ({ netns, label: this.labelled ? String(netns) : '' }));
    for (const t of this.targets) {
      this.health.set(t.label, { dumps: 0, errors: 0, interrupted: 0, duplicatesDropped: 0, lastDurationSeconds: 0, up: false });
      this.events.set(t.label, { byType: new Map(), overruns: 0, lost: 0 });
    }
  }

  /**
   * Dumps every namespace (side by side) and updates the counters. Callers that ask while a
   * collection runs share it, so one scrape makes one dump per namespace however many
   * instruments ask. Never rejects: a failed dump is a result with `error`.
   */
  collect(): Promise<NamespaceResult[]> {
    if (this.inFlight === undefined) {
      this.inFlight = this.dumpAll().then((results) => {
        this.inFlight = undefined;
        return results;
      });
    }
    return this.inFlight;
  }

  /** Every namespace, at most {@link PARALLEL_NAMESPACES} at a time (each dump has its own kernel walk). */
  private async dumpAll(): Promise<NamespaceResult[]> {
    const results: NamespaceResult[] = new Array(this.targets.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < this.targets.length) {
        const i = next++;
        results[i] = await this.dumpOne(this.targets[i].netns, this.targets[i].label);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_NAMESPACES, this.targets.length) }, worker));
    return results;
  }

  private async dumpOne(netns: NetnsRef | undefined, label: string): Promise<NamespaceResult> {
    const h = this.health.get(label) as NamespaceHealth;
    const o = this.opts;
    const snapOpts: SnapshotOptions = { signal: AbortSignal.timeout(o.timeoutMs ?? DEFAULT_TIMEOUT_MS) };
    if (netns !== undefined) snapOpts.netns = netns;
    if (o.protocols !== undefined) snapOpts.protocols = o.protocols;
    if (o.perListener !== undefined) snapOpts.perListener = o.perListener;
    if (o.maxListeners !== undefined) snapOpts.maxListeners = o.maxListeners;
    if (o.perProcess !== undefined) snapOpts.perProcess = o.perProcess;
    if (o.maxProcesses !== undefined) snapOpts.maxProcesses = o.maxProcesses;
    if (o.engine !== undefined) snapOpts.engine = o.engine;
    h.dumps++;
    const t0 = process.hrtime.bigint();
    const protocols = o.protocols ?? ALL_PROTOCOLS;
    const wantCounters = o.kernelCounters !== false && (protocols.includes('tcp') || protocols.includes('udp'));
    try {
      // The kernel's counters are best effort: when /proc/net cannot be read, the sockets still count.
      // (A failure is reported only when the dump worked: a missing namespace is one error.)
      let countersError: { err: unknown } | undefined;
      const counting = wantCounters
        ? readNetCounters(netns).catch((err: unknown) => {
            countersError = { err };
            return undefined;
          })
        : undefined;
      const [snapshot, counters] = await Promise.all([takeSnapshot(snapOpts), counting]);
      if (countersError !== undefined) this.report(countersError.err, netns);
      h.lastDurationSeconds = snapshot.durationSeconds;
      if (snapshot.interrupted) h.interrupted++;
      h.duplicatesDropped += snapshot.duplicatesDropped;
      h.up = true;
      this.fillStates(label, snapshot);
      return counters === undefined ? { netns, label, snapshot } : { netns, label, snapshot, counters: kernelCounters(counters) };
    } catch (error) {
      h.lastDurationSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
      h.errors++;
      h.up = false;
      this.report(error, netns);
      return { netns, label, snapshot: undefined, error };
    }
  }

  /** Hands an error to the caller's `onError`, which may not fail the scrape of everything else. */
  private report(error: unknown, netns: NetnsRef | undefined): void {
    try {
      this.opts.onError?.(error, netns);
    } catch {
      // A throwing error callback must not fail the scrape of everything else.
    }
  }

  /** Adds the zero states of each kind dumped (its usual ones and those seen before), and remembers the states seen. */
  private fillStates(label: string, snapshot: SocketSnapshot): void {
    let seen = this.seen.get(label);
    if (seen === undefined) this.seen.set(label, (seen = new Map()));
    for (const protocol of snapshot.protocols) {
      let states = snapshot.byState.get(protocol);
      if (states === undefined) snapshot.byState.set(protocol, (states = new Map()));
      let known = seen.get(protocol);
      if (known === undefined) seen.set(protocol, (known = new Set(PROTOCOL_STATES[protocol])));
      for (const state of states.keys()) known.add(state);
      for (const state of known) if (!states.has(state)) states.set(state, 0);
    }
  }

  /**
   * Counts the events of a `watchSockets()` or `trackSockets()` iterable until it ends:
   * every event by type, and the overruns and lost events it reports. `netns` names which
   * of the configured namespaces the events come from (when there are several).
   */
  async countEvents(events: AsyncIterable<CountableEvent>, netns?: NetnsRef): Promise<void> {
    const label = this.labelled ? String(netns) : '';
    const e = this.events.get(label);
    if (e === undefined) throw new RangeError(`countEvents: ${String(netns)} is not one of the namespaces these metrics list`);
    for await (const ev of events) {
      e.byType.set(ev.type, (e.byType.get(ev.type) ?? 0) + 1);
      if (ev.type === 'overrun') {
        e.overruns++;
        if (typeof ev.lost === 'number' && Number.isFinite(ev.lost) && ev.lost > 0) e.lost += ev.lost;
      }
    }
  }
}

function validate(opts: SourceOptions): void {
  if (opts === null || typeof opts !== 'object') throw new TypeError('options must be an object');
  const refs = Array.isArray(opts.netns) ? (opts.netns as readonly unknown[]) : opts.netns === undefined ? [] : [opts.netns];
  if (Array.isArray(opts.netns) && refs.length === 0) throw new TypeError('netns: an empty list names no namespace');
  for (const r of refs) {
    if (!(typeof r === 'string' && r.length > 0) && !(typeof r === 'number' && Number.isInteger(r) && r > 0)) {
      throw new TypeError(`netns must be a namespace name, a path or a pid, got ${String(r)}`);
    }
  }
  if (new Set(refs.map(String)).size !== refs.length) throw new TypeError('netns: the same namespace is named twice');
  for (const key of ['maxListeners', 'maxProcesses', 'timeoutMs'] as const) {
    const v = opts[key];
    if (v !== undefined && !(typeof v === 'number' && Number.isInteger(v) && v >= 0)) throw new RangeError(`${key} must be a non-negative integer, got ${String(v)}`);
  }
  if (opts.timeoutMs === 0) throw new RangeError('timeoutMs must be positive');
  if (opts.protocols !== undefined) {
    if (!Array.isArray(opts.protocols)) throw new TypeError('protocols must be an array of protocol names');
    for (const p of opts.protocols) if (!ALL_PROTOCOLS.includes(p)) throw new TypeError(`unknown protocol: ${String(p)}`);
  }
  if (opts.onError !== undefined && typeof opts.onError !== 'function') throw new TypeError('onError must be a function');
  if (opts.kernelCounters !== undefined && typeof opts.kernelCounters !== 'boolean') throw new TypeError('kernelCounters must be a boolean');
  if (opts.engine !== undefined) engineOf(opts); // a TypeError for anything but an Engine
}
