/**
 * Numbers from the uapi headers shared by every family, and the name tables that
 * turn them into the words `ss` uses.
 * @module
 */

/** `nlmsg_type` of sock_diag requests. */
export const SOCK_DIAG_BY_FAMILY = 20;
/** `nlmsg_type` of a destroy request. */
export const SOCK_DESTROY = 21;
/**
 * `nlmsg_type` of the original TCP dump request (`struct inet_diag_req`). The kernel still
 * serves it, and it alone takes family AF_UNSPEC: one walk of the TCP tables for both families.
 */
export const TCPDIAG_GETSOCK = 18;

/** Address families (AF_*). */
export const AF = {
  UNSPEC: 0,
  UNIX: 1,
  INET: 2,
  NETLINK: 16,
  PACKET: 17,
  INET6: 10,
  TIPC: 30,
  VSOCK: 40,
  SMC: 43,
  XDP: 44,
} as const;

/** IP protocols (IPPROTO_*). */
export const IPPROTO = {
  IP: 0,
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  DCCP: 33,
  IPV6: 41,
  ICMPV6: 58,
  SCTP: 132,
  UDPLITE: 136,
  RAW: 255,
  MPTCP: 262,
} as const;

/** The `protocol` tag of each socket kind. */
export type ProtocolName = 'tcp' | 'udp' | 'udplite' | 'raw' | 'mptcp' | 'sctp' | 'dccp' | 'unix' | 'packet' | 'netlink' | 'vsock' | 'tipc' | 'xdp';

/** The `family` of each socket. */
export type FamilyName = 'inet' | 'inet6' | 'unix' | 'packet' | 'netlink' | 'vsock' | 'tipc' | 'xdp';

/** AF number → family name. */
export const FAMILY_NAMES: Readonly<Record<number, FamilyName>> = {
  [AF.UNIX]: 'unix',
  [AF.INET]: 'inet',
  [AF.INET6]: 'inet6',
  [AF.NETLINK]: 'netlink',
  [AF.PACKET]: 'packet',
  [AF.TIPC]: 'tipc',
  [AF.VSOCK]: 'vsock',
  [AF.XDP]: 'xdp',
};

/**
 * The one state table: a row per kernel socket state, indexed by its number (TCP_ESTABLISHED
 * = 1 …; the other families reuse the numbers). Each row gives the name the library and ss's
 * filters use, the label of ss's State column, node_exporter's `node_tcp_connection_states`
 * `state` value and OpenTelemetry's `network.connection.state`. A request socket
 * (`new-syn-recv`) is a connection in SYN-RECV to both metrics.
 */
export const STATES = [
  { name: 'unknown', ss: 'UNKNOWN', prometheus: 'unknown', otel: 'unknown' },
  { name: 'established', ss: 'ESTAB', prometheus: 'established', otel: 'established' },
  { name: 'syn-sent', ss: 'SYN-SENT', prometheus: 'syn_sent', otel: 'syn_sent' },
  { name: 'syn-recv', ss: 'SYN-RECV', prometheus: 'syn_recv', otel: 'syn_received' },
  { name: 'fin-wait-1', ss: 'FIN-WAIT-1', prometheus: 'fin_wait1', otel: 'fin_wait_1' },
  { name: 'fin-wait-2', ss: 'FIN-WAIT-2', prometheus: 'fin_wait2', otel: 'fin_wait_2' },
  { name: 'time-wait', ss: 'TIME-WAIT', prometheus: 'time_wait', otel: 'time_wait' },
  { name: 'closed', ss: 'UNCONN', prometheus: 'close', otel: 'closed' },
  { name: 'close-wait', ss: 'CLOSE-WAIT', prometheus: 'close_wait', otel: 'close_wait' },
  { name: 'last-ack', ss: 'LAST-ACK', prometheus: 'last_ack', otel: 'last_ack' },
  { name: 'listening', ss: 'LISTEN', prometheus: 'listen', otel: 'listen' },
  { name: 'closing', ss: 'CLOSING', prometheus: 'closing', otel: 'closing' },
  { name: 'new-syn-recv', ss: 'NEW-SYN-RECV', prometheus: 'syn_recv', otel: 'syn_received' },
  { name: 'bound-inactive', ss: 'BOUND-INACTIVE', prometheus: 'bound_inactive', otel: 'bound_inactive' },
] as const;

/** Socket states by the names `ss` uses in filters (`state established`, …). */
export type SocketState = (typeof STATES)[number]['name'];

/** Kernel state numbers (TCP_ESTABLISHED = 1 …) by index. Other families reuse them. */
export const STATE_NAMES: readonly SocketState[] = STATES.map((r) => r.name);

/** One column of {@link STATES} by state name (e.g. `stateColumn('ss').established` = `'ESTAB'`). */
export function stateColumn(column: 'ss' | 'prometheus' | 'otel'): Readonly<Record<SocketState, string>> {
  return Object.fromEntries(STATES.map((r) => [r.name, r[column]])) as Record<SocketState, string>;
}

/** State name → kernel number. */
export const STATE_NUMBERS: Readonly<Record<SocketState, number>> = Object.fromEntries(STATE_NAMES.map((n, i) => [n, i])) as Record<SocketState, number>;

/** The state name of a kernel state number (`'unknown'` outside the table). */
export function stateName(n: number): SocketState {
  return STATE_NAMES[n] ?? 'unknown';
}

/** Bit mask of every state. */
export const ALL_STATES_MASK = 0xffffffff;

/**
 * What a listing asks for when no state is named: every state but bound-inactive, as `ss -a`
 * does. Asking for bound-inactive (TCP sockets bound but neither listening nor connected)
 * makes the kernel walk the bind hash table as well, which at 100k sockets costs about as
 * much as the rest of the dump; name the state to get them.
 */
export const DEFAULT_STATES_MASK = (ALL_STATES_MASK & ~(1 << 13)) >>> 0;

/**
 * The request bit mask (`1 << state`) for a list of state names, or a mask given as a
 * number (checked); undefined means {@link DEFAULT_STATES_MASK}.
 */
export function stateMask(states: number | readonly SocketState[] | undefined): number {
  if (states === undefined) return DEFAULT_STATES_MASK;
  if (typeof states === 'number') {
    if (!Number.isInteger(states) || states < 0 || states > 0xffffffff) throw new RangeError(`states mask out of range: ${states}`);
    return states;
  }
  let mask = 0;
  for (const name of states) {
    const n = STATE_NUMBERS[name];
    if (n === undefined) throw new TypeError(`unknown socket state: ${String(name)}`);
    mask |= 1 << n;
  }
  return mask >>> 0;
}

/** Socket types (SOCK_*), used by unix, packet, vsock and tipc. */
export const SOCK_TYPE_NAMES: Readonly<Record<number, SocketTypeName>> = {
  1: 'stream',
  2: 'dgram',
  3: 'raw',
  4: 'rdm',
  5: 'seqpacket',
};

/** Names of socket types. */
export type SocketTypeName = 'stream' | 'dgram' | 'raw' | 'rdm' | 'seqpacket';
