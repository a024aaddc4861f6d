/**
 * The recorded inet_diag dumps of test/fixtures/dumps (made by record-dump-fixtures.sh as
 * root in a private namespace; see the README there): a file `ss -D` wrote, the kernel's
 * reply to a legacy TCPDIAG_GETSOCK request for AF_UNSPEC, and what population.py said of
 * the sockets both hold.
 * @module
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { readHeader } from '../../lib/netlink/message';
import type { InetSocket } from '../../lib/diag/inet';
import { popSockets, type PopSocket, type RawPopSocket } from './netns';

const DIR = path.join(__dirname, '..', 'fixtures', 'dumps');

/** `ss -taoeimn --tos -D FILE`: SOCK_DIAG_BY_FAMILY replies, the IPv4 dump then the IPv6 dump. */
export const SS_DUMP = path.join(DIR, 'ss-tan.dump');

/** The kernel's reply to TCPDIAG_GETSOCK for AF_UNSPEC: type 18 messages of both families, one NLMSG_DONE. */
export const TCPDIAG_DUMP = path.join(DIR, 'tcpdiag-unspec.dump');

/** The sockets population.py made for the recording (kinds: tcp), as it described them. */
export function recordedSockets(): PopSocket[] {
  const raw = JSON.parse(readFileSync(path.join(DIR, 'population.json'), 'utf8')) as { sockets: RawPopSocket[] };
  return popSockets(raw.sockets);
}

/** One netlink message of a dump file. */
export interface DumpMessage {
  off: number;
  len: number;
  type: number;
}

/** The messages of a dump file, in order. */
export function dumpMessages(b: Buffer): DumpMessage[] {
  const out: DumpMessage[] = [];
  for (let off = 0; off + 16 <= b.length; ) {
    const h = readHeader(b, off, b.length);
    out.push({ off, len: h.len, type: h.type });
    off += (h.len + 3) & ~3;
  }
  return out;
}

/**
 * Every socket population.py recorded is in `socks` once, with its family, state, addresses,
 * inode and owner (the request sockets in SYN-RECV, which have no cookie, by their addresses).
 */
export function expectRecorded(socks: readonly { protocol: string }[]): void {
  expect(socks.every((s) => s.protocol === 'tcp')).toBe(true);
  const inet = socks as readonly InetSocket[];
  const recorded = recordedSockets();
  expect(recorded.length).toBeGreaterThan(20);
  for (const r of recorded) {
    const found = inet.filter((s) =>
      r.cookie !== null ? s.cookie === r.cookie : s.state === r.state && s.family === r.family && JSON.stringify([s.local, s.remote]) === JSON.stringify([r.local, r.remote]),
    );
    expect(found).toHaveLength(1);
    const [s] = found;
    expect({ name: r.name, family: s.family, state: s.state, local: s.local, remote: s.remote, inode: s.inode, uid: s.uid }).toEqual({
      name: r.name, family: r.family, state: r.state, local: r.local, remote: r.remote, inode: r.inode, uid: r.uid ?? 0,
    });
  }
}
