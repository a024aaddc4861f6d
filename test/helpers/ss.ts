/**
 * Run the real `ss` (iproute2 6.1) inside a test namespace and parse its text.
 *
 * Invocation: `ss -H -O -n -a -e -m -i -p <table flags>`, one call per table, inside
 * `ip netns exec NS sh -c 'mount -t cgroup2 none /sys/fs/cgroup; exec ss …'` (ip netns
 * exec remounts /sys, which hides cgroup2: without the mount `ss -e` complains for every
 * socket and runs much slower).
 *
 * The parser gives one {@link SsRecord} per line, with ss's own field names (snake_case
 * as ss prints them) and units (ms for rtt/rto, bps for rates).
 */
import { spawn } from 'node:child_process';

/** One `ss` table; the inet ones are split by family because ss prints `*` for `::`. */
export type SsTable =
  | 'tcp4'
  | 'tcp6'
  | 'udp4'
  | 'udp6'
  | 'raw4'
  | 'raw6'
  | 'mptcp4'
  | 'mptcp6'
  | 'unix'
  | 'packet'
  | 'netlink';

export const SS_TABLES: readonly SsTable[] = [
  'tcp4',
  'tcp6',
  'udp4',
  'udp6',
  'raw4',
  'raw6',
  'mptcp4',
  'mptcp6',
  'unix',
  'packet',
  'netlink',
];

/** The flags selecting each table. */
export const SS_TABLE_FLAGS: Readonly<Record<SsTable, readonly string[]>> = {
  tcp4: ['-t', '-4'],
  tcp6: ['-t', '-6'],
  udp4: ['-u', '-4'],
  udp6: ['-u', '-6'],
  raw4: ['-w', '-4'],
  raw6: ['-w', '-6'],
  mptcp4: ['-M', '-4'],
  mptcp6: ['-M', '-6'],
  unix: ['-x'],
  packet: ['-0'],
  netlink: ['-A', 'netlink'],
};

/** The common flags: no header, one line per socket, numeric, all states, -e -m -i -p. */
export const SS_COMMON_FLAGS: readonly string[] = ['-H', '-O', '-n', '-a', '-e', '-m', '-i', '-p'];

export type SsFamily = 'inet' | 'inet6' | 'unix' | 'packet' | 'netlink';

export function tableFamily(t: SsTable): SsFamily {
  if (t === 'unix' || t === 'packet' || t === 'netlink') return t;
  return t.endsWith('6') ? 'inet6' : 'inet';
}

export function tableProtocol(t: SsTable): 'tcp' | 'udp' | 'raw' | 'mptcp' | 'unix' | 'packet' | 'netlink' {
  if (t === 'unix' || t === 'packet' || t === 'netlink') return t;
  return t.slice(0, -1) as 'tcp' | 'udp' | 'raw' | 'mptcp';
}

/** ss state text → the state names ss's filters (and sockdiag) use. */
export const SS_STATE_NAMES: Readonly<Record<string, string>> = {
  UNKNOWN: 'unknown',
  ESTAB: 'established',
  'SYN-SENT': 'syn-sent',
  'SYN-RECV': 'syn-recv',
  'FIN-WAIT-1': 'fin-wait-1',
  'FIN-WAIT-2': 'fin-wait-2',
  'TIME-WAIT': 'time-wait',
  UNCONN: 'closed',
  'CLOSE-WAIT': 'close-wait',
  'LAST-ACK': 'last-ack',
  LISTEN: 'listening',
  CLOSING: 'closing',
  // ss prints these for netlink/packet in some versions
  CONNECTED: 'established',
};

const NETIDS = new Set([
  'tcp',
  'udp',
  'raw',
  'mptcp',
  'sctp',
  'dccp',
  'u_str',
  'u_dgr',
  'u_seq',
  '???',
  'p_raw',
  'p_dgr',
  'nl',
  'v_str',
  'v_dgr',
  'v_seq',
  'tipc',
  'xdp',
]);

