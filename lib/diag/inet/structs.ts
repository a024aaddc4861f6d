/**
 * The fixed structures of inet_diag (linux/inet_diag.h, linux/tcp.h), one table each.
 * @module
 */
import { defineStruct, FieldSpec, StructValue } from '../../netlink/struct';

const sockidFields = [
  { name: 'sport', orig: 'idiag_sport', type: 'be16', offset: 0 },
  { name: 'dport', orig: 'idiag_dport', type: 'be16', offset: 2 },
  { name: 'src', orig: 'idiag_src', type: 'bytes', offset: 4, length: 16 },
  { name: 'dst', orig: 'idiag_dst', type: 'bytes', offset: 20, length: 16 },
  { name: 'ifindex', orig: 'idiag_if', type: 'u32', offset: 36 },
  { name: 'cookie', orig: 'idiag_cookie', type: 'u64', offset: 40 },
] as const;

/** `struct inet_diag_sockid`: the socket's addresses, ports, interface and cookie. */
export const inetDiagSockid = defineStruct('inet_diag_sockid', 48, sockidFields);

/** The sockid's fields as members of a structure that embeds it (`id`) at byte `base`. */
function embeddedSockid(base: number): Embedded<typeof sockidFields> {
  return sockidFields.map((f) => ({ ...f, orig: `id.${f.orig}`, offset: f.offset + base })) as unknown as Embedded<typeof sockidFields>;
}
type Embedded<T extends readonly FieldSpec[]> = { readonly [K in keyof T]: Omit<T[K], 'orig' | 'offset'> & { readonly orig: string; readonly offset: number } };

/** `struct inet_diag_req_v2`: a dump (or get/destroy) request. */
export const inetDiagReqV2 = defineStruct('inet_diag_req_v2', 56, [
  { name: 'family', orig: 'sdiag_family', type: 'u8', offset: 0 },
  { name: 'protocol', orig: 'sdiag_protocol', type: 'u8', offset: 1 },
  { name: 'ext', orig: 'idiag_ext', type: 'u8', offset: 2 },
  // The pad byte is sdiag_raw_protocol in struct inet_diag_req_raw (raw sockets).
  { name: 'rawProtocol', orig: 'pad', type: 'u8', offset: 3 },
  { name: 'states', orig: 'idiag_states', type: 'u32', offset: 4 },
  ...embeddedSockid(8),
] as const);

/**
 * `struct inet_diag_req`: the original request, read by TCPDIAG_GETSOCK. Its family may be
 * AF_UNSPEC (both families in one walk); `dbs` is unused.
 */
export const inetDiagReq = defineStruct('inet_diag_req', 60, [
  { name: 'family', orig: 'idiag_family', type: 'u8', offset: 0 },
  { name: 'srcLen', orig: 'idiag_src_len', type: 'u8', offset: 1 },
  { name: 'dstLen', orig: 'idiag_dst_len', type: 'u8', offset: 2 },
  { name: 'ext', orig: 'idiag_ext', type: 'u8', offset: 3 },
  ...embeddedSockid(4),
  { name: 'states', orig: 'idiag_states', type: 'u32', offset: 52 },
  { name: 'dbs', orig: 'idiag_dbs', type: 'u32', offset: 56 },
] as const);

/** `struct inet_diag_msg`: the fixed part of every inet reply. */
export const inetDiagMsg = defineStruct('inet_diag_msg', 72, [
  { name: 'family', orig: 'idiag_family', type: 'u8', offset: 0 },
  { name: 'state', orig: 'idiag_state', type: 'u8', offset: 1 },
  { name: 'timer', orig: 'idiag_timer', type: 'u8', offset: 2 },
  { name: 'retrans', orig: 'idiag_retrans', type: 'u8', offset: 3 },
  ...embeddedSockid(4),
  { name: 'expires', orig: 'idiag_expires', type: 'u32', offset: 52 },
  { name: 'rqueue', orig: 'idiag_rqueue', type: 'u32', offset: 56 },
  { name: 'wqueue', orig: 'idiag_wqueue', type: 'u32', offset: 60 },
  { name: 'uid', orig: 'idiag_uid', type: 'u32', offset: 64 },
  { name: 'inode', orig: 'idiag_inode', type: 'u32', offset: 68 },
] as const);

