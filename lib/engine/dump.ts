/**
 * One dump of a listing, walked once: the request sent with its sequence number, every
 * reply message checked (sender, port, sequence, NLMSG_ERROR, errors inside DONE,
 * DUMP_INTR) by {@link visitReplies}, the part of the filter the kernel could not run
 * checked here, duplicates dropped by cookie, and what is kept handed to a {@link DumpSink}.
 * @module
 */
import { visitReplies, readDumpBatch, type Datagrams, type DumpStats } from '../netlink/channel';
import { NLMSG_HDRLEN, nlmsghdr } from '../netlink/message';
import { fieldAt } from '../netlink/offsets';
import { AbortError, TimeoutError } from '../errors';
import { AF } from '../diag/constants';
import { inetDiagMsg, INET_PROTOCOLS } from '../diag/inet';
import type { Socket } from '../diag/socket';
import { matchesFilter } from '../filter/evaluate';
import type { ListingStats } from './options';
import type { EngineChannel } from './channel';
import type { Listing, PlannedDump } from './plan';

/** Counters of a run: the listing's, plus what the engine dropped on the way. */
export interface EngineStats extends ListingStats {
  /** Datagrams or messages dropped because they were not the kernel's answer to our request. */
  foreignDropped: number;
  /** Messages left out because they failed the part of the filter the kernel could not run. */
  filteredOut: number;
}

/** A fresh counters object. */
export function newEngineStats(): EngineStats {
  return { interrupted: false, duplicatesDropped: 0, unsupported: [], foreignDropped: 0, filteredOut: 0 };
}

/**
 * Where a dump's results go. Messages arrive in the kernel's order (for a dump of both inet
 * families, IPv4 first and IPv6 after, as two dumps would give them).
 */
export interface DumpSink {
  /**
   * A message the listing keeps: `off` at its nlmsghdr, `len` its nlmsg_len, in `b` (the
   * received batch: read it in place, or copy what must outlive the next read). `socket` is
   * the decoded socket when the engine had to decode it (filter re-check, dedup of a family
   * without a fixed cookie offset); decode with `dump.plan.decode` otherwise.
   */
  message?(b: Buffer, off: number, len: number, dump: PlannedDump, socket: Socket | undefined): void;
  /**
   * Each of the kernel's datagrams once its messages were visited: `start`/`end` bound it in
   * `b`; `cut` lists the [from, to) ranges of messages left out (another request's, filtered
   * out, duplicates), null when none was.
   */
  datagram?(b: Buffer, start: number, end: number, cut: Array<[number, number]> | null, dump: PlannedDump): void;
}

/**
 * The cookies seen so far in a run. Cookies count sockets since boot and stay far below
 * 2^53, so they are kept as numbers (hashing numbers is several times cheaper than bigints);
 * any larger cookie goes to a bigint set, so no two cookies can ever collide.
 */
export class CookieSet {
  private readonly small = new Set<number>();
  private readonly large = new Set<bigint>();

  /** Adds a cookie; false when it was already there. */
  add(cookie: bigint): boolean {
    if (cookie <= MAX_SAFE) return this.addNumber(Number(cookie));
    if (this.large.has(cookie)) return false;
    this.large.add(cookie);
    return true;
  }

  /** Adds the little-endian u64 cookie at `at` in `b`, read in place; false when it was already there. */
  addAt(b: Buffer, at: number): boolean {
    const hi = b.readUInt32LE(at + 4);
    if (hi < 0x200000) return this.addNumber(hi * 0x100000000 + b.readUInt32LE(at));
    return this.add(b.readBigUInt64LE(at));
  }

  private addNumber(n: number): boolean {
    if (this.small.has(n)) return false;
    this.small.add(n);
    return true;
  }
}
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

const H_SEQ = fieldAt(nlmsghdr, 'seq', 'u32');
// Where a reply's address family and cookie lie (struct inet_diag_msg after the header).
const MSG_FAMILY = NLMSG_HDRLEN + fieldAt(inetDiagMsg, 'family', 'u8');
const MSG_COOKIE = NLMSG_HDRLEN + fieldAt(inetDiagMsg, 'cookie', 'u64');
const MSG_END = NLMSG_HDRLEN + inetDiagMsg.size;
const INET = new Set<string>(Object.keys(INET_PROTOCOLS));
// Delayed IPv6 messages of a mixed dump are handed over in runs of this many between yields.
const LATER_RUN = 256;