export interface SsAddress {
  /** The address as ss printed it, brackets removed (`*` kept as printed). */
  text: string;
  /** Normalised: `*` → '::' (inet6) or '0.0.0.0' (inet). */
  address: string;
  /** Port (0 when ss printed `*`). For unix: the inode. */
  port: number;
  /** `%IFNAME` suffix, when bound to a device. */
  iface?: string;
}

export interface SsUser {
  command: string;
  pid: number;
  fd: number;
}

export interface SsTimer {
  name: string;
  /** As printed: '58sec', '1.096ms', '' once expired. */
  expires: string;
  retrans: number;
}

export interface SsSkmem {
  r: number;
  rb: number;
  t: number;
  tb: number;
  f: number;
  w: number;
  o: number;
  bl: number;
  d: number;
}

/** What `-i` prints for a TCP socket, named as ss prints it (ms for times, bps for rates). */
export interface SsTcpInfo {
  ts?: boolean;
  sack?: boolean;
  ecn?: boolean;
  ecnseen?: boolean;
  fastopen?: boolean;
  app_limited?: boolean;
  bidir?: boolean;
  /** Congestion control algorithm ('bbr', 'cubic', …). */
  cong?: string;
  snd_wscale?: number;
  rcv_wscale?: number;
  rto?: number;
  backoff?: number;
  rtt?: number;
  rttvar?: number;
  ato?: number;
  qack?: number;
  mss?: number;
  pmtu?: number;
  rcvmss?: number;
  advmss?: number;
  cwnd?: number;
  ssthresh?: number;
  bytes_sent?: bigint;
  bytes_retrans?: bigint;
  bytes_acked?: bigint;
  bytes_received?: bigint;
  segs_out?: number;
  segs_in?: number;
  data_segs_out?: number;
  data_segs_in?: number;
  send?: number;
  lastsnd?: number;
  lastrcv?: number;
  lastack?: number;
  pacing_rate?: number;
  pacing_rate_max?: number;
  delivery_rate?: number;
  delivered?: number;
  delivered_ce?: number;
  busy?: number;
  rwnd_limited?: number;
  sndbuf_limited?: number;
  unacked?: number;
  retrans?: number;
  retrans_total?: number;
  lost?: number;
  sacked?: number;
  dsack_dups?: number;
  fackets?: number;
  reordering?: number;
  reord_seen?: number;
  rcv_rtt?: number;
  rcv_space?: number;
  rcv_ssthresh?: number;
  notsent?: number;
  minrtt?: number;
  rcv_ooopack?: number;
  snd_wnd?: number;
  rcv_wnd?: number;
  bbr?: { bw?: number; mrtt?: number; pacing_gain?: number; cwnd_gain?: number };
  dctcp?: { ce_state?: number; alpha?: number; ab_ecn?: number; ab_tot?: number; fallback_mode?: boolean };
  /** `tcp-ulp-NAME` and the key:value pairs that follow it (mptcp subflow info). */
  ulp?: string;
  ulpInfo?: Record<string, string>;
  /** The raw text of every key:value / key value item of the -i part. */
  raw: Record<string, string>;
}

