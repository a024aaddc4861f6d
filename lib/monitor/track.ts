/**
 * `trackSockets()`: open / change / close events built from periodic dumps diffed by
 * cookie, and from the kernel's destroy events where it has them.
 * @module
 */
import { NLA_HDRLEN, findAttribute } from '../netlink/attributes';
import { NLMSG_HDRLEN } from '../netlink/message';
import { fieldSize, StructSpec } from '../netlink/struct';
import { fieldAt } from '../netlink/offsets';
import type { ProtocolName } from '../diag/constants';
import { inetDiagMsg, inetDiagAttributes, INET_PROTOCOLS, tcpInfo } from '../diag/inet';
import type { Socket } from '../diag/socket';
import type { ListOptions } from '../api/options';
import type { DumpPlan } from '../diag/registry';
import { PollLife } from './poll-life';
import { engineOf, newEngineStats, runOptionsOf, type DumpSink, type EngineChannel } from '../engine';
import { watchSockets, SocketWatch, SocketDestroyEvent } from '../api/watch';

/** Options of {@link trackSockets}: what to track (as for a listing) and how often to look. */
export interface TrackOptions extends Omit<ListOptions, 'processes'> {
  /** Milliseconds from the start of one dump to the start of the next (default 1000, at least 10). */
  interval?: number;
  /**
   * Use the kernel's destroy events for TCP and UDP (default true): a close is then reported
   * as soon as the kernel frees the socket, with its final counters. Without them (or where
   * the kernel refuses them, e.g. without CAP_NET_ADMIN) closes come from the dump rule alone.
   */
  events?: boolean;
  /**
   * inet extensions to ask for (as in {@link ListOptions}); the tracker's default is
   * `['info']`, what its change rule reads (every extension asked for is more kernel work per dump).
   */
  extensions?: ListOptions['extensions'];
}

/** A socket seen for the first time (every socket of the first dump is "open" too). */
export interface TrackOpenEvent {
  /** Tells the event kinds apart. */
  type: 'open';
  /** The socket as the dump saw it. */
  socket: Socket;
  /** `Date.now()` when the change was seen. */
  at: number;
}

/** A tracked socket whose state, queues or counters changed (see {@link trackSockets} for the list). */
export interface TrackChangeEvent {
  /** Tells the event kinds apart. */
  type: 'change';
  /** The socket now. */
  socket: Socket;
  /** The socket as the previous dump saw it. */
  previous: Socket;
  /** `Date.now()` when the change was seen. */
  at: number;
}

/** A tracked socket is gone. Reported once per socket. */
export interface TrackCloseEvent {
  /** Tells the event kinds apart. */
  type: 'close';
  /**
   * The socket's last known form: the kernel's destroy event (final `info` counters;
   * `inode` 0) when `reason` is `'destroyed'`, else the last dump that saw it.
   */
  socket: Socket;
  /** The socket as the last dump saw it (with `inode` and `uid`), when `socket` came from a destroy event. */
  previous?: Socket;
  /** `'destroyed'`: the kernel said so (destroy event); `'vanished'`: absent from two consecutive dumps. */
  reason: 'destroyed' | 'vanished';
  /** `Date.now()` when the close was seen. */
  at: number;
}

/** What {@link trackSockets} yields. */
export type TrackEvent = TrackOpenEvent | TrackChangeEvent | TrackCloseEvent;

/** Counters of a tracker, updated as it runs. */
export interface TrackerStats {
  /** Dumps completed. */
  dumps: number;
  /** Sockets tracked now (opened and not yet closed). */
  tracked: number;
  /** Events reported, by type. */
  opened: number;
  /** Change events reported. */
  changed: number;
  /** Close events reported (both reasons). */
  closed: number;
  /** Of those, closes that came from a destroy event. */
  closedByEvent: number;
  /** Messages of a socket already seen in the same dump (a non-atomic dump repeats some), ignored. */
  duplicatesDropped: number;
  /** Dumps the kernel flagged as interrupted (NLM_F_DUMP_INTR). */
  interruptedDumps: number;
  /** True while destroy events are in use. */
  events: boolean;
  /** Why destroy events are not in use, or why they stopped. */
  eventsError?: unknown;
  /** Event-socket overflows; the dump rule then finds the closes whose events were lost. */
  overruns: number;
  /** Destroy events lost in those overflows, when the kernel said how many. */
  eventsLost: number;
}

