/**
 * sockdiag-top's view model: the last rate sample, each row's recent throughput, and the
 * ranking (sort key, grouping) that turns them into a {@link Frame}. No terminal here.
 * @module
 */
import type { SocketState } from '../diag/constants';
import type { ConnectionRate, RateSample } from '../monitor/rates';

/** What rows are ranked by (descending). */
export type SortKey = 'total' | 'send' | 'recv' | 'rtt' | 'retrans' | 'queue';
/** How connections are gathered into rows. */
export type GroupKey = 'none' | 'process' | 'peer' | 'port';

/** The sort keys, in the order `<` and `>` step through them. */
export const SORT_KEYS: readonly SortKey[] = ['total', 'send', 'recv', 'rtt', 'retrans', 'queue'];
/** The groupings, in the order `g` steps through them. */
export const GROUP_KEYS: readonly GroupKey[] = ['none', 'process', 'peer', 'port'];

/** Points of recent throughput kept per row (the sparkline). */
export const HISTORY = 8;

/** One row of the view: a connection, or a group of them. */
export interface Row {
  /** Stable identity: the cookie, or the group's key. */
  id: string;
  /** The connection (undefined for a group row). */
  connection: ConnectionRate | undefined;
  /** Group rows: what the group shares (a process, a peer host, a local port). */
  group: string | undefined;
  /** Connections in the row (1 for a connection). */
  connections: number;
  /** Bytes/s sent (undefined: not measured yet). */
  send: number | undefined;
  /** Bytes/s received. */
  recv: number | undefined;
  /** Segments retransmitted per second. */
  retrans: number | undefined;
  /** RTT in µs (a group's: the mean over its connections that have one). */
  rttUs: number | undefined;
  /** Congestion window in segments (connections only). */
  cwnd: number | undefined;
  /** Recv-Q (a group's: the sum). */
  recvQ: number;
  /** Send-Q (a group's: the sum). */
  sendQ: number;
  /** Recent send + receive rates, oldest first. */
  history: readonly number[];
  /** Owning processes as `command(pid)`, comma-separated; '' when unknown. */
  process: string;
}

/** Totals over every connection of the sample (not only the rows shown). */
export interface Totals {
  /** Connections listed. */
  connections: number;
  /** Connections by state. */
  states: Map<SocketState, number>;
  /** Bytes/s sent, summed. */
  send: number;
  /** Bytes/s received, summed. */
  recv: number;
  /** Segments retransmitted per second, summed. */
  retrans: number;
  /** Connections that closed since the previous sample. */
  closed: number;
}

/** Everything a renderer needs for one screen or one batch frame. */
export interface Frame {
  /** When the sample was taken (`Date.now()`). */
  at: number;
  /** Milliseconds the rates cover (0 on the first frame). */
  elapsedMs: number;
  /** Totals of the sample. */
  totals: Totals;
  /** The ranking in force. */
  sort: SortKey;
  /** The grouping in force. */
  group: GroupKey;
  /** Rows in rank order. */
  rows: Row[];
}

const zero = (v: number | undefined): number => v ?? 0;
const sum = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined ? b : b === undefined ? a : a + b);

/** A connection's owners as `command(pid)`. */
export function processLabel(c: ConnectionRate): string {
  const p = c.processes;
  if (p === undefined || p.length === 0) return '';
  const seen = new Set<number>();
  const out: string[] = [];
  for (const x of p) {
    if (seen.has(x.pid)) continue;
    seen.add(x.pid);
    out.push(`${x.command}(${x.pid})`);
  }
  return out.join(',');
}

