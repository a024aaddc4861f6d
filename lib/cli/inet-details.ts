/**
 * The details column of inet sockets (what ss prints after the peer), written as bytes
 * straight from the kernel's reply through its view (`InetMessage`, diag/inet/view.ts):
 * `tcp_info`, socket memory, the congestion control's state and the `-e` fields are read at
 * their table offsets and their numbers written as
 * digits, with no decoded objects, BigInts or intermediate strings. At 100k sockets this
 * is most of the command's time (`sockdiag -tanie`), as printf is most of ss's.
 *
 * This is the only writer of the inet details text; what is rare (`-p`, `--tos`, MD5 keys,
 * ULP, MPTCP and SCTP details…) is taken from the message's socket object (`m.socket()`)
 * and the string formatters of details.ts.
 * @module
 */
import { TIMER_NAMES, INET_DIAG_ATTR, type InetMessage, type PayloadReader } from '../diag/inet';
import { inetDiagMeminfo, tcpvegasInfo, tcpDctcpInfo, tcpBbrInfo } from '../diag/inet/structs';
import { tcpInfo } from '../diag/inet/tcp-info';
import type { Socket } from '../diag/socket';
import { STATE_NUMBERS } from '../diag/constants';
import { skMeminfo } from '../diag/common/skmeminfo';
import { fieldAt } from '../netlink/offsets';
import type { StructSpec } from '../netlink/struct';
import type { CellWriter } from './table';
import type { FormatOptions } from './format';
import { formatBitRate, formatFixed, formatG, formatMicrosAsMs, formatTimer } from './units';
import { cgroupName, inetOptionsText, md5KeysText, mptcpInfo, sctpInfo, ulpText, usersText } from './details';

const A_MEMINFO = INET_DIAG_ATTR.meminfo;
const A_INFO = INET_DIAG_ATTR.info;
const A_VEGAS = INET_DIAG_ATTR.vegas;
const A_CONG = INET_DIAG_ATTR.cong;
const A_SKMEMINFO = INET_DIAG_ATTR.skmem;
const A_SHUTDOWN = INET_DIAG_ATTR.shutdown;
const A_DCTCP = INET_DIAG_ATTR.dctcp;
const A_V6ONLY = INET_DIAG_ATTR.v6only;
const A_MARK = INET_DIAG_ATTR.mark;
const A_BBR = INET_DIAG_ATTR.bbr;
const A_MD5SIG = INET_DIAG_ATTR.md5sig;
const A_ULP = INET_DIAG_ATTR.ulp;
const A_CGROUP_ID = INET_DIAG_ATTR.cgroupId;
const A_PROTOCOL = INET_DIAG_ATTR.protocolNumber;
const TCP_LISTEN = STATE_NUMBERS.listening;

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

/** INET_DIAG_PROTOCOL (raw sockets' protocol), 255 when absent. */
export function protocolNumber(m: InetMessage): number {
  return m.has(A_PROTOCOL) ? m.u8(A_PROTOCOL) : 255;
}

/** INET_DIAG_SKV6ONLY, or undefined when the kernel did not send it. */
export function v6only(m: InetMessage): boolean | undefined {
  return m.has(A_V6ONLY) ? m.u8(A_V6ONLY) !== 0 : undefined;
}

/** ` label:N` for a u64 field that is not 0, its digits exact at any size. */
function u64Field(w: CellWriter, t: PayloadReader, label: Uint8Array, field: number): void {
  const lo = t.u32(field);
  const hi = t.u32(field + 4);
  if (lo === 0 && hi === 0) return;
  w.ascii(label);
  if (hi < 0x200000) w.uint(hi * TWO_32 + lo);
  else w.text(t.u64(field).toString());
}

