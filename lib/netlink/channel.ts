/**
 * A typed channel over the native addon, and the dump loop: send one request, then
 * walk the reply datagrams frame by frame, checking sender, port id and sequence.
 * @module
 */
import { nativeBinding } from './binding';
import type { NativeChannel, NativeChannelOptions } from './addon';
import { SockdiagError, SockdiagSystemError, NotSupportedError, ErrorContext, fromNativeError, AbortError, DecodeError } from '../errors';
import { NLMSG, NLM_F, readHeader, decodeStatus, forEachMessage, NLMSG_HDRLEN, nlmsghdr } from './message';
import { fieldAt } from './offsets';
import { viewOf } from './struct';
import { withNetnsDetail } from './netns';

/** Where to open a channel: a name under /var/run/netns, a path, or a pid whose namespace to enter. */
export type NetnsRef = string | number;

/** Options of {@link Channel.open}. */
export interface ChannelOptions {
  /** Network namespace to open the socket in (default: the caller's). */
  netns?: NetnsRef;
  /** Netlink protocol (default NETLINK_SOCK_DIAG = 4). */
  protocol?: number;
  /** Multicast group mask to bind to, for events. */
  groups?: number;
  /** SO_RCVBUF in bytes. */
  rcvbuf?: number;
  /** Bytes offered to each receive (default 64 KiB); a datagram larger than this is an error. */
  recvSize?: number;
}

/** Resolves a {@link NetnsRef} to the path of a namespace file. */
export function netnsPath(ref: NetnsRef): string {
  if (typeof ref === 'number') {
    if (!Number.isInteger(ref) || ref <= 0) throw new TypeError(`netns pid must be a positive integer, got ${ref}`);
    return `/proc/${ref}/ns/net`;
  }
  if (typeof ref !== 'string' || ref === '') throw new TypeError('netns must be a namespace name, a path or a pid');
  return ref.includes('/') ? ref : `/var/run/netns/${ref}`;
}

/** One datagram as received: where it lies in `data`, and who sent it. */
export interface Datagrams {
  /** The batch's bytes; datagram i is `data[offsets[i], offsets[i] + lengths[i])`. */
  data: Buffer;
  offsets: number[];
  lengths: number[];
  /** Sender port id of each datagram; 0 is the kernel. */
  senders: number[];
  /** Multicast group mask of each datagram (0 for unicast replies). */
  groups: number[];
}

let nextSequence = (Date.now() & 0x3fffffff) >>> 0;

/**
 * A NETLINK_SOCK_DIAG socket. One dump at a time runs on a channel: the kernel
 * answers a second concurrent dump with EBUSY, so each concurrent dump opens its own.
 */
export class Channel {
  private readonly native: NativeChannel;
  private readonly context: ErrorContext;

  private constructor(native: NativeChannel, context: ErrorContext) {
    this.native = native;
    this.context = context;
  }

  /** Opens a channel; system errors (e.g. ENOENT for a missing namespace) come with `code`/`errno`/`syscall`. */
  static open(options: ChannelOptions = {}): Channel {
    const { Channel: Native } = nativeBinding();
    const nativeOptions: NativeChannelOptions = {};
    if (options.protocol !== undefined) nativeOptions.protocol = options.protocol;
    if (options.groups !== undefined) nativeOptions.groups = options.groups;
    if (options.rcvbuf !== undefined) nativeOptions.rcvbuf = options.rcvbuf;
    if (options.recvSize !== undefined) nativeOptions.recvSize = options.recvSize;
    if (options.netns !== undefined) nativeOptions.netns = netnsPath(options.netns);
    try {
      // Errors of later sends and reads are not about opening: they carry no operation.
      return new Channel(new Native(nativeOptions), {});
    } catch (err) {
      const e = fromNativeError(err, { operation: 'open' });
      // The addon names only the failed call: say which namespace, and what is wrong with it.
      throw options.netns === undefined || nativeOptions.netns === undefined ? e : withNetnsDetail(e, options.netns, String(nativeOptions.netns), { operation: 'open' });
    }
  }

  /** The socket's netlink port id (the kernel addresses replies to it). */
  get portId(): number {
    return this.native.portId;
  }

  /** True once {@link close} has run. */
  get closed(): boolean {
    return this.native.closed;
  }

