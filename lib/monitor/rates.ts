/**
 * `sampleRates()`: every connection's throughput, retransmissions, RTT, cwnd and queues,
 * from the difference between two dumps' `tcp_info` counters.
 * @module
 */
import { NLMSG_HDRLEN } from '../netlink/message';
import { NLA_HDRLEN, findAttribute } from '../netlink/attributes';
import { fieldAt } from '../netlink/offsets';
import { stateName, type SocketState } from '../diag/constants';
import { inetDiagAttributes, inetDiagMsg, INET_PROTOCOLS, tcpInfo, type InetEndpoint, type InetProtocolName, type InetSocket, type TcpInfo } from '../diag/inet';
import type { SocketProcess } from '../diag/common/socket';
import type { ListOptions } from '../api/options';
import { PollLife } from './poll-life';
import { engineOf, newEngineStats, runOptionsOf, type DumpSink, type EngineChannel, type Listing, type PlannedDump } from '../engine';
import { watchSockets, type SocketWatch, type SocketDestroyEvent } from '../api/watch';
import type * as Processes from '../proc/processes';
import type { ProcessMap, ProcessScanOptions } from '../proc/processes';

/** Options of {@link sampleRates}: a listing's (inet kinds only; default TCP), and how often to sample. */
export interface RateOptions extends Omit<ListOptions, 'extensions'> {
  /**
   * inet kinds to sample (default `['tcp']`). Only TCP has the counters rates come from;
   * the others are listed with their state and queues.
   */
  protocols?: readonly InetProtocolName[];
  /** Milliseconds from the start of one sample's dump to the start of the next (default 1000, at least 10). */
  interval?: number;
  /**
   * Use the kernel's destroy events (default true): a connection that closes is then
   * reported with its final counters at the next sample. They need CAP_NET_ADMIN; without
   * them a connection is closed once two consecutive dumps miss it, with its last counters.
   */
  events?: boolean;
}

/** One connection in a {@link RateSample}: its rates since the previous sample and its current state. */
export interface ConnectionRate {
  /** The kernel's socket cookie (the sample's key). */
  cookie: bigint;
  /** Socket kind. */
  protocol: InetProtocolName;
  /** Address family. */
  family: 'inet' | 'inet6';
  /** Local address and port. */
  local: InetEndpoint;
  /** Peer address and port. */
  remote: InetEndpoint;
  /** State, by ss's names. */
  state: SocketState;
  /** Socket inode (0 for TIME-WAIT and SYN-RECV mini sockets). */
  inode: number;
  /** Owner's uid. */
  uid: number;
  /** Recv-Q, as ss shows it. */
  recvQ: number;
  /** Send-Q, as ss shows it. */
  sendQ: number;
  /**
   * Bytes per second the peer acknowledged (`tcpi_bytes_acked`): data sent that arrived.
   * This and the other rates are undefined where there are no counters (not TCP, or a
   * TIME-WAIT or SYN-RECV mini socket) or nothing to compare with (every connection of the
   * first sample). A connection that opened since the previous sample is measured from zero.
   */
  sendBytesPerSec: number | undefined;
  /** Bytes per second received (`tcpi_bytes_received`). */
  recvBytesPerSec: number | undefined;
  /** Segments retransmitted per second (`tcpi_total_retrans`). */
  retransPerSec: number | undefined;
  /** The kernel's own estimate of the recent delivery rate, bytes per second (`tcpi_delivery_rate`). */
  deliveryRateBytesPerSec: number | undefined;
  /** Smoothed RTT, microseconds. */
  rttUs: number | undefined;
  /** Congestion window, segments. */
  cwnd: number | undefined;
  /** Bytes written by the application and not yet sent (`tcpi_notsent_bytes`). */
  notsentBytes: number | undefined;
  /** Bytes acknowledged by the peer since the connection opened. */
  bytesAcked: number | undefined;
  /** Bytes received since the connection opened. */
  bytesReceived: number | undefined;
  /** Segments retransmitted since the connection opened. */
  totalRetrans: number | undefined;
  /** Milliseconds the rates cover (0 when they are undefined). */
  elapsedMs: number;
  /** Processes holding the socket, with the `processes` option and where /proc shows them. */
  processes?: SocketProcess[];
}

