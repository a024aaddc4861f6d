/**
 * packet_diag: requests for and replies about AF_PACKET sockets (`ss -0`).
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
import {
  packetAttributes,
  packetDiagMsg,
  packetDiagReq,
  PacketAttributes,
  PacketDiagInfo,
  PacketDiagMclist,
  PacketDiagRing,
  PacketFanout,
  SockFilter,
  PACKET_SHOW_ALL,
} from './tables';

export * from './tables';

/**
 * Socket types of packet sockets: `SOCK_RAW` (`p_raw` in `ss`), `SOCK_DGRAM` (`p_dgr`), the
 * obsolete `SOCK_PACKET` (`ss` shows it as `p_dgr`); `'unknown'` for any other number.
 */
export type PacketSocketType = 'raw' | 'dgram' | 'packet' | 'unknown';

/** An AF_PACKET socket. Attribute fields are undefined when the kernel did not send them. */
export interface PacketSocket extends BaseSocket {
  protocol: 'packet';
  family: 'packet';
  /** Always `'closed'`: packet sockets have no state, and `ss` shows them as `UNCONN`. */
  state: 'closed';
  /** Owner's uid (`PACKET_DIAG_UID`, sent with `PACKET_SHOW_INFO`). */
  uid: number | undefined;
  /**
   * Recv-Q as `ss` shows it: bytes of receive buffer memory in use, `SK_MEMINFO_RMEM_ALLOC`
   * of `PACKET_DIAG_MEMINFO` (0 without it).
   */
  recvQ: number;
  /** Send-Q as `ss` shows it: always 0 (`ss` never fills it for packet sockets). */
  sendQ: number;
  /** Socket type. */
  type: PacketSocketType;
  /** The bound ethertype in host byte order (`pdiag_num`; 3 = `ETH_P_ALL`, which `ss` shows as `*`). */
  packetProtocol: number;
  /** Bound interface index, 0 for all interfaces (from `PACKET_DIAG_INFO`; undefined without it). */
  ifindex: number | undefined;
  /** `PACKET_DIAG_INFO`: version, copy threshold, flags… */
  info: PacketDiagInfo | undefined;
  /** `PACKET_DIAG_MCLIST`: multicast and promiscuous memberships. */
  mclist: PacketDiagMclist[] | undefined;
  /** `PACKET_DIAG_RX_RING`: the receive ring, when one is mapped. */
  rxRing: PacketDiagRing | undefined;
  /** `PACKET_DIAG_TX_RING`: the transmit ring, when one is mapped. */
  txRing: PacketDiagRing | undefined;
  /** `PACKET_DIAG_FANOUT`: the fanout group, when the socket joined one. */
  fanout: PacketFanout | undefined;
  /** `PACKET_DIAG_MEMINFO`: socket memory in bytes (`ss -m` skmem). */
  meminfo: SkMeminfo | undefined;
  /** `PACKET_DIAG_FILTER`: the attached classic BPF program (`ss -b`); sent to `CAP_NET_ADMIN` only. */
  filter: SockFilter[] | undefined;
}

// This stops compiling if an attribute row's name or type drifts from the interface.
const attributesFitSocket: (a: Required<PacketAttributes>) => Pick<PacketSocket, keyof PacketAttributes> = (a) => a;
void attributesFitSocket;

const PACKET_TYPES: Readonly<Record<number, PacketSocketType>> = { 2: 'dgram', 3: 'raw', 10: 'packet' };
const TYPE_NUMBERS: Readonly<Record<PacketSocketType, number>> = { unknown: 0, dgram: 2, raw: 3, packet: 10 };

const O_FAMILY = fieldAt(packetDiagMsg, 'family', 'u8');
const FAMILY: FamilyCheck = { offset: O_FAMILY, af: AF.PACKET, names: ['pdiag_family', 'AF_PACKET'] };
const O_TYPE = fieldAt(packetDiagMsg, 'type', 'u8');
const O_NUM = fieldAt(packetDiagMsg, 'packetProtocol', 'u16');
const O_INODE = fieldAt(packetDiagMsg, 'inode', 'u32');
const O_COOKIE = fieldAt(packetDiagMsg, 'cookie', 'u64');
const ATTRS_AT = align4(packetDiagMsg.size);
const CTX: AttrContext = { family: AF.PACKET, protocol: 0 };

