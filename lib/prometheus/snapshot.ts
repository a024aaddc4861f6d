/**
 * What the metric helpers (`sockdiag/prometheus`, `sockdiag/otel`) export, computed from one
 * listing per namespace: sockets by protocol and state, queue bytes, listeners' accept
 * queues, TCP loss and the RTT/cwnd distributions, sockets per process, and the listing's
 * own counters. Nothing here keeps a socket: each is folded into fixed-size tallies as it
 * is decoded, so a scrape of 100k sockets holds one receive batch at a time.
 * @module
 */
import type { NetnsRef } from '../netlink/channel';
import { NLMSG_HDRLEN } from '../netlink/message';
import { NLA_HDRLEN, findAttribute } from '../netlink/attributes';
import { ALL_PROTOCOLS } from '../diag/registry';
import { STATES, STATE_NAMES, STATE_NUMBERS, type ProtocolName, type SocketState } from '../diag/constants';
import type { Socket } from '../diag/socket';
import type { SocketProcess } from '../diag/common/socket';
import { inetDiagAttributes, inetDiagMsg, tcpInfo } from '../diag/inet';
import { scanProcesses, type ProcessMap } from '../proc/processes';
import { engineOf, newEngineStats, throwIfAborted, type DumpSink, type Engine, type ListOptions } from '../engine';

/**
 * ss's state names (the library's `state`) → node_exporter's `node_tcp_connection_states{state}`
 * values and OpenTelemetry's `network.connection.state`: columns of the one state table, `STATES`.
 */
export const STATE_LABELS: Readonly<Record<SocketState, { readonly prometheus: string; readonly otel: string }>> = Object.fromEntries(
  STATES.map((r) => [r.name, { prometheus: r.prometheus, otel: r.otel }]),
) as Record<SocketState, { prometheus: string; otel: string }>;

const TCP_STATES: readonly SocketState[] = ['established', 'syn-sent', 'syn-recv', 'fin-wait-1', 'fin-wait-2', 'time-wait', 'closed', 'close-wait', 'last-ack', 'listening', 'closing'];

/**
 * The states each kind always reports, with 0 when no socket is in them, so that a series
 * never vanishes because its sockets closed (a state seen once keeps reporting too).
 */
export const PROTOCOL_STATES: Readonly<Record<ProtocolName, readonly SocketState[]>> = {
  tcp: TCP_STATES,
  mptcp: TCP_STATES,
  dccp: TCP_STATES,
  sctp: TCP_STATES,
  udp: ['established', 'closed'],
  udplite: ['established', 'closed'],
  raw: ['established', 'closed'],
  unix: ['established', 'listening', 'closed'],
  vsock: ['established', 'syn-sent', 'listening', 'closed', 'closing'],
  tipc: ['established', 'listening', 'closed'],
  packet: ['closed'],
  netlink: ['closed'],
  xdp: ['closed'],
};

/** Kinds whose Recv-Q/Send-Q are queued bytes: the queue metrics report each one dumped, 0 when empty. */
export const BYTE_QUEUE_PROTOCOLS: ReadonlySet<ProtocolName> = new Set(['tcp', 'udp', 'udplite', 'raw', 'mptcp', 'sctp', 'dccp', 'unix']);
/** Kinds that listen: the listener metrics report each one dumped, 0 when it has no listener. */
export const LISTENING_PROTOCOLS: ReadonlySet<ProtocolName> = new Set(['tcp', 'mptcp', 'sctp', 'dccp', 'unix', 'vsock', 'tipc']);

/** Upper bounds of the RTT histogram, in seconds (100 µs … 5 s). */
export const RTT_BUCKETS_SECONDS: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** Upper bounds of the congestion-window histogram, in segments. */
export const CWND_BUCKETS_SEGMENTS: readonly number[] = [1, 2, 4, 8, 10, 16, 32, 64, 128, 256, 512, 1024, 4096];

/** Default {@link SnapshotOptions.maxListeners}. */
export const DEFAULT_MAX_LISTENERS = 1000;
/** Default {@link SnapshotOptions.maxProcesses}. */
export const DEFAULT_MAX_PROCESSES = 100;

