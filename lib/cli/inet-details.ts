/**
 * The details column of inet sockets (what ss prints after the peer), written as bytes
 * straight from the kernel's reply: `tcp_info`, socket memory, the congestion control's
 * state and the `-e` fields are read at their table offsets and their numbers written as
 * digits, with no decoded objects, BigInts or intermediate strings. At 100k sockets this
 * is most of the command's time (`sockdiag -tanie`), as printf is most of ss's.
 *
 * This is the only writer of the inet details text; what is rare (`-p`, `--tos`, MD5 keys,
 * ULP, MPTCP and SCTP details…) is taken from the decoded socket and the string formatters
 * of details.ts.
 * @module
 */
import { InetSocketView, TIMER_NAMES, type InetSocket, type InetProtocolName } from '../diag/inet';
import { inetDiagAttributes } from '../diag/inet/attributes';
import { inetDiagMsg, inetDiagMeminfo, tcpvegasInfo, tcpDctcpInfo, tcpBbrInfo } from '../diag/inet/structs';
import { tcpInfo } from '../diag/inet/tcp-info';
import { AF, stateName, type SocketState } from '../diag/constants';
import type { Socket } from '../diag/socket';
import { skMeminfo } from '../diag/common/skmeminfo';
import { fieldAt } from '../netlink/offsets';
import { viewOf } from '../netlink/struct';
import type { StructSpec } from '../netlink/struct';
import { NLA_HDRLEN, NLA_TYPE_MASK, align4, checkAttributes } from '../netlink/attributes';
import type { CellWriter } from './table';
import type { FormatOptions } from './format';
import { formatBitRate, formatFixed, formatG, formatMicrosAsMs, formatTimer } from './units';
import { cgroupName, inetOptionsText, md5KeysText, mptcpInfo, sctpInfo, ulpText, usersText } from './details';

const attrType = (name: string): number => inetDiagAttributes.byName.get(name)!.type;
const A_MEMINFO = attrType('meminfo');
const A_INFO = attrType('info');
const A_VEGAS = attrType('vegas');
const A_CONG = attrType('cong');
const A_SKMEMINFO = attrType('skmem');
const A_SHUTDOWN = attrType('shutdown');
const A_DCTCP = attrType('dctcp');
const A_V6ONLY = attrType('v6only');
const A_MARK = attrType('mark');
const A_BBR = attrType('bbr');
const A_MD5SIG = attrType('md5sig');
const A_ULP = attrType('ulp');
const A_CGROUP_ID = attrType('cgroupId');
const A_PROTOCOL = attrType('protocolNumber');
const ATTR_SLOTS = Math.max(...inetDiagAttributes.rows.map((r) => r.type)) + 1;
// The smallest payload each attribute's codec accepts (what the decoder checks).
const MIN_PAYLOAD = new Uint16Array(ATTR_SLOTS);
for (const row of inetDiagAttributes.rows) MIN_PAYLOAD[row.type] = row.codec.minSize ?? 0;

// inet_diag_msg
const M_FAMILY = fieldAt(inetDiagMsg, 'family', 'u8');
const M_STATE = fieldAt(inetDiagMsg, 'state', 'u8');
const M_TIMER = fieldAt(inetDiagMsg, 'timer', 'u8');
const M_RETRANS = fieldAt(inetDiagMsg, 'retrans', 'u8');
const M_SPORT = fieldAt(inetDiagMsg, 'sport', 'be16');
const M_DPORT = fieldAt(inetDiagMsg, 'dport', 'be16');
const M_SRC = inetDiagMsg.fields.find((f) => f.name === 'src')!.offset;
const M_DST = inetDiagMsg.fields.find((f) => f.name === 'dst')!.offset;
const M_IFINDEX = fieldAt(inetDiagMsg, 'ifindex', 'u32');
const M_EXPIRES = fieldAt(inetDiagMsg, 'expires', 'u32');
const M_RQUEUE = fieldAt(inetDiagMsg, 'rqueue', 'u32');
const M_WQUEUE = fieldAt(inetDiagMsg, 'wqueue', 'u32');
const M_UID = fieldAt(inetDiagMsg, 'uid', 'u32');
const M_INODE = fieldAt(inetDiagMsg, 'inode', 'u32');
const M_COOKIE = fieldAt(inetDiagMsg, 'cookie', 'u64');
const MSG_SIZE = inetDiagMsg.size;

/** A bit field's byte offset, shift and mask, from the table. */
function bitField<S extends StructSpec>(spec: S, name: S['fields'][number]['name']): { offset: number; shift: number; mask: number } {
  const f = spec.fields.find((x) => x.name === name)!;
  if (f.type !== 'u8' || !f.bits) throw new Error(`${spec.name}.${f.orig} is not a u8 bit field`);
  return { offset: f.offset, shift: f.bits[0], mask: (1 << f.bits[1]) - 1 };
}

