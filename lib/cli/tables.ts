/**
 * ss's socket tables ("dbs"), families and state bits, with the defaults each table and
 * family option brings, and the order in which ss prints the tables.
 * @module
 */
import type { ProtocolName, SocketState } from '../diag/constants';

/** ss's table numbers (bit positions in a table mask). */
export const DB = {
  TCP: 0,
  MPTCP: 1,
  DCCP: 2,
  UDP: 3,
  RAW: 4,
  UNIX_DG: 5,
  UNIX_ST: 6,
  UNIX_SQ: 7,
  PACKET_DG: 8,
  PACKET_R: 9,
  NETLINK: 10,
  SCTP: 11,
  VSOCK_ST: 12,
  VSOCK_DG: 13,
  TIPC: 14,
  XDP: 15,
} as const;

/** Number of tables. */
export const DB_COUNT = 16;

/** The bit of one table. */
export const dbBit = (db: number): number => 1 << db;

/** Address family numbers. */
export const AF = { UNIX: 1, INET: 2, INET6: 10, NETLINK: 16, PACKET: 17, TIPC: 30, VSOCK: 40, XDP: 44 } as const;

/** ss's state numbers (bit positions in a state mask); BOUND_INACTIVE is from later ss versions. */
export const SS_STATE = {
  UNKNOWN: 0,
  ESTABLISHED: 1,
  SYN_SENT: 2,
  SYN_RECV: 3,
  FIN_WAIT1: 4,
  FIN_WAIT2: 5,
  TIME_WAIT: 6,
  CLOSE: 7,
  CLOSE_WAIT: 8,
  LAST_ACK: 9,
  LISTEN: 10,
  CLOSING: 11,
  NEW_SYN_RECV: 12,
  BOUND_INACTIVE: 13,
} as const;

/** Every state of ss 6.1 (`-a`, `state all`). */
export const SS_ALL = (1 << 12) - 1;
/** ss's "connected" default: all but listening, closed, time-wait and syn-recv. */
export const SS_CONN = SS_ALL & ~((1 << SS_STATE.LISTEN) | (1 << SS_STATE.CLOSE) | (1 << SS_STATE.TIME_WAIT) | (1 << SS_STATE.SYN_RECV));
const TIPC_SS_CONN = (1 << SS_STATE.ESTABLISHED) | (1 << SS_STATE.LISTEN) | (1 << SS_STATE.CLOSE);
const CLOSE_ONLY = 1 << SS_STATE.CLOSE;
const INET = [AF.INET, AF.INET6];

/** The states each table brings when selected, by table number. */
export const DEFAULT_DB_STATES: readonly number[] = [
  SS_CONN, SS_CONN, SS_CONN, 1 << SS_STATE.ESTABLISHED, 1 << SS_STATE.ESTABLISHED, CLOSE_ONLY, SS_CONN, SS_CONN,
  CLOSE_ONLY, CLOSE_ONLY, CLOSE_ONLY, SS_CONN, SS_CONN, SS_CONN, TIPC_SS_CONN, CLOSE_ONLY,
];

/** The families each table belongs to, by table number. */
export const DB_FAMILIES: readonly (readonly number[])[] = [
  INET, INET, INET, INET, INET, [AF.UNIX], [AF.UNIX], [AF.UNIX], [AF.PACKET], [AF.PACKET], [AF.NETLINK], INET,
  [AF.VSOCK], [AF.VSOCK], [AF.TIPC], [AF.XDP],
];

const INET_DBS = [DB.TCP, DB.MPTCP, DB.DCCP, DB.UDP, DB.RAW, DB.SCTP].reduce((m: number, d: number) => m | dbBit(d), 0);

/** The states and tables each family option brings, by AF number. */
export const DEFAULT_AF_STATES: Readonly<Record<number, number>> = {
  [AF.INET]: SS_CONN, [AF.INET6]: SS_CONN, [AF.UNIX]: SS_CONN, [AF.PACKET]: CLOSE_ONLY, [AF.NETLINK]: CLOSE_ONLY,
  [AF.VSOCK]: SS_CONN, [AF.TIPC]: TIPC_SS_CONN, [AF.XDP]: CLOSE_ONLY,
};

/** The tables of each family, by AF number. */
export const AF_DBS: Readonly<Record<number, number>> = {
  [AF.INET]: INET_DBS,
  [AF.INET6]: INET_DBS,
  [AF.UNIX]: dbBit(DB.UNIX_DG) | dbBit(DB.UNIX_ST) | dbBit(DB.UNIX_SQ),
  [AF.PACKET]: dbBit(DB.PACKET_DG) | dbBit(DB.PACKET_R),
  [AF.NETLINK]: dbBit(DB.NETLINK),
  [AF.VSOCK]: dbBit(DB.VSOCK_ST) | dbBit(DB.VSOCK_DG),
  [AF.TIPC]: dbBit(DB.TIPC),
  [AF.XDP]: dbBit(DB.XDP),
};

/** One printed table: the library protocol that lists it and the ss tables it covers. */
export interface ShownTable {
  /** Library protocol name. */
  protocol: ProtocolName;
  /** The ss tables (bits) of this protocol; several for unix, packet, vsock (by socket type). */
  dbs: number;
}

/** The tables in the order ss prints them (netlink, packet, unix, raw, udp, tcp, dccp, sctp, vsock, tipc, xdp, mptcp). */
export const PRINT_ORDER: readonly ShownTable[] = [
  { protocol: 'netlink', dbs: dbBit(DB.NETLINK) },
  { protocol: 'packet', dbs: dbBit(DB.PACKET_DG) | dbBit(DB.PACKET_R) },
  { protocol: 'unix', dbs: dbBit(DB.UNIX_DG) | dbBit(DB.UNIX_ST) | dbBit(DB.UNIX_SQ) },
  { protocol: 'raw', dbs: dbBit(DB.RAW) },
  { protocol: 'udp', dbs: dbBit(DB.UDP) },
  { protocol: 'tcp', dbs: dbBit(DB.TCP) },
  { protocol: 'dccp', dbs: dbBit(DB.DCCP) },
  { protocol: 'sctp', dbs: dbBit(DB.SCTP) },
  { protocol: 'vsock', dbs: dbBit(DB.VSOCK_ST) | dbBit(DB.VSOCK_DG) },
  { protocol: 'tipc', dbs: dbBit(DB.TIPC) },
  { protocol: 'xdp', dbs: dbBit(DB.XDP) },
  { protocol: 'mptcp', dbs: dbBit(DB.MPTCP) },
];

/** ss's upper-case state names. */
export const STATE_LABELS: Readonly<Record<SocketState, string>> = {
  unknown: 'UNKNOWN',
  established: 'ESTAB',
  'syn-sent': 'SYN-SENT',
  'syn-recv': 'SYN-RECV',
  'fin-wait-1': 'FIN-WAIT-1',
  'fin-wait-2': 'FIN-WAIT-2',
  'time-wait': 'TIME-WAIT',
  closed: 'UNCONN',
  'close-wait': 'CLOSE-WAIT',
  'last-ack': 'LAST-ACK',
  listening: 'LISTEN',
  closing: 'CLOSING',
  'new-syn-recv': 'NEW-SYN-RECV',
  'bound-inactive': 'BOUND-INACTIVE',
};