/** The handle {@link trackSockets} returns: one consumer, closable. */
export interface SocketTracker extends AsyncIterableIterator<TrackEvent> {
  /** Ends the iteration (what `break` calls): stops dumping and closes the sockets. */
  return(): Promise<IteratorResult<TrackEvent, undefined>>;
  /** Stops at once; a pending `next()` resolves `done`. Safe to call twice. */
  close(): void;
  /** Counters, updated as the tracker runs. */
  readonly stats: TrackerStats;
}

// ---------------------------------------------------------------------------------------
// What "changed" means, from the structure tables.

/** inet_diag_msg fields compared: state, the 4-tuple and interface, and the queues (not timers, not the cookie). */
export const TRACKED_MESSAGE_FIELDS = ['state', 'sport', 'dport', 'src', 'dst', 'ifindex', 'rqueue', 'wqueue'] as const;

/**
 * tcp_info fields compared: state and congestion state, retransmissions and losses, the
 * window, and the byte and segment counters that move when data flows. Left out on purpose:
 * the `last*` times, RTT estimates, rates and time-spent counters (they move on their own or
 * only together with the ones kept), and windows and scaling (negotiated once).
 */
export const TRACKED_TCP_INFO_FIELDS = [
  'state', 'caState', 'retransmits', 'unacked', 'sacked', 'lost', 'retrans', 'sndSsthresh', 'sndCwnd', 'totalRetrans',
  'bytesAcked', 'bytesReceived', 'bytesSent', 'bytesRetrans', 'dataSegsIn', 'dataSegsOut', 'notsentBytes', 'delivered', 'dsackDups', 'reordSeen',
] as const;

/**
 * The fields to compare as 32-bit words of the structure and, for each word, a mask of the
 * bytes that belong to those fields. Netlink messages and their attributes are 4-byte
 * aligned, so a message can be compared word by word through an Int32Array (host order,
 * as netlink is; the masks are built for a little-endian host, like the rest of the library).
 */
interface WordMask {
  words: Int32Array;
  masks: Int32Array;
}

function wordMasks(spec: StructSpec, names: readonly string[]): WordMask {
  const byWord = new Map<number, number>();
  for (const name of names) {
    const f = spec.fields.find((x) => x.name === name);
    if (f === undefined) throw new Error(`${spec.name} has no field ${name}`);
    for (let at = f.offset; at < f.offset + fieldSize(f); at++) byWord.set(at >> 2, (byWord.get(at >> 2) ?? 0) | (0xff << ((at & 3) * 8)));
  }
  const words = [...byWord.keys()].sort((a, b) => a - b);
  return { words: Int32Array.from(words), masks: Int32Array.from(words, (w) => byWord.get(w)!) };
}

const HDR_WORDS = NLMSG_HDRLEN >> 2;
const MSG_SIZE = inetDiagMsg.size;
const MSG_WORDS = MSG_SIZE >> 2;
const MSG_FIELDS = wordMasks(inetDiagMsg, TRACKED_MESSAGE_FIELDS);
const INFO_FIELDS = wordMasks(tcpInfo, TRACKED_TCP_INFO_FIELDS);
const COOKIE_WORD = fieldAt(inetDiagMsg, 'cookie', 'u64') >> 2;
const INET_DIAG_INFO = inetDiagAttributes.byName.get('info')!.type;
const INET_DIAG_SHUTDOWN = inetDiagAttributes.byName.get('shutdown')!.type;
const MAX_SAFE_HIGH = 2 ** 21; // cookies below 2^53 are kept as numbers (cheaper map keys)
if (MSG_SIZE % 4 !== 0 || fieldAt(inetDiagMsg, 'cookie', 'u64') % 4 !== 0) throw new Error('inet_diag_msg is not word-aligned');

/** True when the masked words of two structures differ; `aLen`/`bLen` bound each (bytes). */
function differs(f: WordMask, a: Int32Array, ai: number, aLen: number, b: Int32Array, bi: number, bLen: number): boolean {
  const { words, masks } = f;
  for (let k = 0; k < words.length; k++) {
    const w = words[k];
    const inA = (w + 1) * 4 <= aLen;
    if (inA !== (w + 1) * 4 <= bLen) return true;
    if (inA && ((a[ai + w] ^ b[bi + w]) & masks[k]) !== 0) return true;
  }
  return false;
}