// tcp_info (fields of iproute2 6.1's print, in its order)
const T = {
  options: fieldAt(tcpInfo, 'options', 'u8'),
  backoff: fieldAt(tcpInfo, 'backoff', 'u8'),
  rto: fieldAt(tcpInfo, 'rtoUs', 'u32'),
  ato: fieldAt(tcpInfo, 'atoUs', 'u32'),
  sndMss: fieldAt(tcpInfo, 'sndMss', 'u32'),
  rcvMss: fieldAt(tcpInfo, 'rcvMss', 'u32'),
  unacked: fieldAt(tcpInfo, 'unacked', 'u32'),
  sacked: fieldAt(tcpInfo, 'sacked', 'u32'),
  lost: fieldAt(tcpInfo, 'lost', 'u32'),
  retrans: fieldAt(tcpInfo, 'retrans', 'u32'),
  fackets: fieldAt(tcpInfo, 'fackets', 'u32'),
  lastDataSent: fieldAt(tcpInfo, 'lastDataSentMs', 'u32'),
  lastDataRecv: fieldAt(tcpInfo, 'lastDataRecvMs', 'u32'),
  lastAckRecv: fieldAt(tcpInfo, 'lastAckRecvMs', 'u32'),
  pmtu: fieldAt(tcpInfo, 'pmtu', 'u32'),
  rcvSsthresh: fieldAt(tcpInfo, 'rcvSsthresh', 'u32'),
  rtt: fieldAt(tcpInfo, 'rttUs', 'u32'),
  rttvar: fieldAt(tcpInfo, 'rttvarUs', 'u32'),
  sndSsthresh: fieldAt(tcpInfo, 'sndSsthresh', 'u32'),
  sndCwnd: fieldAt(tcpInfo, 'sndCwnd', 'u32'),
  advmss: fieldAt(tcpInfo, 'advmss', 'u32'),
  reordering: fieldAt(tcpInfo, 'reordering', 'u32'),
  rcvRtt: fieldAt(tcpInfo, 'rcvRttUs', 'u32'),
  rcvSpace: fieldAt(tcpInfo, 'rcvSpace', 'u32'),
  totalRetrans: fieldAt(tcpInfo, 'totalRetrans', 'u32'),
  pacingRate: fieldAt(tcpInfo, 'pacingRateBytesPerSec', 'u64'),
  maxPacingRate: fieldAt(tcpInfo, 'maxPacingRateBytesPerSec', 'u64'),
  bytesAcked: fieldAt(tcpInfo, 'bytesAcked', 'u64'),
  bytesReceived: fieldAt(tcpInfo, 'bytesReceived', 'u64'),
  segsOut: fieldAt(tcpInfo, 'segsOut', 'u32'),
  segsIn: fieldAt(tcpInfo, 'segsIn', 'u32'),
  notsent: fieldAt(tcpInfo, 'notsentBytes', 'u32'),
  minRtt: fieldAt(tcpInfo, 'minRttUs', 'u32'),
  dataSegsIn: fieldAt(tcpInfo, 'dataSegsIn', 'u32'),
  dataSegsOut: fieldAt(tcpInfo, 'dataSegsOut', 'u32'),
  deliveryRate: fieldAt(tcpInfo, 'deliveryRateBytesPerSec', 'u64'),
  busyTime: fieldAt(tcpInfo, 'busyTimeUs', 'u64'),
  rwndLimited: fieldAt(tcpInfo, 'rwndLimitedUs', 'u64'),
  sndbufLimited: fieldAt(tcpInfo, 'sndbufLimitedUs', 'u64'),
  delivered: fieldAt(tcpInfo, 'delivered', 'u32'),
  deliveredCe: fieldAt(tcpInfo, 'deliveredCe', 'u32'),
  bytesSent: fieldAt(tcpInfo, 'bytesSent', 'u64'),
  bytesRetrans: fieldAt(tcpInfo, 'bytesRetrans', 'u64'),
  dsackDups: fieldAt(tcpInfo, 'dsackDups', 'u32'),
  reordSeen: fieldAt(tcpInfo, 'reordSeen', 'u32'),
  rcvOoopack: fieldAt(tcpInfo, 'rcvOoopack', 'u32'),
  sndWnd: fieldAt(tcpInfo, 'sndWnd', 'u32'),
};
const SND_WSCALE = bitField(tcpInfo, 'sndWscale');
const RCV_WSCALE = bitField(tcpInfo, 'rcvWscale');
const APP_LIMITED = bitField(tcpInfo, 'deliveryRateAppLimited');

const SKMEM = {
  rmemAlloc: fieldAt(skMeminfo, 'rmemAlloc', 'u32'),
  rcvbuf: fieldAt(skMeminfo, 'rcvbuf', 'u32'),
  wmemAlloc: fieldAt(skMeminfo, 'wmemAlloc', 'u32'),
  sndbuf: fieldAt(skMeminfo, 'sndbuf', 'u32'),
  fwdAlloc: fieldAt(skMeminfo, 'fwdAlloc', 'u32'),
  wmemQueued: fieldAt(skMeminfo, 'wmemQueued', 'u32'),
  optmem: fieldAt(skMeminfo, 'optmem', 'u32'),
  backlog: fieldAt(skMeminfo, 'backlog', 'u32'),
  drops: fieldAt(skMeminfo, 'drops', 'u32'),
};
const MEMINFO = {
  rmem: fieldAt(inetDiagMeminfo, 'rmem', 'u32'),
  wmem: fieldAt(inetDiagMeminfo, 'wmem', 'u32'),
  fmem: fieldAt(inetDiagMeminfo, 'fmem', 'u32'),
  tmem: fieldAt(inetDiagMeminfo, 'tmem', 'u32'),
};
const VEGAS_ENABLED = fieldAt(tcpvegasInfo, 'enabled', 'u32');
const VEGAS_RTT = fieldAt(tcpvegasInfo, 'rttUs', 'u32');
const DCTCP = {
  enabled: fieldAt(tcpDctcpInfo, 'enabled', 'u16'),
  ceState: fieldAt(tcpDctcpInfo, 'ceState', 'u16'),
  alpha: fieldAt(tcpDctcpInfo, 'alpha', 'u32'),
  abEcn: fieldAt(tcpDctcpInfo, 'abEcn', 'u32'),
  abTot: fieldAt(tcpDctcpInfo, 'abTot', 'u32'),
};
const BBR = {
  bw: fieldAt(tcpBbrInfo, 'bwBytesPerSec', 'u64'),
  minRtt: fieldAt(tcpBbrInfo, 'minRttUs', 'u32'),
  pacingGain: fieldAt(tcpBbrInfo, 'pacingGain', 'u32'),
  cwndGain: fieldAt(tcpBbrInfo, 'cwndGain', 'u32'),
};

