/**
 * AF_XDP sock_diag (`linux/xdp_diag.h`, kernel `net/xdp/xsk_diag.c`): the request, the
 * reply structure, every `XDP_DIAG_*` attribute and the message decoder.
 *
 * What the kernel sends depends on `xdiag_show`: `XDP_SHOW_INFO` brings INFO and UID,
 * `XDP_SHOW_RING_CFG` the RX/TX rings that exist, `XDP_SHOW_UMEM` the UMEM and its fill
 * and completion rings, `XDP_SHOW_MEMINFO` the SK_MEMINFO array, `XDP_SHOW_STATS` the
 * counters. `xdiag_ino` and `xdiag_cookie` of the request are ignored by the kernel.
 * @module
 */
import { defineStruct, encodeStruct, StructValue } from '../../netlink/struct';
import { attr, codec, defineAttributes, decodeAttributes, AttrContext, AttrValues } from '../../netlink/attributes';
import { fieldAt } from '../../netlink/offsets';
import { checkMessage, encodeMessage, FamilyCheck } from '../../netlink/fixed-message';
import { DecodeError } from '../../errors';
import { AF, SOCK_DIAG_BY_FAMILY, SOCK_TYPE_NAMES, SocketTypeName } from '../constants';
import { requestMessage } from '../request';
import { skMeminfo, SkMeminfo } from '../common/skmeminfo';
import type { BaseSocket } from '../common/socket';

/** `struct xdp_diag_req`: the dump request. */
export const xdpDiagReq = defineStruct('xdp_diag_req', 20, [
  { name: 'family', orig: 'sdiag_family', type: 'u8', offset: 0 },
  { name: 'protocol', orig: 'sdiag_protocol', type: 'u8', offset: 1 },
  { name: 'pad', orig: 'pad', type: 'u16', offset: 2 },
  { name: 'inode', orig: 'xdiag_ino', type: 'u32', offset: 4 },
  { name: 'show', orig: 'xdiag_show', type: 'u32', offset: 8 },
  // `__u32 xdiag_cookie[2]`: [0] is the low half, so the pair reads as one little-endian u64.
  { name: 'cookie', orig: 'xdiag_cookie', type: 'u64', offset: 12 },
] as const);

/** `struct xdp_diag_msg`: the fixed part of one socket of the reply. */
export const xdpDiagMsg = defineStruct('xdp_diag_msg', 16, [
  { name: 'family', orig: 'xdiag_family', type: 'u8', offset: 0 },
  { name: 'type', orig: 'xdiag_type', type: 'u8', offset: 1 },
  { name: 'pad', orig: 'pad', type: 'u16', offset: 2 },
  { name: 'inode', orig: 'xdiag_ino', type: 'u32', offset: 4 },
  // `__u32 xdiag_cookie[2]`, written by sock_diag_save_cookie(): [0] low, [1] high.
  { name: 'cookie', orig: 'xdiag_cookie', type: 'u64', offset: 8 },
] as const);

/** The decoded `struct xdp_diag_msg`, field by field (for tests and tools; the decoder does not build it). */
export type XdpDiagMsg = StructValue<typeof xdpDiagMsg>;

/** `struct xdp_diag_info` (XDP_DIAG_INFO): where the socket is bound. */
export const xdpDiagInfo = defineStruct('xdp_diag_info', 8, [
  { name: 'ifindex', orig: 'ifindex', type: 'u32', offset: 0 },
  { name: 'queueId', orig: 'queue_id', type: 'u32', offset: 4 },
] as const);

/** `struct xdp_diag_ring` (XDP_DIAG_*_RING): the size of one ring. */
export const xdpDiagRing = defineStruct('xdp_diag_ring', 4, [
  { name: 'entries', orig: 'entries', type: 'u32', offset: 0 },
] as const);