/** What one snapshot lists and how much detail it keeps. */
export interface SnapshotOptions {
  /** Namespace to list (a name under /var/run/netns, a path or a pid); default: the caller's. */
  netns?: NetnsRef;
  /** Socket kinds to list (default: every kind this kernel answers). */
  protocols?: readonly ProtocolName[];
  /** Keep one entry per listening address (default true); false keeps only the per-protocol totals. */
  perListener?: boolean;
  /** At most this many listener entries, the deepest accept queues first (default 1000); the rest are counted in `listenersOmitted`. */
  maxListeners?: number;
  /** Count sockets per process (one walk of /proc per snapshot; default false). */
  perProcess?: boolean;
  /** At most this many processes, those with the most sockets first (default 100). */
  maxProcesses?: number;
  /** Aborts the dump. */
  signal?: AbortSignal;
  /** The engine to run on (default: the shared one); see `ListOptions.engine`. */
  engine?: Engine;
}

/** A listening address and its accept queue. Sockets sharing the address (SO_REUSEPORT) are summed. */
export interface ListenerQueue {
  /** Socket kind (`'tcp'`, `'mptcp'`, `'unix'`, …). */
  protocol: ProtocolName;
  /** Local address (`'0.0.0.0'`, `'::'`, …), or the path of a unix socket (`''` when unnamed). */
  address: string;
  /** Local port (0 for unix sockets). */
  port: number;
  /** Connections waiting to be accepted (Recv-Q of a listener). */
  queued: number;
  /** The accept-queue limit, `listen()`'s backlog capped by somaxconn (Send-Q of a listener). */
  backlog: number;
  /** Listening sockets summed into this entry. */
  sockets: number;
}

/** The sockets one process holds. */
export interface ProcessSocketCount {
  /** Process id. */
  pid: number;
  /** Its command name (comm). */
  command: string;
  /** Sockets it holds a descriptor of (each socket once, however many descriptors). */
  sockets: number;
}

/** Values of a distribution over the sockets of one snapshot. */
export interface Distribution {
  /** Bucket upper bounds (the last bucket, +Inf, is implicit). */
  bounds: readonly number[];
  /** Non-cumulative counts: `counts[i]` values fell in (bounds[i-1], bounds[i]]; the last one is above every bound. */
  counts: Float64Array;
  /** Sum of the values. */
  sum: number;
  /** Number of values. */
  count: number;
  /** Every value, in arrival order (for exact quantiles). */
  values: Float64Array;
}

/** One namespace's sockets, reduced. */
export interface SocketSnapshot {
  /** Sockets listed. */
  sockets: number;
  /** The kinds dumped: those asked for (default: every kind) less those this kernel lacks. */
  protocols: ProtocolName[];
  /** Sockets by protocol, then by state (ss's state names); only states with sockets. */
  byState: Map<ProtocolName, Map<SocketState, number>>;
  /** Bytes queued, per protocol, over sockets that are not listening (inet and unix stream sockets). */
  queues: Map<ProtocolName, { receiveBytes: number; sendBytes: number }>;
  /**
   * node_exporter's `rx_queued_bytes`/`tx_queued_bytes`: Recv-Q and Send-Q summed over every
   * TCP socket, listeners included (a listener's Recv-Q is its accept queue, its Send-Q the backlog).
   */
  tcpQueuesAll: { receiveBytes: number; sendBytes: number };
  /** Listening addresses, the deepest accept queues first (empty when `perListener` is false). */
  listeners: ListenerQueue[];
  /** Listener entries left out by `maxListeners`. */
  listenersOmitted: number;
  /** Listening sockets whose accept queue is full (the kernel drops new connections), per protocol. */
  listenersFull: Map<ProtocolName, number>;
  /** Listening sockets per protocol. */
  listenersTotal: Map<ProtocolName, number>;
  /** TCP loss: sums of `tcp_info` counters over the TCP sockets listed. */
  tcp: {
    /** Σ tcpi_total_retrans: segments retransmitted over the sockets' lifetimes. */
    retransmittedSegments: number;
    /** Σ tcpi_lost: segments currently presumed lost. */
    lostSegments: number;
    /** Σ tcpi_retrans: retransmitted segments not yet acknowledged. */
    unackedRetransmits: number;
    /** Sockets with a retransmit backoff in progress (tcpi_retransmits > 0). */
    retransmittingSockets: number;
  };
  /** Smoothed RTT of connected TCP sockets (established, or closing after that), in seconds; sockets with a measured RTT. */
  rtt: Distribution;
  /** Congestion window of connected TCP sockets, in segments. */
  cwnd: Distribution;
  /** Sockets per process, the most first (empty unless `perProcess`). */
  processes: ProcessSocketCount[];
  /** Processes left out by `maxProcesses`. */
  processesOmitted: number;
  /** The dump's wall time, in seconds. */
  durationSeconds: number;
  /** The kernel flagged a dump as interrupted (NLM_F_DUMP_INTR). */
  interrupted: boolean;
  /** Duplicates the listing dropped (by cookie). */
  duplicatesDropped: number;
  /** Kinds this kernel does not answer (skipped). */
  unsupported: ProtocolName[];
}

