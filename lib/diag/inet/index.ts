/**
 * inet_diag: requests for and replies about TCP, UDP, UDP-Lite, raw, MPTCP, SCTP and
 * DCCP sockets over IPv4 and IPv6.
 * @module
 */
import { decodeAttributes, AttrContext, align4, NLA_HDRLEN } from '../../netlink/attributes';
import { DecodeError } from '../../errors';
import { NLMSG_HDRLEN } from '../../netlink/message';
import { encodeStruct } from '../../netlink/struct';
import { AF, IPPROTO, stateName, SOCK_DIAG_BY_FAMILY } from '../constants';
import { requestMessage } from '../request';
import type { BaseSocket } from '../common/socket';
import { formatIPv4, formatIPv6 } from './address';
import { inetDiagAttributes, InetDiagAttributes, InetEndpoint, INET_DIAG_REQ, INET_DIAG_EXT, InetExtension } from './attributes';
import { inetDiagMsg, inetDiagReqV2 } from './structs';
import type { TcpInfo } from './tcp-info';
import type { MptcpInfo } from './mptcp-info';
import { NLM_F } from '../../netlink/message';

export * from './structs';
export * from './tcp-info';
export * from './mptcp-info';
export * from './attributes';
export { formatIPv4, formatIPv6, parseAddressInto } from './address';

/** The inet protocols sock_diag knows, by the names sockets carry. */
export type InetProtocolName = 'tcp' | 'udp' | 'udplite' | 'raw' | 'mptcp' | 'sctp' | 'dccp';

/** IPPROTO number of each inet protocol name. */
export const INET_PROTOCOLS: Readonly<Record<InetProtocolName, number>> = {
  tcp: IPPROTO.TCP,
  udp: IPPROTO.UDP,
  udplite: IPPROTO.UDPLITE,
  raw: IPPROTO.RAW,
  mptcp: IPPROTO.MPTCP,
  sctp: IPPROTO.SCTP,
  dccp: IPPROTO.DCCP,
};

const PROTOCOL_BY_NUMBER: Readonly<Record<number, InetProtocolName>> = Object.fromEntries(
  Object.entries(INET_PROTOCOLS).map(([k, v]) => [v, k]),
) as Record<number, InetProtocolName>;

/** Names of `idiag_timer` values, as `ss -o` prints them. */
export const TIMER_NAMES = ['off', 'on', 'keepalive', 'timewait', 'persist', 'unknown'] as const;

/** A pending socket timer (`ss -o` `timer:(name,expires,retrans)`). */
export interface InetTimer {
  /** Which timer: retransmit (`on`), `keepalive`, `timewait`, zero-window probe (`persist`). */
  name: (typeof TIMER_NAMES)[number];
  /** Time until it fires, in milliseconds (idiag_expires). */
  expiresMs: number;
  /** Retransmits or probes so far (idiag_retrans). */
  retransmits: number;
}

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
}

/** Bit mask for a list of extensions. */
export function extensionMask(extensions: readonly InetExtension[] | undefined): number {
  if (extensions === undefined) return 0xff;
  let m = 0;
  for (const e of extensions) m |= INET_DIAG_EXT[e];
  return m;
}

/**
 * A whole `SOCK_DIAG_BY_FAMILY` dump request for one inet (family, protocol), sized
 * first and written once: header, `inet_diag_req_v2`, then request attributes.
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
    let at = off + reqSize;
    if (bc) {
      b.writeUInt16LE(NLA_HDRLEN + bc.length, at);
      b.writeUInt16LE(INET_DIAG_REQ.BYTECODE, at + 2);
      bc.copy(b, at + NLA_HDRLEN);
      at += align4(NLA_HDRLEN + bc.length);
    }
    if (wide) {
      b.writeUInt16LE(NLA_HDRLEN + 4, at);
      b.writeUInt16LE(INET_DIAG_REQ.PROTOCOL, at + 2);
      b.writeUInt32LE(opts.protocol, at + NLA_HDRLEN);
    }
  }, SOCK_DIAG_BY_FAMILY, NLM_F.REQUEST | NLM_F.DUMP);
}

// Offsets of the fields read on the hot path, from the table (so there is one source).
const M = Object.fromEntries(inetDiagMsg.fields.map((f) => [f.name, f.offset])) as Record<(typeof inetDiagMsg.fields)[number]['name'], number>;
const MSG_SIZE = inetDiagMsg.size;
const INET_DIAG_PROTOCOL = 10;

/** Finds INET_DIAG_PROTOCOL among the attributes (events carry it; dumps know it from the request). */
function protocolAttribute(b: Buffer, off: number, end: number): number | undefined {
  while (off + NLA_HDRLEN <= end) {
    const len = b.readUInt16LE(off);
    if (len < NLA_HDRLEN) return undefined;
    if ((b.readUInt16LE(off + 2) & 0x3fff) === INET_DIAG_PROTOCOL && len >= NLA_HDRLEN + 1 && off + len <= end) return b[off + NLA_HDRLEN];
    off += align4(len);
  }
  return undefined;
}

