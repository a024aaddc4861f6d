/**
 * unix_diag: requests for and replies about AF_UNIX sockets (`ss -x`).
 * @module
 */
import { DecodeError } from '../../errors';
import { decodeAttributes, align4, AttrContext, RawAttribute } from '../../netlink/attributes';
import { NLM_F } from '../../netlink/message';
import { checkMessage, encodeMessage, ReplyHeaderOptions, FamilyCheck } from '../../netlink/fixed-message';
import { fieldAt } from '../../netlink/offsets';
import { encodeStruct } from '../../netlink/struct';
import { AF, ALL_STATES_MASK, SOCK_DIAG_BY_FAMILY, STATE_NUMBERS, SocketState, stateName, stateMask } from '../constants';
import type { BaseSocket } from '../common/socket';
import type { SkMeminfo } from '../common/skmeminfo';
import { requestMessage } from '../request';
import { unixAttributes, unixDiagMsg, unixDiagReq, UnixAttributes, UnixDiagRqlen, UnixDiagVfs, UDIAG_SHOW_ALL } from './tables';

export * from './tables';

/** Socket types a unix socket can have; `'unknown'` for a number outside them. */
export type UnixSocketType = 'stream' | 'dgram' | 'seqpacket' | 'unknown';

/** An AF_UNIX socket. Attribute fields are undefined when the kernel did not send them. */
export interface UnixSocket extends BaseSocket {
  protocol: 'unix';
  family: 'unix';
  /** `SOCK_STREAM`, `SOCK_DGRAM` or `SOCK_SEQPACKET` (`u_str`, `u_dgr`, `u_seq` in `ss`). */
  type: UnixSocketType;
  /**
   * Owner's uid (`UNIX_DIAG_UID`, Linux 5.3+); undefined on older kernels or when not asked.
   */
  uid: number | undefined;
  /**
   * Recv-Q as `ss` shows it, from `UNIX_DIAG_RQLEN` `rqueue` (0 without it): for a listener the
   * number of connections waiting to be accepted, else bytes waiting to be read (datagram
   * sockets: the size of the first queued datagram).
   */
  recvQ: number;
  /**
   * Send-Q as `ss` shows it, from `UNIX_DIAG_RQLEN` `wqueue` (0 without it): for a listener
   * the backlog limit, else bytes of memory held by data sent and not yet read by the peer.
   */
  sendQ: number;
  /**
   * Bound name (`UNIX_DIAG_NAME`) as `ss` prints it: a path, or `'@'` + the name for an abstract
   * socket (NULs inside shown as `'@'`); undefined for an unnamed socket.
   */
  path: string | undefined;
  /** Inode of the connected peer (`UNIX_DIAG_PEER`); undefined when not connected. */
  peerInode: number | undefined;
  /** The file a path-bound socket is bound to (`UNIX_DIAG_VFS`). */
  vfs: UnixDiagVfs | undefined;
  /** Listening sockets: inodes of the connections waiting to be accepted (`UNIX_DIAG_ICONS`). */
  icons: number[] | undefined;
  /** Raw queue lengths (`UNIX_DIAG_RQLEN`), the source of {@link UnixSocket.recvQ} and {@link UnixSocket.sendQ}. */
  rqlen: UnixDiagRqlen | undefined;
  /** Shutdown mask (`UNIX_DIAG_SHUTDOWN`): `UNIX_SHUTDOWN.RCV` (1) | `UNIX_SHUTDOWN.SEND` (2). */
  shutdown: number | undefined;
  /** Socket memory in bytes (`UNIX_DIAG_MEMINFO`, `ss -m` skmem). */
  meminfo: SkMeminfo | undefined;
}

// Every attribute lands on the socket property of the same name, with a type the
// interface accepts: this line stops compiling if the table and the interface drift apart.
const attributesFitSocket: (a: Required<UnixAttributes>) => Pick<UnixSocket, keyof UnixAttributes> = (a) => a;
void attributesFitSocket;

const UNIX_TYPES: readonly UnixSocketType[] = ['unknown', 'stream', 'dgram', 'unknown', 'unknown', 'seqpacket'];
const TYPE_NUMBERS: Readonly<Record<UnixSocketType, number>> = { unknown: 0, stream: 1, dgram: 2, seqpacket: 5 };

const O_FAMILY = fieldAt(unixDiagMsg, 'family', 'u8');
const FAMILY: FamilyCheck = { offset: O_FAMILY, af: AF.UNIX, names: ['udiag_family', 'AF_UNIX'] };
const O_TYPE = fieldAt(unixDiagMsg, 'type', 'u8');
const O_STATE = fieldAt(unixDiagMsg, 'state', 'u8');
const O_INODE = fieldAt(unixDiagMsg, 'inode', 'u32');
const O_COOKIE = fieldAt(unixDiagMsg, 'cookie', 'u64');
const ATTRS_AT = align4(unixDiagMsg.size);
const CTX: AttrContext = { family: AF.UNIX, protocol: 0 };

/**
 * Decodes one unix_diag reply. `off` is the start of the netlink message (its `nlmsghdr`)
 * inside `b` and `len` its `nlmsg_len`; nothing outside `[off, off + len)` is read.
 * Throws {@link DecodeError} on malformed or truncated bytes, or when the message is not AF_UNIX.
 */