/** A growable Float64Array (no boxing of a number per socket). */
class Values {
  private buf = new Float64Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }
  toArray(): Float64Array {
    return this.buf.slice(0, this.length);
  }
}

function distribution(bounds: readonly number[], values: Values): Distribution {
  const counts = new Float64Array(bounds.length + 1);
  const all = values.toArray();
  let sum = 0;
  for (let i = 0; i < all.length; i++) {
    const v = all[i];
    sum += v;
    let b = 0;
    while (b < bounds.length && v > bounds[b]) b++;
    counts[b]++;
  }
  return { bounds, counts, sum, count: all.length, values: all };
}

/**
 * The distribution's values at the quantiles `qs` (each 0…1; nearest rank, so 1 is the
 * largest value), all `undefined` when it is empty. Sorts a copy of the values once.
 */
export function quantiles(d: Distribution, qs: readonly number[]): Array<number | undefined> {
  if (d.count === 0) return qs.map(() => undefined);
  const sorted = d.values.slice().sort();
  return qs.map((q) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]);
}

// Protocols whose Recv-Q/Send-Q are bytes (UDP's count the memory of queued datagrams, as ss shows).
const INET_QUEUE_PROTOCOLS: ReadonlySet<ProtocolName> = new Set(['tcp', 'udp', 'udplite', 'raw', 'mptcp', 'sctp', 'dccp']);
const LISTENING = 'listening';
// States of a TCP connection that has completed its handshake and not yet closed: the RTT
// and cwnd of the others (listeners, SYN-SENT with a backed-off cwnd of 1) say nothing of a path.
const CONNECTED: ReadonlySet<SocketState> = new Set(['established', 'fin-wait-1', 'fin-wait-2', 'close-wait', 'last-ack', 'closing']);

/** The `tcp_info` counters the metrics read, straight from the reply bytes. */
interface TcpCounters {
  retransmits: number;
  lost: number;
  retrans: number;
  rttUs: number;
  sndCwnd: number;
  totalRetrans: number;
}
type CounterName = keyof TcpCounters;
const COUNTER_NAMES: readonly CounterName[] = ['retransmits', 'lost', 'retrans', 'rttUs', 'sndCwnd', 'totalRetrans'];
// Where each counter lies, from the one tcp_info table (so offsets and widths have one source).
const COUNTER_FIELDS = COUNTER_NAMES.map((name) => {
  const f = tcpInfo.fields.find((x) => x.name === name);
  if (f === undefined || (f.type !== 'u8' && f.type !== 'u32')) throw new Error(`tcp_info table has no u8/u32 field ${name}`);
  return { name, offset: f.offset, size: f.type === 'u8' ? 1 : 4 };
});
const INFO_TYPE = (inetDiagAttributes.byName.get('info') as { type: number }).type;
const ATTRS_START = NLMSG_HDRLEN + inetDiagMsg.size;

/**
 * Reads the counters of INET_DIAG_INFO in one reply message into `out`; false when the
 * message has no `tcp_info`. A shorter `tcp_info` (older kernel) leaves missing fields 0.
 *
 * Why not `socket.info`: that decodes every attribute and all ~70 `tcp_info` fields (ten of
 * them as BigInts) on first access, about 1.3 µs a socket, over 100 ms per scrape of 100k
 * sockets; these six reads cost a tenth of that.
 */
function readTcpCounters(b: Buffer, off: number, len: number, out: TcpCounters): boolean {
  const at = findAttribute(b, off + ATTRS_START, off + len, INFO_TYPE);
  if (at < 0) return false;
  const p = at + NLA_HDRLEN;
  const n = b.readUInt16LE(at) - NLA_HDRLEN;
  for (const f of COUNTER_FIELDS) out[f.name] = f.offset + f.size > n ? 0 : f.size === 1 ? b[p + f.offset] : b.readUInt32LE(p + f.offset);
  return true;
}

