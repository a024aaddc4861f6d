/**
 * `<linux/netlink_diag.h>` as tables: the request, the reply message, the ring structure
 * and one attribute row per `NETLINK_DIAG_*` constant.
 * @module
 */
import { attr, codec, defineAttributes, AttrValues } from '../../netlink/attributes';
import { u32Flags, FlagSet } from '../../netlink/codecs';
import { defineStruct, StructValue } from '../../netlink/struct';
import { skMeminfo } from '../common/skmeminfo';

/** `struct netlink_diag_req`. The kernel only dumps (no lookup by inode). */
export const netlinkDiagReq = defineStruct('netlink_diag_req', 20, [
  { name: 'family', orig: 'sdiag_family', type: 'u8', offset: 0 },
  { name: 'protocol', orig: 'sdiag_protocol', type: 'u8', offset: 1 },
  { name: 'pad', orig: 'pad', type: 'u16', offset: 2 },
  { name: 'inode', orig: 'ndiag_ino', type: 'u32', offset: 4 },
  { name: 'show', orig: 'ndiag_show', type: 'u32', offset: 8 },
  { name: 'cookie', orig: 'ndiag_cookie', type: 'u64', offset: 12 },
] as const);

/**
 * `struct netlink_diag_msg`: the fixed part of each reply. The port ids are declared `__u32`
 * but read as signed, as `ss` prints them: ids the kernel picks on autobind are negative.
 */
export const netlinkDiagMsg = defineStruct('netlink_diag_msg', 28, [
  { name: 'family', orig: 'ndiag_family', type: 'u8', offset: 0 },
  { name: 'type', orig: 'ndiag_type', type: 'u8', offset: 1 },
  { name: 'netlinkProtocol', orig: 'ndiag_protocol', type: 'u8', offset: 2 },
  { name: 'state', orig: 'ndiag_state', type: 'u8', offset: 3 },
  { name: 'portId', orig: 'ndiag_portid', type: 's32', offset: 4 },
  { name: 'dstPortId', orig: 'ndiag_dst_portid', type: 's32', offset: 8 },
  { name: 'dstGroup', orig: 'ndiag_dst_group', type: 'u32', offset: 12 },
  { name: 'inode', orig: 'ndiag_ino', type: 'u32', offset: 16 },
  { name: 'cookie', orig: 'ndiag_cookie', type: 'u64', offset: 20 },
] as const);

/** `struct netlink_diag_ring` (`NETLINK_DIAG_RX_RING`, `NETLINK_DIAG_TX_RING`). */
export const netlinkDiagRing = defineStruct('netlink_diag_ring', 16, [
  { name: 'blockSizeBytes', orig: 'ndr_block_size', type: 'u32', offset: 0 },
  { name: 'blockCount', orig: 'ndr_block_nr', type: 'u32', offset: 4 },
  { name: 'frameSizeBytes', orig: 'ndr_frame_size', type: 'u32', offset: 8 },
  { name: 'frameCount', orig: 'ndr_frame_nr', type: 'u32', offset: 12 },
] as const);

/** A netlink mmap ring: block size in bytes and count, frame size in bytes and count (Linux < 4.6 only). */
export type NetlinkDiagRing = StructValue<typeof netlinkDiagRing>;

/** `NDIAG_PROTO_ALL`: `sdiag_protocol` asking for every netlink protocol. */
export const NDIAG_PROTO_ALL = 255;

/** `NDIAG_SHOW_*`: which attributes a request asks for (`ndiag_show`). */
export const NDIAG_SHOW = {
  /** `NETLINK_DIAG_MEMINFO`. */
  MEMINFO: 0x01,
  /** `NETLINK_DIAG_GROUPS`. */
  GROUPS: 0x02,
  /** `NETLINK_DIAG_RX_RING`/`TX_RING`; deprecated since Linux 4.6, which removed netlink mmap (ignored there). */
  RING_CFG: 0x04,
  /** `NETLINK_DIAG_FLAGS` (Linux 4.6+). */
  FLAGS: 0x08,
} as const;

/** Every `NDIAG_SHOW_*` bit: the default of {@link encodeNetlinkRequest}. */
export const NDIAG_SHOW_ALL = 0x0f;

/** `NDIAG_FLAG_*` bits of `NETLINK_DIAG_FLAGS`, under the names {@link NetlinkFlags} uses. */
export const NDIAG_FLAG = {
  /** `NDIAG_FLAG_CB_RUNNING`: a dump is in progress on the socket. */
  cbRunning: 0x01,
  /** `NDIAG_FLAG_PKTINFO`: `NETLINK_PKTINFO` is on. */
  pktinfo: 0x02,
  /** `NDIAG_FLAG_BROADCAST_ERROR`: `NETLINK_BROADCAST_ERROR` is on. */
  broadcastError: 0x04,
  /** `NDIAG_FLAG_NO_ENOBUFS`: `NETLINK_NO_ENOBUFS` is on. */
  noEnobufs: 0x08,
  /** `NDIAG_FLAG_LISTEN_ALL_NSID`: `NETLINK_LISTEN_ALL_NSID` is on. */
  listenAllNsid: 0x10,
  /** `NDIAG_FLAG_CAP_ACK`: `NETLINK_CAP_ACK` is on. */
  capAck: 0x20,
} as const;

/** `NETLINK_DIAG_FLAGS`: the raw u32 (`raw`) and one boolean per `NDIAG_FLAG_*` bit. */
export type NetlinkFlags = FlagSet<typeof NDIAG_FLAG>;

/**
 * `NETLINK_DIAG_*` attributes. Each row's name is the {@link NetlinkSocket} property it fills.
 * Rows are in the order the kernel emits them (groups first), so that re-encoding a decoded
 * reply gives the kernel's bytes back.
 */
export const netlinkAttributes = defineAttributes('netlink_diag_attrs', [
  attr(1, 'NETLINK_DIAG_GROUPS', 'groups', codec.u32Array),
  attr(0, 'NETLINK_DIAG_MEMINFO', 'meminfo', codec.struct(skMeminfo)),
  attr(2, 'NETLINK_DIAG_RX_RING', 'rxRing', codec.struct(netlinkDiagRing)),
  attr(3, 'NETLINK_DIAG_TX_RING', 'txRing', codec.struct(netlinkDiagRing)),
  attr(4, 'NETLINK_DIAG_FLAGS', 'flags', u32Flags('NETLINK_DIAG_FLAGS', NDIAG_FLAG)),
] as const);

/** The decoded `NETLINK_DIAG_*` attributes, by property name. */
export type NetlinkAttributes = AttrValues<typeof netlinkAttributes>;