const TWO_32 = 4294967296;
// ss copies the congestion control's name into a 16-byte buffer.
const CONG_NAME_MAX = 15;

/** An ASCII literal of the text, encoded once. */
const label = (text: string): Uint8Array => Buffer.from(text, 'latin1');
// The literal pieces of the text.
const L_UID = label(' uid:');
const L_INO = label(' ino:');
const L_SK = label(' sk:');
const L_FWMARK_0X = label(' fwmark:0x');
const L_CGROUP = label(' cgroup:');
const L_SKMEM_R = label(' skmem:(r');
const L_RB = label(',rb');
const L_T = label(',t');
const L_TB = label(',tb');
const L_F = label(',f');
const L_W = label(',w');
const L_O = label(',o');
const L_BL = label(',bl');
const L_D = label(',d');
const L_MEM_R = label(' mem:(r');
const L_TS = label(' ts');
const L_SACK = label(' sack');
const L_ECN = label(' ecn');
const L_ECNSEEN = label(' ecnseen');
const L_FASTOPEN = label(' fastopen');
const L_WSCALE = label(' wscale:');
const L_RTO = label(' rto:');
const L_RTT = label(' rtt:');
const L_ATO = label(' ato:');
const L_MSS = label(' mss:');
const L_RCVMSS = label(' rcvmss:');
const L_ADVMSS = label(' advmss:');
const L_SSTHRESH = label(' ssthresh:');
const L_DCTCP_CE_STATE = label(' dctcp:(ce_state:');
const L_ALPHA = label(',alpha:');
const L_AB_ECN = label(',ab_ecn:');
const L_AB_TOT = label(',ab_tot:');
const L_DCTCP_FALLBACK_MODE = label(' dctcp:fallback_mode');
const L_BBR_BW = label(' bbr:(bw:');
const L_BPS_MRTT = label('bps,mrtt:');
const L_PACING_GAIN = label(',pacing_gain:');
const L_CWND_GAIN = label(',cwnd_gain:');
const L_SEND = label(' send ');
const L_BPS = label('bps');
const L_PACING_RATE = label(' pacing_rate ');
const L_DELIVERY_RATE = label(' delivery_rate ');
const L_APP_LIMITED = label(' app_limited');
const L_BUSY = label(' busy:');
const L_MS = label('ms');
const L_RWND_LIMITED = label(' rwnd_limited:');
const L_MS_2 = label('ms(');
const L_SEP = label('%)');
const L_SNDBUF_LIMITED = label(' sndbuf_limited:');
const L_RETRANS = label(' retrans:');
const L_REORDERING = label(' reordering:');
const L_REORD_SEEN = label(' reord_seen:');
const L_RCV_RTT = label(' rcv_rtt:');
const L_RCV_SPACE = label(' rcv_space:');
const L_MINRTT = label(' minrtt:');
const L_TIMER = label(' timer:(');
const L_NLTAB = label('\n\t');
const L_BACKOFF = label(' backoff:');
const L_PMTU = label(' pmtu:');
const L_CWND = label(' cwnd:');
const L_SEGS_OUT = label(' segs_out:');
const L_SEGS_IN = label(' segs_in:');
const L_DATA_SEGS_OUT = label(' data_segs_out:');
const L_DATA_SEGS_IN = label(' data_segs_in:');
const L_LASTSND = label(' lastsnd:');
const L_LASTRCV = label(' lastrcv:');
const L_LASTACK = label(' lastack:');
const L_DELIVERED = label(' delivered:');
const L_DELIVERED_CE = label(' delivered_ce:');
const L_UNACKED = label(' unacked:');
const L_LOST = label(' lost:');
const L_SACKED = label(' sacked:');
const L_DSACK_DUPS = label(' dsack_dups:');
const L_FACKETS = label(' fackets:');
const L_RCV_SSTHRESH = label(' rcv_ssthresh:');
const L_NOTSENT = label(' notsent:');
const L_RCV_OOOPACK = label(' rcv_ooopack:');
const L_SND_WND = label(' snd_wnd:');
const L_BYTES_SENT = label(' bytes_sent:');
const L_BYTES_RETRANS = label(' bytes_retrans:');
const L_BYTES_ACKED = label(' bytes_acked:');
const L_BYTES_RECEIVED = label(' bytes_received:');

/**
 * The inet reply message being formatted, read in place: its fixed `inet_diag_msg` fields,
 * and its attributes, found in one walk: where each type's payload starts (-1 when absent;
 * the first of a repeated type, as the decoder keeps) and its length. Field reads past a
 * payload's length give 0, as the decoder's `undefined` prints. One instance is reused for
 * every message (formatting is synchronous).
 */