/** Folds sockets into the tallies of a {@link SocketSnapshot}. */
class Tally {
  sockets = 0;
  readonly byProtocol = new Map<ProtocolName, Uint32Array>();
  readonly queues = new Map<ProtocolName, { receiveBytes: number; sendBytes: number }>();
  readonly tcpQueuesAll = { receiveBytes: 0, sendBytes: 0 };
  readonly listeners = new Map<string, ListenerQueue>();
  readonly listenersFull = new Map<ProtocolName, number>();
  readonly listenersTotal = new Map<ProtocolName, number>();
  readonly processes = new Map<number, ProcessSocketCount>();
  readonly tcp = { retransmittedSegments: 0, lostSegments: 0, unackedRetransmits: 0, retransmittingSockets: 0 };
  readonly rtt = new Values();
  readonly cwnd = new Values();
  interrupted = false;
  duplicatesDropped = 0;
  readonly unsupported: ProtocolName[] = [];

  constructor(
    private readonly perListener: boolean,
    private readonly owners: ProcessMap | undefined,
  ) {}

  socket(s: Socket): void {
    this.sockets++;
    const protocol = s.protocol;
    let states = this.byProtocol.get(protocol);
    if (states === undefined) this.byProtocol.set(protocol, (states = new Uint32Array(STATE_NAMES.length)));
    states[STATE_NUMBERS[s.state] ?? 0]++;
    if (protocol === 'tcp') {
      this.tcpQueuesAll.receiveBytes += s.recvQ;
      this.tcpQueuesAll.sendBytes += s.sendQ;
    }
    if (s.state === LISTENING) {
      countListener(s, this.perListener, this.listeners, this.listenersFull, this.listenersTotal);
    } else if (INET_QUEUE_PROTOCOLS.has(protocol) || (protocol === 'unix' && s.type !== 'dgram')) {
      let q = this.queues.get(protocol);
      if (q === undefined) this.queues.set(protocol, (q = { receiveBytes: 0, sendBytes: 0 }));
      q.receiveBytes += s.recvQ;
      q.sendBytes += s.sendQ;
    }
    if (this.owners !== undefined) {
      const holders = this.owners.lookup(s.inode);
      if (holders !== undefined) countProcesses(holders, this.processes);
    }
  }

  tcpCounters(state: SocketState, c: TcpCounters): void {
    const t = this.tcp;
    t.retransmittedSegments += c.totalRetrans;
    t.lostSegments += c.lost;
    t.unackedRetransmits += c.retrans;
    if (c.retransmits > 0) t.retransmittingSockets++;
    if (!CONNECTED.has(state)) return;
    if (c.rttUs > 0) this.rtt.push(c.rttUs / 1e6);
    if (c.sndCwnd > 0) this.cwnd.push(c.sndCwnd);
  }
}

/**
 * Dumps one namespace and reduces its sockets to a {@link SocketSnapshot}: one listing
 * (`tcp_info` asked for, duplicates dropped by cookie), each socket folded into the tallies
 * as it is decoded and the six `tcp_info` counters read from the reply bytes. A kind this
 * kernel lacks is skipped when not named, without losing the others.
 */
export async function takeSnapshot(opts: SnapshotOptions = {}): Promise<SocketSnapshot> {
  const signal = opts.signal;
  throwIfAborted(signal);
  const engine = engineOf(opts);
  const t0 = process.hrtime.bigint();
  const listOpts: ListOptions = { extensions: ['info'] };
  if (opts.protocols !== undefined) listOpts.protocols = opts.protocols;
  if (opts.netns !== undefined) listOpts.netns = opts.netns;
  const stats = newEngineStats();
  const listing = await engine.plan(listOpts, stats);
  // Owners come from one walk of /proc, done before the dumps (a socket opened meanwhile has none).
  const owners = opts.perProcess ? await scanProcesses() : undefined;
  const tally = new Tally(opts.perListener ?? true, owners);
  const counters: TcpCounters = { retransmits: 0, lost: 0, retrans: 0, rttUs: 0, sndCwnd: 0, totalRetrans: 0 };
  // Folded as decoded: nothing per socket outlives its message.
  const sink: DumpSink = {
    message(b, off, len, dump, decoded) {
      const s = decoded ?? dump.plan.decode(b, off, len);
      if (s === undefined) return;
      tally.socket(s);
      if (dump.protocol === 'tcp' && readTcpCounters(b, off, len, counters)) tally.tcpCounters(s.state, counters);
    },
  };
  const run = { dedup: true, ...(opts.netns === undefined ? {} : { channel: { netns: opts.netns } }), ...(signal === undefined ? {} : { signal }) };
  for await (const _ of engine.steps(listing, stats, sink, run)) void _;
  tally.interrupted = stats.interrupted;
  tally.duplicatesDropped = stats.duplicatesDropped;
  tally.unsupported.push(...stats.unsupported);
  const durationSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return finish(tally, opts, durationSeconds);
}