export function decodeUnixMessage(b: Buffer, off: number, len: number): UnixSocket {
  const p = checkMessage(b, off, len, unixDiagMsg.size, unixDiagMsg.name, FAMILY);
  const s: UnixSocket = {
    protocol: 'unix',
    family: 'unix',
    state: stateName(b[p + O_STATE]),
    inode: b.readUInt32LE(p + O_INODE),
    uid: undefined,
    cookie: b.readBigUInt64LE(p + O_COOKIE),
    recvQ: 0,
    sendQ: 0,
    unknown: undefined,
    processes: undefined,
    type: UNIX_TYPES[b[p + O_TYPE]] ?? 'unknown',
    path: undefined,
    peerInode: undefined,
    vfs: undefined,
    icons: undefined,
    rqlen: undefined,
    shutdown: undefined,
    meminfo: undefined,
  };
  decodeAttributes(unixAttributes, b, p + ATTRS_AT, off + len, s as unknown as Record<string, unknown>, CTX);
  const rq = s.rqlen;
  if (rq !== undefined) {
    s.recvQ = rq.rqueue;
    s.sendQ = rq.wqueue;
  }
  return s;
}

/** Options of {@link encodeUnixRequest}. */
export interface UnixRequestOptions {
  /** States to dump: a bit mask (`1 << state number`) or state names; default all. */
  states?: number | readonly SocketState[];
  /** `UDIAG_SHOW_*` bits (see {@link UDIAG_SHOW}); default all of them ({@link UDIAG_SHOW_ALL}). */
  show?: number;
}

function showMask(show: number | undefined, all: number): number {
  if (show === undefined) return all;
  if (!Number.isInteger(show) || show < 0 || show > 0xffffffff) throw new RangeError(`show mask out of range: ${show}`);
  return show;
}

/** A `SOCK_DIAG_BY_FAMILY` dump request (`NLM_F_REQUEST | NLM_F_DUMP`, seq 0) for unix sockets. */
export function encodeUnixRequest(opts: UnixRequestOptions = {}): Buffer {
  const states = opts.states === undefined ? ALL_STATES_MASK : stateMask(opts.states);
  const show = showMask(opts.show, UDIAG_SHOW_ALL);
  return requestMessage(unixDiagReq.size, (b, o) => encodeStruct(unixDiagReq, { family: AF.UNIX, states, show }, b, o));
}

/** `INET_DIAG_NOCOOKIE` (both cookie words all ones): match any cookie. */
export const UDIAG_NO_COOKIE = 0xffffffffffffffffn;

/** Options of {@link encodeUnixGetRequest}. */
export interface UnixGetRequestOptions {
  /** Inode of the socket (`udiag_ino`). */
  inode: number;
  /**
   * Its cookie (`udiag_cookie`): the kernel answers `ESTALE` when the socket now at that
   * inode has another cookie. Default {@link UDIAG_NO_COOKIE} (no check).
   */
  cookie?: bigint;
  /** `UDIAG_SHOW_*` bits; default all of them. */
  show?: number;
}

/**
 * A request for one unix socket by inode (and cookie): `NLM_F_REQUEST` without `NLM_F_DUMP`,
 * answered by one message (or an `NLMSG_ERROR`: `ENOENT` when no socket has that inode).
 */
export function encodeUnixGetRequest(opts: UnixGetRequestOptions): Buffer {
  const { inode } = opts;
  if (!Number.isInteger(inode) || inode <= 0 || inode > 0xffffffff) throw new RangeError(`inode out of range: ${inode}`);
  const cookie = opts.cookie ?? UDIAG_NO_COOKIE;
  if (typeof cookie !== 'bigint' || cookie < 0n || cookie > UDIAG_NO_COOKIE) throw new RangeError(`cookie out of range: ${String(cookie)}`);
  const show = showMask(opts.show, UDIAG_SHOW_ALL);
  return requestMessage(
    unixDiagReq.size,
    (b, o) => encodeStruct(unixDiagReq, { family: AF.UNIX, states: ALL_STATES_MASK, inode, show, cookie }, b, o),
    SOCK_DIAG_BY_FAMILY,
    NLM_F.REQUEST,
  );
}

/** What {@link encodeUnixMessage} writes: a decoded {@link UnixSocket} fits (derived fields are ignored). */
export type UnixMessageInput = Partial<Pick<UnixSocket, 'type' | 'state' | 'inode' | 'cookie'>> & UnixAttributes & { unknown?: RawAttribute[] };

/**
 * Encodes a unix_diag reply the way the kernel does (header, `unix_diag_msg`, attributes in
 * table order, then `unknown` ones): for fixtures and fake channels. `recvQ`/`sendQ` are
 * derived on decode and not written; set `rqlen` instead.
 */
export function encodeUnixMessage(s: UnixMessageInput, header: ReplyHeaderOptions = {}): Buffer {
  return encodeMessage(
    { ...header, type: SOCK_DIAG_BY_FAMILY },
    unixDiagMsg,
    {
      family: AF.UNIX,
      type: s.type === undefined ? 0 : TYPE_NUMBERS[s.type],
      state: s.state === undefined ? 0 : STATE_NUMBERS[s.state],
      inode: s.inode ?? 0,
      cookie: s.cookie ?? 0n,
    },
    unixAttributes,
    s as Record<string, unknown>,
  );
}