/** `address:port`, IPv6 in brackets as ss prints it. */
export function endpoint(family: 'inet' | 'inet6', e: { address: string; port: number }): string {
  return family === 'inet6' ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

function groupKey(c: ConnectionRate, group: GroupKey): string {
  switch (group) {
    case 'process': {
      const p = c.processes?.[0];
      return p === undefined ? '-' : `${p.command}(${p.pid})`;
    }
    case 'peer':
      return c.remote.address;
    case 'port':
      return `:${c.local.port}`;
    default:
      return String(c.cookie);
  }
}

/** The value a row ranks by (higher first). */
function rankValue(r: Row, sort: SortKey): number {
  switch (sort) {
    case 'send': return zero(r.send);
    case 'recv': return zero(r.recv);
    case 'rtt': return r.rttUs ?? -1;
    case 'retrans': return zero(r.retrans);
    case 'queue': return r.recvQ + r.sendQ;
    default: return zero(r.send) + zero(r.recv);
  }
}

/** Keeps the last sample and each row's recent throughput; ranks rows on demand. */
export class TopModel {
  /** The ranking in force. */
  sort: SortKey;
  /** The grouping in force. */
  group: GroupKey;
  #sample: RateSample | undefined;
  // Recent throughput of each connection, by cookie (a group's is the sum of its members').
  #histories = new Map<bigint, number[]>();

  /** Creates a model with this ranking. */
  constructor(sort: SortKey = 'total', group: GroupKey = 'none') {
    this.sort = sort;
    this.group = group;
  }

  /** Whether a sample has arrived. */
  get ready(): boolean {
    return this.#sample !== undefined;
  }

  /** Takes a new sample: histories move on by one point. */
  update(sample: RateSample): void {
    this.#sample = sample;
    const next = new Map<bigint, number[]>();
    for (const c of sample.connections.values()) {
      const h = this.#histories.get(c.cookie) ?? [];
      if (c.sendBytesPerSec !== undefined || c.recvBytesPerSec !== undefined) {
        h.push(zero(c.sendBytesPerSec) + zero(c.recvBytesPerSec));
        if (h.length > HISTORY) h.shift();
      }
      next.set(c.cookie, h);
    }
    this.#histories = next;
  }

  /** The rows of the last sample in rank order, with the totals; undefined before the first sample. */
  frame(): Frame | undefined {
    const sample = this.#sample;
    if (sample === undefined) return undefined;
    const totals: Totals = { connections: sample.connections.size, states: new Map(), send: 0, recv: 0, retrans: 0, closed: sample.closed.length };
    const rows: Row[] = [];
    const groups = new Map<string, Row & { rttSum: number; rttCount: number }>();
    for (const c of sample.connections.values()) {
      totals.states.set(c.state, (totals.states.get(c.state) ?? 0) + 1);
      totals.send += zero(c.sendBytesPerSec);
      totals.recv += zero(c.recvBytesPerSec);
      totals.retrans += zero(c.retransPerSec);
      if (this.group === 'none') {
        rows.push({
          id: String(c.cookie), connection: c, group: undefined, connections: 1,
          send: c.sendBytesPerSec, recv: c.recvBytesPerSec, retrans: c.retransPerSec, rttUs: c.rttUs, cwnd: c.cwnd,
          recvQ: c.recvQ, sendQ: c.sendQ, history: this.#histories.get(c.cookie) ?? [], process: processLabel(c),
        });
        continue;
      }
      const k = groupKey(c, this.group);
      let g = groups.get(k);
      if (g === undefined) {
        g = {
          id: k, connection: undefined, group: k, connections: 0, send: undefined, recv: undefined, retrans: undefined, rttUs: undefined,
          cwnd: undefined, recvQ: 0, sendQ: 0, history: [], process: '', rttSum: 0, rttCount: 0,
        };
        groups.set(k, g);
      }
      g.connections++;
      addHistory(g.history as number[], this.#histories.get(c.cookie) ?? []);
      g.send = sum(g.send, c.sendBytesPerSec);
      g.recv = sum(g.recv, c.recvBytesPerSec);
      g.retrans = sum(g.retrans, c.retransPerSec);
      g.recvQ += c.recvQ;
      g.sendQ += c.sendQ;
      if (c.rttUs !== undefined && c.rttUs > 0) {
        g.rttSum += c.rttUs;
        g.rttCount++;
      }
      if (this.group !== 'process') {
        const p = processLabel(c);
        if (p !== '' && !g.process.split(',').includes(p)) g.process = g.process === '' ? p : `${g.process},${p}`;
      }
    }
    for (const g of groups.values()) {
      if (g.rttCount > 0) g.rttUs = g.rttSum / g.rttCount;
      const { rttSum: _s, rttCount: _c, ...row } = g;
      rows.push(row);
    }
    const sort = this.sort;
    // Ties keep a stable order: by throughput, then by identity.
    rows.sort((a, b) => rankValue(b, sort) - rankValue(a, sort) || rankValue(b, 'total') - rankValue(a, 'total') || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { at: sample.at, elapsedMs: sample.elapsedMs, totals, sort, group: this.group, rows };
  }
}

/** Adds `h` into `sum`, both oldest first, aligned on their newest points. */
function addHistory(sum: number[], h: readonly number[]): void {
  while (sum.length < h.length) sum.unshift(0);
  for (let i = 1; i <= h.length; i++) sum[sum.length - i] += h[h.length - i];
}
