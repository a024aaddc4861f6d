/**
 * `watchSockets()`: the kernel's socket destroy events (`ss -E`) as an async iterable.
 * @module
 */
import { closeSync, openSync } from 'node:fs';
import { visitEvents, NetnsRef, Datagrams, netnsPath } from '../netlink/channel';
import { withNetnsDetail } from '../netlink/netns';
import { AbortError, SockdiagSystemError } from '../errors';
import { engineOf, newEngineStats, type Engine, type EngineChannel, type Listing } from '../engine';
import { IPPROTO, SOCK_DIAG_BY_FAMILY } from '../diag/constants';
import { decodeInetMessage, InetSocket } from '../diag/inet';
import { decodeNetlinkMessage, encodeNetlinkRequest, NDIAG_SHOW } from '../diag/netlink';

/** Options of {@link watchSockets}. */
export interface WatchOptions {
  /** Network namespace to watch: a name under /var/run/netns, a path, or a pid (default: the caller's). */
  netns?: NetnsRef;
  /** Which protocols (default both): the kernel sends destroy events for TCP and UDP only. */
  protocols?: readonly ('tcp' | 'udp')[];
  /** Which address families (default both). An IPv6 socket talking IPv4 (v4-mapped addresses) is `'inet6'`. */
  families?: readonly ('inet' | 'inet6')[];
  /** Aborting closes the event socket at once; a pending `next()` rejects with an `AbortError`. */
  signal?: AbortSignal;
  /**
   * SO_RCVBUF of the event socket in bytes (default 1 MiB). The kernel doubles it and caps
   * it at twice `net.core.rmem_max`; each queued event takes about 1.3 KB of it. A burst
   * beyond it is lost and reported as an `overrun` event.
   */
  rcvbuf?: number;
  /** The engine whose channels to use (default: the shared one); see `ListOptions.engine`. */
  engine?: Engine;
}

/** A TCP or UDP socket was freed. */
export interface SocketDestroyEvent {
  /** Tells the event kinds apart. */
  type: 'destroy';
  /**
   * The socket as the kernel last saw it: addresses, ports, cookie, state (usually `'closed'`)
   * and, for TCP, `info` (tcp_info). `inode` is 0 and `uid` undefined: events do not carry them.
   */
  socket: InetSocket;
  /** `Date.now()` when the event was received. */
  at: number;
}

/** The event socket overflowed (ENOBUFS): events were lost. Take a fresh listing to resync. */
export interface SocketOverrunEvent {
  /** Tells the event kinds apart. */
  type: 'overrun';
  /**
   * How many events were lost, from the kernel's drop counter of the event socket
   * (`SK_MEMINFO_DROPS`); undefined when that counter could not be read.
   */
  lost: number | undefined;
  /** `Date.now()` when the overflow was reported. */
  at: number;
}

/** What {@link watchSockets} yields. */
export type SocketEvent = SocketDestroyEvent | SocketOverrunEvent;

/** Counters of a watch, updated as it runs. */
export interface WatchStats {
  /** Destroy events yielded or queued. */
  events: number;
  /** Overrun events yielded or queued. */
  overruns: number;
  /** Sum of the known `lost` counts. */
  lost: number;
  /** Overrun events whose `lost` is undefined. */
  lostUnknown: number;
  /** Datagrams and messages dropped because they were not the kernel's events (another sender, another type). */
  foreignDropped: number;
  /** Messages from the kernel that did not decode, skipped. */
  malformed: number;
}

/** The handle {@link watchSockets} returns: an async iterator over {@link SocketEvent}s (one consumer) that can be closed. */
export interface SocketWatch extends AsyncIterableIterator<SocketEvent> {
  /** Ends the iteration (what `break` in `for await` calls): closes the event socket. */
  return(): Promise<IteratorResult<SocketEvent, undefined>>;
  /** Closes the event socket at once; a pending `next()` resolves `done`. Safe to call twice. */
  close(): void;
  /** Counters, updated as events arrive. */
  readonly stats: WatchStats;
}

