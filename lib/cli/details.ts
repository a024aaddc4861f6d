/**
 * What `ss` prints after the peer column (its COL_EXT): `users:(…)`, `timer:(…)`, the
 * `-e` fields, `skmem:(…)`, the tab-prefixed `-i` line, `--tos`, `--cgroup`,
 * `--inet-sockopt`, `-b`, in ss 6.1's order and formats, family by family. Every piece
 * starts with the separator ss writes itself (a space, or `\n\t` for a new line unless
 * `-O`), so the text is exactly the bytes ss puts into that column.
 *
 * Listings usually carry every attribute (the library asks the kernel for all of them):
 * what is printed is decided by the options, as ss decides it by what it asked for.
 * @module
 */
import { cgroupPathResolver } from '../system/cgroups';
import { AF } from '../diag/constants';
import type { Socket } from '../diag/socket';
import type { InetSocket } from '../diag/inet';
import type { MptcpInfo } from '../diag/inet/mptcp-info';
import type { UlpInfo } from '../diag/inet/attributes';
import type { TcpDiagMd5sig } from '../diag/inet/structs';
import type { SkMeminfo } from '../diag/common/skmeminfo';
import type { UnixSocket } from '../diag/unix';
import type { PacketSocket, PacketDiagRing } from '../diag/packet';
import type { NetlinkSocket } from '../diag/netlink';
import type { TipcSocket } from '../diag/tipc';
import type { XdpSocket } from '../diag/xdp';
import type { SocketProcess } from '../diag/common/socket';
import { SELINUX_UNAVAILABLE, type SecurityContexts } from '../proc/selinux';
import { hexAlt } from './units';
import type { FormatOptions } from './format';
import { formatIPv4, formatIPv6 } from '../diag/inet/address';

const u32 = (n: number | undefined): number => (n ?? 0) >>> 0;
const i32 = (n: number | undefined): number => (n ?? 0) | 0;
const big = (n: bigint | number | undefined): bigint => (n === undefined ? 0n : BigInt(n));

// ---------------------------------------------------------------------------------------
// Shared pieces

/** `users:((…))` (ss's proc_ctx_print): owners in the reverse order of the /proc walk, as ss's hash chain gives them. */
export function usersText(s: Socket, o: FormatOptions): string {
  const ctx = !!(o.selinuxProcess || o.selinuxSocket);
  if (!ctx && !o.processes && !o.threads) return '';
  const list = s.processes;
  if (!list || list.length === 0) return '';
  const parts: string[] = [];
  for (let i = list.length - 1; i >= 0; i--) parts.push(userEntry(list[i], o, ctx));
  return ` users:(${parts.join(',')})`;
}

function userEntry(p: SocketProcess, o: FormatOptions, ctx: boolean): string {
  // ss reads comm with "%[^)]": it stops at the first ')'.
  const paren = p.command.indexOf(')');
  const cmd = paren < 0 ? p.command : p.command.slice(0, paren);
  const tid = o.threads ? `tid=${p.tid ?? p.pid},` : '';
  if (!ctx) return `("${cmd}",pid=${p.pid},${tid}fd=${p.fd})`;
  // Contexts come from a scan with `contexts: true`; without them ss would print "unavailable".
  const c = p as SocketProcess & SecurityContexts;
  const sock = o.selinuxSocket ? `,sock_ctx=${c.socketContext ?? SELINUX_UNAVAILABLE}` : '';
  return `("${cmd}",pid=${p.pid},${tid}proc_ctx=${c.processContext ?? SELINUX_UNAVAILABLE},fd=${p.fd}${sock})`;
}

/** ` skmem:(r…,rb…,t…,tb…,f…,w…,o…[,bl…][,d…])`, the optional parts when the kernel sent them. */
export function skmemText(m: SkMeminfo | undefined): string {
  if (!m) return '';
  let out = ` skmem:(r${u32(m.rmemAlloc)},rb${u32(m.rcvbuf)},t${u32(m.wmemAlloc)},tb${u32(m.sndbuf)},f${u32(m.fwdAlloc)},w${u32(m.wmemQueued)},o${u32(m.optmem)}`;
  if (m.backlog !== undefined) out += `,bl${u32(m.backlog)}`;
  if (m.drops !== undefined) out += `,d${u32(m.drops)}`;
  return `${out})`;
}