/** A connection that closed since the previous sample, with its last counters. */
export interface ClosedConnection extends ConnectionRate {
  /**
   * `'destroyed'`: the kernel's destroy event (counters and rates up to the close);
   * `'vanished'`: absent from two consecutive dumps (the last sample's counters and rates).
   */
  reason: 'destroyed' | 'vanished';
  /** `Date.now()` when the close was seen. */
  closedAt: number;
}

/** What {@link sampleRates} yields, once per interval. */
export interface RateSample {
  /** `Date.now()` when the sample's dump started. */
  at: number;
  /** Milliseconds since the previous sample's dump started (0 for the first sample). */
  elapsedMs: number;
  /** Every connection the dump listed, by cookie, in the kernel's order. */
  connections: Map<bigint, ConnectionRate>;
  /** Connections that closed since the previous sample. */
  closed: ClosedConnection[];
}

/** Counters of a sampler, updated as it runs. */
export interface RateStats {
  /** Samples taken. */
  samples: number;
  /** Connections known now. */
  tracked: number;
  /** Messages of a socket already seen in the same dump, ignored. */
  duplicatesDropped: number;
  /** Dumps the kernel flagged as interrupted (NLM_F_DUMP_INTR). */
  interruptedDumps: number;
  /** True while destroy events are in use. */
  events: boolean;
  /** Why destroy events are not in use (e.g. EPERM without CAP_NET_ADMIN), or why they stopped. */
  eventsError?: unknown;
  /** Event-socket overflows (closes whose events were lost are found by the dump rule). */
  overruns: number;
  /** Walks of /proc for the `processes` option. */
  processScans: number;
  /** Why the last walk of /proc failed, if it did (the sampler goes on without owners). */
  processesError?: unknown;
}

/** The handle {@link sampleRates} returns: one consumer, closable. */
export interface RateSampler extends AsyncIterableIterator<RateSample> {
  /** Ends the iteration (what `break` calls): stops sampling and closes the sockets. */
  return(): Promise<IteratorResult<RateSample, undefined>>;
  /** Stops at once; a pending `next()` resolves `done`. Safe to call twice. */
  close(): void;
  /** Counters, updated as the sampler runs. */
  readonly stats: RateStats;
}

// ---------------------------------------------------------------------------------------
// Where the fields lie, from the structure tables.

const M = NLMSG_HDRLEN;
const MSG_END = M + inetDiagMsg.size;
const M_STATE = M + fieldAt(inetDiagMsg, 'state', 'u8');
const M_COOKIE = M + fieldAt(inetDiagMsg, 'cookie', 'u64');
const M_RQUEUE = M + fieldAt(inetDiagMsg, 'rqueue', 'u32');
const M_WQUEUE = M + fieldAt(inetDiagMsg, 'wqueue', 'u32');
const M_UID = M + fieldAt(inetDiagMsg, 'uid', 'u32');
const M_INODE = M + fieldAt(inetDiagMsg, 'inode', 'u32');
const I_ACKED = fieldAt(tcpInfo, 'bytesAcked', 'u64');
const I_RECEIVED = fieldAt(tcpInfo, 'bytesReceived', 'u64');
const I_RETRANS = fieldAt(tcpInfo, 'totalRetrans', 'u32');
const I_RTT = fieldAt(tcpInfo, 'rttUs', 'u32');
const I_CWND = fieldAt(tcpInfo, 'sndCwnd', 'u32');
const I_NOTSENT = fieldAt(tcpInfo, 'notsentBytes', 'u32');
const I_DELIVERY = fieldAt(tcpInfo, 'deliveryRateBytesPerSec', 'u64');
const INFO_TYPE = inetDiagAttributes.byName.get('info')!.type;
const INET_NAMES: ReadonlySet<string> = new Set(Object.keys(INET_PROTOCOLS));
const WATCHABLE = ['tcp', 'udp'] as const;