export class InetReply {
  /** The received bytes. */
  b: Buffer = Buffer.alloc(0);
  /** A view of `b` (its reads are much cheaper than Buffer's checked ones). */
  dv: DataView = new DataView(new ArrayBuffer(0));
  /** Where the message's `inet_diag_msg` starts in `b`. */
  msg = 0;
  /** The protocol the dump listed. */
  protocol: InetProtocolName = 'tcp';
  readonly at = new Int32Array(ATTR_SLOTS).fill(-1);
  readonly len = new Int32Array(ATTR_SLOTS);
  /** The types set by the last scan (each at most once), so the next scan resets only them. */
  private readonly filledTypes = new Uint8Array(ATTR_SLOTS);
  private filled = 0;
  private header = 0;
  private end = 0;
  private decoded: InetSocket | undefined;
  private decodeMessage: MessageDecode | undefined;

  /**
   * Points at a message: `header` is where its nlmsghdr starts, `msg` its `inet_diag_msg`,
   * `end` where it ends. `socket` is its decoded object if there is one, else `decode`
   * makes it when a rare part of the text needs it.
   */
  bind(b: Buffer, header: number, msg: number, end: number, protocol: InetProtocolName, socket: InetSocket | undefined, decode: MessageDecode | undefined): void {
    if (b !== this.b) {
      this.b = b;
      this.dv = viewOf(b);
    }
    this.header = header;
    this.msg = msg;
    this.end = end;
    this.protocol = protocol;
    this.decoded = socket;
    this.decodeMessage = decode;
    this.scan(msg + MSG_SIZE, end);
  }

  /** The message as a socket object (decoded now if it was not). */
  socket(): InetSocket {
    this.decoded ??= this.decodeMessage!(this.b, this.header, this.end - this.header) as InetSocket;
    return this.decoded;
  }

  /** Whether the socket is IPv6. */
  get v6(): boolean {
    return this.b[this.msg + M_FAMILY] === AF.INET6;
  }

  /** The socket's state. */
  get state(): SocketState {
    return stateName(this.b[this.msg + M_STATE]);
  }

  /** Recv-Q, as ss prints it (%d). */
  get recvQ(): number {
    return this.dv.getInt32(this.msg + M_RQUEUE, true);
  }

  /** Send-Q, as ss prints it (%d). */
  get sendQ(): number {
    return this.dv.getInt32(this.msg + M_WQUEUE, true);
  }

  /** Where the local address starts in `b`. */
  get src(): number {
    return this.msg + M_SRC;
  }

  /** Where the peer address starts in `b`. */
  get dst(): number {
    return this.msg + M_DST;
  }

  /** The local port. */
  get sport(): number {
    return this.dv.getUint16(this.msg + M_SPORT);
  }

  /** The peer port. */
  get dport(): number {
    return this.dv.getUint16(this.msg + M_DPORT);
  }

  /** The interface the socket is bound to (0: any). */
  get ifindex(): number {
    return this.dv.getUint32(this.msg + M_IFINDEX, true);
  }

  /** INET_DIAG_PROTOCOL (raw sockets' protocol), 255 when absent. */
  get protocolNumber(): number {
    return this.has(A_PROTOCOL) && this.len[A_PROTOCOL] >= 1 ? this.b[this.at[A_PROTOCOL]] : 255;
  }

  /** INET_DIAG_SKV6ONLY, or undefined when the kernel did not send it. */
  get v6only(): boolean | undefined {
    return this.has(A_V6ONLY) && this.len[A_V6ONLY] >= 1 ? this.b[this.at[A_V6ONLY]] !== 0 : undefined;
  }

  /** Whether the 16 address bytes at `off` are all zero (`::`). */
  isAny6(off: number): boolean {
    const dv = this.dv;
    return dv.getUint32(off, true) === 0 && dv.getUint32(off + 4, true) === 0 && dv.getUint32(off + 8, true) === 0 && dv.getUint32(off + 12, true) === 0;
  }

  /** Finds the attributes, checking their framing as the decoder does (a malformed one throws its DecodeError). */
  private scan(off: number, end: number): void {
    const dv = this.dv;
    const at = this.at;
    const lens = this.len;
    // Only the slots the last message filled are reset (a reply has about ten of ~30).
    for (let i = 0; i < this.filled; i++) {
      const t = this.filledTypes[i];
      at[t] = -1;
      lens[t] = 0;
    }
    this.filled = 0;
    const start = off;
    while (off + NLA_HDRLEN <= end) {
      const len = dv.getUint16(off, true);
      const type = dv.getUint16(off + 2, true) & NLA_TYPE_MASK;
      if (len < NLA_HDRLEN || off + len > end || (type < ATTR_SLOTS && len - NLA_HDRLEN < MIN_PAYLOAD[type])) {
        checkAttributes(inetDiagAttributes, this.b, start, end);
        break;
      }
      if (type < ATTR_SLOTS && at[type] < 0) {
        at[type] = off + NLA_HDRLEN;
        lens[type] = len - NLA_HDRLEN;
        this.filledTypes[this.filled++] = type;
      }
      off += align4(len);
    }
  }


  has(type: number): boolean {
    return this.at[type] >= 0;
  }

  u8(type: number, field: number): number {
    return field + 1 <= this.len[type] ? this.b[this.at[type] + field] : 0;
  }