/** `struct xdp_diag_umem` (XDP_DIAG_UMEM): the UMEM (packet buffer area) the socket uses. */
export const xdpDiagUmem = defineStruct('xdp_diag_umem', 40, [
  { name: 'sizeBytes', orig: 'size', type: 'u64', offset: 0 },
  { name: 'id', orig: 'id', type: 'u32', offset: 8 },
  { name: 'pages', orig: 'num_pages', type: 'u32', offset: 12 },
  { name: 'chunkSizeBytes', orig: 'chunk_size', type: 'u32', offset: 16 },
  { name: 'headroomBytes', orig: 'headroom', type: 'u32', offset: 20 },
  { name: 'ifindex', orig: 'ifindex', type: 'u32', offset: 24 },
  { name: 'queueId', orig: 'queue_id', type: 'u32', offset: 28 },
  { name: 'flags', orig: 'flags', type: 'u32', offset: 32 },
  // XDP_DU_F_ZEROCOPY (1 << 0) of `flags`, as `ss -e` prints it (`zc:1`).
  { name: 'zerocopy', orig: 'flags', type: 'u32', offset: 32, bits: [0, 1] },
  { name: 'refs', orig: 'refs', type: 'u32', offset: 36 },
] as const);

/** `struct xdp_diag_stats` (XDP_DIAG_STATS): per-socket drop and error counters. */
export const xdpDiagStats = defineStruct('xdp_diag_stats', 48, [
  { name: 'rxDropped', orig: 'n_rx_dropped', type: 'u64', offset: 0 },
  { name: 'rxInvalid', orig: 'n_rx_invalid', type: 'u64', offset: 8 },
  { name: 'rxFull', orig: 'n_rx_full', type: 'u64', offset: 16 },
  { name: 'fillRingEmpty', orig: 'n_fill_ring_empty', type: 'u64', offset: 24 },
  { name: 'txInvalid', orig: 'n_tx_invalid', type: 'u64', offset: 32 },
  { name: 'txRingEmpty', orig: 'n_tx_ring_empty', type: 'u64', offset: 40 },
] as const);

/** Where an XDP socket is bound (`struct xdp_diag_info`). */
export type XdpDiagInfo = StructValue<typeof xdpDiagInfo>;
/** One ring's size (`struct xdp_diag_ring`): `entries` is the number of descriptors. */
export type XdpDiagRing = StructValue<typeof xdpDiagRing>;
/**
 * The UMEM (`struct xdp_diag_umem`): `sizeBytes` its size, `pages` its page count,
 * `chunkSizeBytes` and `headroomBytes` per frame, `ifindex`/`queueId` where its buffer
 * pool is bound, `flags` (`zerocopy` = XDP_DU_F_ZEROCOPY as 0/1), `refs` sockets sharing it.
 */
export type XdpDiagUmem = StructValue<typeof xdpDiagUmem>;
/**
 * Counters (`struct xdp_diag_stats`), in descriptors: received packets dropped, invalid
 * RX descriptors, RX ring full, fill ring found empty, invalid TX descriptors, TX ring empty.
 */
export type XdpDiagStats = StructValue<typeof xdpDiagStats>;

/** `XDP_DIAG_*` reply attributes. Property names are those of {@link XdpSocket}. */
export const xdpAttributes = defineAttributes('xdp_diag_attrs', [
  attr(1, 'XDP_DIAG_INFO', 'info', codec.struct(xdpDiagInfo)),
  attr(2, 'XDP_DIAG_UID', 'uid', codec.u32),
  attr(3, 'XDP_DIAG_RX_RING', 'rxRing', codec.struct(xdpDiagRing)),
  attr(4, 'XDP_DIAG_TX_RING', 'txRing', codec.struct(xdpDiagRing)),
  attr(5, 'XDP_DIAG_UMEM', 'umem', codec.struct(xdpDiagUmem)),
  attr(6, 'XDP_DIAG_UMEM_FILL_RING', 'fillRing', codec.struct(xdpDiagRing)),
  attr(7, 'XDP_DIAG_UMEM_COMPLETION_RING', 'completionRing', codec.struct(xdpDiagRing)),
  attr(8, 'XDP_DIAG_MEMINFO', 'meminfo', codec.struct(skMeminfo)),
  attr(9, 'XDP_DIAG_STATS', 'stats', codec.struct(xdpDiagStats)),
] as const);

