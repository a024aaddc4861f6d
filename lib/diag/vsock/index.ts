/**
 * AF_VSOCK sock_diag (`linux/vm_sockets_diag.h`, kernel `net/vmw_vsock/diag.c`):
 * the request, the reply structure and its decoder.
 *
 * The kernel's reply is a bare `struct vsock_diag_msg` with no attributes. The decoder
 * still walks whatever follows it, so that attributes a later kernel may add are kept
 * raw in `unknown` instead of being dropped.
 * @module
 */
import { defineStruct, encodeStruct, StructValue } from '../../netlink/struct';
import { defineAttributes, decodeAttributes, AttrContext } from '../../netlink/attributes';
import { fieldAt } from '../../netlink/offsets';
import { checkMessage, encodeMessage, FamilyCheck } from '../../netlink/fixed-message';
import { DecodeError } from '../../errors';
import { AF, SOCK_DIAG_BY_FAMILY, STATE_NUMBERS, SocketState, stateName, stateMask, ALL_STATES_MASK } from '../constants';
import { requestMessage } from '../request';
import type { BaseSocket } from '../common/socket';

/** `struct vsock_diag_req`: the dump request. */
export const vsockDiagReq = defineStruct('vsock_diag_req', 24, [
  { name: 'family', orig: 'sdiag_family', type: 'u8', offset: 0 },
  { name: 'protocol', orig: 'sdiag_protocol', type: 'u8', offset: 1 },
  { name: 'pad', orig: 'pad', type: 'u16', offset: 2 },
  { name: 'states', orig: 'vdiag_states', type: 'u32', offset: 4 },
  { name: 'inode', orig: 'vdiag_ino', type: 'u32', offset: 8 },
  { name: 'show', orig: 'vdiag_show', type: 'u32', offset: 12 },
  // `__u32 vdiag_cookie[2]`: [0] is the low half, so the pair reads as one little-endian u64.
  { name: 'cookie', orig: 'vdiag_cookie', type: 'u64', offset: 16 },
] as const);

/** `struct vsock_diag_msg`: one socket of the reply. */
export const vsockDiagMsg = defineStruct('vsock_diag_msg', 32, [
  { name: 'family', orig: 'vdiag_family', type: 'u8', offset: 0 },
  { name: 'type', orig: 'vdiag_type', type: 'u8', offset: 1 },
  { name: 'state', orig: 'vdiag_state', type: 'u8', offset: 2 },
  { name: 'shutdown', orig: 'vdiag_shutdown', type: 'u8', offset: 3 },
  { name: 'srcCid', orig: 'vdiag_src_cid', type: 'u32', offset: 4 },
  { name: 'srcPort', orig: 'vdiag_src_port', type: 'u32', offset: 8 },
  { name: 'dstCid', orig: 'vdiag_dst_cid', type: 'u32', offset: 12 },
  { name: 'dstPort', orig: 'vdiag_dst_port', type: 'u32', offset: 16 },
  { name: 'inode', orig: 'vdiag_ino', type: 'u32', offset: 20 },
  // `__u32 vdiag_cookie[2]`, written by sock_diag_save_cookie(): [0] low, [1] high.
  { name: 'cookie', orig: 'vdiag_cookie', type: 'u64', offset: 24 },
] as const);

/** The decoded `struct vsock_diag_msg`, field by field (for tests and tools; the decoder does not build it). */
export type VsockDiagMsg = StructValue<typeof vsockDiagMsg>;

/**
 * Attributes after `struct vsock_diag_msg`. The uapi header defines none and the kernel
 * sends none: the table is empty, so anything that does arrive is kept in `unknown`.
 */
export const vsockAttributes = defineAttributes('vsock_diag_attrs', [] as const);

/** `vdiag_shutdown` bits (the socket's `sk_shutdown`). */
export const VSOCK_SHUTDOWN = {
  /** `RCV_SHUTDOWN`: no more receptions. */
  RCV: 1,
  /** `SEND_SHUTDOWN`: no more transmissions. */
  SEND: 2,
} as const;

/** `VMADDR_CID_ANY` / `VMADDR_PORT_ANY`: a wildcard, which `ss` prints as `*`. */
export const VMADDR_ANY = 0xffffffff;

/** Socket types a vsock can have (`vdiag_type`); `'unknown'` for any other number. */
export type VsockType = 'stream' | 'dgram' | 'seqpacket' | 'unknown';

const VSOCK_TYPE_BY_NUMBER: readonly (VsockType | undefined)[] = [undefined, 'stream', 'dgram', undefined, undefined, 'seqpacket'];
const VSOCK_TYPE_NUMBERS: Readonly<Record<VsockType, number>> = { unknown: 0, stream: 1, dgram: 2, seqpacket: 5 };

/** One end of a vsock connection. */
export interface VsockAddress {
  /** Context id (`svm_cid`): 2 is the host, 1 local loopback; {@link VMADDR_ANY} is the wildcard `*`. */
  cid: number;
  /** Port (`svm_port`); {@link VMADDR_ANY} is the wildcard `*`. */
  port: number;
}