function finish(t: Tally, opts: SnapshotOptions, durationSeconds: number): SocketSnapshot {
  const byState = new Map<ProtocolName, Map<SocketState, number>>();
  for (const protocol of ALL_PROTOCOLS) {
    const states = t.byProtocol.get(protocol);
    if (states === undefined) continue;
    const m = new Map<SocketState, number>();
    states.forEach((n, i) => {
      if (n > 0) m.set(STATE_NAMES[i], n);
    });
    byState.set(protocol, m);
  }
  const maxListeners = opts.maxListeners ?? DEFAULT_MAX_LISTENERS;
  const maxProcesses = opts.maxProcesses ?? DEFAULT_MAX_PROCESSES;
  const listenerList = [...t.listeners.values()].sort(byQueueThenAddress);
  const processList = [...t.processes.values()].sort((a, b) => b.sockets - a.sockets || a.pid - b.pid);
  return {
    sockets: t.sockets,
    protocols: (opts.protocols ?? ALL_PROTOCOLS).filter((p) => !t.unsupported.includes(p)),
    byState,
    queues: t.queues,
    tcpQueuesAll: t.tcpQueuesAll,
    listeners: listenerList.slice(0, maxListeners),
    listenersOmitted: Math.max(0, listenerList.length - maxListeners),
    listenersFull: t.listenersFull,
    listenersTotal: t.listenersTotal,
    tcp: t.tcp,
    rtt: distribution(RTT_BUCKETS_SECONDS, t.rtt),
    cwnd: distribution(CWND_BUCKETS_SEGMENTS, t.cwnd),
    processes: processList.slice(0, maxProcesses),
    processesOmitted: Math.max(0, processList.length - maxProcesses),
    durationSeconds,
    interrupted: t.interrupted,
    duplicatesDropped: t.duplicatesDropped,
    unsupported: t.unsupported,
  };
}

function byQueueThenAddress(a: ListenerQueue, b: ListenerQueue): number {
  return b.queued - a.queued || (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0) || (a.address < b.address ? -1 : a.address > b.address ? 1 : 0) || a.port - b.port;
}

function listenAddress(s: Socket): { address: string; port: number } {
  switch (s.family) {
    case 'inet':
    case 'inet6':
      return { address: s.local.address, port: s.local.port };
    case 'unix':
      return { address: s.path ?? '', port: 0 };
    case 'vsock':
      return { address: String(s.local.cid), port: s.local.port };
    default:
      return { address: '', port: 0 };
  }
}

function countListener(s: Socket, perListener: boolean, listeners: Map<string, ListenerQueue>, full: Map<ProtocolName, number>, total: Map<ProtocolName, number>): void {
  const protocol = s.protocol;
  total.set(protocol, (total.get(protocol) ?? 0) + 1);
  // The kernel refuses new connections once the queue holds more than the backlog (sk_acceptq_is_full).
  if (s.recvQ > s.sendQ) full.set(protocol, (full.get(protocol) ?? 0) + 1);
  if (!perListener) return;
  const { address, port } = listenAddress(s);
  const key = `${protocol} ${address} ${port}`;
  const entry = listeners.get(key);
  if (entry === undefined) listeners.set(key, { protocol, address, port, queued: s.recvQ, backlog: s.sendQ, sockets: 1 });
  else {
    entry.queued += s.recvQ;
    entry.backlog += s.sendQ;
    entry.sockets++;
  }
}

function countProcesses(holders: readonly SocketProcess[], processes: Map<number, ProcessSocketCount>): void {
  // A socket held through several descriptors of one process counts once for it.
  const seen = holders.length > 1 ? new Set<number>() : undefined;
  for (const p of holders) {
    if (seen !== undefined) {
      if (seen.has(p.pid)) continue;
      seen.add(p.pid);
    }
    const entry = processes.get(p.pid);
    if (entry === undefined) processes.set(p.pid, { pid: p.pid, command: p.command, sockets: 1 });
    else entry.sockets++;
  }
}