/** `xdiag_show` bits: which attribute groups to ask for. */
export const XDP_SHOW = {
  /** XDP_DIAG_INFO and XDP_DIAG_UID. */
  INFO: 1 << 0,
  /** XDP_DIAG_RX_RING, XDP_DIAG_TX_RING. */
  RING_CFG: 1 << 1,
  /** XDP_DIAG_UMEM, XDP_DIAG_UMEM_FILL_RING, XDP_DIAG_UMEM_COMPLETION_RING. */
  UMEM: 1 << 2,
  /** XDP_DIAG_MEMINFO. */
  MEMINFO: 1 << 3,
  /** XDP_DIAG_STATS. */
  STATS: 1 << 4,
} as const;

/** Every `XDP_SHOW_*` bit, what `ss` asks for. */
export const XDP_SHOW_ALL = XDP_SHOW.INFO | XDP_SHOW.RING_CFG | XDP_SHOW.UMEM | XDP_SHOW.MEMINFO | XDP_SHOW.STATS;

/** `XDP_DU_F_ZEROCOPY`: bit of `XdpDiagUmem.flags`. */
export const XDP_DU_F_ZEROCOPY = 1;

/** An AF_XDP socket, as the xdp sock_diag reply describes it. */
export interface XdpSocket extends BaseSocket {
  /** Always `'xdp'`. */
  protocol: 'xdp';
  /** Always `'xdp'`. */
  family: 'xdp';
  /** Always `'closed'`: the reply has no state and `ss` shows every XDP socket as UNCONN. */
  state: 'closed';
  /** Owner's uid (XDP_DIAG_UID, sent with `XDP_SHOW_INFO`); undefined when absent. */
  uid: number | undefined;
  /**
   * Bytes allocated to the receive queue: `SK_MEMINFO_RMEM_ALLOC` of XDP_DIAG_MEMINFO,
   * which `ss` prints as Recv-Q; 0 without that attribute.
   */
  recvQ: number;
  /** Always 0: `ss` prints 0 in Send-Q for XDP sockets. */
  sendQ: number;
  /** Socket type (`xdiag_type`): `'raw'` for every AF_XDP socket; `'unknown'` for unexpected numbers. */
  type: SocketTypeName | 'unknown';
  /** Interface index the socket is bound to (from XDP_DIAG_INFO; 0 if its device is gone); undefined without INFO. */
  ifindex: number | undefined;
  /** Queue id on that interface (from XDP_DIAG_INFO; `ss` prints `q<N>`); undefined without INFO. */
  queueId: number | undefined;
  /** XDP_DIAG_INFO as sent: `ifindex` and `queueId` above are copied from it. */
  info: XdpDiagInfo | undefined;
  /** XDP_DIAG_RX_RING: RX ring size in descriptors, when the socket has an RX ring. */
  rxRing: XdpDiagRing | undefined;
  /** XDP_DIAG_TX_RING: TX ring size in descriptors, when the socket has a TX ring. */
  txRing: XdpDiagRing | undefined;
  /** XDP_DIAG_UMEM: the UMEM, when the socket has one. */
  umem: XdpDiagUmem | undefined;
  /** XDP_DIAG_UMEM_FILL_RING: the UMEM's fill ring size in descriptors. */
  fillRing: XdpDiagRing | undefined;
  /** XDP_DIAG_UMEM_COMPLETION_RING: the UMEM's completion ring size in descriptors. */
  completionRing: XdpDiagRing | undefined;
  /** XDP_DIAG_MEMINFO: socket memory in bytes (`ss -m` skmem). */
  meminfo: SkMeminfo | undefined;
  /** XDP_DIAG_STATS: drop and error counters. */
  stats: XdpDiagStats | undefined;
}

// Compile-time check: every attribute of the table decodes into the property of the same name.
type Assert<T extends true> = T;
// eslint-disable-next-line @typescript-eslint/no-unused-vars
type XdpAttributesFitSocket = Assert<Required<AttrValues<typeof xdpAttributes>> extends Pick<XdpSocket, keyof AttrValues<typeof xdpAttributes>> ? true : false>;

/** Options of {@link encodeXdpRequest}. */
export interface XdpRequestOptions {
  /** `xdiag_show`: a mask of {@link XDP_SHOW} bits. Default {@link XDP_SHOW_ALL}. */
  show?: number;
}