/** ss's sock_details_print: ` uid:N` (when not 0) ` ino:N sk:HEX`, then fwmark and cgroup when not 0. */
function sockDetails(uid: number | undefined, inode: number, cookie: bigint, mark: number, cgroupId: bigint, o: FormatOptions): string {
  let out = '';
  if (uid) out += ` uid:${u32(uid)}`;
  out += ` ino:${u32(inode)} sk:${cookie.toString(16)}`;
  if (mark) out += ` fwmark:0x${u32(mark).toString(16)}`;
  if (cgroupId) out += ` cgroup:${cgroupName(cgroupId, o)}`;
  return out;
}

/** ` <->`, ` <--`, ` --->`… : which directions are shut down. */
function shutdownText(mask: number | undefined): string {
  if (mask === undefined) return '';
  return ` ${mask & 1 ? '-' : '<'}-${mask & 2 ? '-' : '>'}`;
}

const newline = (o: FormatOptions, text: string): string => (o.oneline ? ` ${text}` : `\n\t${text}`);

// ---------------------------------------------------------------------------------------
// inet

const SOCKOPT_FLAGS: ReadonlyArray<readonly [string, string]> = [
  ['recverr', 'recverr'], ['isIcsk', 'is_icsk'], ['freebind', 'freebind'], ['hdrincl', 'hdrincl'],
  ['mcLoop', 'mc_loop'], ['transparent', 'transparent'], ['mcAll', 'mc_all'], ['nodefrag', 'nodefrag'],
  ['bindAddressNoPort', 'bind_addr_no_port'], ['recverrRfc4884', 'recverr_rfc4884'], ['deferConnect', 'defer_connect'],
];

/** `--tos`, `--cgroup` and `--inet-sockopt` of an inet socket. */
export function inetOptionsText(s: InetSocket, o: FormatOptions): string {
  let out = '';
  if (o.tos) {
    if (s.tos !== undefined) out += ` tos:${hexAlt(s.tos)}`;
    if (s.tclass !== undefined) out += ` tclass:${hexAlt(s.tclass)}`;
    if (s.classId !== undefined) out += ` class_id:${hexAlt(u32(s.classId))}`;
  }
  if (o.cgroup && s.cgroupId !== undefined) out += ` cgroup:${cgroupName(s.cgroupId, o)}`;
  if (o.inetSockopt && s.sockopt) {
    const so = s.sockopt as unknown as Record<string, number | undefined>;
    let flags = '';
    for (const [key, label] of SOCKOPT_FLAGS) if (so[key]) flags += ` ${label}`;
    out += newline(o, `inet-sockopt: (${flags})`);
  }
  return out;
}

/** skmem, or the old `mem:(r,w,f,t)` when only INET_DIAG_MEMINFO came (ss asks both with -m). */
function inetMemory(s: InetSocket, o: FormatOptions): string {
  if (!o.memory) return '';
  if (s.skmem) return skmemText(s.skmem);
  const m = s.meminfo;
  if (!m) return '';
  return ` mem:(r${u32(m.rmem)},w${u32(m.wmem)},f${u32(m.fmem)},t${u32(m.tmem)})`;
}

/** ` md5keys:…` (ss -i), or '' when the socket has no TCP-MD5 keys. */
export function md5KeysText(s: InetSocket, o: FormatOptions): string {
  return s.md5sig && s.md5sig.length > 0 ? ` md5keys:${s.md5sig.map((k) => md5Key(k, o)).join(',')}` : '';
}

/** print_escape_buf: printable bytes as they are, others (and `\`, space, comma) as `\ooo`. */
function escapeKey(key: Buffer): string {
  let out = '';
  for (const c of key) {
    if (c >= 0x20 && c < 0x7f && c !== 0x5c && c !== 0x20 && c !== 0x2c) out += String.fromCharCode(c);
    else out += `\\${c.toString(8).padStart(3, '0')}`;
  }
  return out;
}

function md5Key(k: TcpDiagMd5sig, o: FormatOptions): string {
  const v6 = k.family === AF.INET6;
  const raw = v6 ? formatIPv6(k.addr, 0) : formatIPv4(k.addr, 0);
  const host = o.hostNames?.get(raw) ?? raw;
  return `${host}/${k.prefixlen}=${escapeKey(k.key.subarray(0, Math.min(k.keylen, k.key.length)))}`;
}

const TLS_CONF = ['', 'none', 'sw', 'hw', 'hw-record'];

