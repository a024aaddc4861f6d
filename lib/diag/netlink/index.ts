/**
 * netlink_diag: requests for and replies about AF_NETLINK sockets (`ss -A netlink`).
 * @module
 */
import { DecodeError } from '../../errors';
import { decodeAttributes, align4, AttrContext, RawAttribute } from '../../netlink/attributes';
import { checkMessage, encodeMessage, ReplyHeaderOptions, FamilyCheck } from '../../netlink/fixed-message';
import { fieldAt } from '../../netlink/offsets';
import { encodeStruct } from '../../netlink/struct';
import { AF, SOCK_DIAG_BY_FAMILY } from '../constants';
import type { BaseSocket } from '../common/socket';
import type { SkMeminfo } from '../common/skmeminfo';
import { requestMessage } from '../request';
import { netlinkAttributes, netlinkDiagMsg, netlinkDiagReq, NetlinkAttributes, NetlinkDiagRing, NetlinkFlags, NDIAG_PROTO_ALL, NDIAG_SHOW_ALL } from './tables';

export * from './tables';

/** Socket types of netlink sockets (`SOCK_RAW` or `SOCK_DGRAM`, which netlink treats alike). */
export type NetlinkSocketType = 'raw' | 'dgram' | 'unknown';

/** An AF_NETLINK socket. Attribute fields are undefined when the kernel did not send them. */
export interface NetlinkSocket extends BaseSocket {
  protocol: 'netlink';
  family: 'netlink';
  /** Always `'closed'`, as `ss` shows every netlink socket `UNCONN`; see {@link NetlinkSocket.connected}. */
  state: 'closed';
  /** Always undefined: netlink_diag does not report an owner. */
  uid: undefined;
  /**
   * Recv-Q as `ss` shows it: bytes of receive buffer memory in use, `SK_MEMINFO_RMEM_ALLOC`
   * of `NETLINK_DIAG_MEMINFO` (0 without it).
   */
  recvQ: number;
  /**
   * Send-Q as `ss` shows it: bytes of send buffer memory in use, `SK_MEMINFO_WMEM_ALLOC`
   * of `NETLINK_DIAG_MEMINFO` (0 without it).
   */
  sendQ: number;
  /** Socket type. */
  type: NetlinkSocketType;
  /** `NETLINK_*` protocol number (0 `NETLINK_ROUTE`, 4 `NETLINK_SOCK_DIAG`, 16 `NETLINK_GENERIC`, …). */
  netlinkProtocol: number;
  /** True when connected (`ndiag_state` is `NETLINK_CONNECTED`): `ss` then shows `dstGroup:dstPortId` as the peer. */
  connected: boolean;
  /** Own port id (`ndiag_portid`), signed as `ss` prints it: 0 is the kernel, negative ids were picked by the kernel on autobind. */
  portId: number;
  /** Port id of the connected peer (`ndiag_dst_portid`), signed like {@link NetlinkSocket.portId}. */
  dstPortId: number;
  /** Multicast group of the connected peer (`ndiag_dst_group`). */
  dstGroup: number;
  /** `NETLINK_DIAG_MEMINFO`: socket memory in bytes (`ss -m` skmem). */
  meminfo: SkMeminfo | undefined;
  /**
   * `NETLINK_DIAG_GROUPS`: the joined multicast groups as a bitmap of u32 words; group `g`
   * (1-based) is bit `(g - 1) % 32` of word `(g - 1) >> 5`. Undefined when the socket never joined one.
   */
  groups: number[] | undefined;
  /** `NETLINK_DIAG_RX_RING` (kernels before 4.6 with netlink mmap). */
  rxRing: NetlinkDiagRing | undefined;
  /** `NETLINK_DIAG_TX_RING` (kernels before 4.6 with netlink mmap). */
  txRing: NetlinkDiagRing | undefined;
  /** `NETLINK_DIAG_FLAGS`: the raw word and one boolean per `NDIAG_FLAG_*` bit. */
  flags: NetlinkFlags | undefined;
}

// This stops compiling if an attribute row's name or type drifts from the interface.
const attributesFitSocket: (a: Required<NetlinkAttributes>) => Pick<NetlinkSocket, keyof NetlinkAttributes> = (a) => a;
void attributesFitSocket;

/** `ndiag_state` of a connected socket. */
const NETLINK_CONNECTED = 1;
const NETLINK_TYPES: Readonly<Record<number, NetlinkSocketType>> = { 2: 'dgram', 3: 'raw' };
const TYPE_NUMBERS: Readonly<Record<NetlinkSocketType, number>> = { unknown: 0, dgram: 2, raw: 3 };

const O_FAMILY = fieldAt(netlinkDiagMsg, 'family', 'u8');
const FAMILY: FamilyCheck = { offset: O_FAMILY, af: AF.NETLINK, names: ['ndiag_family', 'AF_NETLINK'] };
const O_TYPE = fieldAt(netlinkDiagMsg, 'type', 'u8');
const O_PROTOCOL = fieldAt(netlinkDiagMsg, 'netlinkProtocol', 'u8');
const O_STATE = fieldAt(netlinkDiagMsg, 'state', 'u8');
const O_PORTID = fieldAt(netlinkDiagMsg, 'portId', 's32');
const O_DST_PORTID = fieldAt(netlinkDiagMsg, 'dstPortId', 's32');
const O_DST_GROUP = fieldAt(netlinkDiagMsg, 'dstGroup', 'u32');
const O_INODE = fieldAt(netlinkDiagMsg, 'inode', 'u32');
const O_COOKIE = fieldAt(netlinkDiagMsg, 'cookie', 'u64');
const ATTRS_AT = align4(netlinkDiagMsg.size);
const CTX: AttrContext = { family: AF.NETLINK, protocol: 0 };