export interface SsRecord {
  table: SsTable;
  family: SsFamily;
  protocol: ReturnType<typeof tableProtocol>;
  /** Netid column when ss prints it (unix, packet), else derived from the table. */
  netid: string;
  /** State as printed ('ESTAB', 'UNCONN', …) and by filter name ('established', 'closed', …). */
  stateText: string;
  state: string;
  recvQ: number;
  sendQ: number;
  local: SsAddress;
  peer: SsAddress;
  /** -e */
  uid?: number;
  ino?: number;
  /** `sk:` — the socket cookie. */
  cookie?: bigint;
  cgroup?: string;
  v6only?: boolean;
  /** Shutdown arrows: 0 `<->`, 1 `-->`, 2 `<--`, 3 `---` (bit 0 receive, bit 1 send). */
  shutdown?: number;
  timer?: SsTimer;
  /** -p */
  users?: SsUser[];
  /** -m */
  skmem?: SsSkmem;
  /** -i (tcp) */
  tcpInfo?: SsTcpInfo;
  /** unix: name (`@…` abstract; undefined when unnamed), own and peer inode, -e VFS info, listener's pending peers. */
  unix?: { path?: string; inode: number; peerInode: number; vfs?: { ino: number; dev: string }; peers?: number[] };
  /** packet: ethertype (3 = ETH_P_ALL for `*`) and interface name ('*' = any). */
  packet?: { protocol: number; iface: string; ver?: number; cpyThresh?: number; flags?: string[] };
  /** netlink: protocol and port id; -e: groups (sk/cb are printed as 0 by ss 6.1). */
  netlink?: { protocol: number; portid: number; groups?: number; peerGroup?: number; peerPortid?: number };
  /** mptcp (-M) connection-level info, raw text by key. */
  mptcp?: Record<string, string>;
  /** Every key:value / key=value item outside the -i part, raw. */
  fields: Record<string, string>;
  /** Items nobody understood. */
  unknown: string[];
  line: string;
}

export class SsParseError extends Error {
  constructor(
    message: string,
    readonly line: string,
  ) {
    super(`${message}: ${JSON.stringify(line)}`);
    this.name = 'SsParseError';
  }
}

/** Split at whitespace that is outside parentheses and double quotes. */
export function tokenize(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quoted) {
      cur += c;
      if (c === '\\' && i + 1 < s.length) cur += s[++i];
      else if (c === '"') quoted = false;
      continue;
    }
    if (c === '"') {
      quoted = true;
      cur += c;
    } else if (c === '(') {
      depth++;
      cur += c;
    } else if (c === ')') {
      depth = Math.max(0, depth - 1);
      cur += c;
    } else if (/\s/.test(c) && depth === 0) {
      if (cur) out.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  if (cur) out.push(cur);
  return out;
}

function int(s: string, what: string, line: string): number {
  if (!/^-?\d+$/.test(s)) throw new SsParseError(`bad ${what} ${JSON.stringify(s)}`, line);
  return Number(s);
}

/** Parse `ADDR[%IF]:PORT` as ss prints inet addresses (`[v6]`, `*`, `%lo`). */
export function parseInetAddress(tok: string, family: 'inet' | 'inet6', line = tok): SsAddress {
  const colon = tok.lastIndexOf(':');
  if (colon <= 0) throw new SsParseError(`bad address ${JSON.stringify(tok)}`, line);
  let host = tok.slice(0, colon);
  const portText = tok.slice(colon + 1);
  const port = portText === '*' ? 0 : int(portText, 'port', line);
  let iface: string | undefined;
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close < 0) throw new SsParseError(`unterminated [ in ${JSON.stringify(tok)}`, line);
    const rest = host.slice(close + 1);
    if (rest) {
      if (!rest.startsWith('%')) throw new SsParseError(`junk after ] in ${JSON.stringify(tok)}`, line);
      iface = rest.slice(1);
    }
    host = host.slice(1, close);
  } else {
    const pct = host.indexOf('%');
    if (pct >= 0) {
      iface = host.slice(pct + 1);
      host = host.slice(0, pct);
    }
  }
  const address = host === '*' ? (family === 'inet6' ? '::' : '0.0.0.0') : host;
  const r: SsAddress = { text: host, address, port };
  if (iface !== undefined) r.iface = iface;
  return r;
}