/** ` tcp-ulp-NAME …`: the upper-layer protocol of a TCP socket (ss -i). */
export function ulpText(ulp: UlpInfo): string {
  let out = '';
  if (ulp.name !== undefined) out += ` tcp-ulp-${ulp.name}`;
  const tls = ulp.tls;
  if (tls) {
    if (tls.version !== undefined) {
      out += tls.version === 0x0303 ? ' version: 1.2' : tls.version === 0x0304 ? ' version: 1.3' : ` version: unknown(${tls.version})`;
    }
    if (tls.cipher === 51) out += ' cipher: aes-gcm-128';
    else if (tls.cipher === 52) out += ' cipher: aes-gcm-256';
    for (const [label, v] of [['rxconf', tls.rxConf], ['txconf', tls.txConf]] as const) {
      if (v !== undefined) out += ` ${label}: ${TLS_CONF[v] || `unknown(${v})`}`;
    }
    if (tls.zerocopyReadOnlyTx !== undefined) out += ' zc_ro_tx';
  }
  const sf = ulp.mptcp;
  if (sf) {
    if (sf.flags !== undefined) {
      const letters = 'MmJjBbecv';
      let caps = '';
      for (let bit = 0; bit < letters.length; bit++) if (sf.flags & (1 << bit)) caps += letters[bit];
      if (sf.flags) out += ` flags:${caps}`;
    }
    if (sf.tokenRem !== undefined && sf.tokenLoc !== undefined && sf.idRem !== undefined && sf.idLoc !== undefined) {
      const tok = (n: number): string => u32(n).toString(16).padStart(4, '0');
      out += ` token:${tok(sf.tokenRem)}(id:${sf.idRem})/${tok(sf.tokenLoc)}(id:${sf.idLoc})`;
    }
    if (sf.mapSeq !== undefined) out += ` seq:${big(sf.mapSeq).toString(16)}`;
    if (sf.mapSfseq !== undefined) out += ` sfseq:${u32(sf.mapSfseq).toString(16)}`;
    if (sf.ssnOffset !== undefined) out += ` ssnoff:${u32(sf.ssnOffset).toString(16)}`;
    if (sf.mapDatalen !== undefined) out += ` maplen:${u32(sf.mapDatalen).toString(16)}`;
  }
  return out;
}

/** Memory and `mptcp_info` of an MPTCP socket (ss -M -m/-i). */
export function mptcpInfo(s: InetSocket, o: FormatOptions): string {
  let out = inetMemory(s, o);
  if (!o.info || s.info === undefined || Buffer.isBuffer(s.info)) return out;
  const m = s.info as MptcpInfo;
  if (m.subflows) out += ` subflows:${m.subflows}`;
  if (m.addAddrSignal) out += ` add_addr_signal:${m.addAddrSignal}`;
  if (m.addAddrAccepted) out += ` add_addr_accepted:${m.addAddrAccepted}`;
  if (m.subflowsMax) out += ` subflows_max:${m.subflowsMax}`;
  if (m.addAddrSignalMax) out += ` add_addr_signal_max:${m.addAddrSignalMax}`;
  if (m.addAddrAcceptedMax) out += ` add_addr_accepted_max:${m.addAddrAcceptedMax}`;
  const flags = m.flags ?? 0;
  if (flags & 1) out += ' fallback';
  if (flags & 2) out += ' remote_key';
  if (m.token) out += ` token:${u32(m.token).toString(16)}`;
  if (big(m.writeSeq)) out += ` write_seq:${big(m.writeSeq).toString(16)}`;
  if (big(m.sndUna)) out += ` snd_una:${big(m.sndUna).toString(16)}`;
  if (big(m.rcvNxt)) out += ` rcv_nxt:${big(m.rcvNxt).toString(16)}`;
  // Counters after mptcpi_csum_enabled are newer than ss 6.1, which does not print them.
  return out;
}

/** SCTP: memory, then the endpoint's addresses (sctp_info itself is not decoded by this version). */
export function sctpInfo(s: InetSocket, o: FormatOptions): string {
  let out = inetMemory(s, o);
  const host = (a: string): string => o.hostNames?.get(a) ?? a;
  if (s.locals && s.locals.length > 0) out += ` locals:${s.locals.map((e) => host(e.address)).join(',')}`;
  if (s.peers && s.peers.length > 0) out += ` peers:${s.peers.map((e) => host(e.address)).join(',')}`;
  return out;
}

// ---------------------------------------------------------------------------------------
// other families