type CookieKey = number | bigint;

function keyOf(cookie: bigint): CookieKey {
  return cookie <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(cookie) : cookie;
}

/** A tracked socket: where its last message is, and what the comparison needs of it. */
interface Entry {
  key: CookieKey;
  data: Buffer;
  off: number;
  len: number;
  decode: DumpPlan['decode'];
  /** inet only: the datagram's words, and where the message starts in them. */
  words: Int32Array | undefined;
  w: number;
  /** Word index and byte length of its INET_DIAG_INFO payload (-1 when absent). */
  infoW: number;
  infoLen: number;
  /** INET_DIAG_SHUTDOWN, -1 when absent. */
  shutdown: number;
  /** Number of the last dump that saw it. */
  seen: number;
  /** Consecutive dumps that did not. */
  missed: number;
}

/** A cookie closed by a destroy event: dumps may still show it (a TIME-WAIT remnant keeps the cookie). */
interface Tombstone {
  seen: number;
  missed: number;
}

const INET_NAMES = new Set<ProtocolName>(Object.keys(INET_PROTOCOLS) as ProtocolName[]);
const WATCHABLE = ['tcp', 'udp'] as const;

// ---------------------------------------------------------------------------------------

class Tracker implements SocketTracker {
  readonly stats: TrackerStats = {
    dumps: 0, tracked: 0, opened: 0, changed: 0, closed: 0, closedByEvent: 0,
    duplicatesDropped: 0, interruptedDumps: 0, events: false, overruns: 0, eventsLost: 0,
  };
  readonly #opts: ListOptions;
  readonly #interval: number;
  readonly #useEvents: boolean;
  readonly #life: PollLife;
  readonly #table = new Map<CookieKey, Entry>();
  readonly #tombstones = new Map<CookieKey, Tombstone>();
  // Destroy events of cookies no dump has shown yet: a dump in flight may still show them.
  readonly #unseenDestroys = new Map<CookieKey, { event: SocketDestroyEvent; dump: number }>();
  #queue: TrackEvent[] = [];
  #head = 0;
  #dump = 0;
  #watch: SocketWatch | undefined;
  #channel: EngineChannel | undefined;
  #nextDump = 0;
  readonly #generator: AsyncGenerator<TrackEvent, undefined, undefined>;