const TCP_FLAGS = new Set(['ts', 'sack', 'ecn', 'ecnseen', 'fastopen', 'app_limited', 'bidir']);
const SHUTDOWN = new Map([
  ['<->', 0],
  ['-->', 1],
  ['<--', 2],
  ['---', 3],
]);
const INT_TCP_KEYS = new Set([
  'backoff',
  'qack',
  'mss',
  'pmtu',
  'rcvmss',
  'advmss',
  'cwnd',
  'ssthresh',
  'segs_out',
  'segs_in',
  'data_segs_out',
  'data_segs_in',
  'lastsnd',
  'lastrcv',
  'lastack',
  'delivered',
  'delivered_ce',
  'unacked',
  'lost',
  'sacked',
  'dsack_dups',
  'fackets',
  'reordering',
  'reord_seen',
  'rcv_space',
  'rcv_ssthresh',
  'notsent',
  'rcv_ooopack',
  'snd_wnd',
  'rcv_wnd',
]);
const BIG_TCP_KEYS = new Set(['bytes_sent', 'bytes_retrans', 'bytes_acked', 'bytes_received']);
const FLOAT_TCP_KEYS = new Set(['rto', 'ato', 'rcv_rtt', 'minrtt']);
const RATE_KEYS = new Set(['send', 'pacing_rate', 'delivery_rate']);
/** Keys (of the MPTCP subflow info after `tcp-ulp-mptcp`). */
const ULP_MPTCP_KEYS = new Set(['flags', 'token', 'seq', 'sfseq', 'ssnoff', 'maplen']);
/** Keys of -e and friends, not -i. */
const GENERIC_KEYS = new Set(['uid', 'ino', 'sk', 'cgroup', 'v6only', 'timer', 'users', 'skmem', 'dev', 'fwmark', 'tos', 'tclass', 'class_id', 'mark']);

function parseRate(s: string, line: string): number {
  // -n prints an integer; without it ss prints %.3g with k, M, G or T
  const m = /^(\d+(?:\.\d+)?(?:e[+-]\d+)?)([kKMGT]?)bps$/.exec(s);
  if (!m) throw new SsParseError(`bad rate ${JSON.stringify(s)}`, line);
  const mult = { '': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12 }[m[2] as '' | 'k' | 'K' | 'M' | 'G' | 'T'];
  return Number(m[1]) * mult;
}

function parseParenList(tok: string, key: string): string {
  // key:(a,b,c) → 'a,b,c'
  return tok.slice(key.length + 2, tok.endsWith(')') ? -1 : undefined);
}

function parseUsers(tok: string, line: string): SsUser[] {
  const body = parseParenList(tok, 'users');
  const users: SsUser[] = [];
  const re = /\("((?:[^"\\]|\\.)*)",pid=(\d+),fd=(\d+)\)/g;
  let m: RegExpExecArray | null;
  let seen = 0;
  while ((m = re.exec(body)) !== null) {
    users.push({ command: m[1]!, pid: Number(m[2]), fd: Number(m[3]) });
    seen += m[0].length;
  }
  // separators are commas between the groups
  if (users.length === 0 || seen + users.length - 1 !== body.length) {
    throw new SsParseError(`bad users ${JSON.stringify(tok)}`, line);
  }
  return users;
}

function parseSkmem(tok: string, line: string): SsSkmem {
  const body = parseParenList(tok, 'skmem');
  const out: Partial<SsSkmem> = {};
  for (const part of body.split(',')) {
    const m = /^([a-z]+)(\d+)$/.exec(part);
    if (!m) throw new SsParseError(`bad skmem item ${JSON.stringify(part)}`, line);
    (out as Record<string, number>)[m[1]!] = Number(m[2]);
  }
  for (const k of ['r', 'rb', 't', 'tb', 'f', 'w', 'o', 'bl', 'd'] as const) {
    if (out[k] === undefined) throw new SsParseError(`skmem without ${k}`, line);
  }
  return out as SsSkmem;
}

function parseTimer(tok: string, line: string): SsTimer {
  const parts = parseParenList(tok, 'timer').split(',');
  if (parts.length !== 3) throw new SsParseError(`bad timer ${JSON.stringify(tok)}`, line);
  return { name: parts[0]!, expires: parts[1]!, retrans: int(parts[2]!, 'timer retrans', line) };
}