/** Whether a u64 field is all ones (the kernel's "no limit"). */
function u64AllOnes(t: PayloadReader, field: number): boolean {
  return t.u32(field) === 0xffffffff && t.u32(field + 4) === 0xffffffff;
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
function writeExtended(w: CellWriter, m: InetMessage, o: FormatOptions): void {
  const uid = m.uid;
  if (uid) {
    w.field(L_UID, uid);
  }
  w.field(L_INO, m.inode);
  w.ascii(L_SK);
  const hi = m.cookieHi;
  if (hi !== 0) {
    w.hex(hi);
    w.hex(m.cookieLo, 8);
  } else {
    w.hex(m.cookieLo);
  }
  const mark = m.u32(A_MARK);
  if (mark) {
    w.ascii(L_FWMARK_0X);
    w.hex(mark);
  }
  const cgLo = m.u32(A_CGROUP_ID);
  const cgHi = m.u32(A_CGROUP_ID, 4);
  if (cgLo !== 0 || cgHi !== 0) {
    // Every socket of a listing tends to be in the same cgroup: keep the last name.
    if (cgLo !== lastCgroupLo || cgHi !== lastCgroupHi || o.cgroupPath !== lastCgroupResolver || o.cgroupPath === undefined) {
      lastCgroupName = cgroupName(m.u64(A_CGROUP_ID), o);
      lastCgroupLo = cgLo;
      lastCgroupHi = cgHi;
      lastCgroupResolver = o.cgroupPath;
    }
    w.ascii(L_CGROUP);
    w.text(lastCgroupName);
  }
  if (m.v6) {
    const only = v6only(m);
    if (only !== undefined) w.text(only ? ' v6only:1' : ' v6only:0');
  }
  if (m.has(A_SHUTDOWN)) {
    const mask = m.u8(A_SHUTDOWN);
    w.byte(0x20);
    w.byte(mask & 1 ? 0x2d : 0x3c);
    w.byte(0x2d);
    w.byte(mask & 2 ? 0x2d : 0x3e);
  }
}

/** skmem, or the old `mem:(r,w,f,t)` when only INET_DIAG_MEMINFO came (ss asks both with -m). */
function writeMemory(w: CellWriter, m: InetMessage): void {
  if (m.has(A_SKMEMINFO)) {
    const t = A_SKMEMINFO;
    w.field(L_SKMEM_R, m.u32(t, SKMEM.rmemAlloc));
    w.field(L_RB, m.u32(t, SKMEM.rcvbuf));
    w.field(L_T, m.u32(t, SKMEM.wmemAlloc));
    w.field(L_TB, m.u32(t, SKMEM.sndbuf));
    w.field(L_F, m.u32(t, SKMEM.fwdAlloc));
    w.field(L_W, m.u32(t, SKMEM.wmemQueued));
    w.field(L_O, m.u32(t, SKMEM.optmem));
    if (m.hasField(t, SKMEM.backlog, 4)) {
      w.field(L_BL, m.u32(t, SKMEM.backlog));
    }
    if (m.hasField(t, SKMEM.drops, 4)) {
      w.field(L_D, m.u32(t, SKMEM.drops));
    }
    w.byte(0x29);
  } else if (m.has(A_MEMINFO)) {
    const t = A_MEMINFO;
    w.field(L_MEM_R, m.u32(t, MEMINFO.rmem));
    w.field(L_W, m.u32(t, MEMINFO.wmem));
    w.field(L_F, m.u32(t, MEMINFO.fmem));
    w.field(L_T, m.u32(t, MEMINFO.tmem));
    w.byte(0x29);
  }
}

/** The congestion control's name, as ss prints it (at most 15 bytes, up to a NUL). */
function writeCong(w: CellWriter, m: InetMessage): void {
  if (!m.has(A_CONG)) return;
  const b = m.buffer;
  const start = m.payload(A_CONG);
  const stop = start + Math.min(m.payloadLength(A_CONG), CONG_NAME_MAX);
  let end = start;
  while (end < stop && b[end] !== 0) end++;
  if (end === start) return;
  w.byte(0x20);
  w.copy(b, start, end);
}

/** ss 6.1's tcp_show_info: the `tcp_info` line (INET_DIAG_INFO read as `struct tcp_info`). */
function writeTcpStats(w: CellWriter, m: InetMessage, o: FormatOptions): void {
  const t = m.reader(A_INFO, tcpInfo);
  const numeric = !!o.numeric;
  const opts = t.u8(T.options);
  if (o.options || o.extended || o.bpf) {
    if (opts & 1) w.ascii(L_TS);
    if (opts & 2) w.ascii(L_SACK);
    if (opts & 8) w.ascii(L_ECN);
    if (opts & 16) w.ascii(L_ECNSEEN);
    if (opts & 32) w.ascii(L_FASTOPEN);
  }
  writeCong(w, m);
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
    w.int(t.s32(T.sndMss));
  }
  u32Field(w, L_PMTU, t.u32(T.pmtu));
  if (t.u32(T.rcvMss)) {
    w.ascii(L_RCVMSS);
    w.int(t.s32(T.rcvMss));
  }
  if (t.u32(T.advmss)) {
    w.ascii(L_ADVMSS);
    w.int(t.s32(T.advmss));
  }
  const cwnd = t.u32(T.sndCwnd);
  u32Field(w, L_CWND, cwnd);
  const ssthresh = t.u32(T.sndSsthresh);
  if (ssthresh && ssthresh < 0xffff) {
    w.field(L_SSTHRESH, ssthresh);
  }
  u64Field(w, t, L_BYTES_SENT, T.bytesSent);
  u64Field(w, t, L_BYTES_RETRANS, T.bytesRetrans);
  u64Field(w, t, L_BYTES_ACKED, T.bytesAcked);
  u64Field(w, t, L_BYTES_RECEIVED, T.bytesReceived);
  u32Field(w, L_SEGS_OUT, t.u32(T.segsOut));
  u32Field(w, L_SEGS_IN, t.u32(T.segsIn));
  u32Field(w, L_DATA_SEGS_OUT, t.u32(T.dataSegsOut));
  u32Field(w, L_DATA_SEGS_IN, t.u32(T.dataSegsIn));
  if (m.has(A_DCTCP)) {
    if (m.u16(A_DCTCP, DCTCP.enabled)) {
      w.field(L_DCTCP_CE_STATE, m.u16(A_DCTCP, DCTCP.ceState));
      w.field(L_ALPHA, m.u32(A_DCTCP, DCTCP.alpha));
      w.field(L_AB_ECN, m.u32(A_DCTCP, DCTCP.abEcn));
      w.field(L_AB_TOT, m.u32(A_DCTCP, DCTCP.abTot));
      w.byte(0x29);
    } else {
      w.ascii(L_DCTCP_FALLBACK_MODE);
    }
  }
  if (m.has(A_BBR)) {
    w.ascii(L_BBR_BW);
    writeBitRate(w, m.u64Number(A_BBR, BBR.bw) * 8, numeric);
    w.ascii(L_BPS_MRTT);
    writeMs(w, m.u32(A_BBR, BBR.minRtt));
    const pacingGain = m.u32(A_BBR, BBR.pacingGain);
    if (pacingGain) {
      w.ascii(L_PACING_GAIN);
      w.text(formatG(pacingGain / 256));
    }
    const cwndGain = m.u32(A_BBR, BBR.cwndGain);
    if (cwndGain) {
      w.ascii(L_CWND_GAIN);
      w.text(formatG(cwndGain / 256));
    }
    w.byte(0x29);
  }
  let rttForRate = rttUs;
  if (m.has(A_VEGAS) && m.u32(A_VEGAS, VEGAS_ENABLED)) {
    const vegasRtt = m.u32(A_VEGAS, VEGAS_RTT);
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
  const pacing = t.u64Number(T.pacingRate);
  if (pacing && !u64AllOnes(t, T.pacingRate)) {
    w.ascii(L_PACING_RATE);
    writeBitRate(w, pacing * 8, numeric);
    w.ascii(L_BPS);
    const max = t.u64Number(T.maxPacingRate);
    if (max && !u64AllOnes(t, T.maxPacingRate)) {
      w.byte(0x2f);
      writeBitRate(w, max * 8, numeric);
      w.ascii(L_BPS);
    }
  }
  const delivery = t.u64Number(T.deliveryRate);
  if (delivery) {
    w.ascii(L_DELIVERY_RATE);
    writeBitRate(w, delivery * 8, numeric);
    w.ascii(L_BPS);
  }
  u32Field(w, L_DELIVERED, t.u32(T.delivered));
  u32Field(w, L_DELIVERED_CE, t.u32(T.deliveredCe));
  if ((t.u8(APP_LIMITED.offset) >> APP_LIMITED.shift) & APP_LIMITED.mask) w.ascii(L_APP_LIMITED);
  const busy = t.u64Number(T.busyTime);
  if (busy) {
    w.ascii(L_BUSY);
    writeMsOfMicros(w, busy);
    w.ascii(L_MS);
    const rwnd = t.u64Number(T.rwndLimited);
    if (rwnd) {
      w.ascii(L_RWND_LIMITED);
      writeMsOfMicros(w, rwnd);
      w.ascii(L_MS_2);
      w.text(formatFixed((100 * rwnd) / busy, 1));
      w.ascii(L_SEP);
    }
    const sndbuf = t.u64Number(T.sndbufLimited);
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
  if (m.state !== TCP_LISTEN) u32Field(w, L_SACKED, t.u32(T.sacked));
  u32Field(w, L_DSACK_DUPS, t.u32(T.dsackDups));
  u32Field(w, L_FACKETS, t.u32(T.fackets));
  const reordering = t.s32(T.reordering);
  if (reordering !== 3) {
    w.ascii(L_REORDERING);
    w.int(reordering);
  }
  if (t.u32(T.reordSeen)) {
    w.ascii(L_REORD_SEEN);
    w.int(t.s32(T.reordSeen));
  }
  const rcvRtt = t.u32(T.rcvRtt);
  if (rcvRtt) {
    w.ascii(L_RCV_RTT);
    writeMs(w, rcvRtt);
  }
  if (t.u32(T.rcvSpace)) {
    w.ascii(L_RCV_SPACE);
    w.int(t.s32(T.rcvSpace));
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
function writeTimer(w: CellWriter, m: InetMessage): void {
  const timer = m.timer;
  if (timer === 0) return;
  const name: string = TIMER_NAMES[timer] ?? 'unknown';
  w.ascii(L_TIMER);
  w.text(m.protocolName === 'sctp' ? 'T3_RTX' : TIMER_LABELS.has(name) ? name : 'unknown');
  w.byte(0x2c);
  w.text(formatTimer(m.expires));
  w.byte(0x2c);
  w.uint(m.retrans);
  w.byte(0x29);
}

/** Writes the details column of the inet reply message `m` into `w`. */
export function writeInetDetails(w: CellWriter, m: InetMessage, o: FormatOptions): void {
  const protocol = m.protocolName;
  if (o.processes || o.threads || o.selinuxProcess || o.selinuxSocket) w.text(usersText(m.socket() as Socket, o));
  if (o.options || o.extended || o.bpf) writeTimer(w, m);
  if (o.extended) writeExtended(w, m, o);
  if (o.tos || o.cgroup || o.inetSockopt) w.text(inetOptionsText(m.socket(), o));
  if (o.memory || (o.info && protocol !== 'udp')) {
    if (!o.oneline) w.ascii(L_NLTAB);
    if (protocol === 'sctp') {
      w.text(sctpInfo(m.socket(), o));
    } else if (protocol === 'mptcp') {
      w.text(mptcpInfo(m.socket(), o));
    } else {
      if (o.memory) writeMemory(w, m);
      if (o.info && m.has(A_INFO)) writeTcpStats(w, m, o);
      // The kernel sends MD5 keys and ULP state only to requests for INET_DIAG_INFO (ss -i).
      if (o.info && (protocol === 'tcp' || protocol === 'dccp')) {
        if (m.has(A_MD5SIG)) w.text(md5KeysText(m.socket(), o));
        if (m.has(A_ULP)) {
          const ulp = m.socket().ulp;
          if (ulp) w.text(ulpText(ulp));
        }
      }
    }
  }
}