  u16(type: number, field: number): number {
    return field + 2 <= this.len[type] ? this.dv.getUint16(this.at[type] + field, true) : 0;
  }

  u32(type: number, field: number): number {
    return field + 4 <= this.len[type] ? this.dv.getUint32(this.at[type] + field, true) : 0;
  }

  i32(type: number, field: number): number {
    return field + 4 <= this.len[type] ? this.dv.getInt32(this.at[type] + field, true) : 0;
  }

  /** Whether the payload is long enough to hold a u32 at `field` (the decoder's "defined"). */
  hasU32(type: number, field: number): boolean {
    return field + 4 <= this.len[type];
  }

  /** A u64 as a number (rounded as `Number(bigint)` rounds it). */
  u64(type: number, field: number): number {
    if (field + 8 > this.len[type]) return 0;
    const p = this.at[type] + field;
    return this.dv.getUint32(p + 4, true) * TWO_32 + this.dv.getUint32(p, true);
  }
}

/** Decodes one reply message (`off` at its nlmsghdr, `len` = nlmsg_len) into a socket. */
export type MessageDecode = (b: Buffer, off: number, len: number) => Socket | undefined;

/** The message being formatted. */
export const reply = new InetReply();
const span = new Int32Array(2);

/**
 * The `tcp_info` of the message bound to {@link reply}, read without per-field length
 * checks: a payload shorter than the 6.1 structure is first copied into a zeroed one, so
 * that absent fields read 0 (what the decoder's `undefined` prints).
 */
class TcpInfoFields {
  private dv: DataView = new DataView(new ArrayBuffer(0));
  private base = 0;
  private readonly short = Buffer.alloc(tcpInfo.size);
  private readonly shortView = new DataView(this.short.buffer, this.short.byteOffset, this.short.length);

  bind(): void {
    const r = reply;
    const at = r.at[A_INFO];
    const len = r.len[A_INFO];
    if (len >= tcpInfo.size) {
      this.dv = r.dv;
      this.base = at;
      return;
    }
    this.short.fill(0);
    r.b.copy(this.short, 0, at, at + len);
    this.dv = this.shortView;
    this.base = 0;
  }

  u8(field: number): number {
    return this.dv.getUint8(this.base + field);
  }

  u32(field: number): number {
    return this.dv.getUint32(this.base + field, true);
  }

  i32(field: number): number {
    return this.dv.getInt32(this.base + field, true);
  }

  /** A u64 as a number (rounded as `Number(bigint)` rounds it). */
  u64(field: number): number {
    return this.dv.getUint32(this.base + field + 4, true) * TWO_32 + this.dv.getUint32(this.base + field, true);
  }

  /** Whether a u64 is all ones (the kernel's "no limit"). */
  u64AllOnes(field: number): boolean {
    return this.dv.getUint32(this.base + field, true) === 0xffffffff && this.dv.getUint32(this.base + field + 4, true) === 0xffffffff;
  }

  /** ` label:N` for a u64 field that is not 0, its digits exact at any size. */
  u64Field(w: CellWriter, label: Uint8Array, field: number): void {
    const p = this.base + field;
    const lo = this.dv.getUint32(p, true);
    const hi = this.dv.getUint32(p + 4, true);
    if (lo === 0 && hi === 0) return;
    w.ascii(label);
    if (hi < 0x200000) w.uint(hi * TWO_32 + lo);
    else w.text(this.dv.getBigUint64(p, true).toString());
  }
}

const info = new TcpInfoFields();

/**
 * Points {@link reply} at a socket's reply bytes; false (nothing bound) for a socket that
 * does not carry them.
 */
export function bindSocket(s: InetSocket): boolean {
  const b = InetSocketView.rawMessage(s, span);
  if (b === undefined) return false;
  reply.bind(b, -1, span[0], span[1], s.protocol, s, undefined);
  return true;
}

/** `%g` of a microsecond count in milliseconds (ss's rtt, rto…), digits written directly below 1000 ms. */
function writeMs(w: CellWriter, us: number): void {
  if (us >= 1000000) {
    w.text(formatMicrosAsMs(us));
    return;
  }
  const whole = Math.floor(us / 1000);
  const frac = us - whole * 1000;
  w.uint(whole);
  if (frac === 0) return;
  const d1 = Math.floor(frac / 100);
  const d2 = Math.floor(frac / 10) % 10;
  const d3 = frac % 10;
  w.byte(0x2e);
  w.byte(48 + d1);
  if (d2 !== 0 || d3 !== 0) w.byte(48 + d2);
  if (d3 !== 0) w.byte(48 + d3);
}

/** ss's sprint_bw: with `-n` the rate as an integer (`%.0f`, ties to even), else three digits and a unit. */
function writeBitRate(w: CellWriter, bps: number, numeric: boolean): void {
  if (numeric && bps >= 0 && bps < 2 ** 52) {
    const whole = Math.floor(bps);
    const frac = bps - whole;
    w.uint(frac > 0.5 || (frac === 0.5 && whole % 2 === 1) ? whole + 1 : whole);
  } else {
    w.text(formatBitRate(bps, numeric));
  }
}

/** ` name:N` for a u32 field that is not 0. */
function u32Field(w: CellWriter, label: Uint8Array, value: number): void {
  if (value !== 0) w.field(label, value);
}

