/**
 * The kernel's socket counters of a network namespace: /proc/net/netstat, snmp and snmp6
 * (monotonic MIB counters: listen overflows, retransmitted segments, UDP buffer errors…)
 * and sockstat (memory in pages), read inside the namespace by {@link readNetFiles}.
 * @module
 */
import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import type { NetnsRef } from '../netlink/channel';
import { readNetFiles } from './native';

/** The files {@link readNetCounters} reads, under /proc/net. */
export const NET_COUNTER_FILES = ['netstat', 'snmp', 'snmp6', 'sockstat'] as const;

/**
 * Counters by `Group:Name`, as the files name them: `TcpExt:ListenOverflows`,
 * `Tcp:RetransSegs`, `Udp:RcvbufErrors` (netstat, snmp), `Udp6:RcvbufErrors` (snmp6's
 * `Udp6RcvbufErrors`), `TCP:mem` (sockstat, in pages). Values keep their full 64-bit range
 * up to 2^53.
 */
export type NetCounters = Map<string, number>;

/**
 * Parses netstat/snmp text, whose lines come in pairs (`Tcp: Name1 Name2…` then
 * `Tcp: 1 2…`), into `into`.
 */
export function parsePairedCounters(text: string, into: NetCounters = new Map()): NetCounters {
  const lines = text.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    const names = lines[i].trim().split(/\s+/);
    const values = lines[i + 1].trim().split(/\s+/);
    const group = names[0];
    if (!group.endsWith(':') || values[0] !== group || names.length !== values.length) continue;
    for (let k = 1; k < names.length; k++) into.set(`${group}${names[k]}`, Number(values[k]));
    i++;
  }
  return into;
}

/** Parses snmp6 text (`Udp6RcvbufErrors 0` per line) into `into`, keyed `Udp6:RcvbufErrors`. */
export function parseSnmp6(text: string, into: NetCounters = new Map()): NetCounters {
  for (const line of text.split('\n')) {
    const m = /^(Ip6|Icmp6|Udp6|UdpLite6)(\w+)\s+(\d+)\s*$/.exec(line);
    if (m) into.set(`${m[1]}:${m[2]}`, Number(m[3]));
  }
  return into;
}

/** Parses sockstat text (`TCP: inuse 3 orphan 0 tw 0 alloc 4 mem 1`) into `into`, keyed `TCP:mem`. */
export function parseSockstat(text: string, into: NetCounters = new Map()): NetCounters {
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (!words[0]?.endsWith(':')) continue;
    for (let k = 1; k + 1 < words.length; k += 2) into.set(`${words[0]}${words[k]}`, Number(words[k + 1]));
  }
  return into;
}

/**
 * Reads and parses the counter files of namespace `netns` (default: this process's). A file
 * the kernel lacks (snmp6 without IPv6) leaves its counters out; a namespace that cannot be
 * entered rejects.
 */
export async function readNetCounters(netns: NetnsRef | undefined): Promise<NetCounters> {
  const files = await readNetFiles(netns, NET_COUNTER_FILES, { operation: 'counters' });
  const out: NetCounters = new Map();
  for (const f of files) {
    if (f.text === undefined) continue;
    if (f.name === 'snmp6') parseSnmp6(f.text, out);
    else if (f.name === 'sockstat') parseSockstat(f.text, out);
    else parsePairedCounters(f.text, out);
  }
  return out;
}

let pageBytes: number | undefined;

/** The kernel's page size (AT_PAGESZ of /proc/self/auxv; 4096 when unreadable): sockstat's `mem` is in pages. */
export function pageSize(): number {
  if (pageBytes !== undefined) return pageBytes;
  pageBytes = 4096;
  try {
    const auxv = readFileSync('/proc/self/auxv');
    const word = ['arm', 'ia32', 'mips', 'mipsel', 'ppc'].includes(process.arch) ? 4 : 8;
    const le = endianness() === 'LE';
    const read = (off: number): number => (word === 4 ? (le ? auxv.readUInt32LE(off) : auxv.readUInt32BE(off)) : Number(le ? auxv.readBigUInt64LE(off) : auxv.readBigUInt64BE(off)));
    const AT_PAGESZ = 6;
    for (let off = 0; off + 2 * word <= auxv.length; off += 2 * word) {
      const type = read(off);
      if (type === 0) break;
      if (type === AT_PAGESZ) {
        pageBytes = read(off + word);
        break;
      }
    }
  } catch {
    // keep 4096
  }
  return pageBytes;
}
