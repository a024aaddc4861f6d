/**
 * inet_diag: requests for and replies about TCP, UDP, UDP-Lite, raw, MPTCP, SCTP and
 * DCCP sockets over IPv4 and IPv6.
 * @module
 */
import { align4, NLA_HDRLEN, RawAttribute } from '../../netlink/attributes';
import { encodeMessage } from '../../netlink/fixed-message';
import { encodeStruct, StructInput } from '../../netlink/struct';
import { AF, IPPROTO, SOCK_DIAG_BY_FAMILY, TCPDIAG_GETSOCK } from '../constants';
import { requestMessage } from '../request';
import type { BaseSocket } from '../common/socket';
import { inetDiagAttributes, InetDiagAttributes, InetEndpoint, INET_DIAG_REQ, INET_DIAG_EXT, InetExtension } from './attributes';
import { inetDiagMsg, inetDiagReq, inetDiagReqV2, inetDiagSockid } from './structs';
import { InetSocketView, readInetMessage, type InetTimer } from './view';
import type { TcpInfo } from './tcp-info';
import type { MptcpInfo } from './mptcp-info';
import { NLM_F } from '../../netlink/message';

export * from './structs';
export * from './tcp-info';
export * from './mptcp-info';
export * from './attributes';
export * from './view';
export { formatIPv4, formatIPv6, parseAddressInto } from './address';

/** Fields of every inet socket. Attribute fields are present when the kernel sent them. */
export interface InetSocketFields extends BaseSocket, Omit<InetDiagAttributes, 'info'> {
  family: 'inet' | 'inet6';
  /** Local address and port. */
  local: InetEndpoint;
  /** Remote address and port (`0.0.0.0`/`::` and 0 when not connected). */
  remote: InetEndpoint;
  /** Interface index the socket is bound to (0 = any). */
  interface: number;
  /** The pending timer, or undefined when none runs. */
  timer: InetTimer | undefined;
}

/** A TCP socket. `info` is `struct tcp_info` (`ss -i`). */
export interface TcpSocket extends InetSocketFields {
  protocol: 'tcp';
  info?: TcpInfo;
}

/** An MPTCP socket (`ss -M`). `info` is `struct mptcp_info`. */
export interface MptcpSocket extends InetSocketFields {
  protocol: 'mptcp';
  info?: MptcpInfo;
}

/** A UDP, UDP-Lite, raw, SCTP or DCCP socket. `info`, if sent, is kept raw. Recv-Q/Send-Q of UDP count memory, as in ss. */
export interface OtherInetSocket extends InetSocketFields {
  protocol: 'udp' | 'udplite' | 'raw' | 'sctp' | 'dccp';
  info?: Buffer;
}

/** Any inet socket. */
export type InetSocket = TcpSocket | MptcpSocket | OtherInetSocket;

/** Options of {@link encodeInetRequest}. */
export interface InetRequestOptions {
  /** AF_INET (2) or AF_INET6 (10). */
  family: number;
  /** IPPROTO_* number; above 255 (MPTCP) it goes in INET_DIAG_REQ_PROTOCOL. */
  protocol: number;
  /** Bit mask of states (1 << state). */
  states: number;
  /** Extensions to ask for (default: all eight `idiag_ext` bits). */
  extensions?: readonly InetExtension[];
  /** Compiled filter (`INET_DIAG_REQ_BYTECODE`). */
  bytecode?: Buffer;
  /** For raw sockets: the raw protocol to match (`sdiag_raw_protocol`); 255 = IPPROTO_RAW. */
  rawProtocol?: number;
  /** The socket to name (`id`), for requests about one socket (SOCK_DESTROY, a get); default all zeros, as dumps send. */
  id?: StructInput<typeof inetDiagSockid>;
  /** `nlmsg_type` (default SOCK_DIAG_BY_FAMILY; SOCK_DESTROY to destroy the socket named by `id`). */
  type?: number;
  /** `nlmsg_flags` (default NLM_F_REQUEST | NLM_F_DUMP). */
  flags?: number;
}

/** Bit mask for a list of extensions. */
export function extensionMask(extensions: readonly InetExtension[] | undefined): number {
  if (extensions === undefined) return 0xff;
  let m = 0;
  for (const e of extensions) m |= INET_DIAG_EXT[e];
  return m;
}

// Where `struct inet_diag_sockid` starts inside inet_diag_req_v2.
const REQ_ID_OFFSET = inetDiagReqV2.fields.find((f) => f.orig === 'id.idiag_sport')!.offset;

/**
 * A whole `SOCK_DIAG_BY_FAMILY` dump request for one inet (family, protocol), sized
 * first and written once: header, `inet_diag_req_v2`, then request attributes. With `id`,
 * `type` and `flags` it is a request about one socket instead (SOCK_DESTROY, or a get).
 */
