/**
 * Acceptance: sockdiag versus the real `ss` (iproute2 6.1) on the same live sockets.
 *
 * A private network namespace holds a varied socket population (test/helpers/population.py).
 * For each family this kernel answers, we take an `ss` snapshot, list with sockdiag, take a
 * second `ss` snapshot, and require:
 *  - every socket present in both ss snapshots is listed by sockdiag (matched by cookie;
 *    unix by inode, netlink by protocol and port id), and sockdiag lists nothing ss does not;
 *  - every field ss prints is equal, where it did not move between the two ss snapshots
 *    (queues, skmem, tcp_info, timers of a live connection can move).
 * And, against the population's own record (SO_COOKIE, fstat, getsockname): every socket it
 * made is listed with its cookie, inode, state, addresses, owner and process.
 */
import { isDeepStrictEqual } from 'node:util';
import { listSockets } from '../lib';
import { createNetns, describeRoot, Netns, Population, PopSocket, PopulationKind, PopulationSpec } from './helpers/netns';
import { formatG, printMsTimer, runSs, SsRecord, SsTable } from './helpers/ss';

// The library's socket union is wide and still growing; fields are read through this view.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Lib = Record<string, any>;
type ListOpts = NonNullable<Parameters<typeof listSockets>[0]>;
type Protocols = NonNullable<ListOpts['protocols']>;

const SKIP = Symbol('not applicable');
type Value = unknown;

interface Field {
  name: string;
  /** The value as ss shows it, or SKIP when ss has nothing to say for this row. */
  ss(r: SsRecord): Value;
  /** The same value computed from sockdiag's socket, the way ss would print it. */
  lib(s: Lib, r: SsRecord): Value;
}

interface Comparison {
  problems: string[];
  matched: number;
  compared: number;
  moving: number;
}

function show(v: Value): string {
  return typeof v === 'bigint' ? `${v}n` : typeof v === 'symbol' ? String(v) : JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : x));
}

function indexBy<T>(items: readonly T[], key: (x: T) => string | undefined): Map<string, T> {
  const m = new Map<string, T>();
  for (const x of items) {
    const k = key(x);
    if (k !== undefined && !m.has(k)) m.set(k, x);
  }
  return m;
}

function compare(
  label: string,
  ssA: readonly SsRecord[],
  ssB: readonly SsRecord[],
  lib: readonly Lib[],
  keySs: (r: SsRecord) => string | undefined,
  keyLib: (s: Lib) => string | undefined,
  fields: readonly Field[],
  opts: { reverse: boolean },
): Comparison {
  const a = indexBy(ssA, keySs);
  const b = indexBy(ssB, keySs);
  const l = indexBy(lib, keyLib);
  const out: Comparison = { problems: [], matched: 0, compared: 0, moving: 0 };
  for (const [k, ra] of a) {
    const rb = b.get(k);
    if (!rb) continue; // not there for the whole window: not stable
    const s = l.get(k);
    if (!s) {
      out.problems.push(`${label} ${k}: ss lists it (${ra.line.trim().slice(0, 120)}) but sockdiag does not`);
      continue;
    }
    out.matched++;
    for (const f of fields) {
      const va = f.ss(ra);
      const vb = f.ss(rb);
      if (va === SKIP || vb === SKIP) continue;
      if (!isDeepStrictEqual(va, vb)) {
        out.moving++;
        continue;
      }
      out.compared++;
      let vl: Value;
      try {
        vl = f.lib(s, ra);
      } catch (e) {
        vl = `<threw ${(e as Error).message}>`;
      }
      if (!isDeepStrictEqual(vl, va)) {
        out.problems.push(`${label} ${k} ${f.name}: ss ${show(va)} ≠ sockdiag ${show(vl)}   [${ra.line.trim().slice(0, 90)}]`);
      }
    }
  }
  if (opts.reverse) {
    for (const [k, s] of l) {
      if (!a.has(k) && !b.has(k)) {
        out.problems.push(`${label} ${k}: sockdiag lists it (${s.state} ${show(s.local ?? s.path ?? '')}) but ss does not`);
      }
    }
  }
  return out;
}

// ------------------------------------------------------------------ field tables