/**
 * Decodes one inet reply message (`off` at its nlmsghdr, `len` = nlmsg_len). `protocol` is
 * the request's IPPROTO number, or -1 to take it from INET_DIAG_PROTOCOL (events).
 * Throws {@link DecodeError} on malformed bytes.
 */
export function decodeInetMessage(b: Buffer, off: number, len: number, protocol: number): InetSocket {
  const o = off + NLMSG_HDRLEN;
  const end = off + len;
  if (end - o < MSG_SIZE) throw new DecodeError(`inet_diag_msg needs ${MSG_SIZE} bytes, got ${end - o}`, o, 'inet_diag_msg');
  const af = b[o + M.family];
  let v6: boolean;
  if (af === AF.INET) v6 = false;
  else if (af === AF.INET6) v6 = true;
  else throw new DecodeError(`idiag_family ${af} is not AF_INET or AF_INET6`, o, 'inet_diag_msg');
  const attrStart = o + MSG_SIZE;
  if (protocol < 0) protocol = protocolAttribute(b, attrStart, end) ?? 0;
  const timer = b[o + M.timer];
  // One literal with every property, so all sockets share one hidden class.
  const s: Record<string, unknown> = {
    protocol: PROTOCOL_BY_NUMBER[protocol] ?? 'raw',
    family: v6 ? 'inet6' : 'inet',
    state: stateName(b[o + M.state]),
    inode: b.readUInt32LE(o + M.inode),
    uid: b.readUInt32LE(o + M.uid),
    cookie: b.readBigUInt64LE(o + M.cookie),
    recvQ: b.readUInt32LE(o + M.rqueue),
    sendQ: b.readUInt32LE(o + M.wqueue),
    local: { address: v6 ? formatIPv6(b, o + M.src) : formatIPv4(b, o + M.src), port: b.readUInt16BE(o + M.sport) },
    remote: { address: v6 ? formatIPv6(b, o + M.dst) : formatIPv4(b, o + M.dst), port: b.readUInt16BE(o + M.dport) },
    interface: b.readUInt32LE(o + M.ifindex),
    timer: timer === 0 ? undefined : { name: TIMER_NAMES[timer] ?? 'unknown', expiresMs: b.readUInt32LE(o + M.expires), retransmits: b[o + M.retrans] },
    meminfo: undefined,
    info: undefined,
    vegas: undefined,
    cong: undefined,
    tos: undefined,
    tclass: undefined,
    skmem: undefined,
    shutdown: undefined,
    dctcp: undefined,
    protocolNumber: undefined,
    v6only: undefined,
    locals: undefined,
    peers: undefined,
    mark: undefined,
    bbr: undefined,
    classId: undefined,
    md5sig: undefined,
    ulp: undefined,
    bpfStorages: undefined,
    cgroupId: undefined,
    sockopt: undefined,
    unknown: undefined,
    processes: undefined,
  };
  ctx.family = af;
  ctx.protocol = protocol;
  decodeAttributes(inetDiagAttributes, b, attrStart, end, s, ctx);
  return s as unknown as InetSocket;
}

// Reused for every message: decoding is synchronous, so one context object is enough.
const ctx: AttrContext = { family: 0, protocol: 0 };