  /** A fresh sequence number for the next request. */
  nextSeq(): number {
    nextSequence = (nextSequence + 1) >>> 0 || 1;
    return nextSequence;
  }

  /** Sends one request (whole netlink messages) to the kernel. */
  send(request: Uint8Array): void {
    try {
      this.native.send(request);
    } catch (err) {
      throw fromNativeError(err, this.context);
    }
  }

  /**
   * The next batch of datagrams, or null once the channel is closed. Not async on purpose:
   * a call on a closed channel throws at once instead of returning a rejected promise.
   */
  read(): Promise<Datagrams | null> {
    let pending;
    try {
      pending = this.native.read();
    } catch (err) {
      throw fromNativeError(err, this.context);
    }
    return pending.then(
      (batch) =>
        batch === null
          ? null
          : { data: Buffer.from(batch.data), offsets: batch.offsets, lengths: batch.lengths, senders: batch.senders, groups: batch.groups },
      (err: unknown) => {
        throw fromNativeError(err, this.context);
      },
    );
  }

  /** Closes the socket; a pending read settles with null. Safe to call twice. */
  close(): void {
    this.native.close();
  }
}

/** What a dump saw besides its messages. */
export interface DumpStats {
  /** Messages decoded. */
  messages: number;
  /** True when any message carried NLM_F_DUMP_INTR: the dump may be inconsistent. */
  interrupted: boolean;
  /** Datagrams or messages dropped because they were not the kernel's answer to this request. */
  foreignDropped: number;
}

/** What {@link runDump} needs of a channel (tests pass a fake one). */
export interface DumpChannel {
  readonly portId: number;
  nextSeq(): number;
  send(request: Uint8Array): void;
  read(): Promise<Datagrams | null>;
}

/** Decodes one message of a dump (its bytes start at `off`, header included). */
export type MessageDecoder<T> = (b: Buffer, off: number, len: number) => T | undefined;

const H_LEN = fieldAt(nlmsghdr, 'len', 'u32');
const H_TYPE = fieldAt(nlmsghdr, 'type', 'u16');
const H_FLAGS = fieldAt(nlmsghdr, 'flags', 'u16');
const H_SEQ = fieldAt(nlmsghdr, 'seq', 'u32');
const H_PID = fieldAt(nlmsghdr, 'pid', 'u32');

/**
 * Receives one message of a dump's reply: `off` at its nlmsghdr, `len` its nlmsg_len.
 * Returning false cuts the message out of its datagram (see {@link DatagramVisitor}).
 */
export type ReplyVisitor = (b: Buffer, off: number, len: number) => void | boolean;

/**
 * Receives each of the kernel's datagrams once its messages have been visited: `start` and
 * `end` bound it in `b`; `cut` lists the [from, to) byte ranges of the messages left out
 * (another request's, or refused by the message visitor), null when none was.
 */
export type DatagramVisitor = (b: Buffer, start: number, end: number, cut: Array<[number, number]> | null) => void;

/**
 * Hands each message of `batch` that is the kernel's answer to request `seq` to `visit`,
 * in order, reading the headers in place (no object per message: a 100k-socket dump has
 * 100k of them). Error replies (in NLMSG_ERROR or inside NLMSG_DONE) are thrown as
 * {@link SockdiagSystemError}s; returns true once NLMSG_DONE has been seen.
 */