function parseKv(body: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of body.split(',')) {
    const i = part.indexOf(':');
    if (i < 0) out[part] = 'true';
    else out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}

function splitKey(tok: string): [string, string] | null {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)[:=](.*)$/.exec(tok);
  return m ? [m[1]!, m[2]!] : null;
}

/**
 * Parse one line of `ss -H -O -n -a -e -m -i -p` output for the given table.
 * Throws {@link SsParseError} on anything it cannot make sense of in the fixed columns.
 */
export function parseSsLine(line: string, table: SsTable): SsRecord {
  const family = tableFamily(table);
  const protocol = tableProtocol(table);
  const text = line.replace(/\s+$/, '');
  const lead = /^\s*(\S+)\s+/;
  let rest = text;
  const take = (): string => {
    const m = lead.exec(rest);
    if (!m) {
      // last token of the line
      const t = rest.trim();
      if (!t) throw new SsParseError('line ends too early', line);
      rest = '';
      return t;
    }
    rest = rest.slice(m[0].length);
    return m[1]!;
  };

  let first = take();
  let netid = protocol === 'unix' ? '' : protocol === 'packet' ? '' : protocol === 'netlink' ? 'nl' : protocol;
  if (NETIDS.has(first)) {
    netid = first;
    first = take();
  }
  const stateText = first;
  const state = SS_STATE_NAMES[stateText];
  if (state === undefined) throw new SsParseError(`unknown state ${JSON.stringify(stateText)}`, line);
  const recvQ = int(take(), 'Recv-Q', line);
  const sendQ = int(take(), 'Send-Q', line);

  const rec: SsRecord = {
    table,
    family,
    protocol,
    netid,
    stateText,
    state,
    recvQ,
    sendQ,
    local: { text: '', address: '', port: 0 },
    peer: { text: '', address: '', port: 0 },
    fields: {},
    unknown: [],
    line,
  };

  if (family === 'unix') {
    // NAME INODE PEER PEERINODE — a path may contain spaces, so anchor on the inodes.
    // ss 6.1 prints the peer's name as `*` (netlink path); prefer that reading.
    const body = rest.replace(/^\s+/, '');
    const m =
      /^(.*?)\s+(\d+)\s+(\*)\s+(\d+)(?:\s+|$)/.exec(body) ?? /^(.*?)\s+(\d+)\s+(\S+)\s+(\d+)(?:\s+|$)/.exec(body);
    if (!m) throw new SsParseError('bad unix addresses', line);
    rest = rest.replace(/^\s+/, '').slice(m[0].length);
    const name = m[1]!;
    rec.local = { text: name, address: name, port: Number(m[2]) };
    rec.peer = { text: m[3]!, address: m[3]!, port: Number(m[4]) };
    rec.unix = { inode: Number(m[2]), peerInode: Number(m[4]) };
    if (name !== '*') rec.unix.path = name;
    rec.ino = Number(m[2]);
  } else if (family === 'packet') {
    const loc = take();
    const peer = take();
    const i = loc.lastIndexOf(':');
    if (i < 0) throw new SsParseError(`bad packet address ${JSON.stringify(loc)}`, line);
    const p = loc.slice(0, i);
    const iface = loc.slice(i + 1);
    let eth: number;
    if (p === '*') eth = 3;
    else if (/^\[\d+\]$/.test(p)) eth = Number(p.slice(1, -1));
    else if (/^0x[0-9a-f]+$/i.test(p)) eth = Number(p);
    else eth = ({ ip: 0x0800, ipv6: 0x86dd, arp: 0x0806, all: 3 } as Record<string, number>)[p] ?? NaN;
    if (Number.isNaN(eth)) throw new SsParseError(`unknown packet protocol ${JSON.stringify(p)}`, line);
    rec.local = { text: loc, address: p, port: 0, iface };
    rec.peer = { text: peer, address: peer, port: 0 };
    rec.packet = { protocol: eth, iface };
  } else if (family === 'netlink') {
    const loc = take();
    const peer = take();
    // ss prints `*` for port id -1
    const m = /^(\d+):(-?\d+|\*)$/.exec(loc);
    if (!m) throw new SsParseError(`bad netlink address ${JSON.stringify(loc)} (use -n)`, line);
    const portid = m[2] === '*' ? -1 : Number(m[2]);
    rec.local = { text: loc, address: m[1]!, port: portid };
    rec.peer = { text: peer, address: peer, port: 0 };
    rec.netlink = { protocol: Number(m[1]), portid };
    const pm = /^(\d+):(-?\d+)$/.exec(peer);
    if (pm) {
      rec.netlink.peerGroup = Number(pm[1]);
      rec.netlink.peerPortid = Number(pm[2]);
      rec.peer.port = Number(pm[2]);
    } else if (peer !== '*') {
      throw new SsParseError(`bad netlink peer ${JSON.stringify(peer)}`, line);
    }
  } else {
    rec.local = parseInetAddress(take(), family, line);
    rec.peer = parseInetAddress(take(), family, line);
  }

  parseTail(rec, tokenize(rest), line);
  return rec;
}

