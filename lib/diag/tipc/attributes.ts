/**
 * The attributes of a TIPC sock_diag reply (`linux/tipc_netlink.h`), as the kernel's
 * `tipc_sk_fill_sock_diag()` (net/tipc/socket.c) writes them:
 *
 * ```
 * TIPC_NLA_SOCK (nest)
 *   TIPC_NLA_SOCK_REF, TIPC_NLA_SOCK_ADDR            always
 *   TIPC_NLA_SOCK_CON (nest)                         when connected
 *     TIPC_NLA_CON_NODE, TIPC_NLA_CON_SOCK
 *     TIPC_NLA_CON_FLAG, _TYPE, _INST                when connected through a service name
 *   TIPC_NLA_SOCK_HAS_PUBL (flag)                    when not connected and bound to names
 *   TIPC_NLA_SOCK_TYPE, _TIPC_STATE, _INO, _UID, _COOKIE (after TIPC_NLA_SOCK_PAD if needed)
 *   TIPC_NLA_SOCK_STAT (nest)
 *     TIPC_NLA_SOCK_STAT_RCVQ, _SENDQ, _DROP; _LINK_CONG, _CONN_CONG (flags) when congested
 *   TIPC_NLA_SOCK_GROUP (nest)                       when the socket joined a group
 *     TIPC_NLA_SOCK_GROUP_ID, _INSTANCE, _BC_SEND_NEXT; _NODE_SCOPE/_CLUSTER_SCOPE, _OPEN (flags)
 * ```
 * Note that `TIPC_NLA_SOCK_STAT_*` and `TIPC_NLA_SOCK_GROUP_*` start at 0 (no UNSPEC).
 * The rows of each table are in the order the kernel emits them (not numeric order), so
 * that re-encoding a decoded socket gives the kernel's bytes back.
 * There is no SK_MEMINFO attribute for TIPC.
 * @module
 */
import { attr, codec, padAttr, defineAttributes, AttrCodec, AttrValues, RawAttribute } from '../../netlink/attributes';
import { DecodeError } from '../../errors';
import { STATE_NUMBERS, SocketState, stateName } from '../constants';

/** A netlink flag attribute: present (`true`) or absent (`undefined`); its payload is empty. */
const flag: AttrCodec<true> = {
  decode: () => true,
  size: () => 0,
  emit: () => undefined,
};

/** Socket types of TIPC sockets (`TIPC_NLA_SOCK_TYPE`); `'unknown'` for any other number. */
export type TipcType = 'stream' | 'dgram' | 'rdm' | 'seqpacket' | 'unknown';

const TIPC_TYPE_BY_NUMBER: readonly (TipcType | undefined)[] = [undefined, 'stream', 'dgram', undefined, 'rdm', 'seqpacket'];
const TIPC_TYPE_NUMBERS: Readonly<Record<TipcType, number>> = { unknown: 0, stream: 1, dgram: 2, rdm: 4, seqpacket: 5 };

function u32(b: Buffer, o: number, n: number, what: string): number {
  if (n < 4) throw new DecodeError(`attribute ${what} needs 4 bytes, got ${n}`, o, what);
  return b.readUInt32LE(o);
}

/** `TIPC_NLA_SOCK_TYPE`: the u32 `sk_type`, as a name. */
const typeCodec: AttrCodec<TipcType> = {
  decode: (b, o, n) => TIPC_TYPE_BY_NUMBER[u32(b, o, n, 'TIPC_NLA_SOCK_TYPE')] ?? 'unknown',
  size: () => 4,
  emit: (v, b, o) => void b.writeUInt32LE(TIPC_TYPE_NUMBERS[v] ?? 0, o),
};

/** `TIPC_NLA_SOCK_TIPC_STATE`: the u32 `sk_state`, which TIPC takes from the TCP numbers. */
const stateCodec: AttrCodec<SocketState> = {
  decode: (b, o, n) => stateName(u32(b, o, n, 'TIPC_NLA_SOCK_TIPC_STATE')),
  size: () => 4,
  emit: (v, b, o) => void b.writeUInt32LE(STATE_NUMBERS[v] ?? 0, o),
};

/** `TIPC_NLA_CON_*` (inside TIPC_NLA_SOCK_CON): the peer of a connected socket. */
export const tipcConAttributes = defineAttributes('tipc_nla_con', [
  attr(2, 'TIPC_NLA_CON_NODE', 'node', codec.u32),
  attr(3, 'TIPC_NLA_CON_SOCK', 'port', codec.u32),
  attr(1, 'TIPC_NLA_CON_FLAG', 'viaService', flag),
  attr(4, 'TIPC_NLA_CON_TYPE', 'serviceType', codec.u32),
  attr(5, 'TIPC_NLA_CON_INST', 'serviceInstance', codec.u32),
] as const);