/** `N` ms of a u64 microsecond count (`busy:…ms`): integer division, as ss's. */
function writeMsOfMicros(w: CellWriter, us: number): void {
  let q = Math.floor(us / 1000);
  if (q * 1000 > us) q--;
  w.uint(q);
}

let lastCgroupHi = -1;
let lastCgroupLo = -1;
let lastCgroupName = '';
let lastCgroupResolver: FormatOptions['cgroupPath'];

/** The `-e` fields: uid, ino, sk (the cookie), fwmark, cgroup, v6only, shutdown. */
function writeExtended(w: CellWriter, o: FormatOptions): void {
  const r = reply;
  const b = r.b;
  const dv = r.dv;
  const msg = r.msg;
  const uid = dv.getUint32(msg + M_UID, true);
  if (uid) {
    w.field(L_UID, uid);
  }
  w.field(L_INO, dv.getUint32(msg + M_INODE, true));
  w.ascii(L_SK);
  const lo = dv.getUint32(msg + M_COOKIE, true);
  const hi = dv.getUint32(msg + M_COOKIE + 4, true);
  if (hi !== 0) {
    w.hex(hi);
    w.hex(lo, 8);
  } else {
    w.hex(lo);
  }
  const mark = r.u32(A_MARK, 0);
  if (mark) {
    w.ascii(L_FWMARK_0X);
    w.hex(mark);
  }
  if (r.has(A_CGROUP_ID) && r.len[A_CGROUP_ID] >= 8) {
    const p = r.at[A_CGROUP_ID];
    const cgLo = dv.getUint32(p, true);
    const cgHi = dv.getUint32(p + 4, true);
    if (cgLo !== 0 || cgHi !== 0) {
      // Every socket of a listing tends to be in the same cgroup: keep the last name.
      if (cgLo !== lastCgroupLo || cgHi !== lastCgroupHi || o.cgroupPath !== lastCgroupResolver || o.cgroupPath === undefined) {
        lastCgroupName = cgroupName(b.readBigUInt64LE(p), o);
        lastCgroupLo = cgLo;
        lastCgroupHi = cgHi;
        lastCgroupResolver = o.cgroupPath;
      }
      w.ascii(L_CGROUP);
      w.text(lastCgroupName);
    }
  }
  if (r.v6) {
    const v6only = r.v6only;
    if (v6only !== undefined) w.text(v6only ? ' v6only:1' : ' v6only:0');
  }
  if (r.has(A_SHUTDOWN) && r.len[A_SHUTDOWN] >= 1) {
    const mask = r.u8(A_SHUTDOWN, 0);
    w.byte(0x20);
    w.byte(mask & 1 ? 0x2d : 0x3c);
    w.byte(0x2d);
    w.byte(mask & 2 ? 0x2d : 0x3e);
  }
}

/** skmem, or the old `mem:(r,w,f,t)` when only INET_DIAG_MEMINFO came (ss asks both with -m). */
function writeMemory(w: CellWriter): void {
  const r = reply;
  if (r.has(A_SKMEMINFO)) {
    const t = A_SKMEMINFO;
    w.field(L_SKMEM_R, r.u32(t, SKMEM.rmemAlloc));
    w.field(L_RB, r.u32(t, SKMEM.rcvbuf));
    w.field(L_T, r.u32(t, SKMEM.wmemAlloc));
    w.field(L_TB, r.u32(t, SKMEM.sndbuf));
    w.field(L_F, r.u32(t, SKMEM.fwdAlloc));
    w.field(L_W, r.u32(t, SKMEM.wmemQueued));
    w.field(L_O, r.u32(t, SKMEM.optmem));
    if (r.hasU32(t, SKMEM.backlog)) {
      w.field(L_BL, r.u32(t, SKMEM.backlog));
    }
    if (r.hasU32(t, SKMEM.drops)) {
      w.field(L_D, r.u32(t, SKMEM.drops));
    }
    w.byte(0x29);
  } else if (r.has(A_MEMINFO)) {
    const t = A_MEMINFO;
    w.field(L_MEM_R, r.u32(t, MEMINFO.rmem));
    w.field(L_W, r.u32(t, MEMINFO.wmem));
    w.field(L_F, r.u32(t, MEMINFO.fmem));
    w.field(L_T, r.u32(t, MEMINFO.tmem));
    w.byte(0x29);
  }
}

/** The congestion control's name, as ss prints it (at most 15 bytes, up to a NUL). */
function writeCong(w: CellWriter): void {
  const r = reply;
  if (!r.has(A_CONG)) return;
  const start = r.at[A_CONG];
  const stop = start + Math.min(r.len[A_CONG], CONG_NAME_MAX);
  let end = start;
  while (end < stop && r.b[end] !== 0) end++;
  if (end === start) return;
  w.byte(0x20);
  w.copy(r.b, start, end);
}