function parseTail(rec: SsRecord, toks: string[], line: string): void {
  let tcp: SsTcpInfo | undefined;
  const tcpInfo = (): SsTcpInfo => (tcp ??= { raw: {} });
  let inUlp = false;
  let inPeers = false;
  const isTcp = rec.protocol === 'tcp';

  for (let i = 0; i < toks.length; i++) {
    const tok = toks[i]!;

    if (inPeers) {
      if (/^\d+$/.test(tok)) {
        rec.unix!.peers!.push(Number(tok));
        continue;
      }
      inPeers = false;
    }
    if (SHUTDOWN.has(tok)) {
      rec.shutdown = SHUTDOWN.get(tok);
      continue;
    }
    if (tok.startsWith('users:(')) {
      rec.users = parseUsers(tok, line);
      continue;
    }
    if (tok.startsWith('skmem:(')) {
      rec.skmem = parseSkmem(tok, line);
      continue;
    }
    if (tok.startsWith('timer:(')) {
      rec.timer = parseTimer(tok, line);
      continue;
    }
    if (tok === 'peers:' && rec.unix) {
      rec.unix.peers = [];
      inPeers = true;
      continue;
    }
    if (tok.startsWith('flags(') && rec.packet) {
      rec.packet.flags = tok
        .slice(6, -1)
        .trim()
        .split(/\s+/)
        .filter((f) => f && f !== '0');
      continue;
    }

    if (isTcp) {
      if (tok.startsWith('tcp-ulp-')) {
        tcpInfo().ulp = tok.slice(8);
        tcpInfo().ulpInfo = {};
        inUlp = true;
        continue;
      }
      const kv0 = splitKey(tok);
      if (inUlp && kv0 && ULP_MPTCP_KEYS.has(kv0[0])) {
        tcpInfo().ulpInfo![kv0[0]] = kv0[1];
        continue;
      }
      if (TCP_FLAGS.has(tok)) {
        (tcpInfo() as unknown as Record<string, boolean>)[tok] = true;
        continue;
      }
      if (RATE_KEYS.has(tok) && i + 1 < toks.length) {
        const v = toks[++i]!;
        const t = tcpInfo();
        t.raw[tok] = v;
        if (tok === 'pacing_rate' && v.includes('/')) {
          const [a, b] = v.split('/');
          t.pacing_rate = parseRate(a!, line);
          t.pacing_rate_max = parseRate(b!, line);
        } else {
          t[tok as 'send' | 'pacing_rate' | 'delivery_rate'] = parseRate(v, line);
        }
        continue;
      }
      if (kv0 && !GENERIC_KEYS.has(kv0[0])) {
        const [k, v] = kv0;
        const t = tcpInfo();
        t.raw[k] = v;
        if (INT_TCP_KEYS.has(k)) {
          (t as unknown as Record<string, number>)[k] = int(v, k, line);
        } else if (BIG_TCP_KEYS.has(k)) {
          if (!/^\d+$/.test(v)) throw new SsParseError(`bad ${k}`, line);
          (t as unknown as Record<string, bigint>)[k] = BigInt(v);
        } else if (FLOAT_TCP_KEYS.has(k)) {
          (t as unknown as Record<string, number>)[k] = Number(v);
        } else if (k === 'wscale') {
          const [a, b] = v.split(',');
          t.snd_wscale = int(a!, 'wscale', line);
          t.rcv_wscale = int(b!, 'wscale', line);
        } else if (k === 'rtt') {
          const [a, b] = v.split('/');
          t.rtt = Number(a);
          t.rttvar = Number(b);
        } else if (k === 'retrans') {
          const [a, b] = v.split('/');
          t.retrans = int(a!, 'retrans', line);
          t.retrans_total = int(b!, 'retrans', line);
        } else if (k === 'busy' || k === 'rwnd_limited' || k === 'sndbuf_limited') {
          const m = /^(\d+)ms/.exec(v);
          if (!m) throw new SsParseError(`bad ${k}`, line);
          t[k] = Number(m[1]);
        } else if (k === 'bbr') {
          const kv = parseKv(v.replace(/^\(|\)$/g, ''));
          t.bbr = {};
          if (kv.bw !== undefined) t.bbr.bw = parseRate(kv.bw, line);
          if (kv.mrtt !== undefined) t.bbr.mrtt = Number(kv.mrtt);
          if (kv.pacing_gain !== undefined) t.bbr.pacing_gain = Number(kv.pacing_gain);
          if (kv.cwnd_gain !== undefined) t.bbr.cwnd_gain = Number(kv.cwnd_gain);
        } else if (k === 'dctcp') {
          if (v === 'fallback_mode') t.dctcp = { fallback_mode: true };
          else {
            const kv = parseKv(v.replace(/^\(|\)$/g, ''));
            t.dctcp = {};
            for (const [dk, dv] of Object.entries(kv)) (t.dctcp as Record<string, number>)[dk] = Number(dv);
          }
        }
        // anything else stays in raw
        continue;
      }
      if (!kv0 && /^[a-z][a-z0-9_-]*$/.test(tok) && tcp?.cong === undefined && !GENERIC_KEYS.has(tok)) {
        // The congestion control name is the one bare word ss prints in -i.
        tcpInfo().cong = tok;
        continue;
      }
    }

    const kv = splitKey(tok);
    if (kv) {
      const [k, v] = kv;
      rec.fields[k] = v;
      switch (k) {
        case 'uid':
          rec.uid = int(v, 'uid', line);
          break;
        case 'ino':
          if (rec.unix) rec.unix.vfs = { ino: int(v, 'ino', line), dev: '' };
          else rec.ino = int(v, 'ino', line);
          break;
        case 'dev':
          if (rec.unix?.vfs) rec.unix.vfs.dev = v;
          break;
        case 'sk':
          if (rec.netlink) {
            // ss 6.1 prints the kernel pointer, which the kernel hides (0)
          } else {
            if (!/^[0-9a-f]+$/i.test(v)) throw new SsParseError('bad sk', line);
            rec.cookie = BigInt('0x' + v);
          }
          break;
        case 'cgroup':
          rec.cgroup = v;
          break;
        case 'v6only':
          rec.v6only = v === '1';
          break;
        case 'groups':
          if (rec.netlink) rec.netlink.groups = Number(v);
          break;
        case 'ver':
          if (rec.packet) rec.packet.ver = Number(v);
          break;
        case 'cpy_thresh':
          if (rec.packet) rec.packet.cpyThresh = Number(v);
          break;
        default:
          if (rec.protocol === 'mptcp') (rec.mptcp ??= {})[k] = v;
      }
      continue;
    }
    if (rec.protocol === 'mptcp' && /^[a-z_]+$/.test(tok)) {
      (rec.mptcp ??= {})[tok] = 'true';
      continue;
    }
    rec.unknown.push(tok);
  }
  if (tcp) rec.tcpInfo = tcp;
}