type CookieKey = number | bigint;

function keyOf(cookie: bigint): CookieKey {
  return cookie <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(cookie) : cookie;
}

/** The cookie at `at`, as a number when below 2^53 (cheaper map keys), else a bigint. */
function keyAt(b: Buffer, at: number): CookieKey {
  const hi = b.readUInt32LE(at + 4);
  return hi < 0x200000 ? hi * 0x100000000 + b.readUInt32LE(at) : b.readBigUInt64LE(at);
}

/** A u64 as a number (exact below 2^53: 9 PB of a connection's bytes). */
function u64(b: Buffer, at: number): number {
  return b.readUInt32LE(at) + b.readUInt32LE(at + 4) * 0x100000000;
}

/** A connection between samples: who it is, and its last counters. */
interface Entry {
  cookie: bigint;
  protocol: InetProtocolName;
  family: 'inet' | 'inet6';
  local: InetEndpoint;
  remote: InetEndpoint;
  /** Counters of its last reading (NaN: none), and when (performance.now()). */
  acked: number;
  received: number;
  retrans: number;
  readAt: number;
  /** Number of the last dump that saw it, and consecutive dumps that did not. */
  seen: number;
  missed: number;
  /** Its row in the last sample that had it. */
  last: ConnectionRate;
  /** Owners found by a walk of /proc; undefined until found. */
  processes: SocketProcess[] | undefined;
}

/** A cookie closed by a destroy event: dumps may still show it (a TIME-WAIT remnant keeps the cookie). */
interface Tombstone {
  seen: number;
  missed: number;
}

/** A destroy event and when it was received (performance.now()). */
interface Destroyed {
  event: SocketDestroyEvent;
  readAt: number;
}

/** The rate of a counter between two readings; undefined when either is missing. */
function rate(now: number, before: number, seconds: number): number | undefined {
  if (Number.isNaN(now) || Number.isNaN(before) || !(seconds > 0)) return undefined;
  return now > before ? (now - before) / seconds : 0;
}

function infoCounter(v: number | bigint | undefined): number {
  return v === undefined ? NaN : Number(v);
}

// ---------------------------------------------------------------------------------------

class Sampler implements RateSampler {
  readonly stats: RateStats = { samples: 0, tracked: 0, duplicatesDropped: 0, interruptedDumps: 0, events: false, overruns: 0, processScans: 0 };
  readonly #opts: ListOptions;
  readonly #interval: number;
  readonly #useEvents: boolean;
  readonly #scan: ProcessScanOptions | undefined;
  readonly #procs: typeof Processes | undefined;
  readonly #life: PollLife;
  readonly #table = new Map<CookieKey, Entry>();
  readonly #tombstones = new Map<CookieKey, Tombstone>();
  // Destroy events of cookies no dump has shown yet: a dump in flight may still show them.
  readonly #unseenDestroys = new Map<CookieKey, Destroyed & { dump: number }>();
  #destroyed: Destroyed[] = [];
  #listing: Listing | undefined;
  #dump = 0;
  #lastReadAt = NaN;
  #watch: SocketWatch | undefined;
  #channel: EngineChannel | undefined;
  readonly #generator: AsyncGenerator<RateSample, undefined, undefined>;

