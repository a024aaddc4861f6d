/**
 * Raw dumps (`ss -D FILE`): the reply datagrams of a listing exactly as the kernel sent
 * them, and {@link decodeDump}, which reads such bytes (written by us or by `ss -D`) back
 * into the same {@link Socket} objects {@link listSockets} returns.
 *
 * The file format is ss's: the netlink messages of each dump back to back, every dump
 * ending with its `NLMSG_DONE`, IPv4 before IPv6. What ss leaves implicit we record in
 * the one header field it ignores: the kernel copies a request's `nlmsg_seq` into every
 * reply, so our requests carry a sequence number whose high half is {@link RAW_SEQ_TAG}
 * and whose low half names the protocol answered. A file therefore says, message by
 * message, whether it holds TCP, UDP, unix… sockets, while staying byte-compatible with
 * ss (which reads `TCPDIAG_FILE` without looking at sequence numbers).
 * @module
 */
import { statusError } from '../netlink/channel';
import { NLMSG, NLM_F, NLMSG_HDRLEN, forEachMessage, decodeStatus } from '../netlink/message';
import { NLA_HDRLEN, findAttribute } from '../netlink/attributes';
import { DecodeError } from '../errors';
import { AF, IPPROTO, ProtocolName, SOCK_DIAG_BY_FAMILY } from '../diag/constants';
import type { DumpPlan } from '../diag/registry';
import { decodeInetMessage, inetDiagAttributes, inetDiagMsg, INET_PROTOCOLS, InetProtocolName } from '../diag/inet';
import type { Socket } from '../diag/socket';
import type { ListOptions, ListingStats } from './options';
import type { SocketList } from './list';
import { newEngineStats, rawDatagrams, rawSequence, RAW_SEQ_TAG, type EngineStats } from '../engine';
import { kindOfFamily, kindOfRawTag } from '../diag/registry';

export { RAW_SEQ_TAG, rawSequence };

/** Legacy inet_diag reply types (`TCPDIAG_GETSOCK`, `DCCPDIAG_GETSOCK`): the type names the protocol. */
const TCPDIAG_GETSOCK = 18;
const DCCPDIAG_GETSOCK = 19;

/** Counters of a raw dump (a {@link ListingStats} whose `duplicatesDropped` stays 0: raw bytes keep them). */
export type RawDumpStats = EngineStats;

/** The datagrams of a raw dump, with the dump's counters. */
export interface RawDumpStream extends AsyncIterable<Buffer> {
  /** Counters so far (final once iteration has ended). */
  readonly stats: RawDumpStats;
}

/**
 * The reply datagrams of a listing, as the kernel sent them: what `ss -D FILE` writes.
 * Writing them one after another to a file gives a file `ss` reads back
 * (`TCPDIAG_FILE=FILE ss -tan`; note that ss stops at the first `NLMSG_DONE`, so it shows
 * the first dump, IPv4 TCP, of such a file, including one written by `ss -D` itself) and
 * that {@link decodeDump} turns into the same sockets as {@link listSockets} with the same
 * options. Every option of a listing applies except `processes` (a `TypeError`: owners are
 * not in the kernel's bytes). Duplicates of a non-atomic dump are kept (decodeDump drops
 * them); messages that fail the part of a filter the kernel cannot run are cut out.
 *
 * @example
 * ```ts
 * const out = fs.createWriteStream('tcp.dump');
 * for await (const datagram of rawDump({ protocols: ['tcp'] })) out.write(datagram);
 * out.end();
 * ```
 */
export function rawDump(opts: ListOptions = {}): RawDumpStream {
  const stats = newEngineStats();
  return {
    stats,
    async *[Symbol.asyncIterator]() {
      for await (const d of rawDatagrams(opts, stats)) yield d.data;
    },
  };
}

// ---------------------------------------------------------------------------------------
// Decoding dumps.

/** Options of {@link decodeDump}. */
export interface DecodeDumpOptions {
  /**
   * The inet protocol of messages that do not say which they are (default `'tcp'`, what
   * `ss -D` writes). A message's own `INET_DIAG_PROTOCOL` attribute, a legacy TCPDIAG
   * reply type, or rawDump's sequence tag take precedence.
   */
  protocol?: InetProtocolName;
}

const MSG_SIZE = inetDiagMsg.size;
const INET_DIAG_PROTOCOL = inetDiagAttributes.byName.get('protocolNumber')!.type;

/** INET_DIAG_PROTOCOL of a message, or -1; a malformed attribute list is left to the decoder to report. */
function protocolAttribute(b: Buffer, off: number, end: number): number {
  const at = findAttribute(b, off, end, INET_DIAG_PROTOCOL);
  return at >= 0 && b.readUInt16LE(at) > NLA_HDRLEN ? b[at + NLA_HDRLEN] : -1;
}

