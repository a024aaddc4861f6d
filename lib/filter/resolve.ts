/**
 * Names in filters that only the target system can resolve: device names (`dev lo`) to
 * interface indexes, in the namespace being listed, and cgroup paths to cgroup v2 ids.
 * @module
 */
import { statSync } from 'node:fs';
import { cgroup2Mount } from '../proc/mounts';
import { ownPortRange, parsePortRange, PORT_RANGE_FILE } from '../proc/sysctl';
import * as path from 'node:path';
import { Channel, runDump, DumpStats, NetnsRef, netnsPath } from '../netlink/channel';
import { NLM_F } from '../netlink/message';
import { requestMessage } from '../diag/request';

const NETLINK_ROUTE = 0;
const RTM_NEWLINK = 16;
const RTM_GETLINK = 18;
const IFINFOMSG_SIZE = 16;
const IFLA_IFNAME = 3;

/** Interface name → index of every link in a namespace (an RTM_GETLINK dump over rtnetlink). */
export async function interfaceIndexes(netns?: NetnsRef): Promise<Map<string, number>> {
  const channel = Channel.open({ protocol: NETLINK_ROUTE, ...(netns === undefined ? {} : { netns }) });
  try {
    const request = requestMessage(IFINFOMSG_SIZE, () => undefined, RTM_GETLINK, NLM_F.REQUEST | NLM_F.DUMP);
    const stats: DumpStats = { messages: 0, interrupted: false, foreignDropped: 0 };
    const out = new Map<string, number>();
    const decode = (b: Buffer, off: number, len: number): [string, number] | undefined => {
      if (b.readUInt16LE(off + 4) !== RTM_NEWLINK || len < 16 + IFINFOMSG_SIZE) return undefined;
      const index = b.readInt32LE(off + 16 + 4);
      // IFLA_* attributes follow struct ifinfomsg; only the name is wanted.
      for (let at = off + 16 + IFINFOMSG_SIZE; at + 4 <= off + len; ) {
        const alen = b.readUInt16LE(at);
        if (alen < 4) break;
        if ((b.readUInt16LE(at + 2) & 0x3fff) === IFLA_IFNAME) {
          const end = b.indexOf(0, at + 4);
          return [b.toString('latin1', at + 4, end < 0 || end > at + alen ? at + alen : end), index];
        }
        at += (alen + 3) & ~3;
      }
      return undefined;
    };
    for await (const batch of runDump(channel, request, decode, { operation: 'link dump' }, stats)) {
      for (const [name, index] of batch) out.set(name, index);
    }
    return out;
  } finally {
    channel.close();
  }
}

/**
 * The cgroup v2 id that `cgroup PATH` names, resolved as ss does: PATH as a file system path
 * first (absolute, or relative to the working directory), then relative to the cgroup2
 * mount. A cgroup's id is its directory's inode number. A path outside cgroup2 (`/` is the
 * root file system, not the root cgroup) gives that file's inode, which is what ss's file
 * handle holds there and which no cgroup is likely to have.
 */
export function cgroupIdOf(cgroupPath: string, mount: string | undefined = cgroup2Mount()): bigint | undefined {
  const inode = (p: string): bigint | undefined => {
    try {
      return statSync(p, { bigint: true }).ino;
    } catch {
      return undefined;
    }
  };
  return inode(cgroupPath) ?? (mount === undefined ? undefined : inode(path.join(mount, cgroupPath)));
}

/**
 * net.ipv4.ip_local_port_range of a namespace, which ss's `autobound` rule uses. A sysctl
 * shows the namespace of whoever opens it, so another namespace's is read by a short
 * `nsenter` child (only when a filter says `autobound`); undefined when that fails.
 */
export async function ephemeralPortRange(netns?: NetnsRef): Promise<[number, number] | undefined> {
  if (netns === undefined) return [...ownPortRange()];
  return new Promise((resolve) => {
    // Loaded here: child_process costs a few milliseconds of every start of the command.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    (require('node:child_process') as typeof import('node:child_process')).execFile('nsenter', [`--net=${netnsPath(netns)}`, 'cat', PORT_RANGE_FILE], { timeout: 5000 }, (err, stdout) => resolve(err ? undefined : parsePortRange(stdout)));
  });
}
