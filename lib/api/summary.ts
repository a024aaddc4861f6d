/**
 * `summary()` = `ss -s`: socket totals of a network namespace, from the same sources and
 * with the same arithmetic as ss (iproute2 6.1 `print_summary`): /proc/net/sockstat and
 * sockstat6 for the counts, and `CurrEstab` of /proc/net/snmp for the established count.
 * ss no longer counts TCP states with a dump for this; neither does sockdiag.
 * @module
 */
import type { NetnsRef } from '../netlink/channel';
import { SockdiagError } from '../errors';
import { readNetFiles } from '../proc/native';

/** One row of the transport table: sockets in use, in all and per IP version. */
export interface TransportCounts {
  /** IPv4 + IPv6. */
  total: number;
  /** IPv4 (ss's "IP" column). */
  ipv4: number;
  /** IPv6. */
  ipv6: number;
}

/**
 * The raw figures the summary is computed from, named after their /proc lines. Most are
 * per namespace; `tcpAlloc`, `tcpOrphans` and `tcpMemPages` are kernel-wide counters, so
 * the TCP total, `closed` and `orphaned` include other namespaces' sockets, as in ss.
 */
export interface SockstatFigures {
  /** sockstat `sockets: used`: sockets of every kind in the namespace. */
  socketsUsed: number;
  /** sockstat `TCP: inuse` (IPv4 TCP sockets in the hash tables). */
  tcp4Inuse: number;
  /** sockstat6 `TCP6: inuse`. */
  tcp6Inuse: number;
  /** sockstat `TCP: orphan` (kernel-wide). */
  tcpOrphans: number;
  /** sockstat `TCP: tw` (TIME-WAIT sockets). */
  tcpTimewait: number;
  /** sockstat `TCP: alloc` (TCP sockets allocated, kernel-wide). */
  tcpAlloc: number;
  /** sockstat `TCP: mem` (pages, kernel-wide). */
  tcpMemPages: number;
  /** sockstat `UDP: inuse`. */
  udp4Inuse: number;
  /** sockstat6 `UDP6: inuse`. */
  udp6Inuse: number;
  /** sockstat `RAW: inuse`. */
  raw4Inuse: number;
  /** sockstat6 `RAW6: inuse`. */
  raw6Inuse: number;
  /** sockstat `FRAG: inuse` (IPv4 reassembly queues). */
  frag4Inuse: number;
  /** sockstat `FRAG: memory` (bytes). */
  frag4Memory: number;
  /** sockstat6 `FRAG6: inuse`. */
  frag6Inuse: number;
  /** sockstat6 `FRAG6: memory` (bytes). */
  frag6Memory: number;
  /** /proc/net/snmp `Tcp: CurrEstab` (ESTABLISHED and CLOSE-WAIT connections). */
  tcpCurrEstab: number;
}

/** What `ss -s` prints, as numbers. */
export interface Summary {
  /** `Total:`: every socket of the namespace, of any kind. */
  total: number;
  /** The `TCP:` line. */
  tcp: {
    /** TCP sockets allocated plus TIME-WAIT ones (kernel-wide allocation count, as ss). */
    total: number;
    /** Established (and close-wait) connections. */
    estab: number;
    /** Allocated but not in the namespace's hash tables: closed, or not yet bound (as ss computes it). */
    closed: number;
    /** Orphaned sockets (no longer attached to a file; kernel-wide). */
    orphaned: number;
    /** TIME-WAIT sockets. */
    timewait: number;
  };
  /** The `Transport Total IP IPv6` table. */
  transport: {
    /** Raw IP sockets. */
    raw: TransportCounts;
    /** UDP sockets. */
    udp: TransportCounts;
    /** TCP sockets in the hash tables. */
    tcp: TransportCounts;
    /** RAW + UDP + TCP. */
    inet: TransportCounts;
    /** IP reassembly queues. */
    frag: TransportCounts;
  };
  /** The figures read from /proc that the numbers above are computed from. */
  figures: SockstatFigures;
}

/** Options of {@link summary}. */
export interface SummaryOptions {
  /** Network namespace to summarise: a name under /var/run/netns, a path, or a pid (default: the caller's). */
  netns?: NetnsRef;
}

/** The numbers of one sockstat line, by key (`TCP: inuse 3 orphan 0` → { inuse: 3, orphan: 0 }), keyed by the line's id. */
function parseSockstat(text: string, into: Map<string, Map<string, number>>): void {
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words.length < 3 || !words[0].endsWith(':')) continue;
    const fields = new Map<string, number>();
    for (let i = 1; i + 1 < words.length; i += 2) fields.set(words[i], toInt(words[i + 1]));
    into.set(words[0].slice(0, -1), fields);
  }
}

/** ss reads every figure with %d: a C int. */
function toInt(word: string): number {
  const n = Number.parseInt(word, 10);
  return Number.isFinite(n) ? n | 0 : 0;
}

/** A counter of /proc/net/snmp: its lines come in pairs, names then values, with the same prefix. */
function snmpValue(text: string, prefix: string, key: string): number | undefined {
  const lines = text.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i].startsWith(`${prefix}:`) || !lines[i + 1].startsWith(`${prefix}:`)) continue;
    const names = lines[i].trim().split(/\s+/);
    const values = lines[i + 1].trim().split(/\s+/);
    const at = names.indexOf(key);
    if (at > 0 && at < values.length) return toInt(values[at]);
    i++;
  }
  return undefined;
}

