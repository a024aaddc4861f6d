/**
 * net.ipv4.ip_local_port_range, which ss's `autobound` rule and its service naming use.
 * @module
 */
import { readFileSync } from 'node:fs';

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