/** `SKNLGRP_*` of `<linux/sock_diag.h>`: the multicast groups of destroy events. */
const SKNLGRP = {
  INET_TCP_DESTROY: 1,
  INET_UDP_DESTROY: 2,
  INET6_TCP_DESTROY: 3,
  INET6_UDP_DESTROY: 4,
} as const;

const GROUPS: Readonly<Record<'tcp' | 'udp', Readonly<Record<'inet' | 'inet6', number>>>> = {
  tcp: { inet: SKNLGRP.INET_TCP_DESTROY, inet6: SKNLGRP.INET6_TCP_DESTROY },
  udp: { inet: SKNLGRP.INET_UDP_DESTROY, inet6: SKNLGRP.INET6_UDP_DESTROY },
};

/** The protocol each group's events are about, by the group's bit in a datagram's group mask. */
const PROTOCOL_BY_GROUP_BIT: Readonly<Record<number, number>> = {
  [1 << (SKNLGRP.INET_TCP_DESTROY - 1)]: IPPROTO.TCP,
  [1 << (SKNLGRP.INET_UDP_DESTROY - 1)]: IPPROTO.UDP,
  [1 << (SKNLGRP.INET6_TCP_DESTROY - 1)]: IPPROTO.TCP,
  [1 << (SKNLGRP.INET6_UDP_DESTROY - 1)]: IPPROTO.UDP,
};

const NETLINK_SOCK_DIAG = 4;
const DEFAULT_RCVBUF = 1 << 20;
// Batches taken in while an overflow drains before its count is reported anyway (see #overrun).
const MAX_DRAIN_BATCHES = 64;

/** Opens the namespace file (`O_CLOEXEC`), failing like a channel would: a {@link SockdiagSystemError} naming the namespace. */
function openNetns(ref: NetnsRef, path: string): number {
  try {
    return openSync(path, 'r');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (typeof e.errno !== 'number') throw err;
    throw withNetnsDetail(new SockdiagSystemError(e.errno, e.syscall ?? 'open', OPEN), ref, path, OPEN);
  }
}
const OPEN = { operation: 'open' } as const;

/** The bind mask for the chosen protocols and families (group g is bit g - 1). */
function groupMask(opts: WatchOptions): number {
  const protocols: unknown = opts.protocols ?? ['tcp', 'udp'];
  const families: unknown = opts.families ?? ['inet', 'inet6'];
  if (!Array.isArray(protocols) || protocols.length === 0) throw new TypeError("protocols must be a non-empty array of 'tcp' and 'udp'");
  if (!Array.isArray(families) || families.length === 0) throw new TypeError("families must be a non-empty array of 'inet' and 'inet6'");
  let mask = 0;
  for (const p of protocols as readonly unknown[]) {
    if (p !== 'tcp' && p !== 'udp') throw new TypeError(`protocols: the kernel sends destroy events for 'tcp' and 'udp' only, got ${String(p)}`);
    for (const f of families as readonly unknown[]) {
      if (f !== 'inet' && f !== 'inet6') throw new TypeError(`families must be 'inet' or 'inet6', got ${String(f)}`);
      mask |= 1 << (GROUPS[p][f] - 1);
    }
  }
  return mask;
}

function checkRcvbuf(rcvbuf: unknown): number {
  if (rcvbuf === undefined) return DEFAULT_RCVBUF;
  if (typeof rcvbuf !== 'number' || !Number.isInteger(rcvbuf)) throw new TypeError(`rcvbuf must be an integer number of bytes, got ${String(rcvbuf)}`);
  if (rcvbuf < 1 || rcvbuf > 0x7fffffff) throw new RangeError(`rcvbuf must be from 1 to 2147483647 bytes, got ${rcvbuf}`);
  return rcvbuf;
}