/**
 * Parse a whole listing. Blank lines are ignored; a header line (`State …` / `Netid …`)
 * is skipped; without -O, ss continues a socket on lines that start with a tab, which are
 * joined to their socket's line.
 */
export function parseSsOutput(text: string, table: SsTable): SsRecord[] {
  const lines: string[] = [];
  for (const l of text.split('\n')) {
    if (l.trim() === '') continue;
    if (l.startsWith('\t') && lines.length > 0) {
      lines[lines.length - 1] = `${lines[lines.length - 1]!.replace(/\s+$/, '')} ${l.trim()}`;
      continue;
    }
    if (lines.length === 0 && /^(State|Netid)\s+Recv-Q\s/.test(l)) continue;
    lines.push(l);
  }
  return lines.map((l) => parseSsLine(l, table));
}

export interface SsRun {
  table: SsTable;
  args: string[];
  records: SsRecord[];
  stdout: string;
  stderr: string;
  status: number | null;
  /** Pid of the ss process (its own netlink socket has this port id). */
  pid: number | undefined;
}

/** The shell line that runs ss with cgroup2 mounted in its own mount namespace. */
export const SS_SHELL = 'mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null; exec ss "$@"';

/** Run `ss` inside the namespace `ns` for one table and parse it. Rejects when ss fails. */
export function runSs(ns: string, table: SsTable, extraArgs: readonly string[] = []): Promise<SsRun> {
  const args = [...SS_COMMON_FLAGS, ...SS_TABLE_FLAGS[table], ...extraArgs];
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, 'sh', '-c', SS_SHELL, 'sh', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (status !== 0) {
        reject(new Error(`ss ${args.join(' ')} in ${ns} exited ${status}: ${stderr.trim()}`));
        return;
      }
      try {
        resolve({ table, args, records: parseSsOutput(stdout, table), stdout, stderr, status, pid: child.pid });
      } catch (e) {
        reject(e);
      }
    });
  });
}