/** The summary computed from the figures, with ss's arithmetic. */
export function summaryFromFigures(f: SockstatFigures): Summary {
  const row = (ipv4: number, ipv6: number): TransportCounts => ({ total: ipv4 + ipv6, ipv4, ipv6 });
  return {
    total: f.socketsUsed,
    tcp: {
      total: f.tcpAlloc + f.tcpTimewait,
      estab: f.tcpCurrEstab,
      closed: f.tcpAlloc - (f.tcp4Inuse + f.tcp6Inuse - f.tcpTimewait),
      orphaned: f.tcpOrphans,
      timewait: f.tcpTimewait,
    },
    transport: {
      raw: row(f.raw4Inuse, f.raw6Inuse),
      udp: row(f.udp4Inuse, f.udp6Inuse),
      tcp: row(f.tcp4Inuse, f.tcp6Inuse),
      inet: row(f.raw4Inuse + f.udp4Inuse + f.tcp4Inuse, f.raw6Inuse + f.udp6Inuse + f.tcp6Inuse),
      frag: row(f.frag4Inuse, f.frag6Inuse),
    },
    figures: f,
  };
}

/**
 * The figures of /proc/net/sockstat, sockstat6 and snmp as text (what {@link summary}
 * reads), parsed. sockstat6 may be empty (IPv6 disabled: its figures are 0, as in ss).
 */
export function parseSummaryFiles(sockstat: string, sockstat6: string, snmp: string): SockstatFigures {
  const lines = new Map<string, Map<string, number>>();
  parseSockstat(sockstat, lines);
  parseSockstat(sockstat6, lines);
  const get = (id: string, key: string): number => lines.get(id)?.get(key) ?? 0;
  return {
    socketsUsed: get('sockets', 'used'),
    tcp4Inuse: get('TCP', 'inuse'),
    tcp6Inuse: get('TCP6', 'inuse'),
    tcpOrphans: get('TCP', 'orphan'),
    tcpTimewait: get('TCP', 'tw'),
    tcpAlloc: get('TCP', 'alloc'),
    tcpMemPages: get('TCP', 'mem'),
    udp4Inuse: get('UDP', 'inuse'),
    udp6Inuse: get('UDP6', 'inuse'),
    raw4Inuse: get('RAW', 'inuse'),
    raw6Inuse: get('RAW6', 'inuse'),
    frag4Inuse: get('FRAG', 'inuse'),
    frag4Memory: get('FRAG', 'memory'),
    frag6Inuse: get('FRAG6', 'inuse'),
    frag6Memory: get('FRAG6', 'memory'),
    tcpCurrEstab: snmpValue(snmp, 'Tcp', 'CurrEstab') ?? 0,
  };
}

/**
 * Socket totals of a network namespace: the numbers `ss -s` prints, from the same sources
 * (/proc/net/sockstat, sockstat6 and snmp, read inside the namespace by a short-lived
 * native thread, so the process itself never changes namespace).
 *
 * The TCP total, `closed` and `orphaned` rest on kernel-wide counters, as in ss: they
 * include sockets of other namespaces. Everything else counts the namespace only.
 *
 * @example
 * ```ts
 * const s = await summary({ netns: 'blue' });
 * console.log(s.tcp.estab, s.transport.udp.ipv6);
 * process.stdout.write(formatSummary(s)); // exactly what `ip netns exec blue ss -s` prints
 * ```
 */
export async function summary(opts: SummaryOptions = {}): Promise<Summary> {
  const context = { operation: 'summary' };
  const [sockstat, sockstat6, snmp] = await readNetFiles(opts.netns, ['sockstat', 'sockstat6', 'snmp'], context);
  if (sockstat.error) throw sockstat.error;
  if (snmp.error) throw snmp.error;
  if (!sockstat.text!.startsWith('sockets:')) {
    throw new SockdiagError(`summary: /proc/net/sockstat has an unexpected format: ${JSON.stringify(sockstat.text!.slice(0, 80))}`, 'ERR_SOCKDIAG_SUMMARY_FORMAT');
  }
  return summaryFromFigures(parseSummaryFiles(sockstat.text!, sockstat6.text ?? '', snmp.text!));
}

/** `%-9d`: left-aligned in 9 columns, never cut. */
const col = (n: number): string => String(n).padEnd(9);

/** The text `ss -s` prints for this summary, byte for byte (with its trailing blank line). */
export function formatSummary(s: Summary): string {
  const t = s.transport;
  const row = (name: string, c: TransportCounts): string => `${name}\t  ${col(c.total)} ${col(c.ipv4)} ${col(c.ipv6)}\n`;
  return (
    `Total: ${s.total}\n` +
    `TCP:   ${s.tcp.total} (estab ${s.tcp.estab}, closed ${s.tcp.closed}, orphaned ${s.tcp.orphaned}, timewait ${s.tcp.timewait})\n` +
    '\n' +
    'Transport Total     IP        IPv6\n' +
    row('RAW', t.raw) +
    row('UDP', t.udp) +
    row('TCP', t.tcp) +
    row('INET', t.inet) +
    row('FRAG', t.frag) +
    '\n'
  );
}