/**
 * Encodes a whole xdp dump request: `nlmsghdr` (SOCK_DIAG_BY_FAMILY, REQUEST|DUMP, seq 0)
 * and `struct xdp_diag_req` with the show bits. The kernel has no state, inode or cookie
 * filter for XDP sockets, so `xdiag_ino` and `xdiag_cookie` stay 0.
 */
export function encodeXdpRequest(opts: XdpRequestOptions = {}): Buffer {
  const show = opts.show ?? XDP_SHOW_ALL;
  if (!Number.isInteger(show) || show < 0 || show > 0xffffffff) throw new TypeError(`show mask ${show} is not a 32-bit unsigned integer`);
  return requestMessage(xdpDiagReq.size, (b, off) => {
    encodeStruct(xdpDiagReq, { family: AF.XDP, protocol: 0, show }, b, off);
  });
}

const MSG_SIZE = xdpDiagMsg.size;
const O_FAMILY = fieldAt(xdpDiagMsg, 'family', 'u8');
const FAMILY: FamilyCheck = { offset: O_FAMILY, af: AF.XDP, names: ['xdiag_family', 'AF_XDP'] };
const O_TYPE = fieldAt(xdpDiagMsg, 'type', 'u8');
const O_INODE = fieldAt(xdpDiagMsg, 'inode', 'u32');
const O_COOKIE = fieldAt(xdpDiagMsg, 'cookie', 'u64');

const ctx: AttrContext = Object.freeze({ family: AF.XDP, protocol: 0 });

const TYPE_NUMBERS: Readonly<Record<string, number>> = Object.fromEntries(Object.entries(SOCK_TYPE_NAMES).map(([n, name]) => [name, Number(n)]));

/**
 * Decodes one xdp reply message: `off` is the start of its `nlmsghdr`, `len` its
 * `nlmsg_len`. Reads only `[off, off + len)`; throws {@link DecodeError} on malformed
 * or truncated bytes.
 */
export function decodeXdpMessage(b: Buffer, off: number, len: number): XdpSocket {
  const p = checkMessage(b, off, len, MSG_SIZE, xdpDiagMsg.name, FAMILY);
  if (b.readUInt32LE(off) !== len) throw new DecodeError(`nlmsg_len ${b.readUInt32LE(off)} is not the message length ${len}`, off, 'nlmsghdr');
  // One literal with every property, so all XDP sockets share one hidden class.
  const s: XdpSocket = {
    protocol: 'xdp',
    family: 'xdp',
    state: 'closed',
    inode: b.readUInt32LE(p + O_INODE),
    uid: undefined,
    cookie: b.readBigUInt64LE(p + O_COOKIE),
    recvQ: 0,
    sendQ: 0,
    type: SOCK_TYPE_NAMES[b[p + O_TYPE]] ?? 'unknown',
    ifindex: undefined,
    queueId: undefined,
    info: undefined,
    rxRing: undefined,
    txRing: undefined,
    umem: undefined,
    fillRing: undefined,
    completionRing: undefined,
    meminfo: undefined,
    stats: undefined,
    unknown: undefined,
    processes: undefined,
  };
  decodeAttributes(xdpAttributes, b, p + MSG_SIZE, off + len, s as unknown as Record<string, unknown>, ctx);
  const info = s.info;
  if (info !== undefined) {
    s.ifindex = info.ifindex;
    s.queueId = info.queueId;
  }
  const rmem = s.meminfo?.rmemAlloc;
  if (rmem !== undefined) s.recvQ = rmem;
  return s;
}

/**
 * Encodes a socket back into a reply message, as the kernel would send it (attributes
 * in table order, then `unknown`). `ifindex`/`queueId`/`recvQ` are derived on decode and
 * are not encoded: `info` and `meminfo` carry them. For tests and fake channels.
 */
export function encodeXdpMessage(s: XdpSocket, seq = 0, pid = 0): Buffer {
  return encodeMessage({ type: SOCK_DIAG_BY_FAMILY, seq, pid }, xdpDiagMsg, {
    family: AF.XDP,
    type: TYPE_NUMBERS[s.type] ?? 0,
    inode: s.inode,
    cookie: s.cookie,
  }, xdpAttributes, s as unknown as Record<string, unknown>);
}