function unixDetails(s: UnixSocket, o: FormatOptions): string {
  let out = usersText(s, o);
  if (o.memory) out += skmemText(s.meminfo);
  if (o.extended) {
    out += shutdownText(s.shutdown);
    if (s.vfs) {
      // The kernel sends new_encode_dev(); ss splits it with glibc's major()/minor().
      const dev = u32(s.vfs.dev);
      const major = (dev >>> 8) & 0xfff;
      const minor = (dev & 0xff) | ((dev >>> 12) & 0xfff00);
      out += ` ino:${u32(s.vfs.inode)} dev:${major}/${minor}`;
    }
    if (s.icons) out += ` peers:${s.icons.map((i) => ` ${u32(i)}`).join('')}`;
  }
  return out;
}

const PDI_FLAGS: ReadonlyArray<readonly [number, string]> = [[2, ' auxdata'], [4, ' origdev'], [8, ' vnethdr'], [16, ' loss']];
const FANOUT_TYPES = ['hash', 'lb', 'cpu', 'roll', 'random', 'qm'];

function ringText(r: PacketDiagRing): string {
  return `blk_size:${i32(r.blockSizeBytes)},blk_nr:${i32(r.blockCount)},frm_size:${i32(r.frameSizeBytes)},frm_nr:${i32(r.frameCount)},tmo:${i32(r.retireTmoMs)},features:0x${u32(r.features).toString(16)}`;
}

function packetDetails(s: PacketSocket, o: FormatOptions): string {
  let out = usersText(s, o);
  if (o.extended) {
    out += sockDetails(s.uid, s.inode, s.cookie, 0, 0n, o);
    const pi = s.info;
    if (pi) {
      let flags = ' flags( ';
      if (pi.flags & 1) flags += 'running';
      for (const [bit, label] of PDI_FLAGS) if (pi.flags & bit) flags += label;
      if (!pi.flags) flags += '0';
      out += newline(o, `ver:${i32(pi.version)} cpy_thresh:${i32(pi.copyThreshBytes)}${flags} )`);
    }
    if (s.rxRing) out += newline(o, `ring_rx(${ringText(s.rxRing)})`);
    if (s.txRing) out += newline(o, `ring_tx(${ringText(s.txRing)})`);
    if (s.fanout) {
      const type = FANOUT_TYPES[s.fanout.type] ?? `0x${s.fanout.type.toString(16)}`;
      out += newline(o, `fanout(id:${s.fanout.id},type:${type})`);
    }
  }
  if (o.bpf && s.filter) {
    out += newline(o, `bpf filter (${s.filter.length}): `);
    for (const f of s.filter) out += ` 0x${f.code.toString(16).padStart(2, '0')} ${f.jt} ${f.jf} ${u32(f.k)},`;
  }
  if (o.memory) out += skmemText(s.meminfo);
  return out;
}

function netlinkDetails(s: NetlinkSocket, o: FormatOptions): string {
  let out = '';
  if (o.selinuxProcess) out += ' proc_ctx=unavailable';
  // ss reads the first `unsigned long` of the group bitmap into an `unsigned int`.
  if (o.extended) out += ` sk=0 cb=0 groups=0x${u32(s.groups?.[0]).toString(16).padStart(8, '0')}`;
  if (o.memory) out += `\t${skmemText(s.meminfo)}`;
  return out;
}

const TIPC_TYPE_NAMES: Readonly<Record<string, string>> = { stream: 'STREAM', dgram: 'DGRAM', rdm: 'RDM', seqpacket: 'SEQPACKET' };

function tipcDetails(s: TipcSocket, o: FormatOptions): string {
  let out = '';
  if (o.extended) out += sockDetails(s.uid, s.inode, s.cookie, 0, 0n, o);
  out += usersText(s, o);
  if (o.tipcinfo) {
    const st = s.stats;
    out += o.oneline ? ' ' : '\n ';
    out += `type:${TIPC_TYPE_NAMES[s.type] ?? 'UNKNOWN'}`;
    out += ` cong:${st?.linkCongested ? 'link' : st?.connectionCongested ? 'conn' : 'none'} `;
    out += ` drop:${i32(st?.drops)} `;
    if (s.hasPublications) out += ' publ';
    const c = s.connection;
    if (c?.viaService) out += ` via {${u32(c.serviceType)},${u32(c.serviceInstance)}} `;
  }
  return out;
}