/** ss 6.1's tcp_show_info: the `tcp_info` line (INET_DIAG_INFO read as `struct tcp_info`). */
function writeTcpStats(w: CellWriter, o: FormatOptions): void {
  const r = reply;
  const t = info;
  t.bind();
  const numeric = !!o.numeric;
  const opts = t.u8(T.options);
  if (o.options || o.extended || o.bpf) {
    if (opts & 1) w.ascii(L_TS);
    if (opts & 2) w.ascii(L_SACK);
    if (opts & 8) w.ascii(L_ECN);
    if (opts & 16) w.ascii(L_ECNSEEN);
    if (opts & 32) w.ascii(L_FASTOPEN);
  }
  writeCong(w);
  if (opts & 4) {
    const scales = t.u8(SND_WSCALE.offset);
    w.field(L_WSCALE, (scales >> SND_WSCALE.shift) & SND_WSCALE.mask);
    w.byte(0x2c);
    w.uint((t.u8(RCV_WSCALE.offset) >> RCV_WSCALE.shift) & RCV_WSCALE.mask);
  }
  const rto = t.u32(T.rto);
  if (rto && rto !== 3000000) {
    w.ascii(L_RTO);
    writeMs(w, rto);
  }
  u32Field(w, L_BACKOFF, t.u8(T.backoff));
  const rttUs = t.u32(T.rtt);
  if (rttUs) {
    w.ascii(L_RTT);
    writeMs(w, rttUs);
    w.byte(0x2f);
    writeMs(w, t.u32(T.rttvar));
  }
  const ato = t.u32(T.ato);
  if (ato) {
    w.ascii(L_ATO);
    writeMs(w, ato);
  }
  const sndMss = t.u32(T.sndMss);
  if (sndMss) {
    w.ascii(L_MSS);
    w.int(t.i32(T.sndMss));
  }
  u32Field(w, L_PMTU, t.u32(T.pmtu));
  if (t.u32(T.rcvMss)) {
    w.ascii(L_RCVMSS);
    w.int(t.i32(T.rcvMss));
  }
  if (t.u32(T.advmss)) {
    w.ascii(L_ADVMSS);
    w.int(t.i32(T.advmss));
  }
  const cwnd = t.u32(T.sndCwnd);
  u32Field(w, L_CWND, cwnd);
  const ssthresh = t.u32(T.sndSsthresh);
  if (ssthresh && ssthresh < 0xffff) {
    w.field(L_SSTHRESH, ssthresh);
  }
  t.u64Field(w, L_BYTES_SENT, T.bytesSent);
  t.u64Field(w, L_BYTES_RETRANS, T.bytesRetrans);
  t.u64Field(w, L_BYTES_ACKED, T.bytesAcked);
  t.u64Field(w, L_BYTES_RECEIVED, T.bytesReceived);
  u32Field(w, L_SEGS_OUT, t.u32(T.segsOut));
  u32Field(w, L_SEGS_IN, t.u32(T.segsIn));
  u32Field(w, L_DATA_SEGS_OUT, t.u32(T.dataSegsOut));
  u32Field(w, L_DATA_SEGS_IN, t.u32(T.dataSegsIn));
  if (r.has(A_DCTCP)) {
    if (r.u16(A_DCTCP, DCTCP.enabled)) {
      w.field(L_DCTCP_CE_STATE, r.u16(A_DCTCP, DCTCP.ceState));
      w.field(L_ALPHA, r.u32(A_DCTCP, DCTCP.alpha));
      w.field(L_AB_ECN, r.u32(A_DCTCP, DCTCP.abEcn));
      w.field(L_AB_TOT, r.u32(A_DCTCP, DCTCP.abTot));
      w.byte(0x29);
    } else {
      w.ascii(L_DCTCP_FALLBACK_MODE);
    }
  }
  if (r.has(A_BBR)) {
    w.ascii(L_BBR_BW);
    writeBitRate(w, r.u64(A_BBR, BBR.bw) * 8, numeric);
    w.ascii(L_BPS_MRTT);
    writeMs(w, r.u32(A_BBR, BBR.minRtt));
    const pacingGain = r.u32(A_BBR, BBR.pacingGain);
    if (pacingGain) {
      w.ascii(L_PACING_GAIN);
      w.text(formatG(pacingGain / 256));
    }
    const cwndGain = r.u32(A_BBR, BBR.cwndGain);
    if (cwndGain) {
      w.ascii(L_CWND_GAIN);
      w.text(formatG(cwndGain / 256));
    }
    w.byte(0x29);
  }
  let rttForRate = rttUs;
  if (r.has(A_VEGAS) && r.u32(A_VEGAS, VEGAS_ENABLED)) {
    const vegasRtt = r.u32(A_VEGAS, VEGAS_RTT);
    if (vegasRtt && vegasRtt !== 0x7fffffff) rttForRate = vegasRtt;
  }
  if (rttForRate > 0 && sndMss && cwnd) {
    w.ascii(L_SEND);
    writeBitRate(w, (cwnd * sndMss * 8000000) / rttForRate, numeric);
    w.ascii(L_BPS);
  }
  u32Field(w, L_LASTSND, t.u32(T.lastDataSent));
  u32Field(w, L_LASTRCV, t.u32(T.lastDataRecv));
  u32Field(w, L_LASTACK, t.u32(T.lastAckRecv));
  const pacing = t.u64(T.pacingRate);
  if (pacing && !t.u64AllOnes(T.pacingRate)) {
    w.ascii(L_PACING_RATE);
    writeBitRate(w, pacing * 8, numeric);
    w.ascii(L_BPS);
    const max = t.u64(T.maxPacingRate);
    if (max && !t.u64AllOnes(T.maxPacingRate)) {
      w.byte(0x2f);
      writeBitRate(w, max * 8, numeric);
      w.ascii(L_BPS);
    }
  }
  const delivery = t.u64(T.deliveryRate);
  if (delivery) {
    w.ascii(L_DELIVERY_RATE);
    writeBitRate(w, delivery * 8, numeric);
    w.ascii(L_BPS);
  }
  u32Field(w, L_DELIVERED, t.u32(T.delivered));
  u32Field(w, L_DELIVERED_CE, t.u32(T.deliveredCe));
  if ((t.u8(APP_LIMITED.offset) >> APP_LIMITED.shift) & APP_LIMITED.mask) w.ascii(L_APP_LIMITED);
  const busy = t.u64(T.busyTime);
  if (busy) {
    w.ascii(L_BUSY);
    writeMsOfMicros(w, busy);
    w.ascii(L_MS);
    const rwnd = t.u64(T.rwndLimited);
    if (rwnd) {
      w.ascii(L_RWND_LIMITED);
      writeMsOfMicros(w, rwnd);
      w.ascii(L_MS_2);
      w.text(formatFixed((100 * rwnd) / busy, 1));
      w.ascii(L_SEP);
    }
    const sndbuf = t.u64(T.sndbufLimited);
    if (sndbuf) {
      w.ascii(L_SNDBUF_LIMITED);
      writeMsOfMicros(w, sndbuf);
      w.ascii(L_MS_2);
      w.text(formatFixed((100 * sndbuf) / busy, 1));
      w.ascii(L_SEP);
    }
  }
  u32Field(w, L_UNACKED, t.u32(T.unacked));
  const retrans = t.u32(T.retrans);
  const totalRetrans = t.u32(T.totalRetrans);
  if (retrans || totalRetrans) {
    w.field(L_RETRANS, retrans);
    w.byte(0x2f);
    w.uint(totalRetrans);
  }
  u32Field(w, L_LOST, t.u32(T.lost));
  if (r.state !== 'listening') u32Field(w, L_SACKED, t.u32(T.sacked));
  u32Field(w, L_DSACK_DUPS, t.u32(T.dsackDups));
  u32Field(w, L_FACKETS, t.u32(T.fackets));
  const reordering = t.i32(T.reordering);
  if (reordering !== 3) {
    w.ascii(L_REORDERING);
    w.int(reordering);
  }
  if (t.u32(T.reordSeen)) {
    w.ascii(L_REORD_SEEN);
    w.int(t.i32(T.reordSeen));
  }
  const rcvRtt = t.u32(T.rcvRtt);
  if (rcvRtt) {
    w.ascii(L_RCV_RTT);
    writeMs(w, rcvRtt);
  }
  if (t.u32(T.rcvSpace)) {
    w.ascii(L_RCV_SPACE);
    w.int(t.i32(T.rcvSpace));
  }
  u32Field(w, L_RCV_SSTHRESH, t.u32(T.rcvSsthresh));
  u32Field(w, L_NOTSENT, t.u32(T.notsent));
  const minRtt = t.u32(T.minRtt);
  if (minRtt && minRtt !== 0xffffffff) {
    w.ascii(L_MINRTT);
    writeMs(w, minRtt);
  }
  u32Field(w, L_RCV_OOOPACK, t.u32(T.rcvOoopack));
  u32Field(w, L_SND_WND, t.u32(T.sndWnd));
  // Fields after tcpi_snd_wnd (rcv_wnd, rehash, …) are newer than ss 6.1, which does not print them.
}