/**
 * Decodes one packet_diag reply. `off` is the start of the netlink message (its `nlmsghdr`)
 * inside `b` and `len` its `nlmsg_len`; nothing outside `[off, off + len)` is read.
 * Throws {@link DecodeError} on malformed or truncated bytes, or when the message is not AF_PACKET.
 */
export function decodePacketMessage(b: Buffer, off: number, len: number): PacketSocket {
  const p = checkMessage(b, off, len, packetDiagMsg.size, packetDiagMsg.name, FAMILY);
  const s: PacketSocket = {
    protocol: 'packet',
    family: 'packet',
    state: 'closed',
    inode: b.readUInt32LE(p + O_INODE),
    uid: undefined,
    cookie: b.readBigUInt64LE(p + O_COOKIE),
    recvQ: 0,
    sendQ: 0,
    unknown: undefined,
    processes: undefined,
    type: PACKET_TYPES[b[p + O_TYPE]] ?? 'unknown',
    packetProtocol: b.readUInt16LE(p + O_NUM),
    ifindex: undefined,
    info: undefined,
    mclist: undefined,
    rxRing: undefined,
    txRing: undefined,
    fanout: undefined,
    meminfo: undefined,
    filter: undefined,
  };
  decodeAttributes(packetAttributes, b, p + ATTRS_AT, off + len, s as unknown as Record<string, unknown>, CTX);
  if (s.info !== undefined) s.ifindex = s.info.ifindex;
  if (s.meminfo !== undefined) s.recvQ = s.meminfo.rmemAlloc ?? 0;
  return s;
}

/** Options of {@link encodePacketRequest}. */
export interface PacketRequestOptions {
  /**
   * `sdiag_protocol`; default 0. Kernels up to at least 6.x answer anything else with
   * `EINVAL` (the field is reserved for filtering by protocol later).
   */
  protocol?: number;
  /** `PACKET_SHOW_*` bits (see {@link PACKET_SHOW}); default all ({@link PACKET_SHOW_ALL}). */
  show?: number;
}

/** A `SOCK_DIAG_BY_FAMILY` dump request (`NLM_F_REQUEST | NLM_F_DUMP`, seq 0) for packet sockets. */
export function encodePacketRequest(opts: PacketRequestOptions = {}): Buffer {
  const protocol = opts.protocol ?? 0;
  if (!Number.isInteger(protocol) || protocol < 0 || protocol > 0xff) throw new RangeError(`protocol out of range: ${protocol}`);
  const show = opts.show ?? PACKET_SHOW_ALL;
  if (!Number.isInteger(show) || show < 0 || show > 0xffffffff) throw new RangeError(`show mask out of range: ${show}`);
  return requestMessage(packetDiagReq.size, (b, o) => encodeStruct(packetDiagReq, { family: AF.PACKET, protocol, show }, b, o));
}

/** What {@link encodePacketMessage} writes: a decoded {@link PacketSocket} fits (derived fields are ignored). */
export type PacketMessageInput = Partial<Pick<PacketSocket, 'type' | 'packetProtocol' | 'inode' | 'cookie'>> & PacketAttributes & { unknown?: RawAttribute[] };

/**
 * Encodes a packet_diag reply the way the kernel does (header, `packet_diag_msg`, attributes
 * in table order, then `unknown` ones): for fixtures and fake channels. `recvQ` and `ifindex`
 * are derived on decode and not written; set `meminfo` and `info` instead.
 */
export function encodePacketMessage(s: PacketMessageInput, header: ReplyHeaderOptions = {}): Buffer {
  return encodeMessage(
    { ...header, type: SOCK_DIAG_BY_FAMILY },
    packetDiagMsg,
    {
      family: AF.PACKET,
      type: s.type === undefined ? 0 : TYPE_NUMBERS[s.type],
      packetProtocol: s.packetProtocol ?? 0,
      inode: s.inode ?? 0,
      cookie: s.cookie ?? 0n,
    },
    packetAttributes,
    s as Record<string, unknown>,
  );
}
