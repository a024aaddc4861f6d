/**
 * The `INET_DIAG_*` reply attributes, one row per kernel constant, and the nested
 * tables they carry (ULP info: TLS and MPTCP subflow; BPF socket storages).
 * @module
 */
import { attr, codec, padAttr, defineAttributes, decodeAttributes, AttrCodec, AttrValues, AttributeCursor, NLA_HDRLEN, align4, emitAttributes, attributesSize } from '../../netlink/attributes';
import { structDecoder, encodeStruct, StructValue } from '../../netlink/struct';
import { DecodeError } from '../../errors';
import { IPPROTO, AF } from '../constants';
import { inetDiagMeminfo, inetDiagSockopt, tcpvegasInfo, tcpDctcpInfo, tcpBbrInfo, tcpDiagMd5sig, TcpDiagMd5sig, sockaddrStorage, sockaddrIn, sockaddrIn6 } from './structs';
import { fieldAt } from '../../netlink/offsets';
import { tcpInfo, TcpInfo } from './tcp-info';
import { mptcpInfo, MptcpInfo } from './mptcp-info';
import { skMeminfo } from '../common/skmeminfo';
import { formatIPv4, formatIPv6, parseAddressInto } from './address';

/** `TLS_INFO_*` (inside INET_ULP_INFO_TLS): kTLS state. */
export const tlsInfoAttributes = defineAttributes('tls_info', [
  attr(1, 'TLS_INFO_VERSION', 'version', codec.u16),
  attr(2, 'TLS_INFO_CIPHER', 'cipher', codec.u16),
  attr(3, 'TLS_INFO_TXCONF', 'txConf', codec.u16),
  attr(4, 'TLS_INFO_RXCONF', 'rxConf', codec.u16),
  attr(5, 'TLS_INFO_ZC_RO_TX', 'zerocopyReadOnlyTx', codec.bytes),
  attr(6, 'TLS_INFO_RX_NO_PAD', 'rxNoPad', codec.bytes),
] as const);

/** `MPTCP_SUBFLOW_ATTR_*` (inside INET_ULP_INFO_MPTCP): a TCP subflow of an MPTCP connection. */
export const mptcpSubflowAttributes = defineAttributes('mptcp_subflow_attrs', [
  attr(1, 'MPTCP_SUBFLOW_ATTR_TOKEN_REM', 'tokenRem', codec.u32),
  attr(2, 'MPTCP_SUBFLOW_ATTR_TOKEN_LOC', 'tokenLoc', codec.u32),
  attr(3, 'MPTCP_SUBFLOW_ATTR_RELWRITE_SEQ', 'relwriteSeq', codec.u32),
  attr(4, 'MPTCP_SUBFLOW_ATTR_MAP_SEQ', 'mapSeq', codec.u64),
  attr(5, 'MPTCP_SUBFLOW_ATTR_MAP_SFSEQ', 'mapSfseq', codec.u32),
  attr(6, 'MPTCP_SUBFLOW_ATTR_SSN_OFFSET', 'ssnOffset', codec.u32),
  attr(7, 'MPTCP_SUBFLOW_ATTR_MAP_DATALEN', 'mapDatalen', codec.u16),
  attr(8, 'MPTCP_SUBFLOW_ATTR_FLAGS', 'flags', codec.u32),
  attr(9, 'MPTCP_SUBFLOW_ATTR_ID_REM', 'idRem', codec.u8),
  attr(10, 'MPTCP_SUBFLOW_ATTR_ID_LOC', 'idLoc', codec.u8),
  padAttr(11, 'MPTCP_SUBFLOW_ATTR_PAD'),
] as const);

/** `INET_ULP_INFO_*` (inside INET_DIAG_ULP_INFO): the upper-layer protocol on a TCP socket. */
export const ulpInfoAttributes = defineAttributes('inet_ulp_info', [
  attr(1, 'INET_ULP_INFO_NAME', 'name', codec.string),
  attr(2, 'INET_ULP_INFO_TLS', 'tls', codec.nested(tlsInfoAttributes)),
  attr(3, 'INET_ULP_INFO_MPTCP', 'mptcp', codec.nested(mptcpSubflowAttributes)),
] as const);

/** `SK_DIAG_BPF_STORAGE_*`: one BPF socket-local storage value. */
export const bpfStorageAttributes = defineAttributes('sk_diag_bpf_storage', [
  padAttr(1, 'SK_DIAG_BPF_STORAGE_PAD'),
  attr(2, 'SK_DIAG_BPF_STORAGE_MAP_ID', 'mapId', codec.u32),
  attr(3, 'SK_DIAG_BPF_STORAGE_MAP_VALUE', 'value', codec.bytes),
] as const);