type Decoder = (b: Buffer, off: number, len: number) => Socket | undefined;

/** Decodes one data message of a dump file (header at `off`). */
function decodeMessage(b: Buffer, off: number, len: number, type: number, seq: number, hint: number): Socket | undefined {
  const tag = seq >>> 16 === RAW_SEQ_TAG ? seq & 0xffff : -1;
  // TIPC replies have no family byte: only the tag can say what they are.
  const tagged = tag >= 0 ? kindOfRawTag(tag) : undefined;
  if (tagged !== undefined && tagged.family !== 'inet') return tagged.codec().decode(b, off, len);
  if (len < NLMSG_HDRLEN + 1) throw new DecodeError(`sock_diag reply of ${len} bytes has no family`, off, 'sock_diag');
  const af = b[off + NLMSG_HDRLEN];
  if (af === AF.INET || af === AF.INET6) {
    let protocol: number;
    if (type === TCPDIAG_GETSOCK) protocol = IPPROTO.TCP;
    else if (type === DCCPDIAG_GETSOCK) protocol = IPPROTO.DCCP;
    else {
      const end = off + len;
      protocol = end - off >= NLMSG_HDRLEN + MSG_SIZE ? protocolAttribute(b, off + NLMSG_HDRLEN + MSG_SIZE, end) : -1;
      if (protocol < 0) protocol = tagged?.family === 'inet' ? tag : hint;
    }
    return decodeInetMessage(b, off, len, protocol) as Socket;
  }
  const decode = kindOfFamily(af)?.codec().decode;
  if (decode === undefined) throw new DecodeError(`address family ${af} has no sock_diag decoder`, off + NLMSG_HDRLEN, 'sock_diag');
  return decode(b, off, len);
}

/**
 * Reads raw dump bytes (what {@link rawDump} yields or `ss -D FILE` writes: netlink
 * messages back to back, each dump ending with `NLMSG_DONE`) into the same {@link Socket}
 * objects {@link listSockets} gives, in order, duplicates (by cookie) dropped and counted.
 * Works anywhere: nothing here touches the kernel. Inet sockets keep a reference to
 * `buffer` (their attributes are decoded on first use), so do not reuse it.
 *
 * Throws {@link DecodeError} when the bytes are not such a file or are cut short (a dump
 * must end with `NLMSG_DONE`), and the recorded error as a
 * {@link SockdiagSystemError} when the dump itself failed (an `NLMSG_ERROR` reply).
 */
export function decodeDump(buffer: Uint8Array, opts: DecodeDumpOptions = {}): SocketList {
  if (!(buffer instanceof Uint8Array)) throw new TypeError('decodeDump needs a Buffer or Uint8Array');
  let hint: number = IPPROTO.TCP;
  if (opts.protocol !== undefined) {
    if (!Object.prototype.hasOwnProperty.call(INET_PROTOCOLS, opts.protocol)) throw new TypeError(`protocol must be an inet protocol name, got ${String(opts.protocol)}`);
    hint = INET_PROTOCOLS[opts.protocol];
  }
  const b = Buffer.isBuffer(buffer) ? buffer : Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const stats: ListingStats = { interrupted: false, duplicatesDropped: 0, unsupported: [] };
  const out: Socket[] = [];
  const seen = new Set<bigint>();
  let ended = false;
  forEachMessage(
    b,
    0,
    b.length,
    (off, h) => {
      ended = false;
      if (h.flags & NLM_F.DUMP_INTR) stats.interrupted = true;
      if (h.type === NLMSG.DONE || h.type === NLMSG.ERROR) {
        const status = decodeStatus(b, off, h.len, h.type, h.flags);
        if (status.error < 0) throw statusError(status.error, { operation: 'dump' }, status.message);
        ended = h.type === NLMSG.DONE;
      } else if (h.type === SOCK_DIAG_BY_FAMILY || h.type === TCPDIAG_GETSOCK || h.type === DCCPDIAG_GETSOCK) {
        const s = decodeMessage(b, off, h.len, h.type, h.seq, hint);
        if (s !== undefined) {
          if (seen.has(s.cookie)) stats.duplicatesDropped++;
          else {
            seen.add(s.cookie);
            out.push(s);
          }
        }
      } else if (h.type !== NLMSG.NOOP && h.type !== NLMSG.OVERRUN) {
        throw new DecodeError(`message type ${h.type} is not a sock_diag reply`, off, 'nlmsghdr');
      }
    },
    true,
  );
  if (!ended) throw new DecodeError('the dump does not end with NLMSG_DONE: it is cut short or empty', b.length, 'nlmsghdr');
  return Object.assign(out, stats);
}