/** `struct inet_diag_meminfo` (INET_DIAG_MEMINFO), bytes. */
export const inetDiagMeminfo = defineStruct('inet_diag_meminfo', 16, [
  { name: 'rmem', orig: 'idiag_rmem', type: 'u32', offset: 0 },
  { name: 'wmem', orig: 'idiag_wmem', type: 'u32', offset: 4 },
  { name: 'fmem', orig: 'idiag_fmem', type: 'u32', offset: 8 },
  { name: 'tmem', orig: 'idiag_tmem', type: 'u32', offset: 12 },
] as const, { growable: true });
/** Socket memory as INET_DIAG_MEMINFO reports it (`ss -m` `mem:(r,w,f,t)` on old kernels). */
export type InetDiagMeminfo = StructValue<typeof inetDiagMeminfo>;

/** `struct inet_diag_sockopt` (INET_DIAG_SOCKOPT): socket options as bits. */
export const inetDiagSockopt = defineStruct('inet_diag_sockopt', 2, [
  { name: 'recverr', orig: 'recverr', type: 'u8', offset: 0, bits: [0, 1] },
  { name: 'isIcsk', orig: 'is_icsk', type: 'u8', offset: 0, bits: [1, 1] },
  { name: 'freebind', orig: 'freebind', type: 'u8', offset: 0, bits: [2, 1] },
  { name: 'hdrincl', orig: 'hdrincl', type: 'u8', offset: 0, bits: [3, 1] },
  { name: 'mcLoop', orig: 'mc_loop', type: 'u8', offset: 0, bits: [4, 1] },
  { name: 'transparent', orig: 'transparent', type: 'u8', offset: 0, bits: [5, 1] },
  { name: 'mcAll', orig: 'mc_all', type: 'u8', offset: 0, bits: [6, 1] },
  { name: 'nodefrag', orig: 'nodefrag', type: 'u8', offset: 0, bits: [7, 1] },
  { name: 'bindAddressNoPort', orig: 'bind_address_no_port', type: 'u8', offset: 1, bits: [0, 1] },
  { name: 'recverrRfc4884', orig: 'recverr_rfc4884', type: 'u8', offset: 1, bits: [1, 1] },
  { name: 'deferConnect', orig: 'defer_connect', type: 'u8', offset: 1, bits: [2, 1] },
  { name: 'unused', orig: 'unused', type: 'u8', offset: 1, bits: [3, 5] },
] as const, { growable: true });
/** Socket option bits from INET_DIAG_SOCKOPT (`ss --inet-sockopt`); each is 0 or 1. */
export type InetDiagSockopt = StructValue<typeof inetDiagSockopt>;

/** `struct tcpvegas_info` (INET_DIAG_VEGASINFO). */
export const tcpvegasInfo = defineStruct('tcpvegas_info', 16, [
  { name: 'enabled', orig: 'tcpv_enabled', type: 'u32', offset: 0 },
  { name: 'rttcnt', orig: 'tcpv_rttcnt', type: 'u32', offset: 4 },
  { name: 'rttUs', orig: 'tcpv_rtt', type: 'u32', offset: 8 },
  { name: 'minRttUs', orig: 'tcpv_minrtt', type: 'u32', offset: 12 },
] as const, { growable: true });
/** TCP Vegas state. */
export type TcpVegasInfo = StructValue<typeof tcpvegasInfo>;

/** `struct tcp_dctcp_info` (INET_DIAG_DCTCPINFO). */
export const tcpDctcpInfo = defineStruct('tcp_dctcp_info', 16, [
  { name: 'enabled', orig: 'dctcp_enabled', type: 'u16', offset: 0 },
  { name: 'ceState', orig: 'dctcp_ce_state', type: 'u16', offset: 2 },
  { name: 'alpha', orig: 'dctcp_alpha', type: 'u32', offset: 4 },
  { name: 'abEcn', orig: 'dctcp_ab_ecn', type: 'u32', offset: 8 },
  { name: 'abTot', orig: 'dctcp_ab_tot', type: 'u32', offset: 12 },
] as const, { growable: true });
/** DCTCP state. */
export type TcpDctcpInfo = StructValue<typeof tcpDctcpInfo>;