/**
 * Decodes one netlink_diag reply. `off` is the start of the netlink message (its `nlmsghdr`)
 * inside `b` and `len` its `nlmsg_len`; nothing outside `[off, off + len)` is read.
 * Throws {@link DecodeError} on malformed or truncated bytes, or when the message is not AF_NETLINK.
 */
export function decodeNetlinkMessage(b: Buffer, off: number, len: number): NetlinkSocket {
  const p = checkMessage(b, off, len, netlinkDiagMsg.size, netlinkDiagMsg.name, FAMILY);
  const s: NetlinkSocket = {
    protocol: 'netlink',
    family: 'netlink',
    state: 'closed',
    inode: b.readUInt32LE(p + O_INODE),
    uid: undefined,
    cookie: b.readBigUInt64LE(p + O_COOKIE),
    recvQ: 0,
    sendQ: 0,
    unknown: undefined,
    processes: undefined,
    type: NETLINK_TYPES[b[p + O_TYPE]] ?? 'unknown',
    netlinkProtocol: b[p + O_PROTOCOL],
    connected: b[p + O_STATE] === NETLINK_CONNECTED,
    portId: b.readInt32LE(p + O_PORTID),
    dstPortId: b.readInt32LE(p + O_DST_PORTID),
    dstGroup: b.readUInt32LE(p + O_DST_GROUP),
    meminfo: undefined,
    groups: undefined,
    rxRing: undefined,
    txRing: undefined,
    flags: undefined,
  };
  decodeAttributes(netlinkAttributes, b, p + ATTRS_AT, off + len, s as unknown as Record<string, unknown>, CTX);
  const m = s.meminfo;
  if (m !== undefined) {
    s.recvQ = m.rmemAlloc ?? 0;
    s.sendQ = m.wmemAlloc ?? 0;
  }
  return s;
}

/** Options of {@link encodeNetlinkRequest}. */
export interface NetlinkRequestOptions {
  /** `NETLINK_*` protocol to dump; default {@link NDIAG_PROTO_ALL}. The kernel answers `ENOENT` past its last protocol. */
  protocol?: number;
  /** `NDIAG_SHOW_*` bits (see {@link NDIAG_SHOW}); default all ({@link NDIAG_SHOW_ALL}). */
  show?: number;
}

/** A `SOCK_DIAG_BY_FAMILY` dump request (`NLM_F_REQUEST | NLM_F_DUMP`, seq 0) for netlink sockets. */
export function encodeNetlinkRequest(opts: NetlinkRequestOptions = {}): Buffer {
  const protocol = opts.protocol ?? NDIAG_PROTO_ALL;
  if (!Number.isInteger(protocol) || protocol < 0 || protocol > 0xff) throw new RangeError(`protocol out of range: ${protocol}`);
  const show = opts.show ?? NDIAG_SHOW_ALL;
  if (!Number.isInteger(show) || show < 0 || show > 0xffffffff) throw new RangeError(`show mask out of range: ${show}`);
  return requestMessage(netlinkDiagReq.size, (b, o) => encodeStruct(netlinkDiagReq, { family: AF.NETLINK, protocol, show }, b, o));
}

/** What {@link encodeNetlinkMessage} writes: a decoded {@link NetlinkSocket} fits (derived fields are ignored). */
export type NetlinkMessageInput = Partial<Pick<NetlinkSocket, 'type' | 'netlinkProtocol' | 'connected' | 'portId' | 'dstPortId' | 'dstGroup' | 'inode' | 'cookie'>> &
  NetlinkAttributes & { unknown?: RawAttribute[] };

/**
 * Encodes a netlink_diag reply the way the kernel does (header, `netlink_diag_msg`, attributes
 * in table order, then `unknown` ones): for fixtures and fake channels. `recvQ`/`sendQ` are
 * derived on decode and not written; set `meminfo` instead.
 */
export function encodeNetlinkMessage(s: NetlinkMessageInput, header: ReplyHeaderOptions = {}): Buffer {
  return encodeMessage(
    { ...header, type: SOCK_DIAG_BY_FAMILY },
    netlinkDiagMsg,
    {
      family: AF.NETLINK,
      type: s.type === undefined ? 0 : TYPE_NUMBERS[s.type],
      netlinkProtocol: s.netlinkProtocol ?? 0,
      state: s.connected ? NETLINK_CONNECTED : 0,
      portId: s.portId ?? 0,
      dstPortId: s.dstPortId ?? 0,
      dstGroup: s.dstGroup ?? 0,
      inode: s.inode ?? 0,
      cookie: s.cookie ?? 0n,
    },
    netlinkAttributes,
    s as Record<string, unknown>,
  );
}