/** ss prints `%g` of a microsecond value divided by 1000. */
const g = (us: number): number => Number(formatG(us / 1000));
/** C's `%.0f` (round half to even) of a double. */
function roundC(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const usersOf = (r: SsRecord): string[] => (r.users ?? []).map((u) => `${u.command}/${u.pid}/${u.fd}`).sort();
const procsOf = (s: Lib): string[] =>
  ((s.processes as { pid: number; command: string; fd: number }[] | undefined) ?? []).map((p) => `${p.command}/${p.pid}/${p.fd}`).sort();

const SKMEM_NAMES: [keyof NonNullable<SsRecord['skmem']>, string][] = [
  ['r', 'rmemAlloc'],
  ['rb', 'rcvbuf'],
  ['t', 'wmemAlloc'],
  ['tb', 'sndbuf'],
  ['f', 'fwdAlloc'],
  ['w', 'wmemQueued'],
  ['o', 'optmem'],
  ['bl', 'backlog'],
  ['d', 'drops'],
];

function skmemFields(libKey: 'skmem' | 'meminfo', skip?: (r: SsRecord, k: string) => boolean): Field[] {
  return SKMEM_NAMES.map(([ssk, libk]) => ({
    name: `skmem.${ssk}`,
    ss: (r) => (r.skmem === undefined || skip?.(r, ssk) ? SKIP : r.skmem[ssk]),
    lib: (s) => s[libKey]?.[libk],
  }));
}

const commonFields: Field[] = [
  { name: 'state', ss: (r) => r.state, lib: (s) => s.state },
  { name: 'recvQ', ss: (r) => r.recvQ, lib: (s) => s.recvQ },
  { name: 'sendQ', ss: (r) => r.sendQ, lib: (s) => s.sendQ },
  { name: 'processes', ss: (r) => usersOf(r), lib: (s) => procsOf(s) },
];

function inetFields(ifname: (i: number) => string): Field[] {
  const info = (r: SsRecord): SsRecord['tcpInfo'] | typeof SKIP => r.tcpInfo ?? SKIP;
  /** A tcp_info item ss prints only when non-zero. */
  const nz = (ssKey: string, libKey: string, big = false): Field => ({
    name: `tcp_info.${ssKey}`,
    ss: (r) => {
      const t = info(r);
      if (t === SKIP) return SKIP;
      const v = (t as unknown as Record<string, unknown>)[ssKey];
      return v ?? (big ? 0n : 0);
    },
    lib: (s) => s.info?.[libKey],
  });
  /** A `%g` millisecond item ss prints only when non-zero. */
  const ms = (ssKey: 'ato' | 'rcv_rtt', libKey: string): Field => ({
    name: `tcp_info.${ssKey}`,
    ss: (r) => {
      const t = info(r);
      return t === SKIP ? SKIP : (t![ssKey] ?? 0);
    },
    lib: (s) => (s.info === undefined ? undefined : g(s.info[libKey] as number)),
  });
  const opt = (ssKey: 'ts' | 'sack' | 'ecn' | 'ecnseen' | 'fastopen', bit: number): Field => ({
    name: `tcp_info.${ssKey}`,
    ss: (r) => {
      const t = info(r);
      return t === SKIP ? SKIP : t![ssKey] === true;
    },
    lib: (s) => s.info !== undefined && ((s.info.options as number) & bit) !== 0,
  });
  return [
    ...commonFields,
    { name: 'inode', ss: (r) => (r.ino === undefined ? SKIP : r.ino), lib: (s) => s.inode },
    { name: 'uid', ss: (r) => (r.ino === undefined ? SKIP : (r.uid ?? 0)), lib: (s) => s.uid ?? 0 },
    { name: 'family', ss: (r) => r.family, lib: (s) => s.family },
    { name: 'local.address', ss: (r) => r.local.address, lib: (s) => s.local?.address },
    { name: 'local.port', ss: (r) => r.local.port, lib: (s) => s.local?.port },
    { name: 'remote.address', ss: (r) => r.peer.address, lib: (s) => s.remote?.address },
    { name: 'remote.port', ss: (r) => r.peer.port, lib: (s) => s.remote?.port },
    { name: 'interface', ss: (r) => r.local.iface ?? '', lib: (s) => (s.interface ? ifname(s.interface as number) : '') },
    { name: 'v6only', ss: (r) => (r.v6only === undefined ? SKIP : r.v6only), lib: (s) => s.v6only },
    { name: 'shutdown', ss: (r) => (r.shutdown === undefined ? SKIP : r.shutdown), lib: (s) => s.shutdown },
    { name: 'timer.name', ss: (r) => r.timer?.name ?? 'off', lib: (s) => s.timer?.name ?? 'off' },
    { name: 'timer.retrans', ss: (r) => r.timer?.retrans ?? 0, lib: (s) => s.timer?.retransmits ?? 0 },
    // each printed string stands for an interval of ms, so equal at both ends means equal between
    { name: 'timer.expires', ss: (r) => r.timer?.expires ?? 'none', lib: (s) => (s.timer ? printMsTimer(s.timer.expiresMs as number) : 'none') },
    ...skmemFields('skmem'),
    // tcp_info, as ss computes and prints it (ss.c tcp_show_info / tcp_stats_print)
    { name: 'cong', ss: (r) => (r.tcpInfo === undefined ? SKIP : (r.tcpInfo.cong ?? '')), lib: (s) => s.cong ?? '' },
    opt('ts', 1),
    opt('sack', 2),
    opt('ecn', 8),
    opt('ecnseen', 16),
    opt('fastopen', 32),
    {
      name: 'tcp_info.wscale',
      ss: (r) => {
        const t = info(r);
        return t === SKIP ? SKIP : t!.snd_wscale === undefined ? 'none' : `${t!.snd_wscale},${t!.rcv_wscale}`;
      },
      lib: (s) => (((s.info?.options as number) & 4) === 0 ? 'none' : `${s.info.sndWscale},${s.info.rcvWscale}`),
    },
    {
      name: 'tcp_info.rto',
      ss: (r) => {
        const t = info(r);
        return t === SKIP ? SKIP : (t!.rto ?? 'absent');
      },
      lib: (s) => {
        const v = s.info?.rtoUs as number | undefined;
        return v === undefined ? undefined : v === 0 || v === 3000000 ? 'absent' : g(v);
      },
    },
    nz('backoff', 'backoff'),
    {
      name: 'tcp_info.rtt',
      ss: (r) => {
        const t = info(r);
        return t === SKIP ? SKIP : t!.rtt === undefined ? 'absent' : `${t!.rtt}/${t!.rttvar}`;
      },
      lib: (s) => (s.info === undefined ? undefined : s.info.rttUs === 0 ? 'absent' : `${g(s.info.rttUs)}/${g(s.info.rttvarUs)}`),
    },
    ms('ato', 'atoUs'),
    nz('mss', 'sndMss'),
    nz('pmtu', 'pmtu'),
    nz('rcvmss', 'rcvMss'),
    nz('advmss', 'advmss'),
    nz('cwnd', 'sndCwnd'),
    {
      name: 'tcp_info.ssthresh',
      ss: (r) => {
        const t = info(r);
        return t === SKIP ? SKIP : (t!.ssthresh ?? 'absent');
      },
      lib: (s) => {
        const v = s.info?.sndSsthresh as number | undefined;
        return v === undefined ? undefined : v === 0 || v >= 0xffff ? 'absent' : v;
      },
    },
    nz('bytes_sent', 'bytesSent', true),
    nz('bytes_retrans', 'bytesRetrans', true),
    nz('bytes_acked', 'bytesAcked', true),
    nz('bytes_received', 'bytesReceived', true),
    nz('segs_out', 'segsOut'),
    nz('segs_in', 'segsIn'),
    nz('data_segs_out', 'dataSegsOut'),
    nz('data_segs_in', 'dataSegsIn'),
    {
      name: 'tcp_info.send',
      ss: (r) => {
        const t = info(r);
        return t === SKIP ? SKIP : (t!.send ?? 'absent');
      },
      lib: (s) => {
        const i = s.info;
        if (i === undefined) return undefined;
        // ss uses the vegas rtt when INET_DIAG_VEGASINFO came; it does not for bbr/cubic
        const rtt = s.vegas?.rttUs ?? (i.rttUs as number);
        if (!(rtt > 0 && i.sndMss && i.sndCwnd)) return 'absent';
        return roundC(((i.sndCwnd as number) * (i.sndMss as number) * 8000000) / rtt);
      },
    },
    nz('lastsnd', 'lastDataSentMs'),
    nz('lastrcv', 'lastDataRecvMs'),
    nz('lastack', 'lastAckRecvMs'),
    {
      name: 'tcp_info.pacing_rate',
      ss: (r) => {
        const t = info(r);
        return t === SKIP ? SKIP : `${t!.pacing_rate ?? 'absent'}/${t!.pacing_rate_max ?? 'absent'}`;
      },
      lib: (s) => {
        const i = s.info;
        if (i === undefined) return undefined;
        const ALL = 0xffffffffffffffffn;
        const p = i.pacingRateBytesPerSec as bigint;
        const m = i.maxPacingRateBytesPerSec as bigint;
        if (p === 0n || p === ALL) return 'absent/absent';
        return `${Number(p) * 8}/${m === 0n || m === ALL ? 'absent' : Number(m) * 8}`;
      },
    },
    {
      name: 'tcp_info.delivery_rate',
      ss: (r) => {
        const t = info(r);
        return t === SKIP ? SKIP : (t!.delivery_rate ?? 0);
      },
      lib: (s) => (s.info === undefined ? undefined : Number(s.info.deliveryRateBytesPerSec) * 8),
    },
    nz('delivered', 'delivered'),
    nz('delivered_ce', 'deliveredCe'),
    {
      name: 'tcp_info.app_limited',
      ss: (r) => {
        const t = info(r);
        return t === SKIP ? SKIP : t!.app_limited === true;
      },
      lib: (s) => s.info !== undefined && s.info.deliveryRateAppLimited === 1,
    },
    {
      name: 'tcp_info.busy',
      ss: (r) => {
        const t = info(r);
        return t === SKIP ? SKIP : `${t!.busy ?? 0}/${t!.rwnd_limited ?? 0}/${t!.sndbuf_limited ?? 0}`;
      },
      lib: (s) => {
        const i = s.info;
        if (i === undefined) return undefined;
        const busy = (i.busyTimeUs as bigint) / 1000n;
        if (busy === 0n) return '0/0/0';
        return `${busy}/${(i.rwndLimitedUs as bigint) / 1000n}/${(i.sndbufLimitedUs as bigint) / 1000n}`;
      },
    },
    nz('unacked', 'unacked'),
    {
      name: 'tcp_info.retrans',
      ss: (r) => {
        const t = info(r);
        return t === SKIP ? SKIP : `${t!.retrans ?? 0}/${t!.retrans_total ?? 0}`;
      },
      lib: (s) => (s.info === undefined ? undefined : `${s.info.retrans}/${s.info.totalRetrans}`),
    },
    nz('lost', 'lost'),
    {
      name: 'tcp_info.sacked',
      ss: (r) => {
        const t = info(r);
        return t === SKIP || r.state === 'listening' ? SKIP : (t!.sacked ?? 0);
      },
      lib: (s) => s.info?.sacked,
    },
    nz('dsack_dups', 'dsackDups'),
    nz('fackets', 'fackets'),
    {
      name: 'tcp_info.reordering',
      ss: (r) => {
        const t = info(r);
        return t === SKIP ? SKIP : (t!.reordering ?? 3);
      },
      lib: (s) => s.info?.reordering,
    },
    nz('reord_seen', 'reordSeen'),
    ms('rcv_rtt', 'rcvRttUs'),
    nz('rcv_space', 'rcvSpace'),
    nz('rcv_ssthresh', 'rcvSsthresh'),
    nz('notsent', 'notsentBytes'),
    {
      name: 'tcp_info.minrtt',
      ss: (r) => {
        const t = info(r);
        return t === SKIP ? SKIP : (t!.minrtt ?? 0);
      },
      // ss prints nothing for 0 and for ~0U (no sample yet)
      lib: (s) => {
        const v = s.info?.minRttUs as number | undefined;
        return v === undefined ? undefined : v === 0 || v === 0xffffffff ? 0 : g(v);
      },
    },
    nz('rcv_ooopack', 'rcvOoopack'),
    nz('snd_wnd', 'sndWnd'),
    {
      name: 'bbr',
      ss: (r) => {
        const t = info(r);
        if (t === SKIP) return SKIP;
        const b = t!.bbr;
        return b === undefined ? 'absent' : `${b.bw}/${b.mrtt}/${b.pacing_gain ?? 0}/${b.cwnd_gain ?? 0}`;
      },
      lib: (s) => {
        const b = s.bbr;
        if (b === undefined) return 'absent';
        return `${Number(b.bwBytesPerSec) * 8}/${g(b.minRttUs)}/${Number(formatG(b.pacingGain / 256))}/${Number(formatG(b.cwndGain / 256))}`;
      },
    },
    {
      name: 'ulp',
      ss: (r) => (r.tcpInfo === undefined ? SKIP : (r.tcpInfo.ulp ?? '')),
      lib: (s) => s.ulp?.name ?? '',
    },
  ];
}

/** ss -M: the mptcp_info items (ss.c mptcp_stats_print), each printed when non-zero. */
const MPTCP_ITEMS: [string, string, 'dec' | 'hex'][] = [
  ['subflows', 'subflows', 'dec'],
  ['add_addr_signal', 'addAddrSignal', 'dec'],
  ['add_addr_accepted', 'addAddrAccepted', 'dec'],
  ['subflows_max', 'subflowsMax', 'dec'],
  ['add_addr_signal_max', 'addAddrSignalMax', 'dec'],
  ['add_addr_accepted_max', 'addAddrAcceptedMax', 'dec'],
  ['token', 'token', 'hex'],
  ['write_seq', 'writeSeq', 'hex'],
  ['snd_una', 'sndUna', 'hex'],
  ['rcv_nxt', 'rcvNxt', 'hex'],
];

function mptcpFields(ifname: (i: number) => string): Field[] {
  const base = inetFields(ifname).filter((f) => !f.name.startsWith('tcp_info.') && f.name !== 'cong' && f.name !== 'bbr' && f.name !== 'ulp');
  const items: Field[] = MPTCP_ITEMS.map(([ssKey, libKey, fmt]) => ({
    name: `mptcp.${ssKey}`,
    ss: (r) => (r.skmem === undefined ? SKIP : (r.mptcp?.[ssKey] ?? 'absent')),
    lib: (s) => {
      const v = s.info?.[libKey] as number | bigint | undefined;
      if (v === undefined) return 'absent';
      if (v === 0 || v === 0n) return 'absent';
      return fmt === 'hex' ? v.toString(16) : String(v);
    },
  }));
  const flags: Field[] = [
    ['fallback', 1],
    ['remote_key', 2],
  ].map(([name, bit]) => ({
    name: `mptcp.${name}`,
    ss: (r) => (r.skmem === undefined ? SKIP : r.mptcp?.[name as string] === 'true'),
    lib: (s) => (((s.info?.flags as number | undefined) ?? 0) & (bit as number)) !== 0,
  }));
  return [...base, ...items, ...flags];
}

const UNIX_TYPES: Record<string, string> = { u_str: 'stream', u_dgr: 'dgram', u_seq: 'seqpacket' };

const unixFields: Field[] = [
  ...commonFields,
  { name: 'type', ss: (r) => UNIX_TYPES[r.netid] ?? r.netid, lib: (s) => s.type },
  { name: 'path', ss: (r) => r.unix!.path ?? null, lib: (s) => s.path ?? null },
  { name: 'peerInode', ss: (r) => r.unix!.peerInode, lib: (s) => s.peerInode ?? 0 },
  {
    name: 'vfs',
    ss: (r) => (r.unix!.vfs ? `${r.unix!.vfs.ino} ${r.unix!.vfs.dev}` : 'none'),
    // ss prints glibc's major()/minor() of the kernel's (internally encoded) u32 dev
    lib: (s) => {
      if (!s.vfs) return 'none';
      const d = s.vfs.dev as number;
      return `${s.vfs.inode} ${(d >>> 8) & 0xfff}/${(d & 0xff) | ((d >>> 12) & 0xfff00)}`;
    },
  },
  { name: 'peers (icons)', ss: (r) => (r.unix!.peers === undefined ? SKIP : [...r.unix!.peers].sort()), lib: (s) => [...((s.icons as number[] | undefined) ?? [])].sort() },
  { name: 'shutdown', ss: (r) => (r.shutdown === undefined ? SKIP : r.shutdown), lib: (s) => s.shutdown },
  ...skmemFields('meminfo'),
];

const PACKET_TYPES: Record<string, string> = { p_raw: 'raw', p_dgr: 'dgram' };
const PDI_NAMES: [string, number][] = [
  ['running', 1],
  ['auxdata', 2],
  ['origdev', 4],
  ['vnethdr', 8],
  ['loss', 16],
];

function packetFields(ifname: (i: number) => string): Field[] {
  return [
    ...commonFields,
    { name: 'inode', ss: (r) => r.ino ?? SKIP, lib: (s) => s.inode },
    { name: 'uid', ss: (r) => r.uid ?? 0, lib: (s) => s.uid ?? 0 },
    { name: 'type', ss: (r) => PACKET_TYPES[r.netid] ?? r.netid, lib: (s) => s.type },
    { name: 'protocol', ss: (r) => r.packet!.protocol, lib: (s) => s.packetProtocol },
    { name: 'interface', ss: (r) => r.packet!.iface, lib: (s) => (s.ifindex ? ifname(s.ifindex as number) : '*') },
    { name: 'ver', ss: (r) => r.packet!.ver ?? SKIP, lib: (s) => s.info?.version },
    { name: 'cpy_thresh', ss: (r) => r.packet!.cpyThresh ?? SKIP, lib: (s) => s.info?.copyThreshBytes },
    {
      name: 'flags',
      ss: (r) => r.packet!.flags ?? SKIP,
      lib: (s) => PDI_NAMES.filter(([, bit]) => ((s.info?.flags as number) & bit) !== 0).map(([n]) => n),
    },
    ...skmemFields('meminfo'),
  ];
}

/** The kernel's own NETLINK_SOCK_DIAG socket shows the request being served in its queue. */
const servingDiag = (r: SsRecord): boolean => r.netlink!.protocol === 4 && r.netlink!.portid === 0;

const netlinkFields: Field[] = [
  { name: 'state', ss: (r) => r.state, lib: (s) => s.state },
  { name: 'recvQ', ss: (r) => (servingDiag(r) ? SKIP : r.recvQ), lib: (s) => s.recvQ },
  { name: 'sendQ', ss: (r) => r.sendQ, lib: (s) => s.sendQ },
  { name: 'groups', ss: (r) => r.netlink!.groups ?? SKIP, lib: (s) => (s.groups as number[] | undefined)?.[0] ?? 0 },
  {
    name: 'peer',
    ss: (r) => (r.netlink!.peerPortid === undefined ? '*' : `${r.netlink!.peerGroup}:${r.netlink!.peerPortid}`),
    lib: (s) => (s.connected ? `${s.dstGroup}:${s.dstPortId}` : '*'),
  },
  ...skmemFields('meminfo', (r, k) => servingDiag(r) && (k === 'r' || k === 'f')),
];

// ------------------------------------------------------------------ the test

interface Case {
  name: string;
  tables: SsTable[];
  protocols: Protocols;
  /** Population kind: at least as many sockets as the population made of it must match (no vacuous pass). */
  kind: PopSocket['kind'];
  /** What the population makes for this case (its own namespace, so transient states are fresh). */
  kinds: PopulationKind[];
  key: { ss(r: SsRecord): string | undefined; lib(s: Lib): string | undefined };
  fields(ifname: (i: number) => string): Field[];
  reverse: boolean;
}

const byCookie = {
  ss: (r: SsRecord): string | undefined => (r.cookie === undefined ? undefined : `cookie ${r.cookie}`),
  lib: (s: Lib): string | undefined => `cookie ${s.cookie}`,
};

const CASES: Case[] = [
  { name: 'tcp (v4 and v6)', tables: ['tcp4', 'tcp6'], protocols: ['tcp'], kind: 'tcp', kinds: ['tcp', 'mptcp'], key: byCookie, fields: inetFields, reverse: true },
  { name: 'udp (v4 and v6)', tables: ['udp4', 'udp6'], protocols: ['udp'], kind: 'udp', kinds: ['udp'], key: byCookie, fields: inetFields, reverse: true },
  { name: 'mptcp', tables: ['mptcp4', 'mptcp6'], protocols: ['mptcp'], kind: 'mptcp', kinds: ['mptcp'], key: byCookie, fields: mptcpFields, reverse: true },
  {
    name: 'unix',
    tables: ['unix'],
    protocols: ['unix'],
    kind: 'unix',
    kinds: ['unix'],
    key: { ss: (r) => `inode ${r.unix!.inode}`, lib: (s) => `inode ${s.inode}` },
    fields: () => unixFields,
    reverse: true,
  },
  { name: 'packet', tables: ['packet'], protocols: ['packet'], kind: 'packet', kinds: ['packet'], key: byCookie, fields: packetFields, reverse: true },
  {
    name: 'netlink',
    tables: ['netlink'],
    protocols: ['netlink'],
    kind: 'netlink',
    kinds: ['netlink'],
    key: { ss: (r) => `nl ${r.netlink!.protocol}:${r.netlink!.portid}`, lib: (s) => `nl ${s.netlinkProtocol}:${s.portId}` },
    fields: () => netlinkFields,
    // sockdiag's own netlink socket is in its listing and never in ss's
    reverse: false,
  },
];

async function ssTables(ns: string, tables: readonly SsTable[]): Promise<SsRecord[]> {
  const out: SsRecord[] = [];
  for (const t of tables) out.push(...(await runSs(ns, t)).records);
  return out;
}

interface World {
  ns: Netns;
  pop: Population;
  ifname(i: number): string;
}

/** A fresh namespace with a population; always destroyed. */
async function withWorld<T>(spec: PopulationSpec, fn: (w: World) => Promise<T>): Promise<T> {
  const ns = await createNetns();
  try {
    const pop = await ns.spawnPopulation(spec);
    const links = await ns.exec(['ip', '-o', 'link', 'show'], { check: true });
    const names = new Map(
      links.stdout
        .split('\n')
        .map((l) => /^(\d+):\s+([^:@\s]+)/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => [Number(m[1]), m[2]!] as [number, string]),
    );
    return await fn({ ns, pop, ifname: (i) => names.get(i) ?? `if${i}` });
  } finally {
    await ns.destroy();
  }
}

describeRoot('sockdiag and ss agree on the same live sockets', () => {
  test.each(CASES)('$name: every socket ss lists is listed, every field ss prints is equal', (c) =>
    withWorld({ kinds: c.kinds }, async ({ ns, pop, ifname }) => {
      expect(pop.warnings).toEqual([]);
      expect(pop.refused).toEqual([]);
      const a = await ssTables(ns.name, c.tables);
      const lib = (await listSockets({ netns: ns.name, protocols: c.protocols, processes: true })) as unknown as Lib[];
      const b = await ssTables(ns.name, c.tables);
      for (const s of lib) expect(c.protocols).toContain(s.protocol);
      const r = compare(c.name, a, b, lib, c.key.ss, c.key.lib, c.fields(ifname), { reverse: c.reverse });
      expect(r.problems).toEqual([]);
      expect(r.matched).toBeGreaterThanOrEqual(pop.sockets.filter((p) => p.kind === c.kind).length);
      // most fields must have been stable enough to compare
      expect(r.compared).toBeGreaterThan(r.moving);
    }),
  );
});

describeRoot('sockdiag against the population\'s own record of its sockets', () => {
  // The listing runs first thing, while TIME-WAIT and SYN-RECV are young.
  test('every socket the population made is listed, with its cookie, inode, state, addresses, owner and process', () =>
    withWorld({}, async ({ ns, pop }) => {
      const list = await listSockets({
        netns: ns.name,
        protocols: ['tcp', 'udp', 'mptcp', 'unix', 'packet', 'netlink'],
        processes: true,
      });
      expect(pop.warnings).toEqual([]);
      // MPTCP is the only kind a kernel may refuse; this one does not.
      expect(pop.refused).toEqual([]);
      const states = new Set(pop.sockets.filter((s) => s.kind === 'tcp').map((s) => s.observedState ?? s.state));
      for (const s of ['listening', 'established', 'time-wait', 'close-wait', 'fin-wait-2', 'syn-recv', 'syn-sent']) {
        expect(states).toContain(s);
      }
      expect(list.interrupted).toBe(false);
      const lib = list as unknown as Lib[];
      const byCookieMap = new Map<bigint, Lib>();
      for (const s of lib) {
        expect(byCookieMap.has(s.cookie as bigint)).toBe(false); // no duplicates
        byCookieMap.set(s.cookie as bigint, s);
      }
      const problems: string[] = [];
      const expectEq = (p: PopSocket, what: string, got: unknown, want: unknown): void => {
        if (!isDeepStrictEqual(got, want)) problems.push(`${p.name} ${what}: sockdiag ${show(got)}, population ${show(want)}`);
      };
      for (const p of pop.sockets) {
        let s: Lib | undefined;
        if (p.cookie !== null) {
          s = byCookieMap.get(p.cookie);
        } else {
          // a SYN-RECV request socket: no fd, so no SO_COOKIE; find it by its 4-tuple
          s = lib.find(
            (x) =>
              x.protocol === 'tcp' &&
              x.state === p.state &&
              x.local?.port === p.local!.port &&
              x.remote?.port === p.remote!.port &&
              x.family === p.family,
          );
        }
        if (!s) {
          problems.push(`${p.name} (cookie ${p.cookie}) is not listed`);
          continue;
        }
        expectEq(p, 'protocol', s.protocol, p.kind);
        expectEq(p, 'family', s.family, p.family);
        expectEq(p, 'inode', s.inode, p.inode);
        expectEq(p, 'state', s.state, p.state);
        if (p.kind !== 'netlink') expectEq(p, 'uid', s.uid ?? 0, p.fd === null ? 0 : (p.uid ?? pop.uid));
        if (p.local) {
          expectEq(p, 'local', { address: s.local?.address, port: s.local?.port }, p.local);
          expectEq(p, 'remote', { address: s.remote?.address, port: s.remote?.port }, p.remote);
        }
        if (p.kind === 'unix') {
          expectEq(p, 'path', s.path ?? null, p.path ?? null);
          if (p.peerInode !== undefined) expectEq(p, 'peerInode', s.peerInode, p.peerInode);
          expectEq(p, 'type', s.type, p.type);
          // unix queues are plain byte counts (inet ones count memory, or move)
          if (p.recvQ !== undefined) expectEq(p, 'recvQ', s.recvQ, p.recvQ);
        }
        if (p.kind === 'packet') {
          expectEq(p, 'packetProtocol', s.packetProtocol, p.ethProtocol);
          expectEq(p, 'ifindex', s.ifindex ?? 0, p.interface);
        }
        if (p.kind === 'netlink') {
          expectEq(p, 'netlinkProtocol', s.netlinkProtocol, p.netlinkProtocol);
          expectEq(p, 'portId', s.portId, p.portid);
          expectEq(p, 'groups', (s.groups as number[] | undefined)?.[0] ?? 0, p.groups);
        }
        if (p.interface !== undefined && p.kind === 'udp') expectEq(p, 'interface', s.interface, p.interface);
        const holders =
          (p.holders as { pid: number; fd: number; command?: string }[] | undefined) ??
          (p.fd === null ? [] : [{ pid: pop.pid, fd: p.fd }]);
        expectEq(
          p,
          'processes',
          procsOf(s),
          holders.map((h) => `${h.command ?? pop.comm}/${h.pid}/${h.fd}`).sort(),
        );
      }
      expect(problems).toEqual([]);

      // the TIME-WAIT socket keeps the cookie its socket had, and runs the timewait timer
      const tw = byCookieMap.get(pop.byName('tcp4-time-wait').cookie!);
      expect(tw).toMatchObject({ state: 'time-wait', inode: 0, processes: undefined });
      expect(tw!.timer?.name).toBe('timewait');
      expect(tw!.timer?.expiresMs).toBeGreaterThan(0);
      expect(tw!.timer?.expiresMs).toBeLessThanOrEqual(60_000);
      // the pair with data queued both ways
      const srv = byCookieMap.get(pop.byName('tcp4-queued-server').cookie!)!;
      expect(srv.recvQ).toBe(1000);
      expect(srv.sendQ).toBeGreaterThan(0);
      expect(byCookieMap.get(pop.byName('tcp4-queued-client').cookie!)!.recvQ).toBeGreaterThan(0);
    }));
});