  constructor(opts: RateOptions) {
    if (opts === null || typeof opts !== 'object') throw new TypeError('options must be an object');
    const interval = opts.interval ?? 1000;
    if (typeof interval !== 'number' || !Number.isFinite(interval)) throw new TypeError(`interval must be a number of milliseconds, got ${String(interval)}`);
    if (interval < 10) throw new RangeError(`interval must be at least 10 ms, got ${interval}`);
    const protocols = opts.protocols ?? ['tcp'];
    if (!Array.isArray(protocols)) throw new TypeError('protocols must be an array of inet protocol names');
    for (const p of protocols) if (!INET_NAMES.has(p)) throw new TypeError(`sampleRates lists inet connections (${Object.keys(INET_PROTOCOLS).join(', ')}), got ${String(p)}`);
    if ('extensions' in opts && (opts as ListOptions).extensions !== undefined) throw new TypeError('sampleRates asks for tcp_info itself: extensions is not an option');
    this.#life = new PollLife(opts.signal, () => {
      this.#watch?.close();
      this.#channel?.close();
    });
    const { interval: _i, events: _e, signal: _s, processes, ...list } = opts;
    // The /proc walk's modules load only when owners are asked for.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    this.#procs = processes === undefined || processes === false ? undefined : (require('../proc/processes') as typeof Processes);
    this.#scan = this.#procs?.processScanOptions(processes);
    this.#opts = { ...list, protocols, extensions: ['info'], signal: this.#life.stop.signal };
    this.#interval = interval;
    this.#useEvents = opts.events !== false;
    this.#life.follow();
    this.#generator = this.#run();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<RateSample, undefined>> {
    return this.#generator.next();
  }

  return(): Promise<IteratorResult<RateSample, undefined>> {
    this.close();
    return this.#generator.return(undefined);
  }

  close(): void {
    this.#life.halt(undefined);
  }

  async *#run(): AsyncGenerator<RateSample, undefined, undefined> {
    try {
      if (this.#life.over()) return undefined;
      this.#startWatch();
      let next = performance.now();
      for (;;) {
        const wait = next - performance.now();
        if (wait > 0) await this.#life.sleep(wait);
        if (this.#life.over()) return undefined;
        const start = performance.now();
        next = Math.max(next + this.#interval, start);
        let sample: RateSample;
        try {
          sample = await this.#sample(start);
        } catch (err) {
          if (this.#life.over()) return undefined;
          throw err;
        }
        if (this.#life.over()) return undefined;
        yield sample;
      }
    } finally {
      this.#life.halt(undefined);
    }
  }



  // -- destroy events ------------------------------------------------------------------

  #startWatch(): void {
    if (!this.#useEvents) return;
    const protocols = this.#opts.protocols!.filter((p): p is 'tcp' | 'udp' => (WATCHABLE as readonly string[]).includes(p));
    if (protocols.length === 0) return;
    try {
      this.#watch = watchSockets({
        protocols,
        ...(this.#opts.netns === undefined ? {} : { netns: this.#opts.netns }),
        ...(this.#opts.families === undefined ? {} : { families: this.#opts.families }),
        ...(this.#opts.engine === undefined ? {} : { engine: this.#opts.engine }),
      });
    } catch (err) {
      this.stats.eventsError = err;
      return;
    }
    this.stats.events = true;
    void this.#pump(this.#watch);
  }

  async #pump(watch: SocketWatch): Promise<void> {
    try {
      for await (const ev of watch) {
        if (this.#life.closed) return;
        if (ev.type === 'destroy') this.#destroyed.push({ event: ev, readAt: performance.now() });
        else this.stats.overruns++;
      }
    } catch (err) {
      if (!this.#life.closed) this.stats.eventsError = err;
    } finally {
      this.stats.events = false;
    }
  }

  // -- samples ---------------------------------------------------------------------------

  async #sample(start: number): Promise<RateSample> {
    const at = Date.now();
    const dump = ++this.#dump;
    const engine = engineOf(this.#opts);
    const stats = newEngineStats();
    // The listing is planned once: its protocols are named, so none is skipped.
    this.#listing ??= await engine.plan(this.#opts, stats);
    if (this.#channel?.closed) this.#channel = undefined;
    const channel = (this.#channel ??= engine.open(runOptionsOf(this.#opts, false).channel));
    // The first walk of /proc runs while the kernel dumps.
    const firstScan = dump === 1 && this.#scan !== undefined ? this.#scanOwners() : undefined;
    const connections = new Map<bigint, ConnectionRate>();
    const closed: ClosedConnection[] = [];
    const fresh: Entry[] = [];
    const since = this.#lastReadAt;
    // Closes the kernel reported since the last sample, before the dump shows their TIME-WAIT remnants.
    this.#drainDestroyed(dump, connections, closed);
    const sink: DumpSink = {
      message: (b, off, len, d, decoded) => {
        const e = this.#message(b, off, len, d, decoded, dump, start, since, connections, closed);
        if (e !== undefined) fresh.push(e);
      },
    };
    // A failed run closes the channel (a dump cut short leaves replies on it): the next one opens afresh.
    for await (const _ of engine.steps(this.#listing, stats, sink, { ...runOptionsOf(this.#opts, true), reuse: channel })) void _;
    this.stats.duplicatesDropped += stats.duplicatesDropped;
    if (stats.interrupted) this.stats.interruptedDumps++;
    // And those reported while it ran.
    this.#drainDestroyed(dump, connections, closed);
    this.#sweep(dump, closed);
    if (this.#scan !== undefined) await this.#attachOwners(firstScan, fresh);
    this.#lastReadAt = start;
    this.stats.samples++;
    this.stats.tracked = this.#table.size;
    return { at, elapsedMs: dump === 1 ? 0 : start - since, connections, closed };
  }

  /** One message of a dump; returns the entry when the connection is new. */
  #message(
    b: Buffer, off: number, len: number, d: PlannedDump, decoded: unknown, dump: number, now: number, since: number,
    connections: Map<bigint, ConnectionRate>, closed: ClosedConnection[],
  ): Entry | undefined {
    if (len < MSG_END || off + len > b.length) {
      d.plan.decode(b, off, len); // throws the DecodeError
      return undefined;
    }
    const key = keyAt(b, off + M_COOKIE);
    const tomb = this.#tombstones.get(key);
    if (tomb !== undefined) {
      tomb.seen = dump;
      tomb.missed = 0;
      return undefined;
    }
    let e = this.#table.get(key);
    const isNew = e === undefined;
    if (e === undefined) {
      const s = (decoded ?? d.plan.decode(b, off, len)) as InetSocket;
      // A new connection started from zero since the previous sample; the first sample has no "before".
      const zero = Number.isNaN(since) ? NaN : 0;
      e = {
        cookie: s.cookie, protocol: s.protocol, family: s.family, local: s.local, remote: s.remote,
        acked: zero, received: zero, retrans: zero, readAt: since, seen: dump, missed: 0, last: undefined!, processes: undefined,
      };
    }
    e.seen = dump;
    e.missed = 0;
    let acked = NaN;
    let received = NaN;
    let retrans = NaN;
    let rttUs: number | undefined;
    let cwnd: number | undefined;
    let notsent: number | undefined;
    let delivery: number | undefined;
    if (d.protocol === 'tcp') {
      const at = findAttribute(b, off + MSG_END, off + len, INFO_TYPE);
      if (at >= 0) {
        const p = at + NLA_HDRLEN;
        const n = b.readUInt16LE(at) - NLA_HDRLEN;
        if (I_ACKED + 8 <= n) acked = u64(b, p + I_ACKED);
        if (I_RECEIVED + 8 <= n) received = u64(b, p + I_RECEIVED);
        if (I_RETRANS + 4 <= n) retrans = b.readUInt32LE(p + I_RETRANS);
        if (I_RTT + 4 <= n) rttUs = b.readUInt32LE(p + I_RTT);
        if (I_CWND + 4 <= n) cwnd = b.readUInt32LE(p + I_CWND);
        if (I_NOTSENT + 4 <= n) notsent = b.readUInt32LE(p + I_NOTSENT);
        if (I_DELIVERY + 8 <= n) delivery = u64(b, p + I_DELIVERY);
      }
    }
    const seconds = (now - e.readAt) / 1000;
    const sendRate = rate(acked, e.acked, seconds);
    const r: ConnectionRate = {
      cookie: e.cookie,
      protocol: e.protocol,
      family: e.family,
      local: e.local,
      remote: e.remote,
      state: stateName(b[off + M_STATE]),
      inode: b.readUInt32LE(off + M_INODE),
      uid: b.readUInt32LE(off + M_UID),
      recvQ: b.readUInt32LE(off + M_RQUEUE),
      sendQ: b.readUInt32LE(off + M_WQUEUE),
      sendBytesPerSec: sendRate,
      recvBytesPerSec: rate(received, e.received, seconds),
      retransPerSec: rate(retrans, e.retrans, seconds),
      deliveryRateBytesPerSec: delivery,
      rttUs,
      cwnd,
      notsentBytes: notsent,
      bytesAcked: Number.isNaN(acked) ? undefined : acked,
      bytesReceived: Number.isNaN(received) ? undefined : received,
      totalRetrans: Number.isNaN(retrans) ? undefined : retrans,
      elapsedMs: sendRate === undefined ? 0 : now - e.readAt,
    };
    if (e.processes !== undefined) r.processes = e.processes;
    e.acked = acked;
    e.received = received;
    e.retrans = retrans;
    e.readAt = now;
    e.last = r;
    if (!isNew) {
      connections.set(e.cookie, r);
      return undefined;
    }
    const destroyed = this.#unseenDestroys.get(key);
    if (destroyed !== undefined) {
      // The kernel freed it before this dump was looked at: it closed within the interval.
      this.#unseenDestroys.delete(key);
      this.#tombstones.set(key, { seen: dump, missed: 0 });
      closed.push(closedByEvent(e, destroyed));
      return undefined;
    }
    this.#table.set(key, e);
    connections.set(e.cookie, r);
    return e;
  }

  /** Destroy events received so far: their connections close (with the event's final counters). */
  #drainDestroyed(dump: number, connections: Map<bigint, ConnectionRate>, closed: ClosedConnection[]): void {
    const events = this.#destroyed;
    this.#destroyed = [];
    for (const d of events) {
      const key = keyOf(d.event.socket.cookie);
      const e = this.#table.get(key);
      if (e !== undefined) {
        this.#table.delete(key);
        connections.delete(e.cookie);
        this.#tombstones.set(key, { seen: dump, missed: 0 });
        closed.push(closedByEvent(e, d));
      } else if (!this.#tombstones.has(key)) {
        this.#unseenDestroys.set(key, { ...d, dump });
      }
    }
  }

  /** After a whole dump: closes what two consecutive dumps missed, forgets old tombstones. */
  #sweep(dump: number, closed: ClosedConnection[]): void {
    const at = Date.now();
    for (const [key, e] of this.#table) {
      if (e.seen === dump || ++e.missed < 2) continue;
      this.#table.delete(key);
      closed.push({ ...e.last, reason: 'vanished', closedAt: at });
    }
    for (const [key, t] of this.#tombstones) if (t.seen !== dump && ++t.missed >= 2) this.#tombstones.delete(key);
    for (const [key, u] of this.#unseenDestroys) if (dump - u.dump >= 2) this.#unseenDestroys.delete(key);
  }

  // -- owners ----------------------------------------------------------------------------

  async #scanOwners(): Promise<ProcessMap | undefined> {
    this.stats.processScans++;
    try {
      return await this.#procs!.scanProcesses(this.#scan);
    } catch (err) {
      this.stats.processesError = err;
      return undefined;
    }
  }

  /**
   * Owners of the sample's new connections: /proc is walked again only when a connection
   * appeared (one walk per sample at most); connections whose owner was not found (another
   * user's, unprivileged) are looked up again at the next walk.
   */
  async #attachOwners(firstScan: Promise<ProcessMap | undefined> | undefined, fresh: Entry[]): Promise<void> {
    if (firstScan === undefined && !fresh.some((e) => e.last.inode !== 0)) return;
    const owners = await (firstScan ?? this.#scanOwners());
    if (owners === undefined) return;
    for (const e of this.#table.values()) {
      if (e.processes !== undefined || e.last.inode === 0) continue;
      const p = owners.lookup(e.last.inode);
      if (p === undefined) continue;
      e.processes = p;
      e.last.processes = p;
    }
  }
}

/** A connection's close from its destroy event: the final counters, and the rates up to it. */
function closedByEvent(e: Entry, d: Destroyed): ClosedConnection {
  const s = d.event.socket;
  const info = s.protocol === 'tcp' ? (s.info as TcpInfo | undefined) : undefined;
  const acked = infoCounter(info?.bytesAcked);
  const received = infoCounter(info?.bytesReceived);
  const retrans = infoCounter(info?.totalRetrans);
  const seconds = (d.readAt - e.readAt) / 1000;
  const fresh = seconds > 0 && !Number.isNaN(acked) && !Number.isNaN(e.acked);
  const last = e.last;
  return {
    ...last,
    state: s.state,
    recvQ: s.recvQ,
    sendQ: s.sendQ,
    sendBytesPerSec: fresh ? rate(acked, e.acked, seconds) : last.sendBytesPerSec,
    recvBytesPerSec: fresh ? rate(received, e.received, seconds) : last.recvBytesPerSec,
    retransPerSec: fresh ? rate(retrans, e.retrans, seconds) : last.retransPerSec,
    deliveryRateBytesPerSec: info?.deliveryRateBytesPerSec === undefined ? last.deliveryRateBytesPerSec : Number(info.deliveryRateBytesPerSec),
    rttUs: info?.rttUs ?? last.rttUs,
    cwnd: info?.sndCwnd ?? last.cwnd,
    notsentBytes: info?.notsentBytes ?? last.notsentBytes,
    bytesAcked: Number.isNaN(acked) ? last.bytesAcked : acked,
    bytesReceived: Number.isNaN(received) ? last.bytesReceived : received,
    totalRetrans: Number.isNaN(retrans) ? last.totalRetrans : retrans,
    elapsedMs: fresh ? d.readAt - e.readAt : last.elapsedMs,
    reason: 'destroyed',
    closedAt: d.event.at,
  };
}

/**
 * Samples every connection's rates: an async iterable of {@link RateSample}s, one per
 * `interval` (default 1 s), each with every connection's rates since the previous sample,
 * keyed by cookie: bytes per second sent (acknowledged by the peer, `tcpi_bytes_acked`) and
 * received (`tcpi_bytes_received`), segments retransmitted per second, the kernel's delivery
 * rate, and the current RTT, cwnd and queues; plus the connections that closed in between,
 * with their last counters (final ones from the kernel's destroy events where it sends
 * them, i.e. with CAP_NET_ADMIN). No capture and no privilege: the kernel lists every
 * user's sockets with their `tcp_info`.
 *
 * The first sample comes at once; its rates are undefined (nothing to compare with yet).
 * Options are a listing's (protocols — inet kinds, default `['tcp']` —, families, states,
 * filter, netns, processes), plus `interval` and `events`. Counters are read from the reply
 * bytes, without decoding a socket per connection and sample. A socket that a dump misses
 * once (dumps are not atomic) keeps its entry, and its next rates cover both intervals.
 * Samples wait for the consumer; `break`, `close()` or the signal stop it (the signal makes
 * a pending `next()` reject with an `AbortError`). A dump's error ends the iteration.
 *
 * @example
 * ```ts
 * for await (const sample of sampleRates({ interval: 1000, filter: 'dport = :443' })) {
 *   const busiest = [...sample.connections.values()].sort((a, b) => (b.sendBytesPerSec ?? 0) - (a.sendBytesPerSec ?? 0))[0];
 *   if (busiest) console.log(busiest.remote.address, busiest.sendBytesPerSec, busiest.rttUs);
 * }
 * ```
 */
export function sampleRates(opts: RateOptions = {}): RateSampler {
  return new Sampler(opts);
}