export function encodeInetRequest(opts: InetRequestOptions): Buffer {
  const reqSize = inetDiagReqV2.size;
  const wide = opts.protocol > 255;
  const bc = opts.bytecode;
  const attrsLen = (wide ? align4(NLA_HDRLEN + 4) : 0) + (bc ? align4(NLA_HDRLEN + bc.length) : 0);
  return requestMessage(reqSize + attrsLen, (b, off) => {
    encodeStruct(inetDiagReqV2, {
      family: opts.family,
      protocol: wide ? 0 : opts.protocol,
      ext: extensionMask(opts.extensions),
      rawProtocol: opts.protocol === IPPROTO.RAW ? (opts.rawProtocol ?? IPPROTO.RAW) : 0,
      states: opts.states >>> 0,
    }, b, off);
    if (opts.id) encodeStruct(inetDiagSockid, opts.id, b, off + REQ_ID_OFFSET);
    let at = off + reqSize;
    if (bc) at = writeBytecode(b, at, bc);
    if (wide) {
      b.writeUInt16LE(NLA_HDRLEN + 4, at);
      b.writeUInt16LE(INET_DIAG_REQ.PROTOCOL, at + 2);
      b.writeUInt32LE(opts.protocol, at + NLA_HDRLEN);
    }
  }, opts.type ?? SOCK_DIAG_BY_FAMILY, opts.flags ?? NLM_F.REQUEST | NLM_F.DUMP);
}

/**
 * A TCPDIAG_GETSOCK dump of TCP sockets of both families in one walk of the kernel's
 * tables (a SOCK_DIAG_BY_FAMILY request names one family, so both need two walks). Replies
 * are ordinary inet_diag messages, in the kernel's hash order with the families mixed.
 * Takes the same state mask, extensions and bytecode as {@link encodeInetRequest}.
 */
export function encodeTcpBothFamiliesRequest(opts: Pick<InetRequestOptions, 'states' | 'extensions' | 'bytecode'>): Buffer {
  const bc = opts.bytecode;
  const attrsLen = bc ? align4(NLA_HDRLEN + bc.length) : 0;
  return requestMessage(inetDiagReq.size + attrsLen, (b, off) => {
    encodeStruct(inetDiagReq, { family: AF.UNSPEC, ext: extensionMask(opts.extensions), states: opts.states >>> 0 }, b, off);
    if (bc) writeBytecode(b, off + inetDiagReq.size, bc);
  }, TCPDIAG_GETSOCK);
}

/** Writes the INET_DIAG_REQ_BYTECODE attribute at `at`; returns where the next one goes. */
function writeBytecode(b: Buffer, at: number, bc: Buffer): number {
  b.writeUInt16LE(NLA_HDRLEN + bc.length, at);
  b.writeUInt16LE(INET_DIAG_REQ.BYTECODE, at + 2);
  bc.copy(b, at + NLA_HDRLEN);
  return at + align4(NLA_HDRLEN + bc.length);
}

/**
 * Decodes one inet reply message (`off` at its nlmsghdr, `len` = nlmsg_len) into an
 * {@link InetSocketView}. `protocol` is the request's IPPROTO number, or -1 to take it from
 * INET_DIAG_PROTOCOL (events). Throws {@link DecodeError} on malformed bytes.
 */
export function decodeInetMessage(b: Buffer, off: number, len: number, protocol: number): InetSocket {
  return new InetSocketView(readInetMessage(b, off, len, protocol)) as unknown as InetSocket;
}

/** What {@link encodeInetMessage} writes: the fixed `inet_diag_msg` fields and the attributes. */
export interface InetMessageInput {
  msg: StructInput<typeof inetDiagMsg>;
  attrs?: InetDiagAttributes & { unknown?: RawAttribute[] };
  /** nlmsg_flags (default NLM_F_MULTI) and seq/pid of the header. */
  flags?: number;
  seq?: number;
  pid?: number;
}

/**
 * Encodes one inet reply message as the kernel sends it (header, `inet_diag_msg`,
 * attributes) from the same tables the decoder uses: the inverse of {@link decodeInetMessage},
 * used for fixtures, replay and round-trip tests.
 */
export function encodeInetMessage(input: InetMessageInput): Buffer {
  const header = { type: SOCK_DIAG_BY_FAMILY, flags: input.flags ?? NLM_F.MULTI, seq: input.seq ?? 0, pid: input.pid ?? 0 };
  return encodeMessage(header, inetDiagMsg, input.msg, inetDiagAttributes, (input.attrs ?? {}) as Record<string, unknown>);
}