function xdpDetails(s: XdpSocket, o: FormatOptions): string {
  let out = usersText(s, o);
  if (o.extended) {
    out += sockDetails(s.uid, s.inode, s.cookie, 0, 0n, o);
    if (s.rxRing) out += newline(o, `rx(entries:${u32(s.rxRing.entries)})`);
    if (s.txRing) out += newline(o, `tx(entries:${u32(s.txRing.entries)})`);
    const u = s.umem;
    if (u) {
      // ss's one-line form really says "tumem(".
      out += o.oneline ? ' tumem(' : '\n\tumem(';
      out += `id:${u32(u.id)},size:${big(u.sizeBytes)},num_pages:${u32(u.pages)},chunk_size:${u32(u.chunkSizeBytes)},headroom:${u32(u.headroomBytes)},ifindex:${u32(u.ifindex)},qid:${u32(u.queueId)},zc:${u32(u.flags) & 1},refs:${u32(u.refs)})`;
      if (s.fillRing) out += newline(o, `fr(entries:${u32(s.fillRing.entries)})`);
      if (s.completionRing) out += newline(o, `cr(entries:${u32(s.completionRing.entries)})`);
    }
    const st = s.stats;
    if (st) {
      out += newline(o, `stats(rx dropped:${big(st.rxDropped)},rx invalid:${big(st.rxInvalid)},rx queue full:${big(st.rxFull)},rx fill ring empty:${big(st.fillRingEmpty)},tx invalid:${big(st.txInvalid)},tx ring empty:${big(st.txRingEmpty)})`);
    }
  }
  if (o.memory) out += skmemText(s.meminfo);
  return out;
}

/** Everything ss prints after the peer column for this socket (COL_EXT), given the options. */
export function socketDetails(s: Socket, o: FormatOptions): string {
  switch (s.protocol) {
    case 'unix':
      return unixDetails(s, o);
    case 'packet':
      return packetDetails(s, o);
    case 'netlink':
      return netlinkDetails(s, o);
    case 'vsock':
      return usersText(s, o);
    case 'tipc':
      return tipcDetails(s, o);
    case 'xdp':
      return xdpDetails(s, o);
    default:
      // inet sockets are printed from their reply bytes (inet-details.ts), never from here.
      throw new TypeError(`socketDetails: ${s.protocol} sockets are printed by writeInetDetails`);
  }
}

// ---------------------------------------------------------------------------------------
// Lookups that need I/O, done once per listing

/** A cgroup id's path as ss prints it, by the listing's resolver. */
export function cgroupName(id: bigint, o: FormatOptions): string {
  const resolve = o.cgroupPath ?? defaultCgroupPath();
  return resolve(id);
}

let defaultResolver: ((id: bigint) => string) | undefined;
function defaultCgroupPath(): (id: bigint) => string {
  defaultResolver ??= cgroupPathResolver();
  return defaultResolver;
}

/**
 * Host names for `-r`: address → name, by getnameinfo (the hosts file, then DNS), as ss's
 * gethostbyaddr finds them. IPv4-mapped IPv6 addresses are looked up as IPv4, as ss does.
 * Addresses without a name are left out.
 */
export async function resolveHostNames(addresses: Iterable<string>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const unique = [...new Set(addresses)];
  // Loaded only for -r: the resolver is a noticeable part of the command's start-up.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { lookupService } = require('node:dns/promises') as typeof import('node:dns/promises');
  await Promise.all(
    unique.map(async (address) => {
      const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
      const query = mapped ? mapped[1] : address;
      try {
        const { hostname } = await lookupService(query, 0);
        if (hostname && hostname !== query) out.set(address, hostname);
      } catch {
        /* no name: ss prints the address */
      }
    }),
  );
  return out;
}

/**
 * The asynchronous part of formatting a batch of sockets: with `resolve` (-r), the host
 * names of their addresses. Merge the result into the {@link FormatOptions} given to formatRow.
 */
export async function prepareFormat(sockets: readonly Socket[], o: FormatOptions): Promise<Partial<FormatOptions>> {
  const extra: Partial<FormatOptions> = {};
  // -n does not turn -r off: it is about ports, -r about hosts.
  if (o.resolve) {
    const addrs: string[] = [];
    for (const s of sockets) {
      if (s.family === 'inet' || s.family === 'inet6') addrs.push((s as InetSocket).local.address, (s as InetSocket).remote.address);
    }
    const names = await resolveHostNames(addrs.filter((a) => a !== '::'));
    const merged = new Map(o.hostNames ?? []);
    for (const [k, v] of names) merged.set(k, v);
    extra.hostNames = merged;
  }
  return extra;
}
