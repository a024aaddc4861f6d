/**
 * ss's socket tables ("dbs"), families and state bits, with the defaults each table and
 * family option brings, and the order in which ss prints the tables. Which kind, family and
 * socket type each table holds comes from the socket-kind registry; what is ss's own here is
 * its numbering of the tables, its defaults and its print order.
 * @module
 */
import { AF, STATE_NUMBERS, stateColumn, type ProtocolName, type SocketState } from '../diag/constants';
import { SOCKET_KINDS, socketKind, type SsTableName } from '../diag/registry';

/** ss's tables in its own numbering (the bit of each in a table mask), by their `-A` names. */
const DB_NAMES: readonly SsTableName[] = [
  'tcp', 'mptcp', 'dccp', 'udp', 'raw', 'unix_dgram', 'unix_stream', 'unix_seqpacket',
  'packet_dgram', 'packet_raw', 'netlink', 'sctp', 'vsock_stream', 'vsock_dgram', 'tipc', 'xdp',
];

/** Number of tables. */
export const DB_COUNT = DB_NAMES.length;

/** ss's number of a table (its bit position in a table mask). */
export function db(name: SsTableName): number {
  return DB_NAMES.indexOf(name);
}

/** The bit of one table. */
export const dbBit = (n: number): number => 1 << n;

/** The bit of a state in a state mask (ss's state numbers are the kernel's). */
export const stateBit = (s: SocketState): number => 1 << STATE_NUMBERS[s];

/** Every state of ss 6.1 (`-a`, `state all`): unknown … closing. */
export const SS_ALL = stateBit('new-syn-recv') - 1;
/** ss's "connected" default: all but listening, closed, time-wait and syn-recv. */
export const SS_CONN = SS_ALL & ~(stateBit('listening') | stateBit('closed') | stateBit('time-wait') | stateBit('syn-recv'));
const TIPC_SS_CONN = stateBit('established') | stateBit('listening') | stateBit('closed');
const CLOSE_ONLY = stateBit('closed');
const ESTABLISHED = stateBit('established');

/** The states each table brings when selected (ss's default_dbs). */
const TABLE_STATES: Readonly<Record<SsTableName, number>> = {
  tcp: SS_CONN, mptcp: SS_CONN, dccp: SS_CONN, udp: ESTABLISHED, raw: ESTABLISHED, unix_dgram: CLOSE_ONLY,
  unix_stream: SS_CONN, unix_seqpacket: SS_CONN, packet_dgram: CLOSE_ONLY, packet_raw: CLOSE_ONLY, netlink: CLOSE_ONLY,
  sctp: SS_CONN, vsock_stream: SS_CONN, vsock_dgram: SS_CONN, tipc: TIPC_SS_CONN, xdp: CLOSE_ONLY,
};

/** The registry's kind of each table. */
const TABLE_KIND = new Map(SOCKET_KINDS.flatMap((k) => k.ssTables.map((t) => [t.name, k] as const)));

/** The states each table brings when selected, by table number. */
export const DEFAULT_DB_STATES: readonly number[] = DB_NAMES.map((n) => TABLE_STATES[n]);

/** The families (AF numbers) each table belongs to, by table number. */
export const DB_FAMILIES: readonly (readonly number[])[] = DB_NAMES.map((n) => TABLE_KIND.get(n)!.af);

/** The states each family option brings, by AF number (ss's default_afs). */
export const DEFAULT_AF_STATES: Readonly<Record<number, number>> = {
  [AF.INET]: SS_CONN, [AF.INET6]: SS_CONN, [AF.UNIX]: SS_CONN, [AF.PACKET]: CLOSE_ONLY, [AF.NETLINK]: CLOSE_ONLY,
  [AF.VSOCK]: SS_CONN, [AF.TIPC]: TIPC_SS_CONN, [AF.XDP]: CLOSE_ONLY,
};

/** The table bits of a kind. */
export function kindDbs(protocol: ProtocolName): number {
  return socketKind(protocol).ssTables.reduce((m, t) => m | dbBit(db(t.name)), 0);
}

/** The tables of each family, by AF number. */
export const AF_DBS: Readonly<Record<number, number>> = (() => {
  const out: Record<number, number> = {};
  for (const k of SOCKET_KINDS) for (const af of k.af) out[af] = (out[af] ?? 0) | kindDbs(k.protocol);
  return out;
})();

/** One printed table: the library protocol that lists it and the ss tables it covers. */
export interface ShownTable {
  /** Library protocol name. */
  protocol: ProtocolName;
  /** The ss tables (bits) of this protocol; several for unix, packet, vsock (by socket type). */
  dbs: number;
}

/** The tables in the order ss prints them. */
export const PRINT_ORDER: readonly ShownTable[] = (['netlink', 'packet', 'unix', 'raw', 'udp', 'tcp', 'dccp', 'sctp', 'vsock', 'tipc', 'xdp', 'mptcp'] as const).map(
  (protocol) => ({ protocol, dbs: kindDbs(protocol) }),
);

/** ss's upper-case state names (the `ss` column of the state table). */
export const STATE_LABELS: Readonly<Record<SocketState, string>> = stateColumn('ss');
