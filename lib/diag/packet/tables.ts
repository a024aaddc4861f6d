/**
 * `<linux/packet_diag.h>` as tables: the request, the reply message, the attribute
 * structures (`struct sock_filter` from `<linux/filter.h>` included) and one attribute
 * row per `PACKET_DIAG_*` constant.
 * @module
 */
import { attr, codec, defineAttributes, AttrCodec, AttrValues } from '../../netlink/attributes';
import { structArray } from '../../netlink/codecs';
import { defineStruct, StructValue } from '../../netlink/struct';
import { DecodeError } from '../../errors';
import { skMeminfo } from '../common/skmeminfo';

/** `struct packet_diag_req`. The kernel only dumps (no lookup by inode) and wants protocol 0. */
export const packetDiagReq = defineStruct('packet_diag_req', 20, [
  { name: 'family', orig: 'sdiag_family', type: 'u8', offset: 0 },
  { name: 'protocol', orig: 'sdiag_protocol', type: 'u8', offset: 1 },
  { name: 'pad', orig: 'pad', type: 'u16', offset: 2 },
  { name: 'inode', orig: 'pdiag_ino', type: 'u32', offset: 4 },
  { name: 'show', orig: 'pdiag_show', type: 'u32', offset: 8 },
  { name: 'cookie', orig: 'pdiag_cookie', type: 'u64', offset: 12 },
] as const);

/** `struct packet_diag_msg`: the fixed part of each reply. */
export const packetDiagMsg = defineStruct('packet_diag_msg', 16, [
  { name: 'family', orig: 'pdiag_family', type: 'u8', offset: 0 },
  { name: 'type', orig: 'pdiag_type', type: 'u8', offset: 1 },
  /** The bound ethertype (`ETH_P_*`) in host byte order: the kernel stores `ntohs(po->num)`. */
  { name: 'packetProtocol', orig: 'pdiag_num', type: 'u16', offset: 2 },
  { name: 'inode', orig: 'pdiag_ino', type: 'u32', offset: 4 },
  { name: 'cookie', orig: 'pdiag_cookie', type: 'u64', offset: 8 },
] as const);

/** `struct packet_diag_info` (`PACKET_DIAG_INFO`). */
export const packetDiagInfo = defineStruct('packet_diag_info', 24, [
  { name: 'ifindex', orig: 'pdi_index', type: 'u32', offset: 0 },
  { name: 'version', orig: 'pdi_version', type: 'u32', offset: 4 },
  { name: 'reserveBytes', orig: 'pdi_reserve', type: 'u32', offset: 8 },
  { name: 'copyThreshBytes', orig: 'pdi_copy_thresh', type: 'u32', offset: 12 },
  { name: 'tstamp', orig: 'pdi_tstamp', type: 'u32', offset: 16 },
  { name: 'flags', orig: 'pdi_flags', type: 'u32', offset: 20 },
] as const);

/** `struct packet_diag_mclist`: one element of `PACKET_DIAG_MCLIST`. */
export const packetDiagMclist = defineStruct('packet_diag_mclist', 44, [
  { name: 'ifindex', orig: 'pdmc_index', type: 'u32', offset: 0 },
  { name: 'count', orig: 'pdmc_count', type: 'u32', offset: 4 },
  { name: 'type', orig: 'pdmc_type', type: 'u16', offset: 8 },
  { name: 'addrLen', orig: 'pdmc_alen', type: 'u16', offset: 10 },
  { name: 'addr', orig: 'pdmc_addr', type: 'bytes', offset: 12, length: 32 },
] as const);

/** `struct packet_diag_ring` (`PACKET_DIAG_RX_RING`, `PACKET_DIAG_TX_RING`). */
export const packetDiagRing = defineStruct('packet_diag_ring', 28, [
  { name: 'blockSizeBytes', orig: 'pdr_block_size', type: 'u32', offset: 0 },
  { name: 'blockCount', orig: 'pdr_block_nr', type: 'u32', offset: 4 },
  { name: 'frameSizeBytes', orig: 'pdr_frame_size', type: 'u32', offset: 8 },
  { name: 'frameCount', orig: 'pdr_frame_nr', type: 'u32', offset: 12 },
  { name: 'retireTmoMs', orig: 'pdr_retire_tmo', type: 'u32', offset: 16 },
  { name: 'sizeofPrivBytes', orig: 'pdr_sizeof_priv', type: 'u32', offset: 20 },
  { name: 'features', orig: 'pdr_features', type: 'u32', offset: 24 },
] as const);

/** `struct sock_filter` (`<linux/filter.h>`): one classic BPF instruction of `PACKET_DIAG_FILTER`. */
export const sockFilter = defineStruct('sock_filter', 8, [
  { name: 'code', orig: 'code', type: 'u16', offset: 0 },
  { name: 'jt', orig: 'jt', type: 'u8', offset: 2 },
  { name: 'jf', orig: 'jf', type: 'u8', offset: 3 },
  { name: 'k', orig: 'k', type: 'u32', offset: 4 },
] as const);

/**
 * Basic state of a packet socket: bound interface index (0: all), `TPACKET_V1..3` version
 * (0-based: 0 is V1), ring frame headroom and copy threshold in bytes, the timestamp source
 * (`SOF_TIMESTAMPING_*` bits) and `PDI_*` flags.
 */