/** Run several tables (sequentially, so that ss processes do not see each other's sockets). */
export async function ssSnapshot(
  ns: string,
  tables: readonly SsTable[] = SS_TABLES,
): Promise<Partial<Record<SsTable, SsRun>>> {
  const out: Partial<Record<SsTable, SsRun>> = {};
  for (const t of tables) out[t] = await runSs(ns, t);
  return out;
}

/** C's printf("%g") for a double, as ss uses it for rtt/rto/ato/minrtt. */
export function formatG(x: number, precision = 6): string {
  if (x === 0) return '0';
  if (!Number.isFinite(x)) return String(x);
  const e = Number(x.toExponential(precision - 1).split('e')[1]);
  if (e < -4 || e >= precision) {
    const [m, ex] = x.toExponential(precision - 1).split('e') as [string, string];
    const mant = m.includes('.') ? m.replace(/0+$/, '').replace(/\.$/, '') : m;
    const n = Number(ex);
    return `${mant}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  const s = x.toFixed(Math.max(0, precision - 1 - e));
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

/** ss.c print_ms_timer(): `59min`, `9min59sec`, `59sec`, `1.208ms` (1 s 208 ms), `208ms`, `` for 0. */
export function printMsTimer(timeout: number): string {
  let secs = Math.trunc(timeout / 1000);
  const minutes = Math.trunc(secs / 60);
  secs %= 60;
  let msecs = timeout % 1000;
  let buf = '';
  if (minutes) {
    msecs = 0;
    buf += `${minutes}min`;
    if (minutes > 9) secs = 0;
  }
  if (secs) {
    if (secs > 9) msecs = 0;
    buf += `${secs}${msecs ? '.' : 'sec'}`;
  }
  if (msecs) buf += `${String(msecs).padStart(3, '0')}ms`;
  return buf;
}