export function visitReplies(batch: Datagrams, seq: number, portId: number, context: ErrorContext, stats: DumpStats, visit: ReplyVisitor, datagram?: DatagramVisitor): boolean {
  const b = batch.data;
  const dv = viewOf(b);
  let done = false;
  for (let i = 0; i < batch.offsets.length; i++) {
    if (batch.senders[i] !== 0) {
      stats.foreignDropped++;
      continue;
    }
    const start = batch.offsets[i];
    const end = start + batch.lengths[i];
    let cut: Array<[number, number]> | null = null;
    let off = start;
    while (off + NLMSG_HDRLEN <= end) {
      const len = dv.getUint32(off + H_LEN, true);
      if (len < NLMSG_HDRLEN || len > end - off) readHeader(b, off, end); // throws the DecodeError
      const next = off + ((len + 3) & ~3);
      let keep = true;
      const pid = dv.getUint32(off + H_PID, true);
      if (dv.getUint32(off + H_SEQ, true) !== seq || (pid !== portId && pid !== 0)) {
        stats.foreignDropped++;
        keep = false;
      } else {
        const type = dv.getUint16(off + H_TYPE, true);
        const flags = dv.getUint16(off + H_FLAGS, true);
        if (flags & NLM_F.DUMP_INTR) stats.interrupted = true;
        if (type === NLMSG.DONE || type === NLMSG.ERROR) {
          const status = decodeStatus(b, off, len, type, flags);
          if (status.error < 0) throw statusError(status.error, context, status.message);
          if (type === NLMSG.DONE) done = true;
        } else if (type !== NLMSG.NOOP && type !== NLMSG.OVERRUN) {
          stats.messages++;
          keep = visit(b, off, len) !== false;
        }
      }
      if (!keep && datagram) (cut ??= []).push([off, Math.min(end, next)]);
      off = next;
    }
    if (datagram) datagram(b, start, end, cut);
  }
  return done;
}

/**
 * Hands each message of the kernel's multicast datagrams in `batch` to `visit` with its type
 * and the group it was sent to (events: no request, no sequence). A datagram from anyone but
 * the kernel goes to `foreign`; a malformed one to `malformed` (with the {@link DecodeError}),
 * after the messages before the damage.
 */
export function visitEvents(
  batch: Datagrams,
  visit: (b: Buffer, off: number, len: number, type: number, group: number) => void,
  foreign: () => void,
  malformed: (err: unknown) => void,
): void {
  const b = batch.data;
  for (let i = 0; i < batch.offsets.length; i++) {
    if (batch.senders[i] !== 0) {
      foreign();
      continue;
    }
    const group = batch.groups[i];
    try {
      forEachMessage(b, batch.offsets[i], batch.offsets[i] + batch.lengths[i], (off, h) => visit(b, off, h.len, h.type, group));
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      malformed(err);
    }
  }
}

/** Sets the request's sequence number and sends it; returns the number. */
export function sendRequest(channel: DumpChannel, request: Buffer): number {
  const seq = channel.nextSeq();
  request.writeUInt32LE(seq, H_SEQ);
  channel.send(request);
  return seq;
}

/** The next batch of a dump; a channel closed meanwhile is an error. */
export async function readDumpBatch(channel: DumpChannel): Promise<Datagrams> {
  const batch = await channel.read();
  if (batch === null) throw new SockdiagError('The channel was closed during a dump', 'ERR_SOCKDIAG_CLOSED');
  return batch;
}

/**
 * Runs one dump on `channel`: sets the request's sequence number, sends it, and yields
 * the decoded messages batch by batch until NLMSG_DONE. An error reply (in NLMSG_ERROR or
 * inside NLMSG_DONE) is thrown as a {@link SockdiagSystemError} (ENOENT as
 * {@link NotSupportedError}); anything not from the kernel, or for another request, is dropped.
 */
export async function* runDump<T>(
  channel: DumpChannel,
  request: Buffer,
  decode: MessageDecoder<T>,
  context: ErrorContext,
  stats: DumpStats,
  signal?: AbortSignal,
): AsyncGenerator<T[], void, undefined> {
  const seq = sendRequest(channel, request);
  const portId = channel.portId;
  let out: T[] = [];
  const keep: ReplyVisitor = (b, off, len) => {
    const item = decode(b, off, len);
    if (item !== undefined) out.push(item);
  };
  for (;;) {
    if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
    const done = visitReplies(await readDumpBatch(channel), seq, portId, context, stats, keep);
    if (out.length > 0) yield out;
    out = [];
    if (done) return;
  }
}

/** The error for a negative status from the kernel. ENOENT on a dump means "no handler". */
export function statusError(error: number, context: ErrorContext, extack?: string): SockdiagSystemError {
  const syscall = 'recvmsg';
  // The kernel refuses a dump only when its filter program tests socket marks (inet_diag's audit).
  const detail = error === -1 && context.operation === 'dump' && extack === undefined ? 'a filter on the socket mark (fwmark) needs CAP_NET_ADMIN' : extack;
  const err = error === -2 && context.operation === 'dump' ? new NotSupportedError(error, syscall, context) : new SockdiagSystemError(error, syscall, context, detail);
  if (extack) err.extack = extack;
  return err;
}
