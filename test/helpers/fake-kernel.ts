/**
 * A fake NETLINK_SOCK_DIAG kernel, so that every consumer of channels runs without root.
 *
 * `fakeKernel(spec).channels` is a {@link ChannelFactory}. Its channels answer the request
 * bytes the library sends the way the kernel does: the request is decoded (inet_diag_req_v2,
 * the legacy inet_diag_req of TCPDIAG_GETSOCK, unix/packet/netlink/vsock/tipc/xdp requests,
 * SOCK_DESTROY), the socket table the test declared is filtered (state mask, idiag_ext and
 * show bits, INET_DIAG_REQ_BYTECODE run by the library's own interpreter after the kernel's
 * audit) and the replies are encoded with the library's own encoders, split into datagrams as
 * the kernel splits a dump (NLM_F_MULTI, NLMSG_DONE last, the first datagram at most
 * NLMSG_GOODSIZE, later ones sized to the reader's buffer) and delivered by `read()` in
 * batches, as the addon delivers them. A dump is produced as it is read, so changing the table
 * between reads misses or repeats sockets as a real non-atomic dump does.
 *
 * Faults are injected per request ({@link FaultRule}) or by the test while it runs
 * (`failNextOpen`, `release`, `emitDestroy`, the table's mutations). A `respond` script can
 * answer requests itself (a function from request bytes to reply datagrams), and
 * {@link nlmsg}, {@link done} and {@link errorMsg} build such replies.
 *
 * What the kernel does is taken from measurements on the target kernel (see
 * reliability.md §3 in the design notes): e.g. a dump of an inet protocol without a handler ends
 * with NLMSG_DONE carrying -ENOENT, a family without one gets NLMSG_ERROR ENOENT, a second dump
 * on a channel whose dump still runs gets EBUSY, destroy events come with seq 0 and pid 0.
 * @module
 */
import { constants as osConstants } from 'node:os';
import type { ChannelFactory, ChannelRequest, EngineChannel } from '../../lib/engine/channel';
import { netnsPath, type Datagrams, type NetnsRef } from '../../lib/netlink/channel';
import { errnoName, fromNativeError } from '../../lib/errors';
import { withNetnsDetail } from '../../lib/netlink/netns';
import { NLMSG, NLM_F, NLMSG_HDRLEN } from '../../lib/netlink/message';
import { align4, NLA_HDRLEN, NLA_TYPE_MASK, type RawAttribute } from '../../lib/netlink/attributes';
import { structDecoder } from '../../lib/netlink/struct';
import { AF, IPPROTO, SOCK_DESTROY, SOCK_DIAG_BY_FAMILY, TCPDIAG_GETSOCK, STATE_NUMBERS, FAMILY_NAMES, type FamilyName, type ProtocolName, type SocketState } from '../../lib/diag/constants';
import {
  encodeInetMessage, inetDiagReq, inetDiagReqV2, INET_DIAG_EXT, INET_DIAG_REQ, INET_PROTOCOLS, TIMER_NAMES, parseAddressInto, tcpInfo, mptcpInfo,
  type InetDiagAttributes, type InetEndpoint, type InetProtocolName, type InetTimer, type TcpInfo, type MptcpInfo,
} from '../../lib/diag/inet';
import { encodeUnixMessage, unixDiagReq, UDIAG_SHOW, type UnixMessageInput } from '../../lib/diag/unix';
import { encodePacketMessage, packetDiagReq, PACKET_SHOW, type PacketMessageInput } from '../../lib/diag/packet';
import { encodeNetlinkMessage, netlinkDiagReq, NDIAG_SHOW, NDIAG_PROTO_ALL, type NetlinkMessageInput } from '../../lib/diag/netlink';
import { encodeVsockMessage, vsockDiagReq, type VsockSocket } from '../../lib/diag/vsock';
import { encodeTipcMessage, tipcSockDiagReq, type TipcSocket } from '../../lib/diag/tipc';
import { encodeXdpMessage, xdpDiagReq, XDP_SHOW, type XdpSocket } from '../../lib/diag/xdp';
import type { SkMeminfo } from '../../lib/diag/common/skmeminfo';
import { auditBytecode, runBytecode, INET_DIAG_BC } from '../../lib/filter/bytecode';

// ---------------------------------------------------------------------------------------
// Message builders (for scripts, and used by the fake kernel itself).