/** `struct tcp_bbr_info` (INET_DIAG_BBRINFO). `bw` is the u64 made of bbr_bw_lo/hi. */
export const tcpBbrInfo = defineStruct('tcp_bbr_info', 20, [
  { name: 'bwBytesPerSec', orig: 'bbr_bw_lo', type: 'u64', offset: 0 },
  { name: 'minRttUs', orig: 'bbr_min_rtt', type: 'u32', offset: 8 },
  { name: 'pacingGain', orig: 'bbr_pacing_gain', type: 'u32', offset: 12 },
  { name: 'cwndGain', orig: 'bbr_cwnd_gain', type: 'u32', offset: 16 },
] as const, { growable: true });
/** BBR state; gains are fixed-point numbers shifted left by 8 bits. */
export type TcpBbrInfo = StructValue<typeof tcpBbrInfo>;

/** `struct tcp_diag_md5sig` (one element of INET_DIAG_MD5SIG). */
export const tcpDiagMd5sig = defineStruct('tcp_diag_md5sig', 100, [
  { name: 'family', orig: 'tcpm_family', type: 'u8', offset: 0 },
  { name: 'prefixlen', orig: 'tcpm_prefixlen', type: 'u8', offset: 1 },
  { name: 'keylen', orig: 'tcpm_keylen', type: 'u16', offset: 2 },
  { name: 'addr', orig: 'tcpm_addr', type: 'bytes', offset: 4, length: 16 },
  { name: 'key', orig: 'tcpm_key', type: 'bytes', offset: 20, length: 80 },
] as const);
/** One TCP-MD5 key as the kernel reports it. */
export type TcpDiagMd5sig = StructValue<typeof tcpDiagMd5sig>;

/** `struct inet_diag_bc_op`: one instruction of an `INET_DIAG_REQ_BYTECODE` filter program. */
export const inetDiagBcOp = defineStruct('inet_diag_bc_op', 4, [
  { name: 'code', orig: 'code', type: 'u8', offset: 0 },
  { name: 'yes', orig: 'yes', type: 'u8', offset: 1 },
  { name: 'no', orig: 'no', type: 'u16', offset: 2 },
] as const);

/**
 * `struct inet_diag_hostcond`: the operand of `INET_DIAG_BC_S_COND`/`D_COND`, right after
 * the op. `addr` is a flexible array member: 4 (AF_INET) or 16 (AF_INET6) bytes follow, or
 * none for AF_UNSPEC (ss sends 4 zero bytes then).
 */
export const inetDiagHostcond = defineStruct('inet_diag_hostcond', 8, [
  { name: 'family', orig: 'family', type: 'u8', offset: 0 },
  { name: 'prefixLen', orig: 'prefix_len', type: 'u8', offset: 1 },
  { name: 'port', orig: 'port', type: 's32', offset: 4 },
  { name: 'addr', orig: 'addr', type: 'bytes', offset: 8, length: 0 },
] as const);

/** `struct inet_diag_markcond`: the operand of `INET_DIAG_BC_MARK_COND`. */
export const inetDiagMarkcond = defineStruct('inet_diag_markcond', 8, [
  { name: 'mark', orig: 'mark', type: 'u32', offset: 0 },
  { name: 'mask', orig: 'mask', type: 'u32', offset: 4 },
] as const);

/** `struct sockaddr_storage`: room for any address; only its family is common to all. */
export const sockaddrStorage = defineStruct('sockaddr_storage', 128, [
  { name: 'family', orig: 'ss_family', type: 'u16', offset: 0 },
] as const);

/** `struct sockaddr_in`: an IPv4 address and port. */
export const sockaddrIn = defineStruct('sockaddr_in', 16, [
  { name: 'family', orig: 'sin_family', type: 'u16', offset: 0 },
  { name: 'port', orig: 'sin_port', type: 'be16', offset: 2 },
  { name: 'addr', orig: 'sin_addr', type: 'bytes', offset: 4, length: 4 },
] as const);

/** `struct sockaddr_in6`: an IPv6 address and port. */
export const sockaddrIn6 = defineStruct('sockaddr_in6', 28, [
  { name: 'family', orig: 'sin6_family', type: 'u16', offset: 0 },
  { name: 'port', orig: 'sin6_port', type: 'be16', offset: 2 },
  { name: 'flowinfo', orig: 'sin6_flowinfo', type: 'be32', offset: 4 },
  { name: 'addr', orig: 'sin6_addr', type: 'bytes', offset: 8, length: 16 },
  { name: 'scopeId', orig: 'sin6_scope_id', type: 'u32', offset: 24 },
] as const);