  constructor(opts: TrackOptions) {
    if (opts === null || typeof opts !== 'object') throw new TypeError('options must be an object');
    const interval = opts.interval ?? 1000;
    if (typeof interval !== 'number' || !Number.isFinite(interval)) throw new TypeError(`interval must be a number of milliseconds, got ${String(interval)}`);
    if (interval < 10) throw new RangeError(`interval must be at least 10 ms, got ${interval}`);
    if ((opts as ListOptions).processes !== undefined && (opts as ListOptions).processes !== false) throw new TypeError('trackSockets does not map processes; look owners up with scanProcesses() on the events you need');
    this.#life = new PollLife(opts.signal, () => {
      this.#watch?.close();
      this.#channel?.close();
    });
    const { interval: _i, events: _e, signal: _s, ...list } = opts;
    this.#opts = { extensions: ['info'], ...list, signal: this.#life.stop.signal };
    this.#interval = interval;
    this.#useEvents = opts.events !== false;
    this.#life.follow();
    this.#generator = this.#run();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<TrackEvent, undefined>> {
    return this.#generator.next();
  }

  return(): Promise<IteratorResult<TrackEvent, undefined>> {
    this.close();
    return this.#generator.return(undefined);
  }

  close(): void {
    this.#life.halt(undefined);
  }

  async *#run(): AsyncGenerator<TrackEvent, undefined, undefined> {
    try {
      this.#life.throwIfAborted();
      if (this.#life.closed) return undefined;
      this.#startWatch();
      this.#nextDump = Date.now();
      for (;;) {
        while (this.#head < this.#queue.length) {
          // Abort means stop: not one more event once the signal has fired or close() ran.
          this.#life.throwIfAborted();
          if (this.#life.closed) return undefined;
          const e = this.#queue[this.#head++];
          if (this.#head === this.#queue.length) {
            this.#queue = [];
            this.#head = 0;
          }
          yield e;
        }
        this.#life.throwIfAborted();
        if (this.#life.closed) return undefined;
        const wait = this.#nextDump - Date.now();
        if (wait > 0) {
          await this.#life.sleep(wait);
          continue;
        }
        const start = Date.now();
        this.#nextDump = Math.max(this.#nextDump + this.#interval, start);
        try {
          await this.#poll();
        } catch (err) {
          this.#life.throwIfAborted();
          if (this.#life.closed) return undefined;
          throw err;
        }
      }
    } finally {
      this.#life.halt(undefined);
    }
  }

  #emit(e: TrackEvent): void {
    this.#queue.push(e);
    if (e.type === 'open') this.stats.opened++;
    else if (e.type === 'change') this.stats.changed++;
    else {
      this.stats.closed++;
      if (e.reason === 'destroyed') this.stats.closedByEvent++;
    }
    this.#life.wake();
  }

  // -- destroy events ------------------------------------------------------------------

  #startWatch(): void {
    if (!this.#useEvents) return;
    const protocols = (this.#opts.protocols ?? WATCHABLE).filter((p): p is 'tcp' | 'udp' => p === 'tcp' || p === 'udp');
    if (protocols.length === 0) return;
    try {
      // The tracker's engine opens the event socket too (its channels: a fake kernel in tests).
      this.#watch = watchSockets({
        ...(this.#opts.engine === undefined ? {} : { engine: this.#opts.engine }),
        ...(this.#opts.netns === undefined ? {} : { netns: this.#opts.netns }),
        protocols,
        ...(this.#opts.families === undefined ? {} : { families: this.#opts.families }),
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
        if (ev.type === 'destroy') this.#destroyed(ev);
        else {
          this.stats.overruns++;
          if (ev.lost !== undefined) this.stats.eventsLost += ev.lost;
          // Closes whose events were lost surface through the dump rule: dump now.
          this.#nextDump = Date.now();
          this.#life.wake();
        }
      }
    } catch (err) {
      if (!this.#life.closed) this.stats.eventsError = err;
    } finally {
      this.stats.events = false;
    }
  }

  #destroyed(ev: SocketDestroyEvent): void {
    const key = keyOf(ev.socket.cookie);
    const entry = this.#table.get(key);
    if (entry !== undefined) {
      this.#table.delete(key);
      this.#tombstones.set(key, { seen: this.#dump, missed: 0 });
      this.stats.tracked = this.#table.size;
      this.#emit({ type: 'close', socket: ev.socket, previous: entry.decode(entry.data, entry.off, entry.len)!, reason: 'destroyed', at: ev.at });
    } else if (!this.#tombstones.has(key)) {
      this.#unseenDestroys.set(key, { event: ev, dump: this.#dump });
    }
  }

  // -- dumps ---------------------------------------------------------------------------

  async #poll(): Promise<void> {
    const dump = ++this.#dump;
    const engine = engineOf(this.#opts);
    const stats = newEngineStats();
    const listing = await engine.plan(this.#opts, stats);
    if (this.#channel?.closed) this.#channel = undefined;
    const channel = (this.#channel ??= engine.open(runOptionsOf(this.#opts, false).channel));
    const ownPort = channel.portId;
    // Messages are compared word by word: the received batch is viewed as 32-bit words once.
    let batch: Buffer | undefined;
    let aligned: Buffer = Buffer.alloc(0);
    let words: Int32Array = new Int32Array(0);
    const sink: DumpSink = {
      message: (b, off, len, d) => {
        if (b !== batch) {
          batch = b;
          aligned = b.byteOffset % 4 === 0 ? b : Buffer.from(b);
          words = new Int32Array(aligned.buffer, aligned.byteOffset, aligned.length >> 2);
        }
        if (INET_NAMES.has(d.protocol)) this.#inetMessage(aligned, words, off, len, d.plan.decode, d.protocol === 'tcp', dump);
        else this.#otherMessage(aligned, off, len, d.plan.decode, dump, ownPort);
      },
    };
    // A failed run closes the channel (a dump cut short leaves replies on it): the next one opens afresh.
    for await (const _ of engine.steps(listing, stats, sink, { ...runOptionsOf(this.#opts, true), reuse: channel })) void _;
    this.stats.duplicatesDropped += stats.duplicatesDropped;
    if (this.#life.closed) return;
    this.stats.dumps++;
    if (stats.interrupted) this.stats.interruptedDumps++;
    this.#sweep(dump);
  }

  #inetMessage(b: Buffer, words: Int32Array, off: number, len: number, decode: DumpPlan['decode'], tcp: boolean, dump: number): void {
    if (len < NLMSG_HDRLEN + MSG_SIZE || off + len > b.length) {
      decode(b, off, len); // throws the DecodeError
      return;
    }
    const w = off >> 2;
    const m = w + HDR_WORDS;
    const high = words[m + COOKIE_WORD + 1] >>> 0;
    const key: CookieKey = high < MAX_SAFE_HIGH ? high * 0x100000000 + (words[m + COOKIE_WORD] >>> 0) : b.readBigUInt64LE(off + NLMSG_HDRLEN + COOKIE_WORD * 4);
    if (this.#seenTombstone(key, dump)) return;
    // Where its INET_DIAG_INFO payload lies (in words) and its INET_DIAG_SHUTDOWN value.
    const attrs = off + NLMSG_HDRLEN + MSG_SIZE;
    const infoAt = findAttribute(b, attrs, off + len, INET_DIAG_INFO);
    const foundInfoW = infoAt < 0 ? -1 : (infoAt + NLA_HDRLEN) >> 2;
    const foundInfoLen = infoAt < 0 ? 0 : b.readUInt16LE(infoAt) - NLA_HDRLEN;
    const shutdownAt = findAttribute(b, attrs, off + len, INET_DIAG_SHUTDOWN);
    const foundShutdown = shutdownAt >= 0 && b.readUInt16LE(shutdownAt) > NLA_HDRLEN ? b[shutdownAt + NLA_HDRLEN] : -1;
    const entry = this.#seenAgain(key, dump);
    if (entry === undefined) {
      this.#opened({ key, data: b, off, len, decode, words, w, infoW: foundInfoW, infoLen: foundInfoLen, shutdown: foundShutdown, seen: dump, missed: 0 });
      return;
    }
    const old = entry.words!;
    const changed =
      differs(MSG_FIELDS, old, entry.w + HDR_WORDS, MSG_SIZE, words, m, MSG_SIZE) ||
      entry.shutdown !== foundShutdown ||
      (tcp && ((entry.infoW < 0) !== (foundInfoW < 0) || (foundInfoW >= 0 && differs(INFO_FIELDS, old, entry.infoW, entry.infoLen, words, foundInfoW, foundInfoLen))));
    if (changed) {
      const previous = entry.decode(entry.data, entry.off, entry.len)!;
      this.#emit({ type: 'change', socket: decode(b, off, len)!, previous, at: Date.now() });
    }
    entry.data = b;
    entry.off = off;
    entry.len = len;
    entry.words = words;
    entry.w = w;
    entry.infoW = foundInfoW;
    entry.infoLen = foundInfoLen;
    entry.shutdown = foundShutdown;
  }

  /** Families without timers in their messages: any byte of the payload counts. */
  #otherMessage(b: Buffer, off: number, len: number, decode: DumpPlan['decode'], dump: number, ownPort: number): void {
    const s = decode(b, off, len);
    if (s === undefined) return;
    // The tracker's own sock_diag socket is an artefact of looking.
    if (s.protocol === 'netlink' && s.netlinkProtocol === 4 && s.portId === ownPort) return;
    const key = keyOf(s.cookie);
    if (this.#seenTombstone(key, dump)) return;
    const entry = this.#seenAgain(key, dump);
    if (entry === undefined) {
      this.#opened({ key, data: b, off, len, decode, words: undefined, w: 0, infoW: -1, infoLen: 0, shutdown: -1, seen: dump, missed: 0 }, s);
      return;
    }
    if (entry.len !== len || b.compare(entry.data, entry.off + NLMSG_HDRLEN, entry.off + entry.len, off + NLMSG_HDRLEN, off + len) !== 0) {
      this.#emit({ type: 'change', socket: s, previous: entry.decode(entry.data, entry.off, entry.len)!, at: Date.now() });
    }
    entry.data = b;
    entry.off = off;
    entry.len = len;
  }

  /**
   * Marks a tracked socket seen in this dump and returns its entry to compare with; undefined
   * when it is not tracked yet (the caller opens it). The engine drops a dump's duplicates.
   */
  #seenAgain(key: CookieKey, dump: number): Entry | undefined {
    const entry = this.#table.get(key);
    if (entry === undefined) return undefined;
    entry.seen = dump;
    entry.missed = 0;
    return entry;
  }

  #seenTombstone(key: CookieKey, dump: number): boolean {
    const t = this.#tombstones.get(key);
    if (t === undefined) return false;
    t.seen = dump;
    t.missed = 0;
    return true;
  }

  #opened(entry: Entry, decoded?: Socket): void {
    const key = entry.key;
    const socket = decoded ?? entry.decode(entry.data, entry.off, entry.len)!;
    const at = Date.now();
    this.#emit({ type: 'open', socket, at });
    const destroyed = this.#unseenDestroys.get(key);
    if (destroyed !== undefined) {
      // The kernel freed it before this dump was processed: the dump saw it just before.
      this.#unseenDestroys.delete(key);
      this.#tombstones.set(key, { seen: entry.seen, missed: 0 });
      this.#emit({ type: 'close', socket: destroyed.event.socket, previous: socket, reason: 'destroyed', at });
      return;
    }
    this.#table.set(key, entry);
    this.stats.tracked = this.#table.size;
  }

  /** After a whole dump: closes what two consecutive dumps missed, forgets old tombstones. */
  #sweep(dump: number): void {
    const at = Date.now();
    for (const entry of this.#table.values()) {
      if (entry.seen === dump) continue;
      if (++entry.missed < 2) continue;
      this.#table.delete(entry.key);
      this.#emit({ type: 'close', socket: entry.decode(entry.data, entry.off, entry.len)!, reason: 'vanished', at });
    }
    if (this.#tombstones.size > 0) for (const [key, t] of this.#tombstones) if (t.seen !== dump && ++t.missed >= 2) this.#tombstones.delete(key);
    for (const [key, u] of this.#unseenDestroys) if (dump - u.dump >= 2) this.#unseenDestroys.delete(key);
    this.stats.tracked = this.#table.size;
  }
}

/**
 * Tracks sockets over time: an async iterable of `open`, `change` and `close` events,
 * built from a dump every `interval` ms (default 1 s, down to 10 ms) diffed by cookie, and
 * from the kernel's destroy events for TCP and UDP (see {@link watchSockets}).
 *
 * - **open**: a cookie no earlier dump had; every socket of the first dump opens.
 * - **change**: a tracked socket differs from the previous dump in a field that matters:
 *   for inet sockets {@link TRACKED_MESSAGE_FIELDS} of `inet_diag_msg`, the shutdown
 *   state, and for TCP the `tcp_info` fields of {@link TRACKED_TCP_INFO_FIELDS}; timers,
 *   RTT estimates, rates and `last*` times never make a change. For the other families
 *   (no timers in their messages) any byte of the message does.
 * - **close**, exactly once per opened socket: when the kernel's destroy event arrives
 *   (`reason: 'destroyed'`, with the final counters), or when the socket is absent from
 *   **two consecutive dumps** (`'vanished'`). One miss is not enough: a dump is not atomic
 *   and can miss a socket that never changed (see "Consistency" in the README). After an event-socket overflow
 *   the tracker dumps at once and the same rule finds the closes whose events were lost.
 *   A TCP socket that enters TIME-WAIT is closed by its destroy event; its TIME-WAIT
 *   remnant keeps the cookie and is not reported again. Without destroy events that
 *   socket stays open (its state changes to time-wait) until the remnant disappears.
 * - Sockets that live and die between two dumps are not reported (their destroy events
 *   alone do not say whether they match the options); {@link watchSockets} sees them.
 *
 * Options are a listing's (protocols, families, states, filter, netns, extensions; not
 * `processes`), plus `interval` and `events`. Extensions default to `['info']`. Dumps
 * wait for the consumer (the next starts only when the events of the last are taken).
 * `break`, `close()` or the signal stop it; the signal makes a pending `next()` reject
 * with an `AbortError`. Errors of a dump (e.g. the namespace was deleted) end the iteration.
 *
 * @example
 * ```ts
 * for await (const e of trackSockets({ protocols: ['tcp'], interval: 500 })) {
 *   if (e.type === 'close') console.log('closed', e.socket.local, e.socket.remote, e.reason);
 * }
 * ```
 */
export function trackSockets(opts: TrackOptions = {}): SocketTracker {
  return new Tracker(opts);
}