/** Builds a netlink message: header + payload, padded to 4. */
export function nlmsg(type: number, flags: number, seq: number, pid: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const len = NLMSG_HDRLEN + payload.length;
  const b = Buffer.alloc(align4(len));
  b.writeUInt32LE(len, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt16LE(flags, 6);
  b.writeUInt32LE(seq >>> 0, 8);
  b.writeUInt32LE(pid >>> 0, 12);
  payload.copy(b, NLMSG_HDRLEN);
  return b;
}

/** NLMSGERR_ATTR_MSG carrying `text`, as the kernel appends it (NLM_F_ACK_TLVS). */
function extackAttr(text: string): Buffer {
  const s = Buffer.from(text + '\0', 'latin1');
  const tlv = Buffer.alloc(align4(NLA_HDRLEN + s.length));
  tlv.writeUInt16LE(NLA_HDRLEN + s.length, 0);
  tlv.writeUInt16LE(1, 2);
  s.copy(tlv, NLA_HDRLEN);
  return tlv;
}

/** NLMSG_DONE with an int payload (0 = success, negative = error), optionally with an extack message. */
export function done(seq: number, pid: number, error = 0, flags: number = NLM_F.MULTI, extack?: string): Buffer {
  const p = Buffer.alloc(4);
  p.writeInt32LE(error, 0);
  if (extack === undefined) return nlmsg(NLMSG.DONE, flags, seq, pid, p);
  return nlmsg(NLMSG.DONE, flags | NLM_F.ACK_TLVS, seq, pid, Buffer.concat([p, extackAttr(extack)]));
}

/**
 * NLMSG_ERROR carrying `error` and the request: only its header when `capped` (the default,
 * and what the kernel sends with an ack), else the whole first message of `request` (what the
 * kernel sends with an error), then the extack message if any.
 */
export function errorMsg(seq: number, pid: number, error: number, request: Buffer, extack?: string, capped = true): Buffer {
  const code = Buffer.alloc(4);
  code.writeInt32LE(error, 0);
  const whole = Math.min(request.readUInt32LE(0), request.length);
  const inner = capped ? request.subarray(0, NLMSG_HDRLEN) : Buffer.concat([request.subarray(0, whole), Buffer.alloc(align4(whole) - whole)]);
  const parts = [code, inner];
  let flags: number = capped ? NLM_F.CAPPED : 0;
  if (extack !== undefined) {
    flags |= NLM_F.ACK_TLVS;
    parts.push(extackAttr(extack));
  }
  return nlmsg(NLMSG.ERROR, flags, seq, pid, Buffer.concat(parts));
}

/** An errno by number (either sign) or name (`'EBUSY'`). */
export type Errno = number | keyof typeof osConstants.errno;

/** The negative errno of `e`. */
export function negErrno(e: Errno): number {
  const n = typeof e === 'number' ? Math.abs(e) : osConstants.errno[e];
  if (!Number.isInteger(n) || n <= 0) throw new TypeError(`not an errno: ${String(e)}`);
  return -n;
}

// The addon's error shapes, turned into the library's errors as Channel does.
function systemError(errno: number, syscall: string, context = {}): unknown {
  const code = errnoName(errno);
  return fromNativeError(Object.assign(new Error(`${syscall} ${code} (${code})`), { code, errno, syscall }), context);
}
function libraryError(code: string, message: string): unknown {
  return fromNativeError(Object.assign(new Error(message), { code }));
}

// ---------------------------------------------------------------------------------------
// The socket table.

/** Extension attributes of an inet socket; `info` may be partial (the rest reads as zeros, as a full kernel struct). */
export type FakeInetAttributes = Omit<InetDiagAttributes, 'info' | 'skmem'> & {
  info?: Partial<TcpInfo> | Partial<MptcpInfo> | Buffer;
  skmem?: Partial<SkMeminfo>;
  unknown?: RawAttribute[];
};

/** An inet socket of the table, in the shape listings return it. */
export interface FakeInetSocket {
  protocol: InetProtocolName;
  /** Default: from `local.address` (`inet6` when it has a colon). */
  family?: 'inet' | 'inet6';
  /** Default `'established'`. */
  state?: SocketState;
  /** Default the wildcard address, port 0. For raw sockets the port is the IP protocol. */
  local?: InetEndpoint;
  remote?: InetEndpoint;
  /** Bound interface index (default 0). */
  interface?: number;
  /** Default: a fresh cookie. */
  cookie?: bigint;
  /** Default: a fresh inode (give 0 for orphans and time-wait sockets). */
  inode?: number;
  uid?: number;
  recvQ?: number;
  sendQ?: number;
  timer?: InetTimer;
  /**
   * Attributes. Each is sent when the kernel would: `meminfo`, `info`, `vegas`/`dctcp`/`bbr`,
   * `cong`, `tos`, `tclass`/`classId`, `skmem` when idiag_ext asks for them; `mark` and `md5sig`
   * only to a privileged kernel; `v6only` on listening/closed inet6 sockets; the others always.
   */
  attrs?: FakeInetAttributes;
  /** Whether the user bound the port (what INET_DIAG_BC_AUTO tests); default false. */
  userBoundPort?: boolean;
  /** SOCK_DESTROY acks it but it stays in the table (an orphan in FIN-WAIT-1, say). */
  survivesDestroy?: boolean;
}

type Meminfo = { meminfo?: Partial<SkMeminfo> };
/** A unix socket of the table (the encoder's input; defaults: type stream, state established). */
export type FakeUnixSocket = { protocol: 'unix' } & Omit<UnixMessageInput, 'meminfo'> & Meminfo;
/** A packet socket of the table (default type raw). */
export type FakePacketSocket = { protocol: 'packet' } & Omit<PacketMessageInput, 'meminfo'> & Meminfo;
/** A netlink socket of the table (default type raw, protocol 0). The fake's own channels are listed too. */
export type FakeNetlinkSocket = { protocol: 'netlink' } & Omit<NetlinkMessageInput, 'meminfo'> & Meminfo;
/** A vsock socket of the table (defaults: stream, established, local 3:1024, remote 2:0). */
export type FakeVsockSocket = { protocol: 'vsock' } & Partial<Omit<VsockSocket, 'protocol'>>;
/** A TIPC socket of the table (defaults: rdm, closed). */
export type FakeTipcSocket = { protocol: 'tipc' } & Partial<Omit<TipcSocket, 'protocol'>>;
/** An XDP socket of the table (default type raw). */
export type FakeXdpSocket = { protocol: 'xdp' } & Partial<Omit<XdpSocket, 'protocol'>>;

/** Any socket of the table, discriminated on `protocol` like the library's sockets. */
export type FakeSocket = FakeInetSocket | FakeUnixSocket | FakePacketSocket | FakeNetlinkSocket | FakeVsockSocket | FakeTipcSocket | FakeXdpSocket;

/** A socket as the table holds it: its cookie and inode are set. */
export type TableSocket = FakeSocket & { cookie: bigint; inode: number };

const INET_NAMES = new Set<string>(Object.keys(INET_PROTOCOLS));
const isInet = (s: FakeSocket): s is FakeInetSocket & TableSocket => INET_NAMES.has(s.protocol);
const PROTOCOL_BY_NUMBER = new Map<number, InetProtocolName>(Object.entries(INET_PROTOCOLS).map(([k, v]) => [v, k as InetProtocolName]));
const familyOf = (s: FakeInetSocket): 'inet' | 'inet6' => s.family ?? ((s.local ?? s.remote)?.address.includes(':') ? 'inet6' : 'inet');
const stateOf = (s: FakeSocket): number => {
  const name = (s as { state?: SocketState }).state ?? (s.protocol === 'tipc' || s.protocol === 'xdp' ? 'closed' : 'established');
  return STATE_NUMBERS[name];
};

// ---------------------------------------------------------------------------------------
// Requests as the fake kernel decoded them.

/** What a request asked for. */
export type RequestKind = 'dump' | 'get' | 'destroy';

/** How the fake kernel answered a request. */
export type AnswerKind = 'dump' | 'error' | 'message' | 'ack' | 'none' | 'dropped' | 'held' | 'script';

/** One netlink message a channel sent, decoded. */
export interface FakeRequest {
  /** The channel it came on. */
  channel: FakeKernelChannel;
  /** The message's bytes (a copy). */
  bytes: Buffer;
  type: number;
  flags: number;
  seq: number;
  pid: number;
  kind: RequestKind;
  /** `sdiag_family` (for TCPDIAG_GETSOCK, `idiag_family`), and its name when it has one. */
  family?: number;
  familyName?: FamilyName;
  /** The socket kind asked about (inet: from sdiag_protocol or INET_DIAG_REQ_PROTOCOL). */
  protocol?: ProtocolName;
  /** The protocol number as sent (inet sdiag_protocol, packet/netlink sdiag_protocol). */
  protocolNumber?: number;
  states?: number;
  /** inet `idiag_ext`. */
  ext?: number;
  /** unix/packet/netlink/xdp show bits. */
  show?: number;
  /** INET_DIAG_REQ_BYTECODE. */
  bytecode?: Buffer;
  /** inet `sdiag_raw_protocol`. */
  rawProtocol?: number;
  /** inet socket id (get, destroy). */
  id?: { sport: number; dport: number; src: Buffer; dst: Buffer; ifindex: number; cookie: bigint };
  /** unix/packet inode and cookie (get). */
  inode?: number;
  cookie?: bigint;
  /** Why the kernel refused it as malformed (EINVAL). */
  invalid?: string;
  /** How it was answered, and the errno when that was an error (in NLMSG_ERROR or NLMSG_DONE). */
  answer?: AnswerKind;
  errno?: number;
}

const decodeReqV2 = structDecoder(inetDiagReqV2);
const decodeReqLegacy = structDecoder(inetDiagReq);
const decodeUnixReq = structDecoder(unixDiagReq);
const decodePacketReq = structDecoder(packetDiagReq);
const decodeNetlinkReq = structDecoder(netlinkDiagReq);
const decodeVsockReq = structDecoder(vsockDiagReq);
const decodeTipcReq = structDecoder(tipcSockDiagReq);
const decodeXdpReq = structDecoder(xdpDiagReq);
const DCCPDIAG_GETSOCK = 19;
const AF_MAX = 46;

/** INET_DIAG_REQ_* attributes after the fixed request. */
function requestAttributes(b: Buffer, at: number, end: number, r: FakeRequest): void {
  while (at + NLA_HDRLEN <= end) {
    const len = b.readUInt16LE(at);
    if (len < NLA_HDRLEN || at + len > end) return;
    const type = b.readUInt16LE(at + 2) & NLA_TYPE_MASK;
    if (type === INET_DIAG_REQ.BYTECODE) r.bytecode = Buffer.from(b.subarray(at + NLA_HDRLEN, at + len));
    if (type === INET_DIAG_REQ.PROTOCOL && len >= NLA_HDRLEN + 4) r.protocolNumber = b.readUInt32LE(at + NLA_HDRLEN);
    at += align4(len);
  }
}

function decodeRequest(channel: FakeKernelChannel, bytes: Buffer): FakeRequest {
  const r: FakeRequest = {
    channel,
    bytes,
    type: bytes.readUInt16LE(4),
    flags: bytes.readUInt16LE(6),
    seq: bytes.readUInt32LE(8),
    pid: bytes.readUInt32LE(12),
    kind: 'get',
  };
  r.kind = r.type === SOCK_DESTROY ? 'destroy' : r.flags & NLM_F.DUMP ? 'dump' : 'get';
  const p = NLMSG_HDRLEN;
  const end = bytes.length;
  const need = (n: number, what: string): boolean => {
    if (end - p >= n) return true;
    r.invalid = `shorter than ${what}`;
    return false;
  };
  if (r.type === TCPDIAG_GETSOCK || r.type === DCCPDIAG_GETSOCK) {
    if (!need(inetDiagReq.size, 'inet_diag_req')) return r;
    const q = decodeReqLegacy(bytes, p, inetDiagReq.size);
    Object.assign(r, { family: q.family, familyName: FAMILY_NAMES[q.family], protocol: r.type === TCPDIAG_GETSOCK ? 'tcp' : 'dccp', states: q.states, ext: q.ext });
    r.id = { sport: q.sport, dport: q.dport, src: q.src, dst: q.dst, ifindex: q.ifindex, cookie: q.cookie };
    requestAttributes(bytes, p + inetDiagReq.size, end, r);
    return r;
  }
  if (r.type !== SOCK_DIAG_BY_FAMILY && r.type !== SOCK_DESTROY) {
    r.invalid = `unknown nlmsg_type ${r.type}`;
    return r;
  }
  if (!need(2, 'struct sock_diag_req')) return r;
  const family = bytes[p];
  r.family = family;
  if (family >= AF_MAX) {
    r.invalid = `family ${family} is not below AF_MAX`;
    return r;
  }
  r.familyName = FAMILY_NAMES[family];
  switch (family) {
    case AF.INET:
    case AF.INET6: {
      if (!need(inetDiagReqV2.size, 'inet_diag_req_v2')) return r;
      const q = decodeReqV2(bytes, p, inetDiagReqV2.size);
      Object.assign(r, { protocolNumber: q.protocol, ext: q.ext, states: q.states, rawProtocol: q.rawProtocol });
      r.id = { sport: q.sport, dport: q.dport, src: q.src, dst: q.dst, ifindex: q.ifindex, cookie: q.cookie };
      requestAttributes(bytes, p + inetDiagReqV2.size, end, r);
      r.protocol = PROTOCOL_BY_NUMBER.get(r.protocolNumber!);
      return r;
    }
    case AF.UNIX: {
      if (!need(unixDiagReq.size, 'unix_diag_req')) return r;
      const q = decodeUnixReq(bytes, p, unixDiagReq.size);
      return Object.assign(r, { protocol: 'unix', states: q.states, show: q.show, inode: q.inode, cookie: q.cookie });
    }
    case AF.PACKET: {
      if (!need(packetDiagReq.size, 'packet_diag_req')) return r;
      const q = decodePacketReq(bytes, p, packetDiagReq.size);
      return Object.assign(r, { protocol: 'packet', protocolNumber: q.protocol, show: q.show, inode: q.inode, cookie: q.cookie });
    }
    case AF.NETLINK: {
      if (!need(netlinkDiagReq.size, 'netlink_diag_req')) return r;
      const q = decodeNetlinkReq(bytes, p, netlinkDiagReq.size);
      return Object.assign(r, { protocol: 'netlink', protocolNumber: q.protocol, show: q.show });
    }
    case AF.VSOCK:
      if (!need(vsockDiagReq.size, 'vsock_diag_req')) return r;
      return Object.assign(r, { protocol: 'vsock', states: decodeVsockReq(bytes, p, vsockDiagReq.size).states });
    case AF.TIPC:
      if (!need(tipcSockDiagReq.size, 'tipc_sock_diag_req')) return r;
      return Object.assign(r, { protocol: 'tipc', states: decodeTipcReq(bytes, p, tipcSockDiagReq.size).states });
    case AF.XDP:
      if (!need(xdpDiagReq.size, 'xdp_diag_req')) return r;
      return Object.assign(r, { protocol: 'xdp', show: decodeXdpReq(bytes, p, xdpDiagReq.size).show });
    default:
      return r; // a family without a sock_diag handler: ENOENT
  }
}

// ---------------------------------------------------------------------------------------
// Encoding one socket as the kernel would for a request.

const ZERO_TCP_INFO = structDecoder(tcpInfo)(Buffer.alloc(tcpInfo.size), 0, tcpInfo.size);
const ZERO_MPTCP_INFO = structDecoder(mptcpInfo)(Buffer.alloc(mptcpInfo.size), 0, mptcpInfo.size);
const TCPF = (s: SocketState): number => 1 << STATE_NUMBERS[s];

/** The idiag_ext bit an inet attribute needs, or a rule of its own. */
const INET_GATE: Readonly<Record<string, number | 'privileged'>> = {
  meminfo: INET_DIAG_EXT.meminfo,
  info: INET_DIAG_EXT.info,
  vegas: INET_DIAG_EXT.vegas,
  dctcp: INET_DIAG_EXT.vegas,
  bbr: INET_DIAG_EXT.vegas,
  cong: INET_DIAG_EXT.cong,
  tos: INET_DIAG_EXT.tos,
  tclass: INET_DIAG_EXT.tclass,
  classId: INET_DIAG_EXT.tclass,
  skmem: INET_DIAG_EXT.skmeminfo,
  mark: 'privileged',
  md5sig: 'privileged',
};

function addressBytes(text: string | undefined): Buffer {
  const b = Buffer.alloc(16);
  if (text !== undefined) parseAddressInto(text, b, 0);
  return b;
}

function fullInfo(s: FakeInetSocket, info: NonNullable<FakeInetAttributes['info']>): TcpInfo | MptcpInfo | Buffer {
  if (Buffer.isBuffer(info)) return info;
  return s.protocol === 'mptcp' ? ({ ...ZERO_MPTCP_INFO, ...info } as MptcpInfo) : s.protocol === 'tcp' ? ({ ...ZERO_TCP_INFO, ...info } as TcpInfo) : Buffer.alloc(0);
}

/** The inet_diag_msg fields of a socket (what events and dumps share). */
function inetFields(s: FakeInetSocket & TableSocket): Parameters<typeof encodeInetMessage>[0]['msg'] {
  const v6 = familyOf(s) === 'inet6';
  return {
    family: v6 ? AF.INET6 : AF.INET,
    state: stateOf(s),
    sport: s.local?.port ?? 0,
    dport: s.remote?.port ?? 0,
    src: addressBytes(s.local?.address),
    dst: addressBytes(s.remote?.address),
    ifindex: s.interface ?? 0,
    cookie: s.cookie,
  };
}

function encodeInet(s: FakeInetSocket & TableSocket, ext: number, privileged: boolean): Buffer {
  const attrs: Record<string, unknown> = {};
  const state = stateOf(s);
  for (const [name, value] of Object.entries(s.attrs ?? {})) {
    const gate = INET_GATE[name];
    if (value === undefined || (gate === 'privileged' ? !privileged : gate !== undefined && (ext & gate) === 0)) continue;
    if (name === 'v6only' && (familyOf(s) !== 'inet6' || ((1 << state) & (TCPF('listening') | TCPF('closed'))) === 0)) continue;
    attrs[name] = name === 'info' ? fullInfo(s, value as NonNullable<FakeInetAttributes['info']>) : value;
  }
  const timer = s.timer === undefined ? 0 : Math.max(0, TIMER_NAMES.indexOf(s.timer.name));
  return encodeInetMessage({
    msg: { ...inetFields(s), timer, retrans: s.timer?.retransmits ?? 0, expires: s.timer?.expiresMs ?? 0, rqueue: s.recvQ ?? 0, wqueue: s.sendQ ?? 0, uid: s.uid ?? 0, inode: s.inode },
    attrs: attrs as InetDiagAttributes,
  });
}

/** A copy of `s` without the attributes whose show bit `show` lacks. */
function shown<T extends object>(s: T, show: number, bits: Readonly<Record<string, number>>): T {
  const out = { ...s } as Record<string, unknown>;
  for (const [name, bit] of Object.entries(bits)) if ((show & bit) === 0) out[name] = undefined;
  return out as T;
}
const UNIX_BITS = { path: UDIAG_SHOW.NAME, vfs: UDIAG_SHOW.VFS, peerInode: UDIAG_SHOW.PEER, icons: UDIAG_SHOW.ICONS, rqlen: UDIAG_SHOW.RQLEN, meminfo: UDIAG_SHOW.MEMINFO, uid: UDIAG_SHOW.UID };
const PACKET_BITS = { info: PACKET_SHOW.INFO, uid: PACKET_SHOW.INFO, mclist: PACKET_SHOW.MCLIST, rxRing: PACKET_SHOW.RING_CFG, txRing: PACKET_SHOW.RING_CFG, fanout: PACKET_SHOW.FANOUT, meminfo: PACKET_SHOW.MEMINFO, filter: PACKET_SHOW.FILTER };
const NETLINK_BITS = { groups: NDIAG_SHOW.GROUPS, meminfo: NDIAG_SHOW.MEMINFO, rxRing: NDIAG_SHOW.RING_CFG, txRing: NDIAG_SHOW.RING_CFG, flags: NDIAG_SHOW.FLAGS };
const XDP_BITS = { info: XDP_SHOW.INFO, uid: XDP_SHOW.INFO, rxRing: XDP_SHOW.RING_CFG, txRing: XDP_SHOW.RING_CFG, umem: XDP_SHOW.UMEM, fillRing: XDP_SHOW.UMEM, completionRing: XDP_SHOW.UMEM, meminfo: XDP_SHOW.MEMINFO, stats: XDP_SHOW.STATS };

/** What the tables' encoders need of the sockets they do not default themselves. */
function vsockOf(s: FakeVsockSocket & TableSocket): VsockSocket {
  return { family: 'vsock', state: 'established', uid: undefined, recvQ: 0, sendQ: 0, type: 'stream', shutdown: 0, local: { cid: 3, port: 1024 }, remote: { cid: 2, port: 0 }, ...s } as VsockSocket;
}
function tipcOf(s: FakeTipcSocket & TableSocket): TipcSocket {
  const base = { family: 'tipc', state: 'closed', uid: undefined, recvQ: 0, sendQ: 0, type: 'rdm', node: undefined, port: undefined, connection: undefined, hasPublications: undefined, stats: undefined, group: undefined, unknownTopLevel: undefined };
  return { ...base, ...s } as TipcSocket;
}
function xdpOf(s: FakeXdpSocket & TableSocket): XdpSocket {
  return { family: 'xdp', state: 'closed', uid: undefined, recvQ: 0, sendQ: 0, type: 'raw', ...s } as XdpSocket;
}

// ---------------------------------------------------------------------------------------
// Faults.

/** Which requests a {@link FaultRule} applies to: every field given must match. */
export interface FaultMatch {
  kind?: RequestKind;
  protocol?: ProtocolName;
  /** `'unspec'` matches TCPDIAG_GETSOCK requests for both families. */
  family?: FamilyName | 'unspec';
  /** nlmsg_type. */
  type?: number;
  /** Index of the channel in the order channels were opened. */
  channel?: number;
}

/** What a fault does to the answer of a request. Effects combine. */
export interface FaultEffects {
  /** Answer NLMSG_ERROR with this errno instead (with `extack` as its message). */
  error?: Errno;
  /** End the dump with this errno inside NLMSG_DONE (after `doneAfter` messages, default all). */
  doneError?: Errno;
  doneAfter?: number;
  /** Extended-ack message of `error` or `doneError`. */
  extack?: string;
  /** Set NLM_F_DUMP_INTR on every message from this index on (0 = all), NLMSG_DONE included. */
  interrupt?: number;
  /** Start every datagram but the first with the last N messages of the previous one again. */
  duplicate?: number;
  /** Never answer (a read then waits until the channel is closed). */
  drop?: boolean;
  /** Answer only when the test calls `kernel.release()`. */
  hold?: boolean;
  /** Make send() itself throw this errno (syscall sendmsg); nothing is answered. */
  sendError?: Errno;
  /** A read fails with this errno (syscall recvmsg) after `afterDatagrams` datagrams of the reply (default 0: first). */
  readError?: Errno;
  afterDatagrams?: number;
  /** The reply's datagram of this index arrives truncated: lost, and the read fails with ERR_SOCKDIAG_TRUNCATED. */
  truncate?: number;
  /** Before the reply, a datagram from this sender port (not the kernel) that would fail the request if accepted. */
  foreign?: number;
  /** Before the reply, a kernel datagram with messages for another seq and another port id, that would fail the request if accepted. */
  stale?: boolean;
  /** At most this many datagrams of the reply per read (backpressure paths). */
  readBatch?: number;
  /** Datagram size limit of this reply, in bytes. */
  datagramBytes?: number;
}

/** A fault: which requests (a match or a predicate), how many times, and what it does. */
export interface FaultRule extends FaultEffects {
  match?: FaultMatch | ((request: FakeRequest) => boolean);
  /** Let the first N matching requests through untouched. */
  skip?: number;
  /** Apply to at most N matching requests (after `skip`); default all. */
  times?: number;
}

function matches(rule: FaultRule, r: FakeRequest, channelIndex: number): boolean {
  const m = rule.match;
  if (m === undefined) return true;
  if (typeof m === 'function') return m(r);
  if (m.kind !== undefined && m.kind !== r.kind) return false;
  if (m.protocol !== undefined && m.protocol !== r.protocol) return false;
  if (m.family !== undefined && m.family !== (r.family === AF.UNSPEC ? 'unspec' : r.familyName)) return false;
  if (m.type !== undefined && m.type !== r.type) return false;
  if (m.channel !== undefined && m.channel !== channelIndex) return false;
  return true;
}

// ---------------------------------------------------------------------------------------
// Channels.

/** One datagram a script sends back. */
export interface FakeDatagram {
  bytes: Buffer;
  /** Sender port id; 0 = the kernel. */
  sender?: number;
  /** Multicast group mask (0 = unicast). */
  group?: number;
}

/**
 * Answers a send itself: the whole sent buffer, the first message's seq, the channel's port id.
 * Returns batches of datagrams (one read each), or undefined to let the table answer.
 */
export type Script = (request: Buffer, seq: number, portId: number, channel: FakeKernelChannel) => FakeDatagram[][] | undefined;

type Item =
  | { bytes: Buffer; sender: number; group: number; truesize: number; truncated?: boolean; breakAfter?: boolean }
  | { error: unknown };

/** A dump in progress on a channel: produced datagram by datagram as it is read. */
interface Dump {
  request: FakeRequest;
  /** nlmsg_type of the replies. */
  type: number;
  /** The candidates, in table order, read again for every datagram. */
  list: () => readonly TableSocket[];
  /** The message for one candidate, or undefined when it is filtered out. */
  encode: (s: TableSocket) => Buffer | undefined;
  fx: FaultEffects;
  cursor: number;
  produced: number;
  datagrams: number;
  previous: Buffer[];
}

/** SKB_WITH_OVERHEAD(4096): the first datagram of a dump, built during sendmsg. */
const NLMSG_GOODSIZE = 3776;
/** SKB_WITH_OVERHEAD(32768): the largest dump datagram. */
const MAX_DUMP_DATAGRAM = 32448;
const DEFAULT_RECV_SIZE = 64 * 1024;
const BATCH_BYTES = 512 * 1024;
/** net.core.rmem_default / rmem_max. */
const RMEM_DEFAULT = 212992;
const NETLINK_SOCK_DIAG = 4;

/** Roughly what the kernel charges to the receive buffer for a datagram (`skb->truesize`). */
function truesize(bytes: number): number {
  let data = 512;
  while (data < align4(bytes) + 320) data *= 2;
  return data + 256;
}

/** Writes a message's header fields other than its length. */
function stamp(m: Buffer, type: number, flags: number, seq: number, pid: number): Buffer {
  m.writeUInt16LE(type, 4);
  m.writeUInt16LE(flags, 6);
  m.writeUInt32LE(seq >>> 0, 8);
  m.writeUInt32LE(pid >>> 0, 12);
  return m;
}

/**
 * A channel of the fake kernel: an {@link EngineChannel} (and a `DumpChannel`) whose
 * read, send and close behave as the addon's do (a read on a closed channel or a second
 * concurrent read throws at once; close settles a pending read with null).
 */
export class FakeKernelChannel implements EngineChannel {
  /** The netlink port id (the first channel gets a pid-like one, later ones the kernel's negative autobind ids). */
  readonly portId: number;
  /** What it was opened with. */
  readonly request: ChannelRequest;
  /** Its index among the kernel's channels. */
  readonly index: number;
  /** Every buffer sent, as sent. */
  readonly sent: Buffer[] = [];
  /** Every message received, decoded. */
  readonly requests: FakeRequest[] = [];
  /** Calls of read(). */
  reads = 0;
  /** Datagrams dropped because the receive buffer was full (SK_MEMINFO_DROPS). */
  drops = 0;
  /** The socket's inode and cookie, as netlink dumps list it. */
  readonly inode: number;
  readonly cookie: bigint;
  readonly protocol: number;
  readonly groups: number;
  /** Effective SO_RCVBUF (the kernel doubles what was asked, capped by rmem_max). */
  readonly rcvbuf: number;
  readonly recvSize: number;
  /** @internal */
  readonly ns: Namespace;
  #kernel: FakeKernel;
  #closed = false;
  #queue: Item[] = [];
  #rmem = 0;
  #congested = false;
  #dump: Dump | undefined;
  #learned = 0;
  #awaiting = 0;
  #pending: { resolve: (b: Datagrams | null) => void; reject: (e: unknown) => void } | undefined;

  /** @internal Use {@link FakeKernel.open}. */
  constructor(kernel: FakeKernel, ns: Namespace, request: ChannelRequest, index: number, ids: { portId: number; inode: number; cookie: bigint }) {
    this.#kernel = kernel;
    this.ns = ns;
    this.request = request;
    this.index = index;
    this.portId = ids.portId;
    this.inode = ids.inode;
    this.cookie = ids.cookie;
    this.protocol = request.protocol ?? NETLINK_SOCK_DIAG;
    this.groups = request.groups ?? 0;
    this.rcvbuf = request.rcvbuf === undefined ? RMEM_DEFAULT : Math.max(2304, 2 * Math.min(request.rcvbuf, RMEM_DEFAULT));
    this.recvSize = request.recvSize ?? DEFAULT_RECV_SIZE;
  }

  /** True once close() has run. */
  get closed(): boolean {
    return this.#closed;
  }

  /** True while a read waits. */
  get readPending(): boolean {
    return this.#pending !== undefined;
  }

  /** True while a dump is still being produced (a new dump request would get EBUSY). */
  get dumpRunning(): boolean {
    return this.#dump !== undefined;
  }

  /** Bytes charged to the receive queue (SK_MEMINFO_RMEM_ALLOC). */
  get rmemAlloc(): number {
    return this.#rmem;
  }

  /** A fresh sequence number (one counter for the whole kernel, from 101). */
  nextSeq(): number {
    return this.#kernel.nextSeq();
  }

  /** Hands the messages to the kernel, which answers each in order (or throws, as sendmsg does). */
  send(request: Uint8Array): void {
    if (this.#closed) throw libraryError('ERR_SOCKDIAG_CLOSED', 'The channel is closed');
    if (!(request instanceof Uint8Array)) throw new TypeError('The "request" argument must be a Buffer or Uint8Array');
    if (request.length < NLMSG_HDRLEN) throw new RangeError('The "request" argument must hold at least one netlink header (16 bytes)');
    const b = Buffer.from(request);
    this.sent.push(b);
    this.#kernel.receive(this, b);
    this.wake();
  }

  /**
   * The datagrams ready now (up to the kernel's `readBatch`), the next error, or a wait for
   * more. A wait that nothing could ever end rejects when the kernel is strict.
   */
  read(): Promise<Datagrams | null> {
    if (this.#closed) throw libraryError('ERR_SOCKDIAG_CLOSED', 'The channel is closed');
    if (this.#pending) throw libraryError('ERR_SOCKDIAG_READ_PENDING', 'A read is already pending on this channel');
    this.reads++;
    const now = this.#take();
    if (now !== undefined) return 'error' in now ? Promise.reject(now.error) : Promise.resolve(now.batch);
    if (this.groups === 0 && this.#awaiting === 0 && this.#kernel.strict) {
      return Promise.reject(new Error(`fake kernel: read() on channel ${this.index} (port ${this.portId}) with nothing to come: the real one would wait forever`));
    }
    return new Promise((resolve, reject) => (this.#pending = { resolve, reject }));
  }

  /** Closes the channel: what was queued is dropped and a pending read settles with null. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#rmem = 0;
    this.#dump = undefined;
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.resolve(null);
  }

  /** @internal A request that will be answered later (held) or never (dropped). */
  expectAnswer(change: 1 | -1): void {
    this.#awaiting += change;
  }

  /** @internal Queues datagrams as given (a script's answer, poison), `breakAfter` ending a read's batch. */
  push(d: FakeDatagram, breakAfter = false): void {
    if (this.#closed) return;
    const t = truesize(d.bytes.length);
    this.#queue.push({ bytes: d.bytes, sender: d.sender ?? 0, group: d.group ?? 0, truesize: t, breakAfter });
    this.#rmem += t;
  }

  /** @internal Queues an error for a read. */
  pushError(error: unknown): void {
    if (!this.#closed) this.#queue.push({ error });
  }

  /**
   * @internal Delivers a datagram the kernel sends outside a dump (an ack, an error, an event):
   * dropped when the receive buffer is full or congested, the first drop then failing the next
   * read with ENOBUFS (ahead of what is queued), as netlink_overrun does.
   */
  deliver(bytes: Buffer, group = 0): boolean {
    if (this.#closed) return false;
    if (this.#rmem > this.rcvbuf || this.#congested) {
      this.drops++;
      if (!this.#congested) {
        this.#congested = true;
        this.#queue.unshift({ error: systemError(-osConstants.errno.ENOBUFS, 'recvmsg') });
      }
      return false;
    }
    this.push({ bytes, group });
    this.wake();
    return true;
  }

  /** @internal Starts a dump: its first datagram is built at once, as the kernel does within sendmsg. */
  startDump(dump: Dump): void {
    this.#dump = dump;
    this.#produce();
  }

  /** @internal Settles a pending read if something can be read now. */
  wake(): void {
    if (!this.#pending) return;
    const now = this.#take();
    if (now === undefined) return;
    const { resolve, reject } = this.#pending;
    this.#pending = undefined;
    if ('error' in now) reject(now.error);
    else resolve(now.batch);
  }

  /** Builds the dump's next datagram onto the queue. */
  #produce(): void {
    const d = this.#dump!;
    const fx = d.fx;
    const limit = fx.datagramBytes ?? this.#kernel.datagramBytes ?? Math.max(NLMSG_GOODSIZE, this.#learned);
    const flags = (i: number): number => NLM_F.MULTI | (fx.interrupt !== undefined && i >= fx.interrupt ? NLM_F.DUMP_INTR : 0);
    const parts: Buffer[] = d.datagrams > 0 && fx.duplicate ? d.previous.slice(-fx.duplicate) : [];
    let size = parts.reduce((n, m) => n + m.length, 0);
    const fresh: Buffer[] = [];
    const list = d.list();
    const stop = fx.doneAfter ?? Infinity;
    while (d.cursor < list.length && d.produced < stop) {
      const m = d.encode(list[d.cursor]);
      if (m === undefined) {
        d.cursor++;
        continue;
      }
      if (fresh.length > 0 && size + m.length > limit) break;
      stamp(m, d.type, flags(d.produced), d.request.seq, this.portId);
      parts.push(m);
      fresh.push(m);
      size += m.length;
      d.cursor++;
      d.produced++;
    }
    let finished = false;
    if (d.cursor >= list.length || d.produced >= stop) {
      const error = fx.doneError === undefined ? 0 : negErrno(fx.doneError);
      const m = done(d.request.seq, this.portId, error, flags(d.produced), error ? fx.extack : undefined);
      if (fresh.length === 0 || size + m.length <= limit) {
        parts.push(m);
        finished = true;
      }
    }
    d.previous = fresh;
    d.datagrams++;
    const bytes = Buffer.concat(parts);
    const t = truesize(bytes.length);
    const breakAfter = fx.readBatch !== undefined && d.datagrams % fx.readBatch === 0;
    this.#queue.push({ bytes, sender: 0, group: 0, truesize: t, truncated: fx.truncate === d.datagrams - 1, breakAfter });
    this.#rmem += t;
    if (fx.readError !== undefined && (fx.afterDatagrams ?? 0) === d.datagrams) this.pushError(systemError(negErrno(fx.readError), 'recvmsg'));
    if (finished) this.#dump = undefined;
  }

  /** One recvmsg loop of the addon: the datagrams ready now (a dump's next ones are built as they are taken). */
  #take(): { batch: Datagrams } | { error: unknown } | undefined {
    this.#learned = Math.max(this.#learned, Math.min(this.recvSize, MAX_DUMP_DATAGRAM));
    const out: Array<Extract<Item, { bytes: Buffer }>> = [];
    let bytes = 0;
    let error: unknown;
    while (out.length < this.#kernel.readBatch && bytes < BATCH_BYTES) {
      if (this.#queue.length === 0 && this.#dump) this.#produce();
      const item = this.#queue[0];
      if (item === undefined) break;
      if ('error' in item) {
        if (out.length === 0) {
          this.#queue.shift();
          error = item.error;
        }
        break;
      }
      this.#queue.shift();
      this.#rmem -= item.truesize;
      if (item.truncated || item.bytes.length > this.recvSize) {
        // MSG_TRUNC: the datagram is lost; the error comes after what was received before it.
        const e = libraryError('ERR_SOCKDIAG_TRUNCATED', `A datagram was larger than the receive buffer (${this.recvSize} bytes); the rest of it was lost (MSG_TRUNC)`);
        if (out.length === 0) error = e;
        else this.#queue.unshift({ error: e });
        break;
      }
      out.push(item);
      bytes += (item.bytes.length + 7) & ~7;
      if (item.breakAfter) break;
    }
    if (this.#queue.length === 0) this.#congested = false;
    if (error !== undefined) return { error };
    if (out.length === 0) return undefined;
    // Laid out as the addon lays a batch out: 8-byte aligned from offset 0 (the gaps hold junk).
    const data = Buffer.alloc(bytes, 0xaa);
    const offsets: number[] = [];
    let at = 0;
    for (const d of out) {
      offsets.push(at);
      d.bytes.copy(data, at);
      at += (d.bytes.length + 7) & ~7;
    }
    return { batch: { data, offsets, lengths: out.map((d) => d.bytes.length), senders: out.map((d) => d.sender), groups: out.map((d) => d.group) } };
  }
}

// ---------------------------------------------------------------------------------------
// The kernel.

/** @internal A network namespace of the fake kernel. */
export interface Namespace {
  name: string | undefined;
  sockets: TableSocket[];
}

/** What the fake kernel holds and how it behaves. */
export interface FakeKernelSpec {
  /** The sockets of the caller's namespace, in the kernel's (dump) order. */
  sockets?: readonly FakeSocket[];
  /** Other namespaces, by the ref a channel is opened with (a name, a path, or `/proc/PID/ns/net`). */
  namespaces?: Readonly<Record<string, readonly FakeSocket[]>>;
  /** Socket kinds without a sock_diag handler (a missing module): inet ones end their dump with -ENOENT in NLMSG_DONE, families get NLMSG_ERROR ENOENT. */
  unsupported?: readonly ProtocolName[];
  /** False for a caller without CAP_NET_ADMIN: no INET_DIAG_MARK/MD5SIG, EPERM for SOCK_DESTROY and for a MARK_COND filter. Default true. */
  privileged?: boolean;
  /** Faults, checked in order; the effects of every rule that matches a request combine. */
  faults?: readonly FaultRule[];
  /** Answers sends before the table does (see {@link Script}). */
  respond?: Script;
  /** Datagrams per read at most (the addon's batch: 64). */
  readBatch?: number;
  /** A fixed size limit for dump datagrams (default: the kernel's, from the reader's receive size). */
  datagramBytes?: number;
  /** A read that could never be answered rejects instead of waiting forever (default true). Multicast channels and channels with dropped or held requests always wait. */
  strict?: boolean;
  /** List the fake's own open channels in netlink dumps, as the kernel lists every netlink socket (default true). */
  listChannels?: boolean;
  /** Port id of the first channel (default 4242; later ones get the kernel's autobind ids -4096, -4097, … as u32). */
  firstPortId?: number;
}

/** The socket kinds that the measured kernel lacks (raw, sctp, dccp, vsock, tipc, xdp). */
export const TARGET_KERNEL_UNSUPPORTED: readonly ProtocolName[] = ['raw', 'sctp', 'dccp', 'vsock', 'tipc', 'xdp'];

const DESTROYABLE = new Set<ProtocolName>(['tcp', 'udp', 'udplite', 'raw']);
const NOCOOKIE = 0xffffffffffffffffn;
/** `SKNLGRP_*`: group of each protocol's destroy events, by family. */
const DESTROY_GROUP: Readonly<Partial<Record<ProtocolName, Readonly<Record<'inet' | 'inet6', number>>>>> = {
  tcp: { inet: 1, inet6: 3 },
  udp: { inet: 2, inet6: 4 },
};

/** A fake kernel: open channels on it with {@link FakeKernel.channels}. */
export class FakeKernel {
  /** Every channel opened, in order. */
  readonly opened: FakeKernelChannel[] = [];
  /** Every message received on any channel, decoded, in order. */
  readonly requests: FakeRequest[] = [];
  /** @internal */
  readonly strict: boolean;
  /** @internal */
  readonly readBatch: number;
  /** @internal */
  readonly datagramBytes: number | undefined;
  readonly #spec: FakeKernelSpec;
  readonly #namespaces = new Map<string | undefined, Namespace>();
  readonly #faults: Array<FaultRule & { seen: number; used: number }>;
  readonly #held: Array<() => void> = [];
  readonly #openFailures: Array<{ errno: number; syscall: string }> = [];
  #seq = 100;
  #cookie = 0x1000n;
  #inode = 20000;

  constructor(spec: FakeKernelSpec = {}) {
    this.#spec = spec;
    this.strict = spec.strict ?? true;
    this.readBatch = spec.readBatch ?? 64;
    this.datagramBytes = spec.datagramBytes;
    this.#faults = (spec.faults ?? []).map((f) => ({ ...f, seen: 0, used: 0 }));
    this.#namespaces.set(undefined, { name: undefined, sockets: [] });
    for (const s of spec.sockets ?? []) this.add(s);
    for (const [name, sockets] of Object.entries(spec.namespaces ?? {})) {
      this.#namespaces.set(name, { name, sockets: [] });
      for (const s of sockets) this.add(s, name);
    }
  }

  /** The {@link ChannelFactory} to inject: opens a channel on this kernel. */
  readonly channels: ChannelFactory = (request) => this.open(request);

  /**
   * Opens a channel as Channel.open would: a namespace the kernel does not have fails with
   * ENOENT (syscall open) naming it, a failure queued by {@link FakeKernel.failNextOpen} fails.
   */
  open(request: ChannelRequest = {}): FakeKernelChannel {
    const path = request.netns === undefined ? undefined : netnsPath(request.netns);
    const fail = (errno: number, syscall: string): never => {
      const e = systemError(errno, syscall, { operation: 'open' });
      throw path === undefined ? e : withNetnsDetail(e, request.netns!, path, { operation: 'open' });
    };
    const failure = this.#openFailures.shift();
    if (failure) fail(failure.errno, failure.syscall);
    const ns = this.#namespace(request.netns);
    if (ns === undefined) fail(-osConstants.errno.ENOENT, 'open');
    const index = this.opened.length;
    const portId = index === 0 ? (this.#spec.firstPortId ?? 4242) : (-4096 - (index - 1)) >>> 0;
    const ch = new FakeKernelChannel(this, ns!, { ...request }, index, { portId, inode: this.#inode++, cookie: this.#cookie++ });
    this.opened.push(ch);
    return ch;
  }

  /** Makes the next open fail with this errno (syscall `socket` unless given). */
  failNextOpen(errno: Errno, syscall = 'socket'): void {
    this.#openFailures.push({ errno: negErrno(errno), syscall });
  }

  /** Channels not closed (a test can assert none leaked). */
  leaked(): FakeKernelChannel[] {
    return this.opened.filter((c) => !c.closed);
  }

  /** The live socket table of a namespace (default: the caller's). */
  sockets(netns?: NetnsRef): TableSocket[] {
    const ns = this.#namespace(netns);
    if (!ns) throw new Error(`fake kernel: no namespace ${String(netns)}`);
    return ns.sockets;
  }

  /** Adds a socket at the end of a namespace's table (fresh cookie and inode unless given); returns it as held. */
  add(socket: FakeSocket, netns?: NetnsRef): TableSocket {
    const s = { ...socket, cookie: socket.cookie ?? this.#cookie++, inode: socket.inode ?? this.#inode++ } as TableSocket;
    this.sockets(netns).push(s);
    return s;
  }

  /** Removes the socket with this cookie from a namespace's table; returns it, or undefined. */
  remove(cookie: bigint, netns?: NetnsRef): TableSocket | undefined {
    const table = this.sockets(netns);
    const i = table.findIndex((s) => s.cookie === cookie);
    return i < 0 ? undefined : table.splice(i, 1)[0];
  }

  /** Removes a socket as its last user closing it does: a TCP or UDP one is multicast as a destroy event. */
  closeSocket(cookie: bigint, netns?: NetnsRef): TableSocket | undefined {
    const s = this.remove(cookie, netns);
    if (s !== undefined && isInet(s)) this.emitDestroy(s, netns);
    return s;
  }

  /**
   * Multicasts the destroy event of an inet socket to the namespace's channels bound to its
   * group (TCP and UDP only): type SOCK_DIAG_BY_FAMILY, flags/seq/pid 0, state CLOSE,
   * INET_DIAG_PROTOCOL and (TCP) INET_DIAG_INFO. Returns how many channels queued it.
   */
  emitDestroy(socket: FakeInetSocket, netns?: NetnsRef): number {
    const groups = DESTROY_GROUP[socket.protocol];
    if (!groups) return 0;
    const bit = 1 << (groups[familyOf(socket)] - 1);
    const s = { ...socket, cookie: socket.cookie ?? 0n, inode: 0 } as FakeInetSocket & TableSocket;
    const attrs: Record<string, unknown> = { protocolNumber: INET_PROTOCOLS[socket.protocol] };
    if (socket.protocol === 'tcp') attrs.info = fullInfo(s, socket.attrs?.info ?? {});
    const m = stamp(encodeInetMessage({ msg: { ...inetFields(s), state: STATE_NUMBERS.closed }, attrs: attrs as InetDiagAttributes }), SOCK_DIAG_BY_FAMILY, 0, 0, 0);
    const ns = this.#namespace(netns);
    let n = 0;
    for (const ch of this.opened) if (!ch.closed && ch.ns === ns && ch.protocol === NETLINK_SOCK_DIAG && ch.groups & bit && ch.deliver(m, bit)) n++;
    return n;
  }

  /** Answers the requests held by a `hold` fault. */
  release(): void {
    for (const run of this.#held.splice(0)) run();
  }

  /** @internal */
  nextSeq(): number {
    this.#seq = (this.#seq + 1) >>> 0 || 1;
    return this.#seq;
  }

  #namespace(ref: NetnsRef | undefined): Namespace | undefined {
    if (ref === undefined) return this.#namespaces.get(undefined);
    const direct = this.#namespaces.get(String(ref));
    if (direct) return direct;
    const path = netnsPath(ref);
    for (const [name, ns] of this.#namespaces) if (name !== undefined && netnsPath(name) === path) return ns;
    return undefined;
  }

  /** The combined effects of the rules that hit `r`: those with `sendError` when `sending`, else the others. */
  #effects(r: FakeRequest, channel: FakeKernelChannel, sending: boolean): FaultEffects {
    const fx: FaultEffects = {};
    for (const f of this.#faults) {
      if ((f.sendError !== undefined) !== sending || !matches(f, r, channel.index)) continue;
      if (f.seen++ < (f.skip ?? 0) || f.used >= (f.times ?? Infinity)) continue;
      f.used++;
      const { match: _m, skip: _s, times: _t, seen: _seen, used: _used, ...effects } = f;
      Object.assign(fx, effects);
    }
    return fx;
  }

  /** @internal One send: each message is decoded, recorded and answered in order. */
  receive(channel: FakeKernelChannel, buffer: Buffer): void {
    const requests: FakeRequest[] = [];
    for (let off = 0; off + NLMSG_HDRLEN <= buffer.length; ) {
      const len = buffer.readUInt32LE(off);
      if (len < NLMSG_HDRLEN || off + len > buffer.length) break; // netlink_rcv_skb stops there
      requests.push(decodeRequest(channel, Buffer.from(buffer.subarray(off, off + len))));
      off += align4(len);
    }
    // A send that fails never reaches the kernel: nothing is recorded or answered.
    for (const r of requests) {
      const refused = this.#effects(r, channel, true).sendError;
      if (refused !== undefined) throw systemError(negErrno(refused), 'sendmsg');
    }
    const effects = requests.map((r) => this.#effects(r, channel, false));
    for (const r of requests) {
      this.requests.push(r);
      channel.requests.push(r);
    }
    const script = this.#spec.respond?.(buffer, requests[0]?.seq ?? 0, channel.portId, channel);
    if (script !== undefined) {
      for (const r of requests) r.answer = 'script';
      for (const batch of script) batch.forEach((d, i) => channel.push(d, i === batch.length - 1));
      return;
    }
    requests.forEach((r, i) => this.#handle(channel, r, effects[i]));
  }

  #handle(channel: FakeKernelChannel, r: FakeRequest, fx: FaultEffects): void {
    if (fx.drop) {
      r.answer = 'dropped';
      channel.expectAnswer(1);
      return;
    }
    if (fx.hold) {
      r.answer = 'held';
      channel.expectAnswer(1);
      this.#held.push(() => {
        channel.expectAnswer(-1);
        if (channel.closed) return;
        this.#handle(channel, r, { ...fx, hold: false });
        channel.wake();
      });
      return;
    }
    if (fx.foreign !== undefined) channel.push({ bytes: errorMsg(r.seq, channel.portId, -osConstants.errno.EPERM, r.bytes), sender: fx.foreign });
    if (fx.stale) {
      const otherSeq = errorMsg((r.seq - 1) >>> 0, channel.portId, -osConstants.errno.EPERM, r.bytes);
      const otherPort = errorMsg(r.seq, (channel.portId + 1) >>> 0 || 1, -osConstants.errno.EPERM, r.bytes);
      channel.push({ bytes: Buffer.concat([otherSeq, otherPort]) });
    }
    if (fx.readError !== undefined && (fx.afterDatagrams ?? 0) === 0) channel.pushError(systemError(negErrno(fx.readError), 'recvmsg'));
    const error = (errno: number, extack?: string): void => {
      r.answer = 'error';
      r.errno = errno;
      channel.deliver(errorMsg(r.seq, channel.portId, errno, r.bytes, extack, false));
    };
    if (fx.error !== undefined) return error(negErrno(fx.error), fx.extack);
    const E = osConstants.errno;
    if (r.invalid !== undefined) return error(-E.EINVAL);
    const inet = r.family === AF.INET || r.family === AF.INET6 || r.type === TCPDIAG_GETSOCK || r.type === DCCPDIAG_GETSOCK;
    // No handler: a family without one refuses every request; inet refuses a protocol without
    // one as a request about one socket, and ends a dump of it with -ENOENT in NLMSG_DONE.
    const missing = r.protocol === undefined || (this.#spec.unsupported ?? []).includes(r.protocol);
    if (missing && (!inet || r.kind !== 'dump')) return error(-E.ENOENT);
    const privileged = this.#spec.privileged ?? true;
    if (r.kind === 'destroy') {
      if (!inet) return error(-E.EOPNOTSUPP);
      if (!privileged) return error(-E.EPERM);
      if (!DESTROYABLE.has(r.protocol!)) return error(-E.EOPNOTSUPP);
      const found = this.#lookup(channel.ns, r);
      if (found === undefined || (r.id!.cookie !== NOCOOKIE && r.id!.cookie !== found.cookie)) return error(-E.ENOENT);
      if (!(found as FakeInetSocket).survivesDestroy) channel.ns.sockets.splice(channel.ns.sockets.indexOf(found), 1);
      r.answer = r.flags & NLM_F.ACK ? 'ack' : 'none';
      if (r.flags & NLM_F.ACK) channel.deliver(errorMsg(r.seq, channel.portId, 0, r.bytes));
      return;
    }
    if (r.kind === 'get') return this.#get(channel, r, inet, privileged, error);
    if (channel.dumpRunning) return error(-E.EBUSY);
    if (r.protocol === 'packet' && r.protocolNumber !== 0) return error(-E.EINVAL);
    if (r.protocol === 'netlink' && r.protocolNumber! >= 32 && r.protocolNumber !== NDIAG_PROTO_ALL) fx.doneError ??= 'ENOENT';
    if (missing) fx.doneError ??= 'ENOENT';
    if (r.bytecode !== undefined) {
      if (auditBytecode(r.bytecode) !== undefined) return error(-E.EINVAL);
      if (!privileged && hasOp(r.bytecode, INET_DIAG_BC.MARK_COND)) return error(-E.EPERM);
    }
    const selection = missing ? { list: () => [], encode: () => undefined } : this.#selection(channel, r, privileged);
    const type = inet && r.type !== SOCK_DIAG_BY_FAMILY ? r.type : SOCK_DIAG_BY_FAMILY;
    r.answer = 'dump';
    if (fx.doneError !== undefined) r.errno = negErrno(fx.doneError);
    channel.startDump({ request: r, type, ...selection, fx, cursor: 0, produced: 0, datagrams: 0, previous: [] });
  }

  /** Which sockets a dump walks and how each is answered. */
  #selection(channel: FakeKernelChannel, r: FakeRequest, privileged: boolean): Pick<Dump, 'list' | 'encode'> {
    const table = (): readonly TableSocket[] => channel.ns.sockets;
    const inState = (s: TableSocket): boolean => ((r.states! >>> stateOf(s)) & 1) === 1;
    switch (r.protocol) {
      case 'unix':
        return { list: table, encode: (s) => (s.protocol === 'unix' && inState(s) ? encodeUnixMessage(shown({ type: 'stream', state: 'established', ...s }, r.show!, UNIX_BITS) as UnixMessageInput) : undefined) };
      case 'packet':
        return { list: table, encode: (s) => (s.protocol === 'packet' ? encodePacketMessage(shown({ type: 'raw', ...s }, r.show!, PACKET_BITS) as PacketMessageInput) : undefined) };
      case 'netlink': {
        const all = r.protocolNumber === NDIAG_PROTO_ALL;
        const list = (): readonly TableSocket[] => (this.#spec.listChannels === false ? table() : [...table(), ...this.opened.filter((c) => !c.closed && c.ns === channel.ns).map(channelSocket)]);
        return {
          list,
          encode: (s) => (s.protocol === 'netlink' && (all || (s.netlinkProtocol ?? 0) === r.protocolNumber) ? encodeNetlinkMessage(shown({ type: 'raw', ...s }, r.show!, NETLINK_BITS) as NetlinkMessageInput) : undefined),
        };
      }
      case 'vsock':
        return { list: table, encode: (s) => (s.protocol === 'vsock' && inState(s) ? encodeVsockMessage(vsockOf(s)) : undefined) };
      case 'tipc':
        // The kernel answers a socket its state filter skips with a message without TIPC_NLA_SOCK.
        return { list: table, encode: (s) => (s.protocol !== 'tipc' ? undefined : inState(s) ? encodeTipcMessage(tipcOf(s)) : nlmsg(SOCK_DIAG_BY_FAMILY, NLM_F.MULTI, 0, 0)) };
      case 'xdp':
        return { list: table, encode: (s) => (s.protocol === 'xdp' ? encodeXdpMessage(shown(xdpOf(s), r.show!, XDP_BITS)) : undefined) };
      default: {
        // inet; TCPDIAG_GETSOCK dumps both families whatever idiag_family says.
        const family = r.type === SOCK_DIAG_BY_FAMILY ? r.family : AF.UNSPEC;
        const bc = r.bytecode;
        const raw = r.protocol === 'raw' && r.rawProtocol !== IPPROTO.RAW ? r.rawProtocol : undefined;
        return {
          list: table,
          encode: (s) => {
            if (s.protocol !== r.protocol || !isInet(s) || !inState(s)) return undefined;
            const fam = familyOf(s);
            if (family !== AF.UNSPEC && family !== (fam === 'inet6' ? AF.INET6 : AF.INET)) return undefined;
            if (raw !== undefined && (s.local?.port ?? 0) !== raw) return undefined;
            if (bc !== undefined && !runBytecode(bc, bytecodeEntry(s))) return undefined;
            return encodeInet(s, r.ext!, privileged);
          },
        };
      }
    }
  }

  /** SOCK_DIAG_BY_FAMILY without NLM_F_DUMP: one socket by id (inet) or inode (unix). */
  #get(channel: FakeKernelChannel, r: FakeRequest, inet: boolean, privileged: boolean, error: (errno: number) => void): void {
    const E = osConstants.errno;
    let found: TableSocket | undefined;
    let m: Buffer | undefined;
    if (inet) {
      found = this.#lookup(channel.ns, r);
      if (found === undefined) return error(-E.ENOENT);
      // A wrong cookie: TCP's lookup misses (ENOENT), the others find the socket and refuse it (ESTALE).
      if (r.id!.cookie !== NOCOOKIE && r.id!.cookie !== found.cookie) return error(r.protocol === 'tcp' ? -E.ENOENT : -E.ESTALE);
      m = encodeInet(found as FakeInetSocket & TableSocket, r.ext!, privileged);
    } else if (r.protocol === 'unix') {
      found = channel.ns.sockets.find((s) => s.protocol === 'unix' && s.inode === r.inode);
      if (found === undefined) return error(-E.ENOENT);
      if (r.cookie !== NOCOOKIE && r.cookie !== found.cookie) return error(-E.ESTALE);
      m = encodeUnixMessage(shown({ type: 'stream', state: 'established', ...found }, r.show!, UNIX_BITS) as UnixMessageInput);
    } else {
      return error(-E.EOPNOTSUPP);
    }
    r.answer = 'message';
    channel.deliver(stamp(m, r.type, 0, r.seq, channel.portId));
    if (r.flags & NLM_F.ACK) channel.deliver(errorMsg(r.seq, channel.portId, 0, r.bytes));
  }

  /** The first socket of the table with the request's id (addresses, ports, interface), as the kernel's lookup finds one. */
  #lookup(ns: Namespace, r: FakeRequest): TableSocket | undefined {
    const id = r.id!;
    const v6 = r.family === AF.INET6;
    const len = v6 ? 16 : 4;
    return ns.sockets.find((s) => {
      if (s.protocol !== r.protocol || !isInet(s) || familyOf(s) !== (v6 ? 'inet6' : 'inet')) return false;
      const f = inetFields(s);
      return f.sport === id.sport && f.dport === id.dport && f.src!.subarray(0, len).equals(id.src.subarray(0, len)) && f.dst!.subarray(0, len).equals(id.dst.subarray(0, len)) && (id.ifindex === 0 || s.interface === undefined || s.interface === 0 || s.interface === id.ifindex);
    });
  }
}

/** What the bytecode interpreter needs of a socket. */
function bytecodeEntry(s: FakeInetSocket): Parameters<typeof runBytecode>[1] {
  const v6 = familyOf(s) === 'inet6';
  const any = v6 ? '::' : '0.0.0.0';
  return {
    family: v6 ? 'inet6' : 'inet',
    src: s.local?.address ?? any,
    dst: s.remote?.address ?? any,
    sport: s.local?.port ?? 0,
    dport: s.remote?.port ?? 0,
    ifindex: s.interface ?? 0,
    mark: s.attrs?.mark ?? 0,
    cgroupId: s.attrs?.cgroupId ?? 0n,
    userBoundPort: s.userBoundPort ?? false,
  };
}

/** Whether an audited program has an op of this code (the kernel's audit walks it by `yes`). */
function hasOp(bc: Buffer, code: number): boolean {
  for (let at = 0; at < bc.length; at += bc[at + 1] || 4) if (bc[at] === code) return true;
  return false;
}

/** A channel as a netlink dump lists it. */
function channelSocket(c: FakeKernelChannel): TableSocket {
  return {
    protocol: 'netlink',
    type: 'raw',
    netlinkProtocol: c.protocol,
    portId: c.portId | 0,
    inode: c.inode,
    cookie: c.cookie,
    groups: c.groups ? [c.groups] : undefined,
    meminfo: { rmemAlloc: c.rmemAlloc, rcvbuf: c.rcvbuf, wmemAlloc: 0, sndbuf: RMEM_DEFAULT, fwdAlloc: 0, wmemQueued: 0, optmem: 0, backlog: 0, drops: c.drops },
  };
}

/**
 * A fake kernel answering from `spec`. Inject `kernel.channels` where a {@link ChannelFactory}
 * is taken, then assert on `kernel.requests`, `kernel.opened` and `kernel.leaked()`.
 */
export function fakeKernel(spec: FakeKernelSpec = {}): FakeKernel {
  return new FakeKernel(spec);
}

/** One channel of a kernel that answers every send with `respond` (the table is empty). */
export function scriptedChannel(respond: Script): FakeKernelChannel {
  return fakeKernel({ respond }).open();
}