const isCode = (err: unknown, code: string): boolean => (err as { code?: unknown } | null)?.code === code;

/** The kernel's memory counters of one socket: what an overflow count needs. */
interface DropCounters {
  /** SK_MEMINFO_DROPS: events the kernel could not queue, since the socket opened (u32, wraps). */
  drops: number;
  /** SK_MEMINFO_RMEM_ALLOC: bytes still queued; 0 once the reader has drained the socket. */
  rmemAlloc: number;
}

class Watch implements SocketWatch {
  readonly stats: WatchStats = { events: 0, overruns: 0, lost: 0, lostUnknown: 0, foreignDropped: 0, malformed: 0 };
  readonly #events: EngineChannel | undefined;
  readonly #engine: Engine;
  // The watched namespace, held open so that the drop counter is read in that very namespace
  // even after its name is deleted or reused; undefined for the caller's own.
  #netnsFd: number | undefined;
  // The socket of a drop-counter query while one runs (closed with the watch).
  #query: EngineChannel | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = (): void => {
    this.#aborted = true;
    this.close();
  };
  #queue: SocketEvent[] = [];
  #head = 0;
  #closed = false;
  #aborted = false;
  #abortReported = false;
  // next() calls run one after another: the event socket has one reader.
  #tail: Promise<unknown> = Promise.resolve();
  #inFlight = 0;
  // SK_MEMINFO_DROPS already reported in overrun events.
  #reportedDrops = 0;
  // An overflow was reported before the kernel queue had drained: more drops may follow.
  #draining = false;

  constructor(opts: WatchOptions) {
    if (opts === null || typeof opts !== 'object') throw new TypeError('options must be an object');
    const groups = groupMask(opts);
    const rcvbuf = checkRcvbuf(opts.rcvbuf);
    const signal = opts.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal');
    this.#engine = engineOf(opts);
    this.#signal = signal;
    if (signal?.aborted) {
      this.#aborted = true;
      this.#closed = true;
      return;
    }
    const path = opts.netns === undefined ? undefined : netnsPath(opts.netns);
    if (path !== undefined) this.#netnsFd = openNetns(opts.netns!, path);
    try {
      this.#events = this.#engine.open({ ...this.#netnsOption(), groups, rcvbuf });
    } catch (err) {
      this.#closeNetns();
      // The channel saw only /proc/self/fd/N: say which namespace the caller named.
      throw path === undefined ? err : withNetnsDetail(err, opts.netns!, path, OPEN);
    }
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<SocketEvent, undefined>> {
    // Fast path: nothing in flight and an event queued (most calls, under load).
    if (this.#inFlight === 0 && this.#head < this.#queue.length && !this.#closed) return Promise.resolve({ done: false, value: this.#shift() });
    this.#inFlight++;
    const result = this.#tail.then(() => this.#nextItem());
    this.#tail = result.then(
      () => this.#inFlight--,
      () => this.#inFlight--,
    );
    return result;
  }

  return(): Promise<IteratorResult<SocketEvent, undefined>> {
    this.close();
    return Promise.resolve({ done: true, value: undefined });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#head = 0;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#events?.close();
    this.#query?.close();
    this.#closeNetns();
  }

  /** Where to open a channel: the held namespace (by its fd's /proc path), or the caller's own. */
  #netnsOption(): { netns?: string } {
    return this.#netnsFd === undefined ? {} : { netns: `/proc/self/fd/${this.#netnsFd}` };
  }

  #closeNetns(): void {
    if (this.#netnsFd === undefined) return;
    closeSync(this.#netnsFd);
    this.#netnsFd = undefined;
  }

  async #nextItem(): Promise<IteratorResult<SocketEvent, undefined>> {
    for (;;) {
      if (this.#aborted && !this.#abortReported) {
        this.#abortReported = true;
        throw new AbortError(undefined, { cause: this.#signal?.reason });
      }
      if (this.#closed) return { done: true, value: undefined };
      if (this.#head < this.#queue.length) return { done: false, value: this.#shift() };
      try {
        await this.#pull();
      } catch (err) {
        if (this.#closed) continue;
        this.close();
        throw err;
      }
    }
  }

  #shift(): SocketEvent {
    const value = this.#queue[this.#head++];
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    }
    return value;
  }

  /** Reads the next batch into the queue (or handles an overflow). */
  async #pull(): Promise<void> {
    let batch: Datagrams | null;
    try {
      batch = await this.#events!.read();
    } catch (err) {
      if (this.#closed) return;
      if (isCode(err, 'ENOBUFS')) return this.#overrun(Date.now());
      throw err;
    }
    if (batch === null || this.#closed) return;
    this.#take(batch, this.#queue);
    if (this.#draining) await this.#settleDrain();
  }

  /**
   * The kernel reports an overflow once (ENOBUFS), then drops every event until the queue
   * has been read empty, counting each drop in the socket's SK_MEMINFO_DROPS. So the count
   * is read once the queue is empty: the events still queued are taken in first and yielded
   * after the overrun event. Under a flood that never lets the queue empty, the count so far
   * is reported after {@link MAX_DRAIN_BATCHES} batches and the rest in a later overrun event
   * (see #settleDrain), so the sum of the counts stays exact.
   */
  async #overrun(at: number): Promise<void> {
    const held: SocketEvent[] = [];
    let lost: number | undefined;
    for (let taken = 0; ; taken++) {
      const counters = await this.#dropCounters();
      if (this.#closed) return;
      if (counters === undefined) break;
      if (counters.rmemAlloc === 0) {
        lost = await this.#finalDrops(counters);
        if (this.#closed) return;
        break;
      }
      if (taken >= MAX_DRAIN_BATCHES) {
        lost = this.#newDrops(counters);
        this.#draining = true;
        break;
      }
      let batch: Datagrams | null;
      try {
        batch = await this.#events!.read();
      } catch (err) {
        if (this.#closed) return;
        if (isCode(err, 'ENOBUFS')) continue; // a second overflow: the same count covers both
        throw err;
      }
      if (batch === null || this.#closed) return;
      this.#take(batch, held);
    }
    this.#pushOverrun(lost, at);
    for (const e of held) this.#queue.push(e);
  }

  /** After an overflow reported early: once the queue is empty, reports what was dropped since. */
  async #settleDrain(): Promise<void> {
    const counters = await this.#dropCounters();
    if (this.#closed) return;
    if (counters === undefined) {
      this.#draining = false;
      return;
    }
    if (counters.rmemAlloc !== 0) return;
    this.#draining = false;
    const lost = await this.#finalDrops(counters);
    if (lost > 0 && !this.#closed) this.#pushOverrun(lost, Date.now());
  }

  /**
   * The drops of an overflow whose queue was just seen empty. The kernel clears its
   * "congested" state a moment after the read that empties the queue, and drops until
   * then; so the counter is read once more, and that reading is final.
   */
  async #finalDrops(empty: DropCounters): Promise<number> {
    const again = await this.#dropCounters();
    return this.#newDrops(again ?? empty);
  }

  #newDrops(counters: DropCounters): number {
    const lost = (counters.drops - this.#reportedDrops) >>> 0;
    this.#reportedDrops = counters.drops;
    return lost;
  }

  #pushOverrun(lost: number | undefined, at: number): void {
    this.stats.overruns++;
    if (lost === undefined) this.stats.lostUnknown++;
    else this.stats.lost += lost;
    this.#queue.push({ type: 'overrun', lost, at });
  }

  /**
   * The event socket's drop counter and queued bytes, from a netlink_diag dump of the
   * namespace's NETLINK_SOCK_DIAG sockets; undefined when it cannot be read.
   */
  async #dropCounters(): Promise<DropCounters | undefined> {
    // Checked right before the (synchronous) open: after close() the fd number may be another file's.
    if (this.#closed) return undefined;
    const portId = this.#events!.portId;
    const stats = newEngineStats();
    const request = encodeNetlinkRequest({ protocol: NETLINK_SOCK_DIAG, show: NDIAG_SHOW.MEMINFO });
    const listing: Listing = {
      dumps: [{ protocol: 'netlink', plan: { request, decode: decodeNetlinkMessage, context: { operation: 'dump', family: 'netlink' }, exact: true } }],
      expr: undefined,
      filterCtx: undefined,
      explicit: true,
    };
    let found: DropCounters | undefined;
    const sink = {
      message: (b: Buffer, off: number, len: number): void => {
        const s = decodeNetlinkMessage(b, off, len);
        const m = s?.meminfo;
        if (s !== undefined && s.portId >>> 0 === portId && m?.drops !== undefined && m.rmemAlloc !== undefined) found = { drops: m.drops, rmemAlloc: m.rmemAlloc };
      },
    };
    try {
      // The whole dump is read, so the channel is idle for the next one.
      const query = (this.#query = this.#engine.open(this.#netnsOption()));
      for await (const _ of this.#engine.steps(listing, stats, sink, { reuse: query })) void _;
    } catch {
      return undefined;
    } finally {
      this.#query?.close();
      this.#query = undefined;
    }
    return found;
  }

  /** Decodes a batch's events onto `out`, dropping what the kernel did not multicast. */
  #take(batch: Datagrams, out: SocketEvent[]): void {
    const at = Date.now();
    visitEvents(
      batch,
      (b, off, len, type, group) => {
        if (type !== SOCK_DIAG_BY_FAMILY) {
          this.stats.foreignDropped++;
          return;
        }
        // The group the kernel sent to names the protocol; the message's INET_DIAG_PROTOCOL otherwise.
        const socket = decodeInetMessage(b, off, len, PROTOCOL_BY_GROUP_BIT[group] ?? -1);
        socket.uid = undefined; // the kernel leaves it 0 in events
        out.push({ type: 'destroy', socket, at });
        this.stats.events++;
      },
      () => this.stats.foreignDropped++,
      () => this.stats.malformed++,
    );
  }
}

/**
 * Watches TCP and UDP sockets being destroyed (`ss -E`), as an async iterable of
 * {@link SocketEvent}s, through the kernel's SKNLGRP_INET{,6}_{TCP,UDP}_DESTROY multicast groups.
 *
 * Best-effort. Events arrive when a TCP/UDP socket is freed, not at `close()`: a TCP socket
 * that closes first is freed as it enters TIME-WAIT, an orphaned one when its last timer ends;
 * request (SYN-RECV) and TIME-WAIT sockets give no event. Only TCP and UDP sockets, and only
 * those of the watched namespace, give events. On buffer overrun you receive an `overrun`
 * event with the count of lost events (read from the kernel's drop counter of the event
 * socket), and should take a fresh listing to resync; the events still queued follow it.
 * Events can also be lost silently under kernel memory pressure (the kernel builds each
 * event with an atomic allocation and drops it when that fails). Any process in the
 * namespace may subscribe; events include tcp_info.
 *
 * The event socket is opened by this call, so events are captured from now on, even before
 * iteration starts (a tracker subscribes, lists, then iterates). A bad option throws a
 * `TypeError`/`RangeError`; a namespace that cannot be entered throws a
 * `SockdiagSystemError` (e.g. ENOENT, syscall `'open'`). One consumer: `break`, `return()`,
 * {@link SocketWatch.close} or aborting the signal closes the socket at once. Without a
 * pending `next()` the watch does not keep the process alive.
 */
export function watchSockets(opts: WatchOptions = {}): SocketWatch {
  return new Watch(opts);
}