/** One BPF socket storage (`ss --bpf-maps`). */
export type BpfStorage = AttrValues<typeof bpfStorageAttributes>;

const SK_DIAG_BPF_STORAGE = 1;
const bpfStorage = codec.nested(bpfStorageAttributes);

/** INET_DIAG_SK_BPF_STORAGES: a list of SK_DIAG_BPF_STORAGE nests (the same type repeated). */
const bpfStorageList: AttrCodec<BpfStorage[]> = {
  decode(b, o, n, ctx) {
    const out: BpfStorage[] = [];
    const c = new AttributeCursor(b, o, o + n, 'sk_diag_bpf_storage');
    while (c.next()) if (c.type === SK_DIAG_BPF_STORAGE) out.push(bpfStorage.decode(b, c.payload, c.length, ctx));
    c.throwIfError();
    return out;
  },
  size: (v) => v.reduce((n, s) => n + align4(NLA_HDRLEN + attributesSize(bpfStorageAttributes, s as Record<string, unknown>)), 0),
  emit(v, b, o) {
    for (const s of v) {
      const size = attributesSize(bpfStorageAttributes, s as Record<string, unknown>);
      b.writeUInt16LE(NLA_HDRLEN + size, o);
      b.writeUInt16LE(SK_DIAG_BPF_STORAGE, o + 2);
      emitAttributes(bpfStorageAttributes, s as Record<string, unknown>, b, o + NLA_HDRLEN);
      o += align4(NLA_HDRLEN + size);
    }
  },
};

/** An address and port (`INET_DIAG_LOCALS`/`PEERS` entries, and every inet socket's ends). */
export interface InetEndpoint {
  /** Textual address as inet_ntop prints it (`0.0.0.0`/`::` for the wildcard). */
  address: string;
  /** Port number (host order). */
  port: number;
}

const SOCKADDR_STORAGE = sockaddrStorage.size;
const SS_FAMILY = fieldAt(sockaddrStorage, 'family', 'u16');
// sockaddr_in and sockaddr_in6 have their family and port at the same offsets.
const SIN_PORT = fieldAt(sockaddrIn, 'port', 'be16');
const SIN_ADDR = fieldAt(sockaddrIn, 'addr', 'bytes');
const SIN6_ADDR = fieldAt(sockaddrIn6, 'addr', 'bytes');
if (fieldAt(sockaddrIn6, 'port', 'be16') !== SIN_PORT || fieldAt(sockaddrIn, 'family', 'u16') !== SS_FAMILY) throw new Error('sockaddr tables disagree');

/** INET_DIAG_LOCALS / INET_DIAG_PEERS (SCTP): an array of `struct sockaddr_storage`. */
const endpointList: AttrCodec<InetEndpoint[]> = {
  decode(b, o, n) {
    const out: InetEndpoint[] = [];
    for (let at = o; at + SOCKADDR_STORAGE <= o + n; at += SOCKADDR_STORAGE) {
      const family = b.readUInt16LE(at + SS_FAMILY);
      const port = b.readUInt16BE(at + SIN_PORT);
      if (family === AF.INET) out.push({ address: formatIPv4(b, at + SIN_ADDR), port });
      else if (family === AF.INET6) out.push({ address: formatIPv6(b, at + SIN6_ADDR), port });
      else throw new DecodeError(`sockaddr family ${family} in an address list`, at, 'sockaddr_storage');
    }
    return out;
  },
  size: (v) => v.length * SOCKADDR_STORAGE,
  emit(v, b, o) {
    v.forEach((e, i) => {
      const at = o + i * SOCKADDR_STORAGE;
      const v6 = e.address.includes(':');
      b.writeUInt16LE(v6 ? AF.INET6 : AF.INET, at + SS_FAMILY);
      b.writeUInt16BE(e.port, at + SIN_PORT);
      parseAddressInto(e.address, b, at + (v6 ? SIN6_ADDR : SIN_ADDR));
    });
  },
};

/** A repeated fixed-size structure (INET_DIAG_MD5SIG: `struct tcp_diag_md5sig[]`). */
const md5sigList: AttrCodec<TcpDiagMd5sig[]> = (() => {
  const decode = structDecoder(tcpDiagMd5sig);
  const size = tcpDiagMd5sig.size;
  return {
    decode(b, o, n) {
      if (n % size !== 0) throw new DecodeError(`INET_DIAG_MD5SIG length ${n} is not a multiple of ${size}`, o, 'tcp_diag_md5sig');
      const out: TcpDiagMd5sig[] = [];
      for (let at = o; at < o + n; at += size) out.push(decode(b, at, size));
      return out;
    },
    size: (v) => v.length * size,
    emit: (v, b, o) => v.forEach((m, i) => encodeStruct(tcpDiagMd5sig, m, b, o + i * size)),
  };
})();

