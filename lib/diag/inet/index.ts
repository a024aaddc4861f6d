/**
 * inet_diag: requests for and replies about TCP, UDP, UDP-Lite, raw, MPTCP, SCTP and
 * DCCP sockets over IPv4 and IPv6.
 * @module
 */
import { decodeAttributes, checkAttributes, align4, NLA_HDRLEN, RawAttribute } from '../../netlink/attributes';
import { DecodeError } from '../../errors';
import { checkMessage, encodeMessage, FamilyCheck } from '../../netlink/fixed-message';
import { encodeStruct, viewOf, StructInput } from '../../netlink/struct';
import { AF, IPPROTO, stateName, SOCK_DIAG_BY_FAMILY, TCPDIAG_GETSOCK } from '../constants';
import { requestMessage } from '../request';
import type { BaseSocket, SocketProcess } from '../common/socket';
import { formatIPv4, formatIPv6 } from './address';
import { inetDiagAttributes, InetDiagAttributes, InetEndpoint, INET_DIAG_REQ, INET_DIAG_EXT, InetExtension } from './attributes';
import { inetDiagMsg, inetDiagReq, inetDiagReqV2, inetDiagSockid } from './structs';
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

// Offsets of the fields read on the hot path, from the table (so there is one source).
const M = Object.fromEntries(inetDiagMsg.fields.map((f) => [f.name, f.offset])) as Record<(typeof inetDiagMsg.fields)[number]['name'], number>;
const MSG_SIZE = inetDiagMsg.size;
const FAMILY: FamilyCheck = { offset: M.family, af: [AF.INET, AF.INET6], names: ['idiag_family', 'AF_INET or AF_INET6'] };
const INET_DIAG_PROTOCOL = 10;

/**
 * An inet socket as decoded from one reply message. The fixed fields are read when the
 * message is decoded; the attribute fields (`info`, `skmem`, `cong`, …) are decoded from
 * the received bytes the first time one of them is read, then kept. At 100k sockets this
 * is what keeps a listing within a small multiple of the kernel's own cost: materialising
 * every `tcp_info` up front costs more in allocation than the whole dump.
 *
 * The attribute fields are accessors on the prototype, so object spread and `Object.keys`
 * see only the fixed fields; {@link InetSocketView.toJSON} returns everything as a plain object.
 * A view keeps the batch of received bytes it came from alive.
 */
export class InetSocketView {
  protocol: InetProtocolName;
  family: 'inet' | 'inet6';
  state: ReturnType<typeof stateName>;
  inode: number;
  uid: number | undefined;
  cookie: bigint;
  recvQ: number;
  sendQ: number;
  local: InetEndpoint;
  remote: InetEndpoint;
  interface: number;
  timer: InetTimer | undefined;
  processes: SocketProcess[] | undefined;
  #bytes: Buffer;
  #start: number;
  #end: number;
  #family: number;
  #protocol: number;
  #attrs: Record<string, unknown> | undefined;

  /** @internal Use {@link decodeInetMessage}. */
  constructor(b: Buffer, o: number, end: number, af: number, protocol: number, protocolName: InetProtocolName) {
    const v6 = af === AF.INET6;
    const timer = b[o + M.timer];
    this.protocol = protocolName;
    this.family = v6 ? 'inet6' : 'inet';
    this.state = stateName(b[o + M.state]);
    this.inode = b.readUInt32LE(o + M.inode);
    this.uid = b.readUInt32LE(o + M.uid);
    this.cookie = viewOf(b).getBigUint64(o + M.cookie, true);
    this.recvQ = b.readUInt32LE(o + M.rqueue);
    this.sendQ = b.readUInt32LE(o + M.wqueue);
    this.local = { address: v6 ? formatIPv6(b, o + M.src) : formatIPv4(b, o + M.src), port: b.readUInt16BE(o + M.sport) };
    this.remote = { address: v6 ? formatIPv6(b, o + M.dst) : formatIPv4(b, o + M.dst), port: b.readUInt16BE(o + M.dport) };
    this.interface = b.readUInt32LE(o + M.ifindex);
    this.timer = timer === 0 ? undefined : { name: TIMER_NAMES[timer] ?? 'unknown', expiresMs: b.readUInt32LE(o + M.expires), retransmits: b[o + M.retrans] };
    this.processes = undefined;
    this.#bytes = b;
    this.#start = o + MSG_SIZE;
    this.#end = end;
    this.#family = af;
    this.#protocol = protocol;
    this.#attrs = undefined;
  }

  /** @internal The decoded attributes (decoded on first use). */
  static attributes(s: InetSocketView): Record<string, unknown> {
    let a = s.#attrs;
    if (a === undefined) {
      a = {};
      decodeAttributes(inetDiagAttributes, s.#bytes, s.#start, s.#end, a, { family: s.#family, protocol: s.#protocol });
      s.#attrs = a;
    }
    return a;
  }

  /**
   * @internal The received bytes of `s` when it is a view: `span[0]` is set to where its
   * `inet_diag_msg` starts and `span[1]` to where its attributes end. For formatters that
   * read fields straight from the reply; undefined for any other object.
   */
  static rawMessage(s: unknown, span: Int32Array): Buffer | undefined {
    if (!(s instanceof InetSocketView)) return undefined;
    span[0] = s.#start - MSG_SIZE;
    span[1] = s.#end;
    return s.#bytes;
  }

  /** Every field, attributes included, as a plain object. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { ...(this as object) };
    const attrs = InetSocketView.attributes(this);
    for (const name of ATTRIBUTE_NAMES) if (attrs[name] !== undefined) out[name] = attrs[name];
    if (out.processes === undefined) delete out.processes;
    return out;
  }

  /** Shows every field in `console.log` / `util.inspect`. */
  [Symbol.for('nodejs.util.inspect.custom')](depth: number, options: object, inspect: (v: unknown, o: object) => string): string {
    return `${this.protocol === 'tcp' ? 'Tcp' : 'Inet'}Socket ${inspect(this.toJSON(), options)}`;
  }
}

const ATTRIBUTE_NAMES = [...inetDiagAttributes.byName.keys(), 'unknown'];
for (const name of ATTRIBUTE_NAMES) {
  Object.defineProperty(InetSocketView.prototype, name, {
    get(this: InetSocketView) {
      return InetSocketView.attributes(this)[name];
    },
    enumerable: false,
    configurable: true,
  });
}

/** INET_DIAG_PROTOCOL among already-checked attributes (events carry it; dumps know it from the request). */
function protocolAttribute(b: Buffer, off: number, end: number): number | undefined {
  while (off + NLA_HDRLEN <= end) {
    const len = b.readUInt16LE(off);
    if ((b.readUInt16LE(off + 2) & 0x3fff) === INET_DIAG_PROTOCOL) return b[off + NLA_HDRLEN];
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
  const o = checkMessage(b, off, len, MSG_SIZE, inetDiagMsg.name, FAMILY);
  const end = off + len;
  const af = b[o + M.family];
  // Framing is checked now so that malformed messages fail here, not on first access.
  checkAttributes(inetDiagAttributes, b, o + MSG_SIZE, end);
  if (protocol < 0) protocol = protocolAttribute(b, o + MSG_SIZE, end) ?? 0;
  return new InetSocketView(b, o, end, af, protocol, PROTOCOL_BY_NUMBER[protocol] ?? 'raw') as unknown as InetSocket;
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