const TIMER_LABELS: ReadonlySet<string> = new Set(['on', 'keepalive', 'timewait', 'persist']);

/** ` timer:(name,expires,retransmits)` (ss's -o). */
function writeTimer(w: CellWriter): void {
  const r = reply;
  const timer = r.b[r.msg + M_TIMER];
  if (timer === 0) return;
  const name: string = TIMER_NAMES[timer] ?? 'unknown';
  w.ascii(L_TIMER);
  w.text(r.protocol === 'sctp' ? 'T3_RTX' : TIMER_LABELS.has(name) ? name : 'unknown');
  w.byte(0x2c);
  w.text(formatTimer(r.dv.getUint32(r.msg + M_EXPIRES, true)));
  w.byte(0x2c);
  w.uint(r.b[r.msg + M_RETRANS]);
  w.byte(0x29);
}

/** Writes the details column of the message bound to {@link reply} into `w`. */
export function writeInetDetails(w: CellWriter, o: FormatOptions): void {
  const r = reply;
  const protocol = r.protocol;
  if (o.processes || o.threads || o.selinuxProcess || o.selinuxSocket) w.text(usersText(r.socket() as Socket, o));
  if (o.options || o.extended || o.bpf) writeTimer(w);
  if (o.extended) writeExtended(w, o);
  if (o.tos || o.cgroup || o.inetSockopt) w.text(inetOptionsText(r.socket(), o));
  if (o.memory || (o.info && protocol !== 'udp')) {
    if (!o.oneline) w.ascii(L_NLTAB);
    if (protocol === 'sctp') {
      w.text(sctpInfo(r.socket(), o));
    } else if (protocol === 'mptcp') {
      w.text(mptcpInfo(r.socket(), o));
    } else {
      if (o.memory) writeMemory(w);
      if (o.info && r.has(A_INFO)) writeTcpStats(w, o);
      // The kernel sends MD5 keys and ULP state only to requests for INET_DIAG_INFO (ss -i).
      if (o.info && (protocol === 'tcp' || protocol === 'dccp')) {
        if (r.has(A_MD5SIG)) w.text(md5KeysText(r.socket(), o));
        if (r.has(A_ULP)) {
          const ulp = r.socket().ulp;
          if (ulp) w.text(ulpText(ulp));
        }
      }
    }
  }
}