const tcpInfoCodec = codec.struct(tcpInfo);
const mptcpInfoCodec = codec.struct(mptcpInfo);

/** INET_DIAG_INFO's payload depends on the protocol: `tcp_info` for TCP, `mptcp_info` for MPTCP, raw otherwise. */
const infoCodec = codec.byContext<TcpInfo | MptcpInfo | Buffer>(
  (ctx) => (ctx.protocol === IPPROTO.TCP ? tcpInfoCodec : ctx.protocol === IPPROTO.MPTCP ? mptcpInfoCodec : undefined) as AttrCodec<TcpInfo | MptcpInfo | Buffer> | undefined,
  codec.bytes as AttrCodec<TcpInfo | MptcpInfo | Buffer>,
  (v) => (Buffer.isBuffer(v) ? codec.bytes : 'token' in v ? mptcpInfoCodec : tcpInfoCodec) as AttrCodec<TcpInfo | MptcpInfo | Buffer>,
);

/** The INET_DIAG_* attribute table. Names are the properties of decoded inet sockets. */
export const inetDiagAttributes = defineAttributes('inet_diag_attrs', [
  attr(1, 'INET_DIAG_MEMINFO', 'meminfo', codec.struct(inetDiagMeminfo)),
  attr(2, 'INET_DIAG_INFO', 'info', infoCodec),
  attr(3, 'INET_DIAG_VEGASINFO', 'vegas', codec.struct(tcpvegasInfo)),
  attr(4, 'INET_DIAG_CONG', 'cong', codec.string),
  attr(5, 'INET_DIAG_TOS', 'tos', codec.u8),
  attr(6, 'INET_DIAG_TCLASS', 'tclass', codec.u8),
  attr(7, 'INET_DIAG_SKMEMINFO', 'skmem', codec.struct(skMeminfo)),
  attr(8, 'INET_DIAG_SHUTDOWN', 'shutdown', codec.u8),
  attr(9, 'INET_DIAG_DCTCPINFO', 'dctcp', codec.struct(tcpDctcpInfo)),
  attr(10, 'INET_DIAG_PROTOCOL', 'protocolNumber', codec.u8),
  attr(11, 'INET_DIAG_SKV6ONLY', 'v6only', codec.bool8),
  attr(12, 'INET_DIAG_LOCALS', 'locals', endpointList),
  attr(13, 'INET_DIAG_PEERS', 'peers', endpointList),
  padAttr(14, 'INET_DIAG_PAD'),
  attr(15, 'INET_DIAG_MARK', 'mark', codec.u32),
  attr(16, 'INET_DIAG_BBRINFO', 'bbr', codec.struct(tcpBbrInfo)),
  attr(17, 'INET_DIAG_CLASS_ID', 'classId', codec.u32),
  attr(18, 'INET_DIAG_MD5SIG', 'md5sig', md5sigList),
  attr(19, 'INET_DIAG_ULP_INFO', 'ulp', codec.nested(ulpInfoAttributes)),
  attr(20, 'INET_DIAG_SK_BPF_STORAGES', 'bpfStorages', bpfStorageList),
  attr(21, 'INET_DIAG_CGROUP_ID', 'cgroupId', codec.u64),
  attr(22, 'INET_DIAG_SOCKOPT', 'sockopt', codec.struct(inetDiagSockopt)),
] as const);

/** Decoded INET_DIAG_* attributes. */
export type InetDiagAttributes = AttrValues<typeof inetDiagAttributes>;
/** The ULP attribute of a TCP socket (`tcp-ulp-tls`, `tcp-ulp-mptcp` in `ss -i`). */
export type UlpInfo = NonNullable<InetDiagAttributes['ulp']>;

/** Request attributes (`INET_DIAG_REQ_*`). */
export const INET_DIAG_REQ = { BYTECODE: 1, SK_BPF_STORAGES: 2, PROTOCOL: 3 } as const;

/** `idiag_ext` bits: which extensions a request asks for. */
export const INET_DIAG_EXT = {
  meminfo: 1 << 0,
  info: 1 << 1,
  vegas: 1 << 2,
  cong: 1 << 3,
  tos: 1 << 4,
  tclass: 1 << 5,
  skmeminfo: 1 << 6,
  shutdown: 1 << 7,
} as const;

/** An extension `idiag_ext` can ask for. */
export type InetExtension = keyof typeof INET_DIAG_EXT;

export { decodeAttributes };
export type { StructValue };