/** `TIPC_NLA_SOCK_STAT_*` (inside TIPC_NLA_SOCK_STAT): queue lengths and congestion. */
export const tipcStatAttributes = defineAttributes('tipc_nla_sock_stat', [
  attr(0, 'TIPC_NLA_SOCK_STAT_RCVQ', 'receiveQueue', codec.u32),
  attr(1, 'TIPC_NLA_SOCK_STAT_SENDQ', 'sendQueue', codec.u32),
  attr(4, 'TIPC_NLA_SOCK_STAT_DROP', 'drops', codec.u32),
  attr(2, 'TIPC_NLA_SOCK_STAT_LINK_CONG', 'linkCongested', flag),
  attr(3, 'TIPC_NLA_SOCK_STAT_CONN_CONG', 'connectionCongested', flag),
] as const);

/** `TIPC_NLA_SOCK_GROUP_*` (inside TIPC_NLA_SOCK_GROUP): the communication group joined. */
export const tipcGroupAttributes = defineAttributes('tipc_nla_sock_group', [
  attr(0, 'TIPC_NLA_SOCK_GROUP_ID', 'id', codec.u32),
  attr(4, 'TIPC_NLA_SOCK_GROUP_INSTANCE', 'instance', codec.u32),
  attr(5, 'TIPC_NLA_SOCK_GROUP_BC_SEND_NEXT', 'bcSendNext', codec.u32),
  attr(2, 'TIPC_NLA_SOCK_GROUP_NODE_SCOPE', 'nodeScope', flag),
  attr(3, 'TIPC_NLA_SOCK_GROUP_CLUSTER_SCOPE', 'clusterScope', flag),
  attr(1, 'TIPC_NLA_SOCK_GROUP_OPEN', 'open', flag),
] as const);

/** `TIPC_NLA_SOCK_*` (inside TIPC_NLA_SOCK). Property names are those of `TipcSocket`. */
export const tipcSockAttributes = defineAttributes('tipc_nla_sock', [
  attr(2, 'TIPC_NLA_SOCK_REF', 'port', codec.u32),
  attr(1, 'TIPC_NLA_SOCK_ADDR', 'node', codec.u32),
  attr(3, 'TIPC_NLA_SOCK_CON', 'connection', codec.nested(tipcConAttributes)),
  attr(4, 'TIPC_NLA_SOCK_HAS_PUBL', 'hasPublications', flag),
  attr(6, 'TIPC_NLA_SOCK_TYPE', 'type', typeCodec),
  attr(9, 'TIPC_NLA_SOCK_TIPC_STATE', 'state', stateCodec),
  attr(7, 'TIPC_NLA_SOCK_INO', 'inode', codec.u32),
  attr(8, 'TIPC_NLA_SOCK_UID', 'uid', codec.u32),
  padAttr(11, 'TIPC_NLA_SOCK_PAD'),
  attr(10, 'TIPC_NLA_SOCK_COOKIE', 'cookie', codec.u64),
  attr(5, 'TIPC_NLA_SOCK_STAT', 'stats', codec.nested(tipcStatAttributes)),
  attr(12, 'TIPC_NLA_SOCK_GROUP', 'group', codec.nested(tipcGroupAttributes)),
] as const);

/** `TIPC_NLA_SOCK`: the top-level attribute of a TIPC sock_diag reply (`enum` in tipc_netlink.h). */
export const TIPC_NLA_SOCK = 2;

/**
 * Top-level attributes of a reply: the message payload is attributes only (no fixed
 * structure), and the kernel sends exactly one, `TIPC_NLA_SOCK`.
 */
export const tipcAttributes = defineAttributes('tipc_nla', [
  attr(TIPC_NLA_SOCK, 'TIPC_NLA_SOCK', 'sock', codec.nested(tipcSockAttributes)),
] as const);

/**
 * The peer of a connected TIPC socket (`TIPC_NLA_SOCK_CON`): `node` and `port` its socket
 * address; `viaService` true when the connection was made to a service name, which
 * `serviceType` and `serviceInstance` then give (`ss --tipcinfo` prints `via {type,instance}`).
 */
export type TipcConnection = AttrValues<typeof tipcConAttributes> & { unknown?: RawAttribute[] };

/**
 * Queue and congestion counters (`TIPC_NLA_SOCK_STAT`): `receiveQueue` and `sendQueue` in
 * messages (buffers queued, not bytes), `drops` messages dropped, `linkCongested` /
 * `connectionCongested` true while the link or the connection is congested.
 */
export type TipcSockStats = AttrValues<typeof tipcStatAttributes> & { unknown?: RawAttribute[] };

/**
 * The communication group a socket joined (`TIPC_NLA_SOCK_GROUP`): `id` its service type,
 * `instance` this member's instance, `bcSendNext` the next broadcast sequence number,
 * `nodeScope`/`clusterScope` its scope, `open` true while the group accepts sends.
 */
export type TipcGroup = AttrValues<typeof tipcGroupAttributes> & { unknown?: RawAttribute[] };