/** An AF_VSOCK socket, as the vsock sock_diag reply describes it. */
export interface VsockSocket extends BaseSocket {
  /** Always `'vsock'`. */
  protocol: 'vsock';
  /** Always `'vsock'`. */
  family: 'vsock';
  /** Connection state; vsock reuses the TCP state numbers (`ss` filters by these names). */
  state: SocketState;
  /** Always undefined: the vsock reply carries no owner uid. */
  uid: undefined;
  /** Always 0: `ss` prints 0 in Recv-Q for vsock, the reply has no queue sizes. */
  recvQ: number;
  /** Always 0: `ss` prints 0 in Send-Q for vsock, the reply has no queue sizes. */
  sendQ: number;
  /** Socket type (`vdiag_type`); `ss` shows `v_str` for stream and `v_dgr` for dgram. */
  type: VsockType;
  /** `vdiag_shutdown`: bit mask of {@link VSOCK_SHUTDOWN} (1 = receive side shut, 2 = send side shut). */
  shutdown: number;
  /** Local address (`vdiag_src_cid`, `vdiag_src_port`). */
  local: VsockAddress;
  /** Peer address (`vdiag_dst_cid`, `vdiag_dst_port`). */
  remote: VsockAddress;
}

/** Options of {@link encodeVsockRequest}. */
export interface VsockRequestOptions {
  /**
   * States to dump: a mask of `1 << state` bits, or a list of state names.
   * Default: every state (what `ss -a` asks).
   */
  states?: number | readonly SocketState[];
}

/**
 * Encodes a whole vsock dump request: `nlmsghdr` (SOCK_DIAG_BY_FAMILY, REQUEST|DUMP,
 * seq 0) and `struct vsock_diag_req` with the state mask. `vdiag_ino`, `vdiag_show`
 * and `vdiag_cookie` are reserved and stay 0.
 */
export function encodeVsockRequest(opts: VsockRequestOptions = {}): Buffer {
  const states = opts.states === undefined ? ALL_STATES_MASK : stateMask(opts.states);
  return requestMessage(vsockDiagReq.size, (b, off) => {
    encodeStruct(vsockDiagReq, { family: AF.VSOCK, protocol: 0, states }, b, off);
  });
}

// Offsets of the fields read on the hot path, from the table; fieldAt() checks at load
// time that each field still has the width the reads below assume.
const MSG_SIZE = vsockDiagMsg.size;
const O_FAMILY = fieldAt(vsockDiagMsg, 'family', 'u8');
const FAMILY: FamilyCheck = { offset: O_FAMILY, af: AF.VSOCK, names: ['vdiag_family', 'AF_VSOCK'] };
const O_TYPE = fieldAt(vsockDiagMsg, 'type', 'u8');
const O_STATE = fieldAt(vsockDiagMsg, 'state', 'u8');
const O_SHUTDOWN = fieldAt(vsockDiagMsg, 'shutdown', 'u8');
const O_SRC_CID = fieldAt(vsockDiagMsg, 'srcCid', 'u32');
const O_SRC_PORT = fieldAt(vsockDiagMsg, 'srcPort', 'u32');
const O_DST_CID = fieldAt(vsockDiagMsg, 'dstCid', 'u32');
const O_DST_PORT = fieldAt(vsockDiagMsg, 'dstPort', 'u32');
const O_INODE = fieldAt(vsockDiagMsg, 'inode', 'u32');
const O_COOKIE = fieldAt(vsockDiagMsg, 'cookie', 'u64');

const ctx: AttrContext = Object.freeze({ family: AF.VSOCK, protocol: 0 });

/**
 * Decodes one vsock reply message: `off` is the start of its `nlmsghdr`, `len` its
 * `nlmsg_len`. Reads only `[off, off + len)`; throws {@link DecodeError} on malformed
 * or truncated bytes.
 */
export function decodeVsockMessage(b: Buffer, off: number, len: number): VsockSocket {
  const p = checkMessage(b, off, len, MSG_SIZE, vsockDiagMsg.name, FAMILY);
  if (b.readUInt32LE(off) !== len) throw new DecodeError(`nlmsg_len ${b.readUInt32LE(off)} is not the message length ${len}`, off, 'nlmsghdr');
  // One literal with every property, so all vsock sockets share one hidden class.
  const s: VsockSocket = {
    protocol: 'vsock',
    family: 'vsock',
    state: stateName(b[p + O_STATE]),
    inode: b.readUInt32LE(p + O_INODE),
    uid: undefined,
    cookie: b.readBigUInt64LE(p + O_COOKIE),
    recvQ: 0,
    sendQ: 0,
    type: VSOCK_TYPE_BY_NUMBER[b[p + O_TYPE]] ?? 'unknown',
    shutdown: b[p + O_SHUTDOWN],
    local: { cid: b.readUInt32LE(p + O_SRC_CID), port: b.readUInt32LE(p + O_SRC_PORT) },
    remote: { cid: b.readUInt32LE(p + O_DST_CID), port: b.readUInt32LE(p + O_DST_PORT) },
    unknown: undefined,
    processes: undefined,
  };
  decodeAttributes(vsockAttributes, b, p + MSG_SIZE, off + len, s as unknown as Record<string, unknown>, ctx);
  return s;
}

/**
 * Encodes a socket back into a reply message, as the kernel would send it (with its
 * `unknown` attributes after the structure). For tests and fake channels.
 */
export function encodeVsockMessage(s: VsockSocket, seq = 0, pid = 0): Buffer {
  return encodeMessage({ type: SOCK_DIAG_BY_FAMILY, seq, pid }, vsockDiagMsg, {
    family: AF.VSOCK,
    type: VSOCK_TYPE_NUMBERS[s.type] ?? 0,
    state: STATE_NUMBERS[s.state] ?? 0,
    shutdown: s.shutdown,
    srcCid: s.local.cid,
    srcPort: s.local.port,
    dstCid: s.remote.cid,
    dstPort: s.remote.port,
    inode: s.inode,
    cookie: s.cookie,
  }, vsockAttributes, s as unknown as Record<string, unknown>);
}
