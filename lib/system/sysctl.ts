/**
 * net.ipv4.ip_local_port_range, which ss's `autobound` rule and its service naming use: this
 * process's namespace's, and another namespace's.
 * @module
 */
import { readFileSync } from 'node:fs';
import { netnsPath, type NetnsRef } from '../netlink/channel';

/** Where the range is; a sysctl shows the namespace of whoever opens it. */
export const PORT_RANGE_FILE = '/proc/sys/net/ipv4/ip_local_port_range';

// What ss assumes when the file cannot be read.
const SS_FALLBACK_RANGE: readonly [number, number] = [1024, 4999];

/** The two numbers of the sysctl's text, or undefined when it is not two integers. */
export function parsePortRange(text: string): [number, number] | undefined {
  const [lo, hi] = text.trim().split(/\s+/).map(Number);
  return Number.isInteger(lo) && Number.isInteger(hi) ? [lo, hi] : undefined;
}

let own: readonly [number, number] | undefined;

/** The range of this process's namespace, read once (1024–4999 when unreadable, as ss). */
export function ownPortRange(): readonly [number, number] {
  if (own === undefined) {
    try {
      own = parsePortRange(readFileSync(PORT_RANGE_FILE, 'latin1')) ?? SS_FALLBACK_RANGE;
    } catch {
      own = SS_FALLBACK_RANGE;
    }
  }
  return own;
}

/**
 * The range of a namespace (default: this process's, see {@link ownPortRange}). A sysctl
 * shows the namespace of whoever opens it, so another namespace's is read by a short
 * `nsenter` child; undefined when that fails.
 */
export async function ephemeralPortRange(netns?: NetnsRef): Promise<[number, number] | undefined> {
  if (netns === undefined) return [...ownPortRange()];
  return new Promise((resolve) => {
    // Loaded here: child_process costs a few milliseconds of every start of the command.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    (require('node:child_process') as typeof import('node:child_process')).execFile('nsenter', [`--net=${netnsPath(netns)}`, 'cat', PORT_RANGE_FILE], { timeout: 5000 }, (err, stdout) => resolve(err ? undefined : parsePortRange(stdout)));
  });
}