export type PacketDiagInfo = StructValue<typeof packetDiagInfo>;
/**
 * A multicast/promiscuous membership (`PACKET_ADD_MEMBERSHIP`): interface index, reference
 * count, `PACKET_MR_*` type, and the link-layer address (its first `addrLen` bytes of `addr`).
 */
export type PacketDiagMclist = StructValue<typeof packetDiagMclist>;
/**
 * An mmap ring (`PACKET_RX_RING`/`PACKET_TX_RING`): block size and count, frame size and
 * count, and for `TPACKET_V3` the block retire timeout in ms, the private area size in bytes
 * and the feature request word (0 otherwise).
 */
export type PacketDiagRing = StructValue<typeof packetDiagRing>;
/** One classic BPF instruction: opcode, jump-if-true and jump-if-false offsets, constant. */
export type SockFilter = StructValue<typeof sockFilter>;

/** `PACKET_SHOW_*`: which attributes a request asks for (`pdiag_show`). */
export const PACKET_SHOW = {
  /** `PACKET_DIAG_INFO`. */
  INFO: 0x01,
  /** `PACKET_DIAG_MCLIST`. */
  MCLIST: 0x02,
  /** `PACKET_DIAG_RX_RING` and `PACKET_DIAG_TX_RING`. */
  RING_CFG: 0x04,
  /** `PACKET_DIAG_FANOUT`. */
  FANOUT: 0x08,
  /** `PACKET_DIAG_MEMINFO`. */
  MEMINFO: 0x10,
  /** `PACKET_DIAG_FILTER`. */
  FILTER: 0x20,
} as const;

/** Every `PACKET_SHOW_*` bit: the default of {@link encodePacketRequest}. */
export const PACKET_SHOW_ALL = 0x3f;

/** `PDI_*`: bits of {@link PacketDiagInfo} `flags`. */
export const PDI = {
  /** Bound and receiving. */
  RUNNING: 0x01,
  /** `PACKET_AUXDATA` is on. */
  AUXDATA: 0x02,
  /** `PACKET_ORIGDEV` is on. */
  ORIGDEV: 0x04,
  /** `PACKET_VNET_HDR` is on. */
  VNETHDR: 0x08,
  /** `PACKET_LOSS` is on. */
  LOSS: 0x10,
} as const;

/** `PACKET_FANOUT_*` mode names by number, as `ss -e` prints them (it knows the first six). */
export const PACKET_FANOUT_TYPES: readonly string[] = ['hash', 'lb', 'cpu', 'roll', 'random', 'qm', 'cbpf', 'ebpf'];

/** A fanout group membership (`PACKET_DIAG_FANOUT`). */
export interface PacketFanout {
  /** Group id (low 16 bits of the attribute). */
  id: number;
  /** `PACKET_FANOUT_*` mode number (high 16 bits). */
  type: number;
  /** The mode's name (`'hash'`, `'lb'`, …), undefined for a number this version does not know. */
  typeName: string | undefined;
}

/** `PACKET_DIAG_FANOUT`: a u32 holding `id | type << 16`. */
export const packetFanoutCodec: AttrCodec<PacketFanout> = {
  minSize: 4,
  decode: (b, o, n) => {
    if (n < 4) throw new DecodeError(`attribute PACKET_DIAG_FANOUT needs 4 bytes, got ${n}`, o, 'PACKET_DIAG_FANOUT');
    const v = b.readUInt32LE(o);
    const type = v >>> 16;
    return { id: v & 0xffff, type, typeName: PACKET_FANOUT_TYPES[type] };
  },
  size: () => 4,
  emit: (v, b, o) => void b.writeUInt32LE(((v.id & 0xffff) | ((v.type & 0xffff) << 16)) >>> 0, o),
};

/**
 * `PACKET_DIAG_*` attributes. Each row's name is the {@link PacketSocket} property it fills.
 * Rows are in the order the kernel emits them (`PACKET_DIAG_UID` comes with, and right after,
 * `PACKET_DIAG_INFO`), so that re-encoding a decoded reply gives the kernel's bytes back.
 */
export const packetAttributes = defineAttributes('packet_diag_attrs', [
  attr(0, 'PACKET_DIAG_INFO', 'info', codec.struct(packetDiagInfo)),
  attr(5, 'PACKET_DIAG_UID', 'uid', codec.u32),
  attr(1, 'PACKET_DIAG_MCLIST', 'mclist', structArray(packetDiagMclist)),
  attr(2, 'PACKET_DIAG_RX_RING', 'rxRing', codec.struct(packetDiagRing)),
  attr(3, 'PACKET_DIAG_TX_RING', 'txRing', codec.struct(packetDiagRing)),
  attr(4, 'PACKET_DIAG_FANOUT', 'fanout', packetFanoutCodec),
  attr(6, 'PACKET_DIAG_MEMINFO', 'meminfo', codec.struct(skMeminfo)),
  attr(7, 'PACKET_DIAG_FILTER', 'filter', structArray(sockFilter)),
] as const);

/** The decoded `PACKET_DIAG_*` attributes, by property name. */
export type PacketAttributes = AttrValues<typeof packetAttributes>;