/** What one dump needs besides its plan. */
export interface DumpContext {
  /** The listing the dump belongs to (its filter). */
  listing: Listing;
  /** Counters to add to. */
  stats: EngineStats;
  /** The run's cookies, when duplicates are dropped. */
  seen: CookieSet | undefined;
  /** A fixed sequence number for the request (raw dumps tag theirs); default: the channel's next. */
  seq?: number;
  /** Checked before every read and after every batch. */
  signal: AbortSignal | undefined;
  /** How long to wait for each batch of replies (ms); 0 waits forever. */
  replyTimeoutMs: number;
}

/**
 * The next batch of a dump, or a {@link TimeoutError} when the kernel sends nothing for
 * `ms` (it dropped the request): the channel is closed then, so nothing stays pending.
 */
async function nextBatch(channel: EngineChannel, ms: number): Promise<Datagrams> {
  if (!(ms > 0)) return readDumpBatch(channel);
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    channel.close();
  }, ms);
  try {
    return await readDumpBatch(channel);
  } catch (err) {
    if (expired) throw new TimeoutError(`The kernel did not answer the dump within ${ms} ms (was the request dropped?)`, ms);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Throws the signal's AbortError when it has been aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
}

/**
 * Runs one dump on `channel`, handing what it keeps to `sink`; yields after every received
 * batch (and every run of delayed messages), so the caller can deliver, wait for its
 * consumer, or stop. An error reply is thrown after the batch's earlier datagrams went to the sink.
 */
export async function* dumpSteps(channel: EngineChannel, dump: PlannedDump, ctx: DumpContext, sink: DumpSink): AsyncGenerator<void, void, undefined> {
  const { plan } = dump;
  const { listing, stats, seen, signal } = ctx;
  const expr = listing.expr;
  const recheck = expr !== undefined && !plan.exact;
  const filterCtx = listing.filterCtx;
  const inet = INET.has(dump.protocol);
  const decode = plan.decode;
  const onMessage = sink.message;
  const accept = (b: Buffer, off: number, len: number): boolean => {
    let s: Socket | undefined;
    if (recheck) {
      s = decode(b, off, len);
      if (s === undefined || !matchesFilter(expr, s, filterCtx)) {
        stats.filteredOut++;
        return false;
      }
    }
    if (seen !== undefined) {
      let fresh: boolean;
      if (inet && len >= MSG_END) fresh = seen.addAt(b, off + MSG_COOKIE);
      else {
        s ??= decode(b, off, len);
        fresh = s === undefined || seen.add(s.cookie);
      }
      if (!fresh) {
        stats.duplicatesDropped++;
        return false;
      }
    }
    if (onMessage !== undefined) onMessage(b, off, len, dump, s);
    return true;
  };
  // A dump of both families hands IPv4 over as it comes and IPv6 after it (copied aside):
  // the order, and the points where a consumer sees them, of two single-family dumps.
  const later: Buffer[] | undefined = plan.mixedFamilies ? [] : undefined;
  const visit =
    later === undefined
      ? accept
      : (b: Buffer, off: number, len: number): boolean => {
          if (len > MSG_FAMILY && b[off + MSG_FAMILY] === AF.INET6) {
            later.push(Buffer.from(b.subarray(off, off + len)));
            return true;
          }
          return accept(b, off, len);
        };
  const onDatagram = sink.datagram;
  const datagram = onDatagram === undefined ? undefined : (b: Buffer, start: number, end: number, cut: Array<[number, number]> | null): void => onDatagram(b, start, end, cut, dump);
  const seq = ctx.seq ?? channel.nextSeq();
  plan.request.writeUInt32LE(seq, H_SEQ);
  throwIfAborted(signal);
  channel.send(plan.request);
  const dumpStats: DumpStats = { messages: 0, interrupted: false, foreignDropped: 0 };
  try {
    for (;;) {
      throwIfAborted(signal);
      const batch = await nextBatch(channel, ctx.replyTimeoutMs);
      throwIfAborted(signal);
      const done = visitReplies(batch, seq, channel.portId, plan.context, dumpStats, visit, datagram);
      yield;
      if (done) break;
    }
    if (later !== undefined) {
      for (let i = 0; i < later.length; i++) {
        accept(later[i], 0, later[i].length);
        if (i % LATER_RUN === LATER_RUN - 1) {
          yield;
          throwIfAborted(signal);
        }
      }
      if (later.length % LATER_RUN !== 0) yield;
    }
  } finally {
    stats.foreignDropped += dumpStats.foreignDropped;
    if (dumpStats.interrupted) stats.interrupted = true;
  }
}
